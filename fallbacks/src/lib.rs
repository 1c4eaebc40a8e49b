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
pub mod matcher;
pub mod names;
pub mod replies;
pub mod snips;
pub mod template;
pub mod text;
pub mod values;

pub use catalog::Catalog;
pub use error::{Error, Origin};
pub use matcher::{Context, Matcher, Parse, Slot, Value};
