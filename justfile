# Recipes for the Phocas workbench. `just --list` shows them all.

# The main job: Monte Carlo verification of the paper's bounds (Lemma 1, Theorems 1-2).
verify-bounds *ARGS:
    cargo run --release -- verify-bounds {{ARGS}}

# Run the test suite (what CI runs).
test:
    cargo test --all-targets

# Everything CI runs: format, lints, tests.
check:
    cargo fmt --all -- --check
    cargo clippy --all-targets -- -D warnings
    cargo test --all-targets

# Apply one rule to an .npy matrix, e.g. `just aggregate --rule trmean --b 2 --input x.npy`.
aggregate *ARGS:
    cargo run --release -- aggregate {{ARGS}}

# Cost of every rule as m and d grow (fitted exponents, ns per value, memory-speed ratios).
bench-scaling *ARGS:
    cargo run --release -- bench-scaling {{ARGS}}
