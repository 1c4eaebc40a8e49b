//! What a short utterance is, by its words, while the assistant talks or
//! when a turn may end: a stop word, a backchannel, noise, a request; and
//! whether a sentence is clearly unfinished. Plain rules, no model.

pub use crate::spoken::common_in_order;
use crate::text;

/// What the user said, as far as turn-taking cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// Nothing recognisable: a cough, a click, breath, Whisper's filler.
    Noise,
    /// "mm-hmm", "ok", "right": the listener is listening; go on talking.
    Backchannel,
    /// "stop", "cancel", "wait": stop talking now, always.
    Stop,
    /// Anything else: a turn of its own.
    Request,
}

/// Phrases that stop the assistant whatever it is doing.
pub const STOP: &[&str] = &[
    "stop",
    "stop it",
    "stop talking",
    "cancel",
    "cancel that",
    "wait",
    "wait a moment",
    "wait a second",
    "hold on",
    "be quiet",
    "quiet",
    "shut up",
    "enough",
    "that is enough",
    "never mind",
    "nevermind",
];

/// Listener feedback that is not a turn.
pub const BACKCHANNEL: &[&str] = &[
    "mm",
    "mmm",
    "mm hmm",
    "mhm",
    "mmhmm",
    "hmm",
    "uh huh",
    "uhhuh",
    "aha",
    "ah",
    "oh",
    "ok",
    "okay",
    "right",
    "yeah",
    "yep",
    "sure",
    "i see",
    "got it",
    "alright",
    "all right",
    "cool",
    "nice",
];

/// Backchannels that also answer a question ("Shall I?" "Okay."): when the
/// assistant has asked, these are answers.
const ANSWERS: &[&str] = &[
    "ok",
    "okay",
    "right",
    "yeah",
    "yep",
    "sure",
    "alright",
    "all right",
    "cool",
    "nice",
];

/// Words Whisper is known to produce from noise or silence.
const NOISE: &[&str] = &["", "you", "thank you", "bye", "uh", "um", "er"];

/// Words that carry no meaning at the edges of a short utterance.
const EDGE: &[&str] = &["oh", "uh", "um", "please", "ainima", "now", "just"];

/// The utterance's words, lower case, without punctuation, sound
/// annotations (`(coughing)`, `[BLANK_AUDIO]`, `*cough*`) or hyphens.
pub fn plain(heard: &str) -> String {
    let mut out = String::new();
    let mut depth = 0i32;
    for c in heard.chars() {
        match c {
            '(' | '[' | '*' if depth == 0 || c != '*' => depth += 1,
            ')' | ']' => depth = (depth - 1).max(0),
            '*' => depth = 0,
            _ if depth > 0 => {}
            '-' => out.push(' '),
            _ => out.push(c),
        }
    }
    text::tokens(&out)
        .into_iter()
        .map(|t| t.word)
        .collect::<Vec<_>>()
        .join(" ")
}

fn trimmed(words: &str) -> String {
    let mut w: Vec<&str> = words.split_whitespace().collect();
    while w.first().is_some_and(|x| EDGE.contains(x)) && w.len() > 1 {
        w.remove(0);
    }
    while w.last().is_some_and(|x| EDGE.contains(x)) && w.len() > 1 {
        w.pop();
    }
    w.join(" ")
}

/// What `heard` is. `asking` says the assistant's words end in a question,
/// so "yes", "ok" and "sure" answer it rather than acknowledge.
pub fn classify(heard: &str, asking: bool) -> Kind {
    let p = plain(heard);
    if NOISE.contains(&p.as_str()) {
        return Kind::Noise;
    }
    let t = trimmed(&p);
    if STOP.contains(&t.as_str()) {
        return Kind::Stop;
    }
    // A run of backchannel words ("yeah yeah", "ok ok right").
    let all_back = !t.is_empty()
        && (BACKCHANNEL.contains(&t.as_str())
            || BACKCHANNEL.contains(&p.as_str())
            || t.split_whitespace().all(|w| BACKCHANNEL.contains(&w)));
    let answers =
        t.split_whitespace().any(|w| ANSWERS.contains(&w)) || ANSWERS.contains(&t.as_str());
    if all_back && !(asking && answers) {
        return Kind::Backchannel;
    }
    Kind::Request
}

