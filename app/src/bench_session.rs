//! `ainima bench session`: whole conversations in the simulated room, the
//! session's stage costs measured on this machine: voice-to-voice latency,
//! barge-in stop latency, false barge-ins on backchannels, peak memory and
//! speed against real time. Beside it, in the same run, the same session
//! as a classic cascade (the turn ends only on silence, as in pipelines
//! that wait for the VAD's hangover).

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use serde_json::json;

use ainima::session::profile::stats;
use ainima::session::{Config, EventKind};
use ainima::tts::Voice;
use ainima_audio::clock::SimClock;
use ainima_audio::room::SimRoom;

use crate::config::AppConfig;
use crate::script::{Cue, Line, drive};

/// Backchannels said over the assistant's long answer, one a line.
const BACKCHANNELS: &[&str] = &[
    "Okay.", "Uh-huh.", "Right.", "Yeah.", "Mm-hmm.", "I see.", "Sure.", "Got it.",
];

fn backchannel_script() -> Vec<Line> {
    let mut s = Vec::new();
    for (i, b) in BACKCHANNELS.iter().enumerate() {
        s.push(Line {
            text: "What can you do?",
            cue: Cue::AfterReply(1.0),
        });
        s.push(Line {
            text: b,
            cue: Cue::IntoReply(1.5 + 0.5 * (i % 4) as f64),
        });
    }
    s
}

/// A request of the demo's script said after the assistant's reply (not
/// into it, not a backchannel or stop word): the lines a turn-taking peer
/// without an echo canceller can be given alone.
fn is_request_after_reply(l: &Line) -> bool {
    matches!(l.cue, Cue::AfterReply(_))
        && !BACKCHANNELS.contains(&l.text)
        && ainima::session::words::classify(l.text, false) != ainima::session::words::Kind::Stop
}

fn voices() -> Vec<Voice> {
    [(150, 40), (160, 55), (140, 50)]
        .into_iter()
        .map(|(rate_wpm, pitch)| Voice {
            name: "en-us".into(),
            rate_wpm,
            pitch,
        })
        .collect()
}

#[derive(Default)]
struct Tally {
    v2v: Vec<f64>,
    /// Voice to voice on the demo's requests said after the reply (what
    /// the Pipecat row is measured on).
    v2v_requests: Vec<f64>,
    /// Barge-in stops from the start of the user's voice, as the driver
    /// knows it, to the assistant's silence (backchannels' false
    /// barge-ins left out: they are counted as such).
    barge_stop: Vec<f64>,
    /// The same stops from the endpointer's onset (the session's own
    /// figure, which can reach back into the echo before the voice).
    barge_stop_onset: Vec<f64>,
    /// Barge-ins not dated: the assistant fell silent before the voice
    /// began, or no line's voice was under way at the onset.
    barge_undated: usize,
    backchannels: usize,
    false_barge_ins: usize,
    /// Backchannels the assistant paused for (yielded, then resumed).
    paused: usize,
    /// Requests that got no reply at all.
    unanswered: usize,
    simulated: f64,
    wall: f64,
    turns_answered: usize,
}

