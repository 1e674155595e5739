//! Block and unblock (SPEC §3): a blocked contact leaves segment All, appears in Blocked, and
//! its chat events are dropped by auto-create. The `blocked` column drives all three.

use serde_json::Value as Json;

use crate::contacts::contact::type_mismatch;
use crate::contacts::history;
use crate::kernel::error::{Error, Result};
use crate::kernel::store::{placeholders, write_tx, Sql, Value};
use crate::kernel::values::{time, ContactId};

/// Contact IDs one request may block.
pub const MAX_IDS: usize = 500;

/// The fields a block or unblock changes, as history records them.
pub const FIELDS: [&str; 2] = ["blocked", "blocked_at"];

/// What a block request did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Blocked {
    /// Contact IDs blocked by this request.
    pub blocked: Vec<String>,
    /// Contact IDs that were blocked already (left as they were).
    pub already_blocked: Vec<String>,
}

/// Reads `{"ids": [Contact IDs]}`: 1 to [`MAX_IDS`] ids, repeats ignored.
pub fn parse_ids(body: &Json) -> Result<Vec<ContactId>> {
    parse_id_list(body, MAX_IDS)
}

/// Reads `{"ids": [Contact IDs]}`: 1 to `max` ids, repeats ignored. Bulk targets take
/// longer lists than a block request.
pub fn parse_id_list(body: &Json, max: usize) -> Result<Vec<ContactId>> {
    let items = body
        .get("ids")
        .and_then(Json::as_array)
        .ok_or_else(|| type_mismatch("ids", "an array of Contact IDs"))?;
    if items.is_empty() || items.len() > max {
        return Err(Error::invalid(
            "ids",
            format!("must list 1 to {max} Contact IDs"),
        ));
    }
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    let mut ids: Vec<ContactId> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let field = format!("ids[{i}]");
        let s = item
            .as_str()
            .ok_or_else(|| type_mismatch(&field, "a Contact ID string"))?;
        // `ContactId::parse` names `contact_id`; here the culprit is an element of `ids`.
        let id = ContactId::parse(s).map_err(|e| match e {
            Error::Invalid { detail, .. } => Error::invalid(&field, detail),
            other => other,
        })?;
        if seen.insert(id.as_str().to_owned()) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Blocks these contacts, all or nothing: an unknown Contact ID is a 422 naming every
/// unknown one, and nothing changes.
pub fn block(db: &dyn Sql, actor: &str, ids: &[ContactId]) -> Result<Blocked> {
    write_tx(db, || {
        let params: Vec<Value> = ids.iter().map(|id| id.as_str().into()).collect();
        let rows = db.execute(
            &format!(
                "SELECT id, contact_id, blocked FROM contacts WHERE contact_id IN ({})",
                placeholders(params.len())
            ),
            &params,
        )?;
        let known = |id: &ContactId| {
            rows.rows
                .iter()
                .find(|r| r.get(1).and_then(Value::as_str) == Some(id.as_str()))
        };
        let unknown: Vec<&str> = ids
            .iter()
            .filter(|id| known(id).is_none())
            .map(ContactId::as_str)
            .collect();
        if !unknown.is_empty() {
            return Err(Error::invalid(
                "ids",
                format!("no contact has the Contact ID {}", unknown.join(", ")),
            ));
        }
        let mut out = Blocked::default();
        let mut rowids = Vec::new();
        for id in ids {
            let Some(row) = known(id) else { continue };
            if row.get(2).and_then(Value::as_i64) == Some(1) {
                out.already_blocked.push(id.as_str().to_owned());
            } else {
                rowids.push(row.first().and_then(Value::as_i64).unwrap_or(0));
                out.blocked.push(id.as_str().to_owned());
            }
        }
        set_blocked(db, actor, &rowids, &out.blocked, true)?;
        Ok(out)
    })
}

/// Unblocks a contact; `Ok(false)` when it was not blocked (nothing changes).
pub fn unblock(db: &dyn Sql, actor: &str, contact_id: &str) -> Result<bool> {
    write_tx(db, || {
        let rows = db.execute(
            "SELECT id, blocked FROM contacts WHERE contact_id = ?",
            &[contact_id.into()],
        )?;
        let row = rows
            .rows
            .first()
            .ok_or_else(|| Error::NotFound(format!("contact '{contact_id}'")))?;
        if row.get(1).and_then(Value::as_i64) != Some(1) {
            return Ok(false);
        }
        let rowid = row.first().and_then(Value::as_i64).unwrap_or(0);
        set_blocked(db, actor, &[rowid], &[contact_id.to_owned()], false)?;
        Ok(true)
    })
}

/// Sets `blocked` on these rows (whose Contact IDs are `contact_ids`, same order), bumping
/// version and `updated_at` and recording history, in two statements whatever the count.
/// Runs inside the caller's transaction; the bulk component reuses it.
pub fn set_blocked(
    db: &dyn Sql,
    actor: &str,
    rowids: &[i64],
    contact_ids: &[String],
    blocked: bool,
) -> Result<()> {
    if rowids.is_empty() {
        return Ok(());
    }
    let now = time::now();
    let mut params: Vec<Value> = vec![
        blocked.into(),
        if blocked {
            now.as_str().into()
        } else {
            Value::Null
        },
        now.as_str().into(),
    ];
    params.extend(rowids.iter().map(|r| Value::from(*r)));
    db.execute(
        &format!(
            "UPDATE contacts SET blocked = ?, blocked_at = ?, version = version + 1, updated_at = ? \
             WHERE id IN ({})",
            placeholders(rowids.len())
        ),
        &params,
    )?;
    record_history(
        db,
        contact_ids,
        if blocked { "block" } else { "unblock" },
        actor,
    )
}

/// One history item per contact, in multi-row INSERTs.
fn record_history(db: &dyn Sql, contact_ids: &[String], action: &str, actor: &str) -> Result<()> {
    history::record_many(
        db,
        action,
        actor,
        contact_ids.iter().map(|id| (id.as_str(), &FIELDS[..])),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::history;
    use crate::kernel::native::NativeSql;
    use crate::kernel::schema;
    use crate::query::page;
    use serde_json::json;

    fn db_with(ids: &[&str]) -> NativeSql {
        let db = NativeSql::open_in_memory();
        schema::ensure(&db).unwrap();
        for id in ids {
            db.execute(
                "INSERT INTO contacts (contact_id, display_name, created_at, updated_at) VALUES (?, ?, '2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Z')",
                &[(*id).into(), (*id).into()],
            )
            .unwrap();
        }
        db
    }

    fn ids(list: &[&str]) -> Vec<ContactId> {
        list.iter().map(|s| ContactId::parse(s).unwrap()).collect()
    }

    fn col(db: &NativeSql, id: &str, col: &str) -> Value {
        db.execute(
            &format!("SELECT {col} FROM contacts WHERE contact_id = ?"),
            &[id.into()],
        )
        .unwrap()
        .scalar()
        .cloned()
        .unwrap()
    }

    #[test]
    fn block_moves_contacts_between_segments_and_records_history() {
        let db = db_with(&["A", "B", "C"]);
        let out = block(&db, "admin", &ids(&["A", "B"])).unwrap();
        assert_eq!(out.blocked, vec!["A", "B"]);
        assert!(out.already_blocked.is_empty());
        let all = page::system_segment("all").unwrap();
        let blocked = page::system_segment("blocked").unwrap();
        assert_eq!(page::count(&db, &all).unwrap(), 1);
        assert_eq!(page::count(&db, &blocked).unwrap(), 2);
        assert_eq!(col(&db, "A", "version"), Value::Integer(2));
        assert!(col(&db, "A", "blocked_at").as_str().is_some());
        let (items, _) = history::page(&db, "A", None, 10).unwrap();
        assert_eq!(items[0]["action"], "block");
        assert_eq!(items[0]["actor"], "admin");
        assert_eq!(items[0]["fields"], json!(["blocked", "blocked_at"]));

        let again = block(&db, "admin", &ids(&["B", "C"])).unwrap();
        assert_eq!(again.blocked, vec!["C"]);
        assert_eq!(again.already_blocked, vec!["B"]);
        assert_eq!(
            col(&db, "B", "version"),
            Value::Integer(2),
            "no change, no bump"
        );
    }

    #[test]
    fn unknown_ids_change_nothing() {
        let db = db_with(&["A"]);
        let e = block(&db, "admin", &ids(&["A", "X1", "X2"])).unwrap_err();
        assert_eq!(
            e,
            Error::invalid("ids", "no contact has the Contact ID X1, X2")
        );
        assert_eq!(col(&db, "A", "blocked"), Value::Integer(0));
    }

    #[test]
    fn unblock_restores_and_is_idempotent() {
        let db = db_with(&["A"]);
        block(&db, "admin", &ids(&["A"])).unwrap();
        assert!(unblock(&db, "boss", "A").unwrap());
        assert_eq!(col(&db, "A", "blocked"), Value::Integer(0));
        assert_eq!(col(&db, "A", "blocked_at"), Value::Null);
        assert_eq!(col(&db, "A", "version"), Value::Integer(3));
        assert!(!unblock(&db, "boss", "A").unwrap());
        assert_eq!(col(&db, "A", "version"), Value::Integer(3));
        let (items, _) = history::page(&db, "A", None, 10).unwrap();
        assert_eq!(items[0]["action"], "unblock");
        assert!(matches!(
            unblock(&db, "boss", "NOPE"),
            Err(Error::NotFound(_))
        ));
    }

    #[test]
    fn ids_are_checked() {
        assert_eq!(
            parse_ids(&json!({"ids": ["A", "A", "B"]})).unwrap(),
            ids(&["A", "B"])
        );
        assert!(matches!(
            parse_ids(&json!({})),
            Err(Error::Malformed { .. })
        ));
        assert!(matches!(
            parse_ids(&json!({"ids": []})),
            Err(Error::Invalid { .. })
        ));
        assert!(matches!(
            parse_ids(&json!({"ids": [1]})),
            Err(Error::Malformed { .. })
        ));
        assert_eq!(
            parse_ids(&json!({"ids": ["ok", "a/b"]})).unwrap_err(),
            Error::invalid("ids[1]", "must be 1 to 64 letters, digits, '-', '_' or '.'")
        );
        let many: Vec<String> = (0..=MAX_IDS).map(|i| format!("C{i}")).collect();
        assert!(parse_ids(&json!({ "ids": many })).is_err());
    }
}
