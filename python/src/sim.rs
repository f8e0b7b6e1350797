//! Attacks, corruption models and the Monte Carlo engine from Python.
//!
//! `corrupt` is [`phocas::attacks::corrupt`] on a NumPy array, in place, with the stream
//! `(seed, key, index)` of [`phocas::attacks::trial_stream`]: the same bits as
//! `phocas corrupt --seed --key --index` on the same matrix. `verify_bounds` is
//! [`phocas::montecarlo::grid::run_in_memory`] with the table `verify-bounds` writes, returned
//! column by column (NumPy arrays for numbers and flags, lists for text).

use crate::{value_error, Rule};
use numpy::{PyArray1, PyArray2, PyArrayMethods, PyUntypedArray, PyUntypedArrayMethods};
use phocas::attacks::{self, AttackParams, Corrupt, Oracle};
use phocas::montecarlo::config::Config;
use phocas::montecarlo::{grid, hetero};
use phocas::{Error, Scalar};
use polars::prelude::{Column, DataType};
use pyo3::exceptions::{PyKeyboardInterrupt, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// A verify-bounds config from TOML text, or JSON with the same keys when `json`.
fn parse_config(text: &str, json: bool) -> PyResult<Config> {
    if json {
        Config::parse_json(text)
    } else {
        Config::parse(text)
    }
    .map_err(value_error)
}

fn attack_params(json: &str) -> PyResult<AttackParams> {
    let p: AttackParams = serde_json::from_str(json).map_err(|e| {
        PyValueError::new_err(format!(
            "attack parameter: {e} (the keys of a verify-bounds config's [attack_params])"
        ))
    })?;
    p.validate().map_err(value_error)?;
    Ok(p)
}

#[allow(clippy::too_many_arguments)]
fn corrupt_typed<'py, T: Scalar + numpy::Element>(
    py: Python<'py>,
    x: &Bound<'py, PyArray2<T>>,
    spec: &Spec<'_>,
    g: Option<Vec<f64>>,
    rule: Option<PyRef<'py, Rule>>,
) -> PyResult<Bound<'py, PyArray2<bool>>> {
    let mut w = x
        .try_readwrite()
        .map_err(|_| PyValueError::new_err("x is not writable (or is borrowed elsewhere)"))?;
    let (m, d) = (w.shape()[0], w.shape()[1]);
    let c_order = w.is_c_contiguous();
    let data = w.as_slice_mut().ok().filter(|_| c_order).ok_or_else(|| {
        PyValueError::new_err(
            "x is not C-contiguous: pass np.ascontiguousarray(x) (a copy) or a C-ordered array",
        )
    })?;
    let p = attack_params(spec.params)?;
    let attack = attacks::build_attack(spec.attack, &p).map_err(value_error)?;
    let corruption = attacks::build_corruption(spec.corruption, &p).map_err(value_error)?;
    let guard = rule.as_ref().map(|r| r.rule.as_ref());
    let oracle = match (&g, guard) {
        (Some(g), Some(rule)) => Some(Oracle { g, rule }),
        (None, None) => None,
        _ => {
            return Err(PyValueError::new_err(
                "an adaptive adversary needs both g (the true gradient) and rule (a phocas.Rule): give both or neither",
            ))
        }
    };
    let c = Corrupt {
        corruption: corruption.as_ref(),
        attack: attack.as_ref(),
        q: spec.q,
        oracle,
    };
    let mut mask = vec![false; m.checked_mul(d).unwrap_or(0)];
    let mut rng = attacks::trial_stream(spec.seed, spec.key, spec.index);
    py.allow_threads(|| attacks::corrupt(data, m, d, &c, &mut rng, &mut mask))
        .map_err(value_error)?;
    PyArray1::from_vec(py, mask)
        .reshape([m, d])
        .map_err(value_error)
}

struct Spec<'a> {
    attack: &'a str,
    corruption: &'a str,
    q: usize,
    seed: u64,
    key: &'a str,
    index: u64,
    params: &'a str,
}

/// corrupt(x, attack, corruption, q, seed, key, index, params_json, g=None, rule=None):
/// corrupts x (float32/float64, (m, d), C-contiguous, writable) in place and returns the
/// Byzantine mask (bool, (m, d)).
#[pyfunction]
#[pyo3(signature = (x, attack, corruption, q, seed, key, index, params_json, g=None, rule=None))]
#[allow(clippy::too_many_arguments)]
pub fn corrupt<'py>(
    py: Python<'py>,
    x: &Bound<'py, PyUntypedArray>,
    attack: &str,
    corruption: &str,
    q: usize,
    seed: u64,
    key: &str,
    index: u64,
    params_json: &str,
    g: Option<Vec<f64>>,
    rule: Option<PyRef<'py, Rule>>,
) -> PyResult<Bound<'py, PyArray2<bool>>> {
    let spec = Spec {
        attack,
        corruption,
        q,
        seed,
        key,
        index,
        params: params_json,
    };
    if let Ok(x) = x.downcast::<PyArray2<f32>>() {
        corrupt_typed(py, x, &spec, g, rule)
    } else if let Ok(x) = x.downcast::<PyArray2<f64>>() {
        corrupt_typed(py, x, &spec, g, rule)
    } else {
        Err(PyTypeError::new_err(format!(
            "x must be a 2-D float32 or float64 array of shape (m, d), got {}-D {}: convert with x.astype(np.float32)",
            x.ndim(),
            x.dtype()
        )))
    }
}

