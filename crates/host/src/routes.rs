//! HTTP routing as Spin does it, and the `spin-*` request headers Spin sets.
//!
//! Routes are exact (`/a/b`) or trailing wildcards (`/a/...`). An exact route beats any
//! wildcard; among wildcards the longest prefix wins. The base path is always `/` (manifest v2).

use crate::manifest::RouteDecl;
use anyhow::{bail, Result};
use http::HeaderValue;
use std::fmt;
use std::net::SocketAddr;

const WILDCARD_SUFFIX: &str = "/...";

/// Spin answers its own endpoints here (e.g. `/.well-known/spin/health`); apps may not route here.
pub const RESERVED_PREFIX: &str = "/.well-known/spin/";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// The whole path, trailing slash removed (`/` becomes the empty string).
    Exact(String),
    /// Everything at or below this prefix (`/...` gives the empty prefix).
    Wildcard(String),
}

#[derive(Debug, Clone)]
struct Route {
    /// As written in the manifest, e.g. `/api/...`.
    raw: String,
    /// With the (always `/`) base applied and one trailing slash removed, as Spin's router.
    based: String,
    pattern: Pattern,
    component: String,
}

/// The application's routing table.
#[derive(Debug, Clone)]
pub struct Router {
    routes: Vec<Route>,
}

/// The route a request path matched.
#[derive(Debug)]
pub struct RouteMatch<'r> {
    route: &'r Route,
    path_info: String,
}

/// Refuses route syntax this host does not implement (Spin's `:name` segments, `*`).
pub fn check_route_syntax(route: &str) -> Result<()> {
    let body = route.strip_suffix(WILDCARD_SUFFIX).unwrap_or(route);
    if body
        .split('/')
        .any(|seg| seg.starts_with(':') || seg.contains('*'))
    {
        bail!("route '{route}': named (`:x`) and `*` segments are not supported by this host");
    }
    if body.contains("...") {
        bail!("route '{route}': `...` is only allowed as a trailing `/...`");
    }
    if route.starts_with(RESERVED_PREFIX) {
        bail!("route '{route}': paths under {RESERVED_PREFIX} are reserved for the host");
    }
    Ok(())
}

impl Router {
    /// Builds the table. A route declared twice keeps its last component, as Spin does.
    pub fn build(decls: &[RouteDecl]) -> Router {
        let mut routes: Vec<Route> = Vec::new();
        for decl in decls {
            let route = Route::new(&decl.route, &decl.component);
            if let Some(existing) = routes.iter_mut().find(|r| r.raw == route.raw) {
                eprintln!(
                    "warning: route '{}' is declared twice; component '{}' replaces '{}'",
                    route.raw, route.component, existing.component
                );
                *existing = route;
            } else {
                routes.push(route);
            }
        }
        Router { routes }
    }

    /// Finds the route for a request path, or `None` (404).
    pub fn route(&self, path: &str) -> Option<RouteMatch<'_>> {
        let exact = strip_one_trailing_slash(path);
        if let Some(route) = self
            .routes
            .iter()
            .find(|r| r.pattern == Pattern::Exact(exact.to_string()))
        {
            return Some(RouteMatch {
                route,
                path_info: String::new(),
            });
        }
        self.routes
            .iter()
            .filter_map(|r| match &r.pattern {
                Pattern::Wildcard(prefix) => {
                    wildcard_tail(prefix, path).map(|tail| (r, prefix, tail))
                }
                Pattern::Exact(_) => None,
            })
            .max_by_key(|(_, prefix, _)| prefix.len())
            .map(|(route, _, tail)| RouteMatch {
                route,
                path_info: tail.to_string(),
            })
    }

    /// `(component, route display)` in declaration order, for the start-up banner.
    pub fn entries(&self) -> impl Iterator<Item = (&str, RouteDisplay<'_>)> {
        self.routes
            .iter()
            .map(|r| (r.component.as_str(), RouteDisplay(&r.pattern)))
    }
}

/// Formats a route like `spin up` does: `/api/contacts (wildcard)`.
pub struct RouteDisplay<'r>(&'r Pattern);

impl fmt::Display for RouteDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Pattern::Exact(path) => write!(f, "{path}"),
            Pattern::Wildcard(prefix) => write!(f, "{prefix} (wildcard)"),
        }
    }
}

impl Route {
    fn new(raw: &str, component: &str) -> Route {
        let absolute = if raw.starts_with('/') {
            raw.to_string()
        } else {
            format!("/{raw}")
        };
        let based = strip_one_trailing_slash(&absolute).to_string();
        let pattern = match based.strip_suffix(WILDCARD_SUFFIX) {
            Some(prefix) => Pattern::Wildcard(prefix.to_string()),
            None => Pattern::Exact(based.clone()),
        };
        Route {
            raw: raw.to_string(),
            based,
            pattern,
            component: component.to_string(),
        }
    }
}

/// The part of `path` below a wildcard `prefix`, if the path is at or below it
/// (`/foo/...`: `/foo` -> ``, `/foo/` -> `/`, `/foo/bar` -> `/bar`; never `/foobar`).
fn wildcard_tail<'p>(prefix: &str, path: &'p str) -> Option<&'p str> {
    let tail = path.strip_prefix(prefix)?;
    (tail.is_empty() || tail.starts_with('/')).then_some(tail)
}

