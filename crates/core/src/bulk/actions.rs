//! Bulk actions (SPEC §8): `{action, params}` parsed into a typed [`Action`], with no
//! storage. A field value is checked exactly as a PATCH checks it, by [`Edit::parse`]
//! against the field catalogue, so a bulk `set_field` can store nothing a PATCH could not.

use serde_json::{json, Map, Value as Json};

use crate::contacts::contact::{dedup_tags, parse_tags, type_mismatch, Edit, EditMode};
use crate::kernel::error::{Error, Result};
use crate::kernel::fields::Catalogue;
use crate::kernel::store::Value;
use crate::kernel::values::{LeadStage, Login, Region};

/// The action names of SPEC §8, in its order, then this product's own.
pub const NAMES: [&str; 9] = [
    "assign_owner",
    "add_tags",
    "remove_tags",
    "set_field",
    "set_lead_stage",
    "block",
    "unblock",
    "delete",
    "recheck_phones",
];

/// System fields a bulk `set_field` refuses: each is a match key (a primary email or phone
/// belongs to one contact, SPEC §9), so giving a whole set of contacts one value is never
/// what anyone means; they are set per contact. Tags have their own actions.
const PER_CONTACT: [&str; 6] = [
    "email",
    "phone",
    "mobile",
    "secondary_emails",
    "secondary_phones",
    "tags",
];

/// One bulk action, checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A system column set to one text value or cleared: `set_field` on a system field,
    /// `assign_owner` (`owner`) and `set_lead_stage` (`lead_stage`).
    SetColumn {
        /// The field key, as history names it.
        key: String,
        column: &'static str,
        value: Option<String>,
    },
    /// A custom field set to one checked value, or cleared (`None`).
    SetCustom {
        key: String,
        value: Option<Json>,
    },
    AddTags(Vec<String>),
    RemoveTags(Vec<String>),
    Block,
    Unblock,
    Delete,
    /// Phone keys read again from the numbers as written ([`crate::contacts::phones`]):
    /// the repair of keys stored before numbers with another country's code were read
    /// by that country's rules.
    RecheckPhones,
}

impl Action {
    /// Parses `action` and its `params` (`null` or absent for actions that take none).
    /// Errors name the member at fault: `action`, `params.<member>`, or, for a field
    /// value, the field's key as a PATCH names it (`city`, `custom.tier`).
    pub fn parse(
        action: &Json,
        params: &Json,
        catalogue: &Catalogue,
        region: Region,
    ) -> Result<Action> {
        let name = action
            .as_str()
            .ok_or_else(|| type_mismatch("action", "a string"))?;
        let params = Params::new(params, members_of(name)?)?;
        match name {
            "assign_owner" => owner(params.required("owner")?),
            "add_tags" => tags(params.required("tags")?).map(Action::AddTags),
            "remove_tags" => tags(params.required("tags")?).map(Action::RemoveTags),
            "set_field" => set_field(
                params.required("field")?,
                params.required("value")?,
                catalogue,
                region,
            ),
            "set_lead_stage" => lead_stage(params.required("stage")?),
            "block" => Ok(Action::Block),
            "unblock" => Ok(Action::Unblock),
            "recheck_phones" => Ok(Action::RecheckPhones),
            _ => Ok(Action::Delete),
        }
    }

    /// The most contacts one slice takes. `recheck_phones` loads its slice's contacts into
    /// the guest, so its slices stay a few megabytes whatever the time budget allows.
    pub fn max_slice(&self) -> i64 {
        match self {
            Action::RecheckPhones => 5_000,
            _ => super::MAX_SLICE,
        }
    }

