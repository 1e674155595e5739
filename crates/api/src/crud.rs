//! The `crud` component's routes: contacts, history, fields, table views, tokens,
//! auto-create settings and the OpenAPI document (SPEC §8).

use contacts_core::contacts::repo::{self, Ctx, ReadView};
use contacts_core::contacts::settings::{table_view, AutocreateSettings};
use contacts_core::kernel::fields::{custom, Catalogue, CustomFieldDef, CustomFieldPatch};
use contacts_core::query::page;
use contacts_core::{contacts::access, contacts::history, Error, Result};
use http::StatusCode;
use serde_json::{json, Value as Json};

use crate::http_io::{Request, Response};
use crate::listing;
use crate::platform::Platform;
use crate::routes::{self, created, ok, route, Access, Answer, Call, RouteDoc};

pub const ROUTES: &[RouteDoc] = &[
    route(
        "GET",
        "/api/contacts",
        Access::Agent,
        "List contacts of a segment, in the caller's table columns",
        ok("ContactPage"),
    )
    .query(&["segment", "fields", "sort", "limit", "cursor"]),
    route(
        "POST",
        "/api/contacts",
        Access::Agent,
        "Create a contact",
        created("Contact"),
    )
    .body("ContactInput"),
    route(
        "GET",
        "/api/contacts/{id}",
        Access::Agent,
        "Read a contact (ETag: its version)",
        ok("Contact"),
    ),
    route(
        "PATCH",
        "/api/contacts/{id}",
        Access::Agent,
        "Update some fields of a contact (If-Match for optimistic concurrency)",
        ok("Contact"),
    )
    .body("ContactInput"),
    route(
        "DELETE",
        "/api/contacts/{id}",
        Access::Admin,
        "Delete a contact",
        Answer::NoContent,
    ),
    route(
        "GET",
        "/api/contacts/{id}/history",
        Access::Agent,
        "A contact's history, newest first",
        ok("HistoryPage"),
    )
    .query(&["limit", "cursor"]),
    route(
        "GET",
        "/api/fields",
        Access::Agent,
        "The field catalogue: system and custom fields",
        ok("FieldList"),
    ),
    route(
        "POST",
        "/api/fields",
        Access::Admin,
        "Define a custom field",
        created("Field"),
    )
    .body("FieldInput"),
    route(
        "PATCH",
        "/api/fields/{key}",
        Access::Admin,
        "Change a custom field's label or options",
        ok("Field"),
    )
    .body("FieldPatch"),
    route(
        "DELETE",
        "/api/fields/{key}",
        Access::Admin,
        "Delete a custom field",
        Answer::NoContent,
    ),
    route(
        "GET",
        "/api/views/table",
        Access::Agent,
        "The caller's table columns",
        ok("TableView"),
    ),
    route(
        "PUT",
        "/api/views/table",
        Access::Agent,
        "Save the caller's table columns",
        ok("TableView"),
    )
    .body("TableView"),
    route(
        "POST",
        "/api/tokens",
        Access::Admin,
        "Issue a bearer token for an agent or admin login (shown once)",
        created("Token"),
    )
    .body("TokenRequest"),
    route(
        "GET",
        "/api/me",
        Access::Agent,
        "The caller: login and role (the console shows only what the role may do)",
        ok("Principal"),
    ),
    route(
        "GET",
        "/api/settings/autocreate",
        Access::Agent,
        "Auto-create rules per channel",
        ok("AutocreateSettings"),
    ),
    route(
        "PUT",
        "/api/settings/autocreate",
        Access::Admin,
        "Replace the auto-create rules",
        ok("AutocreateSettings"),
    )
    .body("AutocreateSettings"),
    route(
        "GET",
        "/api/openapi.json",
        Access::Public,
        "This API's OpenAPI 3.1 document",
        ok("OpenApi"),
    ),
];

pub fn handle(req: &Request, platform: &dyn Platform) -> Response {
    routes::serve(req, platform, ROUTES, dispatch)
}

