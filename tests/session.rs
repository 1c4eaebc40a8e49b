//! Whole sessions through `ainima run`: real recordings and synthesised
//! speech said into the simulated room, the real Whisper model, the
//! language core, the agent and espeak-ng; the events say what happened.
//! Needs the Whisper wheel and the shared recordings (see README).

use std::path::{Path, PathBuf};
use std::process::Output;

use ainima_testkit::data_dir;
use serde_json::Value;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ainima(home: &Path, args: &[&str]) -> Output {
    ainima_testkit::ainima(env!("CARGO_BIN_EXE_ainima"), home, args)
}

/// One home with the model imported, shared by this file's tests.
fn home() -> Option<PathBuf> {
    ainima_testkit::model_home(env!("CARGO_BIN_EXE_ainima"), "session")
}

/// 16 kHz mono audio of a recording below `speech/`.
fn recording(data: &Path, rel: &str) -> Vec<f32> {
    ainima_audio::decode::load_16k_mono(&data.join("speech").join(rel)).expect("a recording")
}

/// `text` said by espeak-ng (through `ainima say`).
fn said(home: &Path, words: &str, rate: u32) -> Vec<f32> {
    let wav = home.join(format!(
        "say-{}.wav",
        words.replace(|c: char| !c.is_alphanumeric(), "_")
    ));
    let o = ainima(
        home,
        &[
            "say",
            words,
            "--output",
            wav.to_str().expect("path"),
            "--rate",
            &rate.to_string(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    ainima_audio::decode::load_16k_mono(&wav).expect("speech")
}

fn silence(secs: f64) -> Vec<f32> {
    vec![0.0; (secs * 16_000.0) as usize]
}

/// Runs a session over `parts` one after another; its events.
fn run(home: &Path, name: &str, parts: &[Vec<f32>]) -> Vec<Value> {
    run_with(home, name, parts, None)
}

/// [`run`] with a configuration file (`--config`).
fn run_with(home: &Path, name: &str, parts: &[Vec<f32>], config: Option<&Path>) -> Vec<Value> {
    let input = home.join(format!("{name}.wav"));
    let all: Vec<f32> = parts.concat();
    ainima_audio::device::file::write_wav(&input, &all).expect("input");
    let events = home.join(format!("{name}.jsonl"));
    let mut args: Vec<&str> = Vec::new();
    if let Some(c) = config {
        args.extend(["--config", c.to_str().expect("path")]);
    }
    args.extend([
        "run",
        "--input",
        input.to_str().expect("path"),
        "--events",
        events.to_str().expect("path"),
        "--deterministic",
        "--quiet",
    ]);
    let o = ainima(home, &args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    std::fs::read_to_string(&events)
        .expect("events")
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON event a line"))
        .collect()
}

fn of_type<'a>(events: &'a [Value], t: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["type"] == t).collect()
}

fn story(events: &[Value]) -> String {
    events
        .iter()
        .map(|e| e.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn commands_in_real_recordings_make_the_right_tool_calls() {
    let (Some(home), Some(data)) = (home(), data_dir()) else {
        return;
    };
    let home = &home;
    let events = run(
        home,
        "commands",
        &[
            recording(&data, "voice2json/launch_firefox.wav"),
            silence(3.0),
            recording(&data, "rhasspy/what_time_is_it.wav"),
            silence(3.0),
            recording(&data, "picovoice/picovoice-coffee.wav"),
            silence(4.0),
            recording(&data, "tflite_micro/yes_1000ms.wav"),
            silence(3.0),
            recording(
                &data,
                "wyoming_faster_whisper/turn_on_the_living_room_lamp.wav",
            ),
        ],
    );
    let calls: Vec<(String, Value, String)> = of_type(&events, "tool_call")
        .into_iter()
        .map(|c| {
            (
                c["tool"].as_str().unwrap_or_default().to_string(),
                c["args"].clone(),
                c["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let expect = [
        ("app.open", serde_json::json!({"app": "firefox"})),
        ("clock.time", serde_json::json!({})),
        (
            "coffee.order",
            serde_json::json!({"drink": "americano", "size": "large", "shots": 1.0}),
        ),
        (
            "device.on",
            serde_json::json!({"device": "living room lamp"}),
        ),
    ];
    assert_eq!(calls.len(), expect.len(), "{}", story(&events));
    for ((tool, args, status), (want_tool, want_args)) in calls.iter().zip(expect) {
        assert_eq!(
            (tool.as_str(), args),
            (want_tool, &want_args),
            "{}",
            story(&events)
        );
        assert_eq!(status, "done", "{tool}: {}", story(&events));
    }
    // The coffee was asked about before it was made.
    let asked = of_type(&events, "approval_request");
    assert_eq!(asked.len(), 1, "{}", story(&events));
    assert_eq!(asked[0]["tool"], "coffee.order");
    // Every turn was answered, and every answer spoken.
    assert_eq!(of_type(&events, "reply").len(), 5, "{}", story(&events));
    assert_eq!(of_type(&events, "tts_start").len(), 5);
    assert!(
        of_type(&events, "barge_in").is_empty(),
        "{}",
        story(&events)
    );
}

/// The assistant's long answer to "What can you do?", and `then` said
/// 2.4 s after the question ends (about a second into the answer).
fn over_the_answer(home: &Path, name: &str, then: Vec<f32>) -> Vec<Value> {
    run(
        home,
        name,
        &[
            said(home, "What can you do?", 150),
            silence(2.4),
            then,
            silence(1.0),
        ],
    )
}

#[test]
fn a_request_over_the_assistant_stops_it_and_is_answered() {
    let (Some(home), Some(data)) = (home(), data_dir()) else {
        return;
    };
    let home = &home;
    let events = over_the_answer(
        home,
        "barge-in",
        recording(&data, "rhasspy/turn_on_living_room_lamp.wav"),
    );
    let barge = of_type(&events, "barge_in");
    assert_eq!(barge.len(), 1, "{}", story(&events));
    let stops: Vec<&str> = of_type(&events, "tts_stop")
        .iter()
        .filter_map(|e| e["reason"].as_str())
        .collect();
    assert_eq!(stops, ["barge_in", "done"], "{}", story(&events));
    let calls = of_type(&events, "tool_call");
    assert_eq!(calls.len(), 1, "{}", story(&events));
    assert_eq!(calls[0]["tool"], "device.on");
    // The assistant fell silent before the words were known.
    let yielded = of_type(&events, "yield")[0]["t"].as_f64().expect("t");
    let heard = of_type(&events, "transcript")[1]["t"].as_f64().expect("t");
    assert!(yielded < heard, "{}", story(&events));
}

#[test]
fn a_backchannel_over_the_assistant_does_not_stop_it() {
    let Some(home) = home() else {
        return;
    };
    let home = &home;
    for (name, words) in [("okay", "Okay."), ("uh-huh", "Uh-huh.")] {
        let events = over_the_answer(home, name, said(home, words, 140));
        assert!(
            of_type(&events, "barge_in").is_empty(),
            "{name}: {}",
            story(&events)
        );
        assert_eq!(
            of_type(&events, "resume").len(),
            1,
            "{name}: {}",
            story(&events)
        );
        let stops: Vec<&str> = of_type(&events, "tts_stop")
            .iter()
            .filter_map(|e| e["reason"].as_str())
            .collect();
        assert_eq!(stops, ["done"], "{name}: {}", story(&events));
        assert_eq!(
            of_type(&events, "reply").len(),
            1,
            "{name}: {}",
            story(&events)
        );
    }
}

#[test]
fn a_stop_word_stops_the_assistant_and_nothing_else_happens() {
    let Some(home) = home() else {
        return;
    };
    let home = &home;
    let events = over_the_answer(home, "stop", said(home, "Stop.", 140));
    let stops: Vec<&str> = of_type(&events, "tts_stop")
        .iter()
        .filter_map(|e| e["reason"].as_str())
        .collect();
    assert_eq!(stops, ["stop_word"], "{}", story(&events));
    assert_eq!(of_type(&events, "reply").len(), 1, "{}", story(&events));
    assert!(of_type(&events, "tool_call").is_empty());
}

#[test]
fn a_request_said_again_while_answered_is_merged() {
    let Some(home) = home() else {
        return;
    };
    let home = &home;
    let question = said(home, "What can you do?", 150);
    let events = run(
        home,
        "repeat",
        &[question.clone(), silence(2.4), question, silence(1.0)],
    );
    assert_eq!(of_type(&events, "debounced").len(), 1, "{}", story(&events));
    assert_eq!(of_type(&events, "reply").len(), 1, "{}", story(&events));
    assert_eq!(of_type(&events, "intent").len(), 1, "{}", story(&events));
}

#[test]
fn a_request_corrected_midway_runs_once_corrected() {
    let Some(home) = home() else {
        return;
    };
    let home = &home;
    let events = run(
        home,
        "repair",
        &[
            said(home, "Set a timer for five, no, ten minutes.", 170),
            silence(1.0),
        ],
    );
    let calls = of_type(&events, "tool_call");
    assert_eq!(calls.len(), 1, "{}", story(&events));
    assert_eq!(calls[0]["tool"], "timer.start");
    assert_eq!(
        calls[0]["args"]["duration"]["seconds"],
        600.0,
        "{}",
        story(&events)
    );
}

#[test]
fn deterministic_runs_give_the_same_events_and_the_assistant_s_audio() {
    let (Some(home), Some(data)) = (home(), data_dir()) else {
        return;
    };
    let home = &home;
    let lamp = recording(&data, "rhasspy/turn_on_living_room_lamp.wav");
    let a = run(home, "replay-a", &[lamp.clone(), silence(1.0)]);
    let b = run(home, "replay-b", &[lamp, silence(1.0)]);
    assert_eq!(a, b);
    // Every event has its time and type; speech_end is the end of speech,
    // the decision comes after it.
    for e in &a {
        assert!(
            e["t"].as_f64().is_some() && e["type"].as_str().is_some(),
            "{e}"
        );
    }
    let end = &of_type(&a, "speech_end")[0];
    assert!(end["decided_at"].as_f64() > end["t"].as_f64());
    // What the assistant said, placed in time.
    let out = home.join("replay-out.wav");
    let input = home.join("replay-a.wav");
    let o = ainima(
        home,
        &[
            "run",
            "--input",
            input.to_str().expect("path"),
            "--output",
            out.to_str().expect("path"),
            "--deterministic",
            "--quiet",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let said = ainima_audio::decode::load_16k_mono(&out).expect("the output");
    let start = of_type(&a, "tts_start")[0]["t"].as_f64().expect("t");
    let at = (start * 16_000.0) as usize;
    let rms = |x: &[f32]| (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt();
    assert!(rms(&said[..at]) < 1e-4, "silent before the reply");
    assert!(rms(&said[at..at + 16_000]) > 0.01, "the reply after");
}

#[test]
fn a_bad_input_file_is_a_clear_error() {
    let Some(home) = home() else {
        return;
    };
    let home = &home;
    let bad = home.join("bad.wav");
    std::fs::write(&bad, b"RIFF\x10\x00\x00\x00WAVEfmt junk").expect("file");
    let o = ainima(
        home,
        &["run", "--input", bad.to_str().expect("path"), "--quiet"],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("bad.wav"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// Regression (review of 79c2283): every transcript counted as the user's
/// voice, so the assistant's own "Shall I go ahead?" leaking past the
/// canceller was read as "go ahead": a yes, and the message was sent with
/// nobody's say-so. Here the speaker is 1 s late (beyond the filter's reach
/// and the delays the canceller looks for), so its words leak back, garbled
/// or not, while it talks and after; nothing they say approves anything.
#[test]
fn the_assistant_s_own_voice_never_approves() {
    let Some(home) = home() else { return };
    let request = said(&home, "Send a message to Mom saying hello.", 175);
    let config = home.join("slow-speaker.toml");
    std::fs::write(&config, "[room]\ndelay_ms = 1000\necho_gain = 1.0\n").expect("config");
    let events = run_with(&home, "own-voice", &[request, silence(8.0)], Some(&config));
    let story = story(&events);
    assert_eq!(of_type(&events, "approval_request").len(), 1, "{story}");
    assert!(
        of_type(&events, "yield").len() + of_type(&events, "own_voice").len() > 0,
        "its voice did leak back: {story}"
    );
    assert!(
        of_type(&events, "tool_call")
            .iter()
            .all(|c| c["tool"] != "message.send"),
        "{story}"
    );
}

/// The reply to "what time is it" in a run of the real recording with
/// `extra` arguments and `TZ`.
fn time_told(home: &Path, data: &Path, extra: &[&str], tz: &str) -> String {
    let input = data.join("speech/rhasspy/what_time_is_it.wav");
    let events = home.join(format!("time-{}.jsonl", tz.replace('/', "-")));
    let mut args = vec![
        "run",
        "--input",
        input.to_str().expect("path"),
        "--events",
        events.to_str().expect("path"),
        "--quiet",
    ];
    args.extend_from_slice(extra);
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_ainima"))
        .args(&args)
        .env("AINIMA_HOME", home)
        .env("TZ", tz)
        .output()
        .expect("runs");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let events: Vec<Value> = std::fs::read_to_string(&events)
        .expect("events")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    of_type(&events, "reply")
        .first()
        .and_then(|r| r["text"].as_str())
        .unwrap_or_else(|| panic!("no reply: {}", story(&events)))
        .to_string()
}

/// Regression (run_tells_midnight_utc): `ainima run` and the demo started
/// their sessions at a fixed time and told it in UTC ("It's 12:00 am.");
/// now the wall clock in the local zone, a pinned start with
/// `--deterministic`, or `--start`.
#[test]
fn a_run_tells_the_local_time_or_the_start_it_is_given() {
    let (Some(home), Some(data)) = (home(), data_dir()) else {
        return;
    };
    let check = |extra: &[&str], tz: &str, expect: &str| {
        let said = time_told(&home, &data, extra, tz);
        assert!(said.contains(expect), "{extra:?} TZ={tz}: {said}");
    };
    check(
        &["--start", "2026-03-29T07:30[Europe/Berlin]"],
        "UTC",
        "7:30 am",
    );
    check(&["--start", "1774762200"], "UTC", "5:30 am");
    check(&["--deterministic"], "Asia/Tokyo", "12:00 am");
    // The wall clock, in TZ: the hour is the one the system tells there.
    let hour = |tz: &str| {
        let o = std::process::Command::new("date")
            .args(["+%-I"])
            .env("TZ", tz)
            .output()
            .expect("date");
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };
    for tz in ["Asia/Tokyo", "America/Los_Angeles"] {
        let before = hour(tz);
        let said = time_told(&home, &data, &[], tz);
        let after = hour(tz);
        assert!(
            said.contains(&format!(" {before}:")) || said.contains(&format!(" {after}:")),
            "TZ={tz}: {said} (the hour there: {before})"
        );
    }
}

/// Regression (audit_log_never_written): every command ran its agent with
/// no audit log, so `ainima audit show|verify` read a file nothing wrote;
/// now sessions record every step in the data folder's log.
#[test]
fn a_run_records_what_it_did_in_the_audit_log() {
    let (Some(home), Some(data)) = (home(), data_dir()) else {
        return;
    };
    let lamp = recording(&data, "rhasspy/turn_on_living_room_lamp.wav");
    let events = run(&home, "audited", &[lamp, silence(1.0)]);
    assert_eq!(of_type(&events, "tool_call").len(), 1, "{}", story(&events));
    let o = ainima(&home, &["audit", "show", "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let records: Vec<Value> = text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert!(
        records.iter().any(|r| r["kind"] == "call"
            && r["data"]["tool"] == "device.on"
            && r["data"]["args"]["device"] == "living room lamp"),
        "{}",
        text(&o.stdout)
    );
    // Dated on the session's clock: the pinned start of a replay.
    assert!(
        records
            .iter()
            .all(|r| r["time_ms"].as_u64() >= Some(1_767_225_600_000))
    );
    let o = ainima(&home, &["audit", "verify"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("intact"), "{}", text(&o.stdout));
}

/// The actions a demo's output lists.
fn demo_actions(out: &str) -> Vec<&str> {
    out.lines()
        .skip_while(|l| !l.starts_with("Actions taken:"))
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect()
}

/// Regression (demo_add_milk_misheard): the demo, the README's main job,
/// missed "Add milk to my shopping list." in every run (heard as "and milk
/// to my sharpened list.", owned up to as "Sorry, I can't do that yet.").
/// A whole sentence the core cannot read is now heard again biased towards
/// the skills' commands; every request of the demo is acted on.
///
/// Regression (demo_misheard_under_load): with measured stage costs the
/// conversation's timing, and so the audio heard, follows the machine's
/// load; a debug build among 15 tests on 2 cores once heard "and milk to
/// my sharpening list." and asked instead of acting. What the demo does is
/// checked with `--deterministic`, which prints the same conversation line
/// for line in every run.
#[test]
fn the_demo_acts_on_every_request() {
    let Some(home) = home() else {
        return;
    };
    let o = ainima(&home, &["demo", "--deterministic"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert_eq!(
        demo_actions(&out),
        [
            r#"clock.time {}: done"#,
            r#"device.on {"device":"kitchen light"}: done"#,
            r#"coffee.order {"drink":"latte","shots":1.0,"size":"large"}: done"#,
            r#"timer.start {"duration":{"seconds":600.0}}: done"#,
            r#"list.add {"item":"milk","list":"shopping"}: done"#,
            r#"list.show {"list":"shopping"}: done"#,
        ],
        "{out}"
    );
    // The pinned clock, and fixed costs said as such.
    assert!(out.contains("assistant: It's 12:00 am."), "{out}");
    assert!(out.contains("stage costs fixed (--deterministic)"), "{out}");
    // Its barge-ins are dated from the start of the user's voice too.
    assert!(
        out.contains(
            "barge-in stop, from the start of the user's voice to the assistant's silence: p50"
        ),
        "{out}"
    );
    let again = ainima(&home, &["demo", "--deterministic"]);
    assert!(again.status.success(), "{}", text(&again.stderr));
    assert_eq!(text(&again.stdout), out);
}

/// The demo as the README runs it: stage costs measured on this machine,
/// the wall clock's time, the conversation and its latency figures
/// reported. What it hears follows the machine's load (see
/// `the_demo_acts_on_every_request`), so this checks what it reports, and
/// that it acts on the first request, said before any reply has played
/// into the room.
#[test]
fn the_demo_measures_its_stages_on_this_machine() {
    let Some(home) = home() else {
        return;
    };
    let o = ainima(&home, &["demo"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(
        out.contains("stage costs measured on this machine"),
        "{out}"
    );
    assert!(out.contains("x real time)"), "{out}");
    assert!(
        out.contains("voice to voice, from the end of the user's voice: p50"),
        "{out}"
    );
    assert!(
        out.contains(
            "barge-in stop, from the start of the user's voice to the assistant's silence: p50"
        ),
        "{out}"
    );
    assert_eq!(
        demo_actions(&out).first(),
        Some(&r#"clock.time {}: done"#),
        "{out}"
    );
}

/// Issue 14: a spoken request about a home in Home Assistant's format
/// (`[home_assistant]`: HA's English sentences and responses, the test
/// fixtures' home) is heard, understood with HA's sentences, acts on the
/// home and is answered in HA's words; two requests in a row, the second
/// about the state the first left.
#[test]
fn a_spoken_request_acts_on_a_home_assistant_home() {
    let (Some(h), Some(data)) = (home(), ainima_testkit::data_dir()) else {
        return;
    };
    let ha = data.join("ha-intents");
    if !ha.join("tests/en/_fixtures.yaml").is_file() {
        ainima_testkit::skip::<()>("no ha-intents in the shared data");
        return;
    }
    let config = h.join("home-assistant.toml");
    std::fs::write(
        &config,
        format!(
            "[home_assistant]\nsentences = {:?}\nhome = {:?}\n",
            ha.join("sentences/en").display().to_string(),
            ha.join("tests/en/_fixtures.yaml").display().to_string()
        ),
    )
    .expect("config");
    let parts = [
        said(&h, "Turn on the bedroom lamp.", 175),
        silence(3.0),
        said(&h, "Is the bedroom lamp on?", 175),
        silence(3.0),
    ];
    let events = run_with(&h, "home-assistant", &parts, Some(&config));
    let calls = of_type(&events, "tool_call");
    assert_eq!(calls.len(), 2, "{}", story(&events));
    assert_eq!(calls[0]["tool"], "home.HassTurnOn", "{}", story(&events));
    assert_eq!(
        calls[0]["args"]["name"],
        "Bedroom Lamp",
        "{}",
        story(&events)
    );
    assert_eq!(calls[1]["tool"], "home.HassGetState", "{}", story(&events));
    let replies: Vec<&str> = of_type(&events, "reply")
        .iter()
        .filter_map(|e| e["text"].as_str())
        .collect();
    assert_eq!(
        replies,
        ["Turned on the light", "Yes"],
        "{}",
        story(&events)
    );
}

/// Issue 14, item 3: a near reading the recogniser finds likely, but not
/// likely enough to act on unasked ("Stop my Tyler!" read as "Stop my
/// Timer!"), is asked about, and acted on only on the user's bare yes; a
/// no leaves everything as it was, and a request of its own is taken as
/// that (review: any sentence with a yes-word in it was read as a yes).
#[test]
fn a_likely_reading_is_asked_about_and_acted_on_only_on_yes() {
    let Some(h) = home() else {
        return;
    };
    // The answer; whether the reading is acted on; whether the answer is a
    // request of its own (a new timer), which drops the offer.
    for (answer, acted, own) in [
        ("Yes.", true, false),
        ("No.", false, false),
        ("Set a timer for two minutes.", false, true),
    ] {
        let parts = [
            said(&h, "Set a timer for ten minutes.", 150),
            silence(4.0),
            said(&h, "Stop my tiler.", 150),
            silence(5.0),
            said(&h, answer, 150),
            silence(4.0),
        ];
        let events = run(&h, &format!("did-you-mean-{acted}-{own}"), &parts);
        let plain = |v: &Value| {
            v.as_str()
                .unwrap_or_default()
                .to_lowercase()
                .replace(|c: char| !c.is_alphanumeric() && c != ' ', "")
        };
        let heard = of_type(&events, "transcript");
        let asked = heard
            .iter()
            .position(|e| plain(&e["maybe"]) == "stop my timer")
            .unwrap_or_else(|| panic!("no reading asked about\n{}", story(&events)));
        let replies: Vec<String> = of_type(&events, "reply")
            .iter()
            .map(|e| e["text"].as_str().unwrap_or_default().to_string())
            .collect();
        assert!(
            replies
                .iter()
                .any(|r| r == "Did you mean \"Stop my Timer\"?"),
            "{}",
            story(&events)
        );
        // Nothing stopped before the answer; then only on a yes.
        let answered_at = heard
            .get(asked + 1)
            .and_then(|e| e["t"].as_f64())
            .unwrap_or_else(|| panic!("no answer heard\n{}", story(&events)));
        let cancels: Vec<f64> = of_type(&events, "tool_call")
            .iter()
            .filter(|e| e["tool"] == "timer.cancel")
            .filter_map(|e| e["t"].as_f64())
            .collect();
        assert!(
            cancels.iter().all(|&t| t >= answered_at),
            "{}",
            story(&events)
        );
        assert_eq!(cancels.len(), usize::from(acted), "{}", story(&events));
        let started = of_type(&events, "tool_call")
            .iter()
            .filter(|e| e["tool"] == "timer.start")
            .count();
        assert_eq!(started, 1 + usize::from(own), "{}", story(&events));
        if !acted && !own {
            assert_eq!(
                replies.last().map(String::as_str),
                Some("Okay."),
                "{}",
                story(&events)
            );
        }
    }
}

/// What `ainima chat` makes of `line` with `config`: (intent, slots).
fn typed(home: &Path, config: &Path, line: &str) -> (Value, Value) {
    let o = ainima_testkit::ainima_stdin(
        env!("CARGO_BIN_EXE_ainima"),
        &home.join(format!(
            "typed-{}",
            line.replace(|c: char| !c.is_alphanumeric(), "_")
        )),
        &[
            "--config",
            config.to_str().expect("path"),
            "chat",
            "--json",
            "--now",
            "1767225600",
        ],
        &format!("{line}\n"),
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: Value =
        serde_json::from_str(text(&o.stdout).lines().next().unwrap_or("{}")).expect("a JSON turn");
    (v["intent"].clone(), v["slots"].clone())
}

/// Issue 14: every command of speech-to-phrase's English test recordings
/// (a neural voice; the file name is what was said), said to the home they
/// assume (`tests/fixtures/speech-to-phrase-home.yaml`, with HA's English
/// sentences), is acted on as its words are when typed: the same intent and
/// slots. Recognition errors a near reading fixes ("Spiding Door") count as
/// right only when the recogniser itself finds the reading likely.
#[test]
fn speech_to_phrase_commands_are_acted_on_as_said() {
    let (Some(h), Some(data)) = (home(), data_dir()) else {
        return;
    };
    let dir = data.join("speech-to-phrase/en");
    let ha = data.join("ha-intents/sentences/en");
    if !dir.is_dir() || !ha.is_dir() {
        ainima_testkit::skip::<()>("no speech-to-phrase or ha-intents in the shared data");
        return;
    }
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/speech-to-phrase-home.yaml");
    let config = h.join("speech-to-phrase.toml");
    std::fs::write(
        &config,
        format!(
            "[home_assistant]\nsentences = {:?}\nhome = {:?}\narea = \"Kitchen\"\n",
            ha.display().to_string(),
            fixture.display().to_string()
        ),
    )
    .expect("config");
    let mut wavs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("speech-to-phrase")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wav"))
        .collect();
    wavs.sort();
    assert_eq!(wavs.len(), 73, "speech-to-phrase/en has 73 recordings");
    let check = |wav: &PathBuf| -> Option<String> {
        let said = wav.file_stem()?.to_str()?.to_string();
        let want = typed(&h, &config, &said);
        if want.0.is_null() {
            return Some(format!("{said:?}: not understood even as typed"));
        }
        let events = h.join(format!("stp-{}.jsonl", said.replace(' ', "_")));
        let o = ainima(
            &h,
            &[
                "--config",
                config.to_str()?,
                "run",
                "--input",
                wav.to_str()?,
                "--events",
                events.to_str()?,
                "--deterministic",
                "--quiet",
            ],
        );
        if !o.status.success() {
            return Some(format!("{said:?}: {}", text(&o.stderr)));
        }
        let events: Vec<Value> = std::fs::read_to_string(&events)
            .ok()?
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        let heard = of_type(&events, "transcript")
            .first()
            .map(|t| t["text"].clone())
            .unwrap_or_default();
        let got = of_type(&events, "intent")
            .first()
            .map(|e| (e["intent"].clone(), e["slots"].clone()));
        (got.as_ref() != Some(&want))
            .then(|| format!("{said:?}: heard {heard}, understood {got:?}, typed gives {want:?}"))
    };
    // Two at a time.
    let (a, b): (Vec<&PathBuf>, Vec<&PathBuf>) = wavs
        .iter()
        .partition(|w| wavs.iter().position(|x| x == *w).unwrap_or(0) % 2 == 0);
    let misses: Vec<String> = std::thread::scope(|s| {
        let t = s.spawn(|| b.iter().filter_map(|w| check(w)).collect::<Vec<_>>());
        let mut m: Vec<String> = a.iter().filter_map(|w| check(w)).collect();
        m.extend(t.join().expect("the other half"));
        m
    });
    assert!(
        misses.is_empty(),
        "{} of 73 acted on as said; missed:\n{}",
        73 - misses.len(),
        misses.join("\n")
    );
}
