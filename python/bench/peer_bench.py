#!/usr/bin/env python3
"""Time peer robust-aggregation libraries on an m x d float32 Gaussian matrix.

Default: m = 20 workers, d = 10^6, seed 0, f = 4 Byzantine assumed.
Prints CSV to stdout:
    library,version,rule,call,params,median_seconds,calls,note
(`note` is an extra trailing column: error text for a failed rule; otherwise the
fastest timed call, the output shape, and Weiszfeld iteration settings/counts.)
Everything else (environment info, progress) goes to stderr.

Libraries (each is optional; a missing one is reported on stderr and skipped):
  phocas          this workbench's Python package (pip install ./python): a reused
                  phocas.Rule with an output buffer, and the phocas.byzfl drop-in
  byzfl[numpy]    byzfl.aggregators / preaggregators fed a numpy (m, d) array
  byzfl[torch]    same classes fed a torch (m, d) tensor (byzfl's torch path)
  flwr.legacy     flwr.server.strategy.aggregate.* (list[(NDArrays, n_examples)])
  flwr.serverapp  flwr.serverapp.strategy.<Strategy>.aggregate_train on reply
                  Messages (Flower's current Message API)
  krum            PyPI `krum` (needs Python >= 3.12); if it is not importable
                  here, its worker runs under --krum-python
                  (default: the python running this script; krum needs Python >= 3.12).
Each library is timed in its own fresh worker process (same seed -> same X).

Usage:
  python python/bench/peer_bench.py                 # full, d=1e6
  python python/bench/peer_bench.py --d 100000
  ... --rules krum,multikrum --libs byzfl[torch],krum
  ... --rules all          # core rules + extras (monna, caf, arc, aksel, medoid, nna, mean_inplace)
"""

import os

# Thread caps must be set before numpy / torch are imported.
for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
           "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ[_v] = "2"

import argparse
import csv
import gc
import importlib.metadata as md
import importlib.util
import logging
import statistics
import subprocess
import sys
import time
import traceback

import numpy as np

M = 20
F = 4
CORE_RULES = ["mean", "median", "trimmed_mean", "krum", "multikrum", "geomed",
              "bulyan", "cc", "meamed", "nnm", "bucketing"]
EXTRA_RULES = ["mean_inplace", "monna", "caf", "arc", "aksel", "medoid", "nna"]
ALL_LIBS = ["phocas", "byzfl[numpy]", "byzfl[torch]", "flwr.legacy", "flwr.serverapp", "krum"]
HEADER = ["library", "version", "rule", "call", "params", "median_seconds", "calls", "note"]


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def ver(pkg):
    try:
        return md.version(pkg)
    except md.PackageNotFoundError:
        return "?"


class Case:
    """One (library, rule) timing case.

    setup() -> args is run before every call and is NOT timed (used for fresh
    inputs where a library mutates or consumes them). fn(args) is timed.
    """

    def __init__(self, rule, call, params, fn, setup=None, note_fn=None, warm_hook=None):
        self.rule, self.call, self.params = rule, call, params
        self.fn = fn
        self.setup = setup or (lambda: None)
        self.note_fn = note_fn          # result -> str
        self.warm_hook = warm_hook      # context-manager factory used around warm-up only


def shape_of(r):
    try:
        if isinstance(r, (list, tuple)):
            if r and hasattr(r[0], "shape"):
                return "list[%d]x%s" % (len(r), tuple(r[0].shape))
            if len(r) == 2 and hasattr(r[0], "to_numpy_ndarrays"):   # (ArrayRecord, MetricRecord)
                arrs = r[0].to_numpy_ndarrays()
                return "ArrayRecord%s" % ([tuple(a.shape) for a in arrs],)
        if hasattr(r, "shape"):
            return "out=%s" % (tuple(r.shape),)
    except Exception:
        pass
    return ""


