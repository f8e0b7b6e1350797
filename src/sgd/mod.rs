//! The parameter-server simulator of synchronous SGD (section 2 of the paper).
//!
//! In round t each of m workers computes a stochastic gradient at x_t ([`Objective::worker_grad`]);
//! the corruption model and the attack replace what the server receives (classic rows or
//! generalized positions; the omniscient attack sees this round's correct gradients); the server
//! aggregates with any rule and steps x_{t+1} = x_t - gamma Aggr. Per-round metrics are
//! [`Observer`]s, so a run records only what is asked for. The buffers are allocated before the
//! first round, but for the rows a blind attack writes beside the gradients (in the first round
//! that uses them) and the copy that an attack whose positions see the data reads.
//!
//! Randomness: worker i's gradient in round t of repeat r draws from the stream
//! (seed, run key, (r T + t)(m + 1) + i) and the Byzantine positions and values from index
//! (r T + t)(m + 1) + m, so a run is bit-identical for any thread count.

pub mod converge;
pub mod figures;
mod observers;
pub mod reproduce;
mod theorem4;
pub mod train;
pub mod train_cli;

use crate::aggregators::{AggregateExt, Aggregator, Workspace};
use crate::attacks::{Attack, AttackExt, Corruption, Target};
use crate::error::Error;
use crate::matrix::MatrixView;
use crate::objectives::Objective;
use crate::rng::stream;
use crate::scalar::Scalar;
use rayon::prelude::*;

/// Who is Byzantine and what they send.
pub struct Byzantine<'a> {
    /// Positions.
    pub corruption: &'a dyn Corruption,
    /// Values.
    pub attack: &'a dyn Attack,
    /// Byzantine values per coordinate (or rows).
    pub q: usize,
}

/// One run's settings.
#[derive(Clone, Debug)]
pub struct SimSpec {
    /// Workers.
    pub m: usize,
    /// Rounds T.
    pub rounds: usize,
    /// Step size gamma.
    pub gamma: f64,
    /// Master seed.
    pub seed: u64,
    /// Hash of the run's identity (its config key).
    pub key: u64,
    /// Repeat index.
    pub repeat: u64,
    /// Compute worker gradients in parallel (for expensive objectives such as the MLP).
    pub parallel_workers: bool,
    /// Heterogeneous workers: m x d constant offsets added to the workers' gradients every
    /// round (worker i gets row i; [`crate::montecarlo::hetero::offsets`]); empty for
    /// identical workers.
    pub offsets: Vec<f64>,
}

/// What an observer sees each round.
pub struct Round<'a, T> {
    /// Round index t (0..=T).
    pub t: usize,
    /// The iterate x_t.
    pub x: &'a [T],
    /// The aggregate used to step from x_t (None after the last round).
    pub agg: Option<&'a [T]>,
    /// The m x d matrix the server received in round t, and which entries were Byzantine
    /// (None after the last round).
    pub received: Option<(&'a [T], &'a [bool])>,
}

