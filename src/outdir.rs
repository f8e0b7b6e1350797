//! Default output folders. Committed reference results live in `reports/` and are written
//! only by `phocas report` or an explicit `--out`; every other run defaults to a scratch
//! folder `runs/<command>-<label>-<hash>/` (git-ignored), where the label says which grid
//! (`default`, `quick` or the config file's name) and the hash is of the command, the label and
//! the run's settings, the config's text included (so two config files with the same grid get
//! two folders). A trial run therefore never overwrites committed results, the same
//! command resumes in the same folder, and a run with other settings never refuses because an
//! earlier run used the default folder: it gets a folder of its own.

use crate::rng::hash_str;
use std::path::{Path, PathBuf};

/// The git-ignored folder that holds the default output folders.
pub const SCRATCH: &str = "runs";

/// The output folder: `out` if given, else `runs/<command>-<label>-<hash of settings>`.
pub fn resolve(out: Option<&Path>, command: &str, label: &str, settings: &str) -> PathBuf {
    match out {
        Some(p) => p.to_path_buf(),
        None => scratch(command, label, settings),
    }
}

/// `runs/<command>-<label>-<8 hex digits of the settings' hash>`.
pub fn scratch(command: &str, label: &str, settings: &str) -> PathBuf {
    let label: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let hash = hash_str(&format!("{command}\u{1f}{label}\u{1f}{settings}")) & 0xffff_ffff;
    Path::new(SCRATCH).join(format!("{command}-{label}-{hash:08x}"))
}

/// The label of a grid: the config file's name (without extension) when one is given,
/// otherwise `quick` or `default`.
pub fn grid_label(config: Option<&Path>, quick: bool) -> String {
    match config {
        Some(p) => p
            .file_stem()
            .map_or("config".into(), |s| s.to_string_lossy().into_owned()),
        None if quick => "quick".into(),
        None => "default".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_settings_get_other_folders_and_an_explicit_out_wins() {
        let a = scratch("verify-bounds", "quick", "seed=1");
        assert_eq!(a, scratch("verify-bounds", "quick", "seed=1"));
        assert_ne!(a, scratch("verify-bounds", "quick", "seed=2"));
        assert!(a.starts_with(SCRATCH));
        let name = a.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("verify-bounds-quick-") && name.len() == 28,
            "{name}"
        );
        let odd = scratch("train", "a/b c", "x");
        assert!(odd.to_string_lossy().contains("train-a_b_c-"), "{odd:?}");
        let p = Path::new("reports/verify-bounds");
        assert_eq!(resolve(Some(p), "verify-bounds", "default", "s"), p);
        assert_eq!(
            grid_label(Some(Path::new("dir/my grid.toml")), true),
            "my grid"
        );
        assert_eq!(grid_label(None, true), "quick");
        assert_eq!(grid_label(None, false), "default");
    }
}
