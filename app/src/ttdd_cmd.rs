//! `ainima ttdd run`: scenario suites through the real session on the
//! simulated room and clock, in parallel, with reports.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, Result, bail};

use ainima::session::Config;
use ainima_ttdd::runner::{Options, Status};
use ainima_ttdd::suite;

use crate::config::AppConfig;

/// What `ainima ttdd run` is told.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Scenario files or folders (default: the suite built in).
    pub paths: Vec<PathBuf>,
    /// JUnit XML report.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Self-contained HTML report.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// JSON report.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// A JSON report to compare with: a p95 turn gap 10 % worse, or a
    /// lower task success, fails.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Run only shard K of N (1-based), as 2/4.
    #[arg(long, value_name = "K/N")]
    pub shard: Option<String>,
    /// Scenarios at once (each its own session; the model is loaded once).
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Fixed stage costs, one scenario at a time: two runs give the same
    /// JSON.
    #[arg(long)]
    pub deterministic: bool,
    /// Only scenarios with this tag.
    #[arg(long)]
    pub tag: Option<String>,
    /// Turn a part of the session off, to see the suite catch it:
    /// barge-in (half duplex), meaning (silence endpointing only).
    #[arg(long, value_name = "PART")]
    pub disable: Vec<String>,
    /// Suite budget: the share of scenarios that must pass (0 to 1).
    #[arg(long, value_name = "RATE")]
    pub min_success: Option<f64>,
    /// Suite budget: the turn gap's 95th percentile at most, ms (from the
    /// end of the user's voice to the reply's first audio).
    #[arg(long, value_name = "MS")]
    pub max_gap_p95: Option<f64>,
    /// Suite budget: the time to yield's 95th percentile at most, ms (the
    /// user's onset to the assistant's silence when interrupted).
    #[arg(long, value_name = "MS")]
    pub max_yield_p95: Option<f64>,
    /// Suite budget: the share of backchannels talked on through, at least
    /// (0 to 1; 1 means no false barge-in).
    #[arg(long, value_name = "RATE")]
    pub min_backchannel_tolerance: Option<f64>,
    /// Recursive testing: run variants of each passing scenario (rate,
    /// pitch, noise, reverberation, fillers, paraphrases); save each failing one,
    /// shrunk to the fewest turns that still fail, into DIR.
    #[arg(long, value_name = "DIR")]
    pub explore: Option<PathBuf>,
}

