//! Where each turn's time goes, on the session's clock: a timeline per turn
//! (speech end, turn decided, words, first reply audio) and a histogram per
//! stage, printed at the end of a run and written as JSON.

use std::collections::BTreeMap;

use serde::Serialize;

/// One turn's timeline, seconds of session time.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Timeline {
    /// The end of the user's last voiced frame.
    pub speech_end: f64,
    /// When the turn was judged over.
    pub decided_at: f64,
    /// When the final words were known.
    pub stt_final: Option<f64>,
    /// When the reply's first audio went to the speaker.
    pub first_audio: Option<f64>,
}

impl Timeline {
    /// End of speech to first reply audio, ms.
    pub fn voice_to_voice_ms(&self) -> Option<f64> {
        self.first_audio.map(|f| (f - self.speech_end) * 1000.0)
    }
}

/// Summary statistics of one stage, ms.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// How many.
    pub count: usize,
    /// Median.
    pub p50: f64,
    /// 95th percentile (nearest rank).
    pub p95: f64,
    /// Largest.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

/// Nearest-rank statistics of `v`.
pub fn stats(v: &[f64]) -> Option<Stats> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let rank = |p: f64| s[((p * s.len() as f64).ceil() as usize).clamp(1, s.len()) - 1];
    Some(Stats {
        count: s.len(),
        p50: rank(0.5),
        p95: rank(0.95),
        max: s[s.len() - 1],
        mean: s.iter().sum::<f64>() / s.len() as f64,
    })
}

/// Every turn and stage of a session.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Profile {
    /// Turn by turn.
    pub turns: Vec<Timeline>,
    /// Stage costs, ms: `stt`, `agent`, `tts_first`.
    pub stages: BTreeMap<String, Vec<f64>>,
    /// Barge-in stop latencies, ms (user onset to the assistant's silence).
    pub barge_in_ms: Vec<f64>,
}

impl Profile {
    /// A new turn; its index.
    pub fn begin(&mut self, speech_end: f64, decided_at: f64) -> usize {
        self.turns.push(Timeline {
            speech_end,
            decided_at,
            ..Timeline::default()
        });
        self.turns.len() - 1
    }

    /// The latest turn's index (0 before any).
    pub fn current(&self) -> usize {
        self.turns.len().saturating_sub(1)
    }

    /// A stage's cost.
    pub fn stage(&mut self, name: &str, ms: f64) {
        self.stages.entry(name.to_string()).or_default().push(ms);
    }

    /// When the latest turn's final words were known (the first time only).
    pub fn stt_final(&mut self, t: f64) {
        if let Some(turn) = self.turns.last_mut() {
            turn.stt_final.get_or_insert(t);
        }
    }

    /// The first audio of the reply to `turn`.
    pub fn first_audio(&mut self, turn: usize, t: f64) {
        if let Some(tl) = self.turns.get_mut(turn)
            && tl.first_audio.is_none()
        {
            tl.first_audio = Some(t);
        }
    }

    /// A barge-in's stop latency.
    pub fn barge_in(&mut self, ms: f64) {
        self.barge_in_ms.push(ms);
    }

    /// Every histogram: the stages, `endpoint` (speech end to decision),
    /// `voice_to_voice` and `barge_in_stop`.
    pub fn summary(&self) -> BTreeMap<String, Stats> {
        let mut out = BTreeMap::new();
        for (name, v) in &self.stages {
            if let Some(s) = stats(v) {
                out.insert(name.clone(), s);
            }
        }
        let endpoint: Vec<f64> = self
            .turns
            .iter()
            .map(|t| (t.decided_at - t.speech_end) * 1000.0)
            .collect();
        let v2v: Vec<f64> = self
            .turns
            .iter()
            .filter_map(Timeline::voice_to_voice_ms)
            .collect();
        for (name, v) in [
            ("endpoint", endpoint),
            ("voice_to_voice", v2v),
            ("barge_in_stop", self.barge_in_ms.clone()),
        ] {
            if let Some(s) = stats(&v) {
                out.insert(name.to_string(), s);
            }
        }
        out
    }

    /// The summary as a table.
    pub fn table(&self) -> String {
        let mut out = format!(
            "{:<16} {:>6} {:>9} {:>9} {:>9}\n",
            "stage (ms)", "count", "median", "p95", "max"
        );
        for (name, s) in self.summary() {
            out.push_str(&format!(
                "{name:<16} {:>6} {:>9.1} {:>9.1} {:>9.1}\n",
                s.count, s.p50, s.p95, s.max
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        let s = stats(&v).expect("stats");
        assert_eq!((s.p50, s.p95, s.max, s.count), (10.0, 19.0, 20.0, 20));
        assert!(stats(&[]).is_none());
        assert_eq!(stats(&[3.0]).expect("one").p95, 3.0);
    }

    #[test]
    fn voice_to_voice_runs_from_speech_end_to_first_audio() {
        let mut p = Profile::default();
        let t = p.begin(1.0, 1.2);
        p.first_audio(t, 1.3);
        p.first_audio(t, 9.0); // only the first counts
        let s = p.summary();
        assert!((s["voice_to_voice"].p50 - 300.0).abs() < 1e-9);
        assert!((s["endpoint"].p50 - 200.0).abs() < 1e-9);
        assert!(p.table().contains("voice_to_voice"));
    }
}
