//! Telegram Bot API `Update`s, one per webhook delivery. A contact event is an update a
//! person sent: `message`, `edited_message`, `business_message`, `edited_business_message`
//! (their `from`) or `callback_query` (a button press, its `from`). Updates with no human
//! sender (channel posts, member changes, bots) yield no event. `update_id` is the
//! idempotency key: Telegram resends an unacknowledged update with the same id.

use serde_json::Value as Json;

use super::event::{self, path, Event, MAX_TEXT_LEN};
use crate::kernel::error::{Error, Result};
use crate::kernel::values::Channel;

const MESSAGE_KINDS: [&str; 4] = [
    "message",
    "edited_message",
    "business_message",
    "edited_business_message",
];

/// The update's contact event, if it has one.
pub fn parse(body: &Json) -> Result<Option<Event>> {
    if !body.is_object() {
        return Err(Error::malformed(
            "the body must be a Telegram Update object",
        ));
    }
    let update_id = path::id(body, "update_id", "")?;
    let key = format!("telegram:{update_id}");
    for kind in MESSAGE_KINDS {
        if let Some(message) = body.get(kind).filter(|m| !m.is_null()) {
            let message = path::object(message, kind)?;
            let Some(mut ev) = sender(message, kind, &key)? else {
                return Ok(None);
            };
            ev.conversation_id = chat_id(message, kind)?;
            let time = path::opt_i64(message, "edit_date", kind)?
                .or(path::opt_i64(message, "date", kind)?);
            ev.occurred_at = time.and_then(event::unix_seconds);
            return Ok(Some(ev));
        }
    }
    if let Some(query) = body.get("callback_query").filter(|q| !q.is_null()) {
        let query = path::object(query, "callback_query")?;
        let Some(mut ev) = sender(query, "callback_query", &key)? else {
            return Ok(None);
        };
        if let Some(message) = query.get("message").filter(|m| m.is_object()) {
            ev.conversation_id = chat_id(message, "callback_query.message")?;
        }
        return Ok(Some(ev));
    }
    Ok(None)
}

/// An event for the update's `from`, unless it is a bot (or absent: anonymous group admins).
fn sender(holder: &Json, at: &str, key: &str) -> Result<Option<Event>> {
    let Some(from) = holder.get("from").filter(|f| !f.is_null()) else {
        return Ok(None);
    };
    let fat = path::join(at, "from");
    let from = path::object(from, &fat)?;
    if from.get("is_bot").and_then(Json::as_bool) == Some(true) {
        return Ok(None);
    }
    let id = path::id(from, "id", &fat)?;
    let identity = event::identity(Channel::Telegram, &id, &path::join(&fat, "id"))?;
    let mut ev = Event::new(key.to_owned(), identity);
    ev.first_name = path::text(from, "first_name", &fat, MAX_TEXT_LEN)?;
    ev.last_name = path::text(from, "last_name", &fat, MAX_TEXT_LEN)?;
    ev.language = path::text(from, "language_code", &fat, 35)?;
    Ok(Some(ev))
}

fn chat_id(message: &Json, at: &str) -> Result<Option<String>> {
    match message.get("chat") {
        Some(chat) if !chat.is_null() => {
            let cat = path::join(at, "chat");
            path::opt_id(path::object(chat, &cat)?, "id", &cat)
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The Bot API documentation's example update.
    fn update() -> Json {
        json!({
            "update_id": 10000,
            "message": {
                "date": 1441645532,
                "chat": {"last_name": "Test Lastname", "id": 1111111, "type": "private",
                         "first_name": "Test Firstname", "username": "Testusername"},
                "message_id": 1365,
                "from": {"last_name": "Test Lastname", "id": 1111111, "is_bot": false,
                         "first_name": "Test Firstname", "username": "Testusername",
                         "language_code": "en"},
                "text": "/start"
            }
        })
    }

    #[test]
    fn reads_a_message_from_a_person() {
        let ev = parse(&update()).unwrap().unwrap();
        assert_eq!(ev.key, "telegram:10000");
        assert_eq!(ev.identity.channel, Channel::Telegram);
        assert_eq!(ev.identity.external_id, "1111111");
        assert_eq!(ev.first_name.as_deref(), Some("Test Firstname"));
        assert_eq!(ev.last_name.as_deref(), Some("Test Lastname"));
        assert_eq!(ev.language.as_deref(), Some("en"));
        assert_eq!(ev.conversation_id.as_deref(), Some("1111111"));
        assert_eq!(ev.occurred_at.as_deref(), Some("2015-09-07T17:05:32.000Z"));
    }

    #[test]
    fn callback_queries_count_and_bots_and_channel_posts_do_not() {
        let cb = json!({"update_id": 7, "callback_query": {"id": "4382", "from": {"id": 42, "is_bot": false, "first_name": "Ana"},
                         "message": {"message_id": 1, "date": 1, "chat": {"id": -100, "type": "group"}}, "data": "yes"}});
        let ev = parse(&cb).unwrap().unwrap();
        assert_eq!(ev.identity.external_id, "42");
        assert_eq!(ev.conversation_id.as_deref(), Some("-100"));
        let mut bot = update();
        bot["message"]["from"]["is_bot"] = json!(true);
        assert_eq!(parse(&bot).unwrap(), None);
        let post = json!({"update_id": 8, "channel_post": {"message_id": 1, "date": 1, "chat": {"id": -1, "type": "channel"}}});
        assert_eq!(parse(&post).unwrap(), None);
    }

    #[test]
    fn malformed_updates_name_the_field() {
        let field = |v: Json| match parse(&v).unwrap_err() {
            Error::Malformed { field, .. } => field.unwrap_or_default(),
            Error::Invalid { field, .. } => field,
            other => panic!("{other:?}"),
        };
        let mut u = update();
        u.as_object_mut().unwrap().remove("update_id");
        assert_eq!(field(u), "update_id");
        let mut u = update();
        u["message"]["from"]["id"] = json!({"x": 1});
        assert_eq!(field(u), "message.from.id");
        let mut u = update();
        u["message"] = json!("text");
        assert_eq!(field(u), "message");
        assert!(parse(&json!("x")).is_err());
    }
}
