//! Every documented route reaches a handler, natively: the route tables are the router.

use std::cell::OnceCell;

use contacts_api::routes::{self, Access};
use contacts_api::{Platform, Request};
use contacts_core::kernel::native::{MemoryKv, NativeSql};
use contacts_core::kernel::store::{Kv, Sql};
use contacts_core::{kernel::schema, Result};
use http::Method;

#[derive(Default)]
struct Native {
    sql: OnceCell<NativeSql>,
    kv: MemoryKv,
}

impl Platform for Native {
    fn sql(&self) -> Result<&dyn Sql> {
        Ok(self.sql.get_or_init(|| {
            let db = NativeSql::open_in_memory();
            schema::ensure(&db).expect("schema");
            db
        }))
    }
    fn kv(&self) -> Result<&dyn Kv> {
        Ok(&self.kv)
    }
    fn variable(&self, name: &str) -> Option<String> {
        (name == "admin_token").then(|| "t".to_owned())
    }
}

#[test]
fn every_documented_route_is_dispatched() {
    for (component, table) in routes::all() {
        for doc in table {
            let path = doc
                .path
                .replace("{id}", "X1")
                .replace("{key}", "k")
                .replace("{job}", "j1")
                .replace("{seq}", "1");
            let mut req = Request::new(doc.method.parse::<Method>().unwrap(), &path);
            req.headers
                .insert("authorization", "Bearer t".parse().unwrap());
            req.body = b"{}".to_vec();
            let platform = Native::default();
            let resp = match component {
                "crud" => contacts_api::crud::handle(&req, &platform),
                "autocreate" => contacts_api::hooks::handle(&req, &platform),
                "block" => contacts_api::block::handle(&req, &platform),
                "import" => contacts_api::import::handle(&req, &platform),
                "filter" => contacts_api::filter::handle(&req, &platform),
                "search" => contacts_api::search::handle(&req, &platform),
                "merge" => contacts_api::merge::handle(&req, &platform),
                "bulk" => contacts_api::bulk::handle(&req, &platform),
                other => panic!("no handler registered in this test for component {other}"),
            };
            let body = String::from_utf8_lossy(&resp.body);
            assert!(
                resp.status != 404 || !body.contains("no route"),
                "{} {} is documented but not routed",
                doc.method,
                doc.path
            );
            assert_ne!(resp.status, 405, "{} {}", doc.method, doc.path);
            assert!(
                !body.contains("has no handler"),
                "{} {} has no handler",
                doc.method,
                doc.path
            );
            if doc.access == Access::Public {
                assert_eq!(resp.status, 200, "{} {}", doc.method, doc.path);
            }
        }
    }
}

#[test]
fn openapi_lists_every_route() {
    let doc = contacts_api::openapi::document();
    for (_, table) in routes::all() {
        for r in table {
            assert!(
                doc["paths"][r.path][r.method.to_lowercase()].is_object(),
                "{} {} missing from the OpenAPI document",
                r.method,
                r.path
            );
        }
    }
}
