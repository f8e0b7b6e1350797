//! Byzantine failures: a [`Corruption`] model decides *which* entries of the m x d matrix are
//! Byzantine; an [`Attack`] decides *what* they become. Any pair combines.
//!
//! Corruption models: `classic` (Definition 1: q whole rows, chosen afresh each trial),
//! `generalized` (Definition 4: exactly q positions per coordinate, independently per
//! coordinate), `diagonal` (Proposition 2: coordinate j corrupts workers j, j+1, ..., j+q-1
//! mod m), `block` (contiguous blocks of q rows that move every ceil(d/ceil(m/q)) coordinates),
//! `shard` (the gambler's parameter-server pattern: d split evenly over S servers, one server
//! faulty, each of its received values corrupted with probability p, so q is random).
//!
//! Attacks see the honest matrix (they are omniscient where the definition says so) and
//! overwrite only the masked entries. Adding one: a file with a type implementing [`Attack`]
//! and one line in [`ATTACKS`] (or [`CORRUPTIONS`]).

mod adaptive;
mod apply;
mod bitflip;
mod constant;
mod corruption;
mod gaussian;
mod little;
mod mimic;
mod omniscient;
mod scale;
mod search;

pub use apply::{corrupt, mark_positions, params_from_pairs, trial_stream, Corrupt};
pub use corruption::{Block, Chosen, Classic, Diagonal, Generalized, Shard};
pub use search::{exact_worst, Adversary};

use crate::aggregators::Aggregator;

use crate::error::Error;
use crate::rng::Rng;
use crate::scalar::{Scalar, TypedMut};

/// Parameters of all attacks and corruption models, with the paper's defaults.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttackParams {
    /// Standard deviation of the Gaussian attack (paper: 200).
    pub gaussian_sigma: f64,
    /// Omniscient multiplier c: Byzantine value = -c x sum of correct values (paper: 1e20).
    pub omniscient_c: f64,
    /// Include the Byzantine workers' own true gradients in the omniscient sum.
    pub omniscient_include_byzantine: bool,
    /// Bits flipped by the bit-flip attack, counted from 0 at the least significant bit of the
    /// float32 pattern (the authors' code: 22, 29, 30, 31).
    pub bitflip_bits: Vec<u32>,
    /// Multiplier of the gambler attack (paper: -1e20).
    pub gambler_factor: f64,
    /// Value of the constant attack.
    pub constant_value: f64,
    /// z of "a little is enough": mean - z * std of the correct values.
    pub little_z: f64,
    /// eps of inner-product manipulation: -eps * mean of the correct values.
    pub ipm_eps: f64,
    /// Adaptive attack: offset beyond the correct maximum, as a fraction of the correct range.
    pub adaptive_offset: f64,
    /// Shard pattern: number of servers S (paper: 20).
    pub shard_servers: usize,
    /// Shard pattern: probability that the faulty server corrupts a value (paper: 0.0005).
    pub shard_p: f64,
    /// Corrupt only the first K coordinates (0: all). The paper's bit-flip uses 1000.
    pub first_coords: usize,
    /// Mimic: amplification of the copied honest outlier about the honest mean (1: a copy).
    pub mimic_scale: f64,
}

impl Default for AttackParams {
    fn default() -> Self {
        Self {
            gaussian_sigma: 200.0,
            omniscient_c: 1e20,
            omniscient_include_byzantine: false,
            bitflip_bits: vec![22, 29, 30, 31],
            gambler_factor: -1e20,
            constant_value: 1e20,
            little_z: 1.0,
            ipm_eps: 0.1,
            adaptive_offset: 1e-3,
            shard_servers: 20,
            shard_p: 0.0005,
            first_coords: 0,
            mimic_scale: 1.0,
        }
    }
}

