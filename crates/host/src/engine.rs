//! One wasmtime `Engine`, linker and compiled-component cache per process.
//!
//! Tests start many hosts in one process; sharing these means each `.wasm` is JIT-compiled
//! once per process (keyed by path, mtime and size, so a rebuilt file is compiled again).

use crate::state::RequestState;
use anyhow::{anyhow, Context, Result};
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
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
    // When an instance ends, put back only the pages it touched (found with Linux's
    // PAGEMAP_SCAN, kernel 6.7+; elsewhere this falls back to `madvise`) and keep them
    // mapped: the next instance starts without page faults and no TLB shootdowns are sent
    // to the other cores. Spin resets with `madvise` past the first 2 MiB; on a crud read at
    // 1M contacts this saves ~0.1 ms of CPU per request (docs/benchmarks.md, floor).
    pooling.pagemap_scan(wasmtime::Enabled::Auto);
    pooling.linear_memory_keep_resident(64 << 20);
    pooling.table_keep_resident(1 << 20);
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
    let slot_key = key.clone();
    // One slot per file: concurrent hosts wanting the same file wait for one compilation.
    let slot = {
        let mut cache = CACHE
            .get_or_init(Default::default)
            .lock()
            .map_err(|_| anyhow!("component cache poisoned"))?;
        cache.entry(slot_key).or_default().clone()
    };
    let mut slot = slot
        .lock()
        .map_err(|_| anyhow!("component cache poisoned"))?;
    if let Some(component) = slot.as_ref() {
        return Ok(component.clone());
    }
    let started = Instant::now();
    let (component, how) = compile_or_load_compiled(path, &key)?;
    if std::env::var_os("SPIN_HOST_TIMINGS").is_some() {
        eprintln!(
            "spin-host: {how} {} in {:.0} ms",
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

/// Where this host keeps the machine code of a `.wasm`: beside it, in `.spin-host-cache/`,
/// named by the file's identity and the engine's compatibility hash. Each test binary is its
/// own process, so without this every one of them would JIT every component again.
fn compiled_cache_path(path: &Path, key: &CacheKey, engine: &Engine) -> Option<PathBuf> {
    let mut hasher = DefaultHasher::new();
    key.hash(&mut hasher);
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let stem = path.file_stem()?.to_string_lossy();
    let dir = key.0.parent()?.join(".spin-host-cache");
    Some(dir.join(format!("{stem}-{:016x}.cwasm", hasher.finish())))
}

/// The compiled component from the on-disk cache, or a fresh compilation (then cached).
fn compile_or_load_compiled(path: &Path, key: &CacheKey) -> Result<(Component, &'static str)> {
    let engine = engine()?;
    let cached = compiled_cache_path(path, key, engine);
    if let Some(cached) = cached.as_ref().filter(|c| c.exists()) {
        // SAFETY: deserializing runs native code from the file. It is only ever written by
        // `write_compiled` below, into the build directory of the `.wasm` it came from (whoever
        // can write there can already replace the component); wasmtime also refuses files from
        // an incompatible engine, and any failure falls back to compiling.
        if let Ok(component) = unsafe { Component::deserialize_file(engine, cached) } {
            return Ok((component, "loaded compiled"));
        }
    }
    let component = Component::from_file(engine, path)
        .map_err(|e| anyhow!("{e:#}"))
        .with_context(|| format!("cannot compile component {}", path.display()))?;
    if let Some(cached) = cached {
        if let Err(e) = write_compiled(&component, &cached) {
            eprintln!("spin-host: not caching the compiled component: {e:#}");
        }
    }
    Ok((component, "compiled"))
}

/// Writes the machine code atomically (concurrent test processes may race here) and removes
/// older versions of the same component, so rebuilds do not pile up.
fn write_compiled(component: &Component, target: &Path) -> Result<()> {
    let dir = target.parent().context("cache path has no directory")?;
    std::fs::create_dir_all(dir)?;
    let bytes = component.serialize().map_err(|e| anyhow!("{e:#}"))?;
    let temp = target.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&temp, bytes)?;
    std::fs::rename(&temp, target)?;
    let current = target.file_name().context("cache path has no name")?;
    let stem = cached_stem(&current.to_string_lossy()).map(str::to_string);
    for entry in std::fs::read_dir(dir)?.flatten() {
        let name = entry.file_name();
        if name != current && cached_stem(&name.to_string_lossy()) == stem.as_deref() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// `crud` for `crud-0123456789abcdef.cwasm`; `None` for any other name.
fn cached_stem(file_name: &str) -> Option<&str> {
    let (stem, hash) = file_name.strip_suffix(".cwasm")?.rsplit_once('-')?;
    (hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit())).then_some(stem)
}

#[cfg(test)]
mod tests {
    use super::cached_stem;

    #[test]
    fn only_cache_files_of_the_same_component_match() {
        assert_eq!(cached_stem("crud-0123456789abcdef.cwasm"), Some("crud"));
        assert_eq!(
            cached_stem("crud-v2-0123456789abcdef.cwasm"),
            Some("crud-v2")
        );
        assert_eq!(cached_stem("crud-v2.cwasm"), None);
        assert_eq!(cached_stem("crud-0123456789abcdef.tmp42"), None);
    }
}
