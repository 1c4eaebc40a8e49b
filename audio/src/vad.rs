//! Voice activity detection: is there speech in this frame?
//!
//! [`Vad`] is the trait every detector implements; [`WebRtcVad`] wraps the
//! WebRTC GMM detector (native only: its C does not build for wasm32, and its
//! handle is not `Send`, so build one on the thread that uses it);
//! [`EarshotVad`] wraps earshot's small network (pure Rust: native and the
//! browser).
//! [`FlatnessGate`] vetoes frames whose spectrum is as flat as white noise,
//! which the WebRTC detector, adapting slowly, calls speech for a while.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use crate::frame::FrameSize;
use crate::{Error, Result};

/// A voice activity detector over 16 kHz mono frames of 10, 20 or 30 ms.
pub trait Vad {
    /// Whether `frame` (one [`FrameSize`] of samples) holds speech.
    fn is_voiced(&mut self, frame: &[f32]) -> Result<bool>;
    /// Forget all adaptation, as if new.
    fn reset(&mut self);
}

/// WebRTC's aggressiveness: higher modes say "speech" less often.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "u8", into = "u8")]
pub enum VadMode {
    /// 0: most permissive, misses the least speech.
    Quality,
    /// 1.
    LowBitrate,
    /// 2.
    #[default]
    Aggressive,
    /// 3: most restrictive, the fewest false alarms.
    VeryAggressive,
}

impl TryFrom<u8> for VadMode {
    type Error = Error;
    fn try_from(v: u8) -> Result<Self> {
        Ok(match v {
            0 => VadMode::Quality,
            1 => VadMode::LowBitrate,
            2 => VadMode::Aggressive,
            3 => VadMode::VeryAggressive,
            other => return Err(Error::config(format!("VAD mode {other}: use 0 to 3"))),
        })
    }
}

impl From<VadMode> for u8 {
    fn from(m: VadMode) -> u8 {
        m as u8
    }
}

/// Which detector the endpointer runs (`[endpointer] vad`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum VadKind {
    /// The WebRTC GMM detector in [`VadMode`] (native builds only; the
    /// default there).
    #[cfg_attr(not(target_arch = "wasm32"), default)]
    Webrtc,
    /// earshot's network, scored every 16 ms (both builds; the browser's
    /// default).
    #[cfg_attr(target_arch = "wasm32", default)]
    Earshot,
}

/// The WebRTC VAD (libfvad, through the `webrtc-vad` crate).
#[cfg(not(target_arch = "wasm32"))]
pub struct WebRtcVad {
    inner: webrtc_vad::Vad,
    mode: VadMode,
    pcm: Vec<i16>,
}

