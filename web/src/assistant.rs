//! The assistant in a page: [`Ainima`].

use std::sync::Arc;

use ainima_agent::agent::{Agent, AgentTurn};
use ainima_agent::approval::Source;
use ainima_agent::tools::{Registry, ToolSpec};
use ainima_audio::aec::{AecConfig, BLOCK};
use ainima_audio::endpoint::{Config, EndpointEvent};
use ainima_audio::frame::ms_to_samples;
use ainima_audio::frontend::FrontEnd;
use ainima_fallbacks::spoken;
use ainima_fallbacks::words::{self, Kind};
use ainima_neurosymbolic::arbitrate::Thresholds;
use ainima_neurosymbolic::wake::{self, Detection, Detector, Wake};
use ainima_neurosymbolic::{Assistant, Now};
use serde_json::{Value, json};
use wasm_bindgen::prelude::*;

use crate::{Error, config, describe, seconds};

/// The assistant in a page.
#[wasm_bindgen]
pub struct Ainima {
    agent: Agent,
    endpointer: Config,
    /// Our echo canceller on the live microphone (else the browser's).
    canceller: bool,
    live: Option<Live>,
    /// Utterances ended and not yet taken ([`Ainima::next_utterance`]).
    ended: std::collections::VecDeque<Vec<f32>>,
    /// With a wake word: its model, and (while listening) the gate.
    wake: Option<Arc<Wake>>,
    gate: Option<Gate>,
    /// Where the live microphone's last turn asked a question, in samples
    /// heard (its answer needs no wake word for a while).
    asked_at: Option<u64>,
    /// The last turn left a question open.
    question_open: bool,
    /// The page paused its reply for a barge-in ([`Ainima::barged_in`])
    /// and what was said over it has not decided yet: everything said
    /// meanwhile is said to it, as natively while the assistant yields.
    yielding: bool,
    /// The words of the last few replies the page said through
    /// [`Ainima::listen`]'s reference, newest last.
    said: std::collections::VecDeque<Vec<String>>,
}

/// The live microphone: the front end (our echo canceller against what
/// the page plays, then VAD and endpointer) and what it has not taken yet.
struct Live {
    front: FrontEnd,
    /// Samples waiting for a whole block ([`BLOCK`]): heard and played.
    mic: Vec<f32>,
    played: Vec<f32>,
    /// Where the page's voice was last audible in what it played, in
    /// samples heard (the end of the last block with any of it), and where
    /// that stretch of it began. Once the page has played anything, the
    /// canceller runs on every block (before, the microphone goes straight
    /// to the VAD, as in `ainima run`).
    audible_until: Option<u64>,
    audible_from: u64,
    /// While the page's voice played: the energy of what the microphone
    /// heard and of what the canceller passed on, and how many samples.
    over_voice: (f64, f64, u64),
}

/// Blocks taken through the front end at a time (at most its 480 ms).
const CHUNK: usize = BLOCK * 16;

/// Being addressed, as the native session's wake word decides it: speech
/// that begins within [`wake::WINDOW_MS`] after the phrase, or has the
/// phrase in it (the words before it cut away), or begins within
/// [`wake::FOLLOW_UP_MS`] after a reply that asked a question.
struct Gate {
    detector: Detector,
    found: Vec<Detection>,
    /// Speech that begins before this sample is addressed.
    until: u64,
    /// Where the phrase was last detected and no utterance has ended since.
    detected: Option<u64>,
}

/// Audio kept around an utterance for the recogniser, as native
/// `transcribe` keeps around each stretch of speech in a file.
const MARGIN_SAMPLES: u64 = 16_000 / 5;

impl std::fmt::Debug for Ainima {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ainima").finish_non_exhaustive()
    }
}

/// A page's function as a tool. wasm32 without the atomics feature has one
/// thread: the `Send` and `Sync` the registry asks of every tool hold.
struct PageFunction(js_sys::Function);

#[cfg(target_feature = "atomics")]
compile_error!("a page's functions are called from one thread only: build without atomics");

