//! The Spin host interfaces (`wit/world.wit`): key-value, SQLite (v2 and v3), variables.
//!
//! Access rules follow Spin: a label the component did not declare is `access-denied`; a
//! declared label the host does not know is `no-such-store` / `no-such-database`.
//!
//! Where each call runs follows the host's mode. Under [`HostMode::Spin`], as in Spin 4.1:
//! each SQL statement runs on a blocking thread of its own (`spawn_blocking`, one thread
//! switch there and back per statement, rows returned at once), and each key-value call in
//! `block_in_place` on the async thread running the guest, which hands that thread's other
//! work to another thread (this is what makes Spin's responses leave in two TCP segments,
//! and a keep-alive client wait ~40 ms for the second). Under [`HostMode::Fast`] the guest
//! has a blocking thread of its own and every call runs inline.

use crate::manifest::{check_variable_name, DEFAULT_LABEL};
use crate::state::RequestState;
use crate::storage::{execute_first_statement, open_sqlite, QueryOutput};
use crate::HostMode;
use rusqlite::types::Value as SqlValue;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use wasmtime::component::Resource;

wasmtime::component::bindgen!({
    path: "../../wit",
    world: "contacts:host/spin-host",
    imports: { default: async | trappable },
    with: {
        "fermyon:spin/key-value.store": KeyValueStore,
        "fermyon:spin/sqlite.connection": SqliteConnection,
        "spin:sqlite/sqlite.connection": SqliteConnection,
    },
});

use fermyon::spin::key_value as kv;
use fermyon::spin::sqlite as sqlite2;
use fermyon::spin::variables;
use spin::sqlite::sqlite as sqlite3;

/// Adds the Spin interfaces to a linker.
pub fn add_to_linker(
    linker: &mut wasmtime::component::Linker<RequestState>,
) -> wasmtime::Result<()> {
    SpinHost::add_to_linker::<_, wasmtime::component::HasSelf<RequestState>>(linker, |s| s)
}

/// An open key-value store: just its label (all stores share one database).
pub struct KeyValueStore {
    label: String,
}

/// An open SQLite connection, used only by the request that opened it. As Spin's
/// `InProcConnection`, the file is opened at the first statement (on the guest's thread).
pub struct SqliteConnection {
    location: PathBuf,
    conn: Option<SharedConnection>,
}

/// A connection that statements on blocking threads can use.
type SharedConnection = Arc<Mutex<rusqlite::Connection>>;

impl kv::Host for RequestState {}

impl kv::HostStore for RequestState {
    async fn open(
        &mut self,
        label: String,
    ) -> wasmtime::Result<Result<Resource<KeyValueStore>, kv::Error>> {
        if !self.env.key_value_stores.contains(&label) {
            return Ok(Err(kv::Error::AccessDenied));
        }
        if label != DEFAULT_LABEL {
            return Ok(Err(kv::Error::NoSuchStore));
        }
        let storage = &self.env.storage;
        if let Err(e) = self.key_value_blocking(|| storage.key_value().map(drop)) {
            return Ok(Err(kv::Error::Other(e)));
        }
        Ok(Ok(self.table.push(KeyValueStore { label })?))
    }

    async fn get(
        &mut self,
        store: Resource<KeyValueStore>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, kv::Error>> {
        self.key_value_call(store, move |db, label| db.get(label, &key))
    }

    async fn set(
        &mut self,
        store: Resource<KeyValueStore>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), kv::Error>> {
        self.key_value_call(store, move |db, label| db.set(label, &key, &value))
    }

    async fn delete(
        &mut self,
        store: Resource<KeyValueStore>,
        key: String,
    ) -> wasmtime::Result<Result<(), kv::Error>> {
        self.key_value_call(store, move |db, label| db.delete(label, &key))
    }

    async fn exists(
        &mut self,
        store: Resource<KeyValueStore>,
        key: String,
    ) -> wasmtime::Result<Result<bool, kv::Error>> {
        self.key_value_call(store, move |db, label| db.exists(label, &key))
    }

    async fn get_keys(
        &mut self,
        store: Resource<KeyValueStore>,
    ) -> wasmtime::Result<Result<Vec<String>, kv::Error>> {
        self.key_value_call(store, |db, label| db.keys(label))
    }

    async fn drop(&mut self, store: Resource<KeyValueStore>) -> wasmtime::Result<()> {
        self.table.delete(store)?;
        Ok(())
    }
}

impl RequestState {
    /// Runs one key-value operation on the store behind `store`.
    fn key_value_call<R>(
        &mut self,
        store: Resource<KeyValueStore>,
        op: impl FnOnce(&crate::storage::KeyValueDb, &str) -> Result<R, String>,
    ) -> wasmtime::Result<Result<R, kv::Error>> {
        let label = &self.table.get(&store)?.label;
        let storage = &self.env.storage;
        let result = self.key_value_blocking(|| storage.key_value().and_then(|db| op(db, label)));
        Ok(result.map_err(kv::Error::Other))
    }

    /// Runs a blocking key-value call as Spin's `key-value-spin` does (`block_in_place`).
    fn key_value_blocking<R>(&self, call: impl FnOnce() -> R) -> R {
        match self.env.mode {
            HostMode::Spin => tokio::task::block_in_place(call),
            HostMode::Fast => call(),
        }
    }

    /// Spin's checks for `sqlite open`, then a fresh connection. `Err` carries which error
    /// variant applies, for the v2 and v3 interfaces to map onto their own types.
    fn open_database(
        &mut self,
        database: String,
    ) -> wasmtime::Result<Result<SqliteConnection, OpenError>> {
        if !self.env.sqlite_databases.contains(&database) {
            return Ok(Err(OpenError::AccessDenied));
        }
        if database != DEFAULT_LABEL {
            return Ok(Err(OpenError::NoSuchDatabase));
        }
        Ok(self
            .env
            .storage
            .sqlite_location()
            .map(|location| SqliteConnection {
                location,
                conn: None,
            })
            .map_err(OpenError::Io))
    }

