//! Live devices through cpal. The callbacks only move samples through
//! pre-allocated SPSC rings (and downmix or duplicate channels on the fly);
//! resampling to and from 16 kHz happens on the caller's side, in
//! [`CpalDevice::capture`] and [`CpalDevice::play`].
//!
//! With the `cpal-custom` feature, tests build a [`::cpal::Host`] of their own
//! (cpal's custom host) and drive exactly this code without a sound card.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::Duration;

use ::cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
use ::cpal::{ErrorKind, SampleFormat, StreamConfig};

use super::{DeviceInfo, DuplexDevice};
use crate::resample::StreamResampler;
use crate::ring::{Consumer, Producer, ring};
use crate::{Error, Result, SAMPLE_RATE};

/// Seconds of audio each ring holds.
const RING_SECONDS: usize = 4;

/// Microphone time (16 kHz samples) a running output may take nothing
/// before it is built again in place (its callbacks come every few tens
/// of milliseconds).
const OUTPUT_STALL: usize = SAMPLE_RATE as usize * 3 / 10;

/// Callbacks after which an output counts as running. A new stream fills
/// its buffer in a few, then may wait: PulseAudio's ALSA plugin here waits
/// about 1.7 s before its playback starts (measured, at the start and
/// after a rebuild).
const RUNNING_BEATS: u64 = 8;

/// Rebuilds in a row (without the output playing steadily for the
/// timeout between) before a stuck output ends the device.
const MAX_REBUILDS: u32 = 2;

/// Seconds a new output may take to start running before the device
/// ends.
const STARTING: u64 = 5;

/// A backlog of microphone audio (16 kHz samples) past which the capture
/// loop is catching up, not keeping pace: its blocks do not count towards
/// an output's stall (they come faster than the time they cover).
const CATCHING_UP: usize = SAMPLE_RATE as usize * 6 / 100;

/// Counters the callbacks share with the device, all lock-free.
#[derive(Debug, Default)]
struct Shared {
    /// Input samples lost because the capture ring was full.
    overruns: AtomicU64,
    /// Output samples the callback had to invent because nothing was queued.
    underruns: AtomicU64,
    /// Glitches: xruns the backend recovered from by itself (the sound
    /// server or the card skipped because the machine was too busy), and
    /// outputs built again in place.
    glitches: AtomicU64,
}

/// One stream's flags, lock-free. An output built again in place gets new
/// ones: what the retired stream does late (a flush it takes, a beat, an
/// error while it is torn down) reaches nobody.
#[derive(Debug, Default)]
struct StreamFlags {
    /// Set by `stop_playback` (output); the callback drops what is queued
    /// and clears it.
    flush: AtomicBool,
    /// Callbacks run so far (the stream's heartbeat).
    beats: AtomicU64,
    /// Frames the last callback brought (input): how much audio comes at
    /// once when the loop keeps pace.
    period: AtomicU64,
    /// Set when an output is replaced: its callback plays silence and
    /// takes nothing, its errors count for nothing.
    retired: AtomicBool,
    /// The first error the backend did not recover from, as an index into
    /// [`FATAL`] plus one; 0 while there is none.
    failed: AtomicU8,
}

/// The stream errors that end a stream, in the order
/// [`StreamFlags::failed`] counts them; any other kind cpal may add counts
/// as the last.
const FATAL: [ErrorKind; 10] = [
    ErrorKind::DeviceNotAvailable,
    ErrorKind::HostUnavailable,
    ErrorKind::StreamInvalidated,
    ErrorKind::PermissionDenied,
    ErrorKind::DeviceBusy,
    ErrorKind::ResourceExhausted,
    ErrorKind::InvalidInput,
    ErrorKind::UnsupportedConfig,
    ErrorKind::UnsupportedOperation,
    ErrorKind::Other,
];

impl StreamFlags {
    /// What a stream error means for the conversation (on the stream's
    /// thread: atomics only, nothing allocated, locked or logged).
    ///
    /// - An xrun is a glitch the backend recovers from itself (ALSA's
    ///   `prepare`, and `start` for capture): the stream goes on, short of
    ///   the audio the stall lasted. It is counted in `glitches`.
    /// - A backend's unnamed error may pass: PulseAudio's ALSA plugin
    ///   answers `snd_pcm_avail_delay` with EIO until a restarted stream
    ///   has timing again (alsa-plugins issue 65), dozens of times after
    ///   every playback xrun. Whether the stream lives is judged by its
    ///   audio instead (see [`CpalDevice::capture`]).
    /// - A refused real-time priority, or a route that followed the
    ///   default device, leaves the stream playing.
    /// - Anything else ends the stream: the device must be opened again.
    fn on_error(&self, glitches: &AtomicU64, kind: ErrorKind) {
        if self.retired.load(Ordering::Relaxed) {
            return;
        }
        match kind {
            ErrorKind::Xrun => {
                glitches.fetch_add(1, Ordering::Relaxed);
            }
            ErrorKind::BackendError | ErrorKind::RealtimeDenied | ErrorKind::DeviceChanged => {}
            other => {
                let code = FATAL
                    .iter()
                    .position(|k| *k == other)
                    .unwrap_or(FATAL.len() - 1);
                // The first fatal error is the one worth telling.
                let _ = self.failed.compare_exchange(
                    0,
                    code as u8 + 1,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                );
            }
        }
    }