// SAFETY: see `PageFunction`: this build has exactly one thread.
#[allow(unsafe_code)] // reason: a JS function is !Send, and there is no other thread to send it to
unsafe impl Send for PageFunction {}
// SAFETY: as above.
#[allow(unsafe_code)] // reason: as above
unsafe impl Sync for PageFunction {}

impl PageFunction {
    fn call(&self, args: &Value) -> Result<Value, String> {
        let arg = js_sys::JSON::parse(&args.to_string()).map_err(|e| describe(&e))?;
        let out = self
            .0
            .call1(&JsValue::NULL, &arg)
            .map_err(|e| describe(&e))?;
        if out.is_undefined() {
            return Ok(Value::Null);
        }
        let text = js_sys::JSON::stringify(&out)
            .map_err(|e| describe(&e))?
            .as_string()
            .unwrap_or_default();
        serde_json::from_str(&text).map_err(|e| format!("the page's answer is not JSON: {e}"))
    }
}

#[wasm_bindgen]
impl Ainima {
    /// The built-in skills, and `skills` (a TOML skill file's text) if given;
    /// `seed` picks among reply variants, as `ainima chat --seed`.
    #[wasm_bindgen(constructor)]
    pub fn new(seed: u32, skills: Option<String>) -> Result<Ainima, Error> {
        let mut catalog = ainima_fallbacks::builtin::catalog().map_err(config)?;
        if let Some(text) = skills {
            catalog.add_str("page", &text).map_err(config)?;
        }
        let assistant = Assistant::new(catalog.clone(), u64::from(seed)).map_err(config)?;
        let mut registry = Registry::new();
        let device: Arc<dyn ainima_agent::serial::LineDevice> =
            Arc::new(ainima_agent::serial::Simulated);
        ainima_agent::builtin::register(
            &mut registry,
            &ainima_agent::builtin::Wiring {
                messages: None,
                coffee: Some(device.clone()),
                robot: Some(device),
            },
        )
        .map_err(config)?;
        ainima_agent::binding::check(&catalog, &registry).map_err(config)?;
        let agent = Agent::new(assistant, registry);
        agent.check_tools_against(catalog);
        Ok(Ainima {
            agent,
            endpointer: Config::default(),
            canceller: true,
            live: None,
            ended: std::collections::VecDeque::new(),
            wake: None,
            gate: None,
            asked_at: None,
            question_open: false,
            yielding: false,
            said: std::collections::VecDeque::new(),
        })
    }

