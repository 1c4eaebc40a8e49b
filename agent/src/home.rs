//! A home described in Home Assistant's format (areas, floors, entities
//! with states and attributes), acted on by HA's intents as HA's own test
//! runner does: a request's entities are found by name, area, floor,
//! domain and device class; turning on or off, opening, closing, locking,
//! setting brightness, colour or position changes their state; asking
//! reads it back. Each intent is a tool (`home.HassTurnOn`), so every
//! call goes through the agent like any other (policy, approval, audit),
//! ready for a connector to a real home later.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ainima_fallbacks::ha::{Entity, Home, Responses, json_text as text};
use serde_json::{Value, json};

use crate::Result;
use crate::tools::{Annotations, Registry, ToolSpec};

/// The home, shared by its tools.
pub type SharedHome = Arc<Mutex<Home>>;

/// The intents acted on, and whether each changes the home.
pub const INTENTS: &[(&str, bool)] = &[
    ("HassTurnOn", true),
    ("HassTurnOff", true),
    ("HassToggle", true),
    ("HassLightSet", true),
    ("HassSetPosition", true),
    ("HassGetState", false),
    ("HassMediaPause", true),
    ("HassMediaUnpause", true),
    ("HassMediaNext", true),
    ("HassMediaPrevious", true),
    ("HassSetVolume", true),
    ("HassClimateGetTemperature", false),
    ("HassGetWeather", false),
];

/// Domains whose changes ask first (a door unlocked, a garage opened):
/// their intents' tools are `home.guarded.INTENT`, open-world, so the
/// default policy confirms.
pub const GUARDED_DOMAINS: &[&str] = &["lock", "cover", "valve", "alarm_control_panel"];

/// The guarded variant of an intent's tool.
pub fn guarded_tool_of(intent: &str) -> String {
    format!("home.guarded.{intent}")
}

/// Whether `intent` with `args` would change something of a guarded
/// domain in `home`.
pub fn is_guarded(home: &Home, intent: &str, args: &Value) -> bool {
    INTENTS.iter().any(|(i, changes)| *i == intent && *changes)
        && targets(home, args, domain_of(intent)).is_ok_and(|found| {
            found
                .iter()
                .any(|&i| GUARDED_DOMAINS.contains(&home.entities[i].domain()))
        })
}

/// The domain an intent's entities are of when the request names neither
/// a domain nor an entity ("pause", "what's the temperature", "set the
/// kitchen to 50%").
fn domain_of(intent: &str) -> Option<&'static str> {
    match intent {
        "HassLightSet" => Some("light"),
        "HassSetPosition" => Some("cover"),
        "HassMediaPause" | "HassMediaUnpause" | "HassMediaNext" | "HassMediaPrevious"
        | "HassSetVolume" => Some("media_player"),
        "HassClimateGetTemperature" => Some("climate"),
        "HassGetWeather" => Some("weather"),
        _ => None,
    }
}

/// The tool an intent is.
pub fn tool_of(intent: &str) -> String {
    format!("home.{intent}")
}

/// The argument naming the response (HA's data block's `response`) the
/// answer is said with.
pub const RESPONSE_ARG: &str = "_response";

/// What an intent did: our own sentence, and what HA's response templates
/// are given (`state`: the first entity acted on; `query`: the entities
/// that `matched` the request and those `unmatched`).
#[derive(Debug, Clone, PartialEq)]
pub struct Done {
    /// Our sentence.
    pub speech: String,
    /// `state` for the template.
    pub state: Value,
    /// `query` for the template.
    pub query: Value,
}

/// Steps a response template may take.
const TEMPLATE_FUEL: u64 = 100_000;

