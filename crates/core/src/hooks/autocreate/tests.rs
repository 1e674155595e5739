//! Resolution, exactly-once and blocking, on rusqlite with the real schema.

use std::cell::Cell;

use serde_json::json;

use super::*;
use crate::contacts::contact::Identity;
use crate::contacts::repo::Ctx;
use crate::hooks::blocks;
use crate::kernel::native::{MemoryKv, NativeSql};
use crate::kernel::schema;
use crate::kernel::store::{DbError, Rows};
use crate::kernel::values::{Email, Phone, Region};

fn db() -> NativeSql {
    let db = NativeSql::open_in_memory();
    schema::ensure(&db).unwrap();
    db
}

fn defaults() -> AutocreateSettings {
    settings(json!({ "channels": {} }))
}

fn settings(doc: serde_json::Value) -> AutocreateSettings {
    AutocreateSettings::parse(&doc).unwrap()
}

fn ev(key: &str, channel: Channel, external: &str) -> Event {
    Event::new(
        key.into(),
        Identity::parse(channel.as_str(), external).unwrap(),
    )
}

fn one(db: &dyn Sql, s: &AutocreateSettings, e: Event) -> Outcome {
    let mut out = process(db, s, &[e]).unwrap();
    assert_eq!(out.len(), 1);
    out.remove(0)
}

fn count(db: &dyn Sql, sql: &str) -> i64 {
    db.execute(sql, &[]).unwrap().scalar_i64().unwrap()
}

fn manual(db: &NativeSql, body: serde_json::Value) -> Contact {
    let cat = Catalogue::load(db).unwrap();
    repo::create(
        Ctx {
            db,
            catalogue: &cat,
            region: Region::default(),
            actor: "admin",
        },
        &body,
    )
    .unwrap()
    .contact
}

fn whatsapp(key: &str, wa_id: &str, name: &str) -> Event {
    let mut e = ev(key, Channel::Whatsapp, wa_id);
    e.set_full_name(name);
    e.phone = Some(Phone::parse(&format!("+{wa_id}"), Region::default()).unwrap());
    e.conversation_id = Some(format!("biz:{wa_id}"));
    e
}

#[test]
fn a_new_sender_becomes_a_contact_with_identity_and_conversation() {
    let db = db();
    let mut e = whatsapp("whatsapp:wamid.1", "5521998765432", "Ana Lima");
    e.occurred_at = Some("2026-01-02T03:04:05.000Z".into());
    let out = one(&db, &defaults(), e);
    assert!(out.created && !out.dropped && !out.duplicate);
    let c = repo::load(&db, out.contact_id.as_deref().unwrap()).unwrap();
    assert_eq!(c.text("first_name"), Some("Ana"));
    assert_eq!(c.text("last_name"), Some("Lima"));
    assert_eq!(c.text("display_name"), Some("Ana Lima"));
    assert_eq!(c.text("phone_e164"), Some("+5521998765432"));
    assert_eq!(c.text("lead_stage"), Some("contact"));
    assert_eq!(c.text("source_channel"), Some("whatsapp"));
    assert_eq!(c.text("created_by"), Some("system:whatsapp"));
    assert_eq!(c.text("last_activity_at"), Some("2026-01-02T03:04:05.000Z"));
    assert_eq!(c.int("conversation_count"), 1);
    assert_eq!(c.identities[0].external_id, "5521998765432");
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM contact_keys WHERE kind = 'phone' AND value = '+5521998765432'"
        ),
        1
    );
    let (history, _) = history::page(&db, c.contact_id(), None, 5).unwrap();
    assert_eq!(history[0]["action"], "create");
    assert_eq!(history[0]["actor"], "system:whatsapp");
    let fields = history[0]["fields"].as_array().unwrap();
    assert!(fields.contains(&json!("first_name")) && fields.contains(&json!("identities")));
}

