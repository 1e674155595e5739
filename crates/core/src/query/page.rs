//! Pages of contacts: a scope (a SQL condition), a sort, keyset cursors, and only the
//! columns the caller shows. List, query, segments and search build on this.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Map, Value as Json};

use crate::contacts::contact::column_json;
use crate::kernel::error::{Error, Result};
use crate::kernel::fields::{Catalogue, Field, FieldType, Storage};
use crate::kernel::store::{Sql, Value};

pub const DEFAULT_LIMIT: usize = 50;
pub const MAX_LIMIT: usize = 500;
pub const MAX_SORT_KEYS: usize = 3;

/// Schema migration 2, this module's part: indexes in the sort orders people pick in the
/// console (issue 16). Without one, a sorted first page of All is a top-N sort of every
/// contact (136–242 ms at 1M, docs/benchmarks.md); with one it walks the index from its end
/// and stops after a page. Each index's entries end in the row id, so it also orders the
/// row-id tie-break, ascending or (walked backwards) descending. Text sorts are
/// case-insensitive (`field_expr`), so are these. Each costs every insert and every write
/// of its column (docs/benchmarks.md, Console).
pub const SCHEMA_V2: &[&str] = &[
    "CREATE INDEX contacts_last_name ON contacts(last_name COLLATE NOCASE)",
    "CREATE INDEX contacts_company ON contacts(company COLLATE NOCASE)",
    "CREATE INDEX contacts_updated_at ON contacts(updated_at)",
];

/// A SQL condition over `contacts c` with its bound parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Where {
    pub sql: String,
    pub params: Vec<Value>,
}

impl Where {
    pub fn new(sql: impl Into<String>, params: Vec<Value>) -> Self {
        Where {
            sql: sql.into(),
            params,
        }
    }

    pub fn and(mut self, other: Where) -> Where {
        self.sql = format!("({}) AND ({})", self.sql, other.sql);
        self.params.extend(other.params);
        self
    }
}

/// The system segments (SPEC §3): `all` is every contact not blocked, `blocked` the rest.
pub fn system_segment(id: &str) -> Option<Where> {
    match id {
        "all" => Some(Where::new("c.blocked = 0", vec![])),
        "blocked" => Some(Where::new("c.blocked = 1", vec![])),
        _ => None,
    }
}

/// The condition of segment `id`: `all`, `blocked`, or a saved segment (its filter within
/// `all`, re-checked against the catalogue: a segment naming a deleted field is a 422).
/// Relative dates in a saved filter are taken at `clock`.
pub fn segment_scope(
    db: &dyn Sql,
    catalogue: &Catalogue,
    clock: &crate::query::filter::Clock,
    id: &str,
) -> Result<Where> {
    crate::query::segments::scope(db, catalogue, clock, id)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    pub field: String,
    pub desc: bool,
}

