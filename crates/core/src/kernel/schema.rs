//! The SQLite schema and its versioned migrations.
//!
//! [`ensure`] brings a database to [`LATEST`]: one `PRAGMA user_version` read when the
//! schema is current. Migrating takes the write lock (`BEGIN IMMEDIATE`) and re-reads the
//! version inside it, so two components starting on a fresh database at once migrate it
//! exactly once. Under Spin every request opens its own connection, and [`Current`] calls
//! [`ensure`] only when the request writes, or when a read names something the database
//! does not have yet: a read-only request on a current schema runs no version check.

use std::cell::Cell;

use crate::kernel::error::{Error, Result};
use crate::kernel::store::{write_tx, DbError, Rows, Sql, Turn, Value};

/// A connection whose schema is brought current before its first write, not before its
/// first statement: each statement is a host call under Spin, and most requests only read.
///
/// - Anything but a `SELECT` (a write, `BEGIN`, a pragma) runs [`ensure`] first, so no
///   write ever lands on an old schema and misses a trigger a migration added.
/// - A `SELECT` runs as it is. On a database whose schema is behind this build it either
///   names a table or column that is not there yet — then [`ensure`] runs and the `SELECT`
///   runs again — or it reads what both versions have, which is still right: a migration
///   adds tables, columns, indexes and triggers, or drops what the code no longer reads,
///   and never changes what a name that stays means (one that must, renames it).
pub struct Current<S> {
    db: S,
    checked: Cell<bool>,
}

impl<S: Sql> Current<S> {
    pub fn new(db: S) -> Self {
        Current {
            db,
            checked: Cell::new(false),
        }
    }

    fn check(&self) -> std::result::Result<(), DbError> {
        if !self.checked.get() {
            // Back to the error it was (a busy lock stays one, for callers that retry).
            ensure(&self.db).map_err(|e| {
                let text = match e {
                    Error::Storage(m) => m,
                    other => other.to_string(),
                };
                DbError::Sqlite(text.strip_prefix("sqlite: ").unwrap_or(&text).to_owned())
            })?;
            self.checked.set(true);
        }
        Ok(())
    }
}

/// A `SELECT` (SQLite's `WITH … SELECT` is not used here): it cannot write.
fn is_select(sql: &str) -> bool {
    sql.trim_start()
        .get(..6)
        .is_some_and(|w| w.eq_ignore_ascii_case("select"))
}

/// SQLite's error for a statement naming a table or column the schema lacks.
fn names_missing_schema(e: &DbError) -> bool {
    matches!(e, DbError::Sqlite(m) if m.starts_with("no such table") || m.starts_with("no such column"))
}

impl<S: Sql> Sql for Current<S> {
    fn execute(&self, sql: &str, params: &[Value]) -> std::result::Result<Rows, DbError> {
        if !is_select(sql) {
            self.check()?;
        }
        match self.db.execute(sql, params) {
            Err(e) if !self.checked.get() && names_missing_schema(&e) => {
                self.check()?;
                self.db.execute(sql, params)
            }
            other => other,
        }
    }

    /// Moves the parameters on once the schema is known current; until then a read may be
    /// run twice ([`Current::execute`]), so it keeps them.
    fn execute_owned(&self, sql: &str, params: Vec<Value>) -> std::result::Result<Rows, DbError> {
        if !is_select(sql) {
            self.check()?;
        }
        if self.checked.get() {
            self.db.execute_owned(sql, params)
        } else {
            self.execute(sql, &params)
        }
    }

    fn last_insert_rowid(&self) -> i64 {
        self.db.last_insert_rowid()
    }

    fn changes(&self) -> u64 {
        self.db.changes()
    }

    fn begin_immediate(&self, turn: Turn) -> std::result::Result<(), DbError> {
        self.check()?;
        self.db.begin_immediate(turn)
    }

    fn others_wanted_the_lock(&self) -> bool {
        self.db.others_wanted_the_lock()
    }
}

/// Migration `n` (1-based) brings the schema from version `n - 1` to `n`. Each is a list of
/// parts, each part a list of single statements (Spin runs one statement per call). Append
/// new migrations; never edit one that has shipped.
const MIGRATIONS: &[&[&[&str]]] = &[
    &[
        CORE_V1,
        crate::query::filter::SCHEMA,
        crate::query::segments::SCHEMA,
        crate::hooks::autocreate::SCHEMA,
        crate::search::SCHEMA,
    ],
    // Merge, bulk, import, and the console's sort indexes and kept segment counts,
    // settings moved from key-value to SQLite, secondary emails and phones searchable.
    &[
        crate::kernel::jobs::SCHEMA_V2,
        crate::merge::SCHEMA_V2,
        crate::merge::duplicates::SCHEMA_V2,
        crate::bulk::SCHEMA_V2,
        crate::import::SCHEMA_V2,
        crate::query::page::SCHEMA_V2,
        crate::query::segments::SCHEMA_V2,
        crate::contacts::settings::SCHEMA_V2,
        crate::search::SCHEMA_V2,
    ],
    // A smaller schema for every connection to parse (one per request under Spin): the
    // same indexes, keys and tallies, kept by fewer and shorter triggers.
    &[
        crate::merge::duplicates::SCHEMA_V3,
        crate::search::SCHEMA_V3,
        crate::query::segments::SCHEMA_V3,
        CONTACT_TRIGGERS_V3,
    ],
];

