//! `LazyArray::extract`, numpy's `x[mask]` with a boolean mask of `x`'s shape
//! (`np.extract(mask, x)`), against numpy itself and against the engine's own guarantees.
//!
//! - numpy's answers (`tests/numpy_extract/reference.py`, run with `OUTCORE_PYTHON`; skipped
//!   without it except under `CI`): 1-d, 2-d and 3-d arrays of float, integer and bool values,
//!   masks read from files or made from `x` (`x > v`, `(x > a) & (x < b)`, `x > x.mean()`),
//!   all-true, all-false, sparse and empty masks, results of many blocks. Each case runs under
//!   several chunkings of `x` and of the mask (chunked differently from `x`) and once from
//!   zstd stores: the values bit for bit, the dtype and shape, a slice of the result, and the
//!   sum (numpy's dtype, exact for integers, within rounding for floats) and maximum of the
//!   result; a mask of another shape is refused where numpy raises `IndexError`.
//! - Results do not depend on chunking: random arrays cut every which way give the same bits,
//!   equal to a serial filter of the computed operands.
//! - Laziness: building the result reads only the mask; computing it reads only the values
//!   between the first and last selected element of each source block holding one.
//! - Errors: a mask that is not bool, deferred errors of either operand; the counting pass
//!   reports progress.

mod common;

use std::ops::ControlFlow;
use std::ops::Range;
use std::path::Path;
use std::sync::{Arc, Mutex};

use ndarray::{ArrayD, IxDyn};
use outcore::convert::binary::open_npy;
use outcore::test_support::Num;
use outcore::{
    random, with_element_type, ArraySpec, Axes, Block, ChunkEncoding, DataType, Element, ErrorKind,
    LazyArray, Progress, RegionSource, Store,
};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
struct Case {
    name: String,
    x: String,
    mask: Value,
    error: Option<String>,
    expect: Option<String>,
    dtype: Option<String>,
    shape: Option<Vec<usize>>,
    sum_dtype: Option<String>,
    sum: Option<Value>,
    sum_scale: Option<f64>,
    max: Option<Value>,
}

/// How `x` and the mask are cut: parts per axis for each (the mask's differ from `x`'s in
/// most), from one block to blocks of a seventh of every axis.
const CHUNKINGS: [(u64, u64); 6] = [(1, 1), (3, 1), (7, 3), (1, 5), (7, 7), (4, 6)];

/// Where a case's operands come from.
enum Source<'a> {
    /// The `.npy` files, read region by region in blocks of these parts per axis.
    Files(u64, u64),
    /// zstd stores written from the files, with chunks of these parts per axis.
    Stores(&'a Path, u64, u64),
}

fn open(dir: &Path, file: &str, parts: u64) -> LazyArray {
    let whole = open_npy(&dir.join(file), None).unwrap();
    open_npy(
        &dir.join(file),
        Some(&common::parts_of(whole.shape(), parts)),
    )
    .unwrap()
}

fn stored(store_dir: &Path, name: &str, a: &LazyArray, parts: u64) -> LazyArray {
    let store = Store::create(store_dir.join(format!("{name}.zarr"))).unwrap();
    let spec = ArraySpec::new(a.data_type(), a.shape())
        .chunks(&common::parts_of(a.shape(), parts))
        .encoding(ChunkEncoding::zstd(1));
    LazyArray::from_stored(&a.to_store(&store, "a", &spec).unwrap())
}

/// The case's `x` and mask from `source`, and the extraction (or the error building it).
fn build(case: &Case, dir: &Path, source: &Source<'_>) -> outcore::Result<LazyArray> {
    let (x_parts, mask_parts) = match source {
        Source::Files(x, m) | Source::Stores(_, x, m) => (*x, *m),
    };
    let mut x = open(dir, &case.x, x_parts);
    let mut mask_file = case.mask["file"]
        .as_str()
        .map(|file| open(dir, file, mask_parts));
    if let Source::Stores(store_dir, ..) = source {
        x = stored(store_dir, &format!("{}_x", case.name), &x, x_parts);
        mask_file =
            mask_file.map(|m| stored(store_dir, &format!("{}_m", case.name), &m, mask_parts));
    }
    // A mask made from `x` is made from `x` in the mask's blocks.
    let x_for_mask = || x.rechunk(&common::parts_of(x.shape(), mask_parts));
    let number = |key: &str| -> f64 { case.mask[key].as_f64().unwrap() };
    let mask = match case.mask["op"].as_str().unwrap() {
        "file" => mask_file.unwrap(),
        "greater" => match case.mask["value"].as_i64() {
            Some(v) => x_for_mask()?.greater(v)?,
            None => x_for_mask()?.greater(number("value"))?,
        },
        "between" => {
            let xm = x_for_mask()?;
            let (low, high) = (
                case.mask["low"].as_i64().unwrap(),
                case.mask["high"].as_i64().unwrap(),
            );
            xm.greater(low)?.logical_and(&xm.less(high)?)?
        }
        "above_mean" => {
            let xm = x_for_mask()?;
            xm.greater(&xm.mean(Axes::all())?)?
        }
        other => panic!("case {}: no mask {other}", case.name),
    };
    x.extract(&mask)
}

