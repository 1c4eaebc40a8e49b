//! The local endpoint: JSON-RPC 2.0 over HTTP on loopback, where an external
//! app registers its functions (they become tools named `APP.NAME`) and
//! receives the calls at its own loopback callback URL; approval UIs list
//! and answer pending requests here too. Every request needs the bearer
//! token the endpoint was started with (other local users cannot drive it).
//!
//! Methods: `register {app, callback, tools: [ToolSpec]}`, `unregister
//! {app}`, `tools.list`, `approvals.pending`, `approvals.answer {id,
//! answer}`. Every answer given here is recorded as the endpoint's
//! ([`Source::Endpoint`]): no client says where its answer came from. An
//! app's function is called with a JSON-RPC request `call {tool, args}`
//! POSTed to its callback (an `http` URL whose host is a loopback address
//! or `localhost`, connected to only if it resolves to loopback); its
//! `result` is the tool's result, its `error.message` the tool's failure.
//!
//! The endpoint binds loopback addresses only and checks the address it
//! got; the bearer token is compared in constant time.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::Error;
type Result<T> = crate::Result<T>;

use crate::approval::{Source, interpret};
use crate::http::{Request, Response, Server};
use crate::tools::ToolSpec;

pub use crate::shared::{Shared, ToolCheck};

fn rpc_error(id: &Value, code: i64, message: &str) -> Response {
    Response::json(
        200,
        &json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}}),
    )
}

fn rpc_ok(id: &Value, result: Value) -> Response {
    Response::json(200, &json!({"jsonrpc": "2.0", "id": id, "result": result}))
}

/// Calls `tool` of an app at `callback` (loopback only).
fn call_app(callback: &str, tool: &str, args: &Value) -> std::result::Result<Value, String> {
    let agent = crate::net::agent(crate::net::Reach::Loopback, crate::net::Options::default());
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "call", "params": {"tool": tool, "args": args}});
    let mut resp = agent
        .post(callback)
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .map_err(|e| format!("the app did not answer: {e}"))?;
    let text = resp
        .body_mut()
        .with_config()
        .limit(crate::http::MAX_BODY as u64)
        .read_to_string()
        .map_err(|e| format!("the app's answer could not be read: {e}"))?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| format!("the app's answer is not JSON-RPC: {e}"))?;
    if let Some(err) = v.get("error") {
        return Err(err["message"]
            .as_str()
            .unwrap_or("the app failed")
            .to_string());
    }
    v.get("result")
        .cloned()
        .ok_or_else(|| "the app's answer has no result".to_string())
}

/// Whether `url` is an `http` URL on loopback: a loopback address or
/// `localhost`, no user information (checked again, on the addresses it
/// resolves to, when it is called).
fn is_loopback_url(url: &str) -> bool {
    let Ok(t) = crate::net::parse(url) else {
        return false;
    };
    t.scheme == "http"
        && (t.host == "localhost"
            || t.host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback()))
}

/// Whether the request carries `Bearer TOKEN`, compared in constant time.
fn authorized(req: &Request, token: &str) -> bool {
    use subtle::ConstantTimeEq;
    let given = req.header("authorization").unwrap_or_default();
    let want = format!("Bearer {token}");
    given.len() == want.len() && bool::from(given.as_bytes().ct_eq(want.as_bytes()))
}

