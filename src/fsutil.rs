//! Atomic file output: write to a temporary file in the same folder, then rename it into
//! place, so a reader never sees a partial file.
//!
//! The temporary file is created exclusively (`O_EXCL`, never following a link) under a
//! random name, so nobody who can write the folder can redirect the write by planting a
//! symbolic link. Its name, `.<target>.<pid>.<random>.phocas-tmp`, records the process that
//! owns it: the first write into a folder removes the temporary files that killed processes of
//! this program left there. Only regular files are replaced; a device, pipe, folder or link
//! at the target path is refused.

use crate::error::Error;
use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Suffix of this program's temporary files.
const TMP_SUFFIX: &str = ".phocas-tmp";

/// `p` with symbolic links and `..` resolved, or `p` as given if it does not exist (yet).
pub fn canonical(p: &Path) -> std::path::PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

/// Writes `bytes` to `path` atomically (temporary file in the same folder, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// Refuses a target that exists and is not a regular file (a device, pipe, socket, folder or
/// symbolic link): renaming over it would replace it with a regular file.
pub fn check_regular_target(path: &Path) -> Result<(), Error> {
    match std::fs::symlink_metadata(path) {
        Ok(md) if md.file_type().is_file() => Ok(()),
        Ok(md) => {
            let kind = if md.file_type().is_symlink() {
                "a symbolic link"
            } else if md.is_dir() {
                "a folder"
            } else {
                "a device, pipe or socket"
            };
            Err(Error::Invalid(format!(
                "{}: is {kind}, not a regular file: phocas only replaces regular files; give the path of a file",
                path.display()
            )))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io(path, e)),
    }
}

/// Like [`write_atomic`], with a writer callback.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<(), Error> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    check_regular_target(path)?;
    clean_stale_once(&dir);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}.{}.", std::process::id()))
        .suffix(TMP_SUFFIX)
        .tempfile_in(&dir)
        .map_err(|e| Error::io(&dir, e))?;
    fill(tmp.as_file_mut())
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| Error::io(path, e))?;
    // On failure the temporary file is removed when `tmp` drops.
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}

/// Folders already cleaned by this process.
static CLEANED: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

/// Removes stale temporary files of this program from `dir`, once per process and folder.
fn clean_stale_once(dir: &Path) {
    let key = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let mut guard = CLEANED.lock().unwrap_or_else(|p| p.into_inner());
    if guard.get_or_insert_with(HashSet::new).insert(key) {
        drop(guard);
        clean_stale(dir);
    }
}

/// Removes the temporary files in `dir` that processes of this program left when they were
/// killed mid-write: those whose owner process is gone. Returns how many were removed.
/// Errors are ignored (a file another process removed first, a folder we cannot list).
pub fn clean_stale(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(owner_pid) else {
            continue;
        };
        if pid != std::process::id() && !process_alive(pid, &entry.path()) {
            let is_file = entry.file_type().is_ok_and(|t| t.is_file());
            if is_file && std::fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
    }
    removed
}

/// The process id recorded in a temporary file name of this program: the current form
/// `.<name>.<pid>.<random>.phocas-tmp`, or the form of version 0.2.0 and earlier,
/// `.<name>.tmp<pid>`. None for any other name.
fn owner_pid(name: &str) -> Option<u32> {
    if !name.starts_with('.') {
        return None;
    }
    if let Some(rest) = name.strip_suffix(TMP_SUFFIX) {
        let (rest, _random) = rest.rsplit_once('.')?;
        let (_, pid) = rest.rsplit_once('.')?;
        return pid.parse().ok();
    }
    let (_, pid) = name.rsplit_once(".tmp")?;
    (!pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
        .then(|| pid.parse().ok())
        .flatten()
}

/// Whether process `pid` may still be writing `file`. Where /proc lists processes, its
/// presence there; elsewhere a file younger than a day is assumed live.
fn process_alive(pid: u32, file: &Path) -> bool {
    let proc = Path::new("/proc");
    if proc.join("self").exists() {
        return proc.join(pid.to_string()).exists();
    }
    std::fs::metadata(file)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_none_or(|age| age.as_secs() < 86_400)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_replaces_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn refuses_folders_and_links_as_targets() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let e = write_atomic(&sub, b"x").unwrap_err().to_string();
        assert!(e.contains("a folder") && e.contains("regular file"), "{e}");
        #[cfg(unix)]
        {
            let victim = dir.path().join("victim");
            std::fs::write(&victim, b"keep").unwrap();
            let link = dir.path().join("link");
            std::os::unix::fs::symlink(&victim, &link).unwrap();
            let e = write_atomic(&link, b"x").unwrap_err().to_string();
            assert!(e.contains("symbolic link"), "{e}");
            assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        }
    }

    #[cfg(unix)]
    #[test]
    fn refuses_a_device_or_pipe_and_leaves_it_alone() {
        use std::os::unix::fs::FileTypeExt;
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .is_ok_and(|s| s.success());
        if !made {
            eprintln!("mkfifo unavailable: skipped");
            return;
        }
        let e = write_atomic(&fifo, b"x").unwrap_err().to_string();
        assert!(e.contains("device, pipe or socket"), "{e}");
        let t = std::fs::symlink_metadata(&fifo).unwrap().file_type();
        assert!(t.is_fifo(), "the pipe is still a pipe");
    }

    #[cfg(unix)]
    #[test]
    fn planted_links_at_old_temporary_names_are_not_followed() {
        // Defect 2: the temporary name was `.<name>.tmp<pid>` and was opened following
        // links, so a planted link made the write land in any file the user could write.
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"keep").unwrap();
        let pid = std::process::id();
        for p in [pid, pid + 1] {
            let link = dir.path().join(format!(".out.txt.tmp{p}"));
            std::os::unix::fs::symlink(&victim, link).unwrap();
        }
        let out = dir.path().join("out.txt");
        write_atomic(&out, b"data").unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        assert_eq!(std::fs::read(&out).unwrap(), b"data");
    }

    #[test]
    fn stale_temporary_files_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // A process id that cannot be running (above Linux's pid_max limit of 2^22).
        let dead = 4_194_999u32;
        let me = std::process::id();
        let stale_new = d.join(format!(".results.csv.{dead}.Ab12Cd{TMP_SUFFIX}"));
        let stale_old = d.join(format!(".results.csv.tmp{dead}"));
        let live = d.join(format!(".results.csv.{me}.Zz99Yy{TMP_SUFFIX}"));
        let other = d.join("notes.tmp123x");
        for p in [&stale_new, &stale_old, &live, &other] {
            std::fs::write(p, b"partial").unwrap();
        }
        if Path::new("/proc/self").exists() {
            assert_eq!(clean_stale(d), 2);
            assert!(!stale_new.exists() && !stale_old.exists());
        }
        assert!(live.exists(), "a live process's file is kept");
        assert!(other.exists(), "files of other programs are kept");
    }

    #[test]
    fn owner_pid_reads_both_name_forms_and_nothing_else() {
        assert_eq!(owner_pid(".a.b.csv.42.xYz123.phocas-tmp"), Some(42));
        assert_eq!(owner_pid(".results.csv.tmp77"), Some(77));
        assert_eq!(owner_pid("results.csv.tmp77"), None);
        assert_eq!(owner_pid(".results.csv.tmp"), None);
        assert_eq!(owner_pid(".x.tmp7a"), None);
        assert_eq!(owner_pid(".x.phocas-tmp"), None);
    }
}
