//! One corruption step on a given matrix: the two calls a Monte Carlo trial makes after it has
//! sampled the honest rows (src/montecarlo/engine.rs), usable on their own. The CLI's
//! `phocas corrupt` and the Python package's `phocas.corrupt` call [`corrupt`] with the trial
//! stream [`trial_stream`], so the same seed, key and index give the same bits everywhere.

use super::{Attack, AttackExt, AttackParams, Corruption, Oracle, Target};
use crate::error::Error;
use crate::rng::{hash_str, stream, Rng};
use crate::scalar::Scalar;

/// The random stream of one corruption: `stream(seed, fnv1a(key), index)`, the derivation every
/// stream of the workbench uses (a Monte Carlo trial's key is its cell's data key, its index the
/// trial number).
pub fn trial_stream(seed: u64, key: &str, index: u64) -> Rng {
    stream(seed, hash_str(key), index)
}

/// Marks the Byzantine positions of the honest m x d matrix `x` into `mask` (m x d, row-major,
/// true = Byzantine): q per coordinate, or q whole rows (Definitions 1 and 4). Models whose
/// positions depend on the data ([`Corruption::sees_data`]) read `x` and the true gradient `g`.
/// O(md) for the data-blind models, O(d m log m) for the seeing ones.
pub fn mark_positions(
    corruption: &dyn Corruption,
    x: &[f64],
    g: Option<&[f64]>,
    (m, d, q): (usize, usize, usize),
    rng: &mut Rng,
    mask: &mut [bool],
) {
    corruption.mark_seeing(x, g, m, d, q, rng, mask);
}

/// Everything [`corrupt`] needs besides the matrix.
pub struct Corrupt<'a> {
    /// The corruption model (which positions).
    pub corruption: &'a dyn Corruption,
    /// The attack (which values).
    pub attack: &'a dyn Attack,
    /// Byzantine values per coordinate (or rows, in the classic model); at most m.
    pub q: usize,
    /// What an adaptive adversary may see (the true gradient and the rule), if anything.
    pub oracle: Option<Oracle<'a>>,
}

/// Corrupts the m x d matrix `x` (row-major, one row per worker) in place, as a Monte Carlo
/// trial does: the model marks the positions into `mask`, then the attack overwrites them.
/// `rng` is consumed in that order, so [`trial_stream`] with the same arguments gives the same
/// bits on every call, thread count and front end. O(md) plus the attack's own cost.
pub fn corrupt<T: Scalar>(
    x: &mut [T],
    m: usize,
    d: usize,
    c: &Corrupt<'_>,
    rng: &mut Rng,
    mask: &mut [bool],
) -> Result<(), Error> {
    let n = m.checked_mul(d).ok_or_else(|| {
        Error::Invalid(format!("m x d = {m} x {d} overflows: use a smaller matrix"))
    })?;
    if x.len() != n || mask.len() != n {
        return Err(Error::Invalid(format!(
            "the matrix has {} values and the mask {}, but m x d = {m} x {d} = {n}",
            x.len(),
            mask.len()
        )));
    }
    if c.q > m {
        return Err(Error::Invalid(format!(
            "q = {} exceeds the m = {m} workers: give q <= {m}",
            c.q
        )));
    }
    if let Some(o) = &c.oracle {
        if o.g.len() != d {
            return Err(Error::Invalid(format!(
                "the true gradient g has length {}, but the matrix has d = {d} columns",
                o.g.len()
            )));
        }
        if o.rule.m() != m {
            return Err(Error::Invalid(format!(
                "the rule was built for m = {} workers, but the matrix has m = {m} rows",
                o.rule.m()
            )));
        }
    }
    let free = c.corruption.sees_data();
    if free {
        let xf: Vec<f64> = x.iter().map(|v| v.to_f64()).collect();
        mark_positions(
            c.corruption,
            &xf,
            c.oracle.map(|o| o.g),
            (m, d, c.q),
            rng,
            mask,
        );
    } else {
        mark_positions(c.corruption, &[], None, (m, d, c.q), rng, mask);
    }
    let mut target = Target::new(x, m, d, mask);
    target.oracle = c.oracle;
    target.free_positions = free;
    c.attack.apply_to(target, rng);
    Ok(())
}

