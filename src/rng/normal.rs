//! Bulk N(0, 1) draws with exactly the bits of `rand_distr::StandardNormal` on [`Rng`], and the
//! generator left exactly where the draw-by-draw loop leaves it.
//!
//! `StandardNormal` is Doornik's ZIGNOR ziggurat (256 boxes). Each draw reads one 64-bit word
//! `w`: box `i = w & 0xff`, `u = f64(w >> 12 as a mantissa in [2, 4)) - 3` in [-1, 1),
//! `x = u x_i`, and returns `x` when `|x| < x_{i+1}` (about 99% of words); otherwise it reads
//! more words (a wedge test, or the tail when `i = 0`). Draw by draw, that is a call into the
//! ChaCha8 block buffer per word and a branch per draw. Here, by blocks of at most [`BLOCK`]
//! words:
//! 1. the block's words are read at once: on AVX-512 machines, when the generator starts at an
//!    even word position (no odd number of 32-bit reads before), whole groups of 16 ChaCha
//!    blocks come from [`super::avx512::keystream`]; the rest (and everything elsewhere) from
//!    the generator's `fill_bytes` (the same words in the same order as `next_u64` gives them,
//!    low word first). `PHOCAS_ISA` does not choose between the two: they give the same words;
//! 2. a branch-free pass computes every word's candidate `x` and a bit for the words that fail
//!    the first test;
//! 3. a walk copies the runs of accepted candidates and, at a rejected word, replays
//!    `StandardNormal` itself from that word, reading the block's next words and then the
//!    generator.
//!
//! A block is never over-read (at most as many words as draws remain, and every draw reads at
//! least one word), so the generator ends exactly after the last word read. Cost: O(n); on the
//! 2-core AVX-512 machine of `cargo bench --bench sampling`, 2.2 ms for 2^20 draws against
//! 4.0 ms draw by draw (the keystream is a fifth of it, the first test and the walk most of
//! the rest).

#[cfg(target_arch = "x86_64")]
use super::avx512;
use super::ziggurat_table::ZIG_NORM_X;
use super::Rng;
use rand::RngCore;
use rand_distr::{Distribution, StandardNormal};

/// Words per block: 4 KiB of words, candidates and flags stay in L1.
const BLOCK: usize = 512;

/// Below this many draws the plain loop is used: the block buffers (12 KiB, zeroed on every
/// call) would cost more than they save.
pub const MIN_BULK: usize = 256;

/// `out[k] = StandardNormal.sample(rng)` for k = 0, 1, ..., with the same bits and the same
/// final state of `rng` as that loop.
pub fn fill_standard_normal(rng: &mut Rng, out: &mut [f64]) {
    fill_standard_normal_map(rng, out, |z| z);
}

/// `out[k] = f(StandardNormal.sample(rng))` for k = 0, 1, ...: [`fill_standard_normal`]
/// with each draw mapped as it is stored (the Gaussian attack's `sigma z` in the storage type,
/// without a buffer of draws in between); the same draws and the same final state of `rng`.
pub fn fill_standard_normal_map<T>(rng: &mut Rng, out: &mut [T], f: impl Fn(f64) -> T) {
    if out.len() < MIN_BULK {
        for v in out.iter_mut() {
            *v = f(StandardNormal.sample(rng));
        }
        return;
    }
    let mut src = Source::new(rng);
    let mut words = [0u64; BLOCK];
    let mut cand = [0f64; BLOCK];
    let mut rej = [0u8; BLOCK / 8];
    let mut k = 0;
    while k < out.len() {
        let n = src.chunk(out.len() - k);
        src.fill(&mut words[..n]);
        candidates(&words[..n], &mut cand[..n], &mut rej[..n.div_ceil(8)]);
        let mut j = 0;
        while j < n && k < out.len() {
            // copy the run of accepted candidates up to the next rejected word
            let r = next_rejected(&rej, j, n);
            let run = (r - j).min(out.len() - k);
            for (o, &c) in out[k..k + run].iter_mut().zip(&cand[j..j + run]) {
                *o = f(c);
            }
            (j, k) = (j + run, k + run);
            if j < n && k < out.len() {
                let mut replay = Replay {
                    words: &words[j..n],
                    read: 0,
                    src: &mut src,
                };
                out[k] = f(StandardNormal.sample(&mut replay));
                (j, k) = (j + replay.read, k + 1);
            }
        }
    }
    src.finish();
}

/// The first word at or after `j` (and before `n`) whose bit is set in `rej`; `n` if none.
fn next_rejected(rej: &[u8], j: usize, n: usize) -> usize {
    let mut byte = j / 8;
    let mut bits = rej[byte] & (0xffu8 << (j % 8));
    while bits == 0 {
        byte += 1;
        if 8 * byte >= n {
            return n;
        }
        bits = rej[byte];
    }
    (8 * byte + bits.trailing_zeros() as usize).min(n)
}

