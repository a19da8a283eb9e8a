//! Exact order statistics (`quantile`, `percentile`, `median` and their NaN-skipping forms)
//! against numpy itself.
//!
//! - numpy's answers (`tests/numpy_quantile/reference.py`, run with `OUTCORE_PYTHON`; skipped
//!   without it except under `CI`): 1-d to 3-d arrays of float32/64 (with NaNs, infinities,
//!   ties, all-NaN slices, huge values, one and two elements) and of every integer type (with
//!   the extremes, where `b - a` wraps as numpy's does), every method, one quantile or a list,
//!   percentiles, medians, over all axes, one axis or several, with and without keepdims. Each
//!   request is computed from the `.npy` file in blocks of a third of each axis with the
//!   default budget (one collecting pass), and in blocks of a seventh with a 1 KiB budget (the
//!   narrowing passes), and for every tenth request from a zstd store written with the
//!   statistics sidecar: dtype, shape and every value bit for bit (NaN for NaN, and `-0.0`
//!   equal to `0.0`, whose order numpy's partition leaves open).
//! - The narrowing passes run: a median of 10^5 values under a 4 KiB budget takes more than
//!   one pass, fewer than ten, and equals a sort's answer; one from a stored array with a
//!   sidecar reads no more passes than without.
//! - Errors: a quantile outside [0, 1] or NaN, a percentile outside [0, 100], a bool array,
//!   a quantile of an empty array, bad axes.

mod common;

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use outcore::convert::binary::open_npy;
use outcore::{
    AnyArray, ArraySpec, Axes, ChunkEncoding, DataType, Element, ErrorKind, LazyArray, Progress,
    QuantileMethod, Quantiles, Store,
};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
struct ArrayCase {
    name: String,
    file: String,
    requests: Vec<Request>,
}

#[derive(Debug, Deserialize)]
struct Request {
    axis: Value,
    keepdims: bool,
    nan: bool,
    #[serde(rename = "fn")]
    function: String,
    q: Option<Value>,
    method: Option<String>,
    error: Option<String>,
    dtype: Option<String>,
    shape: Option<Vec<usize>>,
    values: Option<Vec<Value>>,
}

fn open(dir: &Path, file: &str, parts: u64) -> LazyArray {
    let whole = open_npy(&dir.join(file), None).unwrap();
    open_npy(
        &dir.join(file),
        Some(&common::parts_of(whole.shape(), parts)),
    )
    .unwrap()
}

fn method(name: &str) -> QuantileMethod {
    name.parse().unwrap()
}

fn quantile_list(v: &Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|q| q.as_f64().unwrap())
        .collect()
}

/// The request as outcore's [`Quantiles`] and [`Axes`].
fn build(r: &Request) -> (Quantiles, Axes) {
    let q = || r.q.as_ref().unwrap();
    let mut request = match r.function.as_str() {
        "median" => Quantiles::median(),
        "quantile" => Quantiles::of(q().as_f64().unwrap()),
        "quantiles" => Quantiles::list(&quantile_list(q())),
        "percentile" => Quantiles::percentile(q().as_f64().unwrap()),
        "percentiles" => Quantiles::percentiles(&quantile_list(q())),
        other => panic!("no function {other}"),
    };
    if let Some(m) = &r.method {
        request = request.method(method(m));
    }
    if r.nan {
        request = request.skip_nan();
    }
    let mut axes = match &r.axis {
        Value::Null => Axes::all(),
        Value::Number(n) => Axes::from(n.as_i64().unwrap()),
        Value::Array(v) => Axes::of(&v.iter().map(|a| a.as_i64().unwrap()).collect::<Vec<_>>()),
        other => panic!("axis {other}"),
    };
    if r.keepdims {
        axes = axes.keepdims();
    }
    (request, axes)
}

