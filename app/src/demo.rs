//! `ainima demo`: a scripted conversation through the simulated room. The
//! user's lines are synthesised (espeak-ng) and said into the room when
//! their cue comes (after the assistant's reply, or into it, to interrupt);
//! the real session hears them through the echo canceller, Whisper, the
//! language core and the agent, and answers with its own voice. Printed:
//! what was said and heard, the actions taken, and the latency table.

use std::io::Write;
use std::path::Path;

use anyhow::Result;

use ainima::session::{Event, EventKind};
use ainima::tts::Voice;
use ainima_audio::clock::SimClock;
use ainima_audio::room::SimRoom;

use crate::config::AppConfig;
use crate::script::{Cue, Line, drive};

/// The script: what the user says, and when.
pub const SCRIPT: &[Line] = &[
    Line {
        text: "What time is it?",
        cue: Cue::AfterReply(0.5),
    },
    Line {
        text: "Turn on the kitchen light.",
        cue: Cue::AfterReply(1.0),
    },
    Line {
        text: "What can you do?",
        cue: Cue::AfterReply(1.0),
    },
    Line {
        text: "Okay.",
        cue: Cue::IntoReply(2.0),
    },
    Line {
        text: "Make me a large latte.",
        cue: Cue::IntoReply(5.0),
    },
    Line {
        text: "Yes.",
        cue: Cue::AfterReply(0.8),
    },
    Line {
        text: "Set a timer for five, no, ten minutes.",
        cue: Cue::AfterReply(1.0),
    },
    Line {
        text: "Add milk to my shopping list.",
        cue: Cue::AfterReply(1.0),
    },
    Line {
        text: "What is on my shopping list?",
        cue: Cue::AfterReply(1.0),
    },
    Line {
        text: "What can you do?",
        cue: Cue::AfterReply(1.0),
    },
    Line {
        text: "Stop.",
        cue: Cue::IntoReply(1.5),
    },
];

/// The user's voice: espeak-ng, lower and slower than the assistant's.
pub fn user_voice() -> Voice {
    Voice {
        name: "en-us".into(),
        rate_wpm: 150,
        pitch: 40,
    }
}

