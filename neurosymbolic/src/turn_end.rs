//! The end of a turn: a small model on the words heard so far and the
//! prosody of their end, asked in a pause whether the user has finished.
//!
//! The session's rules decide first (a complete request ends the turn, a
//! dangling one waits; see `ainima::session`); this model joins them where
//! the words alone mislead: a complete-sounding beginning said with the
//! level or rising pitch of a clause that goes on ("Turn on the light, ...
//! in the kitchen") is held, and words the rules leave to the silence
//! timeout, said with a final fall, end the turn at once.
//!
//! The model is a logistic regression over [`FEATURES`] (standardised):
//! seven cues the language core reads from the words ([`Cues`]) and five
//! prosodic ones read from the audio ([`Prosody`]): the pitch slope over
//! the last stretch with a pitch, the final pitch against the utterance's
//! median and against the stretch before it, the final energy against its
//! peak and the length of the final voiced run (final lengthening). Those are the cues the turn-taking
//! literature names (Gravano and Hirschberg, 2011, "Turn-taking cues in
//! task-oriented dialogue"); LiveKit's and Pipecat's turn detectors learn
//! the same from text or audio alone, with millions of parameters.

use ainima_audio::frame::energy_dbfs;
use serde::{Deserialize, Serialize};

/// The features, in the order the model takes them.
pub const FEATURES: [&str; 12] = [
    "complete",
    "parses",
    "closed",
    "question",
    "unfinished",
    "unreadable",
    "comma",
    "pitch_slope",
    "final_pitch",
    "final_rise",
    "final_energy",
    "final_length",
];

/// What a model file says it is.
const FORMAT: &str = "ainima-end-of-turn";
/// The model file's version.
const VERSION: u32 = 1;
/// The largest weight, mean, scale or bias a model may have (a trained
/// one stays under 100): the probability is then always a number.
const MAX_VALUE: f32 = 1.0e4;
/// The largest model file read (the built-in is about 1 KB).
pub const MAX_FILE: usize = 64 * 1024;

/// How much of the speech's end is read: 3 s (a pause's check stays
/// cheap however long the user speaks).
pub const SPAN: usize = 48_000;
/// A frame quieter than this (dBFS) is silence, however quiet the rest.
const SILENCE_DB: f32 = -90.0;
/// Frames of 20 ms, every 10 ms, at 16 kHz.
const FRAME: usize = 320;
const HOP: usize = 160;
/// Pitch is read over 40 ms from a frame's start (three of the longest
/// periods).
const PITCH_FRAME: usize = 640;
/// A frame has a pitch when its autocorrelation at the period keeps this
/// share of its energy.
const PERIODIC: f32 = 0.4;
/// Pitch is looked for between these (Hz).
const FMIN: f32 = 75.0;
const FMAX: f32 = 400.0;
/// A frame counts as voiced within this many dB of the loudest frame.
const VOICED_DB: f32 = 35.0;
/// The stretch before the last pitched frame whose pitch slope is taken,
/// frames (300 ms).
const TAIL: usize = 30;
/// The final stretch whose pitch and energy are taken, frames (120 ms).
const END: usize = 12;
/// The stretch before it the final pitch is compared with, frames (280 ms).
const BEFORE: usize = 28;

/// What went wrong with an end-of-turn model; each variant says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file is not an Ainima end-of-turn model, or is damaged: train
    /// it again with `ainima turn train`.
    #[error("not a usable end-of-turn model: {0}")]
    BadModel(String),
    /// There is nothing to learn from: give examples of both kinds.
    #[error("no training examples: {0}")]
    NoData(String),
}

/// The cues the language core reads from the words so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Cues {
    /// A complete request (nothing missing).
    pub complete: bool,
    /// The skills read it at all.
    pub parses: bool,
    /// The recogniser closed it (".", "?", "!").
    pub closed: bool,
    /// It ends with "?".
    pub question: bool,
    /// It dangles ("set a timer for").
    pub unfinished: bool,
    /// A whole sentence the core cannot read and that begins no request.
    pub unreadable: bool,
    /// It ends with ",".
    pub comma: bool,
}

/// The prosody of the end of the speech so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Prosody {
    /// Pitch slope over the last 300 ms with a pitch (the median of the
    /// slopes between pairs of frames: octave errors do not sway it),
    /// semitones a second.
    pub pitch_slope: f32,
    /// The last 120 ms's median pitch against the utterance's, semitones.
    pub final_pitch: f32,
    /// The last 120 ms's median pitch against the 280 ms before, semitones
    /// (a continuation rise, a final fall).
    pub final_rise: f32,
    /// The last 120 ms's energy against the loudest frame, dB.
    pub final_energy: f32,
    /// The length of the last run of voiced frames, ms.
    pub final_length: f32,
}

