//! Segments (SPEC §3): the system segments `all` (not blocked) and `blocked`, and saved
//! filters stored in SQLite, the system of record.
//!
//! A saved segment is its filter within `all`: blocked contacts leave every saved segment
//! as they leave All, and are found in Blocked. Its filter is checked against the field
//! catalogue when saved and again each time it is used, so a segment whose filter names a
//! since-deleted custom field reports that (a 422 when used, an `error` in listings)
//! instead of failing.
//!
//! Custom fields named by saved segments get an expression index on
//! `json_extract(custom, '$.key')`, created when a segment using one is saved and dropped
//! when no saved segment uses it any more: the fields people keep filtering on stay off
//! full scans, and the others cost writes nothing.

use std::collections::BTreeMap;

use serde_json::{json, Value as Json};

use crate::kernel::error::{Error, Result};
use crate::kernel::fields::Catalogue;
use crate::kernel::store::{write_tx, Sql, Value};
use crate::kernel::values::time;
use crate::query::filter::{custom_key, Clock, Filter, Kind, Reading};
use crate::query::page::{field_expr, system_segment, Where};

pub const SCHEMA: &[&str] = &[
    // AUTOINCREMENT: the id of a deleted segment is never given to another, so a stale
    // link or bulk target cannot silently name a different set of contacts.
    "CREATE TABLE segments (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        name TEXT NOT NULL COLLATE NOCASE UNIQUE,
        filter TEXT NOT NULL,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )",
];

/// Schema migration 2, this module's part, so the segment sidebar does not count a million
/// contacts per view (issue 16). The sizes of All and Blocked, kept by triggers on
/// `contacts` in every writer's own transaction (no writer can forget them): only `blocked`
/// decides either segment, so inserts, deletes and changes of `blocked` are all that move
/// them ([`system_count`]). And saved segments' last counts, kept while nothing changed
/// ([`count`]).
pub const SCHEMA_V2: &[&str] = &[
    "CREATE TABLE segment_tallies (segment TEXT PRIMARY KEY, contacts INTEGER NOT NULL) WITHOUT ROWID",
    "INSERT INTO segment_tallies (segment, contacts) \
       SELECT 'all', count(*) FROM contacts WHERE blocked = 0 \
       UNION ALL SELECT 'blocked', count(*) FROM contacts WHERE blocked <> 0",
    "CREATE TRIGGER segment_tallies_insert AFTER INSERT ON contacts BEGIN \
       UPDATE segment_tallies SET contacts = contacts + 1 \
        WHERE segment = CASE WHEN NEW.blocked <> 0 THEN 'blocked' ELSE 'all' END; \
     END",
    "CREATE TRIGGER segment_tallies_delete AFTER DELETE ON contacts BEGIN \
       UPDATE segment_tallies SET contacts = contacts - 1 \
        WHERE segment = CASE WHEN OLD.blocked <> 0 THEN 'blocked' ELSE 'all' END; \
     END",
    "CREATE TRIGGER segment_tallies_block AFTER UPDATE OF blocked ON contacts \
       WHEN (OLD.blocked <> 0) <> (NEW.blocked <> 0) BEGIN \
       UPDATE segment_tallies SET contacts = contacts + \
         CASE WHEN segment = CASE WHEN NEW.blocked <> 0 THEN 'blocked' ELSE 'all' END \
              THEN 1 ELSE -1 END; \
     END",
    // Saved segments' kept counts (see [`count`]): a generation bumped by every write of a
    // contact row or a tag row, and each segment's last count with the generation and the
    // exact query it was taken at.
    "CREATE TABLE contacts_generation (id INTEGER PRIMARY KEY CHECK (id = 1), n INTEGER NOT NULL)",
    "INSERT INTO contacts_generation (id, n) VALUES (1, 0)",
    "CREATE TRIGGER contacts_generation_insert AFTER INSERT ON contacts BEGIN \
       UPDATE contacts_generation SET n = n + 1 WHERE id = 1; END",
    "CREATE TRIGGER contacts_generation_update AFTER UPDATE ON contacts BEGIN \
       UPDATE contacts_generation SET n = n + 1 WHERE id = 1; END",
    "CREATE TRIGGER contacts_generation_delete AFTER DELETE ON contacts BEGIN \
       UPDATE contacts_generation SET n = n + 1 WHERE id = 1; END",
    "CREATE TRIGGER contacts_generation_tag_insert AFTER INSERT ON contact_tags BEGIN \
       UPDATE contacts_generation SET n = n + 1 WHERE id = 1; END",
    "CREATE TRIGGER contacts_generation_tag_delete AFTER DELETE ON contact_tags BEGIN \
       UPDATE contacts_generation SET n = n + 1 WHERE id = 1; END",
    "CREATE TABLE segment_counts ( \
       segment_id INTEGER PRIMARY KEY, \
       generation INTEGER NOT NULL, query TEXT NOT NULL, contacts INTEGER NOT NULL)",
];

