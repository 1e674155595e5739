//! Bulk update and delete end to end (SPEC §3, §8, §9), through the host: every action on
//! every kind of target, dry runs, `confirm_count`, jobs over several `continue` rounds
//! (repeated and concurrent), bad input, and a host killed in the middle of a job.

use std::collections::BTreeMap;
use std::time::Duration;

use contacts_e2e::{seed, App, ADMIN};
use serde_json::{json, Value as Json};

const IDS: [&str; 6] = ["A", "B", "C", "D", "E", "F"];

/// Slices of at most this many contacts, so six contacts take several `continue`s.
const SLICE: &str = "2";

/// Contacts A–C in Lyon, D–E in Paris, F in Lyon but blocked; the saved segment "Lyon"; a
/// custom select `tier`; an agent `ana`. Returns the app and the segment's id.
fn seeded() -> (App, String) {
    let app = App::start_with(&[("bulk_max_slice", SLICE)]);
    let r = app.post(
        "/api/fields",
        &json!({"key": "tier", "label": "Tier", "type": "single_select", "options": ["Gold", "Silver"]}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    app.token("ana", "agent");
    for (id, city) in IDS
        .iter()
        .zip(["Lyon", "Lyon", "Lyon", "Paris", "Paris", "Lyon"])
    {
        app.create(
            &json!({"contact_id": id, "first_name": id, "city": city, "tags": ["old"],
                           "email": format!("{id}@example.com")}),
        );
    }
    assert_eq!(app.post("/api/blocks", &json!({"ids": ["F"]})).status, 200);
    let r = app.post(
        "/api/segments",
        &json!({"name": "Lyon", "filter": {"all": [{"field": "city", "op": "eq", "value": "lyon"}]}}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    let segment = r.body["id"].as_str().expect("segment id").to_owned();
    (app, segment)
}

/// What a contact looks like from outside: its body, version (ETag) and history length.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    body: Json,
    etag: String,
    history: usize,
}

fn look(app: &App, id: &str) -> Option<Seen> {
    let history = app.get(&format!("/api/contacts/{id}/history?limit=500"));
    let r = app.get(&format!("/api/contacts/{id}"));
    if r.status == 404 {
        return None;
    }
    assert_eq!(r.status, 200, "{}", r.text);
    Some(Seen {
        body: r.body.clone(),
        etag: r.header("etag").unwrap_or_default().to_owned(),
        history: history.body["items"].as_array().map_or(0, Vec::len),
    })
}

fn everyone(app: &App) -> BTreeMap<&'static str, Option<Seen>> {
    IDS.iter().map(|id| (*id, look(app, id))).collect()
}

/// Starts a bulk run and continues it to the end; returns the final job and the number
/// of requests it took.
fn run_to_end(app: &App, body: &Json) -> (Json, usize) {
    let r = app.post("/api/bulk", body);
    assert_eq!(r.status, 200, "{body}: {}", r.text);
    let mut job = r.body["job"].clone();
    let mut rounds = 1;
    while job["state"] == "running" {
        let r = app.post(
            &format!("/api/bulk/jobs/{}/continue", job["id"].as_str().unwrap()),
            &json!({}),
        );
        assert_eq!(r.status, 200, "{}", r.text);
        assert!(r.body["job"]["processed"].as_i64() >= job["processed"].as_i64());
        job = r.body["job"].clone();
        rounds += 1;
        assert!(rounds < 100, "the job never ends: {job}");
    }
    assert_eq!(job["state"], "done", "{job}");
    (job, rounds)
}

fn targets(segment: &str) -> Vec<(Json, Vec<&'static str>)> {
    vec![
        (json!({"ids": ["A", "D", "F"]}), vec!["A", "D", "F"]),
        (json!({"segment": "all"}), vec!["A", "B", "C", "D", "E"]),
        (json!({"segment": "blocked"}), vec!["F"]),
        (json!({"segment": segment}), vec!["A", "B", "C"]),
        (
            json!({"filter": {"all": [{"field": "city", "op": "eq", "value": "Paris"}]}}),
            vec!["D", "E"],
        ),
        (Json::Null, vec!["A", "B", "C", "D", "E"]),
    ]
}

#[allow(clippy::type_complexity)]
fn actions() -> Vec<(Json, fn(&str, &Json) -> bool)> {
    vec![
        (
            json!({"action": "assign_owner", "params": {"owner": "ana"}}),
            |_, c| c["owner"] == "ana",
        ),
        (
            json!({"action": "add_tags", "params": {"tags": ["vip", "OLD"]}}),
            |_, c| c["tags"] == json!(["old", "vip"]),
        ),
        (
            json!({"action": "remove_tags", "params": {"tags": ["Old"]}}),
            |_, c| c["tags"] == json!([]),
        ),
        (
            json!({"action": "set_field", "params": {"field": "last_name", "value": "Lima"}}),
            |id, c| c["display_name"] == format!("{id} Lima"),
        ),
        (
            json!({"action": "set_field", "params": {"field": "custom.tier", "value": "gold"}}),
            |_, c| c["custom"]["tier"] == "Gold",
        ),
        (
            json!({"action": "set_lead_stage", "params": {"stage": "customer"}}),
            |_, c| c["lead_stage"] == "customer",
        ),
        (json!({"action": "block"}), |_, c| c["blocked"] == true),
        (json!({"action": "unblock"}), |_, c| c["blocked"] == false),
    ]
}

#[test]
fn every_action_on_every_target_changes_exactly_its_targets_once() {
    for (action, has_effect) in actions() {
        for i in 0..targets("").len() {
            let (app, segment) = seeded();
            let (target, holds) = targets(&segment).swap_remove(i);
            let before = everyone(&app);
            let mut body = action.clone();
            body["target"] = target.clone();
            let what = format!("{action} on {target}");
            let dry = {
                let mut b = body.clone();
                b["dry_run"] = json!(true);
                app.post("/api/bulk", &b)
            };
            assert_eq!(
                (dry.status, dry.body.clone()),
                (200, json!({"count": holds.len()})),
                "{what}"
            );
            assert_eq!(everyone(&app), before, "{what}: a dry run changes nothing");

            let (job, _) = run_to_end(&app, &body);
            assert_eq!(job["total"], holds.len(), "{what}");
            assert_eq!(job["processed"], holds.len(), "{what}");
            let after = everyone(&app);
            let mut changed = 0;
            for id in IDS {
                let (b, a) = (before[id].as_ref().unwrap(), after[id].as_ref().unwrap());
                if !holds.contains(&id) {
                    assert_eq!(a, b, "{what}: {id} is not a target");
                    continue;
                }
                assert!(has_effect(id, &a.body), "{what}: {id}: {}", a.body);
                if a.etag != b.etag {
                    changed += 1;
                    let v = |s: &str| {
                        s.trim_matches('"')
                            .trim_start_matches('v')
                            .parse::<i64>()
                            .unwrap()
                    };
                    assert_eq!(v(&a.etag), v(&b.etag) + 1, "{what}: {id} changed once");
                    assert_eq!(a.history, b.history + 1, "{what}: {id} one history item");
                } else {
                    assert_eq!(a.history, b.history, "{what}: {id} already as asked");
                }
            }
            assert_eq!(job["changed"], changed, "{what}");
        }
    }
}

#[test]
fn delete_on_every_target_needs_the_current_count() {
    for i in 0..targets("").len() {
        let (app, segment) = seeded();
        let (target, holds) = targets(&segment).swap_remove(i);
        let before = everyone(&app);
        for wrong in [json!(null), json!(holds.len() + 1)] {
            let r = app.post(
                "/api/bulk",
                &json!({"action": "delete", "target": target, "confirm_count": wrong}),
            );
            r.assert_problem(422, Some("confirm_count"));
            let detail = r.body["detail"].as_str().unwrap();
            assert!(
                detail.contains(&format!("holds {} contacts", holds.len())),
                "{detail}"
            );
        }
        assert_eq!(everyone(&app), before, "{target}: nothing deleted");
        let (job, _) = run_to_end(
            &app,
            &json!({"action": "delete", "target": target, "confirm_count": holds.len()}),
        );
        assert_eq!(job["changed"], holds.len(), "{target}");
        for id in IDS {
            let gone = holds.contains(&id);
            assert_eq!(look(&app, id).is_none(), gone, "{target}: {id}");
            if gone {
                let items = app.get(&format!("/api/contacts/{id}/history")).body["items"].clone();
                assert_eq!(items[0]["action"], "delete", "{target}: {id}");
                assert_eq!(items[0]["actor"], "admin");
            }
        }
        let all = app.post(
            "/api/query",
            &json!({"filter": {"all": []}, "segment": "all"}),
        );
        let left = IDS
            .iter()
            .filter(|id| !holds.contains(id) && **id != "F")
            .count();
        assert_eq!(all.body["total"], left, "{target}");
    }
}

/// `n` more contacts in Nice, for jobs of many slices.
fn add_many(app: &App, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            let id = format!("N{i:03}");
            app.create(&json!({"contact_id": id, "city": "Nice", "first_name": "Nico"}));
            id
        })
        .collect()
}