fn measure(
    cfg: &AppConfig,
    config_dir: &Path,
    model_dir: &Path,
    meaning: bool,
    runs: usize,
) -> Result<Tally> {
    let mut t = Tally::default();
    let scripts: Vec<Vec<Line>> = vec![crate::demo::SCRIPT.to_vec(), backchannel_script()];
    for run in 0..runs {
        for voice in voices() {
            for script in &scripts {
                let mut session = crate::run::session(
                    cfg,
                    config_dir,
                    model_dir,
                    false,
                    0,
                    &|c: &mut Config| {
                        if !meaning {
                            c.meaning_pause_ms = 0;
                        }
                    },
                )?;
                let mut room_cfg = cfg.room.clone();
                room_cfg.seed = room_cfg.seed.wrapping_add(run as u64);
                let mut room = SimRoom::new(room_cfg, SimClock::new())?;
                let wall = std::time::Instant::now();
                let trace = std::env::var_os("AINIMA_BENCH_TRACE").is_some();
                let (events, said) = drive(
                    &mut session,
                    &mut room,
                    script,
                    &voice,
                    400.0,
                    &mut |said, events| {
                        if trace {
                            if let Some(s) = said {
                                eprintln!("{:>7.2} s  USER {}", s.at, s.line.text);
                            }
                            for e in events {
                                eprintln!("{}", crate::run::describe(e));
                            }
                        }
                        Ok(())
                    },
                )?;
                if trace {
                    // Each turn's timeline, from the end of the voice as
                    // the endpointer dates it.
                    for tl in &session.profile.turns {
                        let ms = |t: Option<f64>| {
                            t.map_or("-".to_string(), |t| {
                                format!("+{:.0} ms", (t - tl.speech_end) * 1000.0)
                            })
                        };
                        eprintln!(
                            "TURN voice end {:.2} s: decided {}, words {}, first audio {}",
                            tl.speech_end,
                            ms(Some(tl.decided_at)),
                            ms(tl.stt_final),
                            ms(tl.first_audio)
                        );
                    }
                }
                t.wall += wall.elapsed().as_secs_f64();
                t.simulated += session.position() as f64 / 16_000.0;
                // Voice to voice, dated from the end of the user's voice
                // (which the driver knows) to the first reply audio before
                // the next line; a request that got none is a failure.
                let turns: Vec<(f64, f64)> = said.iter().map(|s| (s.at, s.end)).collect();
                let gaps = ainima_ttdd::drive::reply_gaps(&turns, &events);
                for (s, gap) in said.iter().zip(gaps) {
                    // Backchannels and stop words ask for no reply.
                    let stop = ainima::session::words::classify(s.line.text, false)
                        == ainima::session::words::Kind::Stop;
                    if BACKCHANNELS.contains(&s.line.text) || stop {
                        continue;
                    }
                    if trace {
                        eprintln!("GAP {gap:?} {:.2} {}", s.end, s.line.text);
                    }
                    if let (Some(ms), true) = (gap, is_request_after_reply(&s.line)) {
                        t.v2v_requests.push(ms);
                    }
                    match gap {
                        Some(ms) => {
                            t.v2v.push(ms);
                            t.turns_answered += 1;
                        }
                        None => t.unanswered += 1,
                    }
                }
                // Barge-ins dated from the start of the voice that made
                // them; a backchannel's is a false barge-in, counted below.
                let voices: Vec<(f64, f64)> = said.iter().map(|s| (s.voice, s.end)).collect();
                for stop in ainima_ttdd::drive::stop_gaps(&voices, &events) {
                    use ainima_ttdd::drive::Stop;
                    match stop {
                        Stop::Dated { turn, ms } => {
                            if !BACKCHANNELS.contains(&said[turn].line.text) {
                                t.barge_stop.push(ms);
                            }
                        }
                        Stop::Early { .. } | Stop::Unexplained => t.barge_undated += 1,
                    }
                }
                t.barge_stop_onset
                    .extend(session.profile.barge_in_ms.iter().copied());
                for s in said.iter().filter(|s| BACKCHANNELS.contains(&s.line.text)) {
                    t.backchannels += 1;
                    let dropped = events.iter().any(|e| {
                        matches!(e.kind, EventKind::BargeIn { onset, .. } if onset >= s.at - 0.3 && onset <= s.end + 0.3)
                    });
                    let paused = events.iter().any(|e| {
                        matches!(e.kind, EventKind::Yield { onset } if onset >= s.at - 0.3 && onset <= s.end + 0.3)
                    });
                    if dropped {
                        t.false_barge_ins += 1;
                    } else if paused {
                        t.paused += 1;
                    }
                }
            }
        }
    }
    Ok(t)
}

