//! Where a population's subscribers live: zones in proportion to their shares, each zone split
//! into equal blocks, one per area code.

use crate::generate::zones::{NANP, ZONES};

/// Where the subscribers live: the boundaries of the zones and of the area-code blocks.
#[derive(Debug)]
pub(super) struct Layout {
    /// First subscriber of each zone, then the population size.
    pub(super) zone_start: [u64; ZONES + 1],
    /// First subscriber of each area-code block, zone after zone in table order, then the size.
    pub(super) block_start: Vec<u64>,
    /// The area code of each block.
    pub(super) codes: Vec<u16>,
    /// Where to start looking for a subscriber's block: entry `j` is the block of the first
    /// subscriber `k` with `k · GUIDE / size = j`, so a lookup steps over a block or two instead
    /// of a binary search over a few hundred (three lookups a call).
    guide: Vec<u32>,
}

/// Entries of [`Layout::guide`]: a few times the number of area codes.
const GUIDE: u64 = 4096;

impl Layout {
    pub(super) fn new(size: u64) -> Self {
        // Largest remainders: every zone gets ⌊share × size⌋, the largest fractions one more.
        let exact: Vec<f64> = NANP.iter().map(|z| z.share / 100.0 * size as f64).collect();
        let mut counts: Vec<u64> = exact.iter().map(|x| x.floor() as u64).collect();
        let mut order: Vec<usize> = (0..ZONES).collect();
        order.sort_by(|&a, &b| {
            (exact[b] - exact[b].floor())
                .total_cmp(&(exact[a] - exact[a].floor()))
                .then(a.cmp(&b))
        });
        let short = size - counts.iter().sum::<u64>();
        for &z in order.iter().take(short as usize) {
            counts[z] += 1;
        }
        let mut zone_start = [0; ZONES + 1];
        let (mut block_start, mut codes) = (Vec::new(), Vec::new());
        for (z, zone) in NANP.iter().enumerate() {
            zone_start[z + 1] = zone_start[z] + counts[z];
            let m = zone.area_codes.len() as u64;
            for (j, &code) in zone.area_codes.iter().enumerate() {
                block_start.push(zone_start[z] + counts[z] * j as u64 / m);
                codes.push(code);
            }
        }
        block_start.push(size);
        let guide = (0..GUIDE)
            .map(|j| {
                let first = (j * size).div_ceil(GUIDE);
                block_start[1..].partition_point(|&s| s <= first) as u32
            })
            .collect();
        Self {
            zone_start,
            block_start,
            codes,
            guide,
        }
    }

    /// The area-code block of subscriber `k` (below the population's size): its index and its
    /// subscribers' range.
    #[inline]
    pub(super) fn block(&self, k: u64) -> (usize, u64, u64) {
        let size = self.block_start[self.block_start.len() - 1];
        let j = (k.min(size - 1) * GUIDE / size) as usize;
        let mut b = self.guide[j] as usize;
        while self.block_start[b + 1] <= k && b + 2 < self.block_start.len() {
            b += 1;
        }
        (b, self.block_start[b], self.block_start[b + 1])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guide_finds_the_block_a_binary_search_finds() {
        // Fewer subscribers than guide entries or area codes (empty blocks), and many more.
        for size in [2, 3, 700, 4_096, 10_007, 1_000_000, 100_000_000] {
            let layout = Layout::new(size);
            let step = (size / 50_000).max(1);
            let ks = (0..size).step_by(step as usize).chain(
                layout
                    .block_start
                    .iter()
                    .flat_map(|&s| [s.saturating_sub(1), s]),
            );
            for k in ks.filter(|&k| k < size) {
                let b = layout.block_start[1..].partition_point(|&s| s <= k);
                assert_eq!(layout.block(k).0, b, "size {size}, subscriber {k}");
            }
        }
    }
}