    /// The action's name (SPEC §8) as a job shows it.
    pub fn name(&self) -> &'static str {
        match self {
            Action::SetColumn {
                column: "owner", ..
            } => "assign_owner",
            Action::SetColumn {
                column: "lead_stage",
                ..
            } => "set_lead_stage",
            Action::SetColumn { .. } | Action::SetCustom { .. } => "set_field",
            Action::AddTags(_) => "add_tags",
            Action::RemoveTags(_) => "remove_tags",
            Action::Block => "block",
            Action::Unblock => "unblock",
            Action::Delete => "delete",
            Action::RecheckPhones => "recheck_phones",
        }
    }

    /// The action as a job stores it: already checked, so a later change to the
    /// catalogue (a deleted option, say) cannot make a running job fail half way.
    pub fn to_spec(&self) -> Json {
        match self {
            Action::SetColumn { key, column, value } => {
                json!({"set_column": {"key": key, "column": column, "value": value}})
            }
            Action::SetCustom { key, value } => json!({"set_custom": {"key": key, "value": value}}),
            Action::AddTags(t) => json!({"add_tags": t}),
            Action::RemoveTags(t) => json!({"remove_tags": t}),
            Action::Block => json!("block"),
            Action::Unblock => json!("unblock"),
            Action::Delete => json!("delete"),
            Action::RecheckPhones => json!("recheck_phones"),
        }
    }

    /// Reads back what [`Action::to_spec`] stored.
    pub fn from_spec(spec: &Json) -> Result<Action> {
        let bad = || Error::Storage(format!("bulk job: unreadable action {spec}"));
        let strings = |v: &Json| -> Option<Vec<String>> {
            v.as_array()?
                .iter()
                .map(|s| s.as_str().map(str::to_owned))
                .collect()
        };
        match spec {
            Json::String(s) => match s.as_str() {
                "block" => Ok(Action::Block),
                "unblock" => Ok(Action::Unblock),
                "delete" => Ok(Action::Delete),
                "recheck_phones" => Ok(Action::RecheckPhones),
                _ => Err(bad()),
            },
            Json::Object(o) => {
                let (kind, v) = o.iter().next().ok_or_else(bad)?;
                match kind.as_str() {
                    "add_tags" => strings(v).map(Action::AddTags).ok_or_else(bad),
                    "remove_tags" => strings(v).map(Action::RemoveTags).ok_or_else(bad),
                    "set_custom" => Ok(Action::SetCustom {
                        key: v["key"].as_str().ok_or_else(bad)?.to_owned(),
                        value: Some(v["value"].clone()).filter(|v| !v.is_null()),
                    }),
                    "set_column" => {
                        let column = v["column"].as_str().ok_or_else(bad)?;
                        Ok(Action::SetColumn {
                            key: v["key"].as_str().ok_or_else(bad)?.to_owned(),
                            column: static_column(column).ok_or_else(bad)?,
                            value: v["value"].as_str().map(str::to_owned),
                        })
                    }
                    _ => Err(bad()),
                }
            }
            _ => Err(bad()),
        }
    }
}

/// The `&'static` name of a column of `contacts`: stored specs name columns as text, and
/// only the table's own column names may be spliced into SQL.
fn static_column(name: &str) -> Option<&'static str> {
    crate::contacts::contact::COLUMNS
        .iter()
        .copied()
        .find(|c| *c == name)
}

/// The members each action's `params` takes.
fn members_of(action: &str) -> Result<&'static [&'static str]> {
    Ok(match action {
        "assign_owner" => &["owner"],
        "add_tags" | "remove_tags" => &["tags"],
        "set_field" => &["field", "value"],
        "set_lead_stage" => &["stage"],
        "block" | "unblock" | "delete" | "recheck_phones" => &[],
        _ => {
            return Err(Error::invalid(
                "action",
                format!("must be one of: {}", NAMES.join(", ")),
            ))
        }
    })
}

/// An action's `params` object, its members checked against what the action takes.
struct Params<'a>(Option<&'a Map<String, Json>>);

impl<'a> Params<'a> {
    fn new(params: &'a Json, allowed: &[&str]) -> Result<Params<'a>> {
        let obj = match params {
            Json::Null => return Ok(Params(None)),
            Json::Object(o) => o,
            _ => return Err(type_mismatch("params", "an object")),
        };
        if let Some(extra) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
            let name: String = extra.chars().take(60).collect();
            return Err(Error::invalid(
                format!("params.{name}"),
                "is not a parameter of this action",
            ));
        }
        Ok(Params(Some(obj)))
    }

    /// A member that must be present (`null` counts: it clears a field or an owner).
    fn required(&self, name: &str) -> Result<&'a Json> {
        self.0
            .and_then(|o| o.get(name))
            .ok_or_else(|| Error::invalid(format!("params.{name}"), "is required"))
    }
}

