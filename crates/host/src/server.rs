//! Serving HTTP: route, then a fresh component instance per request (as Spin does).
//!
//! Whatever goes wrong inside one request (a trap, no response, a bad response) answers that
//! request 500 with a log line on stderr; the server keeps serving.

use crate::routes::{apply_spin_headers, Router};
use crate::state::{ComponentEnv, RequestState};
use crate::HostMode;
use anyhow::{anyhow, Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use wasmtime::component::Resource;
use wasmtime::Store;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::p2::types::{HostIncomingRequest, HostResponseOutparam};
use wasmtime_wasi_http::WasiHttpView;

/// Spin's liveness endpoint, answered by the host itself.
const HEALTH_PATH: &str = "/.well-known/spin/health";

/// A component ready to serve: pre-instantiated, with its grants.
pub struct ServedComponent {
    pub pre: ProxyPre<RequestState>,
    pub env: Arc<ComponentEnv>,
}

/// Everything needed to answer requests for one application.
pub struct AppRuntime {
    pub router: Router,
    pub components: HashMap<String, ServedComponent>,
    pub mode: HostMode,
}

/// Accepts connections until `shutdown` changes.
pub async fn serve(
    listener: TcpListener,
    app: Arc<AppRuntime>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, client)) => {
                    tokio::spawn(serve_connection(stream, client, app.clone()));
                }
                Err(e) => {
                    // E.g. out of file descriptors: back off instead of spinning.
                    eprintln!("spin-host: accept failed: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            _ = shutdown.changed() => return,
        }
    }
}

async fn serve_connection(stream: TcpStream, client: SocketAddr, app: Arc<AppRuntime>) {
    // Spin leaves Nagle's algorithm on. A response that leaves in two writes (as after a
    // key-value call) then waits for the client's delayed ACK of the first: ~40 ms.
    if app.mode == HostMode::Fast {
        let _ = stream.set_nodelay(true);
    }
    let service = hyper::service::service_fn(move |req| {
        let app = app.clone();
        async move { Ok::<_, Infallible>(answer(&app, req, client).await) }
    });
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
        .await
    {
        if !e.is_incomplete_message() {
            eprintln!("spin-host: connection from {client}: {e}");
        }
    }
}

async fn answer(
    app: &AppRuntime,
    req: hyper::Request<Incoming>,
    client: SocketAddr,
) -> hyper::Response<HyperOutgoingBody> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    if path == HEALTH_PATH {
        return text_response(hyper::StatusCode::OK, "OK");
    }
    let Some(route) = app.router.route(&path) else {
        return empty_response(hyper::StatusCode::NOT_FOUND);
    };
    let Some(component) = app.components.get(route.component()) else {
        eprintln!("spin-host: {method} {path}: route names missing component");
        return empty_response(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    };
    let spin_headers = route.spin_headers(
        &host_of(&req),
        req.uri().path_and_query().map_or("/", |pq| pq.as_str()),
        client,
    );
    match call_component(component, req, spin_headers, app.mode).await {
        Ok(response) => response,
        Err(e) => {
            eprintln!(
                "spin-host: {method} {path} -> 500: component '{}': {e:#}",
                component.env.id
            );
            empty_response(hyper::StatusCode::INTERNAL_SERVER_ERROR)
        }
    }
}

/// The request's `Host` header, or `localhost` as Spin assumes without one.
fn host_of(req: &hyper::Request<Incoming>) -> String {
    req.headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_string()
}

