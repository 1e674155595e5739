//! Spin's side of the ports: [`Sql`] over `spin:sqlite/sqlite@3.0.0`, [`Kv`] over
//! `fermyon:spin/key-value@2.0.0`, variables over `fermyon:spin/variables@2.0.0`, and the
//! conversion between Spin's HTTP types and the API's.
//!
//! Spin makes a fresh instance for every request, so everything here lives for one request:
//! connections open lazily, only when a route needs them.

use std::cell::{Cell, OnceCell};

use contacts_api::{Platform, Request, Response};
use contacts_core::kernel::store::{DbError, Kv, Rows, Sql, Turn, Value};
use contacts_core::{kernel::schema, Error, Result};
use spin_sdk::key_value::Store;
use spin_sdk::sqlite3::{self, Connection};

/// Exports `prewarm: func()` from the component. `component-prewarm` calls it once at build
/// time and snapshots the memory it leaves (Wizer), so lazily built state — the phone
/// library's metadata above all — is already there in every fresh per-request instance.
/// Needs `wit-bindgen` among the component's dependencies.
#[macro_export]
macro_rules! export_prewarm {
    () => {
        mod prewarm {
            wit_bindgen::generate!({
                inline: "package contacts:prewarm; world prewarm { export prewarm: func(); }",
                world: "prewarm",
            });
            struct Prewarm;
            impl Guest for Prewarm {
                fn prewarm() {
                    $crate::prewarm();
                }
            }
            export!(Prewarm);
        }
    };
}

/// What [`export_prewarm!`] runs at build time.
pub fn prewarm() {
    contacts_core::kernel::values::Phone::warm_up();
    occupy_scattered_free_memory();
}

/// Leaves the free chunks the warm-up scattered over the heap occupied, so that a request's
/// allocations come from one contiguous region instead of from all over the snapshot.
///
/// Every page an instance touches costs it a page fault (and its reset after the request):
/// a crud read made ~530 small allocations spread over 4–41 MiB of heap, ~90 distinct pages.
/// The smallest allocation fits any free chunk, so allocating it until successive addresses
/// run contiguous (the allocator is carving its top) has taken every scattered chunk; what is
/// taken stays in the snapshot and is never touched again.
fn occupy_scattered_free_memory() {
    const CONTIGUOUS_RUN: usize = 1024;
    let layout = std::alloc::Layout::new::<u8>();
    let mut previous = 0usize;
    let mut run = 0;
    while run < CONTIGUOUS_RUN {
        // SAFETY: a valid non-zero layout; the block is leaked on purpose.
        let p = unsafe { std::alloc::alloc(layout) } as usize;
        if p == 0 {
            return;
        }
        run = if p > previous && p - previous <= 32 {
            run + 1
        } else {
            0
        };
        previous = p;
    }
}

/// Serves one request with a module's handler (e.g. `contacts_api::crud::handle`).
pub fn serve(
    req: http::Request<Vec<u8>>,
    handler: fn(&Request, &dyn Platform) -> Response,
) -> http::Response<Vec<u8>> {
    let (parts, body) = req.into_parts();
    let request = Request {
        method: parts.method,
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        headers: parts.headers,
        body,
    };
    let response = handler(&request, &SpinPlatform::default());
    let mut builder = http::Response::builder().status(response.status);
    for (name, value) in &response.headers {
        builder = builder.header(*name, value.as_str());
    }
    builder.body(response.body).unwrap_or_else(|e| {
        eprintln!("building the response failed: {e}");
        let mut r = http::Response::new(Vec::new());
        *r.status_mut() = http::StatusCode::INTERNAL_SERVER_ERROR;
        r
    })
}

#[derive(Default)]
struct SpinPlatform {
    sql: OnceCell<schema::Current<SpinSql>>,
    kv: OnceCell<SpinKv>,
}

