//! What a component gives the API: storage and configuration. Implemented over Spin's
//! interfaces by `spin-adapter`, and natively for tests.

use contacts_core::kernel::store::{Kv, Sql};
use contacts_core::kernel::values::Region;
use contacts_core::{Error, Result};

pub trait Platform {
    /// The database, opened on first use; its schema is current before anything is written
    /// (`schema::Current` under Spin).
    fn sql(&self) -> Result<&dyn Sql>;
    fn kv(&self) -> Result<&dyn Kv>;
    /// A Spin variable; `None` when unset or empty.
    fn variable(&self, name: &str) -> Option<String>;

    /// The region phone numbers without a country code are read in (`default_region`).
    fn region(&self) -> Result<Region> {
        match self.variable("default_region") {
            None => Ok(Region::default()),
            Some(code) => Region::parse(&code)
                .map_err(|why| Error::Storage(format!("variable default_region: {why}"))),
        }
    }
}
