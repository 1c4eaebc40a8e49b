//! Names from a list (devices, rooms, contacts, apps), matched with the
//! small errors speech recognition makes: "living room lamp" for "livingroom
//! lamp", "fire fox" for "Firefox", "alice" for "Alyce".

/// Character edit distance (Levenshtein).
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Similarity of two strings, spaces ignored: 1 for equal, 0 for nothing alike.
pub fn similarity(a: &str, b: &str) -> f32 {
    let a: String = a
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase();
    let b: String = b
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_lowercase();
    let n = a.chars().count().max(b.chars().count());
    if n == 0 {
        return 1.0;
    }
    1.0 - edit_distance(&a, &b) as f32 / n as f32
}

/// A name found at the start of some words.
#[derive(Debug, Clone, PartialEq)]
pub struct NameMatch {
    /// Index of the name in the list.
    pub index: usize,
    /// Similarity, `min_similarity` to 1.
    pub score: f32,
    /// Words used.
    pub used: usize,
}

/// The best name from `names` at the start of `words` (normalised words, see
/// [`crate::text::words`]), trying one word fewer to one word more than
/// the name has; `None` below `min_similarity` (0.8 is a good default). Ties
/// go to the longer match, then to the earlier name.
pub fn best_match(words: &[String], names: &[&str], min_similarity: f32) -> Option<NameMatch> {
    let mut best: Option<NameMatch> = None;
    for (index, name) in names.iter().enumerate() {
        let len = name.split_whitespace().count().max(1);
        for used in len.saturating_sub(1).max(1)..=(len + 1).min(words.len()) {
            let heard = words[..used].join(" ");
            let score = similarity(&heard, name);
            let better = match &best {
                None => true,
                Some(b) => {
                    score > b.score + 1e-6 || ((score - b.score).abs() <= 1e-6 && used > b.used)
                }
            };
            if score >= min_similarity && better {
                best = Some(NameMatch { index, score, used });
            }
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::words;

    const NAMES: [&str; 5] = [
        "living room lamp",
        "kitchen lights",
        "Firefox",
        "Alice",
        "bedroom lights",
    ];

    fn check(input: &str, expect: Option<(&str, usize)>) {
        let got = best_match(&words(input), &NAMES, 0.8).map(|m| (NAMES[m.index], m.used));
        assert_eq!(got, expect, "input {input:?}");
    }

    #[test]
    fn names_with_recognition_errors() {
        check("living room lamp please", Some(("living room lamp", 3)));
        check("livingroom lamp", Some(("living room lamp", 2)));
        check("fire fox", Some(("Firefox", 2)));
        check("alyce", Some(("Alice", 1)));
        check("kitchen light", Some(("kitchen lights", 2)));
        check("bedroom lights", Some(("bedroom lights", 2)));
        check("the garage", None);
        check("", None);
    }

    #[test]
    fn distances() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(similarity("Fire fox", "firefox"), 1.0);
        assert_eq!(similarity("", ""), 1.0);
    }
}
