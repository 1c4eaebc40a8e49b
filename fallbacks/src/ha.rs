//! Home Assistant's intent format (home-assistant/intents, CC-BY-4.0):
//! sentence files (intents and their data blocks, `expansion_rules`,
//! `lists` with values, ranges and wildcards, `skip_words`,
//! `requires_context`/`excludes_context`, fixed `slots`, `response`), a
//! home in the format of its test fixtures (areas, floors, entities), and
//! its test files. The sentences are compiled into the same automaton as
//! the TOML skills ([`Matcher`]): each data block becomes an intent of a
//! [`Catalog`] (`HassTurnOn#3`), its rules inlined, its local lists and the
//! entity names its context allows as lists of its own.
//!
//! Templates are hassil's: `(a|b)`, `[x]`, `(a;b)` (any order), `{list}`,
//! `{list:slot}`, `<rule>`, where a group written against a word joins it
//! (`light[s]` is "light" or "lights").

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value as Json;

use crate::catalog::{Catalog, Intent, List, ListKind, ParserKind, Template};
use crate::error::{Error, Origin};
use crate::matcher::{Context, Matcher, Value};
use crate::values::NumberWords;

/// Most strings a list value's `in` template or a joined word may stand
/// for. Turkish writes its case endings as one rule of 268 strings
/// (`<ismin_halleri>`) and its cover words with a plural before them,
/// 5,360 in all ("perdeleri"); at 256, such words were read word by word
/// and never matched (tr 21 of 27, now 27). A product is refused before
/// it is built.
const MAX_ALTERNATIVES: usize = 8192;
/// Deepest nesting of rules within rules.
const MAX_RULE_DEPTH: usize = 24;
/// Deepest nesting of groups in one template (HA's deepest: 6).
const MAX_NESTING: usize = 64;
/// Most items of a permutation `(a;b;...)` (HA's most: 5; 8 give 40,320
/// orders).
const MAX_PERMUTED: usize = 8;
/// Most pieces a sentence may become once its rules are inlined.
const MAX_NODES: usize = 200_000;
/// Most values a list made by joining words to a slot may have.
const MAX_JOINED: usize = 100_000;

// ---------------------------------------------------------------------------
// The files.

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawSentences {
    language: Option<String>,
    intents: BTreeMap<String, RawIntent>,
    lists: BTreeMap<String, RawList>,
    expansion_rules: BTreeMap<String, String>,
    skip_words: Vec<String>,
    responses: Json,
    settings: RawSettings,
    /// An intent folder's file (`sentences/LANG/INTENT/KIND.yaml`): the
    /// intent's blocks, the intent named by the folder.
    data: Vec<RawData>,
}

/// A language's `settings` (in its `_common.yaml`).
#[derive(Deserialize, Default)]
#[serde(default)]
struct RawSettings {
    /// Chinese: words are not parted by spaces, and spaces between its
    /// characters mean nothing (hassil drops them; we part every one).
    ignore_whitespace: bool,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawIntent {
    data: Vec<RawData>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawData {
    sentences: Vec<String>,
    slots: BTreeMap<String, Json>,
    requires_context: BTreeMap<String, Json>,
    excludes_context: BTreeMap<String, Json>,
    expansion_rules: BTreeMap<String, String>,
    lists: BTreeMap<String, RawList>,
    response: Option<String>,
    metadata: Json,
    /// The domains of the entities `{name}` may be (intent folders).
    name_domains: Vec<String>,
    /// The domain slot the block fills (intent folders).
    inferred_domain: Option<String>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
struct RawList {
    values: Option<Vec<RawValue>>,
    range: Option<RawRange>,
    wildcard: bool,
}

#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum RawValue {
    Mapped {
        #[serde(rename = "in")]
        heard: String,
        out: Json,
    },
    Plain(Json),
}

/// A range list: numbers from `from` to `to`.
#[derive(Deserialize, Default, Clone, Copy, Debug, PartialEq)]
#[serde(default)]
struct RawRange {
    from: f64,
    to: f64,
    step: Option<f64>,
    multiplier: Option<f64>,
    fractions: Option<Fractions>,
}

#[derive(Deserialize, Clone, Copy, Debug, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Fractions {
    Halves,
    Tenths,
}

/// A home: areas, floors and entities (the format of home-assistant/intents'
/// test fixtures).
#[derive(Deserialize, Default, Debug, Clone)]
#[serde(default)]
pub struct Home {
    /// Floors.
    pub floors: Vec<Floor>,
    /// Areas.
    pub areas: Vec<Area>,
    /// Entities.
    pub entities: Vec<Entity>,
}

impl Home {
    /// Its floors', areas' and entities' names, each once, in that order.
    pub fn names(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let all = self.floors.iter().map(|f| &f.name);
        let all = all.chain(self.areas.iter().map(|a| &a.name));
        for n in all.chain(self.entities.iter().map(|e| &e.name)) {
            if !n.trim().is_empty() && !out.contains(n) {
                out.push(n.clone());
            }
        }
        out
    }
}

/// A floor.
#[derive(Deserialize, Default, Debug, Clone)]
#[serde(default)]
pub struct Floor {
    /// Its name.
    pub name: String,
    /// Its id.
    pub id: String,
}

/// An area.
#[derive(Deserialize, Default, Debug, Clone)]
#[serde(default)]
pub struct Area {
    /// Its name.
    pub name: String,
    /// Its id.
    pub id: String,
    /// Its floor's id.
    pub floor: Option<String>,
}

/// An entity.
#[derive(Deserialize, Default, Debug, Clone)]
#[serde(default)]
pub struct Entity {
    /// Its name.
    pub name: String,
    /// `domain.object_id`.
    pub id: String,
    /// Its area's id.
    pub area: Option<String>,
    /// Its state.
    pub state: Json,
    /// Its attributes (`device_class`, `unit_of_measurement`, ...).
    pub attributes: BTreeMap<String, Json>,
}

impl Entity {
    /// The entity's domain (`light` of `light.kitchen`).
    pub fn domain(&self) -> &str {
        self.id.split('.').next().unwrap_or_default()
    }

    /// The value of a context key for this entity (`domain`,
    /// `device_class`, or an attribute).
    fn context(&self, key: &str) -> Option<String> {
        match key {
            "domain" => Some(self.domain().to_string()),
            _ => self.attributes.get(key).map(json_text),
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawTests {
    tests: Vec<RawTest>,
    /// An intent folder's test file brings its own home.
    entities: Vec<FolderEntity>,
    areas: Vec<Area>,
    floors: Vec<Floor>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct FolderEntity {
    name: String,
    domain: String,
    area: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawTest {
    sentences: Vec<String>,
    intent: RawExpected,
    /// An intent folder's test names its slots here.
    slots: BTreeMap<String, Json>,
    response: Option<Json>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawExpected {
    name: String,
    slots: BTreeMap<String, Json>,
    context: BTreeMap<String, Json>,
}

impl Home {
    /// A home from a YAML file (the test fixtures' format: `areas`,
    /// `floors`, `entities`), errors at `file:line:column`.
    pub fn load(path: &Path) -> Result<Home, Error> {
        Ok(read_yaml(path)?.0)
    }
}

/// HA's response templates of one language (`responses/LANG/*.yaml`):
/// by intent, then by the key a data block names (`default` otherwise).
#[derive(Debug, Clone, Default)]
pub struct Responses {
    templates: BTreeMap<String, BTreeMap<String, String>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawResponses {
    responses: RawResponseIntents,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RawResponseIntents {
    intents: BTreeMap<String, BTreeMap<String, String>>,
}

impl Responses {
    /// Every `*.yaml` of `dir` (one language's responses).
    pub fn load(dir: &Path) -> Result<Responses, Error> {
        let mut r = Responses::default();
        for p in yaml_files(dir)? {
            let (raw, _): (RawResponses, String) = read_yaml(&p)?;
            for (intent, keys) in raw.responses.intents {
                r.templates.entry(intent).or_default().extend(keys);
            }
        }
        Ok(r)
    }

    /// The template for `intent`'s response `key` (`default` when `None`).
    pub fn get(&self, intent: &str, key: Option<&str>) -> Option<&str> {
        self.templates
            .get(intent)?
            .get(key.unwrap_or("default"))
            .map(String::as_str)
    }
}

/// A YAML file as `T`, errors at `file:line:column`.
fn read_yaml<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<(T, String), Error> {
    let src = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let parsed = parse_yaml(&path.display().to_string(), &src)?;
    Ok((parsed, src))
}

/// YAML text as `T`, errors at `name:line:column`.
fn parse_yaml<T: for<'de> Deserialize<'de>>(name: &str, src: &str) -> Result<T, Error> {
    serde_norway::from_str(src).map_err(|e| {
        let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
        Error::Invalid {
            file: name.to_string(),
            line,
            column,
            message: e.to_string(),
        }
    })
}

/// A YAML or JSON value as the words it says (a string as it is).
pub fn json_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        Json::Number(n) => n.to_string(),
        other => other.to_string(),
    }
}

/// The strings a value allows: one, or any of a list (none for null).
pub fn allowed(v: &Json) -> Vec<String> {
    match v {
        Json::Array(a) => a.iter().map(json_text).collect(),
        Json::Null => Vec::new(),
        other => vec![json_text(other)],
    }
}

// ---------------------------------------------------------------------------
// hassil's template syntax, character by character.

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Seq(Vec<Node>),
    Alt(Vec<Node>),
    Perm(Vec<Node>),
    Opt(Box<Node>),
    Slot { list: String, name: String },
    Rule(String),
}

struct Syntax<'a> {
    chars: Vec<char>,
    pos: usize,
    src: &'a str,
    depth: usize,
}

impl Syntax<'_> {
    fn err<T>(&self, message: impl Into<String>) -> Result<T, (usize, String)> {
        Err((self.pos, message.into()))
    }

    /// Alternatives (`|`) or, inside parentheses, a permutation (`;`).
    fn group(&mut self, close: Option<char>) -> Result<Node, (usize, String)> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return self.err(format!("groups nested more than {MAX_NESTING} deep"));
        }
        let out = self.group_inner(close);
        self.depth -= 1;
        out
    }

    fn group_inner(&mut self, close: Option<char>) -> Result<Node, (usize, String)> {
        let mut alts = vec![self.seq()?];
        let mut perm = false;
        loop {
            match self.chars.get(self.pos).copied() {
                Some('|') => {
                    self.pos += 1;
                    alts.push(self.seq()?);
                }
                Some(';') => {
                    perm = true;
                    self.pos += 1;
                    alts.push(self.seq()?);
                }
                Some(c) if Some(c) == close => {
                    self.pos += 1;
                    break;
                }
                None if close.is_none() => break,
                None => return self.err(format!("missing `{}`", close.unwrap_or(')'))),
                Some(c) => return self.err(format!("unexpected `{c}`")),
            }
        }
        if perm && alts.len() > MAX_PERMUTED {
            return self.err(format!(
                "a permutation of more than {MAX_PERMUTED} items (;)"
            ));
        }
        Ok(if perm {
            Node::Perm(alts)
        } else if alts.len() == 1 {
            alts.pop().unwrap_or(Node::Seq(Vec::new()))
        } else {
            Node::Alt(alts)
        })
    }

    fn seq(&mut self) -> Result<Node, (usize, String)> {
        let mut items = Vec::new();
        let mut text = String::new();
        while let Some(c) = self.chars.get(self.pos).copied() {
            match c {
                '|' | ';' | ')' | ']' => break,
                '(' | '[' | '{' | '<' => {
                    if !text.is_empty() {
                        items.push(Node::Text(std::mem::take(&mut text)));
                    }
                    self.pos += 1;
                    items.push(match c {
                        '(' => self.group(Some(')'))?,
                        '[' => Node::Opt(Box::new(self.group(Some(']'))?)),
                        '{' => {
                            let name = self.name('}')?;
                            let (list, slot) = match name.split_once(':') {
                                Some((l, s)) => (l.trim().to_string(), s.trim().to_string()),
                                None => (name.trim().to_string(), name.trim().to_string()),
                            };
                            if list.is_empty() || slot.is_empty() {
                                return self.err("a slot needs a list name");
                            }
                            Node::Slot { list, name: slot }
                        }
                        _ => {
                            let name = self.name('>')?;
                            if name.trim().is_empty() {
                                return self.err("a rule needs a name");
                            }
                            Node::Rule(name.trim().to_string())
                        }
                    });
                }
                '}' | '>' => return self.err(format!("unexpected `{c}`")),
                '\\' => {
                    self.pos += 1;
                    if let Some(&e) = self.chars.get(self.pos) {
                        text.push(e);
                    }
                    self.pos += 1;
                }
                _ => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
        if !text.is_empty() {
            items.push(Node::Text(text));
        }
        Ok(Node::Seq(items))
    }

    fn name(&mut self, close: char) -> Result<String, (usize, String)> {
        let mut name = String::new();
        while let Some(c) = self.chars.get(self.pos).copied() {
            self.pos += 1;
            if c == close {
                return Ok(name);
            }
            if "()[]{}<>|".contains(c) {
                self.pos -= 1;
                return self.err(format!("`{c}` in a name"));
            }
            name.push(c);
        }
        let _ = self.src;
        self.err(format!("missing `{close}`"))
    }
}

/// Parses a hassil template; the error carries a 0-based character column.
fn parse_hassil(src: &str) -> Result<Node, (usize, String)> {
    let mut p = Syntax {
        chars: src.chars().collect(),
        pos: 0,
        src,
        depth: 0,
    };
    p.group(None)
}

/// How a block's templates become ours: rules to inline, lists renamed.
struct Scope<'a> {
    local_rules: &'a BTreeMap<String, String>,
    global_rules: &'a BTreeMap<String, String>,
    /// A list's name as the catalog knows it (local lists and the entity
    /// names the block's context allows are lists of the block's own).
    rename: &'a dyn Fn(&str) -> String,
    /// Pieces made so far (see [`MAX_NODES`]).
    made: std::cell::Cell<usize>,
}

/// Why a template's rules could not be inlined.
#[derive(Debug)]
enum Unresolved {
    /// It uses a rule no file of the language defines: the template is left
    /// out with a warning, as hassil, which inlines rules only when it
    /// matches, loads such a language and fails only that template (Swahili
    /// at aa55003: `<kivuli>`, `<panzia>` in its cover classes).
    Missing(String),
    /// Anything else: the language does not load.
    Bad(String),
}

impl std::fmt::Display for Unresolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unresolved::Missing(rule) => write!(f, "no expansion rule <{rule}>"),
            Unresolved::Bad(m) => f.write_str(m),
        }
    }
}

