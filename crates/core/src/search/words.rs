//! A search query as words, and each word as FTS5 match expressions per rank.
//!
//! The index (see [`super::SCHEMA`]) stores every field in the form its tokenizer needs;
//! the functions here put a query word in the same form, so the SQL in the triggers and
//! the Rust here must agree: [`FOLD`], [`NAME_SEPARATORS`], [`EMAIL_GLUE`] and
//! [`PHONE_PUNCTUATION`] are the shared definitions, and the storage tests in
//! `super::tests` write contacts through the triggers and find them through these.

use crate::kernel::error::{Error, Result};

use super::typo;

/// A query longer than this is refused (SPEC §9).
pub const MAX_QUERY_CHARS: usize = 200;
/// Typo tolerance is given to at most this many words of one query: each costs a few
/// hundred index look-ups.
pub const MAX_TYPO_WORDS: usize = 3;

/// Letters SQLite's `remove_diacritics` leaves alone (they have no decomposition), folded
/// by hand on both sides so "soren" finds "Søren" and "yilmaz" finds "Yılmaz".
pub const FOLD: &[(char, &str)] = &[
    ('ı', "i"),
    ('ø', "o"),
    ('Ø', "o"),
    ('ł', "l"),
    ('Ł', "l"),
    ('đ', "d"),
    ('Đ', "d"),
    ('ß', "ss"),
    ('æ', "ae"),
    ('Æ', "ae"),
    ('œ', "oe"),
    ('Œ', "oe"),
];

/// In the trigram index, each of these in a name becomes two spaces, so every name word
/// starts with "  ": a word prefix of one or two letters is then a three-character string
/// the trigram index can look up.
pub const NAME_SEPARATORS: &[char] = &[' ', '-', '\'', '’', '.', ','];

/// Dropped from an email in the word index, so a whole email is one token: "exact" is the
/// whole address and "prefix" its beginning.
pub const EMAIL_GLUE: &[char] = &['.', '@', '_', '-', '+', '\''];

/// Dropped from a phone number as entered, leaving its digits.
pub const PHONE_PUNCTUATION: &[char] = &[' ', '-', '(', ')', '.', '+', '/'];

/// How well a word matched, best first (SPEC §3: exact > prefix > substring > typo).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rank {
    Exact = 0,
    Prefix = 1,
    Substring = 2,
    Typo = 3,
}

impl Rank {
    pub const ALL: [Rank; 4] = [Rank::Exact, Rank::Prefix, Rank::Substring, Rank::Typo];

    pub fn as_str(self) -> &'static str {
        match self {
            Rank::Exact => "exact",
            Rank::Prefix => "prefix",
            Rank::Substring => "substring",
            Rank::Typo => "typo",
        }
    }

    pub fn from_index(i: i64) -> Option<Rank> {
        Rank::ALL.get(usize::try_from(i).ok()?).copied()
    }
}

/// Email-like words longer than this are looked up by a window this long: the characters
/// up to and including the `@` (the end of the local part is the most telling), else the
/// last ones (see [`Query::substring_lookup`]).
pub const EMAIL_WINDOW: usize = 12;
/// Phone numbers longer than this are looked up by their last digits.
pub const PHONE_WINDOW: usize = 8;

/// A trigram-index condition and what the rows found must also contain.
#[derive(Debug, Clone, PartialEq)]
pub struct Grams {
    pub matches: String,
    pub checks: Vec<Check>,
}

/// A whole word a row must contain, where the index looked up only part of it.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// In its email (lower-cased).
    Email(String),
    /// In the digits of its phone or mobile.
    PhoneDigits(String),
    /// At the start of its email.
    EmailStart(String),
    /// At the start of the digits of its phone or mobile.
    PhoneStart(String),
}

/// One word of a query, lower-cased.
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    text: String,
    /// The digits of a query that reads as a phone number ("+1 (415) 555-01").
    digits: Option<String>,
}

/// A parsed query: its words, every one of which must match.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub words: Vec<Word>,
}

