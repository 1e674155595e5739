//! The two storage ports the domain talks through: [`Sql`] (the system of record) and
//! [`Kv`] (settings, views). Implementations live outside this crate (Spin's interfaces in
//! `spin-adapter`, rusqlite and an in-memory map in [`crate::kernel::native`]).

use std::fmt;

/// A value crossing the SQL boundary; the same five types SQLite (and Spin's interface) has.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl Value {
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Integer(i) => Some(*i),
            _ => None,
        }
    }

    pub fn into_string(self) -> Option<String> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    /// `value` as JSON text, written straight from it (no `serde_json::Value` built first:
    /// an import writes a few of these per row).
    pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> Value {
        // Writing into memory fails only for a map with non-string keys, which no caller has.
        Value::Text(serde_json::to_string(value).unwrap_or_default())
    }

    /// A list column: a JSON array, NULL when empty.
    pub fn json_list<T: serde::Serialize>(items: &[T]) -> Value {
        if items.is_empty() {
            Value::Null
        } else {
            Value::json(items)
        }
    }
}

/// The items of a list column's text as [`Value::json_list`] writes it: none for NULL (or
/// for text that is not a JSON array of strings, which no writer stores).
pub fn list_items(text: Option<&str>) -> Vec<String> {
    text.and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or_default()
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Text(s.to_owned())
    }
}
impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Text(s)
    }
}
impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Integer(i)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Integer(b as i64)
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// The rows of one statement.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

impl Rows {
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c == name)
    }

    /// The first column of the first row, if any.
    pub fn scalar(&self) -> Option<&Value> {
        self.rows.first().and_then(|r| r.first())
    }

    pub fn scalar_i64(&self) -> Option<i64> {
        self.scalar().and_then(Value::as_i64)
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }
}

/// A storage failure. SQLite's message is kept verbatim: both Spin's interface and rusqlite
/// carry constraint failures only as text ("UNIQUE constraint failed: contacts.email_norm").
#[derive(Debug, Clone, PartialEq)]
pub enum DbError {
    /// The database or store is unknown or not granted to this component.
    Unavailable(String),
    /// Anything SQLite reported.
    Sqlite(String),
}

impl DbError {
    /// The `table.column` list of a violated UNIQUE or PRIMARY KEY constraint.
    pub fn unique_violation(&self) -> Option<&str> {
        match self {
            DbError::Sqlite(m) => m.strip_prefix("UNIQUE constraint failed: "),
            DbError::Unavailable(_) => None,
        }
    }

    pub fn is_busy(&self) -> bool {
        matches!(self, DbError::Sqlite(m) if m.contains("database is locked") || m.contains("database is busy"))
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Unavailable(m) => write!(f, "storage unavailable: {m}"),
            DbError::Sqlite(m) => write!(f, "sqlite: {m}"),
        }
    }
}

impl std::error::Error for DbError {}

/// How a writer waits its turn for the write lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    /// A request someone is waiting on: a chat event, an edit, a merge.
    Prompt,
    /// One step of a long job (a bulk slice, an import chunk), which lets prompt writers
    /// that are waiting go first: SQLite's lock is not fair, and a job's steps come back
    /// to back.
    Yielding,
}

/// One SQL connection. One statement per call, as Spin's interface allows.
pub trait Sql {
    fn execute(&self, sql: &str, params: &[Value]) -> Result<Rows, DbError>;

    /// [`Sql::execute`] with parameters the caller built for this statement and gives up,
    /// so an adapter can move them to its host instead of copying each one: for statements
    /// binding thousands of values (an import batch's multi-row writes).
    fn execute_owned(&self, sql: &str, params: Vec<Value>) -> Result<Rows, DbError> {
        self.execute(sql, &params)
    }
    fn last_insert_rowid(&self) -> i64;
    fn changes(&self) -> u64;

    /// `BEGIN IMMEDIATE`: takes the write lock, waiting while another connection holds it.
    /// By default the connection's busy handler waits, whatever the turn; an adapter may
    /// wait its own way, and let [`Turn::Prompt`] writers in before [`Turn::Yielding`] ones.
    fn begin_immediate(&self, _turn: Turn) -> Result<(), DbError> {
        self.execute("BEGIN IMMEDIATE", &[]).map(drop)
    }

    /// Whether the last [`Turn::Yielding`] `begin_immediate` saw other writers want the lock.
    /// Only an adapter that waits its own way can tell; by default nobody is seen.
    fn others_wanted_the_lock(&self) -> bool {
        false
    }
}

/// A key-value store, read only to copy what it held before schema version 2 into SQLite
/// (`settings`): under self-hosted Spin each call stalls a keep-alive client ~40 ms.
pub trait Kv {
    fn get(&self, key: &str) -> Result<Option<Vec<u8>>, DbError>;
    fn keys(&self) -> Result<Vec<String>, DbError>;
}

/// Runs `work` inside `BEGIN IMMEDIATE … COMMIT`, rolling back on any error.
///
/// IMMEDIATE takes the write lock up front: a deferred transaction that reads and then
/// writes can fail with SQLITE_BUSY when another writer got in between, busy timeout or not.
pub fn write_tx<T, E>(db: &dyn Sql, work: impl FnOnce() -> Result<T, E>) -> Result<T, E>
where
    E: From<DbError>,
{
    transaction(db, Turn::Prompt, work)
}

/// [`write_tx`] for one step of a long job: it waits for the lock behind prompt writers.
pub fn job_step_tx<T, E>(db: &dyn Sql, work: impl FnOnce() -> Result<T, E>) -> Result<T, E>
where
    E: From<DbError>,
{
    transaction(db, Turn::Yielding, work)
}

fn transaction<T, E>(db: &dyn Sql, turn: Turn, work: impl FnOnce() -> Result<T, E>) -> Result<T, E>
where
    E: From<DbError>,
{
    db.begin_immediate(turn)?;
    match work() {
        Ok(value) => {
            if let Err(e) = db.execute("COMMIT", &[]) {
                let _ = db.execute("ROLLBACK", &[]);
                return Err(e.into());
            }
            Ok(value)
        }
        Err(e) => {
            let _ = db.execute("ROLLBACK", &[]);
            Err(e)
        }
    }
}

/// Placeholders `?, ?, …` for `n` parameters.
pub fn placeholders(n: usize) -> String {
    let mut s = String::with_capacity(n * 3);
    for i in 0..n {
        if i > 0 {
            s.push_str(", ");
        }
        s.push('?');
    }
    s
}
