//! Latency summaries.

use serde::Serialize;
use std::time::Duration;

/// Percentiles of a set of durations, in milliseconds (nearest rank).
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Summary {
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Summary {
    /// Summarises `samples` (sorted in place). An empty set gives zeros and a count of 0.
    pub fn of(samples: &mut [Duration]) -> Self {
        if samples.is_empty() {
            return Self::default();
        }
        samples.sort_unstable();
        Self {
            count: samples.len(),
            p50_ms: millis(percentile(samples, 50.0)),
            p99_ms: millis(percentile(samples, 99.0)),
            max_ms: millis(samples[samples.len() - 1]),
        }
    }
}

/// The nearest-rank percentile of sorted, non-empty `samples`.
fn percentile(samples: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

/// A duration in milliseconds, rounded to microseconds.
pub fn millis(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

/// `courier / baseline`, rounded to two decimals; `None` when the baseline is 0.
pub fn ratio(courier: f64, baseline: f64) -> Option<f64> {
    (baseline > 0.0).then(|| (courier / baseline * 100.0).round() / 100.0)
}

/// The median of a non-empty set of durations.
pub fn median(samples: &mut [Duration]) -> Duration {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut samples: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        let summary = Summary::of(&mut samples);
        assert_eq!(summary.p50_ms, 50.0);
        assert_eq!(summary.p99_ms, 99.0);
        assert_eq!(summary.max_ms, 100.0);
    }

    #[test]
    fn an_empty_set_summarises_to_zeros() {
        assert_eq!(Summary::of(&mut []).count, 0);
    }
}