#[test]
fn a_redelivered_event_changes_nothing() {
    let db = db();
    let first = one(
        &db,
        &defaults(),
        whatsapp("whatsapp:wamid.1", "16505551234", "Sheena Nelson"),
    );
    let before = repo::load(&db, first.contact_id.as_deref().unwrap()).unwrap();
    for _ in 0..3 {
        let again = one(
            &db,
            &defaults(),
            whatsapp("whatsapp:wamid.1", "16505551234", "Sheena Nelson"),
        );
        assert_eq!(
            again,
            Outcome {
                contact_id: first.contact_id.clone(),
                duplicate: true,
                ..Outcome::default()
            }
        );
    }
    assert_eq!(repo::load(&db, before.contact_id()).unwrap(), before);
    assert_eq!(count(&db, "SELECT count(*) FROM contacts"), 1);
    assert_eq!(count(&db, "SELECT count(*) FROM processed_events"), 1);
}

#[test]
fn a_delivery_as_received_reads_its_rules_and_redeliveries_in_one_statement() {
    let db = db();
    let legacy = MemoryKv::default();
    let legacy: LegacyKv = &|| Ok(&legacy);
    // Web chat off: its unknown senders create nothing, so the rules were read.
    settings(json!({ "channels": { "web_chat": { "enabled": false, "match": [], "lead_stage": "lead" } } }))
        .save(&db)
        .unwrap();
    let events = [
        whatsapp("whatsapp:wamid.1", "16505551234", "Sheena Nelson"),
        ev("webchat:1", Channel::WebChat, "visitor-1"),
    ];
    let first = receive(&db, legacy, &events).unwrap();
    assert!(first[0].created && first[0].contact_id.is_some());
    assert_eq!(first[1], Outcome::default());

    let counting = FailingAt {
        inner: &db,
        n: usize::MAX,
        seen: Cell::new(0),
    };
    let again = receive(&counting, legacy, &events).unwrap();
    assert_eq!(counting.seen.get(), 1, "a redelivery is one read");
    let duplicate = |contact_id: Option<String>| Outcome {
        contact_id,
        duplicate: true,
        ..Outcome::default()
    };
    assert_eq!(
        again,
        vec![duplicate(first[0].contact_id.clone()), duplicate(None)]
    );

    // One event new: the delivery is applied, the old one answered as a duplicate.
    let mixed = [
        events[0].clone(),
        whatsapp("whatsapp:wamid.2", "16505559876", "Kai Tan"),
    ];
    let out = receive(&db, legacy, &mixed).unwrap();
    assert_eq!(out[0], duplicate(first[0].contact_id.clone()));
    assert!(out[1].created);
    assert_eq!(count(&db, "SELECT count(*) FROM contacts"), 2);
}

#[test]
fn known_identities_keep_activity_and_count_conversations() {
    let db = db();
    let s = defaults();
    let id = one(&db, &s, whatsapp("k1", "16505551234", "Sheena Nelson"))
        .contact_id
        .unwrap();
    let version = repo::load(&db, &id).unwrap().version();
    let mut same_thread = whatsapp("k2", "16505551234", "Sheena Nelson");
    same_thread.occurred_at = Some("2030-01-01T00:00:00.000Z".into());
    let out = one(&db, &s, same_thread);
    assert_eq!(
        (out.contact_id.as_deref(), out.created),
        (Some(id.as_str()), false)
    );
    let mut other_thread = whatsapp("k3", "16505551234", "Sheena Nelson");
    other_thread.conversation_id = Some("biz2:16505551234".into());
    one(&db, &s, other_thread);
    let c = repo::load(&db, &id).unwrap();
    assert_eq!(c.int("conversation_count"), 2);
    assert_eq!(c.version(), version, "activity alone is not an edit");
    assert_eq!(count(&db, "SELECT count(*) FROM contacts"), 1);
    assert_eq!(count(&db, "SELECT count(*) FROM identities"), 1);
}

#[test]
fn future_times_are_capped_at_now() {
    let db = db();
    let mut e = ev("k", Channel::Sms, "s1");
    e.occurred_at = Some("2999-01-01T00:00:00.000Z".into());
    let id = one(&db, &defaults(), e).contact_id.unwrap();
    let at = repo::load(&db, &id)
        .unwrap()
        .text("last_activity_at")
        .unwrap()
        .to_owned();
    assert!(at < time::now() || at == time::now());
}

