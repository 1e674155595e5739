//! Duplicates and merge at 1,000,000 contacts, through the host, next to the very same core
//! calls (the same SQL) on native SQLite (rusqlite) on the same database file.
//!
//! `cargo bench -p contacts-e2e --bench merge` (CONTACTS=<n> to change the size).
//!
//! On top of the seeded contacts (unique emails and phones) the bench adds a realistic share
//! of duplicates: 2% more contacts, each holding a seeded contact's email as a secondary email,
//! or its phone as a mobile, the way auto-created and imported contacts do. Then:
//! - `GET /api/duplicates/{id}` for contacts that have duplicates (and name-and-company
//!   look-alikes: the generator repeats names and companies);
//! - `GET /api/duplicates` (first page of 50 groups);
//! - `POST /api/merge` of 2 contacts (a seeded contact and its duplicate);
//! - `POST /api/merge` of 25 contacts holding 1,000 conversations each.
//!
//! Each case runs through the host first (the app's `merge` component), then natively on
//! other contacts of the same database, after the host has stopped: on one warm connection,
//! and (but for the 25-contact merge) on a fresh connection per call, as Spin opens one per
//! request, so the table shows what Spin's connection model costs apart from the host.

use contacts_core::contacts::contact::{Contact, Edit, EditMode};
use contacts_core::contacts::repo::{self, Ctx};
use contacts_core::kernel::fields::Catalogue;
use contacts_core::kernel::native::NativeSql;
use contacts_core::kernel::store::{placeholders, write_tx, Sql, Value};
use contacts_core::kernel::values::{ContactId, Region};
use contacts_core::merge::{self, duplicates, MergeRequest};
use contacts_core::{kernel::schema, Error};
use contacts_e2e::bench::{self, ms, Figures};
use contacts_e2e::{gen, seed, ADMIN};
use serde_json::{json, Value as Json};

/// One seeded contact in fifty gets a duplicate.
const DUPLICATE_EVERY: u64 = 50;
/// 25-contact merges per side, and the conversations each contact holds.
const BIG_MERGES: usize = 8;
const CONVERSATIONS: usize = 1_000;
/// 2-contact merges per side, at most (each takes a pair: the host's run takes them from
/// the first half of the duplicates, the two native runs from the second).
const PAIR_MERGES: u64 = 300;

/// A case's row: the host, the same core calls natively on one warm connection, and (where
/// measured) natively on a fresh connection per call, as Spin opens one per request.
fn row(name: &str, host: &Figures, native: &Figures, fresh: Option<&Figures>) {
    let ratio = |n: &Figures| host.p50.as_secs_f64() / n.p50.as_secs_f64();
    let (fresh_p50, fresh_ratio) = match fresh {
        Some(f) => (ms(f.p50), format!("{:.2}", ratio(f))),
        None => ("—".to_owned(), "—".to_owned()),
    };
    println!(
        "| {name} | {} | {} | {} | {} | {:.2} | {fresh_p50} | {fresh_ratio} | {} |",
        ms(host.p50),
        ms(host.p99),
        ms(native.p50),
        ms(native.p99),
        ratio(native),
        host.n
    );
}

/// The `k`-th added duplicate: a new contact holding seeded contact `of`'s email as a
/// secondary one, or (every other one, when it has a phone) its phone as its mobile.
fn duplicate_body(k: u64, of: u64) -> Json {
    let seeded = gen::contact(seed::SEED, of);
    let mut body = json!({"first_name": "Dup", "last_name": format!("D{k}"),
                          "email": format!("dup{k}@bench.example.org")});
    match seeded.get("phone") {
        Some(phone) if k % 2 == 1 => body["mobile"] = phone.clone(),
        _ => body["secondary_emails"] = json!([seeded["email"]]),
    }
    body
}

fn dup_id(k: u64) -> String {
    format!("D{k:08}")
}

/// Adds the duplicates natively, in batches, as the seed writes (no history).
fn add_duplicates(db: &NativeSql, contacts: u64) -> u64 {
    let catalogue = Catalogue::load(db).expect("catalogue");
    let n = contacts / DUPLICATE_EVERY;
    for batch in (0..n).collect::<Vec<_>>().chunks(10_000) {
        write_tx(db, || {
            for &k in batch {
                let edit = Edit::parse(
                    &duplicate_body(k, k * DUPLICATE_EVERY),
                    &catalogue,
                    Region::default(),
                    EditMode::Create,
                )?;
                let mut contact = Contact::new(ContactId::parse(&dup_id(k))?, "bench");
                edit.apply(&mut contact, &catalogue);
                repo::insert(db, &mut contact, false)?;
            }
            Ok::<_, Error>(())
        })
        .expect("duplicates");
    }
    schema::analyze(db, Some("duplicate_keys")).expect("analyze");
    n
}