impl Prosody {
    /// Reads the prosody of the last [`SPAN`] of `audio` (16 kHz; its end
    /// may be a pause). Silence gives zeros; no pitch, zero pitch cues.
    pub fn of(audio: &[f32]) -> Prosody {
        let audio = &audio[audio.len().saturating_sub(SPAN)..];
        if audio.len() < FRAME {
            return Prosody::default();
        }
        let frames: Vec<&[f32]> = (0..=(audio.len() - FRAME) / HOP)
            .map(|i| &audio[i * HOP..i * HOP + FRAME])
            .collect();
        let level: Vec<f32> = frames.iter().map(|f| energy_dbfs(f)).collect();
        let top = level.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let floor = (top - VOICED_DB).max(SILENCE_DB);
        let voiced: Vec<bool> = level.iter().map(|&l| l > floor).collect();
        let Some(last) = voiced.iter().rposition(|&v| v) else {
            return Prosody::default();
        };
        let first = voiced[..=last]
            .iter()
            .rposition(|&v| !v)
            .map_or(0, |i| i + 1);
        let final_length = ((last + 1 - first) * HOP) as f32 / 16.0;
        let semitones = |hz: f32| 12.0 * libm::log2f(hz / 100.0);
        let pitch: Vec<Option<f32>> = voiced
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let from = (i * HOP).min(audio.len().saturating_sub(PITCH_FRAME));
                let f = &audio[from..(from + PITCH_FRAME).min(audio.len())];
                v.then(|| periodicity(f)).flatten().map(semitones)
            })
            .collect();
        let all: Vec<f32> = pitch.iter().flatten().copied().collect();
        // The end is the last frame with a pitch: a reverberant tail or a
        // final consonant is no part of the tune.
        let last_pitched = pitch.iter().rposition(Option::is_some);
        let at = |from: usize, to: usize| -> Vec<(f32, f32)> {
            (from..to)
                .filter_map(|i| pitch[i].map(|p| (i as f32 * HOP as f32 / 16_000.0, p)))
                .collect()
        };
        let (mut pitch_slope, mut final_pitch, mut final_rise) = (0.0, 0.0, 0.0);
        if let Some(lp) = last_pitched {
            let tail = at((lp + 1).saturating_sub(TAIL), lp + 1);
            let end: Vec<f32> = at((lp + 1).saturating_sub(END), lp + 1)
                .iter()
                .map(|p| p.1)
                .collect();
            let before: Vec<f32> = at(
                (lp + 1).saturating_sub(END + BEFORE),
                (lp + 1).saturating_sub(END),
            )
            .iter()
            .map(|p| p.1)
            .collect();
            if all.len() >= 3 && end.len() >= 2 {
                pitch_slope = robust_slope(&tail);
                final_pitch = median(&end) - median(&all);
                if before.len() >= 2 {
                    final_rise = median(&end) - median(&before);
                }
            }
        }
        let end_from = (last + 1).saturating_sub(END);
        let final_energy = (end_from..=last)
            .map(|i| level[i])
            .fold(f32::NEG_INFINITY, f32::max)
            - top;
        Prosody {
            pitch_slope,
            final_pitch,
            final_rise,
            final_energy,
            final_length,
        }
    }
}

/// The Theil-Sen slope of `points` (x, y): the median of the slopes
/// between pairs; 0 for fewer than two.
fn robust_slope(points: &[(f32, f32)]) -> f32 {
    let mut slopes = Vec::new();
    for (i, a) in points.iter().enumerate() {
        for b in &points[i + 1..] {
            if b.0 > a.0 {
                slopes.push((b.1 - a.1) / (b.0 - a.0));
            }
        }
    }
    if slopes.is_empty() {
        0.0
    } else {
        median(&slopes)
    }
}

