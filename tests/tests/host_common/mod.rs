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
        mode: spin_host::HostMode::Spin,
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

/// One keep-alive HTTP/1.1 connection read at the socket, so a test can see how each response
/// arrived: in one piece, or in parts (a second TCP segment that Nagle's algorithm held back
/// until the client's delayed ACK, ~40 ms later on Linux).
pub struct KeepAlive {
    stream: std::net::TcpStream,
}

/// How one response arrived on a [`KeepAlive`] connection.
#[derive(Debug)]
pub struct Arrival {
    pub status: u16,
    /// How many reads returned part of the response (1: it arrived in one piece).
    pub parts: usize,
    /// From the request's write to the response's last byte; printed, never asserted on.
    pub elapsed: Duration,
}

impl KeepAlive {
    pub fn connect(addr: std::net::SocketAddr) -> KeepAlive {
        let stream = std::net::TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("read timeout");
        KeepAlive { stream }
    }

    /// `GET path` on this connection; reads the whole response (content-length or chunked).
    pub fn get(&mut self, path: &str) -> Arrival {
        self.get_with(path, &[])
    }

    /// As [`KeepAlive::get`], with these request headers.
    pub fn get_with(&mut self, path: &str, headers: &[(&str, &str)]) -> Arrival {
        use std::io::{Read, Write};
        let headers: String = headers
            .iter()
            .map(|(name, value)| format!("{name}: {value}\r\n"))
            .collect();
        let request = format!("GET {path} HTTP/1.1\r\nhost: localhost\r\n{headers}\r\n");
        let started = std::time::Instant::now();
        self.stream.write_all(request.as_bytes()).expect("write");
        let mut response = Vec::new();
        let mut parts = 0;
        let mut buf = [0u8; 65536];
        while !is_complete(&response) {
            let n = self.stream.read(&mut buf).expect("read");
            assert!(n > 0, "connection closed mid-response");
            response.extend_from_slice(&buf[..n]);
            parts += 1;
        }
        let status = std::str::from_utf8(&response[9..12])
            .expect("status")
            .parse()
            .expect("status code");
        Arrival {
            status,
            parts,
            elapsed: started.elapsed(),
        }
    }
}

/// Whether `response` holds a whole HTTP/1.1 response (this client never pipelines).
fn is_complete(response: &[u8]) -> bool {
    let Some(head_end) = response.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&response[..head_end]).to_ascii_lowercase();
    let body = &response[head_end + 4..];
    if head.contains("transfer-encoding: chunked") {
        return body.ends_with(b"0\r\n\r\n");
    }
    let length = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length:"))
        .map_or(0, |n| n.trim().parse::<usize>().expect("content-length"));
    body.len() >= length
}
