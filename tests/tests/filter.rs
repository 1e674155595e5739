//! End-to-end: the filter component through the host — `POST /api/query` and segments
//! (SPEC §3, §8, §9), their error paths, access, and the account time zone.

use contacts_e2e::{App, Resp};
use serde_json::{json, Value as Json};

fn ids(resp: &Resp) -> Vec<String> {
    assert_eq!(resp.status, 200, "{}", resp.text);
    resp.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["contact_id"].as_str().expect("contact_id").to_owned())
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

fn cond(field: &str, op: &str, value: Json) -> Json {
    json!({"field": field, "op": op, "value": value})
}

/// Ten contacts in three cities, with tags, stages, owners and custom values.
fn seed(app: &App) {
    for (key, ty, options) in [
        ("tier", "single_select", Some(json!(["Gold", "Silver"]))),
        ("score", "number", None),
        ("seen", "datetime", None),
    ] {
        let mut def = json!({"key": key, "label": key, "type": ty});
        if let Some(o) = options {
            def["options"] = o;
        }
        assert_eq!(app.post("/api/fields", &def).status, 201);
    }
    app.token("maria", "agent");
    let rows = [
        (
            "P1",
            "Paris",
            "FR",
            "customer",
            json!(["vip"]),
            "Lima",
            json!({"tier": "Gold", "score": 10}),
        ),
        (
            "P2",
            "paris",
            "FR",
            "lead",
            json!(["VIP", "beta"]),
            "Costa",
            json!({"tier": "Silver", "score": 20}),
        ),
        (
            "P3",
            "Paris",
            "FR",
            "customer",
            json!([]),
            "Abreu",
            json!({"score": 30}),
        ),
        (
            "P4",
            "PARIS",
            "FR",
            "contact",
            json!(["beta"]),
            "Zhang",
            json!({}),
        ),
        (
            "L1",
            "Lyon",
            "FR",
            "customer",
            json!(["vip"]),
            "Dubois",
            json!({"tier": "Gold"}),
        ),
        ("L2", "Lyon", "FR", "lead", json!([]), "Martin", json!({})),
        (
            "S1",
            "São Paulo",
            "BR",
            "customer",
            json!(["vip"]),
            "Silva",
            json!({"score": 99}),
        ),
        (
            "S2",
            "São Paulo",
            "BR",
            "lead",
            json!(["100%"]),
            "Santos",
            json!({}),
        ),
        (
            "N1",
            "100% Town",
            "US",
            "contact",
            json!([]),
            "O'Brien",
            json!({}),
        ),
        (
            "N2",
            "1000 Town",
            "US",
            "contact",
            json!([]),
            "Smith",
            json!({}),
        ),
    ];
    for (id, city, country, stage, tags, last, custom) in rows {
        let mut body = json!({
            "contact_id": id, "first_name": "T", "last_name": last, "city": city,
            "country": country, "lead_stage": stage, "tags": tags, "custom": custom,
        });
        if id.ends_with('1') {
            body["owner"] = json!("maria");
        }
        app.create(&body);
    }
}

#[test]
fn query_filters_sorts_pages_and_counts() {
    let app = App::start();
    seed(&app);
    let f = json!({"all": [
        cond("city", "eq", json!("PARIS")),
        {"any": [cond("tags", "has_any", json!(["vip"])), cond("lead_stage", "in", json!(["customer"]))]},
    ]});
    let r = app.post("/api/query", &json!({"filter": f}));
    assert_eq!(r.body["total"], 3, "{}", r.text);
    assert_eq!(sorted(ids(&r)), ["P1", "P2", "P3"]);
    assert!(r.body["next_cursor"].is_null());

    // Sort by a field, page through with cursors: every contact exactly once, in order.
    let body = |cursor: Json| {
        json!({"filter": {"all": [cond("country", "eq", json!("FR"))]},
               "sort": [{"field": "last_name", "dir": "asc"}], "limit": 2, "cursor": cursor})
    };
    let mut seen = Vec::new();
    let mut cursor = Json::Null;
    loop {
        let r = app.post("/api/query", &body(cursor));
        assert_eq!(r.body["total"], 6, "{}", r.text);
        seen.extend(ids(&r));
        cursor = r.body["next_cursor"].clone();
        if cursor.is_null() {
            break;
        }
    }
    assert_eq!(seen, ["P3", "P2", "L1", "P1", "L2", "P4"]);

    // Columns: the caller's table view, or `fields`.
    let r = app.post("/api/query", &json!({"filter": {"all": [cond("contact_id", "eq", json!("S1"))]}, "fields": ["city", "custom.score", "tags"]}));
    assert_eq!(
        r.body["items"][0],
        json!({"contact_id": "S1", "city": "São Paulo", "tags": ["vip"], "custom": {"score": 99}})
    );
    let r = app.post(
        "/api/query",
        &json!({"filter": {"all": [cond("contact_id", "eq", json!("S1"))]}}),
    );
    assert!(r.body["items"][0].get("lead_stage").is_some(), "{}", r.text);

    // No filter: segment all. Empty groups: all or nothing.
    assert_eq!(app.post("/api/query", &json!({})).body["total"], 10);
    assert_eq!(
        app.post("/api/query", &json!({"filter": {"all": []}})).body["total"],
        10
    );
    assert_eq!(
        app.post("/api/query", &json!({"filter": {"any": []}})).body["total"],
        0
    );
    assert_eq!(
        app.post(
            "/api/query",
            &json!({"filter": {"all": []}, "segment": "blocked"})
        )
        .body["total"],
        0
    );
}

