//! `spin-host`: `spin up` / `spin build` for machines without the `spin` CLI.

use anyhow::{bail, Context, Result};
use std::collections::HashMap;
use std::io::Write;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

const USAGE: &str = "\
usage:
  spin-host up    [-f|--from spin.toml] [--listen 127.0.0.1:3000] [--state-dir DIR] [--build]
                  [--variable NAME=VALUE]... [--fast]
  spin-host build [-f|--from spin.toml]

`--from` may name the manifest or its directory (default ./spin.toml); the state dir defaults
to `.spin` beside the manifest. Variables also come from SPIN_VARIABLE_<NAME>.
By default the host costs what `spin up` 4.1 costs per request (and stalls keep-alive clients
~40 ms after a key-value call, as Spin does); `--fast` serves with faster mechanisms instead.";

const FAST_FLAG: &str = "--fast";

struct UpArgs {
    manifest: PathBuf,
    listen: SocketAddr,
    state_dir: Option<PathBuf>,
    build: bool,
    variables: HashMap<String, String>,
    mode: spin_host::HostMode,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().is_some_and(|cmd| cmd == "up") && args.iter().any(|a| a == FAST_FLAG) {
        // SAFETY: first thing in main: no other thread exists and nothing has opened SQLite.
        unsafe { spin_host::prepare_fast_process() };
    }
    if let Err(e) = run(args) {
        eprintln!("Error: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: Vec<String>) -> Result<()> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    match args.split_first() {
        Some((cmd, rest)) if cmd == "up" => up(parse_up(rest)?),
        Some((cmd, rest)) if cmd == "build" => {
            let up = parse_up(rest)?;
            if up.build
                || up.state_dir.is_some()
                || !up.variables.is_empty()
                || up.mode != spin_host::HostMode::Spin
            {
                bail!("`build` only takes --from\n{USAGE}");
            }
            spin_host::build_app(&up.manifest)
        }
        _ => bail!("expected a command\n{USAGE}"),
    }
}

fn parse_up(args: &[String]) -> Result<UpArgs> {
    let mut parsed = UpArgs {
        manifest: PathBuf::from("spin.toml"),
        listen: "127.0.0.1:3000".parse()?,
        state_dir: None,
        build: false,
        variables: HashMap::new(),
        mode: spin_host::HostMode::Spin,
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .with_context(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "-f" | "--from" => parsed.manifest = manifest_path(PathBuf::from(value()?)),
            "--listen" => parsed.listen = listen_addr(value()?)?,
            "--state-dir" => parsed.state_dir = Some(PathBuf::from(value()?)),
            "--build" => parsed.build = true,
            FAST_FLAG => parsed.mode = spin_host::HostMode::Fast,
            "--variable" => {
                let (name, val) = value()?
                    .split_once('=')
                    .context("--variable expects NAME=VALUE")?;
                parsed.variables.insert(name.to_string(), val.to_string());
            }
            other => bail!("unknown argument '{other}'\n{USAGE}"),
        }
    }
    Ok(parsed)
}

/// Resolves `--listen` like `spin up`: names allowed, IPv4 loopback preferred.
fn listen_addr(text: &str) -> Result<SocketAddr> {
    let addrs: Vec<SocketAddr> = text
        .to_socket_addrs()
        .with_context(|| format!("--listen expects host:port, got '{text}'"))?
        .collect();
    addrs
        .iter()
        .find(|a| a.ip() == std::net::Ipv4Addr::LOCALHOST)
        .or(addrs.first())
        .copied()
        .with_context(|| format!("'{text}' resolves to no address"))
}

/// `--from` may be a directory holding `spin.toml`, as with `spin up`.
fn manifest_path(path: PathBuf) -> PathBuf {
    if path.is_dir() {
        path.join("spin.toml")
    } else {
        path
    }
}

fn up(args: UpArgs) -> Result<()> {
    if args.build {
        spin_host::build_app(&args.manifest)?;
    }
    let state_dir = args.state_dir.unwrap_or_else(|| {
        args.manifest
            .parent()
            .map(|dir| dir.join(".spin"))
            .unwrap_or_else(|| PathBuf::from(".spin"))
    });
    // On stderr: stdout carries Spin's own banner, which scripts wait for.
    eprintln!("{}", args.mode.settings());
    let host = spin_host::start(spin_host::HostConfig {
        manifest: args.manifest,
        listen: args.listen,
        state_dir,
        variables: args.variables,
        mode: args.mode,
    })?;
    print!("{}", host.describe());
    // Piped stdout is block-buffered: flush so scripts waiting for the banner see it.
    std::io::stdout().flush()?;
    // Serve until killed (Ctrl-C): SQLite's journal keeps the state consistent either way.
    loop {
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn help_anywhere_prints_the_usage_and_starts_nothing() {
        for call in [
            &["--help"][..],
            &["-h"],
            &["up", "--help"],
            &["build", "-h"],
        ] {
            assert!(run(args(call)).is_ok(), "{call:?}");
        }
    }

    #[test]
    fn an_unknown_argument_is_named_with_the_usage() {
        let e = run(args(&["up", "--bogus"])).unwrap_err().to_string();
        assert!(
            e.contains("unknown argument '--bogus'") && e.contains("usage:"),
            "{e}"
        );
    }
}
