//! Validated newtypes: a value of one of these types has been parsed and is known good.
//! Parse, don't validate — each `parse` is the only way in.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use crate::kernel::error::{Error, Result};
use crate::kernel::phone_plan;

/// The user-visible, immutable identifier of a contact.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ContactId(String);

impl ContactId {
    pub const MAX_LEN: usize = 64;

    /// Letters, digits, `-`, `_`, `.`; 1 to 64 characters, so it is safe in a URL path.
    pub fn parse(s: &str) -> Result<Self> {
        let s = s.trim();
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if s.is_empty() || s.len() > Self::MAX_LEN || !s.chars().all(ok_char) {
            return Err(Error::invalid(
                "contact_id",
                "must be 1 to 64 letters, digits, '-', '_' or '.'",
            ));
        }
        Ok(ContactId(s.to_owned()))
    }

    /// A fresh random id, e.g. `C7K2M9QX4TZ8`: 12 Crockford base-32 characters (60 bits).
    /// Uniqueness is enforced by the database; a collision is retried by the caller.
    pub fn generate() -> Self {
        const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        let mut bytes = [0u8; 12];
        fill_random(&mut bytes);
        let mut s = String::with_capacity(13);
        s.push('C');
        s.extend(bytes.iter().map(|b| ALPHABET[(b & 31) as usize] as char));
        ContactId(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ContactId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Random bytes from the platform (WASI random under Spin).
pub fn fill_random(buf: &mut [u8]) {
    // The platform RNG failing is not something a request can recover from.
    getrandom::fill(buf).expect("platform random source unavailable");
}

/// An email address: the text as entered (trimmed) for display, lower-cased for matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    display: String,
    normalized: String,
}

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(s: &str) -> std::result::Result<Self, &'static str> {
        let display = s.trim();
        if display.is_empty() {
            return Err("must not be empty");
        }
        if display.len() > Self::MAX_LEN {
            return Err("is longer than 254 characters");
        }
        let (local, domain) = display
            .rsplit_once('@')
            .ok_or("is not an email address (no '@')")?;
        if local.is_empty() || local.len() > 64 {
            return Err("has an empty or over-long part before '@'");
        }
        if local.contains('@') || display.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("is not an email address");
        }
        if !is_domain(domain) {
            return Err("has an invalid domain");
        }
        Ok(Email {
            display: display.to_owned(),
            normalized: display.to_lowercase(),
        })
    }

    pub fn display(&self) -> &str {
        &self.display
    }

    pub fn normalized(&self) -> &str {
        &self.normalized
    }
}

fn is_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// The region used to read phone numbers written without a country code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region(phonenumber::country::Id);

impl Region {
    pub fn parse(code: &str) -> std::result::Result<Self, String> {
        phonenumber::country::Id::from_str(&code.trim().to_ascii_uppercase())
            .map(Region)
            .map_err(|_| format!("'{code}' is not an ISO 3166 region code"))
    }

    /// The region's country calling code, e.g. 1 for `US`.
    fn calling_code(self) -> u16 {
        phonenumber::metadata::DATABASE
            .by_id(self.0.as_ref())
            .map_or(0, |meta| meta.country_code())
    }
}

impl Default for Region {
    fn default() -> Self {
        Region(phonenumber::country::Id::US)
    }
}

/// Regions whose phone patterns are compiled ahead of time: where most chat traffic and
/// most of our customers' contacts come from. Others still parse, paying a few ms once per
/// request.
const WARM_REGIONS: &[&str] = &[
    "US", "BR", "MX", "AR", "CO", "GB", "FR", "DE", "ES", "PT", "IT", "TR", "IN", "ID", "PH", "JP",
    "NG", "ZA",
];

/// Compiled phone patterns kept: the warm regions' with room to spare.
const PATTERN_CACHE: usize = 2_000;

