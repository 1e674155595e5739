//! Storage tests: every action on every kind of target, slices, exactly once, on rusqlite.

use serde_json::json;

use super::*;
use crate::kernel::fields::{custom, CustomFieldDef, FieldType};
use crate::kernel::native::NativeSql;
use crate::kernel::schema;
use crate::kernel::store::Value;
use crate::query::segments;

const ACTOR: &str = "boss";

fn db() -> NativeSql {
    let db = NativeSql::open_in_memory();
    schema::ensure(&db).unwrap();
    seed(&db);
    db
}

/// Contacts A–C in Lyon, D–E in Paris, F in Lyon but blocked; a saved segment "Lyon" (id
/// 1); a custom select `tier`; an agent `ana`.
fn seed(db: &NativeSql) {
    custom::create(
        db,
        &CustomFieldDef {
            key: "tier".into(),
            label: "Tier".into(),
            ty: FieldType::SingleSelect,
            options: Some(vec!["Gold".into(), "Silver".into()]),
        },
    )
    .unwrap();
    db.execute(
        "INSERT INTO users (login, role, created_at) VALUES ('ana', 'agent', '2026-01-01T00:00:00.000Z')",
        &[],
    )
    .unwrap();
    let cat = Catalogue::load(db).unwrap();
    let ctx = repo::Ctx {
        db,
        catalogue: &cat,
        region: Region::default(),
        actor: "admin",
    };
    for (id, city) in [
        ("A", "Lyon"),
        ("B", "Lyon"),
        ("C", "Lyon"),
        ("D", "Paris"),
        ("E", "Paris"),
        ("F", "Lyon"),
    ] {
        repo::create(
            ctx,
            &json!({"contact_id": id, "first_name": id, "city": city, "tags": ["old"],
                    "email": format!("{id}@example.com")}),
        )
        .unwrap();
    }
    crate::hooks::blocks::block(
        db,
        "admin",
        &[crate::kernel::values::ContactId::parse("F").unwrap()],
    )
    .unwrap();
    segments::create(
        db,
        &cat,
        "admin",
        &json!({"name": "Lyon", "filter": {"all": [{"field": "city", "op": "eq", "value": "lyon"}]}}),
    )
    .unwrap();
}

fn clock() -> Clock {
    Clock::system(None).unwrap()
}

fn request(db: &NativeSql, body: Json) -> Result<Request> {
    Request::parse(&body, &Catalogue::load(db)?, Region::default())
}

/// Submits `body` with slices of at most `max_slice` rows, then continues to the end.
fn run_to_end(db: &NativeSql, body: Json, max_slice: i64) -> Result<Job> {
    let cat = Catalogue::load(db)?;
    let clock = clock();
    let ctx = Ctx {
        db,
        catalogue: &cat,
        clock: &clock,
        actor: ACTOR,
        max_slice,
    };
    let Outcome::Job(mut job) = submit(ctx, &request(db, body)?)? else {
        panic!("a run answers a job");
    };
    while !job.state.is_final() {
        job = advance(db, &job.id, max_slice)?;
    }
    Ok(job)
}

fn col(db: &NativeSql, id: &str, col: &str) -> Value {
    db.execute(
        &format!("SELECT {col} FROM contacts WHERE contact_id = ?"),
        &[id.into()],
    )
    .unwrap()
    .scalar()
    .cloned()
    .unwrap_or(Value::Null)
}

fn versions(db: &NativeSql) -> Vec<(String, i64)> {
    db.execute(
        "SELECT contact_id, version FROM contacts ORDER BY contact_id",
        &[],
    )
    .unwrap()
    .rows
    .into_iter()
    .map(|r| (r[0].as_str().unwrap().to_owned(), r[1].as_i64().unwrap()))
    .collect()
}

fn tags(db: &NativeSql, id: &str) -> Vec<String> {
    repo::load(db, id).unwrap().tags
}

