//! Judging a soak: live traffic watched in samples against thresholds for
//! error rate and latency.

use serde::{Deserialize, Serialize};
use specta::Type;

/// One observation of live traffic during a soak.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SoakSample {
    pub requests: u32,
    pub errors: u32,
    pub p95_ms: Option<f64>,
    pub notes: Vec<String>,
    /// How long this sample watched, in milliseconds: a soak ends when its
    /// samples together have watched for its whole length, however long the
    /// app was stopped in between.
    #[serde(default)]
    pub observed_ms: u32,
    /// Answers that came from a version other than the one being soaked
    /// (the target names the version that answered; 0 when it cannot). Any
    /// is a breach: the soak would otherwise judge the wrong release.
    #[serde(default)]
    pub other_version: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Type)]
#[serde(rename_all = "camelCase")]
pub struct SoakThresholds {
    /// Highest error rate, in percent of requests, in any one sample.
    pub max_error_rate_pct: f64,
    /// Highest 95th-percentile latency, in milliseconds, in any one sample.
    pub max_p95_ms: f64,
    /// Fewer requests than this in a sample means the service is not
    /// answering at the expected rate: the sample cannot vouch for it.
    pub min_requests: u32,
}

impl Default for SoakThresholds {
    /// Conservative defaults for a web service: 1 % errors, 500 ms p95.
    fn default() -> Self {
        Self {
            max_error_rate_pct: 1.0,
            max_p95_ms: 500.0,
            min_requests: 5,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SoakVerdict {
    /// Nothing wrong so far; keep watching until the soak ends.
    Healthy,
    /// A threshold was crossed: the reason, naming the figure and the limit.
    Breached(String),
}

/// Judges the samples so far: the first breach decides.
pub fn judge_soak(samples: &[SoakSample], thresholds: &SoakThresholds) -> SoakVerdict {
    for (i, s) in samples.iter().enumerate() {
        let n = i + 1;
        if s.other_version > 0 {
            let seen = s.notes.join("; ");
            return SoakVerdict::Breached(format!(
                "sample {n}: {} of {} answers came from another version than the one being soaked ({seen}): traffic is not on this release",
                s.other_version, s.requests
            ));
        }
        if s.requests < thresholds.min_requests {
            let note = s
                .notes
                .first()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            return SoakVerdict::Breached(format!(
                "sample {n}: only {} requests answered, fewer than the {} expected{note}",
                s.requests, thresholds.min_requests
            ));
        }
        let rate = f64::from(s.errors) * 100.0 / f64::from(s.requests);
        if rate > thresholds.max_error_rate_pct {
            return SoakVerdict::Breached(format!(
                "sample {n}: error rate {rate:.1}% ({} of {} requests) is over the {:.1}% threshold",
                s.errors, s.requests, thresholds.max_error_rate_pct
            ));
        }
        match s.p95_ms {
            Some(p95) if p95 > thresholds.max_p95_ms => {
                return SoakVerdict::Breached(format!(
                    "sample {n}: p95 latency {p95:.0} ms is over the {:.0} ms threshold",
                    thresholds.max_p95_ms
                ))
            }
            _ => {}
        }
    }
    SoakVerdict::Healthy
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(requests: u32, errors: u32, p95: f64) -> SoakSample {
        SoakSample {
            requests,
            errors,
            p95_ms: Some(p95),
            notes: vec![],
            observed_ms: 1_000,
            other_version: 0,
        }
    }

    #[test]
    fn answers_from_another_version_fail_the_soak() {
        let mut s = sample(100, 0, 20.0);
        s.other_version = 100;
        s.notes.push("100 answers from version 1.0.0".into());
        let SoakVerdict::Breached(why) = judge_soak(&[s], &SoakThresholds::default()) else {
            panic!("a soak of the wrong version passed")
        };
        assert!(why.contains("100 of 100") && why.contains("1.0.0"), "{why}");
    }

    #[test]
    fn thresholds_are_judged_per_sample_and_name_the_figures() {
        let t = SoakThresholds::default();
        assert_eq!(judge_soak(&[], &t), SoakVerdict::Healthy);
        assert_eq!(
            judge_soak(&[sample(100, 1, 20.0)], &t),
            SoakVerdict::Healthy
        );
        let SoakVerdict::Breached(why) =
            judge_soak(&[sample(100, 0, 20.0), sample(50, 2, 20.0)], &t)
        else {
            panic!("2 % errors passed")
        };
        assert!(
            why.contains("sample 2") && why.contains("4.0%") && why.contains("2 of 50"),
            "{why}"
        );
        let SoakVerdict::Breached(why) = judge_soak(&[sample(100, 0, 700.0)], &t) else {
            panic!("slow passed")
        };
        assert!(why.contains("700 ms") && why.contains("500 ms"), "{why}");
    }

    #[test]
    fn a_silent_service_fails_the_soak_with_what_was_noticed() {
        let mut s = sample(0, 0, 0.0);
        s.p95_ms = None;
        s.notes.push("the green leg's process exited".into());
        let SoakVerdict::Breached(why) = judge_soak(&[s], &SoakThresholds::default()) else {
            panic!("silence passed")
        };
        assert!(
            why.contains("only 0 requests") && why.contains("process exited"),
            "{why}"
        );
    }
}
