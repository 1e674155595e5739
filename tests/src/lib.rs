//! Shared harness for the end-to-end tests and benchmarks: the app's real components,
//! built once per test process and served by the project host on an ephemeral port with
//! its own state directory, spoken to over HTTP.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value as Json;

pub mod bench;
pub mod child;
pub mod gen;
pub mod seed;
pub mod soak;
pub mod webhooks;

/// The bootstrap admin token every test app starts with.
pub const ADMIN: &str = "test-admin-token";

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// A running copy of the app with an empty state directory.
pub struct App {
    host: Option<Host>,
    /// Serve from a `spin-host up` child process, so [`App::kill`] can SIGKILL it.
    in_child: bool,
    /// The child's base URL, which a restart keeps.
    last_url: Option<String>,
    state: tempfile::TempDir,
    agent: ureq::Agent,
    variables: HashMap<String, String>,
}

enum Host {
    InProcess(spin_host::RunningHost),
    Child(child::ChildHost),
}

impl App {
    pub fn start() -> App {
        Self::start_with(&[])
    }

    /// Starts the app in a `spin-host up` child process, for tests that kill it.
    pub fn start_in_child() -> App {
        Self::start_as(&[], true)
    }

    /// [`App::start_in_child`] with these Spin variables set (besides `admin_token`).
    pub fn start_in_child_with(vars: &[(&str, &str)]) -> App {
        Self::start_as(vars, true)
    }

    /// [`App::start_in_child_with`] on a state directory prepared beforehand (a seeded copy).
    pub fn start_in_child_on(state: tempfile::TempDir, vars: &[(&str, &str)]) -> App {
        Self::start_on(state, vars, true)
    }

    /// Starts the app with these Spin variables set (besides `admin_token`).
    pub fn start_with(vars: &[(&str, &str)]) -> App {
        Self::start_as(vars, false)
    }

    fn start_as(vars: &[(&str, &str)], in_child: bool) -> App {
        Self::start_on(tempfile::tempdir().expect("temp state dir"), vars, in_child)
    }