fn bulk_history(db: &NativeSql, id: &str) -> Vec<(String, Json)> {
    db.execute(
        "SELECT action, fields FROM history WHERE contact_id = ? AND actor = ? ORDER BY id",
        &[id.into(), ACTOR.into()],
    )
    .unwrap()
    .rows
    .into_iter()
    .map(|r| {
        (
            r[0].as_str().unwrap().to_owned(),
            serde_json::from_str(r[1].as_str().unwrap()).unwrap(),
        )
    })
    .collect()
}

/// The targets and whom each holds.
fn targets() -> Vec<(Json, Vec<&'static str>)> {
    vec![
        (json!({"ids": ["A", "D", "F"]}), vec!["A", "D", "F"]),
        (json!({"segment": "all"}), vec!["A", "B", "C", "D", "E"]),
        (json!({"segment": "blocked"}), vec!["F"]),
        (json!({"segment": "1"}), vec!["A", "B", "C"]),
        (
            json!({"filter": {"all": [{"field": "city", "op": "eq", "value": "Paris"}]}}),
            vec!["D", "E"],
        ),
        (
            json!({"filter": {"all": [{"field": "city", "op": "eq", "value": "Lyon"}]}, "segment": "blocked"}),
            vec!["F"],
        ),
        (Json::Null, vec!["A", "B", "C", "D", "E"]),
    ]
}

/// Each action with a test that a contact shows its effect.
#[allow(clippy::type_complexity)]
fn actions() -> Vec<(Json, Box<dyn Fn(&NativeSql, &str) -> bool>)> {
    vec![
        (
            json!({"action": "assign_owner", "params": {"owner": "ana"}}),
            Box::new(|db, id| col(db, id, "owner") == Value::from("ana")),
        ),
        (
            json!({"action": "add_tags", "params": {"tags": ["vip", "OLD"]}}),
            Box::new(|db, id| tags(db, id) == vec!["old", "vip"]),
        ),
        (
            json!({"action": "remove_tags", "params": {"tags": ["Old"]}}),
            Box::new(|db, id| tags(db, id).is_empty()),
        ),
        (
            json!({"action": "set_field", "params": {"field": "last_name", "value": "Lima"}}),
            Box::new(|db, id| col(db, id, "display_name") == Value::from(format!("{id} Lima"))),
        ),
        (
            json!({"action": "set_field", "params": {"field": "custom.tier", "value": "gold"}}),
            Box::new(|db, id| {
                repo::load(db, id).unwrap().custom.get("tier") == Some(&json!("Gold"))
            }),
        ),
        (
            json!({"action": "set_lead_stage", "params": {"stage": "customer"}}),
            Box::new(|db, id| col(db, id, "lead_stage") == Value::from("customer")),
        ),
        (
            json!({"action": "block"}),
            Box::new(|db, id| col(db, id, "blocked") == Value::Integer(1)),
        ),
        (
            json!({"action": "unblock"}),
            Box::new(|db, id| col(db, id, "blocked") == Value::Integer(0)),
        ),
    ]
}

#[test]
fn every_action_changes_exactly_its_targets_once_with_history() {
    for (action, has_effect) in actions() {
        for (target, holds) in targets() {
            let db = db();
            let before = versions(&db);
            let mut body = action.clone();
            body["target"] = target.clone();
            let job = run_to_end(&db, body, 2).unwrap();
            let what = format!("{action} on {target}");
            assert_eq!(job.state, State::Done, "{what}");
            assert_eq!(job.total, Some(holds.len() as i64), "{what}");
            assert_eq!(job.processed, holds.len() as i64, "{what}");
            for ((id, v0), (_, v1)) in before.iter().zip(versions(&db)) {
                let targeted = holds.contains(&id.as_str());
                let already = targeted && v1 == *v0;
                if targeted {
                    assert!(has_effect(&db, id), "{what}: {id} has no effect");
                }
                let items = bulk_history(&db, id);
                match (targeted, already) {
                    // Already as asked (block on Blocked): untouched, nothing recorded.
                    (true, true) => assert!(items.is_empty(), "{what}: {id}"),
                    (true, false) => {
                        assert_eq!(v1, v0 + 1, "{what}: {id} changed once");
                        assert_eq!(items.len(), 1, "{what}: {id}: {items:?}");
                    }
                    (false, _) => {
                        assert_eq!(v1, *v0, "{what}: {id} is not a target");
                        assert!(items.is_empty(), "{what}: {id}");
                    }
                }
            }
            let changed = job.counts["changed"].as_i64().unwrap();
            let bumped = before
                .iter()
                .zip(versions(&db))
                .filter(|((_, v0), (_, v1))| v1 != v0)
                .count();
            assert_eq!(changed, bumped as i64, "{what}");
            assert_eq!(
                db.execute("SELECT count(*) FROM bulk_targets", &[])
                    .unwrap()
                    .scalar_i64(),
                Some(0),
                "{what}: a finished job keeps no targets"
            );
        }
    }
}

