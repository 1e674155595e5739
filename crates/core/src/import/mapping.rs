//! An import job's parameters, `{mapping, policies, tags, default_region}`, checked against
//! the field catalogue ([`Spec::parse`]), then bound to the file's header ([`Spec::bind`]).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value as Json};

use crate::contacts::contact::{parse_tags, type_mismatch};
use crate::import::preview::Header;
use crate::kernel::error::{Error, Result};
use crate::kernel::fields::{Catalogue, Field, FieldType};
use crate::kernel::values::{Region, Tag};

/// What an import does with a value when the contact it updates already has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    Overwrite,
    /// The default: only empty fields are filled.
    UpdateBlankOnly,
    /// Text joined with "; ", multi-value fields gain the new values.
    Append,
}

impl Policy {
    pub const ALL: [Policy; 3] = [Policy::Overwrite, Policy::UpdateBlankOnly, Policy::Append];

    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Overwrite => "overwrite",
            Policy::UpdateBlankOnly => "update_blank_only",
            Policy::Append => "append",
        }
    }

    fn parse(s: &str) -> Option<Policy> {
        Policy::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// Whether `append` means something for a field: text can be joined, sets can grow.
pub fn appendable(ty: FieldType) -> bool {
    matches!(
        ty,
        FieldType::Text
            | FieldType::LongText
            | FieldType::MultiSelect
            | FieldType::Tags
            | FieldType::EmailList
            | FieldType::PhoneList
    )
}

/// The keys a row is matched by (SPEC §4): at least one must be mapped.
pub const MATCH_FIELDS: [&str; 3] = ["contact_id", "email", "phone"];

/// A job's parameters, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// Column name → field key, in the order given; skipped columns are absent.
    pub mapping: Vec<(String, String)>,
    /// Field key → policy; a field not listed is `update_blank_only`.
    pub policies: BTreeMap<String, Policy>,
    /// Added to every contact the import creates or updates.
    pub tags: Vec<Tag>,
    pub region: Region,
    /// The region code as given, kept in the stored spec.
    region_code: String,
}

pub const MAX_TAGS: usize = 20;

impl Spec {
    /// Parses a job body; `platform_region` is the region used when it names none.
    pub fn parse(body: &Json, catalogue: &Catalogue, platform_region: &str) -> Result<Spec> {
        let obj = body
            .as_object()
            .ok_or_else(|| Error::malformed("the body must be a JSON object"))?;
        if let Some(unknown) = obj
            .keys()
            .find(|k| !["mapping", "policies", "tags", "default_region"].contains(&k.as_str()))
        {
            return Err(Error::invalid(
                unknown.as_str(),
                "is not a parameter of an import (mapping, policies, tags, default_region)",
            ));
        }
        let mapping = parse_mapping(obj.get("mapping"), catalogue)?;
        let policies = parse_policies(obj.get("policies"), &mapping, catalogue)?;
        let tags = match obj.get("tags") {
            None | Some(Json::Null) => Vec::new(),
            Some(v) => parse_tags(v)?,
        };
        if tags.len() > MAX_TAGS {
            return Err(Error::invalid("tags", format!("at most {MAX_TAGS} tags")));
        }
        let region_code = match obj.get("default_region") {
            None | Some(Json::Null) => platform_region.to_owned(),
            Some(Json::String(s)) => s.trim().to_ascii_uppercase(),
            Some(_) => return Err(type_mismatch("default_region", "a region code string")),
        };
        let region =
            Region::parse(&region_code).map_err(|why| Error::invalid("default_region", why))?;
        Ok(Spec {
            mapping,
            policies,
            tags,
            region,
            region_code,
        })
    }

    pub fn policy(&self, key: &str) -> Policy {
        self.policies
            .get(key)
            .copied()
            .unwrap_or(Policy::UpdateBlankOnly)
    }

    /// The stored form, which [`Spec::parse`] reads back.
    pub fn to_json(&self) -> Json {
        let mapping: Map<String, Json> = self
            .mapping
            .iter()
            .map(|(c, k)| (c.clone(), json!(k)))
            .collect();
        let policies: Map<String, Json> = self
            .policies
            .iter()
            .map(|(k, p)| (k.clone(), json!(p.as_str())))
            .collect();
        let tags: Vec<&str> = self.tags.iter().map(Tag::as_str).collect();
        json!({
            "mapping": mapping,
            "policies": policies,
            "tags": tags,
            "default_region": self.region_code,
        })
    }

