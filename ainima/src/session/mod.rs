//! The full-duplex session: audio in → echo canceller → VAD and endpointer
//! → speech to text → language core and agent → reply → text to speech →
//! audio out, with a turn-taking state machine deciding who has the floor.
//!
//! Time is the device's: one block of [`BLOCK`] samples at a time, and every
//! stage's work is charged to that time. In measured mode ([`Costs::Measured`])
//! each stage's real compute time, read from the stopwatch passed in, delays
//! its result by as much simulated time, so latency figures include the work
//! done; with [`Costs::Fixed`] each stage costs a fixed time, so a replay
//! gives the same events bit for bit. A result computed now is released when
//! the device's time reaches it; until then audio keeps flowing (the user may
//! go on talking, and the assistant's audio goes on playing).
//!
//! Endpointing by meaning: after a short pause the words so far are
//! transcribed; a complete request (an intent with every required slot) ends
//! the turn at once; a clearly unfinished one ("set a timer for") holds it
//! open; otherwise the endpointer's hangover decides.
//!
//! Barge-in: the assistant's audio stops at the user's first confirmed
//! syllable (the block it is detected in); the words then decide: a stop
//! word or a request drops the rest of the reply, a backchannel or a noise
//! resumes it where it stopped.

mod hearing;
mod judge;
pub mod profile;
mod thinking;
mod turn;
mod voicing;
mod wake;
pub use ainima_fallbacks::words;
pub use wake::Activation;

use std::collections::{BTreeMap, VecDeque};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

use ainima_agent::agent::Agent;
use ainima_agent::approval::Source;
use ainima_audio::aec::{AecConfig, BLOCK};
use ainima_audio::clock::Clock;
use ainima_audio::device::DuplexDevice;
use ainima_audio::endpoint::{self, EndpointEvent, Utterance};
use ainima_audio::frontend::FrontEnd;
use ainima_fallbacks::catalog::Catalog;
use ainima_fallbacks::matcher::Context;
use ainima_neurosymbolic::Now;
use ainima_neurosymbolic::turn_end::{self, Cues, EndOfTurn, Prosody};
use serde::Serialize;
use serde_json::{Value, json};
use statig::blocking::{IntoStateMachineExt, StateMachine};

use crate::stt::SpeechToText;
use crate::tts::TextToSpeech;
use crate::{Error, Result};
use profile::Profile;
use turn::{Do, Input, Orders, Turns};
use words::Kind;

/// Samples a second at the session's boundary.
pub const RATE: u64 = 16_000;

/// How stage costs are charged to the session's time.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Costs {
    /// Each stage's real compute time (honest latency).
    Measured,
    /// Fixed costs (replays are identical).
    Fixed(FixedCosts),
}

/// The fixed cost of each stage, milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FixedCosts {
    /// Speech to text, per utterance.
    pub stt_ms: f64,
    /// Language core and agent, per turn.
    pub agent_ms: f64,
    /// Text to speech, per sentence.
    pub tts_ms: f64,
}

impl Default for FixedCosts {
    fn default() -> FixedCosts {
        FixedCosts {
            stt_ms: 100.0,
            agent_ms: 1.0,
            tts_ms: 30.0,
        }
    }
}

/// Everything a session is tuned by.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// VAD and endpointer.
    pub endpointer: endpoint::Config,
    /// Echo canceller; `None` only for a device without a speaker path.
    pub aec: Option<AecConfig>,
    /// The assistant's voice.
    pub voice: crate::tts::Voice,
    /// How stage costs are charged.
    pub costs: Costs,
    /// The pause after which the words so far are checked for a complete
    /// request (endpointing by meaning); 0 turns it off.
    pub meaning_pause_ms: u32,
    /// How much of that pause the transcription may start early, so that
    /// its result is ready when the pause is complete: the words are
    /// transcribed `meaning_pause_ms - meaning_lookahead_ms` into the
    /// pause, and the turn ends no sooner than `meaning_pause_ms` into it
    /// (a word said in between discards the result). 0: transcribe only
    /// once the pause is complete.
    pub meaning_lookahead_ms: u32,
    /// When the words are a whole sentence the language core cannot read
    /// and that begins no request, hear them again biased towards what the
    /// skills can do (their example commands as Whisper's previous text),
    /// and take that reading if it is a complete request sharing at least
    /// half its words, in order, with the first. Costs a second
    /// recognition, only on such sentences.
    pub bias_retry: bool,
    /// A live session (a real device, on the real clock): the recogniser
    /// runs on a worker thread, so the session goes on hearing (a barge-in,
    /// the next block) while it works, and partial transcripts of the
    /// words so far are events. Off: it runs in the session's step, its
    /// cost charged to the device's time (simulations and replays, bit for
    /// bit).
    pub live: bool,
    /// How long past its pause an unfinished sentence is held open.
    pub unfinished_hold_ms: u32,
    /// A request the same as one being handled, within this long, is merged
    /// into it (not run twice).
    pub debounce_ms: u32,
    /// Full duplex: the assistant listens while it talks, and can be
    /// interrupted. `false` makes it half duplex (deaf while it talks), as
    /// many assistants are.
    pub barge_in: bool,
    /// Voiced time that starts speech while the assistant talks (the
    /// endpointer's own `onset_ms` otherwise): a barge-in is noticed sooner;
    /// a click that gets through is resumed over.
    pub barge_in_onset_ms: u32,
    /// The wall time the session starts at, Unix seconds (for the skills'
    /// clock: timers, "what time is it").
    pub start_unix: i64,
    /// The time zone the skills' clock tells local time in.
    #[serde(skip)]
    pub time_zone: jiff::tz::TimeZone,
    /// Words heard that begin while the assistant is audible, or within
    /// this long after, and are mostly its own recent words, are its own
    /// voice leaking past the canceller: never an answer, never a request.
    pub own_voice_ms: u32,
    /// With a wake word ([`Session::set_activation`]): speech that begins this
    /// long after the phrase is addressed to the assistant.
    pub wake_window_ms: u32,
    /// With a wake word: speech that begins this long after a reply that
    /// asked a question is its answer, addressed without the phrase.
    pub follow_up_ms: u32,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            endpointer: endpoint::Config::default(),
            aec: Some(AecConfig::default()),
            voice: crate::tts::Voice::default(),
            costs: Costs::Measured,
            meaning_pause_ms: 200,
            meaning_lookahead_ms: 100,
            bias_retry: true,
            live: false,
            unfinished_hold_ms: 1_500,
            debounce_ms: 4_000,
            barge_in: true,
            barge_in_onset_ms: 20,
            start_unix: 1_767_225_600, // 2026-01-01 00:00 UTC
            time_zone: jiff::tz::TimeZone::UTC,
            own_voice_ms: ainima_fallbacks::spoken::OWN_VOICE_MS,
            wake_window_ms: ainima_neurosymbolic::wake::WINDOW_MS,
            follow_up_ms: ainima_neurosymbolic::wake::FOLLOW_UP_MS,
        }
    }
}

/// One thing that happened, at `t` seconds of session time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Seconds since the session started.
    pub t: f64,
    /// What.
    #[serde(flatten)]
    pub kind: EventKind,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// The user began speaking (`t`: the first voiced sample).
    SpeechStart {
        /// When the endpointer knew.
        decided_at: f64,
    },
    /// The user stopped (`t`: the end of the last voiced frame).
    SpeechEnd {
        /// When the turn was judged over.
        decided_at: f64,
        /// `silence` (the hangover), `meaning` (a complete request) or
        /// `model` (the end-of-turn model, where the rules would wait).
        by: &'static str,
    },
    /// The wake word was heard (`t`: where it was detected).
    Wake {
        /// The detector's score, from its threshold to 1 (1 for a push).
        score: f32,
        /// `word` (the wake word) or `push` (push to talk).
        by: &'static str,
    },
    /// Speech not addressed to the assistant (no wake word, no question
    /// open): heard and let go.
    Ignored {
        /// Its start.
        start: f64,
    },
    /// Too short to be speech: a click, a cough.
    Noise {
        /// Its start.
        start: f64,
    },
    /// The words of an utterance.
    Transcript {
        /// The words.
        text: String,
        /// What the recogniser wrote, when `text` is a near reading of it
        /// that the skills or the home understand and the recogniser found
        /// nearly as likely.
        #[serde(skip_serializing_if = "Option::is_none")]
        heard_as: Option<String>,
        /// A near reading likely enough to ask about: the assistant asks
        /// whether it was meant, unless a question of its own is open or
        /// the words were a backchannel.
        #[serde(skip_serializing_if = "Option::is_none")]
        maybe: Option<String>,
        /// The recogniser's confidence, 0 to 1.
        confidence: f32,
        /// How they count for turn-taking.
        kind: Kind,
        /// Compute time, ms.
        stt_ms: f64,
    },
    /// What the language core understood.
    Intent {
        /// The intent, if any.
        intent: Option<String>,
        /// Slots.
        slots: Value,
        /// Confidence.
        confidence: f32,
        /// Which half read it: `rules`, or `both` (the model proposed,
        /// the rules validated); empty when there is no reading at all.
        source: String,
        /// The dialogue's state afterwards.
        state: String,
        /// The words it was given (a self-repair rewritten).
        text: String,
    },
    /// A tool call and what came of it.
    ToolCall {
        /// The tool.
        tool: String,
        /// Its arguments.
        args: Value,
        /// `done`, `failed`, `refused`, `awaiting approval`, `no connector`.
        status: String,
        /// Result or reason.
        detail: Value,
    },
    /// The user is asked to approve something.
    ApprovalRequest {
        /// The request id (none for the dialogue's own confirmation).
        id: Option<String>,
        /// The tool, if known.
        tool: Option<String>,
        /// The question.
        sentence: String,
    },
    /// What the assistant will say.
    Reply {
        /// The words.
        text: String,
    },
    /// The assistant's audio starts.
    TtsStart {
        /// The reply's words.
        text: String,
    },
    /// The assistant's audio stops.
    TtsStop {
        /// `done`, `barge_in`, `stop_word` or `superseded`.
        reason: &'static str,
    },
    /// The assistant fell silent because the user spoke over it.
    Yield {
        /// The user's onset, seconds.
        onset: f64,
    },
    /// It goes on where it stopped (a backchannel, a noise).
    Resume {
        /// Why: `backchannel` or `noise`.
        after: &'static str,
    },
    /// The user interrupted: the rest of the reply is dropped.
    BargeIn {
        /// The user's onset, seconds.
        onset: f64,
        /// From the onset to the assistant's silence, ms.
        stop_latency_ms: f64,
    },
    /// A request the same as one being handled: merged, not run again.
    Debounced {
        /// The words.
        text: String,
    },
    /// Words that were the assistant's own voice coming back (they began
    /// while it was audible and repeat what it said): ignored, never an
    /// answer or a request.
    OwnVoice {
        /// The words.
        text: String,
    },
    /// Something came due: a timer ended, an alarm's time came. Said
    /// after a chime once nobody is speaking, never over the user; "stop"
    /// silences it as it does any reply.
    Ring {
        /// What is said.
        text: String,
    },
    /// Something happened outside the conversation (a device's report, a
    /// message that could not be delivered); said once the floor is free.
    Notice {
        /// What is said.
        text: String,
    },
    /// A stage failed; the session goes on with its fallback.
    Error {
        /// Which stage.
        stage: &'static str,
        /// What happened.
        message: String,
    },
    /// The words so far of speech still going on (live sessions).
    Partial {
        /// What the recogniser made of them.
        text: String,
    },
    /// The audio device was lost, stalled, or came back (live sessions).
    Device {
        /// What became of it.
        status: String,
    },
}