#[cfg(not(target_arch = "wasm32"))]
impl std::fmt::Debug for WebRtcVad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebRtcVad")
            .field("mode", &self.mode)
            .finish()
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn webrtc_mode(mode: VadMode) -> webrtc_vad::VadMode {
    match mode {
        VadMode::Quality => webrtc_vad::VadMode::Quality,
        VadMode::LowBitrate => webrtc_vad::VadMode::LowBitrate,
        VadMode::Aggressive => webrtc_vad::VadMode::Aggressive,
        VadMode::VeryAggressive => webrtc_vad::VadMode::VeryAggressive,
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl WebRtcVad {
    /// A detector at 16 kHz in `mode`.
    pub fn new(mode: VadMode) -> Self {
        WebRtcVad {
            inner: webrtc_vad::Vad::new_with_rate_and_mode(
                webrtc_vad::SampleRate::Rate16kHz,
                webrtc_mode(mode),
            ),
            mode,
            pcm: Vec::with_capacity(FrameSize::Ms30.samples()),
        }
    }
}

fn check_frame(frame: &[f32]) -> Result<()> {
    match frame.len() {
        160 | 320 | 480 => Ok(()),
        n => Err(Error::config(format!(
            "a VAD frame of {n} samples: use 160, 320 or 480 (10, 20 or 30 ms at 16 kHz)"
        ))),
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl Vad for WebRtcVad {
    fn is_voiced(&mut self, frame: &[f32]) -> Result<bool> {
        check_frame(frame)?;
        self.pcm.clear();
        // Truncating, saturating conversion (NaN becomes 0): the VAD needs no
        // rounding, and `round` costs as much as the VAD itself.
        self.pcm.extend(frame.iter().map(|&x| (x * 32768.0) as i16));
        self.inner
            .is_voice_segment(&self.pcm)
            .map_err(|()| Error::config("the WebRTC VAD refused the frame length"))
    }

    fn reset(&mut self) {
        *self = WebRtcVad::new(self.mode);
    }
}

/// earshot's detector (a small network on log-mel features, trained by
/// pyke), which scores 256 samples (16 ms) at a time: a frame is voiced when
/// the last score it completed reaches [`EarshotVad::threshold`] (a 10 ms
/// frame that completes none keeps the score before it).
pub struct EarshotVad {
    inner: Box<earshot::Detector>,
    /// Samples not yet scored, as 16-bit PCM (fewer than 256 between frames).
    pending: Vec<i16>,
    score: f32,
    /// Scores at or above this are speech (0 to 1; earshot suggests 0.5).
    pub threshold: f32,
}

impl std::fmt::Debug for EarshotVad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EarshotVad")
            .field("score", &self.score)
            .field("threshold", &self.threshold)
            .finish()
    }
}

/// The samples earshot scores at once.
pub const EARSHOT_BLOCK: usize = 256;

impl Default for EarshotVad {
    fn default() -> Self {
        EarshotVad::new()
    }
}

impl EarshotVad {
    /// A detector at earshot's suggested threshold, 0.5.
    pub fn new() -> Self {
        EarshotVad {
            inner: earshot::Detector::default_boxed(),
            pending: Vec::with_capacity(EARSHOT_BLOCK + FrameSize::Ms30.samples()),
            score: 0.0,
            threshold: 0.5,
        }
    }

    /// The last score (0 to 1).
    pub fn score(&self) -> f32 {
        self.score
    }
}

impl Vad for EarshotVad {
    fn is_voiced(&mut self, frame: &[f32]) -> Result<bool> {
        check_frame(frame)?;
        // The same saturating conversion as the WebRTC detector's (NaN is
        // 0): earshot's f32 entry point asserts its input is within [-1, 1].
        self.pending
            .extend(frame.iter().map(|&x| (x * 32768.0) as i16));
        let mut done = 0;
        while self.pending.len() - done >= EARSHOT_BLOCK {
            self.score = self
                .inner
                .predict_i16(&self.pending[done..done + EARSHOT_BLOCK]);
            done += EARSHOT_BLOCK;
        }
        self.pending.drain(..done);
        Ok(self.score >= self.threshold)
    }

    fn reset(&mut self) {
        self.inner.reset();
        self.pending.clear();
        self.score = 0.0;
    }
}

/// Vetoes frames whose spectrum (300 Hz to 4 kHz, where speech lives) is
/// nearly flat, as white and other broadband noise is; speech, voiced or
/// not, is far from flat there.
pub struct FlatnessGate<V> {
    inner: V,
    /// Frames with a spectral flatness above this are never voiced (0 to 1).
    pub max_flatness: f32,
    /// Real FFTs by length (a power of two at least the frame), planned once.
    ffts: Vec<Arc<dyn RealToComplex<f32>>>,
    input: Vec<f32>,
    spectrum: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    window: Vec<f32>,
}

impl<V> std::fmt::Debug for FlatnessGate<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlatnessGate")
            .field("max_flatness", &self.max_flatness)
            .finish()
    }
}

impl<V: Vad> FlatnessGate<V> {
    /// Gate `inner` at `max_flatness`.
    pub fn new(inner: V, max_flatness: f32) -> Self {
        let mut planner = RealFftPlanner::new();
        let ffts = [256, 512].map(|n| planner.plan_fft_forward(n)).to_vec();
        FlatnessGate {
            inner,
            max_flatness,
            input: Vec::with_capacity(512),
            spectrum: Vec::with_capacity(257),
            scratch: Vec::with_capacity(512),
            ffts,
            window: Vec::new(),
        }
    }
}

/// Spectral flatness (geometric over arithmetic mean of the power spectrum)
/// between 300 Hz and 4 kHz of one frame; 1 for white noise, near 0 for tones.
pub fn spectral_flatness(frame: &[f32]) -> f32 {
    let mut gate = FlatnessGate::new(AlwaysVoiced, 1.0);
    gate.flatness(frame)
}

