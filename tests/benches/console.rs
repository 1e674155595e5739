//! The web console at 1,000,000 contacts (issue 16): what a user waits for, measured in
//! headless Chromium with the Performance API (`tests/browser/measure.mjs`), the API calls
//! behind it through the host, and what migration 2 (sort indexes, kept segment sizes) costs
//! writes.
//!
//! `cargo bench -p contacts-e2e --bench console` (CONTACTS=<n> to change the size; needs
//! Chromium and `npm ci` in tests/browser, as the console's browser test does).
//!
//! - browser: contacts page interactive, a search answered on screen, a column sorted, the
//!   segment sidebar's request and its counts on screen (medians of 5 runs);
//! - host: `GET /api/segments` (All, Blocked and two saved segments) and sorted first pages;
//! - writes, natively on the same database: creating and updating contacts with migration
//!   2's indexes and triggers, then without them (dropped), in the same run.

use std::process::Command;
use std::time::{Duration, Instant};

use contacts_core::contacts::repo::{self, Ctx};
use contacts_core::kernel::fields::Catalogue;
use contacts_core::kernel::native::NativeSql;
use contacts_core::kernel::store::Sql;
use contacts_core::kernel::values::Region;
use contacts_core::query::segments;
use contacts_e2e::bench::{self, ms};
use contacts_e2e::{gen, seed, workspace_root, ADMIN};
use serde_json::{json, Value as Json};

/// Saved segments for the sidebar: the filter benchmark's two.
fn saved_segments() -> Vec<Json> {
    vec![
        json!({"name": "BR customers vip", "filter": {"all": [
            {"field": "country", "op": "eq", "value": "BR"},
            {"field": "lead_stage", "op": "in", "value": ["customer"]},
            {"field": "tags", "op": "has_any", "value": ["vip"]},
        ]}}),
        json!({"name": "Paris gold 500+", "filter": {"all": [
            {"field": "city", "op": "eq", "value": "Paris"},
            {"field": "custom.tier", "op": "eq", "value": "Gold"},
            {"field": "custom.score", "op": "gte", "value": 500},
        ]}}),
    ]
}

/// The table the browser shows: the sort keys of issue 16 among the columns.
const COLUMNS: &[&str] = &[
    "display_name",
    "email",
    "phone",
    "last_name",
    "company",
    "lead_stage",
    "tags",
    "updated_at",
];

/// What migration 2 adds to every write: its indexes and triggers.
const V2_OBJECTS: &[(&str, &str)] = &[
    ("INDEX", "contacts_last_name"),
    ("INDEX", "contacts_company"),
    ("INDEX", "contacts_updated_at"),
    // Since schema version 3 inserts and deletes move the tallies and the generation inside
    // `contacts_insert` / `contacts_delete`, shared with search: not dropped here.
    ("TRIGGER", "segment_tallies_block"),
    ("TRIGGER", "contacts_generation_update"),
    ("TRIGGER", "contacts_generation_tag_insert"),
    ("TRIGGER", "contacts_generation_tag_delete"),
];

fn main() {
    let contacts = seed::bench_size();
    eprintln!("seeding or reusing {contacts} contacts…");
    let cached = seed::state_dir(contacts);
    let state = seed::writable_copy(&cached);
    let db = NativeSql::open(&state.path().join("sqlite_db.db")).expect("native db");
    let catalogue = Catalogue::load(&db).expect("catalogue");
    for body in saved_segments() {
        segments::create(&db, &catalogue, "admin", &body).expect("segment");
    }
    println!("contacts in the database: {contacts}");

    let host = bench::start_host(state.path());
    let base = host.base_url();
    let agent = ureq::AgentBuilder::new().build();
    let auth = format!("Bearer {ADMIN}");
    agent
        .put(&format!("{base}/api/views/table"))
        .set("authorization", &auth)
        .send_json(json!({ "columns": COLUMNS }))
        .expect("saving the table view")
        .into_string()
        .expect("the saved view");
    let get = |path: &str| {
        agent
            .get(&format!("{base}{path}"))
            .set("authorization", &auth)
            .call()
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .into_string()
            .expect("body");
    };

    println!("\nthrough the host, one request at a time:");
    println!("| request | p50 ms | p99 ms | runs |");
    println!("| --- | ---: | ---: | ---: |");
    let fields = COLUMNS.join(",");
    for path in [
        "/api/segments".to_owned(),
        format!("/api/contacts?limit=50&fields={fields}"),
        format!("/api/contacts?sort=last_name&limit=50&fields={fields}"),
        format!("/api/contacts?sort=company&limit=50&fields={fields}"),
        format!("/api/contacts?sort=-updated_at&limit=50&fields={fields}"),
        format!("/api/search?q=lima&limit=50&fields={fields}"),
    ] {
        let f = bench::time(50, |_| get(&path));
        println!("| `GET {path}` | {} | {} | {} |", ms(f.p50), ms(f.p99), f.n);
    }

    println!("\nin headless Chromium (Performance API, medians of 5 runs):");
    let out = Command::new("node")
        .arg(workspace_root().join("tests/browser/measure.mjs"))
        .arg(&base)
        .arg(ADMIN)
        .arg("5")
        .output()
        .expect("running node");
    assert!(
        out.status.success(),
        "measure.mjs failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{}", String::from_utf8_lossy(&out.stdout).trim());
    host.stop();

    write_cost(&db, &catalogue);
}

