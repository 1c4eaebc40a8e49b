//! Criterion benchmarks of the front end's stages, on one core:
//! `cargo bench -p ainima-audio --bench frontend`. Uses the shared recordings
//! when `AINIMA_DATA_DIR` (or `../shared/data`) has them, else synthetic audio.
//! The side-by-side comparison with peers is `ainima bench audio`.

use std::path::PathBuf;

use ainima_audio::aec::{AecConfig, EchoCanceller};
use ainima_audio::endpoint::{Config, segments};
use ainima_audio::resample::StreamResampler;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn speech_16k() -> Vec<f32> {
    let dir = std::env::var_os("AINIMA_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data"));
    let jfk = dir.join("speech/whisper_cpp/jfk.wav");
    match ainima_audio::decode::load_16k_mono(&jfk) {
        Ok(x) => x,
        Err(_) => {
            // Synthetic stand-in: bursts of a harmonic tone in noise.
            let mut rng = ainima_audio::room::Rng::new(1);
            (0..16_000 * 11)
                .map(|i| {
                    let on = (i / 8_000) % 2 == 0;
                    let t = i as f32 / 16_000.0;
                    let v = if on {
                        (t * 2.0 * std::f32::consts::PI * 180.0).sin() * 0.3
                    } else {
                        0.0
                    };
                    v + rng.gaussian() * 0.001
                })
                .collect()
        }
    }
}

fn bench(c: &mut Criterion) {
    let x = speech_16k();
    let mut g = c.benchmark_group("frontend");
    g.throughput(Throughput::Elements(x.len() as u64));
    g.bench_function("vad_endpointer_10ms", |b| {
        b.iter(|| segments(&x, &Config::default()).unwrap())
    });
    let x48 = ainima_audio::resample::resample(&x, 16_000, 48_000).unwrap();
    g.bench_function("resample_48k_to_16k", |b| {
        b.iter(|| {
            let mut r = StreamResampler::new(48_000, 16_000).unwrap();
            let mut n = 0;
            for block in x48.chunks(480) {
                r.push(block, &mut |y| n += y.len()).unwrap();
            }
            n
        })
    });
    let n = x.len() / 160 * 160;
    let reference: Vec<f32> = x[..n].to_vec();
    let mic: Vec<f32> = reference.iter().map(|v| v * 0.5).collect();
    let mut out = vec![0.0; n];
    g.bench_function("echo_canceller", |b| {
        b.iter(|| {
            let mut aec = EchoCanceller::new(AecConfig::default()).unwrap();
            aec.process(&mic, &reference, &mut out).unwrap();
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
