//! Ainima's symbolic reasoning over the language core: a forward-chaining
//! rule engine whose rules are data, and the dialogue state machine that
//! runs multi-turn flows (slot filling, confirmation, correction, cancel,
//! repeat) with the built-in skills; and the neural half, a joint intent and
//! slot model trained with burn ([`nlu`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod arbitrate;
pub mod dialogue;
pub mod draws;
mod model_file;
pub mod nlu;
pub mod rules;
pub mod skills;
pub mod turn_end;
pub mod wake;

pub use dialogue::{Assistant, Turn};
pub use skills::Now;

/// What went wrong; each variant says what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A skill file is malformed (templates, lists or rules): fix it at the
    /// place given.
    #[error(transparent)]
    Skill(#[from] ainima_fallbacks::Error),
    /// Rules keep enabling each other: make one of them stop matching once
    /// it has fired (for example by testing the fact it sets).
    #[error(
        "rules fired more than {} times; `{rule}` was about to fire again",
        rules::MAX_FIRINGS
    )]
    RuleLoop {
        /// The rule about to fire.
        rule: String,
    },
}
