//! The filter language (SPEC §3, §8, §9): `all`/`any` groups of conditions on catalogue
//! fields, parsed once against the catalogue into a typed [`Filter`], then compiled into a
//! [`Where`] over `contacts c` with every value bound as a parameter.
//!
//! Query, segments, list, search, bulk, merge and import all narrow contacts through this
//! one compiler, so a filter means the same thing everywhere.
//!
//! Parsing checks everything that can be checked without data: the field exists and is
//! filterable, the operator fits the field's type, the value fits the operator, and the
//! filter stays within its size bounds. Errors are 422s naming the JSON path
//! (`filter.all[1].op`); a JSON shape that is not a filter at all is a 400.

mod clock;
mod sql;

#[cfg(test)]
mod differential;
#[cfg(test)]
mod tests;

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value as Json;

pub use clock::Clock;

use crate::kernel::error::{Error, Result};
use crate::kernel::fields::{Catalogue, Field, FieldType, Storage};
use crate::kernel::store::Value;
use crate::kernel::values::{Login, Tag};
use crate::query::page::Where;

/// Indexes that keep the common filters (city, country, owner, lead stage, created_at,
/// last_activity_at) off full scans; tags have `contact_tags_tag`. Text columns are indexed
/// `NOCASE`, the collation filters compare them in ([`crate::query::page::field_expr`]), or the
/// planner could not use them.
pub const SCHEMA: &[&str] = &[
    "CREATE INDEX contacts_city ON contacts(city COLLATE NOCASE)",
    "CREATE INDEX contacts_country ON contacts(country COLLATE NOCASE)",
    "CREATE INDEX contacts_owner ON contacts(owner COLLATE NOCASE)",
    "CREATE INDEX contacts_lead_stage ON contacts(lead_stage COLLATE NOCASE)",
    "CREATE INDEX contacts_created_at ON contacts(created_at)",
    "CREATE INDEX contacts_last_activity_at ON contacts(last_activity_at)",
];

/// Groups nest at most this deep; the outermost group is depth 1 (SPEC §9).
pub const MAX_DEPTH: usize = 3;
/// Conditions in one filter, all groups together.
pub const MAX_CONDITIONS: usize = 50;
/// Groups in one filter, the outermost included.
pub const MAX_GROUPS: usize = 25;
/// Values in one list (`in`, `has_any`, ...).
pub const MAX_VALUES: usize = 100;
/// Characters in one text value: the longest text a field holds.
pub const MAX_TEXT: usize = 1_000;
/// `last_days` reaches back at most a hundred years.
pub const MAX_LAST_DAYS: i64 = 36_600;

/// Every operator of SPEC §8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    Eq,
    Neq,
    Contains,
    NotContains,
    StartsWith,
    EndsWith,
    Empty,
    NotEmpty,
    Gt,
    Gte,
    Lt,
    Lte,
    Between,
    On,
    Before,
    After,
    LastDays,
    Today,
    Yesterday,
    ThisWeek,
    ThisMonth,
    LastMonth,
    IsTrue,
    IsFalse,
    In,
    NotIn,
    HasAny,
    HasAll,
    HasNone,
    NoTags,
    Unassigned,
}

