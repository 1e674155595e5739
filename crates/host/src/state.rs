//! What one request's `Store` holds, and what a component is allowed to use.

use crate::outbound::{AllowedHost, OutboundPolicy};
use crate::storage::Storage;
use crate::HostMode;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

/// A component's grants from the manifest, fixed at start-up and shared by its requests.
#[derive(Debug)]
pub struct ComponentEnv {
    pub id: String,
    pub key_value_stores: HashSet<String>,
    pub sqlite_databases: HashSet<String>,
    /// Component variables, templates already expanded.
    pub variables: HashMap<String, String>,
    pub allowed_hosts: Arc<Vec<AllowedHost>>,
    /// `[component.X] environment`, passed as WASI environment variables.
    pub environment: Vec<(String, String)>,
    pub storage: Arc<Storage>,
    /// How storage calls cross threads (see `spin_api`).
    pub mode: HostMode,
}

/// The `T` of every per-request `Store<T>`.
pub struct RequestState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    pub(crate) table: ResourceTable,
    outbound: OutboundPolicy,
    pub(crate) env: Arc<ComponentEnv>,
}

impl RequestState {
    pub fn new(env: Arc<ComponentEnv>) -> RequestState {
        // Components may print to the host's stdout/stderr (like `spin up` shows their logs);
        // they get no files, no sockets and no host environment.
        let wasi = WasiCtx::builder()
            .inherit_stdout()
            .inherit_stderr()
            .envs(&env.environment)
            .build();
        RequestState {
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            outbound: OutboundPolicy::new(env.allowed_hosts.clone()),
            env,
        }
    }
}

impl WasiView for RequestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for RequestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}
