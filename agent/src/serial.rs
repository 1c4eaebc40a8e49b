//! Hardware over serial ports: a small line protocol, one command a line
//! (`BREW drink=latte size=large shots=2`), one answer a line (`OK ...` or
//! `ERR ...`), with a timeout. Only ports on the allow-list are opened.
//! [`simulate`] runs the built-in skills' coffee machine and robot on the
//! other end of a port, so tests drive real serial I/O through a
//! pseudo-terminal pair (socat) without hardware.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::time::Duration;

use crate::{Error, Result};

/// A device speaking the line protocol, over whatever carries it (a serial
/// port, HID reports).
pub trait LineDevice: Send + Sync + std::fmt::Debug {
    /// Sends one command line; the device's `OK` answer (without the `OK`);
    /// an `ERR` answer is an error that will not change by itself.
    fn send(&self, line: &str) -> Result<String>;
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

/// A device on a serial port.
#[derive(Debug, Clone)]
pub struct SerialDevice {
    /// The port (`/dev/ttyUSB0`, a pty).
    pub path: String,
    /// Baud rate.
    pub baud: u32,
    /// How long to wait for the answer.
    pub timeout: Duration,
}

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

impl LineDevice for SerialDevice {
    fn send(&self, line: &str) -> Result<String> {
        self.exchange(line)
    }
}

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
        })
    }

    /// Sends one command line and returns the device's `OK` answer (without
    /// the `OK`); an `ERR` answer is an error that will not change by itself.
    pub fn send(&self, line: &str) -> Result<String> {
        self.exchange(line)
    }

    fn exchange(&self, line: &str) -> Result<String> {
        let mut port = serialport::new(&self.path, self.baud)
            .timeout(self.timeout)
            .open()
            .map_err(|e| refused(&self.path, format!("cannot open: {e}"), true))?;
        port.write_all(format!("{line}\n").as_bytes())
            .and_then(|()| port.flush())
            .map_err(|e| refused(&self.path, format!("write: {e}"), true))?;
        let mut answer = String::new();
        BufReader::new(port)
            .read_line(&mut answer)
            .map_err(|e| refused(&self.path, format!("no answer: {e}"), true))?;
        let answer = answer.trim();
        if let Some(rest) = answer.strip_prefix("OK") {
            Ok(rest.trim().to_string())
        } else if let Some(rest) = answer.strip_prefix("ERR") {
            Err(refused(&self.path, rest.trim().to_string(), false))
        } else {
            Err(refused(
                &self.path,
                format!("unexpected answer {answer:?}"),
                true,
            ))
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

/// Serves [`respond`] on the serial port at `path` until the port closes or
/// `lines` commands were answered (0: no limit). Runs on the caller's
/// thread; start it on one of its own.
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
