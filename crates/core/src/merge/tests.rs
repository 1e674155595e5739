//! Storage tests: detection, the merge and its failure modes, on rusqlite with the real
//! schema and triggers.

use std::cell::Cell;

use serde_json::{json, Value as Json};

use super::duplicates::{self, Reason};
use super::*;
use crate::contacts::contact::{Contact, Identity};
use crate::contacts::history;
use crate::contacts::repo::{self, Ctx};
use crate::contacts::settings::AutocreateSettings;
use crate::hooks::autocreate::{self, Event};
use crate::kernel::fields::{custom, Catalogue, CustomFieldDef};
use crate::kernel::native::{MemoryKv, NativeSql};
use crate::kernel::schema;
use crate::kernel::store::{DbError, Rows, Sql, Value};
use crate::kernel::values::Region;
use crate::query::page;

fn db() -> NativeSql {
    let db = NativeSql::open_in_memory();
    schema::ensure(&db).unwrap();
    let def: CustomFieldDef =
        serde_json::from_value(json!({"key": "tier", "label": "Tier", "type": "text"})).unwrap();
    custom::create(&db, &def).unwrap();
    db
}

fn create(db: &dyn Sql, body: Json) -> Contact {
    let cat = Catalogue::load(db).unwrap();
    repo::create(ctx(db, &cat), &body).unwrap().contact
}

fn ctx<'a>(db: &'a dyn Sql, cat: &'a Catalogue) -> Ctx<'a> {
    Ctx {
        db,
        catalogue: cat,
        region: Region::default(),
        actor: "admin",
    }
}

fn id(c: &Contact) -> String {
    c.contact_id().to_owned()
}

fn request(primary: &str, secondaries: &[&str], dry_run: bool) -> MergeRequest {
    MergeRequest::parse(
        &json!({"primary": primary, "secondaries": secondaries, "dry_run": dry_run}),
    )
    .unwrap()
}

fn run(db: &dyn Sql, primary: &str, secondaries: &[&str]) -> Result<Merged> {
    let cat = Catalogue::load(db).unwrap();
    merge(ctx(db, &cat), &request(primary, secondaries, false))
}

fn count(db: &dyn Sql, sql: &str) -> i64 {
    db.execute(sql, &[]).unwrap().scalar_i64().unwrap()
}

fn candidates(db: &dyn Sql, contact_id: &str) -> Vec<(String, Vec<Reason>)> {
    duplicates::for_contact(db, contact_id)
        .unwrap()
        .into_iter()
        .map(|c| (c.contact_id, c.reasons))
        .collect()
}

fn conversation(db: &dyn Sql, contact: &Contact, n: usize) {
    for i in 0..n {
        db.execute(
            "INSERT INTO conversations (channel, conversation_id, contact_rowid, first_seen, last_seen) \
             VALUES ('web_chat', ?, ?, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')",
            &[format!("{}-{i}", contact.contact_id()).into(), contact.rowid.into()],
        )
        .unwrap();
    }
    db.execute(
        "UPDATE contacts SET conversation_count = conversation_count + ? WHERE id = ?",
        &[(n as i64).into(), contact.rowid.into()],
    )
    .unwrap();
}

