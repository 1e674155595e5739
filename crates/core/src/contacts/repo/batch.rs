//! The writes of [`super`] for many contacts at once, for bulk writers (an import chunk):
//! a few multi-row statements per batch instead of several statements per contact, since
//! each statement is a host call under Spin. Same rows, same triggers, same match keys as
//! [`super::insert`] and [`super::save`]; runs inside the caller's transaction.

use std::collections::HashMap;

use crate::contacts::contact::{dedup_tags, Contact, COLUMNS};
use crate::kernel::error::{Error, Result};
use crate::kernel::store::{placeholders, Sql, Value};
use crate::kernel::values::time;

/// Bound parameters per statement, well under SQLite's 32,766.
pub const MAX_PARAMS: usize = 16_000;

/// Reads contacts (with tags and identities) by row id, in any order.
pub fn load_many(db: &dyn Sql, rowids: &[i64]) -> Result<Vec<Contact>> {
    let mut out = Vec::with_capacity(rowids.len());
    for ids in rowids.chunks(MAX_PARAMS) {
        let params: Vec<Value> = ids.iter().map(|&r| r.into()).collect();
        let sql = super::select_contact(&format!("id IN ({})", placeholders(ids.len())), "");
        let rows = db.execute(&sql, &params)?;
        out.extend(
            rows.rows
                .into_iter()
                .map(|row| super::decode(&mut row.into_iter())),
        );
    }
    Ok(out)
}

/// Stores new contacts (their Contact IDs set and free) with their tags and match keys,
/// and sets each one's `rowid`. Each statement names only the columns some contact of its
/// group has a value in: the others are NULL either way (every column with a default is
/// NOT NULL, and a contact always has a value there), and an imported row fills a third of
/// them, so two thirds of the parameters would cross to the host for nothing.
pub fn insert_many(db: &dyn Sql, contacts: &mut [Contact]) -> Result<()> {
    if contacts.is_empty() {
        return Ok(());
    }
    let mut rowids: HashMap<String, i64> = HashMap::with_capacity(contacts.len());
    for group in contacts.chunks_mut(MAX_PARAMS / COLUMNS.len()) {
        for contact in group.iter_mut() {
            contact.tags = dedup_tags(contact.tags.iter().map(String::as_str));
        }
        let used = columns_where(|k| group.iter().any(|c| !super::is_null_at(c, k)));
        let row_marks = format!("({})", placeholders(used.len()));
        let sql = format!(
            "INSERT INTO contacts ({}) VALUES {} RETURNING id, contact_id",
            names(&used).join(", "),
            vec![row_marks.as_str(); group.len()].join(", ")
        );
        let params: Vec<Value> = group
            .iter()
            .flat_map(|c| used.iter().map(|&k| super::value_at(c, k)))
            .collect();
        // RETURNING rows come in no promised order: they are matched by Contact ID.
        for row in db.execute_owned(&sql, params)?.rows {
            if let [Value::Integer(id), Value::Text(cid)] = row.as_slice() {
                rowids.insert(cid.clone(), *id);
            }
        }
    }
    for contact in contacts.iter_mut() {
        contact.rowid = *rowids.get(contact.contact_id()).ok_or_else(|| {
            Error::Storage(format!(
                "insert returned no row for {}",
                contact.contact_id()
            ))
        })?;
    }
    insert_tags(db, contacts.iter())?;
    insert_match_keys(db, contacts.iter())
}

/// The positions in `COLUMNS` of the columns `wanted` picks, in order.
fn columns_where(wanted: impl Fn(usize) -> bool) -> Vec<usize> {
    (0..COLUMNS.len()).filter(|&k| wanted(k)).collect()
}

fn names(columns: &[usize]) -> Vec<&'static str> {
    columns.iter().map(|&k| COLUMNS[k]).collect()
}

/// A stored contact and what it becomes.
pub struct Change {
    pub before: Contact,
    pub after: Contact,
}

