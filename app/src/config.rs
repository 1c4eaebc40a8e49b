//! The configuration file, `ainima.toml` in the home's config folder (or
//! `--config FILE`). Every section is optional; unknown keys are errors, so
//! a typo never silently does nothing.

use std::path::Path;

use anyhow::{Context, Result};

/// Everything configurable so far.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AppConfig {
    /// VAD and endpointer.
    pub endpointer: ainima_audio::endpoint::Config,
    /// Echo canceller.
    pub aec: ainima_audio::aec::AecConfig,
    /// The simulated room (demo, scenarios).
    pub room: ainima_audio::room::RoomConfig,
    /// The assistant's voice.
    pub voice: ainima::tts::Voice,
    /// The time zone the assistant tells time in (an IANA name such as
    /// "Europe/Berlin"); default: `TZ`, else `/etc/localtime`.
    pub time_zone: Option<String>,
    /// MCP servers started with every conversation (`[[mcp]]`): their
    /// tools become the assistant's, `SERVER.TOOL`, for skills to bind.
    pub mcp: Vec<McpServer>,
    /// Approval policies that override a tool's default (from its
    /// annotations): `[policies]` `"everything.echo" = "confirm"`; `auto`,
    /// `confirm` or `deny`.
    pub policies: std::collections::BTreeMap<String, ainima_agent::approval::Policy>,
    /// Where messages go (`[messages]`): without it, "send a message"
    /// has no connector and nothing is sent.
    pub messages: Option<MessagesConfig>,
    /// The hardware the built-in skills drive (`[devices.coffee]`,
    /// `[devices.robot]`); a device not given is simulated in process.
    pub devices: Devices,
    /// A home in Home Assistant's format and HA's sentences for it
    /// (`[home_assistant]`): requests about its devices are understood
    /// with HA's sentences and act on the home described.
    pub home_assistant: Option<HomeAssistantConfig>,
    /// The model that proposes what no template reads (`[understanding]`);
    /// the rules validate every proposal.
    pub understanding: Understanding,
    /// How `ainima listen` knows it is addressed (`[listen]`).
    pub listen: Listen,
    /// The end of a turn (`[turn]`).
    pub turn: Turn,
}

/// `[turn]`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Turn {
    /// The model that joins the rules in judging, in a pause, whether the
    /// user has finished: `"builtin"`, `"none"` (the rules alone) or a
    /// model file from `ainima turn train` (relative to the configuration
    /// folder).
    pub model: String,
}

impl Default for Turn {
    fn default() -> Self {
        Turn {
            model: "none".into(),
        }
    }
}

/// How `ainima listen` knows speech is meant for it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Activation {
    /// Only after the wake word (then a few seconds for the request), over
    /// its own speech, and in answer to a question it just asked.
    #[default]
    Wake,
    /// Everything heard is for it.
    Always,
    /// After Enter is pressed in the terminal (then a few seconds for the
    /// request), over its own speech, and in answer to a question.
    PushToTalk,
}

/// `[listen]`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Listen {
    /// `wake` (the default), `always` or `push-to-talk`.
    pub activation: Activation,
    /// `"builtin"` ("hey ainima", inside the binary) or a model file from
    /// `ainima wake train` (relative to the configuration folder).
    pub wake_model: String,
    /// The detector's score at which the phrase counts as said (the
    /// model's own otherwise); higher: fewer false wakes, more misses.
    pub threshold: Option<f32>,
    /// Seconds after the wake word (or Enter) in which a request may begin.
    pub window_s: f32,
    /// Seconds after a reply that asked a question in which its answer
    /// needs no wake word.
    pub follow_up_s: f32,
}

impl Default for Listen {
    fn default() -> Self {
        Listen {
            activation: Activation::Wake,
            wake_model: "builtin".into(),
            threshold: None,
            window_s: ainima_neurosymbolic::wake::WINDOW_MS as f32 / 1000.0,
            follow_up_s: ainima_neurosymbolic::wake::FOLLOW_UP_MS as f32 / 1000.0,
        }
    }
}

