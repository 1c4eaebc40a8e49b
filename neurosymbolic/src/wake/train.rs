//! Training from scratch on clips: windows where the phrase has just
//! ended are positives; other speech, noise, and the phrase cut short or
//! still being said are negatives. Each window is mixed from the clips at
//! a random level over a random background (other speech, noise, near
//! silence). Adam with a linearly decaying step; the epoch scoring best on
//! windows mixed from held-out clips is kept. Everything random comes from
//! the seed.

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::log_sigmoid;
use burn::tensor::{Device, Tensor, TensorData};

use super::net::{Net, Shape};
use super::{Error, Features, Header, Wake, frames, normalise};

/// What to learn from: 16 kHz clips.
#[derive(Debug, Clone, Default)]
pub struct TrainData {
    /// The phrase said, each clip trimmed to the words.
    pub positives: Vec<Vec<f32>>,
    /// Other speech (confusable phrases among it).
    pub negatives: Vec<Vec<f32>>,
    /// Background noise.
    pub noises: Vec<Vec<f32>>,
}

/// How to train.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Seeds the mixing, the order, the initial weights and dropout.
    pub seed: u64,
    /// Passes over the windows.
    pub epochs: usize,
    /// Windows per step.
    pub batch: usize,
    /// Adam's first step size (decays linearly to a tenth).
    pub learning_rate: f64,
    /// Positive windows mixed for training (twice as many negatives).
    pub windows: usize,
    /// Share of the clips held out to pick the epoch.
    pub dev_share: f64,
    /// Fresh negative windows scored halfway (at most three times
    /// `windows`); the highest-scoring sixth join the training set (0:
    /// none).
    pub mine: usize,
    /// The input.
    pub features: Features,
    /// The network.
    pub shape: Shape,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            seed: 2026,
            epochs: 10,
            batch: 64,
            learning_rate: 2e-3,
            windows: 6_000,
            dev_share: 0.1,
            mine: 12_000,
            features: Features::default(),
            shape: Shape::default(),
        }
    }
}

/// Where training is, for a progress bar.
#[derive(Debug, Clone)]
pub struct Progress {
    /// What is being done: "mixing" or "training".
    pub stage: &'static str,
    /// The epoch (from 1; 0 while mixing).
    pub epoch: usize,
    /// Epochs in all.
    pub epochs: usize,
    /// Steps (or windows mixed) done.
    pub step: usize,
    /// Steps (or windows to mix) in all.
    pub steps: usize,
    /// Mean loss of the epoch so far.
    pub loss: f32,
    /// At the end of an epoch: held-out positives found and negatives
    /// taken for the phrase, at a score of 0.5.
    pub dev: Option<(f64, f64)>,
}

use crate::draws::SplitMix as Rng;

/// Root mean square (0 for no samples).
pub fn rms(x: &[f32]) -> f32 {
    (x.iter().map(|v| v * v).sum::<f32>() / x.len().max(1) as f32).sqrt()
}

fn db(x: f32) -> f32 {
    10f32.powf(x / 20.0)
}

/// `clip` played `factor` times as fast (linear interpolation): every
/// frequency scaled by `factor` and the length by its inverse, as a
/// shorter or longer vocal tract would (speed perturbation, Ko et al.,
/// 2015).
fn speed(clip: &[f32], factor: f32) -> Vec<f32> {
    let n = ((clip.len() as f32) / factor) as usize;
    (0..n)
        .map(|i| {
            let x = i as f32 * factor;
            let j = x as usize;
            let f = x - j as f32;
            let a = clip.get(j).copied().unwrap_or(0.0);
            let b = clip.get(j + 1).copied().unwrap_or(a);
            a + (b - a) * f
        })
        .collect()
}

/// Adds `clip` into `out` so that its last sample lands at `end` (samples
/// before `out` begins are dropped), scaled to RMS `level`.
fn place(out: &mut [f32], clip: &[f32], end: isize, level: f32) {
    let g = level / rms(clip).max(1e-6);
    let start = end - clip.len() as isize;
    for (i, &v) in clip.iter().enumerate() {
        let j = start + i as isize;
        if j >= 0 && (j as usize) < out.len() {
            out[j as usize] += v * g;
        }
    }
}