fn owner(value: &Json) -> Result<Action> {
    let value = match value {
        Json::Null => None,
        Json::String(s) => Some(
            Login::parse(s)
                .map_err(|why| Error::invalid("params.owner", format!("login {why}")))?
                .as_str()
                .to_owned(),
        ),
        _ => return Err(type_mismatch("params.owner", "an agent login or null")),
    };
    Ok(Action::SetColumn {
        key: "owner".into(),
        column: "owner",
        value,
    })
}

fn lead_stage(value: &Json) -> Result<Action> {
    let s = value
        .as_str()
        .ok_or_else(|| type_mismatch("params.stage", "a string"))?;
    let stage = LeadStage::parse(s)
        .ok_or_else(|| Error::invalid("params.stage", "must be one of: lead, contact, customer"))?;
    Ok(Action::SetColumn {
        key: "lead_stage".into(),
        column: "lead_stage",
        value: Some(stage.as_str().into()),
    })
}

/// 1 to [`crate::contacts::contact::MAX_TAGS`] tags, repeats (in any case) once.
fn tags(value: &Json) -> Result<Vec<String>> {
    let tags = parse_tags(value).map_err(|e| e.within("params"))?;
    if tags.is_empty() {
        return Err(Error::invalid("params.tags", "must list at least one tag"));
    }
    Ok(dedup_tags(tags.iter().map(|t| t.as_str())))
}