/// Runs the benchmark.
pub fn run(
    cfg: &AppConfig,
    config_dir: &Path,
    model_dir: &Path,
    json_out: Option<&Path>,
    runs: usize,
    pipecat: Option<&Path>,
    out: &mut dyn Write,
) -> Result<()> {
    let ours = measure(cfg, config_dir, model_dir, true, runs)?;
    let cascade = measure(cfg, config_dir, model_dir, false, runs)?;
    // Our process's peak, before the peer's steps add to it.
    let peak = crate::bench::peak_rss_mb();
    let peer = match pipecat {
        Some(model) => Some(pipecat_row(cfg, config_dir, model)?),
        None => None,
    };
    let row = |name: &str, t: &Tally| {
        let v = stats(&t.v2v);
        let b = stats(&t.barge_stop);
        let bo = stats(&t.barge_stop_onset);
        json!({
            "name": name,
            "turns_answered": t.turns_answered,
            "voice_to_voice_ms": {"p50": v.as_ref().map(|s| s.p50), "p95": v.as_ref().map(|s| s.p95), "count": v.as_ref().map(|s| s.count)},
            "barge_in_stop_ms": {"p50": bo.as_ref().map(|s| s.p50), "p95": bo.as_ref().map(|s| s.p95), "count": bo.as_ref().map(|s| s.count)},
            "barge_in_stop_from_voice_ms": {"p50": b.as_ref().map(|s| s.p50), "p95": b.as_ref().map(|s| s.p95), "count": b.as_ref().map(|s| s.count), "undated": t.barge_undated},
            "backchannels": t.backchannels,
            "false_barge_ins": t.false_barge_ins,
            "paused_for_backchannels": t.paused,
            "unanswered": t.unanswered,
            "false_barge_in_rate": t.false_barge_ins as f64 / t.backchannels.max(1) as f64,
            "simulated_seconds": t.simulated,
            "wall_seconds": t.wall,
            "speed_vs_real_time": t.simulated / t.wall.max(1e-9),
        })
    };
    let rows = [
        row("ainima (endpointing by meaning)", &ours),
        row("cascade (silence endpointing, 600 ms hangover)", &cascade),
    ];
    writeln!(
        out,
        "{} conversations ({} voices x 2 scripts x {runs} run(s)) each, simulated room, stage costs measured;\nvoice to voice from the end of the user's voice to the first reply audio;\nbarge-in stop from the start of the user's voice to the assistant's silence (in brackets: from the endpointer's onset)\n",
        voices().len() * 2 * runs,
        voices().len()
    )?;
    writeln!(
        out,
        "{:<48} {:>9} {:>9} {:>17} {:>11} {:>9} {:>11} {:>8}",
        "", "v2v p50", "v2v p95", "barge p95", "false b-in", "paused", "unanswered", "x real"
    )?;
    for r in &rows {
        writeln!(
            out,
            "{:<48} {:>7.0}ms {:>7.0}ms {:>7.0}ms ({:>4.0}ms) {:>5}/{:<5} {:>9} {:>11} {:>7.1}x",
            r["name"].as_str().unwrap_or_default(),
            r["voice_to_voice_ms"]["p50"].as_f64().unwrap_or(f64::NAN),
            r["voice_to_voice_ms"]["p95"].as_f64().unwrap_or(f64::NAN),
            r["barge_in_stop_from_voice_ms"]["p95"]
                .as_f64()
                .unwrap_or(f64::NAN),
            r["barge_in_stop_ms"]["p95"].as_f64().unwrap_or(f64::NAN),
            r["false_barge_ins"].as_u64().unwrap_or(0),
            r["backchannels"].as_u64().unwrap_or(0),
            r["paused_for_backchannels"].as_u64().unwrap_or(0),
            r["unanswered"].as_u64().unwrap_or(0),
            r["speed_vs_real_time"].as_f64().unwrap_or(f64::NAN),
        )?;
    }
    writeln!(
        out,
        "\nbarge-ins not dated (silent before the voice began, or under no voice): ours {}, cascade {}",
        ours.barge_undated, cascade.barge_undated
    )?;
    writeln!(
        out,
        "peak memory (both, Whisper tiny.en loaded per session): {peak:.0} MB"
    )?;
    let mut pipecat_json = serde_json::Value::Null;
    if let Some(p) = &peer {
        let v = stats(&p.v2v);
        let o = stats(&ours.v2v_requests);
        writeln!(
            out,
            "\nThe demo's {} requests said after the reply ({} voices), each alone in the same room:\n",
            p.files,
            voices().len()
        )?;
        writeln!(
            out,
            "{:<48} {:>9} {:>9} {:>11}",
            "", "v2v p50", "v2v p95", "unanswered"
        )?;
        let line = |name: &str, s: &Option<ainima::session::profile::Stats>, unanswered: usize| {
            format!(
                "{:<48} {:>7.0}ms {:>7.0}ms {:>11}",
                name,
                s.as_ref().map_or(f64::NAN, |s| s.p50),
                s.as_ref().map_or(f64::NAN, |s| s.p95),
                unanswered
            )
        };
        writeln!(
            out,
            "{}",
            line("ainima (these lines, in the conversations)", &o, 0)
        )?;
        writeln!(
            out,
            "{}",
            line(
                &format!(
                    "pipecat {} (Silero VAD, smart-turn, faster-whisper)",
                    p.version
                ),
                &v,
                p.unanswered
            )
        )?;
        pipecat_json = json!({
            "version": p.version,
            "files": p.files,
            "unanswered": p.unanswered,
            "voice_to_voice_ms": {"p50": v.as_ref().map(|s| s.p50), "p95": v.as_ref().map(|s| s.p95)},
            "ours_same_lines_ms": {"p50": o.as_ref().map(|s| s.p50), "p95": o.as_ref().map(|s| s.p95)},
            "peer": p.raw,
        });
    }
    if let Some(p) = json_out {
        let j = json!({"rows": rows, "peak_rss_mb": peak, "runs": runs, "pipecat": pipecat_json});
        std::fs::write(p, serde_json::to_string_pretty(&j)?)?;
    }
    Ok(())
}

