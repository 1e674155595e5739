//! One CSV record turned into what the import does with it, and the conflict policies
//! applied to a contact. Pure: no SQL.
//!
//! A record's cells become one body per policy, parsed by [`Edit::parse_fields`], so every
//! value is checked exactly as a PATCH checks it; an error names the column and the value.
//! An empty cell imports nothing: it never clears a value.

use std::borrow::Cow;

use serde_json::{json, Map, Value as Json};

use crate::contacts::contact::{
    changed_keys, dedup_tags, Contact, Edit, EditMode, MAX_SECONDARY, MAX_TAGS,
};
use crate::import::mapping::{Plan, Policy};
use crate::import::preview::Record;
use crate::kernel::error::Error;
use crate::kernel::fields::{Catalogue, FieldType};
use crate::kernel::store::{list_items, Value};
use crate::kernel::values::{ContactId, Region, Tag};

/// Why a row failed, in words a person can act on.
pub type Reason = String;

/// What a row is matched by (SPEC §4: Contact ID, then email, then phone).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Keys {
    pub contact_id: Option<ContactId>,
    /// Lower-cased.
    pub email: Option<String>,
    /// E.164.
    pub phone: Option<String>,
}

impl Keys {
    /// The keys as `import_keys` records them: a later row with one of them fails.
    pub fn tagged(&self) -> Vec<String> {
        let mut out = Vec::with_capacity(3);
        if let Some(id) = &self.contact_id {
            out.push(id_key(id.as_str()));
        }
        if let Some(e) = &self.email {
            out.push(format!("email:{e}"));
        }
        if let Some(p) = &self.phone {
            out.push(format!("phone:{p}"));
        }
        out
    }
}

/// The `import_keys` key of a contact: a later row that reaches the same contact fails,
/// whichever of its keys found it.
pub fn id_key(contact_id: &str) -> String {
    format!("id:{contact_id}")
}

/// Says which key a tagged key is, for an error message.
pub fn describe_key(tagged: &str) -> String {
    match tagged.split_once(':') {
        Some(("id", v)) => format!("Contact ID {v}"),
        Some((kind, v)) => format!("{kind} {v}"),
        None => tagged.to_owned(),
    }
}

/// A record, parsed: its keys, its owner, and one edit per policy.
#[derive(Debug, Clone, PartialEq)]
pub struct RowEdit {
    pub keys: Keys,
    /// The agent login the row assigns, checked against the users by the caller.
    pub owner: Option<String>,
    edits: Vec<(Policy, Edit)>,
}

/// Longest value quoted back in an error message.
const QUOTE_MAX: usize = 60;

/// Parses one record with the plan's columns.
pub fn parse(
    record: &Record,
    plan: &Plan,
    catalogue: &Catalogue,
    region: Region,
) -> Result<RowEdit, Reason> {
    if let Some(why) = record.undecodable {
        return Err(format!("a value {why}"));
    }
    let fields = &record.fields;
    if plan.header.is_repeated_by(fields) {
        return Err("this line repeats the header; send the header in chunk 1 only".into());
    }
    let expected = plan.header.names().len();
    if fields.len() != expected {
        return Err(format!(
            "this row has {} fields but the header has {expected}: check for a delimiter inside an unquoted value, or a missing quote",
            fields.len()
        ));
    }
    let mut keys = Keys::default();
    let mut bodies: Vec<Body> = Vec::new();
    for column in &plan.columns {
        let cell = fields[column.index].trim();
        if cell.is_empty() {
            continue;
        }
        let quoted = || quote(cell);
        if column.key == "contact_id" {
            let id = ContactId::parse(cell).map_err(|e| {
                format!("column '{}' ('{}'): {}", column.name, quoted(), detail(&e))
            })?;
            keys.contact_id = Some(id);
            continue;
        }
        let value = cell_json(column.ty, cell)
            .map_err(|why| format!("column '{}' ('{}'): {why}", column.name, quoted()))?;
        let at = bodies
            .iter()
            .position(|b| b.policy == column.policy)
            .unwrap_or_else(|| {
                bodies.push(Body::new(column.policy));
                bodies.len() - 1
            });
        let body = &mut bodies[at];
        match column.key.strip_prefix("custom.") {
            Some(bare) => {
                body.custom.insert(bare.to_owned(), value);
            }
            None => body.fields.push((&column.key, value)),
        }
    }
    let mut edits = Vec::with_capacity(bodies.len());
    for body in bodies {
        let policy = body.policy;
        let edit = body
            .parse(catalogue, region)
            .map_err(|e| describe(&e, plan, fields))?;
        edits.push((policy, edit));
    }
    for (_, edit) in &edits {
        for (col, v) in &edit.set {
            match (*col, v.as_str()) {
                ("email_norm", Some(e)) => keys.email = Some(e.to_owned()),
                ("phone_e164", Some(p)) => keys.phone = Some(p.to_owned()),
                _ => {}
            }
        }
    }
    if keys.tagged().is_empty() {
        return Err(
            "no Contact ID, email or phone: a row needs one of them to be matched or created"
                .into(),
        );
    }
    let owner = edits.iter().find_map(|(_, e)| e.owner().map(str::to_owned));
    Ok(RowEdit { keys, owner, edits })
}

