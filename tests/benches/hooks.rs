//! Webhook events through the host, next to the same work done natively on the same
//! database file (not a test; prints figures).
//!
//! `cargo bench -p contacts-e2e --bench hooks` (CONTACTS=<n> to change the database size,
//! default 1,000,000; HOOKS_BENCH_SECONDS for each measurement's length, default 5;
//! JOURNAL=wal to switch the database file to WAL first — the mode persists in the file, so
//! the host's fresh connections use it too — for comparing with Spin's default rollback
//! journal); HOOKS_MANIFEST=<spin.toml> to serve another build of the components (e.g. one
//! not pre-initialized) instead of building the workspace's.
//!
//! Cases, each with 1 and 4 concurrent senders (keep-alive connections), one event per
//! delivery:
//! - new identity: a Telegram update from a user never seen (resolve, create, identity,
//!   conversation, history); a web-chat generic event (HMAC checked) from a new visitor;
//!   a WhatsApp message from a new number (HMAC checked, and the phone parsed to E.164:
//!   this pays the `phonenumber` crate's first-use cost in every fresh instance).
//! - existing identity: a Telegram update from a user created by the first case.
//! - redelivery: an update already processed (answered from one read, no write lock).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use contacts_core::hooks::autocreate::{self, telegram, Event};
use contacts_core::kernel::native::{MemoryKv, NativeSql};
use contacts_core::kernel::schema;
use contacts_core::kernel::values::Region;
use contacts_e2e::bench::{self, ms, Figures};
use contacts_e2e::webhooks::{self, secret, sign};
use contacts_e2e::{seed, workspace_root, ADMIN};
use serde_json::{json, Value as Json};

const WARMUP: Duration = Duration::from_millis(500);

fn row(name: &str, conns: usize, f: &Figures) {
    println!(
        "| {name} | {conns} | {:.0} | {} | {} | {} |",
        f.per_sec,
        ms(f.p50),
        ms(f.p99),
        f.n
    );
}

/// Sends `delivery(i)` from `conns` threads for `run` after a warm-up; every answer must be
/// 200 with the expected flags (`check`).
fn load(
    conns: usize,
    run: Duration,
    counter: Arc<AtomicU64>,
    delivery: impl Fn(&ureq::Agent, u64) -> Result<Json, String> + Send + Sync + 'static,
) -> Figures {
    bench::load(conns, WARMUP, run, counter, move |agent, _, i| {
        delivery(agent, i).map(drop)
    })
}

/// The one result of a batch answer, checked against the expected flags (`created: None`:
/// either, for a new identity whose phone may belong to a seeded contact).
fn expect(body: Json, created: Option<bool>, duplicate: bool) -> Result<Json, String> {
    let r = if body.get("results").is_some() {
        body["results"][0].clone()
    } else {
        body
    };
    let created_ok = created.is_none_or(|c| r["created"] == c);
    if created_ok
        && r["contact_id"].is_string()
        && r["duplicate"] == duplicate
        && r["dropped"] == false
    {
        Ok(r)
    } else {
        Err(format!("unexpected outcome {r}"))
    }
}

/// Telegram user ids of case `case` never collide with another case's.
fn user_id(case: u64, i: u64) -> u64 {
    case * 1_000_000_000 + i
}

fn post_telegram(agent: &ureq::Agent, base: &str, update: &Json) -> Result<Json, String> {
    bench::answer(
        agent
            .post(&format!("{base}/hooks/telegram"))
            .set(
                "x-telegram-bot-api-secret-token",
                secret("telegram_secret_token"),
            )
            .set("content-type", "application/json")
            .send_string(&update.to_string()),
        200,
    )
}

fn post_signed(
    agent: &ureq::Agent,
    url: String,
    header: &str,
    key: &str,
    body: &Json,
) -> Result<Json, String> {
    let body = body.to_string();
    bench::answer(
        agent
            .post(&url)
            .set(header, &sign(key, body.as_bytes()))
            .set("content-type", "application/json")
            .send_string(&body),
        200,
    )
}