impl Op {
    pub const ALL: [Op; 31] = [
        Op::Eq,
        Op::Neq,
        Op::Contains,
        Op::NotContains,
        Op::StartsWith,
        Op::EndsWith,
        Op::Empty,
        Op::NotEmpty,
        Op::Gt,
        Op::Gte,
        Op::Lt,
        Op::Lte,
        Op::Between,
        Op::On,
        Op::Before,
        Op::After,
        Op::LastDays,
        Op::Today,
        Op::Yesterday,
        Op::ThisWeek,
        Op::ThisMonth,
        Op::LastMonth,
        Op::IsTrue,
        Op::IsFalse,
        Op::In,
        Op::NotIn,
        Op::HasAny,
        Op::HasAll,
        Op::HasNone,
        Op::NoTags,
        Op::Unassigned,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Op::Eq => "eq",
            Op::Neq => "neq",
            Op::Contains => "contains",
            Op::NotContains => "not_contains",
            Op::StartsWith => "starts_with",
            Op::EndsWith => "ends_with",
            Op::Empty => "empty",
            Op::NotEmpty => "not_empty",
            Op::Gt => "gt",
            Op::Gte => "gte",
            Op::Lt => "lt",
            Op::Lte => "lte",
            Op::Between => "between",
            Op::On => "on",
            Op::Before => "before",
            Op::After => "after",
            Op::LastDays => "last_days",
            Op::Today => "today",
            Op::Yesterday => "yesterday",
            Op::ThisWeek => "this_week",
            Op::ThisMonth => "this_month",
            Op::LastMonth => "last_month",
            Op::IsTrue => "is_true",
            Op::IsFalse => "is_false",
            Op::In => "in",
            Op::NotIn => "not_in",
            Op::HasAny => "has_any",
            Op::HasAll => "has_all",
            Op::HasNone => "has_none",
            Op::NoTags => "no_tags",
            Op::Unassigned => "unassigned",
        }
    }

    pub fn parse(s: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == s)
    }

    /// Operators that take no value: any `value` sent with them is ignored.
    fn takes_no_value(self) -> bool {
        matches!(
            self,
            Op::Empty
                | Op::NotEmpty
                | Op::Today
                | Op::Yesterday
                | Op::ThisWeek
                | Op::ThisMonth
                | Op::LastMonth
                | Op::IsTrue
                | Op::IsFalse
                | Op::NoTags
                | Op::Unassigned
        )
    }
}

/// How a field filters: the operators it takes and the SQL they compile to follow from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Text, long text, email, phone, link.
    Text,
    /// A JSON array of texts in one column (secondary emails and phones).
    TextList,
    Number,
    /// A calendar date `YYYY-MM-DD`.
    Date,
    /// An instant, stored as RFC 3339 UTC text with milliseconds.
    Datetime,
    Checkbox,
    /// One of the field's options.
    Select,
    /// Several of the field's options (a JSON array in `custom`).
    Multi,
    Tags,
    Owner,
}

impl Kind {
    pub fn of(ty: FieldType) -> Kind {
        match ty {
            FieldType::Text
            | FieldType::LongText
            | FieldType::Link
            | FieldType::Email
            | FieldType::Phone => Kind::Text,
            FieldType::EmailList | FieldType::PhoneList => Kind::TextList,
            FieldType::Number => Kind::Number,
            FieldType::Checkbox => Kind::Checkbox,
            FieldType::Date => Kind::Date,
            FieldType::Datetime => Kind::Datetime,
            FieldType::SingleSelect => Kind::Select,
            FieldType::MultiSelect => Kind::Multi,
            FieldType::Tags => Kind::Tags,
            FieldType::Owner => Kind::Owner,
        }
    }

    /// The operators SPEC §3 lists for this kind of field, plus `empty`/`not_empty` where a
    /// field can lack a value, and `in`/`not_in` on texts and owners (a short list of
    /// cities or agents is a common filter).
    pub fn ops(self) -> &'static [Op] {
        use Op::*;
        match self {
            Kind::Text => &[
                Eq,
                Neq,
                Contains,
                NotContains,
                StartsWith,
                EndsWith,
                Empty,
                NotEmpty,
                In,
                NotIn,
            ],
            Kind::TextList => &[Eq, Neq, Contains, NotContains, Empty, NotEmpty],
            Kind::Number => &[Eq, Neq, Gt, Gte, Lt, Lte, Between, Empty, NotEmpty],
            Kind::Date | Kind::Datetime => &[
                On, Before, After, Between, LastDays, Today, Yesterday, ThisWeek, ThisMonth,
                LastMonth, Empty, NotEmpty,
            ],
            Kind::Checkbox => &[IsTrue, IsFalse],
            Kind::Select => &[In, NotIn, Eq, Neq, Empty, NotEmpty],
            Kind::Multi => &[HasAny, HasAll, HasNone, NoTags, Empty, NotEmpty],
            Kind::Tags => &[HasAny, HasAll, HasNone, NoTags, Empty, NotEmpty],
            Kind::Owner => &[Eq, Neq, Unassigned, In, NotIn, Empty, NotEmpty],
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::TextList => "list of texts",
            Kind::Number => "number",
            Kind::Date => "date",
            Kind::Datetime => "date & time",
            Kind::Checkbox => "checkbox",
            Kind::Select => "single select",
            Kind::Multi => "multi select",
            Kind::Tags => "tags",
            Kind::Owner => "owner",
        }
    }
}

