//! The config of `phocas converge`: sweeps and the runs they expand to.

use crate::attacks::AttackParams;
use crate::error::Error;
use crate::montecarlo::config::BSpec;
use serde::{Deserialize, Serialize};

/// One sweep of runs.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// Name.
    pub name: String,
    /// `quadratic` or `double-well`.
    pub objective: String,
    /// Condition numbers L/mu (quadratic: mu = L / kappa). Ignored by the double well.
    #[serde(default = "default_kappa")]
    pub kappa: Vec<f64>,
    /// Smoothness constants L of the quadratic (default 1; `lipschitz` also accepted). Ignored
    /// by the double well, whose L is 1 + alpha.
    #[serde(default = "default_l", alias = "lipschitz")]
    pub l: Vec<f64>,
    /// Rounds T of this sweep's runs (default: the config's `rounds`).
    #[serde(default)]
    pub rounds: Option<usize>,
    /// With it, a run at step factor f < 1 gets min(max_rounds, ceil(rounds / f)) rounds: the
    /// distance contracts by about gamma c per round, so 1/f times the rounds reach the same
    /// stationary regime as f = 1.
    #[serde(default)]
    pub max_rounds: Option<usize>,
    /// Repeats R of this sweep's runs (default: the config's `repeats`).
    #[serde(default)]
    pub repeats: Option<usize>,
    /// Rules.
    pub rules: Vec<String>,
    /// Attacks.
    pub attacks: Vec<String>,
    /// Corruption models.
    #[serde(default = "default_corr")]
    pub corruptions: Vec<String>,
    /// Byzantine values per coordinate.
    pub q: Vec<usize>,
    /// Rule parameter relative to q or absolute.
    #[serde(default = "default_b")]
    pub b: Vec<BSpec>,
    /// Step sizes as multiples of the theorem's limit (2/(mu+L) or 1/L).
    #[serde(default = "default_gamma")]
    pub gamma: Vec<f64>,
    /// Gradient-noise distributions.
    #[serde(default = "default_dist")]
    pub distributions: Vec<String>,
    /// Heterogeneity G^2 of the workers: worker i's gradient gets a constant offset delta_i,
    /// sum_i delta_i = 0 and (1/m) sum_i ||delta_i||^2 = G^2 (default `[0]`: identical workers).
    /// On the quadratic, worker i's own minimiser is x* - A^{-1} delta_i and the average
    /// objective, its x*, mu and L are unchanged.
    #[serde(default = "default_g2")]
    pub g2: Vec<f64>,
    /// Shape of the offsets (`spread`, `clusters`, `outlier`, `skew`; default `spread`).
    #[serde(default = "default_shape")]
    pub shape: crate::montecarlo::hetero::Shape,
}

fn default_kappa() -> Vec<f64> {
    vec![10.0]
}
fn default_l() -> Vec<f64> {
    vec![1.0]
}
fn default_corr() -> Vec<String> {
    vec!["generalized".into()]
}
fn default_b() -> Vec<BSpec> {
    vec![BSpec::Relation("equal".into())]
}
fn default_gamma() -> Vec<f64> {
    vec![1.0]
}
fn default_dist() -> Vec<String> {
    vec!["gaussian".into()]
}
fn default_g2() -> Vec<f64> {
    vec![0.0]
}
fn default_shape() -> crate::montecarlo::hetero::Shape {
    crate::montecarlo::hetero::Shape::Spread
}

/// A convergence config.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Master seed.
    #[serde(default = "seed")]
    pub seed: u64,
    /// Repeats R.
    pub repeats: usize,
    /// Rounds T.
    pub rounds: usize,
    /// Workers m.
    pub m: usize,
    /// Dimension d.
    pub d: usize,
    /// Per-sample noise variance V1 (V = V1 with n = 1).
    #[serde(default = "one")]
    pub v: f64,
    /// Double-well curvature alpha (> 1).
    #[serde(default = "alpha")]
    pub alpha: f64,
    /// Attack parameters.
    #[serde(default)]
    pub attack_params: AttackParams,
    /// Sweeps.
    pub sweep: Vec<Sweep>,
}