/// An element as JSON, the way the script writes numpy's scalars (floats as Python's repr).
fn element_json<T: Num>(x: T) -> Value {
    match T::DATA_TYPE.kind() {
        outcore::Kind::Bool => Value::from(x.truthy()),
        outcore::Kind::Signed => Value::from(x.as_i64()),
        outcore::Kind::Unsigned => Value::from(x.as_u64()),
        outcore::Kind::Float => Value::from(format!("{:?}", x.to_f64())),
    }
}

/// The one element of a 0-d result, as JSON.
fn scalar_json(a: &LazyArray) -> Result<Value, String> {
    with_element_type!(a.data_type(), T => {
        a.to_scalar::<T>().map(element_json).map_err(|e| format!("compute: {e}"))
    })
}

/// Whether `got` is numpy's `want`: equal, or for floats (`scale` given) NaN for NaN or
/// within `scale` of it.
fn same_number(got: &Value, want: &Value, scale: Option<f64>) -> bool {
    match scale {
        Some(scale) => {
            let (g, w) = (common::python_float(got), common::python_float(want));
            (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= scale
        }
        None => got == want,
    }
}

fn check(case: &Case, dir: &Path, source: &Source<'_>) -> Result<(), String> {
    let built = build(case, dir, source);
    if let Some(numpy_error) = &case.error {
        return match built {
            Ok(_) => Err(format!("no error; numpy: {numpy_error}")),
            Err(e) if e.kind() == ErrorKind::ShapeMismatch => Ok(()),
            Err(e) => Err(format!("{:?} error {e}; numpy: {numpy_error}", e.kind())),
        };
    }
    let r = built.map_err(|e| format!("build: {e}"))?;
    let (dtype, shape) = (case.dtype.as_deref().unwrap(), case.shape.as_ref().unwrap());
    if r.data_type().name() != dtype || r.shape() != [shape[0] as u64] {
        return Err(format!(
            "{} {:?}, numpy {dtype} {shape:?}",
            r.data_type(),
            r.shape()
        ));
    }
    let want = open(dir, case.expect.as_deref().unwrap(), 1);
    with_element_type!(r.data_type(), T => {
        let got = r.to_ndarray::<T>().map_err(|e| format!("compute: {e}"))?;
        let want = want.to_ndarray::<T>().unwrap();
        if !common::same_bits(&got, &want) {
            let at = got
                .iter()
                .zip(&want)
                .position(|(g, w)| g.to_f64().to_bits() != w.to_f64().to_bits());
            return Err(format!("values differ from numpy's (first at {at:?})"));
        }
        // A slice of the result is that slice of numpy's.
        let n = r.shape()[0];
        let part = (n / 3)..(2 * n / 3 + 1).min(n);
        let sliced = r
            .slice(ndarray::s![part.start as isize..part.end as isize])
            .and_then(|s| s.to_ndarray::<T>())
            .map_err(|e| format!("slice: {e}"))?;
        let want_part = want
            .slice(ndarray::s![part.start as usize..part.end as usize])
            .to_owned()
            .into_dyn();
        if !common::same_bits(&sliced, &want_part) {
            return Err(format!("the slice {part:?} differs from numpy's"));
        }
    });
    let float = r.data_type().kind() == outcore::Kind::Float;
    let sum = r.sum(Axes::all()).map_err(|e| format!("sum: {e}"))?;
    let sum_dtype = case.sum_dtype.as_deref().unwrap();
    if sum.data_type().name() != sum_dtype {
        return Err(format!("sum dtype {}, numpy {sum_dtype}", sum.data_type()));
    }
    let rounding = if r.data_type() == DataType::Float32 {
        1e-5
    } else {
        1e-12
    };
    let scale = float.then(|| rounding * case.sum_scale.unwrap());
    let (got, want) = (scalar_json(&sum)?, case.sum.clone().unwrap());
    if !same_number(&got, &want, scale) {
        return Err(format!("sum {got}, numpy {want}"));
    }
    if let Some(want) = &case.max {
        let got = scalar_json(&r.max(Axes::all()).map_err(|e| format!("max: {e}"))?)?;
        if !same_number(&got, want, float.then_some(0.0)) {
            return Err(format!("max {got}, numpy {want}"));
        }
    }
    Ok(())
}

#[test]
fn extract_agrees_with_numpy() {
    let Some(python) = common::python() else {
        return;
    };
    let dir = common::scratch_dir("numpy-extract");
    let cases =
        common::numpy_manifest::<Vec<Case>>(&python, "tests/numpy_extract/reference.py", &dir);
    assert!(cases.len() > 10);
    let mut failures = Vec::new();
    for case in &cases {
        for (x_parts, mask_parts) in CHUNKINGS {
            if let Err(m) = check(case, &dir, &Source::Files(x_parts, mask_parts)) {
                failures.push(format!("{} ({x_parts}, {mask_parts}): {m}", case.name));
            }
        }
        let stores = dir.join(format!("{}_stores", case.name));
        std::fs::create_dir_all(&stores).unwrap();
        if let Err(m) = check(case, &dir, &Source::Stores(&stores, 3, 5)) {
            failures.push(format!("{} (stored): {m}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} checks disagree with numpy:\n{}",
        failures.len(),
        failures.join("\n")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `x[mask]` computed serially from the whole operands.
fn serial_extract<T: Element>(x: &LazyArray, mask: &LazyArray) -> Vec<T> {
    let x = x.to_ndarray::<T>().unwrap();
    let mask = mask.to_ndarray::<bool>().unwrap();
    x.iter()
        .zip(mask.iter())
        .filter(|(_, &m)| m)
        .map(|(&v, _)| v)
        .collect()
}

#[test]
fn extract_does_not_depend_on_chunking() {
    let shape = [23, 31, 19];
    let x = random::uniform(7, &shape, -1.0, 1.0).unwrap();
    let ints = random::integers(8, &shape, -1000, 1000).unwrap();
    let mask = random::uniform(9, &shape, 0.0, 1.0)
        .unwrap()
        .greater(0.35)
        .unwrap();
    let want = serial_extract::<f64>(&x, &mask);
    let want_ints = serial_extract::<i64>(&ints, &mask);
    let want_sum: i64 = want_ints.iter().sum();
    assert!(want.len() > 5000, "the result spans many blocks");
    let chunkings: [[u64; 3]; 5] = [[23, 31, 19], [1, 1, 19], [5, 7, 3], [23, 2, 19], [4, 31, 1]];
    for x_chunks in chunkings {
        for mask_chunks in chunkings {
            let m = mask.rechunk(&mask_chunks).unwrap();
            let r = x.rechunk(&x_chunks).unwrap().extract(&m).unwrap();
            let got = r.to_ndarray::<f64>().unwrap();
            assert_eq!(
                got.as_slice().unwrap(),
                want.as_slice(),
                "{x_chunks:?} / {mask_chunks:?}"
            );
            let ri = ints.rechunk(&x_chunks).unwrap().extract(&m).unwrap();
            assert_eq!(
                ri.to_ndarray::<i64>().unwrap().as_slice().unwrap(),
                want_ints.as_slice()
            );
            assert_eq!(
                ri.sum(Axes::all()).unwrap().to_scalar::<i64>().unwrap(),
                want_sum
            );
        }
    }
}

/// A 1-d `f64` array that records the regions read from it.
struct Recording {
    values: Vec<f64>,
    shape: [u64; 1],
    reads: Mutex<Vec<Range<u64>>>,
}

impl RegionSource for Recording {
    fn data_type(&self) -> DataType {
        DataType::Float64
    }
    fn shape(&self) -> &[u64] {
        &self.shape
    }
    fn describe(&self) -> String {
        "a recording source".to_string()
    }
    fn read_region(&self, region: &[Range<u64>]) -> outcore::Result<Block> {
        let r = region[0].clone();
        self.reads.lock().unwrap().push(r.clone());
        let values = self.values[r.start as usize..r.end as usize].to_vec();
        Ok(Block::from_array(
            ArrayD::from_shape_vec(IxDyn(&[values.len()]), values).unwrap(),
        ))
    }
}

#[test]
fn extract_reads_only_the_values_it_selects() {
    let n = 10_000;
    let source = Arc::new(Recording {
        values: (0..n).map(|i| i as f64).collect(),
        shape: [n as u64],
        reads: Mutex::new(Vec::new()),
    });
    let x = LazyArray::from_source(source.clone(), Some(&[100])).unwrap();
    let mut mask = vec![false; n];
    for i in [4210, 4215, 7777] {
        mask[i] = true;
    }
    let mask =
        LazyArray::from_array(ArrayD::from_shape_vec(IxDyn(&[n]), mask).unwrap(), &[100]).unwrap();
    let r = x.extract(&mask).unwrap();
    assert_eq!(r.shape(), &[3]);
    assert!(
        source.reads.lock().unwrap().is_empty(),
        "counting reads only the mask"
    );
    assert_eq!(
        r.to_ndarray::<f64>().unwrap().as_slice().unwrap(),
        &[4210.0, 4215.0, 7777.0]
    );
    let reads = source.reads.lock().unwrap().clone();
    let read: u64 = reads.iter().map(|r| r.end - r.start).sum();
    assert!(read <= 7, "read {reads:?}");
}

#[test]
fn extract_refuses_masks_that_are_not_bool_and_keeps_deferred_errors() {
    let x = LazyArray::arange(0, 12, 1)
        .unwrap()
        .reshape(&[3, 4])
        .unwrap();
    let ints = LazyArray::ones(&[3, 4], DataType::Int64);
    assert_eq!(
        x.extract(&ints).unwrap_err().kind(),
        ErrorKind::TypeMismatch
    );
    let floats = LazyArray::ones(&[3, 4], DataType::Float64);
    assert_eq!(
        x.extract(&floats).unwrap_err().kind(),
        ErrorKind::TypeMismatch
    );
    let short = LazyArray::ones(&[3], DataType::Bool);
    assert_eq!(
        x.extract(&short).unwrap_err().kind(),
        ErrorKind::ShapeMismatch
    );
    // An operand that could not be built: its own error.
    let failed = &x + &LazyArray::ones(&[5], DataType::Int64);
    let mask = x.greater(3).unwrap();
    assert_eq!(
        failed.extract(&mask).unwrap_err().kind(),
        ErrorKind::ShapeMismatch
    );
    assert_eq!(
        x.extract(&failed).unwrap_err().kind(),
        ErrorKind::ShapeMismatch,
        "a failed mask's own error, before its type is looked at"
    );
    // More elements than one axis can index: refused before any pass.
    let huge = random::uniform(1, &[u64::MAX, 2], 0.0, 1.0).unwrap();
    assert_eq!(
        huge.extract(&huge.greater(0.5).unwrap())
            .unwrap_err()
            .kind(),
        ErrorKind::TooLarge
    );
}

#[test]
fn extract_of_a_zero_dimensional_array() {
    // numpy: np.array(2.5)[np.array(True)] is array([2.5]); with False, array([]).
    let x = LazyArray::full(&[], 2.5);
    let yes = x.extract(&LazyArray::full(&[], true)).unwrap();
    assert_eq!(yes.to_ndarray::<f64>().unwrap().as_slice().unwrap(), &[2.5]);
    let no = x.extract(&LazyArray::full(&[], false)).unwrap();
    assert_eq!(no.shape(), &[0]);
    assert_eq!(
        no.sum(Axes::all()).unwrap().to_scalar::<f64>().unwrap(),
        0.0
    );
}

#[test]
fn extract_reports_the_progress_of_its_counting_pass() {
    let x = random::uniform(3, &[400, 50], 0.0, 1.0)
        .unwrap()
        .rechunk(&[40, 50])
        .unwrap();
    let mask = x.greater(0.5).unwrap();
    let seen: Mutex<Vec<Progress>> = Mutex::new(Vec::new());
    let observer = |p: &Progress| {
        seen.lock().unwrap().push(*p);
        ControlFlow::Continue(())
    };
    let r = x.compute().progress(&observer).extract(&mask).unwrap();
    let last = *seen.lock().unwrap().last().expect("progress reported");
    assert_eq!(last.blocks_done, last.blocks_total);
    assert_eq!(last.blocks_total, 10, "one source block per block of x");
    assert_eq!(r.shape(), &[serial_extract::<f64>(&x, &mask).len() as u64]);
}
