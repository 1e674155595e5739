//! Route tables: each module lists its routes once, and the same list both routes
//! requests and documents them in `/api/openapi.json`.

use contacts_core::contacts::access::Principal;
use contacts_core::{Error, Result};
use http::Method;

use crate::http_io::{Request, Response};
use crate::platform::Platform;
use crate::problem::{self, Protocol};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// No token.
    Public,
    /// Signed by a chat platform (HMAC or secret header), no bearer token.
    Signed,
    /// Any bearer token: agent or admin.
    Agent,
    /// An admin's bearer token.
    Admin,
}

impl Access {
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Public => "public",
            Access::Signed => "signed",
            Access::Agent => "agent",
            Access::Admin => "admin",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct RouteDoc {
    pub method: &'static str,
    /// A template: `/api/contacts/{id}`.
    pub path: &'static str,
    pub summary: &'static str,
    pub access: Access,
    /// The query parameters it reads, each described once in [`crate::openapi`].
    pub query: &'static [&'static str],
    /// The schema (a name in [`crate::openapi`]'s components) of the body it takes.
    pub body: Option<&'static str>,
    /// The body's media type: `application/json` unless [`RouteDoc::csv_body()`] says so.
    pub body_media: &'static str,
    /// What it answers on success.
    pub answer: Answer,
}

/// A route's success answer, for the OpenAPI document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// This status with a JSON body of this schema (a name in the document's components).
    Json(u16, &'static str),
    /// 200 with a `text/plain` body.
    Text,
    /// 200 with a `text/csv` body.
    Csv,
    /// 204, no body.
    NoContent,
}

/// 200 with a JSON body of `schema`.
pub const fn ok(schema: &'static str) -> Answer {
    Answer::Json(200, schema)
}

/// 201 with a JSON body of `schema`.
pub const fn created(schema: &'static str) -> Answer {
    Answer::Json(201, schema)
}

/// A route that takes no query parameters and no body; [`RouteDoc::query()`] and
/// [`RouteDoc::body()`] say otherwise.
pub const fn route(
    method: &'static str,
    path: &'static str,
    access: Access,
    summary: &'static str,
    answer: Answer,
) -> RouteDoc {
    RouteDoc {
        method,
        path,
        summary,
        access,
        query: &[],
        body: None,
        body_media: "application/json",
        answer,
    }
}

impl RouteDoc {
    /// The query parameters it reads, each described once in [`crate::openapi`].
    pub const fn query(mut self, names: &'static [&'static str]) -> RouteDoc {
        self.query = names;
        self
    }

    /// The schema of the JSON body it takes.
    pub const fn body(mut self, schema: &'static str) -> RouteDoc {
        self.body = Some(schema);
        self
    }

    /// It takes CSV text (schema `CsvText`).
    pub const fn csv_body(mut self) -> RouteDoc {
        self.body = Some("CsvText");
        self.body_media = "text/csv";
        self
    }
}

/// Every route the app serves, by component.
pub fn all() -> Vec<(&'static str, &'static [RouteDoc])> {
    vec![
        ("crud", crate::crud::ROUTES),
        ("autocreate", crate::hooks::ROUTES),
        ("block", crate::block::ROUTES),
        ("import", crate::import::ROUTES),
        ("filter", crate::filter::ROUTES),
        ("search", crate::search::ROUTES),
        ("merge", crate::merge::ROUTES),
        ("bulk", crate::bulk::ROUTES),
    ]
}

/// The route a request names, with its path parameters.
pub fn find<'a>(
    req: &'a Request,
    table: &'static [RouteDoc],
) -> Result<(&'static RouteDoc, Vec<&'a str>), Protocol> {
    let segments: Vec<&str> = req.path.split('/').filter(|s| !s.is_empty()).collect();
    let mut allowed: Vec<&'static str> = Vec::new();
    for doc in table {
        if let Some(params) = match_template(doc.path, &segments) {
            if doc.method == req.method.as_str()
                || (req.method == Method::HEAD && doc.method == "GET")
            {
                return Ok((doc, params));
            }
            allowed.push(doc.method);
        }
    }
    if allowed.is_empty() {
        Err(Protocol::NoRoute)
    } else {
        Err(Protocol::MethodNotAllowed(allowed))
    }
}

fn match_template<'a>(template: &str, segments: &[&'a str]) -> Option<Vec<&'a str>> {
    let parts: Vec<&str> = template.split('/').filter(|s| !s.is_empty()).collect();
    if parts.len() != segments.len() {
        return None;
    }
    let mut params = Vec::new();
    for (part, seg) in parts.iter().zip(segments) {
        if part.starts_with('{') {
            params.push(*seg);
        } else if part != seg {
            return None;
        }
    }
    Some(params)
}

/// One routed request: what every handler gets.
pub struct Call<'a> {
    pub req: &'a Request,
    pub platform: &'a dyn Platform,
    pub route: &'static RouteDoc,
    /// Path parameters in template order.
    pub params: Vec<&'a str>,
    /// The authenticated caller; `None` on public and signed routes.
    pub principal: Option<Principal>,
}

impl Call<'_> {
    /// The caller's login, for history and per-user documents.
    pub fn actor(&self) -> &str {
        self.principal
            .as_ref()
            .map_or("system", |p| p.login.as_str())
    }

    pub fn param(&self, i: usize) -> &str {
        self.params.get(i).copied().unwrap_or_default()
    }
}

/// The longest path + query a request may have: no route needs more (a search query is at
/// most 200 characters, a cursor well under 1 KB), and a bound keeps hostile ones cheap.
pub const MAX_TARGET: usize = 8 * 1024;

/// Routes a request through `table`, checks its access, runs `dispatch`, and turns any
/// error into a problem response. Storage failures are logged (the caller sees no SQL).
pub fn serve(
    req: &Request,
    platform: &dyn Platform,
    table: &'static [RouteDoc],
    dispatch: fn(&Call) -> Result<Response>,
) -> Response {
    if req.path.len() + req.query.len() > MAX_TARGET {
        return problem::protocol(Protocol::TargetTooLong, "");
    }
    let (route, params) = match find(req, table) {
        Ok(found) => found,
        Err(p) => return problem::protocol(p, &req.path),
    };
    let result = authorize(req, platform, route).and_then(|principal| {
        let call = Call {
            req,
            platform,
            route,
            params,
            principal,
        };
        dispatch(&call)
    });
    match result {
        Ok(resp) => resp,
        Err(e) => {
            if let Error::Storage(msg) = &e {
                eprintln!("{} {}: {msg}", req.method, req.path);
            }
            problem::from_error(&e)
        }
    }
}

fn authorize(
    req: &Request,
    platform: &dyn Platform,
    route: &RouteDoc,
) -> Result<Option<Principal>> {
    match route.access {
        Access::Public | Access::Signed => Ok(None),
        Access::Agent => req.principal(platform).map(Some),
        Access::Admin => {
            let p = req.principal(platform)?;
            p.require_admin()?;
            Ok(Some(p))
        }
    }
}

/// The answer for a route the table lists but `dispatch` forgot: a bug, caught by the
/// route-table tests.
pub fn unrouted(call: &Call) -> Result<Response> {
    Err(Error::Storage(format!(
        "route {} {} has no handler",
        call.route.method, call.route.path
    )))
}
