//! Keep-alive clients (browsers, the console, chat platforms) on the app's per-request routes,
//! under the host's default, Spin-faithful mode. Under self-hosted Spin a key-value call makes
//! a response leave in two TCP segments, and a keep-alive client waits ~40 ms for the second
//! (`host_key_value` shows the host reproduces it). The app keeps key-value off these routes,
//! so each response arrives in one piece.

mod host_common;
use contacts_e2e::{App, ADMIN};
use host_common::{Arrival, KeepAlive};
use serde_json::json;

#[test]
fn the_apps_routes_answer_keep_alive_clients_in_one_piece() {
    let app = App::start();
    let created = app.post(
        "/api/contacts",
        &json!({"first_name": "Ana", "last_name": "Lima", "email": "ana.lima@example.com"}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["contact_id"]
        .as_str()
        .expect("contact_id")
        .to_owned();
    let view = app.put(
        "/api/views/table",
        &json!({"columns": ["display_name", "email"]}),
    );
    assert_eq!(view.status, 200, "{}", view.text);
    let routes = [
        format!("/api/contacts/{id}"),
        "/api/contacts?limit=50".to_string(),
        "/api/search?q=ana".to_string(),
        "/api/views/table".to_string(),
        "/api/settings/autocreate".to_string(),
        "/api/fields".to_string(),
        "/api/openapi.json".to_string(),
    ];
    // Settings saved before schema version 2 are copied from key-value by the first request
    // that reads one, once per database; this pass is that request.
    for route in &routes {
        assert_eq!(app.get(route).status, 200, "{route}");
    }

    let addr = app
        .base_url()
        .trim_start_matches("http://")
        .parse()
        .expect("host address");
    let mut conn = KeepAlive::connect(addr);
    let auth = format!("Bearer {ADMIN}");
    for route in &routes {
        let arrivals: Vec<Arrival> = (0..15)
            .map(|_| conn.get_with(route, &[("authorization", &auth)]))
            .collect();
        assert!(
            arrivals.iter().all(|a| a.status == 200),
            "{route}: {arrivals:?}"
        );
        let mut times: Vec<_> = arrivals.iter().map(|a| a.elapsed).collect();
        times.sort();
        eprintln!(
            "{route}: median {:?} with a keep-alive client",
            times[times.len() / 2]
        );
        let split = arrivals.iter().filter(|a| a.parts > 1).count();
        assert_eq!(
            split, 0,
            "{route}: {split} of 15 responses arrived in parts"
        );
    }
}
