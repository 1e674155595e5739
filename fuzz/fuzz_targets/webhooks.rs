//! The three webhook payload parsers: any JSON is refused or parsed into events, and the
//! events are applied (resolve, create, associate) without a storage error.
#![no_main]

use std::cell::RefCell;

use contacts_core::contacts::settings::AutocreateSettings;
use contacts_core::hooks::autocreate::{self, generic, meta, telegram};
use contacts_core::kernel::native::MemoryKv;
use contacts_core::kernel::values::Region;
use contacts_fuzz::{assert_no_storage_error, Fixture};
use libfuzzer_sys::fuzz_target;

thread_local! {
    static FIXTURE: RefCell<(Fixture, u32)> = RefCell::new((Fixture::new(), 0));
}

fuzz_target!(|data: &[u8]| {
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    FIXTURE.with(|cell| {
        let mut cell = cell.borrow_mut();
        cell.1 += 1;
        if cell.1 % 5_000 == 0 {
            cell.0 = Fixture::new();
        }
        let f = &cell.0;
        let legacy = MemoryKv::default();
        let settings = AutocreateSettings::load(&f.db, &|| Ok(&legacy)).expect("settings");
        let region = Region::default();
        let mut batches = Vec::new();
        if let Ok(ev) = generic::parse(&json, region) {
            batches.push(vec![ev]);
        }
        if let Ok(events) = meta::parse(&json, region) {
            batches.push(events);
        }
        if let Ok(Some(ev)) = telegram::parse(&json) {
            batches.push(vec![ev]);
        }
        for events in batches {
            assert_no_storage_error("process", autocreate::process(&f.db, &settings, &events));
        }
    });
});
