//! A contact's phone keys read again from its numbers as written, by today's rules: the
//! repair of keys stored while a number written with another country's code was read by
//! the default region's rules (before 2026-12-05, "+49 151 23456789" under `US` was keyed
//! +495123456789, another number). Pure: the caller loads and saves.
//!
//! Only numbers written with a country code are read again: their reading depends on no
//! default region. A national number ("030 1234567") was read with the default region of
//! its day (the account's, or an import's `default_region`), which nothing records, so
//! reading it again with today's could change a right key into a wrong one.

use crate::contacts::contact::Contact;
use crate::kernel::store::{list_items, Value};
use crate::kernel::values::{Phone, Region};

/// Reads `contact`'s numbers written with a country code again and sets the keys that
/// differ; the fields whose keys changed. A number that no longer reads as valid keeps its
/// key: a repair never drops a number.
pub fn reread(contact: &mut Contact) -> Vec<&'static str> {
    let mut changed = Vec::new();
    for (field, key) in [("phone", "phone_e164"), ("mobile", "mobile_e164")] {
        let Some(now) = contact.text(field).and_then(key_now) else {
            continue;
        };
        if contact.text(key) != Some(now.as_str()) {
            contact.set(key, now);
            changed.push(field);
        }
    }
    if reread_secondary(contact) {
        changed.push("secondary_phones");
    }
    changed
}

/// The secondary phones' keys (one per number, in order; numbers that now share a key
/// keep the first, as an edit would have). False when nothing changed, or when the stored
/// lists do not pair up, which no write of this version leaves.
fn reread_secondary(contact: &mut Contact) -> bool {
    let numbers = list_items(contact.text("secondary_phones"));
    let keys = list_items(contact.text("secondary_phone_keys"));
    if numbers.len() != keys.len() {
        return false;
    }
    let mut kept_numbers: Vec<&str> = Vec::with_capacity(numbers.len());
    let mut kept_keys: Vec<String> = Vec::with_capacity(keys.len());
    for (number, key) in numbers.iter().zip(&keys) {
        let key = key_now(number).unwrap_or_else(|| key.clone());
        if !kept_keys.contains(&key) {
            kept_numbers.push(number);
            kept_keys.push(key);
        }
    }
    if kept_keys == keys {
        return false;
    }
    contact.set("secondary_phones", Value::json_list(&kept_numbers));
    contact.set("secondary_phone_keys", Value::json_list(&kept_keys));
    true
}

/// The E.164 key of a number written with a country code, read by today's rules; `None`
/// for a national number or one that does not read as valid.
fn key_now(number: &str) -> Option<String> {
    if !Phone::has_country_code(number) {
        return None;
    }
    // The region only decides how national numbers read.
    Phone::parse(number, Region::default())
        .ok()
        .map(|p| p.e164().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::values::ContactId;

    fn contact(cols: &[(&'static str, &str)]) -> Contact {
        let mut c = Contact::new(ContactId::parse("c_test").unwrap(), "admin");
        for (col, v) in cols {
            c.set(col, *v);
        }
        c
    }

    #[test]
    fn a_number_keyed_by_the_default_regions_rules_gets_its_own_countrys_key() {
        let mut c = contact(&[
            ("phone", "+49 151 23456789"),
            ("phone_e164", "+495123456789"),
        ]);
        assert_eq!(reread(&mut c), ["phone"]);
        assert_eq!(c.text("phone_e164"), Some("+4915123456789"));
        assert_eq!(
            c.text("phone"),
            Some("+49 151 23456789"),
            "the number as written stays"
        );
    }

    #[test]
    fn right_keys_national_numbers_and_invalid_numbers_are_left_alone() {
        let mut c = contact(&[
            ("phone", "+49 151 23456789"),
            ("phone_e164", "+4915123456789"),
            // Read with an import's default region DE: today's account default would differ.
            ("mobile", "0151 23456789"),
            ("mobile_e164", "+4915123456789"),
        ]);
        let before = c.clone();
        assert!(reread(&mut c).is_empty());
        assert_eq!(c, before);

        let mut c = contact(&[("phone", "+49 12"), ("phone_e164", "+4912")]);
        assert!(reread(&mut c).is_empty(), "no longer valid: the key stays");
        assert_eq!(c.text("phone_e164"), Some("+4912"));
    }

    #[test]
    fn secondary_phones_are_read_again_in_order_and_a_key_now_shared_keeps_the_first() {
        let mut c = contact(&[
            (
                "secondary_phones",
                r#"["+49 151 23456789","(202) 555-0143","+4915123456789"]"#,
            ),
            (
                "secondary_phone_keys",
                r#"["+495123456789","+12025550143","+4915123456789"]"#,
            ),
        ]);
        assert_eq!(reread(&mut c), ["secondary_phones"]);
        assert_eq!(
            list_items(c.text("secondary_phones")),
            ["+49 151 23456789", "(202) 555-0143"]
        );
        assert_eq!(
            list_items(c.text("secondary_phone_keys")),
            ["+4915123456789", "+12025550143"]
        );
        assert!(
            reread(&mut c).is_empty(),
            "a second reading changes nothing"
        );
    }

    #[test]
    fn secondary_lists_that_do_not_pair_up_are_left_alone() {
        let mut c = contact(&[
            ("secondary_phones", r#"["+49 151 23456789"]"#),
            ("secondary_phone_keys", "[]"),
        ]);
        assert!(reread(&mut c).is_empty());
    }
}
