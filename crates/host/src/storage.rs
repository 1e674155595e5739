//! The state directory: Spin's file names and schemas, so real Spin can serve the same state.
//!
//! - `sqlite_db.db`: SQLite database `default`. Like Spin 4.1 (`sqlite-inproc`), every `open`
//!   gets a fresh connection, opened at its first statement, in SQLite's default
//!   rollback-journal mode with rusqlite's defaults (a 5 s busy timeout, 16 cached prepared
//!   statements) and `ATTACH` of files denied; nothing else is set.
//! - `sqlite_key_value.db`: every key-value store, in Spin's `spin_key_value` table, through
//!   one shared connection (as Spin's SQLite key-value provider does).
//!
//! All calls here block; `spin_api` decides on which thread they run.

use rusqlite::fallible_iterator::FallibleIterator;
use rusqlite::hooks::{AuthAction, AuthContext, Authorization};
use rusqlite::types::Value;
use rusqlite::{Batch, Connection, OptionalExtension, Statement};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

pub const SQLITE_DB_FILE: &str = "sqlite_db.db";
pub const KEY_VALUE_DB_FILE: &str = "sqlite_key_value.db";

/// One host's state directory.
#[derive(Debug)]
pub struct Storage {
    dir: PathBuf,
    key_value: OnceLock<Result<KeyValueDb, String>>,
}

impl Storage {
    pub fn new(dir: &Path) -> Storage {
        Storage {
            dir: dir.to_path_buf(),
            key_value: OnceLock::new(),
        }
    }

    /// Where database `default` is, its directory created: Spin does this at every `open`
    /// (`InProcDatabaseLocation::from_path`), and opens the file only at the first statement.
    pub fn sqlite_location(&self) -> Result<PathBuf, String> {
        std::fs::create_dir_all(&self.dir).map_err(|e| e.to_string())?;
        Ok(self.dir.join(SQLITE_DB_FILE))
    }

