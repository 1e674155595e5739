//! Serving behaviour: concurrency, failures isolated to their request, outbound policy, JIT cost.

mod host_common;
use host_common::*;
use std::time::Instant;

#[test]
fn a_hundred_concurrent_requests_all_succeed() {
    let probe = start_probe();
    let base = probe.host.base_url();
    send(
        agent().put(&format!("{base}/kv/default/shared")),
        Some(b"v"),
    );
    let threads: Vec<_> = (0..100)
        .map(|i| {
            let base = base.clone();
            std::thread::spawn(move || {
                let path = if i % 2 == 0 {
                    "/hello"
                } else {
                    "/kv/default/shared"
                };
                let reply = get(&format!("{base}{path}"));
                (reply.status, reply.body)
            })
        })
        .collect();
    for t in threads {
        let (status, body) = t.join().unwrap();
        assert_eq!(status, 200);
        assert!(body == "hello" || body == "v", "{body}");
    }
}

#[test]
fn a_trapping_component_gets_500_and_the_next_request_succeeds() {
    let probe = start_probe();
    let reply = get(&probe.url("/panic"));
    assert_eq!((reply.status, reply.body.as_str()), (500, ""));
    let reply = get(&probe.url("/hello"));
    assert_eq!((reply.status, reply.body.as_str()), (200, "hello"));
}

#[test]
fn outbound_http_is_denied_unless_allowed() {
    let probe = start_probe();
    let reply = get(&probe.url("/outbound?url=http://example.com/"));
    assert_eq!(reply.status, 502);
    assert!(reply.body.contains("HttpRequestDenied"), "{}", reply.body);
    // Allowed by the manifest, but the name does not resolve: the request was attempted.
    let reply = get(&probe.url("/outbound?url=http://allowed.invalid/"));
    assert_eq!(reply.status, 502);
    assert!(!reply.body.contains("HttpRequestDenied"), "{}", reply.body);
}

#[test]
fn many_hosts_share_one_compiled_component() {
    // The first host in this process may compile; later ones reuse the compiled component.
    drop(start_probe());
    let started = Instant::now();
    let probe = start_probe();
    let elapsed = started.elapsed();
    eprintln!("host start with a cached component: {elapsed:?}");
    assert!(elapsed.as_millis() < 500, "start took {elapsed:?}");
    assert_eq!(get(&probe.url("/hello")).body, "hello");
}

#[test]
fn debug_builds_jit_a_component_well_under_a_second() {
    spin_host::build_once(&fixture_manifest()).unwrap();
    let wasm = std::fs::read(probe_wasm()).unwrap();
    // A copy under a new name is a cache miss: this measures a real compilation.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("probe-copy.wasm");
    std::fs::write(&copy, wasm).unwrap();
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
    let state = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let host = start_on(&manifest, state.path(), Default::default()).unwrap();
    let elapsed = started.elapsed();
    eprintln!(
        "host start including JIT of a {} KB component: {elapsed:?}",
        std::fs::metadata(&copy).unwrap().len() / 1024
    );
    assert!(elapsed.as_millis() < 1000, "JIT took {elapsed:?}");
    assert_eq!(get(&format!("{}/hello", host.base_url())).body, "hello");
}
