//! Frames: the fixed-size blocks of 16 kHz mono audio every stage works on.

use crate::{Error, Result};

/// The one internal sample rate: everything past the decoder is 16 kHz mono `f32`.
pub const SAMPLE_RATE: u32 = 16_000;

/// Samples per millisecond at [`SAMPLE_RATE`].
pub const SAMPLES_PER_MS: usize = (SAMPLE_RATE / 1000) as usize;

/// The frame lengths WebRTC's VAD accepts.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
pub enum FrameSize {
    /// 10 ms, 160 samples.
    #[serde(rename = "10")]
    Ms10,
    /// 20 ms, 320 samples.
    #[serde(rename = "20")]
    Ms20,
    /// 30 ms, 480 samples.
    #[default]
    #[serde(rename = "30")]
    Ms30,
}

impl FrameSize {
    /// From milliseconds (10, 20 or 30).
    pub fn from_ms(ms: u32) -> Result<Self> {
        match ms {
            10 => Ok(FrameSize::Ms10),
            20 => Ok(FrameSize::Ms20),
            30 => Ok(FrameSize::Ms30),
            other => Err(Error::config(format!(
                "frame length {other} ms: use 10, 20 or 30"
            ))),
        }
    }
    /// Length in milliseconds.
    pub const fn ms(self) -> u32 {
        match self {
            FrameSize::Ms10 => 10,
            FrameSize::Ms20 => 20,
            FrameSize::Ms30 => 30,
        }
    }
    /// Length in samples at [`SAMPLE_RATE`].
    pub const fn samples(self) -> usize {
        self.ms() as usize * SAMPLES_PER_MS
    }
}

/// Seconds for a sample index at [`SAMPLE_RATE`].
pub fn seconds(sample: u64) -> f64 {
    sample as f64 / f64::from(SAMPLE_RATE)
}

/// Sample index at [`SAMPLE_RATE`] for a number of milliseconds.
pub const fn ms_to_samples(ms: u32) -> u64 {
    ms as u64 * SAMPLES_PER_MS as u64
}

/// Convert a float sample to 16-bit PCM, clamping and mapping non-finite values to silence.
#[inline]
pub fn to_i16(x: f32) -> i16 {
    if x.is_finite() {
        (x * 32768.0).round().clamp(-32768.0, 32767.0) as i16
    } else {
        0
    }
}

/// Replace NaN and infinities with silence and clamp to [-1, 1] in place.
/// Devices can deliver garbage; no later stage should ever see it.
pub fn sanitize(samples: &mut [f32]) {
    for s in samples {
        *s = if s.is_finite() {
            s.clamp(-1.0, 1.0)
        } else {
            0.0
        };
    }
}

/// Frame energy in dBFS (RMS relative to a full-scale square wave); -120 for silence.
pub fn energy_dbfs(frame: &[f32]) -> f32 {
    if frame.is_empty() {
        return -120.0;
    }
    let ms = frame
        .iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        / frame.len() as f64;
    if ms <= 1e-12 {
        -120.0
    } else {
        (10.0 * libm::log10(ms)) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_sizes() {
        assert_eq!(FrameSize::from_ms(20).unwrap().samples(), 320);
        assert!(FrameSize::from_ms(25).is_err());
    }

    #[test]
    fn to_i16_saturates_and_silences_garbage() {
        assert_eq!(to_i16(1.5), 32767);
        assert_eq!(to_i16(-1.5), -32768);
        assert_eq!(to_i16(f32::NAN), 0);
        assert_eq!(to_i16(0.5), 16384);
    }

    #[test]
    fn energy_of_full_scale_sine_is_minus_3_db() {
        let x: Vec<f32> = (0..1600).map(|i| (i as f32 * 0.1).sin()).collect();
        assert!((energy_dbfs(&x) + 3.01).abs() < 0.1, "{}", energy_dbfs(&x));
        assert_eq!(energy_dbfs(&[0.0; 10]), -120.0);
    }
}
