//! The audit log: every proposal, approval, denial, call and result as one
//! JSON line, each carrying the hash of the one before (a hash chain).
//! The chain is keyed: each record's hash is an HMAC-SHA256 under a key
//! kept beside the log (`LOG.key`, 32 random bytes, mode 0600, made with
//! the log), so a chain rewritten by someone without the key, with every
//! hash recomputed, does not verify. A head file beside the log (`LOG.head`)
//! holds the last record's number and hash under a MAC of its own, replaced
//! atomically after each append, so cutting records off the end, or
//! deleting the log and starting a fresh one, is caught too; every
//! [`CHECKPOINT_EVERY`] records a checkpoint record restates the count and
//! the running hash. The log, its head and its key are made together: any
//! one without the others is tampering. [`verify`] names the first record
//! that does not hold. Secrets (keys like `password`, `token`, `api_key`,
//! `authorization`, `secret`) are replaced before anything is written.
//!
//! What it cannot catch: someone who can read the key (the user's own
//! account) can forge a chain; someone who deletes the log, its head and
//! its key leaves no trace here.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::{Error, Result};

/// A checkpoint record every this many records.
pub const CHECKPOINT_EVERY: u64 = 64;

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// 1, 2, 3... with no gaps.
    pub seq: u64,
    /// When, ms on the caller's clock.
    pub time_ms: u64,
    /// `proposal`, `approval`, `denial`, `call`, `result`, `checkpoint`...
    pub kind: String,
    /// The details (secrets redacted).
    pub data: Value,
    /// The previous record's hash (zeros for the first).
    pub prev: String,
    /// SHA-256 of `prev` and this record's other fields.
    pub hash: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Head {
    seq: u64,
    hash: String,
    /// HMAC of `seq` and `hash` under the log's key.
    #[serde(default)]
    mac: String,
}

/// The key a log's chain is made with.
#[derive(Clone)]
struct Key([u8; 32]);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key([redacted])")
    }
}

impl Key {
    fn mac(&self, parts: &[&[u8]]) -> String {
        let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0)
            .expect("HMAC takes keys of any length");
        for p in parts {
            m.update(p);
        }
        hex::encode(m.finalize().into_bytes())
    }

    fn record_hash(&self, prev: &str, seq: u64, time_ms: u64, kind: &str, data: &Value) -> String {
        let body = json!({"seq": seq, "time_ms": time_ms, "kind": kind, "data": data});
        let body = serde_json::to_string(&body).unwrap_or_default();
        self.mac(&[prev.as_bytes(), body.as_bytes()])
    }

    fn head_mac(&self, seq: u64, hash: &str) -> String {
        self.mac(&[b"head", &seq.to_be_bytes(), hash.as_bytes()])
    }

    fn head(&self, seq: u64, hash: &str) -> Head {
        Head {
            seq,
            hash: hash.to_string(),
            mac: self.head_mac(seq, hash),
        }
    }
}

const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "credential",
];

/// The value with every field whose name looks like a secret replaced.
pub fn redact(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, x)| {
                    let lower = k.to_lowercase();
                    if SECRET_KEYS.iter().any(|s| lower.contains(s)) {
                        (k.clone(), Value::String("[redacted]".into()))
                    } else {
                        (k.clone(), redact(x))
                    }
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(redact).collect()),
        other => other.clone(),
    }
}

fn beside(path: &Path, ext: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(ext);
    PathBuf::from(p)
}

/// The lock file beside the log at `path` (`LOG.lock`), made if need be
/// (with the log's folder), never removed.
fn lock_file(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::storage(dir.display().to_string(), e))?;
    }
    let lock = beside(path, ".lock");
    let mut opts = OpenOptions::new();
    opts.write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(&lock)
        .map_err(|e| Error::storage(lock.display().to_string(), e))
}

/// Where the head of the log at `path` is kept (`LOG.head`).
pub fn head_path(path: &Path) -> PathBuf {
    beside(path, ".head")
}

/// Where the key of the log at `path` is kept (`LOG.key`).
pub fn key_path(path: &Path) -> PathBuf {
    beside(path, ".key")
}

fn read_key(path: &Path) -> Result<Key> {
    let kp = key_path(path);
    let text = std::fs::read_to_string(&kp).map_err(|e| Error::Tampered {
        record: 1,
        reason: format!("the log's key {} cannot be read ({e})", kp.display()),
    })?;
    let bytes = hex::decode(text.trim()).ok().filter(|b| b.len() == 32);
    let bytes = bytes.ok_or_else(|| Error::Tampered {
        record: 1,
        reason: format!("the log's key {} is damaged", kp.display()),
    })?;
    let mut k = [0u8; 32];
    k.copy_from_slice(&bytes);
    Ok(Key(k))
}

