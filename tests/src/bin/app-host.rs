//! The app served by the project host in a process of its own, for tests that kill it
//! (`tests/tests/import.rs`'s crash test, the import benchmark): `app-host <spin.toml>
//! <state dir>` builds the app once, serves it on an ephemeral port, prints the base URL on
//! a line of its own, and serves until it is killed. The manifest is an argument, not this
//! binary's own workspace: worktrees sharing a target dir share this binary too.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use contacts_e2e::ADMIN;

fn main() {
    // SAFETY: first thing in main: no other thread exists and nothing has opened SQLite.
    unsafe { spin_host::prepare_process() };
    let usage = "usage: app-host <spin.toml> <state dir>";
    let mut args = std::env::args().skip(1).map(PathBuf::from);
    let manifest = args.next().expect(usage);
    let state_dir = args.next().expect(usage);
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
