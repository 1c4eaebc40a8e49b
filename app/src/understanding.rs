//! `[understanding]`: the model that proposes what no template reads, the
//! built-in one or a file, loaded once a process and checked against its
//! time budget.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use ainima_neurosymbolic::arbitrate::{Proposer, Thresholds};
use ainima_neurosymbolic::nlu::Nlu;
use anyhow::{Context, Result};

use crate::config::Understanding;

/// The built-in model: `scripts/train-understanding` made it with
/// `ainima nlu train --skills --small --none SNIPS --seed 2026` from the
/// built-in skills and SNIPS's training files (CC0).
pub const BUILTIN: &[u8] = include_bytes!("../models/skills.nlu");

/// Sentences the budget is measured on: typical requests, long and short.
const PROBES: [&str; 5] = [
    "could you please switch the kitchen light on for me",
    "kill the timer",
    "put eggs and milk on the shopping list",
    "what time is it",
    "make me a large cappuccino with two extra shots please",
];

/// A model as the session takes it; `None` for templates and rules alone.
type Model = Option<Arc<dyn Proposer>>;

/// Models already loaded in this process, by `[understanding] model`.
static LOADED: Mutex<Vec<(String, Model)>> = Mutex::new(Vec::new());

/// The model `u` names, `None` for templates and rules alone, and the
/// thresholds. The built-in model falls back to templates and rules (with
/// a warning) if it cannot load; a model file that cannot load is an
/// error. A model slower than `u.budget_ms` (the median of a few parses)
/// is left out with a warning.
pub fn load(u: &Understanding) -> Result<(Model, Thresholds)> {
    let thresholds = Thresholds {
        act: u.act,
        ask: u.ask,
    };
    let mut loaded = LOADED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, m)) = loaded.iter().find(|(k, _)| *k == u.model) {
        return Ok((m.clone(), thresholds));
    }
    let model = match u.model.as_str() {
        "none" => None,
        "builtin" => match Nlu::from_bytes(BUILTIN) {
            Ok(m) => Some(m),
            Err(e) => {
                eprintln!(
                    "warning: the built-in understanding model did not load ({e}); templates and rules alone"
                );
                None
            }
        },
        path => {
            let bytes = std::fs::read(Path::new(path))
                .with_context(|| format!("understanding.model: reading {path}"))?;
            Some(
                Nlu::from_bytes(&bytes)
                    .with_context(|| format!("understanding.model: loading {path}"))?,
            )
        }
    };
    let model = model.and_then(|m| {
        let Ok(ms) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| median_ms(&m)))
        else {
            eprintln!("warning: the understanding model failed on a test sentence; templates and rules alone");
            return None;
        };
        if ms > u.budget_ms {
            eprintln!(
                "warning: the understanding model takes {ms:.1} ms a sentence, over its budget of {} ms; templates and rules alone",
                u.budget_ms
            );
            None
        } else {
            Some(Arc::new(m) as Arc<dyn Proposer>)
        }
    });
    loaded.push((u.model.clone(), model.clone()));
    Ok((model, thresholds))
}

/// The median time of a parse of [`PROBES`], in milliseconds.
fn median_ms(m: &Nlu) -> f64 {
    let t: Vec<f64> = PROBES
        .iter()
        .map(|s| {
            let start = Instant::now();
            let _ = m.parse(s);
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    crate::bench::median(t)
}
