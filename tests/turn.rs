//! `ainima turn` and the end-of-turn model in sessions, driven as a user
//! would: training is reproducible from its seed and a session takes the
//! model it makes; the session asks the model in its pauses (models that
//! always end and always hold turn the rules' decisions over); a damaged
//! model file is a clear error, from the command line and from `[turn]
//! model`; `turn eval` scores a model beside the rules, by its
//! thresholds.

use std::path::Path;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ainima");

fn run(home: &Path, args: &[&str]) -> std::process::Output {
    ainima_testkit::ainima_ok(BIN, home, args)
}

fn fails(home: &Path, args: &[&str]) -> String {
    let o = ainima_testkit::ainima(BIN, home, args);
    assert!(!o.status.success(), "ainima {args:?} should fail");
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().expect("path")
}

#[test]
fn a_model_trained_twice_from_one_seed_is_the_same_and_a_session_takes_it() {
    let Some(home) = ainima_testkit::model_home(BIN, "turn") else {
        return;
    };
    let (a, b) = (home.join("a.json"), home.join("b.json"));
    for m in [&a, &b] {
        run(
            &home,
            &[
                "turn",
                "train",
                "--out",
                path(m),
                "--turns",
                "40",
                "--quiet",
            ],
        );
    }
    let bytes = std::fs::read(&a).expect("model");
    assert_eq!(bytes, std::fs::read(&b).expect("model"));
    // A session with it: the request is heard, its turn ends and it is
    // acted on.
    let events = session(&home, "What time is it?", path(&a));
    assert!(
        events.iter().any(|e| e["type"] == "speech_end")
            && events
                .iter()
                .any(|e| e["type"] == "tool_call" && e["tool"] == "clock.time"),
        "{events:#?}"
    );
}

/// A model that answers `p` whatever it hears, with thresholds `hold`
/// and `end`.
fn forcing_model(path: &Path, bias: f32, hold: f32, end: f32) {
    let names = ainima_neurosymbolic::turn_end::FEATURES;
    let (zeros, ones) = ([0.0f32; 12], [1.0f32; 12]);
    let m = serde_json::json!({
        "format": "ainima-end-of-turn", "version": 1, "features": names,
        "mean": zeros, "scale": ones, "weights": zeros,
        "bias": bias, "hold_below": hold, "end_above": end,
    });
    std::fs::write(path, m.to_string()).expect("model");
}

/// The events of `ainima run` over `words` said, with the end-of-turn
/// `model`.
fn session(home: &Path, words: &str, model: &str) -> Vec<Value> {
    let wav = home.join("turn.wav");
    run(home, &["say", words, "--output", path(&wav)]);
    let ev = home.join("turn-events.jsonl");
    run(
        home,
        &[
            "run",
            "--input",
            path(&wav),
            "--deterministic",
            "--quiet",
            "--events",
            path(&ev),
            "--end-of-turn",
            model,
        ],
    );
    std::fs::read_to_string(&ev)
        .expect("events")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect()
}

/// How the session says the turn of `words` ended, with `model`.
fn ended_by(home: &Path, words: &str, model: &str) -> Vec<String> {
    session(home, words, model)
        .iter()
        .filter(|e| e["type"] == "speech_end")
        .map(|e| e["by"].as_str().expect("by").to_string())
        .collect()
}

/// The session asks the model in the pause: one sure the user has
/// finished ends what the rules would leave to the silence timeout ("Set
/// a timer for" dangles), `by` model; one sure the user goes on holds a
/// complete request the rules end at once, until the silence timeout.
#[test]
fn the_session_asks_the_model_in_the_pause() {
    let Some(home) = ainima_testkit::model_home(BIN, "turn-session") else {
        return;
    };
    let (ends, holds) = (home.join("ends.json"), home.join("holds.json"));
    forcing_model(&ends, 20.0, 0.0, 0.0);
    forcing_model(&holds, -20.0, 1.0, 1.0);
    assert_eq!(ended_by(&home, "Set a timer for", "none"), ["silence"]);
    assert_eq!(ended_by(&home, "Set a timer for", path(&ends)), ["model"]);
    assert_eq!(ended_by(&home, "What time is it?", "none"), ["meaning"]);
    assert_eq!(
        ended_by(&home, "What time is it?", path(&holds)),
        ["silence"]
    );
}

#[test]
fn a_damaged_end_of_turn_model_is_a_clear_error() {
    let Some(home) = ainima_testkit::model_home(BIN, "turn-bad") else {
        return;
    };
    let wav = home.join("said.wav");
    run(&home, &["say", "Hello.", "--output", path(&wav)]);
    let bad = home.join("bad.json");
    for (content, says) in [
        (&br#"{"format":"x"}"#[..], "not a usable end-of-turn model"),
        (&b"\x00\xff garbage"[..], "not a usable end-of-turn model"),
    ] {
        std::fs::write(&bad, content).expect("write");
        let e = fails(
            &home,
            &["run", "--input", path(&wav), "--end-of-turn", path(&bad)],
        );
        assert!(e.contains(says) && e.contains("bad.json"), "{e}");
    }
    // From the configuration, relative to its folder.
    let cfg = home.join("ainima.toml");
    std::fs::write(&cfg, "[turn]\nmodel = \"bad.json\"\n").expect("write");
    let e = fails(
        &home,
        &["--config", path(&cfg), "run", "--input", path(&wav)],
    );
    assert!(e.contains("not a usable end-of-turn model"), "{e}");
    let e = fails(
        &home,
        &[
            "run",
            "--input",
            path(&wav),
            "--end-of-turn",
            "missing.json",
        ],
    );
    assert!(e.contains("missing.json"), "{e}");
}

#[test]
fn turn_eval_scores_the_built_in_model_beside_the_rules() {
    let Some(home) = ainima_testkit::model_home(BIN, "turn-eval") else {
        return;
    };
    let o = run(&home, &["turn", "eval", "--turns", "40", "--json"]);
    let r: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(r["all"]["finished"], 20);
    assert_eq!(r["all"]["unfinished"], 20);
    let hold = r["hold_below"].as_f64().expect("hold_below");
    let end = r["end_above"].as_f64().expect("end_above");
    let turns = r["turns"].as_array().expect("turns");
    assert_eq!(turns.len(), 40);
    let mut cut_offs = (0, 0);
    for t in turns {
        let (p, rules, joined) = (
            t["p"].as_f64().expect("p"),
            t["rules"].as_bool().expect("rules"),
            t["with_model"].as_bool().expect("with_model"),
        );
        // The model holds what the rules end only under hold_below, and
        // ends what they leave only from end_above.
        let expect = if rules { p >= hold } else { p >= end };
        assert_eq!(joined, expect, "{t}");
        if t["finished"] == false {
            cut_offs.0 += usize::from(rules);
            cut_offs.1 += usize::from(joined);
        }
    }
    assert_eq!(r["all"]["rules"]["cut_offs"], cut_offs.0);
    assert_eq!(r["all"]["with_model"]["cut_offs"], cut_offs.1);
}
