//! `ainima ttdd run` as CI runs it: scenario files, reports, determinism,
//! a deliberately broken session caught with the reason, malformed files
//! named by line and column. Needs the Whisper wheel (see README).

use std::path::{Path, PathBuf};
use std::process::Output;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ainima(home: &Path, args: &[&str]) -> Output {
    ainima_testkit::ainima(env!("CARGO_BIN_EXE_ainima"), home, args)
}

/// One home with the model imported, shared by this file's tests.
fn home() -> Option<PathBuf> {
    ainima_testkit::model_home(env!("CARGO_BIN_EXE_ainima"), "ttdd")
}

fn suite(home: &Path, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = home.join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("suite folder");
    for (f, body) in files {
        std::fs::write(dir.join(f), body).expect("scenario");
    }
    dir
}

const CLOCK: &str = "name: clock\nturns:\n  - say: What time is it?\n    expect: { intent: clock_time, tool_calls: [{ tool: clock.time }], reply: \"12:00\" }\n";
const LIGHT: &str = "name: light\ntags: [lights]\nturns:\n  - say: Turn on the kitchen light.\n    expect: { tool_calls: [{ tool: device.on, args: { device: kitchen light } }] }\n  - say: Turn off the kitchen light.\n    expect: { tool_calls: [{ tool: device.off }] }\n";

#[test]
fn a_suite_reports_the_same_json_twice_and_junit_and_html() {
    let Some(home) = home() else {
        return;
    };
    let home = &home;
    let dir = suite(
        home,
        "small",
        &[("clock.yaml", CLOCK), ("light.yaml", LIGHT)],
    );
    let run = |tag: &str| {
        let json = home.join(format!("report-{tag}.json"));
        let junit = home.join(format!("report-{tag}.xml"));
        let html = home.join(format!("report-{tag}.html"));
        let o = ainima(
            home,
            &[
                "ttdd",
                "run",
                dir.to_str().expect("path"),
                "--deterministic",
                "--json",
                json.to_str().expect("path"),
                "--junit",
                junit.to_str().expect("path"),
                "--html",
                html.to_str().expect("path"),
            ],
        );
        assert!(
            o.status.success(),
            "{}\n{}",
            text(&o.stdout),
            text(&o.stderr)
        );
        (
            std::fs::read_to_string(json).expect("json"),
            std::fs::read_to_string(junit).expect("junit"),
            std::fs::read_to_string(html).expect("html"),
        )
    };
    let (a, junit, html) = run("a");
    let (b, _, _) = run("b");
    assert_eq!(a, b, "two deterministic runs, one JSON");
    let r: serde_json::Value = serde_json::from_str(&a).expect("JSON");
    assert_eq!(r["totals"]["scenarios"], 2);
    assert_eq!(r["totals"]["passed"], 2);
    assert!(r["totals"]["simulated_seconds"].as_f64() > Some(5.0));
    assert!(
        r["totals"]["wall_seconds"].is_null(),
        "no wall time in deterministic JSON"
    );
    assert!(
        r["metrics"]["turn_gap_ms"]["value"]["p50"]
            .as_f64()
            .is_some()
    );
    assert!(
        r["metrics"]["turn_gap_ms"]["reference"]
            .as_str()
            .is_some_and(|s| s.contains("200 ms"))
    );
    assert_eq!(r["metrics"]["task_success"]["value"], 1.0);
    assert_eq!(r["scenarios"][0]["status"], "passed");
    assert!(
        junit.contains("<testcase")
            && junit.contains("tests=\"2\"")
            && junit.contains("failures=\"0\"")
    );
    assert!(html.contains("Human-likeness") && html.contains("<svg"));
    // A baseline it beats passes; one with a better success rate fails.
    let base = home.join("baseline.json");
    let mut better = r.clone();
    better["metrics"]["task_success"]["value"] = serde_json::json!(1.5);
    std::fs::write(&base, better.to_string()).expect("baseline");
    let o = ainima(
        home,
        &[
            "ttdd",
            "run",
            dir.to_str().expect("path"),
            "--deterministic",
            "--baseline",
            base.to_str().expect("path"),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stdout).contains("suite: task success"),
        "{}",
        text(&o.stdout)
    );
    // Suite budgets: a turn gap no session can meet fails, and says so.
    let o = ainima(
        home,
        &[
            "ttdd",
            "run",
            dir.to_str().expect("path"),
            "--deterministic",
            "--min-success",
            "1",
            "--max-gap-p95",
            "1",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stdout).contains("suite: turn gap p95"),
        "{}",
        text(&o.stdout)
    );
    assert!(
        !text(&o.stdout).contains("suite: task success"),
        "{}",
        text(&o.stdout)
    );
}

#[test]
fn a_half_duplex_session_fails_the_barge_in_scenarios_and_says_why() {
    let Some(home) = home() else {
        return;
    };
    let home = &home;
    // The default suite's barge-in scenarios, with the session made deaf
    // while it talks: the deliberately broken build.
    let html = home.join("broken.html");
    let o = ainima(
        home,
        &[
            "ttdd",
            "run",
            "--tag",
            "barge-in",
            "--disable",
            "barge-in",
            "--deterministic",
            "--html",
            html.to_str().expect("path"),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stdout));
    let err = text(&o.stderr);
    assert!(
        err.contains("FAIL barge-in: a request over the help text"),
        "{err}"
    );
    assert!(err.contains("expected a barge-in"), "{err}");
    assert!(err.contains("the suite failed"), "{err}");
    let page = std::fs::read_to_string(html).expect("the report");
    assert!(
        page.contains("expected a barge-in") && page.contains("USER says"),
        "a timeline of the failure"
    );
}

#[test]
fn malformed_scenarios_and_options_are_clear_errors() {
    let Some(home) = home() else {
        return;
    };
    let home = &home;
    let dir = suite(
        home,
        "bad",
        &[(
            "bad.yaml",
            "name: bad\nturns:\n  - say: hi\n    expct: { intent: x }\n",
        )],
    );
    let o = ainima(home, &["ttdd", "run", dir.to_str().expect("path")]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("bad.yaml:4:"), "{err}");
    assert!(err.contains("expct"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let o = ainima(home, &["ttdd", "run", "--shard", "3/2"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("--shard 3/2"),
        "{}",
        text(&o.stderr)
    );
    let o = ainima(home, &["ttdd", "run", "/no/such/suite"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("/no/such/suite"),
        "{}",
        text(&o.stderr)
    );
}

/// Every file below `dir`.
fn files_below(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_below(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn a_run_leaves_no_outbox_behind() {
    // Regression: every run left one outbox database a scenario in the
    // home's cache (1,491 files after a few days of CI).
    let Some(home) = ainima_testkit::model_home(env!("CARGO_BIN_EXE_ainima"), "ttdd-scratch")
    else {
        return;
    };
    let dir = suite(
        &home,
        "one",
        &[("clock.yaml", CLOCK), ("light.yaml", LIGHT)],
    );
    let o = ainima(
        &home,
        &[
            "ttdd",
            "run",
            dir.to_str().expect("path"),
            "--deterministic",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let scratch = home.join("cache/ttdd");
    assert!(
        scratch.is_dir(),
        "the run's scratch folder is {}",
        scratch.display()
    );
    let left = files_below(&scratch);
    assert!(left.is_empty(), "left behind: {left:?}");
}
