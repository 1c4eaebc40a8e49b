//! Real serial I/O through a pseudo-terminal pair made by socat: the
//! simulated coffee machine and robot on one end, the agent's serial
//! connector on the other. Needs socat (scripts/setup installs it): skipped
//! where it is missing, failing under `AINIMA_REQUIRE_DATA=1`.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ainima_agent::Error;
use ainima_agent::serial::{SerialDevice, command_line, simulate};

struct Pty {
    child: Child,
    a: PathBuf,
    b: PathBuf,
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pty_pair(name: &str) -> Option<Pty> {
    let dir = ainima_testkit::temp_dir(&format!("serial-{name}"));
    let (a, b) = (dir.join("agent"), dir.join("device"));
    let spawned = Command::new("socat")
        .arg(format!("pty,raw,echo=0,link={}", a.display()))
        .arg(format!("pty,raw,echo=0,link={}", b.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let child = match spawned {
        Ok(c) => c,
        Err(e) => {
            return ainima_testkit::skip(format!(
                "socat does not run ({e}); scripts/setup installs it"
            ));
        }
    };
    let start = Instant::now();
    while !(a.exists() && b.exists()) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "socat made no pty pair"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(Pty { child, a, b })
}

#[test]
fn coffee_and_robot_over_a_real_serial_line() {
    let Some(pty) = pty_pair("devices") else {
        return;
    };
    let device_end = pty.b.clone();
    let sim = std::thread::spawn(move || simulate(&device_end, 5));
    std::thread::sleep(Duration::from_millis(100));
    let allow = vec![pty.a.display().to_string()];
    let dev = SerialDevice::open_allowed(&pty.a.display().to_string(), &allow).expect("allowed");
    let brew = command_line(
        "brew",
        &[
            ("drink", "latte".into()),
            ("size", "large".into()),
            ("shots", "2".into()),
        ],
    )
    .expect("line");
    assert_eq!(
        dev.send(&brew).expect("answers"),
        "brewing large latte with 2 shot(s)"
    );
    assert_eq!(
        dev.send("MOVE direction=forward distance=2")
            .expect("answers"),
        "moved forward 2"
    );
    assert_eq!(
        dev.send("TURN side=left angle=90").expect("answers"),
        "turned left 90"
    );
    match dev.send("BREW drink=latte shots=9") {
        Err(Error::Delivery {
            retryable: false,
            message,
            ..
        }) => assert_eq!(message, "between 1 and 4 shots"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(dev.send("STOP").expect("answers"), "stopped");
    sim.join().expect("the simulator ends").expect("cleanly");
}

#[test]
fn ports_off_the_allow_list_are_refused() {
    let Some(pty) = pty_pair("allow") else { return };
    let e = SerialDevice::open_allowed(&pty.a.display().to_string(), &["/dev/ttyUSB7".to_string()])
        .expect_err("refused");
    assert!(e.to_string().contains("not on the allow-list"), "{e}");
    // An allowed port where nothing answers times out as a retryable error.
    let mut dev =
        SerialDevice::open_allowed(&pty.a.display().to_string(), &[pty.a.display().to_string()])
            .expect("allowed");
    dev.timeout = Duration::from_millis(200);
    assert!(matches!(
        dev.send("PING"),
        Err(Error::Delivery {
            retryable: true,
            ..
        })
    ));
}

/// Regression (serial_reader_died_on_a_bad_byte, review of issue 13's
/// device reports): a byte that is not UTF-8 ended the port's reader, so
/// the next command was written (the device acted) and reported as failed;
/// a line with no end grew without bound; a device repeating a report was
/// said again and again. Now: noise and an endless line are dropped, the
/// command's answer comes back, and a flood of reports is said once.
#[test]
fn a_noisy_device_neither_stops_the_reader_nor_floods_the_assistant() {
    use std::io::{BufRead, BufReader, Write};
    let Some(pty) = pty_pair("noise") else {
        return;
    };
    let device = pty.b.clone();
    let far = std::thread::spawn(move || {
        let port = serialport::new(device.to_string_lossy(), 115_200)
            .timeout(Duration::from_secs(10))
            .open()
            .expect("the device end");
        let mut out = port.try_clone().expect("clone");
        let mut lines = BufReader::new(port);
        let mut line = String::new();
        lines.read_line(&mut line).expect("a command");
        // Noise, an endless line, then the answer and ten reports.
        out.write_all(&[0xFF, 0xFE, b'\n']).expect("noise");
        out.write_all(&vec![b'x'; 100_000]).expect("a long line");
        out.write_all(b"\nOK pong\n").expect("answer");
        for _ in 0..10 {
            out.write_all(b"EVENT Your latte is ready.\n")
                .expect("report");
        }
        out.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(500));
    });
    let dev = SerialDevice::open_allowed(
        pty.a.to_str().expect("path"),
        &[pty.a.to_string_lossy().into_owned()],
    )
    .expect("allowed");
    let heard = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let into = heard.clone();
    use ainima_agent::serial::LineDevice;
    dev.report_to(std::sync::Arc::new(move |s: String| {
        into.lock().expect("lock").push(s)
    }));
    assert_eq!(dev.send("PING").expect("the answer comes back"), "pong");
    far.join().expect("the device ran");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(*heard.lock().expect("lock"), ["Your latte is ready."]);
}
