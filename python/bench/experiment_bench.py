"""Whole experiments side by side: one section-5 run in phocas, in ByzFL's benchmark runner and in
a hand-written PyTorch loop, with the same network, data, attack and rule.

The configuration (the defaults below): Fashion-MNIST, m = 20 workers of which 6 are Byzantine
(classic model: whole rows), the Gaussian attack (N(0, 200^2) values), Trmean with b = 6, batch
32 per worker, step 0.1, plain SGD (no momentum, no weight decay), 500 rounds, test accuracy on
the 10,000 test images every 10 rounds. The network is the paper's MLP (784-128-128-10, ReLU,
softmax cross-entropy): phocas trains it natively, the PyTorch loop builds it, and ByzFL gets it
as one more model class (its own `fc_mnist` is 784-100-10; `--byzfl-model fc_mnist` runs that
one instead, on the ByzFL side only). ByzFL's Fashion-MNIST pipeline flips every training and
test image horizontally at random; by default the script gives it the plain images, as the
other two sides read them (`--byzfl-hflip` keeps ByzFL's transform). Two differences remain, as
ByzFL's runner has them: its Gaussian attack draws one vector and sends it as every Byzantine
worker's (`ByzantineClient.apply_attack` repeats it f times), where phocas and the loop draw
every Byzantine value independently; and its "iid" split deals the training set into fixed,
disjoint shards, one per honest worker, each walked in batches without replacement, where
phocas and the loop draw every batch with replacement from the whole training set.

Each side runs `--repeats` times, alternating (ByzFL, PyTorch, phocas, ByzFL, ...) so a drift
of the machine's load touches all of them; every side gets `--threads` threads. Reported per
run: wall time of the whole run (each run is a fresh process: start to exit, imports and data
loading included), the training time each side reports (ByzFL's `train_time_*.txt`, phocas's
per-repeat time, the loop's own: the rounds and evaluations only), and the final test accuracy.

Usage (the peer environment of `peer_bench.py`, with byzfl and torch installed; phocas built
with `cargo build --release`):

    python python/bench/experiment_bench.py --phocas target/release/phocas \
        --data-dir /usr/share/datasets/fashion-mnist --repeats 3 --out experiment_bench.csv

ByzFL reads Fashion-MNIST through torchvision, which would download it: the script writes the
four files, unpacked, where torchvision looks (a temporary folder), so nothing is downloaded.
Neither ByzFL nor torch is a dependency of phocas; this script is run by hand.
"""

import argparse
import csv
import gzip
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

# phocas train's default master seed; run r of the script uses PHOCAS_SEED + --seed + r
PHOCAS_SEED = 20180523

