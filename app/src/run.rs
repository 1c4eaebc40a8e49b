//! `ainima run`: a whole session over a recording, in a simulated room on
//! the simulated clock, as fast as the machine allows.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};

use ainima::session::{Activation, Config, Costs, FixedCosts, Session};
use ainima_agent::agent::Agent;
use ainima_agent::tools::Registry;
use ainima_audio::clock::{SimClock, SystemClock};
use ainima_audio::device::DuplexDevice;
use ainima_audio::room::SimRoom;
use ainima_neurosymbolic::Assistant;

use crate::config::AppConfig;

/// What `ainima run` is told.
#[derive(Debug)]
pub struct RunArgs<'a> {
    /// The user's side: a recording.
    pub input: &'a Path,
    /// Where what the assistant said goes, placed in time.
    pub output: Option<&'a Path>,
    /// One event a line.
    pub events: Option<&'a Path>,
    /// The profile as JSON.
    pub profile: Option<&'a Path>,
    /// Fixed stage costs instead of measured ones.
    pub deterministic: bool,
    /// Picks among reply variants.
    pub seed: u64,
    /// Print the events as they happen.
    pub quiet: bool,
    /// When the session starts, and the zone the skills tell time in.
    pub start: crate::clock::Start,
    /// The data folder, where the audit log is kept.
    pub data: &'a Path,
    /// How the session knows speech is meant for it (`None`: all of it).
    pub activation: Option<crate::config::Activation>,
}

/// Opens the agent's audit log, `audit.jsonl` in `data` (always on for
/// sessions with a person at them: every request, approval, tool call and
/// result is recorded, hash-chained; `ainima audit show|verify`).
pub fn open_audit(session: &mut Session, data: &Path) -> Result<()> {
    agent_of(session)?.audit = Some(audit_log(data)?);
    Ok(())
}

/// A session's agent, before the session runs (when it is always home).
pub fn agent_of(session: &mut Session) -> Result<&mut ainima_agent::agent::Agent> {
    session
        .agent_mut()
        .context("the session's agent is at work on a turn")
}

/// Where timers and alarms are kept between runs of a live session.
fn pending_path(data: &Path) -> std::path::PathBuf {
    data.join("pending.json")
}

/// Takes back the timers and alarms a live session kept in `data` (those
/// that came due meanwhile ring first).
pub fn restore_pending(agent: &mut Agent, data: &Path) -> Result<()> {
    let path = pending_path(data);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).with_context(|| path.display().to_string()),
    };
    let p: ainima_neurosymbolic::skills::Pending =
        serde_json::from_str(&text).with_context(|| {
            format!(
                "{} (the kept timers and alarms; remove it to start afresh)",
                path.display()
            )
        })?;
    agent.assistant.restore(&p);
    Ok(())
}

/// Keeps `agent`'s timers and alarms in `data`, written whole then renamed.
pub fn keep_pending(agent: &Agent, data: &Path) -> Result<()> {
    let path = pending_path(data);
    std::fs::create_dir_all(data).with_context(|| data.display().to_string())?;
    let tmp = data.join("pending.json.tmp");
    std::fs::write(&tmp, serde_json::to_vec(&agent.assistant.pending())?)
        .with_context(|| tmp.display().to_string())?;
    std::fs::rename(&tmp, &path).with_context(|| path.display().to_string())?;
    Ok(())
}

/// The audit log in `data`, opened (and checked).
pub fn audit_log(data: &Path) -> Result<ainima_agent::audit::AuditLog> {
    let log = data.join("audit.jsonl");
    ainima_agent::audit::AuditLog::open(&log).with_context(|| {
        format!(
            "the audit log {} (`ainima audit verify` says what is wrong; move the log, its .head and .key aside to start a new one)",
            log.display()
        )
    })
}

