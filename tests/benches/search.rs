//! Search at 1,000,000 contacts (issue 6), in one run:
//! - 200 varied queries through the host (`GET /api/search`, one keep-alive client);
//! - the same searches natively (`contacts_core::search::search` on rusqlite: the same FTS5
//!   statements, no host, no HTTP, no per-request connection);
//! - a `LIKE '%q%'` scan doing the same job without the index: first page, newest first,
//!   every word in first name, last name, email or phone; and a ranked variant, which has to
//!   read every row to order by rank;
//! - write cost of the triggers: create through the host with and without them, and native
//!   batched inserts with and without them;
//! - index build time (re-indexing all contacts) and database size.
//!
//! `cargo bench -p contacts-e2e --bench search` (CONTACTS=<n> to change the size).

use std::path::Path;
use std::time::{Duration, Instant};

use contacts_core::kernel::fields::{custom, Catalogue, CustomFieldDef, DEFAULT_COLUMNS};
use contacts_core::kernel::native::NativeSql;
use contacts_core::kernel::store::{write_tx, Sql, Value};
use contacts_core::query::page::system_segment;
use contacts_core::search::{self, Query, SearchRequest};
use contacts_core::{contacts::repo, kernel::schema, Error};
use contacts_e2e::bench::{self, ms, Figures};
use contacts_e2e::gen::{self, Rng, FIRST_NAMES, LAST_NAMES};
use contacts_e2e::{seed, ADMIN};
use serde_json::json;

const QUERIES: usize = 200;
const HOST_ROUNDS: usize = 5;
/// The ranked scan reads every row; a quarter of the queries keeps the run short.
const RANKED_SCAN_EVERY: usize = 4;
/// The triggers that index contacts. Since schema version 3 an insert's indexing shares
/// `contacts_insert` with the duplicate keys and segment tallies, so "without" drops those
/// small parts too.
const SEARCH_TRIGGERS: &[&str] = &[
    "contacts_insert",
    "contacts_search_update_words",
    "contacts_search_update_grams",
    "contacts_delete",
];

fn row(name: &str, f: &Figures) {
    println!("{name:<52} {:>6} {:>10} {:>10}", f.n, ms(f.p50), ms(f.p99));
}