/// The segment tallies' and the generation's part of the `contacts_insert` trigger
/// (`kernel::schema`).
macro_rules! on_contact_insert {
    () => {
        "UPDATE segment_tallies SET contacts = contacts + 1 \
           WHERE segment = iif(new.blocked <> 0, 'blocked', 'all'); \
         UPDATE contacts_generation SET n = n + 1;"
    };
}

/// Their part of the `contacts_delete` trigger.
macro_rules! on_contact_delete {
    () => {
        "UPDATE segment_tallies SET contacts = contacts - 1 \
           WHERE segment = iif(old.blocked <> 0, 'blocked', 'all'); \
         UPDATE contacts_generation SET n = n + 1;"
    };
}

pub(crate) use {on_contact_delete, on_contact_insert};

/// Version 3: inserting and deleting a contact move the tallies and the generation inside
/// `kernel::schema`'s `contacts_insert` and `contacts_delete` triggers (fewer triggers for
/// every connection to parse: `search::SCHEMA_V3`). `contacts_generation` has its one row,
/// so the part needs no `WHERE id = 1`.
pub const SCHEMA_V3: &[&str] = &[
    "DROP TRIGGER segment_tallies_insert",
    "DROP TRIGGER segment_tallies_delete",
    "DROP TRIGGER contacts_generation_insert",
    "DROP TRIGGER contacts_generation_delete",
];

/// A saved segment's count, taken again only when it could differ: when a contact or tag
/// row was written since (the generation moved) or the query is not the same text with the
/// same parameters (the filter changed, or a date window such as "in the last 7 days" moved
/// with the clock). So a sidebar viewed again and again over unchanged data counts nothing,
/// and a count is never stale: a hit needs the generation it was taken at, and a count
/// taken while a write landed is stored under the older generation, so it never hits.
pub fn count(db: &dyn Sql, segment_id: i64, scope: &Where) -> Result<i64> {
    let query = format!("{}\u{1f}{:?}", scope.sql, scope.params);
    let generation = db
        .execute("SELECT n FROM contacts_generation WHERE id = 1", &[])?
        .scalar_i64()
        .ok_or_else(|| Error::Storage("contacts_generation has no row".into()))?;
    let kept = db.execute(
        "SELECT contacts FROM segment_counts WHERE segment_id = ?1 AND generation = ?2 AND query = ?3",
        &[segment_id.into(), generation.into(), query.as_str().into()],
    )?;
    if let Some(n) = kept.scalar_i64() {
        return Ok(n);
    }
    let n = crate::query::page::count(db, scope)?;
    // Keeping it is an optimisation: if another writer holds the database past the busy
    // timeout, the count is still right, only not kept.
    if let Err(e) = db.execute(
        "INSERT INTO segment_counts (segment_id, generation, query, contacts) VALUES (?1, ?2, ?3, ?4) \
         ON CONFLICT (segment_id) DO UPDATE SET generation = excluded.generation, \
           query = excluded.query, contacts = excluded.contacts",
        &[segment_id.into(), generation.into(), query.as_str().into(), n.into()],
    ) {
        eprintln!("segment {segment_id}: count not kept: {e:?}");
    }
    Ok(n)
}

/// The size of a system segment, as the triggers of [`SCHEMA_V2`] and [`SCHEMA_V3`] keep it.
pub fn system_count(db: &dyn Sql, id: SegmentId) -> Result<i64> {
    let key = match id {
        SegmentId::Blocked => "blocked",
        _ => "all",
    };
    let rows = db.execute(
        "SELECT contacts FROM segment_tallies WHERE segment = ?1",
        &[key.into()],
    )?;
    rows.scalar_i64()
        .ok_or_else(|| Error::Storage(format!("no tally of segment '{key}'")))
}