impl Query {
    /// Reads `q`: 422 `q` when empty or over [`MAX_QUERY_CHARS`]. A query made only of
    /// digits and phone punctuation is one phone word; otherwise words are split on white
    /// space, and words without a letter or digit are dropped.
    pub fn parse(q: &str) -> Result<Query> {
        let q = q.trim();
        if q.is_empty() {
            return Err(Error::invalid("q", "must not be empty"));
        }
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(Error::invalid(
                "q",
                format!("must be at most {MAX_QUERY_CHARS} characters"),
            ));
        }
        let text: String = q
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect::<String>()
            .to_lowercase();
        if is_phone_like(&text) {
            let digits = text.chars().filter(char::is_ascii_digit).collect();
            return Ok(Query {
                words: vec![Word {
                    text,
                    digits: Some(digits),
                }],
            });
        }
        let mut words: Vec<Word> = Vec::new();
        for w in text.split_whitespace() {
            if w.chars().any(char::is_alphanumeric) && !words.iter().any(|x| x.text == w) {
                words.push(Word {
                    text: w.to_owned(),
                    digits: None,
                });
            }
        }
        Ok(Query { words })
    }

    /// A stable digest of the words, so a cursor is refused by any other query.
    pub fn fingerprint(&self, scope: &str) -> String {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        let mut feed = |s: &str| {
            for b in s.bytes().chain([0u8]) {
                h = (h ^ b as u64).wrapping_mul(0x0100_0000_01b3);
            }
        };
        feed(scope);
        for w in &self.words {
            feed(&w.text);
        }
        format!("{h:016x}")
    }

    /// Rows whose every word matches exactly (word index).
    pub fn exact(&self) -> String {
        all(self.words.iter().map(Word::exact))
    }

    /// Rows whose every word matches exactly or as a prefix (word index: a prefix there
    /// merges the lists of every word it begins, so it serves only the typo rank, where
    /// another word narrows the search).
    pub fn word_prefix(&self) -> String {
        all(self.words.iter().map(Word::prefix))
    }

    /// Rows whose every word begins a name word, the email or a phone number, and the index
    /// that finds them.
    ///
    /// Numbers and name words of up to three letters: the word index, whose `prefix =
    /// '1 2 3'` lists every word under its first one to three characters, so such a
    /// beginning is one list walked in row order, and a number's beginning merges the few
    /// numbers it begins. Otherwise the trigram index, where every stored address and name
    /// word starts after two spaces: a phrase walked in row order that stops at a page,
    /// where the word index would first merge the lists of every word a common beginning
    /// ("maria") begins; long email-like words are looked up by their telling part and
    /// checked whole at the start (the word index holds addresses without their glue, so
    /// `ana@` would also find `ana.b@…`). The trigram walk is slow only for a rare beginning,
    /// whose phrase ("  ch" + "chm") reads the lists of every name starting with its first
    /// letter: ~4 ms at 1M for three letters, which the word index answers in ~0.3 ms.
    pub fn prefix(&self) -> (&'static str, Grams) {
        let word_index = |w: &Word| w.digits.is_some() || w.text.chars().count() <= 3;
        if self.words.iter().any(Word::email_like) || !self.words.iter().all(word_index) {
            let grams = Grams {
                matches: all(self.words.iter().map(|w| w.gram_prefix())),
                checks: self.words.iter().filter_map(Word::prefix_check).collect(),
            };
            return ("search_grams", grams);
        }
        let words = Grams {
            matches: all(self.words.iter().map(Word::begins)),
            checks: vec![],
        };
        ("search_words", words)
    }

    /// Rows whose every word is found as a substring, or as a word prefix when shorter
    /// than a trigram (trigram index).
    pub fn substring(&self) -> String {
        all(self.words.iter().map(|w| w.substring(false)))
    }

    /// [`Query::substring`] as cheap to look up: a long email-like word (an `@` or a
    /// digit: not a name) or phone number is looked up by a window of it, and the rows
    /// found must contain the whole of it (`checks`). Every trigram of a phrase is one more
    /// index list to walk, and an address's or a number's trigrams ("com", "555", …) are in
    /// nearly every row.
    pub fn substring_lookup(&self) -> Grams {
        Grams {
            matches: all(self.words.iter().map(|w| w.substring(true))),
            checks: self.words.iter().filter_map(Word::check).collect(),
        }
    }

    /// Whether any word is long enough for a substring match to find more than a prefix.
    pub fn has_substrings(&self) -> bool {
        self.words.iter().any(Word::substring_capable)
    }

    /// The words that get typo tolerance, folded, with their position: up to
    /// [`MAX_TYPO_WORDS`] words of five letters or more.
    pub fn typo_words(&self) -> Vec<(usize, String)> {
        self.words
            .iter()
            .enumerate()
            .filter(|(_, w)| w.digits.is_none())
            .map(|(i, w)| (i, fold(&w.text)))
            .filter(|(_, w)| typo::tolerates_typos(w))
            .take(MAX_TYPO_WORDS)
            .collect()
    }

    /// Rows whose every word matches as a prefix or, where `candidates` has name words one
    /// edit away from it (by word position), as one of those (word index); `None` when no
    /// word has any.
    pub fn typo(&self, candidates: &[(usize, Vec<String>)]) -> Option<String> {
        let mut any = false;
        let parts = self.words.iter().enumerate().map(|(i, w)| {
            match candidates.iter().find(|(at, c)| *at == i && !c.is_empty()) {
                Some((_, terms)) => {
                    any = true;
                    let terms: Vec<String> = terms.iter().map(|t| quote(t)).collect();
                    format!("({} OR name : ({}))", w.prefix(), terms.join(" OR "))
                }
                None => w.prefix(),
            }
        });
        let expr = all(parts);
        any.then_some(expr)
    }
}

