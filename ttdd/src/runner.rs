//! Running a scenario: its user turns synthesised (or read from the shared
//! recordings), said into its room on their cues while a real session runs
//! on the simulated clock; then every expectation judged against the
//! session's events.

use std::path::{Path, PathBuf};

use ainima::session::{Event, EventKind, Session};
use ainima::tts::Voice;
use ainima_audio::clock::SimClock;
use ainima_audio::room::{RoomConfig, SimRoom};
use serde::Serialize;
use serde_json::Value;

use crate::Result;
use crate::drive::{Conversation, drive};
use crate::scenario::{Cue, Expect, Scenario, Speech};

/// How scenarios are run.
#[derive(Debug, Clone)]
pub struct Options {
    /// The shared data folder (`speech/` below it), if any.
    pub data_dir: Option<PathBuf>,
    /// A scenario that needs the data fails (instead of being skipped) when
    /// it is absent.
    pub require_data: bool,
    /// Longest conversation, seconds of simulated time.
    pub max_s: f64,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            data_dir: None,
            require_data: false,
            max_s: 600.0,
        }
    }
}

/// Builds the session a scenario runs against.
pub type Factory<'a> = dyn Fn(&Scenario) -> ainima::Result<Session> + Sync + 'a;

/// How a scenario ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Every expectation held.
    Passed,
    /// At least one did not.
    Failed,
    /// It could not run here (the shared recordings are absent).
    Skipped,
}

/// What a scenario measured, for the suite's metrics.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Measures {
    /// End of the user's speech to the reply's first audio, ms, per turn.
    pub gaps_ms: Vec<f64>,
    /// The user's onset to the assistant's silence, ms, per interruption.
    pub yield_ms: Vec<f64>,
    /// Replies started while the user was speaking.
    pub spoke_over_user: usize,
    /// Replies started.
    pub replies_started: usize,
    /// Replies dropped by a barge-in or stop word.
    pub interrupted: usize,
    /// Turns meant as backchannels (expect resumed), and those resumed.
    pub backchannels: (usize, usize),
    /// The replies' words.
    pub replies: Vec<String>,
}

/// A scenario's result.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// The scenario's name.
    pub name: String,
    /// Its file.
    pub file: String,
    /// How it ended.
    pub status: Status,
    /// What did not hold, one sentence each.
    pub failures: Vec<String>,
    /// Seconds of conversation simulated.
    pub simulated_seconds: f64,
    /// What it measured.
    pub measures: Measures,
    /// Every event (kept for the report's timelines of failures).
    #[serde(skip)]
    pub events: Vec<Event>,
    /// When each turn was said (start, end), seconds.
    #[serde(skip)]
    pub said: Vec<(f64, f64, String)>,
}

fn rms_dbfs(x: &[f32]) -> f32 {
    // The level of the speech itself: frames well above silence.
    let frames: Vec<f32> = x
        .chunks(320)
        .map(|c| c.iter().map(|v| v * v).sum::<f32>() / c.len().max(1) as f32)
        .filter(|e| *e > 1e-6)
        .collect();
    if frames.is_empty() {
        return -120.0;
    }
    10.0 * libm::log10f(frames.iter().sum::<f32>() / frames.len() as f32)
}