pub const MAX_SAVED: i64 = 500;
pub const MAX_NAME: usize = 100;
const INDEX_PREFIX: &str = "contacts_custom_";

/// Which segment an id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentId {
    All,
    Blocked,
    Saved(i64),
}

impl SegmentId {
    /// `all`, `blocked`, or a saved segment's number. Anything else names no segment.
    pub fn parse(s: &str) -> Result<SegmentId> {
        match s.trim() {
            "all" => Ok(SegmentId::All),
            "blocked" => Ok(SegmentId::Blocked),
            n => n
                .parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .map(SegmentId::Saved)
                .ok_or_else(|| Error::NotFound(format!("segment '{}'", short(s)))),
        }
    }

    /// A segment id as JSON sends it: a string, or a saved segment's number.
    pub fn from_json(v: &Json, field: &str) -> Result<SegmentId> {
        match v {
            Json::String(s) => SegmentId::parse(s),
            Json::Number(n) => n
                .as_i64()
                .filter(|n| *n > 0)
                .map(SegmentId::Saved)
                .ok_or_else(|| Error::NotFound(format!("segment {n}"))),
            _ => Err(Error::Malformed {
                detail: format!(
                    "{field}: expected a segment id (\"all\", \"blocked\" or a saved segment's id)"
                ),
                field: Some(field.to_owned()),
            }),
        }
    }
}

fn short(s: &str) -> String {
    s.chars().take(60).collect()
}

/// A saved segment as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Saved {
    pub id: i64,
    pub name: String,
    pub filter: Json,
    pub created_at: String,
    pub created_by: String,
    pub updated_at: String,
}

impl Saved {
    fn unusable(&self, cause: &Error) -> Error {
        Error::invalid(
            "segment",
            format!(
                "segment {} ('{}') can no longer be used: {}; edit or delete it",
                self.id,
                self.name,
                describe(cause)
            ),
        )
    }

    /// The segment's condition: not blocked, and its filter. A filter that no longer
    /// checks is a 422 on `segment`.
    pub fn scope(&self, catalogue: &Catalogue, clock: &Clock, reading: Reading) -> Result<Where> {
        self.checked_scope(catalogue, clock, reading)
            .map_err(|e| self.unusable(&e))
    }

    /// Like [`Saved::scope`], with the filter's own error (its JSON path and why), as a
    /// listing reports it.
    pub fn checked_scope(
        &self,
        catalogue: &Catalogue,
        clock: &Clock,
        reading: Reading,
    ) -> Result<Where> {
        let filter = Filter::parse(&self.filter, catalogue)?;
        Ok(all_scope().and(filter.compile(clock, reading)))
    }

    pub fn to_json(&self) -> Json {
        json!({
            "id": self.id.to_string(),
            "name": self.name,
            "filter": self.filter,
            "system": false,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "updated_at": self.updated_at,
        })
    }
}

fn describe(e: &Error) -> String {
    match e {
        Error::Invalid { field, detail } => format!("{field}: {detail}"),
        Error::Malformed {
            field: Some(field),
            detail,
        } if !detail.starts_with(field.as_str()) => format!("{field}: {detail}"),
        other => other.to_string(),
    }
}

/// Segment `all`. Nearly every contact is not blocked, and `likely` tells the planner so:
/// without statistics it would otherwise drive a filtered query from the `blocked` index
/// (reading every contact) rather than from the filter's own, selective index. Alone, it
/// still counts from the covering `(blocked, id)` index.
fn all_scope() -> Where {
    Where::new("likely(c.blocked = 0)", vec![])
}

/// The system segments as JSON (without counts), `all` first.
pub fn system_json(id: SegmentId) -> Json {
    let (key, name, blocked_op) = match id {
        SegmentId::Blocked => ("blocked", "Blocked", "is_true"),
        _ => ("all", "All", "is_false"),
    };
    json!({
        "id": key,
        "name": name,
        "filter": {"all": [{"field": "blocked", "op": blocked_op}]},
        "system": true,
    })
}

