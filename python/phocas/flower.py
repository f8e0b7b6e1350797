"""Flower strategies that aggregate the clients' models with a phocas rule.

Two strategies, one per Flower server API (checked against flwr 1.42):

- ``PhocasFedAvg``: a subclass of the classic ``flwr.server.strategy.FedAvg`` (``ServerApp``
  with ``server_fn`` / ``start_server``), overriding ``aggregate_fit(server_round, results,
  failures)``;
- ``PhocasMessageFedAvg``: a subclass of ``flwr.serverapp.strategy.FedAvg``, the Message API
  current since Flower 1.21 (``strategy.start(grid=..., initial_arrays=...)``), overriding
  ``aggregate_train(server_round, replies)``.

Both flatten each client's layers (in order) into one row of an (m, D) matrix, D the total
number of parameters, aggregate the m rows with the phocas rule (``rule="trmean"`` and the
rule's parameters, e.g. ``b=2``; see ``phocas.rules()``), and split the D-vector back into the
layers' shapes and dtypes. Every other keyword goes to Flower's FedAvg:

    >>> from phocas.flower import PhocasFedAvg
    >>> strategy = PhocasFedAvg(rule="trmean", b=2, fraction_fit=1.0, min_fit_clients=10)

Conditions and conventions:

- The robust rules are unweighted: ``num_examples`` (classic) and the ``weighted_by_key``
  metric (Message API) are ignored for the model, each client is one row. Training metrics are
  still aggregated by Flower's function (weighted by the number of examples).
- The matrix is float32 when every layer is float32, float64 otherwise; each aggregated layer
  is cast back to its own dtype (integer layers, e.g. BatchNorm's ``num_batches_tracked``, are
  rounded to the nearest integer; FedAvg returns them as float64).
- Every client must send the same layers (shapes and, for the Message API, keys): ValueError
  otherwise. The rule is built once per number of clients m and reused.
- The rule's conditions apply to m, the number of results in the round, e.g. ``trmean`` needs
  b <= ceil(m/2) - 1: a round with too few results raises ValueError (with
  ``accept_failures=True`` the failed clients are simply not rows).

This module imports Flower when it is imported (``import phocas`` does not).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Optional

import numpy as np

from . import Rule

try:
    from flwr.common import (
        FitRes,
        Parameters,
        Scalar,
        ndarrays_to_parameters,
        parameters_to_ndarrays,
    )
    from flwr.server.client_proxy import ClientProxy
    from flwr.server.strategy import FedAvg as _ClassicFedAvg
except ImportError as e:  # pragma: no cover - exercised only without Flower
    raise ImportError(
        "phocas.flower needs Flower: pip install flwr (phocas itself does not)"
    ) from e

try:  # the Message API (Flower >= 1.21)
    from flwr.app import Array, ArrayRecord, Message, MetricRecord
    from flwr.serverapp.strategy import FedAvg as _MessageFedAvg
except ImportError:  # pragma: no cover - older Flower
    _MessageFedAvg = None

__all__ = ["PhocasFedAvg", "PhocasMessageFedAvg", "aggregate_layers"]

#: Keyword arguments that belong to the phocas rule (the rest go to Flower's FedAvg).
RULE_PARAMS = frozenset(
    {
        "b",
        "q",
        "k",
        "nu",
        "iters",
        "tol",
        "start",
        "tau",
        "nnm",
        "bucket",
        "bucket_seed",
        "neighbours",
        "distance",
        "median",
        "threads",
    }
)


def _split_kwargs(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    rule = {k: v for k, v in kwargs.items() if k in RULE_PARAMS}
    rest = {k: v for k, v in kwargs.items() if k not in RULE_PARAMS}
    return rule, rest


def _attach_rule(strategy: Any, rule: str, params: dict[str, Any]) -> None:
    """Sets the strategy's rule name, parameters and per-m rule cache (both strategies)."""
    strategy.rule = rule
    strategy.rule_params = params
    strategy._rules = _RuleCache(rule, params)


class _RuleCache:
    """A phocas rule with fixed parameters, built per number of clients and reused."""

    def __init__(self, rule: str, params: dict[str, Any]) -> None:
        self.rule = rule
        self.params = params
        self._built: dict[int, Rule] = {}
        # check the name and the parameters now, on the first small m they allow
        error: Optional[ValueError] = None
        for m in (3, 5, 7, 11, 20, 50, 101):
            try:
                self.get(m)
                break
            except ValueError as e:
                error = e
            except (OverflowError, TypeError) as e:  # e.g. b=-1 (PyO3: unsigned integer)
                raise ValueError(f"{rule}: invalid parameters {params}: {e}") from e
        else:
            assert error is not None
            raise error

    def get(self, m: int) -> Rule:
        r = self._built.get(m)
        if r is None:
            r = Rule(self.rule, m, **self.params)
            self._built[m] = r
        return r


