//! The `bulk` component: a thin shell around `contacts_api::bulk`.

use spin_sdk::http_component;

#[http_component]
fn handle(req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
    spin_adapter::serve(req, contacts_api::bulk::handle)
}
