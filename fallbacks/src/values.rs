//! Slot value parsers over normalised words. Each parser takes the words of
//! a slot (lower case, punctuation removed; [`crate::text::words`] does
//! that, as for the matcher) and returns
//! the value and how many words it used, so that a template matcher can try
//! a parser at any position. Digits and words are equal ("25", "twenty
//! five", "twenty-five"), as are the forms recognisers produce ("2.5",
//! "two point five").

use serde::Serialize;

/// "zero" to "nineteen", each at its value.
pub const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];

/// The tens, each at its value over ten ("twenty" at 2; 0 and 1 empty).
pub const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

fn unit(w: &str) -> Option<u64> {
    ONES.iter()
        .position(|o| *o == w)
        .map(|n| n as u64)
        .or(match w {
            "oh" | "nought" | "nil" | "no" => Some(0),
            "a" | "an" => Some(1),
            _ => None,
        })
}

fn tens(w: &str) -> Option<u64> {
    let w = if w == "fourty" { "forty" } else { w };
    TENS.iter()
        .position(|t| !t.is_empty() && *t == w)
        .map(|n| n as u64 * 10)
}

/// A language whose number words a whole-number slot reads besides digits
/// (Home Assistant's ranges: "Minuteur d'une heure", "vingt et un"),
/// through text2num; English has [`integer`] of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NumberWords {
    /// da
    Danish,
    /// de
    German,
    /// es
    Spanish,
    /// fr
    French,
    /// it
    Italian,
    /// nl
    Dutch,
    /// pt (and pt-BR)
    Portuguese,
}

impl NumberWords {
    /// The number words of a language by its code ("fr", "pt-BR"), if
    /// text2num has them.
    pub fn of(code: &str) -> Option<NumberWords> {
        let base = code.split(['-', '_']).next()?.to_ascii_lowercase();
        Some(match base.as_str() {
            "da" => NumberWords::Danish,
            "de" => NumberWords::German,
            "es" => NumberWords::Spanish,
            "fr" => NumberWords::French,
            "it" => NumberWords::Italian,
            "nl" => NumberWords::Dutch,
            "pt" => NumberWords::Portuguese,
            _ => return None,
        })
    }

    /// The language's interpreter, made once (German's and Dutch's build
    /// a word splitter).
    fn interpreter(self) -> &'static text2num::Language {
        const LANGUAGES: usize = NumberWords::Portuguese as usize + 1;
        static MADE: [std::sync::OnceLock<text2num::Language>; LANGUAGES] =
            [const { std::sync::OnceLock::new() }; LANGUAGES];
        MADE[self as usize].get_or_init(|| self.make())
    }

    fn make(self) -> text2num::Language {
        match self {
            NumberWords::Danish => text2num::Language::danish(),
            NumberWords::German => text2num::Language::german(),
            NumberWords::Spanish => text2num::Language::spanish(),
            NumberWords::French => text2num::Language::french(),
            NumberWords::Italian => text2num::Language::italian(),
            NumberWords::Dutch => text2num::Language::dutch(),
            NumberWords::Portuguese => text2num::Language::portugese(),
        }
    }
}

/// Whether `w` alone is a French number word ("une", "onze"), which an
/// elided article may be written against ("d'une"; Italian's "all'una"
/// stays whole: its ranges do not write the article apart).
pub fn is_elided_number_word(w: &str) -> bool {
    number_word(NumberWords::French, w)
}

/// Whether `w` alone is a number word of `lang` below a million: text2num
/// adds the digits of a number past u64 unchecked (a panic where overflow
/// is checked: "zwanzig millionen billion"), and no slot wants one.
fn number_word(lang: NumberWords, w: &str) -> bool {
    !w.is_empty()
        && w.chars().all(char::is_alphabetic)
        && !MILLIONS.iter().any(|m| w.contains(m))
        && text2num::text2digits(w, lang.interpreter()).is_ok()
}

