//! MCP servers over stdio: the server is started as a child process and
//! spoken to in JSON-RPC 2.0, one message a line (the Model Context
//! Protocol's stdio transport): `initialize`, `notifications/initialized`,
//! `tools/list` (paged), `tools/call`. Every tool of a server becomes a
//! registry tool `SERVER.NAME` whose annotations feed the approval policy.
//! Requests the server sends us are answered "method not found"; its
//! notifications are read and dropped. Every wait has a timeout.
//!
//! Written on the standard library rather than the rmcp crate: the client
//! side of the stdio transport is these few messages, and rmcp would bring
//! an async runtime into a crate that has none.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use crate::tools::{Annotations, Registry, ToolSpec};
use crate::{Error, Result};

/// The protocol version asked for.
pub const PROTOCOL_VERSION: &str = "2025-06-18";

/// A running MCP server.
pub struct McpServer {
    /// Its name (the tools' prefix).
    pub name: String,
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    next_id: u64,
    /// How long to wait for an answer.
    pub timeout: Duration,
}

impl std::fmt::Debug for McpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("McpServer")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

fn failed(name: &str, message: impl Into<String>) -> Error {
    Error::Delivery {
        target: format!("MCP server {name}"),
        message: message.into(),
        retryable: true,
    }
}

impl McpServer {
    /// Starts `command args...` and completes the handshake.
    pub fn spawn(name: &str, command: &str, args: &[&str]) -> Result<McpServer> {
        Self::spawn_with(name, command, args, &[])
    }

    /// [`McpServer::spawn`] with `env` added to the server's environment.
    pub fn spawn_with(
        name: &str,
        command: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<McpServer> {
        let mut child = Command::new(command)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| failed(name, format!("cannot start {command}: {e}")))?;
        let stdin = child.stdin.take().ok_or_else(|| failed(name, "no stdin"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| failed(name, "no stdout"))?;
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut s = McpServer {
            name: name.to_string(),
            child,
            stdin,
            lines,
            next_id: 0,
            timeout: Duration::from_secs(20),
        };
        s.request(
            "initialize",
            json!({"protocolVersion": PROTOCOL_VERSION, "capabilities": {}, "clientInfo": {"name": "ainima", "version": env!("CARGO_PKG_VERSION")}}),
        )?;
        s.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))?;
        Ok(s)
    }

    fn send(&mut self, msg: &Value) -> Result<()> {
        let name = self.name.clone();
        writeln!(self.stdin, "{msg}")
            .and_then(|()| self.stdin.flush())
            .map_err(|e| match e.kind() {
                // Whether the write or the read notices first is a race:
                // say the same either way.
                std::io::ErrorKind::BrokenPipe => failed(&name, "the server exited"),
                _ => failed(&name, format!("write: {e}")),
            })
    }

    /// Sends a request and waits for its answer's `result`.
    pub fn request(&mut self, method: &str, params: Value) -> Result<Value> {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}))?;
        loop {
            let line = match self.lines.recv_timeout(self.timeout) {
                Ok(l) => l,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(failed(
                        &self.name,
                        format!("no answer to {method} in {:?}", self.timeout),
                    ));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(failed(&self.name, "the server exited"));
                }
            };
            let Ok(msg) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if msg.get("method").is_some() {
                // A request of the server's own: we offer nothing.
                if let Some(rid) = msg.get("id") {
                    let reply = json!({"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "not supported"}});
                    self.send(&reply)?;
                }
                continue;
            }
            if msg.get("id").and_then(Value::as_u64) != Some(id) {
                continue;
            }
            if let Some(err) = msg.get("error") {
                return Err(failed(
                    &self.name,
                    format!("{method}: {}", err["message"].as_str().unwrap_or("error")),
                ));
            }
            return Ok(msg.get("result").cloned().unwrap_or(Value::Null));
        }
    }

    /// The server's tools, all pages, as registry specs named `SERVER.NAME`.
    pub fn list_tools(&mut self) -> Result<Vec<(String, ToolSpec)>> {
        let mut out = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..100 {
            let params = match &cursor {
                Some(c) => json!({"cursor": c}),
                None => json!({}),
            };
            let r = self.request("tools/list", params)?;
            for t in r["tools"].as_array().into_iter().flatten() {
                let Some(name) = t["name"].as_str() else {
                    continue;
                };
                let mut parameters = t
                    .get("inputSchema")
                    .cloned()
                    .unwrap_or(json!({"type": "object"}));
                if parameters.get("type").and_then(Value::as_str) != Some("object") {
                    parameters = json!({"type": "object"});
                }
                let annotations: Annotations =
                    serde_json::from_value(t.get("annotations").cloned().unwrap_or_default())
                        .unwrap_or_default();
                out.push((
                    name.to_string(),
                    ToolSpec {
                        name: format!("{}.{name}", self.name),
                        description: t["description"].as_str().unwrap_or_default().to_string(),
                        parameters,
                        annotations,
                    },
                ));
            }
            cursor = r["nextCursor"].as_str().map(str::to_string);
            if cursor.is_none() {
                break;
            }
        }
        Ok(out)
    }

    /// Calls a tool; its text content joined, or its structured content.
    pub fn call(&mut self, tool: &str, args: &Value) -> std::result::Result<Value, String> {
        let r = self
            .request("tools/call", json!({"name": tool, "arguments": args}))
            .map_err(|e| e.to_string())?;
        let text: Vec<&str> = r["content"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["text"].as_str())
            .collect();
        if r["isError"].as_bool() == Some(true) {
            return Err(if text.is_empty() {
                "the tool reported an error".into()
            } else {
                text.join("\n")
            });
        }
        Ok(r.get("structuredContent")
            .cloned()
            .unwrap_or_else(|| Value::String(text.join("\n"))))
    }
}

impl Drop for McpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Registers every tool of `server` in `registry`; their names.
pub fn register(registry: &mut Registry, server: McpServer) -> Result<Vec<String>> {
    let server = Arc::new(Mutex::new(server));
    let tools = server
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .list_tools()?;
    let mut names = Vec::new();
    for (remote, spec) in tools {
        let s = server.clone();
        names.push(spec.name.clone());
        registry.register(spec, move |args| {
            s.lock()
                .unwrap_or_else(|p| p.into_inner())
                .call(&remote, args)
        })?;
    }
    Ok(names)
}
