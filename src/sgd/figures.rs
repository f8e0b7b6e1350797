//! The paper's MLP figures (section 5, figures 2-4, Theorem 4 on the MLP), the later ones
//! (every rule, Dirichlet splits) and the CNN's (Table 3, the appendix) as configs: each an
//! [`Experiment`] of panels, each panel a list of training runs ([`PanelConfig::runs`]).
//! `phocas reproduce` ([`super::reproduce`]) trains and writes them.

use super::train::{validate, Common, RuleSettings, RunConfig};
use crate::aggregators;
use crate::attacks::AttackParams;
use crate::error::Error;
use serde::{Deserialize, Serialize};

/// One panel of a figure: a setting and the rules compared in it.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PanelConfig {
    /// Short name (file names).
    pub name: String,
    /// Title of the chart panel.
    pub title: String,
    /// Attack.
    pub attack: String,
    /// Corruption model.
    pub corruption: String,
    /// Byzantine values per coordinate (or rows).
    pub q: usize,
    /// Rules; `mean-clean` is Mean without Byzantine (the m - q correct workers only).
    pub rules: Vec<String>,
    /// Rule parameter for trmean, phocas, krum, multikrum.
    #[serde(default)]
    pub b: Option<usize>,
    /// Sweep the rule parameter over these values instead (figure 3).
    #[serde(default)]
    pub b_values: Vec<usize>,
    /// Per-rule parameter in place of `b` (e.g. `params = { bulyan = 4 }`: Bulyan needs
    /// m >= 4q + 3, so at most 4 of 20 workers).
    #[serde(default)]
    pub params: std::collections::BTreeMap<String, usize>,
    /// Batch sizes (figure 4); default 32 only.
    #[serde(default = "batches")]
    pub batches: Vec<usize>,
    /// Step size at batch 32; scaled by batch/32 when `lr_scales_with_batch`.
    #[serde(default = "lr")]
    pub lr: f64,
    /// gamma = lr x batch / 32 (figure 4).
    #[serde(default)]
    pub lr_scales_with_batch: bool,
    /// Chart: accuracy against rounds (`rounds`) or best accuracy against b (`best-vs-b`).
    #[serde(default = "chart_kind")]
    pub chart: String,
    /// Attack parameter overrides for this panel.
    #[serde(default)]
    pub attack_params: Option<AttackParams>,
    /// Dirichlet(alpha) split of the training set over the workers (default: i.i.d.).
    #[serde(default)]
    pub dirichlet: Option<f64>,
    /// Pre-aggregation steps, each rule run once per entry: "" (the rule alone), "nnm"
    /// (Nearest-Neighbour Mixing with f = q), "bucket2" (bucketing, buckets of 2). Default [""].
    #[serde(default = "no_pre")]
    pub pre: Vec<String>,
    /// Per-rule settings of the geometric median and centered clipping, e.g.
    /// `settings = { cclip = { tau = 10, start = "previous" } }` (default: the rules' own).
    #[serde(default)]
    pub settings: std::collections::BTreeMap<String, RuleSettings>,
    /// Runs left out, each `pre+rule` (or `rule` for the rule alone), e.g. `skip =
    /// ["bucket2+bulyan"]`: Bulyan needs m >= 4q + 3 inputs and bucketing in twos leaves 10.
    /// Every entry must name a run of the panel.
    #[serde(default)]
    pub skip: Vec<String>,
}

fn no_pre() -> Vec<String> {
    vec![String::new()]
}

/// A panel's `pre` entry as (nnm f, bucket size), with f = the panel's q.
pub fn parse_pre(pre: &str, q: usize) -> Result<(Option<usize>, Option<usize>), String> {
    match pre {
        "" => Ok((None, None)),
        "nnm" => Ok((Some(q), None)),
        _ => match pre.strip_prefix("bucket").map(str::parse::<usize>) {
            Some(Ok(s)) if s >= 1 => Ok((None, Some(s))),
            _ => Err(format!(
                "'{pre}' is not a pre-aggregation step: use \"\" (none), \"nnm\" or \"bucketS\" (e.g. \"bucket2\")"
            )),
        },
    }
}

fn batches() -> Vec<usize> {
    vec![32]
}
fn lr() -> f64 {
    0.1
}
fn chart_kind() -> String {
    "rounds".into()
}

/// An experiment (one figure): common settings and panels.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    /// Shared settings.
    pub common: Common,
    /// Panels.
    pub panel: Vec<PanelConfig>,
}

