//! `ainima demo`: the front end on real recordings, then full duplex in a simulated room.

use std::io::Write;
use std::path::Path;

use anyhow::Result;

use ainima_audio::clock::SimClock;
use ainima_audio::device::DuplexDevice;
use ainima_audio::endpoint::EndpointEvent;
use ainima_audio::frame::seconds;
use ainima_audio::frontend::FrontEnd;
use ainima_audio::room::{SimRoom, run_front_end};

use crate::config::AppConfig;
use crate::speech;

const SHOWN: [&str; 4] = [
    "whisper_cpp/jfk.wav",
    "voice2json/would_you_please_turn_on_living_room_lamp.wav",
    "speechbrain_audiomnist/6_56_49.wav",
    "pocketsphinx/goforward.wav",
];

pub fn run(cfg: &AppConfig, data: &Path, models: &Path, out: &mut impl Write) -> Result<()> {
    // Speech to text when a model is installed (scripts/demo installs one).
    let store = ainima::store::Store::new(models);
    let mut stt = match store.installed("whisper-tiny.en") {
        Ok(dir) => Some(ainima::stt::whisper::WhisperEngine::load(&dir)?),
        Err(_) => None,
    };
    writeln!(out, "Ainima audio front end\n")?;
    writeln!(
        out,
        "1. Speech found in real recordings (any rate and channel count, brought to 16 kHz mono)"
    )?;
    let have_data = data.join("speech/MANIFEST.tsv").is_file();
    if have_data {
        for rel in SHOWN {
            let path = data.join("speech").join(rel);
            let audio = ainima_audio::decode::decode_file(&path, &Default::default())?;
            let mono = audio.to_16k_mono()?;
            let segs = ainima_audio::endpoint::segments(&mono, &cfg.endpointer)?;
            let list: Vec<String> = segs
                .iter()
                .map(|u| format!("{:.2}-{:.2} s", seconds(u.start), seconds(u.end)))
                .collect();
            writeln!(
                out,
                "   {rel} ({} Hz, {} ch, {:.1} s): {}",
                audio.sample_rate,
                audio.channels,
                audio.duration(),
                list.join(", ")
            )?;
        }
    } else {
        writeln!(
            out,
            "   (no recordings at {}: set AINIMA_DATA_DIR)",
            data.display()
        )?;
    }

    let interrupt_at = 6.0;
    writeln!(
        out,
        "\n2. The assistant speaks in a simulated room (RT60 {} ms, echo delay {} ms); the user talks over it at {interrupt_at:.1} s",
        cfg.room.rt60_ms, cfg.room.delay_ms
    )?;
    let voice = speech::espeak(speech::MONOLOGUE)?;
    let user = if have_data {
        ainima_audio::decode::load_16k_mono(&data.join("speech/rhasspy/what_time_is_it.wav"))?
    } else {
        speech::espeak("what time is it")?
    };
    let until = voice.len() as u64 + 16_000;
    for (label, aec) in [
        ("without echo cancellation", None),
        ("with echo cancellation", Some(cfg.aec.clone())),
    ] {
        let mut room = SimRoom::new(cfg.room.clone(), SimClock::new())?;
        room.play(&voice)?;
        room.add_user_speech((interrupt_at * 16_000.0) as u64, user.clone(), 1.0);
        let mut fe = FrontEnd::new(cfg.endpointer.clone(), aec)?;
        let mut lines = Vec::new();
        let mut heard: Vec<(usize, Vec<f32>)> = Vec::new();
        run_front_end(&mut room, &mut fe, until, None, &mut |t, e| match e {
            EndpointEvent::SpeechStart { start, .. } => lines.push(format!(
                "   {:>6.2} s  user speech starts (from {:.2} s)",
                seconds(t),
                seconds(start)
            )),
            EndpointEvent::SpeechEnd(u) => {
                lines.push(format!(
                    "   {:>6.2} s  user speech ends ({:.2}-{:.2} s)",
                    seconds(t),
                    seconds(u.start),
                    seconds(u.end)
                ));
                heard.push((lines.len(), u.audio));
            }
            EndpointEvent::Rejected { .. } => {}
        })?;
        // What the recogniser makes of each utterance (the echo-cancelled audio).
        if let Some(engine) = stt.as_mut() {
            use ainima::stt::SpeechToText;
            for (at, audio) in heard.into_iter().rev() {
                let t = engine.transcribe(&audio)?;
                let text = if t.text.is_empty() {
                    "(nothing)".to_string()
                } else {
                    format!("{:?}", t.text)
                };
                lines.insert(
                    at,
                    format!(
                        "             heard: {text} ({:.0} ms)",
                        t.timings_ms["total"]
                    ),
                );
            }
        }
        writeln!(out, "  {label}:")?;
        for l in &lines {
            writeln!(out, "{l}")?;
        }
    }
    // ERLE is echo over residual while only the assistant talks: a run without the user.
    let mut room = SimRoom::new(cfg.room.clone(), SimClock::new())?;
    room.play(&voice)?;
    let mut fe = FrontEnd::new(cfg.endpointer.clone(), Some(cfg.aec.clone()))?;
    run_front_end(&mut room, &mut fe, until, Some(3 * 16_000), &mut |_, _| {})?;
    if let Some(erle) = fe.aec().and_then(|a| a.erle_db()) {
        writeln!(
            out,
            "  echo return loss enhancement (linear filter, after 3 s of the assistant alone): {erle:.1} dB"
        )?;
    }
    writeln!(
        out,
        "\nWithout the canceller the assistant's own voice is taken for the user; with it, only the user is heard."
    )?;
    Ok(())
}