#[test]
fn a_verified_email_attaches_the_new_identity_to_its_contact() {
    let db = db();
    let existing = manual(
        &db,
        json!({"first_name": "Ana", "email": "ana@example.com"}),
    );
    let mut e = ev("event:1", Channel::WebChat, "visitor-1");
    e.email = Some(Email::parse("ANA@example.com").unwrap());
    e.conversation_id = Some("c1".into());
    let out = one(&db, &defaults(), e);
    assert_eq!(out.contact_id.as_deref(), Some(existing.contact_id()));
    assert!(!out.created);
    let c = repo::load(&db, existing.contact_id()).unwrap();
    assert_eq!(c.identities.len(), 1);
    assert_eq!(c.identities[0].external_id, "visitor-1");
    assert_eq!(c.version(), existing.version() + 1);
    assert_eq!(c.int("conversation_count"), 1);
    let (history, _) = history::page(&db, c.contact_id(), None, 5).unwrap();
    assert_eq!(history[0]["action"], "update");
    assert_eq!(history[0]["fields"], json!(["identities"]));
    assert_eq!(history[0]["actor"], "system:web_chat");
}

#[test]
fn phones_match_on_every_key_a_contact_carries() {
    let db = db();
    let existing = manual(
        &db,
        json!({"email": "x@example.com", "secondary_phones": ["+1 650 555 1234"]}),
    );
    let out = one(
        &db,
        &defaults(),
        whatsapp("k", "16505551234", "Sheena Nelson"),
    );
    assert_eq!(out.contact_id.as_deref(), Some(existing.contact_id()));
}

#[test]
fn match_keys_follow_the_rules_order() {
    let db = db();
    let by_email = manual(&db, json!({"email": "ana@example.com"}));
    let by_phone = manual(&db, json!({"phone": "+1 650 555 1234"}));
    let event = |key: &str, ext: &str| {
        let mut e = ev(key, Channel::Sms, ext);
        e.email = Some(Email::parse("ana@example.com").unwrap());
        e.phone = Some(Phone::parse("+16505551234", Region::default()).unwrap());
        e
    };
    let out = one(&db, &defaults(), event("k1", "a"));
    assert_eq!(out.contact_id.as_deref(), Some(by_email.contact_id()));
    let phone_first = settings(
        json!({"channels": {"sms": {"enabled": true, "match": ["phone", "email"], "lead_stage": "contact"}}}),
    );
    let out = one(&db, &phone_first, event("k2", "b"));
    assert_eq!(out.contact_id.as_deref(), Some(by_phone.contact_id()));
}

