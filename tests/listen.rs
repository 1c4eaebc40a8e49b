//! `ainima listen` on a real sound server: PulseAudio with a pipe source as
//! the microphone (a feeder writes speech into it in real time) and a null
//! sink as the speaker (its monitor recorded by `parec`), reached through
//! ALSA's pulse plugin as on a desktop. It hears, acts and speaks; survives
//! a stalled input and a restart of the sound server; and falls silent when
//! the user talks over it.

mod common;

use std::collections::VecDeque;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::pulse::{Pulse, sound_server};

/// The desktop's devices: a null sink as the speaker, a pipe source (fed
/// by [`Feeder`]) as the microphone.
fn desktop(dir: &Path) -> Pulse {
    Pulse::new(
        dir,
        &format!(
            "load-module module-null-sink sink_name=speaker rate=48000\n\
             load-module module-pipe-source source_name=mic file={fifo} format=s16le rate=16000 channels=1\n\
             set-default-sink speaker\nset-default-source mic\n",
            fifo = dir.join("mic.fifo").display(),
        ),
    )
}

/// Writes the user's side into the pipe source in real time, 20 ms at a
/// time: queued speech, else silence; nothing at all while stalled. A
/// sound server that went away is waited for.
struct Feeder {
    queue: Arc<Mutex<VecDeque<i16>>>,
    stalled: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
}

impl Feeder {
    fn start(fifo: PathBuf) -> Feeder {
        let queue: Arc<Mutex<VecDeque<i16>>> = Arc::default();
        let stalled: Arc<AtomicBool> = Arc::default();
        let done: Arc<AtomicBool> = Arc::default();
        let (q, s, d) = (queue.clone(), stalled.clone(), done.clone());
        std::thread::spawn(move || {
            let mut pipe: Option<std::fs::File> = None;
            let mut next = Instant::now();
            while !d.load(Ordering::Relaxed) {
                next += Duration::from_millis(20);
                if let Some(wait) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(wait);
                } else {
                    next = Instant::now();
                }
                if s.load(Ordering::Relaxed) {
                    continue;
                }
                let chunk: Vec<i16> = {
                    let mut q = q.lock().expect("lock");
                    (0..320).map(|_| q.pop_front().unwrap_or(0)).collect()
                };
                let bytes: Vec<u8> = chunk.iter().flat_map(|v| v.to_le_bytes()).collect();
                // A restarted server makes a new pipe: write to that one.
                use std::os::unix::fs::MetadataExt;
                let now_ino = std::fs::metadata(&fifo).map(|m| m.ino()).ok();
                if pipe
                    .as_ref()
                    .is_some_and(|p| p.metadata().map(|m| m.ino()).ok() != now_ino)
                {
                    pipe = None;
                }
                if pipe.is_none() && now_ino.is_some() {
                    // Read-write: opening never waits for the server's
                    // reader, and the pipe stays open between writes.
                    pipe = std::fs::OpenOptions::new()
                        .read(true)
                        .write(true)
                        .open(&fifo)
                        .ok();
                }
                if let Some(p) = pipe.as_mut()
                    && p.write_all(&bytes).is_err()
                {
                    pipe = None;
                }
            }
        });
        Feeder {
            queue,
            stalled,
            done,
        }
    }

    fn say(&self, audio: &[f32]) {
        let mut q = self.queue.lock().expect("lock");
        q.extend(audio.iter().map(|&s| (s.clamp(-1.0, 1.0) * 32767.0) as i16));
    }

    /// Until what was said has been fed.
    fn wait_said(&self) {
        let start = Instant::now();
        while !self.queue.lock().expect("lock").is_empty() {
            assert!(start.elapsed() < Duration::from_secs(30));
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Feeder {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Relaxed);
    }
}

/// The speaker's monitor, recorded: 16 kHz mono samples with the time
/// each 20 ms arrived.
struct Recorder {
    child: Child,
    samples: Arc<Mutex<Vec<(Instant, f32)>>>,
}

