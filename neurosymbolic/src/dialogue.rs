//! The dialogue state machine (statig): every flow is slot filling, then
//! confirmation where the intent asks for it, then the action. Three states,
//! each carrying exactly the data it needs, so that "confirming without a
//! request" cannot be represented:
//!
//! ```text
//!            request complete, no confirmation: act, reply
//!        ┌──────────────────────────────────────────────┐
//!        ▼                                              │
//!   ┌────────┐  slot missing   ┌──────────────────┐     │
//!   │  idle  │───────────────▶│ filling(frame,    │─────┤ answer completes it
//!   └────────┘◀───────────────│   slot, tries)    │     │
//!      ▲  ▲  cancel, give up   └──────────────────┘     │
//!      │  │                            │ needs confirming
//!      │  │  yes: act · no, cancel     ▼                │
//!      │  └──────────────────┌──────────────────────┐   │
//!      │                     │ confirming(frame,    │◀──┘
//!      └─────────────────────│   tries)             │ correction: re-confirm
//!                            └──────────────────────┘
//! ```
//!
//! In every state "cancel" drops the flow, "repeat" says the last reply
//! again, and a correction ("no, I said six") changes the value it names.
//! Right after an action, a correction redoes it with the new value.
//! Anything the templates do not cover gets an honest "I can't do that
//! yet" and never an action.

use std::collections::BTreeMap;

use ainima_fallbacks::catalog::{Catalog, ListKind};
use ainima_fallbacks::date::Date;
use ainima_fallbacks::replies;
use ainima_fallbacks::{Context, Matcher, Parse, Value};
use serde::Serialize;
use statig::prelude::*;

use std::sync::Arc;

use crate::Error;
use crate::arbitrate::{Decision, Proposer, Thresholds, arbitrate};
use crate::rules::{Engine, Fact, Facts};
use crate::skills::{Action, EXTERNAL, Now, Skills};

/// The least confidence a parse needs to be acted on; below it (a tie
/// between intents) the turn counts as not understood.
pub const MIN_CONFIDENCE: f32 = 0.6;
/// Failed answers to one question before the dialogue gives up.
pub const MAX_TRIES: u8 = 2;

/// A slot value in a frame.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameSlot {
    /// The value.
    pub value: Value,
    /// The words it came from.
    pub text: String,
}

/// A request being put together: an intent and the slots known so far.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Frame {
    /// The intent.
    pub intent: String,
    /// Slots by name.
    pub slots: BTreeMap<String, FrameSlot>,
    /// The words the request was made with (rules test `said.WORD`).
    pub said: Vec<String>,
    /// Asked back, the question ("Did you mean ...?"): a yes takes the
    /// request as it was read, and it goes on as any request would.
    #[serde(skip)]
    pub guess: Option<String>,
}

impl Frame {
    fn from_parse(p: &Parse, text: &str) -> Frame {
        let mut f = Frame {
            intent: p.intent.clone(),
            said: ainima_fallbacks::text::words(text),
            ..Frame::default()
        };
        f.merge(p);
        f
    }

    fn merge(&mut self, p: &Parse) {
        for s in &p.slots {
            self.slots.insert(
                s.name.clone(),
                FrameSlot {
                    value: s.value.clone(),
                    text: s.text.clone(),
                },
            );
        }
    }

    /// A slot's value as text.
    pub fn text(&self, name: &str) -> Option<String> {
        self.slots.get(name).map(|s| s.value.to_string())
    }

    /// A slot's value as a number: durations and times in seconds.
    pub fn number(&self, name: &str) -> Option<f64> {
        self.slots.get(name)?.value.as_number()
    }

    /// A slot's value as a date.
    pub fn date(&self, name: &str) -> Option<Date> {
        match self.slots.get(name)?.value {
            Value::Date(d) => Some(d),
            _ => None,
        }
    }
}

fn fact_of(v: &Value) -> Fact {
    match v {
        Value::Text(t) => Fact::Str(t.clone()),
        Value::Date(d) => Fact::Str(format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)),
        _ => Fact::Num(v.as_number().unwrap_or(0.0)),
    }
}