/// The recogniser at `model_dir`: loaded once a process, then cloned (the
/// clones share the weights; each session decodes on its own).
pub fn engine(model_dir: &Path) -> Result<ainima::stt::whisper::WhisperEngine> {
    use std::collections::BTreeMap;
    use std::sync::{Mutex, OnceLock};
    static LOADED: OnceLock<
        Mutex<BTreeMap<std::path::PathBuf, ainima::stt::whisper::WhisperEngine>>,
    > = OnceLock::new();
    let mut loaded = LOADED
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    if let Some(e) = loaded.get(model_dir) {
        return Ok(e.clone());
    }
    let e = ainima::stt::whisper::WhisperEngine::load(model_dir)?;
    loaded.insert(model_dir.to_path_buf(), e.clone());
    Ok(e)
}

/// A session over the built-in skills, the whisper model at `model_dir`,
/// and espeak-ng.
pub fn session(
    cfg: &AppConfig,
    config_dir: &Path,
    model_dir: &Path,
    deterministic: bool,
    seed: u64,
    adjust: &dyn Fn(&mut Config),
) -> Result<Session> {
    session_with(
        cfg,
        config_dir,
        model_dir,
        deterministic,
        seed,
        adjust,
        None,
        deterministic,
    )
}

/// The agent every command that talks runs: the language core over
/// `catalog`, the built-in tools (the simulated coffee machine and robot,
/// messages through `messages`' outbox when given), the MCP servers and
/// policies of `cfg`; every skill bound to a tool is checked against the
/// tool's schema before anyone speaks.
pub fn agent(
    catalog: ainima_fallbacks::catalog::Catalog,
    seed: u64,
    messages: Messages,
    cfg: &AppConfig,
) -> Result<Agent> {
    let mut assistant = Assistant::new(catalog.clone(), seed)?;
    let (model, thresholds) = crate::understanding::load(&cfg.understanding)?;
    assistant.set_model(model, thresholds);
    // The built-in hardware skills drive the devices `[devices]` names,
    // or the simulated coffee machine and robot in process.
    let mut registry = Registry::new();
    let coffee = line_device(cfg.devices.coffee.as_ref())?;
    let robot = line_device(cfg.devices.robot.as_ref())?;
    let wiring = ainima_agent::builtin::Wiring {
        messages,
        coffee: Some(coffee.clone()),
        robot: Some(robot.clone()),
    };
    ainima_agent::builtin::register(&mut registry, &wiring)?;
    for m in &cfg.mcp {
        let args: Vec<&str> = m.args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = m
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let server = ainima_agent::mcp::McpServer::spawn_with(&m.name, &m.command, &args, &env)
            .with_context(|| format!("the MCP server `{}` ({})", m.name, m.command))?;
        ainima_agent::mcp::register(&mut registry, server)
            .with_context(|| format!("the MCP server `{}`'s tools", m.name))?;
    }
    // A home described in Home Assistant's format, and HA's sentences
    // for it: requests about its devices act on it.
    let home = match &cfg.home_assistant {
        Some(h) => {
            let home = ainima_fallbacks::ha::Home::load(&h.home)
                .with_context(|| format!("home_assistant.home ({})", h.home.display()))?;
            let language = ainima_fallbacks::ha::Language::load(&h.sentences, &home)
                .with_context(|| format!("home_assistant.sentences ({})", h.sentences.display()))?;
            for w in language.warnings() {
                eprintln!("warning: home_assistant.sentences: {w}");
            }
            // HA's response templates: `responses`, or the folder beside
            // the sentences (`responses/LANG` of a checkout) if there is one.
            let beside = h
                .sentences
                .parent()
                .and_then(|s| s.parent())
                .and_then(|root| {
                    let dir = root.join("responses").join(h.sentences.file_name()?);
                    dir.is_dir().then_some(dir)
                });
            let responses = match h.responses.clone().or(beside) {
                Some(dir) => Some(Arc::new(
                    ainima_fallbacks::ha::Responses::load(&dir)
                        .with_context(|| format!("home_assistant.responses ({})", dir.display()))?,
                )),
                None => None,
            };
            let home = Arc::new(std::sync::Mutex::new(home));
            ainima_agent::home::register(&mut registry, home.clone(), responses)?;
            let mut context = std::collections::BTreeMap::new();
            if let Some(area) = &h.area {
                context.insert("area".to_string(), serde_json::json!(area));
            }
            Some(ainima_agent::agent::HomeSentences {
                language: Arc::new(language),
                context,
                home,
            })
        }
        None => None,
    };
    for tool in cfg.policies.keys() {
        // The built-in skills' own tools may be wired later (messages by
        // `connect`).
        let builtin = ainima_neurosymbolic::skills::EXTERNAL.contains(&tool.as_str());
        if registry.spec(tool).is_none() && !builtin {
            anyhow::bail!("policies: no tool `{tool}` is registered");
        }
    }
    ainima_agent::binding::check(&catalog, &registry)?;
    // A tool that hangs costs the turn 5 s, never the session.
    registry.set_timeout(Some(std::time::Duration::from_secs(5)));
    let mut agent = Agent::new(assistant, registry);
    agent.policies = cfg.policies.clone();
    agent.home = home;
    // What a device reports on its own ("EVENT Your large latte is
    // ready.") is told once the floor is free, as a notice.
    for (device, name) in [(&coffee, "The coffee machine"), (&robot, "The robot")] {
        let tell = agent.notifier();
        device.report_to(Arc::new(move |said: String| {
            let _ = tell.send(format!("{name} says: {said}"));
        }));
    }
    // An app's function registered later, at the local endpoint, is held
    // against the skills bound to it then.
    agent.check_tools_against(catalog);
    Ok(agent)
}

