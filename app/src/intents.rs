//! `ainima intents test`: home-assistant/intents' own test files run
//! against its sentences, compiled into the language core's automaton
//! (`ainima_fallbacks::ha`), per language and per file.

use std::io::Write;
use std::path::Path;

use ainima_fallbacks::ha;
use anyhow::{Context, Result};

/// Runs the tests of `language` (every language that has tests when
/// `None`); writes a table (or JSON); whether every sentence passed.
pub fn test(dir: &Path, language: Option<&str>, json: bool, out: &mut dyn Write) -> Result<bool> {
    let tests = dir.join("tests");
    let languages: Vec<String> = match language {
        Some(l) => vec![l.to_string()],
        None => {
            let mut v: Vec<String> = std::fs::read_dir(&tests)
                .with_context(|| format!("{}: no tests/ folder", dir.display()))?
                .filter_map(|e| e.ok())
                .filter(|e| e.path().join("_fixtures.yaml").is_file())
                .filter_map(|e| e.file_name().into_string().ok())
                .collect();
            v.sort();
            v
        }
    };
    // No language to test has not passed either.
    let mut all_passed = !languages.is_empty();
    let mut report = Vec::new();
    for lang in &languages {
        let sentences = dir.join("sentences").join(lang);
        let lang_tests = tests.join(lang);
        if !sentences.is_dir() || !lang_tests.is_dir() {
            anyhow::bail!(
                "{}: no sentences/{lang} and tests/{lang} (a checkout of home-assistant/intents?)",
                dir.display()
            );
        }
        let started = std::time::Instant::now();
        let files = ha::run_tests(&sentences, &lang_tests);
        let seconds = started.elapsed().as_secs_f64();
        let (files, warnings) = match files {
            Ok(run) => (run.files, run.warnings),
            Err(e) => {
                // One language's broken file does not stop the others.
                all_passed = false;
                if json {
                    report.push(serde_json::json!({"language": lang, "error": e.to_string()}));
                } else {
                    writeln!(out, "{lang}: {e}")?;
                }
                continue;
            }
        };
        let passed: usize = files.iter().map(|f| f.passed).sum();
        let total: usize = files.iter().map(|f| f.total).sum();
        // A language with nothing to test has not passed.
        all_passed &= total > 0;
        let recognising: f64 = files.iter().map(|f| f.seconds).sum();
        let as_listed: usize = files.iter().map(|f| f.failing_as_listed).sum();
        all_passed &= passed == total;
        if json {
            report.push(serde_json::json!({
                "language": lang,
                "passed": passed,
                "total": total,
                "failing_as_listed": as_listed,
                "seconds": seconds,
                "recognise_seconds": recognising,
                "warnings": warnings,
                "files": files,
            }));
        } else {
            if languages.len() == 1 {
                for f in &files {
                    writeln!(out, "{:>5} / {:<5} {}", f.passed, f.total, f.file)?;
                    if let Some(e) = &f.error {
                        writeln!(out, "        {e}")?;
                    }
                    for m in f.misses.iter().take(3) {
                        if m.listed_as_failing {
                            writeln!(
                                out,
                                "        {:?}: listed in _test_failures.yaml, but recognised as its test says",
                                m.sentence
                            )?;
                            continue;
                        }
                        writeln!(
                            out,
                            "        {:?}: expected {} {}, got {} {}",
                            m.sentence,
                            m.expected,
                            serde_json::to_string(&m.expected_slots)?,
                            m.got.as_deref().unwrap_or("nothing"),
                            serde_json::to_string(&m.got_slots)?
                        )?;
                    }
                }
            }
            let listed = if as_listed > 0 {
                format!(", {as_listed} of them failing as _test_failures.yaml lists")
            } else {
                String::new()
            };
            writeln!(
                out,
                "{lang}: {passed} of {total} sentences ({:.1} %{listed}) in {seconds:.2} s ({:.1} ms recognising)",
                100.0 * passed as f64 / total.max(1) as f64,
                recognising * 1000.0
            )?;
            for w in &warnings {
                writeln!(out, "  warning: {w}")?;
            }
        }
    }
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    }
    out.flush()?;
    Ok(all_passed)
}