    /// The key-value database, opened (and its table created) on first use.
    pub fn key_value(&self) -> Result<&KeyValueDb, String> {
        self.key_value
            .get_or_init(|| KeyValueDb::open(&self.dir.join(KEY_VALUE_DB_FILE)))
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// A fresh connection to database `default` (created if missing), as Spin opens it: SQLite
/// asks the authorizer about every action of every statement prepared on it.
pub fn open_sqlite(path: &Path) -> Result<Connection, String> {
    let conn = Connection::open(path).map_err(|e| e.to_string())?;
    conn.authorizer(Some(deny_attaching_files));
    Ok(conn)
}

/// Spin's default (`allow_attach_file = false`): a component may attach a temporary or
/// in-memory database, never a file.
fn deny_attaching_files(ctx: AuthContext<'_>) -> Authorization {
    match ctx.action {
        AuthAction::Attach { filename } if !matches!(filename, "" | ":memory:") => {
            Authorization::Deny
        }
        _ => Authorization::Allow,
    }
}

/// The result of one statement: column names and rows.
pub struct QueryOutput {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// Runs the first statement of `sql` only: Spin ignores anything after it, silently.
///
/// Like Spin's `sqlite-inproc`, a statement is prepared through rusqlite's statement cache
/// (16 per connection), so one repeated within a request (a connection's life) is compiled
/// once: an import's batches repeat the same multi-row `INSERT`, whose program carries every
/// trigger of `contacts`.
///
/// SQL without any statement (empty, blanks, comments) prepares to no statement at all, and
/// stepping that is SQLite's "bad parameter or other API misuse", the `io` error Spin answers.
pub fn execute_first_statement(
    conn: &Connection,
    sql: &str,
    params: Vec<Value>,
) -> Result<QueryOutput, String> {
    match conn.prepare_cached(sql) {
        Ok(mut statement) => run(&mut statement, params),
        Err(rusqlite::Error::MultipleStatement) => {
            let mut batch = Batch::new(conn, sql);
            let mut first = batch
                .next()
                .map_err(|e| e.to_string())?
                .ok_or("a second statement without a first")?;
            run(&mut first, params)
        }
        Err(e) => Err(e.to_string()),
    }
}

fn run(statement: &mut Statement<'_>, params: Vec<Value>) -> Result<QueryOutput, String> {
    let columns: Vec<String> = statement
        .column_names()
        .into_iter()
        .map(String::from)
        .collect();
    let mut rows = statement
        .query(rusqlite::params_from_iter(params))
        .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(|e| e.to_string())? {
        let values = (0..columns.len())
            .map(|i| row.get::<_, Value>(i))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        out.push(values);
    }
    Ok(QueryOutput { columns, rows: out })
}

/// Spin's SQLite key-value layout.
#[derive(Debug)]
pub struct KeyValueDb {
    conn: Mutex<Connection>,
}

impl KeyValueDb {
    fn open(path: &Path) -> Result<KeyValueDb, String> {
        let conn = Connection::open(path).map_err(|e| e.to_string())?;
        conn.execute(
            "CREATE TABLE IF NOT EXISTS spin_key_value (
                store TEXT NOT NULL,
                key   TEXT NOT NULL,
                value BLOB NOT NULL,
                PRIMARY KEY (store, key)
            )",
            [],
        )
        .map_err(|e| e.to_string())?;
        Ok(KeyValueDb {
            conn: Mutex::new(conn),
        })
    }

    fn with_conn<R>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<R>,
    ) -> Result<R, String> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| "key-value connection poisoned".to_string())?;
        f(&conn).map_err(|e| e.to_string())
    }

    pub fn get(&self, store: &str, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.with_conn(|c| {
            c.prepare_cached("SELECT value FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                .query_row((store, key), |row| row.get(0))
                .optional()
        })
    }

    pub fn set(&self, store: &str, key: &str, value: &[u8]) -> Result<(), String> {
        self.with_conn(|c| {
            c.prepare_cached(
                "INSERT INTO spin_key_value (store, key, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (store, key) DO UPDATE SET value = excluded.value",
            )?
            .execute((store, key, value))
            .map(drop)
        })
    }

    pub fn delete(&self, store: &str, key: &str) -> Result<(), String> {
        self.with_conn(|c| {
            c.prepare_cached("DELETE FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                .execute((store, key))
                .map(drop)
        })
    }

    pub fn exists(&self, store: &str, key: &str) -> Result<bool, String> {
        self.with_conn(|c| {
            c.prepare_cached("SELECT 1 FROM spin_key_value WHERE store = ?1 AND key = ?2")?
                .exists((store, key))
        })
    }

    pub fn keys(&self, store: &str) -> Result<Vec<String>, String> {
        self.with_conn(|c| {
            c.prepare_cached("SELECT key FROM spin_key_value WHERE store = ?1")?
                .query_map([store], |row| row.get(0))?
                .collect()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_first_statement_runs() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute("CREATE TABLE t (x)", []).unwrap();
        let out = execute_first_statement(
            &conn,
            "INSERT INTO t VALUES (1); INSERT INTO t VALUES (2)",
            vec![],
        )
        .unwrap();
        assert!(out.columns.is_empty());
        let n: i64 = conn
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
    }

    #[test]
    fn a_repeated_statement_is_prepared_once_per_connection_as_under_spin() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute("CREATE TABLE t (x)", []).unwrap();
        let insert = "INSERT INTO t VALUES (?1)";
        for i in 0..3 {
            execute_first_statement(&conn, insert, vec![Value::Integer(i)]).unwrap();
        }
        // The cache hands back the statement those calls ran: three runs on one program.
        let cached = conn.prepare_cached(insert).unwrap();
        assert_eq!(cached.get_status(rusqlite::StatementStatus::Run), 3);
    }

    #[test]
    fn values_round_trip_and_errors_carry_sqlite_text() {
        let conn = Connection::open_in_memory().unwrap();
        let out = execute_first_statement(
            &conn,
            "SELECT ?1 AS i, ?2 AS r, ?3 AS t, ?4 AS b, ?5 AS n",
            vec![
                Value::Integer(i64::MIN),
                Value::Real(1.5),
                Value::Text("é".into()),
                Value::Blob(vec![0, 255]),
                Value::Null,
            ],
        )
        .unwrap();
        assert_eq!(out.columns, ["i", "r", "t", "b", "n"]);
        assert_eq!(
            out.rows,
            vec![vec![
                Value::Integer(i64::MIN),
                Value::Real(1.5),
                Value::Text("é".into()),
                Value::Blob(vec![0, 255]),
                Value::Null,
            ]]
        );
        let err = execute_first_statement(&conn, "SELEC 1", vec![])
            .err()
            .unwrap();
        assert!(err.contains("syntax error"), "{err}");
    }

    #[test]
    fn sql_without_a_statement_is_misuse_as_under_spin() {
        let conn = Connection::open_in_memory().unwrap();
        for sql in ["", "  ", "-- nothing"] {
            let err = execute_first_statement(&conn, sql, vec![]).err();
            assert_eq!(
                err.as_deref(),
                Some("bad parameter or other API misuse"),
                "{sql:?}"
            );
        }
    }

    #[test]
    fn attaching_a_file_is_denied_but_memory_is_not() {
        let dir = tempfile_dir("attach");
        let conn = open_sqlite(&dir.join(SQLITE_DB_FILE)).unwrap();
        let attach = format!("ATTACH '{}' AS o", dir.join("other.db").display());
        let err = execute_first_statement(&conn, &attach, vec![]).err();
        assert!(err.unwrap_or_default().contains("not authorized"));
        execute_first_statement(&conn, "ATTACH ':memory:' AS m", vec![]).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("spin-host-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn key_value_keeps_empty_values_and_lists_keys() {
        let dir = tempfile_dir("kv");
        let storage = Storage::new(&dir);
        let kv = storage.key_value().unwrap();
        kv.set("default", "empty", b"").unwrap();
        kv.set("default", "k", b"1").unwrap();
        kv.set("default", "k", b"2").unwrap();
        assert_eq!(kv.get("default", "empty").unwrap(), Some(vec![]));
        assert_eq!(kv.get("default", "k").unwrap(), Some(b"2".to_vec()));
        assert!(kv.exists("default", "k").unwrap());
        kv.delete("default", "k").unwrap();
        assert_eq!(kv.get("default", "k").unwrap(), None);
        assert_eq!(kv.keys("default").unwrap(), vec!["empty".to_string()]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
