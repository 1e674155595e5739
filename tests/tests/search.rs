//! End-to-end: the search component through the host (SPEC §3, §8 `GET /api/search`, §9).

use contacts_e2e::{App, Resp};
use serde_json::{json, Value as Json};

fn search(app: &App, query: &str) -> Resp {
    app.get(&format!("/api/search?{query}"))
}

/// `(contact_id, match)` of a search that must succeed.
fn found(app: &App, q: &str) -> Vec<(String, String)> {
    let r = search(app, &format!("q={}&limit=500", encode(q)));
    assert_eq!(r.status, 200, "{q}: {}", r.text);
    r.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            (
                i["contact_id"].as_str().expect("contact_id").to_owned(),
                i["match"].as_str().expect("match").to_owned(),
            )
        })
        .collect()
}

fn ids(app: &App, q: &str) -> Vec<String> {
    found(app, q).into_iter().map(|(id, _)| id).collect()
}

fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// Percent-encodes a query parameter value.
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn person(app: &App, id: &str, first: &str, last: &str) {
    app.create(&json!({"contact_id": id, "first_name": first, "last_name": last}));
}

#[test]
fn ranks_exact_then_prefix_then_substring_then_typo_newest_first_within_a_rank() {
    let app = App::start();
    person(&app, "sub", "Rosana", "Lima");
    person(&app, "exact-old", "Ana", "Silva");
    person(&app, "prefix", "Anabela", "Costa");
    person(&app, "exact-new", "Maria", "Ana");
    person(&app, "other", "Bruno", "Costa");
    assert_eq!(
        found(&app, "ana"),
        pairs(&[
            ("exact-new", "exact"),
            ("exact-old", "exact"),
            ("prefix", "prefix"),
            ("sub", "substring"),
        ])
    );
    person(&app, "typo", "Santiago", "Ruiz");
    person(&app, "pre", "Santiagos", "Ruiz");
    person(&app, "far", "Santos", "Ruiz");
    assert_eq!(
        found(&app, "santaigo"),
        pairs(&[("typo", "typo")]),
        "one transposition away; 'santiagos' is two"
    );
    assert_eq!(
        found(&app, "santiago"),
        pairs(&[("typo", "exact"), ("pre", "prefix")])
    );
    assert_eq!(found(&app, "santigo"), pairs(&[("typo", "typo")]));
    // The threshold is the query word's length: four letters get no typo tolerance.
    person(&app, "four", "Joao", "Pinto");
    assert!(found(&app, "jaoo").is_empty());
    assert_eq!(found(&app, "pintu"), pairs(&[("four", "typo")]));
}

#[test]
fn accents_and_case_do_not_matter() {
    let app = App::start();
    person(&app, "jose", "José", "Núñez");
    person(&app, "zoe", "Zoë", "Søren");
    person(&app, "plain", "Jose", "Nunez");
    assert_eq!(
        found(&app, "jose"),
        pairs(&[("plain", "exact"), ("jose", "exact")])
    );
    assert_eq!(ids(&app, "JOSÉ núñez"), ["plain", "jose"]);
    assert_eq!(found(&app, "zoe"), pairs(&[("zoe", "exact")]));
    assert_eq!(found(&app, "ZOË"), pairs(&[("zoe", "exact")]));
    assert_eq!(found(&app, "soren"), pairs(&[("zoe", "exact")]));
    assert_eq!(ids(&app, "uñe"), ["plain", "jose"]);
}

#[test]
fn phones_match_by_digits_whatever_the_formatting() {
    let app = App::start();
    app.create(&json!({"contact_id": "sf", "phone": "(415) 555-0100"}));
    app.create(
        &json!({"contact_id": "ny", "phone": "+1 212 555 0199", "mobile": "+44 7911 123456"}),
    );
    for q in [
        "415-555-01",
        "4155550",
        "(415) 555",
        "555-0100",
        "+1 415 555 0100",
    ] {
        assert_eq!(ids(&app, q), ["sf"], "{q}");
    }
    assert_eq!(found(&app, "+14155550100"), pairs(&[("sf", "exact")]));
    assert_eq!(found(&app, "4155550100"), pairs(&[("sf", "exact")]));
    assert_eq!(found(&app, "1415"), pairs(&[("sf", "prefix")]));
    assert_eq!(found(&app, "7911-123"), pairs(&[("ny", "substring")]));
    assert_eq!(ids(&app, "555"), ["ny", "sf"]);
    assert!(found(&app, "999-555").is_empty());
}

