//! End-to-end: the access walk (SPEC §5). Every operation of `/api/openapi.json` — which
//! is generated from the same route tables that route requests, so no route can be missing
//! from it — is called without a token, with a wrong one, and (admin routes) with an agent's:
//! each answers 401 or 403 as a problem, and the state directory is byte for byte as before.

use std::collections::BTreeMap;

use contacts_e2e::App;
use serde_json::{json, Value as Json};

/// Every documented operation: (method, path with its parameters filled, access).
fn operations(app: &App) -> Vec<(String, String, String)> {
    let doc = app.call("GET", "/api/openapi.json", None, None);
    assert_eq!(doc.status, 200, "{}", doc.text);
    let mut out = Vec::new();
    for (template, item) in doc.body["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let access = op["x-access"]
                .as_str()
                .unwrap_or_else(|| panic!("{method} {template} documents no x-access"))
                .to_owned();
            out.push((method.to_uppercase(), fill(template), access));
        }
    }
    out
}

/// A template's parameters filled with a plausible value: access is decided before any
/// parameter is read, so the value need not name anything.
fn fill(template: &str) -> String {
    template
        .split('/')
        .map(|s| if s.starts_with('{') { "X1" } else { s })
        .collect::<Vec<_>>()
        .join("/")
}

/// The bytes of every file in the state directory (the SQLite database, key-value store).
fn state(app: &App) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(app.state_dir())
        .expect("state dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            (name, std::fs::read(e.path()).expect("state file"))
        })
        .collect()
}

fn call(app: &App, method: &str, path: &str, token: Option<&str>) -> contacts_e2e::Resp {
    let body = matches!(method, "POST" | "PUT" | "PATCH").then(|| json!({}));
    app.call(method, path, token, body.as_ref())
}

#[test]
fn every_route_refuses_callers_without_the_access_it_documents() {
    let app = App::start();
    let agent = app.token("walker", "agent");
    app.create(&json!({"email": "kept@x.com", "tags": ["t"]}));
    let before = state(&app);
    let ops = operations(&app);
    let count = |access: &str| ops.iter().filter(|(_, _, a)| a == access).count();
    // The walk covers real tables: a shrinking document would make it vacuous.
    assert!(count("agent") >= 15 && count("admin") >= 6, "{ops:?}");

    for (method, path, access) in &ops {
        match access.as_str() {
            "agent" | "admin" => {
                for token in [None, Some("wrong-token"), Some("")] {
                    let r = call(&app, method, path, token);
                    assert_eq!(r.status, 401, "{method} {path} with {token:?}: {}", r.text);
                    r.assert_problem(401, None);
                }
                if access == "admin" {
                    let r = call(&app, method, path, Some(&agent));
                    assert_eq!(r.status, 403, "{method} {path} as agent: {}", r.text);
                    r.assert_problem(403, None);
                }
            }
            "public" | "signed" => {}
            other => panic!("{method} {path}: unknown access {other}"),
        }
    }
    assert!(
        before == state(&app),
        "a refused call changed the state directory"
    );
}

#[test]
fn the_openapi_document_is_the_only_public_api_route() {
    let app = App::start();
    let public: Vec<Json> = operations(&app)
        .into_iter()
        .filter(|(_, path, access)| access == "public" && path.starts_with("/api"))
        .map(|(m, p, _)| json!([m, p]))
        .collect();
    assert_eq!(public, vec![json!(["GET", "/api/openapi.json"])]);
}
