//! The CIFAR-10 binary format (the paper's CNN experiments, Table 1: 50k training and 10k test
//! images of 3 x 32 x 32 pixels, 10 classes), as distributed in `cifar-10-binary.tar.gz`:
//!
//! | file | content |
//! | --- | --- |
//! | `data_batch_1.bin` ... `data_batch_5.bin` | the training set, 10,000 images each |
//! | `test_batch.bin` | the test set |
//!
//! Each file is a sequence of 3,073-byte records: one label byte (0..=9), then the 1,024 red,
//! 1,024 green and 1,024 blue bytes of a 32 x 32 image, row-major. Pixels are scaled to
//! `[0, 1]` (byte / 255) and stored channel after channel, as [`Dataset`] expects. The files may
//! sit in the given folder or in its `cifar-10-batches-bin` subfolder (the archive's layout).
//! CIFAR-10 cannot be installed from a package on this project's machines: download it from
//! the authors' page and pass its folder with `--data-dir`.
//!
//! Every problem is one [`Error::Data`] naming the file and the fix; nothing panics.

use super::{Dataset, MnistData, NUM_CLASSES};
use crate::error::Error;
use std::path::{Path, PathBuf};

/// Training files, in order.
pub const TRAIN_FILES: [&str; 5] = [
    "data_batch_1.bin",
    "data_batch_2.bin",
    "data_batch_3.bin",
    "data_batch_4.bin",
    "data_batch_5.bin",
];
/// The test file.
pub const TEST_FILE: &str = "test_batch.bin";
/// The archive's folder name.
pub const SUBDIR: &str = "cifar-10-batches-bin";
/// Channels, height and width of an image.
pub const SHAPE: (usize, usize, usize) = (3, 32, 32);
/// Bytes of one record: a label and 3 x 32 x 32 pixels.
pub const RECORD: usize = 1 + 3 * 32 * 32;

/// The folder holding CIFAR-10's binary files under `dir` (itself or its
/// `cifar-10-batches-bin`), if any of them is there.
pub fn find_dir(dir: &Path) -> Option<PathBuf> {
    [dir.to_path_buf(), dir.join(SUBDIR)]
        .into_iter()
        .find(|d| d.join(TEST_FILE).is_file() || TRAIN_FILES.iter().any(|f| d.join(f).is_file()))
}

/// Loads the training (the five batches, in order) and test splits from `dir` (see the module
/// documentation).
pub fn load(dir: &Path) -> Result<MnistData, Error> {
    let d = find_dir(dir).ok_or_else(|| {
        Error::Data(format!(
            "{}: no CIFAR-10 binary files ({TEST_FILE}, data_batch_1.bin, ...) here or in {SUBDIR}/: \
             pass --data-dir DIR holding the extracted cifar-10-binary.tar.gz",
            dir.display()
        ))
    })?;
    let mut train = empty();
    for f in TRAIN_FILES {
        let part = load_file(&d.join(f))?;
        train.images.extend_from_slice(&part.images);
        train.labels.extend_from_slice(&part.labels);
        train.n += part.n;
    }
    let test = load_file(&d.join(TEST_FILE))?;
    Ok(MnistData { train, test })
}

fn empty() -> Dataset {
    Dataset {
        images: Vec::new(),
        labels: Vec::new(),
        n: 0,
        channels: SHAPE.0,
        rows: SHAPE.1,
        cols: SHAPE.2,
    }
}

/// Loads one CIFAR-10 binary file.
pub fn load_file(path: &Path) -> Result<Dataset, Error> {
    if !path.is_file() {
        return Err(Error::Data(format!(
            "{}: missing file: CIFAR-10 needs {} and {TEST_FILE} in one folder",
            path.display(),
            TRAIN_FILES.join(", ")
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    parse(path, &bytes)
}

/// Parses the bytes of one file (`path` names it in errors).
pub fn parse(path: &Path, bytes: &[u8]) -> Result<Dataset, Error> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(RECORD) {
        return Err(Error::Data(format!(
            "{}: {} bytes is not a whole number of {RECORD}-byte CIFAR-10 records (a label byte and 3x32x32 pixels): \
             the file is truncated or not CIFAR-10's binary version; extract cifar-10-binary.tar.gz again",
            path.display(),
            bytes.len()
        )));
    }
    let n = bytes.len() / RECORD;
    let mut d = empty();
    d.n = n;
    d.images.reserve(n * (RECORD - 1));
    d.labels.reserve(n);
    const SCALE: f32 = 1.0 / 255.0;
    for (i, rec) in bytes.chunks_exact(RECORD).enumerate() {
        if usize::from(rec[0]) >= NUM_CLASSES {
            return Err(Error::Data(format!(
                "{}: record {i} has label {}, but CIFAR-10's labels are 0..=9: \
                 this is not CIFAR-10's binary file (CIFAR-100's records have two label bytes)",
                path.display(),
                rec[0]
            )));
        }
        d.labels.push(rec[0]);
        d.images
            .extend(rec[1..].iter().map(|&p| f32::from(p) * SCALE));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(label: u8, seed: u8) -> Vec<u8> {
        let mut r = vec![label];
        r.extend((0..RECORD - 1).map(|i| (i as u8).wrapping_mul(seed)));
        r
    }

    fn write(dir: &Path, name: &str, recs: &[(u8, u8)]) {
        let bytes: Vec<u8> = recs.iter().flat_map(|&(l, s)| record(l, s)).collect();
        std::fs::write(dir.join(name), bytes).unwrap();
    }

    #[test]
    fn loads_the_six_files_in_order_from_the_archive_folder() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join(SUBDIR);
        std::fs::create_dir(&d).unwrap();
        for (k, f) in TRAIN_FILES.iter().enumerate() {
            write(&d, f, &[(k as u8, 3), (9, 5)]);
        }
        write(&d, TEST_FILE, &[(4, 7)]);
        let data = super::super::load(tmp.path()).unwrap();
        assert_eq!((data.train.n, data.test.n), (10, 1));
        assert_eq!(data.train.labels, vec![0, 9, 1, 9, 2, 9, 3, 9, 4, 9]);
        assert_eq!(data.train.pixels(), 3072);
        assert_eq!(
            (data.test.channels, data.test.rows, data.test.cols),
            (3, 32, 32)
        );
        // red plane first: pixel 1 of record (4, 7) is byte 7, green's first is byte 1024 * 7
        let img = data.test.image(0);
        assert_eq!(img[1], 7.0 * (1.0 / 255.0));
        assert_eq!(
            img[1024],
            f32::from((1024usize * 7 % 256) as u8) * (1.0 / 255.0)
        );
    }

    #[test]
    fn bad_files_get_one_clear_error() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path();
        let e = load(p).unwrap_err().to_string();
        assert!(e.contains("no CIFAR-10 binary files"), "{e}");
        write(p, TEST_FILE, &[(1, 1)]);
        let e = load(p).unwrap_err().to_string();
        assert!(e.contains("data_batch_1.bin: missing file"), "{e}");
        let mut short = record(1, 1);
        short.pop();
        let e = parse(Path::new("x.bin"), &short).unwrap_err().to_string();
        assert!(e.contains("not a whole number"), "{e}");
        let e = parse(Path::new("x.bin"), &record(12, 1))
            .unwrap_err()
            .to_string();
        assert!(e.contains("label 12"), "{e}");
        assert!(parse(Path::new("x.bin"), &[]).is_err());
    }
}
