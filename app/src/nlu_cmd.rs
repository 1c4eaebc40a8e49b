//! `ainima nlu train` and `ainima nlu eval --model`: the joint intent and
//! slot model, trained on SNIPS's training files and scored on its
//! validation files.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use ainima_fallbacks::snips;
use ainima_neurosymbolic::nlu::{self, Nlu, Progress, TrainConfig};
use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// `ainima nlu train --snips DIR --out MODEL`.
pub fn train(
    dir: &Path,
    out_path: &Path,
    cfg: &TrainConfig,
    quiet: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let examples = snips::read_dir(dir, "train_")?;
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} steps, {elapsed} elapsed, {eta} left, {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> "),
    );
    let start = Instant::now();
    let nlu = nlu::train(&examples, cfg, &mut |p: &Progress| {
        bar.set_length(p.steps as u64);
        bar.set_position(p.step as u64);
        bar.set_prefix(format!("epoch {}/{}", p.epoch, p.epochs));
        bar.set_message(format!("loss {:.3}", p.loss));
        if let Some((a, f)) = p.dev {
            let line = format!(
                "epoch {:>2}: loss {:.3}, held out: intent {:.1}%, slot F1 {:.1}",
                p.epoch,
                p.loss,
                100.0 * a,
                100.0 * f
            );
            if !quiet {
                bar.suspend(|| eprintln!("{line}"));
            }
        }
    })?;
    bar.finish_and_clear();
    let bytes = nlu.to_bytes()?;
    let tmp = out_path.with_extension("partial");
    std::fs::write(&tmp, &bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, out_path).with_context(|| format!("writing {}", out_path.display()))?;
    let held_out = cfg.held_out(examples.len());
    writeln!(
        out,
        "trained on {} sentences ({} more held out to pick the epoch) in {:.1} s: {} parameters, {:.2} MB, written to {}",
        examples.len() - held_out,
        held_out,
        start.elapsed().as_secs_f64(),
        nlu.parameters(),
        bytes.len() as f64 / 1e6,
        out_path.display()
    )?;
    Ok(())
}

/// The median time to parse one of `test`'s sentences, one at a time as a
/// live session asks, in milliseconds.
pub fn median_parse_ms(nlu: &Nlu, test: &[snips::Example]) -> f64 {
    let mut one = Vec::with_capacity(test.len());
    for x in test {
        let text = x.text();
        let t = Instant::now();
        let _ = nlu.parse(&text);
        one.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    crate::bench::median(one)
}

/// Reads a model file.
pub fn load(path: &Path) -> Result<Nlu> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Nlu::from_bytes(&bytes).with_context(|| format!("loading {}", path.display()))
}

/// `ainima nlu eval --snips DIR --model MODEL`.
pub fn eval(dir: &Path, model: &Path, json: bool, out: &mut dyn Write) -> Result<()> {
    let test = snips::read_dir(dir, "validate_")?;
    let nlu = load(model)?;
    let start = Instant::now();
    let r = nlu::evaluate(&nlu, &test);
    let seconds = start.elapsed().as_secs_f64();
    let median_ms = median_parse_ms(&nlu, &test);
    if json {
        let mut v = serde_json::to_value(&r)?;
        if let Some(o) = v.as_object_mut() {
            o.remove("errors");
            o.insert("seconds".into(), seconds.into());
            o.insert("median_ms_one_sentence".into(), median_ms.into());
            o.insert("parameters".into(), nlu.parameters().into());
            o.insert("wrong".into(), crate::language::wrong_json(&r.errors));
        }
        writeln!(out, "{}", serde_json::to_string_pretty(&v)?)?;
        return Ok(());
    }
    writeln!(
        out,
        "SNIPS validation, {} sentences, model {}",
        r.utterances,
        model.display()
    )?;
    writeln!(out, "{:<22}{:>10}{:>10}", "intent", "sentences", "right")?;
    for (intent, (n, right)) in &r.per_intent {
        writeln!(out, "{intent:<22}{n:>10}{right:>10}")?;
    }
    let pct = |x: f64| format!("{:.2}%", 100.0 * x);
    writeln!(out, "intent accuracy   {}", pct(r.intent_accuracy))?;
    writeln!(
        out,
        "slot F1           {} (precision {}, recall {})",
        pct(r.slot_f1),
        pct(r.slot_precision),
        pct(r.slot_recall)
    )?;
    writeln!(out, "sentences right   {}", pct(r.sentence_accuracy))?;
    writeln!(
        out,
        "median {median_ms:.2} ms a sentence, one at a time ({seconds:.2} s for all in batches)"
    )?;
    Ok(())
}
