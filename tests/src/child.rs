//! The host as a separate process (`app-host`, `src/bin/app-host.rs`), for tests that kill
//! it: a crash test needs SIGKILL at an arbitrary moment, which a host inside the test's own
//! process cannot survive. The app and its state directory are the same as [`crate::App`]'s.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// An `app-host` process serving the app.
pub struct ChildHost {
    process: Child,
    base_url: String,
}

impl ChildHost {
    /// Starts `app-host` on `state_dir` with these variables, listening on `listen`
    /// (`127.0.0.1:0`: a free port); returns once it serves.
    pub fn start(listen: &str, state_dir: &Path, variables: &[(String, String)]) -> ChildHost {
        let mut cmd = Command::new(app_host());
        cmd.arg(state_dir)
            .arg(listen)
            .args(
                variables
                    .iter()
                    .map(|(name, value)| format!("{name}={value}")),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut process = cmd.spawn().expect("starting app-host");
        let stdout = process.stdout.take().expect("piped stdout");
        let banner = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| line.strip_prefix("Serving ").map(str::to_owned));
        let Some(base_url) = banner else {
            let status = process.wait().expect("app-host exit status");
            panic!("app-host exited before serving: {status}");
        };
        ChildHost { process, base_url }
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The process's peak resident set so far, in MiB (Linux `VmHWM`).
    pub fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.process.id()))
            .expect("/proc status");
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM");
        kib / 1024.0
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

/// The `app-host` binary cargo built beside the running test or bench (binaries land in
/// the profile's directory, tests and benches in its `deps/`).
fn app_host() -> PathBuf {
    let exe = std::env::current_exe().expect("the running test's path");
    let path = exe
        .parent()
        .and_then(Path::parent)
        .map(|profile_dir| profile_dir.join("app-host"))
        .expect("a profile directory");
    assert!(
        path.exists(),
        "{} is missing: cargo builds it with this crate's tests and benches",
        path.display()
    );
    path
}
