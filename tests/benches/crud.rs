//! Create-contact and get-contact through the host at 1,000,000 contacts, next to the same
//! work done natively on the same database file.
//!
//! `cargo bench -p contacts-e2e --bench crud` (CONTACTS=<n> to change the size).

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use contacts_core::fields::Catalogue;
use contacts_core::native::NativeSql;
use contacts_core::repo::{self, Ctx};
use contacts_core::values::Region;
use contacts_e2e::bench::{self, ms, Figures};
use contacts_e2e::{seed, ADMIN};
use serde_json::json;

const WARMUP: Duration = Duration::from_secs(1);
const RUN: Duration = Duration::from_secs(5);

fn load<F>(conns: usize, op: F) -> Figures
where
    F: Fn(&ureq::Agent, usize, u64) -> Result<(), String> + Send + Sync + 'static,
{
    bench::load(conns, WARMUP, RUN, Arc::new(AtomicU64::new(0)), op)
}

fn main() {
    let contacts = seed::bench_size();
    eprintln!("seeding or reusing {contacts} contacts…");
    let cached = seed::state_dir(contacts);
    let state = seed::writable_copy(&cached);
    let host = bench::start_host(state.path());
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
            bench::answer(r, 200).map(drop)
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
            bench::answer(r, 201).map(drop)
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
        bench::answer(r, 201).map(drop)
    });
    row("POST /api/contacts host, 4 conn (email only)", &f);
    drop(host);

    // The same work natively on the same database: the floor the host is measured against.
    let db = NativeSql::open(&state.path().join("sqlite_db.db")).expect("native db");
    let catalogue = Catalogue::load(&db).expect("catalogue");
    let f = bench::time(20_000, |i| {
        let n = (i.wrapping_mul(2_654_435_761)) % contacts;
        repo::read(&db, &seed::contact_id(n)).expect("read");
    });
    row("get (native rusqlite, same SQL)", &f);
    let f = bench::time(5_000, |i| {
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