/// `sets` groups of 25 new contacts (one shared email: they are one person), each holding
/// `CONVERSATIONS` conversations; returns their Contact IDs.
fn add_big_sets(db: &NativeSql, prefix: &str, sets: usize) -> Vec<Vec<String>> {
    let catalogue = Catalogue::load(db).expect("catalogue");
    let mut out = Vec::new();
    for s in 0..sets {
        let ids: Vec<String> = (0..merge::MAX_CONTACTS)
            .map(|i| format!("{prefix}{s:03}-{i:02}"))
            .collect();
        write_tx(db, || {
            for (i, id) in ids.iter().enumerate() {
                let body = json!({"first_name": "Big", "last_name": format!("{prefix}{s}"),
                                  "email": format!("{id}@big.example.org"),
                                  "secondary_emails": [format!("{prefix}{s}@shared.example.org")],
                                  "tags": [format!("t{}", i % 5)]});
                let edit = Edit::parse(&body, &catalogue, Region::default(), EditMode::Create)?;
                let mut contact = Contact::new(ContactId::parse(id)?, "bench");
                edit.apply(&mut contact, &catalogue);
                repo::insert(db, &mut contact, false)?;
                add_conversations(db, contact.rowid, id)?;
            }
            Ok::<_, Error>(())
        })
        .expect("big sets");
        out.push(ids);
    }
    out
}

fn add_conversations(db: &NativeSql, rowid: i64, id: &str) -> Result<(), Error> {
    for chunk in (0..CONVERSATIONS).collect::<Vec<_>>().chunks(200) {
        let mut params: Vec<Value> = Vec::with_capacity(chunk.len() * 2);
        for c in chunk {
            params.push(format!("{id}-c{c}").into());
            params.push(rowid.into());
        }
        let rows = vec![
            "('web_chat', ?, ?, '2026-01-01T00:00:00.000Z', '2026-01-02T00:00:00.000Z')";
            chunk.len()
        ];
        db.execute(
            &format!(
                "INSERT INTO conversations (channel, conversation_id, contact_rowid, first_seen, last_seen) VALUES {}",
                rows.join(", ")
            ),
            &params,
        )?;
    }
    db.execute(
        "UPDATE contacts SET conversation_count = ? WHERE id = ?",
        &[(CONVERSATIONS as i64).into(), rowid.into()],
    )?;
    Ok(())
}

fn merge_body(ids: &[String]) -> Json {
    json!({"primary": ids[0], "secondaries": ids[1..]})
}

/// Seeded contacts that have an added duplicate, spread over the table.
/// What `POST /api/merge` does with the database, natively: the catalogue, then the merge.
fn merge_natively(db: &NativeSql, ids: &[String]) {
    let catalogue = Catalogue::load(db).expect("catalogue");
    let ctx = Ctx {
        db,
        catalogue: &catalogue,
        region: Region::default(),
        actor: "bench",
    };
    let req = MergeRequest::parse(&merge_body(ids)).expect("request");
    merge::merge(ctx, &req).expect("merge");
}

fn with_duplicates(dups: u64, i: u64) -> u64 {
    (i.wrapping_mul(2_654_435_761) % dups) * DUPLICATE_EVERY
}