/// How a compiled filter will be read. The two shapes match the same contacts; they differ
/// only in how tag conditions are written, which decides whether the tag index can drive
/// the query. Measured at 1M contacts: a page of a filter with a tag condition takes ~1 ms
/// probing each candidate's tags and ~15 ms driven from the tag index (which then needs a
/// sort); a tag-only count takes ~50 ms driven from the tag index and ~230 ms probing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// A page: contacts are walked in sort order until the page is full, so each
    /// candidate's tags are probed by primary key (`EXISTS`).
    Page,
    /// Counts and set-wide work (bulk, export): every match is read, so tag conditions
    /// are `c.id IN (…)` and the tag index can drive.
    Every,
}

/// A point in time a date operator compares with: a whole local day, or (for date & time
/// fields) an exact instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    Day(NaiveDate),
    Instant(DateTime<Utc>),
}

/// A condition's value, parsed for its operator and field.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    None,
    Text(String),
    Texts(Vec<String>),
    /// An `Integer` or a finite `Real`.
    Number(Value),
    Range(Value, Value),
    Moment(Moment),
    Moments(Moment, Moment),
    Days(i64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub field: Field,
    pub kind: Kind,
    pub op: Op,
    pub operand: Operand,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Group(Group),
    Condition(Condition),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// `any` (OR) rather than `all` (AND).
    pub any: bool,
    pub items: Vec<Node>,
}

/// A parsed, checked filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    pub root: Group,
    /// The JSON it was parsed from, as the caller wrote it (segments store and show it).
    pub json: Json,
}

impl Filter {
    /// The filter every contact matches: `{"all": []}`.
    pub fn everything() -> Filter {
        Filter {
            root: Group {
                any: false,
                items: Vec::new(),
            },
            json: serde_json::json!({"all": []}),
        }
    }

    /// Parses and checks a filter against the catalogue. Error paths start at `filter`
    /// (`filter.all[1].op`), the member every request carries it in; callers that nest it
    /// deeper prefix with [`Error::within`].
    pub fn parse(json: &Json, catalogue: &Catalogue) -> Result<Filter> {
        let mut parser = Parser {
            catalogue,
            conditions: 0,
            groups: 0,
        };
        let root = match parser.node(json, "filter", 1)? {
            Node::Group(g) => g,
            // A lone condition is read as a group of one.
            cond @ Node::Condition(_) => Group {
                any: false,
                items: vec![cond],
            },
        };
        Ok(Filter {
            root,
            json: json.clone(),
        })
    }

    /// The SQL condition over `contacts c` for reading a page; relative dates are taken
    /// at `clock`. Same as `compile(clock, Reading::Page)`.
    pub fn to_where(&self, clock: &Clock) -> Where {
        self.compile(clock, Reading::Page)
    }

    /// The SQL condition over `contacts c`, shaped for how it will be read. Both shapes
    /// select exactly the same contacts.
    pub fn compile(&self, clock: &Clock, reading: Reading) -> Where {
        sql::group(&self.root, clock, reading)
    }

