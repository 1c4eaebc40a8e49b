//! TTDD: Turing-test regression suites of spoken dialogues. A scenario
//! ([`scenario`]) says who speaks, what and when, in what room, and what
//! must happen; the runner ([`runner`]) says the user's side into the
//! simulated room while the real session runs on the simulated clock; the
//! metrics ([`metrics`]) set the conversation against human ones; the
//! reports ([`report`]) are JSON, JUnit XML and a self-contained HTML page.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod drive;
pub mod explore;
pub mod metrics;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod suite;

/// What went wrong; each variant says what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A scenario file is malformed: fix it at the place named.
    #[error("{file}:{line}:{column}: {message}")]
    Scenario {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A file could not be read or written: check the path.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The system's reason.
        message: String,
    },
    /// The session failed to run: see the message (a missing model, audio).
    #[error(transparent)]
    Session(#[from] ainima::Error),
    /// An option is wrong (a shard of 3/2): fix the command line.
    #[error("{0}")]
    Usage(String),
}

impl From<ainima_audio::Error> for Error {
    fn from(e: ainima_audio::Error) -> Error {
        Error::Session(e.into())
    }
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, Error>;
