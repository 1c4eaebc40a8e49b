//! The endpointer: from voiced and unvoiced frames to utterances.
//!
//! A small explicit state machine, one transition per frame:
//!
//! ```text
//!            voiced                  onset_ms voiced
//! Silence ──────────▶ Onset ─────────────────────────▶ Speech ──┐ voiced
//!    ▲                  │ onset_gap_ms unvoiced          │  ▲   ◀─┘
//!    └──────────────────┘                                │  │ max_utterance_ms:
//!    ▲             hangover_ms unvoiced: SpeechEnd       │  │ SpeechEnd + SpeechStart
//!    └───────────────────────────────────────────────────┘──┘
//! ```
//!
//! A frame counts as voiced when the VAD says so and its energy clears the
//! tracked noise floors by `min_snr_db` (the VAD alone fires on faint
//! noise): the room's, which frames that are not the room (the echo
//! canceller's output while the far end plays) leave as it was, and the
//! background, which follows every frame.
//! Onset needs `onset_ms` of voiced frames before a gap of `onset_gap_ms`,
//! so a click or a short burst never starts speech; the start is the first
//! frame of the latest voiced run. Speech ends after `hangover_ms` without a
//! voiced frame; one with less than `min_utterance_ms` voiced in all is
//! reported as [`EndpointEvent::Rejected`] instead. Both boundaries are then
//! refined by energy: the start moves back, and the end forward, over
//! adjacent frames `refine_db` above the background (the VAD is late on soft
//! onsets such as fricatives, and early on weak endings), by at most
//! `refine_max_ms`.
//!
//! Timestamps are sample indices at 16 kHz: `start` is the first sample of
//! the utterance, `end` one past its last, `decided_at` where the endpointer
//! knew. The utterance's audio begins `preroll_ms` before `start`, so the
//! first syllable is never cut.

use crate::frame::{FrameSize, ms_to_samples};
use crate::vad::{EarshotVad, FlatnessGate, Vad, VadKind, VadMode};
use crate::{Error, Result};

/// Every threshold of the endpointer. Defaults were tuned on the 42 real
/// recordings in `shared/data/speech` (see the `segments` tests).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Frame length: 10, 20 or 30 ms.
    pub frame: FrameSize,
    /// The detector: `webrtc` (native builds' default) or `earshot` (the
    /// browser's, and available natively).
    pub vad: VadKind,
    /// WebRTC VAD aggressiveness, 0 to 3.
    pub vad_mode: VadMode,
    /// Frames with a spectral flatness above this are never speech (0 to 1; 1 turns the gate off).
    pub max_flatness: f32,
    /// Voiced time needed before speech starts.
    pub onset_ms: u32,
    /// Unvoiced time that abandons an onset.
    pub onset_gap_ms: u32,
    /// Unvoiced time that ends speech.
    pub hangover_ms: u32,
    /// Audio kept from before the onset.
    pub preroll_ms: u32,
    /// Voiced time below which an utterance is rejected as noise.
    pub min_utterance_ms: u32,
    /// Longest utterance; longer speech is split.
    pub max_utterance_ms: u32,
    /// A voiced frame counts only if it is at least this many dB above the
    /// noise floors (the room's and the background's): the VAD's verdict
    /// on faint noise is ignored.
    pub min_snr_db: f32,
    /// Boundary refinement: a confirmed utterance's start moves back, and its
    /// end forward, over adjacent frames at least this many dB above the
    /// background's noise floor (the VAD is late on soft onsets and weak
    /// endings). 0 turns it off.
    pub refine_db: f32,
    /// Boundary refinement moves a boundary by at most this much.
    pub refine_max_ms: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            frame: FrameSize::Ms10,
            vad: VadKind::default(),
            vad_mode: VadMode::Aggressive,
            max_flatness: 0.45,
            onset_ms: 40,
            onset_gap_ms: 100,
            hangover_ms: 600,
            preroll_ms: 300,
            min_utterance_ms: 120,
            max_utterance_ms: 30_000,
            refine_db: 15.0,
            refine_max_ms: 200,
            min_snr_db: 6.0,
        }
    }
}

