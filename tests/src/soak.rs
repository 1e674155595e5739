//! The webhook soak: many chat events from many identities over the three hook endpoints,
//! concurrent senders, redeliveries, identities racing from several senders at once, and
//! (optionally) the host SIGKILLed at random moments and restarted on the same state dir,
//! the senders retrying whatever got no answer. Then the state is checked against what was
//! sent: exactly one contact per identity, one association per conversation, every event
//! recorded once, `PRAGMA integrity_check` ok. Shared by a bounded test (CI) and the
//! `soak` benchmark (the full size, with figures).

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};

use crate::bench::Figures;
use crate::{webhooks, App, Resp};

#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Distinct events (each sent at least once).
    pub events: usize,
    pub identities: usize,
    pub senders: usize,
    /// One event in this many is delivered a second time (10: 10%).
    pub redeliver_every: usize,
    /// How many times the host is SIGKILLed during the run (needs `App::start_in_child`).
    pub kills: usize,
}

/// What a run measured and found.
pub struct Report {
    /// Latency of the deliveries that got an answer.
    pub figures: Figures,
    pub max: Duration,
    /// Deliveries sent (first deliveries and redeliveries), each answered in the end.
    pub deliveries: usize,
    /// Attempts that got no answer (the host was down or killed mid-request) and were retried.
    pub retried: usize,
    pub kills: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Hook {
    Generic,
    WhatsApp,
    Telegram,
}

/// One delivery as its platform sends it.
struct Delivery {
    hook: Hook,
    body: Vec<u8>,
}

/// An answer: its status and whether the hook called the event a duplicate.
struct Answer {
    event: usize,
    status: u16,
    duplicate: Option<bool>,
}

fn identity_of(event: usize, plan: &Plan) -> usize {
    event % plan.identities
}

fn hook_of(identity: usize) -> Hook {
    match identity % 3 {
        0 => Hook::Generic,
        1 => Hook::WhatsApp,
        _ => Hook::Telegram,
    }
}

fn delivery(event: usize, plan: &Plan) -> Delivery {
    let who = identity_of(event, plan);
    let hook = hook_of(who);
    let body = match hook {
        Hook::Generic => json!({
            "event_id": format!("soak-ev-{event}"),
            "channel": "web_chat",
            "external_id": format!("soak-visitor-{who}"),
            "name": format!("Visitor {who}"),
            "conversation_id": format!("soak-conv-{who}"),
        }),
        Hook::WhatsApp => webhooks::whatsapp_text(
            &format!("4477009{who:05}"),
            &format!("Wa {who}"),
            &format!("wamid.soak.{event}"),
        ),
        Hook::Telegram => webhooks::telegram_message(
            event as u64 + 1,
            7_000_000 + who as u64,
            "Tg",
            &format!("User{who}"),
        ),
    };
    Delivery {
        hook,
        body: body.to_string().into_bytes(),
    }
}

/// The order deliveries are taken in: a deterministic shuffle, then redeliveries spread after
/// their originals, and a few bursts of one new identity's distinct events side by side so
/// that several senders race to create the same contact.
fn schedule(plan: &Plan) -> Vec<usize> {
    let mut order: Vec<usize> = (0..plan.events).collect();
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..order.len()).rev() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        order.swap(i, (state >> 33) as usize % (i + 1));
    }
    // Bursts: the identities' own events, consecutive, at the very start (all new then).
    let burst_identities = (plan.identities / 20).max(1);
    let mut front: Vec<usize> = Vec::new();
    for who in 0..burst_identities {
        front.extend(
            (who..plan.events)
                .step_by(plan.identities)
                .take(plan.senders),
        );
    }
    order.retain(|e| !front.contains(e));
    let originals: Vec<usize> = front.into_iter().chain(order).collect();
    let mut sched = originals.clone();
    for (pos, event) in originals.iter().enumerate() {
        if event % plan.redeliver_every == 0 {
            let at = (pos + 3 * plan.senders + event % 97).min(sched.len());
            sched.insert(at, *event);
        }
    }
    sched
}

