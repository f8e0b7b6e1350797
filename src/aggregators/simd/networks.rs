//! The comparator lists of the register networks, spelled out as macro arguments so that each
//! comparator is a compare-exchange of two constant wires: Batcher's 32-wire network
//! ([`batcher32`]) and a 92-comparator network for the paper's m = 20 ([`senso20`]). Any
//! sorting network leaves the same sorted keys, so the rules' bits do not depend on which one
//! runs.

/// Batcher's odd-even merge sort on 32 wires: the comparators
/// [`crate::aggregators::network::Network::sorting`] builds for m = 32 (a test checks it), passed to
/// `$mac!($args; (a, b) ...)`.
macro_rules! batcher32 {
    ($mac:ident!($($args:tt)*)) => {
        $mac!($($args)*;
        (0, 1) (2, 3) (4, 5) (6, 7) (8, 9) (10, 11) (12, 13) (14, 15) (16, 17) (18, 19)
        (20, 21) (22, 23) (24, 25) (26, 27) (28, 29) (30, 31) (0, 2) (1, 3) (4, 6) (5, 7)
        (8, 10) (9, 11) (12, 14) (13, 15) (16, 18) (17, 19) (20, 22) (21, 23) (24, 26) (25, 27)
        (28, 30) (29, 31) (1, 2) (5, 6) (9, 10) (13, 14) (17, 18) (21, 22) (25, 26) (29, 30)
        (0, 4) (1, 5) (2, 6) (3, 7) (8, 12) (9, 13) (10, 14) (11, 15) (16, 20) (17, 21)
        (18, 22) (19, 23) (24, 28) (25, 29) (26, 30) (27, 31) (2, 4) (3, 5) (10, 12) (11, 13)
        (18, 20) (19, 21) (26, 28) (27, 29) (1, 2) (3, 4) (5, 6) (9, 10) (11, 12) (13, 14)
        (17, 18) (19, 20) (21, 22) (25, 26) (27, 28) (29, 30) (0, 8) (1, 9) (2, 10) (3, 11)
        (4, 12) (5, 13) (6, 14) (7, 15) (16, 24) (17, 25) (18, 26) (19, 27) (20, 28) (21, 29)
        (22, 30) (23, 31) (4, 8) (5, 9) (6, 10) (7, 11) (20, 24) (21, 25) (22, 26) (23, 27)
        (2, 4) (3, 5) (6, 8) (7, 9) (10, 12) (11, 13) (18, 20) (19, 21) (22, 24) (23, 25)
        (26, 28) (27, 29) (1, 2) (3, 4) (5, 6) (7, 8) (9, 10) (11, 12) (13, 14) (17, 18)
        (19, 20) (21, 22) (23, 24) (25, 26) (27, 28) (29, 30) (0, 16) (1, 17) (2, 18) (3, 19)
        (4, 20) (5, 21) (6, 22) (7, 23) (8, 24) (9, 25) (10, 26) (11, 27) (12, 28) (13, 29)
        (14, 30) (15, 31) (8, 16) (9, 17) (10, 18) (11, 19) (12, 20) (13, 21) (14, 22) (15, 23)
        (4, 8) (5, 9) (6, 10) (7, 11) (12, 16) (13, 17) (14, 18) (15, 19) (20, 24) (21, 25)
        (22, 26) (23, 27) (2, 4) (3, 5) (6, 8) (7, 9) (10, 12) (11, 13) (14, 16) (15, 17)
        (18, 20) (19, 21) (22, 24) (23, 25) (26, 28) (27, 29) (1, 2) (3, 4) (5, 6) (7, 8)
        (9, 10) (11, 12) (13, 14) (15, 16) (17, 18) (19, 20) (21, 22) (23, 24) (25, 26) (27, 28)
        (29, 30)
        )
    };
}