impl Config {
    /// Check every value; the error names the field.
    pub fn validate(&self) -> Result<()> {
        let f = self.frame.ms();
        let bad = |field: &str, why: &str| Err(Error::config(format!("endpointer.{field}: {why}")));
        if !(0.0..=1.0).contains(&self.max_flatness) || self.max_flatness.is_nan() {
            return bad("max_flatness", "must be between 0 and 1");
        }
        if !(0.0..=60.0).contains(&self.min_snr_db) {
            return bad("min_snr_db", "must be between 0 and 60");
        }
        if !(0.0..=60.0).contains(&self.refine_db) {
            return bad("refine_db", "must be between 0 and 60");
        }
        if self.onset_ms < f {
            return bad("onset_ms", "must be at least one frame");
        }
        if self.hangover_ms < f {
            return bad("hangover_ms", "must be at least one frame");
        }
        if self.onset_gap_ms < f {
            return bad("onset_gap_ms", "must be at least one frame");
        }
        if self.max_utterance_ms < self.onset_ms.max(self.min_utterance_ms) {
            return bad(
                "max_utterance_ms",
                "must exceed onset_ms and min_utterance_ms",
            );
        }
        if self.max_utterance_ms > 600_000
            || self.preroll_ms > 10_000
            || self.hangover_ms > 60_000
            || self.refine_max_ms > 10_000
        {
            return bad(
                "max_utterance_ms/preroll_ms/hangover_ms",
                "unreasonably large",
            );
        }
        Ok(())
    }
}

/// One utterance, as found by the endpointer.
#[derive(Clone, PartialEq)]
pub struct Utterance {
    /// First sample of the first voiced frame.
    pub start: u64,
    /// One past the last sample of the last voiced frame.
    pub end: u64,
    /// Where the endpointer decided the utterance was over.
    pub decided_at: u64,
    /// Sample index of `audio[0]` (`start` less the pre-roll available).
    pub audio_start: u64,
    /// The audio from `audio_start` to `decided_at`.
    pub audio: Vec<f32>,
    /// Split because it reached `max_utterance_ms`, or cut by the end of the stream.
    pub truncated: bool,
}

impl Utterance {
    /// Drops what was said before sample `at` (inside the utterance): it
    /// begins there, its audio too.
    pub fn cut_before(&mut self, at: u64) {
        let skip = (at.saturating_sub(self.audio_start) as usize).min(self.audio.len());
        self.audio.drain(..skip);
        self.audio_start += skip as u64;
        self.start = at;
    }
}

impl std::fmt::Debug for Utterance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Utterance")
            .field("start", &self.start)
            .field("end", &self.end)
            .field("decided_at", &self.decided_at)
            .field("audio_start", &self.audio_start)
            .field("audio_len", &self.audio.len())
            .field("truncated", &self.truncated)
            .finish()
    }
}

