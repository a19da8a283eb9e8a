//! Counting (`histogram`, `histogram2d`, `bincount`, `unique` with counts) against numpy.
//!
//! - numpy's answers (`tests/numpy_counting/reference.py`, run with `OUTCORE_PYTHON`; skipped
//!   without it except under `CI`): float64 with NaNs, float32, int8/16/64, uint64, constant
//!   and empty arrays; bin counts with and without a range (a zero-width range, a range
//!   wider or narrower than the data), explicit edges (repeated ones too); 2-d histograms of
//!   float and integer pairs with NaNs, ranges and explicit edges; `bincount` with
//!   `minlength` and float64, float32 and integer weights; `unique` of integer, bool and
//!   float arrays (NaNs, signed zeros). Each request runs on the `.npy` file in one block, in
//!   blocks of a third and of a seventh of each axis, and from a zstd store with the
//!   statistics sidecar: counts exactly, edges bit for bit, weighted sums bit for bit (numpy
//!   adds them in order, and so does outcore), errors where numpy raises.
//! - No extra pass: a histogram of a stored array without a range reads it once (its range
//!   is the sidecar's).

mod common;

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};

use outcore::convert::binary::open_npy;
use outcore::{
    AnyArray, ArraySpec, Bins, ChunkEncoding, DataType, ErrorKind, LazyArray, Progress, Store,
};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
struct Request {
    kind: String,
    x: String,
    y: Option<String>,
    bins: Option<Value>,
    range: Option<Value>,
    minlength: Option<u64>,
    weights: Option<String>,
    error: Option<String>,
    counts: Option<Vec<Value>>,
    edges: Option<Vec<Value>>,
    edges_dtype: Option<String>,
    x_edges: Option<Vec<Value>>,
    y_edges: Option<Vec<Value>>,
    shape: Option<Vec<usize>>,
    values: Option<Vec<Value>>,
    dtype: Option<String>,
}

fn floats(v: &[Value]) -> Vec<f64> {
    v.iter().map(common::python_float).collect()
}

fn same_floats(got: &[f64], want: &[f64]) -> bool {
    got.len() == want.len()
        && got.iter().zip(want).all(|(g, w)| {
            g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan()) || (*g == 0.0 && *w == 0.0)
        })
}

fn bins(v: &Value) -> Bins {
    match v {
        Value::Number(n) => Bins::Count(n.as_u64().unwrap()),
        Value::Array(e) => Bins::Edges(e.iter().map(|x| x.as_f64().unwrap()).collect()),
        other => panic!("bins {other}"),
    }
}

fn range(v: Option<&Value>) -> Option<(f64, f64)> {
    let r = v.filter(|r| !r.is_null())?.as_array()?;
    Some((r[0].as_f64().unwrap(), r[1].as_f64().unwrap()))
}

/// The error kind outcore gives where numpy raises `message`.
fn error_kind(message: &str) -> ErrorKind {
    if message.starts_with("TypeError") {
        ErrorKind::TypeMismatch
    } else if message.contains("too big") {
        ErrorKind::TooLarge
    } else {
        ErrorKind::InvalidArgument
    }
}

fn compare(r: &Request, open: &dyn Fn(&str) -> LazyArray) -> Result<(), String> {
    let x = open(&r.x);
    let counts_want = || -> Vec<u64> {
        r.counts
            .as_ref()
            .unwrap()
            .iter()
            .map(|c| c.as_u64().unwrap_or_else(|| common::python_float(c) as u64))
            .collect()
    };
    let outcome: outcore::Result<()> = (|| {
        match r.kind.as_str() {
            "histogram" => {
                let h = x.histogram(&bins(r.bins.as_ref().unwrap()), range(r.range.as_ref()))?;
                if r.error.is_some() {
                    return Ok(());
                }
                let want_edges = floats(r.edges.as_ref().unwrap());
                if h.counts != counts_want()
                    || !same_floats(&h.edges, &want_edges)
                    || h.edges_type.name() != r.edges_dtype.as_deref().unwrap()
                {
                    return Err(outcore::Error::new(
                        ErrorKind::InvalidArgument,
                        format!(
                            "counts {:?} edges {:?} ({}), numpy {:?} {:?} ({:?})",
                            h.counts,
                            h.edges,
                            h.edges_type,
                            counts_want(),
                            want_edges,
                            r.edges_dtype
                        ),
                    ));
                }
            }
            "histogram2d" => {
                let y = open(r.y.as_ref().unwrap());
                let b = r.bins.as_ref().unwrap().as_array().unwrap();
                let (bx, by) = (bins(&b[0]), bins(&b[1]));
                let ranges = match r.range.as_ref().and_then(|v| v.as_array()) {
                    Some(v) => [range(Some(&v[0])), range(Some(&v[1]))],
                    None => [None, None],
                };
                let h = x.histogram2d(&y, [&bx, &by], ranges)?;
                if r.error.is_some() {
                    return Ok(());
                }
                let want = floats(r.counts.as_ref().unwrap());
                let got: Vec<f64> = h.counts.iter().copied().collect();
                let (wx, wy) = (
                    floats(r.x_edges.as_ref().unwrap()),
                    floats(r.y_edges.as_ref().unwrap()),
                );
                if got != want
                    || h.counts.shape() != r.shape.as_ref().unwrap().as_slice()
                    || !same_floats(&h.x_edges, &wx)
                    || !same_floats(&h.y_edges, &wy)
                {
                    return Err(outcore::Error::new(
                        ErrorKind::InvalidArgument,
                        format!("{h:?}, numpy {want:?} {wx:?} {wy:?}"),
                    ));
                }
            }
            "bincount" => {
                let w = r.weights.as_ref().map(|w| open(w));
                let got = x.bincount(w.as_ref(), r.minlength.unwrap())?;
                if r.error.is_some() {
                    return Ok(());
                }
                let values = r.values.as_ref().unwrap();
                let ok = match (&got, r.dtype.as_deref().unwrap()) {
                    (AnyArray::Int64(a), "int64") => {
                        a.iter().zip(values).all(|(g, w)| Some(*g) == w.as_i64())
                            && a.len() == values.len()
                    }
                    (AnyArray::Float64(a), "float64") => {
                        same_floats(&a.iter().copied().collect::<Vec<_>>(), &floats(values))
                    }
                    _ => false,
                };
                if !ok {
                    return Err(outcore::Error::new(
                        ErrorKind::InvalidArgument,
                        format!("{got:?} differs from numpy's {:?} {values:?}", r.dtype),
                    ));
                }
            }
            "unique" => {
                let u = x.unique_counts()?;
                if r.error.is_some() {
                    return Ok(());
                }
                let values = floats(r.values.as_ref().unwrap());
                let got = u.values.astype::<f64>().iter().copied().collect::<Vec<_>>();
                let exact = match &u.values {
                    AnyArray::Int64(a) => a
                        .iter()
                        .zip(r.values.as_ref().unwrap())
                        .all(|(g, w)| Some(*g) == w.as_i64()),
                    AnyArray::UInt64(a) => a
                        .iter()
                        .zip(r.values.as_ref().unwrap())
                        .all(|(g, w)| Some(*g) == w.as_u64()),
                    _ => true,
                };
                let counts: Vec<u64> = counts_want();
                if u.counts != counts
                    || !same_floats(&got, &values)
                    || !exact
                    || u.values.data_type().name() != r.dtype.as_deref().unwrap()
                {
                    return Err(outcore::Error::new(
                        ErrorKind::InvalidArgument,
                        format!("{u:?}, numpy {values:?} {counts:?}"),
                    ));
                }
            }
            other => panic!("no request kind {other}"),
        }
        Ok(())
    })();
    match (outcome, &r.error) {
        (Ok(()), None) => Ok(()),
        (Ok(()), Some(e)) => Err(format!("no error; numpy: {e}")),
        (Err(e), Some(numpy)) if e.kind() == error_kind(numpy) => Ok(()),
        (Err(e), numpy) => Err(format!("{:?}: {e}; numpy: {numpy:?}", e.kind())),
    }
}