fn strip_one_trailing_slash(s: &str) -> &str {
    s.strip_suffix('/').unwrap_or(s)
}

impl RouteMatch<'_> {
    pub fn component(&self) -> &str {
        &self.route.component
    }

    /// The headers Spin adds to every request it routes to a component.
    pub fn spin_headers(
        &self,
        host: &str,
        path_and_query: &str,
        client: SocketAddr,
    ) -> Vec<(&'static str, String)> {
        let raw = &self.route.raw;
        vec![
            ("spin-path-info", self.path_info.clone()),
            ("spin-full-url", format!("http://{host}{path_and_query}")),
            ("spin-matched-route", self.route.based.clone()),
            ("spin-base-path", "/".to_string()),
            ("spin-raw-component-route", raw.clone()),
            (
                "spin-component-route",
                raw.strip_suffix(WILDCARD_SUFFIX).unwrap_or(raw).to_string(),
            ),
            ("spin-client-addr", client.to_string()),
        ]
    }
}

/// Sets the `spin-*` headers on a request, replacing any the client sent.
pub fn apply_spin_headers(
    headers: &mut http::HeaderMap,
    spin_headers: Vec<(&'static str, String)>,
) -> Result<()> {
    for (name, value) in spin_headers {
        headers.insert(name, HeaderValue::from_str(&value)?);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[(&str, &str)]) -> Router {
        let decls: Vec<RouteDecl> = routes
            .iter()
            .map(|(route, component)| RouteDecl {
                route: route.to_string(),
                component: component.to_string(),
            })
            .collect();
        Router::build(&decls)
    }

    fn component_for(r: &Router, path: &str) -> Option<String> {
        r.route(path).map(|m| m.component().to_string())
    }

    #[test]
    fn exact_beats_wildcard_and_longest_wildcard_wins() {
        let r = router(&[
            ("/...", "root"),
            ("/one/...", "one"),
            ("/one/two/...", "two"),
            ("/one/two", "exact"),
        ]);
        assert_eq!(component_for(&r, "/one/two").as_deref(), Some("exact"));
        assert_eq!(component_for(&r, "/one/two/").as_deref(), Some("exact"));
        assert_eq!(component_for(&r, "/one/two/three").as_deref(), Some("two"));
        assert_eq!(component_for(&r, "/one/x").as_deref(), Some("one"));
        assert_eq!(component_for(&r, "/onex").as_deref(), Some("root"));
        assert_eq!(component_for(&r, "/").as_deref(), Some("root"));
    }

    #[test]
    fn unmatched_paths_have_no_route() {
        let r = router(&[("/a", "a"), ("/b/...", "b")]);
        assert!(r.route("/c").is_none());
        assert!(r.route("/bb").is_none());
        assert!(r.route("/a/x").is_none());
    }

    #[test]
    fn path_info_follows_spin() {
        let r = router(&[("/foo/...", "f")]);
        let info = |p: &str| r.route(p).unwrap().path_info;
        assert_eq!(info("/foo"), "");
        assert_eq!(info("/foo/"), "/");
        assert_eq!(info("/foo/bar"), "/bar");
        assert_eq!(info("/foo/bar/"), "/bar/");
    }

    #[test]
    fn headers_match_spin_for_a_wildcard() {
        let r = router(&[("/foo/...", "f")]);
        let m = r.route("/foo/bar").unwrap();
        let client: SocketAddr = "127.0.0.1:8777".parse().unwrap();
        let headers = m.spin_headers("example.com", "/foo/bar?a=1", client);
        let get = |n: &str| headers.iter().find(|(k, _)| *k == n).unwrap().1.clone();
        assert_eq!(get("spin-full-url"), "http://example.com/foo/bar?a=1");
        assert_eq!(get("spin-path-info"), "/bar");
        assert_eq!(get("spin-matched-route"), "/foo/...");
        assert_eq!(get("spin-base-path"), "/");
        assert_eq!(get("spin-raw-component-route"), "/foo/...");
        assert_eq!(get("spin-component-route"), "/foo");
        assert_eq!(get("spin-client-addr"), "127.0.0.1:8777");
    }

    #[test]
    fn last_duplicate_wins_and_display_marks_wildcards() {
        let r = router(&[("/x/...", "first"), ("/x/...", "second"), ("/y", "y")]);
        assert_eq!(component_for(&r, "/x/1").as_deref(), Some("second"));
        let shown: Vec<String> = r.entries().map(|(c, d)| format!("{c}: {d}")).collect();
        assert_eq!(shown, vec!["second: /x (wildcard)", "y: /y"]);
    }

    #[test]
    fn unsupported_route_syntax_is_refused() {
        assert!(check_route_syntax("/users/:id").is_err());
        assert!(check_route_syntax("/files/*").is_err());
        assert!(check_route_syntax("/a/.../b").is_err());
        assert!(check_route_syntax("/.well-known/spin/x").is_err());
        assert!(check_route_syntax("/a/...").is_ok());
    }
}
