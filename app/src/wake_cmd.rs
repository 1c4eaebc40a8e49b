//! `ainima wake`: the wake word. `train "PHRASE"` makes a model from
//! synthetic voices (espeak-ng's accents and variants at many rates and
//! pitches, some through a simulated room, over noise); `eval` scores a
//! model on voices it never heard (held-out espeak-ng voices and festival)
//! and on hours of speech and noise without the phrase; `detect` lists
//! where a recording says it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use ainima::tts::Voice;
use ainima::tts::espeak::Espeak;
use ainima_audio::room::RoomConfig;
use ainima_neurosymbolic::draws::SplitMix as Rng;
use ainima_neurosymbolic::wake::train::rms;
use ainima_neurosymbolic::wake::{self, Progress, TrainConfig, TrainData, Wake};
use anyhow::{Context, Result, bail};
use serde_json::json;

/// The default model, inside the binary ("hey ainima").
pub static BUILTIN: &[u8] = include_bytes!("../models/hey-ainima.wake");

/// The sample rate everything here is at.
const SR: usize = 16_000;

/// Accents the training voices speak in.
const TRAIN_ACCENTS: &[&str] = &["en-us", "en-gb", "en-gb-x-rp", "en-029", "en-gb-x-gbclan"];
/// Accents only the evaluation hears.
const HELD_OUT_ACCENTS: &[&str] = &["en-gb-scotland", "en-us-nyc", "en-gb-x-gbcwmd"];
/// espeak-ng's voice variants (its `--voices=variant`), in a fixed order.
const VARIANTS: &[&str] = &[
    "", "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8", "f1", "f2", "f3", "f4", "f5", "klatt",
    "klatt2", "klatt3", "klatt4", "klatt5", "klatt6", "croak", "whisper", "whisperf", "adam",
    "Alex", "Alicia", "Andrea", "Andy", "Annie", "anika", "aunty", "belinda", "benjamin", "boris",
    "caleb", "david", "Denis", "ed", "edward", "edward2", "Gene", "Gene2", "grandma", "grandpa",
    "Henrique", "Hugo", "iven", "iven2", "iven3", "iven4", "Jacky", "john", "Lee", "linda", "max",
    "Michael", "Mike", "norbert", "paul", "quincy", "rob", "robert", "steph", "steph2", "steph3",
    "Storm", "travis", "victor", "zac",
];

/// Whether a variant is kept for evaluation (every fourth).
fn held_out_variant(i: usize) -> bool {
    i % 4 == 3
}

/// Everyday sentences, the speech a wake word must let pass.
pub(crate) const EVERYDAY: &[&str] = &[
    "good morning, did you sleep well",
    "can you pass me the salt please",
    "I think it is going to rain later",
    "where did I leave my keys",
    "let's have dinner at seven",
    "the meeting was moved to Thursday",
    "have you seen the new episode yet",
    "hey, how are you doing today",
    "hey there, long time no see",
    "I need to call my mother tonight",
    "the kids are already asleep",
    "what do you want to watch",
    "honestly I don't mind either way",
    "the train was late again this morning",
    "remind me to buy some bread",
    "my name is Nina and this is Anna",
    "we watched an animated film with Amina",
    "it's a minimal design with lots of light",
    "the animal shelter opens at nine",
    "hey Jemima, are you coming along",
    "anyone want some tea",
    "in a minute, I'm almost done",
    "I'm not sure that's a good idea",
    "turn left at the next corner",
    "the weather is lovely today",
    "could you open the window a little",
    "he said he'd be here by noon",
    "that film was much better than I expected",
    "put it on the table by the door",
    "hey, hey, wait for me",
];

