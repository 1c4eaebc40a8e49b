//! The agent loop with the built-in skills: actions become tool calls, the
//! dialogue's confirmation is the approval, the assistant's own voice never
//! is, and every step is audited.

use std::sync::{Arc, Mutex};

use ainima_agent::agent::Agent;
use ainima_agent::approval::{Policy, Source};
use ainima_agent::audit::{self, AuditLog};
use ainima_agent::tools::{Annotations, Registry, ToolSpec};
use ainima_neurosymbolic::{Assistant, Now};
use serde_json::{Value, json};

type Calls = Arc<Mutex<Vec<(String, Value)>>>;

fn agent(name: &str) -> (Agent, Calls, std::path::PathBuf) {
    let calls: Calls = Arc::default();
    let mut reg = Registry::new();
    let tools = [
        (
            "message.send",
            Annotations {
                open_world_hint: true,
                ..Annotations::default()
            },
        ),
        (
            "device.on",
            Annotations {
                idempotent_hint: true,
                ..Annotations::default()
            },
        ),
        (
            "device.off",
            Annotations {
                destructive_hint: true,
                ..Annotations::default()
            },
        ),
    ];
    for (tool, annotations) in tools {
        let c = calls.clone();
        reg.register(
            ToolSpec {
                name: tool.into(),
                description: format!("{tool} for the test"),
                parameters: json!({"type": "object"}),
                annotations,
            },
            move |args| {
                c.lock()
                    .expect("lock")
                    .push((tool.to_string(), args.clone()));
                Ok(json!("ok"))
            },
        )
        .expect("registers");
    }
    let mut a = Agent::new(Assistant::builtin(1).expect("skills"), reg);
    let dir = ainima_testkit::temp_dir(&format!("agent-{name}"));
    let log = dir.join("audit.jsonl");
    a.audit = Some(AuditLog::open(&log).expect("opens"));
    (a, calls, log)
}

const NOW: i64 = 1_795_341_600;

#[test]
fn the_users_yes_to_the_dialogue_is_the_approval() {
    let (mut a, calls, log) = agent("yes");
    let now = Now::from_unix(NOW);
    let t = a.hear(
        "send a message to mom saying I'm late",
        Source::UserVoice,
        now,
        0,
    );
    assert!(t.reply.contains("Shall I go ahead?"), "{}", t.reply);
    assert!(calls.lock().expect("lock").is_empty());
    // The assistant's own "yes" heard through the speaker: nothing at all.
    let t = a.hear("yes", Source::AssistantVoice, now, 1000);
    assert!(t.dialogue.is_none() && t.calls.is_empty());
    assert!(calls.lock().expect("lock").is_empty());
    // The user's yes.
    let t = a.hear("yes", Source::UserVoice, now, 2000);
    assert_eq!(t.calls[0].status, "done", "{:?}", t.calls);
    let got = calls.lock().expect("lock").clone();
    assert_eq!(
        got,
        vec![(
            "message.send".to_string(),
            json!({"contact": "mom", "message": "I'm late"})
        )]
    );
    let kinds: Vec<String> = audit::read(&log, 1)
        .expect("reads")
        .into_iter()
        .map(|r| r.kind)
        .collect();
    assert_eq!(kinds, ["ignored", "proposal", "approval", "call", "result"]);
}

#[test]
fn a_no_or_silence_sends_nothing() {
    let (mut a, calls, _) = agent("no");
    let now = Now::from_unix(NOW);
    a.hear(
        "send a message to bob saying hello",
        Source::UserVoice,
        now,
        0,
    );
    let t = a.hear("no", Source::UserVoice, now, 1000);
    assert!(t.calls.is_empty());
    assert_eq!(t.dialogue.map(|d| d.state), Some("idle"));
    a.hear("text alice", Source::UserVoice, now, 2000);
    a.hear("see you soon", Source::UserVoice, now, 3000);
    a.hear("cancel", Source::UserVoice, now, 4000);
    assert!(calls.lock().expect("lock").is_empty());
}

