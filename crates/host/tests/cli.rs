//! The `spin-host` binary: `build` runs the fixture's build commands, `up` serves and prints
//! Spin's banner with the real port.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// Kills the server even when an assertion fails.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn http_get(base: &str, path: &str) -> String {
    let addr = base.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).expect("connect");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn build_then_up_serves_the_fixture_and_prints_its_routes() {
    // A manifest named relative to the working directory: its directory is ".", not "".
    let status = Command::new(env!("CARGO_BIN_EXE_spin-host"))
        .args(["build", "--from", "spin.toml"])
        .current_dir(fixtures())
        .status()
        .unwrap();
    assert!(status.success());

    let state = std::env::temp_dir().join(format!("spin-host-cli-{}", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_spin-host"))
        .args(["up", "--listen", "127.0.0.1:0", "--from"])
        .arg(fixtures().join("spin.toml"))
        .arg("--state-dir")
        .arg(&state)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let server = Server(child);
    let mut lines = BufReader::new(stdout).lines();
    let serving = lines.next().unwrap().unwrap();
    let base = serving
        .strip_prefix("Serving ")
        .expect("banner")
        .to_string();
    assert_eq!(lines.next().unwrap().unwrap(), "Available Routes:");
    assert_eq!(
        lines.next().unwrap().unwrap(),
        format!("  probe: {base}/hello")
    );

    let response = http_get(&base, "/hello");
    assert!(response.starts_with("HTTP/1.0 200"), "{response}");
    assert!(response.ends_with("hello"), "{response}");
    drop(server);
    let _ = std::fs::remove_dir_all(state);
}

#[test]
fn bad_arguments_and_manifests_fail_with_a_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_spin-host"))
        .args(["up", "--bogus"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown argument '--bogus'"));

    let out = Command::new(env!("CARGO_BIN_EXE_spin-host"))
        .args(["up", "--from", "/nonexistent/spin.toml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read manifest"));
}
