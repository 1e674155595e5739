//! An import job and its chunks: each chunk is one [`jobs::advance`] step, so it is
//! imported in one `BEGIN IMMEDIATE` transaction with the job's new progress, or not at all.
//!
//! A chunk's rows are imported in batches of [`BATCH_ROWS`], each in a fixed handful of
//! set-based statements: the contacts its keys name, the keys earlier rows carried, the
//! owners it assigns, the contacts it updates (one `SELECT` each); then the inserts, the
//! update, tags, match keys, history, keys and failed rows (multi-row statements). Search
//! indexes follow by trigger, so everything a read shows is right when the chunk commits.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

use crate::contacts::contact::Contact;
use crate::contacts::history;
use crate::contacts::repo::batch::{self, Change};
use crate::import::mapping::{Plan, Spec};
use crate::import::preview::{self, Encoding, Format, Header, Record};
use crate::import::rows::{self, describe_key, id_key, Reason, RowEdit};
use crate::kernel::error::{Error, Result};
use crate::kernel::fields::Catalogue;
use crate::kernel::jobs::{self, Job, JobId, Kind, Progress, State};
use crate::kernel::store::{placeholders, Sql, Value};
use crate::kernel::values::{time, ContactId};
use crate::search;

/// Rows per batch: few statements per row, each a host call under Spin (a 1 MiB chunk of
/// ~4,000 new contacts runs ~62 statements in batches of 1,000, ~140 in batches of 250);
/// the multi-row statements still split at SQLite's parameter bound
/// ([`batch::insert_rows`]).
pub const BATCH_ROWS: usize = 1000;

/// An import's counters (SPEC §9).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub created: i64,
    pub updated: i64,
    pub skipped: i64,
    pub failed: i64,
}

impl Counts {
    fn of(job: &Job) -> Counts {
        serde_json::from_value(job.counts.clone()).unwrap_or_default()
    }

    fn to_json(self) -> Json {
        json!(self)
    }
}

/// Opens an import job for a checked spec.
pub fn open(db: &dyn Sql, actor: &str, spec: &Spec) -> Result<Job> {
    jobs::create(
        db,
        Kind::Import,
        actor,
        spec.to_json(),
        Progress {
            state: State::Open,
            total: None,
            processed: 0,
            step: 0,
            counts: Counts::default().to_json(),
        },
    )
}

/// Imports chunk `seq` (1-based) of job `id`. A chunk already imported (`seq` at or below
/// the job's step) changes nothing and answers the job as it is; a chunk past the next
/// expected one is a 409 naming the expected `seq`.
pub fn put(db: &dyn Sql, id: &JobId, seq: i64, body: &[u8]) -> Result<Job> {
    if seq < 1 {
        return Err(Error::invalid("seq", "chunks are numbered from 1"));
    }
    let (job, ()) = jobs::advance(db, Kind::Import, id, |job| {
        if seq <= job.step {
            return Ok((None, ()));
        }
        if job.state.is_final() {
            return Err(conflict(
                "this import is finished and takes no more chunks; start a new import",
            ));
        }
        let expected = job.step + 1;
        if seq > expected {
            return Err(conflict(&format!(
                "chunk {seq} is ahead of the import: the next chunk it expects is seq {expected}"
            )));
        }
        let catalogue = Catalogue::load(db)?;
        let spec = Spec::parse(&job.spec, &catalogue, "")?;
        let (header, records) = read_chunk(db, job, seq, body)?;
        let plan = spec.bind(&header, &catalogue)?;
        let ctx = Ctx {
            db,
            job,
            spec: &spec,
            plan: &plan,
            catalogue: &catalogue,
        };
        let mut counts = Counts::of(job);
        search::bulk_write(db, || {
            for (i, batch) in records.chunks(BATCH_ROWS).enumerate() {
                let first_row = job.processed + 1 + (i * BATCH_ROWS) as i64;
                import_batch(&ctx, first_row, batch, &mut counts)?;
            }
            Ok(())
        })?;
        let mut progress = job.progress();
        progress.processed += records.len() as i64;
        progress.step = seq;
        progress.counts = counts.to_json();
        Ok((Some(progress), ()))
    })?;
    Ok(job)
}