/// Built-in experiment configs by name.
pub const EXPERIMENTS: &[(&str, &str)] = &[
    ("fig2", include_str!("../../experiments/mlp/fig2.toml")),
    ("fig3", include_str!("../../experiments/mlp/fig3.toml")),
    ("fig4", include_str!("../../experiments/mlp/fig4.toml")),
    (
        "theorem4",
        include_str!("../../experiments/mlp/theorem4.toml"),
    ),
    ("rules", include_str!("../../experiments/mlp/rules.toml")),
    (
        "dirichlet",
        include_str!("../../experiments/mlp/dirichlet.toml"),
    ),
    ("cnn-fig2", include_str!("../../experiments/cnn/fig2.toml")),
    ("cnn-fig3", include_str!("../../experiments/cnn/fig3.toml")),
    ("cnn-fig4", include_str!("../../experiments/cnn/fig4.toml")),
    (
        "cnn-theorem4",
        include_str!("../../experiments/cnn/theorem4.toml"),
    ),
];

/// The CNN's paper-scale configs (CIFAR-10, Table 1), checked by the tests; run with
/// `--config experiments/cnn/cifar/<fig>.toml`.
pub const CIFAR_CONFIGS: &[(&str, &str)] = &[
    (
        "fig2",
        include_str!("../../experiments/cnn/cifar/fig2.toml"),
    ),
    (
        "fig3",
        include_str!("../../experiments/cnn/cifar/fig3.toml"),
    ),
    (
        "fig4",
        include_str!("../../experiments/cnn/cifar/fig4.toml"),
    ),
];

impl Experiment {
    /// Parses an experiment's TOML text (errors give line and column).
    pub fn parse(text: &str) -> Result<Self, Error> {
        crate::montecarlo::config::parse_toml(text)
    }

    /// Checks every run of every panel (see [`validate`]), after bounding how many runs the
    /// panels' lists expand to (batches x rules x b values, at most a million a panel).
    pub fn validate(&self) -> Result<(), Error> {
        let max = crate::montecarlo::config::MAX_CELLS;
        for p in &self.panel {
            let runs = [p.batches.len(), p.rules.len(), p.b_values.len().max(1)]
                .iter()
                .map(|&n| n as f64)
                .product::<f64>();
            if crate::budget::exceeds(runs, max as f64) {
                return Err(Error::Config {
                    key: format!("panel {}", p.name),
                    msg: format!(
                        "expands to up to {runs:.3e} runs, more than {max}: shorten its lists"
                    ),
                });
            }
        }
        for p in &self.panel {
            if let Some(Err(msg)) = p.pre.iter().map(|x| parse_pre(x, p.q)).find(Result::is_err) {
                return Err(Error::Config {
                    key: format!("panel {}.pre", p.name),
                    msg,
                });
            }
            if p.pre.is_empty() {
                return Err(Error::Config {
                    key: format!("panel {}.pre", p.name),
                    msg: "must list at least one entry (\"\" for the rule alone)".into(),
                });
            }
            if p.settings.contains_key("mean-clean") {
                return Err(Error::Config {
                    key: format!("panel {}.settings", p.name),
                    msg:
                        "'mean-clean' (Mean without Byzantine) takes no settings: remove the entry"
                            .into(),
                });
            }
            let unknown = |r: &&String| !p.rules.contains(r);
            for (key, r) in [
                ("params", p.params.keys().find(unknown)),
                ("settings", p.settings.keys().find(unknown)),
            ] {
                let Some(r) = r else { continue };
                return Err(Error::Config {
                    key: format!("panel {}.{key}", p.name),
                    msg: format!(
                        "'{r}' is not one of the panel's rules ({}): list it in `rules` or remove it",
                        p.rules.join(", ")
                    ),
                });
            }
            // the names of the runs the panel would train without `skip`
            let names = p.combinations();
            if let Some(x) = p.skip.iter().find(|x| !names.contains(x)) {
                return Err(Error::Config {
                    key: format!("panel {}.skip", p.name),
                    msg: format!(
                        "'{x}' names no run of the panel: write `pre+rule` with a `pre` entry and a rule of the panel (e.g. \"bucket2+bulyan\"), or the rule alone"
                    ),
                });
            }
            let common = panel_common(&self.common, p);
            for r in p.runs() {
                validate(&r, &common)?;
            }
        }
        Ok(())
    }
}

impl PanelConfig {
    /// A run's name in `skip`: `pre+rule`, or `rule` without pre-aggregation.
    fn combination(pre: &str, rule: &str) -> String {
        if pre.is_empty() {
            rule.to_string()
        } else {
            format!("{pre}+{rule}")
        }
    }

