//! Training from scratch: Adam with a linearly decaying step, word dropout,
//! and the epoch scoring best on a held-out share of the training sentences
//! kept, or the average of the last epochs' weights if it scores better. Everything random comes from the seed: the split, the order, the
//! initial weights, dropout.

use ainima_fallbacks::snips::Example;
use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};

use super::features::{Encoded, Lexicon, UNK};
use super::net::{Net, NetConfig, Shape};
use super::{Error, Nlu, batch, evaluate};

/// How to train.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Seeds the split, the order, the initial weights and dropout.
    pub seed: u64,
    /// Passes over the training sentences.
    pub epochs: usize,
    /// Sentences per step.
    pub batch: usize,
    /// Adam's first step size (decays linearly to a tenth).
    pub learning_rate: f64,
    /// Share of the sentences held out to pick the best epoch (0: keep the
    /// last).
    pub dev_share: f64,
    /// A word enters the vocabulary when seen this often.
    pub min_count: u32,
    /// Character n-gram hash buckets.
    pub ngram_buckets: u32,
    /// Chance a known word is read as unknown while training.
    pub word_dropout: f64,
    /// How much tag bigrams count beside the network's scores when
    /// decoding.
    pub transition_weight: f32,
    /// The network's widths.
    pub shape: Shape,
    /// The weights of this many last epochs are also averaged (0: not);
    /// the average is kept if it scores better on the held-out share than
    /// the best single epoch.
    pub average_last: usize,
}

impl TrainConfig {
    /// How many of `sentences` training sentences are held out to pick the
    /// epoch (never all of them).
    pub fn held_out(&self, sentences: usize) -> usize {
        ((sentences as f64 * self.dev_share.clamp(0.0, 0.5)) as usize)
            .min(sentences.saturating_sub(1))
    }
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            seed: 2026,
            epochs: 12,
            batch: 32,
            learning_rate: 2e-3,
            dev_share: 0.05,
            min_count: 2,
            ngram_buckets: 4096,
            word_dropout: 0.1,
            transition_weight: 0.25,
            shape: Shape::default(),
            average_last: 4,
        }
    }
}

/// Where training is, for a progress bar.
#[derive(Debug, Clone)]
pub struct Progress {
    /// The epoch (from 1).
    pub epoch: usize,
    /// Epochs in all.
    pub epochs: usize,
    /// Steps done in all.
    pub step: usize,
    /// Steps in all.
    pub steps: usize,
    /// Mean loss of the epoch so far.
    pub loss: f32,
    /// At the end of an epoch: held-out intent accuracy and slot F1.
    pub dev: Option<(f64, f64)>,
}

fn nll(logits: Tensor<2>, targets: Vec<i64>, device: &Device) -> Tensor<1> {
    let n = targets.len();
    let t = Tensor::<1, Int>::from_data(TensorData::new(targets, [n]), device);
    -log_softmax(logits, 1).gather(1, t.unsqueeze_dim(1)).mean()
}

