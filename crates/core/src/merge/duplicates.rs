//! Duplicate detection: which contacts look like one another, and why.
//!
//! Evidence is a *match key* two contacts hold: a normalized email or E.164 phone
//! (`contact_keys`: primary, mobile, secondary), the email or phone an identity's external
//! id is on the channels where it is one (`identities.match_kind` / `match_value`:
//! WhatsApp, SMS and voice ids are phone numbers, email ids are addresses), or the same
//! full name and company (case-insensitive, all three present). [`candidates_sql`] is the
//! one definition: a contact read counts it, the per-contact list lists it, and the
//! triggers below keep `duplicate_keys` (every key held by two contacts or more) in step
//! with it, so the group list pages through an index instead of scanning contacts.

use std::collections::{BTreeMap, BTreeSet};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value as Json};

use crate::kernel::error::{Error, Result};
use crate::kernel::store::{placeholders, Sql, Value};

/// A reason two contacts may be one person, strongest first (SPEC §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reason {
    Email,
    Phone,
    Identity,
    NameCompany,
}

impl Reason {
    pub const ALL: [Reason; 4] = [
        Reason::Email,
        Reason::Phone,
        Reason::Identity,
        Reason::NameCompany,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Email => "email",
            Reason::Phone => "phone",
            Reason::Identity => "identity",
            Reason::NameCompany => "name_company",
        }
    }

    fn parse(s: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// Candidates one contact's list shows (the count on a read is not bounded).
pub const MAX_CANDIDATES: usize = 100;
/// Members one group shows; a group can be larger (a shared `info@` address), and its
/// `size` says how large.
pub const MAX_GROUP_MEMBERS: usize = 100;

/// The holders of match key (`$kind`, `$value`), counted up to two: enough to know whether
/// the key is shared.
macro_rules! key_holders {
    ($kind:literal, $value:literal) => {
        concat!(
            "(SELECT count(*) FROM (SELECT contact_rowid FROM contact_keys WHERE kind = ",
            $kind,
            " AND value = ",
            $value,
            " UNION SELECT contact_rowid FROM identities WHERE match_kind = ",
            $kind,
            " AND match_value = ",
            $value,
            " LIMIT 2))"
        )
    };
}

/// `duplicate_keys.rank` of an email or phone key.
macro_rules! key_rank {
    ($kind:literal) => {
        concat!("(CASE ", $kind, " WHEN 'email' THEN 0 ELSE 1 END)")
    };
}

/// The name-and-company key of row `$row`: NULL unless all three are present.
macro_rules! name_key {
    ($row:literal) => {
        concat!(
            "json_array(lower(",
            $row,
            ".first_name), lower(",
            $row,
            ".last_name), lower(",
            $row,
            ".company))"
        )
    };
}

macro_rules! name_present {
    ($row:literal) => {
        concat!(
            "(",
            $row,
            ".first_name IS NOT NULL AND ",
            $row,
            ".last_name IS NOT NULL AND ",
            $row,
            ".company IS NOT NULL)"
        )
    };
}

/// Contacts with this name and company, counted up to two (version 2's triggers).
macro_rules! name_holders {
    ($row:literal) => {
        concat!(
            "(SELECT count(*) FROM (SELECT id FROM contacts WHERE lower(first_name) = lower(",
            $row,
            ".first_name) AND lower(last_name) = lower(",
            $row,
            ".last_name) AND lower(company) = lower(",
            $row,
            ".company) LIMIT 2))"
        )
    };
}

macro_rules! keep_key {
    ($kind:literal, $value:literal) => {
        concat!(
            "INSERT OR IGNORE INTO duplicate_keys (rank, value) SELECT ",
            key_rank!($kind),
            ", ",
            $value,
            " WHERE ",
            key_holders!($kind, $value),
            " >= 2;"
        )
    };
}

macro_rules! drop_key {
    ($kind:literal, $value:literal) => {
        concat!(
            "DELETE FROM duplicate_keys WHERE rank = ",
            key_rank!($kind),
            " AND value = ",
            $value,
            " AND ",
            key_holders!($kind, $value),
            " < 2;"
        )
    };
}

macro_rules! keep_name {
    ($row:literal) => {
        concat!(
            "INSERT OR IGNORE INTO duplicate_keys (rank, value) SELECT 2, ",
            name_key!($row),
            " WHERE ",
            name_present!($row),
            " AND ",
            name_holders!($row),
            " >= 2;"
        )
    };
}

macro_rules! drop_name {
    ($row:literal) => {
        concat!(
            "DELETE FROM duplicate_keys WHERE ",
            name_present!($row),
            " AND rank = 2 AND value = ",
            name_key!($row),
            " AND ",
            name_holders!($row),
            " < 2;"
        )
    };
}

/// Part of schema version 2.
pub const SCHEMA_V2: &[&str] = &[
    // The match key an identity's external id is, where the channel makes it one. Virtual:
    // derived in one place, read by the index and the triggers, never stored.
    "ALTER TABLE identities ADD COLUMN match_kind TEXT GENERATED ALWAYS AS (CASE \
       WHEN channel IN ('whatsapp', 'sms', 'voice') AND ltrim(external_id, '+') <> '' \
            AND ltrim(external_id, '+') NOT GLOB '*[^0-9]*' THEN 'phone' \
       WHEN channel = 'email' AND external_id LIKE '_%@_%' THEN 'email' END) VIRTUAL",
    "ALTER TABLE identities ADD COLUMN match_value TEXT GENERATED ALWAYS AS (CASE match_kind \
       WHEN 'phone' THEN '+' || ltrim(external_id, '+') \
       WHEN 'email' THEN lower(external_id) END) VIRTUAL",
    "CREATE INDEX identities_match ON identities(match_kind, match_value)",
    // Every match key two contacts or more hold: rank 0 email, 1 phone (each also held
    // through identities), 2 name and company (a JSON array of the three, lower-cased).
    // Kept by the triggers below, so `GET /api/duplicates` walks this table in order.
    "CREATE TABLE duplicate_keys (
        rank INTEGER NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (rank, value)
    ) WITHOUT ROWID",
    concat!(
        "CREATE TRIGGER duplicate_keys_key_insert AFTER INSERT ON contact_keys BEGIN ",
        keep_key!("new.kind", "new.value"),
        " END"
    ),
    concat!(
        "CREATE TRIGGER duplicate_keys_key_delete AFTER DELETE ON contact_keys BEGIN ",
        drop_key!("old.kind", "old.value"),
        " END"
    ),
    concat!(
        "CREATE TRIGGER duplicate_keys_identity_insert AFTER INSERT ON identities \
         WHEN new.match_value IS NOT NULL BEGIN ",
        keep_key!("new.match_kind", "new.match_value"),
        " END"
    ),
    concat!(
        "CREATE TRIGGER duplicate_keys_identity_delete AFTER DELETE ON identities \
         WHEN old.match_value IS NOT NULL BEGIN ",
        drop_key!("old.match_kind", "old.match_value"),
        " END"
    ),
    // A merge moves identities to the primary: the holders of their keys change.
    concat!(
        "CREATE TRIGGER duplicate_keys_identity_move AFTER UPDATE OF contact_rowid ON identities \
         WHEN new.match_value IS NOT NULL BEGIN ",
        keep_key!("new.match_kind", "new.match_value"),
        drop_key!("new.match_kind", "new.match_value"),
        " END"
    ),
    concat!(
        "CREATE TRIGGER duplicate_keys_name_insert AFTER INSERT ON contacts BEGIN ",
        keep_name!("new"),
        " END"
    ),
    // A bulk save sets every column: the WHEN clause keeps other edits from looking.
    concat!(
        "CREATE TRIGGER duplicate_keys_name_update AFTER UPDATE OF first_name, last_name, company \
         ON contacts WHEN ",
        name_key!("old"),
        " IS NOT ",
        name_key!("new"),
        " BEGIN ",
        drop_name!("old"),
        keep_name!("new"),
        " END"
    ),
    concat!(
        "CREATE TRIGGER duplicate_keys_name_delete AFTER DELETE ON contacts BEGIN ",
        drop_name!("old"),
        " END"
    ),
    // The keys contacts stored before this migration already share (one pass, once).
    "INSERT OR IGNORE INTO duplicate_keys (rank, value) \
       SELECT iif(kind = 'email', 0, 1), value FROM \
         (SELECT kind, value, contact_rowid FROM contact_keys \
          UNION SELECT match_kind, match_value, contact_rowid FROM identities WHERE match_value IS NOT NULL) \
       GROUP BY kind, value HAVING count(DISTINCT contact_rowid) >= 2",
    concat!(
        "INSERT OR IGNORE INTO duplicate_keys (rank, value) SELECT 2, ",
        name_key!("c"),
        " FROM contacts c WHERE ",
        name_present!("c"),
        " GROUP BY lower(first_name), lower(last_name), lower(company) HAVING count(*) >= 2"
    ),
];

