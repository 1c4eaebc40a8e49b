//! A wake word: a small keyword network on log-mel frames ([`net`]),
//! trained from scratch on synthetic voices ([`mod@train`]), and a streaming
//! [`Detector`] that scores the last 1.5 s of audio every 100 ms.
//!
//! A window's features are its log10 mel energies relative to the
//! window's loudest, clipped `range` below it: the same words score the
//! same at any gain. Windows with no frame above `gate_dbfs` are not
//! scored (most of a day is silence).
//!
//! A model file is a header (magic, version, JSON with the phrase, the
//! features, the shape and the threshold) followed by the weights in
//! burn's burnpack format.

pub mod net;
pub mod train;

use std::collections::VecDeque;
use std::sync::Arc;

use ainima_audio::features::{LogMel, MelConfig, energy_dbfs};
use burn::module::Module;
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use net::{Net, Shape};

pub use train::{Progress, TrainConfig, TrainData, train};

/// The first bytes of a model file.
pub const MAGIC: &[u8; 12] = b"AINIMA-WAKE\0";
/// The model file format's version.
pub const VERSION: u32 = 1;
/// The rate the detector hears at.
pub const SAMPLE_RATE: u32 = 16_000;
/// The largest header a model file may have.
const MAX_HEADER: u64 = 64 << 10;
/// The lowest threshold: a score of 0 (a window not scored) is never the
/// phrase.
pub const MIN_THRESHOLD: f32 = 0.01;
/// The most parameters a model file may ask for (the built-in has 43,000).
const MAX_PARAMETERS: usize = 4_000_000;

/// Speech that begins this long after the phrase is addressed to the
/// assistant (`[listen] window_s`'s default).
pub const WINDOW_MS: u32 = 5_000;
/// Speech that begins this long after a reply that asked a question is its
/// answer, addressed without the phrase (`[listen] follow_up_s`'s default).
pub const FOLLOW_UP_MS: u32 = 8_000;
/// Speech that ends within this long of a wake word inside it was the
/// phrase alone: the request comes next.
pub const ALONE_MS: u32 = 300;

/// What went wrong with a wake model; each variant says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file is not an Ainima wake model, or is damaged: train it again
    /// with `ainima wake train`.
    #[error("not a usable wake word model: {0}")]
    BadModel(String),
    /// There is nothing to learn from: give recordings of the phrase and
    /// of other speech.
    #[error("no training audio: {0}")]
    NoData(String),
}

/// How audio becomes the network's input.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct Features {
    /// Mel bands.
    pub n_mels: usize,
    /// FFT and window length, samples.
    pub n_fft: usize,
    /// Hop between frames, samples.
    pub hop: usize,
    /// Frames in a scored window.
    pub window: usize,
    /// Frames between two scorings.
    pub every: usize,
    /// How far below the window's loudest a band is kept, log10 units.
    pub range: f32,
    /// A window whose loudest frame is quieter than this (dBFS) is not
    /// scored.
    pub gate_dbfs: f32,
}

impl Default for Features {
    fn default() -> Self {
        Features {
            n_mels: 40,
            n_fft: 400,
            hop: 320,
            window: 75,
            every: 5,
            range: 5.0,
            gate_dbfs: -55.0,
        }
    }
}

impl Features {
    /// Samples a window spans.
    pub fn window_samples(&self) -> usize {
        (self.window.saturating_sub(1)) * self.hop + self.n_fft
    }

    fn mel(&self) -> Result<LogMel, Error> {
        LogMel::new(MelConfig {
            n_fft: self.n_fft,
            hop: self.hop,
            n_mels: self.n_mels,
            sample_rate: SAMPLE_RATE,
            fmin: 20.0,
            fmax: 8_000.0,
        })
        .map_err(|e| Error::BadModel(e.to_string()))
    }
}