/// The pitch of `frame` (16 kHz) by its autocorrelation: the lag between
/// [`FMAX`] and [`FMIN`] where it peaks, if the peak holds at least
/// [`PERIODIC`] of the frame's energy. YIN (`ainima_audio::features`)
/// finds a falling end well but misses the short, quieter rise of a
/// clause that goes on.
fn periodicity(frame: &[f32]) -> Option<f32> {
    let lo = (16_000.0 / FMAX) as usize;
    let hi = (16_000.0 / FMIN) as usize;
    if frame.len() <= hi + 1 {
        return None;
    }
    let mean = frame.iter().sum::<f32>() / frame.len() as f32;
    let x: Vec<f32> = frame.iter().map(|v| v - mean).collect();
    let r0: f32 = x.iter().map(|v| v * v).sum();
    if r0.is_nan() || r0 <= 1e-6 {
        return None;
    }
    let r = |k: usize| {
        x[..x.len() - k]
            .iter()
            .zip(&x[k..])
            .map(|(a, b)| a * b)
            .sum::<f32>()
    };
    let (mut best, mut at) = (f32::NEG_INFINITY, 0);
    for k in lo..=hi {
        let v = r(k);
        if v > best {
            best = v;
            at = k;
        }
    }
    // A peak at the edge of the range is a slope, not a period.
    (best > PERIODIC * r0 && at > lo && at < hi).then(|| 16_000.0 / at as f32)
}

/// The median of `x` (not empty).
fn median(x: &[f32]) -> f32 {
    let mut v = x.to_vec();
    v.sort_by(f32::total_cmp);
    v[v.len() / 2]
}

/// The model's input: `cues` and `prosody` as [`FEATURES`] says, scaled to
/// about one and clipped, so no audio gives a value far outside training.
pub fn features(cues: &Cues, prosody: &Prosody) -> [f32; 12] {
    let b = |x: bool| if x { 1.0 } else { 0.0 };
    let clip = |x: f32, s: f32| {
        if x.is_finite() {
            (x / s).clamp(-3.0, 3.0)
        } else {
            0.0
        }
    };
    [
        b(cues.complete),
        b(cues.parses),
        b(cues.closed),
        b(cues.question),
        b(cues.unfinished),
        b(cues.unreadable),
        b(cues.comma),
        clip(prosody.pitch_slope, 20.0),
        clip(prosody.final_pitch, 6.0),
        clip(prosody.final_rise, 3.0),
        clip(prosody.final_energy, 20.0),
        clip(prosody.final_length, 300.0),
    ]
}

/// A trained end-of-turn model (a model file is this, as JSON).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct EndOfTurn {
    /// `ainima-end-of-turn`.
    pub format: String,
    /// The file's version.
    pub version: u32,
    /// The feature names, as [`FEATURES`].
    pub features: Vec<String>,
    /// Each feature's mean over the training examples.
    pub mean: Vec<f32>,
    /// Each feature's spread (standard deviation, at least 0.01).
    pub scale: Vec<f32>,
    /// The weights of the standardised features.
    pub weights: Vec<f32>,
    /// The bias.
    pub bias: f32,
    /// Words the rules would end the turn on are held (left to the silence
    /// timeout or more words) when the probability is under this.
    pub hold_below: f32,
    /// Words the rules would leave to the silence timeout end the turn
    /// when the probability is over this.
    pub end_above: f32,
}

impl EndOfTurn {
    /// The probability that the user has finished.
    pub fn probability(&self, x: &[f32; 12]) -> f32 {
        let z = x
            .iter()
            .zip(&self.mean)
            .zip(&self.scale)
            .zip(&self.weights)
            .fold(self.bias, |z, (((x, m), s), w)| z + w * (x - m) / s);
        1.0 / (1.0 + libm::expf(-z))
    }

    /// Whether the turn ends now: `rules` is what the rules decided.
    pub fn decide(&self, rules: bool, x: &[f32; 12]) -> (bool, f32) {
        let p = self.probability(x);
        let ends = if rules {
            p >= self.hold_below
        } else {
            p > self.end_above
        };
        (ends, p)
    }

    /// The model as a file.
    pub fn to_bytes(&self) -> Result<Vec<u8>, Error> {
        serde_json::to_vec_pretty(self).map_err(|e| Error::BadModel(e.to_string()))
    }

    /// Reads and checks a model file.
    pub fn from_bytes(bytes: &[u8]) -> Result<EndOfTurn, Error> {
        if bytes.len() > MAX_FILE {
            return Err(Error::BadModel(format!(
                "{} bytes, more than the {MAX_FILE} a model may have",
                bytes.len()
            )));
        }
        let m: EndOfTurn =
            serde_json::from_slice(bytes).map_err(|e| Error::BadModel(e.to_string()))?;
        m.check()?;
        Ok(m)
    }

