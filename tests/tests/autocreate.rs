//! End-to-end: the autocreate component through the host (SPEC §2, §8, §9): platform
//! payloads shaped like the platforms' documented examples, with valid and invalid
//! signatures, exactly-once under redelivery and racing deliveries, and the settings rules.

use std::sync::Arc;
use std::thread;

use contacts_e2e::webhooks::{self, secret, send_event, send_meta, send_telegram, sign};
use contacts_e2e::{App, Resp};
use serde_json::{json, Value as Json};

fn app() -> App {
    App::start_with(&webhooks::SECRETS)
}

/// Every contact of segment `all` (the tests stay far below one page).
fn contacts(app: &App) -> Vec<Json> {
    let r = app.get("/api/contacts?limit=500&fields=display_name");
    assert_eq!(r.status, 200, "{}", r.text);
    r.body["items"].as_array().expect("items").clone()
}

fn contact(app: &App, id: &Json) -> Json {
    let r = app.get(&format!(
        "/api/contacts/{}",
        id.as_str().expect("a contact id")
    ));
    assert_eq!(r.status, 200, "{}", r.text);
    r.body
}

/// The one result of a batch answer.
fn only_result(r: &Resp) -> &Json {
    assert_eq!(r.status, 200, "{}", r.text);
    let results = r.body["results"].as_array().expect("results");
    assert_eq!(results.len(), 1, "{}", r.text);
    &results[0]
}

fn assert_refused(r: &Resp) {
    r.assert_problem(401, None);
}

#[test]
fn whatsapp_text_message_creates_a_named_contact_and_a_bad_signature_stores_nothing() {
    let app = app();
    let payload = webhooks::whatsapp_text(
        "16505551234",
        "Sheena Nelson",
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
    );
    let body = payload.to_string();

    for sig in [
        None,
        Some(sign("wrong-secret", body.as_bytes())),
        Some(sign(secret("events_hmac_secret"), body.as_bytes())),
        Some("sha256=".to_owned()),
        Some(sign(secret("meta_app_secret"), b"another body")),
    ] {
        let headers: Vec<(&str, &str)> = sig
            .iter()
            .map(|s| ("x-hub-signature-256", s.as_str()))
            .collect();
        assert_refused(&app.send_raw(
            "POST",
            "/hooks/meta",
            None,
            "application/json",
            body.as_bytes(),
            &headers,
        ));
    }
    assert!(
        contacts(&app).is_empty(),
        "a refused delivery stores nothing"
    );

    let r = send_meta(&app, &payload);
    let result = only_result(&r);
    assert_eq!(result["created"], true);
    assert_eq!(result["duplicate"], false);
    assert_eq!(result["dropped"], false);
    let c = contact(&app, &result["contact_id"]);
    assert_eq!(c["first_name"], "Sheena");
    assert_eq!(c["last_name"], "Nelson");
    assert_eq!(c["display_name"], "Sheena Nelson");
    assert_eq!(c["phone"], "+16505551234");
    assert_eq!(c["source_channel"], "whatsapp");
    assert_eq!(c["lead_stage"], "contact");
    assert_eq!(c["conversation_count"], 1);
    assert_eq!(c["created_by"], "system:whatsapp");
    assert_eq!(c["last_activity_at"], "2025-06-08T20:59:43.000Z");
    assert_eq!(
        c["identities"],
        json!([{"channel": "whatsapp", "external_id": "16505551234"}])
    );
    let history = app.get(&format!(
        "/api/contacts/{}/history",
        c["contact_id"].as_str().unwrap()
    ));
    assert_eq!(history.body["items"][0]["action"], "create");
    assert_eq!(history.body["items"][0]["actor"], "system:whatsapp");

    // The next message of the same person: same contact, no new conversation.
    let r = send_meta(
        &app,
        &webhooks::whatsapp_text("16505551234", "Sheena Nelson", "wamid.second"),
    );
    let next = only_result(&r);
    assert_eq!(
        (next["created"].clone(), next["contact_id"].clone()),
        (json!(false), result["contact_id"].clone())
    );
    assert_eq!(contacts(&app).len(), 1);
}