/// Reads a sort: `[{"field": "last_name", "dir": "asc"}]`.
pub fn parse_sort(value: &Json, catalogue: &Catalogue) -> Result<Vec<SortKey>> {
    let items = value
        .as_array()
        .ok_or_else(|| Error::malformed("sort: expected an array of {field, dir}"))?;
    if items.len() > MAX_SORT_KEYS {
        return Err(Error::invalid(
            "sort",
            format!("at most {MAX_SORT_KEYS} sort keys"),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let path = format!("sort[{i}]");
            let field = item
                .get("field")
                .and_then(Json::as_str)
                .ok_or_else(|| Error::malformed(format!("{path}: expected {{field, dir}}")))?;
            let desc = match item.get("dir").and_then(Json::as_str).unwrap_or("asc") {
                "asc" => false,
                "desc" => true,
                _ => return Err(Error::invalid(format!("{path}.dir"), "must be asc or desc")),
            };
            sort_key(field, desc, catalogue).map_err(|e| e.within(&path))
        })
        .collect()
}

/// Reads a sort from a query string: `last_name,-created_at` (`-` for descending).
pub fn parse_sort_param(param: &str, catalogue: &Catalogue) -> Result<Vec<SortKey>> {
    let keys: Vec<&str> = param
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    if keys.len() > MAX_SORT_KEYS {
        return Err(Error::invalid(
            "sort",
            format!("at most {MAX_SORT_KEYS} sort keys"),
        ));
    }
    keys.into_iter()
        .map(|k| match k.strip_prefix('-') {
            Some(f) => sort_key(f, true, catalogue),
            None => sort_key(k, false, catalogue),
        })
        .map(|r| r.map_err(|e| e.within("sort")))
        .collect()
}

fn sort_key(field: &str, desc: bool, catalogue: &Catalogue) -> Result<SortKey> {
    match catalogue.get(field) {
        Some(f) if f.caps.sortable => Ok(SortKey {
            field: field.to_owned(),
            desc,
        }),
        Some(_) => Err(Error::invalid(
            "field",
            format!("'{field}' is not sortable"),
        )),
        None => Err(Error::invalid("field", format!("'{field}' is not a field"))),
    }
}

/// The SQL expression of a field over `contacts c` (not for tags). Text compares and sorts
/// case-insensitively.
pub fn field_expr(field: &Field) -> String {
    match &field.storage {
        Storage::Column(col) if is_text(field.ty) => format!("c.{col} COLLATE NOCASE"),
        Storage::Column(col) => format!("c.{col}"),
        // Custom keys are checked to be [a-z0-9_] at definition, so inlining is safe.
        Storage::Custom(key) if is_text(field.ty) => {
            format!("json_extract(c.custom, '$.{key}') COLLATE NOCASE")
        }
        Storage::Custom(key) => format!("json_extract(c.custom, '$.{key}')"),
        Storage::Tags => "NULL".into(),
    }
}

fn is_text(ty: FieldType) -> bool {
    matches!(
        ty,
        FieldType::Text
            | FieldType::LongText
            | FieldType::Email
            | FieldType::Phone
            | FieldType::Link
            | FieldType::SingleSelect
            | FieldType::Owner
    )
}

/// Which columns a page shows: field keys, checked against the catalogue.
pub fn parse_columns(keys: &[String], catalogue: &Catalogue) -> Result<Vec<String>> {
    if keys.len() > 100 {
        return Err(Error::invalid("fields", "at most 100 columns"));
    }
    let mut out: Vec<String> = Vec::with_capacity(keys.len());
    for key in keys {
        if catalogue.get(key).is_none() {
            return Err(Error::invalid("fields", format!("'{key}' is not a field")));
        }
        if key != "contact_id" && !out.contains(key) {
            out.push(key.clone());
        }
    }
    Ok(out)
}

pub struct PageRequest<'a> {
    pub scope: Where,
    /// Empty: newest first.
    pub sort: Vec<SortKey>,
    pub limit: usize,
    pub cursor: Option<&'a str>,
    /// Field keys to show besides `contact_id`.
    pub columns: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub items: Vec<Json>,
    pub next_cursor: Option<String>,
}

impl Page {
    pub fn to_json(&self) -> Json {
        json!({"items": self.items, "next_cursor": self.next_cursor})
    }
}

/// Checks a page size: default 50, at most 500.
pub fn check_limit(limit: Option<i64>) -> Result<usize> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT as i64).contains(&n) => Ok(n as usize),
        Some(_) => Err(Error::invalid("limit", format!("must be 1 to {MAX_LIMIT}"))),
    }
}

/// One page of contacts in a stable order. Paging continues after the last row seen, by
/// its sort values and row id, so rows inserted meanwhile cause no repeat and no gap.
pub fn page(db: &dyn Sql, catalogue: &Catalogue, req: &PageRequest) -> Result<Page> {
    let keys: Vec<(String, bool)> = req
        .sort
        .iter()
        .map(|k| {
            let field = catalogue
                .get(&k.field)
                .ok_or_else(|| Error::invalid("sort", "unknown field"))?;
            Ok((field_expr(field), k.desc))
        })
        .collect::<Result<_>>()?;
    let id_desc = req.sort.first().is_none_or(|k| k.desc);
    let signature = sort_signature(&req.sort);

    let mut condition = req.scope.clone();
    if let Some(cursor) = req.cursor {
        let (values, rowid) = decode_cursor(cursor, &signature, keys.len())?;
        condition = condition.and(keyset_after(&keys, &values, rowid, id_desc));
    }

    let projection = projection(&req.columns, catalogue)?;
    let mut select = vec!["c.id".to_owned(), "c.contact_id".to_owned()];
    select.extend(
        keys.iter()
            .enumerate()
            .map(|(i, (e, _))| format!("{e} AS _k{i}")),
    );
    select.extend(projection.iter().map(|p| p.sql.clone()));
    let mut order: Vec<String> = keys
        .iter()
        .map(|(e, desc)| format!("{e} {}", if *desc { "DESC" } else { "ASC" }))
        .collect();
    order.push(format!("c.id {}", if id_desc { "DESC" } else { "ASC" }));

    let order = order.join(", ");
    let sql = if keys.is_empty() {
        // Row-id order: the scope's index or the table itself yields rows in it, no sort.
        format!(
            "SELECT {} FROM contacts c WHERE {} ORDER BY {order} LIMIT {}",
            select.join(", "),
            condition.sql,
            req.limit + 1
        )
    } else {
        // A sort key no index orders means a top-N sort over the whole scope, and SQLite
        // builds each candidate's whole result row (a tags sub-select among them) before the
        // sorter can reject it. So the page's ids are chosen by sorting only ids and keys, and
        // the shown columns computed for those rows alone: a first page of 1M contacts by
        // `updated_at` newest first took 0.91 s in one statement, 0.24 s this way through the
        // host (docs/benchmarks.md, Filter).
        format!(
            "SELECT {} FROM contacts c WHERE c.id IN \
               (SELECT c.id FROM contacts c WHERE {} ORDER BY {order} LIMIT {}) \
             ORDER BY {order}",
            select.join(", "),
            condition.sql,
            req.limit + 1
        )
    };
    let rows = db.execute(&sql, &condition.params)?;

    let mut items = Vec::with_capacity(req.limit.min(rows.rows.len()));
    let mut next_cursor = None;
    for (i, row) in rows.rows.iter().enumerate() {
        if i == req.limit {
            let last = &rows.rows[i - 1];
            let values = last[2..2 + keys.len()].to_vec();
            let rowid = last[0].as_i64().unwrap_or(0);
            next_cursor = Some(encode_cursor(&signature, &values, rowid));
            break;
        }
        items.push(item_json(row, keys.len(), &projection));
    }
    Ok(Page { items, next_cursor })
}

