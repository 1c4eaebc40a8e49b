//! The front end as one piece: microphone and reference in, echo cancelled,
//! endpointed speech out. What a session runs on every captured block.

use crate::aec::{AecConfig, BLOCK, EchoCanceller};
use crate::endpoint::{Config, EndpointEvent, Segmenter};
use crate::{Error, Result};

/// Echo canceller (optional) feeding VAD and endpointer.
#[derive(Debug)]
pub struct FrontEnd {
    aec: Option<EchoCanceller>,
    segmenter: Segmenter,
    clean: Vec<f32>,
    /// The last [`RESTORE_BLOCKS`] blocks before residual echo suppression,
    /// oldest first.
    linear: Vec<f32>,
    /// Double talk in the last block.
    double_talk: bool,
}

/// Blocks of suppressed audio given back when double talk is detected (a
/// talker's onset precedes its detection; 80 ms).
pub const RESTORE_BLOCKS: usize = 8;

impl FrontEnd {
    /// With an echo canceller when `aec` is given.
    pub fn new(endpointer: Config, aec: Option<AecConfig>) -> Result<Self> {
        Ok(FrontEnd {
            aec: aec.map(EchoCanceller::new).transpose()?,
            segmenter: Segmenter::new(endpointer)?,
            clean: vec![0.0; BLOCK * 48],
            linear: vec![0.0; BLOCK * RESTORE_BLOCKS],
            double_talk: false,
        })
    }

    /// The echo canceller, if any.
    pub fn aec(&self) -> Option<&EchoCanceller> {
        self.aec.as_ref()
    }

    /// Mutable access to the echo canceller, if any.
    pub fn aec_mut(&mut self) -> Option<&mut EchoCanceller> {
        self.aec.as_mut()
    }

    /// Starts the echo canceller afresh (a new device: another echo path).
    pub fn reset_echo(&mut self) -> Result<()> {
        if let Some(aec) = self.aec.as_mut() {
            *aec = EchoCanceller::new(aec.config().clone())?;
        }
        Ok(())
    }

    /// The segmenter.
    pub fn segmenter(&self) -> &Segmenter {
        &self.segmenter
    }

    /// Mutable access to the segmenter (to end or hold an utterance by its
    /// meaning).
    pub fn segmenter_mut(&mut self) -> &mut Segmenter {
        &mut self.segmenter
    }

    /// One block: `mic` and `reference` of equal length, a multiple of
    /// [`BLOCK`] (at most 480 ms). `clean` receives the echo-cancelled audio
    /// when given.
    pub fn process(
        &mut self,
        mic: &[f32],
        reference: &[f32],
        sink: &mut impl FnMut(EndpointEvent),
    ) -> Result<&[f32]> {
        let n = mic.len();
        if n > self.clean.len() {
            return Err(Error::config(format!(
                "front-end blocks of at most {} samples",
                self.clean.len()
            )));
        }
        if mic.len() != reference.len() || !n.is_multiple_of(BLOCK) {
            return Err(Error::config(format!(
                "front-end blocks: mic {n} and reference {} samples: must be equal multiples of {BLOCK}",
                reference.len()
            )));
        }
        for at in (0..n).step_by(BLOCK) {
            let block = at..at + BLOCK;
            // While only the far end talks, nothing heard is the user: the
            // canceller vetoes the VAD until it detects double talk.
            let (allowed, room) = match self.aec.as_mut() {
                Some(aec) => {
                    aec.process(
                        &mic[block.clone()],
                        &reference[block.clone()],
                        &mut self.clean[block.clone()],
                    )?;
                    let s = aec.last_block();
                    // A talker detected now began a little earlier, while
                    // the suppressor still held them down: give the
                    // endpointer (and so the recogniser) their onset back.
                    if s.double_talk && !self.double_talk {
                        self.segmenter.restore_recent(&self.linear);
                    }
                    self.double_talk = s.double_talk;
                    self.linear.copy_within(BLOCK.., 0);
                    let n = self.linear.len();
                    self.linear[n - BLOCK..].copy_from_slice(aec.last_linear());
                    (!s.far_end_active || s.double_talk, !s.far_end_active)
                }
                None => {
                    self.clean[block.clone()].copy_from_slice(&mic[block.clone()]);
                    crate::frame::sanitize(&mut self.clean[block.clone()]);
                    (true, true)
                }
            };
            // The canceller's output while the far end plays is not the
            // room: it leaves the room's noise floor as it was.
            self.segmenter
                .push_gated(&self.clean[block], allowed, room, sink)?;
        }
        Ok(&self.clean[..n])
    }

    /// End of stream.
    pub fn finish(&mut self, sink: &mut impl FnMut(EndpointEvent)) -> Result<()> {
        self.segmenter.finish(sink)
    }
}
