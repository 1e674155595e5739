//! Storage tests: the real SQL on rusqlite.

use serde_json::json;

use super::*;
use crate::kernel::fields::{custom, CustomFieldDef, FieldType};
use crate::kernel::native::NativeSql;
use crate::kernel::schema;

fn db() -> NativeSql {
    let db = NativeSql::open_in_memory();
    schema::ensure(&db).unwrap();
    db
}

fn catalogue(db: &NativeSql) -> Catalogue {
    Catalogue::load(db).unwrap()
}

fn ctx<'a>(db: &'a NativeSql, cat: &'a Catalogue) -> Ctx<'a> {
    Ctx {
        db,
        catalogue: cat,
        region: Region::default(),
        actor: "admin",
    }
}

#[test]
fn create_normalizes_and_reads_back() {
    let db = db();
    let cat = catalogue(&db);
    let c = create(
        ctx(&db, &cat),
        &json!({"first_name": "Ana", "last_name": "Lima", "email": " Ana@Example.com ", "phone": "(415) 555-0132", "tags": ["vip", "VIP", "beta"]}),
    )
    .unwrap().contact;
    assert!(c.contact_id().starts_with('C'));
    let read = load(&db, c.contact_id()).unwrap();
    assert_eq!(read.text("email"), Some("Ana@Example.com"));
    assert_eq!(read.text("email_norm"), Some("ana@example.com"));
    assert_eq!(read.text("phone_e164"), Some("+14155550132"));
    assert_eq!(read.text("display_name"), Some("Ana Lima"));
    assert_eq!(read.text("lead_stage"), Some("contact"));
    assert_eq!(read.tags, vec!["beta", "vip"]);
    let out = read.to_json(&cat);
    assert_eq!(out["blocked"], json!(false));
    assert_eq!(out["secondary_emails"], json!([]));
}

#[test]
fn create_needs_a_key() {
    let db = db();
    let cat = catalogue(&db);
    let e = create(ctx(&db, &cat), &json!({"first_name": "Ana"})).unwrap_err();
    assert!(matches!(e, Error::Invalid { .. }));
    assert!(create(ctx(&db, &cat), &json!({"contact_id": "X-1"})).is_ok());
}

#[test]
fn duplicate_email_or_phone_is_a_conflict_naming_the_holder() {
    let db = db();
    let cat = catalogue(&db);
    let first = create(
        ctx(&db, &cat),
        &json!({"email": "a@x.com", "phone": "+14155550132"}),
    )
    .unwrap()
    .contact;
    for body in [
        json!({"email": "A@X.COM"}),
        json!({"phone": "415 555 0132"}),
    ] {
        match create(ctx(&db, &cat), &body).unwrap_err() {
            Error::Conflict {
                existing_contact_id,
                ..
            } => {
                assert_eq!(existing_contact_id.as_deref(), Some(first.contact_id()))
            }
            other => panic!("{other:?}"),
        }
    }
    let count = db.execute("SELECT count(*) FROM contacts", &[]).unwrap();
    assert_eq!(
        count.scalar_i64(),
        Some(1),
        "a refused create leaves nothing behind"
    );
    let other = create(ctx(&db, &cat), &json!({"email": "b@x.com"}))
        .unwrap()
        .contact;
    let e = update(
        ctx(&db, &cat),
        other.contact_id(),
        &json!({"email": "a@x.com"}),
        None,
    )
    .unwrap_err();
    assert!(matches!(e, Error::Conflict { .. }));
}

#[test]
fn invalid_values_name_the_field() {
    let db = db();
    let cat = catalogue(&db);
    let cases = [
        (json!({"email": "nope"}), "email"),
        (json!({"email": "a@x.com", "phone": "12"}), "phone"),
        (
            json!({"email": "a@x.com", "lead_stage": "vip"}),
            "lead_stage",
        ),
        (
            json!({"email": "a@x.com", "birthday": "31/12/1990"}),
            "birthday",
        ),
        (
            json!({"email": "a@x.com", "secondary_emails": ["ok@x.com", "bad"]}),
            "secondary_emails[1]",
        ),
        (json!({"email": "a@x.com", "owner": "ghost"}), "owner"),
        (
            json!({"email": "a@x.com", "created_at": "2020-01-01T00:00:00Z"}),
            "created_at",
        ),
        (json!({"email": "a@x.com", "nope": 1}), "nope"),
        (
            json!({"email": "a@x.com", "custom": {"nope": 1}}),
            "custom.nope",
        ),
    ];
    for (body, field) in cases {
        match create(ctx(&db, &cat), &body).unwrap_err() {
            Error::Invalid { field: f, .. } => assert_eq!(f, field, "{body}"),
            other => panic!("{body}: {other:?}"),
        }
    }
}