/// Log-mel frames of `samples` (not centred: frame `k` starts at `k * hop`),
/// frame-major, and each frame's level in dBFS.
pub fn frames(mel: &mut LogMel, f: &Features, samples: &[f32]) -> (Vec<f32>, Vec<f32>) {
    let n = if samples.len() < f.n_fft {
        0
    } else {
        (samples.len() - f.n_fft) / f.hop + 1
    };
    let mut out = vec![0.0; n * f.n_mels];
    let mut levels = Vec::with_capacity(n);
    for k in 0..n {
        let s = &samples[k * f.hop..k * f.hop + f.n_fft];
        mel.frame(s, &mut out[k * f.n_mels..(k + 1) * f.n_mels]);
        levels.push(energy_dbfs(&s[f.n_fft - f.hop..]));
    }
    (out, levels)
}

/// The network's input for one window of frame-major log-mel `frames`:
/// band-major, relative to the window's loudest value and clipped `range`
/// below it, scaled to [-1, 1]. Appended to `out`.
pub fn normalise(frames: &[f32], f: &Features, out: &mut Vec<f32>) {
    let top = frames
        .iter()
        .copied()
        .filter(|x| x.is_finite())
        .fold(f32::MIN, f32::max);
    let n = frames.len() / f.n_mels.max(1);
    let range = f.range.max(0.1);
    for m in 0..f.n_mels {
        for k in 0..n {
            let x = frames[k * f.n_mels + m];
            let x = if x.is_finite() { x } else { top - range };
            out.push(((x.max(top - range) - top) / range) * 2.0 + 1.0);
        }
    }
}

/// The header of a model file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// What the model listens for.
    pub phrase: String,
    /// The input.
    pub features: Features,
    /// The network.
    pub shape: Shape,
    /// The score at which the phrase is taken as said (from
    /// [`MIN_THRESHOLD`] to 1).
    pub threshold: f32,
}

/// A trained wake word model.
#[derive(Debug)]
pub struct Wake {
    header: Header,
    net: Net,
    device: Device,
}

impl Wake {
    pub(crate) fn from_parts(header: Header, net: Net, device: Device) -> Wake {
        Wake {
            header,
            net,
            device,
        }
    }

    /// The header: phrase, features, shape, threshold.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// What the model listens for.
    pub fn phrase(&self) -> &str {
        &self.header.phrase
    }

    /// The score at which the phrase is taken as said.
    pub fn threshold(&self) -> f32 {
        self.header.threshold
    }

    /// Sets the score at which the phrase is taken as said (above 0, at
    /// most 1; other values are taken as the nearest such).
    pub fn set_threshold(&mut self, t: f32) {
        if t.is_finite() {
            self.header.threshold = t.clamp(MIN_THRESHOLD, 1.0);
        }
    }

    /// Trainable numbers in the network.
    pub fn parameters(&self) -> usize {
        self.net.num_params()
    }

    /// Scores (0 to 1; 0 where the network gave no number) of windows
    /// already normalised ([`normalise`]), one after the other in
    /// `input`.
    pub fn score(&self, input: &[f32]) -> Vec<f32> {
        let f = &self.header.features;
        let per = f.n_mels * f.window;
        let b = input.len() / per.max(1);
        if b == 0 {
            return Vec::new();
        }
        let x = Tensor::<3>::from_data(
            TensorData::new(input[..b * per].to_vec(), [b, f.n_mels, f.window]),
            &self.device,
        );
        let mut out = sigmoid(self.net.forward(x))
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .unwrap_or_default();
        // A score that is not a number (damaged weights) is no detection;
        // a failed run scores nothing, never fewer windows than given.
        out.resize(b, 0.0);
        for v in &mut out {
            if !v.is_finite() {
                *v = 0.0;
            }
        }
        out
    }

    /// Scores of every scoring position in a whole recording at 16 kHz, as
    /// the detector would score them (gated windows score 0): pairs of the
    /// sample where the window ends and the score.
    pub fn score_recording(&self, samples: &[f32]) -> Result<Vec<(u64, f32)>, Error> {
        let f = &self.header.features;
        let mut mel = f.mel()?;
        let (all, levels) = frames(&mut mel, f, samples);
        let n = levels.len();
        let mut ends = Vec::new();
        let mut input = Vec::new();
        let mut out = Vec::new();
        let mut k = f.window;
        while k <= n {
            let loud = levels[k - f.window..k].iter().any(|&l| l >= f.gate_dbfs);
            let end = ((k - 1) * f.hop + f.n_fft) as u64;
            if loud {
                normalise(&all[(k - f.window) * f.n_mels..k * f.n_mels], f, &mut input);
                ends.push(end);
            } else {
                out.push((end, 0.0));
            }
            k += f.every.max(1);
        }
        let per = f.n_mels * f.window;
        for (chunk, e) in input.chunks(per * 256).zip(ends.chunks(256)) {
            out.extend(e.iter().copied().zip(self.score(chunk)));
        }
        out.sort_by_key(|p| p.0);
        Ok(out)
    }

