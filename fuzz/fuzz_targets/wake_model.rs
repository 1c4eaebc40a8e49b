//! Any bytes as a wake word model file (`ainima wake train`'s output): read
//! it, then score a second of audio with what was read. An error is fine;
//! a panic, a hang or a huge allocation is not.
#![no_main]

use ainima_neurosymbolic::wake::Wake;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Wake::from_bytes(data) {
        let audio: Vec<f32> = (0..16_000).map(|i| ((i as f32) * 0.05).sin() * 0.1).collect();
        let _ = m.detect_recording(&audio);
    }
});