#[test]
fn messenger_and_instagram_messages_with_valid_and_invalid_signatures() {
    let app = app();
    for (payload, channel, sender) in [
        (
            webhooks::messenger_message(
                "PSID_1254459154682919",
                "mid.1457764197618:41d102a3e1ae206a38",
            ),
            "messenger",
            "PSID_1254459154682919",
        ),
        (
            webhooks::instagram_message("IGSID_5551", "aWdfZAG1faXRlbTo"),
            "instagram",
            "IGSID_5551",
        ),
    ] {
        let body = payload.to_string();
        let bad = sign("not-the-app-secret", body.as_bytes());
        assert_refused(&app.send_raw(
            "POST",
            "/hooks/meta",
            None,
            "application/json",
            body.as_bytes(),
            &[("x-hub-signature-256", &bad)],
        ));
        let r = send_meta(&app, &payload);
        let result = only_result(&r);
        assert_eq!(result["created"], true, "{channel}");
        let c = contact(&app, &result["contact_id"]);
        // Meta sends no name with messaging events: the contact is named by the social id.
        assert_eq!(c["display_name"], sender);
        assert_eq!(c["source_channel"], channel);
        assert_eq!(c["identities"][0]["channel"], channel);
        assert_eq!(c["identities"][0]["external_id"], sender);
        assert_eq!(c["conversation_count"], 1);
    }
    assert_eq!(contacts(&app).len(), 2);
}

#[test]
fn telegram_message_from_with_valid_and_invalid_secret_token() {
    let app = app();
    let update = webhooks::telegram_message(10000, 1111111, "Ana", "Lima");
    let body = update.to_string();
    for token in [None, Some("wrong"), Some(secret("events_hmac_secret"))] {
        let headers: Vec<(&str, &str)> = token
            .iter()
            .map(|t| ("x-telegram-bot-api-secret-token", *t))
            .collect();
        assert_refused(&app.send_raw(
            "POST",
            "/hooks/telegram",
            None,
            "application/json",
            body.as_bytes(),
            &headers,
        ));
    }
    assert!(contacts(&app).is_empty());
    let r = send_telegram(&app, &update);
    let result = only_result(&r);
    assert_eq!(result["created"], true);
    let c = contact(&app, &result["contact_id"]);
    assert_eq!(
        (c["first_name"].as_str(), c["last_name"].as_str()),
        (Some("Ana"), Some("Lima"))
    );
    assert_eq!(c["language"], "pt-br");
    assert_eq!(
        c["identities"],
        json!([{"channel": "telegram", "external_id": "1111111"}])
    );
    // An update with no person behind it is acknowledged with no result.
    let post = json!({"update_id": 10001, "channel_post": {"message_id": 1, "date": 1, "chat": {"id": -100, "type": "channel"}}});
    let r = send_telegram(&app, &post);
    assert_eq!((r.status, r.body.clone()), (200, json!({"results": []})));
}

#[test]
fn generic_events_with_valid_and_invalid_signatures() {
    let app = app();
    let event = json!({"event_id": "evt-1", "channel": "web_chat", "external_id": "visitor-8f3a",
        "conversation_id": "conv-1", "occurred_at": "2026-02-01T12:00:00Z",
        "visitor": {"ip": "203.0.113.7", "browser": "Firefox 128", "os": "Linux", "page_url": "https://shop.example/pricing"}});
    let body = event.to_string();
    for sig in [
        None,
        Some(sign("nope", body.as_bytes())),
        Some(sign(secret("meta_app_secret"), body.as_bytes())),
    ] {
        let headers: Vec<(&str, &str)> = sig
            .iter()
            .map(|s| ("x-contacts-signature", s.as_str()))
            .collect();
        assert_refused(&app.send_raw(
            "POST",
            "/hooks/events",
            None,
            "application/json",
            body.as_bytes(),
            &headers,
        ));
    }
    assert!(contacts(&app).is_empty());
    let r = send_event(&app, &event);
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.body.as_object().unwrap().len(),
        4,
        "exactly the four SPEC keys: {}",
        r.text
    );
    assert_eq!(r.body["created"], true);
    let c = contact(&app, &r.body["contact_id"]);
    // A nameless web-chat visitor gets a readable generated name and is a lead.
    let name = c["display_name"].as_str().unwrap();
    assert_eq!(name.split(' ').count(), 2, "{name}");
    assert!(
        name.chars().all(|ch| ch.is_ascii_alphabetic() || ch == ' '),
        "{name}"
    );
    assert_eq!(c["lead_stage"], "lead");
    assert_eq!(c["visitor_ip"], "203.0.113.7");
    assert_eq!(c["browser"], "Firefox 128");
    assert_eq!(c["os"], "Linux");
    assert_eq!(c["page_url"], "https://shop.example/pricing");
    assert_eq!(c["last_activity_at"], "2026-02-01T12:00:00.000Z");
}

