//! Compiles a parsed filter into SQL over `contacts c`.
//!
//! Only catalogue-derived text reaches the SQL: column names from the system catalogue and
//! custom keys, which are `[a-z0-9_]` by definition. Every value is a `?` parameter.
//! Scalar fields compare through [`field_expr`], the same expression sorting uses, so text
//! compares case-insensitively (`COLLATE NOCASE`) and the `NOCASE` indexes apply.

use chrono::Days;

use super::{Clock, Condition, Group, Kind, Moment, Node, Op, Operand, Reading};
use crate::kernel::fields::Storage;
use crate::kernel::store::Value;
use crate::kernel::values::time;
use crate::query::page::{field_expr, Where};

pub(super) fn group(g: &Group, clock: &Clock, reading: Reading) -> Where {
    if g.items.is_empty() {
        // SPEC §9: {"all": []} matches every contact, {"any": []} none.
        return Where::new(if g.any { "0" } else { "1" }, vec![]);
    }
    let joiner = if g.any { " OR " } else { " AND " };
    let mut parts = Vec::with_capacity(g.items.len());
    let mut params = Vec::new();
    for item in &g.items {
        let w = match item {
            Node::Group(inner) => group(inner, clock, reading),
            Node::Condition(c) => condition(c, clock, reading),
        };
        parts.push(format!("({})", w.sql));
        params.extend(w.params);
    }
    Where::new(parts.join(joiner), params)
}

fn condition(c: &Condition, clock: &Clock, reading: Reading) -> Where {
    match c.kind {
        Kind::Tags => tags(c, reading),
        Kind::Multi => multi(c),
        Kind::TextList => text_list(c),
        Kind::Checkbox => checkbox(c),
        Kind::Date => date(c, clock),
        Kind::Datetime => datetime(c, clock),
        Kind::Text | Kind::Select | Kind::Owner | Kind::Number => scalar(c),
    }
}

/// `?, ?, …` and the values.
fn list(values: &[String]) -> (String, Vec<Value>) {
    (
        crate::kernel::store::placeholders(values.len()),
        values.iter().map(|v| Value::Text(v.clone())).collect(),
    )
}

fn texts(operand: &Operand) -> &[String] {
    match operand {
        Operand::Texts(v) => v,
        Operand::Text(v) => std::slice::from_ref(v),
        _ => &[],
    }
}

fn text(operand: &Operand) -> Value {
    match operand {
        Operand::Text(s) => Value::Text(s.clone()),
        Operand::Number(n) => n.clone(),
        _ => Value::Null,
    }
}

