//! Any text as a TTDD scenario file: parsed and checked, or a clear error
//! with a place; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match ainima_ttdd::scenario::parse("fuzz.yaml", text) {
        Ok(s) => {
            assert!(!s.turns.is_empty());
            let _ = serde_json::to_string(&s);
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with("fuzz.yaml:"), "{msg}");
        }
    }
});
