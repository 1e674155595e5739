//! Requests and responses as the API sees them, and the parsing every route shares:
//! bearer auth, JSON bodies with size limits, query parameters.

use contacts_core::contacts::access::{self, Principal};
use contacts_core::{Error, Result};
use http::{HeaderMap, Method, StatusCode};
use serde_json::Value as Json;

use crate::platform::Platform;

/// A JSON body may be at most 1 MB (SPEC §9).
pub const MAX_JSON_BODY: usize = 1024 * 1024;

/// An import chunk (CSV text) may be at most 10 MB (SPEC §9): Fermyon Cloud's request bound.
pub const MAX_CSV_BODY: usize = 10 * 1024 * 1024;

pub struct Request {
    pub method: Method,
    /// The URL path, e.g. `/api/contacts/C123`.
    pub path: String,
    /// The raw query string, without `?`.
    pub query: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Request {
    pub fn new(method: Method, path_and_query: &str) -> Self {
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        Request {
            method,
            path: path.to_owned(),
            query: query.to_owned(),
            headers: HeaderMap::new(),
            body: Vec::new(),
        }
    }

    /// The path's segments after `prefix`, e.g. `["C123", "history"]`.
    pub fn segments_after<'a>(&'a self, prefix: &str) -> Option<Vec<&'a str>> {
        let rest = self.path.strip_prefix(prefix)?;
        if !(rest.is_empty() || rest.starts_with('/')) {
            return None;
        }
        Some(rest.split('/').filter(|s| !s.is_empty()).collect())
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A query parameter, percent-decoded.
    pub fn param(&self, name: &str) -> Option<String> {
        self.query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k) == name).then(|| percent_decode(v))
        })
    }

    /// An integer query parameter; a non-number is a 422 naming it.
    pub fn int_param(&self, name: &str) -> Result<Option<i64>> {
        self.param(name)
            .map(|v| {
                v.trim()
                    .parse()
                    .map_err(|_| Error::invalid(name, "must be an integer"))
            })
            .transpose()
    }

    /// The caller, from `Authorization: Bearer <token>`.
    pub fn principal(&self, platform: &dyn Platform) -> Result<Principal> {
        let token = self
            .header("authorization")
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .ok_or(Error::Unauthenticated)?;
        if let Some(admin) =
            access::bootstrap_admin(platform.variable("admin_token").as_deref(), token)
        {
            return Ok(admin);
        }
        access::lookup_token(platform.sql()?, token)
    }

    /// The body as JSON: at most 1 MB, `application/json`, well-formed.
    pub fn json(&self) -> Result<Json> {
        if self.body.len() > MAX_JSON_BODY {
            return Err(Error::TooLarge {
                detail: format!("a JSON body may be at most {MAX_JSON_BODY} bytes"),
            });
        }
        if let Some(ct) = self.header("content-type") {
            let mime = ct.split(';').next().unwrap_or_default().trim();
            if !(mime.eq_ignore_ascii_case("application/json") || mime.ends_with("+json")) {
                return Err(Error::malformed(format!(
                    "expected Content-Type application/json, got {mime}"
                )));
            }
        }
        serde_json::from_slice(&self.body)
            .map_err(|e| Error::malformed(format!("the body is not valid JSON: {e}")))
    }
}

impl Request {
    /// The body as CSV bytes: at most 10 MB. The content type is not checked: spreadsheet
    /// exports and scripts send CSV as `text/csv`, `text/plain` or `application/octet-stream`.
    pub fn csv(&self) -> Result<&[u8]> {
        if self.body.len() > MAX_CSV_BODY {
            return Err(Error::TooLarge {
                detail: format!("a CSV chunk may be at most {MAX_CSV_BODY} bytes; send the file in smaller chunks of whole lines"),
            });
        }
        Ok(&self.body)
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi << 4 | lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub struct Response {
    pub status: StatusCode,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: StatusCode, body: &Json) -> Self {
        Response {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    pub fn ok(body: &Json) -> Self {
        Self::json(StatusCode::OK, body)
    }

    pub fn no_content() -> Self {
        Response {
            status: StatusCode::NO_CONTENT,
            headers: vec![],
            body: vec![],
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_decoded() {
        let r = Request::new(Method::GET, "/api/search?q=Jos%C3%A9+Lima&limit=5&x");
        assert_eq!(r.param("q").as_deref(), Some("José Lima"));
        assert_eq!(r.int_param("limit").unwrap(), Some(5));
        assert_eq!(r.param("x").as_deref(), Some(""));
        assert_eq!(r.param("y"), None);
        let bad = Request::new(Method::GET, "/a?limit=ten&p=%zz%4");
        assert!(bad.int_param("limit").is_err());
        assert_eq!(bad.param("p").as_deref(), Some("%zz%4"));
    }

    #[test]
    fn segments_respect_the_prefix_boundary() {
        let r = Request::new(Method::GET, "/api/contacts/C1/history");
        assert_eq!(
            r.segments_after("/api/contacts"),
            Some(vec!["C1", "history"])
        );
        let r = Request::new(Method::GET, "/api/contactsX");
        assert_eq!(r.segments_after("/api/contacts"), None);
    }
}
