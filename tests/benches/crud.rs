//! Create-contact and get-contact through the host at 1,000,000 contacts, next to the same
//! work done natively on the same database file.
//!
//! The load comes from a child process (`bench::load_in_child`), as clients do.
//!
//! `cargo bench -p contacts-e2e --bench crud` (CONTACTS=<n> to change the size).

use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

use contacts_core::contacts::repo::{self, Ctx};
use contacts_core::kernel::fields::Catalogue;
use contacts_core::kernel::native::NativeSql;
use contacts_core::kernel::values::Region;
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

/// A load client, in a child process (`bench::load_in_child`): `case base conns contacts`.
fn client(args: &[String]) {
    let [case, base, conns, contacts] = args else {
        panic!("load client arguments: {args:?}");
    };
    let conns: usize = conns.parse().expect("connections");
    let contacts: u64 = contacts.parse().expect("contacts");
    let (base, auth) = (base.clone(), format!("Bearer {ADMIN}"));
    let f = match case.as_str() {
        "get" => load(conns, move |agent, _, i| {
            let n = (i.wrapping_mul(2_654_435_761)) % contacts;
            let r = agent
                .get(&format!("{base}/api/contacts/{}", seed::contact_id(n)))
                .set("authorization", &auth)
                .call();
            bench::answer(r, 200).map(drop)
        }),
        "create-phone" => load(conns, move |agent, t, i| {
            let body = json!({"first_name": "Bench", "last_name": format!("C{conns}-{t}-{i}"),
                              "phone": format!("({}) {:03}-{:04}", if conns == 1 { 718 } else { 347 }, 200 + (i / 10_000) % 800, i % 10_000)});
            let r = agent
                .post(&format!("{base}/api/contacts"))
                .set("authorization", &auth)
                .send_json(body);
            bench::answer(r, 201).map(drop)
        }),
        "create-email" => load(conns, move |agent, t, i| {
            let body = json!({"email": format!("bench-{t}-{i}@example.org")});
            let r = agent
                .post(&format!("{base}/api/contacts"))
                .set("authorization", &auth)
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
    eprintln!("seeding or reusing {contacts} contacts…");
    let cached = seed::state_dir(contacts);
    let state = seed::writable_copy(&cached);
    let host = bench::start_host(state.path());
    let base = host.base_url();

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

    let in_child = |case: &str, conns: usize| {
        bench::load_in_child(&[
            case.to_owned(),
            base.clone(),
            conns.to_string(),
            contacts.to_string(),
        ])
    };
    for conns in [1, 4] {
        let f = in_child("get", conns);
        row(&format!("GET /api/contacts/{{id}} host, {conns} conn"), &f);
    }
    for conns in [1, 4] {
        let f = in_child("create-phone", conns);
        row(
            &format!("POST /api/contacts host, {conns} conn (phone)"),
            &f,
        );
    }
    let f = in_child("create-email", 4);
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
