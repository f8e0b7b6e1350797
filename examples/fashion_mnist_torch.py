"""A PyTorch training loop with simulated Byzantine workers, aggregated and attacked by phocas.

The section-5 set-up of the Phocas paper at a reduced scale: the Table 2 MLP (784-128-128-10,
ReLU) trained by synchronous SGD with m = 20 workers, each computing the gradient of its own
mini-batch; every round, `phocas.corrupt` replaces q values per coordinate (the generalized model, Definition 4)
with an attack, and a phocas rule aggregates the 20 gradients into the step. The same seed
gives the same Byzantine values on every run (the stream is (seed, "round", t)).

    pip install ./python torch          # phocas and PyTorch (CPU)
    python examples/fashion_mnist_torch.py                          # Mean, Trmean, Phocas
    python examples/fashion_mnist_torch.py --attack bit-flip --rules mean median phocas
    python examples/fashion_mnist_torch.py --data-dir /path/to/mnist   # any MNIST-format folder

Data: the four MNIST-format files (gzipped or raw) of --data-dir; the default is Fashion-MNIST
as Debian's `dataset-fashion-mnist` installs it. Runs in well under a minute on two CPU cores
at the defaults (300 rounds, batch 32 per worker, three rules).
"""

from __future__ import annotations

import argparse
import gzip
import sys
import time
from pathlib import Path

import numpy as np

try:
    import torch
except ImportError:
    sys.exit("this example needs PyTorch: pip install torch")

import phocas

DEFAULT_DATA = "/usr/share/datasets/fashion-mnist"


def read_idx(folder: Path, name: str) -> np.ndarray:
    """One IDX file (raw, or gzipped with a .gz suffix) as a uint8 array."""
    for path in (folder / name, folder / f"{name}.gz"):
        if path.is_file():
            raw = path.read_bytes()
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            ndim = raw[3]
            shape = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
            return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)
    sys.exit(
        f"{folder}: no {name}[.gz]: pass --data-dir with the four MNIST-format files "
        "(Debian: apt-get install dataset-fashion-mnist)"
    )


def load(folder: Path):
    x = read_idx(folder, "train-images-idx3-ubyte").reshape(-1, 784).astype(np.float32) / 255
    y = read_idx(folder, "train-labels-idx1-ubyte").astype(np.int64)
    tx = read_idx(folder, "t10k-images-idx3-ubyte").reshape(-1, 784).astype(np.float32) / 255
    ty = read_idx(folder, "t10k-labels-idx1-ubyte").astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y), torch.from_numpy(tx), torch.from_numpy(ty)


def train(rule: phocas.Rule, data, args) -> list[tuple[int, float]]:
    x, y, tx, ty = data
    torch.manual_seed(args.seed)
    model = torch.nn.Sequential(  # Table 2 of the paper
        torch.nn.Linear(784, 128), torch.nn.ReLU(),
        torch.nn.Linear(128, 128), torch.nn.ReLU(),
        torch.nn.Linear(128, 10),
    )
    params = list(model.parameters())
    d = sum(p.numel() for p in params)
    grads = np.empty((args.workers, d), dtype=np.float32)  # one row per worker
    step = np.empty(d, dtype=np.float32)
    batches = np.random.default_rng(args.seed)
    loss_fn = torch.nn.CrossEntropyLoss()
    curve = []
    for t in range(args.rounds):
        for i in range(args.workers):
            idx = torch.from_numpy(batches.integers(0, len(x), args.batch))
            model.zero_grad(set_to_none=False)
            loss_fn(model(x[idx]), y[idx]).backward()
            torch.cat([p.grad.reshape(-1) for p in params], out=torch.from_numpy(grads[i]))
        if args.q > 0 and args.attack != "none":
            phocas.corrupt(grads, args.attack, args.q, "generalized", seed=args.seed,
                           key="round", index=t, inplace=True)
        rule(grads, out=step)  # the aggregate, written into a reused buffer
        with torch.no_grad():
            offset = 0
            for p in params:
                n = p.numel()
                p -= args.lr * torch.from_numpy(step[offset : offset + n]).view_as(p)
                offset += n
        if (t + 1) % args.eval_every == 0 or t + 1 == args.rounds:
            with torch.no_grad():
                acc = (model(tx).argmax(1) == ty).float().mean().item()
            curve.append((t + 1, acc if np.isfinite(step).all() else float("nan")))
    return curve


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-dir", type=Path, default=Path(DEFAULT_DATA))
    ap.add_argument("--rules", nargs="+", default=["mean", "trmean", "phocas"],
                    help="phocas rules (see phocas.rules()); trmean/phocas/meamed get b = q, "
                         "krum/multikrum/bulyan q")
    ap.add_argument("--attack", default="gaussian",
                    help="phocas attack (see phocas.attacks()): gaussian, omniscient, "
                         "bit-flip, gambler, ...")
    ap.add_argument("--q", type=int, default=4, help="Byzantine values per coordinate")
    ap.add_argument("--workers", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    data = load(args.data_dir)
    print(f"{args.workers} workers, attack {args.attack} on q = {args.q} values per coordinate "
          f"(generalized model), {args.rounds} rounds, batch {args.batch}, lr {args.lr}")
    for name in args.rules:
        info = next((r for r in phocas.rules() if r["name"] == name), None)
        if info is None:
            sys.exit(f"unknown rule {name!r}: known rules are "
                     + ", ".join(r["name"] for r in phocas.rules()))
        params = {info["flag"]: args.q} if info["flag"] else {}  # b = q, or Krum's q
        rule = phocas.Rule(name, args.workers, **params)
        t0 = time.perf_counter()
        curve = train(rule, data, args)
        secs = time.perf_counter() - t0
        acc = " ".join(f"{t}:{a:.3f}" for t, a in curve)
        print(f"{rule.label:<16} test accuracy by round  {acc}   ({secs:.1f} s)")


if __name__ == "__main__":
    main()
