//! One chat-platform event, whatever payload it came in: who sent it (an identity), what the
//! platform says about them, and the id that makes its delivery idempotent. The payload
//! parsers (`generic`, `meta`, `telegram`) produce these; resolution consumes them.

use serde_json::Value as Json;

use crate::contacts::contact::{type_mismatch, Identity};
use crate::kernel::error::{Error, Result};
use crate::kernel::values::{time, Channel, Email, Phone, Region};

/// Event ids and conversation ids are at most this long.
pub const MAX_ID_LEN: usize = 256;
/// Names and visitor details (browser, os, ip) are at most this long; URLs as links.
pub const MAX_TEXT_LEN: usize = 1_000;

#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The idempotency key, namespaced by source (`event:…`, `whatsapp:wamid…`,
    /// `messenger:m_…`, `telegram:…`), so two platforms' ids never collide.
    pub key: String,
    pub identity: Identity,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// Carried by a signed event, so it counts as verified (SPEC §9).
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub conversation_id: Option<String>,
    /// When it happened, in the stored timestamp form; `None` means "now".
    pub occurred_at: Option<String>,
    pub visitor: Visitor,
    /// The sender's language as the platform reports it (Telegram's `language_code`).
    pub language: Option<String>,
}

/// What a web-chat widget knows about the visitor's browser.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Visitor {
    pub ip: Option<String>,
    pub browser: Option<String>,
    pub os: Option<String>,
    pub page_url: Option<String>,
}

impl Event {
    /// An event with only its key and sender; parsers fill in the rest.
    pub fn new(key: String, identity: Identity) -> Event {
        Event {
            key,
            identity,
            first_name: None,
            last_name: None,
            email: None,
            phone: None,
            conversation_id: None,
            occurred_at: None,
            visitor: Visitor::default(),
            language: None,
        }
    }

    /// Sets the name from a platform's full name: "Ana Lima" is first "Ana", last "Lima";
    /// "Ana Maria Lima" is first "Ana", last "Maria Lima".
    pub fn set_full_name(&mut self, full: &str) {
        let mut words = full.split_whitespace();
        self.first_name = words.next().map(str::to_owned);
        let rest: Vec<&str> = words.collect();
        self.last_name = (!rest.is_empty()).then(|| rest.join(" "));
    }

    pub fn channel(&self) -> Channel {
        self.identity.channel
    }
}

/// The sender's identity; a bad one is a 422 naming `field`.
pub fn identity(channel: Channel, external_id: &str, field: &str) -> Result<Identity> {
    Identity::parse(channel.as_str(), external_id).map_err(|why| Error::invalid(field, why))
}

/// A phone number given in international digits (WhatsApp's `wa_id`), as E.164.
/// Platforms send well-formed numbers; one the phone library does not know is kept out of
/// matching rather than failing the delivery.
pub fn international_phone(digits: &str, region: Region) -> Option<Phone> {
    let digits = digits.trim().trim_start_matches('+');
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Phone::parse(&format!("+{digits}"), region).ok()
}

/// A Unix time in seconds (Meta's and Telegram's `timestamp`/`date`), as a stored timestamp.
pub fn unix_seconds(secs: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(secs, 0).map(time::format)
}

/// A Unix time in milliseconds (Messenger's `timestamp`).
pub fn unix_millis(ms: i64) -> Option<String> {
    chrono::DateTime::from_timestamp_millis(ms).map(time::format)
}

/// Reading payloads with errors that name the JSON path at fault.
pub(crate) mod path {
    use super::*;

    pub fn join(path: &str, key: &str) -> String {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    }

    pub fn index(path: &str, i: usize) -> String {
        format!("{path}[{i}]")
    }

    fn missing(field: String) -> Error {
        Error::Malformed {
            detail: format!("{field}: missing"),
            field: Some(field),
        }
    }

