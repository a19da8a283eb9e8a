//! The dask tutorial's random arrays, and what their chunk shapes cost:
//!
//! 1. `x = da.random.normal(10, 0.1, size=(10000, 10000), chunks=(1000, 1000))`, then
//!    `x.mean(axis=0)[:100]`, and the same with `chunks=(10000, 100)`. The selection is pushed
//!    below the mean, so only the first 100 columns are generated and reduced; the full
//!    `x.mean(axis=0)` (all 800 MB) is timed beside it.
//! 2. A 1000 MB array's mean in 8 chunks (`da.random.random(125_000_000, chunks=15_625_000)
//!    .mean()`): few, large blocks.
//!
//! Values are counter-based, so both chunkings of `x` hold the same numbers.
//!
//! `cargo run --release --example random_arrays -- [SIDE] [BYTES]`
//!
//! `SIDE` is the square's side (default 10000; the chunk shapes scale with it: `SIDE/10`
//! square and `SIDE x SIDE/100`), `BYTES` the size of the 8-chunk array (default `1000MB`).
//! Prints each result with its wall time, throughput and peak resident memory.

use std::process::ExitCode;

use outcore::ndarray::{s, ArrayD};
use outcore::{random, Axes, LazyArray};

mod common;
use common::{Args, Step};

const SEED: u64 = 42;
/// Columns the tutorial looks at.
const FIRST_COLUMNS: u64 = 100;

/// `normal(10, 0.1)` values in a `side` x `side` array cut into `chunks`.
fn normal_square(side: u64, chunks: [u64; 2]) -> outcore::Result<LazyArray> {
    random::normal(SEED, &[side, side], 10.0, 0.1)?.rechunk(&chunks)
}

/// The tutorial's two chunkings of a `side` square: square blocks a tenth of the side, and
/// blocks of whole columns a hundredth of it wide.
fn chunkings(side: u64) -> [[u64; 2]; 2] {
    [
        [(side / 10).max(1), (side / 10).max(1)],
        [side, (side / 100).max(1)],
    ]
}

/// `x.mean(axis=0)[:k]`.
fn first_column_means(x: &LazyArray, k: u64) -> outcore::Result<ArrayD<f64>> {
    x.mean(0)?.slice(s![..k as usize])?.to_ndarray()
}

/// Uniform [0, 1) values filling `bytes`, in 8 chunks.
fn eight_chunks(bytes: u64) -> outcore::Result<LazyArray> {
    let n = (bytes / 8).max(1);
    random::uniform(SEED, &[n], 0.0, 1.0)?.rechunk(&[n.div_ceil(8)])
}

/// The first few of `values`, for printing.
fn head(values: &ArrayD<f64>) -> String {
    let shown: Vec<String> = values.iter().take(3).map(|v| format!("{v:.6}")).collect();
    format!("[{}, ...] ({} values)", shown.join(", "), values.len())
}

fn main() -> ExitCode {
    common::run("[SIDE] [BYTES]", |args: &Args| {
        let side = args.count(0, "SIDE", 10_000)?;
        let bytes = args.bytes(1, "BYTES", 1_000_000_000)?;
        common::check_elements(&[side, side])?;
        common::check_elements(&[bytes / 8])?;
        let k = FIRST_COLUMNS.min(side);
        for chunks in chunkings(side) {
            let x = normal_square(side, chunks)?;
            let name = format!("normal {side} x {side} in ({}, {})", chunks[0], chunks[1]);
            let step = Step::start(format!("{name}: x.mean(axis=0)[:{k}]"));
            let means = first_column_means(&x, k)?;
            step.done(head(&means), Some(side * k * 8));

            let step = Step::start(format!("{name}: x.mean(axis=0)"));
            let means = x.mean(0)?.to_ndarray::<f64>()?;
            step.done(head(&means), Some(x.nbytes()));
        }
        let x = eight_chunks(bytes)?;
        let step = Step::start(format!(
            "uniform {} values ({:.0} MB) in {} chunks: x.mean()",
            x.len(),
            x.nbytes() as f64 / 1e6,
            x.block_grid().num_blocks()
        ));
        let value: f64 = x.mean(Axes::all())?.to_scalar()?;
        step.done(format!("{value:.9}"), Some(x.nbytes()));
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Column means of both chunkings, at a small size, against plain loops over the same
    /// values; the 8-chunk mean against a serial sum.
    #[test]
    fn means_equal_serial_loops() {
        let side = 200;
        let values = random::normal(SEED, &[side, side], 10.0, 0.1)
            .unwrap()
            .to_ndarray::<f64>()
            .unwrap();
        let n = side as usize;
        let want: Vec<f64> = (0..n)
            .map(|j| (0..n).map(|i| values[[i, j]]).sum::<f64>() / n as f64)
            .collect();
        for chunks in chunkings(side) {
            let x = normal_square(side, chunks).unwrap();
            let got = first_column_means(&x, FIRST_COLUMNS).unwrap();
            assert_eq!(got.len(), FIRST_COLUMNS as usize);
            for (j, g) in got.iter().enumerate() {
                assert!(common::close(*g, want[j], 1e-14), "{chunks:?} column {j}");
            }
        }

        let x = eight_chunks(8 * 1001).unwrap();
        assert_eq!(x.block_grid().num_blocks(), 8);
        let got: f64 = x.mean(Axes::all()).unwrap().to_scalar().unwrap();
        let values = random::uniform(SEED, &[1001], 0.0, 1.0)
            .unwrap()
            .to_ndarray::<f64>()
            .unwrap();
        let want = values.iter().sum::<f64>() / 1001.0;
        assert!(common::close(got, want, 1e-14), "{got} vs {want}");
    }
}
