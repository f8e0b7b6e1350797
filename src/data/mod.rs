//! MNIST-format (IDX) data sets: the loader for the paper's MNIST experiment (Section 5,
//! Table 1), which this workbench runs on Fashion-MNIST, a drop-in replacement with the same
//! file format, sizes (60k train / 10k test, 28x28 grey images, 10 classes) and file names.
//!
//! [`load`] reads the four files
//!
//! | file | content |
//! | --- | --- |
//! | `train-images-idx3-ubyte` | training images, magic 2051 |
//! | `train-labels-idx1-ubyte` | training labels, magic 2049 |
//! | `t10k-images-idx3-ubyte` | test images, magic 2051 |
//! | `t10k-labels-idx1-ubyte` | test labels, magic 2049 |
//!
//! from one directory, each either raw or gzipped (the name with a `.gz` suffix; when both
//! exist the raw file is used). Whether a file is gzipped is decided by its first two bytes,
//! so a misnamed file still loads. The default directory is [`DEFAULT_DATA_DIR`], where
//! Debian's package `dataset-fashion-mnist` installs the gzipped files.
//!
//! IDX format: a big-endian u32 magic number (0x00000803 = 2051 for images, 0x00000801 = 2049
//! for labels), then one big-endian u32 per dimension (count, or count, rows, cols), then the
//! unsigned bytes. Images are scaled to `[0, 1]` (byte / 255) and stored as `f32`, row-major,
//! one image after another.
//!
//! Every problem is reported as [`Error::Data`] (or [`Error::Io`] for an unreadable file)
//! naming the file and the fix; the loader never panics on bad input.
//!
//! A folder holding CIFAR-10's binary files instead ([`cifar`]) is recognised by [`load`] and
//! read as such (3 x 32 x 32 colour images, for the CNN).

pub mod cifar;
pub mod split;

use crate::error::Error;
use flate2::read::MultiGzDecoder;
use rayon::prelude::*;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Where Debian's `dataset-fashion-mnist` package installs Fashion-MNIST.
pub const DEFAULT_DATA_DIR: &str = "/usr/share/datasets/fashion-mnist";

/// File name (without `.gz`) of the training images.
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
/// File name (without `.gz`) of the training labels.
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
/// File name (without `.gz`) of the test images.
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
/// File name (without `.gz`) of the test labels.
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// IDX magic number of an image file (unsigned bytes, 3 dimensions).
pub const IMAGES_MAGIC: u32 = 2051;
/// IDX magic number of a label file (unsigned bytes, 1 dimension).
pub const LABELS_MAGIC: u32 = 2049;

/// Number of classes; labels must be below this.
pub const NUM_CLASSES: usize = 10;

/// The fix suggested whenever the data cannot be found.
pub const INSTALL_HINT: &str =
    "apt-get install dataset-fashion-mnist, or pass --data-dir DIR holding the four MNIST-format files";

/// One split (train or test) of an MNIST-format data set.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// `n x (rows * cols)` pixel values scaled to `[0, 1]`, row-major, one image per row.
    pub images: Vec<f32>,
    /// `n` labels, each in `0..10`.
    pub labels: Vec<u8>,
    /// Number of samples.
    pub n: usize,
    /// Colour channels (1 for MNIST, 3 for CIFAR-10); pixels are stored channel after
    /// channel (`c x rows x cols` per image, as PyTorch's NCHW).
    pub channels: usize,
    /// Image height in pixels (28 for MNIST).
    pub rows: usize,
    /// Image width in pixels (28 for MNIST).
    pub cols: usize,
}

impl Dataset {
    /// Number of values per image (`channels * rows * cols`: 784 for MNIST, 3072 for
    /// CIFAR-10).
    pub fn pixels(&self) -> usize {
        self.channels * self.rows * self.cols
    }

    /// The pixels of image `i` (panics if `i >= n`).
    pub fn image(&self, i: usize) -> &[f32] {
        let p = self.pixels();
        &self.images[i * p..(i + 1) * p]
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether the split has no sample.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }
}

