//! The field catalogue: every field a contact has, system and custom, with its type and what
//! can be done with it. Filters, sorts, imports, table views and search all ask here.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value as Json};

use crate::kernel::error::{Error, Result};
use crate::kernel::store::{Sql, Value};
use crate::kernel::values::{time, Channel, Email, LeadStage, Phone, Region};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    LongText,
    Number,
    Checkbox,
    Date,
    Datetime,
    SingleSelect,
    MultiSelect,
    Link,
    Email,
    Phone,
    // System-only types.
    EmailList,
    PhoneList,
    Tags,
    Owner,
}

impl FieldType {
    /// The types a custom field may have (SPEC §9).
    pub const CUSTOM: [FieldType; 11] = [
        FieldType::Text,
        FieldType::LongText,
        FieldType::Number,
        FieldType::Checkbox,
        FieldType::Date,
        FieldType::Datetime,
        FieldType::SingleSelect,
        FieldType::MultiSelect,
        FieldType::Link,
        FieldType::Email,
        FieldType::Phone,
    ];

    pub fn is_custom_type(self) -> bool {
        FieldType::CUSTOM.contains(&self)
    }

    /// The name a caller writes (`long_text`), as serde spells it.
    pub fn name(self) -> String {
        match serde_json::to_value(self) {
            Ok(Json::String(s)) => s,
            _ => unreachable!("a unit variant serializes to a string"),
        }
    }

    /// A custom field's type as a caller names it; anything else (system-only types
    /// included) is a 422 on `type` listing the eleven a caller may use.
    pub fn parse_custom(name: &str) -> Result<FieldType> {
        FieldType::CUSTOM
            .into_iter()
            .find(|t| t.name() == name)
            .ok_or_else(|| {
                let names: Vec<String> = FieldType::CUSTOM.iter().map(|t| t.name()).collect();
                Error::invalid("type", format!("must be one of {}", names.join(", ")))
            })
    }

    pub fn has_options(self) -> bool {
        matches!(self, FieldType::SingleSelect | FieldType::MultiSelect)
    }
}

