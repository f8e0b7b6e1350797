"""Tests of the Python package: every rule against a NumPy float64 reference on hostile
matrices, the CLI's bits, zero-copy input, the GIL released, and every error path."""

import os
import subprocess
import threading
import tracemalloc

import numpy as np
import pytest

import phocas

RNG = np.random.default_rng(7)

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def hostile(m, d, dtype=np.float64, seed=0):
    """Gaussian rows with NaN, +-inf, 1e20, bit-flipped values and exact ties mixed in."""
    g = np.random.default_rng(seed)
    x = g.standard_normal((m, d)).astype(dtype)
    x[:, : d // 4] = np.round(x[:, : d // 4])  # ties
    mask = g.random((m, d)) < 0.08
    specials = np.array([np.nan, np.inf, -np.inf, 1e20, -1e20], dtype=np.float64)
    x[mask] = specials[g.integers(0, len(specials), mask.sum())].astype(dtype)
    flips = g.random((m, d)) < 0.02
    bits = x.view(np.uint32 if dtype == np.float32 else np.uint64)
    top = np.uint32(1 << 30) if dtype == np.float32 else np.uint64(1 << 62)
    bits[flips] ^= top
    return x


def total_sorted(col):
    """Sorted in IEEE total order (NaN beyond +inf, -NaN below -inf), as the rules order."""
    neg_nan = np.isnan(col) & np.signbit(col)
    pos_nan = np.isnan(col) & ~np.signbit(col)
    rest = np.sort(col[~np.isnan(col)])
    return np.concatenate([col[neg_nan], rest, col[pos_nan]])


def ref_trmean(x, b):
    out = []
    for col in x.T.astype(np.float64):
        s = total_sorted(col)
        out.append(s[b : len(s) - b].mean() if len(s) > 2 * b else np.nan)
    return np.array(out)


def ref_median(x):
    m = x.shape[0]
    return ref_trmean(x, (m + 1) // 2 - 1)


def ref_window(x, b, centre_trim):
    """MeaMed (centre_trim = ceil(m/2)-1) and Phocas (centre_trim = b): the m - b values nearest
    the centre, dropping b times the farther end (a tie drops the larger)."""
    out = []
    for col in x.T.astype(np.float64):
        s = total_sorted(col)
        m = len(s)
        c = s[centre_trim : m - centre_trim].mean()

        def dist(v):
            t = abs(v - c)
            return np.inf if np.isnan(t) else t

        lo, hi = 0, m
        for _ in range(b):
            if dist(s[lo]) > dist(s[hi - 1]):
                lo += 1
            else:
                hi -= 1
        out.append(s[lo:hi].mean())
        SCALE.append(np.abs(s[lo:hi]).mean())
    return np.array(out)


# The mean magnitude of the values each window averaged: the rules sum in their own order
# (Phocas and MeaMed: the middle first, then the pairs), so with +-1e20 in a window the sums
# agree only to rounding of that size.
SCALE = []


def ref_krum(x, q):
    m = x.shape[0]
    x64 = x.astype(np.float64)
    with np.errstate(all="ignore"):
        d2 = ((x64[:, None, :] - x64[None, :, :]) ** 2).sum(-1)
    d2[~np.isfinite(d2)] = np.inf
    scores = []
    for i in range(m):
        others = np.sort(np.delete(d2[i], i))
        s = others[: m - q - 2].sum()
        scores.append(np.inf if np.isnan(s) else s)
    return x[int(np.argmin(scores))]


def close(a, b, dtype, scale=None):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    size = np.abs(b) if scale is None else np.maximum(np.abs(b), np.asarray(scale))
    both_nan = np.isnan(a) & np.isnan(b)
    same_inf = np.isinf(a) & (a == b)
    with np.errstate(all="ignore"):
        near = np.abs(a - b) <= tol * (1 + size)
    return bool(np.all(both_nan | same_inf | near))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m", [5, 20, 33])
def test_rules_match_numpy_references(dtype, m):
    x = hostile(m, 200, dtype, seed=m)
    b = (m - 1) // 4
    ref = x.astype(np.float64).astype(dtype).astype(np.float64)
    cases = {
        "mean": (phocas.Mean(), None),
        "median": (phocas.Median(), ref_median(ref)),
        "trmean": (phocas.Trmean(b=b), ref_trmean(ref, b)),
        "meamed": (phocas.MeaMed(b=b), ref_window(ref, b, (m + 1) // 2 - 1)),
        "krum": (phocas.Krum(q=b), ref_krum(x, b)),
    }
    scale = np.array(SCALE[-200:])
    for name, (rule, want) in cases.items():
        got = rule(x)
        assert got.dtype == dtype and got.shape == (200,), name
        if want is None:
            with np.errstate(all="ignore"):
                want = x.astype(np.float64).sum(0) / m
        assert close(got, want, dtype, scale if name == "meamed" else None), name


def test_phocas_matches_reference_on_finite_values():
    x = RNG.standard_normal((11, 300))
    x[:, :50] = np.round(x[:, :50])
    got = phocas.Phocas(b=3)(x)
    want = ref_window(x, 3, 3)
    assert close(got, want, np.float64, np.array(SCALE[-300:]))


def test_every_registry_rule_runs_and_is_deterministic():
    x = hostile(20, 64, np.float32, seed=3)
    for info in phocas.rules():
        name = info["name"]
        params = {}
        if info["parameter"] == "Trim":
            params["b"] = 4
        elif info["parameter"].startswith("AssumedQ"):
            params["q"] = 4
        r = phocas.Rule(name, 20, **params)
        a, b = r(x), r(x)
        assert np.array_equal(a, b, equal_nan=True), name
        assert np.array_equal(a, phocas.aggregate(x, name, **params), equal_nan=True), name


def test_bits_match_the_cli(tmp_path):
    exe = os.environ.get("PHOCAS_BIN")
    if not exe:
        pytest.skip("set PHOCAS_BIN to the phocas binary (CI does)")
    x = hostile(20, 500, np.float32, seed=11)
    path = tmp_path / "x.npy"
    np.save(path, x)
    for rule, flags, params in [
        ("trmean", ["--b", "4"], {"b": 4}),
        ("phocas", ["--b", "4"], {"b": 4}),
        ("krum", ["--q", "4"], {"q": 4}),
        ("bulyan", ["--q", "4"], {"q": 4}),
        ("cclip", ["--tau", "2"], {"tau": 2.0}),
        ("trmean", ["--b", "2", "--nnm", "4"], {"b": 2, "nnm": 4}),
    ]:
        out = tmp_path / f"{rule}.npy"
        subprocess.run(
            [exe, "aggregate", "--rule", rule, *flags, "--input", str(path), "--output", str(out)],
            check=True,
            capture_output=True,
        )
        cli = np.load(out)
        py = phocas.aggregate(x, rule, **params)
        assert cli.tobytes() == py.tobytes(), rule


def test_out_buffer_is_written_and_returned():
    x = RNG.standard_normal((9, 100)).astype(np.float32)
    out = np.empty(100, dtype=np.float32)
    r = phocas.Trmean(b=2)
    assert r(x, out=out) is out
    assert np.array_equal(out, r(x))
    with pytest.raises(TypeError, match="dtype"):
        r(x, out=np.empty(100, dtype=np.float64))
    with pytest.raises(ValueError, match="length|output buffer"):
        r(x, out=np.empty(99, dtype=np.float32))


def test_c_contiguous_input_is_not_copied():
    x = RNG.standard_normal((20, 1_000_000)).astype(np.float32)  # 80 MB
    r = phocas.Median()
    r(x)
    tracemalloc.start()
    y = r(x)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # the output (4 MB) is allocated; a copy of the input would add 80 MB
    assert peak < 20_000_000, peak
    assert y.shape == (1_000_000,)


def test_non_contiguous_input_is_refused_with_the_fix():
    x = RNG.standard_normal((200, 20)).T  # (20, 200) in Fortran order
    with pytest.raises(ValueError, match="ascontiguousarray"):
        phocas.Median()(x)
    assert phocas.Median()(np.ascontiguousarray(x)).shape == (200,)


def test_gil_is_released_while_a_rule_runs():
    x = RNG.standard_normal((60, 400_000)).astype(np.float32)
    rule = phocas.Krum(q=10)
    counter = [0]
    done = threading.Event()

    def count():
        while not done.is_set():
            counter[0] += 1

    t = threading.Thread(target=count)
    t.start()
    before = counter[0]
    for _ in range(3):
        rule(x)
    during = counter[0] - before
    done.set()
    t.join()
    # with the GIL held the counting thread could not run between the switches
    assert during > 1000, during


def test_errors_carry_the_cli_messages():
    x = RNG.standard_normal((20, 10))
    with pytest.raises(ValueError, match=r"b = 10 is too large for m = 20: b must be at most 9"):
        phocas.aggregate(x, "trmean", b=10)
    with pytest.raises(ValueError, match="unknown rule 'mode'"):
        phocas.aggregate(x, "mode")
    with pytest.raises(ValueError, match="needs --b"):
        phocas.aggregate(x, "trmean")
    with pytest.raises(ValueError, match="--tau"):
        phocas.CenteredClipping(tau=-1.0)
    with pytest.raises(ValueError, match="m >= 4q \\+ 3"):
        phocas.aggregate(x, "bulyan", q=5)
    with pytest.raises(ValueError, match="unknown start"):
        phocas.GeometricMedian(start="nowhere")
    with pytest.raises(TypeError, match="float32 or float64"):
        phocas.Median()(np.ones((3, 4), dtype=np.int64))
    with pytest.raises(ValueError, match="shape"):
        phocas.aggregate(np.ones(5), "mean")
    with pytest.raises(TypeError):
        phocas.aggregate([[1.0, 2.0]], "mean")


def test_bounds_and_kappa():
    assert phocas.delta1(20, 4, 4) == pytest.approx(2 * 5 * 16 / 12**2)
    assert phocas.delta2(20, 4, 4) == pytest.approx(4 + 12 * 5 * 16 / 12**2)
    with pytest.raises(ValueError, match="2q \\+ 2 < m"):
        phocas.delta0(10, 4)
    with pytest.raises(ValueError, match="2q < m"):
        phocas.delta1(10, 5, 4)
    assert phocas.kappa_lower(20, 4) == pytest.approx(4 / 12)
    assert phocas.kappa_upper("krum", 20, 4) == pytest.approx(6 * (1 + 4 / 12))
    assert phocas.kappa_upper("phocas", 20, 4) is None


def test_torch_tensors_round_trip_without_copy():
    torch = pytest.importorskip("torch")
    x = torch.randn(20, 1000)
    y = phocas.Trmean(b=4)(x)
    assert isinstance(y, torch.Tensor) and y.dtype == torch.float32
    assert np.array_equal(y.numpy(), phocas.Trmean(b=4)(x.numpy()))


def test_threads_give_the_same_bits_and_zero_is_refused():
    x = hostile(20, 20_000, np.float32, seed=5)
    for rule, params in [("phocas", {"b": 4}), ("krum", {"q": 4}), ("geomed", {})]:
        ref = phocas.aggregate(x, rule, **params)
        for n in (1, 3):
            y = phocas.aggregate(x, rule, threads=n, **params)
            assert y.tobytes() == ref.tobytes(), (rule, n)
    assert phocas.Trmean(b=2, threads=1)(x).tobytes() == phocas.Trmean(b=2)(x).tobytes()
    with pytest.raises(ValueError, match="threads = 0"):
        phocas.Rule("mean", 20, threads=0)
