//! Routing and the `spin-*` request headers, as Spin does them.

mod host_common;
use host_common::*;

fn echo(probe: &Probe, path: &str) -> serde_json::Value {
    let reply = get(&probe.url(path));
    assert_eq!(reply.status, 200, "{path}: {}", reply.body);
    reply.json()
}

fn header(echo: &serde_json::Value, name: &str) -> String {
    echo["headers"][name]
        .as_str()
        .unwrap_or_else(|| panic!("no {name} in {echo}"))
        .to_string()
}

#[test]
fn exact_route_matches_only_its_path() {
    let probe = start_probe();
    let e = echo(&probe, "/exact");
    assert_eq!(header(&e, "spin-matched-route"), "/exact");
    assert_eq!(header(&e, "spin-path-info"), "");
    // A trailing slash is the same route; anything below it is not.
    assert_eq!(get(&probe.url("/exact/")).status, 200);
    assert_eq!(get(&probe.url("/exact/more")).status, 404);
}

#[test]
fn wildcard_matches_its_prefix_and_everything_below() {
    let probe = start_probe();
    for (path, info) in [("/wild", ""), ("/wild/", "/"), ("/wild/a/b", "/a/b")] {
        let e = echo(&probe, path);
        assert_eq!(header(&e, "spin-matched-route"), "/wild/...", "{path}");
        assert_eq!(header(&e, "spin-path-info"), info, "{path}");
    }
    assert_eq!(get(&probe.url("/wilder")).status, 404);
}

#[test]
fn most_specific_wildcard_wins() {
    let probe = start_probe();
    let e = echo(&probe, "/wild/deep/x");
    assert_eq!(header(&e, "spin-matched-route"), "/wild/deep/...");
    assert_eq!(header(&e, "spin-path-info"), "/x");
    let e = echo(&probe, "/wild/deeper");
    assert_eq!(header(&e, "spin-matched-route"), "/wild/...");
}

#[test]
fn unknown_paths_are_404() {
    let probe = start_probe();
    for path in ["/", "/nothing", "/hello/x", "/restrictedx"] {
        let reply = get(&probe.url(path));
        assert_eq!(reply.status, 404, "{path}");
        assert_eq!(reply.body, "", "{path}");
    }
}

#[test]
fn spin_headers_are_set_like_spin() {
    let probe = start_probe();
    let e = echo(&probe, "/wild/deep/a/b?x=1&y=2");
    let addr = probe.host.addr();
    assert_eq!(
        header(&e, "spin-full-url"),
        format!("http://{addr}/wild/deep/a/b?x=1&y=2")
    );
    assert_eq!(header(&e, "spin-path-info"), "/a/b");
    assert_eq!(header(&e, "spin-matched-route"), "/wild/deep/...");
    assert_eq!(header(&e, "spin-base-path"), "/");
    assert_eq!(header(&e, "spin-raw-component-route"), "/wild/deep/...");
    assert_eq!(header(&e, "spin-component-route"), "/wild/deep");
    let client = header(&e, "spin-client-addr");
    assert!(client.starts_with("127.0.0.1:"), "{client}");
    assert_eq!(e["uri"], format!("http://{addr}/wild/deep/a/b?x=1&y=2"));
}

#[test]
fn named_segments_are_routed_and_passed_as_spin_does() {
    let probe = start_probe();
    let e = echo(&probe, "/named/ana/rest/of/it");
    assert_eq!(header(&e, "spin-path-match-name"), "ana");
    assert_eq!(header(&e, "spin-path-info"), "/rest/of/it");
    assert_eq!(header(&e, "spin-matched-route"), "/named/:name/...");
    assert_eq!(header(&e, "spin-component-route"), "/named/:name");
    // An exact segment after the name beats the wildcard; a named segment is never empty.
    let e = echo(&probe, "/named/bo/fixed");
    assert_eq!(header(&e, "spin-matched-route"), "/named/:name/fixed");
    assert_eq!(header(&e, "spin-path-match-name"), "bo");
    assert_eq!(get(&probe.url("/named//x")).status, 404);
}

#[test]
fn client_cannot_forge_spin_headers() {
    let probe = start_probe();
    let reply = send(
        agent()
            .get(&probe.url("/exact"))
            .set("spin-path-info", "/forged")
            .set("x-custom", "kept"),
        None,
    );
    let e = reply.json();
    assert_eq!(header(&e, "spin-path-info"), "");
    assert_eq!(header(&e, "x-custom"), "kept");
}

#[test]
fn methods_and_bodies_reach_the_component() {
    let probe = start_probe();
    let reply = send(agent().request("PATCH", &probe.url("/exact")), Some(b"{}"));
    assert_eq!(reply.json()["method"], "PATCH");
}

#[test]
fn start_banner_lists_routes_like_spin_up() {
    let probe = start_probe();
    let banner = probe.host.describe();
    let base = probe.host.base_url();
    assert!(
        banner.starts_with(&format!("Serving {base}\nAvailable Routes:\n")),
        "{banner}"
    );
    assert!(
        banner.contains(&format!("  probe: {base}/hello\n")),
        "{banner}"
    );
    assert!(
        banner.contains(&format!("  probe-deep: {base}/wild/deep (wildcard)\n")),
        "{banner}"
    );
}

#[test]
fn the_host_answers_spins_health_endpoint() {
    let probe = start_probe();
    let reply = get(&probe.url("/.well-known/spin/health"));
    assert_eq!((reply.status, reply.body.as_str()), (200, "OK"));
}
