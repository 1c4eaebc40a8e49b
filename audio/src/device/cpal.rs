//! Live devices through cpal. The callbacks only move samples through
//! pre-allocated SPSC rings (and downmix or duplicate channels on the fly);
//! resampling to and from 16 kHz happens on the caller's side, in
//! [`CpalDevice::capture`] and [`CpalDevice::play`].
//!
//! With the `cpal-custom` feature, tests build a [`::cpal::Host`] of their own
//! (cpal's custom host) and drive exactly this code without a sound card.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use ::cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use ::cpal::{SampleFormat, StreamConfig};

use super::{DeviceInfo, DuplexDevice};
use crate::resample::StreamResampler;
use crate::ring::{Consumer, Producer, ring};
use crate::{Error, Result, SAMPLE_RATE};

/// Seconds of audio each ring holds.
const RING_SECONDS: usize = 4;

/// Flags shared between the callbacks and the device, all lock-free.
#[derive(Debug, Default)]
struct Shared {
    /// Set by `stop_playback`; the output callback drops what is queued and clears it.
    flush: AtomicBool,
    /// Input samples lost because the capture ring was full.
    overruns: AtomicU64,
    /// Output samples the callback had to invent because nothing was queued.
    underruns: AtomicU64,
    /// The last stream error, as a flag (the message goes through the error callback's ring).
    failed: AtomicBool,
}

/// A live microphone and speaker.
pub struct CpalDevice {
    _input: ::cpal::Stream,
    _output: ::cpal::Stream,
    shared: Arc<Shared>,
    mic: Consumer,
    reference: Consumer,
    playback: Producer,
    mic_rs: StreamResampler,
    ref_rs: StreamResampler,
    out_rs: StreamResampler,
    /// 16 kHz samples converted but not yet handed out.
    mic_ready: std::collections::VecDeque<f32>,
    ref_ready: std::collections::VecDeque<f32>,
    /// Device-rate samples waiting for room in the playback ring.
    staging: std::collections::VecDeque<f32>,
    scratch: Vec<f32>,
    info: DeviceInfo,
    timeout: Duration,
}

impl std::fmt::Debug for CpalDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CpalDevice")
            .field("info", &self.info)
            .finish()
    }
}

fn dev_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Device(format!("{what}: {e}"))
}

impl CpalDevice {
    /// The host's default input and output devices.
    pub fn default_devices() -> Result<Self> {
        Self::open(&::cpal::default_host())
    }

    /// The default input and output devices of `host`.
    pub fn open(host: &::cpal::Host) -> Result<Self> {
        let input = host
            .default_input_device()
            .ok_or_else(|| Error::Device("no input device (is a microphone connected?)".into()))?;
        let output = host
            .default_output_device()
            .ok_or_else(|| Error::Device("no output device".into()))?;
        Self::from_devices(&input, &output)
    }

