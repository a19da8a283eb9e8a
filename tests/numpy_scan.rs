//! Scans (`cumsum`, `cumprod`, `nancumsum`, `nancumprod`) and `diff` against numpy.
//!
//! - numpy's answers (`tests/numpy_scan/reference.py`, run with `OUTCORE_PYTHON`; skipped
//!   without it except under `CI`): float64 with NaNs and an infinity, float32, int8, int16,
//!   int64 and uint64 values that wrap, uint8 and bool, 1-d to 3-d, every axis, `diff` with
//!   `n` = 1, 2, 3, a scan of an expression (`cumsum(x * 3 + 1)`) and a slice of a scan. Each
//!   runs in one block, in blocks of a third and of a seventh of each axis, in random
//!   irregular blocks, and streamed to a store (`to_store`) and read back: the dtype, shape
//!   and every element bit for bit, floats included: numpy's `add.accumulate` adds one
//!   element after another, and so does outcore, continuing each block from the running
//!   value the block before it ended with, so no tolerance is needed.
//! - A scan feeding a reduction and another scan: `cumsum(cumsum(x, 0), 1).sum()` against a
//!   serial computation.

mod common;

use outcore::convert::binary::open_npy;
use outcore::{AnyArray, ArraySpec, Axes, DataType, LazyArray, NumpyIndex, Store};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Case {
    name: String,
    x: String,
    requests: Vec<Request>,
}

#[derive(Debug, Deserialize)]
struct Request {
    #[serde(rename = "fn")]
    function: String,
    axis: i64,
    n: Option<u64>,
    expect: String,
}

/// Equal bit for bit (any NaN equal to any NaN).
fn same(a: &AnyArray, b: &AnyArray) -> bool {
    if a.data_type() != b.data_type() || a.shape() != b.shape() {
        return false;
    }
    match (a, b) {
        (AnyArray::Float64(x), AnyArray::Float64(y)) => x
            .iter()
            .zip(y)
            .all(|(p, q)| p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan())),
        (AnyArray::Float32(x), AnyArray::Float32(y)) => x
            .iter()
            .zip(y)
            .all(|(p, q)| p.to_bits() == q.to_bits() || (p.is_nan() && q.is_nan())),
        _ => a == b,
    }
}

fn build(x: &LazyArray, r: &Request) -> outcore::Result<LazyArray> {
    match r.function.as_str() {
        "cumsum" => x.cumsum(r.axis),
        "cumprod" => x.cumprod(r.axis),
        "nancumsum" => x.nancumsum(r.axis),
        "nancumprod" => x.nancumprod(r.axis),
        "diff" => x.diff(r.n.unwrap(), r.axis),
        "cumsum_of_expr" => ((x * 3i64) + 1i64).checked()?.cumsum(r.axis),
        "cumsum_sliced" => {
            let inner = vec![
                NumpyIndex::Slice {
                    start: Some(1),
                    stop: Some(-1),
                    step: None
                };
                x.ndim()
            ];
            x.cumsum(r.axis)?.slice_np(&inner)
        }
        other => panic!("no function {other}"),
    }
}

/// Random block lengths summing to `n` (at least one each).
fn random_lengths(n: u64, seed: &mut u64) -> Vec<u64> {
    let mut out = Vec::new();
    let mut left = n;
    while left > 0 {
        *seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let take = ((*seed >> 33) % 9 + 1).min(left);
        out.push(take);
        left -= take;
    }
    if out.is_empty() {
        out.push(0);
    }
    out
}

