//! A forward-chaining production rule engine over facts. Facts are named
//! values (`intent`, `slot.device`, `time.hour`, `lights.kitchen`); a rule
//! says when (a condition over facts) and then (assignments to facts), and
//! why. The engine fires the first rule, by salience then file order, whose
//! condition holds and which has not fired yet, until none is left; every
//! firing is recorded, so the outcome can be explained.
//!
//! Conditions: `and`, `or`, `not`, parentheses, `== != < <= > >=`, `in [..]`,
//! fact names, numbers, `'strings'`, `true`, `false`. A missing fact is
//! null: false in a test, unequal to anything but `null`. Actions, separated
//! by `;`: `set fact = value-or-fact` and `unset fact`.

use std::collections::BTreeMap;
use std::fmt;

use ainima_fallbacks::Origin;
use ainima_fallbacks::catalog::RuleSource;
use serde::Serialize;

use crate::Error;

/// A fact's value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Fact {
    /// Text.
    Str(String),
    /// A number.
    Num(f64),
    /// A truth value.
    Bool(bool),
}

impl fmt::Display for Fact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fact::Str(s) => f.write_str(s),
            Fact::Num(n) => write!(f, "{n}"),
            Fact::Bool(b) => write!(f, "{b}"),
        }
    }
}

/// The facts the rules see and change.
pub type Facts = BTreeMap<String, Fact>;

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Lit(Option<Fact>),
    Path(String),
    Not(Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    Cmp(Box<Expr>, Op, Box<Expr>),
    In(Box<Expr>, Vec<Expr>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Action {
    Set(String, Expr),
    Unset(String),
}

/// A compiled rule.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Its name.
    pub name: String,
    /// Higher fires first.
    pub salience: i32,
    /// The condition as written.
    pub when: String,
    /// The actions as written.
    pub then: String,
    /// Why, for explanations.
    pub because: String,
    /// Where it is defined.
    pub origin: Origin,
    cond: Expr,
    actions: Vec<Action>,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Num(f64),
    Str(String),
    Sym(&'static str),
}

fn lex(src: &str, origin: &Origin) -> Result<Vec<(Tok, usize)>, Error> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let err = |at: usize, m: String| Error::from(origin.shifted(at).error(m));
    while i < chars.len() {
        let c = chars[i];
        let at = i;
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_alphabetic() || c == '_' {
            while i < chars.len() && (chars[i].is_alphanumeric() || "_.-".contains(chars[i])) {
                i += 1;
            }
            out.push((Tok::Ident(chars[at..i].iter().collect()), at));
        } else if c.is_ascii_digit()
            || (c == '-' && chars.get(i + 1).is_some_and(char::is_ascii_digit))
        {
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let s: String = chars[at..i].iter().collect();
            let n = s
                .parse()
                .map_err(|_| err(at, format!("bad number `{s}`")))?;
            out.push((Tok::Num(n), at));
        } else if c == '\'' || c == '"' {
            i += 1;
            let start = i;
            while i < chars.len() && chars[i] != c {
                i += 1;
            }
            if i == chars.len() {
                return Err(err(at, "string never closed".into()));
            }
            out.push((Tok::Str(chars[start..i].iter().collect()), at));
            i += 1;
        } else {
            let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
            let sym = ["==", "!=", "<=", ">="]
                .into_iter()
                .find(|s| *s == two)
                .or_else(|| {
                    ["<", ">", "(", ")", "[", "]", ",", "=", ";", "!"]
                        .into_iter()
                        .find(|s| s.starts_with(c))
                });
            let Some(sym) = sym else {
                return Err(err(at, format!("unexpected `{c}`")));
            };
            i += sym.len();
            out.push((Tok::Sym(sym), at));
        }
    }
    Ok(out)
}

struct P<'a> {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    origin: &'a Origin,
    end: usize,
}