    /// Specific devices.
    pub fn from_devices(input: &::cpal::Device, output: &::cpal::Device) -> Result<Self> {
        let in_cfg = input
            .default_input_config()
            .map_err(|e| dev_err("input config", e))?;
        let out_cfg = output
            .default_output_config()
            .map_err(|e| dev_err("output config", e))?;
        let in_rate = in_cfg.sample_rate();
        let out_rate = out_cfg.sample_rate();
        let in_ch = in_cfg.channels();
        let out_ch = out_cfg.channels();
        if in_ch == 0 || out_ch == 0 {
            return Err(Error::Device("a device with 0 channels".into()));
        }
        let shared = Arc::new(Shared::default());
        let (mic_p, mic_c) = ring(in_rate as usize * RING_SECONDS);
        let (ref_p, ref_c) = ring(out_rate as usize * RING_SECONDS);
        let (play_p, play_c) = ring(out_rate as usize * RING_SECONDS);

        let in_stream = build_input(
            input,
            in_cfg.sample_format(),
            in_cfg.config(),
            mic_p,
            shared.clone(),
        )?;
        let out_stream = build_output(
            output,
            out_cfg.sample_format(),
            out_cfg.config(),
            play_c,
            ref_p,
            shared.clone(),
        )?;
        in_stream.play().map_err(|e| dev_err("start input", e))?;
        out_stream.play().map_err(|e| dev_err("start output", e))?;

        let name = format!(
            "{} / {}",
            input
                .description()
                .map(|d| d.name().to_string())
                .unwrap_or_else(|_| "input".into()),
            output
                .description()
                .map(|d| d.name().to_string())
                .unwrap_or_else(|_| "output".into())
        );
        Ok(CpalDevice {
            _input: in_stream,
            _output: out_stream,
            shared,
            mic: mic_c,
            reference: ref_c,
            playback: play_p,
            mic_rs: StreamResampler::new(in_rate, SAMPLE_RATE)?,
            ref_rs: StreamResampler::new(out_rate, SAMPLE_RATE)?,
            out_rs: StreamResampler::new(SAMPLE_RATE, out_rate)?,
            mic_ready: Default::default(),
            ref_ready: Default::default(),
            staging: Default::default(),
            scratch: vec![0.0; in_rate.max(out_rate) as usize / 10],
            info: DeviceInfo {
                name,
                input_rate: in_rate,
                input_channels: in_ch,
                output_rate: out_rate,
                output_channels: out_ch,
            },
            timeout: Duration::from_secs(2),
        })
    }

    /// Input samples dropped because nobody read them in time.
    pub fn overruns(&self) -> u64 {
        self.shared.overruns.load(Ordering::Relaxed)
    }

    /// Output samples played as silence because nothing was queued.
    pub fn underruns(&self) -> u64 {
        self.shared.underruns.load(Ordering::Relaxed)
    }

    fn drain_rings(&mut self) -> Result<()> {
        let Self {
            mic,
            reference,
            mic_rs,
            ref_rs,
            mic_ready,
            ref_ready,
            scratch,
            ..
        } = self;
        loop {
            let n = mic.pop(scratch);
            if n == 0 {
                break;
            }
            mic_rs.push(&scratch[..n], &mut |y| mic_ready.extend(y))?;
        }
        loop {
            let n = reference.pop(scratch);
            if n == 0 {
                break;
            }
            ref_rs.push(&scratch[..n], &mut |y| ref_ready.extend(y))?;
        }
        Ok(())
    }

    fn feed_playback(&mut self) {
        while !self.staging.is_empty() && self.playback.free() > 0 {
            let (a, _) = self.staging.as_slices();
            let n = self.playback.push(a);
            self.staging.drain(..n);
            if n == 0 {
                break;
            }
        }
    }
}

fn build_input(
    device: &::cpal::Device,
    format: SampleFormat,
    config: StreamConfig,
    mut mic: Producer,
    shared: Arc<Shared>,
) -> Result<::cpal::Stream> {
    let ch = usize::from(config.channels);
    let err_shared = shared.clone();
    let on_error = move |_e: ::cpal::Error| err_shared.failed.store(true, Ordering::Relaxed);
    let stream = match format {
        SampleFormat::F32 => device.build_input_stream::<f32, _, _>(
            config,
            move |data: &[f32], _| {
                // Downmix frame by frame straight into the ring: no allocation.
                for frame in data.chunks_exact(ch) {
                    let s = frame.iter().sum::<f32>() / ch as f32;
                    if mic.push(&[s]) == 0 {
                        shared.overruns.fetch_add(1, Ordering::Relaxed);
                    }
                }
            },
            on_error,
            None,
        ),
        SampleFormat::I16 => device.build_input_stream::<i16, _, _>(
            config,
            move |data: &[i16], _| {
                for frame in data.chunks_exact(ch) {
                    let s = frame.iter().map(|&x| f32::from(x) / 32768.0).sum::<f32>() / ch as f32;
                    if mic.push(&[s]) == 0 {
                        shared.overruns.fetch_add(1, Ordering::Relaxed);
                    }
                }
            },
            on_error,
            None,
        ),
        other => {
            return Err(Error::Device(format!(
                "input sample format {other:?} is not supported (use f32 or i16)"
            )));
        }
    };
    stream.map_err(|e| dev_err("open input stream", e))
}

