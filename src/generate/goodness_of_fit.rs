//! Goodness-of-fit helpers for the generator tests: Pearson's chi-square and Kolmogorov–Smirnov,
//! each with its critical value at p = 0.001, so a correct generator fails a test about once in a
//! thousand seeds (and our seeds are fixed), while a wrong table or offset fails it outright.
//!
//! Pure and dependency-free on purpose: the tests must not share code with what they test.

/// How many of `values` are each of `all` (every value must be one of them): the observed
/// counts [`chi_square`] compares with weights in the same order.
pub fn counts<T: PartialEq>(all: &[T], values: impl Iterator<Item = T>) -> Vec<u64> {
    let mut out = vec![0u64; all.len()];
    for v in values {
        out[all.iter().position(|a| *a == v).expect("a known value")] += 1;
    }
    out
}

/// Pearson's chi-square statistic of `observed` counts against expected shares proportional to
/// `weights` (which need not sum to 1).
pub fn chi_square(observed: &[u64], weights: &[f64]) -> f64 {
    assert_eq!(observed.len(), weights.len());
    let n = observed.iter().sum::<u64>() as f64;
    let total: f64 = weights.iter().sum();
    observed
        .iter()
        .zip(weights)
        .map(|(&o, &w)| {
            let e = n * w / total;
            (o as f64 - e).powi(2) / e
        })
        .sum()
}

/// Upper 0.1 % point of the chi-square distribution with `df` degrees of freedom: exact table
/// values up to 30, the Wilson–Hilferty approximation above (within 0.2 % there).
pub fn chi_square_critical(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        10.828, 13.816, 16.266, 18.467, 20.515, 22.458, 24.322, 26.124, 27.877, 29.588, 31.264,
        32.909, 34.528, 36.123, 37.697, 39.252, 40.790, 42.312, 43.820, 45.315, 46.797, 48.268,
        49.728, 51.179, 52.620, 54.052, 55.476, 56.892, 58.301, 59.703,
    ];
    if df <= TABLE.len() {
        return TABLE[df - 1];
    }
    // z of the upper 0.1 % of the standard normal.
    const Z: f64 = 3.090_232;
    let k = df as f64;
    let c = 2.0 / (9.0 * k);
    k * (1.0 - c + Z * c.sqrt()).powi(3)
}

/// Asserts that `observed` counts fit shares proportional to `weights` at p = 0.001.
pub fn assert_fits(what: &str, observed: &[u64], weights: &[f64]) {
    let stat = chi_square(observed, weights);
    let critical = chi_square_critical(observed.len() - 1);
    assert!(
        stat < critical,
        "{what}: chi-square {stat:.1} ≥ {critical} (df {}), counts {observed:?}",
        observed.len() - 1
    );
}

/// Kolmogorov–Smirnov D of a sample against a continuous CDF; `sorted` must be ascending.
pub fn ks_continuous(sorted: &[f64], cdf: impl Fn(f64) -> f64) -> f64 {
    let n = sorted.len() as f64;
    sorted
        .iter()
        .enumerate()
        .map(|(i, &x)| {
            let f = cdf(x);
            (f - i as f64 / n).max((i + 1) as f64 / n - f)
        })
        .fold(0.0, f64::max)
}

/// Kolmogorov–Smirnov D of an integer sample against a discrete CDF on `lo..=hi`
/// (`cdf(k)` = P(X ≤ k)): both step functions jump only at integers, so comparing them at every
/// integer of the support is exact. The test is conservative for discrete laws.
pub fn ks_discrete(sample: &[u32], lo: u32, hi: u32, cdf: impl Fn(u32) -> f64) -> f64 {
    let mut counts = vec![0u64; (hi - lo + 1) as usize];
    for &x in sample {
        counts[(x - lo) as usize] += 1;
    }
    let n = sample.len() as f64;
    let mut below = 0u64;
    let mut d: f64 = 0.0;
    for (k, c) in (lo..=hi).zip(counts) {
        below += c;
        d = d.max((below as f64 / n - cdf(k)).abs());
    }
    d
}

/// KS critical value at p ≈ 0.001 for a sample of `n` (asymptotic, fine for n in the thousands).
pub fn ks_critical(n: usize) -> f64 {
    1.95 / (n as f64).sqrt()
}

/// Standard normal CDF (Abramowitz & Stegun 7.1.26, absolute error below 1.5e-7 — far below any
/// KS critical value we use).
pub fn normal_cdf(z: f64) -> f64 {
    let x = z.abs() / std::f64::consts::SQRT_2;
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let poly = t
        * (0.254_829_592
            + t * (-0.284_496_736
                + t * (1.421_413_741 + t * (-1.453_152_027 + t * 1.061_405_429))));
    let erfc = poly * (-x * x).exp();
    if z >= 0.0 {
        1.0 - erfc / 2.0
    } else {
        erfc / 2.0
    }
}

/// The `q` quantile of an ascending sample (nearest rank).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[i - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chi_square_by_hand() {
        // Expected 50/50 of 100: (60-50)²/50 + (40-50)²/50 = 4.
        assert!((chi_square(&[60, 40], &[1.0, 1.0]) - 4.0).abs() < 1e-12);
        assert!((chi_square(&[25, 75], &[1.0, 3.0])).abs() < 1e-12);
    }

    #[test]
    fn wilson_hilferty_meets_the_table() {
        // At df 30 the approximation is within 0.2 % of the table; at df 167 the exact value is
        // 229.21.
        let k = 30.0;
        let c = 2.0 / (9.0 * k);
        let approx = k * (1.0 - c + 3.090_232 * f64::sqrt(c)).powi(3);
        assert!(
            (approx / chi_square_critical(30) - 1.0).abs() < 2e-3,
            "{approx}"
        );
        assert!((chi_square_critical(167) - 229.21).abs() < 0.1);
    }

    #[test]
    fn normal_cdf_known_values() {
        for (z, p) in [
            (0.0, 0.5),
            (1.0, 0.841_344_746),
            (-1.959_964, 0.025),
            (3.0, 0.998_650_102),
        ] {
            assert!(
                (normal_cdf(z) - p).abs() < 2e-7,
                "Φ({z}) = {}",
                normal_cdf(z)
            );
        }
    }

    #[test]
    fn ks_tells_uniform_from_skewed() {
        let uniform: Vec<f64> = (0..1000).map(|i| (i as f64 + 0.5) / 1000.0).collect();
        assert!(ks_continuous(&uniform, |x| x) < 0.001);
        let squared: Vec<f64> = uniform.iter().map(|x| x * x).collect();
        assert!(ks_continuous(&squared, |x| x) > ks_critical(1000));
        let dice: Vec<u32> = (0..600).map(|i| i % 6 + 1).collect();
        assert!(ks_discrete(&dice, 1, 6, |k| f64::from(k) / 6.0) < 1e-12);
        assert!(ks_discrete(&dice, 1, 6, |k| (f64::from(k) / 6.0).powi(2)) > 0.2);
    }

    #[test]
    fn quantile_is_nearest_rank() {
        let xs: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&xs, 0.01), 1.0);
        assert_eq!(quantile(&xs, 0.99), 99.0);
        assert_eq!(quantile(&xs, 1.0), 100.0);
    }
}