#[test]
fn scans_equal_numpy() {
    let Some(python) = common::python() else {
        return;
    };
    let dir = common::scratch_dir("numpy-scan");
    let cases: Vec<Case> = common::numpy_manifest(&python, "tests/numpy_scan/reference.py", &dir);
    let store = Store::create(dir.join("out.zarr")).unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut seed = 7u64;
    let mut stored = 0;
    for case in &cases {
        let whole = open_npy(&dir.join(&case.x), None).unwrap();
        let shape = whole.shape().to_vec();
        let parts = |p: u64| -> Vec<u64> { shape.iter().map(|&n| n.div_ceil(p).max(1)).collect() };
        let irregular: Vec<Vec<u64>> = shape
            .iter()
            .map(|&n| random_lengths(n, &mut seed))
            .collect();
        let chunkings: Vec<(&str, LazyArray)> = vec![
            (
                "one block",
                open_npy(&dir.join(&case.x), Some(&parts(1))).unwrap(),
            ),
            (
                "thirds",
                open_npy(&dir.join(&case.x), Some(&parts(3))).unwrap(),
            ),
            (
                "sevenths",
                open_npy(&dir.join(&case.x), Some(&parts(7))).unwrap(),
            ),
            ("irregular", whole.rechunk_irregular(&irregular).unwrap()),
        ];
        for r in &case.requests {
            let want = open_npy(&dir.join(&r.expect), None)
                .unwrap()
                .to_dynamic()
                .unwrap();
            for (how, x) in &chunkings {
                checked += 1;
                let got = build(x, r).and_then(|y| y.to_dynamic());
                match got {
                    Ok(g) if same(&g, &want) => {}
                    Ok(g) => failures.push(format!(
                        "{} {} axis {} n {:?} ({how}): {g:?}\nnumpy {want:?}",
                        case.name, r.function, r.axis, r.n
                    )),
                    Err(e) => failures.push(format!("{} {} ({how}): {e}", case.name, r.function)),
                }
            }
            // Streamed to a store, in chunks unlike the blocks.
            let y = build(&chunkings[2].1, r).unwrap();
            stored += 1;
            let spec = ArraySpec::new(y.data_type(), y.shape()).chunks(
                &y.shape()
                    .iter()
                    .map(|&n| n.div_ceil(2).max(1))
                    .collect::<Vec<_>>(),
            );
            let back = y
                .to_store(&store, &format!("r{stored}"), &spec)
                .and_then(|a| LazyArray::from_stored(&a).to_dynamic());
            checked += 1;
            match back {
                Ok(g) if same(&g, &want) => {}
                other => failures.push(format!("{} {} to_store: {other:?}", case.name, r.function)),
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        failures.is_empty(),
        "{} of {checked} differ from numpy:\n{}",
        failures.len(),
        failures
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(checked > 500, "{checked}");
}

#[test]
fn scans_compose_with_reductions_and_scans() {
    let x = outcore::random::integers(3, &[40, 30], -50, 50)
        .unwrap()
        .rechunk(&[7, 4])
        .unwrap();
    let values = x.to_ndarray::<i64>().unwrap();
    // Serial: running sums down the rows, then along each row, then the total.
    let mut grid = values
        .clone()
        .into_dimensionality::<ndarray::Ix2>()
        .unwrap();
    for i in 1..40 {
        for j in 0..30 {
            grid[[i, j]] += grid[[i - 1, j]];
        }
    }
    for i in 0..40 {
        for j in 1..30 {
            grid[[i, j]] += grid[[i, j - 1]];
        }
    }
    let want: i64 = grid.iter().sum();
    let twice = x.cumsum(0).unwrap().cumsum(1).unwrap();
    assert_eq!(
        twice.sum(Axes::all()).unwrap().to_scalar::<i64>().unwrap(),
        want
    );
    // A scan of something minus its mean (a reduction feeding the scan's input).
    let centred = (&x.astype(DataType::Float64) - &x.astype(DataType::Float64).mean(0).unwrap())
        .checked()
        .unwrap()
        .cumsum(0)
        .unwrap();
    let last = centred
        .slice_np(&[NumpyIndex::Index(-1), NumpyIndex::Ellipsis])
        .unwrap()
        .to_ndarray::<f64>()
        .unwrap();
    assert!(last.iter().all(|v| v.abs() < 1e-9), "{last:?}");
    // Errors.
    assert_eq!(
        x.cumsum(2).unwrap_err().kind(),
        outcore::ErrorKind::OutOfBounds
    );
    let scalar = LazyArray::full(&[], 1.0f64);
    assert_eq!(
        scalar.diff(1, 0).unwrap_err().kind(),
        outcore::ErrorKind::InvalidArgument
    );
}
