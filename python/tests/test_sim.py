"""Tests of the attacks, corruption models and Monte Carlo engine from Python: the CLI's
bits for the same seed, key and index; in place or a copy; every error path; and the
results table of `phocas verify-bounds` on the same config."""

import csv
import os
import subprocess

import numpy as np
import pytest

import phocas

GRID = """
seed = 9
[[sweep]]
name = "t"
rules = ["mean", "trmean", "phocas", "krum", "geomed"]
distributions = ["gaussian"]
attacks = ["gaussian", "omniscient"]
corruptions = ["classic", "generalized"]
m = [12]
q = [2]
b = ["equal"]
d = [6]
trials = 64
"""


def cli():
    exe = os.environ.get("PHOCAS_BIN")
    if not exe:
        pytest.skip("set PHOCAS_BIN to the phocas binary (CI does)")
    return exe


def honest(m=9, d=40, dtype=np.float64, seed=3):
    return np.random.default_rng(seed).standard_normal((m, d)).astype(dtype)


CASES = [
    ("gaussian", "generalized", 3, {}, []),
    ("gaussian", "classic", 2, {"gaussian_sigma": 5.0}, ["gaussian_sigma=5.0"]),
    ("bit-flip", "generalized", 2, {"bitflip_bits": [22, 31]}, ["bitflip_bits=[22, 31]"]),
    ("omniscient", "diagonal", 3, {}, []),
    ("little", "block", 2, {"little_z": 1.5}, ["little_z=1.5"]),
    ("gambler", "shard", 0, {"shard_servers": 4, "shard_p": 0.3},
     ["shard_servers=4", "shard_p=0.3"]),
    ("adaptive", "chosen", 4, {}, []),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("attack,corruption,q,params,flags", CASES)
def test_bits_match_the_cli(tmp_path, dtype, attack, corruption, q, params, flags):
    exe = cli()
    x = honest(dtype=dtype)
    np.save(tmp_path / "x.npy", x)
    args = [exe, "corrupt", "--input", str(tmp_path / "x.npy"), "--output",
            str(tmp_path / "y.npy"), "--mask-output", str(tmp_path / "m.npy"),
            "--attack", attack, "--corruption", corruption, "--q", str(q),
            "--seed", "11", "--key", "cell-7", "--index", "5"]
    for f in flags:
        args += ["--param", f]
    subprocess.run(args, check=True, capture_output=True)
    y, mask = phocas.corrupt(x, attack, q, corruption, seed=11, key="cell-7", index=5, **params)
    assert y.dtype == dtype
    assert y.tobytes() == np.load(tmp_path / "y.npy").tobytes()
    assert np.array_equal(mask, np.load(tmp_path / "m.npy"))
    # only the marked entries changed
    assert np.array_equal(y[~mask], x[~mask])


def test_stream_is_seed_key_and_index():
    x = honest()
    a, ma = phocas.corrupt(x, "gaussian", 3, seed=1, key="k", index=0)
    b, mb = phocas.corrupt(x, "gaussian", 3, seed=1, key="k", index=0)
    assert a.tobytes() == b.tobytes() and np.array_equal(ma, mb)
    for other in ({"seed": 2}, {"key": "k2"}, {"index": 1}):
        kw = {"seed": 1, "key": "k", "index": 0, **other}
        c, _ = phocas.corrupt(x, "gaussian", 3, **kw)
        assert c.tobytes() != a.tobytes(), other


def test_models_mark_what_they_define():
    x = honest(m=10, d=30)
    _, mask = phocas.corrupt(x, "nan", 3, "generalized")
    assert (mask.sum(axis=0) == 3).all()
    y, mask = phocas.corrupt(x, "nan", 3, "classic")
    rows = mask.all(axis=1)
    assert rows.sum() == 3 and (mask.any(axis=1) == rows).all()
    assert np.isnan(y[rows]).all() and np.isfinite(y[~rows]).all()
    _, mask = phocas.corrupt(x, "constant", 2, "diagonal")
    for j in range(30):
        assert set(np.flatnonzero(mask[:, j])) == {j % 10, (j + 1) % 10}


def test_inplace_and_copy():
    x = honest()
    keep = x.copy()
    y, _ = phocas.corrupt(x, "constant", 2)
    assert np.array_equal(x, keep) and not np.shares_memory(x, y)
    z, mask = phocas.corrupt(x, "constant", 2, inplace=True)
    assert z is x and (x[mask] == 1e20).all()
    # a copy accepts a non-contiguous view; in place does not
    view = np.asfortranarray(keep)
    y2, _ = phocas.corrupt(view, "constant", 2)
    assert y2.flags.c_contiguous and np.array_equal(y2, y)
    with pytest.raises(ValueError, match="C-contiguous"):
        phocas.corrupt(view, "constant", 2, inplace=True)


def test_adaptive_adversary_sees_g_and_the_rule():
    x = honest(m=11, d=25)
    g = np.zeros(25)
    rule = phocas.Rule("trmean", 11, b=3)
    y, _ = phocas.corrupt(x, "sided", 3, "chosen", g=g, rule=rule)
    y2, _ = phocas.corrupt(x, "sided", 3, "chosen", g=g, rule=rule)
    assert y.tobytes() == y2.tobytes()
    # the adversary moves the trimmed mean away from g more than the honest rows do
    assert np.linalg.norm(rule(y) - g) > np.linalg.norm(rule(x) - g)


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda x: phocas.corrupt(x, "gausian", 2), "unknown attack 'gausian'"),
        (lambda x: phocas.corrupt(x, "gaussian", 2, "classik"), "unknown corruption model"),
        (lambda x: phocas.corrupt(x, "gaussian", 10), "exceeds the m = 9 workers"),
        (lambda x: phocas.corrupt(x, "gaussian", 2, sigma=3), "unknown field `sigma`"),
        (lambda x: phocas.corrupt(x, "bit-flip", 2, bitflip_bits=[40]), "bit 40"),
        (lambda x: phocas.corrupt(x, "gaussian", 2, g=np.zeros(40)), "both g"),
        (lambda x: phocas.corrupt(x[0], "gaussian", 2), "shape"),
        (
            lambda x: phocas.corrupt(x, "sided", 2, g=np.zeros(3), rule=phocas.Rule("mean", 9)),
            "length 3",
        ),
    ],
)
def test_errors_name_the_problem(call, message):
    with pytest.raises(ValueError, match=message):
        call(honest())