/// Near misses of `phrase`: its words alone, its first word before other
/// names, and its last word with a sound changed.
fn confusables(phrase: &str) -> Vec<String> {
    let words: Vec<&str> = phrase.split_whitespace().collect();
    let mut out: Vec<String> = words.iter().map(|w| (*w).to_string()).collect();
    let Some(last) = words.last() else {
        return out;
    };
    let first = words[0];
    for name in [
        "anna", "nina", "amina", "emma", "alexa", "siri", "mina", "jemima",
    ] {
        out.push(format!("{first} {name}"));
    }
    let chars: Vec<char> = last.chars().collect();
    // A vowel changed, a letter dropped, the first sound replaced.
    for (i, c) in chars.iter().enumerate() {
        if "aeiou".contains(*c) {
            for v in ['a', 'e', 'o'] {
                if v != *c {
                    let w: String = chars
                        .iter()
                        .enumerate()
                        .map(|(j, x)| if j == i { v } else { *x })
                        .collect();
                    out.push(w);
                }
            }
        }
    }
    if chars.len() > 3 {
        out.push(chars[1..].iter().collect());
        out.push(chars[..chars.len() - 1].iter().collect());
        out.push(format!("b{}", chars[1..].iter().collect::<String>()));
    }
    for p in ["okay", "hello", "hi", "say"] {
        out.push(format!("{p} {last}"));
    }
    out.retain(|c| !c.eq_ignore_ascii_case(phrase));
    out
}

/// The accent and variant names espeak-ng's library takes here, for
/// training voices or held-out ones (a variant some builds lack is left
/// out).
pub(crate) fn voice_names(held_out: bool) -> Vec<String> {
    let accents = if held_out {
        HELD_OUT_ACCENTS
    } else {
        TRAIN_ACCENTS
    };
    let mut out = Vec::new();
    for accent in accents {
        for (i, variant) in VARIANTS.iter().enumerate() {
            if held_out_variant(i) != held_out {
                continue;
            }
            let name = if variant.is_empty() {
                (*accent).to_string()
            } else {
                format!("{accent}+{variant}")
            };
            let probe = Voice {
                name: name.clone(),
                ..Voice::default()
            };
            if Espeak::new(probe).and_then(|e| e.sentence("a")).is_ok() {
                out.push(name);
            }
        }
    }
    out
}

/// A random voice among `names`, at a random rate and pitch.
pub(crate) fn voice(rng: &mut Rng, names: &[String]) -> Voice {
    Voice {
        name: names[rng.below(names.len())].clone(),
        rate_wpm: 110 + rng.below(131) as u32,
        pitch: 15 + rng.below(76) as u32,
    }
}

/// Cuts leading and trailing frames quieter than 45 dB under the loudest.
fn trim(x: &[f32]) -> Vec<f32> {
    let frame = 160;
    let levels: Vec<f32> = x
        .chunks(frame)
        .map(|c| c.iter().map(|v| v * v).sum::<f32>() / c.len() as f32)
        .collect();
    let top = levels.iter().copied().fold(0.0f32, f32::max);
    let floor = top * 10f32.powf(-4.5);
    let first = levels.iter().position(|&l| l > floor).unwrap_or(0);
    let last = levels.iter().rposition(|&l| l > floor).unwrap_or(0);
    x[first * frame..((last + 1) * frame).min(x.len())].to_vec()
}

/// `x` through a random simulated room (direct path and a reverberant tail).
fn reverberate(x: &[f32], rng: &mut Rng) -> Result<Vec<f32>> {
    let room = RoomConfig {
        rt60_ms: 150 + rng.below(450) as u32,
        delay_ms: 0,
        echo_gain: 1.0,
        reverb_level: 0.05 + 0.3 * rng.unit_f32(),
        noise_dbfs: -130.0,
        seed: rng.next_u64(),
    };
    Ok(ainima_audio::room::convolve(x, &room.impulse_response()?))
}

/// Says `text` in `voice`, trimmed, through a room one time in two.
pub(crate) fn say(text: &str, voice: &Voice, rng: &mut Rng) -> Result<Vec<f32>> {
    let x = trim(&Espeak::new(voice.clone())?.sentence(text)?);
    if x.len() < SR / 10 {
        bail!("espeak-ng said nothing for {text:?} in {}", voice.name);
    }
    if rng.unit_f32() < 0.5 {
        reverberate(&x, rng)
    } else {
        Ok(x)
    }
}

