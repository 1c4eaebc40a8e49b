//! The outbox delivering to a real HTTP receiver on loopback: signatures,
//! idempotency keys, retries with backoff while the service is down or
//! failing, permanent refusals, persistence across reopening.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use ainima_agent::http::{Response, Server};
use ainima_agent::outbox::{Outbox, State};
use ainima_agent::webhook::{Webhook, verify};
use serde_json::json;

const SECRET: &[u8] = b"shared secret";

#[derive(Default)]
struct Seen {
    /// (idempotency key, body, signature valid)
    requests: Vec<(String, serde_json::Value, bool)>,
}

fn receiver(status: Arc<AtomicU16>) -> (Server, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s = seen.clone();
    let server = Server::start("127.0.0.1:0", move |req| {
        let key = req
            .header("idempotency-key")
            .unwrap_or_default()
            .to_string();
        let valid = verify(SECRET, &req.body, req.header("x-ainima-signature"));
        let body = serde_json::from_slice(&req.body).unwrap_or(serde_json::Value::Null);
        s.lock().expect("lock").requests.push((key, body, valid));
        Response::json(status.load(Ordering::SeqCst), &json!({"ok": true}))
    })
    .expect("listens");
    (server, seen)
}

fn temp(name: &str) -> std::path::PathBuf {
    let d = ainima_testkit::temp_dir(&format!("outbox-{name}"));
    d.join("outbox.redb")
}

fn hook(url: &str) -> Webhook {
    let mut w = Webhook::new(url);
    w.secret = Some(SECRET.to_vec());
    w.allow_private = vec!["127.0.0.1".into()];
    w
}

fn deliver(outbox: &Outbox, now: u64) -> (usize, usize) {
    outbox
        .deliver_due(now, &mut |e| {
            hook(&e.target).deliver(&e.key, &e.payload).map(|_| ())
        })
        .expect("delivers")
}

#[test]
fn delivers_signed_with_idempotency_keys() {
    let status = Arc::new(AtomicU16::new(200));
    let (server, seen) = receiver(status);
    let url = format!("{}/hook", server.url());
    let o = Outbox::open(&temp("signed")).expect("opens");
    for i in 0..3 {
        o.enqueue(&url, "message.send", &json!({"to": "mom", "n": i}), None, 0)
            .expect("queues");
    }
    assert_eq!(deliver(&o, 0), (3, 0));
    let s = seen.lock().expect("lock");
    assert_eq!(s.requests.len(), 3);
    assert!(s.requests.iter().all(|r| r.2), "every signature checks");
    let keys: std::collections::BTreeSet<_> = s.requests.iter().map(|r| r.0.clone()).collect();
    assert_eq!(keys.len(), 3);
    assert!(
        o.list()
            .expect("lists")
            .iter()
            .all(|e| e.state == State::Delivered)
    );
    assert_eq!(deliver(&o, 10), (0, 0), "nothing delivered twice");
}

#[test]
fn retries_while_down_then_delivers_once_in_effect() {
    let status = Arc::new(AtomicU16::new(503));
    let (server, seen) = receiver(status.clone());
    let url = format!("{}/hook", server.url());
    let path = temp("retry");
    let o = Outbox::open(&path).expect("opens");
    let e = o
        .enqueue(&url, "message.send", &json!({"text": "hi"}), None, 0)
        .expect("queues");
    assert_eq!(deliver(&o, 0), (0, 1));
    let after = o.get(e.id).expect("reads").expect("there");
    assert_eq!(after.state, State::Pending);
    assert_eq!(after.attempts, 1);
    assert!(
        (800..=1200).contains(&after.next_at_ms),
        "backoff {}",
        after.next_at_ms
    );
    assert_eq!(deliver(&o, 500), (0, 0), "not due yet");
    status.store(200, Ordering::SeqCst);
    assert_eq!(deliver(&o, 1300), (1, 0));
    let s = seen.lock().expect("lock");
    assert_eq!(s.requests.len(), 2, "one failed attempt, one success");
    assert_eq!(
        s.requests[0].0, s.requests[1].0,
        "the retry carries the same key"
    );
    drop(s);
    drop(o);
    // Still there after reopening, delivered.
    let o = Outbox::open(&path).expect("reopens");
    assert_eq!(o.list().expect("lists")[0].state, State::Delivered);
}

#[test]
fn network_down_is_retried_and_a_refusal_is_final() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("binds")
        .local_addr()
        .expect("addr")
        .port();
    let o = Outbox::open(&temp("down")).expect("opens");
    let e = o
        .enqueue(
            &format!("http://127.0.0.1:{port}/x"),
            "t",
            &json!({}),
            None,
            0,
        )
        .expect("queues");
    assert_eq!(deliver(&o, 0), (0, 1));
    let got = o.get(e.id).expect("reads").expect("there");
    assert_eq!(got.state, State::Pending, "{:?}", got.last_error);

    let status = Arc::new(AtomicU16::new(400));
    let (server, _) = receiver(status);
    let bad = o
        .enqueue(&server.url(), "t", &json!({}), None, 0)
        .expect("queues");
    deliver(&o, 0);
    assert_eq!(
        o.get(bad.id).expect("reads").expect("there").state,
        State::Failed
    );
    // A refused address fails at once too, without a request.
    let mut w = Webhook::new(&server.url());
    w.secret = None;
    assert!(
        w.deliver("k", &json!({})).is_err(),
        "loopback is refused unless allowed"
    );
    // The user can revive or drop entries.
    assert_eq!(o.retry(bad.id, 5).expect("retries").state, State::Pending);
    assert_eq!(o.drop_entry(bad.id).expect("drops").state, State::Dropped);
    assert_eq!(deliver(&o, 10_000).0, 0);
}

/// Regression (outbox_worker_stopped_between_rounds_only): a worker
/// dropped while a slow receiver held the first of three due entries went
/// on to try the other two before stopping (the session's exit waited for
/// every slow delivery). Now it stops after the one in flight; the others
/// stay queued.
#[test]
fn a_dropped_worker_stops_after_the_delivery_in_flight() {
    let outbox = Arc::new(Outbox::open(&temp("worker-stop")).expect("opens"));
    for i in 0..3 {
        outbox
            .enqueue(
                "http://127.0.0.1:9/",
                "message.send",
                &json!({"n": i}),
                None,
                0,
            )
            .expect("queued");
    }
    let tried = Arc::new(AtomicU16::new(0));
    let (started, in_flight) = std::sync::mpsc::channel();
    let count = tried.clone();
    let worker = ainima_agent::outbox::Worker::spawn(
        outbox.clone(),
        move |_| {
            count.fetch_add(1, Ordering::SeqCst);
            let _ = started.send(());
            std::thread::sleep(std::time::Duration::from_millis(300));
            Ok(())
        },
        || 0,
        |_| {},
        std::time::Duration::from_millis(10),
    );
    in_flight
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("a delivery starts");
    drop(worker);
    assert_eq!(tried.load(Ordering::SeqCst), 1);
    let states: Vec<State> = outbox
        .list()
        .expect("lists")
        .iter()
        .map(|e| e.state)
        .collect();
    assert_eq!(states, [State::Delivered, State::Pending, State::Pending]);
}
