//! A 3-condition filter at 1,000,000 contacts: its count and its first page through the host,
//! next to the very same SQL on native SQLite (rusqlite) on the same database file.
//!
//! `cargo bench -p contacts-e2e --bench filter` (CONTACTS=<n> to change the size).
//!
//! Through the host:
//! - count: `GET /api/segments/{id}` of a saved segment with the filter (one count query, plus
//!   the request's own work: token, catalogue, segment row);
//! - first page: `GET /api/segments/{id}/contacts?limit=50` (page only) and
//!   `POST /api/query {filter, limit: 50}` (page and `total`, i.e. a page plus a count).
//!
//! Natively: `page::count` and `page::page` with the same `Where` on one open connection.
//!
//! Then the first page of segment All sorted by one field, `GET /api/contacts?sort=<key>`,
//! against `page::page` natively: a field an index orders (`-created_at`), and fields none
//! does (`last_name`, `-updated_at`, `-conversation_count`), which need a top-N sort of the
//! whole segment.

use std::time::Instant;

use contacts_core::contacts::settings::table_view;
use contacts_core::kernel::fields::Catalogue;
use contacts_core::kernel::native::NativeSql;
use contacts_core::kernel::store::Sql;
use contacts_core::query::filter::{Clock, Filter, Reading};
use contacts_core::query::page::{self, PageRequest, Where};
use contacts_core::query::segments::{self, SegmentId};
use contacts_e2e::bench::{self, ms, Figures};
use contacts_e2e::{seed, ADMIN};
use serde_json::{json, Value as Json};

/// Runs `op` `n` times after `n / 5` warm-up runs, one at a time.
fn time(n: u64, mut op: impl FnMut()) -> Figures {
    bench::time(n, |_| op())
}

fn row(name: &str, f: &Figures) {
    println!(
        "| {name} | {} | {} | {} | {} |",
        ms(f.p50),
        ms(f.p99),
        ms(f.mean),
        f.n
    );
}

