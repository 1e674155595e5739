//! Auto-create (SPEC §2): contacts from chat-platform events, exactly once.
//!
//! An [`Event`] (parsed from a generic, Meta or Telegram payload) is resolved to a contact,
//! in order: its identity (channel, external id) → its email → its E.164 phone → a new
//! contact. Email and phone match on `contact_keys` (every normalized email and phone a
//! contact carries: primary, mobile, secondary), in the order the channel's rule lists them,
//! a contact holding the key as its primary value first. A disabled channel resolves by
//! identity only: known senders keep their activity, unknown ones create nothing.
//!
//! Exactly once: a delivery's events are applied in one `BEGIN IMMEDIATE` transaction, and
//! each event's key is inserted into `processed_events` (UNIQUE) before anything it changes,
//! so a redelivered or racing duplicate finds the key and changes nothing; the identity's
//! primary key makes a second contact for one identity impossible. The keys live in SQLite,
//! not key-value, because only a write in the same transaction as the contact makes the pair
//! atomic. They are bounded in age and number: each write transaction prunes a small batch
//! of the oldest keys past either bound.
//!
//! Blocked contacts: the event is acknowledged as dropped; only `dropped_message_count` and
//! the event key are written (no identity, conversation or activity).

pub mod event;
pub mod generic;
pub mod meta;
pub mod telegram;

use chrono::{Duration, Utc};
use serde_json::{json, Value as Json};

pub use event::Event;

use crate::contacts::contact::{changed_keys, Contact};
use crate::contacts::history;
use crate::contacts::repo;
use crate::contacts::settings::{Also, AutocreateSettings, ChannelRule, LegacyKv};
use crate::kernel::error::{Error, Result};
use crate::kernel::fields::Catalogue;
use crate::kernel::store::{write_tx, Sql, Value};
use crate::kernel::values::{time, Channel, ContactId};
use crate::search;

/// Part of schema version 1: the keys of events already applied.
pub const SCHEMA: &[&str] = &[
    // `id` grows with arrival, so the oldest keys are the first rows: pruning reads a few
    // rows from the start of the table, never scans it.
    "CREATE TABLE processed_events (
        id INTEGER PRIMARY KEY,
        event_key TEXT NOT NULL UNIQUE,
        contact_id TEXT,
        received_at TEXT NOT NULL
    )",
];

/// How long and how many event keys are kept.
#[derive(Debug, Clone, Copy)]
pub struct Retention {
    /// Platforms stop redelivering well within this (Meta retries for up to a day or so,
    /// Telegram for hours).
    pub max_age_days: i64,
    pub max_rows: i64,
    /// At most this many keys are deleted per pruning: it never makes one request slow, and
    /// at one key added per event it outpaces the growth (`batch / every` per event).
    pub batch: i64,
    /// Pruning runs in the transaction that records a key whose id is a multiple of this:
    /// a statement fewer inside the write lock for the other events.
    pub every: i64,
}

pub const RETENTION: Retention = Retention {
    max_age_days: 7,
    max_rows: 1_000_000,
    batch: 64,
    every: 8,
};

/// A write transaction that could not get the lock within the busy timeout is tried again
/// this many times before the delivery fails (and the platform retries it).
const BUSY_RETRIES: u32 = 2;

/// What happened to one event: the answer a hook gives per event (SPEC §8).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outcome {
    pub contact_id: Option<String>,
    pub created: bool,
    pub dropped: bool,
    pub duplicate: bool,
}

impl Outcome {
    pub fn to_json(&self) -> Json {
        json!({
            "contact_id": self.contact_id,
            "created": self.created,
            "dropped": self.dropped,
            "duplicate": self.duplicate,
        })
    }
}

/// Applies a delivery as it arrives: the channel rules and which of its events were applied
/// before are read in one statement, then as [`process`].
pub fn receive(db: &dyn Sql, legacy: LegacyKv, events: &[Event]) -> Result<Vec<Outcome>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let also = Also {
        expression: &seen_sql(Also::FIRST_PARAM, events.len()),
        params: keys(events),
    };
    let (settings, seen) = AutocreateSettings::load_also(db, legacy, also)?;
    replay_or_apply(db, &settings, events, seen, RETENTION)
}