    /// Binds the mapping to a file's header: each mapped column must be in it.
    pub fn bind(&self, header: &Header, catalogue: &Catalogue) -> Result<Plan> {
        let mut columns = Vec::with_capacity(self.mapping.len());
        for (name, key) in &self.mapping {
            let index = header.position(name).ok_or_else(|| {
                Error::invalid(
                    format!("mapping.{name}"),
                    format!(
                        "column '{name}' is not in the file's header (its columns: {})",
                        header.names().join(", ")
                    ),
                )
            })?;
            let field = catalogue.get(key).ok_or_else(|| {
                Error::invalid(
                    format!("mapping.{name}"),
                    format!("field '{key}' no longer exists"),
                )
            })?;
            columns.push(Column {
                index,
                name: header.names()[index].clone(),
                key: key.clone(),
                ty: field.ty,
                policy: self.policy(key),
            });
        }
        Ok(Plan {
            columns,
            header: header.clone(),
        })
    }
}

fn parse_mapping(value: Option<&Json>, catalogue: &Catalogue) -> Result<Vec<(String, String)>> {
    let obj = value
        .ok_or_else(|| {
            Error::invalid(
                "mapping",
                "is required: {\"<column>\": \"<field key>\" | null}",
            )
        })?
        .as_object()
        .ok_or_else(|| type_mismatch("mapping", "an object of column names to field keys"))?;
    let mut mapping: Vec<(String, String)> = Vec::new();
    for (column, target) in obj {
        let path = format!("mapping.{column}");
        let key = match target {
            Json::Null => continue,
            Json::String(s) => s.trim(),
            _ => return Err(type_mismatch(&path, "a field key or null")),
        };
        let field = importable_field(catalogue, key).map_err(|why| Error::invalid(&path, why))?;
        if let Some((earlier, _)) = mapping.iter().find(|(_, k)| *k == field.key) {
            return Err(Error::invalid(
                &path,
                format!("field '{key}' is already mapped from column '{earlier}'"),
            ));
        }
        mapping.push((column.clone(), field.key.clone()));
    }
    if !mapping
        .iter()
        .any(|(_, k)| MATCH_FIELDS.contains(&k.as_str()))
    {
        return Err(Error::invalid(
            "mapping",
            "map a column to contact_id, email or phone: rows are matched and created by them",
        ));
    }
    Ok(mapping)
}

fn importable_field<'c>(
    catalogue: &'c Catalogue,
    key: &str,
) -> std::result::Result<&'c Field, String> {
    let field = catalogue
        .get(key)
        .ok_or_else(|| format!("'{key}' is not a field (custom fields are named custom.<key>)"))?;
    if !field.caps.importable {
        return Err(format!("field '{key}' is read-only and cannot be imported"));
    }
    Ok(field)
}

fn parse_policies(
    value: Option<&Json>,
    mapping: &[(String, String)],
    catalogue: &Catalogue,
) -> Result<BTreeMap<String, Policy>> {
    let obj = match value {
        None | Some(Json::Null) => return Ok(BTreeMap::new()),
        Some(v) => v
            .as_object()
            .ok_or_else(|| type_mismatch("policies", "an object of field keys to policies"))?,
    };
    let mut policies = BTreeMap::new();
    for (key, p) in obj {
        let path = format!("policies.{key}");
        let policy = p.as_str().and_then(Policy::parse).ok_or_else(|| {
            Error::invalid(
                &path,
                "must be one of: overwrite, update_blank_only, append",
            )
        })?;
        let field = importable_field(catalogue, key).map_err(|why| Error::invalid(&path, why))?;
        if !mapping.iter().any(|(_, k)| k == key) {
            return Err(Error::invalid(
                &path,
                format!("field '{key}' is not mapped from any column"),
            ));
        }
        if key == "contact_id" {
            return Err(Error::invalid(
                &path,
                "a Contact ID is never changed: it only matches or names new contacts",
            ));
        }
        if policy == Policy::Append && !appendable(field.ty) {
            return Err(Error::invalid(
                &path,
                format!("append joins text or adds to multi-value fields; '{key}' holds one value: use overwrite or update_blank_only"),
            ));
        }
        policies.insert(key.clone(), policy);
    }
    Ok(policies)
}

/// One mapped column of the file.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Its position in each record.
    pub index: usize,
    /// Its name in the header.
    pub name: String,
    pub key: String,
    pub ty: FieldType,
    pub policy: Policy,
}

/// A spec bound to a file's header: what each record's fields import into.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub columns: Vec<Column>,
    pub header: Header,
}

