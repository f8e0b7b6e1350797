//! Theorem 4 tracked on a network (the MLP's `reproduce theorem4`, the CNN's
//! `reproduce cnn-theorem4`): the running mean of ||grad F(x_t)||^2 against the theorem's
//! right-hand side, and its premise gamma <= 1/L with L estimated along the trajectory, as
//! tables and charts.

use super::train::{Common, TrainResult};
use crate::error::Error;
use crate::report::chart::{self, LineChart, Panel, Series};
use crate::report::{write_table, TableBuilder};
use std::collections::BTreeMap;
use std::path::Path;

/// Theorem 4 on the network (MLP or CNN): running mean of ||grad F(x_t)||^2 (evaluation subset) against
/// 2/(gamma T)(F(x0) - 0) + Delta (Delta: the measured aggregation error), and the premise
/// gamma <= 1/L with L estimated along the trajectory.
pub(crate) fn theorem4_outputs(
    results: &[TrainResult],
    common: &Common,
    dir: &Path,
) -> Result<(), Error> {
    let mut rows = Vec::new();
    let mut series = Vec::new();
    let mut lser = Vec::new();
    // one colour per rule; further runs of a rule (repeats, other labels) get lighter tones
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for r in results.iter() {
        let n = seen.entry(r.cfg.rule.as_str()).or_default();
        let (c, tone) = (chart::rule_color(&r.cfg.rule), 0.15 * *n as f64);
        *n += 1;
        let Some((g2, fv, vh, ae, lh)) = &r.theorem4 else {
            continue;
        };
        let t_max = common.rounds;
        let delta = ae.iter().sum::<f64>() / ae.len().max(1) as f64;
        let v_mean = vh.iter().sum::<f64>() / vh.len().max(1) as f64;
        let l_max = lh.iter().map(|x| x.1).fold(f64::NAN, f64::max);
        let gap0 = fv.first().copied().unwrap_or(f64::NAN);
        let mut acc = 0.0;
        let mut lhs = Vec::new();
        let mut rhs = Vec::new();
        for t in 0..t_max {
            acc += g2[t];
            let tt = (t + 1) as f64;
            lhs.push((tt, acc / tt));
            rhs.push((
                tt,
                crate::bounds::theorem4_rhs(r.cfg.lr, t + 1, gap0, delta),
            ));
        }
        let holds = lhs.iter().zip(&rhs).all(|(a, b)| a.1 <= b.1);
        let label = format!("{}, gamma {}", r.cfg.label, r.cfg.lr);
        rows.push((
            label.clone(),
            r.repeat,
            r.cfg.lr,
            l_max,
            r.cfg.lr <= 1.0 / l_max,
            v_mean,
            delta,
            gap0,
            lhs.last().map_or(f64::NAN, |x| x.1),
            rhs.last().map_or(f64::NAN, |x| x.1),
            holds,
        ));
        series.push(
            Series::line(format!("{label} r{}: mean ||grad F||^2", r.repeat), lhs)
                .with_color(c)
                .with_tone(tone),
        );
        series.push(
            Series::dashed(format!("{label} r{}: 2/(gT) F(x0) + Delta", r.repeat), rhs)
                .with_color(c)
                .with_tone(tone),
        );
        lser.push(
            Series::line(
                format!("{label} r{}", r.repeat),
                lh.iter().map(|x| (x.0 as f64, x.1)).collect(),
            )
            .with_markers()
            .with_color(c)
            .with_tone(tone),
        );
    }
    if rows.is_empty() {
        return Ok(());
    }
    let mut df = TableBuilder::new()
        .str(
            "label",
            &rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>(),
        )
        .u64("repeat", rows.iter().map(|r| r.1 as u64).collect())
        .f64("gamma", rows.iter().map(|r| r.2).collect())
        .f64("l_hat_max", rows.iter().map(|r| r.3).collect())
        .bool(
            "premise_gamma_le_1_over_l",
            rows.iter().map(|r| r.4).collect(),
        )
        .f64("v_hat_mean", rows.iter().map(|r| r.5).collect())
        .f64("delta_measured", rows.iter().map(|r| r.6).collect())
        .f64("f_x0", rows.iter().map(|r| r.7).collect())
        .f64("lhs_final", rows.iter().map(|r| r.8).collect())
        .f64("rhs_final", rows.iter().map(|r| r.9).collect())
        .bool("lhs_le_rhs_every_t", rows.iter().map(|r| r.10).collect())
        .build()?;
    write_table(&mut df, dir, "theorem4")?;
    chart::save(
        &[
            Panel::Lines(LineChart {
                title: format!(
                    "Theorem 4 on the {} (evaluation subset; F* taken as 0)",
                    common.model.name().to_uppercase()
                ),
                x_label: "T".into(),
                y_label: "mean_{t<T} ||grad F(x_t)||^2".into(),
                log_x: true,
                log_y: true,
                series,
            }),
            Panel::Lines(LineChart {
                title: "Smoothness L along the trajectory (power iteration on HVPs)".into(),
                x_label: "round".into(),
                y_label: "L estimate".into(),
                log_x: false,
                log_y: true,
                series: lser,
            }),
        ],
        2,
        (760, 500),
        dir,
        "theorem4",
    )?;
    println!("Theorem 4 on the {}:", common.model.name().to_uppercase());
    println!(
        "{:<36} {:>3} {:>6} {:>9} {:>8} {:>9} {:>9} {:>9} {:>9} {:>6}",
        "run", "rep", "gamma", "L max", "g<=1/L", "V hat", "Delta", "LHS(T)", "RHS(T)", "holds"
    );
    for r in rows {
        println!(
            "{:<36} {:>3} {:>6} {:>9.3} {:>8} {:>9.3e} {:>9.3e} {:>9.3e} {:>9.3e} {:>6}",
            r.0, r.1, r.2, r.3, r.4, r.5, r.6, r.8, r.9, r.10
        );
    }
    Ok(())
}