/// Where a field's value lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// A column of `contacts` with this name.
    Column(&'static str),
    /// The `contact_tags` table.
    Tags,
    /// `contacts.custom`, a JSON object, under this key.
    Custom(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Caps {
    pub filterable: bool,
    pub sortable: bool,
    pub searchable: bool,
    pub importable: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub key: String,
    pub label: String,
    pub ty: FieldType,
    pub system: bool,
    pub options: Option<Vec<String>>,
    pub caps: Caps,
    pub storage: Storage,
    /// Whether a create or update body may set it.
    pub writable: bool,
}

impl Field {
    pub fn to_json(&self) -> Json {
        let mut v = json!({
            "key": self.key,
            "label": self.label,
            "type": self.ty,
            "system": self.system,
            "filterable": self.caps.filterable,
            "sortable": self.caps.sortable,
            "searchable": self.caps.searchable,
            "importable": self.caps.importable,
            "writable": self.writable,
        });
        if self.caps.filterable {
            // The filter language's operators for this type, so a filter builder offers
            // exactly what `filter` accepts.
            let ops = crate::query::filter::Kind::of(self.ty).ops();
            v["operators"] = json!(ops.iter().map(|op| op.name()).collect::<Vec<_>>());
        }
        if let Some(options) = &self.options {
            v["options"] = json!(options);
        }
        v
    }
}

struct SystemField {
    key: &'static str,
    label: &'static str,
    ty: FieldType,
    /// f = filterable, s = sortable, q = searchable, i = importable, w = writable.
    flags: &'static str,
}

const fn sf(
    key: &'static str,
    label: &'static str,
    ty: FieldType,
    flags: &'static str,
) -> SystemField {
    SystemField {
        key,
        label,
        ty,
        flags,
    }
}

use FieldType as T;

/// The system fields, in catalogue order. Every key here is a column of `contacts` except
/// `tags` (its own table).
const SYSTEM: &[SystemField] = &[
    sf("contact_id", "Contact ID", T::Text, "fsi"),
    sf("first_name", "First name", T::Text, "fsqiw"),
    sf("last_name", "Last name", T::Text, "fsqiw"),
    sf("display_name", "Name", T::Text, "fs"),
    sf("email", "Email", T::Email, "fsqiw"),
    sf("secondary_emails", "Secondary emails", T::EmailList, "fiw"),
    sf("phone", "Phone", T::Phone, "fsqiw"),
    sf("mobile", "Mobile", T::Phone, "fsiw"),
    sf("secondary_phones", "Secondary phones", T::PhoneList, "fiw"),
    sf("company", "Company", T::Text, "fsiw"),
    sf("job_title", "Job title", T::Text, "fsiw"),
    sf("department", "Department", T::Text, "fsiw"),
    sf("lead_stage", "Lead stage", T::SingleSelect, "fsiw"),
    sf("owner", "Owner", T::Owner, "fsiw"),
    sf("tags", "Tags", T::Tags, "fiw"),
    sf("source_channel", "Source channel", T::SingleSelect, "fsiw"),
    sf("address", "Address", T::Text, "fiw"),
    sf("city", "City", T::Text, "fsiw"),
    sf("state", "State", T::Text, "fsiw"),
    sf("postal_code", "Postal code", T::Text, "fsiw"),
    sf("country", "Country", T::Text, "fsiw"),
    sf("timezone", "Time zone", T::Text, "fsiw"),
    sf("language", "Language", T::Text, "fsiw"),
    sf("gender", "Gender", T::Text, "fsiw"),
    sf("birthday", "Birthday", T::Date, "fsiw"),
    sf("website", "Website", T::Link, "fiw"),
    sf("description", "Description", T::LongText, "fiw"),
    sf("visitor_ip", "Visitor IP", T::Text, "fiw"),
    sf("browser", "Browser", T::Text, "fsiw"),
    sf("os", "OS", T::Text, "fsiw"),
    sf("device", "Device", T::Text, "fsiw"),
    sf("page_url", "Page URL", T::Link, "fiw"),
    sf("referrer", "Referrer", T::Link, "fiw"),
    sf("created_at", "Created", T::Datetime, "fs"),
    sf("created_by", "Created by", T::Text, "fs"),
    sf("updated_at", "Updated", T::Datetime, "fs"),
    sf("last_activity_at", "Last activity", T::Datetime, "fs"),
    sf("conversation_count", "Conversations", T::Number, "fs"),
    sf("dropped_message_count", "Dropped messages", T::Number, "fs"),
    sf("blocked", "Blocked", T::Checkbox, "f"),
    sf("blocked_at", "Blocked at", T::Datetime, "fs"),
];

/// The columns a table view shows when its user saved none.
pub const DEFAULT_COLUMNS: &[&str] = &[
    "display_name",
    "email",
    "phone",
    "company",
    "lead_stage",
    "owner",
    "tags",
    "last_activity_at",
];

/// Every system field key, in catalogue order.
pub fn system_keys() -> impl Iterator<Item = &'static str> {
    SYSTEM.iter().map(|f| f.key)
}

fn system_field(f: &SystemField) -> Field {
    let has = |c: char| f.flags.contains(c);
    let options = match f.key {
        "lead_stage" => Some(
            LeadStage::ALL
                .iter()
                .map(|s| s.as_str().to_owned())
                .collect(),
        ),
        "source_channel" => Some(Channel::ALL.iter().map(|c| c.as_str().to_owned()).collect()),
        _ => None,
    };
    Field {
        key: f.key.to_owned(),
        label: f.label.to_owned(),
        ty: f.ty,
        system: true,
        options,
        caps: Caps {
            filterable: has('f'),
            sortable: has('s'),
            searchable: has('q'),
            importable: has('i') || f.key == "contact_id",
        },
        storage: if f.key == "tags" {
            Storage::Tags
        } else {
            Storage::Column(f.key)
        },
        writable: has('w'),
    }
}

/// A custom field as its admin defined it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomFieldDef {
    pub key: String,
    pub label: String,
    #[serde(rename = "type")]
    pub ty: FieldType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub options: Option<Vec<String>>,
}

impl CustomFieldDef {
    pub const MAX_OPTIONS: usize = 500;

    /// Reads a definition a caller sent, `{key, label, type, options?}`: a body of the wrong
    /// JSON shape is malformed (400); well-formed but invalid values are 422s naming the member.
    pub fn parse(doc: &Json) -> Result<CustomFieldDef> {
        let shape = || Error::malformed("expected {key, label, type, options?}");
        let obj = doc.as_object().ok_or_else(shape)?;
        let text = |member: &str| match obj.get(member) {
            None | Some(Json::Null) => Err(Error::invalid(member, "is required")),
            Some(Json::String(s)) => Ok(s.clone()),
            Some(_) => Err(Error::Malformed {
                detail: format!("{member} must be a string"),
                field: Some(member.to_owned()),
            }),
        };
        let options = match obj.get("options") {
            None | Some(Json::Null) => None,
            Some(v) => Some(
                serde_json::from_value(v.clone()).map_err(|_| Error::Malformed {
                    detail: "options must be an array of strings".into(),
                    field: Some("options".into()),
                })?,
            ),
        };
        Ok(CustomFieldDef {
            key: text("key")?,
            label: text("label")?,
            ty: FieldType::parse_custom(&text("type")?)?,
            options,
        })
    }