/// The cells of one policy, as the fields of a create body.
struct Body<'p> {
    policy: Policy,
    fields: Vec<(&'p str, Json)>,
    custom: Map<String, Json>,
}

impl<'p> Body<'p> {
    fn new(policy: Policy) -> Self {
        Body {
            policy,
            fields: Vec::new(),
            custom: Map::new(),
        }
    }

    /// Checked exactly as a create body with these fields would be.
    fn parse(self, catalogue: &Catalogue, region: Region) -> Result<Edit, Error> {
        let custom = (!self.custom.is_empty()).then_some(("custom", Json::Object(self.custom)));
        let fields = self.fields.iter().map(|(key, value)| (*key, value));
        let fields = fields.chain(custom.iter().map(|(key, value)| (*key, value)));
        Edit::parse_fields(fields, catalogue, region, EditMode::Create)
    }
}

/// A cell as the JSON value a create body would carry for the field's type.
fn cell_json(ty: FieldType, cell: &str) -> Result<Json, Reason> {
    match ty {
        FieldType::Number => {
            if let Ok(i) = cell.parse::<i64>() {
                return Ok(json!(i));
            }
            cell.parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Json::Number)
                .ok_or_else(|| "expected a number such as 42 or 3.5".into())
        }
        FieldType::Checkbox => match cell.to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" | "x" => Ok(json!(true)),
            "false" | "no" | "n" | "0" => Ok(json!(false)),
            _ => Err("expected true or false (or yes/no, 1/0)".into()),
        },
        FieldType::MultiSelect | FieldType::Tags | FieldType::EmailList | FieldType::PhoneList => {
            let items: Vec<&str> = cell
                .split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect();
            Ok(json!(items))
        }
        _ => Ok(json!(cell)),
    }
}

/// An `Edit::parse` error as a row's reason, naming the column and its value.
fn describe(e: &Error, plan: &Plan, fields: &[String]) -> Reason {
    let (field, what) = match e {
        Error::Invalid { field, detail } => (field.as_str(), detail.clone()),
        Error::Malformed {
            field: Some(field),
            detail,
        } => (field.as_str(), detail.clone()),
        other => return other.to_string(),
    };
    // `secondary_emails[2]` is the column of `secondary_emails`; `custom.tier` its own.
    let key = field.split('[').next().unwrap_or(field);
    match plan.column_of(key) {
        Some(c) => format!(
            "column '{}' ('{}'): {what}",
            c.name,
            quote(fields[c.index].trim())
        ),
        None => format!("{field}: {what}"),
    }
}

fn detail(e: &Error) -> String {
    match e {
        Error::Invalid { detail, .. } => detail.clone(),
        other => other.to_string(),
    }
}

fn quote(s: &str) -> String {
    if s.chars().count() <= QUOTE_MAX {
        s.to_owned()
    } else {
        let cut: String = s.chars().take(QUOTE_MAX).collect();
        format!("{cut}…")
    }
}

impl RowEdit {
    /// Applies the row to a contact (a stored one, or a new one), each field by its policy,
    /// and adds the job's tags. Returns the field keys that changed.
    pub fn apply(
        &self,
        contact: &mut Contact,
        job_tags: &[Tag],
        catalogue: &Catalogue,
    ) -> Result<Vec<String>, Reason> {
        let before = contact.clone();
        for (policy, edit) in &self.edits {
            let effective = match policy {
                Policy::Overwrite => Cow::Borrowed(edit),
                Policy::UpdateBlankOnly => blank_only(edit, contact),
                Policy::Append => Cow::Owned(appended(edit, contact, catalogue)?),
            };
            effective.write_into(contact, catalogue);
        }
        if !job_tags.is_empty() {
            let all = contact
                .tags
                .iter()
                .map(String::as_str)
                .chain(job_tags.iter().map(Tag::as_str));
            contact.tags = dedup_tags(all);
        }
        if contact.tags.len() > MAX_TAGS {
            return Err(format!("the contact would have more than {MAX_TAGS} tags"));
        }
        contact.derive_display_name();
        Ok(changed_keys(&before, contact, catalogue))
    }
}

/// The column a derived match-key column belongs to.
fn owning_column(col: &str) -> &str {
    match col {
        "email_norm" => "email",
        "phone_e164" => "phone",
        "mobile_e164" => "mobile",
        "secondary_phone_keys" => "secondary_phones",
        other => other,
    }
}

fn is_blank(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Text(s)) => s.trim().is_empty(),
        Some(_) => false,
    }
}

