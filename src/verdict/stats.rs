//! The statistics behind slice states: the Wilson score interval for an error ratio, the normal
//! quantile that turns a confidence into z, and a median.
//!
//! Pure functions on numbers; nothing here knows about slices or observations.

use std::time::Duration;

/// A two-sided interval for an unknown proportion, both ends in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// The lower bound.
    pub low: f64,
    /// The upper bound.
    pub high: f64,
}

/// The Wilson score interval for `failures` out of `requests` at normal quantile `z`.
///
/// Unlike the textbook `p ± z·sqrt(p(1-p)/n)`, it stays inside [0, 1] and does not collapse to a
/// single point at 0 or n failures, so three successes out of three still leave a wide interval.
/// No requests gives the uninformative [0, 1].
pub fn wilson(failures: u64, requests: u64, z: f64) -> Interval {
    if requests == 0 {
        return Interval {
            low: 0.0,
            high: 1.0,
        };
    }

    let n = requests as f64;
    let ratio = failures.min(requests) as f64 / n;
    let z2 = z * z;
    let denominator = 1.0 + z2 / n;
    let centre = (ratio + z2 / (2.0 * n)) / denominator;
    let half_width = z / denominator * (ratio * (1.0 - ratio) / n + z2 / (4.0 * n * n)).sqrt();

    Interval {
        low: (centre - half_width).clamp(0.0, 1.0),
        high: (centre + half_width).clamp(0.0, 1.0),
    }
}

/// The z of a two-sided interval at `confidence` (e.g. 0.95 → 1.96): the standard normal
/// quantile at `(1 + confidence) / 2`. `confidence` must lie strictly between 0 and 1.
pub fn z_for_confidence(confidence: f64) -> f64 {
    normal_quantile((1.0 + confidence) / 2.0)
}

/// The standard normal quantile (inverse CDF) at probability `p` in (0, 1).
///
/// Uses Peter Acklam's rational approximation: one rational function for the central region
/// and another in `sqrt(-2 ln q)` for each tail. Its relative error stays below about 1.2e-9,
/// far finer than any decision the verdict takes.
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    const CENTRAL_EDGE: f64 = 0.024_25;

    // Horner's scheme over coefficients listed from the highest power down.
    let poly = |coefficients: &[f64], x: f64| coefficients.iter().fold(0.0, |acc, c| acc * x + c);

    if p <= 0.0 {
        return f64::NEG_INFINITY;
    }
    if p >= 1.0 {
        return f64::INFINITY;
    }

    if p < CENTRAL_EDGE {
        let q = (-2.0 * p.ln()).sqrt();
        poly(&C, q) / (poly(&D, q) * q + 1.0)
    } else if p <= 1.0 - CENTRAL_EDGE {
        let q = p - 0.5;
        let r = q * q;
        poly(&A, r) * q / (poly(&B, r) * r + 1.0)
    } else {
        let q = (-2.0 * (1.0 - p).ln()).sqrt();
        -poly(&C, q) / (poly(&D, q) * q + 1.0)
    }
}

/// The median of `durations`, `None` when empty. With an even count it is the mean of the two
/// middle values. Sorts the slice in place.
pub fn median(durations: &mut [Duration]) -> Option<Duration> {
    if durations.is_empty() {
        return None;
    }

    durations.sort_unstable();
    let middle = durations.len() / 2;
    if durations.len() % 2 == 1 {
        Some(durations[middle])
    } else {
        Some((durations[middle - 1] + durations[middle]) / 2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const Z95: f64 = 1.959_963_984_540_054;

    fn assert_close(actual: f64, expected: f64, tolerance: f64) {
        assert!(
            (actual - expected).abs() <= tolerance,
            "expected {expected}, got {actual}"
        );
    }

    #[test]
    fn wilson_matches_known_values() {
        // Reference values computed independently from the closed form.
        let cases = [
            (5, 10, 0.236_593, 0.763_407),
            (0, 10, 0.0, 0.277_533),
            (10, 100, 0.055_229, 0.174_366),
            (1, 3, 0.061_492, 0.792_340),
            (10, 10, 0.722_467, 1.0),
            (3, 5, 0.230_724, 0.882_379),
        ];
        for (failures, requests, low, high) in cases {
            let interval = wilson(failures, requests, Z95);
            assert_close(interval.low, low, 1e-6);
            assert_close(interval.high, high, 1e-6);
        }
    }

    #[test]
    fn wilson_without_requests_is_uninformative() {
        assert_eq!(
            wilson(0, 0, Z95),
            Interval {
                low: 0.0,
                high: 1.0
            }
        );
    }

    #[test]
    fn wilson_narrows_as_requests_grow() {
        let small = wilson(2, 10, Z95);
        let large = wilson(200, 1000, Z95);

        assert!(large.high - large.low < small.high - small.low);
        assert!(large.low < 0.2 && large.high > 0.2);
    }

    #[test]
    fn z_matches_normal_quantiles() {
        assert_close(z_for_confidence(0.90), 1.644_853_627, 1e-8);
        assert_close(z_for_confidence(0.95), Z95, 1e-8);
        assert_close(z_for_confidence(0.99), 2.575_829_304, 1e-8);
        assert_close(z_for_confidence(0.999), 3.290_526_731, 1e-8);
        assert_close(normal_quantile(0.5), 0.0, 1e-12);
        assert_close(normal_quantile(0.01), -2.326_347_874, 1e-8);
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        let secs = |values: &[u64]| values.iter().map(|&s| Duration::from_secs(s)).collect();

        let mut odd: Vec<Duration> = secs(&[60, 1, 59]);
        assert_eq!(median(&mut odd), Some(Duration::from_secs(59)));

        let mut even: Vec<Duration> = secs(&[1, 3, 10, 2]);
        assert_eq!(median(&mut even), Some(Duration::from_millis(2500)));

        assert_eq!(median(&mut []), None);
    }
}