#[test]
fn emails_names_and_every_word_of_a_query() {
    let app = App::start();
    app.create(&json!({"contact_id": "a", "first_name": "Ana", "last_name": "Lima", "email": "Ana.Lima@Acme.com"}));
    app.create(&json!({"contact_id": "b", "first_name": "Ana", "last_name": "Souza", "email": "asouza@globex.io"}));
    app.create(&json!({"contact_id": "c", "first_name": "Jean-Luc", "last_name": "O'Brien", "email": "jl@x.fr"}));
    assert_eq!(found(&app, "ana.lima@acme.com"), pairs(&[("a", "exact")]));
    assert_eq!(found(&app, "ANA.LI"), pairs(&[("a", "prefix")]));
    assert_eq!(found(&app, "globex"), pairs(&[("b", "substring")]));
    assert_eq!(ids(&app, "ana lima"), ["a"]);
    assert_eq!(ids(&app, "lima ana"), ["a"]);
    assert_eq!(
        ids(&app, "ana acme"),
        ["a"],
        "a name word and an email part"
    );
    assert_eq!(found(&app, "an li"), pairs(&[("a", "prefix")]));
    assert!(found(&app, "ana costa").is_empty(), "every word must match");
    assert_eq!(ids(&app, "ana"), ["b", "a"]);
    assert_eq!(ids(&app, "luc"), ["c"]);
    assert_eq!(ids(&app, "jean-luc o'brien"), ["c"]);
}

#[test]
fn one_and_two_character_queries_answer_as_prefixes() {
    let app = App::start();
    person(&app, "a", "Zoe", "Lima");
    person(&app, "b", "Ana", "Zorro");
    person(&app, "c", "Liz", "Ozu");
    assert_eq!(found(&app, "z"), pairs(&[("b", "prefix"), ("a", "prefix")]));
    assert_eq!(
        found(&app, "zo"),
        pairs(&[("b", "prefix"), ("a", "prefix")])
    );
    assert_eq!(found(&app, "oz"), pairs(&[("c", "prefix")]));
    assert_eq!(found(&app, "ozu"), pairs(&[("c", "exact")]));
}

#[test]
fn custom_fields_match_whole_words_except_checkbox_and_dates() {
    let app = App::start();
    for def in [
        json!({"key": "tier", "label": "Tier", "type": "single_select", "options": ["Gold", "Silver"]}),
        json!({"key": "notes", "label": "Notes", "type": "long_text"}),
        json!({"key": "interests", "label": "Interests", "type": "multi_select", "options": ["sports", "music"]}),
        json!({"key": "account_no", "label": "Account", "type": "text"}),
        json!({"key": "vip", "label": "VIP", "type": "checkbox"}),
        json!({"key": "renewal", "label": "Renewal", "type": "date"}),
        json!({"key": "seen", "label": "Seen", "type": "datetime"}),
    ] {
        let r = app.post("/api/fields", &def);
        assert_eq!(r.status, 201, "{}", r.text);
    }
    app.create(&json!({"contact_id": "k", "email": "k@x.io", "custom": {
        "tier": "Gold", "notes": "Prefers WhatsApp, after 6pm.", "interests": ["music"],
        "account_no": "AC-7781", "vip": true, "renewal": "2027-03-01",
        "seen": "2026-01-02T03:04:05Z"}}));
    for q in [
        "gold",
        "GOLD",
        "whatsapp",
        "Prefers after",
        "music",
        "ac-7781",
        "7781",
    ] {
        assert_eq!(found(&app, q), pairs(&[("k", "exact")]), "{q}");
    }
    for q in [
        "gol",
        "whats",
        "true",
        "2027-03-01",
        "2027",
        "2026",
        "prefer",
    ] {
        assert!(
            found(&app, q).is_empty(),
            "{q} is not a whole word of a searchable field"
        );
    }
    let r = app.patch("/api/contacts/k", &json!({"custom": {"tier": "Silver"}}));
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(found(&app, "gold").is_empty());
    assert_eq!(ids(&app, "silver"), ["k"]);
}