/// Wires what `cfg` declares beyond the agent itself to `agent`, with its
/// state in `data`: messages through the outbox (`outbox.redb`) to their
/// webhook, delivered in the background while the agent lives; a message
/// given up on is told.
pub fn connect(agent: &mut Agent, cfg: &AppConfig, data: &Path) -> Result<()> {
    let Some(m) = &cfg.messages else {
        return Ok(());
    };
    std::fs::create_dir_all(data).with_context(|| data.display().to_string())?;
    let db = data.join("outbox.redb");
    let outbox = Arc::new(ainima_agent::outbox::Outbox::open(&db).with_context(|| {
        format!(
            "the outbox {} (another ainima session may hold it)",
            db.display()
        )
    })?);
    ainima_agent::builtin::register(
        &mut agent.registry(),
        &ainima_agent::builtin::Wiring {
            messages: Some((outbox.clone(), m.webhook.clone())),
            coffee: None,
            robot: None,
        },
    )?;
    let mut template = ainima_agent::webhook::Webhook::new(&m.webhook);
    if let Some(var) = &m.secret_env {
        template.secret = Some(
            std::env::var(var)
                .with_context(|| format!("messages.secret_env: the variable {var} is not set"))?
                .into_bytes(),
        );
    }
    template.allow_private = m.allow_private.clone();
    if let Some(roots) = &m.roots {
        template.roots_pem =
            std::fs::read(roots).with_context(|| format!("messages.roots {}", roots.display()))?;
    }
    agent.run_outbox(outbox, template, crate::agent_cmd::now_ms);
    Ok(())
}

