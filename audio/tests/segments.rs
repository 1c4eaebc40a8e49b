//! The endpointer on real recordings: every spoken word inside a segment,
//! and nothing found in silence or noise. Needs the shared speech data.

mod common;

use ainima_audio::decode::load_16k_mono;
use ainima_audio::endpoint::{Config, Utterance, segments};
use ainima_audio::frame::energy_dbfs;
use ainima_audio::room::Rng;

fn secs(s: u64) -> f64 {
    s as f64 / 16_000.0
}

/// 10 ms frames within 20 dB of the recording's loudest frame and 20 dB
/// above its noise floor (the 10th percentile of frame energies), in runs of
/// at least 30 ms (a lone loud frame is a click, not a word): where the words
/// are, measured independently of the VAD.
fn loud_frames(x: &[f32]) -> (Vec<usize>, Vec<f32>) {
    let e: Vec<f32> = x.chunks(160).map(energy_dbfs).collect();
    let peak = e.iter().copied().fold(f32::MIN, f32::max);
    let mut sorted = e.clone();
    sorted.sort_by(f32::total_cmp);
    let floor = sorted[sorted.len() / 10];
    let threshold = (peak - 20.0).max(floor + 20.0);
    let loud: Vec<bool> = e.iter().map(|v| *v >= threshold).collect();
    let mut frames = Vec::new();
    let mut i = 0;
    while i < loud.len() {
        let run = loud[i..].iter().take_while(|l| **l).count();
        if run >= 3 {
            frames.extend(i..i + run);
        }
        i += run.max(1);
    }
    (frames, e)
}

fn covered(segs: &[Utterance], frame: usize) -> bool {
    let (a, b) = (frame as u64 * 160, frame as u64 * 160 + 160);
    segs.iter().any(|u| u.start < b && u.end > a)
}

#[test]
fn segments_cover_the_spoken_words_of_every_recording() {
    let Some(dir) = common::data_dir() else {
        return;
    };
    let cfg = Config::default();
    let mut report = String::new();
    let mut failures = Vec::new();
    let recs = common::recordings(&dir);
    assert_eq!(recs.len(), 42, "the manifest lists 42 recordings");
    for r in recs {
        let x = load_16k_mono(&r.path).unwrap_or_else(|e| panic!("{}: {e}", r.rel));
        let expected = (r.duration * 16_000.0).round() as i64;
        assert!(
            (x.len() as i64 - expected).abs() <= 16,
            "{}: {} samples, manifest says {}",
            r.rel,
            x.len(),
            expected
        );
        let segs = segments(&x, &cfg).unwrap();
        let (loud, energy) = loud_frames(&x);
        let missed: Vec<usize> = loud
            .iter()
            .copied()
            .filter(|&f| !covered(&segs, f))
            .collect();
        if segs.is_empty() || !missed.is_empty() {
            failures.push(format!(
                "{}: {} of {} loud frames outside segments: {}",
                r.rel,
                missed.len(),
                loud.len(),
                missed
                    .iter()
                    .map(|&f| format!("{:.2} s ({:.0} dB)", f as f64 / 100.0, energy[f]))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let list: Vec<String> = segs
            .iter()
            .map(|u| format!("{:.2}-{:.2}", secs(u.start), secs(u.end)))
            .collect();
        report.push_str(&format!("{}\t{}\n", r.rel, list.join(" ")));
    }
    assert!(
        failures.is_empty(),
        "words not covered:\n{}",
        failures.join("\n")
    );
    // The exact boundaries are a regression snapshot: a change shows up here.
    common::check_snapshot("segments.tsv", &report);
}

#[test]
fn jfk_is_covered_from_before_0_6_s_to_after_10_s() {
    let Some(dir) = common::data_dir() else {
        return;
    };
    let x = load_16k_mono(&dir.join("speech/whisper_cpp/jfk.wav")).unwrap();
    let segs = segments(&x, &Config::default()).unwrap();
    let first = segs.first().expect("a segment");
    let last = segs.last().unwrap();
    assert!(secs(first.start) < 0.6, "starts at {}", secs(first.start));
    assert!(secs(last.end) > 10.0, "ends at {}", secs(last.end));
    // No gap longer than a pause between phrases.
    for w in segs.windows(2) {
        assert!(
            secs(w[1].start - w[0].end) < 1.0,
            "gap {:.2}-{:.2}",
            secs(w[0].end),
            secs(w[1].start)
        );
    }
}

#[test]
fn silence_and_noise_at_minus_30_dbfs_give_no_segment() {
    let cfg = Config::default();
    assert!(
        segments(&vec![0.0; 16_000 * 10], &cfg).unwrap().is_empty(),
        "digital silence"
    );
    let amp = 10f32.powf(-30.0 / 20.0);
    for seed in 1..=5 {
        let mut rng = Rng::new(seed);
        // Uniform noise scaled to -30 dBFS RMS, and Gaussian noise of the same RMS.
        let uniform: Vec<f32> = (0..16_000 * 10)
            .map(|_| rng.uniform() * amp * 3f32.sqrt())
            .collect();
        let gaussian: Vec<f32> = (0..16_000 * 10).map(|_| rng.gaussian() * amp).collect();
        assert!((energy_dbfs(&uniform) + 30.0).abs() < 0.2);
        assert!((energy_dbfs(&gaussian) + 30.0).abs() < 0.2);
        assert_eq!(
            segments(&uniform, &cfg).unwrap(),
            vec![],
            "uniform white noise, seed {seed}"
        );
        assert_eq!(
            segments(&gaussian, &cfg).unwrap(),
            vec![],
            "gaussian white noise, seed {seed}"
        );
    }
}

#[test]
fn segmenting_is_deterministic_and_block_size_independent() {
    let Some(dir) = common::data_dir() else {
        return;
    };
    let x = load_16k_mono(&dir.join("speech/leopard/diarization_test.wav")).unwrap();
    let whole = segments(&x, &Config::default()).unwrap();
    let mut seg = ainima_audio::endpoint::Segmenter::new(Config::default()).unwrap();
    let mut streamed = Vec::new();
    let mut sink = |e| {
        if let ainima_audio::endpoint::EndpointEvent::SpeechEnd(u) = e {
            streamed.push(u)
        }
    };
    for block in x.chunks(777) {
        seg.push(block, &mut sink).unwrap();
    }
    seg.finish(&mut sink).unwrap();
    assert_eq!(whole, streamed);
    assert_eq!(whole, segments(&x, &Config::default()).unwrap());
}
