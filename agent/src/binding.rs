//! Voice-callable tools: a skill file binds an intent to any registered
//! tool (built in, MCP, an app's function, a webhook) with `action`, and
//! its slots to the tool's arguments with `args` (or each slot to the
//! argument of its own name). [`check`] holds every binding against the
//! tool's JSON Schema once the tools are known, before anyone speaks: a
//! slot the tool has no argument for, a value of the slot's list the
//! argument's schema refuses (a word outside its `enum`, text where it
//! takes a number), or an argument the tool requires that no slot gives is
//! an error at the binding's `file:line:column`.

use ainima_fallbacks::catalog::{Catalog, ListKind};
use ainima_fallbacks::matcher::{Value as SlotValue, sample_value};
use serde_json::Value;

use crate::tools::Registry;
use crate::{Error, Result};

/// Values a slot of `list` can hand on, as the tool will see them: every
/// listed value, a parser's typical value, or free text.
fn slot_values(catalog: &Catalog, list: &str) -> Vec<Value> {
    let Some(l) = catalog.list(list) else {
        return Vec::new();
    };
    let json = |v: SlotValue| serde_json::to_value(v).unwrap_or(Value::Null);
    match &l.kind {
        ListKind::Values(values) => values
            .iter()
            .map(|(_, out)| json(SlotValue::Text(out.clone())))
            .collect(),
        ListKind::Parser(p) => sample_value(*p).map(json).into_iter().collect(),
        ListKind::Wildcard | ListKind::WildcardAfter(_) => {
            vec![json(SlotValue::Text("some words".into()))]
        }
    }
}

/// Checks every intent whose action is a tool in `registry` against that
/// tool's schema. An intent bound with `args` to a tool of a known
/// namespace (a server or connector whose other tools are registered) must
/// name one of its tools; a tool of no known namespace is an app's, to be
/// registered at the local endpoint, and is checked then ([`check_tool`]).
pub fn check(catalog: &Catalog, registry: &Registry) -> Result<()> {
    for (name, intent) in &catalog.intents {
        let Some(tool) = &intent.action else {
            continue;
        };
        match registry.spec(tool) {
            Some(spec) => check_intent(catalog, name, spec)?,
            None if intent.args.is_empty() => {
                // A built-in skill's own action, or an app's function.
            }
            None => {
                let namespace = tool.split_once('.').map_or(tool.as_str(), |(n, _)| n);
                let known: Vec<&str> = registry
                    .specs()
                    .map(|s| s.name.as_str())
                    .filter(|n| n.split_once('.').is_some_and(|(p, _)| p == namespace))
                    .collect();
                if !known.is_empty() {
                    return Err(Error::Binding {
                        at: intent
                            .action_origin
                            .as_ref()
                            .map_or_else(|| intent.origin.to_string(), ToString::to_string),
                        message: format!(
                            "intent `{name}`: no tool `{tool}` is registered (tools: {})",
                            known.join(", ")
                        ),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Checks the intents bound to `spec` (an app's function being registered
/// at the local endpoint) against its schema.
pub fn check_tool(catalog: &Catalog, spec: &crate::tools::ToolSpec) -> Result<()> {
    for (name, intent) in &catalog.intents {
        if intent.action.as_deref() == Some(spec.name.as_str()) {
            check_intent(catalog, name, spec)?;
        }
    }
    Ok(())
}

/// One intent against the schema of the tool it is bound to.
fn check_intent(catalog: &Catalog, name: &str, spec: &crate::tools::ToolSpec) -> Result<()> {
    {
        let Some(intent) = catalog.intents.get(name) else {
            return Ok(());
        };
        let tool = &spec.name;
        let at =
            |origin: Option<&ainima_fallbacks::error::Origin>, message: String| Error::Binding {
                at: origin.map_or_else(|| intent.origin.to_string(), ToString::to_string),
                message: format!("intent `{name}`: {message}"),
            };
        let slots = catalog.slots_of(name);
        let schema = &spec.parameters;
        let properties = schema.get("properties").and_then(Value::as_object);
        let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
        // (argument, slot, where written)
        let bindings: Vec<(String, String, Option<&ainima_fallbacks::error::Origin>)> =
            if intent.args.is_empty() {
                slots
                    .keys()
                    .map(|s| (s.clone(), s.clone(), intent.action_origin.as_ref()))
                    .collect()
            } else {
                intent
                    .args
                    .iter()
                    .map(|b| (b.arg.clone(), b.slot.clone(), Some(&b.origin)))
                    .collect()
            };
        for (arg, slot, origin) in &bindings {
            let Some(list) = slots.get(slot) else {
                return Err(at(
                    *origin,
                    format!("no template of the intent has a slot `{slot}`"),
                ));
            };
            let Some(sub) = properties.and_then(|p| p.get(arg)) else {
                if properties.is_some() || closed {
                    let takes: Vec<&str> = properties
                        .map(|p| p.keys().map(String::as_str).collect())
                        .unwrap_or_default();
                    return Err(at(
                        *origin,
                        format!(
                            "`{tool}` has no argument `{arg}` (it takes {})",
                            if takes.is_empty() {
                                "none".to_string()
                            } else {
                                takes.join(", ")
                            }
                        ),
                    ));
                }
                continue;
            };
            // A listed value is checked whole; a parser's typical value
            // only for its kind (type, enum): the parser's range is the
            // speaker's, not the sample's.
            let parsed = catalog
                .list(list)
                .is_some_and(|l| !matches!(l.kind, ListKind::Values(_)));
            let kind_only = |s: &Value| -> Value {
                match s {
                    Value::Object(o) => Value::Object(
                        o.iter()
                            .filter(|(k, _)| matches!(k.as_str(), "type" | "enum"))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                    ),
                    other => other.clone(),
                }
            };
            let sub = if parsed { kind_only(sub) } else { sub.clone() };
            for v in slot_values(catalog, list) {
                if let Err(e) = crate::schema::validate(&sub, &v) {
                    return Err(at(
                        *origin,
                        format!(
                            "slot `{slot}` (list `{list}`) can give {v}, which `{tool}`'s argument `{arg}` does not take: {}",
                            e.message
                        ),
                    ));
                }
            }
        }
        for req in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            let given = bindings.iter().any(|(a, _, _)| a == req);
            let default = properties
                .and_then(|p| p.get(req))
                .is_some_and(|p| p.get("default").is_some());
            if !given && !default {
                return Err(at(
                    intent.action_origin.as_ref(),
                    format!("`{tool}` requires the argument `{req}`, which no slot gives"),
                ));
            }
        }
    }
    Ok(())
}