/// One turn's result.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Turn {
    /// What was heard.
    pub heard: String,
    /// The intent understood, if any.
    pub intent: Option<String>,
    /// Its confidence.
    pub confidence: f32,
    /// Which half read it: `rules`, or `both` (the model proposed, the
    /// rules validated: [`crate::arbitrate`]); empty when there is no
    /// reading at all.
    pub source: &'static str,
    /// This turn's yes answered "Did you mean ...?": it says what was
    /// meant and approves nothing.
    pub answered_guess: bool,
    /// Slots understood this turn.
    pub slots: BTreeMap<String, Value>,
    /// What the assistant says.
    pub reply: String,
    /// Actions to run (the agent runs external ones with approval).
    pub actions: Vec<Action>,
    /// The dialogue state afterwards: `idle`, `filling` or `confirming`.
    pub state: &'static str,
    /// Why, step by step: template, slots, rules fired, transitions.
    pub explanation: Vec<String>,
}

/// Everything the states share: the language core, rules, skills and the
/// turn being built.
pub struct Core {
    catalog: Catalog,
    matcher: Matcher,
    answers: BTreeMap<String, Matcher>,
    slot_lists: BTreeMap<(String, String), String>,
    engine: Engine,
    skills: Skills,
    seed: u64,
    turn: u64,
    now: Now,
    text: String,
    parse: Option<Parse>,
    reply: Vec<String>,
    actions: Vec<Action>,
    explanation: Vec<String>,
    last_reply: String,
    last_explanation: Vec<String>,
    last_done: Option<Frame>,
    model: Option<Arc<dyn Proposer>>,
    answered_guess: bool,
    thresholds: Thresholds,
    ask: Option<String>,
}

enum Next {
    Idle,
    Fill(Frame, String),
    Confirm(Frame),
}

const DIALOGUE_INTENTS: [&str; 6] = ["yes", "no", "cancel", "repeat", "correction", "why"];

impl Core {
    fn ctx(&self) -> Context {
        Context {
            today: self.now.date,
        }
    }

    fn say_key(&mut self, key: &str, vars: &[(&str, String)]) {
        let variants = self.catalog.replies.get(key).cloned().unwrap_or_default();
        let t = replies::choose(&variants, self.seed, self.turn).unwrap_or("OK.");
        let s = replies::render(t, |n| {
            vars.iter().find(|(k, _)| *k == n).map(|(_, v)| v.clone())
        });
        self.reply.push(s);
    }

