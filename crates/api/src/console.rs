//! The `console` component's answers (SPEC §7): the web console's page at `/` and its
//! assets, all embedded in the component at build time.
//!
//! The console is a static single-page app that speaks only the JSON API; this module
//! holds none of its logic, only the serving rules:
//! - the page (`/`, `/index.html`) is `no-cache` (revalidated by ETag on every load), so a
//!   new build reaches browsers at once;
//! - every other asset's name carries a hash of its content (the front-end build writes
//!   them), so it is cached for a year as `immutable`;
//! - a browser that accepts gzip gets the build's precompressed copy;
//! - anything else is a 404 (problem+json under `/api`, where a caller expects JSON: a
//!   route no component serves yet falls through to this catch-all).

use http::{Method, StatusCode};

use crate::http_io::{Request, Response};
use crate::problem::{self, Protocol};

/// One file of the front-end build, as the component embeds it.
pub struct Asset {
    /// The URL path, e.g. `/assets/app-1f2e3d4c.js`; the page is `/`.
    pub path: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
    /// The same bytes gzip-compressed, or empty when compressing does not pay.
    pub gzip: &'static [u8],
    /// A strong validator: a hash of `body`.
    pub etag: &'static str,
}

const PAGE_CACHE: &str = "no-cache";
const ASSET_CACHE: &str = "public, max-age=31536000, immutable";

/// Everything the page may load comes from this origin; it may call only this origin's API.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

pub fn handle(req: &Request, assets: &[Asset]) -> Response {
    if req.method != Method::GET && req.method != Method::HEAD {
        return problem::protocol(Protocol::MethodNotAllowed(vec!["GET", "HEAD"]), &req.path);
    }
    let path = if req.path == "/index.html" {
        "/"
    } else {
        req.path.as_str()
    };
    match assets.iter().find(|a| a.path == path) {
        Some(asset) => serve(req, asset),
        None if path == "/api" || path.starts_with("/api/") => {
            problem::protocol(Protocol::NoRoute, &req.path)
        }
        None => Response {
            status: StatusCode::NOT_FOUND,
            headers: vec![("content-type", "text/plain; charset=utf-8".into())],
            body: b"not found\n".to_vec(),
        },
    }
}

fn serve(req: &Request, asset: &Asset) -> Response {
    let is_page = asset.path == "/";
    let etag = format!("\"{}\"", asset.etag);
    let mut headers = vec![
        ("content-type", asset.content_type.to_owned()),
        (
            "cache-control",
            if is_page { PAGE_CACHE } else { ASSET_CACHE }.to_owned(),
        ),
        ("etag", etag.clone()),
        ("vary", "accept-encoding".to_owned()),
        ("x-content-type-options", "nosniff".to_owned()),
    ];
    if is_page {
        headers.push((
            "content-security-policy",
            CONTENT_SECURITY_POLICY.to_owned(),
        ));
        headers.push(("referrer-policy", "no-referrer".to_owned()));
    }
    if req
        .header("if-none-match")
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == etag))
    {
        return Response {
            status: StatusCode::NOT_MODIFIED,
            headers,
            body: Vec::new(),
        };
    }
    let body = if !asset.gzip.is_empty() && accepts_gzip(req) {
        headers.push(("content-encoding", "gzip".to_owned()));
        asset.gzip
    } else {
        asset.body
    };
    Response {
        status: StatusCode::OK,
        headers,
        body: if req.method == Method::HEAD {
            Vec::new()
        } else {
            body.to_vec()
        },
    }
}

/// `Accept-Encoding` lists gzip with a non-zero quality.
fn accepts_gzip(req: &Request) -> bool {
    req.header("accept-encoding").is_some_and(|list| {
        list.split(',').any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or_default();
            let refused = parts.any(|p| p.replace(' ', "") == "q=0" || p == "q=0.0");
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ASSETS: &[Asset] = &[
        Asset {
            path: "/",
            content_type: "text/html; charset=utf-8",
            body: b"<!doctype html>",
            gzip: b"",
            etag: "p1",
        },
        Asset {
            path: "/assets/app-abc.js",
            content_type: "text/javascript; charset=utf-8",
            body: b"console.log(1)",
            gzip: b"GZ",
            etag: "abc",
        },
    ];

    fn get(path: &str, headers: &[(&'static str, &str)]) -> Response {
        let mut req = Request::new(Method::GET, path);
        for (k, v) in headers {
            req.headers
                .insert(*k, v.parse().expect("a valid header value"));
        }
        handle(&req, ASSETS)
    }

    fn header<'a>(r: &'a Response, name: &str) -> Option<&'a str> {
        r.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn the_page_is_revalidated_and_assets_are_immutable() {
        let page = get("/", &[]);
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(header(&page, "cache-control"), Some("no-cache"));
        assert!(header(&page, "content-security-policy").is_some());
        assert_eq!(get("/index.html", &[]).body, page.body);
        let js = get("/assets/app-abc.js", &[]);
        assert_eq!(
            header(&js, "cache-control"),
            Some("public, max-age=31536000, immutable")
        );
        assert_eq!(
            header(&js, "content-type"),
            Some("text/javascript; charset=utf-8")
        );
        assert_eq!(js.body, b"console.log(1)");
    }

    #[test]
    fn gzip_is_sent_only_to_browsers_that_accept_it() {
        let gz = get(
            "/assets/app-abc.js",
            &[("accept-encoding", "br, gzip, deflate")],
        );
        assert_eq!(gz.body, b"GZ");
        assert_eq!(header(&gz, "content-encoding"), Some("gzip"));
        let refused = get("/assets/app-abc.js", &[("accept-encoding", "gzip;q=0")]);
        assert_eq!(refused.body, b"console.log(1)");
        // An asset with no compressed copy is sent as it is.
        let page = get("/", &[("accept-encoding", "gzip")]);
        assert_eq!(header(&page, "content-encoding"), None);
    }

    #[test]
    fn a_matching_etag_is_a_304_without_body() {
        let r = get("/", &[("if-none-match", "\"x\", \"p1\"")]);
        assert_eq!(r.status, StatusCode::NOT_MODIFIED);
        assert!(r.body.is_empty());
        assert_eq!(
            get("/", &[("if-none-match", "\"old\"")]).status,
            StatusCode::OK
        );
    }

    #[test]
    fn unknown_paths_are_404_and_api_ones_are_problems() {
        let api = get("/api/merge", &[]);
        assert_eq!(api.status, StatusCode::NOT_FOUND);
        assert_eq!(
            header(&api, "content-type"),
            Some("application/problem+json")
        );
        let asset = get("/assets/app-old.js", &[]);
        assert_eq!(asset.status, StatusCode::NOT_FOUND);
        let mut post = Request::new(Method::POST, "/");
        post.body = b"x".to_vec();
        assert_eq!(handle(&post, ASSETS).status, StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn head_has_the_headers_and_no_body() {
        let req = Request::new(Method::HEAD, "/assets/app-abc.js");
        let r = handle(&req, ASSETS);
        assert_eq!(r.status, StatusCode::OK);
        assert!(r.body.is_empty());
    }
}