/// The device `d` describes (a serial port or a USB HID device, each
/// allowed by being named), or the simulated one.
fn line_device(
    d: Option<&crate::config::DeviceConfig>,
) -> Result<Arc<dyn ainima_agent::serial::LineDevice>> {
    let Some(d) = d else {
        return Ok(Arc::new(ainima_agent::serial::Simulated));
    };
    if let Some(path) = &d.serial {
        let mut port =
            ainima_agent::serial::SerialDevice::open_allowed(path, std::slice::from_ref(path))?;
        if let Some(b) = d.baud {
            port.baud = b;
        }
        if let Some(t) = d.timeout_ms {
            port.timeout = Duration::from_millis(t);
        }
        return Ok(Arc::new(port));
    }
    let id = d.hid.as_deref().unwrap_or_default();
    #[cfg(feature = "hid")]
    {
        let id = ainima_agent::hid::HidId::parse(id)?;
        let mut dev = ainima_agent::hid::HidDevice::open_allowed(&id, std::slice::from_ref(&id))?;
        if let Some(t) = d.timeout_ms {
            dev.timeout = Duration::from_millis(t);
        }
        Ok(Arc::new(dev))
    }
    #[cfg(not(feature = "hid"))]
    anyhow::bail!(
        "the HID device {id} needs a build with HID support (cargo build --release -p ainima-app --features hid)"
    )
}

/// Messages' outbox and the webhook they are queued for.
pub type Messages = Option<(Arc<ainima_agent::outbox::Outbox>, String)>;

/// [`session`], with messages wired to an outbox; `fresh_voice` speaks each
/// sentence from an espeak-ng process of its own (audio that depends on the
/// words alone: replays, and TTDD scenarios run side by side).
#[allow(clippy::too_many_arguments)] // reason: the one assembly of a session; each argument is a separate choice of its callers
pub fn session_with(
    cfg: &AppConfig,
    config_dir: &Path,
    model_dir: &Path,
    deterministic: bool,
    seed: u64,
    adjust: &dyn Fn(&mut Config),
    messages: Messages,
    fresh_voice: bool,
) -> Result<Session> {
    let catalog = crate::language::catalog(cfg, config_dir, &[])?;
    let agent = agent(catalog.clone(), seed, messages, cfg)?;
    let mut stt = engine(model_dir)?;
    stt.endpointer = cfg.endpointer.clone();
    // Readings are weighed knowing the home's own names ("Sliding Door",
    // "EcoBee"), as earlier words of the conversation.
    if let Some(h) = &agent.home {
        stt.options.names = h.home.lock().unwrap_or_else(|p| p.into_inner()).names();
    }
    // Replays and suites take each sentence from a process of its own: the
    // assistant's audio then depends on its words alone, not on what the
    // process spoke before (other sessions, scenarios, jobs).
    let tts = if fresh_voice {
        ainima::tts::espeak::Espeak::fresh(cfg.voice.clone())?
    } else {
        ainima::tts::espeak::Espeak::new(cfg.voice.clone())?
    };
    let session_cfg = Config {
        endpointer: cfg.endpointer.clone(),
        aec: Some(cfg.aec.clone()),
        voice: cfg.voice.clone(),
        costs: if deterministic {
            Costs::Fixed(FixedCosts::default())
        } else {
            Costs::Measured
        },
        ..Config::default()
    };
    let mut session_cfg = session_cfg;
    adjust(&mut session_cfg);
    let mut session = Session::new(
        session_cfg,
        Box::new(stt),
        Box::new(tts),
        agent,
        catalog,
        Arc::new(SystemClock::new()),
    )?;
    session.set_end_of_turn(crate::turn_cmd::load(&cfg.turn.model)?);
    Ok(session)
}

/// Runs `session` over `user` speech (16 kHz) said at `start` samples into
/// `room`; returns what the speaker emitted, sample for sample.
pub fn over_room(
    session: &mut Session,
    room: &mut SimRoom,
    until: u64,
    on_events: &mut dyn FnMut(&[ainima::session::Event]) -> Result<()>,
) -> Result<Vec<f32>> {
    let mut spoken = Vec::new();
    let mut dev = ainima_ttdd::drive::Recorder::new(room, &mut spoken);
    while session.position() < until && session.step(&mut dev)? {
        on_events(&session.take_events())?;
    }
    session.drain(&mut dev, Duration::from_secs(30))?;
    on_events(&session.take_events())?;
    Ok(spoken)
}