fn set_field(field: &Json, value: &Json, catalogue: &Catalogue, region: Region) -> Result<Action> {
    let key = field
        .as_str()
        .ok_or_else(|| type_mismatch("params.field", "a field key"))?;
    if let Some(custom) = key.strip_prefix("custom.") {
        // As a PATCH body would carry it: errors name `custom.<key>`.
        let edit = Edit::parse(
            &json!({"custom": {custom: value}}),
            catalogue,
            region,
            EditMode::Update,
        )?;
        let (key, value) = edit
            .custom
            .into_iter()
            .next()
            .ok_or_else(|| Error::invalid(key, "is not a custom field"))?;
        return Ok(Action::SetCustom {
            key,
            value: Some(value).filter(|v| !v.is_null()),
        });
    }
    if PER_CONTACT.contains(&key) {
        return Err(Error::invalid(
            key,
            "cannot be set in bulk: it is a match key (use add_tags or remove_tags for tags)",
        ));
    }
    if matches!(key, "custom" | "identities") {
        return Err(Error::invalid(key, "is not a field"));
    }
    let edit = Edit::parse(&json!({ key: value }), catalogue, region, EditMode::Update)?;
    match edit.set.as_slice() {
        [(column, v)] => Ok(Action::SetColumn {
            key: key.to_owned(),
            column,
            value: match v {
                Value::Text(s) => Some(s.clone()),
                _ => None,
            },
        }),
        _ => Err(Error::invalid(key, "cannot be set in bulk")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::fields::{CustomFieldDef, FieldType};

    fn catalogue() -> Catalogue {
        Catalogue::with_custom(vec![
            CustomFieldDef {
                key: "tier".into(),
                label: "Tier".into(),
                ty: FieldType::SingleSelect,
                options: Some(vec!["Gold".into(), "Silver".into()]),
            },
            CustomFieldDef {
                key: "score".into(),
                label: "Score".into(),
                ty: FieldType::Number,
                options: None,
            },
        ])
    }

    fn parse(action: &str, params: Json) -> Result<Action> {
        Action::parse(&json!(action), &params, &catalogue(), Region::default())
    }

    fn field_of(e: Error) -> String {
        match e {
            Error::Invalid { field, .. } => field,
            Error::Malformed { field, .. } => field.unwrap_or_default(),
            other => panic!("not a field error: {other:?}"),
        }
    }

    #[test]
    fn every_action_parses_to_its_typed_form_and_round_trips_through_its_spec() {
        let cases = [
            ("assign_owner", json!({"owner": "ana"})),
            ("assign_owner", json!({"owner": null})),
            ("add_tags", json!({"tags": ["vip", "VIP", "new"]})),
            ("remove_tags", json!({"tags": ["old"]})),
            ("set_field", json!({"field": "city", "value": " Lyon "})),
            ("set_field", json!({"field": "city", "value": null})),
            ("set_field", json!({"field": "first_name", "value": "Ana"})),
            (
                "set_field",
                json!({"field": "birthday", "value": "1990-02-03"}),
            ),
            (
                "set_field",
                json!({"field": "custom.tier", "value": "gold"}),
            ),
            ("set_field", json!({"field": "custom.score", "value": 4.5})),
            ("set_field", json!({"field": "custom.score", "value": null})),
            ("set_lead_stage", json!({"stage": "customer"})),
            ("block", Json::Null),
            ("unblock", json!({})),
            ("delete", Json::Null),
        ];
        for (name, params) in cases {
            let action = parse(name, params.clone()).unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert_eq!(action.name(), name, "{params}");
            assert_eq!(Action::from_spec(&action.to_spec()).unwrap(), action);
        }
    }

    #[test]
    fn values_are_checked_and_normalized_as_a_patch_does() {
        assert_eq!(
            parse("set_field", json!({"field": "city", "value": " Lyon "})).unwrap(),
            Action::SetColumn {
                key: "city".into(),
                column: "city",
                value: Some("Lyon".into())
            }
        );
        assert_eq!(
            parse(
                "set_field",
                json!({"field": "custom.tier", "value": "gold"})
            )
            .unwrap(),
            Action::SetCustom {
                key: "tier".into(),
                value: Some(json!("Gold"))
            }
        );
        assert_eq!(
            parse("add_tags", json!({"tags": ["vip", "VIP", " new "]})).unwrap(),
            Action::AddTags(vec!["vip".into(), "new".into()])
        );
    }

    #[test]
    fn bad_input_names_the_member_at_fault() {
        let cases: [(&str, Json, &str); 17] = [
            ("explode", Json::Null, "action"),
            ("assign_owner", json!({}), "params.owner"),
            ("assign_owner", json!({"owner": 3}), "params.owner"),
            ("assign_owner", json!({"owner": "a b"}), "params.owner"),
            ("add_tags", json!({"tags": []}), "params.tags"),
            ("add_tags", json!({"tags": "vip"}), "params.tags"),
            ("add_tags", json!({"tags": [" "]}), "params.tags[0]"),
            (
                "remove_tags",
                json!({"tags": ["x"], "extra": 1}),
                "params.extra",
            ),
            ("set_field", json!({"value": 1}), "params.field"),
            ("set_field", json!({"field": "nope", "value": 1}), "nope"),
            (
                "set_field",
                json!({"field": "created_at", "value": "x"}),
                "created_at",
            ),
            (
                "set_field",
                json!({"field": "contact_id", "value": "x"}),
                "contact_id",
            ),
            (
                "set_field",
                json!({"field": "email", "value": "a@b.co"}),
                "email",
            ),
            (
                "set_field",
                json!({"field": "custom.tier", "value": "Bronze"}),
                "custom.tier",
            ),
            (
                "set_field",
                json!({"field": "custom.nope", "value": 1}),
                "custom.nope",
            ),
            ("set_field", json!({"field": "city", "value": 5}), "city"),
            ("set_lead_stage", json!({"stage": "boss"}), "params.stage"),
        ];
        for (name, params, field) in cases {
            let e = parse(name, params.clone()).expect_err(name);
            assert_eq!(field_of(e), field, "{name} {params}");
        }
        assert!(matches!(
            Action::parse(&json!(7), &Json::Null, &catalogue(), Region::default()),
            Err(Error::Malformed { .. })
        ));
        assert!(matches!(
            parse("block", json!([1])),
            Err(Error::Malformed { .. })
        ));
    }

    #[test]
    fn stored_specs_that_are_not_actions_are_refused() {
        for spec in [
            json!("explode"),
            json!({"set_column": {"key": "x", "column": "contacts; DROP", "value": "v"}}),
            json!({"add_tags": [1]}),
            json!(3),
        ] {
            assert!(
                matches!(Action::from_spec(&spec), Err(Error::Storage(_))),
                "{spec}"
            );
        }
    }
}
