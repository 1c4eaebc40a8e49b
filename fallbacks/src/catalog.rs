//! Skill files: intents with their sentence templates, slot lists, reusable
//! template pieces, replies, fillers and production rules, in TOML. Several
//! files merge into one [`Catalog`] (a user's files extend the built-in
//! skills); every string keeps its place in its file so that mistakes are
//! reported as `file:line:column`.
//!
//! ```toml
//! [intents.lights_on]
//! templates = ["turn on [the] {device}", "switch [the] {device} on"]
//! required = ["device"]
//! ask = { device = "Which light?" }
//! replies = ["Turning on the {device}.", "The {device} is on."]
//! action = "lights.on"
//!
//! [lists.device]
//! values = ["kitchen light", { in = "lamp", out = "living room lamp" }]
//! fuzzy = true
//!
//! [expansions]
//! the = "(the|my)"
//!
//! [[rules]]
//! name = "lights_off_at_night"
//! when = "intent == 'lights_on' and time.hour >= 23"
//! then = "set reply.note = 'It is late.'"
//! because = "A reminder at night."
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use serde::Deserialize;
use toml::Spanned;

use crate::error::{Error, Origin};
use crate::template::{self, Expr};
use crate::text;

/// One sentence template of an intent.
#[derive(Debug, Clone)]
pub struct Template {
    /// The template as written.
    pub source: String,
    /// Parsed.
    pub expr: Expr,
    /// Where it was written.
    pub origin: Origin,
}

/// An intent: what a user can ask for.
#[derive(Debug, Clone, Default)]
pub struct Intent {
    /// One line for people.
    pub description: String,
    /// Its sentence templates.
    pub templates: Vec<Template>,
    /// Slots the dialogue asks for when they are missing, in order.
    pub required: Vec<String>,
    /// The question asking for each slot.
    pub ask: BTreeMap<String, String>,
    /// Whether the dialogue confirms before acting.
    pub confirm: bool,
    /// Reply variants, with `{slot}` placeholders.
    pub replies: Vec<String>,
    /// The action to run (a tool name), if the intent acts.
    pub action: Option<String>,
    /// Where the action was named.
    pub action_origin: Option<Origin>,
    /// The action's arguments from the slots (`args = { a = "first" }`:
    /// argument `a` takes slot `first`'s value); empty: each slot is the
    /// argument of its own name.
    pub args: Vec<ArgBinding>,
    /// What confirming says the action will do, with `{slot}` placeholders.
    pub summary: Option<String>,
    /// Where it was first defined.
    pub origin: Origin,
}

/// One argument of an intent's action, taken from a slot.
#[derive(Debug, Clone, PartialEq)]
pub struct ArgBinding {
    /// The tool's argument.
    pub arg: String,
    /// The slot whose value it takes.
    pub slot: String,
    /// Where the binding is written.
    pub origin: Origin,
}

/// A value parser a slot list can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParserKind {
    /// A whole number.
    Integer,
    /// A whole number in digits or a language's number words (Home
    /// Assistant's ranges in the languages text2num reads).
    IntegerIn(crate::values::NumberWords),
    /// Any number.
    Number,
    /// An ordinal ("third", "3rd").
    Ordinal,
    /// A duration ("an hour and a half").
    Duration,
    /// A time of day.
    Time,
    /// A relative or absolute date.
    Date,
    /// A percentage.
    Percentage,
    /// A temperature.
    Temperature,
}