    /// Where the phrase is said in a recording at 16 kHz: the samples at
    /// which it was detected, each with its score, as the live detector
    /// reports them.
    pub fn detect_recording(&self, samples: &[f32]) -> Result<Vec<Detection>, Error> {
        let scores = self.score_recording(samples)?;
        Ok(self.detections(&scores, self.threshold()))
    }

    /// The detections [`Wake::score_recording`]'s `scores` give at
    /// `threshold`.
    pub fn detections(&self, scores: &[(u64, f32)], threshold: f32) -> Vec<Detection> {
        let quiet = self.header.features.window_samples() as u64;
        pick(scores, threshold, quiet)
    }

    /// The model as a file's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        let header =
            serde_json::to_vec(&self.header).map_err(|e| Error::BadModel(e.to_string()))?;
        crate::model_file::write(MAGIC, VERSION, &header, &self.net).map_err(Error::BadModel)
    }

    /// Reads a model file's bytes, on burn's CPU backend.
    pub fn from_bytes(bytes: &[u8]) -> Result<Wake, Error> {
        Wake::from_bytes_on(bytes, &Device::flex())
    }

    /// Reads a model file's bytes onto `device`.
    pub fn from_bytes_on(bytes: &[u8], device: &Device) -> Result<Wake, Error> {
        let (header, weights) =
            crate::model_file::read(bytes, MAGIC, VERSION, MAX_HEADER).map_err(Error::BadModel)?;
        let h: Header =
            serde_json::from_slice(header).map_err(|e| Error::BadModel(format!("header: {e}")))?;
        check(&h)?;
        let net =
            crate::model_file::load(weights, || Net::new(&h.shape, h.features.n_mels, device))
                .map_err(Error::BadModel)?;
        Ok(Wake::from_parts(h, net, device.clone()))
    }
}

/// Sizes a header may give: consistent and small enough to allocate.
fn check(h: &Header) -> Result<(), Error> {
    let f = &h.features;
    let ok_features = (8..=128).contains(&f.n_mels)
        && (64..=2048).contains(&f.n_fft)
        && (16..=f.n_fft).contains(&f.hop)
        && (16..=1000).contains(&f.window)
        && (1..=f.window).contains(&f.every)
        && f.range.is_finite()
        && f.range > 0.0
        && f.gate_dbfs.is_finite();
    let ok_shape = !h.shape.layers.is_empty()
        && h.shape.layers.len() <= 16
        && h.shape.layers.iter().all(|l| {
            (1..=1024).contains(&l.channels)
                && (1..=31).contains(&l.kernel)
                && (1..=8).contains(&l.stride)
        })
        && (0.0..1.0).contains(&h.shape.dropout);
    if !ok_features || !ok_shape || !(MIN_THRESHOLD..=1.0).contains(&h.threshold) {
        return Err(Error::BadModel("sizes out of range".into()));
    }
    // Checked before the network is built: a few bytes of header must not
    // make it allocate gigabytes.
    let mut c_in = f.n_mels;
    let mut params = 0usize;
    for l in &h.shape.layers {
        params += c_in * l.channels * l.kernel + l.channels;
        c_in = l.channels;
    }
    if params + 2 * c_in + 1 > MAX_PARAMETERS {
        return Err(Error::BadModel(format!(
            "{params} parameters, more than the {MAX_PARAMETERS} a wake word model may have"
        )));
    }
    if h.shape.frames_out(f.window) == 0 {
        return Err(Error::BadModel(
            "the window is shorter than the network reads".into(),
        ));
    }
    if h.phrase.trim().is_empty() || h.phrase.len() > 200 {
        return Err(Error::BadModel("no phrase, or one too long".into()));
    }
    Ok(())
}

