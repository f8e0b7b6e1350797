"""ByzFL-compatible aggregators computed by phocas.

A drop-in for the aggregators of ByzFL (https://github.com/LPD-EPFL/byzfl, checked against
byzfl 0.0.11): the same class names, constructor parameters (names, defaults, checks) and
call, so a script switches by replacing ``from byzfl import TrMean`` with
``from phocas.byzfl import TrMean``:

    >>> import numpy as np
    >>> from phocas.byzfl import TrMean
    >>> TrMean(1)(np.array([[1., 2., 3.], [4., 5., 6.], [7., 8., 9.]]))
    array([4., 5., 6.])

Each instance is called on what ByzFL accepts: a 2-D NumPy array, a 2-D PyTorch tensor, or a
list of 1-D NumPy arrays or of 1-D tensors (one per worker), and returns what ByzFL returns:

- NumPy in, NumPy out, in the input's dtype (float32 and float64 are read in place; other
  float dtypes are computed in float32 and cast back, integer and boolean arrays are computed
  and returned in float64, as ``np.mean`` does);
- PyTorch in, PyTorch out, always float32: ByzFL calls ``vectors.float()`` on every tensor
  input, so a float64 tensor comes back as float32 here too. A tensor on another device is
  copied to the CPU (phocas runs there) and the result is moved back to that device.

Covered (class: phocas rule and parameters; agreement with ByzFL measured by
tests/test_adapters.py):

- ``Average()``: ``mean``.
- ``Median()``: ``median`` (even n: midpoint of the two middle values, as ``np.median`` and
  ``torch.quantile(q=0.5)``).
- ``TrMean(f=0)``: ``trmean`` with b = f.
- ``GeometricMedian(nu=0.1, T=3)``: ``geomed`` with nu, iters = T, tol = 0, start = zero.
- ``Krum(f=0)``: ``krum`` with q = f, neighbours = m-q-1.
- ``MultiKrum(f=0)``: ``multikrum`` with q = f, k = n - f, neighbours = m-q-1.
- ``CenteredClipping(m=None, L=1, tau=100.0)``: ``cclip`` with tau, iters = L, from the
  centre m (zero on the first call, then the previous output, as ByzFL).
- ``Meamed(f=0)``: ``meamed`` with b = f.
- ``RobustAggregator(aggregator_info, pre_agg_list=[])`` (ByzFL's ``byzfl.RobustAggregator``):
  one of the classes above after at most one pre-aggregation step, ``NNM`` (phocas
  ``nnm=f``) or ``Bucketing`` (phocas ``bucket=s``).

Not covered (phocas has no such rule; these names are deliberately not defined here, so an
import of them fails): ``MDA``, ``MoNNA``, ``CAF``, ``SMEA``, and the stand-alone
pre-aggregators ``NNM``, ``Bucketing``, ``Clipping`` and ``ARC`` (phocas applies NNM and
Bucketing inside a rule, see ``RobustAggregator``; it has no static or adaptive clipping).

Conventions where phocas and ByzFL differ, and what this module does about them:

- phocas's own Krum counts m - q - 2 neighbours (Blanchard et al.); ByzFL counts n - f - 1
  (it drops the row itself from the n - f nearest). ``Krum`` and ``MultiKrum`` pass
  ``neighbours="m-q-1"``; with phocas's default the chosen row differs from ByzFL's on about a
  quarter of random Gaussian 7 x 5 inputs with f = 2.
- phocas's geometric median starts from the mean and stops at a relative tolerance (nu = 1e-6,
  up to 100 iterations); ByzFL starts from zero and runs exactly T iterations.
  ``GeometricMedian`` passes ``start="zero", tol=0``. ByzFL drops rows holding an infinity but
  lets a NaN row turn the result into NaN; phocas gives every non-finite row (NaN or infinity)
  weight 0. T = 0 returns zeros, as ByzFL. nu must be positive here (ByzFL accepts any float;
  nu <= 0 divides by zero on a row equal to the iterate): ValueError.
- ``CenteredClipping``: ByzFL 0.0.11 raises TypeError for any m given to the constructor (its
  check ``not isinstance(m, np.ndarray) or not isinstance(m, torch.Tensor)`` is always true),
  so only ``m=None`` (or assigning ``.m`` afterwards) works there; here m may be a 1-D NumPy
  array or tensor, the documented intent. phocas needs tau > 0 (ByzFL accepts 0): ValueError.
  L = 0 returns the centre, as ByzFL.
- ``Krum`` and ``MultiKrum`` with a single vector return it (ByzFL does, after a NumPy "mean of
  empty slice" warning; phocas refuses m = 1 for Krum).
- ByzFL's Krum on NumPy input returns a view of the chosen row; here it is a copy.
- ``Bucketing`` draws its permutation from phocas's seeded stream, not from NumPy's or torch's
  global generator: the seed is drawn from ``np.random`` when the ``RobustAggregator`` is built
  (so ``np.random.seed`` still makes a run reproducible), and every call draws a fresh
  permutation, as ByzFL. Outputs therefore match ByzFL's only in distribution, except for
  s = 1 or s >= n, where the permutation does not matter to a permutation-invariant rule.

Built phocas rules are cached per number of rows, so repeated calls reuse their workspace.
"""

