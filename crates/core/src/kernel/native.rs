//! Native implementations of the storage ports, for tests, benchmarks and seeding: the very
//! same SQL as under Spin, run by rusqlite.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use rusqlite::types::{ToSqlOutput, ValueRef};

use crate::kernel::store::{DbError, Kv, Rows, Sql, Value};

pub struct NativeSql {
    conn: rusqlite::Connection,
}

impl NativeSql {
    /// Opens (creating) a database file, waiting on locks like Spin's host does.
    pub fn open(path: &Path) -> Result<Self, DbError> {
        let conn = rusqlite::Connection::open(path).map_err(sqlite_error)?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(sqlite_error)?;
        Ok(NativeSql { conn })
    }

    pub fn open_in_memory() -> Self {
        NativeSql {
            conn: rusqlite::Connection::open_in_memory().expect("in-memory sqlite"),
        }
    }

    pub fn connection(&self) -> &rusqlite::Connection {
        &self.conn
    }
}

fn sqlite_error(e: rusqlite::Error) -> DbError {
    match e {
        rusqlite::Error::SqliteFailure(_, Some(msg)) => DbError::Sqlite(msg),
        other => DbError::Sqlite(other.to_string()),
    }
}

fn to_sql(v: &Value) -> ToSqlOutput<'_> {
    ToSqlOutput::Borrowed(match v {
        Value::Null => ValueRef::Null,
        Value::Integer(i) => ValueRef::Integer(*i),
        Value::Real(f) => ValueRef::Real(*f),
        Value::Text(s) => ValueRef::Text(s.as_bytes()),
        Value::Blob(b) => ValueRef::Blob(b),
    })
}

fn from_sql(v: ValueRef<'_>) -> Value {
    match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Integer(i),
        ValueRef::Real(f) => Value::Real(f),
        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => Value::Blob(b.to_vec()),
    }
}

struct Param<'a>(&'a Value);

impl rusqlite::ToSql for Param<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(to_sql(self.0))
    }
}

impl Sql for NativeSql {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError> {
        let mut stmt = self.conn.prepare_cached(sql).map_err(sqlite_error)?;
        let columns: Vec<String> = stmt.column_names().into_iter().map(str::to_owned).collect();
        let n = columns.len();
        let params: Vec<Param> = params.iter().map(Param).collect();
        let mut rows = stmt
            .query(rusqlite::params_from_iter(params.iter()))
            .map_err(sqlite_error)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(sqlite_error)? {
            let mut values = Vec::with_capacity(n);
            for i in 0..n {
                values.push(from_sql(row.get_ref(i).map_err(sqlite_error)?));
            }
            out.push(values);
        }
        Ok(Rows { columns, rows: out })
    }

    fn last_insert_rowid(&self) -> i64 {
        self.conn.last_insert_rowid()
    }

    fn changes(&self) -> u64 {
        self.conn.changes()
    }
}

/// A key-value store in memory.
#[derive(Default)]
pub struct MemoryKv {
    map: RefCell<HashMap<String, Vec<u8>>>,
}

impl MemoryKv {
    /// What a test puts in the store, as an older version of the app would have.
    pub fn set(&self, key: &str, value: &[u8]) {
        self.map.borrow_mut().insert(key.to_owned(), value.to_vec());
    }
}

impl Kv for MemoryKv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, DbError> {
        Ok(self.map.borrow().get(key).cloned())
    }

    fn keys(&self) -> Result<Vec<String>, DbError> {
        Ok(self.map.borrow().keys().cloned().collect())
    }
}
