//! The dask tutorial's first array lines, written the way numpy reads:
//!
//! ```python
//! x = da.random.normal(10, 3, size=(ROWS, 1000), chunks=(1000, 1000))
//! ((x - 15) ** 2).mean()      # one number
//! (x - x.mean(axis=0)).std()  # the anomaly's spread
//! ```
//!
//! Both run over a counter-based random array that is never stored: each block is made,
//! used and dropped, so memory stays flat whatever `ROWS`.
//!
//! `cargo run --release --example numpy_style -- [ROWS]` (default 20000)

use std::process::ExitCode;

use outcore::{random, Axes, LazyArray};

mod common;
use common::{Args, Step};

const SEED: u64 = 7;
const COLS: u64 = 1000;

/// `da.random.normal(10, 3, size=(rows, COLS), chunks=(1000, 1000))`.
fn normal(rows: u64) -> outcore::Result<LazyArray> {
    random::normal(SEED, &[rows, COLS], 10.0, 3.0)?.rechunk(&[1000, 1000])
}

/// `((x - 15) ** 2).mean()`.
fn squared_deviation_mean(x: &LazyArray) -> outcore::Result<f64> {
    (x - 15.0).pow(2)?.mean(Axes::all())?.to_scalar()
}

/// `(x - x.mean(axis=0)).std()`.
fn anomaly_std(x: &LazyArray) -> outcore::Result<f64> {
    (x - x.mean(0)?).std(Axes::all(), 0.0)?.to_scalar()
}

fn main() -> ExitCode {
    common::run("[ROWS]", |args: &Args| {
        let rows = args.count(0, "ROWS", 20_000)?;
        common::check_elements(&[rows, COLS])?;
        let x = normal(rows)?;
        let step = Step::start(format!(
            "x = normal(10, 3, {:?}): ((x - 15)**2).mean()",
            x.shape()
        ));
        let value = squared_deviation_mean(&x)?;
        step.done(format!("{value:.6}"), Some(x.nbytes()));
        let step = Step::start("(x - x.mean(axis=0)).std()".to_string());
        let value = anomaly_std(&x)?;
        step.done(format!("{value:.6}"), Some(2 * x.nbytes()));
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Both lines against plain loops over the same values.
    #[test]
    fn lines_equal_serial_loops() {
        let rows = 3000;
        let x = normal(rows).unwrap();
        let values = x.to_ndarray::<f64>().unwrap();
        let n = values.len() as f64;

        let want = values.iter().map(|v| (v - 15.0).powi(2)).sum::<f64>() / n;
        let got = squared_deviation_mean(&x).unwrap();
        assert!(common::close(got, want, 1e-12), "{got} vs {want}");

        let column_means: Vec<f64> = (0..COLS as usize)
            .map(|j| values.index_axis(outcore::ndarray::Axis(1), j).sum() / rows as f64)
            .collect();
        let anomalies: Vec<f64> = values
            .indexed_iter()
            .map(|(ix, v)| v - column_means[ix[1]])
            .collect();
        let mean = anomalies.iter().sum::<f64>() / n;
        let want = (anomalies.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / n).sqrt();
        let got = anomaly_std(&x).unwrap();
        assert!(common::close(got, want, 1e-12), "{got} vs {want}");
        // The values are what the tutorial expects of normal(10, 3).
        assert!((got - 3.0).abs() < 0.05, "{got}");
    }
}
