//! A bulk job's storage work: the target set frozen when the job starts, then one slice
//! at a time, each applied set-based (a handful of statements whatever its size) inside
//! the step transaction of [`crate::kernel::jobs::advance`].
//!
//! The frozen set is `bulk_targets(job_id, contact_rowid)`; a slice is the job's lowest
//! `n` remaining row ids, and the slice deletes its rows from the set in the transaction
//! that changes their contacts. So what is left to do is exactly what the set still
//! holds: a crash inside a slice rolls both back, and a repeated or concurrent step can
//! only take the rows after it.
//!
//! Every statement reads the contacts as they are now, inside the write lock: a slice
//! carries no value from an earlier read, so an edit made while the job runs is never
//! overwritten by a stale copy (only by the action's own value, where the action sets one).
//! A contact whose value the action would not change is left alone: no version bump, no
//! history item.

use std::collections::HashMap;

use crate::contacts::repo::batch::{self, Change as Saved};
use crate::contacts::{history, phones};
use crate::hooks::blocks;
use crate::kernel::error::Result;
use crate::kernel::jobs::JobId;
use crate::kernel::store::{placeholders, Sql, Value};
use crate::kernel::values::time;
use crate::query::page::Where;
use crate::search;

use super::Action;

/// The frozen target set. Part of migration 2.
pub const SCHEMA_V2: &[&str] = &["CREATE TABLE bulk_targets (
        job_id TEXT NOT NULL,
        contact_rowid INTEGER NOT NULL,
        PRIMARY KEY (job_id, contact_rowid)
    ) WITHOUT ROWID"];

/// Freezes the contacts `scope` selects as job `id`'s targets, in one statement.
pub fn freeze(db: &dyn Sql, id: &JobId, scope: &Where) -> Result<()> {
    let mut params: Vec<Value> = vec![id.as_str().into()];
    params.extend(scope.params.iter().cloned());
    db.execute(
        &format!(
            "INSERT INTO bulk_targets (job_id, contact_rowid) SELECT ?, c.id FROM contacts c WHERE {}",
            scope.sql
        ),
        &params,
    )?;
    Ok(())
}

/// What one slice did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Slice {
    /// Targets taken off the frozen set (done, whether or not they needed a change).
    pub taken: i64,
    /// Contacts the action changed (or deleted).
    pub changed: i64,
    /// `recheck_phones` only: contacts whose primary phone, read again, is another
    /// contact's primary phone, with that contact (Contact IDs). The primary phone keeps
    /// its old key: the two are one person's records, for someone to merge.
    pub conflicts: Vec<[String; 2]>,
}

/// The slice's rows, as every statement of the slice selects them: ?1 job id, ?2 the
/// highest row id of the slice.
const SLICE_ROWS: &str =
    "SELECT contact_rowid FROM bulk_targets WHERE job_id = ?1 AND contact_rowid <= ?2";

/// Applies `action` to the job's next `rows` targets and takes them off the set. Runs
/// inside the step's transaction.
pub fn slice(db: &dyn Sql, id: &JobId, actor: &str, action: &Action, rows: usize) -> Result<Slice> {
    let bounds = db.execute(
        "SELECT count(*), max(contact_rowid) FROM \
           (SELECT contact_rowid FROM bulk_targets WHERE job_id = ? ORDER BY contact_rowid LIMIT ?)",
        &[id.as_str().into(), (rows as i64).into()],
    )?;
    let row = bounds.rows.first();
    let taken = row
        .and_then(|r| r.first())
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let Some(last) = row.and_then(|r| r.get(1)).and_then(Value::as_i64) else {
        return Ok(Slice::default());
    };
    let step = Step {
        db,
        base: vec![id.as_str().into(), last.into()],
        now: time::now(),
        actor,
    };
    // Names, custom values and deleted rows change the search indexes (by trigger): a
    // slice is a bulk write, its merge work bounded by its size.
    let (changed, conflicts) = search::bulk_write(db, || match action {
        Action::RecheckPhones => step.recheck_phones(),
        _ => match Change::of(action) {
            Some(change) => step.update(&change).map(|n| (n, Vec::new())),
            None => step.delete().map(|n| (n, Vec::new())),
        },
    })?;
    db.execute(
        "DELETE FROM bulk_targets WHERE job_id = ?1 AND contact_rowid <= ?2",
        &step.base,
    )?;
    Ok(Slice {
        taken,
        changed,
        conflicts,
    })
}

