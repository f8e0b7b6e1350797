"""Tests of the ByzFL and Flower adapters (phocas.byzfl, phocas.flower) against the real
libraries, on the same random inputs.

Tolerances, per rule, with eps the output dtype's machine epsilon, n the number of vectors and
s = max |x| over the input (the error bounds of the summations, not observed errors):

- ``Krum`` (a row is selected and copied) and ``Median`` on NumPy input (the same two middle
  values, averaged the same way): bit-identical.
- ``Median`` on tensors: ByzFL's ``torch.quantile`` interpolates a + 0.5 (b - a), phocas computes
  (a + b) / 2: within 2 eps s.
- averaging rules (``Average``, ``TrMean``, ``Meamed``, ``MultiKrum``, and any rule after
  ``NNM``): n eps s. Both sides average at most n values, each of magnitude at most s; ByzFL
  sums in the input's precision (error at most (n - 1) eps s / n per mean), phocas sums in
  float64 and rounds once (eps s / 2).
- iterative rules (``GeometricMedian`` with T iterations, ``CenteredClipping`` with L): 4 T n eps s
  (each iteration is a weighted mean of the rows, and the iterate's error enters the next
  weights; the constant 4 covers the weights' and the norms' rounding).

The convention tests show these tolerances are tight enough to see a wrong mapping (Krum's
neighbour count, the geometric median's start, centered clipping's state): each wrong mapping
is off by orders of magnitude more.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import time
import zlib

import numpy as np
import pytest

import phocas

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")

# ---------------------------------------------------------------------------------------------
# ByzFL
# ---------------------------------------------------------------------------------------------

COVERED = [
    "Average",
    "Median",
    "TrMean",
    "GeometricMedian",
    "Krum",
    "MultiKrum",
    "CenteredClipping",
    "Meamed",
]

# (class, constructor keywords, tolerance kind, iterations)
CASES = [
    ("Average", {}, "mean", 1),
    ("Median", {}, "median", 1),
    ("TrMean", {"f": 0}, "mean", 1),
    ("TrMean", {"f": 2}, "mean", 1),
    ("Meamed", {"f": 1}, "mean", 1),
    ("Meamed", {"f": 3}, "mean", 1),
    ("Krum", {"f": 0}, "exact", 1),
    ("Krum", {"f": 2}, "exact", 1),
    ("MultiKrum", {"f": 2}, "mean", 1),
    ("GeometricMedian", {}, "iter", 3),
    ("GeometricMedian", {"nu": 1e-3, "T": 20}, "iter", 20),
    ("CenteredClipping", {}, "iter", 1),
    ("CenteredClipping", {"L": 4, "tau": 1.5}, "iter", 4),
]

KINDS = ["numpy", "torch", "list-numpy", "list-torch"]


@pytest.fixture(scope="module")
def bz():
    return pytest.importorskip("byzfl")


@pytest.fixture(scope="module")
def pb():
    return pytest.importorskip("phocas.byzfl")


def workers(n, d, dtype, seed, byzantine=2):
    """n Gaussian rows around 1 (scale 3), the last `byzantine` shifted far away."""
    g = np.random.default_rng(seed)
    x = (g.standard_normal((n, d)) * 3 + 1).astype(dtype)
    if byzantine:
        x[-byzantine:] = (g.standard_normal((byzantine, d)) * 20 + 15).astype(dtype)
    return x


def as_kind(x, kind):
    """The same rows as ByzFL accepts them: matrix or list, NumPy or torch."""
    if kind == "numpy":
        return x.copy()
    if kind == "list-numpy":
        return [row.copy() for row in x]
    torch = pytest.importorskip("torch")
    t = torch.from_numpy(x.copy())
    return t if kind == "torch" else [row.clone() for row in t]


def to_np(y):
    if isinstance(y, np.ndarray):
        return y
    return y.detach().cpu().numpy()


def tolerance(kind, y, x, iters=1):
    """The absolute tolerance of the module docstring for output y of input x (n rows)."""
    eps = float(np.finfo(to_np(y).dtype).eps)
    n = len(x)
    s = float(np.abs(np.asarray(x, dtype=np.float64)).max())
    return {"exact": 0.0, "median": 0.0, "mean": n * eps * s, "iter": 4 * iters * n * eps * s}[
        kind
    ]


def assert_same(ours, theirs, atol):
    """Same type, dtype, shape, and values within atol (bit-identical for atol = 0)."""
    assert type(ours) is type(theirs), (type(ours), type(theirs))
    assert ours.dtype == theirs.dtype, (ours.dtype, theirs.dtype)
    assert tuple(ours.shape) == tuple(theirs.shape)
    a, b = to_np(ours).astype(np.float64), to_np(theirs).astype(np.float64)
    if atol == 0.0:
        np.testing.assert_array_equal(a, b)
    else:
        np.testing.assert_allclose(a, b, rtol=0, atol=atol)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n", [7, 8])
@pytest.mark.parametrize("name,kwargs,tol_kind,iters", CASES)
def test_agrees_with_byzfl(bz, pb, name, kwargs, tol_kind, iters, n, dtype, kind):
    seed = zlib.crc32(repr((name, kwargs, n, np.dtype(dtype).name, kind)).encode())
    x = workers(n, 33, dtype, seed)
    ours = getattr(pb, name)(**kwargs)(as_kind(x, kind))
    theirs = getattr(bz, name)(**kwargs)(as_kind(x, kind))
    if tol_kind == "median" and "torch" in kind:
        atol = 2 * float(np.finfo(np.float32).eps) * float(np.abs(x).max())
    else:
        atol = tolerance(tol_kind, theirs, x, iters)
    assert_same(ours, theirs, atol)
    if tol_kind == "mean" or tol_kind == "iter":
        # the tolerance is far below the spread of the rows: a different rule would show
        assert atol < 1e-3 * float(np.abs(x - x.mean(axis=0)).max())


def test_torch_float64_comes_back_float32_as_in_byzfl(bz, pb):
    torch = pytest.importorskip("torch")
    x = torch.from_numpy(workers(7, 5, np.float64, 1))
    ours, theirs = pb.TrMean(1)(x), bz.TrMean(1)(x)
    assert theirs.dtype == torch.float32 and ours.dtype == torch.float32


def test_other_numpy_dtypes_as_byzfl(bz, pb):
    g = np.random.default_rng(3)
    xi = g.integers(-50, 50, size=(7, 6))
    assert_same(pb.Average()(xi), bz.Average()(xi), tolerance("mean", np.zeros(1), xi))
    assert_same(pb.TrMean(2)(xi), bz.TrMean(2)(xi), tolerance("mean", np.zeros(1), xi))
    xh = (g.standard_normal((7, 6))).astype(np.float16)
    ours, theirs = pb.Average()(xh), bz.Average()(xh)
    assert_same(ours, theirs, tolerance("mean", theirs, xh))


def test_non_contiguous_input(bz, pb):
    x = np.asfortranarray(workers(9, 12, np.float64, 5))
    assert_same(pb.Meamed(2)(x), bz.Meamed(2)(x), tolerance("mean", x, x))
    xs = workers(9, 24, np.float32, 6)[:, ::2]
    assert_same(pb.Krum(2)(xs), bz.Krum(2)(xs), 0.0)


@pytest.mark.parametrize("kind", KINDS)
def test_centered_clipping_keeps_its_centre_across_calls(bz, pb, kind):
    """Three rounds with one instance each: every round starts from the previous output,
    including a round with another number of vectors."""
    ours, theirs = pb.CenteredClipping(L=2, tau=3.0), bz.CenteredClipping(L=2, tau=3.0)
    for r, n in enumerate([7, 7, 10]):
        x = workers(n, 16, np.float32, 100 + r) + 4 * r
        a, b = ours(as_kind(x, kind)), theirs(as_kind(x, kind))
        assert_same(a, b, tolerance("iter", b, x, 2 * (r + 1)))
        assert ours.m is a
    # without the centre the second round would be far off: the test sees the state
    fresh = pb.CenteredClipping(L=2, tau=3.0)(as_kind(x, kind))
    assert np.abs(to_np(fresh) - to_np(b)).max() > 1e3 * tolerance("iter", b, x, 6)


def test_centered_clipping_given_centre(bz, pb):
    x = workers(9, 10, np.float64, 11)
    m0 = np.linspace(-2, 2, 10)
    theirs = bz.CenteredClipping(L=3, tau=2.0)
    theirs.m = m0.copy()  # ByzFL 0.0.11's constructor refuses every m (TypeError)
    b = theirs(x)
    assert_same(pb.CenteredClipping(m=m0.copy(), L=3, tau=2.0)(x), b, tolerance("iter", b, x, 3))
    ours = pb.CenteredClipping(L=3, tau=2.0)
    ours.m = m0.copy()
    assert_same(ours(x), b, tolerance("iter", b, x, 3))
    # L = 0 returns the centre, as ByzFL
    z = bz.CenteredClipping(L=0)
    z.m = m0.copy()
    assert_same(pb.CenteredClipping(m=m0.copy(), L=0)(x), z(x), 0.0)
    assert_same(pb.CenteredClipping(L=0)(x), bz.CenteredClipping(L=0)(x), 0.0)


def test_geometric_median_zero_iterations(bz, pb):
    x = workers(7, 4, np.float32, 2)
    assert_same(pb.GeometricMedian(T=0)(x), bz.GeometricMedian(T=0)(x), 0.0)


def test_krum_single_vector(bz, pb):
    x = workers(1, 4, np.float64, 2, byzantine=0)
    assert_same(pb.Krum()(x), bz.Krum()(x), 0.0)
    assert_same(pb.MultiKrum()(x), bz.MultiKrum()(x), 0.0)


def test_conventions_are_visible(bz, pb):
    """phocas's own defaults differ from ByzFL's beyond the tolerances: the mapping matters."""
    g = np.random.default_rng(1)
    krum_differs = 0
    for _ in range(200):
        x = g.standard_normal((7, 5))
        if not np.array_equal(phocas.aggregate(x, "krum", q=2), bz.Krum(2)(x)):
            krum_differs += 1
        np.testing.assert_array_equal(pb.Krum(2)(x), bz.Krum(2)(x))
    assert krum_differs > 10  # m-q-2 neighbours (phocas's default) vs ByzFL's n-f-1
    x = workers(7, 20, np.float64, 3)
    theirs = bz.GeometricMedian()(x)
    atol = tolerance("iter", theirs, x, 3)
    assert np.abs(phocas.aggregate(x, "geomed") - theirs).max() > 1e6 * atol
    assert np.abs(
        phocas.aggregate(x, "geomed", nu=0.1, iters=3, tol=0.0) - theirs  # from the mean
    ).max() > 1e6 * atol
    # even n: ByzFL's median is the midpoint, phocas's median="lower" is not
    xe = np.ascontiguousarray(x[:6])
    assert np.abs(phocas.aggregate(xe, "median", median="lower") - bz.Median()(xe)).max() > 1e-3


@pytest.mark.parametrize("name", ["TrMean", "Meamed", "Krum", "MultiKrum", "GeometricMedian"])
@pytest.mark.parametrize("f", [1, 2])
def test_robust_aggregator_nnm(bz, pb, name, f):
    x = workers(9, 17, np.float32, 40 + f)
    info = {"name": name, "parameters": {"f": f, "unused": 3}}
    pre = [{"name": "NNM", "parameters": {"f": f}}]
    ours = pb.RobustAggregator(info, pre).aggregate_vectors(x)
    theirs = bz.RobustAggregator(info, pre).aggregate_vectors(x)
    # two stages: NNM's means (n eps s), then the rule (Krum selects a mixed row, so it
    # inherits NNM's rounding): twice the rule's tolerance, four iterations for the median
    if name == "GeometricMedian":
        atol = tolerance("iter", theirs, x, 4)
    else:
        atol = 2 * tolerance("mean", theirs, x)
    assert_same(ours, theirs, atol)


@pytest.mark.parametrize("name", ["Average", "TrMean", "Median", "Meamed", "GeometricMedian",
                                  "Krum", "MultiKrum"])
@pytest.mark.parametrize("s", [1, 9, 50])
def test_robust_aggregator_bucketing_permutation_free_cases(bz, pb, name, s):
    """s = 1 (a permutation) and s >= n (one bucket): ByzFL's random permutation cannot show."""
    x = workers(9, 8, np.float64, 60)
    f = 0 if s > 1 else 2
    info = {"name": name, "parameters": {"f": f}}
    pre = [{"name": "Bucketing", "parameters": {"s": s}}]
    ours = pb.RobustAggregator(info, pre).aggregate_vectors(x)
    theirs = bz.RobustAggregator(info, pre).aggregate_vectors(x)
    kind = "iter" if name == "GeometricMedian" else "mean"
    assert_same(ours, theirs, 2 * tolerance(kind, theirs, x, 3))


