//! The language core on the command line: `parse`, `chat`, `rules` and
//! `nlu eval`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use ainima_fallbacks::Catalog;
use ainima_fallbacks::snips::{self, LearnConfig};
use ainima_neurosymbolic::Now;
use anyhow::{Context, Result};

/// The built-in skills, then `<config>/skills/*.toml` if that folder
/// exists, then each of `extra` (files or folders); without the simulated
/// devices where `cfg` describes a home.
pub fn catalog(
    cfg: &crate::config::AppConfig,
    config_dir: &Path,
    extra: &[PathBuf],
) -> Result<Catalog> {
    // With a home described, its devices are the devices: the built-in
    // simulated ones would answer for lights the home does not have.
    let left_out: &[&str] = if cfg.home_assistant.is_some() {
        &[ainima_fallbacks::builtin::DEVICES]
    } else {
        &[]
    };
    let mut c = ainima_fallbacks::builtin::catalog_without(left_out)?;
    let user = config_dir.join("skills");
    if user.is_dir() {
        c.add_dir(&user)?;
    }
    for p in extra {
        if p.is_dir() {
            c.add_dir(p)?;
        } else {
            c.add_file(p)?;
        }
    }
    c.check()?;
    Ok(c)
}

/// The time for the dialogue: `--now` (Unix seconds) if given, else the
/// system clock, told in `zone`.
pub fn now(at: Option<i64>, zone: &jiff::tz::TimeZone) -> Now {
    ainima::session::local_now(now_unix(at), zone)
}

/// `--now` if given, else the system clock, Unix seconds.
fn now_unix(at: Option<i64>) -> i64 {
    at.unwrap_or_else(|| jiff::Timestamp::now().as_second())
}

/// `ainima parse TEXT`: what the rules and the model (`[understanding]`)
/// make of a sentence, without acting; `-` reads one sentence a line from
/// standard input and answers each.
pub fn parse(
    catalog: Catalog,
    text: &str,
    now: Now,
    json: bool,
    cfg: &crate::config::AppConfig,
    out: &mut dyn Write,
) -> Result<()> {
    let mut assistant = ainima_neurosymbolic::Assistant::new(catalog, 0)?;
    let (model, thresholds) = crate::understanding::load(&cfg.understanding)?;
    assistant.set_model(model, thresholds);
    if text == "-" {
        for line in std::io::stdin().lines() {
            let line = line.context("reading standard input")?;
            if !line.trim().is_empty() {
                parse_one(&assistant, &line, now, json, out)?;
            }
        }
        return Ok(());
    }
    parse_one(&assistant, text, now, json, out)
}

fn parse_one(
    assistant: &ainima_neurosymbolic::Assistant,
    text: &str,
    now: Now,
    json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    use ainima_neurosymbolic::arbitrate::Decision;
    let (parsed, ask, why) = match assistant.understand(text, now) {
        Decision::Rules(p) | Decision::Act(p) => (Some(p), None, None),
        Decision::Ask { parse, question } => (Some(parse), Some(question), None),
        Decision::Nothing { reading, why } => (reading, None, why),
    };
    if json {
        let mut v = match &parsed {
            Some(p) => serde_json::json!({
                "text": text,
                "intent": p.intent,
                "slots": p.slots.iter().map(|s| (s.name.clone(), serde_json::to_value(&s.value).unwrap_or_default())).collect::<serde_json::Map<_, _>>(),
                "spans": p.slots,
                "confidence": p.confidence,
                "source": p.source,
                "template": p.template,
                "origin": p.origin,
                "explanation": p.explanation,
            }),
            None => serde_json::json!({
                "text": text,
                "intent": null,
                "slots": {},
                "confidence": 0.0,
                "source": "rules",
                "explanation": [why.clone().unwrap_or_else(|| "no template fits".into())],
            }),
        };
        if let Some(o) = v.as_object_mut() {
            if let Some(q) = &ask {
                o.insert("ask".into(), q.clone().into());
            }
            if let (Some(w), Some(_)) = (&why, &parsed)
                && let Some(e) = o.get_mut("explanation").and_then(|e| e.as_array_mut())
            {
                e.push(w.clone().into());
            }
        }
        writeln!(out, "{v}")?;
    } else {
        match parsed {
            Some(p) => {
                writeln!(out, "{}\t{:.2}\t{}", p.intent, p.confidence, p.source)?;
                for s in &p.slots {
                    writeln!(out, "  {} = {}\t({:?}, {})", s.name, s.value, s.text, s.how)?;
                }
                for e in &p.explanation {
                    writeln!(out, "  - {e}")?;
                }
                if let Some(q) = ask {
                    writeln!(out, "  asks: {q}")?;
                }
                if let Some(w) = &why {
                    writeln!(out, "  - {w}")?;
                }
            }
            None => {
                writeln!(out, "no intent: no template fits")?;
                if let Some(w) = &why {
                    writeln!(out, "  - {w}")?;
                }
            }
        }
    }
    Ok(())
}