/// The regex sources of one region's metadata that the phone library still matches itself,
/// as it keys its cache: parsing (the general pattern, the international and national
/// prefixes) and formatting. The kinds of number and the leading digits of regions sharing a
/// calling code are [`phone_plan`]'s.
fn pattern_sources(region: &phonenumber::Metadata) -> Vec<&str> {
    let formats = region
        .formats()
        .iter()
        .chain(region.international_formats());
    std::iter::once(region.descriptors().general().national_number().as_str())
        .chain(region.international_prefix().map(|r| r.as_str()))
        .chain(region.national_prefix_for_parsing().map(|r| r.as_str()))
        .chain(formats.flat_map(|f| {
            std::iter::once(f.pattern().as_str())
                .chain(f.leading_digits().iter().map(|r| r.as_str()))
        }))
        .collect()
}

/// A metadata pattern built as the phone library builds it (whitespace ignored), but with
/// Unicode off, so `\d` is `[0-9]`. The library turns every digit into ASCII before it
/// matches a pattern, so the answers are the same, and a compiled pattern is a fraction of
/// the size: a Unicode `\d` is a few hundred automaton states, and a pattern such as
/// `[2-9]\d{2}[2-9]\d{6}` repeats it. `None` where a pattern needs Unicode to compile.
fn ascii_pattern(source: &str) -> Option<regex::Regex> {
    regex::RegexBuilder::new(source)
        .ignore_whitespace(true)
        .unicode(false)
        .build()
        .ok()
}

/// Parses one region's example numbers; returns how many were valid.
fn warm_region(region: &phonenumber::Metadata) -> usize {
    let Ok(id) = phonenumber::country::Id::from_str(region.id()) else {
        return 0;
    };
    let kinds = region.descriptors();
    [kinds.fixed_line(), kinds.mobile()]
        .into_iter()
        .flatten()
        .filter_map(|d| d.example())
        .map(|example| {
            let international = format!("+{}{}", region.country_code(), example);
            [
                Phone::parse(example, Region(id)),
                Phone::parse(&international, Region::default()),
            ]
            .iter()
            .filter(|p| p.is_ok())
            .count()
        })
        .sum()
}

/// Reads a phone number by the rules of its own country: the default region's for a number
/// written without a country code, the country code's main region's for one written with
/// it, as libphonenumber does. The phone library alone applies the *default* region's
/// national prefix to every number: with `US`, "+49 151 23456789" would lose the "1" after
/// its country code and become +495123456789, another number.
fn read_phone(text: &str, region: Region) -> Option<phonenumber::PhoneNumber> {
    let rules = written_calling_code(text)
        .filter(|code| *code != region.calling_code())
        .map_or(Some(region.0), main_region);
    let number = phonenumber::parse(rules, text).ok()?;
    let code = number.code();
    let read_by_own_rules = rules.is_none_or(|id| Region(id).calling_code() == code.value());
    if read_by_own_rules {
        return Some(number);
    }
    // A country code the scan above did not see: after an international call prefix
    // ("011 49 …" from the US, "00 49 …" from most of the world), or after "+00".
    let own = main_region(code.value());
    let again = match code.source() {
        phonenumber::country::Source::Idd => after_international_prefix(text, region)
            .and_then(|international| phonenumber::parse(own, international).ok()),
        _ => phonenumber::parse(own, text).ok(),
    };
    // Unreadable again only with digits the scan cannot follow (full-width ones): the
    // library's reading stands.
    Some(again.unwrap_or(number))
}

/// The country code of a number written `+<code> …`, if it is one.
fn written_calling_code(text: &str) -> Option<u16> {
    let rest = text.trim_start().strip_prefix(['+', '\u{FF0B}'])?;
    let digits: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .filter(char::is_ascii_digit)
        .take(3)
        .collect();
    // Calling codes are a prefix code: the first prefix that is one is the one.
    (1..=digits.len())
        .filter_map(|n| digits[..n].parse::<u16>().ok())
        .find(|code| MAIN_REGIONS.contains_key(code))
}