/// Writes `body` to `to` through a file beside it, made readable by its
/// owner only, then renamed over `to`.
fn write_private(to: &Path, body: &[u8]) -> Result<()> {
    let tmp = beside(to, ".tmp");
    let what = || to.display().to_string();
    // A file left (or planted) under the temporary name keeps its own mode
    // or target: it goes first, and the new one is made fresh.
    let _ = std::fs::remove_file(&tmp);
    let mut opts = OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    {
        // Closed before the rename.
        let mut f = opts.open(&tmp).map_err(|e| Error::storage(what(), e))?;
        f.write_all(body).map_err(|e| Error::storage(what(), e))?;
        f.sync_data().map_err(|e| Error::storage(what(), e))?;
    }
    std::fs::rename(&tmp, to).map_err(|e| Error::storage(what(), e))
}

/// Makes a new log at `path`: its key, an empty log and a head saying so.
fn create(path: &Path) -> Result<Key> {
    let (log, head, key) = (path, head_path(path), key_path(path));
    for p in [log, head.as_path(), key.as_path()] {
        if p.exists() {
            return Err(Error::Tampered {
                record: 1,
                reason: format!(
                    "{} is there but not the rest of the log (log, .head and .key are made together)",
                    p.display()
                ),
            });
        }
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| Error::storage(dir.display().to_string(), e))?;
    }
    let mut k = [0u8; 32];
    getrandom::fill(&mut k).map_err(|e| Error::storage("the audit key", e))?;
    let k = Key(k);
    write_private(&key, hex::encode(k.0).as_bytes())?;
    let h = serde_json::to_vec(&k.head(0, GENESIS)).unwrap_or_default();
    write_private(&head, &h)?;
    write_private(log, b"")?;
    Ok(k)
}

/// An open log, appending.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: File,
    /// `LOG.lock`: held while the log is made, checked or appended to.
    lock: File,
    key: Key,
    seq: u64,
    hash: String,
    /// The log's size in bytes after this process's last append (or open).
    bytes: u64,
}

impl AuditLog {
    /// Opens the log at `path`, verifying it first (nothing is appended to
    /// a damaged log), or makes it with its key and head when none of the
    /// three is there.
    pub fn open(path: &Path) -> Result<AuditLog> {
        let what = || path.display().to_string();
        // Made, or checked, under the log's lock: another process may be
        // making it or appending to it.
        let lock = lock_file(path)?;
        lock.lock().map_err(|e| Error::storage(what(), e))?;
        let opened = (|| {
            let nothing = !path.exists() && !head_path(path).exists() && !key_path(path).exists();
            let (key, seq, hash) = if nothing {
                (create(path)?, 0, GENESIS.to_string())
            } else {
                // A head or key without its log is refused by the chain's
                // own check, never a fresh log under them.
                let key = read_key(path)?;
                let (seq, hash) = verify_chain(path, &key, &mut |_| {})?;
                (key, seq, hash)
            };
            let file = OpenOptions::new()
                .append(true)
                .open(path)
                .map_err(|e| Error::storage(what(), e))?;
            let bytes = file
                .metadata()
                .map_err(|e| Error::storage(what(), e))?
                .len();
            Ok((file, key, seq, hash, bytes))
        })();
        let _ = lock.unlock();
        let (file, key, seq, hash, bytes) = opened?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            file,
            lock,
            key,
            seq,
            hash,
            bytes,
        })
    }

    /// Records in the log.
    pub fn len(&self) -> u64 {
        self.seq
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.seq == 0
    }

    /// Appends a record (and a checkpoint when one is due), durably. The
    /// log is locked meanwhile, so processes sharing it (two sessions, a
    /// session and `ainima run`) append one after another, each going on
    /// from the chain as the others left it.
    pub fn append(&mut self, kind: &str, data: &Value, time_ms: u64) -> Result<Record> {
        let what = || self.path.display().to_string();
        self.lock.lock().map_err(|e| Error::storage(what(), e))?;
        let out = self.append_locked(kind, data, time_ms);
        let _ = self.lock.unlock();
        out
    }

    fn append_locked(&mut self, kind: &str, data: &Value, time_ms: u64) -> Result<Record> {
        self.catch_up()?;
        let r = self.write(kind, redact(data), time_ms)?;
        if self.seq % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1 {
            let data = json!({"records": self.seq, "hash": self.hash});
            self.write("checkpoint", data, time_ms)?;
        }
        Ok(r)
    }

    /// Another process appended since this one last did: the chain is
    /// checked again and goes on from its new end.
    fn catch_up(&mut self) -> Result<()> {
        let bytes = std::fs::metadata(&self.path)
            .map_err(|e| Error::storage(self.path.display().to_string(), e))?
            .len();
        if bytes != self.bytes {
            let (seq, hash) = verify_chain(&self.path, &self.key, &mut |_| {})?;
            self.seq = seq;
            self.hash = hash;
            self.bytes = bytes;
        }
        Ok(())
    }

    fn write(&mut self, kind: &str, data: Value, time_ms: u64) -> Result<Record> {
        let seq = self.seq + 1;
        let hash = self.key.record_hash(&self.hash, seq, time_ms, kind, &data);
        let r = Record {
            seq,
            time_ms,
            kind: kind.to_string(),
            data,
            prev: self.hash.clone(),
            hash,
        };
        let mut line = serde_json::to_string(&r).map_err(|e| Error::storage("audit record", e))?;
        line.push('\n');
        let what = || self.path.display().to_string();
        self.file
            .write_all(line.as_bytes())
            .map_err(|e| Error::storage(what(), e))?;
        self.file
            .sync_data()
            .map_err(|e| Error::storage(what(), e))?;
        // The head moves only once the record is safely written.
        let head = serde_json::to_vec(&self.key.head(seq, &r.hash)).unwrap_or_default();
        write_private(&head_path(&self.path), &head)?;
        self.seq = seq;
        self.hash = r.hash.clone();
        self.bytes += line.len() as u64;
        Ok(r)
    }
}

