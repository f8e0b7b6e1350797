//! Minimal reader and writer for NumPy `.npy` files (format versions 1.0, 2.0 and 3.0) holding
//! little- or big-endian `f32` / `f64` arrays in C order. Errors name the file and the fix.
//!
//! The reader never trusts the file: it reads the fixed prefix and the header (at most
//! [`MAX_HEADER_LEN`] bytes, NumPy's own limit), parses the header as NumPy does (see
//! `header`), computes the data size from the shape and dtype, compares it with the length of
//! the file and only then reads exactly that many bytes. Nothing larger than the file is ever
//! allocated, and a device, pipe or folder given as input is refused before it is opened.

mod header;

use crate::error::Error;
use crate::fsutil::write_atomic;
use crate::matrix::Matrix;
use crate::scalar::Scalar;
use std::io::Read;
use std::path::Path;

/// A 2-D float array read from a `.npy` file.
#[derive(Debug, Clone)]
pub enum NpyMatrix {
    /// dtype float32.
    F32(Matrix<f32>),
    /// dtype float64.
    F64(Matrix<f64>),
}

/// A 1-D float array read from a `.npy` file (such as `phocas aggregate --output`).
#[derive(Debug, Clone, PartialEq)]
pub enum NpyVector {
    /// dtype float32.
    F32(Vec<f32>),
    /// dtype float64.
    F64(Vec<f64>),
}

const MAGIC: &[u8] = b"\x93NUMPY";

/// Longest header read, in bytes: NumPy's default `max_header_size` (`numpy.load` refuses
/// longer headers unless `allow_pickle=True`). Headers `numpy.save` writes for float arrays
/// are under 200 bytes.
pub const MAX_HEADER_LEN: usize = 10_000;

const NOT_NPY: &str =
    "not a NumPy .npy file (missing the \\x93NUMPY magic): save the array with numpy.save";

/// Data are read and decoded in pieces of this many bytes (a multiple of 8).
const CHUNK: usize = 1 << 16;

