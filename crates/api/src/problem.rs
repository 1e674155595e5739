//! Errors as RFC 9457 `application/problem+json`, with a stable `type` per kind.

use contacts_core::Error;
use http::StatusCode;
use serde_json::{json, Value as Json};

use crate::http_io::Response;

/// A problem not raised by the domain: routing and protocol failures.
pub enum Protocol {
    NoRoute,
    MethodNotAllowed(Vec<&'static str>),
    /// Path and query longer than [`crate::routes::MAX_TARGET`].
    TargetTooLong,
}

pub fn from_error(e: &Error) -> Response {
    let (status, kind, title) = classify(e);
    let mut body = json!({
        "type": type_uri(kind),
        "title": title,
        "status": status.as_u16(),
        "detail": detail(e),
    });
    match e {
        Error::Invalid { field, .. }
        | Error::Malformed {
            field: Some(field), ..
        } => {
            body["field"] = json!(field);
        }
        Error::Conflict {
            field,
            existing_contact_id,
            ..
        } => {
            if let Some(f) = field {
                body["field"] = json!(f);
            }
            if let Some(id) = existing_contact_id {
                body["existing_contact_id"] = json!(id);
            }
        }
        _ => {}
    }
    let mut resp = problem(status, &body);
    if let Error::StaleVersion { current } = e {
        resp = resp.with_header("etag", current.clone());
    }
    if matches!(e, Error::Unauthenticated) {
        resp = resp.with_header("www-authenticate", "Bearer");
    }
    resp
}

pub fn protocol(p: Protocol, path: &str) -> Response {
    match p {
        Protocol::NoRoute => problem(
            StatusCode::NOT_FOUND,
            &json!({"type": type_uri("not-found"), "title": "Not found", "status": 404, "detail": format!("no route {path}")}),
        ),
        Protocol::MethodNotAllowed(allowed) => problem(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"type": type_uri("method-not-allowed"), "title": "Method not allowed", "status": 405,
                    "detail": format!("{path} allows {}", allowed.join(", "))}),
        )
        .with_header("allow", allowed.join(", ")),
        Protocol::TargetTooLong => problem(
            StatusCode::URI_TOO_LONG,
            &json!({"type": type_uri("uri-too-long"), "title": "URI too long", "status": 414,
                    "detail": format!("a request's path and query may be at most {} bytes", crate::routes::MAX_TARGET)}),
        ),
    }
}

fn problem(status: StatusCode, body: &Json) -> Response {
    let mut r = Response::json(status, body);
    r.headers[0].1 = "application/problem+json".into();
    r
}

/// Problem types are stable URIs relative to the API; the docs list them.
pub fn type_uri(kind: &str) -> String {
    format!("/problems/{kind}")
}

fn classify(e: &Error) -> (StatusCode, &'static str, &'static str) {
    match e {
        Error::Malformed { .. } => (
            StatusCode::BAD_REQUEST,
            "malformed-request",
            "Malformed request",
        ),
        Error::Invalid { .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid-value",
            "Invalid value",
        ),
        Error::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
        Error::Conflict { .. } => (StatusCode::CONFLICT, "conflict", "Conflict"),
        Error::StaleVersion { .. } => (
            StatusCode::PRECONDITION_FAILED,
            "stale-version",
            "Precondition failed",
        ),
        Error::Unauthenticated => (
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "Unauthenticated",
        ),
        Error::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
        Error::TooLarge { .. } => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload-too-large",
            "Payload too large",
        ),
        Error::Precondition { .. } => (
            StatusCode::UNPROCESSABLE_ENTITY,
            "precondition",
            "Unprocessable request",
        ),
        Error::Storage(m) if m.contains("database is locked") => {
            (StatusCode::SERVICE_UNAVAILABLE, "busy", "Busy")
        }
        Error::Storage(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "Internal error",
        ),
    }
}

fn detail(e: &Error) -> String {
    match e {
        Error::Invalid { detail, .. } => detail.clone(),
        // Storage messages can carry SQL; the log has them, the caller gets none.
        Error::Storage(_) => "the database could not complete the request; retry later".into(),
        other => other.to_string(),
    }
}
