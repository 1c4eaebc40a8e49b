//! Decoding: every format on real audio, and a corpus of bad files that must
//! give clear errors and never panic.

mod common;

use std::io::Cursor;

use ainima_audio::Error;
use ainima_audio::decode::{DecodeLimits, decode_bytes, decode_file};

fn wav(spec: hound::WavSpec, frames: usize, sample: impl Fn(usize) -> f32) -> Vec<u8> {
    let mut cur = Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut cur, spec).unwrap();
    for i in 0..frames * spec.channels as usize {
        match spec.sample_format {
            hound::SampleFormat::Float => w.write_sample(sample(i)).unwrap(),
            hound::SampleFormat::Int => w.write_sample((sample(i) * 32767.0) as i16).unwrap(),
        }
    }
    w.finalize().unwrap();
    cur.into_inner()
}

fn pcm16(rate: u32, channels: u16) -> hound::WavSpec {
    hound::WavSpec {
        channels,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    }
}

fn float32(rate: u32) -> hound::WavSpec {
    hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 32,
        sample_format: hound::SampleFormat::Float,
    }
}

/// Overwrite the little-endian u32 at `at`.
fn patch_u32(mut b: Vec<u8>, at: usize, v: u32) -> Vec<u8> {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    b
}

/// Offset of a chunk's size field, by its id.
fn chunk_size_at(b: &[u8], id: &[u8; 4]) -> usize {
    b.windows(4).position(|w| w == id).expect("chunk") + 4
}

fn tone(i: usize) -> f32 {
    (i as f32 * 0.05).sin() * 0.5
}

/// What must come of a corpus file: `Ok(samples at 16 kHz)`, or an error of
/// a kind (`malformed`, `unsupported`) whose message contains a text.
type Expect = Result<usize, (&'static str, &'static str)>;

/// The corpus of bad (and a few good) files: a name, the bytes, the outcome.
fn corpus() -> Vec<(&'static str, Vec<u8>, Expect)> {
    let good = wav(pcm16(16_000, 1), 1600, tone);
    let data_size = chunk_size_at(&good, b"data");
    let fmt_size = chunk_size_at(&good, b"fmt ");
    vec![
        ("empty", vec![], Err(("malformed", "empty"))),
        (
            "truncated header",
            good[..20].to_vec(),
            Err(("malformed", "")),
        ),
        (
            "header only, no samples",
            good[..44].to_vec(),
            Err(("malformed", "")),
        ),
        (
            "data chunk claims 0 bytes",
            patch_u32(good[..44].to_vec(), data_size, 0),
            Err(("malformed", "no samples")),
        ),
        (
            "data chunk size longer than the file",
            patch_u32(good.clone(), data_size, 10_000),
            Err(("malformed", "claims")),
        ),
        (
            "header claiming 2 GB",
            patch_u32(good.clone(), data_size, 0x7fff_fff0),
            Err(("malformed", "claims")),
        ),
        (
            "fmt chunk size wrong",
            patch_u32(good.clone(), fmt_size, 7),
            Err(("malformed", "")),
        ),
        (
            "odd data size cut mid-sample",
            patch_u32(good[..good.len() - 1].to_vec(), data_size, 3199),
            Err(("malformed", "")),
        ),
        (
            "NaN samples",
            wav(
                float32(16_000),
                160,
                |i| if i == 100 { f32::NAN } else { 0.0 },
            ),
            Err(("malformed", "NaN")),
        ),
        (
            "infinite samples",
            wav(float32(16_000), 160, |i| {
                if i == 7 { f32::INFINITY } else { 0.1 }
            }),
            Err(("malformed", "inf")),
        ),
        (
            "rate of 1 Hz",
            wav(pcm16(1, 1), 10, tone),
            Err(("unsupported", "1 Hz")),
        ),
        (
            "rate of 3999 Hz",
            wav(pcm16(3_999, 1), 3999, tone),
            Err(("unsupported", "3999 Hz")),
        ),
        (
            "rate of 384 kHz",
            wav(pcm16(384_000, 1), 38_400, tone),
            Ok(1600),
        ),
        (
            "rate of 400 kHz",
            wav(pcm16(400_000, 1), 4_000, tone),
            Err(("unsupported", "400000 Hz")),
        ),
        ("64 channels", wav(pcm16(16_000, 64), 1600, tone), Ok(1600)),
        (
            "65 channels",
            wav(pcm16(16_000, 65), 16, tone),
            Err(("unsupported", "65 channels")),
        ),
        (
            "zero channels",
            patch_u32(good.clone(), fmt_size + 6, 16_000 << 16),
            Err(("malformed", "")),
        ),
        (
            "text, not audio",
            b"this is not audio at all".to_vec(),
            Err(("malformed", "not a WAV")),
        ),
        (
            "FLAC magic then garbage",
            [b"fLaC".as_slice(), &[0x55; 200]].concat(),
            Err(("malformed", "")),
        ),
        (
            "Ogg magic then garbage",
            [b"OggS".as_slice(), &[0; 200]].concat(),
            Err(("malformed", "")),
        ),
        (
            "RF64",
            [b"RF64".as_slice(), &good[4..]].concat(),
            Err(("unsupported", "RF64")),
        ),
        ("good 16-bit mono", good.clone(), Ok(1600)),
        (
            "good 32-bit float",
            wav(float32(16_000), 1600, tone),
            Ok(1600),
        ),
        (
            "good 44.1 kHz stereo",
            wav(pcm16(44_100, 2), 4410, tone),
            Ok(1600),
        ),
    ]
}

