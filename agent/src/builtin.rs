//! The built-in skills' external actions as tools, their parameters derived
//! from Rust types (schemars), wired to connectors: a message goes into the
//! outbox for its webhook; the coffee machine and the robot are line
//! devices (serial, or HID with the `hid` feature). The dialogue's other actions (timers, lists, lights in this
//! first version) are done by the skills themselves.

use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Result;
use crate::outbox::Outbox;
use crate::serial::{LineDevice, command_line};
use crate::tools::{Annotations, Registry, ToolSpec};

/// `message.send`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageArgs {
    /// Who to.
    #[schemars(length(min = 1, max = 100))]
    pub contact: String,
    /// What it says.
    #[schemars(length(min = 1, max = 2000))]
    pub message: String,
}

/// Cup sizes.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(inline)]
pub enum Size {
    /// Small.
    Small,
    /// Medium.
    Medium,
    /// Large.
    Large,
}

/// `coffee.order`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CoffeeArgs {
    /// The drink.
    #[schemars(length(min = 1, max = 40))]
    pub drink: String,
    /// The cup.
    pub size: Size,
    /// Espresso shots.
    #[schemars(range(min = 1, max = 4))]
    pub shots: u8,
}

/// Directions the robot drives.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(inline)]
pub enum Direction {
    /// Ahead.
    Forward,
    /// Backwards.
    Back,
}

/// Units of length.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(inline)]
pub enum Length {
    /// Meters.
    Meters,
    /// Centimeters.
    Centimeters,
}

/// `robot.move`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveArgs {
    /// Which way.
    pub direction: Direction,
    /// How far, in `length`.
    #[schemars(range(min = 0.0, max = 500.0))]
    pub distance: f64,
    /// The unit of `distance` (meters if not said).
    pub length: Option<Length>,
}

/// Which way to turn.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
#[schemars(inline)]
pub enum Side {
    /// Left.
    Left,
    /// Right.
    Right,
    /// All the way round.
    Around,
}

/// `robot.turn`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TurnArgs {
    /// Which way.
    pub side: Side,
    /// Degrees.
    #[schemars(range(min = 0.0, max = 360.0))]
    pub angle: f64,
}

/// A tool's function, boxed.
type ToolFn = dyn Fn(&Value) -> std::result::Result<Value, String> + Send + Sync;

/// The parameters schema of `T`, as the registry takes it.
pub fn schema<T: JsonSchema>() -> Value {
    let mut v = serde_json::to_value(schemars::schema_for!(T))
        .unwrap_or_else(|_| json!({"type": "object"}));
    if let Some(o) = v.as_object_mut() {
        o.remove("$schema");
        o.remove("title");
    }
    v
}

/// Whole numbers as integers: the language core's numbers are floats ("2",
/// a rule's default of 1 shot), the tools' fields integers.
fn whole(v: &Value) -> Value {
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 && n.is_f64() => json!(f as i64),
            _ => v.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(whole).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), whole(v))).collect()),
        _ => v.clone(),
    }
}

fn parse<T: for<'de> Deserialize<'de>>(args: &Value) -> std::result::Result<T, String> {
    serde_json::from_value(whole(args)).map_err(|e| e.to_string())
}

fn hardware() -> Annotations {
    Annotations {
        open_world_hint: true,
        ..Annotations::default()
    }
}

/// Where the built-in tools act.
#[derive(Clone, Default)]
pub struct Wiring {
    /// Messages: the outbox and the webhook URL they are queued for.
    pub messages: Option<(Arc<Outbox>, String)>,
    /// The coffee machine (a serial or HID device).
    pub coffee: Option<Arc<dyn LineDevice>>,
    /// The robot (a serial or HID device).
    pub robot: Option<Arc<dyn LineDevice>>,
}

impl std::fmt::Debug for Wiring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wiring").finish_non_exhaustive()
    }
}

