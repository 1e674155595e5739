//! What the fuzz targets share: a database with the app's schema, a custom field of every
//! type, and a few contacts, so parsed inputs run as real SQL against real rows.

use contacts_core::contacts::repo::{self, Ctx};
use contacts_core::kernel::fields::{custom, Catalogue, CustomFieldDef};
use contacts_core::kernel::native::NativeSql;
use contacts_core::kernel::values::Region;
use contacts_core::{kernel::schema, Error};
use serde_json::json;

pub struct Fixture {
    pub db: NativeSql,
    pub catalogue: Catalogue,
}

impl Fixture {
    pub fn new() -> Fixture {
        let db = NativeSql::open_in_memory();
        schema::ensure(&db).expect("schema");
        let defs = json!([
            {"key": "tier", "label": "Tier", "type": "single_select", "options": ["Gold", "Silver"]},
            {"key": "score", "label": "Score", "type": "number"},
            {"key": "vip", "label": "VIP", "type": "checkbox"},
            {"key": "renewal", "label": "Renewal", "type": "date"},
            {"key": "seen", "label": "Seen", "type": "datetime"},
            {"key": "notes", "label": "Notes", "type": "text"},
            {"key": "bio", "label": "Bio", "type": "long_text"},
            {"key": "interests", "label": "Interests", "type": "multi_select", "options": ["music", "tech"]},
            {"key": "site", "label": "Site", "type": "link"},
            {"key": "alt_email", "label": "Alt email", "type": "email"},
            {"key": "alt_phone", "label": "Alt phone", "type": "phone"},
        ]);
        for def in serde_json::from_value::<Vec<CustomFieldDef>>(defs).expect("defs") {
            custom::create(&db, &def).expect("custom field");
        }
        let catalogue = Catalogue::load(&db).expect("catalogue");
        let fixture = Fixture { db, catalogue };
        for body in [
            json!({"first_name": "Ana", "last_name": "Lima", "email": "ana@example.com", "phone": "+14155550132",
                   "tags": ["vip"], "custom": {"tier": "Gold", "score": 7, "vip": true, "interests": ["music"]}}),
            json!({"first_name": "José", "last_name": "O'Hara", "email": "jose@example.org", "city": "São Paulo",
                   "custom": {"notes": "100% a_b", "renewal": "2026-02-28"}}),
            json!({"contact_id": "C-FUZZ-3", "company": "Acme", "lead_stage": "customer"}),
        ] {
            repo::create(fixture.ctx(), &body).expect("fixture contact");
        }
        fixture
    }

    pub fn ctx(&self) -> Ctx<'_> {
        Ctx {
            db: &self.db,
            catalogue: &self.catalogue,
            region: Region::default(),
            actor: "fuzz",
        }
    }
}

impl Default for Fixture {
    fn default() -> Self {
        Fixture::new()
    }
}

/// A storage error on an input the parsers accepted is the bug these targets look for (SQL
/// the compiler should never have produced); every other error is a refusal, which is fine.
pub fn assert_no_storage_error<T>(what: &str, result: Result<T, Error>) {
    if let Err(Error::Storage(msg)) = result {
        panic!("{what}: a parsed input reached SQLite and failed: {msg}");
    }
}