fn nice() -> Json {
    json!({"filter": {"all": [{"field": "city", "op": "eq", "value": "Nice"}]}})
}

#[test]
fn a_job_goes_to_done_over_several_continues_and_repeats_do_nothing_twice() {
    let (app, _) = seeded();
    let ids = add_many(&app, 15);
    let r = app.post(
        "/api/bulk",
        &json!({"action": "set_field", "params": {"field": "company", "value": "Acme"}, "target": nice()}),
    );
    let job = r.body["job"].clone();
    assert_eq!(
        (
            job["state"].clone(),
            job["total"].clone(),
            job["processed"].clone()
        ),
        (json!("running"), json!(15), json!(2))
    );
    let id = job["id"].as_str().unwrap().to_owned();
    let path = format!("/api/bulk/jobs/{id}");
    assert_eq!(app.get(&path).body["job"]["processed"], 2);
    // A contact created after the start is not a target.
    app.create(&json!({"contact_id": "LATE", "city": "Nice"}));
    // The same `continue` sent twice in a row: each does the next slice, never one again.
    let first = app.post(&format!("{path}/continue"), &json!({}));
    let second = app.post(&format!("{path}/continue"), &json!({}));
    assert_eq!(first.body["job"]["processed"], 4);
    assert_eq!(second.body["job"]["processed"], 6);
    // Four sent at once.
    let base = app.base_url();
    let racers: Vec<_> = (0..4)
        .map(|_| {
            let url = format!("{base}{path}/continue");
            std::thread::spawn(move || {
                let r = ureq::post(&url)
                    .set("authorization", &format!("Bearer {ADMIN}"))
                    .call()
                    .expect("continue");
                r.into_json::<Json>().expect("json")["job"]["processed"]
                    .as_i64()
                    .unwrap()
            })
        })
        .collect();
    let mut seen: Vec<i64> = racers.into_iter().map(|h| h.join().unwrap()).collect();
    seen.sort();
    assert_eq!(seen, vec![8, 10, 12, 14], "each racer did its own slice");
    let (done, _) = {
        let mut job = app.get(&path).body["job"].clone();
        let mut n = 0;
        while job["state"] == "running" {
            job = app.post(&format!("{path}/continue"), &json!({})).body["job"].clone();
            n += 1;
        }
        (job, n)
    };
    assert_eq!(
        (done["processed"].clone(), done["changed"].clone()),
        (json!(15), json!(15))
    );
    // Past the end: answered unchanged.
    let after = app.post(&format!("{path}/continue"), &json!({}));
    assert_eq!(after.status, 200);
    assert_eq!(after.body["job"]["processed"], 15);
    assert_eq!(after.body["job"]["updated_at"], done["updated_at"]);
    for id in &ids {
        let c = look(&app, id).unwrap();
        assert_eq!(c.body["company"], "Acme", "{id}");
        assert_eq!(c.etag, "\"v2\"", "{id} changed exactly once");
        assert_eq!(c.history, 2, "{id}: create and one update");
    }
    assert_eq!(look(&app, "LATE").unwrap().body["company"], Json::Null);
}

