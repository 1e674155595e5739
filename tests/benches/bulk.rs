//! Bulk actions on every contact through the host, next to the same change made natively
//! as set-based SQL on a copy of the same database, and chat events sent while a job runs
//! (not a test; prints figures).
//!
//! `cargo bench -p contacts-e2e --bench bulk` (CONTACTS=<n> to change the database size,
//! default 1,000,000; BULK_CASES=add_tags,set_field to run only these actions; BULK_CHAT=0
//! to leave out the chat events sent while a job runs).
//!
//! Cases: `add_tags`, `set_field` (a system text field) and `delete` (with its
//! `confirm_count`) on segment `all` (every seeded contact). Through the host the time is
//! the sum of every request the job took: `POST /api/bulk` (freezing the target set and
//! the first slice) and each `continue`, sent back to back by one client. Natively it is
//! the same change (contacts, tags, history) in one transaction of set-based statements,
//! each timed, on its own copy of the database; and the job itself natively (`bulk::submit`,
//! then `bulk::advance` until done, each on a fresh connection as each request has under
//! Spin): what slicing costs SQLite alone. Then `add_tags` once more on a fresh copy
//! with 4 senders posting Telegram updates from new users (each creates a contact, a write)
//! as fast as answered while the job runs: their latency against the same senders on an
//! idle host.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use contacts_core::bulk;
use contacts_core::kernel::fields::Catalogue;
use contacts_core::kernel::native::NativeSql;
use contacts_core::kernel::store::{write_tx, Sql};
use contacts_core::kernel::values::{time, Region};
use contacts_core::query::filter::Clock;
use contacts_e2e::bench::{answer, at, ms, Figures};
use contacts_e2e::webhooks::{self, secret};
use contacts_e2e::{seed, workspace_root, ADMIN};
use serde_json::{json, Value as Json};

const SENDERS: usize = 4;
const IDLE: Duration = Duration::from_secs(3);
/// The paced senders' interval: 4 senders, 80 events a second in all, about half of what
/// they reach unpaced on the idle host.
const PACE: Duration = Duration::from_millis(50);
/// How long the job runs beside saturating senders.
const SATURATED_FOR: Duration = Duration::from_secs(40);
/// A chat event slower than this misses the target while a job runs.
const SLOW: Duration = Duration::from_millis(100);

struct Case {
    name: &'static str,
    body: Json,
    /// The same change natively: each statement with a label, `?1` the time.
    native: &'static [(&'static str, &'static str)],
}

fn cases(n: u64) -> Vec<Case> {
    vec![
        Case {
            name: "add_tags",
            body: json!({"action": "add_tags", "params": {"tags": ["bulk-bench"]}}),
            native: &[
                ("history", "INSERT INTO history (contact_id, at, action, actor, fields) SELECT contact_id, ?1, 'update', 'admin', '[\"tags\"]' FROM contacts c WHERE c.blocked = 0 AND NOT EXISTS (SELECT 1 FROM contact_tags t WHERE t.contact_rowid = c.id AND t.tag = 'bulk-bench')"),
                ("contacts", "UPDATE contacts AS c SET version = version + 1, updated_at = ?1 WHERE c.blocked = 0 AND NOT EXISTS (SELECT 1 FROM contact_tags t WHERE t.contact_rowid = c.id AND t.tag = 'bulk-bench')"),
                ("tags", "INSERT OR IGNORE INTO contact_tags (contact_rowid, tag) SELECT id, 'bulk-bench' FROM contacts WHERE blocked = 0 AND ?1 IS NOT NULL"),
            ],
        },
        Case {
            name: "set_field",
            body: json!({"action": "set_field", "params": {"field": "company", "value": "Bulk Bench Inc"}}),
            native: &[
                ("history", "INSERT INTO history (contact_id, at, action, actor, fields) SELECT contact_id, ?1, 'update', 'admin', '[\"company\"]' FROM contacts c WHERE c.blocked = 0 AND c.company IS NOT 'Bulk Bench Inc'"),
                ("contacts", "UPDATE contacts AS c SET company = 'Bulk Bench Inc', version = version + 1, updated_at = ?1 WHERE c.blocked = 0 AND c.company IS NOT 'Bulk Bench Inc'"),
            ],
        },
        Case {
            name: "delete",
            body: json!({"action": "delete", "confirm_count": n}),
            native: &[
                ("history", "INSERT INTO history (contact_id, at, action, actor, fields) SELECT contact_id, ?1, 'delete', 'admin', '[]' FROM contacts c WHERE c.blocked = 0"),
                ("tags", "DELETE FROM contact_tags WHERE contact_rowid IN (SELECT id FROM contacts WHERE blocked = 0 AND ?1 IS NOT NULL)"),
                ("identities", "DELETE FROM identities WHERE contact_rowid IN (SELECT id FROM contacts WHERE blocked = 0 AND ?1 IS NOT NULL)"),
                ("conversations", "DELETE FROM conversations WHERE contact_rowid IN (SELECT id FROM contacts WHERE blocked = 0 AND ?1 IS NOT NULL)"),
                ("keys", "DELETE FROM contact_keys WHERE contact_rowid IN (SELECT id FROM contacts WHERE blocked = 0 AND ?1 IS NOT NULL)"),
                ("contacts", "DELETE FROM contacts WHERE blocked = 0 AND ?1 IS NOT NULL"),
            ],
        },
    ]
}

