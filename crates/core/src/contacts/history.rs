//! The per-contact record of what happened to it (SPEC §3 History).

use serde::Serialize;
use serde_json::{json, Value as Json};

use crate::contacts::repo::batch;
use crate::kernel::error::Result;
use crate::kernel::store::{Sql, Value};
use crate::kernel::values::time;

/// Appends one history item and returns its id. Runs inside the caller's transaction.
pub fn record(
    db: &dyn Sql,
    contact_id: &str,
    action: &str,
    actor: &str,
    fields: &[String],
) -> Result<i64> {
    let (sql, params) = insert_item(contact_id, action, actor, fields, "id");
    Ok(db.execute(&sql, &params)?.scalar_i64().unwrap_or_default())
}

/// [`record`] for a contact a caller shows right after writing it: also counts the
/// contact's possible duplicates (as [`crate::contacts::repo::possible_duplicates`]) in the
/// same statement, one host call fewer. Returns the item's id and the count.
pub fn record_counting_duplicates(
    db: &dyn Sql,
    contact: (i64, &str),
    action: &str,
    actor: &str,
    fields: &[String],
) -> Result<(i64, i64)> {
    let (rowid, contact_id) = contact;
    let count = crate::merge::duplicates::count_sql("?6");
    let (sql, mut params) =
        insert_item(contact_id, action, actor, fields, &format!("id, ({count})"));
    params.push(rowid.into());
    let rows = db.execute(&sql, &params)?;
    let row = rows.rows.first();
    let int = |i: usize| row.and_then(|r| r.get(i)).and_then(Value::as_i64);
    Ok((int(0).unwrap_or_default(), int(1).unwrap_or_default()))
}

/// The `INSERT` of one history item (parameters `?1`–`?5`), returning `returning`.
fn insert_item(
    contact_id: &str,
    action: &str,
    actor: &str,
    fields: &[String],
    returning: &str,
) -> (String, Vec<Value>) {
    let sql = format!(
        "INSERT INTO history (contact_id, at, action, actor, fields) VALUES (?1, ?2, ?3, ?4, ?5) \
         RETURNING {returning}"
    );
    let params = vec![
        contact_id.into(),
        time::now().into(),
        action.into(),
        actor.into(),
        Value::json(fields),
    ];
    (sql, params)
}

/// Appends one item per `(contact_id, fields)`, all with one action, actor and time, in as
/// few multi-row statements as the parameter bound allows: a batch writer's history (an
/// import batch, a bulk slice that writes contact by contact). Runs inside the caller's
/// transaction.
pub fn record_many<'a, F: Serialize + 'a>(
    db: &dyn Sql,
    action: &str,
    actor: &str,
    items: impl IntoIterator<Item = (&'a str, &'a [F])>,
) -> Result<()> {
    let at = time::now();
    let rows: Vec<[Value; 5]> = items
        .into_iter()
        .map(|(contact_id, fields)| {
            [
                contact_id.into(),
                at.as_str().into(),
                action.into(),
                actor.into(),
                Value::json(fields),
            ]
        })
        .collect();
    batch::insert_rows(
        db,
        "INSERT INTO history (contact_id, at, action, actor, fields) VALUES",
        rows,
    )
}

/// Appends the `merge` item of a merge: the fields it changed and the Contact IDs it
/// absorbed. Runs inside the merge's transaction.
pub fn record_merge(
    db: &dyn Sql,
    contact_id: &str,
    actor: &str,
    fields: &[String],
    merged: &[String],
) -> Result<()> {
    db.execute(
        "INSERT INTO history (contact_id, at, action, actor, fields, merged) VALUES (?, ?, 'merge', ?, ?, ?)",
        &[
            contact_id.into(),
            time::now().into(),
            actor.into(),
            Value::json(fields),
            Value::json(merged),
        ],
    )?;
    Ok(())
}

/// One page of a contact's history, newest first. `before` is the item id the previous
/// page ended at. Returns the items and the id to continue from.
pub fn page(
    db: &dyn Sql,
    contact_id: &str,
    before: Option<i64>,
    limit: usize,
) -> Result<(Vec<Json>, Option<i64>)> {
    let rows = db.execute(
        "SELECT id, at, action, actor, fields, merged FROM history \
         WHERE contact_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
        &[
            contact_id.into(),
            before.unwrap_or(i64::MAX).into(),
            (limit as i64 + 1).into(),
        ],
    )?;
    let mut items = Vec::with_capacity(limit);
    let mut next = None;
    for (i, row) in rows.rows.iter().enumerate() {
        if i == limit {
            next = rows.rows[i - 1].first().and_then(Value::as_i64);
            break;
        }
        let text = |j: usize| row.get(j).and_then(Value::as_str).unwrap_or_default();
        let fields: Json = serde_json::from_str(text(4)).unwrap_or_else(|_| json!([]));
        let mut item =
            json!({"at": text(1), "action": text(2), "actor": text(3), "fields": fields});
        // A merge item names the Contact IDs it absorbed.
        if let Some(merged) = row.get(5).and_then(Value::as_str) {
            item["merged"] = serde_json::from_str(merged).unwrap_or_else(|_| json!([]));
        }
        items.push(item);
    }
    Ok((items, next))
}

/// Whether a contact has a history to show: it exists (one written outside the app, say a
/// restored database, may have no record yet) or it had one (a deleted contact keeps it).
pub fn exists(db: &dyn Sql, contact_id: &str) -> Result<bool> {
    let rows = db.execute(
        "SELECT 1 FROM contacts WHERE contact_id = ?1 \
         UNION ALL SELECT 1 FROM history WHERE contact_id = ?1 LIMIT 1",
        &[contact_id.into()],
    )?;
    Ok(!rows.is_empty())
}