/// Version 3's statements keeping `duplicate_keys` (see [`SCHEMA_V3`]): a key of `$kind`
/// and `$value` (row `new` or `old` of a trigger) kept while two contacts hold it, dropped
/// when fewer do, counted through the `match_key_holders` view.
macro_rules! keep_shared_key {
    ($kind:literal, $value:literal) => {
        concat!(
            "INSERT OR IGNORE INTO duplicate_keys (rank, value) SELECT ",
            $kind,
            " <> 'email', ",
            $value,
            " WHERE (SELECT count(*) FROM (SELECT 1 FROM match_key_holders WHERE kind = ",
            $kind,
            " AND value = ",
            $value,
            " LIMIT 2)) = 2;"
        )
    };
}

macro_rules! drop_unshared_key {
    ($kind:literal, $value:literal) => {
        concat!(
            "DELETE FROM duplicate_keys WHERE rank = (",
            $kind,
            " <> 'email') AND value = ",
            $value,
            " AND (SELECT count(*) FROM (SELECT 1 FROM match_key_holders WHERE kind = ",
            $kind,
            " AND value = ",
            $value,
            " LIMIT 2)) < 2;"
        )
    };
}

/// The same for the name-and-company key of row `$r` (`name_key`, NULL unless all three
/// are present, so a NULL key matches nothing).
macro_rules! keep_shared_name {
    ($r:literal) => {
        concat!(
            "INSERT OR IGNORE INTO duplicate_keys (rank, value) SELECT 2, ",
            $r,
            ".name_key WHERE (SELECT count(*) FROM (SELECT 1 FROM contacts WHERE name_key = ",
            $r,
            ".name_key LIMIT 2)) = 2;"
        )
    };
}

