//! `ainima bench nlu`: sentence template matching with 1,000 templates
//! loaded, beside Home Assistant's hassil on the same templates and
//! utterances. The templates are generated (seeded, so every run is the
//! same): 100 intents of 10 templates, most starting with one of ten common
//! verbs, with alternatives, optional words and list slots; 150 utterances follow a random path through a random
//! template, 50 fit none.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use ainima_fallbacks::{Catalog, Context, Matcher};
use anyhow::Result;
use serde_json::json;

use crate::bench::{median, python_json};

const HASSIL_PEER: &str = include_str!("../../bench/peers/hassil_peer.py");

use ainima_fallbacks::replies::Rng;

enum Part {
    Word(String),
    Alt(Vec<String>),
    Opt(String),
    Slot(usize),
}

const VERBS: [&str; 10] = [
    "turn", "set", "play", "open", "show", "add", "make", "tell", "start", "what",
];

const SYLLABLES: [&str; 16] = [
    "ka", "lo", "mi", "ren", "tu", "sa", "vo", "dri", "pel", "no", "shi", "gar", "fe", "bu", "zan",
    "qui",
];

fn word(rng: &mut Rng) -> String {
    (0..2 + rng.below(2))
        .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
        .collect()
}

/// (skill file for ainima, the same for hassil, utterances, expected intents).
fn generate() -> (String, serde_json::Value, Vec<String>, Vec<Option<String>>) {
    let mut rng = Rng(2026);
    let lists: Vec<Vec<String>> = (0..10)
        .map(|_| {
            (0..20)
                .map(|_| format!("{} {}", word(&mut rng), word(&mut rng)))
                .collect()
        })
        .collect();
    let mut toml = String::new();
    let mut hassil_intents = serde_json::Map::new();
    let mut paths = Vec::new();
    for i in 0..100 {
        let name = format!("intent{i:03}");
        let mut sentences = Vec::new();
        for _ in 0..10 {
            let mut parts = Vec::new();
            for k in 0..3 + rng.below(4) {
                parts.push(match (k, rng.below(6)) {
                    // Most templates start with one of a few verbs, as real
                    // ones do ("turn", "set", "play"), so prefixes are shared.
                    (0, 0..=3) => Part::Word(VERBS[rng.below(VERBS.len())].to_string()),
                    (0, _) | (_, 0 | 1) => Part::Word(word(&mut rng)),
                    (_, 2) => Part::Alt((0..2 + rng.below(2)).map(|_| word(&mut rng)).collect()),
                    (_, 3) => Part::Opt(word(&mut rng)),
                    _ => Part::Slot(rng.below(lists.len())),
                });
            }
            let template: Vec<String> = parts
                .iter()
                .map(|p| match p {
                    Part::Word(w) => w.clone(),
                    Part::Alt(v) => format!("({})", v.join("|")),
                    Part::Opt(w) => format!("[{w}]"),
                    Part::Slot(l) => format!("{{list{l}}}"),
                })
                .collect();
            sentences.push(template.join(" "));
            paths.push((name.clone(), parts));
        }
        toml.push_str(&format!(
            "[intents.{name}]\ntemplates = {}\n",
            serde_json::to_string(&sentences).unwrap_or_default()
        ));
        hassil_intents.insert(name, json!({"data": [{"sentences": sentences}]}));
    }
    let mut hassil_lists = serde_json::Map::new();
    for (l, values) in lists.iter().enumerate() {
        toml.push_str(&format!(
            "[lists.list{l}]\nvalues = {}\n",
            serde_json::to_string(values).unwrap_or_default()
        ));
        hassil_lists.insert(format!("list{l}"), json!({"values": values}));
    }
    let mut utterances = Vec::new();
    let mut expected = Vec::new();
    for _ in 0..150 {
        let (name, parts) = &paths[rng.below(paths.len())];
        let mut words = Vec::new();
        for p in parts {
            match p {
                Part::Word(w) => words.push(w.clone()),
                Part::Alt(v) => words.push(v[rng.below(v.len())].clone()),
                Part::Opt(w) => {
                    if rng.below(2) == 0 {
                        words.push(w.clone());
                    }
                }
                Part::Slot(l) => words.push(lists[*l][rng.below(lists[*l].len())].clone()),
            }
        }
        utterances.push(words.join(" "));
        expected.push(Some(name.clone()));
    }
    for _ in 0..50 {
        utterances.push(
            (0..3 + rng.below(5))
                .map(|_| word(&mut rng))
                .collect::<Vec<_>>()
                .join(" "),
        );
        expected.push(None);
    }
    let spec = json!({"language": "en", "intents": hassil_intents, "lists": hassil_lists});
    (toml, spec, utterances, expected)
}

