//! The grid of a Monte Carlo run, read from TOML (experiments/verify-bounds.toml).
//!
//! A config is a list of sweeps; each sweep is the cross product of its lists. Unknown keys and
//! invalid values are errors naming the key.

use crate::aggregators::{self, max_trim};
use crate::attacks::{self, AttackParams};
use crate::error::Error;
use crate::models::{self, Reading};
use serde::{Deserialize, Serialize};

/// Which rows of the worker matrix are trimmed, relative to q, or an absolute value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BSpec {
    /// An absolute b.
    Value(usize),
    /// `below` (q-1), `equal` (q), `above` (q+1), `max` (largest allowed).
    Relation(String),
}

/// q values: a list, or "all" for 0..=ceil(m/2)-1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum QSpec {
    /// Explicit values.
    List(Vec<usize>),
    /// "all".
    All(String),
}

/// The x axis of a sweep's chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChartAxis {
    /// Error/V against q.
    Q,
    /// Against b.
    B,
    /// Against d (the dimension-free claim).
    D,
    /// Against attack magnitude (log-log; Propositions 1-3).
    Magnitude,
    /// No chart.
    None,
}

/// One sweep: the cross product of its lists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sweep {
    /// Name (appears in the tables).
    pub name: String,
    /// Rules from the registry.
    pub rules: Vec<String>,
    /// Gradient distributions.
    pub distributions: Vec<String>,
    /// Corruption models.
    pub corruptions: Vec<String>,
    /// Attacks.
    pub attacks: Vec<String>,
    /// Worker counts.
    pub m: Vec<usize>,
    /// Byzantine values per coordinate.
    pub q: QSpec,
    /// Rule parameter b (trimming) or assumed q (Krum), relative to q or absolute.
    #[serde(default = "default_b")]
    pub b: Vec<BSpec>,
    /// Dimensions.
    pub d: Vec<usize>,
    /// Per-worker sample counts.
    #[serde(default = "default_n")]
    pub n: Vec<usize>,
    /// How n samples combine.
    #[serde(default)]
    pub reading: Reading,
    /// Attack magnitudes (sets the attack's main parameter); empty: the attack's default.
    #[serde(default)]
    pub magnitudes: Vec<f64>,
    /// Trials per cell (may be overridden by --trials).
    pub trials: usize,
    /// Scale trials by 1/d with this reference d (trials * d_ref / d, at least `min_trials`).
    #[serde(default)]
    pub trials_d_ref: Option<usize>,
    /// Floor for scaled trials.
    #[serde(default = "default_min_trials")]
    pub min_trials: usize,
    /// Chart x axis.
    #[serde(default = "default_chart")]
    pub chart: ChartAxis,
}

fn default_b() -> Vec<BSpec> {
    vec![BSpec::Relation("equal".into())]
}
fn default_n() -> Vec<usize> {
    vec![1]
}
fn default_min_trials() -> usize {
    200
}
fn default_chart() -> ChartAxis {
    ChartAxis::None
}

/// A whole config.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Master seed.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Per-sample total variance V1 (V = V1/n or n V1).
    #[serde(default = "one")]
    pub v: f64,
    /// Norm of the true gradient g.
    #[serde(default = "one")]
    pub g_norm: f64,
    /// Attack and corruption parameters.
    #[serde(default)]
    pub attack_params: AttackParams,
    /// The sweeps.
    pub sweep: Vec<Sweep>,
    /// Empirical (f, kappa)-robustness, if asked ([`super::kappa`]).
    #[serde(default)]
    pub kappa: Option<super::kappa::KappaConfig>,
    /// Heterogeneous honest workers, if asked ([`super::hetero`]).
    #[serde(default)]
    pub heterogeneity: Option<super::hetero::HeteroConfig>,
}

fn default_seed() -> u64 {
    crate::rng::DEFAULT_SEED
}
fn one() -> f64 {
    1.0
}

/// Parses TOML into `T`; errors give the line and column (1-based) and say what was
/// expected. Callers that read a file prefix its name with [`in_file`].
pub fn parse_toml<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, Error> {
    toml::from_str(text).map_err(|e| Error::Config {
        key: e
            .span()
            .map(|s| {
                let (line, col) = line_column(text, s.start);
                format!("line {line}, column {col}")
            })
            .unwrap_or_else(|| "config".into()),
        msg: crate::error::toml_message(&e),
    })
}