/// Writes changed contacts over their stored versions (bumping version and `updated_at`),
/// replacing the tags and match keys of those whose tags or keys changed. Each statement
/// sets only the columns some contact of its group changes: SQLite rewrites the entry of
/// every index on a column it sets, changed or not, and a matched import row changes a few
/// of the contact's fifteen indexed columns, mostly none.
pub fn save_many(db: &dyn Sql, changes: &mut [Change]) -> Result<()> {
    if changes.is_empty() {
        return Ok(());
    }
    let now = time::now();
    for c in changes.iter_mut() {
        c.after.tags = dedup_tags(c.after.tags.iter().map(String::as_str));
        c.after.set("version", c.before.version() + 1);
        c.after.set("updated_at", now.as_str());
    }
    for group in changes.chunks(MAX_PARAMS / (COLUMNS.len() + 1)) {
        let set = columns_where(|k| {
            COLUMNS[k] != "contact_id"
                && group
                    .iter()
                    .any(|c| super::differs_at(&c.before, &c.after, k))
        });
        // `v.column1` is the row id; column i + 2 is the i-th column set.
        let assignments: Vec<String> = names(&set)
            .iter()
            .enumerate()
            .map(|(i, c)| format!("{c} = v.column{}", i + 2))
            .collect();
        let row_marks = format!("({})", placeholders(set.len() + 1));
        let mut params = Vec::with_capacity(group.len() * (set.len() + 1));
        for c in group {
            params.push(c.after.rowid.into());
            params.extend(set.iter().map(|&k| super::value_at(&c.after, k)));
        }
        db.execute_owned(
            &format!(
                "UPDATE contacts SET {} FROM (VALUES {}) AS v WHERE contacts.id = v.column1",
                assignments.join(", "),
                vec![row_marks.as_str(); group.len()].join(", ")
            ),
            params,
        )?;
    }
    let retagged: Vec<&Contact> = changes
        .iter()
        .filter(|c| c.before.tags != c.after.tags)
        .map(|c| &c.after)
        .collect();
    delete_for(db, "contact_tags", &retagged)?;
    insert_tags(db, retagged.into_iter())?;
    let rekeyed: Vec<&Contact> = changes
        .iter()
        .filter(|c| c.before.match_keys() != c.after.match_keys())
        .map(|c| &c.after)
        .collect();
    delete_for(db, "contact_keys", &rekeyed)?;
    insert_match_keys(db, rekeyed.into_iter())
}

fn delete_for(db: &dyn Sql, table: &str, contacts: &[&Contact]) -> Result<()> {
    for group in contacts.chunks(MAX_PARAMS) {
        let ids: Vec<Value> = group.iter().map(|c| c.rowid.into()).collect();
        db.execute(
            &format!(
                "DELETE FROM {table} WHERE contact_rowid IN ({})",
                placeholders(ids.len())
            ),
            &ids,
        )?;
    }
    Ok(())
}

fn insert_tags<'a>(db: &dyn Sql, contacts: impl Iterator<Item = &'a Contact>) -> Result<()> {
    let pairs: Vec<[Value; 2]> = contacts
        .flat_map(|c| c.tags.iter().map(|t| [c.rowid.into(), t.as_str().into()]))
        .collect();
    insert_rows(
        db,
        "INSERT OR IGNORE INTO contact_tags (contact_rowid, tag) VALUES",
        pairs,
    )
}

fn insert_match_keys<'a>(db: &dyn Sql, contacts: impl Iterator<Item = &'a Contact>) -> Result<()> {
    let triples: Vec<[Value; 3]> = contacts
        .flat_map(|c| {
            c.match_keys()
                .into_iter()
                .map(|(kind, value)| [kind.into(), value.into(), c.rowid.into()])
        })
        .collect();
    insert_rows(
        db,
        "INSERT OR IGNORE INTO contact_keys (kind, value, contact_rowid) VALUES",
        triples,
    )
}