/// The training and test splits.
#[derive(Debug, Clone, PartialEq)]
pub struct MnistData {
    /// Training split (60000 samples for MNIST / Fashion-MNIST).
    pub train: Dataset,
    /// Test split (10000 samples for MNIST / Fashion-MNIST).
    pub test: Dataset,
}

/// Loads the four MNIST-format files from `dir` (see the module documentation), or CIFAR-10's
/// binary files when `dir` (or its `cifar-10-batches-bin`) holds them.
pub fn load(dir: &Path) -> Result<MnistData, Error> {
    if dir.is_dir() && cifar::find_dir(dir).is_some() {
        return cifar::load(dir);
    }
    if !dir.exists() {
        return Err(Error::Data(format!(
            "data directory {} does not exist: {INSTALL_HINT}",
            dir.display()
        )));
    }
    if !dir.is_dir() {
        return Err(Error::Data(format!(
            "data directory {} is not a directory: {INSTALL_HINT}",
            dir.display()
        )));
    }
    // the two splits decompress side by side (the training images alone take most of it)
    let (train, test) = rayon::join(
        || load_split(dir, TRAIN_IMAGES, TRAIN_LABELS),
        || load_split(dir, TEST_IMAGES, TEST_LABELS),
    );
    let (train, test) = (train?, test?);
    if train.pixels() != test.pixels() {
        return Err(Error::Data(format!(
            "{}: training images are {}x{} but test images are {}x{}: the files come from different data sets",
            dir.display(),
            train.rows,
            train.cols,
            test.rows,
            test.cols
        )));
    }
    Ok(MnistData { train, test })
}

/// Loads one split from the image file `images` and the label file `labels` (names without
/// `.gz`) in `dir`.
pub fn load_split(dir: &Path, images: &str, labels: &str) -> Result<Dataset, Error> {
    let img_path = find_file(dir, images)?;
    let lab_path = find_file(dir, labels)?;
    let img_bytes = read_maybe_gz(&img_path)?;
    let (pixels, n_img, rows, cols) = parse_images(&img_path, &img_bytes)?;
    let labels = parse_labels(&lab_path, &read_maybe_gz(&lab_path)?)?;
    if labels.len() != n_img {
        return Err(Error::Data(format!(
            "{} holds {n_img} images but {} holds {} labels: the two files do not belong together \
             (reinstall dataset-fashion-mnist, or use matching files)",
            img_path.display(),
            lab_path.display(),
            labels.len()
        )));
    }
    const SCALE: f32 = 1.0 / 255.0;
    // in parallel: the first touch of the 4 bytes a pixel (page faults) is most of the cost
    let images = pixels
        .par_iter()
        .with_min_len(1 << 16)
        .map(|&p| f32::from(p) * SCALE)
        .collect();
    Ok(Dataset {
        images,
        labels,
        n: n_img,
        channels: 1,
        rows,
        cols,
    })
}

/// Finds `dir/name` or `dir/name.gz` (the raw file first).
pub fn find_file(dir: &Path, name: &str) -> Result<PathBuf, Error> {
    let raw = dir.join(name);
    let gz = dir.join(format!("{name}.gz"));
    for p in [&raw, &gz] {
        if p.is_file() {
            return Ok(p.clone());
        }
    }
    Err(Error::Data(format!(
        "{}: missing file (looked for {name} and {name}.gz): {INSTALL_HINT}",
        dir.display()
    )))
}

/// Reads a file, gunzipping it when it starts with the gzip magic bytes.
fn read_maybe_gz(path: &Path) -> Result<Vec<u8>, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let is_gz_name = path.extension().is_some_and(|e| e == "gz");
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(bytes.len().saturating_mul(4));
        MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .map_err(|e| {
                Error::Data(format!(
                    "{}: corrupt or truncated gzip data ({e}): reinstall dataset-fashion-mnist or replace the file",
                    path.display()
                ))
            })?;
        Ok(out)
    } else if is_gz_name {
        Err(Error::Data(format!(
            "{}: not gzip data (the file is named .gz but does not start with the gzip header): \
             reinstall dataset-fashion-mnist or replace the file",
            path.display()
        )))
    } else {
        Ok(bytes)
    }
}

