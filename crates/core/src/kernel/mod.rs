//! The shared kernel every domain stands on: validated values, the field catalogue, the one
//! error type, the storage ports, the schema and its migrations, and the job mechanism that
//! bulk updates and imports share.

pub mod error;
pub mod fields;
pub mod jobs;
pub mod phone_plan;
pub mod schema;
pub mod store;
pub mod values;

#[cfg(any(test, feature = "native"))]
pub mod native;