impl AttackParams {
    /// Sets the main magnitude parameter of `attack` (for magnitude sweeps); returns false if
    /// the attack has none.
    pub fn set_magnitude(&mut self, attack: &str, mag: f64) -> bool {
        match ATTACKS
            .iter()
            .find(|a| a.name == attack)
            .and_then(|a| a.magnitude)
        {
            Some(m) => {
                (m.set)(self, mag);
                true
            }
            None => false,
        }
    }
    /// Checks ranges; errors name the key.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |key: &str, msg: String| Error::Config {
            key: format!("attack_params.{key}"),
            msg,
        };
        if !(self.gaussian_sigma >= 0.0 && self.gaussian_sigma.is_finite()) {
            return Err(bad(
                "gaussian_sigma",
                format!("{} must be finite and >= 0", self.gaussian_sigma),
            ));
        }
        if let Some(b) = self.bitflip_bits.iter().find(|&&b| b > 31) {
            return Err(bad(
                "bitflip_bits",
                format!("bit {b} does not exist in a float32: use 0..=31"),
            ));
        }
        if !self.mimic_scale.is_finite() {
            return Err(bad(
                "mimic_scale",
                format!("{} must be finite", self.mimic_scale),
            ));
        }
        if self.shard_servers == 0 {
            return Err(bad("shard_servers", "must be at least 1".into()));
        }
        if !(0.0..=1.0).contains(&self.shard_p) {
            return Err(bad(
                "shard_p",
                format!("{} is not a probability in [0, 1]", self.shard_p),
            ));
        }
        Ok(())
    }
}

/// Chooses the Byzantine positions.
pub trait Corruption: Send + Sync {
    /// True when whole rows are corrupted (the classic model, Definition 1).
    fn whole_rows(&self) -> bool;
    /// True when `q` does not bound the Byzantine values (the shard pattern draws its own), so
    /// q = 0 does not mean that nothing is corrupted.
    fn ignores_q(&self) -> bool {
        false
    }
    /// Marks Byzantine entries in `mask` (m x d, row-major, true = Byzantine). `q` is the number
    /// per coordinate (or of rows); `mask` is cleared first.
    fn mark(&self, m: usize, d: usize, q: usize, rng: &mut Rng, mask: &mut [bool]);
    /// True when the positions may depend on the honest values (the adversary sees a
    /// coordinate's m values, then picks which q to replace). The proofs of Theorems 1 and 2
    /// assume positions independent of the data; the generalized model (Definition 4) does not
    /// say so. The searching attacks (`sided`, `search`: [`Target::free_positions`]) then choose
    /// the positions too.
    fn sees_data(&self) -> bool {
        false
    }
    /// Marks the positions after seeing the honest matrix `x` (m x d, any storage read as f64)
    /// and the true gradient, when known. Models whose positions do not depend on the data
    /// ignore both and call [`Corruption::mark`].
    fn mark_seeing(
        &self,
        _x: &[f64],
        _g: Option<&[f64]>,
        m: usize,
        d: usize,
        q: usize,
        rng: &mut Rng,
        mask: &mut [bool],
    ) {
        self.mark(m, d, q, rng, mask);
    }
}

/// What an adaptive adversary knows beyond the honest matrix: the true gradient g and the rule
/// it plays against (the omniscient adversary of the worst-case statements). The Monte Carlo
/// engine provides it; without one, the searching attacks fall back to a fixed side.
#[derive(Clone, Copy)]
pub struct Oracle<'a> {
    /// The true gradient (length d).
    pub g: &'a [f64],
    /// The rule under attack.
    pub rule: &'a dyn Aggregator,
}

/// The matrix an attack works on, with the positions it controls.
pub struct Target<'a, T> {
    /// The m x d matrix (honest values on entry).
    pub x: &'a mut [T],
    /// Workers.
    pub m: usize,
    /// Dimension.
    pub d: usize,
    /// Byzantine positions (m x d, row-major). Only an attack with `free_positions` may move
    /// them, and only within a coordinate (the count per coordinate stays).
    pub mask: &'a mut [bool],
    /// The true gradient and the rule, when the adversary may see them.
    pub oracle: Option<Oracle<'a>>,
    /// Whether the corruption model lets the adversary choose the positions after seeing the
    /// data ([`Corruption::sees_data`]).
    pub free_positions: bool,
}

