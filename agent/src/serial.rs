//! Hardware over serial ports: a small line protocol, one command a line
//! (`BREW drink=latte size=large shots=2`), one answer a line (`OK ...` or
//! `ERR ...`), with a timeout; a device may also report on its own at any
//! time (`EVENT Your large latte is ready.`), and the report goes to
//! whoever [`LineDevice::report_to`] names. Only ports on the allow-list
//! are opened.
//! [`simulate`] runs the built-in skills' coffee machine and robot on the
//! other end of a port, so tests drive real serial I/O through a
//! pseudo-terminal pair (socat) without hardware.

// The serial port itself is native only: in the browser what is left is the
// line protocol and the simulated device.
#![cfg_attr(target_arch = "wasm32", allow(unused_imports, dead_code))]

use std::io::{BufRead, BufReader, Write};
// (BufRead for `simulate`, the far end.)
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::{Error, Result};

/// A device speaking the line protocol, over whatever carries it (a serial
/// port, HID reports).
pub trait LineDevice: Send + Sync + std::fmt::Debug {
    /// Sends one command line; the device's `OK` answer (without the `OK`);
    /// an `ERR` answer is an error that will not change by itself.
    fn send(&self, line: &str) -> Result<String>;

    /// Where the device's own reports go (`EVENT` lines, as plain text);
    /// a device that never reports ignores this.
    fn report_to(&self, report: Report) {
        let _ = report;
    }
}

/// What is done with a device's report.
pub type Report = Arc<dyn Fn(String) + Send + Sync>;

/// Longest report kept, in characters (the rest is cut).
pub const MAX_REPORT_CHARS: usize = 200;

/// A report as words fit to say: control characters dropped, at most
/// [`MAX_REPORT_CHARS`]; `None` when nothing is left.
pub fn clean_report(text: &str) -> Option<String> {
    let clean: String = text
        .trim()
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_REPORT_CHARS)
        .collect();
    let clean = clean.trim().to_string();
    (!clean.is_empty()).then_some(clean)
}

/// The simulated coffee machine and robot in process, for sessions and
/// demos without hardware: the same answers [`simulate`] gives over a port.
#[derive(Debug, Clone, Default)]
pub struct Simulated;

impl LineDevice for Simulated {
    fn send(&self, line: &str) -> Result<String> {
        let answer = respond(line);
        match answer.split_once(' ').unwrap_or((answer.as_str(), "")) {
            ("OK", rest) => Ok(rest.to_string()),
            _ if answer == "OK" => Ok(String::new()),
            (_, rest) => Err(refused("simulated", rest.to_string(), false)),
        }
    }
}

/// A device on a serial port. The port stays open between commands (a
/// reader thread takes the answers and the reports); one that fails or
/// does not answer is opened afresh for the next command.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Clone)]
pub struct SerialDevice {
    /// The port (`/dev/ttyUSB0`, a pty).
    pub path: String,
    /// Baud rate.
    pub baud: u32,
    /// How long to wait for the answer.
    pub timeout: Duration,
    link: Arc<Mutex<Option<Link>>>,
    report: Arc<Mutex<Option<Report>>>,
}

#[cfg(not(target_arch = "wasm32"))]
impl std::fmt::Debug for SerialDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SerialDevice")
            .field("path", &self.path)
            .field("baud", &self.baud)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

#[cfg(not(target_arch = "wasm32"))]
/// An open port: the writing half, and the answers its reader took.
struct Link {
    port: Box<dyn serialport::SerialPort>,
    answers: Receiver<String>,
    /// Cleared when the link is dropped: its reader ends.
    alive: Arc<AtomicBool>,
}

#[cfg(not(target_arch = "wasm32"))]
impl Drop for Link {
    fn drop(&mut self) {
        self.alive.store(false, Ordering::Release);
    }
}

/// How often a reader looks up from the port to see whether its link is
/// still wanted.
const READ_TICK: Duration = Duration::from_millis(200);
/// Longest line a device may send, in bytes; a longer one is dropped.
pub const MAX_LINE: usize = 4096;
/// At most one report in this time...
const REPORT_EVERY: Duration = Duration::from_secs(1);
/// ...and the same report not again within this time.
const REPORT_REPEAT: Duration = Duration::from_secs(60);