FILES = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
]


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--phocas", default="target/release/phocas", help="the phocas binary")
    p.add_argument("--data-dir", default="/usr/share/datasets/fashion-mnist",
                   help="folder with the four MNIST-format files (.gz or unpacked)")
    p.add_argument("--sides", default="byzfl,torch,phocas",
                   help="comma-separated: byzfl, torch, phocas")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--rounds", type=int, default=500)
    p.add_argument("--workers", type=int, default=20)
    p.add_argument("--byzantine", type=int, default=6)
    p.add_argument("--b", type=int, default=6, help="Trmean's b")
    p.add_argument("--sigma", type=float, default=200.0, help="the Gaussian attack's sigma")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--eval-every", type=int, default=10)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--byzfl-model", default="phocas_mlp", choices=["phocas_mlp", "fc_mnist"],
                   help="the network on the ByzFL side (phocas_mlp: the paper's MLP, as the others)")
    p.add_argument("--byzfl-hflip", action="store_true",
                   help="keep ByzFL's own Fashion-MNIST transform (a random horizontal flip of "
                        "every training and test image); default: the images as phocas and the "
                        "loop read them (ToTensor: bytes / 255)")
    p.add_argument("--out", default=None, help="CSV of every run (default: print only)")
    p.add_argument("--child", nargs=3, metavar=("SIDE", "REPEAT", "TMP"), help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    sides = [s.strip() for s in a.sides.split(",") if s.strip()]
    bad = [s for s in sides if s not in ("byzfl", "torch", "phocas")]
    if bad:
        p.error(f"--sides: unknown side {bad[0]!r}: choose among byzfl, torch, phocas")
    if a.repeats < 1 or a.rounds < 1 or a.eval_every < 1 or a.threads < 1:
        p.error("--repeats, --rounds, --eval-every and --threads must be at least 1")
    if not 0 <= a.byzantine < a.workers or not 0 <= 2 * a.b < a.workers:
        p.error("need 0 <= --byzantine < --workers and 0 <= 2 --b < --workers")
    if not sides:
        p.error("--sides: name at least one of byzfl, torch, phocas")
    if "phocas" in sides and a.sigma != 200.0:
        p.error("--sigma: phocas train's Gaussian attack has sigma = 200 (section 5); drop "
                "--sigma or leave phocas out (--sides byzfl,torch)")
    if "byzfl" in sides and a.b < a.byzantine:
        p.error("--b below --byzantine: ByzFL's runner skips a configuration whose declared f "
                "(TrMean's f = --b) is below the real number of Byzantine workers")
    a.sides = sides
    a.argv = list(sys.argv[1:] if argv is None else argv)
    return a


def read_idx(path):
    """An MNIST-format file (.gz or not) as a NumPy array."""
    import numpy as np

    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(data_dir, name):
    for cand in (name, name + ".gz"):
        p = os.path.join(data_dir, cand)
        if os.path.exists(p):
            return p
    sys.exit(f"experiment_bench: {name}(.gz) is not in {data_dir}: pass --data-dir with the "
             "four MNIST-format files (Debian: apt-get install dataset-fashion-mnist)")


def torchvision_root(data_dir, tmp):
    """A folder where torchvision's FashionMNIST finds the unpacked files (no download)."""
    raw = os.path.join(tmp, "FashionMNIST", "raw")
    os.makedirs(raw, exist_ok=True)
    for name in FILES:
        src = find(data_dir, name)
        opener = gzip.open if src.endswith(".gz") else open
        with opener(src, "rb") as f, open(os.path.join(raw, name), "wb") as g:
            shutil.copyfileobj(f, g)
    return tmp


def mlp_class():
    import torch.nn as nn
    import torch.nn.functional as F

    class phocas_mlp(nn.Module):
        """The paper's Table 2 MLP, 784-128-128-10, log-softmax output (for NLLLoss)."""

        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(784, 128)
            self.fc2 = nn.Linear(128, 128)
            self.fc3 = nn.Linear(128, 10)
            # phocas's initialisation (MXNet's Xavier, as in the paper): Glorot-uniform
            # weights, zero biases (torch's default draws smaller first-layer weights, which
            # trains slower in 500 rounds)
            for layer in (self.fc1, self.fc2, self.fc3):
                nn.init.xavier_uniform_(layer.weight)
                nn.init.zeros_(layer.bias)

        def forward(self, x):
            x = F.relu(self.fc1(x.view(-1, 784)))
            x = F.relu(self.fc2(x))
            return F.log_softmax(self.fc3(x), dim=1)

    return phocas_mlp


# ---------------------------------------------------------------- phocas


def run_phocas(a, repeat, tmp):
    out = os.path.join(tmp, f"phocas-{repeat}")
    cmd = [a.phocas, "train", "--rule", "trmean", "--b", str(a.b), "--attack", "gaussian",
           "--byzantine", str(a.byzantine), "--workers", str(a.workers), "--batch", str(a.batch),
           "--lr", str(a.lr), "--rounds", str(a.rounds), "--eval-every", str(a.eval_every),
           "--threads", str(a.threads), "--seed", str(PHOCAS_SEED + a.seed + repeat),
           "--data-dir", a.data_dir,
           "--quiet", "--out", out]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        sys.exit(f"experiment_bench: phocas train failed ({r.returncode}): {r.stderr.strip()}")
    m = re.search(r"final accuracy ([0-9.]+), best [0-9.]+, ([0-9.]+) s", r.stderr + r.stdout)
    if not m:
        sys.exit("experiment_bench: could not read phocas train's final line:\n" + r.stderr)
    return wall, float(m.group(2)), float(m.group(1))


# ---------------------------------------------------------------- ByzFL


def byzfl_config(a, tmp, repeat):
    honest = a.workers - a.byzantine
    return {
        "benchmark_config": {
            "training_algorithm": {"name": "DSGD", "parameters": {}},
            "nb_steps": a.rounds,
            "device": "cpu",
            "training_seed": a.seed + repeat,
            "nb_training_seeds": 1,
            "nb_honest_clients": honest,
            "f": [a.byzantine],
            "tolerated_f": [a.b],
            "size_train_set": 1.0,
            "data_distribution_seed": a.seed,
            "nb_data_distribution_seeds": 1,
            "data_distribution": [{"name": "iid", "distribution_parameter": 1.0}],
        },
        "model": {
            "name": a.byzfl_model,
            "dataset_name": "fashionmnist",
            "nb_labels": 10,
            "loss": "NLLLoss",
            "learning_rate": a.lr,
            "learning_rate_decay": 1.0,
            "milestones": [],
        },
        "aggregator": [{"name": "TrMean", "parameters": {}}],
        "pre_aggregators": [],
        "honest_clients": {"momentum": 0.0, "weight_decay": 0.0, "batch_size": a.batch},
        "attack": [{"name": "Gaussian", "parameters": {"mu": 0.0, "sigma": a.sigma}}],
        "evaluation_and_results": {
            "evaluation_delta": a.eval_every,
            "batch_size_evaluation": 128,
            "evaluate_on_test": True,
            "store_per_client_metrics": False,
            "store_models": False,
            "data_folder": tmp,
            "results_directory": os.path.join(tmp, f"byzfl-results-{repeat}"),
        },
    }


def run_byzfl(a, repeat, tmp):
    import multiprocessing

    import torch
    from byzfl.benchmark import benchmark
    from byzfl.benchmark import train as byzfl_train
    from byzfl.fed_framework import models
    from torchvision import transforms

    torch.set_num_threads(a.threads)
    # the paper's MLP as one more ByzFL model; the benchmark's worker is forked, so it sees the
    # patches (forced: another start method would start it without them)
    multiprocessing.set_start_method("fork", force=True)
    models.phocas_mlp = mlp_class()
    if not a.byzfl_hflip:
        # ByzFL flips Fashion-MNIST images at random, test images included; the other two
        # sides read the images as they are
        plain = transforms.ToTensor()
        byzfl_train.dict_datasets["fashionmnist"] = ("FashionMNIST", plain, plain)
    work = os.path.join(tmp, f"byzfl-{repeat}")
    os.makedirs(work, exist_ok=True)
    cfg = byzfl_config(a, tmp, repeat)
    with open(os.path.join(work, "config.json"), "w") as f:
        json.dump(cfg, f)
    here = os.getcwd()
    os.chdir(work)
    try:
        t0 = time.perf_counter()
        benchmark.run_benchmark(nb_jobs=1)
        wall = time.perf_counter() - t0
    finally:
        os.chdir(here)
    res = cfg["evaluation_and_results"]["results_directory"]
    acc = train = None
    for root, _, files in os.walk(res):
        for name in files:
            path = os.path.join(root, name)
            if name.startswith("test_accuracy_tr_seed_"):
                acc = float(open(path).read().strip().split(",")[-1])
            if name.startswith("train_time_tr_seed_"):
                train = float(open(path).read().strip())
    if acc is None or train is None:
        sys.exit(f"experiment_bench: ByzFL wrote no test accuracy or train time under {res}")
    return wall, train, acc


# ---------------------------------------------------------------- PyTorch loop


def run_torch(a, repeat, tmp, data):
    """A hand-written DSGD loop: each honest worker's gradient by its own backward pass on its
    own batch, the Byzantine rows N(0, sigma^2), Trmean_b by a sort along the workers."""
    import torch

    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed + repeat)
    xtr, ytr, xte, yte = data
    model = mlp_class()()
    params = list(model.parameters())
    sizes = [p.numel() for p in params]
    d = sum(sizes)
    honest = a.workers - a.byzantine
    loss_fn = torch.nn.NLLLoss()
    grads = torch.empty(a.workers, d)
    acc = 0.0
    t0 = time.perf_counter()
    for t in range(a.rounds + 1):
        if t % a.eval_every == 0 or t == a.rounds:
            with torch.no_grad():
                acc = (model(xte).argmax(1) == yte).float().mean().item()
        if t == a.rounds:
            break
        for i in range(honest):
            idx = torch.randint(0, xtr.shape[0], (a.batch,))
            model.zero_grad(set_to_none=False)
            loss_fn(model(xtr[idx]), ytr[idx]).backward()
            torch.cat([p.grad.reshape(-1) for p in params], out=grads[i])
        grads[honest:].normal_(0.0, a.sigma)
        agg = grads.sort(dim=0).values[a.b:a.workers - a.b].mean(dim=0)
        with torch.no_grad():
            off = 0
            for p, n in zip(params, sizes):
                p -= a.lr * agg[off:off + n].view_as(p)
                off += n
    train = time.perf_counter() - t0
    return train, train, acc


