//! Search (SPEC §3, §8, §9): fuzzy over first name, last name, email and phone, whole-word
//! over searchable custom fields, ranked exact > prefix > substring > typo, within a
//! segment, in pages.
//!
//! Two FTS5 indexes, kept in step with `contacts` by triggers (so every writer — create,
//! update, delete, merge, import, auto-create, bulk — keeps them current in its own
//! transaction, and none has to know they exist; writers that add or change contacts also
//! call [`upkeep`] (one write in sixteen, [`upkeep_due`]), which keeps each index in few
//! segments, or, writing many contacts at once, run through [`bulk_write`], which bounds
//! the merge work by the write's size):
//! - `search_words` (unicode61, diacritics removed, prefix indexes for 1 to 3 characters):
//!   name words, each email as one token (secondary ones too), phone digits (secondary
//!   phones' E.164 ones too), searchable custom values. Answers
//!   the exact rank, the prefix rank of numbers and of words up to three letters, custom
//!   fields, and typos (name words one edit away from a query word, found in
//!   `search_name_terms`, the vocabulary of distinct names, then looked up as whole words).
//! - `search_grams` (trigram, diacritics removed): names with every word after two spaces,
//!   emails and phone digits likewise, secondary ones included. Answers substrings and the prefix rank of longer and email-like
//!   words ([`Query::prefix`] says why each); the two spaces make a one- or two-letter word
//!   prefix a three-character string it can look up.
//!
//! A page is one statement per rank, best first, each an FTS5 query in index row-id order
//! (the negated contact id: newest first) joined to `contacts` by row id for the segment's
//! condition and the shown columns, under the LIMIT the page has left; the ranks stop once
//! the page is full, so a query touches about as many index entries as it shows, never
//! every contact. A rank leaves out the rows of the better ones: on a first page, by the
//! ids those found (each stopped short of a page, so it found all it has), where a single
//! statement would have to run their look-ups again; after a cursor, by those look-ups.
//! The typo rank first needs its candidates, a statement run only when the page still has
//! room. The order within a rank is the row id, which makes the cursor (rank, last row id)
//! exact.

mod typo;
mod upkeep;
mod words;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value as Json};

use crate::kernel::error::{Error, Result};
use crate::kernel::fields::Catalogue;
use crate::kernel::store::{Sql, Value};
use crate::query::page::{item_json, projection, Page, Where};

pub use upkeep::{bulk_write, settle, upkeep, upkeep_due};
pub use words::{Check, Query, Rank, MAX_QUERY_CHARS};

/// `x` with the letters of [`words::FOLD`] folded (SQLite's `remove_diacritics` keeps them).
macro_rules! fold {
    ($x:expr) => {
        concat!(
            "replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(",
            $x,
            ", 'ı', 'i'), 'ø', 'o'), 'Ø', 'o'), 'ł', 'l'), 'Ł', 'l'), 'đ', 'd'), 'Đ', 'd'), 'ß', 'ss'), 'æ', 'ae'), 'Æ', 'ae'), 'œ', 'oe'), 'Œ', 'oe')"
        )
    };
}

/// `x` with each of [`words::NAME_SEPARATORS`] made two spaces.
macro_rules! separate {
    ($x:expr) => {
        concat!(
            "replace(replace(replace(replace(replace(replace(",
            $x,
            ", ' ', '  '), '-', '  '), '''', '  '), '’', '  '), '.', '  '), ',', '  ')"
        )
    };
}

/// The digits of a phone as entered: [`words::PHONE_PUNCTUATION`] dropped.
macro_rules! digits {
    ($x:expr) => {
        concat!(
            "replace(replace(replace(replace(replace(replace(replace(",
            $x,
            ", ' ', ''), '-', ''), '(', ''), ')', ''), '.', ''), '+', ''), '/', '')"
        )
    };
}