    /// A member that must be present.
    pub fn get<'a>(obj: &'a Json, key: &str, path: &str) -> Result<&'a Json> {
        match obj.get(key) {
            Some(v) if !v.is_null() => Ok(v),
            _ => Err(missing(join(path, key))),
        }
    }

    pub fn object<'a>(v: &'a Json, path: &str) -> Result<&'a Json> {
        if v.is_object() {
            Ok(v)
        } else {
            Err(type_mismatch(path, "an object"))
        }
    }

    /// An array member; absent or null reads as empty (platforms omit empty lists).
    pub fn array<'a>(obj: &'a Json, key: &str, path: &str) -> Result<&'a [Json]> {
        match obj.get(key) {
            None | Some(Json::Null) => Ok(&[]),
            Some(Json::Array(items)) => Ok(items),
            Some(_) => Err(type_mismatch(&join(path, key), "an array")),
        }
    }

    /// A string member, absent or null reading as `None`; blank reads as `None` too.
    pub fn opt_str<'a>(obj: &'a Json, key: &str, path: &str) -> Result<Option<&'a str>> {
        match obj.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::String(s)) => Ok(Some(s.trim()).filter(|s| !s.is_empty())),
            Some(_) => Err(type_mismatch(&join(path, key), "a string")),
        }
    }

    pub fn req_str<'a>(obj: &'a Json, key: &str, path: &str) -> Result<&'a str> {
        opt_str(obj, key, path)?.ok_or_else(|| missing(join(path, key)))
    }

    /// An id platforms send as a string or an integer (Telegram's are integers), 1 to
    /// [`MAX_ID_LEN`] characters.
    pub fn id(obj: &Json, key: &str, path: &str) -> Result<String> {
        let field = join(path, key);
        let id = match get(obj, key, path)? {
            Json::String(s) => s.trim().to_owned(),
            Json::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
            _ => return Err(type_mismatch(&field, "a string or an integer")),
        };
        if id.is_empty() || id.chars().count() > MAX_ID_LEN {
            return Err(Error::invalid(
                field,
                format!("must be 1 to {MAX_ID_LEN} characters"),
            ));
        }
        Ok(id)
    }

    /// An optional id: absent or null is `None`.
    pub fn opt_id(obj: &Json, key: &str, path: &str) -> Result<Option<String>> {
        match obj.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(_) => id(obj, key, path).map(Some),
        }
    }

    pub fn opt_i64(obj: &Json, key: &str, path: &str) -> Result<Option<i64>> {
        match obj.get(key) {
            None | Some(Json::Null) => Ok(None),
            Some(Json::Number(n)) => n
                .as_i64()
                .map(Some)
                .ok_or_else(|| type_mismatch(&join(path, key), "an integer")),
            // Meta sends Unix times as strings of digits.
            Some(Json::String(s)) => s
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| type_mismatch(&join(path, key), "an integer")),
            Some(_) => Err(type_mismatch(&join(path, key), "an integer")),
        }
    }

    /// Free text bounded in length: longer is a 422 naming the field.
    pub fn text(obj: &Json, key: &str, path: &str, max: usize) -> Result<Option<String>> {
        let Some(s) = opt_str(obj, key, path)? else {
            return Ok(None);
        };
        if s.chars().count() > max {
            return Err(Error::invalid(
                join(path, key),
                format!("at most {max} characters"),
            ));
        }
        Ok(Some(s.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> Event {
        Event::new(
            "k".into(),
            identity(Channel::Telegram, "1", "external_id").unwrap(),
        )
    }

    #[test]
    fn full_names_split_at_the_first_space() {
        let mut e = event();
        e.set_full_name("  Ana   Lima ");
        assert_eq!(
            (e.first_name.as_deref(), e.last_name.as_deref()),
            (Some("Ana"), Some("Lima"))
        );
        e.set_full_name("Ana Maria Lima");
        assert_eq!(
            (e.first_name.as_deref(), e.last_name.as_deref()),
            (Some("Ana"), Some("Maria Lima"))
        );
        e.set_full_name("Ana");
        assert_eq!(
            (e.first_name.as_deref(), e.last_name.as_deref()),
            (Some("Ana"), None)
        );
        e.set_full_name("   ");
        assert_eq!((e.first_name, e.last_name), (None, None));
    }

    #[test]
    fn wa_ids_are_international_numbers() {
        let p = international_phone("16315551181", Region::default()).unwrap();
        assert_eq!(p.e164(), "+16315551181");
        assert_eq!(
            international_phone("5521998765432", Region::default())
                .unwrap()
                .e164(),
            "+5521998765432"
        );
        // National parts starting with "1", the default region's national prefix: read by
        // their own country's rules (São Paulo, a German mobile).
        for wa_id in ["5511998765432", "4915123456789"] {
            let p = international_phone(wa_id, Region::default()).unwrap();
            assert_eq!(p.e164(), format!("+{wa_id}"));
        }
        assert!(international_phone("12ab", Region::default()).is_none());
        assert!(international_phone("", Region::default()).is_none());
    }

    #[test]
    fn unix_times_become_stored_timestamps() {
        assert_eq!(
            unix_seconds(1_700_000_000).unwrap(),
            "2023-11-14T22:13:20.000Z"
        );
        assert_eq!(
            unix_millis(1_700_000_000_123).unwrap(),
            "2023-11-14T22:13:20.123Z"
        );
    }

    #[test]
    fn paths_name_the_culprit() {
        let v = json!({"a": {"b": 3, "s": "x", "n": null}});
        let a = path::get(&v, "a", "").unwrap();
        assert_eq!(
            path::req_str(a, "b", "a").unwrap_err(),
            Error::Malformed {
                detail: "a.b: expected a string".into(),
                field: Some("a.b".into())
            }
        );
        assert_eq!(path::opt_str(a, "n", "a").unwrap(), None);
        assert!(
            matches!(path::get(a, "zz", "a"), Err(Error::Malformed { field: Some(f), .. }) if f == "a.zz")
        );
        assert_eq!(path::id(a, "b", "a").unwrap(), "3");
        assert_eq!(path::array(a, "missing", "a").unwrap().len(), 0);
        assert!(path::array(a, "s", "a").is_err());
        assert!(matches!(
            path::text(a, "s", "a", 0),
            Err(Error::Invalid { .. })
        ));
    }
}