/// The 1-based line and column (in characters) of byte `pos` of `text`.
pub fn line_column(text: &str, pos: usize) -> (usize, usize) {
    let mut pos = pos.min(text.len());
    while !text.is_char_boundary(pos) {
        pos -= 1;
    }
    let before = &text[..pos];
    let line = before.matches('\n').count() + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[start..].chars().count() + 1)
}

/// Prefixes the name of the file a config came from to a config error's position.
pub fn in_file(e: Error, file: &std::path::Path) -> Error {
    match e {
        Error::Config { key, msg } => Error::Config {
            key: format!("{}: {key}", file.display()),
            msg,
        },
        e => e,
    }
}

/// The built-in default grid.
pub const DEFAULT_CONFIG: &str = include_str!("../../experiments/verify-bounds.toml");
/// The built-in quick grid (CI and smoke tests).
pub const QUICK_CONFIG: &str = include_str!("../../experiments/verify-bounds-quick.toml");

/// One cell of the grid.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// Sweep name.
    pub sweep: String,
    /// Rule name.
    pub rule: String,
    /// Distribution.
    pub distribution: String,
    /// Corruption model.
    pub corruption: String,
    /// Attack.
    pub attack: String,
    /// Magnitude, if swept.
    pub magnitude: Option<f64>,
    /// Workers.
    pub m: usize,
    /// Byzantine values per coordinate.
    pub q: usize,
    /// Rule parameter (b, or Krum's assumed q); None for mean and median.
    pub b: Option<usize>,
    /// How b was chosen (`equal`, `below`, `above`, `max`, or `value`).
    pub b_spec: String,
    /// Dimension.
    pub d: usize,
    /// Samples per worker.
    pub n: usize,
    /// Reading of n.
    pub reading: Reading,
    /// Trials.
    pub trials: usize,
    /// Chart axis of the sweep.
    pub chart: ChartAxis,
}

impl Cell {
    /// A canonical key (stable across versions): identifies the cell for checkpoints and
    /// sharding. Its random streams are seeded by [`Cell::data_key`].
    pub fn key(&self) -> String {
        format!(
            "sweep={};rule={};dist={};corr={};attack={};mag={};m={};q={};b={};d={};n={};reading={}",
            self.sweep,
            self.rule,
            self.distribution,
            self.corruption,
            self.attack,
            self.magnitude
                .map_or("default".into(), |x| format!("{x:e}")),
            self.m,
            self.q,
            self.b.map_or("-".into(), |b| b.to_string()),
            self.d,
            self.n,
            self.reading.key_name()
        )
    }
    /// The key of the cell's random streams: [`Cell::key`] without the rule, its parameter,
    /// the attack and its magnitude, so in trial t every rule and attack of a sweep sees the
    /// same honest samples and (for models whose positions ignore the data) the same Byzantine
    /// positions: common random numbers, so rule-versus-rule differences are paired.
    pub fn data_key(&self) -> String {
        format!(
            "sweep={};dist={};corr={};m={};q={};d={};n={};reading={}",
            self.sweep,
            self.distribution,
            self.corruption,
            self.m,
            self.q,
            self.d,
            self.n,
            self.reading.key_name()
        )
    }
    /// Rule parameters for the registry.
    pub fn rule_params(&self) -> aggregators::RuleParams {
        aggregators::RuleParams::for_rule(&self.rule, self.b, None)
    }
}

