//! Recursive testing: variants of a scenario (speaking rate, pitch, noise,
//! reverberation, filler words, paraphrases) to find where behaviour breaks, and a failing variant shrunk
//! to the fewest turns that still fail, saved as a regression scenario.

use crate::scenario::{Scenario, Speech};

/// Another way to say a request (from the skills' templates), if any.
pub type Paraphrase<'a> = dyn Fn(&str) -> Option<String> + 'a;

/// The variants of `s`, each with a label saying what changed; with
/// `paraphrase`, also one with every request it knows another way to say
/// said that way.
pub fn variants(s: &Scenario, paraphrase: Option<&Paraphrase<'_>>) -> Vec<(String, Scenario)> {
    let mut out = Vec::new();
    let mut push = |label: String, f: &dyn Fn(&mut Scenario)| {
        let mut v = s.clone();
        f(&mut v);
        v.name = format!("{} [{label}]", s.name);
        out.push((label, v));
    };
    for rate in [120u32, 190] {
        push(format!("rate {rate}"), &|v| v.voice.rate_wpm = rate);
    }
    for pitch in [25u32, 70] {
        push(format!("pitch {pitch}"), &|v| v.voice.pitch = pitch);
    }
    for snr in [20.0f32, 10.0] {
        push(format!("noise {snr} dB"), &|v| {
            v.room.noise_snr_db = Some(snr)
        });
    }
    push("reverb 800 ms".into(), &|v| v.room.rt60_ms = 800);
    push("fillers".into(), &|v| {
        for t in &mut v.turns {
            if let Speech::Say(text) = &mut t.speech
                && text.split_whitespace().count() > 2
            {
                *text = format!("Um, {}", lower_first(text));
            }
        }
    });
    if let Some(p) = paraphrase {
        let mut v = s.clone();
        let mut changed = false;
        for t in &mut v.turns {
            if let Speech::Say(text) = &mut t.speech
                && let Some(other) = p(text)
            {
                *text = other;
                changed = true;
            }
        }
        if changed {
            v.name = format!("{} [paraphrased]", s.name);
            out.push(("paraphrased".into(), v));
        }
    }
    out
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// The smallest scenario, by turns, for which `fails` still holds: turns
/// are dropped one at a time (from the last) as long as it keeps failing.
/// `fails` is asked at most once per turn a round.
pub fn shrink(s: &Scenario, fails: &mut dyn FnMut(&Scenario) -> bool) -> Scenario {
    let mut best = s.clone();
    loop {
        let mut smaller = None;
        for i in (0..best.turns.len()).rev() {
            if best.turns.len() == 1 {
                break;
            }
            let mut candidate = best.clone();
            candidate.turns.remove(i);
            if fails(&candidate) {
                smaller = Some(candidate);
                break;
            }
        }
        match smaller {
            Some(c) => best = c,
            None => return best,
        }
    }
}

/// `s` as a YAML scenario file, marked as found by exploring.
pub fn to_yaml(s: &Scenario, found: &str) -> String {
    let body = serde_norway::to_string(s).unwrap_or_default();
    format!("# Found by `ainima ttdd explore`: {found}. Kept as a regression scenario.\n{body}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse;

    fn three_turns() -> Scenario {
        parse(
            "s.yaml",
            "name: three\nturns:\n  - say: What time is it?\n  - say: Turn on the kitchen light.\n    expect: { intent: lights_on }\n  - say: Set a timer for five minutes.\n",
        )
        .expect("parses")
    }

    #[test]
    fn variants_change_one_thing_each() {
        let s = three_turns();
        let v = variants(&s, None);
        assert_eq!(v.len(), 8);
        let p = |t: &str| (t == "What time is it?").then(|| "Tell me the time.".to_string());
        let with = variants(&s, Some(&p));
        let (_, para) = with.last().expect("a paraphrase");
        assert_eq!(para.turns[0].speech.words(), Some("Tell me the time."));
        assert_eq!(
            para.turns[1].speech.words(),
            Some("Turn on the kitchen light.")
        );
        assert!(
            v.iter()
                .all(|(_, x)| x.turns.len() == 3 && x.name != s.name)
        );
        let (_, fillers) = v.iter().find(|(l, _)| l == "fillers").expect("fillers");
        assert_eq!(
            fillers.turns[1].speech.words(),
            Some("Um, turn on the kitchen light.")
        );
        let (_, noisy) = v.iter().find(|(l, _)| l == "noise 10 dB").expect("noise");
        assert_eq!(noisy.room.noise_snr_db, Some(10.0));
    }

    #[test]
    fn a_failure_shrinks_to_the_turn_that_causes_it_and_round_trips() {
        let s = three_turns();
        let mut asked = 0;
        let small = shrink(&s, &mut |c| {
            asked += 1;
            c.turns
                .iter()
                .any(|t| t.speech.words() == Some("Turn on the kitchen light."))
        });
        assert_eq!(small.turns.len(), 1);
        assert_eq!(
            small.turns[0].speech.words(),
            Some("Turn on the kitchen light.")
        );
        assert!(asked <= 6, "{asked} runs");
        let yaml = to_yaml(&small, "pitch 25");
        let back = parse("back.yaml", &yaml).expect("the saved file parses");
        assert_eq!(back, small);
    }
}
