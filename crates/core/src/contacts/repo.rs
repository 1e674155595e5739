//! Contacts in storage: create, read, update, delete, with their tags, identities, match
//! keys and history kept in step inside one transaction.

use serde_json::{Map, Value as Json};

use crate::contacts::contact::{dedup_tags, Columns, Contact, Edit, EditMode, Identity, COLUMNS};
use crate::contacts::history;
use crate::kernel::error::{Error, Result};
use crate::kernel::fields::Catalogue;
use crate::kernel::store::{placeholders, write_tx, Sql, Value};
use crate::kernel::values::{time, Channel, ContactId, Region};
use crate::search;

pub mod batch;

/// What every write needs to know about its surroundings.
#[derive(Clone, Copy)]
pub struct Ctx<'a> {
    pub db: &'a dyn Sql,
    pub catalogue: &'a Catalogue,
    pub region: Region,
    /// The login of whoever asks, recorded in history.
    pub actor: &'a str,
}

/// A contact as a create or update left it, with its possible duplicates counted in the
/// same transaction.
#[derive(Debug)]
pub struct Written {
    pub contact: Contact,
    pub possible_duplicates: i64,
}

/// Creates a contact from a caller's JSON body (SPEC §1: email, phone or Contact ID needed).
pub fn create(ctx: Ctx, body: &Json) -> Result<Written> {
    let edit = Edit::parse(body, ctx.catalogue, ctx.region, EditMode::Create)?;
    let has_key = edit.contact_id.is_some()
        || edit
            .set
            .iter()
            .any(|(c, v)| matches!(*c, "email_norm" | "phone_e164") && *v != Value::Null);
    if !has_key {
        return Err(Error::invalid(
            "email",
            "a contact needs at least one of email, phone or contact_id",
        ));
    }
    write_tx(ctx.db, || {
        check_owner(ctx.db, edit.owner())?;
        let mut contact = Contact::new(
            edit.contact_id.clone().unwrap_or_else(ContactId::generate),
            ctx.actor,
        );
        let keys = edit.apply(&mut contact, ctx.catalogue);
        insert(ctx.db, &mut contact, edit.contact_id.is_none())?;
        let (item, possible_duplicates) = history::record_counting_duplicates(
            ctx.db,
            (contact.rowid, contact.contact_id()),
            "create",
            ctx.actor,
            &keys,
        )?;
        if search::upkeep_due(item) {
            search::upkeep(ctx.db)?;
        }
        Ok(Written {
            contact,
            possible_duplicates,
        })
    })
}

/// Stores a new contact with its tags, identities and match keys. With `retry_id`, a
/// generated Contact ID that happens to be taken is replaced and tried again.
pub fn insert(db: &dyn Sql, contact: &mut Contact, retry_id: bool) -> Result<()> {
    contact.tags = dedup_tags(contact.tags.iter().map(String::as_str));
    let sql = format!(
        "INSERT INTO contacts ({}) VALUES ({})",
        COLUMNS.join(", "),
        placeholders(COLUMNS.len())
    );
    let mut attempts = 0;
    loop {
        match db.execute(&sql, &row_values(contact)) {
            Ok(_) => break,
            Err(e)
                if retry_id
                    && attempts < 3
                    && e.unique_violation() == Some("contacts.contact_id") =>
            {
                attempts += 1;
                contact.set("contact_id", ContactId::generate().as_str());
            }
            Err(e) => return Err(conflict_or(db, contact, e)),
        }
    }
    contact.rowid = db.last_insert_rowid();
    insert_tags(db, contact.rowid, &contact.tags)?;
    insert_identities(db, contact)?;
    insert_match_keys(db, contact.rowid, &contact.match_keys())
}

fn row_values(contact: &Contact) -> Vec<Value> {
    (0..COLUMNS.len()).map(|k| value_at(contact, k)).collect()
}

/// The value stored in the column at position `k` of [`COLUMNS`].
fn value_at(contact: &Contact, k: usize) -> Value {
    match COLUMNS[k] {
        "custom" => Value::json(&contact.custom),
        _ => contact.cols.at(k).clone(),
    }
}

