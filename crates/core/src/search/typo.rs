//! Typo tolerance: the name words one edit away (Damerau: deletion, adjacent transposition,
//! substitution, insertion) from a query word, found in the vocabulary of distinct names
//! (`search_name_terms`, see [`super::SCHEMA`]) and then looked up as whole words in the
//! contacts index.
//!
//! The vocabulary holds each distinct first and last name once, so its size follows the
//! number of different names, not of contacts. One statement reads the candidates: the
//! vocabulary's words (folded as the index folds them) sharing the query word's first two
//! letters (every edit after them), or starting with its 2nd–3rd letters or its 1st and
//! 3rd (a deleted 1st or 2nd letter, a swapped 2nd and 3rd), each of about the word's
//! length; plus the names (lower-cased, by a B-tree) equal to one of the hundred-odd
//! strings an edit in the first two letters makes (a changed or inserted 1st or 2nd
//! letter, the first two swapped) — so an edit in the first two letters of an accented or
//! multi-word name is not found. Rust keeps what is exactly one edit away. Each range is
//! short and each string one seek, so the cost stays bounded however many names there are.

use crate::kernel::error::Result;
use crate::kernel::store::{placeholders, Sql, Value};

/// Words shorter than this (in letters) get no typo tolerance (SPEC §3, §9).
pub const MIN_LETTERS: usize = 5;
/// Longer words get none either: no name is that long, and a longer word costs more.
pub const MAX_CHARS: usize = 24;

/// Whether `word` (lower-cased and folded) gets typo tolerance: all letters, at least
/// [`MIN_LETTERS`] of them.
pub fn tolerates_typos(word: &str) -> bool {
    let n = word.chars().count();
    (MIN_LETTERS..=MAX_CHARS).contains(&n) && word.chars().all(char::is_alphabetic)
}

/// For each `(position, word)`, the vocabulary's name words exactly one edit away.
pub fn candidates(db: &dyn Sql, words: &[(usize, String)]) -> Result<Vec<(usize, Vec<String>)>> {
    if words.is_empty() {
        return Ok(Vec::new());
    }
    let (sql, params) = lookup(words);
    let rows = db.execute(&sql, &params)?;
    let mut out: Vec<(usize, Vec<String>)> = words.iter().map(|(i, _)| (*i, Vec::new())).collect();
    for row in rows.rows {
        let (Some(at), Some(term)) = (
            row.first().and_then(Value::as_i64),
            row.get(1).and_then(Value::as_str),
        ) else {
            continue;
        };
        let Some(k) = words.iter().position(|(i, _)| *i as i64 == at) else {
            continue;
        };
        if distance(&words[k].1, term) == 1 && !out[k].1.iter().any(|t| t == term) {
            out[k].1.push(term.to_owned());
        }
    }
    for (_, terms) in &mut out {
        terms.sort_unstable();
    }
    Ok(out)
}

/// The candidate statement: ranges and exact strings per word, tagged with its position.
fn lookup(words: &[(usize, String)]) -> (String, Vec<Value>) {
    let mut parts = Vec::new();
    let mut params = Vec::new();
    for (at, word) in words {
        let w: Vec<char> = word.chars().collect();
        let n = w.len() as i64;
        let prefix = |a: char, b: char| [a, b].iter().collect::<String>();
        let mut prefixes = vec![prefix(w[0], w[1]), prefix(w[1], w[2]), prefix(w[0], w[2])];
        prefixes.dedup();
        for p in prefixes {
            parts.push(format!(
                "SELECT {at}, term FROM search_name_terms WHERE term >= ? AND term < ? \
                 AND length(term) BETWEEN {} AND {}",
                n - 1,
                n + 1
            ));
            params.push(Value::Text(p.clone()));
            params.push(Value::Text(format!("{p}\u{10FFFF}")));
        }
        // Exact strings through the names' B-tree: an IN list on the vocabulary would set up
        // an index cursor per string.
        let exact = head_edits(&w);
        parts.push(format!(
            "SELECT {at}, lower(name) FROM search_names WHERE lower(name) IN ({})",
            placeholders(exact.len())
        ));
        params.extend(exact.into_iter().map(Value::Text));
    }
    (parts.join(" UNION ALL "), params)
}