/// The native change: total and per statement.
fn native(seeded: &std::path::Path, case: &Case) -> (Duration, Vec<(&'static str, Duration)>) {
    let copy = seed::writable_copy(seeded);
    let db = NativeSql::open(&copy.path().join("sqlite_db.db")).expect("open");
    db.execute("SELECT count(*) FROM contacts", &[])
        .expect("warm");
    // The page cache a job's step has.
    db.execute(
        &format!("PRAGMA cache_size = -{}", bulk::SLICE_CACHE_KIB),
        &[],
    )
    .expect("cache size");
    let now = time::now();
    let mut parts = Vec::new();
    let t0 = Instant::now();
    write_tx(&db, || {
        for (label, sql) in case.native {
            let t = Instant::now();
            db.execute(sql, &[now.as_str().into()])?;
            parts.push((*label, t.elapsed()));
        }
        Ok::<_, contacts_core::kernel::store::DbError>(())
    })
    .expect("native change");
    (t0.elapsed(), parts)
}

/// The job natively, as the host runs it minus the host: `bulk::submit`, then
/// `bulk::advance` until done, each on a fresh connection (Spin opens one per request), on
/// its own copy. Its total and number of steps.
fn native_job(seeded: &std::path::Path, case: &Case) -> (Duration, usize) {
    let copy = seed::writable_copy(seeded);
    let path = copy.path().join("sqlite_db.db");
    let clock = Clock::system(None).expect("clock");
    let t0 = Instant::now();
    let db = NativeSql::open(&path).expect("open");
    let catalogue = Catalogue::load(&db).expect("catalogue");
    let req = bulk::Request::parse(&case.body, &catalogue, Region::default()).expect("request");
    let ctx = bulk::Ctx {
        db: &db,
        catalogue: &catalogue,
        clock: &clock,
        actor: "admin",
        max_slice: bulk::MAX_SLICE,
    };
    let bulk::Outcome::Job(mut job) = bulk::submit(ctx, &req).expect("submit") else {
        panic!("not a dry run");
    };
    drop(db);
    let mut steps = 1;
    while !job.state.is_final() {
        let db = NativeSql::open(&path).expect("open");
        job = bulk::advance(&db, &job.id, bulk::MAX_SLICE).expect("advance");
        steps += 1;
    }
    (t0.elapsed(), steps)
}

fn start_host(state: &std::path::Path) -> spin_host::RunningHost {
    let manifest = workspace_root().join("spin.toml");
    spin_host::build_once(&manifest).expect("build");
    let mut variables: std::collections::HashMap<String, String> = webhooks::SECRETS
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    variables.insert("admin_token".into(), ADMIN.into());
    contacts_e2e::bench::print_host_settings(spin_host::HostMode::Spin);
    spin_host::start(spin_host::HostConfig {
        manifest,
        listen: "127.0.0.1:0".parse().expect("address"),
        state_dir: state.to_path_buf(),
        variables,
        mode: spin_host::HostMode::Spin,
    })
    .expect("host")
}

/// What a job took through the host.
struct Run {
    total: Duration,
    requests: usize,
    slowest: Duration,
    processed: i64,
    /// Each request's start and length, to set chat events' latencies against.
    spans: Vec<(Instant, Duration)>,
}

fn post(agent: &ureq::Agent, url: &str, body: &Json) -> Json {
    let r = agent
        .post(url)
        .set("authorization", &format!("Bearer {ADMIN}"))
        .send_json(body.clone());
    answer(r, 200).unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// Starts the bulk job and sends `continue`s back to back until it is done, or until
/// `deadline` has passed (the job is then left running).
fn run_job(base: &str, body: &Json, deadline: Option<Duration>) -> Run {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(120))
        .build();
    let mut spans = Vec::new();
    let t = Instant::now();
    let mut job = post(&agent, &format!("{base}/api/bulk"), body)["job"].clone();
    spans.push((t, t.elapsed()));
    let url = format!(
        "{base}/api/bulk/jobs/{}/continue",
        job["id"].as_str().expect("id")
    );
    let started = Instant::now();
    while job["state"] == "running" && deadline.is_none_or(|d| started.elapsed() < d) {
        let t = Instant::now();
        job = post(&agent, &url, &json!({}))["job"].clone();
        spans.push((t, t.elapsed()));
    }
    let times: Vec<Duration> = spans.iter().map(|s| s.1).collect();
    Run {
        total: times.iter().sum(),
        requests: times.len(),
        slowest: times.iter().copied().max().unwrap_or_default(),
        processed: job["processed"].as_i64().unwrap_or(0),
        spans,
    }
}

/// Telegram updates from new users, from [`SENDERS`] threads, until `stop`; their latencies.
fn chat_senders(
    base: &str,
    stop: Arc<AtomicBool>,
    first_user: u64,
    pace: Option<Duration>,
) -> Vec<thread::JoinHandle<Vec<(Instant, Duration)>>> {
    let counter = Arc::new(AtomicU64::new(0));
    (0..SENDERS)
        .map(|_| {
            let (base, stop, counter) = (base.to_owned(), Arc::clone(&stop), Arc::clone(&counter));
            thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().build();
                let mut samples = Vec::new();
                let mut due = Instant::now();
                while !stop.load(Ordering::Relaxed) {
                    if let Some(pace) = pace {
                        // A steady stream: a late event goes at once, and the next keeps
                        // to the schedule.
                        thread::sleep(due.saturating_duration_since(Instant::now()));
                        due += pace;
                    }
                    let i = counter.fetch_add(1, Ordering::Relaxed);
                    let update = webhooks::telegram_message(
                        first_user + i,
                        first_user + i,
                        "Bulk",
                        "Sender",
                    );
                    let t = Instant::now();
                    let r = agent
                        .post(&format!("{base}/hooks/telegram"))
                        .set(
                            "x-telegram-bot-api-secret-token",
                            secret("telegram_secret_token"),
                        )
                        .send_json(update);
                    answer(r, 200).expect("chat event");
                    samples.push((t, t.elapsed()));
                }
                samples
            })
        })
        .collect()
}

