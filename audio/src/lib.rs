//! Ainima's ears.
//!
//! Everything between a microphone (or a file, or a simulated room) and the
//! words a recogniser will read: decoding, downmixing and resampling to
//! [`SAMPLE_RATE`] mono `f32`, framing, voice activity detection, the
//! endpointer that turns voiced frames into utterances, the echo canceller
//! that keeps the assistant from hearing itself, the features later stages
//! need, and the duplex devices audio comes from and goes to.
//!
//! Invariants:
//! - Every stage is deterministic: the same samples and `Config` give the same
//!   output, bit for bit. Time is a sample count, never a wall clock.
//! - Nothing here reads environment variables or the command line.
//! - Real-time callbacks (see [`device`]) only move samples through
//!   pre-allocated SPSC rings: no allocation, lock, log or I/O.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod aec;
pub mod clock;
pub mod decode;
pub mod device;
pub mod endpoint;
mod error;
pub mod features;
pub mod frame;
pub mod frontend;
pub mod resample;
pub mod ring;
pub mod room;
pub mod vad;

pub use error::{Error, Result};
pub use frame::{FrameSize, SAMPLE_RATE};