/// Every calling code of the phone library's metadata, with the region whose rules read its
/// numbers: its main one, or `None` (the library's own choice) for the non-geographic codes
/// such as +800. Built once (at pre-initialization, [`Phone::warm_up`]): the library's
/// `by_code` builds a vector on each call, and a phone's reading asks up to four times.
static MAIN_REGIONS: LazyLock<HashMap<u16, Option<phonenumber::country::Id>>> =
    LazyLock::new(|| {
        let db = &*phonenumber::metadata::DATABASE;
        db.iter()
            .map(|meta| meta.country_code())
            .collect::<BTreeSet<u16>>()
            .into_iter()
            .map(|code| {
                let regions = db.by_code(&code).unwrap_or_default();
                let main = regions
                    .iter()
                    .find(|m| m.is_main_country_for_code())
                    .or(regions.first());
                let id = main.and_then(|m| phonenumber::country::Id::from_str(m.id()).ok());
                (code, id)
            })
            .collect()
    });

/// The region whose rules a number of calling code `code` is read by ([`MAIN_REGIONS`]).
fn main_region(code: u16) -> Option<phonenumber::country::Id> {
    MAIN_REGIONS.get(&code).copied().flatten()
}

/// `text` written internationally: "+" and what follows the default region's international
/// call prefix, as written (an extension included).
fn after_international_prefix(text: &str, region: Region) -> Option<String> {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    let meta = phonenumber::metadata::DATABASE.by_id(region.0.as_ref())?;
    let idd = meta.international_prefix()?.find(&digits)?;
    if idd.start() != 0 || idd.end() == 0 {
        return None;
    }
    let (last, _) = text
        .char_indices()
        .filter(|(_, c)| c.is_ascii_digit())
        .nth(idd.end() - 1)?;
    Some(format!("+{}", &text[last + 1..]))
}

/// A phone number: kept as entered for display, E.164 for matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone {
    display: String,
    e164: String,
}

impl Phone {
    pub fn parse(s: &str, region: Region) -> std::result::Result<Self, &'static str> {
        let display = s.trim();
        if display.is_empty() {
            return Err("must not be empty");
        }
        if display.len() > 64 {
            return Err("is longer than 64 characters");
        }
        let number = read_phone(display, region).ok_or("is not a phone number")?;
        if !phone_plan::is_valid(&number) {
            return Err("is not a valid phone number");
        }
        let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
        Ok(Phone {
            display: display.to_owned(),
            e164,
        })
    }

    /// Whether `text` is written with a known country code ("+49 151 …"): its reading
    /// then depends on no default region.
    pub fn has_country_code(text: &str) -> bool {
        written_calling_code(text).is_some()
    }

    /// Builds the phone library's lazily loaded metadata and compiles the patterns of the
    /// countries most contacts write from ([`WARM_REGIONS`], with every region sharing their
    /// calling codes) into its cache, ASCII-only ([`ascii_pattern`]), and the patterns that
    /// decide validity into [`phone_plan`]'s; then parses each
    /// region's example fixed-line and mobile numbers in national and international form, so
    /// whatever else a parse needs is built too. Components call it at build time
    /// (pre-initialization), so neither the first parse (~60 ms) nor the first number of
    /// each of these countries (2–5 ms) is paid again by every request. Returns how many
    /// examples were valid numbers.
    pub fn warm_up() -> usize {
        let db = &*phonenumber::metadata::DATABASE;
        let codes: BTreeSet<u16> = WARM_REGIONS
            .iter()
            .filter_map(|id| db.by_id(*id).map(|m| m.country_code()))
            .collect();
        let regions: Vec<&phonenumber::Metadata> = codes
            .iter()
            .flat_map(|code| db.by_code(code).unwrap_or_default())
            .collect();
        // The library keeps compiled patterns in an LRU of 100, about ten countries' worth;
        // a larger one takes its place before the patterns go in.
        if let Ok(mut cache) = db.cache().lock() {
            *cache = regex_cache::RegexCache::new(PATTERN_CACHE);
            for source in regions.iter().flat_map(|r| pattern_sources(r)) {
                if let Some(pattern) = ascii_pattern(source) {
                    cache.insert(source.to_owned(), pattern);
                }
            }
        }
        phone_plan::warm(&regions);
        LazyLock::force(&MAIN_REGIONS);
        regions.into_iter().map(warm_region).sum()
    }

    pub fn display(&self) -> &str {
        &self.display
    }

    pub fn e164(&self) -> &str {
        &self.e164
    }
}

