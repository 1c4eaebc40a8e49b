//! `ainima nlu train` and `ainima nlu eval --model`: the joint intent and
//! slot model, trained on SNIPS's training files and scored on its
//! validation files.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use ainima_fallbacks::snips;
use ainima_neurosymbolic::nlu::{self, Nlu, Progress, TrainConfig};
use anyhow::{Context, Result};

/// The smaller network of the built-in model: a few dozen intents of
/// template sentences need less width than SNIPS.
pub fn small(cfg: TrainConfig) -> TrainConfig {
    TrainConfig {
        ngram_buckets: 2048,
        shape: nlu::net::Shape {
            d_word: 48,
            d_ngram: 48,
            d_model: 96,
            ..nlu::net::Shape::default()
        },
        ..cfg
    }
}

/// SNIPS's intent that the media skill overlaps ("play some jazz"): not
/// taught as out of domain.
const OVERLAPPING: &str = "PlayMusic";

/// `ainima nlu train --skills`: `per_template` sentences drawn from each of
/// `catalog`'s templates, and, from the SNIPS folder `none`, every
/// training sentence but [`OVERLAPPING`]'s as the intent `none` (about as
/// many as the skills' sentences, the same for the same seed).
pub fn skill_examples(
    catalog: &ainima_fallbacks::Catalog,
    per_template: usize,
    seed: u64,
    none: Option<&Path>,
) -> Result<Vec<snips::Example>> {
    let mut examples = catalog.samples(per_template, seed);
    if let Some(dir) = none {
        let mut other: Vec<snips::Example> = snips::read_dir(dir, "train_")?
            .into_iter()
            .filter(|e| e.intent != OVERLAPPING)
            .map(|e| snips::Example {
                intent: "none".into(),
                chunks: vec![(e.text(), None)],
            })
            .collect();
        // Every k-th, for about as many as the skills' sentences.
        let k = (other.len() / examples.len().max(1)).max(1);
        let skip = (seed as usize) % k;
        other = other.into_iter().skip(skip).step_by(k).collect();
        examples.extend(other);
    }
    Ok(examples)
}

/// `ainima nlu train --out MODEL` on `examples`.
pub fn train(
    examples: &[snips::Example],
    out_path: &Path,
    cfg: &TrainConfig,
    quiet: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let bar = crate::progress::bar(
        quiet,
        "{prefix} [{bar:30}] {pos}/{len} steps, {elapsed} elapsed, {eta} left, {msg}",
    );
    let start = Instant::now();
    let nlu = nlu::train(examples, cfg, &mut |p: &Progress| {
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