from __future__ import annotations

import math
from typing import Any, Callable, Optional

import numpy as np

from . import Rule

__all__ = [
    "Average",
    "Median",
    "TrMean",
    "GeometricMedian",
    "Krum",
    "MultiKrum",
    "CenteredClipping",
    "Meamed",
    "RobustAggregator",
]

#: ByzFL classes with no phocas counterpart (not defined in this module).
NOT_COVERED = ("MDA", "MoNNA", "CAF", "SMEA", "NNM", "Bucketing", "Clipping", "ARC")

_TYPE_MESSAGE = (
    "'vectors' should be a 'list' of ('np.ndarray' or 'torch.Tensor') or 'np.ndarray' or "
    "'torch.Tensor'"
)


def _is_tensor(x: Any) -> bool:
    return type(x).__module__.startswith("torch") and hasattr(x, "detach")


def _numpy_matrix(arr: np.ndarray) -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    """arr as a C-contiguous float32/float64 matrix, and how to give a result back."""
    if arr.dtype in (np.float32, np.float64):
        return np.ascontiguousarray(arr), lambda y: y
    if arr.dtype.kind == "f":
        dtype = arr.dtype
        return np.ascontiguousarray(arr, dtype=np.float32), lambda y: y.astype(dtype)
    if arr.dtype.kind in "biu":
        return np.ascontiguousarray(arr, dtype=np.float64), lambda y: y
    raise TypeError(f"phocas aggregates real numbers, got a NumPy array of {arr.dtype}")


def _tensor_matrix(t: Any) -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    """A tensor as a float32 C-contiguous NumPy matrix (ByzFL's `.float()`), and the way back."""
    import torch

    device = t.device
    t = t.detach()
    if device.type != "cpu":
        t = t.cpu()
    t = t.float().contiguous()
    arr = t.numpy()

    def back(y: np.ndarray) -> Any:
        out = torch.from_numpy(y)
        return out if device.type == "cpu" else out.to(device)

    return arr, back


def _as_matrix(vectors: Any) -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    """The (n, d) matrix behind ByzFL-style input, and the function giving a result back.

    NumPy float32/float64 input that is C-contiguous is not copied.
    """
    if isinstance(vectors, list):
        if not vectors:
            raise ValueError("vectors is an empty list: give at least one vector")
        if isinstance(vectors[0], np.ndarray):
            arr, back = _numpy_matrix(np.stack(vectors))
        elif _is_tensor(vectors[0]):
            import torch

            arr, back = _tensor_matrix(torch.stack(vectors))
        else:
            raise TypeError(_TYPE_MESSAGE)
    elif isinstance(vectors, np.ndarray):
        arr, back = _numpy_matrix(vectors)
    elif _is_tensor(vectors):
        arr, back = _tensor_matrix(vectors)
    else:
        raise TypeError(_TYPE_MESSAGE)
    if arr.ndim != 2:
        raise ValueError(
            f"vectors must be n vectors of dimension d (shape (n, d)), got shape {arr.shape}"
        )
    if arr.shape[0] == 0:
        raise ValueError("vectors holds no vector: give at least one")
    return arr, back


def _check_f(f: Any) -> int:
    if not isinstance(f, int) or f < 0:
        raise ValueError("f must be a non-negative integer")
    return f


