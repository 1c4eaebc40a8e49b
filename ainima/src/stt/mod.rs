//! Speech to text: the [`SpeechToText`] trait every engine implements, and
//! the Whisper engine.

pub mod streaming;
pub mod wer;
pub mod whisper;

/// One stretch of recognised speech.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Segment {
    /// Start, seconds from the beginning of the audio.
    pub start: f64,
    /// End, seconds.
    pub end: f64,
    /// The words.
    pub text: String,
}

/// What an engine heard.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Transcript {
    /// All the words, segments joined.
    pub text: String,
    /// Segment by segment, with times.
    pub segments: Vec<Segment>,
    /// Language code (`en`).
    pub language: String,
    /// Mean token probability over the transcript, 0 to 1.
    pub confidence: f32,
    /// Whether this is a partial result of speech still going on.
    pub partial: bool,
    /// Where the time went, in milliseconds (`mel`, `encode`, `decode`, `total`).
    pub timings_ms: std::collections::BTreeMap<String, f64>,
    /// What the recogniser wrote, when `text` is a near reading of it that
    /// the skills understand (see the session's hearing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heard_as: Option<String>,
    /// A near reading the skills understand that the recogniser found
    /// likely, but not enough to take unasked: the session asks whether it
    /// was meant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maybe: Option<String>,
}

/// A speech recogniser over 16 kHz mono audio.
pub trait SpeechToText {
    /// Transcribe a whole utterance (or file).
    fn transcribe(&mut self, samples: &[f32]) -> crate::Result<Transcript>;

    /// A partial transcript of speech still in progress (may be cheaper, may be less accurate).
    fn partial(&mut self, samples: &[f32]) -> crate::Result<Transcript> {
        let mut t = self.transcribe(samples)?;
        t.partial = true;
        Ok(t)
    }

    /// Transcribe, biased towards `prompt` (text the speaker is likely to
    /// say: what the skills can do). Engines that cannot be biased
    /// transcribe as usual.
    fn transcribe_biased(&mut self, samples: &[f32], prompt: &str) -> crate::Result<Transcript> {
        let _ = prompt;
        self.transcribe(samples)
    }

    /// How likely each of `texts` is as the reading of the audio last
    /// transcribed, to choose between readings: natural logs, comparable
    /// between the texts of one call only (what all of them begin with may
    /// be left out of every sum); `None` when the engine cannot tell or
    /// that audio was more than one stretch.
    fn likelihoods(&mut self, texts: &[&str]) -> crate::Result<Option<Vec<f32>>> {
        let _ = texts;
        Ok(None)
    }

    /// [`SpeechToText::likelihoods`] with `prompt` as the text said before
    /// (as [`SpeechToText::transcribe_biased`] hears): to weigh readings
    /// against one heard biased. `None` from engines that cannot be biased.
    fn likelihoods_biased(
        &mut self,
        texts: &[&str],
        prompt: &str,
    ) -> crate::Result<Option<Vec<f32>>> {
        let _ = (texts, prompt);
        Ok(None)
    }

    /// The model's name.
    fn name(&self) -> &str;
}
