//! The filter language on real SQLite: parsing and its errors, every operator, injection
//! attempts, time zone edges, and the query plans of the common filters.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value as Json};

use super::*;
use crate::contacts::contact::{Contact, Edit, EditMode};
use crate::contacts::repo;
use crate::kernel::fields::{custom, CustomFieldDef};
use crate::kernel::native::NativeSql;
use crate::kernel::schema;
use crate::kernel::store::Sql;
use crate::kernel::values::{ContactId, Region};

/// The custom fields the storage tests filter on, one per type family.
pub(super) fn custom_defs() -> Vec<CustomFieldDef> {
    let defs = json!([
        {"key": "tier", "label": "Tier", "type": "single_select", "options": ["Gold", "Silver", "Bronze"]},
        {"key": "score", "label": "Score", "type": "number"},
        {"key": "vip", "label": "VIP", "type": "checkbox"},
        {"key": "renewal", "label": "Renewal", "type": "date"},
        {"key": "notes", "label": "Notes", "type": "text"},
        {"key": "interests", "label": "Interests", "type": "multi_select", "options": ["sports", "music", "travel", "tech"]},
        {"key": "seen", "label": "Seen", "type": "datetime"},
    ]);
    serde_json::from_value(defs).expect("defs")
}

pub(super) fn setup() -> (NativeSql, Catalogue) {
    let db = NativeSql::open_in_memory();
    schema::ensure(&db).expect("schema");
    for def in custom_defs() {
        custom::create(&db, &def).expect("custom field");
    }
    let catalogue = Catalogue::load(&db).expect("catalogue");
    (db, catalogue)
}