/// Runs a suite; fails (exit 1) on any failure or regression.
#[allow(clippy::too_many_arguments)] // reason: the command's inputs, each from the command line or home
pub fn run(
    cfg: &AppConfig,
    config_dir: &Path,
    model_dir: &Path,
    data_dir: Option<PathBuf>,
    require_data: bool,
    scratch: &Path,
    args: &Args,
    out: &mut dyn Write,
) -> Result<()> {
    let mut entries = if args.paths.is_empty() {
        suite::default_suite()?
    } else {
        suite::load(&args.paths)?
    };
    if let Some(tag) = &args.tag {
        entries.retain(|e| e.scenario.tags.iter().any(|t| t == tag));
    }
    if let Some(s) = &args.shard {
        let (k, n) = s
            .split_once('/')
            .and_then(|(k, n)| Some((k.parse().ok()?, n.parse().ok()?)))
            .with_context(|| format!("--shard {s}: K/N, as 1/4"))?;
        entries = suite::shard(entries, k, n)?;
    }
    for d in &args.disable {
        if !matches!(d.as_str(), "barge-in" | "meaning") {
            bail!("--disable {d}: barge-in or meaning");
        }
    }
    std::fs::create_dir_all(scratch).with_context(|| scratch.display().to_string())?;
    // The scenarios' outboxes, removed with the run (regression: every run
    // left one database a scenario behind, 1,491 files in the cache here).
    let run_dir = tempfile::Builder::new()
        .prefix("run-")
        .tempdir_in(scratch)
        .with_context(|| scratch.display().to_string())?;
    let scratch = run_dir.path();
    let counter = AtomicUsize::new(0);
    let disable = args.disable.clone();
    let factory =
        |s: &ainima_ttdd::scenario::Scenario| -> ainima::Result<ainima::session::Session> {
            // Messages go to an outbox of the scenario's own, for a webhook that
            // is not there: the network is down, the outbox keeps them.
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let db = scratch.join(format!("outbox-{n}.redb"));
            let outbox = ainima_agent::outbox::Outbox::open(&db)
                .map_err(|e| ainima::Error::Config(e.to_string()))?;
            let messages = Some((Arc::new(outbox), "http://127.0.0.1:9/offline".to_string()));
            let start = s.start_unix;
            let zone = match &s.time_zone {
                Some(z) => Some(
                    crate::clock::zone(Some(z))
                        .map_err(|e| ainima::Error::Config(format!("{}: {e:#}", s.name)))?,
                ),
                None => None,
            };
            let disable = disable.clone();
            let adjust = move |c: &mut Config| {
                if let Some(t) = start {
                    c.start_unix = t;
                }
                if let Some(z) = &zone {
                    c.time_zone = z.clone();
                }
                if disable.iter().any(|d| d == "barge-in") {
                    c.barge_in = false;
                }
                if disable.iter().any(|d| d == "meaning") {
                    c.meaning_pause_ms = 0;
                }
            };
            crate::run::session_with(
                cfg,
                config_dir,
                model_dir,
                args.deterministic,
                0,
                &adjust,
                messages,
                // Scenarios side by side must not hear each other through
                // the synthesiser's state.
                true,
            )
            .map_err(|e| ainima::Error::Config(format!("{e:#}")))
        };
    let opts = Options {
        data_dir,
        require_data,
        ..Options::default()
    };
    // With --deterministic, one scenario at a time: the synthesiser's state
    // carries from one text to the next, so the order matters.
    let jobs = if args.deterministic { 1 } else { args.jobs };
    let wall = std::time::Instant::now();
    let printed = std::sync::Mutex::new(Vec::<String>::new());
    let outcomes = suite::run_all(&entries, &factory, &opts, jobs, &|o| {
        let mark = match o.status {
            Status::Passed => "ok  ",
            Status::Failed => "FAIL",
            Status::Skipped => "skip",
        };
        let mut line = format!("{mark} {} ({})", o.name, o.file);
        for f in &o.failures {
            line.push_str(&format!("\n       {f}"));
        }
        eprintln!("{line}");
        printed.lock().unwrap_or_else(|p| p.into_inner()).push(line);
    });
    let wall = wall.elapsed().as_secs_f64();
    if let Some(dir) = &args.explore {
        // Paraphrases from the skills' templates: the same intent and slot
        // words, another template.
        let catalog = crate::language::catalog(cfg, config_dir, &[])?;
        let matcher = ainima_fallbacks::matcher::Matcher::new(&catalog)?;
        let paraphrase = |text: &str| -> Option<String> {
            let ctx = ainima_fallbacks::matcher::Context::default();
            let p = matcher.parse(text, &ctx)?;
            let said = p
                .slots
                .iter()
                .map(|s| (s.name.clone(), s.text.clone()))
                .collect();
            let norm = |x: &str| ainima::session::words::plain(x);
            catalog
                .paraphrases(&p.intent, &said)
                .into_iter()
                .find(|o| norm(o) != norm(text))
        };
        explore(&paraphrase, &entries, &outcomes, &factory, &opts, dir, out)?;
    }
    let mut report = suite::report(outcomes, (!args.deterministic).then_some(wall));
    report.budgets(&ainima_ttdd::report::SuiteBudgets {
        min_success: args.min_success,
        max_gap_p95_ms: args.max_gap_p95,
        max_yield_p95_ms: args.max_yield_p95,
        min_backchannel_tolerance: args.min_backchannel_tolerance,
    });
    if let Some(b) = &args.baseline {
        let text = std::fs::read_to_string(b).with_context(|| b.display().to_string())?;
        let base: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{}: not a JSON report", b.display()))?;
        report.compare(&base);
    }
    if let Some(p) = &args.json {
        std::fs::write(p, serde_json::to_string_pretty(&report)? + "\n")
            .with_context(|| p.display().to_string())?;
    }
    if let Some(p) = &args.junit {
        std::fs::write(p, ainima_ttdd::report::junit(&report))
            .with_context(|| p.display().to_string())?;
    }
    if let Some(p) = &args.html {
        std::fs::write(p, ainima_ttdd::report::html(&report))
            .with_context(|| p.display().to_string())?;
    }
    let t = &report.totals;
    let m = &report.metrics;
    let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.0}"));
    writeln!(
        out,
        "\n{} scenarios: {} passed, {} failed, {} skipped. {:.1} s of conversation in {wall:.1} s ({:.1}x real time).",
        t.scenarios,
        t.passed,
        t.failed,
        t.skipped,
        t.simulated_seconds,
        t.simulated_seconds / wall.max(1e-9)
    )?;
    writeln!(
        out,
        "turn gap p50 {} ms, p95 {} ms (people: about 200 ms); time to yield p95 {} ms; \
         backchannel tolerance {}; speech over the user {:.3}; reply variety {:.2}; task success {:.3}",
        f(m.turn_gap_ms.value.p50),
        f(m.turn_gap_ms.value.p95),
        f(m.time_to_yield_ms.value.p95),
        m.backchannel_tolerance
            .value
            .map_or("-".into(), |v| format!("{v:.2}")),
        m.speech_over_user_rate.value,
        m.reply_variety.value,
        m.task_success.value
    )?;
    for r in &report.regressions {
        writeln!(out, "suite: {r}")?;
    }
    if !report.passed() {
        let failed: Vec<&str> = report
            .scenarios
            .iter()
            .filter(|o| o.status == Status::Failed)
            .map(|o| o.name.as_str())
            .collect();
        let mut why = Vec::new();
        if !failed.is_empty() {
            why.push(format!(
                "{} scenario(s) failed ({})",
                failed.len(),
                failed.join("; ")
            ));
        }
        why.extend(report.regressions.iter().cloned());
        bail!("the suite failed: {}", why.join("; "));
    }
    Ok(())
}

