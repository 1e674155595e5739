//! The merged contact, resolved from the primary and its secondaries (SPEC §3, §9). Pure:
//! no storage, so every rule is unit-tested here.

use serde_json::{Map, Value as Json};

use crate::contacts::contact::{changed_keys, dedup_tags, Contact, COLUMNS};
use crate::kernel::fields::Catalogue;
use crate::kernel::store::{list_items, Value};
use crate::kernel::values::Email;

/// Columns a merge never fills from a secondary: the primary's identity and bookkeeping
/// (`display_name` is derived again), the block state (a merge is not an unblock or a
/// block; the admin decides that separately), and the columns with rules of their own.
const KEPT: &[&str] = &[
    "contact_id",
    "display_name",
    "version",
    "updated_at",
    "blocked",
    "blocked_at",
    "custom",
    "created_at",
    "created_by",
    "last_activity_at",
    "conversation_count",
    "dropped_message_count",
    "secondary_emails",
    "secondary_phones",
    "secondary_phone_keys",
];

/// Columns that travel with another: the match key derived from a display value.
const PAIRED: &[(&str, &str)] = &[
    ("email", "email_norm"),
    ("phone", "phone_e164"),
    ("mobile", "mobile_e164"),
];

/// A merge resolved: the primary as it will be stored, and what changed on it.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub contact: Contact,
    /// The field keys that differ from the primary as it was (for its history item).
    pub changed: Vec<String>,
}

/// Resolves the merged contact. `secondaries` are in any order; values missing on the
/// primary come from the most recently updated secondary that has one.
pub fn resolve(primary: &Contact, secondaries: &[Contact], catalogue: &Catalogue) -> Plan {
    let mut by_recency: Vec<&Contact> = secondaries.iter().collect();
    // Stable: equal `updated_at` keeps the caller's order.
    by_recency.sort_by(|a, b| b.text("updated_at").cmp(&a.text("updated_at")));
    let mut merged = primary.clone();
    fill_columns(&mut merged, &by_recency);
    merged.custom = fill_custom(primary, &by_recency, catalogue);
    merged.tags = dedup_tags(
        std::iter::once(primary)
            .chain(by_recency.iter().copied())
            .flat_map(|c| c.tags.iter().map(String::as_str)),
    );
    for s in &by_recency {
        for identity in &s.identities {
            if !merged.identities.contains(identity) {
                merged.identities.push(identity.clone());
            }
        }
    }
    let all: Vec<&Contact> = std::iter::once(primary)
        .chain(by_recency.iter().copied())
        .collect();
    set_lifetime(&mut merged, &all);
    set_secondary_emails(&mut merged, &all);
    set_secondary_phones(&mut merged, &all);
    merged.derive_display_name();
    let changed = changed_keys(primary, &merged, catalogue);
    Plan {
        contact: merged,
        changed,
    }
}

fn is_empty(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Text(s)) => s.trim().is_empty(),
        _ => false,
    }
}

/// Each empty column of the primary takes the first non-empty value among `secondaries`;
/// a display value and its match key are taken together.
fn fill_columns(merged: &mut Contact, secondaries: &[&Contact]) {
    for col in COLUMNS {
        if KEPT.contains(col) || PAIRED.iter().any(|(_, key)| key == col) {
            continue;
        }
        if !is_empty(merged.cols.get(col)) {
            continue;
        }
        let Some(donor) = secondaries.iter().find(|s| !is_empty(s.cols.get(col))) else {
            continue;
        };
        merged
            .cols
            .insert(col, donor.cols.get(col).cloned().unwrap_or(Value::Null));
        if let Some((_, key)) = PAIRED.iter().find(|(display, _)| display == col) {
            merged
                .cols
                .insert(key, donor.cols.get(key).cloned().unwrap_or(Value::Null));
        }
    }
}