# --------------------------------------------------------------------------------------
# byzfl
# --------------------------------------------------------------------------------------
def byzfl_cases(X, backend):
    import byzfl
    from byzfl.aggregators import aggregators as A
    from byzfl.aggregators import preaggregators as P
    import torch

    data = X if backend == "numpy" else torch.from_numpy(X)
    copy = (lambda: data.copy()) if backend == "numpy" else (lambda: data.clone())
    arg = "X" if backend == "numpy" else "T"
    cp = "X.copy()" if backend == "numpy" else "T.clone()"

    def mk(rule, call, params, obj_factory, setup=None, note=None):
        # obj_factory builds the aggregator (cheap); built inside the timed call so that
        # stateful aggregators (CenteredClipping keeps m) start fresh every call.
        if setup is None:
            fn = lambda _a: obj_factory()(data)
        else:
            fn = lambda a: obj_factory()(a)
        return Case(rule, call, params, fn, setup=setup, note_fn=note)

    cases = [
        mk("mean", f"byzfl.Average()({arg})", "", lambda: A.Average()),
        mk("median", f"byzfl.Median()({arg})", "", lambda: A.Median()),
        mk("trimmed_mean", f"byzfl.TrMean(f=4)({arg})", "f=4", lambda: A.TrMean(f=F)),
        mk("krum", f"byzfl.Krum(f=4)({arg})", "f=4 (score = mean of n-f-1 smallest sq. dists)",
           lambda: A.Krum(f=F)),
        mk("multikrum", f"byzfl.MultiKrum(f=4)({arg})", "f=4; averages n-f=16",
           lambda: A.MultiKrum(f=F)),
        mk("geomed", f"byzfl.GeometricMedian()({arg})", "defaults nu=0.1 T=3",
           lambda: A.GeometricMedian(),
           note=lambda r: "Weiszfeld: fixed T=3 iterations, nu=0.1, init z=0, no tol; " + shape_of(r)),
        mk("cc", f"byzfl.CenteredClipping(L=1)({arg})", "L=1 tau=100.0 (default) m=None->0",
           lambda: A.CenteredClipping(L=1),
           note=lambda r: "fresh instance per call (m starts at 0); " + shape_of(r)),
        mk("meamed", f"byzfl.Meamed(f=4)({arg})", "f=4", lambda: A.Meamed(f=F)),
        mk("nnm", f"byzfl.NNM(f=4)({arg})", "f=4; pre-aggregation, returns (n,d)",
           lambda: P.NNM(f=F)),
        mk("bucketing", f"byzfl.Bucketing(s=2)({arg})", "s=2; pre-aggregation, returns (n/s,d)",
           lambda: P.Bucketing(s=2)),
        # extras
        mk("monna", f"byzfl.MoNNA(f=4, idx=0)({arg})", "f=4 idx=0; averages n-f nearest to row 0",
           lambda: A.MoNNA(f=F, idx=0)),
        mk("caf", f"byzfl.CAF(f=4)({arg})", "f=4", lambda: A.CAF(f=F)),
        mk("arc", f"byzfl.ARC(f=4)({cp})", "f=4; pre-aggregation, mutates input (copied untimed)",
           lambda: P.ARC(f=F), setup=copy),
    ]
    return ver("byzfl"), cases