/// What the words for a million and more contain in text2num's languages
/// ("millionen", "miljard", "bilione", "millón", "milhões", "billón").
const MILLIONS: &[&str] = &[
    "mill", "bill", "milj", "bilj", "mili", "bili", "milh", "bilh",
];

/// Words that join number words in text2num's languages ("vingt et un",
/// "treinta y cinco", "vinte e um", "een en twintig").
const JOINING: &[&str] = &["et", "y", "e", "und", "en", "og"];

/// Most words one number takes ("quatre vingt dix sept mille trois cent").
const MAX_NUMBER_WORDS: usize = 8;

/// A whole number at the start of `w` in `lang`: digits as [`integer`]
/// reads them, or the language's number words, the most words that make
/// one number; the value and the words used.
pub fn integer_in(lang: NumberWords, w: &[String]) -> Option<(u64, usize)> {
    let first = w.first()?;
    if first.starts_with(|c: char| c.is_ascii_digit()) {
        return integer(w);
    }
    let interpreter = lang.interpreter();
    // A number begins with a number word ("vingt" of "vingt et un"): most
    // places a range is tried hold none, and cost one look.
    let alone = |x: &str| number_word(lang, x);
    if !alone(first) {
        return None;
    }
    // Only number words and the words that join them ("et", "y", "und").
    let run = w
        .iter()
        .take(MAX_NUMBER_WORDS)
        .take_while(|x| alone(x) || JOINING.contains(&x.as_str()))
        .count();
    (1..=run).rev().find_map(|k| {
        let digits = text2num::text2digits(&w[..k].join(" "), interpreter).ok()?;
        digits.parse::<u64>().ok().map(|n| (n, k))
    })
}

/// A whole number below a million in words, as the number parsers read it
/// back: 123 is "one hundred twenty three".
pub fn spell(n: u64) -> String {
    match n {
        0..=19 => ONES[n as usize].to_string(),
        20..=99 => {
            let t = TENS[(n / 10) as usize];
            if n.is_multiple_of(10) {
                t.to_string()
            } else {
                format!("{t} {}", ONES[(n % 10) as usize])
            }
        }
        100..=999 => {
            let h = format!("{} hundred", ONES[(n / 100) as usize]);
            if n.is_multiple_of(100) {
                h
            } else {
                format!("{h} {}", spell(n % 100))
            }
        }
        _ => {
            let th = format!("{} thousand", spell(n / 1000));
            if n.is_multiple_of(1000) {
                th
            } else {
                format!("{th} {}", spell(n % 1000))
            }
        }
    }
}

fn scale(w: &str) -> Option<u64> {
    Some(match w {
        "hundred" => 100,
        "thousand" => 1_000,
        "million" => 1_000_000,
        _ => return None,
    })
}

/// Words that are numbers by themselves.
fn idiom(w: &[String]) -> Option<(f64, usize)> {
    let first = w.first()?.as_str();
    let second = w.get(1).map(String::as_str);
    Some(match (first, second) {
        ("a", Some("couple")) | ("couple", _) => (2.0, if first == "a" { 2 } else { 1 }),
        ("a", Some("few")) => (3.0, 2),
        ("a", Some("dozen")) | ("dozen", _) => (12.0, if first == "a" { 2 } else { 1 }),
        ("half", _) => (0.5, 1),
        ("a", Some("half")) => (0.5, 2),
        ("a", Some("quarter")) | ("quarter", _) => (0.25, if first == "a" { 2 } else { 1 }),
        _ => return None,
    })
}