    /// Why the stream ended, once it has.
    fn failure(&self) -> Option<Error> {
        let code = self.failed.load(Ordering::Acquire);
        (code > 0).then(|| {
            let why = FATAL[usize::from(code - 1).min(FATAL.len() - 1)];
            Error::Device(format!("the audio stream failed: {why}"))
        })
    }
}

/// The output's heartbeat as the capture loop sees it, in microphone
/// samples read while the loop keeps pace.
#[derive(Debug, Default)]
struct OutputWatch {
    /// The heartbeat when last seen.
    beat: u64,
    /// Read since it last moved.
    stalled: usize,
    /// Read while it has been running and beating, since it last was not.
    steady: usize,
    /// Rebuilds since it last played steadily for the timeout.
    rebuilds: u32,
}

/// A live microphone and speaker.
pub struct CpalDevice {
    _input: ::cpal::Stream,
    output: ::cpal::Stream,
    /// The output device and its stream's format, to build it again.
    output_device: ::cpal::Device,
    output_config: (SampleFormat, StreamConfig),
    /// The last of what went into the playback ring (its capacity at
    /// most, device-rate samples): what the speaker had not taken is
    /// queued again when the output is built anew.
    pushed: std::collections::VecDeque<f32>,
    shared: Arc<Shared>,
    input_flags: Arc<StreamFlags>,
    output_flags: Arc<StreamFlags>,
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
    /// How the output has been beating.
    watch: OutputWatch,
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
        let input_flags = Arc::new(StreamFlags::default());
        let output_flags = Arc::new(StreamFlags::default());
        let (mic_p, mic_c) = ring(in_rate as usize * RING_SECONDS);
        let (ref_p, ref_c) = ring(out_rate as usize * RING_SECONDS);
        let (play_p, play_c) = ring(out_rate as usize * RING_SECONDS);