#[test]
fn shared_email_phone_identity_and_name_company_are_reasons() {
    let db = db();
    let a = create(
        &db,
        json!({"first_name": "Ana", "last_name": "Lima", "company": "Acme", "email": "ana@x.com",
               "phone": "+14155550132", "identities": [{"channel": "whatsapp", "external_id": "5511987654321"}]}),
    );
    // Email as a secondary one, on the other side.
    let b = create(
        &db,
        json!({"email": "other@x.com", "secondary_emails": ["ANA@x.com"]}),
    );
    // Phone as a mobile.
    let c = create(&db, json!({"contact_id": "C3", "mobile": "(415) 555-0132"}));
    // The same WhatsApp number, as an SMS sender with a plus.
    let d = create(
        &db,
        json!({"contact_id": "D1", "identities": [{"channel": "sms", "external_id": "+5511987654321"}]}),
    );
    // Same name and company, other case.
    let e = create(
        &db,
        json!({"first_name": "ANA", "last_name": "lima", "company": "ACME", "email": "e@x.com"}),
    );
    // Same name, no company: no evidence.
    let f = create(
        &db,
        json!({"first_name": "Ana", "last_name": "Lima", "email": "f@x.com"}),
    );
    // A Telegram id that happens to be the same digits is not a phone.
    create(
        &db,
        json!({"contact_id": "T1", "identities": [{"channel": "telegram", "external_id": "5511987654321"}]}),
    );

    assert_eq!(
        candidates(&db, &id(&a)),
        vec![
            (id(&b), vec![Reason::Email]),
            (id(&c), vec![Reason::Phone]),
            (id(&d), vec![Reason::Identity]),
            (id(&e), vec![Reason::NameCompany]),
        ]
    );
    assert_eq!(
        candidates(&db, &id(&d)),
        vec![(id(&a), vec![Reason::Identity])]
    );
    assert!(candidates(&db, &id(&f)).is_empty());
    assert!(candidates(&db, "T1").is_empty());
    // The read's count is the list's length: one definition.
    for contact in [&a, &b, &c, &d, &e, &f] {
        assert_eq!(
            repo::read(&db, contact.contact_id())
                .unwrap()
                .possible_duplicates,
            candidates(&db, contact.contact_id()).len() as i64,
            "{}",
            contact.contact_id()
        );
    }
    assert!(matches!(
        duplicates::for_contact(&db, "NOPE"),
        Err(Error::NotFound(_))
    ));
    let alone = create(&db, json!({"email": "alone@nowhere.org"}));
    assert_eq!(
        duplicates::for_contact(&db, alone.contact_id()),
        Ok(vec![]),
        "a known contact without candidates has an empty list, not a 404"
    );
}

#[test]
fn an_identity_email_matches_a_contact_email() {
    let db = db();
    let a = create(&db, json!({"email": "Bo@Y.org"}));
    let b = create(
        &db,
        json!({"contact_id": "B2", "identities": [{"channel": "email", "external_id": "bo@y.org"}]}),
    );
    assert_eq!(
        candidates(&db, &id(&a)),
        vec![(id(&b), vec![Reason::Identity])]
    );
    let groups = duplicates::groups(&db, 10, None).unwrap();
    assert_eq!(groups.items.len(), 1);
    assert_eq!(groups.items[0].contact_ids, vec![id(&a), id(&b)]);
    assert_eq!(groups.items[0].reasons, vec![Reason::Identity]);
}

