//! What the benchmarks share: latency figures, load from keep-alive client threads, and the
//! app's host on a seeded state directory.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::{workspace_root, ADMIN};

/// The `q` quantile of `sorted` (ascending, not empty).
pub fn at(sorted: &[Duration], q: f64) -> Duration {
    sorted[((sorted.len() as f64 * q) as usize).min(sorted.len() - 1)]
}

pub struct Figures {
    pub p50: Duration,
    pub p99: Duration,
    pub mean: Duration,
    pub n: usize,
    pub per_sec: f64,
}

impl Figures {
    /// Figures of `samples` taken over `wall` (for the rate).
    pub fn of(mut samples: Vec<Duration>, wall: Duration) -> Figures {
        assert!(!samples.is_empty(), "no samples were taken");
        samples.sort();
        let total: Duration = samples.iter().sum();
        Figures {
            p50: at(&samples, 0.50),
            p99: at(&samples, 0.99),
            mean: total / samples.len() as u32,
            n: samples.len(),
            per_sec: samples.len() as f64 / wall.as_secs_f64(),
        }
    }

    /// One line of text that [`Figures::from_line`] reads back.
    fn to_line(&self) -> String {
        format!(
            "figures {} {} {} {} {}",
            self.p50.as_nanos(),
            self.p99.as_nanos(),
            self.mean.as_nanos(),
            self.n,
            self.per_sec
        )
    }

    fn from_line(line: &str) -> Option<Figures> {
        let mut parts = line.strip_prefix("figures ")?.split(' ');
        let mut nanos =
            || -> Option<Duration> { Some(Duration::from_nanos(parts.next()?.parse().ok()?)) };
        let (p50, p99, mean) = (nanos()?, nanos()?, nanos()?);
        Some(Figures {
            p50,
            p99,
            mean,
            n: parts.next()?.parse().ok()?,
            per_sec: parts.next()?.parse().ok()?,
        })
    }

    /// Figures of samples taken one after another: the rate is over their sum.
    pub fn sequential(samples: Vec<Duration>) -> Figures {
        let wall = samples.iter().sum();
        Self::of(samples, wall)
    }
}

/// Milliseconds with three decimals.
pub fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1e3)
}

/// Runs `op(i)` for `n / 5` warm-up runs, then times `n` more, one at a time; `i` never
/// repeats, so operations that create can make each value unique.
pub fn time(n: u64, mut op: impl FnMut(u64)) -> Figures {
    let warmup = (n / 5).max(1);
    (0..warmup).for_each(&mut op);
    let samples = (warmup..warmup + n)
        .map(|i| {
            let t0 = Instant::now();
            op(i);
            t0.elapsed()
        })
        .collect();
    Figures::sequential(samples)
}

/// Runs `op(agent, thread, i)` on `conns` threads, each with its own keep-alive connection,
/// for `run` after `warmup`; `i` comes from `counter`, so it never repeats. Any `Err` stops
/// the benchmark: a figure of failed requests means nothing.
pub fn load<F>(
    conns: usize,
    warmup: Duration,
    run: Duration,
    counter: Arc<AtomicU64>,
    op: F,
) -> Figures
where
    F: Fn(&ureq::Agent, usize, u64) -> Result<(), String> + Send + Sync + 'static,
{
    let op = Arc::new(op);
    let handles: Vec<_> = (0..conns)
        .map(|t| {
            let (op, counter) = (Arc::clone(&op), Arc::clone(&counter));
            thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().build();
                let mut samples = Vec::new();
                let begin = Instant::now();
                while begin.elapsed() < warmup + run {
                    let i = counter.fetch_add(1, Ordering::Relaxed);
                    let t0 = Instant::now();
                    if let Err(e) = op(&agent, t, i) {
                        panic!("request {i} failed: {e}");
                    }
                    if begin.elapsed() > warmup {
                        samples.push(t0.elapsed());
                    }
                }
                samples
            })
        })
        .collect();
    let samples = handles
        .into_iter()
        .flat_map(|h| h.join().expect("load thread"))
        .collect();
    Figures::of(samples, run)
}

/// The JSON body of a response with status `want`, else what came instead. The body is read
/// to its end whatever the status: a client that drops a body unread closes its keep-alive
/// connection, and every later request would pay a new one.
pub fn answer(
    r: Result<ureq::Response, ureq::Error>,
    want: u16,
) -> Result<serde_json::Value, String> {
    let resp = match r {
        Ok(resp) => resp,
        Err(ureq::Error::Status(_, resp)) => resp,
        Err(e) => return Err(e.to_string()),
    };
    let status = resp.status();
    let body = resp.into_string().map_err(|e| e.to_string())?;
    if status != want {
        return Err(format!("status {status}: {body}"));
    }
    serde_json::from_str(&body).map_err(|e| format!("status {status}, not JSON ({e}): {body}"))
}

/// The first argument that makes a bench binary a load client (see [`load_in_child`]).
const CHILD_FLAG: &str = "--load-client";

/// Runs [`load`] in a child process (this same bench binary, run with `args` after
/// [`CHILD_FLAG`]) and returns its figures: a server's clients are other processes, and
/// inside the host's process the client threads would share its allocator and its locks.
pub fn load_in_child(args: &[String]) -> Figures {
    let exe = std::env::current_exe().expect("bench binary");
    let out = std::process::Command::new(exe)
        .arg(CHILD_FLAG)
        .args(args)
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("running the load client");
    assert!(out.status.success(), "load client failed: {}", out.status);
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout
        .lines()
        .find_map(Figures::from_line)
        .unwrap_or_else(|| panic!("no figures from the load client: {stdout}"))
}

/// In a bench binary started by [`load_in_child`]: the arguments it was given.
pub fn child_args() -> Option<Vec<String>> {
    let mut args = std::env::args().skip(1);
    (args.next().as_deref() == Some(CHILD_FLAG)).then(|| args.collect())
}

/// Prints `f` for [`load_in_child`] to read back.
pub fn report_to_parent(f: &Figures) {
    println!("{}", f.to_line());
}

/// Prints the host settings a bench's figures are measured under, before them.
pub fn print_host_settings(mode: spin_host::HostMode) {
    println!("{}", mode.settings());
}

/// The app (built once) served by the host on `state_dir`, with the bench admin token; the
/// host's settings printed first.
pub fn start_host(state_dir: &Path) -> spin_host::RunningHost {
    let manifest = workspace_root().join("spin.toml");
    spin_host::build_once(&manifest).expect("building the app");
    let mode = spin_host::HostMode::Spin;
    print_host_settings(mode);
    spin_host::start(spin_host::HostConfig {
        manifest,
        listen: "127.0.0.1:0".parse().expect("address"),
        state_dir: state_dir.to_path_buf(),
        variables: [("admin_token".to_owned(), ADMIN.to_owned())].into(),
        mode,
    })
    .expect("starting the host")
}
