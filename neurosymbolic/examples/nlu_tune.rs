//! Tunes the joint model on the training files alone: trains with a
//! configuration given as JSON on seven eighths of a folder's `train_*`
//! files and scores it on the other eighth (every eighth sentence),
//! printing the wrong sentences and the score at several tag-transition
//! weights. The benchmark's validation files are never read.
//!
//! `cargo run --release -p ainima-neurosymbolic --example nlu_tune -- DIR '{"epochs": 8}'`

use std::path::Path;

use ainima_fallbacks::snips;
use ainima_neurosymbolic::nlu::{self, TrainConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let dir = Path::new(args.get(1).ok_or("usage: nlu_tune DIR [JSON]")?);
    let cfg: TrainConfig = serde_json::from_str(args.get(2).map_or("{}", String::as_str))?;
    let all = snips::read_dir(dir, "train_")?;
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for (i, e) in all.into_iter().enumerate() {
        if i % 8 == 7 {
            test.push(e)
        } else {
            train.push(e)
        }
    }
    let start = std::time::Instant::now();
    let model = nlu::train(&train, &cfg, &mut |p| {
        if let Some((a, f)) = p.dev {
            eprintln!(
                "epoch {:>2}: loss {:.3}, held out {:.2} % / {:.2}",
                p.epoch,
                p.loss,
                100.0 * a,
                100.0 * f
            );
        }
    })?;
    if let Ok(path) = std::env::var("NLU_TUNE_SAVE") {
        std::fs::write(path, model.to_bytes()?)?;
    }
    let mut model = model;
    for w in [0.25f32, 0.5, 0.75, 1.0] {
        model.set_transition_weight(w);
        let r = nlu::evaluate(&model, &test);
        eprintln!(
            "transition weight {w}: intent {:.2} %, slot F1 {:.2}",
            100.0 * r.intent_accuracy,
            100.0 * r.slot_f1
        );
    }
    model.set_transition_weight(cfg.transition_weight);
    let r = nlu::evaluate(&model, &test);
    for (text, want, got) in &r.errors {
        println!("{text}\n  want {want}\n  got  {got}");
    }
    eprintln!(
        "{cfg:?}\n{:.1} s, {} parameters: intent {:.2} %, slot F1 {:.2}, sentences {:.2} %",
        start.elapsed().as_secs_f64(),
        model.parameters(),
        100.0 * r.intent_accuracy,
        100.0 * r.slot_f1,
        100.0 * r.sentence_accuracy
    );
    Ok(())
}