/// What one window is.
#[derive(Clone, Copy)]
enum Kind {
    /// The phrase ends in the last 50 to 500 ms.
    Phrase,
    /// Other speech over the background.
    Speech,
    /// The background alone.
    Background,
    /// The phrase's first 30 to 75 %, ending near the window's end.
    Cut,
}

/// The clips of one split.
struct Clips<'a> {
    positives: Vec<&'a [f32]>,
    negatives: Vec<&'a [f32]>,
    noises: Vec<&'a [f32]>,
}

/// Mixes one window of `len` samples.
fn mix(kind: Kind, clips: &Clips<'_>, len: usize, rng: &mut Rng) -> Vec<f32> {
    let sr = super::SAMPLE_RATE as f32;
    let mut out = vec![0.0f32; len];
    let level = db(rng.range(-38.0, -14.0));
    // The background, somewhere from 3 to 30 dB under the words (as loud
    // as they would be when it is alone).
    let under = if matches!(kind, Kind::Background) {
        1.0
    } else {
        db(-rng.range(3.0, 30.0))
    };
    let bg = rng.unit_f32();
    if bg < 0.35 && !clips.negatives.is_empty() {
        let c = clips.negatives[rng.below(clips.negatives.len())];
        let end = rng.below(len + c.len()) as isize;
        place(&mut out, c, end, level * under);
    } else if bg < 0.75 && !clips.noises.is_empty() {
        let c = clips.noises[rng.below(clips.noises.len())];
        let off = rng.below(c.len().saturating_sub(len).max(1));
        let part = &c[off..(off + len).min(c.len())];
        place(&mut out, part, part.len() as isize, level * under);
    } else {
        let a = db(-rng.range(60.0, 80.0));
        for v in out.iter_mut() {
            *v += a * rng.gaussian();
        }
    }
    let tail = |rng: &mut Rng| len as isize - (rng.range(0.05, 0.5) * sr) as isize;
    match kind {
        Kind::Phrase => {
            let c = &speed(
                clips.positives[rng.below(clips.positives.len())],
                rng.range(0.82, 1.22),
            );
            let end = tail(rng);
            place(&mut out, c, end, level);
            // One in three goes on talking after it ("hey ainima, what
            // time is it"), 50 to 300 ms later.
            if rng.unit_f32() < 0.33 && !clips.negatives.is_empty() {
                let next = clips.negatives[rng.below(clips.negatives.len())];
                let from = end + (rng.range(0.05, 0.3) * sr) as isize;
                place(&mut out, next, from + next.len() as isize, level);
            }
        }
        Kind::Cut => {
            let c = &speed(
                clips.positives[rng.below(clips.positives.len())],
                rng.range(0.82, 1.22),
            );
            let keep = ((c.len() as f32) * rng.range(0.3, 0.75)) as usize;
            place(&mut out, &c[..keep.max(1)], tail(rng), level);
        }
        Kind::Speech => {
            if !clips.negatives.is_empty() {
                let c = &speed(
                    clips.negatives[rng.below(clips.negatives.len())],
                    rng.range(0.82, 1.22),
                );
                let end = if rng.unit_f32() < 0.5 {
                    tail(rng)
                } else {
                    rng.below(len + c.len()) as isize
                };
                place(&mut out, c, end, level);
            }
        }
        Kind::Background => {}
    }
    out
}

/// The network's input and labels for `n` positive windows and twice as
/// many negatives.
fn windows(
    clips: &Clips<'_>,
    f: &Features,
    n: usize,
    masks: bool,
    rng: &mut Rng,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Vec<f32>, Vec<f32>), Error> {
    mixed(clips, f, 3 * n, masks, false, rng, progress)
}

/// `total` windows: a third of them the phrase, unless `negatives_only`.
fn mixed(
    clips: &Clips<'_>,
    f: &Features,
    total: usize,
    masks: bool,
    negatives_only: bool,
    rng: &mut Rng,
    progress: &mut dyn FnMut(usize, usize),
) -> Result<(Vec<f32>, Vec<f32>), Error> {
    let mut mel = f.mel()?;
    let len = f.window_samples();
    let mut input = Vec::with_capacity(total * f.n_mels * f.window);
    let mut labels = Vec::with_capacity(total);
    for i in 0..total {
        // A third the phrase, four ninths other speech, a sixth noise; the
        // phrase cut short one in eighteen (more teaches it to wait for
        // one way of saying its end).
        let kind = match i % 18 {
            0 | 3 | 6 | 9 | 12 | 15 if !negatives_only => Kind::Phrase,
            2 => Kind::Cut,
            5 | 8 | 17 => Kind::Background,
            _ => Kind::Speech,
        };
        let samples = mix(kind, clips, len, rng);
        let (fr, _) = frames(&mut mel, f, &samples);
        let from = input.len();
        normalise(&fr, f, &mut input);
        if masks {
            mask(&mut input[from..], f, rng);
        }
        labels.push(if matches!(kind, Kind::Phrase) {
            1.0
        } else {
            0.0
        });
        if i % 256 == 0 {
            progress(i, total);
        }
    }
    Ok((input, labels))
}

