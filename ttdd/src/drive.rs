//! Driving a session through a conversation: each user turn's audio is said
//! into the simulated room when its cue comes (after the assistant's reply,
//! into it, or at a time), while the session runs block by block.

use ainima::session::{Event, EventKind, Session};
use ainima_audio::device::{DeviceInfo, DuplexDevice};
use ainima_audio::room::SimRoom;

use crate::Result;
use crate::scenario::Cue;

/// A user turn ready to be said.
#[derive(Debug, Clone)]
pub struct Said {
    /// Which turn, from 0.
    pub index: usize,
    /// When it began, seconds.
    pub at: f64,
    /// When its voice began, seconds: the first sample above -50 dBFS, so
    /// the synthesiser's leading silence does not count (barge-in stops
    /// are dated from here).
    pub voice: f64,
    /// When its voice ended, seconds: the last sample above -50 dBFS, so
    /// the synthesiser's trailing silence does not count (what a listener
    /// hears as the end of the turn; latencies are dated from here).
    pub end: f64,
}

/// For each turn, said from `at` to `end` seconds (its voice's end), the
/// time from its end to the first reply audio before the next turn began,
/// ms; `None` for a turn nothing answered. Latency dated from the end of
/// the user's voice, which the driver knows, not from the session's own
/// judgement of it.
pub fn reply_gaps(turns: &[(f64, f64)], events: &[Event]) -> Vec<Option<f64>> {
    turns
        .iter()
        .enumerate()
        .map(|(i, &(_, end))| {
            let until = turns.get(i + 1).map_or(f64::INFINITY, |n| n.0);
            events
                .iter()
                .find(|e| e.t >= end && e.t < until && matches!(e.kind, EventKind::TtsStart { .. }))
                .map(|e| (e.t - end) * 1000.0)
        })
        .collect()
}

/// How long before a turn's voice the endpointer may date a barge-in's
/// onset and the barge-in still be that turn's (it reaches back over loud
/// frames, the echo's residual among them), seconds.
const ONSET_REACH: f64 = 0.3;

/// A barge-in's stop, as the driver dates it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Stop {
    /// From the start of turn `turn`'s voice to the assistant's silence,
    /// ms.
    Dated {
        /// Which turn (an index into the turns given).
        turn: usize,
        /// How long, ms.
        ms: f64,
    },
    /// The assistant fell silent before turn `turn`'s voice began (its
    /// own echo, or a noise, stopped it).
    Early {
        /// Which turn.
        turn: usize,
    },
    /// No turn's voice was under way at the barge-in's onset.
    Unexplained,
}

/// Barge-in stops dated from the start of the voice that made them:
/// `turns` as (when its voice began, when it ended). Each barge-in in
/// `events` is the doing of the turn whose voice was under way at its
/// onset (from 0.3 s before the voice, as the endpointer may date it,
/// to the voice's end); its stop runs from that voice's start to the
/// assistant's silence (the onset plus the stop latency), however late.
/// Dated from what the driver knows, not from the endpointer's onset
/// (which reaches back over any loud frames before the voice, the echo's
/// residual among them).
pub fn stop_gaps(turns: &[(f64, f64)], events: &[Event]) -> Vec<Stop> {
    events
        .iter()
        .filter_map(|e| match e.kind {
            EventKind::BargeIn {
                onset,
                stop_latency_ms,
            } => Some((onset, onset + stop_latency_ms / 1000.0)),
            _ => None,
        })
        .map(|(onset, silent)| {
            let made = turns
                .iter()
                .enumerate()
                .rev()
                .find(|(_, (voice, end))| voice - ONSET_REACH <= onset && onset <= *end);
            match made {
                Some((turn, &(voice, _))) if silent >= voice => Stop::Dated {
                    turn,
                    ms: (silent - voice) * 1000.0,
                },
                Some((turn, _)) => Stop::Early { turn },
                None => Stop::Unexplained,
            }
        })
        .collect()
}

/// Where the voice in `audio` begins: the first sample above -50 dBFS
/// (0 when it is all quiet).
pub fn voice_start(audio: &[f32]) -> usize {
    audio.iter().position(|x| x.abs() > QUIET).unwrap_or(0)
}

/// -50 dBFS: quieter samples are no voice.
const QUIET: f32 = 0.003_162;

