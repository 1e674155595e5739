//! The app served by the project host in a process of its own, for tests that kill it
//! (`tests/tests/import.rs`'s crash test): `app-host <state dir>` builds the app once,
//! serves it on an ephemeral port, prints the base URL on a line of its own, and serves
//! until it is killed.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use contacts_e2e::{workspace_root, ADMIN};

fn main() {
    // SAFETY: first thing in main: no other thread exists and nothing has opened SQLite.
    unsafe { spin_host::prepare_process() };
    let state_dir: PathBuf = std::env::args()
        .nth(1)
        .expect("usage: app-host <state dir>")
        .into();
    let manifest = workspace_root().join("spin.toml");
    spin_host::build_once(&manifest).expect("building the app");
    let host = spin_host::start(spin_host::HostConfig {
        manifest,
        listen: "127.0.0.1:0".parse().expect("address"),
        state_dir,
        variables: HashMap::from([("admin_token".to_owned(), ADMIN.to_owned())]),
    })
    .expect("starting the host");
    let mut out = std::io::stdout();
    writeln!(out, "{}", host.base_url()).expect("stdout");
    out.flush().expect("stdout");
    loop {
        std::thread::park();
    }
}
