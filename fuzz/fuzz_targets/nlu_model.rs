//! Any bytes as an NLU model file (`ainima nlu train`'s output): read it,
//! then parse a sentence with what was read. An error is fine; a panic, a
//! hang or a huge allocation is not.
#![no_main]

use ainima_neurosymbolic::nlu::Nlu;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Nlu::from_bytes(data) {
        let _ = m.parse("play the song Yellow in the kitchen at 50%");
    }
});
