//! Ainima's deterministic language core: what always works, offline and
//! instantly. Today: the slot value parsers, which turn the words speech
//! recognition produces ("twenty five", "an hour and a half", "21st") into
//! values. Templates, rules and replies build on them.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod builtin;
pub mod catalog;
pub mod date;
pub mod error;
pub mod ha;
pub mod matcher;
pub mod names;
pub mod replies;
pub mod sample;
pub mod snips;
pub mod spoken;
pub mod template;
pub mod text;
pub mod values;
pub mod words;

pub use catalog::Catalog;
pub use error::{Error, Origin};
pub use matcher::{Context, Matcher, NearReading, Parse, Slot, Value};

/// The files of a folder that `keep` accepts, in name order (skill files,
/// example files).
pub(crate) fn files_in(
    dir: &std::path::Path,
    keep: impl Fn(&std::path::Path) -> bool,
) -> Result<Vec<std::path::PathBuf>, Error> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map_err(|source| Error::Read {
            path: dir.to_path_buf(),
            source,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| keep(p))
        .collect();
    paths.sort();
    Ok(paths)
}
