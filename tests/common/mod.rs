//! Shared helpers of the integration tests.
#![allow(dead_code)]

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

/// Parses a CSV file into rows of (column -> value).
pub fn read_rows(text: &str) -> Vec<std::collections::HashMap<String, String>> {
    let mut lines = text.lines();
    let header = split_csv(lines.next().unwrap_or(""));
    lines
        .map(|l| header.iter().cloned().zip(split_csv(l)).collect())
        .collect()
}
