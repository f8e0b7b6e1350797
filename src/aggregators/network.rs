//! Comparator networks: Batcher's odd-even merge sort for any m, pruned to what a rule needs.
//!
//! A network is a fixed list of comparators (i, j), i < j; each puts the smaller of the two
//! values on wire i and the larger on wire j. The list does not depend on the data, so it can
//! be applied to many coordinates at once (one SIMD lane per coordinate) without branches.
//!
//! Batcher's odd-even merge sort (Knuth, TAOCP vol. 3, 5.3.4) is built for the next power of
//! two and the comparators touching the padding wires are dropped (padding would hold +inf and
//! never move). It has about m log2(m)^2 / 4 comparators, so the cost per coordinate grows as
//! m log^2 m, not m: the reason a large m falls back to selection (see [`super::kernels`]).
//!
//! A rule rarely needs a full sort: Trmean needs only the partition into the b smallest, the
//! middle m - 2b and the b largest. [`Network::pruned`] removes comparators that only reorder
//! values within one such output group: walking backwards, a comparator whose two wires are
//! not touched by any kept later comparator and end in the same group is dropped.

/// Applies the comparators `net` to every lane of `rows` at once (row i is wire i): lane t of
/// every row is one independent input, sorted (or partitioned) in place.
#[inline(always)]
pub(crate) fn sort_lanes<K: Ord + Copy, const N: usize>(net: &[(u16, u16)], rows: &mut [[K; N]]) {
    for &(a, b) in net {
        let (lo, hi) = rows.split_at_mut(usize::from(b));
        let (x, y) = (&mut lo[usize::from(a)], &mut hi[0]);
        for t in 0..N {
            let (p, q) = (x[t], y[t]);
            x[t] = p.min(q);
            y[t] = p.max(q);
        }
    }
}

/// A comparator network on `m` wires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Network {
    m: usize,
    comps: Vec<(u16, u16)>,
}

impl Network {
    /// Batcher's odd-even merge sort on m wires (m <= 65536).
    pub(crate) fn sorting(m: usize) -> Self {
        Self::stages_from(m, 1)
    }

    /// The comparators of Batcher's network on m wires from the merge stage of blocks of p
    /// on (`p` a power of two): with p = n/2, the final merge of the two sorted halves.
    pub(crate) fn stages_from(m: usize, p: usize) -> Self {
        assert!(m <= 1 << 16, "network too large: m = {m}");
        let n = m.next_power_of_two();
        let mut comps = Vec::new();
        let mut p = p;
        while p < n {
            let mut k = p;
            while k >= 1 {
                let mut j = k % p;
                while j + k < n {
                    for i in 0..k.min(n - j - k) {
                        if (i + j) / (2 * p) == (i + j + k) / (2 * p) {
                            let (a, b) = (i + j, i + j + k);
                            if b < m {
                                comps.push((a as u16, b as u16));
                            }
                        }
                    }
                    j += 2 * k;
                }
                k /= 2;
            }
            p *= 2;
        }
        Self { m, comps }
    }

    /// Drops the comparators that only reorder values inside one output group; `class[w]` is
    /// the group of output wire w (wires of one group hold the right set of values, in some
    /// order).
    ///
    /// # Panics
    /// If `class.len() != m`.
    pub(crate) fn pruned(self, class: &[usize]) -> Self {
        assert_eq!(class.len(), self.m, "one class per wire");
        let mut touched = vec![false; self.m];
        let mut keep = Vec::with_capacity(self.comps.len());
        for &(a, b) in self.comps.iter().rev() {
            let (ia, ib) = (usize::from(a), usize::from(b));
            if !touched[ia] && !touched[ib] && class[ia] == class[ib] {
                continue;
            }
            touched[ia] = true;
            touched[ib] = true;
            keep.push((a, b));
        }
        keep.reverse();
        Self {
            m: self.m,
            comps: keep,
        }
    }

    /// The comparators, in order.
    pub(crate) fn comparators(&self) -> &[(u16, u16)] {
        &self.comps
    }

    /// Number of comparators.
    pub(crate) fn len(&self) -> usize {
        self.comps.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies the network to 64 zero-one inputs at once (bit t of each wire is input t).
    fn run_bits(net: &Network, wires: &mut [u64]) {
        for &(a, b) in net.comparators() {
            let (x, y) = (wires[usize::from(a)], wires[usize::from(b)]);
            wires[usize::from(a)] = x & y;
            wires[usize::from(b)] = x | y;
        }
    }

    /// By the zero-one principle, a network sorts (or partitions into contiguous groups) every
    /// input iff it does so for every zero-one input; checks all 2^m of them.
    fn partitions_all_01(net: &Network, m: usize, bounds: &[usize]) -> bool {
        let total: u64 = 1 << m;
        let mut start = 0u64;
        while start < total {
            let mut wires = vec![0u64; m];
            for t in 0..64u64 {
                let input = start + t;
                if input >= total {
                    break;
                }
                for (w, wire) in wires.iter_mut().enumerate() {
                    *wire |= ((input >> w) & 1) << t;
                }
            }
            run_bits(net, &mut wires);
            // every boundary: max of the wires below <= min of the wires above
            for &cut in bounds {
                let below = wires[..cut].iter().fold(0, |a, &w| a | w);
                let above = wires[cut..].iter().fold(!0, |a, &w| a & w);
                let valid = if total - start >= 64 {
                    !0
                } else {
                    (1u64 << (total - start)) - 1
                };
                if below & !above & valid != 0 {
                    return false;
                }
            }
            start += 64;
        }
        true
    }

    #[test]
    fn batcher_sorts_every_zero_one_input() {
        for m in 1..=18 {
            let net = Network::sorting(m);
            let cuts: Vec<usize> = (1..m).collect();
            assert!(partitions_all_01(&net, m, &cuts), "m = {m}");
        }
    }

    #[test]
    fn batcher_sizes() {
        // Known sizes of Batcher's odd-even merge sort for powers of two.
        for (m, size) in [(2, 1), (4, 5), (8, 19), (16, 63), (32, 191)] {
            assert_eq!(Network::sorting(m).len(), size, "m = {m}");
        }
    }

    #[test]
    fn pruned_networks_partition() {
        for m in 1..=18 {
            for b in 0..=crate::aggregators::max_trim(m) {
                let n = m - 2 * b;
                let class: Vec<usize> = (0..m)
                    .map(|w| usize::from(w >= b) + usize::from(w >= b + n))
                    .collect();
                let full = Network::sorting(m);
                let net = full.clone().pruned(&class);
                assert!(net.len() <= full.len());
                let mut cuts = vec![];
                if b > 0 {
                    cuts.push(b);
                    cuts.push(b + n);
                }
                assert!(partitions_all_01(&net, m, &cuts), "m = {m} b = {b}");
            }
        }
    }

    #[test]
    fn large_networks_sort_random_inputs() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        for m in [19, 20, 33, 50, 100, 127, 200, 257] {
            let net = Network::sorting(m);
            for _ in 0..20 {
                let mut v: Vec<i32> = (0..m).map(|_| rng.random_range(-50..50)).collect();
                let mut want = v.clone();
                want.sort_unstable();
                for &(a, b) in net.comparators() {
                    let (a, b) = (usize::from(a), usize::from(b));
                    if v[a] > v[b] {
                        v.swap(a, b);
                    }
                }
                assert_eq!(v, want, "m = {m}");
            }
        }
    }
}
