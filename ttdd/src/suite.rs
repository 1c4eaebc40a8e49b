//! Suites: scenario files gathered from paths (or the default suite built
//! into the binary), sharded, run in parallel, reported.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::report::Report;
use crate::runner::{Factory, Options, Outcome, run};
use crate::scenario::{Scenario, parse};
use crate::{Error, Result};

/// The default suite, built in: every built-in skill, barge-in,
/// backchannels, stop words, approvals granted and refused, the outbox while
/// offline, and out-of-domain requests. (Each file of `suites/default/`
/// must be listed here; a test checks.)
pub const DEFAULT: &[(&str, &str)] = &include!("../suites/default.list");

/// A scenario and where it came from.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The file, as reported.
    pub file: String,
    /// The scenario.
    pub scenario: Scenario,
}

/// The default suite, parsed.
pub fn default_suite() -> Result<Vec<Entry>> {
    DEFAULT
        .iter()
        .map(|(file, text)| {
            Ok(Entry {
                file: format!("default/{file}"),
                scenario: parse(&format!("default/{file}"), text)?,
            })
        })
        .collect()
}

fn files_under(path: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let io = |e: std::io::Error| Error::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(io)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for e in entries {
            if e.is_dir() || e.extension().is_some_and(|x| x == "yaml" || x == "yml") {
                files_under(&e, out)?;
            }
        }
        Ok(())
    } else if path.is_file() {
        out.push(path.to_path_buf());
        Ok(())
    } else {
        Err(Error::Io {
            path: path.display().to_string(),
            message: "no such file or folder".into(),
        })
    }
}

/// The scenarios in `paths` (files, or folders searched for `*.yaml`).
pub fn load(paths: &[PathBuf]) -> Result<Vec<Entry>> {
    let mut files = Vec::new();
    for p in paths {
        files_under(p, &mut files)?;
    }
    files
        .iter()
        .map(|f| {
            Ok(Entry {
                file: f.display().to_string(),
                scenario: crate::runner::load(f)?,
            })
        })
        .collect()
}

/// Keeps shard `k` of `n` (1-based): every `n`th scenario from the `k`th.
pub fn shard(entries: Vec<Entry>, k: usize, n: usize) -> Result<Vec<Entry>> {
    if n == 0 || k == 0 || k > n {
        return Err(Error::Usage(format!("--shard {k}/{n}: K from 1 to N")));
    }
    Ok(entries
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % n == k - 1)
        .map(|(_, e)| e)
        .collect())
}

/// Runs `entries` on `jobs` threads; outcomes in the entries' order. A
/// scenario whose session cannot even start is a failure with the reason.
pub fn run_all(
    entries: &[Entry],
    factory: &Factory<'_>,
    opts: &Options,
    jobs: usize,
    progress: &(dyn Fn(&Outcome) + Sync),
) -> Vec<Outcome> {
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<Outcome>>> = Mutex::new(vec![None; entries.len()]);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1).min(entries.len().max(1)) {
            scope.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().unwrap_or_else(|p| p.into_inner());
                        let i = *n;
                        *n += 1;
                        i
                    };
                    let Some(e) = entries.get(i) else { break };
                    let outcome =
                        run(&e.scenario, &e.file, factory, opts).unwrap_or_else(|err| Outcome {
                            name: e.scenario.name.clone(),
                            file: e.file.clone(),
                            status: crate::runner::Status::Failed,
                            failures: vec![format!("could not run: {err}")],
                            simulated_seconds: 0.0,
                            measures: Default::default(),
                            events: Vec::new(),
                            said: Vec::new(),
                        });
                    progress(&outcome);
                    results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(outcome);
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
        .collect()
}

/// Runs and reports.
pub fn report(outcomes: Vec<Outcome>, wall_seconds: Option<f64>) -> Report {
    Report::new(outcomes, wall_seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_suite_parses_and_lists_every_file() {
        let suite = default_suite().expect("the default suite parses");
        assert!(suite.len() >= 30, "{} scenarios", suite.len());
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("suites/default");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .expect("the suite folder")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".yaml"))
            .collect();
        on_disk.sort();
        let mut listed: Vec<String> = DEFAULT.iter().map(|(f, _)| f.to_string()).collect();
        listed.sort();
        assert_eq!(
            listed, on_disk,
            "suites/default.list and suites/default/ differ"
        );
        let mut names: Vec<&str> = suite.iter().map(|e| e.scenario.name.as_str()).collect();
        names.sort();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n, "scenario names are unique");
    }

    #[test]
    fn shards_partition_the_suite() {
        let suite = default_suite().expect("suite");
        let n = suite.len();
        let a = shard(suite.clone(), 1, 2).expect("shard").len();
        let b = shard(suite.clone(), 2, 2).expect("shard").len();
        assert_eq!(a + b, n);
        assert!(shard(suite, 3, 2).is_err());
    }
}
