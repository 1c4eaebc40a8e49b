//! The wake word model on clips made here: a rising chirp is "the phrase",
//! falling chirps and tones are other sounds. Training is reproducible
//! from its seed; a model reads back as it was written; the streaming
//! detector finds what the whole-recording scorer finds, block size
//! whatever; damaged files are errors.

use std::sync::Arc;

use ainima_neurosymbolic::wake::{self, Detector, TrainConfig, TrainData, Wake};

const SR: f32 = 16_000.0;

fn chirp(f0: f32, f1: f32, secs: f32) -> Vec<f32> {
    let n = (secs * SR) as usize;
    let mut phase = 0.0f32;
    (0..n)
        .map(|i| {
            let f = f0 + (f1 - f0) * i as f32 / n as f32;
            phase += 2.0 * std::f32::consts::PI * f / SR;
            0.3 * phase.sin()
        })
        .collect()
}

fn data() -> TrainData {
    let mut d = TrainData::default();
    for k in 0..12 {
        let s = 0.5 + 0.03 * k as f32;
        d.positives.push(chirp(300.0 + 20.0 * k as f32, 1500.0, s));
        d.negatives.push(chirp(1500.0, 300.0 + 20.0 * k as f32, s));
        d.negatives
            .push(chirp(700.0 + 50.0 * k as f32, 700.0 + 50.0 * k as f32, s));
    }
    let mut x = 1u32;
    d.noises.push(
        (0..(3.0 * SR) as usize)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                (x as f32 / u32::MAX as f32 - 0.5) * 0.2
            })
            .collect(),
    );
    d
}

fn small() -> TrainConfig {
    TrainConfig {
        windows: 300,
        epochs: 4,
        ..TrainConfig::default()
    }
}

fn trained() -> Wake {
    wake::train(&data(), "rising chirp", &small(), &mut |_| {}).expect("trains")
}

#[test]
fn the_same_seed_gives_the_same_model_bytes() {
    let a = trained().to_bytes().expect("bytes");
    let b = trained().to_bytes().expect("bytes");
    assert_eq!(a, b);
    let c = wake::train(
        &data(),
        "rising chirp",
        &TrainConfig { seed: 7, ..small() },
        &mut |_| {},
    )
    .expect("trains")
    .to_bytes()
    .expect("bytes");
    assert_ne!(a, c);
}

#[test]
fn the_streaming_detector_finds_what_the_recording_scorer_finds() {
    let model = trained();
    let bytes = model.to_bytes().expect("bytes");
    let back = Wake::from_bytes(&bytes).expect("reads back");
    assert_eq!(back.header(), model.header());
    // Silence, the phrase, a falling chirp, the phrase again, with
    // silences longer than a window between them (windows not scored).
    let mut x = vec![0.0; 16_000];
    x.extend(chirp(300.0, 1500.0, 0.6));
    x.extend(vec![0.0; 40_000]);
    x.extend(chirp(1500.0, 300.0, 0.6));
    x.extend(vec![0.0; 40_000]);
    x.extend(chirp(320.0, 1500.0, 0.55));
    x.extend(vec![0.0; 40_000]);
    let scores = model.score_recording(&x).expect("scores");
    assert_eq!(scores, back.score_recording(&x).expect("scores"));
    assert!(
        scores.iter().filter(|s| s.1 == 0.0).count() > 10,
        "no window was left unscored"
    );
    // A threshold that two scorings in a row reach somewhere.
    let best = scores
        .windows(2)
        .map(|w| w[0].1.min(w[1].1))
        .fold(0.0f32, f32::max);
    let mut model = model;
    model.set_threshold(best * 0.9);
    let found = model.detect_recording(&x).expect("detects");
    assert!(!found.is_empty(), "{scores:?}");
    let model = Arc::new(model);
    for block in [160, 320, 1000, 4096] {
        let mut det = Detector::new(model.clone()).expect("a detector");
        let mut got = Vec::new();
        for b in x.chunks(block) {
            det.push(b, &mut got);
        }
        assert_eq!(got.len(), found.len(), "blocks of {block}");
        for (g, f) in got.iter().zip(&found) {
            assert_eq!(g.at, f.at, "blocks of {block}");
            assert!((g.score - f.score).abs() < 1e-4, "{g:?} {f:?}");
        }
    }
}

#[test]
fn damaged_model_files_and_empty_training_sets_are_errors() {
    let bytes = trained().to_bytes().expect("bytes");
    let check = |b: &[u8], expect: &str| {
        let e = Wake::from_bytes(b).expect_err("damaged");
        assert!(e.to_string().contains(expect), "{e}");
    };
    check(&[], "wrong magic");
    check(&bytes[..20], "truncated");
    check(&bytes[..bytes.len() / 2], "weights");
    let mut v = bytes.clone();
    v[12] = 9;
    check(&v, "version 9");
    // Every byte of the header flipped in turn: an error or a model, never
    // a panic.
    for i in 12..(24 + 200).min(bytes.len()) {
        let mut v = bytes.clone();
        v[i] ^= 0x5a;
        let _ = Wake::from_bytes(&v);
    }
    assert!(matches!(
        wake::train(&TrainData::default(), "x", &small(), &mut |_| {}),
        Err(wake::Error::NoData(_))
    ));
}
