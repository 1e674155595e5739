//! Bulk update and delete (SPEC §3 Bulk update and Delete, §8 `POST /api/bulk`, §9): one
//! action (`actions`) on a set of contacts (`target`), on up to a million of them.
//!
//! Spin has no background work and caps a request, so a run is a [`jobs`] job: starting it
//! freezes the target set in the transaction that records the job (contacts created later
//! are not touched; a delete's `confirm_count` is checked against that very count), and each
//! step applies the action to the next slice of the set in one `BEGIN IMMEDIATE`
//! transaction (`run`). A slice is sized to a time budget measured on the slices before
//! it, so the write lock is held briefly and chat events and edits get in between slices;
//! every target is done exactly once however steps are repeated, raced or interrupted
//! (see `run` and [`jobs::advance`]). A dry run counts the target through the same
//! compiled condition and changes nothing.
//!
//! History: one item per changed contact, written by the slice that changes it
//! (`INSERT … SELECT`), so a contact's history reads as it always does, and a job's record
//! needs no set of ids kept after it ends (docs/benchmarks.md, Bulk, has the cost).

mod actions;
mod run;
mod target;

#[cfg(test)]
mod tests;

use std::time::{Duration, Instant};

use serde_json::{json, Value as Json};

use crate::contacts::contact::type_mismatch;
use crate::contacts::repo;
use crate::kernel::error::{Error, Result};
use crate::kernel::fields::Catalogue;
use crate::kernel::jobs::{self, Job, JobId, Kind, Progress, State};
use crate::kernel::store::{write_tx, Sql};
use crate::kernel::values::Region;
use crate::query::filter::Clock;
use crate::query::page;

pub use actions::{Action, NAMES as ACTIONS};
pub use run::SCHEMA_V2;
pub use target::{Target, MAX_IDS};

const MEMBERS: [&str; 5] = ["action", "params", "target", "dry_run", "confirm_count"];

/// How long a slice's work may take inside the write lock when other writers want it (its
/// commit adds ~8 ms at 1M): chat events that arrive meanwhile wait for it
/// (docs/benchmarks.md, Bulk, "Chat events while a job runs").
pub const SLICE_BUDGET: Duration = Duration::from_millis(40);
/// The budget a job grows to, doubling a step, while nobody else wants the lock: each
/// commit writes about a page per contact in every index not in row-id order, so a longer
/// slice writes each such page for more contacts (at 1M, `set_field` went from 4.0× to 1.3×
/// a one-transaction native change; docs/benchmarks.md, Bulk, "Slices that grow while the
/// lock is quiet"). A writer that comes meanwhile waits for one such slice; the next step
/// sees it and goes back to [`SLICE_BUDGET`].
pub const QUIET_SLICE_BUDGET: Duration = Duration::from_secs(1);
/// The page cache of a slice's connection, in KiB (docs/benchmarks.md, Bulk: at 1M
/// `set_field` 3.06× native with SQLite's default 2 MB, 2.64–2.74× with this; `add_tags`
/// 1.77× and 1.34–1.36×). Only the pages a slice touches are allocated, and the connection
/// ends with the request. Not given to import chunks: a 1M import went 0.87× → 0.79× native
/// with it, and the host's peak memory 90 → 181 MiB (Import).
pub const SLICE_CACHE_KIB: u32 = 64 * 1024;
/// The first slice's size, before any has been timed: small enough for the slowest action
/// (a delete, whose search-index deletes took ~0.5 ms a contact on the loaded bench machine);
/// doubling each step, slices reach the budget within a few requests.
const FIRST_SLICE: i64 = 250;
const MIN_SLICE: i64 = 100;
/// The largest slice, whatever the timing says.
pub const MAX_SLICE: i64 = 200_000;

/// A `POST /api/bulk` body, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub action: Action,
    pub target: Target,
    pub dry_run: bool,
    pub confirm_count: Option<i64>,
}

