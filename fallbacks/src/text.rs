//! Normalised words with their place in the original text: lower case,
//! punctuation dropped, common contractions expanded, so that "What's the
//! time?" and "what is the time" read the same. Literal words compare
//! through [`canonical`], which makes "2" equal "two" and "1st" equal
//! "first", the way speech recognisers alternate between them.

/// A word of the input and the byte range it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    /// The normalised word (lower case, no surrounding punctuation).
    pub word: String,
    /// Byte offset of the original word's start in the text.
    pub start: usize,
    /// Byte offset just past the original word.
    pub end: usize,
}

fn contraction(w: &str) -> Option<&'static [&'static str]> {
    Some(match w {
        "what's" => &["what", "is"],
        "it's" => &["it", "is"],
        "that's" => &["that", "is"],
        "there's" => &["there", "is"],
        "where's" => &["where", "is"],
        "who's" => &["who", "is"],
        "how's" => &["how", "is"],
        "when's" => &["when", "is"],
        "let's" => &["let", "us"],
        "i'm" => &["i", "am"],
        "you're" => &["you", "are"],
        "we're" => &["we", "are"],
        "they're" => &["they", "are"],
        "i'd" => &["i", "would"],
        "i'll" => &["i", "will"],
        "you'll" => &["you", "will"],
        "i've" => &["i", "have"],
        "don't" => &["do", "not"],
        "doesn't" => &["does", "not"],
        "didn't" => &["did", "not"],
        "can't" | "cannot" => &["can", "not"],
        "won't" => &["will", "not"],
        "isn't" => &["is", "not"],
        "aren't" => &["are", "not"],
        "wasn't" => &["was", "not"],
        "shouldn't" => &["should", "not"],
        "wouldn't" => &["would", "not"],
        "couldn't" => &["could", "not"],
        "wanna" => &["want", "to"],
        "gonna" => &["going", "to"],
        "gotta" => &["got", "to"],
        _ => return None,
    })
}

/// Letters written against a number that stay one word with it: English
/// ordinals, times of day and decades ("1st", "10am", "90s").
const NUMBER_ENDINGS_KEPT: &[&str] = &["st", "nd", "rd", "th", "am", "pm", "s"];

/// Letters, and the marks written with them outside ASCII (a virama,
/// "50प्रतिशत").
fn is_letters(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_alphabetic() || (!c.is_ascii() && !c.is_whitespace() && !c.is_numeric()))
}

/// A number, "%" or both, with letters written against them: the prefix,
/// the number, "percent" and the suffix ("50%ra", "%ra", "50मा", "%50era",
/// "50era", "ל50"); `None` otherwise. Letters before a number are parted
/// only when they are not ASCII (a Hebrew or Arabic prefix: "ל50",
/// "ال30"; "mp3" stays); ASCII letters after one are parted, in every
/// language, unless they are an English ordinal, a time of day or a
/// decade ([`NUMBER_ENDINGS_KEPT`]: "1st", "10am", "90s" stay; Basque
/// "50era" is "50" "era", "5min" "5" "min", French "1er" "1" "er").
fn suffixed_number(core: &str) -> Option<Vec<String>> {
    // A prefix: letters outside ASCII, or a "%" written before the number
    // (Basque, Turkish "%50").
    let first_digit = core.find(|c: char| c.is_ascii_digit())?;
    let (prefix, core) = core.split_at(first_digit);
    let (prefix, lead_percent) = match prefix.strip_suffix('%') {
        Some(p) => (p, true),
        None => (prefix, false),
    };
    if !prefix.is_empty() && (prefix.is_ascii() || !is_letters(prefix)) {
        return None;
    }
    let digits_end = core
        .char_indices()
        .find(|&(_, c)| !(c.is_ascii_digit() || c == '.' || c == ','))
        .map_or(core.len(), |(i, _)| i);
    let (number, rest) = core.split_at(digits_end);
    let number = number.trim_end_matches(['.', ',']);
    let (percent, letters) = match rest.strip_prefix('%') {
        Some(l) => (true, l),
        None => (false, rest),
    };
    // Two numbers with a unit between them ("02h16", as speech to text
    // writes French "2 h 16"; regression
    // `two_numbers_with_a_unit_between_them_are_three_words`): the number,
    // the unit, the second number and its own unit if it has one
    // ("1h30min"), each a word; nothing longer is parted.
    if prefix.is_empty() && !lead_percent && !percent && !number.contains(['.', ',']) {
        let unit_end = letters
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(letters.len());
        let (unit, after) = letters.split_at(unit_end);
        let digits_end = after
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(after.len());
        let (second, last) = after.split_at(digits_end);
        if (1..=3).contains(&unit.len())
            && !second.is_empty()
            && last.len() <= 3
            && last.chars().all(|c| c.is_ascii_alphabetic())
        {
            let mut out = vec![number.to_string(), unit.to_string(), second.to_string()];
            if !last.is_empty() {
                out.push(last.to_string());
            }
            return Some(out);
        }
    }
    // ("%50s" is a "%" before a number with a suffix, not a decade.)
    let kept = !lead_percent && letters.is_ascii() && NUMBER_ENDINGS_KEPT.contains(&letters);
    let suffix = is_letters(letters) && !kept;
    // Something to part: a prefix, a "%" before the number, or a suffix.
    if number.is_empty()
        || !(letters.is_empty() || suffix)
        || (prefix.is_empty() && !lead_percent && !suffix)
    {
        return None;
    }
    let mut out = Vec::new();
    if !prefix.is_empty() {
        out.push(prefix.to_string());
    }
    // "%" is said where it is written: "%50era" as the template
    // "%{brightness}era" reads, "percent" first.
    if lead_percent {
        out.push("percent".into());
    }
    // A comma before three digits groups thousands ("1,000%ra");
    // otherwise it is a decimal comma ("1,5%ra" is 1.5).
    let thousands = number
        .rsplit_once(',')
        .is_some_and(|(_, after)| after.len() == 3);
    out.push(if thousands {
        number.replace(',', "")
    } else {
        number.replace(',', ".")
    });
    if percent {
        out.push("percent".into());
    }
    if !letters.is_empty() {
        out.push(letters.to_string());
    }
    Some(out)
}

