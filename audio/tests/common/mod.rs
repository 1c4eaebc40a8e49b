//! Test support: the shared real recordings, found through `AINIMA_DATA_DIR`
//! (default `../shared/data` from the workspace root). Where the folder is
//! absent, tests that need it skip with a message; under
//! `AINIMA_REQUIRE_DATA=1` (as in CI) they fail instead.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::path::PathBuf;

/// The data folder, or `None` (after saying so) when it is absent and not required.
pub fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("AINIMA_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    if dir.join("speech/MANIFEST.tsv").is_file() {
        return Some(dir);
    }
    let required = std::env::var("AINIMA_REQUIRE_DATA").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "AINIMA_REQUIRE_DATA=1 but {} holds no speech/MANIFEST.tsv",
        dir.display()
    );
    eprintln!(
        "skipped: no test data at {} (set AINIMA_DATA_DIR)",
        dir.display()
    );
    None
}

/// One row of `speech/MANIFEST.tsv`.
#[derive(Debug, Clone)]
pub struct Recording {
    pub path: PathBuf,
    pub rel: String,
    pub duration: f64,
    pub rate: u32,
    pub channels: u16,
    pub transcript: String,
}

/// Every recording in the manifest.
pub fn recordings(dir: &std::path::Path) -> Vec<Recording> {
    let text = std::fs::read_to_string(dir.join("speech/MANIFEST.tsv")).expect("manifest");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect(name);
    let (p, d, r, c, t) = (
        col("path"),
        col("duration_s"),
        col("sample_rate"),
        col("channels"),
        col("transcript"),
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Recording {
                path: dir.join("speech").join(f[p]),
                rel: f[p].to_string(),
                duration: f[d].parse().expect("duration"),
                rate: f[r].parse().expect("rate"),
                channels: f[c].parse().expect("channels"),
                transcript: f[t].to_string(),
            }
        })
        .collect()
}

/// Compare `actual` with the snapshot file `tests/snapshots/NAME`; with
/// `UPDATE_SNAPSHOTS=1`, rewrite it instead.
pub fn check_snapshot(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(name);
    if std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {}: run with UPDATE_SNAPSHOTS=1",
            path.display()
        )
    });
    if expected != actual {
        panic!(
            "snapshot {} differs (UPDATE_SNAPSHOTS=1 refreshes it)\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        );
    }
}