#[test]
fn an_edit_made_during_a_job_is_kept() {
    let (app, _) = seeded();
    add_many(&app, 6);
    let r = app.post(
        "/api/bulk",
        &json!({"action": "add_tags", "params": {"tags": ["promo"]}, "target": nice()}),
    );
    let id = r.body["job"]["id"].as_str().unwrap().to_owned();
    // N005 is in a later slice: edited meanwhile.
    let edit = app.patch(
        "/api/contacts/N005",
        &json!({"company": "Mine", "tags": ["own"]}),
    );
    assert_eq!(edit.status, 200, "{}", edit.text);
    loop {
        let r = app.post(&format!("/api/bulk/jobs/{id}/continue"), &json!({}));
        if r.body["job"]["state"] == "done" {
            break;
        }
    }
    let c = look(&app, "N005").unwrap().body;
    assert_eq!(c["company"], "Mine");
    assert_eq!(c["tags"], json!(["own", "promo"]));
}

#[test]
fn bad_input_is_a_problem_naming_the_field_and_changes_nothing() {
    let (app, _) = seeded();
    let before = everyone(&app);
    let many: Vec<String> = (0..10_001).map(|i| format!("C{i}")).collect();
    let cases: Vec<(Json, u16, &str)> = vec![
        (json!({"action": "explode"}), 422, "action"),
        (json!({"params": {}}), 422, "action"),
        (json!({"action": 3}), 400, "action"),
        (
            json!({"action": "set_field", "params": {"field": "nope", "value": 1}}),
            422,
            "nope",
        ),
        (
            json!({"action": "set_field", "params": {"field": "created_at", "value": "2020-01-01"}}),
            422,
            "created_at",
        ),
        (
            json!({"action": "set_field", "params": {"field": "birthday", "value": "03/02/1990"}}),
            422,
            "birthday",
        ),
        (
            json!({"action": "set_field", "params": {"field": "city", "value": 5}}),
            400,
            "city",
        ),
        (
            json!({"action": "set_field", "params": {"field": "custom.tier", "value": "Bronze"}}),
            422,
            "custom.tier",
        ),
        (
            json!({"action": "set_field", "params": {"field": "custom.nope", "value": "x"}}),
            422,
            "custom.nope",
        ),
        (
            json!({"action": "set_field", "params": {"field": "email", "value": "a@b.co"}}),
            422,
            "email",
        ),
        (
            json!({"action": "set_lead_stage", "params": {"stage": "boss"}}),
            422,
            "params.stage",
        ),
        (
            json!({"action": "assign_owner", "params": {"owner": "nobody"}}),
            422,
            "params.owner",
        ),
        (
            json!({"action": "add_tags", "params": {"tags": []}}),
            422,
            "params.tags",
        ),
        (
            json!({"action": "add_tags", "params": {"tags": ["x"], "more": 1}}),
            422,
            "params.more",
        ),
        (
            json!({"action": "block", "target": {"segment": "nope"}}),
            422,
            "target.segment",
        ),
        (
            json!({"action": "block", "target": {"segment": "999"}}),
            422,
            "target.segment",
        ),
        (
            json!({"action": "block", "target": {"filter": {"all": [{"field": "city", "op": "gt", "value": 1}]}}}),
            422,
            "target.filter.all[0].op",
        ),
        (
            json!({"action": "block", "target": {"filter": {"all": [{"field": "zzz", "op": "eq", "value": 1}]}}}),
            422,
            "target.filter.all[0].field",
        ),
        (
            json!({"action": "block", "target": {"ids": []}}),
            422,
            "target.ids",
        ),
        (
            json!({"action": "block", "target": {"ids": many}}),
            422,
            "target.ids",
        ),
        (
            json!({"action": "block", "target": {"ids": ["A", "NOPE"]}}),
            422,
            "target.ids",
        ),
        (json!({"action": "block", "dry_run": "yes"}), 400, "dry_run"),
        (json!({"action": "block", "surprise": 1}), 422, "surprise"),
    ];
    for (body, status, field) in cases {
        for dry in [false, true] {
            let mut b = body.clone();
            if dry && b.get("dry_run").is_none() {
                b["dry_run"] = json!(true);
            }
            app.post("/api/bulk", &b)
                .assert_problem(status, Some(field));
        }
    }
    let r = app.post(
        "/api/bulk",
        &json!({"action": "block", "target": {"ids": ["A", "NOPE"]}}),
    );
    assert!(
        r.body["detail"].as_str().unwrap().contains("NOPE"),
        "{}",
        r.text
    );
    let agent = app.token("bob", "agent");
    let r = app.call(
        "POST",
        "/api/bulk",
        Some(&agent),
        Some(&json!({"action": "block", "dry_run": true})),
    );
    r.assert_problem(403, None);
    let r = app.call("POST", "/api/bulk", None, Some(&json!({"action": "block"})));
    r.assert_problem(401, None);
    app.get("/api/bulk/jobs/J0000000000000000")
        .assert_problem(404, None);
    app.post("/api/bulk/jobs/nope/continue", &json!({}))
        .assert_problem(404, None);
    assert_eq!(everyone(&app), before);
}

