//! Any text as a sentence template: parse it, compile it with a list and
//! match the same text against it, exactly and by near readings. Errors are fine; a panic or a hang is not.
#![no_main]

use ainima_fallbacks::{Catalog, Context, Matcher};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if ainima_fallbacks::template::parse(text).is_err() {
        return;
    }
    let mut c = Catalog::new();
    let src = format!(
        "[intents.x]\ntemplates = [{}]\n[lists.l]\nvalues = [\"a b\", \"c\"]\nfuzzy = true\n[lists.w]\nwildcard = true\n[expansions]\nr = \"(a|b)\"\n",
        serde_json::to_string(text).unwrap_or_default()
    );
    if c.add_str("fuzz.toml", &src).is_err() {
        return;
    }
    if let Ok(m) = Matcher::new(&c) {
        let _ = m.parse(text, &Context::default());
        let _ = m.parse("a b c 25 percent tomorrow", &Context::default());
        // Near readings of the text and of a sentence near it.
        let _ = m.near(text, &Context::default(), 3);
        let _ = m.near("ab see 25 persent in an hour in ten minutes", &Context::default(), 3);
    }
});