    /// What the rules and the model make of `text`; a model that fails
    /// leaves it to the rules.
    fn decide(&self, text: &str, ctx: &Context) -> Decision {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            arbitrate(
                text,
                ctx,
                &self.catalog,
                &self.matcher,
                self.model.as_deref(),
                self.thresholds,
            )
        }))
        .unwrap_or_else(|_| Decision::Nothing {
            reading: self.matcher.parse(text, ctx),
            why: Some("the model failed; the rules alone read this".into()),
        })
    }

    fn intent_of(&self) -> Option<String> {
        self.parse
            .as_ref()
            .filter(|p| p.confidence >= MIN_CONFIDENCE)
            .map(|p| p.intent.clone())
    }

    fn slot_text(&self, name: &str) -> Option<String> {
        self.parse.as_ref()?.slot(name).map(|s| s.text.clone())
    }

    /// Parses `text` as a value for `slot` of `intent`.
    fn answer(&self, intent: &str, slot: &str, text: &str) -> Option<(Value, String)> {
        let list = self
            .slot_lists
            .get(&(intent.to_string(), slot.to_string()))?;
        let m = self.answers.get(list)?;
        let p = m.parse(text, &self.ctx())?;
        let s = p.slots.into_iter().next()?;
        Some((s.value, s.text))
    }

    fn question(&self, frame: &Frame, slot: &str) -> String {
        self.catalog
            .intents
            .get(&frame.intent)
            .and_then(|i| i.ask.get(slot).cloned())
            .unwrap_or_else(|| format!("What {}?", slot.replace('_', " ")))
    }

    fn facts(&self, frame: &Frame) -> Facts {
        let mut f = Facts::new();
        f.insert("intent".into(), Fact::Str(frame.intent.clone()));
        for (k, s) in &frame.slots {
            f.insert(format!("slot.{k}"), fact_of(&s.value));
        }
        for w in &frame.said {
            f.insert(format!("said.{w}"), Fact::Bool(true));
        }
        f.insert(
            "time.hour".into(),
            Fact::Num(f64::from(self.now.seconds / 3600)),
        );
        f.insert(
            "time.minute".into(),
            Fact::Num(f64::from(self.now.seconds / 60 % 60)),
        );
        f.insert(
            "time.weekday".into(),
            Fact::Num(f64::from(self.now.date.weekday())),
        );
        // The state of the device the request is about, as `target.*`.
        if let Some(state) = frame
            .text("device")
            .and_then(|d| self.skills.devices.get(&d))
        {
            for (k, v) in state {
                f.insert(format!("target.{k}"), Fact::Str(v.clone()));
            }
        }
        for (device, state) in &self.skills.devices {
            for (k, v) in state {
                f.insert(format!("device.{device}.{k}"), Fact::Str(v.clone()));
            }
        }
        f
    }

    /// Rules, then the missing slots, then confirmation, then the action.
    fn advance(&mut self, mut frame: Frame) -> Next {
        // Whatever was guessed is settled once the request goes on.
        frame.guess = None;
        let mut facts = self.facts(&frame);
        let before = facts.clone();
        match self.engine.run(&mut facts) {
            Ok(fired) => {
                for x in fired {
                    self.explanation.push(format!(
                        "rule {} ({}): {} [{}]",
                        x.rule,
                        x.origin,
                        x.because,
                        x.changed.join(", ")
                    ));
                }
            }
            Err(e) => {
                self.explanation.push(format!("rules stopped: {e}"));
                self.reply
                    .push("Sorry, my rules for that are broken.".into());
                return Next::Idle;
            }
        }
        for (k, v) in &facts {
            if let Some(name) = k.strip_prefix("slot.")
                && before.get(k) != Some(v)
            {
                let value = match v {
                    Fact::Num(n) => Value::Number(*n),
                    other => Value::Text(other.to_string()),
                };
                frame.slots.insert(
                    name.into(),
                    FrameSlot {
                        value,
                        text: String::new(),
                    },
                );
            }
        }
        for k in before.keys() {
            if let Some(name) = k.strip_prefix("slot.")
                && !facts.contains_key(k)
            {
                frame.slots.remove(name);
            }
        }
        if let Some(reason) = facts.get("refuse") {
            let reason = reason.to_string();
            self.say_key("refused", &[("reason", reason)]);
            return Next::Idle;
        }
        let Some(intent) = self.catalog.intents.get(&frame.intent) else {
            self.say_key("out_of_domain", &[]);
            return Next::Idle;
        };
        if let Some(slot) = intent
            .required
            .iter()
            .find(|s| !frame.slots.contains_key(*s))
            .cloned()
        {
            let q = self.question(&frame, &slot);
            self.explanation
                .push(format!("{} needs {slot}: asking", frame.intent));
            self.reply.push(q);
            return Next::Fill(frame, slot);
        }
        if intent.confirm {
            let summary = intent
                .summary
                .clone()
                .unwrap_or_else(|| intent.description.clone());
            let summary = replies::render(&summary, |n| frame.text(n));
            self.explanation
                .push(format!("{} is confirmed before acting", frame.intent));
            self.say_key("confirm", &[("summary", summary)]);
            return Next::Confirm(frame);
        }
        self.execute(frame)
    }

    fn execute(&mut self, frame: Frame) -> Next {
        let Some(intent) = self.catalog.intents.get(&frame.intent).cloned() else {
            self.say_key("out_of_domain", &[]);
            return Next::Idle;
        };
        let mut vars = BTreeMap::new();
        if let Some(tool) = &intent.action {
            let out = self.skills.run(tool, &frame, self.now);
            if let Some(r) = out.refuse {
                self.say_key("refused", &[("reason", r)]);
                return Next::Idle;
            }
            vars = out.vars;
            let args = action_args(&intent, &frame);
            if !vars.contains_key("result") {
                // A tool the skills do not run: the agent puts its result
                // in once it ran.
                vars.insert("result".into(), "{result}".into());
            }
            self.actions.push(Action {
                tool: tool.clone(),
                args,
                external: EXTERNAL.contains(&tool.as_str()),
            });
            self.explanation.push(format!("action {tool}"));
        }
        let t = replies::choose(&intent.replies, self.seed, self.turn)
            .unwrap_or("Done.")
            .to_string();
        let reply = replies::render(&t, |n| vars.get(n).cloned().or_else(|| frame.text(n)));
        self.reply.push(reply);
        self.last_done = Some(frame);
        Next::Idle
    }

    /// Changes the value a correction names; true if one fit.
    fn correct(&mut self, frame: &mut Frame, answer: &str) -> bool {
        let mut names: Vec<String> = frame.slots.keys().cloned().collect();
        if let Some(i) = self.catalog.intents.get(&frame.intent) {
            for r in &i.required {
                if !names.contains(r) {
                    names.push(r.clone());
                }
            }
        }
        // Slots of free text take any answer: they are tried last, after a
        // bare number for a duration (regression: "add 5 minutes to the
        // pizza timer" ... "no, I said 6" renamed the timer "6").
        let free = |name: &String| {
            self.slot_lists
                .get(&(frame.intent.clone(), name.clone()))
                .and_then(|l| self.catalog.list(l))
                .is_some_and(|l| matches!(l.kind, ListKind::Wildcard | ListKind::WildcardAfter(_)))
        };
        let (free_names, names): (Vec<String>, Vec<String>) = names.into_iter().partition(free);
        self.correct_one_of(frame, &names, answer)
            || self.correct_duration(frame, &names, answer)
            || self.correct_one_of(frame, &free_names, answer)
    }

    /// Changes the first of `names` whose list takes `answer`; true if one
    /// did.
    fn correct_one_of(&mut self, frame: &mut Frame, names: &[String], answer: &str) -> bool {
        for name in names {
            if let Some((value, text)) = self.answer(&frame.intent, name, answer) {
                self.explanation
                    .push(format!("corrected {name} to {value}"));
                frame.slots.insert(name.clone(), FrameSlot { value, text });
                return true;
            }
        }
        false
    }

    /// A bare number corrects a duration among `names` in the unit said
    /// before; true if one did.
    fn correct_duration(&mut self, frame: &mut Frame, names: &[String], answer: &str) -> bool {
        // A bare number corrects a duration in the unit said before: "five
        // minutes" ... "no, I said six".
        let words = ainima_fallbacks::text::words(answer);
        if let Some((n, used)) =
            ainima_fallbacks::values::number(&words).filter(|&(_, k)| k == words.len())
        {
            for name in names {
                if let Some(FrameSlot {
                    value: Value::Duration { seconds },
                    ..
                }) = frame.slots.get(name)
                {
                    let unit = if *seconds >= 3600.0 && seconds % 3600.0 == 0.0 {
                        3600.0
                    } else if *seconds >= 60.0 && seconds % 60.0 == 0.0 {
                        60.0
                    } else {
                        1.0
                    };
                    let value = Value::Duration { seconds: n * unit };
                    self.explanation
                        .push(format!("corrected {name} to {value} (same unit as before)"));
                    let text = words[..used].join(" ");
                    frame.slots.insert(name.clone(), FrameSlot { value, text });
                    return true;
                }
            }
        }
        false
    }

    fn common(&mut self) -> Option<Next> {
        match self.intent_of().as_deref() {
            Some("cancel") => {
                self.say_key("cancelled", &[]);
                Some(Next::Idle)
            }
            _ => None,
        }
    }

    /// "Repeat" and "why": answered in any state without changing it.
    fn repeat(&mut self) -> bool {
        if self.intent_of().as_deref() == Some("why") {
            let reasons: Vec<String> = self
                .last_explanation
                .iter()
                .filter_map(|e| {
                    if let Some(rest) = e.strip_prefix("matched the template ") {
                        Some(format!("I matched the template {rest}"))
                    } else if let Some(rest) = e.strip_prefix("the model proposed ") {
                        // "lights_off (0.97) with device = ..."
                        let intent = rest.split(' ').next().unwrap_or(rest);
                        Some(format!("my model read it as {intent}"))
                    } else if let Some(rest) = e.strip_prefix("the rules read its words as ") {
                        Some(format!("I read it as {rest}"))
                    } else if e.starts_with("rule ") {
                        Some(
                            e.split(" [")
                                .next()
                                .unwrap_or(e)
                                .trim_end_matches('.')
                                .to_string(),
                        )
                    } else if let Some(tool) = e.strip_prefix("action ") {
                        Some(format!("I ran {tool}"))
                    } else if e.ends_with("(answer)") {
                        Some(format!("you answered {}", e.trim_end_matches(" (answer)")))
                    } else if e.contains(" needs ")
                        || e.contains("confirmed before")
                        || e.starts_with("corrected")
                    {
                        Some(e.clone())
                    } else {
                        None
                    }
                })
                .collect();
            if reasons.is_empty() {
                self.say_key("nothing_to_explain", &[]);
            } else {
                self.reply.push(format!("Because {}.", reasons.join("; ")));
            }
            return true;
        }
        if self.intent_of().as_deref() == Some("repeat") {
            if self.last_reply.is_empty() {
                self.say_key("nothing_to_repeat", &[]);
            } else {
                self.reply.push(self.last_reply.clone());
            }
            return true;
        }
        false
    }

    fn new_request(&mut self) -> Next {
        if let Some(question) = self.ask.take()
            && let Some(p) = self.parse.clone()
        {
            let mut frame = Frame::from_parse(&p, &self.text);
            frame.guess = Some(question.clone());
            self.reply.push(question);
            return Next::Confirm(frame);
        }
        match self
            .parse
            .clone()
            .filter(|p| p.confidence >= MIN_CONFIDENCE)
        {
            Some(p) if !DIALOGUE_INTENTS.contains(&p.intent.as_str()) => {
                let frame = Frame::from_parse(&p, &self.text);
                self.advance(frame)
            }
            _ => {
                self.say_key("out_of_domain", &[]);
                Next::Idle
            }
        }
    }
}

