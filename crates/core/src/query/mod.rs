//! Finding contacts: pages with sorts and keyset cursors, the filter language compiled to
//! SQL, and segments (system and saved) with their counts.

pub mod filter;
pub mod page;
pub mod segments;
