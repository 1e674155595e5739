//! What chat platforms cause: contacts auto-created from their events, exactly once, and
//! blocking, which drops a contact's events.

pub mod autocreate;
pub mod blocks;
