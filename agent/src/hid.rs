//! Hardware over USB HID: the serial line protocol (one command a line, one
//! `OK ...` or `ERR ...` answer a line, see [`crate::serial`]) carried in
//! HID reports, for devices without a serial port. Each report is
//! `[report id, length, bytes..., zero padding]`; a line may span several
//! reports and ends with `\n`. Only devices whose vendor and product ids are
//! on the allow-list are opened.
//!
//! The framing is plain code, always built and tested; talking to devices
//! (through hidapi, Linux's hidraw read directly, no libudev needed) is the
//! `hid` feature.

use crate::{Error, Result};

/// Bytes in a report after the report id: the usual full-speed USB HID
/// report.
pub const REPORT_LEN: usize = 64;

/// A device on the allow-list: vendor and product id, and a serial number
/// when several devices of one kind are attached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HidId {
    /// USB vendor id.
    pub vendor: u16,
    /// USB product id.
    pub product: u16,
    /// The device's serial number, if only that unit is meant.
    pub serial: Option<String>,
}

impl HidId {
    /// Parses `VVVV:PPPP` or `VVVV:PPPP:SERIAL` (hex ids, as `lsusb` shows).
    pub fn parse(s: &str) -> Result<HidId> {
        let bad = || Error::BadArgument {
            tool: "hid".into(),
            path: String::new(),
            message: format!("{s:?} is not VENDOR:PRODUCT[:SERIAL] in hex (as lsusb shows)"),
        };
        let mut parts = s.splitn(3, ':');
        let hex = |p: Option<&str>| {
            p.filter(|p| !p.is_empty() && p.len() <= 4)
                .and_then(|p| u16::from_str_radix(p, 16).ok())
        };
        let vendor = hex(parts.next()).ok_or_else(bad)?;
        let product = hex(parts.next()).ok_or_else(bad)?;
        let serial = parts.next().map(str::to_string);
        if serial.as_deref() == Some("") {
            return Err(bad());
        }
        Ok(HidId {
            vendor,
            product,
            serial,
        })
    }

    /// Whether a device with these ids is this one.
    pub fn matches(&self, vendor: u16, product: u16, serial: Option<&str>) -> bool {
        self.vendor == vendor
            && self.product == product
            && self.serial.as_deref().is_none_or(|s| Some(s) == serial)
    }
}

/// The output reports carrying `line` (a newline is added), each
/// `1 + REPORT_LEN` bytes: `[report_id, n, n bytes, zeros]`.
pub fn frames(report_id: u8, line: &str) -> Result<Vec<Vec<u8>>> {
    if line.contains(['\n', '\r', '\0']) {
        return Err(Error::BadArgument {
            tool: "hid".into(),
            path: String::new(),
            message: "a HID command is one line".into(),
        });
    }
    let mut bytes = line.as_bytes().to_vec();
    bytes.push(b'\n');
    Ok(bytes
        .chunks(REPORT_LEN - 1)
        .map(|chunk| {
            let mut report = vec![0u8; 1 + REPORT_LEN];
            report[0] = report_id;
            report[1] = chunk.len() as u8; // at most REPORT_LEN - 1
            report[2..2 + chunk.len()].copy_from_slice(chunk);
            report
        })
        .collect())
}

/// Gathers input reports into answer lines.
#[derive(Debug, Default)]
pub struct Reassembler {
    pending: Vec<u8>,
}

/// The longest answer line kept; a device that never ends its line is an
/// error, not unbounded memory.
pub const MAX_LINE: usize = 4096;

impl Reassembler {
    /// Takes one input report (without the report id, as hidapi returns it
    /// for unnumbered reports: `[n, bytes...]`); a whole line when one ends.
    pub fn push(&mut self, report: &[u8]) -> Result<Option<String>> {
        let bad = |m: &str| Error::ToolFailed {
            tool: "hid".into(),
            message: m.to_string(),
        };
        let Some((&n, rest)) = report.split_first() else {
            return Ok(None);
        };
        let data = rest
            .get(..n as usize)
            .ok_or_else(|| bad("a report longer than its bytes"))?;
        self.pending.extend_from_slice(data);
        if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line[..end]);
            return Ok(Some(text.trim_end_matches('\r').to_string()));
        }
        if self.pending.len() > MAX_LINE {
            self.pending.clear();
            return Err(bad("the device's answer never ended"));
        }
        Ok(None)
    }
}