#[test]
fn update_is_partial_versioned_and_recorded() {
    let db = db();
    let cat = catalogue(&db);
    let c = create(
        ctx(&db, &cat),
        &json!({"email": "a@x.com", "city": "Paris"}),
    )
    .unwrap()
    .contact;
    let etag = c.etag();
    let u = update(
        ctx(&db, &cat),
        c.contact_id(),
        &json!({"first_name": "Ana", "city": null}),
        Some(&etag),
    )
    .unwrap()
    .contact;
    assert_eq!(u.text("city"), None);
    assert_eq!(u.text("email"), Some("a@x.com"));
    assert_eq!(u.text("display_name"), Some("Ana"));
    assert_eq!(u.version(), 2);
    let stale = update(
        ctx(&db, &cat),
        c.contact_id(),
        &json!({"city": "Rome"}),
        Some(&etag),
    )
    .unwrap_err();
    assert!(matches!(stale, Error::StaleVersion { .. }));
    let same = update(
        ctx(&db, &cat),
        c.contact_id(),
        &json!({"first_name": "Ana"}),
        None,
    )
    .unwrap()
    .contact;
    assert_eq!(
        same.version(),
        2,
        "an update that changes nothing is not a new version"
    );
    let immut = update(
        ctx(&db, &cat),
        c.contact_id(),
        &json!({"contact_id": "Z"}),
        None,
    )
    .unwrap_err();
    assert_eq!(immut, Error::invalid("contact_id", "is immutable"));
    let (items, _) = history::page(&db, c.contact_id(), None, 10).unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["action"], "update");
    assert_eq!(items[0]["fields"], json!(["first_name", "city"]));
    assert_eq!(items[1]["action"], "create");
}