impl Scope<'_> {
    /// `node` with every rule inlined and slots renamed.
    fn resolve(&self, node: &Node, depth: usize) -> Result<Node, Unresolved> {
        if depth > MAX_RULE_DEPTH {
            return Err(Unresolved::Bad(
                "rules nested too deep (a rule that uses itself?)".into(),
            ));
        }
        self.made.set(self.made.get() + 1);
        if self.made.get() > MAX_NODES {
            return Err(Unresolved::Bad(format!(
                "its rules make it more than {MAX_NODES} pieces long"
            )));
        }
        let all = |v: &[Node]| -> Result<Vec<Node>, Unresolved> {
            v.iter().map(|n| self.resolve(n, depth)).collect()
        };
        Ok(match node {
            Node::Text(t) => Node::Text(t.clone()),
            Node::Seq(v) => Node::Seq(all(v)?),
            Node::Alt(v) => Node::Alt(all(v)?),
            Node::Perm(v) => Node::Perm(all(v)?),
            Node::Opt(x) => Node::Opt(Box::new(self.resolve(x, depth)?)),
            Node::Slot { list, name } => Node::Slot {
                list: (self.rename)(list),
                name: name.clone(),
            },
            Node::Rule(name) => {
                let body = self
                    .local_rules
                    .get(name)
                    .or_else(|| self.global_rules.get(name))
                    .ok_or_else(|| Unresolved::Missing(name.clone()))?;
                let parsed = parse_hassil(body).map_err(|(c, m)| {
                    Unresolved::Bad(format!("in rule <{name}>, column {}: {m}", c + 1))
                })?;
                // A group: what a rule stands for is one piece.
                Node::Alt(vec![self.resolve(&parsed, depth + 1)?])
            }
        })
    }
}

/// `parts` (a run written without spaces) with its slot-free end glued
/// into the last words of the part before it, which has a slot: `[X,
/// "[s]"]` is `[X']`, X' ending in its own last words with and without
/// "s". `None` when there is nothing to glue or it cannot be.
fn glue_trailing(parts: &[Node]) -> Option<Vec<Node>> {
    let k = parts.iter().rposition(|n| strings(n).is_none())?;
    if k + 1 == parts.len() {
        return None;
    }
    let suffixes = strings(&Node::Seq(parts[k + 1..].to_vec()))?;
    let glued = glue(&parts[k], &suffixes)?;
    let mut out = parts[..k].to_vec();
    out.push(glued);
    Some(out)
}

/// The longest sentence, in words, whose known words are tried parted one
/// at a time (each try is a parse).
const COMPOUND_SENTENCE_MAX: usize = 24;

/// The shortest a part of a compound may be, in letters.
const COMPOUND_PART_MIN: usize = 3;

/// The most ways of parting one unknown word that are tried (each a parse).
const COMPOUND_WAYS_MAX: usize = 8;

/// The most other partings tried for one sentence (each a parse).
const COMPOUND_TRIES_MAX: usize = 16;

/// The longest word, in letters, that is tried parted.
const COMPOUND_LETTERS_MAX: usize = 64;

/// The shortest a known word ending a compound of two known words may be,
/// in letters: a case ending ("उच्चतममा": "उच्चतम" "मा", Nepali).
const COMPOUND_END_MIN: usize = 2;

/// `word` as two words `known` knows written together, the longest first
/// part first (parts of three letters or more, then an ending of two:
/// "woonkamer" "gordijnen", not "woonkamergordijn" "en"); or, unless the
/// word itself is known (`whole_known`), an unknown first part before a
/// known word.
fn compound(word: &str, known: impl Fn(&str) -> bool, whole_known: bool) -> Option<(&str, &str)> {
    compounds(word, known, whole_known).into_iter().next()
}

/// Every way [`compound`] may part `word`, in its order of preference:
/// two known parts (parts of three letters or more, the longest first part
/// first, then with an ending of two), then, unless the word itself is
/// known, the unknown first parts before a known word (the longest such
/// word first).
fn compounds(word: &str, known: impl Fn(&str) -> bool, whole_known: bool) -> Vec<(&str, &str)> {
    let at: Vec<usize> = word.char_indices().map(|(i, _)| i).collect();
    if at.len() < COMPOUND_PART_MIN + COMPOUND_END_MIN {
        return Vec::new();
    }
    let splits = |end_min: usize| {
        (COMPOUND_PART_MIN..=at.len() - end_min)
            .rev()
            .map(|k| word.split_at(at[k]))
    };
    let mut out: Vec<(&str, &str)> = splits(COMPOUND_PART_MIN)
        .filter(|(a, b)| known(a) && known(b))
        .collect();
    out.extend(
        splits(COMPOUND_END_MIN)
            .filter(|(a, b)| b.chars().count() < COMPOUND_PART_MIN && known(a) && known(b)),
    );
    if out.is_empty() && !whole_known {
        // A name the sentences cannot know before a word they do
        // ("pizzatimer": a timer's name, then "timer").
        out.extend(splits(COMPOUND_KNOWN_MIN).rev().filter(|(_, b)| known(b)));
    }
    out
}

/// The shortest a known word ending a compound whose first part is not
/// known may be, in letters.
const COMPOUND_KNOWN_MIN: usize = 4;

/// `node` followed, with no space, by any of `suffixes`; `None` when its
/// end is not a word (a slot, or nothing).
fn glue(node: &Node, suffixes: &[String]) -> Option<Node> {
    match node {
        Node::Text(t) if !t.is_empty() && !t.ends_with(char::is_whitespace) => Some(Node::Alt(
            suffixes
                .iter()
                .map(|s| Node::Text(format!("{t}{s}")))
                .collect(),
        )),
        Node::Seq(v) => {
            let (last, init) = v.split_last()?;
            match last {
                // Said or not: glued to it, or to what comes before; where
                // that cannot take it (a space, "[ ]", or a slot), a word of
                // its own after what comes before (regression
                // `a_suffix_after_an_optional_unit_is_glued_to_it`: Korean
                // "{temperature}[ ][°|도][로]" reads "30도로").
                Node::Opt(x) => {
                    let unsaid = glue(&Node::Seq(init.to_vec()), suffixes).unwrap_or_else(|| {
                        let apart =
                            Node::Alt(suffixes.iter().map(|s| Node::Text(s.clone())).collect());
                        Node::Seq(
                            init.iter()
                                .cloned()
                                .chain([Node::Text(" ".into()), apart])
                                .collect(),
                        )
                    });
                    Some(Node::Alt(vec![
                        Node::Seq(init.iter().cloned().chain([glue(x, suffixes)?]).collect()),
                        unsaid,
                    ]))
                }
                _ => Some(Node::Seq(
                    init.iter()
                        .cloned()
                        .chain([glue(last, suffixes)?])
                        .collect(),
                )),
            }
        }
        // Each alternative that ends in a word glued; one that ends in a
        // slot followed by the suffix as a word of its own, as before.
        Node::Alt(v) => {
            let glued: Vec<Option<Node>> = v.iter().map(|x| glue(x, suffixes)).collect();
            if glued.iter().all(Option::is_none) {
                return None;
            }
            let apart = Node::Alt(suffixes.iter().map(|s| Node::Text(s.clone())).collect());
            Some(Node::Alt(
                v.iter()
                    .zip(glued)
                    .map(|(x, g)| {
                        g.unwrap_or_else(|| {
                            Node::Seq(vec![x.clone(), Node::Text(" ".into()), apart.clone()])
                        })
                    })
                    .collect(),
            ))
        }
        Node::Perm(v) => glue(&permutations(v), suffixes),
        _ => None,
    }
}

/// Every string `node` can be (no slots), or `None` when it holds a slot
/// or stands for too many.
fn strings(node: &Node) -> Option<Vec<String>> {
    let mut out: Vec<String> = match node {
        Node::Text(t) => vec![t.clone()],
        Node::Seq(v) => {
            let mut acc = vec![String::new()];
            for n in v {
                let s = strings(n)?;
                if acc.len().saturating_mul(s.len()) > MAX_ALTERNATIVES {
                    return None;
                }
                let mut next = Vec::with_capacity(acc.len() * s.len());
                for a in &acc {
                    for b in &s {
                        next.push(format!("{a}{b}"));
                    }
                }
                acc = next;
            }
            acc
        }
        Node::Alt(v) => {
            let mut acc = Vec::new();
            for n in v {
                acc.extend(strings(n)?);
                if acc.len() > MAX_ALTERNATIVES {
                    return None;
                }
            }
            acc
        }
        Node::Opt(x) => {
            let mut s = vec![String::new()];
            s.extend(strings(x)?);
            s
        }
        Node::Perm(v) => return strings(&permutations(v)),
        Node::Slot { .. } | Node::Rule(_) => return None,
    };
    let mut seen = BTreeSet::new();
    out.retain(|s| seen.insert(s.clone()));
    Some(out)
}

