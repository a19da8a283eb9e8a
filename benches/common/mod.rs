//! What the benchmarks share: the data size, where generated data is kept, and the realistic
//! field they measure.

use std::path::PathBuf;

use outcore::LazyArray;

/// Columns of the benchmark field.
pub const COLS: u64 = 8192;

/// Logical bytes of data: `OUTCORE_BENCH_BYTES` (a size such as `1GiB`), else `default`.
pub fn bytes(default: u64) -> u64 {
    std::env::var("OUTCORE_BENCH_BYTES")
        .ok()
        .and_then(|s| parse_size::parse_size(s).ok())
        .unwrap_or(default)
}

/// Where generated benchmark data is written once and reused.
pub fn bench_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/outcore-bench")
}

/// A smooth field plus noise, rounded to 2 decimals like instrument data (compresses ~3x):
/// `rows` x [`COLS`] float64.
pub fn field(rows: u64) -> LazyArray {
    let noise = outcore::random::normal(1, &[rows, COLS], 0.0, 0.5).unwrap();
    let i = LazyArray::arange(0.0, rows as f64, 1.0)
        .unwrap()
        .reshape(&[-1, 1])
        .unwrap();
    let j = LazyArray::arange(0.0, COLS as f64, 1.0).unwrap();
    let wave = i
        .div(50.0)
        .unwrap()
        .sin()
        .unwrap()
        .mul(j.div(70.0).unwrap().cos().unwrap())
        .unwrap()
        .mul(10.0)
        .unwrap()
        .add(15.0)
        .unwrap();
    wave.add(&noise)
        .unwrap()
        .mul(100.0)
        .unwrap()
        .round()
        .unwrap()
        .div(100.0)
        .unwrap()
}
