//! Reporting: the only module that touches polars and plotters.
//!
//! Every result is a polars [`DataFrame`] written as CSV and Parquet ([`write_table`]), and a
//! plotters chart written as SVG and PNG ([`chart`]). All files are written atomically.

pub mod chart;
pub mod claims;
mod cnn;
pub mod console;
pub mod document;
mod hetero;
mod legend;
pub mod manifest;
pub mod tables;
pub mod training;

use crate::error::Error;
use crate::fsutil::write_atomic_with;
use polars::prelude::*;
use std::path::{Path, PathBuf};

pub use polars::prelude::{Column, DataFrame};

/// A progress bar over `n` units named `unit` (cells, runs), hidden when `quiet`. indicatif
/// draws only on a terminal, so logs and CI output stay clean.
pub fn progress_bar(n: usize, unit: &str, quiet: bool) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(n as u64);
    pb.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{{spinner}} [{{elapsed_precise}}] {{bar:40}} {{pos}}/{{len}} {unit} (eta {{eta}}) {{msg}}"
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    pb
}

/// Writes `df` to `dir/stem.csv` and `dir/stem.parquet` atomically; returns both paths.
pub fn write_table(df: &mut DataFrame, dir: &Path, stem: &str) -> Result<[PathBuf; 2], Error> {
    let csv = dir.join(format!("{stem}.csv"));
    let pq = dir.join(format!("{stem}.parquet"));
    write_atomic_with(&csv, |f| {
        CsvWriter::new(f)
            .include_header(true)
            .finish(df)
            .map_err(std::io::Error::other)
    })?;
    write_atomic_with(&pq, |f| {
        ParquetWriter::new(f)
            .finish(df)
            .map(|_| ())
            .map_err(std::io::Error::other)
    })?;
    Ok([csv, pq])
}

/// Reads a Parquet table written by [`write_table`].
pub fn read_parquet(path: &Path) -> Result<DataFrame, Error> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    ParquetReader::new(f)
        .finish()
        .map_err(|e| Error::Report(format!("{}: {e}", path.display())))
}

/// Converts a polars error.
pub fn pe(e: PolarsError) -> Error {
    Error::Report(e.to_string())
}

/// Builder for a DataFrame from typed columns, in insertion order.
#[derive(Default)]
pub struct TableBuilder {
    cols: Vec<Column>,
}

impl TableBuilder {
    /// Empty builder.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a string column.
    pub fn str<S: AsRef<str>>(mut self, name: &str, v: &[S]) -> Self {
        let v: Vec<&str> = v.iter().map(AsRef::as_ref).collect();
        self.cols.push(Column::new(name.into(), v));
        self
    }
    /// Adds an f64 column.
    pub fn f64(mut self, name: &str, v: Vec<f64>) -> Self {
        self.cols.push(Column::new(name.into(), v));
        self
    }
    /// Adds a u64 column.
    pub fn u64(mut self, name: &str, v: Vec<u64>) -> Self {
        self.cols.push(Column::new(name.into(), v));
        self
    }
    /// Adds an i64 column.
    pub fn i64(mut self, name: &str, v: Vec<i64>) -> Self {
        self.cols.push(Column::new(name.into(), v));
        self
    }
    /// Adds a bool column.
    pub fn bool(mut self, name: &str, v: Vec<bool>) -> Self {
        self.cols.push(Column::new(name.into(), v));
        self
    }
    /// Builds the frame (columns must have equal lengths).
    pub fn build(self) -> Result<DataFrame, Error> {
        DataFrame::new(self.cols).map_err(pe)
    }
}
