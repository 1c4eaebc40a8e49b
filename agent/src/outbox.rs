//! The outbox: approved actions for external services, kept in an embedded
//! database (redb, one file, crash-safe commits) until they are delivered.
//! An entry is committed before `enqueue` returns; delivery marks it done
//! only after the receiver said so. A crash in between means the entry is
//! delivered again, with the same idempotency key, so the receiver can tell
//! a retry from a second action. Failures are retried with exponential
//! backoff and jitter (seeded by the entry, so a replay schedules the same);
//! a refusal that cannot change (a 4xx, a refused address) fails the entry
//! at once.

use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{Error, Result};

const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entries");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// Where an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Waiting to be delivered (again).
    Pending,
    /// The receiver has it.
    Delivered,
    /// Given up: refused for good, or out of attempts. `retry` revives it.
    Failed,
    /// Dropped by the user.
    Dropped,
}

/// One queued action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Queue number, from 1.
    pub id: u64,
    /// Sent with every attempt (`Idempotency-Key`): the same for retries.
    pub key: String,
    /// Where it goes (a webhook URL, a connector name).
    pub target: String,
    /// The tool that produced it.
    pub tool: String,
    /// What is sent.
    pub payload: Value,
    /// Attempts so far.
    pub attempts: u32,
    /// Not before this time (ms on the caller's clock).
    pub next_at_ms: u64,
    /// Where it is.
    pub state: State,
    /// The last failure.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_ms: u64,
}

/// How retries are spaced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Wait after the first failure.
    pub base_ms: u64,
    /// Longest wait.
    pub max_ms: u64,
    /// Up to this fraction more or less, at random (seeded by the entry).
    pub jitter: f64,
    /// Attempts before giving up.
    pub max_attempts: u32,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            base_ms: 1000,
            max_ms: 300_000,
            jitter: 0.2,
            max_attempts: 50,
        }
    }
}

impl Backoff {
    /// The wait after `attempts` failures of entry `id`.
    pub fn delay_ms(&self, id: u64, attempts: u32) -> u64 {
        let exp = self
            .base_ms
            .saturating_mul(1u64 << attempts.saturating_sub(1).min(30))
            .min(self.max_ms);
        let r = ainima_fallbacks::replies::mix(
            id.wrapping_mul(0x9E37_79B9)
                .wrapping_add(u64::from(attempts)),
        );
        let unit = (r >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0;
        ((exp as f64) * (1.0 + self.jitter * unit)).max(0.0) as u64
    }
}

/// The queue, in a redb file.
pub struct Outbox {
    db: Database,
    /// Retry spacing.
    pub backoff: Backoff,
}

impl std::fmt::Debug for Outbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox")
            .field("backoff", &self.backoff)
            .finish()
    }
}

fn db_err(e: impl std::fmt::Display) -> Error {
    Error::storage("outbox database", e)
}

impl Outbox {
    /// Opens (or creates) the outbox at `path`.
    pub fn open(path: &Path) -> Result<Outbox> {
        let db =
            Database::create(path).map_err(|e| Error::storage(path.display().to_string(), e))?;
        let w = db.begin_write().map_err(db_err)?;
        w.open_table(ENTRIES).map_err(db_err)?;
        w.open_table(META).map_err(db_err)?;
        w.commit().map_err(db_err)?;
        Ok(Outbox {
            db,
            backoff: Backoff::default(),
        })
    }

    /// Queues an action, durably; its idempotency key is derived from its
    /// number and payload unless given.
    pub fn enqueue(
        &self,
        target: &str,
        tool: &str,
        payload: &Value,
        key: Option<&str>,
        now_ms: u64,
    ) -> Result<Entry> {
        let w = self.db.begin_write().map_err(db_err)?;
        let entry = {
            let mut meta = w.open_table(META).map_err(db_err)?;
            let id = meta.get("next").map_err(db_err)?.map_or(1, |v| v.value());
            meta.insert("next", id + 1).map_err(db_err)?;
            let digest = crate::approval::digest(payload);
            let entry = Entry {
                id,
                key: key.map_or_else(|| format!("ainima-{id}-{}", &digest[..16]), str::to_string),
                target: target.to_string(),
                tool: tool.to_string(),
                payload: payload.clone(),
                attempts: 0,
                next_at_ms: now_ms,
                state: State::Pending,
                last_error: None,
                created_ms: now_ms,
            };
            let bytes = serde_json::to_vec(&entry).map_err(db_err)?;
            w.open_table(ENTRIES)
                .map_err(db_err)?
                .insert(id, bytes.as_slice())
                .map_err(db_err)?;
            entry
        };
        w.commit().map_err(db_err)?;
        Ok(entry)
    }

