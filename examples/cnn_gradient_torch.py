"""Independent check of the CNN's gradient: loads what `cargo run --release --example
cnn_gradient -- DIR` wrote, builds the Table 3 CNN in PyTorch with the same parameters (the
workbench's layout is PyTorch's state_dict flattened in order), computes the loss and gradient
of the same batch in float64, and prints the largest relative differences per layer.

Run in a throwaway virtual environment with torch and numpy: `python
examples/cnn_gradient_torch.py DIR`.
"""

import sys

import numpy as np
import torch
import torch.nn as nn


def main():
    d = sys.argv[1]
    p = np.load(f"{d}/params.npy").astype(np.float64)
    g = np.load(f"{d}/grad.npy").astype(np.float64)
    x = torch.tensor(np.load(f"{d}/images.npy"), dtype=torch.float64)
    y = torch.tensor(np.load(f"{d}/labels.npy").astype(np.int64))
    loss_rs = float(np.load(f"{d}/loss.npy")[0])
    c, h = x.shape[1], x.shape[2]
    net = nn.Sequential(
        nn.Conv2d(c, 32, 3, padding=1), nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
        nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(64 * (h // 4) * (x.shape[3] // 4), 512), nn.ReLU(),
        nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10),
    ).double()
    params = list(net.parameters())
    assert sum(q.numel() for q in params) == p.size, "parameter counts differ"
    off = 0
    with torch.no_grad():
        for q in params:
            q.copy_(torch.tensor(p[off:off + q.numel()]).view_as(q))
            off += q.numel()
    loss = nn.functional.cross_entropy(net(x), y)
    loss.backward()
    print(f"loss: workbench {loss_rs:.9f}, torch (float64) {loss.item():.9f}, "
          f"relative difference {abs(loss_rs - loss.item()) / loss.item():.2e}")
    names = ["conv1.w", "conv1.b", "conv2.w", "conv2.b", "conv3.w", "conv3.b", "conv4.w",
             "conv4.b", "fc1.w", "fc1.b", "fc2.w", "fc2.b", "fc3.w", "fc3.b"]
    off = 0
    worst = 0.0
    for name, q in zip(names, params):
        t = q.grad.numpy().ravel()
        r = g[off:off + q.numel()]
        off += q.numel()
        rel = np.abs(r - t).max() / max(np.abs(t).max(), 1e-30)
        worst = max(worst, rel)
        print(f"{name:8s} {q.numel():>9d} values: max |difference| / max |gradient| = {rel:.2e}")
    print(f"largest over the layers: {worst:.2e}")


if __name__ == "__main__":
    main()
