//! `ainima turn`: the end-of-turn model. `train` synthesises turns with
//! known ends (whole sentences, and beginnings of them said as a clause
//! that goes on, then a pause), hears each as a session would in its
//! pause (Whisper, the language core's cues, the prosody of the end) and
//! fits `neurosymbolic::turn_end`; `eval` scores a model on voices it never
//! heard, beside the rules alone. `[turn] model` (or `--end-of-turn`)
//! makes every session use one.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use ainima::session::Session;
use ainima_neurosymbolic::draws::SplitMix as Rng;
use ainima_neurosymbolic::turn_end::{self, EndOfTurn, FEATURES, TrainConfig};
use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::wake_cmd::{festival, festival_voices, say, voice, voice_names};

/// The built-in model, made by `scripts/train-turn`.
pub static BUILTIN: &[u8] = include_bytes!("../models/end-of-turn.json");

/// The pause a turn is judged in: the session checks the words 200 ms into
/// it (`meaning_pause_ms`).
const PAUSE_MS: usize = 200;

/// Says a turn in a voice: its audio and the voice's name.
type Speaker<'a> = dyn FnMut(&str, &mut Rng) -> Result<(Vec<f32>, String)> + 'a;

/// What `turn train` and `turn eval` say.
#[derive(Debug, Clone, Copy)]
pub struct Plan<'a> {
    /// A SNIPS folder whose sentences are said too.
    pub snips: Option<&'a Path>,
    /// Turns to say and hear (half of them finished).
    pub turns: usize,
    /// Seeds the sentences and voices.
    pub seed: u64,
}

/// Models already loaded in this process, by name.
type Model = Option<Arc<EndOfTurn>>;
static LOADED: Mutex<Vec<(String, Model)>> = Mutex::new(Vec::new());

/// The model `name` gives: `none` (the rules alone), `builtin` or a file.
pub fn load(name: &str) -> Result<Model> {
    let mut loaded = LOADED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some((_, m)) = loaded.iter().find(|(k, _)| k == name) {
        return Ok(m.clone());
    }
    let m = match name {
        "none" => None,
        "builtin" => Some(Arc::new(
            EndOfTurn::from_bytes(BUILTIN).context("the built-in end-of-turn model")?,
        )),
        path => {
            let f = std::fs::File::open(path).with_context(|| path.to_string())?;
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(
                &mut std::io::Read::take(f, turn_end::MAX_FILE as u64 + 1),
                &mut bytes,
            )
            .with_context(|| path.to_string())?;
            Some(Arc::new(
                EndOfTurn::from_bytes(&bytes).with_context(|| path.to_string())?,
            ))
        }
    };
    loaded.push((name.to_string(), m.clone()));
    Ok(m)
}

/// The session that hears the turns (a replay's: fixed costs, the
/// recogniser in the step, the skills of `cfg`) and its skills' catalog,
/// whose sentences are said.
pub fn hearer(
    cfg: &crate::config::AppConfig,
    config_dir: &Path,
    model_dir: &Path,
    plan: Plan<'_>,
) -> Result<(Session, ainima_fallbacks::Catalog)> {
    let catalog = crate::language::catalog(cfg, config_dir, &[])?;
    let session = crate::run::session(cfg, config_dir, model_dir, true, plan.seed, &|_| {})?;
    Ok((session, catalog))
}

/// One synthesised turn as a session hears it in its pause.
struct Heard {
    /// What was said (a beginning ends with ",").
    said: String,
    /// What the recogniser wrote.
    text: String,
    /// The voice.
    voice: String,
    /// The model's input.
    x: [f32; 12],
    /// Whether the user had finished.
    finished: bool,
    /// Whether the rules alone end the turn there.
    rules: bool,
}

/// Sentences to say: the skills' example commands, everyday sentences and
/// (with `snips`) SNIPS's sentences of `prefix` (`train_`, `validate_`),
/// three words or more.
fn sentences(
    catalog: &ainima_fallbacks::Catalog,
    snips: Option<&Path>,
    prefix: &str,
    seed: u64,
) -> Result<Vec<String>> {
    let mut out: Vec<String> = catalog
        .samples(4, seed)
        .iter()
        .map(ainima_fallbacks::snips::Example::text)
        .collect();
    out.extend(crate::wake_cmd::EVERYDAY.iter().map(|s| (*s).to_string()));
    if let Some(dir) = snips {
        out.extend(
            ainima_fallbacks::snips::read_dir(dir, prefix)?
                .iter()
                .map(ainima_fallbacks::snips::Example::text),
        );
    }
    out.retain(|s| s.split_whitespace().count() >= 3);
    if out.is_empty() {
        bail!("no sentences to say");
    }
    Ok(out)
}