/// Words of a bare yes ("yes please", "that's right").
const YES: &[&str] = &[
    "yes",
    "yeah",
    "yep",
    "yup",
    "sure",
    "ok",
    "okay",
    "right",
    "correct",
    "exactly",
    "absolutely",
    "alright",
    "indeed",
    "affirmative",
];
/// Words of a bare no ("no thanks", "nope, I didn't").
const NO: &[&str] = &["no", "nope", "nah", "not", "wrong", "negative"];
/// Words a bare answer may have besides (politeness, "I do", "it is").
const ANSWER_FILLER: &[&str] = &[
    "please", "thanks", "thank", "you", "i", "do", "did", "that", "it", "is", "was", "oh", "uh",
    "um", "all", "quite",
];

/// A bare yes (`Some(true)`) or no (`Some(false)`): four words at most,
/// each a yes, a no or a word around them, and only one of the two kinds.
/// "Yes please" and "no, I didn't" are; "okay, set a timer", "sure, but the
/// kitchen light" and "no, I said the kitchen light" are not.
pub fn bare_answer(heard: &str) -> Option<bool> {
    let p = plain(heard);
    let w: Vec<&str> = p.split_whitespace().collect();
    if w.is_empty() || w.len() > 4 {
        return None;
    }
    let all = w
        .iter()
        .all(|x| YES.contains(x) || NO.contains(x) || ANSWER_FILLER.contains(x));
    let yes = w.iter().any(|x| YES.contains(x));
    let no = w.iter().any(|x| NO.contains(x));
    match (all, yes, no) {
        (true, true, false) => Some(true),
        (true, false, true) => Some(false),
        _ => None,
    }
}

/// Whether a short utterance (five words at most) ends in a stop phrase
/// that nothing before negates: "and then stop", "okay, wait", "no no
/// stop", but not "don't stop". Over the assistant's own speech the first
/// words of an interruption are often its echo, or the user's run-up; the
/// last ones say what they want.
pub fn ends_in_stop(heard: &str) -> bool {
    let p = plain(heard);
    let t = trimmed(&p);
    let w: Vec<&str> = t.split_whitespace().collect();
    if w.is_empty() || w.len() > 5 {
        return false;
    }
    (1..=3.min(w.len())).any(|n| {
        let tail = w[w.len() - n..].join(" ");
        let before = &w[..w.len() - n];
        let negated = before
            .last()
            .is_some_and(|b| ["don't", "dont", "not", "never", "no need to"].contains(b))
            || before.ends_with(&["do", "not"]);
        STOP.contains(&tail.as_str()) && !negated
    })
}

/// Words after which a sentence cannot end: "set a timer for", "turn on
/// the", "send a message to".
const DANGLING: &[&str] = &[
    "a", "an", "the", "to", "for", "of", "in", "on", "at", "by", "with", "and", "or", "but", "my",
    "your", "from", "into", "about", "than", "until", "is", "are", "was", "set", "turn", "play",
    "send", "tell", "remind", "call", "open", "add", "put", "make", "order", "move", "what",
    "which", "who", "where", "when", "how", "so", "because", "if", "that", "this", "some",
    "please", "um", "uh", "like",
];