/// The searchable custom values of the contacts row `$r`, one space apart: every type but
/// checkbox, date and datetime. A type never changes and a key is never reused, so this is
/// stable for the row.
macro_rules! custom_values {
    ($r:literal) => {
        concat!(
            "(SELECT group_concat(j.value, ' ') FROM json_each(",
            $r,
            ".custom) j JOIN custom_fields f ON f.key = j.key \
             WHERE f.deleted_at IS NULL AND f.type NOT IN ('checkbox', 'date', 'datetime'))"
        )
    };
}

/// Every email of the contacts row `$r`, lower-cased, one space apart: the primary one, then
/// the secondary ones (where a merge puts the secondaries' emails). SQLite's `lower` folds
/// ASCII only; the tokenizers fold the rest inside the indexes.
macro_rules! all_emails {
    ($r:literal) => {
        concat!(
            "concat_ws(' ', ",
            $r,
            ".email_norm, (SELECT group_concat(lower(j.value), ' ') FROM json_each(",
            $r,
            ".secondary_emails) j))"
        )
    };
}

/// The digits of every phone of the contacts row `$r`, one space apart: `search_phone`
/// (phone and mobile, E.164 and as entered), then each secondary phone's E.164 digits.
macro_rules! all_phones {
    ($r:literal) => {
        concat!(
            "concat_ws(' ', ",
            $r,
            ".search_phone, (SELECT group_concat(substr(j.value, 2), ' ') FROM json_each(",
            $r,
            ".secondary_phone_keys) j))"
        )
    };
}

/// What schema version 1 indexed for the contacts row `$r` (its triggers are frozen with it;
/// [`indexed_all`] is what has been indexed since version 2): `rowid, column…` of one index,
/// as one string literal. An index row's id is the contact's
/// row id negated: pages list newest first, and FTS5 walks its lists forward much faster than
/// backward when a query has several terms (a 12-character email window at 1M: 0.87 ms
/// forward, 2.0 ms backward), so negated ids make newest-first the forward walk. Folding and digit-picking live
/// once, in the generated `search_*` columns of [`SCHEMA`]: SQLite parses every trigger on
/// every connection it opens (one per request under Spin), so each copy of them here would
/// slow down every request of every component.
macro_rules! indexed {
    (words, $r:literal) => {
        concat!(
            "-",
            $r,
            ".id, ",
            $r,
            ".search_name, ",
            $r,
            ".search_email, ",
            $r,
            ".search_phone, ",
            custom_values!($r)
        )
    };
    (grams, $r:literal) => {
        concat!(
            "-",
            $r,
            ".id, '  ' || ",
            separate!(concat!($r, ".search_name")),
            ", '  ' || coalesce(",
            $r,
            ".email_norm, ''), '  ' || replace(",
            $r,
            ".search_phone, ' ', '  ')"
        )
    };
}

/// The values indexed for the contacts row `$r` (`new` in triggers, `c` when re-indexing):
/// [`indexed`] with the secondary emails and phones added to the email and phone columns, so
/// that search finds a contact by any address it holds (after a merge, the secondaries').
macro_rules! indexed_all {
    (words, $r:literal) => {
        concat!(
            "-",
            $r,
            ".id, ",
            $r,
            ".search_name, concat_ws(' ', ",
            $r,
            ".search_email, (SELECT group_concat(",
            // The generated `search_email`'s expression: each address one token.
            "replace(replace(replace(replace(replace(replace(\
               lower(j.value), '.', ''), '@', ''), '_', ''), '-', ''), '+', ''), '''', '')",
            ", ' ') FROM json_each(",
            $r,
            ".secondary_emails) j)), ",
            $crate::search::all_phones!($r),
            ", ",
            $crate::search::custom_values!($r)
        )
    };
    (grams, $r:literal) => {
        concat!(
            "-",
            $r,
            ".id, '  ' || ",
            $crate::search::separate!(concat!($r, ".search_name")),
            ", '  ' || replace(",
            $crate::search::all_emails!($r),
            ", ' ', '  '), '  ' || replace(",
            $crate::search::all_phones!($r),
            ", ' ', '  ')"
        )
    };
}