    /// Checks a definition sent by a caller.
    pub fn validate(&self) -> Result<()> {
        let key_ok = (1..=40).contains(&self.key.len())
            && self.key.starts_with(|c: char| c.is_ascii_lowercase())
            && self
                .key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !key_ok {
            return Err(Error::invalid(
                "key",
                "must be 1 to 40 lower-case letters, digits or '_', starting with a letter",
            ));
        }
        if system_keys().any(|k| k == self.key) {
            return Err(Error::invalid("key", "is the key of a system field"));
        }
        validate_label(&self.label)?;
        if !self.ty.is_custom_type() {
            return Err(Error::invalid("type", "is not a custom field type"));
        }
        validate_options(self.ty, self.options.as_deref())
    }

    pub fn field(&self) -> Field {
        let searchable = !matches!(
            self.ty,
            FieldType::Checkbox | FieldType::Date | FieldType::Datetime
        );
        Field {
            key: format!("custom.{}", self.key),
            label: self.label.clone(),
            ty: self.ty,
            system: false,
            options: self.options.clone(),
            caps: Caps {
                filterable: true,
                sortable: !matches!(self.ty, FieldType::MultiSelect | FieldType::LongText),
                searchable,
                importable: true,
            },
            storage: Storage::Custom(self.key.clone()),
            writable: true,
        }
    }

    /// Type-checks a value for this field and returns it in stored form (dates normalized).
    /// `null` is always accepted: it clears the value.
    pub fn check_value(&self, value: &Json, region: Region) -> Result<Json> {
        let field = format!("custom.{}", self.key);
        let bad = |what: &str| Error::invalid(&field, format!("expected {what}"));
        if value.is_null() {
            return Ok(Json::Null);
        }
        let as_text = || value.as_str().ok_or_else(|| bad("a string"));
        match self.ty {
            FieldType::Text | FieldType::LongText => {
                let s = as_text()?;
                let max = if self.ty == FieldType::Text {
                    1_000
                } else {
                    20_000
                };
                if s.chars().count() > max {
                    return Err(bad(&format!("at most {max} characters")));
                }
                Ok(json!(s))
            }
            FieldType::Number => match value.as_f64() {
                Some(n) if n.is_finite() => Ok(value.clone()),
                _ => Err(bad("a number")),
            },
            FieldType::Checkbox => value
                .as_bool()
                .map(Json::Bool)
                .ok_or_else(|| bad("true or false")),
            FieldType::Date => time::parse_date(as_text()?)
                .map(Json::String)
                .ok_or_else(|| bad("a date YYYY-MM-DD")),
            FieldType::Datetime => time::parse_rfc3339(as_text()?)
                .map(Json::String)
                .ok_or_else(|| bad("an RFC 3339 date-time")),
            FieldType::SingleSelect => {
                let s = as_text()?;
                self.find_option(s)
                    .map(|o| json!(o))
                    .ok_or_else(|| bad("one of the field's options"))
            }
            FieldType::MultiSelect => {
                let items = value.as_array().ok_or_else(|| bad("an array of options"))?;
                let mut chosen: Vec<String> = Vec::with_capacity(items.len());
                for item in items {
                    let opt = item
                        .as_str()
                        .and_then(|s| self.find_option(s))
                        .ok_or_else(|| bad("an array of the field's options"))?;
                    if !chosen.iter().any(|c| c == opt) {
                        chosen.push(opt.to_owned());
                    }
                }
                Ok(json!(chosen))
            }
            FieldType::Link => {
                let s = as_text()?.trim();
                if s.len() > 2_000 || s.contains(char::is_whitespace) || !s.contains('.') {
                    return Err(bad("a link"));
                }
                Ok(json!(s))
            }
            FieldType::Email => Email::parse(as_text()?)
                .map(|e| json!(e.display()))
                .map_err(|why| Error::invalid(&field, format!("email {why}"))),
            FieldType::Phone => Phone::parse(as_text()?, region)
                .map(|p| json!(p.display()))
                .map_err(|why| Error::invalid(&field, format!("phone {why}"))),
            FieldType::EmailList | FieldType::PhoneList | FieldType::Tags | FieldType::Owner => {
                Err(bad("a custom field type"))
            }
        }
    }