/// How many contacts are in scope.
pub fn count(db: &dyn Sql, scope: &Where) -> Result<i64> {
    let rows = db.execute(
        &format!("SELECT count(*) FROM contacts c WHERE {}", scope.sql),
        &scope.params,
    )?;
    Ok(rows.scalar_i64().unwrap_or(0))
}

/// One shown column: its key and the SQL expression (over `contacts c`) that selects it.
/// Search builds its own statements and shares this projection.
pub struct Projected {
    key: String,
    ty: FieldType,
    pub sql: String,
    custom: bool,
}

pub fn projection(columns: &[String], catalogue: &Catalogue) -> Result<Vec<Projected>> {
    columns
        .iter()
        .map(|key| {
            let field = catalogue
                .get(key)
                .ok_or_else(|| Error::invalid("fields", format!("'{key}' is not a field")))?;
            let (sql, custom) = match &field.storage {
                Storage::Column(col) => (format!("c.{col}"), false),
                Storage::Tags => (
                    "(SELECT json_group_array(tag) FROM (SELECT tag FROM contact_tags WHERE contact_rowid = c.id ORDER BY tag))"
                        .to_owned(),
                    false,
                ),
                Storage::Custom(k) => (format!("c.custom -> '$.{k}'"), true),
            };
            Ok(Projected {
                key: key.clone(),
                ty: field.ty,
                sql,
                custom,
            })
        })
        .collect()
}

/// A page item from a row `[rowid, contact_id, nkeys sort values…, projected columns…]`.
pub fn item_json(row: &[Value], nkeys: usize, projection: &[Projected]) -> Json {
    let mut out = Map::new();
    out.insert(
        "contact_id".into(),
        column_json(FieldType::Text, row.get(1)),
    );
    let mut custom = Map::new();
    for (p, v) in projection.iter().zip(&row[2 + nkeys..]) {
        if p.custom {
            let value = v
                .as_str()
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or(Json::Null);
            custom.insert(p.key.trim_start_matches("custom.").to_owned(), value);
        } else if p.ty == FieldType::Tags {
            let tags = v
                .as_str()
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or_else(|| json!([]));
            out.insert(p.key.clone(), tags);
        } else {
            out.insert(p.key.clone(), column_json(p.ty, Some(v)));
        }
    }
    if !custom.is_empty() {
        out.insert("custom".into(), Json::Object(custom));
    }
    Json::Object(out)
}

/// The condition "comes after (values, rowid) in this order", NULLs sorting first as
/// SQLite sorts them.
fn keyset_after(keys: &[(String, bool)], values: &[Value], rowid: i64, id_desc: bool) -> Where {
    let mut alternatives = Vec::new();
    let mut params = Vec::new();
    for i in 0..=keys.len() {
        let mut parts = Vec::new();
        let mut part_params = Vec::new();
        for j in 0..i {
            let (expr, _) = &keys[j];
            match &values[j] {
                Value::Null => parts.push(format!("{expr} IS NULL")),
                v => {
                    parts.push(format!("{expr} = ?"));
                    part_params.push(v.clone());
                }
            }
        }
        if i < keys.len() {
            let (expr, desc) = &keys[i];
            match (&values[i], desc) {
                (Value::Null, false) => parts.push(format!("{expr} IS NOT NULL")),
                (Value::Null, true) => continue,
                (v, false) => {
                    parts.push(format!("{expr} > ?"));
                    part_params.push(v.clone());
                }
                (v, true) => {
                    parts.push(format!("({expr} < ? OR {expr} IS NULL)"));
                    part_params.push(v.clone());
                }
            }
        } else {
            parts.push(format!("c.id {} ?", if id_desc { "<" } else { ">" }));
            part_params.push(rowid.into());
        }
        alternatives.push(format!("({})", parts.join(" AND ")));
        params.extend(part_params);
    }
    Where::new(alternatives.join(" OR "), params)
}

