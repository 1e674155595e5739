//! The product's own event (SPEC §8 "Generic event"): what a web-chat widget or any other
//! channel adapter sends to `POST /hooks/events`.

use serde_json::Value as Json;

use super::event::{self, path, Event, MAX_TEXT_LEN};
use crate::kernel::error::{Error, Result};
use crate::kernel::values::{time, Channel, Email, Phone, Region};

/// Page URLs may be longer than other text: the same bound as a link field.
const MAX_URL_LEN: usize = 2_000;

/// Reads one event; every value is checked, and a bad one is a 4xx naming its field.
pub fn parse(body: &Json, region: Region) -> Result<Event> {
    if !body.is_object() {
        return Err(Error::malformed("the body must be a JSON event object"));
    }
    let event_id = path::id(body, "event_id", "")?;
    let channel_name = path::req_str(body, "channel", "")?;
    let channel = Channel::parse(channel_name).ok_or_else(|| {
        Error::invalid(
            "channel",
            format!("'{channel_name}' is not a channel ({})", channel_list()),
        )
    })?;
    let external_id = path::id(body, "external_id", "")?;
    let identity = event::identity(channel, &external_id, "external_id")?;
    let mut ev = Event::new(format!("event:{event_id}"), identity);

    if let Some(name) = path::text(body, "name", "", MAX_TEXT_LEN)? {
        ev.set_full_name(&name);
    }
    // Explicit parts win over a split full name.
    if let Some(first) = path::text(body, "first_name", "", MAX_TEXT_LEN)? {
        ev.first_name = Some(first);
    }
    if let Some(last) = path::text(body, "last_name", "", MAX_TEXT_LEN)? {
        ev.last_name = Some(last);
    }
    if let Some(s) = path::opt_str(body, "email", "")? {
        ev.email =
            Some(Email::parse(s).map_err(|why| Error::invalid("email", format!("email {why}")))?);
    }
    if let Some(s) = path::opt_str(body, "phone", "")? {
        ev.phone = Some(
            Phone::parse(s, region)
                .map_err(|why| Error::invalid("phone", format!("phone {why}")))?,
        );
    }
    ev.conversation_id = path::opt_id(body, "conversation_id", "")?;
    if let Some(s) = path::opt_str(body, "occurred_at", "")? {
        ev.occurred_at = Some(
            time::parse_rfc3339(s)
                .ok_or_else(|| Error::invalid("occurred_at", "expected an RFC 3339 time"))?,
        );
    }
    if let Some(visitor) = body.get("visitor").filter(|v| !v.is_null()) {
        let visitor = path::object(visitor, "visitor")?;
        ev.visitor.ip = path::text(visitor, "ip", "visitor", 100)?;
        ev.visitor.browser = path::text(visitor, "browser", "visitor", MAX_TEXT_LEN)?;
        ev.visitor.os = path::text(visitor, "os", "visitor", MAX_TEXT_LEN)?;
        ev.visitor.page_url = path::text(visitor, "page_url", "visitor", MAX_URL_LEN)?;
    }
    Ok(ev)
}

fn channel_list() -> String {
    Channel::ALL
        .iter()
        .map(|c| c.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn us() -> Region {
        Region::default()
    }

    #[test]
    fn reads_a_full_event() {
        let ev = parse(
            &json!({"event_id": "e-1", "channel": "web_chat", "external_id": "v-77",
                    "name": "Ana Lima", "email": " Ana@Example.com ", "phone": "(415) 555-0132",
                    "conversation_id": "conv-9", "occurred_at": "2026-03-01T10:00:00+01:00",
                    "visitor": {"ip": "203.0.113.9", "browser": "Firefox 128", "os": "Linux",
                                "page_url": "https://shop.example/cart"}}),
            us(),
        )
        .unwrap();
        assert_eq!(ev.key, "event:e-1");
        assert_eq!(ev.identity.channel, Channel::WebChat);
        assert_eq!(ev.identity.external_id, "v-77");
        assert_eq!(ev.first_name.as_deref(), Some("Ana"));
        assert_eq!(ev.last_name.as_deref(), Some("Lima"));
        assert_eq!(ev.email.unwrap().normalized(), "ana@example.com");
        assert_eq!(ev.phone.unwrap().e164(), "+14155550132");
        assert_eq!(ev.conversation_id.as_deref(), Some("conv-9"));
        assert_eq!(ev.occurred_at.as_deref(), Some("2026-03-01T09:00:00.000Z"));
        assert_eq!(ev.visitor.browser.as_deref(), Some("Firefox 128"));
        assert_eq!(
            ev.visitor.page_url.as_deref(),
            Some("https://shop.example/cart")
        );
    }

    #[test]
    fn explicit_name_parts_win() {
        let ev = parse(
            &json!({"event_id": 5, "channel": "sms", "external_id": 15550100,
                    "name": "Ana Lima", "last_name": "Souza"}),
            us(),
        )
        .unwrap();
        assert_eq!(ev.key, "event:5");
        assert_eq!(ev.identity.external_id, "15550100");
        assert_eq!(ev.first_name.as_deref(), Some("Ana"));
        assert_eq!(ev.last_name.as_deref(), Some("Souza"));
    }

    fn field_of(e: Error) -> (u8, String) {
        match e {
            Error::Malformed { field, .. } => (0, field.unwrap_or_default()),
            Error::Invalid { field, .. } => (1, field),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn bad_values_name_their_field() {
        let base = json!({"event_id": "e", "channel": "web_chat", "external_id": "v"});
        let with = |k: &str, v: Json| {
            let mut b = base.clone();
            b[k] = v;
            field_of(parse(&b, us()).unwrap_err())
        };
        // 0 = malformed (400), 1 = invalid (422).
        assert_eq!(with("event_id", Json::Null), (0, "event_id".into()));
        assert_eq!(with("event_id", json!("")), (1, "event_id".into()));
        assert_eq!(with("event_id", json!(["x"])), (0, "event_id".into()));
        assert_eq!(with("channel", json!("fax")), (1, "channel".into()));
        assert_eq!(with("channel", json!(3)), (0, "channel".into()));
        assert_eq!(
            with("external_id", json!("x".repeat(300))),
            (1, "external_id".into())
        );
        assert_eq!(with("email", json!("not-an-email")), (1, "email".into()));
        assert_eq!(with("phone", json!("12")), (1, "phone".into()));
        assert_eq!(
            with("occurred_at", json!("yesterday")),
            (1, "occurred_at".into())
        );
        assert_eq!(with("visitor", json!("x")), (0, "visitor".into()));
        assert_eq!(with("visitor", json!({"ip": 7})), (0, "visitor.ip".into()));
        assert_eq!(with("name", json!("n".repeat(1001))), (1, "name".into()));
        assert!(parse(&json!([1]), us()).is_err());
    }
}
