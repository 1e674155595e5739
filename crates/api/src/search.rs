//! The `search` component's route: `GET /api/search?q=&segment=&limit=&cursor=&fields=`
//! (SPEC §3, §8, §9). Agents may search.

use contacts_core::query::page;
use contacts_core::search::{self, Query, SearchRequest};
use contacts_core::{Error, Result};

use crate::http_io::{Request, Response};
use crate::listing;
use crate::platform::Platform;
use crate::routes::{self, ok, route, Access, Call, RouteDoc};

pub const ROUTES: &[RouteDoc] = &[route(
    "GET",
    "/api/search",
    Access::Agent,
    "Search contacts by name, email, phone (fuzzy, ranked) and custom fields (whole words), within a segment",
    ok("SearchPage"),
)
.query(&["q", "segment", "fields", "limit", "cursor"])];

pub fn handle(req: &Request, platform: &dyn Platform) -> Response {
    routes::serve(req, platform, ROUTES, dispatch)
}

fn dispatch(call: &Call) -> Result<Response> {
    match (call.route.method, call.route.path) {
        ("GET", "/api/search") => search(call),
        _ => routes::unrouted(call),
    }
}

fn search(call: &Call) -> Result<Response> {
    // The cheap checks first: a bad request costs no database work.
    let q = call
        .req
        .param("q")
        .ok_or_else(|| Error::invalid("q", "is required"))?;
    let query = Query::parse(&q)?;
    let limit = page::check_limit(call.req.int_param("limit")?)?;

    let db = call.platform.sql()?;
    let (catalogue, columns) = listing::catalogue_and_columns(call, db)?;
    let segment = call.req.param("segment").unwrap_or_else(|| "all".into());
    let scope = page::segment_scope(
        db,
        &catalogue,
        &crate::filter::clock(call.platform)?,
        &segment,
    )?;
    let cursor = call.req.param("cursor");
    let page = search::search(
        db,
        &catalogue,
        &SearchRequest {
            query: &query,
            scope,
            segment: &segment,
            limit,
            cursor: cursor.as_deref(),
            columns,
        },
    )?;
    Ok(Response::ok(&page.to_json()))
}