    /// The `skip` names of the runs the panel trains when nothing is skipped: every rule with
    /// every `pre` entry, Mean without Byzantine with the first only.
    fn combinations(&self) -> Vec<String> {
        let mut v = Vec::new();
        for rule in &self.rules {
            for pre in self.pre_of(rule) {
                v.push(Self::combination(pre, rule));
            }
        }
        v
    }

    /// The `pre` entries a rule runs with: all of them, except Mean without Byzantine, which
    /// runs once, with the first.
    fn pre_of(&self, rule: &str) -> &[String] {
        if rule == "mean-clean" {
            &self.pre[..self.pre.len().min(1)]
        } else {
            &self.pre
        }
    }

    /// The runs of the panel (without those in `skip`).
    pub fn runs(&self) -> Vec<RunConfig> {
        let mut v = Vec::new();
        for &batch in &self.batches {
            let lr = if self.lr_scales_with_batch {
                self.lr * batch as f64 / 32.0
            } else {
                self.lr
            };
            for rule in &self.rules {
                let takes_b = aggregators::info(rule).is_some_and(|i| i.param.takes_param());
                let bs: Vec<Option<usize>> = if !takes_b {
                    vec![None]
                } else if self.b_values.is_empty() {
                    vec![self.params.get(rule).copied().or(self.b)]
                } else {
                    self.b_values.iter().map(|&b| Some(b)).collect()
                };
                for (b, pre) in bs
                    .iter()
                    .flat_map(|b| self.pre_of(rule).iter().map(move |p| (*b, p.as_str())))
                {
                    let clean = rule == "mean-clean";
                    if self.skip.contains(&Self::combination(pre, rule)) {
                        continue;
                    }
                    let (nnm, bucket) = if clean {
                        (None, None)
                    } else {
                        parse_pre(pre, self.q).unwrap_or((None, None))
                    };
                    let mut label = if clean {
                        "mean without Byzantine".to_string()
                    } else {
                        match b {
                            Some(b)
                                if aggregators::info(rule)
                                    .is_some_and(|i| i.param.is_assumed_q()) =>
                            {
                                format!("{rule} (q={b})")
                            }
                            Some(b) => format!("{rule} (b={b})"),
                            None => rule.clone(),
                        }
                    };
                    let settings = match self.settings.get(rule) {
                        Some(t) if !clean => *t,
                        _ => RuleSettings::default(),
                    };
                    if !settings.is_default() {
                        label = format!("{label} ({})", settings.label());
                    }
                    if self.batches.len() > 1 {
                        label = format!("{label}, batch {batch}");
                    }
                    if !clean && !pre.is_empty() {
                        label = format!("{pre}+{label}");
                    }
                    v.push(RunConfig {
                        label,
                        rule: if clean { "mean".into() } else { rule.clone() },
                        b,
                        k: None,
                        attack: self.attack.clone(),
                        corruption: self.corruption.clone(),
                        q: self.q,
                        clean,
                        batch,
                        lr,
                        dirichlet: self.dirichlet,
                        nnm,
                        bucket,
                        settings,
                    });
                }
            }
        }
        v
    }
}

/// The common settings of a panel (its attack parameters applied).
pub(crate) fn panel_common(common: &Common, p: &PanelConfig) -> Common {
    let mut c = common.clone();
    if let Some(ap) = &p.attack_params {
        c.attack_params = ap.clone();
    }
    c
}