/// Applies one delivery's events, all or nothing, and says what happened to each, under
/// rules the caller already has; a hook's request uses [`receive`], which reads them with
/// the redelivery check.
pub fn process(
    db: &dyn Sql,
    settings: &AutocreateSettings,
    events: &[Event],
) -> Result<Vec<Outcome>> {
    process_with(db, settings, events, RETENTION)
}

pub fn process_with(
    db: &dyn Sql,
    settings: &AutocreateSettings,
    events: &[Event],
    retention: Retention,
) -> Result<Vec<Outcome>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!("SELECT {}", seen_sql(1, events.len()));
    let seen = db.execute(&sql, &keys(events))?.scalar().cloned();
    replay_or_apply(db, settings, events, seen, retention)
}

fn keys(events: &[Event]) -> Vec<Value> {
    events.iter().map(|e| e.key.as_str().into()).collect()
}

/// The events of a delivery applied before, as a JSON array of `[key, contact_id]`; the
/// events' keys are its parameters, numbered from `first`.
fn seen_sql(first: usize, events: usize) -> String {
    let params: Vec<String> = (first..first + events).map(|n| format!("?{n}")).collect();
    format!(
        "(SELECT json_group_array(json_array(event_key, contact_id)) \
          FROM processed_events WHERE event_key IN ({}))",
        params.join(", ")
    )
}

/// A redelivery (every event applied before) is answered from `seen`, without taking the
/// write lock; anything else is applied.
fn replay_or_apply(
    db: &dyn Sql,
    settings: &AutocreateSettings,
    events: &[Event],
    seen: Option<Value>,
    retention: Retention,
) -> Result<Vec<Outcome>> {
    if let Some(outcomes) = replayed(events, seen)? {
        return Ok(outcomes);
    }
    let mut attempt = 0;
    loop {
        let result = write_tx(db, || {
            let mut outcomes = Vec::with_capacity(events.len());
            let mut prune_due = false;
            let mut upkeep_due = false;
            for ev in events {
                let (outcome, key_id) = apply(db, settings, ev)?;
                prune_due |= key_id.is_some_and(|id| id % retention.every == 0);
                // Only a new contact adds to the search indexes; activity and identities
                // do not.
                upkeep_due |= outcome.created && key_id.is_some_and(search::upkeep_due);
                outcomes.push(outcome);
            }
            if prune_due {
                prune(db, retention)?;
            }
            if upkeep_due {
                search::upkeep(db)?;
            }
            Ok(outcomes)
        });
        match result {
            Err(Error::Storage(m)) if is_busy(&m) && attempt < BUSY_RETRIES => attempt += 1,
            other => return other,
        }
    }
}

fn is_busy(message: &str) -> bool {
    message.contains("database is locked") || message.contains("database is busy")
}

/// The outcomes of a delivery whose every event was applied before, if it is one.
fn replayed(events: &[Event], seen: Option<Value>) -> Result<Option<Vec<Outcome>>> {
    let seen: Vec<(String, Option<String>)> = match seen.and_then(Value::into_string) {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| Error::Storage(format!("processed events: {e}")))?,
        None => Vec::new(),
    };
    let contact_of = |key: &str| {
        seen.iter()
            .find(|(k, _)| k == key)
            .map(|(_, contact_id)| contact_id.clone())
    };
    Ok(events
        .iter()
        .map(|e| contact_of(&e.key).map(duplicate))
        .collect())
}

fn duplicate(contact_id: Option<String>) -> Outcome {
    Outcome {
        contact_id,
        duplicate: true,
        ..Outcome::default()
    }
}

/// Deletes up to `batch` of the oldest keys that are past the age or count bound.
fn prune(db: &dyn Sql, retention: Retention) -> Result<()> {
    let cutoff = time::format(Utc::now() - Duration::days(retention.max_age_days));
    db.execute(
        "DELETE FROM processed_events WHERE id IN \
           (SELECT id FROM processed_events ORDER BY id LIMIT ?1) \
         AND (id <= (SELECT max(id) FROM processed_events) - ?2 OR received_at < ?3)",
        &[
            retention.batch.into(),
            retention.max_rows.into(),
            cutoff.into(),
        ],
    )?;
    Ok(())
}

/// The contact an event resolved to.
struct Found {
    rowid: i64,
    contact_id: String,
    blocked: bool,
    /// Found by the event's own identity (else by email or phone: the identity is new).
    by_identity: bool,
}