/// `insert` (ending in `VALUES`) for every row, as few statements as the parameter bound
/// allows; the rows' values move to the statement.
pub fn insert_rows<const N: usize>(
    db: &dyn Sql,
    insert: &str,
    rows: Vec<[Value; N]>,
) -> Result<()> {
    let marks = format!("({})", placeholders(N));
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let group: Vec<[Value; N]> = rows.by_ref().take(MAX_PARAMS / N).collect();
        let sql = format!("{insert} {}", vec![marks.as_str(); group.len()].join(", "));
        db.execute_owned(&sql, group.into_iter().flatten().collect())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::contact::{Edit, EditMode};
    use crate::kernel::fields::Catalogue;
    use crate::kernel::native::NativeSql;
    use crate::kernel::values::{ContactId, Region};
    use crate::{contacts::repo, kernel::schema};
    use serde_json::json;

    fn db() -> NativeSql {
        let db = NativeSql::open_in_memory();
        schema::ensure(&db).unwrap();
        db
    }

    fn contact(id: &str, body: serde_json::Value) -> Contact {
        let catalogue = Catalogue::with_custom(vec![]);
        let edit = Edit::parse(&body, &catalogue, Region::default(), EditMode::Create).unwrap();
        let mut c = Contact::new(ContactId::parse(id).unwrap(), "admin");
        edit.apply(&mut c, &catalogue);
        c
    }

    #[test]
    fn many_inserted_read_back_as_one_inserted_by_one() {
        let db = db();
        let mut batch = vec![
            contact("A1", json!({"email": "A@x.com", "tags": ["vip", "b2b"]})),
            contact(
                "A2",
                json!({"phone": "+1 212 555 0100", "first_name": "Ana"}),
            ),
        ];
        insert_many(&db, &mut batch).unwrap();
        for c in &batch {
            let stored = repo::load(&db, c.contact_id()).unwrap();
            assert_eq!(stored.rowid, c.rowid);
            assert_eq!(stored.tags.len(), c.tags.len());
            assert_eq!(stored.match_keys(), c.match_keys());
        }
        let keys = db
            .execute("SELECT count(*) FROM contact_keys", &[])
            .unwrap()
            .scalar_i64();
        assert_eq!(keys, Some(2));
    }

    /// Every stored column of every contact, in Contact ID order.
    fn stored_rows(db: &NativeSql) -> Vec<Vec<Value>> {
        db.execute(
            &format!(
                "SELECT {} FROM contacts ORDER BY contact_id",
                COLUMNS.join(", ")
            ),
            &[],
        )
        .unwrap()
        .rows
    }

    #[test]
    fn a_batch_of_contacts_filling_different_columns_stores_what_one_by_one_would() {
        let contacts = vec![
            contact("A1", json!({"email": "a@x.com"})),
            contact(
                "A2",
                json!({"phone": "+1 212 555 0100", "first_name": "Ana", "city": "Recife"}),
            ),
            contact(
                "A3",
                json!({"email": "c@x.com", "company": "Acme", "tags": ["vip"]}),
            ),
        ];
        let batched = db();
        insert_many(&batched, &mut contacts.clone()).unwrap();
        let one_by_one = db();
        for mut c in contacts {
            repo::insert(&one_by_one, &mut c, false).unwrap();
        }
        assert_eq!(stored_rows(&batched), stored_rows(&one_by_one));
    }

    #[test]
    fn a_save_sets_only_the_columns_its_contacts_change() {
        let db = db();
        let mut batch = vec![
            contact("A1", json!({"email": "a@x.com", "company": "Acme"})),
            contact("A2", json!({"email": "b@x.com", "company": "Beta"})),
        ];
        insert_many(&db, &mut batch).unwrap();
        db.execute("CREATE TEMP TABLE fired (id INTEGER)", &[])
            .unwrap();
        db.execute(
            "CREATE TEMP TRIGGER company_set AFTER UPDATE OF company ON contacts \
             BEGIN INSERT INTO fired VALUES (new.id); END",
            &[],
        )
        .unwrap();
        let rowids: Vec<i64> = batch.iter().map(|c| c.rowid).collect();
        let mut changes: Vec<Change> = load_many(&db, &rowids)
            .unwrap()
            .into_iter()
            .map(|before| {
                let mut after = before.clone();
                after.set("city", format!("{} city", before.contact_id()).as_str());
                Change { before, after }
            })
            .collect();
        let expected: Vec<Contact> = changes.iter().map(|c| c.after.clone()).collect();
        save_many(&db, &mut changes).unwrap();
        let fired = db.execute("SELECT count(*) FROM fired", &[]).unwrap();
        assert_eq!(
            fired.scalar_i64(),
            Some(0),
            "company was set though unchanged"
        );
        for (c, want) in changes.iter().zip(expected) {
            let stored = repo::load(&db, c.after.contact_id()).unwrap();
            assert_eq!(stored.text("city"), want.text("city"));
            assert_eq!(stored.text("company"), want.text("company"));
            assert_eq!(stored.version(), 2);
            assert_eq!(stored.text("updated_at"), c.after.text("updated_at"));
        }
    }

    #[test]
    fn many_saved_replace_tags_and_keys_and_bump_versions() {
        let db = db();
        let mut batch = vec![contact("A1", json!({"email": "a@x.com", "tags": ["vip"]}))];
        insert_many(&db, &mut batch).unwrap();
        let before = load_many(&db, &[batch[0].rowid]).unwrap().remove(0);
        let mut after = before.clone();
        after.set("email", "b@x.com");
        after.set("email_norm", "b@x.com");
        after.tags = vec!["new".into()];
        save_many(&db, &mut [Change { before, after }]).unwrap();
        let stored = repo::load(&db, "A1").unwrap();
        assert_eq!(stored.text("email_norm"), Some("b@x.com"));
        assert_eq!(stored.tags, vec!["new".to_string()]);
        assert_eq!(stored.version(), 2);
        let key = db
            .execute("SELECT value FROM contact_keys", &[])
            .unwrap()
            .scalar()
            .cloned();
        assert_eq!(key, Some(Value::Text("b@x.com".into())));
    }
}
