//! End-to-end: the API checked against its own OpenAPI document by schemathesis (PyPI; the
//! test command `scripts/test` installs it). A bounded run, every operation, as an admin:
//! no 5xx, every answer's status, content type (problem+json for errors), headers and body
//! as documented. A longer run is `SCHEMATHESIS_EXAMPLES=1000 cargo test -p contacts-e2e
//! --test api_schema` (docs/reliability.md).

use std::process::Command;

use contacts_e2e::{App, ADMIN};

#[test]
fn every_operation_answers_as_its_schema_says() {
    let app = App::start();
    // Something to read, so item routes have a real target now and then.
    app.create(&serde_json::json!({"email": "schema@x.com", "first_name": "Ana"}));
    let examples = std::env::var("SCHEMATHESIS_EXAMPLES").unwrap_or_else(|_| "12".into());
    let report = tempfile::tempdir().expect("report dir");
    let out = Command::new("st")
        .arg("run")
        .arg(format!("{}/api/openapi.json", app.base_url()))
        .args(["--header", &format!("Authorization: Bearer {ADMIN}")])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance",
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        .args(["--max-examples", &examples, "--seed", "1", "--workers", "2"])
        .args(["--generation-database", "none", "--no-color"])
        .arg("--report-dir")
        .arg(report.path())
        .output()
        .unwrap_or_else(|e| {
            panic!("running schemathesis (`st`): {e}; install it with `pip install schemathesis` or run scripts/test")
        });
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "schemathesis found failures:\n{stdout}\n{stderr}"
    );
    // The summary, for a longer run's figures (`-- --nocapture`).
    println!("{stdout}");
    // A run that tested nothing would pass vacuously.
    assert!(
        stdout.contains("passed") && !stdout.contains("No operations"),
        "schemathesis tested nothing:\n{stdout}"
    );
}