    /// Registers the page's function `f` as the tool `spec` describes
    /// (`{name, description, parameters, annotations}`, as an app gives at
    /// the native endpoint). `f` gets the arguments object and returns the
    /// result (JSON) or throws; the agent validates the arguments against
    /// `parameters` and asks for approval first as its policy says.
    #[wasm_bindgen(js_name = registerTool)]
    pub fn register_tool(&mut self, spec: JsValue, f: js_sys::Function) -> Result<(), Error> {
        let text = js_sys::JSON::stringify(&spec)
            .map_err(|e| Error::Config(describe(&e)))?
            .as_string()
            .unwrap_or_default();
        let spec: ToolSpec =
            serde_json::from_str(&text).map_err(|e| config(format!("the tool's spec: {e}")))?;
        let shared = self.agent.shared();
        if let Some(check) = shared
            .check
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            check(&spec).map_err(config)?;
        }
        let name = spec.name.clone();
        let f = PageFunction(f);
        self.agent
            .registry()
            .register(spec, move |args| f.call(args))
            .map_err(config)?;
        shared
            .app_tools
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name);
        Ok(())
    }

    /// Lets the understanding model in `bytes` (a file from `ainima nlu
    /// train`; the page ships the built-in one as `skills.nlu`) propose
    /// what no template reads, the rules validating it, at the native
    /// defaults' thresholds. A model that does not load is an error and
    /// changes nothing: templates and rules go on alone.
    #[wasm_bindgen(js_name = setModel)]
    pub fn set_model(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let model = ainima_neurosymbolic::nlu::Nlu::from_bytes(bytes)
            .map_err(|e| config(format!("the understanding model: {e}")))?;
        self.agent
            .assistant
            .set_model(Some(Arc::new(model)), Thresholds::default());
        Ok(())
    }

    /// Listens for a wake word from now on: the model in `bytes` (a file
    /// from `ainima wake train`; the page ships the built-in "hey ainima"
    /// as `hey-ainima.wake`), or (`undefined`) everything heard is for the
    /// assistant. A model that does not load is an error and changes
    /// nothing.
    #[wasm_bindgen(js_name = setWake)]
    pub fn set_wake(&mut self, bytes: Option<Vec<u8>>) -> Result<(), Error> {
        self.wake = match bytes {
            Some(b) => Some(Arc::new(
                Wake::from_bytes(&b).map_err(|e| config(format!("the wake word model: {e}")))?,
            )),
            None => None,
        };
        self.live = None;
        Ok(())
    }

    /// The wake word's phrase (`undefined`: everything heard is for the
    /// assistant).
    #[wasm_bindgen(js_name = wakePhrase)]
    pub fn wake_phrase(&self) -> Option<String> {
        self.wake.as_ref().map(|w| w.phrase().to_string())
    }

    /// The tools, as `[{name, description, parameters, annotations}]`.
    pub fn tools(&self) -> String {
        let specs: Vec<ToolSpec> = self.agent.registry().specs().cloned().collect();
        serde_json::to_string(&specs).unwrap_or_else(|_| "[]".into())
    }

    /// One typed sentence at `unix_ms` (the page's clock), `offset_minutes`
    /// east of UTC: the turn as `ainima chat --json` writes it (the
    /// dialogue's fields, `reply`, `calls`).
    pub fn hear(&mut self, text: &str, unix_ms: f64, offset_minutes: i32) -> String {
        let (now, now_ms) = clock(unix_ms, offset_minutes);
        let turn = self.agent.hear(text, Source::Typed, now, now_ms);
        self.note_question(&turn);
        turn.to_json().to_string()
    }

    /// One recognised sentence, as [`Ainima::hear`]. `over_own_voice`: the
    /// page was speaking while it was said, so it may be the assistant's
    /// own voice heard back, which is never an answer and never a request
    /// (an empty turn). `cancelled`: the page's voice went through
    /// [`Ainima::listen`]'s reference, so a canceller took it out (ours, or
    /// the browser's with [`Ainima::set_canceller`] off) and only words
    /// that repeat what it said are its own (the native
    /// session's rule, [`spoken::repeats`]); otherwise (the browser's
    /// voice, which the page cannot hear) none of it can be told apart.
    /// The turn has `"own_voice": true` when it was taken for the page's
    /// own voice.
    ///
    /// `yielded`: the page paused its reply when these words began (a
    /// barge-in, [`Ainima::listen`]'s `"barge_in"`), and asks what to do
    /// with it, as the native session's turn-taking does: its own voice, a
    /// cough or Whisper's filler, or a backchannel ("mm-hmm", "right")
    /// resume it and are no turn; a stop phrase ("stop", "wait") drops it
    /// and is no turn either; a request drops it and is heard (a word or
    /// three the language core cannot read count as a backchannel). The
    /// answer then has `"barge_in": "resume"` or `"drop"`, and `"kind"`
    /// (`noise`, `backchannel`, `stop`, `request`).
    #[wasm_bindgen(js_name = hearSpoken)]
    pub fn hear_spoken(
        &mut self,
        text: &str,
        unix_ms: f64,
        offset_minutes: i32,
        over_own_voice: bool,
        cancelled: bool,
        yielded: bool,
    ) -> String {
        let (now, now_ms) = clock(unix_ms, offset_minutes);
        let heard = spoken::normalize(text);
        // Over a paused reply, only that reply's words are its own (a
        // "stop" found in an earlier one is the person's).
        let own = over_own_voice
            && (!cancelled
                || if yielded {
                    self.said
                        .back()
                        .is_some_and(|said| spoken::repeats(&heard, said))
                } else {
                    self.said.iter().any(|said| spoken::repeats(&heard, said))
                });
        if yielded {
            let kind = if own {
                Kind::Noise
            } else {
                self.over_voice(text, now)
            };
            if own {
                // Its own voice changes nothing, but is heard as such.
                let _ = self.agent.hear(text, Source::AssistantVoice, now, now_ms);
            }
            let decided = |what: &str| {
                let mut v = json!({"barge_in": what, "kind": kind});
                if own {
                    v["own_voice"] = true.into();
                }
                v.to_string()
            };
            match kind {
                Kind::Noise | Kind::Backchannel => return decided("resume"),
                Kind::Stop => return decided("drop"),
                Kind::Request => {}
            }
        }
        let source = if own {
            Source::AssistantVoice
        } else {
            Source::UserVoice
        };
        let turn = self.agent.hear(text, source, now, now_ms);
        // (Its own voice heard back changes nothing.)
        if !own {
            self.note_question(&turn);
        }
        let mut v = turn.to_json();
        if own {
            v["own_voice"] = true.into();
        }
        if yielded {
            v["barge_in"] = "drop".into();
            v["kind"] = json!(Kind::Request);
        }
        v.to_string()
    }

    /// What words said over the page's voice are for turn-taking, as the
    /// native session decides (`Session::kind`): besides
    /// [`words::classify`]'s stop words, backchannels and noise, a short
    /// utterance ending in a stop phrase that the language core reads as
    /// nothing else than "cancel" is a stop ("okay, wait"), and a word the
    /// core cannot read whole, or up to three it cannot read at all, are a
    /// backchannel: a real interruption says what it wants. Mid-reply
    /// nothing is an answer ("okay" acknowledges; a question is answered
    /// once it has been said).
    fn over_voice(&self, text: &str, now: Now) -> Kind {
        let k = words::classify(text, false);
        if k != Kind::Request {
            return k;
        }
        let parsed = self.agent.assistant.parse(text, now);
        if parsed.as_ref().is_none_or(|p| p.intent == "cancel") && words::ends_in_stop(text) {
            return Kind::Stop;
        }
        let n = text.split_whitespace().count();
        let whole = parsed.as_ref().is_some_and(|p| p.confidence >= 0.8);
        if n <= 1 && !whole || n <= 3 && parsed.is_none() {
            return Kind::Backchannel;
        }
        Kind::Request
    }

    /// The page has finished saying its last reply (or could not say it):
    /// a question in it may be answered without the wake word for
    /// [`wake::FOLLOW_UP_MS`] from now, as natively from the end of the
    /// assistant's speech.
    pub fn spoke(&mut self) {
        if self.question_open {
            self.asked_at = self.position();
        }
    }

    /// The page is about to play `text` in its own voice through
    /// [`Ainima::listen`]'s `played`: words heard back that repeat it are
    /// its own.
    pub fn saying(&mut self, text: &str) {
        self.said.push_back(spoken::normalize(text));
        if self.said.len() > 4 {
            self.said.pop_front();
        }
    }

    /// What our echo canceller has done on the live microphone, as JSON:
    /// `{"heard_dbfs": x, "passed_dbfs": y, "erle_db": z}`: how loud the
    /// microphone was while the page's voice played, and what the
    /// canceller passed on to the VAD then (dB full scale); and how much
    /// of its voice the linear filter alone took out while only the page
    /// spoke (echo return loss enhancement). `null`s before the page has
    /// spoken with the microphone open.
    pub fn echo(&self) -> String {
        let live = self.live.as_ref();
        let erle = live.and_then(|l| l.front.aec()).and_then(|a| a.erle_db());
        let level = |e: f64, n: u64| (n > 0 && e > 0.0).then(|| 10.0 * (e / n as f64).log10());
        let (heard, passed) = live.map_or((None, None), |l| {
            let (h, p, n) = l.over_voice;
            (level(h, n), level(p, n))
        });
        json!({ "heard_dbfs": heard, "passed_dbfs": passed, "erle_db": erle }).to_string()
    }

    /// The page has obeyed a barge-in (`listen`'s `"barge_in"`): it stopped
    /// playing. What the microphone hears until the echo's tail is over is
    /// the person, heard whole, never held down as echo
    /// ([`ainima_audio::aec::EchoCanceller::barged_in`]).
    #[wasm_bindgen(js_name = bargedIn)]
    pub fn barged_in(&mut self) {
        self.yielding = true;
        if let Some(aec) = self.live.as_mut().and_then(|l| l.front.aec_mut()) {
            aec.barged_in();
        }
    }

    /// What was said over the page's paused reply has decided (it went on,
    /// or was dropped): speech that does not begin over its voice needs the
    /// wake word again.
    #[wasm_bindgen(js_name = yieldDecided)]
    pub fn yield_decided(&mut self) {
        self.yielding = false;
    }

    /// Samples heard so far by the live microphone, if it is open.
    fn position(&self) -> Option<u64> {
        self.live
            .as_ref()
            .map(|l| l.front.segmenter().endpointer().position())
    }

    /// Whether `turn` leaves a question open (a slot to fill, a
    /// confirmation, an approval): its answer needs no wake word, from the
    /// end of the reply ([`Ainima::spoke`]; until then, from now).
    fn note_question(&mut self, turn: &AgentTurn) {
        // As the native session reads it: the dialogue's question, or an
        // approval waiting for its answer.
        self.question_open = turn.dialogue.as_ref().is_some_and(|d| d.state != "idle")
            || self.agent.awaiting_answer();
        self.asked_at = if self.question_open {
            self.position()
        } else {
            None
        };
    }

    /// What the assistant has to tell meanwhile (timers that rang, approvals
    /// answered, notices), as turns in a JSON array: call it every second or
    /// so.
    pub fn poll(&mut self, unix_ms: f64, offset_minutes: i32) -> String {
        let (now, now_ms) = clock(unix_ms, offset_minutes);
        let mut turns: Vec<Value> = self
            .agent
            .assistant
            .due(now)
            .into_iter()
            .map(|ring| json!({"ring": ring}))
            .collect();
        if let Some(turn) = self.agent.poll(now, now_ms) {
            turns.push(turn.to_json());
        }
        Value::Array(turns).to_string()
    }

    /// Sets the audio front end from `[endpointer]`'s TOML (the same
    /// fields as the native configuration's), for `segments` and `listen`.
    #[wasm_bindgen(js_name = setEndpointer)]
    pub fn set_endpointer(&mut self, toml_text: &str) -> Result<(), Error> {
        self.endpointer = crate::endpointer(toml_text)?;
        self.live = None;
        Ok(())
    }

    /// Whether our echo canceller runs on the live microphone (the
    /// default). Off, the page relies on the browser's own (`?echo=browser`:
    /// chromium's WebRTC canceller, which hears the whole machine's output),
    /// and what the microphone gives goes straight to the VAD; barge-ins
    /// and the page's own voice are still told from what it played.
    #[wasm_bindgen(js_name = setCanceller)]
    pub fn set_canceller(&mut self, on: bool) {
        self.canceller = on;
        self.live = None;
    }

    /// The stretches of speech in an audio file's bytes (WAV, FLAC, MP3,
    /// Ogg), as `ainima segments --json`: `[{"start": s, "end": s}]`.
    pub fn segments(&self, audio: &[u8]) -> Result<String, Error> {
        let decoded = ainima_audio::decode::decode_bytes(
            audio,
            &ainima_audio::decode::DecodeLimits::default(),
        )
        .map_err(|e| Error::Audio(e.to_string()))?;
        let samples = decoded
            .to_16k_mono()
            .map_err(|e| Error::Audio(e.to_string()))?;
        let segs = ainima_audio::endpoint::segments(&samples, &self.endpointer)
            .map_err(|e| Error::Audio(e.to_string()))?;
        let out: Vec<Value> = segs
            .iter()
            .map(|u| json!({"start": seconds(u.start), "end": seconds(u.end)}))
            .collect();
        Ok(Value::Array(out).to_string())
    }

    /// The microphone's next samples (16 kHz mono, any number) and what the
    /// page played in the same instants (`played`: as many samples, or none
    /// when it played nothing): what the front end made of them, as a JSON
    /// array of `{"start": s}` (speech began; `"barge_in": true` while the
    /// page's voice is audible: the person talks over it), `{"wake": s,
    /// "score": p}` (the wake word was said) and `{"start": s, "end": s}`
    /// (an utterance ended: its audio waits in [`Ainima::next_utterance`];
    /// `"over_own_voice": true` when it began while the page's voice was
    /// audible or within [`spoken::OWN_VOICE_MS`] after; with a wake word,
    /// `"ignored": true` when it was not addressed and `"alone": true` when
    /// it was the phrase alone, neither kept), `{"rejected": s, "end": s}`
    /// (what began was too short to be speech: a click, a cough), seconds from the first
    /// sample heard. Our echo canceller takes what the page played out of
    /// what the microphone heard, against exactly what was played in the
    /// same instants (the page asks the browser for its microphone with the
    /// browser's own canceller off, unless [`Ainima::set_canceller`] is off).
    pub fn listen(&mut self, samples: &[f32], played: &[f32]) -> Result<String, Error> {
        if !played.is_empty() && played.len() != samples.len() {
            return Err(Error::Audio(format!(
                "{} samples heard and {} played: give as many played as heard, or none",
                samples.len(),
                played.len()
            )));
        }
        if self.live.is_none() {
            self.live = Some(Live {
                front: FrontEnd::new(
                    self.endpointer.clone(),
                    self.canceller.then(AecConfig::default),
                )
                .map_err(config)?,
                mic: Vec::with_capacity(CHUNK),
                played: Vec::with_capacity(CHUNK),
                audible_until: None,
                audible_from: 0,
                over_voice: (0.0, 0.0, 0),
            });
            self.gate = match &self.wake {
                Some(w) => Some(Gate {
                    detector: Detector::new(w.clone()).map_err(config)?,
                    found: Vec::new(),
                    until: 0,
                    detected: None,
                }),
                None => None,
            };
            self.asked_at = None;
        }
        let Some(live) = self.live.as_mut() else {
            return Ok("[]".into());
        };
        live.mic.extend_from_slice(samples);
        if played.is_empty() {
            live.played.resize(live.mic.len(), 0.0);
        } else {
            live.played.extend_from_slice(played);
        }
        let mut out = Vec::new();
        let whole = live.mic.len() / BLOCK * BLOCK;
        let mut at = 0;
        while at < whole {
            let n = (whole - at).min(CHUNK);
            let (mic, played) = (&live.mic[at..at + n], &live.played[at..at + n]);
            at += n;
            let from = live.front.segmenter().endpointer().position();
            let playing = played.iter().any(|&x| x != 0.0);
            if playing {
                // A new stretch after a silence longer than the echo's
                // tail (the page's own-voice window).
                if live
                    .audible_until
                    .is_none_or(|u| u + ms_to_samples(spoken::OWN_VOICE_MS) < from)
                {
                    live.audible_from = from;
                }
                live.audible_until = Some(from + n as u64);
            }
            // Nothing begins before sample 0: before the page has played,
            // nothing is over its voice.
            let (audible, recent) = match live.audible_until {
                Some(u) => (u, u + ms_to_samples(spoken::OWN_VOICE_MS)),
                None => (0, 0),
            };
            let audible_from = live.audible_from;
            let mut events = Vec::new();
            let clean = if live.audible_until.is_some() {
                live.front
                    .process(mic, played, &mut |e| events.push(e))
                    .map_err(|e| Error::Audio(e.to_string()))?
            } else {
                live.front
                    .segmenter_mut()
                    .push(mic, &mut |e| events.push(e))
                    .map_err(|e| Error::Audio(e.to_string()))?;
                mic
            };
            if playing {
                live.over_voice.0 += energy(mic);
                live.over_voice.1 += energy(clean);
                live.over_voice.2 += n as u64;
            }
            // The phrase first (in what the canceller left): a detection
            // inside speech cuts it when it ends.
            if let Some(g) = self.gate.as_mut() {
                g.detector.push(clean, &mut g.found);
                for d in g.found.drain(..) {
                    g.until = d.at + ms_to_samples(wake::WINDOW_MS);
                    g.detected = Some(d.at);
                    out.push(json!({"wake": seconds(d.at), "score": d.score}));
                }
            }
            for e in events {
                match e {
                    EndpointEvent::SpeechStart { start, .. } => {
                        let mut ev = json!({"start": seconds(start)});
                        if start < audible {
                            ev["barge_in"] = true.into();
                        }
                        out.push(ev);
                    }
                    EndpointEvent::SpeechEnd(mut u) => {
                        let mut ev = json!({"start": seconds(u.start), "end": seconds(u.end)});
                        // Over its own voice, speech is a barge-in: it needs
                        // no wake word (as natively); speech already under
                        // way when the voice began is not.
                        let engaged =
                            self.yielding || (audible_from <= u.start && u.start < audible);
                        if u.start < recent {
                            ev["over_own_voice"] = true.into();
                        }
                        let addressed = self
                            .gate
                            .as_mut()
                            .map(|g| g.addressed(&mut u, self.asked_at, engaged));
                        match addressed {
                            Some(Addressed::No) => ev["ignored"] = true.into(),
                            Some(Addressed::PhraseAlone) => ev["alone"] = true.into(),
                            Some(Addressed::Yes) | None => self.ended.push_back(around(&u)),
                        }
                        out.push(ev);
                    }
                    // Too short to be speech: a paused reply goes on.
                    EndpointEvent::Rejected { start, end } => {
                        out.push(json!({"rejected": seconds(start), "end": seconds(end)}));
                    }
                }
            }
        }
        live.mic.drain(..whole);
        live.played.drain(..whole);
        Ok(Value::Array(out).to_string())
    }

    /// The audio of the oldest utterance ended and not yet taken (16 kHz,
    /// with 0.2 s around it), for the recogniser; `undefined` if none.
    #[wasm_bindgen(js_name = nextUtterance)]
    pub fn next_utterance(&mut self) -> Option<Vec<f32>> {
        self.ended.pop_front()
    }
}

