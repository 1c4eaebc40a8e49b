//! What the built-in skills do when their intent is complete: clock, timers
//! and alarms, named devices, apps and media, lists and notes, arithmetic
//! and unit conversion, and the external and hardware actions (messages,
//! coffee, robot), which are handed on as [`Action`]s for the agent to run
//! with approval. State lives here, in memory, so a conversation can check
//! what it did ("how much time is left?").

use std::collections::BTreeMap;

use ainima_fallbacks::date::Date;
use serde::Serialize;

use crate::dialogue::Frame;

/// The time a turn happens at, from the caller's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Now {
    /// Today's date.
    pub date: Date,
    /// Seconds since midnight.
    pub seconds: u32,
}

impl Now {
    /// The time `unix_seconds` after 1970-01-01 00:00 UTC.
    pub fn from_unix(unix_seconds: i64) -> Now {
        let days = unix_seconds.div_euclid(86_400);
        let base = Date::new(1970, 1, 1).unwrap_or(Date {
            year: 1970,
            month: 1,
            day: 1,
        });
        Now {
            date: base.add_days(days),
            seconds: unix_seconds.rem_euclid(86_400) as u32,
        }
    }

    /// Seconds since 1970-01-01 00:00.
    pub fn absolute(&self) -> i64 {
        self.date.days_since_epoch() * 86_400 + i64::from(self.seconds)
    }
}

/// An action for the agent: a tool and its arguments.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Action {
    /// The tool (the intent's `action`).
    pub tool: String,
    /// Arguments, from the slots.
    pub args: BTreeMap<String, serde_json::Value>,
    /// Whether it leaves this machine or moves hardware (the agent asks for
    /// approval and queues it).
    pub external: bool,
}

/// What running an action produced.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Values for the reply's placeholders (`{result}`, `{time}`...).
    pub vars: BTreeMap<String, String>,
    /// Refusal instead of the reply.
    pub refuse: Option<String>,
}

const WEEKDAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

fn clock_text(seconds: u32) -> String {
    let (h, m) = (seconds / 3600, seconds / 60 % 60);
    let (h12, half) = match h {
        0 => (12, "am"),
        1..=11 => (h, "am"),
        12 => (12, "pm"),
        _ => (h - 12, "pm"),
    };
    format!("{h12}:{m:02} {half}")
}

fn date_text(d: Date) -> String {
    format!(
        "{} {} {}",
        WEEKDAYS[d.weekday() as usize % 7],
        MONTHS[(d.month as usize).clamp(1, 12) - 1],
        d.day
    )
}

