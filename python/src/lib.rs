//! `phocas._phocas`: the Python extension of the workbench (PyO3). The Python package
//! `phocas` (python/phocas/__init__.py) wraps it; see python/README.md.
//!
//! A [`Rule`] is a registry rule built once for m workers, with its own workspace, so repeated
//! calls allocate nothing but their output. Input matrices are NumPy float32 or float64 arrays
//! of shape (m, d), read without a copy when C-contiguous; the GIL is released while a rule
//! runs. Every parameter error raises `ValueError` with the message the CLI prints.

use numpy::{
    PyArray1, PyArrayMethods, PyReadonlyArray2, PyReadwriteArray1, PyUntypedArray,
    PyUntypedArrayMethods,
};
use phocas::aggregators::{
    self, AggregateExt, Aggregator, KrumDistance, KrumNeighbours, MedianConvention, RuleParams,
    WeiszfeldStart,
};
use phocas::{MatrixView, Scalar, Workspace};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::sync::Mutex;

mod sim;

pub(crate) fn value_error(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// A rule of the registry built for m workers, with its workspace.
#[pyclass(frozen, module = "phocas._phocas")]
pub(crate) struct Rule {
    pub(crate) rule: Box<dyn Aggregator>,
    ws: Mutex<Workspace>,
    /// A pool of its own when `threads` was given; rayon's global pool otherwise.
    pool: Option<rayon::ThreadPool>,
}

fn parse<T: std::str::FromStr<Err = String>>(v: Option<&str>) -> PyResult<Option<T>> {
    v.map(|s| s.parse::<T>().map_err(PyValueError::new_err))
        .transpose()
}

#[pymethods]
impl Rule {
    /// Rule(name, m, *, b=None, q=None, k=None, neighbours=None, distance=None, median=None,
    /// nu=None, iters=None, tol=None, start=None, tau=None, nnm=None, bucket=None,
    /// bucket_seed=None, threads=None): the registry rule `name` for m workers (see
    /// `phocas.rules()`); `threads` runs it on a pool of that many threads instead of the
    /// global one (results do not depend on the count).
    #[new]
    #[pyo3(signature = (name, m, *, b=None, q=None, k=None, neighbours=None, distance=None,
        median=None, nu=None, iters=None, tol=None, start=None, tau=None, nnm=None,
        bucket=None, bucket_seed=None, threads=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        name: &str,
        m: usize,
        b: Option<usize>,
        q: Option<usize>,
        k: Option<usize>,
        neighbours: Option<&str>,
        distance: Option<&str>,
        median: Option<&str>,
        nu: Option<f64>,
        iters: Option<usize>,
        tol: Option<f64>,
        start: Option<&str>,
        tau: Option<f64>,
        nnm: Option<usize>,
        bucket: Option<usize>,
        bucket_seed: Option<u64>,
        threads: Option<usize>,
    ) -> PyResult<Self> {
        let p = RuleParams {
            b,
            q,
            k,
            neighbours: parse::<KrumNeighbours>(neighbours)?.unwrap_or_default(),
            distance: parse::<KrumDistance>(distance)?.unwrap_or_default(),
            median: parse::<MedianConvention>(median)?.unwrap_or_default(),
            nu,
            iters,
            tol,
            start: parse::<WeiszfeldStart>(start)?,
            tau,
            nnm,
            bucket,
            bucket_seed,
        };
        let rule = aggregators::build(name, &p, m).map_err(value_error)?;
        let pool = match threads {
            None => None,
            Some(0) => {
                return Err(PyValueError::new_err(
                    "threads = 0 is not allowed: give at least 1 (or None for all cores)",
                ))
            }
            Some(n) => Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(n)
                    .build()
                    .map_err(|e| PyValueError::new_err(format!("threads = {n}: {e}")))?,
            ),
        };
        // the workspace has one scratch slot per thread of the pool it runs on
        let ws = match &pool {
            Some(p) => p.install(Workspace::new),
            None => Workspace::new(),
        };
        Ok(Self {
            rule,
            ws: Mutex::new(ws),
            pool,
        })
    }

    /// The rule's full label, e.g. `trmean(b=2)`.
    #[getter]
    fn label(&self) -> String {
        self.rule.label()
    }

    /// The registry name.
    #[getter]
    fn name(&self) -> &'static str {
        self.rule.name()
    }

    /// The number of workers it was built for.
    #[getter]
    fn m(&self) -> usize {
        self.rule.m()
    }

    /// Aggregates x (NumPy, float32 or float64, shape (m, d), C-contiguous) into a new array
    /// of length d, or into `out` (same dtype, length d, writable, contiguous), which is
    /// returned. The GIL is released while the rule runs.
    #[pyo3(signature = (x, out=None))]
    fn __call__<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyUntypedArray>,
        out: Option<&Bound<'py, PyUntypedArray>>,
    ) -> PyResult<PyObject> {
        if let Ok(x) = x.downcast::<numpy::PyArray2<f32>>() {
            self.run::<f32>(py, x.readonly(), out)
        } else if let Ok(x) = x.downcast::<numpy::PyArray2<f64>>() {
            self.run::<f64>(py, x.readonly(), out)
        } else {
            Err(PyTypeError::new_err(format!(
                "x must be a 2-D float32 or float64 array of shape (m, d), got {}-D {}: convert with x.astype(np.float32)",
                x.ndim(),
                x.dtype()
            )))
        }
    }

    /// How the last geometric median of this rule went: (iterations, converged, objective),
    /// or None.
    fn last_weiszfeld(&self) -> Option<(usize, bool, f64)> {
        let ws = self.ws.lock().unwrap_or_else(|p| p.into_inner());
        ws.last_weiszfeld()
            .map(|r| (r.iterations, r.converged, r.objective))
    }
}