/// The condition of any segment id, shaped for reading a page: what list, query and
/// search narrow to.
pub fn scope(db: &dyn Sql, catalogue: &Catalogue, clock: &Clock, id: &str) -> Result<Where> {
    scope_for(db, catalogue, clock, SegmentId::parse(id)?, Reading::Page)
}

/// The condition of a segment, shaped for how it will be read: [`Reading::Every`] for
/// counts and set-wide work such as bulk actions.
pub fn scope_for(
    db: &dyn Sql,
    catalogue: &Catalogue,
    clock: &Clock,
    id: SegmentId,
    reading: Reading,
) -> Result<Where> {
    match id {
        SegmentId::All => Ok(all_scope()),
        SegmentId::Blocked => system_segment("blocked")
            .ok_or_else(|| Error::Storage("system segment 'blocked' is missing".into())),
        SegmentId::Saved(n) => get(db, n)?.scope(catalogue, clock, reading),
    }
}

/// An error as the `error` member of a segment listing: `{field, detail}`.
pub fn error_json(e: &Error) -> Json {
    match e {
        Error::Invalid { field, detail } => json!({"field": field, "detail": detail}),
        Error::Malformed { field, detail } => json!({"field": field, "detail": detail}),
        other => json!({"field": null, "detail": other.to_string()}),
    }
}

const COLUMNS: &str = "id, name, filter, created_at, created_by, updated_at";

fn decode(row: &[Value]) -> Result<Saved> {
    let text = |i: usize| {
        row.get(i)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let filter = serde_json::from_str(&text(2))
        .map_err(|e| Error::Storage(format!("segment filter is not JSON: {e}")))?;
    Ok(Saved {
        id: row.first().and_then(Value::as_i64).unwrap_or(0),
        name: text(1),
        filter,
        created_at: text(3),
        created_by: text(4),
        updated_at: text(5),
    })
}

/// Every saved segment, oldest first.
pub fn list(db: &dyn Sql) -> Result<Vec<Saved>> {
    db.execute(&format!("SELECT {COLUMNS} FROM segments ORDER BY id"), &[])?
        .rows
        .iter()
        .map(|r| decode(r))
        .collect()
}

pub fn get(db: &dyn Sql, id: i64) -> Result<Saved> {
    let rows = db.execute(
        &format!("SELECT {COLUMNS} FROM segments WHERE id = ?"),
        &[id.into()],
    )?;
    match rows.rows.first() {
        Some(r) => decode(r),
        None => Err(Error::NotFound(format!("segment '{id}'"))),
    }
}

/// What a create or update body asks for, checked.
struct Body {
    name: Option<String>,
    filter: Option<Filter>,
}

fn parse_body(body: &Json, catalogue: &Catalogue, require_all: bool) -> Result<Body> {
    let obj = body
        .as_object()
        .ok_or_else(|| Error::malformed("the body must be a JSON object {name, filter}"))?;
    if let Some(extra) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "name" | "filter"))
    {
        return Err(Error::invalid(
            short(extra),
            "is not a member of a segment (name, filter)",
        ));
    }
    let name = match obj.get("name") {
        None if require_all => return Err(Error::invalid("name", "is required")),
        None => None,
        Some(Json::String(s)) => Some(check_name(s)?),
        Some(_) => {
            return Err(Error::Malformed {
                detail: "name: expected a string".into(),
                field: Some("name".into()),
            })
        }
    };
    let filter = match obj.get("filter") {
        None if require_all => return Err(Error::invalid("filter", "is required")),
        None => None,
        Some(f) => Some(Filter::parse(f, catalogue)?),
    };
    Ok(Body { name, filter })
}

fn check_name(s: &str) -> Result<String> {
    let name = s.trim();
    let n = name.chars().count();
    if n == 0 || n > MAX_NAME || name.chars().any(char::is_control) {
        return Err(Error::invalid(
            "name",
            format!("must be 1 to {MAX_NAME} characters"),
        ));
    }
    if name.eq_ignore_ascii_case("all") || name.eq_ignore_ascii_case("blocked") {
        return Err(name_taken(name));
    }
    Ok(name.to_owned())
}

fn name_taken(name: &str) -> Error {
    Error::Conflict {
        detail: format!("a segment named '{name}' exists"),
        field: Some("name".into()),
        existing_contact_id: None,
    }
}

