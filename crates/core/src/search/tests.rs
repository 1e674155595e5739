//! Storage tests: contacts written through `repo` (so through the triggers), found through
//! the real statements on rusqlite.

use serde_json::{json, Value as Json};

use super::*;
use crate::contacts::repo::{self, Ctx};
use crate::kernel::fields::{custom, CustomFieldDef, FieldType};
use crate::kernel::native::NativeSql;
use crate::kernel::schema;
use crate::kernel::values::Region;
use crate::query::page::system_segment;

fn db() -> NativeSql {
    let db = NativeSql::open_in_memory();
    schema::ensure(&db).unwrap();
    db
}

fn create(db: &NativeSql, body: Json) -> String {
    let cat = Catalogue::load(db).unwrap();
    let ctx = Ctx {
        db,
        catalogue: &cat,
        region: Region::default(),
        actor: "admin",
    };
    repo::create(ctx, &body)
        .unwrap()
        .contact
        .contact_id()
        .to_owned()
}

fn page(db: &NativeSql, q: &str, segment: &str, limit: usize, cursor: Option<&str>) -> Page {
    let query = Query::parse(q).unwrap();
    let req = SearchRequest {
        query: &query,
        scope: system_segment(segment).unwrap(),
        segment,
        limit,
        cursor,
        columns: vec!["first_name".into(), "last_name".into()],
    };
    search(db, &Catalogue::load(db).unwrap(), &req).unwrap()
}

