//! Meta's webhook payloads, as Meta sends them to one callback URL:
//! - WhatsApp Cloud API: `object: "whatsapp_business_account"`,
//!   `entry[].changes[]` with `field: "messages"` and `value.{metadata, contacts[], messages[]}`;
//!   status-only deliveries (`value.statuses[]`) carry no sender and yield no event.
//! - Messenger (`object: "page"`) and Instagram (`object: "instagram"`): `entry[].messaging[]`
//!   with `sender.id`, `recipient.id`, `timestamp` (ms) and one of `message`, `postback`,
//!   `referral`, `optin`. Echoes of the page's own messages and receipts (`delivery`,
//!   `read`) are not from a contact and yield no event.

use serde_json::Value as Json;

use super::event::{self, path, Event, MAX_TEXT_LEN};
use crate::kernel::error::{Error, Result};
use crate::kernel::values::{Channel, Region};

/// The contact events of one delivery, in payload order.
pub fn parse(body: &Json, region: Region) -> Result<Vec<Event>> {
    if !body.is_object() {
        return Err(Error::malformed("the body must be a JSON webhook object"));
    }
    let object = path::req_str(body, "object", "")?;
    let source = match object {
        "whatsapp_business_account" => None,
        "page" => Some(Channel::Messenger),
        "instagram" => Some(Channel::Instagram),
        other => {
            return Err(Error::invalid(
                "object",
                format!("'{other}' is not an object this hook takes (whatsapp_business_account, page, instagram)"),
            ))
        }
    };
    let mut events = Vec::new();
    for (i, entry) in path::array(body, "entry", "")?.iter().enumerate() {
        let at = path::index("entry", i);
        let entry = path::object(entry, &at)?;
        match source {
            None => whatsapp_entry(entry, &at, region, &mut events)?,
            Some(channel) => messaging_entry(entry, &at, channel, &mut events)?,
        }
    }
    Ok(events)
}

fn whatsapp_entry(entry: &Json, at: &str, region: Region, out: &mut Vec<Event>) -> Result<()> {
    for (j, change) in path::array(entry, "changes", at)?.iter().enumerate() {
        let at = path::index(&path::join(at, "changes"), j);
        let change = path::object(change, &at)?;
        // Other fields (account updates, templates) are not about a contact.
        if path::opt_str(change, "field", &at)? != Some("messages") {
            continue;
        }
        let vat = path::join(&at, "value");
        let value = path::object(path::get(change, "value", &at)?, &vat)?;
        let business = match value.get("metadata") {
            Some(m) if !m.is_null() => {
                path::opt_id(m, "phone_number_id", &path::join(&vat, "metadata"))?
            }
            _ => None,
        };
        let contacts = path::array(value, "contacts", &vat)?;
        for (k, message) in path::array(value, "messages", &vat)?.iter().enumerate() {
            let mat = path::index(&path::join(&vat, "messages"), k);
            let message = path::object(message, &mat)?;
            let wa_id = path::id(message, "from", &mat)?;
            let id = path::id(message, "id", &mat)?;
            let identity = event::identity(Channel::Whatsapp, &wa_id, &path::join(&mat, "from"))?;
            let mut ev = Event::new(format!("whatsapp:{id}"), identity);
            if let Some(name) = profile_name(contacts, &wa_id, &vat)? {
                ev.set_full_name(&name);
            }
            ev.phone = event::international_phone(&wa_id, region);
            // The thread between this business number and this WhatsApp user.
            ev.conversation_id = business.as_ref().map(|b| format!("{b}:{wa_id}"));
            ev.occurred_at =
                path::opt_i64(message, "timestamp", &mat)?.and_then(event::unix_seconds);
            out.push(ev);
        }
    }
    Ok(())
}

/// The sender's `profile.name` from `value.contacts[]`: the entry whose `wa_id` is the
/// sender, else the only entry.
fn profile_name(contacts: &[Json], wa_id: &str, vat: &str) -> Result<Option<String>> {
    let cat = path::join(vat, "contacts");
    let mut only = None;
    for (i, contact) in contacts.iter().enumerate() {
        let at = path::index(&cat, i);
        let contact = path::object(contact, &at)?;
        let name = match contact.get("profile") {
            Some(p) if !p.is_null() => {
                path::text(p, "name", &path::join(&at, "profile"), MAX_TEXT_LEN)?
            }
            _ => None,
        };
        if path::opt_id(contact, "wa_id", &at)?.as_deref() == Some(wa_id) {
            return Ok(name);
        }
        only = name;
    }
    Ok(if contacts.len() == 1 { only } else { None })
}

fn messaging_entry(entry: &Json, at: &str, channel: Channel, out: &mut Vec<Event>) -> Result<()> {
    let page = path::opt_id(entry, "id", at)?;
    for (j, item) in path::array(entry, "messaging", at)?.iter().enumerate() {
        let iat = path::index(&path::join(at, "messaging"), j);
        let item = path::object(item, &iat)?;
        let Some(key) = messaging_key(item, &iat, channel)? else {
            continue;
        };
        let sat = path::join(&iat, "sender");
        let sender = path::id(
            path::object(path::get(item, "sender", &iat)?, &sat)?,
            "id",
            &sat,
        )?;
        let recipient = match item.get("recipient") {
            Some(r) if !r.is_null() => path::opt_id(r, "id", &path::join(&iat, "recipient"))?,
            _ => None,
        };
        let identity = event::identity(channel, &sender, &path::join(&sat, "id"))?;
        let mut ev = Event::new(key, identity);
        // The thread between this page (or Instagram account) and this person.
        ev.conversation_id = recipient.or(page.clone()).map(|p| format!("{p}:{sender}"));
        ev.occurred_at = path::opt_i64(item, "timestamp", &iat)?.and_then(event::unix_millis);
        out.push(ev);
    }
    Ok(())
}

/// The idempotency key of a messaging item that comes from the person, or `None` for an
/// echo or a receipt. Messages and postbacks carry a message id (`mid`); the rest are keyed
/// by sender and time, which Meta keeps on redelivery.
fn messaging_key(item: &Json, at: &str, channel: Channel) -> Result<Option<String>> {
    let prefix = channel.as_str();
    if let Some(message) = item.get("message").filter(|m| !m.is_null()) {
        let mat = path::join(at, "message");
        let message = path::object(message, &mat)?;
        if message.get("is_echo").and_then(Json::as_bool) == Some(true) {
            return Ok(None);
        }
        return Ok(Some(format!(
            "{prefix}:{}",
            path::id(message, "mid", &mat)?
        )));
    }
    for kind in ["postback", "referral", "optin"] {
        let Some(v) = item.get(kind).filter(|v| !v.is_null()) else {
            continue;
        };
        let kat = path::join(at, kind);
        if let Some(mid) = path::opt_id(path::object(v, &kat)?, "mid", &kat)? {
            return Ok(Some(format!("{prefix}:{mid}")));
        }
        let sat = path::join(at, "sender");
        let sender = path::id(
            path::object(path::get(item, "sender", at)?, &sat)?,
            "id",
            &sat,
        )?;
        let ts = path::opt_i64(item, "timestamp", at)?.ok_or_else(|| Error::Malformed {
            detail: format!("{at}.timestamp: missing"),
            field: Some(path::join(at, "timestamp")),
        })?;
        return Ok(Some(format!("{prefix}:{kind}:{sender}:{ts}")));
    }
    Ok(None)
}

#[cfg(test)]
mod tests;
