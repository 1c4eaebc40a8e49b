//! The tool registry: functions the agent can call, each with a name, a
//! description, parameters as JSON Schema and MCP's annotations. Arguments
//! are checked against the schema before any call; a bad argument is an
//! error the dialogue can ask about, never a call. The same registry
//! exports OpenAI-style function definitions for an optional LLM.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::{Error, Result};

/// MCP's tool annotations: hints the approval policy starts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Annotations {
    /// Changes nothing.
    #[serde(default)]
    pub read_only_hint: bool,
    /// May delete or overwrite something.
    #[serde(default)]
    pub destructive_hint: bool,
    /// Calling twice with the same arguments does no more than once.
    #[serde(default)]
    pub idempotent_hint: bool,
    /// Reaches outside this machine (people, services, hardware).
    #[serde(default)]
    pub open_world_hint: bool,
}

/// A tool's description.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    /// Unique name (`timer.start`, `message.send`).
    pub name: String,
    /// One sentence for people and models.
    pub description: String,
    /// JSON Schema of the arguments object.
    pub parameters: Value,
    /// Hints for the approval policy.
    pub annotations: Annotations,
}

/// What a tool is: code in this process, or something reached elsewhere.
pub type Handler = Arc<dyn Fn(&Value) -> std::result::Result<Value, String> + Send + Sync>;

struct Entry {
    spec: ToolSpec,
    handler: Handler,
}