/// The machine itself, in a module of its own: statig's macro generates a
/// public `State` enum that is not part of this crate's API.
mod flow {
    use super::*;

    /// What every state does first: "cancel" ends the flow; "repeat" and
    /// "why" are answered without changing it.
    fn anywhere(context: &mut Core) -> Option<Outcome<State>> {
        if let Some(n) = context.common() {
            return Some(n.outcome());
        }
        context.repeat().then_some(Handled)
    }

    /// An answer not understood: ask `question` again, or give up after
    /// [`MAX_TRIES`].
    fn not_understood(context: &mut Core, tries: &mut u8, question: String) -> Outcome<State> {
        *tries += 1;
        if *tries >= MAX_TRIES {
            context.say_key("gave_up", &[]);
            return Transition(State::idle());
        }
        context.say_key("not_understood", &[("question", question)]);
        Handled
    }

    impl Next {
        pub(super) fn outcome(self) -> Outcome<State> {
            match self {
                Next::Idle => Transition(State::idle()),
                Next::Fill(frame, slot) => Transition(State::filling(frame, slot, 0)),
                Next::Confirm(frame) => Transition(State::confirming(frame, 0)),
            }
        }
    }

    /// The dialogue state machine; its states are below, its shared data is
    /// the [`Core`] passed as context.
    #[derive(Default)]
    pub struct Flow;

