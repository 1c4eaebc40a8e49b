//! The language core's one error type. Each variant says what the caller
//! should do about it.

use std::path::PathBuf;

/// What went wrong loading templates, lists, replies or example data.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A skill or data file is malformed: fix it at the place given.
    #[error("{file}:{line}:{column}: {message}")]
    Invalid {
        /// The file (or the name a string was loaded under).
        file: String,
        /// Line, 1-based.
        line: usize,
        /// Column in characters, 1-based.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A file or folder could not be read: check the path and permissions.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The path.
        path: PathBuf,
        /// The system's reason.
        source: std::io::Error,
    },
    /// Example data (SNIPS) is not in the expected shape: use the benchmark's
    /// own files.
    #[error("{}: {message}", path.display())]
    Examples {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// A place in a source file, for errors and explanations.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin {
    /// The file (or the name a string was loaded under).
    pub file: std::sync::Arc<str>,
    /// Line, 1-based.
    pub line: usize,
    /// Column in characters, 1-based.
    pub column: usize,
}

impl Origin {
    /// The place of byte `offset` in `src`.
    pub fn at(file: &std::sync::Arc<str>, src: &str, offset: usize) -> Origin {
        let offset = offset.min(src.len());
        let before = src.get(..offset).unwrap_or(src);
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        Origin {
            file: file.clone(),
            line,
            column,
        }
    }

    /// The place `columns` characters further along the same line.
    pub fn shifted(&self, columns: usize) -> Origin {
        Origin {
            column: self.column + columns,
            ..self.clone()
        }
    }

    /// An [`Error::Invalid`] at this place.
    pub fn error(&self, message: impl Into<String>) -> Error {
        Error::Invalid {
            file: self.file.to_string(),
            line: self.line,
            column: self.column,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}
