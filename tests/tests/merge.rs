//! End-to-end: the merge component through the host (SPEC §3 Merge, §8, §9): possible
//! duplicates per contact and as groups, the merge's rules, its refusals (each changing
//! nothing), and merges racing merges and chat events.

use std::thread;

use contacts_e2e::webhooks::{self, send_event};
use contacts_e2e::{App, Resp};
use serde_json::{json, Value as Json};

fn app() -> App {
    App::start_with(&webhooks::SECRETS)
}

fn id(contact: &Json) -> String {
    contact["contact_id"]
        .as_str()
        .expect("contact_id")
        .to_owned()
}

fn get(app: &App, path: &str) -> Json {
    let r = app.get(path);
    assert_eq!(r.status, 200, "GET {path}: {}", r.text);
    r.body
}

fn merge(app: &App, primary: &str, secondaries: &[&str]) -> Resp {
    app.post(
        "/api/merge",
        &json!({"primary": primary, "secondaries": secondaries}),
    )
}

/// A chat event from `channel`/`external` in conversation `conversation`.
fn event(app: &App, key: &str, channel: &str, external: &str, conversation: &str) -> Json {
    let r = send_event(
        app,
        &json!({"event_id": key, "channel": channel, "external_id": external, "conversation_id": conversation}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

/// What a refused merge must leave as it was: every contact as read, the group list.
fn snapshot(app: &App, ids: &[&str]) -> Vec<(u16, String)> {
    let mut paths: Vec<String> = ids.iter().map(|i| format!("/api/contacts/{i}")).collect();
    paths.extend(ids.iter().map(|i| format!("/api/contacts/{i}/history")));
    paths.push("/api/duplicates".into());
    paths
        .iter()
        .map(|p| {
            let r = app.get(p);
            (r.status, r.text)
        })
        .collect()
}

fn candidates(app: &App, contact: &str) -> Vec<(String, Json)> {
    get(app, &format!("/api/duplicates/{contact}"))["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| (id(c), c["reasons"].clone()))
        .collect()
}

#[test]
fn duplicates_are_listed_per_contact_and_as_groups() {
    let app = app();
    let a = id(&app.create(&json!({
        "first_name": "Ana", "last_name": "Lima", "company": "Acme",
        "email": "ana@x.com", "phone": "+14155550132"
    })));
    let b = id(&app.create(&json!({"email": "b@x.com", "secondary_emails": ["ANA@x.com"]})));
    let c = id(&app.create(&json!({"email": "c@x.com", "mobile": "(415) 555-0132"})));
    // An SMS sender whose id is A's number: the event carries no phone to match on, so
    // auto-create makes a contact holding only the identity.
    let d = event(&app, "e1", "sms", "+14155550132", "sms-1")["contact_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let e = id(&app.create(
        &json!({"first_name": "ana", "last_name": "LIMA", "company": "ACME", "email": "e@x.com"}),
    ));
    let lone =
        id(&app.create(&json!({"email": "lone@x.com", "first_name": "Ana", "last_name": "Lima"})));

    let listed = candidates(&app, &a);
    assert_eq!(
        listed,
        vec![
            (b.clone(), json!(["email"])),
            (c.clone(), json!(["phone"])),
            (d.clone(), json!(["identity"])),
            (e.clone(), json!(["name_company"])),
        ]
    );
    let first = &get(&app, &format!("/api/duplicates/{a}"))["items"][0];
    assert_eq!(first["email"], "b@x.com", "the prompt's columns come along");
    assert!(first["display_name"].is_string());
    assert_eq!(
        candidates(&app, &c),
        vec![
            (a.clone(), json!(["phone"])),
            (d.clone(), json!(["identity"]))
        ]
    );
    for contact in [&a, &b, &c, &d, &e, &lone] {
        let read = get(&app, &format!("/api/contacts/{contact}"));
        assert_eq!(
            read["possible_duplicates"],
            json!(candidates(&app, contact).len()),
            "{contact}"
        );
    }
    assert!(candidates(&app, &lone).is_empty());

    // Groups: strongest first, each set once, with the dialog's columns; agents may read.
    let agent = app.token("maria", "agent");
    let r = app.call("GET", "/api/duplicates", Some(&agent), None);
    assert_eq!(r.status, 200, "{}", r.text);
    let groups: Vec<(Json, Json)> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["contact_ids"].clone(), g["reasons"].clone()))
        .collect();
    assert_eq!(
        groups,
        vec![
            (json!([a, b]), json!(["email"])),
            (json!([a, c, d]), json!(["phone", "identity"])),
            (json!([a, e]), json!(["name_company"])),
        ]
    );
    assert!(r.body["next_cursor"].is_null());
    assert_eq!(r.body["items"][1]["contacts"][2]["contact_id"], json!(d));
    assert_eq!(r.body["items"][1]["size"], 3);

    // One per page, through the cursors: the same groups in the same order.
    let mut paged = Vec::new();
    let mut path = "/api/duplicates?limit=1".to_owned();
    loop {
        let page = get(&app, &path);
        paged.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["contact_ids"].clone()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/duplicates?limit=1&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(
        paged,
        groups.iter().map(|g| g.0.clone()).collect::<Vec<_>>()
    );

    app.get("/api/duplicates/NOPE").assert_problem(404, None);
    app.get("/api/duplicates?limit=501")
        .assert_problem(422, Some("limit"));
    app.get("/api/duplicates?cursor=zzz")
        .assert_problem(422, Some("cursor"));
    app.call("GET", "/api/duplicates", None, None)
        .assert_problem(401, None);
}

#[test]
fn a_merge_applies_every_rule_and_every_index_agrees() {
    let app = app();
    let r = app.post(
        "/api/fields",
        &json!({"key": "tier", "label": "Tier", "type": "single_select", "options": ["Gold", "Silver"]}),
    );
    assert_eq!(r.status, 201, "{}", r.text);
    // An auto-created contact older than the primary; another after it; then S1, then S2,
    // the most recently updated.
    let t_id = id(&event(&app, "t1", "telegram", "777", "tg-1"));
    event(&app, "t2", "telegram", "777", "tg-2");
    let p = id(&app.create(&json!({
        "first_name": "Ana", "phone": "+14155550100", "city": "Lisboa", "tags": ["vip"]
    })));
    let visitor = id(&event(&app, "v1", "web_chat", "visitor-9", "wc-1"));
    event(&app, "v2", "web_chat", "visitor-9", "wc-2");
    let s1 = id(&app.create(&json!({
        "email": "ana.lima@old.com", "last_name": "Old", "job_title": "CTO",
        "secondary_phones": ["+44 20 7946 0958"], "tags": ["beta"], "custom": {"tier": "Silver"}
    })));
    let s2 = id(&app.create(&json!({
        "first_name": "Anna", "last_name": "Lima", "email": "anna@new.com", "phone": "+14155550199",
        "city": "Porto", "custom": {"tier": "Gold"}
    })));
    let oldest = get(&app, &format!("/api/contacts/{t_id}"))["created_at"].clone();
    let newest_activity =
        get(&app, &format!("/api/contacts/{visitor}"))["last_activity_at"].clone();

    let r = merge(&app, &p, &[&s1, &s2, &t_id, &visitor]);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["merged"], json!([s1, s2, t_id, visitor]));
    let c = &r.body["contact"];
    assert_eq!(c["contact_id"], json!(p));
    assert_eq!(c["first_name"], "Ana", "the primary's value wins");
    assert_eq!(
        c["last_name"], "Lima",
        "from the most recently updated secondary"
    );
    assert_eq!(c["city"], "Lisboa");
    assert_eq!(
        c["job_title"], "CTO",
        "from an older secondary when newer ones have none"
    );
    assert_eq!(c["display_name"], "Ana Lima");
    assert_eq!(c["email"], "anna@new.com");
    assert_eq!(c["secondary_emails"], json!(["ana.lima@old.com"]));
    assert_eq!(c["phone"], "+14155550100");
    assert_eq!(
        c["secondary_phones"],
        json!(["+14155550199", "+44 20 7946 0958"])
    );
    assert_eq!(c["custom"], json!({"tier": "Gold"}));
    assert_eq!(c["tags"], json!(["beta", "vip"]));
    assert_eq!(c["identities"].as_array().unwrap().len(), 2);
    assert_eq!(c["conversation_count"], 4, "summed");
    assert_eq!(c["created_at"], oldest, "the oldest");
    assert_eq!(c["last_activity_at"], newest_activity, "the newest");
    assert_eq!(c["possible_duplicates"], 0);
    // What the merge answered is what a read shows.
    let mut read = get(&app, &format!("/api/contacts/{p}"));
    assert_eq!(&read, c);
    for gone in [&s1, &s2, &t_id, &visitor] {
        app.get(&format!("/api/contacts/{gone}"))
            .assert_problem(404, None);
    }

    // One timeline on the primary: the merge item names the merged contacts.
    let history = get(&app, &format!("/api/contacts/{p}/history?limit=100"));
    let items = history["items"].as_array().unwrap();
    assert_eq!(items[0]["action"], "merge");
    assert_eq!(items[0]["merged"], json!([s1, s2, t_id, visitor]));
    assert!(items[0]["fields"]
        .as_array()
        .unwrap()
        .contains(&json!("last_name")));
    assert_eq!(items.iter().filter(|i| i["action"] == "create").count(), 5);

    // Search finds the primary by what it took over (the secondaries' emails and phones among
    // its secondary ones); filters and segments count it once.
    for q in [
        "anna@new.com",
        "Lima",
        "Ana",
        "ana.lima@old.com",
        "4155550199",
        "442079460958",
    ] {
        let found = get(&app, &format!("/api/search?q={}", q.replace('@', "%40")));
        let ids: Vec<String> = found["items"].as_array().unwrap().iter().map(id).collect();
        assert_eq!(ids, vec![p.clone()], "search {q}");
    }
    let r = app.post(
        "/api/query",
        &json!({"filter": {"all": [{"field": "tags", "op": "has_any", "value": ["beta", "vip"]}]}}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["total"], 1);
    let segments = get(&app, "/api/segments");
    assert_eq!(segments["items"][0]["id"], "all");
    assert_eq!(segments["items"][0]["count"], 1);
    assert_eq!(get(&app, "/api/duplicates")["items"], json!([]));

    // A later chat event for a secondary's identity reaches the primary.
    let later = event(&app, "t3", "telegram", "777", "tg-3");
    assert_eq!(later["contact_id"], json!(p));
    assert_eq!(later["created"], false);
    read = get(&app, &format!("/api/contacts/{p}"));
    assert_eq!(read["conversation_count"], 5);
}

#[test]
fn a_dry_run_shows_the_merge_and_changes_nothing() {
    let app = app();
    let p = id(&app.create(&json!({"email": "p@x.com", "tags": ["a"]})));
    let s = id(&app.create(&json!({"email": "s@x.com", "first_name": "Sol", "tags": ["b"]})));
    let before = snapshot(&app, &[&p, &s]);
    let r = app.post(
        "/api/merge",
        &json!({"primary": p, "secondaries": [s], "dry_run": true}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(r.body.get("merged").is_none(), "{}", r.text);
    let shown = r.body["contact"].clone();
    assert_eq!(snapshot(&app, &[&p, &s]), before);

    let r = merge(&app, &p, &[&s]);
    assert_eq!(r.status, 200, "{}", r.text);
    let mut done = r.body["contact"].clone();
    done["updated_at"] = shown["updated_at"].clone();
    assert_eq!(done, shown, "a dry run shows exactly what the merge leaves");
}

#[test]
fn refusals_name_the_field_and_change_nothing() {
    let app = app();
    let ids: Vec<String> = (0..26)
        .map(|i| id(&app.create(&json!({"email": format!("c{i}@x.com")}))))
        .collect();
    let all: Vec<&str> = ids.iter().map(String::as_str).collect();
    let before = snapshot(&app, &all);
    let post = |body: Json| app.post("/api/merge", &body);

    // 26 contacts: the primary and 25 secondaries.
    post(json!({"primary": ids[0], "secondaries": ids[1..]}))
        .assert_problem(422, Some("secondaries"));
    // A single contact.
    post(json!({"primary": ids[0], "secondaries": []})).assert_problem(422, Some("secondaries"));
    post(json!({"primary": ids[0]})).assert_problem(400, Some("secondaries"));
    // The primary among the secondaries.
    post(json!({"primary": ids[0], "secondaries": [ids[1], ids[0]]}))
        .assert_problem(422, Some("secondaries[1]"));
    // A repeated id.
    post(json!({"primary": ids[0], "secondaries": [ids[1], ids[2], ids[1]]}))
        .assert_problem(422, Some("secondaries[2]"));
    // Unknown ids: a 404 naming each.
    let r = post(json!({"primary": ids[0], "secondaries": [ids[1], "GONE-1", "GONE-2"]}));
    r.assert_problem(404, None);
    let detail = r.body["detail"].as_str().unwrap();
    assert!(
        detail.contains("GONE-1") && detail.contains("GONE-2"),
        "{detail}"
    );
    assert!(!detail.contains(&ids[1]), "{detail}");
    let r = post(json!({"primary": "GONE-0", "secondaries": [ids[1]]}));
    r.assert_problem(404, None);
    assert!(r.body["detail"].as_str().unwrap().contains("GONE-0"));
    // Bad types and values.
    post(json!({"primary": 5, "secondaries": [ids[1]]})).assert_problem(400, Some("primary"));
    post(json!({"primary": "a/b", "secondaries": [ids[1]]})).assert_problem(422, Some("primary"));
    post(json!({"primary": ids[0], "secondaries": [ids[1]], "dry_run": "no"}))
        .assert_problem(400, Some("dry_run"));
    app.send_raw(
        "POST",
        "/api/merge",
        Some(contacts_e2e::ADMIN),
        "application/json",
        b"{",
        &[],
    )
    .assert_problem(400, None);
    // An agent may not merge (SPEC §5), even as a dry run.
    let agent = app.token("maria", "agent");
    for dry_run in [false, true] {
        app.call(
            "POST",
            "/api/merge",
            Some(&agent),
            Some(&json!({"primary": ids[0], "secondaries": [ids[1]], "dry_run": dry_run})),
        )
        .assert_problem(403, None);
    }
    assert_eq!(snapshot(&app, &all), before);

    // 25 in all is the bound, not a refusal.
    let r = merge(&app, all[0], &all[1..25]);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["merged"].as_array().unwrap().len(), 24);
    assert_eq!(
        r.body["contact"]["secondary_emails"]
            .as_array()
            .unwrap()
            .len(),
        24
    );
}

#[test]
fn racing_merges_and_chat_events_leave_contacts_whole_and_lose_no_event() {
    let app = app();
    for round in 0..3 {
        let p1 = id(&app.create(&json!({"email": format!("p1-{round}@x.com")})));
        let p2 = id(&app.create(&json!({"email": format!("p2-{round}@x.com")})));
        let external = format!("9{round}");
        let s = id(&event(
            &app,
            &format!("r{round}-0"),
            "telegram",
            &external,
            &format!("r{round}-c0"),
        ));
        let p1_before = get(&app, &format!("/api/contacts/{p1}"));
        let p2_before = get(&app, &format!("/api/contacts/{p2}"));
        let url = app.base_url();
        let events = 8;
        let (m1, m2, answers) = thread::scope(|scope| {
            let merge_into = |primary: String| {
                let (s, url) = (s.clone(), url.clone());
                scope.spawn(move || {
                    ureq::post(&format!("{url}/api/merge"))
                        .set("authorization", &format!("Bearer {}", contacts_e2e::ADMIN))
                        .send_json(json!({"primary": primary, "secondaries": [s]}))
                        .map(|r| r.status())
                        .unwrap_or_else(|e| match e {
                            ureq::Error::Status(code, _) => code,
                            other => panic!("{other}"),
                        })
                })
            };
            let m1 = merge_into(p1.clone());
            let m2 = merge_into(p2.clone());
            let senders: Vec<_> = (1..=events)
                .map(|i| {
                    let (app, external) = (&app, external.clone());
                    scope.spawn(move || {
                        event(
                            app,
                            &format!("r{round}-{i}"),
                            "telegram",
                            &external,
                            &format!("r{round}-c{i}"),
                        )
                    })
                })
                .collect();
            let answers: Vec<Json> = senders.into_iter().map(|h| h.join().unwrap()).collect();
            (m1.join().unwrap(), m2.join().unwrap(), answers)
        });
        // Exactly one merge won; the other found the secondary gone and changed nothing.
        let mut statuses = [m1, m2];
        statuses.sort();
        assert_eq!(statuses, [200, 404], "round {round}");
        let winner = if m1 == 200 { &p1 } else { &p2 };
        app.get(&format!("/api/contacts/{s}"))
            .assert_problem(404, None);
        let (loser, loser_before) = if m1 == 200 {
            (&p2, &p2_before)
        } else {
            (&p1, &p1_before)
        };
        assert_eq!(
            &get(&app, &format!("/api/contacts/{loser}")),
            loser_before,
            "untouched"
        );
        // Every event landed on the secondary before the merge or the winner after it.
        for a in &answers {
            let to = a["contact_id"].as_str().unwrap();
            assert!(to == s || to == winner.as_str(), "round {round}: {a}");
            assert_eq!(a["created"], false);
        }
        let w = get(&app, &format!("/api/contacts/{winner}"));
        assert_eq!(
            w["conversation_count"],
            events + 1,
            "round {round}: no event lost"
        );
        assert_eq!(w["identities"][0]["external_id"], json!(external));
    }
}