    /// Events: an utterance was heard (its text and parse are in the context).
    pub enum Event {
        /// The user said something.
        Heard,
    }

    #[state_machine(initial = "State::idle()", state(derive(Debug, Clone)))]
    impl Flow {
        /// Nothing pending.
        #[state]
        fn idle(context: &mut Core, event: &Event) -> Outcome<State> {
            let Event::Heard = event;
            if let Some(o) = anywhere(context) {
                return o;
            }
            match context.intent_of().as_deref() {
                Some("yes" | "no") => {
                    context.say_key("nothing_pending", &[]);
                    Handled
                }
                Some("correction") => {
                    let answer = context.slot_text("answer").unwrap_or_default();
                    let mut frame = context.last_done.clone().unwrap_or_default();
                    if !frame.intent.is_empty() && context.correct(&mut frame, &answer) {
                        if let Some(a) = context
                            .catalog
                            .intents
                            .get(&frame.intent)
                            .and_then(|i| i.action.clone())
                        {
                            context.skills.undo(&a);
                        }
                        return context.advance(frame).outcome();
                    }
                    context.say_key("nothing_to_correct", &[]);
                    Handled
                }
                _ => context.new_request().outcome(),
            }
        }

        /// Waiting for the value of `slot`.
        #[state]
        fn filling(
            context: &mut Core,
            frame: &mut Frame,
            slot: &mut String,
            tries: &mut u8,
            event: &Event,
        ) -> Outcome<State> {
            let Event::Heard = event;
            if let Some(o) = anywhere(context) {
                return o;
            }
            let text = match context.intent_of().as_deref() {
                Some("correction") => context.slot_text("answer").unwrap_or_default(),
                _ => context.text.clone(),
            };
            if let Some((value, said)) = context.answer(&frame.intent, slot, &text) {
                let mut f = frame.clone();
                context
                    .explanation
                    .push(format!("{slot} = {value} (answer)"));
                f.slots
                    .insert(slot.clone(), FrameSlot { value, text: said });
                return context.advance(f).outcome();
            }
            match context
                .parse
                .clone()
                .filter(|p| p.confidence >= MIN_CONFIDENCE)
            {
                Some(p) if p.intent == frame.intent => {
                    let mut f = frame.clone();
                    f.merge(&p);
                    context.advance(f).outcome()
                }
                Some(p) if !DIALOGUE_INTENTS.contains(&p.intent.as_str()) => {
                    context
                        .explanation
                        .push(format!("dropped {} for a new request", frame.intent));
                    context.new_request().outcome()
                }
                _ => {
                    let q = context.question(frame, slot);
                    not_understood(context, tries, q)
                }
            }
        }