/// Where a contact talks to us from (SPEC §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    WebChat,
    Whatsapp,
    Messenger,
    Instagram,
    Telegram,
    Line,
    Wechat,
    Viber,
    Email,
    Sms,
    Voice,
}

impl Channel {
    pub const ALL: [Channel; 11] = [
        Channel::WebChat,
        Channel::Whatsapp,
        Channel::Messenger,
        Channel::Instagram,
        Channel::Telegram,
        Channel::Line,
        Channel::Wechat,
        Channel::Viber,
        Channel::Email,
        Channel::Sms,
        Channel::Voice,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::WebChat => "web_chat",
            Channel::Whatsapp => "whatsapp",
            Channel::Messenger => "messenger",
            Channel::Instagram => "instagram",
            Channel::Telegram => "telegram",
            Channel::Line => "line",
            Channel::Wechat => "wechat",
            Channel::Viber => "viber",
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Voice => "voice",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeadStage {
    Lead,
    Contact,
    Customer,
}

impl LeadStage {
    pub const ALL: [LeadStage; 3] = [LeadStage::Lead, LeadStage::Contact, LeadStage::Customer];

    pub fn as_str(self) -> &'static str {
        match self {
            LeadStage::Lead => "lead",
            LeadStage::Contact => "contact",
            LeadStage::Customer => "customer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        LeadStage::ALL.into_iter().find(|l| l.as_str() == s)
    }
}

/// An agent's login name: what `owner` holds and what tokens are issued to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login(String);

impl Login {
    pub fn parse(s: &str) -> std::result::Result<Self, &'static str> {
        let s = s.trim();
        let ok = |c: char| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@' | '+');
        if s.is_empty() || s.chars().count() > 100 || !s.chars().all(ok) {
            return Err("must be 1 to 100 letters, digits or . _ - @ +");
        }
        Ok(Login(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A tag: trimmed, 1 to 64 characters, no control characters. Compared case-insensitively.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag(String);

impl Tag {
    pub fn parse(s: &str) -> std::result::Result<Self, &'static str> {
        let s = s.trim();
        if s.is_empty() || s.chars().count() > 64 || s.chars().any(char::is_control) {
            return Err("tags must be 1 to 64 characters without control characters");
        }
        Ok(Tag(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Timestamps are stored as fixed-width RFC 3339 UTC text with milliseconds, so text order
/// is time order and SQLite compares them without conversion.
pub mod time {
    use chrono::{DateTime, SecondsFormat, Utc};

    pub fn now() -> String {
        format(Utc::now())
    }

    pub fn format(t: DateTime<Utc>) -> String {
        t.to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// Any RFC 3339 time, normalized to the stored form.
    pub fn parse_rfc3339(s: &str) -> Option<String> {
        DateTime::parse_from_rfc3339(s.trim())
            .ok()
            .map(|t| format(t.with_timezone(&Utc)))
    }

    /// A calendar date `YYYY-MM-DD`.
    pub fn parse_date(s: &str) -> Option<String> {
        let s = s.trim();
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .filter(|_| s.len() == 10)
            .map(|d| d.format("%Y-%m-%d").to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_id_accepts_url_safe_text_only() {
        assert!(ContactId::parse("ACME-42_x.y").is_ok());
        assert!(ContactId::parse("").is_err());
        assert!(ContactId::parse("a/b").is_err());
        assert!(ContactId::parse("has space").is_err());
        assert!(ContactId::parse(&"x".repeat(65)).is_err());
    }

    #[test]
    fn generated_ids_are_distinct_and_valid() {
        let a = ContactId::generate();
        let b = ContactId::generate();
        assert_ne!(a, b);
        assert_eq!(ContactId::parse(a.as_str()).unwrap(), a);
        assert_eq!(a.as_str().len(), 13);
    }

    #[test]
    fn email_is_trimmed_for_display_and_lowercased_for_matching() {
        let e = Email::parse("  Ana.Lima@Example.COM ").unwrap();
        assert_eq!(e.display(), "Ana.Lima@Example.COM");
        assert_eq!(e.normalized(), "ana.lima@example.com");
    }

    #[test]
    fn invalid_emails_are_refused() {
        for bad in [
            "",
            "ana",
            "ana@",
            "@x.com",
            "ana@localhost",
            "a b@x.com",
            "ana@-x.com",
            "a@b@c.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn national_phone_becomes_e164_with_the_default_region() {
        let p = Phone::parse("(415) 555-0132", Region::parse("US").unwrap()).unwrap();
        assert_eq!(p.e164(), "+14155550132");
        assert_eq!(p.display(), "(415) 555-0132");
        let fr = Phone::parse("06 12 34 56 78", Region::parse("fr").unwrap()).unwrap();
        assert_eq!(fr.e164(), "+33612345678");
    }

    #[test]
    fn international_phone_ignores_the_default_region() {
        let p = Phone::parse("+44 20 7946 0958", Region::parse("US").unwrap()).unwrap();
        assert_eq!(p.e164(), "+442079460958");
    }

    #[test]
    fn a_country_code_brings_its_own_countrys_rules() {
        let cases = [
            ("US", "+44 161 496 0000", "+441614960000"),
            ("US", "+49 151 23456789", "+4915123456789"),
            ("US", "+55 11 91234 5678", "+5511912345678"),
            ("US", "+33 1 23 45 67 89", "+33123456789"),
            ("US", "011 44 161 496 0000", "+441614960000"),
            ("BR", "+39 06 1234 5678", "+390612345678"),
            ("DE", "00 39 06 1234 5678", "+390612345678"),
            ("GB", "00 1 650 253 0000", "+16502530000"),
            ("CA", "+1 650 253 0000", "+16502530000"),
            ("US", "011 44 161 496 0000 ext. 12", "+441614960000"),
            ("GB", "+00 64 3 331 6005", "+6433316005"),
        ];
        for (region, text, e164) in cases {
            let p = Phone::parse(text, Region::parse(region).unwrap());
            assert_eq!(
                p.map(|p| p.e164().to_owned()),
                Ok(e164.to_owned()),
                "{text} in {region}"
            );
        }
    }

    /// Every region's example numbers, written with their country code (after `+`, and after
    /// the default region's international call prefix), read as they read in their own
    /// region, whatever the default region.
    #[test]
    fn international_numbers_read_the_same_under_every_default_region() {
        let db = &*phonenumber::metadata::DATABASE;
        let defaults = [
            "US", "BR", "GB", "DE", "FR", "IT", "MX", "AR", "RU", "IN", "AU",
        ];
        let defaults: Vec<Region> = defaults.iter().map(|r| Region::parse(r).unwrap()).collect();
        // The prefix dialled for an international call, where it is one fixed string (in
        // Brazil it names a carrier; in Russia it is "8, tone, 10").
        let idd = |region: &Region| match region.0.as_ref() {
            "US" => Some("011"),
            "GB" | "DE" | "FR" | "IT" | "MX" | "AR" | "IN" => Some("00"),
            _ => None,
        };
        let mut checked = 0;
        for meta in db.iter() {
            let Ok(id) = phonenumber::country::Id::from_str(meta.id()) else {
                continue;
            };
            let d = meta.descriptors();
            for example in [d.fixed_line(), d.mobile()]
                .into_iter()
                .flatten()
                .filter_map(|d| d.example())
            {
                let Ok(own) = Phone::parse(example, Region(id)) else {
                    continue;
                };
                let code = meta.country_code();
                for default in &defaults {
                    let mut written = vec![format!("+{code} {example}")];
                    written.extend(idd(default).map(|idd| format!("{idd} {code} {example}")));
                    for text in written {
                        let read = Phone::parse(&text, *default).map(|p| p.e164().to_owned());
                        assert_eq!(read, Ok(own.e164().to_owned()), "{text} with {default:?}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 4_000, "{checked}");
    }

    #[test]
    fn invalid_phones_are_refused() {
        let us = Region::default();
        assert!(Phone::parse("hello", us).is_err());
        assert!(Phone::parse("123", us).is_err());
        assert!(Phone::parse("+1 000 000 0000", us).is_err());
    }

    /// What the phone library makes of each number: valid or not, E.164, and the national
    /// and international formats (which use the regions' format patterns).
    fn library_answers(corpus: &[(String, Region)]) -> Vec<Option<[String; 4]>> {
        corpus
            .iter()
            .map(|(s, region)| {
                let n = phonenumber::parse(Some(region.0), s).ok()?;
                let f = |mode| n.format().mode(mode).to_string();
                Some([
                    phonenumber::is_valid(&n).to_string(),
                    f(phonenumber::Mode::E164),
                    f(phonenumber::Mode::National),
                    f(phonenumber::Mode::International),
                ])
            })
            .collect()
    }

    /// Every region's example numbers of every kind: national, international, punctuated,
    /// and in full-width digits.
    fn example_numbers() -> Vec<(String, Region)> {
        let db = &*phonenumber::metadata::DATABASE;
        let mut corpus = Vec::new();
        for code in 1..1000u16 {
            for region in db.by_code(&code).unwrap_or_default() {
                let Ok(id) = phonenumber::country::Id::from_str(region.id()) else {
                    continue;
                };
                let d = region.descriptors();
                let kinds = [
                    d.fixed_line(),
                    d.mobile(),
                    d.toll_free(),
                    d.premium_rate(),
                    d.voip(),
                ];
                for example in kinds.into_iter().flatten().filter_map(|k| k.example()) {
                    let punctuated: String = example
                        .chars()
                        .enumerate()
                        .flat_map(|(i, c)| {
                            (i > 0 && i % 3 == 0).then_some('-').into_iter().chain([c])
                        })
                        .collect();
                    let wide: String = example
                        .chars()
                        .map(|c| {
                            c.to_digit(10)
                                .map_or(c, |v| char::from_u32(0xFF10 + v).unwrap_or(c))
                        })
                        .collect();
                    corpus.push((example.to_owned(), Region(id)));
                    corpus.push((punctuated, Region(id)));
                    corpus.push((wide, Region(id)));
                    corpus.push((format!("+{code} {example}"), Region::default()));
                    corpus.push((format!("00{code}{example}"), Region(id)));
                }
            }
        }
        corpus
    }

    #[test]
    fn ascii_patterns_answer_as_the_library_own() {
        let corpus = example_numbers();
        assert!(corpus.len() > 2_000, "{}", corpus.len());
        let cache = phonenumber::metadata::DATABASE.cache();
        *cache.lock().unwrap() = regex_cache::RegexCache::new(10_000);
        let own = library_answers(&corpus);
        let mut ascii = regex_cache::RegexCache::new(10_000);
        for code in 1..1000u16 {
            for region in phonenumber::metadata::DATABASE
                .by_code(&code)
                .unwrap_or_default()
            {
                for source in pattern_sources(region) {
                    if let Some(pattern) = ascii_pattern(source) {
                        ascii.insert(source.to_owned(), pattern);
                    }
                }
            }
        }
        *cache.lock().unwrap() = ascii;
        assert_eq!(library_answers(&corpus), own);
    }

    #[test]
    fn warm_up_parses_the_examples_of_every_region() {
        // Four valid parses per warm region at the least (some share calling codes).
        assert!(Phone::warm_up() >= 4 * WARM_REGIONS.len());
    }

    #[test]
    fn region_must_be_known() {
        assert!(Region::parse("BR").is_ok());
        assert!(Region::parse("XX").is_err());
    }

    #[test]
    fn channels_and_stages_round_trip() {
        for c in Channel::ALL {
            assert_eq!(Channel::parse(c.as_str()), Some(c));
        }
        assert_eq!(Channel::parse("fax"), None);
        assert_eq!(LeadStage::parse("customer"), Some(LeadStage::Customer));
        assert_eq!(LeadStage::parse("Customer"), None);
    }

    #[test]
    fn timestamps_normalize_to_utc_millis() {
        assert_eq!(
            time::parse_rfc3339("2026-03-29T01:30:00+01:00").unwrap(),
            "2026-03-29T00:30:00.000Z"
        );
        assert!(time::parse_rfc3339("yesterday").is_none());
        assert_eq!(time::parse_date("2026-02-28").unwrap(), "2026-02-28");
        assert!(time::parse_date("2026-02-30").is_none());
        assert!(time::parse_date("2026-2-3").is_none());
    }
}
