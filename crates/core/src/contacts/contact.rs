//! A contact as stored, and the parsing of the JSON edits callers send.

use serde_json::{json, Map, Value as Json};

use crate::kernel::error::{Error, Result};
use crate::kernel::fields::{Catalogue, FieldType, Storage};
use crate::kernel::store::{list_items, Value};
use crate::kernel::values::{
    time, Channel, ContactId, Email, LeadStage, Login, Phone, Region, Tag,
};

/// The columns of `contacts`, except `id`, in table order.
pub const COLUMNS: &[&str] = &[
    "contact_id",
    "first_name",
    "last_name",
    "display_name",
    "email",
    "email_norm",
    "secondary_emails",
    "phone",
    "phone_e164",
    "mobile",
    "mobile_e164",
    "secondary_phones",
    "secondary_phone_keys",
    "company",
    "job_title",
    "department",
    "lead_stage",
    "owner",
    "source_channel",
    "address",
    "city",
    "state",
    "postal_code",
    "country",
    "timezone",
    "language",
    "gender",
    "birthday",
    "website",
    "description",
    "visitor_ip",
    "browser",
    "os",
    "device",
    "page_url",
    "referrer",
    "created_at",
    "created_by",
    "updated_at",
    "last_activity_at",
    "conversation_count",
    "dropped_message_count",
    "blocked",
    "blocked_at",
    "custom",
    "version",
];

/// Columns only the system writes: match keys derived from display values, and bookkeeping.
const INTERNAL: &[&str] = &[
    "email_norm",
    "phone_e164",
    "mobile_e164",
    "secondary_phone_keys",
    "custom",
    "version",
];

pub const MAX_TAGS: usize = 100;
pub const MAX_SECONDARY: usize = 20;
pub const MAX_IDENTITIES: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub channel: Channel,
    pub external_id: String,
}

impl Identity {
    pub const MAX_LEN: usize = 256;

    pub fn parse(channel: &str, external_id: &str) -> std::result::Result<Self, String> {
        let channel =
            Channel::parse(channel).ok_or_else(|| format!("'{channel}' is not a channel"))?;
        let external_id = external_id.trim();
        if external_id.is_empty() || external_id.len() > Self::MAX_LEN {
            return Err("external_id must be 1 to 256 characters".into());
        }
        Ok(Identity {
            channel,
            external_id: external_id.to_owned(),
        })
    }
}

/// A contact's column values by name, one for each of [`COLUMNS`] (`custom` stays NULL
/// here: [`Contact::custom`] holds it).
///
/// Why not a map by name: every row of an import reads and writes a contact's columns by
/// name dozens of times, and a map's look-up compares the name with several others on the
/// way: 6% of the host's time in the import's profile (docs/benchmarks.md, Import). Here
/// a name is found by address first (the names callers pass are the same literals as
/// [`COLUMNS`], merged by the compiler), then by value.
#[derive(Debug, Clone, PartialEq)]
pub struct Columns(Vec<Value>);

impl Columns {
    fn null() -> Columns {
        Columns(vec![Value::Null; COLUMNS.len()])
    }

    /// The values in [`COLUMNS`] order.
    pub fn from_values(values: Vec<Value>) -> Columns {
        debug_assert_eq!(values.len(), COLUMNS.len());
        Columns(values)
    }

    /// Where `col` is in [`COLUMNS`].
    fn position(col: &str) -> Option<usize> {
        COLUMNS
            .iter()
            .position(|c| std::ptr::eq(c.as_ptr(), col.as_ptr()) && c.len() == col.len())
            .or_else(|| COLUMNS.iter().position(|c| *c == col))
    }

    /// The value of `col`; `None` if `col` is no column.
    pub fn get(&self, col: &str) -> Option<&Value> {
        Self::position(col).map(|k| &self.0[k])
    }

    /// Whether `self` and `other` hold different values in `col`.
    pub fn differ(&self, other: &Columns, col: &str) -> bool {
        Self::position(col).is_some_and(|k| self.0[k] != other.0[k])
    }

    /// The value of the column at position `k` of [`COLUMNS`].
    pub fn at(&self, k: usize) -> &Value {
        &self.0[k]
    }

    /// Sets `col`. Every name the code sets is a column; a name that is not one sets nothing.
    pub fn insert(&mut self, col: &str, v: Value) {
        match Self::position(col) {
            Some(k) => self.0[k] = v,
            None => debug_assert!(false, "{col} is not a column of contacts"),
        }
    }
}