/// SpecAugment's masks (Park et al., 2019) on one band-major window: up
/// to 5 neighbouring bands and up to 6 neighbouring frames set to the
/// floor, each one time in two.
fn mask(x: &mut [f32], f: &Features, rng: &mut Rng) {
    let (bands, frames) = (f.n_mels, f.window);
    if rng.unit_f32() < 0.5 {
        let w = rng.below(6);
        let b0 = rng.below(bands.saturating_sub(w).max(1));
        for b in b0..(b0 + w).min(bands) {
            x[b * frames..(b + 1) * frames].fill(-1.0);
        }
    }
    if rng.unit_f32() < 0.5 {
        let w = rng.below(7);
        let t0 = rng.below(frames.saturating_sub(w).max(1));
        for b in 0..bands {
            x[b * frames + t0..b * frames + (t0 + w).min(frames)].fill(-1.0);
        }
    }
}

/// Splits `v` into held-out and training parts, the held-out share first.
fn split<'a>(v: &'a [Vec<f32>], share: f64, rng: &mut Rng) -> (Vec<&'a [f32]>, Vec<&'a [f32]>) {
    let mut idx: Vec<usize> = (0..v.len()).collect();
    rng.shuffle(&mut idx);
    let k = ((v.len() as f64 * share.clamp(0.0, 0.5)) as usize).min(v.len().saturating_sub(1));
    let dev = idx[..k].iter().map(|&i| &v[i][..]).collect();
    let train = idx[k..].iter().map(|&i| &v[i][..]).collect();
    (dev, train)
}

