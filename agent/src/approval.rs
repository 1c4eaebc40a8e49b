//! Approval: a policy per tool (auto, confirm, deny; by default anything
//! destructive or open-world asks), and approval requests that are typed,
//! serialisable, single-use and expiring. Only the user can answer: the
//! assistant's own voice (its "yes" heard through the speaker) never counts,
//! an expired request is denied, an approval is spent by the one call it
//! was given for, and only with the arguments that were shown.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::tools::Annotations;
use crate::{Error, Result};

/// What a tool needs before it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Runs without asking.
    Auto,
    /// Runs after the user says yes.
    Confirm,
    /// Never runs.
    Deny,
}

/// The default policy from a tool's annotations: read-only tools run; the
/// destructive and the open-world ask; the rest run.
pub fn default_policy(a: &Annotations) -> Policy {
    if a.read_only_hint && !a.open_world_hint {
        Policy::Auto
    } else if a.destructive_hint || a.open_world_hint {
        Policy::Confirm
    } else {
        Policy::Auto
    }
}

/// Where an answer came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The user's voice (the echo canceller and the session tell it from the
    /// assistant's own).
    UserVoice,
    /// The assistant's own voice, heard back: never an answer.
    AssistantVoice,
    /// The command line (`ainima approvals`).
    Cli,
    /// The user typing to the assistant (`ainima chat`).
    Typed,
    /// The local endpoint (an app's approval UI).
    Endpoint,
}

/// A request for approval: what would run, in words and exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApprovalRequest {
    /// Unique, never reused.
    pub id: String,
    /// The tool.
    pub tool: String,
    /// The arguments shown.
    pub args: Value,
    /// SHA-256 of the arguments as canonical JSON: the call must match it.
    pub digest: String,
    /// The sentence put to the user ("Send 'I'm late' to Mom?").
    pub sentence: String,
    /// When it was asked, ms on the caller's clock.
    pub created_ms: u64,
    /// When it lapses (denied), ms on the caller's clock.
    pub expires_ms: u64,
}

/// An answer, as understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Approve (all of them).
    Yes,
    /// Refuse (all of them).
    No,
    /// Approve only these (0-based positions among the requests asked
    /// about together), refuse the rest: "only the first one".
    Only(Vec<usize>),
    /// Neither: ask again.
    Unclear,
}

const YES: &[&str] = &[
    "yes",
    "yeah",
    "yep",
    "yup",
    "sure",
    "ok",
    "okay",
    "approve",
    "approved",
    "confirm",
    "affirmative",
    "ahead",
];
const NO: &[&str] = &[
    "no", "nope", "nah", "not", "don't", "dont", "deny", "denied", "cancel", "stop", "never",
    "refuse", "negative",
];

/// Understands a spoken or typed answer. Words of both kinds ("yes, no,
/// wait") or of neither are unclear; "only the first one", "just the
/// second", "the first and third" select among several requests.
pub fn interpret(text: &str) -> Answer {
    let words = ainima_fallbacks::text::words(text);
    let mut picks = Vec::new();
    let mut i = 0;
    while i < words.len() {
        if let Some((n, used)) = ainima_fallbacks::values::ordinal(&words[i..]) {
            if n >= 1 {
                picks.push(n as usize - 1);
            }
            i += used.max(1);
        } else {
            i += 1;
        }
    }
    let selective = words.iter().any(|w| w == "only" || w == "just") || !picks.is_empty();
    let yes = words.iter().any(|w| YES.contains(&w.as_str()));
    let no = words.iter().any(|w| NO.contains(&w.as_str()));
    if selective
        && !picks.is_empty()
        && !(no && !yes && words.iter().all(|w| w != "only" && w != "just"))
    {
        picks.sort_unstable();
        picks.dedup();
        return Answer::Only(picks);
    }
    match (yes, no) {
        (true, false) => Answer::Yes,
        (false, true) => Answer::No,
        _ => Answer::Unclear,
    }
}

/// What an answer did to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Approved: one call with these arguments may run.
    Approved,
    /// Refused: it will not run.
    Denied,
    /// Not understood: still pending, ask again.
    AskAgain,
}

/// SHA-256 of a value as canonical JSON (keys sorted), hex.
pub fn digest(v: &Value) -> String {
    hex::encode(Sha256::digest(
        serde_json::to_string(v).unwrap_or_default().as_bytes(),
    ))
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Waiting for an answer.
    Pending,
    /// Approved, not yet spent.
    Granted,
    /// Denied, expired, withdrawn or spent.
    Closed,
    /// Never asked here.
    Unknown,
}

/// How long a request waits for its answer by default: a minute.
pub const DEFAULT_TTL_MS: u64 = 60_000;

/// The requests of a session, on its clock.
#[derive(Debug, Clone)]
pub struct Approvals {
    ttl_ms: u64,
    next: u64,
    pending: BTreeMap<String, ApprovalRequest>,
    granted: BTreeMap<String, ApprovalRequest>,
    closed: BTreeSet<String>,
}

impl Default for Approvals {
    fn default() -> Approvals {
        Approvals::new(DEFAULT_TTL_MS)
    }
}

