//! Start-up cost: the JIT of a component in a debug build, and the per-process cache that
//! makes every later host in the process skip it. One test in a binary of its own, so no
//! other test's load skews the timings.

mod host_common;
use host_common::*;
use std::time::{Duration, Instant};

fn timed_start(manifest: &std::path::Path) -> (spin_host::RunningHost, Duration) {
    let state = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let host = start_on(manifest, state.path(), Default::default()).unwrap();
    (host, started.elapsed())
}

#[test]
fn a_component_is_jit_compiled_well_under_a_second_and_only_once() {
    spin_host::build_once(&fixture_manifest()).unwrap();
    // A copy under a new name is a cache miss: the first start measures a real compilation.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("probe-copy.wasm");
    std::fs::copy(probe_wasm(), &copy).unwrap();
    let manifest = dir.path().join("spin.toml");
    std::fs::write(
        &manifest,
        format!(
            "spin_manifest_version = 2\n[application]\nname = \"jit\"\n[[trigger.http]]\n\
             route = \"/hello\"\ncomponent = \"c\"\n[component.c]\nsource = \"{}\"\n",
            copy.display()
        ),
    )
    .unwrap();
    let size_kb = std::fs::metadata(&copy).unwrap().len() / 1024;

    let (first, compiling) = timed_start(&manifest);
    eprintln!("host start including the JIT of a {size_kb} KB component: {compiling:?}");
    assert!(compiling < Duration::from_secs(1), "JIT took {compiling:?}");
    assert_eq!(get(&format!("{}/hello", first.base_url())).body, "hello");
    // The machine code is kept beside the .wasm for the next process.
    let cached: Vec<_> = std::fs::read_dir(dir.path().join(".spin-host-cache"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        cached.len() == 1 && cached[0].starts_with("probe-copy-") && cached[0].ends_with(".cwasm"),
        "{cached:?}"
    );

    let (second, cached) = timed_start(&manifest);
    eprintln!("host start with the component already compiled: {cached:?}");
    assert!(
        cached < Duration::from_millis(500),
        "cached start took {cached:?}"
    );
    assert_eq!(get(&format!("{}/hello", second.base_url())).body, "hello");
}