class _Aggregator:
    """A ByzFL aggregator computed by a phocas rule built (and cached) per number of rows."""

    _rule_name = ""

    def __init__(self) -> None:
        self._cache: dict[int, Rule] = {}
        # pre-aggregation step set by RobustAggregator: {"nnm": f} or {"bucket": s, ...}
        self._pre: dict[str, int] = {}

    def _params(self, n: int) -> dict[str, Any]:
        """The phocas parameters for n input rows."""
        return {}

    def _rows(self, n: int) -> int:
        """The number of vectors the rule aggregates after the pre-aggregation step."""
        s = self._pre.get("bucket")
        return math.ceil(n / s) if s else n

    def _check(self, n: int) -> None:
        """ByzFL's call-time checks, for n vectors reaching the rule."""

    def _rule(self, n: int) -> Rule:
        rule = self._cache.get(n)
        if rule is None:
            rule = Rule(self._rule_name, n, **self._params(n), **self._pre)
            self._cache[n] = rule
        return rule

    def _run(self, arr: np.ndarray) -> np.ndarray:
        self._check(self._rows(arr.shape[0]))
        return self._rule(arr.shape[0])(arr)

    def __call__(self, vectors: Any) -> Any:
        arr, back = _as_matrix(vectors)
        return back(self._run(arr))

    def __repr__(self) -> str:
        args = ", ".join(
            f"{k}={v!r}" for k, v in vars(self).items() if not k.startswith("_")
        )
        return f"phocas.byzfl.{type(self).__name__}({args})"


class _FAggregator(_Aggregator):
    """An aggregator with ByzFL's single parameter f and its check 2f < n."""

    def __init__(self, f: int = 0) -> None:
        super().__init__()
        self.f = _check_f(f)

    def _check(self, n: int) -> None:
        if self.f * 2 >= n:
            raise ValueError(f"Cannot tolerate 2f ≥ n. Got f={self.f}, n={n}")


class Average(_Aggregator):
    """Coordinate-wise average of the n vectors (ByzFL ``Average()``; phocas ``mean``).

    Call on an (n, d) array or tensor or a list of n vectors; returns the d-vector of the
    input's kind. Agrees with ByzFL to a few units in the last place (phocas sums in float64
    and rounds once; NumPy sums pairwise in the input's precision).
    """

    _rule_name = "mean"


class Median(_Aggregator):
    """Coordinate-wise median (ByzFL ``Median()``; phocas ``median``, midpoint convention).

    For even n each coordinate is the midpoint of its two middle values, as ``np.median`` and
    ByzFL's ``torch.quantile(q=0.5)``.
    """

    _rule_name = "median"


class TrMean(_FAggregator):
    """Coordinate-wise trimmed mean (ByzFL ``TrMean(f=0)``; phocas ``trmean`` with b = f).

    Per coordinate, drops the f smallest and f largest values and averages the other n - 2f.
    Needs 2f < n (ValueError otherwise, ByzFL's message); f = 0 is the average.
    """

    _rule_name = "trmean"

    def _params(self, n: int) -> dict[str, Any]:
        return {"b": self.f}


class Meamed(_FAggregator):
    """Mean around the median (ByzFL ``Meamed(f=0)``; phocas ``meamed`` with b = f).

    Per coordinate, the average of the n - f values nearest to the coordinate's median (even
    n: midpoint). Needs 2f < n. Ties in distance at the window's edge (probability zero for
    continuous data) are broken towards the smaller value by phocas and arbitrarily by ByzFL.
    """

    _rule_name = "meamed"

    def _params(self, n: int) -> dict[str, Any]:
        return {"b": self.f}


class Krum(_FAggregator):
    """Krum (ByzFL ``Krum(f=0)``; phocas ``krum`` with q = f, neighbours = m-q-1).

    Returns the vector with the least sum of squared distances to its n - f - 1 nearest other
    vectors (ByzFL's count; phocas's default m - q - 2 is Blanchard et al.'s), the lowest index
    on ties. Needs 2f < n. A single vector is returned as it is.
    """

    _rule_name = "krum"

    def _params(self, n: int) -> dict[str, Any]:
        return {"q": self.f, "neighbours": "m-q-1"}

    def _run(self, arr: np.ndarray) -> np.ndarray:
        if self._rows(arr.shape[0]) == 1:
            self._check(1)
            # one vector (or one bucket): Krum's choice is it (phocas refuses m = 1)
            return np.ascontiguousarray(arr.mean(axis=0, dtype=arr.dtype))
        return super()._run(arr)


class MultiKrum(Krum):
    """Multi-Krum (ByzFL ``MultiKrum(f=0)``; phocas ``multikrum``, q = f, k = n - f, m-q-1).

    The average of the n - f vectors with the least Krum scores (sum of squared distances to
    the n - f - 1 nearest other vectors). Needs 2f < n.
    """

    _rule_name = "multikrum"

    def _params(self, n: int) -> dict[str, Any]:
        return {"q": self.f, "k": self._rows(n) - self.f, "neighbours": "m-q-1"}