impl Platform for SpinPlatform {
    fn sql(&self) -> Result<&dyn Sql> {
        if let Some(db) = self.sql.get() {
            return Ok(db);
        }
        let conn = Connection::open("default")
            .map_err(|e| Error::Storage(format!("opening database: {e}")))?;
        Ok(self
            .sql
            .get_or_init(|| schema::Current::new(SpinSql::new(conn))))
    }

    fn kv(&self) -> Result<&dyn Kv> {
        if let Some(kv) = self.kv.get() {
            return Ok(kv);
        }
        let store = Store::open("default")
            .map_err(|e| Error::Storage(format!("opening key-value store: {e}")))?;
        Ok(self.kv.get_or_init(|| SpinKv(store)))
    }

    fn variable(&self, name: &str) -> Option<String> {
        spin_sdk::variables::get(name)
            .ok()
            .filter(|v| !v.is_empty())
    }
}

struct SpinSql {
    conn: Connection,
    /// Whether the last quiet lock ([`SpinSql::take_quiet_lock`]) saw other writers.
    others_wanted: Cell<bool>,
}

fn into_spin(v: Value) -> sqlite3::Value {
    match v {
        Value::Null => sqlite3::Value::Null,
        Value::Integer(i) => sqlite3::Value::Integer(i),
        Value::Real(f) => sqlite3::Value::Real(f),
        Value::Text(s) => sqlite3::Value::Text(s),
        Value::Blob(b) => sqlite3::Value::Blob(b),
    }
}

fn from_spin(v: sqlite3::Value) -> Value {
    match v {
        sqlite3::Value::Null => Value::Null,
        sqlite3::Value::Integer(i) => Value::Integer(i),
        sqlite3::Value::Real(f) => Value::Real(f),
        sqlite3::Value::Text(s) => Value::Text(s),
        sqlite3::Value::Blob(b) => Value::Blob(b),
    }
}

fn db_error(e: sqlite3::Error) -> DbError {
    match e {
        sqlite3::Error::Io(msg) => DbError::Sqlite(msg),
        other => DbError::Unavailable(format!("{other:?}")),
    }
}

impl Sql for SpinSql {
    fn execute(&self, sql: &str, params: &[Value]) -> std::result::Result<Rows, DbError> {
        self.run(sql, params.iter().cloned().map(into_spin).collect())
    }

    fn execute_owned(&self, sql: &str, params: Vec<Value>) -> std::result::Result<Rows, DbError> {
        self.run(sql, params.into_iter().map(into_spin).collect())
    }

    fn last_insert_rowid(&self) -> i64 {
        self.conn.last_insert_rowid()
    }

    fn changes(&self) -> u64 {
        self.conn.changes()
    }

    /// Tries `BEGIN IMMEDIATE` every [`LOCK_POLL`] until it gets the lock, for up to
    /// [`LOCK_WAIT`], instead of leaving the wait to SQLite's busy handler; a job's step
    /// waits for a quiet lock first ([`SpinSql::take_quiet_lock`]).
    ///
    /// The handler sleeps in growing steps (1, 2, 5, 10, 15, 20, 25, 25, 25, 50, 50, 100 ms):
    /// with several writers queued, one that has waited a while sleeps 25–100 ms at a time
    /// while newcomers take the lock in between, and the write p99 climbs past 100 ms. Trying
    /// every millisecond lets each waiter in soon after the lock is free. The busy timeout is
    /// off only while trying: the transaction's own statements and its `COMMIT` (which waits
    /// for readers to finish) keep the handler.
    fn begin_immediate(&self, turn: Turn) -> std::result::Result<(), DbError> {
        self.execute("PRAGMA busy_timeout = 0", &[])?;
        let outcome = match turn {
            Turn::Prompt => self.take_lock(LOCK_POLL, LOCK_WAIT).map(drop),
            Turn::Yielding => self
                .take_quiet_lock()
                .map(|seen| self.others_wanted.set(seen)),
        };
        let restored = self.execute(
            &format!("PRAGMA busy_timeout = {}", LOCK_WAIT.as_millis()),
            &[],
        );
        match (outcome, restored) {
            (Ok(()), Err(e)) => {
                let _ = self.execute("ROLLBACK", &[]);
                Err(e)
            }
            (outcome, _) => outcome,
        }
    }

