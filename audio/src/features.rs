//! Features later stages need: windows, log-mel spectrograms (Slaney mel
//! scale and normalisation, as librosa and Whisper compute them), frame
//! energy and pitch (YIN).

use std::sync::Arc;

use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};

use crate::{Error, Result};

pub use crate::frame::energy_dbfs;

/// A periodic Hann window of `n` points (numpy/torch `hann_window(n, periodic=True)`).
pub fn hann(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let x = std::f64::consts::PI * 2.0 * i as f64 / n as f64;
            (0.5 - 0.5 * libm::cos(x)) as f32
        })
        .collect()
}

/// Hz to mel on the Slaney scale (linear below 1 kHz, logarithmic above).
pub fn hz_to_mel(hz: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;
    let logstep = libm::log(6.4) / 27.0;
    if hz >= MIN_LOG_HZ {
        MIN_LOG_MEL + libm::log(hz / MIN_LOG_HZ) / logstep
    } else {
        hz / F_SP
    }
}

/// Mel to Hz on the Slaney scale.
pub fn mel_to_hz(mel: f64) -> f64 {
    const F_SP: f64 = 200.0 / 3.0;
    const MIN_LOG_HZ: f64 = 1000.0;
    const MIN_LOG_MEL: f64 = MIN_LOG_HZ / F_SP;
    let logstep = libm::log(6.4) / 27.0;
    if mel >= MIN_LOG_MEL {
        MIN_LOG_HZ * libm::exp(logstep * (mel - MIN_LOG_MEL))
    } else {
        F_SP * mel
    }
}

/// The mel filter bank as librosa's `filters.mel(sr, n_fft, n_mels, fmin, fmax,
/// htk=False, norm="slaney")`: `n_mels` rows of `n_fft / 2 + 1` weights, row-major.
pub fn mel_filters(
    sample_rate: u32,
    n_fft: usize,
    n_mels: usize,
    fmin: f64,
    fmax: f64,
) -> Vec<f32> {
    let n_freqs = n_fft / 2 + 1;
    let fft_freqs: Vec<f64> = (0..n_freqs)
        .map(|i| i as f64 * f64::from(sample_rate) / n_fft as f64)
        .collect();
    let (mmin, mmax) = (hz_to_mel(fmin), hz_to_mel(fmax));
    let mel_f: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz(mmin + (mmax - mmin) * i as f64 / (n_mels + 1) as f64))
        .collect();
    let mut w = vec![0f32; n_mels * n_freqs];
    for m in 0..n_mels {
        let (lo, c, hi) = (mel_f[m], mel_f[m + 1], mel_f[m + 2]);
        let enorm = 2.0 / (hi - lo);
        for (k, &f) in fft_freqs.iter().enumerate() {
            let lower = (f - lo) / (c - lo);
            let upper = (hi - f) / (hi - c);
            w[m * n_freqs + k] = (lower.min(upper).max(0.0) * enorm) as f32;
        }
    }
    w
}

/// Log-mel spectrogram settings. Defaults are Whisper's: 25 ms window, 10 ms hop, 80 bands.
#[derive(Debug, Clone, PartialEq)]
pub struct MelConfig {
    /// FFT (and window) length in samples.
    pub n_fft: usize,
    /// Hop between frames in samples.
    pub hop: usize,
    /// Number of mel bands.
    pub n_mels: usize,
    /// Sample rate of the input.
    pub sample_rate: u32,
    /// Lowest frequency.
    pub fmin: f64,
    /// Highest frequency.
    pub fmax: f64,
}

impl Default for MelConfig {
    fn default() -> Self {
        MelConfig {
            n_fft: 400,
            hop: 160,
            n_mels: 80,
            sample_rate: crate::SAMPLE_RATE,
            fmin: 0.0,
            fmax: 8000.0,
        }
    }
}

/// Computes log10 mel power spectra, frame by frame, with pre-allocated buffers.
#[derive(Clone)]
pub struct LogMel {
    cfg: MelConfig,
    filters: Vec<f32>,
    window: Vec<f32>,
    fft: Arc<dyn Fft<f32>>,
    buf: Vec<Complex<f32>>,
    power: Vec<f32>,
}

