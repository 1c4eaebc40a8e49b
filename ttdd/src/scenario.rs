//! Scenario files (YAML): who speaks, what and when, in what room, and what
//! must happen. Every error names the file, line and column.
//!
//! ```yaml
//! name: kitchen light, interrupting the help text
//! voice: { rate_wpm: 150, pitch: 40 }    # the user's synthesised voice
//! room: { rt60_ms: 300, noise_snr_db: 20 }
//! turns:
//!   - say: What can you do?
//!     expect: { intent: help, reply: "I can tell you" }
//!   - say: Turn on the kitchen light.
//!     cue: { into_reply: 2.0 }           # 2 s after the reply starts: over it
//!     expect:
//!       barge_in: true
//!       tool_calls: [{ tool: device.on, args: { device: kitchen light } }]
//!   - recording: rhasspy/what_time_is_it.wav   # below the shared speech folder
//!     expect: { intent: clock_time, latency_ms: 600, wer: 0.2 }
//! budgets: { voice_to_voice_p95_ms: 600 }
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Error, Result};

/// A scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A short name, unique in its suite.
    pub name: String,
    /// What it checks, for people.
    #[serde(default)]
    pub description: String,
    /// Tags to pick scenarios by.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The user's synthesised voice (espeak-ng).
    #[serde(default)]
    pub voice: VoiceSpec,
    /// The room.
    #[serde(default)]
    pub room: RoomSpec,
    /// Time the session starts at, Unix seconds (the skills' clock;
    /// default 2026-01-01 00:00 UTC).
    #[serde(default)]
    pub start_unix: Option<i64>,
    /// The zone the skills tell time in, an IANA name (default UTC).
    #[serde(default)]
    pub time_zone: Option<String>,
    /// The user's turns, in order.
    pub turns: Vec<Turn>,
    /// Limits over the whole scenario.
    #[serde(default)]
    pub budgets: Budgets,
}

/// The user's voice.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VoiceSpec {
    /// espeak-ng voice name.
    pub name: String,
    /// Words a minute.
    pub rate_wpm: u32,
    /// Pitch, 0 to 100.
    pub pitch: u32,
}

impl Default for VoiceSpec {
    fn default() -> VoiceSpec {
        VoiceSpec {
            name: "en-us".into(),
            rate_wpm: 150,
            pitch: 40,
        }
    }
}

/// The room and the devices in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoomSpec {
    /// Reverberation time.
    pub rt60_ms: u32,
    /// Speaker-to-microphone delay: distance and device latency.
    pub delay_ms: u32,
    /// Gain of the direct path from speaker to microphone.
    pub echo_gain: f32,
    /// Background noise, dB below the user's speech; none if absent.
    pub noise_snr_db: Option<f32>,
    /// Seed for the room's tail and noise.
    pub seed: u64,
}

impl Default for RoomSpec {
    fn default() -> RoomSpec {
        RoomSpec {
            rt60_ms: 300,
            delay_ms: 10,
            echo_gain: 0.5,
            noise_snr_db: None,
            seed: 1,
        }
    }
}

/// When a turn is said.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawCue", into = "RawCue")]
pub enum Cue {
    /// Seconds after the assistant's reply (to the turn before) ends.
    AfterReply(f64),
    /// Seconds after the assistant's reply starts: over it.
    IntoReply(f64),
    /// At this many seconds from the start.
    At(f64),
}

/// A cue as written: `{ after_reply: S }`, `{ into_reply: S }` or `{ at: S }`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCue {
    #[serde(skip_serializing_if = "Option::is_none")]
    after_reply: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    into_reply: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    at: Option<f64>,
}

impl TryFrom<RawCue> for Cue {
    type Error = String;
    fn try_from(r: RawCue) -> std::result::Result<Cue, String> {
        match (r.after_reply, r.into_reply, r.at) {
            (Some(s), None, None) => Ok(Cue::AfterReply(s)),
            (None, Some(s), None) => Ok(Cue::IntoReply(s)),
            (None, None, Some(s)) => Ok(Cue::At(s)),
            _ => Err("cue: one of after_reply, into_reply or at (seconds)".into()),
        }
    }
}

impl From<Cue> for RawCue {
    fn from(c: Cue) -> RawCue {
        match c {
            Cue::AfterReply(s) => RawCue {
                after_reply: Some(s),
                ..RawCue::default()
            },
            Cue::IntoReply(s) => RawCue {
                into_reply: Some(s),
                ..RawCue::default()
            },
            Cue::At(s) => RawCue {
                at: Some(s),
                ..RawCue::default()
            },
        }
    }
}

impl Default for Cue {
    fn default() -> Cue {
        Cue::AfterReply(1.0)
    }
}