def test_robust_aggregator_bucketing_random(pb):
    x = workers(8, 6, np.float64, 70)
    pre = [{"name": "Bucketing", "parameters": {"s": 2}}]
    # s divides n: the average of the bucket means is the mean, whatever the permutation
    y = pb.RobustAggregator({"name": "Average", "parameters": {}}, pre).aggregate_vectors(x)
    np.testing.assert_allclose(y, x.mean(axis=0), rtol=0, atol=tolerance("mean", x, x))
    # a fresh permutation per call, reproducible through np.random.seed
    runs = []
    for _ in range(2):
        np.random.seed(5)
        agg = pb.RobustAggregator({"name": "Median", "parameters": {}}, pre)
        runs.append([agg.aggregate_vectors(x) for _ in range(4)])
    for a, b in zip(*runs):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(runs[0][0], r) for r in runs[0][1:])
    # f applies to the ceil(n/s) = 4 buckets, as in ByzFL: 2f >= 4 is refused
    with pytest.raises(ValueError, match="2f"):
        pb.RobustAggregator({"name": "TrMean", "parameters": {"f": 2}}, pre).aggregate_vectors(x)


def test_rule_is_cached_per_m(pb):
    agg = pb.TrMean(1)
    agg(workers(7, 3, np.float32, 0))
    first = agg._cache[7]
    agg(workers(7, 3, np.float32, 1))
    agg(workers(9, 3, np.float32, 2))
    assert agg._cache[7] is first and sorted(agg._cache) == [7, 9]


