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

use std::sync::MutexGuard;

use crate::Error;
use crate::approval::{
    Answer, ApprovalRequest, Approvals, Decision, Policy, Source, Status, default_policy, digest,
    interpret,
};
use crate::audit::AuditLog;
use crate::shared::Shared;
use crate::tools::Registry;

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
    /// Approval requests this turn made (they wait in [`Agent::approvals`],
    /// where the local endpoint shows them too).
    pub requests: Vec<ApprovalRequest>,
    /// Something that happened outside the conversation, which this turn
    /// tells (a device's report, a message that could not be delivered).
    pub notice: Option<String>,
}

impl AgentTurn {
    /// The turn as `ainima chat --json` writes it, and the page gets it:
    /// the dialogue's fields (none for a turn without one), `reply` and
    /// `calls`.
    pub fn to_json(&self) -> Value {
        let mut v = match &self.dialogue {
            Some(d) => serde_json::to_value(d).unwrap_or_else(|_| json!({})),
            None => json!({}),
        };
        v["reply"] = json!(self.reply);
        v["calls"] = serde_json::to_value(&self.calls).unwrap_or_else(|_| json!([]));
        v
    }

    fn said(reply: impl Into<String>, calls: Vec<CallOutcome>) -> AgentTurn {
        AgentTurn {
            dialogue: None,
            calls,
            reply: reply.into(),
            requests: Vec::new(),
            notice: None,
        }
    }
}

/// What a waiting approval request stands for.
#[derive(Debug, Clone)]
enum Held {
    /// A tool call the agent asked about itself ("... needs your approval.
    /// Shall I?"), and what the dialogue meant to say once it ran.
    Call(Action, String),
    /// The dialogue's own question ("Shall I go ahead?"): a yes spoken,
    /// typed or given at the endpoint answers it.
    Dialogue,
}

/// The language core, the tools, approvals and the audit log together.
pub struct Agent {
    /// The dialogue.
    pub assistant: Assistant,
    /// The tools and the approval requests, shared with the local endpoint
    /// when one runs ([`Agent::shared`]).
    shared: Shared,
    /// Policies that override the tools' defaults.
    pub policies: BTreeMap<String, Policy>,
    /// Where every step is recorded, if anywhere.
    pub audit: Option<AuditLog>,
    pending: Option<(ApprovalRequest, Held)>,
    /// What connectors running beside the agent have to say (a message
    /// that could not be delivered).
    notices: Option<std::sync::mpsc::Receiver<String>>,
    notify: Option<std::sync::mpsc::Sender<String>>,
    /// The outbox's delivery, while the agent lives.
    #[cfg(not(target_arch = "wasm32"))]
    worker: Option<crate::outbox::Worker>,
    /// Home Assistant's sentences for a described home: tried before the
    /// dialogue, a request about the home's devices acts on it.
    pub home: Option<HomeSentences>,
}

/// Home Assistant's sentences for a home ([`crate::home`]).
pub struct HomeSentences {
    /// The sentences, compiled with the home's names.
    pub language: std::sync::Arc<ainima_fallbacks::ha::Language>,
    /// Where the assistant is (`area`): "in here".
    pub context: BTreeMap<String, Value>,
    /// The home its tools act on (to tell a request that would unlock or
    /// open something, which asks first).
    pub home: crate::home::SharedHome,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("registry", &*self.registry())
            .finish_non_exhaustive()
    }
}

fn args_of(a: &Action) -> Value {
    Value::Object(a.args.clone().into_iter().collect())
}

