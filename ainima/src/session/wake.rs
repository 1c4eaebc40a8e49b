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

/// Where in `audio` (whose first sample is `first`) the words after a wake
/// word detected at `at` begin: the latest of the quietest 20 ms frames
/// (within a quarter more than the quietest's energy) between 550 ms before and 150 ms
/// after it: the gap between the phrase and the request, or the dip
/// between two words said in one breath. The detector fires 50 to 500 ms
/// after the phrase; a cut inside a word makes the recogniser guess.
pub(crate) fn request_start(audio: &[f32], first: u64, at: u64) -> u64 {
    const FRAME: u64 = 320;
    let lo = at.saturating_sub(8_800).max(first);
    let hi = (at + 2_400).min(first + audio.len() as u64);
    let mut frames = Vec::new();
    let mut s = lo;
    while s + FRAME <= hi {
        let i = (s - first) as usize;
        let e: f32 = audio[i..i + FRAME as usize].iter().map(|v| v * v).sum();
        frames.push((e, s + FRAME / 2));
        s += FRAME / 2;
    }
    let quietest = frames.iter().map(|f| f.0).fold(f32::MAX, f32::min);
    frames
        .iter()
        .rev()
        .find(|f| f.0 <= 1.25 * quietest + 1e-9)
        .map_or(at.clamp(first, first + audio.len() as u64), |f| f.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_starts_in_the_gap_after_the_phrase() {
        // Loud, a 60 ms gap at 0.8 s, loud again; detected at 0.9 s.
        let mut x: Vec<f32> = (0..32_000)
            .map(|i| ((i as f32) * 0.3).sin() * 0.5)
            .collect();
        x[12_800..13_760].fill(0.0);
        let at = request_start(&x, 16_000, 16_000 + 14_400);
        assert!((16_000 + 12_800..=16_000 + 13_760).contains(&at), "{at}");
        // The gap 450 ms before it, with louder speech around: still found.
        let at = request_start(&x, 16_000, 16_000 + 13_760 + 7_200);
        assert!((16_000 + 12_800..=16_000 + 13_760).contains(&at), "{at}");
        // Flat sound: the latest frame searched.
        let y = vec![0.5f32; 16_000];
        let at = request_start(&y, 0, 8_000);
        assert!((10_000..=10_400).contains(&at), "{at}");
    }
}