/// The strings an edit in the first two letters makes that the ranges miss: the 1st or
/// 2nd letter changed, a letter inserted before the 1st or 2nd, the first two swapped.
/// Letters tried: a–z and the word's own.
fn head_edits(w: &[char]) -> Vec<String> {
    let mut alphabet: Vec<char> = ('a'..='z').chain(w.iter().copied()).collect();
    alphabet.sort_unstable();
    alphabet.dedup();
    let mut out = Vec::with_capacity(4 * alphabet.len() + 1);
    let mut swapped = w.to_vec();
    swapped.swap(0, 1);
    out.push(swapped.iter().collect::<String>());
    for &c in &alphabet {
        for i in 0..2 {
            let mut changed = w.to_vec();
            changed[i] = c;
            out.push(changed.iter().collect());
            let mut inserted = w.to_vec();
            inserted.insert(i, c);
            out.push(inserted.iter().collect());
        }
    }
    let word: String = w.iter().collect();
    out.sort_unstable();
    out.dedup();
    out.retain(|v| *v != word);
    out
}

/// Restricted Damerau-Levenshtein distance (optimal string alignment).
pub fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every string one edit from `word` over a–z: what the lookup must be able to find.
    fn all_one_edit(word: &str) -> Vec<String> {
        let w: Vec<char> = word.chars().collect();
        let mut out = Vec::new();
        for i in 0..w.len() {
            let mut x = w.clone();
            x.remove(i);
            out.push(x.iter().collect::<String>());
            if i + 1 < w.len() {
                let mut x = w.clone();
                x.swap(i, i + 1);
                out.push(x.iter().collect());
            }
        }
        for c in 'a'..='z' {
            for i in 0..=w.len() {
                let mut x = w.clone();
                x.insert(i, c);
                out.push(x.iter().collect());
                if i < w.len() {
                    let mut x = w.clone();
                    x[i] = c;
                    out.push(x.iter().collect());
                }
            }
        }
        out.retain(|x| x != word);
        out
    }

    #[test]
    fn every_one_edit_string_is_in_a_range_or_the_exact_list() {
        let word = "santiago";
        let w: Vec<char> = word.chars().collect();
        let exact = head_edits(&w);
        let ranges = [
            [w[0], w[1]].iter().collect::<String>(),
            [w[1], w[2]].iter().collect(),
            [w[0], w[2]].iter().collect(),
        ];
        for v in all_one_edit(word) {
            let n = v.chars().count();
            let in_range = ranges.iter().any(|p| v.starts_with(p.as_str()))
                && (w.len() - 1..=w.len() + 1).contains(&n);
            assert!(in_range || exact.contains(&v), "{v} is missed");
            assert_eq!(distance(word, &v), 1, "{v}");
        }
        assert!(exact.len() < 120, "{}", exact.len());
    }

    #[test]
    fn distance_counts_a_swap_as_one_edit() {
        assert_eq!(distance("santaigo", "santiago"), 1);
        assert_eq!(distance("santigo", "santiago"), 1);
        assert_eq!(distance("santiagos", "santaigo"), 2);
        assert_eq!(distance("søren", "soren"), 1);
        assert_eq!(distance("maria", "maria"), 0);
    }

    #[test]
    fn only_words_of_five_letters_or_more() {
        assert!(tolerates_typos("maria"));
        assert!(tolerates_typos("jérôme"));
        assert!(!tolerates_typos("jose"));
        assert!(!tolerates_typos("mar1a"), "digits are not letters");
        assert!(!tolerates_typos(&"a".repeat(MAX_CHARS + 1)));
    }
}