fn number_text(x: f64) -> String {
    if (x - x.round()).abs() < 1e-9 && x.abs() < 1e15 {
        format!("{}", x.round() as i64)
    } else {
        let s = format!("{x:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn duration_text(seconds: i64) -> String {
    let v = ainima_fallbacks::Value::Duration {
        seconds: seconds.max(0) as f64,
    };
    v.to_string()
}

/// Units: (name, dimension, factor to the base unit).
const UNITS: [(&str, &str, f64); 13] = [
    ("kilometers", "length", 1000.0),
    ("miles", "length", 1609.344),
    ("meters", "length", 1.0),
    ("feet", "length", 0.3048),
    ("inches", "length", 0.0254),
    ("centimeters", "length", 0.01),
    ("yards", "length", 0.9144),
    ("kilograms", "mass", 1.0),
    ("pounds", "mass", 0.453_592_37),
    ("grams", "mass", 0.001),
    ("ounces", "mass", 0.028_349_523_125),
    ("liters", "volume", 1.0),
    ("gallons", "volume", 3.785_411_784),
];

/// Converts between units; `None` across dimensions.
pub fn convert(amount: f64, from: &str, to: &str) -> Option<f64> {
    match (from, to) {
        ("celsius", "fahrenheit") => return Some(amount * 9.0 / 5.0 + 32.0),
        ("fahrenheit", "celsius") => return Some((amount - 32.0) * 5.0 / 9.0),
        (a, b) if a == b => return Some(amount),
        _ => {}
    }
    let f = UNITS.iter().find(|u| u.0 == from)?;
    let t = UNITS.iter().find(|u| u.0 == to)?;
    (f.1 == t.1).then(|| amount * f.2 / t.2)
}

/// A timer: when it ends (a running timer: seconds on the skills' clock,
/// `Now::absolute`; a paused one: seconds left), the length it was set
/// for, and the name it was given ("the pizza timer"), if any.
///
/// Kept as `[at, length]` or `[at, length, name]`, so timers kept before
/// names existed still load.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(from = "TimerKept", into = "TimerKept")]
pub struct Timer {
    /// End (running) or time left (paused), seconds.
    pub at: i64,
    /// The length it was set for, seconds.
    pub length: i64,
    /// Its name, lower case.
    pub name: Option<String>,
}

#[derive(Serialize, serde::Deserialize)]
#[serde(untagged)]
enum TimerKept {
    Named(i64, i64, String),
    Plain(i64, i64),
}

impl From<TimerKept> for Timer {
    fn from(k: TimerKept) -> Timer {
        match k {
            TimerKept::Named(at, length, name) => Timer {
                at,
                length,
                name: Some(name),
            },
            TimerKept::Plain(at, length) => Timer {
                at,
                length,
                name: None,
            },
        }
    }
}

impl From<Timer> for TimerKept {
    fn from(t: Timer) -> TimerKept {
        match t.name {
            Some(n) => TimerKept::Named(t.at, t.length, n),
            None => TimerKept::Plain(t.at, t.length),
        }
    }
}

/// Which timers a request means: those with the name it says (any case)
/// and the length it says, when it says them.
#[derive(Debug, Clone, Default, PartialEq)]
struct Which {
    name: Option<String>,
    length: Option<i64>,
    /// One timer, not named ("this timer"): acted on only when it is the
    /// only one.
    one: bool,
}

/// Words that stand where a timer's name does but name nothing: "stop
/// the timer for me", "set another timer".
const NOT_NAMES: &[&str] = &["me", "us", "you", "it", "another", "new", "a new"];

/// Words that stand where a timer's name does and mean one timer without
/// naming it: "cancel this timer", "the other timer". With more than one
/// timer the assistant asks which (regression: "cancel the other timer"
/// cancelled every timer). So are a lone article, preposition or
/// possessive, as the recogniser writes "a" or "the" ("Start at timer for
/// one minute.", "Set your timer for one hour.": a timer set unnamed, not
/// named "at"; "cancel your timer" asks which of several; regression
/// timer_named_by_a_misheard_article).
const ONE_OF: &[&str] = &[
    "this",
    "that",
    "other",
    "the other",
    "current",
    "one",
    "first",
    "second",
    "last",
    "next",
    "same",
    "a",
    "an",
    "the",
    "at",
    "to",
    "of",
    "on",
    "in",
    "for",
    "my",
    "your",
    "our",
    "their",
    "his",
    "her",
    "its",
];

/// The name a request gives a timer: lower case, filler phrases at its
/// end left out ("pizza please" is "pizza"); `None` for words that name
/// nothing ([`NOT_NAMES`]).
fn timer_name(said: &str) -> Option<String> {
    let mut name = said.trim().to_lowercase();
    while let Some(rest) = ainima_fallbacks::matcher::FILLERS.iter().find_map(|f| {
        name.strip_suffix(f)
            .filter(|r| r.is_empty() || r.ends_with(' '))
    }) {
        name = rest.trim_end().to_string();
    }
    (!name.is_empty() && !NOT_NAMES.contains(&name.as_str())).then_some(name)
}

impl Which {
    fn of(frame: &Frame) -> Which {
        let name = frame.text("name").and_then(|n| timer_name(&n));
        let one = name.as_deref().is_some_and(|n| ONE_OF.contains(&n));
        Which {
            name: name.filter(|_| !one),
            length: frame.number("length").map(|l| l.round() as i64),
            one,
        }
    }

    fn any(&self) -> bool {
        self.name.is_none() && self.length.is_none() && !self.one
    }

    fn picks(&self, t: &Timer) -> bool {
        self.name
            .as_ref()
            .is_none_or(|n| t.name.as_deref() == Some(n.as_str()))
            && self.length.is_none_or(|l| t.length == l)
    }

    /// What the request named: "pizza timer", "5 minute timer", "timer".
    fn what(&self) -> String {
        match (&self.name, self.length) {
            (Some(n), _) => format!("{n} timer"),
            (None, Some(l)) => format!("{} timer", length_text(l)),
            (None, None) => "timer".into(),
        }
    }

    /// "There is no pizza timer." and the like.
    fn none(&self, paused: bool) -> String {
        let what = self.what();
        if paused {
            format!("There is no paused {what}.")
        } else if self.any() {
            "There is no timer running.".into()
        } else {
            format!("There is no {what}.")
        }
    }
}

/// A length as said before "timer": "5 minute", "1 hour".
fn length_text(seconds: i64) -> String {
    let (n, unit) = if seconds % 3600 == 0 && seconds >= 3600 {
        (seconds / 3600, "hour")
    } else if seconds % 60 == 0 && seconds >= 60 {
        (seconds / 60, "minute")
    } else {
        (seconds, "second")
    };
    format!("{n} {unit}")
}

/// The built-in skills' state.
#[derive(Debug, Clone, Default)]
pub struct Skills {
    /// Running timers.
    pub timers: Vec<Timer>,
    /// Paused timers (`at` is the time left).
    pub paused: Vec<Timer>,
    /// The timers as they were before the last timer request, for
    /// [`Skills::undo`].
    before: Option<(Vec<Timer>, Vec<Timer>)>,
    /// Alarms: (date, seconds of the day).
    pub alarms: Vec<(Date, u32)>,
    /// Devices: name to "on" or "off", brightness and colour.
    pub devices: BTreeMap<String, BTreeMap<String, String>>,
    /// Open apps.
    pub apps: Vec<String>,
    /// Lists by name.
    pub lists: BTreeMap<String, Vec<String>>,
    /// Notes.
    pub notes: Vec<String>,
    /// Media: playing or not, volume.
    pub playing: bool,
    /// Volume, 0 to 100.
    pub volume: u32,
}

/// Timers and alarms still to come, as kept across restarts: times are
/// seconds on the skills' local clock (`Now::absolute`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pending {
    /// Each running timer.
    pub timers: Vec<Timer>,
    /// Each paused timer (`at` is the time left).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paused: Vec<Timer>,
    /// When each alarm rings.
    pub alarms: Vec<i64>,
}

/// Tools whose effect leaves the machine or moves hardware.
pub const EXTERNAL: &[&str] = &[
    "message.send",
    "coffee.order",
    "robot.move",
    "robot.turn",
    "robot.stop",
];

impl Skills {
    /// What has come due by `now`, in order: each timer that ended ("Your
    /// timer for 10 minutes is done.") and each alarm whose time came ("It's
    /// 7:30 am: your alarm."), taken off the list.
    pub fn due(&mut self, now: Now) -> Vec<String> {
        let t = now.absolute();
        let mut due: Vec<(i64, String)> = Vec::new();
        let mut rang: Vec<(i64, Option<String>)> = Vec::new();
        self.timers.retain(|timer| {
            if timer.at > t {
                return true;
            }
            rang.push((timer.length, timer.name.clone()));
            due.push((
                timer.at,
                match &timer.name {
                    Some(n) => format!("Your {n} timer is done."),
                    None => format!("Your timer for {} is done.", duration_text(timer.length)),
                },
            ));
            false
        });
        self.alarms.retain(|&(date, seconds)| {
            let at = Now { date, seconds }.absolute();
            if at > t {
                return true;
            }
            due.push((at, format!("It's {}: your alarm.", clock_text(seconds))));
            false
        });
        // A timer that rang is never brought back by an undo: it leaves
        // the snapshot too, found by what a change keeps, its length and
        // name (regression: an undo brought back a timer that had rung;
        // pruning the snapshot by end time instead lost one that had not).
        if let Some((timers, paused)) = &mut self.before {
            for (length, name) in rang {
                let same = |x: &Timer| x.length == length && x.name == name;
                if let Some(i) = timers.iter().position(same) {
                    timers.remove(i);
                } else if let Some(i) = paused.iter().position(same) {
                    paused.remove(i);
                }
            }
        }
        due.sort_by_key(|d| d.0);
        due.into_iter().map(|d| d.1).collect()
    }

    /// The timers and alarms still to come.
    pub fn pending(&self) -> Pending {
        Pending {
            timers: self.timers.clone(),
            paused: self.paused.clone(),
            alarms: self
                .alarms
                .iter()
                .map(|&(date, seconds)| Now { date, seconds }.absolute())
                .collect(),
        }
    }

    /// Takes back timers and alarms kept from before (those already due
    /// ring at the next [`Skills::due`]).
    pub fn restore(&mut self, p: &Pending) {
        self.timers.extend(p.timers.iter().cloned());
        self.paused.extend(p.paused.iter().cloned());
        self.alarms.extend(p.alarms.iter().map(|&at| {
            let n = Now::from_unix(at);
            (n.date, n.seconds)
        }));
    }

    /// Skills with the volume at half.
    pub fn new() -> Skills {
        Skills {
            volume: 50,
            ..Skills::default()
        }
    }

    /// Runs `tool` for `frame` at `now`.
    pub fn run(&mut self, tool: &str, frame: &Frame, now: Now) -> Outcome {
        let mut out = Outcome::default();
        let text = |name: &str| frame.text(name).unwrap_or_default();
        let num = |name: &str| frame.number(name);
        let mut set = |k: &str, v: String| {
            out.vars.insert(k.to_string(), v);
        };
        let t = now.absolute();
        match tool {
            "clock.time" => set("time", clock_text(now.seconds)),
            "clock.date" => set("date", date_text(now.date)),
            tool if tool.starts_with("timer.") => {
                self.before = Some((self.timers.clone(), self.paused.clone()));
                let which = Which::of(frame);
                let result = self.timer(tool, frame, &which, t);
                if let Some(r) = result {
                    set("result", r);
                }
                if tool == "timer.start"
                    && let Some(n) = &which.name
                {
                    set(
                        "duration",
                        format!("{} for {n}", frame.text("duration").unwrap_or_default()),
                    );
                }
            }
            "alarm.set" => {
                let secs = num("time").unwrap_or(0.0) as u32;
                let date = frame.date("date").unwrap_or(if secs > now.seconds {
                    now.date
                } else {
                    now.date.add_days(1)
                });
                self.alarms.push((date, secs));
                set("time", clock_text(secs));
            }
            "alarm.cancel" => {
                let n = self.alarms.len();
                self.alarms.clear();
                set(
                    "result",
                    if n == 0 {
                        "There are no alarms.".into()
                    } else {
                        "Alarms removed.".into()
                    },
                );
            }
            "device.on" | "device.off" => {
                let d = self.devices.entry(text("device")).or_default();
                d.insert(
                    "power".into(),
                    if tool == "device.on" { "on" } else { "off" }.into(),
                );
            }
            "device.brightness" => {
                let d = self.devices.entry(text("device")).or_default();
                let level = num("brightness").unwrap_or(100.0);
                d.insert(
                    "power".into(),
                    if level > 0.0 { "on" } else { "off" }.into(),
                );
                d.insert("brightness".into(), number_text(level));
                set("brightness", format!("{} percent", number_text(level)));
            }
            "device.color" => {
                let d = self.devices.entry(text("device")).or_default();
                d.insert("color".into(), text("color"));
            }
            "app.open" if !self.apps.contains(&text("app")) => self.apps.push(text("app")),
            "app.open" => {}
            "app.close" => self.apps.retain(|a| *a != text("app")),
            "media.play" => self.playing = true,
            "media.pause" => self.playing = false,
            "volume.set" => self.volume = num("level").unwrap_or(50.0).clamp(0.0, 100.0) as u32,
            "volume.up" => self.volume = (self.volume + 10).min(100),
            "volume.down" => self.volume = self.volume.saturating_sub(10),
            "list.add" => self
                .lists
                .entry(text("list"))
                .or_default()
                .push(text("item")),
            "list.show" => {
                let items = self.lists.get(&text("list")).cloned().unwrap_or_default();
                set(
                    "result",
                    if items.is_empty() {
                        format!("Your {} list is empty.", text("list"))
                    } else {
                        format!("On your {} list: {}.", text("list"), items.join(", "))
                    },
                );
            }
            "list.clear" => {
                self.lists.remove(&text("list"));
            }
            "note.take" => self.notes.push(text("note")),
            "calculator.evaluate" => {
                let (a, b) = (num("a").unwrap_or(0.0), num("b"));
                let r = match (text("operator").as_str(), b) {
                    ("plus", Some(b)) => Some(a + b),
                    ("minus", Some(b)) => Some(a - b),
                    ("times", Some(b)) => Some(a * b),
                    ("divided by", Some(b)) if b != 0.0 => Some(a / b),
                    ("divided by", Some(_)) => {
                        out.refuse = Some("I can't divide by zero.".into());
                        None
                    }
                    ("to the power of", Some(b)) => Some(libm::pow(a, b)),
                    (_, None) if a >= 0.0 => Some(a.sqrt()),
                    _ => {
                        out.refuse = Some("I can't work that out.".into());
                        None
                    }
                };
                if let Some(r) = r.filter(|r| r.is_finite()) {
                    out.vars.insert("result".into(), number_text(r));
                    out.vars.insert("a".into(), number_text(a));
                    if let Some(b) = b {
                        out.vars.insert("b".into(), number_text(b));
                    }
                } else if out.refuse.is_none() {
                    out.refuse = Some("That number is too big for me.".into());
                }
            }
            "calculator.convert" => {
                let amount = num("amount").unwrap_or(0.0);
                match convert(amount, &text("from"), &text("to")) {
                    Some(r) => {
                        out.vars.insert("result".into(), number_text(r));
                        out.vars.insert("amount".into(), number_text(amount));
                    }
                    None => {
                        out.refuse = Some(format!(
                            "I can't convert {} to {}.",
                            text("from"),
                            text("to")
                        ));
                    }
                }
            }
            _ => {}
        }
        out
    }
}

impl Skills {
    /// A timer tool (`timer.start`, `.cancel`, `.left`, `.pause`,
    /// `.resume`, `.add`, `.remove`) on the timers `which` names (all of
    /// them when it names none) at `t`; the reply's `{result}`.
    fn timer(&mut self, tool: &str, frame: &Frame, which: &Which, t: i64) -> Option<String> {
        let secs = frame.number("duration").unwrap_or(0.0).round() as i64;
        // Running timers already due are left to ring: asking about or
        // pausing timers does not pick them, and no request drops one it
        // does not name (regression: a request about the pizza timer
        // dropped a due egg timer unrung).
        let picks = |x: &Timer| which.picks(x) && x.at > t;
        let count = |n: usize, one: &str, many: &str| match n {
            1 => one.to_string(),
            n => format!("{n} {many}"),
        };
        let timers = self.timers.iter().filter(|x| x.at > t).count() + self.paused.len();
        if which.one && tool != "timer.start" && timers > 1 {
            return Some(format!("Which one? There are {timers} timers."));
        }
        Some(match tool {
            "timer.start" => {
                self.timers.push(Timer {
                    at: t + secs,
                    length: secs,
                    name: which.name.clone(),
                });
                return None;
            }
            "timer.cancel" => {
                let before = self.timers.len() + self.paused.len();
                // A due timer not rung yet is cancelled too (the floor
                // was not free to ring it); one not asked about rings.
                self.timers.retain(|x| !which.picks(x));
                self.paused.retain(|x| !which.picks(x));
                match before - self.timers.len() - self.paused.len() {
                    0 => which.none(false),
                    n if which.any() => count(n, "Timer cancelled.", "timers cancelled."),
                    1 => format!("The {} is cancelled.", which.what()),
                    n => format!("{n} timers cancelled."),
                }
            }
            "timer.left" => {
                let next = self.timers.iter().filter(|x| picks(x)).map(|x| x.at).min();
                let paused = self
                    .paused
                    .iter()
                    .filter(|x| which.picks(x))
                    .map(|x| x.at)
                    .min();
                let on = if which.any() {
                    String::new()
                } else {
                    format!(" on the {}", which.what())
                };
                match (next, paused) {
                    (None, None) => which.none(false),
                    (None, Some(left)) => format!("Paused, with {} left{on}.", duration_text(left)),
                    (Some(end), _) => format!("{} left{on}.", duration_text(end - t)),
                }
            }
            "timer.pause" => {
                // A timer already due stays to ring.
                let (picked, rest): (Vec<Timer>, Vec<Timer>) =
                    self.timers.drain(..).partition(|x| picks(x));
                self.timers = rest;
                let n = picked.len();
                self.paused
                    .extend(picked.into_iter().map(|x| Timer { at: x.at - t, ..x }));
                match n {
                    0 => which.none(false),
                    n => count(n, "Timer paused.", "timers paused."),
                }
            }
            "timer.resume" => {
                let (picked, rest): (Vec<Timer>, Vec<Timer>) =
                    self.paused.drain(..).partition(|x| which.picks(x));
                self.paused = rest;
                let n = picked.len();
                self.timers
                    .extend(picked.into_iter().map(|x| Timer { at: t + x.at, ..x }));
                match n {
                    0 => which.none(true),
                    n => count(n, "Timer resumed.", "timers resumed."),
                }
            }
            "timer.add" | "timer.remove" => {
                let secs = if tool == "timer.add" { secs } else { -secs };
                // The one it names that ends first, else the paused one
                // with least left.
                // A due timer not rung yet is changed too: "add 5
                // minutes" as it ends keeps it going.
                let left = if let Some(x) = self
                    .timers
                    .iter_mut()
                    .filter(|x| which.picks(x))
                    .min_by_key(|x| x.at)
                {
                    x.at = (x.at + secs).max(t + 1);
                    Some(x.at - t)
                } else if let Some(x) = self
                    .paused
                    .iter_mut()
                    .filter(|x| which.picks(x))
                    .min_by_key(|x| x.at)
                {
                    x.at = (x.at + secs).max(1);
                    Some(x.at)
                } else {
                    None
                };
                match left {
                    None => which.none(false),
                    Some(left) if which.any() => format!("{} left now.", duration_text(left)),
                    Some(left) => {
                        format!("{} left now on the {}.", duration_text(left), which.what())
                    }
                }
            }
            _ => return None,
        })
    }

    /// Takes back the last effect of `tool`, before a corrected request
    /// runs it again ("set a timer for five minutes" ... "no, I said six";
    /// "add five minutes to the timer" ... "no, six").
    pub fn undo(&mut self, tool: &str) {
        match tool {
            tool if tool.starts_with("timer.") => {
                if let Some((timers, paused)) = self.before.take() {
                    self.timers = timers;
                    self.paused = paused;
                }
            }
            "alarm.set" => {
                self.alarms.pop();
            }
            "note.take" => {
                self.notes.pop();
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use ainima_fallbacks::Value;

    /// A timer request's frame: `slots` as (name, value).
    fn frame(slots: &[(&str, Value)]) -> Frame {
        Frame {
            slots: slots
                .iter()
                .map(|(k, v)| {
                    let text = match v {
                        Value::Text(t) => t.clone(),
                        other => other.to_string(),
                    };
                    (
                        k.to_string(),
                        crate::dialogue::FrameSlot {
                            value: v.clone(),
                            text,
                        },
                    )
                })
                .collect(),
            ..Frame::default()
        }
    }

    fn at(seconds: i64) -> Now {
        Now::from_unix(1_795_942_800 + seconds)
    }

    fn minutes(n: f64) -> Value {
        Value::Duration { seconds: n * 60.0 }
    }

    fn name(n: &str) -> Value {
        Value::Text(n.into())
    }

    /// Starts a timer of `length` minutes, named `called` if given, at `t`.
    fn start(s: &mut Skills, length: f64, called: Option<&str>, t: i64) {
        let mut slots = vec![("duration", minutes(length))];
        if let Some(n) = called {
            slots.push(("name", name(n)));
        }
        s.run("timer.start", &frame(&slots), at(t));
    }

    #[test]
    fn words_that_name_nothing_are_no_timer_s_name() {
        for (said, expect) in [
            ("pizza", Some("pizza")),
            ("Pizza please", Some("pizza")),
            ("egg for me thanks", Some("egg")),
            ("me", None),
            ("another", None),
            // "This" means one timer: `Which` asks which when there are
            // more (`ONE_OF`).
            ("this", Some("this")),
            ("please", None),
        ] {
            assert_eq!(timer_name(said).as_deref(), expect, "{said:?}");
        }
    }

    #[test]
    fn a_request_about_one_timer_leaves_a_due_one_to_ring() {
        let mut s = Skills::new();
        start(&mut s, 1.0, Some("egg"), 0);
        start(&mut s, 10.0, Some("pizza"), 0);
        // At 2 minutes the egg timer is due, not yet rung.
        let o = s.run("timer.left", &frame(&[("name", name("pizza"))]), at(120));
        assert_eq!(o.vars["result"], "8 minutes left on the pizza timer.");
        let o = s.run("timer.cancel", &frame(&[("name", name("pizza"))]), at(120));
        assert_eq!(o.vars["result"], "The pizza timer is cancelled.");
        assert_eq!(s.due(at(120)), ["Your egg timer is done."]);
    }

    #[test]
    fn an_undone_timer_change_never_brings_back_a_timer_that_rang() {
        let mut s = Skills::new();
        start(&mut s, 1.0, Some("egg"), 0);
        start(&mut s, 10.0, Some("pizza"), 0);
        s.run(
            "timer.add",
            &frame(&[("duration", minutes(5.0)), ("name", name("pizza"))]),
            at(30),
        );
        assert_eq!(s.due(at(60)), ["Your egg timer is done."]);
        // "No, I said 6": the change is taken back, the egg timer stays rung.
        s.undo("timer.add");
        let o = s.run(
            "timer.add",
            &frame(&[("duration", minutes(6.0)), ("name", name("pizza"))]),
            at(60),
        );
        assert_eq!(o.vars["result"], "15 minutes left now on the pizza timer.");
        assert_eq!(s.timers.len(), 1);
        assert!(s.due(at(10_000)).iter().all(|d| !d.contains("egg")));
    }

    #[test]
    fn one_timer_not_named_is_asked_about_when_there_are_more() {
        let mut s = Skills::new();
        start(&mut s, 1.0, None, 0);
        start(&mut s, 10.0, Some("pizza"), 0);
        let o = s.run(
            "timer.cancel",
            &frame(&[("name", name("the other"))]),
            at(10),
        );
        assert_eq!(o.vars["result"], "Which one? There are 2 timers.");
        assert_eq!(s.timers.len(), 2);
        s.run("timer.cancel", &frame(&[("name", name("pizza"))]), at(10));
        let o = s.run("timer.cancel", &frame(&[("name", name("this"))]), at(20));
        assert_eq!(o.vars["result"], "The timer is cancelled.");
        assert!(s.timers.is_empty());
    }

    /// Regression (timer_named_by_a_misheard_article): "Start at timer",
    /// "Set your timer" named timers "at" and "your"; "cancel your timer"
    /// with two running asks which.
    #[test]
    fn a_misheard_article_names_no_timer() {
        let mut s = Skills::new();
        start(&mut s, 1.0, Some("at"), 0);
        assert_eq!(s.timers[0].name, None);
        start(&mut s, 10.0, Some("atlas"), 0);
        assert_eq!(s.timers[1].name.as_deref(), Some("atlas"));
        let o = s.run("timer.cancel", &frame(&[("name", name("Your"))]), at(10));
        assert_eq!(o.vars["result"], "Which one? There are 2 timers.");
        assert_eq!(s.timers.len(), 2);
        let o = s.run("timer.cancel", &frame(&[("name", name("atlas"))]), at(10));
        assert_eq!(o.vars["result"], "The atlas timer is cancelled.");
    }

    #[test]
    fn a_due_timer_cancelled_by_name_does_not_ring() {
        let mut s = Skills::new();
        start(&mut s, 1.0, Some("egg"), 0);
        let o = s.run("timer.cancel", &frame(&[("name", name("egg"))]), at(90));
        assert_eq!(o.vars["result"], "The egg timer is cancelled.");
        assert!(s.due(at(90)).is_empty());
    }

    #[test]
    fn an_undo_after_a_deadline_keeps_a_timer_that_did_not_ring() {
        let mut s = Skills::new();
        start(&mut s, 10.0, Some("pizza"), 0);
        s.run(
            "timer.add",
            &frame(&[("duration", minutes(5.0)), ("name", name("pizza"))]),
            at(590),
        );
        assert!(s.due(at(600)).is_empty());
        s.undo("timer.add");
        let o = s.run(
            "timer.add",
            &frame(&[("duration", minutes(6.0)), ("name", name("pizza"))]),
            at(600),
        );
        assert_eq!(o.vars["result"], "6 minutes left now on the pizza timer.");
    }

    #[test]
    fn timers_kept_before_names_still_load() {
        let old: Pending =
            serde_json::from_str(r#"{"timers":[[100,60]],"paused":[[30,60]],"alarms":[]}"#)
                .expect("the old form loads");
        assert_eq!(
            old.timers,
            [Timer {
                at: 100,
                length: 60,
                name: None
            }]
        );
        let mut p = old.clone();
        p.timers[0].name = Some("pizza".into());
        let kept = serde_json::to_string(&p).expect("serialises");
        assert_eq!(
            kept,
            r#"{"timers":[[100,60,"pizza"]],"paused":[[30,60]],"alarms":[]}"#
        );
        assert_eq!(serde_json::from_str::<Pending>(&kept).expect("loads"), p);
    }

    #[test]
    fn conversions() {
        let close = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-6);
        assert!(close(convert(5.0, "miles", "kilometers"), 8.04672));
        assert!(close(convert(100.0, "celsius", "fahrenheit"), 212.0));
        assert!(close(convert(1.0, "pounds", "grams"), 453.59237));
        assert_eq!(convert(1.0, "miles", "grams"), None);
    }

    #[test]
    fn time_texts() {
        assert_eq!(clock_text(0), "12:00 am");
        assert_eq!(clock_text(19 * 3600 + 5 * 60), "7:05 pm");
        let n = Now::from_unix(1_795_341_600); // 2026-11-22 10:00 UTC
        assert_eq!(date_text(n.date), "Sunday November 22");
        assert_eq!(n.seconds, 10 * 3600);
        assert_eq!(Now::from_unix(n.absolute()), n);
    }
}