fn agreement(got: &[Option<String>], expected: &[Option<String>]) -> usize {
    got.iter().zip(expected).filter(|(g, e)| g == e).count()
}

/// Runs the benchmark; `runs` repetitions of each utterance, median kept.
pub fn run(json_out: Option<&Path>, runs: usize, out: &mut dyn Write) -> Result<()> {
    let (toml, spec, utterances, expected) = generate();
    let start = Instant::now();
    let mut catalog = Catalog::new();
    catalog.add_str("bench.toml", &toml)?;
    let matcher = Matcher::new(&catalog)?;
    let load = start.elapsed().as_secs_f64();
    let ctx = Context::default();
    let mut per = Vec::new();
    let mut got = Vec::new();
    for u in &utterances {
        let mut t = Vec::with_capacity(runs);
        let mut r = None;
        for _ in 0..runs {
            let s = Instant::now();
            r = matcher.parse(u, &ctx);
            t.push(s.elapsed().as_secs_f64());
        }
        per.push(median(t));
        got.push(r.map(|p| p.intent));
    }
    let mut sorted = per.clone();
    sorted.sort_by(f64::total_cmp);
    let ours_median = median(per) * 1e6;
    let ours_p95 = sorted[sorted.len() * 95 / 100] * 1e6;
    let ours_right = agreement(&got, &expected);

    let tmp = std::env::temp_dir().join(format!("ainima-bench-nlu-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let peer = (|| -> Result<serde_json::Value> {
        let script = tmp.join("hassil_peer.py");
        std::fs::write(&script, HASSIL_PEER)?;
        std::fs::write(tmp.join("spec.json"), spec.to_string())?;
        std::fs::write(
            tmp.join("utterances.json"),
            serde_json::to_string(&utterances)?,
        )?;
        python_json(
            &script,
            [
                tmp.join("spec.json"),
                tmp.join("utterances.json"),
                runs.to_string().into(),
            ],
        )
    })();
    std::fs::remove_dir_all(&tmp).ok();

    writeln!(
        out,
        "Template matching: {} templates, {} utterances ({} fit none), median of {runs} runs each",
        matcher.template_count(),
        utterances.len(),
        50
    )?;
    writeln!(
        out,
        "{:<10}{:>12}{:>12}{:>12}{:>10}",
        "engine", "load (ms)", "median (µs)", "p95 (µs)", "right"
    )?;
    writeln!(
        out,
        "{:<10}{:>12.1}{:>12.1}{:>12.1}{:>7}/{}",
        "ainima",
        load * 1e3,
        ours_median,
        ours_p95,
        ours_right,
        utterances.len()
    )?;
    let mut report = json!({
        "templates": matcher.template_count(),
        "utterances": utterances.len(),
        "runs": runs,
        "ainima": {"load_ms": load * 1e3, "median_us": ours_median, "p95_us": ours_p95, "right": ours_right},
    });
    match peer {
        Ok(p) => {
            let hgot: Vec<Option<String>> = p["intents"]
                .as_array()
                .map(|a| a.iter().map(|x| x.as_str().map(str::to_string)).collect())
                .unwrap_or_default();
            let right = agreement(&hgot, &expected);
            let (l, m, p95) = (
                p["load_seconds"].as_f64().unwrap_or(f64::NAN) * 1e3,
                p["median_us"].as_f64().unwrap_or(f64::NAN),
                p["p95_us"].as_f64().unwrap_or(f64::NAN),
            );
            writeln!(
                out,
                "{:<10}{:>12.1}{:>12.1}{:>12.1}{:>7}/{}",
                "hassil",
                l,
                m,
                p95,
                right,
                utterances.len()
            )?;
            report["hassil"] = json!({"load_ms": l, "median_us": m, "p95_us": p95, "right": right});
        }
        Err(e) => writeln!(out, "hassil    not measured: {e} (pip install hassil)")?,
    }
    writeln!(out, "goal: median under 100 µs with 1,000 templates")?;
    if let Some(path) = json_out {
        std::fs::write(path, serde_json::to_string_pretty(&report)?)?;
    }
    Ok(())
}