    /// Every condition, depth first.
    pub fn conditions(&self) -> Vec<&Condition> {
        fn walk<'a>(g: &'a Group, out: &mut Vec<&'a Condition>) {
            for item in &g.items {
                match item {
                    Node::Group(inner) => walk(inner, out),
                    Node::Condition(c) => out.push(c),
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &mut out);
        out
    }
}

struct Parser<'a> {
    catalogue: &'a Catalogue,
    conditions: usize,
    groups: usize,
}

/// A 400: the JSON is not shaped like a filter.
fn shape(path: &str, expected: &str) -> Error {
    Error::Malformed {
        detail: format!("{path}: expected {expected}"),
        field: Some(path.to_owned()),
    }
}

/// Field names and operators are echoed in errors: keep what is echoed short.
fn echo(s: &str) -> String {
    let mut out: String = s.chars().take(60).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

impl Parser<'_> {
    fn node(&mut self, json: &Json, path: &str, depth: usize) -> Result<Node> {
        let obj = json.as_object().ok_or_else(|| {
            shape(
                path,
                "a group {\"all\": [..]} / {\"any\": [..]} or a condition {field, op, value}",
            )
        })?;
        let is_group = obj.contains_key("all") || obj.contains_key("any");
        if !is_group {
            return self.condition(obj, path).map(Node::Condition);
        }
        if obj.len() != 1 {
            return Err(Error::invalid(
                path,
                "a group has exactly one member, \"all\" or \"any\"",
            ));
        }
        let (key, items) = obj.iter().next().expect("one member");
        let path = format!("{path}.{key}");
        if depth > MAX_DEPTH {
            return Err(Error::invalid(
                &path,
                format!("groups nest at most {MAX_DEPTH} deep (the outermost group is depth 1)"),
            ));
        }
        self.groups += 1;
        if self.groups > MAX_GROUPS {
            return Err(Error::invalid(
                &path,
                format!("a filter has at most {MAX_GROUPS} groups"),
            ));
        }
        let items = items
            .as_array()
            .ok_or_else(|| shape(&path, "an array of groups and conditions"))?;
        let items = items
            .iter()
            .enumerate()
            .map(|(i, item)| self.node(item, &format!("{path}[{i}]"), depth + 1))
            .collect::<Result<Vec<_>>>()?;
        Ok(Node::Group(Group {
            any: key == "any",
            items,
        }))
    }

    fn condition(&mut self, obj: &serde_json::Map<String, Json>, path: &str) -> Result<Condition> {
        if let Some(extra) = obj
            .keys()
            .find(|k| !matches!(k.as_str(), "field" | "op" | "value"))
        {
            return Err(Error::invalid(
                format!("{path}.{}", echo(extra)),
                "is not a member of a condition (field, op, value)",
            ));
        }
        self.conditions += 1;
        if self.conditions > MAX_CONDITIONS {
            return Err(Error::invalid(
                path,
                format!("a filter has at most {MAX_CONDITIONS} conditions"),
            ));
        }
        let key = obj
            .get("field")
            .and_then(Json::as_str)
            .ok_or_else(|| shape(&format!("{path}.field"), "a field key (string)"))?;
        let op_name = obj
            .get("op")
            .and_then(Json::as_str)
            .ok_or_else(|| shape(&format!("{path}.op"), "an operator (string)"))?;
        let field = self.catalogue.get(key).ok_or_else(|| {
            Error::invalid(
                format!("{path}.field"),
                format!("'{}' is not a field", echo(key)),
            )
        })?;
        if !field.caps.filterable {
            return Err(Error::invalid(
                format!("{path}.field"),
                format!("'{key}' cannot be filtered"),
            ));
        }
        let kind = Kind::of(field.ty);
        let op = Op::parse(op_name).ok_or_else(|| {
            Error::invalid(
                format!("{path}.op"),
                format!("'{}' is not an operator", echo(op_name)),
            )
        })?;
        if !kind.ops().contains(&op) {
            let names: Vec<&str> = kind.ops().iter().map(|o| o.name()).collect();
            return Err(Error::invalid(
                format!("{path}.op"),
                format!(
                    "'{}' does not apply to {key} ({}); it takes {}",
                    op.name(),
                    kind.describe(),
                    names.join(", ")
                ),
            ));
        }
        let value = obj.get("value").unwrap_or(&Json::Null);
        let operand =
            operand(field, kind, op, value).map_err(|e| e.within(&format!("{path}.value")))?;
        Ok(Condition {
            field: field.clone(),
            kind,
            op,
            operand,
        })
    }
}