impl P<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }
    fn at(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |&(_, a)| a)
    }
    fn err<T>(&self, m: impl Into<String>) -> Result<T, Error> {
        Err(self.origin.shifted(self.at()).error(m.into()).into())
    }
    fn eat_word(&mut self, w: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Ident(x)) if x == w) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn eat(&mut self, s: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Sym(x)) if *x == s) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn or(&mut self) -> Result<Expr, Error> {
        let mut e = self.and()?;
        while self.eat_word("or") {
            e = Expr::Or(Box::new(e), Box::new(self.and()?));
        }
        Ok(e)
    }
    fn and(&mut self) -> Result<Expr, Error> {
        let mut e = self.not()?;
        while self.eat_word("and") {
            e = Expr::And(Box::new(e), Box::new(self.not()?));
        }
        Ok(e)
    }
    fn not(&mut self) -> Result<Expr, Error> {
        if self.eat_word("not") || self.eat("!") {
            return Ok(Expr::Not(Box::new(self.not()?)));
        }
        self.cmp()
    }
    fn cmp(&mut self) -> Result<Expr, Error> {
        let left = self.atom()?;
        let op = match self.peek() {
            Some(Tok::Sym("==")) => Op::Eq,
            Some(Tok::Sym("!=")) => Op::Ne,
            Some(Tok::Sym("<")) => Op::Lt,
            Some(Tok::Sym("<=")) => Op::Le,
            Some(Tok::Sym(">")) => Op::Gt,
            Some(Tok::Sym(">=")) => Op::Ge,
            Some(Tok::Ident(w)) if w == "in" => {
                self.pos += 1;
                if !self.eat("[") {
                    return self.err("expected `[` after `in`");
                }
                let mut items = Vec::new();
                while !self.eat("]") {
                    items.push(self.atom()?);
                    if !self.eat(",") && !matches!(self.peek(), Some(Tok::Sym("]"))) {
                        return self.err("expected `,` or `]`");
                    }
                }
                return Ok(Expr::In(Box::new(left), items));
            }
            _ => return Ok(left),
        };
        self.pos += 1;
        Ok(Expr::Cmp(Box::new(left), op, Box::new(self.atom()?)))
    }
    fn atom(&mut self) -> Result<Expr, Error> {
        let Some(t) = self.peek().cloned() else {
            return self.err("expected a fact, a value or `(`");
        };
        self.pos += 1;
        Ok(match t {
            Tok::Num(n) => Expr::Lit(Some(Fact::Num(n))),
            Tok::Str(s) => Expr::Lit(Some(Fact::Str(s))),
            Tok::Ident(w) if w == "true" => Expr::Lit(Some(Fact::Bool(true))),
            Tok::Ident(w) if w == "false" => Expr::Lit(Some(Fact::Bool(false))),
            Tok::Ident(w) if w == "null" => Expr::Lit(None),
            Tok::Ident(w) if ["and", "or", "not", "in"].contains(&w.as_str()) => {
                self.pos -= 1;
                return self.err(format!("expected a fact or a value, found `{w}`"));
            }
            Tok::Ident(w) => Expr::Path(w),
            Tok::Sym("(") => {
                let e = self.or()?;
                if !self.eat(")") {
                    return self.err("expected `)`");
                }
                e
            }
            Tok::Sym(s) => {
                self.pos -= 1;
                return self.err(format!("unexpected `{s}`"));
            }
        })
    }
    fn actions(&mut self) -> Result<Vec<Action>, Error> {
        let mut out = Vec::new();
        loop {
            if self.eat_word("set") {
                let Some(Tok::Ident(path)) = self.peek().cloned() else {
                    return self.err("expected a fact name after `set`");
                };
                self.pos += 1;
                if !self.eat("=") {
                    return self.err("expected `=`");
                }
                out.push(Action::Set(path, self.atom()?));
            } else if self.eat_word("unset") {
                let Some(Tok::Ident(path)) = self.peek().cloned() else {
                    return self.err("expected a fact name after `unset`");
                };
                self.pos += 1;
                out.push(Action::Unset(path));
            } else {
                return self.err("expected `set` or `unset`");
            }
            if self.peek().is_none() {
                return Ok(out);
            }
            if !self.eat(";") {
                return self.err("expected `;` between actions");
            }
        }
    }
}

fn parse_with<T>(
    src: &str,
    origin: &Origin,
    f: impl FnOnce(&mut P) -> Result<T, Error>,
) -> Result<T, Error> {
    let toks = lex(src, origin)?;
    let mut p = P {
        toks,
        pos: 0,
        origin,
        end: src.chars().count(),
    };
    let out = f(&mut p)?;
    if p.peek().is_some() {
        return p.err("unexpected text after the end");
    }
    Ok(out)
}