/// `template` (HA's response, Jinja) with `context`, on one line; `None`
/// when it fails or says nothing.
pub fn render(template: &str, context: &Value) -> Option<String> {
    let mut env = minijinja::Environment::new();
    env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    // A template that never ends is a failed one (HA's take well under
    // a thousand steps).
    env.set_fuel(Some(TEMPLATE_FUEL));
    let out = env.render_str(template, context).ok()?;
    let out = out.split_whitespace().collect::<Vec<_>>().join(" ");
    (!out.is_empty()).then_some(out)
}

/// Registers a tool for each of [`INTENTS`], acting on `home`; answers
/// in `responses`' words where they have a template for the response
/// the request names ([`RESPONSE_ARG`]), in ours otherwise.
pub fn register(
    registry: &mut Registry,
    home: SharedHome,
    responses: Option<Arc<Responses>>,
) -> Result<()> {
    let variants = INTENTS
        .iter()
        .map(|&(i, changes)| (i, changes, false))
        .chain(
            INTENTS
                .iter()
                .filter(|(_, c)| *c)
                .map(|&(i, c)| (i, c, true)),
        );
    for (intent, changes, guarded) in variants {
        let home = home.clone();
        let responses = responses.clone();
        registry.register(
            ToolSpec {
                name: if guarded {
                    guarded_tool_of(intent)
                } else {
                    tool_of(intent)
                },
                description: if guarded {
                    format!("Home Assistant's {intent} on locks, covers, valves or alarms of the home described")
                } else {
                    format!("Home Assistant's {intent} on the home described")
                },
                parameters: json!({"type": "object"}),
                annotations: Annotations {
                    read_only_hint: !changes,
                    idempotent_hint: intent != "HassToggle",
                    open_world_hint: guarded,
                    ..Annotations::default()
                },
            },
            move |args| {
                let key = args
                    .get(RESPONSE_ARG)
                    .and_then(Value::as_str)
                    .map(str::to_string);
                let mut slots = args.clone();
                if let Some(o) = slots.as_object_mut() {
                    o.remove(RESPONSE_ARG);
                }
                let done = {
                    let mut home = home.lock().unwrap_or_else(|p| p.into_inner());
                    act(&mut home, intent, &slots)?
                };
                let theirs = responses
                    .as_ref()
                    .and_then(|r| r.get(intent, key.as_deref()))
                    .and_then(|t| {
                        render(
                            t,
                            &json!({"slots": slots, "state": done.state, "query": done.query}),
                        )
                    });
                Ok(Value::String(theirs.unwrap_or(done.speech)))
            },
        )?;
    }
    Ok(())
}

/// The strings an argument allows (one, or any of a list), lower case.
fn any_of(v: Option<&Value>) -> Option<Vec<String>> {
    Some(
        ainima_fallbacks::ha::allowed(v?)
            .iter()
            .map(|x| x.to_lowercase())
            .collect(),
    )
}