/// A "%" with letters written against it ("%ra" in a template): "percent"
/// and the letters.
fn suffixed_percent(core: &str) -> Option<Vec<String>> {
    let letters = core.strip_prefix('%')?;
    is_letters(letters).then(|| vec!["percent".into(), letters.to_string()])
}

/// The words a fraction is said as: "1/2" is "half".
fn fraction(w: &str) -> Option<&'static [&'static str]> {
    Some(match w {
        "1/2" => &["half"],
        "1/4" => &["quarter"],
        "3/4" => &["3", "quarters"],
        _ => return None,
    })
}

/// A word that is letters, an apostrophe and a number ("d'1", "l'8"), or
/// a French number word ("d'une"; [`crate::values::is_elided_number_word`]):
/// the letters and the number.
fn elided_before_number(w: &str) -> Option<(&str, &str)> {
    let (article, number) = w.split_once('\'')?;
    let letters = !article.is_empty() && article.chars().all(char::is_alphabetic);
    let digits = number.starts_with(|c: char| c.is_ascii_digit())
        && number
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ':');
    // Before a number word, only a French elided article ("quelqu'un" and
    // "young'un" stay whole).
    let elided = ["d", "l", "qu", "jusqu", "lorsqu", "puisqu"].contains(&article)
        && crate::values::is_elided_number_word(number);
    (letters && (digits || elided)).then_some((article, number))
}