/// Runs `s` (from `file`) with a session from `factory`.
pub fn run(s: &Scenario, file: &str, factory: &Factory<'_>, opts: &Options) -> Result<Outcome> {
    let mut outcome = Outcome {
        name: s.name.clone(),
        file: file.to_string(),
        status: Status::Passed,
        failures: Vec::new(),
        simulated_seconds: 0.0,
        measures: Measures::default(),
        events: Vec::new(),
        said: Vec::new(),
    };
    // The user's side, each line by an espeak-ng process of its own: a
    // line's audio depends on its words and voice alone, never on what the
    // process spoke before (other scenarios, other jobs, the assistant).
    let voice = Voice {
        name: s.voice.name.clone(),
        rate_wpm: s.voice.rate_wpm,
        pitch: s.voice.pitch,
    };
    let mut turns: Vec<(Vec<f32>, Cue)> = Vec::new();
    for t in &s.turns {
        let audio = match &t.speech {
            Speech::Say(text) => ainima::tts::espeak::speak_fresh(text, &voice)?,
            Speech::Recording { path, .. } => match &opts.data_dir {
                Some(d) if d.join("speech").join(path).is_file() => {
                    ainima_audio::decode::load_16k_mono(&d.join("speech").join(path))?
                }
                _ => {
                    let why = format!("needs the shared recording speech/{path}");
                    outcome.status = if opts.require_data {
                        outcome.failures.push(why);
                        Status::Failed
                    } else {
                        outcome.failures.push(format!("skipped: {why}"));
                        Status::Skipped
                    };
                    return Ok(outcome);
                }
            },
        };
        turns.push((audio, t.cue));
    }
    let all: Vec<f32> = turns.iter().flat_map(|(a, _)| a.iter().copied()).collect();
    let room_cfg = RoomConfig {
        rt60_ms: s.room.rt60_ms,
        delay_ms: s.room.delay_ms,
        echo_gain: s.room.echo_gain,
        noise_dbfs: s
            .room
            .noise_snr_db
            .map_or(-130.0, |snr| rms_dbfs(&all) - snr),
        seed: s.room.seed,
        ..RoomConfig::default()
    };
    let mut room = SimRoom::new(room_cfg, SimClock::new())?;
    let mut session = factory(s)?;
    let conv = drive(&mut session, &mut room, &turns, opts.max_s, &mut |_, _| {
        Ok(())
    })?;
    outcome.simulated_seconds = session.position() as f64 / 16_000.0;
    judge(s, &conv, &mut outcome);
    outcome.said = conv
        .said
        .iter()
        .map(|x| {
            let words = s.turns[x.index].speech.words().unwrap_or("(a recording)");
            (x.at, x.end, words.to_string())
        })
        .collect();
    outcome.events = conv.events;
    if !outcome.failures.is_empty() {
        outcome.status = Status::Failed;
    }
    Ok(outcome)
}

/// Whether `got` has every field of `want` (numbers compared as numbers).
pub fn has(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            w.iter().all(|(k, v)| g.get(k).is_some_and(|gv| has(gv, v)))
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (Value::String(a), Value::String(b)) => a.eq_ignore_ascii_case(b),
        (a, b) => a == b,
    }
}

fn judge(s: &Scenario, conv: &Conversation, o: &mut Outcome) {
    let ev = &conv.events;
    // Each turn owns the events from when it is said to when the next is.
    for (i, said) in conv.said.iter().enumerate() {
        let from = said.at - 1e-9;
        let to = conv.said.get(i + 1).map_or(f64::INFINITY, |n| n.at - 1e-9);
        let window: Vec<&Event> = ev.iter().filter(|e| e.t >= from && e.t < to).collect();
        let turn = &s.turns[said.index];
        let label = format!(
            "turn {} ({})",
            said.index + 1,
            turn.speech
                .words()
                .map_or_else(|| "a recording".to_string(), |w| format!("{w:?}"))
        );
        check_turn(&turn.expect, turn.speech.words(), &window, &label, o);
    }
    if conv.said.len() < s.turns.len() {
        o.failures.push(format!(
            "only {} of {} turns were said before the conversation stopped",
            conv.said.len(),
            s.turns.len()
        ));
    }
    measure(s, conv, o);
    if let (Some(limit), Some(got)) = (
        s.budgets.voice_to_voice_p95_ms,
        crate::metrics::dist(&o.measures.gaps_ms).p95,
    ) && got > limit
    {
        o.failures.push(format!(
            "voice-to-voice p95 {got:.0} ms is over the budget of {limit:.0} ms"
        ));
    }
    if let Some(limit) = s.budgets.barge_in_stop_ms
        && let Some(got) = o.measures.yield_ms.iter().copied().reduce(f64::max)
        && got > limit
    {
        o.failures.push(format!(
            "barge-in stop {got:.0} ms is over the budget of {limit:.0} ms"
        ));
    }
}

