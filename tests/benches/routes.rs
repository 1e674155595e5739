//! Issue 18's table, reproduced: keep-alive load on the routes it compares between real Spin
//! 4.1 and this host, with 1 and 4 connections, on the seeded database, each route's p50 and
//! req/s also given as a ratio to `GET /api/openapi.json` (no storage) measured in the same
//! run, so the machine's speed cancels out and a comparison with real Spin is one command:
//! the same load against `spin up` gives Spin's ratios (issue 18's are printed beside ours).
//!
//! The host runs in its default mode, [`spin_host::HostMode::Spin`] (Spin 4.1's per-request
//! costs). The load comes from a child process, as clients do. `GET` by id also runs natively
//! (a fresh rusqlite connection per read, as Spin opens one per request) on the same file,
//! with 1 and 4 threads.
//!
//! `cargo bench -p contacts-e2e --bench routes` (`CONTACTS=<n>`, default 1,000,000;
//! `ROUTES_BENCH_SECONDS=<s>` per case, default 8 as in the issue).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use contacts_core::contacts::repo;
use contacts_core::kernel::native::NativeSql;
use contacts_e2e::bench::{self, ms, Figures};
use contacts_e2e::gen::{COMPANIES, FIRST_NAMES, LAST_NAMES};
use contacts_e2e::{seed, ADMIN};
use serde_json::json;

const WARMUP: Duration = Duration::from_secs(1);

/// The cases, in the order: `(case, route as printed, connections, Spin 4.1's p50 in
/// ms from the issue, the same run's openapi p50 being 2.55 ms)`.
const CASES: &[(&str, &str, usize, &str)] = &[
    ("openapi", "GET /api/openapi.json (no storage)", 1, "2.55"),
    ("get", "GET /api/contacts/{id} (random ids)", 1, "2.66"),
    ("get", "GET /api/contacts/{id} (random ids)", 4, "6.8-7.8"),
    ("search", "GET /api/search?q=... (26 queries)", 1, "4.3-4.7"),
    ("search", "GET /api/search?q=... (26 queries)", 4, "9-10"),
    ("create", "POST /api/contacts (random US phones)", 1, "9.3"),
    ("settings", "GET /api/settings/autocreate", 1, "42.3"),
];

/// Spin's openapi p50 in the run, the denominator of its ratios.
const SPIN_OPENAPI_P50_MS: f64 = 2.55;