/// Creates then updates `n` contacts, timed.
fn writes(db: &NativeSql, catalogue: &Catalogue, first: u64, n: u64) -> (Duration, Duration) {
    let ctx = || Ctx {
        db,
        catalogue,
        region: Region::default(),
        actor: "bench",
    };
    let started = Instant::now();
    let ids: Vec<String> = (first..first + n)
        .map(|i| {
            // Without the generated phone: those repeat across seeds, and a primary phone
            // belongs to one contact (a 409). Emails carry `i`, past the seeded range.
            let mut body = gen::contact(16, i);
            if let Some(fields) = body.as_object_mut() {
                fields.remove("phone");
            }
            repo::create(ctx(), &body)
                .expect("create")
                .contact
                .contact_id()
                .to_owned()
        })
        .collect();
    let created = started.elapsed();
    let started = Instant::now();
    for (i, id) in ids.iter().enumerate() {
        let body = json!({"company": format!("Company {i}"), "last_name": format!("Name {i}")});
        repo::update(ctx(), id, &body, None).expect("update");
    }
    (created, started.elapsed())
}

/// The cost of migration 2 to writes: the same writes with and without its objects, on
/// the same database, alternating so the machine's noise falls on both.
fn write_cost(db: &NativeSql, catalogue: &Catalogue) {
    const N: u64 = 500;
    const ROUNDS: u64 = 3;
    let definitions: Vec<String> = V2_OBJECTS
        .iter()
        .map(|(_, name)| {
            db.execute(
                "SELECT sql FROM sqlite_master WHERE name = ?1",
                &[(*name).into()],
            )
            .expect("definition")
            .rows[0][0]
                .as_str()
                .expect("sql")
                .to_owned()
        })
        .collect();
    let mut with = (Duration::ZERO, Duration::ZERO);
    let mut without = (Duration::ZERO, Duration::ZERO);
    for round in 0..ROUNDS {
        let (c, u) = writes(db, catalogue, 10_000_000 + round * 2 * N, N);
        with = (with.0 + c, with.1 + u);
        for (kind, name) in V2_OBJECTS {
            db.execute(&format!("DROP {kind} {name}"), &[])
                .expect("drop");
        }
        let (c, u) = writes(db, catalogue, 10_000_000 + (round * 2 + 1) * N, N);
        without = (without.0 + c, without.1 + u);
        for sql in &definitions {
            db.execute(sql, &[]).expect("recreate");
        }
    }
    let per = |d: Duration| ms(d / (N * ROUNDS) as u32);
    println!(
        "\nwrites natively (repo::create / repo::update, one transaction each, {} of each):",
        N * ROUNDS
    );
    println!("| write | with migration 2 ms | without ms | ratio |");
    println!("| --- | ---: | ---: | ---: |");
    for (name, a, b) in [
        ("create", with.0, without.0),
        ("update company + last_name", with.1, without.1),
    ] {
        println!(
            "| {name} | {} | {} | {:.2} |",
            per(a),
            per(b),
            a.as_secs_f64() / b.as_secs_f64()
        );
    }
}
