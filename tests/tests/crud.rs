//! End-to-end: the crud component through the host (SPEC §1, §3, §5, §8, §9).

use std::collections::HashSet;
use std::sync::Arc;
use std::thread;

use contacts_e2e::{App, ADMIN};
use serde_json::{json, Value as Json};

#[test]
fn openapi_documents_every_route_spin_toml_serves() {
    let app = App::start();
    let doc = app.call("GET", "/api/openapi.json", None, None).body;
    let paths: Vec<&String> = doc["paths"].as_object().expect("paths").keys().collect();
    let manifest =
        std::fs::read_to_string(contacts_e2e::workspace_root().join("spin.toml")).unwrap();
    let routes: Vec<&str> = manifest
        .lines()
        .filter_map(|l| l.trim().strip_prefix("route = \""))
        .filter_map(|l| l.strip_suffix('"'))
        .collect();
    assert!(!routes.is_empty());
    for route in routes {
        let prefix = route.trim_end_matches("/...");
        if prefix.is_empty() || !prefix.starts_with("/api") && !prefix.starts_with("/hooks") {
            continue;
        }
        assert!(
            paths.iter().any(|p| p.starts_with(prefix)),
            "spin.toml routes {route} but the OpenAPI document has no path under it"
        );
    }
}

#[test]
fn openapi_contact_schema_names_exactly_the_keys_a_read_shows() {
    let app = App::start();
    let doc = app.call("GET", "/api/openapi.json", None, None).body;
    let schemas = &doc["components"]["schemas"];
    let documented: HashSet<&String> = schemas["Contact"]["properties"]
        .as_object()
        .expect("Contact properties")
        .keys()
        .collect();
    let created = app.post(
        "/api/contacts",
        &json!({"first_name": "Ana", "email": "ana@example.com"}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let read = app.get(&format!(
        "/api/contacts/{}",
        created.body["contact_id"].as_str().unwrap()
    ));
    let shown: HashSet<&String> = read.body.as_object().expect("contact").keys().collect();
    assert_eq!(documented, shown);
}

#[test]
fn create_normalizes_and_read_shows_everything() {
    let app = App::start();
    let created = app.post(
        "/api/contacts",
        &json!({"first_name": "Ana", "last_name": "Lima", "email": "  Ana.Lima@Example.COM ",
                "phone": "(415) 555-0132", "tags": ["vip"], "identities": [{"channel": "telegram", "external_id": "777"}]}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["contact_id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.header("location"),
        Some(format!("/api/contacts/{id}").as_str())
    );
    assert!(created.header("etag").is_some());
    let read = app.get(&format!("/api/contacts/{id}"));
    assert_eq!(read.status, 200);
    let c = &read.body;
    assert_eq!(
        c["email"], "Ana.Lima@Example.COM",
        "display keeps the original"
    );
    assert_eq!(c["phone"], "(415) 555-0132");
    assert_eq!(c["display_name"], "Ana Lima");
    assert_eq!(c["lead_stage"], "contact");
    assert_eq!(c["tags"], json!(["vip"]));
    assert_eq!(c["owner"], Json::Null);
    assert_eq!(c["custom"], json!({}));
    assert_eq!(
        c["identities"],
        json!([{"channel": "telegram", "external_id": "777"}])
    );
    assert_eq!(c["possible_duplicates"], 0);
    assert_eq!(c["conversation_count"], 0);
    assert_eq!(c["blocked"], false);
    assert_eq!(c["created_by"], "admin");
    assert!(c["created_at"].as_str().unwrap().ends_with('Z'));
    // Matching uses the normalized forms.
    let dup = app.post("/api/contacts", &json!({"email": "ana.lima@example.com"}));
    dup.assert_problem(409, Some("email"));
    assert_eq!(dup.body["existing_contact_id"], id.as_str());
    let dup = app.post("/api/contacts", &json!({"phone": "+1 415-555-0132"}));
    dup.assert_problem(409, Some("phone"));
    assert_eq!(dup.body["existing_contact_id"], id.as_str());
}

#[test]
fn contact_id_is_generated_or_given_and_unique() {
    let app = App::start();
    let a = app.create(&json!({"contact_id": "ACME-1"}));
    assert_eq!(a["contact_id"], "ACME-1");
    assert_eq!(a["display_name"], "ACME-1");
    let again = app.post("/api/contacts", &json!({"contact_id": "ACME-1"}));
    again.assert_problem(409, Some("contact_id"));
    assert_eq!(again.body["existing_contact_id"], "ACME-1");
    app.post("/api/contacts", &json!({"contact_id": "has space"}))
        .assert_problem(422, Some("contact_id"));
    let generated = app.create(&json!({"email": "g@x.com"}));
    assert!(generated["contact_id"].as_str().unwrap().len() >= 8);
}

#[test]
fn bad_input_gets_a_clear_problem() {
    let app = App::start();
    app.post("/api/contacts", &json!({"first_name": "Ana"}))
        .assert_problem(422, Some("email"));
    app.post("/api/contacts", &json!({"email": "not-an-email"}))
        .assert_problem(422, Some("email"));
    app.post("/api/contacts", &json!({"phone": "12"}))
        .assert_problem(422, Some("phone"));
    app.post(
        "/api/contacts",
        &json!({"email": "a@x.com", "lead_stage": "vip"}),
    )
    .assert_problem(422, Some("lead_stage"));
    app.post(
        "/api/contacts",
        &json!({"email": "a@x.com", "owner": "ghost"}),
    )
    .assert_problem(422, Some("owner"));
    app.post(
        "/api/contacts",
        &json!({"email": "a@x.com", "blocked": true}),
    )
    .assert_problem(422, Some("blocked"));
    app.post("/api/contacts", &json!({"email": "a@x.com", "unknown": 1}))
        .assert_problem(422, Some("unknown"));
    app.post("/api/contacts", &json!({"email": 42}))
        .assert_problem(400, Some("email"));
    app.post("/api/contacts", &json!({"email": "a@x.com", "tags": "vip"}))
        .assert_problem(400, Some("tags"));
    app.post("/api/contacts", &json!(["not", "an", "object"]))
        .assert_problem(400, None);
    app.send_raw(
        "POST",
        "/api/contacts",
        Some(ADMIN),
        "application/json",
        b"{\"email\": ",
        &[],
    )
    .assert_problem(400, None);
    let huge = format!(
        "{{\"email\": \"a@x.com\", \"description\": \"{}\"}}",
        "x".repeat(1_100_000)
    );
    app.send_raw(
        "POST",
        "/api/contacts",
        Some(ADMIN),
        "application/json",
        huge.as_bytes(),
        &[],
    )
    .assert_problem(413, None);
    app.get("/api/contacts?limit=501")
        .assert_problem(422, Some("limit"));
    app.get("/api/contacts?limit=abc")
        .assert_problem(422, Some("limit"));
    app.get("/api/contacts?cursor=bogus")
        .assert_problem(422, Some("cursor"));
    app.get("/api/contacts?sort=tags").assert_problem(422, None);
    app.get("/api/contacts?segment=nope")
        .assert_problem(404, None);
    app.get("/api/contacts/NOPE").assert_problem(404, None);
    app.call("PUT", "/api/contacts", Some(ADMIN), Some(&json!({})))
        .assert_problem(405, None);
    // Nothing of the refused requests was stored.
    assert_eq!(app.get("/api/contacts").body["items"], json!([]));
}

#[test]
fn update_is_partial_with_etags() {
    let app = App::start();
    let c = app.create(&json!({"email": "a@x.com", "city": "Paris", "company": "Acme"}));
    let path = format!("/api/contacts/{}", c["contact_id"].as_str().unwrap());
    let etag = app.get(&path).header("etag").unwrap().to_owned();
    let r = app.call_with(
        "PATCH",
        &path,
        Some(ADMIN),
        Some(&json!({"city": "Lyon", "company": null})),
        &[("if-match", &etag)],
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["city"], "Lyon");
    assert_eq!(r.body["company"], Json::Null);
    assert_eq!(r.body["email"], "a@x.com");
    let new_etag = r.header("etag").unwrap().to_owned();
    assert_ne!(new_etag, etag);
    let stale = app.call_with(
        "PATCH",
        &path,
        Some(ADMIN),
        Some(&json!({"city": "Rome"})),
        &[("if-match", &etag)],
    );
    stale.assert_problem(412, None);
    assert_eq!(stale.header("etag"), Some(new_etag.as_str()));
    assert_eq!(
        app.get(&path).body["city"],
        "Lyon",
        "a stale write changes nothing"
    );
    app.patch(&path, &json!({"contact_id": "OTHER"}))
        .assert_problem(422, Some("contact_id"));
    app.patch(&path, &json!({"email": "bad"}))
        .assert_problem(422, Some("email"));
    let other = app.create(&json!({"email": "b@x.com"}));
    let r = app.patch(
        &format!("/api/contacts/{}", other["contact_id"].as_str().unwrap()),
        &json!({"email": "A@X.com"}),
    );
    r.assert_problem(409, Some("email"));
    assert_eq!(r.body["existing_contact_id"], c["contact_id"]);
    app.patch("/api/contacts/NOPE", &json!({"city": "x"}))
        .assert_problem(404, None);
}

#[test]
fn roles_limit_agents() {
    let app = App::start();
    let agent = app.token("maria", "agent");
    let c = app.call(
        "POST",
        "/api/contacts",
        Some(&agent),
        Some(&json!({"email": "a@x.com", "owner": "maria"})),
    );
    assert_eq!(c.status, 201, "{}", c.text);
    assert_eq!(c.body["created_by"], "maria");
    assert_eq!(c.body["owner"], "maria");
    let path = format!("/api/contacts/{}", c.body["contact_id"].as_str().unwrap());
    assert_eq!(
        app.call(
            "PATCH",
            &path,
            Some(&agent),
            Some(&json!({"city": "Recife"}))
        )
        .status,
        200
    );
    assert_eq!(
        app.call("GET", "/api/fields", Some(&agent), None).status,
        200
    );
    app.call("DELETE", &path, Some(&agent), None)
        .assert_problem(403, None);
    app.call(
        "POST",
        "/api/tokens",
        Some(&agent),
        Some(&json!({"login": "x", "role": "admin"})),
    )
    .assert_problem(403, None);
    app.call(
        "POST",
        "/api/fields",
        Some(&agent),
        Some(&json!({"key": "k", "label": "K", "type": "text"})),
    )
    .assert_problem(403, None);
    app.call(
        "PUT",
        "/api/settings/autocreate",
        Some(&agent),
        Some(&json!({"channels": {}})),
    )
    .assert_problem(403, None);
    // A second admin can do admin things.
    let admin2 = app.token("lead", "admin");
    assert_eq!(app.call("DELETE", &path, Some(&admin2), None).status, 204);
    app.post("/api/tokens", &json!({"login": "x", "role": "root"}))
        .assert_problem(422, Some("role"));
    app.post("/api/tokens", &json!({"login": 5, "role": "agent"}))
        .assert_problem(400, Some("login"));
}

#[test]
fn delete_and_history() {
    let app = App::start();
    let c = app.create(&json!({"email": "a@x.com"}));
    let id = c["contact_id"].as_str().unwrap();
    let path = format!("/api/contacts/{id}");
    for city in ["A", "B", "C"] {
        assert_eq!(app.patch(&path, &json!({"city": city})).status, 200);
    }
    assert_eq!(app.delete(&path).status, 204);
    app.get(&path).assert_problem(404, None);
    app.delete(&path).assert_problem(404, None);
    let h = app.get(&format!("{path}/history?limit=2"));
    assert_eq!(h.status, 200, "{}", h.text);
    let items = h.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["action"], "delete");
    assert_eq!(items[1]["action"], "update");
    assert_eq!(items[1]["fields"], json!(["city"]));
    assert_eq!(items[0]["actor"], "admin");
    let cursor = h.body["next_cursor"].as_str().unwrap();
    let rest = app.get(&format!("{path}/history?limit=10&cursor={cursor}"));
    let actions: Vec<&str> = rest.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["update", "update", "create"]);
    assert_eq!(rest.body["next_cursor"], Json::Null);
    app.get("/api/contacts/NEVER/history")
        .assert_problem(404, None);
}

#[test]
fn custom_fields_are_defined_and_type_checked() {
    let app = App::start();
    let fields = app.get("/api/fields").body;
    let items = fields["items"].as_array().unwrap();
    assert!(items.len() >= 40);
    let email = items.iter().find(|f| f["key"] == "email").unwrap();
    assert_eq!(email["system"], true);
    assert_eq!(email["searchable"], true);
    for def in contacts_e2e::gen::custom_field_defs() {
        let r = app.post("/api/fields", &def);
        assert_eq!(r.status, 201, "{def}: {}", r.text);
    }
    app.post(
        "/api/fields",
        &json!({"key": "tier", "label": "Again", "type": "text"}),
    )
    .assert_problem(409, Some("key"));
    app.post(
        "/api/fields",
        &json!({"key": "Bad Key", "label": "x", "type": "text"}),
    )
    .assert_problem(422, Some("key"));
    app.post(
        "/api/fields",
        &json!({"key": "email", "label": "x", "type": "text"}),
    )
    .assert_problem(422, Some("key"));
    app.post(
        "/api/fields",
        &json!({"key": "k", "label": "x", "type": "rainbow"}),
    )
    .assert_problem(422, Some("type"));
    // System-only types are not offered to callers either (SPEC §9: the eleven custom types).
    let internal = app.post(
        "/api/fields",
        &json!({"key": "k", "label": "x", "type": "email_list"}),
    );
    internal.assert_problem(422, Some("type"));
    assert!(
        internal.text.contains("long_text") && !internal.text.contains("email_list"),
        "{}",
        internal.text
    );
    app.post("/api/fields", &json!({"key": "k", "label": "x", "type": 7}))
        .assert_problem(400, Some("type"));
    app.post("/api/fields", &json!({"key": "k", "label": "x"}))
        .assert_problem(422, Some("type"));
    app.post(
        "/api/fields",
        &json!({"key": "k", "label": "x", "type": "single_select"}),
    )
    .assert_problem(422, Some("options"));

    let ok = app.create(&json!({"email": "a@x.com", "custom": {"tier": "gold", "score": 7, "vip": true,
        "renewal": "2027-01-31", "interests": ["music", "tech"], "last_order": "2026-11-01T10:00:00+02:00"}}));
    assert_eq!(ok["custom"]["tier"], "Gold");
    assert_eq!(ok["custom"]["last_order"], "2026-11-01T08:00:00.000Z");
    for (custom, field) in [
        (json!({"score": "seven"}), "custom.score"),
        (json!({"vip": "yes"}), "custom.vip"),
        (json!({"renewal": "31/01/2027"}), "custom.renewal"),
        (json!({"tier": "Platinum"}), "custom.tier"),
        (json!({"interests": ["cooking"]}), "custom.interests"),
        (json!({"alt_email": "nope"}), "custom.alt_email"),
        (json!({"ghost": 1}), "custom.ghost"),
    ] {
        app.post(
            "/api/contacts",
            &json!({"email": "b@x.com", "custom": custom}),
        )
        .assert_problem(422, Some(field));
    }
    let r = app.call(
        "PATCH",
        "/api/fields/tier",
        Some(ADMIN),
        Some(&json!({"label": "Plan", "options": ["Gold", "Silver", "Bronze", "Platinum"]})),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body["label"], "Plan");
    app.call(
        "PATCH",
        "/api/fields/tier",
        Some(ADMIN),
        Some(&json!({"type": "text"})),
    )
    .assert_problem(400, None);
    app.call(
        "PATCH",
        "/api/fields/email",
        Some(ADMIN),
        Some(&json!({"label": "x"})),
    )
    .assert_problem(422, Some("key"));
    assert_eq!(app.delete("/api/fields/custom.tier").status, 204);
    app.delete("/api/fields/tier").assert_problem(404, None);
    let read = app.get(&format!(
        "/api/contacts/{}",
        ok["contact_id"].as_str().unwrap()
    ));
    assert!(
        read.body["custom"].get("tier").is_none(),
        "a deleted field's value is no longer shown"
    );
}

#[test]
fn table_views_are_per_user() {
    let app = App::start();
    let agent = app.token("maria", "agent");
    let default = app.get("/api/views/table").body;
    assert!(default["columns"]
        .as_array()
        .unwrap()
        .contains(&json!("display_name")));
    let r = app.put(
        "/api/views/table",
        &json!({"columns": ["city", "email", "tags"]}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        app.get("/api/views/table").body["columns"],
        json!(["city", "email", "tags"])
    );
    assert_eq!(
        app.call("GET", "/api/views/table", Some(&agent), None).body,
        default
    );
    app.put("/api/views/table", &json!({"columns": ["nope"]}))
        .assert_problem(422, Some("columns"));
    app.put("/api/views/table", &json!({"cols": []}))
        .assert_problem(400, None);

    app.create(&json!({"email": "a@x.com", "city": "Paris", "tags": ["vip"], "company": "Acme"}));
    let list = app.get("/api/contacts").body;
    let item = &list["items"][0];
    let keys: HashSet<&str> = item
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, HashSet::from(["contact_id", "city", "email", "tags"]));
    assert_eq!(item["tags"], json!(["vip"]));
    let over = app.get("/api/contacts?fields=company").body;
    let keys: HashSet<&str> = over["items"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, HashSet::from(["contact_id", "company"]));
}

#[test]
fn autocreate_settings_round_trip() {
    let app = App::start();
    let s = app.get("/api/settings/autocreate").body;
    assert_eq!(
        s["channels"]["web_chat"],
        json!({"enabled": true, "match": ["email", "phone"], "lead_stage": "lead"})
    );
    assert_eq!(s["channels"]["whatsapp"]["lead_stage"], "contact");
    let r = app.put("/api/settings/autocreate", &json!({"channels": {"telegram": {"enabled": false, "match": ["phone"], "lead_stage": "customer"}}}));
    assert_eq!(r.status, 200, "{}", r.text);
    let s = app.get("/api/settings/autocreate").body;
    assert_eq!(s["channels"]["telegram"]["enabled"], false);
    assert_eq!(s["channels"]["whatsapp"]["enabled"], true);
    app.put(
        "/api/settings/autocreate",
        &json!({"channels": {"fax": {"enabled": true, "match": [], "lead_stage": "lead"}}}),
    )
    .assert_problem(422, Some("channels.fax"));
}

#[test]
fn list_sorts_and_pages_blocked_out_of_all() {
    let app = App::start();
    for (i, last) in ["Costa", "alves", "Barros", "Dias"].iter().enumerate() {
        app.create(&json!({"email": format!("{i}@x.com"), "last_name": last}));
    }
    let page = app
        .get("/api/contacts?sort=last_name&fields=last_name&limit=3")
        .body;
    let names: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["last_name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["alves", "Barros", "Costa"],
        "text sorts case-insensitively"
    );
    let next = page["next_cursor"].as_str().unwrap();
    let rest = app
        .get(&format!(
            "/api/contacts?sort=last_name&fields=last_name&limit=3&cursor={next}"
        ))
        .body;
    assert_eq!(rest["items"][0]["last_name"], "Dias");
    assert_eq!(rest["next_cursor"], Json::Null);
    app.get(&format!("/api/contacts?sort=-last_name&cursor={next}"))
        .assert_problem(422, Some("cursor"));
    assert_eq!(
        app.get("/api/contacts?segment=blocked").body["items"],
        json!([])
    );
}

/// SPEC §3: cursor pagination stable under concurrent inserts, at 10,000 contacts.
#[test]
fn paging_10000_contacts_has_no_duplicate_and_no_gap_while_others_insert() {
    let app = Arc::new(App::start());
    let seeders: Vec<_> = (0..4)
        .map(|t| {
            let app = Arc::clone(&app);
            thread::spawn(move || {
                for i in 0..2_500 {
                    app.create(&json!({"email": format!("seed{t}-{i}@x.com")}));
                }
            })
        })
        .collect();
    for s in seeders {
        s.join().unwrap();
    }
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writers: Vec<_> = (0..2)
        .map(|t| {
            let (app, stop) = (Arc::clone(&app), Arc::clone(&stop));
            thread::spawn(move || {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < 2_000 {
                    app.create(&json!({"email": format!("late{t}-{n}@x.com")}));
                    n += 1;
                }
            })
        })
        .collect();
    for sort in ["", "&sort=email", "&sort=-created_at"] {
        let mut seen: HashSet<String> = HashSet::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut path = format!("/api/contacts?limit=500&fields=email{sort}");
            if let Some(c) = &cursor {
                path.push_str(&format!("&cursor={c}"));
            }
            let page = app.get(&path);
            assert_eq!(page.status, 200, "{}", page.text);
            for item in page.body["items"].as_array().unwrap() {
                let email = item["email"].as_str().unwrap().to_owned();
                assert!(
                    seen.insert(email.clone()),
                    "{email} seen twice (sort {sort})"
                );
            }
            match page.body["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        let seeded = seen.iter().filter(|e| e.starts_with("seed")).count();
        assert_eq!(
            seeded, 10_000,
            "every contact present before paging began is seen (sort {sort})"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
}

#[test]
fn racing_creates_with_one_email_make_one_contact() {
    let app = Arc::new(App::start());
    let handles: Vec<_> = (0..20)
        .map(|_| {
            let app = Arc::clone(&app);
            thread::spawn(move || {
                app.post("/api/contacts", &json!({"email": "race@x.com"}))
                    .status
            })
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        19,
        "{statuses:?}"
    );
}

#[test]
fn data_survives_a_restart() {
    let mut app = App::start();
    let c = app.create(&json!({"email": "keep@x.com"}));
    app.put("/api/views/table", &json!({"columns": ["email"]}));
    app.restart();
    assert_eq!(
        app.get(&format!(
            "/api/contacts/{}",
            c["contact_id"].as_str().unwrap()
        ))
        .status,
        200
    );
    assert_eq!(
        app.get("/api/views/table").body["columns"],
        json!(["email"])
    );
}
