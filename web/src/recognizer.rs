//! Whisper in a Web Worker: [`Recognizer`].

use serde_json::json;
use wasm_bindgen::prelude::*;

use crate::Error;

/// Whisper in the page (a Web Worker holds one): the model's files are
/// given as bytes (the page fetches them and keeps them in the Cache API).
#[wasm_bindgen]
pub struct Recognizer {
    engine: ainima::stt::whisper::WhisperEngine,
}

impl std::fmt::Debug for Recognizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recognizer").finish_non_exhaustive()
    }
}

#[wasm_bindgen]
impl Recognizer {
    /// The model `name` from its files: `config.json`, `ainima.json` (may be
    /// absent), `tokenizer.json`, `model.safetensors`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        name: &str,
        config: &[u8],
        manifest: Option<Vec<u8>>,
        tokenizer: &[u8],
        weights: &[u8],
    ) -> Result<Recognizer, Error> {
        let files = ainima::stt::whisper::ModelFiles {
            config,
            manifest: manifest.as_deref(),
            tokenizer,
            weights,
        };
        let engine = ainima::stt::whisper::WhisperEngine::from_parts(name, &files)
            .map_err(|e| Error::Model(e.to_string()))?;
        Ok(Recognizer { engine })
    }

    /// Sets how the recogniser finds speech in what it is given, from
    /// `[endpointer]`'s TOML, as natively.
    #[wasm_bindgen(js_name = setEndpointer)]
    pub fn set_endpointer(&mut self, toml_text: &str) -> Result<(), Error> {
        self.engine.endpointer = crate::endpointer(toml_text)?;
        Ok(())
    }

    /// The words in 16 kHz mono `samples`, as `ainima transcribe --json`
    /// gives them: `{"text", "segments", "confidence", "timings_ms"}`.
    pub fn transcribe(&mut self, samples: &[f32]) -> Result<String, Error> {
        use ainima::stt::SpeechToText;
        let t = self
            .engine
            .transcribe(samples)
            .map_err(|e| Error::Recognition(e.to_string()))?;
        Ok(json!({
            "text": t.text,
            "segments": t.segments,
            "confidence": t.confidence,
            "timings_ms": t.timings_ms,
        })
        .to_string())
    }
}