impl<'a, T> Target<'a, T> {
    /// A target without oracle and with fixed positions (the non-adaptive attacks' view).
    pub fn new(x: &'a mut [T], m: usize, d: usize, mask: &'a mut [bool]) -> Self {
        Self {
            x,
            m,
            d,
            mask,
            oracle: None,
            free_positions: false,
        }
    }
}

/// Chooses the Byzantine values.
pub trait Attack: Send + Sync {
    /// Overwrites the masked entries of an f64 matrix.
    fn apply_f64(&self, t: Target<'_, f64>, rng: &mut Rng);
    /// Overwrites the masked entries of an f32 matrix.
    fn apply_f32(&self, t: Target<'_, f32>, rng: &mut Rng);
    /// True when the attack writes every masked entry without reading any value of the matrix
    /// (a Byzantine worker's own or the correct workers'), so what a wholly masked row held
    /// before cannot matter: the simulator then skips computing that worker's gradient. Such an
    /// attack must also write the masked entries in row-major order with values that do not
    /// depend on their positions (the k-th masked entry gets the k-th value of its stream),
    /// since the simulator hands it the Byzantine rows packed together.
    fn writes_blind(&self) -> bool {
        false
    }
}

/// Implements [`Attack`] for a type with a generic `fn apply<T: Scalar>(&self, t, rng)`.
/// `impl_attack!(Ty, blind)` also declares [`Attack::writes_blind`].
macro_rules! impl_attack {
    ($ty:ty) => {
        $crate::attacks::impl_attack!($ty, false);
    };
    ($ty:ty, blind) => {
        $crate::attacks::impl_attack!($ty, true);
    };
    ($ty:ty, $blind:literal) => {
        impl $crate::attacks::Attack for $ty {
            fn apply_f64(&self, t: $crate::attacks::Target<'_, f64>, rng: &mut $crate::rng::Rng) {
                self.apply(t, rng)
            }
            fn apply_f32(&self, t: $crate::attacks::Target<'_, f32>, rng: &mut $crate::rng::Rng) {
                self.apply(t, rng)
            }
            fn writes_blind(&self) -> bool {
                $blind
            }
        }
    };
}
pub(crate) use impl_attack;

/// Leaves every value honest.
pub struct NoAttack;
impl NoAttack {
    fn apply<T: Scalar>(&self, _t: Target<'_, T>, _rng: &mut Rng) {}
}
impl_attack!(NoAttack);

/// Per-coordinate statistics of the correct (unmasked) values of column j.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ColumnStats {
    pub sum: f64,
    pub sum_all: f64,
    pub count: usize,
    pub mean: f64,
    pub std: f64,
    pub min: f64,
    pub max: f64,
}

thread_local! {
    /// Per-thread scratch of [`per_column`]: the values chosen per coordinate, and each column
    /// chunk's statistics. Taken out while in use and put back after, so a nested call (a
    /// rayon thread that steals another run's attack while waiting) never double-borrows: it
    /// allocates its own buffer instead. Once warm, attacks allocate nothing per round.
    static VALUES: std::cell::Cell<Vec<f64>> = const { std::cell::Cell::new(Vec::new()) };
    static CHUNK: std::cell::Cell<Vec<f64>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Which statistics an attack reads beyond the sums and counts (each costs one more pass).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Needs {
    /// `min` and `max` of the correct values.
    pub minmax: bool,
    /// `std` of the correct values.
    pub std: bool,
}

/// Columns per task of [`per_column`]: 7 f64 statistics of 512 columns stay in L1.
const COLUMN_CHUNK: usize = 512;

/// Statistics of columns `j0..j0 + vals.len()` and the attack's value for each of them
/// (NaN-free bookkeeping: masked columns get `f(stats)`, the others are left untouched).
fn column_chunk<T: Scalar>(
    x: &[T],
    mask: &[bool],
    m: usize,
    d: usize,
    j0: usize,
    vals: &mut [f64],
    needs: Needs,
    f: &(impl Fn(&ColumnStats) -> f64 + Sync),
) {
    let Needs {
        minmax: with_minmax,
        std: with_std,
    } = needs;
    let w = vals.len();
    let mut buf = CHUNK.with(std::cell::Cell::take);
    buf.clear();
    buf.resize(7 * w, 0.0);
    {
        let (sum, rest) = buf.split_at_mut(w);
        let (sum_all, rest) = rest.split_at_mut(w);
        let (count, rest) = rest.split_at_mut(w);
        let (min, rest) = rest.split_at_mut(w);
        let (max, rest) = rest.split_at_mut(w);
        let (ss, any) = rest.split_at_mut(w);
        min.fill(f64::INFINITY);
        max.fill(f64::NEG_INFINITY);
        for i in 0..m {
            let row = &x[i * d + j0..i * d + j0 + w];
            let mrow = &mask[i * d + j0..i * d + j0 + w];
            // zipped iterators and selects instead of branches, so the loops vectorise
            for ((((&v, &byz), s), sa), (c, a)) in row
                .iter()
                .zip(mrow)
                .zip(sum.iter_mut())
                .zip(sum_all.iter_mut())
                .zip(count.iter_mut().zip(any.iter_mut()))
            {
                let v = v.to_f64();
                *sa += v;
                *s += if byz { 0.0 } else { v };
                *c += if byz { 0.0 } else { 1.0 };
                *a = if byz { 1.0 } else { *a };
            }
            if with_minmax {
                for (((&v, &byz), lo), hi) in
                    row.iter().zip(mrow).zip(min.iter_mut()).zip(max.iter_mut())
                {
                    let v = v.to_f64();
                    *lo = if byz { *lo } else { lo.min(v) };
                    *hi = if byz { *hi } else { hi.max(v) };
                }
            }
        }
        if with_std {
            for i in 0..m {
                let row = &x[i * d + j0..i * d + j0 + w];
                let mrow = &mask[i * d + j0..i * d + j0 + w];
                for j in 0..w {
                    if !mrow[j] {
                        let mean = sum[j] / count[j];
                        let dv = row[j].to_f64() - mean;
                        ss[j] += dv * dv;
                    }
                }
            }
        }
        for j in 0..w {
            if any[j] == 0.0 {
                continue;
            }
            let c = count[j];
            let mean = if c > 0.0 { sum[j] / c } else { 0.0 };
            let st = ColumnStats {
                sum: sum[j],
                sum_all: sum_all[j],
                count: c as usize,
                mean,
                std: if c > 0.0 && with_std {
                    (ss[j] / c).sqrt()
                } else {
                    0.0
                },
                min: min[j],
                max: max[j],
            };
            vals[j] = f(&st);
        }
    }
    CHUNK.with(|c| c.set(buf));
}

/// Calls `f(stats)` for every coordinate that has a Byzantine entry, then writes the value it
/// returns into all of that coordinate's Byzantine entries. Statistics are gathered in
/// row-major passes over chunks of 512 columns (cache-resident, vectorised, chunks in
/// parallel with rayon); the result does not depend on the chunking or the thread count.
/// Statistics not named in `needs` are left at their initial values (min = +inf, max = -inf,
/// std = 0). O(md).
pub(crate) fn per_column<T: Scalar>(
    t: Target<'_, T>,
    needs: Needs,
    f: impl Fn(&ColumnStats) -> f64 + Sync,
) {
    use rayon::prelude::*;
    let (m, d) = (t.m, t.d);
    if m == 0 || d == 0 {
        return;
    }
    let mut vals = VALUES.with(std::cell::Cell::take);
    vals.clear();
    vals.resize(d, 0.0);
    let (x, mask) = (&*t.x, &*t.mask);
    if d <= COLUMN_CHUNK {
        column_chunk(x, mask, m, d, 0, &mut vals, needs, &f);
    } else {
        vals.par_chunks_mut(COLUMN_CHUNK)
            .enumerate()
            .for_each(|(c, v)| column_chunk(x, mask, m, d, c * COLUMN_CHUNK, v, needs, &f));
    }
    let write = |(row, mrow): (&mut [T], &[bool])| {
        for ((r, &byz), &v) in row.iter_mut().zip(mrow).zip(vals.iter()) {
            if byz {
                *r = T::from_f64(v);
            }
        }
    };
    if m * d <= 4 * COLUMN_CHUNK * 20 {
        t.x.chunks_mut(d).zip(t.mask.chunks(d)).for_each(write);
    } else {
        t.x.par_chunks_mut(d)
            .zip(t.mask.par_chunks(d))
            .for_each(write);
    }
    VALUES.with(|c| c.set(vals));
}

/// A registry entry for an attack.
pub struct AttackInfo {
    /// Name in configs and tables.
    pub name: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// Its main magnitude, which magnitude sweeps set (None: it has none).
    pub magnitude: Option<Magnitude>,
    /// Builds the attack.
    pub build: fn(&AttackParams) -> Box<dyn Attack>,
}

/// The parameter a magnitude sweep sets for an attack.
#[derive(Clone, Copy)]
pub struct Magnitude {
    /// The `attack_params` key it overrides.
    pub param: &'static str,
    /// Sets it to a magnitude (>= 0; the gambler's factor becomes -magnitude).
    pub set: fn(&mut AttackParams, f64),
}

/// All attacks, by name.
pub const ATTACKS: &[AttackInfo] = &[
    AttackInfo {
        name: "none",
        summary: "no attack (honest values)",
        magnitude: None,
        build: |_| Box::new(NoAttack),
    },
    AttackInfo {
        name: "gaussian",
        summary: "N(0, sigma^2) per Byzantine entry (paper: sigma = 200)",
        magnitude: Some(Magnitude {
            param: "gaussian_sigma",
            set: |p, x| p.gaussian_sigma = x,
        }),
        build: |p| Box::new(gaussian::GaussianAttack::new(p.gaussian_sigma)),
    },
    AttackInfo {
        name: "omniscient",
        summary: "-c x the sum of the correct values (paper: c = 1e20)",
        magnitude: Some(Magnitude {
            param: "omniscient_c",
            set: |p, x| p.omniscient_c = x,
        }),
        build: |p| {
            Box::new(omniscient::Omniscient {
                c: p.omniscient_c,
                include_byzantine: p.omniscient_include_byzantine,
            })
        },
    },
    AttackInfo {
        name: "bit-flip",
        summary: "flip bits of the float32 pattern (default bits 22, 29, 30, 31)",
        magnitude: None,
        build: |p| Box::new(bitflip::BitFlip::new(&p.bitflip_bits)),
    },
    AttackInfo {
        name: "gambler",
        summary: "multiply the value by a factor (paper: -1e20); pair with the shard pattern",
        magnitude: Some(Magnitude {
            param: "gambler_factor",
            set: |p, x| p.gambler_factor = -x,
        }),
        build: |p| Box::new(scale::Scale::gambler(p.gambler_factor)),
    },
    AttackInfo {
        name: "constant",
        summary: "a constant value (magnitude sweeps: Propositions 1-3)",
        magnitude: Some(Magnitude {
            param: "constant_value",
            set: |p, x| p.constant_value = x,
        }),
        build: |p| Box::new(constant::Constant::value(p.constant_value)),
    },
    AttackInfo {
        name: "nan",
        summary: "NaN",
        magnitude: None,
        build: |_| Box::new(constant::Constant::nan()),
    },
    AttackInfo {
        name: "inf",
        summary: "+inf or -inf with a random sign per entry",
        magnitude: None,
        build: |_| Box::new(constant::Constant::inf()),
    },
    AttackInfo {
        name: "little",
        summary: "a little is enough: mean - z * std of the correct values (Baruch et al.)",
        magnitude: Some(Magnitude {
            param: "little_z",
            set: |p, x| p.little_z = x,
        }),
        build: |p| Box::new(little::Little { z: p.little_z }),
    },
    AttackInfo {
        name: "ipm",
        summary: "inner-product manipulation: -eps * mean of the correct values (Xie et al.)",
        magnitude: Some(Magnitude {
            param: "ipm_eps",
            set: |p, x| p.ipm_eps = x,
        }),
        build: |p| Box::new(scale::Scale::ipm(p.ipm_eps)),
    },
    AttackInfo {
        name: "adaptive",
        summary: "just beyond the correct maximum (one side), so values survive trimming",
        magnitude: Some(Magnitude {
            param: "adaptive_offset",
            set: |p, x| p.adaptive_offset = x,
        }),
        build: |p| Box::new(adaptive::Adaptive::new(p.adaptive_offset)),
    },
    AttackInfo {
        name: "mimic",
        summary: "copy of the honest row farthest from the honest mean, scaled by s about it \
                  (Karimireddy et al. 2022; heterogeneous data)",
        magnitude: Some(Magnitude {
            param: "mimic_scale",
            set: |p, x| p.mimic_scale = x,
        }),
        build: |p| {
            Box::new(mimic::Mimic {
                scale: p.mimic_scale,
            })
        },
    },
    AttackInfo {
        name: "sided",
        summary: "per coordinate, the side and magnitude (just outside the range, one range out, \
                  1e20) that moves the rule's output furthest from g",
        magnitude: None,
        build: |p| Box::new(search::Adversary::sided(p.adaptive_offset)),
    },
    AttackInfo {
        name: "search",
        summary: "maximiser of |Aggr - g| per coordinate over in-range and out-of-range values \
                  and splits (coordinate-wise rules); over ALIE, IPM and scaled rows (Krum)",
        magnitude: None,
        build: |p| Box::new(search::Adversary::search(p.adaptive_offset)),
    },
];

/// A registry entry for a corruption model.
pub struct CorruptionInfo {
    /// Name in configs and tables.
    pub name: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// Builds it.
    pub build: fn(&AttackParams) -> Box<dyn Corruption>,
}

/// All corruption models, by name.
pub const CORRUPTIONS: &[CorruptionInfo] = &[
    CorruptionInfo {
        name: "classic",
        summary: "q whole rows (Definition 1)",
        build: |_| Box::new(Classic),
    },
    CorruptionInfo {
        name: "generalized",
        summary: "q positions per coordinate, independent across coordinates (Definition 4)",
        build: |p| {
            Box::new(Generalized {
                first_coords: p.first_coords,
            })
        },
    },
    CorruptionInfo {
        name: "diagonal",
        summary: "coordinate j corrupts workers j..j+q-1 mod m (Proposition 2)",
        build: |_| Box::new(Diagonal),
    },
    CorruptionInfo {
        name: "block",
        summary: "contiguous blocks of q rows, moving across coordinate blocks",
        build: |_| Box::new(Block),
    },
    CorruptionInfo {
        name: "chosen",
        summary: "q positions per coordinate chosen after seeing the data (omniscient positions)",
        build: |_| Box::new(Chosen),
    },
    CorruptionInfo {
        name: "shard",
        summary: "d split over S servers, one faulty, each value corrupted with prob. p (gambler)",
        build: |p| {
            Box::new(Shard {
                servers: p.shard_servers,
                p: p.shard_p,
            })
        },
    },
];

fn names<T>(v: &[T], f: fn(&T) -> &'static str) -> String {
    v.iter().map(f).collect::<Vec<_>>().join(", ")
}

/// Builds attack `name`.
pub fn build_attack(name: &str, p: &AttackParams) -> Result<Box<dyn Attack>, Error> {
    ATTACKS
        .iter()
        .find(|a| a.name == name)
        .map(|a| (a.build)(p))
        .ok_or_else(|| Error::UnknownName {
            kind: "attack",
            name: name.into(),
            known: names(ATTACKS, |a| a.name),
        })
}

/// Builds corruption model `name`.
pub fn build_corruption(name: &str, p: &AttackParams) -> Result<Box<dyn Corruption>, Error> {
    CORRUPTIONS
        .iter()
        .find(|a| a.name == name)
        .map(|a| (a.build)(p))
        .ok_or_else(|| Error::UnknownName {
            kind: "corruption model",
            name: name.into(),
            known: names(CORRUPTIONS, |a| a.name),
        })
}

/// Dispatch by storage type.
pub trait AttackExt {
    /// Applies the attack to a matrix of either storage type.
    fn apply_to<T: Scalar>(&self, t: Target<'_, T>, rng: &mut Rng);
}

impl<A: Attack + ?Sized> AttackExt for A {
    fn apply_to<T: Scalar>(&self, t: Target<'_, T>, rng: &mut Rng) {
        let Target {
            x,
            m,
            d,
            mask,
            oracle,
            free_positions,
        } = t;
        match T::typed_mut(x) {
            TypedMut::F64(x) => self.apply_f64(
                Target {
                    x,
                    m,
                    d,
                    mask,
                    oracle,
                    free_positions,
                },
                rng,
            ),
            TypedMut::F32(x) => self.apply_f32(
                Target {
                    x,
                    m,
                    d,
                    mask,
                    oracle,
                    free_positions,
                },
                rng,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream;

    fn honest(m: usize, d: usize) -> Vec<f64> {
        (0..m * d).map(|k| (k % 7) as f64 * 0.1 + 1.0).collect()
    }

    #[test]
    fn attacks_touch_only_masked_entries() {
        let (m, d) = (6, 5);
        let p = AttackParams::default();
        for a in ATTACKS {
            let atk = (a.build)(&p);
            let mut x = honest(m, d);
            let orig = x.clone();
            let mut mask = vec![false; m * d];
            Generalized { first_coords: 0 }.mark(m, d, 2, &mut stream(1, 2, 3), &mut mask);
            atk.apply_to(Target::new(&mut x, m, d, &mut mask), &mut stream(1, 2, 4));
            for k in 0..m * d {
                if !mask[k] {
                    assert_eq!(x[k].to_bits(), orig[k].to_bits(), "{}", a.name);
                }
            }
        }
    }

    #[test]
    fn hand_computed_values() {
        // One coordinate, rows 0..4, row 3 Byzantine; correct values 1, 2, 3.
        let p = AttackParams::default();
        let run = |name: &str, p: &AttackParams| {
            let mut x = vec![1.0f64, 2.0, 3.0, 10.0];
            let mut mask = [false, false, false, true];
            build_attack(name, p)
                .unwrap()
                .apply_to(Target::new(&mut x, 4, 1, &mut mask), &mut stream(0, 0, 0));
            x[3]
        };
        assert_eq!(run("omniscient", &p), -6e20);
        let mut p2 = p.clone();
        p2.omniscient_include_byzantine = true;
        assert_eq!(run("omniscient", &p2), -16e20);
        assert_eq!(run("gambler", &p), -1e21);
        assert_eq!(run("constant", &p), 1e20);
        assert!(run("nan", &p).is_nan());
        assert!(run("inf", &p).is_infinite());
        let sd = (2.0f64 / 3.0).sqrt();
        assert!((run("little", &p) - (2.0 - sd)).abs() < 1e-12);
        assert!((run("ipm", &p) + 0.2).abs() < 1e-12);
        assert!((run("adaptive", &p) - (3.0 + 2e-3)).abs() < 1e-12);
        assert_eq!(run("none", &p), 10.0);
        // bit-flip of 10.0f32 with bits 22, 29, 30, 31
        let want =
            f32::from_bits(10.0f32.to_bits() ^ ((1 << 22) | (1 << 29) | (1 << 30) | (1 << 31)));
        assert_eq!(run("bit-flip", &p), f64::from(want));
    }

    #[test]
    fn unknown_names_list_known() {
        let p = AttackParams::default();
        let e = build_attack("evil", &p).err().unwrap().to_string();
        assert!(e.contains("omniscient"), "{e}");
        let e = build_corruption("evil", &p).err().unwrap().to_string();
        assert!(e.contains("generalized"), "{e}");
    }
}
