//! The `autocreate` component's routes (SPEC §2, §8): webhooks from chat platforms.
//!
//! Every delivery is authenticated on its raw body before the body is parsed; a missing or
//! wrong signature, or a hook whose secret variable is empty (not configured), is a 401 with
//! nothing stored. A delivery's events are parsed whole before anything is written, so a bad
//! payload is a 4xx problem and never half-applied. Each event is answered with
//! `{contact_id, created, dropped, duplicate}`; Meta and Telegram deliveries with
//! `{"results": [..]}` (empty for deliveries that carry no contact event, e.g. WhatsApp
//! status updates), so the platform never retries what was accepted.

mod signature;

use contacts_core::hooks::autocreate::{self, generic, meta, telegram, Event, Outcome};
use contacts_core::{Error, Result};
use http::StatusCode;
use serde_json::{json, Value as Json};

use crate::http_io::{Response, MAX_JSON_BODY};
use crate::problem;
use crate::routes::{self, ok, route, Access, Answer, Call, RouteDoc};

pub const ROUTES: &[RouteDoc] = &[
    route(
        "POST",
        "/hooks/events",
        Access::Signed,
        "A generic platform event (X-Contacts-Signature: sha256=<HMAC of the body with events_hmac_secret>)",
        ok("HookResult"),
    )
    .body("GenericEvent"),
    route(
        "GET",
        "/hooks/meta",
        Access::Signed,
        "Meta's webhook verification handshake: answers hub.challenge",
        Answer::Text,
    )
    .query(&["hub.mode", "hub.verify_token", "hub.challenge"]),
    route(
        "POST",
        "/hooks/meta",
        Access::Signed,
        "WhatsApp Cloud API, Messenger and Instagram webhooks (X-Hub-Signature-256 with meta_app_secret)",
        ok("HookResults"),
    )
    .body("MetaDelivery"),
    route(
        "POST",
        "/hooks/telegram",
        Access::Signed,
        "A Telegram Bot API update (X-Telegram-Bot-Api-Secret-Token: telegram_secret_token)",
        ok("HookResults"),
    )
    .body("TelegramUpdate"),
];

pub fn handle(req: &crate::Request, platform: &dyn crate::Platform) -> Response {
    routes::serve(req, platform, ROUTES, dispatch)
}

fn dispatch(call: &Call) -> Result<Response> {
    match (call.route.method, call.route.path) {
        ("POST", "/hooks/events") => events(call),
        ("GET", "/hooks/meta") => meta_handshake(call),
        ("POST", "/hooks/meta") => meta_hook(call),
        ("POST", "/hooks/telegram") => telegram_hook(call),
        _ => routes::unrouted(call),
    }
}

fn events(call: &Call) -> Result<Response> {
    const HEADER: &str = "x-contacts-signature";
    if !hmac_signed(call, "events_hmac_secret", HEADER)? {
        return Ok(refused(HEADER));
    }
    let event = generic::parse(&call.req.json()?, call.platform.region()?)?;
    let outcome = apply(call, &[event])?
        .into_iter()
        .next()
        .ok_or_else(|| Error::Storage("auto-create answered no outcome for an event".into()))?;
    Ok(Response::ok(&outcome.to_json()))
}

fn meta_hook(call: &Call) -> Result<Response> {
    const HEADER: &str = "x-hub-signature-256";
    if !hmac_signed(call, "meta_app_secret", HEADER)? {
        return Ok(refused(HEADER));
    }
    let events = meta::parse(&call.req.json()?, call.platform.region()?)?;
    results(apply(call, &events)?)
}

fn telegram_hook(call: &Call) -> Result<Response> {
    const HEADER: &str = "x-telegram-bot-api-secret-token";
    check_size(call)?;
    let expected = call
        .platform
        .variable("telegram_secret_token")
        .unwrap_or_default();
    if !signature::token_matches(&expected, call.req.header(HEADER)) {
        return Ok(refused(HEADER));
    }
    let events: Vec<Event> = telegram::parse(&call.req.json()?)?.into_iter().collect();
    results(apply(call, &events)?)
}

/// Meta's subscription check: echo `hub.challenge` when `hub.verify_token` is ours.
fn meta_handshake(call: &Call) -> Result<Response> {
    let expected = call
        .platform
        .variable("meta_verify_token")
        .unwrap_or_default();
    let token = call.req.param("hub.verify_token");
    if !signature::token_matches(&expected, token.as_deref()) {
        return Err(Error::Forbidden(
            "hub.verify_token is not this app's meta_verify_token".into(),
        ));
    }
    match call.req.param("hub.mode").as_deref() {
        Some("subscribe") => {}
        Some(_) => return Err(Error::invalid("hub.mode", "must be subscribe")),
        None => return Err(missing_param("hub.mode")),
    }
    let challenge = call
        .req
        .param("hub.challenge")
        .filter(|c| !c.is_empty())
        .ok_or_else(|| missing_param("hub.challenge"))?;
    if challenge.len() > 256 {
        return Err(Error::invalid("hub.challenge", "at most 256 characters"));
    }
    Ok(Response {
        status: StatusCode::OK,
        headers: vec![
            ("content-type", "text/plain; charset=utf-8".into()),
            ("x-content-type-options", "nosniff".into()),
        ],
        body: challenge.into_bytes(),
    })
}

fn missing_param(name: &str) -> Error {
    Error::Malformed {
        detail: format!("query parameter {name} is missing"),
        field: Some(name.into()),
    }
}

fn check_size(call: &Call) -> Result<()> {
    if call.req.body.len() > MAX_JSON_BODY {
        return Err(Error::TooLarge {
            detail: format!("a webhook body may be at most {MAX_JSON_BODY} bytes"),
        });
    }
    Ok(())
}

/// Whether the raw body carries a valid `sha256=` HMAC keyed by the variable `secret`.
fn hmac_signed(call: &Call, secret: &str, header: &str) -> Result<bool> {
    check_size(call)?;
    let secret = call.platform.variable(secret).unwrap_or_default();
    Ok(signature::hmac_sha256_matches(
        &secret,
        &call.req.body,
        call.req.header(header),
    ))
}

/// The 401 for a delivery that is not signed (or whose hook has no secret configured).
fn refused(header: &str) -> Response {
    let body = json!({
        "type": problem::type_uri("unauthenticated"),
        "title": "Unauthenticated",
        "status": 401,
        "detail": format!("missing or invalid {header}; nothing was stored"),
    });
    Response {
        status: StatusCode::UNAUTHORIZED,
        headers: vec![("content-type", "application/problem+json".into())],
        body: body.to_string().into_bytes(),
    }
}

fn apply(call: &Call, events: &[Event]) -> Result<Vec<Outcome>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    autocreate::receive(call.platform.sql()?, &|| call.platform.kv(), events)
}

fn results(outcomes: Vec<Outcome>) -> Result<Response> {
    let items: Vec<Json> = outcomes.iter().map(Outcome::to_json).collect();
    Ok(Response::ok(&json!({ "results": items })))
}

#[cfg(test)]
mod tests;