fn check_turn(x: &Expect, words: Option<&str>, w: &[&Event], label: &str, o: &mut Outcome) {
    let mut fail = |m: String| o.failures.push(format!("{label}: {m}"));
    let heard: Vec<&str> = w
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Transcript { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    let heard_s = if heard.is_empty() {
        "nothing was heard".to_string()
    } else {
        format!("heard {:?}", heard.join(" | "))
    };
    let intents: Vec<(Option<&str>, &Value)> = w
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Intent { intent, slots, .. } => Some((intent.as_deref(), slots)),
            _ => None,
        })
        .collect();
    if let Some(want) = &x.intent
        && !intents.iter().any(|(i, _)| *i == Some(want.as_str()))
    {
        let got: Vec<&str> = intents.iter().map(|(i, _)| i.unwrap_or("none")).collect();
        fail(format!(
            "expected intent {want}, got {} ({heard_s})",
            if got.is_empty() {
                "none".to_string()
            } else {
                got.join(", ")
            }
        ));
    }
    if let Some(want) = &x.slots {
        let want = Value::Object(want.clone().into_iter().collect());
        if !intents.iter().any(|(_, s)| has(s, &want)) {
            fail(format!("expected slots {want} ({heard_s})"));
        }
    }
    if let Some(want) = &x.tool_calls {
        let got: Vec<(&str, &Value, &str)> = w
            .iter()
            .filter_map(|e| match &e.kind {
                EventKind::ToolCall {
                    tool, args, status, ..
                } => Some((tool.as_str(), args, status.as_str())),
                _ => None,
            })
            .collect();
        let fits = got.len() == want.len()
            && got.iter().zip(want).all(|((t, a, st), wt)| {
                *t == wt.tool
                    && wt.args.as_ref().is_none_or(|wa| has(a, wa))
                    && wt.status.as_deref().is_none_or(|ws| ws == *st)
            });
        if !fits {
            let g: Vec<String> = got
                .iter()
                .map(|(t, a, st)| format!("{t} {a} ({st})"))
                .collect();
            let e: Vec<String> = want
                .iter()
                .map(|t| {
                    format!(
                        "{} {}",
                        t.tool,
                        t.args.as_ref().map_or(String::new(), Value::to_string)
                    )
                })
                .collect();
            fail(format!(
                "expected tool calls [{}], got [{}] ({heard_s})",
                e.join(", "),
                g.join(", ")
            ));
        }
    }
    let any = |f: &dyn Fn(&EventKind) -> bool| w.iter().any(|e| f(&e.kind));
    if let Some(want) = x.approval {
        let got = any(&|k| matches!(k, EventKind::ApprovalRequest { .. }));
        if got != want {
            fail(format!(
                "expected {}approval to be asked ({heard_s})",
                if want { "" } else { "no " }
            ));
        }
    }
    let replies: Vec<&str> = w
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Reply { text } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    if let Some(want) = &x.reply {
        let ok = replies.iter().any(|r| {
            want.all()
                .iter()
                .any(|p| r.to_lowercase().contains(&p.to_lowercase()))
        });
        if !ok {
            fail(format!(
                "expected a reply containing {:?}, got {:?} ({heard_s})",
                want.all(),
                replies
            ));
        }
    }
    if let (Some(limit), Some(words)) = (x.wer, words)
        && let Some(h) = heard.first()
    {
        let got = ainima::stt::wer::wer(words, h);
        if got > limit {
            fail(format!(
                "word error rate {got:.2} is over {limit:.2} ({heard_s})"
            ));
        }
    } else if x.wer.is_some() && heard.is_empty() {
        fail("a word error rate is expected, but nothing was heard".to_string());
    }
    if let Some(limit) = x.latency_ms {
        let end = w.iter().find_map(|e| match e.kind {
            EventKind::SpeechEnd { .. } => Some(e.t),
            _ => None,
        });
        let start = end.and_then(|end| {
            w.iter()
                .find(|e| e.t >= end && matches!(e.kind, EventKind::TtsStart { .. }))
                .map(|e| e.t)
        });
        match (end, start) {
            (Some(a), Some(b)) if (b - a) * 1000.0 > limit => fail(format!(
                "the reply took {:.0} ms, over {limit:.0} ms",
                (b - a) * 1000.0
            )),
            (Some(_), Some(_)) => {}
            _ => fail(format!(
                "no reply audio after the user's speech ({heard_s})"
            )),
        }
    }
    for (want, name, got) in [
        (
            x.barge_in,
            "a barge-in",
            any(&|k| matches!(k, EventKind::BargeIn { .. })),
        ),
        (
            x.resumed,
            "the assistant to go on",
            any(&|k| matches!(k, EventKind::Resume { .. }))
                && !any(&|k| matches!(k, EventKind::BargeIn { .. })),
        ),
        (
            x.stopped,
            "a stop word to stop it",
            any(&|k| {
                matches!(
                    k,
                    EventKind::TtsStop {
                        reason: "stop_word"
                    }
                )
            }),
        ),
        (x.silent, "no reply", replies.is_empty()),
        (
            x.over_user,
            "the assistant to start over the user",
            started_over_user(w),
        ),
    ] {
        if let Some(want) = want
            && want != got
        {
            fail(format!(
                "expected {}{name} ({heard_s})",
                if want { "" } else { "not " }
            ));
        }
    }
}

