//! Any text as a skill file (TOML with templates, lists and rules): load it,
//! compile its rules, build an assistant and talk to it once.
#![no_main]

use ainima_fallbacks::Catalog;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut c = Catalog::new();
    if c.add_str("fuzz.toml", text).is_err() {
        return;
    }
    if let Ok(mut a) = ainima_neurosymbolic::Assistant::new(c, 1) {
        let _ = a.hear("turn on the light", ainima_neurosymbolic::Now::from_unix(0));
    }
});
