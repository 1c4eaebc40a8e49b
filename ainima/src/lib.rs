//! Ainima's aural runtime. Today: speech to text, with Whisper on candle
//! (model code of our own: a trimmed encoder context and a key-value cache),
//! CTranslate2 import, and a model store. The full-duplex session follows.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
pub mod store;
pub mod stt;

pub use error::{Error, Result};