/// Where the voice in `audio` ends: one past the last sample above -50 dBFS
/// (the clip's length when it is all quiet).
pub fn voice_end(audio: &[f32]) -> usize {
    audio
        .iter()
        .rposition(|x| x.abs() > QUIET)
        .map_or(audio.len(), |i| i + 1)
}

/// Sees each turn as it is said, and the events of each step.
pub type Observer<'a> = dyn FnMut(Option<&Said>, &[Event]) -> Result<()> + 'a;

/// A device that keeps what its speaker emitted.
pub struct Recorder<'a> {
    inner: &'a mut SimRoom,
    spoken: &'a mut Vec<f32>,
}

impl<'a> Recorder<'a> {
    /// Records what `room`'s speaker emits into `spoken`.
    pub fn new(room: &'a mut SimRoom, spoken: &'a mut Vec<f32>) -> Recorder<'a> {
        Recorder {
            inner: room,
            spoken,
        }
    }

    /// The room, to add speech to.
    pub fn room(&mut self) -> &mut SimRoom {
        self.inner
    }
}

impl std::fmt::Debug for Recorder<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}

impl DuplexDevice for Recorder<'_> {
    fn capture(&mut self, mic: &mut [f32], reference: &mut [f32]) -> ainima_audio::Result<usize> {
        let n = self.inner.capture(mic, reference)?;
        self.spoken.extend_from_slice(&reference[..n]);
        Ok(n)
    }
    fn play(&mut self, samples: &[f32]) -> ainima_audio::Result<()> {
        self.inner.play(samples)
    }
    fn stop_playback(&mut self) -> usize {
        self.inner.stop_playback()
    }
    fn pending_playback(&self) -> usize {
        self.inner.pending_playback()
    }
    fn info(&self) -> DeviceInfo {
        self.inner.info()
    }
}

/// What a conversation produced.
#[derive(Debug, Default)]
pub struct Conversation {
    /// Every event, in order.
    pub events: Vec<Event>,
    /// Each turn as said.
    pub said: Vec<Said>,
    /// What the assistant's speaker emitted, sample for sample.
    pub spoken: Vec<f32>,
}

const RATE: f64 = 16_000.0;

