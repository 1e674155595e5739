//! One wasmtime `Engine`, linker and compiled-component cache per process.
//!
//! Tests start many hosts in one process; sharing these means each `.wasm` is JIT-compiled
//! once per process (keyed by path, mtime and size, so a rebuilt file is compiled again).

use crate::state::RequestState;
use crate::HostMode;
use anyhow::{anyhow, Context, Result};
use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Instant, SystemTime};
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// The process-wide engine of a mode (the two compile different code: Spin's has epoch checks).
pub fn engine(mode: HostMode) -> Result<&'static Engine> {
    static ENGINES: [OnceLock<Result<Engine, String>>; 2] = [OnceLock::new(), OnceLock::new()];
    ENGINES[mode as usize]
        .get_or_init(|| new_engine(mode).map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow!("cannot create the wasmtime engine: {e}"))
}

/// Spin instantiates with a pooling allocator: a fresh instance per request then reuses
/// pre-mapped memory instead of mapping new memory each time. If the machine refuses the
/// address-space reservation, fall back to on-demand allocation (slower, same behaviour).
fn new_engine(mode: HostMode) -> Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    // `SPIN_HOST_PERFMAP=1` writes /tmp/perf-<pid>.map, so `perf report` names the guests'
    // functions (a component built without `strip` keeps their names): a profiling aid
    // that changes no cost of a request.
    if std::env::var_os("SPIN_HOST_PERFMAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    let pooling = match mode {
        HostMode::Spin => spin_pooling(&mut config),
        HostMode::Fast => fast_pooling(),
    };
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

/// Spin 4.1's engine (`spin-core`, `Config::default`): an ended instance keeps its first
/// 2 MiB of linear memory and 512 KiB of tables mapped and resets the rest with `madvise`, so
/// the next instance faults those pages in again; every function and loop checks the epoch
/// (Spin's request deadline), which costs guest time even when no deadline is near.
fn spin_pooling(config: &mut Config) -> PoolingAllocationConfig {
    config.epoch_interruption(true);
    let mut pooling = PoolingAllocationConfig::default();
    pooling.total_component_instances(1000);
    pooling.max_memory_size(4 << 30);
    pooling.linear_memory_keep_resident(2 << 20);
    pooling.table_keep_resident(512 << 10);
    pooling
}

/// Faster than Spin: when an instance ends, put back only the pages it touched (found with
/// Linux's PAGEMAP_SCAN, kernel 6.7+; elsewhere this falls back to `madvise`) and keep them
/// mapped, so the next instance starts without page faults and no TLB shootdowns are sent to
/// the other cores; no epoch checks.
fn fast_pooling() -> PoolingAllocationConfig {
    let mut pooling = PoolingAllocationConfig::default();
    pooling.total_component_instances(1000);
    pooling.pagemap_scan(wasmtime::Enabled::Auto);
    pooling.linear_memory_keep_resident(64 << 20);
    pooling.table_keep_resident(1 << 20);
    pooling
}

/// The process-wide linker of a mode: WASI 0.2, wasi:http and the Spin interfaces. Wasmtime
/// matches a component's `@0.2.x` imports to these by semver, so any 0.2 patch version links.
pub fn linker(mode: HostMode) -> Result<&'static Linker<RequestState>> {
    static LINKERS: [OnceLock<Result<Linker<RequestState>, String>>; 2] =
        [OnceLock::new(), OnceLock::new()];
    LINKERS[mode as usize]
        .get_or_init(|| new_linker(mode).map_err(|e| format!("{e:#}")))
        .as_ref()
        .map_err(|e| anyhow!("cannot set up the host interfaces: {e}"))
}

fn new_linker(mode: HostMode) -> Result<Linker<RequestState>> {
    let mut linker = Linker::new(engine(mode)?);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    crate::spin_api::add_to_linker(&mut linker)?;
    Ok(linker)
}

type CacheKey = (PathBuf, SystemTime, u64, HostMode);
/// Filled once by whichever host compiles the file first.
type CacheSlot = Arc<Mutex<Option<Component>>>;

/// Loads a component, compiling it only if this exact file was not compiled before.
pub fn load_component(path: &Path, mode: HostMode) -> Result<Component> {
    static CACHE: OnceLock<Mutex<HashMap<CacheKey, CacheSlot>>> = OnceLock::new();
    let key = cache_key(path, mode)?;
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

fn cache_key(path: &Path, mode: HostMode) -> Result<CacheKey> {
    let canonical = path.canonicalize().with_context(|| {
        format!(
            "component file {} not found (run `spin-host build`, or `up --build`)",
            path.display()
        )
    })?;
    let meta = std::fs::metadata(&canonical)?;
    Ok((canonical, meta.modified()?, meta.len(), mode))
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
    let engine = engine(key.3)?;
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
