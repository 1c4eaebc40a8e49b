//! `ainima bench agent`: tool dispatch overhead (schema check, lookup,
//! panic guard) against calling the function directly, and outbox
//! throughput to a receiver on loopback against plain signed POSTs of the
//! same payloads.

use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use ainima_agent::approval::{Approvals, Policy};
use ainima_agent::http::{Response, Server};
use ainima_agent::outbox::Outbox;
use ainima_agent::tools::{Annotations, Registry, ToolSpec};
use ainima_agent::webhook::Webhook;
use anyhow::Result;
use serde_json::{Value, json};

use crate::bench::median;

fn work(args: &Value) -> Value {
    json!({"ok": args["level"].as_f64().unwrap_or(0.0) > 10.0})
}

/// Runs the benchmark.
pub fn run(json_out: Option<&Path>, runs: usize, out: &mut dyn Write) -> Result<()> {
    let mut reg = Registry::new();
    reg.register(
        ToolSpec {
            name: "device.brightness".into(),
            description: "Set a light's brightness.".into(),
            parameters: json!({"type": "object", "properties": {
                "device": {"type": "string", "minLength": 1},
                "level": {"type": "number", "minimum": 0, "maximum": 100}},
                "required": ["device", "level"], "additionalProperties": false}),
            annotations: Annotations {
                idempotent_hint: true,
                ..Annotations::default()
            },
        },
        |a| Ok(work(a)),
    )?;
    let args = json!({"device": "kitchen light", "level": 40});
    let n = 20_000;
    let time = |f: &mut dyn FnMut()| {
        let mut per = Vec::new();
        for _ in 0..runs {
            let t = Instant::now();
            for _ in 0..n {
                f();
            }
            per.push(t.elapsed().as_secs_f64() / n as f64 * 1e6);
        }
        median(per)
    };
    let direct = time(&mut || {
        black_box(work(black_box(&args)));
    });
    let call = time(&mut || {
        black_box(reg.call("device.brightness", black_box(&args)).ok());
    });
    let mut approvals = Approvals::new(30_000);
    let gated = time(&mut || {
        black_box(
            ainima_agent::execute(
                &reg,
                &mut approvals,
                Policy::Auto,
                "device.brightness",
                black_box(&args),
                None,
                0,
                None,
            )
            .ok(),
        );
    });

    // Outbox throughput.
    let server = Server::start("127.0.0.1:0", |_| Response::json(200, &json!({"ok": true})))?;
    let url = format!("{}/hook", server.url());
    let tmp = std::env::temp_dir().join(format!("ainima-bench-agent-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let m = 300;
    let hook = |target: &str| {
        let mut w = Webhook::new(target);
        w.secret = Some(b"bench".to_vec());
        w.allow_private = vec!["127.0.0.1".into()];
        w
    };
    let mut enqueue_rate = Vec::new();
    let mut deliver_rate = Vec::new();
    let mut plain_rate = Vec::new();
    for r in 0..runs.min(3) {
        let db = tmp.join(format!("outbox-{r}.redb"));
        let o = Outbox::open(&db)?;
        let t = Instant::now();
        for i in 0..m {
            o.enqueue(
                &url,
                "message.send",
                &json!({"n": i, "text": "hello"}),
                None,
                0,
            )?;
        }
        enqueue_rate.push(m as f64 / t.elapsed().as_secs_f64());
        let t = Instant::now();
        let (ok, _) = o.deliver_due(0, &mut |e| {
            hook(&e.target).deliver(&e.key, &e.payload).map(|_| ())
        })?;
        anyhow::ensure!(ok == m, "delivered {ok} of {m}");
        deliver_rate.push(m as f64 / t.elapsed().as_secs_f64());
        let t = Instant::now();
        let w = hook(&url);
        for i in 0..m {
            w.deliver(&format!("plain-{i}"), &json!({"n": i, "text": "hello"}))?;
        }
        plain_rate.push(m as f64 / t.elapsed().as_secs_f64());
    }
    std::fs::remove_dir_all(&tmp).ok();
    let (enq, del, plain) = (
        median(enqueue_rate),
        median(deliver_rate),
        median(plain_rate),
    );

    writeln!(out, "Agent: median of {runs} runs")?;
    writeln!(out, "{:<58}{:>12}", "", "")?;
    writeln!(
        out,
        "{:<58}{:>10.2} µs",
        "Tool call through the registry (schema check, guard)", call
    )?;
    writeln!(
        out,
        "{:<58}{:>10.2} µs",
        "  through the policy gate (execute, no audit)", gated
    )?;
    writeln!(
        out,
        "{:<58}{:>10.2} µs",
        "  the same function called directly (baseline)", direct
    )?;
    writeln!(
        out,
        "{:<58}{:>10.0} /s",
        "Outbox: enqueue (durable commit each)", enq
    )?;
    writeln!(
        out,
        "{:<58}{:>10.0} /s",
        "Outbox: deliver to loopback (signed POST, mark done)", del
    )?;
    writeln!(
        out,
        "{:<58}{:>10.0} /s",
        "  signed POSTs alone, no outbox (baseline)", plain
    )?;
    writeln!(
        out,
        "goal: tool dispatch under 50 µs for an in-process app function"
    )?;
    if let Some(p) = json_out {
        let v = json!({"runs": runs, "call_us": call, "gated_us": gated, "direct_us": direct,
            "enqueue_per_s": enq, "deliver_per_s": del, "plain_post_per_s": plain});
        std::fs::write(p, serde_json::to_string_pretty(&v)?)?;
    }
    Ok(())
}
