//! A merge applied: one `BEGIN IMMEDIATE` transaction that moves what the secondaries hold to
//! the primary, rewrites the primary, deletes the secondaries and records the merge. A dry
//! run is the same transaction rolled back, so it shows exactly what a merge would leave.

use crate::contacts::contact::Contact;
use crate::contacts::history;
use crate::contacts::repo::{self, Ctx};
use crate::kernel::error::{Error, Result};
use crate::kernel::store::{placeholders, write_tx, DbError, Sql, Value};
use crate::merge::{plan, MergeRequest};
use crate::search;

/// What a merge left (or, in a dry run, would leave).
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    pub contact: Contact,
    /// The secondaries' Contact IDs, in the request's order.
    pub merged: Vec<String>,
    pub possible_duplicates: i64,
}

/// How the transaction ends: an error rolls back, and so does a finished dry run.
enum End {
    Failed(Error),
    DryRun(Box<Merged>),
}

impl From<DbError> for End {
    fn from(e: DbError) -> Self {
        End::Failed(e.into())
    }
}

/// Merges (or, with `dry_run`, shows the merge of) the request's contacts, all or nothing.
pub fn merge(ctx: Ctx, req: &MergeRequest) -> Result<Merged> {
    let outcome = write_tx(ctx.db, || {
        let merged = merge_in_tx(ctx, req).map_err(End::Failed)?;
        if req.dry_run {
            Err(End::DryRun(Box::new(merged)))
        } else {
            Ok(merged)
        }
    });
    match outcome {
        Ok(merged) => Ok(merged),
        Err(End::DryRun(merged)) => Ok(*merged),
        Err(End::Failed(e)) => Err(e),
    }
}

fn merge_in_tx(ctx: Ctx, req: &MergeRequest) -> Result<Merged> {
    let (primary, secondaries) = load(ctx.db, req)?;
    let plan = plan::resolve(&primary, &secondaries, ctx.catalogue);
    let rowids: Vec<i64> = secondaries.iter().map(|s| s.rowid).collect();
    let ids: Vec<String> = secondaries
        .iter()
        .map(|s| s.contact_id().to_owned())
        .collect();
    move_to(ctx.db, primary.rowid, &rowids)?;
    // The secondaries go first: the primary may take over one of their primary emails or
    // phones, which are UNIQUE.
    repo::delete_merged_rows(ctx.db, &rowids)?;
    let mut contact = plan.contact;
    repo::save(ctx.db, &primary, &mut contact)?;
    move_history(ctx.db, primary.contact_id(), &ids)?;
    history::record_merge(ctx.db, primary.contact_id(), ctx.actor, &plan.changed, &ids)?;
    search::upkeep(ctx.db)?;
    // Read back as stored (tags and identities in their stored order), with its count, so a
    // dry run and a merge answer exactly what a later read shows.
    let read = repo::read(ctx.db, primary.contact_id())?;
    Ok(Merged {
        contact: read.contact,
        merged: ids,
        possible_duplicates: read.possible_duplicates,
    })
}

/// The primary and the secondaries, read inside the transaction; unknown Contact IDs are a
/// 404 naming every one of them.
fn load(db: &dyn Sql, req: &MergeRequest) -> Result<(Contact, Vec<Contact>)> {
    let wanted: Vec<&str> = std::iter::once(req.primary.as_str())
        .chain(req.secondaries.iter().map(|s| s.as_str()))
        .collect();
    let mut found = repo::load_many(db, &wanted)?;
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|id| !found.iter().any(|c| c.contact_id() == **id))
        .copied()
        .collect();
    if !missing.is_empty() {
        return Err(Error::NotFound(format!(
            "contact{} '{}'",
            if missing.len() > 1 { "s" } else { "" },
            missing.join("', '")
        )));
    }
    let at = |id: &str, found: &mut Vec<Contact>| {
        let i = found.iter().position(|c| c.contact_id() == id);
        i.map(|i| found.swap_remove(i))
    };
    let primary = at(req.primary.as_str(), &mut found)
        .ok_or_else(|| Error::Storage("merge: the primary vanished while read".into()))?;
    let secondaries = req
        .secondaries
        .iter()
        .map(|id| at(id.as_str(), &mut found))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| Error::Storage("merge: a secondary vanished while read".into()))?;
    Ok((primary, secondaries))
}

/// Identities and conversations follow the contact: a chat event for a secondary's identity
/// after the merge reaches the primary.
fn move_to(db: &dyn Sql, primary: i64, rowids: &[i64]) -> Result<()> {
    let mut params: Vec<Value> = vec![primary.into()];
    params.extend(rowids.iter().map(|r| Value::from(*r)));
    let marks = placeholders(rowids.len());
    for table in ["identities", "conversations"] {
        db.execute(
            &format!("UPDATE {table} SET contact_rowid = ? WHERE contact_rowid IN ({marks})"),
            &params,
        )?;
    }
    Ok(())
}

/// The secondaries' history becomes the primary's: one timeline, in the order it happened
/// (the merge item names the Contact IDs it absorbed).
fn move_history(db: &dyn Sql, primary: &str, ids: &[String]) -> Result<()> {
    let mut params: Vec<Value> = vec![primary.into()];
    params.extend(ids.iter().map(|id| Value::from(id.as_str())));
    db.execute(
        &format!(
            "UPDATE history SET contact_id = ? WHERE contact_id IN ({})",
            placeholders(ids.len())
        ),
        &params,
    )?;
    Ok(())
}
