"""The PyTorch example (examples/fashion_mnist_torch.py) runs end to end, briefly."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fashion_mnist_torch.py"
DATA = Path(os.environ.get("PHOCAS_DATA_DIR", "/usr/share/datasets/fashion-mnist"))


def test_example_trains_and_the_robust_rule_beats_the_mean_under_attack():
    pytest.importorskip("torch")
    if not (DATA / "train-images-idx3-ubyte.gz").exists() and not (
        DATA / "train-images-idx3-ubyte"
    ).exists():
        pytest.skip(f"no MNIST-format data in {DATA} (set PHOCAS_DATA_DIR)")
    out = subprocess.run(
        [sys.executable, str(EXAMPLE), "--data-dir", str(DATA), "--rounds", "60",
         "--eval-every", "60", "--attack", "omniscient", "--rules", "mean", "phocas"],
        check=True, capture_output=True, text=True, timeout=300,
    ).stdout
    acc = {}
    for line in out.splitlines()[1:]:
        label, rest = line.split(maxsplit=1)
        acc[label] = float(rest.split("60:")[1].split()[0])
    # the omniscient attack (-1e20 x the sum) destroys the mean; phocas(b=4) trains
    assert not acc["mean"] > 0.2, out
    assert acc["phocas(b=4)"] > 0.5, out


def test_example_refuses_an_unknown_rule():
    pytest.importorskip("torch")
    if not DATA.exists():
        pytest.skip(f"no data in {DATA}")
    r = subprocess.run(
        [sys.executable, str(EXAMPLE), "--data-dir", str(DATA), "--rules", "meen"],
        capture_output=True, text=True, timeout=300,
    )
    assert r.returncode != 0 and "unknown rule 'meen'" in r.stderr
