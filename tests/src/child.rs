//! The host as a separate process (`spin-host up`), for tests that kill it: a crash test
//! needs SIGKILL at an arbitrary moment, which a host inside the test's own process cannot
//! survive. The app and its state directory are the same as [`crate::App`]'s.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

use serde_json::Value as Json;

/// A `spin-host up` process serving the app on an ephemeral port.
pub struct ChildHost {
    process: Child,
    base_url: String,
}

impl ChildHost {
    /// Starts `spin-host up` on `state_dir` with these variables, listening on `listen`
    /// (`127.0.0.1:0`: a free port); returns once it serves.
    pub fn start(
        manifest: &Path,
        listen: &str,
        state_dir: &Path,
        variables: &[(String, String)],
    ) -> ChildHost {
        let mut cmd = Command::new(cli());
        cmd.arg("up")
            .arg("--from")
            .arg(manifest)
            .args(["--listen", listen, "--state-dir"])
            .arg(state_dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (name, value) in variables {
            cmd.arg("--variable").arg(format!("{name}={value}"));
        }
        let mut process = cmd.spawn().expect("starting spin-host up");
        let stdout = process.stdout.take().expect("piped stdout");
        let banner = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| line.strip_prefix("Serving ").map(str::to_owned));
        let Some(base_url) = banner else {
            let status = process.wait().expect("spin-host exit status");
            panic!("spin-host up exited before serving: {status}");
        };
        ChildHost { process, base_url }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// SIGKILL: no shutdown, no flush; whatever a request was doing stops mid-way.
    pub fn kill(mut self) {
        self.kill_now();
    }

    fn kill_now(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Drop for ChildHost {
    fn drop(&mut self) {
        self.kill_now();
    }
}

/// The `spin-host` binary of this workspace, built (once per process) in the profile and
/// target dir the caller was built in, so nothing is compiled twice.
fn cli() -> &'static Path {
    static CLI: OnceLock<PathBuf> = OnceLock::new();
    CLI.get_or_init(|| {
        let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(crate::workspace_root())
            .args(["build", "-q", "-p", "spin-host", "--bin", "spin-host"])
            // Benchmarks (optimized) get an optimized host, tests the one they built.
            .args((!cfg!(debug_assertions)).then_some("--release"))
            .arg("--message-format=json-render-diagnostics")
            .stderr(Stdio::inherit())
            .output()
            .expect("running cargo build -p spin-host");
        assert!(out.status.success(), "building spin-host failed");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<Json>(line).ok())
            .filter(|msg| msg["target"]["name"] == "spin-host")
            .find_map(|msg| msg["executable"].as_str().map(PathBuf::from))
            .expect("cargo named no spin-host executable")
    })
}