/// `[understanding]`.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Understanding {
    /// `"builtin"` (the model inside the binary, trained on the built-in
    /// skills), `"none"` (templates and rules alone), or a model file from
    /// `ainima nlu train --skills` (relative to the configuration folder).
    pub model: String,
    /// The model's probability at which a validated proposal acts.
    pub act: f32,
    /// The probability at which it is asked about ("Did you mean ...?").
    pub ask: f32,
    /// The model is used only if it parses a sentence within this many
    /// milliseconds (the median of a few at start-up); else templates and
    /// rules alone.
    pub budget_ms: f64,
}

impl Default for Understanding {
    fn default() -> Self {
        let t = ainima_neurosymbolic::arbitrate::Thresholds::default();
        Understanding {
            model: "builtin".into(),
            act: t.act,
            ask: t.ask,
            budget_ms: 50.0,
        }
    }
}

/// `[home_assistant]`.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HomeAssistantConfig {
    /// One language's sentence files (home-assistant/intents'
    /// `sentences/LANG`).
    pub sentences: std::path::PathBuf,
    /// The home: areas, floors and entities with states and attributes
    /// (the format of HA's test fixtures).
    pub home: std::path::PathBuf,
    /// The area the assistant is in ("turn on the lights in here").
    pub area: Option<String>,
    /// HA's response templates of the same language (`responses/LANG`);
    /// default: the folder beside `sentences` in a checkout, if there.
    pub responses: Option<std::path::PathBuf>,
}

/// The built-in skills' devices.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Devices {
    /// The coffee machine.
    pub coffee: Option<DeviceConfig>,
    /// The robot.
    pub robot: Option<DeviceConfig>,
}

/// A device speaking the line protocol (`BREW drink=latte ...` / `OK ...`),
/// on a serial port or as a USB HID device: naming it here is what allows
/// it.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// A serial port (`/dev/ttyUSB0`).
    pub serial: Option<String>,
    /// Its baud rate (default 115200).
    pub baud: Option<u32>,
    /// A USB HID device, `VENDOR:PRODUCT[:SERIAL]` in hex as `lsusb`
    /// shows (a build with the `hid` feature).
    pub hid: Option<String>,
    /// How long to wait for its answer, ms (default 2000).
    pub timeout_ms: Option<u64>,
}

/// Messages through the outbox to a webhook.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MessagesConfig {
    /// The webhook (https, or http to a host in `allow_private`).
    pub webhook: String,
    /// The environment variable holding the HMAC secret the requests are
    /// signed with (`X-Ainima-Signature`).
    pub secret_env: Option<String>,
    /// Hosts on private addresses the webhook may be (a service on the
    /// LAN, or loopback).
    #[serde(default)]
    pub allow_private: Vec<String>,
    /// PEM certificates to trust instead of the public roots.
    pub roots: Option<std::path::PathBuf>,
}

/// An MCP server over stdio.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpServer {
    /// Its tools' prefix: one word.
    pub name: String,
    /// The program.
    pub command: String,
    /// Its arguments.
    #[serde(default)]
    pub args: Vec<String>,
    /// Variables added to its environment.
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
}