/// `ainima chat`: one line in, one reply out, until the input ends.
/// What `ainima chat` is told.
#[derive(Debug)]
pub struct ChatArgs<'a> {
    /// Picks among reply variants.
    pub seed: u64,
    /// `--now`, Unix seconds.
    pub at: Option<i64>,
    /// The zone to tell time in.
    pub zone: &'a jiff::tz::TimeZone,
    /// A JSON line a turn.
    pub json: bool,
    /// Show why.
    pub explain: bool,
    /// The data folder (audit log, kept timers).
    pub data: &'a Path,
    /// Where to write the events, one a line.
    pub events: Option<&'a Path>,
    /// The configuration (MCP servers, policies).
    pub cfg: &'a crate::config::AppConfig,
}

/// `ainima chat`.
pub fn chat(catalog: Catalog, args: &ChatArgs<'_>, out: &mut dyn Write) -> Result<()> {
    let ChatArgs {
        seed,
        at,
        zone,
        json,
        explain,
        data,
        events,
        cfg,
    } = *args;
    let started = std::time::Instant::now();
    let mut events = match events {
        Some(p) => Some(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| p.display().to_string())?,
        )),
        None => None,
    };
    let mut write_event = |kind: ainima::session::EventKind| -> Result<()> {
        if let Some(f) = events.as_mut() {
            let e = ainima::session::Event {
                t: started.elapsed().as_secs_f64(),
                kind,
            };
            writeln!(f, "{}", serde_json::to_string(&e)?)?;
            f.flush()?;
        }
        Ok(())
    };
    // The same agent as a voice session: its tools, approvals (a typed
    // "yes" answers), the audit log.
    let mut agent = crate::run::agent(catalog.clone(), seed, None, cfg)?;
    agent.audit = Some(crate::run::audit_log(data)?);
    crate::run::connect(&mut agent, cfg, data)?;
    // Timers and alarms kept from before; those that came due meanwhile
    // are told first.
    crate::run::restore_pending(&mut agent, data)?;
    let tell_rings = |agent: &mut ainima_agent::agent::Agent,
                      out: &mut dyn Write,
                      write_event: &mut dyn FnMut(ainima::session::EventKind) -> Result<()>|
     -> Result<bool> {
        let rings = agent.assistant.due(now(at, zone));
        for ring in &rings {
            write_event(ainima::session::EventKind::Ring { text: ring.clone() })?;
            if json {
                writeln!(out, "{}", serde_json::json!({"ring": ring}))?;
            } else {
                writeln!(out, "ainima> (ring) {ring}")?;
            }
        }
        if !rings.is_empty() {
            crate::run::keep_pending(agent, data)?;
        }
        Ok(!rings.is_empty())
    };
    tell_rings(&mut agent, out, &mut write_event)?;
    // The local endpoint, with this agent's tools and approvals: `ainima
    // approvals` and apps reach this conversation while it runs.
    let endpoint = ainima_agent::endpoint::serve(data, agent.shared())
        .context("starting the local endpoint")?;
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        writeln!(
            out,
            "Type to talk; Ctrl-D ends. Try \"set a timer\" or \"why\". Approvals: `ainima approvals list` (endpoint {}).",
            endpoint.info.url
        )?;
    }
    // Lines come from a thread of their own, so that what happens meanwhile
    // (an approval answered at the endpoint, a timer) is told at once.
    let (tx, lines) = std::sync::mpsc::channel::<std::io::Result<String>>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut prompt = true;
    loop {
        if interactive && prompt {
            write!(out, "you> ")?;
            out.flush()?;
            prompt = false;
        }
        let line = match lines.recv_timeout(std::time::Duration::from_millis(100)) {
            Ok(line) => line.context("reading standard input")?,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                if tell_rings(&mut agent, out, &mut write_event)? {
                    prompt = true;
                }
                let now_ms = (now_unix(at).max(0) as u64) * 1000;
                if let Some(turn) = agent.poll(now(at, zone), now_ms) {
                    show_turn(&turn, &catalog, json, explain, out, &mut write_event)?;
                    prompt = true;
                }
                continue;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        };
        prompt = true;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let now = now(at, zone);
        let now_ms = (now_unix(at).max(0) as u64) * 1000;
        // Timers and alarms that came due meanwhile are told first.
        tell_rings(&mut agent, out, &mut write_event)?;
        let turn = agent.hear(line, ainima_agent::approval::Source::Typed, now, now_ms);
        crate::run::keep_pending(&agent, data)?;
        show_turn(&turn, &catalog, json, explain, out, &mut write_event)?;
    }
    drop(endpoint);
    Ok(())
}

