//! The tutorial's pulsar survey table (HTRU2: 17,898 candidates, 8 statistics of their
//! integrated profile and DM-SNR curve, and a 0/1 class, in a CSV without a header),
//! filtered on its first column and summed: `df[df[0] < 80].sum()`, and the mean of each
//! statistic per class: `df.groupby(8).mean()`.
//!
//! The example writes an HTRU2-like file (each statistic normal with roughly HTRU2's mean and
//! spread for pulsars and for other candidates, about 9% pulsars), imports it with
//! `convert::csv::import_csv` as one (rows, 9) float64 matrix, then computes with the engine:
//! a mask from the first column (mean of the integrated profile below 80, where pulsars
//! are), broadcast against the matrix in `where`, summed over rows; then the eight statistics
//! grouped by the class column (`LazyArray::group_by`, the class as int8 codes), each class's
//! means in one pass over the matrix.
//!
//! `cargo run --release --example pulsar_csv -- [DIR] [ROWS]`
//!
//! (default `target/tutorials/pulsar_csv`, 17898 rows). Prints the import, then the number
//! of rows kept, how many are pulsars and the sum of each column, then each class's rows and
//! means, each step with its wall time and peak resident memory.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use outcore::convert::csv::{import_csv, CsvOptions, CsvReport, Header};
use outcore::convert::ConvertOptions;
use outcore::ndarray::{s, ArrayD};
use outcore::{random, Agg, Axes, DataType, LazyArray, Store};

mod common;
use common::{Args, Step};

const ROWS: u64 = 17_898;
/// Rows whose first column is below this are kept.
const FIRST_COLUMN_BELOW: f64 = 80.0;
/// A row is a pulsar when a standard normal value is below this: HTRU2's 9.16% of them.
const PULSAR_BELOW: f64 = -1.3317;

/// (mean, standard deviation) of each statistic for other candidates, then for pulsars.
const STATISTICS: [[(f64, f64); 2]; 8] = [
    [(116.6, 17.5), (56.7, 30.0)],
    [(47.3, 6.2), (38.7, 8.0)],
    [(0.21, 0.33), (3.13, 1.87)],
    [(0.38, 1.03), (15.6, 14.0)],
    [(8.9, 24.4), (49.8, 45.3)],
    [(23.3, 16.7), (56.5, 19.7)],
    [(8.86, 4.2), (2.76, 3.1)],
    [(113.6, 106.0), (17.9, 50.9)],
];

/// Writes `rows` HTRU2-like rows (no header) to `dir/HTRU_2.csv`, from 9 standard normal
/// values a row: the last picks the class, the others are scaled to its statistics.
fn write_table(dir: &Path, rows: u64) -> common::Result<PathBuf> {
    let z = random::normal(7, &[rows, STATISTICS.len() as u64 + 1], 0.0, 1.0)?;
    let path = dir.join("HTRU_2.csv");
    common::write_csv(&path, None, &z, |row, out| {
        let pulsar = row[STATISTICS.len()] < PULSAR_BELOW;
        for (value, [other, pulsar_stats]) in row.iter().zip(&STATISTICS) {
            let (mean, std) = if pulsar { pulsar_stats } else { other };
            write!(out, "{:.8},", mean + std * value)?;
        }
        writeln!(out, "{}", u8::from(pulsar))?;
        Ok(())
    })?;
    Ok(path)
}

/// Imports `csv` into `store` as the (rows, 9) matrix `htru2`.
fn import(csv: &Path, store: &Store) -> outcore::Result<(CsvReport, LazyArray)> {
    let options = CsvOptions {
        header: Header::Absent,
        matrix: true,
        ..Default::default()
    };
    let report = import_csv(
        &[csv.to_owned()],
        None,
        store,
        "htru2",
        &ConvertOptions::default(),
        &options,
        None,
    )?;
    let table = LazyArray::from_stored(&store.open_array("htru2")?);
    Ok((report, table))
}

/// The rows of `table` whose first column is below `limit`: how many, and each column's sum.
fn filtered_sums(table: &LazyArray, limit: f64) -> outcore::Result<(i64, ArrayD<f64>)> {
    let keep = table.slice(s![.., 0..1])?.less(limit)?;
    let count = keep.astype(DataType::Int64).sum(Axes::all())?.to_scalar()?;
    let sums = LazyArray::where_(&keep, table, 0.0)?.sum(0)?.to_ndarray()?;
    Ok((count, sums))
}