impl<V> FlatnessGate<V> {
    fn flatness(&mut self, frame: &[f32]) -> f32 {
        let fft = if frame.len() <= 256 {
            &self.ffts[0]
        } else {
            &self.ffts[1]
        };
        let size = fft.len();
        let n = frame.len().min(size);
        if self.window.len() != n {
            self.window = crate::features::hann(n);
        }
        self.input.clear();
        self.input
            .extend(frame[..n].iter().zip(&self.window).map(|(x, w)| x * w));
        self.input.resize(size, 0.0);
        self.spectrum.resize(size / 2 + 1, Complex::default());
        self.scratch
            .resize(fft.get_scratch_len(), Complex::default());
        // Only fails on wrong lengths, which are set just above.
        let _ = fft.process_with_scratch(&mut self.input, &mut self.spectrum, &mut self.scratch);
        let bin_hz = crate::SAMPLE_RATE as f32 / size as f32;
        let lo = (300.0 / bin_hz) as usize;
        let hi = (4000.0 / bin_hz) as usize;
        let mut log_sum = 0.0f64;
        let mut sum = 0.0f64;
        for c in &self.spectrum[lo..hi] {
            let p = f64::from(c.norm_sqr()) + 1e-12;
            log_sum += libm::log(p);
            sum += p;
        }
        let k = (hi - lo) as f64;
        (libm::exp(log_sum / k) / (sum / k)) as f32
    }
}

impl<V: Vad> Vad for FlatnessGate<V> {
    fn is_voiced(&mut self, frame: &[f32]) -> Result<bool> {
        // The inner detector sees every frame, so its adaptation is unchanged.
        let voiced = self.inner.is_voiced(frame)?;
        Ok(voiced && self.flatness(frame) <= self.max_flatness)
    }

    fn reset(&mut self) {
        self.inner.reset();
    }
}

/// A detector that calls every frame speech (for tests and as a gate's identity).
#[derive(Debug, Clone, Copy, Default)]
pub struct AlwaysVoiced;

impl Vad for AlwaysVoiced {
    fn is_voiced(&mut self, frame: &[f32]) -> Result<bool> {
        check_frame(frame)?;
        Ok(true)
    }
    fn reset(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise(n: usize, amp: f32, seed: u64) -> Vec<f32> {
        let mut rng = crate::room::Rng::new(seed);
        (0..n).map(|_| rng.uniform() * amp).collect()
    }

    #[test]
    fn wrong_frame_length_is_an_error_not_a_panic() {
        let mut v = WebRtcVad::new(VadMode::Aggressive);
        assert!(v.is_voiced(&[]).is_err());
        assert!(v.is_voiced(&[0.0; 100]).is_err());
        assert!(v.is_voiced(&[f32::NAN; 160]).is_ok());
    }

    #[test]
    fn earshot_takes_any_frame_size_and_bad_samples_without_panicking() {
        let mut v = EarshotVad::new();
        assert!(v.is_voiced(&[]).is_err());
        assert!(v.is_voiced(&[0.0; 256]).is_err());
        // NaN, infinities and samples past full scale saturate, as WebRTC's.
        for x in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 3.0, -3.0] {
            for n in [160, 320, 480] {
                assert!(v.is_voiced(&vec![x; n]).is_ok());
            }
        }
        // Silence is not speech; the pending samples stay under one block.
        v.reset();
        for n in [160, 320, 480, 160] {
            assert!(!v.is_voiced(&vec![0.0; n]).unwrap());
            assert!(v.pending.len() < EARSHOT_BLOCK);
        }
    }

    #[test]
    fn flatness_separates_noise_from_tone() {
        let white = noise(480, 0.1, 7);
        let tone: Vec<f32> = (0..480).map(|i| (i as f32 * 0.2).sin()).collect();
        assert!(
            spectral_flatness(&white) > 0.4,
            "{}",
            spectral_flatness(&white)
        );
        assert!(
            spectral_flatness(&tone) < 0.05,
            "{}",
            spectral_flatness(&tone)
        );
    }
}