/// Runs `session` in `room` through `turns` (16 kHz audio and its cue).
/// Stops a second after the last turn once the assistant is quiet, or at
/// `max_s` seconds.
pub fn drive(
    session: &mut Session,
    room: &mut SimRoom,
    turns: &[(Vec<f32>, Cue)],
    max_s: f64,
    on: &mut Observer<'_>,
) -> Result<Conversation> {
    let mut out = Conversation::default();
    let mut spoken = Vec::new();
    let mut dev = Recorder::new(room, &mut spoken);
    let mut next = 0usize;
    let mut due: Option<u64> = None;
    let mut quiet_since: Option<u64> = None;
    let mut listening_since: Option<u64> = None;
    let mut reply_started: Option<f64> = None;
    let mut first = true;
    loop {
        let pos = session.position();
        let now = pos as f64 / RATE;
        // The first turn, and turns at a fixed time, need no event.
        if due.is_none() && next < turns.len() {
            match turns[next].1 {
                Cue::At(t) => due = Some((t * RATE) as u64),
                // The conversation opens half a second in.
                Cue::AfterReply(_) | Cue::IntoReply(_) if first => {
                    due = Some((0.5 * RATE) as u64);
                }
                _ => {}
            }
        }
        if let Some(at) = due
            && pos >= at
            && next < turns.len()
        {
            let (audio, _) = &turns[next];
            let s = Said {
                index: next,
                at: now,
                voice: (pos + voice_start(audio) as u64) as f64 / RATE,
                end: (pos + voice_end(audio) as u64) as f64 / RATE,
            };
            on(Some(&s), &[])?;
            out.said.push(s);
            dev.room().add_user_speech(pos, audio.clone(), 1.0);
            due = None;
            listening_since = None;
            first = false;
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
        let now = pos as f64 / RATE;
        let last_end = out.said.last().map_or(0.0, |s| s.end);
        if due.is_none() && next < turns.len() && now > last_end {
            let after = |e: &&Event| e.t >= last_end - 1e-6;
            due = match turns[next].1 {
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
                    .map(|e| ((e.t + gap) * RATE) as u64),
                // Into the reply that starts after the last turn, or the
                // one still going on (resumed after a backchannel).
                Cue::IntoReply(d) => events
                    .iter()
                    .filter(after)
                    .find(|e| matches!(e.kind, EventKind::TtsStart { .. }))
                    .map(|e| ((e.t + d) * RATE) as u64)
                    .or_else(|| {
                        let going_on = matches!(session.state(), "speaking" | "resuming");
                        let started = reply_started?;
                        going_on.then(|| (((started + d) * RATE) as u64).max(pos))
                    }),
                Cue::At(t) => Some((t * RATE) as u64),
            };
            // Nothing came of the turn (no reply at all, or a reply that
            // went on past it): go on once the assistant has been quiet 2 s.
            let quiet = matches!(session.state(), "listening" | "idle");
            listening_since = if quiet {
                listening_since.or(Some(pos))
            } else {
                None
            };
            if due.is_none()
                && now > last_end + 2.0
                && listening_since.is_some_and(|l| pos > l + 2 * 16_000)
            {
                due = Some(pos);
            }
        }
        out.events.extend(events);
        let idle =
            next == turns.len() && due.is_none() && matches!(session.state(), "listening" | "idle");
        quiet_since = if idle {
            quiet_since.or(Some(pos))
        } else {
            None
        };
        if quiet_since.is_some_and(|q| pos > q + 16_000) || now > max_s {
            break;
        }
    }
    out.spoken = spoken;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn barge_in(onset: f64, stop_latency_ms: f64) -> Event {
        Event {
            t: onset + stop_latency_ms / 1000.0,
            kind: EventKind::BargeIn {
                onset,
                stop_latency_ms,
            },
        }
    }

    /// `turns` as (voice began, voice ended), barge-ins as (onset,
    /// latency ms).
    fn check(turns: &[(f64, f64)], barge_ins: &[(f64, f64)], expect: &[Stop]) {
        let events: Vec<Event> = barge_ins.iter().map(|&(o, l)| barge_in(o, l)).collect();
        let got = stop_gaps(turns, &events);
        assert_eq!(got.len(), expect.len(), "{got:?}");
        for (g, e) in got.iter().zip(expect) {
            match (g, e) {
                (Stop::Dated { turn: a, ms: x }, Stop::Dated { turn: b, ms: y }) => {
                    assert!(
                        a == b && (x - y).abs() < 1e-6,
                        "{got:?}, expected {expect:?}"
                    )
                }
                _ => assert_eq!(g, e, "{got:?}"),
            }
        }
    }

    #[test]
    fn barge_in_stops_are_dated_from_the_voice_the_driver_said() {
        use Stop::*;
        // The endpointer dated the onset 80 ms before the voice (over the
        // echo's residual): 110 ms from its onset, 30 from the voice.
        check(
            &[(1.02, 2.0), (14.69, 16.0)],
            &[(14.61, 110.0)],
            &[Dated { turn: 1, ms: 30.0 }],
        );
        // Each barge-in is the doing of the voice under way at its onset,
        // even when the next turn's voice has begun by its silence.
        check(
            &[(1.05, 2.0), (2.2, 4.0)],
            &[(1.05, 50.0), (1.9, 400.0)],
            &[
                Dated { turn: 0, ms: 50.0 },
                Dated {
                    turn: 0,
                    ms: 1250.0,
                },
            ],
        );
        // However late the silence comes.
        check(
            &[(1.0, 1.4)],
            &[(1.2, 1500.0)],
            &[Dated {
                turn: 0,
                ms: 1700.0,
            }],
        );
        // Silent before the voice began (the echo stopped it); an onset
        // under no voice at all.
        check(&[(2.2, 3.0)], &[(2.0, 100.0)], &[Early { turn: 0 }]);
        check(&[(5.0, 6.0)], &[(1.0, 100.0)], &[Unexplained]);
        check(&[(1.0, 2.0)], &[(3.0, 100.0)], &[Unexplained]);
    }

    #[test]
    fn the_voice_starts_and_ends_above_minus_50_dbfs() {
        let mut audio = vec![0.001f32; 100];
        audio.extend([0.5; 10]);
        audio.extend([0.0; 50]);
        assert_eq!((voice_start(&audio), voice_end(&audio)), (100, 110));
        assert_eq!(voice_start(&[0.0; 10]), 0);
    }
}