/// One user turn, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTurn {
    say: Option<String>,
    recording: Option<String>,
    /// What a recording says (for the word error rate).
    text: Option<String>,
    #[serde(default)]
    cue: Cue,
    #[serde(default)]
    expect: Expect,
}

/// One user turn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawTurn", into = "RawTurn")]
pub struct Turn {
    /// What is said.
    pub speech: Speech,
    /// When.
    pub cue: Cue,
    /// What must happen.
    pub expect: Expect,
}

/// Where a turn's audio comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Speech {
    /// Synthesised from these words.
    Say(String),
    /// A recording below the shared speech folder, and what it says if known.
    Recording {
        /// Path below `speech/`.
        path: String,
        /// Its words, for the word error rate.
        text: Option<String>,
    },
}

impl Speech {
    /// The words said, if known.
    pub fn words(&self) -> Option<&str> {
        match self {
            Speech::Say(t) => Some(t),
            Speech::Recording { text, .. } => text.as_deref(),
        }
    }
}

impl TryFrom<RawTurn> for Turn {
    type Error = String;
    fn try_from(r: RawTurn) -> std::result::Result<Turn, String> {
        let speech = match (r.say, r.recording) {
            (Some(s), None) if !s.trim().is_empty() => Speech::Say(s),
            (Some(_), None) => return Err("`say` is empty".into()),
            (None, Some(p)) => {
                if p.starts_with('/') || p.split('/').any(|c| c == "..") {
                    return Err(format!("recording {p:?}: a path below the speech folder"));
                }
                Speech::Recording {
                    path: p,
                    text: r.text,
                }
            }
            (Some(_), Some(_)) => return Err("a turn has `say` or `recording`, not both".into()),
            (None, None) => return Err("a turn needs `say` (words) or `recording` (a file)".into()),
        };
        let secs = match r.cue {
            Cue::AfterReply(s) | Cue::IntoReply(s) | Cue::At(s) => s,
        };
        if !(0.0..=600.0).contains(&secs) {
            return Err(format!("cue: {secs} s is not between 0 and 600"));
        }
        r.expect.check()?;
        Ok(Turn {
            speech,
            cue: r.cue,
            expect: r.expect,
        })
    }
}

impl From<Turn> for RawTurn {
    fn from(t: Turn) -> RawTurn {
        let (say, recording, text) = match t.speech {
            Speech::Say(s) => (Some(s), None, None),
            Speech::Recording { path, text } => (None, Some(path), text),
        };
        RawTurn {
            say,
            recording,
            text,
            cue: t.cue,
            expect: t.expect,
        }
    }
}

/// A tool call expected.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolExpect {
    /// The tool.
    pub tool: String,
    /// Arguments it must have (a subset; numbers compared as numbers).
    #[serde(default)]
    pub args: Option<Value>,
    /// Its outcome (`done`, `failed`, ...).
    #[serde(default)]
    pub status: Option<String>,
}

/// What must happen between this turn and the next.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Expect {
    /// The intent understood.
    pub intent: Option<String>,
    /// Slots it must have (a subset).
    pub slots: Option<BTreeMap<String, Value>>,
    /// The tool calls made, in order (`[]`: none).
    pub tool_calls: Option<Vec<ToolExpect>>,
    /// Whether the user is asked to approve something.
    pub approval: Option<bool>,
    /// Text the reply contains (any case); several: one of them.
    pub reply: Option<OneOrMany>,
    /// Word error rate of the transcript at most.
    pub wer: Option<f64>,
    /// End of speech to the reply's first audio, at most, ms.
    pub latency_ms: Option<f64>,
    /// Whether the assistant is interrupted (its reply dropped).
    pub barge_in: Option<bool>,
    /// Whether the assistant goes on after falling silent (a backchannel).
    pub resumed: Option<bool>,
    /// Whether a stop word stops it.
    pub stopped: Option<bool>,
    /// Whether it says nothing in reply.
    pub silent: Option<bool>,
    /// Whether the assistant starts talking while the user still is.
    pub over_user: Option<bool>,
}

/// One string or several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum OneOrMany {
    /// One.
    One(String),
    /// Any of these.
    Many(Vec<String>),
}

impl OneOrMany {
    /// The alternatives.
    pub fn all(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(s) => vec![s],
            OneOrMany::Many(v) => v.iter().map(String::as_str).collect(),
        }
    }
}

