//! Webhook deliveries as the platforms send them, for the auto-create tests and benchmark:
//! payloads shaped like the platforms' documented examples, and their signatures.

use hmac::{Hmac, Mac};
use serde_json::{json, Value as Json};
use sha2::Sha256;

use crate::{App, Resp};

/// The secrets a test app is started with (`App::start_with(&webhooks::SECRETS)`).
pub const SECRETS: [(&str, &str); 4] = [
    ("events_hmac_secret", "events-secret-for-tests"),
    ("meta_app_secret", "meta-app-secret-for-tests"),
    ("meta_verify_token", "meta-verify-token-for-tests"),
    ("telegram_secret_token", "telegram-secret-for-tests"),
];

pub fn secret(name: &str) -> &'static str {
    SECRETS
        .iter()
        .find(|(k, _)| *k == name)
        .map(|(_, v)| *v)
        .expect("a known secret")
}

/// `sha256=<hex HMAC-SHA256 of body keyed by secret>`.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

/// Sends a generic event signed with the app's secret.
pub fn send_event(app: &App, event: &Json) -> Resp {
    let body = event.to_string();
    let sig = sign(secret("events_hmac_secret"), body.as_bytes());
    app.send_raw(
        "POST",
        "/hooks/events",
        None,
        "application/json",
        body.as_bytes(),
        &[("x-contacts-signature", &sig)],
    )
}

/// Sends a Meta payload signed with the app secret, as Meta does.
pub fn send_meta(app: &App, payload: &Json) -> Resp {
    let body = payload.to_string();
    let sig = sign(secret("meta_app_secret"), body.as_bytes());
    app.send_raw(
        "POST",
        "/hooks/meta",
        None,
        "application/json",
        body.as_bytes(),
        &[("x-hub-signature-256", &sig)],
    )
}

/// Sends a Telegram update with the bot's secret token header.
pub fn send_telegram(app: &App, update: &Json) -> Resp {
    app.send_raw(
        "POST",
        "/hooks/telegram",
        None,
        "application/json",
        update.to_string().as_bytes(),
        &[(
            "x-telegram-bot-api-secret-token",
            secret("telegram_secret_token"),
        )],
    )
}

/// A WhatsApp Cloud API text message notification (Meta's documented example shape).
pub fn whatsapp_text(wa_id: &str, name: &str, message_id: &str) -> Json {
    json!({
        "object": "whatsapp_business_account",
        "entry": [{
            "id": "102290129340398",
            "changes": [{
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
                    "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
                    "messages": [{
                        "from": wa_id,
                        "id": message_id,
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

/// A Messenger message notification (`object: page`, `entry[].messaging[]`).
pub fn messenger_message(psid: &str, mid: &str) -> Json {
    json!({
        "object": "page",
        "entry": [{
            "id": "PAGE_ID_1",
            "time": 1458692752478u64,
            "messaging": [{
                "sender": {"id": psid},
                "recipient": {"id": "PAGE_ID_1"},
                "timestamp": 1458692752478u64,
                "message": {"mid": mid, "text": "hello, world!"}
            }]
        }]
    })
}

/// An Instagram messaging notification (`object: instagram`).
pub fn instagram_message(igsid: &str, mid: &str) -> Json {
    json!({
        "object": "instagram",
        "entry": [{
            "time": 1569262486134u64,
            "id": "IGID_1",
            "messaging": [{
                "sender": {"id": igsid},
                "recipient": {"id": "IGID_1"},
                "timestamp": 1569262485349u64,
                "message": {"mid": mid, "text": "hi there"}
            }]
        }]
    })
}

/// A Telegram Bot API `Update` with a private message (the Bot API's example shape).
pub fn telegram_message(update_id: u64, user_id: u64, first: &str, last: &str) -> Json {
    json!({
        "update_id": update_id,
        "message": {
            "message_id": 1365,
            "date": 1441645532,
            "chat": {"id": user_id, "type": "private", "first_name": first, "last_name": last, "username": "ana_l"},
            "from": {"id": user_id, "is_bot": false, "first_name": first, "last_name": last,
                     "username": "ana_l", "language_code": "pt-br"},
            "text": "/start"
        }
    })
}