/// Whether the column at position `k` is NULL (`custom` never is: it is stored as `{}`).
fn is_null_at(contact: &Contact, k: usize) -> bool {
    COLUMNS[k] != "custom" && *contact.cols.at(k) == Value::Null
}

/// Whether `before` and `after` store different values in the column at position `k`.
fn differs_at(before: &Contact, after: &Contact, k: usize) -> bool {
    match COLUMNS[k] {
        "custom" => before.custom != after.custom,
        _ => before.cols.at(k) != after.cols.at(k),
    }
}

/// Turns a UNIQUE violation into a 409 naming the contact that holds the value.
fn conflict_or(db: &dyn Sql, contact: &Contact, e: crate::kernel::store::DbError) -> Error {
    let (field, sql, param) = match e.unique_violation() {
        Some("contacts.contact_id") => (
            "contact_id",
            "SELECT contact_id FROM contacts WHERE contact_id = ?",
            contact.text("contact_id"),
        ),
        Some("contacts.email_norm") => (
            "email",
            "SELECT contact_id FROM contacts WHERE email_norm = ?",
            contact.text("email_norm"),
        ),
        Some("contacts.phone_e164") => (
            "phone",
            "SELECT contact_id FROM contacts WHERE phone_e164 = ?",
            contact.text("phone_e164"),
        ),
        _ => return e.into(),
    };
    let holder = param
        .and_then(|p| db.execute(sql, &[p.into()]).ok())
        .and_then(|rows| rows.scalar().and_then(Value::as_str).map(str::to_owned));
    Error::Conflict {
        detail: format!(
            "{field} already belongs to contact {}",
            holder.as_deref().unwrap_or("another contact")
        ),
        field: Some(field.into()),
        existing_contact_id: holder,
    }
}

fn insert_tags(db: &dyn Sql, rowid: i64, tags: &[String]) -> Result<()> {
    if tags.is_empty() {
        return Ok(());
    }
    let mut params = Vec::with_capacity(tags.len() * 2);
    for t in tags {
        params.push(rowid.into());
        params.push(t.as_str().into());
    }
    let values = vec!["(?, ?)"; tags.len()].join(", ");
    db.execute(
        &format!("INSERT OR IGNORE INTO contact_tags (contact_rowid, tag) VALUES {values}"),
        &params,
    )?;
    Ok(())
}

fn insert_identities(db: &dyn Sql, contact: &Contact) -> Result<()> {
    let now = time::now();
    for identity in &contact.identities {
        let inserted = db.execute(
            "INSERT INTO identities (channel, external_id, contact_rowid, created_at) VALUES (?, ?, ?, ?)",
            &[
                identity.channel.as_str().into(),
                identity.external_id.as_str().into(),
                contact.rowid.into(),
                now.as_str().into(),
            ],
        );
        if let Err(e) = inserted {
            if e.unique_violation().is_none() {
                return Err(e.into());
            }
            let holder = identity_holder(db, identity)?;
            return Err(Error::Conflict {
                detail: format!(
                    "identity {}:{} already belongs to contact {}",
                    identity.channel,
                    identity.external_id,
                    holder.as_deref().unwrap_or("another contact")
                ),
                field: Some("identities".into()),
                existing_contact_id: holder,
            });
        }
    }
    Ok(())
}

fn identity_holder(db: &dyn Sql, identity: &Identity) -> Result<Option<String>> {
    let rows = db.execute(
        "SELECT c.contact_id FROM identities i JOIN contacts c ON c.id = i.contact_rowid \
         WHERE i.channel = ? AND i.external_id = ?",
        &[
            identity.channel.as_str().into(),
            identity.external_id.as_str().into(),
        ],
    )?;
    Ok(rows.scalar().and_then(Value::as_str).map(str::to_owned))
}

