//! Fixed-width console tables whose header and rows agree by construction: column widths are
//! the widest of the header and every cell, so no value can push the columns after it out of
//! line, and a row with another number of cells than the header is refused, not printed.

/// The closing speed line of a run that may have resumed: `total` units (cells, runs), of
/// which `fresh` were computed now, doing `work` units of `what` (trials, rounds) in `secs`.
/// The rate counts only the work done now; a run that reused everything says so.
pub fn speed_line(
    total: usize,
    fresh: usize,
    (unit, what): (&str, &str),
    work: usize,
    secs: f64,
) -> String {
    if fresh == 0 {
        return format!("{total} {unit}, all reused from the checkpoint (nothing simulated now)");
    }
    let reused = total.saturating_sub(fresh);
    let split = if reused > 0 {
        format!(" ({fresh} run now, {reused} reused from the checkpoint)")
    } else {
        String::new()
    };
    format!(
        "{total} {unit}{split}, {work} {what} simulated in {secs:.1} s ({:.0} {what}/s)",
        work as f64 / secs.max(1e-9)
    )
}

/// How a column's cells are aligned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Align {
    /// Text.
    Left,
    /// Numbers.
    Right,
}

/// A console table under construction.
#[derive(Clone, Debug)]
pub struct Table {
    head: Vec<(String, Align)>,
    rows: Vec<Vec<String>>,
    indent: String,
}

impl Table {
    /// A table with these column names and alignments.
    pub fn new(head: &[(&str, Align)]) -> Self {
        Self {
            head: head.iter().map(|(h, a)| ((*h).to_string(), *a)).collect(),
            rows: Vec::new(),
            indent: String::new(),
        }
    }

    /// Indents every line by `n` spaces.
    pub fn indent(mut self, n: usize) -> Self {
        self.indent = " ".repeat(n);
        self
    }

    /// Adds a row. A row whose length differs from the header's is a programming error:
    /// it is reported as a row saying so, so that tests see it and nothing is misaligned.
    pub fn row(&mut self, cells: Vec<String>) {
        if cells.len() == self.head.len() {
            self.rows.push(cells);
        } else {
            let mut bad = vec![String::new(); self.head.len()];
            bad[0] = format!(
                "(row of {} cells under {} headers)",
                cells.len(),
                self.head.len()
            );
            self.rows.push(bad);
        }
    }

    /// The table as lines (header first), columns separated by two spaces, trailing spaces
    /// trimmed.
    pub fn render(&self) -> String {
        let widths: Vec<usize> = (0..self.head.len())
            .map(|j| {
                self.rows
                    .iter()
                    .map(|r| r[j].chars().count())
                    .chain([self.head[j].0.chars().count()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &mut dyn Iterator<Item = &String>| {
            let parts: Vec<String> = cells
                .zip(&self.head)
                .zip(&widths)
                .map(|((c, (_, a)), &w)| match a {
                    Align::Left => format!("{c:<w$}"),
                    Align::Right => format!("{c:>w$}"),
                })
                .collect();
            format!("{}{}", self.indent, parts.join("  ").trim_end())
        };
        let mut out = vec![line(&mut self.head.iter().map(|h| &h.0))];
        for r in &self.rows {
            out.push(line(&mut r.iter()));
        }
        out.join("\n")
    }
}

/// Whether a printed table's rows line up with its header: every gap between two of the
/// header's names (two spaces or more) holds a column that is blank in every row, so no cell
/// runs from one named column into the next. Used by tests of every console table.
pub fn columns_agree(table: &str) -> bool {
    let lines: Vec<Vec<char>> = table.lines().map(|l| l.chars().collect()).collect();
    let Some(head) = lines.first() else {
        return true;
    };
    let blank = |l: &Vec<char>, i: usize| l.get(i).is_none_or(|c| *c == ' ');
    let first = head.iter().position(|c| *c != ' ').unwrap_or(0);
    let mut i = first;
    while i < head.len() {
        if head[i] != ' ' {
            i += 1;
            continue;
        }
        let start = i;
        while i < head.len() && head[i] == ' ' {
            i += 1;
        }
        if i - start >= 2
            && i < head.len()
            && !(start..i).any(|j| lines.iter().all(|l| blank(l, j)))
        {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_cells_widen_their_column_and_rows_must_match_the_header() {
        let mut t = Table::new(&[("rule", Align::Left), ("ratio", Align::Right)]);
        t.row(vec!["mean".into(), "1.5".into()]);
        t.row(vec!["(violated)/(violated)".into(), "0.25".into()]);
        let s = t.render();
        assert!(columns_agree(&s), "{s}");
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "rule                   ratio");
        assert_eq!(lines[1], "mean                     1.5");
        t.row(vec!["only one".into()]);
        assert!(t.render().contains("(row of 1 cells under 2 headers)"));
    }

    #[test]
    fn misaligned_tables_are_detected() {
        let ok = "a    bb  c\n1    22  3\n";
        assert!(columns_agree(ok));
        let shifted = "a    bb  c\n1    2222222  3\n";
        assert!(!columns_agree(shifted));
        // converge's table before the fix: a 21-character verdict under a 19-wide column
        let old = "Thm4 b/m             Thm4 LHS/RHS b/m\n(violated)/(violated)    2.444/2.492\n";
        assert!(!columns_agree(old));
    }

    #[test]
    fn the_speed_line_rates_only_fresh_work() {
        let u = ("cells", "trials");
        assert_eq!(
            speed_line(10, 10, u, 1000, 2.0),
            "10 cells, 1000 trials simulated in 2.0 s (500 trials/s)"
        );
        assert_eq!(
            speed_line(10, 4, u, 400, 2.0),
            "10 cells (4 run now, 6 reused from the checkpoint), 400 trials simulated in 2.0 s (200 trials/s)"
        );
        assert_eq!(
            speed_line(10, 0, u, 0, 0.0),
            "10 cells, all reused from the checkpoint (nothing simulated now)"
        );
    }
}
