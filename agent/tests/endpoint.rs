//! An external app on loopback registers its functions at the local
//! endpoint, and the agent calls them; an approval UI answers requests.

use std::time::Duration;

use ainima_agent::approval::{Decision, Policy};
use ainima_agent::endpoint::{self, Shared};
use ainima_agent::http::{Response, Server};
use ainima_agent::{Error, execute};
use serde_json::{Value, json};

const TOKEN: &str = "test-token-123";

fn rpc(url: &str, token: Option<&str>, body: &str) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = agent
        .post(&format!("{url}/rpc"))
        .header("Content-Type", "application/json");
    if let Some(t) = token {
        req = req.header("Authorization", &format!("Bearer {t}"));
    }
    let mut resp = req.send(body).expect("the endpoint answers");
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().expect("a body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// The app: a lamp it can toggle, and a function that always fails.
fn app() -> Server {
    Server::start("127.0.0.1:0", |req| {
        let msg: Value = serde_json::from_slice(&req.body).unwrap_or_default();
        let id = msg["id"].clone();
        match msg["params"]["tool"].as_str() {
            Some("toggle") => Response::json(200, &json!({"jsonrpc": "2.0", "id": id, "result": {"on": msg["params"]["args"]["on"]}})),
            _ => Response::json(200, &json!({"jsonrpc": "2.0", "id": id, "error": {"code": 1, "message": "the lamp is unplugged"}})),
        }
    })
    .expect("the app listens")
}

#[test]
fn an_app_registers_functions_and_receives_the_calls() {
    let shared = Shared::default();
    let ep = endpoint::start("127.0.0.1:0", TOKEN, shared.clone()).expect("listens");
    let app = app();
    let register = json!({"jsonrpc": "2.0", "id": 1, "method": "register", "params": {
        "app": "lamp",
        "callback": app.url(),
        "tools": [
            {"name": "toggle", "description": "Switch the lamp.", "parameters": {"type": "object", "properties": {"on": {"type": "boolean"}}, "required": ["on"]}, "annotations": {}},
            {"name": "dim", "description": "Dim the lamp.", "parameters": {"type": "object"}, "annotations": {"destructiveHint": false}}
        ]
    }});
    let (status, v) = rpc(&ep.url(), Some(TOKEN), &register.to_string());
    assert_eq!(status, 200);
    assert_eq!(
        v["result"]["registered"],
        json!(["lamp.toggle", "lamp.dim"])
    );

    let reg = shared.registry.lock().expect("lock");
    let mut approvals = shared.approvals.lock().expect("lock");
    let out = execute(
        &reg,
        &mut approvals,
        Policy::Auto,
        "lamp.toggle",
        &json!({"on": true}),
        None,
        0,
        None,
    );
    assert_eq!(out.expect("the app answered"), json!({"on": true}));
    // Arguments are checked before the app is ever called.
    assert!(matches!(
        execute(
            &reg,
            &mut approvals,
            Policy::Auto,
            "lamp.toggle",
            &json!({"on": "yes"}),
            None,
            0,
            None
        ),
        Err(Error::BadArgument { .. })
    ));
    // The app's failure is the tool's failure.
    let e = execute(
        &reg,
        &mut approvals,
        Policy::Auto,
        "lamp.dim",
        &json!({}),
        None,
        0,
        None,
    )
    .expect_err("fails");
    assert_eq!(e.to_string(), "lamp.dim failed: the lamp is unplugged");
    drop((reg, approvals));

    let (_, v) = rpc(
        &ep.url(),
        Some(TOKEN),
        r#"{"jsonrpc":"2.0","id":2,"method":"unregister","params":{"app":"lamp"}}"#,
    );
    assert_eq!(
        v["result"]["unregistered"].as_array().map(Vec::len),
        Some(2)
    );
    assert!(
        shared
            .registry
            .lock()
            .expect("lock")
            .spec("lamp.toggle")
            .is_none()
    );
}

#[test]
fn approvals_are_answered_over_the_endpoint() {
    let shared = Shared::default();
    let ep = endpoint::start("127.0.0.1:0", TOKEN, shared.clone()).expect("listens");
    let req = shared.approvals.lock().expect("lock").request(
        "message.send",
        &json!({"to": "mom"}),
        "Send?",
        0,
    );
    let (_, v) = rpc(
        &ep.url(),
        Some(TOKEN),
        r#"{"jsonrpc":"2.0","id":1,"method":"approvals.pending"}"#,
    );
    assert_eq!(v["result"][0]["id"], req.id);
    let answer = json!({"jsonrpc": "2.0", "id": 2, "method": "approvals.answer", "params": {"id": req.id, "answer": "yes"}});
    let (_, v) = rpc(&ep.url(), Some(TOKEN), &answer.to_string());
    assert_eq!(
        v["result"]["decision"],
        format!("{:?}", Decision::Approved).to_lowercase()
    );
    // A replay of the same answer is refused.
    let (_, v) = rpc(&ep.url(), Some(TOKEN), &answer.to_string());
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("answered already")),
        "{v}"
    );
}

#[test]
fn strangers_and_garbage_are_turned_away() {
    let shared = Shared::default();
    let ep = endpoint::start("127.0.0.1:0", TOKEN, shared).expect("listens");
    assert_eq!(rpc(&ep.url(), None, "{}").0, 401);
    assert_eq!(rpc(&ep.url(), Some("wrong"), "{}").0, 401);
    assert_eq!(
        rpc(&ep.url(), Some(TOKEN), "not json").1["error"]["code"],
        -32700
    );
    assert_eq!(
        rpc(
            &ep.url(),
            Some(TOKEN),
            r#"{"jsonrpc":"2.0","id":1,"method":"shutdown"}"#
        )
        .1["error"]["code"],
        -32601
    );
    let remote = json!({"jsonrpc": "2.0", "id": 1, "method": "register", "params": {"app": "x", "callback": "http://203.0.113.5:80/", "tools": []}});
    assert_eq!(
        rpc(&ep.url(), Some(TOKEN), &remote.to_string()).1["error"]["code"],
        -32602
    );
    assert!(
        endpoint::start("0.0.0.0:0", TOKEN, Shared::default()).is_err(),
        "loopback only"
    );
}
