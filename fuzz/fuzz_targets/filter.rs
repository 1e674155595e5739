//! The filter language: any JSON either is refused with a 4xx-kind error or parses to a
//! filter whose SQL (both readings) runs without error.
#![no_main]

use std::cell::RefCell;

use chrono::{TimeZone, Utc};
use contacts_core::kernel::store::Sql;
use contacts_core::query::filter::{Clock, Filter, Reading};
use contacts_fuzz::{assert_no_storage_error, Fixture};
use libfuzzer_sys::fuzz_target;

thread_local! {
    static FIXTURE: RefCell<Fixture> = RefCell::new(Fixture::new());
}

fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    FIXTURE.with(|f| {
        let f = f.borrow();
        let Ok(filter) = Filter::parse(&json, &f.catalogue) else {
            return;
        };
        let now = Utc.with_ymd_and_hms(2026, 3, 29, 0, 30, 0).unwrap();
        for tz in [
            chrono_tz::UTC,
            chrono_tz::Europe::Lisbon,
            chrono_tz::America::Sao_Paulo,
        ] {
            let clock = Clock::new(now, tz);
            for reading in [Reading::Page, Reading::Every] {
                let w = filter.compile(&clock, reading);
                let sql = format!("SELECT count(*) FROM contacts c WHERE {}", w.sql);
                assert_no_storage_error(&sql, f.db.execute(&sql, &w.params).map_err(Into::into));
            }
        }
    });
});