/// Checks the chain and its head; `keep` sees each record as it is checked
/// (so what a caller reads is what was verified, not a second read).
fn verify_chain(path: &Path, key: &Key, keep: &mut dyn FnMut(&Record)) -> Result<(u64, String)> {
    let file = File::open(path).map_err(|e| Error::Tampered {
        record: 1,
        reason: format!(
            "the log {} is missing or unreadable ({e}) but its key is there",
            path.display()
        ),
    })?;
    let mut prev = GENESIS.to_string();
    let mut seq = 0u64;
    let bad = |record: u64, reason: String| Error::Tampered { record, reason };
    for (i, line) in BufReader::new(file).split(b'\n').enumerate() {
        let n = i as u64 + 1;
        let line = line.map_err(|e| Error::storage(path.display().to_string(), e))?;
        let r: Record =
            serde_json::from_slice(&line).map_err(|e| bad(n, format!("not a record ({e})")))?;
        if r.seq != n {
            return Err(bad(
                n,
                format!(
                    "numbered {} where {n} belongs (records deleted or moved)",
                    r.seq
                ),
            ));
        }
        if r.prev != prev {
            return Err(bad(
                n,
                "does not follow the record before it (deleted or moved records)".into(),
            ));
        }
        if key.record_hash(&r.prev, r.seq, r.time_ms, &r.kind, &r.data) != r.hash {
            return Err(bad(n, "its contents do not match its hash (edited)".into()));
        }
        if r.kind == "checkpoint"
            && (r.data["records"].as_u64() != Some(n - 1)
                || r.data["hash"].as_str() != Some(prev.as_str()))
        {
            return Err(bad(
                n,
                "the checkpoint does not match the records before it".into(),
            ));
        }
        keep(&r);
        prev = r.hash;
        seq = n;
    }
    let head = head_path(path);
    let b = std::fs::read(&head)
        .map_err(|e| bad(seq.max(1), format!("no head file {} ({e})", head.display())))?;
    let h: Head = serde_json::from_slice(&b).map_err(|e| {
        bad(
            seq + 1,
            format!("the head file {} is damaged ({e})", head.display()),
        )
    })?;
    if key.head_mac(h.seq, &h.hash) != h.mac {
        return Err(bad(
            seq + 1,
            format!(
                "the head file {} was not written with the log's key",
                head.display()
            ),
        ));
    }
    if h.seq != seq || h.hash != prev {
        return Err(bad(
            seq.min(h.seq) + 1,
            format!(
                "the log ends at record {seq} but its head says {} (truncated or rolled back)",
                h.seq
            ),
        ));
    }
    Ok((seq, prev))
}

/// Checks the whole chain, its key and its head; the number of records if
/// all hold. A log that is missing while its head or key is there, or
/// whose key is gone, does not verify.
pub fn verify(path: &Path) -> Result<u64> {
    verify_keeping(path, &mut |_| {})
}

fn verify_keeping(path: &Path, keep: &mut dyn FnMut(&Record)) -> Result<u64> {
    if !path.exists() && (head_path(path).exists() || key_path(path).exists()) {
        return Err(Error::Tampered {
            record: 1,
            reason: format!(
                "the log {} is missing but its head or key is there (deleted)",
                path.display()
            ),
        });
    }
    let key = read_key(path)?;
    verify_chain(path, &key, keep).map(|(n, _)| n)
}

/// Records from `since` (1-based) on, after verifying the log.
pub fn read(path: &Path, since: u64) -> Result<Vec<Record>> {
    let mut out = Vec::new();
    verify_keeping(path, &mut |r| {
        if r.seq >= since {
            out.push(r.clone());
        }
    })?;
    Ok(out)
}
