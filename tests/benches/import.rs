//! A generated CSV (the project's generator: names of many cultures, phones of several
//! countries, the ten custom fields) imported through the host in chunks cut as the console
//! cuts them (each sized toward 2 s from the time the last took, at most 8 MiB), (a) into an
//! empty database and (b) into the seeded database with half of the rows matching seeded
//! contacts by email or phone; beside each, the same chunks imported
//! natively (the same code and SQL on rusqlite, the same schema, triggers and indexes) in
//! the same run, for the ratio: each chunk on one side then the other, so the machine's
//! drift reaches both alike. Rows/s count each side's chunks and its `finish` (which merges
//! the search indexes the import fragmented), `finish` also printed apart.
//!
//! The host runs in a child process (`app-host`), so its peak RSS is its own.
//!
//! `cargo bench -p contacts-e2e --bench import` (CONTACTS=<n> rows, default 1,000,000;
//! IMPORT_CHUNK_BYTES=<n> for chunks of one size instead, at most the 10 MB bound).

use std::path::Path;
use std::time::{Duration, Instant};

use contacts_core::import::{chunks, mapping::Spec};
use contacts_core::kernel::fields::{custom, CustomFieldDef};
use contacts_core::kernel::jobs::JobId;
use contacts_core::kernel::native::NativeSql;
use contacts_core::{kernel::fields::Catalogue, kernel::schema};
use contacts_e2e::bench::{self, ms};
use contacts_e2e::child::ChildHost;
use contacts_e2e::{gen, seed, ADMIN};
use serde_json::{json, Value as Json};

/// Fermyon Cloud's body bound, which chunks must stay under.
const MAX_CHUNK: usize = 10 * 1024 * 1024;

/// How the file is cut: as the console cuts it (`features/ImportWizard.jsx`: the first
/// chunk 1 MiB, each next one scaled toward 2 s by the time the host took for the last,
/// at most ×2 or ÷2 a step, 64 KiB–8 MiB), or in chunks of one size (`IMPORT_CHUNK_BYTES`).
#[derive(Clone, Copy, Debug)]
enum Sizing {
    Console,
    Fixed(usize),
}

impl Sizing {
    fn from_env() -> Sizing {
        std::env::var("IMPORT_CHUNK_BYTES")
            .ok()
            .map_or(Sizing::Console, |v| {
                let n: usize = v.parse().expect("IMPORT_CHUNK_BYTES: a number of bytes");
                Sizing::Fixed(n.clamp(4096, MAX_CHUNK))
            })
    }

    fn first(self) -> usize {
        match self {
            Sizing::Console => CONSOLE_FIRST,
            Sizing::Fixed(n) => n,
        }
    }

    /// The next chunk's size, after one of `bytes` that took the host `took`.
    fn next(self, bytes: usize, took: Duration) -> usize {
        match self {
            Sizing::Console => {
                let scale = (CONSOLE_SECONDS / took.as_secs_f64().max(0.001)).clamp(0.5, 2.0);
                ((bytes as f64 * scale).round() as usize).clamp(CONSOLE_MIN, CONSOLE_MAX)
            }
            Sizing::Fixed(n) => n,
        }
    }

    fn describe(self) -> String {
        match self {
            Sizing::Console => format!(
                "sized as the console sizes them (toward {CONSOLE_SECONDS} s each, {}–{} KiB)",
                CONSOLE_MIN / 1024,
                CONSOLE_MAX / 1024
            ),
            Sizing::Fixed(n) => format!("of at most {n} bytes"),
        }
    }
}

/// The console's chunk sizing (`components/console/web/src/features/ImportWizard.jsx`).
const CONSOLE_FIRST: usize = 1024 * 1024;
const CONSOLE_MIN: usize = 64 * 1024;
const CONSOLE_MAX: usize = 8 * 1024 * 1024;
const CONSOLE_SECONDS: f64 = 2.0;

const SEED: u64 = 42;
/// Generator seed of rows that match nothing seeded.
const NEW_SEED: u64 = 4242;

const COLUMNS: &[(&str, &str)] = &[
    ("Email", "email"),
    ("Phone", "phone"),
    ("First name", "first_name"),
    ("Last name", "last_name"),
    ("Company", "company"),
    ("City", "city"),
    ("Country", "country"),
    ("Lead stage", "lead_stage"),
    ("Source", "source_channel"),
    ("Tags", "tags"),
    ("Tier", "custom.tier"),
    ("Score", "custom.score"),
    ("VIP", "custom.vip"),
    ("Renewal", "custom.renewal"),
    ("Notes", "custom.notes"),
    ("Interests", "custom.interests"),
    ("Last order", "custom.last_order"),
    ("Homepage", "custom.homepage"),
    ("Alternate email", "custom.alt_email"),
    ("Account number", "custom.account_no"),
];

