//! Seed derivation. Every random stream derives from one master seed and the identity of the
//! work item (a cell key, a trial or round index), never from the thread that runs it.

#[cfg(target_arch = "x86_64")]
mod avx512;
mod normal;
mod ziggurat_table;

pub use normal::{
    fill_standard_normal, fill_standard_normal_f32, fill_standard_normal_map, MIN_BULK,
};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The generator used everywhere.
pub type Rng = ChaCha8Rng;

/// Default master seed (the paper's arXiv submission date).
pub const DEFAULT_SEED: u64 = 20_180_523;

/// FNV-1a 64-bit hash of a string (stable across platforms and versions).
pub fn hash_str(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn splitmix(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A generator for (master seed, key, index): ChaCha8 keyed by (seed, key), one stream per
/// index. Streams for different indices are independent.
pub fn stream(seed: u64, key: u64, index: u64) -> Rng {
    let mut s = seed ^ key.rotate_left(17);
    let mut bytes = [0u8; 32];
    for c in bytes.chunks_exact_mut(8) {
        c.copy_from_slice(&splitmix(&mut s).to_le_bytes());
    }
    let mut r = ChaCha8Rng::from_seed(bytes);
    r.set_stream(index);
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng as _;

    #[test]
    fn value_stability() {
        // Pins the first outputs: a change in seeding shows up as a test diff.
        let mut r = stream(1, hash_str("cell"), 0);
        let a: u64 = r.random();
        let mut r2 = stream(1, hash_str("cell"), 0);
        assert_eq!(a, r2.random::<u64>());
        let mut r3 = stream(1, hash_str("cell"), 1);
        assert_ne!(a, r3.random::<u64>());
        assert_eq!(hash_str(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash_str("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
