//! The `filter` component's routes: `POST /api/query` and segments (SPEC §8).
//!
//! Agents may query, and create and change segments (SPEC §5 lets them filter, create and
//! edit); deleting a segment takes an admin, as every delete does.

use contacts_core::contacts::settings::table_view;
use contacts_core::kernel::fields::Catalogue;
use contacts_core::kernel::store::Sql;
use contacts_core::query::filter::{Clock, Filter, Reading};
use contacts_core::query::page::{self, PageRequest, SortKey, Where};
use contacts_core::query::segments::{self, SegmentId};
use contacts_core::{Error, Result};
use http::StatusCode;
use serde_json::{json, Value as Json};

use crate::http_io::{Request, Response};
use crate::listing;
use crate::platform::Platform;
use crate::routes::{self, created, ok, route, Access, Answer, Call, RouteDoc};

pub const ROUTES: &[RouteDoc] = &[
    route(
        "POST",
        "/api/query",
        Access::Agent,
        "Contacts matching a filter, within a segment: a page and the total",
        ok("QueryPage"),
    )
    .body("QueryRequest"),
    route(
        "GET",
        "/api/segments",
        Access::Agent,
        "Segments with their counts: All, Blocked, then the saved ones",
        ok("SegmentList"),
    ),
    route(
        "POST",
        "/api/segments",
        Access::Agent,
        "Save a filter as a segment",
        created("Segment"),
    )
    .body("SegmentInput"),
    route(
        "GET",
        "/api/segments/{id}",
        Access::Agent,
        "A segment with its count",
        ok("Segment"),
    ),
    route(
        "PATCH",
        "/api/segments/{id}",
        Access::Agent,
        "Rename a saved segment or change its filter",
        ok("Segment"),
    )
    .body("SegmentPatch"),
    route(
        "DELETE",
        "/api/segments/{id}",
        Access::Admin,
        "Delete a saved segment",
        Answer::NoContent,
    ),
    route(
        "GET",
        "/api/segments/{id}/contacts",
        Access::Agent,
        "A page of a segment's contacts, in the caller's table columns",
        ok("ContactPage"),
    )
    .query(&["fields", "sort", "limit", "cursor"]),
];

pub fn handle(req: &Request, platform: &dyn Platform) -> Response {
    routes::serve(req, platform, ROUTES, dispatch)
}

fn dispatch(call: &Call) -> Result<Response> {
    match (call.route.method, call.route.path) {
        ("POST", "/api/query") => run_query(call),
        ("GET", "/api/segments") => list_segments(call),
        ("POST", "/api/segments") => create_segment(call),
        ("GET", "/api/segments/{id}") => read_segment(call),
        ("PATCH", "/api/segments/{id}") => update_segment(call),
        ("DELETE", "/api/segments/{id}") => delete_segment(call),
        ("GET", "/api/segments/{id}/contacts") => segment_contacts(call),
        _ => routes::unrouted(call),
    }
}

/// The account clock: now, in the time zone of the `timezone` variable (UTC when unset).
/// Every component that resolves segments or filters takes its dates from here.
pub fn clock(platform: &dyn Platform) -> Result<Clock> {
    Clock::system(platform.variable("timezone").as_deref())
        .map_err(|why| Error::Storage(format!("variable timezone: {why}")))
}

const QUERY_MEMBERS: &[&str] = &["filter", "segment", "sort", "limit", "cursor", "fields"];

fn run_query(call: &Call) -> Result<Response> {
    let body = call.req.json()?;
    let obj = body.as_object().ok_or_else(|| {
        Error::malformed(
            "the body must be a JSON object {filter, segment?, sort?, limit?, cursor?}",
        )
    })?;
    if let Some(extra) = obj.keys().find(|k| !QUERY_MEMBERS.contains(&k.as_str())) {
        return Err(Error::invalid(
            extra.chars().take(60).collect::<String>(),
            format!("is not a member of a query ({})", QUERY_MEMBERS.join(", ")),
        ));
    }
    let member = |k: &str| obj.get(k).filter(|v| !v.is_null());
    let db = call.platform.sql()?;
    // Without `fields` the caller's table view is read with the catalogue, one statement.
    let (catalogue, columns) = match member("fields") {
        Some(v) => {
            let catalogue = Catalogue::load(db)?;
            let columns = body_columns(v, &catalogue)?;
            (catalogue, columns)
        }
        None => table_view::load(db, &|| call.platform.kv(), call.actor())?,
    };
    let clock = clock(call.platform)?;
    let filter = match member("filter") {
        Some(f) => Filter::parse(f, &catalogue)?,
        None => Filter::everything(),
    };
    let segment = match member("segment") {
        Some(v) => SegmentId::from_json(v, "segment").map_err(not_a_segment)?,
        None => SegmentId::All,
    };
    let saved = match segment {
        SegmentId::Saved(n) => Some(segments::get(db, n).map_err(not_a_segment)?),
        _ => None,
    };
    // The same contacts, compiled twice: once for walking a page, once for counting them
    // all (see `Reading`).
    let scope = |reading| -> Result<Where> {
        let base = match &saved {
            Some(saved) => saved.scope(&catalogue, &clock, reading)?,
            None => segments::scope_for(db, &catalogue, &clock, segment, reading)?,
        };
        Ok(base.and(filter.compile(&clock, reading)))
    };
    let (page_scope, count_scope) = (scope(Reading::Page)?, scope(Reading::Every)?);
    let sort = match member("sort") {
        Some(Json::String(s)) => page::parse_sort_param(s, &catalogue)?,
        Some(v) => page::parse_sort(v, &catalogue)?,
        None => Vec::new(),
    };
    let limit = match member("limit") {
        Some(v) => Some(
            v.as_i64()
                .ok_or_else(|| Error::invalid("limit", "must be an integer 1 to 500"))?,
        ),
        None => None,
    };
    let cursor = match member("cursor") {
        Some(Json::String(s)) => Some(s.as_str()),
        Some(_) => {
            return Err(Error::Malformed {
                detail: "cursor: expected the next_cursor string of a previous page".into(),
                field: Some("cursor".into()),
            })
        }
        None => None,
    };
    let mut out = page_json(
        db,
        &catalogue,
        page_scope,
        sort,
        page::check_limit(limit)?,
        cursor,
        columns,
    )?;
    out["total"] = json!(page::count(db, &count_scope)?);
    Ok(Response::ok(&out))
}

