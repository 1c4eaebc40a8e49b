//! What several of the end-to-end tests (`tests/*.rs`, the binary driven
//! as a user would) make the same way: speech in the assistant's own voice,
//! WAV files, `ainima run`'s events, and the wake-word dialogue.
#![allow(dead_code)] // reason: each test binary compiles this module and uses a part of it

pub mod pulse;

use std::path::Path;

use serde_json::Value;

/// `words` in the assistant's own voice (`ainima say`, espeak-ng), 16 kHz.
pub fn say(bin: &str, home: &Path, words: &str) -> Vec<f32> {
    let wav = home.join("said.wav");
    ainima_testkit::ainima_ok(
        bin,
        home,
        &["say", words, "--output", wav.to_str().expect("path")],
    );
    ainima_audio::decode::load_16k_mono(&wav).expect("speech")
}

/// `s` seconds of silence at 16 kHz.
pub fn silence(s: f32) -> Vec<f32> {
    vec![0.0; (s * 16_000.0) as usize]
}

/// A 16-bit mono WAV at 16 kHz.
pub fn write_wav(path: &Path, x: &[f32]) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("writes the recording");
    for v in x {
        w.write_sample((v.clamp(-1.0, 1.0) * 32_767.0) as i16)
            .expect("a sample");
    }
    w.finalize().expect("writes the recording");
}

/// The events of `ainima run --deterministic --quiet` on `input` (with
/// `extra` arguments), written to `events` and read back.
pub fn run_events(
    bin: &str,
    home: &Path,
    input: &Path,
    events: &Path,
    extra: &[&str],
) -> Vec<Value> {
    let mut args = vec![
        "run",
        "--input",
        input.to_str().expect("path"),
        "--events",
        events.to_str().expect("path"),
        "--deterministic",
        "--quiet",
    ];
    args.extend(extra);
    ainima_testkit::ainima_ok(bin, home, &args);
    std::fs::read_to_string(events)
        .expect("events")
        .lines()
        .map(|l| serde_json::from_str(l).expect("an event"))
        .collect()
}

/// The tools `events` called, in order.
pub fn tools(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["type"] == "tool_call")
        .map(|e| e["tool"].as_str().unwrap_or("").to_string())
        .collect()
}

/// A dialogue with the wake word, after `lead` seconds of silence: a
/// request said to someone else; the phrase and a request in one breath;
/// the phrase alone, a pause, and the request; and a question the
/// assistant asks answered without the phrase, past the 5 s the phrase
/// opened (within the 8 s after the question). Heard with the wake word:
/// `clock.time`, `device.on`, `timer.start`, three wakes.
pub fn wake_dialogue(bin: &str, home: &Path, lead: f32) -> Vec<f32> {
    let mut x = silence(lead);
    for (words, pause) in [
        ("Turn on the kitchen light.", 2.0),
        ("Hey ainima, what time is it?", 5.0),
        ("Hey ainima.", 1.2),
        ("Turn on the kitchen light.", 3.0),
        ("Hey ainima, set a timer.", 6.0),
        ("Five minutes.", 2.0),
    ] {
        x.extend(say(bin, home, words));
        x.extend(silence(pause));
    }
    x
}
