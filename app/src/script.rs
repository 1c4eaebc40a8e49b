//! Scripted conversations: the user's lines, synthesised, said into the
//! simulated room when their cue comes (after the assistant's reply, or
//! into it), while the real session runs. The demo and the session
//! benchmark drive sessions this way.

use anyhow::Result;

use ainima::session::{Event, EventKind, Session};
use ainima::tts::{TextToSpeech, Voice};
use ainima_audio::room::SimRoom;

use crate::run::Recorder;

/// When a line is said.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cue {
    /// This long after the assistant's last reply ends (seconds).
    AfterReply(f64),
    /// This long after the assistant's reply starts: over it (seconds).
    IntoReply(f64),
}

/// One line of a script.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Line {
    /// What the user says.
    pub text: &'static str,
    /// When.
    pub cue: Cue,
}

/// What happened to a line.
#[derive(Debug, Clone, PartialEq)]
pub struct Said {
    /// The line.
    pub line: Line,
    /// When it began, seconds.
    pub at: f64,
    /// When it ended, seconds.
    pub end: f64,
}

/// Sees each line as it is said, and the events of each step.
pub type Observer<'a> = dyn FnMut(Option<&Said>, &[Event]) -> Result<()> + 'a;

/// Runs `session` in `room` through `script`, the user speaking with
/// `voice`; `on` sees each line as it is said and every event. Returns
/// every event and the lines as said. Stops a second after the script is
/// over and the assistant quiet, or at `max_s` seconds.
pub fn drive(
    session: &mut Session,
    room: &mut SimRoom,
    script: &[Line],
    voice: &Voice,
    max_s: f64,
    on: &mut Observer<'_>,
) -> Result<(Vec<Event>, Vec<Said>)> {
    let rate = 16_000.0;
    let mut tts = ainima::tts::espeak::Espeak::new(voice.clone())?;
    let mut spoken = Vec::new();
    let mut dev = Recorder::new(room, &mut spoken);
    let mut next = 0usize;
    let mut said: Vec<Said> = Vec::new();
    let mut due: Option<u64> = Some(8_000);
    let mut quiet_since: Option<u64> = None;
    let mut listening_since: Option<u64> = None;
    let mut reply_started: Option<f64> = None;
    let mut all: Vec<Event> = Vec::new();
    loop {
        let pos = session.position();
        if let Some(at) = due
            && pos >= at
            && next < script.len()
        {
            let line = script[next];
            let speech = tts.speak_all(line.text)?;
            let s = Said {
                line,
                at: pos as f64 / rate,
                end: (pos + speech.len() as u64) as f64 / rate,
            };
            on(Some(&s), &[])?;
            said.push(s);
            dev.room().add_user_speech(pos, speech, 1.0);
            due = None;
            listening_since = None;
            next += 1;
        }
        if !session.step(&mut dev)? {
            break;
        }
        let events = session.take_events();
        on(None, &events)?;
        for e in &events {
            match e.kind {
                EventKind::TtsStart { .. } => reply_started = Some(e.t),
                EventKind::TtsStop { .. } => reply_started = None,
                _ => {}
            }
        }
        let pos = session.position();
        let last_end = said.last().map_or(0.0, |s| s.end);
        if due.is_none() && next < script.len() && pos as f64 / rate > last_end {
            let after = |e: &&Event| e.t >= last_end - 1e-6;
            due = match script[next].cue {
                Cue::AfterReply(gap) => events
                    .iter()
                    .filter(after)
                    .find(|e| {
                        matches!(
                            e.kind,
                            EventKind::TtsStop {
                                reason: "done" | "stop_word"
                            }
                        )
                    })
                    .map(|e| ((e.t + gap) * rate) as u64),
                // Into the reply that starts after the last line, or the
                // one still going on (resumed after a backchannel).
                Cue::IntoReply(d) => events
                    .iter()
                    .filter(after)
                    .find(|e| matches!(e.kind, EventKind::TtsStart { .. }))
                    .map(|e| ((e.t + d) * rate) as u64)
                    .or_else(|| {
                        let going_on = matches!(session.state(), "speaking" | "resuming");
                        let started = reply_started?;
                        going_on.then(|| (((started + d) * rate) as u64).max(pos))
                    }),
            };
            // Nothing came of the line (no reply at all, or a reply that
            // went on past it): go on once the assistant has been quiet 2 s.
            let quiet = matches!(session.state(), "listening" | "idle");
            listening_since = if quiet {
                listening_since.or(Some(pos))
            } else {
                None
            };
            if due.is_none()
                && pos as f64 / rate > last_end + 2.0
                && listening_since.is_some_and(|l| pos > l + 2 * 16_000)
            {
                due = Some(pos);
            }
        }
        all.extend(events);
        let idle = next == script.len()
            && due.is_none()
            && matches!(session.state(), "listening" | "idle");
        quiet_since = if idle {
            quiet_since.or(Some(pos))
        } else {
            None
        };
        if quiet_since.is_some_and(|q| pos > q + 16_000) || pos as f64 / rate > max_s {
            break;
        }
    }
    Ok((all, said))
}