def test_registries_are_listed():
    names = {a["name"] for a in phocas.attacks()}
    assert {"gaussian", "omniscient", "bit-flip", "gambler", "search"} <= names
    assert {c["name"] for c in phocas.corruptions()} >= {"classic", "generalized", "diagonal"}


def test_torch_in_place():
    torch = pytest.importorskip("torch")
    t = torch.zeros((6, 8), dtype=torch.float32)
    out, mask = phocas.corrupt(t, "constant", 2, inplace=True, constant_value=3.0)
    assert out is t and int((t == 3.0).sum()) == 16 and mask.sum() == 16


def test_monte_carlo_table_matches_the_cli(tmp_path):
    exe = cli()
    (tmp_path / "g.toml").write_text(GRID)
    subprocess.run(
        [exe, "verify-bounds", "--config", str(tmp_path / "g.toml"), "--out",
         str(tmp_path / "out"), "--no-charts", "--quiet"],
        check=True, capture_output=True,
    )
    rows = list(csv.DictReader(open(tmp_path / "out" / "results.csv")))
    seen = []
    cols = phocas.verify_bounds(tmp_path / "g.toml", frame="dict",
                                progress=lambda done, total: seen.append((done, total)))
    assert len(rows) == len(cols["rule"]) == 20
    assert seen[-1] == (20, 20)
    for i, r in enumerate(rows):
        assert r["cell_key"] == cols["cell_key"][i] and r["verdict"] == cols["verdict"][i]
        for k in ("mean_error", "ci_low", "ci_high", "max_error", "bound", "v"):
            a, b = float(r[k]), float(cols[k][i])
            assert a == b or (np.isnan(a) and np.isnan(b)), (k, r[k], b)