impl Approvals {
    /// Requests lapse `ttl_ms` after they are asked.
    pub fn new(ttl_ms: u64) -> Approvals {
        Approvals {
            ttl_ms,
            next: 0,
            pending: BTreeMap::new(),
            granted: BTreeMap::new(),
            closed: BTreeSet::new(),
        }
    }

    /// Asks for approval of `tool` with `args`.
    pub fn request(
        &mut self,
        tool: &str,
        args: &Value,
        sentence: &str,
        now_ms: u64,
    ) -> ApprovalRequest {
        self.next += 1;
        let r = ApprovalRequest {
            id: format!("apr-{:06}", self.next),
            tool: tool.to_string(),
            args: args.clone(),
            digest: digest(args),
            sentence: sentence.to_string(),
            created_ms: now_ms,
            expires_ms: now_ms.saturating_add(self.ttl_ms),
        };
        self.pending.insert(r.id.clone(), r.clone());
        r
    }

    /// Requests still waiting for an answer.
    pub fn pending(&self) -> impl Iterator<Item = &ApprovalRequest> {
        self.pending.values()
    }

    /// Denies every request past its expiry; returns them.
    pub fn expire(&mut self, now_ms: u64) -> Vec<ApprovalRequest> {
        let lapsed: Vec<String> = self
            .pending
            .values()
            .chain(self.granted.values())
            .filter(|r| now_ms >= r.expires_ms)
            .map(|r| r.id.clone())
            .collect();
        let mut out = Vec::new();
        for id in lapsed {
            if let Some(r) = self
                .pending
                .remove(&id)
                .or_else(|| self.granted.remove(&id))
            {
                self.closed.insert(id);
                out.push(r);
            }
        }
        out
    }

    /// Answers the requests `ids` (asked together, in this order).
    pub fn answer(
        &mut self,
        ids: &[&str],
        answer: &Answer,
        from: Source,
        now_ms: u64,
    ) -> Result<Vec<Decision>> {
        if from == Source::AssistantVoice {
            return Err(Error::NotApproved(
                "the assistant's own voice cannot answer".into(),
            ));
        }
        self.expire(now_ms);
        for id in ids {
            if !self.pending.contains_key(*id) {
                let why = if self.closed.contains(*id) || self.granted.contains_key(*id) {
                    "was answered already or has expired"
                } else {
                    "is not a request"
                };
                return Err(Error::NotApproved(format!("{id} {why}")));
            }
        }
        let mut out = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let approve = match answer {
                Answer::Yes => Some(true),
                Answer::No => Some(false),
                Answer::Only(picks) => Some(picks.contains(&i)),
                Answer::Unclear => None,
            };
            match approve {
                None => out.push(Decision::AskAgain),
                Some(true) => {
                    if let Some(r) = self.pending.remove(*id) {
                        self.granted.insert(r.id.clone(), r);
                    }
                    out.push(Decision::Approved);
                }
                Some(false) => {
                    self.pending.remove(*id);
                    self.closed.insert(id.to_string());
                    out.push(Decision::Denied);
                }
            }
        }
        Ok(out)
    }

    /// Where the request `id` stands.
    pub fn status(&self, id: &str) -> Status {
        if self.pending.contains_key(id) {
            Status::Pending
        } else if self.granted.contains_key(id) {
            Status::Granted
        } else if self.closed.contains(id) {
            Status::Closed
        } else {
            Status::Unknown
        }
    }

    /// Withdraws a request nobody answered (the conversation moved on):
    /// it can no longer be approved.
    pub fn withdraw(&mut self, id: &str) {
        if self.pending.remove(id).is_some() || self.granted.remove(id).is_some() {
            self.closed.insert(id.to_string());
        }
    }

    /// Spends the approval `id` on a call of `tool` with `args`: it must be
    /// approved, unexpired, unspent, for this tool and these exact arguments.
    pub fn authorize(&mut self, id: &str, tool: &str, args: &Value, now_ms: u64) -> Result<()> {
        self.expire(now_ms);
        let Some(r) = self.granted.get(id) else {
            return Err(Error::NotApproved(format!(
                "{id} is not an unspent approval"
            )));
        };
        if r.tool != tool {
            return Err(Error::NotApproved(format!(
                "{id} approved {}, not {tool}",
                r.tool
            )));
        }
        if r.digest != digest(args) {
            return Err(Error::NotApproved(format!(
                "{id}: the arguments changed after approval"
            )));
        }
        self.granted.remove(id);
        self.closed.insert(id.to_string());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_people_give() {
        let check = |t: &str, a: Answer| assert_eq!(interpret(t), a, "{t:?}");
        check("yes", Answer::Yes);
        check("Yeah, do it.", Answer::Yes);
        check("no", Answer::No);
        check("don't", Answer::No);
        check("no thanks", Answer::No);
        check("only the first one", Answer::Only(vec![0]));
        check("just the second", Answer::Only(vec![1]));
        check("the first and the third, please", Answer::Only(vec![0, 2]));
        check("yes no wait", Answer::Unclear);
        check("hmm", Answer::Unclear);
        check("", Answer::Unclear);
    }
}
