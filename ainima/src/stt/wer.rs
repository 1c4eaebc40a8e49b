//! Word error rate, on normalised text: case, punctuation and numbers
//! ("10" and "ten") do not count as errors.

pub use ainima_fallbacks::spoken::normalize;

/// Word-level edit distance between reference and hypothesis, and the reference's length.
pub fn errors(reference: &str, hypothesis: &str) -> (usize, usize) {
    let r = normalize(reference);
    let h = normalize(hypothesis);
    let mut prev: Vec<usize> = (0..=h.len()).collect();
    for (i, rw) in r.iter().enumerate() {
        let mut cur = vec![i + 1; h.len() + 1];
        for (j, hw) in h.iter().enumerate() {
            let sub = prev[j] + usize::from(rw != hw);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    (prev[h.len()], r.len())
}

/// Word error rate of one hypothesis.
pub fn wer(reference: &str, hypothesis: &str) -> f64 {
    let (e, n) = errors(reference, hypothesis);
    if n == 0 {
        if e == 0 { 0.0 } else { 1.0 }
    } else {
        e as f64 / n as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_ignores_case_punctuation_and_digits() {
        assert_eq!(wer("Go forward ten meters.", "go forward 10 meters"), 0.0);
        assert_eq!(
            normalize("Mr. Quilter's 25"),
            ["mister", "quilter's", "twenty", "five"]
        );
        assert_eq!(
            normalize("one hundred and 3"),
            ["one", "hundred", "and", "three"]
        );
        assert_eq!(wer("a b c d", "a x c"), 0.5);
        assert_eq!(wer("", ""), 0.0);
        assert_eq!(
            normalize("1,0001 and 007"),
            [
                "one", "zero", "zero", "zero", "one", "and", "zero", "zero", "seven"
            ]
        );
        assert_eq!(normalize("10,000 oh"), ["ten", "thousand", "zero"]);
    }
}
