//! The contacts domain: the field catalogue, validated values, the SQLite schema, and the
//! operations on contacts. It talks to storage only through [`store::Sql`] and
//! [`store::Kv`], and knows nothing about Spin, HTTP or wasmtime.

pub mod access;
pub mod autocreate;
pub mod blocks;
pub mod bulk;
pub mod contact;
pub mod error;
pub mod fields;
pub mod filter;
pub mod history;
pub mod import;
pub mod jobs;
pub mod merge;
pub mod query;
pub mod repo;
pub mod schema;
pub mod search;
pub mod segments;
pub mod settings;
pub mod store;
pub mod values;

#[cfg(any(test, feature = "native"))]
pub mod native;

pub use error::{Error, Result};