impl AppConfig {
    /// Read `path`; a missing file is the defaults only when `optional`.
    pub fn load(path: &Path, optional: bool) -> Result<AppConfig> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if optional && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(AppConfig::default());
            }
            Err(e) => return Err(e).with_context(|| format!("{}", path.display())),
        };
        let mut cfg = Self::parse(&text).with_context(|| format!("{}", path.display()))?;
        // A model file is found beside the configuration.
        for m in [&mut cfg.understanding.model, &mut cfg.turn.model] {
            if !matches!(m.as_str(), "builtin" | "none")
                && Path::new(m.as_str()).is_relative()
                && let Some(dir) = path.parent()
            {
                *m = dir.join(&*m).to_string_lossy().into_owned();
            }
        }
        Ok(cfg)
    }

    /// Parse TOML text and check every value.
    pub fn parse(text: &str) -> Result<AppConfig> {
        let cfg: AppConfig =
            toml::from_str(text).map_err(|e| anyhow::anyhow!(one_line_toml_error(text, &e)))?;
        cfg.endpointer.validate()?;
        ainima_audio::aec::EchoCanceller::new(cfg.aec.clone())?;
        cfg.room.impulse_response()?;
        if let Some(z) = &cfg.time_zone {
            crate::clock::zone(Some(z))?;
        }
        let u = &cfg.understanding;
        let floor = ainima_neurosymbolic::dialogue::MIN_CONFIDENCE;
        if !(u.ask > 0.0 && u.ask <= u.act && u.act >= floor && u.act <= 1.0) {
            anyhow::bail!(
                "understanding: need 0 < ask <= act <= 1 and act at least {floor}, the confidence the dialogue acts at (ask {}, act {})",
                u.ask,
                u.act
            );
        }
        if !(u.budget_ms.is_finite() && u.budget_ms > 0.0) {
            anyhow::bail!("understanding.budget_ms must be a positive number of milliseconds");
        }
        if let Some(m) = &cfg.messages {
            ainima_agent::net::parse(&m.webhook)
                .map_err(|e| anyhow::anyhow!("messages.webhook: {e}"))?;
        }
        for (name, d) in [
            ("coffee", &cfg.devices.coffee),
            ("robot", &cfg.devices.robot),
        ] {
            let Some(d) = d else { continue };
            match (&d.serial, &d.hid) {
                (Some(_), None) => {}
                (None, Some(id)) => {
                    ainima_agent::hid::HidId::parse(id)
                        .map_err(|e| anyhow::anyhow!("devices.{name}.hid: {e}"))?;
                }
                _ => anyhow::bail!("devices.{name}: give either serial or hid"),
            }
            if d.baud.is_some_and(|b| !(50..=4_000_000).contains(&b)) {
                anyhow::bail!("devices.{name}.baud: 50 to 4000000");
            }
            if d.timeout_ms.is_some_and(|t| !(1..=60_000).contains(&t)) {
                anyhow::bail!("devices.{name}.timeout_ms: 1 to 60000");
            }
        }
        for (i, m) in cfg.mcp.iter().enumerate() {
            if m.name.is_empty() || m.name.contains(['.', ' ']) {
                anyhow::bail!(
                    "mcp[{i}]: the name must be one word without dots, not {:?}",
                    m.name
                );
            }
            if m.command.trim().is_empty() {
                anyhow::bail!("mcp[{i}] ({}): a command is needed", m.name);
            }
            if cfg.mcp[..i].iter().any(|o| o.name == m.name) {
                anyhow::bail!("mcp[{i}]: a server named {:?} is declared twice", m.name);
            }
        }
        Ok(cfg)
    }
}

/// "line L, column C: message", from toml's multi-line report.
fn one_line_toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().replace('\n', " ");
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {col}: {msg}")
        }
        None => msg,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_defaults_and_sections_override() {
        assert_eq!(AppConfig::parse("").unwrap(), AppConfig::default());
        let c = AppConfig::parse("[endpointer]\nhangover_ms = 400\nframe = \"20\"\nvad_mode = 3\n")
            .unwrap();
        assert_eq!(c.endpointer.hangover_ms, 400);
        assert_eq!(c.endpointer.frame.ms(), 20);
    }

    /// The example in the README is a valid configuration, and says the defaults.
    #[test]
    fn the_readme_example_parses() {
        let readme = include_str!("../../README.md");
        let section = readme
            .find("## State and configuration")
            .expect("the section");
        let start = section + readme[section..].find("```toml\n").expect("a toml block") + 8;
        let len = readme[start..].find("```").unwrap();
        let cfg = AppConfig::parse(&readme[start..start + len]).unwrap();
        assert_eq!(cfg.endpointer, ainima_audio::endpoint::Config::default());
        assert_eq!(cfg.aec, ainima_audio::aec::AecConfig::default());
        assert_eq!(cfg.room, ainima_audio::room::RoomConfig::default());
    }

    #[test]
    fn errors_name_line_and_column() {
        let e = AppConfig::parse("[endpointer]\nhangover = 400\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("line 2, column 1:"), "{e}");
        let e = AppConfig::parse("[endpointer]\nhangover_ms = \"soon\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("line 2, column 15:"), "{e}");
        let e = AppConfig::parse("[endpointer]\nvad_mode = 7\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("VAD mode 7"), "{e}");
        let e = format!("{:#}", AppConfig::parse("[aec]\nstep = 0\n").unwrap_err());
        assert!(e.contains("aec.step"), "{e}");
        let e = format!(
            "{:#}",
            AppConfig::parse("time_zone = \"Europe/Atlantis\"\n").unwrap_err()
        );
        assert!(e.contains("Europe/Atlantis"), "{e}");
    }
}
