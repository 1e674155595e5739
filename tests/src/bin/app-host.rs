//! The app served by the project host in a process of its own, for tests that kill it
//! (`App::start_in_child`): `app-host <state dir> <listen addr> [NAME=VALUE]...` builds the
//! app once, serves it with these variables, prints `Serving <base URL>` on a line of its
//! own, and serves until it is killed. Cargo builds it with the crate's tests and benches,
//! in their profile.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;

use contacts_e2e::workspace_root;

fn main() {
    let mut args = std::env::args().skip(1);
    let usage = "usage: app-host <state dir> <listen addr> [NAME=VALUE]...";
    let state_dir: PathBuf = args.next().expect(usage).into();
    let listen = args.next().expect(usage).parse().expect("a listen address");
    let variables: HashMap<String, String> = args
        .map(|a| {
            let (name, value) = a.split_once('=').expect(usage);
            (name.to_owned(), value.to_owned())
        })
        .collect();
    let manifest = workspace_root().join("spin.toml");
    spin_host::build_once(&manifest).expect("building the app");
    let host = spin_host::start(spin_host::HostConfig {
        manifest,
        listen,
        state_dir,
        variables,
        mode: spin_host::HostMode::Spin,
    })
    .expect("starting the host");
    let mut out = std::io::stdout();
    writeln!(out, "Serving {}", host.base_url()).expect("stdout");
    out.flush().expect("stdout");
    loop {
        std::thread::park();
    }
}