/// `[listen]`'s windows in a session's settings.
fn listen_timing(c: &mut Config, cfg: &AppConfig) {
    c.wake_window_ms = (cfg.listen.window_s.clamp(0.5, 60.0) * 1000.0) as u32;
    c.follow_up_ms = (cfg.listen.follow_up_s.clamp(0.0, 600.0) * 1000.0) as u32;
}

/// What `which` means for a session (the wake word `[listen]` names),
/// and how to say it to the user.
fn activation(
    cfg: &AppConfig,
    config_dir: &Path,
    which: crate::config::Activation,
) -> Result<(Activation, String)> {
    Ok(match which {
        crate::config::Activation::Always => (Activation::Always, String::new()),
        crate::config::Activation::Wake => {
            let w = crate::wake_cmd::configured(&cfg.listen, config_dir)?;
            let how = format!("; say \"{}\" first", w.phrase());
            (Activation::Wake(std::sync::Arc::new(w)), how)
        }
        crate::config::Activation::PushToTalk => (
            Activation::PushToTalk,
            "; press Enter, then speak".to_string(),
        ),
    })
}

/// `ainima run`.
pub fn run(
    cfg: &AppConfig,
    config_dir: &Path,
    model_dir: &Path,
    args: &RunArgs<'_>,
    out: &mut dyn Write,
) -> Result<()> {
    let user = ainima_audio::decode::load_16k_mono(args.input)
        .with_context(|| args.input.display().to_string())?;
    let mut session = session(
        cfg,
        config_dir,
        model_dir,
        args.deterministic,
        args.seed,
        &|c: &mut Config| {
            args.start.apply(c);
            listen_timing(c, cfg);
        },
    )?;
    if let Some(which) = args.activation {
        if which == crate::config::Activation::PushToTalk {
            anyhow::bail!("a recording cannot push to talk: use --activation wake or always");
        }
        session.set_activation(activation(cfg, config_dir, which)?.0)?;
    }
    open_audit(&mut session, args.data)?;
    connect(agent_of(&mut session)?, cfg, args.data)?;
    let mut room = SimRoom::new(cfg.room.clone(), SimClock::new())?;
    room.add_user_speech(0, user.clone(), 1.0);
    // The recording, then time for the last answer.
    let until = user.len() as u64 + 3 * 16_000;
    room.end_at(until + 30 * 16_000);
    let mut events_file = match args.events {
        Some(p) => Some(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| p.display().to_string())?,
        )),
        None => None,
    };
    let wall = std::time::Instant::now();
    let quiet = args.quiet;
    let spoken = over_room(&mut session, &mut room, until, &mut |events| {
        for e in events {
            let line = serde_json::to_string(e)?;
            if let Some(f) = events_file.as_mut() {
                writeln!(f, "{line}")?;
            }
            if !quiet {
                writeln!(out, "{}", describe(e))?;
            }
        }
        Ok(())
    })?;
    if let Some(mut f) = events_file {
        f.flush()?;
    }
    let simulated = session.position() as f64 / 16_000.0;
    let wall = wall.elapsed().as_secs_f64();
    if let Some(p) = args.output {
        ainima_audio::device::file::write_wav(p, &spoken)
            .with_context(|| p.display().to_string())?;
    }
    if let Some(p) = args.profile {
        let json = serde_json::json!({
            "summary": session.profile.summary(),
            "turns": session.profile.turns,
            "simulated_seconds": simulated,
            "wall_seconds": wall,
        });
        std::fs::write(p, serde_json::to_string_pretty(&json)?)
            .with_context(|| p.display().to_string())?;
    }
    if !quiet {
        writeln!(
            out,
            "\n{simulated:.1} s of session in {wall:.1} s ({:.1}x real time)\n\n{}",
            simulated / wall.max(1e-9),
            session.profile.table()
        )?;
    }
    Ok(())
}

