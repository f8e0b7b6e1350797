"""PyTorch side of `cargo bench --bench networks`: one worker's mini-batch gradient of the
paper's CNN (Table 3) and MLP (Table 2), training mode, on the same shapes and batch sizes.

Run it in a throwaway virtual environment with torch installed (never a dependency of the
crate): `python benches/torch_networks.py [--threads 2]`. Prints the median time per gradient
and per round of 20 workers computed one after another (how a PyTorch simulation loop runs).
"""

import argparse
import statistics
import time

import torch
import torch.nn as nn


def cnn(c, h):
    flat = 64 * (h // 4) * (h // 4)
    return nn.Sequential(
        nn.Conv2d(c, 32, 3, padding=1), nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Dropout(0.2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
        nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Dropout(0.2), nn.Flatten(),
        nn.Linear(flat, 512), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(512, 512), nn.ReLU(), nn.Dropout(0.2),
        nn.Linear(512, 10),
    )


def mlp():
    return nn.Sequential(
        nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(),
        nn.Linear(128, 10),
    )


def time_grad(net, c, h, batch, reps):
    torch.manual_seed(0)
    x = torch.rand(batch, c, h, h)
    y = torch.randint(0, 10, (batch,))
    loss_fn = nn.CrossEntropyLoss()
    net.train()

    def step():
        net.zero_grad(set_to_none=False)
        loss = loss_fn(net(x), y)
        loss.backward()
        return loss

    for _ in range(3):
        step()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        step()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=20)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    for name, net, c, h, batch in [
        ("mlp", mlp(), 1, 28, 32),
        ("cnn", cnn(1, 28), 1, 28, 32),
        ("cnn", cnn(3, 32), 3, 32, 128),
    ]:
        t = time_grad(net, c, h, batch, a.reps)
        print(f"{name} {c}x{h}x{h} batch {batch}: {t * 1e3:.2f} ms a gradient, "
              f"{20 * t:.3f} s a round of 20 workers")


if __name__ == "__main__":
    main()