/// The entities `args` name: by name, or by area, floor, domain and
/// device class together; never none silently.
fn targets(
    home: &Home,
    args: &Value,
    default_domain: Option<&str>,
) -> std::result::Result<Vec<usize>, String> {
    let get = |k: &str| args.get(k);
    let area_id = |name: &str| {
        home.areas
            .iter()
            .find(|a| a.name.eq_ignore_ascii_case(name))
            .map(|a| a.id.clone())
    };
    let area = match get("area") {
        Some(a) => Some(area_id(&text(a)).ok_or_else(|| format!("no area called {}", text(a)))?),
        None => None,
    };
    let floor = match get("floor") {
        Some(f) => {
            let name = text(f);
            Some(
                home.floors
                    .iter()
                    .find(|x| x.name.eq_ignore_ascii_case(&name))
                    .map(|x| x.id.clone())
                    .ok_or_else(|| format!("no floor called {name}"))?,
            )
        }
        None => None,
    };
    let name = get("name").map(text).filter(|n| n != "all");
    let domains = any_of(get("domain")).or_else(|| {
        default_domain
            .filter(|_| name.is_none())
            .map(|d| vec![d.to_string()])
    });
    let classes = any_of(get("device_class"));
    let on_floor = |e: &Entity| {
        floor.as_ref().is_none_or(|f| {
            e.area.as_ref().is_some_and(|a| {
                home.areas
                    .iter()
                    .any(|x| &x.id == a && x.floor.as_deref() == Some(f.as_str()))
            })
        })
    };
    let found: Vec<usize> = home
        .entities
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            name.as_ref()
                .is_none_or(|n| e.name.eq_ignore_ascii_case(n) || same_words(&e.name, n))
                && area
                    .as_ref()
                    .is_none_or(|a| e.area.as_deref() == Some(a.as_str()))
                && on_floor(e)
                && domains
                    .as_ref()
                    .is_none_or(|d| d.iter().any(|d| d == e.domain()))
                && classes.as_ref().is_none_or(|c| {
                    e.attributes
                        .get("device_class")
                        .is_some_and(|v| c.contains(&text(v).to_lowercase()))
                })
        })
        .map(|(i, _)| i)
        .collect();
    if found.is_empty() {
        return Err(match (&name, get("area")) {
            (Some(n), Some(a)) => format!("no device called {n} in the {}", text(a)),
            (Some(n), None) => format!("no device called {n}"),
            (None, Some(a)) => format!("nothing like that in the {}", text(a)),
            (None, None) => "no device like that".into(),
        });
    }
    Ok(found)
}

/// Names written as a template or with other spacing ("Trader Joe[']s").
fn same_words(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .collect::<String>()
            .to_lowercase()
    };
    norm(a) == norm(b)
}

/// What the entities are, for a sentence: one's name, or "3 lights".
fn what(home: &Home, found: &[usize], args: &Value) -> String {
    if let [one] = found {
        return home.entities[*one].name.clone();
    }
    let kind = args
        .get("device_class")
        .or_else(|| args.get("domain"))
        .map(|v| match v {
            Value::Array(a) => a.first().map(text).unwrap_or_default(),
            other => text(other),
        })
        .unwrap_or_else(|| "device".into())
        .replace('_', " ");
    let place = args
        .get("area")
        .or_else(|| args.get("floor"))
        .map(|a| format!(" in the {}", text(a)))
        .unwrap_or_default();
    format!("{} {kind}s{place}", found.len())
}

/// An entity as HA's templates see it.
/// An entity's state as a word: a fixture's `{in, out}` state is its
/// `out` (the value HA keeps).
fn state_word(e: &Entity) -> String {
    match &e.state {
        Value::String(s) => s.clone(),
        Value::Null => "unknown".into(),
        Value::Object(o) if o.contains_key("out") => text(&o["out"]),
        other => other.to_string(),
    }
}

fn state_json(e: &Entity) -> Value {
    let state = state_word(e);
    let unit = e
        .attributes
        .get("unit_of_measurement")
        .map(|u| format!(" {}", text(u)))
        .unwrap_or_default();
    json!({
        "name": e.name,
        "entity_id": e.id,
        "domain": e.domain(),
        "state": state,
        "state_with_unit": format!("{state}{unit}"),
        "attributes": e.attributes,
    })
}

/// Carries out `intent` on `home`: what it did, said our way and for HA's
/// response templates.
pub fn act(home: &mut Home, intent: &str, args: &Value) -> std::result::Result<Done, String> {
    let found = targets(home, args, domain_of(intent))?;
    let speech = act_on(home, intent, args, &found)?;
    // A state, or any of a list ("[open, on]").
    let want = any_of(args.get("state")).filter(|w| !w.is_empty());
    let (mut matched, mut unmatched) = (Vec::new(), Vec::new());
    for &i in &found {
        let s = state_json(&home.entities[i]);
        let fits = want.as_ref().is_none_or(|w| {
            s["state"]
                .as_str()
                .is_some_and(|x| w.iter().any(|y| x.eq_ignore_ascii_case(y)))
        });
        if fits {
            matched.push(s);
        } else {
            unmatched.push(s);
        }
    }
    Ok(Done {
        speech,
        state: state_json(&home.entities[found[0]]),
        query: json!({"matched": matched, "unmatched": unmatched}),
    })
}

