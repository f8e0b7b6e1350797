//! # phocas: a workbench for Byzantine-resilient distributed SGD
//!
//! Reference implementation and test bench for the aggregation rules of
//! *Phocas: dimensional Byzantine-resilient stochastic gradient descent* (Xie, Koyejo, Gupta).
//!
//! A parameter server receives m gradient vectors of dimension d (an m x d matrix, one row per
//! worker, [`matrix`]). Some entries are Byzantine: whole rows in the classic model (Definition 1)
//! or up to q values per coordinate anywhere in the generalized model (Definition 4). The rules
//! ([`aggregators`]: Mean, Median, Trmean_b, Phocas_b, Krum, Multi-Krum) map the matrix to one
//! vector. The paper bounds E||Aggr - g||^2 in terms of V = E||G - g||^2 (Lemma 1, Theorems 1
//! and 2) and derives convergence rates from those bounds (Theorems 3 and 4).
//!
//! Symbols follow the paper: m workers, q Byzantine values per coordinate (or rows), b the
//! trimming parameter, d the dimension, g the true gradient, V the variance.

pub mod aggregators;
pub mod attacks;
pub mod bench;
pub mod bounds;
pub(crate) mod budget;
pub mod data;
mod error;
pub mod fsutil;
pub(crate) mod interrupt;
pub mod matrix;
pub mod models;
pub mod montecarlo;
pub mod npy;
pub mod objectives;
pub(crate) mod outdir;
pub mod report;
pub mod resume;
pub mod rng;
pub mod run;
mod scalar;
pub mod sgd;

// The entry points, re-exported: rules (build one by registry name, or use a type of
// `aggregators`), their parameters and workspace, the instruction-set level a workspace
// carries, attacks and corruption models, errors, and the matrix types (the bounds are in
// `bounds`, the experiments in `montecarlo`, `sgd` and `bench`).
pub use aggregators::{
    build, AggregateExt, Aggregator, Isa, Level, Premix, RuleInfo, RuleParams, Workspace, REGISTRY,
};
pub use attacks::{build_attack, build_corruption, AttackParams, ATTACKS, CORRUPTIONS};
pub use error::{toml_message, Error, Result};
pub use matrix::{Matrix, MatrixView};
pub use scalar::{Scalar, Typed, TypedMut};