#[test]
fn the_index_follows_updates_and_deletes() {
    let app = App::start();
    person(&app, "u", "Ana", "Lima");
    assert_eq!(ids(&app, "ana"), ["u"]);
    let r = app.patch(
        "/api/contacts/u",
        &json!({"first_name": "Bruna", "phone": "+1 617-555-0142"}),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    assert!(found(&app, "ana").is_empty());
    assert_eq!(ids(&app, "bruna lima"), ["u"]);
    assert_eq!(ids(&app, "617555"), ["u"]);
    assert_eq!(app.delete("/api/contacts/u").status, 204);
    assert!(found(&app, "bruna").is_empty());
    assert!(found(&app, "617555").is_empty());
}

/// Blocks a contact in the app's database directly: search only reads `blocked`.
fn block(app: &App, id: &str) {
    let db = rusqlite::Connection::open(app.state_dir().join("sqlite_db.db")).expect("db");
    let n = db
        .execute(
            "UPDATE contacts SET blocked = 1, blocked_at = '2026-01-01T00:00:00.000Z' WHERE contact_id = ?1",
            [id],
        )
        .expect("block");
    assert_eq!(n, 1);
}

#[test]
fn searches_within_a_segment_all_by_default() {
    let app = App::start();
    app.create(
        &json!({"contact_id": "open", "first_name": "Ana", "last_name": "Lima", "city": "Paris"}),
    );
    app.create(
        &json!({"contact_id": "shut", "first_name": "Ana", "last_name": "Souza", "city": "Paris"}),
    );
    app.create(
        &json!({"contact_id": "lyon", "first_name": "Ana", "last_name": "Costa", "city": "Lyon"}),
    );
    block(&app, "shut");
    assert_eq!(ids(&app, "ana"), ["lyon", "open"]);
    let r = search(&app, "q=ana&segment=all");
    assert_eq!(r.body["items"].as_array().unwrap().len(), 2);
    let r = search(&app, "q=ana&segment=blocked");
    assert_eq!(r.status, 200, "{}", r.text);
    let items = r.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["contact_id"], "shut");

    let seg = app.post(
        "/api/segments",
        &json!({"name": "Parisians", "filter": {"all": [{"field": "city", "op": "eq", "value": "Paris"}]}}),
    );
    assert_eq!(seg.status, 201, "{}", seg.text);
    let id = seg.body["id"].as_str().expect("segment id");
    let r = search(&app, &format!("q=ana&segment={id}"));
    assert_eq!(r.status, 200, "{}", r.text);
    let in_paris: Vec<&str> = r.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["contact_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        in_paris,
        ["open"],
        "saved segments leave blocked contacts out"
    );
    assert_eq!(search(&app, "q=ana&segment=99999").status, 404);
}

#[test]
fn cursors_page_through_every_rank_without_repeats_or_gaps() {
    let app = App::start();
    let mut want = Vec::new();
    for (prefix, first, n) in [("x", "Mara", 5), ("p", "Maradona", 4), ("s", "Samara", 3)] {
        let group: Vec<String> = (0..n).map(|i| format!("{prefix}{i}")).collect();
        for id in &group {
            person(&app, id, first, "Lima");
        }
        want.extend(group.into_iter().rev());
    }
    for limit in [1, 4, 5, 12, 50] {
        let mut got = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut q = format!("q=mara&limit={limit}");
            if let Some(c) = &cursor {
                q.push_str(&format!("&cursor={c}"));
            }
            let r = search(&app, &q);
            assert_eq!(r.status, 200, "{}", r.text);
            let items = r.body["items"].as_array().unwrap();
            assert!(items.len() <= limit);
            got.extend(
                items
                    .iter()
                    .map(|i| i["contact_id"].as_str().unwrap().to_owned()),
            );
            match r.body["next_cursor"].as_str() {
                Some(c) => {
                    assert_eq!(items.len(), limit, "only the last page is short");
                    cursor = Some(c.to_owned());
                }
                None => {
                    assert!(r.body["next_cursor"].is_null());
                    break;
                }
            }
        }
        assert_eq!(got, want, "limit {limit}");
    }
    let first = search(&app, "q=mara&limit=2");
    let cursor = first.body["next_cursor"].as_str().unwrap();
    search(&app, &format!("q=lima&limit=2&cursor={cursor}")).assert_problem(422, Some("cursor"));
    search(&app, &format!("q=mara&segment=blocked&cursor={cursor}"))
        .assert_problem(422, Some("cursor"));
    search(&app, "q=mara&cursor=nonsense").assert_problem(422, Some("cursor"));
}

