//! Any bytes as a CTranslate2 `model.bin`: parse, then map a Whisper spec
//! onto the Hugging Face names. An error is fine; a panic, a hang or a huge
//! allocation is not.
#![no_main]

use ainima::stt::whisper::ct2::Ct2Model;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(m) = Ct2Model::parse(data) {
        let _ = m.to_hf_tensors();
    }
});
