//! The audit log: every proposal, approval, denial, call and result as one
//! JSON line, each carrying the SHA-256 of the one before (a hash chain).
//! A head file beside the log holds the last record's number and hash,
//! replaced atomically after each append, so cutting records off the end is
//! caught too; every [`CHECKPOINT_EVERY`] records a checkpoint record
//! restates the count and the running hash. [`verify`] names the first
//! record that does not hold. Secrets (keys like `password`, `token`,
//! `api_key`, `authorization`, `secret`) are replaced before anything is
//! written.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

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
}

fn record_hash(prev: &str, seq: u64, time_ms: u64, kind: &str, data: &Value) -> String {
    let body = json!({"seq": seq, "time_ms": time_ms, "kind": kind, "data": data});
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(serde_json::to_string(&body).unwrap_or_default().as_bytes());
    hex::encode(h.finalize())
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

fn head_path(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".head");
    PathBuf::from(p)
}

/// An open log, appending.
#[derive(Debug)]
pub struct AuditLog {
    path: PathBuf,
    file: File,
    seq: u64,
    hash: String,
}

impl AuditLog {
    /// Opens (or creates) the log at `path`, verifying it first: nothing is
    /// appended to a damaged log.
    pub fn open(path: &Path) -> Result<AuditLog> {
        let (seq, hash) = if path.exists() {
            verify_chain(path)?
        } else {
            (0, GENESIS.to_string())
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| Error::storage(path.display().to_string(), e))?;
        Ok(AuditLog {
            path: path.to_path_buf(),
            file,
            seq,
            hash,
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

    /// Appends a record (and a checkpoint when one is due), durably.
    pub fn append(&mut self, kind: &str, data: &Value, time_ms: u64) -> Result<Record> {
        let r = self.write(kind, redact(data), time_ms)?;
        if self.seq % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1 {
            let data = json!({"records": self.seq, "hash": self.hash});
            self.write("checkpoint", data, time_ms)?;
        }
        Ok(r)
    }

    fn write(&mut self, kind: &str, data: Value, time_ms: u64) -> Result<Record> {
        let seq = self.seq + 1;
        let hash = record_hash(&self.hash, seq, time_ms, kind, &data);
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
        let head = head_path(&self.path);
        let tmp = head.with_extension("head.tmp");
        let text = serde_json::to_string(&Head {
            seq,
            hash: r.hash.clone(),
        })
        .unwrap_or_default();
        std::fs::write(&tmp, text).map_err(|e| Error::storage(tmp.display().to_string(), e))?;
        std::fs::rename(&tmp, &head).map_err(|e| Error::storage(head.display().to_string(), e))?;
        self.seq = seq;
        self.hash = r.hash.clone();
        Ok(r)
    }
}

fn verify_chain(path: &Path) -> Result<(u64, String)> {
    let file = File::open(path).map_err(|e| Error::storage(path.display().to_string(), e))?;
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
        if record_hash(&r.prev, r.seq, r.time_ms, &r.kind, &r.data) != r.hash {
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
        prev = r.hash;
        seq = n;
    }
    let head = head_path(path);
    match std::fs::read(&head) {
        Ok(b) => {
            let h: Head = serde_json::from_slice(&b).map_err(|e| {
                bad(
                    seq + 1,
                    format!("the head file {} is damaged ({e})", head.display()),
                )
            })?;
            if h.seq != seq || h.hash != prev {
                return Err(bad(
                    seq.min(h.seq) + 1,
                    format!(
                        "the log ends at record {seq} but its head says {} (truncated or rolled back)",
                        h.seq
                    ),
                ));
            }
        }
        Err(_) if seq == 0 => {}
        Err(e) => return Err(bad(seq, format!("no head file {} ({e})", head.display()))),
    }
    Ok((seq, prev))
}

/// Checks the whole chain and the head; the number of records if all hold.
pub fn verify(path: &Path) -> Result<u64> {
    verify_chain(path).map(|(n, _)| n)
}

/// Records from `since` (1-based) on, after verifying the log.
pub fn read(path: &Path, since: u64) -> Result<Vec<Record>> {
    verify(path)?;
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::storage(path.display().to_string(), e))?;
    text.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            serde_json::from_str::<Record>(l)
                .map_err(|e| Error::storage(path.display().to_string(), e))
        })
        .filter(|r| r.as_ref().map_or(true, |r| r.seq >= since))
        .collect()
}