pub const LATEST: i64 = MIGRATIONS.len() as i64;

/// Contacts, their tags, identities, conversations, match keys, history; custom field
/// definitions; users and tokens.
const CORE_V1: &[&str] = &[
    "CREATE TABLE contacts (
        id INTEGER PRIMARY KEY,
        contact_id TEXT NOT NULL UNIQUE,
        first_name TEXT, last_name TEXT, display_name TEXT NOT NULL,
        email TEXT, email_norm TEXT, secondary_emails TEXT,
        phone TEXT, phone_e164 TEXT, mobile TEXT, mobile_e164 TEXT, secondary_phones TEXT, secondary_phone_keys TEXT,
        company TEXT, job_title TEXT, department TEXT,
        lead_stage TEXT NOT NULL DEFAULT 'contact', owner TEXT, source_channel TEXT,
        address TEXT, city TEXT, state TEXT, postal_code TEXT, country TEXT,
        timezone TEXT, language TEXT, gender TEXT, birthday TEXT, website TEXT, description TEXT,
        visitor_ip TEXT, browser TEXT, os TEXT, device TEXT, page_url TEXT, referrer TEXT,
        created_at TEXT NOT NULL, created_by TEXT, updated_at TEXT NOT NULL, last_activity_at TEXT,
        conversation_count INTEGER NOT NULL DEFAULT 0,
        dropped_message_count INTEGER NOT NULL DEFAULT 0,
        blocked INTEGER NOT NULL DEFAULT 0, blocked_at TEXT,
        custom TEXT NOT NULL DEFAULT '{}',
        version INTEGER NOT NULL DEFAULT 1
    )",
    // A primary email or phone belongs to one contact (SPEC §9: create and update answer 409).
    "CREATE UNIQUE INDEX contacts_email_norm ON contacts(email_norm) WHERE email_norm IS NOT NULL",
    "CREATE UNIQUE INDEX contacts_phone_e164 ON contacts(phone_e164) WHERE phone_e164 IS NOT NULL",
    // Segment All / Blocked, newest first.
    "CREATE INDEX contacts_blocked_id ON contacts(blocked, id)",
    // Same full name and company: weak duplicate evidence, looked up on every contact read.
    "CREATE INDEX contacts_name_company ON contacts(lower(first_name), lower(last_name), lower(company))",
    "CREATE TABLE contact_tags (
        contact_rowid INTEGER NOT NULL,
        tag TEXT NOT NULL COLLATE NOCASE,
        PRIMARY KEY (contact_rowid, tag)
    ) WITHOUT ROWID",
    "CREATE INDEX contact_tags_tag ON contact_tags(tag, contact_rowid)",
    // (channel, external id) names one contact: the key that makes auto-create exactly-once.
    "CREATE TABLE identities (
        channel TEXT NOT NULL,
        external_id TEXT NOT NULL,
        contact_rowid INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (channel, external_id)
    ) WITHOUT ROWID",
    "CREATE INDEX identities_contact ON identities(contact_rowid)",
    "CREATE TABLE conversations (
        channel TEXT NOT NULL,
        conversation_id TEXT NOT NULL,
        contact_rowid INTEGER NOT NULL,
        first_seen TEXT NOT NULL,
        last_seen TEXT NOT NULL,
        PRIMARY KEY (channel, conversation_id)
    ) WITHOUT ROWID",
    "CREATE INDEX conversations_contact ON conversations(contact_rowid)",
    // Every normalized email and E.164 phone a contact carries (primary, mobile, secondary):
    // what auto-create matches on and duplicate detection groups by.
    "CREATE TABLE contact_keys (
        kind TEXT NOT NULL,
        value TEXT NOT NULL,
        contact_rowid INTEGER NOT NULL,
        PRIMARY KEY (kind, value, contact_rowid)
    ) WITHOUT ROWID",
    "CREATE INDEX contact_keys_contact ON contact_keys(contact_rowid)",
    "CREATE TABLE history (
        id INTEGER PRIMARY KEY,
        contact_id TEXT NOT NULL,
        at TEXT NOT NULL,
        action TEXT NOT NULL,
        actor TEXT NOT NULL,
        fields TEXT NOT NULL DEFAULT '[]'
    )",
    "CREATE INDEX history_contact ON history(contact_id, id)",
    // Deleted definitions keep their row so the key is never reused for another type.
    "CREATE TABLE custom_fields (
        key TEXT PRIMARY KEY,
        label TEXT NOT NULL,
        type TEXT NOT NULL,
        options TEXT,
        position INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        deleted_at TEXT
    )",
    "CREATE TABLE users (
        login TEXT PRIMARY KEY,
        role TEXT NOT NULL,
        created_at TEXT NOT NULL
    )",
    "INSERT INTO users (login, role, created_at) VALUES ('admin', 'admin', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
    // Only the SHA-256 of a token is stored.
    "CREATE TABLE tokens (
        hash TEXT PRIMARY KEY,
        login TEXT NOT NULL,
        created_at TEXT NOT NULL
    )",
];

