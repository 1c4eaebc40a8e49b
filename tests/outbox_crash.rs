//! The crash test: `ainima outbox deliver` is killed (SIGKILL) at random
//! points, 100 times, while it delivers to a receiver on loopback; new
//! actions keep arriving between the kills. Afterwards every action has
//! arrived, none twice in effect: a redelivery after a crash carries the
//! same idempotency key, and the receiver applies each key once.

use std::collections::{BTreeMap, BTreeSet};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ainima_agent::http::{Response, Server};
use ainima_agent::outbox::{Outbox, State};
use serde_json::json;

#[test]
fn killed_a_hundred_times_nothing_lost_nothing_doubled() {
    let dir = ainima_testkit::temp_dir("crash");
    let db = dir.join("outbox.redb");

    // The receiver: every request by key, and the effects (first time a key is seen).
    let seen: Arc<Mutex<BTreeMap<String, (usize, serde_json::Value)>>> = Arc::default();
    let s = seen.clone();
    let server = Server::start("127.0.0.1:0", move |req| {
        let key = req
            .header("idempotency-key")
            .unwrap_or_default()
            .to_string();
        let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap_or_default();
        let mut m = s.lock().expect("lock");
        let e = m.entry(key).or_insert((0, body.clone()));
        e.0 += 1;
        assert_eq!(e.1, body, "the same key always carries the same action");
        // A little work per request, so kills land in the middle of a round.
        std::thread::sleep(Duration::from_millis(1));
        Response::json(200, &json!({"ok": true}))
    })
    .expect("listens");
    let url = format!("{}/hook", server.url());

    let mut rng = 0x5EEDu64;
    let mut next = || {
        rng = ainima_fallbacks::replies::mix(rng);
        rng
    };
    let mut queued = 0u64;
    let deliver = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ainima"));
        c.args([
            "outbox",
            "--db",
            db.to_str().expect("utf-8"),
            "deliver",
            "--allow-private",
            "127.0.0.1",
        ])
        .env("AINIMA_HOME", &dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        c
    };
    for round in 0..100 {
        {
            let o = Outbox::open(&db).expect("the outbox opens after a kill");
            for _ in 0..3 {
                queued += 1;
                o.enqueue(
                    &url,
                    "message.send",
                    &json!({"n": queued, "round": round}),
                    None,
                    0,
                )
                .expect("queues");
            }
        }
        let mut child = deliver().spawn().expect("starts");
        std::thread::sleep(Duration::from_micros(next() % 40_000));
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
    }
    // Finally a run that is left to finish.
    let out = deliver().output().expect("runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let o = Outbox::open(&db).expect("opens");
    let entries = o.list().expect("lists");
    assert_eq!(
        entries.len() as u64,
        queued,
        "no action lost from the queue"
    );
    assert!(
        entries.iter().all(|e| e.state == State::Delivered),
        "all delivered"
    );
    let m = seen.lock().expect("lock");
    let keys: BTreeSet<&String> = m.keys().collect();
    let expected: BTreeSet<&String> = entries.iter().map(|e| &e.key).collect();
    assert_eq!(keys, expected, "every action arrived, and nothing else");
    let redelivered = m.values().filter(|(n, _)| *n > 1).count();
    eprintln!(
        "{queued} actions, {} requests, {redelivered} redelivered after a kill (same key: applied once)",
        m.values().map(|(n, _)| n).sum::<usize>()
    );
    std::fs::remove_dir_all(&dir).ok();
}