/// A per-round metric (argmin-style observer).
pub trait Observer<O: Objective>: Send {
    /// Called for t = 0..=T with x_t.
    fn observe(&mut self, obj: &O, round: &Round<'_, O::T>, scratch: &mut O::Scratch);
}

/// Outcome of a run.
#[derive(Clone, Debug, Default)]
pub struct RunOutcome {
    /// Rounds after which the iterate was no longer finite (None: stayed finite).
    pub diverged_at: Option<usize>,
    /// Seconds spent aggregating.
    pub aggregate_seconds: f64,
    /// Total seconds.
    pub total_seconds: f64,
}

/// Preallocated buffers of a run.
pub struct Buffers<O: Objective> {
    grads: Vec<O::T>,
    mask: Vec<bool>,
    /// Rows the mask covers whole, this round.
    whole: Vec<bool>,
    /// The rows a blind attack writes while the gradients are computed, packed: only the
    /// Byzantine rows, in order (grown on first use).
    attacked: Vec<O::T>,
    /// An all-true mask over `attacked`.
    attacked_mask: Vec<bool>,
    agg: Vec<O::T>,
    ws: Workspace,
    scratches: Vec<O::Scratch>,
    obs_scratch: O::Scratch,
    /// What [`Objective::begin_round`] derives from the parameters each round.
    round: O::Round,
}

impl<O: Objective> Buffers<O> {
    /// Buffers for m workers.
    pub fn new(obj: &O, m: usize) -> Self {
        let d = obj.dim();
        Self {
            grads: vec![O::T::default(); m * d],
            mask: vec![false; m * d],
            whole: vec![false; m],
            attacked: Vec::new(),
            attacked_mask: Vec::new(),
            agg: vec![O::T::default(); d],
            ws: Workspace::new(),
            scratches: (0..m).map(|_| obj.new_scratch()).collect(),
            obs_scratch: obj.new_scratch(),
            round: O::Round::default(),
        }
    }
}

/// Marks in `whole` the rows of the m x d `mask` that are masked entirely; true when every row
/// is masked entirely or not at all (the attack then writes whole rows only). O(m d), in
/// blocks the compiler vectorises (the run's thread waits for it every round: a scan entry by
/// entry was most of its time).
fn whole_rows(mask: &[bool], d: usize, whole: &mut [bool]) -> bool {
    let mut rows_only = true;
    for (i, w) in whole.iter_mut().enumerate() {
        let row = &mask[i * d..(i + 1) * d];
        // one pass: the row is whole or empty when every entry equals its first
        let first = u8::from(row.first().copied().unwrap_or(false));
        let uniform = row
            .chunks(256)
            .all(|c| c.iter().fold(0u8, |a, &b| a | (u8::from(b) ^ first)) == 0);
        *w = uniform && first == 1;
        rows_only &= uniform;
    }
    rows_only
}

/// Runs T rounds from `x` (updated in place).
pub fn run<O: Objective>(
    obj: &O,
    rule: &dyn Aggregator,
    byz: &Byzantine<'_>,
    spec: &SimSpec,
    x: &mut [O::T],
    buf: &mut Buffers<O>,
    observers: &mut [&mut dyn Observer<O>],
) -> Result<RunOutcome, Error> {
    let start = std::time::Instant::now();
    let (m, d) = (spec.m, obj.dim());
    if !(spec.offsets.is_empty() || spec.offsets.len() == m * d) {
        return Err(Error::Shape(format!(
            "simulator: {} heterogeneity offsets for m x d = {}",
            spec.offsets.len(),
            m * d
        )));
    }
    if x.len() != d || rule.m() != m {
        return Err(Error::Shape(format!(
            "simulator: x has {} values for d = {d}; rule built for m = {} vs {m}",
            x.len(),
            rule.m()
        )));
    }
    let mut out = RunOutcome::default();
    let base = spec.repeat * spec.rounds as u64;
    for t in 0..spec.rounds {
        if crate::interrupt::stopped() {
            return Err(Error::Interrupted(format!("stopped at round {t}")));
        }
        let round_base = (base + t as u64) * (m as u64 + 1);
        // positions that do not depend on the data are drawn first (the same stream, so the
        // same positions): the rows a blind attack (one that reads nothing) overwrites whole
        // need no gradient, and when it writes whole rows only, it runs beside the gradients
        let mut rng = stream(spec.seed, spec.key, round_base + m as u64);
        let marked_first = !byz.corruption.sees_data();
        if marked_first {
            byz.corruption.mark(m, d, byz.q, &mut rng, &mut buf.mask);
        }
        let blind = marked_first && byz.attack.writes_blind();
        let rows_only = blind && whole_rows(&buf.mask, d, &mut buf.whole);
        let Buffers {
            grads,
            mask,
            whole,
            attacked,
            attacked_mask,
            scratches,
            round,
            ..
        } = buf;
        let xs: &[O::T] = x;
        obj.begin_round(xs, round);
        let round: &O::Round = round;
        let skip: &[bool] = whole;
        let gradients = |grads: &mut [O::T], scratches: &mut [O::Scratch]| {
            let work = |(i, (row, s)): (usize, (&mut [O::T], &mut O::Scratch))| {
                if blind && skip[i] {
                    return;
                }
                let mut rng = stream(spec.seed, spec.key, round_base + i as u64);
                obj.worker_grad_of(i, xs, round, &mut rng, s, row);
            };
            if spec.parallel_workers {
                grads
                    .par_chunks_mut(d)
                    .zip(scratches.par_iter_mut())
                    .enumerate()
                    .for_each(work);
            } else {
                grads
                    .chunks_mut(d)
                    .zip(scratches.iter_mut())
                    .enumerate()
                    .for_each(work);
            }
        };
        if rows_only {
            // a blind attack writes the masked entries in row-major order whatever their rows
            // (`Attack::writes_blind`), so the Byzantine rows packed together get the same values
            let k = skip.iter().filter(|&&w| w).count();
            attacked.resize(k * d, O::T::default());
            attacked_mask.resize(k * d, true);
            attacked_mask.fill(true);
            let mut attack = || {
                byz.attack.apply_to(
                    Target::new(&mut attacked[..k * d], k, d, &mut attacked_mask[..k * d]),
                    &mut rng,
                )
            };
            if spec.parallel_workers {
                rayon::join(attack, || gradients(grads, scratches));
            } else {
                attack();
                gradients(grads, scratches);
            }
        } else {
            gradients(grads, scratches);
        }
        if spec.offsets.len() == m * d {
            for (v, &o) in grads.iter_mut().zip(&spec.offsets) {
                *v = O::T::from_f64(v.to_f64() + o);
            }
        }
        if rows_only {
            // the j-th Byzantine row is the j-th packed one
            let copy = |(i, row): (usize, &mut [O::T])| {
                if skip[i] {
                    let j = skip[..i].iter().filter(|&&w| w).count();
                    row.copy_from_slice(&attacked[j * d..(j + 1) * d]);
                }
            };
            if spec.parallel_workers && d > 0 {
                grads.par_chunks_mut(d).enumerate().for_each(copy);
            } else if d > 0 {
                grads.chunks_mut(d).enumerate().for_each(copy);
            }
        } else {
            if !marked_first {
                // positions that see the data (no true gradient here: the reference is 0)
                let seen: Vec<f64> = grads.iter().map(|v| v.to_f64()).collect();
                byz.corruption
                    .mark_seeing(&seen, None, m, d, byz.q, &mut rng, mask);
            }
            byz.attack
                .apply_to(Target::new(grads, m, d, mask), &mut rng);
        }
        let t0 = std::time::Instant::now();
        rule.aggregate_into(
            MatrixView::new(&buf.grads, m, d)?,
            &mut buf.ws,
            &mut buf.agg,
        )?;
        out.aggregate_seconds += t0.elapsed().as_secs_f64();
        let r = Round {
            t,
            x,
            agg: Some(&buf.agg),
            received: Some((&buf.grads, &buf.mask)),
        };
        for o in observers.iter_mut() {
            o.observe(obj, &r, &mut buf.obs_scratch);
        }
        let mut finite = true;
        for (xj, aj) in x.iter_mut().zip(&buf.agg) {
            let v = xj.to_f64() - spec.gamma * aj.to_f64();
            finite &= v.is_finite();
            *xj = O::T::from_f64(v);
        }
        if !finite && out.diverged_at.is_none() {
            out.diverged_at = Some(t + 1);
        }
    }
    let r = Round {
        t: spec.rounds,
        x,
        agg: None,
        received: None,
    };
    for o in observers.iter_mut() {
        o.observe(obj, &r, &mut buf.obs_scratch);
    }
    out.total_seconds = start.elapsed().as_secs_f64();
    Ok(out)
}

/// Records ||x_t - x*|| for t = 0..=T.
pub struct DistanceToOptimum {
    x_star: Vec<f64>,
    /// Values by round.
    pub values: Vec<f64>,
}

impl DistanceToOptimum {
    /// For optimum `x_star`, with room for `rounds + 1` values.
    pub fn new<T: Scalar>(x_star: &[T], rounds: usize) -> Self {
        Self {
            x_star: x_star.iter().map(|v| v.to_f64()).collect(),
            values: Vec::with_capacity(rounds + 1),
        }
    }
}

impl<O: Objective> Observer<O> for DistanceToOptimum {
    fn observe(&mut self, _obj: &O, r: &Round<'_, O::T>, _s: &mut O::Scratch) {
        let d2: f64 =
            r.x.iter()
                .zip(&self.x_star)
                .map(|(a, b)| (a.to_f64() - b) * (a.to_f64() - b))
                .sum();
        self.values.push(non_finite_inf(d2.sqrt()));
    }
}

fn non_finite_inf(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        f64::INFINITY
    }
}

