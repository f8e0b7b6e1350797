//! Console tables (first-hour issue, item 4): in every table a command prints, each row's
//! columns sit under the header's names (converge's table once had a value under the wrong
//! name from the fourth column on).

use phocas::report::console::columns_agree;
use std::process::Command;

fn stdout(args: &[&str]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_phocas"))
        .args(args)
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// The block of lines from the one starting with `head` (after trimming) to the first line
/// that `end` accepts (excluded).
fn block(text: &str, head: &str, end: impl Fn(&str) -> bool) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let i = lines
        .iter()
        .position(|l| l.trim_start().starts_with(head))
        .unwrap_or_else(|| panic!("no table starting with {head:?} in\n{text}"));
    let n = lines[i + 1..].iter().take_while(|l| !end(l)).count();
    assert!(n > 0, "table {head:?} has no rows");
    lines[i..=i + n].join("\n")
}

#[test]
fn every_console_table_lines_up_with_its_header() {
    let out = stdout(&["converge", "--quick", "--quiet", "--no-charts"]);
    let t = block(&out, "sweep ", |l| l.starts_with("b/m:"));
    assert!(columns_agree(&t), "converge:\n{t}");
    let head_cols = t
        .lines()
        .next()
        .unwrap()
        .split("  ")
        .filter(|c| !c.is_empty())
        .count();
    assert_eq!(head_cols, 16, "{t}");
    let out = stdout(&[
        "verify-bounds",
        "--quick",
        "--trials",
        "20",
        "--quiet",
        "--no-charts",
    ]);
    let t = block(&out, "bound ", |l| l.starts_with("unbounded"));
    assert!(columns_agree(&t), "verify-bounds summary:\n{t}");
    let t = block(&out, "bound   q", |l| l.trim().is_empty());
    assert!(columns_agree(&t), "tightness:\n{t}");
}
