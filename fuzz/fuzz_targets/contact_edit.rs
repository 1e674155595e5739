//! Create and update bodies: any JSON is refused with a 4xx-kind error or written (create,
//! then the same body as an update of another contact) without a storage error.
#![no_main]

use std::cell::RefCell;

use contacts_core::contacts::contact::{Edit, EditMode};
use contacts_core::contacts::repo;
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
        // A fresh database now and then, so the tables stay small and the run fast.
        cell.1 += 1;
        if cell.1 % 5_000 == 0 {
            cell.0 = Fixture::new();
        }
        let f = &cell.0;
        for mode in [EditMode::Create, EditMode::Update] {
            let _ = Edit::parse(&json, &f.catalogue, f.ctx().region, mode);
        }
        assert_no_storage_error("create", repo::create(f.ctx(), &json));
        assert_no_storage_error("update", repo::update(f.ctx(), "C-FUZZ-3", &json, None));
    });
});
