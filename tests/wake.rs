//! `ainima wake` and the wake word in sessions, driven as a user would:
//! the built-in "hey ainima" found where it is said and nowhere in real
//! speech; a model trained for another phrase finds its own; a damaged
//! model file is a clear error; and `ainima run --activation wake` acts on
//! what follows the phrase and lets everything else go.

mod common;

use std::path::Path;

use common::{silence, tools, write_wav};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ainima");

fn run(home: &Path, args: &[&str]) -> std::process::Output {
    ainima_testkit::ainima_ok(BIN, home, args)
}

fn say(home: &Path, words: &str) -> Vec<f32> {
    common::say(BIN, home, words)
}

/// Where `detect --json` found the phrase, seconds.
fn detections(home: &Path, wav: &Path, model: Option<&Path>) -> Vec<f64> {
    let mut args = vec!["wake", "detect", wav.to_str().expect("path"), "--json"];
    if let Some(m) = model {
        args.extend(["--model", m.to_str().expect("path")]);
    }
    let o = run(home, &args);
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    v["detections"]
        .as_array()
        .expect("detections")
        .iter()
        .map(|d| d["t"].as_f64().expect("t"))
        .collect()
}

/// Issue 15's goal: under 0.5 false accepts an hour. All 42 recordings,
/// about 4.5 minutes of people talking, should give none. The built-in
/// model hears the phrase once in them (BENCHMARKS.md, "Wake word"): the
/// goal is not met, and this check is kept, unchanged, to be run with
/// `--ignored` until it is (as early barge-in's sweep is kept outside the
/// default suite), so that what CI passes stays what is met.
#[test]
#[ignore = "issue 15's false-accept goal is not met: one detection in the real recordings"]
fn the_built_in_wake_word_is_not_heard_in_real_speech() {
    let Some(data) = ainima_testkit::data_dir() else {
        return;
    };
    let home = ainima_testkit::temp_dir("wake-real");
    let mut real = Vec::new();
    for r in &ainima_testkit::recordings(&data) {
        real.extend(ainima_audio::decode::load_16k_mono(&r.path).expect("a recording"));
        real.extend(silence(0.5));
    }
    let all = home.join("real.wav");
    write_wav(&all, &real);
    assert_eq!(detections(&home, &all, None), Vec::<f64>::new());
}

#[test]
fn the_built_in_wake_word_is_heard_where_it_is_said() {
    let Some(data) = ainima_testkit::data_dir() else {
        return;
    };
    let home = ainima_testkit::temp_dir("wake-detect");
    let recordings = ainima_testkit::recordings(&data);
    // The phrase between two recordings: found once, within a second of
    // its end.
    let phrase = say(&home, "Hey ainima.");
    let first = ainima_audio::decode::load_16k_mono(&recordings[0].path).expect("a recording");
    let mut stream = first.clone();
    stream.extend(silence(0.5));
    let start = stream.len() as f64 / 16_000.0;
    stream.extend(&phrase);
    let end = stream.len() as f64 / 16_000.0;
    stream.extend(silence(1.0));
    stream.extend(first);
    let wav = home.join("stream.wav");
    write_wav(&wav, &stream);
    let got = detections(&home, &wav, None);
    assert!(
        got.len() == 1 && got[0] > start && got[0] <= end + 1.0,
        "said from {start:.2} to {end:.2} s; detected at {got:?}"
    );
}

#[test]
fn a_wake_word_trained_for_another_phrase_finds_its_own() {
    let home = ainima_testkit::temp_dir("wake-train");
    let model = home.join("computer.wake");
    let o = run(
        &home,
        &[
            "wake",
            "train",
            "okay computer",
            "--out",
            model.to_str().expect("path"),
            "--positives",
            "200",
            "--negatives",
            "300",
            "--windows",
            "2000",
            "--epochs",
            "4",
            "--quiet",
        ],
    );
    let line = String::from_utf8_lossy(&o.stdout);
    assert!(
        line.contains("\"okay computer\"") && line.contains("parameters"),
        "{line}"
    );
    let mut stream = silence(1.0);
    let start = stream.len() as f64 / 16_000.0;
    stream.extend(say(&home, "Okay computer."));
    let end = stream.len() as f64 / 16_000.0;
    stream.extend(silence(1.5));
    let wav = home.join("computer.wav");
    write_wav(&wav, &stream);
    let got = detections(&home, &wav, Some(&model));
    assert!(
        got.len() == 1 && got[0] > start && got[0] <= end + 1.0,
        "said from {start:.2} to {end:.2} s; detected at {got:?}"
    );
    // Its own phrase in the file's header.
    let o = run(
        &home,
        &[
            "wake",
            "detect",
            wav.to_str().expect("path"),
            "--model",
            model.to_str().expect("path"),
        ],
    );
    assert!(String::from_utf8_lossy(&o.stdout).contains("\"okay computer\" at"));
}

/// A model trained in a few seconds, its bytes.
fn tiny(home: &Path, out: &Path) -> Vec<u8> {
    run(
        home,
        &[
            "wake",
            "train",
            "hey there",
            "--out",
            out.to_str().expect("path"),
            "--positives",
            "4",
            "--negatives",
            "4",
            "--windows",
            "16",
            "--epochs",
            "1",
            "--quiet",
        ],
    );
    std::fs::read(out).expect("model")
}