/// One contact: its row, tags and identities.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    pub rowid: i64,
    pub cols: Columns,
    pub custom: Map<String, Json>,
    pub tags: Vec<String>,
    pub identities: Vec<Identity>,
}

impl Contact {
    /// A contact not yet stored, with the defaults of a manual create.
    pub fn new(contact_id: ContactId, actor: &str) -> Self {
        Self::new_at(contact_id, actor, time::now())
    }

    /// [`new`](Self::new), created at `now`: the contacts of one import batch share it.
    pub fn new_at(contact_id: ContactId, actor: &str, now: String) -> Self {
        let mut cols = Columns::null();
        cols.insert("contact_id", contact_id.as_str().into());
        cols.insert("lead_stage", LeadStage::Contact.as_str().into());
        cols.insert("created_at", now.clone().into());
        cols.insert("updated_at", now.into());
        cols.insert("created_by", actor.into());
        cols.insert("conversation_count", 0.into());
        cols.insert("dropped_message_count", 0.into());
        cols.insert("blocked", 0.into());
        cols.insert("version", 1.into());
        Contact {
            rowid: 0,
            cols,
            custom: Map::new(),
            tags: Vec::new(),
            identities: Vec::new(),
        }
    }

    pub fn contact_id(&self) -> &str {
        self.text("contact_id").unwrap_or_default()
    }

    pub fn text(&self, col: &str) -> Option<&str> {
        self.cols.get(col).and_then(Value::as_str)
    }

    pub fn int(&self, col: &str) -> i64 {
        self.cols.get(col).and_then(Value::as_i64).unwrap_or(0)
    }

    pub fn version(&self) -> i64 {
        self.int("version")
    }

    /// The strong ETag of this version.
    pub fn etag(&self) -> String {
        format!("\"v{}\"", self.version())
    }

    pub fn set(&mut self, col: &'static str, v: impl Into<Value>) {
        self.cols.insert(col, v.into());
    }

    /// "first last", else email, else phone, else the first identity's external id.
    pub fn derive_display_name(&mut self) {
        let full: Vec<&str> = ["first_name", "last_name"]
            .iter()
            .filter_map(|c| self.text(c))
            .collect();
        let name = if !full.is_empty() {
            full.join(" ")
        } else if let Some(e) = self.text("email") {
            e.to_owned()
        } else if let Some(p) = self.text("phone").or(self.text("mobile")) {
            p.to_owned()
        } else if let Some(i) = self.identities.first() {
            i.external_id.clone()
        } else {
            self.contact_id().to_owned()
        };
        self.cols.insert("display_name", name.into());
    }

    /// Every normalized email and E.164 phone this contact carries: `(kind, value)`.
    pub fn match_keys(&self) -> Vec<(&'static str, String)> {
        let mut keys = Vec::new();
        if let Some(e) = self.text("email_norm") {
            keys.push(("email", e.to_owned()));
        }
        for col in ["phone_e164", "mobile_e164"] {
            if let Some(p) = self.text(col) {
                keys.push(("phone", p.to_owned()));
            }
        }
        for e in list_items(self.text("secondary_emails")) {
            if let Ok(email) = Email::parse(&e) {
                keys.push(("email", email.normalized().to_owned()));
            }
        }
        for p in list_items(self.text("secondary_phone_keys")) {
            keys.push(("phone", p));
        }
        keys.sort();
        keys.dedup();
        keys
    }

    /// The contact as the API shows it (SPEC §8).
    pub fn to_json(&self, catalogue: &Catalogue) -> Json {
        let mut out = Map::new();
        for field in catalogue.fields() {
            match &field.storage {
                Storage::Column(col) => {
                    out.insert(field.key.clone(), column_json(field.ty, self.cols.get(col)));
                }
                Storage::Tags => {
                    out.insert("tags".into(), json!(self.tags));
                }
                Storage::Custom(_) => {}
            }
        }
        let custom: Map<String, Json> = catalogue
            .custom()
            .iter()
            .filter_map(|d| self.custom.get(&d.key).map(|v| (d.key.clone(), v.clone())))
            .collect();
        out.insert("custom".into(), Json::Object(custom));
        let identities: Vec<Json> = self
            .identities
            .iter()
            .map(|i| json!({"channel": i.channel.as_str(), "external_id": i.external_id}))
            .collect();
        out.insert("identities".into(), Json::Array(identities));
        Json::Object(out)
    }
}