impl Word {
    fn exact(&self) -> String {
        match &self.digits {
            Some(d) => columns(&[("phone", d), ("email", d), ("custom", &self.text)], false),
            None => columns(
                &[
                    ("name", &fold(&self.text)),
                    ("email", &glue_email(&self.text)),
                    ("custom", &self.text),
                ],
                false,
            ),
        }
    }

    /// Custom fields match whole words only, so their part is the same as in [`exact`].
    fn prefix(&self) -> String {
        let prefixes = match &self.digits {
            Some(d) => columns(&[("phone", d), ("email", d)], true),
            None => columns(
                &[
                    ("name", &fold(&self.text)),
                    ("email", &glue_email(&self.text)),
                ],
                true,
            ),
        };
        format!(
            "({prefixes} OR {})",
            columns(&[("custom", &self.text)], false)
        )
    }

    /// The word as the beginning of a name word, the email or a phone number (word index;
    /// not for email-like words, see [`Query::prefix`]).
    fn begins(&self) -> String {
        match &self.digits {
            Some(d) => columns(&[("phone", d)], true),
            None => columns(
                &[
                    ("name", &fold(&self.text)),
                    ("email", &glue_email(&self.text)),
                ],
                true,
            ),
        }
    }

    /// With `window`, a long email-like word or phone number is cut to a window of it
    /// (see [`Query::substring_lookup`]).
    fn substring(&self, window: bool) -> String {
        match &self.digits {
            Some(d) => {
                let d = match window && self.check().is_some() {
                    true => tail(d, PHONE_WINDOW),
                    false => d.clone(),
                };
                columns(&[("phone", &gram_phrase(&d))], false)
            }
            None if self.email_like() => {
                let text = match window && self.check().is_some() {
                    true => email_window(&self.text),
                    false => self.text.clone(),
                };
                columns(&[("email", &gram_phrase(&text))], false)
            }
            None => columns(
                &[
                    ("name", &gram_phrase(&name_grams(&self.text))),
                    ("email", &gram_phrase(&self.text)),
                ],
                false,
            ),
        }
    }

    /// The word as a prefix in the trigram index. A long email-like word or number is
    /// looked up by the same window as a substring (its telling part, anywhere) and checked
    /// whole at the start by [`Word::prefix_check`].
    fn gram_prefix(&self) -> String {
        if self.prefix_check().is_some() {
            return self.substring(true);
        }
        match &self.digits {
            Some(d) => columns(&[("phone", &format!("  {d}"))], false),
            None if self.email_like() => columns(&[("email", &format!("  {}", self.text))], false),
            None => columns(
                &[
                    ("name", &format!("  {}", name_grams(&self.text))),
                    ("email", &format!("  {}", self.text)),
                ],
                false,
            ),
        }
    }

    /// What a windowed prefix look-up of this word must check on the row.
    fn prefix_check(&self) -> Option<Check> {
        match &self.digits {
            Some(d) if d.len() > PHONE_WINDOW => Some(Check::PhoneStart(d.clone())),
            None if self.email_like() && self.text.chars().count() > EMAIL_WINDOW => {
                Some(Check::EmailStart(self.text.clone()))
            }
            _ => None,
        }
    }

    /// Has an `@` or a digit: no name has, so only emails are searched for it.
    fn email_like(&self) -> bool {
        self.digits.is_none() && self.text.chars().any(|c| c == '@' || c.is_ascii_digit())
    }