impl EventKind {
    /// What happened, in words for a person (the CLI, report timelines).
    pub fn describe(&self) -> String {
        use EventKind as K;
        match self {
            K::SpeechStart { .. } => "user starts speaking".to_string(),
            K::SpeechEnd { by, decided_at } => {
                format!("user stops (turn over at {decided_at:.2} s, by {by})")
            }
            K::Noise { .. } => "noise, not speech".to_string(),
            K::Wake { score, by } => match *by {
                "push" => "push to talk".to_string(),
                _ => format!("wake word (score {score:.2})"),
            },
            K::Ignored { .. } => "speech not addressed to the assistant, let go".to_string(),
            K::Transcript {
                text,
                heard_as: Some(heard),
                kind,
                stt_ms,
                ..
            } => format!("heard {heard:?}, read as {text:?} ({kind:?}, {stt_ms:.0} ms)"),
            K::Transcript {
                text,
                maybe: Some(maybe),
                kind,
                stt_ms,
                ..
            } => format!("heard {text:?}, maybe {maybe:?} ({kind:?}, {stt_ms:.0} ms)"),
            K::Transcript {
                text, kind, stt_ms, ..
            } => format!("heard {text:?} ({kind:?}, {stt_ms:.0} ms)"),
            K::Intent { intent, slots, .. } => {
                format!("intent {} {}", intent.as_deref().unwrap_or("(none)"), slots)
            }
            K::ToolCall {
                tool, args, status, ..
            } => format!("tool {tool} {args}: {status}"),
            K::ApprovalRequest { sentence, .. } => format!("asks approval: {sentence:?}"),
            K::Reply { text } => format!("reply {text:?}"),
            K::TtsStart { .. } => "assistant starts speaking".to_string(),
            K::TtsStop { reason } => format!("assistant stops ({reason})"),
            K::Yield { .. } => "assistant falls silent: the user speaks over it".to_string(),
            K::Resume { after } => format!("assistant resumes (after a {after})"),
            K::BargeIn {
                stop_latency_ms, ..
            } => format!("barge-in: reply dropped ({stop_latency_ms:.0} ms onset to silence)"),
            K::Debounced { text } => format!("repeated request merged: {text:?}"),
            K::OwnVoice { text } => format!("its own voice heard back, ignored: {text:?}"),
            K::Ring { text } => format!("rings: {text:?}"),
            K::Notice { text } => format!("notice: {text:?}"),
            K::Error { stage, message } => format!("{stage} failed: {message}"),
            K::Device { status } => format!("audio device: {status}"),
            K::Partial { text } => format!("hearing \"{text}\"..."),
        }
    }
}

/// A result waiting for its time.
#[derive(Debug)]
enum Job {
    Final {
        /// The utterance's first voiced sample.
        start: u64,
        text: String,
        confidence: f32,
        stt_ms: f64,
        /// The recogniser failed twice on this utterance.
        error: Option<String>,
    },
    Tentative {
        voiced_end: u64,
        text: String,
        confidence: f32,
        stt_ms: f64,
    },
    Sentence {
        reply: u64,
        audio: Vec<f32>,
        first: bool,
    },
}

impl Job {
    /// An utterance's hearing (its words, or why there are none) as the
    /// job that hands it on.
    fn heard(start: u64, out: Result<crate::stt::Transcript>, stt_ms: f64) -> Job {
        match out {
            Ok(t) => Job::Final {
                start,
                text: t.text,
                confidence: t.confidence,
                stt_ms,
                error: None,
            },
            Err(e) => Job::Final {
                start,
                text: String::new(),
                confidence: 0.0,
                stt_ms,
                error: Some(e.to_string()),
            },
        }
    }
}

/// What the assistant said and when it was audible.
#[derive(Debug)]
struct Spoken {
    reply: u64,
    words: Vec<String>,
    /// One past the last sample it is known to play to.
    until: u64,
}

#[derive(Debug)]
struct Reply {
    id: u64,
    text: String,
    /// Everything queued for the speaker so far.
    queued: Vec<f32>,
    /// Sentences not yet released.
    waiting: usize,
    started: bool,
    /// The turn it answers (for the profile).
    turn: usize,
    /// Where in `queued` its closing question starts.
    question_from: Option<usize>,
    /// Where in `queued` the latest sentence starts.
    last_from: usize,
    /// Its sentences are still being made (live sessions: how many there
    /// will be is known once they are).
    making: bool,
    /// A chime goes before its first sentence.
    chime: bool,
}

impl Reply {
    /// Once its last sentence is in, a reply ending in a question asks
    /// from that sentence on.
    fn question_check(&mut self) {
        if self.waiting == 0 && !self.making && self.text.trim_end().ends_with('?') {
            self.question_from = Some(self.last_from);
        }
    }
}

/// Where the synthesiser runs.
enum Speaker {
    /// In the session's step, charged to the device's time.
    Here(Box<dyn TextToSpeech>),
    /// On a worker thread (live sessions).
    Away(voicing::Voicing),
}

/// Where the recogniser runs.
enum Hearer {
    /// In the session's step, charged to the device's time.
    Here(Box<dyn SpeechToText + Send>),
    /// On a worker thread (live sessions).
    Away(hearing::Hearing),
}

/// The session.
pub struct Session {
    cfg: Config,
    front: FrontEnd,
    hearer: Hearer,
    speaker: Speaker,
    /// The agent: language core, tools, approvals, audit; `None` while it
    /// works on a turn on a live session's worker.
    agent: Option<Agent>,
    /// A live session's agent worker.
    thinking: Option<thinking::Thinking>,
    /// What was heard while the agent was at work, in order.
    asked: VecDeque<(String, Source)>,
    /// Counts the replies dropped or superseded (barge-in, stop, a new
    /// request); a live turn that comes back after one was overtaken.
    overtaken: u64,
    /// `overtaken` when the agent's current turn was handed over.
    asked_at: u64,
    /// What a live session's look at the agent (a poll) found to say,
    /// waiting for the floor.
    unsaid: VecDeque<String>,
    judge: judge::Judge,
    /// Where the latest partial transcript was asked for: (the speech's
    /// onset, samples of it heard then).
    partial_at: Option<(u64, u64)>,
    /// The latest partial hearing: (onset, heard up to, text, confidence,
    /// ms).
    partial_heard: Option<(u64, u64, String, f32, f64)>,
    /// See [`Session::hold_unasked`].
    hold_unasked: bool,
    turns: StateMachine<Turns>,
    stopwatch: Arc<dyn Clock>,
    pos: u64,
    events: Vec<Event>,
    jobs: VecDeque<(u64, Job)>,
    stt_free_at: u64,
    tts_free_at: u64,
    checked_pause: Option<u64>,
    /// The last words transcribed in a pause: (voiced end, text,
    /// confidence, ms, ready at).
    tentative: Option<(u64, String, f32, f64, u64)>,
    meaning_transcript: Option<(String, f32, f64)>,
    /// The end-of-turn model, when one joins the rules
    /// ([`Session::set_end_of_turn`]).
    end_of_turn: Option<Arc<EndOfTurn>>,
    /// The turn being ended was ended by the end-of-turn model.
    ended_by_model: bool,
    /// Where the audio of the last check of a pause began, when a wake word
    /// cut the words before it away.
    meaning_cut: Option<u64>,
    reply: Option<Reply>,
    /// What the last hearing made of near readings, for the words it
    /// gave: (those words, what the recogniser wrote if a reading was
    /// taken, a reading to ask about).
    readings: Option<(String, Option<String>, Option<String>)>,
    /// The reading the assistant asked about ("Did you mean ...?") and when.
    offer: Option<(String, u64)>,
    /// The language core's last turn left it waiting for an answer (a
    /// slot to fill or a confirmation).
    dialogue_open: bool,
    next_reply: u64,
    paused: Option<Vec<f32>>,
    onset: Option<u64>,
    paused_at: Option<u64>,
    last_request: Option<(String, u64)>,
    asking: bool,
    /// The wake word, when the session waits for one.
    wake: Option<wake::Gate>,
    /// The assistant's recent replies, for telling its own voice heard
    /// back from the user's.
    spoken: VecDeque<Spoken>,
    /// Per-turn timelines and stage histograms.
    pub profile: Profile,
    mic: Vec<f32>,
    reference: Vec<f32>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("pos", &self.pos)
            .field("state", &self.state())
            .finish_non_exhaustive()
    }
}