class GeometricMedian(_Aggregator):
    """Smoothed Weiszfeld geometric median (ByzFL ``GeometricMedian(nu=0.1, T=3)``).

    phocas ``geomed`` with nu, iters = T, tol = 0 and start = zero: from z = 0, T times
    z <- sum_i beta_i x_i / sum_i beta_i with beta_i = 1 / max(nu, ||z - x_i||). nu must be a
    positive float (ByzFL: any float; TypeError for a non-float, as ByzFL). T = 0 returns zeros.
    Rows with a NaN or an infinity get weight 0 (ByzFL: rows with an infinity are dropped, a
    NaN row makes the result NaN).
    """

    _rule_name = "geomed"

    def __init__(self, nu: float = 0.1, T: int = 3) -> None:
        super().__init__()
        if not isinstance(nu, float):
            raise TypeError("f must be a float")  # ByzFL's message
        if not (math.isfinite(nu) and nu > 0.0):
            raise ValueError(
                f"nu = {nu}: phocas's smoothed Weiszfeld needs a positive finite nu "
                "(ByzFL accepts any float, and divides by zero for nu <= 0)"
            )
        self.nu = nu
        if not isinstance(T, int) or T < 0:
            raise ValueError("T must be a non-negative integer")
        self.T = T

    def _params(self, n: int) -> dict[str, Any]:
        return {"nu": self.nu, "iters": self.T, "tol": 0.0, "start": "zero"}

    def _run(self, arr: np.ndarray) -> np.ndarray:
        if self.T == 0:
            return np.zeros(arr.shape[1], dtype=arr.dtype)
        return super()._run(arr)


class CenteredClipping(_Aggregator):
    """Centered clipping (ByzFL ``CenteredClipping(m=None, L=1, tau=100.0)``; phocas ``cclip``).

    From the centre v_0 = m, L times v <- v + (1/n) sum_i (x_i - v) min(1, tau / ||x_i - v||).
    m = None starts from zero; after every call ``self.m`` is the output (the same object that
    is returned, as ByzFL), so the next call starts from the previous aggregate. m may be given
    as a 1-D NumPy array or tensor of dimension d (ByzFL 0.0.11 raises TypeError for any m, a
    bug in its check). tau must be a positive float (ByzFL also accepts 0): ValueError. L = 0
    returns the centre.

    From a non-zero centre c the rule runs phocas's zero-start ``cclip`` on the differences
    x - c and adds c back, the same arithmetic as ByzFL's (it also forms x - v): one extra
    (n, d) temporary per call. ``phocas.CenteredClipping(start="previous")`` avoids it when the
    previous aggregate is the only centre ever used.
    """

    _rule_name = "cclip"

    def __init__(self, m: Optional[Any] = None, L: int = 1, tau: float = 100.0) -> None:
        super().__init__()
        if m is not None and not (isinstance(m, np.ndarray) or _is_tensor(m)):
            raise TypeError("m must be of type np.ndarray or torch.Tensor")
        self.m = m
        if not isinstance(L, int) or L < 0:
            raise ValueError("L must be a non-negative integer")
        self.L = L
        if not isinstance(tau, float) or tau < 0.0:
            raise ValueError("tau must be a non-negative float")
        if not (math.isfinite(tau) and tau > 0.0):
            raise ValueError(
                f"tau = {tau}: phocas's centered clipping needs a positive finite radius "
                "(ByzFL accepts tau = 0, which never moves the centre)"
            )
        self.tau = tau

    def _params(self, n: int) -> dict[str, Any]:
        return {"tau": self.tau, "iters": self.L, "start": "zero"}

    def _centre(self, arr: np.ndarray) -> Optional[np.ndarray]:
        if self.m is None:
            return None
        c = self.m
        if _is_tensor(c):
            c = c.detach().cpu().numpy()
        c = np.asarray(c, dtype=arr.dtype).reshape(-1)
        if c.shape[0] != arr.shape[1]:
            raise ValueError(
                f"the centre m has {c.shape[0]} coordinates, the vectors {arr.shape[1]}"
            )
        return c

    def _run(self, arr: np.ndarray) -> np.ndarray:
        c = self._centre(arr)
        if self.L == 0:
            return np.zeros(arr.shape[1], dtype=arr.dtype) if c is None else c.copy()
        rule = self._rule(arr.shape[0])
        if c is None:
            return rule(arr)
        y = rule(arr - c)
        y += c
        return y

    def __call__(self, vectors: Any) -> Any:
        arr, back = _as_matrix(vectors)
        out = back(self._run(arr))
        self.m = out
        return out