/// The statements that index row `new` with the values `$indexed` gives.
macro_rules! index_row {
    (names) => {
        "INSERT OR IGNORE INTO search_names (name) \
           SELECT new.search_first WHERE new.search_first <> '' \
           UNION ALL SELECT new.search_last WHERE new.search_last <> '';"
    };
    (words, $indexed:ident) => {
        concat!(
            "INSERT INTO search_words (rowid, name, email, phone, custom) VALUES (",
            $indexed!(words, "new"),
            ");"
        )
    };
    (grams, $indexed:ident) => {
        concat!(
            "INSERT INTO search_grams (rowid, name, email, phone) VALUES (",
            $indexed!(grams, "new"),
            ");"
        )
    };
}

/// The triggers that keep both indexes in step with `contacts`, indexing with `$indexed`;
/// an update re-indexes when `$changed` holds. A bulk save sets every column: the
/// conditions keep tag, owner or block changes (bulk updates of a million rows) from
/// re-indexing.
macro_rules! triggers {
    ($indexed:ident, $changed:expr) => {
        [
            concat!(
                "CREATE TRIGGER contacts_search_insert AFTER INSERT ON contacts BEGIN ",
                index_row!(words, $indexed),
                index_row!(grams, $indexed),
                index_row!(names),
                " END"
            ),
            concat!(
                "CREATE TRIGGER contacts_search_update_words AFTER UPDATE ON contacts WHEN ",
                $changed,
                " OR old.custom IS NOT new.custom BEGIN \
                 DELETE FROM search_words WHERE rowid = -old.id; ",
                index_row!(words, $indexed),
                index_row!(names),
                " END"
            ),
            concat!(
                "CREATE TRIGGER contacts_search_update_grams AFTER UPDATE ON contacts WHEN ",
                $changed,
                " BEGIN DELETE FROM search_grams WHERE rowid = -old.id; ",
                index_row!(grams, $indexed),
                " END"
            ),
        ]
    };
}

/// What version 1 re-indexed on: names, the primary email, phone and mobile.
macro_rules! changed_v1 {
    () => {
        "old.first_name IS NOT new.first_name OR old.last_name IS NOT new.last_name \
         OR old.email_norm IS NOT new.email_norm OR old.phone IS NOT new.phone \
         OR old.phone_e164 IS NOT new.phone_e164 OR old.mobile IS NOT new.mobile \
         OR old.mobile_e164 IS NOT new.mobile_e164"
    };
}

const TRIGGERS_V1: [&str; 3] = triggers!(indexed, changed_v1!());

const TRIGGERS: [&str; 3] = triggers!(
    indexed_all,
    concat!(
        changed_v1!(),
        " OR old.secondary_emails IS NOT new.secondary_emails \
         OR old.secondary_phone_keys IS NOT new.secondary_phone_keys"
    )
);