#[test]
fn without_matching_a_taken_email_becomes_a_secondary_value() {
    let db = db();
    let existing = manual(
        &db,
        json!({"email": "ana@example.com", "phone": "+1 650 555 1234"}),
    );
    let no_match = settings(
        json!({"channels": {"web_chat": {"enabled": true, "match": [], "lead_stage": "customer"}}}),
    );
    let mut e = ev("k", Channel::WebChat, "v1");
    e.first_name = Some("Ana".into());
    e.email = Some(Email::parse("ana@example.com").unwrap());
    e.phone = Some(Phone::parse("+16505551234", Region::default()).unwrap());
    let out = one(&db, &no_match, e);
    assert!(out.created);
    let c = repo::load(&db, out.contact_id.as_deref().unwrap()).unwrap();
    assert_ne!(c.contact_id(), existing.contact_id());
    assert_eq!(c.text("email"), None);
    assert_eq!(c.text("secondary_emails"), Some(r#"["ana@example.com"]"#));
    assert_eq!(c.text("secondary_phone_keys"), Some(r#"["+16505551234"]"#));
    assert_eq!(c.text("lead_stage"), Some("customer"));
    assert_eq!(repo::possible_duplicates(&db, c.rowid).unwrap(), 1);
}

#[test]
fn web_chat_visitors_without_a_name_get_a_readable_one() {
    let db = db();
    let mut e = ev("k", Channel::WebChat, "visitor-42");
    e.visitor = event::Visitor {
        ip: Some("203.0.113.9".into()),
        browser: Some("Firefox".into()),
        os: Some("Linux".into()),
        page_url: Some("https://shop.example/".into()),
    };
    let out = one(&db, &defaults(), e);
    let c = repo::load(&db, out.contact_id.as_deref().unwrap()).unwrap();
    let (adjective, animal) = visitor_name("visitor-42");
    assert_eq!(
        c.text("display_name"),
        Some(format!("{adjective} {animal}").as_str())
    );
    assert_eq!(c.text("lead_stage"), Some("lead"));
    assert_eq!(c.text("browser"), Some("Firefox"));
    assert_eq!(c.text("page_url"), Some("https://shop.example/"));
    assert_eq!(c.text("visitor_ip"), Some("203.0.113.9"));
    assert_eq!(visitor_name("visitor-42"), visitor_name("visitor-42"));
    assert_ne!(visitor_name("visitor-42"), visitor_name("visitor-43"));
}

#[test]
fn other_channels_without_a_name_are_named_by_the_social_id() {
    let db = db();
    let out = one(&db, &defaults(), ev("k", Channel::Messenger, "PSID_9"));
    let c = repo::load(&db, out.contact_id.as_deref().unwrap()).unwrap();
    assert_eq!(c.text("display_name"), Some("PSID_9"));
    assert_eq!(c.text("first_name"), None);
}

#[test]
fn a_disabled_channel_creates_nothing_but_keeps_known_senders_current() {
    let db = db();
    let known = one(&db, &defaults(), ev("k0", Channel::Telegram, "42")).contact_id;
    let off = settings(
        json!({"channels": {"telegram": {"enabled": false, "match": ["email"], "lead_stage": "lead"}}}),
    );
    let out = one(&db, &off, ev("k1", Channel::Telegram, "43"));
    assert_eq!(out, Outcome::default());
    assert_eq!(count(&db, "SELECT count(*) FROM contacts"), 1);
    let mut e = ev("k2", Channel::Telegram, "42");
    e.conversation_id = Some("42".into());
    let out = one(&db, &off, e);
    assert_eq!(out.contact_id, known);
    let c = repo::load(&db, known.as_deref().unwrap()).unwrap();
    assert_eq!(c.int("conversation_count"), 1);
    // A disabled channel does not attach new identities by email either.
    manual(&db, json!({"email": "bo@example.com"}));
    let mut e = ev("k3", Channel::Telegram, "44");
    e.email = Some(Email::parse("bo@example.com").unwrap());
    assert_eq!(one(&db, &off, e), Outcome::default());
    assert_eq!(count(&db, "SELECT count(*) FROM identities"), 1);
}

#[test]
fn a_blocked_senders_events_are_dropped_and_counted_only() {
    let db = db();
    let s = defaults();
    let id = one(&db, &s, whatsapp("k1", "16505551234", "Sheena Nelson"))
        .contact_id
        .unwrap();
    blocks::block(&db, "admin", &[ContactId::parse(&id).unwrap()]).unwrap();
    let before = repo::load(&db, &id).unwrap();
    let mut e = whatsapp("k2", "16505551234", "Sheena Nelson");
    e.conversation_id = Some("new-thread".into());
    let out = one(&db, &s, e);
    assert_eq!(
        out,
        Outcome {
            contact_id: Some(id.clone()),
            dropped: true,
            ..Outcome::default()
        }
    );
    let after = repo::load(&db, &id).unwrap();
    assert_eq!(after.int("dropped_message_count"), 1);
    let mut expected = before.clone();
    expected.set("dropped_message_count", 1);
    assert_eq!(after, expected, "nothing but the counter changed");
    assert_eq!(count(&db, "SELECT count(*) FROM conversations"), 1);

    // Found by email: the new identity is not recorded either.
    let mut e = ev("k3", Channel::Telegram, "77");
    e.phone = Some(Phone::parse("+16505551234", Region::default()).unwrap());
    assert!(one(&db, &s, e).dropped);
    assert_eq!(count(&db, "SELECT count(*) FROM identities"), 1);

    blocks::unblock(&db, "admin", &id).unwrap();
    let out = one(&db, &s, whatsapp("k4", "16505551234", "Sheena Nelson"));
    assert!(!out.dropped);
    assert_eq!(
        repo::load(&db, &id).unwrap().int("dropped_message_count"),
        2
    );
}

#[test]
fn a_batch_answers_each_event_and_sees_its_own_writes() {
    let db = db();
    let s = defaults();
    one(&db, &s, ev("seen", Channel::Sms, "a"));
    let out = process(
        &db,
        &s,
        &[
            ev("seen", Channel::Sms, "a"),
            ev("n1", Channel::Sms, "b"),
            ev("n2", Channel::Sms, "b"),
            ev("n2", Channel::Sms, "b"),
        ],
    )
    .unwrap();
    let flags: Vec<(bool, bool)> = out.iter().map(|o| (o.created, o.duplicate)).collect();
    assert_eq!(
        flags,
        vec![(false, true), (true, false), (false, false), (false, true)]
    );
    assert_eq!(out[1].contact_id, out[2].contact_id);
    assert_eq!(count(&db, "SELECT count(*) FROM contacts"), 2);
}

/// Fails the `n`-th statement, to show a delivery is all or nothing.
struct FailingAt<'a> {
    inner: &'a NativeSql,
    n: usize,
    seen: Cell<usize>,
}

impl Sql for FailingAt<'_> {
    fn execute(&self, sql: &str, params: &[Value]) -> std::result::Result<Rows, DbError> {
        self.seen.set(self.seen.get() + 1);
        if self.seen.get() == self.n {
            return Err(DbError::Sqlite("disk I/O error".into()));
        }
        self.inner.execute(sql, params)
    }
    fn last_insert_rowid(&self) -> i64 {
        self.inner.last_insert_rowid()
    }
    fn changes(&self) -> u64 {
        self.inner.changes()
    }
}

#[test]
fn a_failure_midway_leaves_no_trace() {
    let db = db();
    let events = [ev("a", Channel::Sms, "1"), ev("b", Channel::Sms, "2")];
    let statements = {
        let probe = self::db();
        let counting = FailingAt {
            inner: &probe,
            n: usize::MAX,
            seen: Cell::new(0),
        };
        process(&counting, &defaults(), &events).unwrap();
        counting.seen.get()
    };
    // Fail each statement after BEGIN in turn (COMMIT failing included).
    for n in 3..statements {
        let failing = FailingAt {
            inner: &db,
            n,
            seen: Cell::new(0),
        };
        assert!(
            process(&failing, &defaults(), &events).is_err(),
            "statement {n}"
        );
        for table in [
            "contacts",
            "identities",
            "processed_events",
            "history",
            "contact_keys",
        ] {
            assert_eq!(
                count(&db, &format!("SELECT count(*) FROM {table}")),
                0,
                "{table} after failing statement {n}"
            );
        }
    }
    assert_eq!(process(&db, &defaults(), &events).unwrap().len(), 2);
}

#[test]
fn event_keys_are_bounded_in_number_and_age() {
    let db = db();
    let s = defaults();
    let tight = Retention {
        max_age_days: 7,
        max_rows: 3,
        batch: 2,
        every: 1,
    };
    for i in 0..10 {
        process_with(&db, &s, &[ev(&format!("k{i}"), Channel::Sms, "x")], tight).unwrap();
    }
    // Each transaction prunes after adding its key: at most max_rows + 1 remain.
    assert!(count(&db, "SELECT count(*) FROM processed_events") <= 4);
    assert_eq!(
        count(
            &db,
            "SELECT count(*) FROM processed_events WHERE event_key = 'k9'"
        ),
        1
    );

    let db2 = self::db();
    for i in 0..5 {
        db2.execute(
            "INSERT INTO processed_events (event_key, received_at) VALUES (?, '2000-01-01T00:00:00.000Z')",
            &[format!("old{i}").into()],
        )
        .unwrap();
    }
    let loose = Retention {
        max_age_days: 7,
        max_rows: 1_000,
        batch: 3,
        every: 1,
    };
    process_with(&db2, &s, &[ev("new1", Channel::Sms, "x")], loose).unwrap();
    assert_eq!(
        count(
            &db2,
            "SELECT count(*) FROM processed_events WHERE event_key LIKE 'old%'"
        ),
        2
    );
    process_with(&db2, &s, &[ev("new2", Channel::Sms, "x")], loose).unwrap();
    assert_eq!(
        count(&db2, "SELECT count(*) FROM processed_events"),
        2,
        "only the fresh keys stay"
    );
}

/// Pruning runs only in the transactions whose key id is a multiple of `every`.
#[test]
fn keys_are_pruned_every_nth_event() {
    let db = db();
    let s = defaults();
    let sparse = Retention {
        max_age_days: 7,
        max_rows: 1,
        batch: 10,
        every: 4,
    };
    for i in 1..=3 {
        process_with(&db, &s, &[ev(&format!("k{i}"), Channel::Sms, "x")], sparse).unwrap();
    }
    assert_eq!(count(&db, "SELECT count(*) FROM processed_events"), 3);
    process_with(&db, &s, &[ev("k4", Channel::Sms, "x")], sparse).unwrap();
    assert_eq!(
        count(&db, "SELECT count(*) FROM processed_events WHERE id < 4"),
        0,
        "the fourth key's transaction pruned down to the newest"
    );
}

/// A new contact's conversation is counted on insert; one that another contact holds
/// already (a thread that changed hands) is not its, and counts 0.
#[test]
fn a_new_contact_counts_only_a_conversation_it_holds() {
    let db = db();
    let mut first = ev("k1", Channel::Telegram, "111");
    first.conversation_id = Some("chat-9".into());
    let a = one(&db, &defaults(), first).contact_id.unwrap();
    let mut second = ev("k2", Channel::Telegram, "222");
    second.conversation_id = Some("chat-9".into());
    let b = one(&db, &defaults(), second).contact_id.unwrap();
    assert_eq!(repo::load(&db, &a).unwrap().int("conversation_count"), 1);
    assert_eq!(repo::load(&db, &b).unwrap().int("conversation_count"), 0);
    let mut third = ev("k3", Channel::Telegram, "333");
    third.conversation_id = Some("chat-10".into());
    let c = one(&db, &defaults(), third).contact_id.unwrap();
    assert_eq!(repo::load(&db, &c).unwrap().int("conversation_count"), 1);
}

#[test]
fn racing_deliveries_for_one_new_identity_make_one_contact() {
    let dir = tempfile_dir();
    let path = dir.join("race.db");
    schema::ensure(&NativeSql::open(&path).unwrap()).unwrap();
    let threads: Vec<_> = (0..12)
        .map(|i| {
            let path = path.clone();
            std::thread::spawn(move || {
                let db = NativeSql::open(&path).unwrap();
                let key = format!("k{}", i % 6);
                process(
                    &db,
                    &defaults(),
                    &[whatsapp(&key, "16505551234", "Sheena Nelson")],
                )
                .unwrap()
            })
        })
        .collect();
    let outcomes: Vec<Outcome> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    let db = NativeSql::open(&path).unwrap();
    assert_eq!(count(&db, "SELECT count(*) FROM contacts"), 1);
    assert_eq!(count(&db, "SELECT count(*) FROM identities"), 1);
    assert_eq!(outcomes.iter().filter(|o| o.created).count(), 1);
    assert_eq!(outcomes.iter().filter(|o| o.duplicate).count(), 6);
    let ids: std::collections::HashSet<_> = outcomes.iter().map(|o| o.contact_id.clone()).collect();
    assert_eq!(ids.len(), 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("contacts-autocreate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
