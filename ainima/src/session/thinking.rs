//! A live session's agent at work on a thread of its own: the session hands
//! the agent over with what was heard and goes on capturing (a tool may take
//! seconds; a barge-in or a stop is noticed meanwhile), and takes it back
//! with its turn. One turn at a time: the agent is either home or here.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};

use ainima_agent::agent::{Agent, AgentTurn};
use ainima_agent::approval::Source;
use ainima_audio::clock::Clock;
use ainima_neurosymbolic::Now;

use crate::Result;

/// A turn asked for: what was heard, or `None` for a look at what
/// happened elsewhere (`Agent::poll`: an approval given at the endpoint
/// runs its tool there).
pub(crate) struct Ask {
    pub(crate) agent: Agent,
    pub(crate) heard: Option<(String, Source)>,
    pub(crate) now: Now,
    pub(crate) now_ms: u64,
}

/// A turn done: the agent back, its turn (`None`: the language core or a
/// tool panicked; for a poll, also nothing to tell) and the compute time,
/// ms.
pub(crate) struct Thought {
    pub(crate) agent: Agent,
    /// Who was heard (`None`: a poll).
    pub(crate) source: Option<Source>,
    pub(crate) turn: Option<AgentTurn>,
    pub(crate) ms: f64,
}

/// The worker.
pub(crate) struct Thinking {
    requests: Sender<Ask>,
    results: Receiver<Thought>,
}

impl Thinking {
    /// A worker timing turns on `stopwatch`.
    pub(crate) fn start(stopwatch: Arc<dyn Clock>) -> Result<Thinking> {
        let (requests, rx) = channel::<Ask>();
        let (tx, results) = channel::<Thought>();
        std::thread::Builder::new()
            .name("ainima-agent".into())
            .spawn(move || {
                for mut ask in rx {
                    let t0 = stopwatch.now();
                    let turn = catch_unwind(AssertUnwindSafe(|| match &ask.heard {
                        Some((text, source)) => {
                            Some(ask.agent.hear(text, *source, ask.now, ask.now_ms))
                        }
                        None => ask.agent.poll(ask.now, ask.now_ms),
                    }))
                    .ok()
                    .flatten();
                    let ms = stopwatch.now().saturating_sub(t0).as_secs_f64() * 1000.0;
                    let thought = Thought {
                        agent: ask.agent,
                        source: ask.heard.map(|(_, s)| s),
                        turn,
                        ms,
                    };
                    if tx.send(thought).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| crate::Error::Inference(format!("the agent's worker: {e}")))?;
        Ok(Thinking { requests, results })
    }

    /// Hands the agent over; gives all back if the worker is gone.
    pub(crate) fn ask(&self, ask: Ask) -> std::result::Result<(), Box<Ask>> {
        self.requests.send(ask).map_err(|e| Box::new(e.0))
    }

    /// The turn, once done. `Err` when the worker is gone with the agent
    /// (it never is: a panic in a turn is caught there).
    pub(crate) fn take(&self) -> std::result::Result<Option<Thought>, ()> {
        match self.results.try_recv() {
            Ok(t) => Ok(Some(t)),
            Err(TryRecvError::Empty) => Ok(None),
            Err(TryRecvError::Disconnected) => Err(()),
        }
    }
}
