//! The assistant in a page: [`Ainima`].

use std::sync::Arc;

use ainima_agent::agent::{Agent, AgentTurn};
use ainima_agent::approval::Source;
use ainima_agent::tools::{Registry, ToolSpec};
use ainima_audio::endpoint::{Config, EndpointEvent, Segmenter};
use ainima_audio::frame::ms_to_samples;
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
    live: Option<Segmenter>,
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
}

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
            live: None,
            ended: std::collections::VecDeque::new(),
            wake: None,
            gate: None,
            asked_at: None,
            question_open: false,
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
    /// page was speaking while it was said. The page has no echo canceller
    /// yet, so that may be the assistant's own voice heard back: it is
    /// never an answer and never a request (an empty turn).
    #[wasm_bindgen(js_name = hearSpoken)]
    pub fn hear_spoken(
        &mut self,
        text: &str,
        unix_ms: f64,
        offset_minutes: i32,
        over_own_voice: bool,
    ) -> String {
        let (now, now_ms) = clock(unix_ms, offset_minutes);
        let source = if over_own_voice {
            Source::AssistantVoice
        } else {
            Source::UserVoice
        };
        let turn = self.agent.hear(text, source, now, now_ms);
        // (Its own voice heard back changes nothing.)
        if !over_own_voice {
            self.note_question(&turn);
        }
        turn.to_json().to_string()
    }

    /// The page has finished saying its last reply (or could not say it):
    /// a question in it may be answered without the wake word for
    /// [`wake::FOLLOW_UP_MS`] from now, as natively from the end of the
    /// assistant's speech.
    pub fn spoke(&mut self) {
        if self.question_open {
            self.asked_at = self.live.as_ref().map(|l| l.endpointer().position());
        }
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
            self.live.as_ref().map(|l| l.endpointer().position())
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

    /// The microphone's next samples (16 kHz mono, any number): what the
    /// front end made of them, as a JSON array of `{"start": s}` (speech
    /// began), `{"wake": s, "score": p}` (the wake word was said) and
    /// `{"start": s, "end": s}` (an utterance ended: its audio waits in
    /// [`Ainima::next_utterance`]; with a wake word, `"ignored": true` when
    /// it was not addressed and `"alone": true` when it was the phrase
    /// alone, neither kept), seconds from the first sample heard.
    pub fn listen(&mut self, samples: &[f32]) -> Result<String, Error> {
        if self.live.is_none() {
            self.live = Some(Segmenter::new(self.endpointer.clone()).map_err(config)?);
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
        let mut out = Vec::new();
        // The phrase first: a detection inside speech cuts it when it ends.
        if let Some(g) = self.gate.as_mut() {
            g.detector.push(samples, &mut g.found);
            for d in g.found.drain(..) {
                g.until = d.at + ms_to_samples(wake::WINDOW_MS);
                g.detected = Some(d.at);
                out.push(json!({"wake": seconds(d.at), "score": d.score}));
            }
        }
        let (ended, gate, asked_at) = (&mut self.ended, &mut self.gate, self.asked_at);
        live.push(samples, &mut |e| match e {
            EndpointEvent::SpeechStart { start, .. } => out.push(json!({"start": seconds(start)})),
            EndpointEvent::SpeechEnd(mut u) => {
                let mut ev = json!({"start": seconds(u.start), "end": seconds(u.end)});
                match gate.as_mut().map(|g| g.addressed(&mut u, asked_at)) {
                    Some(Addressed::No) => ev["ignored"] = true.into(),
                    Some(Addressed::PhraseAlone) => ev["alone"] = true.into(),
                    Some(Addressed::Yes) | None => ended.push_back(around(&u)),
                }
                out.push(ev);
            }
            _ => {}
        })
        .map_err(|e| Error::Audio(e.to_string()))?;
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
    /// last asked.
    fn addressed(
        &mut self,
        u: &mut ainima_audio::endpoint::Utterance,
        asked_at: Option<u64>,
    ) -> Addressed {
        let cut = self
            .detected
            .take()
            .filter(|&d| d > u.start && d <= u.decided_at)
            .map(|d| wake::request_start(&u.audio, u.audio_start, d))
            .filter(|&c| c > u.start);
        let follow_up = asked_at.is_some_and(|a| u.start < a + ms_to_samples(wake::FOLLOW_UP_MS));
        if cut.is_none() && u.start >= self.until && !follow_up {
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
