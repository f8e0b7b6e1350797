//! Corruption models: which entries of the m x d matrix are Byzantine.

use super::Corruption;
use crate::rng::Rng;
use rand::Rng as _;

/// Floyd's algorithm: marks q distinct rows of column j (stride d) in `mask`.
fn choose_rows(m: usize, d: usize, j: usize, q: usize, rng: &mut Rng, mask: &mut [bool]) {
    let q = q.min(m);
    for top in m - q..m {
        let t = rng.random_range(0..=top);
        if mask[t * d + j] {
            mask[top * d + j] = true;
        } else {
            mask[t * d + j] = true;
        }
    }
}

/// Definition 1: q whole rows, chosen uniformly afresh each call.
pub struct Classic;

impl Corruption for Classic {
    fn whole_rows(&self) -> bool {
        true
    }
    fn mark(&self, m: usize, d: usize, q: usize, rng: &mut Rng, mask: &mut [bool]) {
        mask.fill(false);
        // choose rows in column 0, then extend each chosen row to the whole row
        choose_rows(m, d, 0, q, rng, mask);
        for i in 0..m {
            if mask[i * d] {
                mask[i * d..(i + 1) * d].fill(true);
            }
        }
    }
}

/// Definition 4: exactly q positions in each coordinate, independently across coordinates
/// (optionally only in the first `first_coords` coordinates).
pub struct Generalized {
    /// Corrupt only the first K coordinates (0: all).
    pub first_coords: usize,
}

impl Corruption for Generalized {
    fn whole_rows(&self) -> bool {
        false
    }
    fn mark(&self, m: usize, d: usize, q: usize, rng: &mut Rng, mask: &mut [bool]) {
        mask.fill(false);
        let dd = if self.first_coords == 0 {
            d
        } else {
            self.first_coords.min(d)
        };
        for j in 0..dd {
            choose_rows(m, d, j, q, rng, mask);
        }
    }
}

/// Proposition 2's pattern: coordinate j corrupts workers j, j+1, ..., j+q-1 (mod m), so with
/// d >= m every worker is partly Byzantine while each coordinate has exactly q bad values.
pub struct Diagonal;

impl Corruption for Diagonal {
    fn whole_rows(&self) -> bool {
        false
    }
    fn mark(&self, m: usize, d: usize, q: usize, _rng: &mut Rng, mask: &mut [bool]) {
        mask.fill(false);
        for j in 0..d {
            for k in 0..q.min(m) {
                mask[((j + k) % m) * d + j] = true;
            }
        }
    }
}

/// Data-dependent positions: the adversary sees the m honest values of each coordinate, then
/// picks which q to replace (the generalized model's omniscient adversary; the proofs of
/// Theorems 1-2 assume positions independent of the data). Default choice: the q values on
/// g's side of the coordinate (the q smallest when the honest median is at least g_j, else the
/// q largest; ties by row), which leaves the honest values skewed away from g. Attacks that
/// search (`sided`, `search`: [`super::Adversary`]) choose the positions jointly with the values
/// instead. Without the data it marks q uniform positions per coordinate (as `generalized`).
pub struct Chosen;

/// Rows of column j sorted by value (ties by row), written into `order`.
pub(crate) fn column_order(x: &[f64], m: usize, d: usize, j: usize, order: &mut Vec<usize>) {
    order.clear();
    order.extend(0..m);
    order.sort_by(|&a, &b| x[a * d + j].total_cmp(&x[b * d + j]).then(a.cmp(&b)));
}

impl Corruption for Chosen {
    fn whole_rows(&self) -> bool {
        false
    }
    fn sees_data(&self) -> bool {
        true
    }
    fn mark(&self, m: usize, d: usize, q: usize, rng: &mut Rng, mask: &mut [bool]) {
        Generalized { first_coords: 0 }.mark(m, d, q, rng, mask);
    }
    fn mark_seeing(
        &self,
        x: &[f64],
        g: Option<&[f64]>,
        m: usize,
        d: usize,
        q: usize,
        _rng: &mut Rng,
        mask: &mut [bool],
    ) {
        mask.fill(false);
        if m == 0 || x.len() != m * d {
            return;
        }
        let q = q.min(m);
        let mut order = Vec::with_capacity(m);
        for j in 0..d {
            column_order(x, m, d, j, &mut order);
            let median = x[order[m / 2] * d + j];
            let gj = g.map_or(0.0, |g| g[j]);
            let rows = if median >= gj {
                &order[..q]
            } else {
                &order[m - q..]
            };
            for &i in rows {
                mask[i * d + j] = true;
            }
        }
    }
}