/// The attack registry: (name, summary, magnitude parameter or None).
#[pyfunction]
pub fn attack_list() -> Vec<(&'static str, &'static str, Option<&'static str>)> {
    attacks::ATTACKS
        .iter()
        .map(|a| (a.name, a.summary, a.magnitude.map(|m| m.param)))
        .collect()
}

/// The corruption models: (name, summary).
#[pyfunction]
pub fn corruption_list() -> Vec<(&'static str, &'static str)> {
    attacks::CORRUPTIONS
        .iter()
        .map(|c| (c.name, c.summary))
        .collect()
}

fn column_to_py<'py>(py: Python<'py>, c: &Column) -> PyResult<PyObject> {
    let e = |e: polars::prelude::PolarsError| value_error(e);
    Ok(match c.dtype() {
        DataType::Float64 => {
            let v: Vec<f64> = c
                .f64()
                .map_err(e)?
                .into_iter()
                .map(|v| v.unwrap_or(f64::NAN))
                .collect();
            PyArray1::from_vec(py, v).into_any().unbind()
        }
        DataType::UInt64 => {
            let v: Vec<u64> = c.u64().map_err(e)?.into_iter().flatten().collect();
            PyArray1::from_vec(py, v).into_any().unbind()
        }
        DataType::Int64 => {
            let v: Vec<i64> = c.i64().map_err(e)?.into_iter().flatten().collect();
            PyArray1::from_vec(py, v).into_any().unbind()
        }
        DataType::Boolean => {
            let v: Vec<bool> = c.bool().map_err(e)?.into_iter().flatten().collect();
            PyArray1::from_vec(py, v).into_any().unbind()
        }
        _ => {
            let v: Vec<String> = c
                .str()
                .map_err(e)?
                .into_iter()
                .map(|v| v.unwrap_or_default().to_string())
                .collect();
            v.into_pyobject(py)?.into_any().unbind()
        }
    })
}

/// verify_bounds(text, json, trials, progress): runs the grid (TOML text, or JSON with the
/// same keys when `json`), calling progress(done, total) from this thread as cells finish;
/// returns the results table as a dict of columns. Ctrl-C stops the run
/// (KeyboardInterrupt).
#[pyfunction]
#[pyo3(signature = (text, json, trials=None, progress=None))]
pub fn verify_bounds<'py>(
    py: Python<'py>,
    text: &str,
    json: bool,
    trials: Option<usize>,
    progress: Option<PyObject>,
) -> PyResult<Bound<'py, PyDict>> {
    let cfg = parse_config(text, json)?;
    let total = grid::cell_count(&cfg, trials);
    let (stop, done) = (AtomicBool::new(false), AtomicUsize::new(0));
    let mut shown = usize::MAX;
    let result = std::thread::scope(|s| -> PyResult<Result<_, Error>> {
        let worker = s.spawn(|| grid::run_in_memory(&cfg, trials, &stop, &done));
        loop {
            let finished = py.allow_threads(|| {
                std::thread::sleep(std::time::Duration::from_millis(50));
                worker.is_finished()
            });
            let now = done.load(Ordering::Relaxed);
            if let (Some(cb), true) = (&progress, now != shown) {
                shown = now;
                if let Err(err) = cb.call1(py, (now, total)) {
                    stop.store(true, Ordering::Relaxed);
                    py.allow_threads(|| worker.join()).ok();
                    return Err(err);
                }
            }
            if let Err(err) = py.check_signals() {
                stop.store(true, Ordering::Relaxed);
                py.allow_threads(|| worker.join()).ok();
                return Err(err);
            }
            if finished {
                return worker
                    .join()
                    .map_err(|_| PyValueError::new_err("the Monte Carlo run panicked"));
            }
        }
    })?;
    let results = match result {
        Ok(r) => r,
        Err(Error::Interrupted(_)) => return Err(PyKeyboardInterrupt::new_err("stopped")),
        Err(e) => return Err(value_error(e)),
    };
    let df = phocas::montecarlo::output::results_table(&results, &cfg).map_err(value_error)?;
    let out = PyDict::new(py);
    for c in df.get_columns() {
        out.set_item(c.name().as_str(), column_to_py(py, c)?)?;
    }
    Ok(out)
}

/// verify_sections(text, json, trials): the sections of a verify-bounds config beside its grid
/// that `verify_bounds` leaves out, as tables: {"heterogeneity": dict of columns} when the
/// config has a `[heterogeneity]` section (the columns of heterogeneity.csv, the same numbers
/// as `phocas verify-bounds`; `trials` overrides its trials), and {"kappa": None} noted as
/// not available when it has a `[kappa]` section (its witnesses are matrices: use the CLI).
#[pyfunction]
#[pyo3(signature = (text, json, trials=None))]
pub fn verify_sections<'py>(
    py: Python<'py>,
    text: &str,
    json: bool,
    trials: Option<usize>,
) -> PyResult<Bound<'py, PyDict>> {
    let cfg = parse_config(text, json)?;
    let out = PyDict::new(py);
    if let Some(h) = &cfg.heterogeneity {
        let rows = py
            .allow_threads(|| {
                hetero::run(
                    h,
                    trials,
                    (cfg.seed, cfg.v, cfg.g_norm),
                    &cfg.attack_params,
                    true,
                )
            })
            .map_err(value_error)?;
        let df = hetero::output::table(&rows).map_err(value_error)?;
        let cols = PyDict::new(py);
        for c in df.get_columns() {
            cols.set_item(c.name().as_str(), column_to_py(py, c)?)?;
        }
        out.set_item("heterogeneity", cols)?;
    }
    if cfg.kappa.is_some() {
        out.set_item("kappa", py.None())?;
    }
    Ok(out)
}
