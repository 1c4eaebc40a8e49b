//! Any bytes into the decoder, then to 16 kHz mono and through the
//! segmenter: an error is fine, a panic, a hang or a huge allocation is not.
#![no_main]

use ainima_audio::decode::{decode_bytes, DecodeLimits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Keep each run short: a minute of audio at most.
    let limits = DecodeLimits { max_seconds: 60.0, ..DecodeLimits::default() };
    if let Ok(audio) = decode_bytes(data, &limits) {
        if let Ok(mono) = audio.to_16k_mono() {
            let _ = ainima_audio::endpoint::segments(&mono, &Default::default());
        }
    }
});
