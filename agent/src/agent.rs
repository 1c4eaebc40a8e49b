//! The agent loop: an utterance goes through the language core (templates,
//! rules, the dialogue state machine); each action it settles on becomes a
//! tool call through [`crate::execute`], asking for approval where the
//! tool's policy says so, and every step goes to the audit log.
//!
//! Approval comes from the user only: an utterance marked as the
//! assistant's own voice changes nothing at all. When the dialogue itself
//! confirmed the action ("Send 'hi' to Mom. Shall I go ahead?" "Yes."),
//! that yes is the approval, bound to exactly the arguments confirmed;
//! otherwise the agent asks, and the next answer decides.

use std::collections::BTreeMap;

use ainima_neurosymbolic::skills::Action;
use ainima_neurosymbolic::{Assistant, Now, Turn};
use serde::Serialize;
use serde_json::{Value, json};

use crate::approval::{
    Answer, ApprovalRequest, Approvals, Decision, Policy, Source, default_policy, interpret,
};
use crate::audit::AuditLog;
use crate::tools::Registry;
use crate::{Error, execute};

/// What happened to one action.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CallOutcome {
    /// The tool.
    pub tool: String,
    /// Its arguments.
    pub args: Value,
    /// `done`, `failed`, `refused`, `awaiting approval`, `no connector`
    /// (an external action with no connector wired: nothing happened).
    pub status: String,
    /// The result or the reason.
    pub detail: Value,
}

/// One turn of the agent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentTurn {
    /// The language core's turn (absent for the assistant's own voice and
    /// for answers to the agent's own approval questions).
    pub dialogue: Option<Turn>,
    /// What the agent did with the actions.
    pub calls: Vec<CallOutcome>,
    /// What to say.
    pub reply: String,
}

/// The language core, the tools, approvals and the audit log together.
pub struct Agent {
    /// The dialogue.
    pub assistant: Assistant,
    /// The tools actions are run with.
    pub registry: Registry,
    /// Approval requests.
    pub approvals: Approvals,
    /// Policies that override the tools' defaults.
    pub policies: BTreeMap<String, Policy>,
    /// Where every step is recorded, if anywhere.
    pub audit: Option<AuditLog>,
    pending: Option<(ApprovalRequest, Action)>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("registry", &self.registry)
            .finish_non_exhaustive()
    }
}

fn args_of(a: &Action) -> Value {
    Value::Object(a.args.clone().into_iter().collect())
}

impl Agent {
    /// An agent over an assistant and its tools.
    pub fn new(assistant: Assistant, registry: Registry) -> Agent {
        Agent {
            assistant,
            registry,
            approvals: Approvals::default(),
            policies: BTreeMap::new(),
            audit: None,
            pending: None,
        }
    }

    /// The policy for a tool: an override, else the default from its
    /// annotations.
    pub fn policy(&self, tool: &str) -> Policy {
        self.policies
            .get(tool)
            .copied()
            .or_else(|| {
                self.registry
                    .spec(tool)
                    .map(|s| default_policy(&s.annotations))
            })
            .unwrap_or(Policy::Deny)
    }

    fn log(&mut self, kind: &str, data: Value, now_ms: u64) {
        if let Some(a) = self.audit.as_mut() {
            // A log that cannot be written stops nothing here; `verify` will
            // show the gap, and the session reports the error.
            let _ = a.append(kind, &data, now_ms);
        }
    }

    fn run(&mut self, action: &Action, approval: Option<&str>, now_ms: u64) -> CallOutcome {
        let args = args_of(action);
        let policy = self.policy(&action.tool);
        let out = execute(
            &self.registry,
            &mut self.approvals,
            policy,
            &action.tool,
            &args,
            approval,
            now_ms,
            self.audit.as_mut(),
        );
        let (status, detail) = match out {
            Ok(v) => ("done", v),
            Err(Error::ToolFailed { message, .. }) => ("failed", json!(message)),
            Err(e) => ("refused", json!(e.to_string())),
        };
        CallOutcome {
            tool: action.tool.clone(),
            args,
            status: status.into(),
            detail,
        }
    }