/// The generator's words, read ahead by blocks: `pos` is the stream position (in 32-bit words)
/// of the next word to hand out; `rng` itself is moved there only when it is read directly
/// ([`Source::sync`]), so the AVX-512 keystream's blocks cost no refill of its buffer.
struct Source<'a> {
    rng: &'a mut Rng,
    pos: u128,
    key: [u32; 8],
    stream: u64,
    simd: bool,
    bytes: [u8; 8 * BLOCK],
}

impl<'a> Source<'a> {
    fn new(rng: &'a mut Rng) -> Self {
        let pos = rng.get_word_pos();
        let seed = rng.get_seed();
        let key = std::array::from_fn(|i| {
            u32::from_le_bytes([
                seed[4 * i],
                seed[4 * i + 1],
                seed[4 * i + 2],
                seed[4 * i + 3],
            ])
        });
        Source {
            stream: rng.get_stream(),
            rng,
            pos,
            key,
            // 64-bit words of the keystream groups start at even positions
            simd: pos.is_multiple_of(2) && simd_available(),
            bytes: [0; 8 * BLOCK],
        }
    }
    /// How many words to read next, at most `want` and [`BLOCK`]: on the AVX-512 route, up to
    /// the next group of 16 blocks (256 words of 32 bits), then whole groups.
    fn chunk(&self, want: usize) -> usize {
        let want = want.min(BLOCK);
        if !self.simd {
            return want;
        }
        let head = ((256 - self.pos % 256) % 256 / 2) as usize;
        match head {
            0 if want >= 128 => want / 128 * 128,
            0 => want,
            h => h.min(want),
        }
    }
    /// The next `out.len()` words, as `next_u64` gives them.
    fn fill(&mut self, out: &mut [u64]) {
        let aligned = self.pos.is_multiple_of(256) && out.len().is_multiple_of(128);
        if !(self.simd && aligned && simd_keystream(&self.key, self.stream, self.pos, out)) {
            self.sync();
            let b = &mut self.bytes[..8 * out.len()];
            self.rng.fill_bytes(b);
            for (w, b) in out.iter_mut().zip(b.chunks_exact(8)) {
                *w = u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
            }
        }
        self.pos += 2 * out.len() as u128;
    }
    /// The next word, read from the generator itself.
    fn next_u64(&mut self) -> u64 {
        self.sync();
        self.pos += 2;
        self.rng.next_u64()
    }
    /// Moves the generator to `pos` if it is elsewhere.
    fn sync(&mut self) {
        if self.rng.get_word_pos() != self.pos {
            self.rng.set_word_pos(self.pos);
        }
    }
    /// Leaves the generator after the last word handed out.
    fn finish(mut self) {
        self.sync();
    }
}

fn simd_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    return avx512::available();
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The AVX-512 keystream from word position `pos` (a multiple of 256), or `false`.
fn simd_keystream(key: &[u32; 8], stream: u64, pos: u128, out: &mut [u64]) -> bool {
    #[cfg(target_arch = "x86_64")]
    return avx512::keystream(key, stream, (pos / 16) as u64, out);
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (key, stream, pos, out);
        false
    }
}

/// `f32` draws, as `StandardNormal`'s `f32` sample gives them (the `f64` draw, rounded).
pub fn fill_standard_normal_f32(rng: &mut Rng, out: &mut [f32]) {
    fill_standard_normal_map(rng, out, |z| z as f32);
}

/// The ziggurat's first test for every word, as if each began a draw: `cand = u x_i`, and bit
/// `j % 8` of `rej[j / 8]` set when `|cand| < x_{i+1}` fails (the same operations as
/// rand_distr's, so the same bits).
fn candidates(words: &[u64], cand: &mut [f64], rej: &mut [u8]) {
    for ((w8, c8), r) in words.chunks(8).zip(cand.chunks_mut(8)).zip(rej.iter_mut()) {
        let mut bits = 0u8;
        for (b, (&w, c)) in w8.iter().zip(c8.iter_mut()).enumerate() {
            let i = (w & 0xff) as usize;
            // rand's `into_float_with_exponent(1)`: the top 52 bits as the mantissa of [2, 4)
            let u = f64::from_bits((w >> 12) | (1024u64 << 52)) - 3.0;
            let x = u * ZIG_NORM_X[i];
            *c = x;
            bits |= u8::from(x.abs() >= ZIG_NORM_X[i + 1]) << b;
        }
        *r = bits;
    }
}

/// The generator seen from a rejected word: the block's words from there, then the source.
/// `StandardNormal` reads only 64-bit words (`next_u64`, and `f64` samples built on it).
struct Replay<'a, 'b> {
    words: &'a [u64],
    read: usize,
    src: &'a mut Source<'b>,
}