/// Reads the value for `op` on a field of `kind`. Errors name paths relative to `value`.
fn operand(field: &Field, kind: Kind, op: Op, value: &Json) -> Result<Operand> {
    if op.takes_no_value() {
        return Ok(Operand::None);
    }
    match (kind, op) {
        (_, Op::LastDays) => {
            let n = value
                .as_i64()
                .filter(|n| (1..=MAX_LAST_DAYS).contains(n))
                .ok_or_else(|| {
                    Error::invalid(
                        "",
                        format!("expected a whole number of days, 1 to {MAX_LAST_DAYS}"),
                    )
                })?;
            Ok(Operand::Days(n))
        }
        (Kind::Number, Op::Between) => {
            let (lo, hi) = pair(value)?;
            let (lo, hi) = (
                number(lo).map_err(|e| e.within("[0]"))?,
                number(hi).map_err(|e| e.within("[1]"))?,
            );
            if as_f64(&lo) > as_f64(&hi) {
                return Err(Error::invalid(
                    "",
                    "between takes [low, high] with low ≤ high",
                ));
            }
            Ok(Operand::Range(lo, hi))
        }
        (Kind::Number, _) => number(value).map(Operand::Number),
        (Kind::Date | Kind::Datetime, Op::Between) => {
            let (lo, hi) = pair(value)?;
            let lo = moment(kind, lo).map_err(|e| e.within("[0]"))?;
            let hi = moment(kind, hi).map_err(|e| e.within("[1]"))?;
            if reversed(lo, hi) {
                return Err(Error::invalid(
                    "",
                    "between takes [low, high] with low ≤ high",
                ));
            }
            Ok(Operand::Moments(lo, hi))
        }
        (Kind::Date | Kind::Datetime, Op::On) => match moment(kind, value)? {
            Moment::Day(d) => Ok(Operand::Moment(Moment::Day(d))),
            Moment::Instant(_) => Err(Error::invalid("", "'on' takes a date YYYY-MM-DD")),
        },
        (Kind::Date | Kind::Datetime, _) => moment(kind, value).map(Operand::Moment),
        (_, Op::In | Op::NotIn | Op::HasAny | Op::HasAll | Op::HasNone) => {
            let items = list(value)?;
            let mut out: Vec<String> = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let v = member(field, kind, item).map_err(|e| e.within(&format!("[{i}]")))?;
                // Duplicates (in any case) would make has_all count wrong and IN longer.
                if !out.iter().any(|o| o.eq_ignore_ascii_case(&v)) {
                    out.push(v);
                }
            }
            Ok(Operand::Texts(out))
        }
        _ => member(field, kind, value).map(Operand::Text),
    }
}

/// One text value of a condition, checked for the field: an option of a select (as the
/// option is written), a valid login, a valid tag, or a non-empty bounded text.
fn member(field: &Field, kind: Kind, value: &Json) -> Result<String> {
    let s = value
        .as_str()
        .ok_or_else(|| Error::invalid("", "expected a string"))?;
    if s.is_empty() {
        return Err(Error::invalid(
            "",
            "must not be empty (use the empty / not_empty operators)",
        ));
    }
    if s.chars().count() > MAX_TEXT {
        return Err(Error::invalid("", format!("at most {MAX_TEXT} characters")));
    }
    match kind {
        Kind::Select | Kind::Multi => {
            let options = field.options.as_deref().unwrap_or_default();
            options
                .iter()
                .find(|o| o.eq_ignore_ascii_case(s.trim()))
                .cloned()
                .ok_or_else(|| {
                    Error::invalid(
                        "",
                        format!(
                            "'{}' is not an option of {} ({})",
                            echo(s),
                            field.key,
                            echo(&options.join(", "))
                        ),
                    )
                })
        }
        Kind::Owner => Login::parse(s)
            .map(|l| l.as_str().to_owned())
            .map_err(|why| Error::invalid("", format!("login {why}"))),
        Kind::Tags => Tag::parse(s)
            .map(|t| t.as_str().to_owned())
            .map_err(|why| Error::invalid("", why)),
        _ => Ok(s.to_owned()),
    }
}