impl Rule {
    fn run<'py, T: Scalar + numpy::Element>(
        &self,
        py: Python<'py>,
        x: PyReadonlyArray2<'py, T>,
        out: Option<&Bound<'py, PyUntypedArray>>,
    ) -> PyResult<PyObject> {
        let (m, d) = (x.shape()[0], x.shape()[1]);
        // `as_slice` also accepts Fortran order, whose flat data is the transpose
        let c_order = x.is_c_contiguous();
        let data = x.as_slice().ok().filter(|_| c_order).ok_or_else(|| {
            PyValueError::new_err(
                "x is not C-contiguous: pass np.ascontiguousarray(x) (a copy) or a C-ordered array",
            )
        })?;
        let view = MatrixView::new(data, m, d).map_err(value_error)?;
        let compute = |o: &mut [T]| -> PyResult<()> {
            py.allow_threads(|| {
                let mut ws = self.ws.lock().unwrap_or_else(|p| p.into_inner());
                let ws: &mut Workspace = &mut ws;
                match &self.pool {
                    Some(pool) => pool.install(|| self.rule.aggregate_into(view, ws, o)),
                    None => self.rule.aggregate_into(view, ws, o),
                }
            })
            .map_err(value_error)
        };
        match out {
            Some(o) => {
                let arr = o.downcast::<PyArray1<T>>().map_err(|_| {
                    PyTypeError::new_err(format!(
                        "out must be a 1-D array of the input's dtype ({}) and length d = {d}",
                        x.dtype()
                    ))
                })?;
                {
                    let mut w: PyReadwriteArray1<'py, T> = arr.try_readwrite().map_err(|_| {
                        PyValueError::new_err("out is not writable (or is borrowed elsewhere)")
                    })?;
                    let slice = w.as_slice_mut().map_err(|_| {
                        PyValueError::new_err("out is not contiguous: pass a contiguous array")
                    })?;
                    compute(slice)?;
                }
                Ok(arr.clone().into_any().unbind())
            }
            None => {
                let mut v = vec![T::default(); d];
                compute(&mut v)?;
                Ok(PyArray1::from_vec(py, v).into_any().unbind())
            }
        }
    }
}