#[test]
fn operators_work_through_the_host() {
    let app = App::start();
    seed(&app);
    let q = |f: Json| {
        sorted(ids(&app.post(
            "/api/query",
            &json!({"filter": {"all": [f]}, "limit": 500}),
        )))
    };
    // LIKE wildcards are literal; quotes are values.
    assert_eq!(q(cond("city", "starts_with", json!("100%"))), ["N1"]);
    assert_eq!(
        q(cond("city", "contains", json!("_"))),
        Vec::<String>::new()
    );
    assert_eq!(q(cond("last_name", "eq", json!("o'brien"))), ["N1"]);
    assert_eq!(
        q(cond("city", "eq", json!("' OR '1'='1"))),
        Vec::<String>::new()
    );
    assert_eq!(q(cond("tags", "has_any", json!(["100%"]))), ["S2"]);
    assert_eq!(q(cond("tags", "has_all", json!(["vip", "beta"]))), ["P2"]);
    assert_eq!(
        q(cond("tags", "has_none", json!(["vip", "beta"]))),
        ["L2", "N1", "N2", "P3", "S2"]
    );
    assert_eq!(
        q(cond("tags", "no_tags", Json::Null)),
        ["L2", "N1", "N2", "P3"]
    );
    assert_eq!(
        q(cond("owner", "eq", json!("MARIA"))),
        ["L1", "N1", "P1", "S1"]
    );
    assert_eq!(q(cond("owner", "unassigned", Json::Null)).len(), 6);
    assert_eq!(q(cond("owner", "neq", json!("maria"))).len(), 6);
    assert_eq!(
        q(cond("custom.tier", "not_in", json!(["gold"]))),
        ["L2", "N1", "N2", "P2", "P3", "P4", "S1", "S2"]
    );
    assert_eq!(
        q(cond("custom.score", "between", json!([20, 99]))),
        ["P2", "P3", "S1"]
    );
    assert_eq!(q(cond("custom.score", "gt", json!(25))), ["P3", "S1"]);
    assert_eq!(q(cond("custom.score", "empty", Json::Null)).len(), 6);
    assert_eq!(
        q(cond("country", "neq", json!("fr"))),
        ["N1", "N2", "S1", "S2"]
    );
    assert_eq!(
        q(cond("created_at", "today", Json::Null)).len()
            + q(cond("created_at", "yesterday", Json::Null)).len(),
        10
    );
    assert_eq!(q(cond("created_at", "last_days", json!(1))).len(), 10);
    assert_eq!(q(cond("created_at", "last_month", Json::Null)).len(), 0);
    assert_eq!(q(cond("blocked", "is_false", Json::Null)).len(), 10);
}