# --------------------------------------------------------------------------------------
# Flower, legacy strategy-level functions (flwr.server.strategy.aggregate)
# --------------------------------------------------------------------------------------
def flwr_legacy_cases(X):
    import warnings
    warnings.filterwarnings("ignore")
    from flwr.server.strategy import aggregate as AG
    from flwr.common import FitRes, Status, Code, ndarrays_to_parameters

    # One single-layer "model" per worker, num_examples = 1 (unweighted).
    results = [([X[i]], 1) for i in range(X.shape[0])]
    res = lambda: list(results)  # fresh list (aggregate_bulyan pops from it)

    def fitres_setup():
        return [(None, FitRes(status=Status(code=Code.OK, message=""),
                              parameters=ndarrays_to_parameters([X[i]]),
                              num_examples=1, metrics={}))
                for i in range(X.shape[0])]

    cases = [
        Case("mean", "aggregate(results)", "num_examples=1 each", lambda a: AG.aggregate(a), setup=res),
        Case("mean_inplace", "aggregate_inplace(fit_results)",
             "num_examples=1; includes bytes->ndarray deserialization",
             lambda a: AG.aggregate_inplace(a), setup=fitres_setup),
        Case("median", "aggregate_median(results)", "", lambda a: AG.aggregate_median(a), setup=res),
        Case("trimmed_mean", "aggregate_trimmed_avg(results, proportiontocut=0.2)",
             "proportiontocut=0.2 -> trims int(0.2*20)=4 each side",
             lambda a: AG.aggregate_trimmed_avg(a, proportiontocut=0.2), setup=res),
        Case("krum", "aggregate_krum(results, num_malicious=4, to_keep=0)",
             "f=4 (score = sum of n-f-2 smallest sq. dists)",
             lambda a: AG.aggregate_krum(a, num_malicious=F, to_keep=0), setup=res),
        Case("multikrum", "aggregate_krum(results, num_malicious=4, to_keep=16)",
             "f=4; averages to_keep=n-f=16",
             lambda a: AG.aggregate_krum(a, num_malicious=F, to_keep=M - F), setup=res),
        Case("bulyan", "aggregate_bulyan(results, num_malicious=4, aggregation_rule=aggregate_krum, to_keep=0)",
             "f=4; theta=n-2f=12 Krum selections, beta=theta-2f=4",
             lambda a: AG.aggregate_bulyan(a, num_malicious=F, aggregation_rule=AG.aggregate_krum, to_keep=0),
             setup=res),
    ]
    return ver("flwr"), cases


# --------------------------------------------------------------------------------------
# Flower, current Message API strategies (flwr.serverapp.strategy)
# --------------------------------------------------------------------------------------
def flwr_serverapp_cases(X):
    from flwr.app import ArrayRecord, RecordDict, Message, MetricRecord
    from flwr.supercore.task_identity import TaskIdentity
    import flwr.serverapp.strategy as S
    logging.getLogger("flwr").setLevel(logging.WARNING)  # silence per-call INFO lines

    # Messages need a run/node/task identity; fake one (no SuperLink involved).
    TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = 1, 0, 1

    def replies():
        out = []
        for i in range(X.shape[0]):
            q = Message(RecordDict({"config": MetricRecord()}), dst_node_id=i + 1, message_type="train")
            rd = RecordDict({"arrays": ArrayRecord([X[i]]),
                             "metrics": MetricRecord({"num-examples": 1})})
            out.append(Message(rd, reply_to=q))
        return out

    def case(rule, strat_name, kwargs, params):
        strat = getattr(S, strat_name)(**kwargs)
        kw = ", ".join(f"{k}={v}" for k, v in kwargs.items())
        return Case(rule, f"{strat_name}({kw}).aggregate_train(1, replies)", params,
                    lambda a: strat.aggregate_train(1, a), setup=replies, note_fn=shape_of)

    cases = [
        case("mean", "FedAvg", {}, "weighted by num-examples=1; includes Array bytes->ndarray"),
        case("median", "FedMedian", {}, "includes Array bytes->ndarray"),
        case("trimmed_mean", "FedTrimmedAvg", {"beta": 0.2}, "beta=0.2 -> trims 4 each side"),
        case("krum", "Krum", {"num_malicious_nodes": F}, "f=4 (score = sum of n-f-2 smallest sq. dists)"),
        case("multikrum", "MultiKrum", {"num_malicious_nodes": F, "num_nodes_to_select": M - F},
             "f=4; averages n-f=16"),
        case("bulyan", "Bulyan", {"num_malicious_nodes": F},
             "f=4; one Multi-Krum selection of theta=n-2f=12, median, beta=theta-2f=4 closest"),
    ]
    return ver("flwr"), cases


# --------------------------------------------------------------------------------------
# krum (PyPI `krum`, torch only, Python >= 3.12)
# --------------------------------------------------------------------------------------
class _CountVectorNorm:
    """Counts vector_norm calls inside krum's GeometricMedian (2 per Weiszfeld iteration)."""

    def __enter__(self):
        import krum.primitives.aggregators.geometric_median as gm
        self.gm, self.orig, self.count = gm, gm.vector_norm, 0

        def wrapped(*a, **k):
            self.count += 1
            return self.orig(*a, **k)
        gm.vector_norm = wrapped
        return self

    def __exit__(self, *exc):
        self.gm.vector_norm = self.orig
        _KRUM_GM_ITERS[0] = self.count // 2
        return False


