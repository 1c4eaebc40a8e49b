//! Tampering with the audit log: bit flips, truncation, deleted and
//! reordered records, a rolled-back head. `verify` catches every one and
//! names the first record that does not hold.

use std::path::{Path, PathBuf};

use ainima_agent::Error;
use ainima_agent::audit::{self, AuditLog};
use serde_json::json;

fn dir(name: &str) -> PathBuf {
    ainima_testkit::temp_dir(&format!("audit-{name}"))
}

/// A log of `n` records (plus checkpoints).
fn write_log(path: &Path, n: u64) -> u64 {
    let mut log = AuditLog::open(path).expect("opens");
    for i in 0..n {
        let kind = ["proposal", "approval", "call", "result"][i as usize % 4];
        log.append(
            kind,
            &json!({"tool": "message.send", "i": i, "api_key": "sk-secret"}),
            1000 + i,
        )
        .expect("appends");
    }
    log.len()
}

fn first_bad(path: &Path) -> Option<u64> {
    match audit::verify(path) {
        Ok(_) => None,
        Err(Error::Tampered { record, .. }) => Some(record),
        Err(e) => panic!("not a tamper report: {e}"),
    }
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .expect("reads")
        .lines()
        .map(str::to_string)
        .collect()
}

fn put(path: &Path, lines: &[String]) {
    std::fs::write(path, lines.join("\n") + "\n").expect("writes");
}

#[test]
fn an_untouched_log_verifies_and_secrets_never_reach_it() {
    let d = dir("ok");
    let p = d.join("audit.jsonl");
    let n = write_log(&p, 150);
    assert_eq!(n, 152, "150 records and two checkpoints");
    assert_eq!(audit::verify(&p).expect("verifies"), 152);
    let text = std::fs::read_to_string(&p).expect("reads");
    assert!(!text.contains("sk-secret"));
    assert!(text.contains("[redacted]"));
    let recs = audit::read(&p, 150).expect("reads");
    assert_eq!(recs.first().map(|r| r.seq), Some(150));
    // Reopening continues the chain.
    let mut log = AuditLog::open(&p).expect("reopens");
    log.append("call", &json!({}), 5000).expect("appends");
    assert_eq!(audit::verify(&p).expect("verifies"), 153);
}

#[test]
fn every_single_bit_flip_is_caught() {
    let d = dir("flip");
    let p = d.join("audit.jsonl");
    write_log(&p, 20);
    let good = std::fs::read(&p).expect("reads");
    let newline_at: Vec<usize> = good
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i)
        .collect();
    // Every byte of every record, one bit each (a thousand positions).
    for pos in (0..good.len()).step_by(3) {
        for bit in [0u8, 5] {
            let mut bad = good.clone();
            bad[pos] ^= 1 << bit;
            std::fs::write(&p, &bad).expect("writes");
            let record = newline_at.iter().filter(|&&n| n < pos).count() as u64 + 1;
            let got = first_bad(&p);
            assert!(got.is_some(), "flip at byte {pos} bit {bit} not caught");
            assert!(
                got <= Some(record + 1),
                "flip at byte {pos} (record {record}) reported at {got:?}"
            );
        }
    }
}