impl std::fmt::Debug for LogMel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogMel").field("cfg", &self.cfg).finish()
    }
}

impl LogMel {
    /// Plan the FFT and build the filter bank.
    pub fn new(cfg: MelConfig) -> Result<Self> {
        if cfg.n_fft < 16 || cfg.hop == 0 || cfg.n_mels == 0 || cfg.fmax <= cfg.fmin {
            return Err(Error::config(format!(
                "log-mel settings out of range: {cfg:?}"
            )));
        }
        let filters = mel_filters(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax);
        Ok(LogMel {
            window: hann(cfg.n_fft),
            fft: FftPlanner::new().plan_fft_forward(cfg.n_fft),
            buf: vec![Complex::default(); cfg.n_fft],
            power: vec![0.0; cfg.n_fft / 2 + 1],
            filters,
            cfg,
        })
    }

    /// The settings.
    pub fn config(&self) -> &MelConfig {
        &self.cfg
    }

    /// One frame: `frame` has `n_fft` samples; `out` receives `n_mels` log10 values.
    pub fn frame(&mut self, frame: &[f32], out: &mut [f32]) {
        let n = self.cfg.n_fft;
        for (i, c) in self.buf.iter_mut().enumerate() {
            let x = frame.get(i).copied().unwrap_or(0.0);
            *c = Complex::new(x * self.window[i], 0.0);
        }
        self.fft.process(&mut self.buf);
        for (p, c) in self.power.iter_mut().zip(&self.buf[..n / 2 + 1]) {
            *p = c.norm_sqr();
        }
        let nf = self.power.len();
        for (m, o) in out.iter_mut().enumerate().take(self.cfg.n_mels) {
            let row = &self.filters[m * nf..(m + 1) * nf];
            let e: f32 = row.iter().zip(&self.power).map(|(w, p)| w * p).sum();
            *o = libm::log10f(e.max(1e-10));
        }
    }

    /// The whole clip, centred with reflect padding as torch.stft(center=True):
    /// `1 + len / hop` frames of `n_mels` values, frame-major.
    pub fn spectrogram(&mut self, samples: &[f32]) -> Vec<f32> {
        let n = self.cfg.n_fft;
        let pad = n / 2;
        let padded: Vec<f32> = (0..samples.len() + 2 * pad)
            .map(|i| {
                let j = i as isize - pad as isize;
                let len = samples.len() as isize;
                if len == 0 {
                    return 0.0;
                }
                let r = if j < 0 {
                    -j
                } else if j >= len {
                    2 * (len - 1) - j
                } else {
                    j
                };
                samples[r.clamp(0, len - 1) as usize]
            })
            .collect();
        let frames = 1 + samples.len() / self.cfg.hop;
        let mut out = vec![0.0; frames * self.cfg.n_mels];
        let mut tmp = vec![0.0; self.cfg.n_mels];
        for f in 0..frames {
            let s = f * self.cfg.hop;
            let end = (s + n).min(padded.len());
            self.frame(&padded[s..end], &mut tmp);
            out[f * self.cfg.n_mels..(f + 1) * self.cfg.n_mels].copy_from_slice(&tmp);
        }
        out
    }
}