/// An update action as SQL over `contacts c`: which rows it changes, how, and what
/// else it writes. Parameters from ?3: ?3 now, ?4 the action's value.
struct Change {
    /// History's action and fields.
    history: (&'static str, Vec<String>),
    /// `SET` assignments besides version and `updated_at`.
    set: String,
    /// The rows whose value would change; only those are touched.
    differs: String,
    value: Option<Value>,
    /// A statement run after the contacts' update (tags), same parameters.
    then: Option<&'static str>,
}

/// Tags given as a JSON array in ?4; `contact_tags.tag` compares NOCASE.
const TAG_IN_VALUE: &str = "tag IN (SELECT value FROM json_each(?4))";

impl Change {
    /// `None` for a delete, which changes no row but removes them (and for
    /// `recheck_phones`, which reads each number in Rust: [`Step::recheck_phones`]).
    fn of(action: &Action) -> Option<Change> {
        Some(match action {
            Action::SetColumn { key, column, value } => Change {
                history: ("update", vec![key.clone()]),
                set: set_column(column),
                differs: format!("c.{column} IS NOT ?4"),
                value: Some(value.as_deref().into()),
                then: None,
            },
            Action::SetCustom { key, value: Some(v) } => Change {
                history: ("update", vec![format!("custom.{key}")]),
                // Custom keys are checked to be [a-z][a-z0-9_]* when defined.
                set: format!("custom = json_set(custom, '$.{key}', json(?4))"),
                differs: format!("(c.custom -> '$.{key}') IS NOT json(?4)"),
                value: Some(v.to_string().into()),
                then: None,
            },
            Action::SetCustom { key, value: None } => Change {
                history: ("update", vec![format!("custom.{key}")]),
                set: format!("custom = json_remove(custom, '$.{key}')"),
                differs: format!("(c.custom -> '$.{key}') IS NOT NULL"),
                value: None,
                then: None,
            },
            Action::AddTags(tags) => Change {
                history: ("update", vec!["tags".into()]),
                set: String::new(),
                differs: format!(
                    "(SELECT count(*) FROM contact_tags t WHERE t.contact_rowid = c.id AND t.{TAG_IN_VALUE}) < {}",
                    tags.len()
                ),
                value: Some(Value::json(tags)),
                then: Some(
                    "INSERT OR IGNORE INTO contact_tags (contact_rowid, tag) \
                     SELECT c.id, j.value FROM contacts c, json_each(?4) j \
                     WHERE c.id IN (SELECT contact_rowid FROM bulk_targets WHERE job_id = ?1 AND contact_rowid <= ?2)",
                ),
            },
            Action::RemoveTags(tags) => Change {
                history: ("update", vec!["tags".into()]),
                set: String::new(),
                differs: format!(
                    "EXISTS (SELECT 1 FROM contact_tags t WHERE t.contact_rowid = c.id AND t.{TAG_IN_VALUE})"
                ),
                value: Some(Value::json(tags)),
                then: Some(
                    "DELETE FROM contact_tags WHERE \
                     contact_rowid IN (SELECT contact_rowid FROM bulk_targets WHERE job_id = ?1 AND contact_rowid <= ?2) \
                     AND tag IN (SELECT value FROM json_each(?4))",
                ),
            },
            Action::Delete | Action::RecheckPhones => return None,
            Action::Block | Action::Unblock => {
                let block = matches!(action, Action::Block);
                Change {
                    history: (
                        if block { "block" } else { "unblock" },
                        blocks::FIELDS.iter().map(|f| f.to_string()).collect(),
                    ),
                    set: if block {
                        "blocked = 1, blocked_at = ?3".into()
                    } else {
                        "blocked = 0, blocked_at = NULL".into()
                    },
                    differs: format!("c.blocked = {}", if block { 0 } else { 1 }),
                    value: None,
                    then: None,
                }
            }
        })
    }
}

/// `column = ?4`, and for a name the display name derived again as
/// [`crate::contacts::contact::Contact::derive_display_name`] derives it (from the row's other
/// values as they are now).
fn set_column(column: &str) -> String {
    let (first, last) = match column {
        "first_name" => ("?4", "last_name"),
        "last_name" => ("first_name", "?4"),
        _ => return format!("{column} = ?4"),
    };
    format!(
        "{column} = ?4, display_name = coalesce(nullif(concat_ws(' ', {first}, {last}), ''), \
           email, phone, mobile, \
           (SELECT external_id FROM identities i WHERE i.contact_rowid = c.id \
            ORDER BY created_at, channel, external_id LIMIT 1), \
           contact_id)"
    )
}

/// One slice's statements and their shared parameters.
struct Step<'a> {
    db: &'a dyn Sql,
    /// ?1 job id, ?2 the slice's highest row id.
    base: Vec<Value>,
    now: String,
    actor: &'a str,
}

