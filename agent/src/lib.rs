//! Ainima's agent: what makes it act, and never without say-so.
//!
//! - [`tools`]: a registry of functions with JSON Schema parameters and MCP
//!   style annotations; arguments are checked ([`schema`]) before any call.
//! - [`approval`]: per-tool policies and single-use approval requests that
//!   only the user can grant, before they expire, for exactly the arguments
//!   shown.
//! - [`audit`]: an append-only, hash-chained log of every proposal,
//!   decision, call and result, with `verify` naming the first bad record.
//! - [`outbox`]: approved external actions in an embedded database (redb),
//!   delivered with retries, backoff and an idempotency key, so a retry is
//!   never a second action.
//! - [`webhook`]: delivery over HTTP with an HMAC-SHA256 signature, refusing
//!   private and loopback addresses unless allowed.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod agent;
pub mod approval;
pub mod audit;
pub mod binding;
pub mod builtin;
#[cfg(not(target_arch = "wasm32"))]
pub mod endpoint;
pub mod hid;
pub mod home;
#[cfg(not(target_arch = "wasm32"))]
pub mod http;
#[cfg(not(target_arch = "wasm32"))]
pub mod mcp;
#[cfg(not(target_arch = "wasm32"))]
pub mod net;
pub mod outbox;
pub mod schema;
pub mod serial;
pub mod shared;
pub mod tools;
#[cfg(not(target_arch = "wasm32"))]
pub mod webhook;

/// What went wrong; each variant says what to do about it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No tool of this name: check the name or register the tool.
    #[error("no tool named `{0}`")]
    NoSuchTool(String),
    /// A tool of this name exists already: pick another name.
    #[error("a tool named `{0}` is registered already")]
    DuplicateTool(String),
    /// The arguments do not fit the tool's schema: ask the user for the
    /// value named, never call.
    #[error("{tool}: argument {path}: {message}")]
    BadArgument {
        /// The tool.
        tool: String,
        /// Where in the arguments (`/duration`, `/items/2`).
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The tool ran and failed: report it; retrying may help.
    #[error("{tool} failed: {message}")]
    ToolFailed {
        /// The tool.
        tool: String,
        /// Its message.
        message: String,
    },
    /// The call is not approved (denied, expired, already used, answered by
    /// the assistant itself, or for other arguments): ask again or give up.
    #[error("not approved: {0}")]
    NotApproved(String),
    /// The audit log is damaged at this record: restore it from a copy; do
    /// not append.
    #[error("audit log record {record}: {reason}")]
    Tampered {
        /// 1-based record (line) number.
        record: u64,
        /// What does not hold.
        reason: String,
    },
    /// A file or the database could not be used: check the path, disk and
    /// permissions.
    #[error("{what}: {message}")]
    Storage {
        /// The file or operation.
        what: String,
        /// The system's reason.
        message: String,
    },
    /// A delivery target was refused or failed.
    #[error("delivery to {target}: {message}")]
    Delivery {
        /// The URL or target.
        target: String,
        /// What happened.
        message: String,
        /// Whether trying again later may work (network down, 5xx), or not
        /// (refused address, 4xx).
        retryable: bool,
    },
    /// A skill binds an intent to a tool that cannot take what its slots
    /// give: fix the skill file at the place named.
    #[error("{at}: {message}")]
    Binding {
        /// `file:line:column` of the binding.
        at: String,
        /// What does not fit.
        message: String,
    },
    /// The local endpoint answered a call with an error: the message says
    /// what to fix (an unknown approval id, a missing parameter).
    #[error("the endpoint refused {method}: {message}")]
    Rpc {
        /// The method called.
        method: String,
        /// The endpoint's message.
        message: String,
    },
}

impl Error {
    pub(crate) fn storage(what: impl Into<String>, e: impl std::fmt::Display) -> Error {
        Error::Storage {
            what: what.into(),
            message: e.to_string(),
        }
    }
}

/// Results of this crate.
pub type Result<T> = std::result::Result<T, Error>;

#[allow(clippy::too_many_arguments)] // reason: the gate takes every piece it checks, explicitly
/// The one way a tool runs: its policy decides; a tool that needs approval
/// runs only by spending an approval granted for exactly this tool and
/// these arguments. Every step goes to the audit log when one is given.
/// [`admit`] then [`perform`].
pub fn execute(
    registry: &tools::Registry,
    approvals: &mut approval::Approvals,
    policy: approval::Policy,
    tool: &str,
    args: &serde_json::Value,
    approval_id: Option<&str>,
    now_ms: u64,
    mut audit: Option<&mut audit::AuditLog>,
) -> Result<serde_json::Value> {
    admit(
        registry,
        approvals,
        policy,
        tool,
        args,
        approval_id,
        now_ms,
        audit.as_deref_mut(),
    )?;
    perform(registry, tool, args, now_ms, audit)
}

fn logger<'a>(
    mut audit: Option<&'a mut audit::AuditLog>,
    now_ms: u64,
) -> impl FnMut(&str, serde_json::Value) -> Result<()> + 'a {
    move |kind, data| {
        if let Some(a) = audit.as_deref_mut() {
            a.append(kind, &data, now_ms)?;
        }
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)] // reason: the gate takes every piece it checks, explicitly
/// [`execute`]'s gate: the arguments checked, the policy applied, an
/// approval spent where one is needed; the call logged, or its refusal.
/// The approvals are needed only for this, not while the tool runs.
pub fn admit(
    registry: &tools::Registry,
    approvals: &mut approval::Approvals,
    policy: approval::Policy,
    tool: &str,
    args: &serde_json::Value,
    approval_id: Option<&str>,
    now_ms: u64,
    audit: Option<&mut audit::AuditLog>,
) -> Result<()> {
    let mut log = logger(audit, now_ms);
    registry.validate(tool, args)?;
    let gate = match policy {
        approval::Policy::Deny => Err(Error::NotApproved(format!("{tool} is never allowed"))),
        approval::Policy::Auto => Ok(()),
        approval::Policy::Confirm => match approval_id {
            Some(id) => approvals.authorize(id, tool, args, now_ms),
            None => Err(Error::NotApproved(format!("{tool} needs approval"))),
        },
    };
    if let Err(e) = gate {
        log(
            "refused",
            serde_json::json!({"tool": tool, "args": args, "approval": approval_id, "reason": e.to_string()}),
        )?;
        return Err(e);
    }
    log(
        "call",
        serde_json::json!({"tool": tool, "args": args, "approval": approval_id}),
    )
}

/// [`execute`]'s call, once [`admit`] let it through: the tool runs, its
/// result or failure is logged.
pub fn perform(
    registry: &tools::Registry,
    tool: &str,
    args: &serde_json::Value,
    now_ms: u64,
    audit: Option<&mut audit::AuditLog>,
) -> Result<serde_json::Value> {
    let mut log = logger(audit, now_ms);
    let out = registry.call(tool, args);
    match &out {
        Ok(v) => log("result", serde_json::json!({"tool": tool, "result": v}))?,
        Err(e) => log(
            "failure",
            serde_json::json!({"tool": tool, "error": e.to_string()}),
        )?,
    }
    out
}