fn main() {
    let contacts = seed::bench_size();
    let run = Duration::from_secs_f64(
        std::env::var("HOOKS_BENCH_SECONDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5.0),
    );
    // The phone library's first-use cost, which every fresh instance pays (natively here;
    // more in wasm): the first parse in this process, before anything else parsed a phone,
    // against the next ones.
    let t0 = Instant::now();
    let _ = contacts_core::kernel::values::Phone::parse("+12122345678", Region::default());
    let first = t0.elapsed();
    let t0 = Instant::now();
    for _ in 0..100 {
        let _ = contacts_core::kernel::values::Phone::parse("+12122345679", Region::default());
    }
    let phone_first = (first, t0.elapsed() / 100);
    eprintln!("seeding or reusing {contacts} contacts…");
    let cached = seed::state_dir(contacts);
    let state = seed::writable_copy(&cached);
    let journal = std::env::var("JOURNAL").unwrap_or_else(|_| "delete".into());
    rusqlite::Connection::open(state.path().join("sqlite_db.db"))
        .and_then(|c| c.pragma_update(None, "journal_mode", &journal))
        .expect("journal mode");
    let manifest = match std::env::var("HOOKS_MANIFEST") {
        Ok(path) => path.into(),
        Err(_) => {
            let manifest = workspace_root().join("spin.toml");
            spin_host::build_once(&manifest).expect("build");
            manifest
        }
    };
    let mut variables: std::collections::HashMap<String, String> = webhooks::SECRETS
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    variables.insert("admin_token".into(), ADMIN.into());
    contacts_e2e::bench::print_host_settings(spin_host::HostMode::Spin);
    let host = spin_host::start(spin_host::HostConfig {
        manifest,
        listen: "127.0.0.1:0".parse().expect("address"),
        state_dir: state.path().to_path_buf(),
        variables,
        mode: spin_host::HostMode::Spin,
    })
    .expect("host");
    let base = Arc::new(host.base_url());

    println!(
        "contacts in the database: {contacts}; {} s per measurement",
        run.as_secs_f64()
    );
    println!(
        "phonenumber parse (native): first in a process {} ms, then {} ms each",
        ms(phone_first.0),
        ms(phone_first.1)
    );
    println!("| case | senders | events/s | p50 ms | p99 ms | events |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    // Case 1 creates the users that case 2 then writes as; ids count from 0 across runs.
    let created = Arc::new(AtomicU64::new(0));
    // 8 senders: writers queued for the lock (issue 17's writers-under-load figure).
    for conns in [1, 4, 8] {
        let b = Arc::clone(&base);
        let f = load(conns, run, Arc::clone(&created), move |agent, i| {
            let update = webhooks::telegram_message(
                user_id(1, i),
                user_id(1, i),
                "Bench",
                &format!("New{i}"),
            );
            expect(post_telegram(agent, &b, &update)?, Some(true), false)
        });
        row("new identity (Telegram)", conns, &f);
    }
    let known = created.load(Ordering::Relaxed);
    let updates = Arc::new(AtomicU64::new(0));
    for conns in [1, 4, 8] {
        let b = Arc::clone(&base);
        let f = load(conns, run, Arc::clone(&updates), move |agent, i| {
            // A fresh update id from an existing user, in that user's chat.
            let user = user_id(1, i % known);
            let update = webhooks::telegram_message(user_id(2, i), user, "Bench", "Known");
            expect(post_telegram(agent, &b, &update)?, Some(false), false)
        });
        row("existing identity (Telegram)", conns, &f);
    }
    for conns in [1, 4] {
        let b = Arc::clone(&base);
        let f = load(conns, run, Arc::new(AtomicU64::new(0)), move |agent, i| {
            // Update ids of case 1: all processed already.
            let n = i % known;
            let update = webhooks::telegram_message(
                user_id(1, n),
                user_id(1, n),
                "Bench",
                &format!("New{n}"),
            );
            expect(post_telegram(agent, &b, &update)?, Some(false), true)
        });
        row("redelivery (Telegram)", conns, &f);
    }
    for conns in [1, 4] {
        let b = Arc::clone(&base);
        let f = load(
            conns,
            run,
            Arc::new(AtomicU64::new(conns as u64 * 10_000_000)),
            move |agent, i| {
                let event = json!({"event_id": format!("bench-{i}"), "channel": "web_chat", "external_id": format!("visitor-{i}"),
                               "conversation_id": format!("conv-{i}"),
                               "visitor": {"ip": "203.0.113.7", "browser": "Firefox 128", "os": "Linux", "page_url": "https://shop.example/"}});
                expect(
                    post_signed(
                        agent,
                        format!("{b}/hooks/events"),
                        "x-contacts-signature",
                        secret("events_hmac_secret"),
                        &event,
                    )?,
                    Some(true),
                    false,
                )
            },
        );
        row("new identity (generic web_chat, HMAC)", conns, &f);
    }
    for conns in [1, 4] {
        let b = Arc::clone(&base);
        let f = load(
            conns,
            run,
            Arc::new(AtomicU64::new(conns as u64 * 100_000)),
            move |agent, i| {
                // +1 212 555 0100-0199 style numbers are reserved; use valid US numbers 212-2xx-xxxx.
                let wa_id = format!("1212{:03}{:04}", 200 + (i / 10_000) % 800, i % 10_000);
                let payload =
                    webhooks::whatsapp_text(&wa_id, "Bench Person", &format!("wamid.bench.{i}"));
                expect(
                    post_signed(
                        agent,
                        format!("{b}/hooks/meta"),
                        "x-hub-signature-256",
                        secret("meta_app_secret"),
                        &payload,
                    )?,
                    None,
                    false,
                )
            },
        );
        row("new identity (WhatsApp, HMAC + E.164 parse)", conns, &f);
    }
    drop(host);

    // The same events processed natively on the same database: the floor the host is
    // measured against (no instance, no HTTP, no host-call overhead). "reused" keeps one
    // connection with its statement cache; "fresh" opens one per event, as Spin does per
    // request (schema parse and statement compilation every time).
    let path = state.path().join("sqlite_db.db");
    let reused = NativeSql::open(&path).expect("native db");
    let legacy = MemoryKv::default();
    let native = |fresh: bool, n: u64, make: &dyn Fn(u64) -> Event| {
        let mut samples = Vec::with_capacity(n as usize);
        let started = Instant::now();
        for i in 0..n {
            let ev = make(i);
            let t0 = Instant::now();
            let opened;
            let db = if fresh {
                opened = NativeSql::open(&path).expect("native db");
                schema::ensure(&opened).expect("schema");
                &opened
            } else {
                &reused
            };
            autocreate::receive(db, &|| Ok(&legacy), &[ev]).expect("native process");
            samples.push(t0.elapsed());
        }
        Figures::of(samples, started.elapsed())
    };
    let tg = |update: Json| telegram::parse(&update).expect("update").expect("event");
    for (fresh, label, base) in [(false, "reused", 5), (true, "fresh", 7)] {
        let f = native(fresh, 3_000, &|i| {
            tg(webhooks::telegram_message(
                user_id(base, i),
                user_id(base, i),
                "Native",
                "New",
            ))
        });
        row(
            &format!("new identity (Telegram), native {label} conn"),
            1,
            &f,
        );
        let f = native(fresh, 3_000, &|i| {
            tg(webhooks::telegram_message(
                user_id(base + 1, i),
                user_id(base, i),
                "Native",
                "Known",
            ))
        });
        row(
            &format!("existing identity (Telegram), native {label} conn"),
            1,
            &f,
        );
        let f = native(fresh, 3_000, &|i| {
            tg(webhooks::telegram_message(
                user_id(base, i),
                user_id(base, i),
                "Native",
                "New",
            ))
        });
        row(
            &format!("redelivery (Telegram), native {label} conn"),
            1,
            &f,
        );
    }
}