fn conflict(detail: &str) -> Error {
    Error::Conflict {
        detail: detail.to_owned(),
        field: Some("seq".into()),
        existing_contact_id: None,
    }
}

/// How long `finish` may spend merging the search indexes a large import fragmented: far
/// under a platform's 30 s request bound; a 1M-row import needs ~7 s natively.
pub const SETTLE_BUDGET: Duration = Duration::from_secs(15);

/// Ends the job: it takes no more chunks, and the keys kept to find a file's duplicate
/// rows are dropped. Then the search indexes the import fragmented are merged
/// ([`search::settle`], for up to [`SETTLE_BUDGET`]), so searches right after an import run
/// as fast as before it (docs/benchmarks.md, Import); a merge the budget cuts short goes on
/// in later writes, and a finish sent again carries it on. Finishing a finished job changes
/// nothing else.
pub fn finish(db: &dyn Sql, id: &JobId) -> Result<Job> {
    let (job, ()) = jobs::advance(db, Kind::Import, id, |job| {
        if job.state.is_final() {
            return Ok((None, ()));
        }
        db.execute(
            "DELETE FROM import_keys WHERE job_id = ?",
            &[job.id.as_str().into()],
        )?;
        let mut progress = job.progress();
        progress.state = State::Finished;
        Ok((Some(progress), ()))
    })?;
    search::settle(db, Instant::now() + SETTLE_BUDGET)?;
    Ok(job)
}

/// The chunk's header and data records: chunk 1 detects the file's format and reads its
/// header (and records both for the chunks after it); later chunks are read with them.
fn read_chunk(db: &dyn Sql, job: &Job, seq: i64, body: &[u8]) -> Result<(Header, Vec<Record>)> {
    if seq == 1 {
        let format = Format::detect(body)?;
        let mut records = preview::records(body, format)?.into_iter();
        let header = Header::parse(&records.next().ok_or_else(preview::empty_file)?)?;
        db.execute(
            "INSERT INTO import_files (job_id, encoding, delimiter, header) VALUES (?, ?, ?, ?)",
            &[
                job.id.as_str().into(),
                format.encoding.as_str().into(),
                format.delimiter_str().into(),
                header.to_json().to_string().into(),
            ],
        )?;
        return Ok((header, records.collect()));
    }
    let (format, header) = file_of(db, &job.id)?
        .ok_or_else(|| Error::Storage(format!("import {} has no file record", job.id.as_str())))?;
    Ok((header, preview::records(body, format)?))
}

/// The format and header chunk 1 recorded, if it came.
pub fn file_of(db: &dyn Sql, id: &JobId) -> Result<Option<(Format, Header)>> {
    let rows = db.execute(
        "SELECT encoding, delimiter, header FROM import_files WHERE job_id = ?",
        &[id.as_str().into()],
    )?;
    let Some(row) = rows.rows.first() else {
        return Ok(None);
    };
    let text = |i: usize| row.get(i).and_then(Value::as_str).unwrap_or_default();
    let encoding = Encoding::parse(text(0))
        .ok_or_else(|| Error::Storage(format!("import encoding {:?}", text(0))))?;
    let delimiter = *text(1)
        .as_bytes()
        .first()
        .ok_or_else(|| Error::Storage("import delimiter is empty".into()))?;
    Ok(Some((
        Format {
            encoding,
            delimiter,
        },
        Header::from_json(text(2))?,
    )))
}

/// What every batch of a chunk needs.
struct Ctx<'a> {
    db: &'a dyn Sql,
    job: &'a Job,
    spec: &'a Spec,
    plan: &'a Plan,
    catalogue: &'a Catalogue,
}

/// The stored contact a row's keys name, by tagged key (`id:…`, `email:…`, `phone:…`).
#[derive(Debug, Clone)]
struct Holder {
    rowid: i64,
    contact_id: String,
}