    /// One utterance from `source` at `now` (`now_ms` on the same clock).
    pub fn hear(&mut self, text: &str, source: Source, now: Now, now_ms: u64) -> AgentTurn {
        if source == Source::AssistantVoice {
            // Its own voice heard back: never an answer, never a request.
            self.log(
                "ignored",
                json!({"heard": text, "why": "the assistant's own voice"}),
                now_ms,
            );
            return AgentTurn {
                dialogue: None,
                calls: Vec::new(),
                reply: String::new(),
            };
        }
        for lapsed in self.approvals.expire(now_ms) {
            self.log(
                "denial",
                json!({"approval": lapsed.id, "tool": lapsed.tool, "why": "expired"}),
                now_ms,
            );
            if self
                .pending
                .as_ref()
                .is_some_and(|(r, _)| r.id == lapsed.id)
            {
                self.pending = None;
            }
        }
        if let Some((req, action)) = self.pending.take() {
            let answer = interpret(text);
            let decision = self.approvals.answer(&[&req.id], &answer, source, now_ms);
            match decision.as_deref() {
                Ok([Decision::Approved]) => {
                    self.log(
                        "approval",
                        json!({"approval": req.id, "tool": req.tool, "by": source}),
                        now_ms,
                    );
                    let call = self.run(&action, Some(&req.id), now_ms);
                    let reply = if call.status == "done" {
                        "Done.".to_string()
                    } else {
                        format!("That didn't work: {}", call.detail)
                    };
                    return AgentTurn {
                        dialogue: None,
                        calls: vec![call],
                        reply,
                    };
                }
                Ok([Decision::Denied]) => {
                    self.log(
                        "denial",
                        json!({"approval": req.id, "tool": req.tool, "by": source}),
                        now_ms,
                    );
                    return AgentTurn {
                        dialogue: None,
                        calls: Vec::new(),
                        reply: "OK, I won't.".into(),
                    };
                }
                Ok(_) if answer == Answer::Unclear => {
                    let reply = format!("{} Yes or no?", req.sentence);
                    self.pending = Some((req, action));
                    return AgentTurn {
                        dialogue: None,
                        calls: Vec::new(),
                        reply,
                    };
                }
                _ => {}
            }
        }
        let turn = self.assistant.hear(text, now);
        let confirmed_now = turn.intent.as_deref() == Some("yes");
        let mut calls = Vec::new();
        let mut reply = turn.reply.clone();
        for action in &turn.actions {
            let args = args_of(action);
            if self.registry.spec(&action.tool).is_none() {
                // Built in: the skills did it themselves; an external
                // action without a connector did not happen at all.
                let status = if action.external {
                    "no connector"
                } else {
                    "done"
                };
                self.log(
                    "call",
                    json!({"tool": action.tool, "args": args, "heard": text, "by": "skills", "status": status}),
                    now_ms,
                );
                calls.push(CallOutcome {
                    tool: action.tool.clone(),
                    args,
                    status: status.into(),
                    detail: Value::Null,
                });
                continue;
            }
            self.log(
                "proposal",
                json!({"tool": action.tool, "args": args, "heard": text}),
                now_ms,
            );
            match self.policy(&action.tool) {
                Policy::Confirm if confirmed_now => {
                    // The dialogue asked and the user said yes to exactly these arguments.
                    let req = self
                        .approvals
                        .request(&action.tool, &args, &turn.reply, now_ms);
                    let _ = self
                        .approvals
                        .answer(&[&req.id], &Answer::Yes, source, now_ms);
                    self.log(
                        "approval",
                        json!({"approval": req.id, "tool": action.tool, "by": source}),
                        now_ms,
                    );
                    calls.push(self.run(action, Some(&req.id), now_ms));
                }
                Policy::Confirm => {
                    let sentence = format!("{} needs your approval.", action.tool);
                    let req = self
                        .approvals
                        .request(&action.tool, &args, &sentence, now_ms);
                    reply = format!("{sentence} Shall I?");
                    calls.push(CallOutcome {
                        tool: action.tool.clone(),
                        args,
                        status: "awaiting approval".into(),
                        detail: json!(req.id),
                    });
                    self.pending = Some((req, action.clone()));
                    break;
                }
                _ => calls.push(self.run(action, None, now_ms)),
            }
        }
        if let Some(c) = calls
            .iter()
            .find(|c| c.status == "failed" || c.status == "refused")
        {
            reply = format!(
                "Sorry, I couldn't do that: {}",
                c.detail.as_str().unwrap_or("it failed")
            );
        }
        AgentTurn {
            dialogue: Some(turn),
            calls,
            reply,
        }
    }
}