fn build_output(
    device: &::cpal::Device,
    format: SampleFormat,
    config: StreamConfig,
    mut playback: Consumer,
    mut reference: Producer,
    shared: Arc<Shared>,
) -> Result<::cpal::Stream> {
    let ch = usize::from(config.channels);
    let err_shared = shared.clone();
    let on_error = move |_e: ::cpal::Error| err_shared.failed.store(true, Ordering::Relaxed);
    // One mono sample out of the ring per output frame; silence on underrun.
    let mut next = move |shared: &Shared| -> f32 {
        if shared.flush.swap(false, Ordering::AcqRel) {
            let n = playback.available();
            playback.skip(n);
        }
        let mut s = [0.0f32];
        if playback.pop(&mut s) == 0 {
            shared.underruns.fetch_add(1, Ordering::Relaxed);
        }
        // What was played is the echo canceller's reference.
        reference.push(&s);
        s[0]
    };
    let stream = match format {
        SampleFormat::F32 => device.build_output_stream::<f32, _, _>(
            config,
            move |data: &mut [f32], _| {
                for frame in data.chunks_exact_mut(ch) {
                    frame.fill(next(&shared));
                }
            },
            on_error,
            None,
        ),
        SampleFormat::I16 => device.build_output_stream::<i16, _, _>(
            config,
            move |data: &mut [i16], _| {
                for frame in data.chunks_exact_mut(ch) {
                    frame.fill(crate::frame::to_i16(next(&shared)));
                }
            },
            on_error,
            None,
        ),
        other => {
            return Err(Error::Device(format!(
                "output sample format {other:?} is not supported (use f32 or i16)"
            )));
        }
    };
    stream.map_err(|e| dev_err("open output stream", e))
}

impl DuplexDevice for CpalDevice {
    fn capture(&mut self, mic: &mut [f32], reference: &mut [f32]) -> Result<usize> {
        let want = mic.len().min(reference.len());
        let mut waited = Duration::ZERO;
        loop {
            if self.shared.failed.load(Ordering::Relaxed) {
                return Err(Error::Device("the audio stream failed".into()));
            }
            self.feed_playback();
            self.drain_rings()?;
            if self.mic_ready.len() >= want {
                break;
            }
            if waited >= self.timeout {
                return Err(Error::Device(format!(
                    "no audio from the input for {} s",
                    self.timeout.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(2));
            waited += Duration::from_millis(2);
        }
        for (m, s) in mic.iter_mut().zip(self.mic_ready.drain(..want)) {
            *m = s;
        }
        // The reference may lag the microphone by a callback; what has not
        // been played yet is silence.
        let have = self.ref_ready.len().min(want);
        for (r, s) in reference.iter_mut().zip(self.ref_ready.drain(..have)) {
            *r = s;
        }
        reference[have..want].fill(0.0);
        Ok(want)
    }

    fn play(&mut self, samples: &[f32]) -> Result<()> {
        let Self {
            out_rs, staging, ..
        } = self;
        out_rs.push(samples, &mut |y| {
            staging.extend(y.iter().map(|&s| if s.is_finite() { s } else { 0.0 }))
        })?;
        self.feed_playback();
        Ok(())
    }

    fn stop_playback(&mut self) -> usize {
        let n = self.staging.len()
            + (self.info.output_rate as usize * RING_SECONDS - self.playback.free());
        self.staging.clear();
        self.shared.flush.store(true, Ordering::Release);
        n * SAMPLE_RATE as usize / self.info.output_rate as usize
    }

    fn pending_playback(&self) -> usize {
        let n = self.staging.len()
            + (self.info.output_rate as usize * RING_SECONDS - self.playback.free());
        n * SAMPLE_RATE as usize / self.info.output_rate as usize
    }

    fn info(&self) -> DeviceInfo {
        self.info.clone()
    }
}