#[test]
fn bad_queries_get_clear_problems() {
    let app = App::start();
    seed(&app);
    let post = |body: Json| app.post("/api/query", &body);
    post(json!({"filter": {"all": [cond("city", "eq", json!("x")), cond("nope", "eq", json!("x"))]}}))
        .assert_problem(422, Some("filter.all[1].field"));
    post(json!({"filter": {"all": [cond("city", "gt", json!(3))]}}))
        .assert_problem(422, Some("filter.all[0].op"));
    post(json!({"filter": {"all": [cond("custom.score", "contains", json!("1"))]}}))
        .assert_problem(422, Some("filter.all[0].op"));
    post(json!({"filter": {"all": [cond("custom.score", "gt", json!("ten"))]}}))
        .assert_problem(422, Some("filter.all[0].value"));
    post(json!({"filter": {"all": [cond("custom.gone", "eq", json!("x"))]}}))
        .assert_problem(422, Some("filter.all[0].field"));
    post(json!({"filter": {"all": [cond("city; DROP TABLE contacts", "eq", json!("x"))]}}))
        .assert_problem(422, Some("filter.all[0].field"));
    post(json!({"filter": {"all": [{"any": [{"all": [{"any": [cond("city", "eq", json!("x"))]}]}]}]}}))
        .assert_problem(422, Some("filter.all[0].any[0].all[0].any"));
    let many: Vec<Json> = (0..51).map(|_| cond("city", "eq", json!("x"))).collect();
    post(json!({"filter": {"all": many}})).assert_problem(422, Some("filter.all[50]"));
    post(json!({"filter": {"all": "city"}})).assert_problem(400, Some("filter.all"));
    post(json!({"filter": {"all": []}, "limit": 501})).assert_problem(422, Some("limit"));
    post(json!({"filter": {"all": []}, "limit": "ten"})).assert_problem(422, Some("limit"));
    post(json!({"filter": {}})).assert_problem(400, Some("filter.field"));
    post(json!({"filter": {"all": []}, "cursor": "garbage"})).assert_problem(422, Some("cursor"));
    post(json!({"filter": {"all": []}, "segment": "99"})).assert_problem(422, Some("segment"));
    post(json!({"filter": {"all": []}, "segment": "vip"})).assert_problem(422, Some("segment"));
    post(json!({"filter": {"all": []}, "segment": true})).assert_problem(400, Some("segment"));
    post(json!({"filter": {"all": []}, "sort": [{"field": "tags"}]})).assert_problem(422, None);
    post(json!({"filters": {}})).assert_problem(422, Some("filters"));
    app.send_raw(
        "POST",
        "/api/query",
        Some(contacts_e2e::ADMIN),
        "application/json",
        b"{not json",
        &[],
    )
    .assert_problem(400, None);
    app.call("POST", "/api/query", None, Some(&json!({})))
        .assert_problem(401, None);
    // The database is intact after the injection attempts.
    assert_eq!(post(json!({})).body["total"], 10);
}

