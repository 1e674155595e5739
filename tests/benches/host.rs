//! Per-request overhead of the project host (not a test; prints figures).
//!
//! `cargo bench -p contacts-e2e --bench host`
//!
//! Serves the host-probe fixture and measures, with 2 and 4 concurrent keep-alive clients:
//! - `hello`: a component that answers a constant (instance creation + HTTP only);
//! - `keyed read`: a component that opens database `default` (a fresh connection, as Spin) and
//!   reads one row by primary key out of 100k.
//!
//! The same keyed read (fresh connection + one SELECT) runs natively on rusqlite in the same
//! process, so the ratio holds on a noisy machine. First, start-up: a host start including
//! the JIT of the probe (a copy under a new name, so nothing is cached), then a start served
//! from the process's compiled copy. All under the default (Spin-faithful) host mode. Real Spin 4.1 on this machine: hello
//! 8-11k req/s (p50 0.23-0.36 ms), keyed read 2.8-3.3k req/s.
//!
//! `HOST_BENCH_SECONDS` sets each measurement's length (default 3).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ROWS: i64 = 100_000;

fn main() -> anyhow::Result<()> {
    let seconds: f64 = std::env::var("HOST_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let duration = Duration::from_secs_f64(seconds);
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/spin.toml");
    spin_host::build_once(&manifest)?;

    measure_startup(&manifest)?;

    let state = tempfile::tempdir()?;
    let db_path = state.path().join("sqlite_db.db");
    seed(&db_path)?;
    let host = spin_host::start(spin_host::HostConfig {
        manifest,
        listen: "127.0.0.1:0".parse()?,
        state_dir: state.path().to_path_buf(),
        variables: HashMap::new(),
        mode: spin_host::HostMode::Spin,
    })?;
    let base = host.base_url();

    println!("host benchmark: {seconds} s per measurement, {ROWS} rows");
    contacts_e2e::bench::print_host_settings(spin_host::HostMode::Spin);
    println!(
        "{:<28} {:>5} {:>10} {:>10} {:>10}",
        "case", "conns", "req/s", "p50 ms", "p99 ms"
    );
    let mut keyed_host = HashMap::new();
    for conns in [2, 4] {
        let hello = measure(conns, duration, {
            let base = base.clone();
            move |agent, _| get_ok(agent, &format!("{base}/hello"))
        });
        hello.print("hello (host)", conns);
        let keyed = measure(conns, duration, {
            let base = base.clone();
            move |agent, key| get_ok(agent, &format!("{base}/keyed/{key}"))
        });
        keyed.print("keyed read (host)", conns);
        keyed_host.insert(conns, keyed.per_second);
    }
    for conns in [2, 4] {
        let native = measure_native(&db_path, conns, duration);
        native.print("keyed read (native rusqlite)", conns);
        println!(
            "  host / native keyed read with {conns} conns: {:.2}",
            keyed_host[&conns] / native.per_second
        );
    }
    Ok(())
}

/// Prints how long a host takes to start with the JIT of a component, then from the cache.
fn measure_startup(fixture: &Path) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let copy = dir.path().join("probe-startup.wasm");
    let probe = fixture.parent().expect("fixtures dir");
    std::fs::copy(
        probe.join("../../target/wasm/wasm32-wasip2/wasm/host_probe.wasm"),
        &copy,
    )?;
    let manifest = dir.path().join("spin.toml");
    std::fs::write(
        &manifest,
        format!(
            "spin_manifest_version = 2\n[application]\nname = \"jit\"\n[[trigger.http]]\n\
             route = \"/hello\"\ncomponent = \"c\"\n[component.c]\nsource = \"{}\"\n",
            copy.display()
        ),
    )?;
    let size_kb = std::fs::metadata(&copy)?.len() / 1024;
    for case in ["JIT", "from the process's cache"] {
        let state = tempfile::tempdir()?;
        let started = Instant::now();
        let host = spin_host::start(spin_host::HostConfig {
            manifest: manifest.clone(),
            listen: "127.0.0.1:0".parse()?,
            state_dir: state.path().to_path_buf(),
            variables: HashMap::new(),
            mode: spin_host::HostMode::Spin,
        })?;
        println!(
            "host start, {case} ({size_kb} KB component): {:.0} ms",
            started.elapsed().as_secs_f64() * 1000.0
        );
        host.stop();
    }
    Ok(())
}