/// The phrase was said.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Detection {
    /// Where the first of the two windows scoring over the threshold ends
    /// (50 to 500 ms after the phrase), counted from the first sample
    /// given; reported when the second has been scored, 100 ms later.
    pub at: u64,
    /// The score, from the threshold to 1.
    pub score: f32,
}

/// Detections among `scores` (sample, score) at `threshold`: the first of
/// two scorings in a row at or above it (a lone high score is let go), and
/// then none for `quiet` samples.
fn pick(scores: &[(u64, f32)], threshold: f32, quiet: u64) -> Vec<Detection> {
    let mut out = Vec::new();
    let mut until = 0u64;
    let (mut last, mut last_at) = (0.0f32, 0u64);
    for &(at, score) in scores {
        let both = score.min(last);
        if both >= threshold && last_at >= until {
            out.push(Detection {
                at: last_at,
                score: both,
            });
            until = last_at + quiet;
        }
        (last, last_at) = (score, at);
    }
    out
}

/// Hears a stream for the phrase, block by block. Allocates only when it
/// scores a window (never on the audio callback: run it where the session
/// runs).
#[derive(Debug)]
pub struct Detector {
    wake: Arc<Wake>,
    mel: LogMel,
    /// Samples not yet framed; `pending[0]` is sample `pending_at`.
    pending: Vec<f32>,
    pending_at: u64,
    /// The last `window` frames, frame-major, and their levels.
    frames: VecDeque<f32>,
    levels: VecDeque<f32>,
    frame: Vec<f32>,
    since: usize,
    /// The last scoring's score (0 when the window was gated) and where
    /// its window ended.
    last: f32,
    last_at: u64,
    quiet_until: u64,
    input: Vec<f32>,
    window: Vec<f32>,
}

impl Detector {
    /// A detector for `wake`.
    pub fn new(wake: Arc<Wake>) -> Result<Detector, Error> {
        let f = wake.header.features.clone();
        Ok(Detector {
            mel: f.mel()?,
            pending: Vec::with_capacity(f.n_fft + 4096),
            pending_at: 0,
            frames: VecDeque::with_capacity(f.window * f.n_mels),
            levels: VecDeque::with_capacity(f.window),
            frame: vec![0.0; f.n_mels],
            since: 0,
            last: 0.0,
            last_at: 0,
            quiet_until: 0,
            input: Vec::with_capacity(f.window * f.n_mels),
            window: Vec::with_capacity(f.window * f.n_mels),
            wake,
        })
    }

    /// The model.
    pub fn wake(&self) -> &Wake {
        &self.wake
    }

    /// Hears `samples` (16 kHz, following the last ones given); detections
    /// are added to `found`.
    pub fn push(&mut self, samples: &[f32], found: &mut Vec<Detection>) {
        let f = &self.wake.header.features;
        let (n_fft, hop, n_mels, window) = (f.n_fft, f.hop, f.n_mels, f.window);
        self.pending.extend_from_slice(samples);
        let mut used = 0;
        while self.pending.len() - used >= n_fft {
            let s = &self.pending[used..used + n_fft];
            self.mel.frame(s, &mut self.frame);
            let level = energy_dbfs(&s[n_fft - hop..]);
            used += hop;
            if self.levels.len() == window {
                self.levels.pop_front();
                self.frames.drain(..n_mels);
            }
            self.levels.push_back(level);
            self.frames.extend(self.frame.iter().copied());
            self.since += 1;
            let end = self.pending_at + (used - hop + n_fft) as u64;
            if self.levels.len() == window && self.since >= f.every {
                self.since = 0;
                if !self.levels.iter().any(|&l| l >= f.gate_dbfs) {
                    (self.last, self.last_at) = (0.0, end);
                    continue;
                }
                self.window.clear();
                self.window.extend(self.frames.iter().copied());
                self.input.clear();
                normalise(&self.window, f, &mut self.input);
                let score = self.wake.score(&self.input).first().copied().unwrap_or(0.0);
                let both = score.min(self.last);
                let first = self.last_at;
                (self.last, self.last_at) = (score, end);
                if both >= self.wake.threshold() && first >= self.quiet_until {
                    found.push(Detection {
                        at: first,
                        score: both,
                    });
                    self.quiet_until = first + f.window_samples() as u64;
                }
            }
        }
        self.pending.drain(..used);
        self.pending_at += used as u64;
    }
}