        let in_stream = build_input(
            input,
            in_cfg.sample_format(),
            in_cfg.config(),
            mic_p,
            shared.clone(),
            input_flags.clone(),
        )?;
        let out_stream = build_output(
            output,
            out_cfg.sample_format(),
            out_cfg.config(),
            play_c,
            ref_p,
            shared.clone(),
            output_flags.clone(),
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
            output: out_stream,
            output_device: output.clone(),
            output_config: (out_cfg.sample_format(), out_cfg.config()),
            pushed: Default::default(),
            shared,
            input_flags,
            output_flags,
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
            watch: OutputWatch::default(),
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

    /// Glitches the backend recovered from by itself (xruns: the sound
    /// server or the card skipped, the streams went on).
    pub fn glitches(&self) -> u64 {
        self.shared.glitches.load(Ordering::Relaxed)
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
        let cap = self.info.output_rate as usize * RING_SECONDS;
        while !self.staging.is_empty() && self.playback.free() > 0 {
            let (a, _) = self.staging.as_slices();
            let n = self.playback.push(a);
            self.pushed.extend(self.staging.drain(..n));
            if n == 0 {
                break;
            }
        }
        let over = self.pushed.len().saturating_sub(cap);
        self.pushed.drain(..over);
    }

    /// The output took nothing for a while: its stream is built again in
    /// place, and what the old one had not played is queued first. The
    /// input goes on untouched, so nothing the person says is lost.
    ///
    /// PulseAudio's ALSA plugin leaves a playback stream that had an xrun
    /// stuck: cpal waits for the stream to be refilled, the plugin answers
    /// every question with EIO meanwhile (alsa-plugins issue 65).
    fn rebuild_output(&mut self) -> Result<()> {
        self.drain_rings()?;
        let cap = self.info.output_rate as usize * RING_SECONDS;
        let unplayed = (cap - self.playback.free()).min(self.pushed.len());
        let (play_p, play_c) = ring(cap);
        let (ref_p, ref_c) = ring(cap);
        let (format, config) = self.output_config;
        let flags = Arc::new(StreamFlags::default());
        let stream = build_output(
            &self.output_device,
            format,
            config,
            play_c,
            ref_p,
            self.shared.clone(),
            flags.clone(),
        )?;
        stream.play().map_err(|e| dev_err("restart output", e))?;
        self.output_flags.retired.store(true, Ordering::Relaxed);
        self.output_flags = flags;
        // A stuck stream's drop waits for its worker: on a thread of its own.
        let old = std::mem::replace(&mut self.output, stream);
        std::thread::spawn(move || drop(old));
        self.playback = play_p;
        self.reference = ref_c;
        let keep = self.pushed.len() - unplayed;
        for s in self.pushed.drain(keep..).rev() {
            self.staging.push_front(s);
        }
        self.pushed.clear();
        self.shared.glitches.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn build_input(
    device: &::cpal::Device,
    format: SampleFormat,
    config: StreamConfig,
    mut mic: Producer,
    shared: Arc<Shared>,
    flags: Arc<StreamFlags>,
) -> Result<::cpal::Stream> {
    let ch = usize::from(config.channels);
    let err_shared = shared.clone();
    let period_flags = flags.clone();
    let on_error = move |e: ::cpal::Error| flags.on_error(&err_shared.glitches, e.kind());
    let stream = match format {
        SampleFormat::F32 => device.build_input_stream::<f32, _, _>(
            config,
            move |data: &[f32], _| {
                period_flags
                    .period
                    .store((data.len() / ch) as u64, Ordering::Relaxed);
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
                period_flags
                    .period
                    .store((data.len() / ch) as u64, Ordering::Relaxed);
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
    flags: Arc<StreamFlags>,
) -> Result<::cpal::Stream> {
    let ch = usize::from(config.channels);
    let (err_shared, err_flags) = (shared.clone(), flags.clone());
    let on_error = move |e: ::cpal::Error| err_flags.on_error(&err_shared.glitches, e.kind());
    // One mono sample out of the ring per output frame; silence on underrun.
    let mut next = move |shared: &Shared, flags: &StreamFlags| -> f32 {
        if flags.retired.load(Ordering::Relaxed) {
            return 0.0;
        }
        if flags.flush.swap(false, Ordering::AcqRel) {
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
                flags.beats.fetch_add(1, Ordering::Relaxed);
                for frame in data.chunks_exact_mut(ch) {
                    frame.fill(next(&shared, &flags));
                }
            },
            on_error,
            None,
        ),
        SampleFormat::I16 => device.build_output_stream::<i16, _, _>(
            config,
            move |data: &mut [i16], _| {
                flags.beats.fetch_add(1, Ordering::Relaxed);
                for frame in data.chunks_exact_mut(ch) {
                    frame.fill(crate::frame::to_i16(next(&shared, &flags)));
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
            if let Some(e) = self.input_flags.failure() {
                return Err(e);
            }
            if let Some(e) = self.output_flags.failure() {
                return Err(e);
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
        // An output that takes nothing while the input goes on has failed
        // (its errors alone may be passing ones: see
        // `StreamFlags::on_error`). Once running, it is built again in
        // place; one that still takes nothing, or sticks a third time in a
        // row, ends the device, as does one that never starts running. Only
        // blocks read while the loop keeps pace count (a backlog no bigger
        // than the input's own period and 60 ms): after a stall of the
        // whole process, its backlog comes in a burst before the output
        // has had a turn.
        let beat = self.output_flags.beats.load(Ordering::Relaxed);
        let period = self.input_flags.period.load(Ordering::Relaxed) as usize
            * SAMPLE_RATE as usize
            / self.info.input_rate.max(1) as usize;
        let running = beat >= RUNNING_BEATS;
        let secs = if running {
            self.timeout.as_secs()
        } else {
            STARTING
        };
        let limit = secs as usize * SAMPLE_RATE as usize;
        if self.mic_ready.len() < CATCHING_UP + period {
            let w = &mut self.watch;
            if beat == w.beat {
                w.stalled += want;
            } else {
                (w.beat, w.stalled) = (beat, 0);
            }
            // Rebuilt twice in a row without playing steadily for the
            // timeout between: the next time it sticks ends the device.
            if running && w.stalled < OUTPUT_STALL {
                w.steady += want;
                if w.steady >= limit {
                    w.rebuilds = 0;
                }
            } else {
                w.steady = 0;
            }
            if w.stalled >= limit {
                return Err(Error::Device(format!(
                    "no audio went to the output for {secs} s"
                )));
            }
            if running && w.stalled >= OUTPUT_STALL && w.rebuilds < MAX_REBUILDS {
                self.rebuild_output()?;
                let w = &mut self.watch;
                // The new stream's heartbeat starts from nothing.
                w.beat = 0;
                w.rebuilds += 1;
            }
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
        self.pushed.clear();
        self.output_flags.flush.store(true, Ordering::Release);
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
