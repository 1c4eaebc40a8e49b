//! Response templates: variants with `{name}` placeholders, one chosen
//! deterministically from a seed and a turn number, so a conversation reads
//! naturally yet replays identically.

/// SplitMix64: a small, well-mixed, platform-independent hash.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// SplitMix64 over [`mix`]: the same seed gives the same draws on every
/// machine (sentences drawn from templates, benchmark inputs).
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = mix(self.0);
        self.0
    }

    /// A number below `n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// The variant for `seed` and `turn`, `None` if there are none.
pub fn choose(variants: &[String], seed: u64, turn: u64) -> Option<&str> {
    if variants.is_empty() {
        return None;
    }
    let i = mix(seed ^ mix(turn)) % variants.len() as u64;
    variants.get(i as usize).map(String::as_str)
}

/// Fills `{name}` placeholders from `lookup`; a placeholder with no value
/// becomes "that", so a reply never shows braces.
pub fn render(template: &str, lookup: impl Fn(&str) -> Option<String>) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) => {
                let name = &after[..close];
                out.push_str(&lookup(name).unwrap_or_else(|| "that".into()));
                rest = &after[close + 1..];
            }
            None => {
                out.push_str(&rest[open..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    // A reply opening with a value ("{item} is on your list") starts a
    // sentence all the same.
    match out.chars().next() {
        Some(c) if c.is_lowercase() && template.starts_with('{') => {
            let upper: String = c.to_uppercase().collect();
            upper + &out[c.len_utf8()..]
        }
        _ => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_reply_and_variants_are_used() {
        let v: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let picks: Vec<&str> = (0..30).map(|t| choose(&v, 7, t).unwrap_or("")).collect();
        assert_eq!(
            picks,
            (0..30)
                .map(|t| choose(&v, 7, t).unwrap_or(""))
                .collect::<Vec<_>>()
        );
        for x in ["a", "b", "c"] {
            assert!(picks.contains(&x), "variant {x} never chosen");
        }
        assert_eq!(choose(&[], 1, 1), None);
    }

    #[test]
    fn placeholders() {
        let f = |n: &str| (n == "device").then(|| "kitchen light".to_string());
        assert_eq!(
            render("Turning on the {device}.", f),
            "Turning on the kitchen light."
        );
        assert_eq!(render("{x} and {device", f), "That and {device");
    }
}