/// Fundamental frequency by YIN (de Cheveigné and Kawahara, 2002).
/// Returns `None` for unvoiced or too-quiet frames.
pub fn pitch_yin(frame: &[f32], sample_rate: u32, fmin: f32, fmax: f32) -> Option<f32> {
    /// The paper's absolute threshold on the cumulative mean normalised difference.
    const YIN_THRESHOLD: f32 = 0.15;
    let sr = sample_rate as f32;
    let tau_min = (sr / fmax).floor().max(2.0) as usize;
    let tau_max = (sr / fmin).ceil() as usize;
    let w = frame.len() / 2;
    if tau_max >= w || energy_dbfs(frame) < -60.0 {
        return None;
    }
    let mut d = vec![0.0f32; tau_max + 1];
    for (tau, dt) in d.iter_mut().enumerate().skip(1) {
        *dt = (0..w)
            .map(|j| {
                let x = frame[j] - frame[j + tau];
                x * x
            })
            .sum();
    }
    let mut cmnd = vec![1.0f32; tau_max + 1];
    let mut running = 0.0f32;
    for tau in 1..=tau_max {
        running += d[tau];
        cmnd[tau] = if running > 0.0 {
            d[tau] * tau as f32 / running
        } else {
            1.0
        };
    }
    let mut tau = tau_min;
    while tau < tau_max {
        if cmnd[tau] < YIN_THRESHOLD {
            while tau + 1 < tau_max && cmnd[tau + 1] < cmnd[tau] {
                tau += 1;
            }
            // Parabolic interpolation around the minimum.
            let (a, b, c) = (cmnd[tau - 1], cmnd[tau], cmnd[tau + 1]);
            let denom = a - 2.0 * b + c;
            let shift = if denom.abs() > 1e-9 {
                0.5 * (a - c) / denom
            } else {
                0.0
            };
            return Some(sr / (tau as f32 + shift));
        }
        tau += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yin_finds_a_220_hz_tone() {
        let x: Vec<f32> = (0..1024)
            .map(|i| (2.0 * std::f32::consts::PI * 220.0 * i as f32 / 16000.0).sin() * 0.3)
            .collect();
        let f = pitch_yin(&x, 16000, 60.0, 500.0).unwrap();
        assert!((f - 220.0).abs() < 1.0, "{f}");
        assert_eq!(pitch_yin(&[0.0; 1024], 16000, 60.0, 500.0), None);
    }

    // Reference values, as librosa printed them (more digits than an f32 holds).
    #[allow(clippy::excessive_precision)]
    /// Reference values from librosa 0.11 `filters.mel(sr=16000, n_fft=400, n_mels=80)`
    /// (the bank Whisper uses): every non-zero weight of rows 0, 1, 10, 40 and 79.
    #[test]
    fn mel_filters_match_librosa() {
        let w = mel_filters(16_000, 400, 80, 0.0, 8_000.0);
        let expect: &[(usize, &[(usize, f32)])] = &[
            (0, &[(1, 0.024_862_595)]),
            (1, &[(1, 0.001_990_822), (2, 0.022_871_772)]),
            (10, &[(10, 0.019_908_218), (11, 0.004_954_375)]),
            (
                40,
                &[(42, 0.005_411_105), (43, 0.014_735_566), (44, 0.006_518_19)],
            ),
            (
                79,
                &[
                    (186, 0.000_366_741_67),
                    (187, 0.000_833_070_02),
                    (188, 0.001_299_398_4),
                    (189, 0.001_765_726_8),
                    (190, 0.002_232_055),
                    (191, 0.002_698_383_3),
                    (192, 0.003_164_711_9),
                    (193, 0.003_141_313_3),
                    (194, 0.002_692_554_1),
                    (195, 0.002_243_795_2),
                    (196, 0.001_795_036),
                    (197, 0.001_346_277_1),
                    (198, 0.000_897_518),
                    (199, 0.000_448_759),
                ],
            ),
        ];
        for (row, nonzero) in expect {
            let r = &w[row * 201..(row + 1) * 201];
            let got: Vec<usize> = (0..201).filter(|&k| r[k] != 0.0).collect();
            let want: Vec<usize> = nonzero.iter().map(|(k, _)| *k).collect();
            assert_eq!(got, want, "row {row}: non-zero bins");
            for (k, v) in *nonzero {
                assert!(
                    (r[*k] - v).abs() < 1e-6,
                    "row {row} bin {k}: {} vs {v}",
                    r[*k]
                );
            }
        }
    }

    #[test]
    fn mel_scale_round_trips() {
        for hz in [0.0, 500.0, 1000.0, 4000.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-6);
        }
    }

    #[test]
    fn spectrogram_has_whisper_frame_count() {
        let mut m = LogMel::new(MelConfig::default()).unwrap();
        let s = m.spectrogram(&vec![0.0; 16000]);
        assert_eq!(s.len(), 101 * 80);
    }
}
