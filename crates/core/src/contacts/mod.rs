//! Contacts themselves: the record and the edits callers send, storage (create, read,
//! update, delete in one transaction), history, access tokens and settings documents.

pub mod access;
pub mod contact;
pub mod history;
pub mod phones;
pub mod repo;
pub mod settings;