/// The words of `text` with their byte ranges. Splits on white space and
/// hyphens, lower-cases, trims punctuation from both ends of a word (so
/// "7:15", "2.5" and "o'clock" survive), drops thousands separators
/// ("1,000"), turns a trailing "%" into the word "percent", expands
/// contractions ("what's" is "what" "is", both spanning the original word),
/// parts a possessive "'s" from its word ("joe's" is "joe" "s"), an
/// elided article from a number ("d'1" is "d" "1"), a suffix or a prefix
/// from a number ("50%ra" is "50" "percent" "ra", "ל50" is "ל" "50";
/// English ordinals, times of day and decades stay whole: "1st", "10am",
/// "90s"), two numbers from the unit between them ("02h16" is "02" "h"
/// "16"), and reads the
/// fractions "1/2", "1/4" and "3/4" as words ("half"; a slash elsewhere
/// parts words, "and/or").
pub fn tokens(text: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut start = None;
    let bytes_end = text.len();
    let push = |s: usize, e: usize, out: &mut Vec<Token>| {
        let raw = &text[s..e];
        let lower = raw.to_lowercase().replace(['\u{2019}', '\u{2018}'], "'");
        let percent = lower
            .trim_end_matches(|c: char| !c.is_alphanumeric() && c != '%')
            .ends_with('%');
        let mut w = lower
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_string();
        if w.chars().all(|c| c.is_ascii_digit() || c == ',') {
            w.retain(|c| c != ',');
        }
        let core = lower.trim_matches(|c: char| !c.is_alphanumeric() && c != '%');
        let words: Vec<String> =
            if let Some(parts) = suffixed_number(core).or_else(|| suffixed_percent(core)) {
                // A number with a suffix written against it ("50%ra",
                // Hungarian; "50%로", Korean; "50मा", Nepali; "%50era",
                // Basque) or a prefix ("ל50", Hebrew), or a "%" with a suffix
                // ("%ra" in a template): the prefix, the number, "percent",
                // the suffix.
                parts
            } else if w.is_empty() {
                // A lone "%" still says "percent".
                if percent {
                    vec!["percent".into()]
                } else {
                    Vec::new()
                }
            } else {
                let mut words: Vec<String> = if let Some(words) = fraction(&w) {
                    // "1/2 an hour" is "half an hour".
                    words.iter().map(|x| (*x).into()).collect()
                } else if let Some((article, number)) = elided_before_number(&w) {
                    // An elided article before a number ("d'1 hora", Catalan;
                    // "d'une heure", French):
                    // the article's word, then the number, as the templates
                    // write them ("(de |d')<hours>").
                    vec![article.into(), number.into()]
                } else if let Some(parts) = contraction(&w) {
                    parts.iter().map(|x| (*x).into()).collect()
                } else if let Some(stem) = w.strip_suffix("'s").filter(|s| !s.is_empty()) {
                    // A possessive: the name, then the "s" (so "the kitchen's
                    // lights" reads "the kitchen s lights" on both sides).
                    vec![stem.into(), "s".into()]
                } else {
                    vec![w]
                };
                if percent {
                    words.push("percent".into());
                }
                words
            };
        // Every word spans the original word.
        out.extend(words.into_iter().map(|word| Token {
            word,
            start: s,
            end: e,
        }));
    };
    for (i, c) in text.char_indices() {
        // A slash parts words ("and/or"), but not a fraction's digits.
        let in_fraction = c == '/'
            && start.is_some_and(|s| {
                let end = text[i + 1..]
                    .find(|c: char| !c.is_ascii_digit())
                    .map_or(text.len(), |k| i + 1 + k);
                fraction(&text[s..end]).is_some()
            });
        if c.is_whitespace() || c == '-' || (c == '/' && !in_fraction) {
            if let Some(s) = start.take() {
                push(s, i, &mut out);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        push(s, bytes_end, &mut out);
    }
    out
}

/// The words alone, for the value parsers.
pub fn words(text: &str) -> Vec<String> {
    tokens(text).into_iter().map(|t| t.word).collect()
}

const ORDINALS: [(&str, &str); 12] = [
    ("first", "1st"),
    ("second", "2nd"),
    ("third", "3rd"),
    ("fourth", "4th"),
    ("fifth", "5th"),
    ("sixth", "6th"),
    ("seventh", "7th"),
    ("eighth", "8th"),
    ("ninth", "9th"),
    ("tenth", "10th"),
    ("eleventh", "11th"),
    ("twelfth", "12th"),
];

/// The form a literal word is compared in: small numbers and ordinals as
/// digits, a few spelling variants merged ("ok", "colour"), everything
/// else as it is.
pub fn canonical(word: &str) -> std::borrow::Cow<'_, str> {
    use crate::values::{ONES, TENS};
    use std::borrow::Cow;
    if let Some(n) = ONES.iter().position(|c| *c == word) {
        return Cow::Owned(n.to_string());
    }
    // The tens "twenty" to "sixty" (seventy to ninety are not canonicalised yet).
    if let Some(i) = TENS[2..=6].iter().position(|t| *t == word) {
        return Cow::Owned(((i + 2) * 10).to_string());
    }
    if let Some((_, d)) = ORDINALS.iter().find(|(w, _)| *w == word) {
        return Cow::Borrowed(d);
    }
    match word {
        "ok" => Cow::Borrowed("okay"),
        "colour" => Cow::Borrowed("color"),
        "favourite" => Cow::Borrowed("favorite"),
        "hundred" => Cow::Borrowed("100"),
        _ => Cow::Borrowed(word),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, expect: &str) {
        let got: Vec<String> = tokens(input)
            .iter()
            .map(|t| format!("{}@{}", t.word, &input[t.start..t.end]))
            .collect();
        assert_eq!(got.join(" "), expect, "input {input:?}");
    }

    #[test]
    fn normalises_what_recognisers_write() {
        check(
            "What's the time?",
            "what@What's is@What's the@the time@time?",
        );
        check("Set it to 50%.", "set@Set it@it to@to 50@50%. percent@50%.");
        check(
            "twenty-five, please",
            "twenty@twenty five@five, please@please",
        );
        check("1,000 at 7:15 pm", "1000@1,000 at@at 7:15@7:15 pm@pm");
        check("  ...  ", "");
        check(
            "Don\u{2019}t stop",
            "do@Don\u{2019}t not@Don\u{2019}t stop@stop",
        );
        check("and/or", "and@and or@or");
        check(
            "1/2 an hour, 3/4 of a cup, 11/29, 1/25",
            "half@1/2 an@an hour@hour, 3@3/4 quarters@3/4 of@of a@a cup@cup, 11@11 29@29, 1@1 25@25",
        );
        check("Joe's list", "joe@Joe's s@Joe's list@list");
        check("d'1 hora", "d@d'1 1@d'1 hora@hora");
        // A French number word, not any word (Catalan's "d'una" below
        // stays whole).
        check("d'une heure", "d@d'une une@d'une heure@heure");
        check("l'entrée o'clock", "l'entrée@l'entrée o'clock@o'clock");
        check(
            "quelqu'un young'un qu'une",
            "quelqu'un@quelqu'un young'un@young'un qu@qu'une une@qu'une",
        );
        check(
            "50%ra %ra 50%로 50मा 50% 1st 10am mp3 1,5%ra 1,000%ra 50प्रतिशत",
            "50@50%ra percent@50%ra ra@50%ra percent@%ra ra@%ra 50@50%로 percent@50%로 로@50%로 \
             50@50मा मा@50मा 50@50% percent@50% 1st@1st 10am@10am mp3@mp3 \
             1.5@1,5%ra percent@1,5%ra ra@1,5%ra 1000@1,000%ra percent@1,000%ra ra@1,000%ra \
             50@50प्रतिशत प्रतिशत@50प्रतिशत",
        );
        // A "%" before the number, an ASCII suffix, a prefix outside ASCII
        // (Basque, Hebrew, Arabic); English ordinals, times and decades,
        // and letters before a number in ASCII, stay whole.
        check(
            "%50era ehuneko 20ra %50 ל50 ال30 2nd 10pm 1990s mp3 50 5",
            "percent@%50era 50@%50era era@%50era ehuneko@ehuneko 20@20ra ra@20ra \
             percent@%50 50@%50 ל@ל50 50@ל50 ال@ال30 30@ال30 2nd@2nd 10pm@10pm 1990s@1990s \
             mp3@mp3 50@50 5@5",
        );
        // ASCII letters after a number are a word of their own in every
        // language; a "%" before it keeps its place.
        check(
            "4k 5min 3.5h 1er %50s 7:15pm h1",
            "4@4k k@4k 5@5min min@5min 3.5@3.5h h@3.5h 1@1er er@1er \
             percent@%50s 50@%50s s@%50s 7:15pm@7:15pm h1@h1",
        );
        // Two numbers with a unit between them (regression
        // `two_numbers_with_a_unit_between_them_are_three_words`): French
        // "02h16"; a decimal before the unit stays whole.
        check(
            "02h16 1h30min 4x4 1.5h30 1h1h1",
            "02@02h16 h@02h16 16@02h16 1@1h30min h@1h30min 30@1h30min min@1h30min \
             4@4x4 x@4x4 4@4x4 1.5h30@1.5h30 1h1h1@1h1h1",
        );
        check(
            "d'una hora o'clock '90s",
            "d'una@d'una hora@hora o'clock@o'clock 90s@'90s",
        );
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(canonical("two"), "2");
        assert_eq!(canonical("first"), "1st");
        assert_eq!(canonical("ok"), "okay");
        assert_eq!(canonical("lamp"), "lamp");
    }
}
