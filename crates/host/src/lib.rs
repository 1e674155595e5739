//! A small Spin-compatible host on wasmtime, for tests and local serving.
//!
//! It runs a Spin application (manifest version 2) the way `spin up` does: HTTP routes to
//! components that export `wasi:http/incoming-handler@0.2.x`, a fresh instance per request,
//! and Spin's key-value, SQLite and variables interfaces backed by files in a state directory
//! with Spin's own names (`sqlite_db.db`, `sqlite_key_value.db`). It knows nothing about the
//! application it serves.
//!
//! # Library use (tests)
//!
//! ```no_run
//! use std::collections::HashMap;
//! use std::path::Path;
//!
//! # fn main() -> anyhow::Result<()> {
//! let manifest = Path::new("spin.toml");
//! spin_host::build_once(manifest)?; // runs the build commands once per process
//! let state = std::env::temp_dir().join("my-test-state");
//! let host = spin_host::start(spin_host::HostConfig {
//!     manifest: manifest.to_path_buf(),
//!     listen: "127.0.0.1:0".parse()?, // ephemeral port
//!     state_dir: state,
//!     variables: HashMap::from([("api_token".into(), "secret".into())]),
//!     mode: spin_host::HostMode::Spin, // what `spin up` costs per request
//! })?;
//! let url = format!("{}/api/contacts", host.base_url()); // e.g. http://127.0.0.1:40123
//! # let _ = url;
//! host.stop(); // or just drop it
//! # Ok(())
//! # }
//! ```
//!
//! Many hosts may run in one process at once (one per test, each with its own state dir):
//! they share one wasmtime engine, and each `.wasm` file is compiled once per process. The
//! machine code is also kept on disk beside the `.wasm` (`.spin-host-cache/`), so the next
//! process (the next test binary, the next `spin-host up`) loads it in milliseconds.
//! `SPIN_HOST_TIMINGS=1` prints what was compiled or loaded, and how long it took.

mod app_build;
mod engine;
mod manifest;
mod outbound;
mod process;
mod routes;
mod server;
mod spin_api;
mod state;
mod storage;

pub use app_build::{build_app, build_once};
pub use process::prepare_fast_process;

use anyhow::{Context, Result};
use manifest::App;
use server::{AppRuntime, ServedComponent};
use state::ComponentEnv;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use storage::Storage;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

/// How much of Spin 4.1's per-request cost the host reproduces.
///
/// The application behaves the same either way; only the cost of serving differs. Every test
/// and benchmark runs [`HostMode::Spin`], so what they measure is what production pays.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum HostMode {
    /// What `spin up` 4.1 does per request (read from its source; ARCHITECTURE, host):
    /// wasmtime's pooling allocator with Spin's settings (memory kept resident only up to
    /// 2 MiB, the rest reset with `madvise`; epoch interruption compiled in); the guest as a
    /// task on the async threads; each SQL statement on a blocking thread of its own
    /// (`spawn_blocking`), the connection opened at its first statement; each key-value call
    /// in `block_in_place`; no `TCP_NODELAY`; glibc's malloc and SQLite's own allocator with
    /// its memory statistics. With a keep-alive client a key-value call stalls the response
    /// ~40 ms, as under Spin.
    #[default]
    Spin,
    /// Faster mechanisms for local serving (`spin-host up --fast`), never for measuring: the
    /// guest on a blocking thread of its own with storage calls inline, memory reset only
    /// where touched (PAGEMAP_SCAN) and kept mapped, `TCP_NODELAY`, and (with
    /// [`prepare_fast_process`]) mimalloc for Rust and SQLite.
    Fast,
}

impl HostMode {
    /// The per-request costs this mode reproduces, in one line: benchmarks print it beside
    /// their figures, so each figure says what it was measured under.
    pub fn settings(self) -> &'static str {
        match self {
            HostMode::Spin => {
                "host mode Spin (the default: Spin 4.1's per-request costs): pooling allocator \
                 with Spin's settings, memory reset by madvise past 2 MiB, epoch checks, the \
                 guest as an async task, a fresh SQLite connection per request, spawn_blocking \
                 per SQL statement, block_in_place per key-value call, no TCP_NODELAY, glibc malloc"
            }
            HostMode::Fast => {
                "host mode Fast (`up --fast`, NOT Spin's costs): the guest on a blocking thread \
                 with storage calls inline, memory reset only where touched, TCP_NODELAY, mimalloc"
            }
        }
    }
}