/// One trigger per event on `contacts` for what every room keeps of a contact that is
/// inserted or deleted (the search indexes, the duplicate keys, the segment tallies and
/// the generation), each room's statements its own: SQLite parses each trigger on every
/// connection, and a trigger costs more to parse than its statements alone
/// (docs/benchmarks.md, "Per-request floor"). Updates keep their own triggers, each with
/// the condition or column list that spares most updates its work.
const CONTACT_TRIGGERS_V3: &[&str] = &[
    concat!(
        "CREATE TRIGGER contacts_insert AFTER INSERT ON contacts BEGIN ",
        crate::search::on_contact_insert!(),
        crate::merge::duplicates::on_contact_insert!(),
        crate::query::segments::on_contact_insert!(),
        " END"
    ),
    concat!(
        "CREATE TRIGGER contacts_delete AFTER DELETE ON contacts BEGIN ",
        crate::search::on_contact_delete!(),
        crate::merge::duplicates::on_contact_delete!(),
        crate::query::segments::on_contact_delete!(),
        " END"
    ),
];

/// Brings the database to [`LATEST`]; cheap when it is there already.
pub fn ensure(db: &dyn Sql) -> Result<()> {
    migrate(db, LATEST)
}

/// Brings the database to version `to` (tests stop short of [`LATEST`] to prove an upgrade).
pub(crate) fn migrate(db: &dyn Sql, to: i64) -> Result<()> {
    if current_version(db)? == to {
        return Ok(());
    }
    write_tx(db, || {
        let from = current_version(db)?;
        if from > LATEST {
            return Err(Error::Storage(format!(
                "database schema version {from} is newer than this build ({LATEST})"
            )));
        }
        for migration in MIGRATIONS.iter().take(to as usize).skip(from as usize) {
            for statement in migration.iter().flat_map(|part| part.iter()) {
                db.execute(statement, &[])?;
            }
        }
        db.execute(&format!("PRAGMA user_version = {}", from.max(to)), &[])?;
        Ok(())
    })
}

/// Gives the query planner statistics on `target` (a table or index; `None`: everything),
/// as `sqlite_stat1` averages only. The `sqlite_stat4` samples that SQLite also gathers
/// are loaded by every connection on its first statement, and Spin opens one connection
/// per request: at a million contacts they cost each request ~0.17 ms (docs/benchmarks.md)
/// and chose no better index for any query of ours.
pub fn analyze(db: &dyn Sql, target: Option<&str>) -> Result<()> {
    match target {
        Some(name) => db.execute(&format!("ANALYZE {name}"), &[])?,
        None => db.execute("ANALYZE", &[])?,
    };
    if table_exists(db, "sqlite_stat4")? {
        db.execute("DELETE FROM sqlite_stat4", &[])?;
    }
    Ok(())
}

/// Whether `name` is a table of the database (SQLite's own included).
pub fn table_exists(db: &dyn Sql, name: &str) -> Result<bool> {
    Ok(!db
        .execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
            &[name.into()],
        )?
        .is_empty())
}

