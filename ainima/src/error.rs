//! The one error type of this crate. Each variant says what the caller should do.

use std::path::PathBuf;

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, phrased by what the caller should do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read or written: check the path and permissions.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The model files are damaged or of a kind this engine does not load:
    /// import the model again, or use another.
    #[error("bad model: {0}")]
    BadModel(String),
    /// No model of that name is installed: `ainima models list`, then import or pull one.
    #[error("no model named {0:?} is installed (see `ainima models list`)")]
    NoSuchModel(String),
    /// The audio cannot be transcribed as given: fix the input.
    #[error(transparent)]
    Audio(#[from] ainima_audio::Error),
    /// The speech synthesiser could not speak: check that its voice data is
    /// installed (`apt-get install espeak-ng-data`) and the voice name.
    #[error("text to speech: {0}")]
    Speech(String),
    /// A setting or skill file is wrong: fix what the message names.
    #[error("configuration: {0}")]
    Config(String),
    /// The model could not run (inputs it cannot take, a bug, an exhausted
    /// machine): retry, report.
    #[error("inference failed: {0}")]
    Inference(String),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