def test_signatures_match_byzfl(bz, pb):
    for name in COVERED + ["RobustAggregator"]:
        ours = inspect.signature(getattr(pb, name).__init__).parameters
        theirs = inspect.signature(getattr(bz, name).__init__).parameters
        assert list(ours) == list(theirs), name
        for p in ours:
            if name != "RobustAggregator":  # ours: pre_agg_list=None for ByzFL's mutable []
                assert ours[p].default == theirs[p].default, (name, p)


def test_coverage_list_is_complete(bz, pb):
    from byzfl.aggregators import aggregators, preaggregators

    classes = {
        n
        for mod in (aggregators, preaggregators)
        for n, c in vars(mod).items()
        if inspect.isclass(c) and c.__module__ == mod.__name__
    }
    assert classes == set(COVERED) | set(pb.NOT_COVERED)
    for n in pb.NOT_COVERED:
        assert not hasattr(pb, n)
    assert set(pb.__all__) == set(COVERED) | {"RobustAggregator"}


def test_errors(bz, pb):
    x = workers(4, 3, np.float64, 0, byzantine=0)
    for name in ["TrMean", "Meamed", "Krum", "MultiKrum"]:
        for lib in (pb, bz):
            with pytest.raises(ValueError, match="2f"):
                getattr(lib, name)(2)(x)
            with pytest.raises(ValueError, match="non-negative"):
                getattr(lib, name)(-1)
            with pytest.raises(ValueError, match="non-negative"):
                getattr(lib, name)(1.0)
    with pytest.raises(TypeError):
        pb.GeometricMedian(nu=1)  # ByzFL's check: nu must be a float
    with pytest.raises(ValueError, match="nu"):
        pb.GeometricMedian(nu=0.0)  # ByzFL accepts it; phocas needs nu > 0
    with pytest.raises(ValueError, match="T must"):
        pb.GeometricMedian(T=-1)
    with pytest.raises(ValueError, match="tau"):
        pb.CenteredClipping(tau=0.0)  # ByzFL accepts it; phocas needs tau > 0
    with pytest.raises(ValueError, match="tau"):
        pb.CenteredClipping(tau=1)
    with pytest.raises(ValueError, match="L must"):
        pb.CenteredClipping(L=-1)
    with pytest.raises(TypeError):
        pb.CenteredClipping(m=[0.0, 1.0])
    with pytest.raises(ValueError, match="coordinates"):
        pb.CenteredClipping(m=np.zeros(5))(x)
    with pytest.raises(ValueError, match="shape"):
        pb.Average()(np.zeros(5))
    with pytest.raises(ValueError, match="shape"):
        pb.Average()(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="empty"):
        pb.Average()([])
    with pytest.raises(TypeError):
        pb.Average()([[1.0, 2.0], [3.0, 4.0]])  # ByzFL refuses lists of lists too
    with pytest.raises(TypeError):
        bz.Average()([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(ValueError, match="no phocas counterpart"):
        pb.RobustAggregator({"name": "MDA", "parameters": {"f": 1}})
    with pytest.raises(ValueError, match="no phocas counterpart"):
        pb.RobustAggregator({"name": "TrMean", "parameters": {}},
                            [{"name": "ARC", "parameters": {"f": 1}}])
    with pytest.raises(ValueError, match="one pre-aggregation"):
        pb.RobustAggregator({"name": "TrMean", "parameters": {}},
                            [{"name": "NNM", "parameters": {"f": 1}},
                             {"name": "Bucketing", "parameters": {"s": 2}}])
    with pytest.raises(ValueError, match="smaller than len"):
        pb.RobustAggregator({"name": "Average", "parameters": {}},
                            [{"name": "NNM", "parameters": {"f": 4}}]).aggregate_vectors(x)
    with pytest.raises(TypeError):
        pb.RobustAggregator([("TrMean", 1)])


def test_import_phocas_needs_neither_library():
    code = (
        "import sys, phocas, numpy as np; phocas.Trmean(b=1)(np.zeros((3, 2)));"
        "assert not {'flwr', 'byzfl', 'torch'} & set(sys.modules), sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------------------------
# Flower
# ---------------------------------------------------------------------------------------------

LAYERS = [((4, 3), np.float32), ((3,), np.float32), ((2, 2, 2), np.float32)]
MIXED = [((4, 3), np.float32), ((5,), np.float64), ((2, 3), np.int64)]


@pytest.fixture(scope="module")
def fl():
    pytest.importorskip("flwr")
    import phocas.flower as fl

    return fl


def clients(m, layers, seed, byzantine=0):
    g = np.random.default_rng(seed)
    out = []
    for i in range(m):
        scale = 1000.0 if i >= m - byzantine else 1.0
        row = []
        for shape, dt in layers:
            if np.dtype(dt).kind == "i":
                row.append(g.integers(0, 100, size=shape).astype(dt))
            else:
                row.append((g.standard_normal(shape) * scale).astype(dt))
        out.append(row)
    return out


def fit_results(client_layers, num_examples=None):
    from flwr.common import Code, FitRes, Status, ndarrays_to_parameters

    num_examples = num_examples or [10] * len(client_layers)
    return [
        (
            None,
            FitRes(
                status=Status(code=Code.OK, message=""),
                parameters=ndarrays_to_parameters(layers),
                num_examples=k,
                metrics={"loss": float(i)},
            ),
        )
        for i, (layers, k) in enumerate(zip(client_layers, num_examples))
    ]


def flat(client_layers, dtype):
    return np.stack([np.concatenate([a.reshape(-1) for a in c]).astype(dtype)
                     for c in client_layers])


def split(vec, layers):
    out, at = [], 0
    for shape, dt in layers:
        size = int(np.prod(shape))
        part = vec[at : at + size].reshape(shape)
        out.append(np.rint(part).astype(dt) if np.dtype(dt).kind == "i" else part.astype(dt))
        at += size
    return out


@pytest.mark.parametrize("layers", [LAYERS, MIXED], ids=["float32", "mixed"])
@pytest.mark.parametrize("rule,params", [("trmean", {"b": 2}), ("krum", {"q": 2}),
                                         ("geomed", {}), ("median", {})])
def test_flower_aggregate_fit_is_phocas_on_the_flat_matrix(fl, layers, rule, params):
    from flwr.common import parameters_to_ndarrays

    cl = clients(7, layers, 1, byzantine=2)
    strategy = fl.PhocasFedAvg(rule=rule, **params, min_fit_clients=7)
    parameters, metrics = strategy.aggregate_fit(1, fit_results(cl), [])
    got = parameters_to_ndarrays(parameters)
    dtype = np.float32 if layers is LAYERS else np.float64
    want = split(phocas.aggregate(flat(cl, dtype), rule, **params), layers)
    assert len(got) == len(want)
    for g, w, (shape, dt) in zip(got, want, layers):
        assert g.shape == shape and g.dtype == np.dtype(dt)
        np.testing.assert_array_equal(g, w)
    assert metrics == {}
    # the two Byzantine clients (scale 1000) do not drag the robust aggregate
    assert max(np.abs(g.astype(np.float64)).max() for g in got[:2]) < 10


def test_flower_krum_returns_an_honest_client(fl):
    from flwr.common import parameters_to_ndarrays

    cl = clients(7, LAYERS, 2, byzantine=2)
    parameters, _ = fl.PhocasFedAvg(rule="krum", q=2).aggregate_fit(3, fit_results(cl), [])
    got = parameters_to_ndarrays(parameters)
    assert any(all(np.array_equal(g, c) for g, c in zip(got, client)) for client in cl[:5])


def test_flower_mean_is_fedavg_with_equal_weights(fl):
    from flwr.common import parameters_to_ndarrays
    from flwr.server.strategy import FedAvg

    cl = clients(7, LAYERS, 3)
    mean = fl.PhocasFedAvg(rule="mean")
    ours = parameters_to_ndarrays(mean.aggregate_fit(1, fit_results(cl), [])[0])
    theirs = parameters_to_ndarrays(FedAvg().aggregate_fit(1, fit_results(cl), [])[0])
    x = flat(cl, np.float32)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_allclose(a, b, rtol=0, atol=tolerance("mean", b, x))
    # unequal num_examples: FedAvg's weighted mean moves, the unweighted phocas mean does not
    weights = [1, 1, 1, 1, 1, 1, 100]
    ours_w = parameters_to_ndarrays(
        fl.PhocasFedAvg(rule="mean").aggregate_fit(1, fit_results(cl, weights), [])[0])
    theirs_w = parameters_to_ndarrays(FedAvg().aggregate_fit(1, fit_results(cl, weights), [])[0])
    for a, a_w, b_w in zip(ours, ours_w, theirs_w):
        np.testing.assert_array_equal(a, a_w)
        assert np.abs(a_w - b_w).max() > 0.1


def test_flower_metrics_failures_and_errors(fl):
    from flwr.common import parameters_to_ndarrays

    cl = clients(7, LAYERS, 4)

    def metrics_fn(fit_metrics):
        return {"n": sum(k for k, _ in fit_metrics), "clients": len(fit_metrics)}

    s = fl.PhocasFedAvg(rule="trmean", b=1, fit_metrics_aggregation_fn=metrics_fn)
    _, metrics = s.aggregate_fit(1, fit_results(cl), [])
    assert metrics == {"n": 70, "clients": 7}
    assert s.aggregate_fit(1, [], []) == (None, {})
    s_strict = fl.PhocasFedAvg(rule="trmean", b=1, accept_failures=False)
    assert s_strict.aggregate_fit(1, fit_results(cl), [RuntimeError("lost")]) == (None, {})
    got, _ = s.aggregate_fit(1, fit_results(cl), [RuntimeError("lost")])
    assert len(parameters_to_ndarrays(got)) == 3
    # rule built once per m
    s.aggregate_fit(2, fit_results(cl), [])
    s.aggregate_fit(3, fit_results(cl[:5]), [])
    assert {5, 7} <= set(s._rules._built)
    with pytest.raises(ValueError, match="same layers"):
        bad = clients(7, LAYERS, 5)
        bad[3][1] = np.zeros(4, dtype=np.float32)
        s.aggregate_fit(1, fit_results(bad), [])
    with pytest.raises(ValueError):
        fl.PhocasFedAvg(rule="trmean", b=2).aggregate_fit(1, fit_results(cl[:3]), [])
    with pytest.raises(ValueError, match="unknown rule"):
        fl.PhocasFedAvg(rule="fedavg")
    with pytest.raises(ValueError):
        fl.PhocasFedAvg(rule="trmean", b=-1)
    with pytest.raises(ValueError):
        fl.PhocasFedAvg(rule="trmean", q=1)  # trmean takes b, not q


def test_flower_message_api(fl):
    from flwr.app import Array, ArrayRecord, Message, MessageType, Metadata, MetricRecord
    from flwr.app import RecordDict
    from flwr.common import parameters_to_ndarrays

    cl = clients(7, MIXED, 6, byzantine=2)
    keys = ["w", "b", "count"]
    msgs = []
    for i, layers in enumerate(cl):
        content = RecordDict({
            "arrays": ArrayRecord({k: Array(a) for k, a in zip(keys, layers)}),
            "metrics": MetricRecord({"num-examples": 10 * (i + 1), "loss": float(i)}),
        })
        md = Metadata(run_id=1, message_id=str(i), src_node_id=i + 1, dst_node_id=0,
                      reply_to_message_id="0", group_id="1", created_at=time.time(),
                      ttl=60.0, message_type=MessageType.TRAIN)
        msgs.append(Message(content=content, metadata=md))
    arrays, metrics = fl.PhocasMessageFedAvg(rule="trmean", b=2).aggregate_train(1, msgs)
    classic, _ = fl.PhocasFedAvg(rule="trmean", b=2).aggregate_fit(1, fit_results(cl), [])
    assert list(arrays.keys()) == keys
    for k, want in zip(keys, parameters_to_ndarrays(classic)):
        got = arrays[k].numpy()
        assert got.shape == want.shape and got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
    weights = np.arange(1, 8) * 10
    assert metrics["loss"] == pytest.approx(float(np.dot(weights, np.arange(7)) / weights.sum()))
    assert fl.PhocasMessageFedAvg(rule="trmean", b=2).aggregate_train(1, []) == (None, None)


def test_flower_missing_gives_a_clear_import_error():
    code = (
        "import sys; sys.modules['flwr'] = None\n"
        "try:\n    import phocas.flower\nexcept ImportError as e:\n"
        "    assert 'pip install flwr' in str(e), e\nelse:\n    raise SystemExit('imported')"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