pub const SCHEMA: &[&str] = &[
    // What the indexes hold, derived from a contact's columns in one place. Virtual:
    // computed when read (by the triggers below), never stored.
    concat!(
        "ALTER TABLE contacts ADD COLUMN search_first TEXT GENERATED ALWAYS AS (",
        fold!("first_name"),
        ") VIRTUAL"
    ),
    concat!(
        "ALTER TABLE contacts ADD COLUMN search_last TEXT GENERATED ALWAYS AS (",
        fold!("last_name"),
        ") VIRTUAL"
    ),
    "ALTER TABLE contacts ADD COLUMN search_name TEXT \
       GENERATED ALWAYS AS (concat_ws(' ', search_first, search_last)) VIRTUAL",
    // [`words::EMAIL_GLUE`] dropped: the whole address is one token.
    "ALTER TABLE contacts ADD COLUMN search_email TEXT GENERATED ALWAYS AS \
       (replace(replace(replace(replace(replace(replace(\
         email_norm, '.', ''), '@', ''), '_', ''), '-', ''), '+', ''), '''', '')) VIRTUAL",
    // The digits of every phone, E.164 and as entered, one space apart.
    concat!(
        "ALTER TABLE contacts ADD COLUMN search_phone TEXT GENERATED ALWAYS AS \
           (concat_ws(' ', substr(phone_e164, 2), ",
        digits!("phone"),
        ", substr(mobile_e164, 2), ",
        digits!("mobile"),
        ")) VIRTUAL"
    ),
    // Contentless (the text lives in `contacts`) with contentless_delete, so a trigger
    // removes a row by id without having to recompute what was indexed for it.
    "CREATE VIRTUAL TABLE search_words USING fts5(name, email, phone, custom, \
       tokenize = 'unicode61 remove_diacritics 2', prefix = '1 2 3', \
       content = '', contentless_delete = 1)",
    "CREATE VIRTUAL TABLE search_grams USING fts5(name, email, phone, \
       tokenize = 'trigram remove_diacritics 1', content = '', contentless_delete = 1)",
    // Every distinct first and last name ever stored, folded, once: the vocabulary typo
    // tolerance looks in. Names of deleted contacts stay; they only cost a look-up.
    "CREATE TABLE search_names (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
    "CREATE INDEX search_names_lower ON search_names (lower(name))",
    "CREATE VIRTUAL TABLE search_name_words USING fts5(name, \
       tokenize = 'unicode61 remove_diacritics 2', content = '', detail = none)",
    "CREATE VIRTUAL TABLE search_name_terms USING fts5vocab(search_name_words, row)",
    "CREATE TRIGGER search_names_index AFTER INSERT ON search_names BEGIN \
       INSERT INTO search_name_words (rowid, name) VALUES (new.id, new.name); \
     END",
    TRIGGERS_V1[0],
    TRIGGERS_V1[1],
    TRIGGERS_V1[2],
    "CREATE TRIGGER contacts_search_delete AFTER DELETE ON contacts BEGIN \
       DELETE FROM search_words WHERE rowid = -old.id; \
       DELETE FROM search_grams WHERE rowid = -old.id; \
     END",
];

/// Version 2: the secondary emails and phones become searchable. The triggers are replaced,
/// and the contacts that already hold such values are indexed again (a scan of `contacts`,
/// once, inside the migration).
pub const SCHEMA_V2: &[&str] = &[
    "DROP TRIGGER contacts_search_insert",
    "DROP TRIGGER contacts_search_update_words",
    "DROP TRIGGER contacts_search_update_grams",
    TRIGGERS[0],
    TRIGGERS[1],
    TRIGGERS[2],
    "DELETE FROM search_words WHERE rowid IN (SELECT -id FROM contacts \
       WHERE secondary_emails IS NOT NULL OR secondary_phone_keys IS NOT NULL)",
    "DELETE FROM search_grams WHERE rowid IN (SELECT -id FROM contacts \
       WHERE secondary_emails IS NOT NULL OR secondary_phone_keys IS NOT NULL)",
    concat!(
        "INSERT INTO search_words (rowid, name, email, phone, custom) SELECT ",
        indexed_all!(words, "c"),
        " FROM contacts c WHERE c.secondary_emails IS NOT NULL OR c.secondary_phone_keys IS NOT NULL"
    ),
    concat!(
        "INSERT INTO search_grams (rowid, name, email, phone) SELECT ",
        indexed_all!(grams, "c"),
        " FROM contacts c WHERE c.secondary_emails IS NOT NULL OR c.secondary_phone_keys IS NOT NULL"
    ),
];

