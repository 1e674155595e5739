//! Start-up: a component is JIT-compiled once per process, then every later host in the
//! process is served from the compiled copy, and the machine code is kept on disk for the
//! next process. How long the JIT takes is measured by `cargo bench --bench host`, not here.

mod host_common;
use host_common::*;
use std::fs::File;

#[test]
fn a_component_is_compiled_once_then_served_from_the_cache() {
    spin_host::build_once(&fixture_manifest()).unwrap();
    // A copy under a new name is a cache miss: the first start compiles it.
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
    let start = || {
        let state = tempfile::tempdir().unwrap();
        let host = start_on(&manifest, state.path(), Default::default()).unwrap();
        (host, state)
    };

    let (first, _state) = start();
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

    // Overwrite the .wasm with zeros of the same size and time: the file can no longer be
    // compiled, so a host that serves it must have taken the compiled copy.
    let meta = std::fs::metadata(&copy).unwrap();
    std::fs::write(&copy, vec![0u8; meta.len() as usize]).unwrap();
    File::options()
        .write(true)
        .open(&copy)
        .unwrap()
        .set_modified(meta.modified().unwrap())
        .unwrap();
    let (second, _state) = start();
    assert_eq!(get(&format!("{}/hello", second.base_url())).body, "hello");
}