fn dispatch(call: &Call) -> Result<Response> {
    match (call.route.method, call.route.path) {
        ("GET", "/api/contacts") => list(call),
        ("POST", "/api/contacts") => create(call),
        ("GET", "/api/contacts/{id}") => read(call),
        ("PATCH", "/api/contacts/{id}") => update(call),
        ("DELETE", "/api/contacts/{id}") => delete(call),
        ("GET", "/api/contacts/{id}/history") => history_page(call),
        ("GET", "/api/fields") => fields(call),
        ("POST", "/api/fields") => create_field(call),
        ("PATCH", "/api/fields/{key}") => update_field(call),
        ("DELETE", "/api/fields/{key}") => delete_field(call),
        ("GET", "/api/views/table") => read_view(call),
        ("PUT", "/api/views/table") => save_view(call),
        ("POST", "/api/tokens") => issue_token(call),
        ("GET", "/api/me") => Ok(me(call)),
        ("GET", "/api/settings/autocreate") => read_settings(call),
        ("PUT", "/api/settings/autocreate") => save_settings(call),
        ("GET", "/api/openapi.json") => Ok(Response::ok(&crate::openapi::document())),
        _ => routes::unrouted(call),
    }
}

fn ctx<'a>(call: &'a Call, catalogue: &'a Catalogue) -> Result<Ctx<'a>> {
    Ok(Ctx {
        db: call.platform.sql()?,
        catalogue,
        region: call.platform.region()?,
        actor: call.actor(),
    })
}

fn list(call: &Call) -> Result<Response> {
    let db = call.platform.sql()?;
    let (catalogue, columns) = listing::catalogue_and_columns(call, db)?;
    let segment = call.req.param("segment").unwrap_or_else(|| "all".into());
    let clock = crate::filter::clock(call.platform)?;
    let scope = page::segment_scope(db, &catalogue, &clock, &segment)?;
    listing::page(call, db, &catalogue, columns, scope)
}

/// A contact as a read shows it: with its possible-duplicate count and ETag.
fn contact_response(status: StatusCode, view: &ReadView) -> Response {
    let mut body = view.contact.to_json(&view.catalogue);
    body["possible_duplicates"] = json!(view.possible_duplicates);
    Response::json(status, &body).with_header("etag", view.contact.etag())
}

/// The response to a write: the contact as stored, with its duplicate count.
fn written(status: StatusCode, written: repo::Written, catalogue: Catalogue) -> Response {
    contact_response(
        status,
        &ReadView {
            contact: written.contact,
            catalogue,
            possible_duplicates: written.possible_duplicates,
        },
    )
}

fn create(call: &Call) -> Result<Response> {
    let body = call.req.json()?;
    let db = call.platform.sql()?;
    let catalogue = Catalogue::load(db)?;
    let created = repo::create(ctx(call, &catalogue)?, &body)?;
    let location = format!("/api/contacts/{}", created.contact.contact_id());
    Ok(written(StatusCode::CREATED, created, catalogue).with_header("location", location))
}

fn read(call: &Call) -> Result<Response> {
    let view = repo::read(call.platform.sql()?, call.param(0))?;
    Ok(contact_response(StatusCode::OK, &view))
}

fn update(call: &Call) -> Result<Response> {
    let body = call.req.json()?;
    let db = call.platform.sql()?;
    let catalogue = Catalogue::load(db)?;
    let updated = repo::update(
        ctx(call, &catalogue)?,
        call.param(0),
        &body,
        call.req.header("if-match"),
    )?;
    Ok(written(StatusCode::OK, updated, catalogue))
}

fn delete(call: &Call) -> Result<Response> {
    repo::delete(call.platform.sql()?, call.actor(), call.param(0))?;
    Ok(Response::no_content())
}

fn history_page(call: &Call) -> Result<Response> {
    let db = call.platform.sql()?;
    let id = call.param(0);
    let limit = page::check_limit(call.req.int_param("limit")?)?;
    let before = match call.req.param("cursor") {
        Some(c) => Some(
            c.parse::<i64>()
                .map_err(|_| Error::invalid("cursor", "is not a cursor of this history"))?,
        ),
        None => None,
    };
    let (items, next) = history::page(db, id, before, limit)?;
    if items.is_empty() && before.is_none() && !history::exists(db, id)? {
        return Err(Error::NotFound(format!("contact '{id}'")));
    }
    Ok(Response::ok(
        &json!({"items": items, "next_cursor": next.map(|n| n.to_string())}),
    ))
}