/// A body member naming no segment is an invalid value, not a missing resource.
fn not_a_segment(e: Error) -> Error {
    match e {
        Error::NotFound(what) => Error::invalid("segment", format!("{what} does not exist")),
        other => other,
    }
}

/// `fields` in a body: an array of keys, or one comma-separated string like `?fields=`.
fn body_columns(v: &Json, catalogue: &Catalogue) -> Result<Vec<String>> {
    let keys: Vec<String> = match v {
        Json::String(s) => listing::split_keys(s),
        Json::Array(items) => items
            .iter()
            .map(|k| k.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or_else(|| Error::Malformed {
                detail: "fields: expected an array of field keys".into(),
                field: Some("fields".into()),
            })?,
        _ => {
            return Err(Error::Malformed {
                detail: "fields: expected an array of field keys".into(),
                field: Some("fields".into()),
            })
        }
    };
    page::parse_columns(&keys, catalogue)
}

fn page_json(
    db: &dyn Sql,
    catalogue: &Catalogue,
    scope: Where,
    sort: Vec<SortKey>,
    limit: usize,
    cursor: Option<&str>,
    columns: Vec<String>,
) -> Result<Json> {
    let page = page::page(
        db,
        catalogue,
        &PageRequest {
            scope,
            sort,
            limit,
            cursor,
            columns,
        },
    )?;
    Ok(page.to_json())
}

/// A segment as JSON with its count; a saved segment whose filter no longer checks carries
/// `count: null` and an `error` instead.
fn segment_json(db: &dyn Sql, catalogue: &Catalogue, clock: &Clock, id: SegmentId) -> Result<Json> {
    let saved = match id {
        SegmentId::Saved(n) => segments::get(db, n)?,
        system => {
            // Kept by triggers: no count of (nearly) every contact per sidebar view.
            let mut out = segments::system_json(system);
            out["count"] = json!(segments::system_count(db, system)?);
            return Ok(out);
        }
    };
    let mut out = saved.to_json();
    match saved.checked_scope(catalogue, clock, Reading::Every) {
        Ok(scope) => out["count"] = json!(segments::count(db, saved.id, &scope)?),
        Err(e) => {
            out["count"] = Json::Null;
            out["error"] = segments::error_json(&e);
        }
    }
    Ok(out)
}

fn list_segments(call: &Call) -> Result<Response> {
    let db = call.platform.sql()?;
    let catalogue = Catalogue::load(db)?;
    let clock = clock(call.platform)?;
    let mut items = vec![
        segment_json(db, &catalogue, &clock, SegmentId::All)?,
        segment_json(db, &catalogue, &clock, SegmentId::Blocked)?,
    ];
    for saved in segments::list(db)? {
        items.push(segment_json(
            db,
            &catalogue,
            &clock,
            SegmentId::Saved(saved.id),
        )?);
    }
    Ok(Response::ok(&json!({ "items": items })))
}

fn create_segment(call: &Call) -> Result<Response> {
    let body = call.req.json()?;
    let db = call.platform.sql()?;
    let catalogue = Catalogue::load(db)?;
    let saved = segments::create(db, &catalogue, call.actor(), &body)?;
    let out = segment_json(
        db,
        &catalogue,
        &clock(call.platform)?,
        SegmentId::Saved(saved.id),
    )?;
    Ok(Response::json(StatusCode::CREATED, &out)
        .with_header("location", format!("/api/segments/{}", saved.id)))
}

fn read_segment(call: &Call) -> Result<Response> {
    let db = call.platform.sql()?;
    let catalogue = Catalogue::load(db)?;
    let id = SegmentId::parse(call.param(0))?;
    Ok(Response::ok(&segment_json(
        db,
        &catalogue,
        &clock(call.platform)?,
        id,
    )?))
}

fn update_segment(call: &Call) -> Result<Response> {
    let body = call.req.json()?;
    let db = call.platform.sql()?;
    let catalogue = Catalogue::load(db)?;
    let saved = segments::update(db, &catalogue, call.param(0), &body)?;
    Ok(Response::ok(&segment_json(
        db,
        &catalogue,
        &clock(call.platform)?,
        SegmentId::Saved(saved.id),
    )?))
}

fn delete_segment(call: &Call) -> Result<Response> {
    let db = call.platform.sql()?;
    let catalogue = Catalogue::load(db)?;
    segments::delete(db, &catalogue, call.param(0))?;
    Ok(Response::no_content())
}

fn segment_contacts(call: &Call) -> Result<Response> {
    let db = call.platform.sql()?;
    let (catalogue, columns) = listing::catalogue_and_columns(call, db)?;
    let scope = segments::scope(db, &catalogue, &clock(call.platform)?, call.param(0))?;
    listing::page(call, db, &catalogue, columns, scope)
}