impl Recorder {
    fn start(pulse: &Pulse, samples: Arc<Mutex<Vec<(Instant, f32)>>>) -> Recorder {
        let mut c = Command::new("parec");
        c.args([
            "-d",
            "speaker.monitor",
            "--rate=16000",
            "--channels=1",
            "--format=s16le",
            "--raw",
            "--latency-msec=20",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
        pulse.env(&mut c);
        let mut child = c.spawn().expect("parec runs");
        let mut out = child.stdout.take().expect("stdout");
        let s = samples.clone();
        std::thread::spawn(move || {
            use std::io::Read;
            let mut buf = [0u8; 640];
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let now = Instant::now();
                let mut s = s.lock().expect("lock");
                s.extend(
                    buf[..n - n % 2]
                        .chunks_exact(2)
                        .map(|b| (now, f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)),
                );
            }
        });
        Recorder { child, samples }
    }

    /// Seconds of sound (20 ms blocks above -50 dBFS) heard after `since`.
    fn sound_after(&self, since: Instant) -> f64 {
        let s = self.samples.lock().expect("lock");
        let after: Vec<f32> = s
            .iter()
            .filter(|(t, _)| *t >= since)
            .map(|(_, v)| *v)
            .collect();
        after
            .chunks(320)
            .filter(|c| c.iter().map(|v| v * v).sum::<f32>() / c.len() as f32 > 1e-5)
            .count() as f64
            * 0.02
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn said(home: &Path, words: &str) -> Vec<f32> {
    let wav = home.join(format!(
        "{}.wav",
        words.replace(|c: char| !c.is_alphanumeric(), "_")
    ));
    let o = ainima_testkit::ainima(
        env!("CARGO_BIN_EXE_ainima"),
        home,
        &["say", words, "--output", wav.to_str().expect("path")],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let mut audio = ainima_audio::decode::load_16k_mono(&wav).expect("speech");
    // Then a second of silence: the end of the turn.
    audio.extend(std::iter::repeat_n(0.0, 16_000));
    audio
}

/// The events `listen` wrote so far.
fn events(file: &Path) -> Vec<Value> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// Waits (up to `secs`) for an event after the first `from` that `want`
/// accepts; its index.
fn wait_for(
    file: &Path,
    from: usize,
    secs: u64,
    what: &str,
    want: impl Fn(&Value) -> bool,
) -> usize {
    let start = Instant::now();
    loop {
        let ev = events(file);
        if let Some(i) = ev.iter().skip(from).position(&want) {
            return from + i;
        }
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "no {what} within {secs} s; events:\n{}",
            ev.iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Waits (up to `secs`) until the device is back and has stayed so for
/// 3 s (longer than the 2 s a stalled input takes to be noticed): what is
/// said then is heard. Speech said while no device is open is lost, as
/// it would be for a person.
fn wait_device_steady(file: &Path, secs: u64) -> usize {
    let start = Instant::now();
    let mut last: Option<(usize, Instant)> = None;
    loop {
        let ev = events(file);
        let n = ev.iter().filter(|e| e["type"] == "device").count();
        let back = ev
            .iter()
            .rev()
            .find(|e| e["type"] == "device")
            .is_some_and(|e| e["status"].as_str().is_some_and(|s| s.starts_with("back")));
        match last {
            Some((m, since)) if m == n && back && since.elapsed() > Duration::from_secs(3) => {
                return ev.len();
            }
            Some((m, _)) if m == n => {}
            _ => last = Some((n, Instant::now())),
        }
        assert!(
            start.elapsed() < Duration::from_secs(secs),
            "the device did not come back within {secs} s; events:\n{}",
            ev.iter()
                .map(Value::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `ainima listen` on the test's sound server, killed when dropped; what
/// it printed to the terminal after its first line.
struct Listen(Child, Arc<Mutex<Vec<u8>>>);

impl Drop for Listen {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Listen {
    /// What it printed so far after its first line.
    fn printed(&self) -> String {
        String::from_utf8_lossy(&self.1.lock().expect("lock")).into_owned()
    }

    /// The machine too busy for `secs`: the process is stopped (SIGSTOP)
    /// and goes on (SIGCONT), its audio threads with it.
    fn stall(&self, secs: f64) {
        let signal = |s: &str| {
            let ok = Command::new("kill")
                .args([s, &self.0.id().to_string()])
                .status()
                .expect("kill runs")
                .success();
            assert!(ok, "kill {s}");
        };
        signal("-STOP");
        std::thread::sleep(Duration::from_secs_f64(secs));
        signal("-CONT");
    }

    /// Starts it with `--activation activation`, writing events to `ev`;
    /// returns once it says where it listens.
    fn start(pulse: &Pulse, home: &Path, ev: &Path, activation: &str) -> Listen {
        let mut c = Command::new(env!("CARGO_BIN_EXE_ainima"));
        c.args([
            "listen",
            "--events",
            ev.to_str().expect("path"),
            "--activation",
            activation,
        ])
        .env("AINIMA_HOME", home)
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        pulse.env(&mut c);
        let mut child = c.spawn().expect("ainima listen runs");
        let out = child.stdout.take().expect("stdout");
        let printed: Arc<Mutex<Vec<u8>>> = Arc::default();
        let mut listen = Listen(child, printed.clone());
        let mut first = String::new();
        let mut reader = std::io::BufReader::new(out);
        reader
            .read_line(&mut first)
            .expect("listen says where it listens");
        // The rest of what it prints is kept (a closed pipe would end it).
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = std::io::Read::read(&mut reader, &mut buf) {
                if n == 0 {
                    break;
                }
                printed.lock().expect("lock").extend_from_slice(&buf[..n]);
            }
        });
        assert!(first.starts_with("Listening on"), "{first}{}", {
            let _ = listen.0.kill();
            let o = listen.0.stderr.take().map(|mut e| {
                let mut s = String::new();
                let _ = std::io::Read::read_to_string(&mut e, &mut s);
                s
            });
            o.unwrap_or_default()
        });
        listen
    }
}

fn tool_call(tool: &'static str) -> impl Fn(&Value) -> bool {
    move |e| e["type"] == "tool_call" && e["tool"] == tool
}

/// One live session at a time: each runs Whisper and a sound server in
/// real time, and on two cores a second one beside it starved the first
/// (CI at 9c4d4c4: a stop word over a reply went unheard while the wake
/// word's and push to talk's sessions ran). A user runs one.
static LIVE: Mutex<()> = Mutex::new(());

/// Holds [`LIVE`] for a test (a test that failed holding it does not stop
/// the others).
fn live() -> std::sync::MutexGuard<'static, ()> {
    LIVE.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Regression (listen_exits_on_a_stall): `listen` ended with "no audio
/// from the input for 2 s" when the input stalled; a device error ended the
/// session. Now it reopens the device with backoff and goes on.
#[test]
fn listen_on_a_sound_server_hears_acts_speaks_and_survives() {
    if !sound_server() {
        return;
    }
    let _live = live();
    let Some(home) = ainima_testkit::model_home(env!("CARGO_BIN_EXE_ainima"), "listen") else {
        return;
    };
    let dir = ainima_testkit::temp_dir("pulse");
    let mut pulse = desktop(&dir);
    pulse.start();
    let feeder = Feeder::start(dir.join("mic.fifo"));
    let samples: Arc<Mutex<Vec<(Instant, f32)>>> = Arc::default();
    let mut recorder = Recorder::start(&pulse, samples.clone());
    let ev = dir.join("events.jsonl");
    let mut listen = Listen::start(&pulse, &home, &ev, "always");

    // It hears, acts and speaks.
    let before = Instant::now();
    feeder.say(&said(&home, "What time is it?"));
    let i = wait_for(&ev, 0, 30, "clock.time call", tool_call("clock.time"));
    let i = wait_for(&ev, i, 30, "its reply", |e| e["type"] == "tts_stop");
    assert!(
        recorder.sound_after(before) > 0.5,
        "the reply was heard on the speaker"
    );

    // The input stalls for 5 s: the device is reopened, the session goes on.
    feeder.stalled.store(true, Ordering::Relaxed);
    std::thread::sleep(Duration::from_secs(5));
    feeder.stalled.store(false, Ordering::Relaxed);
    let i = wait_for(&ev, i, 30, "a device event", |e| e["type"] == "device");
    let i = i.max(wait_device_steady(&ev, 40));
    feeder.say(&said(&home, "Turn on the kitchen light."));
    let on = wait_for(
        &ev,
        i,
        40,
        "device.on call after the stall",
        tool_call("device.on"),
    );
    // The words so far were heard while the user still spoke (the
    // recogniser works beside the capture loop).
    assert!(
        events(&ev)[i..on].iter().any(|e| e["type"] == "partial"),
        "no partial transcript before the final one"
    );
    let i = on;

    // The sound server restarts.
    drop(recorder);
    pulse.stop();
    std::thread::sleep(Duration::from_secs(1));
    pulse.start();
    recorder = Recorder::start(&pulse, samples.clone());
    let i = wait_for(&ev, i, 40, "the device back", |e| {
        e["type"] == "device" && e["status"].as_str().is_some_and(|s| s.starts_with("back"))
    });
    let i = i.max(wait_device_steady(&ev, 40));
    feeder.say(&said(&home, "Turn off the kitchen light."));
    let i = wait_for(
        &ev,
        i,
        40,
        "device.off call after the restart",
        tool_call("device.off"),
    );

    // Talked over, it falls silent: the help text is cut short.
    feeder.wait_said();
    wait_for(&ev, i, 30, "the reply done", |e| e["type"] == "tts_stop");
    feeder.say(&said(&home, "What can you do?"));
    let i = wait_for(&ev, i, 30, "the help reply starting", |e| {
        e["type"] == "tts_start"
    });
    let started = Instant::now();
    std::thread::sleep(Duration::from_millis(3000));
    feeder.say(&said(&home, "Stop."));
    wait_for(&ev, i, 30, "the stop word obeyed", |e| {
        e["type"] == "tts_stop" && e["reason"] == "stop_word"
    });
    std::thread::sleep(Duration::from_secs(2));
    let spoken = recorder.sound_after(started);
    // The whole help text is over ten seconds of speech.
    assert!(
        spoken < 7.0,
        "{spoken:.1} s of the reply played after it was told to stop"
    );
    assert!(
        listen.0.try_wait().expect("status").is_none(),
        "listen is still running"
    );
}

/// By default it waits for the wake word: a request said without it is
/// let go; with it, in one breath, it is acted on; the answer to its own
/// question needs no wake word.
#[test]
fn listen_waits_for_the_wake_word_and_takes_an_answer_without_it() {
    if !sound_server() {
        return;
    }
    let _live = live();
    let Some(home) = ainima_testkit::model_home(env!("CARGO_BIN_EXE_ainima"), "listen-wake") else {
        return;
    };
    let dir = ainima_testkit::temp_dir("pulse-wake");
    let mut pulse = desktop(&dir);
    pulse.start();
    let feeder = Feeder::start(dir.join("mic.fifo"));
    let ev = dir.join("events.jsonl");
    let listen = Listen::start(&pulse, &home, &ev, "wake");

    feeder.say(&said(&home, "Turn on the kitchen light."));
    let i = wait_for(&ev, 0, 30, "the request let go", |e| e["type"] == "ignored");
    feeder.say(&said(&home, "Hey ainima, what time is it?"));
    let i = wait_for(&ev, i, 30, "clock.time call", tool_call("clock.time"));
    assert!(
        !events(&ev)[..i].iter().any(tool_call("device.on")),
        "acted on a request not addressed to it"
    );
    let i = wait_for(&ev, i, 30, "its reply", |e| e["type"] == "tts_stop");
    // A breath after its reply (the canceller's suppression right after
    // its voice is issue 12's).
    std::thread::sleep(Duration::from_secs(1));
    feeder.say(&said(&home, "Hey ainima, set a timer."));
    let i = wait_for(&ev, i, 30, "its question", |e| {
        e["type"] == "reply" && e["text"].as_str().is_some_and(|t| t.ends_with('?'))
    });
    let i = wait_for(&ev, i, 30, "the question said", |e| e["type"] == "tts_stop");
    // Past the 5 s the wake word opened, within the 8 s after the
    // question: the follow-up alone lets it in.
    let woke = events(&ev)
        .iter()
        .rev()
        .find(|e| e["type"] == "wake")
        .and_then(|e| e["t"].as_f64())
        .expect("a wake event");
    let asked = events(&ev)[i]["t"].as_f64().expect("t");
    std::thread::sleep(Duration::from_secs_f64((woke + 6.0 - asked).max(0.0)));
    feeder.say(&said(&home, "Five minutes."));
    wait_for(&ev, i, 30, "the timer started", tool_call("timer.start"));
    let wakes = events(&ev).iter().filter(|e| e["type"] == "wake").count();
    assert_eq!(wakes, 2, "the wake word was heard twice");
    drop(listen);
}

/// Push to talk: speech without a press is let go; Enter, then the
/// request, is acted on.
#[test]
fn listen_with_push_to_talk_hears_only_after_enter() {
    if !sound_server() {
        return;
    }
    let _live = live();
    let Some(home) = ainima_testkit::model_home(env!("CARGO_BIN_EXE_ainima"), "listen-push") else {
        return;
    };
    let dir = ainima_testkit::temp_dir("pulse-push");
    let mut pulse = desktop(&dir);
    pulse.start();
    let feeder = Feeder::start(dir.join("mic.fifo"));
    let ev = dir.join("events.jsonl");
    let mut listen = Listen::start(&pulse, &home, &ev, "push-to-talk");
    feeder.say(&said(&home, "What time is it?"));
    let i = wait_for(&ev, 0, 30, "the request let go", |e| e["type"] == "ignored");
    let mut stdin = listen.0.stdin.take().expect("stdin");
    stdin.write_all(b"\n").expect("Enter");
    stdin.flush().expect("Enter");
    let i = wait_for(&ev, i, 10, "the push", |e| {
        e["type"] == "wake" && e["by"] == "push"
    });
    feeder.say(&said(&home, "What time is it?"));
    wait_for(&ev, i, 30, "clock.time call", tool_call("clock.time"));
    assert!(
        !events(&ev)[..i].iter().any(tool_call("clock.time")),
        "acted before the push"
    );
}

/// Regression (listen_reopened_the_device_on_an_xrun): CI at 5bf0b35 cut
/// "what time is it" to "and visit": the machine was too busy for a
/// moment mid-request, the sound server's stream had an xrun, and any
/// stream error reopened the device, losing half a second of the words.
/// Now a glitch the backend recovers from is told on the terminal and the
/// conversation goes on: the machine stops for 300 ms while it waits,
/// while it answers, and in the middle of a request, and the request is
/// still heard whole.
#[test]
fn listen_keeps_a_request_through_a_busy_moment() {
    if !sound_server() {
        return;
    }
    let _live = live();
    let Some(home) = ainima_testkit::model_home(env!("CARGO_BIN_EXE_ainima"), "listen-busy") else {
        return;
    };
    let dir = ainima_testkit::temp_dir("pulse-busy");
    let mut pulse = desktop(&dir);
    pulse.start();
    let feeder = Feeder::start(dir.join("mic.fifo"));
    let ev = dir.join("events.jsonl");
    let listen = Listen::start(&pulse, &home, &ev, "always");
    std::thread::sleep(Duration::from_secs(2));
    listen.stall(0.3);
    std::thread::sleep(Duration::from_secs(1));
    feeder.say(&said(&home, "Turn on the kitchen light."));
    let i = wait_for(&ev, 0, 30, "its reply", |e| e["type"] == "tts_start");
    listen.stall(0.3);
    let i = wait_for(&ev, i, 30, "the reply done", |e| e["type"] == "tts_stop");
    std::thread::sleep(Duration::from_secs(1));
    feeder.say(&said(&home, "What time is it?"));
    // Mid-request, half a second in (the words go on into the sound
    // server meanwhile).
    std::thread::sleep(Duration::from_millis(500));
    listen.stall(0.3);
    wait_for(&ev, i, 30, "clock.time call", tool_call("clock.time"));
    let all = events(&ev);
    assert!(
        all.iter().any(tool_call("device.on")),
        "the first request was not acted on"
    );
    let device: Vec<&Value> = all.iter().filter(|e| e["type"] == "device").collect();
    assert!(device.is_empty(), "the device was reopened: {device:?}");
    // The stalls were glitches the backend recovered from, and the person
    // was told (were there none, this test would test nothing).
    let printed = listen.printed();
    assert!(
        printed.contains("the sound server skipped"),
        "no glitch told; printed:\n{printed}"
    );
}
