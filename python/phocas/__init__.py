"""Byzantine-resilient aggregation rules and their bounds, from NumPy and PyTorch.

The rules of the Rust workbench `phocas` (Xie, Koyejo, Gupta, *Phocas: dimensional
Byzantine-resilient stochastic gradient descent*, and later ones) run on an (m, d) matrix,
one row per worker, float32 or float64, and return the d-dimensional aggregate:

    >>> import numpy as np, phocas
    >>> x = np.random.default_rng(0).standard_normal((20, 1000), dtype=np.float32)
    >>> y = phocas.aggregate(x, "trmean", b=4)          # one call
    >>> rule = phocas.Trmean(b=4)                        # or a reusable rule
    >>> y = rule(x)
    >>> rule(x, out=y)                                   # into a caller's buffer

C-contiguous NumPy arrays are read without a copy (others raise ValueError: pass
`np.ascontiguousarray(x)`); PyTorch CPU tensors go through DLPack without a copy and come
back as tensors. The GIL is released while a rule runs; the thread count is rayon's
(`RAYON_NUM_THREADS`, default: all cores), or the rule's own pool with `threads=N`.
Parameters are those of the CLI (`phocas aggregate --help`): b, q, k, neighbours, distance,
median, nu, iters, tol, start, tau, and the pre-aggregation steps nnm=F and bucket=S (with
bucket_seed). Errors raise ValueError with the CLI's message. `phocas.rules()` lists the
registry with each rule's definition, parameters, reference and cost.

Also: `phocas.corrupt` (attacks and corruption models, the CLI's bits), `phocas.verify_bounds`
(the Monte Carlo engine, into a DataFrame; `phocas.verify_sections` for a config's
heterogeneity section), `phocas.byzfl` (ByzFL's aggregators, drop-in) and
`phocas.flower` (Flower strategies); the last two are imported on demand.
"""

from __future__ import annotations

from typing import Any, Optional

import numpy as np

from ._phocas import (
    Rule,
    __version__,
    delta0,
    delta1,
    delta2,
    kappa_lower,
    kappa_upper,
    rules,
    threads,
)

__all__ = [
    "Rule",
    "attacks",
    "corrupt",
    "corruptions",
    "verify_bounds",
    "verify_sections",
    "DEFAULT_SEED",
    "aggregate",
    "rules",
    "delta0",
    "delta1",
    "delta2",
    "kappa_lower",
    "kappa_upper",
    "threads",
    "__version__",
]


def _as_numpy(x: Any) -> tuple[np.ndarray, bool]:
    """The array behind x, and whether x was a torch tensor (zero-copy both ways)."""
    if isinstance(x, np.ndarray):
        return x, False
    module = type(x).__module__
    if module.startswith("torch"):
        if getattr(x, "device", None) is not None and x.device.type != "cpu":
            raise ValueError(
                f"x is on {x.device}: phocas runs on the CPU, pass x.cpu()"
            )
        return np.from_dlpack(x.detach()), True
    raise TypeError(
        f"x must be a NumPy array or a PyTorch CPU tensor, got {type(x).__name__}"
    )


def _back(y: np.ndarray, torch_in: bool) -> Any:
    if torch_in:
        import torch

        return torch.from_numpy(y)
    return y


def aggregate(x: Any, rule: str, out: Optional[Any] = None, **params: Any) -> Any:
    """Aggregates the rows of x (shape (m, d)) with registry rule `rule` and its parameters.

    Builds the rule for m = x.shape[0] workers on every call; keep a rule object
    (`phocas.Trmean(b=2)` or `phocas.Rule("trmean", m, b=2)`) to reuse its workspace.
    """
    arr, torch_in = _as_numpy(x)
    if arr.ndim != 2:
        raise ValueError(f"x must have shape (m, d), got shape {arr.shape}")
    r = Rule(rule, arr.shape[0], **params)
    if out is not None:
        o, _ = _as_numpy(out)
        r(arr, out=o)
        return out
    return _back(r(arr), torch_in)


class _RuleClass:
    """A rule with fixed parameters, built for each m it meets (and cached)."""

    name = ""

    def __init__(self, **params: Any) -> None:
        self.params = params
        self._built: dict[int, Rule] = {}
        # validate the parameters now, on the smallest m they allow
        self._check()

    def _check(self) -> None:
        for m in (3, 5, 7, 11, 20, 50):
            try:
                self._rule(m)
                return
            except ValueError:
                continue
        # no small m accepts them: build once more to raise the rule's own message
        self._rule(max(3, 4 * int(self.params.get("q") or 0) + 3))

    def _rule(self, m: int) -> Rule:
        r = self._built.get(m)
        if r is None:
            r = Rule(self.name, m, **self.params)
            self._built[m] = r
        return r

    def __call__(self, x: Any, out: Optional[Any] = None) -> Any:
        arr, torch_in = _as_numpy(x)
        if arr.ndim != 2:
            raise ValueError(f"x must have shape (m, d), got shape {arr.shape}")
        r = self._rule(arr.shape[0])
        if out is not None:
            o, _ = _as_numpy(out)
            r(arr, out=o)
            return out
        return _back(r(arr), torch_in)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"phocas.{type(self).__name__}({args})"


# Class names of the registry's rules; a rule added to the registry later gets a class named
# after its registry name.
_CLASS_NAMES = {
    "mean": "Mean",
    "median": "Median",
    "trmean": "Trmean",
    "phocas": "Phocas",
    "krum": "Krum",
    "multikrum": "MultiKrum",
    "meamed": "MeaMed",
    "geomed": "GeometricMedian",
    "cclip": "CenteredClipping",
    "bulyan": "Bulyan",
}

for _info in rules():
    _cls_name = _CLASS_NAMES.get(_info["name"], _info["name"].capitalize())
    _cls = type(
        _cls_name,
        (_RuleClass,),
        {
            "name": _info["name"],
            "__doc__": f"{_info['summary']}.\n\nParameters: {_info['params']}.\n"
            f"Reference: {_info['reference']}.\nCost: {_info['cost']}.",
            "__module__": __name__,
        },
    )
    globals()[_cls_name] = _cls
    __all__.append(_cls_name)
del _info, _cls_name, _cls

from ._sim import (  # noqa: E402
    DEFAULT_SEED,
    attacks,
    corrupt,
    corruptions,
    verify_bounds,
    verify_sections,
)