/// How a turn is said: a whole sentence closed as a statement or question,
/// or its first words as a clause that goes on.
fn wording(sentence: &str, finished: bool, rng: &mut Rng) -> String {
    let words: Vec<&str> = sentence
        .trim_end_matches(['.', '?', '!', ','])
        .split_whitespace()
        .collect();
    if finished {
        let question = matches!(
            words[0].to_lowercase().as_str(),
            "what"
                | "who"
                | "when"
                | "where"
                | "why"
                | "how"
                | "is"
                | "are"
                | "can"
                | "could"
                | "do"
                | "does"
                | "will"
                | "would"
        );
        format!("{}{}", words.join(" "), if question { "?" } else { "." })
    } else {
        let k = 1 + rng.below(words.len() - 1);
        format!("{},", words[..k].join(" "))
    }
}

/// `n` turns said by `speak` (half whole, half beginnings), heard by
/// `session` in a pause of [`PAUSE_MS`].
fn hear(
    session: &mut Session,
    texts: &[String],
    n: usize,
    rng: &mut Rng,
    speak: &mut Speaker<'_>,
    bar: &indicatif::ProgressBar,
) -> Result<Vec<Heard>> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let finished = i % 2 == 0;
        let said = wording(&texts[rng.below(texts.len())], finished, rng);
        let (mut audio, voice) = speak(&said, rng)?;
        audio.extend(std::iter::repeat_n(0.0, PAUSE_MS * 16));
        let (text, x, rules) = session.end_of_turn_example(&audio)?;
        out.push(Heard {
            said,
            text,
            voice,
            x,
            finished,
            rules,
        });
        bar.inc(1);
    }
    Ok(out)
}

/// `ainima turn train --out MODEL`.
pub fn train(
    session: &mut Session,
    catalog: &ainima_fallbacks::Catalog,
    plan: Plan<'_>,
    out_path: &Path,
    quiet: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let Plan { snips, turns, seed } = plan;
    if turns < 40 {
        bail!("--turns: at least 40");
    }
    let start = Instant::now();
    let names = voice_names(false);
    if names.is_empty() {
        bail!("espeak-ng has none of its English voices here (apt install espeak-ng)");
    }
    let texts = sentences(catalog, snips, "train_", seed)?;
    let bar = crate::progress::bar(
        quiet,
        "{prefix} [{bar:30}] {pos}/{len}, {elapsed} elapsed, {eta} left",
    );
    bar.set_prefix("turns");
    bar.set_length(turns as u64);
    let mut rng = Rng(seed);
    let mut speak = |t: &str, rng: &mut Rng| -> Result<(Vec<f32>, String)> {
        let v = voice(rng, &names);
        Ok((say(t, &v, rng)?, v.name))
    };
    let heard = hear(session, &texts, turns, &mut rng, &mut speak, &bar)?;
    bar.finish_and_clear();
    // Every fourth pair of turns (one finished, one not) sets the
    // thresholds.
    let (mut fit, mut held) = (Vec::new(), Vec::new());
    for (i, h) in heard.iter().enumerate() {
        if (i / 2) % 4 == 3 {
            &mut held
        } else {
            &mut fit
        }
        .push((h.x, h.finished));
    }
    let model = turn_end::train(&fit, &held, &TrainConfig::default())?;
    std::fs::write(out_path, model.to_bytes()?).with_context(|| out_path.display().to_string())?;
    writeln!(
        out,
        "{} turns heard and fitted in {:.0} s; hold under {:.3}, end from {:.3}; written to {}",
        turns,
        start.elapsed().as_secs_f64(),
        model.hold_below,
        model.end_above,
        out_path.display()
    )?;
    Ok(())
}

