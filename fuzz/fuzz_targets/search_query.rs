//! Search: any text is refused (empty, too long) or folded into FTS5 queries that run, at
//! every rank, without an error from SQLite (the folding must quote whatever FTS5 would
//! read as syntax).
#![no_main]

use std::cell::RefCell;

use contacts_core::query::page::system_segment;
use contacts_core::search::{self, Query, SearchRequest};
use contacts_fuzz::{assert_no_storage_error, Fixture};
use libfuzzer_sys::fuzz_target;

thread_local! {
    static FIXTURE: RefCell<Fixture> = RefCell::new(Fixture::new());
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(query) = Query::parse(text) else {
        return;
    };
    FIXTURE.with(|f| {
        let f = f.borrow();
        let req = SearchRequest {
            query: &query,
            scope: system_segment("all").expect("segment all"),
            segment: "all",
            limit: 50,
            cursor: None,
            columns: vec!["first_name".into(), "email".into()],
        };
        assert_no_storage_error("search", search::search(&f.db, &f.catalogue, &req));
    });
});