/// Attack parameters from `key=value` pairs (TOML values: `gaussian_sigma=100`,
/// `bitflip_bits=[22, 31]`), checked like a config's `[attack_params]`.
pub fn params_from_pairs(pairs: &[String]) -> Result<AttackParams, Error> {
    let mut text = String::new();
    for p in pairs {
        let (k, v) = p.split_once('=').ok_or_else(|| {
            Error::Invalid(format!(
                "attack parameter '{p}' is not KEY=VALUE: write e.g. gaussian_sigma=100"
            ))
        })?;
        text.push_str(&format!("{} = {}\n", k.trim(), v.trim()));
    }
    let p: AttackParams = toml::from_str(&text).map_err(|e| Error::Config {
        key: "attack parameter".into(),
        msg: crate::error::toml_message(&e),
    })?;
    p.validate()?;
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attacks::{build_attack, build_corruption};

    fn run(x: &mut [f64], attack: &str, corruption: &str, q: usize) -> Vec<bool> {
        let p = AttackParams::default();
        let (a, c) = (
            build_attack(attack, &p).unwrap(),
            build_corruption(corruption, &p).unwrap(),
        );
        let mut mask = vec![false; x.len()];
        let mut rng = trial_stream(7, "k", 3);
        let spec = Corrupt {
            corruption: c.as_ref(),
            attack: a.as_ref(),
            q,
            oracle: None,
        };
        corrupt(x, 5, 4, &spec, &mut rng, &mut mask).unwrap();
        mask
    }

    #[test]
    fn same_stream_same_bits_and_only_masked_entries_change() {
        let honest: Vec<f64> = (0..20).map(f64::from).collect();
        let (mut a, mut b) = (honest.clone(), honest.clone());
        let ma = run(&mut a, "gaussian", "generalized", 2);
        let mb = run(&mut b, "gaussian", "generalized", 2);
        assert_eq!(ma, mb);
        assert_eq!(
            a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            b.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        for j in 0..4 {
            assert_eq!((0..5).filter(|&i| ma[i * 4 + j]).count(), 2);
        }
        for (k, (&v, &h)) in a.iter().zip(&honest).enumerate() {
            if !ma[k] {
                assert_eq!(v, h);
            } else {
                assert_ne!(v, h, "a Gaussian draw of sd 200 equals the honest value");
            }
        }
    }

    #[test]
    fn classic_corrupts_whole_rows() {
        let mut x = vec![1.0; 20];
        let mask = run(&mut x, "constant", "classic", 2);
        let rows: Vec<bool> = mask.chunks(4).map(|r| r.iter().all(|&b| b)).collect();
        assert_eq!(rows.iter().filter(|&&r| r).count(), 2);
        assert!(mask.chunks(4).all(|r| r.iter().all(|&b| b == r[0])));
    }

    #[test]
    fn bad_shapes_and_q_are_errors() {
        let p = AttackParams::default();
        let a = build_attack("nan", &p).unwrap();
        let c = build_corruption("classic", &p).unwrap();
        let spec = |q| Corrupt {
            corruption: c.as_ref(),
            attack: a.as_ref(),
            q,
            oracle: None,
        };
        let mut x = vec![0.0f32; 6];
        let mut mask = vec![false; 6];
        let mut rng = trial_stream(0, "", 0);
        assert!(corrupt(&mut x, 2, 3, &spec(3), &mut rng, &mut mask).is_err());
        assert!(corrupt(&mut x, 3, 3, &spec(1), &mut rng, &mut mask).is_err());
        assert!(corrupt(&mut x, usize::MAX, 2, &spec(1), &mut rng, &mut mask).is_err());
        assert!(corrupt(&mut x, 2, 3, &spec(2), &mut rng, &mut mask).is_ok());
        assert!(x.iter().all(|v| v.is_nan()));
    }

    #[test]
    fn params_from_pairs_parses_and_rejects() {
        let p =
            params_from_pairs(&["gaussian_sigma=5".into(), "bitflip_bits=[1, 2]".into()]).unwrap();
        assert_eq!(p.gaussian_sigma, 5.0);
        assert_eq!(p.bitflip_bits, vec![1, 2]);
        assert!(params_from_pairs(&["sigma=5".into()]).is_err());
        assert!(params_from_pairs(&["gaussian_sigma".into()]).is_err());
        assert!(params_from_pairs(&["bitflip_bits=[40]".into()]).is_err());
    }
}
