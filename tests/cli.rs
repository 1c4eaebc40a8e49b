//! The `ainima` binary, run as a user runs it.

use std::path::{Path, PathBuf};
use std::process::Output;

use ainima_testkit::{data_dir, whisper_wheel};

/// A fresh, empty AINIMA_HOME for one test.
fn home(name: &str) -> PathBuf {
    ainima_testkit::temp_dir(&format!("cli-{name}"))
}

fn ainima(home: &Path, args: &[&str]) -> Output {
    ainima_testkit::ainima(env!("CARGO_BIN_EXE_ainima"), home, args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

#[test]
fn segments_json_on_jfk() {
    let Some(data) = data_dir() else { return };
    let h = home("jfk");
    let jfk = data.join("speech/whisper_cpp/jfk.wav");
    let o = ainima(&h, &["segments", jfk.to_str().unwrap(), "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let segs: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!segs.is_empty());
    for s in &segs {
        let keys: Vec<&String> = s.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["end", "start"], "exactly start and end");
    }
    assert!(segs[0]["start"].as_f64().unwrap() < 0.6);
    assert!(segs.last().unwrap()["end"].as_f64().unwrap() > 10.0);
}

#[test]
fn segments_plain_is_tab_separated_seconds() {
    let Some(data) = data_dir() else { return };
    let h = home("plain");
    let f = data.join("speech/tflite_micro/yes_1000ms.wav");
    let o = ainima(&h, &["segments", f.to_str().unwrap()]);
    assert!(o.status.success());
    let out = stdout(&o);
    let fields: Vec<f64> = out.trim().split('\t').map(|v| v.parse().unwrap()).collect();
    assert_eq!(fields.len(), 2, "{out}");
    assert!(fields[0] < fields[1]);
}

#[test]
fn bad_input_is_one_line_naming_the_file_and_never_a_panic() {
    let h = home("bad");
    let dir = h.join("files");
    std::fs::create_dir_all(&dir).unwrap();
    let cases: Vec<(PathBuf, &str)> = vec![
        (dir.join("missing.wav"), "No such file"),
        (write(&dir, "empty.wav", b""), "empty"),
        (
            write(&dir, "text.wav", b"hello, this is not audio"),
            "not a WAV",
        ),
        (
            write(&dir, "truncated.wav", b"RIFF\x24\x00\x00\x00WAVEfmt "),
            "WAV",
        ),
        (dir.clone(), "directory"),
    ];
    for (path, what) in cases {
        let o = ainima(&h, &["segments", path.to_str().unwrap(), "--json"]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{}: {err}", path.display());
        assert!(stdout(&o).is_empty());
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(
            err.starts_with("ainima: ")
                && err.contains(path.to_str().unwrap())
                && err.contains(what),
            "{err}"
        );
        assert!(
            !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
            "{err}"
        );
    }
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn paths_live_under_ainima_home() {
    let h = home("paths");
    let o = ainima(&h, &["paths", "--json"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    for key in ["config", "cache", "data", "logs", "models"] {
        assert!(
            v[key].as_str().unwrap().starts_with(h.to_str().unwrap()),
            "{key}: {v}"
        );
    }
}

#[test]
fn the_config_in_ainima_home_is_read_and_checked() {
    let Some(data) = data_dir() else { return };
    let h = home("config");
    std::fs::create_dir_all(h.join("config")).unwrap();
    let jfk = data.join("speech/whisper_cpp/jfk.wav");
    let count = |h: &Path| {
        stdout(&ainima(h, &["segments", jfk.to_str().unwrap()]))
            .lines()
            .count()
    };
    let default = count(&h);
    // A long hangover bridges JFK's pause: one segment instead of two.
    std::fs::write(
        h.join("config/ainima.toml"),
        "[endpointer]\nhangover_ms = 2000\n",
    )
    .unwrap();
    assert_eq!(default, 2);
    assert_eq!(count(&h), 1);
    // A malformed file is an error with its path, line and column.
    std::fs::write(
        h.join("config/ainima.toml"),
        "[endpointer]\nhangover_ms = \"long\"\n",
    )
    .unwrap();
    let o = ainima(&h, &["segments", jfk.to_str().unwrap()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err.contains("ainima.toml") && err.contains("line 2, column 15"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}

/// `ainima models verify` trusts no kept encoding of silence: a damaged one
/// (one value changed, its size the same) or a lost one is computed anew,
/// the same bytes as the import's check kept, and the model is sound.
#[test]
fn models_verify_computes_the_kept_encoding_of_silence_anew() {
    let Some(wheel) = whisper_wheel() else { return };
    let h = home("verify-silence");
    let o = ainima(&h, &["models", "import", wheel.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let paths: serde_json::Value =
        serde_json::from_str(&stdout(&ainima(&h, &["paths", "--json"]))).unwrap();
    let kept = Path::new(paths["models"].as_str().unwrap())
        .join("whisper-tiny.en")
        .join("silence-encoding.bin");
    let good = std::fs::read(&kept).expect("the import's check kept the encoding");
    let mut damaged = good.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 0x40;
    for kept_now in [Some(damaged), None] {
        match &kept_now {
            Some(b) => std::fs::write(&kept, b).unwrap(),
            None => std::fs::remove_file(&kept).unwrap(),
        }
        let o = ainima(&h, &["models", "verify", "whisper-tiny.en"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            std::fs::read(&kept).is_ok_and(|b| b == good),
            "kept {}: not computed anew",
            if kept_now.is_some() {
                "damaged"
            } else {
                "lost"
            }
        );
    }
}

#[test]
fn transcribe_json_with_and_without_the_skills_prompt() {
    let (Some(wheel), Some(data)) = (whisper_wheel(), data_dir()) else {
        return;
    };
    let h = home("transcribe");
    let o = ainima(&h, &["models", "import", wheel.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let jfk = data.join("speech/whisper_cpp/jfk.wav");
    let lamp = data.join("speech/rhasspy/turn_on_living_room_lamp.wav");
    let (jfk, lamp) = (jfk.to_str().unwrap(), lamp.to_str().unwrap());
    for extra in [None, Some("--bias-skills")] {
        let mut args = vec!["transcribe", "--json", jfk, lamp];
        args.extend(extra);
        let o = ainima(&h, &args);
        assert!(o.status.success(), "{}", stderr(&o));
        let lines: Vec<serde_json::Value> = stdout(&o)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0]["text"]
                .as_str()
                .unwrap()
                .contains("ask not what your country can do for you")
        );
        assert_eq!(lines[0]["model"], "whisper-tiny.en");
        assert!(lines[0]["timings_ms"]["total"].as_f64().unwrap() > 0.0);
        assert!(
            lines[0]["segments"]
                .as_array()
                .is_some_and(|s| !s.is_empty())
        );
        if extra.is_none() {
            // The binary gives the raw text and confidence bits the model's
            // cross-machine snapshot holds (ARCHITECTURE.md, "Deterministic").
            let snapshot = include_str!("../ainima/tests/snapshots/raw-transcripts.tsv");
            let want = snapshot
                .lines()
                .find(|l| l.starts_with("whisper_cpp/jfk.wav\t"))
                .expect("jfk.wav in the snapshot");
            let confidence = lines[0]["confidence"].as_f64().unwrap() as f32;
            let got = format!(
                "whisper_cpp/jfk.wav\t{:08x}\t{}",
                confidence.to_bits(),
                lines[0]["text"].as_str().unwrap()
            );
            assert_eq!(got, want);
        }
        let lamp_text = lines[1]["text"].as_str().unwrap().to_lowercase();
        assert!(
            lamp_text.contains("living room lamp"),
            "{lamp_text} ({extra:?})"
        );
    }
    let o = ainima(&h, &["transcribe", "--prompt", "x", "--bias-skills", jfk]);
    assert_eq!(o.status.code(), Some(2), "the two prompts conflict");
}

/// A wheel whose `model.bin` declares ~4 GB but holds a few bytes.
fn lying_wheel(path: &Path) {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    w.start_file("models/model.bin", opts).unwrap();
    w.write_all(&[7u8; 4096]).unwrap();
    w.finish().unwrap();
    let mut b = std::fs::read(path).unwrap();
    let claim = 4_000_000_000u32.to_le_bytes();
    // Uncompressed size: offset 22 of the local header, 24 of the central
    // directory's entry.
    for (sig, at) in [(b"PK\x03\x04", 22), (b"PK\x01\x02", 24)] {
        let i = b.windows(4).position(|w| w == sig).unwrap();
        b[i + at..i + at + 4].copy_from_slice(&claim);
    }
    std::fs::write(path, b).unwrap();
}

/// Regression (review of 79c2283): an import reserved as much memory as
/// the archive declared for a file (up to 8 GiB) before reading any of it;
/// within 2 GB of address space that was an abort, not an error.
#[test]
fn a_model_archive_that_declares_a_huge_file_is_a_clear_error() {
    let h = home("zip-claim");
    let wheel = h.join("lying.whl");
    lying_wheel(&wheel);
    let o = std::process::Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 2000000 && exec \"$0\" models import \"$1\"")
        .arg(env!("CARGO_BIN_EXE_ainima"))
        .arg(&wheel)
        .env("AINIMA_HOME", &h)
        .output()
        .unwrap();
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("ainima: ") && err.lines().count() == 1,
        "{err}"
    );
    assert!(!err.contains("memory allocation"), "{err}");
    assert!(
        ainima(&h, &["models", "list"]).stdout.is_empty()
            || !stdout(&ainima(&h, &["models", "list"])).contains("whisper")
    );
}