/// Whether `heard` so far is clearly unfinished: it ends on a word a
/// sentence cannot end on, with a comma, or on a self-repair marker that
/// asks for the replacement still to come ("set a timer for five, no.").
pub fn unfinished(heard: &str) -> bool {
    let t = heard.trim_end();
    if t.ends_with(',') || t.ends_with("...") || t.ends_with('-') {
        return true;
    }
    let p = plain(t);
    let w: Vec<&str> = p.split_whitespace().collect();
    if w.last().is_some_and(|w| DANGLING.contains(w)) {
        return true;
    }
    ["no", "i mean", "make that", "no wait", "rather"]
        .iter()
        .any(|m| {
            let m: Vec<&str> = m.split(' ').collect();
            w.len() >= m.len() + 2 && w[w.len() - m.len()..] == m[..]
        })
}

/// Whether `heard` has three words or more: more than a name said to the
/// assistant before the request ("Picovoice.", "Hey Mycroft.").
pub fn sentence_of_words(heard: &str) -> bool {
    plain(heard).split_whitespace().count() >= 3
}

/// Names people call an assistant by, said before a request.
const WAKE: &[&str] = &[
    "ainima",
    "picovoice",
    "mycroft",
    "computer",
    "assistant",
    "jarvis",
    "alexa",
    "siri",
];

/// `heard` without a leading wake phrase ("Picovoice, make me a coffee",
/// "hey Mycroft, what time is it"), if it has one.
pub fn without_wake_word(heard: &str) -> Option<String> {
    let p = plain(heard);
    let mut w: Vec<&str> = p.split_whitespace().collect();
    if w.first()
        .is_some_and(|x| matches!(*x, "hey" | "hi" | "ok" | "okay"))
        && w.len() > 1
    {
        w.remove(0);
    }
    if w.first().is_some_and(|x| WAKE.contains(x)) && w.len() > 1 {
        return Some(w[1..].join(" "));
    }
    None
}

/// `heard` without one or two words before a comma that opens it: a name
/// the recogniser spelled its own way ("Pico boys, make me a coffee"), or
/// an opener ("So, what time is it"). Only for when what is left is a
/// complete request.
pub fn without_vocative(heard: &str) -> Option<String> {
    // A name the recogniser spelled its own way ("Pico boys, make me a
    // coffee"): one or two words before a comma that opens the sentence.
    let (head, rest) = heard.split_once(',')?;
    let n = plain(head).split_whitespace().count();
    let rest = plain(rest);
    ((1..=2).contains(&n) && !rest.is_empty()).then_some(rest)
}

/// Markers of a self-repair: "five, no, ten minutes", "at six, I mean
/// seven".
const REPAIR: &[&str] = &[
    "no",
    "i mean",
    "sorry",
    "actually",
    "rather",
    "make that",
    "no wait",
];