def test_monte_carlo_takes_a_dict_and_text():
    import tomllib

    from_text = phocas.verify_bounds(GRID, frame="dict", progress=False, trials=16)
    from_dict = phocas.verify_bounds(tomllib.loads(GRID), frame="dict", progress=False, trials=16)
    assert from_text["cell_key"] == from_dict["cell_key"]
    assert from_text["mean_error"].tobytes() == from_dict["mean_error"].tobytes()
    assert (from_text["trials"] == 16).all()
    assert set(from_text["verdict"]) <= {"holds", "violated", "inconclusive", "n/a", "unbounded"}


def test_monte_carlo_frames():
    pd = pytest.importorskip("pandas")
    df = phocas.verify_bounds(GRID, frame="pandas", progress=False, trials=8)
    assert isinstance(df, pd.DataFrame) and len(df) == 20
    assert df["mean_error"].dtype == np.float64


@pytest.mark.parametrize(
    "config,message",
    [
        ({"sweep": [{"name": "a", "rules": ["mean"], "bogus": 1}]}, "unknown field `bogus`"),
        ("no-such-file.toml", "no such config file"),
        ("seed = 1\n[[sweep]]\nname = 3\n", "line 3"),
    ],
)
def test_monte_carlo_errors(config, message):
    with pytest.raises(ValueError, match=message):
        phocas.verify_bounds(config, progress=False)
    with pytest.raises(ValueError, match="frame"):
        phocas.verify_bounds(GRID, progress=False, frame="arrow", trials=2)


HETERO = """
seed = 5
[[sweep]]
name = "h"
rules = ["mean"]
distributions = ["gaussian"]
corruptions = ["classic"]
attacks = ["gaussian"]
m = [6]
q = [1]
b = ["equal"]
d = [4]
trials = 4

[heterogeneity]
rules = ["mean", "trmean"]
nnm = true
shapes = ["spread"]
g2_over_v = [0, 4]
attacks = ["gaussian"]
m = 10
f = 2
d = 6
trials = 20
"""


KAPPA = """
[kappa]
rules = ["mean"]
n = [6]
fractions = [0.2]
d = 2
restarts = 1
steps = 5
"""


def test_heterogeneity_section_matches_the_cli(tmp_path):
    exe = cli()
    (tmp_path / "h.toml").write_text(HETERO)
    subprocess.run(
        [exe, "verify-bounds", "--config", str(tmp_path / "h.toml"), "--out",
         str(tmp_path / "out"), "--no-charts", "--quiet"],
        check=True, capture_output=True,
    )
    rows = list(csv.DictReader(open(tmp_path / "out" / "heterogeneity.csv")))
    tables = phocas.verify_sections(tmp_path / "h.toml", frame="dict")
    assert set(tables) == {"heterogeneity"}
    cols = tables["heterogeneity"]
    assert len(rows) == len(cols["rule"]) > 0
    for i, r in enumerate(rows):
        assert (r["rule"], r["pre"], r["attack"]) == (cols["rule"][i], cols["pre"][i], cols["attack"][i])
        for k in ("mean_error", "ci_low", "ci_high", "kappa_bound", "lower_bound"):
            a, b = float(r[k]), float(cols[k][i])
            assert a == b or (np.isnan(a) and np.isnan(b)), (k, r[k], b)
    # the grid alone has no such section; a kappa section is named, not run
    assert phocas.verify_sections(GRID) == {}
    assert phocas.verify_sections(HETERO + KAPPA)["kappa"] is None