fn plan(db: &NativeSql, sql: &str, params: &[contacts_core::kernel::store::Value]) -> String {
    let rows = db
        .execute(&format!("EXPLAIN QUERY PLAN {sql}"), params)
        .expect("plan");
    let detail = rows.column("detail").expect("detail");
    rows.rows
        .iter()
        .map(|r| r[detail].as_str().unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The filters measured: three conditions each, on indexed system fields and tags, and on
/// custom fields indexed because a saved segment uses them.
fn filters() -> Vec<(&'static str, Json)> {
    vec![
        (
            "country=BR ∧ stage=customer ∧ tag vip",
            json!({"all": [
                {"field": "country", "op": "eq", "value": "BR"},
                {"field": "lead_stage", "op": "in", "value": ["customer"]},
                {"field": "tags", "op": "has_any", "value": ["vip"]},
            ]}),
        ),
        (
            "city=Paris ∧ tier=Gold ∧ score≥500",
            json!({"all": [
                {"field": "city", "op": "eq", "value": "Paris"},
                {"field": "custom.tier", "op": "eq", "value": "Gold"},
                {"field": "custom.score", "op": "gte", "value": 500},
            ]}),
        ),
    ]
}

fn main() {
    let contacts = seed::bench_size();
    eprintln!("seeding or reusing {contacts} contacts…");
    let cached = seed::state_dir(contacts);
    // Saving segments writes (and may build expression indexes): work on a copy.
    let state = seed::writable_copy(&cached);
    let db_path = state.path().join("sqlite_db.db");
    let db = NativeSql::open(&db_path).expect("native db");
    let catalogue = Catalogue::load(&db).expect("catalogue");
    let clock = Clock::system(None).expect("clock");

    let mut saved = Vec::new();
    for (name, filter) in filters() {
        let started = Instant::now();
        let seg = segments::create(
            &db,
            &catalogue,
            "bench",
            &json!({"name": name, "filter": filter}),
        )
        .expect("segment");
        eprintln!(
            "saved segment '{name}' (indexes built) in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        saved.push((name, filter, seg.id));
    }

    let host = bench::start_host(state.path());
    let base = host.base_url();
    let agent = ureq::AgentBuilder::new().build();
    let auth = format!("Bearer {ADMIN}");
    let get = |path: &str| -> Json {
        agent
            .get(&format!("{base}{path}"))
            .set("authorization", &auth)
            .call()
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .into_json()
            .expect("json")
    };
    let post = |path: &str, body: &Json| -> Json {
        agent
            .post(&format!("{base}{path}"))
            .set("authorization", &auth)
            .send_json(body.clone())
            .unwrap_or_else(|e| panic!("{path}: {e}"))
            .into_json()
            .expect("json")
    };

    println!("contacts in the database: {contacts}");
    // The per-request floor of the route: the same page request on segment `all`, whose
    // query is trivial (the newest 50 of the `(blocked, id)` index).
    let floor = time(300, || {
        get("/api/segments/all/contacts?limit=50");
    });
    println!("| case | p50 ms | p99 ms | mean ms | runs |");
    println!("| --- | ---: | ---: | ---: | ---: |");
    row("floor: first page of segment all, host", &floor);
    // The admin's table view: no view saved, so the default columns, as the host shows.
    let legacy = contacts_core::kernel::native::MemoryKv::default();
    let (_, columns) = table_view::load(&db, &|| Ok(&legacy), "admin").expect("columns");
    sorted_pages(&db, &catalogue, &clock, &columns, &get);
    for (name, filter, id) in &saved {
        let parsed = Filter::parse(filter, &catalogue).expect("filter");
        // The same SQL the host runs: a page's reading for pages, a count's for counts.
        let scope_for = |reading| -> Where {
            segments::scope_for(&db, &catalogue, &clock, SegmentId::Saved(*id), reading)
                .expect("scope")
        };
        let (scope, count_scope) = (scope_for(Reading::Page), scope_for(Reading::Every));
        let page_req = || PageRequest {
            scope: scope.clone(),
            sort: Vec::new(),
            limit: 50,
            cursor: None,
            columns: columns.clone(),
        };
        let count = page::count(&db, &count_scope).expect("count");
        let host_count = get(&format!("/api/segments/{id}"))["count"].as_i64();
        assert_eq!(host_count, Some(count), "host and native disagree");
        let first = page::page(&db, &catalogue, &page_req()).expect("page");
        println!();
        println!(
            "filter: {name} — {count} matching contacts, {} conditions",
            parsed.conditions().len()
        );
        println!(
            "count plan: {}",
            plan(
                &db,
                &format!("SELECT count(*) FROM contacts c WHERE {}", count_scope.sql),
                &count_scope.params
            )
        );
        println!(
            "page plan:  {}",
            plan(
                &db,
                &format!(
                    "SELECT c.id FROM contacts c WHERE {} ORDER BY c.id DESC LIMIT 51",
                    scope.sql
                ),
                &scope.params
            )
        );
        println!("| case | p50 ms | p99 ms | mean ms | runs |");
        println!("| --- | ---: | ---: | ---: | ---: |");
        let native_count = time(30, || {
            page::count(&db, &count_scope).expect("count");
        });
        row("count, native rusqlite (same SQL)", &native_count);
        let host_count = time(30, || {
            get(&format!("/api/segments/{id}"));
        });
        row("count, host `GET /api/segments/{id}`", &host_count);
        let native_page = time(300, || {
            page::page(&db, &catalogue, &page_req()).expect("page");
        });
        row("first page of 50, native rusqlite (same SQL)", &native_page);
        let host_page = time(300, || {
            let page = get(&format!("/api/segments/{id}/contacts?limit=50"));
            assert_eq!(
                page["items"].as_array().map(Vec::len),
                Some(first.items.len())
            );
        });
        row(
            "first page of 50, host `GET /api/segments/{id}/contacts`",
            &host_page,
        );
        let host_query = time(30, || {
            let r = post("/api/query", &json!({"filter": filter, "limit": 50}));
            assert_eq!(r["total"].as_i64(), Some(count));
        });
        row("first page + total, host `POST /api/query`", &host_query);
        println!(
            "ratio host/native: count p50 {:.2}, mean {:.2}; first page p50 {:.2}",
            host_count.p50.as_secs_f64() / native_count.p50.as_secs_f64(),
            host_count.mean.as_secs_f64() / native_count.mean.as_secs_f64(),
            host_page.p50.as_secs_f64() / native_page.p50.as_secs_f64(),
        );
    }
}

/// The first page of segment All sorted by one key, through the host and natively.
fn sorted_pages(
    db: &NativeSql,
    catalogue: &Catalogue,
    clock: &Clock,
    columns: &[String],
    get: &dyn Fn(&str) -> Json,
) {
    for key in [
        "-created_at",
        "last_name",
        "-updated_at",
        "-conversation_count",
    ] {
        let req = PageRequest {
            scope: segments::scope(db, catalogue, clock, "all").expect("scope"),
            sort: page::parse_sort_param(key, catalogue).expect("sort"),
            limit: 50,
            cursor: None,
            columns: columns.to_vec(),
        };
        let first = page::page(db, catalogue, &req).expect("page");
        let native = time(10, || {
            page::page(db, catalogue, &req).expect("page");
        });
        row(
            &format!("first page of all sorted by {key}, native rusqlite (same SQL)"),
            &native,
        );
        let host = time(10, || {
            let page = get(&format!("/api/contacts?sort={key}&limit=50"));
            assert_eq!(page["items"][0]["contact_id"], first.items[0]["contact_id"]);
        });
        row(
            &format!("first page of all sorted by {key}, host `GET /api/contacts`"),
            &host,
        );
    }
}
