//! The `crud` component: a thin shell around `contacts_api::crud`.

use spin_sdk::http_component;

#[http_component]
fn handle(req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
    spin_adapter::serve(req, contacts_api::crud::handle)
}

spin_adapter::export_prewarm!();
