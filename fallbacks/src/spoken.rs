//! Words as spoken and heard: a recogniser's text and a reply compared
//! word for word, whatever their case, punctuation and way of writing
//! numbers. Where the assistant's own voice, heard back, is told from a
//! person's: the same rule natively and in the page.

use crate::values::spell;

/// Words that begin within this long after the assistant's voice was last
/// audible may be that voice heard back (the echo's tail, the endpointer's
/// hangover), in milliseconds.
pub const OWN_VOICE_MS: u32 = 800;

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

/// How many of `a`'s words stand, in the same order, in `b` (the length of
/// their longest common subsequence).
pub fn common_in_order(a: &[String], b: &[String]) -> usize {
    let mut row = vec![0usize; b.len() + 1];
    for x in a {
        let mut diagonal = 0;
        for (j, y) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if x == y {
                diagonal + 1
            } else {
                above.max(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Whether words `heard` repeat words `said`: at least four fifths of
/// them stand, in order, in what was said (a recogniser drops and mishears
/// a few). Nothing heard repeats nothing.
pub fn repeats(heard: &[String], said: &[String]) -> bool {
    !heard.is_empty() && 5 * common_in_order(heard, said) >= 4 * heard.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_in_common_and_in_order() {
        let w = |s: &str| normalize(s);
        let check = |a: &str, b: &str, expect: usize| {
            assert_eq!(common_in_order(&w(a), &w(b)), expect, "{a:?} in {b:?}");
        };
        check("Shall I go ahead?", "Send hi to Mom. Shall I go ahead?", 4);
        check("ahead", "Shall I go ahead?", 1);
        check("yes", "Shall I go ahead?", 0);
        check("go shall", "shall I go", 1);
        check("", "anything", 0);
        check(
            "add milk to my shopping list",
            "Added milk to your shopping list.",
            4,
        );
    }

    #[test]
    fn the_assistants_own_words_heard_back_are_told_from_a_persons() {
        let check = |heard: &str, said: &str, expect: bool| {
            assert_eq!(
                repeats(&normalize(heard), &normalize(said)),
                expect,
                "{heard:?} against {said:?}"
            );
        };
        check(
            "shall I go ahead",
            "Send hi to Mom. Shall I go ahead?",
            true,
        );
        // One word in five misheard is still the assistant's.
        check(
            "send high to mom shall",
            "Send hi to Mom. Shall I go ahead?",
            true,
        );
        check(
            "what time is it",
            "Send hi to Mom. Shall I go ahead?",
            false,
        );
        check("stop", "Send hi to Mom. Shall I go ahead?", false);
        check("", "anything", false);
        check("eight o'clock", "It's eight o'clock.", true);
    }
}