#[test]
fn an_update_writes_only_the_tags_and_keys_it_changes() {
    let db = db();
    let cat = catalogue(&db);
    let c = create(
        ctx(&db, &cat),
        &json!({"email": "a@x.com", "secondary_emails": ["b@x.com", "c@x.com"], "tags": ["vip", "beta"]}),
    )
    .unwrap().contact;
    let stored = |sql: &str| -> Vec<String> {
        db.execute(sql, &[c.rowid.into()])
            .unwrap()
            .rows
            .into_iter()
            .map(|r| r[0].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let u = update(
        ctx(&db, &cat),
        c.contact_id(),
        &json!({"secondary_emails": ["c@x.com", "D@x.com"], "tags": ["VIP", "new"]}),
        None,
    )
    .unwrap()
    .contact;
    assert_eq!(
        stored("SELECT value FROM contact_keys WHERE contact_rowid = ? ORDER BY value"),
        ["a@x.com", "c@x.com", "d@x.com"],
        "the lost key goes, the kept ones stay, the gained one comes"
    );
    assert_eq!(
        stored("SELECT tag FROM contact_tags WHERE contact_rowid = ? ORDER BY tag"),
        ["new", "VIP"],
        "a tag whose case changed is stored as now spelled"
    );
    assert_eq!(load(&db, c.contact_id()).unwrap().cols, u.cols);
}

#[test]
fn custom_values_are_checked_and_deleted_fields_disappear() {
    let db = db();
    let def = CustomFieldDef {
        key: "tier".into(),
        label: "Tier".into(),
        ty: FieldType::SingleSelect,
        options: Some(vec!["Gold".into(), "Silver".into()]),
    };
    custom::create(&db, &def).unwrap();
    let cat = catalogue(&db);
    let e = create(
        ctx(&db, &cat),
        &json!({"email": "a@x.com", "custom": {"tier": "Bronze"}}),
    )
    .unwrap_err();
    assert!(matches!(e, Error::Invalid { ref field, .. } if field == "custom.tier"));
    let c = create(
        ctx(&db, &cat),
        &json!({"email": "a@x.com", "custom": {"tier": "gold"}}),
    )
    .unwrap()
    .contact;
    assert_eq!(
        load(&db, c.contact_id()).unwrap().to_json(&cat)["custom"],
        json!({"tier": "Gold"})
    );
    custom::delete(&db, "tier").unwrap();
    let cat = catalogue(&db);
    assert_eq!(
        load(&db, c.contact_id()).unwrap().to_json(&cat)["custom"],
        json!({})
    );
    assert!(matches!(
        custom::create(&db, &def),
        Err(Error::Conflict { .. })
    ));
}

#[test]
fn delete_removes_everything_but_history() {
    let db = db();
    let cat = catalogue(&db);
    let c = create(ctx(&db, &cat), &json!({"email": "a@x.com", "tags": ["t"], "identities": [{"channel": "telegram", "external_id": "42"}]})).unwrap().contact;
    delete(&db, "admin", c.contact_id()).unwrap();
    assert!(matches!(load(&db, c.contact_id()), Err(Error::NotFound(_))));
    for table in ["contact_tags", "identities", "contact_keys"] {
        let n = db
            .execute(&format!("SELECT count(*) FROM {table}"), &[])
            .unwrap();
        assert_eq!(n.scalar_i64(), Some(0), "{table}");
    }
    assert!(history::exists(&db, c.contact_id()).unwrap());
    assert!(matches!(
        delete(&db, "admin", c.contact_id()),
        Err(Error::NotFound(_))
    ));
    // The email is free again.
    assert!(create(ctx(&db, &cat), &json!({"email": "a@x.com"})).is_ok());
}

#[test]
fn a_contact_written_without_history_still_has_a_history_to_show() {
    let db = db();
    let mut c = Contact::new(ContactId::parse("RESTORED1").unwrap(), "restore");
    c.set(
        "display_name",
        crate::kernel::store::Value::Text("Restored".into()),
    );
    insert(&db, &mut c, false).unwrap();
    assert!(history::exists(&db, "RESTORED1").unwrap());
    assert!(!history::exists(&db, "NEVER1").unwrap());
}

#[test]
fn identities_are_unique_across_contacts() {
    let db = db();
    let cat = catalogue(&db);
    let ident = json!([{"channel": "whatsapp", "external_id": "5511999"}]);
    let a = create(
        ctx(&db, &cat),
        &json!({"email": "a@x.com", "identities": ident}),
    )
    .unwrap()
    .contact;
    match create(
        ctx(&db, &cat),
        &json!({"email": "b@x.com", "identities": ident}),
    )
    .unwrap_err()
    {
        Error::Conflict {
            existing_contact_id,
            ..
        } => assert_eq!(existing_contact_id.as_deref(), Some(a.contact_id())),
        other => panic!("{other:?}"),
    }
}

#[test]
fn possible_duplicates_by_secondary_keys_and_name_company() {
    let db = db();
    let cat = catalogue(&db);
    let a = create(
        ctx(&db, &cat),
        &json!({"email": "a@x.com", "first_name": "Ana", "last_name": "Lima", "company": "Acme"}),
    )
    .unwrap()
    .contact;
    create(
        ctx(&db, &cat),
        &json!({"email": "b@x.com", "secondary_emails": ["A@x.com"]}),
    )
    .unwrap();
    create(
        ctx(&db, &cat),
        &json!({"email": "c@x.com", "first_name": "ana", "last_name": "LIMA", "company": "acme"}),
    )
    .unwrap();
    create(
        ctx(&db, &cat),
        &json!({"email": "d@x.com", "first_name": "Ana", "last_name": "Lima"}),
    )
    .unwrap();
    assert_eq!(possible_duplicates(&db, a.rowid).unwrap(), 2);
}

#[test]
fn create_and_update_count_duplicates_as_a_read_does() {
    let db = db();
    let cat = catalogue(&db);
    let a = create(
        ctx(&db, &cat),
        &json!({"email": "a@x.com", "first_name": "Ana", "last_name": "Lima"}),
    )
    .unwrap();
    assert_eq!(a.possible_duplicates, 0);
    let b = create(
        ctx(&db, &cat),
        &json!({"email": "b@x.com", "secondary_emails": ["a@x.com"]}),
    )
    .unwrap();
    assert_eq!(b.possible_duplicates, 1, "b shares a's email");
    let id = a.contact.contact_id();
    let renamed = update(ctx(&db, &cat), id, &json!({"first_name": "Bo"}), None).unwrap();
    let unchanged = update(ctx(&db, &cat), id, &json!({"first_name": "Bo"}), None).unwrap();
    for written in [renamed, unchanged] {
        assert_eq!(
            written.possible_duplicates,
            possible_duplicates(&db, a.contact.rowid).unwrap()
        );
        assert_eq!(written.possible_duplicates, 1);
    }
}

#[test]
fn owner_must_be_a_known_login() {
    let db = db();
    let cat = catalogue(&db);
    crate::contacts::access::issue_token(&db, "maria", "agent").unwrap();
    let c = create(
        ctx(&db, &cat),
        &json!({"email": "a@x.com", "owner": "maria"}),
    )
    .unwrap()
    .contact;
    assert_eq!(c.text("owner"), Some("maria"));
}

#[test]
fn read_fetches_catalogue_and_duplicates_with_the_contact() {
    let db = db();
    let def = CustomFieldDef {
        key: "tier".into(),
        label: "Tier".into(),
        ty: FieldType::SingleSelect,
        options: Some(vec!["Gold".into()]),
    };
    custom::create(&db, &def).unwrap();
    let cat = catalogue(&db);
    let a = create(
        ctx(&db, &cat),
        &json!({"email": "a@x.com", "custom": {"tier": "Gold"}}),
    )
    .unwrap()
    .contact;
    create(
        ctx(&db, &cat),
        &json!({"email": "b@x.com", "secondary_emails": ["a@x.com"]}),
    )
    .unwrap();
    let view = read(&db, a.contact_id()).unwrap();
    assert_eq!(
        view.possible_duplicates,
        possible_duplicates(&db, a.rowid).unwrap()
    );
    assert_eq!(view.possible_duplicates, 1);
    assert_eq!(view.catalogue.custom(), cat.custom());
    assert_eq!(view.contact, load(&db, a.contact_id()).unwrap());
    assert!(matches!(read(&db, "nope"), Err(Error::NotFound(_))));
}
