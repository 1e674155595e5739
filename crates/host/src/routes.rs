//! HTTP routing as Spin does it, and the `spin-*` request headers Spin sets.
//!
//! A route is a sequence of segments, each exact (`/a`) or named (`/:name`, one non-empty
//! segment, passed to the component as `spin-path-match-name`), optionally ending in a
//! wildcard (`/...`, or `/*`) that takes the rest of the path. Among the routes matching a
//! path, the most specific wins, compared segment by segment from the left as Spin's router
//! (`routefinder`) does: exact beats named, named beats the end of an exact route, and that
//! beats a wildcard. So an exact route beats any wildcard, and the longest wildcard prefix
//! wins. The base path is always `/` (manifest v2).

use crate::manifest::RouteDecl;
use anyhow::{bail, Result};
use http::{HeaderName, HeaderValue};
use std::fmt;
use std::net::SocketAddr;

const WILDCARD_SUFFIX: &str = "/...";
/// Spin reads a trailing `/*` as `/...`.
const STAR_SUFFIX: &str = "/*";

/// Spin answers its own endpoints here (e.g. `/.well-known/spin/health`); apps may not route here.
pub const RESERVED_PREFIX: &str = "/.well-known/spin/";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Exact(String),
    Named(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    segments: Vec<Segment>,
    /// Whether the route ends in a wildcard taking the rest of the path.
    wildcard: bool,
    /// The route without its wildcard, as `spin up` prints it (`/` for the root).
    shown: String,
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
    /// `(name, value)` of each named segment, in route order.
    named: Vec<(&'r str, String)>,
    path_info: String,
}

/// Refuses route syntax Spin refuses, or this host does not implement (`*` inside a route,
/// partial segments such as `/a:b` or `/:a.json`).
pub fn check_route_syntax(route: &str) -> Result<()> {
    let body = strip_wildcard(route).unwrap_or(route);
    if body.contains("...") {
        bail!("route '{route}': `...` is only allowed as a trailing `/...`");
    }
    for segment in body.split('/') {
        if segment.contains('*') {
            bail!("route '{route}': `*` is only allowed as a trailing `/*`");
        }
        match segment.find(':') {
            Some(0) if segment.len() > 1 && !segment.contains('.') => {}
            Some(_) => bail!(
                "route '{route}': a named segment is a whole segment, `/:name` (this host does \
                 not implement partial ones)"
            ),
            None => {}
        }
    }
    if route.starts_with(RESERVED_PREFIX) {
        bail!("route '{route}': paths under {RESERVED_PREFIX} are reserved for the host");
    }
    Ok(())
}

fn strip_wildcard(route: &str) -> Option<&str> {
    route
        .strip_suffix(WILDCARD_SUFFIX)
        .or_else(|| route.strip_suffix(STAR_SUFFIX))
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

    /// Finds the most specific route for a request path, or `None` (404). Among equally
    /// specific routes (`/a/:x` and `/a/:y`) the first declared wins.
    pub fn route(&self, path: &str) -> Option<RouteMatch<'_>> {
        let mut best: Option<(Vec<u8>, RouteMatch<'_>)> = None;
        for route in &self.routes {
            let Some(found) = route.pattern.match_path(path) else {
                continue;
            };
            let rank = route.pattern.specificity();
            if best.as_ref().is_none_or(|(best_rank, _)| rank > *best_rank) {
                let (named, path_info) = found;
                best = Some((
                    rank,
                    RouteMatch {
                        route,
                        named,
                        path_info,
                    },
                ));
            }
        }
        best.map(|(_, found)| found)
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
        if self.0.wildcard {
            write!(f, "{} (wildcard)", self.0.shown)
        } else {
            write!(f, "{}", self.0.shown)
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
        Route {
            raw: raw.to_string(),
            pattern: Pattern::parse(&based),
            based,
            component: component.to_string(),
        }
    }
}

impl Pattern {
    /// Parses a based route (checked by [`check_route_syntax`] when the manifest was read).
    fn parse(based: &str) -> Pattern {
        let (body, wildcard) = match strip_wildcard(based) {
            Some(prefix) => (prefix, true),
            None => (based, false),
        };
        let segments = body
            .split('/')
            .skip(1)
            .map(|segment| match segment.strip_prefix(':') {
                Some(name) => Segment::Named(name.to_string()),
                None => Segment::Exact(segment.to_string()),
            })
            .collect();
        let shown = if body.is_empty() && !wildcard {
            "/"
        } else {
            body
        };
        Pattern {
            segments,
            wildcard,
            shown: shown.to_string(),
        }
    }

    /// The named segments' values and the path below a wildcard, if `path` matches
    /// (`/foo/...`: `/foo` -> ``, `/foo/` -> `/`, `/foo/bar` -> `/bar`; never `/foobar`).
    /// An exact route also matches its path with one trailing slash.
    fn match_path<'p>(&'p self, path: &str) -> Option<(Vec<(&'p str, String)>, String)> {
        let mut rest = path;
        let mut named = Vec::new();
        for segment in &self.segments {
            let after_slash = rest.strip_prefix('/')?;
            let end = after_slash.find('/').unwrap_or(after_slash.len());
            let (value, remainder) = after_slash.split_at(end);
            match segment {
                Segment::Exact(exact) if exact == value => {}
                Segment::Named(name) if !value.is_empty() => {
                    named.push((name.as_str(), value.to_string()));
                }
                _ => return None,
            }
            rest = remainder;
        }
        match (self.wildcard, rest) {
            (true, tail) => Some((named, tail.to_string())),
            (false, "" | "/") => Some((named, String::new())),
            (false, _) => None,
        }
    }

    /// Compares as Spin's router ranks routes: segment by segment from the left, exact (3) >
    /// named (2) > the end of an exact route (1) > a wildcard (0). The end marker differs from
    /// every segment kind, so two keys always differ at or before the shorter one ends.
    fn specificity(&self) -> Vec<u8> {
        let kinds = self.segments.iter().map(|segment| match segment {
            Segment::Exact(_) => 3,
            Segment::Named(_) => 2,
        });
        let end = if self.wildcard { 0 } else { 1 };
        kinds.chain(std::iter::once(end)).collect()
    }
}

fn strip_one_trailing_slash(s: &str) -> &str {
    s.strip_suffix('/').unwrap_or(s)
}

impl RouteMatch<'_> {
    pub fn component(&self) -> &str {
        &self.route.component
    }

    /// The headers Spin adds to every request it routes to a component, then one
    /// `spin-path-match-<name>` per named segment (`_` in the name becomes `-`).
    pub fn spin_headers(
        &self,
        host: &str,
        path_and_query: &str,
        client: SocketAddr,
    ) -> Vec<(String, String)> {
        let raw = &self.route.raw;
        let fixed = [
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
        ];
        let named = self.named.iter().map(|(name, value)| {
            let name = format!("spin-path-match-{}", name.replace('_', "-"));
            (name.to_ascii_lowercase(), value.clone())
        });
        fixed
            .into_iter()
            .map(|(name, value)| (name.to_string(), value))
            .chain(named)
            .collect()
    }
}

/// Sets the `spin-*` headers on a request, replacing any the client sent. Like Spin, drops a
/// header whose name a named segment made invalid.
pub fn apply_spin_headers(
    headers: &mut http::HeaderMap,
    spin_headers: Vec<(String, String)>,
) -> Result<()> {
    for (name, value) in spin_headers {
        if let Ok(name) = HeaderName::try_from(name) {
            headers.insert(name, HeaderValue::from_str(&value)?);
        }
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
        let get = |n: &str| headers.iter().find(|(k, _)| k == n).unwrap().1.clone();
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
        assert!(check_route_syntax("/files/*/x").is_err());
        assert!(check_route_syntax("/a/.../b").is_err());
        assert!(check_route_syntax("/a:b").is_err());
        assert!(check_route_syntax("/:").is_err());
        assert!(check_route_syntax("/.well-known/spin/x").is_err());
        assert!(check_route_syntax("/a/...").is_ok());
        assert!(check_route_syntax("/files/*").is_ok());
        assert!(check_route_syntax("/users/:id/posts/...").is_ok());
    }

    #[test]
    fn named_segments_capture_one_segment_as_spin() {
        let r = router(&[("/x/:name/y", "named"), ("/1/:two/...", "wild")]);
        let m = r.route("/x/ana/y").unwrap();
        assert_eq!(m.component(), "named");
        assert_eq!(m.named, vec![("name", "ana".to_string())]);
        assert!(r.route("/x/ana/y/").is_some());
        assert!(r.route("/x//y").is_none());
        assert!(r.route("/x/a/b/y").is_none());
        let m = r.route("/1/2/3").unwrap();
        assert_eq!((m.component(), m.path_info.as_str()), ("wild", "/3"));
        assert_eq!(m.named, vec![("two", "2".to_string())]);
    }

    #[test]
    fn exact_beats_named_beats_wildcard() {
        let r = router(&[
            ("/a/...", "wild"),
            ("/a/:id", "named"),
            ("/a/new", "exact"),
            ("/a/:id/...", "named-wild"),
        ]);
        assert_eq!(component_for(&r, "/a/new").as_deref(), Some("exact"));
        assert_eq!(component_for(&r, "/a/7").as_deref(), Some("named"));
        assert_eq!(component_for(&r, "/a/7/x").as_deref(), Some("named-wild"));
        assert_eq!(component_for(&r, "/a").as_deref(), Some("wild"));
    }

    #[test]
    fn named_segments_become_path_match_headers() {
        let r = router(&[("/u/:user_id/...", "u")]);
        let client: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let headers = r
            .route("/u/42/x")
            .unwrap()
            .spin_headers("h", "/u/42/x", client);
        let get = |n: &str| headers.iter().find(|(k, _)| k == n).map(|h| h.1.clone());
        assert_eq!(get("spin-path-match-user-id").as_deref(), Some("42"));
        assert_eq!(
            get("spin-matched-route").as_deref(),
            Some("/u/:user_id/...")
        );
        assert_eq!(get("spin-component-route").as_deref(), Some("/u/:user_id"));
    }

    #[test]
    fn a_trailing_star_is_a_wildcard() {
        let r = router(&[("/files/*", "f")]);
        assert_eq!(r.route("/files/a/b").unwrap().path_info, "/a/b");
        assert!(r.route("/filesx").is_none());
    }
}
