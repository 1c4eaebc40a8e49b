//! Reports: JSON for tools (per-scenario results, the human-likeness
//! metrics, totals), JUnit XML for CI systems, and a self-contained HTML
//! page with latency histograms and a timeline of each failed dialogue.

use serde::Serialize;

use crate::metrics::{HumanLikeness, human_likeness};
use crate::runner::{Outcome, Status};

/// Totals over a suite.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Totals {
    /// Scenarios run or skipped.
    pub scenarios: usize,
    /// Passed.
    pub passed: usize,
    /// Failed.
    pub failed: usize,
    /// Skipped (the shared recordings are absent).
    pub skipped: usize,
    /// Seconds of conversation simulated.
    pub simulated_seconds: f64,
    /// Seconds it took; `null` with `--deterministic`, so that two runs give
    /// the same JSON (the console shows it).
    pub wall_seconds: Option<f64>,
}

/// A suite's report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Every scenario's result.
    pub scenarios: Vec<Outcome>,
    /// Human-likeness.
    pub metrics: HumanLikeness,
    /// Totals.
    pub totals: Totals,
    /// Regressions against the baseline and suite budgets missed, one
    /// sentence each.
    pub regressions: Vec<String>,
}

impl Report {
    /// The report over `outcomes`.
    pub fn new(outcomes: Vec<Outcome>, wall_seconds: Option<f64>) -> Report {
        let count = |s: Status| outcomes.iter().filter(|o| o.status == s).count();
        let totals = Totals {
            scenarios: outcomes.len(),
            passed: count(Status::Passed),
            failed: count(Status::Failed),
            skipped: count(Status::Skipped),
            simulated_seconds: (outcomes.iter().map(|o| o.simulated_seconds).sum::<f64>() * 1000.0)
                .round()
                / 1000.0,
            wall_seconds,
        };
        Report {
            metrics: human_likeness(&outcomes),
            scenarios: outcomes,
            totals,
            regressions: Vec::new(),
        }
    }

    /// Whether the suite passed (no failure, no regression).
    pub fn passed(&self) -> bool {
        self.totals.failed == 0 && self.regressions.is_empty()
    }

    /// Checks suite-level budgets: the share of scenarios that pass, and the
    /// turn gap's 95th percentile.
    pub fn budgets(&mut self, b: &SuiteBudgets) {
        let m = &self.metrics;
        let mut over = Vec::new();
        if let Some(min) = b.min_success
            && m.task_success.value < min
        {
            over.push(format!(
                "task success {:.3} is under the budget of {min:.3}",
                m.task_success.value
            ));
        }
        for (limit, p95, what) in [
            (b.max_gap_p95_ms, m.turn_gap_ms.value.p95, "turn gap"),
            (
                b.max_yield_p95_ms,
                m.time_to_yield_ms.value.p95,
                "time to yield",
            ),
        ] {
            if let (Some(max), Some(p95)) = (limit, p95)
                && p95 > max
            {
                over.push(format!(
                    "{what} p95 {p95:.0} ms is over the budget of {max:.0} ms"
                ));
            }
        }
        if let Some(min) = b.min_backchannel_tolerance
            && m.backchannel_tolerance.value.is_some_and(|t| t < min)
        {
            over.push(format!(
                "backchannel tolerance {:.3} is under the budget of {min:.3} (false barge-ins)",
                m.backchannel_tolerance.value.unwrap_or_default()
            ));
        }
        self.regressions.extend(over);
    }

    /// Checks against a baseline report's JSON: a p95 turn gap more than 10 %
    /// worse, or a lower task success, is a regression.
    pub fn compare(&mut self, baseline: &serde_json::Value) {
        let p95 = baseline["metrics"]["turn_gap_ms"]["value"]["p95"].as_f64();
        if let (Some(base), Some(now)) = (p95, self.metrics.turn_gap_ms.value.p95)
            && now > base * 1.1
        {
            self.regressions.push(format!(
                "turn gap p95 {now:.0} ms is more than 10 % over the baseline's {base:.0} ms"
            ));
        }
        let success = baseline["metrics"]["task_success"]["value"].as_f64();
        if let Some(base) = success
            && self.metrics.task_success.value < base - 1e-9
        {
            self.regressions.push(format!(
                "task success {:.3} is below the baseline's {base:.3}",
                self.metrics.task_success.value
            ));
        }
    }
}