fn spec() -> Json {
    let mapping: serde_json::Map<String, Json> = COLUMNS
        .iter()
        .map(|(c, k)| (c.to_string(), json!(k)))
        .collect();
    json!({"mapping": mapping, "tags": ["imported"]})
}

/// A CSV cell: quoted when it holds a delimiter, quote or line break.
fn cell(v: &Json) -> String {
    let s = match v {
        Json::Null => String::new(),
        Json::String(s) => s.clone(),
        Json::Array(items) => items
            .iter()
            .filter_map(Json::as_str)
            .collect::<Vec<_>>()
            .join(";"),
        other => other.to_string(),
    };
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// The generated row `n` of generator `seed`, as CSV cells in [`COLUMNS`] order. The five
/// custom values the generator does not make are derived from `n`.
fn row(seed: u64, n: u64, keep_email: bool, keep_phone: bool) -> String {
    let mut c = gen::contact(seed, n);
    let custom = gen::custom_values(seed, n);
    if !keep_email {
        c["email"] = Json::Null;
    }
    if !keep_phone {
        c["phone"] = Json::Null;
    }
    let interests = ["sports", "music", "travel", "tech"];
    let extra = json!({
        "interests": [interests[(n % 4) as usize], interests[((n / 4) % 4) as usize]],
        "last_order": format!("2026-{:02}-{:02}T10:{:02}:00Z", 1 + n % 12, 1 + n % 28, n % 60),
        "homepage": format!("https://shop{}.example.com/u/{n}", n % 50),
        "alt_email": format!("alt{n}@example.net"),
        "account_no": format!("AC-{:08}", n),
    });
    COLUMNS
        .iter()
        .map(|(_, key)| match key.strip_prefix("custom.") {
            Some(k) => cell(
                custom
                    .get(k)
                    .or_else(|| extra.get(k))
                    .unwrap_or(&Json::Null),
            ),
            None => cell(c.get(*key).unwrap_or(&Json::Null)),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// A CSV file: the header line, then one line per row.
struct File {
    bytes: Vec<u8>,
    rows: u64,
}

impl File {
    fn of(rows: impl Iterator<Item = String>) -> File {
        let header: Vec<&str> = COLUMNS.iter().map(|(c, _)| *c).collect();
        let mut bytes = format!("{}\n", header.join(",")).into_bytes();
        let mut n = 0;
        for r in rows {
            bytes.extend_from_slice(r.as_bytes());
            bytes.push(b'\n');
            n += 1;
        }
        File { bytes, rows: n }
    }

    /// The whole lines from `start` that fit in `size` bytes (at least one line).
    fn chunk(&self, start: usize, size: usize) -> &[u8] {
        let rest = &self.bytes[start..];
        if rest.len() <= size {
            return rest;
        }
        let end = match rest[..size].iter().rposition(|&b| b == b'\n') {
            Some(i) => i + 1,
            None => rest
                .iter()
                .position(|&b| b == b'\n')
                .map_or(rest.len(), |i| i + 1),
        };
        &rest[..end]
    }
}

/// Case (a): `n` new contacts.
fn fresh_file(n: u64) -> File {
    File::of((0..n).map(|i| row(SEED, i, true, true)))
}

/// Case (b): `n` rows; the even ones are seeded contacts (every fourth by phone alone when
/// it has one, the others by email), the odd ones new (no phone: a generated number can
/// repeat a seeded one's).
fn matching_file(n: u64, seeded: u64) -> File {
    File::of((0..n).map(|i| {
        if i % 2 == 0 {
            let k = (i / 2) % seeded;
            let by_phone = i % 4 == 0 && gen::contact(SEED, k).get("phone").is_some();
            row(SEED, k, !by_phone, true)
        } else {
            row(NEW_SEED, seeded + i, true, false)
        }
    }))
}

/// An empty database with the ten custom fields.
fn empty_state() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("state dir");
    let db = NativeSql::open(&dir.path().join("sqlite_db.db")).expect("db");
    schema::ensure(&db).expect("schema");
    for def in gen::custom_field_defs() {
        let def: CustomFieldDef = serde_json::from_value(def).expect("def");
        custom::create(&db, &def).expect("custom field");
    }
    dir
}

/// What one import took.
struct Run {
    /// Its chunks and `finish`, summed (the two sides take turns).
    total: Duration,
    /// Each chunk's time, in file order.
    chunks: Vec<Duration>,
    /// Each chunk's bytes, in file order.
    sizes: Vec<usize>,
    /// `finish`'s time, most of it merging the search indexes the import fragmented.
    finish: Duration,
    counts: Json,
}

impl Run {
    /// Rows per second until the import was finished.
    fn rate(&self, rows: u64) -> f64 {
        rows as f64 / self.total.as_secs_f64()
    }

    fn slowest(&self) -> Duration {
        self.chunks.iter().copied().max().unwrap_or_default()
    }

    /// The median chunk and the three slowest with their sequence numbers: an outlier's
    /// place in the file tells a growing index's merge from a steady cost.
    fn chunk_profile(&self) -> String {
        let mut sorted = self.chunks.clone();
        sorted.sort();
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
        let mut by_time: Vec<(usize, Duration)> = self.chunks.iter().copied().enumerate().collect();
        by_time.sort_by_key(|&(_, d)| std::cmp::Reverse(d));
        let slowest: Vec<String> = by_time
            .iter()
            .take(3)
            .map(|(i, d)| format!("#{} {} ms", i + 1, ms(*d)))
            .collect();
        let mut sizes = self.sizes.clone();
        sizes.sort_unstable();
        let kib = |b: usize| b / 1024;
        format!(
            "median {} ms; slowest {}; chunk KiB min / median / max {} / {} / {}",
            ms(median),
            slowest.join(", "),
            kib(sizes.first().copied().unwrap_or_default()),
            kib(sizes.get(sizes.len() / 2).copied().unwrap_or_default()),
            kib(sizes.last().copied().unwrap_or_default()),
        )
    }
}

/// One side of the comparison: an open import job that takes the file's chunks.
trait Side {
    /// Imports chunk `seq`; the job's counts after it.
    fn put(&mut self, seq: usize, chunk: &[u8]) -> Json;
    fn finish(&mut self);
}

/// Imports `file` on both sides, each chunk on one side then the other (which goes first
/// alternates), so a machine that slows down mid-run slows both alike: this one drifts by
/// 1.3–1.8× over an evening, and run one after the other the sides' ratio moved 0.87–1.06×.
/// `sides` are the host's and the native one, in that order; chunks are cut by `sizing`
/// from the host's times, and the native side gets the very same chunks.
fn import_in_turns(mut sides: [&mut dyn Side; 2], file: &File, sizing: Sizing) -> (Run, Run) {
    let mut times = [Vec::new(), Vec::new()];
    let mut sizes = Vec::new();
    let mut counts = [Json::Null, Json::Null];
    let (mut start, mut size) = (0, sizing.first());
    while start < file.bytes.len() {
        let chunk = file.chunk(start, size);
        let seq = sizes.len() + 1;
        let order = if seq % 2 == 1 { [0, 1] } else { [1, 0] };
        for side in order {
            let t0 = Instant::now();
            counts[side] = sides[side].put(seq, chunk);
            times[side].push(t0.elapsed());
        }
        sizes.push(chunk.len());
        start += chunk.len();
        size = sizing.next(chunk.len(), times[0][seq - 1]);
    }
    let mut finish = [Duration::ZERO; 2];
    for (side, importer) in sides.iter_mut().enumerate() {
        let t0 = Instant::now();
        importer.finish();
        finish[side] = t0.elapsed();
    }
    let [host_times, native_times] = times;
    let [host_counts, native_counts] = counts;
    let run = |chunks: Vec<Duration>, finish: Duration, counts: Json| Run {
        total: chunks.iter().sum::<Duration>() + finish,
        chunks,
        sizes: sizes.clone(),
        finish,
        counts,
    };
    (
        run(host_times, finish[0], host_counts),
        run(native_times, finish[1], native_counts),
    )
}

/// The same chunks natively: `import::chunks` on rusqlite.
struct Native {
    db: NativeSql,
    job: JobId,
}

impl Native {
    fn open(state: &Path) -> Native {
        let db = NativeSql::open(&state.join("sqlite_db.db")).expect("db");
        let catalogue = Catalogue::load(&db).expect("catalogue");
        let spec = Spec::parse(&spec(), &catalogue, "US").expect("spec");
        let job = chunks::open(&db, "admin", &spec).expect("job").id;
        Native { db, job }
    }
}

impl Side for Native {
    fn put(&mut self, seq: usize, chunk: &[u8]) -> Json {
        chunks::put(&self.db, &self.job, seq as i64, chunk)
            .expect("native chunk")
            .counts
    }

    fn finish(&mut self) {
        chunks::finish(&self.db, &self.job).expect("finish");
    }
}

/// The app in a child process (`app-host`), so its peak RSS is its own.
fn child_host(state: &Path) -> ChildHost {
    ChildHost::start(
        "127.0.0.1:0",
        state,
        &[("admin_token".to_owned(), ADMIN.to_owned())],
    )
}

fn call(agent: &ureq::Agent, method: &str, url: &str, body: &[u8], want: u16) -> Json {
    let r = agent
        .request(method, url)
        .set("authorization", &format!("Bearer {ADMIN}"))
        .set(
            "content-type",
            if method == "PUT" {
                "text/csv"
            } else {
                "application/json"
            },
        )
        .send_bytes(body);
    bench::answer(r, want).unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

/// The chunks through the host, over HTTP.
struct ThroughHost {
    agent: ureq::Agent,
    /// `<base>/api/imports/<job>`.
    job_url: String,
}

impl ThroughHost {
    fn open(host: &ChildHost) -> ThroughHost {
        let agent = ureq::AgentBuilder::new()
            .timeout(Duration::from_secs(300))
            .build();
        let imports = format!("{}/api/imports", host.base_url());
        let job = call(&agent, "POST", &imports, spec().to_string().as_bytes(), 201);
        let id = JobId::parse(job["id"].as_str().expect("id")).expect("job id");
        ThroughHost {
            agent,
            job_url: format!("{imports}/{}", id.as_str()),
        }
    }
}

impl Side for ThroughHost {
    fn put(&mut self, seq: usize, chunk: &[u8]) -> Json {
        let url = format!("{}/chunks/{seq}", self.job_url);
        call(&self.agent, "PUT", &url, chunk, 200)["counts"].clone()
    }

    fn finish(&mut self) {
        let url = format!("{}/finish", self.job_url);
        call(&self.agent, "POST", &url, b"{}", 200);
    }
}

/// Search p50 through the host right after an import: last names and email prefixes.
fn search_p50(host: &ChildHost) -> Duration {
    let agent = ureq::AgentBuilder::new().build();
    let figures = bench::time(200, |i| {
        let c = gen::contact(SEED, i * 7);
        let q = if i % 2 == 0 {
            c["last_name"].as_str().unwrap_or("lima").to_owned()
        } else {
            c["email"].as_str().unwrap_or("a").chars().take(6).collect()
        };
        let url = format!(
            "{}/api/search?q={}&limit=20",
            host.base_url(),
            urlencode(&q)
        );
        let r = agent
            .get(&url)
            .set("authorization", &format!("Bearer {ADMIN}"))
            .call();
        bench::answer(r, 200).expect("search");
    });
    figures.p50
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'-' | b'_' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn report(case: &str, rows: u64, host: &Run, native: &Run, rss: f64, p50: Duration) {
    println!(
        "| {case} | {rows} | {} | {:.0} | {:.0} | {:.2}x | {} | {:.0} | {} |",
        host.chunks.len(),
        host.rate(rows),
        native.rate(rows),
        host.rate(rows) / native.rate(rows),
        ms(host.slowest()),
        rss,
        ms(p50),
    );
    println!(
        "|   counts | host {} | native {} |",
        host.counts, native.counts
    );
    println!(
        "|   chunks | host {} | native {} |",
        host.chunk_profile(),
        native.chunk_profile()
    );
    println!(
        "|   finish | host {} ms | native {} ms |",
        ms(host.finish),
        ms(native.finish)
    );
    assert_eq!(
        host.counts, native.counts,
        "host and native imported differently"
    );
}

fn main() {
    let n = seed::bench_size();
    let sizing = Sizing::from_env();
    spin_host::build_once(&contacts_e2e::workspace_root().join("spin.toml")).expect("build");
    println!(
        "import of {n} generated rows, chunks {} (host in a child process)",
        sizing.describe()
    );
    contacts_e2e::bench::print_host_settings(spin_host::HostMode::Spin);
    println!("| case | rows | chunks | host rows/s | native rows/s | host/native | slowest chunk ms | host peak RSS MiB | search p50 ms after |");
    println!("|---|---|---|---|---|---|---|---|---|");

    let file = fresh_file(n);
    let native_state = empty_state();
    let state = empty_state();
    let host = child_host(state.path());
    let (run, native) = import_in_turns(
        [
            &mut ThroughHost::open(&host),
            &mut Native::open(native_state.path()),
        ],
        &file,
        sizing,
    );
    report(
        "(a) empty database",
        file.rows,
        &run,
        &native,
        host.peak_rss_mib(),
        search_p50(&host),
    );
    drop(host);
    drop(native_state);
    drop(file);

    let seeded = seed::state_dir(n);
    let file = matching_file(n, n);
    let native_state = seed::writable_copy(&seeded);
    let state = seed::writable_copy(&seeded);
    let host = child_host(state.path());
    let (run, native) = import_in_turns(
        [
            &mut ThroughHost::open(&host),
            &mut Native::open(native_state.path()),
        ],
        &file,
        sizing,
    );
    report(
        "(b) seeded, half matching",
        file.rows,
        &run,
        &native,
        host.peak_rss_mib(),
        search_p50(&host),
    );
}
