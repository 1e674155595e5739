//! The `import` component's routes (SPEC §4, §8, §9): preview a file, open a job, send its
//! chunks, finish it, follow it, and download its failed rows.

use contacts_core::import::{chunks, mapping::Spec, preview, report};
use contacts_core::kernel::fields::Catalogue;
use contacts_core::kernel::jobs::{self, JobId, Kind};
use contacts_core::{Error, Result};
use http::StatusCode;

use crate::http_io::{Request, Response};
use crate::platform::Platform;
use crate::routes::{self, created, ok, route, Access, Answer, Call, RouteDoc};

pub const ROUTES: &[RouteDoc] = &[
    route(
        "POST",
        "/api/imports/preview",
        Access::Admin,
        "Read the start of a CSV file: encoding, delimiter, header, suggested mapping, sample rows, row count",
        ok("ImportPreview"),
    )
    .csv_body(),
    route(
        "POST",
        "/api/imports",
        Access::Admin,
        "Open an import job: column mapping, conflict policies, tags, default region",
        created("ImportJob"),
    )
    .body("ImportRequest"),
    route(
        "PUT",
        "/api/imports/{job}/chunks/{seq}",
        Access::Admin,
        "Import chunk seq (from 1) of the file, all or nothing; a re-sent chunk changes nothing, one ahead of the next expected is a 409",
        ok("ImportJob"),
    )
    .csv_body(),
    route(
        "POST",
        "/api/imports/{job}/finish",
        Access::Admin,
        "Finish the import: it takes no more chunks; after a large file the search index is merged first (a few seconds at 1M rows)",
        ok("ImportJob"),
    ),
    route(
        "GET",
        "/api/imports/{job}",
        Access::Admin,
        "An import's progress and counts",
        ok("ImportJob"),
    ),
    route(
        "GET",
        "/api/imports/{job}/errors.csv",
        Access::Admin,
        "The failed rows as they were in the file, with an error column; formula-like cells neutralized",
        Answer::Csv,
    ),
];

pub fn handle(req: &Request, platform: &dyn Platform) -> Response {
    routes::serve(req, platform, ROUTES, dispatch)
}

fn dispatch(call: &Call) -> Result<Response> {
    match (call.route.method, call.route.path) {
        ("POST", "/api/imports/preview") => preview(call),
        ("POST", "/api/imports") => open(call),
        ("PUT", "/api/imports/{job}/chunks/{seq}") => put_chunk(call),
        ("POST", "/api/imports/{job}/finish") => finish(call),
        ("GET", "/api/imports/{job}") => get(call),
        ("GET", "/api/imports/{job}/errors.csv") => errors(call),
        _ => routes::unrouted(call),
    }
}

fn preview(call: &Call) -> Result<Response> {
    let body = call.req.csv()?;
    let catalogue = Catalogue::load(call.platform.sql()?)?;
    Ok(Response::ok(&preview::preview(body, &catalogue)?.to_json()))
}

fn open(call: &Call) -> Result<Response> {
    let body = call.req.json()?;
    let db = call.platform.sql()?;
    let region = call
        .platform
        .variable("default_region")
        .unwrap_or_else(|| "US".into());
    let spec = Spec::parse(&body, &Catalogue::load(db)?, &region)?;
    let job = chunks::open(db, call.actor(), &spec)?;
    Ok(Response::json(StatusCode::CREATED, &report::job_json(&job))
        .with_header("location", format!("/api/imports/{}", job.id.as_str())))
}

fn put_chunk(call: &Call) -> Result<Response> {
    let body = call.req.csv()?;
    let id = JobId::parse(call.param(0))?;
    let seq = call
        .param(1)
        .parse::<i64>()
        .map_err(|_| Error::invalid("seq", "must be a chunk number from 1"))?;
    let job = chunks::put(call.platform.sql()?, &id, seq, body)?;
    Ok(Response::ok(&report::job_json(&job)))
}

fn finish(call: &Call) -> Result<Response> {
    let id = JobId::parse(call.param(0))?;
    let job = chunks::finish(call.platform.sql()?, &id)?;
    Ok(Response::ok(&report::job_json(&job)))
}

fn get(call: &Call) -> Result<Response> {
    let id = JobId::parse(call.param(0))?;
    let job = jobs::get(call.platform.sql()?, Kind::Import, &id)?;
    Ok(Response::ok(&report::job_json(&job)))
}

fn errors(call: &Call) -> Result<Response> {
    let id = JobId::parse(call.param(0))?;
    let csv = report::errors_csv(call.platform.sql()?, &id)?;
    Ok(Response {
        status: StatusCode::OK,
        headers: vec![
            ("content-type", "text/csv; charset=utf-8".into()),
            (
                "content-disposition",
                format!("attachment; filename=\"import-{}-errors.csv\"", id.as_str()),
            ),
        ],
        body: csv,
    })
}

#[cfg(test)]
mod tests;