    /// Every entry, in queue order.
    pub fn list(&self) -> Result<Vec<Entry>> {
        let r = self.db.begin_read().map_err(db_err)?;
        let t = r.open_table(ENTRIES).map_err(db_err)?;
        let mut out = Vec::new();
        for item in t.iter().map_err(db_err)? {
            let (_, v) = item.map_err(db_err)?;
            out.push(serde_json::from_slice(v.value()).map_err(db_err)?);
        }
        Ok(out)
    }

    /// One entry.
    pub fn get(&self, id: u64) -> Result<Option<Entry>> {
        let r = self.db.begin_read().map_err(db_err)?;
        let t = r.open_table(ENTRIES).map_err(db_err)?;
        match t.get(id).map_err(db_err)? {
            Some(v) => Ok(Some(serde_json::from_slice(v.value()).map_err(db_err)?)),
            None => Ok(None),
        }
    }

    fn update(&self, id: u64, f: impl FnOnce(&mut Entry)) -> Result<Entry> {
        let w = self.db.begin_write().map_err(db_err)?;
        let entry = {
            let mut t = w.open_table(ENTRIES).map_err(db_err)?;
            let mut e: Entry = match t.get(id).map_err(db_err)? {
                Some(v) => serde_json::from_slice(v.value()).map_err(db_err)?,
                None => return Err(Error::storage("outbox", format!("no entry {id}"))),
            };
            f(&mut e);
            let bytes = serde_json::to_vec(&e).map_err(db_err)?;
            t.insert(id, bytes.as_slice()).map_err(db_err)?;
            e
        };
        w.commit().map_err(db_err)?;
        Ok(entry)
    }

    /// Pending entries due at `now_ms`, in queue order.
    pub fn due(&self, now_ms: u64) -> Result<Vec<Entry>> {
        Ok(self
            .list()?
            .into_iter()
            .filter(|e| e.state == State::Pending && e.next_at_ms <= now_ms)
            .collect())
    }

    /// Marks an entry delivered.
    pub fn delivered(&self, id: u64) -> Result<Entry> {
        self.update(id, |e| {
            e.attempts += 1;
            e.state = State::Delivered;
            e.last_error = None;
        })
    }

    /// Records a failed attempt: retried later if `retryable` and attempts
    /// remain, failed otherwise.
    pub fn failed(&self, id: u64, error: &str, retryable: bool, now_ms: u64) -> Result<Entry> {
        let backoff = self.backoff;
        self.update(id, |e| {
            e.attempts += 1;
            e.last_error = Some(error.to_string());
            if retryable && e.attempts < backoff.max_attempts {
                e.next_at_ms = now_ms.saturating_add(backoff.delay_ms(e.id, e.attempts));
            } else {
                e.state = State::Failed;
            }
        })
    }

    /// Makes an entry due now (pending again if it had failed).
    pub fn retry(&self, id: u64, now_ms: u64) -> Result<Entry> {
        self.update(id, |e| {
            if matches!(e.state, State::Pending | State::Failed) {
                e.state = State::Pending;
                e.next_at_ms = now_ms;
            }
        })
    }

    /// Drops an entry: it will not be delivered.
    pub fn drop_entry(&self, id: u64) -> Result<Entry> {
        self.update(id, |e| {
            if e.state != State::Delivered {
                e.state = State::Dropped;
            }
        })
    }