/// A hash of every migration statement: caches of seeded databases (benchmarks) key on it,
/// so a schema change invalidates them even before a new version number is cut.
pub fn fingerprint() -> u64 {
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for statement in MIGRATIONS
        .iter()
        .flat_map(|m| m.iter())
        .flat_map(|part| part.iter())
    {
        for b in statement.bytes() {
            h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

fn current_version(db: &dyn Sql) -> Result<i64> {
    Ok(db
        .execute("PRAGMA user_version", &[])?
        .scalar_i64()
        .unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::native::NativeSql;

    #[test]
    fn migrates_once_and_is_idempotent() {
        let db = NativeSql::open_in_memory();
        ensure(&db).unwrap();
        ensure(&db).unwrap();
        assert_eq!(current_version(&db).unwrap(), LATEST);
        let admins = db
            .execute("SELECT count(*) FROM users WHERE role = 'admin'", &[])
            .unwrap();
        assert_eq!(admins.scalar_i64(), Some(1));
    }

    #[test]
    fn two_connections_migrating_at_once_do_not_collide() {
        let dir = std::env::temp_dir().join(format!("contacts-schema-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("race.db");
        let _ = std::fs::remove_file(&path);
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || ensure(&NativeSql::open(&path).unwrap()))
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
        let db = NativeSql::open(&path).unwrap();
        assert_eq!(current_version(&db).unwrap(), LATEST);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn analyze_keeps_averages_but_no_samples() {
        let db = NativeSql::open_in_memory();
        ensure(&db).unwrap();
        for i in 0..50 {
            db.execute(
                "INSERT INTO contacts (contact_id, display_name, city, created_at, updated_at) \
                 VALUES (?, 'x', ?, '', '')",
                &[
                    format!("c{i}").as_str().into(),
                    ["Lyon", "Oslo"][i % 2].into(),
                ],
            )
            .unwrap();
        }
        analyze(&db, None).unwrap();
        let count = |table: &str| {
            db.execute(&format!("SELECT count(*) FROM {table}"), &[])
                .unwrap()
                .scalar_i64()
        };
        assert!(count("sqlite_stat1").unwrap() > 0);
        assert_eq!(count("sqlite_stat4"), Some(0));
        analyze(&db, Some("contacts_city")).unwrap();
        assert_eq!(count("sqlite_stat4"), Some(0));
    }

    /// Counts the statements that reach the database.
    struct Counting {
        db: NativeSql,
        statements: Cell<usize>,
    }

    impl Sql for Counting {
        fn execute(&self, sql: &str, params: &[Value]) -> std::result::Result<Rows, DbError> {
            self.statements.set(self.statements.get() + 1);
            self.db.execute(sql, params)
        }
        fn last_insert_rowid(&self) -> i64 {
            self.db.last_insert_rowid()
        }
        fn changes(&self) -> u64 {
            self.db.changes()
        }
    }

    fn counting(db: NativeSql) -> Current<Counting> {
        Current::new(Counting {
            db,
            statements: Cell::new(0),
        })
    }

    #[test]
    fn a_read_on_a_current_schema_runs_no_version_check() {
        let db = NativeSql::open_in_memory();
        ensure(&db).unwrap();
        let db = counting(db);
        db.execute("SELECT count(*) FROM contacts", &[]).unwrap();
        assert_eq!(db.db.statements.get(), 1);
        db.execute(
            "INSERT INTO custom_fields (key, label, type, position, created_at) VALUES ('a', 'A', 'text', 1, '')",
            &[],
        )
        .unwrap();
        assert_eq!(
            db.db.statements.get(),
            3,
            "a write checks the version first"
        );
        db.execute("DELETE FROM custom_fields", &[]).unwrap();
        assert_eq!(db.db.statements.get(), 4, "once per connection");
    }

    #[test]
    fn a_read_naming_what_an_old_schema_lacks_migrates_and_runs_again() {
        let db = counting(NativeSql::open_in_memory());
        let rows = db.execute("SELECT count(*) FROM contacts", &[]).unwrap();
        assert_eq!(rows.scalar_i64(), Some(0));
        assert_eq!(current_version(&db.db.db).unwrap(), LATEST);
        let old = NativeSql::open_in_memory();
        migrate(&old, 2).unwrap();
        let old = counting(old);
        old.execute("SELECT count(*) FROM contacts WHERE name_key IS NULL", &[])
            .unwrap();
        assert_eq!(current_version(&old.db.db).unwrap(), LATEST);
        let bad = counting(NativeSql::open_in_memory());
        ensure(&bad.db.db).unwrap();
        assert!(
            bad.execute("SELECT nope FROM contacts", &[]).is_err(),
            "a read naming what no version has still fails"
        );
    }

    #[test]
    fn a_write_or_a_transaction_on_a_fresh_database_migrates_first() {
        let db = counting(NativeSql::open_in_memory());
        db.execute("PRAGMA busy_timeout = 10", &[]).unwrap();
        assert_eq!(current_version(&db.db.db).unwrap(), LATEST);
        let db = counting(NativeSql::open_in_memory());
        write_tx(&db, || {
            db.execute(
                "INSERT INTO custom_fields (key, label, type, position, created_at) VALUES ('a', 'A', 'text', 1, '')",
                &[],
            )
        })
        .unwrap();
        assert_eq!(current_version(&db.db.db).unwrap(), LATEST);
    }

    #[test]
    fn refuses_a_newer_schema() {
        let db = NativeSql::open_in_memory();
        db.execute(&format!("PRAGMA user_version = {}", LATEST + 1), &[])
            .unwrap();
        assert!(matches!(ensure(&db), Err(Error::Storage(_))));
    }
}
