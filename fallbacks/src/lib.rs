//! Ainima's deterministic language core: what always works, offline and
//! instantly. Today: the slot value parsers, which turn the words speech
//! recognition produces ("twenty five", "an hour and a half", "21st") into
//! values. Templates, rules and replies build on them.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod date;
pub mod names;
pub mod values;