    /// What a windowed look-up of this word must check on the row.
    fn check(&self) -> Option<Check> {
        match &self.digits {
            Some(d) if d.len() > PHONE_WINDOW => Some(Check::PhoneDigits(d.clone())),
            None if self.email_like() && self.text.chars().count() > EMAIL_WINDOW => {
                Some(Check::Email(self.text.clone()))
            }
            _ => None,
        }
    }

    fn substring_capable(&self) -> bool {
        let s = match &self.digits {
            Some(d) => d.clone(),
            None => name_grams(&self.text),
        };
        s.chars().count() >= 3
    }
}

/// An OR over `(column, string)` pairs; columns with the same string share one filter
/// (`{name email} : "ana"`), so the index walks that string's list once, not per column.
fn columns(pairs: &[(&str, &str)], prefix: bool) -> String {
    let mut groups: Vec<(Vec<&str>, &str)> = Vec::new();
    for (column, text) in pairs {
        match groups.iter_mut().find(|(_, t)| t == text) {
            Some((cols, _)) => cols.push(column),
            None => groups.push((vec![column], text)),
        }
    }
    let star = if prefix { " *" } else { "" };
    let parts: Vec<String> = groups
        .iter()
        .map(|(cols, text)| match cols.as_slice() {
            [one] => format!("{one} : {}{star}", quote(text)),
            many => format!("{{{}}} : {}{star}", many.join(" "), quote(text)),
        })
        .collect();
    format!("({})", parts.join(" OR "))
}

/// The last `n` characters.
fn tail(s: &str, n: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    chars[chars.len().saturating_sub(n)..].iter().collect()
}

/// [`EMAIL_WINDOW`] characters of an email-like word: up to and including its `@`, else
/// its end.
fn email_window(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let end = match chars.iter().position(|&c| c == '@') {
        Some(at) => (at + 1).max(EMAIL_WINDOW.min(chars.len())),
        None => chars.len(),
    };
    chars[end.saturating_sub(EMAIL_WINDOW)..end]
        .iter()
        .collect()
}

fn all(parts: impl Iterator<Item = String>) -> String {
    parts.collect::<Vec<_>>().join(" AND ")
}

/// A digits-only query, or digits with phone punctuation.
fn is_phone_like(text: &str) -> bool {
    text.chars().any(|c| c.is_ascii_digit())
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || c.is_whitespace() || PHONE_PUNCTUATION.contains(&c))
}

/// An FTS5 string: the tokenizer of the column splits and folds it.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

/// [`FOLD`] applied.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match FOLD.iter().find(|(from, _)| *from == c) {
            Some((_, to)) => out.push_str(to),
            None => out.push(c),
        }
    }
    out
}

/// A name as the trigram index stores it: folded, each separator two spaces.
fn name_grams(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in fold(s).chars() {
        if NAME_SEPARATORS.contains(&c) {
            out.push_str("  ");
        } else {
            out.push(c);
        }
    }
    out
}

/// A trigram phrase: the string itself when long enough to be found anywhere, else a word
/// prefix ("  " + it: every stored word starts after two spaces).
fn gram_phrase(s: &str) -> String {
    if s.chars().count() >= 3 {
        s.to_owned()
    } else {
        format!("  {s}")
    }
}

