//! CSV import (SPEC §4, §9): a file travels in chunks to one import job, and each chunk is
//! committed by itself.
//!
//! - [`preview`] (pure): encoding (UTF-8 with or without BOM, else Latin-1), delimiter
//!   (`,` `;` tab `|`), header, a suggested mapping, sample rows and a row count; also the
//!   reading of records that every chunk uses.
//! - [`mapping`] (pure): the job's `{mapping, policies, tags, default_region}` checked
//!   against the field catalogue, then bound to the file's header.
//! - [`rows`] (pure): one record turned into its match keys and one [`crate::contacts::contact::Edit`]
//!   per conflict policy, type-checked exactly like a PATCH; and the policies applied to a
//!   contact.
//! - [`chunks`]: one chunk as one [`crate::kernel::jobs::advance`] step — one `BEGIN IMMEDIATE`
//!   transaction that checks the chunk's `seq`, imports its rows set-based (a few multi-row
//!   statements per few hundred rows) and records the counts. A chunk is all or nothing; a
//!   re-sent chunk changes nothing; a chunk ahead of the next expected one is a 409.
//!
//! What the job remembers between chunks lives in SQLite: the file's format and header
//! (`import_files`, from chunk 1), every match key the file has carried with the row that
//! carried it (`import_keys`: a later row with the same key fails), and the failed rows as
//! they were in the file (`import_errors`, served as `errors.csv`).

pub mod chunks;
pub mod mapping;
pub mod preview;
pub mod report;
pub mod rows;

/// The import's part of migration 2.
pub const SCHEMA_V2: &[&str] = &[
    "CREATE TABLE import_files (
        job_id TEXT PRIMARY KEY,
        encoding TEXT NOT NULL,
        delimiter TEXT NOT NULL,
        header TEXT NOT NULL
    ) WITHOUT ROWID",
    // `key` is `id:<contact id>`, `email:<normalized>` or `phone:<E.164>`; `row` the data
    // row (1 = the first after the header) that carried it first.
    "CREATE TABLE import_keys (
        job_id TEXT NOT NULL,
        key TEXT NOT NULL,
        row INTEGER NOT NULL,
        PRIMARY KEY (job_id, key)
    ) WITHOUT ROWID",
    // `record`: the row's fields as they were in the file (a JSON array of strings).
    "CREATE TABLE import_errors (
        job_id TEXT NOT NULL,
        row INTEGER NOT NULL,
        record TEXT NOT NULL,
        error TEXT NOT NULL,
        PRIMARY KEY (job_id, row)
    ) WITHOUT ROWID",
];
