//! `ainima bench audio`: the front end's speed and echo cancellation, each
//! beside a peer measured in the same run on the same audio. Prints a table;
//! `--json FILE` writes the same numbers. A missing peer is reported, not fatal.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use ainima_audio::aec::AecConfig;
use ainima_audio::clock::SimClock;
use ainima_audio::device::DuplexDevice;
use ainima_audio::resample::StreamResampler;
use ainima_audio::room::SimRoom;

use crate::config::AppConfig;
use crate::speech;

const VAD_PEERS_PY: &str = include_str!("../../bench/peers/vad_peers.py");
const SPEEX_AEC_C: &str = include_str!("../../bench/peers/speex_aec.c");

/// The middle value (NaN for none).
pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        f64::NAN
    } else {
        v[v.len() / 2]
    }
}

/// Median wall time of `runs` calls of `f`, in seconds.
fn time_runs(runs: usize, mut f: impl FnMut() -> Result<()>) -> Result<f64> {
    let mut t = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        f()?;
        t.push(start.elapsed().as_secs_f64());
    }
    Ok(median(t))
}

fn write_wav_16k(path: &Path, x: &[f32]) -> Result<()> {
    ainima_audio::device::file::write_wav(path, x)?;
    Ok(())
}

fn write_raw_i16(path: &Path, x: &[f32]) -> Result<()> {
    let bytes: Vec<u8> = x
        .iter()
        .flat_map(|&s| ainima_audio::frame::to_i16(s).to_le_bytes())
        .collect();
    std::fs::write(path, bytes).with_context(|| path.display().to_string())
}

fn read_raw_i16(path: &Path) -> Result<Vec<f32>> {
    let b = std::fs::read(path).with_context(|| path.display().to_string())?;
    Ok(b.chunks_exact(2)
        .map(|c| f32::from(i16::from_le_bytes([c[0], c[1]])) / 32768.0)
        .collect())
}

/// 10 log10 of microphone energy over output energy, from sample `from` on.
fn erle_db(mic: &[f32], out: &[f32], from: usize) -> f64 {
    let n = mic.len().min(out.len());
    let e = |x: &[f32]| {
        x[from.min(n)..n]
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>()
    };
    10.0 * (e(mic) / e(out).max(1e-20)).log10()
}

struct Row {
    what: String,
    ours: String,
    peer: String,
    peer_name: String,
}