/// Whether `got` holds numpy's answer bit for bit (NaN for NaN, either zero for a zero).
fn same_values(got: &AnyArray, want: &[Value]) -> Result<(), String> {
    let check = |i: usize, ok: bool, g: String| {
        if ok {
            Ok(())
        } else {
            Err(format!("element {i}: {g}, numpy {}", want[i]))
        }
    };
    macro_rules! ints {
        ($a:expr, $as:ident) => {
            for (i, (g, w)) in $a.iter().zip(want).enumerate() {
                check(i, w.$as() == Some(*g as _), format!("{g}"))?;
            }
        };
    }
    macro_rules! floats {
        ($a:expr) => {
            for (i, (g, w)) in $a.iter().zip(want).enumerate() {
                let (g, w) = (f64::from(*g), common::python_float(w));
                let same = (g.is_nan() && w.is_nan())
                    || g.to_bits() == w.to_bits()
                    || (g == 0.0 && w == 0.0);
                check(i, same, format!("{g:?}"))?;
            }
        };
    }
    match got {
        AnyArray::Float64(a) => floats!(a),
        AnyArray::Float32(a) => floats!(a),
        AnyArray::Int8(a) => ints!(a, as_i64),
        AnyArray::Int16(a) => ints!(a, as_i64),
        AnyArray::Int32(a) => ints!(a, as_i64),
        AnyArray::Int64(a) => ints!(a, as_i64),
        AnyArray::UInt8(a) => ints!(a, as_u64),
        AnyArray::UInt16(a) => ints!(a, as_u64),
        AnyArray::UInt32(a) => ints!(a, as_u64),
        AnyArray::UInt64(a) => ints!(a, as_u64),
        AnyArray::Bool(_) => return Err("a bool result".into()),
    }
    Ok(())
}

fn check(x: &LazyArray, r: &Request, budget: Option<u64>) -> Result<(), String> {
    let (request, axes) = build(r);
    let got = match budget {
        None => x.compute().quantiles(&request, axes),
        Some(b) => x.compute().quantiles_within(&request, axes, b),
    };
    if let Some(numpy_error) = &r.error {
        return match got {
            Err(e) if e.kind() == ErrorKind::InvalidArgument => Ok(()),
            Err(e) => Err(format!("{:?} error {e}; numpy: {numpy_error}", e.kind())),
            Ok(a) => Err(format!("{a:?}; numpy: {numpy_error}")),
        };
    }
    let got = got.map_err(|e| format!("compute: {e}"))?;
    let (dtype, shape) = (r.dtype.as_deref().unwrap(), r.shape.as_ref().unwrap());
    if got.data_type().name() != dtype || got.shape() != shape.as_slice() {
        return Err(format!(
            "{} {:?}, numpy {dtype} {shape:?}",
            got.data_type(),
            got.shape()
        ));
    }
    same_values(&got, r.values.as_ref().unwrap())
}

