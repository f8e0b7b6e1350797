//! Minimal reader and writer for NumPy `.npy` files (format versions 1, 2 and 3) holding
//! little- or big-endian `f32` / `f64` arrays in C order. Errors name the file and the fix.

use crate::error::Error;
use crate::fsutil::write_atomic;
use crate::matrix::Matrix;
use crate::scalar::Scalar;
use std::path::Path;

/// A 2-D float array read from a `.npy` file.
#[derive(Debug, Clone)]
pub enum NpyMatrix {
    /// dtype float32.
    F32(Matrix<f32>),
    /// dtype float64.
    F64(Matrix<f64>),
}

const MAGIC: &[u8] = b"\x93NUMPY";

fn err(path: &Path, msg: impl Into<String>) -> Error {
    Error::Npy {
        path: path.to_path_buf(),
        msg: msg.into(),
    }
}

/// Header fields we need.
struct Header {
    descr: String,
    fortran: bool,
    shape: Vec<usize>,
}

fn field<'a>(h: &'a str, key: &str) -> Option<&'a str> {
    let pat1 = format!("'{key}'");
    let pat2 = format!("\"{key}\"");
    let pos = h.find(&pat1).or_else(|| h.find(&pat2))?;
    let rest = &h[pos + pat1.len()..];
    let colon = rest.find(':')?;
    Some(rest[colon + 1..].trim_start())
}

fn parse_header(path: &Path, h: &str) -> Result<Header, Error> {
    let bad = |what: &str| {
        err(
            path,
            format!("malformed .npy header ({what}): {}", h.trim()),
        )
    };
    let descr_s = field(h, "descr").ok_or_else(|| bad("no 'descr'"))?;
    let q = descr_s.chars().next().ok_or_else(|| bad("empty 'descr'"))?;
    if q != '\'' && q != '"' {
        return Err(err(
            path,
            format!(
                "structured dtype {} is not supported: save a plain float32 or float64 array",
                descr_s.split('}').next().unwrap_or(descr_s)
            ),
        ));
    }
    let end = descr_s[1..]
        .find(q)
        .ok_or_else(|| bad("unterminated 'descr'"))?;
    let descr = descr_s[1..1 + end].to_string();
    let fo = field(h, "fortran_order").ok_or_else(|| bad("no 'fortran_order'"))?;
    let fortran = if fo.starts_with("True") {
        true
    } else if fo.starts_with("False") {
        false
    } else {
        return Err(bad("'fortran_order' is neither True nor False"));
    };
    let sh = field(h, "shape").ok_or_else(|| bad("no 'shape'"))?;
    if !sh.starts_with('(') {
        return Err(bad("'shape' is not a tuple"));
    }
    let close = sh.find(')').ok_or_else(|| bad("unterminated 'shape'"))?;
    let mut shape = Vec::new();
    for part in sh[1..close].split(',') {
        let p = part.trim().trim_end_matches('L');
        if p.is_empty() {
            continue;
        }
        shape.push(
            p.parse::<usize>()
                .map_err(|_| bad("'shape' entry is not a non-negative integer"))?,
        );
    }
    Ok(Header {
        descr,
        fortran,
        shape,
    })
}

fn decode<T: Scalar>(bytes: &[u8], big: bool) -> Vec<T> {
    bytes
        .chunks_exact(T::SIZE)
        .map(|c| {
            if big {
                T::from_be_slice(c)
            } else {
                T::from_le_slice(c)
            }
        })
        .collect()
}

/// A 1-D float array read from a `.npy` file (such as `phocas aggregate --output`).
#[derive(Debug, Clone, PartialEq)]
pub enum NpyVector {
    /// dtype float32.
    F32(Vec<f32>),
    /// dtype float64.
    F64(Vec<f64>),
}

/// Reads an (m, d) float32 or float64 array from a `.npy` file.
pub fn read_matrix(path: &Path) -> Result<NpyMatrix, Error> {
    let (shape, data) = read_array(path, 2)?;
    let (m, d) = (shape[0], shape[1]);
    Ok(match data {
        NpyVector::F32(v) => NpyMatrix::F32(Matrix::from_vec(v, m, d)?),
        NpyVector::F64(v) => NpyMatrix::F64(Matrix::from_vec(v, m, d)?),
    })
}

/// Reads a (d,) float32 or float64 array from a `.npy` file.
pub fn read_vector(path: &Path) -> Result<NpyVector, Error> {
    Ok(read_array(path, 1)?.1)
}