/// A LIKE pattern matching `s` literally: `%`, `_` and the escape character itself are
/// escaped (`ESCAPE '\'`).
pub(super) fn like_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    for ch in s.chars() {
        if matches!(ch, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

fn like_pattern(op: Op, s: &str) -> String {
    let lit = like_literal(s);
    match op {
        Op::StartsWith => format!("{lit}%"),
        Op::EndsWith => format!("%{lit}"),
        _ => format!("%{lit}%"),
    }
}

fn scalar(c: &Condition) -> Where {
    let e = field_expr(&c.field);
    // LIKE folds ASCII case by itself, like NOCASE; it takes the bare expression.
    let bare = e.trim_end_matches(" COLLATE NOCASE");
    // An empty text is NULL in a system column (edits clear "" to NULL), while a custom
    // text may hold "". Testing `= ''` only where it can happen keeps `IS NULL` on the
    // column's index (`unassigned` owners).
    let textual = c.kind != Kind::Number && matches!(c.field.storage, Storage::Custom(_));
    match c.op {
        Op::Eq => Where::new(format!("{e} = ?"), vec![text(&c.operand)]),
        Op::Neq => Where::new(format!("{e} IS NULL OR {e} <> ?"), vec![text(&c.operand)]),
        Op::Gt | Op::Gte | Op::Lt | Op::Lte => {
            let sym = match c.op {
                Op::Gt => ">",
                Op::Gte => ">=",
                Op::Lt => "<",
                _ => "<=",
            };
            Where::new(format!("{e} {sym} ?"), vec![text(&c.operand)])
        }
        Op::Between => match &c.operand {
            Operand::Range(lo, hi) => {
                Where::new(format!("{e} BETWEEN ? AND ?"), vec![lo.clone(), hi.clone()])
            }
            _ => never(),
        },
        Op::Contains | Op::StartsWith | Op::EndsWith => match &c.operand {
            Operand::Text(s) => Where::new(
                format!("{bare} LIKE ? ESCAPE '\\'"),
                vec![like_pattern(c.op, s).into()],
            ),
            _ => never(),
        },
        Op::NotContains => match &c.operand {
            Operand::Text(s) => Where::new(
                format!("{bare} IS NULL OR {bare} NOT LIKE ? ESCAPE '\\'"),
                vec![like_pattern(c.op, s).into()],
            ),
            _ => never(),
        },
        Op::Empty | Op::Unassigned if textual => {
            Where::new(format!("{e} IS NULL OR {e} = ''"), vec![])
        }
        Op::NotEmpty if textual => Where::new(format!("{e} IS NOT NULL AND {e} <> ''"), vec![]),
        Op::Empty | Op::Unassigned => Where::new(format!("{e} IS NULL"), vec![]),
        Op::NotEmpty => Where::new(format!("{e} IS NOT NULL"), vec![]),
        Op::In => {
            let (ph, params) = list(texts(&c.operand));
            Where::new(format!("{e} IN ({ph})"), params)
        }
        Op::NotIn => {
            let (ph, params) = list(texts(&c.operand));
            Where::new(format!("{e} IS NULL OR {e} NOT IN ({ph})"), params)
        }
        _ => never(),
    }
}

/// A condition the parser never lets through for this kind: matches nothing rather than
/// panic, and the parser's tests pin the operator tables.
fn never() -> Where {
    Where::new("0", vec![])
}

fn checkbox(c: &Condition) -> Where {
    let e = field_expr(&c.field);
    match c.op {
        Op::IsTrue => Where::new(format!("{e} = 1"), vec![]),
        // An unset custom checkbox is unchecked.
        Op::IsFalse => Where::new(format!("{e} IS NULL OR {e} = 0"), vec![]),
        _ => never(),
    }
}

fn day(d: chrono::NaiveDate) -> Value {
    Value::Text(d.format("%Y-%m-%d").to_string())
}

fn instant(t: chrono::DateTime<chrono::Utc>) -> Value {
    Value::Text(time::format(t))
}

fn next(d: chrono::NaiveDate) -> chrono::NaiveDate {
    d.checked_add_days(Days::new(1)).unwrap_or(d)
}

/// Calendar dates, stored `YYYY-MM-DD`: text order is date order.
fn date(c: &Condition, clock: &Clock) -> Where {
    let e = field_expr(&c.field);
    let between = |lo, hi| Where::new(format!("{e} BETWEEN ? AND ?"), vec![day(lo), day(hi)]);
    match (c.op, &c.operand) {
        (Op::On, Operand::Moment(Moment::Day(d))) => Where::new(format!("{e} = ?"), vec![day(*d)]),
        (Op::Before, Operand::Moment(Moment::Day(d))) => {
            Where::new(format!("{e} < ?"), vec![day(*d)])
        }
        (Op::After, Operand::Moment(Moment::Day(d))) => {
            Where::new(format!("{e} > ?"), vec![day(*d)])
        }
        (Op::Between, Operand::Moments(Moment::Day(lo), Moment::Day(hi))) => between(*lo, *hi),
        (Op::LastDays, Operand::Days(n)) => {
            let today = clock.today();
            let from = today
                .checked_sub_days(Days::new(*n as u64))
                .unwrap_or(today);
            between(from, today)
        }
        (Op::Empty, _) => Where::new(format!("{e} IS NULL"), vec![]),
        (Op::NotEmpty, _) => Where::new(format!("{e} IS NOT NULL"), vec![]),
        (op, _) => match clock.period(op) {
            Some((first, last)) => between(first, last),
            None => never(),
        },
    }
}

/// Instants, stored as fixed-width RFC 3339 UTC text: text order is time order. A day is
/// the local day of the account time zone, `[start of day, start of next day)`.
fn datetime(c: &Condition, clock: &Clock) -> Where {
    let e = field_expr(&c.field);
    let days = |first, last| {
        Where::new(
            format!("{e} >= ? AND {e} < ?"),
            vec![
                instant(clock.day_start(first)),
                instant(clock.day_start(next(last))),
            ],
        )
    };
    match (c.op, &c.operand) {
        (Op::On, Operand::Moment(Moment::Day(d))) => days(*d, *d),
        (Op::Before, Operand::Moment(m)) => {
            let t = match m {
                Moment::Day(d) => clock.day_start(*d),
                Moment::Instant(t) => *t,
            };
            Where::new(format!("{e} < ?"), vec![instant(t)])
        }
        (Op::After, Operand::Moment(Moment::Day(d))) => Where::new(
            format!("{e} >= ?"),
            vec![instant(clock.day_start(next(*d)))],
        ),
        (Op::After, Operand::Moment(Moment::Instant(t))) => {
            Where::new(format!("{e} > ?"), vec![instant(*t)])
        }
        (Op::Between, Operand::Moments(lo, hi)) => {
            let lower = match lo {
                Moment::Day(d) => clock.day_start(*d),
                Moment::Instant(t) => *t,
            };
            let (upper_op, upper) = match hi {
                Moment::Day(d) => ("<", clock.day_start(next(*d))),
                Moment::Instant(t) => ("<=", *t),
            };
            Where::new(
                format!("{e} >= ? AND {e} {upper_op} ?"),
                vec![instant(lower), instant(upper)],
            )
        }
        (Op::LastDays, Operand::Days(n)) => Where::new(
            format!("{e} >= ? AND {e} <= ?"),
            vec![instant(clock.days_ago(*n)), instant(clock.now)],
        ),
        (Op::Empty, _) => Where::new(format!("{e} IS NULL"), vec![]),
        (Op::NotEmpty, _) => Where::new(format!("{e} IS NOT NULL"), vec![]),
        (op, _) => match clock.period(op) {
            Some((first, last)) => days(first, last),
            None => never(),
        },
    }
}

/// Tags live in `contact_tags(contact_rowid, tag COLLATE NOCASE)`: a primary key per
/// contact and tag, and an index by tag. See [`Reading`] for the two shapes.
fn tags(c: &Condition, reading: Reading) -> Where {
    let values = texts(&c.operand);
    let (ph, mut params) = list(values);
    let n = values.len() as i64;
    let probe = |test: &str| {
        format!("EXISTS (SELECT 1 FROM contact_tags t WHERE t.contact_rowid = c.id{test})")
    };
    match (c.op, reading) {
        (Op::HasAny, Reading::Page) => Where::new(probe(&format!(" AND t.tag IN ({ph})")), params),
        (Op::HasAny, Reading::Every) => Where::new(
            format!("c.id IN (SELECT contact_rowid FROM contact_tags WHERE tag IN ({ph}))"),
            params,
        ),
        // Values are distinct (case-insensitively, as the column compares), and a contact
        // has each tag once: it has them all when it has N of them.
        (Op::HasAll, Reading::Page) => {
            params.push(Value::Integer(n));
            Where::new(
                format!(
                    "(SELECT count(*) FROM contact_tags t WHERE t.contact_rowid = c.id AND t.tag IN ({ph})) = ?"
                ),
                params,
            )
        }
        (Op::HasAll, Reading::Every) => {
            params.push(Value::Integer(n));
            Where::new(
                format!(
                    "c.id IN (SELECT contact_rowid FROM contact_tags WHERE tag IN ({ph}) \
                     GROUP BY contact_rowid HAVING count(*) = ?)"
                ),
                params,
            )
        }
        (Op::HasNone, _) => Where::new(
            format!("NOT {}", probe(&format!(" AND t.tag IN ({ph})"))),
            params,
        ),
        (Op::NoTags | Op::Empty, _) => Where::new(format!("NOT {}", probe("")), vec![]),
        (Op::NotEmpty, _) => Where::new(probe(""), vec![]),
        _ => never(),
    }
}

/// Multi-select values: a JSON array of options in `contacts.custom`.
fn multi(c: &Condition) -> Where {
    let Storage::Custom(key) = &c.field.storage else {
        return never();
    };
    let each = format!("json_each(c.custom, '$.{key}')");
    let values = texts(&c.operand);
    match c.op {
        Op::HasAny | Op::HasNone => {
            let (ph, params) = list(values);
            let exists =
                format!("EXISTS (SELECT 1 FROM {each} j WHERE j.value COLLATE NOCASE IN ({ph}))");
            if c.op == Op::HasAny {
                Where::new(exists, params)
            } else {
                Where::new(format!("NOT {exists}"), params)
            }
        }
        Op::HasAll => {
            let parts: Vec<String> = values
                .iter()
                .map(|_| {
                    format!("EXISTS (SELECT 1 FROM {each} j WHERE j.value COLLATE NOCASE = ?)")
                })
                .collect();
            Where::new(parts.join(" AND "), list(values).1)
        }
        Op::NoTags | Op::Empty => Where::new(
            format!("coalesce(json_array_length(c.custom, '$.{key}'), 0) = 0"),
            vec![],
        ),
        Op::NotEmpty => Where::new(
            format!("json_array_length(c.custom, '$.{key}') > 0"),
            vec![],
        ),
        _ => never(),
    }
}

/// Secondary emails and phones: a JSON array of texts in one column, NULL when none.
fn text_list(c: &Condition) -> Where {
    let Storage::Column(col) = &c.field.storage else {
        return never();
    };
    let exists = |test: &str| format!("EXISTS (SELECT 1 FROM json_each(c.{col}) j WHERE {test})");
    match (c.op, &c.operand) {
        (Op::Eq, Operand::Text(s)) => Where::new(
            exists("j.value COLLATE NOCASE = ?"),
            vec![s.as_str().into()],
        ),
        (Op::Neq, Operand::Text(s)) => Where::new(
            format!("NOT {}", exists("j.value COLLATE NOCASE = ?")),
            vec![s.as_str().into()],
        ),
        (Op::Contains, Operand::Text(s)) => Where::new(
            exists("j.value LIKE ? ESCAPE '\\'"),
            vec![like_pattern(Op::Contains, s).into()],
        ),
        (Op::NotContains, Operand::Text(s)) => Where::new(
            format!("NOT {}", exists("j.value LIKE ? ESCAPE '\\'")),
            vec![like_pattern(Op::Contains, s).into()],
        ),
        (Op::Empty, _) => Where::new(
            format!("coalesce(json_array_length(c.{col}), 0) = 0"),
            vec![],
        ),
        (Op::NotEmpty, _) => Where::new(format!("json_array_length(c.{col}) > 0"), vec![]),
        _ => never(),
    }
}