/// A stored column as JSON, by the field's type.
pub fn column_json(ty: FieldType, v: Option<&Value>) -> Json {
    match (ty, v) {
        (_, None | Some(Value::Null)) => match ty {
            FieldType::EmailList | FieldType::PhoneList => json!([]),
            FieldType::Checkbox => json!(false),
            _ => Json::Null,
        },
        (FieldType::EmailList | FieldType::PhoneList, Some(Value::Text(s))) => {
            serde_json::from_str(s).unwrap_or_else(|_| json!([]))
        }
        (FieldType::Checkbox, Some(Value::Integer(i))) => json!(*i != 0),
        (_, Some(Value::Integer(i))) => json!(i),
        (_, Some(Value::Real(f))) => json!(f),
        (_, Some(Value::Text(s))) => json!(s),
        (_, Some(Value::Blob(_))) => Json::Null,
    }
}

/// What a create or update body asks for, parsed and checked against the catalogue.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Edit {
    pub contact_id: Option<ContactId>,
    /// System columns to set (including derived match-key columns).
    pub set: Vec<(&'static str, Value)>,
    pub tags: Option<Vec<Tag>>,
    pub custom: Vec<(String, Json)>,
    pub identities: Vec<Identity>,
    /// The field keys the body named, for history.
    pub keys: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditMode {
    Create,
    Update,
}

impl Edit {
    pub fn owner(&self) -> Option<&str> {
        self.set
            .iter()
            .find(|(c, _)| *c == "owner")
            .and_then(|(_, v)| v.as_str())
    }

    /// Parses a JSON object of field keys to values.
    pub fn parse(
        body: &Json,
        catalogue: &Catalogue,
        region: Region,
        mode: EditMode,
    ) -> Result<Edit> {
        let obj = body
            .as_object()
            .ok_or_else(|| Error::malformed("the body must be a JSON object"))?;
        let fields = obj.iter().map(|(key, value)| (key.as_str(), value));
        Self::parse_fields(fields, catalogue, region, mode)
    }

    /// [`parse`](Self::parse) over a body's fields as (key, value) pairs, in the order
    /// given: an import row's cells need no JSON object built around them.
    pub fn parse_fields<'a>(
        fields: impl IntoIterator<Item = (&'a str, &'a Json)>,
        catalogue: &Catalogue,
        region: Region,
        mode: EditMode,
    ) -> Result<Edit> {
        let mut edit = Edit::default();
        for (key, value) in fields {
            match key {
                "contact_id" => {
                    if mode == EditMode::Update {
                        return Err(Error::invalid("contact_id", "is immutable"));
                    }
                    let s = value
                        .as_str()
                        .ok_or_else(|| type_mismatch("contact_id", "a string"))?;
                    edit.contact_id = Some(ContactId::parse(s)?);
                }
                "custom" => edit.parse_custom(value, catalogue, region)?,
                "identities" => edit.parse_identities(value, mode)?,
                "tags" => edit.tags = Some(parse_tags(value)?),
                // Read-only keys a client may echo back from a read: refused, so no one
                // believes they changed something they did not.
                _ => edit.parse_system(key, value, catalogue, region)?,
            }
            edit.keys.push(key.to_owned());
        }
        Ok(edit)
    }

    fn parse_system(
        &mut self,
        key: &str,
        value: &Json,
        catalogue: &Catalogue,
        region: Region,
    ) -> Result<()> {
        let field = catalogue
            .get(key)
            .filter(|f| f.system)
            .ok_or_else(|| Error::invalid(key, "is not a field"))?;
        let Storage::Column(col) = field.storage else {
            return Err(Error::invalid(key, "is not a field"));
        };
        if !field.writable || INTERNAL.contains(&col) {
            return Err(Error::invalid(key, "is read-only"));
        }
        if value.is_null() || value.as_str().is_some_and(|s| s.trim().is_empty()) {
            return self.clear(col);
        }
        match field.ty {
            FieldType::Email => {
                let s = value
                    .as_str()
                    .ok_or_else(|| type_mismatch(key, "a string"))?;
                let email =
                    Email::parse(s).map_err(|why| Error::invalid(key, format!("email {why}")))?;
                self.set.push((col, email.display().into()));
                self.set.push(("email_norm", email.normalized().into()));
            }
            FieldType::Phone => {
                let s = value
                    .as_str()
                    .ok_or_else(|| type_mismatch(key, "a string"))?;
                let phone = Phone::parse(s, region)
                    .map_err(|why| Error::invalid(key, format!("phone {why}")))?;
                self.set.push((col, phone.display().into()));
                self.set.push((e164_column(col), phone.e164().into()));
            }
            FieldType::EmailList => {
                let items = string_list(key, value)?;
                let mut seen = Vec::new();
                for (i, s) in items.iter().enumerate() {
                    let e = Email::parse(s).map_err(|why| {
                        Error::invalid(format!("{key}[{i}]"), format!("email {why}"))
                    })?;
                    if !seen
                        .iter()
                        .any(|x: &Email| x.normalized() == e.normalized())
                    {
                        seen.push(e);
                    }
                }
                let display: Vec<&str> = seen.iter().map(Email::display).collect();
                self.set.push((col, Value::json_list(&display)));
            }
            FieldType::PhoneList => {
                let items = string_list(key, value)?;
                let mut seen: Vec<Phone> = Vec::new();
                for (i, s) in items.iter().enumerate() {
                    let p = Phone::parse(s, region).map_err(|why| {
                        Error::invalid(format!("{key}[{i}]"), format!("phone {why}"))
                    })?;
                    if !seen.iter().any(|x| x.e164() == p.e164()) {
                        seen.push(p);
                    }
                }
                let display: Vec<&str> = seen.iter().map(Phone::display).collect();
                self.set.push((col, Value::json_list(&display)));
                let keys: Vec<&str> = seen.iter().map(Phone::e164).collect();
                self.set
                    .push(("secondary_phone_keys", Value::json_list(&keys)));
            }
            FieldType::SingleSelect => {
                let s = value
                    .as_str()
                    .ok_or_else(|| type_mismatch(key, "a string"))?;
                let ok = match col {
                    "lead_stage" => LeadStage::parse(s).is_some(),
                    "source_channel" => Channel::parse(s).is_some(),
                    _ => field
                        .options
                        .as_ref()
                        .is_some_and(|o| o.iter().any(|x| x == s)),
                };
                if !ok {
                    let options = field.options.clone().unwrap_or_default().join(", ");
                    return Err(Error::invalid(key, format!("must be one of: {options}")));
                }
                self.set.push((col, s.into()));
            }
            FieldType::Owner => {
                let s = value
                    .as_str()
                    .ok_or_else(|| type_mismatch(key, "an agent login or null"))?;
                let login =
                    Login::parse(s).map_err(|why| Error::invalid(key, format!("login {why}")))?;
                self.set.push((col, login.as_str().into()));
            }
            FieldType::Date => {
                let s = value
                    .as_str()
                    .ok_or_else(|| type_mismatch(key, "a string"))?;
                let d = time::parse_date(s)
                    .ok_or_else(|| Error::invalid(key, "expected a date YYYY-MM-DD"))?;
                self.set.push((col, d.into()));
            }
            FieldType::Text | FieldType::LongText | FieldType::Link => {
                let s = value
                    .as_str()
                    .ok_or_else(|| type_mismatch(key, "a string"))?
                    .trim();
                let max = if field.ty == FieldType::LongText {
                    20_000
                } else {
                    1_000
                };
                if s.chars().count() > max {
                    return Err(Error::invalid(key, format!("at most {max} characters")));
                }
                self.set.push((col, s.into()));
            }
            FieldType::Number
            | FieldType::Checkbox
            | FieldType::Datetime
            | FieldType::MultiSelect
            | FieldType::Tags => {
                return Err(Error::invalid(key, "is read-only"));
            }
        }
        Ok(())
    }

    fn clear(&mut self, col: &'static str) -> Result<()> {
        if col == "lead_stage" {
            return Err(Error::invalid(
                "lead_stage",
                "must be one of: lead, contact, customer",
            ));
        }
        self.set.push((col, Value::Null));
        match col {
            "email" => self.set.push(("email_norm", Value::Null)),
            "phone" | "mobile" => self.set.push((e164_column(col), Value::Null)),
            "secondary_phones" => self.set.push(("secondary_phone_keys", Value::Null)),
            _ => {}
        }
        Ok(())
    }

    fn parse_custom(&mut self, value: &Json, catalogue: &Catalogue, region: Region) -> Result<()> {
        let obj = value
            .as_object()
            .ok_or_else(|| type_mismatch("custom", "an object"))?;
        for (key, v) in obj {
            let def = catalogue
                .custom_def(key)
                .ok_or_else(|| Error::invalid(format!("custom.{key}"), "is not a custom field"))?;
            let checked = def.check_value(v, region)?;
            self.custom.push((key.clone(), checked));
        }
        Ok(())
    }

    fn parse_identities(&mut self, value: &Json, mode: EditMode) -> Result<()> {
        if mode == EditMode::Update {
            return Err(Error::invalid(
                "identities",
                "are added by channel events, not edited",
            ));
        }
        let items = value
            .as_array()
            .ok_or_else(|| type_mismatch("identities", "an array"))?;
        if items.len() > MAX_IDENTITIES {
            return Err(Error::invalid(
                "identities",
                format!("at most {MAX_IDENTITIES}"),
            ));
        }
        for (i, item) in items.iter().enumerate() {
            let field = format!("identities[{i}]");
            let channel = item
                .get("channel")
                .and_then(Json::as_str)
                .ok_or_else(|| type_mismatch(&field, "{channel, external_id}"))?;
            let external = item
                .get("external_id")
                .and_then(Json::as_str)
                .ok_or_else(|| type_mismatch(&field, "{channel, external_id}"))?;
            let identity =
                Identity::parse(channel, external).map_err(|why| Error::invalid(&field, why))?;
            if !self.identities.contains(&identity) {
                self.identities.push(identity);
            }
        }
        Ok(())
    }

    /// Applies the edit; returns the field keys whose value actually changed.
    pub fn apply(&self, contact: &mut Contact, catalogue: &Catalogue) -> Vec<String> {
        let before = contact.clone();
        self.write_into(contact, catalogue);
        contact.derive_display_name();
        changed_keys(&before, contact, catalogue)
    }

    /// Writes the edit's values into the contact, leaving the display name and the changed
    /// keys to a caller that applies several edits in turn (an import row's policies).
    pub fn write_into(&self, contact: &mut Contact, catalogue: &Catalogue) {
        for (col, v) in &self.set {
            contact.cols.insert(col, v.clone());
        }
        if let Some(tags) = &self.tags {
            contact.tags = dedup_tags(tags.iter().map(Tag::as_str));
        }
        for (key, v) in &self.custom {
            if v.is_null() {
                contact.custom.remove(key);
            } else {
                contact.custom.insert(key.clone(), v.clone());
            }
        }
        // Values of deleted custom fields are dropped whenever their contact is written.
        contact
            .custom
            .retain(|k, _| catalogue.custom_def(k).is_some());
        for identity in &self.identities {
            if !contact.identities.contains(identity) {
                contact.identities.push(identity.clone());
            }
        }
    }
}

