use super::*;
use crate::import::mapping::Spec;
use crate::import::preview::Header;
use crate::kernel::fields::CustomFieldDef;

fn catalogue() -> Catalogue {
    let def = |key: &str, ty: FieldType, options: Option<Vec<&str>>| CustomFieldDef {
        key: key.into(),
        label: key.into(),
        ty,
        options: options.map(|o| o.into_iter().map(String::from).collect()),
    };
    Catalogue::with_custom(vec![
        def(
            "tier",
            FieldType::SingleSelect,
            Some(vec!["Gold", "Silver"]),
        ),
        def("score", FieldType::Number, None),
        def("vip", FieldType::Checkbox, None),
        def("notes", FieldType::Text, None),
        def(
            "interests",
            FieldType::MultiSelect,
            Some(vec!["music", "sports", "tech"]),
        ),
        def("renewal", FieldType::Date, None),
    ])
}

const HEADER: &[&str] = &[
    "Id",
    "Email",
    "Phone",
    "First",
    "Tags",
    "Tier",
    "Score",
    "VIP",
    "Notes",
    "Interests",
    "Owner",
    "Alt emails",
    "Renewal",
    "Company",
];

fn plan(policies: serde_json::Value) -> Plan {
    let keys = [
        "contact_id",
        "email",
        "phone",
        "first_name",
        "tags",
        "custom.tier",
        "custom.score",
        "custom.vip",
        "custom.notes",
        "custom.interests",
        "owner",
        "secondary_emails",
        "custom.renewal",
        "company",
    ];
    let mapping: serde_json::Map<String, Json> = HEADER
        .iter()
        .zip(keys)
        .map(|(c, k)| (c.to_string(), json!(k)))
        .collect();
    let spec = Spec::parse(
        &json!({"mapping": mapping, "policies": policies}),
        &catalogue(),
        "US",
    )
    .unwrap();
    let header = Header::parse(&record(HEADER)).unwrap();
    spec.bind(&header, &catalogue()).unwrap()
}

fn record(fields: &[&str]) -> Record {
    Record {
        fields: fields.iter().map(|f| f.to_string()).collect(),
        undecodable: None,
    }
}

/// A full row with one cell replaced.
fn row_with(column: &str, value: &str) -> Record {
    let mut fields: Vec<&str> = vec![
        "",
        "ana@x.com",
        "",
        "Ana",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
    ];
    let i = HEADER.iter().position(|h| *h == column).unwrap();
    fields[i] = value;
    record(&fields)
}

fn parse_row(r: &Record) -> Result<RowEdit, Reason> {
    parse(r, &plan(json!({})), &catalogue(), Region::default())
}

fn failure(column: &str, value: &str) -> Reason {
    parse_row(&row_with(column, value)).expect_err("the row should fail")
}

#[test]
fn keys_are_normalized_like_everywhere_else() {
    let r = record(&[
        "C-1",
        " Ana@X.com ",
        "(212) 555-0100",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
        "",
    ]);
    let row = parse_row(&r).unwrap();
    assert_eq!(row.keys.contact_id.as_ref().unwrap().as_str(), "C-1");
    assert_eq!(row.keys.email.as_deref(), Some("ana@x.com"));
    assert_eq!(row.keys.phone.as_deref(), Some("+12125550100"));
    assert_eq!(
        row.keys.tagged(),
        vec!["id:C-1", "email:ana@x.com", "phone:+12125550100"]
    );
}

#[test]
fn the_job_region_reads_local_phone_numbers() {
    let r = row_with("Phone", "11 98765 4321");
    let br = parse(
        &r,
        &plan(json!({})),
        &catalogue(),
        Region::parse("BR").unwrap(),
    )
    .unwrap();
    assert_eq!(br.keys.phone.as_deref(), Some("+5511987654321"));
}

#[test]
fn a_row_without_any_key_fails() {
    let r = record(&["", "", "", "Ana", "", "", "", "", "", "", "", "", "", ""]);
    assert!(parse_row(&r)
        .unwrap_err()
        .contains("no Contact ID, email or phone"));
}

#[test]
fn every_bad_value_names_its_column_and_value() {
    for (column, value, says) in [
        ("Email", "ana-at-x", "no '@'"),
        ("Phone", "12", "phone"),
        ("Id", "has space", "letters, digits"),
        ("Tier", "Platinum", "options"),
        ("Score", "12abc", "number"),
        ("VIP", "maybe", "true or false"),
        ("Interests", "music; knitting", "options"),
        ("Renewal", "31/12/2027", "YYYY-MM-DD"),
        ("Alt emails", "a@x.com; nope", "email"),
        ("Owner", "bad login!", "login"),
    ] {
        let why = failure(column, value);
        assert!(
            why.starts_with(&format!("column '{column}' ('{value}')")),
            "{column}: {why}"
        );
        assert!(why.contains(says), "{column}: {why}");
    }
}

#[test]
fn ragged_rows_undecodable_rows_and_repeated_headers_fail() {
    assert!(parse_row(&record(&["C1", "a@x.com"]))
        .unwrap_err()
        .contains("2 fields but the header has 14"));
    let mut bad = row_with("First", "Bj?rn");
    bad.undecodable = Some("is not valid UTF-8 text");
    assert!(parse_row(&bad).unwrap_err().contains("UTF-8"));
    assert!(parse_row(&record(HEADER))
        .unwrap_err()
        .contains("repeats the header"));
}