        /// Waiting for yes or no before acting on `frame`.
        #[state]
        fn confirming(
            context: &mut Core,
            frame: &mut Frame,
            tries: &mut u8,
            event: &Event,
        ) -> Outcome<State> {
            let Event::Heard = event;
            if let Some(o) = anywhere(context) {
                return o;
            }
            let intent = context.intent_of();
            match intent.as_deref() {
                Some("yes") if frame.guess.is_some() => {
                    context.answered_guess = true;
                    context.advance(frame.clone()).outcome()
                }
                Some("no") if frame.guess.is_some() => {
                    context.say_key("declined", &[]);
                    Transition(State::idle())
                }
                // Anything else to "Did you mean ...?": no corrections
                // to a guess (a free-text slot would take any answer and
                // act); a request of its own is heard as one.
                intent if frame.guess.is_some() => {
                    if intent.is_some_and(|i| !DIALOGUE_INTENTS.contains(&i)) {
                        context.explanation.push(format!(
                            "dropped the guess {} for a new request",
                            frame.intent
                        ));
                        return context.new_request().outcome();
                    }
                    let question = frame.guess.clone().unwrap_or_default();
                    not_understood(context, tries, question)
                }
                Some("yes") => context.execute(frame.clone()).outcome(),
                Some("no") => {
                    context.say_key("declined", &[]);
                    Transition(State::idle())
                }
                intent => {
                    let answer = if intent == Some("correction") {
                        context.slot_text("answer").unwrap_or_default()
                    } else {
                        context.text.clone()
                    };
                    let mut f = frame.clone();
                    if context.correct(&mut f, &answer) {
                        return context.advance(f).outcome();
                    }
                    if intent.is_some_and(|i| !DIALOGUE_INTENTS.contains(&i)) {
                        context
                            .explanation
                            .push(format!("dropped {} for a new request", frame.intent));
                        return context.new_request().outcome();
                    }
                    not_understood(context, tries, "Shall I go ahead, yes or no?".into())
                }
            }
        }
    }
}

use flow::{Event, Flow, State};