def load_torch_data(a):
    import numpy as np
    import torch

    xtr = read_idx(find(a.data_dir, FILES[0])).reshape(-1, 784).astype(np.float32) / 255.0
    ytr = read_idx(find(a.data_dir, FILES[1])).astype(np.int64)
    xte = read_idx(find(a.data_dir, FILES[2])).reshape(-1, 784).astype(np.float32) / 255.0
    yte = read_idx(find(a.data_dir, FILES[3])).astype(np.int64)
    return tuple(torch.from_numpy(v) for v in (xtr, ytr, xte, yte))


# ---------------------------------------------------------------- driver


def versions(sides, phocas):
    v = {}
    if "phocas" in sides:
        r = subprocess.run([phocas, "--version"], capture_output=True, text=True)
        v["phocas"] = r.stdout.strip() or "?"
    if "byzfl" in sides or "torch" in sides:
        import torch

        v["torch"] = torch.__version__
    if "byzfl" in sides:
        from importlib.metadata import version

        v["byzfl"] = version("byzfl")
    return v


def run_side(a, side, rep, tmp):
    """One run of `side` in a fresh process (ByzFL forks its workers, and a fork after torch's
    thread pools have started can hang; a fresh process also counts every side's start-up the
    same way): (wall, training, accuracy)."""
    if side == "phocas":
        return run_phocas(a, rep, tmp)
    cmd = [sys.executable, os.path.abspath(__file__), *a.argv, "--child", side, str(rep), tmp]
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")]
    if r.returncode != 0 or not line:
        sys.exit(f"experiment_bench: the {side} run failed ({r.returncode}):\n{r.stderr[-3000:]}")
    train, acc = map(float, line[-1].split()[1:3])
    return wall, train, acc


