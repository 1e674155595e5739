//! Shared harness for the end-to-end tests and benchmarks: the app's real components,
//! built once per test process and served by the project host on an ephemeral port with
//! its own state directory, spoken to over HTTP.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value as Json;

pub mod bench;
pub mod gen;
pub mod seed;
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
    host: Option<spin_host::RunningHost>,
    state: tempfile::TempDir,
    agent: ureq::Agent,
    variables: HashMap<String, String>,
}

impl App {
    pub fn start() -> App {
        Self::start_with(&[])
    }

    /// Starts the app with these Spin variables set (besides `admin_token`).
    pub fn start_with(vars: &[(&str, &str)]) -> App {
        let manifest = workspace_root().join("spin.toml");
        spin_host::build_once(&manifest).expect("building the app's components");
        let state = tempfile::tempdir().expect("temp state dir");
        let mut variables: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        variables.insert("admin_token".into(), ADMIN.into());
        let mut app = App {
            host: None,
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
        let cfg = spin_host::HostConfig {
            manifest: workspace_root().join("spin.toml"),
            listen: "127.0.0.1:0".parse().expect("address"),
            state_dir: self.state.path().to_path_buf(),
            variables: self.variables.clone(),
            mode: spin_host::HostMode::Spin,
        };
        self.host = Some(spin_host::start(cfg).expect("starting the host"));
    }

    /// Stops the host and starts it again on the same state directory.
    pub fn restart(&mut self) {
        if let Some(h) = self.host.take() {
            h.stop();
        }
        self.boot();
    }

    pub fn base_url(&self) -> String {
        self.host.as_ref().expect("running").base_url()
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
        let resp = match r {
            Ok(resp) | Err(ureq::Error::Status(_, resp)) => resp,
            Err(e) => panic!("transport error: {e}"),
        };
        let status = resp.status();
        let headers = resp
            .headers_names()
            .into_iter()
            .filter_map(|n| resp.header(&n).map(|v| (n.to_lowercase(), v.to_owned())))
            .collect();
        let text = resp.into_string().unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Json::Null);
        Resp {
            status,
            headers,
            body,
            text,
        }
    }
}