/// Festival's voices installed here (`voice_kal_diphone` and others).
pub(crate) fn festival_voices() -> Vec<String> {
    let mut out = Vec::new();
    for dir in [
        "/usr/share/festival/voices/english",
        "/usr/share/festival/voices/us",
    ] {
        if let Ok(rd) = std::fs::read_dir(dir) {
            for e in rd.flatten() {
                out.push(e.file_name().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

/// `text` by festival's `voice`, its durations stretched by `stretch`.
pub(crate) fn festival(text: &str, voice: &str, stretch: f32) -> Result<Vec<f32>> {
    let dir = tempfile::tempdir()?;
    let wav = dir.path().join("f.wav");
    let txt = dir.path().join("f.txt");
    std::fs::write(&txt, text)?;
    let status = std::process::Command::new("text2wave")
        .arg("-o")
        .arg(&wav)
        .args(["-eval", &format!("(voice_{voice})")])
        .args([
            "-eval",
            &format!("(Parameter.set 'Duration_Stretch {stretch})"),
        ])
        .arg(&txt)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .context("running festival's text2wave (apt install festival)")?;
    if !status.success() {
        bail!("text2wave failed with {voice}");
    }
    Ok(trim(&ainima_audio::decode::load_16k_mono(&wav)?))
}

/// Sixteen noise clips of `seconds` each, seeded: two of each kind of
/// [`noise`].
fn noises(seconds: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut rng = Rng(seed);
    (0..16)
        .map(|kind| noise(kind, seconds * SR, &mut rng))
        .collect()
}

/// `n` samples of one kind of noise (`kind % 8`): white, pink, brown, hum,
/// chords, clicks, a sweeping tone, bursts.
fn noise(kind: usize, n: usize, rng: &mut Rng) -> Vec<f32> {
    let mut x = vec![0.0f32; n];
    let (mut b0, mut b1, mut b2, mut brown) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
    let f0 = 50.0 + 10.0 * rng.below(2) as f32;
    let chord = [
        220.0 * (1.0 + rng.unit_f32()),
        277.0,
        330.0 * (1.0 + rng.unit_f32()),
    ];
    for (i, v) in x.iter_mut().enumerate() {
        let w = rng.unit_f32() * 2.0 - 1.0;
        let t = i as f32 / SR as f32;
        *v = match kind % 8 {
            0 => w,
            1 => {
                // Paul Kellet's economy pink filter.
                b0 = 0.99765 * b0 + w * 0.099_046;
                b1 = 0.963 * b1 + w * 0.296_516_4;
                b2 = 0.57 * b2 + w * 1.052_691_3;
                b0 + b1 + b2 + w * 0.1848
            }
            2 => {
                brown = (brown + 0.02 * w) * 0.998;
                brown
            }
            5 => {
                // Clicks and knocks.
                if rng.below(4000) == 0 { 1.0 } else { 0.0 }
            }
            6 => {
                // A tone sweeping up and down.
                let f = 300.0 + 1200.0 * (0.5 + 0.5 * (2.0 * std::f32::consts::PI * 0.3 * t).sin());
                b0 += 2.0 * std::f32::consts::PI * f / SR as f32;
                b0.sin()
            }
            7 => {
                // Noise in bursts, syllable-long.
                let env = (2.0 * std::f32::consts::PI * (3.0 + 2.0 * f0 / 60.0) * t)
                    .sin()
                    .max(0.0);
                w * env
            }
            3 => (1..6)
                .map(|h| (2.0 * std::f32::consts::PI * f0 * h as f32 * t).sin() / h as f32)
                .sum::<f32>(),
            _ => {
                chord
                    .iter()
                    .map(|f| (2.0 * std::f32::consts::PI * f * t).sin())
                    .sum::<f32>()
                    * (0.6 + 0.4 * (2.0 * std::f32::consts::PI * 2.0 * t).sin())
            }
        };
    }
    x
}

/// How much to synthesise and train.
#[derive(Debug, Clone)]
pub struct TrainPlan {
    /// Clips of the phrase.
    pub positives: usize,
    /// Clips of other speech.
    pub negatives: usize,
    /// Everything random follows this.
    pub seed: u64,
    /// Passes over the windows (the default's if `None`).
    pub epochs: Option<usize>,
    /// Positive windows mixed (the default's if `None`).
    pub windows: Option<usize>,
    /// A SNIPS folder whose training sentences are more speech to let pass.
    pub snips: Option<PathBuf>,
}

/// `ainima wake train PHRASE --out MODEL`.
pub fn train(
    phrase: &str,
    catalog: &ainima_fallbacks::Catalog,
    plan: &TrainPlan,
    out_path: &Path,
    quiet: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let phrase = phrase.trim();
    if phrase.is_empty() || phrase.len() > 200 {
        bail!("give the phrase to listen for, such as \"hey ainima\"");
    }
    let start = Instant::now();
    let names = voice_names(false);
    if names.is_empty() {
        bail!("espeak-ng has none of its English voices here (apt install espeak-ng)");
    }
    let mut rng = Rng(plan.seed);
    let bar = crate::progress::bar(
        quiet,
        "{prefix} [{bar:30}] {pos}/{len}, {elapsed} elapsed, {eta} left, {msg}",
    );
    bar.set_prefix("voices");
    bar.set_length((plan.positives + plan.negatives) as u64);
    let mut data = TrainData::default();
    let spellings = [
        phrase.to_string(),
        format!("{phrase}!"),
        format!("{phrase}?"),
        phrase.replacen(' ', ", ", 1),
    ];
    for i in 0..plan.positives {
        let v = voice(&mut rng, &names);
        data.positives
            .push(say(&spellings[i % spellings.len()], &v, &mut rng)?);
        bar.inc(1);
    }
    let mut texts: Vec<String> = confusables(phrase);
    texts.extend(EVERYDAY.iter().map(|s| (*s).to_string()));
    let samples = catalog.samples(4, plan.seed);
    texts.extend(samples.iter().map(ainima_fallbacks::snips::Example::text));
    if let Some(dir) = &plan.snips {
        texts.extend(
            ainima_fallbacks::snips::read_dir(dir, "train_")?
                .iter()
                .map(ainima_fallbacks::snips::Example::text),
        );
    }
    for i in 0..plan.negatives {
        // One in three a near miss, the rest sentences.
        let n_conf = confusables(phrase).len();
        let text = if i % 3 == 0 {
            &texts[rng.below(n_conf)]
        } else {
            &texts[rng.below(texts.len())]
        };
        let v = voice(&mut rng, &names);
        data.negatives.push(say(text, &v, &mut rng)?);
        bar.inc(1);
    }
    data.noises = noises(10, plan.seed ^ 0x006e_6f69_7365);
    let synth_s = start.elapsed().as_secs_f64();
    let mut cfg = TrainConfig {
        seed: plan.seed,
        ..TrainConfig::default()
    };
    cfg.epochs = plan.epochs.unwrap_or(cfg.epochs);
    cfg.windows = plan.windows.unwrap_or(cfg.windows);
    let model = wake::train(&data, phrase, &cfg, &mut |p: &Progress| {
        bar.set_prefix(if p.stage == "mixing" {
            "mixing".to_string()
        } else {
            format!("epoch {}/{}", p.epoch, p.epochs)
        });
        bar.set_length(p.steps as u64);
        bar.set_position(p.step as u64);
        bar.set_message(format!("loss {:.3}", p.loss));
        if let Some((found, taken)) = p.dev {
            let line = format!(
                "epoch {:>2}: loss {:.3}, held-out windows: {:.1}% of the phrase found, {:.2}% of others taken",
                p.epoch,
                p.loss,
                100.0 * found,
                100.0 * taken
            );
            if !quiet {
                bar.suspend(|| eprintln!("{line}"));
            }
        }
    })?;
    bar.finish_and_clear();
    let bytes = model.to_bytes()?;
    let tmp = out_path.with_extension("partial");
    std::fs::write(&tmp, &bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, out_path).with_context(|| format!("writing {}", out_path.display()))?;
    writeln!(
        out,
        "\"{phrase}\": {} clips of it and {} of other speech synthesised in {:.0} s; trained in {:.0} s: {} parameters, {:.0} KB, written to {}",
        data.positives.len(),
        data.negatives.len(),
        synth_s,
        start.elapsed().as_secs_f64() - synth_s,
        model.parameters(),
        bytes.len() as f64 / 1024.0,
        out_path.display()
    )?;
    Ok(())
}

/// Reads a model (a file, or the built-in one), at `threshold` if given.
pub fn load(path: Option<&Path>, threshold: Option<f32>) -> Result<Wake> {
    let mut m = match path {
        Some(p) => {
            let bytes = std::fs::read(p).with_context(|| format!("reading {}", p.display()))?;
            Wake::from_bytes(&bytes).with_context(|| format!("loading {}", p.display()))?
        }
        None => Wake::from_bytes(BUILTIN)?,
    };
    if let Some(t) = threshold {
        if !(wake::MIN_THRESHOLD..=1.0).contains(&t) {
            bail!(
                "the threshold is a score from {} to 1, not {t}",
                wake::MIN_THRESHOLD
            );
        }
        m.set_threshold(t);
    }
    Ok(m)
}

/// The wake word `[listen]` names: the built-in model or a file relative
/// to the configuration folder, at its threshold unless one is given.
pub fn configured(listen: &crate::config::Listen, config_dir: &Path) -> Result<Wake> {
    let path = (listen.wake_model != "builtin").then(|| config_dir.join(&listen.wake_model));
    load(path.as_deref(), listen.threshold).context(
        "[listen]: wake_model is \"builtin\" or a file from `ainima wake train`; threshold is from 0.01 to 1",
    )
}

/// `ainima wake detect FILE`: where a recording says the phrase.
pub fn detect(model: &Wake, file: &Path, json: bool, out: &mut dyn Write) -> Result<()> {
    let audio = ainima_audio::decode::load_16k_mono(file)
        .with_context(|| format!("reading {}", file.display()))?;
    let found = model.detect_recording(&audio)?;
    if json {
        let v: Vec<_> = found
            .iter()
            .map(|d| json!({"t": d.at as f64 / SR as f64, "score": d.score}))
            .collect();
        writeln!(
            out,
            "{}",
            json!({"phrase": model.phrase(), "threshold": model.threshold(), "detections": v})
        )?;
    } else if found.is_empty() {
        writeln!(out, "\"{}\" not heard", model.phrase())?;
    } else {
        for d in &found {
            writeln!(
                out,
                "\"{}\" at {:.2} s (score {:.3})",
                model.phrase(),
                d.at as f64 / SR as f64,
                d.score
            )?;
        }
    }
    Ok(())
}

/// Speech and noise without the phrase, for counting false accepts: each
/// source's name and its audio.
fn without_phrase(data: Option<&Path>, seed: u64) -> Result<Vec<(String, Vec<f32>)>> {
    let mut out = Vec::new();
    if let Some(dir) = data {
        for (name, sub) in [
            ("recordings (speech/)", "speech"),
            ("neural voice (speech-to-phrase/en)", "speech-to-phrase/en"),
        ] {
            let mut files: Vec<PathBuf> = walk(&dir.join(sub));
            files.sort();
            let mut all = Vec::new();
            for f in files {
                if let Ok(x) = ainima_audio::decode::load_16k_mono(&f) {
                    all.extend(x);
                    all.extend(std::iter::repeat_n(0.0, SR / 2));
                }
            }
            if !all.is_empty() {
                out.push((name.to_string(), all));
            }
        }
        // Held-out voices reading SNIPS's validation sentences.
        let snips = dir.join("snips");
        if snips.is_dir() {
            let mut rng = Rng(seed);
            // Asked for here, after the phrases were said: espeak-ng's
            // state carries from one text to the next, so the order of
            // what it says is part of what the evaluation hears.
            let names = voice_names(true);
            let mut all = Vec::new();
            for e in ainima_fallbacks::snips::read_dir(&snips, "validate_")? {
                let v = voice(&mut rng, &names);
                all.extend(say(&e.text(), &v, &mut rng)?);
                all.extend(std::iter::repeat_n(0.0, SR / 4 + rng.below(SR)));
            }
            out.push(("held-out espeak-ng voices (SNIPS validation)".into(), all));
        }
    }
    let mut noise = Vec::new();
    for n in noises(60, seed ^ 0x0e7a_1000) {
        let g = 0.05 / rms(&n).max(1e-9);
        noise.extend(n.iter().map(|v| v * g));
    }
    out.push(("noise".into(), noise));
    Ok(out)
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else if p
                .extension()
                .is_some_and(|x| x.eq_ignore_ascii_case("wav") || x.eq_ignore_ascii_case("flac"))
            {
                out.push(p);
            }
        }
    }
    out
}

/// A voice's name, a stream, and where the phrase is in it (samples).
type Said = (String, Vec<f32>, usize, usize);

/// The phrase said by voices the model never heard, each inside other
/// speech.
fn held_out_phrases(phrase: &str, names: &[String], count: usize, seed: u64) -> Result<Vec<Said>> {
    let mut rng = Rng(seed);
    let mut out = Vec::new();
    let fest = festival_voices();
    for i in 0..count {
        let (name, clip) = if !fest.is_empty() && i % 4 == 3 {
            let v = &fest[rng.below(fest.len())];
            let stretch = 0.8 + 0.5 * rng.unit_f32();
            let x = festival(phrase, v, stretch)?;
            let x = if rng.unit_f32() < 0.5 {
                reverberate(&x, &mut rng)?
            } else {
                x
            };
            (format!("festival {v} x{stretch:.2}"), x)
        } else {
            let v = voice(&mut rng, names);
            (
                format!("espeak-ng {} {} wpm pitch {}", v.name, v.rate_wpm, v.pitch),
                say(phrase, &v, &mut rng)?,
            )
        };
        // Other words before it, a pause, the phrase, a second after.
        let v = voice(&mut rng, names);
        let before = say(EVERYDAY[rng.below(EVERYDAY.len())], &v, &mut rng)?;
        let mut stream = before;
        let g = rms(&stream) / rms(&clip).max(1e-9);
        stream.extend(std::iter::repeat_n(0.0, SR / 2));
        let at = stream.len();
        stream.extend(clip.iter().map(|x| x * g));
        let end = stream.len();
        stream.extend(std::iter::repeat_n(0.0, SR));
        // Pink noise 20 dB under the words, one in two.
        if rng.unit_f32() < 0.5 {
            let level = rms(&clip) * g * 0.1;
            // The pink of `noises(5, seed)`: its white is drawn first.
            let mut r = Rng(rng.next_u64());
            noise(0, 5 * SR, &mut r);
            let n = noise(1, 5 * SR, &mut r);
            let nl = rms(&n).max(1e-9);
            for (s, v) in stream.iter_mut().zip(n.iter().cycle()) {
                *s += v * level / nl;
            }
        }
        out.push((name, stream, at, end));
    }
    Ok(out)
}

/// `ainima wake eval`: false rejects on held-out voices, false accepts an
/// hour on speech and noise without the phrase, and the speed.
pub fn eval(
    model: Arc<Wake>,
    data: Option<&Path>,
    phrases: usize,
    json_out: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let seed = 7_1000;
    let names = voice_names(true);
    if names.is_empty() {
        bail!("espeak-ng has none of its English voices here (apt install espeak-ng)");
    }
    let said = held_out_phrases(model.phrase(), &names, phrases, seed)?;
    let said_scores: Vec<Vec<(u64, f32)>> = said
        .iter()
        .map(|s| model.score_recording(&s.1))
        .collect::<Result<_, _>>()?;
    let hit = |scores: &[(u64, f32)], at: usize, end: usize, t: f32| {
        model
            .detections(scores, t)
            .iter()
            .any(|d| d.at as usize >= at && d.at as usize <= end + SR)
    };
    let flags: Vec<bool> = said
        .iter()
        .zip(&said_scores)
        .map(|((_, _, at, end), scores)| !hit(scores, *at, *end, model.threshold()))
        .collect();
    let missed: Vec<String> = said
        .iter()
        .zip(&flags)
        .filter(|(_, m)| **m)
        .map(|(s, _)| s.0.clone())
        .collect();
    // Per synthesiser and accent: said, missed.
    let mut by_voice: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for ((name, ..), &m) in said.iter().zip(&flags) {
        let group: String = name
            .split_whitespace()
            .take(2)
            .collect::<Vec<_>>()
            .join(" ")
            .split('+')
            .next()
            .unwrap_or("")
            .to_string();
        let e = by_voice.entry(group).or_default();
        e.0 += 1;
        e.1 += usize::from(m);
    }
    let mut sources = Vec::new();
    let mut other_scores = Vec::new();
    let (mut hours, mut accepts, mut busy) = (0.0f64, 0usize, 0.0f64);
    for (name, audio) in without_phrase(data, seed)? {
        let h = audio.len() as f64 / SR as f64 / 3600.0;
        let t = Instant::now();
        let scores = model.score_recording(&audio)?;
        busy += t.elapsed().as_secs_f64();
        let found = model.detections(&scores, model.threshold());
        hours += h;
        accepts += found.len();
        sources.push(json!({
            "source": name,
            "hours": h,
            "false_accepts": found.len(),
            "at_s": found.iter().map(|d| d.at as f64 / SR as f64).collect::<Vec<_>>(),
        }));
        other_scores.push(scores);
    }
    // The same scores at other thresholds.
    let sweep: Vec<_> = [0.5f32, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99]
        .iter()
        .map(|&t| {
            let m = said
                .iter()
                .zip(&said_scores)
                .filter(|((_, _, at, end), s)| !hit(s, *at, *end, t))
                .count();
            let fa: usize = other_scores
                .iter()
                .map(|s| model.detections(s, t).len())
                .sum();
            json!({
                "threshold": t,
                "false_reject_rate": m as f64 / said.len().max(1) as f64,
                "false_accepts_per_hour": fa as f64 / hours.max(1e-9),
            })
        })
        .collect();
    // The live detector, block by block, on a minute of speech.
    let minute: Vec<f32> = said
        .iter()
        .flat_map(|s| s.1.iter().copied())
        .take(60 * SR)
        .collect();
    let mut det = wake::Detector::new(model.clone())?;
    let mut found = Vec::new();
    let t = Instant::now();
    for block in minute.chunks(160) {
        det.push(block, &mut found);
    }
    let live_x = minute.len() as f64 / SR as f64 / t.elapsed().as_secs_f64().max(1e-9);
    let frr = missed.len() as f64 / said.len().max(1) as f64;
    let fa_hour = accepts as f64 / hours.max(1e-9);
    let size = model.to_bytes()?.len();
    let report = json!({
        "phrase": model.phrase(),
        "threshold": model.threshold(),
        "held_out_phrases": said.len(),
        "false_rejects": missed.len(),
        "false_reject_rate": frr,
        "missed": missed,
        "hours_without_phrase": hours,
        "false_accepts": accepts,
        "false_accepts_per_hour": fa_hour,
        "sources": sources,
        "times_real_time_whole_recording": hours * 3600.0 / busy.max(1e-9),
        "times_real_time_live": live_x,
        "model_bytes": size,
        "parameters": model.parameters(),
        "thresholds": sweep,
        "by_voice": by_voice
            .iter()
            .map(|(k, (n, m))| json!({"voice": k, "said": n, "missed": m}))
            .collect::<Vec<_>>(),
    });
    if json_out {
        writeln!(out, "{report}")?;
    } else {
        writeln!(
            out,
            "\"{}\" at threshold {:.2}: {} of {} held-out phrases missed ({:.1}% false rejects); {} false accepts in {:.2} hours without it ({:.2} an hour); {:.0}x real time live, {:.0}x on whole recordings; {} parameters, {:.0} KB",
            model.phrase(),
            model.threshold(),
            missed.len(),
            said.len(),
            100.0 * frr,
            accepts,
            hours,
            fa_hour,
            live_x,
            hours * 3600.0 / busy.max(1e-9),
            model.parameters(),
            size as f64 / 1024.0
        )?;
        for (k, (n, m)) in &by_voice {
            writeln!(out, "  {k}: {m} of {n} missed")?;
        }
        for t in &sweep {
            writeln!(
                out,
                "  at {:.2}: {:.1}% false rejects, {:.2} false accepts an hour",
                t["threshold"].as_f64().unwrap_or(0.0),
                100.0 * t["false_reject_rate"].as_f64().unwrap_or(0.0),
                t["false_accepts_per_hour"].as_f64().unwrap_or(0.0)
            )?;
        }
        for s in &sources {
            writeln!(
                out,
                "  {}: {:.2} h, {} false accepts",
                s["source"].as_str().unwrap_or(""),
                s["hours"].as_f64().unwrap_or(0.0),
                s["false_accepts"]
            )?;
        }
    }
    Ok(())
}