/// What the endpointer reports.
#[derive(Debug, Clone, PartialEq)]
pub enum EndpointEvent {
    /// Speech has begun at `start`; known at `decided_at`.
    SpeechStart {
        /// First sample of the first voiced frame.
        start: u64,
        /// Where the onset was confirmed.
        decided_at: u64,
    },
    /// Speech has ended.
    SpeechEnd(Utterance),
    /// What started as speech was too short: noise, a click, a cough.
    Rejected {
        /// First sample of the first voiced frame.
        start: u64,
        /// One past the last voiced sample.
        end: u64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Silence,
    Onset {
        start: u64,
        voiced_ms: u32,
        gap_ms: u32,
    },
    Speech {
        start: u64,
        last_voiced_end: u64,
        voiced_ms: u32,
    },
}

/// The endpointer state machine. Feed it one frame and its VAD verdict at a time.
#[derive(Debug)]
pub struct Endpointer {
    cfg: Config,
    state: State,
    /// Next frame's first sample.
    pos: u64,
    /// Audio history: the pre-roll and the current utterance. Pre-allocated.
    history: Vec<f32>,
    /// Sample index of `history[0]`.
    history_start: u64,
    /// The room's noise floor, dBFS: follows the energy of the frames that
    /// are the room (see [`Endpointer::push_heard`]) down at once, up
    /// slowly.
    floor_db: f32,
    /// The same over every frame, the suppressor's output included: what
    /// the frames the endpointer is given sit on (while a reply is
    /// suppressed, its residual echo). A voiced frame must clear both
    /// floors by `min_snr_db`: the room's noise (a reply's suppression
    /// does not make the room quieter) and the echo the canceller left (a
    /// moment of double talk it detected falsely is no voice); the frames
    /// next to speech must clear the background by `refine_db` to be
    /// taken for its soft onset or ending.
    background_db: f32,
    /// End of the last reported utterance: a new one never starts before it.
    last_end: u64,
    /// Speech does not end on the hangover before this sample (the words so
    /// far are clearly unfinished).
    hold_until: u64,
}

/// How fast the noise floor estimate may rise, in dB per second.
const FLOOR_RISE_DB_PER_S: f32 = 3.0;
/// The noise floor assumed before any audio: a quiet room. A stream that
/// starts in the middle of speech must not take that speech for its floor.
const INITIAL_FLOOR_DB: f32 = -60.0;
/// The floor never goes below this (digital silence would make every frame "loud").
const FLOOR_MIN_DB: f32 = -90.0;

impl Endpointer {
    /// A new endpointer; fails on an invalid configuration.
    pub fn new(cfg: Config) -> Result<Self> {
        cfg.validate()?;
        let cap = ms_to_samples(cfg.preroll_ms + cfg.max_utterance_ms + cfg.hangover_ms) as usize
            + cfg.frame.samples() * 2;
        Ok(Endpointer {
            cfg,
            state: State::Silence,
            pos: 0,
            history: Vec::with_capacity(cap),
            history_start: 0,
            floor_db: INITIAL_FLOOR_DB,
            background_db: INITIAL_FLOOR_DB,
            last_end: 0,
            hold_until: 0,
        })
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Whether the endpointer is inside confirmed speech.
    pub fn in_speech(&self) -> bool {
        matches!(self.state, State::Speech { .. })
    }

    /// Whether a frame of this energy could count as voiced at all (it
    /// clears both noise floors, the room's and the background's, by
    /// `min_snr_db`). Frames that cannot need no VAD.
    pub fn could_be_voiced(&self, energy_db: f32) -> bool {
        self.cfg.min_snr_db <= 0.0
            || energy_db.max(FLOOR_MIN_DB)
                >= self.floor_db.max(self.background_db) + self.cfg.min_snr_db
    }

    /// Sample index of the next frame.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Feed one frame of `cfg.frame` samples and whether it was voiced.
    pub fn push(&mut self, frame: &[f32], voiced: bool, sink: &mut impl FnMut(EndpointEvent)) {
        self.push_heard(frame, voiced, true, sink);
    }

    /// [`Endpointer::push`], where `room` says whether the frame is what
    /// the room sounds like: the echo canceller's output while the far end
    /// plays is not (suppressed, it lies far below the room's noise; in
    /// double talk it carries the residual echo), and leaves the room's
    /// noise floor where it was. (Regression
    /// a_floor_pulled_down_by_a_reply_ends_turns_late: the floor followed
    /// a long reply's suppressed output down 17 dB below the room's noise
    /// and rose again at 3 dB/s; the user's next turn then had noise
    /// frames the VAD took for voice clear the floor, each one putting the
    /// end of the turn off.)
    pub fn push_heard(
        &mut self,
        frame: &[f32],
        voiced: bool,
        room: bool,
        sink: &mut impl FnMut(EndpointEvent),
    ) {
        let f = self.cfg.frame.ms();
        let frame_start = self.pos;
        let frame_end = frame_start + frame.len() as u64;
        self.pos = frame_end;
        self.remember(frame);
        let e = crate::frame::energy_dbfs(frame).max(FLOOR_MIN_DB);
        let rise = FLOOR_RISE_DB_PER_S * f as f32 / 1000.0;
        // Judged against the floor of the frames before this one.
        let voiced = voiced && self.could_be_voiced(e);
        // Each floor follows the energy down at once, up slowly.
        let follow = |floor: f32| if e < floor { e } else { floor + rise };
        if room {
            self.floor_db = follow(self.floor_db);
        }
        self.background_db = follow(self.background_db);
        self.state = match self.state {
            State::Silence if voiced => self.onset_step(frame_start, f, 0, frame_end, sink),
            State::Silence => State::Silence,
            State::Onset {
                start,
                voiced_ms,
                gap_ms,
            } => {
                if voiced {
                    // Speech starts with the latest run of voiced frames: blips
                    // before a gap count toward the onset, but do not move its start.
                    let run_start = if gap_ms > 0 { frame_start } else { start };
                    self.onset_step(run_start, voiced_ms + f, 0, frame_end, sink)
                } else if gap_ms + f >= self.cfg.onset_gap_ms {
                    State::Silence
                } else {
                    State::Onset {
                        start,
                        voiced_ms,
                        gap_ms: gap_ms + f,
                    }
                }
            }
            State::Speech {
                start,
                last_voiced_end,
                voiced_ms,
            } => {
                if voiced {
                    if frame_end - start > ms_to_samples(self.cfg.max_utterance_ms) {
                        self.finish_utterance(
                            start,
                            last_voiced_end,
                            voiced_ms,
                            frame_start,
                            true,
                            sink,
                        );
                        sink(EndpointEvent::SpeechStart {
                            start: frame_start,
                            decided_at: frame_end,
                        });
                        State::Speech {
                            start: frame_start,
                            last_voiced_end: frame_end,
                            voiced_ms: f,
                        }
                    } else {
                        State::Speech {
                            start,
                            last_voiced_end: frame_end,
                            voiced_ms: voiced_ms + f,
                        }
                    }
                } else if frame_end - last_voiced_end >= ms_to_samples(self.cfg.hangover_ms)
                    && frame_end >= self.hold_until
                {
                    self.finish_utterance(
                        start,
                        last_voiced_end,
                        voiced_ms,
                        frame_end,
                        false,
                        sink,
                    );
                    State::Silence
                } else {
                    State::Speech {
                        start,
                        last_voiced_end,
                        voiced_ms,
                    }
                }
            }
        };
        if self.state == State::Silence {
            self.trim_to_preroll();
        }
    }

    /// The stream has ended: close an utterance in progress.
    pub fn finish(&mut self, sink: &mut impl FnMut(EndpointEvent)) {
        if let State::Speech {
            start,
            last_voiced_end,
            voiced_ms,
        } = self.state
        {
            self.finish_utterance(start, last_voiced_end, voiced_ms, self.pos, true, sink);
        }
        self.state = State::Silence;
        self.trim_to_preroll();
    }

    /// Inside confirmed speech: its first sample and one past its last
    /// voiced sample so far (the pause since then is `position() - end`).
    pub fn speech_so_far(&self) -> Option<(u64, u64)> {
        match self.state {
            State::Speech {
                start,
                last_voiced_end,
                ..
            } => Some((start, last_voiced_end)),
            _ => None,
        }
    }

    /// The audio of the utterance in progress, pre-roll included, up to now.
    pub fn audio_so_far(&self) -> Option<&[f32]> {
        let (start, _) = self.speech_so_far()?;
        let audio_start = start
            .saturating_sub(ms_to_samples(self.cfg.preroll_ms))
            .max(self.history_start);
        self.history
            .get((audio_start - self.history_start) as usize..)
    }

    /// Ends the utterance in progress now, as the hangover would have: the
    /// caller knows the words so far already form a complete request
    /// (endpointing by meaning). Nothing happens outside speech.
    pub fn end_now(&mut self, sink: &mut impl FnMut(EndpointEvent)) {
        if let State::Speech {
            start,
            last_voiced_end,
            voiced_ms,
        } = self.state
        {
            self.finish_utterance(start, last_voiced_end, voiced_ms, self.pos, false, sink);
            self.state = State::Silence;
            self.hold_until = 0;
            self.trim_to_preroll();
        }
    }

    /// Keeps the utterance in progress open until `sample` at least, however
    /// long the pause: the words so far are clearly unfinished ("set a timer
    /// for ..."). Cleared when the utterance ends.
    pub fn hold_until(&mut self, sample: u64) {
        self.hold_until = sample;
    }

    /// Changes how much voiced time starts speech, from the next frame on
    /// (at least one frame): shorter while the assistant talks, so a
    /// barge-in is noticed sooner.
    pub fn set_onset_ms(&mut self, ms: u32) {
        self.cfg.onset_ms = ms.max(self.cfg.frame.ms());
    }

    /// Drop any speech in progress without reporting it (e.g. after a barge-in was handled).
    pub fn reset(&mut self) {
        self.state = State::Silence;
        self.trim_to_preroll();
    }

    fn onset_step(
        &mut self,
        start: u64,
        voiced_ms: u32,
        gap_ms: u32,
        now: u64,
        sink: &mut impl FnMut(EndpointEvent),
    ) -> State {
        if voiced_ms >= self.cfg.onset_ms {
            let start = self.refine_start(start);
            sink(EndpointEvent::SpeechStart {
                start,
                decided_at: now,
            });
            State::Speech {
                start,
                last_voiced_end: now,
                voiced_ms,
            }
        } else {
            State::Onset {
                start,
                voiced_ms,
                gap_ms,
            }
        }
    }

    fn finish_utterance(
        &mut self,
        start: u64,
        end: u64,
        voiced_ms: u32,
        decided_at: u64,
        truncated: bool,
        sink: &mut impl FnMut(EndpointEvent),
    ) {
        self.hold_until = 0;
        if voiced_ms < self.cfg.min_utterance_ms {
            sink(EndpointEvent::Rejected { start, end });
            return;
        }
        let end = self.refine_end(end, decided_at);
        self.last_end = end;
        let audio_start = start
            .saturating_sub(ms_to_samples(self.cfg.preroll_ms))
            .max(self.history_start);
        let from = (audio_start - self.history_start) as usize;
        let to = ((decided_at - self.history_start) as usize).min(self.history.len());
        sink(EndpointEvent::SpeechEnd(Utterance {
            start,
            end,
            decided_at,
            audio_start,
            audio: self.history[from..to.max(from)].to_vec(),
            truncated,
        }));
        // Keep only what a following utterance could need as pre-roll.
        let keep_from = decided_at.saturating_sub(ms_to_samples(self.cfg.preroll_ms));
        self.drop_before(keep_from);
    }

    /// Replaces the newest samples of the history with `samples` (as many
    /// as are held).
    pub fn restore_recent(&mut self, samples: &[f32]) {
        let n = samples.len().min(self.history.len());
        let at = self.history.len() - n;
        self.history[at..].copy_from_slice(&samples[samples.len() - n..]);
    }

    /// Energy of the frame `[at, at + frame)` from the history, if still held.
    fn frame_db(&self, at: u64) -> Option<f32> {
        let n = self.cfg.frame.samples() as u64;
        if at < self.history_start || at + n > self.history_start + self.history.len() as u64 {
            return None;
        }
        let i = (at - self.history_start) as usize;
        Some(crate::frame::energy_dbfs(&self.history[i..i + n as usize]))
    }

    fn loud(&self, at: u64) -> bool {
        self.cfg.refine_db > 0.0
            && self
                .frame_db(at)
                .is_some_and(|e| e >= self.background_db + self.cfg.refine_db)
    }

    fn refine_start(&self, start: u64) -> u64 {
        let n = self.cfg.frame.samples() as u64;
        let reach = self.cfg.refine_max_ms.min(self.cfg.preroll_ms);
        let limit = start
            .saturating_sub(ms_to_samples(reach))
            .max(self.last_end);
        let mut s = start;
        while s >= limit + n && self.loud(s - n) {
            s -= n;
        }
        s
    }

    fn refine_end(&self, end: u64, decided_at: u64) -> u64 {
        let n = self.cfg.frame.samples() as u64;
        let limit = decided_at.min(end + ms_to_samples(self.cfg.refine_max_ms));
        let mut e = end;
        while e + n <= limit && self.loud(e) {
            e += n;
        }
        e
    }

    fn remember(&mut self, frame: &[f32]) {
        if self.history.len() + frame.len() > self.history.capacity() {
            // Never reallocate: drop the oldest audio instead. Only reachable
            // if the state machine failed to split at max_utterance_ms.
            let excess = self.history.len() + frame.len() - self.history.capacity();
            self.history.drain(..excess.min(self.history.len()));
            self.history_start += excess as u64;
        }
        self.history.extend_from_slice(frame);
    }

    fn trim_to_preroll(&mut self) {
        let keep_from = self.pos.saturating_sub(ms_to_samples(self.cfg.preroll_ms));
        self.drop_before(keep_from);
    }

    fn drop_before(&mut self, sample: u64) {
        if sample > self.history_start {
            let n = ((sample - self.history_start) as usize).min(self.history.len());
            // Amortise: compact only when the dropped part is large.
            if n >= self.history.len() / 2 || n > self.cfg.frame.samples() * 64 {
                self.history.drain(..n);
                self.history_start += n as u64;
            }
        }
    }
}

/// VAD and endpointer together over a stream of any block size.
pub struct Segmenter {
    vad: Box<dyn Vad>,
    endpointer: Endpointer,
    frame: Vec<f32>,
    filled: usize,
    /// Whether every part of the frame being filled may count as speech.
    frame_allowed: bool,
    /// Whether every part of the frame being filled is the room as heard.
    frame_room: bool,
}

impl std::fmt::Debug for Segmenter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segmenter")
            .field("endpointer", &self.endpointer)
            .finish()
    }
}

