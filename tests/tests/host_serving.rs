//! Serving behaviour: concurrency, failures isolated to their request, outbound policy.

mod host_common;
use host_common::*;

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