def aggregate_layers(clients: list[list[np.ndarray]], rule: Rule) -> list[np.ndarray]:
    """Aggregates m clients' layer lists with a phocas rule built for m rows.

    Row i of the (m, D) matrix is client i's layers, flattened in C order and concatenated;
    returns the aggregate split into the first client's layer shapes and dtypes.
    """
    m = len(clients)
    if m == 0:
        raise ValueError("no client to aggregate")
    first = clients[0]
    shapes = [np.shape(a) for a in first]
    dtypes = [np.asarray(a).dtype for a in first]
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes]
    for i, layers in enumerate(clients[1:], start=1):
        if len(layers) != len(first) or any(
            np.shape(a) != s for a, s in zip(layers, shapes)
        ):
            raise ValueError(
                f"client {i} sent layers of shapes {[np.shape(a) for a in layers]}, "
                f"client 0 {shapes}: every client must send the same layers"
            )
    all_f32 = all(dt == np.float32 for dt in dtypes) and all(
        np.asarray(a).dtype == np.float32 for layers in clients for a in layers
    )
    dtype = np.float32 if all_f32 else np.float64
    total = sum(sizes)
    x = np.empty((m, total), dtype=dtype)
    for i, layers in enumerate(clients):
        at = 0
        for a, size in zip(layers, sizes):
            x[i, at : at + size] = np.asarray(a).reshape(-1)
            at += size
    y = rule(x)
    out: list[np.ndarray] = []
    at = 0
    for shape, size, dt in zip(shapes, sizes, dtypes):
        part = y[at : at + size].reshape(shape)
        at += size
        if dt.kind in "biu":
            part = np.rint(part)
        out.append(part.astype(dt, copy=True))
    return out


class PhocasFedAvg(_ClassicFedAvg):
    """Flower's classic FedAvg with the model aggregated by a phocas rule.

    ``PhocasFedAvg(rule="trmean", **kwargs)``: the keywords named in ``RULE_PARAMS`` (b, q, k,
    nu, iters, tol, start, tau, nnm, bucket, bucket_seed, neighbours, distance, median,
    threads) are the rule's (ValueError now if the registry rejects them), every other keyword
    is FedAvg's.
    ``aggregate_fit`` returns ``(Parameters, metrics)`` as FedAvg, with the model the phocas
    aggregate of the clients' flattened parameters, unweighted (``num_examples`` is ignored
    for the model, used only by ``fit_metrics_aggregation_fn``). ``inplace`` has no effect.
    """

    def __init__(self, *, rule: str = "trmean", **kwargs: Any) -> None:
        params, fedavg_kwargs = _split_kwargs(kwargs)
        super().__init__(**fedavg_kwargs)
        _attach_rule(self, rule, params)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.rule_params.items())
        return f"PhocasFedAvg(rule={self.rule!r}{', ' if args else ''}{args})"

    def aggregate_fit(
        self,
        server_round: int,
        results: list[tuple[ClientProxy, FitRes]],
        failures: list[tuple[ClientProxy, FitRes] | BaseException],
    ) -> tuple[Optional[Parameters], dict[str, Scalar]]:
        """The phocas aggregate of the results' parameters, and FedAvg's metrics."""
        if not results:
            return None, {}
        if not self.accept_failures and failures:
            return None, {}
        clients = [parameters_to_ndarrays(fit_res.parameters) for _, fit_res in results]
        layers = aggregate_layers(clients, self._rules.get(len(clients)))
        metrics: dict[str, Scalar] = {}
        if self.fit_metrics_aggregation_fn:
            fit_metrics = [(res.num_examples, res.metrics) for _, res in results]
            metrics = self.fit_metrics_aggregation_fn(fit_metrics)
        return ndarrays_to_parameters(layers), metrics


if _MessageFedAvg is not None:

    class PhocasMessageFedAvg(_MessageFedAvg):  # type: ignore[misc, valid-type]
        """Flower's Message-API FedAvg (``flwr.serverapp.strategy``) with a phocas rule.

        ``PhocasMessageFedAvg(rule="trmean", **kwargs)``: rule keywords as ``PhocasFedAvg``,
        the others are FedAvg's (fraction_train, min_train_nodes, weighted_by_key, ...).
        ``aggregate_train`` returns ``(ArrayRecord, MetricRecord)``: each array of the
        replies' ArrayRecord, in the first reply's key order, flattened into the client's row;
        the aggregate split back into arrays under the same keys. The ``weighted_by_key``
        metric weights only the metrics (``train_metrics_aggr_fn``), not the model.
        """

        def __init__(self, *, rule: str = "trmean", **kwargs: Any) -> None:
            params, fedavg_kwargs = _split_kwargs(kwargs)
            super().__init__(**fedavg_kwargs)
            _attach_rule(self, rule, params)

        def aggregate_train(
            self,
            server_round: int,
            replies: Iterable[Message],
        ) -> tuple[Optional[ArrayRecord], Optional[MetricRecord]]:
            """The phocas aggregate of the replies' arrays, and FedAvg's metrics."""
            valid, _ = self._check_and_log_replies(list(replies), is_train=True)
            if not valid:
                return None, None
            contents = [msg.content for msg in valid]
            record_key = next(iter(contents[0].array_records.keys()))
            keys = list(contents[0][record_key].keys())
            clients = [
                [content[record_key][key].numpy() for key in keys] for content in contents
            ]
            layers = aggregate_layers(clients, self._rules.get(len(clients)))
            arrays = ArrayRecord({k: Array(np.asarray(a)) for k, a in zip(keys, layers)})
            metrics = self.train_metrics_aggr_fn(contents, self.weighted_by_key)
            return arrays, metrics

else:  # pragma: no cover - older Flower

    class PhocasMessageFedAvg:  # type: ignore[no-redef]
        """Unavailable: this Flower has no Message API (flwr.serverapp.strategy)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            raise ImportError(
                "PhocasMessageFedAvg needs Flower >= 1.21 (flwr.serverapp.strategy): "
                "pip install -U flwr, or use PhocasFedAvg"
            )