/// A typed or spoken conversation through templates, rules, the state
/// machine and the built-in skills.
pub struct Assistant {
    machine: statig::blocking::StateMachine<Flow>,
    core: Core,
}

impl Assistant {
    /// An assistant over a catalog of skills; `seed` picks reply variants.
    pub fn new(catalog: Catalog, seed: u64) -> Result<Assistant, Error> {
        let matcher = Matcher::new(&catalog)?;
        let engine = Engine::new(&catalog.rules)?;
        // Which list each slot of each intent reads, for answers to questions.
        let mut slot_lists = BTreeMap::new();
        for name in catalog.intents.keys() {
            for (slot, list) in catalog.slots_of(name) {
                slot_lists.insert((name.clone(), slot), list);
            }
        }
        let mut answers = BTreeMap::new();
        for list in slot_lists.values() {
            if answers.contains_key(list) {
                continue;
            }
            let mut c = Catalog {
                lists: catalog.lists.clone(),
                ..Catalog::default()
            };
            let wildcard = matches!(
                c.list(list).map(|l| l.kind.clone()),
                Some(ListKind::Wildcard | ListKind::WildcardAfter(_))
            );
            let template = if wildcard {
                format!("{{{list}:value}}")
            } else {
                format!(
                    "[the|a|an|my|it is|make it|for|to|at|in|on|by|about|with|just] {{{list}:value}}"
                )
            };
            c.add_template("answer", &template, Default::default())?;
            answers.insert(list.clone(), Matcher::new(&c)?);
        }
        let core = Core {
            catalog,
            matcher,
            answers,
            slot_lists,
            engine,
            skills: Skills::new(),
            seed,
            turn: 0,
            now: Now::from_unix(0),
            text: String::new(),
            parse: None,
            reply: Vec::new(),
            actions: Vec::new(),
            explanation: Vec::new(),
            last_reply: String::new(),
            last_explanation: Vec::new(),
            last_done: None,
            model: None,
            answered_guess: false,
            thresholds: Thresholds::default(),
            ask: None,
        };
        Ok(Assistant {
            machine: Flow.state_machine(),
            core,
        })
    }

    /// The assistant with the built-in skills.
    pub fn builtin(seed: u64) -> Result<Assistant, Error> {
        Assistant::new(ainima_fallbacks::builtin::catalog()?, seed)
    }

    /// Lets `model` propose what the templates do not read, the rules
    /// validating it (see [`crate::arbitrate`]); `None` for templates and
    /// rules alone.
    pub fn set_model(&mut self, model: Option<Arc<dyn Proposer>>, thresholds: Thresholds) {
        self.core.model = model;
        self.core.thresholds = thresholds;
    }

    /// What `text` means to the rules and the model, without changing the
    /// conversation.
    pub fn understand(&self, text: &str, now: Now) -> Decision {
        self.core.decide(text, &Context { today: now.date })
    }

    /// The compiled templates.
    pub fn matcher(&self) -> &Matcher {
        &self.core.matcher
    }

    /// The rules.
    pub fn rules(&self) -> &[crate::rules::Rule] {
        self.core.engine.rules()
    }

    /// The skills' state.
    pub fn skills(&self) -> &Skills {
        &self.core.skills
    }

    /// Interprets `text` without changing the conversation.
    pub fn parse(&self, text: &str, now: Now) -> Option<Parse> {
        self.core.matcher.parse(text, &Context { today: now.date })
    }

    /// Timers that ended and alarms whose time came by `now`, as what to
    /// say ("Your timer for 10 minutes is done."), taken off their lists:
    /// things that happen to the assistant, not things said to it.
    pub fn due(&mut self, now: Now) -> Vec<String> {
        self.core.skills.due(now)
    }

    /// Timers and alarms still to come, to keep across restarts.
    pub fn pending(&self) -> crate::skills::Pending {
        self.core.skills.pending()
    }

    /// Takes back timers and alarms kept from before.
    pub fn restore(&mut self, p: &crate::skills::Pending) {
        self.core.skills.restore(p);
    }

