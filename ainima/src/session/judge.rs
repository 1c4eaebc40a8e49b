//! What words mean for hearing and turn-taking, and the hearing itself:
//! whether a reading is a complete request, has a self-repair or a wake
//! word to take off, or is a sentence the core cannot read; and the
//! recogniser run over an utterance with its second, biased hearing. The
//! session holds one; a live session's hearing worker holds another, built
//! from the same skills.

use std::panic::{AssertUnwindSafe, catch_unwind};

use ainima_audio::clock::Clock;
use ainima_fallbacks::catalog::Catalog;
use ainima_fallbacks::matcher::{Context, Matcher};

use super::{Costs, charged, content_words, words};
use crate::stt::{SpeechToText, Transcript};
use crate::{Error, Result};

/// The skills, as far as hearing and turn-taking need them.
pub(crate) struct Judge {
    pub(crate) matcher: Matcher,
    pub(crate) catalog: Catalog,
    /// The skills' example commands, for a biased second hearing, each
    /// with its words of four letters or more.
    bias: Vec<(Vec<String>, String)>,
    bias_retry: bool,
}

impl Judge {
    /// Over `catalog`; `bias_retry` allows the second hearing.
    pub(crate) fn new(catalog: &Catalog, bias_retry: bool) -> Result<Judge> {
        Ok(Judge {
            matcher: Matcher::new(catalog).map_err(|e| Error::Config(e.to_string()))?,
            bias: catalog
                .examples()
                .into_iter()
                .map(|e| (content_words(&e), e))
                .collect(),
            catalog: catalog.clone(),
            bias_retry,
        })
    }

    /// Whether `text` parses to an intent with every required slot.
    pub(crate) fn complete(&self, text: &str) -> bool {
        let Some(p) = self.matcher.parse(text, &Context::default()) else {
            return false;
        };
        if p.confidence < 0.8 {
            return false;
        }
        self.catalog
            .intents
            .get(&p.intent)
            .is_none_or(|i| i.required.iter().all(|r| p.slot(r).is_some()))
    }

    /// A complete reading of `text` without its wake word or with its
    /// self-repair applied, if any.
    pub(crate) fn repaired(&self, text: &str) -> Option<String> {
        let base = words::without_wake_word(text)
            .or_else(|| words::without_vocative(text).filter(|v| self.complete(v)));
        if let Some(b) = &base
            && self.complete(b)
        {
            return base;
        }
        let t = base.as_deref().unwrap_or(text);
        words::repairs(t).into_iter().find(|r| self.complete(r))
    }

    /// A whole sentence the core cannot read and that begins no request:
    /// closed by the recogniser, three words or more, no template fits,
    /// not even with its self-repair applied or its wake word taken off.
    pub(crate) fn unreadable(&self, text: &str) -> bool {
        text.trim_end().ends_with(['.', '?', '!'])
            && !words::unfinished(text)
            && words::sentence_of_words(text)
            && self.matcher.parse(text, &Context::default()).is_none()
            && !self.matcher.continues(text, &Context::default())
            && self.repaired(text).is_none()
    }

    /// `audio` heard by `stt`, charged on `costs` (measured on
    /// `stopwatch`, or fixed); a sentence the core cannot read is heard
    /// again biased towards the commands that share a word with it.
    pub(crate) fn transcribe(
        &self,
        stt: &mut dyn SpeechToText,
        audio: &[f32],
        costs: &Costs,
        stopwatch: &dyn Clock,
    ) -> (Result<Transcript>, f64) {
        let (out, ms) = recognise(stt, audio, None, costs, stopwatch);
        match out {
            Ok(t) if self.bias_retry && self.unreadable(&t.text) => {
                // Biased towards the commands that share a word with what
                // was heard ("list" in "and milk to my sharpened list"):
                // a short prompt, a quick second hearing; none share one,
                // none is made.
                let heard = content_words(&t.text);
                let prompt: Vec<&str> = self
                    .bias
                    .iter()
                    .filter(|(w, _)| w.iter().any(|x| heard.contains(x)))
                    .map(|(_, e)| e.as_str())
                    .collect();
                if prompt.is_empty() {
                    return (Ok(t), ms);
                }
                let prompt = prompt.join(" ");
                let (again, ms2) = recognise(stt, audio, Some(&prompt), costs, stopwatch);
                let ms = ms + ms2;
                match again {
                    Ok(b)
                        if self.complete(&b.text) && {
                            let (a, b) = (
                                crate::stt::wer::normalize(&t.text),
                                crate::stt::wer::normalize(&b.text),
                            );
                            2 * words::common_in_order(&a, &b) >= a.len().max(b.len())
                        } =>
                    {
                        (Ok(b), ms)
                    }
                    _ => (Ok(t), ms),
                }
            }
            other => (other, ms),
        }
    }
}

impl Judge {
    /// A whole utterance heard: [`Judge::transcribe`], and once more when
    /// that failed (a panic, an exhausted machine may be passing) before
    /// the words are given up; the cost of both.
    pub(crate) fn transcribe_utterance(
        &self,
        stt: &mut dyn SpeechToText,
        audio: &[f32],
        costs: &Costs,
        stopwatch: &dyn Clock,
    ) -> (Result<Transcript>, f64) {
        let (out, ms) = self.transcribe(stt, audio, costs, stopwatch);
        if out.is_ok() {
            return (out, ms);
        }
        let (again, ms2) = self.transcribe(stt, audio, costs, stopwatch);
        (again, ms + ms2)
    }
}

/// One hearing of `audio`, biased towards `prompt` or not, charged; a panic
/// is an error of this utterance.
fn recognise(
    stt: &mut dyn SpeechToText,
    audio: &[f32],
    prompt: Option<&str>,
    costs: &Costs,
    stopwatch: &dyn Clock,
) -> (Result<Transcript>, f64) {
    let (out, ms) = charged(
        costs,
        stopwatch,
        |c| c.stt_ms,
        || {
            catch_unwind(AssertUnwindSafe(|| match prompt {
                Some(p) => stt.transcribe_biased(audio, p),
                None => stt.transcribe(audio),
            }))
        },
    );
    let out = out.unwrap_or_else(|_| Err(Error::Inference("the recogniser panicked".into())));
    (out, ms)
}