macro_rules! drop_unshared_name {
    ($r:literal) => {
        concat!(
            "DELETE FROM duplicate_keys WHERE rank = 2 AND value = ",
            $r,
            ".name_key AND (SELECT count(*) FROM (SELECT 1 FROM contacts WHERE name_key = ",
            $r,
            ".name_key LIMIT 2)) < 2;"
        )
    };
}

/// `duplicate_keys`' part of the `contacts_insert` trigger (`kernel::schema`).
macro_rules! on_contact_insert {
    () => {
        $crate::merge::duplicates::keep_shared_name!("new")
    };
}

/// `duplicate_keys`' part of the `contacts_delete` trigger.
macro_rules! on_contact_delete {
    () => {
        $crate::merge::duplicates::drop_unshared_name!("old")
    };
}

pub(crate) use {drop_unshared_name, keep_shared_name, on_contact_delete, on_contact_insert};

/// Version 3: the same keys, kept by shorter triggers, for a smaller schema to parse on every
/// connection (`search::SCHEMA_V3` says why). The name-and-company key becomes a generated
/// column with its own index, so the triggers, the candidates and the group members compare
/// one value; an email or phone key's holders are one view over `contact_keys` and
/// `identities`. `duplicate_keys` holds the same rows: `name_key` is the value rank 2 stored.
pub const SCHEMA_V3: &[&str] = &[
    "ALTER TABLE contacts ADD COLUMN name_key TEXT GENERATED ALWAYS AS (CASE \
       WHEN first_name IS NOT NULL AND last_name IS NOT NULL AND company IS NOT NULL \
       THEN json_array(lower(first_name), lower(last_name), lower(company)) END) VIRTUAL",
    "CREATE INDEX contacts_name_key ON contacts(name_key) WHERE name_key IS NOT NULL",
    "DROP INDEX contacts_name_company",
    // SQLite pushes `kind = ? AND value = ?` into both arms: two index look-ups.
    "CREATE VIEW match_key_holders (kind, value, contact_rowid) AS \
       SELECT kind, value, contact_rowid FROM contact_keys \
       UNION SELECT match_kind, match_value, contact_rowid FROM identities",
    "DROP TRIGGER duplicate_keys_key_insert",
    "DROP TRIGGER duplicate_keys_key_delete",
    "DROP TRIGGER duplicate_keys_identity_insert",
    "DROP TRIGGER duplicate_keys_identity_delete",
    "DROP TRIGGER duplicate_keys_identity_move",
    "DROP TRIGGER duplicate_keys_name_insert",
    "DROP TRIGGER duplicate_keys_name_update",
    "DROP TRIGGER duplicate_keys_name_delete",
    concat!(
        "CREATE TRIGGER duplicate_keys_key_insert AFTER INSERT ON contact_keys BEGIN ",
        keep_shared_key!("new.kind", "new.value"),
        " END"
    ),
    concat!(
        "CREATE TRIGGER duplicate_keys_key_delete AFTER DELETE ON contact_keys BEGIN ",
        drop_unshared_key!("old.kind", "old.value"),
        " END"
    ),
    concat!(
        "CREATE TRIGGER duplicate_keys_identity_insert AFTER INSERT ON identities \
         WHEN new.match_value IS NOT NULL BEGIN ",
        keep_shared_key!("new.match_kind", "new.match_value"),
        " END"
    ),
    concat!(
        "CREATE TRIGGER duplicate_keys_identity_delete AFTER DELETE ON identities \
         WHEN old.match_value IS NOT NULL BEGIN ",
        drop_unshared_key!("old.match_kind", "old.match_value"),
        " END"
    ),
    // A merge moves identities to the primary: the holders of their keys change.
    concat!(
        "CREATE TRIGGER duplicate_keys_identity_move AFTER UPDATE OF contact_rowid ON identities \
         WHEN new.match_value IS NOT NULL BEGIN ",
        keep_shared_key!("new.match_kind", "new.match_value"),
        drop_unshared_key!("new.match_kind", "new.match_value"),
        " END"
    ),
    // A bulk save sets every column: the WHEN clause keeps other edits from looking.
    concat!(
        "CREATE TRIGGER duplicate_keys_name_update AFTER UPDATE OF first_name, last_name, company \
         ON contacts WHEN old.name_key IS NOT new.name_key BEGIN ",
        drop_unshared_name!("old"),
        keep_shared_name!("new"),
        " END"
    ),
];

