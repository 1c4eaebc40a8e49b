//! The built-in skills acting through real connectors: the coffee machine
//! and the robot over a socat pty pair, messages into the outbox.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ainima_agent::agent::Agent;
use ainima_agent::approval::Source;
use ainima_agent::builtin::{self, Wiring};
use ainima_agent::outbox::{Outbox, State};
use ainima_agent::serial::{SerialDevice, simulate};
use ainima_agent::tools::Registry;
use ainima_neurosymbolic::{Assistant, Now};

struct Socat(Child);

impl Drop for Socat {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn dir() -> PathBuf {
    ainima_testkit::temp_dir("builtin")
}

#[test]
fn coffee_robot_and_messages_through_their_connectors() {
    let d = dir();
    let (a, b) = (d.join("agent"), d.join("device"));
    let child = match Command::new("socat")
        .arg(format!("pty,raw,echo=0,link={}", a.display()))
        .arg(format!("pty,raw,echo=0,link={}", b.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(c) => Socat(c),
        Err(e) => {
            ainima_testkit::skip::<()>(format!(
                "socat does not run ({e}); scripts/setup installs it"
            ));
            return;
        }
    };
    let start = Instant::now();
    while !(a.exists() && b.exists()) {
        assert!(start.elapsed() < Duration::from_secs(10), "no pty pair");
        std::thread::sleep(Duration::from_millis(20));
    }
    let device_end = b.clone();
    let sim = std::thread::spawn(move || simulate(&device_end, 3));
    std::thread::sleep(Duration::from_millis(100));

    let port = a.display().to_string();
    let dev = SerialDevice::open_allowed(&port, std::slice::from_ref(&port)).expect("allowed");
    let outbox = Arc::new(Outbox::open(&d.join("outbox.redb")).expect("opens"));
    let wiring = Wiring {
        messages: Some((outbox.clone(), "https://example.invalid/messages".into())),
        coffee: Some(Arc::new(dev.clone())),
        robot: Some(Arc::new(dev)),
    };
    let mut reg = Registry::new();
    let names = builtin::register(&mut reg, &wiring).expect("registers");
    assert_eq!(names.len(), 5, "{names:?}");
    let mut agent = Agent::new(Assistant::builtin(1).expect("skills"), reg);
    let now = Now::from_unix(1_795_341_600);
    let mut say = |t: &str, ms: u64| agent.hear(t, Source::UserVoice, now, ms);

    say("make me a large latte with 2 shots", 0);
    let t = say("yes", 1000);
    assert_eq!(t.calls[0].status, "done", "{:?}", t.calls);
    assert_eq!(t.calls[0].detail, "brewing large latte with 2 shot(s)");

    // The robot is open-world hardware: the agent asks before it moves.
    let t = say("move forward 2 meters", 2000);
    assert_eq!(t.calls[0].status, "awaiting approval", "{:?}", t.calls);
    let t = say("yes", 3000);
    assert_eq!(t.calls[0].status, "done", "{:?}", t.calls);
    assert_eq!(t.calls[0].detail, "moved forward 2");
    let t = say("stop the robot", 4000);
    assert_eq!(
        t.calls[0].detail, "stopped",
        "stopping never waits for approval"
    );

    say("send a message to mom saying I'm on my way", 5000);
    let t = say("yes", 6000);
    assert_eq!(t.calls[0].status, "done", "{:?}", t.calls);
    let queued = outbox.list().expect("lists");
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].state, State::Pending);
    assert_eq!(queued[0].payload["text"], "I'm on my way");
    sim.join().expect("ends").expect("cleanly");
    drop(child);
}
