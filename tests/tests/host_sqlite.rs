//! `spin:sqlite/sqlite@3.0.0` and `fermyon:spin/sqlite@2.0.0` on `sqlite_db.db`.

mod host_common;
use host_common::*;
use serde_json::json;

const ALL_TYPES: &str = "CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n)";

fn typed_row() -> serde_json::Value {
    json!([
        { "integer": i64::MIN },
        { "real": 0.1 },
        { "text": "héllo \u{1F600}" },
        { "blob": [0, 1, 254, 255] },
        null
    ])
}

#[test]
fn v3_round_trips_every_value_type() {
    let probe = start_probe();
    let base = probe.host.base_url();
    let reply = sql(
        &base,
        "/sql",
        &[
            (ALL_TYPES, json!([])),
            ("INSERT INTO t VALUES (?, ?, ?, ?, ?)", typed_row()),
            ("SELECT i, r, s, b, n, typeof(n) AS tn FROM t", json!([])),
        ],
    );
    let results = reply.json();
    assert_eq!(results[1]["changes"], 1);
    assert_eq!(results[1]["last_insert_rowid"], 1);
    let select = &results[2];
    assert_eq!(select["columns"], json!(["i", "r", "s", "b", "n", "tn"]));
    let mut expected = typed_row();
    expected
        .as_array_mut()
        .unwrap()
        .push(json!({ "text": "null" }));
    assert_eq!(select["rows"], json!([expected]));
}

#[test]
fn v2_round_trips_every_value_type() {
    let probe = start_probe();
    let base = probe.host.base_url();
    let reply = sql(
        &base,
        "/sql2",
        &[
            (ALL_TYPES, json!([])),
            ("INSERT INTO t VALUES (?, ?, ?, ?, ?)", typed_row()),
            ("SELECT * FROM t", json!([])),
        ],
    );
    assert_eq!(reply.json()[2]["rows"], json!([typed_row()]));
}

#[test]
fn sql_errors_carry_sqlites_message() {
    let probe = start_probe();
    let base = probe.host.base_url();
    let reply = sql(
        &base,
        "/sql",
        &[
            ("CREATE TABLE contacts (email_norm TEXT UNIQUE)", json!([])),
            ("INSERT INTO contacts VALUES ('a@x')", json!([])),
            ("INSERT INTO contacts VALUES ('a@x')", json!([])),
        ],
    );
    assert_eq!(
        reply.json()[2]["error"],
        "io: UNIQUE constraint failed: contacts.email_norm"
    );
    let reply = sql(&base, "/sql", &[("SELEC 1", json!([]))]);
    let error = reply.json()[0]["error"].as_str().unwrap().to_string();
    assert!(
        error.starts_with("io: ") && error.contains("syntax error"),
        "{error}"
    );
    let reply = sql(&base, "/sql2", &[("SELECT * FROM missing", json!([]))]);
    assert_eq!(reply.json()[0]["error"], "io: no such table: missing");
}

#[test]
fn sql_without_a_statement_is_an_io_error_as_under_spin() {
    let probe = start_probe();
    let base = probe.host.base_url();
    for route in ["/sql", "/sql2"] {
        for empty in ["", "   ", "-- a comment only"] {
            let reply = sql(&base, route, &[(empty, json!([]))]);
            assert_eq!(
                reply.json()[0]["error"],
                "io: bad parameter or other API misuse",
                "{route} {empty:?}"
            );
        }
    }
}

#[test]
fn only_the_first_statement_of_an_execute_runs() {
    let probe = start_probe();
    let base = probe.host.base_url();
    let reply = sql(
        &base,
        "/sql",
        &[
            ("CREATE TABLE one (x); CREATE TABLE two (x)", json!([])),
            ("SELECT name FROM sqlite_master ORDER BY name", json!([])),
        ],
    );
    assert_eq!(reply.json()[1]["rows"], json!([[{ "text": "one" }]]));
}

#[test]
fn last_insert_rowid_and_changes_follow_the_connection() {
    let probe = start_probe();
    let base = probe.host.base_url();
    let reply = sql(
        &base,
        "/sql",
        &[
            ("CREATE TABLE c (id INTEGER PRIMARY KEY, v)", json!([])),
            ("INSERT INTO c (v) VALUES (1), (2), (3)", json!([])),
            ("UPDATE c SET v = v + 1 WHERE id >= 2", json!([])),
            ("INSERT INTO c (v) VALUES (9) RETURNING id", json!([])),
        ],
    );
    let r = reply.json();
    assert_eq!(
        (r[1]["changes"].clone(), r[1]["last_insert_rowid"].clone()),
        (json!(3), json!(3))
    );
    assert_eq!(r[2]["changes"], 2);
    assert_eq!(r[3]["rows"], json!([[{ "integer": 4 }]]));
    assert_eq!(r[3]["last_insert_rowid"], 4);
}

#[test]
fn data_persists_in_sqlite_db_and_fts5_is_available() {
    let probe = start_probe();
    let base = probe.host.base_url();
    let reply = sql(
        &base,
        "/sql",
        &[
            (
                "CREATE VIRTUAL TABLE docs USING fts5(body, tokenize = 'trigram')",
                json!([]),
            ),
            (
                "INSERT INTO docs VALUES ('hello wonderful world')",
                json!([]),
            ),
        ],
    );
    assert!(reply.json()[1].get("error").is_none(), "{}", reply.body);
    let reply = sql(
        &base,
        "/sql",
        &[("SELECT body FROM docs WHERE docs MATCH 'nderf'", json!([]))],
    );
    assert_eq!(
        reply.json()[0]["rows"],
        json!([[{ "text": "hello wonderful world" }]])
    );
    // Spin's file name and default journal mode.
    let db = rusqlite::Connection::open(probe.state.path().join("sqlite_db.db")).unwrap();
    let mode: String = db
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "delete");
}

#[test]
fn an_undeclared_database_is_access_denied() {
    let probe = start_probe();
    let base = probe.host.base_url();
    for route in ["/restricted/sql", "/restricted/sql2"] {
        let reply = sql(&base, route, &[("SELECT 1", json!([]))]);
        assert_eq!(reply.status, 403, "{route}");
        assert_eq!(reply.json()["error"], "access-denied", "{route}");
    }
}

#[test]
fn concurrent_writers_wait_for_the_lock_instead_of_failing() {
    let probe = start_probe();
    let base = probe.host.base_url();
    sql(&base, "/sql", &[("CREATE TABLE w (x)", json!([]))]);
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let base = base.clone();
            std::thread::spawn(move || {
                sql(
                    &base,
                    "/sql",
                    &[
                        ("BEGIN IMMEDIATE", json!([])),
                        ("INSERT INTO w VALUES (?)", json!([{ "integer": i }])),
                        ("COMMIT", json!([])),
                    ],
                )
                .json()
            })
        })
        .collect();
    for t in threads {
        let r = t.join().unwrap();
        assert!(
            r.as_array()
                .unwrap()
                .iter()
                .all(|s| s.get("error").is_none()),
            "{r}"
        );
    }
    let reply = sql(&base, "/sql", &[("SELECT count(*) FROM w", json!([]))]);
    assert_eq!(reply.json()[0]["rows"], json!([[{ "integer": 8 }]]));
}