/// `(other, reason)` rows: every contact that shares a match key with contact `id` (an SQL
/// expression: a numbered parameter, or `c.id` inside a read), one row per key shared.
/// The one definition of a possible duplicate; each part is an index look-up.
pub fn candidates_sql(id: &str) -> String {
    format!(
        "SELECT other, reason FROM ( \
           SELECT k2.contact_rowid AS other, k1.kind AS reason FROM contact_keys k1 \
             JOIN contact_keys k2 ON k2.kind = k1.kind AND k2.value = k1.value \
           WHERE k1.contact_rowid = {id} \
           UNION ALL SELECT i2.contact_rowid, 'identity' FROM contact_keys k1 \
             JOIN identities i2 ON i2.match_kind = k1.kind AND i2.match_value = k1.value \
           WHERE k1.contact_rowid = {id} \
           UNION ALL SELECT k2.contact_rowid, 'identity' FROM identities i1 \
             JOIN contact_keys k2 ON k2.kind = i1.match_kind AND k2.value = i1.match_value \
           WHERE i1.contact_rowid = {id} \
           UNION ALL SELECT i2.contact_rowid, 'identity' FROM identities i1 \
             JOIN identities i2 ON i2.match_kind = i1.match_kind AND i2.match_value = i1.match_value \
           WHERE i1.contact_rowid = {id} \
           UNION ALL SELECT c2.id, 'name_company' FROM contacts c1 \
             JOIN contacts c2 ON c2.name_key = c1.name_key \
           WHERE c1.id = {id}) \
         WHERE other <> {id}"
    )
}

