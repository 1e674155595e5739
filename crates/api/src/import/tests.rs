//! The import routes natively: bounds, access, status codes.

use std::cell::OnceCell;

use contacts_core::contacts::access;
use contacts_core::kernel::native::{MemoryKv, NativeSql};
use contacts_core::kernel::schema;
use contacts_core::kernel::store::{Kv, Sql};
use http::Method;
use serde_json::{json, Value as Json};

use super::*;
use crate::http_io::MAX_CSV_BODY;

#[derive(Default)]
struct Native {
    sql: OnceCell<NativeSql>,
    kv: MemoryKv,
}

impl Platform for Native {
    fn sql(&self) -> Result<&dyn Sql> {
        Ok(self.sql.get_or_init(|| {
            let db = NativeSql::open_in_memory();
            schema::ensure(&db).expect("schema");
            db
        }))
    }
    fn kv(&self) -> Result<&dyn Kv> {
        Ok(&self.kv)
    }
    fn variable(&self, name: &str) -> Option<String> {
        (name == "admin_token").then(|| "admin-t".to_owned())
    }
}

fn call(p: &Native, method: Method, path: &str, token: &str, body: &[u8]) -> (u16, Json) {
    let mut req = Request::new(method, path);
    req.headers
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    req.body = body.to_vec();
    let resp = handle(&req, p);
    let json = serde_json::from_slice(&resp.body).unwrap_or(Json::Null);
    (resp.status.as_u16(), json)
}

fn open_job(p: &Native) -> String {
    let (status, job) = call(
        p,
        Method::POST,
        "/api/imports",
        "admin-t",
        json!({"mapping": {"Email": "email"}})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(status, 201, "{job}");
    assert_eq!(job["state"], "open");
    job["id"].as_str().unwrap().to_owned()
}

#[test]
fn a_chunk_of_ten_megabytes_is_taken_and_one_byte_more_is_a_413() {
    let p = Native::default();
    let id = open_job(&p);
    let mut chunk = b"Email\n".to_vec();
    let line = b"someone@example.com\n";
    while chunk.len() + line.len() <= MAX_CSV_BODY {
        chunk.extend_from_slice(line);
    }
    chunk.resize(MAX_CSV_BODY, b'\n');
    let mut over = chunk.clone();
    over.push(b'\n');
    let path = format!("/api/imports/{id}/chunks/1");
    let (status, problem) = call(&p, Method::PUT, &path, "admin-t", &over);
    assert_eq!(status, 413, "{problem}");
    let (status, job) = call(&p, Method::PUT, &path, "admin-t", &chunk);
    assert_eq!(status, 200, "{job}");
    assert_eq!(job["next_seq"], 2);
    assert_eq!(
        job["counts"]["created"], 1,
        "one address, the rest are repeats"
    );
}

#[test]
fn agents_are_refused_every_import_route() {
    let p = Native::default();
    let id = open_job(&p);
    let token = access::issue_token(p.sql().unwrap(), "agent1", "agent").unwrap();
    for (method, path) in [
        (Method::POST, "/api/imports/preview".to_owned()),
        (Method::POST, "/api/imports".to_owned()),
        (Method::PUT, format!("/api/imports/{id}/chunks/1")),
        (Method::POST, format!("/api/imports/{id}/finish")),
        (Method::GET, format!("/api/imports/{id}")),
        (Method::GET, format!("/api/imports/{id}/errors.csv")),
    ] {
        let (status, _) = call(&p, method, &path, &token, b"Email\na@x.com\n");
        assert_eq!(status, 403, "{path}");
    }
}

#[test]
fn malformed_job_ids_and_seqs_are_named() {
    let p = Native::default();
    let id = open_job(&p);
    let (status, _) = call(&p, Method::GET, "/api/imports/nope", "admin-t", b"");
    assert_eq!(status, 404);
    let (status, problem) = call(
        &p,
        Method::PUT,
        &format!("/api/imports/{id}/chunks/one"),
        "admin-t",
        b"Email\n",
    );
    assert_eq!((status, problem["field"].as_str()), (422, Some("seq")));
    let (status, problem) = call(
        &p,
        Method::PUT,
        &format!("/api/imports/{id}/chunks/2"),
        "admin-t",
        b"Email\n",
    );
    assert_eq!((status, problem["field"].as_str()), (409, Some("seq")));
    assert!(problem["detail"].as_str().unwrap().contains("seq 1"));
}

#[test]
fn errors_csv_is_served_as_csv() {
    let p = Native::default();
    let id = open_job(&p);
    call(
        &p,
        Method::PUT,
        &format!("/api/imports/{id}/chunks/1"),
        "admin-t",
        b"Email\nnot-an-email\n",
    );
    let mut req = Request::new(Method::GET, &format!("/api/imports/{id}/errors.csv"));
    req.headers
        .insert("authorization", "Bearer admin-t".parse().unwrap());
    let resp = handle(&req, &p);
    assert_eq!(resp.status, 200);
    assert!(resp
        .headers
        .iter()
        .any(|(k, v)| *k == "content-type" && v.starts_with("text/csv")));
    let text = String::from_utf8(resp.body).unwrap();
    assert!(
        text.starts_with("Email,error\nnot-an-email,column 'Email'"),
        "{text}"
    );
}
