# Recipes for the Phocas workbench. `just --list` shows them all.

# The main job: Monte Carlo verification of the paper's bounds (Lemma 1, Theorems 1-2).
verify-bounds *ARGS:
    cargo run --release -- verify-bounds {{ARGS}}

# Run the test suite (what CI runs).
test:
    cargo test --all-targets

# The Python package's tests (builds it into a throwaway virtual environment first).
test-python:
    python3 -m venv target/py && target/py/bin/pip install --quiet maturin numpy pytest && target/py/bin/pip install --quiet ./python
    cargo build
    PHOCAS_BIN="$PWD/target/debug/phocas" target/py/bin/python -m pytest -q python/tests

# CI's Rust steps: format, lints, docs, tests (CI also runs the portable level, the aarch64
# and fuzz checks, the Python package and the Slurm test).
check:
    cargo fmt --all -- --check
    cargo clippy --all-targets -- -D warnings
    RUSTDOCFLAGS="-D warnings" cargo doc --no-deps
    cargo test --all-targets

# Apply one rule to an .npy matrix, e.g. `just aggregate --rule trmean --b 2 --input x.npy`.
aggregate *ARGS:
    cargo run --release -- aggregate {{ARGS}}

# Cost of every rule as m and d grow (fitted exponents, ns per value, memory-speed ratios).
bench-scaling *ARGS:
    cargo run --release -- bench-scaling {{ARGS}}

# Convergence experiments against Theorems 3 and 4 (quadratic and double-well objectives).
converge *ARGS:
    cargo run --release -- converge {{ARGS}}

# Train the paper's MLP once (every knob a flag), e.g. `just train --rule phocas --b 6 --attack omniscient --byzantine 6`.
train *ARGS:
    cargo run --release -- train {{ARGS}}

# Reproduce the paper's section 5: fig2, fig3, fig4, theorem4, rules, dirichlet or all.
reproduce FIGURE *ARGS:
    cargo run --release -- reproduce {{FIGURE}} {{ARGS}}

# Run (or reuse) every experiment and write reports/REPORT.md.
report *ARGS:
    cargo run --release -- report {{ARGS}}