    /// Delivers every due entry with `deliver`, in queue order; returns how
    /// many were delivered and how many failed this round.
    pub fn deliver_due(
        &self,
        now_ms: u64,
        deliver: &mut dyn FnMut(&Entry) -> Result<()>,
    ) -> Result<(usize, usize)> {
        let r = self.deliver_round(now_ms, deliver)?;
        Ok((r.delivered, r.failed))
    }

    /// [`Outbox::deliver_due`], saying which entries it gave up on.
    pub fn deliver_round(
        &self,
        now_ms: u64,
        deliver: &mut dyn FnMut(&Entry) -> Result<()>,
    ) -> Result<Round> {
        self.deliver_round_until(now_ms, deliver, &|| false)
    }

    /// [`Outbox::deliver_round`], stopping before the next entry once
    /// `stop` says so (the entries not tried stay due).
    pub fn deliver_round_until(
        &self,
        now_ms: u64,
        deliver: &mut dyn FnMut(&Entry) -> Result<()>,
        stop: &dyn Fn() -> bool,
    ) -> Result<Round> {
        let mut round = Round::default();
        for e in self.due(now_ms)? {
            if stop() {
                break;
            }
            match deliver(&e) {
                Ok(()) => {
                    self.delivered(e.id)?;
                    round.delivered += 1;
                }
                Err(err) => {
                    let retryable = match &err {
                        Error::Delivery { retryable, .. } => *retryable,
                        _ => true,
                    };
                    let after = self.failed(e.id, &err.to_string(), retryable, now_ms)?;
                    round.failed += 1;
                    if after.state == State::Failed {
                        round.given_up.push(after);
                    }
                }
            }
        }
        Ok(round)
    }
}

/// What one delivery round did.
#[derive(Debug, Clone, Default)]
pub struct Round {
    /// Entries the receiver took.
    pub delivered: usize,
    /// Failed attempts.
    pub failed: usize,
    /// Entries that failed for good this round (refused, or out of
    /// attempts): someone should hear of them.
    pub given_up: Vec<Entry>,
}

/// Delivers an outbox's due entries in the background, every `every`,
/// until dropped; each entry given up on is handed to `given_up`. Dropping
/// it waits for the delivery in flight, if any, and no more.
#[cfg(not(target_arch = "wasm32"))]
pub struct Worker {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[cfg(not(target_arch = "wasm32"))]
impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").finish_non_exhaustive()
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl Worker {
    /// Starts the worker on a thread of its own: `deliver` sends one entry,
    /// `now_ms` is the clock retries are spaced on.
    pub fn spawn(
        outbox: std::sync::Arc<Outbox>,
        mut deliver: impl FnMut(&Entry) -> Result<()> + Send + 'static,
        now_ms: impl Fn() -> u64 + Send + 'static,
        mut given_up: impl FnMut(&Entry) + Send + 'static,
        every: std::time::Duration,
    ) -> Worker {
        use std::sync::atomic::{AtomicBool, Ordering};
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                // A round that cannot read the database is tried again
                // next time; the entries are safe where they are.
                let stopping = || flag.load(Ordering::Relaxed);
                if let Ok(round) = outbox.deliver_round_until(now_ms(), &mut deliver, &stopping) {
                    round.given_up.iter().for_each(&mut given_up);
                }
                let mut slept = std::time::Duration::ZERO;
                while slept < every && !flag.load(Ordering::Relaxed) {
                    let step = std::time::Duration::from_millis(20).min(every - slept);
                    std::thread::sleep(step);
                    slept += step;
                }
            }
        });
        Worker {
            stop,
            thread: Some(thread),
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl Drop for Worker {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_a_cap() {
        let b = Backoff::default();
        let d: Vec<u64> = (1..=12).map(|a| b.delay_ms(7, a)).collect();
        assert!((800..=1200).contains(&d[0]), "{d:?}");
        assert!((1600..=2400).contains(&d[1]), "{d:?}");
        assert!(d.iter().all(|&x| x <= 360_000), "{d:?}");
        assert_eq!(
            d,
            (1..=12).map(|a| b.delay_ms(7, a)).collect::<Vec<_>>(),
            "seeded"
        );
        assert_ne!(
            b.delay_ms(7, 3),
            b.delay_ms(8, 3),
            "jitter differs between entries"
        );
    }
}
