//! Ainima in the browser: the same code as the native binary, compiled to
//! WebAssembly for a page, as two modules built from this crate:
//!
//! - the assistant (feature `assistant`, the page's own thread):
//!   [`assistant::Ainima`] takes typed or recognised sentences and answers
//!   as `ainima chat --json` does, acting through the agent (the built-in
//!   tools, the simulated coffee machine and robot, and the page's own
//!   tools, every call gated by the agent's approvals), finds speech in
//!   audio files as `ainima segments --json` does, and runs the microphone
//!   through the same front end;
//! - the recogniser (feature `recognizer`, a Web Worker):
//!   [`recognizer::Recognizer`] is Whisper, as `ainima transcribe`.
//!
//! Two modules, so the page is ready to listen before Whisper's code and
//! weights have arrived, and a page without speech loads only the first.
//! Time comes from the page (`Date.now()`, passed in); nothing here reads a
//! clock. The page's files (`www/`) and how they are built are in
//! `scripts/build-web`.

#![warn(missing_docs)]

use wasm_bindgen::prelude::*;

#[cfg(feature = "assistant")]
pub mod assistant;
#[cfg(feature = "recognizer")]
pub mod recognizer;

/// Errors the page sees: what went wrong, in one sentence.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The skills, tools or configuration given are not valid: fix them.
    #[error("{0}")]
    Config(String),
    /// The audio could not be decoded or segmented: try another file.
    #[error("audio: {0}")]
    Audio(String),
    /// The speech model's files are not a model (or not whole): choose
    /// another, or fetch them again.
    #[error("the speech model: {0}")]
    Model(String),
    /// Recognition failed on this audio: the next utterance may do.
    #[error("recognition: {0}")]
    Recognition(String),
}

impl From<Error> for JsValue {
    fn from(e: Error) -> JsValue {
        js_sys::Error::new(&e.to_string()).into()
    }
}

pub(crate) fn config(e: impl std::fmt::Display) -> Error {
    Error::Config(e.to_string())
}

/// A thrown JS value in words.
#[cfg(feature = "assistant")]
pub(crate) fn describe(e: &JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        return String::from(err.message());
    }
    e.as_string().unwrap_or_else(|| format!("{e:?}"))
}

/// `[endpointer]`'s TOML, checked.
pub(crate) fn endpointer(toml_text: &str) -> Result<ainima_audio::endpoint::Config, Error> {
    let cfg: ainima_audio::endpoint::Config =
        toml::from_str(toml_text).map_err(|e| config(format!("endpointer: {e}")))?;
    cfg.validate().map_err(config)?;
    Ok(cfg)
}

/// Seconds, to the millisecond, as the native `segments` writes them.
#[cfg(feature = "assistant")]
pub(crate) fn seconds(sample: u64) -> f64 {
    (ainima_audio::frame::seconds(sample) * 1000.0).round() / 1000.0
}