/// Applies one event; with its outcome, the id its key was recorded under (`None` for a
/// duplicate).
fn apply(
    db: &dyn Sql,
    settings: &AutocreateSettings,
    ev: &Event,
) -> Result<(Outcome, Option<i64>)> {
    let rule = settings.rule(ev.channel());
    let now = time::now();
    // A sender's clock in the future must not push activity ahead of real time.
    let at = match &ev.occurred_at {
        Some(t) if *t < now => t.clone(),
        _ => now.clone(),
    };
    let found = resolve(db, &rule, ev)?;
    let new_id = (found.is_none() && rule.enabled).then(ContactId::generate);
    let answer_id = found
        .as_ref()
        .map(|f| f.contact_id.clone())
        .or_else(|| new_id.as_ref().map(|id| id.as_str().to_owned()));
    // The key goes in before any change: a duplicate stops here with nothing written.
    let Some(key_id) = remember(db, &ev.key, answer_id.as_deref(), &now)? else {
        let rows = db.execute(
            "SELECT contact_id FROM processed_events WHERE event_key = ?",
            &[ev.key.as_str().into()],
        )?;
        let outcome = duplicate(rows.scalar().and_then(Value::as_str).map(str::to_owned));
        return Ok((outcome, None));
    };
    let outcome = match (found, new_id) {
        (Some(f), _) if f.blocked => {
            db.execute(
                "UPDATE contacts SET dropped_message_count = dropped_message_count + 1 WHERE id = ?",
                &[f.rowid.into()],
            )?;
            Outcome {
                contact_id: Some(f.contact_id),
                dropped: true,
                ..Outcome::default()
            }
        }
        (Some(f), _) => {
            if !f.by_identity {
                attach_identity(db, &f, ev, &now)?;
            }
            touch(db, f.rowid, ev, &at, !f.by_identity)?;
            Outcome {
                contact_id: Some(f.contact_id),
                ..Outcome::default()
            }
        }
        (None, Some(id)) => {
            let contact_id = create(db, &rule, ev, id, &at)?;
            if answer_id.as_deref() != Some(contact_id.as_str()) {
                // The generated Contact ID was taken and replaced on insert.
                db.execute(
                    "UPDATE processed_events SET contact_id = ? WHERE event_key = ?",
                    &[contact_id.as_str().into(), ev.key.as_str().into()],
                )?;
            }
            Outcome {
                contact_id: Some(contact_id),
                created: true,
                ..Outcome::default()
            }
        }
        // Auto-create is off for this channel and the sender is unknown.
        (None, None) => Outcome::default(),
    };
    Ok((outcome, Some(key_id)))
}

/// Records the event key; its id, or `None` when it was there already.
fn remember(db: &dyn Sql, key: &str, contact_id: Option<&str>, now: &str) -> Result<Option<i64>> {
    let rows = db.execute(
        "INSERT INTO processed_events (event_key, contact_id, received_at) VALUES (?, ?, ?) \
         ON CONFLICT (event_key) DO NOTHING RETURNING id",
        &[key.into(), contact_id.into(), now.into()],
    )?;
    Ok(rows.scalar_i64())
}

/// Identity first, then the rule's match keys in order, as one statement.
fn resolve(db: &dyn Sql, rule: &ChannelRule, ev: &Event) -> Result<Option<Found>> {
    let mut parts = vec![
        "SELECT 0 AS step, c.id AS id, c.contact_id, c.blocked, 1 AS held_as_primary \
         FROM identities i JOIN contacts c ON c.id = i.contact_rowid \
         WHERE i.channel = ? AND i.external_id = ?"
            .to_owned(),
    ];
    let mut params: Vec<Value> = vec![
        ev.channel().as_str().into(),
        ev.identity.external_id.as_str().into(),
    ];
    if rule.enabled {
        for (step, kind) in rule.match_keys.iter().enumerate() {
            let (value, primary) = match kind.as_str() {
                "email" => (ev.email.as_ref().map(|e| e.normalized()), "email_norm"),
                "phone" => (ev.phone.as_ref().map(|p| p.e164()), "phone_e164"),
                _ => continue,
            };
            let Some(value) = value else { continue };
            // `kind` and `primary` come from the two literals above, never from input.
            parts.push(format!(
                "SELECT {}, c.id, c.contact_id, c.blocked, coalesce(c.{primary} = k.value, 0) \
                 FROM contact_keys k JOIN contacts c ON c.id = k.contact_rowid \
                 WHERE k.kind = '{kind}' AND k.value = ?",
                step + 1
            ));
            params.push(value.into());
        }
    }
    let sql = format!(
        "{} ORDER BY step, held_as_primary DESC, id LIMIT 1",
        parts.join(" UNION ALL ")
    );
    let rows = db.execute(&sql, &params)?;
    let Some(row) = rows.rows.into_iter().next() else {
        return Ok(None);
    };
    let int = |i: usize| row.get(i).and_then(Value::as_i64).unwrap_or(0);
    Ok(Some(Found {
        rowid: int(1),
        contact_id: row
            .get(2)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        blocked: int(3) != 0,
        by_identity: int(0) == 0,
    }))
}