/// The longest time without a device that `listen` passes as silence.
const MAX_GAP: Duration = Duration::from_secs(600);

/// Silence for as many samples as it holds, then the end: the time a live
/// session spent without a device (nothing allocated, nothing played).
struct Gap(usize);

impl DuplexDevice for Gap {
    fn capture(&mut self, mic: &mut [f32], reference: &mut [f32]) -> ainima_audio::Result<usize> {
        if self.0 == 0 {
            return Err(ainima_audio::Error::EndOfStream);
        }
        let n = mic.len().min(reference.len()).min(self.0);
        mic.fill(0.0);
        reference.fill(0.0);
        self.0 -= n;
        Ok(n)
    }

    fn play(&mut self, _: &[f32]) -> ainima_audio::Result<()> {
        Ok(())
    }

    fn stop_playback(&mut self) -> usize {
        0
    }

    fn pending_playback(&self) -> usize {
        0
    }

    fn info(&self) -> ainima_audio::device::DeviceInfo {
        ainima_audio::device::DeviceInfo {
            name: "the time without a device".into(),
            input_rate: 16_000,
            input_channels: 1,
            output_rate: 16_000,
            output_channels: 1,
        }
    }
}

/// How long `listen` waits before reopening a lost or stalled device,
/// doubling from the first to the last.
const REOPEN_BACKOFF: (Duration, Duration) = (Duration::from_millis(500), Duration::from_secs(4));

/// How often `listen` tells of audio glitches at most.
const GLITCH_NOTE_EVERY: Duration = Duration::from_secs(10);