/// What a batch writes, gathered row by row.
#[derive(Default)]
struct Outcome {
    created: Vec<Contact>,
    created_fields: Vec<Vec<String>>,
    changed: Vec<Change>,
    changed_fields: Vec<Vec<String>>,
    skipped: i64,
    /// (row, record, reason).
    failed: Vec<(i64, Json, Reason)>,
    /// Keys the batch's imported rows carried, with their row.
    keys: Vec<(String, i64)>,
}

fn import_batch(ctx: &Ctx, first_row: i64, records: &[Record], counts: &mut Counts) -> Result<()> {
    let mut out = Outcome::default();
    let mut parsed: Vec<(i64, &Record, RowEdit)> = Vec::with_capacity(records.len());
    for (i, record) in records.iter().enumerate() {
        let row = first_row + i as i64;
        match rows::parse(record, ctx.plan, ctx.catalogue, ctx.spec.region) {
            Ok(edit) => parsed.push((row, record, edit)),
            Err(reason) => out.failed.push((row, json!(record.fields), reason)),
        }
    }
    let holders = find_holders(ctx.db, &parsed)?;
    let targets: Vec<Option<Holder>> = parsed
        .iter()
        .map(|(_, _, edit)| target_of(edit, &holders))
        .collect();
    let row_keys: Vec<Vec<String>> = parsed
        .iter()
        .zip(&targets)
        .map(|((_, _, edit), target)| row_keys(edit, target))
        .collect();
    let seen = keys_seen(ctx, &row_keys)?;
    let owners = known_owners(ctx.db, &parsed)?;
    let rowids: Vec<i64> = targets.iter().flatten().map(|h| h.rowid).collect();
    let stored: HashMap<i64, Contact> = batch::load_many(ctx.db, &rowids)?
        .into_iter()
        .map(|c| (c.rowid, c))
        .collect();
    let mut batch_seen: HashMap<String, i64> = HashMap::new();
    let now = time::now();
    let rows = parsed.iter().zip(&targets).zip(row_keys);
    for (((row, record, edit), target), keys) in rows {
        let stored = target.as_ref().and_then(|h| stored.get(&h.rowid));
        let lookups = Lookups {
            holders: &holders,
            seen: &seen,
            batch_seen: &batch_seen,
            owners: &owners,
        };
        let new_row = NewRow {
            edit,
            keys: &keys,
            now: &now,
        };
        match import_row(ctx, new_row, stored, &lookups) {
            Ok(done) => {
                for key in keys {
                    batch_seen.insert(key.clone(), *row);
                    out.keys.push((key, *row));
                }
                match done {
                    Done::Created(c, fields) => {
                        out.created.push(c);
                        out.created_fields.push(fields);
                    }
                    Done::Changed(change, fields) => {
                        out.changed.push(change);
                        out.changed_fields.push(fields);
                    }
                    Done::Unchanged => out.skipped += 1,
                }
            }
            Err(reason) => out.failed.push((*row, json!(record.fields), reason)),
        }
    }
    write_batch(ctx, &mut out)?;
    counts.created += out.created.len() as i64;
    counts.updated += out.changed.len() as i64;
    counts.skipped += out.skipped;
    counts.failed += out.failed.len() as i64;
    Ok(())
}