fn actor(channel: Channel) -> String {
    format!("system:{channel}")
}

/// A contact found by email or phone gains the event's identity.
fn attach_identity(db: &dyn Sql, found: &Found, ev: &Event, now: &str) -> Result<()> {
    db.execute(
        "INSERT INTO identities (channel, external_id, contact_rowid, created_at) VALUES (?, ?, ?, ?)",
        &[
            ev.channel().as_str().into(),
            ev.identity.external_id.as_str().into(),
            found.rowid.into(),
            now.into(),
        ],
    )?;
    history::record(
        db,
        &found.contact_id,
        "update",
        &actor(ev.channel()),
        &["identities".to_owned()],
    )?;
    Ok(())
}

/// Keeps activity current: the conversation's first/last seen, `last_activity_at`, and
/// `conversation_count` (recounted, so it cannot drift). `changed` also bumps the version,
/// for a contact whose identities changed; activity alone does not, so an agent's open edit
/// is not made stale by every incoming message.
fn touch(db: &dyn Sql, rowid: i64, ev: &Event, at: &str, changed: bool) -> Result<()> {
    upsert_conversation(db, rowid, ev, at)?;
    update_activity(db, rowid, ev, at, changed)
}

/// Records the event's conversation, if it has one (or widens its first/last seen);
/// whether contact `rowid` holds it (a conversation stays with the contact that first had
/// it).
fn upsert_conversation(db: &dyn Sql, rowid: i64, ev: &Event, at: &str) -> Result<bool> {
    let Some(conversation) = &ev.conversation_id else {
        return Ok(false);
    };
    let holder = db.execute(
        "INSERT INTO conversations (channel, conversation_id, contact_rowid, first_seen, last_seen) \
         VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (channel, conversation_id) DO UPDATE SET \
         first_seen = min(first_seen, excluded.first_seen), last_seen = max(last_seen, excluded.last_seen) \
         RETURNING contact_rowid",
        &[
            ev.channel().as_str().into(),
            conversation.as_str().into(),
            rowid.into(),
            at.into(),
        ],
    )?;
    Ok(holder.scalar_i64() == Some(rowid))
}

fn update_activity(db: &dyn Sql, rowid: i64, ev: &Event, at: &str, changed: bool) -> Result<()> {
    db.execute(
        "UPDATE contacts SET last_activity_at = max(coalesce(last_activity_at, ''), ?2), \
           conversation_count = CASE WHEN ?3 THEN (SELECT count(*) FROM conversations WHERE contact_rowid = ?1) \
                                     ELSE conversation_count END, \
           version = version + ?4, \
           updated_at = CASE WHEN ?4 THEN ?5 ELSE updated_at END \
         WHERE id = ?1",
        &[
            rowid.into(),
            at.into(),
            ev.conversation_id.is_some().into(),
            changed.into(),
            time::now().into(),
        ],
    )?;
    Ok(())
}