#[test]
fn groups_list_each_set_once_strongest_first_and_page_with_a_cursor() {
    let db = db();
    // A and B share an email and a phone: one group with both reasons.
    let a = create(&db, json!({"email": "a@x.com", "phone": "+14155550100"}));
    let b = create(
        &db,
        json!({"email": "b@x.com", "secondary_emails": ["a@x.com"], "secondary_phones": ["+14155550100"]}),
    );
    // C and D share a phone; D and E a name and company.
    let c = create(&db, json!({"phone": "+14155550200"}));
    let d = create(
        &db,
        json!({"email": "d@x.com", "mobile": "+14155550200", "first_name": "Rui", "last_name": "Sá", "company": "Nos"}),
    );
    let e = create(
        &db,
        json!({"first_name": "RUI", "last_name": "sá", "company": "nos", "email": "e@x.com"}),
    );
    let page = duplicates::groups(&db, 50, None).unwrap();
    let got: Vec<(Vec<String>, Vec<Reason>)> = page
        .items
        .iter()
        .map(|g| (g.contact_ids.clone(), g.reasons.clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (vec![id(&a), id(&b)], vec![Reason::Email, Reason::Phone]),
            (vec![id(&c), id(&d)], vec![Reason::Phone]),
            (vec![id(&d), id(&e)], vec![Reason::NameCompany]),
        ]
    );
    assert!(page.next_cursor.is_none());
    assert_eq!(
        page.items[0].contacts[1]["email"], "b@x.com",
        "the dialog's columns"
    );
    assert_eq!(page.items[0].size, 2);

    // One group per page: the same groups, in the same order, each once.
    let mut cursor = None;
    let mut paged = Vec::new();
    loop {
        let p = duplicates::groups(&db, 1, cursor.as_deref()).unwrap();
        assert!(p.items.len() <= 1);
        paged.extend(p.items.into_iter().map(|g| g.contact_ids));
        match p.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(
        paged,
        got.into_iter().map(|(ids, _)| ids).collect::<Vec<_>>()
    );
    assert!(matches!(
        duplicates::groups(&db, 1, Some("not a cursor")),
        Err(Error::Invalid { field, .. }) if field == "cursor"
    ));
}

#[test]
fn the_shared_key_list_follows_every_write() {
    let db = db();
    let cat = Catalogue::load(&db).unwrap();
    let a = create(&db, json!({"email": "a@x.com"}));
    let b = create(&db, json!({"email": "b@x.com"}));
    assert_eq!(count(&db, "SELECT count(*) FROM duplicate_keys"), 0);
    repo::update(
        ctx(&db, &cat),
        &id(&b),
        &json!({"secondary_emails": ["A@X.com"]}),
        None,
    )
    .unwrap();
    assert_eq!(count(&db, "SELECT count(*) FROM duplicate_keys"), 1);
    repo::update(
        ctx(&db, &cat),
        &id(&b),
        &json!({"secondary_emails": []}),
        None,
    )
    .unwrap();
    assert_eq!(count(&db, "SELECT count(*) FROM duplicate_keys"), 0);
    // Name and company: appears when a second holder does, goes with a rename or a delete.
    repo::update(
        ctx(&db, &cat),
        &id(&a),
        &json!({"first_name": "Li", "last_name": "Wu", "company": "Z"}),
        None,
    )
    .unwrap();
    repo::update(
        ctx(&db, &cat),
        &id(&b),
        &json!({"first_name": "LI", "last_name": "wu", "company": "z"}),
        None,
    )
    .unwrap();
    assert_eq!(
        count(&db, "SELECT count(*) FROM duplicate_keys WHERE rank = 2"),
        1
    );
    repo::update(ctx(&db, &cat), &id(&b), &json!({"company": "Y"}), None).unwrap();
    assert_eq!(count(&db, "SELECT count(*) FROM duplicate_keys"), 0);
    repo::update(ctx(&db, &cat), &id(&b), &json!({"company": "Z"}), None).unwrap();
    repo::delete(&db, "admin", &id(&a)).unwrap();
    assert_eq!(count(&db, "SELECT count(*) FROM duplicate_keys"), 0);
}

#[test]
fn the_migration_finds_the_keys_stored_before_it() {
    let db = db();
    create(
        &db,
        json!({"email": "a@x.com", "first_name": "Jo", "last_name": "Ng", "company": "K"}),
    );
    create(
        &db,
        json!({"email": "b@x.com", "secondary_emails": ["a@x.com"], "first_name": "jo", "last_name": "NG", "company": "k"}),
    );
    create(
        &db,
        json!({"contact_id": "W1", "identities": [{"channel": "whatsapp", "external_id": "14155550100"}]}),
    );
    create(&db, json!({"phone": "+14155550100"}));
    let kept = db
        .execute("SELECT * FROM duplicate_keys ORDER BY 1, 2", &[])
        .unwrap();
    assert_eq!(kept.rows.len(), 3);
    db.execute("DELETE FROM duplicate_keys", &[]).unwrap();
    for statement in &duplicates::SCHEMA_V2[duplicates::SCHEMA_V2.len() - 2..] {
        db.execute(statement, &[]).unwrap();
    }
    assert_eq!(
        db.execute("SELECT * FROM duplicate_keys ORDER BY 1, 2", &[])
            .unwrap(),
        kept
    );
}

/// Version 3 keeps the keys version 2's triggers stored, and its own triggers match the
/// rows stored before it: the name key of an old row is the value version 2 stored.
#[test]
fn upgrading_to_version_3_keeps_the_keys_and_goes_on_keeping_them() {
    let db = NativeSql::open_in_memory();
    schema::migrate(&db, 2).unwrap();
    for (rowid, first, company, email) in [(1, "Jo", "K", "a@x.com"), (2, "jo", "k", "b@x.com")] {
        db.execute(
            "INSERT INTO contacts (id, contact_id, first_name, last_name, company, display_name, \
               created_at, updated_at) VALUES (?1, ?2, ?3, 'Ng', ?4, 'x', 'x', 'x')",
            &[
                rowid.into(),
                format!("C{rowid}").into(),
                first.into(),
                company.into(),
            ],
        )
        .unwrap();
        db.execute(
            "INSERT INTO contact_keys (kind, value, contact_rowid) VALUES ('email', ?1, ?2), \
               ('email', 'shared@x.com', ?2)",
            &[email.into(), rowid.into()],
        )
        .unwrap();
    }
    let keys = |db: &NativeSql| {
        db.execute("SELECT rank, value FROM duplicate_keys ORDER BY 1, 2", &[])
            .unwrap()
            .rows
    };
    let before = keys(&db);
    assert_eq!(before.len(), 2, "{before:?}");
    schema::ensure(&db).unwrap();
    assert_eq!(keys(&db), before);
    assert_eq!(
        count(&db, "SELECT count(*) FROM contacts WHERE name_key = (SELECT value FROM duplicate_keys WHERE rank = 2)"),
        2
    );
    db.execute("DELETE FROM contact_keys WHERE contact_rowid = 2", &[])
        .unwrap();
    db.execute("DELETE FROM contacts WHERE id = 2", &[])
        .unwrap();
    assert_eq!(keys(&db), Vec::<Vec<Value>>::new());
}

#[test]
fn a_contact_with_candidates_is_in_a_group_and_one_without_is_in_none() {
    let db = db();
    let mut all = Vec::new();
    for i in 0..40 {
        let mut body = json!({"email": format!("p{i}@x.com")});
        if i % 3 == 0 {
            body["secondary_phones"] = json!([format!("+1415555{:04}", 100 + i / 6)]);
        }
        if i % 5 == 0 {
            body["secondary_emails"] = json!([format!("p{}@x.com", i + 1)]);
        }
        if i % 7 == 0 {
            body["first_name"] = json!("Jo");
            body["last_name"] = json!("Ng");
            body["company"] = json!("K");
        }
        all.push(create(&db, body));
    }
    let mut grouped = std::collections::BTreeSet::new();
    let mut cursor = None;
    loop {
        let p = duplicates::groups(&db, 3, cursor.as_deref()).unwrap();
        for g in &p.items {
            grouped.extend(g.contact_ids.iter().cloned());
        }
        match p.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    for c in &all {
        let n = repo::read(&db, c.contact_id()).unwrap().possible_duplicates;
        assert_eq!(
            n > 0,
            grouped.contains(c.contact_id()),
            "{}",
            c.contact_id()
        );
    }
    assert!(grouped.len() > 10);
}

#[test]
fn a_merge_moves_everything_to_the_primary_and_deletes_the_secondaries() {
    let db = db();
    let p = create(
        &db,
        json!({"first_name": "Ana", "email": "ana@x.com", "tags": ["vip"], "custom": {"tier": "Gold"}}),
    );
    let s1 = create(
        &db,
        json!({"first_name": "Anna", "last_name": "Lima", "email": "anna@y.com", "phone": "+14155550132",
               "tags": ["beta"], "identities": [{"channel": "whatsapp", "external_id": "14155550132"}]}),
    );
    let s2 = create(
        &db,
        json!({"email": "al@z.com", "city": "Porto", "custom": {"tier": "Silver"},
               "identities": [{"channel": "telegram", "external_id": "777"}]}),
    );
    conversation(&db, &s1, 3);
    conversation(&db, &s2, 2);
    let done = run(&db, &id(&p), &[&id(&s1), &id(&s2)]).unwrap();
    assert_eq!(done.merged, vec![id(&s1), id(&s2)]);
    let c = repo::load(&db, &id(&p)).unwrap();
    assert_eq!(c, done.contact, "the answer is what is stored");
    assert_eq!(c.text("first_name"), Some("Ana"));
    assert_eq!(c.text("last_name"), Some("Lima"));
    assert_eq!(c.text("phone_e164"), Some("+14155550132"));
    assert_eq!(c.text("city"), Some("Porto"));
    assert_eq!(c.custom.get("tier"), Some(&json!("Gold")));
    assert_eq!(c.tags, vec!["beta", "vip"]);
    assert_eq!(c.identities.len(), 2);
    assert_eq!(c.int("conversation_count"), 5);
    assert_eq!(c.version(), 2);
    let secondary: Vec<String> = serde_json::from_str(c.text("secondary_emails").unwrap()).unwrap();
    assert_eq!(secondary.len(), 2);
    for sid in [id(&s1), id(&s2)] {
        assert!(matches!(repo::load(&db, &sid), Err(Error::NotFound(_))));
    }
    let rowid = c.rowid.to_string();
    for table in [
        "identities",
        "conversations",
        "contact_tags",
        "contact_keys",
    ] {
        let orphans = count(
            &db,
            &format!(
                "SELECT count(*) FROM {table} WHERE contact_rowid NOT IN (SELECT id FROM contacts)"
            ),
        );
        assert_eq!(orphans, 0, "{table}");
    }
    assert_eq!(
        count(
            &db,
            &format!("SELECT count(*) FROM conversations WHERE contact_rowid = {rowid}")
        ),
        5
    );
    // Match keys: the secondaries' emails and phone are the primary's now; nothing shared.
    assert_eq!(
        count(
            &db,
            &format!("SELECT count(*) FROM contact_keys WHERE contact_rowid = {rowid}")
        ),
        4
    );
    assert_eq!(count(&db, "SELECT count(*) FROM duplicate_keys"), 0);
    assert_eq!(done.possible_duplicates, 0);

    // One timeline: the merge item first, naming the absorbed ids, then every contact's past.
    let (items, _) = history::page(&db, &id(&p), None, 10).unwrap();
    assert_eq!(items[0]["action"], "merge");
    assert_eq!(items[0]["merged"], json!([id(&s1), id(&s2)]));
    assert!(items[0]["fields"]
        .as_array()
        .unwrap()
        .contains(&json!("last_name")));
    assert_eq!(items.iter().filter(|i| i["action"] == "create").count(), 3);
    assert!(!history::exists(&db, &id(&s1)).unwrap());

    // Search and segments see one contact.
    let all = page::system_segment("all").unwrap();
    assert_eq!(page::count(&db, &all).unwrap(), 1);
    assert_eq!(count(&db, "SELECT count(*) FROM search_grams"), 1);
}

#[test]
fn a_chat_event_for_a_secondarys_identity_reaches_the_primary() {
    let db = db();
    let p = create(&db, json!({"email": "p@x.com"}));
    let s = create(
        &db,
        json!({"contact_id": "S9", "identities": [{"channel": "telegram", "external_id": "42"}]}),
    );
    run(&db, &id(&p), &[&id(&s)]).unwrap();
    let legacy = MemoryKv::default();
    let settings = AutocreateSettings::load(&db, &|| Ok(&legacy)).unwrap();
    let mut ev = Event::new("event:1".into(), Identity::parse("telegram", "42").unwrap());
    ev.conversation_id = Some("conv-1".into());
    let out = autocreate::process(&db, &settings, &[ev]).unwrap();
    assert_eq!(out[0].contact_id.as_deref(), Some(id(&p).as_str()));
    assert!(!out[0].created);
    assert_eq!(
        repo::load(&db, &id(&p)).unwrap().int("conversation_count"),
        1
    );
    assert_eq!(count(&db, "SELECT count(*) FROM contacts"), 1);
}

#[test]
fn a_dry_run_shows_the_merge_and_changes_nothing() {
    let db = db();
    let p = create(&db, json!({"email": "p@x.com"}));
    let s = create(
        &db,
        json!({"email": "s@x.com", "first_name": "Sol", "tags": ["t"]}),
    );
    let before = dump(&db);
    let cat = Catalogue::load(&db).unwrap();
    let shown = merge(ctx(&db, &cat), &request(&id(&p), &[&id(&s)], true)).unwrap();
    assert_eq!(dump(&db), before);
    let done = run(&db, &id(&p), &[&id(&s)]).unwrap();
    let mut shown = shown.contact;
    shown.set("updated_at", done.contact.text("updated_at"));
    assert_eq!(shown, done.contact);
}

#[test]
fn unknown_contacts_are_named_and_nothing_changes() {
    let db = db();
    let p = create(&db, json!({"email": "p@x.com"}));
    let s = create(&db, json!({"email": "s@x.com"}));
    let before = dump(&db);
    let e = run(&db, &id(&p), &[&id(&s), "GONE1", "GONE2"]).unwrap_err();
    assert_eq!(e, Error::NotFound("contacts 'GONE1', 'GONE2'".into()));
    let e = run(&db, "GONE0", &[&id(&s)]).unwrap_err();
    assert_eq!(e, Error::NotFound("contact 'GONE0'".into()));
    assert_eq!(dump(&db), before);
    // A second merge of the same secondary finds it gone.
    let q = create(&db, json!({"email": "q@x.com"}));
    run(&db, &id(&p), &[&id(&s)]).unwrap();
    assert!(matches!(
        run(&db, &id(&q), &[&id(&s)]),
        Err(Error::NotFound(_))
    ));
}

#[test]
fn requests_are_checked() {
    let bad = |body: Json, field: &str| {
        let e = MergeRequest::parse(&body).unwrap_err();
        match e {
            Error::Invalid { field: f, .. } | Error::Malformed { field: Some(f), .. } => {
                assert_eq!(f, field, "{body}")
            }
            other => panic!("{body}: {other:?}"),
        }
    };
    let ids: Vec<String> = (0..25).map(|i| format!("S{i}")).collect();
    bad(json!({"primary": "P", "secondaries": ids}), "secondaries");
    assert!(MergeRequest::parse(&json!({"primary": "P", "secondaries": ids[..24]})).is_ok());
    bad(json!({"primary": "P", "secondaries": []}), "secondaries");
    bad(json!({"primary": "P"}), "secondaries");
    bad(json!({"secondaries": ["A"]}), "primary");
    bad(json!({"primary": 7, "secondaries": ["A"]}), "primary");
    bad(json!({"primary": "a/b", "secondaries": ["A"]}), "primary");
    bad(
        json!({"primary": "P", "secondaries": ["A", "P"]}),
        "secondaries[1]",
    );
    bad(
        json!({"primary": "P", "secondaries": ["A", "B", "A"]}),
        "secondaries[2]",
    );
    bad(
        json!({"primary": "P", "secondaries": ["A", 1]}),
        "secondaries[1]",
    );
    bad(
        json!({"primary": "P", "secondaries": ["A"], "dry_run": "yes"}),
        "dry_run",
    );
    assert!(matches!(
        MergeRequest::parse(&json!([1])),
        Err(Error::Malformed { .. })
    ));
}

/// Every row a merge could touch, in a comparable form.
fn dump(db: &dyn Sql) -> Vec<Rows> {
    [
        "SELECT * FROM contacts ORDER BY id",
        "SELECT * FROM contact_tags ORDER BY 1, 2",
        "SELECT channel, external_id, contact_rowid FROM identities ORDER BY 1, 2",
        "SELECT * FROM conversations ORDER BY 1, 2",
        "SELECT * FROM contact_keys ORDER BY 1, 2, 3",
        "SELECT * FROM history ORDER BY id",
        "SELECT * FROM duplicate_keys ORDER BY 1, 2",
        "SELECT rowid FROM search_grams ORDER BY 1",
        "SELECT rowid FROM search_words WHERE search_words MATCH 'ana' ORDER BY 1",
    ]
    .iter()
    .map(|sql| db.execute(sql, &[]).unwrap())
    .collect()
}

/// A connection whose `fail_at`-th statement fails (0: none), counting them all.
struct Faulty<'a> {
    inner: &'a dyn Sql,
    fail_at: usize,
    seen: Cell<usize>,
}

impl Sql for Faulty<'_> {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        self.seen.set(self.seen.get() + 1);
        if self.seen.get() == self.fail_at {
            return Err(DbError::Sqlite("disk I/O error (injected)".into()));
        }
        self.inner.execute(sql, params)
    }
    fn last_insert_rowid(&self) -> i64 {
        self.inner.last_insert_rowid()
    }
    fn changes(&self) -> u64 {
        self.inner.changes()
    }
}