/// An integer in words or digits at the start of `w`: (value, words used).
/// "a" and "an" count as one only when followed by a scale ("a hundred").
pub fn integer(w: &[String]) -> Option<(u64, usize)> {
    let first = w.first()?;
    if first.chars().all(|c| c.is_ascii_digit()) {
        return first.parse().ok().map(|v| (v, 1));
    }
    let (mut total, mut current, mut used, mut any) = (0u64, 0u64, 0usize, false);
    let mut last_unit = false;
    while let Some(word) = w.get(used) {
        let word = word.as_str();
        if (word == "a" || word == "an")
            && !(any || w.get(used + 1).and_then(|n| scale(n)).is_some())
        {
            break;
        }
        if let Some(t) = tens(word) {
            if current % 100 != 0 || last_unit {
                break;
            }
            current = current.saturating_add(t);
            last_unit = false;
        } else if let Some(u) = unit(word) {
            if (word == "no" || word == "a" || word == "an") && any {
                break;
            }
            if last_unit
                || (current % 100 >= 20 && current % 10 != 0)
                || (u >= 10 && current % 100 != 0)
            {
                break;
            }
            current = current.saturating_add(u);
            last_unit = true;
        } else if let Some(s) = scale(word) {
            if !any {
                break;
            }
            // Checked: "hundred hundred hundred ..." must end, not overflow.
            if s == 100 {
                let Some(c) = current.max(1).checked_mul(100) else {
                    break;
                };
                current = c;
            } else {
                let Some(t) = current
                    .max(1)
                    .checked_mul(s)
                    .and_then(|v| v.checked_add(total))
                else {
                    break;
                };
                total = t;
                current = 0;
            }
            last_unit = false;
        } else if word == "and"
            && any
            && w.get(used.wrapping_sub(1))
                .is_some_and(|p| scale(p).is_some())
            && w.get(used + 1)
                .is_some_and(|n| unit(n).is_some() || tens(n).is_some())
        {
            last_unit = false;
        } else {
            break;
        }
        any = true;
        used += 1;
    }
    // "and" is never the last word used.
    while used > 0 && w[used - 1] == "and" {
        used -= 1;
    }
    any.then_some((total.saturating_add(current), used))
        .filter(|(_, n)| *n > 0)
}

/// A number, integer or not: "25", "2.5", "two point five", "a couple",
/// "two and a half", "one hundred and three".
pub fn number(w: &[String]) -> Option<(f64, usize)> {
    if let Some(first) = w.first()
        && first.contains('.')
        && let Ok(v) = first.parse::<f64>()
    {
        return v.is_finite().then_some((v, 1));
    }
    if let Some(i) = idiom(w) {
        return Some(i);
    }
    let (int, mut used) = integer(w)?;
    let mut value = int as f64;
    // "two point five": digits after the point, one word each.
    if w.get(used).is_some_and(|p| p == "point") {
        let mut frac = String::new();
        let mut k = used + 1;
        while let Some(d) = w.get(k).and_then(|d| {
            unit(d)
                .filter(|u| *u < 10)
                .or_else(|| d.parse::<u64>().ok().filter(|u| *u < 10))
        }) {
            if frac.len() >= 12 {
                break;
            }
            frac.push(char::from(b'0' + d as u8));
            k += 1;
        }
        if !frac.is_empty() {
            value += format!("0.{frac}").parse::<f64>().unwrap_or(0.0);
            used = k;
        }
    }
    // "two and a half", "an hour and a quarter" are durations' business; numbers take "and a half".
    if w.get(used).is_some_and(|a| a == "and")
        && let Some((f, n)) = idiom(&w[used + 1..]).filter(|(f, _)| *f < 1.0)
    {
        value += f;
        used += 1 + n;
    }
    Some((value, used))
}

fn ordinal_word(w: &str) -> Option<u64> {
    Some(match w {
        "first" => 1,
        "second" => 2,
        "third" => 3,
        "fourth" => 4,
        "fifth" => 5,
        "sixth" => 6,
        "seventh" => 7,
        "eighth" => 8,
        "ninth" => 9,
        "tenth" => 10,
        "eleventh" => 11,
        "twelfth" => 12,
        "thirteenth" => 13,
        "fourteenth" => 14,
        "fifteenth" => 15,
        "sixteenth" => 16,
        "seventeenth" => 17,
        "eighteenth" => 18,
        "nineteenth" => 19,
        "twentieth" => 20,
        "thirtieth" => 30,
        "fortieth" => 40,
        "fiftieth" => 50,
        "sixtieth" => 60,
        "seventieth" => 70,
        "eightieth" => 80,
        "ninetieth" => 90,
        "hundredth" => 100,
        _ => return None,
    })
}