_KRUM_GM_ITERS = [None]


def krum_cases(X):
    import torch
    from krum.primitives.aggregators.average import Average
    from krum.primitives.aggregators.median import Median
    from krum.primitives.aggregators.trimmed_mean import TrimmedMean
    from krum.primitives.aggregators.krum import Krum
    from krum.primitives.aggregators.multikrum import MultiKrum
    from krum.primitives.aggregators.geometric_median import GeometricMedian
    from krum.primitives.aggregators.bulyan import Bulyan
    from krum.primitives.aggregators.aksel import Aksel
    from krum.primitives.aggregators.medoid import Medoid
    from krum.primitives.aggregators.nearest_neighbor_average import NearestNeighborAverage

    T = torch.from_numpy(X)
    n = T.shape[0]

    def gm_note(_r):
        it = _KRUM_GM_ITERS[0]
        return (f"Weiszfeld: init mean, nu=0.1, tol=1e-6, max_iter=100; "
                f"iterations used on this data = {it}")

    cases = [
        Case("mean", "Average.aggregate(T)", "", lambda _a: Average.aggregate(T)),
        Case("median", "Median.aggregate(T)", "torch.quantile(q=0.5)", lambda _a: Median.aggregate(T)),
        Case("trimmed_mean", "TrimmedMean.aggregate(T, f=4)", "f=4",
             lambda _a: TrimmedMean.aggregate(T, f=F)),
        Case("krum", "Krum.aggregate(T, n=20, f=4)", "f=4 (score = sum of n-f-2 smallest sq. dists)",
             lambda _a: Krum.aggregate(T, n=n, f=F)),
        Case("multikrum", "MultiKrum.aggregate(T, n=20, f=4, m=16)", "f=4; m=n-f=16 averaged",
             lambda _a: MultiKrum.aggregate(T, n=n, f=F, m=M - F)),
        Case("geomed", "GeometricMedian.aggregate(T, n=20, f=4)", "defaults nu=0.1 tol=1e-6 max_iter=100",
             lambda _a: GeometricMedian.aggregate(T, n=n, f=F), note_fn=gm_note,
             warm_hook=_CountVectorNorm),
        Case("bulyan", "Bulyan.aggregate(T, n=20, f=4)",
             "f=4; m default n-f=16; theta=n-2f-2=10 Multi-Krum rounds, then TrimmedMean(f=4)",
             lambda _a: Bulyan.aggregate(T, n=n, f=F)),
        # extras
        Case("aksel", "Aksel.aggregate(T, f=4)", "f=4; n-f nearest to coord. median",
             lambda _a: Aksel.aggregate(T, f=F)),
        Case("medoid", "Medoid.aggregate(T, n=20, f=4)", "", lambda _a: Medoid.aggregate(T, n=n, f=F)),
        Case("nna", "NearestNeighborAverage.aggregate(T, num_closest=16, pivot=T[0])",
             "num_closest=n-f=16 pivot=row 0 (MoNNA-style)",
             lambda _a: NearestNeighborAverage.aggregate(T, num_closest=M - F, pivot=T[0])),
    ]
    return ver("krum"), cases