fn act_on(
    home: &mut Home,
    intent: &str,
    args: &Value,
    found: &[usize],
) -> std::result::Result<String, String> {
    let found = found.to_vec();
    let who = what(home, &found, args);
    let set = |home: &mut Home, f: &dyn Fn(&mut Entity)| {
        for &i in &found {
            f(&mut home.entities[i]);
        }
    };
    let state_of = state_word;
    match intent {
        "HassTurnOn" | "HassTurnOff" => {
            let on = intent == "HassTurnOn";
            set(home, &|e| {
                e.state = json!(match (e.domain(), on) {
                    ("cover" | "valve", true) => "open",
                    ("cover" | "valve", false) => "closed",
                    ("lock", true) => "locked",
                    ("lock", false) => "unlocked",
                    (_, true) => "on",
                    (_, false) => "off",
                });
            });
            let verb = match (home.entities[found[0]].domain(), on) {
                ("cover" | "valve", true) => "Opened",
                ("cover" | "valve", false) => "Closed",
                ("lock", true) => "Locked",
                ("lock", false) => "Unlocked",
                (_, true) => "Turned on",
                (_, false) => "Turned off",
            };
            Ok(format!("{verb} {who}."))
        }
        "HassToggle" => {
            set(home, &|e| {
                let now = if state_of(e) == "on" { "off" } else { "on" };
                e.state = json!(now);
            });
            Ok(format!("Toggled {who}."))
        }
        "HassLightSet" => {
            let mut said = Vec::new();
            if let Some(b) = args.get("brightness") {
                let b = b.clone();
                set(home, &|e| {
                    e.attributes.insert("brightness".into(), b.clone());
                    e.state = json!("on");
                });
                said.push(format!("brightness {}%", text(&b)));
            }
            if let Some(c) = args.get("color") {
                let c = c.clone();
                set(home, &|e| {
                    e.attributes.insert("color".into(), c.clone());
                    e.state = json!("on");
                });
                said.push(format!("colour {}", text(&c)));
            }
            if said.is_empty() {
                return Err("set what? a brightness or a colour".into());
            }
            Ok(format!("Set {who} to {}.", said.join(" and ")))
        }
        "HassSetPosition" => {
            let p = args
                .get("position")
                .cloned()
                .ok_or("set it to which position?")?;
            set(home, &|e| {
                e.attributes.insert("current_position".into(), p.clone());
            });
            Ok(format!("Set {who} to {}%.", text(&p)))
        }
        "HassGetState" => {
            let states: BTreeMap<String, String> = found
                .iter()
                .map(|&i| {
                    let e = &home.entities[i];
                    let unit = e
                        .attributes
                        .get("unit_of_measurement")
                        .map(|u| format!(" {}", text(u)))
                        .unwrap_or_default();
                    (e.name.clone(), format!("{}{unit}", state_of(e)))
                })
                .collect();
            match any_of(args.get("state")).filter(|w| !w.is_empty()) {
                // "Is the lamp on?", "Are any lights on?" (a state, or any
                // of a list)
                Some(wants) => {
                    // Said as the state that holds, if one does.
                    let want = wants
                        .iter()
                        .find(|w| states.iter().any(|(_, s)| s.eq_ignore_ascii_case(w)))
                        .unwrap_or(&wants[0])
                        .clone();
                    let yes: Vec<&String> = states
                        .iter()
                        .filter(|(_, s)| wants.iter().any(|w| s.eq_ignore_ascii_case(w)))
                        .map(|(n, _)| n)
                        .collect();
                    Ok(match (yes.len(), states.len()) {
                        (0, _) => format!("No, {who} {} not {want}.", is_are(states.len())),
                        (n, m) if n == m && m == 1 => format!("Yes, {who} is {want}."),
                        (n, m) if n == m => format!("Yes, all {m} are {want}."),
                        _ => format!(
                            "Yes, {} {} {want}.",
                            yes.iter()
                                .map(|s| s.as_str())
                                .collect::<Vec<_>>()
                                .join(", "),
                            is_are(yes.len())
                        ),
                    })
                }
                None => Ok(states
                    .iter()
                    .map(|(n, s)| format!("{n} is {s}."))
                    .collect::<Vec<_>>()
                    .join(" ")),
            }
        }
        "HassMediaPause" | "HassMediaUnpause" => {
            let playing = intent == "HassMediaUnpause";
            set(home, &|e| {
                e.state = json!(if playing { "playing" } else { "paused" })
            });
            Ok(format!(
                "{} {who}.",
                if playing { "Resumed" } else { "Paused" }
            ))
        }
        "HassMediaNext" | "HassMediaPrevious" => {
            let which = if intent == "HassMediaNext" {
                "next"
            } else {
                "previous"
            };
            Ok(format!("Skipped to the {which} track on {who}."))
        }
        "HassSetVolume" => {
            let v = args
                .get("volume_level")
                .cloned()
                .ok_or("set the volume to what?")?;
            set(home, &|e| {
                e.attributes.insert("volume_level".into(), v.clone());
            });
            Ok(format!("Set the volume of {who} to {}%.", text(&v)))
        }
        "HassClimateGetTemperature" | "HassGetWeather" => Ok(found
            .iter()
            .map(|&i| {
                let e = &home.entities[i];
                let temperature = e
                    .attributes
                    .get("current_temperature")
                    .or_else(|| e.attributes.get("temperature"))
                    .map(|t| format!("{} degrees", text(t)));
                match (intent, temperature) {
                    ("HassGetWeather", Some(t)) => {
                        format!("{}: {}, {t}.", e.name, state_of(e))
                    }
                    ("HassGetWeather", None) => format!("{}: {}.", e.name, state_of(e)),
                    (_, Some(t)) => format!("{} is at {t}.", e.name),
                    (_, None) => format!("{} does not say its temperature.", e.name),
                }
            })
            .collect::<Vec<_>>()
            .join(" ")),
        other => Err(format!("{other} is not acted on in a described home yet")),
    }
}