/// What [`Gate::addressed`] made of an utterance.
enum Addressed {
    Yes,
    No,
    PhraseAlone,
}

impl Gate {
    /// Whether `u` was said to the assistant; with the phrase in it, `u`
    /// begins where the request does. `asked_at`: where a question was
    /// last asked; `engaged`: `u` began over the page's own voice.
    fn addressed(
        &mut self,
        u: &mut ainima_audio::endpoint::Utterance,
        asked_at: Option<u64>,
        engaged: bool,
    ) -> Addressed {
        let cut = self
            .detected
            .take()
            .filter(|&d| d > u.start && d <= u.decided_at)
            .map(|d| wake::request_start(&u.audio, u.audio_start, d))
            .filter(|&c| c > u.start);
        let follow_up = asked_at.is_some_and(|a| u.start < a + ms_to_samples(wake::FOLLOW_UP_MS));
        if cut.is_none() && u.start >= self.until && !follow_up && !engaged {
            return Addressed::No;
        }
        if let Some(c) = cut {
            if u.end < c + ms_to_samples(wake::ALONE_MS) {
                return Addressed::PhraseAlone;
            }
            u.cut_before(c);
        }
        Addressed::Yes
    }
}

/// The sum of the squares of `x`'s finite samples.
fn energy(x: &[f32]) -> f64 {
    x.iter()
        .filter(|v| v.is_finite())
        .map(|&v| f64::from(v) * f64::from(v))
        .sum()
}