/// A 20-wire sorting network of 92 comparators and depth 14, found by Valsalam and
/// Miikkulainen's symmetry-and-evolution search ("Using Symmetry and Evolutionary Search to
/// Minimize Sorting Networks", JMLR 14, 2013), against the 101 comparators (depth 15) that
/// Batcher's network keeps for 20 wires; passed to `$mac!($args; (a, b) ...)`. A unit test
/// checks that it sorts all 2^20 zero-one inputs (so every input, by the zero-one
/// principle). Any sorting network leaves the same sorted keys, so the rules' bits do not
/// depend on which one runs.
macro_rules! senso20 {
    ($mac:ident!($($args:tt)*)) => {
        $mac!($($args)*;
        (2, 11) (8, 17) (0, 10) (4, 5) (9, 19) (3, 6) (14, 15) (1, 12) (13, 16) (0, 1) (7, 18)
        (3, 14) (18, 19) (5, 16) (4, 13) (6, 15) (7, 9) (10, 12) (2, 8) (11, 17) (0, 3) (4, 7)
        (12, 15) (16, 19) (0, 2) (17, 19) (0, 4) (15, 19) (1, 14) (1, 3) (5, 18) (8, 10)
        (16, 18) (9, 11) (6, 13) (5, 9) (10, 14) (6, 8) (11, 13) (2, 7) (12, 17) (1, 5) (14, 18)
        (1, 2) (4, 6) (13, 15) (17, 18) (1, 4) (15, 18) (3, 9) (10, 16) (2, 3) (7, 8) (11, 12)
        (16, 17) (2, 6) (13, 17) (2, 4) (5, 10) (15, 17) (9, 14) (8, 12) (7, 11) (12, 16) (3, 7)
        (8, 9) (10, 11) (14, 16) (3, 5) (7, 8) (11, 12) (13, 14) (15, 16) (3, 4) (5, 6) (7, 10)
        (14, 15) (4, 5) (9, 12) (5, 7) (12, 14) (9, 13) (6, 10) (12, 13) (6, 7) (8, 9) (10, 11)
        (9, 11) (8, 10) (11, 12) (7, 8) (9, 10)
        )
    };
}

/// The register network for M wires: [`senso20`] for M = 20 (the paper's m), Batcher's
/// [`batcher32`] otherwise (the missing wires hold the largest key, so the compiler drops
/// the comparators that touch them). `M` is a constant, so only one of the two is compiled.
macro_rules! sorting_network {
    ($m:expr, $mac:ident!($($args:tt)*)) => {
        if $m == 20 {
            senso20!($mac!($($args)*));
        } else {
            batcher32!($mac!($($args)*));
        }
    };
}

/// Applies the listed comparators to the wire array `$v` with `$cx(&mut $v, a, b)`.
macro_rules! apply_comparators {
    ($cx:ident, $v:ident; $(($a:literal, $b:literal))*) => {
        $( $cx(&mut $v, $a, $b); )*
    };
}

#[cfg(test)]
mod tests {
    macro_rules! as_list {
        (; $(($a:literal, $b:literal))*) => {
            &[$(($a, $b)),*]
        };
    }

    #[test]
    fn spelled_out_network_is_batchers() {
        let list: &[(u16, u16)] = batcher32!(as_list!());
        assert_eq!(
            list,
            crate::aggregators::network::Network::sorting(32).comparators()
        );
    }

    #[test]
    fn senso20_sorts_every_zero_one_input() {
        let list: &[(u16, u16)] = senso20!(as_list!());
        assert_eq!(list.len(), 92);
        let n = 20;
        // Bit t of wires[w] is bit w of input 64 * k + t.
        for k in 0..(1u64 << n) / 64 {
            let mut wires: [u64; 20] = std::array::from_fn(|w| {
                (0..64u64).fold(0, |acc, t| acc | (((64 * k + t) >> w) & 1) << t)
            });
            for &(a, b) in list {
                let (x, y) = (wires[usize::from(a)], wires[usize::from(b)]);
                wires[usize::from(a)] = x & y;
                wires[usize::from(b)] = x | y;
            }
            for w in 1..n {
                assert_eq!(
                    wires[w - 1] & !wires[w],
                    0,
                    "inputs {}..{}",
                    64 * k,
                    64 * k + 64
                );
            }
        }
    }
}