/// Inserts a contact from a create body, then sets system-only columns (timestamps,
/// blocked) directly, as the app's own writers would have.
pub(super) fn insert(
    db: &dyn Sql,
    catalogue: &Catalogue,
    id: &str,
    body: &Json,
    system: &[(&'static str, crate::kernel::store::Value)],
) -> Contact {
    let edit = Edit::parse(body, catalogue, Region::default(), EditMode::Create).expect("body");
    let mut c = Contact::new(ContactId::parse(id).expect("id"), "test");
    edit.apply(&mut c, catalogue);
    for (col, v) in system {
        c.set(col, v.clone());
    }
    repo::insert(db, &mut c, false).expect("insert");
    c
}

pub(super) fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("instant")
        .with_timezone(&Utc)
}

fn clock_at(now: &str, tz: Tz) -> Clock {
    Clock::new(utc(now), tz)
}

/// The Contact IDs a filter selects, sorted. Both readings must select the same.
pub(super) fn matching(db: &dyn Sql, filter: &Filter, clock: &Clock) -> Vec<String> {
    let select = |reading| {
        let w = filter.compile(clock, reading);
        let rows = db
            .execute(
                &format!(
                    "SELECT contact_id FROM contacts c WHERE {} ORDER BY contact_id",
                    w.sql
                ),
                &w.params,
            )
            .unwrap_or_else(|e| panic!("{e}\n{}", w.sql));
        rows.rows
            .into_iter()
            .filter_map(|r| {
                r.into_iter()
                    .next()
                    .and_then(crate::kernel::store::Value::into_string)
            })
            .collect::<Vec<_>>()
    };
    let page = select(Reading::Page);
    assert_eq!(
        page,
        select(Reading::Every),
        "the two readings of {}",
        filter.json
    );
    page
}

fn ids(db: &dyn Sql, catalogue: &Catalogue, clock: &Clock, filter: Json) -> Vec<String> {
    let f = Filter::parse(&filter, catalogue).unwrap_or_else(|e| panic!("{filter}: {e}"));
    matching(db, &f, clock)
}

fn invalid_at(catalogue: &Catalogue, filter: Json) -> String {
    match Filter::parse(&filter, catalogue) {
        Err(Error::Invalid { field, .. }) => field,
        other => panic!("{filter}: expected a 422, got {other:?}"),
    }
}

fn cond(field: &str, op: &str, value: Json) -> Json {
    json!({"field": field, "op": op, "value": value})
}

// ---------------------------------------------------------------- parsing and its errors

#[test]
fn errors_name_the_json_path() {
    let (_, cat) = setup();
    let f = json!({"all": [cond("city", "eq", json!("Paris")), cond("city", "gt", json!(3))]});
    assert_eq!(invalid_at(&cat, f), "filter.all[1].op");
    let f = json!({"any": [{"all": [cond("nope", "eq", json!("x"))]}]});
    assert_eq!(invalid_at(&cat, f), "filter.any[0].all[0].field");
    let f = json!({"all": [cond("custom.score", "between", json!([1, "x"]))]});
    assert_eq!(invalid_at(&cat, f), "filter.all[0].value[1]");
    let f = json!({"all": [cond("custom.tier", "in", json!(["Gold", "Platinum"]))]});
    assert_eq!(invalid_at(&cat, f), "filter.all[0].value[1]");
    let f = json!({"all": [cond("city", "frobnicate", json!("x"))]});
    assert_eq!(invalid_at(&cat, f), "filter.all[0].op");
    let f = json!({"all": [{"field": "city", "op": "eq", "value": "x", "extra": 1}]});
    assert_eq!(invalid_at(&cat, f), "filter.all[0].extra");
    let f = json!({"all": [], "any": []});
    assert_eq!(invalid_at(&cat, f), "filter");
}

#[test]
fn shapes_that_are_not_filters_are_malformed() {
    let (_, cat) = setup();
    for (f, path) in [
        (json!("city = Paris"), "filter"),
        (json!({"all": "x"}), "filter.all"),
        (json!({"all": [42]}), "filter.all[0]"),
        (
            json!({"all": [{"field": 1, "op": "eq"}]}),
            "filter.all[0].field",
        ),
        (json!({"all": [{"field": "city"}]}), "filter.all[0].op"),
    ] {
        match Filter::parse(&f, &cat) {
            Err(Error::Malformed { field, .. }) => assert_eq!(field.as_deref(), Some(path), "{f}"),
            other => panic!("{f}: {other:?}"),
        }
    }
}

#[test]
fn unknown_and_unfilterable_fields_are_refused() {
    let (_, cat) = setup();
    for field in [
        "nope",
        "custom.nope",
        "custom",
        "custom.",
        "CITY",
        "c.city",
        "version",
        "email_norm",
    ] {
        let f = json!({"all": [cond(field, "eq", json!("x"))]});
        assert_eq!(invalid_at(&cat, f), "filter.all[0].field", "{field}");
    }
}

#[test]
fn operators_must_fit_the_field_type() {
    let (_, cat) = setup();
    let refused = [
        ("city", "gt"),
        ("city", "is_true"),
        ("city", "has_any"),
        ("city", "last_days"),
        ("custom.score", "contains"),
        ("custom.score", "on"),
        ("created_at", "eq"),
        ("created_at", "contains"),
        ("birthday", "gt"),
        ("blocked", "eq"),
        ("custom.vip", "empty"),
        ("tags", "eq"),
        ("tags", "contains"),
        ("custom.interests", "in"),
        ("custom.tier", "has_any"),
        ("custom.tier", "contains"),
        ("owner", "contains"),
        ("lead_stage", "unassigned"),
        ("secondary_emails", "in"),
    ];
    for (field, op) in refused {
        let f = json!({"all": [cond(field, op, json!("x"))]});
        assert_eq!(invalid_at(&cat, f), "filter.all[0].op", "{field} {op}");
    }
}

#[test]
fn every_kind_takes_only_spec_operators() {
    // The operator tables are the contract: each operator appears for some kind, and every
    // operator SPEC §8 names parses.
    for name in [
        "eq",
        "neq",
        "contains",
        "not_contains",
        "starts_with",
        "ends_with",
        "empty",
        "not_empty",
        "gt",
        "gte",
        "lt",
        "lte",
        "between",
        "on",
        "before",
        "after",
        "last_days",
        "today",
        "yesterday",
        "this_week",
        "this_month",
        "last_month",
        "is_true",
        "is_false",
        "in",
        "not_in",
        "has_any",
        "has_all",
        "has_none",
        "no_tags",
        "unassigned",
    ] {
        let op = Op::parse(name).unwrap_or_else(|| panic!("{name}"));
        assert_eq!(op.name(), name);
        let kinds = [
            Kind::Text,
            Kind::TextList,
            Kind::Number,
            Kind::Date,
            Kind::Datetime,
            Kind::Checkbox,
            Kind::Select,
            Kind::Multi,
            Kind::Tags,
            Kind::Owner,
        ];
        assert!(
            kinds.iter().any(|k| k.ops().contains(&op)),
            "{name} fits no kind"
        );
    }
    assert_eq!(Op::ALL.len(), 31);
}

#[test]
fn depth_is_bounded_at_three() {
    let (_, cat) = setup();
    let c = cond("city", "eq", json!("Paris"));
    let three = json!({"all": [{"any": [{"all": [c.clone()]}]}]});
    assert!(Filter::parse(&three, &cat).is_ok());
    let four = json!({"all": [{"any": [{"all": [{"any": [c]}]}]}]});
    assert_eq!(invalid_at(&cat, four), "filter.all[0].any[0].all[0].any");
    // Depth counts groups, not conditions: an empty group at depth 4 is still too deep.
    let four_empty = json!({"all": [{"all": [{"all": [{"all": []}]}]}]});
    assert!(Filter::parse(&four_empty, &cat).is_err());
}

#[test]
fn sizes_are_bounded() {
    let (_, cat) = setup();
    let many: Vec<Json> = (0..=MAX_CONDITIONS)
        .map(|_| cond("city", "eq", json!("x")))
        .collect();
    assert_eq!(
        invalid_at(&cat, json!({"all": many})),
        format!("filter.all[{MAX_CONDITIONS}]")
    );
    let groups: Vec<Json> = (0..MAX_GROUPS).map(|_| json!({"any": []})).collect();
    assert_eq!(
        invalid_at(&cat, json!({"all": groups})),
        format!("filter.all[{}].any", MAX_GROUPS - 1)
    );
    let values: Vec<String> = (0..=MAX_VALUES).map(|i| format!("c{i}")).collect();
    assert_eq!(
        invalid_at(&cat, json!({"all": [cond("city", "in", json!(values))]})),
        "filter.all[0].value"
    );
    let long = "x".repeat(MAX_TEXT + 1);
    assert_eq!(
        invalid_at(
            &cat,
            json!({"all": [cond("city", "contains", json!(long))]})
        ),
        "filter.all[0].value"
    );
    assert_eq!(
        invalid_at(
            &cat,
            json!({"all": [cond("created_at", "last_days", json!(0))]})
        ),
        "filter.all[0].value"
    );
    assert_eq!(
        invalid_at(
            &cat,
            json!({"all": [cond("created_at", "last_days", json!(MAX_LAST_DAYS + 1))]})
        ),
        "filter.all[0].value"
    );
    assert_eq!(
        invalid_at(&cat, json!({"all": [cond("tags", "has_any", json!([]))]})),
        "filter.all[0].value"
    );
}

#[test]
fn values_must_fit_the_operator() {
    let (_, cat) = setup();
    for (field, op, value) in [
        ("city", "eq", json!(3)),
        ("city", "eq", json!("")),
        ("custom.score", "gt", json!("10")),
        ("custom.score", "between", json!([10, 1])),
        ("custom.score", "between", json!([1])),
        ("birthday", "on", json!("2026-02-30")),
        ("birthday", "on", json!("2026-01-01T00:00:00Z")),
        ("created_at", "on", json!("2026-01-01T00:00:00Z")),
        ("created_at", "before", json!("yesterday")),
        ("created_at", "between", json!(["2026-02-01", "2026-01-01"])),
        ("lead_stage", "in", json!(["prospect"])),
        ("owner", "eq", json!("not a login")),
        ("tags", "has_all", json!(["ok", 3])),
        ("created_at", "last_days", json!(2.5)),
    ] {
        let f = json!({"all": [cond(field, op, value.clone())]});
        let path = invalid_at(&cat, f);
        assert!(
            path.starts_with("filter.all[0].value"),
            "{field} {op} {value}: {path}"
        );
    }
}

#[test]
fn a_lone_condition_is_a_group_of_one_and_no_value_operators_ignore_value() {
    let (_, cat) = setup();
    let f = Filter::parse(&cond("city", "empty", json!("ignored")), &cat).unwrap();
    assert_eq!(f.root.items.len(), 1);
    assert!(!f.root.any);
    let f = Filter::parse(&json!({"field": "tags", "op": "no_tags"}), &cat).unwrap();
    assert_eq!(f.conditions()[0].operand, Operand::None);
}

#[test]
fn select_values_are_read_as_the_option_is_written() {
    let (_, cat) = setup();
    let f = Filter::parse(
        &json!({"all": [cond("custom.tier", "in", json!(["gold", "GOLD", "silver"]))]}),
        &cat,
    )
    .unwrap();
    assert_eq!(
        f.conditions()[0].operand,
        Operand::Texts(vec!["Gold".into(), "Silver".into()])
    );
}

// ---------------------------------------------------------------- every operator on SQLite

/// Six contacts covering present, absent and odd values of every field family.
fn people(db: &dyn Sql, cat: &Catalogue) {
    use crate::kernel::store::Value as V;
    let t = |s: &str| V::Text(s.into());
    insert(
        db,
        cat,
        "A",
        &json!({
            "first_name": "Ana", "last_name": "Lima", "email": "ana@example.com", "city": "Paris",
            "country": "FR", "company": "Acme 100%", "owner": "maria", "lead_stage": "customer",
            "tags": ["VIP", "beta"], "birthday": "1990-05-17", "secondary_emails": ["ana@work.example"],
            "custom": {"tier": "Gold", "score": 90, "vip": true, "renewal": "2026-03-01",
                       "notes": "likes_underscores", "interests": ["sports", "music"],
                       "seen": "2026-03-10T12:00:00Z"}
        }),
        &[
            ("created_at", t("2026-03-01T10:00:00.000Z")),
            ("last_activity_at", t("2026-03-14T09:00:00.000Z")),
        ],
    );
    insert(
        db,
        cat,
        "B",
        &json!({
            "first_name": "Bruno", "email": "bruno@example.com", "city": "paris", "country": "FR",
            "company": "Acme 1000", "owner": "joao", "lead_stage": "lead", "tags": ["newsletter"],
            "custom": {"tier": "Silver", "score": 10.5, "vip": false, "interests": ["travel"],
                       "notes": "likesXunderscores"}
        }),
        &[("created_at", t("2026-03-10T10:00:00.000Z"))],
    );
    insert(
        db,
        cat,
        "C",
        &json!({
            "first_name": "Chloé", "email": "chloe@example.com", "city": "Lyon", "country": "FR",
            "company": "O'Brien & Sons", "lead_stage": "contact",
            "custom": {"score": 50, "interests": []}
        }),
        &[
            ("created_at", t("2026-02-27T10:00:00.000Z")),
            ("blocked", V::Integer(1)),
            ("blocked_at", t("2026-03-02T00:00:00.000Z")),
        ],
    );
    insert(
        db,
        cat,
        "D",
        &json!({
            "first_name": "Dmitri", "email": "dmitri@example.com", "city": "São Paulo", "country": "BR",
            "owner": "Maria", "lead_stage": "customer", "tags": ["vip"],
            "custom": {"tier": "Bronze", "notes": ""}
        }),
        &[("created_at", t("2026-03-15T01:00:00.000Z"))],
    );
    insert(
        db,
        cat,
        "E",
        &json!({"email": "e@example.com", "lead_stage": "lead"}),
        &[("created_at", t("2025-12-31T23:00:00.000Z"))],
    );
}

#[test]
fn every_operator_selects_what_it_says() {
    let (db, cat) = setup();
    people(&db, &cat);
    // Sunday 2026-03-15 12:00 UTC.
    let clock = clock_at("2026-03-15T12:00:00Z", Tz::UTC);
    let q = |f: Json| ids(&db, &cat, &clock, json!({"all": [f]}));
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();

    // Text: case-insensitive; negatives include contacts without a value.
    assert_eq!(q(cond("city", "eq", json!("PARIS"))), s(&["A", "B"]));
    assert_eq!(q(cond("city", "neq", json!("paris"))), s(&["C", "D", "E"]));
    assert_eq!(q(cond("city", "contains", json!("AUL"))), s(&["D"]));
    assert_eq!(q(cond("city", "not_contains", json!("a"))), s(&["C", "E"]));
    assert_eq!(q(cond("city", "starts_with", json!("pa"))), s(&["A", "B"]));
    assert_eq!(q(cond("city", "ends_with", json!("ON"))), s(&["C"]));
    assert_eq!(q(cond("city", "empty", Json::Null)), s(&["E"]));
    assert_eq!(
        q(cond("city", "not_empty", Json::Null)),
        s(&["A", "B", "C", "D"])
    );
    assert_eq!(q(cond("country", "in", json!(["br", "XX"]))), s(&["D"]));
    assert_eq!(q(cond("country", "not_in", json!(["FR"]))), s(&["D", "E"]));
    // LIKE wildcards in values are literal.
    assert_eq!(q(cond("company", "contains", json!("100%"))), s(&["A"]));
    assert_eq!(q(cond("custom.notes", "contains", json!("s_u"))), s(&["A"]));
    assert_eq!(
        q(cond("custom.notes", "contains", json!("%"))),
        Vec::<String>::new()
    );
    assert_eq!(q(cond("company", "contains", json!("'Brien"))), s(&["C"]));
    // An empty custom text counts as empty.
    assert_eq!(
        q(cond("custom.notes", "empty", Json::Null)),
        s(&["C", "D", "E"])
    );
    assert_eq!(
        q(cond("custom.notes", "not_empty", Json::Null)),
        s(&["A", "B"])
    );
    // Email lists.
    assert_eq!(
        q(cond("secondary_emails", "contains", json!("@WORK"))),
        s(&["A"])
    );
    assert_eq!(
        q(cond("secondary_emails", "eq", json!("ANA@work.example"))),
        s(&["A"])
    );
    assert_eq!(
        q(cond("secondary_emails", "neq", json!("ana@work.example"))),
        s(&["B", "C", "D", "E"])
    );
    assert_eq!(
        q(cond("secondary_emails", "empty", Json::Null)),
        s(&["B", "C", "D", "E"])
    );

    // Numbers.
    assert_eq!(q(cond("custom.score", "eq", json!(90))), s(&["A"]));
    assert_eq!(
        q(cond("custom.score", "neq", json!(90))),
        s(&["B", "C", "D", "E"])
    );
    assert_eq!(q(cond("custom.score", "gt", json!(50))), s(&["A"]));
    assert_eq!(q(cond("custom.score", "gte", json!(50))), s(&["A", "C"]));
    assert_eq!(q(cond("custom.score", "lt", json!(50))), s(&["B"]));
    assert_eq!(q(cond("custom.score", "lte", json!(10.5))), s(&["B"]));
    assert_eq!(
        q(cond("custom.score", "between", json!([10.5, 50]))),
        s(&["B", "C"])
    );
    assert_eq!(q(cond("custom.score", "empty", Json::Null)), s(&["D", "E"]));
    assert_eq!(q(cond("conversation_count", "eq", json!(0))).len(), 5);

    // Checkboxes: an unset custom checkbox is false.
    assert_eq!(q(cond("custom.vip", "is_true", Json::Null)), s(&["A"]));
    assert_eq!(
        q(cond("custom.vip", "is_false", Json::Null)),
        s(&["B", "C", "D", "E"])
    );
    assert_eq!(q(cond("blocked", "is_true", Json::Null)), s(&["C"]));
    assert_eq!(
        q(cond("blocked", "is_false", Json::Null)),
        s(&["A", "B", "D", "E"])
    );

    // Selects.
    assert_eq!(
        q(cond("lead_stage", "in", json!(["customer", "LEAD"]))),
        s(&["A", "B", "D", "E"])
    );
    assert_eq!(
        q(cond("lead_stage", "not_in", json!(["customer"]))),
        s(&["B", "C", "E"])
    );
    assert_eq!(q(cond("lead_stage", "eq", json!("contact"))), s(&["C"]));
    assert_eq!(q(cond("custom.tier", "in", json!(["gold"]))), s(&["A"]));
    assert_eq!(
        q(cond("custom.tier", "not_in", json!(["Gold", "Silver"]))),
        s(&["C", "D", "E"])
    );
    assert_eq!(
        q(cond("custom.tier", "neq", json!("Gold"))),
        s(&["B", "C", "D", "E"])
    );
    assert_eq!(q(cond("custom.tier", "empty", Json::Null)), s(&["C", "E"]));

    // Multi-select.
    assert_eq!(
        q(cond(
            "custom.interests",
            "has_any",
            json!(["music", "travel"])
        )),
        s(&["A", "B"])
    );
    assert_eq!(
        q(cond(
            "custom.interests",
            "has_all",
            json!(["music", "sports"])
        )),
        s(&["A"])
    );
    assert_eq!(
        q(cond(
            "custom.interests",
            "has_all",
            json!(["music", "travel"])
        )),
        Vec::<String>::new()
    );
    assert_eq!(
        q(cond("custom.interests", "has_none", json!(["sports"]))),
        s(&["B", "C", "D", "E"])
    );
    assert_eq!(
        q(cond("custom.interests", "no_tags", Json::Null)),
        s(&["C", "D", "E"])
    );
    assert_eq!(
        q(cond("custom.interests", "not_empty", Json::Null)),
        s(&["A", "B"])
    );

    // Tags: case-insensitive.
    assert_eq!(q(cond("tags", "has_any", json!(["vip"]))), s(&["A", "D"]));
    assert_eq!(
        q(cond("tags", "has_any", json!(["Beta", "newsletter"]))),
        s(&["A", "B"])
    );
    assert_eq!(
        q(cond("tags", "has_all", json!(["vip", "BETA"]))),
        s(&["A"])
    );
    assert_eq!(
        q(cond("tags", "has_all", json!(["vip", "Vip"]))),
        s(&["A", "D"])
    );
    assert_eq!(
        q(cond("tags", "has_none", json!(["vip"]))),
        s(&["B", "C", "E"])
    );
    assert_eq!(q(cond("tags", "no_tags", Json::Null)), s(&["C", "E"]));
    assert_eq!(
        q(cond("tags", "not_empty", Json::Null)),
        s(&["A", "B", "D"])
    );

    // Owner.
    assert_eq!(q(cond("owner", "eq", json!("MARIA"))), s(&["A", "D"]));
    assert_eq!(q(cond("owner", "neq", json!("maria"))), s(&["B", "C", "E"]));
    assert_eq!(q(cond("owner", "unassigned", Json::Null)), s(&["C", "E"]));
    assert_eq!(q(cond("owner", "in", json!(["joao", "nobody"]))), s(&["B"]));

    // Dates (birthday, custom date).
    assert_eq!(q(cond("birthday", "on", json!("1990-05-17"))), s(&["A"]));
    assert_eq!(
        q(cond("birthday", "before", json!("1990-05-17"))),
        Vec::<String>::new()
    );
    assert_eq!(q(cond("birthday", "after", json!("1990-05-16"))), s(&["A"]));
    assert_eq!(
        q(cond("birthday", "empty", Json::Null)),
        s(&["B", "C", "D", "E"])
    );
    assert_eq!(
        q(cond(
            "custom.renewal",
            "between",
            json!(["2026-03-01", "2026-03-01"])
        )),
        s(&["A"])
    );
    assert_eq!(q(cond("custom.renewal", "last_days", json!(14))), s(&["A"]));
    assert_eq!(
        q(cond("custom.renewal", "last_days", json!(13))),
        Vec::<String>::new()
    );
    assert_eq!(
        q(cond("custom.renewal", "this_month", Json::Null)),
        s(&["A"])
    );
    assert_eq!(
        q(cond("custom.renewal", "last_month", Json::Null)),
        Vec::<String>::new()
    );

    // Datetimes, UTC account.
    assert_eq!(q(cond("created_at", "on", json!("2026-03-10"))), s(&["B"]));
    assert_eq!(
        q(cond("created_at", "before", json!("2026-03-01"))),
        s(&["C", "E"])
    );
    assert_eq!(
        q(cond("created_at", "after", json!("2026-03-10"))),
        s(&["D"])
    );
    assert_eq!(
        q(cond("created_at", "after", json!("2026-03-10T10:00:00Z"))),
        s(&["D"])
    );
    assert_eq!(
        q(cond(
            "created_at",
            "before",
            json!("2026-03-10T10:00:00.001Z")
        )),
        s(&["A", "B", "C", "E"])
    );
    assert_eq!(
        q(cond(
            "created_at",
            "between",
            json!(["2026-03-01", "2026-03-10"])
        )),
        s(&["A", "B"])
    );
    assert_eq!(
        q(cond(
            "created_at",
            "between",
            json!(["2026-03-01T10:00:00Z", "2026-03-10T10:00:00Z"])
        )),
        s(&["A", "B"])
    );
    assert_eq!(q(cond("created_at", "today", Json::Null)), s(&["D"]));
    assert_eq!(
        q(cond("created_at", "yesterday", Json::Null)),
        Vec::<String>::new()
    );
    // The week of Sunday 15 March started on Monday 9 March.
    assert_eq!(
        q(cond("created_at", "this_week", Json::Null)),
        s(&["B", "D"])
    );
    assert_eq!(
        q(cond("created_at", "this_month", Json::Null)),
        s(&["A", "B", "D"])
    );
    assert_eq!(q(cond("created_at", "last_month", Json::Null)), s(&["C"]));
    // From now − N days (12:00 UTC) to now.
    assert_eq!(q(cond("created_at", "last_days", json!(5))), s(&["D"]));
    assert_eq!(q(cond("created_at", "last_days", json!(6))), s(&["B", "D"]));
    assert_eq!(
        q(cond("created_at", "last_days", json!(14))),
        s(&["B", "D"])
    );
    assert_eq!(
        q(cond("created_at", "last_days", json!(15))),
        s(&["A", "B", "D"])
    );
    assert_eq!(
        q(cond("last_activity_at", "empty", Json::Null)),
        s(&["B", "C", "D", "E"])
    );
    assert_eq!(q(cond("blocked_at", "not_empty", Json::Null)), s(&["C"]));
    assert_eq!(q(cond("custom.seen", "on", json!("2026-03-10"))), s(&["A"]));
}

#[test]
fn groups_combine_and_empty_groups_match_all_or_nothing() {
    let (db, cat) = setup();
    people(&db, &cat);
    let clock = clock_at("2026-03-15T12:00:00Z", Tz::UTC);
    let q = |f: Json| ids(&db, &cat, &clock, f);
    assert_eq!(q(json!({"all": []})).len(), 5);
    assert!(q(json!({"any": []})).is_empty());
    assert_eq!(q(json!({"all": [{"any": []}]})), Vec::<String>::new());
    assert_eq!(
        q(json!({"any": [{"all": []}, cond("city", "eq", json!("nowhere"))]})).len(),
        5
    );
    let f = json!({"any": [
        {"all": [cond("city", "eq", json!("paris")), cond("tags", "has_any", json!(["vip"]))]},
        {"all": [cond("country", "eq", json!("BR")), {"any": [cond("owner", "eq", json!("maria")), cond("owner", "unassigned", Json::Null)]}]}
    ]});
    assert_eq!(q(f), vec!["A".to_string(), "D".to_string()]);
}

#[test]
fn injection_attempts_stay_values() {
    let (db, cat) = setup();
    people(&db, &cat);
    insert(
        &db,
        &cat,
        "X",
        &json!({"email": "x@example.com", "city": "'); DROP TABLE contacts; --"}),
        &[],
    );
    let clock = clock_at("2026-03-15T12:00:00Z", Tz::UTC);
    for field in [
        "city; DROP TABLE contacts",
        "city = city OR 1=1 --",
        "custom.tier') OR 1=1 --",
        "custom.tier'",
        "tags) OR (1=1",
        "c.blocked",
    ] {
        let f = json!({"all": [cond(field, "eq", json!("x"))]});
        assert_eq!(invalid_at(&cat, f), "filter.all[0].field");
    }
    let q = |f: Json| ids(&db, &cat, &clock, json!({"all": [f]}));
    assert_eq!(
        q(cond("city", "eq", json!("' OR 1=1 --"))),
        Vec::<String>::new()
    );
    assert_eq!(
        q(cond("city", "eq", json!("'); DROP TABLE contacts; --"))),
        vec!["X".to_string()]
    );
    assert_eq!(
        q(cond("city", "contains", json!("%' OR '%'='"))),
        Vec::<String>::new()
    );
    assert_eq!(
        q(cond("tags", "has_any", json!(["x') OR 1=1 --"]))),
        Vec::<String>::new()
    );
    assert_eq!(
        db.execute("SELECT count(*) FROM contacts", &[])
            .unwrap()
            .scalar_i64(),
        Some(6)
    );
}

// ---------------------------------------------------------------- time zones

#[test]
fn local_days_follow_the_clock_changes() {
    // São Paulo: DST began at 00:00 on 2018-11-04 (no midnight that day) and ended at 00:00
    // on 2019-02-17 (23:00–24:00 on the 16th happened twice).
    let sp: Tz = "America/Sao_Paulo".parse().unwrap();
    let c = Clock::new(utc("2019-01-01T00:00:00Z"), sp);
    let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
    assert_eq!(c.day_start(d("2018-11-03")), utc("2018-11-03T03:00:00Z"));
    assert_eq!(c.day_start(d("2018-11-04")), utc("2018-11-04T03:00:00Z"));
    assert_eq!(c.day_start(d("2018-11-05")), utc("2018-11-05T02:00:00Z"));
    assert_eq!(c.day_start(d("2019-02-16")), utc("2019-02-16T02:00:00Z"));
    assert_eq!(c.day_start(d("2019-02-17")), utc("2019-02-17T03:00:00Z"));
    // Berlin: 2026-03-29 is 23 hours long, 2026-10-25 is 25.
    let be: Tz = "Europe/Berlin".parse().unwrap();
    let c = Clock::new(utc("2026-01-01T00:00:00Z"), be);
    assert_eq!(
        c.day_start(d("2026-03-30")) - c.day_start(d("2026-03-29")),
        chrono::TimeDelta::hours(23)
    );
    assert_eq!(
        c.day_start(d("2026-10-26")) - c.day_start(d("2026-10-25")),
        chrono::TimeDelta::hours(25)
    );
    // A zone that skipped a whole day: Samoa went from 29 to 31 December 2011.
    let ws: Tz = "Pacific/Apia".parse().unwrap();
    let c = Clock::new(utc("2012-01-01T00:00:00Z"), ws);
    assert_eq!(c.day_start(d("2011-12-30")), c.day_start(d("2011-12-31")));
}

#[test]
fn days_ago_counts_wall_clock_days() {
    let ny: Tz = "America/New_York".parse().unwrap();
    // 2026-03-08 02:00 EST → EDT. Noon on the 9th minus one day is noon on the 8th: 24h earlier
    // on the wall clock, 23h in absolute time.
    let c = Clock::new(utc("2026-03-09T16:00:00Z"), ny);
    assert_eq!(c.days_ago(1), utc("2026-03-08T16:00:00Z"));
    let c = Clock::new(utc("2026-03-09T06:30:00Z"), ny); // 02:30 EDT on the 9th
                                                         // 02:30 on the 8th does not exist: the first instant after is 03:00 EDT.
    assert_eq!(c.days_ago(1), utc("2026-03-08T07:00:00Z"));
}

/// A contact seen at 23:30 local on a DST change day belongs to that local day, not the next.
#[test]
fn dates_at_half_past_eleven_on_dst_days_fall_on_their_local_day() {
    let (db, cat) = setup();
    let cases = [
        // (zone, local day, 23:30 local of that day in UTC)
        ("America/Sao_Paulo", "2018-11-03", "2018-11-04T02:30:00Z"), // day before spring-forward
        ("America/Sao_Paulo", "2019-02-16", "2019-02-17T01:30:00Z"), // first 23:30 (-02)
        ("America/Sao_Paulo", "2019-02-16", "2019-02-17T02:30:00Z"), // second 23:30 (-03)
        ("Europe/Berlin", "2026-03-29", "2026-03-29T21:30:00Z"),
        ("Europe/Berlin", "2026-10-25", "2026-10-25T22:30:00Z"),
        ("America/New_York", "2026-03-08", "2026-03-09T03:30:00Z"),
        ("America/New_York", "2026-11-01", "2026-11-02T04:30:00Z"),
        ("Australia/Lord_Howe", "2026-04-05", "2026-04-05T13:00:00Z"), // half-hour DST
    ];
    for (i, (zone, day, at)) in cases.iter().enumerate() {
        let id = format!("T{i}");
        insert(
            &db,
            &cat,
            &id,
            &json!({"email": format!("t{i}@example.com"), "custom": {"seen": at}}),
            &[],
        );
        let tz: Tz = zone.parse().unwrap();
        let local = utc(at).with_timezone(&tz);
        assert_eq!(
            local.format("%Y-%m-%d %H:%M").to_string(),
            format!("{day} 23:30"),
            "{zone} {at}"
        );
        let clock = Clock::new(utc(at), tz);
        let q = |f: Json| {
            ids(
                &db,
                &cat,
                &clock,
                json!({"all": [cond("email", "eq", json!(format!("t{i}@example.com"))), f]}),
            )
        };
        let me = vec![id.clone()];
        let next = NaiveDate::parse_from_str(day, "%Y-%m-%d")
            .unwrap()
            .succ_opt()
            .unwrap()
            .to_string();
        assert_eq!(
            q(cond("custom.seen", "on", json!(day))),
            me,
            "{zone} on {day}"
        );
        assert!(
            q(cond("custom.seen", "on", json!(next))).is_empty(),
            "{zone} on {next}"
        );
        assert_eq!(
            q(cond("custom.seen", "before", json!(next))),
            me,
            "{zone} before {next}"
        );
        assert!(
            q(cond("custom.seen", "after", json!(day))).is_empty(),
            "{zone} after {day}"
        );
        assert_eq!(q(cond("custom.seen", "between", json!([day, day]))), me);
        assert_eq!(
            q(cond("custom.seen", "today", Json::Null)),
            me,
            "{zone} today"
        );
        assert!(q(cond("custom.seen", "yesterday", Json::Null)).is_empty());
        assert_eq!(q(cond("custom.seen", "last_days", json!(1))), me);
    }
}

#[test]
fn weeks_start_on_monday_and_months_are_whole() {
    let (db, cat) = setup();
    let sp: Tz = "America/Sao_Paulo".parse().unwrap();
    // Sunday 2026-03-01 23:30 in São Paulo (-03) is Monday 02:30 UTC.
    insert(
        &db,
        &cat,
        "SUN",
        &json!({"email": "s@example.com", "custom": {"seen": "2026-03-02T02:30:00Z"}}),
        &[],
    );
    insert(
        &db,
        &cat,
        "MON",
        &json!({"email": "m@example.com", "custom": {"seen": "2026-03-02T03:00:00Z"}}),
        &[],
    );
    insert(
        &db,
        &cat,
        "FEB",
        &json!({"email": "f@example.com", "custom": {"seen": "2026-03-01T02:59:59.999Z"}}),
        &[],
    );
    // Now: Wednesday 2026-03-04 in São Paulo.
    let clock = Clock::new(utc("2026-03-04T15:00:00Z"), sp);
    let q = |op: &str| {
        ids(
            &db,
            &cat,
            &clock,
            json!({"all": [cond("custom.seen", op, Json::Null)]}),
        )
    };
    assert_eq!(q("this_week"), vec!["MON".to_string()]);
    assert_eq!(q("this_month"), vec!["MON".to_string(), "SUN".to_string()]);
    assert_eq!(q("last_month"), vec!["FEB".to_string()]);
}

// ---------------------------------------------------------------- query plans

fn plan(db: &dyn Sql, w: &Where) -> String {
    let rows = db
        .execute(
            &format!(
                "EXPLAIN QUERY PLAN SELECT count(*) FROM contacts c WHERE {}",
                w.sql
            ),
            &w.params,
        )
        .unwrap();
    let detail = rows.column("detail").unwrap();
    rows.rows
        .iter()
        .map(|r| r[detail].as_str().unwrap_or_default().to_owned())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The common filters are answered from an index, never by scanning every contact.
#[test]
fn common_filters_use_indexes() {
    let (db, cat) = setup();
    people(&db, &cat);
    let clock = clock_at("2026-03-15T12:00:00Z", Tz::UTC);
    // A saved segment on a custom field creates that field's expression index.
    crate::query::segments::create(
        &db,
        &cat,
        "admin",
        &json!({"name": "Gold", "filter": {"all": [cond("custom.tier", "in", json!(["Gold"]))]}}),
    )
    .unwrap();
    crate::query::segments::create(
        &db,
        &cat,
        "admin",
        &json!({"name": "Scores", "filter": {"all": [cond("custom.score", "gt", json!(3))]}}),
    )
    .unwrap();
    let scope = crate::query::segments::scope(&db, &cat, &clock, "all").unwrap();
    for (f, index) in [
        (cond("city", "eq", json!("Paris")), "contacts_city"),
        (
            cond("city", "in", json!(["Paris", "Lyon"])),
            "contacts_city",
        ),
        (cond("country", "eq", json!("fr")), "contacts_country"),
        (cond("owner", "eq", json!("maria")), "contacts_owner"),
        (cond("owner", "unassigned", Json::Null), "contacts_owner"),
        (
            cond("lead_stage", "in", json!(["customer"])),
            "contacts_lead_stage",
        ),
        (cond("tags", "has_any", json!(["vip"])), "contact_tags_tag"),
        (
            cond("tags", "has_all", json!(["vip", "beta"])),
            "contact_tags_tag",
        ),
        (
            cond("created_at", "last_days", json!(7)),
            "contacts_created_at",
        ),
        (
            cond("created_at", "on", json!("2026-03-01")),
            "contacts_created_at",
        ),
        (
            cond("last_activity_at", "this_month", Json::Null),
            "contacts_last_activity_at",
        ),
        (
            cond("custom.tier", "eq", json!("gold")),
            "contacts_custom_tier",
        ),
        (
            cond("custom.score", "between", json!([1, 5])),
            "contacts_custom_score",
        ),
    ] {
        let w = scope.clone().and(
            Filter::parse(&json!({"all": [f.clone()]}), &cat)
                .unwrap()
                .compile(&clock, Reading::Every),
        );
        let p = plan(&db, &w);
        assert!(p.contains(index), "{f}: expected {index} in plan: {p}");
        assert!(!p.contains("SCAN c"), "{f}: full scan in plan: {p}");
    }
}

#[test]
fn segment_indexes_follow_the_saved_segments() {
    let (db, cat) = setup();
    let names = |db: &NativeSql| {
        db.execute(
            "SELECT name FROM sqlite_master WHERE name LIKE 'contacts_custom_%' ORDER BY name",
            &[],
        )
        .unwrap()
        .rows
        .into_iter()
        .map(|r| r[0].as_str().unwrap().to_owned())
        .collect::<Vec<_>>()
    };
    let s = crate::query::segments::create(&db, &cat, "a", &json!({"name": "n", "filter": {"any": [
        cond("custom.notes", "contains", json!("x")), cond("custom.interests", "has_any", json!(["music"]))]}})).unwrap();
    assert_eq!(names(&db), vec!["contacts_custom_notes"]);
    crate::query::segments::update(
        &db,
        &cat,
        &s.id.to_string(),
        &json!({"filter": {"all": [cond("custom.renewal", "today", Json::Null)]}}),
    )
    .unwrap();
    assert_eq!(names(&db), vec!["contacts_custom_renewal"]);
    crate::query::segments::delete(&db, &cat, &s.id.to_string()).unwrap();
    assert!(names(&db).is_empty());
}

/// A page walks an index in row order and probes tags per contact: no full scan, no sort.
#[test]
fn pages_of_common_filters_walk_an_index_without_sorting() {
    let (db, cat) = setup();
    people(&db, &cat);
    let clock = clock_at("2026-03-15T12:00:00Z", Tz::UTC);
    let scope = crate::query::segments::scope(&db, &cat, &clock, "all").unwrap();
    let f = json!({"all": [
        cond("country", "eq", json!("FR")),
        cond("lead_stage", "in", json!(["customer"])),
        cond("tags", "has_any", json!(["vip"])),
    ]});
    let w = scope.and(
        Filter::parse(&f, &cat)
            .unwrap()
            .compile(&clock, Reading::Page),
    );
    let rows = db
        .execute(
            &format!("EXPLAIN QUERY PLAN SELECT c.id FROM contacts c WHERE {} ORDER BY c.id DESC LIMIT 51", w.sql),
            &w.params,
        )
        .unwrap();
    let p: Vec<String> = rows
        .rows
        .iter()
        .map(|r| r[3].as_str().unwrap_or_default().to_owned())
        .collect();
    let p = p.join(" | ");
    assert!(!p.contains("SCAN c"), "{p}");
    assert!(!p.contains("TEMP B-TREE"), "{p}");
    assert!(p.contains("SEARCH t USING PRIMARY KEY"), "{p}");
}

/// Sorted pages (ties, nulls, both directions) walk every contact of the scope once, in the
/// order one plain `ORDER BY` gives, with blocked contacts left out of segment All.
#[test]
fn sorted_pages_walk_the_scope_once_in_order() {
    use crate::kernel::store::Value as V;
    use crate::query::page::{self, PageRequest, SortKey};
    let (db, cat) = setup();
    let cities = ["Paris", "lyon", "Nice"];
    for i in 0..120_i64 {
        let city = cities.get(i as usize % 4).map_or(json!(null), |c| json!(c));
        insert(
            &db,
            &cat,
            &format!("S{i:03}"),
            &json!({"email": format!("s{i}@example.com"), "city": city}),
            &[
                ("conversation_count", V::Integer(i % 5)),
                ("blocked", V::Integer(i64::from(i % 9 == 0))),
            ],
        );
    }
    let clock = clock_at("2026-03-15T12:00:00Z", Tz::UTC);
    for (field, desc, expected_order) in [
        ("city", true, "c.city COLLATE NOCASE DESC, c.id DESC"),
        ("city", false, "c.city COLLATE NOCASE ASC, c.id ASC"),
        (
            "conversation_count",
            true,
            "c.conversation_count DESC, c.id DESC",
        ),
    ] {
        let expected: Vec<String> = db
            .execute(
                &format!(
                    "SELECT contact_id FROM contacts c WHERE blocked = 0 ORDER BY {expected_order}"
                ),
                &[],
            )
            .unwrap()
            .rows
            .iter()
            .map(|r| r[0].as_str().unwrap().to_owned())
            .collect();
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let page = page::page(
                &db,
                &cat,
                &PageRequest {
                    scope: crate::query::segments::scope(&db, &cat, &clock, "all").unwrap(),
                    sort: vec![SortKey {
                        field: field.into(),
                        desc,
                    }],
                    limit: 7,
                    cursor: cursor.as_deref(),
                    columns: vec!["city".into(), "tags".into()],
                },
            )
            .unwrap();
            seen.extend(
                page.items
                    .iter()
                    .map(|i| i["contact_id"].as_str().unwrap().to_owned()),
            );
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
        assert_eq!(seen.len(), 120 - 14, "{field} desc={desc}");
        assert_eq!(seen, expected, "{field} desc={desc}");
    }
}