/// The rule registry: one dict per rule (name, summary, params, reference, cost, parameter,
/// kind, settings).
#[pyfunction]
fn rules(py: Python<'_>) -> PyResult<Vec<Bound<'_, PyDict>>> {
    aggregators::REGISTRY
        .iter()
        .map(|r| {
            let d = PyDict::new(py);
            d.set_item("name", r.name)?;
            d.set_item("summary", r.summary)?;
            d.set_item("params", r.params)?;
            d.set_item("reference", r.reference)?;
            d.set_item("cost", r.cost)?;
            d.set_item("parameter", format!("{:?}", r.param))?;
            d.set_item("kind", format!("{:?}", r.kind))?;
            // the keyword of the rule's one parameter: b (trimming), q (assumed Byzantine
            // count) or None
            let flag = if !r.param.takes_param() {
                None
            } else if r.param.is_assumed_q() {
                Some("q")
            } else {
                Some("b")
            };
            d.set_item("flag", flag)?;
            let settings: Vec<&str> = r.settings.iter().map(|s| s.flag()).collect();
            d.set_item("settings", settings)?;
            Ok(d)
        })
        .collect()
}

/// Lemma 1: Delta0 / V for Krum (classic model); raises ValueError unless 2q + 2 < m.
#[pyfunction]
fn delta0(m: usize, q: usize) -> PyResult<f64> {
    phocas::bounds::delta0(m, q).map_err(value_error)
}

/// Theorem 1: Delta1 / V for Trmean_b; raises ValueError with the failed condition.
#[pyfunction]
fn delta1(m: usize, q: usize, b: usize) -> PyResult<f64> {
    phocas::bounds::delta1(m, q, b).map_err(value_error)
}

/// Theorem 2: Delta2 / V for Phocas_b; raises ValueError with the failed condition.
#[pyfunction]
fn delta2(m: usize, q: usize, b: usize) -> PyResult<f64> {
    phocas::bounds::delta2(m, q, b).map_err(value_error)
}

/// The universal lower bound f / (n - 2f) on kappa (Allouah et al. 2023); needs n > 2f.
#[pyfunction]
fn kappa_lower(n: usize, f: usize) -> PyResult<f64> {
    phocas::bounds::kappa_lower(n, f)
        .ok_or_else(|| PyValueError::new_err(format!("kappa needs n > 2f (n = {n}, f = {f})")))
}

/// The published (f, kappa) upper bound of rule `name` at (n, f), or None.
#[pyfunction]
fn kappa_upper(name: &str, n: usize, f: usize) -> PyResult<Option<f64>> {
    let info = aggregators::info(name).ok_or_else(|| {
        PyValueError::new_err(format!(
            "unknown rule '{name}': known rules are {}",
            aggregators::rule_names()
        ))
    })?;
    Ok(info.kappa.value(n, f))
}

/// The number of threads rules run on (rayon's global pool).
#[pyfunction]
fn threads() -> usize {
    rayon::current_num_threads()
}

#[pymodule]
fn _phocas(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Rule>()?;
    m.add_function(wrap_pyfunction!(rules, m)?)?;
    m.add_function(wrap_pyfunction!(delta0, m)?)?;
    m.add_function(wrap_pyfunction!(delta1, m)?)?;
    m.add_function(wrap_pyfunction!(delta2, m)?)?;
    m.add_function(wrap_pyfunction!(kappa_lower, m)?)?;
    m.add_function(wrap_pyfunction!(kappa_upper, m)?)?;
    m.add_function(wrap_pyfunction!(threads, m)?)?;
    m.add_function(wrap_pyfunction!(sim::corrupt, m)?)?;
    m.add_function(wrap_pyfunction!(sim::attack_list, m)?)?;
    m.add_function(wrap_pyfunction!(sim::corruption_list, m)?)?;
    m.add_function(wrap_pyfunction!(sim::verify_bounds, m)?)?;
    m.add_function(wrap_pyfunction!(sim::verify_sections, m)?)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("DEFAULT_SEED", phocas::rng::DEFAULT_SEED)?;
    Ok(())
}