/// Per class (0: other candidates, 1: pulsars): rows, and the mean of each of the eight
/// statistics.
fn means_per_class(table: &LazyArray) -> outcore::Result<(Vec<i64>, Vec<u64>, ArrayD<f64>)> {
    let statistics = table.slice(s![.., 0..8])?;
    let class = table.slice(s![.., 8])?.astype(DataType::Int8);
    let per_class = statistics.group_by(&class)?.mean()?;
    let means = per_class.to_ndarray::<f64>(Agg::NanMean)?;
    Ok((
        per_class.keys(0).to_vec(),
        per_class.sizes().to_vec(),
        means,
    ))
}

fn main() -> ExitCode {
    common::run("[DIR] [ROWS]", |args: &Args| {
        let dir = args.dir(0, "target/tutorials/pulsar_csv")?;
        let rows = args.count(1, "ROWS", ROWS)?;
        common::check_elements(&[rows, 10])?;
        let csv = write_table(&dir, rows)?;
        let bytes = std::fs::metadata(&csv)?.len();

        let store = common::fresh_store(&dir, "htru2.zarr")?;
        let step = Step::start(format!("import {}", csv.display()));
        let (report, table) = import(&csv, &store)?;
        step.done(
            format!(
                "{} rows x {} columns as a {:?} matrix in {}",
                report.rows,
                report.columns.len(),
                report.shape,
                store.root().display()
            ),
            Some(bytes),
        );

        let step = Step::start(format!("rows with column 0 < {FIRST_COLUMN_BELOW}, summed"));
        let (count, sums) = filtered_sums(&table, FIRST_COLUMN_BELOW)?;
        let pulsars = sums.iter().last().copied().unwrap_or(0.0);
        let shown: Vec<String> = sums.iter().map(|v| format!("{v:.4}")).collect();
        step.done(
            format!(
                "{count} rows ({pulsars} pulsars), column sums [{}]",
                shown.join(", ")
            ),
            Some(table.nbytes()),
        );

        let step = Step::start("mean of each statistic per class");
        let (classes, rows, means) = means_per_class(&table)?;
        step.done(format!("{} classes", classes.len()), Some(table.nbytes()));
        for ((class, n), row) in classes.iter().zip(&rows).zip(means.outer_iter()) {
            let shown: Vec<String> = row.iter().map(|v| format!("{v:.4}")).collect();
            println!(
                "    class {class}: {n:>6} rows, means [{}]",
                shown.join(", ")
            );
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The engine's filtered sums against the CSV read back serially with the `csv` crate.
    #[test]
    fn filtered_sums_equal_serial_parse() {
        let dir = tempfile::tempdir().unwrap();
        let csv = write_table(dir.path(), 3000).unwrap();
        let store = Store::create(dir.path().join("t.zarr")).unwrap();
        let (report, table) = import(&csv, &store).unwrap();
        assert_eq!(report.shape, vec![3000, 9]);
        let (count, sums) = filtered_sums(&table, FIRST_COLUMN_BELOW).unwrap();
        let (classes, rows, means) = means_per_class(&table).unwrap();

        let mut want_count = 0;
        let mut want_sums = [0.0f64; 9];
        let mut class_rows = [0u64; 2];
        let mut class_sums = [[0.0f64; 8]; 2];
        let mut reader = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .from_path(&csv)
            .unwrap();
        for record in reader.records() {
            let values: Vec<f64> = record.unwrap().iter().map(|f| f.parse().unwrap()).collect();
            let class = values[8] as usize;
            class_rows[class] += 1;
            for (s, v) in class_sums[class].iter_mut().zip(&values) {
                *s += v;
            }
            if values[0] < FIRST_COLUMN_BELOW {
                want_count += 1;
                for (s, v) in want_sums.iter_mut().zip(&values) {
                    *s += v;
                }
            }
        }
        assert_eq!(count, want_count);
        assert!(
            want_count > 0 && want_sums[8] > 0.0,
            "the filter keeps pulsars"
        );
        for (got, want) in sums.iter().zip(&want_sums) {
            assert!(common::close(*got, *want, 1e-12), "{got} vs {want}");
        }
        assert_eq!((classes, rows), (vec![0, 1], class_rows.to_vec()));
        for class in 0..2 {
            for (got, sum) in means
                .index_axis(outcore::ndarray::Axis(0), class)
                .iter()
                .zip(&class_sums[class])
            {
                let want = sum / class_rows[class] as f64;
                assert!(
                    common::close(*got, want, 1e-12),
                    "class {class}: {got} vs {want}"
                );
            }
        }
    }
}
