//! `ainima bench joint`: the joint intent and slot model on SNIPS's
//! validation files, beside the Snips NLU probabilistic parser's recipe
//! (logistic regression and per-intent CRFs, `bench/peers/crf_nlu_peer.py`)
//! trained on the same training files and scored by the same scorer.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use ainima_fallbacks::snips;
use ainima_neurosymbolic::nlu::{self, TrainConfig};
use anyhow::{Context, Result};
use serde_json::{Value, json};

const PEER: &str = include_str!("../../bench/peers/crf_nlu_peer.py");

/// Runs both sides and prints the table; `model` skips our training.
pub fn run(
    dir: &Path,
    model: Option<&Path>,
    json_out: Option<&Path>,
    out: &mut dyn Write,
) -> Result<()> {
    let test = snips::read_dir(dir, "validate_")?;
    let (ours, train_seconds) = match model {
        Some(m) => (crate::nlu_cmd::load(m)?, None),
        None => {
            let train = snips::read_dir(dir, "train_")?;
            let t = Instant::now();
            let m = nlu::train(&train, &TrainConfig::default(), &mut |_| {})?;
            (m, Some(t.elapsed().as_secs_f64()))
        }
    };
    let size = ours.to_bytes()?.len();
    let r = nlu::evaluate(&ours, &test);
    let ours_ms = crate::nlu_cmd::median_parse_ms(&ours, &test);

    let tmp = tempfile::tempdir()?;
    let script = tmp.path().join("crf_nlu_peer.py");
    std::fs::write(&script, PEER)?;
    let o = std::process::Command::new("python3")
        .arg(&script)
        .arg(dir)
        .env("OMP_NUM_THREADS", "1")
        .env("OPENBLAS_NUM_THREADS", "1")
        .env("MKL_NUM_THREADS", "1")
        .env("TMPDIR", tmp.path())
        .output()
        .context("python3 (pip install scikit-learn python-crfsuite)")?;
    anyhow::ensure!(
        o.status.success(),
        "the peer failed: {}",
        String::from_utf8_lossy(&o.stderr)
            .lines()
            .last()
            .unwrap_or("")
    );
    let peer: Value = serde_json::from_slice(&o.stdout)?;
    let got: Vec<(String, Vec<(String, String)>)> = peer["predictions"]
        .as_array()
        .context("the peer's predictions")?
        .iter()
        .map(|p| {
            let slots = p["slots"]
                .as_array()
                .map(|v| {
                    v.iter()
                        .map(|s| {
                            (
                                s[0].as_str().unwrap_or("").to_string(),
                                s[1].as_str().unwrap_or("").to_string(),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            (p["intent"].as_str().unwrap_or("").to_string(), slots)
        })
        .collect();
    anyhow::ensure!(
        got.len() == test.len(),
        "the peer answered {} of {} sentences",
        got.len(),
        test.len()
    );
    // Answers are matched to sentences by position: the peer says which.
    for (k, (p, x)) in peer["predictions"]
        .as_array()
        .into_iter()
        .flatten()
        .zip(&test)
        .enumerate()
    {
        anyhow::ensure!(
            p["text"].as_str() == Some(x.text().as_str()),
            "the peer's sentence {k} is not ours"
        );
    }
    let pr = nlu::score(&test, &got);
    let peer_ms = peer["median_us"].as_f64().unwrap_or(f64::NAN) / 1000.0;
    let peer_train = peer["train_seconds"].as_f64();

    let pct = |x: f64| format!("{:.2} %", 100.0 * x);
    let secs = |x: Option<f64>| x.map_or("-".to_string(), |s| format!("{s:.0} s"));
    match model {
        None => writeln!(
            out,
            "SNIPS validation, {} sentences; both trained on the same training files",
            test.len()
        )?,
        Some(m) => writeln!(
            out,
            "SNIPS validation, {} sentences; our model {}, the peer trained on the training files",
            test.len(),
            m.display()
        )?,
    }
    writeln!(
        out,
        "{:<34}{:>16}{:>20}",
        "", "ainima (burn)", "LogReg + CRF peer"
    )?;
    writeln!(
        out,
        "{:<34}{:>16}{:>20}",
        "intent accuracy",
        pct(r.intent_accuracy),
        pct(pr.intent_accuracy)
    )?;
    writeln!(
        out,
        "{:<34}{:>16}{:>20}",
        "slot F1",
        pct(r.slot_f1),
        pct(pr.slot_f1)
    )?;
    writeln!(
        out,
        "{:<34}{:>16}{:>20}",
        "sentences wholly right",
        pct(r.sentence_accuracy),
        pct(pr.sentence_accuracy)
    )?;
    writeln!(
        out,
        "{:<34}{:>16}{:>20}",
        "median ms a sentence, one thread",
        format!("{ours_ms:.2}"),
        format!("{peer_ms:.2}")
    )?;
    writeln!(
        out,
        "{:<34}{:>16}{:>20}",
        "training",
        secs(train_seconds),
        secs(peer_train)
    )?;
    writeln!(
        out,
        "{:<34}{:>16}{:>20}",
        "model file",
        format!("{:.2} MB", size as f64 / 1e6),
        "-"
    )?;
    if let Some(p) = json_out {
        let v = json!({
            "sentences": test.len(),
            "ours": {"intent_accuracy": r.intent_accuracy, "slot_f1": r.slot_f1, "sentence_accuracy": r.sentence_accuracy,
                     "median_ms": ours_ms, "train_seconds": train_seconds, "model_bytes": size, "parameters": ours.parameters()},
            "peer": {"intent_accuracy": pr.intent_accuracy, "slot_f1": pr.slot_f1, "sentence_accuracy": pr.sentence_accuracy,
                     "median_ms": peer_ms, "train_seconds": peer_train},
        });
        std::fs::write(p, serde_json::to_string_pretty(&v)?)?;
    }
    Ok(())
}