impl Rule {
    /// Compiles a rule as written in a skill file.
    pub fn compile(src: &RuleSource) -> Result<Rule, Error> {
        let cond = parse_with(&src.when, &src.when_origin, |p| p.or())?;
        let actions = parse_with(&src.then, &src.then_origin, |p| p.actions())?;
        Ok(Rule {
            name: src.name.clone(),
            salience: src.salience,
            when: src.when.clone(),
            then: src.then.clone(),
            because: src.because.clone(),
            origin: src.when_origin.clone(),
            cond,
            actions,
        })
    }
}

fn value<'a>(e: &'a Expr, facts: &'a Facts) -> Option<std::borrow::Cow<'a, Fact>> {
    use std::borrow::Cow;
    match e {
        Expr::Lit(v) => v.as_ref().map(Cow::Borrowed),
        Expr::Path(p) => facts.get(p).map(Cow::Borrowed),
        other => Some(Cow::Owned(Fact::Bool(test(other, facts)))),
    }
}

fn truthy(f: Option<&Fact>) -> bool {
    match f {
        None => false,
        Some(Fact::Bool(b)) => *b,
        Some(Fact::Num(n)) => *n != 0.0,
        Some(Fact::Str(s)) => !s.is_empty(),
    }
}

fn test(e: &Expr, facts: &Facts) -> bool {
    match e {
        Expr::Lit(v) => truthy(v.as_ref()),
        Expr::Path(p) => truthy(facts.get(p)),
        Expr::Not(x) => !test(x, facts),
        Expr::And(a, b) => test(a, facts) && test(b, facts),
        Expr::Or(a, b) => test(a, facts) || test(b, facts),
        Expr::In(x, items) => {
            let v = value(x, facts);
            items.iter().any(|i| value(i, facts) == v)
        }
        Expr::Cmp(a, op, b) => {
            let (a, b) = (value(a, facts), value(b, facts));
            match op {
                Op::Eq => a == b,
                Op::Ne => a != b,
                _ => {
                    let ord = match (a.as_deref(), b.as_deref()) {
                        (Some(Fact::Num(x)), Some(Fact::Num(y))) => x.partial_cmp(y),
                        (Some(Fact::Str(x)), Some(Fact::Str(y))) => Some(x.cmp(y)),
                        _ => None,
                    };
                    ord.is_some_and(|o| match op {
                        Op::Lt => o.is_lt(),
                        Op::Le => o.is_le(),
                        Op::Gt => o.is_gt(),
                        _ => o.is_ge(),
                    })
                }
            }
        }
    }
}

/// One rule firing, for explanations.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Firing {
    /// The rule.
    pub rule: String,
    /// Its reason.
    pub because: String,
    /// Where it is defined.
    pub origin: String,
    /// The facts it changed, as `name = value` or `name unset`.
    pub changed: Vec<String>,
}

/// The most firings in one run; more means rules that keep re-enabling
/// each other.
pub const MAX_FIRINGS: usize = 1000;

/// A set of rules.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    rules: Vec<Rule>,
}

impl Engine {
    /// Compiles the rules of skill files, in order.
    pub fn new(sources: &[RuleSource]) -> Result<Engine, Error> {
        let mut rules = sources
            .iter()
            .map(Rule::compile)
            .collect::<Result<Vec<_>, _>>()?;
        // Stable: equal salience keeps file order.
        rules.sort_by_key(|r| std::cmp::Reverse(r.salience));
        Ok(Engine { rules })
    }