// ---- Phone keys read again ------------------------------------------------------------

#[test]
fn recheck_phones_repairs_a_key_stored_by_the_old_reading_of_country_codes() {
    let app = App::start();
    app.create(&json!({"contact_id": "A", "phone": "+49 151 23456789"}));
    app.create(&json!({"contact_id": "B", "phone": "(202) 555-0143"}));
    // As a version before 2026-12-05 stored it under default region US: the "1" after
    // +49 taken for the US national prefix (another number's key).
    let db = rusqlite::Connection::open(app.state_dir().join("sqlite_db.db")).unwrap();
    db.execute_batch(
        "UPDATE contacts SET phone_e164 = '+495123456789' WHERE contact_id = 'A';
         UPDATE contact_keys SET value = '+495123456789' WHERE value = '+4915123456789';",
    )
    .unwrap();
    drop(db);
    let before = look(&app, "B");

    let (job, _) = run_to_end(&app, &json!({"action": "recheck_phones"}));

    assert_eq!(job["action"], "recheck_phones");
    assert_eq!(job["changed"], 1, "{job}");
    assert_eq!(job["conflicts"], json!([]), "{job}");
    let dup = app.post("/api/contacts", &json!({"phone": "+4915123456789"}));
    dup.assert_problem(409, None);
    assert_eq!(
        dup.body["existing_contact_id"], "A",
        "A holds its number's key again"
    );
    let history = app.get("/api/contacts/A/history");
    assert_eq!(
        history.body["items"][0]["action"], "update",
        "{}",
        history.text
    );
    assert_eq!(history.body["items"][0]["fields"], json!(["phone"]));
    assert_eq!(look(&app, "B"), before, "a right key is left alone");
}