/// A turn of `chat` as events, and for the person (a line, or JSON).
fn show_turn(
    turn: &ainima_agent::agent::AgentTurn,
    catalog: &Catalog,
    json: bool,
    explain: bool,
    out: &mut dyn Write,
    write_event: &mut dyn FnMut(ainima::session::EventKind) -> Result<()>,
) -> Result<()> {
    for kind in ainima::session::turn_events(turn, catalog) {
        write_event(kind)?;
    }
    if !turn.reply.trim().is_empty() {
        write_event(ainima::session::EventKind::Reply {
            text: turn.reply.clone(),
        })?;
    }
    if json {
        // The dialogue's turn, with the agent's reply and calls.
        writeln!(out, "{}", turn.to_json())?;
    } else {
        writeln!(out, "ainima> {}", turn.reply)?;
        for c in &turn.calls {
            let args = serde_json::to_string(&c.args)?;
            writeln!(out, "        {} {args}: {}", c.tool, c.status)?;
        }
        if explain && let Some(d) = &turn.dialogue {
            for e in &d.explanation {
                writeln!(out, "        - {e}")?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

/// `ainima rules list`.
pub fn rules(catalog: Catalog, json: bool, out: &mut dyn Write) -> Result<()> {
    let engine = ainima_neurosymbolic::rules::Engine::new(&catalog.rules)?;
    if json {
        let v: Vec<_> = engine
            .rules()
            .iter()
            .map(|r| {
                serde_json::json!({
                    "name": r.name, "salience": r.salience, "when": r.when, "then": r.then,
                    "because": r.because, "origin": r.origin.to_string(),
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
    } else {
        for r in engine.rules() {
            writeln!(out, "{}\t{}", r.name, r.origin)?;
            writeln!(out, "  when {}", r.when)?;
            writeln!(out, "  then {}", r.then)?;
            writeln!(out, "  because {}", r.because)?;
        }
    }
    Ok(())
}

/// The sentences a scorer got wrong, as JSON objects (text, expected, got).
pub(crate) fn wrong_json(errors: &[(String, String, String)]) -> serde_json::Value {
    errors
        .iter()
        .map(|(t, want, got)| serde_json::json!({"text": t, "expected": want, "got": got}))
        .collect()
}

/// `ainima nlu eval --snips DIR`.
pub fn eval_snips(dir: &Path, min_confidence: f32, json: bool, out: &mut dyn Write) -> Result<()> {
    let train = snips::read_dir(dir, "train_")?;
    let test = snips::read_dir(dir, "validate_")?;
    let start = std::time::Instant::now();
    let r = snips::evaluate(&train, &test, &LearnConfig::default(), min_confidence)?;
    let seconds = start.elapsed().as_secs_f64();
    if json {
        let mut v = serde_json::to_value(&r)?;
        if let Some(o) = v.as_object_mut() {
            o.remove("errors");
            o.insert("train_utterances".into(), train.len().into());
            o.insert("seconds".into(), seconds.into());
            o.insert("wrong".into(), wrong_json(&r.errors));
        }
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "SNIPS: learned {} templates from {} training utterances, tested on {} ({seconds:.1} s)",
        r.templates,
        train.len(),
        r.utterances
    )?;
    writeln!(
        out,
        "{:<22}{:>10}{:>10}{:>10}{:>10}",
        "intent", "utterances", "answered", "right", "recall"
    )?;
    for (intent, (n, answered, right)) in &r.per_intent {
        writeln!(
            out,
            "{intent:<22}{n:>10}{answered:>10}{right:>10}{:>9.1}%",
            100.0 * *right as f64 / (*n).max(1) as f64
        )?;
    }
    let pct = |x: f64| format!("{:.1}%", 100.0 * x);
    writeln!(out, "answered          {}", pct(r.answered))?;
    writeln!(
        out,
        "precision         {} (right among answered)",
        pct(r.precision)
    )?;
    writeln!(
        out,
        "intent accuracy   {} (unanswered count as wrong)",
        pct(r.intent_accuracy)
    )?;
    writeln!(out, "recall (macro)    {}", pct(r.recall))?;
    writeln!(
        out,
        "slot F1           {} (precision {}, recall {})",
        pct(r.slot_f1),
        pct(r.slot_precision),
        pct(r.slot_recall)
    )?;
    writeln!(out, "slot F1, answered {}", pct(r.slot_f1_answered))?;
    writeln!(
        out,
        "published: JointBERT 98.6% intent accuracy, 97.0% slot F1 (a trained model; this is rules alone)"
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The skill file in the README loads beside the built-in skills and
    /// does what its comments say.
    #[test]
    fn the_readme_skill_example_works() {
        let readme = include_str!("../../README.md");
        let section = readme.find("## Skills").expect("the section");
        let start = section + readme[section..].find("```toml\n").expect("a toml block") + 8;
        let len = readme[start..].find("```").expect("closed");
        let mut c = ainima_fallbacks::builtin::catalog().expect("built-in skills");
        c.add_str("README.md", &readme[start..start + len])
            .expect("the example loads");
        let m = ainima_fallbacks::Matcher::new(&c).expect("compiles");
        let p = m
            .parse("switch on the kitchen lights", &Default::default())
            .expect("parses");
        assert_eq!(p.intent, "lights_on");
        assert_eq!(p.slots[0].value.to_string(), "kitchen light");
        ainima_neurosymbolic::rules::Engine::new(&c.rules).expect("its rules compile");
    }
}