    /// Options match case-insensitively; the stored value is the option as defined.
    fn find_option(&self, s: &str) -> Option<&str> {
        self.options
            .as_deref()?
            .iter()
            .find(|o| o.eq_ignore_ascii_case(s.trim()))
            .map(String::as_str)
    }
}

fn validate_label(label: &str) -> Result<()> {
    let n = label.trim().chars().count();
    if n == 0 || n > 100 {
        return Err(Error::invalid("label", "must be 1 to 100 characters"));
    }
    Ok(())
}

fn validate_options(ty: FieldType, options: Option<&[String]>) -> Result<()> {
    match (ty.has_options(), options) {
        (true, Some(opts)) if !opts.is_empty() => {
            if opts.len() > CustomFieldDef::MAX_OPTIONS {
                return Err(Error::invalid("options", "at most 500 options"));
            }
            for (i, o) in opts.iter().enumerate() {
                let n = o.trim().chars().count();
                if n == 0 || n > 100 {
                    return Err(Error::invalid(
                        format!("options[{i}]"),
                        "must be 1 to 100 characters",
                    ));
                }
                if opts[..i].iter().any(|p| p.eq_ignore_ascii_case(o)) {
                    return Err(Error::invalid(format!("options[{i}]"), "is listed twice"));
                }
            }
            Ok(())
        }
        (true, _) => Err(Error::invalid(
            "options",
            "select fields need at least one option",
        )),
        (false, Some(_)) => Err(Error::invalid("options", "only select fields have options")),
        (false, None) => Ok(()),
    }
}

/// A change to a custom field's definition: label and options. Key and type are fixed,
/// since stored values and saved filters depend on them.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomFieldPatch {
    pub label: Option<String>,
    pub options: Option<Vec<String>>,
}

/// A scalar subquery giving the custom definitions as JSON rows `[key, label, type, options]`.
pub const CUSTOM_DEFS_JSON: &str = "(SELECT json_group_array(json_array(key, label, type, options)) \
    FROM (SELECT key, label, type, options FROM custom_fields WHERE deleted_at IS NULL ORDER BY position))";

/// All fields: the system ones, then the custom ones in creation order.
#[derive(Debug, Clone)]
pub struct Catalogue {
    fields: Vec<Field>,
    custom: Vec<CustomFieldDef>,
}

impl Catalogue {
    /// Reads the custom definitions (one query).
    pub fn load(db: &dyn Sql) -> Result<Self> {
        let rows = db.execute(
            "SELECT key, label, type, options FROM custom_fields WHERE deleted_at IS NULL ORDER BY position",
            &[],
        )?;
        let custom = rows
            .rows
            .into_iter()
            .map(|r| decode_def(&r))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self::with_custom(custom))
    }

    /// The custom definitions from [`CUSTOM_DEFS_JSON`], which a read can select beside its
    /// own columns: one statement instead of two.
    pub fn from_defs_json(text: &str) -> Result<Self> {
        let rows: Vec<Vec<Option<String>>> = serde_json::from_str(text)
            .map_err(|e| Error::Storage(format!("custom field definitions: {e}")))?;
        let custom = rows
            .into_iter()
            .map(|row| {
                let values: Vec<Value> = row.into_iter().map(Value::from).collect();
                decode_def(&values)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self::with_custom(custom))
    }

    pub fn with_custom(custom: Vec<CustomFieldDef>) -> Self {
        let fields = SYSTEM
            .iter()
            .map(system_field)
            .chain(custom.iter().map(CustomFieldDef::field))
            .collect();
        Catalogue { fields, custom }
    }

    pub fn fields(&self) -> &[Field] {
        &self.fields
    }

    pub fn custom(&self) -> &[CustomFieldDef] {
        &self.custom
    }

    /// A field by its key: a system key, or `custom.<key>`.
    pub fn get(&self, key: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.key == key)
    }

    pub fn custom_def(&self, key: &str) -> Option<&CustomFieldDef> {
        self.custom.iter().find(|d| d.key == key)
    }
}

