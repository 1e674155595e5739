//! The `merge` component's routes (SPEC §3 Merge, §8, §9): possible duplicates per contact
//! and as groups, and the merge of up to 25 contacts.

use contacts_core::contacts::repo::Ctx;
use contacts_core::kernel::fields::Catalogue;
use contacts_core::merge::{self, duplicates, MergeRequest};
use contacts_core::query::page;
use contacts_core::Result;
use serde_json::json;

use crate::http_io::{Request, Response};
use crate::platform::Platform;
use crate::routes::{self, ok, route, Access, Call, RouteDoc};

pub const ROUTES: &[RouteDoc] = &[
    route(
        "GET",
        "/api/duplicates",
        Access::Agent,
        "Groups of possible duplicates, strongest evidence first, each set of contacts once",
        ok("DuplicateGroupPage"),
    )
    .query(&["limit", "cursor"]),
    route(
        "GET",
        "/api/duplicates/{id}",
        Access::Agent,
        "A contact's possible duplicates with their reasons",
        ok("DuplicateList"),
    ),
    route(
        "POST",
        "/api/merge",
        Access::Admin,
        "Merge 1 to 24 secondaries into a primary, all or nothing (dry_run: show the result only)",
        ok("MergeResult"),
    )
    .body("MergeRequest"),
];

pub fn handle(req: &Request, platform: &dyn Platform) -> Response {
    routes::serve(req, platform, ROUTES, dispatch)
}

fn dispatch(call: &Call) -> Result<Response> {
    match (call.route.method, call.route.path) {
        ("GET", "/api/duplicates") => groups(call),
        ("GET", "/api/duplicates/{id}") => for_contact(call),
        ("POST", "/api/merge") => merge(call),
        _ => routes::unrouted(call),
    }
}

fn groups(call: &Call) -> Result<Response> {
    let limit = page::check_limit(call.req.int_param("limit")?)?;
    let cursor = call.req.param("cursor");
    let page = duplicates::groups(call.platform.sql()?, limit, cursor.as_deref())?;
    Ok(Response::ok(&page.to_json()))
}

fn for_contact(call: &Call) -> Result<Response> {
    let items = duplicates::for_contact(call.platform.sql()?, call.param(0))?;
    let items: Vec<_> = items.iter().map(duplicates::Candidate::to_json).collect();
    Ok(Response::ok(&json!({ "items": items })))
}

fn merge(call: &Call) -> Result<Response> {
    let req = MergeRequest::parse(&call.req.json()?)?;
    let db = call.platform.sql()?;
    let catalogue = Catalogue::load(db)?;
    let ctx = Ctx {
        db,
        catalogue: &catalogue,
        region: call.platform.region()?,
        actor: call.actor(),
    };
    let done = merge::merge(ctx, &req)?;
    let mut contact = done.contact.to_json(&catalogue);
    contact["possible_duplicates"] = json!(done.possible_duplicates);
    let body = if req.dry_run {
        json!({ "contact": contact })
    } else {
        json!({ "contact": contact, "merged": done.merged })
    };
    Ok(Response::ok(&body).with_header("etag", done.contact.etag()))
}