#[test]
fn segments_are_saved_counted_listed_and_paged() {
    let app = App::start();
    seed(&app);
    let list = app.get("/api/segments");
    assert_eq!(list.status, 200, "{}", list.text);
    let items = list.body["items"].as_array().unwrap();
    assert_eq!(items[0]["id"], "all");
    assert_eq!(items[0]["count"], 10);
    assert_eq!(items[0]["system"], true);
    assert_eq!(items[1]["id"], "blocked");
    assert_eq!(items[1]["count"], 0);

    let created = app.post(
        "/api/segments",
        &json!({"name": "Paris VIPs", "filter": {"all": [
        cond("city", "eq", json!("paris")), cond("tags", "has_any", json!(["vip"]))]}}),
    );
    assert_eq!(created.status, 201, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created.header("location"),
        Some(format!("/api/segments/{id}").as_str())
    );
    assert_eq!(created.body["count"], 2);
    assert_eq!(created.body["system"], false);
    assert_eq!(created.body["name"], "Paris VIPs");

    let page = app.get(&format!(
        "/api/segments/{id}/contacts?limit=1&sort=last_name"
    ));
    assert_eq!(ids(&page), ["P2"]);
    let next = page.body["next_cursor"].as_str().unwrap();
    let page2 = app.get(&format!(
        "/api/segments/{id}/contacts?limit=1&sort=last_name&cursor={next}"
    ));
    assert_eq!(ids(&page2), ["P1"]);
    assert!(page2.body["next_cursor"].is_null());
    // The same segment narrows a query, the contact list, and shows in the listing.
    let r = app.post(
        "/api/query",
        &json!({"segment": id, "filter": {"all": [cond("lead_stage", "eq", json!("lead"))]}}),
    );
    assert_eq!(ids(&r), ["P2"]);
    assert_eq!(r.body["total"], 1);
    let listed = app.get(&format!("/api/contacts?segment={id}"));
    assert_eq!(sorted(ids(&listed)), ["P1", "P2"]);
    let all = app.get("/api/segments").body;
    assert_eq!(all["items"][2]["id"], id);
    assert_eq!(all["items"][2]["count"], 2);

    // Change it; names are unique; system segments are fixed.
    let changed = app.patch(
        &format!("/api/segments/{id}"),
        &json!({"filter": {"all": [cond("city", "eq", json!("lyon"))]}}),
    );
    assert_eq!(changed.status, 200, "{}", changed.text);
    assert_eq!(changed.body["count"], 2);
    assert_eq!(changed.body["name"], "Paris VIPs");
    let renamed = app.patch(&format!("/api/segments/{id}"), &json!({"name": "Lyon"}));
    assert_eq!(renamed.body["name"], "Lyon");
    app.post(
        "/api/segments",
        &json!({"name": "lyon", "filter": {"all": []}}),
    )
    .assert_problem(409, Some("name"));
    app.post(
        "/api/segments",
        &json!({"name": "All", "filter": {"all": []}}),
    )
    .assert_problem(409, Some("name"));
    app.post(
        "/api/segments",
        &json!({"name": "x", "filter": {"all": [cond("city", "has_any", json!(["x"]))]}}),
    )
    .assert_problem(422, Some("filter.all[0].op"));
    app.post("/api/segments", &json!({"filter": {"all": []}}))
        .assert_problem(422, Some("name"));
    app.patch("/api/segments/all", &json!({"name": "x"}))
        .assert_problem(422, Some("id"));
    app.delete("/api/segments/blocked")
        .assert_problem(422, Some("id"));
    app.get("/api/segments/nope").assert_problem(404, None);
    app.get("/api/segments/12345").assert_problem(404, None);
    assert_eq!(app.get("/api/segments/all").body["count"], 10);

    // Agents may query and save segments; deleting one takes an admin.
    let agent = app.token("ana", "agent");
    let mine = app.call(
        "POST",
        "/api/segments",
        Some(&agent),
        Some(
            &json!({"name": "Mine", "filter": {"all": [cond("owner", "unassigned", Json::Null)]}}),
        ),
    );
    assert_eq!(mine.status, 201, "{}", mine.text);
    let mine_id = mine.body["id"].as_str().unwrap();
    assert_eq!(
        app.call(
            "POST",
            "/api/query",
            Some(&agent),
            Some(&json!({"segment": mine_id}))
        )
        .body["total"],
        6
    );
    app.call(
        "DELETE",
        &format!("/api/segments/{mine_id}"),
        Some(&agent),
        None,
    )
    .assert_problem(403, None);
    assert_eq!(app.delete(&format!("/api/segments/{mine_id}")).status, 204);
    app.get(&format!("/api/segments/{mine_id}"))
        .assert_problem(404, None);
    app.delete(&format!("/api/segments/{mine_id}"))
        .assert_problem(404, None);
}

#[test]
fn a_segment_naming_a_deleted_field_reports_it() {
    let app = App::start();
    seed(&app);
    let created = app.post(
        "/api/segments",
        &json!({"name": "Gold", "filter": {"all": [cond("custom.tier", "in", json!(["Gold"]))]}}),
    );
    assert_eq!(created.body["count"], 2, "{}", created.text);
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(app.delete("/api/fields/tier").status, 204);

    let listed = app.get("/api/segments");
    assert_eq!(listed.status, 200, "{}", listed.text);
    let seg = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id.as_str())
        .unwrap()
        .clone();
    assert!(seg["count"].is_null(), "{seg}");
    assert_eq!(seg["error"]["field"], "filter.all[0].field");
    assert!(
        seg["error"]["detail"]
            .as_str()
            .unwrap()
            .contains("custom.tier"),
        "{seg}"
    );
    assert!(app.get(&format!("/api/segments/{id}")).body["error"].is_object());

    for r in [
        app.get(&format!("/api/segments/{id}/contacts")),
        app.post("/api/query", &json!({"segment": id})),
        app.get(&format!("/api/contacts?segment={id}")),
    ] {
        r.assert_problem(422, Some("segment"));
        assert!(
            r.body["detail"].as_str().unwrap().contains("custom.tier"),
            "{}",
            r.text
        );
    }
    // Fixing the filter brings it back.
    let fixed = app.patch(
        &format!("/api/segments/{id}"),
        &json!({"filter": {"all": [cond("custom.score", "not_empty", Json::Null)]}}),
    );
    assert_eq!(fixed.status, 200, "{}", fixed.text);
    assert_eq!(fixed.body["count"], 4);
    assert!(fixed.body.get("error").is_none());
}