/// Whether a reply starts while the user is speaking, within `w`.
fn started_over_user(w: &[&Event]) -> bool {
    let mut speaking = false;
    for e in w {
        match e.kind {
            EventKind::SpeechStart { .. } => speaking = true,
            EventKind::SpeechEnd { .. } => speaking = false,
            EventKind::TtsStart { .. } if speaking => return true,
            _ => {}
        }
    }
    false
}

fn measure(s: &Scenario, conv: &Conversation, o: &mut Outcome) {
    let m = &mut o.measures;
    // Turn gaps are dated from the end of the user's voice (see
    // `reply_gaps`).
    let turns: Vec<(f64, f64)> = conv.said.iter().map(|x| (x.at, x.end)).collect();
    m.gaps_ms.extend(
        crate::drive::reply_gaps(&turns, &conv.events)
            .into_iter()
            .flatten(),
    );
    let mut user_speaking = false;
    for e in &conv.events {
        match &e.kind {
            EventKind::SpeechStart { .. } => user_speaking = true,
            EventKind::SpeechEnd { .. } => user_speaking = false,
            EventKind::TtsStart { .. } => {
                m.replies_started += 1;
                if user_speaking {
                    m.spoke_over_user += 1;
                }
            }
            EventKind::BargeIn {
                stop_latency_ms, ..
            } => {
                m.yield_ms.push(*stop_latency_ms);
                m.interrupted += 1;
            }
            EventKind::Reply { text } => m.replies.push(text.clone()),
            _ => {}
        }
    }
    for (i, said) in conv.said.iter().enumerate() {
        if s.turns[said.index].expect.resumed == Some(true) {
            let to = conv.said.get(i + 1).map_or(f64::INFINITY, |n| n.at);
            let resumed = conv
                .events
                .iter()
                .any(|e| e.t >= said.at && e.t < to && matches!(e.kind, EventKind::Resume { .. }));
            m.backchannels.0 += 1;
            m.backchannels.1 += usize::from(resumed);
        }
    }
}

/// Loads a scenario file.
pub fn load(path: &Path) -> Result<Scenario> {
    let text = std::fs::read_to_string(path).map_err(|e| crate::Error::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    crate::scenario::parse(&path.display().to_string(), &text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn expected_arguments_are_a_subset_compared_as_numbers() {
        assert!(has(&json!({"a": 1.0, "b": "X"}), &json!({"a": 1})));
        assert!(has(
            &json!({"d": {"seconds": 600.0}}),
            &json!({"d": {"seconds": 600}})
        ));
        assert!(has(
            &json!({"device": "Kitchen Light"}),
            &json!({"device": "kitchen light"})
        ));
        assert!(!has(&json!({"a": 1}), &json!({"a": 2})));
        assert!(!has(&json!({}), &json!({"a": 1})));
    }
}
