//! The contacts domain: the field catalogue, validated values, the SQLite schema, and the
//! operations on contacts. It talks to storage only through [`kernel::store::Sql`] and
//! [`kernel::store::Kv`], and knows nothing about Spin, HTTP or wasmtime.
//!
//! One folder per domain, each a room a newcomer can find: [`kernel`] (what every domain
//! stands on), [`contacts`], [`query`], [`search`], [`hooks`], [`merge`], [`bulk`] and
//! [`import`].

pub mod bulk;
pub mod contacts;
pub mod hooks;
pub mod import;
pub mod kernel;
pub mod merge;
pub mod query;
pub mod search;

pub use kernel::error::{Error, Result};
