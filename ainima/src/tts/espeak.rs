//! espeak-ng through libespeak-ng, in process. The library keeps global
//! state and is not thread-safe, so one thread of its own owns it for the
//! life of the process; every [`Espeak`] handle sends it one sentence at a
//! time and waits for the audio (22,050 Hz from the library, resampled to
//! 16 kHz here). The library is asked for synchronous output into a
//! callback: no audio device, no subprocess.
//!
//! The library carries state from one text to the next (the phase of its
//! pitch flutter and of the glottal wave), so the same sentence may differ
//! by a few samples depending on what was spoken before it in the process;
//! the random draws it makes are re-seeded before every sentence. A replay
//! of the same session in a new process is bit for bit the same.
#![allow(unsafe_code)] // reason: the FFI calls into libespeak-ng, each with its invariants written beside it

use std::cell::RefCell;
use std::ffi::CString;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Mutex, OnceLock};

use espeakng_sys as sys;

use super::{Sentence, TextToSpeech, Voice, sentences};
use crate::{Error, Result};

/// The longest sentence handed to the library at once, in bytes; longer
/// ones are cut at a word boundary (a runaway reply never stalls the voice).
pub const MAX_SENTENCE_BYTES: usize = 2_000;

unsafe extern "C" {
    /// The C library's seed for `rand()`, which libespeak-ng 1.51 draws on
    /// for small variations in timing and voicing.
    fn srand(seed: std::os::raw::c_uint);
}

/// The seed set before every sentence: the same text gives the same
/// samples, whatever was spoken before (replays are bit for bit).
const SEED: u32 = 1;

struct Job {
    text: String,
    voice: Voice,
    reply: Sender<Result<Vec<f32>>>,
}

thread_local! {
    /// Where the synthesis callback puts samples; only the worker thread uses it.
    static SAMPLES: RefCell<Vec<i16>> = const { RefCell::new(Vec::new()) };
}

/// Called by libespeak-ng, on the worker thread, during `espeak_Synth`.
unsafe extern "C" fn on_audio(
    wav: *mut std::os::raw::c_short,
    n: std::os::raw::c_int,
    _events: *mut sys::espeak_EVENT,
) -> std::os::raw::c_int {
    if !wav.is_null() && n > 0 {
        // SAFETY: the library passes `n` valid samples at `wav` for the
        // duration of this call.
        let chunk = unsafe { std::slice::from_raw_parts(wav, n as usize) };
        SAMPLES.with(|s| {
            if let Ok(mut s) = s.try_borrow_mut() {
                s.extend_from_slice(chunk);
            }
        });
    }
    0 // go on
}

fn worker(jobs: Receiver<Job>) {
    // SAFETY: called once, on this thread, before any other call; a null
    // path means the installed espeak-ng-data.
    let rate = unsafe {
        sys::espeak_Initialize(
            sys::espeak_AUDIO_OUTPUT_AUDIO_OUTPUT_SYNCHRONOUS,
            0,
            std::ptr::null(),
            0,
        )
    };
    let init: Result<u32> = if rate > 0 {
        // SAFETY: a function with the callback's exact signature, valid for
        // the life of the process.
        unsafe { sys::espeak_SetSynthCallback(Some(on_audio)) };
        Ok(rate as u32)
    } else {
        Err(Error::Speech(
            "libespeak-ng did not start: is espeak-ng-data installed?".into(),
        ))
    };
    let mut current: Option<Voice> = None;
    for job in jobs {
        let out = match &init {
            Err(e) => Err(Error::Speech(e.to_string())),
            Ok(rate) => synth(&job, *rate, &mut current),
        };
        let _ = job.reply.send(out);
    }
}

fn synth(job: &Job, rate: u32, current: &mut Option<Voice>) -> Result<Vec<f32>> {
    if current.as_ref() != Some(&job.voice) {
        *current = None;
        let name = CString::new(job.voice.name.as_str())
            .map_err(|_| Error::Speech("voice names have no NUL".into()))?;
        // SAFETY: a NUL-terminated string that outlives the call.
        let e = unsafe { sys::espeak_SetVoiceByName(name.as_ptr()) };
        if e != sys::espeak_ERROR_EE_OK {
            return Err(Error::Speech(format!(
                "no voice {:?} (see `espeak-ng --voices`)",
                job.voice.name
            )));
        }
        // SAFETY: plain integer parameters within their documented ranges
        // (checked by `Voice::validate`).
        unsafe {
            sys::espeak_SetParameter(
                sys::espeak_PARAMETER_espeakRATE,
                job.voice.rate_wpm as i32,
                0,
            );
            sys::espeak_SetParameter(sys::espeak_PARAMETER_espeakPITCH, job.voice.pitch as i32, 0);
        }
        *current = Some(job.voice.clone());
    }
    let text = CString::new(job.text.replace('\0', " "))
        .map_err(|_| Error::Speech("text with NUL".into()))?;
    let bytes = text.as_bytes_with_nul();
    SAMPLES.with(|s| s.borrow_mut().clear());
    // SAFETY: plain libc call; nothing else in this process draws on the C
    // library's `rand()` (Rust code has its own generators).
    unsafe { srand(SEED) };
    // SAFETY: `text` is NUL-terminated UTF-8 that outlives the call; in
    // synchronous mode the callback runs on this thread and the call returns
    // when the text is spoken; no user data pointers are passed.
    let e = unsafe {
        sys::espeak_Synth(
            bytes.as_ptr().cast(),
            bytes.len(),
            0,
            sys::espeak_POSITION_TYPE_POS_CHARACTER,
            0,
            sys::espeakCHARS_UTF8,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        )
    };
    if e != sys::espeak_ERROR_EE_OK {
        return Err(Error::Speech(format!("espeak_Synth failed ({e})")));
    }
    let pcm: Vec<f32> = SAMPLES.with(|s| {
        s.borrow_mut()
            .drain(..)
            .map(|x| f32::from(x) / 32_768.0)
            .collect()
    });
    Ok(ainima_audio::resample::to_16k(&pcm, rate)?)
}