fn kind(e: &Error) -> &'static str {
    match e {
        Error::Malformed(_) => "malformed",
        Error::Unsupported(_) => "unsupported",
        Error::Io { .. } => "io",
        Error::Config(_) => "config",
        _ => "other",
    }
}

#[test]
fn bad_files_give_clear_errors_and_never_panic() {
    let mut failures = Vec::new();
    for (name, bytes, expect) in corpus() {
        let got = std::panic::catch_unwind(|| {
            decode_bytes(&bytes, &DecodeLimits::default()).and_then(|a| a.to_16k_mono())
        });
        let line = match (&got, &expect) {
            (Err(_), _) => Some("panicked".to_string()),
            (Ok(Ok(x)), Ok(frames)) if x.len() == *frames => None,
            (Ok(Ok(x)), _) => Some(format!("decoded {} samples, expected {expect:?}", x.len())),
            (Ok(Err(e)), Err((k, text))) if kind(e) == *k && e.to_string().contains(text) => {
                assert!(
                    !e.to_string().contains('\n'),
                    "{name}: one line please: {e}"
                );
                None
            }
            (Ok(Err(e)), _) => Some(format!("error {} \"{e}\", expected {expect:?}", kind(e))),
        };
        if let Some(l) = line {
            failures.push(format!("{name}: {l}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn the_corpus_is_written_out_for_the_fuzzer() {
    // The fuzz target starts from these files (fuzz/corpus/decode is git-ignored).
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus/decode");
    std::fs::create_dir_all(&dir).unwrap();
    let corpus = corpus();
    for (name, bytes, _) in &corpus {
        let path = dir.join(name.replace(' ', "_"));
        std::fs::write(&path, bytes).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), *bytes, "{name}");
    }
    assert!(corpus.len() >= 20);
}

/// Regression, found by the fuzzer: an MP3 sync word followed by a RIFF header
/// with a bad channel mask made symphonia's probe find its WAV reader, which
/// panicked on a shift overflow.
#[test]
fn fuzz_symphonia_riff_channel_mask() {
    let bytes = include_bytes!("fixtures/fuzz-symphonia-riff-channel-mask.bin");
    let got = std::panic::catch_unwind(|| decode_bytes(bytes, &DecodeLimits::default()));
    match got {
        Ok(Err(Error::Malformed(_))) => {}
        other => panic!("expected a clear error, got {other:?}"),
    }
}

#[test]
fn a_missing_file_names_the_path() {
    let e = decode_file(
        std::path::Path::new("/no/such/file.wav"),
        &DecodeLimits::default(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::Io { .. }));
    assert!(e.to_string().contains("/no/such/file.wav"), "{e}");
    let e = decode_file(std::path::Path::new("/"), &DecodeLimits::default()).unwrap_err();
    assert!(e.to_string().contains("directory"), "{e}");
}

#[test]
fn too_long_audio_is_refused_before_it_is_read() {
    let limits = DecodeLimits {
        max_seconds: 0.05,
        ..DecodeLimits::default()
    };
    let e = decode_bytes(&wav(pcm16(16_000, 1), 1600, tone), &limits).unwrap_err();
    assert!(
        matches!(e, Error::Unsupported(_)) && e.to_string().contains("at most"),
        "{e}"
    );
}

/// jfk.wav encoded by sox as FLAC, Ogg Vorbis and MP3 decodes to the same
/// length and the same segments as the WAV.
#[test]
fn flac_ogg_and_mp3_decode_like_the_wav() {
    let Some(dir) = common::data_dir() else {
        return;
    };
    let src = dir.join("speech/whisper_cpp/jfk.wav");
    let reference = ainima_audio::decode::load_16k_mono(&src).unwrap();
    let ref_segs = ainima_audio::endpoint::segments(&reference, &Default::default()).unwrap();
    let tmp = ainima_testkit::temp_dir("decode");
    for ext in ["flac", "ogg", "mp3"] {
        let out = tmp.join(format!("jfk.{ext}"));
        let made = std::process::Command::new("sox")
            .arg(&src)
            .arg(&out)
            .status()
            .is_ok_and(|s| s.success());
        if !made {
            let required = std::env::var("AINIMA_REQUIRE_DATA").is_ok_and(|v| v == "1");
            assert!(
                !required,
                "sox (with libsox-fmt-mp3) is needed to make the {ext} file"
            );
            eprintln!("skipped {ext}: sox cannot write it");
            continue;
        }
        let x = ainima_audio::decode::load_16k_mono(&out).unwrap_or_else(|e| panic!("{ext}: {e}"));
        // MP3 frames pad the start and end by up to a few decoder delays.
        let slack = if ext == "mp3" { 2_400 } else { 16 };
        assert!(
            (x.len() as i64 - reference.len() as i64).abs() <= slack,
            "{ext}: {} vs {} samples",
            x.len(),
            reference.len()
        );
        let segs = ainima_audio::endpoint::segments(&x, &Default::default()).unwrap();
        if ext == "flac" {
            // Lossless: the very same samples, so the very same segments.
            assert_eq!(x, reference, "flac decodes to other samples");
            assert_eq!(segs, ref_segs);
        } else {
            // Lossy: the speech is found from the same start to the same end (pauses may differ).
            let (a, b) = (segs.first().unwrap(), ref_segs.first().unwrap());
            let (y, z) = (segs.last().unwrap(), ref_segs.last().unwrap());
            let d = |p: u64, q: u64| (p as i64 - q as i64).abs();
            let tol = if ext == "mp3" { 4_000 } else { 800 };
            assert!(
                d(a.start, b.start) <= tol && d(y.end, z.end) <= tol,
                "{ext}: {segs:?} vs {ref_segs:?}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&tmp);
}