fn handle(shared: &Shared, token: &str, req: &Request) -> Response {
    if !authorized(req, token) {
        return Response::json(401, &json!({"error": "a bearer token is needed"}));
    }
    if req.method != "POST" || req.path != "/rpc" {
        return Response::json(404, &json!({"error": "POST /rpc"}));
    }
    let Ok(msg) = serde_json::from_slice::<Value>(&req.body) else {
        return rpc_error(&Value::Null, -32700, "parse error");
    };
    let id = msg.get("id").cloned().unwrap_or(Value::Null);
    let params = msg.get("params").cloned().unwrap_or(Value::Null);
    let Some(method) = msg.get("method").and_then(Value::as_str) else {
        return rpc_error(&id, -32600, "invalid request: no method");
    };
    match method {
        "register" => {
            let (Some(app), Some(callback)) = (params["app"].as_str(), params["callback"].as_str())
            else {
                return rpc_error(&id, -32602, "register needs app and callback");
            };
            if !is_loopback_url(callback) {
                return rpc_error(&id, -32602, "the callback must be an http URL on loopback");
            }
            if app.is_empty() || app.contains(['.', ' ']) {
                return rpc_error(&id, -32602, "the app name must be one word");
            }
            let specs: Vec<ToolSpec> = match serde_json::from_value(params["tools"].clone()) {
                Ok(s) => s,
                Err(e) => return rpc_error(&id, -32602, &format!("tools: {e}")),
            };
            let mut reg = shared.registry.lock().unwrap_or_else(|p| p.into_inner());
            let mut owned = shared.app_tools.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(taken) = specs
                .iter()
                .map(|s| format!("{app}.{}", s.name))
                .find(|n| reg.spec(n).is_some() && !owned.contains(n))
            {
                return rpc_error(
                    &id,
                    -32602,
                    &format!("{taken} is the assistant's own tool; pick another app name"),
                );
            }
            let check = shared
                .check
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .clone();
            if let Some(check) = check {
                for spec in &specs {
                    let mut named = spec.clone();
                    named.name = format!("{app}.{}", spec.name);
                    if let Err(why) = check(&named) {
                        return rpc_error(&id, -32602, &why);
                    }
                }
            }
            let mut names = Vec::new();
            for mut spec in specs {
                let local = spec.name.clone();
                spec.name = format!("{app}.{local}");
                let cb = callback.to_string();
                reg.unregister(&spec.name);
                owned.insert(spec.name.clone());
                let name = spec.name.clone();
                if let Err(e) = reg.register(spec, move |args| call_app(&cb, &local, args)) {
                    return rpc_error(&id, -32602, &e.to_string());
                }
                names.push(name);
            }
            rpc_ok(&id, json!({"registered": names}))
        }
        "unregister" => {
            let Some(app) = params["app"].as_str() else {
                return rpc_error(&id, -32602, "unregister needs app");
            };
            let mut reg = shared.registry.lock().unwrap_or_else(|p| p.into_inner());
            let mut owned = shared.app_tools.lock().unwrap_or_else(|p| p.into_inner());
            let prefix = format!("{app}.");
            let names: Vec<String> = reg
                .specs()
                .filter(|s| s.name.starts_with(&prefix) && owned.contains(&s.name))
                .map(|s| s.name.clone())
                .collect();
            for n in &names {
                reg.unregister(n);
                owned.remove(n);
            }
            rpc_ok(&id, json!({"unregistered": names}))
        }
        "tools.list" => {
            let reg = shared.registry.lock().unwrap_or_else(|p| p.into_inner());
            rpc_ok(
                &id,
                serde_json::to_value(reg.specs().collect::<Vec<_>>()).unwrap_or_default(),
            )
        }
        "approvals.pending" => {
            let a = shared.approvals.lock().unwrap_or_else(|p| p.into_inner());
            rpc_ok(
                &id,
                serde_json::to_value(a.pending().collect::<Vec<_>>()).unwrap_or_default(),
            )
        }
        "approvals.answer" => {
            let (Some(rid), Some(answer)) = (params["id"].as_str(), params["answer"].as_str())
            else {
                return rpc_error(&id, -32602, "approvals.answer needs id and answer");
            };
            if params.get("via").is_some() {
                return rpc_error(
                    &id,
                    -32602,
                    "an answer's source is recorded by the endpoint, not claimed by its client",
                );
            }
            let now = *shared.now_ms.lock().unwrap_or_else(|p| p.into_inner());
            let mut a = shared.approvals.lock().unwrap_or_else(|p| p.into_inner());
            let source = Source::Endpoint;
            match a.answer(&[rid], &interpret(answer), source, now) {
                Ok(d) => rpc_ok(
                    &id,
                    json!({"decision": format!("{:?}", d[0]).to_lowercase()}),
                ),
                Err(e) => rpc_error(&id, -32000, &e.to_string()),
            }
        }
        other => rpc_error(&id, -32601, &format!("no method {other:?}")),
    }
}

/// Starts the endpoint on `addr` (loopback; `127.0.0.1:0` picks a port).
/// Every address `addr` names, and the one bound, must be loopback.
pub fn start(addr: &str, token: &str, shared: Shared) -> std::io::Result<Server> {
    start_with(addr, token, shared, crate::http::Limits::default())
}

/// [`start`] within other limits (connections at once, time to read a
/// request).
pub fn start_with(
    addr: &str,
    token: &str,
    shared: Shared,
    limits: crate::http::Limits,
) -> std::io::Result<Server> {
    use std::net::ToSocketAddrs;
    let refuse = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, what);
    let addrs: Vec<std::net::SocketAddr> = addr.to_socket_addrs()?.collect();
    if addrs.is_empty() || addrs.iter().any(|a| !a.ip().is_loopback()) {
        return Err(refuse(format!(
            "the endpoint listens on loopback only, and {addr} is not"
        )));
    }
    let token = token.to_string();
    let server = Server::start_with(&addrs[0].to_string(), limits, move |req| {
        handle(&shared, &token, req)
    })?;
    if !server.addr().ip().is_loopback() {
        return Err(refuse(format!(
            "the endpoint was bound to {}, not loopback",
            server.addr()
        )));
    }
    Ok(server)
}

/// The file, in the data folder, where a running endpoint says where it is.
pub const ADVERT_FILE: &str = "endpoint.json";

/// Where a running endpoint listens and the token it wants: written by the
/// process that started it (readable by its user only), read by clients
/// such as `ainima approvals`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advert {
    /// `http://127.0.0.1:PORT/rpc`.
    pub url: String,
    /// The bearer token.
    pub token: String,
    /// The process serving it.
    pub pid: u32,
}