/// The civil time `unix` seconds after the epoch in `zone` (what the
/// skills' clock tells: "what time is it", alarms, dates).
pub fn local_now(unix: i64, zone: &jiff::tz::TimeZone) -> Now {
    let Ok(t) = jiff::Timestamp::from_second(unix) else {
        return Now::from_unix(unix);
    };
    let c = zone.to_datetime(t);
    let Some(date) =
        ainima_fallbacks::date::Date::new(i32::from(c.year()), c.month() as u32, c.day() as u32)
    else {
        return Now::from_unix(unix);
    };
    Now {
        date,
        seconds: c.hour() as u32 * 3600 + c.minute() as u32 * 60 + c.second() as u32,
    }
}

/// The events of one agent turn on `text` (the words it was given):
/// what was understood, the approval asked for by the dialogue or the
/// agent (`new_requests`), each tool call, in the order a session emits
/// them (the reply's event comes after, when there is one). Typed and
/// spoken turns write the same events.
pub fn turn_events(turn: &ainima_agent::agent::AgentTurn, catalog: &Catalog) -> Vec<EventKind> {
    let mut out = Vec::new();
    if let Some(d) = &turn.dialogue {
        out.push(EventKind::Intent {
            intent: d.intent.clone(),
            slots: json!(d.slots),
            confidence: d.confidence,
            source: d.source.to_string(),
            state: d.state.to_string(),
            text: d.heard.clone(),
        });
        // The dialogue's question; with its request's id when it made one.
        if d.state == "confirming" && turn.requests.is_empty() {
            out.push(EventKind::ApprovalRequest {
                id: None,
                tool: d
                    .intent
                    .as_ref()
                    .and_then(|i| catalog.intents.get(i))
                    .and_then(|i| i.action.clone()),
                sentence: d.reply.clone(),
            });
        }
    }
    for c in &turn.calls {
        out.push(EventKind::ToolCall {
            tool: c.tool.clone(),
            args: c.args.clone(),
            status: c.status.clone(),
            detail: c.detail.clone(),
        });
    }
    for r in &turn.requests {
        out.push(EventKind::ApprovalRequest {
            id: Some(r.id.clone()),
            tool: Some(r.tool.clone()),
            sentence: r.sentence.clone(),
        });
    }
    if let Some(text) = &turn.notice {
        out.push(EventKind::Notice { text: text.clone() });
    }
    out
}

/// Two falling tones, 150 ms each with a 10 ms fade, then 100 ms of
/// silence: what a ring starts with.
fn chime_audio() -> Vec<f32> {
    let tone = |hz: f32| {
        let n = (RATE as usize) * 150 / 1000;
        let fade = (RATE as usize) / 100;
        (0..n).map(move |i| {
            let env = (i.min(n - 1 - i) as f32 / fade as f32).min(1.0);
            0.3 * env * libm::sinf(std::f32::consts::TAU * hz * i as f32 / RATE as f32)
        })
    };
    let mut out: Vec<f32> = tone(880.0).chain(tone(660.0)).collect();
    out.resize(out.len() + RATE as usize / 10, 0.0);
    out
}

/// The words of four letters or more in `text`, normalised: what a
/// sentence is about, more or less ("milk", "list"; not "to", "my").
fn content_words(text: &str) -> Vec<String> {
    crate::stt::wer::normalize(text)
        .into_iter()
        .filter(|w| w.chars().count() >= 4)
        .collect()
}

fn secs(samples: u64) -> f64 {
    samples as f64 / RATE as f64
}

/// Runs `f`, returning its result and its cost in ms: measured on
/// `stopwatch`, or the fixed cost `fixed` picks.
fn charged<T>(
    costs: &Costs,
    stopwatch: &dyn Clock,
    fixed: impl Fn(&FixedCosts) -> f64,
    f: impl FnOnce() -> T,
) -> (T, f64) {
    let t0 = stopwatch.now();
    let out = f();
    let ms = match costs {
        Costs::Measured => stopwatch.now().saturating_sub(t0).as_secs_f64() * 1000.0,
        Costs::Fixed(c) => fixed(c),
    };
    (out, ms)
}

/// New speech between two partial hearings (300 ms).
const PARTIAL_EVERY: usize = RATE as usize * 3 / 10;
/// No partial hearing is started this far into a pause (ms).
const PARTIAL_PAUSE_MS: f64 = 60.0;

/// How long a "Did you mean ...?" waits for its yes or no.
const OFFER_MS: f64 = 10_000.0;

/// Speech that ends within this long of a wake word inside it was the
/// phrase alone: the request comes next.
const WAKE_ALONE_MS: f64 = ainima_neurosymbolic::wake::ALONE_MS as f64;

fn ms_to_samples(ms: f64) -> u64 {
    (ms.max(0.0) * RATE as f64 / 1000.0).round() as u64
}

impl Session {
    /// A session. `stopwatch` measures compute time in measured mode (a
    /// [`ainima_audio::clock::SystemClock`]); `catalog` is the one the
    /// agent's assistant was built from (for completeness checks).
    pub fn new(
        cfg: Config,
        stt: Box<dyn SpeechToText + Send>,
        tts: Box<dyn TextToSpeech>,
        agent: Agent,
        catalog: Catalog,
        stopwatch: Arc<dyn Clock>,
    ) -> Result<Session> {
        cfg.voice.validate()?;
        let front = FrontEnd::new(cfg.endpointer.clone(), cfg.aec.clone())?;
        let home = agent
            .home
            .as_ref()
            .map(|h| (h.language.clone(), h.context.clone()));
        let judge = judge::Judge::new(&catalog, cfg.bias_retry, home.clone())?;
        let hearer = if cfg.live {
            Hearer::Away(hearing::Hearing::start(
                stt,
                &catalog,
                cfg.bias_retry,
                home,
                stopwatch.clone(),
            )?)
        } else {
            Hearer::Here(stt)
        };
        let (speaker, thinking) = if cfg.live {
            (
                Speaker::Away(voicing::Voicing::start(tts, stopwatch.clone())?),
                Some(thinking::Thinking::start(stopwatch.clone())?),
            )
        } else {
            (Speaker::Here(tts), None)
        };
        let mut turns = Turns.state_machine();
        turns.handle_with_context(&Input::Silent, &mut Orders::default());
        Ok(Session {
            cfg,
            front,
            hearer,
            speaker,
            agent: Some(agent),
            thinking,
            asked: VecDeque::new(),
            overtaken: 0,
            asked_at: 0,
            unsaid: VecDeque::new(),
            judge,
            partial_at: None,
            partial_heard: None,
            hold_unasked: false,
            turns,
            stopwatch,
            pos: 0,
            events: Vec::new(),
            jobs: VecDeque::new(),
            stt_free_at: 0,
            tts_free_at: 0,
            checked_pause: None,
            tentative: None,
            meaning_transcript: None,
            end_of_turn: None,
            ended_by_model: false,
            meaning_cut: None,
            reply: None,
            readings: None,
            offer: None,
            dialogue_open: false,
            next_reply: 0,
            paused: None,
            onset: None,
            paused_at: None,
            last_request: None,
            asking: false,
            wake: None,
            spoken: VecDeque::new(),
            profile: Profile::default(),
            mic: vec![0.0; BLOCK],
            reference: vec![0.0; BLOCK],
        })
    }

    /// The agent, unless it is at work on a turn (live sessions).
    pub fn agent(&self) -> Option<&Agent> {
        self.agent.as_ref()
    }

    /// The agent, unless it is at work on a turn (live sessions); before
    /// the session runs it is always home.
    pub fn agent_mut(&mut self) -> Option<&mut Agent> {
        self.agent.as_mut()
    }