fn err(path: &Path, msg: impl Into<String>) -> Error {
    Error::Npy {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

/// Reads an (m, d) float32 or float64 array from a `.npy` file.
pub fn read_matrix(path: &Path) -> Result<NpyMatrix, Error> {
    let (file, len) = open_regular(path)?;
    read_matrix_from(file, len, path)
}

/// Reads a (d,) float32 or float64 array from a `.npy` file.
pub fn read_vector(path: &Path) -> Result<NpyVector, Error> {
    let (file, len) = open_regular(path)?;
    read_vector_from(file, len, path)
}

/// Reads an (m, d) array from `reader`, which holds exactly `len` bytes (the length of the
/// file; a byte slice is a reader of its own length). `path` only names the source in errors.
/// At most `len` bytes are allocated.
pub fn read_matrix_from<R: Read>(reader: R, len: u64, path: &Path) -> Result<NpyMatrix, Error> {
    let (shape, data) = read_array(reader, len, path, 2)?;
    let (m, d) = (shape[0], shape[1]);
    Ok(match data {
        NpyVector::F32(v) => NpyMatrix::F32(Matrix::from_vec(v, m, d)?),
        NpyVector::F64(v) => NpyMatrix::F64(Matrix::from_vec(v, m, d)?),
    })
}

/// Reads a (d,) array from `reader`, which holds exactly `len` bytes (see
/// [`read_matrix_from`]).
pub fn read_vector_from<R: Read>(reader: R, len: u64, path: &Path) -> Result<NpyVector, Error> {
    Ok(read_array(reader, len, path, 1)?.1)
}

/// Opens `path` for reading if it is a regular file (following symbolic links), with its
/// length. A device such as /dev/zero, a FIFO (opening it would wait for a writer) or a
/// folder is refused before it is opened.
fn open_regular(path: &Path) -> Result<(std::fs::File, u64), Error> {
    let io = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::NotFound {
            err(path, "file not found: check the path given to --input")
        } else {
            Error::io(path, e)
        }
    };
    let not_regular = || {
        err(
            path,
            "not a regular file (a device, pipe or folder): save the array with numpy.save to a file",
        )
    };
    if !std::fs::metadata(path).map_err(io)?.is_file() {
        return Err(not_regular());
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(not_regular()); // replaced between the two looks
    }
    Ok((file, meta.len()))
}

/// Reads a float32 or float64 C-order array of the given rank (1 or 2): its shape and data.
fn read_array<R: Read>(
    mut r: R,
    len: u64,
    path: &Path,
    rank: usize,
) -> Result<(Vec<usize>, NpyVector), Error> {
    let truncated = || err(path, "truncated .npy header");
    let io = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            err(
                path,
                "the file ended early: it was shortened while being read",
            )
        } else {
            Error::io(path, e)
        }
    };
    // magic (6 bytes), version (2), header length (2 in version 1, 4 in versions 2 and 3)
    let mut pre = [0u8; 12];
    let got = usize::try_from(len.min(10)).unwrap_or(10);
    r.read_exact(&mut pre[..got]).map_err(io)?;
    if got < MAGIC.len() || &pre[..MAGIC.len()] != MAGIC {
        return Err(err(path, NOT_NPY));
    }
    if got < 10 {
        return Err(truncated());
    }
    let (major, minor) = (pre[6], pre[7]);
    let (hlen, start) = match (major, minor) {
        (1, 0) => (u64::from(u16::from_le_bytes([pre[8], pre[9]])), 10u64),
        (2 | 3, 0) => {
            if len < 12 {
                return Err(truncated());
            }
            r.read_exact(&mut pre[10..12]).map_err(io)?;
            (
                u64::from(u32::from_le_bytes([pre[8], pre[9], pre[10], pre[11]])),
                12,
            )
        }
        _ => {
            return Err(err(
                path,
                format!("unsupported .npy format version {major}.{minor}: versions 1.0, 2.0 and 3.0 are read"),
            ))
        }
    };
    if start + hlen > len {
        return Err(truncated());
    }
    let hlen = usize::try_from(hlen)
        .ok()
        .filter(|&n| n <= MAX_HEADER_LEN)
        .ok_or_else(|| {
            err(
                path,
                format!("the .npy header is {hlen} bytes long, more than the {MAX_HEADER_LEN} NumPy reads: the file is corrupt or not a plain array"),
            )
        })?;
    let mut text = vec![0u8; hlen];
    r.read_exact(&mut text).map_err(io)?;
    if major == 3 && std::str::from_utf8(&text).is_err() {
        return Err(err(
            path,
            "the .npy header is not valid UTF-8 (format version 3.0)",
        ));
    }
    let h = header::parse(&text, major < 3).map_err(|msg| err(path, msg))?;
    if h.fortran_order {
        return Err(err(
            path,
            "array is in Fortran order: save numpy.ascontiguousarray(x) instead",
        ));
    }
    if rank == 1 && h.shape.len() != 1 {
        return Err(err(
            path,
            format!(
                "expected a 1-D array of shape (d,), got shape {:?}",
                h.shape
            ),
        ));
    }
    if rank == 2 && h.shape.len() != 2 {
        return Err(err(
            path,
            format!(
                "expected a 2-D array of shape (m, d), one row per worker, got shape {:?}: reshape to (m, d)",
                h.shape
            ),
        ));
    }
    if let [m, d] = h.shape[..] {
        if m == 0 || d == 0 {
            return Err(err(
                path,
                format!("array of shape ({m}, {d}) is empty: at least one worker and one coordinate are needed"),
            ));
        }
    }
    let (size, big): (usize, bool) = match h.descr.as_slice() {
        b"<f4" | b"=f4" | b"|f4" => (4, false),
        b">f4" => (4, true),
        b"<f8" | b"=f8" | b"|f8" => (8, false),
        b">f8" => (8, true),
        other => {
            return Err(err(
                path,
                format!("dtype '{}' is not supported: convert with x.astype(numpy.float32) or numpy.float64", header::shown(other)),
            ))
        }
    };
    let descr = header::shown(&h.descr);
    let count = h.shape.iter().try_fold(1usize, |n, &s| n.checked_mul(s));
    let need = count
        .and_then(|c| c.checked_mul(size))
        .and_then(|n| u64::try_from(n).ok());
    let have = len - start - hlen as u64;
    if need != Some(have) {
        let shape = shape_str(&h.shape);
        let msg = match need {
            Some(n) if n < have => format!(
                "data has {have} bytes but shape {shape} of {descr} needs {n}: the file is corrupt ({} bytes after the array)",
                have - n
            ),
            Some(n) => format!(
                "data has {have} bytes but shape {shape} of {descr} needs {n}: the file is truncated or corrupt"
            ),
            None => format!(
                "data has {have} bytes but shape {shape} of {descr} needs more than 2^64: the file is truncated or corrupt"
            ),
        };
        return Err(err(path, msg));
    }
    let count = count.unwrap_or(0); // need == Some(have): the count did not overflow
    let v = if size == 4 {
        NpyVector::F32(read_data::<f32, R>(&mut r, count, big).map_err(io)?)
    } else {
        NpyVector::F64(read_data::<f64, R>(&mut r, count, big).map_err(io)?)
    };
    Ok((h.shape, v))
}

