//! The Spin host interfaces (`wit/world.wit`): key-value, SQLite (v2 and v3), variables.
//!
//! Access rules follow Spin: a label the component did not declare is `access-denied`; a
//! declared label the host does not know is `no-such-store` / `no-such-database`.

use crate::manifest::{is_valid_variable_name, DEFAULT_LABEL};
use crate::state::RequestState;
use crate::storage::{execute_first_statement, QueryOutput};
use rusqlite::types::Value as SqlValue;
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

/// An open SQLite connection, used only by the request that opened it.
pub struct SqliteConnection {
    conn: rusqlite::Connection,
}

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
        if let Err(e) = self.env.storage.key_value() {
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
        let result = self.env.storage.key_value().and_then(|db| op(db, label));
        Ok(result.map_err(kv::Error::Other))
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
            .open_sqlite()
            .map(|conn| SqliteConnection { conn })
            .map_err(OpenError::Io))
    }

    fn execute_on(
        &mut self,
        connection: &Resource<SqliteConnection>,
        statement: String,
        params: Vec<SqlValue>,
    ) -> wasmtime::Result<Result<QueryOutput, String>> {
        let conn = &self.table.get(connection)?.conn;
        Ok(execute_first_statement(conn, &statement, params))
    }

    fn with_connection<R>(
        &mut self,
        connection: &Resource<SqliteConnection>,
        f: impl FnOnce(&rusqlite::Connection) -> R,
    ) -> wasmtime::Result<R> {
        Ok(f(&self.table.get(connection)?.conn))
    }
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
                let output = self.execute_on(&connection, statement, params)?;
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
        if !is_valid_variable_name(&name) {
            return Ok(Err(variables::Error::InvalidName(name)));
        }
        Ok(match self.env.variables.get(&name) {
            Some(value) => Ok(value.clone()),
            None => Err(variables::Error::Undefined(format!(
                "no variable for {}.{name}",
                self.env.id
            ))),
        })
    }
}
