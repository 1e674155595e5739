//! The state directory: Spin's file names and schemas, so real Spin can serve the same state.
//!
//! - `sqlite_db.db`: SQLite database `default`. Like Spin 4.1, every `open` gets a fresh
//!   connection in SQLite's default rollback-journal mode; the only setting is a busy timeout,
//!   so concurrent connections wait on a lock instead of failing at once.
//! - `sqlite_key_value.db`: every key-value store, in Spin's `spin_key_value` table, through
//!   one shared connection (as Spin's SQLite key-value provider does).
//!
//! All calls here block: they run on the request's own thread (see `server::call_component`).

use rusqlite::fallible_iterator::FallibleIterator;
use rusqlite::types::Value;
use rusqlite::{Batch, Connection, OptionalExtension};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

pub const SQLITE_DB_FILE: &str = "sqlite_db.db";
pub const KEY_VALUE_DB_FILE: &str = "sqlite_key_value.db";

/// How long a connection waits for another connection's lock before reporting `database is locked`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

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

    /// A fresh connection to database `default` (created if missing).
    pub fn open_sqlite(&self) -> Result<Connection, String> {
        let conn = Connection::open(self.dir.join(SQLITE_DB_FILE)).map_err(|e| e.to_string())?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| e.to_string())?;
        Ok(conn)
    }

    /// The key-value database, opened (and its table created) on first use.
    pub fn key_value(&self) -> Result<&KeyValueDb, String> {
        self.key_value
            .get_or_init(|| KeyValueDb::open(&self.dir.join(KEY_VALUE_DB_FILE)))
            .as_ref()
            .map_err(Clone::clone)
    }
}

/// The result of one statement: column names and rows.
pub struct QueryOutput {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// Runs the first statement of `sql` only: Spin ignores anything after it, silently.
pub fn execute_first_statement(
    conn: &Connection,
    sql: &str,
    params: Vec<Value>,
) -> Result<QueryOutput, String> {
    let mut batch = Batch::new(conn, sql);
    let Some(mut statement) = batch.next().map_err(|e| e.to_string())? else {
        return Ok(QueryOutput {
            columns: Vec::new(),
            rows: Vec::new(),
        });
    };
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
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| e.to_string())?;
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
    fn key_value_keeps_empty_values_and_lists_keys() {
        let dir = std::env::temp_dir().join(format!("spin-host-kv-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
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