#[test]
fn truncation_deletion_reordering_and_rollback_are_caught() {
    let d = dir("cut");
    let p = d.join("audit.jsonl");
    write_log(&p, 30);
    let good = lines(&p);
    let head = std::fs::read(d.join("audit.jsonl.head")).expect("head");

    // The last records cut off, at a line boundary.
    put(&p, &good[..25]);
    assert_eq!(first_bad(&p), Some(26));
    // Cut in the middle of a record.
    let mut text = good.join("\n");
    text.truncate(text.len() - 40);
    std::fs::write(&p, text).expect("writes");
    assert_eq!(first_bad(&p), Some(30));
    // A record deleted.
    let mut v = good.clone();
    v.remove(10);
    put(&p, &v);
    assert_eq!(first_bad(&p), Some(11));
    // Two records swapped.
    let mut v = good.clone();
    v.swap(4, 5);
    put(&p, &v);
    assert_eq!(first_bad(&p), Some(5));
    // A record edited and re-hashed by someone who knows the format: the
    // next record no longer follows it.
    let mut v = good.clone();
    let mut r: audit::Record = serde_json::from_str(&v[7]).expect("a record");
    r.data = json!({"tool": "message.send", "i": 999});
    v[7] = serde_json::to_string(&r).expect("serialises");
    put(&p, &v);
    assert_eq!(first_bad(&p), Some(8));
    // Everything emptied but the head remembers.
    std::fs::write(&p, "").expect("writes");
    assert_eq!(first_bad(&p), Some(1));
    // The head rolled back along with the log's end.
    put(&p, &good[..20]);
    std::fs::write(d.join("audit.jsonl.head"), br#"{"seq":19,"hash":"00"}"#).expect("writes");
    assert!(first_bad(&p).is_some());
    // Restored, it verifies again; a damaged log refuses appends.
    put(&p, &good);
    std::fs::write(d.join("audit.jsonl.head"), &head).expect("writes");
    assert_eq!(audit::verify(&p).expect("verifies"), 30);
    put(&p, &good[..29]);
    assert!(AuditLog::open(&p).is_err(), "no appending to a damaged log");
}

/// Regression (review of 79c2283): the chain was plain SHA-256, so anyone
/// who knew the format could rewrite the whole log, recompute every hash
/// and the head, and it verified. The chain is keyed now.
#[test]
fn a_rewritten_chain_with_recomputed_hashes_does_not_verify() {
    use sha2::{Digest, Sha256};
    let d = dir("rewrite");
    let p = d.join("audit.jsonl");
    write_log(&p, 10);
    let mut prev = "0".repeat(64);
    let mut out = Vec::new();
    for (i, line) in lines(&p).iter().enumerate() {
        let mut r: audit::Record = serde_json::from_str(line).expect("a record");
        if i == 3 {
            r.data = json!({"tool": "message.send", "to": "someone else"});
        }
        let body = json!({"seq": r.seq, "time_ms": r.time_ms, "kind": r.kind, "data": r.data});
        let mut h = Sha256::new();
        h.update(prev.as_bytes());
        h.update(body.to_string().as_bytes());
        r.prev = prev.clone();
        r.hash = hex::encode(h.finalize());
        prev = r.hash.clone();
        out.push(serde_json::to_string(&r).expect("serialises"));
    }
    put(&p, &out);
    let head = json!({"seq": out.len(), "hash": prev});
    std::fs::write(d.join("audit.jsonl.head"), head.to_string()).expect("writes");
    assert_eq!(first_bad(&p), Some(1));
    assert!(AuditLog::open(&p).is_err());
}

/// Regression (review of 79c2283): with the log deleted and its head left,
/// opening it started a fresh chain (and overwrote the head).
#[test]
fn a_deleted_log_with_its_head_present_is_refused() {
    let d = dir("deleted");
    let p = d.join("audit.jsonl");
    write_log(&p, 10);
    std::fs::remove_file(&p).expect("deletes");
    let e = AuditLog::open(&p).expect_err("refused");
    assert!(matches!(e, Error::Tampered { .. }), "{e}");
    assert!(first_bad(&p).is_some());
    assert!(!p.exists(), "no fresh log was started");
}

/// Regression (review of 79c2283): a log deleted with its head verified
/// (nothing to check); the key left behind says a log was there.
#[test]
fn a_missing_log_with_no_head_does_not_verify() {
    let d = dir("gone");
    let p = d.join("audit.jsonl");
    write_log(&p, 3);
    std::fs::remove_file(&p).expect("deletes");
    std::fs::remove_file(d.join("audit.jsonl.head")).expect("deletes");
    assert_eq!(first_bad(&p), Some(1));
    assert!(AuditLog::open(&p).is_err());
    // The key gone too, the head and log left: no key, no trust.
    let d = dir("keyless");
    let p = d.join("audit.jsonl");
    write_log(&p, 3);
    std::fs::remove_file(audit::key_path(&p)).expect("deletes");
    assert_eq!(first_bad(&p), Some(1));
}

/// A new log is made with its key and head, readable by its owner only.
#[test]
fn a_new_log_has_a_private_key_and_a_head() {
    let d = dir("new");
    let p = d.join("audit.jsonl");
    let log = AuditLog::open(&p).expect("opens");
    assert!(log.is_empty());
    assert_eq!(audit::verify(&p).expect("verifies"), 0);
    #[cfg(unix)]
    for f in [audit::key_path(&p), d.join("audit.jsonl.head")] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&f).expect("there").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", f.display());
    }
    // Two logs have different keys: the same records hash differently.
    let q = d.join("other.jsonl");
    write_log(&p, 2);
    write_log(&q, 2);
    assert_ne!(lines(&p)[0], lines(&q)[0]);
}

/// Regression (audit_log_shared_by_two_processes): two sessions appending
/// to the one log in the data folder each went on from its own idea of the
/// chain's end, forking it; now each append is locked and goes on from the
/// chain as the other left it.
#[test]
fn two_writers_of_one_log_keep_one_chain() {
    let d = dir("two-writers");
    let log = d.join("audit.jsonl");
    let mut a = AuditLog::open(&log).expect("opens");
    let mut b = AuditLog::open(&log).expect("opens again");
    for i in 0..10u64 {
        a.append("call", &json!({"by": "a", "i": i}), i)
            .expect("a appends");
        b.append("call", &json!({"by": "b", "i": i}), i)
            .expect("b appends");
    }
    // And from threads at once.
    let t: Vec<_> = (0..2)
        .map(|w| {
            let log = log.clone();
            std::thread::spawn(move || {
                let mut l = AuditLog::open(&log).expect("opens");
                for i in 0..20u64 {
                    l.append("call", &json!({"by": w, "i": i}), i)
                        .expect("appends");
                }
            })
        })
        .collect();
    for t in t {
        t.join().expect("writer");
    }
    let n = audit::verify(&log).expect("one intact chain");
    assert!(n >= 60, "{n} records");
}

/// Regression (audit_log_made_twice_at_once): processes opening a log that
/// did not exist yet raced its making: one saw the key before the log and
/// refused it as tampered. Making and checking are now under one lock.
#[test]
fn a_new_log_opened_by_several_writers_at_once_is_made_once() {
    for round in 0..20 {
        let d = dir(&format!("made-at-once-{round}"));
        let log = d.join("data/audit.jsonl");
        let t: Vec<_> = (0..4)
            .map(|w| {
                let log = log.clone();
                std::thread::spawn(move || {
                    let mut l = AuditLog::open(&log).expect("opens while others make it");
                    l.append("call", &json!({"by": w}), 1).expect("appends");
                })
            })
            .collect();
        for t in t {
            t.join().expect("writer");
        }
        assert_eq!(audit::verify(&log).expect("one intact chain"), 4);
    }
}