def child(a):
    side, rep, tmp = a.child[0], int(a.child[1]), a.child[2]
    if side == "byzfl":
        _, train, acc = run_byzfl(a, rep, tmp)
    else:
        _, train, acc = run_torch(a, rep, tmp, load_torch_data(a))
    print(f"RESULT {train} {acc}")


def main(argv=None):
    a = parse_args(argv)
    if a.child:
        return child(a)
    if "phocas" in a.sides and not os.access(a.phocas, os.X_OK):
        sys.exit(f"experiment_bench: {a.phocas} is not an executable: build it with "
                 "`cargo build --release` or pass --phocas PATH")
    for name in FILES:
        find(a.data_dir, name)
    ver = versions(a.sides, a.phocas)
    rows = []
    fields = ["side", "repeat", "wall_s", "train_s", "final_accuracy", "version"]
    out = open(a.out, "w", newline="") if a.out else None
    writer = csv.DictWriter(out, fieldnames=fields) if out else None
    if writer:
        writer.writeheader()
    try:
        with tempfile.TemporaryDirectory(prefix="experiment-bench-") as tmp:
            if "byzfl" in a.sides:
                torchvision_root(a.data_dir, tmp)
            for rep in range(a.repeats):
                for side in a.sides:
                    wall, train, acc = run_side(a, side, rep, tmp)
                    row = {"side": side, "repeat": rep, "wall_s": round(wall, 3),
                           "train_s": round(train, 3), "final_accuracy": round(acc, 4),
                           "version": ver.get("byzfl" if side == "byzfl" else side, "")}
                    rows.append(row)
                    if writer:
                        # each run as it finishes: a failed run loses only itself
                        writer.writerow(row)
                        out.flush()
                    print(f"{side:7s} repeat {rep}: wall {wall:7.2f} s, training {train:7.2f} s, "
                          f"final accuracy {acc:.4f}", flush=True)
    finally:
        if out:
            out.close()
    print()
    print(f"m = {a.workers} ({a.byzantine} Byzantine, Gaussian sigma {a.sigma:g}), Trmean b = "
          f"{a.b}, batch {a.batch}, step {a.lr:g}, {a.rounds} rounds, test accuracy every "
          f"{a.eval_every}; {a.threads} threads; versions: "
          + ", ".join(f"{k} {v}" for k, v in ver.items()))
    print("| side | wall s (median) | training s (median) | final accuracy (median, min-max) | "
          "phocas faster: wall | phocas faster: training |")
    print("|---|---|---|---|---|---|")

    def med(s, key):
        return statistics.median(r[key] for r in rows if r["side"] == s)

    for s in a.sides:
        accs = [r["final_accuracy"] for r in rows if r["side"] == s]
        ratios = ["", ""]
        if "phocas" in a.sides and s != "phocas":
            ratios = [f"{med(s, k) / med('phocas', k):.1f}x" for k in ("wall_s", "train_s")]
        print(f"| {s} | {med(s, 'wall_s'):.2f} | {med(s, 'train_s'):.2f} | "
              f"{statistics.median(accs):.4f} ({min(accs):.4f}-{max(accs):.4f}) | "
              f"{ratios[0]} | {ratios[1]} |")


if __name__ == "__main__":
    main()
