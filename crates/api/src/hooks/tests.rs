//! The hooks natively: authenticity before parsing, status codes, nothing stored on refusal.

use std::cell::OnceCell;
use std::collections::HashMap;

use contacts_core::kernel::native::{MemoryKv, NativeSql};
use contacts_core::kernel::schema;
use contacts_core::kernel::store::{Kv, Sql};
use hmac::{Hmac, Mac};
use http::Method;
use serde_json::{json, Value as Json};
use sha2::Sha256;

use super::*;
use crate::{Platform, Request};

struct Native {
    sql: OnceCell<NativeSql>,
    kv: MemoryKv,
    vars: HashMap<&'static str, &'static str>,
}

impl Native {
    fn with(vars: &[(&'static str, &'static str)]) -> Self {
        Native {
            sql: OnceCell::new(),
            kv: MemoryKv::default(),
            vars: vars.iter().copied().collect(),
        }
    }

    fn configured() -> Self {
        Self::with(&[
            ("events_hmac_secret", "ev-secret"),
            ("meta_app_secret", "meta-secret"),
            ("meta_verify_token", "verify-me"),
            ("telegram_secret_token", "tg-secret"),
        ])
    }

    fn count(&self, table: &str) -> i64 {
        self.sql()
            .unwrap()
            .execute(&format!("SELECT count(*) FROM {table}"), &[])
            .unwrap()
            .scalar_i64()
            .unwrap()
    }
}

impl Platform for Native {
    fn sql(&self) -> Result<&dyn Sql> {
        Ok(self.sql.get_or_init(|| {
            let db = NativeSql::open_in_memory();
            schema::ensure(&db).expect("schema");
            db
        }))
    }
    fn kv(&self) -> Result<&dyn Kv> {
        Ok(&self.kv)
    }
    fn variable(&self, name: &str) -> Option<String> {
        self.vars.get(name).map(|v| v.to_string())
    }
}

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

fn post(p: &Native, path: &str, body: &[u8], headers: &[(&'static str, &str)]) -> (u16, Json) {
    let mut req = Request::new(Method::POST, path);
    req.body = body.to_vec();
    req.headers
        .insert("content-type", "application/json".parse().unwrap());
    for (k, v) in headers {
        req.headers.insert(*k, v.parse().unwrap());
    }
    let resp = handle(&req, p);
    (
        resp.status.as_u16(),
        serde_json::from_slice(&resp.body).unwrap_or(Json::Null),
    )
}

fn generic_event() -> Vec<u8> {
    json!({"event_id": "e1", "channel": "web_chat", "external_id": "v1", "name": "Ana Lima"})
        .to_string()
        .into_bytes()
}

#[test]
fn a_signed_generic_event_creates_a_contact() {
    let p = Native::configured();
    let body = generic_event();
    let sig = sign("ev-secret", &body);
    let (status, out) = post(
        &p,
        "/hooks/events",
        &body,
        &[("x-contacts-signature", &sig)],
    );
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["created"], true);
    assert_eq!(out["duplicate"], false);
    assert_eq!(out["dropped"], false);
    assert!(out["contact_id"].is_string());
    let (_, again) = post(
        &p,
        "/hooks/events",
        &body,
        &[("x-contacts-signature", &sig)],
    );
    assert_eq!(again["duplicate"], true);
    assert_eq!(again["contact_id"], out["contact_id"]);
}

#[test]
fn unsigned_or_missigned_deliveries_are_refused_and_store_nothing() {
    let p = Native::configured();
    let body = generic_event();
    let cases: Vec<(&str, Vec<(&'static str, String)>)> = vec![
        ("/hooks/events", vec![]),
        (
            "/hooks/events",
            vec![("x-contacts-signature", sign("wrong", &body))],
        ),
        (
            "/hooks/events",
            vec![("x-hub-signature-256", sign("ev-secret", &body))],
        ),
        (
            "/hooks/meta",
            vec![("x-hub-signature-256", sign("ev-secret", &body))],
        ),
        ("/hooks/meta", vec![]),
        (
            "/hooks/telegram",
            vec![("x-telegram-bot-api-secret-token", "nope".into())],
        ),
        ("/hooks/telegram", vec![]),
    ];
    for (path, headers) in cases {
        let headers: Vec<(&'static str, &str)> =
            headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, problem) = post(&p, path, &body, &headers);
        assert_eq!(status, 401, "{path} {headers:?}");
        assert_eq!(problem["status"], 401);
        assert!(problem["detail"]
            .as_str()
            .unwrap()
            .contains("nothing was stored"));
    }
    // A body signed before it was altered.
    let sig = sign("ev-secret", &body);
    let mut altered = body.clone();
    altered[10] ^= 1;
    assert_eq!(
        post(
            &p,
            "/hooks/events",
            &altered,
            &[("x-contacts-signature", &sig)]
        )
        .0,
        401
    );
    assert_eq!(p.count("processed_events"), 0);
    assert_eq!(p.count("contacts"), 0);
}

#[test]
fn a_hook_with_no_secret_configured_takes_nothing() {
    let p = Native::with(&[]);
    let body = generic_event();
    // An HMAC keyed by the empty string is still refused.
    let sig = sign("", &body);
    assert_eq!(
        post(
            &p,
            "/hooks/events",
            &body,
            &[("x-contacts-signature", &sig)]
        )
        .0,
        401
    );
    assert_eq!(
        post(&p, "/hooks/meta", &body, &[("x-hub-signature-256", &sig)]).0,
        401
    );
    assert_eq!(
        post(
            &p,
            "/hooks/telegram",
            &body,
            &[("x-telegram-bot-api-secret-token", "")]
        )
        .0,
        401
    );
}

#[test]
fn bad_payloads_are_4xx_problems_naming_the_field() {
    let p = Native::configured();
    let cases: Vec<(&str, &[u8], u16, Option<&str>)> = vec![
        ("/hooks/events", b"{not json", 400, None),
        (
            "/hooks/events",
            br#"{"channel": "web_chat", "external_id": "v"}"#,
            400,
            Some("event_id"),
        ),
        (
            "/hooks/events",
            br#"{"event_id": "e", "channel": "fax", "external_id": "v"}"#,
            422,
            Some("channel"),
        ),
        (
            "/hooks/events",
            br#"{"event_id": "e", "channel": "sms", "external_id": "v", "email": "x"}"#,
            422,
            Some("email"),
        ),
        (
            "/hooks/meta",
            br#"{"object": "user", "entry": []}"#,
            422,
            Some("object"),
        ),
        (
            "/hooks/meta",
            br#"{"object": "page", "entry": [{"messaging": [{"message": {"mid": "m"}}]}]}"#,
            400,
            Some("entry[0].messaging[0].sender"),
        ),
        ("/hooks/meta", b"[]", 400, None),
    ];
    for (path, body, status, field) in cases {
        let sig = sign(
            if path == "/hooks/meta" {
                "meta-secret"
            } else {
                "ev-secret"
            },
            body,
        );
        let header = if path == "/hooks/meta" {
            "x-hub-signature-256"
        } else {
            "x-contacts-signature"
        };
        let (got, problem) = post(&p, path, body, &[(header, &sig)]);
        assert_eq!(
            got,
            status,
            "{path} {}: {problem}",
            String::from_utf8_lossy(body)
        );
        if let Some(f) = field {
            assert_eq!(problem["field"], f, "{problem}");
        }
    }
    let (got, problem) = post(
        &p,
        "/hooks/telegram",
        br#"{"message": {"from": {"id": 1}}}"#,
        &[("x-telegram-bot-api-secret-token", "tg-secret")],
    );
    assert_eq!((got, problem["field"].as_str()), (400, Some("update_id")));
    assert_eq!(p.count("processed_events"), 0);
}

#[test]
fn status_only_deliveries_are_acknowledged_with_no_results() {
    let p = Native::configured();
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "1", "changes": [{"field": "messages",
        "value": {"messaging_product": "whatsapp", "statuses": [{"id": "wamid.X", "status": "read", "timestamp": "1", "recipient_id": "16505551234"}]}}]}]})
    .to_string();
    let sig = sign("meta-secret", body.as_bytes());
    let (status, out) = post(
        &p,
        "/hooks/meta",
        body.as_bytes(),
        &[("x-hub-signature-256", &sig)],
    );
    assert_eq!((status, out), (200, json!({"results": []})));
}