fn unique_name<T>(
    r: std::result::Result<T, crate::kernel::store::DbError>,
    name: &str,
) -> Result<T> {
    r.map_err(|e| match e.unique_violation() {
        Some(_) => name_taken(name),
        None => e.into(),
    })
}

/// Saves a new segment `{name, filter}`.
pub fn create(db: &dyn Sql, catalogue: &Catalogue, actor: &str, body: &Json) -> Result<Saved> {
    let parsed = parse_body(body, catalogue, true)?;
    let (Some(name), Some(filter)) = (parsed.name, parsed.filter) else {
        return Err(Error::invalid("filter", "is required"));
    };
    write_tx(db, || {
        let count = db
            .execute("SELECT count(*) FROM segments", &[])?
            .scalar_i64()
            .unwrap_or(0);
        if count >= MAX_SAVED {
            return Err(Error::invalid(
                "name",
                format!("at most {MAX_SAVED} saved segments"),
            ));
        }
        let now = time::now();
        unique_name(
            db.execute(
                "INSERT INTO segments (name, filter, created_at, created_by, updated_at) VALUES (?, ?, ?, ?, ?)",
                &[
                    name.as_str().into(),
                    filter.json.to_string().into(),
                    now.as_str().into(),
                    actor.into(),
                    now.as_str().into(),
                ],
            ),
            &name,
        )?;
        let id = db.last_insert_rowid();
        sync_indexes(db, catalogue)?;
        get(db, id)
    })
}

/// Changes a saved segment's name and/or filter.
pub fn update(db: &dyn Sql, catalogue: &Catalogue, id: &str, body: &Json) -> Result<Saved> {
    let n = saved_id(id)?;
    let parsed = parse_body(body, catalogue, false)?;
    write_tx(db, || {
        let mut seg = get(db, n)?;
        if let Some(name) = parsed.name {
            seg.name = name;
        }
        if let Some(filter) = &parsed.filter {
            seg.filter = filter.json.clone();
        }
        unique_name(
            db.execute(
                "UPDATE segments SET name = ?, filter = ?, updated_at = ? WHERE id = ?",
                &[
                    seg.name.as_str().into(),
                    seg.filter.to_string().into(),
                    time::now().into(),
                    n.into(),
                ],
            ),
            &seg.name,
        )?;
        if parsed.filter.is_some() {
            sync_indexes(db, catalogue)?;
        }
        get(db, n)
    })
}

pub fn delete(db: &dyn Sql, catalogue: &Catalogue, id: &str) -> Result<()> {
    let n = saved_id(id)?;
    write_tx(db, || {
        db.execute("DELETE FROM segments WHERE id = ?", &[n.into()])?;
        if db.changes() == 0 {
            return Err(Error::NotFound(format!("segment '{n}'")));
        }
        db.execute(
            "DELETE FROM segment_counts WHERE segment_id = ?",
            &[n.into()],
        )?;
        sync_indexes(db, catalogue)
    })
}

/// A saved segment's id; the system segments cannot be changed or deleted.
fn saved_id(id: &str) -> Result<i64> {
    match SegmentId::parse(id)? {
        SegmentId::Saved(n) => Ok(n),
        _ => Err(Error::invalid(
            "id",
            format!("'{id}' is a system segment; it cannot be changed or deleted"),
        )),
    }
}

/// The custom fields saved segments filter on: index name → indexed expression.
fn wanted_indexes(db: &dyn Sql, catalogue: &Catalogue) -> Result<BTreeMap<String, String>> {
    let mut wanted = BTreeMap::new();
    for seg in list(db)? {
        let Ok(filter) = Filter::parse(&seg.filter, catalogue) else {
            continue;
        };
        for cond in filter.conditions() {
            // Multi-select values are JSON arrays read with json_each: no index helps.
            if cond.kind == Kind::Multi {
                continue;
            }
            if let Some(key) = custom_key(&cond.field) {
                // The very expression filters compare (collation included), or the
                // planner would not match it to the index.
                let expr = field_expr(&cond.field).replacen("c.custom", "custom", 1);
                wanted.insert(format!("{INDEX_PREFIX}{key}"), expr);
            }
        }
    }
    Ok(wanted)
}