/// `ainima listen`: the session on the default microphone and speaker, on
/// the real clock (stage costs are the time they really take). A device
/// that fails, stalls or goes away is reopened with backoff, and the
/// conversation goes on; `events`, when given, gets one JSON event a line.
pub fn listen(
    cfg: &AppConfig,
    config_dir: &Path,
    model_dir: &Path,
    data: &Path,
    events: Option<&Path>,
    out: &mut dyn Write,
) -> Result<()> {
    use ainima_audio::device::cpal::CpalDevice;
    let mut device = CpalDevice::default_devices().context("no usable microphone and speaker")?;
    let info = device.info();
    let start = crate::clock::wall(cfg.time_zone.as_deref())?;
    let mut session = session(cfg, config_dir, model_dir, false, 0, &|c: &mut Config| {
        start.apply(c);
        // Recognition off the capture loop; partial transcripts.
        c.live = true;
        listen_timing(c, cfg);
    })?;
    let (activation, how) = activation(cfg, config_dir, cfg.listen.activation)?;
    let push = matches!(activation, Activation::PushToTalk).then(|| {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        std::thread::spawn(move || {
            for line in std::io::stdin().lines() {
                if line.is_err() || tx.send(()).is_err() {
                    break;
                }
            }
        });
        rx
    });
    session.set_activation(activation)?;
    open_audit(&mut session, data)?;
    connect(agent_of(&mut session)?, cfg, data)?;
    restore_pending(agent_of(&mut session)?, data)?;
    // Apps and `ainima approvals` reach this session's agent here.
    let endpoint = ainima_agent::endpoint::serve(data, agent_of(&mut session)?.shared())
        .context("starting the local endpoint")?;
    let mut events_file = match events {
        Some(p) => Some(std::fs::File::create(p).with_context(|| p.display().to_string())?),
        None => None,
    };
    writeln!(
        out,
        "Listening on {} ({} Hz in, {} Hz out){how}; endpoint {}. Ctrl-C ends.",
        info.name, info.input_rate, info.output_rate, endpoint.info.url
    )?;
    let mut shown = "";
    let mut backoff = REOPEN_BACKOFF.0;
    let mut heard_at = std::time::Instant::now();
    let mut unkept = false;
    // Glitches told so far, and when last (at most one line in ten seconds).
    let mut glitches = (0, None::<std::time::Instant>);
    loop {
        if let Some(rx) = &push {
            while rx.try_recv().is_ok() {
                session.push_to_talk();
            }
        }
        match session.step(&mut device) {
            Ok(true) => {
                backoff = REOPEN_BACKOFF.0;
                heard_at = std::time::Instant::now();
                // A glitch (an xrun) the backend recovered from: the
                // conversation goes on, the person is told why it may
                // have missed a few milliseconds.
                let g = device.glitches();
                if g > glitches.0 && glitches.1.is_none_or(|t| t.elapsed() >= GLITCH_NOTE_EVERY) {
                    writeln!(
                        out,
                        "\r\x1b[Kthe sound server skipped {} time(s) (the machine was too busy for its audio); going on",
                        g - glitches.0
                    )?;
                    glitches = (g, Some(heard_at));
                }
            }
            Ok(false) => break,
            // The device failed, stalled or went away: the conversation
            // waits for it, never ends for it.
            Err(ainima::Error::Audio(ainima_audio::Error::Device(why))) => {
                session.device_status(format!("{why}; reopening"));
                loop {
                    show_events(&mut session, out, events_file.as_mut())?;
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(REOPEN_BACKOFF.1);
                    match CpalDevice::default_devices() {
                        Ok(d) => {
                            // A stream whose server went away may never
                            // return from its poll, and dropping it waits
                            // for that thread: let it go on a thread of its
                            // own rather than hang the conversation.
                            let old = std::mem::replace(&mut device, d);
                            glitches.0 = 0;
                            std::thread::spawn(move || drop(old));
                            break;
                        }
                        Err(e) => session.device_status(format!("{e}; retrying")),
                    }
                }
                // The session's clock is its samples: the time without
                // any passes as silence (up to ten minutes), so that
                // timers, the debouncing of repeated requests and the
                // audit log's times stay true; what it would say unasked
                // meanwhile waits for the device.
                let lost = heard_at.elapsed().min(MAX_GAP).as_secs_f64();
                let mut gap = Gap((lost * 16_000.0) as usize);
                session.hold_unasked(true);
                while session.step(&mut gap)? {}
                session.hold_unasked(false);
                session.new_device()?;
                heard_at = std::time::Instant::now();
                session.device_status(format!("back ({})", device.info().name));
            }
            Err(e) => return Err(e.into()),
        }
        // Kept once the agent is home from the turn that changed them.
        unkept |= show_events(&mut session, out, events_file.as_mut())?;
        if unkept && let Some(agent) = session.agent() {
            keep_pending(agent, data)?;
            unkept = false;
        }
        if session.state() != shown {
            shown = session.state();
            write!(out, "\r\x1b[K[{shown}]")?;
            out.flush()?;
        }
    }
    Ok(())
}

/// Writes the session's new events for a person (and as JSON lines into
/// `file`); whether timers or tool calls changed what is kept.
fn show_events(
    session: &mut Session,
    out: &mut dyn Write,
    mut file: Option<&mut std::fs::File>,
) -> Result<bool> {
    let events = session.take_events();
    for e in &events {
        match &e.kind {
            // The words so far update the status line in place.
            ainima::session::EventKind::Partial { text } => {
                write!(out, "\r\x1b[K[{}] {text} ...", session.state())?
            }
            _ => writeln!(out, "\r\x1b[K{}", describe(e))?,
        }
        if let Some(f) = file.as_mut() {
            writeln!(f, "{}", serde_json::to_string(e)?)?;
        }
    }
    if !events.is_empty() {
        out.flush()?;
    }
    Ok(events.iter().any(|e| {
        matches!(
            e.kind,
            ainima::session::EventKind::ToolCall { .. } | ainima::session::EventKind::Ring { .. }
        )
    }))
}

/// One line for a person: the time, then what happened.
pub fn describe(e: &ainima::session::Event) -> String {
    format!("{:>7.2} s  {}", e.t, e.kind.describe())
}