    /// Whether the model is whole and sane.
    pub fn check(&self) -> Result<(), Error> {
        let bad = |s: String| Err(Error::BadModel(s));
        if self.format != FORMAT {
            return bad(format!("format `{}`, not `{FORMAT}`", self.format));
        }
        if self.version != VERSION {
            return bad(format!(
                "version {}, this build reads {VERSION}",
                self.version
            ));
        }
        if self.features != FEATURES {
            return bad(format!(
                "features {:?}, this build computes {FEATURES:?}",
                self.features
            ));
        }
        let n = FEATURES.len();
        if self.mean.len() != n || self.scale.len() != n || self.weights.len() != n {
            return bad(format!("{n} means, scales and weights needed"));
        }
        let all = self
            .mean
            .iter()
            .chain(&self.scale)
            .chain(&self.weights)
            .chain([&self.bias, &self.hold_below, &self.end_above]);
        if all
            .into_iter()
            .any(|v| !v.is_finite() || v.abs() > MAX_VALUE)
        {
            return bad(format!(
                "a value is not a number within {MAX_VALUE} of zero"
            ));
        }
        if self.scale.iter().any(|&s| s < 0.01) {
            return bad("a scale under 0.01".into());
        }
        if !(0.0..=1.0).contains(&self.hold_below)
            || !(0.0..=1.0).contains(&self.end_above)
            || self.hold_below > self.end_above
        {
            return bad(format!(
                "thresholds {} and {}: need 0 <= hold_below <= end_above <= 1",
                self.hold_below, self.end_above
            ));
        }
        Ok(())
    }
}

/// How the model is trained.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Full-batch gradient steps.
    pub steps: usize,
    /// Step size.
    pub rate: f32,
    /// L2 penalty on the weights.
    pub l2: f32,
    /// At most this share of the held-out finished turns may be held.
    pub hold_share: f32,
    /// At most this share of the held-out unfinished ones may be ended.
    pub end_share: f32,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            steps: 3000,
            rate: 0.5,
            l2: 1e-3,
            hold_share: 0.02,
            end_share: 0.01,
        }
    }
}