/// The senders' figures, and each event's start and latency.
fn gather(
    handles: Vec<thread::JoinHandle<Vec<(Instant, Duration)>>>,
    wall: Duration,
) -> (Figures, Vec<(Instant, Duration)>) {
    let spans: Vec<(Instant, Duration)> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("sender"))
        .collect();
    (
        Figures::of(spans.iter().map(|s| s.1).collect(), wall),
        spans,
    )
}

/// Where the slow chat events were: for each one over [`SLOW`], the longest job request
/// its wait overlapped, counted by that request's length. Tells a tail made of long slices
/// from one made of chat events queuing behind each other.
fn slow_events(events: &[(Instant, Duration)], job: &[(Instant, Duration)]) -> String {
    let overlaps = |(s, d): &(Instant, Duration), (js, jd): &(Instant, Duration)| {
        *js < *s + *d && *s < *js + *jd
    };
    let slow: Vec<Duration> = events
        .iter()
        .filter(|e| e.1 > SLOW)
        .map(|e| {
            job.iter()
                .filter(|j| overlaps(e, j))
                .map(|j| j.1)
                .max()
                .unwrap_or_default()
        })
        .collect();
    let within = |lo: u64, hi: u64| {
        slow.iter()
            .filter(|d| (lo..hi).contains(&(d.as_millis() as u64)))
            .count()
    };
    format!(
        "{} chat events over {} ms; the longest job request each overlapped: none or < 50 ms {}, 50–100 ms {}, 100–200 ms {}, ≥ 200 ms {}",
        slow.len(),
        SLOW.as_millis(),
        within(0, 50),
        within(50, 100),
        within(100, 200),
        within(200, u64::MAX)
    )
}