fn main() {
    let contacts = seed::bench_size();
    eprintln!("seeding or reusing {contacts} contacts…");
    let cached = seed::state_dir(contacts);
    let db_file = cached.join("sqlite_db.db");
    let size = std::fs::metadata(&db_file).expect("db").len();
    let state = seed::writable_copy(&cached);
    let db_path = state.path().join("sqlite_db.db");
    let queries = queries(&NativeSql::open(&db_path).expect("db"));

    let host = bench::start_host(state.path());
    let base = host.base_url();
    let agent = ureq::AgentBuilder::new().build();
    let auth = format!("Bearer {ADMIN}");

    println!("contacts: {contacts}, queries: {}", queries.len());
    println!(
        "{:<52} {:>6} {:>10} {:>10}",
        "case", "n", "p50 ms", "p99 ms"
    );

    // Through the host: one unmeasured round (JIT, page cache), then HOST_ROUNDS.
    let mut host_samples = Vec::new();
    let mut hits = 0usize;
    for round in 0..=HOST_ROUNDS {
        for q in &queries {
            let url = format!("{base}/api/search?q={}&limit=50", encode(q));
            let t0 = Instant::now();
            let resp = agent
                .get(&url)
                .set("authorization", &auth)
                .call()
                .unwrap_or_else(|e| panic!("{q}: {e}"));
            let body: serde_json::Value = resp.into_json().expect("json");
            let took = t0.elapsed();
            if round > 0 {
                host_samples.push(took);
            } else if body["items"].as_array().is_some_and(|i| !i.is_empty()) {
                hits += 1;
            }
        }
    }
    let host_figures = Figures::sequential(host_samples);
    row(
        "search through the host (HTTP, fresh instance)",
        &host_figures,
    );

    // The same searches natively, same statements.
    let db = NativeSql::open(&db_path).expect("native db");
    let catalogue = Catalogue::load(&db).expect("catalogue");
    let columns: Vec<String> = DEFAULT_COLUMNS.iter().map(|s| s.to_string()).collect();
    let mut native_samples = Vec::new();
    let mut slowest: Vec<(Duration, &str)> = Vec::new();
    for round in 0..=HOST_ROUNDS {
        for q in &queries {
            let t0 = Instant::now();
            let query = Query::parse(q).expect("query");
            let page = search::search(
                &db,
                &catalogue,
                &SearchRequest {
                    query: &query,
                    scope: system_segment("all").expect("all"),
                    segment: "all",
                    limit: 50,
                    cursor: None,
                    columns: columns.clone(),
                },
            )
            .expect("search");
            let took = t0.elapsed();
            assert!(page.items.len() <= 50);
            if round > 0 {
                native_samples.push(took);
                slowest.push((took, q.as_str()));
            }
        }
    }
    let native_figures = Figures::sequential(native_samples);
    row("same FTS statements, native rusqlite", &native_figures);
    slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
    slowest.dedup_by(|a, b| a.1 == b.1);
    let names: Vec<String> = slowest
        .iter()
        .take(8)
        .map(|(d, q)| format!("{q:?} {} ms", ms(*d)))
        .collect();
    println!("  slowest natively: {}", names.join(", "));

    // As Spin does it: a fresh connection (cold page cache) for every search.
    let mut fresh_samples = Vec::new();
    for q in &queries {
        let t0 = Instant::now();
        let fresh = NativeSql::open(&db_path).expect("fresh connection");
        let catalogue = Catalogue::load(&fresh).expect("catalogue");
        let query = Query::parse(q).expect("query");
        search::search(
            &fresh,
            &catalogue,
            &SearchRequest {
                query: &query,
                scope: system_segment("all").expect("all"),
                segment: "all",
                limit: 50,
                cursor: None,
                columns: columns.clone(),
            },
        )
        .expect("search");
        fresh_samples.push(t0.elapsed());
    }
    row(
        "same, native, fresh connection per search",
        &Figures::sequential(fresh_samples),
    );
    // The host's fixed cost: a query without words does no search.
    let mut empty = Vec::new();
    for _ in 0..200 {
        let t0 = Instant::now();
        let r = agent
            .get(&format!("{base}/api/search?q=%40%40"))
            .set("authorization", &auth)
            .call();
        bench::answer(r, 200).expect("empty search");
        empty.push(t0.elapsed());
    }
    row(
        "host, query without words (request overhead)",
        &Figures::sequential(empty),
    );

    let scan = Figures::sequential(queries.iter().map(|q| time_scan(&db, q, false)).collect());
    row("LIKE '%q%' scan, first page (no index)", &scan);
    let ranked = Figures::sequential(
        queries
            .iter()
            .step_by(RANKED_SCAN_EVERY)
            .map(|q| time_scan(&db, q, true))
            .collect(),
    );
    row("LIKE '%q%' scan, ranked (reads every row)", &ranked);
    println!(
        "queries with at least one result: {hits} of {}",
        queries.len()
    );
    println!(
        "host vs scan: p50 {:.0}x, p99 {:.0}x; host vs ranked scan: p50 {:.0}x, p99 {:.0}x; host / native p50 {:.1}",
        scan.p50.as_secs_f64() / host_figures.p50.as_secs_f64(),
        scan.p99.as_secs_f64() / host_figures.p99.as_secs_f64(),
        ranked.p50.as_secs_f64() / host_figures.p50.as_secs_f64(),
        ranked.p99.as_secs_f64() / host_figures.p99.as_secs_f64(),
        host_figures.p50.as_secs_f64() / native_figures.p50.as_secs_f64(),
    );

    // Write cost: creates through the host with the triggers, then without them.
    let with = host_creates(&agent, &base, &auth, "with");
    for t in SEARCH_TRIGGERS {
        db.execute(&format!("DROP TRIGGER {t}"), &[])
            .expect("drop trigger");
    }
    let without = host_creates(&agent, &base, &auth, "without");
    drop(host);
    row(
        "POST /api/contacts through the host, with search triggers",
        &with,
    );
    row(
        "POST /api/contacts through the host, without contact triggers",
        &without,
    );
    let (rate_with, rate_without) = native_insert_rates();
    println!(
        "native batched insert (1,000 per transaction): {rate_with:.0} rows/s with the search triggers, {rate_without:.0} without ({:.2}x)",
        rate_with / rate_without
    );

    // Index build: both indexes from scratch over every contact.
    let t0 = Instant::now();
    write_tx(&db, || search::reindex(&db)).expect("reindex");
    println!(
        "index build (search::reindex of {contacts} contacts, one transaction): {:.1} s",
        t0.elapsed().as_secs_f64()
    );
    report_size(&db_file, size);
}