#[test]
fn typed_cells_become_typed_values() {
    let mut fields = vec![
        "C1",
        "a@x.com",
        "",
        "Ana",
        "vip; b2b",
        "gold",
        "42.5",
        "yes",
        "hello",
        "music;tech",
        "agent1",
        "b@x.com;c@x.com",
        "2027-01-31",
        "Acme",
    ];
    let row = parse_row(&record(&fields)).unwrap();
    assert_eq!(row.owner.as_deref(), Some("agent1"));
    let mut c = Contact::new(ContactId::parse("C1").unwrap(), "admin");
    row.apply(&mut c, &[], &catalogue()).unwrap();
    assert_eq!(c.tags, vec!["vip", "b2b"]);
    assert_eq!(c.custom["tier"], json!("Gold"));
    assert_eq!(c.custom["score"], json!(42.5));
    assert_eq!(c.custom["vip"], json!(true));
    assert_eq!(c.custom["interests"], json!(["music", "tech"]));
    assert_eq!(c.text("secondary_emails"), Some(r#"["b@x.com","c@x.com"]"#));
    assert_eq!(c.text("display_name"), Some("Ana"));
    fields[6] = "7";
    let row = parse_row(&record(&fields)).unwrap();
    let mut c = Contact::new(ContactId::parse("C1").unwrap(), "admin");
    row.apply(&mut c, &[], &catalogue()).unwrap();
    assert_eq!(c.custom["score"], json!(7));
}

/// A stored contact with values in the fields the policies are tried on.
fn stored() -> Contact {
    let mut c = Contact::new(ContactId::parse("C1").unwrap(), "admin");
    c.set("first_name", "Ann");
    c.set("company", "Old Co");
    c.set("secondary_emails", r#"["b@x.com"]"#);
    c.custom.insert("notes".into(), json!("first"));
    c.custom.insert("interests".into(), json!(["music"]));
    c.tags = vec!["old".into()];
    c
}

fn apply_with(policies: serde_json::Value, fields: &[&str]) -> (Contact, Vec<String>) {
    let row = parse(
        &record(fields),
        &plan(policies),
        &catalogue(),
        Region::default(),
    )
    .unwrap();
    let mut c = stored();
    let changed = row.apply(&mut c, &[], &catalogue()).unwrap();
    (c, changed)
}

const NEW: &[&str] = &[
    "", "a@x.com", "", "Ana", "new", "", "", "", "second", "tech", "", "c@x.com", "", "New Co",
];

#[test]
fn update_blank_only_fills_only_empty_fields() {
    let (c, changed) = apply_with(json!({}), NEW);
    assert_eq!(c.text("first_name"), Some("Ann"));
    assert_eq!(c.text("company"), Some("Old Co"));
    assert_eq!(c.text("email_norm"), Some("a@x.com"), "email was blank");
    assert_eq!(c.tags, vec!["old"]);
    assert_eq!(c.custom["notes"], json!("first"));
    assert_eq!(changed, vec!["email"]);
}

#[test]
fn overwrite_replaces_values() {
    let (c, changed) = apply_with(
        json!({"first_name": "overwrite", "company": "overwrite", "tags": "overwrite",
               "custom.notes": "overwrite", "custom.interests": "overwrite"}),
        NEW,
    );
    assert_eq!(c.text("first_name"), Some("Ana"));
    assert_eq!(c.text("company"), Some("New Co"));
    assert_eq!(c.tags, vec!["new"]);
    assert_eq!(c.custom["notes"], json!("second"));
    assert_eq!(c.custom["interests"], json!(["tech"]));
    assert!(changed.contains(&"custom.notes".to_string()));
}

#[test]
fn append_joins_text_and_grows_multi_value_fields() {
    let (c, _) = apply_with(
        json!({"first_name": "append", "tags": "append", "custom.notes": "append",
               "custom.interests": "append", "secondary_emails": "append"}),
        NEW,
    );
    assert_eq!(c.text("first_name"), Some("Ann; Ana"));
    assert_eq!(c.tags, vec!["old", "new"]);
    assert_eq!(c.custom["notes"], json!("first; second"));
    assert_eq!(c.custom["interests"], json!(["music", "tech"]));
    assert_eq!(c.text("secondary_emails"), Some(r#"["b@x.com","c@x.com"]"#));
}

#[test]
fn appending_what_is_already_there_changes_nothing() {
    let policies = json!({"custom.notes": "append", "tags": "append"});
    let fields = &[
        "", "", "", "", "OLD", "", "", "", "first", "", "", "", "", "",
    ];
    let mut fields = fields.to_vec();
    fields[0] = "C1";
    let (c, changed) = apply_with(policies, &fields);
    assert_eq!(c.custom["notes"], json!("first"));
    assert_eq!(c.tags, vec!["old"]);
    assert!(changed.is_empty(), "{changed:?}");
}

#[test]
fn appending_past_a_bound_fails_the_row() {
    let long = "x".repeat(600);
    let mut fields = NEW.to_vec();
    fields[8] = &long;
    let row = parse(
        &record(&fields),
        &plan(json!({"custom.notes": "append"})),
        &catalogue(),
        Region::default(),
    )
    .unwrap();
    let mut c = stored();
    c.custom.insert("notes".into(), json!("y".repeat(600)));
    let why = row.apply(&mut c, &[], &catalogue()).unwrap_err();
    assert!(
        why.contains("custom.notes") && why.contains("1000"),
        "{why}"
    );
}

#[test]
fn job_tags_are_added_to_every_contact() {
    let row = parse_row(&row_with("Email", "a@x.com")).unwrap();
    let mut c = stored();
    let tags = vec![Tag::parse("imported").unwrap(), Tag::parse("OLD").unwrap()];
    let changed = row.apply(&mut c, &tags, &catalogue()).unwrap();
    assert_eq!(c.tags, vec!["old", "imported"]);
    assert!(changed.contains(&"tags".to_string()));
}