# --------------------------------------------------------------------------------------
# phocas from Python (python/: `pip install ./python`), through a reused rule object with an
# output buffer, and through its ByzFL drop-in (phocas.byzfl) as a ByzFL script would call it
# --------------------------------------------------------------------------------------
def phocas_cases(X):
    import phocas
    from phocas import byzfl as PB

    y = np.empty(X.shape[1], dtype=X.dtype)

    def rule(name, call, params, **kw):
        r = phocas.Rule(name, X.shape[0], **kw)
        return Case(name_map[name], call, params, lambda _a: r(X, out=y))

    name_map = {"mean": "mean", "median": "median", "trmean": "trimmed_mean", "krum": "krum",
                "multikrum": "multikrum", "geomed": "geomed", "bulyan": "bulyan", "cclip": "cc",
                "meamed": "meamed"}
    cases = [
        rule("mean", "phocas.Rule('mean', m)(X, out=y)", ""),
        rule("median", "phocas.Rule('median', m)(X, out=y)", ""),
        rule("trmean", "phocas.Rule('trmean', m, b=4)(X, out=y)", "b=4", b=F),
        rule("krum", "phocas.Rule('krum', m, q=4)(X, out=y)", "q=4 (m-q-2 neighbours)", q=F),
        rule("multikrum", "phocas.Rule('multikrum', m, q=4)(X, out=y)", "q=4, k=m-q", q=F),
        rule("geomed", "phocas.Rule('geomed', m, start='zero', nu=0.1, iters=3, tol=0)(X, out=y)",
             "ByzFL's settings: zero start, nu=0.1, T=3", start="zero", nu=0.1, iters=3, tol=0.0),
        rule("bulyan", "phocas.Rule('bulyan', m, q=4)(X, out=y)", "q=4", q=F),
        rule("cclip", "phocas.Rule('cclip', m)(X, out=y)", "tau=100, L=1, zero start"),
        rule("meamed", "phocas.Rule('meamed', m, b=4)(X, out=y)", "b=4", b=F),
        Case("nnm", "phocas.Rule('mean', m, nnm=4)(X, out=y)", "NNM(f=4) then mean",
             (lambda r: lambda _a: r(X, out=y))(phocas.Rule("mean", X.shape[0], nnm=F))),
        Case("bucketing", "phocas.Rule('mean', m, bucket=2)(X, out=y)", "s=2 then mean",
             (lambda r: lambda _a: r(X, out=y))(phocas.Rule("mean", X.shape[0], bucket=2))),
    ]
    # the ByzFL drop-in, called exactly as ByzFL is (allocates its output)
    cases += [
        Case("trimmed_mean", "phocas.byzfl.TrMean(f=4)(X)", "drop-in",
             (lambda a: lambda _a: a(X))(PB.TrMean(f=F))),
        Case("krum", "phocas.byzfl.Krum(f=4)(X)", "drop-in (n-f-1 neighbours)",
             (lambda a: lambda _a: a(X))(PB.Krum(f=F))),
    ]
    return ver("phocas"), cases


# --------------------------------------------------------------------------------------
def time_case(case, min_calls, max_seconds_per_call=2.0):
    """Warm-up once, then median of >= min_calls timed calls (3 if a call takes > 2 s).

    Like timeit, automatic garbage collection is disabled during the timed calls
    (one gc.collect() before the warm-up); explicit gc.collect() calls made by a
    library itself (Flower does) still run and are timed.
    """
    args = case.setup()
    gc.collect()
    hook = case.warm_hook() if case.warm_hook else None
    t0 = time.perf_counter()
    if hook:
        with hook:
            r = case.fn(args)
    else:
        r = case.fn(args)
    warm = time.perf_counter() - t0
    note = case.note_fn(r) if case.note_fn else shape_of(r)
    del r, args
    n_calls = 3 if warm > max_seconds_per_call else min_calls
    times = []
    gc.disable()
    try:
        for _ in range(n_calls):
            args = case.setup()
            t0 = time.perf_counter()
            r = case.fn(args)
            times.append(time.perf_counter() - t0)
            del r, args
            if len(times) >= 3 and statistics.median(times) > max_seconds_per_call:
                break
    finally:
        gc.enable()
    note = f"min={min(times):.6f}; " + note
    return statistics.median(times), len(times), note