/// Reads `count` values of type `T` from `r`, decoding one [`CHUNK`] at a time.
fn read_data<T: Scalar, R: Read>(r: &mut R, count: usize, big: bool) -> std::io::Result<Vec<T>> {
    let mut out = Vec::with_capacity(count);
    let mut buf = vec![0u8; CHUNK.min(count * T::SIZE)];
    let mut left = count * T::SIZE;
    while left > 0 {
        let k = left.min(buf.len());
        r.read_exact(&mut buf[..k])?;
        out.extend(buf[..k].chunks_exact(T::SIZE).map(|c| {
            if big {
                T::from_be_slice(c)
            } else {
                T::from_le_slice(c)
            }
        }));
        left -= k;
    }
    Ok(out)
}

/// A shape as NumPy prints it: `(3,)`, `(2, 3)`.
fn shape_str(shape: &[usize]) -> String {
    match shape {
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The magic, version and padded header of a version 1.0 `.npy` file of dtype `descr`.
fn preamble(descr: &str, shape: &[usize], data_bytes: usize) -> Vec<u8> {
    let mut header = format!(
        "{{'descr': '{descr}', 'fortran_order': False, 'shape': {}, }}",
        shape_str(shape)
    );
    let total = 10 + header.len() + 1;
    let pad = (64 - total % 64) % 64;
    header.push_str(&" ".repeat(pad));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data_bytes);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    out
}

/// Encodes `data` with the given shape as a version 1.0 `.npy` file.
pub fn encode<T: Scalar>(data: &[T], shape: &[usize]) -> Vec<u8> {
    let mut out = preamble(T::DESCR, shape, data.len() * T::SIZE);
    for v in data {
        v.to_le_bytes_vec(&mut out);
    }
    out
}

/// Writes a boolean array (NumPy dtype `bool`) with the given shape to `path` atomically.
pub fn write_bool(path: &Path, data: &[bool], shape: &[usize]) -> Result<(), Error> {
    let mut out = preamble("|b1", shape, data.len());
    out.extend(data.iter().map(|&b| u8::from(b)));
    write_atomic(path, &out)
}

/// Writes `data` with the given shape to `path` atomically.
pub fn write<T: Scalar>(path: &Path, data: &[T], shape: &[usize]) -> Result<(), Error> {
    write_atomic(path, &encode(data, shape))
}

#[cfg(test)]
mod tests;