impl Step<'_> {
    /// ?1 ?2, ?3 now, and ?4 the action's value when it has one.
    fn params(&self, value: &Option<Value>) -> Vec<Value> {
        let mut p = self.base.clone();
        p.push(self.now.as_str().into());
        if let Some(v) = value {
            p.push(v.clone());
        }
        p
    }

    /// History first (it reads which rows differ before they are changed), then the
    /// contacts, then the tags.
    fn update(&self, change: &Change) -> Result<i64> {
        let params = self.params(&change.value);
        let in_slice = format!("c.id IN ({SLICE_ROWS}) AND {}", change.differs);
        self.history(&in_slice, &params, change.history.0, &change.history.1)?;
        let set = if change.set.is_empty() {
            String::new()
        } else {
            format!("{}, ", change.set)
        };
        self.db.execute(
            &format!(
                "UPDATE contacts AS c SET {set}version = version + 1, updated_at = ?3 WHERE {in_slice}"
            ),
            &params,
        )?;
        let changed = self.db.changes() as i64;
        if let Some(then) = change.then {
            self.db.execute(then, &params)?;
        }
        Ok(changed)
    }

    /// Deletes the slice's contacts that still exist with everything attached to them, as
    /// [`crate::contacts::repo::delete_rows`] does one list; history keeps the record of each.
    fn delete(&self) -> Result<i64> {
        let params = self.params(&None);
        self.history(&format!("c.id IN ({SLICE_ROWS})"), &params, "delete", &[])?;
        for table in [
            "contact_tags",
            "identities",
            "conversations",
            "contact_keys",
        ] {
            self.db.execute(
                &format!("DELETE FROM {table} WHERE contact_rowid IN ({SLICE_ROWS})"),
                &self.base,
            )?;
        }
        self.db.execute(
            &format!("DELETE FROM contacts WHERE id IN ({SLICE_ROWS})"),
            &self.base,
        )?;
        Ok(self.db.changes() as i64)
    }

    /// Reads the phone numbers of the slice's contacts again ([`phones::reread`]) and
    /// saves those whose keys change, each with a history item naming the fields. Unlike
    /// the set-based actions it loads the contacts: the phone rules are the guest's.
    fn recheck_phones(&self) -> Result<(i64, Vec<[String; 2]>)> {
        // Only contacts with a number that may be written with a country code are loaded.
        let rowids: Vec<i64> = self
            .db
            .execute(
                &format!(
                    "SELECT id FROM contacts WHERE id IN ({SLICE_ROWS}) AND \
                     concat(phone, mobile, secondary_phones) GLOB '*[+＋]*'"
                ),
                &self.base,
            )?
            .rows
            .iter()
            .filter_map(|r| r.first().and_then(Value::as_i64))
            .collect();
        let mut reread: Vec<(Saved, Vec<&'static str>)> = Vec::new();
        for before in batch::load_many(self.db, &rowids)? {
            let mut after = before.clone();
            let fields = phones::reread(&mut after);
            if !fields.is_empty() {
                reread.push((Saved { before, after }, fields));
            }
        }
        let conflicts = self.keep_held_primaries(&mut reread)?;
        reread.retain(|(_, fields)| !fields.is_empty());
        let (mut changes, fields): (Vec<Saved>, Vec<Vec<&str>>) = reread.into_iter().unzip();
        batch::save_many(self.db, &mut changes)?;
        history::record_many(
            self.db,
            "update",
            self.actor,
            changes
                .iter()
                .zip(&fields)
                .map(|(c, fields)| (c.after.contact_id(), fields.as_slice())),
        )?;
        Ok((changes.len() as i64, conflicts))
    }

    /// Gives back its old key to every primary phone whose key, read again, another
    /// contact holds as its primary (the key is unique), or an earlier contact of the
    /// slice took; those pairs, by Contact ID. Conservative within a slice: a holder that
    /// gives the key up in the same slice still counts (a second job sets it).
    fn keep_held_primaries(
        &self,
        reread: &mut [(Saved, Vec<&'static str>)],
    ) -> Result<Vec<[String; 2]>> {
        let wanted: Vec<Value> = reread
            .iter()
            .filter(|(_, fields)| fields.contains(&"phone"))
            .filter_map(|(c, _)| c.after.text("phone_e164"))
            .map(Value::from)
            .collect();
        if wanted.is_empty() {
            return Ok(Vec::new());
        }
        let mut holders: HashMap<String, (i64, String)> = HashMap::new();
        for group in wanted.chunks(batch::MAX_PARAMS) {
            let rows = self.db.execute(
                &format!(
                    "SELECT phone_e164, id, contact_id FROM contacts WHERE phone_e164 IN ({})",
                    placeholders(group.len())
                ),
                group,
            )?;
            for row in rows.rows {
                if let [Value::Text(key), Value::Integer(id), Value::Text(cid)] = row.as_slice() {
                    holders.insert(key.clone(), (*id, cid.clone()));
                }
            }
        }
        let mut conflicts = Vec::new();
        for (change, fields) in reread.iter_mut() {
            if !fields.contains(&"phone") {
                continue;
            }
            let (rowid, key) = (change.after.rowid, change.after.text("phone_e164"));
            let Some(key) = key.map(str::to_owned) else {
                continue;
            };
            match holders.get(&key) {
                Some((holder, cid)) if *holder != rowid => {
                    conflicts.push([change.after.contact_id().to_owned(), cid.clone()]);
                    let old = change.before.cols.get("phone_e164").cloned();
                    change.after.set("phone_e164", old.unwrap_or(Value::Null));
                    fields.retain(|f| *f != "phone");
                }
                _ => {
                    holders.insert(key, (rowid, change.after.contact_id().to_owned()));
                }
            }
        }
        Ok(conflicts)
    }

    /// One history item per contact `rows` selects (over `contacts c`), in one statement.
    fn history(&self, rows: &str, params: &[Value], action: &str, fields: &[String]) -> Result<()> {
        // ?3 is the time; the action, actor and fields are literals bound after the rest.
        let n = params.len();
        let mut all = params.to_vec();
        all.extend([action.into(), self.actor.into(), Value::json(fields)]);
        self.db.execute(
            &format!(
                "INSERT INTO history (contact_id, at, action, actor, fields) \
                 SELECT c.contact_id, ?3, ?{}, ?{}, ?{} FROM contacts c WHERE {rows} ORDER BY c.id",
                n + 1,
                n + 2,
                n + 3
            ),
            &all,
        )?;
        Ok(())
    }
}