/// Records ||grad F(x_t)||^2, F(x_t), and the aggregation error ||Aggr_t - grad F(x_t)||^2.
pub struct GradientMetrics<T> {
    buf: Vec<T>,
    /// ||grad F(x_t)||^2 by round (t = 0..=T).
    pub grad_norm_sq: Vec<f64>,
    /// F(x_t) by round.
    pub value: Vec<f64>,
    /// ||Aggr_t - grad F(x_t)||^2 by round (t = 0..T).
    pub agg_error: Vec<f64>,
}

impl<T: Scalar> GradientMetrics<T> {
    /// For dimension d and `rounds` rounds.
    pub fn new(d: usize, rounds: usize) -> Self {
        Self {
            buf: vec![T::default(); d],
            grad_norm_sq: Vec::with_capacity(rounds + 1),
            value: Vec::with_capacity(rounds + 1),
            agg_error: Vec::with_capacity(rounds),
        }
    }
}

impl<O: Objective> Observer<O> for GradientMetrics<O::T> {
    fn observe(&mut self, obj: &O, r: &Round<'_, O::T>, s: &mut O::Scratch) {
        obj.full_grad(r.x, s, &mut self.buf);
        let g2: f64 = self.buf.iter().map(|g| g.to_f64() * g.to_f64()).sum();
        self.grad_norm_sq.push(non_finite_inf(g2));
        self.value.push(non_finite_inf(obj.value(r.x, s)));
        if let Some(agg) = r.agg {
            let e: f64 = agg
                .iter()
                .zip(&self.buf)
                .map(|(a, g)| (a.to_f64() - g.to_f64()).powi(2))
                .sum();
            self.agg_error.push(non_finite_inf(e));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregators;
    use crate::attacks::{self, AttackParams};
    use crate::models::Reading;
    use crate::objectives::quadratic::Quadratic;
    use crate::rng::Rng;

    fn run_once(rule: &str, attack: &str, q: usize, threads: usize) -> (Vec<f64>, Vec<f64>) {
        let obj = Quadratic::new(8, 1.0, 4.0, "gaussian", 0.01, 1, Reading::Mean).unwrap();
        let p = aggregators::RuleParams {
            b: (rule == "trmean").then_some(q),
            ..Default::default()
        };
        let rule = aggregators::build(rule, &p, 10).unwrap();
        let ap = AttackParams::default();
        let corr = attacks::build_corruption("generalized", &ap).unwrap();
        let atk = attacks::build_attack(attack, &ap).unwrap();
        let spec = SimSpec {
            m: 10,
            rounds: 50,
            gamma: 0.4,
            seed: 3,
            key: 9,
            repeat: 0,
            parallel_workers: true,
            offsets: Vec::new(),
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let mut x = vec![0.0; 8];
            let mut buf = Buffers::new(&obj, 10);
            let mut dist = DistanceToOptimum::new(obj.optimum().unwrap(), 50);
            let mut gm = GradientMetrics::new(8, 50);
            run(
                &obj,
                rule.as_ref(),
                &Byzantine {
                    corruption: corr.as_ref(),
                    attack: atk.as_ref(),
                    q,
                },
                &spec,
                &mut x,
                &mut buf,
                &mut [&mut dist, &mut gm],
            )
            .unwrap();
            (dist.values, gm.agg_error)
        })
    }

    #[test]
    fn no_attack_mean_contracts_and_is_thread_independent() {
        let (d1, e1) = run_once("mean", "none", 0, 1);
        let (d2, e2) = run_once("mean", "none", 0, 2);
        assert_eq!(d1, d2);
        assert_eq!(e1, e2);
        assert_eq!(d1.len(), 51);
        // rho = 1 - gamma mu L / (mu + L) = 1 - 0.4 * 4/5 = 0.68; after 50 rounds the
        // deterministic part is ~4e-9: what is left is noise (V/m = 1e-3 per step)
        assert!(d1[50] < 0.1 * d1[0], "{} vs {}", d1[50], d1[0]);
    }

    #[test]
    fn omniscient_breaks_mean_but_not_trmean() {
        let (d, _) = run_once("mean", "omniscient", 2, 2);
        assert!(d.last().unwrap() > &1e10 || d.last().unwrap().is_infinite());
        let (d, _) = run_once("trmean", "omniscient", 2, 2);
        assert!(d.last().unwrap() < &0.2, "{:?}", d.last());
    }

    /// Counts the worker gradients it computes.
    struct Counting(Quadratic, std::sync::atomic::AtomicUsize);
    impl Objective for Counting {
        type T = f64;
        type Scratch = <Quadratic as Objective>::Scratch;
        type Round = ();
        fn dim(&self) -> usize {
            self.0.dim()
        }
        fn new_scratch(&self) -> Self::Scratch {
            self.0.new_scratch()
        }
        fn value(&self, x: &[f64], s: &mut Self::Scratch) -> f64 {
            self.0.value(x, s)
        }
        fn full_grad(&self, x: &[f64], s: &mut Self::Scratch, out: &mut [f64]) {
            self.0.full_grad(x, s, out)
        }
        fn worker_grad(&self, x: &[f64], rng: &mut Rng, s: &mut Self::Scratch, out: &mut [f64]) {
            self.1.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            self.0.worker_grad(x, rng, s, out)
        }
    }

    /// The attack it wraps, declared as reading the matrix (never skipped).
    struct Sighted(Box<dyn crate::attacks::Attack>);
    impl crate::attacks::Attack for Sighted {
        fn apply_f64(&self, t: Target<'_, f64>, rng: &mut Rng) {
            self.0.apply_f64(t, rng)
        }
        fn apply_f32(&self, t: Target<'_, f32>, rng: &mut Rng) {
            self.0.apply_f32(t, rng)
        }
    }

    /// Records the bits of every received matrix and mask.
    #[derive(Default)]
    struct Received(Vec<u64>);
    impl Observer<Counting> for Received {
        fn observe(&mut self, _: &Counting, r: &Round<'_, f64>, _: &mut ()) {
            if let Some((x, mask)) = r.received {
                self.0.extend(x.iter().map(|v| v.to_bits()));
                self.0.extend(mask.iter().map(|&b| u64::from(b)));
            }
        }
    }

    /// Row 1 whole and the first two values of row 4: rows wholly masked beside scattered
    /// entries (the skip applies, the attack stays after the gradients).
    struct RowAndScatter;
    impl crate::attacks::Corruption for RowAndScatter {
        fn whole_rows(&self) -> bool {
            false
        }
        fn mark(&self, m: usize, d: usize, _q: usize, _rng: &mut Rng, mask: &mut [bool]) {
            mask.iter_mut().for_each(|b| *b = false);
            mask[d..2 * d].iter_mut().for_each(|b| *b = true);
            if m > 4 && d > 1 {
                mask[4 * d] = true;
                mask[4 * d + 1] = true;
            }
        }
    }

    /// A blind attack skips the gradients of the rows it overwrites whole, and runs beside the
    /// other gradients when it writes whole rows only; neither changes a bit of what the
    /// server receives, round after round (against the same attack declared as reading),
    /// with and without heterogeneity offsets, parallel or sequential workers.
    #[test]
    fn blind_attacks_skip_the_gradients_of_whole_byzantine_rows() {
        type Go = (Vec<u64>, usize);
        let go = |attack: Box<dyn crate::attacks::Attack>,
                  corr: Box<dyn crate::attacks::Corruption>,
                  parallel: bool,
                  offsets: bool|
         -> Go {
            let q0 = Quadratic::new(8, 1.0, 4.0, "gaussian", 0.01, 1, Reading::Mean).unwrap();
            let obj = Counting(q0, 0.into());
            let p = aggregators::RuleParams {
                b: Some(3),
                ..Default::default()
            };
            let rule = aggregators::build("trmean", &p, 10).unwrap();
            let spec = SimSpec {
                m: 10,
                rounds: 20,
                gamma: 0.4,
                seed: 3,
                key: 9,
                repeat: 0,
                parallel_workers: parallel,
                offsets: if offsets {
                    (0..80).map(|i| f64::from(i % 7) * 0.25 - 0.5).collect()
                } else {
                    Vec::new()
                },
            };
            let mut x = vec![0.0; 8];
            let mut buf = Buffers::new(&obj, 10);
            let mut seen = Received::default();
            let byz = Byzantine {
                corruption: corr.as_ref(),
                attack: attack.as_ref(),
                q: 3,
            };
            run(
                &obj,
                rule.as_ref(),
                &byz,
                &spec,
                &mut x,
                &mut buf,
                &mut [&mut seen],
            )
            .unwrap();
            seen.0.extend(x.iter().map(|v| v.to_bits()));
            (seen.0, obj.1.into_inner())
        };
        let ap = AttackParams::default();
        let corr = |name: &str| attacks::build_corruption(name, &ap).unwrap();
        let attack = |name: &str| attacks::build_attack(name, &ap).unwrap();
        let sighted =
            |name: &str| -> Box<dyn crate::attacks::Attack> { Box::new(Sighted(attack(name))) };
        for name in ["gaussian", "constant"] {
            assert!(attack(name).writes_blind(), "{name}");
            for (parallel, offsets) in [(true, false), (false, false), (true, true), (false, true)]
            {
                let case = format!("{name}, parallel {parallel}, offsets {offsets}");
                // classic: whole rows only, the attack beside the gradients
                let (a, calls) = go(attack(name), corr("classic"), parallel, offsets);
                assert_eq!(calls, 7 * 20, "{case}: only the 7 correct workers");
                let (b, calls) = go(sighted(name), corr("classic"), parallel, offsets);
                assert_eq!(calls, 10 * 20, "{case}");
                assert_eq!(a, b, "{case}: classic");
                // a whole row beside scattered entries: skipped, the attack after
                let (a, calls) = go(attack(name), Box::new(RowAndScatter), parallel, offsets);
                assert_eq!(calls, 9 * 20, "{case}: row 1 skipped");
                let (b, _) = go(sighted(name), Box::new(RowAndScatter), parallel, offsets);
                assert_eq!(a, b, "{case}: row and scatter");
                // scattered positions
                let (a, _) = go(attack(name), corr("generalized"), parallel, offsets);
                let (b, _) = go(sighted(name), corr("generalized"), parallel, offsets);
                assert_eq!(a, b, "{case}: generalized");
            }
        }
        for name in ["none", "omniscient", "bit-flip"] {
            assert!(!attack(name).writes_blind(), "{name}");
            assert_eq!(
                go(attack(name), corr("classic"), true, false).1,
                10 * 20,
                "{name}"
            );
        }
    }
}
