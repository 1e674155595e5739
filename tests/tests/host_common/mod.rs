//! Shared by the `host_*` tests: start the host-probe fixture app on an ephemeral port with
//! its own temporary state dir, and speak HTTP to it.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `tests/fixtures/spin.toml`: the probe component under several ids and routes.
pub fn fixture_manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/spin.toml")
}

/// The probe's `.wasm`, where the fixture manifest's build command puts it.
pub fn probe_wasm() -> PathBuf {
    let fixtures = fixture_manifest().parent().unwrap().to_path_buf();
    fixtures.join("../../target/wasm/wasm32-wasip2/wasm/host_probe.wasm")
}

/// A running fixture host and the state dir it owns (deleted on drop, after the host stops).
pub struct Probe {
    pub host: spin_host::RunningHost,
    pub state: tempfile::TempDir,
}

impl Probe {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.host.base_url())
    }
}

/// Builds the fixture (once per test binary) and starts it with a fresh state dir.
pub fn start_probe() -> Probe {
    start_probe_with(HashMap::new())
}

pub fn start_probe_with(variables: HashMap<String, String>) -> Probe {
    let state = tempfile::tempdir().expect("temp state dir");
    let host = start_on(&fixture_manifest(), state.path(), variables).expect("host starts");
    Probe { host, state }
}

/// Starts any manifest on an ephemeral port, building the fixture first.
pub fn start_on(
    manifest: &Path,
    state_dir: &Path,
    variables: HashMap<String, String>,
) -> anyhow::Result<spin_host::RunningHost> {
    spin_host::build_once(&fixture_manifest())?;
    spin_host::start(spin_host::HostConfig {
        manifest: manifest.to_path_buf(),
        listen: "127.0.0.1:0".parse()?,
        state_dir: state_dir.to_path_buf(),
        variables,
    })
}

pub fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build()
}

/// A response: status, headers we care about, body. Non-2xx statuses are not errors here.
pub struct Reply {
    pub status: u16,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }
}

pub fn send(request: ureq::Request, body: Option<&[u8]>) -> Reply {
    let result = match body {
        Some(bytes) => request.send_bytes(bytes),
        None => request.call(),
    };
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("request failed: {e}"),
    };
    Reply {
        status: response.status(),
        body: response.into_string().expect("UTF-8 body"),
    }
}

pub fn get(url: &str) -> Reply {
    send(agent().get(url), None)
}

/// Runs SQL statements through the probe (`/sql` = spin:sqlite@3.0.0, `/sql2` = v2) on one
/// connection. Each statement is `(sql, params)` with tagged JSON values.
pub fn sql(base: &str, route: &str, statements: &[(&str, serde_json::Value)]) -> Reply {
    let body: Vec<_> = statements
        .iter()
        .map(|(sql, params)| serde_json::json!({ "sql": sql, "params": params }))
        .collect();
    send(
        agent().post(&format!("{base}{route}")),
        Some(serde_json::to_vec(&body).unwrap().as_slice()),
    )
}