/// A tool's result as words: text as it is, anything else as compact JSON.
fn spoken(v: &Value) -> String {
    match v {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// `said` with the first finished call's answer for `{result}` ("that"
/// when none answered): a bound tool's answer, said as it came.
fn with_result(said: &str, calls: &[CallOutcome]) -> String {
    let result = calls
        .iter()
        .find(|c| c.status == "done" && !c.detail.is_null())
        .map_or_else(|| "that".to_string(), |c| spoken(&c.detail));
    said.replace("{result}", &result)
}

/// What to say after an approved call: the dialogue's words with the
/// tool's answer for `{result}` (or "Done."), or what went wrong.
fn done_or_not(call: &CallOutcome, said: &str) -> String {
    if call.status != "done" {
        format!("That didn't work: {}", call.detail)
    } else if said.contains("{result}") {
        with_result(said, std::slice::from_ref(call))
    } else {
        "Done.".to_string()
    }
}

impl Agent {
    /// An agent over an assistant and its tools.
    pub fn new(assistant: Assistant, registry: Registry) -> Agent {
        let shared = Shared::default();
        *shared.registry.lock().unwrap_or_else(|p| p.into_inner()) = registry;
        Agent {
            assistant,
            shared,
            policies: BTreeMap::new(),
            audit: None,
            pending: None,
            notices: None,
            home: None,
            notify: None,
            #[cfg(not(target_arch = "wasm32"))]
            worker: None,
        }
    }

    /// Something connectors can say through the assistant: each text sent
    /// is told (and logged) at the next [`Agent::poll`].
    pub fn notifier(&mut self) -> std::sync::mpsc::Sender<String> {
        if let Some(tx) = &self.notify {
            return tx.clone();
        }
        let (tx, rx) = std::sync::mpsc::channel();
        self.notices = Some(rx);
        self.notify = Some(tx.clone());
        tx
    }

    /// Delivers `outbox`'s entries to their webhooks in the background
    /// while the agent lives (`template`: the secret, the private hosts
    /// allowed and the roots trusted; each entry's own target), on the
    /// clock `now_ms`; an entry given up on is told ("I couldn't deliver
    /// ...").
    #[cfg(not(target_arch = "wasm32"))]
    pub fn run_outbox(
        &mut self,
        outbox: std::sync::Arc<crate::outbox::Outbox>,
        template: crate::webhook::Webhook,
        now_ms: impl Fn() -> u64 + Send + 'static,
    ) {
        let tell = self.notifier();
        self.worker = Some(crate::outbox::Worker::spawn(
            outbox,
            move |e| {
                let mut w = template.clone();
                w.url = e.target.clone();
                w.deliver(&e.key, &e.payload).map(|_| ())
            },
            now_ms,
            move |e| {
                let why = e.last_error.as_deref().unwrap_or("it failed");
                let what = match e.payload.get("to").and_then(Value::as_str) {
                    Some(to) if e.tool == "message.send" => format!("your message to {to}"),
                    _ => e.tool.clone(),
                };
                let _ = tell.send(format!("I couldn't deliver {what}: {why}"));
            },
            std::time::Duration::from_millis(250),
        ));
    }

    /// The registry and approvals, to hand to the local endpoint: apps it
    /// registers become this agent's tools, and answers given there decide
    /// this agent's requests.
    pub fn shared(&self) -> Shared {
        self.shared.clone()
    }

    /// Holds every tool registered from now on (an app's at the local
    /// endpoint, a page's in the browser) against what `skills` bind to
    /// it: one that cannot take what an intent's slots give is refused.
    pub fn check_tools_against(&self, skills: ainima_fallbacks::catalog::Catalog) {
        let check: crate::shared::ToolCheck = std::sync::Arc::new(move |spec| {
            crate::binding::check_tool(&skills, spec).map_err(|e| e.to_string())
        });
        *self.shared.check.lock().unwrap_or_else(|p| p.into_inner()) = Some(check);
    }

    /// The tools.
    pub fn registry(&self) -> MutexGuard<'_, Registry> {
        self.shared
            .registry
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The approval requests.
    pub fn approvals(&self) -> MutexGuard<'_, Approvals> {
        self.shared
            .approvals
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// The policy for a tool: an override, else the default from its
    /// annotations.
    pub fn policy(&self, tool: &str) -> Policy {
        self.policies
            .get(tool)
            .copied()
            .or_else(|| {
                self.registry()
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
        // Neither the registry nor the approvals stay locked while the tool
        // runs: an app's function may itself call the endpoint (register,
        // list approvals), and approval UIs must not freeze on a slow tool.
        let one = self.registry().only(&action.tool);
        let admitted = {
            let mut approvals = self
                .shared
                .approvals
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            crate::admit(
                &one,
                &mut approvals,
                policy,
                &action.tool,
                &args,
                approval,
                now_ms,
                self.audit.as_mut(),
            )
        };
        let out = admitted
            .and_then(|()| crate::perform(&one, &action.tool, &args, now_ms, self.audit.as_mut()));
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

    /// Requests past their expiry are denied and logged; the agent's own
    /// one among them is dropped.
    fn expire(&mut self, now_ms: u64) -> Option<ApprovalRequest> {
        *self.shared.now_ms.lock().unwrap_or_else(|p| p.into_inner()) = now_ms;
        let lapsed = self.approvals().expire(now_ms);
        let mut ours = None;
        for l in lapsed {
            self.log(
                "denial",
                json!({"approval": l.id, "tool": l.tool, "why": "expired"}),
                now_ms,
            );
            if self.pending.as_ref().is_some_and(|(r, _)| r.id == l.id) {
                ours = self.pending.take().map(|(r, _)| r);
            }
        }
        ours
    }

    /// Something that happened outside the conversation: a connector's
    /// notice, or what became of the waiting request (an answer given at
    /// the local endpoint: the call then runs, or not; its expiry). `None`
    /// when there is nothing to tell.
    pub fn poll(&mut self, now: Now, now_ms: u64) -> Option<AgentTurn> {
        if let Some(text) = self.notices.as_ref().and_then(|n| n.try_recv().ok()) {
            self.log("notice", json!({"said": text}), now_ms);
            let mut turn = AgentTurn::said(text.clone(), Vec::new());
            turn.notice = Some(text);
            return Some(turn);
        }
        self.settle(now, now_ms)
    }

    /// What became of the waiting request outside the conversation: an
    /// answer given at the endpoint, or its expiry; `None` while it waits.
    fn settle(&mut self, now: Now, now_ms: u64) -> Option<AgentTurn> {
        if let Some(lapsed) = self.expire(now_ms) {
            if self.assistant.confirming().is_some() {
                self.assistant.hear("no", now);
            }
            return Some(AgentTurn::said(
                format!(
                    "Nobody approved it in time, so I didn't: {}",
                    lapsed.sentence
                ),
                Vec::new(),
            ));
        }
        let (req, _) = self.pending.as_ref()?;
        let status = self.approvals().status(&req.id);
        let (req, held) = match status {
            Status::Pending => return None,
            _ => self.pending.take()?,
        };
        let approved = status == Status::Granted;
        self.log(
            if approved { "approval" } else { "denial" },
            json!({"approval": req.id, "tool": req.tool, "by": Source::Endpoint}),
            now_ms,
        );
        match held {
            Held::Call(action, said) if approved => {
                let call = self.run(&action, Some(&req.id), now_ms);
                Some(AgentTurn::said(done_or_not(&call, &said), vec![call]))
            }
            Held::Call(..) => Some(AgentTurn::said("OK, I won't.", Vec::new())),
            Held::Dialogue => {
                // The dialogue hears the answer as if the user had said it.
                let text = if approved { "yes" } else { "no" };
                let turn = self.assistant.hear(text, now);
                Some(self.act(turn, text, Source::Endpoint, Some(req), now_ms))
            }
        }
    }

    /// Whether an approval question waits for the user's answer.
    pub fn awaiting_answer(&self) -> bool {
        self.pending.is_some()
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
            return AgentTurn::said("", Vec::new());
        }
        // A question answered elsewhere, or lapsed, meanwhile: settled
        // first. Then a yes or no was about it and is spent; anything else
        // is heard as well.
        if let Some(settled) = self.settle(now, now_ms) {
            if interpret(text) != Answer::Unclear {
                return settled;
            }
            let mut turn = self.hear(text, source, now, now_ms);
            turn.reply = format!("{} {}", settled.reply, turn.reply)
                .trim()
                .to_string();
            let mut calls = settled.calls;
            calls.append(&mut turn.calls);
            turn.calls = calls;
            return turn;
        }
        let mut asked = None;
        match self.pending.take() {
            Some((req, Held::Call(action, said))) => {
                let answer = interpret(text);
                let decision = self.approvals().answer(&[&req.id], &answer, source, now_ms);
                match decision.as_deref() {
                    Ok([Decision::Approved]) => {
                        self.log(
                            "approval",
                            json!({"approval": req.id, "tool": req.tool, "by": source}),
                            now_ms,
                        );
                        let call = self.run(&action, Some(&req.id), now_ms);
                        return AgentTurn::said(done_or_not(&call, &said), vec![call]);
                    }
                    Ok([Decision::Denied]) => {
                        self.log(
                            "denial",
                            json!({"approval": req.id, "tool": req.tool, "by": source}),
                            now_ms,
                        );
                        return AgentTurn::said("OK, I won't.", Vec::new());
                    }
                    Ok(_) if answer == Answer::Unclear => {
                        let reply = format!("{} Yes or no?", req.sentence);
                        self.pending = Some((req, Held::Call(action, said)));
                        return AgentTurn::said(reply, Vec::new());
                    }
                    _ => {}
                }
            }
            Some((req, Held::Dialogue)) => asked = Some(req),
            None => {}
        }
        if asked.is_none()
            && let Some(turn) = self.home_turn(text)
        {
            return self.act(turn, text, source, None, now_ms);
        }
        let turn = self.assistant.hear(text, now);
        self.act(turn, text, source, asked, now_ms)
    }

    /// A request about the described home, understood with Home
    /// Assistant's sentences, as a turn whose action is the intent's tool
    /// (its answer is the reply).
    fn home_turn(&self, text: &str) -> Option<Turn> {
        let home = self.home.as_ref()?;
        let r = home.language.recognize(text, &home.context)?;
        if !crate::home::INTENTS.iter().any(|(i, _)| *i == r.intent) {
            return None;
        }
        let guarded = {
            let h = home.home.lock().unwrap_or_else(|p| p.into_inner());
            crate::home::is_guarded(&h, &r.intent, &json!(r.slots))
        };
        let tool = if guarded {
            crate::home::guarded_tool_of(&r.intent)
        } else {
            crate::home::tool_of(&r.intent)
        };
        self.registry().spec(&tool)?;
        let slots = r
            .slots
            .iter()
            .map(|(k, v)| {
                let value = match v {
                    Value::Number(n) => {
                        ainima_fallbacks::Value::Number(n.as_f64().unwrap_or_default())
                    }
                    Value::String(s) => ainima_fallbacks::Value::Text(s.clone()),
                    other => ainima_fallbacks::Value::Text(other.to_string()),
                };
                (k.clone(), value)
            })
            .collect();
        Some(Turn {
            heard: text.to_string(),
            intent: Some(r.intent.clone()),
            confidence: 1.0,
            source: "rules",
            answered_guess: false,
            slots,
            reply: "{result}".into(),
            actions: vec![Action {
                tool,
                args: {
                    let mut args: BTreeMap<String, Value> = r.slots.clone().into_iter().collect();
                    if let Some(key) = &r.response {
                        args.insert(crate::home::RESPONSE_ARG.into(), json!(key));
                    }
                    args
                },
                external: false,
            }],
            state: "idle",
            explanation: vec![format!(
                "Home Assistant's sentences: {} {}",
                r.intent,
                serde_json::to_string(&r.slots).unwrap_or_default()
            )],
        })
    }

    /// Runs what the dialogue's `turn` settled on. `asked` is the request
    /// that stood for the dialogue's question, if one was waiting: a yes
    /// answers it, anything else withdraws it (unless the dialogue still
    /// asks).
    fn act(
        &mut self,
        turn: Turn,
        text: &str,
        source: Source,
        mut asked: Option<ApprovalRequest>,
        now_ms: u64,
    ) -> AgentTurn {
        // A yes to "Did you mean ...?" says what was meant, not that it
        // may run.
        let confirmed_now = turn.intent.as_deref() == Some("yes") && !turn.answered_guess;
        let mut calls = Vec::new();
        let mut requests = Vec::new();
        let mut reply = turn.reply.clone();
        for action in &turn.actions {
            let args = args_of(action);
            if self.registry().spec(&action.tool).is_none() {
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
                    // The dialogue asked and the user said yes to exactly
                    // these arguments: the request that stood for the
                    // question (answered here, or already at the endpoint),
                    // or one made and answered now.
                    let id = match asked.take() {
                        Some(r) if r.tool == action.tool && r.digest == digest(&args) => {
                            if source != Source::Endpoint {
                                let _ =
                                    self.approvals()
                                        .answer(&[&r.id], &Answer::Yes, source, now_ms);
                            }
                            r.id
                        }
                        other => {
                            if let Some(r) = other {
                                self.approvals().withdraw(&r.id);
                            }
                            if source == Source::Endpoint {
                                // What was approved there is not what
                                // would run: nothing runs.
                                calls.push(CallOutcome {
                                    tool: action.tool.clone(),
                                    args,
                                    status: "refused".into(),
                                    detail: json!("the approval was for other arguments"),
                                });
                                continue;
                            }
                            let mut approvals = self.approvals();
                            let r = approvals.request(&action.tool, &args, &turn.reply, now_ms);
                            let _ = approvals.answer(&[&r.id], &Answer::Yes, source, now_ms);
                            r.id
                        }
                    };
                    if source != Source::Endpoint {
                        self.log(
                            "approval",
                            json!({"approval": id, "tool": action.tool, "by": source}),
                            now_ms,
                        );
                    }
                    calls.push(self.run(action, Some(&id), now_ms));
                }
                Policy::Confirm => {
                    let sentence = format!("{} needs your approval.", action.tool);
                    let req = self
                        .approvals()
                        .request(&action.tool, &args, &sentence, now_ms);
                    reply = format!("{sentence} Shall I?");
                    calls.push(CallOutcome {
                        tool: action.tool.clone(),
                        args,
                        status: "awaiting approval".into(),
                        detail: json!(req.id),
                    });
                    requests.push(req.clone());
                    // What the dialogue would have said once it ran
                    // ("{result}" and all), said once it is approved.
                    self.pending = Some((req, Held::Call(action.clone(), turn.reply.clone())));
                    break;
                }
                _ => calls.push(self.run(action, None, now_ms)),
            }
        }
        // The dialogue's question, left unanswered: still asked, or over.
        if let Some(r) = asked {
            let still = self
                .assistant
                .confirming()
                .filter(|_| turn.state == "confirming");
            if still
                .as_ref()
                .is_some_and(|a| a.tool == r.tool && digest(&args_of(a)) == r.digest)
            {
                self.pending = Some((r, Held::Dialogue));
            } else if still.is_some() {
                // Corrected while it asks ("make it large"): the request
                // shown elsewhere must be for what a yes would now run,
                // made below as for any new question.
                self.approvals().withdraw(&r.id);
            } else {
                self.approvals().withdraw(&r.id);
                let why = if turn.intent.as_deref() == Some("no") {
                    "refused"
                } else {
                    "withdrawn"
                };
                if source != Source::Endpoint {
                    self.log(
                        "denial",
                        json!({"approval": r.id, "tool": r.tool, "by": source, "why": why}),
                        now_ms,
                    );
                }
            }
        }
        // A new question from the dialogue about a tool that asks first:
        // a request, so that an approval UI can answer it too.
        if self.pending.is_none()
            && turn.state == "confirming"
            && let Some(action) = self.assistant.confirming()
            && self.registry().spec(&action.tool).is_some()
            && self.policy(&action.tool) == Policy::Confirm
        {
            let req =
                self.approvals()
                    .request(&action.tool, &args_of(&action), &turn.reply, now_ms);
            requests.push(req.clone());
            self.pending = Some((req, Held::Dialogue));
        }
        if reply.contains("{result}") {
            reply = with_result(&reply, &calls);
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
            requests,
            notice: None,
        }
    }
}
