//! Voice-callable tools: an MCP server declared in `ainima.toml`, its tools
//! bound to sentences in a skill file, checked against their schemas when
//! the skills load, and called from what a person says (`ainima run`) or
//! types (`ainima chat`), the tools' annotations deciding whether to ask.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn ainima(home: &Path, args: &[&str]) -> Output {
    ainima_testkit::ainima(env!("CARGO_BIN_EXE_ainima"), home, args)
}

/// `ainima chat` in `home` with `input` typed.
fn chat(home: &Path, input: &str) -> Output {
    ainima_testkit::ainima_stdin(
        env!("CARGO_BIN_EXE_ainima"),
        home,
        &["chat", "--now", "1795341600"],
        input,
    )
}

/// The reference MCP server's tools, bound to sentences.
const SKILLS: &str = r#"
[intents.add_up]
templates = ["[what is] the sum of {number:first} and {number:second}"]
required = ["first", "second"]
replies = ["{result}"]
action = "everything.get-sum"
args = { a = "first", b = "second" }

[intents.compress_readme]
templates = ["compress the (read me|readme) [file]"]
replies = ["Compressed: {result}"]
action = "everything.gzip-file-as-resource"
"#;

/// `home` set up with the MCP server in its configuration and `skills` in
/// its skill folder; `None` where the server is not installed.
fn with_everything(home: &Path, skills: &str) -> Option<()> {
    let server = ainima_testkit::mcp_everything()?;
    std::fs::create_dir_all(home.join("config/skills")).expect("config");
    std::fs::write(
        home.join("config/ainima.toml"),
        format!(
            "[[mcp]]\nname = \"everything\"\ncommand = {:?}\n",
            server.display().to_string()
        ),
    )
    .expect("config");
    std::fs::write(home.join("config/skills/everything.toml"), skills).expect("skills");
    Some(())
}

fn fresh(name: &str) -> PathBuf {
    ainima_testkit::temp_dir(&format!("tools-{name}"))
}

fn audit(home: &Path) -> Vec<Value> {
    let o = ainima(home, &["audit", "show", "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    text(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect()
}

/// Regression (mcp_reachable_from_no_command): MCP servers were a library
/// part no command started. A spoken request now makes `ainima run` call
/// a tool of the server its configuration declares, bound by a skill file;
/// the tool's read-only annotation lets it run without asking; the call is
/// in the audit log, and the tool's answer is the reply.
#[test]
fn a_spoken_request_calls_a_tool_of_a_configured_mcp_server() {
    let Some(home) = ainima_testkit::model_home(env!("CARGO_BIN_EXE_ainima"), "tools") else {
        return;
    };
    if with_everything(&home, SKILLS).is_none() {
        return;
    }
    let wav = home.join("sum.wav");
    let o = ainima(
        &home,
        &[
            "say",
            "What is the sum of two and three?",
            "--output",
            wav.to_str().expect("path"),
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let events = common::run_events(
        env!("CARGO_BIN_EXE_ainima"),
        &home,
        &wav,
        &home.join("sum.jsonl"),
        &[],
    );
    let story = || {
        events
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    };
    let calls: Vec<&Value> = events.iter().filter(|e| e["type"] == "tool_call").collect();
    assert_eq!(calls.len(), 1, "{}", story());
    assert_eq!(calls[0]["tool"], "everything.get-sum", "{}", story());
    assert_eq!(calls[0]["args"], serde_json::json!({"a": 2.0, "b": 3.0}));
    assert_eq!(calls[0]["status"], "done", "{}", story());
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "reply" && e["text"] == "The sum of 2 and 3 is 5."),
        "{}",
        story()
    );
    assert!(audit(&home).iter().any(|r| r["kind"] == "call"
        && r["data"]["tool"] == "everything.get-sum"
        && r["data"]["approval"].is_null()));
}

/// An open-world tool (the server's annotation) asks first: refused, it
/// never runs; nothing of it but the proposal and the denial is logged.
#[test]
fn an_open_world_mcp_tool_asks_first() {
    let home = fresh("asks");
    if with_everything(&home, SKILLS).is_none() {
        return;
    }
    let o = chat(&home, "compress the readme file\nno\n");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("needs your approval. Shall I?"), "{out}");
    assert!(out.contains("OK, I won't."), "{out}");
    let log = audit(&home);
    assert!(log.iter().any(|r| r["kind"] == "proposal"));
    assert!(log.iter().any(|r| r["kind"] == "denial"));
    assert!(!log.iter().any(|r| r["kind"] == "call"), "{log:?}");
}

/// A binding the tool cannot take is an error at its place in the skill
/// file, before anything runs.
#[test]
fn a_binding_that_does_not_fit_the_tool_is_an_error_at_its_place() {
    let check = |name: &str, skills: &str, expect: &str| {
        let home = fresh(name);
        if with_everything(&home, skills).is_none() {
            return;
        }
        let o = chat(&home, "hello\n");
        assert!(!o.status.success(), "{name}: accepted");
        let err = text(&o.stderr);
        assert!(err.contains(expect), "{name}: {err}");
    };
    check(
        "enum",
        "[intents.weather]\ntemplates = [\"weather in {city}\"]\naction = \"everything.get-structured-content\"\nargs = { location = \"city\" }\n[lists.city]\nvalues = [\"Chicago\", \"Boston\"]\n",
        "everything.toml:4:22: intent `weather`: slot `city` (list `city`) can give \"Boston\", which `everything.get-structured-content`'s argument `location` does not take",
    );
    check(
        "no-such-argument",
        "[intents.weather]\ntemplates = [\"weather in {city}\"]\naction = \"everything.get-structured-content\"\nargs = { place = \"city\" }\n[lists.city]\nvalues = [\"Chicago\"]\n",
        "everything.toml:4:19: intent `weather`: `everything.get-structured-content` has no argument `place` (it takes location)",
    );
    check(
        "type",
        "[intents.add]\ntemplates = [\"sum of {thing} and {number:b}\"]\naction = \"everything.get-sum\"\nargs = { a = \"thing\", b = \"b\" }\n[lists.thing]\nwildcard = true\n",
        "intent `add`: slot `thing` (list `thing`) can give \"some words\", which `everything.get-sum`'s argument `a` does not take",
    );
    check(
        "required",
        "[intents.add]\ntemplates = [\"sum of {number:a}\"]\naction = \"everything.get-sum\"\n",
        "everything.toml:3:11: intent `add`: `everything.get-sum` requires the argument `b`, which no slot gives",
    );
    check(
        "no-such-tool",
        "[intents.add]\ntemplates = [\"sum of {number:a}\"]\naction = \"everything.get-summ\"\nargs = { a = \"a\" }\n",
        "everything.toml:3:11: intent `add`: no tool `everything.get-summ` is registered",
    );
}

/// Regression (result_lost_when_the_agent_asked_first): with a policy that
/// asks first, the approved call's answer was replaced by "Done.".
#[test]
fn a_tool_that_asks_first_still_answers_with_its_result() {
    let home = fresh("policy");
    if with_everything(&home, SKILLS).is_none() {
        return;
    }
    let config = home.join("config/ainima.toml");
    let mut text_cfg = std::fs::read_to_string(&config).expect("config");
    text_cfg.push_str("[policies]\n\"everything.get-sum\" = \"confirm\"\n");
    std::fs::write(&config, text_cfg).expect("config");
    let o = chat(&home, "what is the sum of two and three\nyes\n");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let out = text(&o.stdout);
    assert!(out.contains("needs your approval. Shall I?"), "{out}");
    assert!(out.contains("ainima> The sum of 2 and 3 is 5."), "{out}");
}