    fn others_wanted_the_lock(&self) -> bool {
        self.others_wanted.get()
    }
}

impl SpinSql {
    fn new(conn: Connection) -> SpinSql {
        SpinSql {
            conn,
            others_wanted: Cell::new(false),
        }
    }

    fn run(&self, sql: &str, params: Vec<sqlite3::Value>) -> std::result::Result<Rows, DbError> {
        let result = self.conn.execute(sql, &params).map_err(db_error)?;
        Ok(Rows {
            columns: result.columns,
            rows: result
                .rows
                .into_iter()
                .map(|r| r.values.into_iter().map(from_spin).collect())
                .collect(),
        })
    }

    /// `BEGIN IMMEDIATE`, tried every `poll` for up to `wait` while another writer holds the
    /// lock. Says whether it had to wait.
    fn take_lock(
        &self,
        poll: std::time::Duration,
        wait: std::time::Duration,
    ) -> std::result::Result<bool, DbError> {
        let started = std::time::Instant::now();
        let mut waited = false;
        loop {
            match self.execute("BEGIN IMMEDIATE", &[]) {
                Err(e) if e.is_busy() && started.elapsed() < wait => {
                    waited = true;
                    std::thread::sleep(poll)
                }
                other => return other.map(|_| waited),
            }
        }
    }

    /// The lock for a job's step, once no prompt writer is waiting for it: a step holds it
    /// for a whole slice or chunk (~50 ms and more), so a chat event that finds it taken
    /// waits that long, and the events queued behind it longer still. No process can see
    /// who else waits, but a waiting writer tries every millisecond or two: so the step
    /// takes the lock, gives it back at once, and keeps it only if it is still free after
    /// [`QUIET`], that is if nobody took it meanwhile. After [`JOB_PATIENCE`] it keeps the
    /// first lock it gets, so a stream of chat events slows a job but never stops it.
    ///
    /// Says whether it saw other writers: the lock held when it first tried, or taken during
    /// its quiet wait.
    fn take_quiet_lock(&self) -> std::result::Result<bool, DbError> {
        let started = std::time::Instant::now();
        let mut seen = false;
        loop {
            seen |= self.take_lock(
                YIELDING_LOCK_POLL,
                LOCK_WAIT.saturating_sub(started.elapsed()),
            )?;
            if started.elapsed() >= JOB_PATIENCE {
                return Ok(seen);
            }
            self.execute("ROLLBACK", &[])?;
            std::thread::sleep(QUIET);
            match self.execute("BEGIN IMMEDIATE", &[]) {
                Ok(_) => return Ok(seen),
                Err(e) if e.is_busy() => {
                    seen = true;
                    std::thread::sleep(YIELDING_LOCK_POLL)
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// How long a writer waits for the lock before its request fails: the busy timeout Spin's
/// connections have (rusqlite's default).
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// How often a waiting writer tries the lock again.
const LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(1);

/// How often a job's waiting step tries it again.
const YIELDING_LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(5);

/// How long the lock must stay free for a job's step to take it: longer than a waiting
/// writer's round of tries (a 1 ms sleep and a statement, ~2 ms under Spin).
const QUIET: std::time::Duration = std::time::Duration::from_millis(3);

/// How long a job's step waits for a quiet lock before it takes any.
const JOB_PATIENCE: std::time::Duration = std::time::Duration::from_secs(1);

struct SpinKv(Store);

fn kv_error(e: spin_sdk::key_value::Error) -> DbError {
    DbError::Unavailable(format!("{e:?}"))
}

impl Kv for SpinKv {
    fn get(&self, key: &str) -> std::result::Result<Option<Vec<u8>>, DbError> {
        self.0.get(key).map_err(kv_error)
    }

    fn keys(&self) -> std::result::Result<Vec<String>, DbError> {
        self.0.get_keys().map_err(kv_error)
    }
}