/// Expands b specs for `rule` at (m, q) into distinct valid values with the spec that chose
/// each (`below`, `equal`, `above`, `max`, `value`); rules without a parameter get one
/// `(None, "-")`. Returns the values and how many specs fell out of the rule's range.
pub fn expand_b(
    rule: &str,
    m: usize,
    q: usize,
    specs: &[BSpec],
) -> (Vec<(Option<usize>, String)>, usize) {
    let Some(max) = aggregators::param_max(rule, m) else {
        return (vec![(None, "-".to_string())], 0);
    };
    let mut v: Vec<(Option<usize>, String)> = Vec::new();
    let mut skipped = 0;
    for spec in specs {
        let (b, name) = match spec {
            BSpec::Value(b) => (Some(*b), "value".to_string()),
            BSpec::Relation(r) => (
                match r.as_str() {
                    "below" => q.checked_sub(1),
                    "equal" => Some(q),
                    "above" => Some(q + 1),
                    _ => max,
                },
                r.clone(),
            ),
        };
        match (b, max) {
            (Some(b), Some(max)) if b <= max => {
                if !v.iter().any(|(x, _)| *x == Some(b)) {
                    v.push((Some(b), name));
                }
            }
            _ => skipped += 1,
        }
    }
    (v, skipped)
}

/// Checks names against the registries; errors name `key(field)`.
pub fn check_names(
    key: &dyn Fn(&str) -> String,
    rules: &[String],
    distributions: &[String],
    corruptions: &[String],
    attacks_: &[String],
    ap: &AttackParams,
) -> Result<(), Error> {
    for r in rules {
        if !aggregators::REGISTRY.iter().any(|x| x.name == r) {
            return Err(Error::Config {
                key: key("rules"),
                msg: format!(
                    "unknown rule '{r}': known rules are {}",
                    aggregators::rule_names()
                ),
            });
        }
    }
    for d in distributions {
        if !models::NOISES.iter().any(|x| x.name == d) {
            return Err(Error::Config {
                key: key("distributions"),
                msg: format!(
                    "unknown distribution '{d}': known are {}",
                    models::noise_names()
                ),
            });
        }
    }
    for c in corruptions {
        attacks::build_corruption(c, ap).map_err(|e| Error::Config {
            key: key("corruptions"),
            msg: e.to_string(),
        })?;
    }
    for a in attacks_ {
        attacks::build_attack(a, ap).map_err(|e| Error::Config {
            key: key("attacks"),
            msg: e.to_string(),
        })?;
    }
    Ok(())
}

/// Most cells one sweep may expand to (the default grid has a few thousand in all).
pub const MAX_CELLS: usize = 1_000_000;

/// Checks a sweep name: non-empty, printable, without the separators of cell keys and
/// checkpoint lines (`;`, `=`, `|`, tab, newline).
pub fn check_sweep_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("the sweep name is empty: give every [[sweep]] a name".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_control() || matches!(c, ';' | '=' | '|'))
    {
        return Err(format!(
            "sweep name {name:?} contains {c:?}: use letters, digits, spaces, '-' or '_'"
        ));
    }
    Ok(())
}

impl Config {
    /// Parses and validates TOML text.
    pub fn parse(text: &str) -> Result<Self, Error> {
        let cfg: Config = parse_toml(text)?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Parses and validates JSON text with the TOML config's keys (the Python package passes
    /// a dict this way).
    pub fn parse_json(text: &str) -> Result<Self, Error> {
        let cfg: Config = serde_json::from_str(text).map_err(|e| {
            // the position in the JSON text means nothing to the caller of a dict
            let msg = e.to_string();
            let msg = msg
                .split(" at line ")
                .next()
                .unwrap_or_default()
                .to_string();
            Error::Config {
                key: "dict".into(),
                msg,
            }
        })?;
        cfg.validate()?;
        Ok(cfg)
    }

    /// Reads a config file.
    pub fn load(path: &std::path::Path) -> Result<Self, Error> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        Self::parse(&text).map_err(|e| match e {
            Error::Config { key, msg } => Error::Config {
                key: format!("{}: {key}", path.display()),
                msg,
            },
            e => e,
        })
    }