/// The keys a row that imported leaves behind: its own, and the contact it reached.
fn row_keys(edit: &RowEdit, target: &Option<Holder>) -> Vec<String> {
    let mut keys = edit.keys.tagged();
    if let Some(h) = target {
        let k = id_key(&h.contact_id);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys
}

/// The stored contact a row updates: by Contact ID, else email, else phone. A Contact ID
/// that names no contact creates one with that ID, whatever the row's email or phone.
fn target_of(edit: &RowEdit, holders: &HashMap<String, Holder>) -> Option<Holder> {
    let keys = &edit.keys;
    if let Some(id) = &keys.contact_id {
        return holders.get(&id_key(id.as_str())).cloned();
    }
    keys.tagged().iter().find_map(|k| holders.get(k)).cloned()
}

/// The contacts holding the batch's keys, in one statement.
fn find_holders(
    db: &dyn Sql,
    parsed: &[(i64, &Record, RowEdit)],
) -> Result<HashMap<String, Holder>> {
    let mut parts = Vec::new();
    let mut params: Vec<Value> = Vec::new();
    let mut part = |prefix: &str, column: &str, values: Vec<&str>| {
        if values.is_empty() {
            return;
        }
        parts.push(format!(
            "SELECT '{prefix}:' || {column}, id, contact_id FROM contacts WHERE {column} IN ({})",
            placeholders(values.len())
        ));
        params.extend(values.into_iter().map(Value::from));
    };
    let keys = || parsed.iter().map(|(_, _, e)| &e.keys);
    part(
        "id",
        "contact_id",
        keys()
            .filter_map(|k| k.contact_id.as_ref().map(ContactId::as_str))
            .collect(),
    );
    part(
        "email",
        "email_norm",
        keys().filter_map(|k| k.email.as_deref()).collect(),
    );
    part(
        "phone",
        "phone_e164",
        keys().filter_map(|k| k.phone.as_deref()).collect(),
    );
    if parts.is_empty() {
        return Ok(HashMap::new());
    }
    let rows = db.execute(&parts.join(" UNION ALL "), &params)?;
    Ok(rows
        .rows
        .into_iter()
        .filter_map(|row| match row.as_slice() {
            [Value::Text(key), Value::Integer(rowid), Value::Text(cid)] => Some((
                key.clone(),
                Holder {
                    rowid: *rowid,
                    contact_id: cid.clone(),
                },
            )),
            _ => None,
        })
        .collect())
}

/// The keys of this batch (each row's [`row_keys`]) that earlier rows of the file carried,
/// with the row that did.
fn keys_seen(ctx: &Ctx, row_keys: &[Vec<String>]) -> Result<HashMap<String, i64>> {
    let keys: HashSet<&str> = row_keys.iter().flatten().map(String::as_str).collect();
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let mut params: Vec<Value> = vec![ctx.job.id.as_str().into()];
    params.extend(keys.iter().map(|k| Value::from(*k)));
    let rows = ctx.db.execute(
        &format!(
            "SELECT key, row FROM import_keys WHERE job_id = ? AND key IN ({})",
            placeholders(keys.len())
        ),
        &params,
    )?;
    Ok(rows
        .rows
        .into_iter()
        .filter_map(|row| match row.as_slice() {
            [Value::Text(k), Value::Integer(r)] => Some((k.clone(), *r)),
            _ => None,
        })
        .collect())
}

/// The batch's owner logins that are known agents.
fn known_owners(db: &dyn Sql, parsed: &[(i64, &Record, RowEdit)]) -> Result<HashSet<String>> {
    let logins: HashSet<&str> = parsed
        .iter()
        .filter_map(|(_, _, e)| e.owner.as_deref())
        .collect();
    if logins.is_empty() {
        return Ok(HashSet::new());
    }
    let params: Vec<Value> = logins.iter().map(|l| Value::from(*l)).collect();
    let rows = db.execute(
        &format!(
            "SELECT login FROM users WHERE login IN ({})",
            placeholders(params.len())
        ),
        &params,
    )?;
    Ok(rows
        .rows
        .into_iter()
        .filter_map(|r| r.into_iter().next().and_then(Value::into_string))
        .collect())
}

/// What the batch's look-ups found, for deciding each row.
struct Lookups<'a> {
    holders: &'a HashMap<String, Holder>,
    /// Keys of earlier chunks' (and batches') rows.
    seen: &'a HashMap<String, i64>,
    /// Keys of this batch's earlier rows.
    batch_seen: &'a HashMap<String, i64>,
    owners: &'a HashSet<String>,
}

enum Done {
    Created(Contact, Vec<String>),
    Changed(Change, Vec<String>),
    Unchanged,
}

/// A parsed row, with the keys it leaves behind ([`row_keys`]) and its batch's time.
struct NewRow<'a> {
    edit: &'a RowEdit,
    keys: &'a [String],
    now: &'a str,
}