/// An ordinal: "first", "21st", "twenty first", "twenty-third".
pub fn ordinal(w: &[String]) -> Option<(u64, usize)> {
    let first = w.first()?.as_str();
    for suffix in ["st", "nd", "rd", "th"] {
        if let Some(d) = first.strip_suffix(suffix)
            && !d.is_empty()
            && d.chars().all(|c| c.is_ascii_digit())
        {
            return d.parse().ok().map(|v| (v, 1));
        }
    }
    if let Some(v) = ordinal_word(first) {
        return Some((v, 1));
    }
    let t = tens(first)?;
    let u = ordinal_word(w.get(1)?)?;
    (u < 10).then_some((t + u, 2))
}

/// A duration in seconds: "ten minutes", "an hour and a half", "1 hour 30
/// minutes", "ninety seconds", "half an hour", "2.5 hours".
pub fn duration(w: &[String]) -> Option<(f64, usize)> {
    fn unit_seconds(w: &str) -> Option<f64> {
        Some(match w {
            "second" | "seconds" | "sec" | "secs" | "s" => 1.0,
            "minute" | "minutes" | "min" | "mins" => 60.0,
            "hour" | "hours" | "hr" | "hrs" | "h" => 3600.0,
            "day" | "days" => 86_400.0,
            _ => return None,
        })
    }
    let mut total = 0.0;
    let mut used = 0;
    loop {
        let rest = &w[used..];
        // "half an hour", "a quarter of an hour"
        let article = |i: usize| rest.get(i).is_some_and(|a| a == "an" || a == "a");
        let (n, k) = if rest.first().is_some_and(|h| h == "half") && article(1) {
            (0.5, 2)
        } else if article(0) && rest.get(1).is_some_and(|u| unit_seconds(u).is_some()) {
            // "an hour", "a minute"
            (1.0, 1)
        } else if let Some((n, k)) = number(rest) {
            // "a couple of minutes", "a quarter of an hour"
            let mut k = k;
            if rest.get(k).is_some_and(|o| o == "of") {
                k += 1;
                if article(k) {
                    k += 1;
                }
            }
            (n, k)
        } else {
            break;
        };
        let Some(secs) = rest.get(k).and_then(|u| unit_seconds(u)) else {
            break;
        };
        let mut amount = n * secs;
        let mut k = k + 1;
        // "an hour and a half": the half is of the unit just named.
        if rest.get(k).is_some_and(|a| a == "and")
            && let Some((f, m)) = idiom(&rest[k + 1..]).filter(|(f, _)| *f < 1.0)
        {
            amount += f * secs;
            k += 1 + m;
        }
        total += amount;
        used += k;
        // "1 hour 30 minutes", "one hour and ten minutes"
        if w.get(used).is_some_and(|a| a == "and") && number(&w[used + 1..]).is_some() {
            used += 1;
            continue;
        }
        if number(&w[used..]).is_none() {
            break;
        }
    }
    while used > 0 && w[used - 1] == "and" {
        used -= 1;
    }
    (used > 0).then_some((total, used))
}

/// A time of day, as minutes after midnight, and whether the half of the
/// day was said (am, pm, "in the evening", noon, midnight) or is left to the
/// caller to resolve against the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TimeOfDay {
    /// Minutes after midnight, 0 to 1439.
    pub minutes: u32,
    /// Whether am or pm was said (or implied by the hour, e.g. 19:00).
    pub half_known: bool,
}