    /// The rules, in firing priority.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Runs the rules to a fixed point over `facts` and returns what fired.
    /// Each rule fires at most once per run (refraction).
    pub fn run(&self, facts: &mut Facts) -> Result<Vec<Firing>, Error> {
        let mut fired = vec![false; self.rules.len()];
        let mut out = Vec::new();
        loop {
            let Some(i) =
                (0..self.rules.len()).find(|&i| !fired[i] && test(&self.rules[i].cond, facts))
            else {
                return Ok(out);
            };
            if out.len() >= MAX_FIRINGS {
                return Err(Error::RuleLoop {
                    rule: self.rules[i].name.clone(),
                });
            }
            fired[i] = true;
            let r = &self.rules[i];
            let mut changed = Vec::new();
            for a in &r.actions {
                match a {
                    Action::Set(path, e) => {
                        let v = value(e, facts).map(std::borrow::Cow::into_owned);
                        match v {
                            Some(v) => {
                                changed.push(format!("{path} = {v}"));
                                facts.insert(path.clone(), v);
                            }
                            None => {
                                changed.push(format!("{path} unset"));
                                facts.remove(path);
                            }
                        }
                    }
                    Action::Unset(path) => {
                        changed.push(format!("{path} unset"));
                        facts.remove(path);
                    }
                }
            }
            out.push(Firing {
                rule: r.name.clone(),
                because: r.because.clone(),
                origin: r.origin.to_string(),
                changed,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn source(name: &str, when: &str, then: &str) -> RuleSource {
        let file: Arc<str> = Arc::from("rules.toml");
        RuleSource {
            name: name.into(),
            salience: 0,
            when: when.into(),
            when_origin: Origin {
                file: file.clone(),
                line: 3,
                column: 9,
            },
            then: then.into(),
            then_origin: Origin {
                file,
                line: 4,
                column: 9,
            },
            because: format!("because {name}"),
        }
    }

    fn check(rules: &[(&str, &str)], facts: &[(&str, Fact)], expect: &str) {
        let sources: Vec<RuleSource> = rules
            .iter()
            .enumerate()
            .map(|(i, (w, t))| source(&format!("r{i}"), w, t))
            .collect();
        let got = match Engine::new(&sources) {
            Err(e) => e.to_string(),
            Ok(engine) => {
                let mut f: Facts = facts
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect();
                match engine.run(&mut f) {
                    Err(e) => e.to_string(),
                    Ok(fired) => {
                        let names: Vec<String> = fired.iter().map(|x| x.rule.clone()).collect();
                        let facts: Vec<String> =
                            f.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        format!("fired {} -> {}", names.join(","), facts.join(" "))
                    }
                }
            }
        };
        assert_eq!(got, expect);
    }

    fn s(x: &str) -> Fact {
        Fact::Str(x.into())
    }

    #[test]
    fn forward_chaining() {
        // Defaults, then a rule enabled by another's conclusion.
        check(
            &[
                (
                    "intent == 'coffee' and not slot.shots",
                    "set slot.shots = 1",
                ),
                ("slot.shots > 3", "set refuse = 'too strong'"),
                ("intent == 'coffee' and slot.shots >= 1", "set ready = true"),
            ],
            &[("intent", s("coffee"))],
            "fired r0,r2 -> intent=coffee ready=true slot.shots=1",
        );
        check(
            &[(
                "slot.shots > 3",
                "set refuse = 'too strong'; unset slot.shots",
            )],
            &[("slot.shots", Fact::Num(5.0))],
            "fired r0 -> refuse=too strong",
        );
        check(
            &[(
                "slot.room in ['kitchen', 'hall'] or x",
                "set light = slot.room",
            )],
            &[("slot.room", s("hall"))],
            "fired r0 -> light=hall slot.room=hall",
        );
        check(&[("missing == null", "set a = 1")], &[], "fired r0 -> a=1");
        check(&[("missing < 3", "set a = 1")], &[], "fired  -> ");
    }

    #[test]
    fn malformed_rules_say_where() {
        check(
            &[("intent == ", "set a = 1")],
            &[],
            "rules.toml:3:19: expected a fact, a value or `(`",
        );
        check(
            &[("a and (b", "set a = 1")],
            &[],
            "rules.toml:3:17: expected `)`",
        );
        check(
            &[("a", "put a = 1")],
            &[],
            "rules.toml:4:9: expected `set` or `unset`",
        );
        check(
            &[("a", "set a = 1 set b = 2")],
            &[],
            "rules.toml:4:19: expected `;` between actions",
        );
        check(
            &[("a == 'x", "set a = 1")],
            &[],
            "rules.toml:3:14: string never closed",
        );
        check(
            &[("a # b", "set a = 1")],
            &[],
            "rules.toml:3:11: unexpected `#`",
        );
    }
}