    /// Checks every value; errors name the key.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |key: String, msg: String| Err(Error::Config { key, msg });
        if !(self.v.is_finite() && self.v > 0.0) {
            return bad(
                "v".into(),
                format!("{} must be finite and positive", self.v),
            );
        }
        if !self.g_norm.is_finite() {
            return bad("g_norm".into(), "must be finite".into());
        }
        self.attack_params.validate()?;
        if let Some(h) = &self.heterogeneity {
            super::hetero::validate(h)?;
        }
        if self.sweep.is_empty() {
            return bad("sweep".into(), "at least one [[sweep]] is needed".into());
        }
        for (i, s) in self.sweep.iter().enumerate() {
            let k = |f: &str| format!("sweep[{i}] ({}).{f}", s.name);
            if let Err(msg) = check_sweep_name(&s.name) {
                return bad(format!("sweep[{i}].name"), msg);
            }
            check_names(
                &k,
                &s.rules,
                &s.distributions,
                &s.corruptions,
                &s.attacks,
                &self.attack_params,
            )?;
            for (name, list) in [
                ("rules", s.rules.len()),
                ("distributions", s.distributions.len()),
                ("corruptions", s.corruptions.len()),
                ("attacks", s.attacks.len()),
                ("m", s.m.len()),
                ("d", s.d.len()),
                ("n", s.n.len()),
                ("b", s.b.len()),
            ] {
                if list == 0 {
                    return bad(k(name), "must list at least one value".into());
                }
            }
            if let Some(&m) = s.m.iter().find(|&&m| m == 0) {
                return bad(k("m"), format!("m = {m}: at least one worker is needed"));
            }
            if s.d.contains(&0) {
                return bad(k("d"), "d = 0: the dimension must be at least 1".into());
            }
            if s.n.contains(&0) {
                return bad(k("n"), "n = 0: at least one sample per worker".into());
            }
            if let QSpec::List(l) = &s.q {
                if l.is_empty() {
                    return bad(k("q"), "must list at least one value (or \"all\")".into());
                }
            }
            if s.trials_d_ref.is_some() && s.min_trials < 2 {
                return bad(
                    k("min_trials"),
                    format!(
                        "{}: every cell needs at least 2 trials for a confidence interval",
                        s.min_trials
                    ),
                );
            }
            if s.trials_d_ref == Some(0) {
                return bad(k("trials_d_ref"), "must be at least 1".into());
            }
            if s.trials < 2 {
                return bad(
                    k("trials"),
                    format!(
                        "{} trials: at least 2 are needed for a confidence interval",
                        s.trials
                    ),
                );
            }
            if let QSpec::All(a) = &s.q {
                if a != "all" {
                    return bad(k("q"), format!("'{a}': give a list of integers or \"all\""));
                }
            }
            if let QSpec::List(l) = &s.q {
                if let Some((&q, &m)) = l
                    .iter()
                    .flat_map(|q| s.m.iter().map(move |m| (q, m)))
                    .find(|(q, m)| q > m)
                {
                    return bad(k("q"), format!("q = {q} exceeds m = {m}"));
                }
            }
            for b in &s.b {
                if let BSpec::Relation(r) = b {
                    if !matches!(r.as_str(), "below" | "equal" | "above" | "max") {
                        return bad(
                            k("b"),
                            format!("'{r}': use an integer or one of below, equal, above, max"),
                        );
                    }
                }
            }
            for &x in &s.magnitudes {
                if !(x.is_finite() && x >= 0.0) {
                    return bad(k("magnitudes"), format!("{x} must be finite and >= 0"));
                }
            }
            // a magnitude sweep over an attack without a magnitude would label copies of one
            // cell with magnitudes that were never applied
            if !s.magnitudes.is_empty() {
                if let Some(a) = s.attacks.iter().find(|a| {
                    attacks::ATTACKS
                        .iter()
                        .find(|i| i.name == a.as_str())
                        .is_some_and(|i| i.magnitude.is_none())
                }) {
                    return bad(
                        k("magnitudes"),
                        format!(
                            "attack '{a}' has no magnitude to sweep: drop it from this sweep's attacks or drop magnitudes (attacks with one: {})",
                            attacks::ATTACKS
                                .iter()
                                .filter(|i| i.magnitude.is_some())
                                .map(|i| i.name)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    );
                }
            }
        }
        // bound the grid before expanding it: lists multiply
        for (i, s) in self.sweep.iter().enumerate() {
            let per_m = (s.rules.len() * s.b.len()) as f64
                * (s.distributions.len() * s.corruptions.len() * s.attacks.len()) as f64
                * s.magnitudes.len().max(1) as f64
                * (s.d.len() * s.n.len()) as f64;
            let cells: f64 =
                s.m.iter()
                    .map(|&m| {
                        let qs = match &s.q {
                            QSpec::List(l) => l.len(),
                            QSpec::All(_) => max_trim(m).saturating_add(1),
                        };
                        qs as f64 * per_m
                    })
                    .sum();
            if crate::budget::exceeds(cells, MAX_CELLS as f64) {
                return bad(
                    format!("sweep[{i}] ({})", s.name),
                    format!(
                        "expands to up to {cells:.3e} cells, more than {MAX_CELLS}: shorten its lists (q = \"all\" with a large m gives one cell per q)"
                    ),
                );
            }
        }
        // the same cell twice (a repeated list entry, rule or sweep) would be simulated twice
        // and collide in the checkpoint and the tables: refuse it here, naming it
        let (cells, _) = self.cells(None);
        let mut seen = std::collections::HashSet::with_capacity(cells.len());
        for c in &cells {
            if !seen.insert(c.key()) {
                return bad(
                    format!("sweep ({})", c.sweep),
                    format!(
                        "the cell {} appears twice: remove the repeated value, rule or sweep",
                        c.key()
                    ),
                );
            }
        }
        if cells.is_empty() {
            return bad(
                "sweep".into(),
                "the grid has no cell (every parameter combination is out of range)".into(),
            );
        }
        Ok(())
    }

