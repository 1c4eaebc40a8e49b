//! Conversations with the built-in skills, data-driven: each scenario in
//! `tests/snapshots/dialogues.txt` is a block of `> user` lines, each followed by the
//! expected `< reply [state] actions` line. Run with
//! `UPDATE_SNAPSHOTS=1` to rewrite the expectations after a change,
//! then review the diff.

use ainima_neurosymbolic::{Assistant, Now};

/// 2026-11-22 10:00 UTC, a Sunday.
const NOW: i64 = 1_795_341_600;

fn render(user: &[&str]) -> Vec<String> {
    let mut a = Assistant::builtin(1).expect("built-in skills load");
    let now = Now::from_unix(NOW);
    let mut out = Vec::new();
    for line in user {
        let t = a.hear(line, now);
        let actions: Vec<String> = t
            .actions
            .iter()
            .map(|x| {
                format!(
                    " {}{}",
                    x.tool,
                    serde_json::to_string(&x.args).unwrap_or_default()
                )
            })
            .collect();
        out.push(format!("> {line}"));
        out.push(format!("< {} [{}]{}", t.reply, t.state, actions.join("")));
    }
    out
}

fn check(path: &str) {
    let text = std::fs::read_to_string(path).expect("scenario file");
    let mut expected = Vec::new();
    let mut actual = Vec::new();
    for block in text.split("\n\n").filter(|b| !b.trim().is_empty()) {
        let lines: Vec<&str> = block.lines().filter(|l| !l.starts_with('#')).collect();
        let comments: Vec<&str> = block.lines().filter(|l| l.starts_with('#')).collect();
        let user: Vec<&str> = lines.iter().filter_map(|l| l.strip_prefix("> ")).collect();
        let mut got: Vec<String> = comments.iter().map(|c| c.to_string()).collect();
        got.extend(render(&user));
        expected.push(block.trim_end().to_string());
        actual.push(got.join("\n"));
    }
    let (expected, actual) = (expected.join("\n\n") + "\n", actual.join("\n\n") + "\n");
    if std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1") {
        std::fs::write(path, &actual).expect("write snapshot");
        return;
    }
    assert!(
        expected == actual,
        "dialogues differ from {path} (UPDATE_SNAPSHOTS=1 rewrites it):\n{}",
        diff(&expected, &actual)
    );
}

fn diff(a: &str, b: &str) -> String {
    a.lines()
        .zip(b.lines())
        .filter(|(x, y)| x != y)
        .map(|(x, y)| format!("- {x}\n+ {y}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn built_in_skills() {
    check(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/snapshots/dialogues.txt"
    ));
}

#[test]
fn same_seed_same_conversation() {
    let script = [
        "set a timer",
        "five minutes",
        "what time is it",
        "send a message to bob",
        "hello",
        "yes",
    ];
    assert_eq!(render(&script), render(&script));
}

#[test]
fn out_of_domain_never_acts() {
    let mut a = Assistant::builtin(3).expect("loads");
    for line in [
        "what is the meaning of life",
        "book a flight to paris",
        "delete all my files",
        "turn on the garage door",
        "send money to bob",
        "asdf qwerty",
        "",
        "...",
    ] {
        let t = a.hear(line, Now::from_unix(NOW));
        assert!(t.actions.is_empty(), "{line:?} acted: {:?}", t.actions);
        assert!(t.reply.contains("can't"), "{line:?}: {}", t.reply);
    }
}