/// Adds match keys (`Contact::match_keys`) to contact `rowid`'s rows in `contact_keys`.
fn insert_match_keys(db: &dyn Sql, rowid: i64, keys: &[(&'static str, String)]) -> Result<()> {
    if keys.is_empty() {
        return Ok(());
    }
    let mut params = Vec::with_capacity(keys.len() * 3);
    for (kind, value) in keys {
        params.push((*kind).into());
        params.push(value.as_str().into());
        params.push(rowid.into());
    }
    let values = vec!["(?, ?, ?)"; params.len() / 3].join(", ");
    db.execute(
        &format!("INSERT OR IGNORE INTO contact_keys (kind, value, contact_rowid) VALUES {values}"),
        &params,
    )?;
    Ok(())
}

const SELECT_CONTACT: &str = "SELECT id, {columns}, \
    (SELECT json_group_array(tag) FROM (SELECT tag FROM contact_tags WHERE contact_rowid = c.id ORDER BY tag)) AS tags, \
    (SELECT json_group_array(json_array(channel, external_id)) FROM \
        (SELECT channel, external_id FROM identities WHERE contact_rowid = c.id ORDER BY created_at, channel, external_id)) AS idents\
    {extra} FROM contacts c WHERE {where}";

/// Reads a contact by Contact ID.
pub fn load(db: &dyn Sql, contact_id: &str) -> Result<Contact> {
    load_where(db, "contact_id = ?", contact_id.into())?
        .ok_or_else(|| Error::NotFound(format!("contact '{contact_id}'")))
}

/// Reads the contacts with these Contact IDs (those that exist), in one statement.
pub fn load_many(db: &dyn Sql, contact_ids: &[&str]) -> Result<Vec<Contact>> {
    let params: Vec<Value> = contact_ids.iter().map(|id| (*id).into()).collect();
    let condition = format!("contact_id IN ({})", placeholders(params.len()));
    let rows = db.execute(&select_contact(&condition, ""), &params)?;
    Ok(rows
        .rows
        .into_iter()
        .map(|row| decode(&mut row.into_iter()))
        .collect())
}

fn load_where(db: &dyn Sql, condition: &str, param: Value) -> Result<Option<Contact>> {
    let rows = db.execute(&select_contact(condition, ""), &[param])?;
    Ok(rows
        .rows
        .into_iter()
        .next()
        .map(|row| decode(&mut row.into_iter())))
}

fn select_contact(condition: &str, extra: &str) -> String {
    SELECT_CONTACT
        .replace("{columns}", &COLUMNS.join(", "))
        .replace("{extra}", extra)
        .replace("{where}", condition)
}

/// A contact with what a read shows beside it: the catalogue and the possible-duplicate
/// count, fetched with the contact in one statement (each statement is a host call).
pub struct ReadView {
    pub contact: Contact,
    pub catalogue: Catalogue,
    pub possible_duplicates: i64,
}

pub fn read(db: &dyn Sql, contact_id: &str) -> Result<ReadView> {
    let extra = format!(
        ", ({}) AS dups, {} AS defs",
        crate::merge::duplicates::count_sql("c.id"),
        crate::kernel::fields::CUSTOM_DEFS_JSON
    );
    let rows = db.execute(
        &select_contact("contact_id = ?", &extra),
        &[contact_id.into()],
    )?;
    let row = rows
        .rows
        .into_iter()
        .next()
        .ok_or_else(|| Error::NotFound(format!("contact '{contact_id}'")))?;
    let mut values = row.into_iter();
    let contact = decode(&mut values);
    let possible_duplicates = values.next().and_then(|v| v.as_i64()).unwrap_or(0);
    let defs = values
        .next()
        .and_then(Value::into_string)
        .unwrap_or_else(|| "[]".into());
    Ok(ReadView {
        contact,
        catalogue: Catalogue::from_defs_json(&defs)?,
        possible_duplicates,
    })
}

fn decode(values: &mut std::vec::IntoIter<Value>) -> Contact {
    let rowid = values.next().and_then(|v| v.as_i64()).unwrap_or(0);
    let mut custom = Map::new();
    let cols = COLUMNS
        .iter()
        .map(|col| {
            let v = values.next().unwrap_or(Value::Null);
            if *col != "custom" {
                return v;
            }
            custom = v
                .as_str()
                .and_then(|s| serde_json::from_str(s).ok())
                .unwrap_or_default();
            Value::Null
        })
        .collect();
    let cols = Columns::from_values(cols);
    let tags: Vec<String> = json_text(values.next());
    let idents: Vec<(String, String)> = json_text(values.next());
    let identities = idents
        .into_iter()
        .filter_map(|(c, e)| {
            Some(Identity {
                channel: Channel::parse(&c)?,
                external_id: e,
            })
        })
        .collect();
    Contact {
        rowid,
        cols,
        custom,
        tags,
        identities,
    }
}

fn json_text<T: serde::de::DeserializeOwned + Default>(v: Option<Value>) -> T {
    v.and_then(|v| v.into_string())
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default()
}

/// Applies a caller's partial update; `if_match` is the ETag the caller last saw.
pub fn update(ctx: Ctx, contact_id: &str, body: &Json, if_match: Option<&str>) -> Result<Written> {
    let edit = Edit::parse(body, ctx.catalogue, ctx.region, EditMode::Update)?;
    write_tx(ctx.db, || {
        let mut contact = load(ctx.db, contact_id)?;
        if let Some(tag) = if_match {
            if !etag_matches(tag, &contact.etag()) {
                return Err(Error::StaleVersion {
                    current: contact.etag(),
                });
            }
        }
        check_owner(ctx.db, edit.owner())?;
        let before = contact.clone();
        let changed = edit.apply(&mut contact, ctx.catalogue);
        if changed.is_empty() {
            return Ok(Written {
                possible_duplicates: possible_duplicates(ctx.db, before.rowid)?,
                contact: before,
            });
        }
        save(ctx.db, &before, &mut contact)?;
        let (item, possible_duplicates) = history::record_counting_duplicates(
            ctx.db,
            (contact.rowid, contact_id),
            "update",
            ctx.actor,
            &changed,
        )?;
        if search::upkeep_due(item) {
            search::upkeep(ctx.db)?;
        }
        Ok(Written {
            contact,
            possible_duplicates,
        })
    })
}

fn etag_matches(header: &str, etag: &str) -> bool {
    header
        .split(',')
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == etag)
}

/// Writes a changed contact over its stored version, bumping version and `updated_at`.
/// Only what changed is written: the columns (an `UPDATE` compiles the triggers of every
/// column it sets, on each request's fresh connection), the tags and the match keys
/// gained or lost.
pub fn save(db: &dyn Sql, before: &Contact, contact: &mut Contact) -> Result<()> {
    contact.tags = dedup_tags(contact.tags.iter().map(String::as_str));
    contact.set("version", before.version() + 1);
    contact.set("updated_at", time::now());
    let mut assignments = Vec::new();
    let mut params = Vec::new();
    for (k, col) in COLUMNS.iter().enumerate() {
        if differs_at(before, contact, k) {
            assignments.push(format!("{col} = ?"));
            params.push(value_at(contact, k));
        }
    }
    params.push(contact.rowid.into());
    db.execute(
        &format!(
            "UPDATE contacts SET {} WHERE id = ?",
            assignments.join(", ")
        ),
        &params,
    )
    .map_err(|e| conflict_or(db, contact, e))?;
    update_tags(db, contact.rowid, &before.tags, &contact.tags)?;
    update_match_keys(
        db,
        contact.rowid,
        &before.match_keys(),
        &contact.match_keys(),
    )
}

/// What `after` lost of `before`, and what it gained.
fn lost_and_gained<'a, T: PartialEq>(before: &'a [T], after: &'a [T]) -> (Vec<&'a T>, Vec<&'a T>) {
    let lost = before.iter().filter(|x| !after.contains(x)).collect();
    let gained = after.iter().filter(|x| !before.contains(x)).collect();
    (lost, gained)
}

