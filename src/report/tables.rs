//! Reading the CSV tables a results folder holds, for the report: rows as column-name maps,
//! RFC 4180 quoting as polars writes it. Missing files read as no rows, so the report says
//! what is absent instead of failing.

use std::collections::HashMap;
use std::path::Path;

/// Splits one CSV line (RFC 4180 quoting, as polars writes it).
pub fn split_csv(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

/// One CSV row: column name to text.
pub type Row = HashMap<String, String>;
/// The rows of a CSV file.
pub type Rows = Vec<Row>;

/// The rows of the CSV file at `path` (empty when it is missing).
pub fn rows(path: &Path) -> Rows {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let mut lines = text.lines();
    let header = split_csv(lines.next().unwrap_or(""));
    lines
        .map(|l| header.iter().cloned().zip(split_csv(l)).collect())
        .collect()
}

/// Column `k` as a number (NaN when missing or not a number).
pub fn f(r: &Row, k: &str) -> f64 {
    r.get(k).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)
}

/// Column `k` as text (empty when missing).
pub fn g<'a>(r: &'a Row, k: &str) -> &'a str {
    r.get(k).map_or("", String::as_str)
}

/// The panels of a summary in order of appearance and its labels sorted, each once.
pub fn panels_and_labels(all: &[Row]) -> (Vec<String>, Vec<String>) {
    let mut panels: Vec<String> = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    for r in all {
        let (p, l) = (g(r, "panel").to_string(), g(r, "label").to_string());
        if !panels.contains(&p) {
            panels.push(p);
        }
        if !labels.contains(&l) {
            labels.push(l);
        }
    }
    labels.sort();
    (panels, labels)
}
