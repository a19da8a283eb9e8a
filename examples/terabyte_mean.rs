//! The dask tutorial's terabyte array: the mean of
//! `da.random.random((1_500_000, 100_000), chunks=(10_000, 10_000))`, computed under a
//! progress bar. The 1.1 TB of uniform float64 values never exist anywhere at once: the
//! random source is counter-based (a value depends only on the seed and its index), so each
//! block is generated where it is reduced, on all cores, and memory holds a batch of blocks.
//!
//! `cargo run --release --example terabyte_mean -- [ROWS] [CHUNKS]`
//!
//! `ROWS` of 100,000 columns (default 1,500,000: the tutorial's 1.1 TB; `15000` is 1/100 of
//! it) in blocks of `CHUNKS` (default `10000x10000`, the tutorial's). Prints the mean, how
//! many standard errors it lies from 0.5, the wall time, the throughput and the peak resident
//! memory; the progress bar (bytes generated, rate, time left) is drawn on stderr when it is
//! a terminal.

use std::ops::ControlFlow;
use std::process::ExitCode;

use indicatif::{ProgressBar, ProgressStyle};
use outcore::ProgressFn;
use outcore::{random, Axes, LazyArray, Progress};

mod common;
use common::{Args, Step};

const COLS: u64 = 100_000;
const SEED: u64 = 1_100;

/// The `shape` uniform [0, 1) array in blocks of `chunks`.
fn uniform(shape: [u64; 2], chunks: [u64; 2]) -> outcore::Result<LazyArray> {
    random::uniform(SEED, &shape, 0.0, 1.0)?.rechunk(&chunks)
}

/// The mean of `x`, reporting progress to `progress` after every batch of blocks.
fn mean(x: &LazyArray, progress: ProgressFn<'_>) -> outcore::Result<f64> {
    x.mean(Axes::all())?
        .compute()
        .progress(progress)
        .to_scalar()
}

/// A bar over `total` bytes; indicatif draws nothing when stderr is not a terminal.
fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::new(total);
    let template = "{elapsed_precise} [{bar:40}] {binary_bytes}/{binary_total_bytes} \
                    {binary_bytes_per_sec} eta {eta}";
    bar.set_style(
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

fn main() -> ExitCode {
    common::run("[ROWS] [CHUNKS]", |args: &Args| {
        let rows = args.count(0, "ROWS", 1_500_000)?;
        let chunks = args.shape2(1, "CHUNKS", [10_000, 10_000])?;
        common::check_elements(&[rows, COLS])?;
        let x = uniform([rows, COLS], chunks)?;
        let blocks = x.block_grid().num_blocks();
        println!(
            "uniform random {rows} x {COLS} float64 ({:.3} TB) in {blocks} blocks of {} x {}",
            x.nbytes() as f64 / 1e12,
            chunks[0],
            chunks[1]
        );
        let bar = progress_bar(x.nbytes());
        let step = Step::start("x.mean()");
        let value = mean(&x, &|p: &Progress| {
            bar.set_position(p.bytes_done);
            ControlFlow::Continue(())
        })?;
        bar.finish_and_clear();
        // The mean of n uniforms has standard error sqrt(1/12) / sqrt(n).
        let sigmas = (value - 0.5) / (1.0 / 12.0f64).sqrt() * (x.len() as f64).sqrt();
        step.done(
            format!("{value:.9} ({sigmas:+.2} standard errors from 0.5)"),
            Some(x.nbytes()),
        );
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// The engine's blocked mean over the tutorial's layout, at a small size, against a
    /// serial sum of the same values; the progress reaches every byte.
    #[test]
    fn mean_equals_serial_sum() {
        let shape = [300, 250];
        let x = uniform(shape, [64, 100]).unwrap();
        let seen = Mutex::new(Vec::new());
        let got = mean(&x, &|p: &Progress| {
            seen.lock().unwrap().push(*p);
            ControlFlow::Continue(())
        })
        .unwrap();

        let values = random::uniform(SEED, &shape, 0.0, 1.0)
            .unwrap()
            .to_ndarray::<f64>()
            .unwrap();
        let mut sum = 0.0;
        for v in &values {
            sum += v;
        }
        let want = sum / values.len() as f64;
        assert!(common::close(got, want, 1e-12), "{got} vs {want}");

        let seen = seen.into_inner().unwrap();
        let last = seen.last().unwrap();
        assert_eq!(last.blocks_done, 5 * 3);
        assert_eq!(last.bytes_done, 300 * 250 * 8);
    }
}
