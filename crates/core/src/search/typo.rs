//! Typo tolerance by enumeration: every string one edit away from a query word (Damerau:
//! deletion, adjacent transposition, substitution, insertion). The search index then looks
//! each one up as a whole name word, which costs index seeks, never a scan of the
//! vocabulary, however many distinct names there are.

/// Words shorter than this (in letters) get no typo tolerance (SPEC §3, §9).
pub const MIN_LETTERS: usize = 5;
/// Longer words are not expanded: the variants grow with the length and no name is this long.
pub const MAX_CHARS: usize = 24;

/// Whether `word` (already lower-cased and folded) gets typo tolerance: all letters, at least
/// [`MIN_LETTERS`] of them.
pub fn tolerates_typos(word: &str) -> bool {
    let n = word.chars().count();
    (MIN_LETTERS..=MAX_CHARS).contains(&n) && word.chars().all(char::is_alphabetic)
}

/// Every distinct string at Damerau-Levenshtein distance exactly 1 from `word`, sorted.
/// Substituted and inserted letters are a–z plus the word's own letters, so a word in
/// another script still gets deletions, transpositions and its own letters.
pub fn one_edit_variants(word: &str) -> Vec<String> {
    let chars: Vec<char> = word.chars().collect();
    let mut alphabet: Vec<char> = ('a'..='z').chain(chars.iter().copied()).collect();
    alphabet.sort_unstable();
    alphabet.dedup();

    let n = chars.len();
    let mut out: Vec<String> = Vec::with_capacity(n * 2 * (alphabet.len() + 1) + 1);
    let collect = |v: Vec<char>| v.into_iter().collect::<String>();
    for i in 0..n {
        let mut deleted = chars.clone();
        deleted.remove(i);
        out.push(collect(deleted));
        if i + 1 < n {
            let mut swapped = chars.clone();
            swapped.swap(i, i + 1);
            out.push(collect(swapped));
        }
        for &c in &alphabet {
            let mut substituted = chars.clone();
            substituted[i] = c;
            out.push(collect(substituted));
        }
    }
    for i in 0..=n {
        for &c in &alphabet {
            let mut inserted = chars.clone();
            inserted.insert(i, c);
            out.push(collect(inserted));
        }
    }
    out.sort_unstable();
    out.dedup();
    out.retain(|v| v != word && !v.is_empty());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Restricted Damerau-Levenshtein distance, to check the enumeration against.
    fn distance(a: &str, b: &str) -> usize {
        let a: Vec<char> = a.chars().collect();
        let b: Vec<char> = b.chars().collect();
        let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
        for (i, row) in d.iter_mut().enumerate() {
            row[0] = i;
        }
        for j in 0..=b.len() {
            d[0][j] = j;
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

    #[test]
    fn variants_are_exactly_one_edit_away() {
        let v = one_edit_variants("santiago");
        assert!(v.iter().all(|x| distance(x, "santiago") == 1), "{v:?}");
        for typo in ["santaigo", "santigo", "santiaggo", "santiagu", "xantiago"] {
            assert!(v.binary_search(&typo.to_owned()).is_ok(), "{typo}");
        }
        assert!(!v.contains(&"santiago".to_owned()));
        assert!(!v.contains(&"santaigu".to_owned()), "two edits");
    }

    #[test]
    fn variants_use_the_words_own_letters() {
        let v = one_edit_variants("søren");
        assert!(v.contains(&"sørøn".to_owned()));
        assert!(v.contains(&"soren".to_owned()));
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
