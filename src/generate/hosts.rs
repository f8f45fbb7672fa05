//! How the calls are spread over the hosts that serve them: a few hosts busy, most lightly loaded.

use super::rng;

/// Each host's load factor (its share of the calls × the number of hosts, so 1 on average):
/// Zipf-like, the host of rank k (a seeded order) carrying a share ∝ 1/k, so a few hosts run hot
/// and most sit low, as real fleets do (Barroso & Hölzle 2007; Azure public dataset 2019).
pub fn loads(hosts: u32, seed: u64, skew: f64) -> Vec<f64> {
    let n = hosts.max(1) as usize;
    let harmonic: f64 = (1..=n).map(|k| (k as f64).powf(-skew)).sum();
    let mut ranks: Vec<usize> = (1..=n).collect();
    // Fisher–Yates with the seed's own stream: which host is the busy one.
    let mut rng = rng::stream_rng(seed, u64::MAX - 2);
    for i in (1..n).rev() {
        ranks.swap(i, rng::below(&mut rng, i as u64 + 1) as usize);
    }
    ranks
        .into_iter()
        .map(|k| n as f64 * (k as f64).powf(-skew) / harmonic)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_few_hosts_run_hot_and_most_sit_low() {
        let load = loads(40, 7, 1.0);
        let mean = load.iter().sum::<f64>() / 40.0;
        assert!((mean - 1.0).abs() < 1e-9, "{mean}");
        // CPU bases are 20 % × the load: more than 40 % of hosts under 10 % (58 % of Azure VMs
        // average under 10 %), the busiest above 3 × the median.
        let mut sorted = load.clone();
        sorted.sort_by(f64::total_cmp);
        let low = sorted.iter().filter(|f| 20.0 * **f < 10.0).count();
        assert!((16..=28).contains(&low), "{low} of 40 under 10 %");
        assert!(sorted[39] > 3.0 * sorted[20], "{sorted:?}");
        // The seed picks which host is the busy one; the shares stay the same.
        let other = loads(40, 8, 1.0);
        assert_ne!(load, other);
        let mut o = other.clone();
        o.sort_by(f64::total_cmp);
        assert_eq!(o, sorted);
        assert_eq!(loads(1, 7, 1.0), vec![1.0]);
        // No skew: every host alike.
        assert!(loads(5, 7, 0.0).iter().all(|f| (f - 1.0).abs() < 1e-12));
    }
}