/// How many contacts look like contact `id` (an SQL expression, as [`candidates_sql`]).
pub fn count_sql(id: &str) -> String {
    format!("SELECT count(DISTINCT other) FROM ({})", candidates_sql(id))
}

/// The contacts holding key `d` (a `duplicate_keys` row): by email or phone, as their own
/// or through an identity, or by name and company (`name_key` is rank 2's value). Not
/// through the `match_key_holders` view: SQLite does not push these correlated terms into
/// it and scans both tables (`detection_reads_indexes_only` fails).
const HOLDERS: &str = "SELECT contact_rowid AS id FROM contact_keys \
      WHERE d.rank < 2 AND kind = iif(d.rank = 0, 'email', 'phone') AND value = d.value \
    UNION SELECT contact_rowid FROM identities \
      WHERE d.rank < 2 AND match_kind = iif(d.rank = 0, 'email', 'phone') AND match_value = d.value \
    UNION SELECT id FROM contacts WHERE d.rank = 2 AND name_key = d.value";

/// The columns a duplicate prompt and the merge dialog show beside each contact.
const SUMMARY: &str = "json_object('contact_id', c.contact_id, 'display_name', c.display_name, \
    'email', c.email, 'phone', c.phone, 'company', c.company, 'lead_stage', c.lead_stage, \
    'owner', c.owner, 'created_at', c.created_at, 'updated_at', c.updated_at, \
    'last_activity_at', c.last_activity_at, 'conversation_count', c.conversation_count, \
    'blocked', json(CASE c.blocked WHEN 0 THEN 'false' ELSE 'true' END))";

/// One contact that looks like another.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub contact_id: String,
    pub reasons: Vec<Reason>,
    /// [`SUMMARY`]'s columns.
    pub summary: Json,
}

impl Candidate {
    /// `{"contact_id", "reasons", ...summary}` (SPEC §9 plus the prompt's columns).
    pub fn to_json(&self) -> Json {
        let mut out = self.summary.clone();
        out["contact_id"] = json!(self.contact_id);
        out["reasons"] = json!(self.reasons.iter().map(|r| r.as_str()).collect::<Vec<_>>());
        out
    }
}

/// The contacts that look like `contact_id`, strongest evidence first, then oldest first;
/// at most [`MAX_CANDIDATES`]. One statement, which also tells an unknown contact (no row)
/// from one without candidates: most contacts have none, and the console asks on every
/// contact page.
pub fn for_contact(db: &dyn Sql, contact_id: &str) -> Result<Vec<Candidate>> {
    let rows = db.execute(
        &list_sql(),
        &[contact_id.into(), (MAX_CANDIDATES as i64).into()],
    )?;
    let list = rows
        .scalar()
        .ok_or_else(|| Error::NotFound(format!("contact '{contact_id}'")))?;
    let items: Vec<(String, Vec<String>, Json)> = list
        .as_str()
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or_default();
    Ok(items
        .into_iter()
        .map(|(contact_id, reasons, summary)| {
            let mut reasons: Vec<Reason> =
                reasons.iter().filter_map(|r| Reason::parse(r)).collect();
            reasons.sort();
            Candidate {
                contact_id,
                reasons,
                summary,
            }
        })
        .collect())
}

