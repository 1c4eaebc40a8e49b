//! A live session's recogniser on a worker thread of its own: the session
//! hands it utterances and goes on capturing, so a barge-in is noticed
//! while Whisper works; results come back tagged with what they were for.
//! Requests are heard in order, one at a time.

use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};

use ainima_audio::clock::Clock;
use ainima_fallbacks::catalog::Catalog;

use super::Costs;
use super::judge::Judge;
use crate::Result;
use crate::stt::{SpeechToText, Transcript};

/// What a hearing is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// A whole utterance, starting at this sample; `over_speech`: said
    /// over the assistant's speech.
    Final { start: u64, over_speech: bool },
    /// The words so far, in a pause after this voiced sample; `over_speech`
    /// as for [`Purpose::Final`].
    Tentative { voiced_end: u64, over_speech: bool },
    /// The words so far of the speech that began at this sample, heard
    /// up to the sample `upto`, while it goes on (for the status line, and
    /// for the pause's check if nothing was said after it).
    Partial { onset: u64, upto: u64 },
}

/// A result.
pub(crate) struct Heard {
    pub(crate) purpose: Purpose,
    pub(crate) transcript: Result<Transcript>,
    /// Compute time, ms.
    pub(crate) ms: f64,
}

/// The worker.
pub(crate) struct Hearing {
    requests: Option<Sender<(Purpose, Vec<f32>)>>,
    results: Receiver<Heard>,
    in_flight: usize,
}

impl Hearing {
    /// Moves `stt` to a worker that judges with `catalog`'s skills.
    pub(crate) fn start(
        mut stt: Box<dyn SpeechToText + Send>,
        catalog: &Catalog,
        bias_retry: bool,
        home: Option<super::judge::HomeGrammar>,
        stopwatch: Arc<dyn Clock>,
    ) -> Result<Hearing> {
        let judge = Judge::new(catalog, bias_retry, home)?;
        let (requests, rx) = channel::<(Purpose, Vec<f32>)>();
        let (tx, results) = channel::<Heard>();
        std::thread::Builder::new()
            .name("ainima-hearing".into())
            .spawn(move || {
                for (purpose, audio) in rx {
                    let (transcript, ms) = match purpose {
                        Purpose::Final { over_speech, .. } => judge.transcribe_utterance(
                            &mut *stt,
                            &audio,
                            over_speech,
                            &Costs::Measured,
                            &*stopwatch,
                        ),
                        Purpose::Tentative { over_speech, .. } => judge.transcribe(
                            &mut *stt,
                            &audio,
                            over_speech,
                            &Costs::Measured,
                            &*stopwatch,
                        ),
                        // The words so far, for the status line and the
                        // pause's check: no near readings of half a sentence.
                        Purpose::Partial { .. } => {
                            judge.hear(&mut *stt, &audio, &Costs::Measured, &*stopwatch)
                        }
                    };
                    if tx
                        .send(Heard {
                            purpose,
                            transcript,
                            ms,
                        })
                        .is_err()
                    {
                        break;
                    }
                }
            })
            .map_err(|e| crate::Error::Inference(format!("the hearing worker: {e}")))?;
        Ok(Hearing {
            requests: Some(requests),
            results,
            in_flight: 0,
        })
    }

    /// Asks for a hearing.
    pub(crate) fn ask(&mut self, purpose: Purpose, audio: Vec<f32>) {
        if let Some(r) = &self.requests
            && r.send((purpose, audio)).is_ok()
        {
            self.in_flight += 1;
        }
    }

    /// Hearings asked for and not yet taken back.
    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// The next result, if one is ready. A worker that died (a panic
    /// outside the recogniser) answers what it still owed with an error,
    /// so that nothing waits on it.
    pub(crate) fn take(&mut self) -> Option<Heard> {
        match self.results.try_recv() {
            Ok(h) => {
                self.in_flight = self.in_flight.saturating_sub(1);
                Some(h)
            }
            Err(std::sync::mpsc::TryRecvError::Disconnected) if self.in_flight > 0 => {
                self.in_flight = 0;
                self.requests = None;
                Some(Heard {
                    purpose: Purpose::Final {
                        start: 0,
                        over_speech: false,
                    },
                    transcript: Err(crate::Error::Inference(
                        "the recogniser's worker stopped; restart the session".into(),
                    )),
                    ms: 0.0,
                })
            }
            Err(_) => None,
        }
    }
}

impl Drop for Hearing {
    fn drop(&mut self) {
        // The worker ends when its requests do.
        self.requests = None;
    }
}