/// An utterance's audio with [`MARGIN_SAMPLES`] around it, as far as the
/// audio it carries (its pre-roll before, its trailing silence after) goes.
fn around(u: &ainima_audio::endpoint::Utterance) -> Vec<f32> {
    let first = u.audio_start;
    let last = first + u.audio.len() as u64;
    let from = u.start.saturating_sub(MARGIN_SAMPLES).clamp(first, last);
    let to = u.end.saturating_add(MARGIN_SAMPLES).clamp(from, last);
    u.audio[(from - first) as usize..(to - first) as usize].to_vec()
}

/// The turn's time from the page's clock.
fn clock(unix_ms: f64, offset_minutes: i32) -> (Now, u64) {
    let ms = if unix_ms.is_finite() && unix_ms > 0.0 {
        unix_ms as u64
    } else {
        0
    };
    let local = (ms / 1000) as i64 + i64::from(offset_minutes) * 60;
    (Now::from_unix(local), ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One sentence heard over the page's voice (`over`), through our
    /// canceller or not (`cancelled`).
    fn check(a: &mut Ainima, text: &str, over: bool, cancelled: bool, own: bool) -> Value {
        let turn: Value =
            serde_json::from_str(&a.hear_spoken(text, 1.7e12, 0, over, cancelled, false))
                .expect("JSON");
        assert_eq!(turn.get("own_voice").is_some(), own, "{text:?}: {turn}");
        if own {
            assert_eq!(turn["calls"], json!([]), "{turn}");
            assert_eq!(turn["reply"], "", "{turn}");
        }
        turn
    }

    #[test]
    fn words_over_the_pages_voice_are_its_own_only_when_they_repeat_it() {
        let mut a = Ainima::new(0, None).expect("the page's assistant");
        a.saying("I can tell you the time, set timers and alarms. What would you like?");
        // Its own words heard back past the canceller: nothing.
        check(
            &mut a,
            "set timers and alarms, what would you like",
            true,
            true,
            true,
        );
        // A person talking over it: theirs, acted on.
        let t = check(&mut a, "What's the time?", true, true, false);
        assert_eq!(t["intent"], "clock_time", "{t}");
        assert_eq!(t["calls"][0]["status"], "done", "{t}");
        // Over a voice the canceller did not hear, nothing can be told
        // apart: never taken.
        check(&mut a, "What's the time?", true, false, true);
        // Not over its voice: the person's.
        check(&mut a, "What's the time?", false, false, false);
    }

    /// The assistant's own voice never approves anything: its "yes" heard
    /// back is its own, whoever's turn it is.
    #[test]
    fn the_pages_own_yes_heard_back_approves_nothing() {
        let mut a = Ainima::new(0, None).expect("the page's assistant");
        a.saying("Shall I? Say yes or no.");
        check(&mut a, "Yes.", true, true, true);
        check(&mut a, "yes or no", true, true, true);
    }

    /// What words heard while the page's reply is paused (a barge-in) make
    /// of it: resumed after its own voice, a cough or a backchannel,
    /// dropped for a stop phrase or a request, which alone is a turn.
    #[test]
    fn a_paused_reply_resumes_after_a_backchannel_and_drops_for_a_request() {
        let mut a = Ainima::new(0, None).expect("the page's assistant");
        a.saying("I can tell you the time, keep shopping lists and notes. What would you like?");
        let check = |a: &mut Ainima, text: &str, expect: (&str, &str)| {
            let v: Value = serde_json::from_str(&a.hear_spoken(text, 1.7e12, 0, true, true, true))
                .expect("JSON");
            assert_eq!(
                (v["barge_in"].as_str(), v["kind"].as_str()),
                (Some(expect.0), Some(expect.1)),
                "{text:?}: {v}"
            );
            v
        };
        for (text, expect) in [
            ("keep shopping lists", ("resume", "noise")),
            // Regression (the room test's quiet half: residual echo heard
            // as "Keep." cut the whole reply).
            ("Keep.", ("resume", "noise")),
            ("Mm-hmm.", ("resume", "backchannel")),
            ("you", ("resume", "noise")),
            ("(coughing)", ("resume", "noise")),
            ("Okay.", ("resume", "backchannel")),
            ("Stop.", ("drop", "stop")),
            ("wait a second", ("drop", "stop")),
            ("okay, wait", ("drop", "stop")),
            // A mumble the language core cannot read.
            ("and have them", ("resume", "backchannel")),
        ] {
            let v = check(&mut a, text, expect);
            assert!(v.get("intent").is_none(), "no turn for {text:?}: {v}");
        }
        let t = check(&mut a, "What's the time?", ("drop", "request"));
        assert_eq!(t["intent"], "clock_time", "{t}");
        assert_eq!(t["calls"][0]["status"], "done", "{t}");
    }
}
