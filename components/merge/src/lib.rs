//! The `merge` component: a thin shell around `contacts_api::merge`.

use spin_sdk::http_component;

#[http_component]
fn handle(req: http::Request<Vec<u8>>) -> http::Response<Vec<u8>> {
    spin_adapter::serve(req, contacts_api::merge::handle)
}