/// Runs the variants of every passing scenario; a failing variant is shrunk
/// to the fewest turns that still fail and saved into `dir`.
#[allow(clippy::too_many_arguments)] // reason: the suite, its results and everything a rerun needs
fn explore(
    paraphrase: &ainima_ttdd::explore::Paraphrase<'_>,
    entries: &[suite::Entry],
    outcomes: &[ainima_ttdd::runner::Outcome],
    factory: &ainima_ttdd::runner::Factory<'_>,
    opts: &Options,
    dir: &Path,
    out: &mut dyn Write,
) -> Result<()> {
    use ainima_ttdd::{explore, runner};
    std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
    let slug = |s: &str| {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect::<String>()
            .split('-')
            .filter(|p| !p.is_empty())
            .collect::<Vec<_>>()
            .join("-")
    };
    let (mut tried, mut saved) = (0, 0);
    for (e, o) in entries.iter().zip(outcomes) {
        if o.status != Status::Passed {
            continue;
        }
        for (label, v) in explore::variants(&e.scenario, Some(paraphrase)) {
            tried += 1;
            let first = runner::run(&v, &e.file, factory, opts)?;
            if first.status != Status::Failed {
                continue;
            }
            let small = explore::shrink(&v, &mut |c| {
                runner::run(c, &e.file, factory, opts).is_ok_and(|o| o.status == Status::Failed)
            });
            let path = dir.join(format!("{}-{}.yaml", slug(&e.scenario.name), slug(&label)));
            let why = first.failures.first().cloned().unwrap_or_default();
            std::fs::write(
                &path,
                explore::to_yaml(&small, &format!("{label} breaks it: {why}")),
            )
            .with_context(|| path.display().to_string())?;
            writeln!(
                out,
                "variant {label:?} of {:?} fails ({why}); shrunk to {} turn(s): {}",
                e.scenario.name,
                small.turns.len(),
                path.display()
            )?;
            saved += 1;
        }
    }
    writeln!(
        out,
        "explored {tried} variants; {saved} failed and were saved in {}",
        dir.display()
    )?;
    Ok(())
}