impl Advert {
    /// Writes the advert into `dir` atomically, mode 0600 on Unix; returns
    /// the file.
    pub fn write(&self, dir: &Path) -> Result<PathBuf> {
        let path = dir.join(ADVERT_FILE);
        let tmp = dir.join(format!(".{ADVERT_FILE}.{}", std::process::id()));
        let what = || path.display().to_string();
        std::fs::create_dir_all(dir).map_err(|e| Error::storage(what(), e))?;
        let body = serde_json::to_vec_pretty(self).map_err(|e| Error::storage(what(), e))?;
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp).map_err(|e| Error::storage(what(), e))?;
        std::io::Write::write_all(&mut f, &body).map_err(|e| Error::storage(what(), e))?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(|e| Error::storage(what(), e))?;
        Ok(path)
    }

    /// Reads the advert in `dir`.
    pub fn read(dir: &Path) -> Result<Advert> {
        let path = dir.join(ADVERT_FILE);
        let bytes = std::fs::read(&path).map_err(|e| Error::Storage {
            what: path.display().to_string(),
            message: format!("{e} (is a session with the endpoint running?)"),
        })?;
        serde_json::from_slice(&bytes).map_err(|e| Error::storage(path.display().to_string(), e))
    }
}

/// The endpoint of a running session, advertised in its data folder;
/// dropping it stops the endpoint and takes its advert back.
pub struct Running {
    server: Server,
    advert: PathBuf,
    /// What the advert says.
    pub info: Advert,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("url", &self.info.url)
            .finish_non_exhaustive()
    }
}

impl Running {
    /// Where it listens.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.addr()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Another session may have advertised itself since: its advert stays.
        if Advert::read(self.advert.parent().unwrap_or(Path::new(".")))
            .is_ok_and(|a| a.pid == self.info.pid && a.url == self.info.url)
        {
            let _ = std::fs::remove_file(&self.advert);
        }
    }
}

/// Starts the endpoint for `shared` on a free loopback port with a fresh
/// random token, and advertises it in `data` (`endpoint.json`, mode 0600),
/// where `ainima approvals` and apps find it.
pub fn serve(data: &Path, shared: Shared) -> Result<Running> {
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| Error::storage("the endpoint's token", e))?;
    let token = hex::encode(key);
    let server = start("127.0.0.1:0", &token, shared)
        .map_err(|e| Error::storage("the local endpoint", e))?;
    let info = Advert {
        url: format!("{}/rpc", server.url()),
        token,
        pid: std::process::id(),
    };
    let advert = info.write(data)?;
    Ok(Running {
        server,
        advert,
        info,
    })
}

/// A client of the local endpoint.
#[derive(Debug, Clone)]
pub struct Client {
    url: String,
    token: String,
    agent: ureq::Agent,
}

impl Client {
    /// A client of the endpoint at `url` (`.../rpc`) with `token`.
    pub fn new(url: &str, token: &str) -> Client {
        Client {
            url: url.to_string(),
            token: token.to_string(),
            // The token goes only to loopback, whatever the advert says.
            agent: crate::net::agent(crate::net::Reach::Loopback, crate::net::Options::default()),
        }
    }

    /// Calls `method` with `params`; its result.
    pub fn call(&self, method: &str, params: Value) -> Result<Value> {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let mut resp = self
            .agent
            .post(&self.url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .header("Content-Type", "application/json")
            .send(body.to_string().as_bytes())
            .map_err(|e| Error::Delivery {
                target: self.url.clone(),
                message: match crate::net::refusal(&e) {
                    Some(m) => m,
                    None => format!("{e} (is a session with the endpoint running?)"),
                },
                retryable: true,
            })?;
        let status = resp.status().as_u16();
        let unreadable = |e: &dyn std::fmt::Display| Error::Rpc {
            method: method.to_string(),
            message: format!("HTTP {status}, unreadable answer: {e}"),
        };
        let text = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| unreadable(&e))?;
        let reply: Value = serde_json::from_str(&text).map_err(|e| unreadable(&e))?;
        if let Some(err) = reply.get("error") {
            let message = err
                .get("message")
                .and_then(Value::as_str)
                .map_or_else(|| err.to_string(), str::to_string);
            return Err(Error::Rpc {
                method: method.to_string(),
                message,
            });
        }
        Ok(reply.get("result").cloned().unwrap_or(Value::Null))
    }

    /// The pending approval requests.
    pub fn pending(&self) -> Result<Vec<crate::approval::ApprovalRequest>> {
        let v = self.call("approvals.pending", Value::Null)?;
        serde_json::from_value(v).map_err(|e| Error::Rpc {
            method: "approvals.pending".into(),
            message: e.to_string(),
        })
    }

    /// Answers one request ("yes", "no"), recorded as the endpoint's; the decision
    /// (`approved`, `denied`).
    pub fn answer(&self, id: &str, answer: &str) -> Result<String> {
        let v = self.call("approvals.answer", json!({"id": id, "answer": answer}))?;
        Ok(v["decision"].as_str().unwrap_or_default().to_string())
    }
}