pub fn audio(
    cfg: &AppConfig,
    data: &Path,
    json_out: Option<&Path>,
    runs: usize,
    out: &mut impl Write,
) -> Result<()> {
    let tmp = std::env::temp_dir().join(format!("ainima-bench-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let mut rows = Vec::new();
    let mut report = serde_json::Map::new();

    // 1. VAD and endpointer over all the recordings, at 16 kHz, on one core.
    let recs = speech::recordings(data)?;
    let mut all = Vec::new();
    let mut native_48k = Vec::new();
    for (_, path) in &recs {
        let audio = ainima_audio::decode::decode_file(path, &Default::default())?;
        all.extend(audio.to_16k_mono()?);
        if audio.sample_rate == 48_000 {
            native_48k.extend(audio.to_mono());
        }
    }
    let secs = all.len() as f64 / 16_000.0;
    let t = time_runs(runs, || {
        ainima_audio::endpoint::segments(&all, &cfg.endpointer)?;
        Ok(())
    })?;
    let ours_vad = secs / t;
    let cfg30 = ainima_audio::endpoint::Config {
        frame: ainima_audio::FrameSize::Ms30,
        ..cfg.endpointer.clone()
    };
    let t30 = time_runs(runs, || {
        ainima_audio::endpoint::segments(&all, &cfg30)?;
        Ok(())
    })?;
    let t_vad_only = time_runs(runs, || {
        use ainima_audio::vad::Vad;
        let mut v = ainima_audio::vad::WebRtcVad::new(cfg.endpointer.vad_mode);
        let mut voiced = 0usize;
        for f in all.chunks_exact(160) {
            voiced += usize::from(v.is_voiced(f)?);
        }
        std::hint::black_box(voiced);
        Ok(())
    })?;
    let wav = tmp.join("all16k.wav");
    write_wav_16k(&wav, &all)?;
    let peers = run_vad_peers(&tmp, &wav, runs);
    let peer_xrt = |name: &str| {
        peers
            .get(name)
            .and_then(|p| p.get("seconds"))
            .and_then(Value::as_f64)
            .map(|s| secs / s)
    };
    let fmt_peer = |name: &str| match peer_xrt(name) {
        Some(x) => format!("{x:.0}x"),
        None => format!(
            "n/a ({})",
            peers
                .get(name)
                .and_then(|p| p.get("error"))
                .and_then(Value::as_str)
                .unwrap_or("not run")
        ),
    };
    rows.push(Row {
        what: format!("VAD + endpointer, {secs:.0} s of speech, x real time (1 core)"),
        ours: format!("{ours_vad:.0}x"),
        peer: fmt_peer("webrtcvad"),
        peer_name: "py-webrtcvad, VAD only".into(),
    });
    rows.push(Row {
        what: "  WebRTC VAD alone, 10 ms frames".into(),
        ours: format!("{:.0}x", secs / t_vad_only),
        peer: fmt_peer("webrtcvad"),
        peer_name: "py-webrtcvad, VAD only".into(),
    });
    rows.push(Row {
        what: "  VAD + endpointer with 30 ms frames".into(),
        ours: format!("{:.0}x", secs / t30),
        peer: "-".into(),
        peer_name: String::new(),
    });
    rows.push(Row {
        what: "  the same audio".into(),
        ours: format!("{ours_vad:.0}x"),
        peer: fmt_peer("silero"),
        peer_name: "Silero VAD v5 (onnxruntime, 1 thread), VAD only".into(),
    });
    report.insert(
        "vad_endpointer".into(),
        json!({"audio_seconds": secs, "ours_seconds": t, "ours_xrt": ours_vad,
               "ours_30ms_frames_xrt": secs / t30, "ours_webrtc_vad_only_xrt": secs / t_vad_only,
               "webrtcvad_xrt": peer_xrt("webrtcvad"), "silero_xrt": peer_xrt("silero"), "peers": peers}),
    );

    // 2. Resampling 48 kHz to 16 kHz: a minute of the 48 kHz recordings, repeated.
    let mut x48 = Vec::with_capacity(48_000 * 60);
    while !native_48k.is_empty() && x48.len() < 48_000 * 60 {
        x48.extend_from_slice(&native_48k[..native_48k.len().min(48_000 * 60 - x48.len())]);
    }
    let secs48 = x48.len() as f64 / 48_000.0;
    let t_stream = time_runs(runs, || {
        let mut r = StreamResampler::new(48_000, 16_000)?;
        let mut n = 0usize;
        for block in x48.chunks(480) {
            r.push(block, &mut |y| n += y.len())?;
        }
        std::hint::black_box(n);
        Ok(())
    })?;
    let in48 = tmp.join("in48k.wav");
    {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 48_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(&in48, spec)?;
        for &s in &x48 {
            w.write_sample(ainima_audio::frame::to_i16(s))?;
        }
        w.finalize()?;
    }
    let sox = time_runs(runs, || {
        let st = Command::new("sox")
            .args(["-q"])
            .arg(&in48)
            .args(["-n", "rate", "16000"])
            .status()?;
        anyhow::ensure!(st.success(), "sox failed");
        Ok(())
    });
    let sox_xrt = sox.as_ref().ok().map(|t| secs48 / t);
    rows.push(Row {
        what: format!("Resampling 48 to 16 kHz, {secs48:.0} s, 10 ms blocks, x real time"),
        ours: format!("{:.0}x", secs48 / t_stream),
        peer: sox_xrt.map_or_else(|| "n/a (sox not installed)".into(), |x| format!("{x:.0}x")),
        peer_name: "sox rate 16000 (high quality; whole process)".into(),
    });
    report.insert(
        "resample_48k_16k".into(),
        json!({"audio_seconds": secs48, "ours_xrt": secs48 / t_stream, "sox_xrt": sox_xrt}),
    );

    // 3. Echo cancellation in the simulated room, the assistant's own speech only.
    let voice = speech::espeak(speech::MONOLOGUE)?;
    let mut room = SimRoom::new(cfg.room.clone(), SimClock::new())?;
    room.play(&voice)?;
    let n = voice.len().div_ceil(160) * 160;
    let (mut mic, mut reference) = (vec![0.0; n], vec![0.0; n]);
    for (m, r) in mic.chunks_mut(160).zip(reference.chunks_mut(160)) {
        room.capture(m, r)?;
    }
    let linear = AecConfig {
        suppression_db: 0.0,
        ..cfg.aec.clone()
    };
    let mut ours_linear = vec![0.0; n];
    let t_aec = time_runs(runs, || {
        let mut aec = ainima_audio::aec::EchoCanceller::new(linear.clone())?;
        aec.process(&mic, &reference, &mut ours_linear)?;
        Ok(())
    })?;
    let mut ours_full = vec![0.0; n];
    ainima_audio::aec::EchoCanceller::new(cfg.aec.clone())?.process(
        &mic,
        &reference,
        &mut ours_full,
    )?;
    let filter_samples = (cfg.aec.filter_ms * 16) as usize;
    let speex = run_speex(&tmp, &mic, &reference, filter_samples);
    let aec_secs = n as f64 / 16_000.0;
    let windows = [(3usize, "after 3 s"), (8, "after 8 s")];
    for (from_s, label) in windows {
        let from = from_s * 16_000;
        rows.push(Row {
            what: format!("ERLE, RT60 {} ms, linear filter, {label}", cfg.room.rt60_ms),
            ours: format!("{:.1} dB", erle_db(&mic, &ours_linear, from)),
            peer: match &speex {
                Ok((o, _)) => format!("{:.1} dB", erle_db(&mic, o, from)),
                Err(e) => format!("n/a ({e})"),
            },
            peer_name: format!("SpeexDSP MDF, {filter_samples}-sample filter"),
        });
    }
    rows.push(Row {
        what: "ERLE with residual echo suppression, after 3 s".into(),
        ours: format!("{:.1} dB", erle_db(&mic, &ours_full, 3 * 16_000)),
        peer: "-".into(),
        peer_name: "".into(),
    });
    rows.push(Row {
        what: "Echo canceller speed, x real time (1 core)".into(),
        ours: format!("{:.0}x", aec_secs / t_aec),
        peer: match &speex {
            Ok((_, t)) => format!("{:.0}x", aec_secs / t),
            Err(e) => format!("n/a ({e})"),
        },
        peer_name: "SpeexDSP MDF".into(),
    });
    report.insert(
        "aec".into(),
        json!({
            "rt60_ms": cfg.room.rt60_ms, "filter_ms": cfg.aec.filter_ms, "audio_seconds": aec_secs,
            "ours_erle_db_after_3s": erle_db(&mic, &ours_linear, 3 * 16_000),
            "ours_erle_db_after_8s": erle_db(&mic, &ours_linear, 8 * 16_000),
            "ours_erle_with_suppression_db_after_3s": erle_db(&mic, &ours_full, 3 * 16_000),
            "ours_xrt": aec_secs / t_aec,
            "speex_erle_db_after_3s": speex.as_ref().ok().map(|(o, _)| erle_db(&mic, o, 3 * 16_000)),
            "speex_erle_db_after_8s": speex.as_ref().ok().map(|(o, _)| erle_db(&mic, o, 8 * 16_000)),
            "speex_xrt": speex.as_ref().ok().map(|(_, t)| aec_secs / t),
        }),
    );

    let w0 = rows.iter().map(|r| r.what.len()).max().unwrap_or(0);
    writeln!(out, "{:w0$}  {:>10}  {:>10}  peer", "", "Ainima", "peer")?;
    for r in &rows {
        writeln!(
            out,
            "{:w0$}  {:>10}  {:>10}  {}",
            r.what, r.ours, r.peer, r.peer_name
        )?;
    }
    if let Some(path) = json_out {
        std::fs::write(path, serde_json::to_string_pretty(&Value::Object(report))?)
            .with_context(|| path.display().to_string())?;
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}

fn run_vad_peers(tmp: &Path, wav: &Path, runs: usize) -> Value {
    let script = tmp.join("vad_peers.py");
    let run = || -> Result<Value> {
        std::fs::write(&script, VAD_PEERS_PY)?;
        python_json(&script, [wav.as_os_str(), runs.to_string().as_ref()])
    };
    run().unwrap_or_else(
        |e| json!({"webrtcvad": {"error": e.to_string()}, "silero": {"error": e.to_string()}}),
    )
}

/// Run a peer's Python script with `args` and parse the JSON it prints; on
/// failure, the last line it wrote to stderr.
pub(crate) fn python_json<I, A>(script: &Path, args: I) -> Result<Value>
where
    I: IntoIterator<Item = A>,
    A: AsRef<std::ffi::OsStr>,
{
    let o = Command::new("python3")
        .arg(script)
        .args(args)
        .output()
        .context("python3")?;
    anyhow::ensure!(
        o.status.success(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
            .lines()
            .last()
            .unwrap_or("the script failed")
    );
    Ok(serde_json::from_slice(&o.stdout)?)
}

/// SpeexDSP's canceller over the same microphone and reference: (output, seconds).
fn run_speex(tmp: &Path, mic: &[f32], reference: &[f32], filter: usize) -> Result<(Vec<f32>, f64)> {
    let src = tmp.join("speex_aec.c");
    let bin = tmp.join("speex_aec");
    std::fs::write(&src, SPEEX_AEC_C)?;
    let st = Command::new("cc")
        .arg("-O2")
        .arg(&src)
        .arg("-o")
        .arg(&bin)
        .arg("-lspeexdsp")
        .status()
        .context("cc")?;
    anyhow::ensure!(st.success(), "libspeexdsp-dev not installed");
    let (m, r, o) = (
        tmp.join("mic.raw"),
        tmp.join("ref.raw"),
        tmp.join("out.raw"),
    );
    write_raw_i16(&m, mic)?;
    write_raw_i16(&r, reference)?;
    let out = Command::new(&bin)
        .arg(&m)
        .arg(&r)
        .arg(&o)
        .arg(filter.to_string())
        .output()?;
    anyhow::ensure!(out.status.success(), "speex_aec failed");
    let secs: f64 = String::from_utf8_lossy(&out.stdout).trim().parse()?;
    Ok((read_raw_i16(&o)?, secs))
}

/// The process's peak resident memory, MB (Linux; NaN elsewhere).
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}