impl RngCore for Replay<'_, '_> {
    fn next_u64(&mut self) -> u64 {
        let w = match self.words.get(self.read) {
            Some(&w) => w,
            None => self.src.next_u64(),
        };
        self.read += 1;
        w
    }
    fn next_u32(&mut self) -> u32 {
        // not used by StandardNormal; kept consistent with the stream (low word first) only
        // while no 32-bit read is mixed with a 64-bit one
        self.next_u64() as u32
    }
    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for c in dst.chunks_mut(8) {
            let w = self.next_u64().to_le_bytes();
            c.copy_from_slice(&w[..c.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{hash_str, stream};
    use rand::Rng as _;

    fn reference(rng: &mut Rng, n: usize) -> Vec<f64> {
        (0..n).map(|_| StandardNormal.sample(rng)).collect()
    }

    #[test]
    fn same_bits_and_same_final_state_as_the_loop() {
        // sizes around the block and the bulk threshold; odd word offsets (a u32 read before)
        for (s, &n) in [0usize, 1, 255, 256, 257, 511, 512, 513, 1500, 4096]
            .iter()
            .enumerate()
        {
            for skew in 0..3u32 {
                let mut a = stream(s as u64, hash_str("normal"), u64::from(skew));
                for _ in 0..skew {
                    let _: u32 = a.random();
                }
                let mut b = a.clone();
                let want = reference(&mut a, n);
                let mut got = vec![0.0; n];
                fill_standard_normal(&mut b, &mut got);
                let same = want
                    .iter()
                    .zip(&got)
                    .all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(same, "n = {n}, skew = {skew}");
                assert_eq!(a.get_word_pos(), b.get_word_pos(), "n = {n}");
                assert_eq!(a.random::<u64>(), b.random::<u64>(), "n = {n}");
            }
        }
    }

    #[test]
    fn millions_of_draws_cover_every_box_and_the_tail() {
        // 2^21 draws reach each of the 256 boxes thousands of times, the wedges about 2^14 times
        // and the tail (i = 0, |x| > r) about 2^21 x 2.7e-4 ~ 570 times: a wrong table entry or
        // a replay that reads one word too many or too few would break the equality
        let n = 1 << 21;
        let mut a = stream(7, hash_str("normal/large"), 0);
        let mut b = a.clone();
        let want = reference(&mut a, n);
        let mut got = vec![0.0; n];
        fill_standard_normal(&mut b, &mut got);
        let first_diff = want
            .iter()
            .zip(&got)
            .position(|(x, y)| x.to_bits() != y.to_bits());
        assert_eq!(first_diff, None);
        let tail = got
            .iter()
            .filter(|z| z.abs() > 3.654_152_885_361_009)
            .count();
        assert!(tail > 300, "tail draws {tail}");
        assert_eq!(a.get_word_pos(), b.get_word_pos());
    }

    #[test]
    fn words_match_next_u64_across_counter_carries() {
        // block counters just below 2^32 (the carry into the high counter word) and 2^64 (the
        // wrap), at even and odd word offsets, by the chunks the sampler asks for
        for start in [
            0u128,
            6,
            7,
            (1u128 << 36) - 16 * 5 + 2,
            (1u128 << 68) - 16 * 20,
        ] {
            for (n, simd) in [1usize, 127, 128, 300, 512, 1700]
                .into_iter()
                .flat_map(|n| [(n, true), (n, false)])
            {
                let mut a = stream(11, hash_str("normal/words"), 5);
                a.set_word_pos(start);
                let mut b = a.clone();
                let want: Vec<u64> = (0..n).map(|_| a.next_u64()).collect();
                let mut got = vec![0u64; n];
                let mut src = Source::new(&mut b);
                // the portable route, whatever this CPU has
                src.simd &= simd;
                let mut k = 0;
                while k < n {
                    let c = src.chunk(n - k);
                    src.fill(&mut got[k..k + c]);
                    k += c;
                }
                src.finish();
                assert_eq!(want, got, "start {start}, n {n}, simd {simd}");
                assert_eq!(a.next_u64(), b.next_u64(), "start {start}, n {n}");
            }
        }
    }

    #[test]
    fn rejection_bits_are_the_failed_first_tests() {
        let mut r = stream(2, hash_str("normal/cand"), 0);
        let words: Vec<u64> = (0..1003).map(|_| r.next_u64()).collect();
        let mut cand = vec![0.0; 1003];
        let mut rej = vec![0u8; 126];
        candidates(&words, &mut cand, &mut rej);
        assert!(
            rej.iter().any(|&b| b != 0),
            "some word must fail the first test"
        );
        for (j, (&w, &x)) in words.iter().zip(&cand).enumerate() {
            let fails = x.abs() >= ZIG_NORM_X[(w & 0xff) as usize + 1];
            assert_eq!(rej[j / 8] >> (j % 8) & 1 == 1, fails, "word {j}");
            let next = next_rejected(&rej, j, 1003);
            assert!(next >= j && (next == 1003 || rej[next / 8] >> (next % 8) & 1 == 1));
        }
    }

    #[test]
    fn f32_draws_round_the_f64_draws() {
        let mut a = stream(3, hash_str("normal/f32"), 0);
        let mut b = a.clone();
        let want: Vec<f32> = (0..1000)
            .map(|_| Distribution::<f32>::sample(&StandardNormal, &mut a))
            .collect();
        let mut got = vec![0f32; 1000];
        fill_standard_normal_f32(&mut b, &mut got);
        assert_eq!(want, got);
        assert_eq!(a.get_word_pos(), b.get_word_pos());
    }
}