#[test]
fn dates_are_days_of_the_account_time_zone() {
    let app = App::start_with(&[("timezone", "America/Sao_Paulo")]);
    assert_eq!(
        app.post(
            "/api/fields",
            &json!({"key": "seen", "label": "Seen", "type": "datetime"})
        )
        .status,
        201
    );
    // 23:30 local on DST change days: 2018-11-03 (clocks jump at midnight) and 2019-02-16,
    // whose 23:00–24:00 happened twice.
    for (id, at) in [
        ("SPRING", "2018-11-03T23:30:00-03:00"),
        ("FALL1", "2019-02-16T23:30:00-02:00"),
        ("FALL2", "2019-02-16T23:30:00-03:00"),
        ("NEXT", "2019-02-17T00:00:00-03:00"),
    ] {
        app.create(&json!({"contact_id": id, "custom": {"seen": at}}));
    }
    let q = |op: &str, v: Json| {
        sorted(ids(&app.post(
            "/api/query",
            &json!({"filter": {"all": [cond("custom.seen", op, v)]}}),
        )))
    };
    assert_eq!(q("on", json!("2018-11-03")), ["SPRING"]);
    assert!(q("on", json!("2018-11-04")).is_empty());
    assert_eq!(q("on", json!("2019-02-16")), ["FALL1", "FALL2"]);
    assert_eq!(q("on", json!("2019-02-17")), ["NEXT"]);
    assert_eq!(
        q("before", json!("2019-02-17")),
        ["FALL1", "FALL2", "SPRING"]
    );
    assert_eq!(
        q("between", json!(["2018-11-04", "2019-02-16"])),
        ["FALL1", "FALL2"]
    );
    assert_eq!(q("after", json!("2019-02-16T23:30:00-03:00")), ["NEXT"]);
    assert_eq!(q("this_week", Json::Null), Vec::<String>::new());
}

#[test]
fn an_unknown_time_zone_is_a_server_error_not_a_wrong_answer() {
    let app = App::start_with(&[("timezone", "Mars/Olympus_Mons")]);
    let r = app.post("/api/query", &json!({"filter": {"all": []}}));
    r.assert_problem(500, None);
    assert!(!r.text.contains("Mars"), "{}", r.text);
}

#[test]
fn every_segment_route_needs_a_token() {
    let app = App::start();
    for id in ["all", "1"] {
        for (method, path) in [
            ("GET", "/api/segments".to_owned()),
            ("POST", "/api/segments".to_owned()),
            ("GET", format!("/api/segments/{id}")),
            ("PATCH", format!("/api/segments/{id}")),
            ("DELETE", format!("/api/segments/{id}")),
            ("GET", format!("/api/segments/{id}/contacts")),
            ("POST", "/api/query".to_owned()),
        ] {
            app.call(method, &path, None, None)
                .assert_problem(401, None);
        }
    }
}

/// Blocked contacts leave `all` and every saved segment, and are found in `blocked`.
#[test]
fn blocked_contacts_leave_all_and_saved_segments() {
    let app = App::start();
    seed(&app);
    let created = app.post(
        "/api/segments",
        &json!({"name": "Paris VIPs", "filter": {"all": [
            cond("city", "eq", json!("paris")), cond("tags", "has_any", json!(["vip"]))]}}),
    );
    let id = created.body["id"].as_str().unwrap().to_owned();
    assert_eq!(created.body["count"], 2);
    let blocked = app.post("/api/blocks", &json!({"ids": ["P1"]}));
    assert!(blocked.status < 300, "{}", blocked.text);

    let counts: Vec<(String, Json)> = app.get("/api/segments").body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["id"].as_str().unwrap().to_owned(), s["count"].clone()))
        .collect();
    assert_eq!(
        counts,
        [
            ("all".to_owned(), json!(9)),
            ("blocked".to_owned(), json!(1)),
            (id.clone(), json!(1))
        ]
    );
    assert_eq!(
        ids(&app.get(&format!("/api/segments/{id}/contacts"))),
        ["P2"]
    );
    assert_eq!(ids(&app.get("/api/segments/blocked/contacts")), ["P1"]);
    let q = |segment: &str| {
        app.post(
            "/api/query",
            &json!({"segment": segment, "filter": {"all": [cond("tags", "has_any", json!(["vip"]))]}}),
        )
    };
    assert_eq!(sorted(ids(&q("all"))), ["L1", "P2", "S1"]);
    assert_eq!(ids(&q("blocked")), ["P1"]);
    assert_eq!(q("blocked").body["total"], 1);
    // Without a segment, a query means `all`.
    let r = app.post(
        "/api/query",
        &json!({"filter": {"all": [cond("contact_id", "eq", json!("P1"))]}}),
    );
    assert_eq!(r.body["total"], 0);
}
