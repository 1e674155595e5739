//! Seeded state directories for benchmarks: `n` generated contacts written natively with
//! the app's own schema and write path, built once and cached under `target/bench-cache/`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use contacts_core::contacts::contact::{Contact, Edit, EditMode};
use contacts_core::kernel::fields::{custom, Catalogue, CustomFieldDef};
use contacts_core::kernel::native::NativeSql;
use contacts_core::kernel::store::{write_tx, Sql};
use contacts_core::kernel::values::{ContactId, Region};
use contacts_core::{contacts::repo, kernel::schema, search, Error};

use crate::gen;

/// Bumped when the generated data or the way it is written changes.
const GEN_VERSION: u32 = 3;
/// The generator seed of every seeded contact (`gen::contact(SEED, n)`).
pub const SEED: u64 = 42;
const BATCH: u64 = 10_000;

/// The Contact ID of the `n`-th seeded contact.
pub fn contact_id(n: u64) -> String {
    format!("B{n:08}")
}

/// A state dir (Spin layout: `sqlite_db.db`) holding `n` seeded contacts with the ten
/// custom fields of [`gen::custom_field_defs`]. Built on first use; later calls reuse it.
pub fn state_dir(n: u64) -> PathBuf {
    let root = crate::workspace_root().join("target/bench-cache");
    let dir = root.join(format!(
        "contacts-g{GEN_VERSION}-s{:016x}-{n}",
        schema::fingerprint()
    ));
    if dir.join("sqlite_db.db").exists() {
        return dir;
    }
    let building = root.join(format!("building-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    std::fs::create_dir_all(&building).expect("bench cache dir");
    let started = Instant::now();
    seed(&building.join("sqlite_db.db"), n);
    eprintln!(
        "seeded {n} contacts in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    if std::fs::rename(&building, &dir).is_err() {
        // Another process finished first; use its copy.
        let _ = std::fs::remove_dir_all(&building);
    }
    dir
}

/// The benchmarks' database size: `CONTACTS` (default 1,000,000).
pub fn bench_size() -> u64 {
    std::env::var("CONTACTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

/// Copies a cached state dir into a fresh temporary one, for benchmarks that write. The copy
/// is synced before it is returned: otherwise the kernel writes the 1.2 GB back to disk while
/// the first cases are being measured.
pub fn writable_copy(dir: &Path) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("temp dir");
    for entry in std::fs::read_dir(dir).expect("state dir") {
        let entry = entry.expect("entry");
        let to = tmp.path().join(entry.file_name());
        std::fs::copy(entry.path(), &to).expect("copy");
        std::fs::File::open(&to)
            .and_then(|f| f.sync_all())
            .expect("sync the copy");
    }
    tmp
}

fn seed(path: &Path, n: u64) {
    let db = NativeSql::open(path).expect("open seed db");
    schema::ensure(&db).expect("schema");
    for def in gen::custom_field_defs() {
        let def: CustomFieldDef = serde_json::from_value(def).expect("field def");
        custom::create(&db, &def).expect("custom field");
    }
    let catalogue = Catalogue::load(&db).expect("catalogue");
    let region = Region::default();
    let mut start = 0;
    while start < n {
        let end = (start + BATCH).min(n);
        write_tx(&db, || {
            for i in start..end {
                insert_one(&db, &catalogue, region, i)?;
            }
            Ok::<_, Error>(())
        })
        .expect("seed batch");
        start = end;
    }
    // As a bulk writer (an import) leaves it: see `search::optimize`.
    write_tx(&db, || search::optimize(&db)).expect("optimize the search indexes");
    schema::analyze(&db, None).expect("analyze");
}

fn insert_one(db: &dyn Sql, catalogue: &Catalogue, region: Region, i: u64) -> Result<(), Error> {
    let mut body = gen::contact(SEED, i);
    body["custom"] = gen::custom_values(SEED, i);
    let edit = Edit::parse(&body, catalogue, region, EditMode::Create)?;
    let id = ContactId::parse(&contact_id(i))?;
    let mut contact = Contact::new(id, "seed");
    edit.apply(&mut contact, catalogue);
    repo::insert(db, &mut contact, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_distinct_valid_contacts_with_custom_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sqlite_db.db");
        seed(&path, 3_000);
        let db = NativeSql::open(&path).unwrap();
        let count = |sql: &str| db.execute(sql, &[]).unwrap().scalar_i64().unwrap();
        assert_eq!(count("SELECT count(*) FROM contacts"), 3_000);
        assert!(count("SELECT count(*) FROM contacts WHERE phone_e164 IS NOT NULL") > 1_500);
        assert_eq!(
            count("SELECT count(*) FROM contacts WHERE json_extract(custom, '$.tier') IS NULL"),
            0
        );
        let first = repo::load(&db, &contact_id(0)).unwrap();
        assert_eq!(
            first.to_json(&Catalogue::load(&db).unwrap())["custom"]
                .as_object()
                .unwrap()
                .len(),
            5
        );
    }
}