fn main() {
    let contacts = seed::bench_size();
    eprintln!("seeding or reusing {contacts} contacts…");
    let cached = seed::state_dir(contacts);
    let state = seed::writable_copy(&cached);
    let db = NativeSql::open(&state.path().join("sqlite_db.db")).expect("native db");
    let t0 = std::time::Instant::now();
    let dups = add_duplicates(&db, contacts);
    let host_sets = add_big_sets(&db, "H", BIG_MERGES + 2);
    let native_sets = add_big_sets(&db, "N", BIG_MERGES + 2);
    eprintln!(
        "added {dups} duplicates and {} sets of 25 contacts with {CONVERSATIONS} conversations each in {:.1} s",
        2 * (BIG_MERGES + 2),
        t0.elapsed().as_secs_f64()
    );
    let shared_keys = db
        .execute(
            "SELECT rank, count(*) FROM duplicate_keys GROUP BY rank",
            &[],
        )
        .expect("count");
    println!("contacts in the database: {}", contacts + dups);
    println!(
        "shared keys (rank 0 email, 1 phone, 2 name+company): {:?}",
        shared_keys
            .rows
            .iter()
            .map(|r| (r[0].as_i64().unwrap_or(0), r[1].as_i64().unwrap_or(0)))
            .collect::<Vec<_>>()
    );

    // Through the host.
    let host = bench::start_host(state.path());
    let base = host.base_url();
    let agent = ureq::AgentBuilder::new().build();
    let auth = format!("Bearer {ADMIN}");
    let get = |path: &str| {
        let r = agent
            .get(&format!("{base}{path}"))
            .set("authorization", &auth)
            .call();
        bench::answer(r, 200).unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let post = |body: Json| {
        let r = agent
            .post(&format!("{base}/api/merge"))
            .set("authorization", &auth)
            .send_json(body);
        bench::answer(r, 200).unwrap_or_else(|e| panic!("merge: {e}"))
    };
    let sample = get(&format!(
        "/api/duplicates/{}",
        seed::contact_id(with_duplicates(dups, 1))
    ));
    eprintln!("a contact's duplicates: {sample}");
    let h_list = bench::time(2_000, |i| {
        get(&format!(
            "/api/duplicates/{}",
            seed::contact_id(with_duplicates(dups, i))
        ));
    });
    let h_groups = bench::time(200, |_| {
        get("/api/duplicates?limit=50");
    });
    // Pairs: the first half of the duplicates for the host, the second for native runs.
    let half = dups / 2;
    // `bench::time` also runs a fifth as many warm-up merges.
    let pairs = PAIR_MERGES.min(half * 5 / 12);
    let h_pair = bench::time(pairs, |i| {
        let ids = [seed::contact_id(i * DUPLICATE_EVERY), dup_id(i)];
        post(merge_body(&ids));
    });
    let h_big = bench::time(BIG_MERGES as u64, |i| {
        let merged = post(merge_body(&host_sets[i as usize]));
        assert_eq!(
            merged["contact"]["conversation_count"],
            json!(merge::MAX_CONTACTS * CONVERSATIONS)
        );
    });
    drop(host);

    // The same calls natively.
    let n_list = bench::time(2_000, |i| {
        duplicates::for_contact(&db, &seed::contact_id(with_duplicates(dups, i + 7)))
            .expect("list");
    });
    let n_groups = bench::time(200, |_| {
        duplicates::groups(&db, 50, None).expect("groups");
    });
    let n_pair = bench::time(pairs, |i| {
        let k = half + i;
        merge_natively(&db, &[seed::contact_id(k * DUPLICATE_EVERY), dup_id(k)]);
    });
    // A request's cost under Spin's connection model, natively: a fresh connection (the
    // schema parsed, every statement compiled with its triggers) per call.
    let path = state.path().join("sqlite_db.db");
    let fresh = || NativeSql::open(&path).expect("native db");
    let f_list = bench::time(2_000, |i| {
        duplicates::for_contact(&fresh(), &seed::contact_id(with_duplicates(dups, i + 13)))
            .expect("list");
    });
    let f_groups = bench::time(200, |_| {
        duplicates::groups(&fresh(), 50, None).expect("groups");
    });
    let f_pair = bench::time(pairs, |i| {
        let k = half + pairs * 6 / 5 + i;
        merge_natively(
            &fresh(),
            &[seed::contact_id(k * DUPLICATE_EVERY), dup_id(k)],
        );
    });
    let n_big = bench::time(BIG_MERGES as u64, |i| {
        merge_natively(&db, &native_sets[i as usize]);
    });
    let left = db
        .execute(
            &format!(
                "SELECT count(*) FROM contacts WHERE contact_id IN ({})",
                placeholders(2)
            ),
            &[seed::contact_id(0).into(), dup_id(0).into()],
        )
        .expect("count")
        .scalar_i64();
    assert_eq!(left, Some(1), "the host merged the first pair");

    println!(
        "| case | host p50 ms | host p99 ms | native p50 ms | native p99 ms | host/native | native, fresh connection p50 ms | host/fresh | runs |"
    );
    println!("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    row(
        "`GET /api/duplicates/{id}`",
        &h_list,
        &n_list,
        Some(&f_list),
    );
    row(
        "`GET /api/duplicates` (first page, 50 groups)",
        &h_groups,
        &n_groups,
        Some(&f_groups),
    );
    row(
        "`POST /api/merge`, 2 contacts",
        &h_pair,
        &n_pair,
        Some(&f_pair),
    );
    row(
        "`POST /api/merge`, 25 contacts × 1,000 conversations",
        &h_big,
        &n_big,
        None,
    );
}