// ---- A host killed in the middle of a job --------------------------------------------

fn db_count(db: &rusqlite::Connection, sql: &str) -> i64 {
    db.query_row(sql, [], |r| r.get(0)).unwrap()
}

#[test]
fn a_host_killed_inside_slices_loses_nothing_and_does_nothing_twice() {
    let seeded = seed::state_dir(20_000);
    // Many short slices, so a kill lands inside the job.
    let mut app =
        App::start_in_child_on(seed::writable_copy(&seeded), &[("bulk_max_slice", "300")]);
    // Two contacts that are not targets: one blocked before the start, one created after.
    let r = app.post("/api/blocks", &json!({"ids": [seed::contact_id(7)]}));
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app.post(
        "/api/bulk",
        &json!({"action": "set_field", "params": {"field": "job_title", "value": "Survivor"}}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let id = r.body["job"]["id"].as_str().unwrap().to_owned();
    assert_eq!(r.body["job"]["total"], 19_999);
    app.create(&json!({"contact_id": "LATE", "job_title": "Late"}));

    // Kill it at three different points while `continue`s arrive back to back.
    let mut interrupted = 0;
    let base = app.base_url();
    for round in 0..3 {
        let (base, path) = (base.clone(), format!("/api/bulk/jobs/{id}/continue"));
        let driver = std::thread::spawn(move || {
            let agent = ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(60))
                .build();
            loop {
                let r = agent
                    .post(&format!("{base}{path}"))
                    .set("authorization", &format!("Bearer {ADMIN}"))
                    .call();
                match r {
                    Ok(resp) => {
                        let job: Json = resp.into_json().unwrap();
                        if job["job"]["state"] == "done" {
                            return false;
                        }
                    }
                    // The host died under this request.
                    Err(_) => return true,
                }
            }
        });
        std::thread::sleep(Duration::from_millis(60 + 45 * round));
        app.kill();
        interrupted += driver.join().unwrap() as usize;
        app.restart();
        let progress = app.get(&format!("/api/bulk/jobs/{id}"));
        assert!(
            progress.body["job"]["processed"].as_i64().unwrap() < 19_999,
            "round {round}: the job ended before the kill"
        );
    }
    assert!(interrupted > 0, "no kill landed during a request");
    let mut job = app.get(&format!("/api/bulk/jobs/{id}")).body["job"].clone();
    while job["state"] == "running" {
        job = app
            .post(&format!("/api/bulk/jobs/{id}/continue"), &json!({}))
            .body["job"]
            .clone();
    }
    assert_eq!(
        (job["processed"].clone(), job["changed"].clone()),
        (json!(19_999), json!(19_999))
    );
    app.kill();

    let db = rusqlite::Connection::open(app.state_dir().join("sqlite_db.db")).unwrap();
    let blocked = seed::contact_id(7);
    assert_eq!(
        db_count(
            &db,
            "SELECT count(*) FROM contacts WHERE job_title = 'Survivor' AND version = 2"
        ),
        19_999,
        "every target changed exactly once"
    );
    assert_eq!(
        db_count(&db, "SELECT count(*) FROM history WHERE action = 'update'"),
        19_999,
        "one history item per target"
    );
    assert_eq!(
        db_count(
            &db,
            "SELECT count(DISTINCT contact_id) FROM history WHERE action = 'update'"
        ),
        19_999
    );
    let untouched: (String, i64) = db
        .query_row(
            "SELECT coalesce(job_title, ''), version FROM contacts WHERE contact_id = ?",
            [&blocked],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_ne!(untouched.0, "Survivor");
    assert_eq!(
        untouched.1, 2,
        "blocked before the start (version 2), not a target"
    );
    let late: (String, i64) = db
        .query_row(
            "SELECT job_title, version FROM contacts WHERE contact_id = 'LATE'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(late, ("Late".to_owned(), 1));
    assert_eq!(db_count(&db, "SELECT count(*) FROM bulk_targets"), 0);
}
