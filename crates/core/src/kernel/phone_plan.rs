//! Whether a parsed phone number is one a country's numbering plan allows: the phone
//! library's `is_valid`, answered with patterns this module compiles and finds by address.
//!
//! Why not the library's own check: each use of one of its patterns locks its regex cache
//! and hashes and compares the pattern's source twice (a country's fixed-line pattern is up
//! to ~1 KB), and `is_valid` tries up to eleven patterns, twice over for the 25 regions
//! sharing +1. In the import's profile that was 70% of a phone parse and 5% of the host's
//! time (docs/benchmarks.md, Import). The library's metadata is a static that never moves,
//! so a pattern's source address names it: a look-up here hashes one word.
//!
//! The rules are the library's (`validator::is_valid_with`, `source_for`, `number_type`),
//! and a test checks the answers agree across every region's example numbers.

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use phonenumber::metadata::{Descriptor, Metadata, DATABASE};
use phonenumber::PhoneNumber;
use regex::Regex;

/// Compiled patterns by the address of their source in the library's metadata; `None` for
/// a pattern that needs Unicode, which the library's own matcher answers instead.
static PATTERNS: LazyLock<Mutex<HashMap<usize, Option<Regex>>>> = LazyLock::new(Default::default);

/// Whether `number` is valid for the region its country code and national number point to.
pub fn is_valid(number: &PhoneNumber) -> bool {
    let national = number.national().to_string();
    metadata_for(number.code().value(), &national)
        .is_some_and(|meta| is_known_type(meta, &national))
}

/// Compiles the patterns [`is_valid`] uses for these regions, ahead of the first parse.
pub fn warm(regions: &[&Metadata]) {
    for meta in regions {
        for descriptor in std::iter::once(meta.descriptors().general()).chain(types(meta)) {
            starts_with_match(descriptor.national_number(), "");
        }
        if let Some(leading) = meta.leading_digits() {
            starts_with_match(leading, "");
        }
    }
}

/// The region whose rules apply: the only one of its calling code, else the first whose
/// leading digits (or, lacking them, whose numbers) the national number starts with.
fn metadata_for(code: u16, national: &str) -> Option<&'static Metadata> {
    let db = &*DATABASE;
    let regions = db.region(&code)?;
    if let [only] = regions.as_slice() {
        if *only == "001" {
            return db.by_code(&code)?.into_iter().next();
        }
        let id: phonenumber::country::Id = only.parse().ok()?;
        return db.by_id(id.as_ref());
    }
    regions
        .iter()
        .filter_map(|id| db.by_id(*id))
        .find(|meta| match meta.leading_digits() {
            Some(leading) => starts_with_match(leading, national),
            None => is_known_type(meta, national),
        })
}

/// The library's `number_type(…) != Unknown`: the general pattern matches, and so does the
/// pattern of one kind of number.
fn is_known_type(meta: &Metadata, national: &str) -> bool {
    matches(meta.descriptors().general(), national)
        && types(meta).any(|descriptor| matches(descriptor, national))
}

/// The kinds of number `number_type` tries.
fn types(meta: &Metadata) -> impl Iterator<Item = &Descriptor> {
    let d = meta.descriptors();
    [
        d.premium_rate(),
        d.toll_free(),
        d.shared_cost(),
        d.voip(),
        d.personal_number(),
        d.pager(),
        d.uan(),
        d.voicemail(),
        d.fixed_line(),
        d.mobile(),
    ]
    .into_iter()
    .flatten()
}

/// The library's `Descriptor::is_match`: a possible length, and the pattern matching from
/// the number's first digit.
fn matches(descriptor: &Descriptor, national: &str) -> bool {
    let lengths = descriptor.possible_length();
    (lengths.is_empty() || lengths.contains(&(national.len() as u16)))
        && starts_with_match(descriptor.national_number(), national)
}

/// Whether a match of `pattern` starts at the beginning of `text`, as the library asks it
/// (`find(text)` starting at 0: leftmost-first, so the same as a match anchored there).
fn starts_with_match(pattern: &regex_cache::CachedRegex, text: &str) -> bool {
    let source = pattern.as_str();
    let Ok(mut compiled) = PATTERNS.lock() else {
        return library_starts_with_match(pattern, text);
    };
    let anchored = compiled
        .entry(source.as_ptr() as usize)
        .or_insert_with(|| anchored_ascii(source));
    match anchored {
        Some(regex) => regex.is_match(text),
        None => library_starts_with_match(pattern, text),
    }
}

fn library_starts_with_match(pattern: &regex_cache::CachedRegex, text: &str) -> bool {
    pattern.find(text).is_some_and(|m| m.start() == 0)
}

/// The pattern anchored at the start, built as the library builds it (whitespace ignored)
/// but ASCII-only, as `values::ascii_pattern` explains: the library hands it ASCII digits.
fn anchored_ascii(source: &str) -> Option<Regex> {
    regex::RegexBuilder::new(&format!("^(?:{source})"))
        .ignore_whitespace(true)
        .unicode(false)
        .build()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use phonenumber::country::Id;
    use std::str::FromStr;

    /// National and international forms of each example number, and near misses: a digit
    /// fewer, a digit more, the first digit changed.
    fn candidates(meta: &Metadata) -> Vec<(Option<Id>, String)> {
        let id = Id::from_str(meta.id()).ok();
        let d = meta.descriptors();
        let examples = std::iter::once(d.general())
            .chain(types(meta))
            .filter_map(|d| d.example())
            .collect::<Vec<_>>();
        let mut out = Vec::new();
        for example in examples {
            let mut variants = vec![example.to_owned(), format!("{example}7")];
            if example.len() > 1 {
                variants.push(example[..example.len() - 1].to_owned());
                let first = if example.starts_with('9') { '1' } else { '9' };
                variants.push(format!("{first}{}", &example[1..]));
            }
            for v in variants {
                out.push((id, v.clone()));
                out.push((None, format!("+{}{v}", meta.country_code())));
            }
        }
        out
    }

    #[test]
    fn agrees_with_the_phone_library_on_every_regions_examples() {
        let mut checked = 0;
        let mut valid = 0;
        for meta in DATABASE.iter() {
            for (region, text) in candidates(meta) {
                let Ok(number) = phonenumber::parse(region, &text) else {
                    continue;
                };
                let expected = phonenumber::is_valid(&number);
                assert_eq!(is_valid(&number), expected, "{text} in {}", meta.id());
                checked += 1;
                valid += usize::from(expected);
            }
        }
        // Both answers occur often: the comparison is not all one way.
        assert!(
            checked > 5_000 && valid > 1_000 && checked - valid > 1_000,
            "{checked} / {valid}"
        );
    }

    #[test]
    fn shared_calling_codes_pick_the_region_by_leading_digits() {
        // +1 876 is Jamaica, +1 212 New York; +44 1624 the Isle of Man, +44 20 London.
        for text in [
            "+18762345678",
            "+12125551234",
            "+441624756789",
            "+442071234567",
        ] {
            let number = phonenumber::parse(None, text).expect(text);
            assert!(is_valid(&number), "{text}");
        }
        let unassigned = phonenumber::parse(None, "+11235551234").expect("parses");
        assert!(!is_valid(&unassigned));
    }
}
