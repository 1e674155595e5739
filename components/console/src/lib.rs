//! The `console` component: the web console's page and assets (`web/`, built by its
//! `npm run build` into `web/dist/`), served by `contacts_api::console`.

use contacts_api::console::Asset;
use contacts_api::{Platform, Request, Response};
use spin_sdk::http_component;

// `ASSETS: &[Asset]`, written by `web/build.mjs` with each file's path, type, bytes
// (`include_bytes!`) and hash.
include!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/dist/assets.rs"));

fn serve(req: &Request, _platform: &dyn Platform) -> Response {
    contacts_api::console::handle(req, ASSETS)
}

#[http_component]
fn handle(req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
    spin_adapter::serve(req, serve)
}