/// Reads big-endian u32 number `k` of the header; `None` if the file is too short.
fn header_u32(bytes: &[u8], k: usize) -> Option<u32> {
    let b = bytes.get(4 * k..4 * k + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn truncated(path: &Path, what: &str, expected: usize, found: usize) -> Error {
    Error::Data(format!(
        "{}: truncated file ({what}: expected {expected} bytes, found {found}): \
         reinstall dataset-fashion-mnist or replace the file",
        path.display()
    ))
}

fn check_magic(path: &Path, bytes: &[u8], want: u32, kind: &str) -> Result<(), Error> {
    let magic = header_u32(bytes, 0).ok_or_else(|| truncated(path, "header", 4, bytes.len()))?;
    if magic != want {
        let other = if want == IMAGES_MAGIC {
            format!(" ({LABELS_MAGIC} would be a label file)")
        } else if magic == IMAGES_MAGIC {
            format!(" ({IMAGES_MAGIC} is an image file)")
        } else {
            String::new()
        };
        return Err(Error::Data(format!(
            "{}: wrong magic number {magic} (0x{magic:08x}), expected {want} for an IDX {kind} file{other}: \
             this is not an MNIST-format {kind} file; pass --data-dir DIR holding the four MNIST-format files",
            path.display()
        )));
    }
    Ok(())
}

fn check_len(path: &Path, bytes: &[u8], expected: usize) -> Result<(), Error> {
    if bytes.len() < expected {
        return Err(truncated(path, "data", expected, bytes.len()));
    }
    if bytes.len() > expected {
        return Err(Error::Data(format!(
            "{}: {} bytes after the data announced by the header ({expected} bytes expected): \
             the header does not match the content; replace the file",
            path.display(),
            bytes.len() - expected
        )));
    }
    Ok(())
}

/// Parses an IDX image file: returns (the pixel bytes, n, rows, cols).
fn parse_images<'a>(
    path: &Path,
    bytes: &'a [u8],
) -> Result<(&'a [u8], usize, usize, usize), Error> {
    check_magic(path, bytes, IMAGES_MAGIC, "image")?;
    let hdr = |k| {
        header_u32(bytes, k)
            .map(|v| v as usize)
            .ok_or_else(|| truncated(path, "header", 16, bytes.len()))
    };
    let (n, rows, cols) = (hdr(1)?, hdr(2)?, hdr(3)?);
    let expected = n
        .checked_mul(rows)
        .and_then(|v| v.checked_mul(cols))
        .and_then(|v| v.checked_add(16))
        .ok_or_else(|| {
            Error::Data(format!(
                "{}: impossible header ({n} images of {rows}x{cols}): replace the file",
                path.display()
            ))
        })?;
    check_len(path, bytes, expected)?;
    Ok((&bytes[16..], n, rows, cols))
}

/// Parses an IDX label file and checks every label is below [`NUM_CLASSES`].
fn parse_labels(path: &Path, bytes: &[u8]) -> Result<Vec<u8>, Error> {
    check_magic(path, bytes, LABELS_MAGIC, "label")?;
    let n = header_u32(bytes, 1).ok_or_else(|| truncated(path, "header", 8, bytes.len()))? as usize;
    check_len(path, bytes, n.saturating_add(8))?;
    let labels = &bytes[8..];
    if let Some((i, &l)) = labels
        .iter()
        .enumerate()
        .find(|(_, &l)| usize::from(l) >= NUM_CLASSES)
    {
        return Err(Error::Data(format!(
            "{}: label {l} at index {i} is out of range (labels must be 0..=9): \
             this is not a 10-class MNIST-format label file; replace the file",
            path.display()
        )));
    }
    Ok(labels.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use flate2::Compression;
    use std::io::Write;

    fn idx_images(n: u32, rows: u32, cols: u32, fill: impl Fn(usize) -> u8) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&IMAGES_MAGIC.to_be_bytes());
        v.extend_from_slice(&n.to_be_bytes());
        v.extend_from_slice(&rows.to_be_bytes());
        v.extend_from_slice(&cols.to_be_bytes());
        v.extend((0..(n * rows * cols) as usize).map(fill));
        v
    }

    fn idx_labels(labels: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
        v.extend_from_slice(&(labels.len() as u32).to_be_bytes());
        v.extend_from_slice(labels);
        v
    }

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    /// Writes a complete tiny data set: 3 train and 2 test images of 2x3 pixels.
    fn write_set(dir: &Path, gzipped: bool) {
        let files: [(&str, Vec<u8>); 4] = [
            (TRAIN_IMAGES, idx_images(3, 2, 3, |i| (i * 13 % 256) as u8)),
            (TRAIN_LABELS, idx_labels(&[0, 9, 4])),
            (
                TEST_IMAGES,
                idx_images(2, 2, 3, |i| if i == 0 { 255 } else { 0 }),
            ),
            (TEST_LABELS, idx_labels(&[7, 1])),
        ];
        for (name, bytes) in files {
            if gzipped {
                std::fs::write(dir.join(format!("{name}.gz")), gz(&bytes)).unwrap();
            } else {
                std::fs::write(dir.join(name), bytes).unwrap();
            }
        }
    }

    fn err_msg(dir: &Path) -> String {
        load(dir).unwrap_err().to_string()
    }

    fn check_tiny(d: &MnistData) {
        assert_eq!((d.train.n, d.train.rows, d.train.cols), (3, 2, 3));
        assert_eq!(d.train.images.len(), 18);
        assert_eq!(d.train.labels, vec![0, 9, 4]);
        for (i, &p) in d.train.images.iter().enumerate() {
            assert!((p - (i * 13 % 256) as f32 / 255.0).abs() < 1e-7);
        }
        assert_eq!(d.test.n, 2);
        assert_eq!(d.test.labels, vec![7, 1]);
        assert!((d.test.images[0] - 1.0).abs() < 1e-7);
        assert!(d.test.images[1..].iter().all(|&p| p == 0.0));
        assert_eq!(d.test.image(1), &[0.0; 6]);
        assert_eq!(d.test.pixels(), 6);
    }

    #[test]
    fn loads_raw_files() {
        let t = tempfile::tempdir().unwrap();
        write_set(t.path(), false);
        check_tiny(&load(t.path()).unwrap());
    }

    #[test]
    fn loads_gzipped_files() {
        let t = tempfile::tempdir().unwrap();
        write_set(t.path(), true);
        check_tiny(&load(t.path()).unwrap());
    }

    #[test]
    fn prefers_raw_file_when_both_exist() {
        let t = tempfile::tempdir().unwrap();
        write_set(t.path(), false);
        // A broken .gz next to a good raw file must be ignored.
        std::fs::write(t.path().join(format!("{TRAIN_IMAGES}.gz")), b"junk").unwrap();
        check_tiny(&load(t.path()).unwrap());
    }

    #[test]
    fn gzipped_content_under_raw_name_loads() {
        let t = tempfile::tempdir().unwrap();
        write_set(t.path(), false);
        let p = t.path().join(TRAIN_LABELS);
        std::fs::write(&p, gz(&idx_labels(&[0, 9, 4]))).unwrap();
        check_tiny(&load(t.path()).unwrap());
    }

    #[test]
    fn missing_directory() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("nope");
        let m = err_msg(&dir);
        assert!(m.contains("does not exist"), "{m}");
        assert!(m.contains(&dir.display().to_string()), "{m}");
        assert!(m.contains(INSTALL_HINT), "{m}");
    }

    #[test]
    fn directory_is_a_file() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("file");
        std::fs::write(&f, b"x").unwrap();
        let m = err_msg(&f);
        assert!(m.contains("is not a directory"), "{m}");
    }

    #[test]
    fn missing_file() {
        let t = tempfile::tempdir().unwrap();
        write_set(t.path(), true);
        std::fs::remove_file(t.path().join(format!("{TEST_LABELS}.gz"))).unwrap();
        let m = err_msg(t.path());
        assert!(m.contains("missing file"), "{m}");
        assert!(
            m.contains(TEST_LABELS) && m.contains(&format!("{TEST_LABELS}.gz")),
            "{m}"
        );
        assert!(m.contains(INSTALL_HINT), "{m}");
    }

    #[test]
    fn truncated_images() {
        let t = tempfile::tempdir().unwrap();
        write_set(t.path(), false);
        let p = t.path().join(TRAIN_IMAGES);
        let mut b = std::fs::read(&p).unwrap();
        b.truncate(b.len() - 1);
        std::fs::write(&p, b).unwrap();
        let m = err_msg(t.path());
        assert!(m.contains("truncated") && m.contains(TRAIN_IMAGES), "{m}");
        assert!(m.contains("expected 34 bytes, found 33"), "{m}");
    }

    #[test]
    fn truncated_header() {
        let t = tempfile::tempdir().unwrap();
        write_set(t.path(), false);
        std::fs::write(
            t.path().join(TRAIN_IMAGES),
            &idx_images(3, 2, 3, |_| 0)[..10],
        )
        .unwrap();
        let m = err_msg(t.path());
        assert!(m.contains("truncated") && m.contains("header"), "{m}");
        std::fs::write(t.path().join(TRAIN_IMAGES), [0u8, 0]).unwrap();
        let m = err_msg(t.path());
        assert!(m.contains("truncated") && m.contains("header"), "{m}");
        write_set(t.path(), false);
        std::fs::write(t.path().join(TEST_LABELS), &idx_labels(&[7, 1])[..6]).unwrap();
        let m = err_msg(t.path());
        assert!(m.contains("truncated") && m.contains(TEST_LABELS), "{m}");
    }

    #[test]
    fn truncated_labels() {
        let t = tempfile::tempdir().unwrap();
        write_set(t.path(), false);
        let mut b = idx_labels(&[7, 1]);
        b.pop();
        std::fs::write(t.path().join(TEST_LABELS), b).unwrap();
        let m = err_msg(t.path());
        assert!(m.contains("truncated") && m.contains(TEST_LABELS), "{m}");
    }

    #[test]
    fn trailing_bytes() {
        let t = tempfile::tempdir().unwrap();
        write_set(t.path(), false);
        let mut b = idx_labels(&[0, 9, 4]);
        b.push(0);
        std::fs::write(t.path().join(TRAIN_LABELS), b).unwrap();
        let m = err_msg(t.path());
        assert!(m.contains("1 bytes after the data"), "{m}");
    }

    #[test]
    fn wrong_magic_images() {
        let t = tempfile::tempdir().unwrap();
        write_set(t.path(), false);
        // A label file where the image file should be.
        std::fs::write(t.path().join(TRAIN_IMAGES), idx_labels(&[1, 2, 3])).unwrap();
        let m = err_msg(t.path());
        assert!(m.contains("wrong magic number 2049"), "{m}");
        assert!(m.contains("expected 2051"), "{m}");
        assert!(m.contains(TRAIN_IMAGES), "{m}");
    }

    #[test]
    fn wrong_magic_labels() {
        let t = tempfile::tempdir().unwrap();
        write_set(t.path(), true);
        let mut b = idx_labels(&[0, 9, 4]);
        b[3] = 0x42;
        std::fs::write(t.path().join(format!("{TRAIN_LABELS}.gz")), gz(&b)).unwrap();
        let m = err_msg(t.path());
        assert!(
            m.contains("wrong magic number") && m.contains("expected 2049"),
            "{m}"
        );
        assert!(m.contains(&format!("{TRAIN_LABELS}.gz")), "{m}");
    }

    #[test]
    fn mismatched_counts() {
        let t = tempfile::tempdir().unwrap();
        write_set(t.path(), false);
        std::fs::write(t.path().join(TRAIN_LABELS), idx_labels(&[0, 9])).unwrap();
        let m = err_msg(t.path());
        assert!(m.contains("3 images") && m.contains("2 labels"), "{m}");
        assert!(m.contains(TRAIN_IMAGES) && m.contains(TRAIN_LABELS), "{m}");
    }

    #[test]
    fn label_out_of_range() {
        let t = tempfile::tempdir().unwrap();
        write_set(t.path(), false);
        std::fs::write(t.path().join(TEST_LABELS), idx_labels(&[7, 10])).unwrap();
        let m = err_msg(t.path());
        assert!(m.contains("label 10 at index 1"), "{m}");
        assert!(m.contains(TEST_LABELS), "{m}");
    }

    #[test]
    fn impossible_header() {
        let t = tempfile::tempdir().unwrap();
        write_set(t.path(), false);
        let mut b = Vec::new();
        for v in [IMAGES_MAGIC, u32::MAX, u32::MAX, u32::MAX] {
            b.extend_from_slice(&v.to_be_bytes());
        }
        std::fs::write(t.path().join(TRAIN_IMAGES), b).unwrap();
        let m = err_msg(t.path());
        assert!(
            m.contains("impossible header") || m.contains("truncated"),
            "{m}"
        );
    }

    #[test]
    fn corrupt_gzip() {
        let t = tempfile::tempdir().unwrap();
        write_set(t.path(), true);
        let p = t.path().join(format!("{TRAIN_IMAGES}.gz"));
        let good = std::fs::read(&p).unwrap();
        // Truncated gzip stream.
        std::fs::write(&p, &good[..good.len() / 2]).unwrap();
        let m = err_msg(t.path());
        assert!(m.contains("corrupt or truncated gzip"), "{m}");
        assert!(m.contains(&format!("{TRAIN_IMAGES}.gz")), "{m}");
        // Flipped bytes in the compressed body (CRC or deflate error).
        let mut bad = good.clone();
        let mid = bad.len() / 2;
        for b in &mut bad[mid..mid + 4] {
            *b ^= 0xff;
        }
        std::fs::write(&p, &bad).unwrap();
        let m = err_msg(t.path());
        assert!(m.contains("corrupt or truncated gzip"), "{m}");
        // Not gzip at all, though named .gz.
        std::fs::write(&p, b"plain text").unwrap();
        let m = err_msg(t.path());
        assert!(m.contains("not gzip data"), "{m}");
    }

    #[test]
    fn mismatched_image_sizes_between_splits() {
        let t = tempfile::tempdir().unwrap();
        write_set(t.path(), false);
        std::fs::write(t.path().join(TEST_IMAGES), idx_images(2, 3, 3, |_| 0)).unwrap();
        let m = err_msg(t.path());
        assert!(m.contains("2x3") && m.contains("3x3"), "{m}");
    }

    /// Loads the real Fashion-MNIST if Debian's `dataset-fashion-mnist` is installed.
    #[test]
    fn real_fashion_mnist_if_installed() {
        let dir = Path::new(DEFAULT_DATA_DIR);
        if !dir.is_dir() {
            eprintln!(
                "note: skipping real_fashion_mnist_if_installed: {DEFAULT_DATA_DIR} is absent \
                 (apt-get install dataset-fashion-mnist)"
            );
            return;
        }
        let d = load(dir).unwrap();
        assert_eq!((d.train.n, d.train.rows, d.train.cols), (60000, 28, 28));
        assert_eq!((d.test.n, d.test.rows, d.test.cols), (10000, 28, 28));
        assert_eq!(d.train.images.len(), 60000 * 784);
        assert_eq!(d.test.images.len(), 10000 * 784);
        assert!(d.train.images.iter().all(|&p| (0.0..=1.0).contains(&p)));
        // Fashion-MNIST is balanced: 6000 training and 1000 test samples per class.
        let mut counts = [0usize; 10];
        for &l in &d.train.labels {
            counts[usize::from(l)] += 1;
        }
        assert_eq!(counts, [6000; 10]);
        let mut counts = [0usize; 10];
        for &l in &d.test.labels {
            counts[usize::from(l)] += 1;
        }
        assert_eq!(counts, [1000; 10]);
    }
}
