//! What the agent shares with whoever answers for it at the same time: the
//! local endpoint natively, the page in the browser.

use std::sync::{Arc, Mutex};

use crate::approval::Approvals;
use crate::tools::{Registry, ToolSpec};

/// State the endpoint (or the page) shares with the agent.
#[derive(Clone, Default)]
pub struct Shared {
    /// The tools, app functions among them.
    pub registry: Arc<Mutex<Registry>>,
    /// Approval requests.
    pub approvals: Arc<Mutex<Approvals>>,
    /// The agent's clock, ms, for answers (set by the agent as time passes).
    pub now_ms: Arc<Mutex<u64>>,
    /// The tools apps registered here: the only ones an app may replace or
    /// remove (never the assistant's own, `message.send` and the like).
    pub app_tools: Arc<Mutex<std::collections::BTreeSet<String>>>,
    /// Checks an app's function against what the skills bind to it before
    /// it is registered (set by whoever knows the skills).
    pub check: Arc<Mutex<Option<ToolCheck>>>,
}

/// A check of a tool about to be registered: `Err` says why it is refused.
pub type ToolCheck = Arc<dyn Fn(&ToolSpec) -> std::result::Result<(), String> + Send + Sync>;

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}
