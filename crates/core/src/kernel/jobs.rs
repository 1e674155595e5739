//! Long work as a job advanced by requests: the one mechanism bulk updates and imports share.
//!
//! Spin has no background work and caps a request (30 s on Fermyon Cloud), so a job that
//! touches a million contacts is done in steps, one per request: a bulk slice, an import
//! chunk. A job is a row in `jobs`; each step runs in **one** `BEGIN IMMEDIATE` transaction
//! that re-reads the job, does its work and records the new progress ([`advance`]). So:
//! - a step is all or nothing: a crash inside it leaves the job and every contact as before;
//! - two requests asking for the same step at once are serialized by the write lock, and
//!   the second sees the first's committed progress (`step` and `processed` decide what is
//!   left), so no step is ever done twice;
//! - progress survives a restart, and [`get`] shows it at any time.
//!
//! What a step means (a slice of a frozen target set, a chunk number) is the caller's: this
//! module knows nothing about contacts, bulk actions or CSV.

use serde_json::Value as Json;

use crate::kernel::error::{Error, Result};
use crate::kernel::store::{job_step_tx, Sql, Value};
use crate::kernel::values::{fill_random, time};

pub const SCHEMA_V2: &[&str] = &["CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        state TEXT NOT NULL,
        actor TEXT NOT NULL,
        spec TEXT NOT NULL,
        total INTEGER,
        processed INTEGER NOT NULL DEFAULT 0,
        step INTEGER NOT NULL DEFAULT 0,
        counts TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    )"];

/// What a job does; each kind belongs to one component.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Bulk,
    Import,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Bulk => "bulk",
            Kind::Import => "import",
        }
    }

    fn parse(s: &str) -> Result<Kind> {
        match s {
            "bulk" => Ok(Kind::Bulk),
            "import" => Ok(Kind::Import),
            other => Err(Error::Storage(format!("unknown job kind {other:?}"))),
        }
    }
}

/// A job's state as SPEC §9 names it: bulk jobs are `running` then `done`, imports `open`
/// then `finished`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Running,
    Done,
    Open,
    Finished,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Running => "running",
            State::Done => "done",
            State::Open => "open",
            State::Finished => "finished",
        }
    }

    /// Whether the job takes no more steps.
    pub fn is_final(self) -> bool {
        matches!(self, State::Done | State::Finished)
    }

    fn parse(s: &str) -> Result<State> {
        match s {
            "running" => Ok(State::Running),
            "done" => Ok(State::Done),
            "open" => Ok(State::Open),
            "finished" => Ok(State::Finished),
            other => Err(Error::Storage(format!("unknown job state {other:?}"))),
        }
    }
}

/// A job id as callers see it: `J` and 16 lower-case hex digits (64 random bits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobId(String);

impl JobId {
    pub fn generate() -> JobId {
        let mut bytes = [0u8; 8];
        fill_random(&mut bytes);
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        JobId(format!("J{hex}"))
    }