fn glue_email(s: &str) -> String {
    s.chars().filter(|c| !EMAIL_GLUE.contains(c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_long_queries_are_refused() {
        assert_eq!(
            Query::parse("  ").unwrap_err(),
            Error::invalid("q", "must not be empty")
        );
        assert!(Query::parse(&"a".repeat(200)).is_ok());
        let e = Query::parse(&"é".repeat(201)).unwrap_err();
        assert!(matches!(e, Error::Invalid { ref field, .. } if field == "q"));
    }

    #[test]
    fn words_are_lower_cased_deduplicated_and_need_a_letter_or_digit() {
        let q = Query::parse("José  SILVA jose - @@ o'brien").unwrap();
        let texts: Vec<&str> = q.words.iter().map(|w| w.text.as_str()).collect();
        assert_eq!(texts, ["josé", "silva", "jose", "o'brien"]);
    }

    #[test]
    fn a_phone_number_is_one_word_of_digits() {
        let q = Query::parse("+1 (415) 555-01").unwrap();
        assert_eq!(q.words.len(), 1);
        assert_eq!(q.words[0].digits.as_deref(), Some("141555501"));
        assert!(Query::parse("415 abc").unwrap().words[0].digits.is_none());
    }

    #[test]
    fn expressions_quote_every_word() {
        let q = Query::parse("a\"b").unwrap();
        assert_eq!(q.exact(), r#"({name email custom} : "a""b")"#);
        assert_eq!(
            q.substring(),
            r#"({name email} : "a""b")"#,
            "three characters: a substring"
        );
    }

    #[test]
    fn long_emails_and_numbers_are_looked_up_by_a_window_and_checked_whole() {
        let q = Query::parse("ana ngozi.martinez133@example0.com").unwrap();
        let g = q.substring_lookup();
        assert_eq!(
            g.matches,
            r#"({name email} : "ana") AND (email : "martinez133@")"#
        );
        assert_eq!(
            g.checks,
            [Check::Email("ngozi.martinez133@example0.com".into())]
        );
        assert!(q
            .substring()
            .ends_with(r#"(email : "ngozi.martinez133@example0.com")"#));
        assert_eq!(email_window("jo.smith@gmail.com"), "jo.smith@gma");
        assert_eq!(email_window("martinez1334133"), "tinez1334133");
        let short = Query::parse("x1@y.io").unwrap().substring_lookup();
        assert_eq!(short.matches, r#"(email : "x1@y.io")"#);
        assert!(short.checks.is_empty());
        let phone = Query::parse("+1 (415) 555-0100")
            .unwrap()
            .substring_lookup();
        assert_eq!(phone.matches, r#"(phone : "55550100")"#);
        assert_eq!(phone.checks, [Check::PhoneDigits("14155550100".into())]);
    }

    #[test]
    fn columns_sharing_a_string_share_one_filter() {
        let q = Query::parse("ana").unwrap();
        assert_eq!(q.exact(), r#"({name email custom} : "ana")"#);
        assert_eq!(
            q.word_prefix(),
            r#"(({name email} : "ana" *) OR (custom : "ana"))"#
        );
        assert_eq!(q.prefix().1.matches, r#"({name email} : "ana" *)"#);
        let long = Query::parse("maria").unwrap().prefix();
        assert_eq!(long.0, "search_grams");
        assert_eq!(long.1.matches, r#"({name email} : "  maria")"#);
        let e = Query::parse("Ana.Lima@x.io").unwrap();
        assert_eq!(
            e.exact(),
            r#"({name custom} : "ana.lima@x.io" OR email : "analimaxio")"#
        );
    }

    #[test]
    fn short_words_are_word_prefixes_in_the_trigram_index() {
        let q = Query::parse("jo").unwrap();
        assert_eq!(q.substring(), r#"({name email} : "  jo")"#);
        assert!(!q.has_substrings());
        assert!(Query::parse("jo ana").unwrap().has_substrings());
    }

    #[test]
    fn names_fold_letters_sqlite_keeps() {
        assert_eq!(fold("Søren Łukasz Yılmaz"), "Soren lukasz Yilmaz");
        assert_eq!(name_grams("jean-luc o'brien"), "jean  luc  o  brien");
        assert_eq!(
            glue_email("jose.silva+x@ex-ample.com"),
            "josesilvaxexamplecom"
        );
    }

    #[test]
    fn typo_words_are_bounded_and_take_candidates() {
        assert!(Query::parse("jose ana 415")
            .unwrap()
            .typo_words()
            .is_empty());
        let q = Query::parse("aaaaa Søren ccccc ddddd").unwrap();
        assert_eq!(
            q.typo_words(),
            [
                (0, "aaaaa".into()),
                (1, "soren".into()),
                (2, "ccccc".into())
            ]
        );
        assert_eq!(q.typo(&[(1, vec![])]), None);
        let t = q
            .typo(&[(1, vec!["soren".into(), "sorin".into()])])
            .unwrap();
        assert!(t.contains(r#"OR name : ("soren" OR "sorin"))"#), "{t}");
        assert_eq!(
            t.matches(" AND ").count(),
            3,
            "every word still has to match"
        );
    }

    #[test]
    fn ranks_round_trip() {
        for r in Rank::ALL {
            assert_eq!(Rank::from_index(r as i64), Some(r));
        }
        assert_eq!(Rank::from_index(4), None);
        assert_eq!(Rank::from_index(-1), None);
    }
}