    /// The action a yes would run now, while the dialogue asks to confirm
    /// one (what an approval UI shows; the arguments are the frame's slots).
    pub fn confirming(&self) -> Option<Action> {
        let State::Confirming { frame, .. } = self.machine.state() else {
            return None;
        };
        // "Did you mean ...?" is not a question about acting.
        if frame.guess.is_some() {
            return None;
        }
        let intent = self.core.catalog.intents.get(&frame.intent)?;
        let tool = intent.action.clone()?;
        Some(Action {
            external: EXTERNAL.contains(&tool.as_str()),
            args: action_args(intent, frame),
            tool,
        })
    }

    /// One turn: the user said `text` at `now`.
    pub fn hear(&mut self, text: &str, now: Now) -> Turn {
        let c = &mut self.core;
        c.turn += 1;
        c.now = now;
        c.text = text.to_string();
        let ctx = Context { today: now.date };
        c.ask = None;
        let mut model_line = None;
        // The model is asked only for a new request: answers to a question
        // are read by the rules of the question.
        c.answered_guess = false;
        if c.model.is_some() && matches!(self.machine.state(), State::Idle {}) {
            c.parse = match c.decide(text, &ctx) {
                Decision::Rules(p) | Decision::Act(p) => Some(p),
                Decision::Ask { parse, question } => {
                    c.ask = Some(question);
                    Some(parse)
                }
                Decision::Nothing { reading, why } => {
                    // Not what "why" tells as a reason for an action.
                    model_line = why.map(|w| format!("not understood: {w}"));
                    reading
                }
            };
        } else {
            c.parse = c.matcher.parse(text, &ctx);
        }
        c.reply.clear();
        c.actions.clear();
        c.explanation = c
            .parse
            .as_ref()
            .map(|p| p.explanation.clone())
            .unwrap_or_default();
        c.explanation.extend(model_line);
        let before = state_name(self.machine.state());
        let (machine, core) = (&mut self.machine, &mut self.core);
        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            machine.handle_with_context(&Event::Heard, core);
        }));
        if ok.is_err() {
            // A bug in one turn must not end the conversation: start afresh.
            self.machine = Flow.state_machine();
            self.core.reply = vec!["Sorry, something went wrong. Let's start again.".into()];
            self.core
                .explanation
                .push("the turn failed; the dialogue was reset".into());
        }
        let after = state_name(self.machine.state());
        if before != after {
            self.core
                .explanation
                .push(format!("state {before} -> {after}"));
        }
        let c = &mut self.core;
        let reply = c.reply.join(" ");
        c.last_reply = reply.clone();
        if !matches!(c.intent_of().as_deref(), Some("why" | "repeat")) {
            c.last_explanation = c.explanation.clone();
        }
        let p = c.parse.as_ref();
        Turn {
            heard: text.to_string(),
            intent: p.map(|p| p.intent.clone()),
            confidence: p.map_or(0.0, |p| p.confidence),
            source: p.map_or("", |p| p.source),
            answered_guess: c.answered_guess,
            slots: p
                .map(|p| {
                    p.slots
                        .iter()
                        .map(|s| (s.name.clone(), s.value.clone()))
                        .collect()
                })
                .unwrap_or_default(),
            reply,
            actions: std::mem::take(&mut c.actions),
            state: after,
            explanation: std::mem::take(&mut c.explanation),
        }
    }
}

/// The arguments of `intent`'s action from `frame`: its bindings (`args`),
/// or each slot under its own name.
fn action_args(
    intent: &ainima_fallbacks::catalog::Intent,
    frame: &Frame,
) -> BTreeMap<String, serde_json::Value> {
    let value = |s: &FrameSlot| serde_json::to_value(&s.value).unwrap_or(serde_json::Value::Null);
    if intent.args.is_empty() {
        return frame
            .slots
            .iter()
            .map(|(k, s)| (k.clone(), value(s)))
            .collect();
    }
    intent
        .args
        .iter()
        .filter_map(|b| Some((b.arg.clone(), value(frame.slots.get(&b.slot)?))))
        .collect()
}

fn state_name(s: &State) -> &'static str {
    match s {
        State::Idle {} => "idle",
        State::Filling { .. } => "filling",
        State::Confirming { .. } => "confirming",
    }
}
