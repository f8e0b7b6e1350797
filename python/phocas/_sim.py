"""Attacks, corruption models and the Monte Carlo engine (see phocas/__init__.py)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Optional, Union

import numpy as np

from . import _phocas

DEFAULT_SEED: int = _phocas.DEFAULT_SEED


def attacks() -> list[dict[str, Optional[str]]]:
    """The attack registry: name, summary and the parameter a magnitude sweep sets."""
    return [
        {"name": n, "summary": s, "magnitude": mag}
        for n, s, mag in _phocas.attack_list()
    ]


def corruptions() -> list[dict[str, str]]:
    """The corruption models (which positions are Byzantine): name and summary."""
    return [{"name": n, "summary": s} for n, s in _phocas.corruption_list()]


def corrupt(
    x: Any,
    attack: str,
    q: int,
    corruption: str = "generalized",
    *,
    seed: int = DEFAULT_SEED,
    key: str = "",
    index: int = 0,
    inplace: bool = False,
    g: Optional[Any] = None,
    rule: Optional[_phocas.Rule] = None,
    **params: Any,
) -> tuple[Any, np.ndarray]:
    """Corrupts the (m, d) matrix x as one Monte Carlo trial of the workbench does.

    The corruption model marks the Byzantine positions (`classic`: q whole rows, Definition 1;
    `generalized`: q values in every coordinate, Definition 4; `diagonal`, `block`, `chosen`,
    `shard`: see `corruptions()`), then the attack overwrites them (`gaussian`, `omniscient`,
    `bit-flip`, `gambler` of the paper, and `constant`, `nan`, `inf`, `little`, `ipm`,
    `adaptive`, `sided`, `search`: see `attacks()`). Attack parameters are the keys of a
    verify-bounds config's `[attack_params]` (e.g. `gaussian_sigma=200`,
    `bitflip_bits=[22, 29, 30, 31]`).

    The random stream is (seed, FNV-1a hash of key, index), so the result has the same bits
    as `phocas corrupt --seed S --key K --index I` on the same matrix, on any thread count.
    Adaptive adversaries (`sided`, `search`, the `chosen` positions) see the true gradient g
    and the rule under attack when both are given (`rule` is a `phocas.Rule` built for m).

    Returns (corrupted matrix, mask): x itself when `inplace=True` (x must then be a
    C-contiguous, writable float32/float64 array or CPU tensor), else a C-ordered copy; the
    mask is a bool array of shape (m, d), True where a value is Byzantine. Bad names,
    parameters or shapes raise ValueError with the CLI's message. O(md) plus the attack's cost.
    """
    from . import _as_numpy, _back

    arr, torch_in = _as_numpy(x)
    if arr.ndim != 2:
        raise ValueError(f"x must have shape (m, d), got shape {arr.shape}")
    if not inplace:
        arr = np.array(arr, copy=True, order="C")
    gv = None if g is None else np.asarray(g, dtype=np.float64).ravel().tolist()
    mask = _phocas.corrupt(
        arr,
        attack,
        corruption,
        int(q),
        int(seed),
        str(key),
        int(index),
        json.dumps(params),
        gv,
        rule,
    )
    if inplace:
        return x, mask
    return _back(arr, torch_in), mask


def _config_text(config: Union[dict, str, os.PathLike]) -> tuple[str, bool]:
    if isinstance(config, dict):
        return json.dumps(config), True
    if isinstance(config, os.PathLike) or (
        isinstance(config, str) and "\n" not in config and "=" not in config
    ):
        path = Path(config)
        if not path.is_file():
            raise ValueError(
                f"{path}: no such config file: pass a TOML path, TOML text or a dict"
            )
        return path.read_text(), False
    return str(config), False


def _progress(progress: Union[bool, Callable[[int, int], None]]):
    if callable(progress):
        return progress, None
    if not progress:
        return None, None
    try:
        from tqdm.auto import tqdm  # notebooks get a widget, terminals a bar
    except ImportError:
        tqdm = None
    state: dict[str, Any] = {}

    def show(done: int, total: int) -> None:
        if tqdm is not None:
            bar = state.get("bar")
            if bar is None:
                bar = state["bar"] = tqdm(total=total, unit="cell", desc="verify_bounds")
            bar.update(done - bar.n)
        else:
            sys.stderr.write(f"\rverify_bounds: {done}/{total} cells")
            sys.stderr.flush()

    def close() -> None:
        bar = state.get("bar")
        if bar is not None:
            bar.close()
        elif tqdm is None:
            sys.stderr.write("\n")

    return show, close


def verify_bounds(
    config: Union[dict, str, os.PathLike],
    *,
    trials: Optional[int] = None,
    progress: Union[bool, Callable[[int, int], None]] = True,
    frame: str = "auto",
) -> Any:
    """Runs a Monte Carlo grid and returns its results table, one row per cell.

    `config` is a dict with the keys of a verify-bounds TOML config (seed, v, g_norm,
    attack_params, sweep = [ {name, rules, attacks, corruptions, m, q, b, d, trials, ...} ]),
    TOML text, or the path of a TOML file (e.g. experiments/verify-bounds-quick.toml).
    `trials` overrides every sweep's count. The table has the columns of verify-bounds'
    results.csv (mean_error, ci_low, ci_high, bound, ratio, verdict, ...), computed with the
    same seeds and streams, so the numbers are those of `phocas verify-bounds` on the same
    config; the run keeps no checkpoint, chart or paired comparison (use the CLI for those), and
    the config's `[heterogeneity]` section is run by `verify_sections`, not here.

    frame: "polars" or "pandas" (that DataFrame, built from NumPy columns, no CSV round trip),
    "dict" (column name to NumPy array or list), or "auto" (polars if installed, else pandas,
    else dict). progress: True shows a tqdm bar (a widget in notebooks) or a counter on
    stderr, False nothing, or a callable progress(done, total). Ctrl-C stops the run and
    raises KeyboardInterrupt. Bad configs raise ValueError naming the key.
    """
    text, is_json = _config_text(config)
    show, close = _progress(progress)
    try:
        cols = _phocas.verify_bounds(text, is_json, trials, show)
    finally:
        if close is not None:
            close()
    return _frame(cols, frame)


def verify_sections(
    config: Union[dict, str, os.PathLike],
    *,
    trials: Optional[int] = None,
    frame: str = "auto",
) -> dict[str, Any]:
    """Runs the sections of a verify-bounds config that sit beside its grid and returns them
    as tables, by section name: "heterogeneity" (the `[heterogeneity]` section: heterogeneous
    honest workers, the columns of verify-bounds' heterogeneity.csv, the same numbers) when the
    config has one. A `[kappa]` section maps to None: its searches keep witness matrices, run
    them with `phocas verify-bounds`. `config`, `trials` (the section's trial count) and `frame`
    as in `verify_bounds`; a config without such sections gives an empty dict.
    """
    text, is_json = _config_text(config)
    tables = _phocas.verify_sections(text, is_json, trials)
    return {k: (None if v is None else _frame(v, frame)) for k, v in tables.items()}


def _frame(cols: dict, frame: str) -> Any:
    if frame not in ("auto", "polars", "pandas", "dict"):
        raise ValueError(f"frame must be auto, polars, pandas or dict, got {frame!r}")
    if frame == "dict":
        return cols
    if frame in ("auto", "polars"):
        try:
            import polars as pl

            return pl.DataFrame(cols)
        except ImportError:
            if frame == "polars":
                raise ImportError("frame='polars' needs polars: pip install polars") from None
    try:
        import pandas as pd

        return pd.DataFrame(cols)
    except ImportError:
        if frame == "pandas":
            raise ImportError("frame='pandas' needs pandas: pip install pandas") from None
    return cols
