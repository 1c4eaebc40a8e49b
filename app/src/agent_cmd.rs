//! `ainima audit`, `ainima approvals` and `ainima outbox`.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use ainima_agent::outbox::{Outbox, State};
use ainima_agent::webhook::Webhook;
use anyhow::{Context, Result};

/// Milliseconds since the Unix epoch: the binary's clock for the outbox.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Whether no audit log was ever made at `log`: neither it, nor its head,
/// nor its key (any one of them left means one was, and must verify).
fn never_made(log: &Path) -> bool {
    use ainima_agent::audit::{head_path, key_path};
    !log.exists() && !head_path(log).exists() && !key_path(log).exists()
}

/// `ainima audit show`.
pub fn audit_show(log: &Path, since: u64, json: bool, out: &mut dyn Write) -> Result<()> {
    if never_made(log) {
        writeln!(out, "no audit log yet at {}", log.display())?;
        return Ok(());
    }
    for r in ainima_agent::audit::read(log, since)? {
        if json {
            writeln!(out, "{}", serde_json::to_string(&r)?)?;
        } else {
            writeln!(out, "{}\t{}\t{}\t{}", r.seq, r.time_ms, r.kind, r.data)?;
        }
    }
    Ok(())
}

/// `ainima audit verify`.
pub fn audit_verify(log: &Path, out: &mut dyn Write) -> Result<()> {
    let key = ainima_agent::audit::key_path(log);
    if never_made(log) {
        writeln!(out, "no audit log yet at {}", log.display())?;
        return Ok(());
    }
    let n = ainima_agent::audit::verify(log)?;
    writeln!(
        out,
        "{}: {n} records; chain keyed with HMAC-SHA256 (key {}), every record and the head intact",
        log.display(),
        key.display()
    )?;
    Ok(())
}

/// `ainima outbox list`.
pub fn outbox_list(db: &Path, json: bool, out: &mut dyn Write) -> Result<()> {
    let o = Outbox::open(db)?;
    let entries = o.list()?;
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&entries)?)?;
    } else if entries.is_empty() {
        writeln!(out, "the outbox is empty")?;
    } else {
        for e in entries {
            let state = serde_json::to_value(e.state)?;
            writeln!(
                out,
                "{}\t{}\t{}\t{} attempt(s)\t{}{}",
                e.id,
                state.as_str().unwrap_or("?"),
                e.tool,
                e.attempts,
                e.target,
                e.last_error.map(|m| format!("\t{m}")).unwrap_or_default()
            )?;
        }
    }
    Ok(())
}

/// `ainima outbox retry ID` and `drop ID`.
pub fn outbox_set(db: &Path, id: u64, retry: bool, out: &mut dyn Write) -> Result<()> {
    let o = Outbox::open(db)?;
    anyhow::ensure!(o.get(id)?.is_some(), "no outbox entry {id}");
    let e = if retry {
        o.retry(id, now_ms())?
    } else {
        o.drop_entry(id)?
    };
    writeln!(
        out,
        "{} is {}",
        e.id,
        serde_json::to_value(e.state)?.as_str().unwrap_or("?")
    )?;
    Ok(())
}

/// `ainima outbox deliver`: due entries to their webhook targets, until
/// none is pending (or once, with `once`). `template` holds the secret,
/// the allowed private hosts and the trusted roots; its URL is ignored.
pub fn outbox_deliver(
    db: &Path,
    template: &Webhook,
    once: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let o = Outbox::open(db).with_context(|| db.display().to_string())?;
    let (mut total_ok, mut total_bad) = (0, 0);
    loop {
        let (ok, bad) = o.deliver_due(now_ms(), &mut |e| {
            let mut w = template.clone();
            w.url = e.target.clone();
            w.deliver(&e.key, &e.payload).map(|_| ())
        })?;
        total_ok += ok;
        total_bad += bad;
        let pending = o
            .list()?
            .iter()
            .filter(|e| e.state == State::Pending)
            .count();
        if once || pending == 0 {
            writeln!(
                out,
                "delivered {total_ok}, failed attempts {total_bad}, pending {pending}"
            )?;
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The local endpoint's client: from `--endpoint` and `--token-env`, or
/// from the advert a running session wrote into the data folder.
pub fn endpoint_client(
    data: &Path,
    endpoint: Option<String>,
    token_env: Option<String>,
) -> Result<ainima_agent::endpoint::Client> {
    use ainima_agent::endpoint::{Advert, Client};
    let token_from = |var: &str| {
        std::env::var(var).with_context(|| format!("the token's variable {var} is not set"))
    };
    Ok(match (endpoint, token_env) {
        (Some(url), Some(var)) => Client::new(&url, &token_from(&var)?),
        (None, var) => {
            let advert = Advert::read(data)?;
            let token = match var {
                Some(var) => token_from(&var)?,
                None => advert.token,
            };
            Client::new(&advert.url, &token)
        }
        (Some(_), None) => anyhow::bail!("--endpoint needs --token-env"),
    })
}

/// `ainima approvals list`.
pub fn approvals_list(
    client: &ainima_agent::endpoint::Client,
    json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let pending = client.pending()?;
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&pending)?)?;
        return Ok(());
    }
    if pending.is_empty() {
        writeln!(out, "nothing waits for approval")?;
    }
    for r in pending {
        writeln!(
            out,
            "{}\t{}\t{}\t{}\texpires at {} ms",
            r.id, r.tool, r.sentence, r.args, r.expires_ms
        )?;
    }
    Ok(())
}

/// `ainima approvals approve|deny ID`.
pub fn approvals_answer(
    client: &ainima_agent::endpoint::Client,
    id: &str,
    approve: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let decision = client.answer(id, if approve { "yes" } else { "no" })?;
    writeln!(out, "{id}: {decision}")?;
    Ok(())
}