/// `(a;b;c)`: every order, a space between.
fn permutations(items: &[Node]) -> Node {
    fn go(rest: &mut Vec<Node>, done: &mut Vec<Node>, out: &mut Vec<Node>) {
        if rest.is_empty() {
            let mut seq = Vec::new();
            for (i, n) in done.iter().enumerate() {
                if i > 0 {
                    seq.push(Node::Text(" ".into()));
                }
                seq.push(n.clone());
            }
            out.push(Node::Seq(seq));
            return;
        }
        for i in 0..rest.len() {
            let n = rest.remove(i);
            done.push(n.clone());
            go(rest, done, out);
            done.pop();
            rest.insert(i, n);
        }
    }
    let mut out = Vec::new();
    go(&mut items.to_vec(), &mut Vec::new(), &mut out);
    Node::Alt(out)
}

/// Words of a string for our template syntax (specials cannot occur:
/// they were hassil's syntax).
fn words_of(s: &str) -> String {
    s.chars()
        .map(|c| if "()[]{}<>|;\\".contains(c) { ' ' } else { c })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// One piece of a sequence: text split at white space, so that pieces
/// written against each other can be joined.
enum Piece<'a> {
    Space,
    Node(std::borrow::Cow<'a, Node>),
}

/// Lists made for slots written against words: a slot of listed values
/// with a prefix or suffix joined (`{area}[e|me][t|n]`: "sovrummet").
struct Joins<'a> {
    lists: &'a mut BTreeMap<String, List>,
    made: BTreeMap<JoinKey, String>,
    /// Runs [`spread`] may still make (see [`MAX_SPREAD_RUNS`]).
    spreads: usize,
    /// Slots that stand for two ("kjøkkengardin": an area and a cover
    /// class in one word): their two names; the value holds both, parted
    /// by [`PAIR`].
    pairs: BTreeMap<String, (String, String)>,
}

/// Whether `c` is a character of a script written without spaces between
/// its words, each character a word here: Han, and Japanese kana.
fn wordlike(c: char) -> bool {
    matches!(c,
        '\u{3040}'..='\u{30ff}' // hiragana, katakana
        | '\u{3400}'..='\u{4dbf}' // Han, extension A
        | '\u{4e00}'..='\u{9fff}' // Han
        | '\u{f900}'..='\u{faff}' // Han compatibility
        | '\u{20000}'..='\u{2ebef}' // Han, extensions B to F
    )
}

/// `s` with every [`wordlike`] character a word of its own (regression
/// `chinese_is_read_character_by_character`: "停止计时器" was one word,
/// and no template written "<timer_cancel> <timer>" read it).
fn apart(s: &str) -> String {
    split_characters(s, false)
}

/// A template in our syntax, [`apart`], its slots (`{list:slot}`) as they
/// are.
fn apart_template(s: &str) -> String {
    split_characters(s, true)
}