/// The columns a re-index of `search_grams` follows, each after `$p` (`""`, `"old."` or
/// `"new."`).
macro_rules! gram_columns {
    ($p:literal) => {
        concat!(
            $p,
            "first_name, ",
            $p,
            "last_name, ",
            $p,
            "email_norm, ",
            $p,
            "phone, ",
            $p,
            "phone_e164, ",
            $p,
            "mobile, ",
            $p,
            "mobile_e164, ",
            $p,
            "secondary_emails, ",
            $p,
            "secondary_phone_keys"
        )
    };
}

/// [`gram_columns`] and the custom values: what a re-index of `search_words` follows.
macro_rules! word_columns {
    ($p:literal) => {
        concat!(gram_columns!($p), ", ", $p, "custom")
    };
}

/// The statements that index contact `new` in both indexes: part of the `contacts_insert`
/// trigger (`kernel::schema`).
macro_rules! on_contact_insert {
    () => {
        concat!(
            "INSERT INTO search_words (rowid, name, email, phone, custom) VALUES (",
            $crate::search::indexed_all!(words, "new"),
            "); INSERT INTO search_grams (rowid, name, email, phone) VALUES (",
            $crate::search::indexed_all!(grams, "new"),
            "); ",
            $crate::search::index_row!(names)
        )
    };
}

/// The statements that drop contact `old` from both indexes: part of `contacts_delete`.
macro_rules! on_contact_delete {
    () => {
        "DELETE FROM search_words WHERE rowid = -old.id; \
         DELETE FROM search_grams WHERE rowid = -old.id;"
    };
}

pub(crate) use {
    all_emails, all_phones, custom_values, index_row, indexed_all, on_contact_delete,
    on_contact_insert, separate,
};

/// Version 3: less for every connection to parse, and less for every update to compile
/// (SQLite parses every trigger of the schema when a connection first runs a statement,
/// and compiles the triggers an INSERT, UPDATE or DELETE may fire into it when it is
/// prepared; under Spin both happen in every request: docs/benchmarks.md, "Per-request
/// floor"). Inserting and deleting contacts index and un-index them in the
/// `contacts_insert` / `contacts_delete` triggers that `kernel::schema` composes from every
/// room's part; an update re-indexes on one row-value comparison, and only updates that
/// set an indexed column compile it (`UPDATE OF`: a chat event's activity update, a bulk
/// change of owner, stage or block state do not). The values indexed stay inline, not in a
/// view the triggers would read: a view parses once but costs every write that fires it
/// more to compile. Nothing indexed changes.
pub const SCHEMA_V3: &[&str] = &[
    "DROP TRIGGER contacts_search_insert",
    "DROP TRIGGER contacts_search_delete",
    "DROP TRIGGER contacts_search_update_words",
    "DROP TRIGGER contacts_search_update_grams",
    concat!(
        "CREATE TRIGGER contacts_search_update_words AFTER UPDATE OF ",
        word_columns!(""),
        " ON contacts WHEN (",
        word_columns!("old."),
        ") IS NOT (",
        word_columns!("new."),
        ") BEGIN DELETE FROM search_words WHERE rowid = -old.id; ",
        index_row!(words, indexed_all),
        index_row!(names),
        " END"
    ),
    concat!(
        "CREATE TRIGGER contacts_search_update_grams AFTER UPDATE OF ",
        gram_columns!(""),
        " ON contacts WHEN (",
        gram_columns!("old."),
        ") IS NOT (",
        gram_columns!("new."),
        ") BEGIN DELETE FROM search_grams WHERE rowid = -old.id; ",
        index_row!(grams, indexed_all),
        " END"
    ),
];

/// What [`reindex`] runs before [`optimize`].
const REINDEX: &[&str] = &[
    "INSERT INTO search_words (search_words) VALUES ('delete-all')",
    "INSERT INTO search_grams (search_grams) VALUES ('delete-all')",
    concat!(
        "INSERT INTO search_words (rowid, name, email, phone, custom) SELECT ",
        indexed_all!(words, "c"),
        " FROM contacts c"
    ),
    concat!(
        "INSERT INTO search_grams (rowid, name, email, phone) SELECT ",
        indexed_all!(grams, "c"),
        " FROM contacts c"
    ),
    "INSERT OR IGNORE INTO search_names (name) \
       SELECT search_first FROM contacts WHERE search_first <> '' \
       UNION SELECT search_last FROM contacts WHERE search_last <> ''",
];