#[test]
fn a_failure_at_any_statement_leaves_every_contact_as_it_was() {
    let db = db();
    let p = create(
        &db,
        json!({"first_name": "Ana", "email": "ana@x.com", "tags": ["a"]}),
    );
    let s1 = create(
        &db,
        json!({"first_name": "Ana", "last_name": "L", "email": "al@x.com", "secondary_emails": ["ana@x.com"],
               "tags": ["b"], "identities": [{"channel": "whatsapp", "external_id": "14155550132"}]}),
    );
    let s2 = create(&db, json!({"phone": "+14155550132", "city": "Rio"}));
    conversation(&db, &s1, 2);
    let cat = Catalogue::load(&db).unwrap();
    let req = request(&id(&p), &[&id(&s1), &id(&s2)], false);
    let before = dump(&db);
    // How many statements a merge runs: a dry run runs the same ones (ROLLBACK for COMMIT).
    let statements = {
        let counting = Faulty {
            inner: &db,
            fail_at: 0,
            seen: Cell::new(0),
        };
        let dry = MergeRequest {
            dry_run: true,
            ..req.clone()
        };
        merge(ctx(&counting, &cat), &dry).unwrap();
        counting.seen.get()
    };
    assert!(statements > 5);
    let mut failed = 0;
    for k in 1..=statements {
        let faulty = Faulty {
            inner: &db,
            fail_at: k,
            seen: Cell::new(0),
        };
        match merge(ctx(&faulty, &cat), &req) {
            Err(_) => failed += 1,
            Ok(_) => panic!("statement {k} failed and the merge went on"),
        }
        assert_eq!(dump(&db), before, "after a failure at statement {k}");
    }
    assert_eq!(failed, statements);
    // And with no failure it goes through.
    merge(ctx(&db, &cat), &req).unwrap();
    assert_ne!(dump(&db), before);
}

#[test]
fn detection_reads_indexes_only() {
    let db = db();
    let plan = |sql: &str, params: &[Value]| -> Vec<String> {
        let rows = db
            .execute(&format!("EXPLAIN QUERY PLAN {sql}"), params)
            .unwrap();
        rows.rows
            .iter()
            .map(|r| {
                r.last()
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect()
    };
    let tables = [
        "c0",
        "k1",
        "k2",
        "i1",
        "i2",
        "c1",
        "c2",
        "c",
        "d",
        "contacts",
        "contact_keys",
        "identities",
    ];
    let no_scan = |lines: Vec<String>| {
        for line in &lines {
            let scanned = line
                .strip_prefix("SCAN ")
                .map(|t| t.split(' ').next().unwrap_or(""));
            assert!(
                !scanned.is_some_and(|t| tables.contains(&t)),
                "a table scan:\n{}",
                lines.join("\n")
            );
        }
    };
    no_scan(plan(&duplicates::count_sql("?1"), &[1.into()]));
    no_scan(plan(&duplicates::list_sql(), &["X".into(), 10.into()]));
    no_scan(plan(
        &duplicates::keys_sql(),
        &[0.into(), "a@x.com".into(), 10.into(), 10.into()],
    ));
}