impl Segmenter {
    /// The detector `cfg.vad` names (WebRTC's in `cfg.vad_mode`, or
    /// earshot's), behind the flatness gate, feeding an endpointer.
    pub fn new(cfg: Config) -> Result<Self> {
        let vad: Box<dyn Vad> = match cfg.vad {
            #[cfg(not(target_arch = "wasm32"))]
            VadKind::Webrtc => Box::new(FlatnessGate::new(
                crate::vad::WebRtcVad::new(cfg.vad_mode),
                cfg.max_flatness,
            )),
            #[cfg(target_arch = "wasm32")]
            VadKind::Webrtc => {
                return Err(Error::config(
                    "endpointer.vad: the WebRTC detector is not in the browser build; use \"earshot\"",
                ));
            }
            VadKind::Earshot => Box::new(FlatnessGate::new(EarshotVad::new(), cfg.max_flatness)),
        };
        Self::with_vad(cfg, vad)
    }

    /// Any detector feeding an endpointer.
    pub fn with_vad(cfg: Config, vad: Box<dyn Vad>) -> Result<Self> {
        let n = cfg.frame.samples();
        Ok(Segmenter {
            vad,
            endpointer: Endpointer::new(cfg)?,
            frame: vec![0.0; n],
            filled: 0,
            frame_allowed: true,
            frame_room: true,
        })
    }