    /// A path segment naming a job. Anything else cannot name one, so it is a 404, not a 422.
    pub fn parse(s: &str) -> Result<JobId> {
        let well_formed = s.len() == 17
            && s.starts_with('J')
            && s[1..]
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if well_formed {
            Ok(JobId(s.to_owned()))
        } else {
            Err(Error::NotFound(format!("job {s}")))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: JobId,
    pub kind: Kind,
    pub state: State,
    /// The login that started it.
    pub actor: String,
    /// The job's parameters as its component validated them.
    pub spec: Json,
    /// How many items the job has in all, when known up front.
    pub total: Option<i64>,
    pub processed: i64,
    /// Steps committed so far (slices, chunks).
    pub step: i64,
    /// The kind's own counters.
    pub counts: Json,
    pub created_at: String,
    pub updated_at: String,
}

/// What a step leaves behind; [`advance`] records it with the step's work.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub state: State,
    pub total: Option<i64>,
    pub processed: i64,
    pub step: i64,
    pub counts: Json,
}

impl Job {
    /// The job's progress as it stands, for a step to change.
    pub fn progress(&self) -> Progress {
        Progress {
            state: self.state,
            total: self.total,
            processed: self.processed,
            step: self.step,
            counts: self.counts.clone(),
        }
    }
}

/// Records a new job. Call it inside the transaction that prepares the job's work (a bulk
/// job's frozen target set), so a job never exists without it.
pub fn create(
    db: &dyn Sql,
    kind: Kind,
    actor: &str,
    spec: Json,
    progress: Progress,
) -> Result<Job> {
    let now = time::now();
    let job = Job {
        id: JobId::generate(),
        kind,
        state: progress.state,
        actor: actor.to_owned(),
        spec,
        total: progress.total,
        processed: progress.processed,
        step: progress.step,
        counts: progress.counts,
        created_at: now.clone(),
        updated_at: now,
    };
    db.execute(
        "INSERT INTO jobs (id, kind, state, actor, spec, total, processed, step, counts, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            job.id.as_str().into(),
            kind.as_str().into(),
            job.state.as_str().into(),
            job.actor.as_str().into(),
            job.spec.to_string().into(),
            job.total.into(),
            job.processed.into(),
            job.step.into(),
            job.counts.to_string().into(),
            job.created_at.as_str().into(),
            job.updated_at.as_str().into(),
        ],
    )?;
    Ok(job)
}

/// The job `id` of this kind (a job of another kind is not found: each component sees its own).
pub fn get(db: &dyn Sql, kind: Kind, id: &JobId) -> Result<Job> {
    let rows = db.execute(
        "SELECT id, kind, state, actor, spec, total, processed, step, counts, created_at, updated_at
         FROM jobs WHERE id = ? AND kind = ?",
        &[id.as_str().into(), kind.as_str().into()],
    )?;
    let row = rows
        .rows
        .into_iter()
        .next()
        .ok_or_else(|| Error::NotFound(format!("job {}", id.as_str())))?;
    job_from_row(row)
}

/// Runs one step of job `id`: in one `BEGIN IMMEDIATE` transaction, which waits for the lock
/// behind prompt writers ([`job_step_tx`]), reads the job as committed, lets `work` do the
/// step's writes and say the progress it leaves (`None`: the step changes nothing, e.g. a
/// re-sent chunk or a finished job), records that progress, and commits. Any error rolls
/// back the step's writes and the progress together.
pub fn advance<T>(
    db: &dyn Sql,
    kind: Kind,
    id: &JobId,
    work: impl FnOnce(&Job) -> Result<(Option<Progress>, T)>,
) -> Result<(Job, T)> {
    job_step_tx(db, || {
        let mut job = get(db, kind, id)?;
        let (progress, value) = work(&job)?;
        if let Some(p) = progress {
            job.state = p.state;
            job.total = p.total;
            job.processed = p.processed;
            job.step = p.step;
            job.counts = p.counts;
            job.updated_at = time::now();
            db.execute(
                "UPDATE jobs SET state = ?, total = ?, processed = ?, step = ?, counts = ?, updated_at = ?
                 WHERE id = ?",
                &[
                    job.state.as_str().into(),
                    job.total.into(),
                    job.processed.into(),
                    job.step.into(),
                    job.counts.to_string().into(),
                    job.updated_at.as_str().into(),
                    job.id.as_str().into(),
                ],
            )?;
        }
        Ok((job, value))
    })
}

