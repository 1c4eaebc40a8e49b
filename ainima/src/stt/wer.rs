//! Word error rate, on normalised text: case, punctuation and numbers
//! ("10" and "ten") do not count as errors.

use ainima_fallbacks::values::spell;

/// Lower-case words without punctuation, numbers spelled out.
pub fn normalize(text: &str) -> Vec<String> {
    // Thousands groups: "10,001" is one number ("1,0001" is not a group).
    let chars: Vec<char> = text.chars().collect();
    let cleaned: String = chars
        .iter()
        .enumerate()
        .filter(|(i, c)| {
            let group = *i > 0
                && chars[i - 1].is_ascii_digit()
                && (1..=3).all(|k| chars.get(i + k).is_some_and(|n| n.is_ascii_digit()))
                && !chars.get(i + 4).is_some_and(|n| n.is_ascii_digit());
            !(**c == ',' && group)
        })
        .map(|(_, &c)| {
            if c.is_alphanumeric() || c == '\'' {
                c.to_ascii_lowercase()
            } else {
                ' '
            }
        })
        .collect();
    let mut out = Vec::new();
    for w in cleaned.split_whitespace() {
        let w = w.trim_matches('\'');
        if w.is_empty() {
            continue;
        }
        match w {
            "mr" => out.push("mister".to_string()),
            "mrs" => out.push("missus".to_string()),
            "dr" => out.push("doctor".to_string()),
            "ok" | "okay" => out.push("okay".to_string()),
            "oh" => out.push("zero".to_string()),
            // Digit strings read digit by digit: codes, phone and account numbers.
            _ if w.chars().all(|c| c.is_ascii_digit())
                && (w.len() > 6 || (w.len() > 1 && w.starts_with('0'))) =>
            {
                out.extend(w.chars().map(|c| spell(u64::from(c as u8 - b'0'))));
            }
            _ => match w.parse::<u64>() {
                Ok(n) if n < 1_000_000 => out.extend(spell(n).split(' ').map(String::from)),
                _ => out.push(w.to_string()),
            },
        }
    }
    out
}

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