/// What [`optimize`] runs.
const OPTIMIZE: &[&str] = &[
    "INSERT INTO search_words (search_words) VALUES ('optimize')",
    "INSERT INTO search_grams (search_grams) VALUES ('optimize')",
];

/// Rebuilds both indexes from `contacts`, then [`optimize`]s them, one statement at a time
/// in the caller's transaction: for a database restored without them, or to drop the values
/// of deleted custom fields, which stay findable until their contact is next written. At a
/// million contacts this takes about a minute (docs/benchmarks.md), so it is run natively,
/// never inside a request.
pub fn reindex(db: &dyn Sql) -> Result<()> {
    run_all(db, REINDEX)?;
    optimize(db)
}

/// Merges each index into a single segment at once, in the caller's transaction, for
/// whoever has just written many contacts outside any request (a rebuild, the seeder).
/// FTS5 writes every transaction's entries as a new segment and merges them only level by
/// level, so a bulk load leaves several large segments behind
/// (ten after a million contacts in batches), and every look-up walks each of them: an
/// email window 0.95 ms with ten segments, 0.10 ms with one (docs/benchmarks.md). About
/// four seconds at a million contacts; [`upkeep`] does the same work a little at a time
/// as single writes grow the index.
pub fn optimize(db: &dyn Sql) -> Result<()> {
    run_all(db, OPTIMIZE)
}

fn run_all(db: &dyn Sql, statements: &[&str]) -> Result<()> {
    for statement in statements {
        db.execute(statement, &[])?;
    }
    Ok(())
}

pub struct SearchRequest<'a> {
    pub query: &'a Query,
    /// The segment's condition over `contacts c`.
    pub scope: Where,
    /// The segment's id, which a cursor is tied to.
    pub segment: &'a str,
    pub limit: usize,
    pub cursor: Option<&'a str>,
    /// Field keys to show besides `contact_id`.
    pub columns: Vec<String>,
}

/// Where a page resumes: after `rowid` within `rank`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Resume {
    rank: Rank,
    rowid: i64,
}

/// One page of matches, best rank first, newest first within a rank. Items carry
/// `contact_id`, the requested columns, and `match`: the rank they were found at.
pub fn search(db: &dyn Sql, catalogue: &Catalogue, req: &SearchRequest) -> Result<Page> {
    let fingerprint = req.query.fingerprint(req.segment);
    let resume = req
        .cursor
        .map(|c| decode_cursor(c, &fingerprint))
        .transpose()?;
    if req.query.words.is_empty() {
        return Ok(Page {
            items: Vec::new(),
            next_cursor: None,
        });
    }
    let projection = projection(&req.columns, catalogue)?;
    let select: Vec<&str> = projection.iter().map(|p| p.sql.as_str()).collect();
    let want = req.limit + 1;
    let mut rows = Vec::new();
    let mut found = Vec::new();
    let mut run = |arm: Arm, rows: &mut Vec<Vec<Value>>| -> Result<()> {
        let left = want - rows.len();
        let (sql, params) = statement(arm, &found, &req.scope, resume, &select, left);
        let page = db.execute(&sql, &params)?.rows;
        found.extend(
            page.iter()
                .filter_map(|row| row.get(1).and_then(Value::as_i64)),
        );
        rows.extend(page);
        Ok(())
    };
    for arm in arms(req.query) {
        if rows.len() < want && resume.is_none_or(|r| arm.rank >= r.rank) {
            run(arm, &mut rows)?;
        }
    }
    // Typos last, and only when the better ranks left room: finding the candidates is a
    // statement of its own, which most searches never need.
    if rows.len() < want {
        if let Some(arm) = typo_arm(db, req.query)? {
            run(arm, &mut rows)?;
        }
    }

    let mut items = Vec::with_capacity(req.limit.min(rows.len()));
    let mut last = None;
    for row in rows.iter().take(req.limit) {
        let rank = row
            .first()
            .and_then(Value::as_i64)
            .and_then(Rank::from_index)
            .ok_or_else(|| Error::Storage("search: a row without its rank".into()))?;
        let rowid = row.get(1).and_then(Value::as_i64).unwrap_or(0);
        let mut item = item_json(&row[1..], 0, &projection);
        item["match"] = json!(rank.as_str());
        items.push(item);
        last = Some(Resume { rank, rowid });
    }
    let next_cursor = match last {
        Some(r) if rows.len() > req.limit => Some(encode_cursor(&fingerprint, r)),
        _ => None,
    };
    Ok(Page { items, next_cursor })
}