#[cfg(feature = "hid")]
pub use device::HidDevice;

#[cfg(feature = "hid")]
mod device {
    use std::time::{Duration, Instant};

    use super::{HidId, REPORT_LEN, Reassembler, frames};
    use crate::{Error, Result};

    /// An allowed HID device speaking the line protocol.
    #[derive(Debug, Clone)]
    pub struct HidDevice {
        /// Which device.
        pub id: HidId,
        /// How long to wait for the answer.
        pub timeout: Duration,
    }

    fn refused(id: &HidId, message: impl Into<String>, retryable: bool) -> Error {
        Error::Delivery {
            target: format!("hid:{:04x}:{:04x}", id.vendor, id.product),
            message: message.into(),
            retryable,
        }
    }

    impl crate::serial::LineDevice for HidDevice {
        fn send(&self, line: &str) -> Result<String> {
            HidDevice::send(self, line)
        }
    }

    impl HidDevice {
        /// The device `id`, if it is on the allow-list (2 s timeout).
        pub fn open_allowed(id: &HidId, allow: &[HidId]) -> Result<HidDevice> {
            let listed = allow.iter().any(|a| {
                a.vendor == id.vendor
                    && a.product == id.product
                    && (a.serial.is_none() || a.serial == id.serial)
            });
            if !listed {
                return Err(refused(id, "the device is not on the allow-list", false));
            }
            Ok(HidDevice {
                id: id.clone(),
                timeout: Duration::from_secs(2),
            })
        }

        /// Allowed devices attached now.
        pub fn attached(allow: &[HidId]) -> Result<Vec<HidId>> {
            let api = hidapi::HidApi::new().map_err(|e| Error::ToolFailed {
                tool: "hid".into(),
                message: format!("cannot list HID devices: {e}"),
            })?;
            Ok(api
                .device_list()
                .filter(|d| {
                    allow
                        .iter()
                        .any(|a| a.matches(d.vendor_id(), d.product_id(), d.serial_number()))
                })
                .map(|d| HidId {
                    vendor: d.vendor_id(),
                    product: d.product_id(),
                    serial: d.serial_number().map(str::to_string),
                })
                .collect())
        }

