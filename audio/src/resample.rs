//! Sample-rate conversion with rubato's synchronous FFT resampler (band-limited:
//! rubato's polynomial resampler aliases when downsampling, so it is not used).
//!
//! [`to_16k`] converts a whole clip; [`StreamResampler`] converts a stream in
//! blocks of any size with all buffers allocated up front, so that pushing
//! samples never allocates.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler};

use crate::{Error, Result, SAMPLE_RATE};

fn construction_error(from: u32, to: u32, e: impl std::fmt::Display) -> Error {
    Error::unsupported(format!("cannot resample {from} Hz to {to} Hz: {e}"))
}

/// Resample a whole mono clip from `rate` to [`SAMPLE_RATE`]; a clip already at
/// 16 kHz is returned as it is. The output has `ceil(len * 16000 / rate)`
/// samples, aligned with the input (the resampler's delay is trimmed).
pub fn to_16k(mono: &[f32], rate: u32) -> Result<Vec<f32>> {
    resample(mono, rate, SAMPLE_RATE)
}

/// Resample a whole mono clip between any two rates.
pub fn resample(mono: &[f32], from: u32, to: u32) -> Result<Vec<f32>> {
    if from == to || mono.is_empty() {
        return Ok(mono.to_vec());
    }
    let chunk = chunk_for(from);
    let mut r = Fft::<f32>::new(from as usize, to as usize, chunk, 1, FixedSync::Input)
        .map_err(|e| construction_error(from, to, e))?;
    let input =
        InterleavedSlice::new(mono, 1, mono.len()).map_err(|e| construction_error(from, to, e))?;
    let out = r
        .process_all(&input, mono.len(), None)
        .map_err(|e| construction_error(from, to, e))?;
    Ok(out.take_data())
}

/// A chunk of about 10 ms: short enough for live audio, long enough for the FFT.
fn chunk_for(rate: u32) -> usize {
    (rate as usize / 100).max(64)
}

/// Streaming mono resampler. Push blocks of any length; resampled audio is
/// handed to a sink as it becomes available. No allocation after `new`.
pub struct StreamResampler {
    inner: Option<Fft<f32>>,
    pending: Vec<f32>,
    filled: usize,
    out: Vec<f32>,
    delay_left: usize,
}

impl std::fmt::Debug for StreamResampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamResampler")
            .field("passthrough", &self.inner.is_none())
            .field("chunk", &self.pending.len())
            .finish()
    }
}

impl StreamResampler {
    /// A resampler from `from` Hz to `to` Hz.
    pub fn new(from: u32, to: u32) -> Result<Self> {
        if from == 0 || to == 0 {
            return Err(Error::config("a sample rate of 0 Hz"));
        }
        if from == to {
            return Ok(StreamResampler {
                inner: None,
                pending: Vec::new(),
                filled: 0,
                out: Vec::new(),
                delay_left: 0,
            });
        }
        let r = Fft::<f32>::new(
            from as usize,
            to as usize,
            chunk_for(from),
            1,
            FixedSync::Input,
        )
        .map_err(|e| construction_error(from, to, e))?;
        let chunk_in = r.input_frames_next();
        let out_max = r.output_frames_max();
        let delay_left = r.output_delay();
        Ok(StreamResampler {
            inner: Some(r),
            pending: vec![0.0; chunk_in],
            filled: 0,
            out: vec![0.0; out_max],
            delay_left,
        })
    }

    /// Input samples consumed per internal block (latency is at least this).
    pub fn block_len(&self) -> usize {
        self.pending.len().max(1)
    }

    /// Push input; every complete output block goes to `sink`. The
    /// resampler's start-up delay is dropped, so output sample `k` lines up
    /// with input time `k / to`.
    pub fn push(&mut self, mut input: &[f32], sink: &mut impl FnMut(&[f32])) -> Result<()> {
        let Some(r) = self.inner.as_mut() else {
            if !input.is_empty() {
                sink(input);
            }
            return Ok(());
        };
        while !input.is_empty() {
            let take = (self.pending.len() - self.filled).min(input.len());
            self.pending[self.filled..self.filled + take].copy_from_slice(&input[..take]);
            self.filled += take;
            input = &input[take..];
            if self.filled == self.pending.len() {
                self.filled = 0;
                let n = r.input_frames_next();
                let inbuf = InterleavedSlice::new(&self.pending[..], 1, n)
                    .map_err(|e| Error::Device(format!("resampler: {e}")))?;
                let len = self.out.len();
                let mut outbuf = InterleavedSlice::new_mut(&mut self.out[..], 1, len)
                    .map_err(|e| Error::Device(format!("resampler: {e}")))?;
                let (_, produced) = r
                    .process_into_buffer(&inbuf, &mut outbuf, None)
                    .map_err(|e| Error::Device(format!("resampler: {e}")))?;
                let skip = self.delay_left.min(produced);
                self.delay_left -= skip;
                if produced > skip {
                    sink(&self.out[skip..produced]);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, hz: f32, secs: f32) -> Vec<f32> {
        (0..(rate as f32 * secs) as usize)
            .map(|i| (2.0 * std::f32::consts::PI * hz * i as f32 / rate as f32).sin() * 0.5)
            .collect()
    }

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
    }

    #[test]
    fn length_and_level_survive_44100_to_16000() {
        let x = sine(44_100, 440.0, 1.0);
        let y = to_16k(&x, 44_100).unwrap();
        assert_eq!(y.len(), 16_000);
        assert!((rms(&y[1000..15000]) - rms(&x)).abs() < 0.01);
    }

    #[test]
    fn downsampling_does_not_alias() {
        // 12 kHz at 48 kHz lies above the 8 kHz Nyquist of 16 kHz: it must vanish,
        // not fold back to 4 kHz.
        let x = sine(48_000, 12_000.0, 1.0);
        let y = to_16k(&x, 48_000).unwrap();
        assert!(rms(&y[1000..15000]) < 0.001, "aliased: rms {}", rms(&y));
    }

    #[test]
    fn streaming_matches_the_tone_and_rate() {
        let x = sine(48_000, 440.0, 1.0);
        let mut r = StreamResampler::new(48_000, 16_000).unwrap();
        let mut out = Vec::new();
        for block in x.chunks(333) {
            r.push(block, &mut |y| out.extend_from_slice(y)).unwrap();
        }
        assert!(out.len() > 15_000 && out.len() <= 16_000, "{}", out.len());
        let reference = to_16k(&x, 48_000).unwrap();
        let err: f32 = out[2000..14000]
            .iter()
            .zip(&reference[2000..14000])
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err < 0.01, "stream and clip disagree by {err}");
    }
}
