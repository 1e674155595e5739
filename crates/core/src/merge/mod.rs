//! Merge (SPEC §3 Merge, §8, §9): finding contacts that may be one person, and merging up
//! to 25 of them into one.
//!
//! - [`duplicates`] — detection. Two contacts are possible duplicates when they hold the
//!   same match key: a normalized email or E.164 phone (primary, mobile or secondary, either
//!   side), an identity whose external id is such an email or phone (WhatsApp, SMS, voice,
//!   email channels), or the same full name and company (weak evidence). One SQL definition
//!   serves the count on a contact read and the per-contact list; `duplicate_keys`, kept by
//!   triggers, lists every shared key so groups page through an index.
//! - [`plan`] — the merged contact, pure: the primary's non-empty values win, its empty ones
//!   come from the most recently updated secondary that has one (custom values too); tags
//!   and identities are united; every email and phone of the secondaries that is not the
//!   merged contact's own becomes a secondary one; `created_at` is the oldest,
//!   `last_activity_at` the newest, conversation and dropped-message counts are summed.
//! - [`apply`] — the merge in one `BEGIN IMMEDIATE` transaction: identities and
//!   conversations move to the primary, the secondaries (with their tags and match keys) are
//!   deleted, the primary is rewritten, the secondaries' history becomes the primary's, and
//!   a `merge` item naming them is recorded. A dry run is the same transaction rolled back.
//!
//! The invariant: a merge leaves every contact either merged or untouched. Everything it
//! writes is in one transaction holding the write lock from its first read, so a racing
//! merge of the same contacts finds them gone (404) or waits, and a chat event for a
//! secondary's identity lands on the secondary before (then moves with it) or on the
//! primary after; none is lost.

pub mod apply;
pub mod duplicates;
pub mod plan;

use serde_json::Value as Json;

use crate::contacts::contact::type_mismatch;
use crate::kernel::error::{Error, Result};
use crate::kernel::values::ContactId;

pub use apply::{merge, Merged};

/// Contacts one merge takes, primary included (SPEC §3).
pub const MAX_CONTACTS: usize = 25;

/// Part of schema version 2: the identities' match keys, the shared-key list and its
/// triggers, and the merged Contact IDs a history item names.
pub const SCHEMA_V2: &[&str] = &["ALTER TABLE history ADD COLUMN merged TEXT"];

/// `POST /api/merge` `{primary, secondaries, dry_run?}`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeRequest {
    pub primary: ContactId,
    /// 1 to 24, none repeated, none the primary.
    pub secondaries: Vec<ContactId>,
    pub dry_run: bool,
}

impl MergeRequest {
    pub fn parse(body: &Json) -> Result<MergeRequest> {
        let obj = body
            .as_object()
            .ok_or_else(|| Error::malformed("the body must be a JSON object"))?;
        let primary = contact_id(obj.get("primary"), "primary")?;
        let items = obj
            .get("secondaries")
            .and_then(Json::as_array)
            .ok_or_else(|| type_mismatch("secondaries", "an array of Contact IDs"))?;
        if items.is_empty() || items.len() >= MAX_CONTACTS {
            return Err(Error::invalid(
                "secondaries",
                format!(
                    "must list 1 to {} Contact IDs ({MAX_CONTACTS} contacts at most with the primary); it lists {}",
                    MAX_CONTACTS - 1,
                    items.len()
                ),
            ));
        }
        let mut secondaries: Vec<ContactId> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let field = format!("secondaries[{i}]");
            let id = contact_id(Some(item), &field)?;
            if id == primary {
                return Err(Error::invalid(&field, "is the primary"));
            }
            if let Some(j) = secondaries.iter().position(|s| *s == id) {
                return Err(Error::invalid(
                    &field,
                    format!("repeats secondaries[{j}] ({})", id.as_str()),
                ));
            }
            secondaries.push(id);
        }
        let dry_run = match obj.get("dry_run") {
            None | Some(Json::Null) => false,
            Some(v) => v
                .as_bool()
                .ok_or_else(|| type_mismatch("dry_run", "a boolean"))?,
        };
        Ok(MergeRequest {
            primary,
            secondaries,
            dry_run,
        })
    }
}

/// A Contact ID at `field`: a string, else 400; not a valid ID, else 422.
fn contact_id(v: Option<&Json>, field: &str) -> Result<ContactId> {
    let s = v
        .and_then(Json::as_str)
        .ok_or_else(|| type_mismatch(field, "a Contact ID string"))?;
    // `ContactId::parse` names `contact_id`; here the culprit is `field`.
    ContactId::parse(s).map_err(|e| match e {
        Error::Invalid { detail, .. } => Error::invalid(field, detail),
        other => other,
    })
}

#[cfg(test)]
mod tests;
