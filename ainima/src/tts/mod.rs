//! Text to speech: the [`TextToSpeech`] trait, sentence splitting, and the
//! espeak-ng engine (libespeak-ng in process, on a thread of its own).

#[cfg(feature = "espeak")]
pub mod espeak;

use crate::Result;

/// A voice and how it speaks.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Voice {
    /// The synthesiser's voice name (`en-us`, `en-gb`, `en-us+f3`).
    pub name: String,
    /// Words a minute, 80 to 450.
    pub rate_wpm: u32,
    /// Base pitch, 0 to 100 (50 is the voice's own).
    pub pitch: u32,
}

impl Default for Voice {
    fn default() -> Voice {
        Voice {
            name: "en-us".into(),
            rate_wpm: 175,
            pitch: 50,
        }
    }
}

impl Voice {
    /// Checks the ranges; the error names the field.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(crate::Error::Speech(m.to_string()));
        if self.name.is_empty() || self.name.len() > 64 || self.name.contains(['\0', '/']) {
            return bad("voice.name: a voice name such as en-us");
        }
        if !(80..=450).contains(&self.rate_wpm) {
            return bad("voice.rate_wpm: between 80 and 450 words a minute");
        }
        if self.pitch > 100 {
            return bad("voice.pitch: between 0 and 100");
        }
        Ok(())
    }
}

/// One sentence's speech.
#[derive(Debug, Clone, PartialEq)]
pub struct Sentence {
    /// Which sentence of the text, from 0.
    pub index: usize,
    /// Its words.
    pub text: String,
    /// 16 kHz mono.
    pub audio: Vec<f32>,
}

/// A speech synthesiser producing 16 kHz mono audio.
pub trait TextToSpeech: Send {
    /// Speaks `text` sentence by sentence: each sentence goes to `sink` as
    /// soon as it is made; `sink` returns `false` to stop (a barge-in), and
    /// no further sentence is made.
    fn speak(&mut self, text: &str, sink: &mut dyn FnMut(Sentence) -> bool) -> Result<()>;

    /// The engine and voice.
    fn name(&self) -> String;

    /// All of `text`'s speech at once.
    fn speak_all(&mut self, text: &str) -> Result<Vec<f32>> {
        let mut all = Vec::new();
        self.speak(text, &mut |s| {
            all.extend_from_slice(&s.audio);
            true
        })?;
        Ok(all)
    }
}

/// Splits text into sentences at `.`, `!`, `?` or `;` followed by a space
/// or the end, keeping the punctuation (it shapes the intonation). Numbers
/// such as "2.5" and abbreviations followed by a lower-case word stay whole.
pub fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let bytes = text.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !matches!(b, b'.' | b'!' | b'?' | b';') {
            continue;
        }
        let next = bytes.get(i + 1).copied();
        let ends = match next {
            None => true,
            Some(c) if c.is_ascii_whitespace() => {
                // "e.g. the" or "Dr. smith": a lower-case word after a full
                // stop continues the sentence.
                let after = text[i + 1..].trim_start().chars().next();
                b != b'.' || !after.is_some_and(char::is_lowercase)
            }
            _ => false,
        };
        if ends {
            let s = text[start..=i].trim();
            if !s.is_empty() {
                out.push(s);
            }
            start = i + 1;
        }
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expect: &[&str]) {
        assert_eq!(sentences(text), expect, "{text:?}");
    }

    #[test]
    fn sentences_split_where_a_listener_hears_them() {
        check("", &[]);
        check("   ", &[]);
        check("Done.", &["Done."]);
        check(
            "Timer set for 2.5 minutes. Anything else?",
            &["Timer set for 2.5 minutes.", "Anything else?"],
        );
        check("Stop! Now; then go", &["Stop!", "Now;", "then go"]);
        check("It is e.g. warm. Yes", &["It is e.g. warm.", "Yes"]);
        check("Wait...   What?", &["Wait...", "What?"]);
        check("Wait... what?", &["Wait... what?"]);
        check("ünïcödé. ok", &["ünïcödé. ok"]);
    }

    #[test]
    fn voices_are_checked() {
        assert!(Voice::default().validate().is_ok());
        for bad in [
            Voice {
                rate_wpm: 10,
                ..Voice::default()
            },
            Voice {
                pitch: 101,
                ..Voice::default()
            },
            Voice {
                name: "../x".into(),
                ..Voice::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