/// Creates the expression indexes saved segments need and drops those none needs.
pub fn sync_indexes(db: &dyn Sql, catalogue: &Catalogue) -> Result<()> {
    let wanted = wanted_indexes(db, catalogue)?;
    let existing: Vec<String> = db
        .execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'contacts' AND name LIKE ? ESCAPE '\\'",
            &[format!("{}%", INDEX_PREFIX.replace('_', "\\_")).into()],
        )?
        .rows
        .into_iter()
        .filter_map(|r| r.into_iter().next().and_then(Value::into_string))
        .collect();
    for name in &existing {
        // Only names this module made: `contacts_custom_<custom key>`.
        let ours = name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if ours && !wanted.contains_key(name) {
            db.execute(&format!("DROP INDEX IF EXISTS {name}"), &[])?;
        }
    }
    // Where the planner has statistics for the other indexes (someone ran ANALYZE), a new
    // index without any would be misjudged: give it its own.
    let analyzed = crate::kernel::schema::table_exists(db, "sqlite_stat1")?;
    for (name, expr) in &wanted {
        if !existing.contains(name) {
            db.execute(
                &format!("CREATE INDEX IF NOT EXISTS {name} ON contacts({expr})"),
                &[],
            )?;
            if analyzed {
                crate::kernel::schema::analyze(db, Some(name))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tally_tests {
    use super::*;
    use crate::kernel::native::NativeSql;
    use crate::kernel::schema;

    fn counted(db: &NativeSql, blocked: bool) -> i64 {
        let sql = if blocked {
            "SELECT count(*) FROM contacts WHERE blocked <> 0"
        } else {
            "SELECT count(*) FROM contacts WHERE blocked = 0"
        };
        db.execute(sql, &[]).unwrap().scalar_i64().unwrap()
    }

    fn assert_tallies(db: &NativeSql, all: i64, blocked: i64) {
        assert_eq!(counted(db, false), all, "count of All");
        assert_eq!(counted(db, true), blocked, "count of Blocked");
        assert_eq!(system_count(db, SegmentId::All).unwrap(), all);
        assert_eq!(system_count(db, SegmentId::Blocked).unwrap(), blocked);
    }

    /// Every way a contact enters, leaves or changes segment moves the tallies; nothing
    /// else does.
    #[test]
    fn tallies_follow_inserts_deletes_and_blocking() {
        let db = NativeSql::open_in_memory();
        schema::ensure(&db).unwrap();
        assert_tallies(&db, 0, 0);
        let at = "2026-01-01T00:00:00.000Z";
        db.execute(
            "INSERT INTO contacts (contact_id, display_name, blocked, created_at, updated_at) \
             VALUES ('A', 'A', 0, ?1, ?1), ('B', 'B', 0, ?1, ?1), ('C', 'C', 1, ?1, ?1), ('D', 'D', 0, ?1, ?1)",
            &[at.into()],
        )
        .unwrap();
        assert_tallies(&db, 3, 1);
        // Blocking two (one already blocked) and changing other columns.
        db.execute(
            "UPDATE contacts SET blocked = 1 WHERE contact_id IN ('A', 'C')",
            &[],
        )
        .unwrap();
        db.execute("UPDATE contacts SET city = 'Paris', blocked = blocked", &[])
            .unwrap();
        assert_tallies(&db, 2, 2);
        db.execute(
            "UPDATE contacts SET blocked = 0 WHERE contact_id = 'C'",
            &[],
        )
        .unwrap();
        assert_tallies(&db, 3, 1);
        db.execute("DELETE FROM contacts WHERE contact_id IN ('A', 'B')", &[])
            .unwrap();
        assert_tallies(&db, 2, 0);
        // A write rolled back leaves them as they were.
        db.execute("BEGIN", &[]).unwrap();
        db.execute("DELETE FROM contacts", &[]).unwrap();
        db.execute("ROLLBACK", &[]).unwrap();
        assert_tallies(&db, 2, 0);
    }

    /// The migration counts the contacts a database already holds, and version 3's
    /// triggers go on from there.
    #[test]
    fn migration_2_starts_from_the_existing_contacts() {
        let db = NativeSql::open_in_memory();
        schema::migrate(&db, 1).unwrap();
        db.execute(
            "INSERT INTO contacts (contact_id, display_name, blocked, created_at, updated_at) \
             VALUES ('A', 'A', 0, 'x', 'x'), ('B', 'B', 1, 'x', 'x')",
            &[],
        )
        .unwrap();
        schema::migrate(&db, 2).unwrap();
        assert_tallies(&db, 1, 1);
        schema::ensure(&db).unwrap();
        db.execute(
            "INSERT INTO contacts (contact_id, display_name, blocked, created_at, updated_at) \
             VALUES ('C', 'C', 0, 'x', 'x')",
            &[],
        )
        .unwrap();
        db.execute("DELETE FROM contacts WHERE contact_id = 'B'", &[])
            .unwrap();
        assert_tallies(&db, 2, 0);
    }
}

#[cfg(test)]
mod count_tests {
    use super::*;
    use crate::kernel::native::NativeSql;
    use crate::kernel::schema;
    use crate::query::filter::Clock;

    fn kept_rows(db: &NativeSql) -> i64 {
        db.execute("SELECT count(*) FROM segment_counts", &[])
            .unwrap()
            .scalar_i64()
            .unwrap()
    }

    fn generation(db: &NativeSql) -> i64 {
        db.execute("SELECT n FROM contacts_generation", &[])
            .unwrap()
            .scalar_i64()
            .unwrap()
    }

    /// A kept count is used while nothing changed, and taken again after any write of a
    /// contact or a tag: it is never stale.
    #[test]
    fn kept_counts_follow_every_write() {
        let db = NativeSql::open_in_memory();
        schema::ensure(&db).unwrap();
        let cat = Catalogue::load(&db).unwrap();
        let clock = Clock::system(None).unwrap();
        let at = "2026-01-01T00:00:00.000Z";
        db.execute(
            "INSERT INTO contacts (contact_id, display_name, city, created_at, updated_at) \
             VALUES ('A', 'A', 'Paris', ?1, ?1), ('B', 'B', 'Lima', ?1, ?1)",
            &[at.into()],
        )
        .unwrap();
        let body = serde_json::json!({"name": "vip or Paris", "filter": {"any": [
            {"field": "city", "op": "eq", "value": "Paris"},
            {"field": "tags", "op": "has_any", "value": ["vip"]},
        ]}});
        let seg = create(&db, &cat, "admin", &body).unwrap();
        let scope = || {
            get(&db, seg.id)
                .unwrap()
                .scope(&cat, &clock, Reading::Every)
                .unwrap()
        };
        assert_eq!(count(&db, seg.id, &scope()).unwrap(), 1);
        assert_eq!(kept_rows(&db), 1);

        // Kept: a count changed behind its back is what the next read answers...
        db.execute("UPDATE segment_counts SET contacts = 99", &[])
            .unwrap();
        assert_eq!(count(&db, seg.id, &scope()).unwrap(), 99);
        // ...until any contact or tag row is written.
        let before = generation(&db);
        db.execute(
            "UPDATE contacts SET city = 'Paris' WHERE contact_id = 'B'",
            &[],
        )
        .unwrap();
        assert!(generation(&db) > before);
        assert_eq!(count(&db, seg.id, &scope()).unwrap(), 2);
        db.execute("UPDATE segment_counts SET contacts = 99", &[])
            .unwrap();
        db.execute(
            "INSERT INTO contact_tags (contact_rowid, tag) SELECT id, 'vip' FROM contacts WHERE contact_id = 'A'",
            &[],
        )
        .unwrap();
        assert_eq!(count(&db, seg.id, &scope()).unwrap(), 2);
        db.execute("DELETE FROM contacts WHERE contact_id = 'B'", &[])
            .unwrap();
        assert_eq!(count(&db, seg.id, &scope()).unwrap(), 1);

        // Another query (the filter changed) is counted, not answered from the old one.
        db.execute("UPDATE segment_counts SET contacts = 99", &[])
            .unwrap();
        let other = Where::new("c.city = 'Nowhere'", vec![]);
        assert_eq!(count(&db, seg.id, &other).unwrap(), 0);

        delete(&db, &cat, &seg.id.to_string()).unwrap();
        assert_eq!(kept_rows(&db), 0);
    }
}