    /// The endpointer inside.
    pub fn endpointer_mut(&mut self) -> &mut Endpointer {
        &mut self.endpointer
    }

    /// The endpointer.
    pub fn endpointer(&self) -> &Endpointer {
        &self.endpointer
    }

    /// Push 16 kHz mono samples, any number.
    pub fn push(&mut self, samples: &[f32], sink: &mut impl FnMut(EndpointEvent)) -> Result<()> {
        self.push_gated(samples, true, true, sink)
    }

    /// Push samples that may count as speech only if `allowed`: a frame any
    /// part of which was pushed with `allowed == false` is unvoiced, whatever
    /// the VAD says (the echo canceller's veto while only the far end talks).
    /// `room` says whether the samples are the room as heard, and so move
    /// its noise floor: not the canceller's output while the far end plays
    /// (suppressed echo, or a talker over the residual echo); a frame any
    /// part of which is not leaves that floor as it was
    /// ([`Endpointer::push_heard`]).
    pub fn push_gated(
        &mut self,
        mut samples: &[f32],
        allowed: bool,
        room: bool,
        sink: &mut impl FnMut(EndpointEvent),
    ) -> Result<()> {
        if samples.is_empty() {
            return Ok(());
        }
        self.frame_allowed &= allowed;
        self.frame_room &= room;
        while !samples.is_empty() {
            let take = (self.frame.len() - self.filled).min(samples.len());
            self.frame[self.filled..self.filled + take].copy_from_slice(&samples[..take]);
            self.filled += take;
            samples = &samples[take..];
            if self.filled == self.frame.len() {
                self.filled = 0;
                crate::frame::sanitize(&mut self.frame);
                // The VAD sees every frame, so that its noise model adapts to all of them.
                let voiced = self.vad.is_voiced(&self.frame)? && self.frame_allowed;
                self.endpointer
                    .push_heard(&self.frame, voiced, self.frame_room, sink);
                // The next frame begins with what is left of these samples,
                // or with the next push (regression
                // a_veto_carried_into_the_next_frame: a frame that began with
                // the next push took this one's veto, and the frame in which
                // double talk was found was never voiced).
                let fresh = samples.is_empty();
                self.frame_allowed = allowed || fresh;
                self.frame_room = room || fresh;
            }
        }
        Ok(())
    }

