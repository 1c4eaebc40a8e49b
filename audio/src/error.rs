//! The one error type of this crate. Each variant says what the caller can do.

use std::path::PathBuf;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, phrased by what the caller should do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be opened or read: check the path and permissions.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not audio this crate understands, or are damaged:
    /// re-encode the file (16-bit PCM WAV is always safe).
    #[error("{0}")]
    Malformed(String),
    /// The audio is well-formed but outside what Ainima accepts (a rate, a
    /// channel count, a length): convert it, or raise the limit.
    #[error("{0}")]
    Unsupported(String),
    /// A configuration value is out of range: fix the value named.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// An audio device failed or went away: pick another device or retry.
    #[error("audio device: {0}")]
    Device(String),
    /// The stream has ended: there is no more audio to read.
    #[error("end of stream")]
    EndOfStream,
}

impl Error {
    pub(crate) fn malformed(msg: impl Into<String>) -> Self {
        Error::Malformed(msg.into())
    }
    pub(crate) fn unsupported(msg: impl Into<String>) -> Self {
        Error::Unsupported(msg.into())
    }
    pub(crate) fn config(msg: impl Into<String>) -> Self {
        Error::Config(msg.into())
    }
}