    fn start_on(state: tempfile::TempDir, vars: &[(&str, &str)], in_child: bool) -> App {
        let manifest = workspace_root().join("spin.toml");
        spin_host::build_once(&manifest).expect("building the app's components");
        let mut variables: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        variables.insert("admin_token".into(), ADMIN.into());
        let mut app = App {
            host: None,
            in_child,
            last_url: None,
            state,
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(120))
                .build(),
            variables,
        };
        app.boot();
        app
    }

    fn boot(&mut self) {
        let host = if self.in_child {
            let variables: Vec<(String, String)> = self.variables.clone().into_iter().collect();
            // A restarted host takes the port back, so clients keep their base URL.
            let listen = self
                .last_url
                .as_deref()
                .and_then(|u| u.strip_prefix("http://"));
            let child = child::ChildHost::start(
                listen.unwrap_or("127.0.0.1:0"),
                self.state.path(),
                &variables,
            );
            self.last_url = Some(child.base_url().to_owned());
            Host::Child(child)
        } else {
            let cfg = spin_host::HostConfig {
                manifest: workspace_root().join("spin.toml"),
                listen: "127.0.0.1:0".parse().expect("address"),
                state_dir: self.state.path().to_path_buf(),
                variables: self.variables.clone(),
                mode: spin_host::HostMode::Spin,
            };
            Host::InProcess(spin_host::start(cfg).expect("starting the host"))
        };
        self.host = Some(host);
    }

    /// Stops the host and starts it again on the same state directory.
    pub fn restart(&mut self) {
        match self.host.take() {
            Some(Host::InProcess(h)) => h.stop(),
            Some(Host::Child(c)) => c.kill(),
            None => {}
        }
        self.boot();
    }

    /// SIGKILLs the host process (started with [`App::start_in_child`]) wherever it is;
    /// [`App::restart`] brings it back on the same state directory.
    pub fn kill(&mut self) {
        match self.host.take() {
            Some(Host::Child(c)) => c.kill(),
            Some(Host::InProcess(_)) => panic!("kill needs App::start_in_child"),
            None => {}
        }
    }

    pub fn base_url(&self) -> String {
        match self.host.as_ref().expect("running") {
            Host::InProcess(h) => h.base_url(),
            Host::Child(c) => c.base_url().to_owned(),
        }
    }

    pub fn state_dir(&self) -> &Path {
        self.state.path()
    }

    pub fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Json>) -> Resp {
        self.call_with(method, path, token, body, &[])
    }

    pub fn call_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Json>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = self
            .agent
            .request(method, &format!("{}{}", self.base_url(), path));
        if let Some(t) = token {
            req = req.set("authorization", &format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.set(k, v);
        }
        let result = match body {
            Some(b) => req
                .set("content-type", "application/json")
                .send_string(&b.to_string()),
            None => req.call(),
        };
        Resp::from(result)
    }

    /// Sends raw bytes with a content type.
    pub fn send_raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        content_type: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> Resp {
        let mut req = self
            .agent
            .request(method, &format!("{}{}", self.base_url(), path))
            .set("content-type", content_type);
        if let Some(t) = token {
            req = req.set("authorization", &format!("Bearer {t}"));
        }
        for (k, v) in headers {
            req = req.set(k, v);
        }
        Resp::from(req.send_bytes(body))
    }

    pub fn get(&self, path: &str) -> Resp {
        self.call("GET", path, Some(ADMIN), None)
    }

    pub fn post(&self, path: &str, body: &Json) -> Resp {
        self.call("POST", path, Some(ADMIN), Some(body))
    }

    pub fn patch(&self, path: &str, body: &Json) -> Resp {
        self.call("PATCH", path, Some(ADMIN), Some(body))
    }

    pub fn put(&self, path: &str, body: &Json) -> Resp {
        self.call("PUT", path, Some(ADMIN), Some(body))
    }

    pub fn delete(&self, path: &str) -> Resp {
        self.call("DELETE", path, Some(ADMIN), None)
    }

    /// Issues a token for `login` with `role`.
    pub fn token(&self, login: &str, role: &str) -> String {
        let r = self.post(
            "/api/tokens",
            &serde_json::json!({"login": login, "role": role}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        r.body["token"].as_str().expect("token").to_owned()
    }

    /// Creates a contact and returns its body; panics unless 201.
    pub fn create(&self, body: &Json) -> Json {
        let r = self.post("/api/contacts", body);
        assert_eq!(r.status, 201, "create {body}: {}", r.body);
        r.body
    }
}

/// A response: status, headers (lower-case names), JSON body (Null when empty or not JSON).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HashMap<String, String>,
    pub body: Json,
    pub text: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// Asserts an RFC 9457 problem with this status (and field, when given).
    pub fn assert_problem(&self, status: u16, field: Option<&str>) {
        assert_eq!(self.status, status, "{}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.text
        );
        for k in ["type", "title", "status", "detail"] {
            assert!(
                self.body.get(k).is_some(),
                "problem without {k}: {}",
                self.text
            );
        }
        assert_eq!(self.body["status"], status);
        if let Some(f) = field {
            assert_eq!(self.body["field"], f, "{}", self.text);
        }
    }
}

impl From<Result<ureq::Response, ureq::Error>> for Resp {
    fn from(r: Result<ureq::Response, ureq::Error>) -> Self {
        Resp::read(r).unwrap_or_else(|e| panic!("transport error: {e}"))
    }
}

impl Resp {
    /// A response of any status; `Err` when none came (host down, connection cut).
    pub fn read(r: Result<ureq::Response, ureq::Error>) -> Result<Resp, String> {
        let resp = match r {
            Ok(resp) | Err(ureq::Error::Status(_, resp)) => resp,
            Err(e) => return Err(e.to_string()),
        };
        let status = resp.status();
        let headers = resp
            .headers_names()
            .into_iter()
            .filter_map(|n| resp.header(&n).map(|v| (n.to_lowercase(), v.to_owned())))
            .collect();
        let text = resp.into_string().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Json::Null);
        Ok(Resp {
            status,
            headers,
            body,
            text,
        })
    }
}