#[test]
fn items_carry_the_callers_table_columns() {
    let app = App::start();
    app.create(&json!({"contact_id": "a", "first_name": "Ana", "last_name": "Lima", "email": "ana@x.io", "tags": ["vip"], "company": "Acme"}));
    let item = &search(&app, "q=ana").body["items"][0];
    assert_eq!(item["contact_id"], "a");
    assert_eq!(item["display_name"], "Ana Lima");
    assert_eq!(item["email"], "ana@x.io");
    assert_eq!(item["tags"], json!(["vip"]));
    assert_eq!(item["match"], "exact");

    let agent = app.token("agent1", "agent");
    let r = app.call(
        "PUT",
        "/api/views/table",
        Some(&agent),
        Some(&json!({"columns": ["company", "first_name"]})),
    );
    assert_eq!(r.status, 200, "{}", r.text);
    let r = app.call("GET", "/api/search?q=ana", Some(&agent), None);
    assert_eq!(r.status, 200, "{}", r.text);
    let keys: Vec<&str> = r.body["items"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, ["company", "contact_id", "first_name", "match"]);
    let r = search(&app, "q=ana&fields=last_name");
    assert_eq!(r.body["items"][0]["last_name"], "Lima");
    assert!(r.body["items"][0].get("email").is_none());
    search(&app, "q=ana&fields=nope").assert_problem(422, Some("fields"));
}

#[test]
fn bad_requests_are_clear_problems() {
    let app = App::start();
    person(&app, "a", "Ana", "Lima");
    assert_eq!(app.call("GET", "/api/search?q=ana", None, None).status, 401);
    search(&app, "").assert_problem(422, Some("q"));
    search(&app, "q=").assert_problem(422, Some("q"));
    search(&app, "q=%20%20").assert_problem(422, Some("q"));
    let long = "a".repeat(201);
    search(&app, &format!("q={long}")).assert_problem(422, Some("q"));
    let r = search(&app, &format!("q={}", "a".repeat(200)));
    assert_eq!(r.status, 200, "200 characters are allowed: {}", r.text);
    search(&app, "q=ana&limit=501").assert_problem(422, Some("limit"));
    search(&app, "q=ana&limit=0").assert_problem(422, Some("limit"));
    search(&app, "q=ana&limit=ten").assert_problem(422, Some("limit"));
    assert_eq!(search(&app, "q=ana&limit=500").status, 200);
    let r = search(&app, "q=ana");
    assert_eq!(r.status, 200);
    assert_eq!(r.body["next_cursor"], Json::Null);
    // Query syntax of the index is just text here.
    for q in [
        "\"",
        "ana*",
        "NOT ana",
        "(ana",
        "name:ana",
        "a\"b OR c",
        "^ana",
    ] {
        let r = search(&app, &format!("q={}", encode(q)));
        assert_eq!(r.status, 200, "{q}: {}", r.text);
    }
    assert_eq!(ids(&app, "ana*"), ["a"]);
}

#[test]
fn limit_defaults_to_fifty() {
    let app = App::start();
    let body: Vec<Json> = (0..55)
        .map(|i| json!({"contact_id": format!("c{i}"), "first_name": "Ana", "last_name": format!("N{i}")}))
        .collect();
    for b in &body {
        app.create(b);
    }
    let r = search(&app, "q=ana");
    assert_eq!(r.body["items"].as_array().unwrap().len(), 50);
    assert!(r.body["next_cursor"].is_string());
}