/// (contact_id, match) of the first page of up to 50.
fn find(db: &NativeSql, q: &str) -> Vec<(String, String)> {
    page(db, q, "all", 50, None)
        .items
        .iter()
        .map(|i| {
            (
                i["contact_id"].as_str().unwrap().to_owned(),
                i["match"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn ids(db: &NativeSql, q: &str) -> Vec<String> {
    find(db, q).into_iter().map(|(id, _)| id).collect()
}

fn person(id: &str, first: &str, last: &str) -> Json {
    json!({"contact_id": id, "first_name": first, "last_name": last})
}

#[test]
fn ranks_exact_then_prefix_then_substring_then_typo() {
    let db = db();
    create(&db, person("sub", "Rosana", "Lima"));
    create(&db, person("exact", "Ana", "Silva"));
    create(&db, person("prefix", "Anabela", "Costa"));
    create(&db, person("exact2", "Maria", "Ana"));
    create(&db, person("none", "Bruno", "Costa"));
    let found = find(&db, "ana");
    assert_eq!(
        found,
        [
            ("exact2".into(), "exact".into()),
            ("exact".into(), "exact".into()),
            ("prefix".into(), "prefix".into()),
            ("sub".into(), "substring".into()),
        ]
    );
    create(&db, person("typo", "Santiago", "Ruiz"));
    create(&db, person("typo-sub", "Santiagos", "Ruiz"));
    assert_eq!(
        find(&db, "santaigo"),
        [("typo".into(), "typo".into())],
        "one transposition; 'santiagos' is two edits away"
    );
    assert_eq!(find(&db, "santiag")[0].1, "prefix");
}

#[test]
fn typos_find_accented_names_and_need_every_word() {
    let db = db();
    create(&db, person("g", "Lucía", "García"));
    create(&db, person("m", "Jörg", "Müller"));
    create(&db, person("s", "Søren", "Kierkegaard"));
    assert_eq!(find(&db, "garcai"), [("g".into(), "typo".into())]);
    assert_eq!(find(&db, "lucia garcai"), [("g".into(), "typo".into())]);
    assert_eq!(find(&db, "muler"), [("m".into(), "typo".into())]);
    assert_eq!(find(&db, "sorren"), [("s".into(), "typo".into())]);
    assert!(find(&db, "garcai muler").is_empty());
    assert!(find(&db, "garcxx").is_empty(), "two edits");
    assert_eq!(ids(&db, "gracia"), ["g"], "one swap");
    create(&db, person("i", "Isabella", "Rossi"));
    for head_edit in ["xsabella", "siabella", "ixsabella", "ibsabella", "iabella"] {
        assert_eq!(
            find(&db, head_edit),
            [("i".into(), "typo".into())],
            "{head_edit}"
        );
    }
}

#[test]
fn accents_and_case_do_not_matter() {
    let db = db();
    create(&db, person("jose", "José", "Núñez"));
    create(&db, person("zoe", "Zoë", "Søren"));
    create(&db, person("yil", "Ayşe", "Yılmaz"));
    create(&db, person("ng", "Linh", "Nguyễn"));
    assert_eq!(find(&db, "jose"), [("jose".into(), "exact".into())]);
    assert_eq!(find(&db, "JOSÉ NUNEZ"), [("jose".into(), "exact".into())]);
    assert_eq!(find(&db, "zoe"), [("zoe".into(), "exact".into())]);
    assert_eq!(find(&db, "soren"), [("zoe".into(), "exact".into())]);
    assert_eq!(find(&db, "yilmaz"), [("yil".into(), "exact".into())]);
    assert_eq!(find(&db, "ayse"), [("yil".into(), "exact".into())]);
    assert_eq!(find(&db, "nguyen"), [("ng".into(), "exact".into())]);
    assert_eq!(find(&db, "uñe"), [("jose".into(), "substring".into())]);
}

#[test]
fn phones_match_by_digits_whatever_the_formatting() {
    let db = db();
    create(&db, json!({"contact_id": "p1", "phone": "+1 415-555-0100"}));
    create(
        &db,
        json!({"contact_id": "p2", "phone": "(212) 555-0199", "mobile": "+44 7911 123456"}),
    );
    assert_eq!(find(&db, "415-555-01"), [("p1".into(), "substring".into())]);
    assert_eq!(find(&db, "+14155550100"), [("p1".into(), "exact".into())]);
    assert_eq!(find(&db, "1 (415) 555"), [("p1".into(), "prefix".into())]);
    assert_eq!(find(&db, "2125550199"), [("p2".into(), "exact".into())]);
    assert_eq!(find(&db, "7911 123"), [("p2".into(), "substring".into())]);
    assert_eq!(find(&db, "0199"), [("p2".into(), "substring".into())]);
}

#[test]
fn emails_exact_prefix_and_substring() {
    let db = db();
    create(
        &db,
        json!({"contact_id": "e1", "email": "Jose.Silva@Example.com"}),
    );
    create(&db, json!({"contact_id": "e2", "email": "maria@silva.org"}));
    assert_eq!(
        find(&db, "jose.silva@example.com"),
        [("e1".into(), "exact".into())]
    );
    assert_eq!(find(&db, "jose.s"), [("e1".into(), "prefix".into())]);
    assert_eq!(
        find(&db, "silva"),
        [
            ("e2".into(), "substring".into()),
            ("e1".into(), "substring".into())
        ]
    );
    assert_eq!(find(&db, "j"), [("e1".into(), "prefix".into())]);
    create(
        &db,
        json!({"contact_id": "e3", "email": "jose.silvana@example.com"}),
    );
    assert_eq!(
        find(&db, "e.silva@example.com"),
        [("e1".into(), "substring".into())],
        "found by its first characters, then checked whole"
    );
    assert_eq!(ids(&db, "e.silva"), ["e3", "e1"]);
}

#[test]
fn every_word_must_match_some_field() {
    let db = db();
    create(
        &db,
        json!({"contact_id": "a", "first_name": "Ana", "last_name": "Lima", "email": "ana@acme.com"}),
    );
    create(
        &db,
        json!({"contact_id": "b", "first_name": "Ana", "last_name": "Souza"}),
    );
    assert_eq!(ids(&db, "ana lima"), ["a"]);
    assert_eq!(ids(&db, "lima ana"), ["a"]);
    assert_eq!(ids(&db, "ana acme"), ["a"], "name word and email substring");
    assert_eq!(find(&db, "ana li"), [("a".into(), "prefix".into())]);
    assert_eq!(find(&db, "an li"), [("a".into(), "prefix".into())]);
    assert_eq!(find(&db, "ana ouz"), [("b".into(), "substring".into())]);
    assert!(find(&db, "ana nobody").is_empty());
    create(
        &db,
        json!({"contact_id": "c", "first_name": "Jean-Luc", "last_name": "O'Brien"}),
    );
    assert_eq!(ids(&db, "luc"), ["c"]);
    assert_eq!(ids(&db, "o'brien"), ["c"]);
    assert_eq!(ids(&db, "jean-luc"), ["c"]);
}

#[test]
fn one_and_two_letter_queries_are_prefixes() {
    let db = db();
    create(&db, person("a", "Zoe", "Lima"));
    create(&db, person("b", "Ana", "Zorro"));
    create(&db, person("c", "Liz", "Ozu"));
    assert_eq!(ids(&db, "z"), ["b", "a"]);
    assert_eq!(ids(&db, "zo"), ["b", "a"]);
    assert!(find(&db, "zo").iter().all(|(_, m)| m == "prefix"));
}

#[test]
fn custom_fields_match_whole_words_except_checkbox_and_dates() {
    let db = db();
    for def in [
        json!({"key": "tier", "label": "Tier", "type": "single_select", "options": ["Gold", "Silver"]}),
        json!({"key": "notes", "label": "Notes", "type": "text"}),
        json!({"key": "vip", "label": "VIP", "type": "checkbox"}),
        json!({"key": "renewal", "label": "Renewal", "type": "date"}),
        json!({"key": "seen", "label": "Seen", "type": "datetime"}),
        json!({"key": "langs", "label": "Langs", "type": "multi_select", "options": ["English", "Português"]}),
        json!({"key": "score", "label": "Score", "type": "number"}),
    ] {
        custom::create(&db, &serde_json::from_value::<CustomFieldDef>(def).unwrap()).unwrap();
    }
    create(
        &db,
        json!({"contact_id": "k", "email": "k@x.io", "custom": {
            "tier": "Gold", "notes": "Prefers WhatsApp, after 6pm.", "vip": true,
            "renewal": "2027-03-01", "seen": "2026-01-02T03:04:05Z", "langs": ["Português"], "score": 4242}}),
    );
    for q in [
        "gold",
        "GOLD",
        "whatsapp",
        "6pm",
        "portugues",
        "4242",
        "prefers after",
    ] {
        assert_eq!(find(&db, q), [("k".into(), "exact".into())], "{q}");
    }
    for q in ["gol", "whats", "true", "2027", "2027-03-01", "2026", "4243"] {
        assert!(find(&db, q).is_empty(), "{q}");
    }
    assert!(!custom_searchable(FieldType::Checkbox));
}

fn custom_searchable(ty: FieldType) -> bool {
    CustomFieldDef {
        key: "x".into(),
        label: "X".into(),
        ty,
        options: None,
    }
    .field()
    .caps
    .searchable
}

#[test]
fn writes_keep_the_index_in_step() {
    let db = db();
    let cat = Catalogue::load(&db).unwrap();
    let ctx = Ctx {
        db: &db,
        catalogue: &cat,
        region: Region::default(),
        actor: "admin",
    };
    create(&db, person("u", "Ana", "Lima"));
    repo::update(ctx, "u", &json!({"first_name": "Bruna"}), None).unwrap();
    assert!(find(&db, "ana").is_empty());
    assert_eq!(ids(&db, "bruna lima"), ["u"]);
    repo::update(ctx, "u", &json!({"tags": ["vip"]}), None).unwrap();
    assert_eq!(
        ids(&db, "bruna"),
        ["u"],
        "an update that leaves names alone"
    );
    repo::delete(&db, "admin", "u").unwrap();
    assert!(find(&db, "bruna").is_empty());
    assert!(find(&db, "run").is_empty());
    let left: i64 = db
        .execute("SELECT count(*) FROM search_words", &[])
        .unwrap()
        .scalar_i64()
        .unwrap();
    assert_eq!(left, 0);
}

#[test]
fn segments_scope_the_search() {
    let db = db();
    create(&db, person("open", "Ana", "Lima"));
    create(&db, person("shut", "Ana", "Souza"));
    db.execute(
        "UPDATE contacts SET blocked = 1 WHERE contact_id = 'shut'",
        &[],
    )
    .unwrap();
    assert_eq!(ids(&db, "ana"), ["open"]);
    let blocked: Vec<Json> = page(&db, "ana", "blocked", 50, None).items;
    assert_eq!(blocked.len(), 1);
    assert_eq!(blocked[0]["contact_id"], "shut");
    assert_eq!(blocked[0]["first_name"], "Ana");
}

#[test]
fn cursors_page_through_every_rank_without_repeats_or_gaps() {
    let db = db();
    let mut expected = Vec::new();
    for i in 0..7 {
        expected.push(create(&db, person(&format!("x{i}"), "Mara", "Lima")));
    }
    for i in 0..6 {
        expected.push(create(&db, person(&format!("p{i}"), "Maradona", "Lima")));
    }
    for i in 0..5 {
        expected.push(create(&db, person(&format!("s{i}"), "Samara", "Lima")));
    }
    // Newest first within each rank.
    let mut want: Vec<String> = Vec::new();
    for group in [&expected[0..7], &expected[7..13], &expected[13..18]] {
        want.extend(group.iter().rev().cloned());
    }
    for limit in [1, 3, 6, 7, 13, 18, 50] {
        let mut got = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let p = page(&db, "mara", "all", limit, cursor.as_deref());
            assert!(p.items.len() <= limit);
            got.extend(
                p.items
                    .iter()
                    .map(|i| i["contact_id"].as_str().unwrap().to_owned()),
            );
            match p.next_cursor {
                Some(c) => {
                    assert_eq!(p.items.len(), limit, "a page with a next cursor is full");
                    cursor = Some(c);
                }
                None => break,
            }
        }
        assert_eq!(got, want, "limit {limit}");
    }
}

#[test]
fn a_cursor_belongs_to_its_query_and_segment() {
    let db = db();
    for i in 0..3 {
        create(&db, person(&format!("x{i}"), "Ana", "Lima"));
    }
    let first = page(&db, "ana", "all", 1, None);
    let cursor = first.next_cursor.unwrap();
    let query = Query::parse("lima").unwrap();
    let other = SearchRequest {
        query: &query,
        scope: system_segment("all").unwrap(),
        segment: "all",
        limit: 1,
        cursor: Some(&cursor),
        columns: vec![],
    };
    let e = search(&db, &Catalogue::load(&db).unwrap(), &other).unwrap_err();
    assert!(matches!(e, Error::Invalid { ref field, .. } if field == "cursor"));
    assert!(decode_cursor("not-a-cursor", "x").is_err());
}

#[test]
fn no_statement_scans_contacts_or_sorts() {
    let db = db();
    let cat = Catalogue::load(&db).unwrap();
    let projection = projection(&["tags".to_owned(), "email".to_owned()], &cat).unwrap();
    let select: Vec<&str> = projection.iter().map(|p| p.sql.as_str()).collect();
    for q in [
        "ana",
        "santaigo lima",
        "j",
        "415-555",
        "jose.silva@example.com",
    ] {
        for segment in ["all", "blocked"] {
            let query = Query::parse(q).unwrap();
            for resume in [
                None,
                Some(Resume {
                    rank: Rank::Substring,
                    rowid: 10,
                }),
            ] {
                let mut all = arms(&query);
                let typo_words = query.typo_words();
                let fake: Vec<(usize, Vec<String>)> = typo_words
                    .iter()
                    .map(|(i, w)| (*i, vec![w.clone()]))
                    .collect();
                if let Some(typo) = query.typo(&fake) {
                    all.push(Arm {
                        rank: Rank::Typo,
                        lookup: Lookup::new(
                            "search_words",
                            format!("({typo}) NOT ({})", query.word_prefix()),
                        ),
                        except: vec![Lookup::new("search_grams", query.substring())],
                    });
                }
                for arm in all {
                    let found = [7, 9];
                    let scope = system_segment(segment).unwrap();
                    let (sql, params) = statement(arm, &found, &scope, resume, &select, 51);
                    let plan = db
                        .execute(&format!("EXPLAIN QUERY PLAN {sql}"), &params)
                        .unwrap();
                    let details: Vec<String> = plan
                        .rows
                        .iter()
                        .filter_map(|r| r.last().and_then(Value::as_str).map(str::to_owned))
                        .collect();
                    for d in &details {
                        assert!(
                            !d.starts_with("SCAN c") && !d.contains("TEMP B-TREE"),
                            "{q} in {segment}: {d}\n{details:#?}"
                        );
                        if d.contains(" c ") || d.ends_with(" c") {
                            assert!(d.contains("INTEGER PRIMARY KEY"), "{q}: {d}");
                        }
                    }
                    assert!(details.iter().any(|d| d.contains("VIRTUAL TABLE INDEX")));
                }
            }
        }
    }
}

#[test]
fn queries_without_words_find_nothing() {
    let db = db();
    create(&db, person("a", "Ana", "Lima"));
    let p = page(&db, "- @@ ...", "all", 50, None);
    assert!(p.items.is_empty() && p.next_cursor.is_none());
}

#[test]
fn reindex_rebuilds_what_the_triggers_built() {
    let db = db();
    custom::create(
        &db,
        &serde_json::from_value::<CustomFieldDef>(
            json!({"key": "tier", "label": "Tier", "type": "text"}),
        )
        .unwrap(),
    )
    .unwrap();
    create(
        &db,
        json!({"contact_id": "a", "first_name": "Zoë", "last_name": "Lima", "phone": "(415) 555-0100", "custom": {"tier": "Gold"}}),
    );
    create(
        &db,
        json!({"contact_id": "b", "email": "Ana@X.io", "mobile": "+44 7911 123456",
               "secondary_emails": ["Sec@Q.io"], "secondary_phones": ["+1 212 555 0142"]}),
    );
    let queries = [
        "zoe",
        "lim",
        "415-555",
        "gold",
        "ana@x.io",
        "7911",
        "x.io",
        "z",
        "sec@q.io",
        "2125550142",
    ];
    let before: Vec<_> = queries.iter().map(|q| find(&db, q)).collect();
    assert!(before.iter().all(|f| !f.is_empty()));
    custom::delete(&db, "tier").unwrap();
    crate::kernel::store::write_tx(&db, || reindex(&db)).unwrap();
    let after: Vec<_> = queries.iter().map(|q| find(&db, q)).collect();
    for (i, q) in queries.iter().enumerate() {
        if *q == "gold" {
            assert!(after[i].is_empty(), "a deleted field's values are gone");
        } else {
            assert_eq!(after[i], before[i], "{q}");
        }
    }
}

#[test]
fn secondary_emails_and_phones_are_found_and_forgotten_with_them() {
    let db = db();
    create(
        &db,
        json!({"contact_id": "m", "first_name": "Ana", "email": "ana@x.io",
               "secondary_emails": ["Old.Mail@Y.io", "third@z.org"],
               "secondary_phones": ["+1 415 555 0199"]}),
    );
    create(&db, person("other", "Bruno", "Costa"));
    for q in [
        "old.mail@y.io",
        "third@z.org",
        "mail@y",
        "z.org",
        "14155550199",
        "555019",
        "+1 415 555",
    ] {
        assert_eq!(ids(&db, q), ["m"], "{q}");
    }
    assert_eq!(find(&db, "third@z.org")[0].1, "exact");
    let cat = Catalogue::load(&db).unwrap();
    let ctx = Ctx {
        db: &db,
        catalogue: &cat,
        region: Region::default(),
        actor: "admin",
    };
    repo::update(
        ctx,
        "m",
        &json!({"secondary_emails": ["third@z.org"], "secondary_phones": null}),
        None,
    )
    .unwrap();
    for q in ["old.mail@y.io", "mail@y", "14155550199", "555019"] {
        assert!(ids(&db, q).is_empty(), "{q} is no longer held");
    }
    assert_eq!(ids(&db, "third@z.org"), ["m"]);
    assert_eq!(ids(&db, "ana@x.io"), ["m"]);
}

#[test]
fn upgrading_from_version_1_indexes_the_secondary_values_already_held() {
    let db = NativeSql::open_in_memory();
    schema::migrate(&db, 1).unwrap();
    db.execute(
        "INSERT INTO contacts (contact_id, first_name, display_name, secondary_emails, \
           secondary_phones, secondary_phone_keys, created_at, updated_at) \
         VALUES ('v1', 'Ana', 'Ana', '[\"old@y.io\"]', '[\"+1 415 555 0199\"]', \
           '[\"+14155550199\"]', '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')",
        &[],
    )
    .unwrap();
    schema::ensure(&db).unwrap();
    assert_eq!(ids(&db, "old@y.io"), ["v1"]);
    assert_eq!(ids(&db, "14155550199"), ["v1"]);
    assert_eq!(ids(&db, "ana"), ["v1"], "indexed once, not twice");
}