fn job_from_row(row: Vec<Value>) -> Result<Job> {
    let mut cols = row.into_iter();
    let mut next = || cols.next().unwrap_or(Value::Null);
    let text = |v: Value| {
        v.into_string()
            .ok_or_else(|| Error::Storage("jobs: a text column holds no text".into()))
    };
    let json = |v: Value| -> Result<Json> {
        serde_json::from_str(&text(v)?).map_err(|e| Error::Storage(format!("jobs: {e}")))
    };
    Ok(Job {
        id: JobId(text(next())?),
        kind: Kind::parse(&text(next())?)?,
        state: State::parse(&text(next())?)?,
        actor: text(next())?,
        spec: json(next())?,
        total: next().as_i64(),
        processed: next().as_i64().unwrap_or(0),
        step: next().as_i64().unwrap_or(0),
        counts: json(next())?,
        created_at: text(next())?,
        updated_at: text(next())?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::native::NativeSql;
    use crate::kernel::schema;
    use serde_json::json;

    fn db() -> NativeSql {
        let db = NativeSql::open_in_memory();
        schema::ensure(&db).expect("schema");
        db
    }

    fn running(total: i64) -> Progress {
        Progress {
            state: State::Running,
            total: Some(total),
            processed: 0,
            step: 0,
            counts: json!({}),
        }
    }

    #[test]
    fn a_created_job_reads_back_as_written() {
        let db = db();
        let job = create(
            &db,
            Kind::Bulk,
            "admin",
            json!({"action": "block"}),
            running(7),
        )
        .unwrap();
        assert_eq!(get(&db, Kind::Bulk, &job.id).unwrap(), job);
    }

    #[test]
    fn a_job_is_seen_only_by_its_own_kind() {
        let db = db();
        let job = create(&db, Kind::Bulk, "admin", json!({}), running(1)).unwrap();
        assert!(matches!(
            get(&db, Kind::Import, &job.id),
            Err(Error::NotFound(_))
        ));
    }

    #[test]
    fn a_step_records_its_progress_and_writes_together() {
        let db = db();
        let job = create(&db, Kind::Bulk, "admin", json!({}), running(10)).unwrap();
        let (after, ()) = advance(&db, Kind::Bulk, &job.id, |j| {
            db.execute("CREATE TABLE probe (x)", &[])?;
            let mut p = j.progress();
            p.processed += 4;
            p.step += 1;
            Ok((Some(p), ()))
        })
        .unwrap();
        assert_eq!((after.processed, after.step), (4, 1));
        assert_eq!(get(&db, Kind::Bulk, &job.id).unwrap().processed, 4);
    }

    #[test]
    fn a_failing_step_leaves_job_and_writes_as_they_were() {
        let db = db();
        let job = create(&db, Kind::Bulk, "admin", json!({}), running(10)).unwrap();
        let failed: Result<(Job, ())> = advance(&db, Kind::Bulk, &job.id, |_| {
            db.execute("CREATE TABLE probe (x)", &[])?;
            Err(Error::Storage("injected".into()))
        });
        assert!(failed.is_err());
        assert_eq!(get(&db, Kind::Bulk, &job.id).unwrap(), job);
        let probe = db
            .execute(
                "SELECT count(*) FROM sqlite_master WHERE name = 'probe'",
                &[],
            )
            .unwrap();
        assert_eq!(probe.scalar_i64(), Some(0));
    }

    #[test]
    fn a_step_that_changes_nothing_keeps_the_job() {
        let db = db();
        let job = create(&db, Kind::Import, "admin", json!({}), running(0)).unwrap();
        let (after, ()) = advance(&db, Kind::Import, &job.id, |_| Ok((None, ()))).unwrap();
        assert_eq!(after, job);
    }

    #[test]
    fn job_ids_parse_only_in_their_own_shape() {
        let id = JobId::generate();
        assert_eq!(JobId::parse(id.as_str()).unwrap(), id);
        for bad in [
            "",
            "J",
            "j0123456789abcdef",
            "J0123456789ABCDEF",
            "J0123456789abcde",
            "J0123456789abcdefg",
        ] {
            assert!(
                matches!(JobId::parse(bad), Err(Error::NotFound(_))),
                "{bad}"
            );
        }
    }
}