/// Where in `audio` (whose first sample is `first`) the words after a wake
/// word detected at `at` begin: the latest of the quietest 20 ms frames
/// (within a quarter more than the quietest's energy) between 550 ms before and 150 ms
/// after it: the gap between the phrase and the request, or the dip
/// between two words said in one breath. The detector fires 50 to 500 ms
/// after the phrase; a cut inside a word makes the recogniser guess.
pub fn request_start(audio: &[f32], first: u64, at: u64) -> u64 {
    const FRAME: u64 = 320;
    let lo = at.saturating_sub(8_800).max(first);
    let hi = (at + 2_400).min(first + audio.len() as u64);
    let mut frames = Vec::new();
    let mut s = lo;
    while s + FRAME <= hi {
        let i = (s - first) as usize;
        let e: f32 = audio[i..i + FRAME as usize].iter().map(|v| v * v).sum();
        frames.push((e, s + FRAME / 2));
        s += FRAME / 2;
    }
    let quietest = frames.iter().map(|f| f.0).fold(f32::MAX, f32::min);
    frames
        .iter()
        .rev()
        .find(|f| f.0 <= 1.25 * quietest + 1e-9)
        .map_or(at.clamp(first, first + audio.len() as u64), |f| f.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_starts_in_the_gap_after_the_phrase() {
        // Loud, a 60 ms gap at 0.8 s, loud again; detected at 0.9 s.
        let mut x: Vec<f32> = (0..32_000)
            .map(|i| ((i as f32) * 0.3).sin() * 0.5)
            .collect();
        x[12_800..13_760].fill(0.0);
        let at = request_start(&x, 16_000, 16_000 + 14_400);
        assert!((16_000 + 12_800..=16_000 + 13_760).contains(&at), "{at}");
        // The gap 450 ms before it, with louder speech around: still found.
        let at = request_start(&x, 16_000, 16_000 + 13_760 + 7_200);
        assert!((16_000 + 12_800..=16_000 + 13_760).contains(&at), "{at}");
        // Flat sound: the latest frame searched.
        let y = vec![0.5f32; 16_000];
        let at = request_start(&y, 0, 8_000);
        assert!((10_000..=10_400).contains(&at), "{at}");
    }

    #[test]
    fn a_window_is_the_same_at_any_gain() {
        let f = Features::default();
        let mut mel = f.mel().unwrap();
        let x: Vec<f32> = (0..f.window_samples())
            .map(|i| (i as f32 * 0.05).sin() * 0.1 + (i as f32 * 0.31).sin() * 0.02)
            .collect();
        let loud: Vec<f32> = x.iter().map(|v| v * 8.0).collect();
        let (a, _) = frames(&mut mel, &f, &x);
        let (b, _) = frames(&mut mel, &f, &loud);
        let (mut na, mut nb) = (Vec::new(), Vec::new());
        normalise(&a, &f, &mut na);
        normalise(&b, &f, &mut nb);
        assert_eq!(na.len(), f.window * f.n_mels);
        for (p, q) in na.iter().zip(&nb) {
            assert!((p - q).abs() < 1e-3, "{p} {q}");
        }
    }

    #[test]
    fn detections_are_kept_apart() {
        let s = [
            (10, 0.2),
            (20, 0.9),
            (30, 0.95),
            (40, 0.99),
            (100, 0.99),
            (110, 0.9),
            (150, 0.7),
            (200, 0.99),
        ];
        let got = pick(&s, 0.8, 80);
        // Two in a row from 20; 40 and 100 are too soon after it; 100 and
        // 110 are two in a row again; 200 has no second.
        assert_eq!(got.iter().map(|d| d.at).collect::<Vec<_>>(), vec![20, 100]);
    }
}
