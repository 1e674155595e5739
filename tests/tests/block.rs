//! End-to-end: the block component through the host (SPEC §2 blocked senders, §3 Block,
//! §8): segments All and Blocked, dropped events, unblock.

use contacts_e2e::webhooks::{self, send_event, send_meta};
use contacts_e2e::App;
use serde_json::{json, Value as Json};

fn app() -> App {
    App::start_with(&webhooks::SECRETS)
}

fn ids_of(page: &Json) -> Vec<String> {
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|c| c["contact_id"].as_str().expect("contact_id").to_owned())
        .collect()
}

fn get(app: &App, id: &str) -> Json {
    let r = app.get(&format!("/api/contacts/{id}"));
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

#[test]
fn blocked_contacts_leave_all_and_appear_in_blocked() {
    let app = app();
    let a = app.create(&json!({"first_name": "Ana", "email": "ana@example.com"}))["contact_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b = app.create(&json!({"first_name": "Bo", "email": "bo@example.com"}))["contact_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app.post("/api/blocks", &json!({"ids": [a]}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.body, json!({"blocked": [a], "already_blocked": []}));

    assert_eq!(ids_of(&app.get("/api/contacts").body), vec![b.clone()]);
    let blocked = app.get("/api/blocks");
    assert_eq!(blocked.status, 200, "{}", blocked.text);
    assert_eq!(ids_of(&blocked.body), vec![a.clone()]);
    assert!(blocked.body["next_cursor"].is_null());
    assert_eq!(
        ids_of(&app.get("/api/contacts?segment=blocked").body),
        vec![a.clone()]
    );

    let c = get(&app, &a);
    assert_eq!(c["blocked"], true);
    assert!(c["blocked_at"].is_string());
    let history = app.get(&format!("/api/contacts/{a}/history")).body;
    assert_eq!(history["items"][0]["action"], "block");
    assert_eq!(history["items"][0]["actor"], "admin");

    // Blocking again changes nothing.
    let r = app.post("/api/blocks", &json!({"ids": [a, b]}));
    assert_eq!(r.body, json!({"blocked": [b], "already_blocked": [a]}));
    assert_eq!(get(&app, &a)["updated_at"], c["updated_at"]);

    let r = app.delete(&format!("/api/blocks/{a}"));
    assert_eq!(r.status, 204, "{}", r.text);
    let c = get(&app, &a);
    assert_eq!(
        (c["blocked"].clone(), c["blocked_at"].clone()),
        (json!(false), Json::Null)
    );
    assert_eq!(ids_of(&app.get("/api/contacts").body), vec![a.clone()]);
    assert_eq!(
        app.get(&format!("/api/contacts/{a}/history")).body["items"][0]["action"],
        "unblock"
    );
}

#[test]
fn the_blocked_list_pages_like_any_list() {
    let app = app();
    let ids: Vec<String> = (0..5)
        .map(|i| {
            app.create(&json!({"contact_id": format!("P{i}")}))["contact_id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(app.post("/api/blocks", &json!({"ids": ids})).status, 200);
    let mut seen = Vec::new();
    let mut path = "/api/blocks?limit=2&sort=contact_id&fields=contact_id,blocked_at".to_owned();
    loop {
        let page = app.get(&path);
        assert_eq!(page.status, 200, "{}", page.text);
        assert!(page.body["items"][0]["blocked_at"].is_string());
        seen.extend(ids_of(&page.body));
        match page.body["next_cursor"].as_str() {
            Some(cursor) => {
                path = format!(
                "/api/blocks?limit=2&sort=contact_id&fields=contact_id,blocked_at&cursor={cursor}"
            )
            }
            None => break,
        }
    }
    assert_eq!(seen, vec!["P0", "P1", "P2", "P3", "P4"]);
    app.get("/api/blocks?limit=501")
        .assert_problem(422, Some("limit"));
}

#[test]
fn block_requests_are_checked_and_admin_only() {
    let app = app();
    let a = app.create(&json!({"contact_id": "A1"}));
    let r = app.post("/api/blocks", &json!({"ids": ["A1", "NOPE-1", "NOPE-2"]}));
    r.assert_problem(422, Some("ids"));
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("NOPE-1, NOPE-2"),
        "{}",
        r.text
    );
    assert_eq!(get(&app, "A1")["blocked"], false, "all or nothing");
    app.post("/api/blocks", &json!({"ids": []}))
        .assert_problem(422, Some("ids"));
    app.post("/api/blocks", &json!({"ids": "A1"}))
        .assert_problem(400, Some("ids"));
    app.post("/api/blocks", &json!({"ids": ["a/b"]}))
        .assert_problem(422, Some("ids[0]"));
    app.delete("/api/blocks/NOPE").assert_problem(404, None);

    let agent = app.token("agnes", "agent");
    app.call(
        "POST",
        "/api/blocks",
        Some(&agent),
        Some(&json!({"ids": ["A1"]})),
    )
    .assert_problem(403, None);
    app.call("DELETE", "/api/blocks/A1", Some(&agent), None)
        .assert_problem(403, None);
    assert_eq!(
        app.call("GET", "/api/blocks", Some(&agent), None).status,
        200,
        "agents may read"
    );
    app.call("GET", "/api/blocks", None, None)
        .assert_problem(401, None);
    app.call(
        "POST",
        "/api/blocks",
        Some("wrong"),
        Some(&json!({"ids": ["A1"]})),
    )
    .assert_problem(401, None);
    assert_eq!(get(&app, "A1"), {
        let mut same = a.clone();
        same["possible_duplicates"] = json!(0);
        same
    });
}

#[test]
fn a_blocked_senders_events_are_dropped_and_unblock_brings_them_back() {
    let app = app();
    let first = send_meta(
        &app,
        &webhooks::whatsapp_text("16505551234", "Sheena Nelson", "wamid.1"),
    );
    let id = first.body["results"][0]["contact_id"]
        .as_str()
        .expect("created")
        .to_owned();
    assert_eq!(app.post("/api/blocks", &json!({"ids": [id]})).status, 200);
    let before = get(&app, &id);

    // A new message in a new conversation, and a web-chat event carrying the same phone
    // from a new identity: both dropped, and nothing but the counter changes.
    let mut other_thread = webhooks::whatsapp_text("16505551234", "Sheena Nelson", "wamid.2");
    other_thread["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = json!("999");
    let r = send_meta(&app, &other_thread);
    assert_eq!(
        r.body["results"][0],
        json!({"contact_id": id, "created": false, "dropped": true, "duplicate": false})
    );
    let r = send_event(
        &app,
        &json!({"event_id": "w1", "channel": "web_chat", "external_id": "visitor-x", "phone": "+16505551234", "conversation_id": "c9"}),
    );
    assert_eq!(
        r.body,
        json!({"contact_id": id, "created": false, "dropped": true, "duplicate": false})
    );

    let after = get(&app, &id);
    let mut expected = before.clone();
    expected["dropped_message_count"] = json!(2);
    assert_eq!(after, expected, "only dropped_message_count changed");
    assert_eq!(
        app.get("/api/contacts?limit=500").body["items"]
            .as_array()
            .unwrap()
            .len(),
        0,
        "no contact created for the web-chat identity"
    );

    // Unblocked: the same person's messages count again.
    assert_eq!(app.delete(&format!("/api/blocks/{id}")).status, 204);
    let mut third = webhooks::whatsapp_text("16505551234", "Sheena Nelson", "wamid.3");
    third["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = json!("999");
    let r = send_meta(&app, &third);
    assert_eq!(r.body["results"][0]["dropped"], false);
    let c = get(&app, &id);
    assert_eq!(c["conversation_count"], 2);
    assert_eq!(c["dropped_message_count"], 2);
    assert_eq!(
        app.get("/api/contacts").body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