    /// The connection behind `connection`, opened first if this is its first use.
    fn connection(
        &mut self,
        connection: &Resource<SqliteConnection>,
    ) -> wasmtime::Result<Result<SharedConnection, String>> {
        let entry = self.table.get_mut(connection)?;
        if let Some(conn) = &entry.conn {
            return Ok(Ok(conn.clone()));
        }
        Ok(open_sqlite(&entry.location).map(|conn| {
            let conn = Arc::new(Mutex::new(conn));
            entry.conn = Some(conn.clone());
            conn
        }))
    }

    async fn execute_on(
        &mut self,
        connection: &Resource<SqliteConnection>,
        statement: String,
        params: Vec<SqlValue>,
    ) -> wasmtime::Result<Result<QueryOutput, String>> {
        let conn = match self.connection(connection)? {
            Ok(conn) => conn,
            Err(e) => return Ok(Err(e)),
        };
        let run = move || execute_first_statement(&*lock(&conn)?, &statement, params);
        Ok(match self.env.mode {
            // Spin's message if the blocking thread could not run the statement.
            HostMode::Spin => tokio::task::spawn_blocking(run)
                .await
                .unwrap_or_else(|e| Err(format!("internal runtime error: {e}"))),
            HostMode::Fast => run(),
        })
    }

    /// `last-insert-rowid` and `changes`: on the guest's thread, as Spin.
    fn with_connection<R>(
        &mut self,
        connection: &Resource<SqliteConnection>,
        f: impl FnOnce(&rusqlite::Connection) -> R,
    ) -> wasmtime::Result<R> {
        let conn = self.connection(connection)?.map_err(wasmtime::Error::msg)?;
        let conn = lock(&conn).map_err(wasmtime::Error::msg)?;
        Ok(f(&conn))
    }
}

fn lock(
    conn: &SharedConnection,
) -> Result<std::sync::MutexGuard<'_, rusqlite::Connection>, String> {
    conn.lock()
        .map_err(|_| "the connection was poisoned by a failed statement".to_string())
}

enum OpenError {
    AccessDenied,
    NoSuchDatabase,
    Io(String),
}

/// Implements one version of the SQLite interface; v2 and v3 share everything but their
/// generated types and v3's two extra functions.
macro_rules! impl_sqlite {
    ($module:ident { $($extra:item)* }) => {
        impl $module::Host for RequestState {}

        impl $module::HostConnection for RequestState {
            async fn open(
                &mut self,
                database: String,
            ) -> wasmtime::Result<Result<Resource<SqliteConnection>, $module::Error>> {
                Ok(match self.open_database(database)? {
                    Ok(conn) => Ok(self.table.push(conn)?),
                    Err(OpenError::AccessDenied) => Err($module::Error::AccessDenied),
                    Err(OpenError::NoSuchDatabase) => Err($module::Error::NoSuchDatabase),
                    Err(OpenError::Io(message)) => Err($module::Error::Io(message)),
                })
            }

            async fn execute(
                &mut self,
                connection: Resource<SqliteConnection>,
                statement: String,
                parameters: Vec<$module::Value>,
            ) -> wasmtime::Result<Result<$module::QueryResult, $module::Error>> {
                let params = parameters
                    .into_iter()
                    .map(|v| match v {
                        $module::Value::Integer(i) => SqlValue::Integer(i),
                        $module::Value::Real(r) => SqlValue::Real(r),
                        $module::Value::Text(t) => SqlValue::Text(t),
                        $module::Value::Blob(b) => SqlValue::Blob(b),
                        $module::Value::Null => SqlValue::Null,
                    })
                    .collect();
                let output = self.execute_on(&connection, statement, params).await?;
                Ok(output
                    .map(|out| $module::QueryResult {
                        columns: out.columns,
                        rows: out
                            .rows
                            .into_iter()
                            .map(|row| $module::RowResult {
                                values: row
                                    .into_iter()
                                    .map(|v| match v {
                                        SqlValue::Integer(i) => $module::Value::Integer(i),
                                        SqlValue::Real(r) => $module::Value::Real(r),
                                        SqlValue::Text(t) => $module::Value::Text(t),
                                        SqlValue::Blob(b) => $module::Value::Blob(b),
                                        SqlValue::Null => $module::Value::Null,
                                    })
                                    .collect(),
                            })
                            .collect(),
                    })
                    .map_err($module::Error::Io))
            }

            $($extra)*

            async fn drop(&mut self, connection: Resource<SqliteConnection>) -> wasmtime::Result<()> {
                self.table.delete(connection)?;
                Ok(())
            }
        }
    };
}

impl_sqlite!(sqlite2 {});

impl_sqlite!(sqlite3 {
    async fn last_insert_rowid(&mut self, connection: Resource<SqliteConnection>) -> wasmtime::Result<i64> {
        self.with_connection(&connection, |c| c.last_insert_rowid())
    }

    async fn changes(&mut self, connection: Resource<SqliteConnection>) -> wasmtime::Result<u64> {
        self.with_connection(&connection, |c| c.changes())
    }
});

impl variables::Host for RequestState {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, variables::Error>> {
        if let Err(reason) = check_variable_name(&name) {
            return Ok(Err(variables::Error::InvalidName(format!(
                "{name:?}: {reason}"
            ))));
        }
        Ok(match self.env.variables.get(&name) {
            Some(value) => Ok(value.clone()),
            None => Err(variables::Error::Undefined(format!(
                "no variable for {:?}.{name:?}",
                self.env.id
            ))),
        })
    }
}