/// Trains a model listening for `phrase` on `data`, calling `progress`
/// as it goes.
pub fn train(
    data: &TrainData,
    phrase: &str,
    cfg: &TrainConfig,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Wake, Error> {
    if data.positives.len() < 2 {
        return Err(Error::NoData("at least two clips of the phrase".into()));
    }
    if data.negatives.is_empty() && data.noises.is_empty() {
        return Err(Error::NoData("no other speech and no noise".into()));
    }
    let f = cfg.features.clone();
    let header = Header {
        phrase: phrase.trim().to_string(),
        features: f.clone(),
        shape: cfg.shape.clone(),
        threshold: 0.5,
    };
    super::check(&header)?;
    let mut rng = Rng(cfg.seed);
    let (dp, tp) = split(&data.positives, cfg.dev_share, &mut rng);
    let (dn, tn) = split(&data.negatives, cfg.dev_share, &mut rng);
    let (dz, tz) = split(&data.noises, cfg.dev_share, &mut rng);
    let train_clips = Clips {
        positives: tp,
        negatives: tn,
        noises: tz,
    };
    let dev_clips = Clips {
        positives: if dp.is_empty() {
            train_clips.positives.clone()
        } else {
            dp
        },
        negatives: dn,
        noises: if dz.is_empty() {
            train_clips.noises.clone()
        } else {
            dz
        },
    };
    let n = cfg.windows.max(1);
    let n_dev = (n / 8).max(1);
    let steps_mix = 3 * (n + n_dev);
    let mixing = |step: usize, steps: usize| Progress {
        stage: "mixing",
        epoch: 0,
        epochs: cfg.epochs,
        step,
        steps,
        loss: 0.0,
        dev: None,
    };
    let (mut x, mut y) = windows(&train_clips, &f, n, true, &mut rng, &mut |i, _| {
        progress(&mixing(i, steps_mix))
    })?;
    let (dx, dy) = windows(&dev_clips, &f, n_dev, false, &mut rng, &mut |i, _| {
        progress(&mixing(3 * n + i, steps_mix))
    })?;
    // burn's generator (initial weights, dropout) is one for the process:
    // one training at a time, so each follows its own seed alone.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let plain = Device::flex();
    let device = plain.clone().autodiff();
    device.seed(cfg.seed);
    let mut net = Net::new(&cfg.shape, f.n_mels, &device);
    let mut optim = AdamConfig::new().init();
    let per = f.n_mels * f.window;
    let batch = cfg.batch.max(1);
    // Fresh negative windows mined halfway: at most three times the
    // positive windows (a small run mines little).
    let mine = cfg.mine.min(3 * n);
    let steps = (y.len() + mine / 6).div_ceil(batch) * cfg.epochs.max(1);
    let mut step = 0;
    let mut best: Option<(f64, Net)> = None;
    for epoch in 1..=cfg.epochs.max(1) {
        // Halfway, the negatives the network finds hardest join the set
        // (hard negative mining): of `mine` fresh negative windows, the
        // highest-scoring sixth.
        if epoch == cfg.epochs.max(1) / 2 + 1 && mine > 0 {
            let (mx, _) = mixed(&train_clips, &f, mine, true, true, &mut rng, &mut |i, t| {
                progress(&Progress {
                    stage: "mining",
                    epoch,
                    epochs: cfg.epochs,
                    step: i,
                    steps: t,
                    loss: 0.0,
                    dev: None,
                })
            })?;
            let now = Wake::from_parts(header.clone(), net.valid(), plain.clone());
            let mut scored: Vec<(f32, usize)> = mx
                .chunks(per * 256)
                .flat_map(|c| now.score(c))
                .enumerate()
                .map(|(i, s)| (s, i))
                .collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            for &(_, i) in scored.iter().take(mine / 6) {
                x.extend_from_slice(&mx[i * per..(i + 1) * per]);
                y.push(0.0);
            }
        }
        let per_epoch = y.len().div_ceil(batch);
        let mut idx: Vec<usize> = (0..y.len()).collect();
        rng.shuffle(&mut idx);
        let mut total = 0.0f32;
        for (k, chunk) in idx.chunks(batch).enumerate() {
            let mut xs = Vec::with_capacity(chunk.len() * per);
            for &i in chunk {
                xs.extend_from_slice(&x[i * per..(i + 1) * per]);
            }
            let ys: Vec<f32> = chunk.iter().map(|&i| y[i]).collect();
            let b = chunk.len();
            let input =
                Tensor::<3>::from_data(TensorData::new(xs, [b, f.n_mels, f.window]), &device);
            let target = Tensor::<1>::from_data(TensorData::new(ys, [b]), &device);
            let z = net.forward(input);
            let loss = -(target.clone() * log_sigmoid(z.clone())
                + (target.neg() + 1.0) * log_sigmoid(z.neg()))
            .mean();
            total += loss
                .clone()
                .into_data()
                .convert::<f32>()
                .try_into_vec::<f32>()
                .map_or(0.0, |v| v[0]);
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            let lr = cfg.learning_rate * (1.0 - 0.9 * step as f64 / steps as f64);
            net = optim.step(lr, net, grads);
            step += 1;
            progress(&Progress {
                stage: "training",
                epoch,
                epochs: cfg.epochs,
                step,
                steps,
                loss: total / (k + 1) as f32,
                dev: None,
            });
        }
        let wake = Wake::from_parts(header.clone(), net.valid(), plain.clone());
        let scores = wake.score(&dx);
        let (mut tp, mut pos, mut tn, mut neg) = (0usize, 0usize, 0usize, 0usize);
        for (s, l) in scores.iter().zip(&dy) {
            if *l > 0.5 {
                pos += 1;
                tp += usize::from(*s >= 0.5);
            } else {
                neg += 1;
                tn += usize::from(*s < 0.5);
            }
        }
        let recall = tp as f64 / pos.max(1) as f64;
        let specificity = tn as f64 / neg.max(1) as f64;
        progress(&Progress {
            stage: "training",
            epoch,
            epochs: cfg.epochs,
            step,
            steps,
            loss: total / per_epoch as f32,
            dev: Some((recall, 1.0 - specificity)),
        });
        // A false alarm costs more than a miss: the score counts them twice.
        let score = recall + 2.0 * specificity;
        if best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((score, net.valid()));
        }
    }
    let kept = best.map_or_else(|| net.valid(), |(_, n)| n);
    Ok(Wake::from_parts(header, kept, plain))
}