_AGGREGATORS: dict[str, type[_Aggregator]] = {
    "Average": Average,
    "Median": Median,
    "TrMean": TrMean,
    "GeometricMedian": GeometricMedian,
    "Krum": Krum,
    "MultiKrum": MultiKrum,
    "CenteredClipping": CenteredClipping,
    "Meamed": Meamed,
}


def _given(cls: type, params: dict[str, Any]) -> dict[str, Any]:
    """ByzFL's selection: the entries of params that are constructor parameters of cls."""
    import inspect

    names = inspect.signature(cls.__init__).parameters
    return {k: v for k, v in params.items() if k in names and k != "self"}


class RobustAggregator:
    """ByzFL's ``RobustAggregator(aggregator_info, pre_agg_list=[])``, computed by phocas.

    ``aggregator_info`` is ``{"name": <a class of this module>, "parameters": {...}}`` and
    ``pre_agg_list`` a list of ``{"name": "NNM" | "Bucketing", "parameters": {...}}``, as in
    ByzFL; unknown parameter names are ignored, as ByzFL does. ``aggregate_vectors(vectors)``
    applies the pre-aggregation and the rule in one phocas call.

    phocas applies at most one pre-aggregation step per rule, so ``pre_agg_list`` holds at most
    one entry, NNM(f) (phocas ``nnm=f``: each vector replaced by the mean of its n - f nearest
    vectors, itself included) or Bucketing(s) (phocas ``bucket=s``: means of buckets of s
    vectors after a random permutation, the last bucket possibly smaller); anything else
    (Clipping, ARC, two steps) raises ValueError. The rule's f applies to the vectors it
    receives (ceil(n/s) after Bucketing), as in ByzFL.
    """

    def __init__(
        self, aggregator_info: dict[str, Any], pre_agg_list: Optional[list[dict[str, Any]]] = None
    ) -> None:
        pre_agg_list = [] if pre_agg_list is None else pre_agg_list
        if not isinstance(aggregator_info, dict):
            raise TypeError(
                "'aggregator_info' must be of type dict, but got "
                f"{type(aggregator_info).__name__}"
            )
        if not isinstance(pre_agg_list, list) or not all(
            isinstance(p, dict) for p in pre_agg_list
        ):
            raise TypeError("'pre_agg_list' must be must be a list of dict")
        name = aggregator_info["name"]
        cls = _AGGREGATORS.get(name)
        if cls is None:
            raise ValueError(
                f"aggregator {name!r} has no phocas counterpart: phocas.byzfl covers "
                f"{', '.join(_AGGREGATORS)}"
            )
        self.aggregator = cls(**_given(cls, aggregator_info.get("parameters", {})))
        if len(pre_agg_list) > 1:
            raise ValueError(
                "phocas applies one pre-aggregation step per rule, got "
                f"{[p.get('name') for p in pre_agg_list]}"
            )
        self.pre_agg_list = pre_agg_list
        for info in pre_agg_list:
            params = info.get("parameters", {})
            if info.get("name") == "NNM":
                f = _check_f(params.get("f", 0))
                self.aggregator._pre = {"nnm": f}
            elif info.get("name") == "Bucketing":
                s = params.get("s", 1)
                if not isinstance(s, int) or s <= 0:
                    raise ValueError("f must be a positive integer")  # ByzFL's message
                seed = int(np.random.randint(0, 2**62))
                self.aggregator._pre = {"bucket": s, "bucket_seed": seed}
            else:
                raise ValueError(
                    f"pre-aggregator {info.get('name')!r} has no phocas counterpart: "
                    "phocas.byzfl covers NNM and Bucketing"
                )

    def aggregate_vectors(self, vectors: Any) -> Any:
        """The pre-aggregation step (if any), then the aggregator, on ByzFL-style input."""
        agg = self.aggregator
        if "nnm" in agg._pre:
            n = len(vectors)
            if not agg._pre["nnm"] < n:
                raise ValueError(
                    f"f must be smaller than len(vectors), but got f={agg._pre['nnm']} "
                    f"and len(vectors)={n}"
                )
        return agg(vectors)

    def __repr__(self) -> str:
        return (
            f"phocas.byzfl.RobustAggregator({self.aggregator!r}, "
            f"pre_agg_list={self.pre_agg_list!r})"
        )
