//! `fermyon:spin/variables@2.0.0`, and what the host refuses at start.

mod host_common;
use host_common::*;
use std::collections::HashMap;
use std::path::Path;

#[test]
fn component_variables_expand_app_defaults() {
    let probe = start_probe();
    let reply = get(&probe.url("/var/greeting"));
    assert_eq!((reply.status, reply.body.as_str()), (200, "hello world"));
}

#[test]
fn explicit_overrides_replace_defaults() {
    let probe = start_probe_with(HashMap::from([("who".to_string(), "tests".to_string())]));
    assert_eq!(get(&probe.url("/var/greeting")).body, "hello tests");
}

#[test]
fn spin_variable_environment_overrides_defaults() {
    // Only this test reads `env_only`, so setting the process environment is safe here.
    std::env::set_var("SPIN_VARIABLE_ENV_ONLY", "from the environment");
    let probe = start_probe();
    assert_eq!(
        get(&probe.url("/var/env_only")).body,
        "from the environment"
    );
}

#[test]
fn undeclared_and_invalid_names_are_errors() {
    let probe = start_probe();
    let reply = get(&probe.url("/var/who"));
    assert_eq!(reply.status, 404);
    assert!(
        reply.json()["error"]
            .as_str()
            .unwrap()
            .contains("Undefined"),
        "{}",
        reply.body
    );
    let reply = get(&probe.url("/var/Bad-Name"));
    assert!(
        reply.json()["error"]
            .as_str()
            .unwrap()
            .contains("InvalidName"),
        "{}",
        reply.body
    );
    // `restricted` declares no variables.
    let reply = get(&probe.url("/restricted/var"));
    assert!(
        reply.json()["error"]
            .as_str()
            .unwrap()
            .contains("Undefined"),
        "{}",
        reply.body
    );
}

#[test]
fn empty_and_upper_case_names_get_spins_own_messages() {
    let probe = start_probe();
    // The probe answers `format!("{error:?}")`, so the message's quotes come escaped.
    let error = |name: &str| {
        let reply = get(&probe.url(&format!("/var/{name}")));
        reply.json()["error"].as_str().unwrap().to_string()
    };
    let empty = error("");
    assert!(
        empty.contains("InvalidName") && empty.contains(r#"\"\": must not be empty"#),
        "{empty}"
    );
    let upper = error("Greeting");
    assert!(
        upper.contains("InvalidName")
            && upper.contains(r#"\"Greeting\": invalid character 'G'."#)
            && upper.contains(
                "Variable names may contain only lower-case letters, numbers, and underscores.",
            ),
        "{upper}"
    );
    let undefined = error("who");
    assert!(
        undefined.contains(r#"Undefined("no variable for \"probe\".\"who\"")"#),
        "{undefined}"
    );
}

/// Writes a one-component manifest around the probe with the given extra TOML.
fn manifest_with(dir: &Path, variables: &str, component_extra: &str) -> std::path::PathBuf {
    let path = dir.join("spin.toml");
    let text = format!(
        r#"spin_manifest_version = 2
[application]
name = "t"
[variables]
{variables}
[[trigger.http]]
route = "/var/..."
component = "probe"
[component.probe]
source = "{wasm}"
{component_extra}
"#,
        wasm = probe_wasm().display()
    );
    std::fs::write(&path, text).unwrap();
    path
}

fn start_error(manifest: &Path, variables: HashMap<String, String>) -> String {
    let state = tempfile::tempdir().unwrap();
    match start_on(manifest, state.path(), variables) {
        Ok(_) => panic!(
            "host started with {}",
            std::fs::read_to_string(manifest).unwrap()
        ),
        Err(e) => format!("{e:#}"),
    }
}

#[test]
fn a_missing_required_variable_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = manifest_with(
        dir.path(),
        "token_never_set = { required = true, secret = true }",
        "[component.probe.variables]\ngreeting = \"{{ token_never_set }}\"",
    );
    let error = start_error(&manifest, HashMap::new());
    assert!(
        error.contains("required variable 'token_never_set'"),
        "{error}"
    );
    assert!(error.contains("SPIN_VARIABLE_TOKEN_NEVER_SET"), "{error}");
    // Given a value, the same manifest starts and serves it.
    let state = tempfile::tempdir().unwrap();
    let vars = HashMap::from([("token_never_set".to_string(), "s3cret".to_string())]);
    let host = start_on(&manifest, state.path(), vars).unwrap();
    assert_eq!(
        get(&format!("{}/var/greeting", host.base_url())).body,
        "s3cret"
    );
}

#[test]
fn unsupported_manifests_are_refused_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("", "files = [\"static/**\"]", "unknown field `files`"),
        (
            "",
            "key_value_stores = [\"cache\"]",
            "key-value store 'cache' is not defined",
        ),
        (
            "",
            "sqlite_databases = [\"other\"]",
            "SQLite database 'other' is not defined",
        ),
        (
            "",
            "allowed_outbound_hosts = [\"http://self\"]",
            "service chaining",
        ),
        ("x = {}", "", "must have a default or be required"),
        (
            "",
            "[component.probe.variables]\ng = \"{{ nope }}\"",
            "not in [variables]",
        ),
    ];
    for (variables, extra, expected) in cases {
        let manifest = manifest_with(dir.path(), variables, extra);
        let error = start_error(&manifest, HashMap::new());
        assert!(
            error.contains(expected),
            "expected {expected:?} in: {error}"
        );
    }
}
