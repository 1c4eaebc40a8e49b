//! The sentence template language, in the spirit of Home Assistant's
//! hassil: `(a|b)` alternatives, `[x]` optional words, `{list}` or
//! `{list:name}` slots, `<rule>` reusable pieces. Words are normalised the
//! way the input is ([`crate::text`]), so punctuation and case in a
//! template do not matter.

use crate::text;

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Literal words, normalised.
    Word(String),
    /// One after another.
    Seq(Vec<Expr>),
    /// Any one of them.
    Alt(Vec<Expr>),
    /// Present or not.
    Opt(Box<Expr>),
    /// A slot filled from the list `list`, reported under `name`.
    Slot {
        /// The list (or value parser, or wildcard) the value comes from.
        list: String,
        /// The slot's name in the result.
        name: String,
        /// Character column (1-based) of the `{` in the template.
        column: usize,
    },
    /// A reusable rule, expanded where it is used.
    Rule {
        /// The rule's name.
        name: String,
        /// Character column (1-based) of the `<` in the template.
        column: usize,
    },
}

/// A syntax error in a template, at a 1-based character column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Column of the offending character, 1-based.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

struct Parser<'a> {
    chars: Vec<(usize, char)>,
    src: &'a str,
    pos: usize,
}

const SPECIAL: &[char] = &['(', ')', '[', ']', '{', '}', '<', '>', '|'];

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).map(|&(_, c)| c)
    }

    fn err<T>(&self, at: usize, message: impl Into<String>) -> Result<T, SyntaxError> {
        Err(SyntaxError {
            column: at + 1,
            message: message.into(),
        })
    }

    /// alternatives := seq ('|' seq)*, ending at `close` (or the end).
    fn alternatives(&mut self, close: Option<char>) -> Result<Expr, SyntaxError> {
        let mut alts = vec![self.seq()?];
        loop {
            match self.peek() {
                Some('|') => {
                    self.pos += 1;
                    alts.push(self.seq()?);
                }
                Some(c) if Some(c) == close => break,
                None if close.is_none() => break,
                None => {
                    return self.err(self.pos, format!("missing `{}`", close.unwrap_or(')')));
                }
                Some(c) => return self.err(self.pos, format!("unexpected `{c}`")),
            }
        }
        Ok(if alts.len() == 1 {
            alts.pop().unwrap_or(Expr::Seq(Vec::new()))
        } else {
            Expr::Alt(alts)
        })
    }

    fn name(&mut self, close: char, what: &str, open_at: usize) -> Result<String, SyntaxError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c == close || c == ':' {
                break;
            }
            if !(c.is_alphanumeric() || c == '_' || c == '-' || c == '.') {
                return self.err(self.pos, format!("`{c}` cannot be part of a {what} name"));
            }
            self.pos += 1;
        }
        if self.peek().is_none() {
            return self.err(
                open_at,
                format!(
                    "`{}` is never closed",
                    &self.src[self.chars[open_at].0..self.chars[open_at].0 + 1]
                ),
            );
        }
        let name: String = self.chars[start..self.pos]
            .iter()
            .map(|&(_, c)| c)
            .collect();
        if name.is_empty() {
            return self.err(start, format!("empty {what} name"));
        }
        Ok(name)
    }

    fn seq(&mut self) -> Result<Expr, SyntaxError> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            let at = self.pos;
            match c {
                '|' | ')' | ']' => break,
                '(' | '[' => {
                    self.pos += 1;
                    let close = if c == '(' { ')' } else { ']' };
                    let inner = self.alternatives(Some(close)).map_err(|e| {
                        if e.message.starts_with("missing") {
                            SyntaxError {
                                column: at + 1,
                                message: format!("`{c}` is never closed"),
                            }
                        } else {
                            e
                        }
                    })?;
                    self.pos += 1;
                    items.push(if c == '[' {
                        Expr::Opt(Box::new(inner))
                    } else {
                        inner
                    });
                }
                '{' => {
                    self.pos += 1;
                    let list = self.name('}', "slot", at)?;
                    let name = if self.peek() == Some(':') {
                        self.pos += 1;
                        self.name('}', "slot", at)?
                    } else {
                        list.clone()
                    };
                    if self.peek() != Some('}') {
                        return self.err(self.pos, "expected `}`");
                    }
                    self.pos += 1;
                    items.push(Expr::Slot {
                        list,
                        name,
                        column: at + 1,
                    });
                }
                '<' => {
                    self.pos += 1;
                    let name = self.name('>', "rule", at)?;
                    if self.peek() != Some('>') {
                        return self.err(self.pos, "expected `>`");
                    }
                    self.pos += 1;
                    items.push(Expr::Rule {
                        name,
                        column: at + 1,
                    });
                }
                '}' | '>' => return self.err(at, format!("unexpected `{c}`")),
                c if c.is_whitespace() => self.pos += 1,
                _ => {
                    let start = self.chars[at].0;
                    while let Some(c) = self.peek() {
                        if c.is_whitespace() || SPECIAL.contains(&c) {
                            break;
                        }
                        self.pos += 1;
                    }
                    let end = self.chars.get(self.pos).map_or(self.src.len(), |&(b, _)| b);
                    for t in text::tokens(&self.src[start..end]) {
                        items.push(Expr::Word(text::canonical(&t.word).into_owned()));
                    }
                }
            }
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Expr::Seq(Vec::new()))
        } else {
            Expr::Seq(items)
        })
    }
}

/// Parses one template.
pub fn parse(src: &str) -> Result<Expr, SyntaxError> {
    let e = parse_any(src)?;
    if e.matches_empty() {
        return Err(nothing());
    }
    Ok(e)
}