fn seed() -> u64 {
    crate::rng::DEFAULT_SEED
}
fn one() -> f64 {
    1.0
}
fn alpha() -> f64 {
    2.0
}

impl Config {
    /// Parses and validates.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let c: Config = crate::montecarlo::config::parse_toml(text)?;
        let bad = |k: &str, msg: String| Err(Error::Config { key: k.into(), msg });
        if c.repeats < 2 {
            return bad(
                "repeats",
                format!("{}: at least 2 for a confidence band", c.repeats),
            );
        }
        if c.rounds == 0 || c.m == 0 || c.d == 0 {
            return bad("rounds/m/d", "must all be at least 1".into());
        }
        if !(c.v.is_finite() && c.v > 0.0) {
            return bad("v", format!("{} must be finite and positive", c.v));
        }
        if c.alpha <= 1.0 {
            return bad("alpha", format!("{} must exceed 1 (non-convex)", c.alpha));
        }
        c.attack_params.validate()?;
        if c.sweep.is_empty() {
            return bad("sweep", "at least one [[sweep]] is needed".into());
        }
        for (i, s) in c.sweep.iter().enumerate() {
            let k = |f: &str| format!("sweep[{i}] ({}).{f}", s.name);
            if !matches!(s.objective.as_str(), "quadratic" | "double-well") {
                return bad(
                    &k("objective"),
                    format!("'{}': use quadratic or double-well", s.objective),
                );
            }
            crate::montecarlo::config::check_names(
                &k,
                &s.rules,
                &s.distributions,
                &s.corruptions,
                &s.attacks,
                &c.attack_params,
            )?;
            if let Some(g) = s.gamma.iter().find(|g| !(g.is_finite() && **g > 0.0)) {
                return bad(&k("gamma"), format!("{g} must be finite and positive"));
            }
            if let Some(kk) = s.kappa.iter().find(|x| !(x.is_finite() && **x >= 1.0)) {
                return bad(&k("kappa"), format!("{kk} must be >= 1"));
            }
            if let Some(l) = s.l.iter().find(|x| !(x.is_finite() && **x > 0.0)) {
                return bad(&k("l"), format!("{l} must be finite and positive"));
            }
            if let Some(g) = s.g2.iter().find(|x| !(x.is_finite() && **x >= 0.0)) {
                return bad(&k("g2"), format!("{g} must be finite and >= 0"));
            }
            if s.kappa.is_empty() || s.l.is_empty() || s.gamma.is_empty() || s.g2.is_empty() {
                return bad(&k("kappa/l/gamma/g2"), "must not be empty lists".into());
            }
            for (name, len) in [
                ("rules", s.rules.len()),
                ("attacks", s.attacks.len()),
                ("corruptions", s.corruptions.len()),
                ("distributions", s.distributions.len()),
                ("q", s.q.len()),
                ("b", s.b.len()),
            ] {
                if len == 0 {
                    return bad(&k(name), "must list at least one value".into());
                }
            }
            if let Err(msg) = crate::montecarlo::config::check_sweep_name(&s.name) {
                return bad(&format!("sweep[{i}].name"), msg);
            }
            if s.rounds == Some(0) {
                return bad(&k("rounds"), "must be at least 1".into());
            }
            if let Some(r) = s.repeats.filter(|&r| r < 2) {
                return bad(
                    &k("repeats"),
                    format!("{r}: at least 2 for a confidence band"),
                );
            }
            if let Some(mr) = s.max_rounds.filter(|&mr| mr < s.rounds.unwrap_or(c.rounds)) {
                return bad(
                    &k("max_rounds"),
                    format!("{mr} is below the sweep's rounds"),
                );
            }
            if let Some(q) = s.q.iter().find(|&&q| q > c.m) {
                return bad(&k("q"), format!("q = {q} exceeds m = {}", c.m));
            }
            // lists multiply: bound the runs before expanding them
            let runs = [
                s.kappa.len(),
                s.l.len(),
                s.distributions.len(),
                s.corruptions.len(),
                s.attacks.len(),
                s.q.len(),
                s.rules.len(),
                s.b.len(),
                s.gamma.len(),
                s.g2.len(),
            ]
            .iter()
            .map(|&n| n as f64)
            .product::<f64>();
            let max = crate::montecarlo::config::MAX_CELLS;
            if crate::budget::exceeds(runs, max as f64) {
                return bad(
                    &format!("sweep[{i}] ({})", s.name),
                    format!("expands to up to {runs:.3e} runs, more than {max}: shorten its lists"),
                );
            }
        }
        Ok(c)
    }

    /// Expands into runs; out-of-range parameters are skipped.
    pub fn runs(&self) -> Vec<RunSpec> {
        let mut v = Vec::new();
        for s in &self.sweep {
            let (kappas, ls) = if s.objective == "quadratic" {
                (s.kappa.clone(), s.l.clone())
            } else {
                (vec![1.0], vec![1.0])
            };
            let base = s.rounds.unwrap_or(self.rounds);
            let rounds = |gf: f64| match s.max_rounds {
                Some(mr) if gf < 1.0 => ((base as f64 / gf).ceil() as usize).clamp(base, mr),
                _ => base,
            };
            let repeats = s.repeats.unwrap_or(self.repeats);
            for (&kappa, &l) in kappas.iter().flat_map(|k| ls.iter().map(move |l| (k, l))) {
                for dist in &s.distributions {
                    for corr in &s.corruptions {
                        for attack in &s.attacks {
                            for &q in &s.q {
                                for rule in &s.rules {
                                    let (params, _) =
                                        crate::montecarlo::config::expand_b(rule, self.m, q, &s.b);
                                    for (b, _) in params {
                                        for (&gf, &g2) in s
                                            .gamma
                                            .iter()
                                            .flat_map(|g| s.g2.iter().map(move |h| (g, h)))
                                        {
                                            v.push(RunSpec {
                                                sweep: s.name.clone(),
                                                objective: s.objective.clone(),
                                                kappa,
                                                l,
                                                distribution: dist.clone(),
                                                corruption: corr.clone(),
                                                attack: attack.clone(),
                                                q,
                                                rule: rule.clone(),
                                                b,
                                                gamma_factor: gf,
                                                rounds: rounds(gf),
                                                repeats,
                                                g2,
                                                shape: s.shape,
                                            });
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        v
    }
}

/// One run of the grid.
#[derive(Clone, Debug)]
pub struct RunSpec {
    /// Sweep.
    pub sweep: String,
    /// Objective.
    pub objective: String,
    /// L/mu.
    pub kappa: f64,
    /// L of the quadratic (1 for the double well, whose L is 1 + alpha).
    pub l: f64,
    /// Noise distribution.
    pub distribution: String,
    /// Corruption model.
    pub corruption: String,
    /// Attack.
    pub attack: String,
    /// q.
    pub q: usize,
    /// Rule.
    pub rule: String,
    /// b or Krum's assumed q.
    pub b: Option<usize>,
    /// gamma as a multiple of the theorem's limit.
    pub gamma_factor: f64,
    /// Rounds T.
    pub rounds: usize,
    /// Repeats R.
    pub repeats: usize,
    /// Heterogeneity G^2 of the workers (0: identical).
    pub g2: f64,
    /// Shape of the heterogeneity offsets.
    pub shape: crate::montecarlo::hetero::Shape,
}

impl RunSpec {
    /// Stable identity (seeds the run). L appears only when it is not 1, so that runs with
    /// L = 1 keep the keys (and random streams) they had before L became a parameter.
    pub fn key(&self) -> String {
        let kappa = if self.l == 1.0 {
            self.kappa.to_string()
        } else {
            format!("{};L={}", self.kappa, self.l)
        };
        format!(
            "sweep={};obj={};kappa={};dist={};corr={};attack={};q={};rule={};b={};gamma={}",
            self.sweep,
            self.objective,
            kappa,
            self.distribution,
            self.corruption,
            self.attack,
            self.q,
            self.rule,
            self.b.map_or("-".into(), |b| b.to_string()),
            self.gamma_factor
        ) + &if self.g2 > 0.0 {
            // identical workers keep the keys (and seeds) they had before heterogeneity
            format!(";g2={:e};shape={}", self.g2, self.shape.name())
        } else {
            String::new()
        }
    }
}