fn decode_def(row: &[Value]) -> Result<CustomFieldDef> {
    let text = |i: usize| {
        row.get(i)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let ty: FieldType = serde_json::from_value(Json::String(text(2)))
        .map_err(|e| Error::Storage(format!("custom field type: {e}")))?;
    let options = match row.get(3) {
        Some(Value::Text(s)) => Some(
            serde_json::from_str(s)
                .map_err(|e| Error::Storage(format!("custom field options: {e}")))?,
        ),
        _ => None,
    };
    Ok(CustomFieldDef {
        key: text(0),
        label: text(1),
        ty,
        options,
    })
}

/// Custom field definitions: create, change, delete.
pub mod custom {
    use super::*;
    use crate::kernel::values::time;

    pub const MAX_FIELDS: usize = 200;

    pub fn create(db: &dyn Sql, def: &CustomFieldDef) -> Result<()> {
        def.validate()?;
        let count = db
            .execute(
                "SELECT count(*) FROM custom_fields WHERE deleted_at IS NULL",
                &[],
            )?
            .scalar_i64()
            .unwrap_or(0);
        if count as usize >= MAX_FIELDS {
            return Err(Error::invalid(
                "key",
                format!("at most {MAX_FIELDS} custom fields"),
            ));
        }
        let options = def.options.as_ref().map(Value::json);
        let inserted = db.execute(
            "INSERT INTO custom_fields (key, label, type, options, position, created_at) \
             VALUES (?, ?, ?, ?, (SELECT coalesce(max(position), 0) + 1 FROM custom_fields), ?)",
            &[
                def.key.as_str().into(),
                def.label.trim().into(),
                type_name(def.ty).into(),
                options.into(),
                time::now().into(),
            ],
        );
        match inserted {
            Ok(_) => Ok(()),
            Err(e) if e.unique_violation().is_some() => Err(Error::Conflict {
                detail: format!(
                    "custom field '{}' exists or existed (keys of deleted fields are not reused, \
                     because old values may still be stored under them)",
                    def.key
                ),
                field: Some("key".into()),
                existing_contact_id: None,
            }),
            Err(e) => Err(e.into()),
        }
    }

    pub fn update(
        db: &dyn Sql,
        catalogue: &Catalogue,
        key: &str,
        patch: &CustomFieldPatch,
    ) -> Result<CustomFieldDef> {
        let mut def = catalogue
            .custom_def(key)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("custom field '{key}'")))?;
        if let Some(label) = &patch.label {
            def.label = label.trim().to_owned();
        }
        if let Some(options) = &patch.options {
            def.options = Some(options.clone());
        }
        def.validate()?;
        db.execute(
            "UPDATE custom_fields SET label = ?, options = ? WHERE key = ?",
            &[
                def.label.as_str().into(),
                def.options.as_ref().map(Value::json).into(),
                key.into(),
            ],
        )?;
        Ok(def)
    }

    /// Deletes the definition. Stored values become invisible at once (reads show only
    /// defined fields) and are dropped the next time their contact is written: erasing them
    /// from a million rows would not fit in one request.
    pub fn delete(db: &dyn Sql, key: &str) -> Result<()> {
        db.execute(
            "UPDATE custom_fields SET deleted_at = ? WHERE key = ? AND deleted_at IS NULL",
            &[time::now().into(), key.into()],
        )?;
        if db.changes() == 0 {
            return Err(Error::NotFound(format!("custom field '{key}'")));
        }
        Ok(())
    }

    fn type_name(ty: FieldType) -> String {
        serde_json::to_value(ty)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(key: &str, ty: FieldType, options: Option<&[&str]>) -> CustomFieldDef {
        CustomFieldDef {
            key: key.into(),
            label: key.to_uppercase(),
            ty,
            options: options.map(|o| o.iter().map(|s| s.to_string()).collect()),
        }
    }

    #[test]
    fn catalogue_has_the_spec_system_fields() {
        let keys: Vec<_> = system_keys().collect();
        assert!(keys.len() >= 40);
        for k in [
            "contact_id",
            "display_name",
            "secondary_phones",
            "dropped_message_count",
            "blocked_at",
        ] {
            assert!(keys.contains(&k), "{k}");
        }
    }

    #[test]
    fn custom_keys_are_checked() {
        assert!(def("tier", FieldType::Text, None).validate().is_ok());
        for bad in ["", "Tier", "1tier", "ti-er", "email"] {
            assert!(def(bad, FieldType::Text, None).validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn selects_need_distinct_options_and_others_take_none() {
        assert!(def("plan", FieldType::SingleSelect, None)
            .validate()
            .is_err());
        assert!(def("plan", FieldType::SingleSelect, Some(&["a", "A"]))
            .validate()
            .is_err());
        assert!(def("plan", FieldType::MultiSelect, Some(&["a", "b"]))
            .validate()
            .is_ok());
        assert!(def("plan", FieldType::Text, Some(&["a"]))
            .validate()
            .is_err());
        assert!(def("plan", FieldType::Tags, None).validate().is_err());
    }

    #[test]
    fn a_definition_names_the_member_at_fault() {
        let parse = |doc: Json| CustomFieldDef::parse(&doc);
        let ok = parse(json!({"key": "tier", "label": "Tier", "type": "long_text"})).unwrap();
        assert_eq!(ok.ty, FieldType::LongText);
        let field_of = |e: Error| match e {
            Error::Invalid { field, detail } => (422, field, detail),
            Error::Malformed { field, detail } => (400, field.unwrap_or_default(), detail),
            other => panic!("{other:?}"),
        };
        for internal in [
            "banana",
            "email_list",
            "phone_list",
            "tags",
            "owner",
            "LongText",
        ] {
            let (status, field, detail) =
                field_of(parse(json!({"key": "k", "label": "K", "type": internal})).unwrap_err());
            assert_eq!((status, field.as_str()), (422, "type"), "{internal}");
            assert!(
                detail.contains("multi_select") && !detail.contains("email_list"),
                "{detail}"
            );
        }
        let cases = [
            (json!({"key": "k", "label": "K", "type": 3}), (400, "type")),
            (json!({"key": "k", "label": "K"}), (422, "type")),
            (json!({"label": "K", "type": "text"}), (422, "key")),
            (
                json!({"key": "k", "label": "K", "type": "text", "options": "a"}),
                (400, "options"),
            ),
            (json!(["k"]), (400, "")),
        ];
        for (doc, (status, field)) in cases {
            let (s, f, _) = field_of(parse(doc.clone()).unwrap_err());
            assert_eq!((s, f.as_str()), (status, field), "{doc}");
        }
    }

    #[test]
    fn values_are_type_checked_and_normalized() {
        let r = Region::default();
        let n = def("score", FieldType::Number, None);
        assert_eq!(n.check_value(&json!(4.5), r).unwrap(), json!(4.5));
        let err = n.check_value(&json!("4"), r).unwrap_err();
        assert_eq!(err, Error::invalid("custom.score", "expected a number"));
        let d = def("renewal", FieldType::Date, None);
        assert_eq!(
            d.check_value(&json!("2026-01-31"), r).unwrap(),
            json!("2026-01-31")
        );
        assert!(d.check_value(&json!("31/01/2026"), r).is_err());
        let dt = def("seen", FieldType::Datetime, None);
        assert_eq!(
            dt.check_value(&json!("2026-01-31T10:00:00-03:00"), r)
                .unwrap(),
            json!("2026-01-31T13:00:00.000Z")
        );
        let s = def("plan", FieldType::SingleSelect, Some(&["Gold", "Silver"]));
        assert_eq!(s.check_value(&json!("gold"), r).unwrap(), json!("Gold"));
        assert!(s.check_value(&json!("Bronze"), r).is_err());
        let m = def("langs", FieldType::MultiSelect, Some(&["en", "pt"]));
        assert_eq!(
            m.check_value(&json!(["pt", "en", "pt"]), r).unwrap(),
            json!(["pt", "en"])
        );
        assert!(m.check_value(&json!("en"), r).is_err());
        let c = def("vip", FieldType::Checkbox, None);
        assert!(c.check_value(&json!(1), r).is_err());
        assert_eq!(c.check_value(&Json::Null, r).unwrap(), Json::Null);
        let e = def("alt", FieldType::Email, None);
        assert!(e.check_value(&json!("nope"), r).is_err());
        let p = def("fax", FieldType::Phone, None);
        assert!(p.check_value(&json!("(415) 555-0132"), r).is_ok());
    }

    #[test]
    fn custom_fields_searchable_except_checkbox_and_dates() {
        assert!(def("a", FieldType::Text, None).field().caps.searchable);
        assert!(!def("a", FieldType::Checkbox, None).field().caps.searchable);
        assert!(!def("a", FieldType::Datetime, None).field().caps.searchable);
        assert_eq!(def("a", FieldType::Text, None).field().key, "custom.a");
    }
}