/// [`for_contact`]'s statement: `?1` the Contact ID, `?2` the limit. One row (a JSON array
/// of `[contact_id, reasons, summary]`) when the contact exists, none when it does not.
pub(crate) fn list_sql() -> String {
    format!(
        "SELECT (SELECT json_group_array(json_array(contact_id, json(reasons), json(summary))) FROM ( \
           SELECT c.contact_id, json_group_array(DISTINCT d.reason) AS reasons, {SUMMARY} AS summary, \
             min(CASE d.reason WHEN 'email' THEN 0 WHEN 'phone' THEN 1 WHEN 'identity' THEN 2 ELSE 3 END) AS strength \
           FROM ({}) d JOIN contacts c ON c.id = d.other \
           GROUP BY d.other ORDER BY strength, d.other LIMIT ?2)) \
         FROM contacts c0 WHERE c0.contact_id = ?1",
        candidates_sql("c0.id")
    )
}

/// A set of contacts that share evidence: every holder of one match key.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub contact_ids: Vec<String>,
    /// Every reason all the members share, strongest first.
    pub reasons: Vec<Reason>,
    /// Members (at most [`MAX_GROUP_MEMBERS`]) with [`SUMMARY`]'s columns.
    pub contacts: Vec<Json>,
    /// How many contacts hold the key (more than `contacts` when capped).
    pub size: usize,
}

impl Group {
    pub fn to_json(&self) -> Json {
        json!({
            "contact_ids": self.contact_ids,
            "reasons": self.reasons.iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            "size": self.size,
            "contacts": self.contacts,
        })
    }
}

/// One page of groups and the cursor of the next.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupPage {
    pub items: Vec<Group>,
    pub next_cursor: Option<String>,
}

impl GroupPage {
    pub fn to_json(&self) -> Json {
        json!({
            "items": self.items.iter().map(Group::to_json).collect::<Vec<_>>(),
            "next_cursor": self.next_cursor,
        })
    }
}

/// A position in `duplicate_keys`: (rank, value).
type KeyPos = (i64, String);

/// A group before it is shown: its key, and its members' row ids and summaries.
struct Found {
    key: KeyPos,
    rowids: Vec<i64>,
    contacts: Vec<Json>,
    size: usize,
}

/// Groups in key order (email keys, then phone keys, then name and company; by value
/// within each): strongest evidence first, stable, each set of contacts once, at the first
/// key they share. `limit` groups after `cursor`.
pub fn groups(db: &dyn Sql, limit: usize, cursor: Option<&str>) -> Result<GroupPage> {
    let mut after = cursor.map(decode_cursor).transpose()?;
    let mut items: Vec<(KeyPos, Group)> = Vec::with_capacity(limit + 1);
    // Keys whose holders repeat an earlier group are skipped, so a batch can yield fewer
    // groups than it read; read on until the page (and one more, to know there is a next
    // page) is full or the keys run out.
    loop {
        let batch = (limit + 1).max(16);
        let found = read_keys(db, after.as_ref(), batch)?;
        let exhausted = found.len() < batch;
        after = found.last().map(|f| f.key.clone()).or(after);
        items.extend(shown_groups(db, found)?);
        if items.len() > limit || exhausted {
            break;
        }
    }
    let next_cursor = if items.len() > limit {
        items.truncate(limit);
        items.last().map(|(key, _)| encode_cursor(key))
    } else {
        None
    };
    Ok(GroupPage {
        items: items.into_iter().map(|(_, g)| g).collect(),
        next_cursor,
    })
}

