//! A real third-party MCP server over stdio: npm's
//! `@modelcontextprotocol/server-everything`, installed by scripts/setup
//! (skipped where it is missing, failing under `AINIMA_REQUIRE_DATA=1`).
//! Its tools become registry tools, their annotations feed the policy, and
//! calls go through the same gate as every other tool.

use ainima_agent::approval::{Approvals, Policy, default_policy};
use ainima_agent::mcp::{self, McpServer};
use ainima_agent::tools::Registry;
use ainima_agent::{Error, execute};
use serde_json::json;

#[test]
fn tools_of_a_real_mcp_server_are_callable_through_the_gate() {
    let Some(path) = ainima_testkit::mcp_everything() else {
        return;
    };
    let server =
        McpServer::spawn("everything", path.to_str().expect("utf-8"), &["stdio"]).expect("starts");
    let mut reg = Registry::new();
    let names = mcp::register(&mut reg, server).expect("lists its tools");
    assert!(names.contains(&"everything.echo".to_string()), "{names:?}");
    let echo = reg.spec("everything.echo").expect("echo");
    assert!(
        echo.annotations.read_only_hint,
        "annotations come from the server"
    );
    assert_eq!(default_policy(&echo.annotations), Policy::Auto);

    let mut approvals = Approvals::default();
    let out = execute(
        &reg,
        &mut approvals,
        Policy::Auto,
        "everything.echo",
        &json!({"message": "hello"}),
        None,
        0,
        None,
    )
    .expect("calls");
    assert_eq!(out, json!("Echo: hello"));
    // The server's schema is checked here, before the call.
    let e = execute(
        &reg,
        &mut approvals,
        Policy::Auto,
        "everything.echo",
        &json!({"message": 5}),
        None,
        0,
        None,
    )
    .expect_err("bad argument");
    assert!(matches!(e, Error::BadArgument { .. }), "{e}");
    // Tools that need approval from the server's annotations do not run without it.
    let needs: Vec<String> = reg
        .specs()
        .filter(|s| default_policy(&s.annotations) == Policy::Confirm)
        .map(|s| s.name.clone())
        .collect();
    if let Some(t) = needs.first() {
        assert!(matches!(
            execute(
                &reg,
                &mut approvals,
                Policy::Confirm,
                t,
                &json!({}),
                None,
                0,
                None
            ),
            Err(Error::NotApproved(_)) | Err(Error::BadArgument { .. })
        ));
    }
}

#[test]
fn a_server_that_does_not_start_is_a_clear_error() {
    let e = McpServer::spawn("nothing", "/nonexistent/mcp-server", &[]).expect_err("no server");
    assert!(
        e.to_string()
            .contains("cannot start /nonexistent/mcp-server"),
        "{e}"
    );
    // A program that is not an MCP server exits without answering the handshake.
    let e = McpServer::spawn("true", "true", &[]).expect_err("not a server");
    assert!(e.to_string().contains("the server exited"), "{e}");
}
