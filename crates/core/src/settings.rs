//! Documents kept in the key-value store: auto-create rules and per-user table views.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value as Json};

use crate::error::{Error, Result};
use crate::fields::{Catalogue, DEFAULT_COLUMNS};
use crate::query::parse_columns;
use crate::store::Kv;
use crate::values::{Channel, LeadStage};

const AUTOCREATE_KEY: &str = "settings:autocreate";

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

    pub fn load(kv: &dyn Kv) -> Result<Self> {
        match kv.get(AUTOCREATE_KEY)? {
            Some(bytes) if !bytes.is_empty() => {
                let doc: Json = serde_json::from_slice(&bytes)
                    .map_err(|e| Error::Storage(format!("autocreate settings: {e}")))?;
                Self::parse(&doc)
            }
            _ => Ok(AutocreateSettings { channels: vec![] }),
        }
    }

    pub fn save(&self, kv: &dyn Kv) -> Result<()> {
        kv.set(AUTOCREATE_KEY, self.to_json().to_string().as_bytes())?;
        Ok(())
    }
}

/// A user's table view: which columns, in which order (SPEC §3 Customize table).
pub mod table_view {
    use super::*;

    fn key(login: &str) -> String {
        format!("views:table:{login}")
    }

    /// The user's columns, or the default ones. Columns of deleted custom fields drop out.
    pub fn load(kv: &dyn Kv, login: &str, catalogue: &Catalogue) -> Result<Vec<String>> {
        let saved: Option<Vec<String>> = kv
            .get(&key(login))?
            .and_then(|bytes| serde_json::from_slice::<Json>(&bytes).ok())
            .and_then(|doc| serde_json::from_value(doc.get("columns")?.clone()).ok());
        Ok(match saved {
            Some(cols) => cols
                .into_iter()
                .filter(|c| catalogue.get(c).is_some())
                .collect(),
            None => DEFAULT_COLUMNS.iter().map(|s| s.to_string()).collect(),
        })
    }

    pub fn save(
        kv: &dyn Kv,
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
        kv.set(
            &key(login),
            json!({ "columns": columns }).to_string().as_bytes(),
        )?;
        Ok(columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::MemoryKv;

    #[test]
    fn defaults_follow_the_spec() {
        let s = AutocreateSettings::load(&MemoryKv::default()).unwrap();
        assert_eq!(s.rule(Channel::WebChat).lead_stage, "lead");
        assert_eq!(s.rule(Channel::Whatsapp).lead_stage, "contact");
        assert!(s.rule(Channel::Telegram).enabled);
        assert_eq!(s.rule(Channel::Sms).match_keys, vec!["email", "phone"]);
    }

    #[test]
    fn saved_rules_override_and_are_checked() {
        let kv = MemoryKv::default();
        let doc = json!({"channels": {"telegram": {"enabled": false, "match": ["phone"], "lead_stage": "customer"}}});
        AutocreateSettings::parse(&doc).unwrap().save(&kv).unwrap();
        let s = AutocreateSettings::load(&kv).unwrap();
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
        let kv = MemoryKv::default();
        let cat = Catalogue::with_custom(vec![]);
        assert_eq!(
            table_view::load(&kv, "ana", &cat).unwrap()[0],
            "display_name"
        );
        table_view::save(&kv, "ana", &json!({"columns": ["city", "email"]}), &cat).unwrap();
        assert_eq!(
            table_view::load(&kv, "ana", &cat).unwrap(),
            vec!["city", "email"]
        );
        assert_eq!(
            table_view::load(&kv, "bo", &cat).unwrap()[0],
            "display_name"
        );
        assert!(table_view::save(&kv, "ana", &json!({"columns": ["nope"]}), &cat).is_err());
    }
}