/// Up to `n` shared keys after `after`, each with its holders (one statement).
fn read_keys(db: &dyn Sql, after: Option<&KeyPos>, n: usize) -> Result<Vec<Found>> {
    let (rank, value) = after.cloned().unwrap_or((-1, String::new()));
    let rows = db.execute(
        &keys_sql(),
        &[
            rank.into(),
            value.into(),
            (n as i64).into(),
            (MAX_GROUP_MEMBERS as i64).into(),
        ],
    )?;
    Ok(rows
        .rows
        .iter()
        .map(|row| {
            let members: Vec<(i64, Json)> = row
                .get(2)
                .and_then(Value::as_str)
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or_default();
            let (rowids, contacts) = members.into_iter().unzip();
            Found {
                key: (
                    row.first().and_then(Value::as_i64).unwrap_or(0),
                    row.get(1)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned(),
                ),
                rowids,
                contacts,
                size: row.get(3).and_then(Value::as_i64).unwrap_or(0) as usize,
            }
        })
        .collect())
}

/// [`read_keys`]' statement: `?1, ?2` the position after which to read, `?3` how many
/// keys, `?4` how many members of each.
pub(crate) fn keys_sql() -> String {
    format!(
        "SELECT d.rank, d.value, (SELECT json_group_array(json_array(c.id, {SUMMARY})) FROM \
           ({HOLDERS} ORDER BY 1 LIMIT ?4) h JOIN contacts c ON c.id = h.id), \
           (SELECT count(*) FROM ({HOLDERS})) \
         FROM duplicate_keys d WHERE (d.rank, d.value) > (?1, ?2) \
         ORDER BY d.rank, d.value LIMIT ?3"
    )
}

/// How one contact holds a key: as its own email/phone, through an identity, or by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Via {
    Key,
    Identity,
    Name,
}

/// Every key the members of these groups hold, with how (one statement).
fn member_keys(db: &dyn Sql, found: &[Found]) -> Result<BTreeMap<i64, BTreeMap<KeyPos, Via>>> {
    let ids: BTreeSet<i64> = found
        .iter()
        .flat_map(|f| f.rowids.iter().copied())
        .collect();
    let mut held: BTreeMap<i64, BTreeMap<KeyPos, Via>> = BTreeMap::new();
    if ids.is_empty() {
        return Ok(held);
    }
    let params: Vec<Value> = ids.iter().map(|i| Value::from(*i)).collect();
    let marks = placeholders(params.len());
    let sql = format!(
        "SELECT contact_rowid, iif(kind = 'email', 0, 1), value, 0 FROM contact_keys \
           WHERE contact_rowid IN ({marks}) \
         UNION ALL SELECT contact_rowid, iif(match_kind = 'email', 0, 1), match_value, 1 FROM identities \
           WHERE contact_rowid IN ({marks}) AND match_value IS NOT NULL \
         UNION ALL SELECT id, 2, {}, 2 FROM contacts c WHERE id IN ({marks}) AND {}",
        name_key!("c"),
        name_present!("c")
    );
    let mut all = params.clone();
    all.extend(params.iter().cloned());
    all.extend(params);
    for row in db.execute(&sql, &all)?.rows {
        let int = |i: usize| row.get(i).and_then(Value::as_i64).unwrap_or(0);
        let key = (
            int(1),
            row.get(2)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        );
        let via = match int(3) {
            0 => Via::Key,
            1 => Via::Identity,
            _ => Via::Name,
        };
        let entry = held.entry(int(0)).or_default().entry(key).or_insert(via);
        // Held both ways: as its own email/phone is the stronger evidence.
        if via == Via::Key {
            *entry = Via::Key;
        }
    }
    Ok(held)
}

