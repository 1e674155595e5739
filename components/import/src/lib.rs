//! The `import` component: a thin shell around `contacts_api::import`.

use spin_sdk::http_component;

#[http_component]
fn handle(req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
    spin_adapter::serve(req, contacts_api::import::handle)
}

// Every chunk parses phone numbers: the phone library's state is built at build time.
spin_adapter::export_prewarm!();