fn send(agent: &ureq::Agent, base: &str, d: &Delivery) -> Result<Resp, String> {
    let (path, header, value) = match d.hook {
        Hook::Generic => (
            "/hooks/events",
            "x-contacts-signature",
            webhooks::sign(webhooks::secret("events_hmac_secret"), &d.body),
        ),
        Hook::WhatsApp => (
            "/hooks/meta",
            "x-hub-signature-256",
            webhooks::sign(webhooks::secret("meta_app_secret"), &d.body),
        ),
        Hook::Telegram => (
            "/hooks/telegram",
            "x-telegram-bot-api-secret-token",
            webhooks::secret("telegram_secret_token").to_owned(),
        ),
    };
    let result = agent
        .post(&format!("{base}{path}"))
        .set("content-type", "application/json")
        .set(header, &value)
        .send_bytes(&d.body);
    Resp::read(result)
}

/// The hook's verdict on the one event a delivery carries.
fn duplicate_flag(resp: &Resp) -> Option<bool> {
    let item = match resp.body.get("results") {
        Some(results) => results.get(0)?,
        None => &resp.body,
    };
    item.get("duplicate").and_then(Json::as_bool)
}

/// Runs `plan` against `app` (started with [`webhooks::SECRETS`]; in a child process when
/// `plan.kills > 0`), checks every promise, and returns the figures. Panics on any broken one.
pub fn run(app: &mut App, plan: &Plan) -> Report {
    let deliveries: Vec<Delivery> = (0..plan.events).map(|e| delivery(e, plan)).collect();
    let sched = schedule(plan);
    let next = AtomicUsize::new(0);
    let retried = AtomicUsize::new(0);
    let answers: Mutex<Vec<Answer>> = Mutex::new(Vec::with_capacity(sched.len()));
    let samples: Mutex<Vec<Duration>> = Mutex::new(Vec::with_capacity(sched.len()));
    let base = app.base_url();
    let started = Instant::now();
    let mut kills = 0;
    thread::scope(|s| {
        let senders: Vec<_> = (0..plan.senders)
            .map(|_| {
                s.spawn(|| {
                    let agent = ureq::AgentBuilder::new()
                        .timeout(Duration::from_secs(30))
                        .build();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(&event) = sched.get(i) else {
                            break;
                        };
                        let d = &deliveries[event];
                        // A platform retries until it gets an answer; so do we, bounded.
                        let deadline = Instant::now() + Duration::from_secs(120);
                        let resp = loop {
                            let t = Instant::now();
                            match send(&agent, &base, d) {
                                Ok(resp) => {
                                    samples.lock().unwrap().push(t.elapsed());
                                    break resp;
                                }
                                Err(e) => {
                                    assert!(Instant::now() < deadline, "event {event}: {e}");
                                    retried.fetch_add(1, Ordering::Relaxed);
                                    thread::sleep(Duration::from_millis(50));
                                }
                            }
                        };
                        answers.lock().unwrap().push(Answer {
                            event,
                            status: resp.status,
                            duplicate: duplicate_flag(&resp),
                        });
                    }
                })
            })
            .collect();
        // The killer: SIGKILL at spread-out moments while senders are busy, then restart.
        let total = sched.len();
        for k in 0..plan.kills {
            let at = total * (k + 1) / (plan.kills + 1);
            while next.load(Ordering::Relaxed) < at {
                thread::sleep(Duration::from_millis(2));
            }
            app.kill();
            kills += 1;
            thread::sleep(Duration::from_millis(200));
            app.restart();
        }
        for sender in senders {
            sender.join().expect("sender thread");
        }
    });
    let wall = started.elapsed();
    let answers = answers.into_inner().unwrap();
    check_answers(&answers, plan, kills > 0);
    check_state(&app.state_dir().join("sqlite_db.db"), plan);
    let samples = samples.into_inner().unwrap();
    let max = samples.iter().copied().max().unwrap_or_default();
    Report {
        figures: Figures::of(samples, wall),
        max,
        deliveries: answers.len(),
        retried: retried.into_inner(),
        kills,
    }
}

