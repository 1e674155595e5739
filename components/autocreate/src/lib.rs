//! The `autocreate` component: a thin shell around `contacts_api::hooks`.

use spin_sdk::http_component;

#[http_component]
fn handle(req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
    spin_adapter::serve(req, contacts_api::hooks::handle)
}

// Webhook events carry phone numbers: parse them without the library's lazy set-up.
spin_adapter::export_prewarm!();