def run_worker(lib, a, rules):
    """Benchmark one library in this process and write its CSV rows (no header)."""
    out = csv.writer(sys.stdout, lineterminator="\n")
    t0 = time.perf_counter()
    X = np.random.default_rng(a.seed).standard_normal((M, a.d), dtype=np.float32)
    log(f"# [{lib}] python {sys.version.split()[0]} numpy {np.__version__}; generated X {X.shape} "
        f"{X.dtype} in {time.perf_counter() - t0:.2f}s, checksum sum(X[:, :1000])="
        f"{float(X[:, :1000].astype(np.float64).sum()):.6f}")
    builders = {
        "byzfl[numpy]": lambda: byzfl_cases(X, "numpy"),
        "byzfl[torch]": lambda: byzfl_cases(X, "torch"),
        "flwr.legacy": lambda: flwr_legacy_cases(X),
        "flwr.serverapp": lambda: flwr_serverapp_cases(X),
        "krum": lambda: krum_cases(X),
        "phocas": lambda: phocas_cases(X),
    }
    try:
        version, cases = builders[lib]()
    except ImportError as e:
        log(f"# [{lib}] skipped, not importable: {e}")
        out.writerow([lib, "", "*", "", "", "ERROR", 0, f"not importable: {e}"])
        return
    except Exception as e:
        out.writerow([lib, "?", "*", "", "", "ERROR", 0, f"setup failed: {e!r}"])
        return
    if "torch" in sys.modules:
        import torch
        torch.set_num_threads(2)
        log(f"# [{lib}] torch {torch.__version__} loaded, num_threads={torch.get_num_threads()}")
    else:
        log(f"# [{lib}] torch not loaded in this process")
    for rule in rules:
        for c in [c for c in cases if c.rule == rule]:
            log(f"# [{lib}] {rule} ...")
            try:
                med, n, note = time_case(c, a.calls)
                out.writerow([lib, version, rule, c.call, c.params, f"{med:.6f}", n, note])
            except Exception as e:
                msg = f"{type(e).__name__}: {e}".replace("\n", " ")[:300]
                log(traceback.format_exc())
                out.writerow([lib, version, rule, c.call, c.params, "ERROR", 0, msg])
            sys.stdout.flush()
            gc.collect()


def main():
    global M
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--d", type=int, default=1_000_000, help="dimension (default 1e6)")
    ap.add_argument("--m", type=int, default=M, help="workers (default 20; f stays 4)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rules", default="core",
                    help="comma list, or 'core' (default), 'all'. core=" + ",".join(CORE_RULES)
                         + "; extras=" + ",".join(EXTRA_RULES))
    ap.add_argument("--libs", default=",".join(ALL_LIBS), help="comma list from " + ",".join(ALL_LIBS))
    ap.add_argument("--calls", type=int, default=5, help="timed calls per rule (default 5; 3 if a call > 2 s)")
    ap.add_argument("--krum-python", default=sys.executable,
                    help="interpreter with `krum` installed (used if krum is not importable here)")
    ap.add_argument("--no-header", action="store_true")
    ap.add_argument("--worker", help=argparse.SUPPRESS)  # internal: run one library in-process
    a = ap.parse_args()

    M = a.m
    if a.rules == "core":
        rules = CORE_RULES
    elif a.rules == "all":
        rules = CORE_RULES + EXTRA_RULES
    else:
        rules = [r.strip() for r in a.rules.split(",") if r.strip()]

    if a.worker:
        run_worker(a.worker, a, rules)
        return

    libs = [l.strip() for l in a.libs.split(",") if l.strip()]
    log(f"# m={M} d={a.d} f={F} seed={a.seed} calls={a.calls} rules={','.join(rules)}")
    if not a.no_header:
        csv.writer(sys.stdout, lineterminator="\n").writerow(HEADER)
    sys.stdout.flush()
    # Each library runs in its own fresh process: independent heaps (Flower forces
    # gc.collect(), whose cost depends on live objects), memory released in between,
    # and a crash in one library cannot take the others down.
    for lib in libs:
        if lib not in ALL_LIBS:
            log(f"# unknown library {lib!r}; choose from {ALL_LIBS}")
            continue
        py = sys.executable
        if lib == "krum" and importlib.util.find_spec("krum") is None and os.path.exists(a.krum_python):
            py = a.krum_python
        cmd = [py, os.path.abspath(__file__), "--worker", lib, "--d", str(a.d), "--m", str(M),
               "--seed", str(a.seed), "--rules", ",".join(rules), "--calls", str(a.calls)]
        t0 = time.perf_counter()
        rc = subprocess.call(cmd)
        log(f"# [{lib}] done in {time.perf_counter() - t0:.1f}s (exit {rc}, interpreter {py})")
        if rc != 0:
            csv.writer(sys.stdout, lineterminator="\n").writerow(
                [lib, "", "*", "", "", "ERROR", 0, f"worker process exited with code {rc}"])
            sys.stdout.flush()


if __name__ == "__main__":
    main()
