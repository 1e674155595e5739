//! The web console (SPEC §7): how the `console` component serves the page and its assets,
//! and every screen's main path in a real headless Chromium (`tests/browser/console.mjs`,
//! playwright-core + axe-core), against the app on the host.
//!
//! Needs Node.js (the console's build needs it too) and Debian's `chromium` at
//! `/usr/bin/chromium` (or `CHROMIUM`); `.ci/run` installs both. With
//! `CONSOLE_SCREENSHOTS=<dir>` (relative to the workspace root, e.g. `docs/screenshots`),
//! the browser test saves each screen there.

use std::io::Read;
use std::path::Path;
use std::process::Command;

use contacts_e2e::{gen, workspace_root, App, ADMIN};
use serde_json::json;

/// The shipped JavaScript and CSS, compressed (issue 16).
const BUDGET_GZIP_BYTES: usize = 150 * 1024;

struct Fetched {
    status: u16,
    /// Lower-case names.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Fetched {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn fetch(app: &App, path: &str, headers: &[(&str, &str)]) -> Fetched {
    let mut req = ureq::get(&format!("{}{}", app.base_url(), path));
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let resp = match req.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("GET {path}: {e}"),
    };
    let status = resp.status();
    let names = resp.headers_names();
    let headers: Vec<(String, String)> = names
        .iter()
        .filter_map(|n| Some((n.to_lowercase(), resp.header(n)?.to_owned())))
        .collect();
    let mut body = Vec::new();
    resp.into_reader()
        .read_to_end(&mut body)
        .expect("reading a body");
    Fetched {
        status,
        headers,
        body,
    }
}

/// `/assets/...` URLs the page links.
fn linked_assets(html: &str) -> Vec<String> {
    html.split('"')
        .filter(|s| s.starts_with("/assets/"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_page_and_its_assets_are_served_with_the_right_headers() {
    let app = App::start();
    let page = fetch(&app, "/", &[]);
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(page.header("cache-control"), Some("no-cache"));
    let csp = page.header("content-security-policy").expect("a CSP");
    assert!(csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"));
    let etag = page.header("etag").expect("an ETag").to_owned();
    assert_eq!(fetch(&app, "/", &[("if-none-match", &etag)]).status, 304);

    let html = String::from_utf8(page.body).expect("UTF-8 page");
    let assets = linked_assets(&html);
    assert_eq!(assets.len(), 2, "one script and one stylesheet: {html}");
    let mut shipped = 0;
    for path in &assets {
        let plain = fetch(&app, path, &[]);
        assert_eq!(plain.status, 200, "{path}");
        let want = if path.ends_with(".js") {
            "text/javascript; charset=utf-8"
        } else {
            "text/css; charset=utf-8"
        };
        assert_eq!(plain.header("content-type"), Some(want));
        assert_eq!(
            plain.header("cache-control"),
            Some("public, max-age=31536000, immutable")
        );
        let gz = fetch(&app, path, &[("accept-encoding", "gzip, br")]);
        assert_eq!(gz.header("content-encoding"), Some("gzip"));
        assert!(gz.body.len() < plain.body.len());
        shipped += gz.body.len();
    }
    assert!(
        shipped <= BUDGET_GZIP_BYTES,
        "JS + CSS gzip {shipped} B over {BUDGET_GZIP_BYTES} B"
    );
    // No asset is fetched from another host: the page names only its own paths.
    assert!(!html.contains("http://") && !html.contains("https://"));

    assert_eq!(fetch(&app, "/assets/app-0000.js", &[]).status, 404);
    let api = app.get("/api/not-a-route");
    api.assert_problem(404, None);
    let me = app.get("/api/me");
    assert_eq!(me.body, json!({"login": "admin", "role": "admin"}));
    let agent = app.token("maria", "agent");
    let me = app.call("GET", "/api/me", Some(&agent), None);
    assert_eq!(me.body, json!({"login": "maria", "role": "agent"}));
    app.call("GET", "/api/me", None, None)
        .assert_problem(401, None);
}

/// Contacts the browser paths look for, besides ~50 generated ones (two pages).
fn seed(app: &App) {
    let field = json!({"key": "score", "label": "Score", "type": "number"});
    assert_eq!(app.post("/api/fields", &field).status, 201);
    for n in 0..52 {
        app.create(&gen::contact(16, n));
    }
    let named = [
        json!({"first_name": "Zebulon", "last_name": "Quist", "email": "zq@example.org", "city": "Paris",
               "identities": [{"channel": "telegram", "external_id": "tg-zebulon"}]}),
        json!({"first_name": "Paula", "last_name": "Vip", "email": "paula@example.org", "city": "Paris", "tags": ["vip"]}),
        json!({"first_name": "Pierre", "last_name": "Acme", "email": "pierre@example.org", "city": "Paris", "company": "Acme Paris"}),
        json!({"first_name": "Dana", "last_name": "Duplicate", "email": "dana1@example.org", "company": "Dup Ltd"}),
        json!({"first_name": "Dana", "last_name": "Duplicate", "email": "dana2@example.org", "company": "Dup Ltd"}),
        json!({"first_name": "Dora", "last_name": "Disposable", "email": "dora@example.org"}),
        json!({"first_name": "Dino", "last_name": "Disposable", "email": "dino@example.org"}),
        json!({"first_name": "Tia", "last_name": "Triplet", "email": "tia@example.org", "tags": ["a"]}),
        json!({"first_name": "Tia", "last_name": "Triplet", "phone": "+14155550199", "tags": ["b"]}),
        json!({"first_name": "Tia", "last_name": "Triplet", "email": "tia.t@example.org", "company": "Trio"}),
    ];
    for body in &named {
        app.create(body);
    }
}

fn browser_test_dir() -> std::path::PathBuf {
    workspace_root().join("tests").join("browser")
}

/// `npm ci` in the browser-test folder when its packages are not installed yet.
fn install_browser_packages(dir: &Path) {
    if dir.join("node_modules").join("playwright-core").exists() {
        return;
    }
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir)
        .status()
        .expect("running npm (Node.js is needed to build and test the console)");
    assert!(status.success(), "npm ci in {} failed", dir.display());
}

#[test]
fn every_screen_works_in_headless_chromium() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: install it (`apt-get install -y chromium`) or set CHROMIUM"
    );
    let dir = browser_test_dir();
    install_browser_packages(&dir);
    let app = App::start();
    seed(&app);
    let mut cmd = Command::new("node");
    cmd.arg(dir.join("console.mjs"))
        .arg(app.base_url())
        .arg(ADMIN)
        .env("CHROMIUM", &chromium);
    if let Ok(shots) = std::env::var("CONSOLE_SCREENSHOTS") {
        cmd.env("SCREENSHOTS", workspace_root().join(shots));
    }
    let out = cmd.output().expect("running node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "the browser test failed:\n{stdout}\n{stderr}"
    );
}
