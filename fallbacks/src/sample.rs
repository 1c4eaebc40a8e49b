//! Sentences drawn at random from a catalog's templates, each annotated
//! with its intent and slot values (SNIPS's format, [`Example`]): training
//! data for a model that learns what the templates say, from the same
//! source as the rules.

use crate::catalog::{Catalog, ListKind};
use crate::replies::Rng;
use crate::snips::Example;
use crate::template::Expr;

/// Free text for wildcard slots (list items, message bodies, titles,
/// names).
const FREE: [&str; 16] = [
    "apples",
    "coffee beans",
    "toothpaste",
    "dog food",
    "sunscreen",
    "call the plumber",
    "i am running late",
    "call me back",
    "pick up milk on the way home",
    "the beatles",
    "bohemian rhapsody",
    "see you at eight",
    "happy birthday",
    "jazz for a rainy day",
    "the meeting moved to monday",
    "dinner is ready",
];

fn push_words(chunks: &mut Vec<(String, Option<String>)>, words: &str) {
    match chunks.last_mut() {
        Some((text, None)) => {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(words);
        }
        Some(_) => chunks.push((format!(" {words}"), None)),
        None => chunks.push((words.to_string(), None)),
    }
}

fn draw(
    c: &Catalog,
    e: &Expr,
    rng: &mut Rng,
    chunks: &mut Vec<(String, Option<String>)>,
    depth: usize,
) {
    match e {
        Expr::Word(w) => push_words(chunks, w),
        Expr::Seq(v) => v.iter().for_each(|x| draw(c, x, rng, chunks, depth)),
        Expr::Alt(v) if !v.is_empty() => {
            let k = rng.below(v.len());
            draw(c, &v[k], rng, chunks, depth);
        }
        Expr::Alt(_) => {}
        Expr::Opt(x) => {
            if rng.below(2) == 0 {
                draw(c, x, rng, chunks, depth);
            }
        }
        Expr::Rule { name, .. } if depth < 8 => {
            if let Some(t) = c.expansions.get(name) {
                draw(c, &t.expr, rng, chunks, depth + 1);
            }
        }
        Expr::Rule { .. } => {}
        Expr::Slot { list, name, .. } => {
            let value = match c.list(list).map(|l| l.kind.clone()) {
                Some(ListKind::Values(v)) if !v.is_empty() => v[rng.below(v.len())].0.clone(),
                Some(ListKind::Parser(p)) => {
                    let pool = p.examples();
                    pool[rng.below(pool.len())].to_string()
                }
                _ => FREE[rng.below(FREE.len())].to_string(),
            };
            if value.is_empty() {
                return;
            }
            // A space before the value, in the text before it.
            match chunks.last_mut() {
                Some((text, None)) if !text.is_empty() => text.push(' '),
                Some(_) => chunks.push((" ".into(), None)),
                None => {}
            }
            chunks.push((value, Some(name.clone())));
        }
    }
}

impl Catalog {
    /// `per_template` sentences drawn from each template of every intent
    /// (random alternatives, optional words half the
    /// time, slot values from their lists, typical values for value
    /// parsers, a few phrases for free text), the same for the same `seed`.
    pub fn samples(&self, per_template: usize, seed: u64) -> Vec<Example> {
        let mut rng = Rng(seed);
        let mut out = Vec::new();
        for (name, intent) in &self.intents {
            for t in &intent.templates {
                for _ in 0..per_template {
                    let mut chunks = Vec::new();
                    draw(self, &t.expr, &mut rng, &mut chunks, 0);
                    if chunks.iter().any(|(t, _)| !t.trim().is_empty()) {
                        out.push(Example {
                            intent: name.clone(),
                            chunks,
                        });
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use crate::Matcher;
    use crate::builtin;

    #[test]
    fn sentences_drawn_from_the_built_in_skills_parse_back_to_their_intent_and_slots() {
        let catalog = builtin::catalog().expect("built-in skills");
        let samples = catalog.samples(3, 7);
        assert!(samples.len() > 300, "{}", samples.len());
        assert_eq!(samples, catalog.samples(3, 7));
        let matcher = Matcher::new(&catalog).expect("compiles");
        let ctx = crate::Context::default();
        let mut right = 0;
        for e in &samples {
            let text = e.text();
            if matcher
                .parse(&text, &ctx)
                .is_some_and(|p| p.intent == e.intent)
            {
                right += 1;
            }
        }
        // Some templates overlap (a sentence two intents say alike); almost
        // every drawn sentence reads back as the intent it came from.
        assert!(
            right * 100 >= samples.len() * 95,
            "{right} of {}",
            samples.len()
        );
    }
}
