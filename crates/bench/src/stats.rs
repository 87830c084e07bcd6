//! Summaries of timing samples: nearest-rank percentiles over sorted samples.

/// The nearest-rank percentile of samples sorted ascending: the smallest
/// sample such that at least `percent`% of all samples are less than or equal
/// to it (rank ⌈percent × n / 100⌉, 1-based). No interpolation, so every figure
/// reported is a time that was actually measured. Integer arithmetic keeps the
/// rank exact (0.99 × 300 in floating point is not exactly 297).
pub fn percentile(sorted: &[f64], percent: u32) -> Option<f64> {
    if sorted.is_empty() || percent > 100 {
        return None;
    }
    let n = sorted.len();
    let rank = (percent as usize * n).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// What the report shows about one set of samples, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub count: usize,
    pub min: f64,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
}

impl Summary {
    /// `None` for no samples: there is nothing to summarise.
    pub fn of(mut samples: Vec<f64>) -> Option<Summary> {
        samples.sort_by(f64::total_cmp);
        Some(Summary {
            count: samples.len(),
            min: *samples.first()?,
            p50: percentile(&samples, 50)?,
            p99: percentile(&samples, 99)?,
            max: *samples.last()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_to(n: usize) -> Vec<f64> {
        (1..=n).map(|i| i as f64).collect()
    }

    #[test]
    fn nearest_rank_on_three_hundred_samples() {
        let s = one_to(300);
        assert_eq!(percentile(&s, 50), Some(150.0));
        assert_eq!(percentile(&s, 99), Some(297.0));
        assert_eq!(percentile(&s, 100), Some(300.0));
        assert_eq!(percentile(&s, 0), Some(1.0));
    }

    #[test]
    fn nearest_rank_on_two_thousand_samples() {
        let s = one_to(2_000);
        assert_eq!(percentile(&s, 50), Some(1_000.0));
        assert_eq!(percentile(&s, 99), Some(1_980.0));
    }

    #[test]
    fn median_of_an_even_count_is_the_lower_middle() {
        assert_eq!(percentile(&[10.0, 20.0], 50), Some(10.0));
        assert_eq!(percentile(&one_to(5), 50), Some(3.0));
    }

    #[test]
    fn small_sets_take_the_top_sample_for_p99() {
        assert_eq!(percentile(&[7.0], 99), Some(7.0));
        assert_eq!(percentile(&one_to(10), 99), Some(10.0));
    }

    #[test]
    fn no_samples_or_a_bad_percent_gives_none() {
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[1.0], 101), None);
        assert_eq!(Summary::of(Vec::new()), None);
    }

    #[test]
    fn summary_sorts_its_samples() {
        let s = Summary::of(vec![5.0, 1.0, 4.0, 2.0, 3.0]).expect("five samples");
        assert_eq!(
            (s.count, s.min, s.p50, s.p99, s.max),
            (5, 1.0, 3.0, 5.0, 5.0)
        );
    }
}