/// Trains a model on `examples`, calling `progress` after every step.
pub fn train(
    examples: &[Example],
    cfg: &TrainConfig,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Nlu, Error> {
    if examples.is_empty() {
        return Err(Error::NoData("the training set is empty".into()));
    }
    let mut rng = crate::draws::SplitMix(cfg.seed);
    let mut order: Vec<usize> = (0..examples.len()).collect();
    rng.shuffle(&mut order);
    let n_dev = cfg.held_out(examples.len());
    let dev: Vec<Example> = order[..n_dev]
        .iter()
        .map(|&i| examples[i].clone())
        .collect();
    let train_set: Vec<&Example> = order[n_dev..].iter().map(|&i| &examples[i]).collect();
    let owned: Vec<Example> = train_set.iter().map(|e| (*e).clone()).collect();
    let lexicon = Lexicon::learn(&owned, cfg.min_count, cfg.ngram_buckets);
    let mut data: Vec<(Encoded, usize, Vec<usize>)> = Vec::with_capacity(train_set.len());
    for e in &train_set {
        let Some((intent, ws, tags)) = lexicon.label(e) else {
            continue;
        };
        if ws.is_empty() {
            continue;
        }
        let enc = lexicon.encode(&e.text(), &ws, &lexicon.own_values(e));
        data.push((enc, intent, tags));
    }
    if data.is_empty() {
        return Err(Error::NoData("no sentence has words".into()));
    }
    let mut lexicon = lexicon;
    let sentences: Vec<&[usize]> = data.iter().map(|d| &d.2[..]).collect();
    lexicon.learn_transitions(&sentences, 0.1);
    lexicon.transition_weight = cfg.transition_weight;
    let config = NetConfig {
        shape: cfg.shape.clone(),
        vocab: lexicon.vocab_size(),
        ngram_buckets: lexicon.ngram_buckets as usize,
        features: lexicon.features(),
        intents: lexicon.intents.len(),
        tags: lexicon.tags(),
    };
    // burn's generator (initial weights, dropout) is one for the process:
    // one training at a time, so each follows its own seed alone.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _turn = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let plain = Device::flex();
    let device = plain.clone().autodiff();
    device.seed(cfg.seed);
    let mut net = Net::new(&config, &device);
    let mut optim = AdamConfig::new().init();
    let per_epoch = data.len().div_ceil(cfg.batch.max(1));
    let steps = per_epoch * cfg.epochs.max(1);
    let mut step = 0;
    let mut best: Option<(f64, Net)> = None;
    let mut last: Vec<Net> = Vec::new();
    let features = lexicon.features();
    for epoch in 1..=cfg.epochs.max(1) {
        let mut idx: Vec<usize> = (0..data.len()).collect();
        rng.shuffle(&mut idx);
        let mut total = 0.0f32;
        for (k, chunk) in idx.chunks(cfg.batch.max(1)).enumerate() {
            let mut items: Vec<Encoded> = chunk.iter().map(|&i| data[i].0.clone()).collect();
            for e in &mut items {
                for w in &mut e.words {
                    if rng.unit() < cfg.word_dropout {
                        *w = UNK;
                    }
                }
            }
            let refs: Vec<&Encoded> = items.iter().collect();
            let b = batch(&refs, features, &device);
            let (intent, slot) = net.forward(&b);
            let intents: Vec<i64> = chunk.iter().map(|&i| data[i].1 as i64).collect();
            let tags: Vec<i64> = chunk
                .iter()
                .flat_map(|&i| data[i].2.iter().map(|&t| t as i64))
                .collect();
            let loss = nll(intent, intents, &device) + nll(slot, tags, &device);
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
                epoch,
                epochs: cfg.epochs,
                step,
                steps,
                loss: total / (k + 1) as f32,
                dev: None,
            });
        }
        let dev_score = (!dev.is_empty()).then(|| {
            let nlu = Nlu::from_parts(config.clone(), lexicon.clone(), net.valid(), plain.clone());
            let r = evaluate(&nlu, &dev);
            (r.intent_accuracy, r.slot_f1)
        });
        progress(&Progress {
            epoch,
            epochs: cfg.epochs,
            step,
            steps,
            loss: total / per_epoch as f32,
            dev: dev_score,
        });
        let score = dev_score.map_or(epoch as f64, |(a, f)| a + f);
        if best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((score, net.valid()));
        }
        if epoch + cfg.average_last > cfg.epochs.max(1) {
            last.push(net.valid());
        }
    }
    let mut kept = best.unwrap_or_else(|| (f64::MIN, net.valid()));
    if last.len() > 1 && !dev.is_empty() {
        let averaged = average(&last, &plain);
        let nlu = Nlu::from_parts(
            config.clone(),
            lexicon.clone(),
            averaged.clone(),
            plain.clone(),
        );
        let r = evaluate(&nlu, &dev);
        if r.intent_accuracy + r.slot_f1 > kept.0 {
            kept = (r.intent_accuracy + r.slot_f1, averaged);
        }
    }
    Ok(Nlu::from_parts(config, lexicon, kept.1, plain))
}

/// The element-wise mean of `nets`' weights (the same shape each), summed
/// in the nets' order.
fn average(nets: &[Net], device: &Device) -> Net {
    struct Collect(Vec<(Vec<f32>, burn::tensor::Shape)>);
    impl burn::module::ModuleVisitor for Collect {
        fn visit_float<const D: usize>(&mut self, param: &burn::module::Param<Tensor<D>>) {
            let t = param.val();
            let shape = t.shape();
            let v = t
                .into_data()
                .convert::<f32>()
                .try_to_vec::<f32>()
                .unwrap_or_default();
            self.0.push((v, shape));
        }
    }
    struct Put<'a> {
        values: std::slice::Iter<'a, (Vec<f32>, burn::tensor::Shape)>,
        device: &'a Device,
    }
    impl burn::module::ModuleMapper for Put<'_> {
        fn map_float<const D: usize>(
            &mut self,
            param: burn::module::Param<Tensor<D>>,
        ) -> burn::module::Param<Tensor<D>> {
            let (id, value, _) = param.consume();
            let value = match self.values.next() {
                Some((v, shape)) => {
                    Tensor::from_data(TensorData::new(v.clone(), shape.clone()), self.device)
                }
                None => value,
            };
            burn::module::Param::initialized(id, value)
        }
    }
    let mut sum: Vec<(Vec<f32>, burn::tensor::Shape)> = Vec::new();
    for n in nets {
        let mut c = Collect(Vec::new());
        n.visit(&mut c);
        if sum.is_empty() {
            sum = c.0;
        } else {
            for ((acc, _), (v, _)) in sum.iter_mut().zip(c.0) {
                acc.iter_mut().zip(v).for_each(|(a, x)| *a += x);
            }
        }
    }
    let k = nets.len().max(1) as f32;
    for (v, _) in &mut sum {
        v.iter_mut().for_each(|a| *a /= k);
    }
    nets[0].clone().map(&mut Put {
        values: sum.iter(),
        device,
    })
}