/// 200 queries of ten kinds, 20 each, drawn from the names in the generator and from
/// contacts actually stored (their emails and phones).
fn queries(db: &NativeSql) -> Vec<String> {
    let mut rng = Rng::new(6);
    let total = db
        .execute("SELECT max(id) FROM contacts", &[])
        .expect("max")
        .scalar_i64()
        .unwrap_or(1);
    let stored = |rng: &mut Rng| -> (String, String, String, String) {
        loop {
            let id = 1 + (rng.next_u64() % total as u64) as i64;
            let rows = db
                .execute(
                    "SELECT first_name, last_name, email, phone FROM contacts WHERE id = ? AND phone IS NOT NULL",
                    &[id.into()],
                )
                .expect("row");
            if let Some(r) = rows.rows.first() {
                let text = |i: usize| r[i].as_str().unwrap_or_default().to_owned();
                return (text(0), text(1), text(2), text(3));
            }
        }
    };
    let lower = |s: &str| s.to_lowercase();
    let mut out = Vec::with_capacity(QUERIES);
    for i in 0..QUERIES / 10 {
        out.push(lower(rng.pick(FIRST_NAMES)));
        out.push(lower(rng.pick(LAST_NAMES)));
        let (first, last, email, phone) = stored(&mut rng);
        out.push(lower(&format!("{first} {last}")));
        let name = lower(rng.pick(FIRST_NAMES));
        out.push(name.chars().take(1 + i % 3).collect());
        let name: Vec<char> = lower(rng.pick(LAST_NAMES)).chars().collect();
        let start = 1.min(name.len().saturating_sub(3));
        out.push(
            name[start..(start + 3 + i % 2).min(name.len())]
                .iter()
                .collect(),
        );
        out.push(typo(&mut rng));
        out.push(match i % 3 {
            0 => email.clone(),
            1 => email.chars().take(8).collect(),
            _ => format!("example{}", i % 7),
        });
        let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
        out.push(match i % 3 {
            0 => phone.clone(),
            1 => digits[digits.len().saturating_sub(7)..].to_owned(),
            _ => {
                let d = &digits[digits.len().saturating_sub(10)..];
                format!(
                    "{}-{}",
                    &d[..3.min(d.len())],
                    &d[3.min(d.len())..6.min(d.len())]
                )
            }
        });
        out.push(
            [
                "gold",
                "silver",
                "priority",
                "legacy account",
                "migrated",
                "bronze",
                "standard",
            ][i % 7]
                .to_owned(),
        );
        out.push(
            [
                "muller",
                "lefevre",
                "nguyen",
                "soren",
                "lukasz",
                "yilmaz",
                "ana li",
                "maria s",
                "jo silva",
                "zzqx",
                "qwertyuiop",
                "siobhan murphy",
                "o'brien",
                "chloe dubois",
                "ines pereira",
                "kwame mensah",
                "li wang",
                "m",
                "sa",
                "hannah",
            ][i % 20]
                .to_owned(),
        );
    }
    out
}

/// A name of five letters or more with one edit: a swap, a dropped or a changed letter.
fn typo(rng: &mut Rng) -> String {
    loop {
        let pool = if rng.chance(50) {
            FIRST_NAMES
        } else {
            LAST_NAMES
        };
        let name: Vec<char> = rng.pick(pool).to_lowercase().chars().collect();
        if name.len() < 6 || !name.iter().all(|c| c.is_ascii_alphabetic()) {
            continue;
        }
        let mut w = name.clone();
        let at = 1 + rng.below(name.len() - 2);
        match rng.below(3) {
            0 => w.swap(at, at + 1),
            1 => {
                w.remove(at);
            }
            _ => w[at] = if w[at] == 'x' { 'q' } else { 'x' },
        }
        if w != name {
            return w.into_iter().collect();
        }
    }
}

/// The index-free way: every word in first name, last name, email or phone digits.
fn time_scan(db: &NativeSql, q: &str, ranked: bool) -> Duration {
    let words: Vec<String> = q.split_whitespace().map(str::to_lowercase).collect();
    let mut conditions = vec!["c.blocked = 0".to_owned()];
    let mut params: Vec<Value> = Vec::new();
    for w in &words {
        conditions.push(
            "(lower(c.first_name) LIKE ? OR lower(c.last_name) LIKE ? OR c.email_norm LIKE ? OR c.phone_e164 LIKE ?)"
                .into(),
        );
        let pattern = format!("%{w}%");
        for _ in 0..4 {
            params.push(pattern.as_str().into());
        }
    }
    let order = if ranked {
        // Best rank of the first word, as search ranks: exact, prefix, substring.
        let (exact, prefix) = (params.len() + 1, params.len() + 2);
        params.push(words[0].as_str().into());
        params.push(format!("{}%", words[0]).into());
        format!(
            "CASE WHEN lower(c.first_name) = ?{exact} OR lower(c.last_name) = ?{exact} OR c.email_norm = ?{exact} THEN 0 \
                  WHEN lower(c.first_name) LIKE ?{prefix} OR lower(c.last_name) LIKE ?{prefix} OR c.email_norm LIKE ?{prefix} THEN 1 \
                  ELSE 2 END, c.id DESC"
        )
    } else {
        "c.id DESC".to_owned()
    };
    let sql = format!(
        "SELECT c.id, c.contact_id FROM contacts c WHERE {} ORDER BY {order} LIMIT 51",
        conditions.join(" AND ")
    );
    let t0 = Instant::now();
    db.execute(&sql, &params).expect("scan");
    t0.elapsed()
}

