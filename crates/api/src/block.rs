//! The `block` component's routes (SPEC §3 Block, §8): the Blocked segment as a page, block
//! many, unblock one.

use contacts_core::query::page;
use contacts_core::{hooks::blocks, Error, Result};
use serde_json::json;

use crate::http_io::{Request, Response};
use crate::listing;
use crate::platform::Platform;
use crate::routes::{self, ok, route, Access, Answer, Call, RouteDoc};

pub const ROUTES: &[RouteDoc] = &[
    route(
        "GET",
        "/api/blocks",
        Access::Agent,
        "Blocked contacts, a page in the caller's table columns",
        ok("ContactPage"),
    )
    .query(&["fields", "sort", "limit", "cursor"]),
    route(
        "POST",
        "/api/blocks",
        Access::Admin,
        "Block contacts {ids}: all or nothing; unknown Contact IDs are a 422 naming them",
        ok("BlockResult"),
    )
    .body("BlockRequest"),
    route(
        "DELETE",
        "/api/blocks/{id}",
        Access::Admin,
        "Unblock a contact",
        Answer::NoContent,
    ),
];

pub fn handle(req: &Request, platform: &dyn Platform) -> Response {
    routes::serve(req, platform, ROUTES, dispatch)
}

fn dispatch(call: &Call) -> Result<Response> {
    match (call.route.method, call.route.path) {
        ("GET", "/api/blocks") => list(call),
        ("POST", "/api/blocks") => block(call),
        ("DELETE", "/api/blocks/{id}") => unblock(call),
        _ => routes::unrouted(call),
    }
}

/// Segment Blocked, paged like every contact list.
fn list(call: &Call) -> Result<Response> {
    let db = call.platform.sql()?;
    let (catalogue, columns) = listing::catalogue_and_columns(call, db)?;
    let blocked = page::system_segment("blocked")
        .ok_or_else(|| Error::Storage("system segment 'blocked' is missing".into()))?;
    listing::page(call, db, &catalogue, columns, blocked)
}

fn block(call: &Call) -> Result<Response> {
    let ids = blocks::parse_ids(&call.req.json()?)?;
    let done = blocks::block(call.platform.sql()?, call.actor(), &ids)?;
    Ok(Response::ok(
        &json!({"blocked": done.blocked, "already_blocked": done.already_blocked}),
    ))
}

fn unblock(call: &Call) -> Result<Response> {
    blocks::unblock(call.platform.sql()?, call.actor(), call.param(0))?;
    Ok(Response::no_content())
}