    /// Replaces the last `samples.len()` samples pushed (as far as they are
    /// still held) with `samples`: audio suppressed as echo that turned out
    /// to be the user's. Voicing already decided stays as it was.
    pub fn restore_recent(&mut self, samples: &[f32]) {
        let pending = self.filled.min(samples.len());
        let (older, newest) = samples.split_at(samples.len() - pending);
        self.frame[self.filled - pending..self.filled].copy_from_slice(newest);
        self.endpointer.restore_recent(older);
    }

    /// End of stream: a partial last frame is padded with silence; speech in progress is closed.
    pub fn finish(&mut self, sink: &mut impl FnMut(EndpointEvent)) -> Result<()> {
        if self.filled > 0 {
            let n = self.frame.len() - self.filled;
            self.push(&vec![0.0; n], sink)?;
        }
        self.endpointer.finish(sink);
        Ok(())
    }
}

/// Every utterance in a clip of 16 kHz mono audio.
pub fn segments(samples: &[f32], cfg: &Config) -> Result<Vec<Utterance>> {
    let mut seg = Segmenter::new(cfg.clone())?;
    let mut out = Vec::new();
    let mut sink = |e| {
        if let EndpointEvent::SpeechEnd(u) = e {
            out.push(u);
        }
    };
    seg.push(samples, &mut sink)?;
    seg.finish(&mut sink)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Run a voiced/unvoiced pattern ('#' voiced, '.' not, one char per 10 ms frame)
    /// and describe the events in frames.
    fn run(pattern: &str, cfg: Config) -> String {
        let mut ep = Endpointer::new(cfg).unwrap();
        let frame = [0.0f32; 160];
        let mut out = Vec::new();
        let mut sink = |e: EndpointEvent| {
            out.push(match e {
                EndpointEvent::SpeechStart { start, decided_at } => {
                    format!("start {}@{}", start / 160, decided_at / 160)
                }
                EndpointEvent::SpeechEnd(u) => format!(
                    "end {}..{}@{}{}",
                    u.start / 160,
                    u.end / 160,
                    u.decided_at / 160,
                    if u.truncated { " truncated" } else { "" }
                ),
                EndpointEvent::Rejected { start, end } => {
                    format!("rejected {}..{}", start / 160, end / 160)
                }
            })
        };
        for c in pattern.chars() {
            ep.push(&frame, c == '#', &mut sink);
        }
        ep.finish(&mut sink);
        out.join(", ")
    }

    #[test]
    fn speech_ends_early_when_complete_and_late_when_held() {
        let frame = [0.0f32; 160];
        let mut ep = Endpointer::new(cfg()).unwrap();
        let mut ends = Vec::new();
        let mut sink = |e: EndpointEvent| {
            if let EndpointEvent::SpeechEnd(u) = e {
                ends.push((u.start / 160, u.end / 160, u.decided_at / 160));
            }
        };
        for _ in 0..10 {
            ep.push(&frame, true, &mut sink);
        }
        ep.push(&frame, false, &mut sink);
        ep.push(&frame, false, &mut sink);
        assert_eq!(
            ep.speech_so_far().map(|(s, e)| (s / 160, e / 160)),
            Some((0, 10))
        );
        assert_eq!(ep.audio_so_far().map(|a| a.len() / 160), Some(12));
        ep.end_now(&mut sink);
        assert!(ep.speech_so_far().is_none());
        ep.end_now(&mut sink); // outside speech: nothing
        // Held: a pause longer than the hangover does not end it.
        for _ in 0..10 {
            ep.push(&frame, true, &mut sink);
        }
        let pos = ep.position();
        ep.hold_until(pos + 20 * 160);
        for _ in 0..19 {
            ep.push(&frame, false, &mut sink);
        }
        assert!(ep.speech_so_far().is_some(), "held");
        ep.push(&frame, false, &mut sink);
        assert_eq!(ends, vec![(0, 10, 12), (12, 22, 42)]);
    }

    /// A frame of white-ish noise at `db` dBFS (RMS), seeded.
    fn noise_frame(db: f32, seed: u64) -> Vec<f32> {
        let mut rng = crate::room::Rng::new(seed);
        let amp = libm::powf(10.0, db / 20.0);
        (0..160).map(|_| rng.gaussian() * amp).collect()
    }

    /// Regression (a_floor_pulled_down_by_a_reply_ends_turns_late): frames
    /// that are not the room (the canceller's output while a reply plays,
    /// far below the room's noise) leave the room's floor where it was;
    /// heard as the room, they pull it down, as they once did.
    #[test]
    fn frames_that_are_not_the_room_leave_its_floor() {
        for (room, voiceable) in [(false, false), (true, true)] {
            let mut ep = Endpointer::new(Config::default()).unwrap();
            let mut sink = |_: EndpointEvent| {};
            for i in 0..200 {
                ep.push(&noise_frame(-70.0, i), false, &mut sink);
            }
            assert!(!ep.could_be_voiced(-67.0), "the room's own noise");
            for i in 0..1_000 {
                ep.push_heard(&noise_frame(-95.0, 1_000 + i), false, room, &mut sink);
            }
            for i in 0..10 {
                ep.push(&noise_frame(-70.0, 5_000 + i), false, &mut sink);
            }
            assert_eq!(ep.could_be_voiced(-67.0), voiceable, "room {room}");
        }
    }

    /// Frames pushed as not the room (the canceller's output while the far
    /// end plays, double talk included: allowed, not the room) leave the
    /// room's floor as it was.
    #[test]
    fn double_talk_frames_leave_the_room_s_floor() {
        for (room, voiceable) in [(false, false), (true, true)] {
            let mut seg =
                Segmenter::with_vad(Config::default(), Box::new(crate::vad::AlwaysVoiced)).unwrap();
            let mut sink = |_: EndpointEvent| {};
            for i in 0..200 {
                seg.push_gated(&noise_frame(-70.0, i), false, true, &mut sink)
                    .unwrap();
            }
            for i in 0..1_000 {
                seg.push_gated(&noise_frame(-95.0, 1_000 + i), true, room, &mut sink)
                    .unwrap();
            }
            for i in 0..10 {
                seg.push_gated(&noise_frame(-70.0, 5_000 + i), false, true, &mut sink)
                    .unwrap();
            }
            assert_eq!(
                seg.endpointer().could_be_voiced(-67.0),
                voiceable,
                "room {room}"
            );
        }
    }

    /// Regression (a_veto_carried_into_the_next_frame): pushes that end on
    /// a frame's boundary passed their veto on to the next push's frame,
    /// and the frame in which double talk was found was never voiced.
    #[test]
    fn a_veto_covers_only_the_frames_it_was_pushed_in() {
        let cfg = Config {
            onset_ms: 10,
            min_snr_db: 0.0,
            ..Config::default()
        };
        let loud: Vec<f32> = (0..2).flat_map(|i| noise_frame(-20.0, i)).collect();
        // Pushes of a frame, of half a frame, and of a frame and a half
        // (the last vetoed push runs into the frame the first allowed one
        // finishes: that frame stays vetoed).
        for (sizes, allowed_from) in [(160usize, 3usize), (80, 6), (240, 3)] {
            let mut seg =
                Segmenter::with_vad(cfg.clone(), Box::new(crate::vad::AlwaysVoiced)).unwrap();
            let mut starts = Vec::new();
            let mut sink = |e: EndpointEvent| {
                if let EndpointEvent::SpeechStart { decided_at, .. } = e {
                    starts.push(decided_at);
                }
            };
            for i in 0..10 {
                seg.push_gated(&loud[..sizes], i >= allowed_from, true, &mut sink)
                    .unwrap();
            }
            // The first frame wholly allowed is voiced: it starts speech.
            let first = (allowed_from * sizes).div_ceil(160) as u64 * 160 + 160;
            assert_eq!(starts, vec![first], "pushes of {sizes}");
        }
    }

    fn cfg() -> Config {
        Config {
            onset_ms: 30,
            onset_gap_ms: 20,
            hangover_ms: 50,
            preroll_ms: 20,
            min_utterance_ms: 60,
            max_utterance_ms: 200,
            refine_db: 0.0,
            min_snr_db: 0.0,
            ..Config::default()
        }
    }

    fn check(pattern: &str, expect: &str) {
        assert_eq!(run(pattern, cfg()), expect, "pattern {pattern}");
    }

    #[test]
    fn endpointer_table() {
        check("..........", "");
        check("#..#..#...", "");
        check("#.#.#.....", "start 4@5, rejected 4..5");
        check("..###.....", "start 2@5, rejected 2..5");
        check("..########..........", "start 2@5, end 2..10@15");
        check("..##.####.....", "start 5@6, end 5..9@14");
        check("..#########", "start 2@5, end 2..11@11 truncated");
        check(
            "#########################",
            "start 0@3, end 0..20@20 truncated, start 20@21, rejected 20..25",
        );
    }

    #[test]
    fn preroll_is_kept_in_the_audio() {
        let mut ep = Endpointer::new(cfg()).unwrap();
        let mut got = None;
        for i in 0..30u32 {
            let frame = [i as f32; 160];
            ep.push(&frame, (10..20).contains(&i), &mut |e| {
                if let EndpointEvent::SpeechEnd(u) = e {
                    got = Some(u)
                }
            });
        }
        let u = got.expect("an utterance");
        assert_eq!(u.start, 1600);
        assert_eq!(u.audio_start, 1600 - 320);
        assert_eq!(u.audio[0], 8.0);
        assert_eq!(u.audio.len() as u64, u.decided_at - u.audio_start);
    }

    #[test]
    fn invalid_config_names_the_field() {
        let bad = Config {
            hangover_ms: 0,
            ..Config::default()
        };
        let e = Endpointer::new(bad).unwrap_err().to_string();
        assert!(e.contains("hangover_ms"), "{e}");
    }
}
