//! Duplex audio devices: where the microphone's samples come from and the
//! assistant's speech goes. Every backend speaks 16 kHz mono `f32` at this
//! boundary and reports, beside each block of microphone audio, the
//! reference: what its speaker emitted over the same period, which the echo
//! canceller subtracts.
//!
//! Backends: [`file::FileDevice`] (a file in, a file out), [`crate::room::SimRoom`]
//! (a simulated room on a simulated clock) and, with the `native` feature,
//! [`cpal::CpalDevice`] (live devices; tests drive it through cpal's custom host).

#[cfg(feature = "native")]
pub mod cpal;
pub mod file;

use crate::Result;

/// What a device is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// A human name.
    pub name: String,
    /// The input's own rate and channels, before conversion.
    pub input_rate: u32,
    /// Input channels.
    pub input_channels: u16,
    /// The output's own rate.
    pub output_rate: u32,
    /// Output channels.
    pub output_channels: u16,
}

/// A microphone and a speaker together, at 16 kHz mono.
pub trait DuplexDevice {
    /// Fill `mic` with the next block of microphone audio and `reference`
    /// (same length) with what the speaker emitted over that block. Blocks a
    /// live device until the block is complete. Returns the samples written:
    /// `mic.len()`, or fewer once at the end of a finite stream (the rest is
    /// zero); after that, [`crate::Error::EndOfStream`].
    fn capture(&mut self, mic: &mut [f32], reference: &mut [f32]) -> Result<usize>;

    /// Queue speech for the speaker. Never blocks.
    fn play(&mut self, samples: &[f32]) -> Result<()>;

    /// Drop everything queued and not yet played (barge-in). Returns how many
    /// samples were dropped.
    fn stop_playback(&mut self) -> usize;

    /// Samples queued and not yet played.
    fn pending_playback(&self) -> usize;

    /// What the device is.
    fn info(&self) -> DeviceInfo;
}

/// What simulated and file devices have queued for their speaker (not for
/// real-time callbacks: the live device uses a ring).
#[derive(Debug, Default, Clone)]
pub struct PlaybackQueue(std::collections::VecDeque<f32>);

impl PlaybackQueue {
    /// Queue samples; non-finite ones become silence.
    pub fn push(&mut self, samples: &[f32]) {
        self.0
            .extend(samples.iter().map(|&s| if s.is_finite() { s } else { 0.0 }));
    }

    /// The next sample the speaker emits (silence when nothing is queued).
    pub fn next_sample(&mut self) -> f32 {
        self.0.pop_front().unwrap_or(0.0)
    }

    /// Drop everything; how many samples were dropped.
    pub fn clear(&mut self) -> usize {
        let n = self.0.len();
        self.0.clear();
        n
    }

    /// Samples queued.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}
