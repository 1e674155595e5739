//! Outbound HTTP: denied unless the component's `allowed_outbound_hosts` permits the target.
//!
//! wasmtime-wasi-http without default features has no way to send requests; this module is
//! that hook. Permitted `http://` requests are sent with hyper; `https://` is refused (this host
//! carries no TLS stack), as is anything not allowed, with `HttpRequestDenied` like Spin.

use anyhow::{bail, Context, Result};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::sync::Arc;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

/// One `allowed_outbound_hosts` entry: `scheme://host[:port]` with `*` wildcards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    /// `None` means any scheme (`*://`).
    scheme: Option<String>,
    host: HostPattern,
    /// `None` means any port (`:*`).
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostPattern {
    Any,
    /// `*.example.com`: any subdomain (not the bare domain), stored as `.example.com`.
    Subdomains(String),
    Exact(String),
}

impl AllowedHost {
    /// Parses an entry, refusing the forms this host does not implement (templates, `self`,
    /// port ranges, paths).
    pub fn parse(entry: &str) -> Result<AllowedHost> {
        let unsupported = |why: &str| format!("allowed_outbound_hosts entry '{entry}': {why}");
        if entry.contains("{{") {
            bail!(unsupported(
                "variable templates are not supported by this host"
            ));
        }
        let (scheme, rest) = entry
            .split_once("://")
            .with_context(|| unsupported("expected scheme://host[:port]"))?;
        let scheme = match scheme {
            "*" => None,
            "http" | "https" => Some(scheme.to_string()),
            other => bail!(unsupported(&format!("scheme '{other}' is not supported"))),
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') {
            bail!(unsupported("paths are not allowed"));
        }
        let (host, port) = match rest.rsplit_once(':') {
            Some((host, "*")) => (host, None),
            Some((host, port)) => (
                host,
                Some(
                    port.parse::<u16>()
                        .map_err(|_| anyhow::anyhow!(unsupported("port must be a number or *")))?,
                ),
            ),
            None => (
                rest,
                Some(
                    default_port(scheme.as_deref())
                        .with_context(|| unsupported("a `*://` entry needs an explicit port"))?,
                ),
            ),
        };
        let host = match host {
            "*" => HostPattern::Any,
            "self" | "self.alt" => bail!(unsupported("service chaining is not supported")),
            h if h.starts_with("*.") => HostPattern::Subdomains(h[1..].to_ascii_lowercase()),
            h if h.is_empty() || h.contains('*') => bail!(unsupported("invalid host")),
            h => HostPattern::Exact(h.to_ascii_lowercase()),
        };
        Ok(AllowedHost { scheme, host, port })
    }

    fn permits(&self, scheme: &str, host: &str, port: u16) -> bool {
        let scheme_ok = self.scheme.as_deref().is_none_or(|s| s == scheme);
        let port_ok = self.port.is_none_or(|p| p == port);
        let host = host.to_ascii_lowercase();
        let host_ok = match &self.host {
            HostPattern::Any => true,
            HostPattern::Subdomains(suffix) => host.ends_with(suffix.as_str()),
            HostPattern::Exact(h) => *h == host,
        };
        scheme_ok && port_ok && host_ok
    }
}

fn default_port(scheme: Option<&str>) -> Option<u16> {
    match scheme? {
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

/// The per-request `wasi:http` hooks: the component's outbound policy.
pub struct OutboundPolicy {
    allowed: Arc<Vec<AllowedHost>>,
}

impl OutboundPolicy {
    pub fn new(allowed: Arc<Vec<AllowedHost>>) -> OutboundPolicy {
        OutboundPolicy { allowed }
    }

    fn permits(&self, uri: &http::Uri) -> bool {
        let scheme = uri.scheme_str().unwrap_or("https");
        let Some(host) = uri.host() else {
            return false;
        };
        let Some(port) = uri.port_u16().or_else(|| default_port(Some(scheme))) else {
            return false;
        };
        self.allowed.iter().any(|a| a.permits(scheme, host, port))
    }
}

/// Reports the I/O outcome of a request or response body, once it is known.
type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;
type SendResult = Result<(http::Response<WasiBody>, IoFuture), HttpError>;

impl WasiHttpHooks for OutboundPolicy {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        _options: Option<RequestOptions>,
        _fut: IoFuture,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        if !self.permits(request.uri()) {
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        if request.uri().scheme_str() != Some("http") {
            return Box::new(async {
                Err(HttpError::InternalError(Some(
                    "this host sends plain http:// requests only (no TLS)".to_string(),
                )))
            });
        }
        Box::new(send_plain_http(request))
    }
}

/// Sends one request over a fresh HTTP/1.1 connection.
async fn send_plain_http(request: http::Request<WasiBody>) -> SendResult {
    let uri = request.uri();
    let host = uri.host().unwrap_or_default().to_string();
    let port = uri.port_u16().unwrap_or(80);
    let stream = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(HttpError::Connect)?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(HttpError::Hyper)?;
    let io: IoFuture = Box::new(async move { connection.await.map_err(HttpError::Hyper) });
    let (mut parts, body) = request.into_parts();
    // HTTP/1.1 origin-form: the request line carries only the path.
    parts.uri = parts
        .uri
        .path_and_query()
        .map(|pq| http::Uri::from(pq.clone()))
        .unwrap_or_else(|| http::Uri::from_static("/"));
    let response = sender
        .send_request(http::Request::from_parts(parts, body))
        .await
        .map_err(HttpError::Hyper)?;
    let response = response.map(|b| b.map_err(HttpError::Hyper).boxed_unsync());
    Ok((response, io))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(entries: &[&str]) -> OutboundPolicy {
        let allowed = entries
            .iter()
            .map(|e| AllowedHost::parse(e).unwrap())
            .collect();
        OutboundPolicy::new(Arc::new(allowed))
    }

    fn permits(p: &OutboundPolicy, url: &str) -> bool {
        p.permits(&url.parse().unwrap())
    }

    #[test]
    fn nothing_is_allowed_by_default() {
        assert!(!permits(&policy(&[]), "http://example.com/"));
    }

    #[test]
    fn scheme_host_and_port_must_all_match() {
        let p = policy(&[
            "https://api.example.com",
            "http://localhost:*",
            "*://*.test:8080",
        ]);
        assert!(permits(&p, "https://api.example.com/x"));
        assert!(!permits(&p, "http://api.example.com/x"));
        assert!(!permits(&p, "https://api.example.com:8443/x"));
        assert!(permits(&p, "http://localhost:1234/"));
        assert!(permits(&p, "http://a.test:8080/"));
        assert!(!permits(&p, "http://test:8080/"));
    }

    #[test]
    fn unsupported_entries_are_refused() {
        for entry in [
            "example.com",
            "ftp://example.com",
            "http://self",
            "https://{{ host }}",
            "*://example.com",
            "http://example.com/path",
        ] {
            assert!(AllowedHost::parse(entry).is_err(), "{entry}");
        }
    }
}
