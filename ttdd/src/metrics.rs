//! Human-likeness: the suite's conversations set against human ones. Turn
//! gaps (humans leave about 200 ms between turns, Stivers et al. 2009),
//! speech over the user, interruptions and the time to yield, tolerance of
//! backchannels, variety of replies, task success.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::runner::{Outcome, Status};

/// A distribution, ms.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Dist {
    /// How many.
    pub count: usize,
    /// Median.
    pub p50: Option<f64>,
    /// 95th percentile (nearest rank).
    pub p95: Option<f64>,
    /// Mean.
    pub mean: Option<f64>,
}

/// Nearest-rank distribution of `v` (the session profile's statistics).
pub fn dist(v: &[f64]) -> Dist {
    let s = ainima::session::profile::stats(v);
    Dist {
        count: v.len(),
        p50: s.as_ref().map(|s| s.p50),
        p95: s.as_ref().map(|s| s.p95),
        mean: s.as_ref().map(|s| s.mean),
    }
}

/// One metric beside its human reference.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Metric<T> {
    /// Ours.
    pub value: T,
    /// What people do, or the goal where there is no human figure.
    pub reference: &'static str,
}

/// The suite's human-likeness metrics.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HumanLikeness {
    /// End of the user's speech to the assistant's first audio.
    pub turn_gap_ms: Metric<Dist>,
    /// Share of replies begun while the user was still speaking.
    pub speech_over_user_rate: Metric<f64>,
    /// Share of replies the user interrupted.
    pub interruption_rate: Metric<f64>,
    /// The user's onset to the assistant's silence, when interrupted.
    pub time_to_yield_ms: Metric<Dist>,
    /// Share of backchannels the assistant talked on through.
    pub backchannel_tolerance: Metric<Option<f64>>,
    /// Distinct replies over replies.
    pub reply_variety: Metric<f64>,
    /// Share of scenarios that passed (skipped ones aside).
    pub task_success: Metric<f64>,
}

/// The metrics over `outcomes`.
pub fn human_likeness(outcomes: &[Outcome]) -> HumanLikeness {
    let ran: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.status != Status::Skipped)
        .collect();
    let gaps: Vec<f64> = ran
        .iter()
        .flat_map(|o| o.measures.gaps_ms.clone())
        .collect();
    let yields: Vec<f64> = ran
        .iter()
        .flat_map(|o| o.measures.yield_ms.clone())
        .collect();
    let sum = |f: &dyn Fn(&Outcome) -> usize| ran.iter().map(|o| f(o)).sum::<usize>();
    let started = sum(&|o| o.measures.replies_started);
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let (bc_total, bc_resumed) = (
        sum(&|o| o.measures.backchannels.0),
        sum(&|o| o.measures.backchannels.1),
    );
    let replies: Vec<&String> = ran.iter().flat_map(|o| o.measures.replies.iter()).collect();
    let distinct: BTreeSet<&String> = replies.iter().copied().collect();
    HumanLikeness {
        turn_gap_ms: Metric {
            value: dist(&gaps),
            reference: "people: about 200 ms between turns (Stivers et al. 2009)",
        },
        speech_over_user_rate: Metric {
            value: ratio(sum(&|o| o.measures.spoke_over_user), started),
            reference: "goal: 0 (the assistant never starts over the user)",
        },
        interruption_rate: Metric {
            value: ratio(sum(&|o| o.measures.interrupted), started),
            reference: "as often as the scenarios interrupt",
        },
        time_to_yield_ms: Metric {
            value: dist(&yields),
            reference: "goal: p95 at most 120 ms",
        },
        backchannel_tolerance: Metric {
            value: (bc_total > 0).then(|| ratio(bc_resumed, bc_total)),
            reference: "people talk on through \"mm-hmm\": goal above 0.95",
        },
        reply_variety: Metric {
            value: ratio(distinct.len(), replies.len()),
            reference: "people rarely repeat a reply word for word",
        },
        task_success: Metric {
            value: ratio(
                ran.iter().filter(|o| o.status == Status::Passed).count(),
                ran.len(),
            ),
            reference: "goal: 1.0",
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distributions_are_nearest_rank() {
        let d = dist(&[300.0, 100.0, 200.0, 400.0]);
        assert_eq!((d.p50, d.p95, d.count), (Some(200.0), Some(400.0), 4));
        assert_eq!(d.mean, Some(250.0));
        assert_eq!(dist(&[]).p50, None);
    }
}