impl Request {
    pub fn parse(body: &Json, catalogue: &Catalogue, region: Region) -> Result<Request> {
        let obj = body.as_object().ok_or_else(|| {
            Error::malformed(
                "the body must be a JSON object {action, params, target, dry_run?, confirm_count?}",
            )
        })?;
        if let Some(extra) = obj.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
            let name: String = extra.chars().take(60).collect();
            return Err(Error::invalid(
                name,
                format!("is not a member of a bulk request ({})", MEMBERS.join(", ")),
            ));
        }
        let action = obj
            .get("action")
            .ok_or_else(|| Error::invalid("action", "is required"))?;
        let params = obj.get("params").unwrap_or(&Json::Null);
        let dry_run = match obj.get("dry_run") {
            None | Some(Json::Null) => false,
            Some(Json::Bool(b)) => *b,
            Some(_) => return Err(type_mismatch("dry_run", "true or false")),
        };
        let confirm_count = match obj.get("confirm_count") {
            None | Some(Json::Null) => None,
            Some(v) => Some(
                v.as_i64()
                    .filter(|n| *n >= 0)
                    .ok_or_else(|| type_mismatch("confirm_count", "a count of contacts"))?,
            ),
        };
        Ok(Request {
            action: Action::parse(action, params, catalogue, region)?,
            target: Target::parse(obj.get("target"), catalogue)?,
            dry_run,
            confirm_count,
        })
    }
}

/// What the request needs from storage and the account.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub db: &'a dyn Sql,
    pub catalogue: &'a Catalogue,
    pub clock: &'a Clock,
    /// The login that asks, recorded in history.
    pub actor: &'a str,
    /// The most rows a slice takes (the operator's cap; [`MAX_SLICE`] by default).
    pub max_slice: i64,
}

/// What a bulk request answers.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// A dry run: how many contacts the target holds now.
    Count(i64),
    /// The job, after its first slice.
    Job(Job),
}

/// Runs a bulk request: a dry run counts; a run starts the job and does its first slice
/// (a small target is done at once).
pub fn submit(ctx: Ctx, req: &Request) -> Result<Outcome> {
    if req.dry_run {
        let scope = prepare(ctx, req)?;
        return Ok(Outcome::Count(page::count(ctx.db, &scope)?));
    }
    let job = write_tx(ctx.db, || -> Result<Job> {
        let scope = prepare(ctx, req)?;
        let total = page::count(ctx.db, &scope)?;
        check_confirm_count(req, total)?;
        let job = jobs::create(
            ctx.db,
            Kind::Bulk,
            ctx.actor,
            json!({"action": req.action.to_spec()}),
            Progress {
                state: if total == 0 {
                    State::Done
                } else {
                    State::Running
                },
                total: Some(total),
                processed: 0,
                step: 0,
                counts: json!({"changed": 0}),
            },
        )?;
        run::freeze(ctx.db, &job.id, &scope)?;
        Ok(job)
    })?;
    if job.state.is_final() {
        return Ok(Outcome::Job(job));
    }
    advance(ctx.db, &job.id, ctx.max_slice).map(Outcome::Job)
}

/// The target's condition, after the checks that need storage (ids and segments that
/// exist, an owner who is an agent).
fn prepare(ctx: Ctx, req: &Request) -> Result<page::Where> {
    if let Action::SetColumn {
        column: "owner",
        value: Some(login),
        ..
    } = &req.action
    {
        repo::check_owner(ctx.db, Some(login)).map_err(|e| match e {
            Error::Invalid { detail, .. } => Error::invalid("params.owner", detail),
            other => other,
        })?;
    }
    req.target.resolve(ctx.db, ctx.catalogue, ctx.clock)
}

/// A delete needs the caller to send the number it will delete (SPEC §3); any other
/// action that sends one is held to it too.
fn check_confirm_count(req: &Request, total: i64) -> Result<()> {
    match req.confirm_count {
        Some(n) if n == total => Ok(()),
        None if req.action != Action::Delete => Ok(()),
        sent => Err(Error::invalid(
            "confirm_count",
            format!(
                "the target holds {total} contacts now{}; send confirm_count: {total} to go ahead",
                sent.map_or(String::new(), |n| format!(", not {n}"))
            ),
        )),
    }
}