/// Runs the script; `deterministic`: fixed stage costs, the pinned clock
/// and each of the assistant's sentences from a fresh synthesiser, so the
/// conversation printed depends on the build alone, not on the machine's
/// speed or load.
pub fn run(
    cfg: &AppConfig,
    config_dir: &Path,
    model_dir: &Path,
    data: &Path,
    deterministic: bool,
    out: &mut impl Write,
) -> Result<()> {
    writeln!(
        out,
        "Ainima demo: a conversation in a simulated room (RT60 {} ms, echo delay {} ms).\n\
         The user's lines are synthesised and said into the room; the assistant hears\n\
         them through its echo canceller while it speaks, and answers with its own voice.\n",
        cfg.room.rt60_ms, cfg.room.delay_ms
    )?;
    // The user's clock: "What time is it?" is answered in their zone (the
    // pinned start when deterministic).
    let start = crate::clock::start(None, deterministic, cfg.time_zone.as_deref())?;
    let mut session = crate::run::session(cfg, config_dir, model_dir, deterministic, 0, &|c| {
        start.apply(c)
    })?;
    crate::run::open_audit(&mut session, data)?;
    crate::run::connect(crate::run::agent_of(&mut session)?, cfg, data)?;
    let mut room = SimRoom::new(cfg.room.clone(), SimClock::new())?;
    let wall = std::time::Instant::now();
    let rate = 16_000.0;
    let (all, said) = drive(
        &mut session,
        &mut room,
        SCRIPT,
        &user_voice(),
        300.0,
        &mut |said, events| {
            if let Some(s) = said {
                writeln!(out, "{:>7.2} s  user:      {}", s.at, s.line.text)?;
            }
            for e in events {
                if let Some(l) = describe(e) {
                    writeln!(out, "{:>7.2} s  {l}", e.t)?;
                }
            }
            Ok(())
        },
    )?;
    let simulated = session.position() as f64 / rate;
    let wall = wall.elapsed().as_secs_f64();
    let calls: Vec<String> = all
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::ToolCall {
                tool, args, status, ..
            } => Some(format!("  {tool} {args}: {status}")),
            _ => None,
        })
        .collect();
    writeln!(out, "\nActions taken:\n{}", calls.join("\n"))?;
    if deterministic {
        writeln!(
            out,
            "\n{simulated:.1} s of conversation simulated, stage costs fixed (--deterministic), \
             not measured:\n\n{}",
            session.profile.table()
        )?;
    } else {
        writeln!(
            out,
            "\n{simulated:.1} s of conversation simulated in {wall:.1} s ({:.1}x real time), \
             stage costs measured on this machine:\n\n{}",
            simulated / wall.max(1e-9),
            session.profile.table()
        )?;
    }
    // From the end of the user's voice, as the driver knows it, to the
    // reply's first audio; a line that asked and got nothing counts too.
    let turns: Vec<(f64, f64)> = said.iter().map(|s| (s.at, s.end)).collect();
    let gaps = ainima_ttdd::drive::reply_gaps(&turns, &all);
    let answered: Vec<f64> = gaps.iter().flatten().copied().collect();
    if let Some(g) = ainima::session::profile::stats(&answered) {
        writeln!(
            out,
            "voice to voice, from the end of the user's voice: p50 {:.0} ms, p95 {:.0} ms over {} answered lines ({} lines got no reply: stop words, backchannels, or a miss)\n",
            g.p50,
            g.p95,
            answered.len(),
            gaps.len() - answered.len()
        )?;
    }
    // From the start of the user's voice, as the driver knows it, to the
    // assistant's silence.
    let voices: Vec<(f64, f64)> = said.iter().map(|s| (s.voice, s.end)).collect();
    let stops = ainima_ttdd::drive::stop_gaps(&voices, &all);
    let dated: Vec<f64> = stops
        .iter()
        .filter_map(|s| match s {
            ainima_ttdd::drive::Stop::Dated { ms, .. } => Some(*ms),
            _ => None,
        })
        .collect();
    let undated = stops.len() - dated.len();
    match ainima::session::profile::stats(&dated) {
        Some(b) => writeln!(
            out,
            "barge-in stop, from the start of the user's voice to the assistant's silence: p50 {:.0} ms, p95 {:.0} ms over {} barge-ins ({undated} not dated)\n",
            b.p50, b.p95, b.count
        )?,
        None => writeln!(
            out,
            "barge-in stop, from the start of the user's voice to the assistant's silence: none dated ({undated} not dated)\n"
        )?,
    }
    writeln!(
        out,
        "voice_to_voice (table): the session's own judgement of the end of speech to the assistant's first audio.\n\
         barge_in_stop (table): the endpointer's onset (which can reach back over the echo's residual before the voice) to the assistant's silence."
    )?;
    Ok(())
}

/// A line of the conversation for the events a person cares about.
fn describe(e: &Event) -> Option<String> {
    Some(match &e.kind {
        EventKind::Transcript { text, .. } => format!("heard:     {text:?}"),
        EventKind::Reply { text } => format!("assistant: {text}"),
        EventKind::ToolCall {
            tool, args, status, ..
        } => {
            format!("action:    {tool} {args} ({status})")
        }
        EventKind::Yield { .. } => {
            "           (the assistant falls silent: the user speaks over it)".into()
        }
        EventKind::Resume { after } => format!("           (it goes on: that was a {after})"),
        EventKind::BargeIn {
            stop_latency_ms, ..
        } => {
            format!(
                "           (barge-in: the rest of the reply is dropped; silent {stop_latency_ms:.0} ms after the onset)"
            )
        }
        EventKind::TtsStop {
            reason: "stop_word",
        } => "           (stopped by a stop word)".into(),
        EventKind::Debounced { .. } => "           (said again while answered: merged)".into(),
        EventKind::Error { stage, message } => format!("error:     {stage}: {message}"),
        _ => return None,
    })
}