/// An FTS5 query on one index, with what the rows it finds must also contain.
struct Lookup {
    /// `search_words` or `search_grams`.
    index: &'static str,
    matches: String,
    /// See [`Query::substring_lookup`].
    checks: Vec<Check>,
}

impl Lookup {
    fn new(index: &'static str, matches: String) -> Lookup {
        Lookup {
            index,
            matches,
            checks: vec![],
        }
    }
}

/// One arm: the rows of `rank`, in row-id order, after the cursor when it points into it.
struct Arm {
    rank: Rank,
    lookup: Lookup,
    /// Better ranks the index cannot exclude by itself, looked up again when a cursor
    /// skipped them (a first page excludes the rows they found instead).
    except: Vec<Lookup>,
}

/// The SQL condition of `check` on the contacts row `alias`, with its parameter.
fn check_sql(check: Check, alias: &str) -> (String, Value) {
    // Checks run only on the rows an index look-up found, so the secondary values' JSON is
    // read for few rows.
    let emails = all_emails!("ALIAS").replace("ALIAS", alias);
    let phones = all_phones!("ALIAS").replace("ALIAS", alias);
    let (sql, text) = match check {
        Check::Email(t) => (format!("instr({emails}, ?) > 0"), t),
        Check::EmailStart(t) => (format!("instr(' ' || {emails}, ' ' || ?) > 0"), t),
        Check::PhoneDigits(t) => (format!("instr({phones}, ?) > 0"), t),
        Check::PhoneStart(t) => (format!("instr(' ' || {phones}, ' ' || ?) > 0"), t),
    };
    (sql, Value::Text(text))
}

/// The statement of `arm` and its parameters, at most `n` rows, after the cursor when it
/// points into the arm's rank; `found` holds the row ids the better ranks found.
fn statement(
    arm: Arm,
    found: &[i64],
    scope: &Where,
    resume: Option<Resume>,
    select: &[&str],
    n: usize,
) -> (String, Vec<Value>) {
    let index = arm.lookup.index;
    let mut conditions = vec![format!("{index} MATCH ?")];
    let mut params = vec![Value::Text(arm.lookup.matches)];
    if let Some(r) = resume.filter(|r| r.rank == arm.rank) {
        conditions.push(format!("{index}.rowid > ?"));
        params.push((-r.rowid).into());
    }
    for check in arm.lookup.checks {
        let (sql, value) = check_sql(check, "c");
        conditions.push(sql);
        params.push(value);
    }
    // Leave out the better ranks' rows. Without a cursor, every better rank ran from its
    // start in this request and stopped short of a full page: `found` is all of them. A
    // cursor skipped them, so their look-ups run again inside the statement.
    match resume {
        None if found.is_empty() => {}
        None => {
            let ids: Vec<String> = found.iter().map(i64::to_string).collect();
            conditions.push(format!("c.id NOT IN ({})", ids.join(", ")));
        }
        Some(_) => {
            for except in arm.except {
                let x = except.index;
                let mut inner = vec![format!("{x} MATCH ?")];
                params.push(Value::Text(except.matches));
                for check in except.checks {
                    let (sql, value) = check_sql(check, "c2");
                    inner.push(sql);
                    params.push(value);
                }
                conditions.push(format!(
                    "c.id NOT IN (SELECT -{x}.rowid FROM {x} CROSS JOIN contacts c2 ON c2.id = -{x}.rowid \
                     WHERE {})",
                    inner.join(" AND ")
                ));
            }
        }
    }
    conditions.push(format!("({})", scope.sql));
    params.extend(scope.params.iter().cloned());
    let columns: String = select.iter().map(|s| format!(", {s}")).collect();
    // CROSS JOIN keeps the index as the outer loop: driving from `contacts` (say, by the
    // `blocked` index) would re-run the FTS query once per contact.
    let sql = format!(
        "SELECT {rank} AS rank, c.id, c.contact_id{columns} \
         FROM {index} CROSS JOIN contacts c ON c.id = -{index}.rowid \
         WHERE {conditions} ORDER BY {index}.rowid LIMIT {n}",
        rank = arm.rank as i64,
        conditions = conditions.join(" AND "),
    );
    (sql, params)
}

