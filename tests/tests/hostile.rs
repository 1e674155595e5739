//! End-to-end: hostile input at the edges (issue 17). Oversized bodies, targets and headers,
//! JSON nested past any parser's patience, and secrets: each gets a clear 4xx (a problem
//! where the app answers), the host keeps serving, and no token or secret comes back.

use contacts_e2e::{webhooks, App, ADMIN};
use serde_json::json;

fn nested(depth: usize) -> String {
    format!("{}{}", "[".repeat(depth), "]".repeat(depth))
}

#[test]
fn oversized_and_deeply_nested_bodies_are_refused_with_problems() {
    let app = App::start();
    let big = format!("{{\"first_name\": \"{}\"}}", "x".repeat(1024 * 1024));
    app.send_raw(
        "POST",
        "/api/contacts",
        Some(ADMIN),
        "application/json",
        big.as_bytes(),
        &[],
    )
    .assert_problem(413, None);
    for (path, method) in [
        ("/api/contacts", "POST"),
        ("/api/query", "POST"),
        ("/api/bulk", "POST"),
        ("/api/merge", "POST"),
    ] {
        let r = app.send_raw(
            method,
            path,
            Some(ADMIN),
            "application/json",
            nested(100_000).as_bytes(),
            &[],
        );
        r.assert_problem(400, None);
    }
    // A filter nested deeper than its three levels: a 422 naming where.
    let mut filter = json!({"field": "city", "op": "eq", "value": "x"});
    for _ in 0..6 {
        filter = json!({"all": [filter]});
    }
    let r = app.post("/api/query", &json!({ "filter": filter }));
    assert_eq!(r.status, 422, "{}", r.text);
    // An import chunk past 10 MB.
    let job = app.post("/api/imports", &json!({"mapping": {"email": "email"}}));
    assert_eq!(job.status, 201, "{}", job.text);
    let id = job.body["id"].as_str().expect("job id");
    let chunk = format!("email\n{}", "a@b.co\n".repeat(10 * 1024 * 1024 / 7 + 1));
    app.send_raw(
        "PUT",
        &format!("/api/imports/{id}/chunks/1"),
        Some(ADMIN),
        "text/csv",
        chunk.as_bytes(),
        &[],
    )
    .assert_problem(413, None);
    assert_eq!(
        app.get("/api/contacts").status,
        200,
        "the host keeps serving"
    );
}

#[test]
fn oversized_targets_and_headers_are_refused() {
    let app = App::start();
    let long = "q".repeat(9 * 1024);
    app.get(&format!("/api/contacts?x={long}"))
        .assert_problem(414, None);
    app.get(&format!("/api/search?q={}", "a".repeat(201)))
        .assert_problem(422, Some("q"));
    // A header past what the HTTP server reads is refused before any component runs.
    let r = app.call_with(
        "GET",
        "/api/contacts",
        Some(ADMIN),
        None,
        &[("x-big", &"h".repeat(512 * 1024))],
    );
    assert!((400..500).contains(&r.status), "{} {}", r.status, r.text);
    assert_eq!(
        app.get("/api/contacts").status,
        200,
        "the host keeps serving"
    );
}

#[test]
fn no_token_or_secret_comes_back_in_an_answer() {
    let app = App::start_with(&webhooks::SECRETS);
    let wrong = "wrong-token-that-must-not-echo-7f3a";
    let r = app.call("GET", "/api/contacts", Some(wrong), None);
    r.assert_problem(401, None);
    assert!(!r.text.contains(wrong), "{}", r.text);
    let agent = app.token("echo", "agent");
    let r = app.call("DELETE", "/api/contacts/X1", Some(&agent), None);
    r.assert_problem(403, None);
    assert!(!r.text.contains(&agent), "{}", r.text);
    // A webhook with a bad signature: 401, and neither the secret nor the signature echoed.
    let body = json!({"event_id": "e1", "channel": "web_chat", "external_id": "v1"}).to_string();
    let forged = webhooks::sign("not-the-secret", body.as_bytes());
    let r = app.send_raw(
        "POST",
        "/hooks/events",
        None,
        "application/json",
        body.as_bytes(),
        &[("x-contacts-signature", &forged)],
    );
    assert_eq!(r.status, 401, "{}", r.text);
    for secret in [webhooks::secret("events_hmac_secret"), forged.as_str()] {
        assert!(!r.text.contains(secret), "{}", r.text);
    }
    let r = app.get("/hooks/meta?hub.mode=subscribe&hub.verify_token=guess&hub.challenge=c");
    assert_eq!(r.status, 403, "{}", r.text);
    assert!(
        !r.text.contains(webhooks::secret("meta_verify_token")),
        "{}",
        r.text
    );
}