/// `text` in `voice`, spoken by an `espeak-ng` process of its own: the
/// same text and voice give the same samples whatever was spoken before (the
/// library in this process carries state from one text to the next). For
/// the other side of simulated conversations, whose audio must not depend
/// on what else ran (TTDD's users, the demo's and benchmarks' lines). The
/// WAV goes through a private temporary file (random name, mode 0600).
pub fn speak_fresh(text: &str, voice: &Voice) -> Result<Vec<f32>> {
    voice.validate()?;
    let wav = tempfile::Builder::new()
        .prefix("ainima-say-")
        .suffix(".wav")
        .tempfile()
        .map_err(|e| Error::Speech(format!("a temporary file for espeak-ng: {e}")))?;
    let out = std::process::Command::new("espeak-ng")
        .args(["-v", &voice.name])
        .args(["-s", &voice.rate_wpm.to_string()])
        .args(["-p", &voice.pitch.to_string()])
        .arg("-w")
        .arg(wav.path())
        .arg("--")
        .arg(text.replace('\0', " "))
        .output()
        .map_err(|e| {
            Error::Speech(format!(
                "cannot run espeak-ng ({e}): apt-get install espeak-ng"
            ))
        })?;
    if !out.status.success() {
        return Err(Error::Speech(format!(
            "espeak-ng failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(ainima_audio::decode::load_16k_mono(wav.path())?)
}

fn jobs() -> &'static Mutex<Sender<Job>> {
    static JOBS: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
    JOBS.get_or_init(|| {
        let (tx, rx) = channel();
        std::thread::Builder::new()
            .name("espeak-ng".into())
            .spawn(move || worker(rx))
            .expect("a thread for espeak-ng");
        Mutex::new(tx)
    })
}

/// Cuts a sentence longer than [`MAX_SENTENCE_BYTES`] at a word boundary.
fn bounded(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while rest.len() > MAX_SENTENCE_BYTES {
        let mut cut = MAX_SENTENCE_BYTES;
        while !rest.is_char_boundary(cut) {
            cut -= 1;
        }
        let at = rest[..cut].rfind(' ').filter(|&i| i > 0).unwrap_or(cut);
        out.push(rest[..at].trim());
        rest = rest[at..].trim_start();
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// espeak-ng in process (or, [`Espeak::fresh`], a process a sentence).
#[derive(Debug, Clone)]
pub struct Espeak {
    voice: Voice,
    fresh: bool,
}

impl Espeak {
    /// A handle speaking with `voice` (checked now; the library starts on
    /// first use, once per process).
    pub fn new(voice: Voice) -> Result<Espeak> {
        voice.validate()?;
        Ok(Espeak {
            voice,
            fresh: false,
        })
    }

    /// A handle whose every sentence is spoken by an `espeak-ng` process of
    /// its own ([`speak_fresh`]): the same sentence, the same samples,
    /// whatever else was spoken. For replays that must not depend on what
    /// ran before them (deterministic sessions, TTDD suites); slower to
    /// start a sentence than the library in process.
    pub fn fresh(voice: Voice) -> Result<Espeak> {
        voice.validate()?;
        Ok(Espeak { voice, fresh: true })
    }

    /// One sentence's audio at 16 kHz.
    pub fn sentence(&self, text: &str) -> Result<Vec<f32>> {
        if self.fresh {
            return speak_fresh(text, &self.voice);
        }
        let (tx, rx) = channel();
        let job = Job {
            text: text.to_string(),
            voice: self.voice.clone(),
            reply: tx,
        };
        jobs()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .send(job)
            .map_err(|_| Error::Speech("the espeak-ng thread has stopped".into()))?;
        rx.recv()
            .map_err(|_| Error::Speech("the espeak-ng thread has stopped".into()))?
    }
}

impl TextToSpeech for Espeak {
    fn speak(&mut self, text: &str, sink: &mut dyn FnMut(Sentence) -> bool) -> Result<()> {
        let parts = sentences(text).into_iter().flat_map(bounded);
        for (index, part) in parts.enumerate() {
            let audio = self.sentence(part)?;
            let go_on = sink(Sentence {
                index,
                text: part.to_string(),
                audio,
            });
            if !go_on {
                break;
            }
        }
        Ok(())
    }

    fn name(&self) -> String {
        format!(
            "espeak-ng {} {} wpm pitch {}{}",
            self.voice.name,
            self.voice.rate_wpm,
            self.voice.pitch,
            if self.fresh {
                " (a process a sentence)"
            } else {
                ""
            }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_sentences_are_cut_at_words() {
        let long = "word ".repeat(1000);
        let parts = bounded(long.trim());
        assert!(parts.len() >= 2);
        assert!(
            parts
                .iter()
                .all(|p| p.len() <= MAX_SENTENCE_BYTES && !p.ends_with(' '))
        );
        assert_eq!(parts.join(" "), long.trim());
        let one = "é".repeat(MAX_SENTENCE_BYTES); // no spaces, two bytes a char
        assert_eq!(bounded(&one).concat(), one);
    }
}