/// Registers the tools whose connectors are wired; their names.
pub fn register(registry: &mut Registry, wiring: &Wiring) -> Result<Vec<String>> {
    let mut names = Vec::new();
    let mut add = |registry: &mut Registry, spec: ToolSpec, f: Box<ToolFn>| -> Result<()> {
        names.push(spec.name.clone());
        registry.register(spec, move |a| f(a))
    };
    if let Some((outbox, url)) = wiring.messages.clone() {
        add(
            registry,
            ToolSpec {
                name: "message.send".into(),
                description: "Send a message to a contact.".into(),
                parameters: schema::<MessageArgs>(),
                annotations: Annotations {
                    open_world_hint: true,
                    ..Annotations::default()
                },
            },
            Box::new(move |a| {
                let m: MessageArgs = parse(a)?;
                let payload = json!({"to": m.contact, "text": m.message});
                // The outbox stamps and keeps it; delivery is its job, with retries.
                let e = outbox
                    .enqueue(&url, "message.send", &payload, None, 0)
                    .map_err(|e| e.to_string())?;
                Ok(json!({"queued": e.id, "key": e.key}))
            }),
        )?;
    }
    if let Some(dev) = wiring.coffee.clone() {
        add(
            registry,
            ToolSpec {
                name: "coffee.order".into(),
                description: "Brew a drink on the coffee machine.".into(),
                parameters: schema::<CoffeeArgs>(),
                annotations: hardware(),
            },
            Box::new(move |a| {
                let c: CoffeeArgs = parse(a)?;
                let size = format!("{:?}", c.size).to_lowercase();
                let line = command_line(
                    "brew",
                    &[
                        ("drink", c.drink),
                        ("size", size),
                        ("shots", c.shots.to_string()),
                    ],
                )
                .map_err(|e| e.to_string())?;
                dev.send(&line)
                    .map(Value::String)
                    .map_err(|e| e.to_string())
            }),
        )?;
    }
    if let Some(dev) = wiring.robot.clone() {
        let d = dev.clone();
        add(
            registry,
            ToolSpec {
                name: "robot.move".into(),
                description: "Drive the robot forward or back.".into(),
                parameters: schema::<MoveArgs>(),
                annotations: hardware(),
            },
            Box::new(move |a| {
                let m: MoveArgs = parse(a)?;
                let meters = match m.length {
                    Some(Length::Centimeters) => m.distance / 100.0,
                    _ => m.distance,
                };
                let dir = format!("{:?}", m.direction).to_lowercase();
                let line = command_line(
                    "move",
                    &[("direction", dir), ("distance", meters.to_string())],
                )
                .map_err(|e| e.to_string())?;
                d.send(&line).map(Value::String).map_err(|e| e.to_string())
            }),
        )?;
        let d = dev.clone();
        add(
            registry,
            ToolSpec {
                name: "robot.turn".into(),
                description: "Turn the robot.".into(),
                parameters: schema::<TurnArgs>(),
                annotations: hardware(),
            },
            Box::new(move |a| {
                let t: TurnArgs = parse(a)?;
                let side = format!("{:?}", t.side).to_lowercase();
                let line = command_line("turn", &[("side", side), ("angle", t.angle.to_string())])
                    .map_err(|e| e.to_string())?;
                d.send(&line).map(Value::String).map_err(|e| e.to_string())
            }),
        )?;
        add(
            registry,
            ToolSpec {
                name: "robot.stop".into(),
                description: "Stop the robot.".into(),
                parameters: json!({"type": "object", "additionalProperties": false}),
                // Stopping is always safe: it runs without asking.
                annotations: Annotations {
                    idempotent_hint: true,
                    ..Annotations::default()
                },
            },
            Box::new(move |_| {
                dev.send("STOP")
                    .map(Value::String)
                    .map_err(|e| e.to_string())
            }),
        )?;
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_default_shot_count_from_the_rules_is_an_integer() {
        // The rules default `shots` to 1, a float: it once failed as "invalid
        // type: floating point `1.0`, expected u8".
        let c: CoffeeArgs =
            parse(&json!({"drink": "americano", "size": "large", "shots": 1.0})).expect("parses");
        assert_eq!(c.shots, 1);
        assert!(
            parse::<CoffeeArgs>(&json!({"drink": "tea", "size": "small", "shots": 1.5})).is_err()
        );
    }

    #[test]
    fn derived_schemas_check_the_dialogues_arguments() {
        let s = schema::<CoffeeArgs>();
        let ok = json!({"drink": "latte", "size": "large", "shots": 2.0});
        assert!(crate::schema::validate(&s, &ok).is_ok(), "{s}");
        for bad in [
            json!({"drink": "latte", "size": "huge", "shots": 2}),
            json!({"drink": "latte", "size": "large", "shots": 9}),
            json!({"drink": "latte", "size": "large"}),
            json!({"drink": "latte", "size": "large", "shots": 1, "sugar": true}),
        ] {
            assert!(
                crate::schema::validate(&s, &bad).is_err(),
                "{bad} passed {s}"
            );
        }
        let t = schema::<TurnArgs>();
        assert!(
            crate::schema::validate(&t, &json!({"side": "left", "angle": 90.0})).is_ok(),
            "{t}"
        );
        assert!(crate::schema::validate(&t, &json!({"side": "up", "angle": 90.0})).is_err());
    }
}