impl Expect {
    fn check(&self) -> std::result::Result<(), String> {
        if let Some(w) = self.wer
            && !(0.0..=1.0).contains(&w)
        {
            return Err(format!("expect.wer: {w} is not between 0 and 1"));
        }
        if let Some(l) = self.latency_ms
            && !(l > 0.0 && l <= 60_000.0)
        {
            return Err(format!("expect.latency_ms: {l} is not between 0 and 60000"));
        }
        if self
            .reply
            .as_ref()
            .is_some_and(|r| r.all().iter().any(|s| s.is_empty()))
        {
            return Err("expect.reply: an empty pattern matches everything".into());
        }
        Ok(())
    }
}

/// Limits over a scenario.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Budgets {
    /// Voice-to-voice latency, 95th percentile, ms.
    pub voice_to_voice_p95_ms: Option<f64>,
    /// Barge-in stop latency, largest, ms.
    pub barge_in_stop_ms: Option<f64>,
}

/// Parses a scenario file's text; `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Scenario> {
    let s: Scenario = serde_norway::from_str(text).map_err(|e| {
        let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
        Error::Scenario {
            file: file.to_string(),
            line,
            column,
            message: e
                .to_string()
                .split(" at line ")
                .next()
                .unwrap_or_default()
                .to_string(),
        }
    })?;
    let at_top = |message: String| Error::Scenario {
        file: file.to_string(),
        line: 1,
        column: 1,
        message,
    };
    if s.name.trim().is_empty() {
        return Err(at_top("`name` is empty".into()));
    }
    if s.turns.is_empty() {
        return Err(at_top("a scenario needs at least one turn".into()));
    }
    if s.turns.len() > 200 {
        return Err(at_top("at most 200 turns".into()));
    }
    if s.voice.rate_wpm < 80 || s.voice.rate_wpm > 450 || s.voice.pitch > 100 {
        return Err(at_top("voice: rate_wpm 80 to 450, pitch 0 to 100".into()));
    }
    if s.room
        .noise_snr_db
        .is_some_and(|n| !(-10.0..=80.0).contains(&n))
    {
        return Err(at_top("room.noise_snr_db: between -10 and 80".into()));
    }
    if let Some(z) = &s.time_zone
        && let Err(e) = jiff::tz::TimeZone::get(z)
    {
        return Err(at_top(format!("time_zone {z:?}: {e}")));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        parse("s.yaml", text).expect_err("malformed").to_string()
    }

    #[test]
    fn a_full_scenario_parses() {
        let s = parse(
            "s.yaml",
            "name: n\nroom: { noise_snr_db: 20 }\nturns:\n  - say: What time is it?\n    expect: { intent: clock_time, reply: [\"It's\", \"It is\"] }\n  - recording: rhasspy/what_time_is_it.wav\n    text: what time is it\n    cue: { into_reply: 1.5 }\n    expect:\n      tool_calls: [{ tool: clock.time }]\n      barge_in: true\n",
        )
        .expect("parses");
        assert_eq!(s.turns.len(), 2);
        assert_eq!(s.turns[0].cue, Cue::AfterReply(1.0));
        assert_eq!(s.turns[1].cue, Cue::IntoReply(1.5));
        assert_eq!(s.turns[1].speech.words(), Some("what time is it"));
        assert_eq!(s.room.noise_snr_db, Some(20.0));
        assert_eq!(
            s.turns[0].expect.reply.as_ref().map(OneOrMany::all),
            Some(vec!["It's", "It is"])
        );
    }

    #[test]
    fn errors_name_the_line_and_column() {
        let e = err("name: n\nturns:\n  - say: hi\n    expct: { intent: x }\n");
        assert!(e.starts_with("s.yaml:4:"), "{e}");
        assert!(e.contains("expct"), "{e}");
        let e = err("name: n\nturns:\n  - say: hi\n  - recording: a.wav\n    say: both\n");
        // A turn that breaks a rule of its own is placed at its list.
        assert!(e.starts_with("s.yaml:3:"), "{e}");
        assert!(e.contains("not both"), "{e}");
        let e = err("name: n\nturns: [ { say: hi, cue: { soon: 1 } } ]\n");
        assert!(e.starts_with("s.yaml:2:"), "{e}");
        let e = err("name: [unclosed\n");
        assert!(e.starts_with("s.yaml:"), "{e}");
        assert!(err("name: n\nturns: []\n").contains("at least one turn"));
        assert!(
            err("name: n\ntime_zone: Mars/Olympus\nturns:\n  - say: x\n")
                .contains("time_zone \"Mars/Olympus\"")
        );
        assert!(
            err("name: n\nturns:\n  - recording: ../../etc/passwd\n")
                .contains("below the speech folder")
        );
        assert!(err("name: n\nturns:\n  - say: x\n    expect: { wer: 3 }\n").contains("wer"));
        assert!(err("name: n\nturns:\n  - say: x\n    cue: { at: -1 }\n").contains("cue"));
        assert!(err("turns:\n  - say: x\n").contains("name"));
    }
}