/// What the rules alone and the rules with `model` decide on `heard`.
fn score(heard: &[&Heard], model: &EndOfTurn) -> serde_json::Value {
    let count = |f: &dyn Fn(&Heard) -> bool| heard.iter().filter(|h| f(h)).count();
    let joined = |h: &Heard| model.decide(h.rules, &h.x).0;
    let finished = count(&|h| h.finished);
    let unfinished = heard.len() - finished;
    json!({
        "finished": finished,
        "unfinished": unfinished,
        "rules": {
            "cut_offs": count(&|h| !h.finished && h.rules),
            "ended_at_the_pause": count(&|h| h.finished && h.rules),
        },
        "with_model": {
            "cut_offs": count(&|h| !h.finished && joined(h)),
            "ended_at_the_pause": count(&|h| h.finished && joined(h)),
        },
        "accuracy": count(&|h| (model.probability(&h.x) >= 0.5) == h.finished) as f64
            / heard.len().max(1) as f64,
    })
}

/// `ainima turn eval`: held-out espeak-ng accents and festival's voice.
pub fn eval(
    session: &mut Session,
    model: &EndOfTurn,
    catalog: &ainima_fallbacks::Catalog,
    plan: Plan<'_>,
    json_out: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let Plan { snips, turns, seed } = plan;
    if turns < 2 {
        bail!("--turns: at least 2");
    }
    let names = voice_names(true);
    let fest = festival_voices();
    if names.is_empty() {
        bail!("espeak-ng has none of its English voices here (apt install espeak-ng)");
    }
    let texts = sentences(catalog, snips, "validate_", seed)?;
    let bar = crate::progress::bar(
        json_out,
        "{prefix} [{bar:30}] {pos}/{len}, {elapsed} elapsed, {eta} left",
    );
    bar.set_prefix("turns");
    bar.set_length(turns as u64);
    let mut rng = Rng(seed ^ 0x7475_726e);
    let mut i = 0usize;
    let mut speak = |t: &str, rng: &mut Rng| -> Result<(Vec<f32>, String)> {
        i += 1;
        // Every fourth pair of turns by festival, where it is installed.
        if ((i - 1) / 2) % 4 == 3
            && let Some(f) = fest.first()
        {
            let stretch = 0.8 + 0.5 * rng.unit_f32();
            return Ok((festival(t, f, stretch)?, format!("festival {f}")));
        }
        let v = voice(rng, &names);
        Ok((say(t, &v, rng)?, v.name))
    };
    let heard = hear(session, &texts, turns, &mut rng, &mut speak, &bar)?;
    bar.finish_and_clear();
    let every: Vec<&Heard> = heard.iter().collect();
    let all = score(&every, model);
    let festival_only: Vec<&Heard> = heard
        .iter()
        .filter(|h| h.voice.starts_with("festival"))
        .collect();
    let report = json!({
        "features": FEATURES,
        "hold_below": model.hold_below,
        "end_above": model.end_above,
        "all": all,
        "festival": score(&festival_only, model),
        "turns": heard.iter().map(|h| json!({
            "said": h.said, "heard": h.text, "voice": h.voice, "finished": h.finished,
            "rules": h.rules, "with_model": model.decide(h.rules, &h.x).0,
            "p": model.probability(&h.x), "x": h.x,
        })).collect::<Vec<_>>(),
    });
    if json_out {
        writeln!(out, "{report}")?;
        return Ok(());
    }
    for (name, s) in [
        ("held-out voices", &report["all"]),
        ("festival", &report["festival"]),
    ] {
        if s["finished"] == 0 && s["unfinished"] == 0 {
            writeln!(out, "{name}: not run (apt install festival)")?;
            continue;
        }
        writeln!(
            out,
            "{name}: {} finished turns, {} unfinished; rules alone: {} cut off, {} ended in the pause; with the model: {} cut off, {} ended in the pause; model accuracy {:.1}%",
            s["finished"],
            s["unfinished"],
            s["rules"]["cut_offs"],
            s["rules"]["ended_at_the_pause"],
            s["with_model"]["cut_offs"],
            s["with_model"]["ended_at_the_pause"],
            100.0 * s["accuracy"].as_f64().unwrap_or(0.0)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_built_in_model_loads() {
        let m = super::load("builtin").expect("the built-in model");
        assert!(m.is_some());
        assert!(super::load("none").expect("none").is_none());
    }
}
