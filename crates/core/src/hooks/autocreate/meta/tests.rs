//! Payloads shaped as Meta's webhook documentation shows them.

use serde_json::{json, Value as Json};

use super::*;

fn us() -> Region {
    Region::default()
}

pub fn whatsapp_text() -> Json {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102290129340398",
            "changes": [{
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                    "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
                    "messages": [{
                        "from": "16505551234",
                        "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
                        "timestamp": "1749416383",
                        "type": "text",
                        "text": {"body": "Does it come in another color?"}
                    }]
                },
                "field": "messages"
            }]
        }]
    })
}

#[test]
fn whatsapp_text_message() {
    let events = parse(&whatsapp_text(), us()).unwrap();
    assert_eq!(events.len(), 1);
    let ev = &events[0];
    assert_eq!(
        ev.key,
        "whatsapp:wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
    );
    assert_eq!(ev.identity.channel, Channel::Whatsapp);
    assert_eq!(ev.identity.external_id, "16505551234");
    assert_eq!(ev.first_name.as_deref(), Some("Sheena"));
    assert_eq!(ev.last_name.as_deref(), Some("Nelson"));
    assert_eq!(ev.phone.as_ref().unwrap().e164(), "+16505551234");
    assert_eq!(
        ev.conversation_id.as_deref(),
        Some("106540352242922:16505551234")
    );
    assert_eq!(ev.occurred_at.as_deref(), Some("2025-06-08T20:59:43.000Z"));
}

#[test]
fn whatsapp_batches_pair_each_message_with_its_sender() {
    let mut p = whatsapp_text();
    let value = &mut p["entry"][0]["changes"][0]["value"];
    value["contacts"] = json!([
        {"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"},
        {"profile": {"name": "Ana Lima"}, "wa_id": "5521998765432"}
    ]);
    value["messages"] = json!([
        {"from": "5521998765432", "id": "wamid.A", "timestamp": "1749416383", "type": "text", "text": {"body": "oi"}},
        {"from": "16505551234", "id": "wamid.B", "timestamp": "1749416384", "type": "image", "image": {"id": "1"}}
    ]);
    let events = parse(&p, us()).unwrap();
    let names: Vec<_> = events
        .iter()
        .map(|e| (e.identity.external_id.as_str(), e.first_name.as_deref()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("5521998765432", Some("Ana")),
            ("16505551234", Some("Sheena"))
        ]
    );
}

#[test]
fn whatsapp_status_updates_and_other_fields_yield_no_event() {
    let statuses = json!({
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
            "statuses": [{"id": "wamid.X", "status": "delivered", "timestamp": "1749416383", "recipient_id": "16505551234"}]
        }}, {"field": "account_update", "value": {"event": "VERIFIED_ACCOUNT"}}]}]
    });
    assert!(parse(&statuses, us()).unwrap().is_empty());
}

#[test]
fn messenger_messages_postbacks_and_no_echoes() {
    let p = json!({
        "object": "page",
        "entry": [{
            "id": "PAGE_ID_1", "time": 1458692752478u64,
            "messaging": [
                {"sender": {"id": "PSID_1"}, "recipient": {"id": "PAGE_ID_1"}, "timestamp": 1458692752478u64,
                 "message": {"mid": "mid.1457764197618:41d102a3e1ae206a38", "text": "hello, world!"}},
                {"sender": {"id": "PAGE_ID_1"}, "recipient": {"id": "PSID_1"}, "timestamp": 1458692752479u64,
                 "message": {"mid": "mid.echo", "is_echo": true, "text": "hi"}},
                {"sender": {"id": "PSID_1"}, "recipient": {"id": "PAGE_ID_1"}, "timestamp": 1458692752480u64,
                 "delivery": {"mids": ["mid.echo"], "watermark": 1458668856253u64}},
                {"sender": {"id": "PSID_2"}, "recipient": {"id": "PAGE_ID_1"}, "timestamp": 1458692752481u64,
                 "postback": {"title": "Get Started", "payload": "START", "mid": "m_postback_1"}},
                {"sender": {"id": "PSID_3"}, "recipient": {"id": "PAGE_ID_1"}, "timestamp": 1458692752482u64,
                 "referral": {"ref": "ad_1", "source": "ADS", "type": "OPEN_THREAD"}}
            ]
        }]
    });
    let events = parse(&p, us()).unwrap();
    let keys: Vec<&str> = events.iter().map(|e| e.key.as_str()).collect();
    assert_eq!(
        keys,
        vec![
            "messenger:mid.1457764197618:41d102a3e1ae206a38",
            "messenger:m_postback_1",
            "messenger:referral:PSID_3:1458692752482",
        ]
    );
    assert!(events
        .iter()
        .all(|e| e.identity.channel == Channel::Messenger && e.phone.is_none()));
    assert_eq!(events[0].identity.external_id, "PSID_1");
    assert_eq!(
        events[0].conversation_id.as_deref(),
        Some("PAGE_ID_1:PSID_1")
    );
    assert_eq!(
        events[0].occurred_at.as_deref(),
        Some("2016-03-23T00:25:52.478Z")
    );
}

#[test]
fn instagram_messages() {
    let p = json!({
        "object": "instagram",
        "entry": [{"time": 1569262486134u64, "id": "IGID_1", "messaging": [
            {"sender": {"id": "IGSID_1"}, "recipient": {"id": "IGID_1"}, "timestamp": 1569262485349u64,
             "message": {"mid": "aWdfZAG1faXRlbTo", "text": "hey"}}
        ]}]
    });
    let events = parse(&p, us()).unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].key, "instagram:aWdfZAG1faXRlbTo");
    assert_eq!(events[0].identity.channel, Channel::Instagram);
    assert_eq!(events[0].identity.external_id, "IGSID_1");
}

fn error_field(v: &Json) -> (bool, String) {
    match parse(v, us()).unwrap_err() {
        Error::Malformed { field, .. } => (false, field.unwrap_or_default()),
        Error::Invalid { field, .. } => (true, field),
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_payloads_name_the_path() {
    assert_eq!(
        error_field(&json!({"object": "telegram", "entry": []})),
        (true, "object".into())
    );
    assert_eq!(error_field(&json!({"entry": []})), (false, "object".into()));
    assert_eq!(
        error_field(&json!({"object": "page", "entry": {}})),
        (false, "entry".into())
    );
    let mut p = whatsapp_text();
    p["entry"][0]["changes"][0]["value"]["messages"][0]
        .as_object_mut()
        .unwrap()
        .remove("from");
    assert_eq!(
        error_field(&p),
        (false, "entry[0].changes[0].value.messages[0].from".into())
    );
    let mut p = whatsapp_text();
    p["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = json!(["x"]);
    assert_eq!(
        error_field(&p),
        (false, "entry[0].changes[0].value.messages[0].id".into())
    );
    let p = json!({"object": "page", "entry": [{"id": "P", "messaging": [{"recipient": {"id": "P"}, "message": {"mid": "m"}}]}]});
    assert_eq!(
        error_field(&p),
        (false, "entry[0].messaging[0].sender".into())
    );
    let p = json!({"object": "page", "entry": [{"id": "P", "messaging": [{"sender": {"id": "S"}, "message": {"text": "no mid"}}]}]});
    assert_eq!(
        error_field(&p),
        (false, "entry[0].messaging[0].message.mid".into())
    );
    assert!(parse(&json!([]), us()).is_err());
}
