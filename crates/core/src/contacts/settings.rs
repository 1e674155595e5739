//! Settings documents: auto-create rules and per-user table views, in SQLite.
//!
//! They were kept in the key-value store until schema version 2. Under self-hosted Spin a
//! key-value call on a request stalls a keep-alive client ~40 ms (Nagle's algorithm meets the
//! client's delayed ACK: README), and table views are read by every page of contacts, the
//! auto-create rules by every chat event; SQLite serves them without the stall. The old
//! documents are copied over lazily: migration 2 leaves a marker row, and the first request
//! that reads a setting and sees it copies every setting from key-value (one `get-keys` and one
//! `get` per setting, once per database), then removes the marker. A migration cannot do it:
//! it only has SQL. The documents keep their key-value names and JSON.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::kernel::error::{Error, Result};
use crate::kernel::fields::{Catalogue, CUSTOM_DEFS_JSON, DEFAULT_COLUMNS};
use crate::kernel::store::{write_tx, Kv, Sql, Value};
use crate::kernel::values::{Channel, LeadStage};
use crate::query::page::parse_columns;

/// Migration 2's part: one row per document, named as its key-value key was.
pub const SCHEMA_V2: &[&str] = &[
    "CREATE TABLE app_settings (
        name TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID",
    // Until this row is gone, the key-value documents have not been copied here.
    "INSERT INTO app_settings (name, value) VALUES ('import:key-value', 'pending')",
];

const IMPORT_MARKER: &str = "import:key-value";
const AUTOCREATE_KEY: &str = "settings:autocreate";
const TABLE_VIEW_PREFIX: &str = "views:table:";

/// The key-value store the settings were in before schema version 2, opened only if they
/// have not been copied from it yet (opening it is itself a key-value call).
pub type LegacyKv<'a> = &'a dyn Fn() -> Result<&'a dyn Kv>;

/// The document `name`, copying the key-value documents over first if that is still to do.
/// One statement when they have been copied.
fn read(db: &dyn Sql, legacy: LegacyKv, name: &str) -> Result<Option<String>> {
    Ok(read_also(db, legacy, name, None)?.0)
}

/// [`read`] with the field catalogue, in one statement: a page of contacts needs both.
fn read_with_catalogue(
    db: &dyn Sql,
    legacy: LegacyKv,
    name: &str,
) -> Result<(Option<String>, Catalogue)> {
    let (value, defs) = read_also(db, legacy, name, Some(Also::new(CUSTOM_DEFS_JSON)))?;
    let catalogue =
        Catalogue::from_defs_json(defs.as_ref().and_then(Value::as_str).unwrap_or("[]"))?;
    Ok((value, catalogue))
}

/// An expression selected beside a settings document, so that a request needing both reads
/// them in one statement (each statement is a host call). Its parameters are numbered from
/// `?3`: `?1` and `?2` are the document's.
pub struct Also<'a> {
    pub expression: &'a str,
    pub params: Vec<Value>,
}

impl<'a> Also<'a> {
    /// The number of the first parameter `also`'s expression may use.
    pub const FIRST_PARAM: usize = 3;

    pub fn new(expression: &'a str) -> Self {
        Also {
            expression,
            params: Vec::new(),
        }
    }
}

/// [`read`], and `also`'s value when given.
fn read_also(
    db: &dyn Sql,
    legacy: LegacyKv,
    name: &str,
    also: Option<Also>,
) -> Result<(Option<String>, Option<Value>)> {
    let (value, pending, extra) = read_row(db, name, also)?;
    if !pending {
        return Ok((value, extra));
    }
    import_key_value(db, legacy()?)?;
    Ok((read_row(db, name, None)?.0, extra))
}