/// The process's peak resident memory (VmHWM), in MiB.
fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Chat events from [`SENDERS`] senders on an idle host, then while an `add_tags` job runs
/// on every contact, on a fresh copy of the seeded database: each sender sends as soon as
/// answered (`pace` `None`: the lock saturated by chat events alone), or one event every
/// `pace` (a steady stream that leaves the lock room).
fn chat_during_job(seeded: &std::path::Path, n: u64, pace: Option<Duration>) {
    let state = seed::writable_copy(seeded);
    let host = start_host(state.path());
    let base = host.base_url();
    let stop = Arc::new(AtomicBool::new(false));
    let t = Instant::now();
    let idle = chat_senders(&base, Arc::clone(&stop), 1 << 40, pace);
    thread::sleep(IDLE);
    stop.store(true, Ordering::Relaxed);
    let (idle, _) = gather(idle, t.elapsed());
    let stop = Arc::new(AtomicBool::new(false));
    let t = Instant::now();
    let busy = chat_senders(&base, Arc::clone(&stop), 2 << 40, pace);
    let case = &cases(n)[0];
    // Saturating senders leave a job the lock only when it has waited a second for it
    // (`SpinSql::take_quiet_lock`): its progress is measured over a bounded time.
    let run = run_job(&base, &case.body, pace.is_none().then_some(SATURATED_FOR));
    stop.store(true, Ordering::Relaxed);
    let (busy, events) = gather(busy, t.elapsed());
    drop(host);
    println!();
    match pace {
        None => println!(
            "chat events ({SENDERS} senders, Telegram updates from new users, each sent as soon as the last is answered):"
        ),
        Some(p) => println!(
            "chat events ({SENDERS} senders, Telegram updates from new users, one every {} ms per sender):",
            p.as_millis()
        ),
    }
    println!("| while | events/s | p50 ms | p99 ms | events |");
    for (name, f) in [("idle host", &idle), ("add_tags job runs", &busy)] {
        println!(
            "| {name} | {:.0} | {} | {} | {} |",
            f.per_sec,
            ms(f.p50),
            ms(f.p99),
            f.n
        );
    }
    println!(
        "add_tags with the senders: {} of {n} contacts in {:.2} s ({:.0} a second), {} requests (slowest {} ms)",
        run.processed,
        run.total.as_secs_f64(),
        run.processed as f64 / run.total.as_secs_f64(),
        run.requests,
        ms(run.slowest)
    );
    let mut lengths: Vec<Duration> = run.spans.iter().map(|s| s.1).collect();
    lengths.sort();
    println!(
        "its requests p50 / p90 / p99 / max: {} / {} / {} / {} ms",
        ms(at(&lengths, 0.5)),
        ms(at(&lengths, 0.9)),
        ms(at(&lengths, 0.99)),
        ms(run.slowest)
    );
    println!("{}", slow_events(&events, &run.spans));
}

fn main() {
    let n = seed::bench_size();
    let seeded = seed::state_dir(n);
    println!(
        "contacts: {n} (segment all: every one); {} cores",
        thread::available_parallelism().map_or(0, |p| p.get())
    );
    println!("| action | host total s | requests | slowest request ms | native s | host / native | native statements ms | native job s (steps) | host / native job |");
    let only = std::env::var("BULK_CASES").ok();
    let chosen = |name: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|c| c == name))
    };
    for case in cases(n).into_iter().filter(|c| chosen(c.name)) {
        let (native_total, parts) = native(&seeded, &case);
        let (native_job_total, native_steps) = native_job(&seeded, &case);
        let state = seed::writable_copy(&seeded);
        let host = start_host(state.path());
        let run = run_job(&host.base_url(), &case.body, None);
        drop(host);
        assert_eq!(run.processed, n as i64, "{}", case.name);
        let parts: Vec<String> = parts
            .iter()
            .map(|(l, d)| format!("{l} {}", ms(*d)))
            .collect();
        println!(
            "| {} | {:.2} | {} | {} | {:.2} | {:.2} | {} | {:.2} ({}) | {:.2} |",
            case.name,
            run.total.as_secs_f64(),
            run.requests,
            ms(run.slowest),
            native_total.as_secs_f64(),
            run.total.as_secs_f64() / native_total.as_secs_f64(),
            parts.join(", "),
            native_job_total.as_secs_f64(),
            native_steps,
            run.total.as_secs_f64() / native_job_total.as_secs_f64(),
        );
    }

    if std::env::var("BULK_CHAT").as_deref() != Ok("0") {
        chat_during_job(&seeded, n, None);
        chat_during_job(&seeded, n, Some(PACE));
    }
    println!(
        "process peak memory (host, bench client and native runs): {:.0} MiB",
        peak_mib()
    );
}