        /// Sends one command line; the device's `OK` answer (without the
        /// `OK`); an `ERR` answer is an error that will not change by itself.
        pub fn send(&self, line: &str) -> Result<String> {
            let reports = frames(0, line)?;
            let api = hidapi::HidApi::new()
                .map_err(|e| refused(&self.id, format!("cannot use HID: {e}"), true))?;
            let dev = match &self.id.serial {
                Some(s) => api.open_serial(self.id.vendor, self.id.product, s),
                None => api.open(self.id.vendor, self.id.product),
            }
            .map_err(|e| {
                refused(
                    &self.id,
                    format!("not connected or not permitted: {e}"),
                    true,
                )
            })?;
            for r in &reports {
                dev.write(r)
                    .map_err(|e| refused(&self.id, format!("write: {e}"), true))?;
            }
            let deadline = Instant::now() + self.timeout;
            let mut answer = Reassembler::default();
            let mut buf = [0u8; REPORT_LEN];
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(refused(&self.id, "no answer in time", true));
                }
                let n = dev
                    .read_timeout(&mut buf, left.as_millis().min(i32::MAX as u128) as i32)
                    .map_err(|e| refused(&self.id, format!("read: {e}"), true))?;
                if n == 0 {
                    continue;
                }
                if let Some(line) = answer.push(&buf[..n])? {
                    return match line.split_once(' ').unwrap_or((&line, "")) {
                        ("OK", rest) => Ok(rest.to_string()),
                        ("ERR", rest) => Err(refused(&self.id, rest.to_string(), false)),
                        _ if line == "OK" => Ok(String::new()),
                        _ => Err(refused(
                            &self.id,
                            format!("unexpected answer {line:?}"),
                            true,
                        )),
                    };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_as_lsusb_shows_them() {
        assert_eq!(
            HidId::parse("16c0:05df").expect("ids"),
            HidId {
                vendor: 0x16c0,
                product: 0x05df,
                serial: None
            }
        );
        let with_serial = HidId::parse("16C0:05DF:A1B2").expect("ids");
        assert_eq!(with_serial.serial.as_deref(), Some("A1B2"));
        assert!(with_serial.matches(0x16c0, 0x05df, Some("A1B2")));
        assert!(!with_serial.matches(0x16c0, 0x05df, Some("other")));
        assert!(!with_serial.matches(0x16c0, 0x05df, None));
        for bad in ["", "16c0", "16c0:", "xyz:05df", "16c00:1", "16c0:05df:"] {
            assert!(HidId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn a_line_is_framed_into_reports_and_reassembled() {
        for line in [
            String::new(),
            "BREW drink=latte size=large shots=2".to_string(),
            "x".repeat(REPORT_LEN - 2), // with its newline: exactly one report
            "x".repeat(REPORT_LEN - 1), // the newline spills into a second
            "MOVE ".to_string() + &"y".repeat(300),
        ] {
            let reports = frames(0, &line).expect("one line");
            assert_eq!(
                reports.len(),
                (line.len() + 1).div_ceil(REPORT_LEN - 1),
                "{line}"
            );
            assert!(
                reports
                    .iter()
                    .all(|r| r.len() == 1 + REPORT_LEN && r[0] == 0)
            );
            let mut back = Reassembler::default();
            let mut got = None;
            for (i, r) in reports.iter().enumerate() {
                let out = back.push(&r[1..]).expect("reassembles");
                assert_eq!(out.is_some(), i + 1 == reports.len());
                got = got.or(out);
            }
            assert_eq!(got.as_deref(), Some(line.as_str()));
        }
        assert!(frames(0, "two\nlines").is_err());
    }

    #[test]
    fn bad_reports_are_errors_not_panics() {
        let mut r = Reassembler::default();
        assert_eq!(r.push(&[]).expect("empty"), None);
        assert!(r.push(&[200, 1, 2]).is_err(), "a length past the report");
        let chunk = [63u8; 64];
        let mut failed = false;
        for _ in 0..100 {
            if r.push(&chunk).is_err() {
                failed = true;
                break;
            }
        }
        assert!(failed, "an endless answer is cut off");
        let mut crlf = vec![4u8];
        crlf.extend_from_slice(b"OK\r\n");
        assert_eq!(r.push(&crlf).expect("a line").as_deref(), Some("OK"));
    }

    #[cfg(feature = "hid")]
    #[test]
    fn only_allowed_devices_are_opened_and_an_absent_one_is_a_retryable_error() {
        // Ids no real device uses.
        let coffee = HidId::parse("f055:c0ff").expect("ids");
        let other = HidId::parse("046d:c52b").expect("ids");
        let e = HidDevice::open_allowed(&other, std::slice::from_ref(&coffee))
            .expect_err("not allowed");
        assert!(
            matches!(
                e,
                Error::Delivery {
                    retryable: false,
                    ..
                }
            ),
            "{e}"
        );
        let dev = HidDevice::open_allowed(&coffee, std::slice::from_ref(&coffee)).expect("allowed");
        // No such device is attached here: hidapi looks, finds none, says so.
        let listed = HidDevice::attached(std::slice::from_ref(&coffee)).expect("lists");
        assert!(listed.is_empty(), "{listed:?}");
        let e = dev.send("BREW drink=latte").expect_err("absent");
        assert!(
            matches!(
                e,
                Error::Delivery {
                    retryable: true,
                    ..
                }
            ),
            "{e}"
        );
        assert!(e.to_string().contains("not connected"), "{e}");
    }
}