impl ParserKind {
    /// Values this parser reads, as people say them; the first is the
    /// one examples and paraphrases use.
    pub fn examples(&self) -> &'static [&'static str] {
        match self {
            ParserKind::Integer => &["two", "5", "twelve", "three", "40", "one hundred"],
            ParserKind::IntegerIn(_) => &["2", "5", "12", "3", "40", "100"],
            ParserKind::Number => &["two", "3.5", "twelve", "seven", "0.5", "250"],
            ParserKind::Ordinal => &["second", "first", "3rd", "tenth"],
            ParserKind::Duration => &[
                "ten minutes",
                "5 minutes",
                "an hour",
                "1 hour and 30 minutes",
                "90 seconds",
                "two hours",
                "half an hour",
            ],
            ParserKind::Time => &[
                "seven thirty",
                "7:30 am",
                "noon",
                "six pm",
                "8 o'clock",
                "quarter past nine",
            ],
            ParserKind::Date => &[
                "tomorrow",
                "today",
                "next monday",
                "friday",
                "the 3rd of may",
            ],
            ParserKind::Percentage => {
                &["fifty percent", "40%", "100 percent", "twenty five percent"]
            }
            ParserKind::Temperature => &["twenty degrees", "21 degrees", "70 degrees"],
        }
    }

    /// The parser of this name.
    pub fn from_name(name: &str) -> Option<ParserKind> {
        Some(match name {
            "integer" => ParserKind::Integer,
            "number" => ParserKind::Number,
            "ordinal" => ParserKind::Ordinal,
            "duration" => ParserKind::Duration,
            "time" => ParserKind::Time,
            "date" => ParserKind::Date,
            "percentage" => ParserKind::Percentage,
            "temperature" => ParserKind::Temperature,
            _ => return None,
        })
    }
}

/// Where a slot's values come from.
#[derive(Debug, Clone)]
pub enum ListKind {
    /// Listed phrases: (the words heard, the value reported).
    Values(Vec<(String, String)>),
    /// A value parser.
    Parser(ParserKind),
    /// Any words (free text such as a message or a song title).
    Wildcard,
    /// Any words, less a beginning a template may write against the slot
    /// when they begin with it (Home Assistant's `[ال]{name}`: "البيتزا"
    /// is "بيتزا"), lower case, the longest first.
    WildcardAfter(Vec<String>),
}

/// A slot list.
#[derive(Debug, Clone)]
pub struct List {
    /// Its values.
    pub kind: ListKind,
    /// Whether listed values also match approximately (recognition errors).
    pub fuzzy: bool,
    /// Where it was defined.
    pub origin: Origin,
}

/// A production rule as written, compiled by the rule engine.
#[derive(Debug, Clone)]
pub struct RuleSource {
    /// Its name.
    pub name: String,
    /// Higher fires first; ties go to file order.
    pub salience: i32,
    /// The condition.
    pub when: String,
    /// Where the condition's text starts.
    pub when_origin: Origin,
    /// The actions, `;`-separated.
    pub then: String,
    /// Where the actions' text starts.
    pub then_origin: Origin,
    /// The explanation given when it fires.
    pub because: String,
}