#[test]
fn delete_removes_its_targets_with_their_rows_and_records_it() {
    for (target, holds) in targets() {
        let db = db();
        let job = run_to_end(
            &db,
            json!({"action": "delete", "target": target, "confirm_count": holds.len()}),
            2,
        )
        .unwrap();
        assert_eq!(job.counts["changed"], json!(holds.len()), "{target}");
        for id in ["A", "B", "C", "D", "E", "F"] {
            let gone = holds.contains(&id);
            assert_eq!(repo::load(&db, id).is_err(), gone, "{target}: {id}");
            let items = bulk_history(&db, id);
            assert_eq!(items.len(), gone as usize, "{target}: {id}");
        }
        let orphans = db
            .execute(
                "SELECT (SELECT count(*) FROM contact_tags WHERE contact_rowid NOT IN (SELECT id FROM contacts)) + \
                        (SELECT count(*) FROM contact_keys WHERE contact_rowid NOT IN (SELECT id FROM contacts))",
                &[],
            )
            .unwrap()
            .scalar_i64();
        assert_eq!(orphans, Some(0), "{target}");
    }
}

#[test]
fn delete_needs_the_current_count_and_changes_nothing_without_it() {
    let db = db();
    let before = versions(&db);
    for confirm in [json!(null), json!(4), json!(6)] {
        let e = run_to_end(
            &db,
            json!({"action": "delete", "target": {"segment": "all"}, "confirm_count": confirm}),
            100,
        )
        .unwrap_err();
        let Error::Invalid { field, detail } = e else {
            panic!("{e:?}")
        };
        assert_eq!(field, "confirm_count");
        assert!(detail.contains("holds 5 contacts"), "{detail}");
    }
    assert_eq!(versions(&db), before);
    for table in ["jobs", "bulk_targets"] {
        let n = db
            .execute(&format!("SELECT count(*) FROM {table}"), &[])
            .unwrap()
            .scalar_i64();
        assert_eq!(n, Some(0), "{table}");
    }
}

#[test]
fn a_dry_run_counts_through_the_same_condition_and_changes_nothing() {
    let db = db();
    let cat = Catalogue::load(&db).unwrap();
    let clock = clock();
    let ctx = Ctx {
        db: &db,
        catalogue: &cat,
        clock: &clock,
        actor: ACTOR,
        max_slice: 100,
    };
    for (target, holds) in targets() {
        let req = request(
            &db,
            json!({"action": "delete", "target": target, "dry_run": true}),
        )
        .unwrap();
        assert_eq!(
            submit(ctx, &req).unwrap(),
            Outcome::Count(holds.len() as i64),
            "{target}"
        );
    }
    let unknown = request(
        &db,
        json!({"action": "block", "target": {"ids": ["A", "Z9"]}, "dry_run": true}),
    )
    .unwrap();
    assert_eq!(
        submit(ctx, &unknown).unwrap_err(),
        Error::invalid("target.ids", "no contact has the Contact ID Z9")
    );
    let nobody = request(
        &db,
        json!({"action": "assign_owner", "params": {"owner": "zed"}}),
    )
    .unwrap();
    assert!(
        matches!(submit(ctx, &nobody), Err(Error::Invalid { field, .. }) if field == "params.owner")
    );
    let missing = request(&db, json!({"action": "block", "target": {"segment": 99}})).unwrap();
    assert!(
        matches!(submit(ctx, &missing), Err(Error::Invalid { field, .. }) if field == "target.segment")
    );
    assert_eq!(
        db.execute("SELECT count(*) FROM jobs", &[])
            .unwrap()
            .scalar_i64(),
        Some(0)
    );
}