fn xml(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .map(|c| match c {
            '&' => "&amp;".to_string(),
            '<' => "&lt;".to_string(),
            '>' => "&gt;".to_string(),
            '"' => "&quot;".to_string(),
            '\'' => "&apos;".to_string(),
            c => c.to_string(),
        })
        .collect()
}

/// JUnit XML: one test case a scenario.
pub fn junit(r: &Report) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n<testsuite name=\"ttdd\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3}\">\n",
        r.totals.scenarios, r.totals.failed, r.totals.skipped, r.totals.simulated_seconds
    );
    for o in &r.scenarios {
        out.push_str(&format!(
            "<testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\">",
            xml(&o.file),
            xml(&o.name),
            o.simulated_seconds
        ));
        match o.status {
            Status::Passed => {}
            Status::Skipped => out.push_str(&format!(
                "<skipped message=\"{}\"/>",
                xml(&o.failures.join("; "))
            )),
            Status::Failed => out.push_str(&format!(
                "<failure message=\"{}\">{}</failure>",
                xml(o.failures.first().map_or("", String::as_str)),
                xml(&o.failures.join("\n"))
            )),
        }
        out.push_str("</testcase>\n");
    }
    for reg in &r.regressions {
        out.push_str(&format!(
            "<testcase classname=\"baseline\" name=\"regression\"><failure message=\"{}\"/></testcase>\n",
            xml(reg)
        ));
    }
    out.push_str("</testsuite>\n</testsuites>\n");
    out
}

/// A bar chart of `v` in 100 ms bins, as inline SVG.
fn histogram(title: &str, v: &[f64]) -> String {
    if v.is_empty() {
        return format!("<h3>{}</h3><p>no data</p>", xml(title));
    }
    let bins = 20usize;
    let mut counts = vec![0usize; bins];
    for x in v {
        counts[((x / 100.0) as usize).min(bins - 1)] += 1;
    }
    let max = counts.iter().copied().max().unwrap_or(1).max(1);
    let mut svg = format!(
        "<h3>{}</h3><svg width=\"440\" height=\"140\" role=\"img\">",
        xml(title)
    );
    for (i, c) in counts.iter().enumerate() {
        let h = (*c as f64 / max as f64 * 100.0).round();
        svg.push_str(&format!(
            "<rect x=\"{}\" y=\"{}\" width=\"18\" height=\"{h}\" fill=\"#4a7\"><title>{}-{} ms: {c}</title></rect>",
            20 + i * 20,
            110.0 - h,
            i * 100,
            (i + 1) * 100
        ));
    }
    svg.push_str("<text x=\"20\" y=\"130\" font-size=\"11\">0</text><text x=\"200\" y=\"130\" font-size=\"11\">1 s</text><text x=\"380\" y=\"130\" font-size=\"11\">2 s+</text></svg>");
    svg
}

