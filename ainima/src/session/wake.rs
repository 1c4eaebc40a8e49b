//! Being addressed. With a wake word, speech counts only when it is said
//! to the assistant: it begins within a few seconds after the phrase (or
//! has the phrase in it, when the words before it are cut away), it is
//! spoken over the assistant or while it works, or it follows a question
//! the assistant asked a moment ago. Everything else is heard and let go.

use std::sync::Arc;

use ainima_neurosymbolic::wake::{Detection, Detector, Wake};

use crate::Result;

/// How a session knows speech is meant for it.
#[derive(Debug, Clone, Default)]
pub enum Activation {
    /// Everything heard is (the default).
    #[default]
    Always,
    /// After the wake word.
    Wake(Arc<Wake>),
    /// After [`super::Session::push_to_talk`].
    PushToTalk,
}

/// The wake word's state in a session.
#[derive(Debug)]
pub(crate) struct Gate {
    /// `None`: push to talk.
    detector: Option<Detector>,
    found: Vec<Detection>,
    /// Speech that begins before this sample is addressed.
    pub(crate) until: u64,
    /// Where the phrase ended inside the speech going on: the request
    /// begins there.
    pub(crate) cut: Option<u64>,
    /// Where the assistant last finished speaking (`None` before it has:
    /// a question restored from before the session is no follow-up).
    pub(crate) spoke_at: Option<u64>,
    /// The speech going on was not addressed when it began: no turn yet.
    pub(crate) unheard: bool,
    /// Where the phrase was last detected.
    pub(crate) detected: Option<u64>,
    /// The phrase was heard inside speech while the assistant worked: the
    /// turn begins when the speech ends with words after it.
    pub(crate) late_onset: bool,
    /// The session's sample at which the detector heard its first.
    origin: u64,
}

impl Gate {
    /// Listens for `wake`'s phrase, or (`None`) waits for a push to talk,
    /// from the session's sample `origin` on.
    pub(crate) fn new(wake: Option<Arc<Wake>>, origin: u64) -> Result<Gate> {
        Ok(Gate {
            detector: wake
                .map(Detector::new)
                .transpose()
                .map_err(|e| crate::Error::Inference(e.to_string()))?,
            found: Vec::with_capacity(4),
            until: 0,
            cut: None,
            spoke_at: None,
            unheard: false,
            detected: None,
            late_onset: false,
            origin,
        })
    }

    /// Hears a block of the echo-cancelled audio.
    pub(crate) fn hear(&mut self, clean: &[f32]) {
        if let Some(d) = self.detector.as_mut() {
            d.push(clean, &mut self.found);
        }
    }

    /// The detections since the last call, at the session's samples.
    pub(crate) fn take(&mut self) -> Vec<Detection> {
        let mut found = std::mem::take(&mut self.found);
        for d in &mut found {
            d.at += self.origin;
        }
        found
    }
}