/// Field keys whose value differs between two versions of a contact.
pub fn changed_keys(before: &Contact, after: &Contact, catalogue: &Catalogue) -> Vec<String> {
    let mut keys = Vec::new();
    for field in catalogue.fields() {
        let differs = match &field.storage {
            Storage::Column(col) => before.cols.differ(&after.cols, col),
            Storage::Tags => before.tags != after.tags,
            Storage::Custom(k) => before.custom.get(k) != after.custom.get(k),
        };
        if differs && !matches!(field.key.as_str(), "updated_at" | "display_name") {
            keys.push(field.key.clone());
        }
    }
    if before.identities != after.identities {
        keys.push("identities".into());
    }
    keys
}

pub fn dedup_tags<'a>(tags: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for t in tags {
        if !out.iter().any(|o| o.eq_ignore_ascii_case(t)) {
            out.push(t.to_owned());
        }
    }
    out
}

pub fn parse_tags(value: &Json) -> Result<Vec<Tag>> {
    let items = value
        .as_array()
        .ok_or_else(|| type_mismatch("tags", "an array of strings"))?;
    if items.len() > MAX_TAGS {
        return Err(Error::invalid("tags", format!("at most {MAX_TAGS} tags")));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let s = t
                .as_str()
                .ok_or_else(|| type_mismatch("tags", "an array of strings"))?;
            Tag::parse(s).map_err(|why| Error::invalid(format!("tags[{i}]"), why))
        })
        .collect()
}

fn string_list(key: &str, value: &Json) -> Result<Vec<String>> {
    let items = value
        .as_array()
        .ok_or_else(|| type_mismatch(key, "an array of strings"))?;
    if items.len() > MAX_SECONDARY {
        return Err(Error::invalid(
            key,
            format!("at most {MAX_SECONDARY} values"),
        ));
    }
    items
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| type_mismatch(key, "an array of strings"))
        })
        .collect()
}

fn e164_column(col: &str) -> &'static str {
    if col == "mobile" {
        "mobile_e164"
    } else {
        "phone_e164"
    }
}

pub fn type_mismatch(field: &str, expected: &str) -> Error {
    Error::Malformed {
        detail: format!("{field}: expected {expected}"),
        field: Some(field.to_owned()),
    }
}