#[test]
fn steps_past_the_end_change_nothing_and_the_set_is_frozen_at_start() {
    let db = db();
    let cat = Catalogue::load(&db).unwrap();
    let clock = clock();
    let ctx = Ctx {
        db: &db,
        catalogue: &cat,
        clock: &clock,
        actor: ACTOR,
        max_slice: 2,
    };
    let req = request(
        &db,
        json!({"action": "add_tags", "params": {"tags": ["x"]}}),
    )
    .unwrap();
    let Outcome::Job(first) = submit(ctx, &req).unwrap() else {
        panic!()
    };
    assert_eq!(
        (first.state, first.processed, first.total),
        (State::Running, 2, Some(5))
    );
    // Created after the start: not a target.
    repo::create(
        repo::Ctx {
            db: &db,
            catalogue: &cat,
            region: Region::default(),
            actor: "admin",
        },
        &json!({"contact_id": "G"}),
    )
    .unwrap();
    let mut job = first;
    for _ in 0..10 {
        job = advance(&db, &job.id, 2).unwrap();
    }
    assert_eq!((job.state, job.processed, job.step), (State::Done, 5, 3));
    assert!(tags(&db, "G").is_empty());
    for id in ["A", "B", "C", "D", "E"] {
        assert_eq!(bulk_history(&db, id).len(), 1, "{id}");
        assert_eq!(col(&db, id, "version"), Value::Integer(2), "{id}");
    }
}

#[test]
fn an_edit_between_slices_is_kept() {
    let db = db();
    let cat = Catalogue::load(&db).unwrap();
    let clock = clock();
    let ctx = Ctx {
        db: &db,
        catalogue: &cat,
        clock: &clock,
        actor: ACTOR,
        max_slice: 1,
    };
    let req = request(
        &db,
        json!({"action": "set_field", "params": {"field": "first_name", "value": "Zoe"}, "target": {"segment": "1"}}),
    )
    .unwrap();
    let Outcome::Job(job) = submit(ctx, &req).unwrap() else {
        panic!()
    };
    assert_eq!(job.processed, 1);
    // C is not done yet: a PATCH of another field and a new tag meanwhile.
    repo::update(
        repo::Ctx {
            db: &db,
            catalogue: &cat,
            region: Region::default(),
            actor: "admin",
        },
        "C",
        &json!({"last_name": "Moreau", "tags": ["old", "new"]}),
        None,
    )
    .unwrap();
    let mut job = job;
    while !job.state.is_final() {
        job = advance(&db, &job.id, 1).unwrap();
    }
    let c = repo::load(&db, "C").unwrap();
    assert_eq!(c.text("display_name"), Some("Zoe Moreau"));
    assert_eq!(c.text("last_name"), Some("Moreau"));
    assert_eq!(c.tags, vec!["new", "old"]);
    assert_eq!(c.version(), 3);
}

#[test]
fn a_value_already_set_is_not_written_again() {
    let db = db();
    let body =
        json!({"action": "set_field", "params": {"field": "custom.tier", "value": "Silver"}});
    assert_eq!(
        run_to_end(&db, body.clone(), 3).unwrap().counts["changed"],
        5
    );
    let again = run_to_end(&db, body, 3).unwrap();
    assert_eq!(
        (again.processed, again.counts["changed"].clone()),
        (5, json!(0))
    );
    let cleared = run_to_end(
        &db,
        json!({"action": "set_field", "params": {"field": "custom.tier", "value": null}}),
        3,
    )
    .unwrap();
    assert_eq!(cleared.counts["changed"], 5);
    assert!(repo::load(&db, "A").unwrap().custom.get("tier").is_none());
}