/// Runs the component's `wasi:http/incoming-handler` on a fresh instance.
async fn call_component(
    component: &ServedComponent,
    mut req: hyper::Request<Incoming>,
    spin_headers: Vec<(String, String)>,
    mode: HostMode,
) -> Result<hyper::Response<HyperOutgoingBody>> {
    apply_spin_headers(req.headers_mut(), spin_headers)?;
    absolutize_uri(&mut req)?;
    let mut store = Store::new(
        component.pre.engine(),
        RequestState::new(component.env.clone()),
    );
    let (sender, receiver) = tokio::sync::oneshot::channel();
    let incoming = store
        .data_mut()
        .http()
        .new_incoming_request(Scheme::Http, req)?;
    let outparam = store.data_mut().http().new_response_outparam(sender)?;
    // The guest may keep streaming the body after it has set the response; a failure after
    // that point can only be logged.
    let guest = match mode {
        HostMode::Spin => spawn_guest_as_spin(component, store, incoming, outparam).await?,
        HostMode::Fast => spawn_guest_on_own_thread(component, store, incoming, outparam),
    };
    match receiver.await {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(code)) => Err(anyhow!("component answered with error code {code:?}")),
        Err(_) => match guest.await {
            Ok(true) => Err(anyhow!("component returned without setting a response")),
            Ok(false) => Err(anyhow!("component failed (see the log line above)")),
            Err(join) => Err(anyhow!("component task failed: {join}")),
        },
    }
}

type IncomingRequest = Resource<HostIncomingRequest>;
type Outparam = Resource<HostResponseOutparam>;

/// As Spin's `WasiHttpExecutor`: instantiate on the connection's task, then run the handler
/// as a task of its own on the async threads (its storage calls block or hop as in Spin).
async fn spawn_guest_as_spin(
    component: &ServedComponent,
    mut store: Store<RequestState>,
    incoming: IncomingRequest,
    outparam: Outparam,
) -> Result<JoinHandle<bool>> {
    // Spin's deadline when a request has none: never reached, but every check still runs.
    store.set_epoch_deadline(u64::MAX / 2);
    let proxy = component.pre.instantiate_async(&mut store).await?;
    let id = component.env.id.clone();
    Ok(tokio::spawn(async move {
        let result = proxy
            .wasi_http_incoming_handler()
            .call_handle(&mut store, incoming, outparam)
            .await;
        log_failure(&id, &result)
    }))
}

/// The guest on a blocking thread of its own, driven there by `block_on`, so its storage
/// calls run inline on that thread instead of hopping to another thread and back for every
/// statement, and never block the async threads that serve HTTP.
fn spawn_guest_on_own_thread(
    component: &ServedComponent,
    mut store: Store<RequestState>,
    incoming: IncomingRequest,
    outparam: Outparam,
) -> JoinHandle<bool> {
    let pre = component.pre.clone();
    let id = component.env.id.clone();
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let result = runtime.block_on(async {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy
                .wasi_http_incoming_handler()
                .call_handle(&mut store, incoming, outparam)
                .await
        });
        log_failure(&id, &result)
    })
}

/// Logs a failed guest; `true` if it did not fail.
fn log_failure(id: &str, result: &wasmtime::Result<()>) -> bool {
    if let Err(e) = result {
        eprintln!("spin-host: component '{id}' failed: {e:?}");
    }
    result.is_ok()
}

/// wasi:http gives the guest scheme and authority from the URI: make it absolute as Spin does.
fn absolutize_uri(req: &mut hyper::Request<Incoming>) -> Result<()> {
    let authority = req
        .headers()
        .get(http::header::HOST)
        .map(|h| h.to_str().context("Host header is not UTF-8"))
        .transpose()?
        .unwrap_or("localhost")
        .parse::<http::uri::Authority>()
        .context("Host header is not a valid authority")?;
    let mut parts = req.uri().clone().into_parts();
    parts.scheme = Some(http::uri::Scheme::HTTP);
    parts.authority = Some(authority);
    if parts.path_and_query.is_none() {
        parts.path_and_query = Some(http::uri::PathAndQuery::from_static("/"));
    }
    *req.uri_mut() = http::Uri::from_parts(parts)?;
    Ok(())
}

fn empty_response(status: hyper::StatusCode) -> hyper::Response<HyperOutgoingBody> {
    text_response(status, "")
}

fn text_response(
    status: hyper::StatusCode,
    text: &'static str,
) -> hyper::Response<HyperOutgoingBody> {
    let mut response = hyper::Response::new(
        Full::new(Bytes::from_static(text.as_bytes()))
            .map_err(|never| match never {})
            .boxed_unsync(),
    );
    *response.status_mut() = status;
    response
}