fn sort_signature(sort: &[SortKey]) -> String {
    sort.iter()
        .map(|k| format!("{}{}", if k.desc { "-" } else { "" }, k.field))
        .collect::<Vec<_>>()
        .join(",")
}

fn encode_cursor(signature: &str, values: &[Value], rowid: i64) -> String {
    let vals: Vec<Json> = values
        .iter()
        .map(|v| match v {
            Value::Null => Json::Null,
            Value::Integer(i) => json!({"i": i}),
            Value::Real(f) => json!({"r": f}),
            Value::Text(s) => json!({"t": s}),
            Value::Blob(_) => Json::Null,
        })
        .collect();
    URL_SAFE_NO_PAD.encode(json!({"s": signature, "v": vals, "id": rowid}).to_string())
}

fn decode_cursor(cursor: &str, signature: &str, nkeys: usize) -> Result<(Vec<Value>, i64)> {
    let bad = || {
        Error::invalid(
            "cursor",
            "is not a cursor of this query (cursors are opaque and tied to the sort)",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).map_err(|_| bad())?;
    let doc: Json = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if doc.get("s").and_then(Json::as_str) != Some(signature) {
        return Err(bad());
    }
    let rowid = doc.get("id").and_then(Json::as_i64).ok_or_else(bad)?;
    let vals = doc.get("v").and_then(Json::as_array).ok_or_else(bad)?;
    if vals.len() != nkeys {
        return Err(bad());
    }
    let values = vals
        .iter()
        .map(|v| {
            if v.is_null() {
                Some(Value::Null)
            } else if let Some(i) = v.get("i").and_then(Json::as_i64) {
                Some(Value::Integer(i))
            } else if let Some(f) = v.get("r").and_then(Json::as_f64) {
                Some(Value::Real(f))
            } else {
                v.get("t")
                    .and_then(Json::as_str)
                    .map(|s| Value::Text(s.to_owned()))
            }
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(bad)?;
    Ok((values, rowid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_is_tied_to_its_sort() {
        let vals = vec![Value::Text("Lima".into()), Value::Null, Value::Integer(3)];
        let c = encode_cursor("last_name,-created_at,x", &vals, 42);
        assert_eq!(
            decode_cursor(&c, "last_name,-created_at,x", 3).unwrap(),
            (vals, 42)
        );
        assert!(decode_cursor(&c, "first_name", 1).is_err());
        assert!(decode_cursor("garbage!", "", 0).is_err());
    }

    #[test]
    fn limit_bounds() {
        assert_eq!(check_limit(None).unwrap(), 50);
        assert_eq!(check_limit(Some(500)).unwrap(), 500);
        assert!(check_limit(Some(501)).is_err());
        assert!(check_limit(Some(0)).is_err());
    }

    /// A sorted first page of All on an indexed key walks that index: no sort of the segment.
    #[test]
    fn indexed_sort_keys_need_no_sort() {
        let db = crate::kernel::native::NativeSql::open_in_memory();
        crate::kernel::schema::ensure(&db).expect("schema");
        let cat = Catalogue::with_custom(vec![]);
        for (key, desc) in [
            ("last_name", false),
            ("company", true),
            ("updated_at", true),
        ] {
            let field = cat.get(key).expect("a system field");
            let dir = if desc { "DESC" } else { "ASC" };
            let sql = format!(
                "EXPLAIN QUERY PLAN SELECT c.id FROM contacts c WHERE likely(c.blocked = 0) \
                 ORDER BY {} {dir}, c.id {dir} LIMIT 51",
                field_expr(field)
            );
            let rows = db.execute(&sql, &[]).expect("a plan");
            let detail = rows.column("detail").expect("detail");
            let plan: Vec<&str> = rows
                .rows
                .iter()
                .filter_map(|r| r[detail].as_str())
                .collect();
            let plan = plan.join(" | ");
            assert!(plan.contains(&format!("contacts_{key}")), "{key}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{key}: {plan}");
        }
    }

    #[test]
    fn sort_fields_must_be_sortable() {
        let cat = Catalogue::with_custom(vec![]);
        assert!(parse_sort_param("last_name,-created_at", &cat).is_ok());
        assert!(parse_sort_param("tags", &cat).is_err());
        assert!(parse_sort_param("nope", &cat).is_err());
        let e = parse_sort(&json!([{"field": "city", "dir": "up"}]), &cat).unwrap_err();
        assert_eq!(e, Error::invalid("sort[0].dir", "must be asc or desc"));
    }
}