/// The groups to show among `found`: each with its reasons, leaving out those whose exact
/// set of contacts an earlier key already groups.
fn shown_groups(db: &dyn Sql, found: Vec<Found>) -> Result<Vec<(KeyPos, Group)>> {
    let held = member_keys(db, &found)?;
    let none = BTreeMap::new();
    // Keys every member holds, with how each member holds them.
    let shared: Vec<BTreeMap<KeyPos, Vec<Via>>> = found
        .iter()
        .map(|f| {
            let mut common: BTreeMap<KeyPos, Vec<Via>> = BTreeMap::new();
            for (i, id) in f.rowids.iter().enumerate() {
                let keys = held.get(id).unwrap_or(&none);
                if i == 0 {
                    common = keys.iter().map(|(k, v)| (k.clone(), vec![*v])).collect();
                } else {
                    common.retain(|k, _| keys.contains_key(k));
                    for (k, vias) in common.iter_mut() {
                        vias.extend(keys.get(k).copied());
                    }
                }
            }
            common
        })
        .collect();
    // An earlier key every member holds that has no other holder groups the same set.
    let earlier: BTreeSet<KeyPos> = found
        .iter()
        .zip(&shared)
        .flat_map(|(f, common)| common.keys().filter(move |k| **k < f.key).cloned())
        .collect();
    let sizes = holder_counts(db, &earlier)?;
    let mut out = Vec::with_capacity(found.len());
    for (f, common) in found.into_iter().zip(shared) {
        let repeated = common
            .keys()
            .any(|k| *k < f.key && sizes.get(k) == Some(&f.size));
        if repeated || f.size < 2 {
            continue;
        }
        let mut reasons: Vec<Reason> = common.iter().flat_map(key_reasons).collect();
        reasons.sort();
        reasons.dedup();
        let contact_ids = f
            .contacts
            .iter()
            .map(|c| c["contact_id"].as_str().unwrap_or_default().to_owned())
            .collect();
        out.push((
            f.key,
            Group {
                contact_ids,
                reasons,
                contacts: f.contacts,
                size: f.size,
            },
        ));
    }
    Ok(out)
}

/// Why the holders of a key, holding it the ways `vias` say, look alike: the key's kind when
/// two of them hold it as their own email or phone, `identity` when one holds it through an
/// identity, `name_company` for a name key.
fn key_reasons(((rank, _), vias): (&KeyPos, &Vec<Via>)) -> Vec<Reason> {
    if *rank == 2 {
        return vec![Reason::NameCompany];
    }
    let mut out = Vec::new();
    if vias.iter().filter(|v| **v == Via::Key).count() >= 2 {
        out.push(if *rank == 0 {
            Reason::Email
        } else {
            Reason::Phone
        });
    }
    if vias.contains(&Via::Identity) {
        out.push(Reason::Identity);
    }
    out
}

/// How many contacts hold each of these keys (one statement).
fn holder_counts(db: &dyn Sql, keys: &BTreeSet<KeyPos>) -> Result<BTreeMap<KeyPos, usize>> {
    if keys.is_empty() {
        return Ok(BTreeMap::new());
    }
    let mut params = Vec::with_capacity(keys.len() * 2);
    let parts: Vec<&str> = keys
        .iter()
        .map(|(rank, value)| {
            params.push(Value::from(*rank));
            params.push(Value::from(value.as_str()));
            "SELECT ? AS rank, ? AS value"
        })
        .collect();
    let sql = format!(
        "SELECT d.rank, d.value, (SELECT count(*) FROM ({HOLDERS})) \
         FROM ({}) d",
        parts.join(" UNION ALL ")
    );
    Ok(db
        .execute(&sql, &params)?
        .rows
        .iter()
        .map(|row| {
            let rank = row.first().and_then(Value::as_i64).unwrap_or(0);
            let value = row.get(1).and_then(Value::as_str).unwrap_or_default();
            let n = row.get(2).and_then(Value::as_i64).unwrap_or(0) as usize;
            ((rank, value.to_owned()), n)
        })
        .collect())
}

fn encode_cursor((rank, value): &KeyPos) -> String {
    URL_SAFE_NO_PAD.encode(json!([rank, value]).to_string())
}

fn decode_cursor(cursor: &str) -> Result<KeyPos> {
    let bad = || Error::invalid("cursor", "is not a cursor of the duplicate groups");
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).map_err(|_| bad())?;
    let (rank, value): (i64, String) = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    Ok((rank, value))
}
