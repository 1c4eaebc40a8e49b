//! `ainima audit`, `ainima approvals` and `ainima outbox`, run as a user runs them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ainima_agent::audit::AuditLog;
use ainima_agent::outbox::Outbox;
use serde_json::json;

fn home(name: &str) -> PathBuf {
    let h = std::env::temp_dir().join(format!("ainima-agent-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&h);
    std::fs::create_dir_all(h.join("data")).expect("temp home");
    h
}

fn ainima(home: &Path, args: &[&str]) -> Output {
    ainima_testkit::ainima(env!("CARGO_BIN_EXE_ainima"), home, args)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn audit_show_and_verify_name_the_first_bad_record() {
    let h = home("audit");
    let log = h.join("data/audit.jsonl");
    let mut a = AuditLog::open(&log).expect("opens");
    for i in 0..5 {
        a.append(
            "call",
            &json!({"tool": "timer.start", "i": i, "password": "hunter2"}),
            1000 + i,
        )
        .expect("appends");
    }
    let o = ainima(&h, &["audit", "verify"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("5 records; chain keyed with HMAC-SHA256"));
    let o = ainima(&h, &["audit", "show", "--since", "4", "--json"]);
    assert!(o.status.success());
    let out = text(&o.stdout);
    assert_eq!(out.lines().count(), 2);
    assert!(!out.contains("hunter2"));
    // Edit record 3.
    let edited = std::fs::read_to_string(&log)
        .expect("reads")
        .replacen("\"i\":2", "\"i\":7", 1);
    std::fs::write(&log, edited).expect("writes");
    let o = ainima(&h, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(1));
    let e = text(&o.stderr);
    assert!(
        e.contains("audit log record 3: its contents do not match its hash"),
        "{e}"
    );
    assert!(!e.contains("panicked"));
}

#[test]
fn outbox_list_retry_drop() {
    let h = home("outbox");
    let db = h.join("data/outbox.redb");
    {
        let o = Outbox::open(&db).expect("opens");
        o.enqueue(
            "https://example.invalid/hook",
            "message.send",
            &json!({"to": "mom"}),
            None,
            0,
        )
        .expect("queues");
        o.enqueue(
            "https://example.invalid/hook",
            "coffee.order",
            &json!({"size": "large"}),
            None,
            0,
        )
        .expect("queues");
    }
    let o = ainima(&h, &["outbox", "list", "--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(v.as_array().map(Vec::len), Some(2));
    assert_eq!(v[0]["state"], "pending");
    let o = ainima(&h, &["outbox", "drop", "2"]);
    assert!(
        text(&o.stdout).contains("2 is dropped"),
        "{}",
        text(&o.stdout)
    );
    let o = ainima(&h, &["outbox", "retry", "9"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("no outbox entry 9"));
    let o = ainima(&h, &["outbox", "list"]);
    let out = text(&o.stdout);
    assert!(out.contains("1\tpending\tmessage.send"), "{out}");
    assert!(out.contains("2\tdropped\tcoffee.order"), "{out}");
}

#[test]
fn approvals_are_listed_and_answered_from_the_command_line() {
    use ainima_agent::endpoint::{self, Advert};
    let h = home("approvals");
    // Nothing running yet: a clear error, not a hang.
    let o = ainima(&h, &["approvals", "list"]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("is a session with the endpoint running?"),
        "{}",
        text(&o.stderr)
    );

    let shared = endpoint::Shared::default();
    let server = endpoint::start("127.0.0.1:0", "s3cret", shared.clone()).expect("endpoint");
    let advert = Advert {
        url: format!("{}/rpc", server.url()),
        token: "s3cret".into(),
        pid: std::process::id(),
    };
    let file = advert.write(&h.join("data")).expect("advert");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file)
            .expect("advert")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the token is for its user only");
    }
    let (first, second) = {
        let mut a = shared.approvals.lock().expect("approvals");
        let args = json!({"to": "Mom", "text": "I'm late"});
        let first = a.request("message.send", &args, "Send 'I'm late' to Mom?", 0);
        let second = a.request("robot.move", &json!({"meters": 2}), "Move forward 2 m?", 0);
        (first, second)
    };

    let o = ainima(&h, &["approvals", "list"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let listed = text(&o.stdout);
    assert!(
        listed.contains(&first.id) && listed.contains("Send 'I'm late' to Mom?"),
        "{listed}"
    );
    assert!(
        listed.contains(&second.id) && listed.contains("robot.move"),
        "{listed}"
    );

    let o = ainima(&h, &["approvals", "approve", &first.id]);
    assert_eq!(
        text(&o.stdout).trim(),
        format!("{}: approved", first.id),
        "{}",
        text(&o.stderr)
    );
    let o = ainima(&h, &["approvals", "deny", &second.id]);
    assert_eq!(
        text(&o.stdout).trim(),
        format!("{}: denied", second.id),
        "{}",
        text(&o.stderr)
    );
    // Answered once: a second answer is refused, by name.
    let o = ainima(&h, &["approvals", "approve", &second.id]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("answered already"),
        "{}",
        text(&o.stderr)
    );
    let o = ainima(&h, &["approvals", "list", "--json"]);
    let pending: serde_json::Value = serde_json::from_slice(&o.stdout).expect("JSON");
    assert_eq!(pending, json!([]));

    // The approval is spendable exactly once, for exactly those arguments.
    let mut a = shared.approvals.lock().expect("approvals");
    let args = json!({"to": "Mom", "text": "I'm late"});
    assert!(
        a.authorize(
            &first.id,
            "message.send",
            &json!({"to": "Mom", "text": "hi"}),
            1
        )
        .is_err()
    );
    a.authorize(&first.id, "message.send", &args, 1)
        .expect("approved from the CLI");
    assert!(a.authorize(&first.id, "message.send", &args, 1).is_err());
    drop(a);

    // A wrong token is refused.
    let o = Command::new(env!("CARGO_BIN_EXE_ainima"))
        .args([
            "approvals",
            "list",
            "--endpoint",
            &advert.url,
            "--token-env",
            "T",
        ])
        .env("AINIMA_HOME", &h)
        .env("T", "wrong")
        .output()
        .expect("runs");
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("bearer token"),
        "{}",
        text(&o.stderr)
    );
}

/// Regression (review of 79c2283): `ainima audit verify` said "no audit log
/// yet" (and succeeded) for a log deleted along with its head.
#[test]
fn audit_verify_fails_for_a_deleted_log() {
    let h = home("audit-deleted");
    let log = h.join("data/audit.jsonl");
    let mut a = AuditLog::open(&log).expect("opens");
    a.append("call", &json!({"tool": "timer.start"}), 1000)
        .expect("appends");
    drop(a);
    std::fs::remove_file(&log).expect("deletes");
    std::fs::remove_file(h.join("data/audit.jsonl.head")).expect("deletes");
    let o = ainima(&h, &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stdout));
    assert!(text(&o.stderr).contains("missing"), "{}", text(&o.stderr));
    // Only the head left (log and key deleted): still not "no log yet".
    std::fs::remove_file(h.join("data/audit.jsonl.key")).expect("deletes");
    std::fs::write(h.join("data/audit.jsonl.head"), "{}").expect("writes");
    for cmd in ["verify", "show"] {
        let o = ainima(&h, &["audit", cmd]);
        assert_eq!(o.status.code(), Some(1), "audit {cmd}: {}", text(&o.stdout));
    }
    // A home that never had a log says so and succeeds.
    let fresh = home("audit-none");
    let o = ainima(&fresh, &["audit", "verify"]);
    assert!(o.status.success());
    assert!(text(&o.stdout).contains("no audit log yet"));
}