fn list(value: &Json) -> Result<Vec<Json>> {
    let items = match value {
        // A single value is a list of one.
        Json::String(_) => vec![value.clone()],
        Json::Array(items) => items.clone(),
        _ => return Err(Error::invalid("", "expected an array of strings")),
    };
    if items.is_empty() || items.len() > MAX_VALUES {
        return Err(Error::invalid(
            "",
            format!("expected 1 to {MAX_VALUES} values"),
        ));
    }
    Ok(items)
}

fn pair(value: &Json) -> Result<(&Json, &Json)> {
    match value.as_array().map(Vec::as_slice) {
        Some([lo, hi]) => Ok((lo, hi)),
        _ => Err(Error::invalid("", "between takes [low, high]")),
    }
}

fn number(value: &Json) -> Result<Value> {
    if let Some(i) = value.as_i64() {
        return Ok(Value::Integer(i));
    }
    match value.as_f64() {
        Some(f) if f.is_finite() => Ok(Value::Real(f)),
        _ => Err(Error::invalid("", "expected a number")),
    }
}

fn as_f64(v: &Value) -> f64 {
    match v {
        Value::Integer(i) => *i as f64,
        Value::Real(f) => *f,
        _ => f64::NAN,
    }
}

/// A date `YYYY-MM-DD`, or for date & time fields also an RFC 3339 instant.
fn moment(kind: Kind, value: &Json) -> Result<Moment> {
    let s = value
        .as_str()
        .ok_or_else(|| Error::invalid("", "expected a date YYYY-MM-DD"))?;
    if let Some(d) = parse_day(s) {
        return Ok(Moment::Day(d));
    }
    if kind == Kind::Datetime {
        if let Ok(t) = DateTime::parse_from_rfc3339(s.trim()) {
            return Ok(Moment::Instant(t.with_timezone(&Utc)));
        }
        return Err(Error::invalid(
            "",
            "expected a date YYYY-MM-DD or an RFC 3339 date-time",
        ));
    }
    Err(Error::invalid("", "expected a date YYYY-MM-DD"))
}

/// Whether `between [lo, hi]` is reversed. A day against an instant compares the day's UTC
/// midnight: only a plainly reversed range is refused, since a day's width in the account
/// time zone does not matter for that.
fn reversed(lo: Moment, hi: Moment) -> bool {
    let key = |m: Moment| match m {
        Moment::Day(d) => d.and_time(chrono::NaiveTime::MIN).and_utc(),
        Moment::Instant(t) => t,
    };
    match (lo, hi) {
        (Moment::Day(a), Moment::Day(b)) => a > b,
        (Moment::Day(a), Moment::Instant(b)) => key(Moment::Day(a)) > b,
        (Moment::Instant(a), Moment::Day(b)) => a >= key(Moment::Day(b + chrono::Days::new(1))),
        (Moment::Instant(a), Moment::Instant(b)) => a > b,
    }
}

/// A calendar date written `YYYY-MM-DD` (four-digit year, two-digit month and day).
fn parse_day(s: &str) -> Option<NaiveDate> {
    let s = s.trim();
    (s.len() == 10)
        .then(|| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
        .flatten()
}

/// The custom key of a field stored in `contacts.custom`.
pub fn custom_key(field: &Field) -> Option<&str> {
    match &field.storage {
        Storage::Custom(k) => Some(k),
        _ => None,
    }
}