/// Opens an input by name, one way.
type Opener<'a> = Box<dyn Fn(&str) -> LazyArray + 'a>;

#[test]
fn counting_equals_numpy() {
    let Some(python) = common::python() else {
        return;
    };
    let dir = common::scratch_dir("numpy-counting");
    let requests: Vec<Request> =
        common::numpy_manifest(&python, "tests/numpy_counting/reference.py", &dir);
    let store = Store::create(dir.join("stores.zarr")).unwrap();
    let file = |name: &str, parts: u64| {
        let path = dir.join(format!("{name}.npy"));
        let whole = open_npy(&path, None).unwrap();
        open_npy(&path, Some(&common::parts_of(whole.shape(), parts))).unwrap()
    };
    let stored = |name: &str| {
        if let Ok(a) = store.open_array(name) {
            return LazyArray::from_stored(&a);
        }
        let a = file(name, 1);
        let spec = ArraySpec::new(a.data_type(), a.shape())
            .chunks(&common::parts_of(a.shape(), 4))
            .encoding(ChunkEncoding::zstd(1));
        LazyArray::from_stored(&a.to_store(&store, name, &spec).unwrap())
    };
    let mut failures = Vec::new();
    for r in &requests {
        let mut runs: Vec<(&str, Opener<'_>)> = vec![
            ("one block", Box::new(|n: &str| file(n, 1))),
            ("thirds", Box::new(|n: &str| file(n, 3))),
            ("sevenths", Box::new(|n: &str| file(n, 7))),
        ];
        runs.push(("stored", Box::new(stored)));
        for (how, open) in &runs {
            if let Err(e) = compare(r, open.as_ref()) {
                failures.push(format!(
                    "{} {} {:?} {:?} ({how}): {e}",
                    r.kind, r.x, r.bins, r.range
                ));
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        failures.is_empty(),
        "{} differ from numpy:\n{}",
        failures.len(),
        failures
            .iter()
            .take(30)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(requests.len() > 100);
}

#[test]
fn stored_histogram_takes_its_range_from_the_sidecar() {
    let dir = common::scratch_dir("numpy-counting");
    let store = Store::create(dir.join("s.zarr")).unwrap();
    let x = outcore::random::normal(5, &[20_000], 0.0, 1.0).unwrap();
    let spec = ArraySpec::new(DataType::Float64, &[20_000]).chunks(&[1000]);
    let stored = LazyArray::from_stored(&x.to_store(&store, "x", &spec).unwrap());
    let passes = AtomicU64::new(0);
    let observer = |p: &Progress| {
        if p.blocks_done == p.blocks_total {
            passes.fetch_add(1, Ordering::Relaxed);
        }
        ControlFlow::Continue(())
    };
    let h = stored
        .compute()
        .progress(&observer)
        .histogram(&Bins::Count(20), None)
        .unwrap();
    assert_eq!(passes.load(Ordering::Relaxed), 1);
    assert_eq!(h.counts.iter().sum::<u64>(), 20_000);
    // The same answer from the lazy array, whose range takes a pass of its own.
    let passes_before = passes.load(Ordering::Relaxed);
    let again = x
        .compute()
        .progress(&observer)
        .histogram(&Bins::Count(20), None)
        .unwrap();
    assert_eq!(again, h);
    assert_eq!(passes.load(Ordering::Relaxed) - passes_before, 2);
    let _ = std::fs::remove_dir_all(&dir);
}
