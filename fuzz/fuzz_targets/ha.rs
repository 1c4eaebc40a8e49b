//! Any text as a Home Assistant sentence file (and the same text as the
//! home): load it beside a small common file, compile it into the
//! automaton, and recognise a sentence with it.
#![no_main]

use ainima_fallbacks::ha::Language;
use libfuzzer_sys::fuzz_target;

const COMMON: &str = "language: en\nexpansion_rules:\n  the: \"(the|my)\"\n  name: \"[<the>] {name}\"\nlists:\n  brightness:\n    range:\n      from: 0\n      to: 100\n";
const HOME: &str = "areas:\n  - name: Kitchen\n    id: kitchen\nentities:\n  - name: Lamp\n    id: light.lamp\n    area: kitchen\n";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for (files, home) in [
        (vec![("_common.yaml", COMMON), ("fuzz.yaml", text)], HOME),
        (vec![("_common.yaml", COMMON)], text),
    ] {
        if let Ok(l) = Language::from_texts(&files, home) {
            let _ = l.recognize("turn on the lamp in the kitchen to 50%", &Default::default());
        }
    }
});
