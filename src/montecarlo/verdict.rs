//! The verdict of a cell: its mean error E||Aggr - g||^2 set against the bound of the paper that
//! covers its rule (Lemma 1, Theorems 1 and 2), or, without a bound, whether the error grows
//! without limit with the attack's magnitude (Propositions 1-3).

use std::fmt;

/// A cell's verdict. The order is the heat map's: later variants are worse, and
/// [`Verdict::NotApplicable`] (no bound covers the cell) comes last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Verdict {
    /// The 95% interval's upper end is at most the bound.
    Holds,
    /// The interval contains the bound.
    Inconclusive,
    /// The interval's lower end is above the bound, or the error is not finite.
    Violated,
    /// No bound, and the error grows with the attack's magnitude or is not finite.
    Unbounded,
    /// No bound applies (the reason is in the cell's bound note).
    NotApplicable,
}

impl Verdict {
    /// Every verdict, in order.
    pub const ALL: [Verdict; 5] = [
        Verdict::Holds,
        Verdict::Inconclusive,
        Verdict::Violated,
        Verdict::Unbounded,
        Verdict::NotApplicable,
    ];

    /// The word in tables (`results.csv`'s verdict column).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Holds => "holds",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Violated => "violated",
            Verdict::Unbounded => "unbounded",
            Verdict::NotApplicable => "n/a",
        }
    }

    /// Position in [`Verdict::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// The verdict of a mean error against `bound` (both in the same units), given the 95%
    /// interval of the mean; `None` when no bound applies.
    pub fn judge(mean: f64, (ci_low, ci_high): (f64, f64), bound: Option<f64>) -> Self {
        match bound {
            Some(b) if !mean.is_finite() || ci_low > b => Verdict::Violated,
            Some(b) if ci_high <= b => Verdict::Holds,
            Some(_) => Verdict::Inconclusive,
            None if !mean.is_finite() => Verdict::Unbounded,
            None => Verdict::NotApplicable,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Verdict;

    #[test]
    fn judging_reads_the_interval_against_the_bound() {
        assert_eq!(Verdict::judge(1.0, (0.5, 1.5), Some(2.0)), Verdict::Holds);
        assert_eq!(
            Verdict::judge(1.0, (0.5, 1.5), Some(1.2)),
            Verdict::Inconclusive
        );
        assert_eq!(
            Verdict::judge(1.0, (0.5, 1.5), Some(0.4)),
            Verdict::Violated
        );
        assert_eq!(
            Verdict::judge(f64::NAN, (0.0, 0.0), Some(9.0)),
            Verdict::Violated
        );
        assert_eq!(
            Verdict::judge(f64::INFINITY, (0.0, 0.0), None),
            Verdict::Unbounded
        );
        assert_eq!(
            Verdict::judge(1.0, (0.5, 1.5), None),
            Verdict::NotApplicable
        );
        let words: Vec<&str> = Verdict::ALL.iter().map(|v| v.as_str()).collect();
        assert_eq!(
            words,
            ["holds", "inconclusive", "violated", "unbounded", "n/a"]
        );
        assert!(Verdict::ALL.iter().enumerate().all(|(i, v)| v.index() == i));
    }
}
