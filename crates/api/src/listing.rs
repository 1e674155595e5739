//! What every page of contacts reads from its request: which columns it shows (`fields`, or
//! the caller's table view) and how it is cut (`sort`, `limit`, `cursor`).

use contacts_core::contacts::settings::table_view;
use contacts_core::kernel::fields::Catalogue;
use contacts_core::kernel::store::Sql;
use contacts_core::query::page::{self, PageRequest, Where};
use contacts_core::Result;

use crate::http_io::Response;
use crate::routes::Call;

/// `?fields=a,b`, else the caller's saved table view (or the default one).
pub fn columns(call: &Call, db: &dyn Sql, catalogue: &Catalogue) -> Result<Vec<String>> {
    match call.req.param("fields") {
        Some(list) => page::parse_columns(&split_keys(&list), catalogue),
        None => table_view::load(db, &|| call.platform.kv(), call.actor(), catalogue),
    }
}

/// `"a, b,,c"` → `["a", "b", "c"]`.
pub fn split_keys(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A page of the contacts in `scope`, cut as the query string asks.
pub fn page(call: &Call, db: &dyn Sql, catalogue: &Catalogue, scope: Where) -> Result<Response> {
    let sort = match call.req.param("sort") {
        Some(s) => page::parse_sort_param(&s, catalogue)?,
        None => Vec::new(),
    };
    let cursor = call.req.param("cursor");
    let page = page::page(
        db,
        catalogue,
        &PageRequest {
            scope,
            sort,
            limit: page::check_limit(call.req.int_param("limit")?)?,
            cursor: cursor.as_deref(),
            columns: columns(call, db, catalogue)?,
        },
    )?;
    Ok(Response::ok(&page.to_json()))
}
