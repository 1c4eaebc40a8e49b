//! Home Assistant's sentence files and homes, mangled: every mutation of
//! the real English files (a character deleted, doubled or replaced by one
//! of the template syntax's, at seeded places) and of the home either
//! loads or is an error naming its place, and a loaded language recognises
//! without panicking. A deterministic companion to `fuzz/ha`, run by CI.

use ainima_fallbacks::ha::Language;

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const SPECIAL: &[char] = &[
    '(', ')', '[', ']', '{', '}', '<', '>', '|', ';', ':', '\\', '"', '\n', '-', ' ', '#', '\'',
];

fn mutate(text: &str, rng: &mut Rng) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..1 + rng.below(3) {
        if chars.is_empty() {
            break;
        }
        let at = rng.below(chars.len());
        match rng.below(3) {
            0 => {
                chars.remove(at);
            }
            1 => {
                let c = chars[at];
                chars.insert(at, c);
            }
            _ => chars[at] = SPECIAL[rng.below(SPECIAL.len())],
        }
    }
    chars.into_iter().collect()
}

#[test]
fn mangled_sentence_files_and_homes_never_panic() {
    let Some(data) = ainima_testkit::data_dir() else {
        return;
    };
    let dir = data.join("ha-intents");
    let read = |rel: &str| std::fs::read_to_string(dir.join(rel)).ok();
    let (Some(common), Some(lights), Some(timers), Some(home)) = (
        read("sentences/en/_common.yaml"),
        read("sentences/en/light_HassTurnOn.yaml"),
        read("sentences/en/homeassistant_HassStartTimer.yaml"),
        read("tests/en/_fixtures.yaml"),
    ) else {
        ainima_testkit::skip::<()>("no ha-intents in the shared data");
        return;
    };
    // The unmangled files load and understand.
    let files = [
        ("_common.yaml", common.as_str()),
        ("light_HassTurnOn.yaml", lights.as_str()),
        ("homeassistant_HassStartTimer.yaml", timers.as_str()),
    ];
    let l = Language::from_texts(&files, &home).expect("the real files load");
    let r = l
        .recognize("turn on the kitchen lights", &Default::default())
        .expect("understood");
    assert_eq!(r.intent, "HassTurnOn");
    let mut rng = Rng(14);
    let (mut loaded, mut refused) = (0, 0);
    for case in 0..600 {
        let which = case % 4;
        let mangled = match which {
            0 => mutate(&common, &mut rng),
            1 => mutate(&lights, &mut rng),
            2 => mutate(&timers, &mut rng),
            _ => mutate(&home, &mut rng),
        };
        let mut files = files.to_vec();
        let home = if which == 3 {
            mangled.as_str()
        } else {
            files[which].1 = &mangled;
            home.as_str()
        };
        match Language::from_texts(&files, home) {
            Ok(l) => {
                loaded += 1;
                for s in [
                    "turn on the kitchen lights",
                    "set a timer for 5 and a half minutes",
                    "",
                    "(( [ {",
                ] {
                    let _ = l.recognize(s, &Default::default());
                }
            }
            Err(e) => {
                refused += 1;
                let m = e.to_string();
                // An error names a file, line and column.
                let place = m.split(": ").next().unwrap_or_default();
                assert!(
                    place.split(':').count() >= 3,
                    "case {case}: no place in {m:?}"
                );
            }
        }
    }
    assert!(
        loaded > 0 && refused > 0,
        "{loaded} loaded, {refused} refused"
    );
}