/// What the Pipecat peer did with the demo's requests.
struct PeerRow {
    version: String,
    files: usize,
    v2v: Vec<f64>,
    unanswered: usize,
    raw: serde_json::Value,
}

const PIPECAT_PY: &str = include_str!("../../bench/peers/pipecat_turns.py");

/// Pipecat's own pipeline (its Silero VAD and smart-turn with default
/// settings, its faster-whisper STT service on the same Whisper tiny.en)
/// over each of the demo's requests said alone into the same simulated
/// room; its voice to voice is its end of turn (from the end of the user's
/// voice, on its audio clock, the transcript in) plus our language core's
/// and espeak-ng's first sentence, measured here, as its text and voice
/// steps.
fn pipecat_row(cfg: &AppConfig, config_dir: &Path, model: &Path) -> Result<PeerRow> {
    use anyhow::Context;
    let tmp = std::env::temp_dir().join(format!("ainima-bench-pipecat-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let ct2 = crate::bench_stt::unpack_ct2(model, &tmp.join("ct2"))?;
    let lead = 8_000usize; // 0.5 s before the voice
    let tail = 3 * 16_000usize;
    let mut files = Vec::new();
    let mut texts = Vec::new();
    for (v, voice) in voices().iter().enumerate() {
        for (i, l) in crate::demo::SCRIPT
            .iter()
            .enumerate()
            .filter(|(_, l)| is_request_after_reply(l))
        {
            let audio = ainima::tts::espeak::speak_fresh(l.text, voice)?;
            let end = ainima_ttdd::drive::voice_end(&audio);
            let total = lead + audio.len() + tail;
            let mut room = SimRoom::new(cfg.room.clone(), SimClock::new())?;
            room.add_user_speech(lead as u64, audio, 1.0);
            room.end_at(total as u64);
            let mut mic = vec![0.0f32; total];
            let mut reference = vec![0.0f32; 160];
            let mut at = 0;
            while at < total {
                let n = (total - at).min(160);
                let got = ainima_audio::device::DuplexDevice::capture(
                    &mut room,
                    &mut mic[at..at + n],
                    &mut reference[..n],
                )?;
                if got == 0 {
                    break;
                }
                at += got;
            }
            let wav = tmp.join(format!("v{v}-l{i}.wav"));
            ainima_audio::device::file::write_wav(&wav, &mic)?;
            files.push(json!({"path": wav, "voice_end": (lead + end) as f64 / 16_000.0}));
            texts.push(l.text);
        }
    }
    let input = tmp.join("input.json");
    std::fs::write(&input, serde_json::to_vec(&json!({"files": files}))?)?;
    let script = tmp.join("pipecat_turns.py");
    std::fs::write(&script, PIPECAT_PY)?;
    let raw = crate::bench::python_json(
        &script,
        [
            "--model".as_ref(),
            ct2.as_os_str(),
            "--threads".as_ref(),
            "2".as_ref(),
            input.as_os_str(),
        ],
    )
    .context("the Pipecat peer (pip install -r bench/peers/pipecat-requirements.txt)")?;
    // Its text and voice steps: our language core and espeak-ng's first
    // sentence, timed here on what it heard.
    let catalog = crate::language::catalog(cfg, config_dir, &[])?;
    let mut tts = ainima::tts::espeak::Espeak::new(cfg.voice.clone())?;
    let mut v2v = Vec::new();
    let mut unanswered = 0;
    let out = raw["files"].as_array().cloned().unwrap_or_default();
    for f in &out {
        let text = f["text"].as_str().unwrap_or_default().trim().to_string();
        let Some(turn_end) = f["turn_end_ms"].as_f64().filter(|_| !text.is_empty()) else {
            unanswered += 1;
            continue;
        };
        let t0 = std::time::Instant::now();
        let mut assistant = ainima_neurosymbolic::Assistant::new(catalog.clone(), 0)?;
        let reply = assistant
            .hear(
                &text,
                ainima::session::local_now(crate::clock::PINNED_START, &jiff::tz::TimeZone::UTC),
            )
            .reply;
        let mut first = None;
        use ainima::tts::TextToSpeech;
        tts.speak(&reply, &mut |_| {
            first.get_or_insert(t0.elapsed().as_secs_f64() * 1000.0);
            false
        })?;
        v2v.push(turn_end + first.unwrap_or(0.0));
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(PeerRow {
        version: raw["pipecat_version"].as_str().unwrap_or("?").to_string(),
        files: texts.len(),
        v2v,
        unanswered,
        raw,
    })
}