/// The document `name`, whether the key-value copy is pending, and `also` (an expression
/// selected beside them).
fn read_row(
    db: &dyn Sql,
    name: &str,
    also: Option<Also>,
) -> Result<(Option<String>, bool, Option<Value>)> {
    let mut params = vec![name.into(), IMPORT_MARKER.into()];
    let also = match also {
        Some(also) => {
            params.extend(also.params);
            format!(", {}", also.expression)
        }
        None => String::new(),
    };
    let rows = db.execute(
        &format!(
            "SELECT (SELECT value FROM app_settings WHERE name = ?1),
                    EXISTS (SELECT 1 FROM app_settings WHERE name = ?2){also}"
        ),
        &params,
    )?;
    let row = rows.rows.into_iter().next().unwrap_or_default();
    let mut values = row.into_iter();
    let value = values.next().and_then(Value::into_string);
    let pending = values.next().and_then(|v| v.as_i64()) == Some(1);
    Ok((value, pending, values.next()))
}

/// Copies every settings document from key-value, keeping any saved here meanwhile (a newer
/// save wins), and removes the marker. Two requests doing it at once copy the same values.
fn import_key_value(db: &dyn Sql, kv: &dyn Kv) -> Result<()> {
    let mut documents = Vec::new();
    for key in kv.keys()? {
        if key != AUTOCREATE_KEY && !key.starts_with(TABLE_VIEW_PREFIX) {
            continue;
        }
        if let Some(bytes) = kv.get(&key)? {
            documents.push((key, String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    write_tx(db, || {
        for (name, value) in &documents {
            db.execute(
                "INSERT OR IGNORE INTO app_settings (name, value) VALUES (?1, ?2)",
                &[name.as_str().into(), value.as_str().into()],
            )?;
        }
        db.execute(
            "DELETE FROM app_settings WHERE name = ?1",
            &[IMPORT_MARKER.into()],
        )?;
        Ok(())
    })
}

fn write(db: &dyn Sql, name: &str, value: &Json) -> Result<()> {
    db.execute(
        "INSERT INTO app_settings (name, value) VALUES (?1, ?2)
         ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        &[name.into(), value.to_string().into()],
    )?;
    Ok(())
}

/// How events of one channel create and match contacts (SPEC §9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelRule {
    pub enabled: bool,
    /// Which keys, in order, an event's contact is matched on after its identity.
    #[serde(rename = "match")]
    pub match_keys: Vec<String>,
    pub lead_stage: String,
}

impl ChannelRule {
    fn default_for(channel: Channel) -> Self {
        let stage = if channel == Channel::WebChat {
            LeadStage::Lead
        } else {
            LeadStage::Contact
        };
        ChannelRule {
            enabled: true,
            match_keys: vec!["email".into(), "phone".into()],
            lead_stage: stage.as_str().into(),
        }
    }
}

/// Rules for every channel; channels the stored document leaves out keep their defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct AutocreateSettings {
    pub channels: Vec<(Channel, ChannelRule)>,
}

impl AutocreateSettings {
    pub fn rule(&self, channel: Channel) -> ChannelRule {
        self.channels
            .iter()
            .find(|(c, _)| *c == channel)
            .map(|(_, r)| r.clone())
            .unwrap_or_else(|| ChannelRule::default_for(channel))
    }

    pub fn to_json(&self) -> Json {
        let channels: Map<String, Json> = Channel::ALL
            .iter()
            .map(|c| (c.as_str().to_owned(), json!(self.rule(*c))))
            .collect();
        json!({ "channels": channels })
    }

    /// Reads a caller's document; every channel and value is checked.
    pub fn parse(doc: &Json) -> Result<Self> {
        let channels = doc
            .get("channels")
            .and_then(Json::as_object)
            .ok_or_else(|| {
                Error::malformed(
                    "expected {\"channels\": {<channel>: {enabled, match, lead_stage}}}",
                )
            })?;
        let mut out = Vec::new();
        for (name, rule) in channels {
            let field = format!("channels.{name}");
            let channel =
                Channel::parse(name).ok_or_else(|| Error::invalid(&field, "is not a channel"))?;
            let rule: ChannelRule =
                serde_json::from_value(rule.clone()).map_err(|e| Error::Malformed {
                    detail: format!("{field}: {e}"),
                    field: Some(field.clone()),
                })?;
            if let Some(bad) = rule
                .match_keys
                .iter()
                .find(|k| !matches!(k.as_str(), "email" | "phone"))
            {
                return Err(Error::invalid(
                    format!("{field}.match"),
                    format!("'{bad}' is not a match key (email, phone)"),
                ));
            }
            if LeadStage::parse(&rule.lead_stage).is_none() {
                return Err(Error::invalid(
                    format!("{field}.lead_stage"),
                    "must be lead, contact or customer",
                ));
            }
            out.push((channel, rule));
        }
        Ok(AutocreateSettings { channels: out })
    }

    pub fn load(db: &dyn Sql, legacy: LegacyKv) -> Result<Self> {
        Self::from_stored(read(db, legacy, AUTOCREATE_KEY)?)
    }

    /// [`load`](Self::load), and `also`'s value read in the same statement.
    pub fn load_also(db: &dyn Sql, legacy: LegacyKv, also: Also) -> Result<(Self, Option<Value>)> {
        let (text, value) = read_also(db, legacy, AUTOCREATE_KEY, Some(also))?;
        Ok((Self::from_stored(text)?, value))
    }

    fn from_stored(text: Option<String>) -> Result<Self> {
        match text {
            Some(text) if !text.is_empty() => {
                let doc: Json = serde_json::from_str(&text)
                    .map_err(|e| Error::Storage(format!("autocreate settings: {e}")))?;
                Self::parse(&doc)
            }
            _ => Ok(AutocreateSettings { channels: vec![] }),
        }
    }

    pub fn save(&self, db: &dyn Sql) -> Result<()> {
        write(db, AUTOCREATE_KEY, &self.to_json())
    }
}

/// A user's table view: which columns, in which order (SPEC §3 Customize table).
pub mod table_view {
    use super::*;

    fn key(login: &str) -> String {
        format!("{TABLE_VIEW_PREFIX}{login}")
    }

    /// The field catalogue and the user's columns (or the default ones), read in one
    /// statement: every page of contacts and every search needs both. Columns of deleted
    /// custom fields drop out.
    pub fn load(db: &dyn Sql, legacy: LegacyKv, login: &str) -> Result<(Catalogue, Vec<String>)> {
        let (text, catalogue) = read_with_catalogue(db, legacy, &key(login))?;
        let saved: Option<Vec<String>> = text
            .and_then(|text| serde_json::from_str::<Json>(&text).ok())
            .and_then(|doc| serde_json::from_value(doc.get("columns")?.clone()).ok());
        let columns = match saved {
            Some(cols) => cols
                .into_iter()
                .filter(|c| catalogue.get(c).is_some())
                .collect(),
            None => DEFAULT_COLUMNS.iter().map(|s| s.to_string()).collect(),
        };
        Ok((catalogue, columns))
    }

    pub fn save(
        db: &dyn Sql,
        login: &str,
        doc: &Json,
        catalogue: &Catalogue,
    ) -> Result<Vec<String>> {
        let columns: Vec<String> = doc
            .get("columns")
            .and_then(|c| serde_json::from_value(c.clone()).ok())
            .ok_or_else(|| Error::malformed("expected {\"columns\": [field keys]}"))?;
        let columns = parse_columns(&columns, catalogue).map_err(|e| match e {
            Error::Invalid { detail, .. } => Error::invalid("columns", detail),
            other => other,
        })?;
        write(db, &key(login), &json!({ "columns": columns }))?;
        Ok(columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::native::{MemoryKv, NativeSql};

    fn db() -> NativeSql {
        let db = NativeSql::open_in_memory();
        crate::kernel::schema::ensure(&db).unwrap();
        db
    }

    /// A legacy store that fails the test if it is opened.
    fn untouched() -> Result<&'static dyn Kv> {
        panic!("key-value was read after the import")
    }

    #[test]
    fn defaults_follow_the_spec() {
        let kv = MemoryKv::default();
        let s = AutocreateSettings::load(&db(), &|| Ok(&kv)).unwrap();
        assert_eq!(s.rule(Channel::WebChat).lead_stage, "lead");
        assert_eq!(s.rule(Channel::Whatsapp).lead_stage, "contact");
        assert!(s.rule(Channel::Telegram).enabled);
        assert_eq!(s.rule(Channel::Sms).match_keys, vec!["email", "phone"]);
    }

    #[test]
    fn saved_rules_override_and_are_checked() {
        let db = db();
        let kv = MemoryKv::default();
        let doc = json!({"channels": {"telegram": {"enabled": false, "match": ["phone"], "lead_stage": "customer"}}});
        AutocreateSettings::parse(&doc).unwrap().save(&db).unwrap();
        let s = AutocreateSettings::load(&db, &|| Ok(&kv)).unwrap();
        assert!(!s.rule(Channel::Telegram).enabled);
        assert!(s.rule(Channel::Whatsapp).enabled);
        assert_eq!(
            s.to_json()["channels"]["telegram"]["match"],
            json!(["phone"])
        );
        let bad =
            json!({"channels": {"fax": {"enabled": true, "match": [], "lead_stage": "lead"}}});
        assert_eq!(
            AutocreateSettings::parse(&bad).unwrap_err(),
            Error::invalid("channels.fax", "is not a channel")
        );
        let bad = json!({"channels": {"sms": {"enabled": true, "match": ["name"], "lead_stage": "lead"}}});
        assert!(matches!(
            AutocreateSettings::parse(&bad),
            Err(Error::Invalid { .. })
        ));
    }

    #[test]
    fn table_views_are_per_user_with_defaults() {
        let db = db();
        let kv = MemoryKv::default();
        let cat = Catalogue::with_custom(vec![]);
        let load = |login| table_view::load(&db, &|| Ok(&kv), login).unwrap().1;
        assert_eq!(load("ana")[0], "display_name");
        table_view::save(&db, "ana", &json!({"columns": ["city", "email"]}), &cat).unwrap();
        assert_eq!(load("ana"), vec!["city", "email"]);
        assert_eq!(load("bo")[0], "display_name");
        assert!(table_view::save(&db, "ana", &json!({"columns": ["nope"]}), &cat).is_err());
    }

    #[test]
    fn key_value_documents_are_copied_once_and_newer_saves_win() {
        let db = db();
        let kv = MemoryKv::default();
        let rules = json!({"channels": {"sms": {"enabled": false, "match": ["email"], "lead_stage": "lead"}}});
        kv.set(AUTOCREATE_KEY, rules.to_string().as_bytes());
        kv.set("views:table:ana", br#"{"columns": ["city"]}"#);
        kv.set("views:table:bo", br#"{"columns": ["email"]}"#);
        kv.set("unrelated", b"kept out");
        let cat = Catalogue::with_custom(vec![]);
        // Bo saved a view in SQLite before anything was copied: his newer one stays.
        table_view::save(&db, "bo", &json!({"columns": ["company"]}), &cat).unwrap();

        let (_, ana) = table_view::load(&db, &|| Ok(&kv), "ana").unwrap();
        assert_eq!(ana, vec!["city"]);
        // Everything was copied by that first read: key-value is never opened again.
        let (_, bo) = table_view::load(&db, &untouched, "bo").unwrap();
        assert_eq!(bo, vec!["company"]);
        let s = AutocreateSettings::load(&db, &untouched).unwrap();
        assert!(!s.rule(Channel::Sms).enabled);
        let names = db
            .execute("SELECT name FROM app_settings ORDER BY name", &[])
            .unwrap();
        assert_eq!(names.rows.len(), 3, "{names:?}");
    }
}