#[test]
fn concurrent_steps_on_two_connections_do_each_target_once() {
    let dir = std::env::temp_dir().join(format!("contacts-bulk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("race.db");
    let _ = std::fs::remove_file(&path);
    let db = NativeSql::open(&path).unwrap();
    schema::ensure(&db).unwrap();
    seed(&db);
    for i in 0..60 {
        db.execute(
            "INSERT INTO contacts (contact_id, display_name, created_at, updated_at) VALUES (?, 'x', '', '')",
            &[format!("N{i}").as_str().into()],
        )
        .unwrap();
    }
    let cat = Catalogue::load(&db).unwrap();
    let clock = clock();
    let ctx = Ctx {
        db: &db,
        catalogue: &cat,
        clock: &clock,
        actor: ACTOR,
        max_slice: 3,
    };
    let req = request(
        &db,
        json!({"action": "set_lead_stage", "params": {"stage": "lead"}}),
    )
    .unwrap();
    let Outcome::Job(job) = submit(ctx, &req).unwrap() else {
        panic!()
    };
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let (path, id) = (path.clone(), job.id.clone());
            std::thread::spawn(move || {
                let db = NativeSql::open(&path).unwrap();
                loop {
                    let job = advance(&db, &id, 3).unwrap();
                    if job.state.is_final() {
                        return job;
                    }
                }
            })
        })
        .collect();
    for h in handles {
        let done = h.join().unwrap();
        assert_eq!((done.processed, done.total), (65, Some(65)));
    }
    let twice = db
        .execute(
            "SELECT count(*) FROM (SELECT contact_id FROM history WHERE actor = ? GROUP BY contact_id HAVING count(*) <> 1)",
            &[ACTOR.into()],
        )
        .unwrap()
        .scalar_i64();
    assert_eq!(twice, Some(0));
    let bumped = db
        .execute(
            "SELECT count(*) FROM contacts WHERE lead_stage = 'lead' AND blocked = 0",
            &[],
        )
        .unwrap()
        .scalar_i64();
    assert_eq!(bumped, Some(65));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn slices_fit_their_budget_at_the_rate_measured_within_bounds() {
    let second = Duration::from_secs(1);
    assert_eq!(rows_for(10_000.0, SLICE_BUDGET), 400);
    assert_eq!(rows_for(10_000.0, QUIET_SLICE_BUDGET), 10_000);
    assert_eq!(rows_for(10.0, SLICE_BUDGET), MIN_SLICE);
    assert_eq!(rows_for(1e9, QUIET_SLICE_BUDGET), MAX_SLICE);
    assert_eq!(
        next_rate(None, 1_000, 1_000, second),
        Some(1_000.0),
        "first one as measured"
    );
    assert_eq!(
        next_rate(Some(100.0), 1_000, 1_000, second),
        Some(200.0),
        "at most twice"
    );
    assert_eq!(
        next_rate(Some(9_000.0), 1_000, 1_000, second),
        Some(4_500.0),
        "at least half"
    );
    assert_eq!(
        next_rate(Some(1_500.0), 1_000, 10, second),
        Some(1_500.0),
        "a last, partial slice says nothing"
    );
}

#[test]
fn a_job_takes_long_slices_only_while_nobody_else_wants_the_lock() {
    assert_eq!(step_budget(false, None), SLICE_BUDGET * 2);
    assert_eq!(
        step_budget(false, Some(SLICE_BUDGET * 8)),
        SLICE_BUDGET * 16
    );
    assert_eq!(
        step_budget(false, Some(QUIET_SLICE_BUDGET)),
        QUIET_SLICE_BUDGET
    );
    assert_eq!(step_budget(true, Some(QUIET_SLICE_BUDGET)), SLICE_BUDGET);
}

/// Sets `id`'s phone as written and the key an earlier version stored for it, over the
/// storage port as that version did (the match key included).
fn store_old_key(db: &NativeSql, id: &str, phone: &str, old_key: &str) {
    db.execute(
        "UPDATE contacts SET phone = ?, phone_e164 = ? WHERE contact_id = ?",
        &[phone.into(), old_key.into(), id.into()],
    )
    .unwrap();
    db.execute(
        "INSERT INTO contact_keys (kind, value, contact_rowid) \
         SELECT 'phone', ?, id FROM contacts WHERE contact_id = ?",
        &[old_key.into(), id.into()],
    )
    .unwrap();
}

fn phone_keys(db: &NativeSql, id: &str) -> Vec<String> {
    db.execute(
        "SELECT k.value FROM contact_keys k JOIN contacts c ON c.id = k.contact_rowid \
         WHERE c.contact_id = ? AND k.kind = 'phone' ORDER BY k.value",
        &[id.into()],
    )
    .unwrap()
    .rows
    .into_iter()
    .map(|r| r[0].as_str().unwrap().to_owned())
    .collect()
}

#[test]
fn recheck_phones_rekeys_numbers_with_a_country_code_and_reports_a_held_primary() {
    let db = db();
    // Stored under default region US before numbers with a country code were read by
    // their own country's rules: the "1" after +49 was taken for the US national prefix.
    store_old_key(&db, "A", "+49 151 23456789", "+495123456789");
    store_old_key(&db, "B", "+49 171 2345678", "+49712345678");
    // C holds B's right key already (written later, by the fixed rules).
    store_old_key(&db, "C", "+49 171 2345678", "+491712345678");
    // D's national number was read with some default region: not read again.
    store_old_key(&db, "D", "0151 87654321", "+4915187654321");
    let before = versions(&db);

    let job = run_to_end(&db, json!({"action": "recheck_phones"}), 2).unwrap();

    assert_eq!(col(&db, "A", "phone_e164"), Value::from("+4915123456789"));
    assert_eq!(
        phone_keys(&db, "A"),
        ["+4915123456789"],
        "the match key follows"
    );
    assert_eq!(col(&db, "A", "phone"), Value::from("+49 151 23456789"));
    assert_eq!(
        bulk_history(&db, "A"),
        [("update".to_owned(), json!(["phone"]))]
    );
    assert_eq!(
        col(&db, "B", "phone_e164"),
        Value::from("+49712345678"),
        "C holds the right key: B keeps its own"
    );
    assert_eq!(
        job.counts["conflicts"],
        json!([{"contact_id": "B", "holder": "C"}])
    );
    assert_eq!(job_json(&job)["conflicts"], job.counts["conflicts"]);
    assert_eq!(job.counts["changed"], json!(1));
    let bumped: Vec<&str> = before
        .iter()
        .zip(versions(&db))
        .filter(|((_, v0), (_, v1))| v1 != v0)
        .map(|((id, _), _)| id.as_str())
        .collect();
    assert_eq!(bumped, ["A"], "only A changed");
    assert_eq!(col(&db, "D", "phone_e164"), Value::from("+4915187654321"));
    assert_eq!(col(&db, "D", "phone_e164"), Value::from("+4915187654321"));

    let again = run_to_end(&db, json!({"action": "recheck_phones"}), 50).unwrap();
    assert_eq!(
        again.counts["changed"],
        json!(0),
        "a second run finds nothing new"
    );
}

#[test]
fn recheck_phones_gives_a_key_two_contacts_of_one_slice_read_to_the_first() {
    let db = db();
    store_old_key(&db, "A", "+49 151 23456789", "+495123456789");
    store_old_key(&db, "E", "+49 151-234 567 89", "+49123");
    let job = run_to_end(&db, json!({"action": "recheck_phones"}), 50).unwrap();
    assert_eq!(job.counts["changed"], json!(1));
    assert_eq!(col(&db, "A", "phone_e164"), Value::from("+4915123456789"));
    assert_eq!(col(&db, "E", "phone_e164"), Value::from("+49123"));
    assert_eq!(
        job.counts["conflicts"],
        json!([{"contact_id": "E", "holder": "A"}])
    );
}