/// Intents, lists, expansions, replies, fillers and rules from any number
/// of skill files.
#[derive(Debug, Clone, Default)]
pub struct Catalog {
    /// Intents by name.
    pub intents: BTreeMap<String, Intent>,
    /// Slot lists by name.
    pub lists: BTreeMap<String, List>,
    /// Reusable template pieces (`<name>`).
    pub expansions: BTreeMap<String, Template>,
    /// Shared replies by key.
    pub replies: BTreeMap<String, Vec<String>>,
    /// Extra filler phrases skipped anywhere in an utterance.
    pub fillers: Vec<String>,
    /// Production rules, in file order.
    pub rules: Vec<RuleSource>,
    /// The slot whose listed value, the longest, decides between two
    /// readings that cost the same ([`crate::matcher`]): Home Assistant's
    /// entity `name`, as hassil's `best_slot_name`; none for the skills.
    pub longest_slot: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    intents: BTreeMap<String, Spanned<RawIntent>>,
    #[serde(default)]
    lists: BTreeMap<String, Spanned<RawList>>,
    #[serde(default)]
    expansions: BTreeMap<String, Spanned<String>>,
    #[serde(default)]
    replies: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    fillers: Vec<String>,
    #[serde(default)]
    rules: Vec<RawRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIntent {
    #[serde(default)]
    description: String,
    #[serde(default)]
    templates: Vec<Spanned<String>>,
    #[serde(default)]
    required: Vec<String>,
    #[serde(default)]
    ask: BTreeMap<String, String>,
    #[serde(default)]
    confirm: bool,
    #[serde(default)]
    replies: Vec<String>,
    action: Option<Spanned<String>>,
    #[serde(default)]
    args: BTreeMap<String, Spanned<String>>,
    summary: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawList {
    values: Option<Vec<RawValue>>,
    parser: Option<String>,
    #[serde(default)]
    wildcard: bool,
    #[serde(default)]
    fuzzy: bool,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawValue {
    Plain(String),
    Mapped {
        #[serde(rename = "in")]
        heard: String,
        out: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: String,
    #[serde(default)]
    salience: i32,
    when: Spanned<String>,
    then: Spanned<String>,
    #[serde(default)]
    because: String,
}

/// The place of the first character inside a TOML string whose value spans
/// `span` (which starts at the quote).
fn string_origin(file: &Arc<str>, src: &str, span: std::ops::Range<usize>) -> Origin {
    let rest = src.get(span.start..).unwrap_or("");
    let quote = if rest.starts_with("\"\"\"") || rest.starts_with("'''") {
        3
    } else {
        1
    };
    Origin::at(file, src, span.start + quote)
}

fn parse_template(source: &str, origin: Origin) -> Result<Template, Error> {
    let expr = template::parse(source).map_err(|e| {
        origin
            .shifted(e.column - 1)
            .error(format!("template: {}", e.message))
    })?;
    Ok(Template {
        source: source.to_string(),
        expr,
        origin,
    })
}

/// A template realised: its words, with `fill`'s words for the slots it
/// names and an example value for the others.
fn realise(
    c: &Catalog,
    e: &Expr,
    turn: usize,
    fill: &BTreeMap<String, String>,
    out: &mut Vec<String>,
    depth: usize,
) {
    match e {
        Expr::Word(w) => out.push(w.clone()),
        Expr::Seq(v) => v.iter().for_each(|x| realise(c, x, turn, fill, out, depth)),
        Expr::Alt(v) => {
            if let Some(x) = v.first() {
                realise(c, x, turn, fill, out, depth);
            }
        }
        Expr::Opt(x) => realise(c, x, turn, fill, out, depth),
        Expr::Rule { name, .. } if depth < 8 => {
            if let Some(t) = c.expansions.get(name) {
                realise(c, &t.expr, turn, fill, out, depth + 1);
            }
        }
        Expr::Rule { .. } => {}
        Expr::Slot { name, .. } if fill.contains_key(name) => out.push(fill[name].clone()),
        Expr::Slot { list, .. } => match c.list(list).map(|l| l.kind.clone()) {
            Some(ListKind::Values(v)) if !v.is_empty() => out.push(v[turn % v.len()].0.clone()),
            Some(ListKind::Parser(p)) => {
                out.extend(p.examples().first().map(|e| (*e).to_string()));
            }
            _ => {}
        },
    }
}

/// Words as a sentence: capitalised, with a full stop.
fn sentence(words: &[String]) -> Option<String> {
    let s = words.join(" ");
    let first = s.chars().next()?;
    Some(format!(
        "{}{}.",
        first.to_uppercase(),
        &s[first.len_utf8()..]
    ))
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Catalog {
        Catalog::default()
    }

    /// Adds the skill file text `src`, reported as `name` in errors.
    pub fn add_str(&mut self, name: &str, src: &str) -> Result<(), Error> {
        let file: Arc<str> = Arc::from(name);
        let raw: RawFile = toml::from_str(src).map_err(|e| {
            let at = e.span().map_or(0, |s| s.start);
            Origin::at(&file, src, at).error(e.message().trim().to_string())
        })?;
        for (name, spanned) in raw.expansions {
            let origin = string_origin(&file, src, spanned.span());
            let t = parse_template(spanned.get_ref(), origin)?;
            self.expansions.insert(name, t);
        }
        for (name, spanned) in raw.lists {
            let origin = Origin::at(&file, src, spanned.span().start);
            let raw = spanned.into_inner();
            let kinds = usize::from(raw.values.is_some())
                + usize::from(raw.parser.is_some())
                + usize::from(raw.wildcard);
            if kinds != 1 {
                return Err(origin.error(format!(
                    "list `{name}` needs exactly one of `values`, `parser` or `wildcard = true`"
                )));
            }
            let kind = if let Some(values) = raw.values {
                let mut out = Vec::new();
                for v in values {
                    let (heard, value) = match v {
                        RawValue::Plain(s) => (s.clone(), s),
                        RawValue::Mapped { heard, out } => (heard, out),
                    };
                    if text::tokens(&heard).is_empty() {
                        return Err(origin.error(format!(
                            "list `{name}` has a value with no words: {heard:?}"
                        )));
                    }
                    out.push((heard, value));
                }
                ListKind::Values(out)
            } else if let Some(p) = raw.parser {
                ListKind::Parser(ParserKind::from_name(&p).ok_or_else(|| {
                    origin.error(format!(
                        "list `{name}`: unknown parser `{p}` (integer, number, ordinal, duration, time, date, percentage, temperature)"
                    ))
                })?)
            } else {
                ListKind::Wildcard
            };
            match (self.lists.get_mut(&name), kind) {
                (
                    Some(List {
                        kind: ListKind::Values(old),
                        ..
                    }),
                    ListKind::Values(new),
                ) => {
                    old.extend(new);
                }
                // The same definition twice is no conflict.
                (
                    Some(List {
                        kind: ListKind::Wildcard,
                        ..
                    }),
                    ListKind::Wildcard,
                ) => {}
                (
                    Some(List {
                        kind: ListKind::Parser(a),
                        ..
                    }),
                    ListKind::Parser(b),
                ) if *a == b => {}
                (Some(old), _) => {
                    return Err(origin.error(format!(
                        "list `{name}` is already defined at {} with other kind of values",
                        old.origin
                    )));
                }
                (None, kind) => {
                    self.lists.insert(
                        name,
                        List {
                            kind,
                            fuzzy: raw.fuzzy,
                            origin,
                        },
                    );
                }
            }
        }
        for (name, spanned) in raw.intents {
            let origin = Origin::at(&file, src, spanned.span().start);
            let raw = spanned.into_inner();
            let intent = self.intents.entry(name).or_insert_with(|| Intent {
                origin: origin.clone(),
                ..Intent::default()
            });
            for t in raw.templates {
                let origin = string_origin(&file, src, t.span());
                intent.templates.push(parse_template(t.get_ref(), origin)?);
            }
            if !raw.description.is_empty() {
                intent.description = raw.description;
            }
            if !raw.required.is_empty() {
                intent.required = raw.required;
            }
            intent.ask.extend(raw.ask);
            intent.confirm |= raw.confirm;
            if !raw.replies.is_empty() {
                intent.replies = raw.replies;
            }
            if let Some(a) = raw.action {
                intent.action_origin = Some(string_origin(&file, src, a.span()));
                intent.action = Some(a.into_inner());
            }
            if !raw.args.is_empty() {
                intent.args = raw
                    .args
                    .into_iter()
                    .map(|(arg, slot)| ArgBinding {
                        arg,
                        origin: string_origin(&file, src, slot.span()),
                        slot: slot.into_inner(),
                    })
                    .collect();
            }
            if raw.summary.is_some() {
                intent.summary = raw.summary;
            }
        }
        for (key, variants) in raw.replies {
            self.replies.insert(key, variants);
        }
        self.fillers.extend(raw.fillers);
        for r in raw.rules {
            self.rules.push(RuleSource {
                name: r.name,
                salience: r.salience,
                when_origin: string_origin(&file, src, r.when.span()),
                when: r.when.into_inner(),
                then_origin: string_origin(&file, src, r.then.span()),
                then: r.then.into_inner(),
                because: r.because,
            });
        }
        Ok(())
    }

    /// Adds a skill file.
    pub fn add_file(&mut self, path: &Path) -> Result<(), Error> {
        let src = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_path_buf(),
            source,
        })?;
        self.add_str(&path.display().to_string(), &src)
    }

    /// Adds every `*.toml` file of a folder, in name order.
    pub fn add_dir(&mut self, dir: &Path) -> Result<(), Error> {
        let paths = crate::files_in(dir, |p| p.extension().is_some_and(|e| e == "toml"))?;
        for p in paths {
            self.add_file(&p)?;
        }
        Ok(())
    }

    /// Adds an intent's template written in code (for example learned from
    /// examples), reported as `origin` in errors.
    pub fn add_template(
        &mut self,
        intent: &str,
        source: &str,
        origin: Origin,
    ) -> Result<(), Error> {
        let t = parse_template(source, origin.clone())?;
        self.intents
            .entry(intent.to_string())
            .or_insert_with(|| Intent {
                origin,
                ..Intent::default()
            })
            .templates
            .push(t);
        Ok(())
    }

    /// The list a slot refers to: a declared list, or a parser by its name
    /// (`{duration}` works without declaring a list).
    pub fn list(&self, name: &str) -> Option<std::borrow::Cow<'_, List>> {
        use std::borrow::Cow;
        if let Some(l) = self.lists.get(name) {
            return Some(Cow::Borrowed(l));
        }
        ParserKind::from_name(name).map(|p| {
            Cow::Owned(List {
                kind: ListKind::Parser(p),
                fuzzy: false,
                origin: Origin::default(),
            })
        })
    }

    /// The slots `intent`'s templates can fill, each with the list that
    /// fills it (the first template's, where several name one slot),
    /// expansions followed.
    pub fn slots_of(&self, intent: &str) -> BTreeMap<String, String> {
        fn walk(c: &Catalog, e: &Expr, out: &mut BTreeMap<String, String>, depth: usize) {
            if depth > 32 {
                return;
            }
            match e {
                Expr::Slot { list, name, .. } => {
                    out.entry(name.clone()).or_insert_with(|| list.clone());
                }
                Expr::Seq(v) | Expr::Alt(v) => v.iter().for_each(|x| walk(c, x, out, depth)),
                Expr::Opt(x) => walk(c, x, out, depth),
                Expr::Rule { name, .. } => {
                    if let Some(t) = c.expansions.get(name) {
                        walk(c, &t.expr, out, depth + 1);
                    }
                }
                Expr::Word(_) => {}
            }
        }
        let mut out = BTreeMap::new();
        for t in self
            .intents
            .get(intent)
            .map(|i| &i.templates[..])
            .unwrap_or_default()
        {
            walk(self, &t.expr, &mut out, 0);
        }
        out
    }

    /// One example sentence per intent that acts (in name order), from its
    /// first template: the first alternative, optional words included, each
    /// slot filled with a listed value (taking turns through the list) or a
    /// typical value for a parser; free text is left out. Used to bias speech
    /// recognition towards what the skills expect ("Turn on kitchen light.
    /// Set a timer for ten minutes.").
    pub fn examples(&self) -> Vec<String> {
        let none = BTreeMap::new();
        let mut out = Vec::new();
        for (i, intent) in self
            .intents
            .values()
            .filter(|x| x.action.is_some())
            .enumerate()
        {
            let Some(t) = intent.templates.first() else {
                continue;
            };
            let mut words = Vec::new();
            realise(self, &t.expr, i, &none, &mut words, 0);
            if let Some(s) = sentence(&words) {
                out.push(s);
            }
        }
        out
    }

    /// The words of `intent`'s templates (not of its slot values),
    /// expansions followed, as the tokenizer gives them.
    pub fn words_of(&self, intent: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        if let Some(i) = self.intents.get(intent) {
            for t in &i.templates {
                leaves(self, &t.expr, 0, &mut |e| {
                    if let Expr::Word(w) = e {
                        out.extend(crate::text::words(w));
                    }
                });
            }
        }
        out
    }

    /// Other ways to say a request of `intent` whose slots were said as
    /// `said` (slot name to the words used): every template of the intent
    /// with exactly those slots, realised with those words (first
    /// alternatives, optional words kept). For paraphrase variants of test
    /// scenarios.
    pub fn paraphrases(&self, intent: &str, said: &BTreeMap<String, String>) -> Vec<String> {
        let Some(i) = self.intents.get(intent) else {
            return Vec::new();
        };
        let want: BTreeSet<String> = said.keys().cloned().collect();
        let mut out: Vec<String> = Vec::new();
        for t in &i.templates {
            let mut names = BTreeSet::new();
            leaves(self, &t.expr, 0, &mut |e| {
                if let Expr::Slot { name, .. } = e {
                    names.insert(name.clone());
                }
            });
            if names != want {
                continue;
            }
            let mut words = Vec::new();
            realise(self, &t.expr, 0, said, &mut words, 0);
            if let Some(s) = sentence(&words)
                && !out.contains(&s)
            {
                out.push(s);
            }
        }
        out
    }

    /// Checks that every slot names a list and every `<rule>` an expansion,
    /// without cycles.
    pub fn check(&self) -> Result<(), Error> {
        fn walk(
            c: &Catalog,
            e: &Expr,
            origin: &Origin,
            stack: &mut Vec<String>,
        ) -> Result<(), Error> {
            match e {
                Expr::Slot { list, column, .. } => {
                    if c.list(list).is_none() {
                        return Err(origin
                            .shifted(column - 1)
                            .error(format!("no list or parser named `{list}`")));
                    }
                }
                Expr::Rule { name, column } => {
                    let Some(t) = c.expansions.get(name) else {
                        return Err(origin
                            .shifted(column - 1)
                            .error(format!("no expansion named `{name}`")));
                    };
                    if stack.contains(name) {
                        return Err(origin
                            .shifted(column - 1)
                            .error(format!("expansion `{name}` uses itself")));
                    }
                    stack.push(name.clone());
                    walk(c, &t.expr, &t.origin, stack)?;
                    stack.pop();
                }
                Expr::Seq(v) | Expr::Alt(v) => {
                    for x in v {
                        walk(c, x, origin, stack)?;
                    }
                }
                Expr::Opt(x) => walk(c, x, origin, stack)?,
                Expr::Word(_) => {}
            }
            Ok(())
        }
        for intent in self.intents.values() {
            for t in &intent.templates {
                walk(self, &t.expr, &t.origin, &mut Vec::new())?;
            }
        }
        Ok(())
    }
}

/// Calls `f` on every word and slot of `e`, alternatives and optional
/// parts included, expansions followed to a depth of 8.
fn leaves(c: &Catalog, e: &Expr, depth: usize, f: &mut dyn FnMut(&Expr)) {
    match e {
        Expr::Seq(v) | Expr::Alt(v) => v.iter().for_each(|x| leaves(c, x, depth, f)),
        Expr::Opt(x) => leaves(c, x, depth, f),
        Expr::Rule { name, .. } => {
            if depth < 8
                && let Some(t) = c.expansions.get(name)
            {
                leaves(c, &t.expr, depth + 1, f);
            }
        }
        leaf => f(leaf),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(src: &str, expect: &str) {
        let mut c = Catalog::new();
        let got = match c.add_str("skill.toml", src).and_then(|()| c.check()) {
            Ok(()) => "ok".to_string(),
            Err(e) => e.to_string(),
        };
        assert_eq!(got, expect, "source:\n{src}");
    }

    #[test]
    fn paraphrases_realise_each_template_with_the_words_said() {
        let mut c = Catalog::new();
        c.add_str(
            "x.toml",
            "[intents.a]\ntemplates = [\"(turn|switch) on [the] {device}\", \"{device} on\", \"x\", \"on {device} at {level}\"]\naction = \"a\"\n[lists.device]\nvalues = [\"lamp\", \"fan\"]\n[lists.level]\nparser = \"percentage\"\n",
        )
        .expect("loads");
        let said = BTreeMap::from([("device".to_string(), "kitchen fan".to_string())]);
        assert_eq!(
            c.paraphrases("a", &said),
            ["Turn on the kitchen fan.", "Kitchen fan on."]
        );
        assert!(c.paraphrases("nope", &said).is_empty());
    }

    #[test]
    fn examples_realise_the_first_template() {
        let mut c = Catalog::new();
        c.add_str(
            "x.toml",
            "[intents.a]\ntemplates = [\"(turn|switch) on [the] {device}\", \"x\"]\naction = \"a\"\n[intents.b]\ntemplates = [\"set a timer for {duration}\"]\naction = \"b\"\n[intents.c]\ntemplates = [\"yes\"]\n[lists.device]\nvalues = [\"lamp\", \"fan\"]\n",
        )
        .expect("loads");
        assert_eq!(
            c.examples(),
            ["Turn on the lamp.", "Set a timer for ten minutes."]
        );
    }

    #[test]
    fn files_merge_and_conflicts_say_where() {
        let mut c = Catalog::new();
        c.add_str(
            "a.toml",
            "[lists.x]\nwildcard = true\n[intents.i]\ntemplates = [\"a {x}\"]\n",
        )
        .expect("loads");
        c.add_str(
            "b.toml",
            "[lists.x]\nwildcard = true\n[intents.i]\ntemplates = [\"b {x}\"]\n",
        )
        .expect("the same list again is fine");
        assert_eq!(c.intents["i"].templates.len(), 2);
        let e = c
            .add_str("c.toml", "[lists.x]\nvalues = [\"a\"]\n")
            .expect_err("conflict");
        assert_eq!(
            e.to_string(),
            "c.toml:1:1: list `x` is already defined at a.toml:1:1 with other kind of values"
        );
    }

    #[test]
    fn malformed_files_say_file_line_and_column() {
        check(
            "[intents.a]\ntemplates = [\"turn on {x}\"]\n[lists.x]\nvalues = [\"a\"]\n",
            "ok",
        );
        check(
            "[intents.a]\ntemplates = [\"ok\", \"turn (on|off\"]\n",
            "skill.toml:2:26: template: `(` is never closed",
        );
        check(
            "[intents.a]\ntemplates = [\"turn on {lamp}\"]\n",
            "skill.toml:2:23: no list or parser named `lamp`",
        );
        check(
            "[intents.a]\ntemplates = [\"go <x>\"]\n[expansions]\nx = \"a <x>\"\n",
            "skill.toml:4:8: expansion `x` uses itself",
        );
        check(
            "[intents.a]\ntemplate = [\"x\"]\n",
            "skill.toml:2:1: unknown field `template`, expected one of `description`, `templates`, `required`, `ask`, `confirm`, `replies`, `action`, `args`, `summary`",
        );
        check(
            "[lists.x]\nparser = \"colour\"\n",
            "skill.toml:1:1: list `x`: unknown parser `colour` (integer, number, ordinal, duration, time, date, percentage, temperature)",
        );
        check(
            "[lists.x]\nwildcard = true\nvalues = [\"a\"]\n",
            "skill.toml:1:1: list `x` needs exactly one of `values`, `parser` or `wildcard = true`",
        );
        check(
            "intents = 3",
            "skill.toml:1:11: invalid type: integer `3`, expected a map",
        );
        check(
            "[intents.a\n",
            "skill.toml:1:11: unclosed table, expected `]`",
        );
    }
}