/// Readings of a self-corrected sentence, most likely first: for "set a
/// timer for five, no, ten minutes", "set a timer for ten minutes" (the
/// repair replaces the last word before the marker), then with two, three
/// words replaced. Empty when there is no repair marker inside.
pub fn repairs(heard: &str) -> Vec<String> {
    let words: Vec<String> = plain(heard)
        .split_whitespace()
        .map(str::to_string)
        .collect();
    let mut out = Vec::new();
    for marker in REPAIR {
        let m: Vec<&str> = marker.split(' ').collect();
        for at in 1..words.len() {
            if at + m.len() >= words.len() || words[at..at + m.len()] != m[..] {
                continue;
            }
            let after = &words[at + m.len()..];
            for k in 1..=at.min(3) {
                let mut w: Vec<&str> = words[..at - k].iter().map(String::as_str).collect();
                w.extend(after.iter().map(String::as_str));
                let s = w.join(" ");
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(heard: &str, asking: bool, expect: Kind) {
        assert_eq!(classify(heard, asking), expect, "{heard:?}");
    }

    /// Review of "did you mean": any yes-word anywhere was a yes, so
    /// "Okay, set a timer for five minutes" acted on the reading offered
    /// and dropped the request.
    #[test]
    fn only_a_bare_answer_answers_a_did_you_mean() {
        for (heard, expect) in [
            ("Yes.", Some(true)),
            ("Yes please.", Some(true)),
            ("That's right.", Some(true)),
            ("Okay.", Some(true)),
            ("No.", Some(false)),
            ("No, I didn't.", Some(false)),
            ("Nope.", Some(false)),
            ("Okay, set a timer for five minutes.", None),
            ("Sure, but the kitchen light instead.", None),
            ("No, I said turn on the kitchen light.", None),
            ("yes no", None),
            ("", None),
            ("stop my timer", None),
        ] {
            assert_eq!(bare_answer(heard), expect, "{heard:?}");
        }
    }

    #[test]
    fn a_short_utterance_ending_in_a_stop_phrase() {
        for (heard, expect) in [
            ("and then stop.", true),
            ("I can stop.", true),
            ("Okay, wait.", true),
            ("no no stop it", true),
            ("Stop.", true),
            ("don't stop", false),
            ("do not stop", false),
            ("never stop", false),
            ("stop the music", false),
            ("I told you many times to stop", false),
            ("", false),
        ] {
            assert_eq!(ends_in_stop(heard), expect, "{heard:?}");
        }
    }

    #[test]
    fn short_utterances_are_told_apart() {
        check("", false, Kind::Noise);
        check("(coughing)", false, Kind::Noise);
        check("[BLANK_AUDIO]", false, Kind::Noise);
        check(" you", false, Kind::Noise);
        check("Mm-hmm.", false, Kind::Backchannel);
        check("Uh-huh", false, Kind::Backchannel);
        check("Okay.", false, Kind::Backchannel);
        check("Yeah, yeah.", false, Kind::Backchannel);
        check("Right.", false, Kind::Backchannel);
        check("OK", true, Kind::Request);
        check("Mm-hmm", true, Kind::Backchannel);
        check("Stop!", false, Kind::Stop);
        check("Stop.", true, Kind::Stop);
        check("Wait.", false, Kind::Stop);
        check("Cancel that please", false, Kind::Stop);
        check("oh stop it", false, Kind::Stop);
        check("Stop the music", false, Kind::Request);
        check("What time is it?", false, Kind::Request);
        check("Okay, what time is it?", false, Kind::Request);
    }

    #[test]
    fn unfinished_sentences_are_recognised() {
        assert!(unfinished("Set a timer for"));
        assert!(unfinished("Turn on the"));
        assert!(unfinished("Send a message to Alice,"));
        assert!(!unfinished("Set a timer for five minutes."));
        assert!(!unfinished("What time is it?"));
        assert!(!unfinished(""));
        // Regression (timer_repair_cut_at_its_marker): with the words
        // transcribed early in the pause, "five, no," was taken as a
        // finished sentence and the repair cut off.
        assert!(unfinished("Set a timer for five, no."));
        assert!(unfinished("Dim the lights to forty, I mean."));
        assert!(!unfinished("No."));
        assert!(!unfinished("Set a timer for five, no, ten minutes."));
    }

    #[test]
    fn wake_words_are_taken_off() {
        assert_eq!(
            without_wake_word("Picovoice, make me a large coffee").as_deref(),
            Some("make me a large coffee")
        );
        assert_eq!(
            without_wake_word("Hey Mycroft, what time is it?").as_deref(),
            Some("what time is it")
        );
        assert_eq!(
            without_vocative("Pico boys, make me a large coffee.").as_deref(),
            Some("make me a large coffee")
        );
        assert_eq!(without_wake_word("Computer"), None);
        assert_eq!(without_wake_word("make me a coffee"), None);
    }

    #[test]
    fn self_repairs_are_read_as_corrected() {
        assert_eq!(
            repairs("Set a timer for five, no, ten minutes.")[0],
            "set a timer for ten minutes"
        );
        assert_eq!(
            repairs("Wake me at six, I mean seven.")[0],
            "wake me at seven"
        );
        assert!(repairs("No, I said ten.").len() <= 3);
        assert!(repairs("Turn on the light").is_empty());
        assert!(repairs("no").is_empty());
    }
}
