//! What every page of contacts reads from its request: which columns it shows (`fields`, or
//! the caller's table view) and how it is cut (`sort`, `limit`, `cursor`).

use contacts_core::contacts::settings::table_view;
use contacts_core::kernel::fields::Catalogue;
use contacts_core::kernel::store::Sql;
use contacts_core::query::page::{self, PageRequest, Where};
use contacts_core::Result;

use crate::http_io::Response;
use crate::routes::Call;

/// The field catalogue and the columns a page shows: `?fields=a,b`, else the caller's saved
/// table view (or the default one), read with the catalogue in one statement.
pub fn catalogue_and_columns(call: &Call, db: &dyn Sql) -> Result<(Catalogue, Vec<String>)> {
    match call.req.param("fields") {
        Some(list) => {
            let catalogue = Catalogue::load(db)?;
            let columns = page::parse_columns(&split_keys(&list), &catalogue)?;
            Ok((catalogue, columns))
        }
        None => table_view::load(db, &|| call.platform.kv(), call.actor()),
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

/// A page of the contacts in `scope`, cut as the query string asks, showing `columns`
/// ([`catalogue_and_columns`]).
pub fn page(
    call: &Call,
    db: &dyn Sql,
    catalogue: &Catalogue,
    columns: Vec<String>,
    scope: Where,
) -> Result<Response> {
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
            columns,
        },
    )?;
    Ok(Response::ok(&page.to_json()))
}