fn refused(path: &str, message: impl Into<String>, retryable: bool) -> Error {
    Error::Delivery {
        target: path.to_string(),
        message: message.into(),
        retryable,
    }
}

/// A command line: words and `key=value` pairs, no line breaks.
pub fn command_line(verb: &str, args: &[(&str, String)]) -> Result<String> {
    let clean = |s: &str| !s.is_empty() && !s.contains(['\n', '\r', ' ', '=']);
    if !clean(verb)
        || args
            .iter()
            .any(|(k, v)| !clean(k) || v.contains(['\n', '\r']))
    {
        return Err(Error::BadArgument {
            tool: verb.to_string(),
            path: String::new(),
            message: "serial commands are one line of plain words".into(),
        });
    }
    let mut line = verb.to_uppercase();
    for (k, v) in args {
        line.push_str(&format!(" {k}={}", v.replace(' ', "_")));
    }
    Ok(line)
}

#[cfg(not(target_arch = "wasm32"))]
impl LineDevice for SerialDevice {
    fn send(&self, line: &str) -> Result<String> {
        self.exchange(line)
    }

    fn report_to(&self, report: Report) {
        *self.report.lock().unwrap_or_else(|p| p.into_inner()) = Some(report);
        // Listen from now on, if the port is there (else from the first
        // command).
        let mut link = self.link.lock().unwrap_or_else(|p| p.into_inner());
        if link.is_none() {
            *link = self.open_link().ok();
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl SerialDevice {
    /// A device at 115200 baud with a 2 s timeout, if `path` is allowed.
    pub fn open_allowed(path: &str, allow: &[String]) -> Result<SerialDevice> {
        let canon = |p: &str| {
            std::fs::canonicalize(p)
                .map(|c| c.display().to_string())
                .unwrap_or_else(|_| p.to_string())
        };
        let want = canon(path);
        if !allow.iter().any(|a| canon(a) == want) {
            return Err(refused(path, "the port is not on the allow-list", false));
        }
        Ok(SerialDevice {
            path: path.to_string(),
            baud: 115_200,
            timeout: Duration::from_secs(2),
            link: Arc::default(),
            report: Arc::default(),
        })
    }

    /// Sends one command line and returns the device's `OK` answer (without
    /// the `OK`); an `ERR` answer is an error that will not change by itself.
    pub fn send(&self, line: &str) -> Result<String> {
        self.exchange(line)
    }

    /// Opens the port and starts its reader: `EVENT` lines are reports,
    /// every other line an answer.
    fn open_link(&self) -> Result<Link> {
        let port = serialport::new(&self.path, self.baud)
            .timeout(READ_TICK)
            .open()
            .map_err(|e| refused(&self.path, format!("cannot open: {e}"), true))?;
        let reader = port
            .try_clone()
            .map_err(|e| refused(&self.path, format!("cannot open: {e}"), true))?;
        let (tx, answers) = channel();
        let alive = Arc::new(AtomicBool::new(true));
        let (still, report) = (alive.clone(), self.report.clone());
        std::thread::Builder::new()
            .name("ainima-serial".into())
            .spawn(move || {
                use std::io::Read;
                let mut reader = reader;
                let mut pending: Vec<u8> = Vec::new();
                let mut chunk = [0u8; 256];
                // A line longer than MAX_LINE is dropped up to its end.
                let mut skipping = false;
                let mut last_report: Option<(std::time::Instant, String)> = None;
                while still.load(Ordering::Acquire) {
                    let n = match reader.read(&mut chunk) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        Err(_) => break,
                    };
                    for &b in &chunk[..n] {
                        if b != b'\n' {
                            if pending.len() >= MAX_LINE {
                                skipping = true;
                                pending.clear();
                            }
                            if !skipping {
                                pending.push(b);
                            }
                            continue;
                        }
                        let bytes = std::mem::take(&mut pending);
                        if std::mem::take(&mut skipping) {
                            continue;
                        }
                        // Bytes that are not UTF-8 (line noise, a wrong
                        // baud rate) never end the reader.
                        let got = String::from_utf8_lossy(&bytes);
                        let got = got.trim();
                        if let Some(said) = got.strip_prefix("EVENT") {
                            let Some(said) = clean_report(said) else {
                                continue;
                            };
                            // At most one report a second, and the same
                            // one not again within a minute: a device
                            // cannot talk over everything.
                            let now = std::time::Instant::now();
                            let flood = last_report.as_ref().is_some_and(|(t, last)| {
                                let since = now.duration_since(*t);
                                since < REPORT_EVERY || (since < REPORT_REPEAT && *last == said)
                            });
                            if flood {
                                continue;
                            }
                            last_report = Some((now, said.clone()));
                            let to = report.lock().unwrap_or_else(|p| p.into_inner()).clone();
                            if let Some(to) = to {
                                to(said);
                            }
                        } else if !got.is_empty() && tx.send(got.to_string()).is_err() {
                            break;
                        }
                    }
                }
                // Gone (closed, unplugged): the next command opens afresh.
                still.store(false, Ordering::Release);
            })
            .map_err(|e| refused(&self.path, format!("a reader thread: {e}"), true))?;
        Ok(Link {
            port,
            answers,
            alive,
        })
    }

    fn exchange(&self, line: &str) -> Result<String> {
        let mut guard = self.link.lock().unwrap_or_else(|p| p.into_inner());
        // A link whose reader ended (the port closed) is opened afresh.
        if guard
            .as_ref()
            .is_none_or(|l| !l.alive.load(Ordering::Acquire))
        {
            *guard = None;
            *guard = Some(self.open_link()?);
        }
        let Some(link) = guard.as_mut() else {
            return Err(refused(&self.path, "cannot open", true));
        };
        // An answer that came too late for an earlier command is not this
        // one's.
        while link.answers.try_recv().is_ok() {}
        let written = link
            .port
            .write_all(format!("{line}\n").as_bytes())
            .and_then(|()| link.port.flush());
        if let Err(e) = written {
            *guard = None;
            return Err(refused(&self.path, format!("write: {e}"), true));
        }
        // The first OK or ERR line is the answer; anything else meanwhile
        // (noise, a line cut by a reset) is passed over.
        let deadline = std::time::Instant::now() + self.timeout;
        let mut other = None;
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let answer = match link.answers.recv_timeout(left) {
                Ok(a) => a,
                Err(e) => {
                    // Opened afresh for the next command.
                    *guard = None;
                    let why = match e {
                        std::sync::mpsc::RecvTimeoutError::Timeout => "timed out",
                        std::sync::mpsc::RecvTimeoutError::Disconnected => "the port closed",
                    };
                    let said = other
                        .map(|o: String| format!(" (it sent {o:?})"))
                        .unwrap_or_default();
                    return Err(refused(&self.path, format!("no answer: {why}{said}"), true));
                }
            };
            let answer = answer.trim();
            if let Some(rest) = answer.strip_prefix("OK") {
                return Ok(rest.trim().to_string());
            } else if let Some(rest) = answer.strip_prefix("ERR") {
                return Err(refused(&self.path, rest.trim().to_string(), false));
            }
            other = Some(answer.chars().take(80).collect());
        }
    }
}

/// The simulated devices' answer to one command line.
pub fn respond(line: &str) -> String {
    let mut words = line.split_whitespace();
    let verb = words.next().unwrap_or_default();
    let args: std::collections::BTreeMap<&str, &str> =
        words.filter_map(|w| w.split_once('=')).collect();
    let get = |k: &str| args.get(k).copied();
    match verb {
        "BREW" => {
            let Some(drink) = get("drink") else {
                return "ERR which drink?".into();
            };
            let size = get("size").unwrap_or("medium");
            if !["small", "medium", "large"].contains(&size) {
                return format!("ERR no {size} cups");
            }
            match get("shots").unwrap_or("1").parse::<u32>() {
                Ok(n @ 1..=4) => format!(
                    "OK brewing {size} {} with {n} shot(s)",
                    drink.replace('_', " ")
                ),
                _ => "ERR between 1 and 4 shots".into(),
            }
        }
        "MOVE" => match (
            get("direction"),
            get("distance").and_then(|d| d.parse::<f64>().ok()),
        ) {
            (Some(dir @ ("forward" | "back")), Some(d)) if d > 0.0 && d <= 5.0 => {
                format!("OK moved {dir} {d}")
            }
            (Some(_), Some(_)) => "ERR out of range".into(),
            _ => "ERR direction and distance needed".into(),
        },
        "TURN" => match (
            get("side"),
            get("angle").and_then(|a| a.parse::<f64>().ok()),
        ) {
            (Some(side), Some(a)) if (0.0..=360.0).contains(&a) => format!("OK turned {side} {a}"),
            _ => "ERR side and angle needed".into(),
        },
        "STOP" => "OK stopped".into(),
        "PING" => "OK pong".into(),
        _ => format!("ERR unknown command {verb:?}"),
    }
}

/// How long the simulated coffee machine takes to brew.
pub const BREW_TIME: Duration = Duration::from_secs(1);

#[cfg(not(target_arch = "wasm32"))]
/// Serves [`respond`] on the serial port at `path` until the port closes or
/// `lines` commands were answered (0: no limit); a drink brewed is
/// reported ready ([`BREW_TIME`] after its order is answered). Runs on
/// the caller's thread; start it on one of its own.
pub fn simulate(path: &Path, lines: usize) -> Result<()> {
    let port = serialport::new(path.to_string_lossy(), 115_200)
        .timeout(Duration::from_secs(3600))
        .open()
        .map_err(|e| {
            refused(
                &path.display().to_string(),
                format!("cannot open: {e}"),
                true,
            )
        })?;
    let mut out = port
        .try_clone()
        .map_err(|e| refused(&path.display().to_string(), e.to_string(), true))?;
    let mut reader = BufReader::new(port);
    let mut served = 0;
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return Ok(()),
            Ok(_) => {}
        }
        if line.trim().is_empty() {
            continue;
        }
        let answer = respond(line.trim());
        if out
            .write_all(format!("{answer}\n").as_bytes())
            .and_then(|()| out.flush())
            .is_err()
        {
            return Ok(());
        }
        // The coffee machine says when a drink it brews is ready.
        if let Some(what) = answer.strip_prefix("OK brewing ") {
            std::thread::sleep(BREW_TIME);
            let drink = what.split(" with ").next().unwrap_or(what);
            let report = format!("EVENT Your {drink} is ready.\n");
            if out
                .write_all(report.as_bytes())
                .and_then(|()| out.flush())
                .is_err()
            {
                return Ok(());
            }
        }
        served += 1;
        if lines != 0 && served >= lines {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_cleaned_before_anyone_says_them() {
        let check = |said: &str, expect: Option<&str>| {
            assert_eq!(clean_report(said).as_deref(), expect, "{said:?}")
        };
        check(" Your latte is ready. ", Some("Your latte is ready."));
        check("\u{1b}[2Jready\u{7}", Some("[2Jready"));
        check("   \t ", None);
        check(&"a".repeat(5000), Some(&"a".repeat(MAX_REPORT_CHARS)));
    }

    #[test]
    fn the_simulated_devices_answer() {
        assert_eq!(
            respond("BREW drink=flat_white size=large shots=2"),
            "OK brewing large flat white with 2 shot(s)"
        );
        assert_eq!(
            respond("BREW drink=latte shots=6"),
            "ERR between 1 and 4 shots"
        );
        assert_eq!(respond("BREW"), "ERR which drink?");
        assert_eq!(
            respond("MOVE direction=forward distance=2"),
            "OK moved forward 2"
        );
        assert_eq!(
            respond("MOVE direction=forward distance=20"),
            "ERR out of range"
        );
        assert_eq!(respond("TURN side=left angle=90"), "OK turned left 90");
        assert_eq!(
            respond("SELFDESTRUCT"),
            "ERR unknown command \"SELFDESTRUCT\""
        );
        assert_eq!(
            command_line("brew", &[("drink", "flat white".into())]).expect("ok"),
            "BREW drink=flat_white"
        );
        assert!(command_line("brew\nSTOP", &[]).is_err());
        assert!(command_line("brew", &[("x", "a\nSTOP".into())]).is_err());
    }
}