#[test]
fn quantiles_equal_numpy() {
    let Some(python) = common::python() else {
        return;
    };
    let dir = common::scratch_dir("numpy-quantile");
    let cases: Vec<ArrayCase> =
        common::numpy_manifest(&python, "tests/numpy_quantile/reference.py", &dir);
    let store = Store::create(dir.join("stores.zarr")).unwrap();
    let mut failures = Vec::new();
    let mut checked = 0;
    for case in &cases {
        let thirds = open(&dir, &case.file, 3);
        let sevenths = open(&dir, &case.file, 7);
        let spec = ArraySpec::new(thirds.data_type(), thirds.shape())
            .chunks(&common::parts_of(thirds.shape(), 2))
            .encoding(ChunkEncoding::zstd(1));
        let stored = LazyArray::from_stored(&thirds.to_store(&store, &case.name, &spec).unwrap());
        for (i, r) in case.requests.iter().enumerate() {
            let mut runs = vec![
                ("thirds", &thirds, None),
                ("sevenths, 1 KiB", &sevenths, Some(1024)),
            ];
            if i % 10 == 0 {
                runs.push(("stored, 1 KiB", &stored, Some(1024)));
            }
            for (how, x, budget) in runs {
                checked += 1;
                if let Err(e) = check(x, r, budget) {
                    failures.push(format!(
                        "{} {} q={:?} {:?} axis={} keepdims={} nan={} ({how}): {e}",
                        case.name, r.function, r.q, r.method, r.axis, r.keepdims, r.nan
                    ));
                }
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
            .step_by(failures.len().div_ceil(40).max(1))
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(checked > 10_000, "only {checked} checks");
}

/// Passes a computation made: progress reports with every block done.
fn passes_of(f: impl FnOnce(&(dyn Fn(&Progress) -> ControlFlow<()> + Sync))) -> u64 {
    let passes = AtomicU64::new(0);
    let observer = |p: &Progress| {
        if p.blocks_done == p.blocks_total {
            passes.fetch_add(1, Ordering::Relaxed);
        }
        ControlFlow::Continue(())
    };
    f(&observer);
    passes.load(Ordering::Relaxed)
}

#[test]
fn narrowing_passes_select_exactly() {
    let n = 100_000u64;
    let x = outcore::random::normal(3, &[n], 0.0, 1.0)
        .unwrap()
        .rechunk(&[4096])
        .unwrap();
    let mut sorted = x.to_ndarray::<f64>().unwrap().into_raw_vec_and_offset().0;
    sorted.sort_by(f64::total_cmp);
    let want = (sorted[n as usize / 2 - 1] + sorted[n as usize / 2]) / 2.0;
    let mut got = None;
    let passes = passes_of(|p| {
        got = Some(
            x.compute()
                .progress(p)
                .quantiles_within(&Quantiles::median(), Axes::all(), 4096)
                .unwrap(),
        );
    });
    assert_eq!(
        got.unwrap(),
        AnyArray::Float64(ndarray::arr0(want).into_dyn())
    );
    assert!((2..10).contains(&passes), "{passes} passes");
    // Within a large budget: one pass.
    let one = passes_of(|p| {
        x.compute()
            .progress(p)
            .quantiles_within(&Quantiles::median(), Axes::all(), 1 << 30)
            .unwrap();
    });
    assert_eq!(one, 1);

    // From a store with a sidecar: the counting passes start from its min and max, and its
    // counts answer a median of an array holding a NaN, or of a constant one, with no pass.
    let dir = common::scratch_dir("numpy-quantile");
    let store = Store::create(dir.join("s.zarr")).unwrap();
    let spec = ArraySpec::new(DataType::Float64, &[n]).chunks(&[4096]);
    let stored = LazyArray::from_stored(&x.to_store(&store, "x", &spec).unwrap());
    let mut from_store = None;
    let with_sidecar = passes_of(|p| {
        from_store = Some(
            stored
                .compute()
                .progress(p)
                .quantiles_within(
                    &Quantiles::of(0.3).method(QuantileMethod::Lower),
                    Axes::all(),
                    4096,
                )
                .unwrap(),
        );
    });
    let rank = ((n - 1) as f64 * 0.3).floor() as usize;
    assert_eq!(
        from_store.unwrap(),
        AnyArray::Float64(ndarray::arr0(sorted[rank]).into_dyn())
    );
    assert!((2..10).contains(&with_sidecar), "{with_sidecar} passes");
    let with_nan = LazyArray::where_(&x.equal(sorted[10]).unwrap(), f64::NAN, &x).unwrap();
    let constant = LazyArray::full(&[n], 7.5f64).rechunk(&[4096]).unwrap();
    for (name, a, want) in [("nan", with_nan, f64::NAN), ("constant", constant, 7.5)] {
        let a = LazyArray::from_stored(&a.to_store(&store, name, &spec).unwrap());
        let mut got = None;
        let passes = passes_of(|p| {
            got = Some(
                a.compute()
                    .progress(p)
                    .quantiles_within(&Quantiles::median(), Axes::all(), 4096)
                    .unwrap(),
            );
        });
        assert_eq!(passes, 0, "{name}");
        let got = got.unwrap().astype::<f64>().into_raw_vec_and_offset().0;
        assert!(
            got[0] == want || (got[0].is_nan() && want.is_nan()),
            "{name}: {got:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn quantile_errors() {
    let x = LazyArray::arange(0, 10, 1)
        .unwrap()
        .astype(DataType::Float64);
    for q in [-0.1, 1.5, f64::NAN] {
        let e = x
            .quantile(q, Axes::all(), QuantileMethod::Linear)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{q}: {e}");
        assert!(e.to_string().contains("outside [0, 1]"), "{e}");
    }
    let e = x
        .percentile(100.5, Axes::all(), QuantileMethod::Linear)
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("percentile 100.5 is outside [0, 100]"),
        "{e}"
    );
    let e = x
        .compute()
        .quantiles(&Quantiles::list(&[0.5, 2.0]), Axes::all())
        .unwrap_err();
    assert!(e.to_string().contains("quantile 2 is outside"), "{e}");
    let b = x.greater(3.0).unwrap();
    assert_eq!(
        b.median(Axes::all()).unwrap_err().kind(),
        ErrorKind::TypeMismatch
    );
    assert_eq!(
        x.median(Axes::from(1)).unwrap_err().kind(),
        ErrorKind::OutOfBounds
    );
    assert_eq!(
        x.median(Axes::of(&[0, 0])).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    let empty = LazyArray::zeros(&[0], DataType::Int32);
    assert_eq!(
        empty
            .quantile(0.5, Axes::all(), QuantileMethod::Lower)
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    // numpy: the median of nothing is NaN.
    let m = empty.median(Axes::all()).unwrap();
    assert!(matches!(m, AnyArray::Float64(a) if a.iter().all(|v| v.is_nan())));
    // Unknown method names.
    assert!("cubic".parse::<QuantileMethod>().is_err());
    let _ = f64::DATA_TYPE;
}