/// [`parse`] for a template whose every word may be left out (Home
/// Assistant writes such sentences, `[next] [song]`): it takes what the
/// template says except saying nothing at all ([`Expr::nonempty`]). Still
/// an error when the template can say nothing but nothing.
pub fn parse_nonempty(src: &str) -> Result<Expr, SyntaxError> {
    parse_any(src)?.nonempty().ok_or_else(nothing)
}

/// The template, whatever it matches.
fn parse_any(src: &str) -> Result<Expr, SyntaxError> {
    let mut p = Parser {
        chars: src.char_indices().collect(),
        src,
        pos: 0,
    };
    p.alternatives(None)
}

fn nothing() -> SyntaxError {
    SyntaxError {
        column: 1,
        message: "the template can match nothing at all".into(),
    }
}

impl Expr {
    /// The expression without its empty reading: what it matches but the
    /// empty sentence, `None` when that is all it matches. A sequence of
    /// parts that may each be empty becomes one alternative per part that
    /// is said first (the parts before it left out, those after it as they
    /// are): `[a] [b]` is `a [b] | b`.
    pub fn nonempty(&self) -> Option<Expr> {
        if !self.matches_empty() {
            return Some(self.clone());
        }
        match self {
            Expr::Word(_) | Expr::Slot { .. } | Expr::Rule { .. } => Some(self.clone()),
            Expr::Opt(e) => e.nonempty(),
            Expr::Alt(v) => {
                let alts: Vec<Expr> = v.iter().filter_map(Expr::nonempty).collect();
                match alts.len() {
                    0 => None,
                    1 => alts.into_iter().next(),
                    _ => Some(Expr::Alt(alts)),
                }
            }
            Expr::Seq(v) => {
                // Every part may be empty here (the sequence may be).
                let alts: Vec<Expr> = (0..v.len())
                    .filter_map(|i| {
                        let first = v[i].nonempty()?;
                        let mut seq = vec![first];
                        seq.extend(v[i + 1..].iter().cloned());
                        Some(if seq.len() == 1 {
                            seq.remove(0)
                        } else {
                            Expr::Seq(seq)
                        })
                    })
                    .collect();
                match alts.len() {
                    0 => None,
                    1 => alts.into_iter().next(),
                    _ => Some(Expr::Alt(alts)),
                }
            }
        }
    }

    /// Whether the expression can match no words (rules count as words).
    pub fn matches_empty(&self) -> bool {
        match self {
            Expr::Word(_) | Expr::Slot { .. } | Expr::Rule { .. } => false,
            Expr::Seq(v) => v.iter().all(Expr::matches_empty),
            Expr::Alt(v) => v.iter().any(Expr::matches_empty),
            Expr::Opt(_) => true,
        }
    }

    /// Calls `f` on every slot, in order.
    pub fn for_each_slot(&self, f: &mut impl FnMut(&str, &str, usize)) {
        match self {
            Expr::Slot { list, name, column } => f(list, name, *column),
            Expr::Seq(v) | Expr::Alt(v) => v.iter().for_each(|e| e.for_each_slot(f)),
            Expr::Opt(e) => e.for_each_slot(f),
            Expr::Word(_) | Expr::Rule { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(e: &Expr) -> String {
        match e {
            Expr::Word(w) => w.clone(),
            Expr::Seq(v) => v.iter().map(show).collect::<Vec<_>>().join(" "),
            Expr::Alt(v) => format!("({})", v.iter().map(show).collect::<Vec<_>>().join("|")),
            Expr::Opt(e) => format!("[{}]", show(e)),
            Expr::Slot { list, name, .. } if list == name => format!("{{{list}}}"),
            Expr::Slot { list, name, .. } => format!("{{{list}:{name}}}"),
            Expr::Rule { name, .. } => format!("<{name}>"),
        }
    }

    fn check(src: &str, expect: &str) {
        let got = match parse(src) {
            Ok(e) => show(&e),
            Err(e) => format!("error at {}: {}", e.column, e.message),
        };
        assert_eq!(got, expect, "template {src:?}");
    }

    fn check_nonempty(src: &str, expect: &str) {
        let got = match parse_nonempty(src) {
            Ok(e) => show(&e),
            Err(e) => format!("error at {}: {}", e.column, e.message),
        };
        assert_eq!(got, expect, "template {src:?}");
    }

    #[test]
    fn templates() {
        check(
            "Turn (on|off) [the] {device}!",
            "turn (on|off) [the] {device}",
        );
        check("set a timer for {duration}", "set a timer for {duration}");
        check("what's <the> time", "what is <the> time");
        check(
            "[please] (open|launch) {app:name}",
            "[please] (open|launch) {app:name}",
        );
        check("a|b c", "(a|b c)");
        check("two [or three]", "2 [or 3]");
        check("x (a|)", "x (a|)");
    }

    #[test]
    fn errors_say_where() {
        check(
            "turn (on|off [the] light",
            "error at 6: `(` is never closed",
        );
        check("turn on {device", "error at 9: `{` is never closed");
        check("turn on {}", "error at 10: empty slot name");
        check("turn on }", "error at 9: unexpected `}`");
        check(
            "turn on {dev ice}",
            "error at 13: ` ` cannot be part of a slot name",
        );
        check(
            "[please]",
            "error at 1: the template can match nothing at all",
        );
        check("", "error at 1: the template can match nothing at all");
        check("a)", "error at 2: unexpected `)`");
        check_nonempty("[please]", "please");
        check_nonempty("[a] [b]", "(a [b]|b)");
        check_nonempty("[a] [b|c] [d]", "(a [(b|c)] [d]|(b|c) [d]|d)");
        check_nonempty("[a] b", "[a] b");
        check_nonempty("[a|[b]]", "(a|b)");
        check_nonempty("[]", "error at 1: the template can match nothing at all");
        check("<>", "error at 2: empty rule name");
    }
}