/// Registered tools, by name.
#[derive(Default)]
pub struct Registry {
    tools: BTreeMap<String, Entry>,
    timeout: Option<std::time::Duration>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.tools.keys()).finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Adds a tool. Its schema must be an object schema.
    pub fn register(
        &mut self,
        spec: ToolSpec,
        handler: impl Fn(&Value) -> std::result::Result<Value, String> + Send + Sync + 'static,
    ) -> Result<()> {
        if self.tools.contains_key(&spec.name) {
            return Err(Error::DuplicateTool(spec.name));
        }
        if spec.parameters.get("type").and_then(Value::as_str) != Some("object") {
            return Err(Error::BadArgument {
                tool: spec.name,
                path: String::new(),
                message: "the parameters schema must have \"type\": \"object\"".into(),
            });
        }
        self.tools.insert(
            spec.name.clone(),
            Entry {
                spec,
                handler: Arc::new(handler),
            },
        );
        Ok(())
    }

    /// How long a call may take before it is given up as failed (none by
    /// default: in-process functions are called directly). With a timeout,
    /// each call runs on a thread of its own; one that does not answer in
    /// time is reported as failed and left to finish alone (its effect may
    /// still happen, and the error says so).
    pub fn set_timeout(&mut self, timeout: Option<std::time::Duration>) {
        self.timeout = timeout;
    }

    /// Removes a tool (an app that went away).
    pub fn unregister(&mut self, name: &str) -> bool {
        self.tools.remove(name).is_some()
    }

    /// A tool's description.
    pub fn spec(&self, name: &str) -> Option<&ToolSpec> {
        self.tools.get(name).map(|e| &e.spec)
    }

    /// All descriptions, by name.
    pub fn specs(&self) -> impl Iterator<Item = &ToolSpec> {
        self.tools.values().map(|e| &e.spec)
    }

    /// Checks arguments against the tool's schema.
    pub fn validate(&self, name: &str, args: &Value) -> Result<()> {
        let e = self
            .tools
            .get(name)
            .ok_or_else(|| Error::NoSuchTool(name.to_string()))?;
        crate::schema::validate(&e.spec.parameters, args).map_err(|v| Error::BadArgument {
            tool: name.to_string(),
            path: if v.path.is_empty() {
                "(all)".into()
            } else {
                v.path
            },
            message: v.message,
        })
    }

    /// A registry of the one tool `name` (none if it is not here), with
    /// the same timeout: to call it without holding this one.
    pub fn only(&self, name: &str) -> Registry {
        Registry {
            tools: self
                .tools
                .get(name)
                .map(|e| {
                    (
                        name.to_string(),
                        Entry {
                            spec: e.spec.clone(),
                            handler: e.handler.clone(),
                        },
                    )
                })
                .into_iter()
                .collect(),
            timeout: self.timeout,
        }
    }

    /// Calls a tool after checking its arguments. Approval is the caller's
    /// business (see [`crate::approval`]); this is the last gate for the
    /// arguments. A panic in a tool is an error, not the end of the agent.
    pub fn call(&self, name: &str, args: &Value) -> Result<Value> {
        self.validate(name, args)?;
        let e = &self.tools[name];
        let handler = e.handler.clone();
        let outcome = match self.timeout {
            None => std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(args))),
            Some(limit) => {
                let (tx, rx) = std::sync::mpsc::channel();
                let owned = args.clone();
                let spawned = std::thread::Builder::new()
                    .name(format!("tool {name}"))
                    .spawn(move || {
                        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            handler(&owned)
                        }));
                        let _ = tx.send(r);
                    });
                if let Err(e) = spawned {
                    return Err(Error::ToolFailed {
                        tool: name.to_string(),
                        message: format!("no thread to run it on: {e}"),
                    });
                }
                match rx.recv_timeout(limit) {
                    Ok(r) => r,
                    Err(_) => {
                        return Err(Error::ToolFailed {
                            tool: name.to_string(),
                            message: format!(
                                "no answer within {:.1} s (it may still finish)",
                                limit.as_secs_f64()
                            ),
                        });
                    }
                }
            }
        };
        match outcome {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(message)) => Err(Error::ToolFailed {
                tool: name.to_string(),
                message,
            }),
            Err(_) => Err(Error::ToolFailed {
                tool: name.to_string(),
                message: "the tool panicked".into(),
            }),
        }
    }

    /// OpenAI-style function definitions (`tools` of a chat completion).
    pub fn openai_functions(&self) -> Value {
        Value::Array(
            self.specs()
                .map(|s| {
                    json!({
                        "type": "function",
                        "function": {
                            "name": s.name,
                            "description": s.description,
                            "parameters": s.parameters,
                        }
                    })
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timer() -> ToolSpec {
        ToolSpec {
            name: "timer.start".into(),
            description: "Start a countdown.".into(),
            parameters: json!({
                "type": "object",
                "properties": {"seconds": {"type": "number", "exclusiveMinimum": 0, "maximum": 86400}},
                "required": ["seconds"],
                "additionalProperties": false
            }),
            annotations: Annotations {
                idempotent_hint: false,
                ..Annotations::default()
            },
        }
    }

    #[test]
    fn a_tool_that_hangs_is_given_up_after_the_timeout() {
        let mut r = Registry::new();
        r.register(timer(), |a| {
            if a["seconds"] == json!(1) {
                std::thread::sleep(std::time::Duration::from_secs(5));
            }
            if a["seconds"] == json!(2) {
                panic!("a broken tool");
            }
            Ok(json!({"ok": true}))
        })
        .expect("registers");
        r.set_timeout(Some(std::time::Duration::from_millis(100)));
        let e = r
            .call("timer.start", &json!({"seconds": 1}))
            .expect_err("hangs");
        assert!(e.to_string().contains("no answer within 0.1 s"), "{e}");
        // A panic is caught whatever the timeout; given 100 ms, unwinding
        // with a backtrace on a loaded machine (CI, 2 cores) sometimes took
        // longer, and the panic was reported as a hang.
        r.set_timeout(Some(std::time::Duration::from_secs(30)));
        let e = r
            .call("timer.start", &json!({"seconds": 2}))
            .expect_err("panics");
        assert!(e.to_string().contains("panicked"), "{e}");
        assert_eq!(
            r.call("timer.start", &json!({"seconds": 3}))
                .expect("answers"),
            json!({"ok": true})
        );
    }

    #[test]
    fn calls_are_checked_and_failures_are_errors() {
        let mut r = Registry::new();
        r.register(timer(), |a| Ok(json!({"started": a["seconds"]})))
            .expect("registers");
        assert!(matches!(
            r.register(timer(), |_| Ok(Value::Null)),
            Err(Error::DuplicateTool(_))
        ));
        assert_eq!(
            r.call("timer.start", &json!({"seconds": 300}))
                .expect("calls"),
            json!({"started": 300})
        );
        let e = r
            .call("timer.start", &json!({"seconds": -1}))
            .expect_err("bad");
        assert_eq!(
            e.to_string(),
            "timer.start: argument /seconds: must be more than 0"
        );
        let e = r.call("timer.start", &json!({})).expect_err("missing");
        assert_eq!(e.to_string(), "timer.start: argument /seconds: is required");
        assert!(matches!(
            r.call("nope", &json!({})),
            Err(Error::NoSuchTool(_))
        ));
        let mut spec = timer();
        spec.name = "boom".into();
        r.register(spec, |_| panic!("a bug in a tool"))
            .expect("registers");
        let e = r.call("boom", &json!({"seconds": 1})).expect_err("panics");
        assert_eq!(e.to_string(), "boom failed: the tool panicked");
        let mut bad = timer();
        bad.name = "bad".into();
        bad.parameters = json!({"type": "string"});
        assert!(r.register(bad, |_| Ok(Value::Null)).is_err());
    }

    #[test]
    fn openai_export() {
        let mut r = Registry::new();
        r.register(timer(), |_| Ok(Value::Null)).expect("registers");
        let f = r.openai_functions();
        assert_eq!(f[0]["type"], "function");
        assert_eq!(f[0]["function"]["name"], "timer.start");
        assert_eq!(f[0]["function"]["parameters"]["required"][0], "seconds");
    }
}
