//! Scripted conversations for the demo and the session benchmark: the
//! user's lines synthesised with one voice, then driven through the session
//! by the TTDD driver (`ainima_ttdd::drive`).

use anyhow::Result;

use ainima::session::{Event, Session};
use ainima::tts::Voice;
use ainima_audio::room::SimRoom;
pub use ainima_ttdd::scenario::Cue;

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
    /// When its voice began, seconds (the synthesiser's leading silence
    /// left out).
    pub voice: f64,
    /// When it ended, seconds.
    pub end: f64,
}

/// Sees each line as it is said, and the events of each step.
pub type Observer<'a> = dyn FnMut(Option<&Said>, &[Event]) -> Result<()> + 'a;

/// Runs `session` in `room` through `script`, the user speaking with
/// `voice`; every event and the lines as said.
pub fn drive(
    session: &mut Session,
    room: &mut SimRoom,
    script: &[Line],
    voice: &Voice,
    max_s: f64,
    on: &mut Observer<'_>,
) -> Result<(Vec<Event>, Vec<Said>)> {
    // Each line by an espeak-ng process of its own: the same line, the
    // same audio, whatever the session's voice said before.
    let mut turns = Vec::new();
    for l in script {
        turns.push((ainima::tts::espeak::speak_fresh(l.text, voice)?, l.cue));
    }
    let mut failure = None;
    let conv = ainima_ttdd::drive::drive(session, room, &turns, max_s, &mut |s, events| {
        let said = s.map(|s| Said {
            line: script[s.index],
            at: s.at,
            voice: s.voice,
            end: s.end,
        });
        if let Err(e) = on(said.as_ref(), events) {
            failure.get_or_insert(e);
        }
        Ok(())
    })?;
    if let Some(e) = failure {
        return Err(e);
    }
    let said = conv
        .said
        .iter()
        .map(|s| Said {
            line: script[s.index],
            at: s.at,
            voice: s.voice,
            end: s.end,
        })
        .collect();
    Ok((conv.events, said))
}
