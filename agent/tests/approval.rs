//! The adversarial approval suite: whatever is tried, no tool that needs
//! approval runs without the user's own, fresh, matching yes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use ainima_agent::approval::{
    Answer, Approvals, Decision, Policy, Source, default_policy, interpret,
};
use ainima_agent::tools::{Annotations, Registry, ToolSpec};
use ainima_agent::{Error, execute};
use serde_json::json;

fn setup() -> (Registry, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let mut r = Registry::new();
    r.register(
        ToolSpec {
            name: "message.send".into(),
            description: "Send a message.".into(),
            parameters: json!({"type": "object", "properties": {"to": {"type": "string"}, "text": {"type": "string"}}, "required": ["to", "text"], "additionalProperties": false}),
            annotations: Annotations { open_world_hint: true, ..Annotations::default() },
        },
        move |_| {
            c.fetch_add(1, Ordering::SeqCst);
            Ok(json!("sent"))
        },
    )
    .expect("registers");
    (r, calls)
}

const TTL: u64 = 30_000;

#[test]
fn open_world_tools_ask_by_default() {
    let (r, _) = setup();
    assert_eq!(
        default_policy(&r.spec("message.send").expect("spec").annotations),
        Policy::Confirm
    );
    assert_eq!(
        default_policy(&Annotations {
            read_only_hint: true,
            ..Annotations::default()
        }),
        Policy::Auto
    );
    assert_eq!(
        default_policy(&Annotations {
            destructive_hint: true,
            ..Annotations::default()
        }),
        Policy::Confirm
    );
}

#[test]
fn nothing_runs_without_a_fresh_matching_user_yes() {
    let (r, calls) = setup();
    let mut a = Approvals::new(TTL);
    let args = json!({"to": "mom", "text": "I'm late"});
    let run = |a: &mut Approvals, id: Option<&str>, args: &serde_json::Value, now: u64| {
        execute(&r, a, Policy::Confirm, "message.send", args, id, now, None)
    };

    // No approval at all.
    assert!(matches!(
        run(&mut a, None, &args, 0),
        Err(Error::NotApproved(_))
    ));
    // A request, answered by the assistant's own voice: refused, still pending.
    let req = a.request("message.send", &args, "Send 'I'm late' to Mom?", 0);
    assert!(
        a.answer(&[&req.id], &Answer::Yes, Source::AssistantVoice, 10)
            .is_err()
    );
    assert!(matches!(
        run(&mut a, Some(&req.id), &args, 20),
        Err(Error::NotApproved(_))
    ));
    // Unclear answers keep it pending and run nothing.
    for said in ["yes no", "maybe", "hmm", ""] {
        let d = a
            .answer(&[&req.id], &interpret(said), Source::UserVoice, 30)
            .expect("answered");
        assert_eq!(d, vec![Decision::AskAgain], "{said:?}");
        assert!(run(&mut a, Some(&req.id), &args, 40).is_err());
    }
    // Approved, then the arguments change before the call: refused.
    assert_eq!(
        a.answer(&[&req.id], &interpret("yes"), Source::UserVoice, 50)
            .expect("ok"),
        vec![Decision::Approved]
    );
    let changed = json!({"to": "boss", "text": "I'm late"});
    assert!(
        matches!(run(&mut a, Some(&req.id), &changed, 60), Err(Error::NotApproved(m)) if m.contains("arguments changed"))
    );
    // The right call runs once...
    assert_eq!(
        run(&mut a, Some(&req.id), &args, 70).expect("runs"),
        json!("sent")
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // ...and a replayed approval id runs nothing.
    assert!(run(&mut a, Some(&req.id), &args, 80).is_err());
    assert!(
        a.answer(&[&req.id], &Answer::Yes, Source::Cli, 90).is_err(),
        "answering again"
    );
    // An approval for another tool does not carry over.
    let other = a.request("note.take", &args, "Take a note?", 100);
    a.answer(&[&other.id], &Answer::Yes, Source::Cli, 110)
        .expect("answered");
    assert!(run(&mut a, Some(&other.id), &args, 120).is_err());
    // Expired before the answer: denied.
    let late = a.request("message.send", &args, "Send?", 1_000);
    assert!(
        a.answer(&[&late.id], &Answer::Yes, Source::UserVoice, 1_000 + TTL)
            .is_err()
    );
    assert!(run(&mut a, Some(&late.id), &args, 1_000 + TTL + 1).is_err());
    // Approved in time, but called after expiry: refused.
    let slow = a.request("message.send", &args, "Send?", 100_000);
    a.answer(&[&slow.id], &Answer::Yes, Source::UserVoice, 100_001)
        .expect("answered");
    assert!(run(&mut a, Some(&slow.id), &args, 100_000 + TTL).is_err());
    // A made-up id.
    assert!(run(&mut a, Some("apr-999999"), &args, 200_000).is_err());
    // Deny never runs, approval or not.
    let d = a.request("message.send", &args, "Send?", 300_000);
    a.answer(&[&d.id], &Answer::Yes, Source::UserVoice, 300_001)
        .expect("answered");
    assert!(
        execute(
            &r,
            &mut a,
            Policy::Deny,
            "message.send",
            &args,
            Some(&d.id),
            300_002,
            None
        )
        .is_err()
    );

    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "exactly the one approved call ran"
    );
}

#[test]
fn only_the_first_one() {
    let (r, calls) = setup();
    let mut a = Approvals::new(TTL);
    let m1 = json!({"to": "alice", "text": "hi"});
    let m2 = json!({"to": "bob", "text": "hi"});
    let r1 = a.request("message.send", &m1, "Send hi to Alice?", 0);
    let r2 = a.request("message.send", &m2, "Send hi to Bob?", 0);
    let d = a
        .answer(
            &[&r1.id, &r2.id],
            &interpret("only the first one"),
            Source::UserVoice,
            5,
        )
        .expect("ok");
    assert_eq!(d, vec![Decision::Approved, Decision::Denied]);
    assert!(
        execute(
            &r,
            &mut a,
            Policy::Confirm,
            "message.send",
            &m2,
            Some(&r2.id),
            6,
            None
        )
        .is_err()
    );
    // The first approval cannot be spent on the second message either.
    assert!(
        execute(
            &r,
            &mut a,
            Policy::Confirm,
            "message.send",
            &m2,
            Some(&r1.id),
            7,
            None
        )
        .is_err()
    );
    assert!(
        execute(
            &r,
            &mut a,
            Policy::Confirm,
            "message.send",
            &m1,
            Some(&r1.id),
            8,
            None
        )
        .is_ok()
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn requests_are_serialisable() {
    let mut a = Approvals::new(TTL);
    let r = a.request("message.send", &json!({"to": "mom"}), "Send?", 5);
    let text = serde_json::to_string(&r).expect("serialises");
    let back: ainima_agent::approval::ApprovalRequest =
        serde_json::from_str(&text).expect("reads back");
    assert_eq!(back, r);
    assert_eq!(r.expires_ms, 5 + TTL);
}