/// Every delivery answered 200; of an event's deliveries exactly one was processed (not a
/// duplicate) — or, when the host was killed, at most one (an attempt killed after its
/// commit leaves the retry to answer `duplicate`).
fn check_answers(answers: &[Answer], plan: &Plan, killed: bool) {
    let mut fresh = vec![0usize; plan.events];
    let mut sent = vec![0usize; plan.events];
    for a in answers {
        assert_eq!(a.status, 200, "event {} answered {}", a.event, a.status);
        let dup = a
            .duplicate
            .unwrap_or_else(|| panic!("event {}: no duplicate flag", a.event));
        sent[a.event] += 1;
        if !dup {
            fresh[a.event] += 1;
        }
    }
    for event in 0..plan.events {
        let expected_sends = if event % plan.redeliver_every == 0 {
            2
        } else {
            1
        };
        assert_eq!(sent[event], expected_sends, "event {event} answers");
        if killed {
            assert!(
                fresh[event] <= 1,
                "event {event} processed {} times",
                fresh[event]
            );
        } else {
            assert_eq!(
                fresh[event], 1,
                "event {event} processed {} times",
                fresh[event]
            );
        }
    }
}

/// The database holds exactly what was sent, once.
fn check_state(db: &Path, plan: &Plan) {
    let conn =
        rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("opening the state database");
    let one = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).expect(sql) };
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(integrity, "ok");
    let n = plan.identities as i64;
    assert_eq!(
        one("SELECT count(*) FROM contacts"),
        n,
        "one contact per identity"
    );
    assert_eq!(one("SELECT count(*) FROM identities"), n);
    assert_eq!(
        one("SELECT count(DISTINCT contact_rowid) FROM identities"),
        n,
        "no contact holds two identities"
    );
    assert_eq!(
        one("SELECT count(*) FROM conversations"),
        n,
        "one association per conversation"
    );
    assert_eq!(
        one("SELECT count(*) FROM contacts WHERE conversation_count != 1"),
        0,
        "conversation counts"
    );
    assert_eq!(
        one("SELECT count(*) FROM processed_events"),
        plan.events as i64,
        "every event recorded once"
    );
}

/// The same deliveries, in the same order and from as many threads, processed natively on a
/// database file in `dir` (a fresh connection per delivery, as Spin opens one per request):
/// the floor the host's figures are measured against.
pub fn run_native(dir: &Path, plan: &Plan) -> Figures {
    use contacts_core::hooks::autocreate::{self, generic, meta, telegram};
    use contacts_core::kernel::native::{MemoryKv, NativeSql};
    use contacts_core::kernel::values::Region;

    let path = dir.join("sqlite_db.db");
    let first = NativeSql::open(&path).expect("native db");
    contacts_core::kernel::schema::ensure(&first).expect("schema");
    let deliveries: Vec<Delivery> = (0..plan.events).map(|e| delivery(e, plan)).collect();
    let sched = schedule(plan);
    let next = AtomicUsize::new(0);
    let samples: Mutex<Vec<Duration>> = Mutex::new(Vec::with_capacity(sched.len()));
    let started = Instant::now();
    thread::scope(|s| {
        for _ in 0..plan.senders {
            s.spawn(|| {
                // Empty: the settings were never in key-value here.
                let legacy = MemoryKv::default();
                while let Some(&event) = sched.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let d = &deliveries[event];
                    let t = Instant::now();
                    let body: Json = serde_json::from_slice(&d.body).expect("delivery body");
                    let events = match d.hook {
                        Hook::Generic => {
                            vec![generic::parse(&body, Region::default()).expect("event")]
                        }
                        Hook::WhatsApp => meta::parse(&body, Region::default()).expect("events"),
                        Hook::Telegram => telegram::parse(&body)
                            .expect("update")
                            .into_iter()
                            .collect(),
                    };
                    let db = NativeSql::open(&path).expect("native db");
                    contacts_core::kernel::schema::ensure(&db).expect("schema");
                    autocreate::receive(&db, &|| Ok(&legacy), &events).expect("native process");
                    samples.lock().unwrap().push(t.elapsed());
                }
            });
        }
    });
    check_state(&path, plan);
    Figures::of(samples.into_inner().unwrap(), started.elapsed())
}
