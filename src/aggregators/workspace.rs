//! The caller-owned [`Workspace`] of the rules: per-thread scratch slots, the buffers of the
//! row rules and pre-aggregation, and the instruction-set [`Level`] and network limit its
//! kernels use (values, not process-wide switches).

use super::kernels::{self, NETWORK_MAX_M};
use super::krum;
use super::{Level, WeiszfeldRun};
use std::sync::Mutex;

/// Per-thread scratch for the coordinate-wise and distance kernels.
#[derive(Default, Debug)]
pub struct Scratch {
    pub(crate) keys: Vec<i64>,
    pub(crate) pairs: Vec<u128>,
    pub(crate) tiles32: Vec<[i32; kernels::W]>,
    pub(crate) tiles64: Vec<[i64; kernels::W]>,
    pub(crate) rows64: Vec<krum::SubRow>,
    pub(crate) seg_rows: Vec<krum::SegRow>,
    pub(crate) acc: Vec<f64>,
    pub(crate) pair_acc: Vec<krum::Lanes>,
}

/// Caller-owned scratch memory for aggregation. Reuse one workspace across calls to keep the
/// hot path allocation-free. A workspace may be shared by rules of different kinds.
#[derive(Debug)]
pub struct Workspace {
    slots: Vec<Mutex<Scratch>>,
    pub(crate) pair_partials: Vec<f64>,
    pub(crate) strips: Vec<krum::StripPlan>,
    pub(crate) pair_blocks: Vec<super::krum_plan::PairBlock>,
    pub(crate) dist: Vec<f64>,
    pub(crate) scores: Vec<f64>,
    pub(crate) order: Vec<usize>,
    pub(crate) selected: Vec<usize>,
    pub(crate) selected_f64: Vec<f64>,
    /// The iterate of the geometric median and centered clipping: scratch between calls
    /// (after centered clipping it may hold an earlier step, not the result, unless the start
    /// is `previous`; `previous` is the copy to read).
    pub(crate) gm_z: Vec<f64>,
    pub(crate) gm_dist: Vec<f64>,
    pub(crate) gm_beta: Vec<f64>,
    pub(crate) gm_active: Vec<usize>,
    /// Per (coordinate chunk, row) sums of squares of the fused Weiszfeld step.
    pub(crate) gm_partial: Vec<f64>,
    pub(crate) gm_last: Option<WeiszfeldRun>,
    /// The last aggregate of a rule started from `previous` (geomed, centered clipping).
    pub(crate) previous: Vec<f64>,
    /// Pre-aggregation: the row groups, the mixed rows, and the calls so far (bucketing's
    /// permutation index).
    pub(crate) mix_rows: Vec<usize>,
    pub(crate) mixed64: Vec<f64>,
    pub(crate) mixed32: Vec<f32>,
    pub(crate) calls: u64,
    /// The instruction set of the kernels (a value, not a process-wide switch).
    level: Level,
    /// Largest m ordered by a sorting network (larger m use per-coordinate selection).
    network_limit: usize,
    /// Whether the kernels may take the selection path's tiled route below that limit where
    /// it is the faster one (the default); [`Workspace::with_network_limit`] turns it off.
    network_auto: bool,
}

impl Default for Workspace {
    fn default() -> Self {
        Self::new()
    }
}

impl Workspace {
    /// A workspace with one scratch slot per thread of the current rayon pool.
    pub fn new() -> Self {
        let n = rayon::current_num_threads().max(1) + 1;
        Self {
            slots: (0..n).map(|_| Mutex::new(Scratch::default())).collect(),
            pair_partials: Vec::new(),
            strips: Vec::new(),
            pair_blocks: Vec::new(),
            dist: Vec::new(),
            scores: Vec::new(),
            order: Vec::new(),
            selected: Vec::new(),
            selected_f64: Vec::new(),
            gm_z: Vec::new(),
            gm_dist: Vec::new(),
            gm_beta: Vec::new(),
            gm_active: Vec::new(),
            gm_partial: Vec::new(),
            gm_last: None,
            previous: Vec::new(),
            mix_rows: Vec::new(),
            mixed64: Vec::new(),
            mixed32: Vec::new(),
            calls: 0,
            level: Level::default(),
            network_limit: NETWORK_MAX_M,
            network_auto: true,
        }
    }

    /// This workspace with the kernels of `level` (for comparisons of the levels; results do
    /// not change, see `tests/isa.rs`). The default is [`Level::default`]: the level
    /// `PHOCAS_ISA` names, else the best this CPU has.
    pub fn with_level(mut self, level: Level) -> Self {
        self.level = level;
        self
    }

    /// The instruction set its kernels use.
    pub fn level(&self) -> Level {
        self.level
    }

    /// This workspace with sorting networks up to m = `limit` for every rule (at most 512
    /// takes effect; 0: selection always), for benchmarks and tests of the two paths. The
    /// default is [`NETWORK_MAX_M`], except that the Median and the lower median take the
    /// selection path's bit descent from m = 65 on, where it is the faster of the two
    /// (`phocas bench-scaling --at MxD` prints both). The paths agree bit for bit.
    pub fn with_network_limit(mut self, limit: usize) -> Self {
        self.network_limit = limit;
        self.network_auto = false;
        self
    }

    /// Whether the faster path is chosen per rule below the network limit (see
    /// [`Workspace::with_network_limit`]).
    pub(crate) fn network_auto(&self) -> bool {
        self.network_auto
    }

    /// Largest m ordered by a sorting network.
    pub fn network_limit(&self) -> usize {
        self.network_limit
    }

    /// How the last geometric median computed with this workspace went (iterations, whether
    /// it converged, objective); `None` before any.
    pub fn last_weiszfeld(&self) -> Option<WeiszfeldRun> {
        self.gm_last
    }

    /// Runs `f` with the scratch slot of the current thread. Which slot is used never affects
    /// results: scratch content is overwritten before it is read.
    pub(crate) fn with_scratch<R>(&self, f: impl FnOnce(&mut Scratch) -> R) -> R {
        let i = rayon::current_thread_index().map_or(0, |t| t + 1) % self.slots.len();
        let mut guard = match self.slots[i].lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut guard)
    }
}