/// Does the job's next slice (nothing once it is done) and returns the job as it stands.
///
/// The slice's connection gets a page cache of [`SLICE_CACHE_KIB`] first: a slice dirties a
/// page or more per contact in each index whose order is not the row id's, and in SQLite's
/// default 2 MB cache every overflow spills them to the file mid-transaction, syncing the
/// journal each time.
pub fn advance(db: &dyn Sql, id: &JobId, max_slice: i64) -> Result<Job> {
    db.execute(&format!("PRAGMA cache_size = -{SLICE_CACHE_KIB}"), &[])?;
    let (job, ()) = jobs::advance(db, Kind::Bulk, id, |job| {
        if job.state.is_final() {
            return Ok((None, ()));
        }
        let action = Action::from_spec(&job.spec["action"])?;
        let budget = step_budget(
            db.others_wanted_the_lock(),
            job.counts["budget_ms"].as_u64().map(Duration::from_millis),
        );
        let rate = job.counts["rate"].as_f64();
        let rows = rate
            .map_or(FIRST_SLICE, |rate| rows_for(rate, budget))
            .clamp(1, max_slice.min(action.max_slice()).max(1));
        let started = Instant::now();
        let done = run::slice(db, &job.id, &job.actor, &action, rows as usize)?;
        let mut p = job.progress();
        p.processed += done.taken;
        p.step += 1;
        if done.taken < rows || p.total.is_some_and(|t| p.processed >= t) {
            p.state = State::Done;
        }
        p.counts = json!({
            "changed": job.counts["changed"].as_i64().unwrap_or(0) + done.changed,
            "conflicts": with_conflicts(&job.counts["conflicts"], done.conflicts),
            "rate": next_rate(rate, rows, done.taken, started.elapsed()),
            "budget_ms": budget.as_millis() as u64,
        });
        Ok((Some(p), ()))
    })?;
    Ok(job)
}

/// At most this many conflicts are kept on a job: enough to act on, a job row of bounded
/// size whatever the data.
const MAX_CONFLICTS: usize = 1_000;

/// A job's conflicts so far (`recheck_phones`), with a slice's added, as the job stores
/// and shows them: `[{contact_id, holder}]`.
fn with_conflicts(so_far: &Json, new: Vec<[String; 2]>) -> Json {
    let mut all = so_far.as_array().cloned().unwrap_or_default();
    let room = MAX_CONFLICTS.saturating_sub(all.len());
    all.extend(
        new.into_iter()
            .take(room)
            .map(|[contact_id, holder]| json!({"contact_id": contact_id, "holder": holder})),
    );
    Json::Array(all)
}

/// This step's budget: [`SLICE_BUDGET`] when other writers wanted the lock as the step took
/// it, else twice the last step's, up to [`QUIET_SLICE_BUDGET`].
fn step_budget(others_wanted_the_lock: bool, last: Option<Duration>) -> Duration {
    if others_wanted_the_lock {
        return SLICE_BUDGET;
    }
    (last.unwrap_or(SLICE_BUDGET) * 2).min(QUIET_SLICE_BUDGET)
}

/// As many rows as fit `budget` at `rate` rows a second.
fn rows_for(rate: f64, budget: Duration) -> i64 {
    ((rate * budget.as_secs_f64()) as i64).clamp(MIN_SLICE, MAX_SLICE)
}

/// The job's rate in rows a second after a slice of `rows` that took `taken` in `took`:
/// within twice or half the last one (one slow or fast slice is not the trend); a last,
/// partial slice says nothing.
fn next_rate(last: Option<f64>, rows: i64, taken: i64, took: Duration) -> Option<f64> {
    if taken < rows || took.is_zero() {
        return last;
    }
    let rate = taken as f64 / took.as_secs_f64();
    Some(last.map_or(rate, |last| rate.clamp(last / 2.0, last * 2.0)))
}

/// The bulk job `id`.
pub fn get(db: &dyn Sql, id: &JobId) -> Result<Job> {
    jobs::get(db, Kind::Bulk, id)
}

/// A job as SPEC §9 answers it, `{id, state, total, processed}`, with what it does, how
/// many contacts it changed so far, and when.
pub fn job_json(job: &Job) -> Json {
    let action = Action::from_spec(&job.spec["action"])
        .map(|a| a.name())
        .unwrap_or_default();
    json!({
        "id": job.id.as_str(),
        "state": job.state.as_str(),
        "total": job.total,
        "processed": job.processed,
        "action": action,
        "changed": job.counts["changed"].as_i64().unwrap_or(0),
        "conflicts": job.counts.get("conflicts").cloned().unwrap_or_else(|| json!([])),
        "created_by": job.actor,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
    })
}