/// A `bench(k INTEGER PRIMARY KEY, v TEXT)` table with `ROWS` rows.
fn seed(path: &Path) -> anyhow::Result<()> {
    let mut conn = rusqlite::Connection::open(path)?;
    conn.execute(
        "CREATE TABLE bench (k INTEGER PRIMARY KEY, v TEXT NOT NULL)",
        [],
    )?;
    let tx = conn.transaction()?;
    {
        let mut insert = tx.prepare("INSERT INTO bench (k, v) VALUES (?1, ?2)")?;
        for k in 0..ROWS {
            insert.execute((k, format!("value-{k}")))?;
        }
    }
    tx.commit()?;
    Ok(())
}

fn get_ok(agent: &ureq::Agent, url: &str) {
    let body = agent
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("{url}: {e}"))
        .into_string()
        .unwrap_or_else(|e| panic!("{url}: {e}"));
    assert!(!body.is_empty(), "{url}: empty body");
}

struct Figures {
    per_second: f64,
    p50: Duration,
    p99: Duration,
}

impl Figures {
    fn print(&self, case: &str, conns: usize) {
        println!(
            "{case:<28} {conns:>5} {:>10.0} {:>10.3} {:>10.3}",
            self.per_second,
            self.p50.as_secs_f64() * 1000.0,
            self.p99.as_secs_f64() * 1000.0
        );
    }
}

/// Runs `op` in a loop on `conns` threads (each with its own keep-alive connection) for
/// `duration`, after a short warm-up; `op` gets a pseudo-random key in `0..ROWS`.
fn measure(
    conns: usize,
    duration: Duration,
    op: impl Fn(&ureq::Agent, i64) + Send + Sync + 'static,
) -> Figures {
    let op = Arc::new(op);
    run_threads(conns, duration, move |_| {
        let agent = ureq::AgentBuilder::new().max_idle_connections(1).build();
        let op = op.clone();
        move |key| op(&agent, key)
    })
}

/// The keyed read without the host: a fresh connection and one SELECT per operation.
fn measure_native(db: &Path, conns: usize, duration: Duration) -> Figures {
    let db: PathBuf = db.to_path_buf();
    run_threads(conns, duration, move |_| {
        let db = db.clone();
        move |key| {
            let conn = rusqlite::Connection::open(&db).expect("open");
            conn.busy_timeout(Duration::from_secs(5))
                .expect("busy timeout");
            let v: String = conn
                .query_row("SELECT v FROM bench WHERE k = ?", [key], |r| r.get(0))
                .expect("row");
            assert!(!v.is_empty());
        }
    })
}

/// Times every call of a per-thread operation across `conns` threads.
fn run_threads<F, Op>(conns: usize, duration: Duration, make_op: F) -> Figures
where
    F: Fn(usize) -> Op + Send + Sync + 'static,
    Op: FnMut(i64),
{
    let make_op = Arc::new(make_op);
    let warm_up = Duration::from_millis(500);
    let threads: Vec<_> = (0..conns)
        .map(|thread| {
            let make_op = make_op.clone();
            std::thread::spawn(move || {
                let mut op = make_op(thread);
                let mut key = thread as u64 * 7919;
                let mut next_key = move || {
                    // A small LCG: keys spread over the table without a rand dependency.
                    key = key
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    ((key >> 33) % ROWS as u64) as i64
                };
                let warm_until = Instant::now() + warm_up;
                while Instant::now() < warm_until {
                    op(next_key());
                }
                let mut latencies = Vec::new();
                let started = Instant::now();
                while started.elapsed() < duration {
                    let t = Instant::now();
                    op(next_key());
                    latencies.push(t.elapsed());
                }
                (latencies, started.elapsed())
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut wall = Duration::ZERO;
    for t in threads {
        let (latencies, elapsed) = t.join().expect("benchmark thread");
        all.extend(latencies);
        wall = wall.max(elapsed);
    }
    all.sort();
    let at = |q: f64| all[((all.len() as f64 * q) as usize).min(all.len() - 1)];
    Figures {
        per_second: all.len() as f64 / wall.as_secs_f64(),
        p50: at(0.50),
        p99: at(0.99),
    }
}