    /// The turn-taking state's name.
    pub fn state(&self) -> &'static str {
        turn::name(self.turns.state())
    }

    /// The wall time now, Unix milliseconds: the session's start plus the
    /// device's time (what the agent dates approvals and audit records by).
    pub fn wall_ms(&self) -> u64 {
        (self.cfg.start_unix.max(0) as u64) * 1000 + self.pos * 1000 / RATE
    }

    /// The skills' clock now: the session's start plus the device's time,
    /// told in its zone.
    fn now(&self) -> Now {
        local_now(
            self.cfg.start_unix + (self.pos / RATE) as i64,
            &self.cfg.time_zone,
        )
    }

    /// Session time, in samples.
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// Events so far, taken.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    fn emit(&mut self, at: u64, kind: EventKind) {
        self.events.push(Event { t: secs(at), kind });
    }

    fn schedule(&mut self, ready: u64, job: Job) {
        let at = self
            .jobs
            .iter()
            .position(|(r, _)| *r > ready)
            .unwrap_or(self.jobs.len());
        self.jobs.insert(at, (ready, job));
    }

    /// Whether the assistant has the floor or yielded it for a while: what
    /// is heard now is said over its speech.
    fn over_speech(&self) -> bool {
        matches!(self.state(), "yielding" | "speaking" | "resuming")
    }

    /// Hears `audio` here and now, charged (with the second hearing);
    /// `over_speech`: said over the assistant's speech.
    fn transcribe(
        &mut self,
        audio: &[f32],
        over_speech: bool,
    ) -> (Result<crate::stt::Transcript>, f64) {
        let Hearer::Here(stt) = &mut self.hearer else {
            return (
                Err(Error::Inference("the recogniser runs on its worker".into())),
                0.0,
            );
        };
        let (out, ms) = self.judge.transcribe(
            &mut **stt,
            audio,
            over_speech,
            &self.cfg.costs,
            &*self.stopwatch,
        );
        self.note_readings(&out);
        (out, ms)
    }

    /// Keeps what a hearing made of near readings (what the recogniser
    /// wrote when one was taken, one to ask about), for the words it gave.
    fn note_readings(&mut self, out: &Result<crate::stt::Transcript>) {
        if let Ok(t) = out {
            self.readings = Some((t.text.clone(), t.heard_as.clone(), t.maybe.clone()));
        }
    }

    fn unreadable(&self, text: &str) -> bool {
        self.judge.unreadable(text)
    }

    /// Whether the rules end the turn on `text` (read as `cues`) in a
    /// pause (a stop word, a backchannel over the assistant and the like
    /// aside): a complete request; a self-repair; a sentence the
    /// recogniser closed (".", "?") that does not dangle and is a request;
    /// or three words or more the core cannot read and that do not begin
    /// one ("set a timer for five." may go on "no, ten minutes"): the
    /// dialogue asks for the rest, or says it cannot help, a hangover
    /// sooner. A name alone ("Picovoice.", said before the request) waits
    /// for the hangover.
    fn rules_end(&self, text: &str, cues: &Cues) -> bool {
        cues.complete
            || self.repaired(text).is_some()
            || (cues.closed && !cues.unfinished && cues.parses)
            || cues.unreadable
    }

    /// What the language core reads from `text` for the end-of-turn model.
    fn turn_cues(&self, text: &str) -> Cues {
        let t = text.trim_end();
        Cues {
            complete: self.complete(text),
            parses: self
                .judge
                .matcher
                .parse(text, &Context::default())
                .is_some(),
            closed: t.ends_with(['.', '?', '!']),
            question: t.ends_with('?'),
            unfinished: words::unfinished(text),
            unreadable: self.unreadable(text),
            comma: t.ends_with(','),
        }
    }

    /// Lets the end-of-turn model join the rules in pauses (`None`: the
    /// rules alone). Where the rules would end the turn and the model
    /// finds it unlikely over ([`EndOfTurn::hold_below`]), the turn goes on
    /// to the silence timeout or more words; where the rules would wait
    /// and the model finds it over ([`EndOfTurn::end_above`]), it ends
    /// (`speech_end` by `model`).
    pub fn set_end_of_turn(&mut self, model: Option<Arc<EndOfTurn>>) {
        self.end_of_turn = model;
    }

    /// An example for training the end-of-turn model: `audio` (16 kHz,
    /// ending in the pause where the turn is judged) heard by this
    /// session's recogniser; its words, the model's features and whether
    /// the rules alone would end the turn there.
    pub fn end_of_turn_example(&mut self, audio: &[f32]) -> Result<(String, [f32; 12], bool)> {
        let (out, _) = self.transcribe(audio, false);
        let text = out?.text;
        let cues = self.turn_cues(&text);
        let x = turn_end::features(&cues, &Prosody::of(audio));
        let rules = self.rules_end(&text, &cues);
        Ok((text, x, rules))
    }

    fn complete(&self, text: &str) -> bool {
        self.judge.complete(text)
    }

    fn repaired(&self, text: &str) -> Option<String> {
        self.judge.repaired(text)
    }

    /// One block from `device`: capture, hear, decide, speak. Returns
    /// `false` at the end of the device's stream.
    pub fn step(&mut self, device: &mut dyn DuplexDevice) -> Result<bool> {
        let n = match device.capture(&mut self.mic, &mut self.reference) {
            Ok(n) => n,
            Err(ainima_audio::Error::EndOfStream) => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        self.pos += n as u64;
        if !self.cfg.barge_in && matches!(self.state(), "speaking" | "resuming") {
            // Half duplex: nothing is heard while the assistant talks.
            self.mic.fill(0.0);
        }
        // Between two sentences of a reply its echo may still arrive: the
        // canceller keeps treating the far end as active until the reply is
        // over (or paused).
        let mid_reply = self.paused.is_none() && self.reply.as_ref().is_some_and(|r| r.started);
        if let Some(aec) = self.front.aec_mut() {
            aec.set_mid_reply(mid_reply);
        }
        let mut found = Vec::new();
        let clean = self
            .front
            .process(&self.mic, &self.reference, &mut |e| found.push(e))?;
        if let Some(g) = self.wake.as_mut() {
            g.hear(clean);
        }
        self.woke(device);
        for e in found {
            self.on_endpoint(e, device);
        }
        self.heard();
        self.thought(device);
        self.voiced(device);
        self.meaning_check();
        self.release(device);
        self.playback_check(device);
        self.ring_check();
        Ok(n == BLOCK)
    }

    /// Notes what became of the audio device (a live session reopening a
    /// lost or stalled one): an event at the session's time.
    pub fn device_status(&mut self, status: String) {
        self.emit(self.pos, EventKind::Device { status });
    }

    /// Holds (or lets go) what the session would say unasked (rings,
    /// approvals settled elsewhere, notices): while a live session passes
    /// the time it had no device, nobody could hear them.
    pub fn hold_unasked(&mut self, hold: bool) {
        self.hold_unasked = hold;
    }

    /// How the session knows speech is meant for it: always (the
    /// default), after a wake word, or after a push to talk; see
    /// [`Config::wake_window_ms`] and [`Config::follow_up_ms`].
    pub fn set_activation(&mut self, activation: Activation) -> Result<()> {
        self.wake = match activation {
            Activation::Always => None,
            Activation::Wake(w) => Some(wake::Gate::new(Some(w), self.pos)?),
            Activation::PushToTalk => Some(wake::Gate::new(None, self.pos)?),
        };
        Ok(())
    }

    /// The user pushed to talk: speech beginning within
    /// [`Config::wake_window_ms`] from now is addressed.
    pub fn push_to_talk(&mut self) {
        let window = ms_to_samples(self.cfg.wake_window_ms as f64);
        if let Some(g) = self.wake.as_mut() {
            g.until = self.pos + window;
            self.emit(
                self.pos,
                EventKind::Wake {
                    score: 1.0,
                    by: "push",
                },
            );
        }
    }

    /// The wake words heard in the last block: events, and the window they
    /// open; one inside speech going on makes it a turn, and cuts the
    /// words before it away.
    fn woke(&mut self, device: &mut dyn DuplexDevice) {
        let Some(g) = self.wake.as_mut() else {
            return;
        };
        let found = g.take();
        if found.is_empty() {
            return;
        }
        let window = ms_to_samples(self.cfg.wake_window_ms as f64);
        let ep = self.front.segmenter().endpointer();
        let mut now_heard = false;
        for d in &found {
            g.until = d.at + window;
            g.detected = Some(d.at);
            if let Some((start, _)) = ep.speech_so_far()
                && start < d.at
                && let Some(audio) = ep.audio_so_far()
            {
                let first = ep.position().saturating_sub(audio.len() as u64);
                g.cut = Some(ainima_neurosymbolic::wake::request_start(
                    audio, first, d.at,
                ));
                now_heard |= std::mem::take(&mut g.unheard);
            }
        }
        for d in found {
            self.emit(
                d.at,
                EventKind::Wake {
                    score: d.score,
                    by: "word",
                },
            );
        }
        // While it works on an answer, a turn begins only once words
        // follow the phrase (`on_utterance`): a false wake, or the phrase
        // alone, does not throw that answer away.
        if now_heard {
            if self.state() == "thinking" {
                if let Some(g) = self.wake.as_mut() {
                    g.late_onset = true;
                }
            } else {
                self.feed(Input::Onset, device);
            }
        }
    }

    /// Whether speech beginning at `start` is addressed to the assistant:
    /// always without a wake word; with one (or push to talk), within the
    /// window the phrase (or the push) opened, over the assistant's own
    /// voice, or soon after a reply that asked a question of its own.
    fn addressed(&self, start: u64) -> bool {
        let Some(g) = &self.wake else {
            return true;
        };
        // Over its own voice, speech is a barge-in (a "stop" needs no wake
        // word); while it only works, the television is not.
        let engaged = self.over_speech();
        // A question of its own is open (the agent at work on a turn asks
        // none).
        let asked = self.asking
            || self.dialogue_open
            || self.offer.is_some()
            || self.agent.as_ref().is_some_and(Agent::awaiting_answer);
        start < g.until
            || engaged
            || asked
                && g.spoke_at
                    .is_some_and(|at| start < at + ms_to_samples(self.cfg.follow_up_ms as f64))
    }

    /// A new device: the echo canceller starts afresh (another echo path).
    pub fn new_device(&mut self) -> Result<()> {
        self.front.reset_echo()?;
        Ok(())
    }

    /// Runs until the device's stream ends or `until` samples, then lets
    /// pending work finish (up to 30 s more of silence is not captured: the
    /// clock simply moves to each result).
    pub fn run(&mut self, device: &mut dyn DuplexDevice, until: u64) -> Result<()> {
        while self.pos < until && self.step(device)? {}
        let mut found = Vec::new();
        self.front.finish(&mut |e| found.push(e))?;
        for e in found {
            self.on_endpoint(e, device);
        }
        Ok(())
    }

    fn on_endpoint(&mut self, e: EndpointEvent, device: &mut dyn DuplexDevice) {
        match e {
            EndpointEvent::SpeechStart { start, decided_at } => {
                self.emit(
                    start,
                    EventKind::SpeechStart {
                        decided_at: secs(decided_at),
                    },
                );
                self.onset = Some(start);
                self.checked_pause = None;
                self.meaning_transcript = None;
                // Speech not addressed to it is no turn: the assistant goes
                // on with what it was doing (a reply being prepared is not
                // superseded by the television). A wake word inside it
                // makes it one (`woke`).
                if self.addressed(start) {
                    self.feed(Input::Onset, device);
                } else if let Some(g) = self.wake.as_mut() {
                    g.unheard = true;
                }
            }
            EndpointEvent::Rejected { start, end } => {
                self.emit(end, EventKind::Noise { start: secs(start) });
                if let Some(g) = self.wake.as_mut() {
                    g.cut = None;
                    if std::mem::take(&mut g.unheard) {
                        return;
                    }
                }
                self.feed(Input::Rejected, device);
                if self.state() == "resuming" {
                    self.feed(Input::Speaking, device);
                }
            }
            EndpointEvent::SpeechEnd(u) => self.on_utterance(u, device),
        }
    }

    fn on_utterance(&mut self, mut u: Utterance, device: &mut dyn DuplexDevice) {
        // Said over the assistant's speech: as the state was before the
        // end of the utterance is fed.
        let over_speech = self.over_speech();
        let mut by_meaning = self.meaning_transcript.take();
        let by_model = std::mem::take(&mut self.ended_by_model);
        // With a wake word: speech not addressed is let go; the words
        // before the phrase are cut away; the phrase alone waits for the
        // request.
        if let Some(g) = self.wake.as_mut() {
            let unheard = std::mem::take(&mut g.unheard);
            // Where the request begins: the cut made while the speech went
            // on, or, for a phrase detected as the speech ended, found now.
            let cut = g
                .cut
                .take()
                .or_else(|| {
                    g.detected
                        .filter(|&d| d > u.start && d <= u.decided_at)
                        .map(|d| {
                            ainima_neurosymbolic::wake::request_start(&u.audio, u.audio_start, d)
                        })
                })
                .filter(|&c| c > u.start);
            g.detected = None;
            let late = std::mem::take(&mut g.late_onset);
            let alone = cut.is_some_and(|c| u.end < c + ms_to_samples(WAKE_ALONE_MS));
            if unheard && cut.is_none() || (unheard || late) && alone {
                // Not addressed; or the phrase alone, found as the speech
                // ended or while the assistant worked on an answer (which
                // goes on): the request comes next.
                self.emit(
                    u.end,
                    EventKind::Ignored {
                        start: secs(u.start),
                    },
                );
                return;
            }
            // A phrase found as the speech ended, or heard while the
            // assistant worked: a turn from here.
            if unheard || late {
                self.feed(Input::Onset, device);
            }
            if let Some(c) = cut {
                if u.end < c + ms_to_samples(WAKE_ALONE_MS) {
                    // The phrase alone: over its own voice, it stops and
                    // listens; otherwise it waits for the request.
                    self.emit(
                        u.end,
                        EventKind::SpeechEnd {
                            decided_at: secs(u.decided_at),
                            by: "silence",
                        },
                    );
                    if self.over_speech() {
                        self.feed(Input::Heard(Kind::Stop), device);
                    } else {
                        self.feed(Input::End, device);
                        self.feed(Input::Silent, device);
                    }
                    return;
                }
                u.cut_before(c);
                // Words heard before the cut had the phrase in them.
                by_meaning = by_meaning.filter(|_| self.meaning_cut == Some(c));
                self.tentative = self
                    .tentative
                    .take()
                    .filter(|_| self.meaning_cut == Some(c));
            }
        }
        self.emit(
            u.end,
            EventKind::SpeechEnd {
                decided_at: secs(u.decided_at),
                by: if by_model && by_meaning.is_some() {
                    "model"
                } else if by_meaning.is_some() {
                    "meaning"
                } else {
                    "silence"
                },
            },
        );
        self.feed(Input::End, device);
        self.profile.begin(secs(u.end), secs(u.decided_at));
        // The words are known already: the check that ended the turn, or
        // the words transcribed in the pause with nothing said since (that
        // reading stands, ready when it is: not heard a second time).
        let known = by_meaning
            .map(|(text, c, ms)| (text, c, ms, self.pos))
            .or_else(|| {
                self.tentative
                    .take_if(|t| t.0 == u.end)
                    .map(|(_, text, c, ms, ready)| (text, c, ms, ready.max(self.pos)))
            });
        match known {
            Some((text, confidence, stt_ms, ready)) => {
                self.profile.stage("stt", stt_ms);
                self.schedule(
                    ready,
                    Job::Final {
                        start: u.start,
                        text,
                        confidence,
                        stt_ms,
                        error: None,
                    },
                );
            }
            None => {
                if let Hearer::Away(h) = &mut self.hearer {
                    h.ask(
                        hearing::Purpose::Final {
                            start: u.start,
                            over_speech,
                        },
                        u.audio,
                    );
                    return;
                }
                let Hearer::Here(stt) = &mut self.hearer else {
                    return;
                };
                let (out, ms) = self.judge.transcribe_utterance(
                    &mut **stt,
                    &u.audio,
                    over_speech,
                    &self.cfg.costs,
                    &*self.stopwatch,
                );
                self.note_readings(&out);
                let begin = self.pos.max(self.stt_free_at);
                let ready = begin + ms_to_samples(ms);
                self.stt_free_at = ready;
                self.profile.stage("stt", ms);
                self.schedule(ready, Job::heard(u.start, out, ms));
            }
        }
    }

    /// Endpointing by meaning: after `meaning_pause_ms` without a voiced
    /// frame, transcribe the words so far once.
    fn meaning_check(&mut self) {
        if self.cfg.meaning_pause_ms == 0 {
            return;
        }
        let ep = self.front.segmenter().endpointer();
        let Some((onset, voiced_end)) = ep.speech_so_far() else {
            return;
        };
        // Speech not addressed to the assistant is not read at all.
        if self.wake.as_ref().is_some_and(|g| g.unheard) {
            return;
        }
        let pause = self.pos.saturating_sub(voiced_end);
        let early = self
            .cfg
            .meaning_pause_ms
            .saturating_sub(self.cfg.meaning_lookahead_ms);
        if pause < ms_to_samples(early as f64) || self.checked_pause == Some(voiced_end) {
            return;
        }
        self.checked_pause = Some(voiced_end);
        let over_speech = self.over_speech();
        let Some(mut audio) = ep.audio_so_far().map(<[f32]>::to_vec) else {
            return;
        };
        // After a wake word inside the speech, the request is what follows.
        let cut = self
            .wake
            .as_ref()
            .and_then(|g| g.cut)
            .filter(|&c| c > onset);
        self.meaning_cut = cut;
        if let Some(c) = cut {
            let first = ep.position().saturating_sub(audio.len() as u64);
            audio.drain(..(c.saturating_sub(first) as usize).min(audio.len()));
        }
        if let Hearer::Away(h) = &mut self.hearer {
            // A partial hearing that took in everything voiced so far is
            // the words of this pause: no second hearing of the same,
            // unless the core cannot read them, when the hearing of a pause
            // weighs near readings (as in a simulated session).
            match self.partial_heard.take() {
                Some((o, upto, text, confidence, stt_ms))
                    if o == onset
                        && cut.is_none()
                        && upto >= voiced_end
                        && self.judge.understood(&text) =>
                {
                    self.pause_heard(voiced_end, text, confidence, stt_ms, self.pos);
                }
                _ => h.ask(
                    hearing::Purpose::Tentative {
                        voiced_end,
                        over_speech,
                    },
                    audio,
                ),
            }
            return;
        }
        let (out, ms) = self.transcribe(&audio, over_speech);
        let begin = self.pos.max(self.stt_free_at);
        let ready = begin + ms_to_samples(ms);
        self.stt_free_at = ready;
        if let Ok(t) = out {
            self.pause_heard(voiced_end, t.text, t.confidence, ms, ready);
        }
    }

    /// The words of the pause after `voiced_end`, ready at `ready`: kept
    /// (a turn the hangover ends takes them) and decided on no sooner than
    /// the whole pause.
    fn pause_heard(
        &mut self,
        voiced_end: u64,
        text: String,
        confidence: f32,
        stt_ms: f64,
        ready: u64,
    ) {
        let decide = ready.max(voiced_end + ms_to_samples(self.cfg.meaning_pause_ms as f64));
        self.tentative = Some((voiced_end, text.clone(), confidence, stt_ms, ready));
        self.schedule(
            decide,
            Job::Tentative {
                voiced_end,
                text,
                confidence,
                stt_ms,
            },
        );
    }

    /// A live session's hearings that came back, each put where a
    /// hearing in the step would have put it, at the time it came back;
    /// and, while the user speaks and the worker is idle, a partial
    /// hearing of the words so far every 300 ms of new speech.
    fn heard(&mut self) {
        let Hearer::Away(h) = &mut self.hearer else {
            return;
        };
        let mut back = Vec::new();
        while let Some(r) = h.take() {
            back.push(r);
        }
        let idle = h.in_flight() == 0;
        for r in back {
            if !matches!(r.purpose, hearing::Purpose::Partial { .. }) {
                self.note_readings(&r.transcript);
            }
            match (r.purpose, r.transcript) {
                (hearing::Purpose::Final { start, .. }, out) => {
                    self.profile.stage("stt", r.ms);
                    self.schedule(self.pos, Job::heard(start, out, r.ms));
                }
                (hearing::Purpose::Tentative { voiced_end, .. }, Ok(t)) => {
                    self.pause_heard(voiced_end, t.text, t.confidence, r.ms, self.pos);
                }
                (hearing::Purpose::Partial { onset, upto }, Ok(t)) => {
                    let still = self.front.segmenter().endpointer().speech_so_far();
                    if still.is_some_and(|(s, _)| s == onset) && !t.text.trim().is_empty() {
                        self.emit(
                            self.pos,
                            EventKind::Partial {
                                text: t.text.clone(),
                            },
                        );
                        self.partial_heard = Some((onset, upto, t.text, t.confidence, r.ms));
                    }
                }
                _ => {}
            }
        }
        let ep = self.front.segmenter().endpointer();
        let Some((onset, voiced_end)) = ep.speech_so_far() else {
            self.partial_at = None;
            return;
        };
        // Not in a pause: the pause's own hearing (and the final one) must
        // not wait behind a partial.
        if self.pos.saturating_sub(voiced_end) > ms_to_samples(PARTIAL_PAUSE_MS) {
            return;
        }
        let Some(mut audio) = ep.audio_so_far() else {
            return;
        };
        // After a wake word inside the speech: the words that follow it.
        let end = ep.position();
        if let Some(c) = self
            .wake
            .as_ref()
            .and_then(|g| g.cut)
            .filter(|&c| c > onset)
        {
            let first = end.saturating_sub(audio.len() as u64);
            audio = &audio[(c.saturating_sub(first) as usize).min(audio.len())..];
        }
        // Where the last partial hearing's audio ended (where the audio
        // begins, for speech not heard yet).
        let last = match self.partial_at {
            Some((o, n)) if o == onset => n,
            _ => end.saturating_sub(audio.len() as u64),
        };
        let unheard = self.wake.as_ref().is_some_and(|g| g.unheard);
        if idle && end >= last + PARTIAL_EVERY as u64 && !unheard {
            self.partial_at = Some((onset, end));
            let audio = audio.to_vec();
            let upto = self.pos;
            if let Hearer::Away(h) = &mut self.hearer {
                h.ask(hearing::Purpose::Partial { onset, upto }, audio);
            }
        }
    }

    /// Hearings asked for and not back yet (live sessions).
    fn hearing(&self) -> usize {
        match &self.hearer {
            Hearer::Away(h) => h.in_flight(),
            Hearer::Here(_) => 0,
        }
    }

    fn release(&mut self, device: &mut dyn DuplexDevice) {
        while self.jobs.front().is_some_and(|(r, _)| *r <= self.pos) {
            let Some((_, job)) = self.jobs.pop_front() else {
                break;
            };
            match job {
                Job::Tentative {
                    voiced_end,
                    text,
                    confidence,
                    stt_ms,
                } => {
                    let ep = self.front.segmenter().endpointer();
                    // Still the same pause: no word since.
                    if ep.speech_so_far().map(|(_, e)| e) != Some(voiced_end) {
                        continue;
                    }
                    let kind = self.kind(&text);
                    let yielding = self.state() == "yielding";
                    let ends = match kind {
                        // Over the assistant, a short word decides at once.
                        Kind::Stop | Kind::Backchannel | Kind::Noise if yielding => true,
                        Kind::Stop => true,
                        // A complete request ends the turn; so does a
                        // sentence the recogniser closed (".", "?") that
                        // does not dangle and is a request, or is three
                        // words or more the core cannot read and that do
                        // not begin one ("set a timer for five." may go on
                        // "no, ten minutes"): the dialogue asks for the
                        // rest, or says it cannot help, a hangover sooner.
                        // A name alone ("Picovoice.", said before the
                        // request) waits for the hangover.
                        _ => {
                            let cues = self.turn_cues(&text);
                            let rules = self.rules_end(&text, &cues);
                            match self.end_of_turn.clone() {
                                None => rules,
                                Some(m) => {
                                    let audio = ep.audio_so_far().unwrap_or(&[]);
                                    let x = turn_end::features(&cues, &Prosody::of(audio));
                                    let (ends, _) = m.decide(rules, &x);
                                    self.ended_by_model = ends && !rules;
                                    ends
                                }
                            }
                        }
                    };
                    if ends {
                        self.meaning_transcript = Some((text, confidence, stt_ms));
                        let mut found = Vec::new();
                        self.front
                            .segmenter_mut()
                            .endpointer_mut()
                            .end_now(&mut |e| found.push(e));
                        for e in found {
                            self.on_endpoint(e, device);
                        }
                        self.meaning_transcript = None;
                        // Consumed by the turn's end, or by nothing (speech
                        // too short to be a turn): never a later turn's.
                        self.ended_by_model = false;
                    } else if words::unfinished(&text) {
                        let hold = self.pos + ms_to_samples(self.cfg.unfinished_hold_ms as f64);
                        self.front.segmenter_mut().endpointer_mut().hold_until(hold);
                    }
                }
                Job::Final {
                    start,
                    text,
                    confidence,
                    stt_ms,
                    error: None,
                } => self.on_words(start, text, confidence, stt_ms, device),
                Job::Final {
                    error: Some(message),
                    ..
                } => self.missed(message, device),
                Job::Sentence {
                    reply,
                    audio,
                    first,
                } => self.on_sentence(reply, audio, first, device),
            }
        }
    }

    /// Whether words that began at `start` are the assistant's own voice:
    /// they began while it was audible (or within `own_voice_ms` after),
    /// and at least four fifths of them are, in order, words it said then.
    fn own_voice(&self, start: u64, text: &str) -> bool {
        let heard = crate::stt::wer::normalize(text);
        let window = ms_to_samples(f64::from(self.cfg.own_voice_ms));
        self.spoken
            .iter()
            .filter(|s| start <= s.until + window)
            .any(|s| ainima_fallbacks::spoken::repeats(&heard, &s.words))
    }

    /// Notes what the assistant is audibly saying, and until when.
    fn note_spoken(&mut self, device: &dyn DuplexDevice) {
        let Some(r) = &self.reply else {
            return;
        };
        if !r.started || self.paused.is_some() {
            return;
        }
        let until = self.pos + device.pending_playback() as u64;
        match self.spoken.back_mut().filter(|s| s.reply == r.id) {
            Some(s) => s.until = s.until.max(until),
            None => {
                self.spoken.push_back(Spoken {
                    reply: r.id,
                    words: crate::stt::wer::normalize(&r.text),
                    until,
                });
                if self.spoken.len() > 4 {
                    self.spoken.pop_front();
                }
            }
        }
    }

    fn on_words(
        &mut self,
        start: u64,
        text: String,
        confidence: f32,
        stt_ms: f64,
        device: &mut dyn DuplexDevice,
    ) {
        if self.own_voice(start, &text) {
            self.emit(self.pos, EventKind::OwnVoice { text: text.clone() });
            // Logged by the agent as ignored; nothing else comes of it.
            self.think(text, Source::AssistantVoice, device);
            self.feed(Input::Heard(Kind::Noise), device);
            return;
        }
        let mut kind = self.kind(&text);
        let repeated = kind == Kind::Request && self.repeats(&text);
        let (heard_as, maybe) = match self.readings.take() {
            Some((words, heard_as, maybe)) if words == text => (heard_as, maybe),
            _ => (None, None),
        };
        self.emit(
            self.pos,
            EventKind::Transcript {
                heard_as,
                maybe: maybe.clone(),
                text: text.clone(),
                confidence,
                kind,
                stt_ms,
            },
        );
        self.profile.stt_final(secs(self.pos));
        if kind == Kind::Stop {
            self.offer = None;
        }
        if repeated {
            // Said again while the first is handled: merged, and the reply
            // goes on as after a backchannel.
            self.emit(self.pos, EventKind::Debounced { text: text.clone() });
            kind = Kind::Backchannel;
        }
        let orders = self.feed(Input::Heard(kind), device);
        if orders.contains(&Do::Answer) {
            self.answer(&text, maybe, device);
        }
    }

    /// What identifies a request: its intent and slot values.
    fn request_key(&self, text: &str) -> Option<String> {
        let text = if self.complete(text) {
            text.to_string()
        } else {
            self.repaired(text)?
        };
        self.judge
            .matcher
            .parse(&text, &Context::default())
            .map(|p| {
                let slots: BTreeMap<&str, String> = p
                    .slots
                    .iter()
                    .map(|s| (s.name.as_str(), s.value.to_string()))
                    .collect();
                format!("{} {slots:?}", p.intent)
            })
    }

    /// Whether `text` repeats the request still being handled (its reply
    /// not yet over) within `debounce_ms`.
    fn repeats(&self, text: &str) -> bool {
        let busy = self.reply.is_some()
            || matches!(
                self.state(),
                "thinking" | "speaking" | "yielding" | "resuming"
            );
        match (&self.last_request, busy) {
            (Some((last, at)), true) => {
                self.pos.saturating_sub(*at) <= ms_to_samples(self.cfg.debounce_ms as f64)
                    && self.request_key(text).as_ref() == Some(last)
            }
            _ => false,
        }
    }

    /// How `text` counts for turn-taking. Over the assistant's speech, a
    /// word or three that are neither a stop word nor a request the language
    /// core reads are a backchannel: a real interruption says what it wants.
    fn kind(&self, text: &str) -> Kind {
        let k = words::classify(text, self.asking);
        let over_speech = self.over_speech();
        if k == Kind::Request && over_speech {
            let n = text.split_whitespace().count();
            let parsed = self.judge.matcher.parse(text, &Context::default());
            // Over its speech, a short utterance that ends in a stop phrase
            // and that the core reads as nothing else than "cancel" is a
            // stop ("and then stop": the echo of its own words, or the
            // user's run-up, before the stop).
            let cancel_or_nothing = parsed.as_ref().is_none_or(|p| p.intent == "cancel");
            let understood = parsed.is_some() || self.repaired(text).is_some();
            if cancel_or_nothing && words::ends_in_stop(text) {
                return Kind::Stop;
            }
            // A word or a short mumble the language core cannot read ("and
            // have them", Whisper's reading of a murmured "mm-hmm") is not
            // worth stopping for; a request it can read is.
            if n <= 1 && !self.complete(text) || n <= judge::SHORT_OVER_SPEECH_WORDS && !understood
            {
                return Kind::Backchannel;
            }
        }
        k
    }

    /// The recogniser failed on an utterance: say so, so the user can say it
    /// again (over the assistant's own speech, it goes on instead).
    fn missed(&mut self, message: String, device: &mut dyn DuplexDevice) {
        self.emit(
            self.pos,
            EventKind::Error {
                stage: "stt",
                message,
            },
        );
        let over_speech = self.over_speech();
        let kind = if over_speech {
            Kind::Noise
        } else {
            Kind::Request
        };
        let orders = self.feed(Input::Heard(kind), device);
        if orders.contains(&Do::Answer) {
            self.asking = false;
            let text = "Sorry, I missed that. Could you say it again?".to_string();
            self.say(text, self.pos, false);
        }
    }

    /// Acts on what was heard: the answer to a "Did you mean ...?", a
    /// question of its own when `maybe` is a reading likely enough to ask
    /// about, or a turn for the agent.
    fn answer(&mut self, heard: &str, maybe: Option<String>, device: &mut dyn DuplexDevice) {
        if let Some((reading, asked)) = self.offer.take()
            && self.pos.saturating_sub(asked) <= ms_to_samples(OFFER_MS)
        {
            // Only a bare yes or no answers it ("yes please", "no"), or the
            // reading said again; a sentence with more in it ("okay, set a
            // timer instead") is a turn of its own.
            let again = words::plain(heard) == words::plain(&reading);
            match words::bare_answer(heard) {
                Some(true) => return self.request(reading, device),
                None if again => return self.request(reading, device),
                Some(false) => return self.say("Okay.".to_string(), self.pos, false),
                None => {}
            }
        }
        let complete = self.complete(heard);
        let repaired = if complete { None } else { self.repaired(heard) };
        // Never over a question of the assistant's or the agent's still
        // open: a reply or dictation is not a command misheard.
        if let Some(reading) = maybe
            && repaired.is_none()
            && !self.asking
            && !self.question_open()
        {
            let asked = reading.trim_end_matches(['.', '?', '!']).trim();
            self.say(format!("Did you mean \"{asked}\"?"), self.pos, false);
            self.offer = Some((reading, self.pos));
            return;
        }
        let text = if complete {
            heard.to_string()
        } else {
            repaired
                .or_else(|| words::without_wake_word(heard))
                .unwrap_or_else(|| heard.to_string())
        };
        self.request(text, device);
    }

    /// A request of the user's for the agent, kept to tell a repeat of it.
    fn request(&mut self, text: String, device: &mut dyn DuplexDevice) {
        if let Some(k) = self.request_key(&text) {
            self.last_request = Some((k, self.pos));
        }
        self.think(text, Source::UserVoice, device);
    }

    /// Whether the language core or the agent waits for an answer (a slot
    /// to fill, a confirmation, an approval), or is at work on a turn.
    fn question_open(&self) -> bool {
        self.dialogue_open || self.agent.as_ref().is_none_or(Agent::awaiting_answer)
    }

    /// Hands `text` to the agent: here and now, charged (simulations,
    /// replays), or to a live session's agent worker, the capture going on
    /// meanwhile; heard while the agent is at work, it waits its turn.
    fn think(&mut self, text: String, source: Source, device: &mut dyn DuplexDevice) {
        let now_ms = self.wall_ms();
        let now = self.now();
        let Some(mut agent) = self.agent.take() else {
            self.asked.push_back((text, source));
            return;
        };
        let mut text = text;
        if let Some(worker) = &self.thinking {
            let ask = thinking::Ask {
                agent,
                heard: Some((text, source)),
                now,
                now_ms,
            };
            match worker.ask(ask) {
                Ok(()) => {
                    self.asked_at = self.overtaken;
                    return;
                }
                Err(back) => {
                    // The worker is gone: the agent works here from now on.
                    self.thinking = None;
                    agent = back.agent;
                    let Some((t, _)) = back.heard else {
                        self.agent = Some(agent);
                        return;
                    };
                    text = t;
                }
            }
        }
        let (turn, agent_ms) = charged(
            &self.cfg.costs,
            &*self.stopwatch,
            |c| c.agent_ms,
            || catch_unwind(AssertUnwindSafe(|| agent.hear(&text, source, now, now_ms))),
        );
        self.agent = Some(agent);
        let at = self.pos + ms_to_samples(agent_ms);
        self.answered(source, turn.ok(), agent_ms, at, device);
    }

    /// A live session's agent back from its turn: what it did and says,
    /// now; then what was heard meanwhile.
    fn thought(&mut self, device: &mut dyn DuplexDevice) {
        let Some(worker) = &self.thinking else {
            return;
        };
        match worker.take() {
            Ok(Some(t)) => {
                self.agent = Some(t.agent);
                let newer = self.asked.iter().any(|(_, s)| *s == Source::UserVoice);
                // Stopped, talked over or asked anew while it worked: what
                // this turn did is told, its reply is not said.
                let overtaken =
                    newer || self.overtaken != self.asked_at || self.state() != "thinking";
                match (t.source, t.turn) {
                    // A poll: what happened elsewhere is said once the
                    // floor is free.
                    (None, Some(turn)) => {
                        self.tell(&turn, self.pos);
                        if !turn.reply.trim().is_empty() {
                            self.unsaid.push_back(turn.reply);
                        }
                    }
                    (None, None) => {}
                    (Some(Source::UserVoice), turn) if overtaken => {
                        if let Some(turn) = &turn {
                            self.tell(turn, self.pos);
                        }
                        if !newer && self.state() == "thinking" {
                            self.feed(Input::Silent, device);
                        }
                    }
                    (Some(source), turn) => self.answered(source, turn, t.ms, self.pos, device),
                }
                if let Some((text, source)) = self.asked.pop_front() {
                    self.think(text, source, device);
                }
            }
            Ok(None) => {}
            Err(()) => {
                // Never: a panic in a turn is caught on the worker.
                self.thinking = None;
                self.emit(
                    self.pos,
                    EventKind::Error {
                        stage: "agent",
                        message: "the agent's worker stopped; restart the session".into(),
                    },
                );
            }
        }
    }

    /// What the agent's turn did and says, at `at`.
    fn answered(
        &mut self,
        source: Source,
        turn: Option<ainima_agent::agent::AgentTurn>,
        agent_ms: f64,
        at: u64,
        device: &mut dyn DuplexDevice,
    ) {
        if source == Source::AssistantVoice {
            return; // logged as ignored; nothing comes of it
        }
        self.profile.stage("agent", agent_ms);
        let turn = match turn {
            Some(t) => t,
            None => {
                self.emit(
                    at,
                    EventKind::Error {
                        stage: "agent",
                        message: "the language core or a tool panicked; the dialogue was reset"
                            .into(),
                    },
                );
                ainima_agent::agent::AgentTurn {
                    dialogue: None,
                    calls: Vec::new(),
                    reply: "Sorry, something went wrong. Please say that again.".into(),
                    requests: Vec::new(),
                    notice: None,
                }
            }
        };
        self.tell(&turn, at);
        self.dialogue_open = turn.dialogue.as_ref().is_some_and(|d| d.state != "idle");
        if turn.reply.trim().is_empty() {
            self.asking = false;
            self.feed(Input::Silent, device);
            return;
        }
        // It asks once its question is heard (see `on_sentence`).
        self.asking = false;
        self.say(turn.reply, at, false);
    }

    /// What an agent's turn did, as events at `at`.
    fn tell(&mut self, turn: &ainima_agent::agent::AgentTurn, at: u64) {
        for kind in turn_events(turn, &self.judge.catalog) {
            self.emit(at, kind);
        }
    }

    /// Says `text` from `at` (a `reply` event, then its speech; a chime
    /// first when `chime`).
    fn say(&mut self, text: String, at: u64, chime: bool) {
        // A "Did you mean ...?" is answered before anything else is said,
        // or not at all.
        self.offer = None;
        self.emit(at, EventKind::Reply { text: text.clone() });
        self.speak(text, at, chime);
    }

    /// Rings the timers and alarms that came due, if any: whether it did.
    /// Nothing when the agent is at work.
    fn ring(&mut self, now: Now) -> bool {
        let due = match self.agent.as_mut() {
            Some(agent) => agent.assistant.due(now),
            None => return false,
        };
        if due.is_empty() {
            return false;
        }
        let text = due.join(" ");
        self.emit(self.pos, EventKind::Ring { text: text.clone() });
        self.say(text, self.pos, true);
        true
    }

    /// Timers and alarms that came due, and approvals answered elsewhere,
    /// are said once the floor is free: nobody speaking, no turn being
    /// worked on, no reply playing.
    fn ring_check(&mut self) {
        if self.hold_unasked
            || self.pos % (RATE / 10) >= BLOCK as u64
            || self.state() != "listening"
            || self.reply.is_some()
            || self.paused.is_some()
            || !self.jobs.is_empty()
            || self.hearing() > 0
            || self
                .front
                .segmenter()
                .endpointer()
                .speech_so_far()
                .is_some()
        {
            return;
        }
        let now = self.now();
        let wall_ms = self.wall_ms();
        // What a look at the agent found (live sessions).
        if let Some(text) = self.unsaid.pop_front() {
            self.say(text, self.pos, false);
            return;
        }
        if self.thinking.is_some() {
            // Live: rings first, then a look at what happened elsewhere on
            // the agent's worker (an approved call runs there, never on
            // the capture loop).
            if self.ring(now) {
                return;
            }
            if let (Some(agent), Some(worker)) = (self.agent.take(), &self.thinking) {
                let ask = thinking::Ask {
                    agent,
                    heard: None,
                    now,
                    now_ms: wall_ms,
                };
                match worker.ask(ask) {
                    Ok(()) => self.asked_at = self.overtaken,
                    Err(back) => self.agent = Some(back.agent),
                }
            }
            return;
        }
        // An approval given or refused elsewhere (the local endpoint), or
        // one that lapsed: what it led to is said now.
        let polled = match self.agent.as_mut() {
            Some(agent) => agent.poll(now, wall_ms),
            None => return, // at work on a turn
        };
        if let Some(turn) = polled {
            self.tell(&turn, self.pos);
            if !turn.reply.trim().is_empty() {
                self.say(turn.reply, self.pos, false);
                return;
            }
        }
        self.ring(now);
    }

    /// Synthesises `text` sentence by sentence from `at`, after a chime
    /// when `chime`; each sentence is released when its synthesis would be
    /// done.
    fn speak(&mut self, text: String, at: u64, chime: bool) {
        self.next_reply += 1;
        let id = self.next_reply;
        let turn = self.profile.current();
        self.reply = Some(Reply {
            id,
            text: text.clone(),
            queued: Vec::new(),
            waiting: 0,
            started: false,
            turn,
            question_from: None,
            last_from: 0,
            making: true,
            chime,
        });
        let tts = match &mut self.speaker {
            Speaker::Away(voicing) => {
                // Whatever it was making before is not wanted now.
                voicing.drop_through(id - 1);
                if !voicing.ask(id, text) {
                    // The worker is gone: nothing will be said (the
                    // floor is freed at the next playback check).
                    if let Some(r) = self.reply.as_mut() {
                        r.making = false;
                    }
                    self.emit(
                        at,
                        EventKind::Error {
                            stage: "tts",
                            message: "the synthesiser's worker stopped; restart the session".into(),
                        },
                    );
                }
                return;
            }
            Speaker::Here(tts) => tts,
        };
        let mut sentences = Vec::new();
        let t0 = self.stopwatch.now();
        let mut last = t0;
        let stopwatch = self.stopwatch.clone();
        let fixed = match &self.cfg.costs {
            Costs::Fixed(c) => Some(c.tts_ms),
            Costs::Measured => None,
        };
        let result = catch_unwind(AssertUnwindSafe(|| {
            tts.speak(&text, &mut |s| {
                let now = stopwatch.now();
                let ms = fixed.unwrap_or_else(|| now.saturating_sub(last).as_secs_f64() * 1000.0);
                last = now;
                sentences.push((s, ms));
                true
            })
        }));
        let failure = match result {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(_) => Some("the synthesiser panicked".to_string()),
        };
        if let Some(message) = failure {
            self.emit(
                at,
                EventKind::Error {
                    stage: "tts",
                    message,
                },
            );
        }
        let mut ready = at.max(self.tts_free_at);
        let n = sentences.len();
        for (i, (s, ms)) in sentences.into_iter().enumerate() {
            if i == 0 {
                self.profile.stage("tts_first", ms);
            }
            ready += ms_to_samples(ms);
            self.schedule(
                ready,
                Job::Sentence {
                    reply: id,
                    audio: s.audio,
                    first: i == 0,
                },
            );
        }
        self.tts_free_at = ready;
        if let Some(r) = self.reply.as_mut() {
            r.waiting = n;
            r.making = false;
        }
    }

    /// A live session's sentences as they are made, each played at once
    /// (or kept, while the reply is paused).
    fn voiced(&mut self, device: &mut dyn DuplexDevice) {
        let Speaker::Away(voicing) = &mut self.speaker else {
            return;
        };
        let mut came = Vec::new();
        while let Some(v) = voicing.take() {
            came.push(v);
        }
        for v in came {
            match v {
                voicing::Voiced::Sentence {
                    reply,
                    index,
                    audio,
                    ms,
                } => {
                    let Some(r) = self.reply.as_mut().filter(|r| r.id == reply) else {
                        continue; // dropped or superseded
                    };
                    r.waiting += 1;
                    if index == 0 {
                        self.profile.stage("tts_first", ms);
                    }
                    self.on_sentence(reply, audio, index == 0, device);
                }
                voicing::Voiced::Done { reply, error } => {
                    if let Some(message) = error {
                        self.emit(
                            self.pos,
                            EventKind::Error {
                                stage: "tts",
                                message,
                            },
                        );
                    }
                    if let Some(r) = self
                        .reply
                        .as_mut()
                        .filter(|r| r.id == reply || reply == u64::MAX)
                    {
                        r.making = false;
                        r.question_check();
                    }
                }
            }
        }
    }

    fn on_sentence(
        &mut self,
        id: u64,
        audio: Vec<f32>,
        first: bool,
        device: &mut dyn DuplexDevice,
    ) {
        let Some(reply) = self.reply.as_mut().filter(|r| r.id == id) else {
            return; // dropped or superseded
        };
        reply.waiting = reply.waiting.saturating_sub(1);
        let mut audio = audio;
        if first && reply.chime {
            let mut chimed = chime_audio();
            chimed.append(&mut audio);
            audio = chimed;
        }
        reply.last_from = reply.queued.len();
        reply.queued.extend_from_slice(&audio);
        // The last sentence of a question: once it is heard, "okay" answers.
        reply.question_check();
        if let Some(p) = self.paused.as_mut() {
            p.extend_from_slice(&audio);
            return;
        }
        let _ = device.play(&audio);
        if first || !reply.started {
            reply.started = true;
            let text = reply.text.clone();
            let turn = reply.turn;
            self.profile.first_audio(turn, secs(self.pos));
            self.emit(self.pos, EventKind::TtsStart { text });
            self.feed(Input::Speaking, device);
        }
    }

    fn playback_check(&mut self, device: &mut dyn DuplexDevice) {
        self.note_spoken(device);
        if let Some(r) = &self.reply
            && self.paused.is_none()
        {
            let played = r.queued.len().saturating_sub(device.pending_playback());
            if r.question_from.is_some_and(|q| played > q) {
                self.asking = true;
            }
        }
        // Nothing to play: the synthesiser failed before a sentence.
        if self
            .reply
            .as_ref()
            .is_some_and(|r| !r.started && r.waiting == 0 && !r.making)
        {
            self.reply = None;
            self.feed(Input::Silent, device);
            return;
        }
        let done = self.paused.is_none()
            && self
                .reply
                .as_ref()
                .is_some_and(|r| r.started && r.waiting == 0 && !r.making)
            && device.pending_playback() == 0;
        if done {
            self.reply = None;
            if let Some(g) = self.wake.as_mut() {
                g.spoke_at = Some(self.pos);
            }
            self.emit(self.pos, EventKind::TtsStop { reason: "done" });
            self.feed(Input::Done, device);
        }
    }

    /// Hands `input` to the turn-taking machine and carries out its orders.
    fn feed(&mut self, input: Input, device: &mut dyn DuplexDevice) -> Vec<Do> {
        let mut orders = Orders::default();
        self.turns.handle_with_context(&input, &mut orders);
        let talking = self.over_speech();
        let onset = if talking {
            self.cfg.barge_in_onset_ms
        } else {
            self.cfg.endpointer.onset_ms
        };
        self.front
            .segmenter_mut()
            .endpointer_mut()
            .set_onset_ms(onset);
        for o in &orders.0 {
            match o {
                Do::Pause => {
                    let pending = device.pending_playback();
                    device.stop_playback();
                    let queued = self.reply.as_ref().map_or(&[][..], |r| &r.queued[..]);
                    let from = queued.len().saturating_sub(pending);
                    self.paused = Some(queued[from..].to_vec());
                    self.paused_at = Some(self.pos);
                    let onset = self.onset.unwrap_or(self.pos);
                    self.emit(self.pos, EventKind::Yield { onset: secs(onset) });
                }
                Do::Resume => {
                    let after = match input {
                        Input::Rejected | Input::Heard(Kind::Noise) => "noise",
                        _ => "backchannel",
                    };
                    if let Some(rest) = self.paused.take() {
                        let _ = device.play(&rest);
                    }
                    self.paused_at = None;
                    self.emit(self.pos, EventKind::Resume { after });
                }
                Do::Drop | Do::DropForStop => {
                    self.overtaken += 1;
                    device.stop_playback();
                    let onset = self.onset.unwrap_or(self.pos);
                    let stopped = self.paused_at.take().unwrap_or(self.pos);
                    let had_reply = self.reply.is_some() || self.paused.is_some();
                    self.paused = None;
                    self.reply = None;
                    self.stop_voicing();
                    if had_reply {
                        self.emit(
                            self.pos,
                            EventKind::BargeIn {
                                onset: secs(onset),
                                stop_latency_ms: secs(stopped.saturating_sub(onset)) * 1000.0,
                            },
                        );
                        self.profile
                            .barge_in(secs(stopped.saturating_sub(onset)) * 1000.0);
                        let reason = if *o == Do::DropForStop {
                            "stop_word"
                        } else {
                            "barge_in"
                        };
                        self.emit(self.pos, EventKind::TtsStop { reason });
                    }
                }
                Do::Supersede => {
                    self.overtaken += 1;
                    self.stop_voicing();
                    if self.reply.take().is_some() {
                        self.emit(
                            self.pos,
                            EventKind::TtsStop {
                                reason: "superseded",
                            },
                        );
                    }
                }
                Do::Answer => {}
            }
        }
        orders.0
    }

    /// A live session's synthesiser makes nothing more of the replies so
    /// far (dropped or superseded).
    fn stop_voicing(&self) {
        if let Speaker::Away(voicing) = &self.speaker {
            voicing.drop_through(self.next_reply);
        }
    }

    /// Lets the work still pending finish, as if the room stayed quiet:
    /// captures silence until every result is released and every reply
    /// played, at most `max` more.
    pub fn drain(&mut self, device: &mut dyn DuplexDevice, max: Duration) -> Result<()> {
        let limit = self.pos + (max.as_secs_f64() * RATE as f64) as u64;
        while (self.reply.is_some()
            || self.agent.is_none()
            || !self.asked.is_empty()
            || !self.unsaid.is_empty()
            || !self.jobs.is_empty()
            || self.paused.is_some()
            || self.hearing() > 0)
            && self.pos < limit
        {
            if !self.step(device)? {
                break;
            }
        }
        Ok(())
    }
}
