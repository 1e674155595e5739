//! One wasmtime `Engine`, linker and compiled-component cache per process.
//!
//! Tests start many hosts in one process; sharing these means each `.wasm` is JIT-compiled
//! once per process (keyed by path, mtime and size, so a rebuilt file is compiled again).

use crate::state::RequestState;
use anyhow::{anyhow, Context, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Instant, SystemTime};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// The process-wide engine.
pub fn engine() -> Result<&'static Engine> {
    static ENGINE: OnceLock<Result<Engine, String>> = OnceLock::new();
    ENGINE
        .get_or_init(|| new_engine().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow!("cannot create the wasmtime engine: {e}"))
}

/// Spin instantiates with a pooling allocator: a fresh instance per request then reuses
/// pre-mapped memory instead of mapping new memory each time. If the machine refuses the
/// address-space reservation, fall back to on-demand allocation (slower, same behaviour).
fn new_engine() -> Result<Engine> {
    let mut pooling = PoolingAllocationConfig::default();
    pooling.total_component_instances(1000);
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));
    match Engine::new(&config) {
        Ok(engine) => Ok(engine),
        Err(pooling_error) => {
            eprintln!(
                "spin-host: pooling allocator unavailable ({pooling_error}); using on-demand"
            );
            config.allocation_strategy(InstanceAllocationStrategy::OnDemand);
            Ok(Engine::new(&config)?)
        }
    }
}

/// The process-wide linker: WASI 0.2, wasi:http and the Spin interfaces. Wasmtime matches a
/// component's `@0.2.x` imports to these by semver, so any 0.2 patch version links.
pub fn linker() -> Result<&'static Linker<RequestState>> {
    static LINKER: OnceLock<Result<Linker<RequestState>, String>> = OnceLock::new();
    LINKER
        .get_or_init(|| new_linker().map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow!("cannot set up the host interfaces: {e}"))
}

fn new_linker() -> Result<Linker<RequestState>> {
    let mut linker = Linker::new(engine()?);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    crate::spin_api::add_to_linker(&mut linker)?;
    Ok(linker)
}

type CacheKey = (PathBuf, SystemTime, u64);
/// Filled once by whichever host compiles the file first.
type CacheSlot = Arc<Mutex<Option<Component>>>;

/// Loads a component, compiling it only if this exact file was not compiled before.
pub fn load_component(path: &Path) -> Result<Component> {
    static CACHE: OnceLock<Mutex<HashMap<CacheKey, CacheSlot>>> = OnceLock::new();
    let key = cache_key(path)?;
    // One slot per file: concurrent hosts wanting the same file wait for one compilation.
    let slot = {
        let mut cache = CACHE
            .get_or_init(Default::default)
            .lock()
            .map_err(|_| anyhow!("component cache poisoned"))?;
        cache.entry(key).or_default().clone()
    };
    let mut slot = slot
        .lock()
        .map_err(|_| anyhow!("component cache poisoned"))?;
    if let Some(component) = slot.as_ref() {
        return Ok(component.clone());
    }
    let started = Instant::now();
    let component = Component::from_file(engine()?, path)
        .map_err(|e| anyhow!("{e:#}"))
        .with_context(|| format!("cannot compile component {}", path.display()))?;
    if std::env::var_os("SPIN_HOST_TIMINGS").is_some() {
        eprintln!(
            "spin-host: compiled {} in {:.0} ms",
            path.display(),
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
    *slot = Some(component.clone());
    Ok(component)
}

fn cache_key(path: &Path) -> Result<CacheKey> {
    let canonical = path.canonicalize().with_context(|| {
        format!(
            "component file {} not found (run `spin-host build`, or `up --build`)",
            path.display()
        )
    })?;
    let meta = std::fs::metadata(&canonical)?;
    Ok((canonical, meta.modified()?, meta.len()))
}