fn is_are(n: usize) -> &'static str {
    if n == 1 { "is" } else { "are" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn home() -> Home {
        serde_norway::from_str(
            "floors: [{name: Upstairs, id: up}]\nareas: [{name: Kitchen, id: kitchen}, {name: Bedroom, id: bedroom, floor: up}]\nentities:\n  - {name: Kitchen Light, id: light.k1, area: kitchen, state: 'off'}\n  - {name: Counter, id: light.k2, area: kitchen, state: 'off'}\n  - {name: Bedroom Lamp, id: light.b, area: bedroom, state: 'on'}\n  - {name: Front Door, id: lock.front, state: unlocked}\n  - {name: Curtain, id: cover.c, area: bedroom, state: closed, attributes: {device_class: curtain}}\n  - {name: TV, id: media_player.tv, area: bedroom, state: playing}\n  - {name: EcoBee, id: climate.e, state: heat, attributes: {current_temperature: 21}}\n",
        )
        .expect("home")
    }

    fn check(intent: &str, args: Value, expect: &str) {
        let mut h = home();
        let got = match act(&mut h, intent, &args) {
            Ok(d) => d.speech,
            Err(e) => format!("error: {e}"),
        };
        assert_eq!(got, expect, "{intent} {args}");
    }

    #[test]
    fn intents_act_on_the_home_and_say_so() {
        check(
            "HassTurnOn",
            json!({"name": "Kitchen Light"}),
            "Turned on Kitchen Light.",
        );
        check(
            "HassTurnOn",
            json!({"area": "Kitchen", "domain": "light"}),
            "Turned on 2 lights in the Kitchen.",
        );
        check(
            "HassTurnOn",
            json!({"name": "Front Door"}),
            "Locked Front Door.",
        );
        check(
            "HassTurnOff",
            json!({"floor": "Upstairs", "domain": "light"}),
            "Turned off Bedroom Lamp.",
        );
        check(
            "HassGetState",
            json!({"name": "Bedroom Lamp", "state": "on"}),
            "Yes, Bedroom Lamp is on.",
        );
        // A state given as a list is any of it (Slovak "[open, on]";
        // regression: the list was compared as text and matched nothing).
        check(
            "HassGetState",
            json!({"name": "Bedroom Lamp", "state": ["open", "on"]}),
            "Yes, Bedroom Lamp is on.",
        );
        check(
            "HassGetState",
            json!({"area": "Kitchen", "domain": "light", "state": "on"}),
            "No, 2 lights in the Kitchen are not on.",
        );
        check(
            "HassTurnOn",
            json!({"name": "Garage"}),
            "error: no device called Garage",
        );
        check(
            "HassTurnOn",
            json!({"area": "Cellar"}),
            "error: no area called Cellar",
        );
        check("HassMediaPause", json!({}), "Paused TV.");
        check(
            "HassSetVolume",
            json!({"volume_level": 30}),
            "Set the volume of TV to 30%.",
        );
        check(
            "HassClimateGetTemperature",
            json!({}),
            "EcoBee is at 21 degrees.",
        );
        check("HassGetWeather", json!({}), "error: no device like that");
        // Without a domain or a name, brightness is the lights' alone.
        check(
            "HassLightSet",
            json!({"area": "Bedroom", "brightness": 20}),
            "Set Bedroom Lamp to brightness 20%.",
        );
    }

    #[test]
    fn home_assistant_s_response_templates_are_rendered() {
        let ctx = json!({"slots": {"name": "Lamp"}, "state": {"domain": "light", "state_with_unit": "on"}, "query": {"matched": [{"name": "Lamp"}], "unmatched": []}});
        let check =
            |t: &str, expect: Option<&str>| assert_eq!(render(t, &ctx).as_deref(), expect, "{t}");
        check("{{ slots.name }} eingeschaltet", Some("Lamp eingeschaltet"));
        check(
            "{% set t = {'light': 'the light'} %} Turned on {{ t.get(state.domain) }}",
            Some("Turned on the light"),
        );
        check(
            "{% if query.matched %} Yes {% else %} No {% endif %}",
            Some("Yes"),
        );
        check("{{ slots.nowhere }}", None);
        check("{% if %}", None);
        check(
            "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
            None,
        );
    }

    #[test]
    fn unlocking_and_opening_are_guarded() {
        let h = home();
        assert!(is_guarded(
            &h,
            "HassTurnOff",
            &json!({"name": "Front Door"})
        ));
        assert!(is_guarded(
            &h,
            "HassTurnOn",
            &json!({"area": "Bedroom", "domain": "cover"})
        ));
        assert!(!is_guarded(
            &h,
            "HassTurnOn",
            &json!({"name": "Bedroom Lamp"})
        ));
        assert!(!is_guarded(
            &h,
            "HassGetState",
            &json!({"name": "Front Door"})
        ));
    }

    #[test]
    fn a_change_stays() {
        let mut h = home();
        let set = json!({"name": "Counter", "brightness": 40});
        act(&mut h, "HassLightSet", &set).expect("set");
        let ask = json!({"name": "Counter", "state": "on"});
        let read = act(&mut h, "HassGetState", &ask).expect("read");
        assert_eq!(read.speech, "Yes, Counter is on.");
        assert_eq!(read.query["matched"][0]["name"], "Counter");
        assert_eq!(h.entities[1].attributes["brightness"], json!(40));
    }
}