#[test]
fn auto_tools_run_and_confirm_tools_ask_first() {
    let (mut a, calls, _) = agent("auto");
    let now = Now::from_unix(NOW);
    let t = a.hear("turn on the kitchen light", Source::UserVoice, now, 0);
    assert_eq!(t.calls[0].status, "done");
    // device.off is destructive: the agent asks, although the dialogue did not.
    let t = a.hear("switch the fan off", Source::UserVoice, now, 1000);
    assert_eq!(t.calls[0].status, "awaiting approval", "{:?}", t.calls);
    assert!(t.reply.ends_with("Shall I?"), "{}", t.reply);
    let t = a.hear("hmm", Source::UserVoice, now, 2000);
    assert!(t.reply.contains("Yes or no?"), "{}", t.reply);
    let t = a.hear("yes", Source::UserVoice, now, 3000);
    assert_eq!(t.calls[0].status, "done");
    // A request left unanswered past its expiry is denied.
    a.hear("turn off the kitchen light", Source::UserVoice, now, 10_000);
    let t = a.hear("yes", Source::UserVoice, now, 10_000 + 61_000);
    assert!(
        t.calls
            .iter()
            .all(|c| c.tool != "device.off" || c.status != "done"),
        "{:?}",
        t.calls
    );
    // Denied tools never run.
    a.policies.insert("device.on".into(), Policy::Deny);
    let t = a.hear("turn on the desk lamp", Source::UserVoice, now, 100_000);
    assert_eq!(t.calls[0].status, "refused");
    let names: Vec<String> = calls
        .lock()
        .expect("lock")
        .iter()
        .map(|c| c.0.clone())
        .collect();
    assert_eq!(names, ["device.on", "device.off"]);
}

/// Regression (endpoint_approval_then_a_spoken_yes_lost_it): approved at
/// the endpoint, then "yes" said before the session polled: the answer
/// failed (already granted), the request was dropped and nothing ran.
#[test]
fn a_yes_after_an_approval_given_elsewhere_runs_it_once() {
    let (mut a, calls, _) = agent("approved-elsewhere");
    let now = Now::from_unix(NOW);
    let t = a.hear("switch the fan off", Source::UserVoice, now, 0);
    let id = t.requests[0].id.clone();
    a.approvals()
        .answer(
            &[&id],
            &ainima_agent::approval::Answer::Yes,
            Source::Endpoint,
            500,
        )
        .expect("answered at the endpoint");
    let t = a.hear("yes", Source::UserVoice, now, 1000);
    assert_eq!(t.calls.len(), 1, "{:?}", t.calls);
    assert_eq!(t.calls[0].status, "done");
    assert_eq!(calls.lock().expect("lock").len(), 1);
    // Nothing is left waiting, and a second yes does nothing.
    assert_eq!(a.approvals().pending().count(), 0);
    let t = a.hear("yes", Source::UserVoice, now, 2000);
    assert!(t.calls.is_empty(), "{:?}", t.calls);
    assert_eq!(calls.lock().expect("lock").len(), 1);
}

/// Regression (a_lapse_during_speech_went_untold): a request that lapsed
/// while the user spoke was dropped silently, and the dialogue still
/// asked, so a late yes could confirm anew.
#[test]
fn a_yes_after_the_request_lapsed_is_told_and_runs_nothing() {
    let (mut a, calls, _) = agent("lapsed");
    let now = Now::from_unix(NOW);
    let t = a.hear(
        "send a message to mom saying I'm late",
        Source::UserVoice,
        now,
        0,
    );
    assert_eq!(t.requests.len(), 1, "the dialogue's question is a request");
    let t = a.hear("yes", Source::UserVoice, now, 61_000);
    assert!(
        t.reply.starts_with("Nobody approved it in time"),
        "{}",
        t.reply
    );
    assert!(t.calls.is_empty(), "{:?}", t.calls);
    let t = a.hear("yes", Source::UserVoice, now, 62_000);
    assert!(t.calls.is_empty(), "{:?}", t.calls);
    assert!(calls.lock().expect("lock").is_empty());
}

/// Regression (stale_request_after_a_correction): corrected while the
/// dialogue asked, the request shown at the endpoint kept the old
/// arguments, and approving it ran nothing.
#[test]
fn a_correction_while_asked_makes_a_request_for_the_new_arguments() {
    let (mut a, calls, _) = agent("corrected");
    let now = Now::from_unix(NOW);
    let t = a.hear(
        "send a message to mom saying I'm late",
        Source::UserVoice,
        now,
        0,
    );
    let first = t.requests[0].clone();
    let t = a.hear("no, to dad", Source::UserVoice, now, 1000);
    assert_eq!(t.dialogue.as_ref().map(|d| d.state), Some("confirming"));
    let pending: Vec<_> = a.approvals().pending().cloned().collect();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_ne!(pending[0].id, first.id);
    assert_eq!(pending[0].args["contact"], "dad", "{:?}", pending[0].args);
    a.approvals()
        .answer(
            &[&pending[0].id],
            &ainima_agent::approval::Answer::Yes,
            Source::Endpoint,
            1500,
        )
        .expect("answered");
    let t = a.poll(now, 2000).expect("acted on");
    assert_eq!(t.calls[0].status, "done", "{:?}", t.calls);
    assert_eq!(calls.lock().expect("lock")[0].1["contact"], "dad");
}
