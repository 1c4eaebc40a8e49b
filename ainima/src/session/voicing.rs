//! A live session's synthesiser on a worker thread of its own: the session
//! hands it a reply and goes on capturing, so a barge-in is noticed while
//! the voice is made; each sentence comes back as soon as it is made (the
//! first plays while the rest are made). A reply the session dropped is
//! not voiced further: its remaining sentences are never made.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};

use ainima_audio::clock::Clock;

use crate::Result;
use crate::tts::TextToSpeech;

/// What comes back.
pub(crate) enum Voiced {
    /// One sentence of reply `reply`, made in `ms`.
    Sentence {
        reply: u64,
        index: usize,
        audio: Vec<f32>,
        ms: f64,
    },
    /// Reply `reply` is made (or failed, or was dropped): nothing more
    /// comes for it.
    Done { reply: u64, error: Option<String> },
}

/// The worker.
pub(crate) struct Voicing {
    requests: Option<Sender<(u64, String)>>,
    results: Receiver<Voiced>,
    /// Replies up to this id are dropped: not voiced further.
    dropped: Arc<AtomicU64>,
    in_flight: usize,
}

impl Voicing {
    /// Moves `tts` to a worker that times each sentence on `stopwatch`.
    pub(crate) fn start(
        mut tts: Box<dyn TextToSpeech>,
        stopwatch: Arc<dyn Clock>,
    ) -> Result<Voicing> {
        let (requests, rx) = channel::<(u64, String)>();
        let (tx, results) = channel::<Voiced>();
        let dropped = Arc::new(AtomicU64::new(0));
        let seen = dropped.clone();
        std::thread::Builder::new()
            .name("ainima-voicing".into())
            .spawn(move || {
                for (reply, text) in rx {
                    let mut error = None;
                    if reply > seen.load(Ordering::Acquire) {
                        let mut last = stopwatch.now();
                        let made = catch_unwind(AssertUnwindSafe(|| {
                            tts.speak(&text, &mut |s| {
                                let now = stopwatch.now();
                                let ms = now.saturating_sub(last).as_secs_f64() * 1000.0;
                                last = now;
                                reply > seen.load(Ordering::Acquire)
                                    && tx
                                        .send(Voiced::Sentence {
                                            reply,
                                            index: s.index,
                                            audio: s.audio,
                                            ms,
                                        })
                                        .is_ok()
                            })
                        }));
                        error = match made {
                            Ok(Ok(())) => None,
                            Ok(Err(e)) => Some(e.to_string()),
                            Err(_) => Some("the synthesiser panicked".to_string()),
                        };
                    }
                    if tx.send(Voiced::Done { reply, error }).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| crate::Error::Speech(format!("the voicing worker: {e}")))?;
        Ok(Voicing {
            requests: Some(requests),
            results,
            dropped,
            in_flight: 0,
        })
    }

    /// Asks for reply `reply` (ids increase) to be voiced; `false` when
    /// the worker is gone (nothing will come).
    pub(crate) fn ask(&mut self, reply: u64, text: String) -> bool {
        if let Some(r) = &self.requests
            && r.send((reply, text)).is_ok()
        {
            self.in_flight += 1;
            return true;
        }
        false
    }

    /// Replies up to `reply` are dropped: no more of them is made.
    pub(crate) fn drop_through(&self, reply: u64) {
        self.dropped.fetch_max(reply, Ordering::AcqRel);
    }

    /// The next result, if one is ready. A worker that died answers each
    /// reply it still owed with an error, so that nothing waits on it.
    pub(crate) fn take(&mut self) -> Option<Voiced> {
        match self.results.try_recv() {
            Ok(v) => {
                if matches!(v, Voiced::Done { .. }) {
                    self.in_flight = self.in_flight.saturating_sub(1);
                }
                Some(v)
            }
            Err(TryRecvError::Disconnected) if self.in_flight > 0 => {
                self.in_flight = 0;
                self.requests = None;
                Some(Voiced::Done {
                    reply: u64::MAX,
                    error: Some("the synthesiser's worker stopped; restart the session".into()),
                })
            }
            Err(_) => None,
        }
    }
}

impl Drop for Voicing {
    fn drop(&mut self) {
        // The worker ends when its requests do; what it makes is dropped.
        self.dropped.store(u64::MAX, Ordering::Release);
        self.requests = None;
    }
}
