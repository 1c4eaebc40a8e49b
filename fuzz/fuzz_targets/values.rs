//! Any text through every slot value parser and the tokenizer.
#![no_main]

use ainima_fallbacks::{date, names, text, values};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else { return };
    let w = text::words(s);
    for i in 0..w.len().min(8) {
        let w = &w[i..];
        let _ = values::integer(w);
        let _ = values::number(w);
        let _ = values::ordinal(w);
        let _ = values::duration(w);
        let _ = values::time_of_day(w);
        let _ = values::percentage(w);
        let _ = values::temperature(w);
        for l in ["da", "de", "es", "fr", "it", "nl", "pt"] {
            if let Some(l) = values::NumberWords::of(l) {
                let _ = values::integer_in(l, w);
            }
        }
        let today = date::Date::new(2026, 2, 28).expect("a date");
        let _ = date::relative_date(w, today);
        let _ = names::best_match(w, &["kitchen light", "alice"], 0.8);
    }
});
