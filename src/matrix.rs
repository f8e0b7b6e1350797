//! The m x d gradient matrix: one row per worker, contiguous and row-major.

use crate::error::Error;
use crate::scalar::Scalar;

/// A borrowed m x d matrix (row i = the vector received from worker i).
#[derive(Clone, Copy, Debug)]
pub struct MatrixView<'a, T> {
    data: &'a [T],
    m: usize,
    d: usize,
}

impl<'a, T: Scalar> MatrixView<'a, T> {
    /// Wraps `data` (length m * d, row-major). Fails when the length does not match.
    pub fn new(data: &'a [T], m: usize, d: usize) -> Result<Self, Error> {
        if m.checked_mul(d) != Some(data.len()) {
            return Err(Error::Shape(format!(
                "buffer of {} values cannot be an {m} x {d} matrix",
                data.len()
            )));
        }
        Ok(Self { data, m, d })
    }
    /// Number of workers (rows).
    #[inline]
    pub fn m(&self) -> usize {
        self.m
    }
    /// Dimension (columns).
    #[inline]
    pub fn d(&self) -> usize {
        self.d
    }
    /// Row `i` (worker i's vector).
    #[inline]
    pub fn row(&self, i: usize) -> &'a [T] {
        &self.data[i * self.d..(i + 1) * self.d]
    }
    /// The whole buffer, row-major.
    #[inline]
    pub fn as_slice(&self) -> &'a [T] {
        self.data
    }
    /// Element (i, j).
    #[inline]
    pub fn get(&self, i: usize, j: usize) -> T {
        self.data[i * self.d + j]
    }
}

/// An owned m x d matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix<T> {
    pub data: Vec<T>,
    pub m: usize,
    pub d: usize,
}

impl<T: Scalar> Matrix<T> {
    /// An m x d matrix of zeros.
    pub fn zeros(m: usize, d: usize) -> Self {
        Self {
            data: vec![T::default(); m * d],
            m,
            d,
        }
    }
    /// Builds from row-major data; fails if the length is not m * d.
    pub fn from_vec(data: Vec<T>, m: usize, d: usize) -> Result<Self, Error> {
        MatrixView::new(&data, m, d)?;
        Ok(Self { data, m, d })
    }
    /// Borrowed view.
    pub fn view(&self) -> MatrixView<'_, T> {
        MatrixView {
            data: &self.data,
            m: self.m,
            d: self.d,
        }
    }
    /// Row i.
    pub fn row(&self, i: usize) -> &[T] {
        &self.data[i * self.d..(i + 1) * self.d]
    }
}