/// Decides one row: a duplicate of an earlier row, an unknown owner, a bad value for its
/// policy, or a primary email or phone another contact holds fails it.
fn import_row(
    ctx: &Ctx,
    row: NewRow,
    stored: Option<&Contact>,
    lookups: &Lookups,
) -> std::result::Result<Done, Reason> {
    let edit = row.edit;
    for key in row.keys {
        if let Some(r) = lookups.seen.get(key).or(lookups.batch_seen.get(key)) {
            return Err(duplicate(key, *r, edit));
        }
    }
    if let Some(owner) = &edit.owner {
        if !lookups.owners.contains(owner) {
            let column = ctx
                .plan
                .column_of("owner")
                .map_or("owner", |c| c.name.as_str());
            return Err(format!(
                "column '{column}' ('{owner}'): no agent has this login; create the agent first or leave the cell empty"
            ));
        }
    }
    let mut contact = match stored {
        Some(c) => c.clone(),
        None => Contact::new_at(
            edit.keys
                .contact_id
                .clone()
                .unwrap_or_else(ContactId::generate),
            &ctx.job.actor,
            row.now.to_owned(),
        ),
    };
    let fields = edit.apply(&mut contact, &ctx.spec.tags, ctx.catalogue)?;
    for (kind, column) in [("email", "email_norm"), ("phone", "phone_e164")] {
        let value = contact.text(column);
        let unchanged = stored.is_some_and(|s| s.text(column) == value);
        let holder = value.and_then(|v| lookups.holders.get(&format!("{kind}:{v}")));
        if let (false, Some(h)) = (unchanged, holder) {
            if Some(h.rowid) != stored.map(|s| s.rowid) {
                return Err(format!(
                    "{kind} {} already belongs to contact {}; a primary {kind} belongs to one contact",
                    value.unwrap_or_default(),
                    h.contact_id
                ));
            }
        }
    }
    Ok(match stored {
        None => Done::Created(contact, fields),
        Some(_) if fields.is_empty() => Done::Unchanged,
        Some(before) => Done::Changed(
            Change {
                before: before.clone(),
                after: contact,
            },
            fields,
        ),
    })
}

fn duplicate(key: &str, row: i64, edit: &RowEdit) -> Reason {
    let own = edit.keys.tagged();
    if own.iter().any(|k| k == key) {
        format!(
            "{} is already in row {row} of this file; each contact may appear once per file",
            describe_key(key)
        )
    } else {
        format!(
            "this row is for the same contact as row {row} of this file ({}); each contact may appear once per file",
            describe_key(key)
        )
    }
}

/// The batch's writes, each a few multi-row statements.
fn write_batch(ctx: &Ctx, out: &mut Outcome) -> Result<()> {
    let db = ctx.db;
    batch::insert_many(db, &mut out.created)?;
    batch::save_many(db, &mut out.changed)?;
    let created = out.created.iter().zip(&out.created_fields);
    let changed = out
        .changed
        .iter()
        .map(|c| &c.after)
        .zip(&out.changed_fields);
    history::record_many(
        db,
        "import",
        &ctx.job.actor,
        created
            .chain(changed)
            .map(|(c, fields)| (c.contact_id(), fields.as_slice())),
    )?;
    let job = ctx.job.id.as_str();
    let key_rows: Vec<[Value; 3]> = out
        .keys
        .iter()
        .map(|(k, row)| [job.into(), k.as_str().into(), (*row).into()])
        .collect();
    batch::insert_rows(
        db,
        "INSERT INTO import_keys (job_id, key, row) VALUES",
        key_rows,
    )?;
    let error_rows: Vec<[Value; 4]> = out
        .failed
        .iter()
        .map(|(row, record, reason)| {
            [
                job.into(),
                (*row).into(),
                record.to_string().into(),
                reason.as_str().into(),
            ]
        })
        .collect();
    batch::insert_rows(
        db,
        "INSERT INTO import_errors (job_id, row, record, error) VALUES",
        error_rows,
    )
}

#[cfg(test)]
mod tests;