/// A self-contained HTML page.
pub fn html(r: &Report) -> String {
    let mut out = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>TTDD report</title><style>body{font-family:sans-serif;max-width:60em;margin:2em auto}td,th{padding:2px 8px;text-align:left}.failed{color:#b00}.passed{color:#070}.skipped{color:#777}pre{background:#f6f6f6;padding:8px}</style></head><body><h1>TTDD report</h1>",
    );
    out.push_str(&format!(
        "<p>{} scenarios: {} passed, {} failed, {} skipped; {:.1} s of conversation simulated.</p>",
        r.totals.scenarios,
        r.totals.passed,
        r.totals.failed,
        r.totals.skipped,
        r.totals.simulated_seconds
    ));
    for reg in &r.regressions {
        out.push_str(&format!("<p class=\"failed\">Regression: {}</p>", xml(reg)));
    }
    let m = &r.metrics;
    let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.0}"));
    out.push_str(
        "<h2>Human-likeness</h2><table><tr><th>metric</th><th>ours</th><th>reference</th></tr>",
    );
    for (name, value, reference) in [
        (
            "turn gap p50 / p95 (ms)",
            format!(
                "{} / {}",
                f(m.turn_gap_ms.value.p50),
                f(m.turn_gap_ms.value.p95)
            ),
            m.turn_gap_ms.reference,
        ),
        (
            "speech over the user",
            format!("{:.3}", m.speech_over_user_rate.value),
            m.speech_over_user_rate.reference,
        ),
        (
            "interruption rate",
            format!("{:.3}", m.interruption_rate.value),
            m.interruption_rate.reference,
        ),
        (
            "time to yield p50 / p95 (ms)",
            format!(
                "{} / {}",
                f(m.time_to_yield_ms.value.p50),
                f(m.time_to_yield_ms.value.p95)
            ),
            m.time_to_yield_ms.reference,
        ),
        (
            "backchannel tolerance",
            m.backchannel_tolerance
                .value
                .map_or("-".into(), |v| format!("{v:.3}")),
            m.backchannel_tolerance.reference,
        ),
        (
            "reply variety",
            format!("{:.3}", m.reply_variety.value),
            m.reply_variety.reference,
        ),
        (
            "task success",
            format!("{:.3}", m.task_success.value),
            m.task_success.reference,
        ),
    ] {
        out.push_str(&format!(
            "<tr><td>{name}</td><td>{}</td><td>{}</td></tr>",
            xml(&value),
            xml(reference)
        ));
    }
    out.push_str("</table><h2>Latency</h2>");
    let gaps: Vec<f64> = r
        .scenarios
        .iter()
        .flat_map(|o| o.measures.gaps_ms.clone())
        .collect();
    let yields: Vec<f64> = r
        .scenarios
        .iter()
        .flat_map(|o| o.measures.yield_ms.clone())
        .collect();
    out.push_str(&histogram(
        "Turn gap (end of speech to first reply audio)",
        &gaps,
    ));
    out.push_str(&histogram(
        "Time to yield (user onset to assistant silence)",
        &yields,
    ));
    out.push_str("<h2>Scenarios</h2><table><tr><th>scenario</th><th>result</th><th>file</th></tr>");
    for o in &r.scenarios {
        let st = match o.status {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        };
        out.push_str(&format!(
            "<tr><td>{}</td><td class=\"{st}\">{st}</td><td>{}</td></tr>",
            xml(&o.name),
            xml(&o.file)
        ));
    }
    out.push_str("</table>");
    for o in r.scenarios.iter().filter(|o| o.status == Status::Failed) {
        out.push_str(&format!("<h2 class=\"failed\">{}</h2><ul>", xml(&o.name)));
        for f in &o.failures {
            out.push_str(&format!("<li>{}</li>", xml(f)));
        }
        out.push_str("</ul><pre>");
        let mut lines: Vec<(f64, String)> = o
            .said
            .iter()
            .map(|(a, b, w)| (*a, format!("{a:>7.2} s  USER says {w:?} (until {b:.2} s)")))
            .collect();
        for e in &o.events {
            lines.push((e.t, format!("{:>7.2} s  {}", e.t, e.kind.describe())));
        }
        lines.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (_, l) in lines {
            out.push_str(&xml(&l));
            out.push('\n');
        }
        out.push_str("</pre>");
    }
    out.push_str("</body></html>\n");
    out
}

/// A suite's budgets: what the whole suite must reach, beside each
/// scenario's own.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SuiteBudgets {
    /// The share of scenarios that must pass (0 to 1).
    pub min_success: Option<f64>,
    /// The turn gap's 95th percentile at most, ms.
    pub max_gap_p95_ms: Option<f64>,
    /// The time to yield's (barge-in stop) 95th percentile at most, ms.
    pub max_yield_p95_ms: Option<f64>,
    /// The share of backchannels talked on through, at least (1 - the
    /// false barge-in rate).
    pub min_backchannel_tolerance: Option<f64>,
}