/// A time of day: "7:15 pm", "quarter past seven", "half past six in the
/// evening", "ten to eight", "seven thirty", "19:45", "noon", "midnight",
/// "seven o'clock", "7 am".
pub fn time_of_day(w: &[String]) -> Option<(TimeOfDay, usize)> {
    let get = |i: usize| w.get(i).map(String::as_str);
    let mut used;
    let (mut hour, mut minute): (u32, u32);
    match get(0)? {
        "noon" | "midday" => {
            return Some((
                TimeOfDay {
                    minutes: 12 * 60,
                    half_known: true,
                },
                1,
            ));
        }
        "midnight" => {
            return Some((
                TimeOfDay {
                    minutes: 0,
                    half_known: true,
                },
                1,
            ));
        }
        _ => {}
    }
    // "7:15", "19:45"
    if let Some((h, m)) = get(0)?.split_once(':').or_else(|| get(0)?.split_once('.')) {
        hour = h.parse().ok()?;
        minute = m.parse().ok()?;
        used = 1;
    } else if let Some((frac, k)) = idiom(w).filter(|(f, _)| *f < 1.0).or_else(|| {
        number(w).filter(|(_, k)| {
            get(*k) == Some("past")
                || get(*k) == Some("to")
                || get(*k) == Some("after")
                || get(*k) == Some("before")
        })
    }) {
        // "quarter past seven", "half past six", "ten to eight", "twenty after five"
        let rel = get(k)?;
        let (h, kh) = integer(&w[k + 1..])?;
        let m = if frac < 1.0 {
            (frac * 60.0).round() as u32
        } else {
            frac as u32
        };
        if m >= 60 || h > 23 {
            return None;
        }
        hour = h as u32;
        minute = match rel {
            "past" | "after" => m,
            "to" | "before" => {
                hour = (hour + 23) % 24;
                60 - m
            }
            _ => return None,
        };
        if minute == 60 {
            minute = 0;
            hour = (hour + 1) % 24;
        }
        used = k + 1 + kh;
    } else {
        // "seven", "seven thirty", "seven oh five", "7 15"
        let (h, k) = integer(w)?;
        hour = u32::try_from(h).ok()?;
        used = k;
        minute = 0;
        if get(used) == Some("oh") {
            if let Some((m, km)) = integer(&w[used + 1..]).filter(|(m, _)| *m < 10) {
                minute = m as u32;
                used += 1 + km;
            }
        } else if let Some((m, km)) = integer(&w[used..]).filter(|(m, _)| (10..60).contains(m)) {
            minute = m as u32;
            used += km;
        }
    }
    if hour > 23 || minute > 59 {
        return None;
    }
    if get(used) == Some("o'clock")
        || get(used) == Some("oclock")
        || (get(used) == Some("o") && get(used + 1) == Some("clock"))
    {
        used += if get(used) == Some("o") { 2 } else { 1 };
    }
    let mut half_known = hour >= 13 || hour == 0;
    match (get(used), get(used + 1), get(used + 2)) {
        (Some("am" | "a.m"), _, _) | (Some("a"), Some("m"), _) => {
            if hour > 12 {
                return None;
            }
            hour %= 12;
            half_known = true;
            used += if get(used) == Some("a") { 2 } else { 1 };
        }
        (Some("pm" | "p.m"), _, _) | (Some("p"), Some("m"), _) => {
            if hour > 12 {
                return None;
            }
            hour = hour % 12 + 12;
            half_known = true;
            used += if get(used) == Some("p") { 2 } else { 1 };
        }
        (Some("in"), Some("the"), Some(part @ ("morning" | "afternoon" | "evening"))) => {
            if part != "morning" && hour < 12 {
                hour += 12;
            }
            if part == "morning" && hour == 12 {
                hour = 0;
            }
            half_known = true;
            used += 3;
        }
        (Some("at"), Some("night"), _) | (Some("tonight"), _, _) => {
            if (5..12).contains(&hour) {
                hour += 12;
            }
            half_known = true;
            used += if get(used) == Some("at") { 2 } else { 1 };
        }
        _ => {}
    }
    Some((
        TimeOfDay {
            minutes: hour * 60 + minute,
            half_known,
        },
        used,
    ))
}