#[test]
fn telegram_updates_answer_results() {
    let p = Native::configured();
    let body = json!({"update_id": 5, "message": {"message_id": 1, "date": 1441645532,
        "chat": {"id": 42, "type": "private"}, "from": {"id": 42, "is_bot": false, "first_name": "Ana", "last_name": "Lima"}}})
    .to_string();
    let (status, out) = post(
        &p,
        "/hooks/telegram",
        body.as_bytes(),
        &[("x-telegram-bot-api-secret-token", "tg-secret")],
    );
    assert_eq!(status, 200);
    assert_eq!(out["results"][0]["created"], true);
}

fn get(p: &Native, path: &str) -> (u16, String, Option<String>) {
    let resp = handle(&Request::new(Method::GET, path), p);
    let ct = resp
        .headers
        .iter()
        .find(|(k, _)| *k == "content-type")
        .map(|(_, v)| v.clone());
    (
        resp.status.as_u16(),
        String::from_utf8_lossy(&resp.body).into_owned(),
        ct,
    )
}

#[test]
fn the_meta_handshake_echoes_the_challenge_for_our_token_only() {
    let p = Native::configured();
    let (status, body, ct) = get(
        &p,
        "/hooks/meta?hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444",
    );
    assert_eq!((status, body.as_str()), (200, "1158201444"));
    assert!(ct.unwrap().starts_with("text/plain"));
    assert_eq!(
        get(
            &p,
            "/hooks/meta?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1"
        )
        .0,
        403
    );
    assert_eq!(
        get(&p, "/hooks/meta?hub.mode=subscribe&hub.challenge=1").0,
        403
    );
    assert_eq!(
        get(
            &p,
            "/hooks/meta?hub.mode=unsubscribe&hub.verify_token=verify-me&hub.challenge=1"
        )
        .0,
        422
    );
    assert_eq!(
        get(
            &p,
            "/hooks/meta?hub.mode=subscribe&hub.verify_token=verify-me"
        )
        .0,
        400
    );
    let unconfigured = Native::with(&[]);
    assert_eq!(
        get(
            &unconfigured,
            "/hooks/meta?hub.mode=subscribe&hub.verify_token=&hub.challenge=1"
        )
        .0,
        403
    );
}

#[test]
fn oversized_bodies_are_413() {
    let p = Native::configured();
    let body = vec![b' '; MAX_JSON_BODY + 1];
    let sig = sign("ev-secret", &body);
    assert_eq!(
        post(
            &p,
            "/hooks/events",
            &body,
            &[("x-contacts-signature", &sig)]
        )
        .0,
        413
    );
}
