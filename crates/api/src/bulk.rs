//! The `bulk` component's routes (SPEC §3 Bulk update and Delete, §8, §9): start a bulk
//! action (or dry-run it), read its job, continue it. Admin only (SPEC §5).

use contacts_core::bulk::{self, Outcome, Request as BulkRequest};
use contacts_core::kernel::fields::Catalogue;
use contacts_core::kernel::jobs::{Job, JobId};
use contacts_core::{Error, Result};
use serde_json::json;

use crate::filter::clock;
use crate::http_io::{Request, Response};
use crate::platform::Platform;
use crate::routes::{self, ok, route, Access, Call, RouteDoc};

pub const ROUTES: &[RouteDoc] = &[
    route(
        "POST",
        "/api/bulk",
        Access::Admin,
        "Apply an action to ids, a segment or a filter: a dry run answers the count; a run \
         starts a job, does its first slice and answers the job",
        ok("BulkAnswer"),
    )
    .body("BulkRequest"),
    route(
        "GET",
        "/api/bulk/jobs/{id}",
        Access::Admin,
        "A bulk job's progress",
        ok("BulkJobAnswer"),
    ),
    route(
        "POST",
        "/api/bulk/jobs/{id}/continue",
        Access::Admin,
        "Do a bulk job's next slice (a done job is answered unchanged)",
        ok("BulkJobAnswer"),
    ),
];

/// The Spin variable that caps a slice's rows below [`bulk::MAX_SLICE`]: an operator's
/// setting (tests use it to see many slices on few contacts), never a caller's.
pub const MAX_SLICE_VARIABLE: &str = "bulk_max_slice";

/// The job's answer. A `continue` sent the moment this one is answered does not starve
/// chat events: a job's step takes the write lock only once no prompt writer waits for it
/// (`store::job_step_tx`; under Spin, `SpinSql::take_quiet_lock`).
fn job_answer(job: &Job) -> Response {
    Response::ok(&json!({"job": bulk::job_json(job)}))
}

pub fn handle(req: &Request, platform: &dyn Platform) -> Response {
    routes::serve(req, platform, ROUTES, dispatch)
}

fn dispatch(call: &Call) -> Result<Response> {
    match (call.route.method, call.route.path) {
        ("POST", "/api/bulk") => submit(call),
        ("GET", "/api/bulk/jobs/{id}") => read_job(call),
        ("POST", "/api/bulk/jobs/{id}/continue") => continue_job(call),
        _ => routes::unrouted(call),
    }
}

fn max_slice(platform: &dyn Platform) -> Result<i64> {
    match platform.variable(MAX_SLICE_VARIABLE) {
        None => Ok(bulk::MAX_SLICE),
        Some(v) => v
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=bulk::MAX_SLICE).contains(n))
            .ok_or_else(|| {
                Error::Storage(format!(
                    "variable {MAX_SLICE_VARIABLE}: expected 1 to {}, got '{v}'",
                    bulk::MAX_SLICE
                ))
            }),
    }
}

fn submit(call: &Call) -> Result<Response> {
    let body = call.req.json()?;
    let db = call.platform.sql()?;
    let catalogue = Catalogue::load(db)?;
    let req = BulkRequest::parse(&body, &catalogue, call.platform.region()?)?;
    let clock = clock(call.platform)?;
    let ctx = bulk::Ctx {
        db,
        catalogue: &catalogue,
        clock: &clock,
        actor: call.actor(),
        max_slice: max_slice(call.platform)?,
    };
    Ok(match bulk::submit(ctx, &req)? {
        Outcome::Count(n) => Response::ok(&json!({"count": n})),
        Outcome::Job(job) => job_answer(&job),
    })
}

fn read_job(call: &Call) -> Result<Response> {
    let job = bulk::get(call.platform.sql()?, &JobId::parse(call.param(0))?)?;
    Ok(Response::ok(&json!({"job": bulk::job_json(&job)})))
}

fn continue_job(call: &Call) -> Result<Response> {
    let id = JobId::parse(call.param(0))?;
    let job = bulk::advance(call.platform.sql()?, &id, max_slice(call.platform)?)?;
    Ok(job_answer(&job))
}