#[test]
fn a_redelivered_event_is_a_duplicate_and_changes_nothing() {
    let app = app();
    let payload = webhooks::whatsapp_text("16505551234", "Sheena Nelson", "wamid.redelivered");
    let first = send_meta(&app, &payload);
    let id = only_result(&first)["contact_id"].clone();
    let before = contact(&app, &id);
    for _ in 0..3 {
        let again = send_meta(&app, &payload);
        assert_eq!(
            only_result(&again),
            &json!({"contact_id": id, "created": false, "dropped": false, "duplicate": true})
        );
    }
    assert_eq!(contact(&app, &id), before);
    let event = json!({"event_id": "e-1", "channel": "sms", "external_id": "+16505550000", "name": "Bo Li"});
    let a = send_event(&app, &event).body;
    let b = send_event(&app, &event).body;
    assert_eq!(
        (
            a["created"].clone(),
            b["duplicate"].clone(),
            a["contact_id"].clone()
        ),
        (json!(true), json!(true), b["contact_id"].clone())
    );
}

#[test]
fn fifty_racing_deliveries_for_one_new_identity_make_one_contact() {
    let app = Arc::new(app());
    let answers: Vec<Resp> = (0..50)
        .map(|i| {
            let app = Arc::clone(&app);
            thread::spawn(move || {
                send_meta(
                    &app,
                    &webhooks::whatsapp_text(
                        "447700900123",
                        "Olivia Brown",
                        &format!("wamid.race.{i}"),
                    ),
                )
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().expect("sender thread"))
        .collect();
    for r in &answers {
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let results: Vec<&Json> = answers.iter().map(only_result).collect();
    assert_eq!(results.iter().filter(|r| r["created"] == true).count(), 1);
    assert!(results
        .iter()
        .all(|r| r["contact_id"] == results[0]["contact_id"]));
    let all = contacts(&app);
    assert_eq!(all.len(), 1, "{all:?}");
    let c = contact(&app, &results[0]["contact_id"]);
    assert_eq!(c["identities"].as_array().unwrap().len(), 1);
    assert_eq!(c["conversation_count"], 1);
}

#[test]
fn the_same_event_ten_times_at_once_is_one_association() {
    let app = Arc::new(app());
    let event = json!({"event_id": "evt-same", "channel": "web_chat", "external_id": "visitor-same",
                       "name": "Ana Lima", "email": "ana.lima@example.com", "conversation_id": "conv-same"});
    let answers: Vec<Resp> = (0..10)
        .map(|_| {
            let app = Arc::clone(&app);
            let event = event.clone();
            thread::spawn(move || send_event(&app, &event))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().expect("sender thread"))
        .collect();
    assert!(
        answers.iter().all(|r| r.status == 200),
        "{:?}",
        answers.iter().map(|r| &r.text).collect::<Vec<_>>()
    );
    assert_eq!(
        answers.iter().filter(|r| r.body["created"] == true).count(),
        1
    );
    assert_eq!(
        answers
            .iter()
            .filter(|r| r.body["duplicate"] == true)
            .count(),
        9
    );
    assert_eq!(contacts(&app).len(), 1);
    let c = contact(&app, &answers[0].body["contact_id"]);
    assert_eq!(c["identities"].as_array().unwrap().len(), 1);
    assert_eq!(c["conversation_count"], 1);
    let history = app.get(&format!(
        "/api/contacts/{}/history",
        c["contact_id"].as_str().unwrap()
    ));
    assert_eq!(history.body["items"].as_array().unwrap().len(), 1);
}

#[test]
fn a_verified_email_then_a_phone_resolve_to_existing_contacts() {
    let app = app();
    let ana = app.create(
        &json!({"first_name": "Ana", "last_name": "Lima", "email": "Ana.Lima@Example.com"}),
    );
    let bo = app.create(&json!({"first_name": "Bo", "phone": "+1 650 555 1234"}));
    let r = send_event(
        &app,
        &json!({"event_id": "e1", "channel": "web_chat", "external_id": "v1", "email": "ana.lima@example.com", "conversation_id": "c1"}),
    );
    assert_eq!(
        (r.body["contact_id"].clone(), r.body["created"].clone()),
        (ana["contact_id"].clone(), json!(false))
    );
    let c = contact(&app, &ana["contact_id"]);
    assert_eq!(
        c["identities"],
        json!([{"channel": "web_chat", "external_id": "v1"}])
    );
    assert_eq!(c["conversation_count"], 1);
    assert_eq!(
        c["first_name"], "Ana",
        "a match does not rename the contact"
    );
    // WhatsApp's wa_id is the phone number in international digits.
    let r = send_meta(
        &app,
        &webhooks::whatsapp_text("16505551234", "Robert Li", "wamid.bo"),
    );
    assert_eq!(only_result(&r)["contact_id"], bo["contact_id"]);
    assert_eq!(contacts(&app).len(), 2);
}

#[test]
fn settings_turn_channels_off_and_choose_match_keys_and_stages() {
    let app = app();
    let existing = app.create(&json!({"email": "ana@example.com"}));
    let settings = json!({"channels": {
        "telegram": {"enabled": false, "match": ["email", "phone"], "lead_stage": "contact"},
        "web_chat": {"enabled": true, "match": [], "lead_stage": "customer"}
    }});
    assert_eq!(app.put("/api/settings/autocreate", &settings).status, 200);

    // Disabled: acknowledged, nothing created.
    let r = send_telegram(&app, &webhooks::telegram_message(1, 42, "Ana", "Lima"));
    assert_eq!(
        only_result(&r),
        &json!({"contact_id": null, "created": false, "dropped": false, "duplicate": false})
    );
    assert_eq!(contacts(&app).len(), 1);

    // Matching off: a new contact even though the email is known; it keeps the email as a
    // secondary value and is reported as a possible duplicate.
    let r = send_event(
        &app,
        &json!({"event_id": "e", "channel": "web_chat", "external_id": "v", "name": "Ana L", "email": "ana@example.com"}),
    );
    assert_eq!(r.body["created"], true, "{}", r.text);
    assert_ne!(r.body["contact_id"], existing["contact_id"]);
    let c = contact(&app, &r.body["contact_id"]);
    assert_eq!(c["lead_stage"], "customer");
    assert_eq!(c["secondary_emails"], json!(["ana@example.com"]));
    assert_eq!(c["possible_duplicates"], 1);
}

#[test]
fn meta_verification_handshake() {
    let app = app();
    let token = secret("meta_verify_token");
    let ok = app.call(
        "GET",
        &format!(
            "/hooks/meta?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=1158201444"
        ),
        None,
        None,
    );
    assert_eq!((ok.status, ok.text.as_str()), (200, "1158201444"));
    assert!(ok.header("content-type").unwrap().starts_with("text/plain"));
    let wrong = app.call(
        "GET",
        "/hooks/meta?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=1",
        None,
        None,
    );
    wrong.assert_problem(403, None);
}

#[test]
fn unconfigured_hooks_refuse_everything() {
    let app = App::start();
    let event = json!({"event_id": "e", "channel": "sms", "external_id": "x"});
    let body = event.to_string();
    let sig = sign("", body.as_bytes());
    assert_refused(&app.send_raw(
        "POST",
        "/hooks/events",
        None,
        "application/json",
        body.as_bytes(),
        &[("x-contacts-signature", &sig)],
    ));
    assert_refused(&app.send_raw(
        "POST",
        "/hooks/telegram",
        None,
        "application/json",
        body.as_bytes(),
        &[("x-telegram-bot-api-secret-token", "")],
    ));
    app.call(
        "GET",
        "/hooks/meta?hub.mode=subscribe&hub.verify_token=&hub.challenge=1",
        None,
        None,
    )
    .assert_problem(403, None);
}

#[test]
fn bad_payloads_are_problems_and_never_half_applied() {
    let app = app();
    let r = send_event(
        &app,
        &json!({"event_id": "e", "channel": "fax", "external_id": "x"}),
    );
    r.assert_problem(422, Some("channel"));
    let r = send_event(&app, &json!({"event_id": "e", "channel": "sms"}));
    r.assert_problem(400, Some("external_id"));
    let r = send_event(
        &app,
        &json!({"event_id": "e", "channel": "sms", "external_id": "x", "phone": "call me"}),
    );
    r.assert_problem(422, Some("phone"));
    let raw = b"{\"event_id\": ";
    let sig = sign(secret("events_hmac_secret"), raw);
    app.send_raw(
        "POST",
        "/hooks/events",
        None,
        "application/json",
        raw,
        &[("x-contacts-signature", &sig)],
    )
    .assert_problem(400, None);
    send_meta(&app, &json!({"object": "user", "entry": []})).assert_problem(422, Some("object"));
    // A batch whose second message is malformed: the first is not applied either.
    let mut batch = webhooks::whatsapp_text("16505551234", "Sheena Nelson", "wamid.ok");
    batch["entry"][0]["changes"][0]["value"]["messages"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "wamid.no-sender", "timestamp": "1", "type": "text"}));
    send_meta(&app, &batch).assert_problem(400, Some("entry[0].changes[0].value.messages[1].from"));
    send_telegram(&app, &json!({"message": {"from": {"id": 1}}}))
        .assert_problem(400, Some("update_id"));
    assert!(contacts(&app).is_empty());
    // The good message alone goes through: nothing of the refused batch was remembered.
    let r = send_meta(
        &app,
        &webhooks::whatsapp_text("16505551234", "Sheena Nelson", "wamid.ok"),
    );
    assert_eq!(only_result(&r)["created"], true);
}

#[test]
fn whatsapp_status_deliveries_and_batches() {
    let app = app();
    let statuses = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
        "statuses": [{"id": "wamid.S", "status": "delivered", "timestamp": "1749416383", "recipient_id": "16505551234",
                      "conversation": {"id": "c1", "origin": {"type": "service"}}, "pricing": {"billable": true, "pricing_model": "CBP", "category": "service"}}]
    }}]}]});
    let r = send_meta(&app, &statuses);
    assert_eq!((r.status, r.body.clone()), (200, json!({"results": []})));
    // Two entries, three messages from two people in one delivery.
    let mut batch = webhooks::whatsapp_text("16505551234", "Sheena Nelson", "wamid.b1");
    let value = &mut batch["entry"][0]["changes"][0]["value"];
    value["contacts"]
        .as_array_mut()
        .unwrap()
        .push(json!({"profile": {"name": "Ana Lima"}, "wa_id": "5521998765432"}));
    value["messages"].as_array_mut().unwrap().push(json!({"from": "5521998765432", "id": "wamid.b2", "timestamp": "1749416390", "type": "text", "text": {"body": "oi"}}));
    let second_entry =
        webhooks::whatsapp_text("5521998765432", "Ana Lima", "wamid.b3")["entry"][0].clone();
    batch["entry"].as_array_mut().unwrap().push(second_entry);
    let r = send_meta(&app, &batch);
    assert_eq!(r.status, 200, "{}", r.text);
    let results = r.body["results"].as_array().unwrap();
    let created: Vec<bool> = results.iter().map(|x| x["created"] == true).collect();
    assert_eq!(created, vec![true, true, false]);
    assert_eq!(results[1]["contact_id"], results[2]["contact_id"]);
    assert_eq!(
        contact(&app, &results[1]["contact_id"])["display_name"],
        "Ana Lima"
    );
}