fn split_characters(s: &str, template: bool) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    let mut in_slot = false;
    for c in s.chars() {
        match c {
            '{' if template => in_slot = true,
            '}' if template => in_slot = false,
            _ => {}
        }
        if wordlike(c) && !in_slot {
            out.push(' ');
            out.push(c);
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `s` with the spaces between two [`wordlike`] characters taken out: a
/// wildcard's words as they were said.
fn together(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::with_capacity(s.len());
    for (i, &c) in chars.iter().enumerate() {
        if c == ' '
            && i > 0
            && chars.get(i + 1).is_some_and(|&n| wordlike(n))
            && wordlike(chars[i - 1])
        {
            continue;
        }
        out.push(c);
    }
    out
}

/// A run written without spaces whose one part is a group of ways that
/// hold slots, as a group of runs, each with one of the ways (regression
/// `words_against_a_group_of_slots_go_to_each_way`: Arabic "النصف ساعة"
/// for `[ال]<timer_start_minutes_short> [<hour>]`, the rule three slots);
/// `None` for no such part, another part with a slot, or more than
/// [`MAX_SPREAD`] ways or `budget` runs.
fn spread(parts: &[Node], budget: usize) -> Option<Vec<Node>> {
    let holds_slot = |n: &Node| strings(n).is_none();
    let k = parts.iter().position(holds_slot)?;
    if parts.len() < 2 || parts[k + 1..].iter().any(holds_slot) {
        return None;
    }
    // A rule is a group of one way (its body): the group inside it.
    let mut part = &parts[k];
    while let Node::Alt(v) | Node::Seq(v) = part
        && v.len() == 1
    {
        part = &v[0];
    }
    let Node::Alt(ways) = part else {
        return None;
    };
    if ways.len() < 2 || ways.len() > MAX_SPREAD || ways.len() > budget {
        return None;
    }
    Some(
        ways.iter()
            .map(|w| {
                let mut run = parts[..k].to_vec();
                run.push(w.clone());
                run.extend(parts[k + 1..].iter().cloned());
                Node::Seq(run)
            })
            .collect(),
    )
}

/// Most ways of a group [`spread`] makes into runs.
const MAX_SPREAD: usize = 16;

/// Most runs [`spread`] makes for one template, groups within groups
/// counted (each run copies the words around it).
const MAX_SPREAD_RUNS: usize = 64;

/// `parts` with each sequence and one-way group spread into its pieces: a
/// rule that is one sequence (`<area>` = "{area}[s]") is its pieces.
fn flattened(parts: &[Node]) -> Vec<Node> {
    fn flat(n: &Node, out: &mut Vec<Node>) {
        match n {
            Node::Seq(v) => v.iter().for_each(|x| flat(x, out)),
            Node::Alt(v) if v.len() == 1 => flat(&v[0], out),
            other => out.push(other.clone()),
        }
    }
    let mut out = Vec::new();
    parts.iter().for_each(|n| flat(n, &mut out));
    out
}

/// What a list made by [`Joins`] is made of: the slot's list (two, for a
/// pair), whether an entity's name is ordered longest first, the words
/// before it and after it.
type JoinKey = (String, bool, Vec<String>, Vec<String>);

/// Parts the two values of a paired slot.
const PAIR: char = '\u{1f}';

impl Joins<'_> {
    /// `parts` (one slot, the rest words) as one slot of a joined list,
    /// if the slot's list has listed values.
    ///
    /// Words written against the end of a slot that begins a word are
    /// also read apart from it, as hassil reads them (it skips the space
    /// after a slot that began a word): `[<szene> ]<name>[(<an>|...)]`
    /// reads "Partymodus an" as well as "Partymodusan" (regression
    /// `words_written_against_a_slot_are_also_read_apart`).
    fn join(&mut self, parts: &[Node]) -> Option<String> {
        let parts = flattened(parts);
        let glued = self.join_glued(&parts)?;
        let mut slots = parts
            .iter()
            .enumerate()
            .filter(|(_, n)| matches!(n, Node::Slot { .. }));
        let (Some((at, Node::Slot { list, name })), None) = (slots.next(), slots.next()) else {
            return Some(glued);
        };
        let (Some(before), Some(after)) = (
            strings(&Node::Seq(parts[..at].to_vec())),
            strings(&Node::Seq(parts[at + 1..].to_vec())),
        ) else {
            return Some(glued);
        };
        let begins_word = before
            .iter()
            .all(|b| b.is_empty() || b.ends_with(char::is_whitespace));
        if !begins_word || after.iter().all(|a| words_of(a).is_empty()) {
            return Some(glued);
        }
        let plain = if before.iter().all(String::is_empty) {
            format!("{{{list}:{name}}}")
        } else {
            self.join_glued(&parts[..=at])?
        };
        let apart = render(
            &Node::Alt(after.into_iter().map(Node::Text).collect()),
            self,
        );
        Some(format!("({glued}|{plain} {apart})"))
    }

    /// [`Joins::join`]'s slot with the words against it, one word;
    /// `parts` as [`flattened`] gives them.
    fn join_glued(&mut self, parts: &[Node]) -> Option<String> {
        let slots: Vec<usize> = parts
            .iter()
            .enumerate()
            .filter(|(_, n)| matches!(n, Node::Slot { .. }))
            .map(|(i, _)| i)
            .collect();
        if let [a, b] = slots[..] {
            return self.join_pair(parts, a, b);
        }
        let at = parts.iter().position(|n| matches!(n, Node::Slot { .. }))?;
        let Node::Slot { list, name } = &parts[at] else {
            return None;
        };
        let before = strings(&Node::Seq(parts[..at].to_vec()))?;
        let after = strings(&Node::Seq(parts[at + 1..].to_vec()))?;
        // An entity's name (hassil's `best_slot_name`) as long as it may be.
        let longest = name == "name";
        let key = (list.clone(), longest, before.clone(), after.clone());
        if let Some(made) = self.made.get(&key) {
            return Some(format!("{{{made}:{name}}}"));
        }
        // Any words with a beginning that may be written against them
        // ("[ال]{name}"): a wildcard that takes the beginning off.
        if matches!(self.lists.get(list)?.kind, ListKind::Wildcard) {
            return self.join_wildcard(list, name, &before, &after, key);
        }
        let ListKind::Values(values) = &self.lists.get(list)?.kind else {
            return None;
        };
        if values
            .len()
            .saturating_mul(before.len())
            .saturating_mul(after.len())
            > MAX_JOINED
        {
            return None;
        }
        let mut joined = Vec::new();
        for (heard, out) in values {
            for b in &before {
                for a in &after {
                    let w = words_of(&format!("{b}{heard}{a}"));
                    if !w.is_empty() {
                        joined.push((b.len() + a.len(), w, out.clone()));
                    }
                }
            }
        }
        // The same words from two values: the one listed first is taken,
        // so they are ordered as hassil's best reading: an entity's name
        // holding the most of them (regression
        // `a_name_said_whole_is_not_a_shorter_name_and_an_ending`: Icelandic
        // "vinstri gardínunni" is the name "Vinstri gardínunni", not
        // "Vinstri gardínu" with the article's ending "nni" against it),
        // any other slot the least, the most written in the template
        // ("eldhúsinu" is the area "Eldhús" and the ending "inu", not
        // "Eldhúsi" and "nu").
        if longest {
            joined.sort_by_key(|(added, _, _)| *added);
        } else {
            joined.sort_by_key(|(added, _, _)| std::cmp::Reverse(*added));
        }
        let joined = joined.into_iter().map(|(_, w, out)| (w, out)).collect();
        let made = format!("{list}__j{}", self.made.len());
        Some(self.made_list(key, made, ListKind::Values(joined), name))
    }

    /// Keeps a list made for `key` under the name `made`, and gives the
    /// slot `{made:name}` that stands for it.
    fn made_list(&mut self, key: JoinKey, made: String, kind: ListKind, name: &str) -> String {
        self.lists.insert(
            made.clone(),
            List {
                kind,
                fuzzy: false,
                origin: Origin::default(),
            },
        );
        let slot = format!("{{{made}:{name}}}");
        self.made.insert(key, made);
        slot
    }

    /// A wildcard with a beginning that may be written against it and
    /// nothing after (`[ال]{name}`): a wildcard of its own that takes the
    /// beginning off its value when it is there ([`ListKind::WildcardAfter`]).
    /// `None` for words after it, or a beginning that must be there
    /// (`(que |qu'){message}`): a wildcard cannot require one.
    fn join_wildcard(
        &mut self,
        list: &str,
        name: &str,
        before: &[String],
        after: &[String],
        key: JoinKey,
    ) -> Option<String> {
        if after.iter().any(|a| !a.is_empty()) || !before.iter().any(String::is_empty) {
            return None;
        }
        let mut prefixes: Vec<String> = before
            .iter()
            .map(|b| b.to_lowercase())
            .filter(|b| !b.trim().is_empty())
            .collect();
        if prefixes.is_empty() {
            return None;
        }
        // The longest first ("que " before "qu").
        prefixes.sort_by(|a, b| b.chars().count().cmp(&a.chars().count()).then(a.cmp(b)));
        prefixes.dedup();
        let made = format!("{list}__w{}", self.made.len());
        Some(self.made_list(key, made, ListKind::WildcardAfter(prefixes), name))
    }

    /// Two slots of listed values in one written word, with words around
    /// and between: one list of every joining, its value both values.
    fn join_pair(&mut self, parts: &[Node], a: usize, b: usize) -> Option<String> {
        let (Node::Slot { list: la, name: na }, Node::Slot { list: lb, name: nb }) =
            (&parts[a], &parts[b])
        else {
            return None;
        };
        let before = strings(&Node::Seq(parts[..a].to_vec()))?;
        let mid = strings(&Node::Seq(parts[a + 1..b].to_vec()))?;
        let after = strings(&Node::Seq(parts[b + 1..].to_vec()))?;
        let (ListKind::Values(va), ListKind::Values(vb)) =
            (&self.lists.get(la)?.kind, &self.lists.get(lb)?.kind)
        else {
            return None;
        };
        let size = [va.len(), vb.len(), before.len(), mid.len(), after.len()]
            .iter()
            .fold(1usize, |n, m| n.saturating_mul(*m));
        if size > MAX_JOINED {
            return None;
        }
        let mut tail = mid.clone();
        tail.push(PAIR.to_string());
        tail.extend(after.iter().cloned());
        let key = (format!("{la}{PAIR}{lb}"), false, before.clone(), tail);
        let pair = format!("pair__{na}__{nb}");
        self.pairs.insert(pair.clone(), (na.clone(), nb.clone()));
        if let Some(made) = self.made.get(&key) {
            return Some(format!("{{{made}:{pair}}}"));
        }
        let mut joined = Vec::new();
        for (ha, oa) in va {
            for (hb, ob) in vb {
                for x in &before {
                    for m in &mid {
                        for y in &after {
                            let w = words_of(&format!("{x}{ha}{m}{hb}{y}"));
                            if !w.is_empty() {
                                joined.push((w, format!("{oa}{PAIR}{ob}")));
                            }
                        }
                    }
                }
            }
        }
        let made = format!("{la}__{lb}__j{}", self.made.len());
        Some(self.made_list(key, made, ListKind::Values(joined), &pair))
    }
}

/// `node` in our template syntax ([`crate::template`]): words, `(a|b)`,
/// `[x]`, `{list:slot}`; pieces written against each other become one
/// word's alternatives.
fn render(node: &Node, joins: &mut Joins) -> String {
    match node {
        Node::Text(t) => words_of(t),
        Node::Slot { list, name } => format!("{{{list}:{name}}}"),
        Node::Rule(_) => String::new(), // resolved before
        Node::Opt(x) => {
            let inner = render(x, joins);
            if inner.trim().is_empty() {
                String::new()
            } else {
                format!("[{inner}]")
            }
        }
        Node::Alt(v) => {
            let mut empty = false;
            let alts: Vec<String> = v
                .iter()
                .map(|n| render(n, joins))
                .filter(|s| {
                    let blank = s.trim().is_empty();
                    empty |= blank;
                    !blank
                })
                .collect();
            // Each way once (a glued suffix may be reached twice).
            let mut seen = BTreeSet::new();
            let alts: Vec<String> = alts
                .into_iter()
                .filter(|a| seen.insert(a.clone()))
                .collect();
            match (alts.len(), empty) {
                (0, _) => String::new(),
                (_, true) => format!("[({})]", alts.join("|")),
                _ => format!("({})", alts.join("|")),
            }
        }
        Node::Perm(v) => render(&permutations(v), joins),
        Node::Seq(v) => {
            // Split into pieces at white space; runs of pieces with no
            // space between are one word (or a slot and what follows it).
            let mut pieces: Vec<Piece> = Vec::new();
            for n in v {
                match n {
                    Node::Text(t) => {
                        let mut word = String::new();
                        for c in t.chars() {
                            if c.is_whitespace() {
                                if !word.is_empty() {
                                    pieces.push(Piece::Node(std::borrow::Cow::Owned(Node::Text(
                                        std::mem::take(&mut word),
                                    ))));
                                }
                                pieces.push(Piece::Space);
                            } else {
                                word.push(c);
                            }
                        }
                        if !word.is_empty() {
                            pieces.push(Piece::Node(std::borrow::Cow::Owned(Node::Text(word))));
                        }
                    }
                    other => pieces.push(Piece::Node(std::borrow::Cow::Borrowed(other))),
                }
            }
            let mut out: Vec<String> = Vec::new();
            let mut run: Vec<Node> = Vec::new();
            let flush = |run: &mut Vec<Node>, out: &mut Vec<String>, joins: &mut Joins| {
                match run.len() {
                    0 => {}
                    1 => out.push(render(&run[0], joins)),
                    _ => {
                        let joined = Node::Seq(std::mem::take(run));
                        match strings(&joined) {
                            Some(alts) => {
                                let alt = Node::Alt(alts.into_iter().map(Node::Text).collect());
                                out.push(render(&alt, joins));
                            }
                            None => {
                                if let Node::Seq(parts) = joined {
                                    match joins.join(&parts) {
                                        // A slot of listed values with
                                        // words against it ("{area}[met]"):
                                        // a list of the joined words.
                                        Some(slot) => out.push(slot),
                                        // Otherwise: the pieces without a
                                        // slot joined, each slot apart
                                        // ("minuto[s][ [e ]<seconds>]").
                                        // A group of ways that hold slots,
                                        // with words against it
                                        // ("[ال]<timer_start_minutes_short>",
                                        // the rule three slots): the words
                                        // with each way, a run each.
                                        None if let Some(ways) = spread(&parts, joins.spreads) => {
                                            joins.spreads -= ways.len();
                                            out.push(render(&Node::Alt(ways), joins));
                                        }
                                        None => {
                                            // Words glued to the end of a
                                            // part with a slot ("<timer_start>[s]":
                                            // "1 times") go into its last words.
                                            let parts = glue_trailing(&parts).unwrap_or(parts);
                                            let mut words: Vec<Node> = Vec::new();
                                            let joined = |words: &mut Vec<Node>, out: &mut Vec<String>, joins: &mut Joins| {
                                                let run = std::mem::take(words);
                                                match strings(&Node::Seq(run.clone())) {
                                                    Some(alts) => {
                                                        let alt = Node::Alt(alts.into_iter().map(Node::Text).collect());
                                                        out.push(render(&alt, joins));
                                                    }
                                                    // Too many ways: word by word.
                                                    None => out.extend(run.iter().map(|n| render(n, joins))),
                                                }
                                            };
                                            for n in &parts {
                                                if strings(n).is_some() {
                                                    words.push(n.clone());
                                                } else {
                                                    joined(&mut words, out, joins);
                                                    out.push(render(n, joins));
                                                }
                                            }
                                            joined(&mut words, out, joins);
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                run.clear();
            };
            for p in pieces {
                match p {
                    Piece::Space => flush(&mut run, &mut out, joins),
                    Piece::Node(n) => run.push(n.into_owned()),
                }
            }
            flush(&mut run, &mut out, joins);
            out.retain(|s| !s.trim().is_empty());
            out.join(" ")
        }
    }
}

// ---------------------------------------------------------------------------
// A language: its sentences compiled with a home.

/// What a data block adds to a match.
#[derive(Debug, Clone)]
struct Block {
    /// HA's intent name.
    intent: String,
    /// Slots the block fixes.
    slots: BTreeMap<String, Json>,
    /// The response's key.
    response: Option<String>,
    /// Context the match needs from the caller (not about the entity),
    /// with whether it becomes a slot.
    needs: BTreeMap<String, (Vec<String>, bool)>,
    /// Context the caller's must not have.
    refuses: BTreeMap<String, Vec<String>>,
    /// How many things it asks of the entity named (`requires_context`
    /// about the entity): of two readings that cost the same, the one that
    /// asks more of what it names is taken.
    specific: usize,
    /// What it asks of the entity (`requires_context` such as `domain`):
    /// a reading that names no entity must have it from the caller's
    /// context instead, as hassil's (regression: Serbian "подеси боју
    /// светла у дневној соби на зелено" was read by a block that asks for a
    /// light's name, without `name: all`).
    entity_needs: Vec<(String, Vec<String>)>,
    /// What it refuses of the entity (`excludes_context`): likewise the
    /// caller's context, when no entity is named.
    entity_refuses: Vec<(String, Vec<String>)>,
}

/// A recognised sentence.
#[derive(Debug, Clone, PartialEq)]
pub struct Recognized {
    /// HA's intent name.
    pub intent: String,
    /// Slots, with HA's values.
    pub slots: BTreeMap<String, Json>,
    /// The response's key, if the block names one.
    pub response: Option<String>,
}

/// One language's sentences compiled with a home.
pub struct Language {
    /// The catalog the sentences became.
    pub catalog: Catalog,
    matcher: Matcher,
    blocks: Vec<Block>,
    ranges: BTreeMap<String, RawRange>,
    /// List values whose `out` is a list or a map (`device_class: [blind,
    /// shade]`), as text: they come out as what they are.
    structured: BTreeSet<String>,
    /// Slots that stand for two (see `Joins::join_pair`).
    pairs: BTreeMap<String, (String, String)>,
    /// What was left out as it loaded ([`Language::warnings`]).
    warnings: Vec<String>,
    /// Its script's characters are words ([`apart`]).
    characters: bool,
}

impl std::fmt::Debug for Language {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Language")
            .field("blocks", &self.blocks.len())
            .finish_non_exhaustive()
    }
}

/// A list value's `in` template as the phrases it stands for (its rules
/// from `rules`).
fn phrases(template: &str, rules: &BTreeMap<String, String>) -> Result<Vec<String>, Unresolved> {
    let node = parse_hassil(template)
        .map_err(|(c, m)| Unresolved::Bad(format!("column {}: {m}", c + 1)))?;
    let none = BTreeMap::new();
    let keep = |l: &str| l.to_string();
    let scope = Scope {
        local_rules: &none,
        global_rules: rules,
        rename: &keep,
        made: Default::default(),
    };
    let node = scope.resolve(&node, 0)?;
    let all = strings(&node).ok_or_else(|| {
        Unresolved::Bad(format!(
            "`{template}` stands for more than {MAX_ALTERNATIVES} phrases or holds a slot"
        ))
    })?;
    Ok(all
        .into_iter()
        .map(|s| words_of(&s))
        .filter(|s| !s.is_empty())
        .collect())
}

/// A catalog list from an HA list; ranges noted in `ranges`, read in
/// digits and in `numbers`' number words when text2num has the language's
/// (hassil reads every language's).
fn list_of(
    name: &str,
    raw: &RawList,
    origin: &Origin,
    rules: &BTreeMap<String, String>,
    ranges: &mut BTreeMap<String, RawRange>,
    structured: &mut BTreeSet<String>,
    numbers: Option<NumberWords>,
) -> Result<(List, Vec<String>), Error> {
    let mut warnings = Vec::new();
    let kind = if raw.wildcard {
        ListKind::Wildcard
    } else if let Some(r) = raw.range {
        if !(r.from.is_finite() && r.to.is_finite() && r.from <= r.to) {
            return Err(origin.error(format!("list {name}: a range needs from <= to")));
        }
        ranges.insert(name.to_string(), r);
        // Whole numbers only, unless the range has fractions: "5 and a
        // half minutes" is 5, "and", "a", "half", "minutes" there.
        if r.fractions.is_none() && r.from.fract() == 0.0 && r.step.is_none_or(|s| s.fract() == 0.0)
        {
            ListKind::Parser(numbers.map_or(ParserKind::Integer, ParserKind::IntegerIn))
        } else {
            ListKind::Parser(ParserKind::Number)
        }
    } else if let Some(values) = &raw.values {
        let mut out = Vec::new();
        for v in values {
            let (heard, value) = match v {
                RawValue::Mapped { heard, out, .. } => {
                    if out.is_array() || out.is_object() {
                        structured.insert(json_text(out));
                    }
                    (heard.clone(), json_text(out))
                }
                RawValue::Plain(v) => (json_text(v), json_text(v)),
            };
            match phrases(&heard, rules) {
                Ok(all) => out.extend(all.into_iter().map(|p| (p, value.clone()))),
                Err(m @ Unresolved::Missing(_)) => warnings.push(format!(
                    "{}: list {name}: value `{heard}`: {m}; left out",
                    origin
                )),
                Err(m) => return Err(origin.error(format!("list {name}: {m}"))),
            }
        }
        ListKind::Values(out)
    } else {
        return Err(origin.error(format!("list {name}: give values, a range or wildcard")));
    };
    Ok((
        List {
            kind,
            fuzzy: false,
            origin: origin.clone(),
        },
        warnings,
    ))
}

/// The place of `needle`'s first occurrence in `src` (for errors in
/// strings serde does not place).
fn place(file: &Arc<str>, src: &str, needle: &str) -> Origin {
    match src.find(needle) {
        Some(at) => Origin::at(file, src, at),
        None => Origin {
            file: file.clone(),
            line: 1,
            column: 1,
        },
    }
}

impl Language {
    /// Loads `dir` (one language's `sentences/LANG` folder: `_common.yaml`
    /// first, then every other `*.yaml` of the folder in name order; the
    /// intent folders below it are test material, loaded one at a time
    /// by [`run_tests`] through [`Language::load_folder`]) with `home`'s
    /// areas, floors and entities.
    pub fn load(dir: &Path, home: &Home) -> Result<Language, Error> {
        let mut files: Vec<PathBuf> = yaml_files(dir)?
            .into_iter()
            .filter(|p| p.parent() == Some(dir))
            .collect();
        files.sort_by_key(|p| (p.file_name().is_none_or(|n| n != "_common.yaml"), p.clone()));
        let mut sources = Vec::new();
        for p in &files {
            let (raw, src): (RawSentences, String) = read_yaml(p)?;
            sources.push((p.display().to_string(), raw, src));
        }
        Self::compile(&sources, home)
    }

    /// An intent folder's file (`sentences/LANG/INTENT/KIND.yaml`, its
    /// blocks `INTENT`'s) with the language's `_common.yaml`.
    pub fn load_folder(common: &Path, file: &Path, home: &Home) -> Result<Language, Error> {
        let intent = file
            .parent()
            .and_then(Path::file_name)
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let mut sources = Vec::new();
        let (raw, src): (RawSentences, String) = read_yaml(common)?;
        sources.push((common.display().to_string(), raw, src));
        let (mut raw, src): (RawSentences, String) = read_yaml(file)?;
        let data = std::mem::take(&mut raw.data);
        raw.intents.insert(intent, RawIntent { data });
        sources.push((file.display().to_string(), raw, src));
        Self::compile(&sources, home)
    }

    /// Sentence files given as text, `(name, YAML)`, in order, with a home
    /// given as YAML (the test fixtures' format).
    pub fn from_texts(files: &[(&str, &str)], home: &str) -> Result<Language, Error> {
        let home: Home = parse_yaml("home", home)?;
        let mut sources = Vec::new();
        for (name, text) in files {
            let raw: RawSentences = parse_yaml(name, text)?;
            sources.push((name.to_string(), raw, text.to_string()));
        }
        Self::compile(&sources, &home)
    }

    /// Compiles sentence files already read: (name, parsed, text).
    fn compile(sources: &[(String, RawSentences, String)], home: &Home) -> Result<Language, Error> {
        let mut catalog = Catalog::new();
        // Of two readings that cost the same, the longer listed entity
        // name, as hassil's `best_slot_name` (Home Assistant passes
        // "name").
        catalog.longest_slot = Some("name".into());
        let mut ranges = BTreeMap::new();
        let mut structured = BTreeSet::new();
        let mut rules = BTreeMap::new();
        let mut warnings = Vec::new();
        // A language written without spaces between its words (Chinese):
        // every character of its script a word, in the templates, the
        // lists and what is said alike.
        let characters = sources
            .iter()
            .any(|(_, raw, _)| raw.settings.ignore_whitespace);
        // The language's number words, for its ranges.
        let numbers = sources
            .iter()
            .find_map(|(_, raw, _)| raw.language.as_deref())
            .and_then(NumberWords::of);
        for (_, raw, _) in sources {
            for (k, v) in &raw.expansion_rules {
                rules.insert(k.clone(), v.clone());
            }
        }
        for (name, raw, src) in sources {
            let file: Arc<str> = Arc::from(name.as_str());
            for (k, l) in &raw.lists {
                let origin = place(&file, src, &format!("{k}:"));
                let (list, left_out) =
                    list_of(k, l, &origin, &rules, &mut ranges, &mut structured, numbers)?;
                catalog.lists.insert(k.clone(), list);
                warnings.extend(left_out);
            }
            catalog.fillers.extend(raw.skip_words.iter().cloned());
            let _ = (&raw.language, &raw.responses);
        }
        // The home's names.
        let values = |v: Vec<(String, String)>| List {
            kind: ListKind::Values(v),
            fuzzy: false,
            origin: Origin::default(),
        };
        // A name may be a template itself ("Trader Joe[']s"): each way of
        // saying it gives that way, as written, as the value.
        let named = |n: &str| -> Vec<(String, String)> {
            let ways = parse_hassil(n)
                .ok()
                .and_then(|t| strings(&t))
                .unwrap_or_else(|| vec![n.to_string()]);
            ways.iter()
                .map(|w| words_of(w))
                .filter(|w| !w.is_empty())
                .map(|w| (w.to_lowercase(), w))
                .collect()
        };
        catalog.lists.insert(
            "area".into(),
            values(home.areas.iter().flat_map(|a| named(&a.name)).collect()),
        );
        catalog.lists.insert(
            "floor".into(),
            values(home.floors.iter().flat_map(|f| named(&f.name)).collect()),
        );
        catalog.lists.insert(
            "name".into(),
            values(home.entities.iter().flat_map(|e| named(&e.name)).collect()),
        );
        let mut blocks = Vec::new();
        let mut filtered: BTreeMap<String, String> = BTreeMap::new();
        let mut made = BTreeMap::new();
        let mut pairs = BTreeMap::new();
        for (name, raw, src) in sources {
            let file: Arc<str> = Arc::from(name.as_str());
            for (intent, data) in &raw.intents {
                for d in &data.data {
                    let id = blocks.len();
                    // The block's own lists.
                    let mut local = BTreeSet::new();
                    for (k, l) in &d.lists {
                        let origin = place(&file, src, &format!("{k}:"));
                        let key = format!("{k}__b{id}");
                        let (list, left_out) = list_of(
                            &key,
                            l,
                            &origin,
                            &rules,
                            &mut ranges,
                            &mut structured,
                            numbers,
                        )?;
                        catalog.lists.insert(key, list);
                        warnings.extend(left_out);
                        local.insert(k.clone());
                    }
                    // Entity names its context allows.
                    let mut entity_needs = Vec::new();
                    let mut needs = BTreeMap::new();
                    for (k, v) in &d.requires_context {
                        match v {
                            Json::Object(o) => {
                                let slot = o.get("slot").and_then(Json::as_bool).unwrap_or(false);
                                let vals = o.get("value").map(allowed).unwrap_or_default();
                                needs.insert(k.clone(), (vals, slot));
                            }
                            other if k == "area" || k == "floor" => {
                                needs.insert(k.clone(), (allowed(other), false));
                            }
                            other => entity_needs.push((k.clone(), allowed(other))),
                        }
                    }
                    if !d.name_domains.is_empty() {
                        entity_needs.push(("domain".into(), d.name_domains.clone()));
                    }
                    let mut refuses = BTreeMap::new();
                    let mut entity_refuses = Vec::new();
                    for (k, v) in &d.excludes_context {
                        if k == "area" || k == "floor" {
                            refuses.insert(k.clone(), allowed(v));
                        } else {
                            entity_refuses.push((k.clone(), allowed(v)));
                        }
                    }
                    let names = if entity_needs.is_empty() && entity_refuses.is_empty() {
                        "name".to_string()
                    } else {
                        let key = format!("name?{entity_needs:?}!{entity_refuses:?}");
                        let n = filtered.len();
                        let list = filtered.entry(key).or_insert_with(|| format!("name__f{n}"));
                        if !catalog.lists.contains_key(list.as_str()) {
                            let fits = |e: &Entity| {
                                entity_needs.iter().all(|(k, vals)| {
                                    e.context(k).is_some_and(|c| vals.contains(&c))
                                }) && entity_refuses.iter().all(|(k, vals)| {
                                    e.context(k).is_none_or(|c| !vals.contains(&c))
                                })
                            };
                            let v = home
                                .entities
                                .iter()
                                .filter(|e| fits(e))
                                .flat_map(|e| named(&e.name))
                                .collect();
                            catalog.lists.insert(list.clone(), values(v));
                        }
                        list.clone()
                    };
                    let rename = |l: &str| {
                        if local.contains(l) {
                            format!("{l}__b{id}")
                        } else if l == "name" {
                            names.clone()
                        } else {
                            l.to_string()
                        }
                    };
                    let scope = Scope {
                        local_rules: &d.expansion_rules,
                        global_rules: &rules,
                        rename: &rename,
                        made: Default::default(),
                    };
                    let key = format!("{intent}#{id}");
                    let mut templates = Vec::new();
                    for s in &d.sentences {
                        let origin = place(&file, src, s);
                        let node = parse_hassil(s).map_err(|(c, m)| {
                            origin.shifted(c).error(format!("sentence template: {m}"))
                        })?;
                        scope.made.set(0);
                        let resolved = match scope.resolve(&node, 0) {
                            Ok(r) => r,
                            Err(m @ Unresolved::Missing(_)) => {
                                warnings
                                    .push(format!("{origin}: sentence template: {m}; left out"));
                                continue;
                            }
                            Err(m) => {
                                return Err(origin.error(format!("sentence template: {m}")));
                            }
                        };
                        let mut joins = Joins {
                            lists: &mut catalog.lists,
                            made: std::mem::take(&mut made),
                            pairs: std::mem::take(&mut pairs),
                            spreads: MAX_SPREAD_RUNS,
                        };
                        let mut ours = render(&resolved, &mut joins);
                        if characters {
                            ours = apart_template(&ours);
                        }
                        made = joins.made;
                        pairs = joins.pairs;
                        // A template whose every word may be left out
                        // ("[next] [song]") takes what it says but nothing
                        // (regression: such templates were left out, and
                        // Croatian "slijedeća pjesma" was not understood).
                        let expr = match crate::template::parse_nonempty(&ours) {
                            Ok(e) => e,
                            // Nothing but nothing: nothing to match.
                            Err(e) if e.message.contains("can match nothing") => continue,
                            Err(e) => {
                                return Err(origin.error(format!(
                                    "sentence template (as {ours:?}, column {}): {}",
                                    e.column, e.message
                                )));
                            }
                        };
                        templates.push(Template {
                            source: s.clone(),
                            expr,
                            origin,
                        });
                    }
                    let _ = &d.metadata;
                    catalog.intents.insert(
                        key,
                        Intent {
                            description: format!("{intent} (Home Assistant)"),
                            templates,
                            origin: place(&file, src, &format!("{intent}:")),
                            ..Intent::default()
                        },
                    );
                    let mut fixed = d.slots.clone();
                    if let Some(domain) = &d.inferred_domain {
                        fixed.insert("domain".into(), Json::String(domain.clone()));
                    }
                    blocks.push(Block {
                        specific: entity_needs.len(),
                        entity_needs,
                        entity_refuses,
                        intent: intent.clone(),
                        slots: fixed,
                        response: d.response.clone(),
                        needs,
                        refuses,
                    });
                }
            }
        }
        if characters {
            for list in catalog.lists.values_mut() {
                if let ListKind::Values(values) = &mut list.kind {
                    for (heard, _) in values.iter_mut() {
                        *heard = apart(heard);
                    }
                }
            }
            for f in &mut catalog.fillers {
                *f = apart(f);
            }
        }
        let matcher = Matcher::new(&catalog)?;
        Ok(Language {
            catalog,
            matcher,
            blocks,
            ranges,
            structured,
            pairs,
            warnings,
            characters,
        })
    }

    /// What was left out as it loaded, each at its place: templates and
    /// list values that use a rule no file defines.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Near readings of `text` ([`Matcher::near`]) that ask for something
    /// where `context` holds, cheapest first, at most `n`.
    pub fn near(
        &self,
        text: &str,
        context: &BTreeMap<String, Json>,
        n: usize,
    ) -> Vec<crate::matcher::NearReading> {
        // With characters as words, the text parted as the sentences were
        // compiled, and the readings written as the language writes them.
        let mut out = if self.characters {
            let mut out = self
                .matcher
                .near(&apart(text), &Context::default(), usize::MAX);
            for r in &mut out {
                r.text = together(&r.text);
                for (heard, read) in &mut r.replaced {
                    *heard = together(heard);
                    *read = together(read);
                }
            }
            out
        } else {
            self.matcher.near(text, &Context::default(), usize::MAX)
        };
        out.retain(|r| self.recognize(&r.text, context).is_some());
        out.truncate(n);
        out
    }

    /// What `text` asks for, said where `context` holds (the satellite's
    /// `area`, say), or `None`. A sentence read as written is taken; only
    /// when none is, words the sentences do not know that are two words
    /// they do know written together ("kjøkkennedtelling": "kjøkken"
    /// "nedtelling") are read apart, as hassil, which matches text rather
    /// than words, reads them; then, one at a time, known words that are
    /// two known words.
    ///
    /// A reading as written that had to skip a word the sentences do not
    /// know gives way to a reading of it parted that costs less (regression
    /// `a_word_glued_to_a_name_is_read_before_it_is_skipped`: Nepali
    /// "बैठकभित्र" is the area "बैठक" and "भित्र", not a word skipped).
    pub fn recognize(&self, text: &str, context: &BTreeMap<String, Json>) -> Option<Recognized> {
        let parted;
        let text = if self.characters {
            parted = apart(text);
            parted.as_str()
        } else {
            text
        };
        let written = self.recognize_as_written(text, context);
        let bar = match &written {
            Some((_, cost)) if *cost < crate::matcher::UNKNOWN_COST => {
                return written.map(|(r, _)| r);
            }
            Some((_, cost)) => *cost,
            None => u32::MAX,
        };
        let read = |t: &str| {
            self.recognize_as_written(t, context)
                .filter(|(_, cost)| *cost < bar)
                .map(|(r, _)| r)
        };
        // The words, unknown ones that are two words parted.
        let known = |p: &str| self.matcher.knows(p);
        let said: Vec<String> = crate::text::words(text);
        // Each unknown word's ways of parting, each followed by the same
        // with its unknown first part parted too where that is two known
        // words (regression `a_compound_of_three_known_words_is_read`:
        // "keukenwaterkokerschakelaar" is "keukenwaterkoker" "schakelaar",
        // then "keuken" "waterkoker" "schakelaar"). Words longer than
        // [`COMPOUND_LETTERS_MAX`] are not parted.
        let ways: Vec<Vec<String>> = said
            .iter()
            .map(|w| {
                if known(w) || w.chars().count() > COMPOUND_LETTERS_MAX {
                    return Vec::new();
                }
                let mut out = Vec::new();
                for (a, b) in compounds(w, known, false) {
                    if out.len() >= COMPOUND_WAYS_MAX {
                        break;
                    }
                    out.push(format!("{a} {b}"));
                    if !known(a)
                        && let Some((x, y)) = compound(a, known, true)
                    {
                        out.push(format!("{x} {y} {b}"));
                    }
                }
                out.truncate(COMPOUND_WAYS_MAX);
                out
            })
            .collect();
        // The words, each unknown one parted its `choice[i]`th way.
        let parted = |choice: &[usize]| -> Vec<String> {
            said.iter()
                .zip(&ways)
                .zip(choice)
                .map(|((w, ways), &c)| ways.get(c).unwrap_or(w).clone())
                .collect()
        };
        let first = vec![0; said.len()];
        let words = parted(&first);
        if ways.iter().any(|w| !w.is_empty()) {
            if let Some(r) = read(&words.join(" ")) {
                return Some(r);
            }
            // Then an unknown word's other partings, one word at a time
            // (regression `a_name_glued_to_an_ending_and_a_word_is_read`:
            // Icelandic "leikhornsljósinu" is "leikhorns" "ljósinu" first,
            // where "leikhorns" is a name with its ending from another
            // block; this block writes the name, then "sljósinu").
            // At most [`COMPOUND_TRIES_MAX`] parses in all, and only for a
            // sentence of at most [`COMPOUND_SENTENCE_MAX`] words.
            let mut tries = if said.len() <= COMPOUND_SENTENCE_MAX {
                COMPOUND_TRIES_MAX
            } else {
                0
            };
            for (i, w) in ways.iter().enumerate() {
                for c in 1..w.len().min(COMPOUND_WAYS_MAX) {
                    if tries == 0 {
                        break;
                    }
                    tries -= 1;
                    let mut choice = first.clone();
                    choice[i] = c;
                    if let Some(r) = read(&parted(&choice).join(" ")) {
                        return Some(r);
                    }
                }
            }
        }
        // Then one known word at a time that is two known words:
        // "keukentimer" is in a list of joined words elsewhere, while this
        // block writes "{area} timer" (one at a time, so that "sluiten" is
        // not read as "sluit en" where it need not be). The parts of an
        // unknown word parted above count as words here (regression
        // `a_compound_of_three_known_words_is_read`:
        // "woonkamerspeelhoekventilatorstatus" is "woonkamerspeelhoek"
        // "ventilator" "status" above, then "woonkamer" "speelhoek" here).
        let words: Vec<String> = words
            .iter()
            .flat_map(|w| w.split_whitespace())
            .map(str::to_string)
            .collect();
        if words.len() <= COMPOUND_SENTENCE_MAX
            && let Some(r) = (0..words.len()).find_map(|i| {
                let w = &words[i];
                if !known(w) {
                    return None;
                }
                let (a, b) = compound(w, known, true)?;
                let mut one = words.clone();
                one[i] = format!("{a} {b}");
                read(&one.join(" "))
            })
        {
            return Some(r);
        }
        written.map(|(r, _)| r)
    }

    /// A list value's text as HA's value: a list or map the list gives as
    /// it is (regression: French "ouvre les stores" gave device_class as
    /// the text `["blind","shade"]`), the rest as text.
    fn value_of(&self, text: &str) -> Json {
        if self.structured.contains(text) {
            serde_json::from_str(text).unwrap_or_else(|_| Json::String(text.to_string()))
        } else {
            Json::String(text.to_string())
        }
    }

    /// The best reading of `text` as written, with what its parse cost.
    fn recognize_as_written(
        &self,
        text: &str,
        context: &BTreeMap<String, Json>,
    ) -> Option<(Recognized, u32)> {
        let mut parses = self.matcher.parse_all(text, &Context::default(), 64);
        // The data block a parse's template belongs to (`HassTurnOn#3`).
        let block_id = |p: &crate::matcher::Parse| {
            p.intent
                .rsplit_once('#')
                .and_then(|(_, n)| n.parse::<usize>().ok())
        };
        let block_of = |p: &crate::matcher::Parse| block_id(p).and_then(|id| self.blocks.get(id));
        // An entity named: by the name list, or in one word with another
        // slot ("卧室灯红色": a name and a colour).
        let names_entity = |p: &crate::matcher::Parse| {
            p.slots.iter().any(|s| {
                s.how == "list"
                    && (s.name == "name"
                        || self
                            .pairs
                            .get(&s.name)
                            .is_some_and(|(a, b)| a == "name" || b == "name"))
            })
        };
        // Of readings that cost the same, as hassil's best: one that names
        // an entity, then one that asks more of the entity it names, then
        // the one with more of its words written in the template, then, as
        // hassil breaks its ties, the intent's name and, of one intent's
        // blocks, the one that comes first in the files (regression
        // `readings_that_tie_go_to_the_block_written_first`: German
        // "welche Tore sind geschlossen" is the covers' block, not the
        // locks' later one).
        parses.sort_by_key(|p| {
            let in_slots: usize = p
                .slots
                .iter()
                .map(|s| s.text.split_whitespace().count())
                .sum();
            let block = block_id(p).unwrap_or(usize::MAX);
            (
                p.cost,
                !names_entity(p),
                std::cmp::Reverse(block_of(p).map_or(0, |b| b.specific)),
                in_slots,
                block_of(p).map(|b| b.intent.as_str()),
                block,
            )
        });
        'parses: for p in parses {
            let Some(block) = block_of(&p) else {
                continue;
            };
            // The caller's context has `k`, as one of `vals` (any, when
            // none are given); or has `k` as one of `vals`, for a refusal.
            let has = |k: &str, vals: &[String]| {
                context
                    .get(k)
                    .is_some_and(|h| vals.is_empty() || allowed(h).iter().any(|x| vals.contains(x)))
            };
            let refused = |k: &str, vals: &[String]| {
                context
                    .get(k)
                    .is_some_and(|h| allowed(h).iter().any(|x| vals.contains(x)))
            };
            // Without an entity named, what the block asks and refuses of
            // it is asked of the caller's context, as hassil's.
            if !names_entity(&p)
                && (block.entity_needs.iter().any(|(k, v)| !has(k, v))
                    || block.entity_refuses.iter().any(|(k, v)| refused(k, v)))
            {
                continue;
            }
            if block.needs.iter().any(|(k, (v, _))| !has(k, v))
                || block.refuses.iter().any(|(k, v)| refused(k, v))
            {
                continue;
            }
            let mut slots = block.slots.clone();
            for (k, (_, slot)) in &block.needs {
                if *slot && let Some(have) = context.get(k) {
                    slots.insert(k.clone(), have.clone());
                }
            }
            for s in &p.slots {
                let list = self
                    .catalog
                    .intents
                    .get(&p.intent)
                    .and_then(|i| slot_list(i, &s.name));
                let value = match (&s.value, list.and_then(|l| self.ranges.get(&l))) {
                    (v, Some(r)) => match v.as_number().and_then(|n| in_range(n, r)) {
                        Some(n) => n,
                        None => continue 'parses,
                    },
                    (Value::Text(t), None) if self.characters && s.how == "wildcard" => {
                        self.value_of(&together(t))
                    }
                    (Value::Text(t), None) => self.value_of(t),
                    (v, None) => serde_json::to_value(v).unwrap_or(Json::Null),
                };
                if let (Some((a, b)), Json::String(both)) = (self.pairs.get(&s.name), &value)
                    && let Some((x, y)) = both.split_once(PAIR)
                {
                    slots.insert(a.clone(), self.value_of(x));
                    slots.insert(b.clone(), self.value_of(y));
                    continue;
                }
                slots.insert(s.name.clone(), value);
            }
            return Some((
                Recognized {
                    intent: block.intent.clone(),
                    slots,
                    response: block.response.clone(),
                },
                p.cost,
            ));
        }
        None
    }
}

/// The list slot `slot` of `intent` is filled from (its first template's).
fn slot_list(intent: &Intent, slot: &str) -> Option<String> {
    fn walk(e: &crate::template::Expr, slot: &str) -> Option<String> {
        use crate::template::Expr;
        match e {
            Expr::Slot { list, name, .. } if name == slot => Some(list.clone()),
            Expr::Seq(v) | Expr::Alt(v) => v.iter().find_map(|x| walk(x, slot)),
            Expr::Opt(x) => walk(x, slot),
            _ => None,
        }
    }
    intent.templates.iter().find_map(|t| walk(&t.expr, slot))
}

/// `n` as the range gives it (multiplied), if the range has it.
fn in_range(n: f64, r: &RawRange) -> Option<Json> {
    if !(r.from..=r.to).contains(&n) {
        return None;
    }
    let whole = (n - n.round()).abs() < 1e-9;
    let fits = match r.fractions {
        None => whole,
        Some(Fractions::Halves) => ((n * 2.0) - (n * 2.0).round()).abs() < 1e-9,
        Some(Fractions::Tenths) => ((n * 10.0) - (n * 10.0).round()).abs() < 1e-6,
    };
    let step = r.step.unwrap_or(1.0);
    if !fits || (whole && step > 1.0 && ((n - r.from) % step).abs() > 1e-9) {
        return None;
    }
    let v = n * r.multiplier.unwrap_or(1.0);
    Some(if (v - v.round()).abs() < 1e-9 && v.abs() < 9.0e15 {
        Json::from(v.round() as i64)
    } else {
        Json::from(v)
    })
}

/// Every `*.yaml` file under `dir`.
fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        let read = std::fs::read_dir(&d).map_err(|source| Error::Read {
            path: d.clone(),
            source,
        })?;
        for entry in read.flatten() {
            let p = entry.path();
            if p.is_dir() {
                todo.push(p);
            } else if p.extension().is_some_and(|e| e == "yaml") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

// ---------------------------------------------------------------------------
// HA's test files.

/// One sentence that did not come out as its test says.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Miss {
    /// The sentence.
    pub sentence: String,
    /// The intent expected.
    pub expected: String,
    /// What came out instead.
    pub got: Option<String>,
    /// The slots expected.
    pub expected_slots: BTreeMap<String, Json>,
    /// The slots that came out.
    pub got_slots: BTreeMap<String, Json>,
    /// The language's `_test_failures.yaml` lists the sentence as one that
    /// fails, and it came out right: HA's runner fails that (the list is to
    /// be shortened).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub listed_as_failing: bool,
}

/// One language's tests ([`run_tests`]).
#[derive(Debug, Clone, serde::Serialize)]
pub struct LanguageRun {
    /// Each test file's result, in name order.
    pub files: Vec<FileResult>,
    /// What its sentences left out as they loaded, each once
    /// ([`Language::warnings`]).
    pub warnings: Vec<String>,
}

/// One test file's result.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FileResult {
    /// The file's name.
    pub file: String,
    /// Sentences that came out right (intent and slots).
    pub passed: usize,
    /// Sentences tested.
    pub total: usize,
    /// The ones that did not.
    pub misses: Vec<Miss>,
    /// Of `passed`: sentences the language's `_test_failures.yaml` lists
    /// as failing that failed (HA's runner passes a listed sentence only
    /// when it fails).
    pub failing_as_listed: usize,
    /// Why none could be tried (the file's sentences do not load).
    pub error: Option<String>,
    /// Time spent recognising its sentences, seconds (loading aside).
    pub seconds: f64,
}

/// Whether a slot's value `got` is what a test wants, by HA's test
/// runner's rule: numbers by value, the rest as text, case and surrounding
/// space aside; a list in the test is the values the slot may take, and a
/// list recognised (a list value whose `out` is a list) must hold every
/// value the test names, or the one it names (regression
/// `a_list_value_holds_the_values_its_test_names`: Malayalam "ബ്ലൈൻഡുകൾ"
/// gives `[window, blind, curtain, shutter]`, its test `[blind]`, which HA's
/// runner passes as a subset).
fn same(got: &Json, want: &Json) -> bool {
    match (got, want) {
        (Json::Array(g), Json::Array(w)) => w.iter().all(|x| g.iter().any(|y| same_one(y, x))),
        (g, Json::Array(w)) => w.iter().any(|x| same_one(g, x)),
        (Json::Array(g), w) => g.iter().any(|y| same_one(y, w)),
        _ => same_one(got, want),
    }
}

/// Two values as one: numbers by value, the rest as text.
fn same_one(a: &Json, b: &Json) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() < 1e-9,
        _ => {
            let t = |v: &Json| json_text(v).trim().to_lowercase();
            t(a) == t(b)
        }
    }
}

/// `_test_failures.yaml`: sentences HA's runner expects to fail.
#[derive(Deserialize, Default)]
#[serde(default)]
struct RawFailures {
    sentences: Vec<String>,
}

/// Runs one language's test files (`tests/LANG` of home-assistant/intents:
/// `_fixtures.yaml` is the home) against its sentences (`sentences/LANG`):
/// each sentence must give the intent and exactly the slots its test names,
/// except that one `_test_failures.yaml` lists must not, as in HA's runner.
pub fn run_tests(sentences: &Path, tests: &Path) -> Result<LanguageRun, Error> {
    let (home, _): (Home, String) = read_yaml(&tests.join("_fixtures.yaml"))?;
    let failures_file = tests.join("_test_failures.yaml");
    let failing: BTreeSet<String> = if failures_file.is_file() {
        let (raw, _): (RawFailures, String) = read_yaml(&failures_file)?;
        raw.sentences.into_iter().collect()
    } else {
        BTreeSet::new()
    };
    let language = Language::load(sentences, &home)?;
    let mut warnings = language.warnings().to_vec();
    let mut out = Vec::new();
    for p in yaml_files(tests)? {
        if p.file_name()
            .is_some_and(|n| n == "_fixtures.yaml" || n == "_test_failures.yaml")
        {
            continue;
        }
        let (raw, _): (RawTests, String) = read_yaml(&p)?;
        let name = p.strip_prefix(tests).unwrap_or(&p).to_path_buf();
        // An intent folder's tests: that folder's sentence file, with the
        // home the test file gives.
        let folder = (p.parent() != Some(tests)).then(|| {
            let intent = p
                .parent()
                .and_then(Path::file_name)
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            (intent, sentences.join(&name))
        });
        let own;
        let (language, intent) = match &folder {
            Some((intent, file)) => {
                let home = Home {
                    floors: raw.floors.clone(),
                    areas: raw
                        .areas
                        .iter()
                        .map(|a| Area {
                            id: if a.id.is_empty() {
                                a.name.clone()
                            } else {
                                a.id.clone()
                            },
                            ..a.clone()
                        })
                        .collect(),
                    entities: raw
                        .entities
                        .iter()
                        .enumerate()
                        .map(|(i, e)| Entity {
                            name: e.name.clone(),
                            id: format!("{}.entity_{i}", e.domain),
                            area: e.area.clone(),
                            ..Entity::default()
                        })
                        .collect(),
                };
                own = match Language::load_folder(&sentences.join("_common.yaml"), file, &home) {
                    Ok(l) => l,
                    Err(e) => {
                        out.push(FileResult {
                            file: name.display().to_string(),
                            passed: 0,
                            total: raw.tests.iter().map(|t| t.sentences.len()).sum(),
                            misses: Vec::new(),
                            failing_as_listed: 0,
                            error: Some(e.to_string()),
                            seconds: 0.0,
                        });
                        continue;
                    }
                };
                for w in own.warnings() {
                    if !warnings.contains(w) {
                        warnings.push(w.clone());
                    }
                }
                (&own, Some(intent.clone()))
            }
            None => (&language, None),
        };
        let mut result = FileResult {
            file: name.display().to_string(),
            passed: 0,
            total: 0,
            misses: Vec::new(),
            failing_as_listed: 0,
            error: None,
            seconds: 0.0,
        };
        for t in &raw.tests {
            let _ = &t.response;
            let expected = intent.clone().unwrap_or_else(|| t.intent.name.clone());
            let slots = if t.slots.is_empty() {
                &t.intent.slots
            } else {
                &t.slots
            };
            for s in &t.sentences {
                result.total += 1;
                let started = std::time::Instant::now();
                let got = language.recognize(s, &t.intent.context);
                result.seconds += started.elapsed().as_secs_f64();
                let right = got.as_ref().is_some_and(|g| {
                    g.intent == expected
                        && g.slots.len() == slots.len()
                        && slots
                            .iter()
                            .all(|(k, v)| g.slots.get(k).is_some_and(|h| same(h, v)))
                });
                let listed = failing.contains(s);
                if right != listed {
                    result.passed += 1;
                    result.failing_as_listed += usize::from(listed);
                } else {
                    result.misses.push(Miss {
                        sentence: s.clone(),
                        expected: expected.clone(),
                        got: got.as_ref().map(|g| g.intent.clone()),
                        expected_slots: slots.clone(),
                        got_slots: got.map(|g| g.slots).unwrap_or_default(),
                        listed_as_failing: listed,
                    });
                }
            }
        }
        out.push(result);
    }
    Ok(LanguageRun {
        files: out,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// hassil's context rule when no entity is named, and list values that
    /// are lists, alone and in a word with another slot.
    #[test]
    fn context_a_block_asks_of_an_entity_comes_from_the_caller_without_one() {
        let sentences = "language: xx\nlists:\n  cover_classes:\n    values:\n      - in: blinds\n        out: [blind, shade]\nintents:\n  HassTurnOn:\n    data:\n      - sentences: [\"open the lights\"]\n        requires_context: {domain: light}\n      - sentences: [\"open the lights\", \"open {cover_classes:device_class}\", \"open {area}{cover_classes:device_class}\"]\n        excludes_context: {domain: cover}\n        slots: {name: all}\n";
        let home = "areas:\n  - {name: Kitchen, id: kitchen}\n";
        let l = Language::from_texts(
            &[("_common.yaml", "language: xx\n"), ("x.yaml", sentences)],
            home,
        )
        .expect("loads");
        let ctx = |k: &str, v: &str| BTreeMap::from([(k.to_string(), Json::String(v.into()))]);
        let got = |text: &str, c: &BTreeMap<String, Json>| {
            l.recognize(text, c)
                .map(|r| serde_json::to_string(&r.slots).unwrap_or_default())
        };
        // No entity named: the first block needs domain light from the
        // caller, the second must not have domain cover.
        assert_eq!(
            got("open the lights", &BTreeMap::new()).as_deref(),
            Some(r#"{"name":"all"}"#)
        );
        assert_eq!(
            got("open the lights", &ctx("domain", "light")).as_deref(),
            Some("{}")
        );
        assert_eq!(got("open the lights", &ctx("domain", "cover")), None);
        // A list value that is a list comes out as one, alone and paired.
        assert_eq!(
            got("open blinds", &BTreeMap::new()).as_deref(),
            Some(r#"{"device_class":["blind","shade"],"name":"all"}"#)
        );
        assert_eq!(
            got("open kitchenblinds", &BTreeMap::new()).as_deref(),
            Some(r#"{"area":"Kitchen","device_class":["blind","shade"],"name":"all"}"#)
        );
    }

    /// The slots `l` reads in `text`, as JSON, with no context.
    fn slots_of(l: &Language, text: &str) -> Option<String> {
        l.recognize(text, &BTreeMap::new())
            .map(|r| serde_json::to_string(&r.slots).unwrap_or_default())
    }

    /// HA's runner's comparison: a list in the test allows any of its
    /// values; a list recognised must hold every value the test names.
    #[test]
    fn a_list_value_holds_the_values_its_test_names() {
        let j = |s: &str| serde_json::from_str::<Json>(s).expect("JSON");
        let check = |got: &str, want: &str, expect: bool| {
            assert_eq!(same(&j(got), &j(want)), expect, "{got} for {want}");
        };
        check(r#"["window","blind","curtain"]"#, r#"["blind"]"#, true);
        check(r#"["window","blind"]"#, r#"["blind","window"]"#, true);
        check(r#"["window"]"#, r#"["blind"]"#, false);
        check(r#"["blind"]"#, r#"["blind","window"]"#, false);
        check(r#""blind""#, r#"["blind","shade"]"#, true);
        check(r#""door""#, r#"["blind","shade"]"#, false);
        check(r#"["blind","shade"]"#, r#""shade""#, true);
        check("100", r#""100""#, true);
        check("100", "99.5", false);
        check(r#"" Kitchen ""#, r#""kitchen""#, true);
    }

    /// A rule no file defines: the template or list value that uses it is
    /// left out with a warning at its place, and the rest loads (Swahili's
    /// cover classes at aa55003 did not load at all).
    #[test]
    fn a_rule_no_file_defines_leaves_out_what_uses_it_with_a_warning() {
        let common = "language: xx\nlists:\n  cover_classes:\n    values:\n      - in: \"<nowhere>\"\n        out: awning\n      - in: blinds\n        out: blind\n";
        let sentences = "language: xx\nintents:\n  HassTurnOn:\n    data:\n      - sentences: [\"open {cover_classes:device_class}\", \"raise <nowhere>\"]\n        slots: {name: all}\n";
        let l = Language::from_texts(&[("_common.yaml", common), ("x.yaml", sentences)], "{}")
            .expect("loads");
        assert_eq!(
            l.warnings(),
            [
                "_common.yaml:3:3: list cover_classes: value `<nowhere>`: no expansion rule <nowhere>; left out",
                "x.yaml:5:59: sentence template: no expansion rule <nowhere>; left out",
            ]
        );
        let got = |t: &str| slots_of(&l, t);
        assert_eq!(
            got("open blinds").as_deref(),
            Some(r#"{"device_class":"blind","name":"all"}"#)
        );
        assert_eq!(got("raise"), None);
    }

    /// Characters of a script written without spaces are words; a slot in
    /// our syntax stays whole; a wildcard's words come back together.
    #[test]
    fn chinese_is_read_character_by_character() {
        assert_eq!(apart("停止计时器？"), "停 止 计 时 器 ？");
        assert_eq!(
            apart_template("把{房间:area}的TV音量"),
            "把 {房间:area} 的 TV 音 量"
        );
        assert_eq!(together("披 萨 timer 计 时"), "披萨 timer 计时");
        let common = "language: zh-cn\nsettings:\n  ignore_whitespace: true\nexpansion_rules:\n  timer: \"(计时器|定时)\"\nlists:\n  tname:\n    wildcard: true\n";
        let sentences = "language: zh-cn\nintents:\n  HassCancelTimer:\n    data:\n      - sentences: [\"停止 <timer>\", \"停止 {tname:name} <timer>\"]\n";
        let l = Language::from_texts(&[("_common.yaml", common), ("x.yaml", sentences)], "{}")
            .expect("loads");
        let got = |t: &str| slots_of(&l, t);
        assert_eq!(got("停止计时器").as_deref(), Some("{}"));
        assert_eq!(got("停止 计时器").as_deref(), Some("{}"));
        assert_eq!(got("停止披萨计时器").as_deref(), Some(r#"{"name":"披萨"}"#));
        assert_eq!(got("开始计时器"), None);
    }

    /// hassil's ways of reading, in one small language: words against a
    /// slot also apart from it; words against a group of slots to each
    /// way; of equal paths, the one with more words written; of equal
    /// readings, the block written first.
    #[test]
    fn readings_as_hassil_makes_them() {
        let common = "language: xx\nexpansion_rules:\n  temperature: \"{temperature}[ ][°|도]\"\nlists:\n  temperature:\n    range:\n      type: temperature\n      from: 0\n      to: 40\n  state:\n    values:\n      - in: closed\n        out: closed\n      - in: now closed\n        out: closing\n  half:\n    values:\n      - in: half\n        out: 30\n  quarter:\n    values:\n      - in: quarter\n        out: 15\n";
        let sentences = "language: xx\nintents:\n  HassTurnOn:\n    data:\n      - sentences: [\"{name}[(on|go)]\"]\n        slots: {domain: scene}\n      - sentences: [\"switch {name} on\"]\n        slots: {domain: switch}\n      - sentences: [\"switch {name} on\"]\n        slots: {domain: light}\n  HassGetState:\n    data:\n      - sentences: [\"is it [now] {state}\"]\n  HassCancelTimer:\n    data:\n      - sentences: [\"cancel [the]({half:start_minutes}|{quarter:start_minutes})\"]\n  HassClimateSetTemperature:\n    data:\n      - sentences: [\"set <temperature>[로]\"]\n";
        let home = "entities:\n  - name: Party\n    id: scene.party\n";
        let l = Language::from_texts(&[("_common.yaml", common), ("x.yaml", sentences)], home)
            .expect("loads");
        let got = |t: &str| slots_of(&l, t);
        // words_written_against_a_slot_are_also_read_apart
        assert_eq!(
            got("party on").as_deref(),
            Some(r#"{"domain":"scene","name":"Party"}"#)
        );
        assert_eq!(
            got("partyon").as_deref(),
            Some(r#"{"domain":"scene","name":"Party"}"#)
        );
        // readings_that_tie_go_to_the_block_written_first
        assert_eq!(
            got("switch party on").as_deref(),
            Some(r#"{"domain":"switch","name":"Party"}"#)
        );
        // of_equal_paths_the_one_with_more_words_written_is_kept
        assert_eq!(
            got("is it now closed").as_deref(),
            Some(r#"{"state":"closed"}"#)
        );
        // a_suffix_after_an_optional_unit_is_glued_to_it
        for said in ["set 30도로", "set 30도", "set 30로"] {
            assert_eq!(
                got(said).as_deref(),
                Some(r#"{"temperature":30}"#),
                "{said}"
            );
        }
        // words_against_a_group_of_slots_go_to_each_way
        assert_eq!(
            got("cancel thehalf").as_deref(),
            Some(r#"{"start_minutes":"30"}"#)
        );
        assert_eq!(
            got("cancel quarter").as_deref(),
            Some(r#"{"start_minutes":"15"}"#)
        );
    }

    fn check(template: &str, expect: &str) {
        let node = parse_hassil(template).expect("parses");
        let mut lists = BTreeMap::new();
        lists.insert(
            "area".to_string(),
            List {
                kind: ListKind::Values(vec![("sovrum".into(), "Sovrum".into())]),
                fuzzy: false,
                origin: Origin::default(),
            },
        );
        lists.insert(
            "cover".to_string(),
            List {
                kind: ListKind::Values(vec![("gardin".into(), "curtain".into())]),
                fuzzy: false,
                origin: Origin::default(),
            },
        );
        let mut joins = Joins {
            lists: &mut lists,
            made: BTreeMap::new(),
            pairs: BTreeMap::new(),
            spreads: MAX_SPREAD_RUNS,
        };
        assert_eq!(render(&node, &mut joins), expect, "{template:?}");
        if let Some(ListKind::Values(v)) = lists.get("area__cover__j0").map(|l| &l.kind) {
            // Two slots in one word: every joining, both values.
            assert_eq!(
                v.iter().map(|(h, _)| h.as_str()).collect::<Vec<_>>(),
                [
                    "sovrumgardin",
                    "sovrum gardin",
                    "sovrumsgardin",
                    "sovrums gardin"
                ]
            );
            assert_eq!(v[0].1, format!("Sovrum{PAIR}curtain"));
        }
    }

    #[test]
    fn templates_become_ours() {
        check("turn on [the] light[s]", "turn on [the] (light|lights)");
        check("(a;b)", "(a b|b a)");
        check(
            "{brightness}[%| percent]",
            "{brightness:brightness} [(%|percent)]",
        );
        check("{volume:volume_level}", "{volume:volume_level}");
        check("(light|lamp)[s] on", "(light|lights|lamp|lamps) on");
        // Words after a slot: each way once (a suffix reached twice).
        check("{t}[ ][°|도][로]", "{t:t} [(로|°|°로|도|도로)]");
        check("what's the time?", "what's the time?");
        // Words against a slot that begins a word: with it, or apart
        // (hassil skips the space after such a slot).
        check(
            "i {area}[me][t]",
            "i ({area__j0:area}|{area:area} [(t|me|met)])",
        );
        check(
            "pause ({hours} time[r])[s] now",
            "pause ({hours:hours} (timer|timers)|{hours:hours} (time|times)) now",
        );
        check(
            "{area}[s][ ]{cover:device_class}",
            "{area__cover__j0:pair__area__device_class}",
        );
    }

    #[test]
    fn bad_templates_are_placed() {
        assert_eq!(parse_hassil("turn on (the").unwrap_err().1, "missing `)`");
        // Hostile sizes are errors, not hours or a stack overflow.
        let deep = format!("{}a{}", "(".repeat(100_000), ")".repeat(100_000));
        assert!(parse_hassil(&deep).unwrap_err().1.contains("nested"));
        assert!(
            parse_hassil("(a;b;c;d;e;f;g;h;i;j;k)")
                .unwrap_err()
                .1
                .contains("permutation")
        );
        assert!(parse_hassil("turn {on").is_err());
        assert!(parse_hassil("a > b").is_err());
    }

    #[test]
    fn rules_that_blow_up_are_refused() {
        let mut common = String::from("language: xx\nexpansion_rules:\n  r0: \"a\"\n");
        for i in 1..23 {
            common += &format!("  r{i}: \"<r{0}> <r{0}>\"\n", i - 1);
        }
        let file =
            "language: xx\nintents:\n  X:\n    data:\n      - sentences:\n          - \"<r22>\"\n";
        let e = Language::from_texts(
            &[("_common.yaml", &common), ("x.yaml", file)],
            "areas: []\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("x.yaml:6:14") && e.contains("pieces"), "{e}");
    }

    #[test]
    fn ranges_take_what_they_allow() {
        let r = RawRange {
            from: 0.0,
            to: 100.0,
            ..RawRange::default()
        };
        assert_eq!(in_range(50.0, &r), Some(Json::from(50)));
        assert_eq!(in_range(101.0, &r), None);
        assert_eq!(in_range(2.5, &r), None);
        let halves = RawRange {
            fractions: Some(Fractions::Halves),
            ..r
        };
        assert_eq!(in_range(2.5, &halves), Some(Json::from(2.5)));
    }
}
