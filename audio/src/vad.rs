//! Voice activity detection: is there speech in this frame?
//!
//! [`Vad`] is the trait every detector implements; [`WebRtcVad`] wraps the
//! WebRTC GMM detector (native only: its C does not build for wasm32, and its
//! handle is not `Send`, so build one on the thread that uses it).
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

/// The WebRTC VAD (libfvad, through the `webrtc-vad` crate).
pub struct WebRtcVad {
    inner: webrtc_vad::Vad,
    mode: VadMode,
    pcm: Vec<i16>,
}

impl std::fmt::Debug for WebRtcVad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebRtcVad")
            .field("mode", &self.mode)
            .finish()
    }
}

fn webrtc_mode(mode: VadMode) -> webrtc_vad::VadMode {
    match mode {
        VadMode::Quality => webrtc_vad::VadMode::Quality,
        VadMode::LowBitrate => webrtc_vad::VadMode::LowBitrate,
        VadMode::Aggressive => webrtc_vad::VadMode::Aggressive,
        VadMode::VeryAggressive => webrtc_vad::VadMode::VeryAggressive,
    }
}

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
