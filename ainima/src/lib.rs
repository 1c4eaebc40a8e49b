//! Ainima's aural runtime: speech to text (Whisper, model code of our own on
//! `ainima-kernels`), text to speech (espeak-ng in process), the model store, and the
//! full-duplex session.
// Unsafe code only in `tts::espeak`, the FFI to libespeak-ng.
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod error;
#[cfg(feature = "session")]
pub mod session;
#[cfg(all(feature = "session", not(target_arch = "wasm32")))]
pub mod store;
pub mod stt;
pub mod tts;

pub use error::{Error, Result};

/// The SHA-256 of `bytes` (an installed model's files, the kept encoding
/// of silence).
pub(crate) fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}