/// Reads a float32 or float64 C-order array of the given rank (1 or 2): its shape and data.
fn read_array(path: &Path, rank: usize) -> Result<(Vec<usize>, NpyVector), Error> {
    let bytes = std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            err(path, "file not found: check the path given to --input")
        } else {
            Error::io(path, e)
        }
    })?;
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(err(
            path,
            "not a NumPy .npy file (missing the \\x93NUMPY magic): save the array with numpy.save",
        ));
    }
    let major = bytes[6];
    let (hlen, start) = match major {
        1 => (
            usize::from(u16::from_le_bytes([bytes[8], bytes[9]])),
            10usize,
        ),
        2 | 3 => {
            if bytes.len() < 12 {
                return Err(err(path, "truncated .npy header"));
            }
            (
                u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
                12,
            )
        }
        v => {
            return Err(err(
                path,
                format!("unsupported .npy format version {v}: versions 1, 2 and 3 are read"),
            ))
        }
    };
    let hend = start
        .checked_add(hlen)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| err(path, "truncated .npy header"))?;
    let header = std::str::from_utf8(&bytes[start..hend])
        .map_err(|_| err(path, "the .npy header is not valid text"))?;
    let h = parse_header(path, header)?;
    if h.fortran {
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
    let (size, big): (usize, bool) = match h.descr.as_str() {
        "<f4" | "=f4" | "|f4" => (4, false),
        ">f4" => (4, true),
        "<f8" | "=f8" | "|f8" => (8, false),
        ">f8" => (8, true),
        other => {
            return Err(err(
                path,
                format!("dtype '{other}' is not supported: convert with x.astype(numpy.float32) or numpy.float64"),
            ))
        }
    };
    let n = h
        .shape
        .iter()
        .try_fold(size, |n, &s| n.checked_mul(s))
        .ok_or_else(|| err(path, "shape too large"))?;
    let data = &bytes[hend..];
    if data.len() != n {
        return Err(err(
            path,
            format!(
                "data has {} bytes but shape {} of {} needs {n}: the file is truncated or corrupt",
                data.len(),
                shape_str(&h.shape),
                h.descr
            ),
        ));
    }
    let v = if size == 4 {
        NpyVector::F32(decode::<f32>(data, big))
    } else {
        NpyVector::F64(decode::<f64>(data, big))
    };
    Ok((h.shape, v))
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

/// Encodes `data` with the given shape as a version 1.0 `.npy` file.
pub fn encode<T: Scalar>(data: &[T], shape: &[usize]) -> Vec<u8> {
    let mut header = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
        T::DESCR,
        shape_str(shape)
    );
    let total = 10 + header.len() + 1;
    let pad = (64 - total % 64) % 64;
    header.push_str(&" ".repeat(pad));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + data.len() * T::SIZE);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for v in data {
        v.to_le_bytes_vec(&mut out);
    }
    out
}

/// Writes `data` with the given shape to `path` atomically.
pub fn write<T: Scalar>(path: &Path, data: &[T], shape: &[usize]) -> Result<(), Error> {
    write_atomic(path, &encode(data, shape))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_both_dtypes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.npy");
        let x = vec![1.0f32, -2.5, f32::NAN, 3e38, 1e-45, 0.0];
        write(&p, &x, &[2, 3]).unwrap();
        match read_matrix(&p).unwrap() {
            NpyMatrix::F32(m) => {
                assert_eq!((m.m, m.d), (2, 3));
                for (a, b) in m.data.iter().zip(&x) {
                    assert_eq!(a.to_bits(), b.to_bits());
                }
            }
            NpyMatrix::F64(_) => panic!("dtype"),
        }
        let y = vec![1.0f64, 2.0];
        write(&p, &y, &[1, 2]).unwrap();
        assert!(matches!(read_matrix(&p).unwrap(), NpyMatrix::F64(_)));
        let bytes = std::fs::read(&p).unwrap();
        let hl = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + hl) % 64, 0);
    }

    #[test]
    fn rejects_bad_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.npy");
        std::fs::write(&p, b"hello world").unwrap();
        assert!(read_matrix(&p)
            .unwrap_err()
            .to_string()
            .contains("not a NumPy"));
        write(&p, &[1.0f32, 2.0, 3.0], &[3]).unwrap();
        assert!(read_matrix(&p).unwrap_err().to_string().contains("2-D"));
        let mut b = encode(&[1.0f32, 2.0, 3.0, 4.0], &[2, 2]);
        b.truncate(b.len() - 1);
        std::fs::write(&p, b).unwrap();
        assert!(read_matrix(&p)
            .unwrap_err()
            .to_string()
            .contains("truncated"));
        let mut b = encode(&[1.0f32, 2.0], &[1, 2]);
        let pos = b.windows(3).position(|w| w == b"<f4").unwrap();
        b[pos + 1] = b'i';
        std::fs::write(&p, b).unwrap();
        assert!(read_matrix(&p).unwrap_err().to_string().contains("'<i4'"));
    }

    #[test]
    fn vector_round_trip_and_rank() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("v.npy");
        let x = vec![1.5f32, f32::NAN, -0.0];
        write(&p, &x, &[3]).unwrap();
        match read_vector(&p).unwrap() {
            NpyVector::F32(v) => {
                assert_eq!(v.len(), 3);
                for (a, b) in v.iter().zip(&x) {
                    assert_eq!(a.to_bits(), b.to_bits());
                }
            }
            NpyVector::F64(_) => panic!("dtype"),
        }
        assert!(read_matrix(&p).unwrap_err().to_string().contains("2-D"));
        write(&p, &[2.0f64, 3.0], &[2]).unwrap();
        assert_eq!(read_vector(&p).unwrap(), NpyVector::F64(vec![2.0, 3.0]));
        write(&p, &[2.0f64, 3.0], &[1, 2]).unwrap();
        let e = read_vector(&p).unwrap_err().to_string();
        assert!(e.contains("1-D") && e.contains("[1, 2]"), "{e}");
        let mut b = encode(&[1.0f64, 2.0], &[2]);
        b.truncate(b.len() - 3);
        std::fs::write(&p, b).unwrap();
        let e = read_vector(&p).unwrap_err().to_string();
        assert!(e.contains("shape (2,)") && e.contains("truncated"), "{e}");
    }
}
