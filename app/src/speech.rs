//! Synthesised speech for the demo and benchmarks, through the espeak-ng
//! command. (The session's own text-to-speech, in process, is a later stage.)

use std::path::Path;

use anyhow::{Context, Result};

/// `text` spoken by espeak-ng (voice en-us, 160 words a minute) at 16 kHz mono.
pub fn espeak(text: &str) -> Result<Vec<f32>> {
    espeak_voice(text, "en-us", 160)
}

/// `text` spoken by espeak-ng in `voice` at `wpm` words a minute, 16 kHz mono.
pub fn espeak_voice(text: &str, voice: &str, wpm: u32) -> Result<Vec<f32>> {
    let voice = ainima::tts::Voice {
        name: voice.to_string(),
        rate_wpm: wpm,
        ..Default::default()
    };
    Ok(ainima::tts::espeak::speak_fresh(text, &voice)?)
}

/// The assistant's monologue used by the demo and the echo benchmark (about 17 s).
pub const MONOLOGUE: &str = "Here is the weather for today. It will be sunny in the morning, \
with clouds in the afternoon and a light breeze from the west. Tonight, expect some rain \
after nine o'clock, and temperatures falling to about eight degrees. Tomorrow looks much \
the same, so keep an umbrella by the door.";

/// Twenty short commands of the kind the built-in skills take, for testing
/// recognition of synthesised speech.
pub const COMMANDS: [&str; 20] = [
    "turn on the kitchen lights",
    "dim the bedroom lights",
    "set a timer for ten minutes",
    "what time is it",
    "turn off the living room lamp",
    "set an alarm for seven thirty",
    "open firefox",
    "pause the music",
    "next song",
    "turn the volume up",
    "make me a large espresso",
    "order a coffee with two shots",
    "move forward two meters",
    "turn left ninety degrees",
    "add milk to the shopping list",
    "send a message to alice",
    "what is twelve times eight",
    "convert five miles to kilometers",
    "cancel the timer",
    "set the bedroom lights to blue",
];

/// The words the built-in skills expect: device, app, list and contact
/// names and the commands' key words (Whisper's prompt, for biasing).
pub const SKILL_WORDS: &str = "Kitchen lights, bedroom lights, living room lamp, timer, alarm, Firefox, \
music, song, volume, espresso, coffee, shots, robot, forward, degrees, shopping list, message, Alice, \
kilometers, miles, dim, blue.";

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