fn fields(call: &Call) -> Result<Response> {
    let catalogue = Catalogue::load(call.platform.sql()?)?;
    let items: Vec<Json> = catalogue.fields().iter().map(|f| f.to_json()).collect();
    Ok(Response::ok(&json!({ "items": items })))
}

fn create_field(call: &Call) -> Result<Response> {
    let def = CustomFieldDef::parse(&call.req.json()?)?;
    let db = call.platform.sql()?;
    custom::create(db, &def)?;
    Ok(Response::json(StatusCode::CREATED, &def.field().to_json())
        .with_header("location", format!("/api/fields/{}", def.key)))
}

/// `{key}` is the custom key, with or without its `custom.` prefix.
fn custom_key<'a>(call: &'a Call, catalogue: &Catalogue) -> Result<&'a str> {
    let raw = call.param(0);
    let key = raw.strip_prefix("custom.").unwrap_or(raw);
    if catalogue.get(raw).is_some_and(|f| f.system) {
        return Err(Error::invalid(
            "key",
            format!("'{raw}' is a system field; only custom fields change"),
        ));
    }
    Ok(key)
}

fn update_field(call: &Call) -> Result<Response> {
    let patch: CustomFieldPatch = serde_json::from_value(call.req.json()?)
        .map_err(|e| Error::malformed(format!("expected {{label?, options?}}: {e}")))?;
    let db = call.platform.sql()?;
    let catalogue = Catalogue::load(db)?;
    let key = custom_key(call, &catalogue)?;
    let def = custom::update(db, &catalogue, key, &patch)?;
    Ok(Response::ok(&def.field().to_json()))
}

fn delete_field(call: &Call) -> Result<Response> {
    let db = call.platform.sql()?;
    let catalogue = Catalogue::load(db)?;
    custom::delete(db, custom_key(call, &catalogue)?)?;
    Ok(Response::no_content())
}

fn read_view(call: &Call) -> Result<Response> {
    let db = call.platform.sql()?;
    let (_, columns) = table_view::load(db, &|| call.platform.kv(), call.actor())?;
    Ok(Response::ok(&json!({ "columns": columns })))
}

fn save_view(call: &Call) -> Result<Response> {
    let doc = call.req.json()?;
    let db = call.platform.sql()?;
    let catalogue = Catalogue::load(db)?;
    let columns = table_view::save(db, call.actor(), &doc, &catalogue)?;
    Ok(Response::ok(&json!({ "columns": columns })))
}

fn issue_token(call: &Call) -> Result<Response> {
    let body = call.req.json()?;
    let text = |k: &str| {
        body.get(k)
            .and_then(Json::as_str)
            .ok_or_else(|| Error::Malformed {
                detail: format!("{k}: expected a string"),
                field: Some(k.into()),
            })
    };
    let (login, role) = (text("login")?, text("role")?);
    let token = access::issue_token(call.platform.sql()?, login, role)?;
    Ok(Response::json(
        StatusCode::CREATED,
        &json!({"token": token, "login": login.trim(), "role": role}),
    ))
}

fn me(call: &Call) -> Response {
    let role = call.principal.as_ref().map(|p| p.role.as_str());
    Response::ok(&json!({"login": call.actor(), "role": role}))
}

fn read_settings(call: &Call) -> Result<Response> {
    Ok(Response::ok(
        &AutocreateSettings::load(call.platform.sql()?, &|| call.platform.kv())?.to_json(),
    ))
}

fn save_settings(call: &Call) -> Result<Response> {
    let settings = AutocreateSettings::parse(&call.req.json()?)?;
    settings.save(call.platform.sql()?)?;
    Ok(Response::ok(&settings.to_json()))
}