fn seconds() -> Duration {
    let s = std::env::var("ROUTES_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(8.0);
    Duration::from_secs_f64(s)
}

/// 26 searches: first names, last-name prefixes and company words, lower case.
fn queries() -> Vec<String> {
    (0..26)
        .map(|i| {
            let pick = |list: &[&str]| list[(i * 7) % list.len()].to_lowercase();
            match i % 3 {
                0 => pick(FIRST_NAMES),
                1 => pick(LAST_NAMES).chars().take(3).collect(),
                _ => pick(COMPANIES)
                    .split_whitespace()
                    .next()
                    .unwrap_or("acme")
                    .to_owned(),
            }
        })
        .collect()
}

/// A load client, in a child process: `case base conns contacts seconds`.
fn client(args: &[String]) {
    let [case, base, conns, contacts, seconds] = args else {
        panic!("load client arguments: {args:?}");
    };
    let conns: usize = conns.parse().expect("connections");
    let contacts: u64 = contacts.parse().expect("contacts");
    let run = Duration::from_secs_f64(seconds.parse().expect("seconds"));
    let (base, auth) = (base.clone(), format!("Bearer {ADMIN}"));
    let (post_base, post_auth) = (base.clone(), auth.clone());
    let queries = queries();
    let get = move |agent: &ureq::Agent, path: String| {
        let r = agent
            .get(&format!("{base}{path}"))
            .set("authorization", &auth)
            .call();
        bench::answer(r, 200).map(drop)
    };
    let counter = Arc::new(AtomicU64::new(0));
    let f = match case.as_str() {
        "openapi" => bench::load(conns, WARMUP, run, counter, move |agent, _, _| {
            get(agent, "/api/openapi.json".into())
        }),
        "get" => bench::load(conns, WARMUP, run, counter, move |agent, _, i| {
            let n = i.wrapping_mul(2_654_435_761) % contacts;
            get(agent, format!("/api/contacts/{}", seed::contact_id(n)))
        }),
        "search" => bench::load(conns, WARMUP, run, counter, move |agent, _, i| {
            let q = &queries[i as usize % queries.len()];
            get(agent, format!("/api/search?q={q}"))
        }),
        "settings" => bench::load(conns, WARMUP, run, counter, move |agent, _, _| {
            get(agent, "/api/settings/autocreate".into())
        }),
        "create" => bench::load(conns, WARMUP, run, counter, move |agent, t, i| {
            // Area code 718 is one the seed never writes (`gen::phone`): no 409 for a phone
            // another contact holds.
            let body = json!({"first_name": "Route", "last_name": format!("R{t}-{i}"),
                              "phone": format!("(718) {:03}-{:04}", 200 + (i / 10_000) % 800, i % 10_000)});
            let r = agent
                .post(&format!("{post_base}/api/contacts"))
                .set("authorization", &post_auth)
                .send_json(body);
            bench::answer(r, 201).map(drop)
        }),
        other => panic!("no load case {other}"),
    };
    bench::report_to_parent(&f);
}

fn main() {
    if let Some(args) = bench::child_args() {
        return client(&args);
    }
    let contacts = seed::bench_size();
    let run = seconds();
    eprintln!("seeding or reusing {contacts} contacts…");
    let cached = seed::state_dir(contacts);
    let state = seed::writable_copy(&cached);
    let host = bench::start_host(state.path());
    let base = host.base_url();

    println!(
        "issue 18's routes, {contacts} contacts, {:.0} s per case, host settings above",
        run.as_secs_f64()
    );
    println!(
        "| route | conns | p50 ms | p99 ms | req/s | p50 / openapi p50 | Spin 4.1 p50 / openapi p50 |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: |");
    let mut openapi_p50 = None;
    for (case, route, conns, spin_p50) in CASES {
        let f = bench::load_in_child(&[
            case.to_string(),
            base.clone(),
            conns.to_string(),
            contacts.to_string(),
            run.as_secs_f64().to_string(),
        ]);
        let floor = *openapi_p50.get_or_insert(f.p50);
        println!(
            "| {route} | {conns} | {} | {} | {:.0} | {:.2} | {} |",
            ms(f.p50),
            ms(f.p99),
            f.per_sec,
            f.p50.as_secs_f64() / floor.as_secs_f64(),
            spin_ratio(spin_p50),
        );
    }
    drop(host);

    // The same read natively on the same file, a fresh connection each time as Spin opens one
    // per request: the floor the host's GET is measured against, with 1 and 4 threads (the
    // most reads a second this machine's cores give any host with Spin's connection model).
    let path = state.path().join("sqlite_db.db");
    let floor = openapi_p50.expect("openapi measured");
    for threads in [1, 4] {
        let f = native_reads(&path, contacts, threads, run);
        println!(
            "| get, native rusqlite (fresh connection, same SQL) | {threads} | {} | {} | {:.0} | {:.2} | |",
            ms(f.p50),
            ms(f.p99),
            f.per_sec,
            f.p50.as_secs_f64() / floor.as_secs_f64(),
        );
    }
}

/// `GET /api/contacts/{id}`'s read natively, on `threads` threads for `run` after a warm-up,
/// each read on a fresh connection.
fn native_reads(path: &Path, contacts: u64, threads: usize, run: Duration) -> Figures {
    let counter = AtomicU64::new(0);
    let samples = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut samples = Vec::new();
                    let begin = Instant::now();
                    while begin.elapsed() < WARMUP + run {
                        let i = counter.fetch_add(1, Ordering::Relaxed);
                        let n = i.wrapping_mul(2_654_435_761) % contacts;
                        let t0 = Instant::now();
                        let db = NativeSql::open(path).expect("native db");
                        repo::read(&db, &seed::contact_id(n)).expect("read");
                        drop(db);
                        if begin.elapsed() > WARMUP {
                            samples.push(t0.elapsed());
                        }
                    }
                    samples
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("native reader"))
            .collect::<Vec<_>>()
    });
    Figures::of(samples, run)
}

/// Issue 18's Spin p50 (a figure or a range) over its openapi p50.
fn spin_ratio(p50: &str) -> String {
    p50.split('-')
        .map(|ms| {
            let ms: f64 = ms.parse().expect("Spin p50");
            format!("{:.2}", ms / SPIN_OPENAPI_P50_MS)
        })
        .collect::<Vec<_>>()
        .join("-")
}