/// The part of `edit` that fills fields the contact has empty: all of it for a new
/// contact, without a copy.
fn blank_only<'e>(edit: &'e Edit, contact: &Contact) -> Cow<'e, Edit> {
    let blank = |col: &str| is_blank(contact.cols.get(owning_column(col)));
    let fills_all = edit.set.iter().all(|(col, _)| blank(col))
        && (edit.tags.is_none() || contact.tags.is_empty())
        && edit
            .custom
            .iter()
            .all(|(k, _)| !contact.custom.contains_key(k))
        && edit.identities.is_empty();
    if fills_all {
        return Cow::Borrowed(edit);
    }
    Cow::Owned(Edit {
        set: edit
            .set
            .iter()
            .filter(|(col, _)| blank(col))
            .cloned()
            .collect(),
        tags: edit.tags.clone().filter(|_| contact.tags.is_empty()),
        custom: edit
            .custom
            .iter()
            .filter(|(k, _)| !contact.custom.contains_key(k))
            .cloned()
            .collect(),
        ..Edit::default()
    })
}

/// `edit` rewritten to append to what the contact has: text joined with "; ", lists and
/// multi-selects gaining the values they lack, tags added.
fn appended(edit: &Edit, contact: &Contact, catalogue: &Catalogue) -> Result<Edit, Reason> {
    let mut out = Edit::default();
    for (col, v) in &edit.set {
        match *col {
            "secondary_emails" => {
                let merged = union_lists(contact.text(col), v, |s| s.to_lowercase());
                out.set.push((col, bounded_list(col, merged)?));
            }
            "secondary_phones" => {
                let (display, keys) = union_phones(contact, edit);
                out.set.push((col, bounded_list(col, display)?));
                out.set
                    .push(("secondary_phone_keys", Value::json_list(&keys)));
            }
            "secondary_phone_keys" => {}
            _ => {
                let max = text_max(catalogue.get(col).map(|f| f.ty));
                let joined = join(contact.text(col), v.as_str().unwrap_or_default(), max)
                    .map_err(|why| format!("field '{col}' {why}"))?;
                out.set.push((col, joined.into()));
            }
        }
    }
    for (key, v) in &edit.custom {
        let ty = catalogue.custom_def(key).map(|d| d.ty);
        let merged = match (ty, v) {
            (Some(FieldType::MultiSelect), Json::Array(new)) => {
                let mut all: Vec<Json> = contact
                    .custom
                    .get(key)
                    .and_then(Json::as_array)
                    .cloned()
                    .unwrap_or_default();
                for item in new {
                    if !all.contains(item) {
                        all.push(item.clone());
                    }
                }
                Json::Array(all)
            }
            (_, Json::String(new)) => {
                let current = contact.custom.get(key).and_then(Json::as_str);
                json!(join(current, new, text_max(ty))
                    .map_err(|why| format!("field 'custom.{key}' {why}"))?)
            }
            _ => v.clone(),
        };
        out.custom.push((key.clone(), merged));
    }
    out.tags = edit.tags.as_ref().map(|new| {
        let mut all: Vec<Tag> = contact
            .tags
            .iter()
            .filter_map(|t| Tag::parse(t).ok())
            .collect();
        all.extend(new.iter().cloned());
        all
    });
    Ok(out)
}

fn text_max(ty: Option<FieldType>) -> usize {
    if ty == Some(FieldType::LongText) {
        20_000
    } else {
        1_000
    }
}

/// `current; new`, unless `new` is already one of the joined parts.
fn join(current: Option<&str>, new: &str, max: usize) -> Result<String, Reason> {
    let joined = match current.map(str::trim).filter(|c| !c.is_empty()) {
        None => new.to_owned(),
        Some(c) if c.split("; ").any(|part| part == new) => c.to_owned(),
        Some(c) => format!("{c}; {new}"),
    };
    if joined.chars().count() > max {
        return Err(format!(
            "would grow past {max} characters with the appended text"
        ));
    }
    Ok(joined)
}

fn union_lists(current: Option<&str>, new: &Value, same: impl Fn(&str) -> String) -> Vec<String> {
    let mut all = list_items(current);
    for item in list_items(new.as_str()) {
        if !all.iter().any(|a| same(a) == same(&item)) {
            all.push(item);
        }
    }
    all
}

/// The contact's secondary phones with the edit's added, compared by E.164; the display
/// list and the key list stay aligned.
fn union_phones(contact: &Contact, edit: &Edit) -> (Vec<String>, Vec<String>) {
    let mut display = list_items(contact.text("secondary_phones"));
    let mut keys = list_items(contact.text("secondary_phone_keys"));
    let new_of = |col: &str| {
        edit.set
            .iter()
            .find(|(c, _)| *c == col)
            .map(|(_, v)| list_items(v.as_str()))
            .unwrap_or_default()
    };
    for (d, k) in new_of("secondary_phones")
        .into_iter()
        .zip(new_of("secondary_phone_keys"))
    {
        if !keys.contains(&k) {
            display.push(d);
            keys.push(k);
        }
    }
    (display, keys)
}

fn bounded_list(col: &str, items: Vec<String>) -> Result<Value, Reason> {
    if items.len() > MAX_SECONDARY {
        return Err(format!(
            "field '{col}' would hold more than {MAX_SECONDARY} values"
        ));
    }
    Ok(Value::json_list(&items))
}

#[cfg(test)]
mod tests;
