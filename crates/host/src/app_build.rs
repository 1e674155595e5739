//! `spin build`: run each component's `[component.X.build] command` in its `workdir`.

use crate::manifest::App;
use anyhow::{anyhow, bail, Context, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

/// The cargo profile this host was built in, given to build commands as `SPIN_HOST_PROFILE` (a variable of this host only).
///
/// A build command that runs a Rust tool linking wasmtime (this app's `component-prewarm`)
/// can run it in the host's own profile and so reuse the wasmtime the host was compiled with:
/// a fresh `cargo run --release -p spin-host -- up --build` then compiles wasmtime once, not
/// once per profile. `spin build` sets nothing; the commands fall back to `dev`.
const SPIN_HOST_PROFILE: &str = if cfg!(debug_assertions) {
    "dev"
} else {
    "release"
};

/// Runs every build command of the manifest, in component order, stopping at the first failure.
pub fn build_app(manifest: &Path) -> Result<()> {
    let app = App::load(manifest)?;
    for (id, component) in &app.components {
        let Some(build) = &component.build else {
            continue;
        };
        let workdir = match &build.workdir {
            Some(dir) => app.dir.join(dir),
            None => app.dir.clone(),
        };
        eprintln!("Building component {id} with `{}`", build.command);
        let status = Command::new("sh")
            .arg("-c")
            .arg(&build.command)
            .env("SPIN_HOST_PROFILE", SPIN_HOST_PROFILE)
            .current_dir(&workdir)
            .status()
            .with_context(|| format!("cannot run the build command of component '{id}'"))?;
        if !status.success() {
            bail!("build command for component '{id}' failed ({status})");
        }
    }
    eprintln!("Finished building all Spin components");
    Ok(())
}

/// Builds the app of `manifest` once per process; later calls return the first outcome.
///
/// Concurrent callers wait for the one build. Cargo builds in the commands must use their own
/// `--target-dir` (e.g. `target/wasm`): a test that ran `cargo build` on the target dir of the
/// running `cargo test` would wait forever for cargo's lock.
pub fn build_once(manifest: &Path) -> Result<()> {
    static BUILT: OnceLock<Mutex<HashMap<PathBuf, Result<(), String>>>> = OnceLock::new();
    let key = manifest
        .canonicalize()
        .with_context(|| format!("manifest {} not found", manifest.display()))?;
    // Holding the lock through the build makes every other caller wait for its result.
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .map_err(|_| anyhow!("an earlier build panicked"))?;
    let outcome = built
        .entry(key.clone())
        .or_insert_with(|| build_app(&key).map_err(|e| format!("{e:#}")));
    outcome.clone().map_err(|e| anyhow!(e))
}