fn arms(query: &Query) -> Vec<Arm> {
    let exact = Lookup::new("search_words", query.exact());
    let mut arms = vec![
        Arm {
            rank: Rank::Exact,
            lookup: Lookup::new("search_words", query.exact()),
            except: vec![],
        },
        Arm {
            rank: Rank::Prefix,
            lookup: prefix_lookup(query),
            except: vec![exact],
        },
    ];
    // With only short words, a substring is a word prefix: nothing the prefix rank missed.
    if query.has_substrings() {
        let grams = query.substring_lookup();
        arms.push(Arm {
            rank: Rank::Substring,
            lookup: Lookup {
                index: "search_grams",
                matches: grams.matches,
                checks: grams.checks,
            },
            except: vec![
                Lookup::new("search_words", query.exact()),
                prefix_lookup(query),
            ],
        });
    }
    arms
}

fn prefix_lookup(query: &Query) -> Lookup {
    let (index, prefix) = query.prefix();
    Lookup {
        index,
        matches: prefix.matches,
        checks: prefix.checks,
    }
}

/// The typo rank: every word a prefix or a name word one edit away, but not all of them
/// found by a better rank. `None` when no word tolerates typos or none has a candidate.
fn typo_arm(db: &dyn Sql, query: &Query) -> Result<Option<Arm>> {
    let words = query.typo_words();
    if words.is_empty() {
        return Ok(None);
    }
    let candidates = typo::candidates(db, &words)?;
    Ok(query.typo(&candidates).map(|typo| Arm {
        rank: Rank::Typo,
        lookup: Lookup::new(
            "search_words",
            format!("({typo}) NOT ({})", query.word_prefix()),
        ),
        except: vec![Lookup::new("search_grams", query.substring())],
    }))
}

fn encode_cursor(fingerprint: &str, at: Resume) -> String {
    URL_SAFE_NO_PAD
        .encode(json!({"q": fingerprint, "r": at.rank as i64, "id": at.rowid}).to_string())
}

fn decode_cursor(cursor: &str, fingerprint: &str) -> Result<Resume> {
    let bad = || {
        Error::invalid(
            "cursor",
            "is not a cursor of this search (cursors are opaque and tied to the query and segment)",
        )
    };
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).map_err(|_| bad())?;
    let doc: Json = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if doc.get("q").and_then(Json::as_str) != Some(fingerprint) {
        return Err(bad());
    }
    let rank = doc
        .get("r")
        .and_then(Json::as_i64)
        .and_then(Rank::from_index)
        .ok_or_else(bad)?;
    let rowid = doc.get("id").and_then(Json::as_i64).ok_or_else(bad)?;
    Ok(Resume { rank, rowid })
}

#[cfg(test)]
mod tests;