/// Trains on `train` (features, finished) and sets the thresholds on
/// `held`: a `hold_below` holding at most `hold_share` of its finished
/// turns, an `end_above` ending fewer than `end_share` of its unfinished
/// ones. Deterministic: the same examples give the same model.
pub fn train(
    train: &[([f32; 12], bool)],
    held: &[([f32; 12], bool)],
    cfg: &TrainConfig,
) -> Result<EndOfTurn, Error> {
    let n = FEATURES.len();
    for (name, set) in [("training", train), ("held-out", held)] {
        if !set.iter().any(|e| e.1) || !set.iter().any(|e| !e.1) {
            return Err(Error::NoData(format!(
                "the {name} examples need finished and unfinished turns"
            )));
        }
    }
    let m = train.len() as f32;
    let mut mean = vec![0.0f32; n];
    for (x, _) in train {
        for i in 0..n {
            mean[i] += x[i] / m;
        }
    }
    let mut scale = vec![0.0f32; n];
    for (x, _) in train {
        for i in 0..n {
            scale[i] += (x[i] - mean[i]) * (x[i] - mean[i]) / m;
        }
    }
    let scale: Vec<f32> = scale.iter().map(|v| v.sqrt().max(0.01)).collect();
    let mut model = EndOfTurn {
        format: FORMAT.into(),
        version: VERSION,
        features: FEATURES.iter().map(|s| (*s).to_string()).collect(),
        mean,
        scale,
        weights: vec![0.0; n],
        bias: 0.0,
        hold_below: 0.5,
        end_above: 0.5,
    };
    for _ in 0..cfg.steps {
        let mut gw = vec![0.0f32; n];
        let mut gb = 0.0f32;
        for (x, y) in train {
            let err = model.probability(x) - if *y { 1.0 } else { 0.0 };
            for (i, g) in gw.iter_mut().enumerate() {
                *g += err * (x[i] - model.mean[i]) / model.scale[i] / m;
            }
            gb += err / m;
        }
        for (w, g) in model.weights.iter_mut().zip(&gw) {
            *w -= cfg.rate * (g + cfg.l2 * *w);
        }
        model.bias -= cfg.rate * gb;
    }
    let mut finished: Vec<f32> = held
        .iter()
        .filter(|e| e.1)
        .map(|e| model.probability(&e.0))
        .collect();
    let mut unfinished: Vec<f32> = held
        .iter()
        .filter(|e| !e.1)
        .map(|e| model.probability(&e.0))
        .collect();
    finished.sort_by(f32::total_cmp);
    unfinished.sort_by(f32::total_cmp);
    // Holding below the k-th lowest finished turn holds k of them.
    let k = (cfg.hold_share * finished.len() as f32).floor() as usize;
    model.hold_below = finished[k.min(finished.len() - 1)];
    // Ending over the k-th highest unfinished one ends fewer than k.
    let k = (cfg.end_share * unfinished.len() as f32).floor() as usize;
    model.end_above = unfinished[unfinished.len() - 1 - k.min(unfinished.len() - 1)];
    if model.end_above < model.hold_below {
        model.end_above = model.hold_below;
    }
    model.check()?;
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hz: impl Fn(f32) -> f32, secs: f32) -> Vec<f32> {
        let mut phase = 0.0f32;
        (0..(secs * 16_000.0) as usize)
            .map(|i| {
                phase += 2.0 * std::f32::consts::PI * hz(i as f32 / 16_000.0) / 16_000.0;
                0.3 * phase.sin()
            })
            .collect()
    }

    #[test]
    fn falling_and_rising_pitch_read_as_such() {
        let check = |hz: &dyn Fn(f32) -> f32, rising: bool| {
            let mut x = tone(hz, 1.0);
            x.extend(vec![0.0; 3200]);
            let p = Prosody::of(&x);
            assert_eq!(p.pitch_slope > 3.0, rising, "{p:?}");
            assert_eq!(p.pitch_slope < -3.0, !rising, "{p:?}");
            assert!((p.final_length - 1000.0).abs() < 40.0, "{p:?}");
        };
        check(&|t| 200.0 - 80.0 * t, false);
        check(&|t| 120.0 + 80.0 * t, true);
    }

    #[test]
    fn silence_and_garbage_give_zeros_not_panics() {
        for x in [
            vec![],
            vec![0.0; 100],
            vec![0.0; 16_000],
            vec![f32::NAN; 16_000],
            vec![1.0; 16_000],
        ] {
            let p = Prosody::of(&x);
            let f = features(&Cues::default(), &p);
            assert!(f.iter().all(|v| v.is_finite()), "{f:?}");
            if x.iter().all(|v| *v == 0.0) {
                assert_eq!(p, Prosody::default());
            }
        }
    }

    fn examples(seed: u64) -> Vec<([f32; 12], bool)> {
        let mut r = crate::draws::SplitMix(seed);
        (0..400)
            .map(|i| {
                let done = i % 2 == 0;
                let cues = Cues {
                    complete: done && r.below(4) > 0,
                    parses: r.below(2) == 0,
                    closed: done || r.below(3) == 0,
                    ..Cues::default()
                };
                let prosody = Prosody {
                    pitch_slope: if done { -10.0 } else { 5.0 } + 8.0 * (r.unit_f32() - 0.5),
                    ..Prosody::default()
                };
                (features(&cues, &prosody), done)
            })
            .collect()
    }

    #[test]
    fn training_learns_separable_cues_and_is_reproducible() {
        let (a, b) = (examples(1), examples(2));
        let m = train(&a, &b, &TrainConfig::default()).expect("model");
        let right = b
            .iter()
            .filter(|(x, y)| (m.probability(x) >= 0.5) == *y)
            .count();
        assert!(right >= 390, "{right} of 400");
        assert_eq!(m, train(&a, &b, &TrainConfig::default()).expect("model"));
        let back = EndOfTurn::from_bytes(&m.to_bytes().expect("bytes")).expect("read");
        assert_eq!(back, m);
    }

    #[test]
    fn damaged_model_files_are_clear_errors() {
        let m = train(&examples(1), &examples(2), &TrainConfig::default()).expect("model");
        let good: serde_json::Value =
            serde_json::from_slice(&m.to_bytes().expect("bytes")).expect("json");
        let check = |edit: &dyn Fn(&mut serde_json::Value), says: &str| {
            let mut v = good.clone();
            edit(&mut v);
            let e = EndOfTurn::from_bytes(v.to_string().as_bytes()).expect_err(says);
            assert!(e.to_string().contains(says), "{e}");
        };
        check(&|v| v["format"] = "x".into(), "format");
        check(&|v| v["version"] = 9.into(), "version");
        check(&|v| v["features"][0] = "y".into(), "features");
        check(&|v| v["weights"] = serde_json::json!([1.0]), "weights");
        check(&|v| v["scale"][3] = 0.0.into(), "scale");
        check(&|v| v["hold_below"] = 1.5.into(), "thresholds");
        check(&|v| v["bias"] = "z".into(), "invalid type");
        check(&|v| v["weights"][2] = 1.0e30.into(), "within");
        assert!(EndOfTurn::from_bytes(b"\xff\x00").is_err());
        assert!(EndOfTurn::from_bytes(&vec![b' '; MAX_FILE + 1]).is_err());
    }
}