/// Deletes the tags `after` lost, then adds those it gained (spelled as in `after`: a tag
/// whose case changed is deleted and added).
fn update_tags(db: &dyn Sql, rowid: i64, before: &[String], after: &[String]) -> Result<()> {
    let (lost, gained) = lost_and_gained(before, after);
    if !lost.is_empty() {
        let mut params = vec![Value::from(rowid)];
        params.extend(lost.iter().map(|t| Value::from(t.as_str())));
        db.execute(
            &format!(
                "DELETE FROM contact_tags WHERE contact_rowid = ? AND tag IN ({})",
                placeholders(lost.len())
            ),
            &params,
        )?;
    }
    let gained: Vec<String> = gained.into_iter().cloned().collect();
    insert_tags(db, rowid, &gained)
}

/// The same for match keys (each list as `Contact::match_keys` gives it).
fn update_match_keys(
    db: &dyn Sql,
    rowid: i64,
    before: &[(&'static str, String)],
    after: &[(&'static str, String)],
) -> Result<()> {
    let (lost, gained) = lost_and_gained(before, after);
    if !lost.is_empty() {
        let mut params = vec![Value::from(rowid)];
        for (kind, value) in &lost {
            params.push((*kind).into());
            params.push(value.as_str().into());
        }
        db.execute(
            &format!(
                "DELETE FROM contact_keys WHERE contact_rowid = ? AND (kind, value) IN (VALUES {})",
                vec!["(?, ?)"; lost.len()].join(", ")
            ),
            &params,
        )?;
    }
    let gained: Vec<(&'static str, String)> = gained.into_iter().cloned().collect();
    insert_match_keys(db, rowid, &gained)
}

/// Deletes one contact and everything attached to it; history keeps the record of it.
pub fn delete(db: &dyn Sql, actor: &str, contact_id: &str) -> Result<()> {
    write_tx(db, || {
        let rows = db.execute(
            "SELECT id FROM contacts WHERE contact_id = ?",
            &[contact_id.into()],
        )?;
        let rowid = rows
            .scalar_i64()
            .ok_or_else(|| Error::NotFound(format!("contact '{contact_id}'")))?;
        delete_rows(db, &[rowid])?;
        history::record(db, contact_id, "delete", actor, &[])?;
        Ok(())
    })
}

/// Deletes contacts by row id with their tags, identities, conversations and match keys.
/// Runs inside the caller's transaction.
pub fn delete_rows(db: &dyn Sql, rowids: &[i64]) -> Result<()> {
    delete_with(
        db,
        rowids,
        &[
            "contact_tags",
            "identities",
            "conversations",
            "contact_keys",
        ],
    )
}

/// Deletes contacts whose identities and conversations a merge has moved to its primary,
/// with their tags and match keys: two statements fewer than [`delete_rows`], each a host
/// call that would find nothing. Runs inside the caller's transaction.
pub fn delete_merged_rows(db: &dyn Sql, rowids: &[i64]) -> Result<()> {
    delete_with(db, rowids, &["contact_tags", "contact_keys"])
}

/// Deletes the rows of `attached` (tables keyed by `contact_rowid`) and the contacts.
fn delete_with(db: &dyn Sql, rowids: &[i64], attached: &[&str]) -> Result<()> {
    if rowids.is_empty() {
        return Ok(());
    }
    let ids: Vec<Value> = rowids.iter().map(|r| (*r).into()).collect();
    let marks = placeholders(ids.len());
    for table in attached {
        db.execute(
            &format!("DELETE FROM {table} WHERE contact_rowid IN ({marks})"),
            &ids,
        )?;
    }
    db.execute(&format!("DELETE FROM contacts WHERE id IN ({marks})"), &ids)?;
    Ok(())
}

/// An owner must be a known agent login.
pub fn check_owner(db: &dyn Sql, owner: Option<&str>) -> Result<()> {
    let Some(login) = owner else { return Ok(()) };
    let known = db.execute("SELECT 1 FROM users WHERE login = ?", &[login.into()])?;
    if known.is_empty() {
        return Err(Error::invalid(
            "owner",
            format!("'{login}' is not a known agent login"),
        ));
    }
    Ok(())
}

/// How many other contacts look like this one (`merge::duplicates`: the one definition,
/// which the merge component lists). A read shows the count.
pub fn possible_duplicates(db: &dyn Sql, rowid: i64) -> Result<i64> {
    let rows = db.execute(&crate::merge::duplicates::count_sql("?1"), &[rowid.into()])?;
    Ok(rows.scalar_i64().unwrap_or(0))
}

#[cfg(test)]
mod tests;