#[cfg(test)]
mod tests {
    use super::{aggregators, Experiment, RuleSettings, CIFAR_CONFIGS, EXPERIMENTS};
    use crate::objectives::network::Model;
    #[test]
    fn built_in_figures_validate_and_per_rule_parameters_apply() {
        for (name, text) in EXPERIMENTS.iter().chain(CIFAR_CONFIGS) {
            let e = Experiment::parse(text).unwrap_or_else(|err| panic!("{name}: {err}"));
            e.validate().unwrap_or_else(|err| panic!("{name}: {err}"));
            assert_eq!(
                e.common.model == Model::Cnn,
                name.starts_with("cnn") || text.contains("CIFAR-10 settings for the CNN"),
                "{name}"
            );
        }
        // the CIFAR-10 configs carry Table 1's settings for the CNN
        for (name, text) in CIFAR_CONFIGS {
            let e = Experiment::parse(text).unwrap();
            assert_eq!(
                (e.common.rounds, e.common.repeats, e.common.test_size),
                (4000, 10, None),
                "{name}"
            );
            for p in &e.panel {
                assert_eq!(p.lr, 5e-4, "{name}");
                if !p.lr_scales_with_batch {
                    assert_eq!(p.batches, vec![128], "{name}");
                }
            }
        }
        let text = EXPERIMENTS.iter().find(|e| e.0 == "rules").unwrap().1;
        let mut e = Experiment::parse(text).unwrap();
        let p = &mut e.panel[1];
        p.params.insert("bulyan".into(), 2);
        let runs = p.runs();
        let bulyan = runs.iter().find(|r| r.rule == "bulyan").unwrap();
        assert_eq!((bulyan.b, bulyan.label.as_str()), (Some(2), "bulyan (q=2)"));
        let trmean = runs.iter().find(|r| r.rule == "trmean").unwrap();
        assert_eq!((trmean.b, trmean.label.as_str()), (Some(4), "trmean (b=4)"));
        // a parameter for a rule the panel does not list is refused, naming it
        e.panel[1].params.insert("bogus".into(), 1);
        let err = e.validate().unwrap_err().to_string();
        assert!(
            err.contains("'bogus' is not one of the panel's rules"),
            "{err}"
        );
        // per-rule settings reach the rule's runs (and their labels), a rule that does not
        // take one refuses it by its flag, and a key that is not a panel rule is refused
        let mut e = Experiment::parse(text).unwrap();
        let p = &mut e.panel[1];
        let t = RuleSettings {
            tau: Some(10.0),
            start: Some(aggregators::WeiszfeldStart::Previous),
            ..RuleSettings::default()
        };
        p.settings.insert("cclip".into(), t);
        let cclip = p.runs().into_iter().find(|r| r.rule == "cclip").unwrap();
        assert_eq!(cclip.settings, t);
        assert_eq!(cclip.label, "cclip (tau=10, start=previous)");
        assert!(p
            .runs()
            .iter()
            .all(|r| r.rule == "cclip" || r.settings.is_default()));
        e.validate().unwrap();
        e.panel[1].settings.insert("trmean".into(), t);
        let err = e.validate().unwrap_err().to_string();
        assert!(err.contains("'trmean' does not take --start"), "{err}");
        e.panel[1].settings.clear();
        e.panel[1].settings.insert("mean-clean".into(), t);
        let err = e.validate().unwrap_err().to_string();
        assert!(err.contains("takes no settings"), "{err}");
        e.panel[1].settings.clear();
        e.panel[1].settings.insert("bogus".into(), t);
        let err = e.validate().unwrap_err().to_string();
        assert!(
            err.contains("a-gaussian.settings") && err.contains("'bogus'"),
            "{err}"
        );
        // Bulyan beyond m >= 4q + 3 is refused
        let mut e = Experiment::parse(text).unwrap();
        e.panel[1].b = Some(6);
        assert!(e.validate().is_err());
    }

    #[test]
    fn skip_leaves_out_the_runs_it_names_and_refuses_names_of_no_run() {
        let text = EXPERIMENTS.iter().find(|e| e.0 == "dirichlet").unwrap().1;
        let mut e = Experiment::parse(text).unwrap();
        let p = &mut e.panel[0];
        assert_eq!(p.skip, vec!["bucket2+bulyan".to_string()]);
        let with_skip = p.runs();
        // Bulyan alone and after NNM stay; after bucketing (10 inputs < 4q + 3) it is gone
        let bulyan: Vec<_> = with_skip
            .iter()
            .filter(|r| r.rule == "bulyan")
            .map(|r| (r.nnm, r.bucket))
            .collect();
        assert_eq!(bulyan, vec![(None, None), (Some(3), None)]);
        // without the skip the panel does not validate: bucketing leaves Bulyan too few inputs
        p.skip.clear();
        assert_eq!(p.runs().len(), with_skip.len() + 1);
        assert!(e.validate().is_err());
        // a rule alone is named by the rule, and every entry must name a run
        let p = &mut e.panel[0];
        p.skip = vec!["bucket2+bulyan".into(), "cclip".into()];
        assert!(p
            .runs()
            .iter()
            .all(|r| !(r.rule == "cclip" && r.nnm.is_none() && r.bucket.is_none())));
        assert!(p.runs().iter().any(|r| r.rule == "cclip"));
        e.validate().unwrap();
        for bad in ["bucket2+bogus", "bucket3+bulyan", "nnm+", "nnm+mean-clean"] {
            e.panel[0].skip = vec!["bucket2+bulyan".into(), bad.into()];
            let err = e.validate().unwrap_err().to_string();
            assert!(err.contains(".skip") && err.contains(bad), "{err}");
        }
    }
}