/// A percentage: "fifty percent", "50%", "a hundred per cent".
pub fn percentage(w: &[String]) -> Option<(f64, usize)> {
    let (n, k) = number(w)?;
    match (
        w.get(k).map(String::as_str),
        w.get(k + 1).map(String::as_str),
    ) {
        (Some("percent"), _) => Some((n, k + 1)),
        (Some("per"), Some("cent")) => Some((n, k + 2)),
        _ => None,
    }
}

/// Temperature scales.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Scale {
    /// Celsius.
    Celsius,
    /// Fahrenheit.
    Fahrenheit,
    /// Not said: the user's default applies.
    Unspecified,
}

/// A temperature: "21 degrees", "minus five degrees celsius", "seventy
/// degrees fahrenheit", "20 °C".
pub fn temperature(w: &[String]) -> Option<((f64, Scale), usize)> {
    let (sign, skip) = match w.first().map(String::as_str) {
        Some("minus" | "negative") => (-1.0, 1),
        _ => (1.0, 0),
    };
    let (n, k) = number(&w[skip..])?;
    let mut used = skip + k;
    let degrees = w.get(used).is_some_and(|d| d == "degrees" || d == "degree");
    if degrees {
        used += 1;
    }
    let scale = match w.get(used).map(String::as_str) {
        Some("celsius" | "centigrade" | "c") => Scale::Celsius,
        Some("fahrenheit" | "f") => Scale::Fahrenheit,
        _ => Scale::Unspecified,
    };
    if scale != Scale::Unspecified {
        used += 1;
    } else if !degrees {
        return None;
    }
    Some(((sign * n, scale), used))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::words;

    /// Run `parser` on `input` and describe the result as "value/words used", or "none".
    fn check<T: std::fmt::Debug>(
        parser: fn(&[String]) -> Option<(T, usize)>,
        input: &str,
        expect: &str,
    ) {
        let w = words(input);
        let got = match parser(&w) {
            Some((v, n)) => format!("{v:?}/{n}"),
            None => "none".to_string(),
        };
        assert_eq!(got, expect, "input {input:?} ({w:?})");
    }

    #[test]
    fn words_normalise() {
        // The parsers' words are the matcher's: one tokenizer for both.
        assert_eq!(words("Twenty-five, please!"), ["twenty", "five", "please"]);
        assert_eq!(words("50% off"), ["50", "percent", "off"]);
        assert_eq!(words("1,000 and 2.5"), ["1000", "and", "2.5"]);
    }

    #[test]
    fn spelled_numbers_read_back() {
        for n in [0, 7, 19, 20, 42, 100, 103, 999, 1000, 2026, 999_999] {
            let w = words(&spell(n));
            assert_eq!(integer(&w), Some((n, w.len())), "{n}: {}", spell(n));
        }
        assert_eq!(spell(123), "one hundred twenty three");
    }

    #[test]
    fn integers() {
        check(integer, "25", "25/1");
        check(integer, "twenty five minutes", "25/2");
        check(integer, "twenty-five", "25/2");
        check(integer, "one hundred and three", "103/4");
        check(integer, "a hundred", "100/2");
        check(integer, "two thousand and twenty six", "2026/5");
        check(integer, "nineteen eighty four", "19/1");
        check(integer, "five five", "5/1");
        check(integer, "three hundred", "300/2");
        check(integer, "seven and", "7/1");
        // Regression (two_and_three_read_as_five): "and" joins a number
        // only after a scale word ("a hundred and three"), so "the sum of
        // two and three" has two numbers in it.
        check(integer, "two and three", "2/1");
        check(integer, "twenty and five", "20/1");
        check(integer, "a lamp", "none");
        check(integer, "lights", "none");
        check(integer, "one million two hundred thousand", "1200000/5");
    }

    /// Number words of other languages (text2num), as HA's ranges read
    /// them; digits as [`integer`] reads them.
    #[test]
    fn integers_in_other_languages() {
        let fr = |w: &[String]| integer_in(NumberWords::French, w);
        check(fr, "une heure", "1/1");
        check(fr, "vingt et un", "21/3");
        check(fr, "vingt-deux minutes", "22/2");
        check(fr, "quatre vingt dix", "90/3");
        check(fr, "cent", "100/1");
        check(fr, "12 minutes", "12/1");
        check(fr, "heure", "none");
        check(fr, "lumière", "none");
        let de = |w: &[String]| integer_in(NumberWords::German, w);
        check(de, "einundzwanzig", "21/1");
        check(de, "zwei Stunden", "2/1");
        let es = |w: &[String]| integer_in(NumberWords::Spanish, w);
        check(es, "treinta y cinco", "35/3");
        // Regression (number_words_past_u64_panicked): a million and more
        // is no number here, never an overflow.
        check(de, "zwanzig millionen billion", "20/1");
        check(de, "zwanzigmillionenbillion", "none");
        let nl = |w: &[String]| integer_in(NumberWords::Dutch, w);
        check(nl, "twintig miljoen biljoen", "20/1");
        let it = |w: &[String]| integer_in(NumberWords::Italian, w);
        check(it, "venti milioni bilioni", "20/1");
        for l in [
            NumberWords::Danish,
            NumberWords::German,
            NumberWords::Spanish,
            NumberWords::French,
            NumberWords::Italian,
            NumberWords::Dutch,
            NumberWords::Portuguese,
        ] {
            assert_eq!(integer_in(l, &[String::new()]), None, "{l:?}");
            assert_eq!(integer_in(l, &[]), None, "{l:?}");
        }
        assert_eq!(NumberWords::of("pt-BR"), Some(NumberWords::Portuguese));
        assert_eq!(NumberWords::of("fr"), Some(NumberWords::French));
        assert_eq!(NumberWords::of("en"), None);
        assert_eq!(NumberWords::of("tr"), None);
        assert_eq!(NumberWords::of(""), None);
    }

    #[test]
    fn numbers() {
        check(number, "2.5", "2.5/1");
        check(number, "two point five", "2.5/3");
        check(number, "a couple", "2.0/2");
        check(number, "a dozen eggs", "12.0/2");
        check(number, "two and a half", "2.5/4");
        check(number, "three", "3.0/1");
        check(number, "half", "0.5/1");
        check(number, "nan", "none");
    }

    #[test]
    fn ordinals() {
        check(ordinal, "first", "1/1");
        check(ordinal, "21st", "21/1");
        check(ordinal, "twenty first", "21/2");
        check(ordinal, "twenty-third floor", "23/2");
        check(ordinal, "twelfth", "12/1");
        check(ordinal, "twenty", "none");
        check(ordinal, "st", "none");
    }

    #[test]
    fn durations() {
        check(duration, "ten minutes", "600.0/2");
        check(duration, "an hour and a half", "5400.0/5");
        check(duration, "1 hour 30 minutes", "5400.0/4");
        check(duration, "one hour and ten minutes", "4200.0/5");
        check(duration, "ninety seconds", "90.0/2");
        check(duration, "half an hour", "1800.0/3");
        check(duration, "2.5 hours", "9000.0/2");
        check(duration, "a couple of minutes", "120.0/4");
        check(duration, "five minutes and then", "300.0/2");
        check(duration, "five", "none");
        check(duration, "minutes", "none");
    }

    #[test]
    fn percentages() {
        check(percentage, "fifty percent", "50.0/2");
        check(percentage, "50%", "50.0/2");
        check(percentage, "a hundred per cent", "100.0/4");
        check(percentage, "fifty", "none");
    }

    /// Every parser on every three-word sequence of a vocabulary chosen to
    /// provoke edge cases: no panic, and never more words used than given.
    #[test]
    fn no_word_sequence_panics() {
        let vocab = [
            "a",
            "an",
            "and",
            "half",
            "hundred",
            "million",
            "thousand",
            "twenty",
            "one",
            "point",
            "five",
            "of",
            "minutes",
            "hour",
            "degrees",
            "percent",
            "per",
            "cent",
            "minus",
            "first",
            "21st",
            "0",
            "2.5",
            "99999999999999999999",
            "quarter",
            "couple",
            "no",
        ];
        let mut w = vec![String::new(); 3];
        for a in vocab {
            for b in vocab {
                for c in vocab {
                    w[0] = a.into();
                    w[1] = b.into();
                    w[2] = c.into();
                    for k in 0..=3 {
                        let s = &w[..k];
                        assert!(integer(s).is_none_or(|(_, n)| n <= k));
                        assert!(number(s).is_none_or(|(_, n)| n <= k));
                        assert!(ordinal(s).is_none_or(|(_, n)| n <= k));
                        assert!(duration(s).is_none_or(|(_, n)| n <= k));
                        assert!(percentage(s).is_none_or(|(_, n)| n <= k));
                        assert!(temperature(s).is_none_or(|(_, n)| n <= k));
                        assert!(time_of_day(s).is_none_or(|(t, n)| n <= k && t.minutes < 1440));
                        let today = crate::date::Date::new(2026, 11, 22).unwrap();
                        assert!(crate::date::relative_date(s, today).is_none_or(|(_, n)| n <= k));
                    }
                }
            }
        }
        let long: Vec<String> = std::iter::repeat_n("hundred".to_string(), 40).collect();
        let mut with_one = vec!["one".to_string()];
        with_one.extend(long);
        assert!(integer(&with_one).is_some());
    }

    #[test]
    fn times_of_day() {
        let t = |m: u32, known: bool| TimeOfDay {
            minutes: m,
            half_known: known,
        };
        let case = |input: &str, want: Option<(TimeOfDay, usize)>| {
            assert_eq!(time_of_day(&words(input)), want, "input {input:?}");
        };
        case("7:15 pm", Some((t(19 * 60 + 15, true), 2)));
        case("quarter past seven", Some((t(7 * 60 + 15, false), 3)));
        case(
            "half past six in the evening",
            Some((t(18 * 60 + 30, true), 6)),
        );
        case("ten to eight", Some((t(7 * 60 + 50, false), 3)));
        case("a quarter to midnight", None);
        case("seven thirty", Some((t(7 * 60 + 30, false), 2)));
        case("seven oh five am", Some((t(7 * 60 + 5, true), 4)));
        case("19:45", Some((t(19 * 60 + 45, true), 1)));
        case("noon", Some((t(12 * 60, true), 1)));
        case("midnight", Some((t(0, true), 1)));
        case("seven o'clock", Some((t(7 * 60, false), 2)));
        case("12 am", Some((t(0, true), 2)));
        case("12 pm", Some((t(12 * 60, true), 2)));
        case("nine at night", Some((t(21 * 60, true), 3)));
        case("25:00", None);
        case("seven sixty", Some((t(7 * 60, false), 1)));
        case("lights", None);
    }

    #[test]
    fn temperatures() {
        check(temperature, "21 degrees", "(21.0, Unspecified)/2");
        check(
            temperature,
            "minus five degrees celsius",
            "(-5.0, Celsius)/4",
        );
        check(
            temperature,
            "seventy degrees fahrenheit",
            "(70.0, Fahrenheit)/3",
        );
        check(temperature, "20 c", "(20.0, Celsius)/2");
        check(temperature, "twenty", "none");
    }
}