/// Creates the sender's contact; returns its Contact ID.
fn create(db: &dyn Sql, rule: &ChannelRule, ev: &Event, id: ContactId, at: &str) -> Result<String> {
    let actor = actor(ev.channel());
    let mut contact = Contact::new(id, &actor);
    // The conversation the event opens is counted on insert, a statement fewer inside the
    // lock (one that another contact holds already is recounted after). Set before the
    // baseline: a count is activity, not one of the fields the `create` item lists.
    if ev.conversation_id.is_some() {
        contact.set("conversation_count", 1);
    }
    let blank = contact.clone();
    let (first, last) = match (&ev.first_name, &ev.last_name) {
        (None, None) if ev.channel() == Channel::WebChat => {
            let (adjective, animal) = visitor_name(&ev.identity.external_id);
            (Some(adjective.to_owned()), Some(animal.to_owned()))
        }
        (first, last) => (first.clone(), last.clone()),
    };
    contact.set("first_name", first);
    contact.set("last_name", last);
    if let Some(email) = &ev.email {
        contact.set("email", email.display());
        contact.set("email_norm", email.normalized());
    }
    if let Some(phone) = &ev.phone {
        contact.set("phone", phone.display());
        contact.set("phone_e164", phone.e164());
    }
    contact.set("lead_stage", rule.lead_stage.as_str());
    contact.set("source_channel", ev.channel().as_str());
    contact.set("visitor_ip", ev.visitor.ip.clone());
    contact.set("browser", ev.visitor.browser.clone());
    contact.set("os", ev.visitor.os.clone());
    contact.set("page_url", ev.visitor.page_url.clone());
    contact.set("language", ev.language.clone());
    contact.set("last_activity_at", at);
    contact.identities = vec![ev.identity.clone()];
    contact.derive_display_name();
    insert_demoting_taken_keys(db, &mut contact)?;
    if ev.conversation_id.is_some() && !upsert_conversation(db, contact.rowid, ev, at)? {
        update_activity(db, contact.rowid, ev, at, false)?;
    }
    let keys = changed_keys(&blank, &contact, &Catalogue::with_custom(vec![]));
    history::record(db, contact.contact_id(), "create", &actor, &keys)?;
    Ok(contact.contact_id().to_owned())
}

/// Inserts a new contact. An email or phone another contact holds as its primary value
/// (possible when the channel does not match on it) cannot be this one's primary too: it is
/// kept as a secondary value instead, which duplicate detection then reports.
fn insert_demoting_taken_keys(db: &dyn Sql, contact: &mut Contact) -> Result<()> {
    loop {
        let taken = match repo::insert(db, contact, true) {
            Err(Error::Conflict { field: Some(f), .. }) => f,
            other => return other,
        };
        let (col, norm, list, list_keys) = match taken.as_str() {
            "email" if contact.text("email").is_some() => {
                ("email", "email_norm", "secondary_emails", None)
            }
            "phone" if contact.text("phone").is_some() => (
                "phone",
                "phone_e164",
                "secondary_phones",
                Some("secondary_phone_keys"),
            ),
            _ => {
                return Err(Error::Storage(format!(
                    "auto-create: unexpected conflict on {taken}"
                )))
            }
        };
        let display = contact.text(col).map(str::to_owned);
        let key = contact.text(norm).map(str::to_owned);
        contact.set(list, Value::json(&[display]));
        if let Some(list_keys) = list_keys {
            contact.set(list_keys, Value::json(&[key]));
        }
        contact.set(col, Value::Null);
        contact.set(norm, Value::Null);
        contact.derive_display_name();
    }
}

const ADJECTIVES: [&str; 32] = [
    "Amber", "Azure", "Brave", "Bright", "Calm", "Clever", "Coral", "Cosmic", "Crimson", "Gentle",
    "Golden", "Happy", "Indigo", "Jolly", "Kind", "Lively", "Lucky", "Mellow", "Misty", "Noble",
    "Olive", "Quiet", "Rapid", "Rosy", "Silver", "Sunny", "Swift", "Teal", "Velvet", "Violet",
    "Witty", "Zesty",
];

const ANIMALS: [&str; 32] = [
    "Badger", "Beaver", "Bison", "Crane", "Dolphin", "Eagle", "Falcon", "Ferret", "Fox", "Gecko",
    "Heron", "Ibis", "Jaguar", "Koala", "Lemur", "Lynx", "Marten", "Moose", "Narwhal", "Otter",
    "Owl", "Panda", "Puffin", "Quokka", "Raven", "Robin", "Seal", "Sparrow", "Tiger", "Walrus",
    "Wombat", "Yak",
];

/// A readable name for a web-chat visitor who gave none ("Teal Otter"), the same for the
/// same visitor id every time.
pub fn visitor_name(visitor_id: &str) -> (&'static str, &'static str) {
    // FNV-1a: stable across builds, unlike std's hasher.
    let h = visitor_id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    });
    (
        ADJECTIVES[(h % 32) as usize],
        ANIMALS[((h >> 5) % 32) as usize],
    )
}

#[cfg(test)]
mod tests;