/// Contiguous blocks: the coordinates are cut into ceil(m/q) equal blocks; block k corrupts
/// rows kq..kq+q-1 (mod m). Each coordinate has exactly q bad values, in q adjacent workers.
pub struct Block;

impl Corruption for Block {
    fn whole_rows(&self) -> bool {
        false
    }
    fn mark(&self, m: usize, d: usize, q: usize, _rng: &mut Rng, mask: &mut [bool]) {
        mask.fill(false);
        if q == 0 {
            return;
        }
        let q = q.min(m);
        let nblocks = m.div_ceil(q);
        let width = d.div_ceil(nblocks).max(1);
        for j in 0..d {
            let k = j / width;
            for r in 0..q {
                mask[((k * q + r) % m) * d + j] = true;
            }
        }
    }
}

/// The gambler's pattern: the d parameters are split evenly over `servers` servers; one server
/// (uniform each call) is faulty and corrupts each value it receives (all m workers' values in
/// its coordinates) independently with probability `p`. `q` is ignored: the number of bad
/// values per coordinate is Binomial(m, p) on the faulty shard and 0 elsewhere.
pub struct Shard {
    /// Number of servers S.
    pub servers: usize,
    /// Corruption probability.
    pub p: f64,
}

impl Corruption for Shard {
    fn whole_rows(&self) -> bool {
        false
    }
    fn ignores_q(&self) -> bool {
        true
    }
    fn mark(&self, m: usize, d: usize, _q: usize, rng: &mut Rng, mask: &mut [bool]) {
        mask.fill(false);
        let s = self.servers.max(1);
        let server = rng.random_range(0..s);
        let (lo, hi) = (server * d / s, (server + 1) * d / s);
        for i in 0..m {
            for j in lo..hi {
                if rng.random::<f64>() < self.p {
                    mask[i * d + j] = true;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream;

    fn per_coord(mask: &[bool], m: usize, d: usize) -> Vec<usize> {
        (0..d)
            .map(|j| (0..m).filter(|&i| mask[i * d + j]).count())
            .collect()
    }

    #[test]
    fn exact_counts() {
        let (m, d) = (7, 30);
        let mut mask = vec![false; m * d];
        let mut rng = stream(3, 4, 5);
        for q in 0..=m {
            Generalized { first_coords: 0 }.mark(m, d, q, &mut rng, &mut mask);
            assert!(per_coord(&mask, m, d).iter().all(|&c| c == q));
            Classic.mark(m, d, q, &mut rng, &mut mask);
            assert!(per_coord(&mask, m, d).iter().all(|&c| c == q));
            let rows = (0..m).filter(|&i| mask[i * d]).count();
            assert_eq!(rows, q);
            Diagonal.mark(m, d, q, &mut rng, &mut mask);
            assert!(per_coord(&mask, m, d).iter().all(|&c| c == q));
            Block.mark(m, d, q, &mut rng, &mut mask);
            assert!(
                per_coord(&mask, m, d).iter().all(|&c| c == q),
                "block q={q}"
            );
        }
        Generalized { first_coords: 10 }.mark(m, d, 2, &mut rng, &mut mask);
        let c = per_coord(&mask, m, d);
        assert!(c[..10].iter().all(|&x| x == 2) && c[10..].iter().all(|&x| x == 0));
    }

    #[test]
    fn diagonal_hits_every_worker() {
        let (m, d) = (5, 10);
        let mut mask = vec![false; m * d];
        Diagonal.mark(m, d, 1, &mut stream(0, 0, 0), &mut mask);
        for i in 0..m {
            assert!(mask[i * d..(i + 1) * d].iter().any(|&b| b));
        }
    }

    #[test]
    fn shard_touches_one_server() {
        let (m, d) = (4, 100);
        let mut mask = vec![false; m * d];
        Shard {
            servers: 10,
            p: 1.0,
        }
        .mark(m, d, 0, &mut stream(0, 0, 0), &mut mask);
        let c = per_coord(&mask, m, d);
        assert_eq!(c.iter().filter(|&&x| x == m).count(), 10);
        assert_eq!(c.iter().sum::<usize>(), 40);
    }
}
