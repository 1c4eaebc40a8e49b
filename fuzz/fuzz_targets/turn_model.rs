//! Any bytes as an end-of-turn model file (`ainima turn train`'s output):
//! read it, then judge a falling and a rising tone with what was read: a
//! probability. An error is fine; a panic, a hang or a huge allocation is
//! not.
#![no_main]

use ainima_neurosymbolic::turn_end::{Cues, EndOfTurn, Prosody, features};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = EndOfTurn::from_bytes(data) {
        for rise in [-60.0f32, 60.0] {
            let mut phase = 0.0f32;
            let audio: Vec<f32> = (0..16_000)
                .map(|i| {
                    phase += 2.0 * std::f32::consts::PI * (150.0 + rise * i as f32 / 16_000.0)
                        / 16_000.0;
                    0.2 * phase.sin()
                })
                .collect();
            let x = features(&Cues::default(), &Prosody::of(&audio));
            let (_, p) = m.decide(true, &x);
            assert!((0.0..=1.0).contains(&p), "{p}");
        }
    }
});
