//! Streaming recognition: partial transcripts while the user is still
//! talking, the final one at the end of speech. The engine runs on a worker
//! thread of its own; the caller never waits on it. A partial is started at
//! most every `interval` of new audio, and only when the worker is idle, so
//! a slow engine means fewer partials, never a backlog.

use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;

use super::{SpeechToText, Transcript};
use crate::{Error, Result};

enum Job {
    Partial(u64, Vec<f32>),
    Final(u64, Vec<f32>),
}

/// A result from the worker, tagged with the utterance it belongs to.
#[derive(Debug)]
pub struct Update {
    /// Which utterance (counts up from 0 with each `finish`).
    pub utterance: u64,
    /// The transcript, `partial` set for partials.
    pub transcript: Result<Transcript>,
}

/// Feeds a growing utterance to an engine on a worker thread.
pub struct Streamer {
    jobs: Option<Sender<Job>>,
    results: Receiver<Update>,
    worker: Option<JoinHandle<()>>,
    audio: Vec<f32>,
    utterance: u64,
    /// Samples of new audio between partials (300 ms at 16 kHz by default).
    pub interval: usize,
    last_partial_at: usize,
    busy: usize,
}

impl std::fmt::Debug for Streamer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streamer")
            .field("utterance", &self.utterance)
            .field("samples", &self.audio.len())
            .finish()
    }
}

impl Streamer {
    /// Move `engine` onto a worker thread of its own.
    pub fn new<E: SpeechToText + Send + 'static>(mut engine: E) -> Self {
        let (jobs, job_rx) = mpsc::channel::<Job>();
        let (res_tx, results) = mpsc::channel::<Update>();
        let worker = std::thread::Builder::new()
            .name("ainima-stt".into())
            .spawn(move || {
                for job in job_rx {
                    let (utterance, partial, audio) = match job {
                        Job::Partial(u, a) => (u, true, a),
                        Job::Final(u, a) => (u, false, a),
                    };
                    // A panic in one utterance must not end the session.
                    let transcript = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        if partial {
                            engine.partial(&audio)
                        } else {
                            engine.transcribe(&audio)
                        }
                    }))
                    .unwrap_or_else(|_| {
                        Err(Error::Inference(
                            "the recogniser panicked on this utterance".into(),
                        ))
                    });
                    if res_tx
                        .send(Update {
                            utterance,
                            transcript,
                        })
                        .is_err()
                    {
                        break;
                    }
                }
            })
            .ok();
        Streamer {
            jobs: Some(jobs),
            results,
            worker,
            audio: Vec::new(),
            utterance: 0,
            interval: 16_000 * 3 / 10,
            last_partial_at: 0,
            busy: 0,
        }
    }

    /// More audio of the current utterance; may start a partial.
    pub fn push(&mut self, samples: &[f32]) {
        self.audio.extend_from_slice(samples);
        if self.busy == 0 && self.audio.len() >= self.last_partial_at + self.interval {
            self.last_partial_at = self.audio.len();
            if let Some(j) = &self.jobs
                && j.send(Job::Partial(self.utterance, self.audio.clone()))
                    .is_ok()
            {
                self.busy += 1;
            }
        }
    }

    /// The utterance is over: its final transcript will follow the partials.
    /// Returns the utterance's number.
    pub fn finish(&mut self) -> u64 {
        let u = self.utterance;
        if let Some(j) = &self.jobs
            && j.send(Job::Final(u, std::mem::take(&mut self.audio)))
                .is_ok()
        {
            self.busy += 1;
        }
        self.utterance += 1;
        self.last_partial_at = 0;
        u
    }

    /// Jobs sent to the worker whose results have not been collected yet.
    pub fn pending(&self) -> usize {
        self.busy
    }

    /// Results so far, without waiting.
    pub fn poll(&mut self) -> Vec<Update> {
        let got: Vec<Update> = self.results.try_iter().collect();
        self.busy = self.busy.saturating_sub(got.len());
        got
    }

    /// Wait for the next result (`None` once the worker is gone).
    pub fn wait(&mut self) -> Option<Update> {
        let got = self.results.recv().ok();
        if got.is_some() {
            self.busy = self.busy.saturating_sub(1);
        }
        got
    }
}

impl Drop for Streamer {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(w) = self.worker.take() {
            let _ = w.join();
        }
    }
}
