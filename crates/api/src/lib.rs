//! The HTTP API of the contacts components, independent of the runtime: a component hands
//! a [`Request`] and a [`Platform`] (its storage and variables) to a module's `handle`, and
//! sends back the [`Response`]. Runs natively in tests and under Spin in components.

pub mod block;
pub mod bulk;
pub mod console;
pub mod crud;
pub mod filter;
pub mod hooks;
pub mod http_io;
pub mod import;
pub mod listing;
pub mod merge;
pub mod openapi;
pub mod platform;
pub mod problem;
pub mod routes;
pub mod search;

pub use http_io::{Request, Response};
pub use platform::Platform;