/// How to start a host.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// The application's `spin.toml`.
    pub manifest: PathBuf,
    /// Address to listen on; `127.0.0.1:0` picks a free port (see [`RunningHost::addr`]).
    pub listen: SocketAddr,
    /// State directory (created if missing). `spin up` uses `.spin` beside the manifest.
    pub state_dir: PathBuf,
    /// Application variable values, overriding `SPIN_VARIABLE_<NAME>` and `[variables]` defaults.
    pub variables: HashMap<String, String>,
    /// Spin's per-request costs, or the faster mechanisms.
    pub mode: HostMode,
}

/// A host serving on a background tokio runtime. Stops on [`RunningHost::stop`] or drop.
pub struct RunningHost {
    addr: SocketAddr,
    app: Arc<AppRuntime>,
    shutdown: tokio::sync::watch::Sender<bool>,
    runtime: Option<tokio::runtime::Runtime>,
}

/// Loads the manifest, compiles and links every component, binds the listener and starts
/// serving. Fails (serving nothing) on anything the host does not support, a missing required
/// variable, a component import the host does not provide, or an address in use.
pub fn start(cfg: HostConfig) -> Result<RunningHost> {
    let app = App::load(&cfg.manifest)?;
    let variables = app.resolve_variables(|name| std::env::var(name).ok(), &cfg.variables)?;
    std::fs::create_dir_all(&cfg.state_dir)
        .with_context(|| format!("cannot create state dir {}", cfg.state_dir.display()))?;
    let storage = Arc::new(Storage::new(&cfg.state_dir));
    let mut components = HashMap::new();
    for (id, decl) in &app.components {
        let env = component_env(id, decl, &variables, &storage, cfg.mode);
        let pre = prepare_component(id, &decl.source, cfg.mode)?;
        components.insert(id.clone(), ServedComponent { pre, env });
    }
    let app = Arc::new(AppRuntime {
        router: routes::Router::build(&app.routes),
        components,
        mode: cfg.mode,
    });
    let listener = std::net::TcpListener::bind(cfg.listen)
        .with_context(|| format!("cannot listen on {}", cfg.listen))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("spin-host")
        .build()?;
    let listener = {
        let _entered = runtime.enter();
        tokio::net::TcpListener::from_std(listener)?
    };
    let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
    runtime.spawn(server::serve(listener, app.clone(), shutdown_rx));
    Ok(RunningHost {
        addr,
        app,
        shutdown,
        runtime: Some(runtime),
    })
}

/// What the manifest grants one component, with its variables resolved.
fn component_env(
    id: &str,
    decl: &manifest::ComponentDecl,
    variables: &HashMap<String, HashMap<String, String>>,
    storage: &Arc<Storage>,
    mode: HostMode,
) -> Arc<ComponentEnv> {
    Arc::new(ComponentEnv {
        id: id.to_string(),
        key_value_stores: decl.key_value_stores.iter().cloned().collect(),
        sqlite_databases: decl.sqlite_databases.iter().cloned().collect(),
        variables: variables.get(id).cloned().unwrap_or_default(),
        allowed_hosts: Arc::new(decl.allowed_outbound_hosts.clone()),
        environment: decl.environment.clone().into_iter().collect(),
        storage: storage.clone(),
        mode,
    })
}

/// Compiles (or reuses) the component and resolves its imports against the host's.
fn prepare_component(
    id: &str,
    source: &std::path::Path,
    mode: HostMode,
) -> Result<ProxyPre<state::RequestState>> {
    let component =
        engine::load_component(source, mode).with_context(|| format!("component '{id}'"))?;
    let instance_pre = engine::linker(mode)?
        .instantiate_pre(&component)
        .map_err(|e| anyhow::anyhow!("{e:#}"))
        .with_context(|| {
            format!(
                "component '{id}' ({}) imports something this host does not provide",
                source.display()
            )
        })?;
    ProxyPre::new(instance_pre)
        .map_err(|e| anyhow::anyhow!("{e:#}"))
        .with_context(|| {
            format!("component '{id}' does not export wasi:http/incoming-handler@0.2.x")
        })
}

impl RunningHost {
    /// `http://<addr>`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address actually bound (the real port when started on port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// What `spin up` prints on start: the base URL and every route with its component.
    pub fn describe(&self) -> String {
        let base = self.base_url();
        let mut out = format!("Serving {base}\nAvailable Routes:\n");
        for (component, route) in self.app.router.entries() {
            let _ = writeln!(out, "  {component}: {base}{route}");
        }
        out
    }

    /// Stops accepting, cancels in-flight requests and waits (briefly) for storage calls.
    pub fn stop(self) {
        drop(self)
    }
}

impl Drop for RunningHost {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
        if let Some(runtime) = self.runtime.take() {
            // Blocking inside an async context would panic: there, let it wind down alone.
            if tokio::runtime::Handle::try_current().is_ok() {
                runtime.shutdown_background();
            } else {
                runtime.shutdown_timeout(std::time::Duration::from_secs(5));
            }
        }
    }
}
