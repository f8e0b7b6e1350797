"""Type stubs of the extension module (see phocas/__init__.py and src/lib.rs)."""

from typing import Callable, Optional

import numpy as np
import numpy.typing as npt

__version__: str

class Rule:
    """A registry rule built for m workers, with its own workspace."""

    def __init__(
        self,
        name: str,
        m: int,
        *,
        b: Optional[int] = None,
        q: Optional[int] = None,
        k: Optional[int] = None,
        neighbours: Optional[str] = None,
        distance: Optional[str] = None,
        median: Optional[str] = None,
        nu: Optional[float] = None,
        iters: Optional[int] = None,
        tol: Optional[float] = None,
        start: Optional[str] = None,
        tau: Optional[float] = None,
        nnm: Optional[int] = None,
        bucket: Optional[int] = None,
        bucket_seed: Optional[int] = None,
        threads: Optional[int] = None,
    ) -> None: ...
    @property
    def label(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def m(self) -> int: ...
    def __call__(
        self, x: npt.NDArray[np.floating], out: Optional[npt.NDArray[np.floating]] = None
    ) -> npt.NDArray[np.floating]: ...
    def last_weiszfeld(self) -> Optional[tuple[int, bool, float]]: ...

def rules() -> list[dict[str, object]]: ...
def delta0(m: int, q: int) -> float: ...
def delta1(m: int, q: int, b: int) -> float: ...
def delta2(m: int, q: int, b: int) -> float: ...
def kappa_lower(n: int, f: int) -> float: ...
def kappa_upper(name: str, n: int, f: int) -> Optional[float]: ...
def threads() -> int: ...

DEFAULT_SEED: int

def corrupt(
    x: npt.NDArray[np.floating],
    attack: str,
    corruption: str,
    q: int,
    seed: int,
    key: str,
    index: int,
    params_json: str,
    g: Optional[list[float]] = None,
    rule: Optional[Rule] = None,
) -> npt.NDArray[np.bool_]: ...
def attack_list() -> list[tuple[str, str, Optional[str]]]: ...
def corruption_list() -> list[tuple[str, str]]: ...
def verify_bounds(
    text: str,
    json: bool,
    trials: Optional[int] = None,
    progress: Optional[Callable[[int, int], None]] = None,
) -> dict[str, object]: ...
def verify_sections(
    text: str,
    json: bool,
    trials: Optional[int] = None,
) -> dict[str, Optional[dict[str, object]]]: ...