fn host_creates(agent: &ureq::Agent, base: &str, auth: &str, tag: &str) -> Figures {
    let mut samples = Vec::new();
    for i in 0..1_000 {
        let body = json!({"first_name": "Bench", "last_name": format!("{tag}{i}"),
                          "email": format!("search-bench-{tag}-{i}@example.org"),
                          "phone": format!("(213) {:03}-{:04}", 200 + i / 100, i % 10_000 + if tag == "with" { 0 } else { 5_000 })});
        let t0 = Instant::now();
        let r = agent
            .post(&format!("{base}/api/contacts"))
            .set("authorization", auth)
            .send_json(body);
        let created = bench::answer(r, 201);
        let took = t0.elapsed();
        if let Err(e) = created {
            panic!("create: {e}");
        }
        if i >= 50 {
            samples.push(took);
        }
    }
    Figures::sequential(samples)
}

/// Native `repo::insert` of generated contacts with custom values, 1,000 per transaction
/// (as an import chunk), into a fresh database: with the search triggers, then without.
fn native_insert_rates() -> (f64, f64) {
    let rate = |keep_triggers: bool| {
        let dir = tempfile::tempdir().expect("tmp");
        let db = NativeSql::open(&dir.path().join("w.db")).expect("db");
        schema::ensure(&db).expect("schema");
        if !keep_triggers {
            for t in SEARCH_TRIGGERS {
                db.execute(&format!("DROP TRIGGER {t}"), &[]).expect("drop");
            }
        }
        for def in gen::custom_field_defs() {
            let def: CustomFieldDef = serde_json::from_value(def).expect("def");
            custom::create(&db, &def).expect("field");
        }
        let catalogue = Catalogue::load(&db).expect("catalogue");
        let n = 30_000u64;
        let t0 = Instant::now();
        for chunk in 0..n / 1_000 {
            write_tx(&db, || {
                for i in chunk * 1_000..(chunk + 1) * 1_000 {
                    let mut body = gen::contact(7, i);
                    body["custom"] = gen::custom_values(7, i);
                    body["contact_id"] = json!(format!("W{i}"));
                    let edit = contacts_core::contacts::contact::Edit::parse(
                        &body,
                        &catalogue,
                        Default::default(),
                        contacts_core::contacts::contact::EditMode::Create,
                    )?;
                    let mut contact = contacts_core::contacts::contact::Contact::new(
                        contacts_core::kernel::values::ContactId::parse(&format!("W{i}"))?,
                        "bench",
                    );
                    edit.apply(&mut contact, &catalogue);
                    repo::insert(&db, &mut contact, false)?;
                }
                Ok::<_, Error>(())
            })
            .expect("insert chunk");
        }
        n as f64 / t0.elapsed().as_secs_f64()
    };
    (rate(true), rate(false))
}

fn report_size(db_file: &Path, size: u64) {
    println!("database file: {:.0} MB", size as f64 / 1e6);
    let Ok(db) = rusqlite::Connection::open(db_file) else {
        return;
    };
    let share = db.query_row(
        "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'search\\_%' ESCAPE '\\'",
        [],
        |r| r.get::<_, i64>(0),
    );
    match share {
        Ok(bytes) => println!(
            "of which the search indexes: {:.0} MB ({:.0}%)",
            bytes as f64 / 1e6,
            100.0 * bytes as f64 / size as f64
        ),
        Err(e) => println!("(index size unavailable: {e})"),
    }
    let per_table: Vec<(String, i64)> = match db.prepare(
        "SELECT name, sum(pgsize) FROM dbstat WHERE name LIKE 'search\\_%' ESCAPE '\\' GROUP BY name ORDER BY 2 DESC",
    ) {
        Ok(mut stmt) => stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map(|rows| rows.flatten().collect())
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    for (name, bytes) in per_table {
        println!("  {name}: {:.0} MB", bytes as f64 / 1e6);
    }
}

/// Percent-encodes a query parameter value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