impl Plan {
    /// The column a field is imported from.
    pub fn column_of(&self, key: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.key == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::preview::Record;
    use crate::kernel::fields::CustomFieldDef;

    fn catalogue() -> Catalogue {
        Catalogue::with_custom(vec![
            CustomFieldDef {
                key: "tier".into(),
                label: "Tier".into(),
                ty: FieldType::SingleSelect,
                options: Some(vec!["Gold".into(), "Silver".into()]),
            },
            CustomFieldDef {
                key: "notes".into(),
                label: "Notes".into(),
                ty: FieldType::Text,
                options: None,
            },
        ])
    }

    fn parse(body: Json) -> Result<Spec> {
        Spec::parse(&body, &catalogue(), "US")
    }

    fn invalid_field(r: Result<Spec>) -> String {
        match r {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("expected a 422, got {other:?}"),
        }
    }

    #[test]
    fn a_full_spec_parses_and_reads_back_from_its_stored_form() {
        let spec = parse(json!({
            "mapping": {"E-mail": "email", "Tier": "custom.tier", "Skip me": null, "Notes": "custom.notes"},
            "policies": {"custom.notes": "append", "email": "overwrite"},
            "tags": ["imported", "2026"],
            "default_region": "br",
        }))
        .unwrap();
        assert_eq!(spec.mapping.len(), 3);
        assert_eq!(spec.policy("custom.notes"), Policy::Append);
        assert_eq!(spec.policy("custom.tier"), Policy::UpdateBlankOnly);
        assert_eq!(spec.region, Region::parse("BR").unwrap());
        let again = Spec::parse(&spec.to_json(), &catalogue(), "US").unwrap();
        assert_eq!(again, spec);
    }

    #[test]
    fn the_platform_region_is_the_default() {
        let spec = parse(json!({"mapping": {"Phone": "phone"}})).unwrap();
        assert_eq!(spec.region, Region::parse("US").unwrap());
        assert_eq!(spec.to_json()["default_region"], "US");
    }

    #[test]
    fn unknown_read_only_and_twice_mapped_fields_are_named() {
        assert_eq!(
            invalid_field(parse(json!({"mapping": {"Email": "email", "X": "nope"}}))),
            "mapping.X"
        );
        assert_eq!(
            invalid_field(parse(
                json!({"mapping": {"Email": "email", "X": "custom.nope"}})
            )),
            "mapping.X"
        );
        assert_eq!(
            invalid_field(parse(
                json!({"mapping": {"Email": "email", "Created": "created_at"}})
            )),
            "mapping.Created"
        );
        assert_eq!(
            invalid_field(parse(
                json!({"mapping": {"Email": "email", "Mail 2": "email"}})
            )),
            "mapping.Mail 2"
        );
    }

    #[test]
    fn a_mapping_without_a_match_key_is_refused() {
        assert_eq!(
            invalid_field(parse(json!({"mapping": {"Name": "first_name"}}))),
            "mapping"
        );
        assert_eq!(invalid_field(parse(json!({}))), "mapping");
    }

    #[test]
    fn bad_policies_are_named() {
        let base = |policies: Json| json!({"mapping": {"Email": "email", "Tier": "custom.tier", "Id": "contact_id"}, "policies": policies});
        for (policies, field) in [
            (json!({"email": "replace"}), "policies.email"),
            (json!({"email": "append"}), "policies.email"),
            (json!({"custom.tier": "append"}), "policies.custom.tier"),
            (json!({"city": "overwrite"}), "policies.city"),
            (json!({"contact_id": "overwrite"}), "policies.contact_id"),
            (json!({"nope": "overwrite"}), "policies.nope"),
        ] {
            assert_eq!(invalid_field(parse(base(policies))), field);
        }
    }

    #[test]
    fn type_mismatches_are_malformed() {
        for body in [
            json!([]),
            json!({"mapping": []}),
            json!({"mapping": {"Email": 3}}),
            json!({"mapping": {"Email": "email"}, "tags": "x"}),
            json!({"mapping": {"Email": "email"}, "default_region": 1}),
        ] {
            assert!(
                matches!(parse(body.clone()), Err(Error::Malformed { .. })),
                "{body}"
            );
        }
        assert_eq!(
            invalid_field(parse(
                json!({"mapping": {"Email": "email"}, "default_region": "XX"})
            )),
            "default_region"
        );
        assert_eq!(
            invalid_field(parse(json!({"mapping": {"Email": "email"}, "extra": 1}))),
            "extra"
        );
    }

    #[test]
    fn binding_finds_columns_and_names_a_missing_one() {
        let spec = parse(json!({"mapping": {"email": "email", "Tier": "custom.tier"}})).unwrap();
        let header = Header::parse(&Record {
            fields: vec!["Name".into(), "EMAIL".into(), "Tier".into()],
            undecodable: None,
        })
        .unwrap();
        let plan = spec.bind(&header, &catalogue()).unwrap();
        assert_eq!(plan.column_of("email").unwrap().index, 1);
        assert_eq!(plan.column_of("custom.tier").unwrap().index, 2);
        let other = Header::parse(&Record {
            fields: vec!["Mail".into(), "Tier".into()],
            undecodable: None,
        })
        .unwrap();
        assert!(matches!(
            spec.bind(&other, &catalogue()),
            Err(Error::Invalid { field, .. }) if field == "mapping.email"
        ));
    }
}
