//! Synthesised speech for the demo and benchmarks, through the espeak-ng
//! command. (The session's own text-to-speech, in process, is a later stage.)

use std::path::Path;

use anyhow::{Context, Result, bail};

/// `text` spoken by espeak-ng (voice en-us, 160 words a minute) at 16 kHz mono.
pub fn espeak(text: &str) -> Result<Vec<f32>> {
    let dir = std::env::temp_dir().join(format!("ainima-espeak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| dir.display().to_string())?;
    let wav = dir.join("speech.wav");
    let status = std::process::Command::new("espeak-ng")
        .args(["-v", "en-us", "-s", "160", "-w"])
        .arg(&wav)
        .arg(text)
        .status()
        .context("cannot run espeak-ng (apt-get install espeak-ng)")?;
    if !status.success() {
        bail!("espeak-ng failed: {status}");
    }
    let samples = ainima_audio::decode::load_16k_mono(&wav)?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(samples)
}

/// The assistant's monologue used by the demo and the echo benchmark (about 17 s).
pub const MONOLOGUE: &str = "Here is the weather for today. It will be sunny in the morning, \
with clouds in the afternoon and a light breeze from the west. Tonight, expect some rain \
after nine o'clock, and temperatures falling to about eight degrees. Tomorrow looks much \
the same, so keep an umbrella by the door.";

/// Every recording listed in `speech/MANIFEST.tsv` below `data`, as (relative path, full path).
pub fn recordings(data: &Path) -> Result<Vec<(String, std::path::PathBuf)>> {
    let manifest = data.join("speech/MANIFEST.tsv");
    let text = std::fs::read_to_string(&manifest)
        .with_context(|| format!("{} (set AINIMA_DATA_DIR or --data)", manifest.display()))?;
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|l| l.split('\t').next())
        .filter(|p| !p.is_empty())
        .map(|p| (p.to_string(), data.join("speech").join(p)))
        .collect())
}