fn json_is_empty(v: &Json) -> bool {
    match v {
        Json::Null => true,
        Json::String(s) => s.trim().is_empty(),
        Json::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// Custom values by the same rule as columns; values of deleted fields are dropped, as on
/// every write.
fn fill_custom(
    primary: &Contact,
    secondaries: &[&Contact],
    catalogue: &Catalogue,
) -> Map<String, Json> {
    let mut out = Map::new();
    for def in catalogue.custom() {
        let value = std::iter::once(primary)
            .chain(secondaries.iter().copied())
            .filter_map(|c| c.custom.get(&def.key))
            .find(|v| !json_is_empty(v));
        if let Some(v) = value {
            out.insert(def.key.clone(), v.clone());
        }
    }
    out
}

/// The oldest `created_at` (with its `created_by`), the newest `last_activity_at`, and the
/// activity counters summed.
fn set_lifetime(merged: &mut Contact, all: &[&Contact]) {
    if let Some(oldest) = all
        .iter()
        .filter(|c| c.text("created_at").is_some())
        .min_by(|a, b| a.text("created_at").cmp(&b.text("created_at")))
    {
        merged.set("created_at", oldest.text("created_at"));
        merged.set("created_by", oldest.text("created_by"));
    }
    let newest = all.iter().filter_map(|c| c.text("last_activity_at")).max();
    merged.set("last_activity_at", newest);
    for col in ["conversation_count", "dropped_message_count"] {
        merged.set(col, all.iter().map(|c| c.int(col)).sum::<i64>());
    }
}

/// Every email of every contact (primary and secondary ones) that is not the merged
/// contact's own, once per normalized address, as entered.
fn set_secondary_emails(merged: &mut Contact, all: &[&Contact]) {
    let own = merged.text("email_norm").map(str::to_owned);
    let mut seen: Vec<String> = own.into_iter().collect();
    let mut list = Vec::new();
    for c in all {
        let emails = c
            .text("email")
            .map(str::to_owned)
            .into_iter()
            .chain(list_items(c.text("secondary_emails")));
        for display in emails {
            let Ok(email) = Email::parse(&display) else {
                continue;
            };
            if !seen.iter().any(|s| s == email.normalized()) {
                seen.push(email.normalized().to_owned());
                list.push(email.display().to_owned());
            }
        }
    }
    merged.set("secondary_emails", Value::json_list(&list));
}

/// Every phone of every contact (phone, mobile, secondary ones) that is not one of the
/// merged contact's own, once per E.164 number, as entered.
fn set_secondary_phones(merged: &mut Contact, all: &[&Contact]) {
    let mut seen: Vec<String> = ["phone_e164", "mobile_e164"]
        .iter()
        .filter_map(|c| merged.text(c).map(str::to_owned))
        .collect();
    let (mut displays, mut keys) = (Vec::new(), Vec::new());
    for c in all {
        let own = [("phone", "phone_e164"), ("mobile", "mobile_e164")]
            .iter()
            .filter_map(|(d, k)| Some((c.text(d)?.to_owned(), c.text(k)?.to_owned())));
        let secondary = list_items(c.text("secondary_phones"))
            .into_iter()
            .zip(list_items(c.text("secondary_phone_keys")));
        for (display, key) in own.chain(secondary).collect::<Vec<_>>() {
            if !seen.contains(&key) {
                seen.push(key.clone());
                displays.push(display);
                keys.push(key);
            }
        }
    }
    merged.set("secondary_phones", Value::json_list(&displays));
    merged.set("secondary_phone_keys", Value::json_list(&keys));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contacts::contact::Identity;
    use crate::kernel::fields::CustomFieldDef;
    use crate::kernel::values::{Channel, ContactId};
    use serde_json::json;

    fn contact(id: &str, updated: &str, cols: &[(&'static str, &str)]) -> Contact {
        let mut c = Contact::new(ContactId::parse(id).unwrap(), "admin");
        c.set("updated_at", updated);
        c.set("created_at", updated);
        for (col, v) in cols {
            c.set(col, *v);
        }
        c.derive_display_name();
        c
    }

    fn catalogue() -> Catalogue {
        let def: CustomFieldDef =
            serde_json::from_value(json!({"key": "tier", "label": "Tier", "type": "text"}))
                .unwrap();
        let plan: CustomFieldDef = serde_json::from_value(
            json!({"key": "plans", "label": "Plans", "type": "multi_select", "options": ["a", "b"]}),
        )
        .unwrap();
        Catalogue::with_custom(vec![def, plan])
    }

    const T1: &str = "2026-01-01T00:00:00.000Z";
    const T2: &str = "2026-02-01T00:00:00.000Z";
    const T3: &str = "2026-03-01T00:00:00.000Z";

    #[test]
    fn primary_values_win_and_empty_ones_come_from_the_most_recently_updated_secondary() {
        let p = contact("P", T1, &[("first_name", "Ana"), ("city", "")]);
        let old = contact(
            "S1",
            T2,
            &[
                ("first_name", "Anna"),
                ("last_name", "Old"),
                ("city", "Lyon"),
                ("job_title", "CTO"),
            ],
        );
        let new = contact("S2", T3, &[("last_name", "Lima"), ("city", "Porto")]);
        let plan = resolve(&p, &[old, new], &catalogue());
        let c = &plan.contact;
        assert_eq!(c.text("first_name"), Some("Ana"), "primary wins");
        assert_eq!(c.text("last_name"), Some("Lima"), "newest secondary");
        assert_eq!(c.text("city"), Some("Porto"), "blank counts as empty");
        assert_eq!(
            c.text("job_title"),
            Some("CTO"),
            "older secondary when newer has none"
        );
        assert_eq!(c.text("display_name"), Some("Ana Lima"));
        assert_eq!(c.contact_id(), "P");
        for key in ["last_name", "city", "job_title"] {
            assert!(plan.changed.contains(&key.to_owned()), "{key}");
        }
        assert!(!plan.changed.contains(&"first_name".to_owned()));
    }

    #[test]
    fn a_display_value_travels_with_its_match_key() {
        let p = contact(
            "P",
            T1,
            &[("phone", "(415) 555-0132"), ("phone_e164", "+14155550132")],
        );
        let s = contact(
            "S",
            T2,
            &[
                ("email", "Ana@X.com"),
                ("email_norm", "ana@x.com"),
                ("mobile", "+33 6 12 34 56 78"),
                ("mobile_e164", "+33612345678"),
            ],
        );
        let c = resolve(&p, &[s], &catalogue()).contact;
        assert_eq!(c.text("email"), Some("Ana@X.com"));
        assert_eq!(c.text("email_norm"), Some("ana@x.com"));
        assert_eq!(c.text("mobile_e164"), Some("+33612345678"));
        assert_eq!(c.text("phone_e164"), Some("+14155550132"));
        assert_eq!(
            c.text("secondary_emails"),
            None,
            "its own email is not a secondary one"
        );
        assert_eq!(c.text("secondary_phones"), None);
    }

    #[test]
    fn secondaries_emails_and_phones_become_secondary_values_once() {
        let mut p = contact(
            "P",
            T1,
            &[
                ("email", "ana@x.com"),
                ("email_norm", "ana@x.com"),
                ("phone", "415 555 0132"),
                ("phone_e164", "+14155550132"),
            ],
        );
        p.set("secondary_emails", json!(["old@x.com"]).to_string());
        let mut s1 = contact(
            "S1",
            T2,
            &[
                ("email", "Ana.W@Y.com"),
                ("email_norm", "ana.w@y.com"),
                ("phone", "(415) 555-0199"),
                ("phone_e164", "+14155550199"),
            ],
        );
        s1.set(
            "secondary_emails",
            json!(["ANA@x.com", "third@z.com"]).to_string(),
        );
        s1.set(
            "secondary_phones",
            json!(["415-555-0132", "+44 20 7946 0958"]).to_string(),
        );
        s1.set(
            "secondary_phone_keys",
            json!(["+14155550132", "+442079460958"]).to_string(),
        );
        let s2 = contact(
            "S2",
            T3,
            &[
                ("email", "ana.w@y.com"),
                ("email_norm", "ana.w@y.com"),
                ("mobile", "+1 415 555 0199"),
                ("mobile_e164", "+14155550199"),
            ],
        );
        let c = resolve(&p, &[s1, s2], &catalogue()).contact;
        assert_eq!(
            c.text("secondary_emails"),
            Some(
                json!(["old@x.com", "ana.w@y.com", "third@z.com"])
                    .to_string()
                    .as_str()
            ),
            "the primary's own email and repeats are left out; the newest secondary's display"
        );
        // S2 (newest) fills the empty mobile: that number is the contact's own now.
        assert_eq!(c.text("mobile_e164"), Some("+14155550199"));
        assert_eq!(
            c.text("secondary_phones"),
            Some(json!(["+44 20 7946 0958"]).to_string().as_str())
        );
        assert_eq!(
            c.text("secondary_phone_keys"),
            Some(json!(["+442079460958"]).to_string().as_str())
        );
    }

    #[test]
    fn dates_counts_tags_identities_and_custom_values() {
        let mut p = contact("P", T2, &[("last_activity_at", T1)]);
        p.set("conversation_count", 2);
        p.set("dropped_message_count", 1);
        p.set("created_by", "maria");
        p.tags = vec!["vip".into()];
        p.custom.insert("tier".into(), json!(""));
        p.custom.insert("plans".into(), json!([]));
        p.identities.push(Identity {
            channel: Channel::Telegram,
            external_id: "1".into(),
        });
        let mut s = contact("S", T1, &[("last_activity_at", T3)]);
        s.set("created_by", "system:whatsapp");
        s.set("conversation_count", 3);
        s.set("dropped_message_count", 4);
        s.tags = vec!["VIP".into(), "beta".into()];
        s.custom.insert("tier".into(), json!("Gold"));
        s.custom.insert("plans".into(), json!(["a"]));
        s.custom.insert("gone".into(), json!("x"));
        s.identities.push(Identity {
            channel: Channel::Whatsapp,
            external_id: "1415".into(),
        });
        let c = resolve(&p, &[s], &catalogue()).contact;
        assert_eq!(c.text("created_at"), Some(T1), "the oldest");
        assert_eq!(
            c.text("created_by"),
            Some("system:whatsapp"),
            "follows created_at"
        );
        assert_eq!(c.text("last_activity_at"), Some(T3), "the newest");
        assert_eq!(c.int("conversation_count"), 5);
        assert_eq!(c.int("dropped_message_count"), 5);
        assert_eq!(c.tags, vec!["vip", "beta"]);
        assert_eq!(c.identities.len(), 2);
        assert_eq!(c.custom.get("tier"), Some(&json!("Gold")));
        assert_eq!(c.custom.get("plans"), Some(&json!(["a"])));
        assert_eq!(c.custom.get("gone"), None, "deleted fields are dropped");
    }

    #[test]
    fn block_state_and_identity_of_the_primary_are_kept() {
        let p = contact("P", T1, &[("lead_stage", "lead")]);
        let mut s = contact("S", T2, &[("lead_stage", "customer"), ("blocked_at", T2)]);
        s.set("blocked", 1);
        let c = resolve(&p, &[s], &catalogue()).contact;
        assert_eq!(c.int("blocked"), 0);
        assert_eq!(c.text("blocked_at"), None);
        assert_eq!(c.text("lead_stage"), Some("lead"));
        assert_eq!(c.version(), 1, "storage bumps the version, not the plan");
    }
}
