//! Create-contact and get-contact through the host at 1,000,000 contacts, next to the same
//! work done natively on the same database file.
//!
//! `cargo bench -p contacts-e2e --bench crud` (CONTACTS=<n> to change the size).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use contacts_core::fields::Catalogue;
use contacts_core::native::NativeSql;
use contacts_core::repo::{self, Ctx};
use contacts_core::values::Region;
use contacts_e2e::{seed, workspace_root, ADMIN};
use serde_json::json;

const WARMUP: Duration = Duration::from_secs(1);
const RUN: Duration = Duration::from_secs(5);

struct Figures {
    p50: Duration,
    p99: Duration,
    per_sec: f64,
}

fn figures(mut samples: Vec<Duration>, wall: Duration) -> Figures {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    Figures {
        p50: at(0.50),
        p99: at(0.99),
        per_sec: samples.len() as f64 / wall.as_secs_f64(),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

/// Runs `op` on `conns` threads (each with its own keep-alive connection) for RUN after
/// WARMUP; `op(thread, i)` returns whether the request succeeded.
fn load<F>(conns: usize, op: F) -> Figures
where
    F: Fn(&ureq::Agent, usize, u64) -> bool + Send + Sync + 'static,
{
    let op = Arc::new(op);
    let counter = Arc::new(AtomicU64::new(0));
    let handles: Vec<_> = (0..conns)
        .map(|t| {
            let (op, counter) = (Arc::clone(&op), Arc::clone(&counter));
            thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().build();
                let mut samples = Vec::new();
                let begin = Instant::now();
                while begin.elapsed() < WARMUP + RUN {
                    let i = counter.fetch_add(1, Ordering::Relaxed);
                    let t0 = Instant::now();
                    assert!(op(&agent, t, i), "request failed");
                    if begin.elapsed() > WARMUP {
                        samples.push(t0.elapsed());
                    }
                }
                samples
            })
        })
        .collect();
    let samples: Vec<Duration> = handles
        .into_iter()
        .flat_map(|h| h.join().expect("load thread"))
        .collect();
    figures(samples, RUN)
}

fn native<F: FnMut(u64)>(n: u64, mut op: F) -> Figures {
    let mut samples = Vec::with_capacity(n as usize);
    let started = Instant::now();
    for i in 0..n {
        let t0 = Instant::now();
        op(i);
        samples.push(t0.elapsed());
    }
    figures(samples, started.elapsed())
}

fn main() {
    let contacts: u64 = std::env::var("CONTACTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    eprintln!("seeding or reusing {contacts} contacts…");
    let cached = seed::state_dir(contacts);
    let state = seed::writable_copy(&cached);
    let manifest = workspace_root().join("spin.toml");
    spin_host::build_once(&manifest).expect("build");
    let host = spin_host::start(spin_host::HostConfig {
        manifest,
        listen: "127.0.0.1:0".parse().unwrap(),
        state_dir: state.path().to_path_buf(),
        variables: [("admin_token".to_owned(), ADMIN.to_owned())].into(),
    })
    .expect("host");
    let base = Arc::new(host.base_url());
    let auth = format!("Bearer {ADMIN}");

    println!("contacts in the database: {contacts}");
    println!(
        "{:<44} {:>9} {:>9} {:>10}",
        "operation", "p50 ms", "p99 ms", "req/s"
    );
    let row = |name: &str, f: &Figures| {
        println!(
            "{name:<44} {:>9} {:>9} {:>10.0}",
            ms(f.p50),
            ms(f.p99),
            f.per_sec
        )
    };

    for conns in [1, 4] {
        let (b, a) = (Arc::clone(&base), auth.clone());
        let f = load(conns, move |agent, _, i| {
            let n = (i.wrapping_mul(2_654_435_761)) % contacts;
            let r = agent
                .get(&format!("{b}/api/contacts/{}", seed::contact_id(n)))
                .set("authorization", &a)
                .call();
            r.is_ok()
        });
        row(&format!("GET /api/contacts/{{id}} host, {conns} conn"), &f);
    }
    for conns in [1, 4] {
        let (b, a) = (Arc::clone(&base), auth.clone());
        let f = load(conns, move |agent, t, i| {
            let body = json!({"first_name": "Bench", "last_name": format!("C{conns}-{t}-{i}"),
                              "phone": format!("({}) {:03}-{:04}", if conns == 1 { 718 } else { 347 }, 200 + (i / 10_000) % 800, i % 10_000)});
            let r = agent
                .post(&format!("{b}/api/contacts"))
                .set("authorization", &a)
                .send_json(body);
            matches!(r, Ok(ref resp) if resp.status() == 201)
                || matches!(r, Err(ureq::Error::Status(409, _)))
        });
        row(
            &format!("POST /api/contacts host, {conns} conn (phone)"),
            &f,
        );
    }
    let (b, a) = (Arc::clone(&base), auth.clone());
    let f = load(4, move |agent, t, i| {
        let body = json!({"email": format!("bench-{t}-{i}@example.org")});
        let r = agent
            .post(&format!("{b}/api/contacts"))
            .set("authorization", &a)
            .send_json(body);
        r.is_ok()
    });
    row("POST /api/contacts host, 4 conn (email only)", &f);
    drop(host);

    // The same work natively on the same database: the floor the host is measured against.
    let db = NativeSql::open(&state.path().join("sqlite_db.db")).expect("native db");
    let catalogue = Catalogue::load(&db).expect("catalogue");
    let f = native(20_000, |i| {
        let n = (i.wrapping_mul(2_654_435_761)) % contacts;
        let c = repo::load(&db, &seed::contact_id(n)).expect("load");
        repo::possible_duplicates(&db, c.rowid).expect("dups");
    });
    row("get (native rusqlite, same SQL)", &f);
    let f = native(5_000, |i| {
        let ctx = Ctx {
            db: &db,
            catalogue: &catalogue,
            region: Region::default(),
            actor: "bench",
        };
        let body = json!({"first_name": "Native", "last_name": format!("N{i}"), "phone": format!("(929) {:03}-{:04}", 200 + i / 10_000, i % 10_000)});
        repo::create(ctx, &body).expect("create");
    });
    row("create (native rusqlite, same SQL)", &f);
}