    /// Expands the sweeps into cells. Cells whose parameters are out of a rule's range (for
    /// example b = q + 1 above ceil(m/2)-1) are skipped and counted.
    pub fn cells(&self, trials_override: Option<usize>) -> (Vec<Cell>, usize) {
        let mut cells = Vec::new();
        let mut skipped = 0;
        for s in &self.sweep {
            let mags: Vec<Option<f64>> = if s.magnitudes.is_empty() {
                vec![None]
            } else {
                s.magnitudes.iter().map(|&x| Some(x)).collect()
            };
            for &m in &s.m {
                let qs: Vec<usize> = match &s.q {
                    QSpec::List(l) => l.clone(),
                    QSpec::All(_) => (0..=max_trim(m)).collect(),
                };
                for &q in &qs {
                    if q > m {
                        skipped += 1;
                        continue;
                    }
                    for rule in &s.rules {
                        let (bs, skip) = expand_b(rule, m, q, &s.b);
                        skipped += skip;
                        for (b, b_spec) in bs {
                            for dist in &s.distributions {
                                for corr in &s.corruptions {
                                    for attack in &s.attacks {
                                        for &mag in &mags {
                                            for &d in &s.d {
                                                for &n in &s.n {
                                                    let base = trials_override.unwrap_or(s.trials);
                                                    let trials = match s.trials_d_ref {
                                                        Some(r) if trials_override.is_none() => {
                                                            (base.saturating_mul(r) / d)
                                                                .max(s.min_trials)
                                                                .min(base)
                                                        }
                                                        _ => base,
                                                    };
                                                    cells.push(Cell {
                                                        sweep: s.name.clone(),
                                                        rule: rule.clone(),
                                                        distribution: dist.clone(),
                                                        corruption: corr.clone(),
                                                        attack: attack.clone(),
                                                        magnitude: mag,
                                                        m,
                                                        q,
                                                        b,
                                                        b_spec: b_spec.clone(),
                                                        d,
                                                        n,
                                                        reading: s.reading,
                                                        trials,
                                                        chart: s.chart,
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
            }
        }
        (cells, skipped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_name_the_line_and_column() {
        let e =
            parse_toml::<Config>("seed = 1\n\n[[sweep]]\nname = \"a\"\nrules = [\"mean\",, ]\n")
                .unwrap_err()
                .to_string();
        assert!(e.contains("line 5, column"), "{e}");
        assert!(!e.contains("byte"), "{e}");
        assert_eq!(line_column("ab\ncd", 4), (2, 2));
        assert_eq!(line_column("é\nx", 1), (1, 1), "inside a character");
        assert_eq!(line_column("", 9), (1, 1));
        let e = in_file(
            Error::Config {
                key: "line 1, column 2".into(),
                msg: "m".into(),
            },
            std::path::Path::new("g.toml"),
        );
        assert_eq!(e.to_string(), "config: g.toml: line 1, column 2: m");
    }

    #[test]
    fn built_in_configs_parse() {
        let c = Config::parse(DEFAULT_CONFIG).unwrap();
        assert!(!c.cells(None).0.is_empty());
        let q = Config::parse(QUICK_CONFIG).unwrap();
        assert!(!q.cells(None).0.is_empty());
    }

    #[test]
    fn errors_name_the_key() {
        let base = QUICK_CONFIG;
        let e = Config::parse(&base.replacen("trials =", "trails =", 1))
            .unwrap_err()
            .to_string();
        assert!(e.contains("trails"), "{e}");
        let e = Config::parse(&format!("v = -1.0\n{base}"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("v:") && e.contains("positive"), "{e}");
        let e = Config::parse(&base.replacen("\"trmean\"", "\"trimmed\"", 1))
            .unwrap_err()
            .to_string();
        assert!(e.contains("rules") && e.contains("trimmed"), "{e}");
    }

    #[test]
    fn duplicates_empty_lists_bad_names_and_tiny_trials_are_refused() {
        let base = QUICK_CONFIG;
        let dup = base.replacen("q = [0, 4]", "q = [4, 4]", 1);
        assert_ne!(dup, base, "the quick config changed: update this test");
        let e = Config::parse(&dup).unwrap_err().to_string();
        assert!(e.contains("appears twice") && e.contains("q=4"), "{e}");
        let e = Config::parse(&format!(
            "{base}\n{}",
            &base[base.find("[[sweep]]").unwrap()..base.find("\n[kappa]").unwrap_or(base.len())]
        ))
        .unwrap_err()
        .to_string();
        assert!(e.contains("appears twice"), "{e}");
        let e = Config::parse(&base.replacen("q = [0, 4]", "q = []", 1))
            .unwrap_err()
            .to_string();
        assert!(e.contains(".q") && e.contains("at least one"), "{e}");
        let e = Config::parse(&base.replacen("min_trials = 100", "min_trials = 1", 1))
            .unwrap_err()
            .to_string();
        assert!(e.contains("min_trials") && e.contains("at least 2"), "{e}");
        for bad in ["a;b", "a=b", "tab\tname", "line\nbreak", ""] {
            let t = base.replacen("name = \"headline\"", &format!("name = {bad:?}"), 1);
            assert_ne!(t, base);
            let e = Config::parse(&t).unwrap_err().to_string();
            assert!(e.contains(".name"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn a_magnitude_sweep_needs_attacks_with_a_magnitude() {
        let base = QUICK_CONFIG;
        let i = base
            .find("magnitudes =")
            .expect("the quick config has a magnitude sweep");
        let a = base[..i].rfind("attacks = [\"constant\"]").unwrap();
        let t = format!(
            "{}attacks = [\"constant\", \"sided\"]{}",
            &base[..a],
            &base[a + 22..]
        );
        let e = Config::parse(&t).unwrap_err().to_string();
        assert!(
            e.contains("magnitudes") && e.contains("'sided' has no magnitude"),
            "{e}"
        );
        let mut p = AttackParams::default();
        assert!(p.set_magnitude("gambler", 5.0) && p.gambler_factor == -5.0);
        assert!(!p.set_magnitude("sided", 5.0));
    }

    #[test]
    fn b_relations_expand_and_skip() {
        let c = Config::parse(
            r#"
[[sweep]]
name = "t"
rules = ["trmean", "mean"]
distributions = ["gaussian"]
corruptions = ["generalized"]
attacks = ["gaussian"]
m = [5]
q = "all"
b = ["below", "equal", "above"]
d = [3]
trials = 10
"#,
        )
        .unwrap();
        let (cells, skipped) = c.cells(None);
        // q in 0..=2; trmean: q=0 -> b 0,1 ; q=1 -> 0,1,2 ; q=2 -> 1,2 (3 > max 2) ; mean: 3 cells
        assert_eq!(cells.iter().filter(|c| c.rule == "trmean").count(), 7);
        assert_eq!(cells.iter().filter(|c| c.rule == "mean").count(), 3);
        assert_eq!(skipped, 2);
    }
}
