//! The differential test: hundreds of random filters over a few thousand generated
//! contacts, each answered by SQLite (the compiled SQL) and by a plain in-memory evaluation
//! written straight from SPEC §9, which must agree contact for contact.
//!
//! The data is chosen to hit the edges: case variants, LIKE wildcards and quotes in values,
//! empty custom texts and lists, absent values, and instants right at local midnights and
//! DST changes in the time zones the filters are evaluated in.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Days, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;
use serde_json::{json, Value as Json};

use super::tests::{insert, matching, setup, utc};
use super::*;
use crate::contacts::contact::Contact;
use crate::kernel::store::{Sql, Value};
use crate::kernel::values::time;

const CONTACTS: u64 = 3_000;
const FILTERS_PER_CLOCK: usize = 100;

/// splitmix64: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
    fn pick<'a>(&mut self, items: &'a [&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const TEXTS: &[&str] = &[
    "Paris",
    "paris",
    "PARIS",
    "Lyon",
    "São Paulo",
    "são paulo",
    "100%",
    "100",
    "Acme 100%",
    "a_b",
    "axb",
    "O'Hara",
    "o'hara",
    "Ünïcode",
    "x",
    "back\\slash",
];
/// Condition values for text operators: whole values, pieces, wildcards and quotes.
const TEXT_PROBES: &[&str] = &[
    "Paris", "PARIS", "par", "ARIS", "lyon", "São", "SÃO", "paulo", "100%", "100", "%", "_", "a_b",
    "a%", "'", "o'h", "x", "\\", "back\\", "Ü", "nope",
];
const OWNERS: &[&str] = &["maria", "Maria", "joao", "ana.s", "bob"];
const TAGS: &[&str] = &[
    "vip",
    "VIP",
    "beta",
    "newsletter",
    "churn-risk",
    "a%b",
    "x_y",
];
const TAG_PROBES: &[&str] = &[
    "vip",
    "Vip",
    "beta",
    "newsletter",
    "a%b",
    "a_b",
    "x_y",
    "xzy",
    "none",
];
const TIERS: &[&str] = &["Gold", "Silver", "Bronze"];
const INTERESTS: &[&str] = &["sports", "music", "travel", "tech"];
const CHANNELS: &[&str] = &["web_chat", "whatsapp", "email", "telegram"];
const STAGES: &[&str] = &["lead", "contact", "customer"];
const SECONDARY: &[&str] = &[
    "alt@Example.com",
    "x_y@example.org",
    "100%@example.net",
    "o'hara@example.com",
];

/// The clocks the filters run at: a DST change day in three zones, and UTC.
fn clocks() -> Vec<Clock> {
    let tz = |s: &str| s.parse::<Tz>().expect("zone");
    vec![
        Clock::new(utc("2026-03-29T12:00:00Z"), tz("Europe/Berlin")),
        Clock::new(utc("2026-03-08T07:30:00Z"), tz("America/New_York")),
        Clock::new(utc("2026-03-30T02:45:10Z"), tz("America/Sao_Paulo")),
        Clock::new(utc("2026-04-01T00:00:00Z"), Tz::UTC),
    ]
}

fn base() -> DateTime<Utc> {
    utc("2026-03-20T00:00:00Z")
}

/// An instant near the clocks: random within ±45 days, or exactly at (or a millisecond
/// around) a local midnight of one of the clocks' zones.
fn instant(rng: &mut Rng, clocks: &[Clock]) -> DateTime<Utc> {
    if rng.chance(30) {
        let c = clocks[rng.below(clocks.len())];
        let day = c.today() + Days::new(rng.below(5) as u64) - Days::new(rng.below(40) as u64);
        let t = c.day_start(day);
        return match rng.below(3) {
            0 => t,
            1 => t - TimeDelta::milliseconds(1),
            _ => t + TimeDelta::milliseconds(1),
        };
    }
    let ms = rng.below(90 * 86_400_000) as i64 - 45 * 86_400_000;
    base() + TimeDelta::milliseconds(ms)
}

fn day_near(rng: &mut Rng) -> NaiveDate {
    base().date_naive() + Days::new(rng.below(30) as u64) - Days::new(rng.below(60) as u64)
}

fn subset(rng: &mut Rng, pool: &[&str], max: usize) -> Vec<String> {
    (0..rng.below(max + 1))
        .map(|_| rng.pick(pool).to_owned())
        .collect()
}

fn contact(db: &dyn Sql, cat: &Catalogue, rng: &mut Rng, n: u64, clocks: &[Clock]) -> Contact {
    let mut body = json!({"email": format!("user{n}@Example.com"), "lead_stage": rng.pick(STAGES)});
    let mut maybe = |rng: &mut Rng, key: &str, v: Json| {
        if rng.chance(75) {
            body[key] = v;
        }
    };
    let v = json!(rng.pick(TEXTS));
    maybe(rng, "city", v);
    let v = json!(rng.pick(TEXTS));
    maybe(rng, "company", v);
    let v = json!(rng.pick(&["FR", "fr", "BR", "US"]));
    maybe(rng, "country", v);
    let v = json!(rng.pick(OWNERS));
    maybe(rng, "owner", v);
    let v = json!(rng.pick(CHANNELS));
    maybe(rng, "source_channel", v);
    let v = json!(day_near(rng).to_string());
    maybe(rng, "birthday", v);
    let v = json!(subset(rng, TAGS, 3));
    maybe(rng, "tags", v);
    let v = json!(subset(rng, SECONDARY, 2));
    maybe(rng, "secondary_emails", v);
    let mut custom = serde_json::Map::new();
    let mut put = |rng: &mut Rng, key: &str, v: Json| {
        if rng.chance(70) {
            custom.insert(key.into(), v);
        }
    };
    let v = json!(rng.pick(TIERS).to_lowercase());
    put(rng, "tier", v);
    let v = if rng.chance(50) {
        json!(rng.below(200) as i64 - 50)
    } else {
        json!((rng.below(2000) as f64) / 8.0)
    };
    put(rng, "score", v);
    let v = json!(rng.chance(50));
    put(rng, "vip", v);
    let v = json!(day_near(rng).to_string());
    put(rng, "renewal", v);
    let v = json!(if rng.chance(15) { "" } else { rng.pick(TEXTS) });
    put(rng, "notes", v);
    let v = json!(subset(rng, INTERESTS, 3));
    put(rng, "interests", v);
    let v = json!(time::format(instant(rng, clocks)));
    put(rng, "seen", v);
    body["custom"] = Json::Object(custom);

    let mut system = vec![
        (
            "created_at",
            Value::Text(time::format(instant(rng, clocks))),
        ),
        ("conversation_count", Value::Integer(rng.below(6) as i64)),
    ];
    if rng.chance(70) {
        system.push((
            "last_activity_at",
            Value::Text(time::format(instant(rng, clocks))),
        ));
    }
    if rng.chance(10) {
        system.push(("blocked", Value::Integer(1)));
        system.push((
            "blocked_at",
            Value::Text(time::format(instant(rng, clocks))),
        ));
    }
    insert(db, cat, &format!("D{n:05}"), &body, &system)
}

/// The fields the random filters use, with the kind the reference evaluates them as.
const FIELDS: &[&str] = &[
    "city",
    "company",
    "email",
    "country",
    "owner",
    "lead_stage",
    "source_channel",
    "tags",
    "secondary_emails",
    "birthday",
    "created_at",
    "last_activity_at",
    "blocked_at",
    "blocked",
    "conversation_count",
    "custom.tier",
    "custom.score",
    "custom.vip",
    "custom.renewal",
    "custom.notes",
    "custom.interests",
    "custom.seen",
];

fn random_value(rng: &mut Rng, field: &Field, kind: Kind, op: Op) -> Json {
    let date = |rng: &mut Rng| json!(day_near(rng).to_string());
    let moment = |rng: &mut Rng| {
        if kind == Kind::Datetime && rng.chance(40) {
            json!(time::format(
                base() + TimeDelta::minutes(rng.below(90 * 1440) as i64 - 45 * 1440)
            ))
        } else {
            json!(day_near(rng).to_string())
        }
    };
    let options = |rng: &mut Rng| -> Vec<String> {
        let opts = field.options.clone().unwrap_or_default();
        let n = 1 + rng.below(3);
        (0..n)
            .map(|_| opts[rng.below(opts.len())].to_uppercase())
            .collect()
    };
    match (kind, op) {
        (_, Op::LastDays) => json!(1 + rng.below(40)),
        (Kind::Number, Op::Between) => {
            let a = rng.below(200) as i64 - 50;
            json!([a, a + rng.below(100) as i64])
        }
        (Kind::Number, _) => {
            if rng.chance(50) {
                json!(rng.below(200) as i64 - 50)
            } else {
                json!((rng.below(2000) as f64) / 8.0)
            }
        }
        (Kind::Date | Kind::Datetime, Op::On) => date(rng),
        (Kind::Date, Op::Between) => {
            let (a, b) = (day_near(rng), day_near(rng));
            json!([a.min(b).to_string(), a.max(b).to_string()])
        }
        (Kind::Datetime, Op::Between) => {
            // Bounds of either form; a reversed pair is refused by the parser, so order them.
            let (a, b) = (moment(rng), moment(rng));
            let key = |v: &Json| v.as_str().unwrap_or_default()[..10].to_owned();
            if key(&a) <= key(&b) {
                json!([a, b])
            } else {
                json!([b, a])
            }
        }
        (Kind::Date | Kind::Datetime, _) => moment(rng),
        (Kind::Select, Op::Eq | Op::Neq) => json!(options(rng)[0]),
        (Kind::Select | Kind::Multi, _) => json!(options(rng)),
        (Kind::Tags, _) => json!(subset(rng, TAG_PROBES, 2)
            .into_iter()
            .chain([rng.pick(TAG_PROBES).to_owned()])
            .collect::<Vec<_>>()),
        (Kind::Owner, Op::In | Op::NotIn) => json!([rng.pick(OWNERS), rng.pick(OWNERS)]),
        (Kind::Owner, _) => json!(rng.pick(OWNERS)),
        (_, Op::In | Op::NotIn) => json!([rng.pick(TEXTS), rng.pick(TEXT_PROBES)]),
        _ => {
            if field.key == "email" {
                json!(rng.pick(&[
                    "user1",
                    "EXAMPLE.com",
                    "@example",
                    "user12@example.com",
                    "_"
                ]))
            } else {
                json!(rng.pick(TEXT_PROBES))
            }
        }
    }
}

fn random_node(rng: &mut Rng, cat: &Catalogue, depth: usize) -> Json {
    if depth < MAX_DEPTH && rng.chance(25) {
        return random_group(rng, cat, depth + 1);
    }
    let field = cat.get(FIELDS[rng.below(FIELDS.len())]).expect("field");
    let kind = Kind::of(field.ty);
    let op = kind.ops()[rng.below(kind.ops().len())];
    json!({"field": field.key, "op": op.name(), "value": random_value(rng, field, kind, op)})
}

fn random_group(rng: &mut Rng, cat: &Catalogue, depth: usize) -> Json {
    let n = rng.below(4) + usize::from(depth == 1);
    let items: Vec<Json> = (0..n).map(|_| random_node(rng, cat, depth)).collect();
    if rng.chance(50) {
        json!({"all": items})
    } else {
        json!({"any": items})
    }
}

// ---------------------------------------------------------------- the reference

fn fold(s: &str) -> String {
    // SQLite's NOCASE and LIKE fold ASCII letters only; so does SPEC's case-insensitivity here.
    s.to_ascii_lowercase()
}

/// A contact's value of a field, as plain Rust data.
enum Val {
    None,
    Text(String),
    Num(f64),
    Bool(bool),
    List(Vec<String>),
}

fn value_of(c: &Contact, field: &Field, kind: Kind) -> Val {
    let json = match &field.storage {
        crate::kernel::fields::Storage::Tags => return Val::List(c.tags.clone()),
        crate::kernel::fields::Storage::Custom(k) => c.custom.get(k).cloned().unwrap_or(Json::Null),
        crate::kernel::fields::Storage::Column(col) => match c.cols.get(col) {
            Some(Value::Text(s)) if kind == Kind::TextList => {
                serde_json::from_str(s).unwrap_or(Json::Null)
            }
            Some(Value::Text(s)) => json!(s),
            Some(Value::Integer(i)) if kind == Kind::Checkbox => json!(*i != 0),
            Some(Value::Integer(i)) => json!(i),
            _ => Json::Null,
        },
    };
    match json {
        Json::String(s) => Val::Text(s),
        Json::Number(n) => Val::Num(n.as_f64().unwrap_or(f64::NAN)),
        Json::Bool(b) => Val::Bool(b),
        Json::Array(items) => Val::List(
            items
                .into_iter()
                .filter_map(|i| i.as_str().map(str::to_owned))
                .collect(),
        ),
        _ => Val::None,
    }
}

fn eval_group(g: &Group, c: &Contact, clock: &Clock) -> bool {
    let mut results = g.items.iter().map(|item| match item {
        Node::Group(inner) => eval_group(inner, c, clock),
        Node::Condition(cond) => eval(cond, c, clock),
    });
    if g.any {
        results.any(|r| r)
    } else {
        results.all(|r| r)
    }
}

fn eval(cond: &Condition, c: &Contact, clock: &Clock) -> bool {
    let v = value_of(c, &cond.field, cond.kind);
    let texts: Vec<String> = match &cond.operand {
        Operand::Text(s) => vec![s.clone()],
        Operand::Texts(v) => v.clone(),
        _ => vec![],
    };
    let num = |x: &Value| match x {
        Value::Integer(i) => *i as f64,
        Value::Real(f) => *f,
        _ => f64::NAN,
    };
    let is_empty = match &v {
        Val::None => true,
        Val::Text(s) => s.is_empty(),
        Val::List(l) => l.is_empty(),
        _ => false,
    };
    match cond.kind {
        Kind::Text | Kind::Select | Kind::Owner => {
            let s = match &v {
                Val::Text(s) => Some(fold(s)),
                _ => None,
            };
            let eq = |x: &String| s.as_deref() == Some(fold(x).as_str());
            let x = texts.first().map(|t| fold(t)).unwrap_or_default();
            match cond.op {
                Op::Eq => eq(&texts[0]),
                Op::Neq => !eq(&texts[0]),
                Op::In => texts.iter().any(eq),
                Op::NotIn => !texts.iter().any(eq),
                Op::Contains => s.is_some_and(|s| s.contains(&x)),
                Op::NotContains => !s.is_some_and(|s| s.contains(&x)),
                Op::StartsWith => s.is_some_and(|s| s.starts_with(&x)),
                Op::EndsWith => s.is_some_and(|s| s.ends_with(&x)),
                Op::Empty | Op::Unassigned => is_empty,
                Op::NotEmpty => !is_empty,
                op => panic!("{op:?} on text"),
            }
        }
        Kind::TextList => {
            let items: Vec<String> = match &v {
                Val::List(l) => l.iter().map(|s| fold(s)).collect(),
                _ => vec![],
            };
            let x = texts.first().map(|t| fold(t)).unwrap_or_default();
            match cond.op {
                Op::Eq => items.contains(&x),
                Op::Neq => !items.contains(&x),
                Op::Contains => items.iter().any(|i| i.contains(&x)),
                Op::NotContains => !items.iter().any(|i| i.contains(&x)),
                Op::Empty => items.is_empty(),
                Op::NotEmpty => !items.is_empty(),
                op => panic!("{op:?} on a list"),
            }
        }
        Kind::Number => {
            let n = match v {
                Val::Num(n) => Some(n),
                _ => None,
            };
            match (&cond.op, &cond.operand) {
                (Op::Eq, Operand::Number(x)) => n == Some(num(x)),
                (Op::Neq, Operand::Number(x)) => n != Some(num(x)),
                (Op::Gt, Operand::Number(x)) => n.is_some_and(|n| n > num(x)),
                (Op::Gte, Operand::Number(x)) => n.is_some_and(|n| n >= num(x)),
                (Op::Lt, Operand::Number(x)) => n.is_some_and(|n| n < num(x)),
                (Op::Lte, Operand::Number(x)) => n.is_some_and(|n| n <= num(x)),
                (Op::Between, Operand::Range(lo, hi)) => {
                    n.is_some_and(|n| n >= num(lo) && n <= num(hi))
                }
                (Op::Empty, _) => n.is_none(),
                (Op::NotEmpty, _) => n.is_some(),
                (op, _) => panic!("{op:?} on a number"),
            }
        }
        Kind::Checkbox => {
            let on = matches!(v, Val::Bool(true));
            if cond.op == Op::IsTrue {
                on
            } else {
                !on
            }
        }
        Kind::Multi | Kind::Tags => {
            let items: Vec<String> = match &v {
                Val::List(l) => l.iter().map(|s| fold(s)).collect(),
                _ => vec![],
            };
            let has = |x: &String| items.contains(&fold(x));
            match cond.op {
                Op::HasAny => texts.iter().any(has),
                Op::HasAll => texts.iter().all(has),
                Op::HasNone => !texts.iter().any(has),
                Op::NoTags | Op::Empty => items.is_empty(),
                Op::NotEmpty => !items.is_empty(),
                op => panic!("{op:?} on a list"),
            }
        }
        Kind::Date | Kind::Datetime => {
            if matches!(cond.op, Op::Empty | Op::NotEmpty) {
                return is_empty == (cond.op == Op::Empty);
            }
            let Val::Text(s) = v else { return false };
            eval_date(cond, &s, clock)
        }
    }
}

/// Dates by their local calendar day: an instant's day is its date in the account zone.
/// Periods come from chrono's own calendar (ISO weeks start on Monday), not from the
/// compiler's day boundaries.
fn eval_date(cond: &Condition, stored: &str, clock: &Clock) -> bool {
    let (day, at): (NaiveDate, Option<DateTime<Utc>>) = if cond.kind == Kind::Date {
        (
            NaiveDate::parse_from_str(stored, "%Y-%m-%d").expect("date"),
            None,
        )
    } else {
        let t = utc(stored);
        (t.with_timezone(&clock.tz).date_naive(), Some(t))
    };
    let today = clock.now.with_timezone(&clock.tz).date_naive();
    let lower = |m: &Moment| match (m, at) {
        (Moment::Day(d), _) => day >= *d,
        (Moment::Instant(t), Some(at)) => at >= *t,
        (Moment::Instant(_), None) => unreachable!("dates take days only"),
    };
    let upper = |m: &Moment| match (m, at) {
        (Moment::Day(d), _) => day <= *d,
        (Moment::Instant(t), Some(at)) => at <= *t,
        (Moment::Instant(_), None) => unreachable!("dates take days only"),
    };
    let month = |d: NaiveDate| (d.year(), d.month());
    match (&cond.op, &cond.operand) {
        (Op::On, Operand::Moment(Moment::Day(d))) => day == *d,
        (Op::Before, Operand::Moment(Moment::Day(d))) => day < *d,
        (Op::Before, Operand::Moment(Moment::Instant(t))) => at.is_some_and(|at| at < *t),
        (Op::After, Operand::Moment(Moment::Day(d))) => day > *d,
        (Op::After, Operand::Moment(Moment::Instant(t))) => at.is_some_and(|at| at > *t),
        (Op::Between, Operand::Moments(lo, hi)) => lower(lo) && upper(hi),
        (Op::Today, _) => day == today,
        (Op::Yesterday, _) => Some(day) == today.pred_opt(),
        (Op::ThisWeek, _) => day.iso_week() == today.iso_week(),
        (Op::ThisMonth, _) => month(day) == month(today),
        (Op::LastMonth, _) => {
            let prev = today.with_day(1).and_then(|d| d.pred_opt()).expect("month");
            month(day) == month(prev)
        }
        (Op::LastDays, Operand::Days(n)) => match at {
            Some(at) => at >= clock.days_ago(*n) && at <= clock.now,
            None => day <= today && day >= today - Days::new(*n as u64),
        },
        (op, operand) => panic!("{op:?} {operand:?} on a date"),
    }
}

#[test]
fn random_filters_agree_with_the_in_memory_reference() {
    let (db, cat) = setup();
    let clocks = clocks();
    let mut rng = Rng(0x5EED_F117_E125);
    let mut contacts = Vec::with_capacity(CONTACTS as usize);
    db.execute("BEGIN", &[]).unwrap();
    for n in 0..CONTACTS {
        contacts.push(contact(&db, &cat, &mut rng, n, &clocks));
    }
    db.execute("COMMIT", &[]).unwrap();

    let mut checked = 0;
    let mut nonempty = 0;
    for clock in &clocks {
        for _ in 0..FILTERS_PER_CLOCK {
            let json = random_group(&mut rng, &cat, 1);
            let filter = Filter::parse(&json, &cat).unwrap_or_else(|e| panic!("{json}: {e}"));
            let expected: BTreeSet<String> = contacts
                .iter()
                .filter(|c| eval_group(&filter.root, c, clock))
                .map(|c| c.contact_id().to_owned())
                .collect();
            let got: BTreeSet<String> = matching(&db, &filter, clock).into_iter().collect();
            if got != expected {
                let extra: Vec<_> = got.difference(&expected).take(5).collect();
                let missing: Vec<_> = expected.difference(&got).take(5).collect();
                panic!(
                    "filter {json} at {} {}: SQL has {} contacts, reference {}; only in SQL {extra:?}, only in reference {missing:?}\nSQL: {}",
                    clock.now,
                    clock.tz,
                    got.len(),
                    expected.len(),
                    filter.to_where(clock).sql
                );
            }
            checked += 1;
            nonempty += usize::from(!expected.is_empty() && expected.len() < contacts.len());
        }
    }
    // The filters must discriminate, or agreement would prove little.
    assert!(
        nonempty * 2 > checked,
        "only {nonempty} of {checked} filters selected a proper subset"
    );
}