#[test]
fn the_same_seed_gives_the_same_wake_model() {
    let home = ainima_testkit::temp_dir("wake-seed");
    // A new process synthesises the same clips and trains the same way.
    let a = tiny(&home, &home.join("a.wake"));
    assert!(
        tiny(&home, &home.join("b.wake")) == a,
        "the same seed gave another model"
    );
}

#[test]
fn a_damaged_wake_model_is_a_clear_error() {
    let home = ainima_testkit::temp_dir("wake-bad");
    let wav = home.join("quiet.wav");
    write_wav(&wav, &silence(2.0));
    let check = |bytes: &[u8], expect: &str| {
        let bad = home.join("bad.wake");
        std::fs::write(&bad, bytes).expect("write");
        let o = ainima_testkit::ainima(
            BIN,
            &home,
            &[
                "wake",
                "detect",
                wav.to_str().expect("path"),
                "--model",
                bad.to_str().expect("path"),
            ],
        );
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{bytes:?} loaded");
        assert!(err.contains(expect) && !err.contains("panicked"), "{err}");
    };
    check(b"", "wrong magic bytes");
    check(b"AINIMA-NLU\0\0 not this", "wrong magic bytes");
    check(
        b"AINIMA-WAKE\0\x01\0\0\0\xff\xff\xff\xff\0\0\0\0",
        "header length",
    );
    check(b"AINIMA-WAKE\0\x09\0\0\0", "version 9");
    let mut header = b"AINIMA-WAKE\0\x01\0\0\0".to_vec();
    let json = br#"{"phrase":"hi","features":{"window":2},"shape":{},"threshold":0.5}"#;
    header.extend_from_slice(&(json.len() as u64).to_le_bytes());
    header.extend_from_slice(json);
    check(&header, "sizes out of range");
    // A few bytes asking for a network of gigabytes.
    let mut huge = b"AINIMA-WAKE\0\x01\0\0\0".to_vec();
    let json = br#"{"phrase":"hi","features":{},"shape":{"layers":[{"channels":1024,"kernel":31,"stride":1},{"channels":1024,"kernel":31,"stride":1}]},"threshold":0.5}"#;
    huge.extend_from_slice(&(json.len() as u64).to_le_bytes());
    huge.extend_from_slice(json);
    check(&huge, "more than the");
    // A good model cut short: the weights are damaged.
    let bytes = tiny(&home, &home.join("good.wake"));
    check(&bytes[..bytes.len() - 100], "weights");
}

/// The events of `ainima run --deterministic` on `input`.
fn run_events(home: &Path, input: &Path, extra: &[&str]) -> Vec<Value> {
    common::run_events(BIN, home, input, &home.join("events.jsonl"), extra)
}

#[test]
fn a_session_with_the_wake_word_acts_only_on_what_follows_it() {
    let Some(home) = ainima_testkit::model_home(BIN, "wake") else {
        return;
    };
    let x = common::wake_dialogue(BIN, &home, 0.0);
    let wav = home.join("wake.wav");
    write_wav(&wav, &x);
    let ev = run_events(&home, &wav, &["--activation", "wake"]);
    let kinds: Vec<&str> = ev.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        tools(&ev),
        ["clock.time", "device.on", "timer.start"],
        "events: {kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "wake").count(),
        3,
        "{kinds:?}"
    );
    let first_wake = kinds.iter().position(|k| *k == "wake").expect("a wake");
    assert!(
        kinds[..first_wake].contains(&"ignored") && !kinds[..first_wake].contains(&"transcript"),
        "the first request was not let go unheard: {kinds:?}"
    );
    // The request was heard without the phrase in it.
    let heard: Vec<&str> = ev
        .iter()
        .filter(|e| e["type"] == "transcript")
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert!(
        heard.iter().all(|t| !t.to_lowercase().contains("hey")),
        "{heard:?}"
    );
    // Hearing everything, the request said to someone else is acted on.
    let ev = run_events(&home, &wav, &[]);
    assert_eq!(
        tools(&ev).first().map(String::as_str),
        Some("device.on"),
        "{:?}",
        tools(&ev)
    );
}

#[test]
fn wake_eval_scores_a_model_on_voices_and_noise_it_never_heard() {
    let home = ainima_testkit::temp_dir("wake-eval");
    // No test data: held-out voices and generated noise alone.
    let empty = home.join("no-data");
    std::fs::create_dir_all(&empty).expect("dir");
    let o = run(
        &home,
        &[
            "wake",
            "eval",
            "--phrases",
            "8",
            "--data",
            empty.to_str().expect("path"),
            "--json",
        ],
    );
    let r: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(r["phrase"], "hey ainima");
    assert_eq!(r["held_out_phrases"], 8);
    let sources = r["sources"].as_array().expect("sources");
    assert_eq!(sources.len(), 1, "{sources:?}");
    // Sixteen minutes of noise: the built-in model takes none of it.
    assert!(sources[0]["hours"].as_f64().expect("hours") > 0.26);
    assert_eq!(sources[0]["false_accepts"], 0, "{r}");
    assert_eq!(r["thresholds"].as_array().expect("a sweep").len(), 7);
    let by_voice: u64 = r["by_voice"]
        .as_array()
        .expect("by voice")
        .iter()
        .map(|v| v["said"].as_u64().expect("said"))
        .sum();
    assert_eq!(by_voice, 8);
    assert!(r["model_bytes"].as_u64().expect("size") < 500 * 1024);
}
