//! outcore against numpy itself, case by case: numpy writes the inputs and its answers
//! (`tests/numpy_semantics/reference.py`: values, result dtype, or the error it raises),
//! outcore builds the same expression over the inputs in odd blocks, computes it and must
//! give the same dtype and the same values — bit for bit for exact operations, within a few
//! units in the last place where the case says so (transcendental functions, whose libm
//! differs from numpy's, and reductions, whose summation order differs) — or an error where
//! numpy raises one.
//!
//! Needs `OUTCORE_PYTHON`, a Python with numpy (`.ci/run` sets it); skipped with a message
//! without it, except under `CI`, where it must be set.

mod common;

use std::path::Path;

use ndarray::ArrayD;
use outcore::convert::binary::open_npy;
use outcore::{with_element_type, Array, ArraySpec, Axes, DataType, Element, LazyArray, Store};
use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
struct Case {
    name: String,
    op: String,
    inputs: Vec<String>,
    params: serde_json::Map<String, Value>,
    ulps: u64,
    expect: Option<String>,
    dtype: Option<String>,
    shape: Option<Vec<usize>>,
    error: Option<String>,
}

/// Blocks of about a third of each axis, so every case spans several uneven blocks.
fn odd_chunks(shape: &[u64]) -> Vec<u64> {
    shape.iter().map(|&n| (n / 3 + 1).max(1)).collect()
}

fn input(dir: &Path, file: &str) -> LazyArray {
    let whole = open_npy(&dir.join(file), None).unwrap();
    open_npy(&dir.join(file), Some(&odd_chunks(whole.shape()))).unwrap()
}

/// `input` written to a store in one chunk (so the statistics sidecar covers it whole).
fn stored(dir: &Path, x: &LazyArray, name: &str) -> Array {
    let store = Store::create(dir.join(format!("{name}.zarr"))).unwrap();
    let spec = ArraySpec::new(x.data_type(), x.shape()).chunks(x.shape());
    x.to_store(&store, "x", &spec).unwrap()
}

fn f64_param(case: &Case, key: &str) -> f64 {
    case.params[key].as_f64().unwrap()
}

fn int_param(case: &Case, key: &str) -> i64 {
    case.params[key].as_i64().unwrap()
}

fn ints_param(case: &Case, key: &str) -> Vec<i64> {
    case.params[key]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect()
}

fn tolerances(case: &Case) -> (f64, f64, bool) {
    (
        f64_param(case, "rtol"),
        f64_param(case, "atol"),
        case.params["equal_nan"].as_bool().unwrap(),
    )
}

fn axes_param(case: &Case) -> Axes {
    match case.params.get("axes") {
        Some(Value::Array(v)) => {
            Axes::from(v.iter().map(|a| a.as_i64().unwrap()).collect::<Vec<_>>())
        }
        _ => Axes::all(),
    }
}

/// The outcore expression of a case (build errors are returned, as numpy's are raised).
/// Stored-array cases give two expressions: answered from the sidecar, and scanning.
fn build(case: &Case, dir: &Path, x: &[LazyArray]) -> outcore::Result<Vec<(LazyArray, bool)>> {
    let plain = |e: LazyArray| vec![(e, false)];
    let moment = |op: &str, x: &LazyArray| {
        let (axes, ddof) = (axes_param(case), f64_param(case, "ddof"));
        match op {
            "var" => x.var(axes, ddof),
            "std" => x.std(axes, ddof),
            "nanvar" => x.nanvar(axes, ddof),
            "nanstd" => x.nanstd(axes, ddof),
            other => panic!("no moment {other}"),
        }
    };
    Ok(match case.op.as_str() {
        "pow" => plain(x[0].pow(&x[1])?),
        "pow_sum" => plain(x[0].pow(&x[1])?.sum(Axes::all())?),
        "pow_scalar" => plain(x[0].pow(case.params["exponent"].as_i64().unwrap())?),
        "pow_scalar_sum" => plain(
            x[0].pow(case.params["exponent"].as_i64().unwrap())?
                .sum(Axes::all())?,
        ),
        "sign" => plain(x[0].sign()?),
        "arctan2" => plain(x[0].arctan2(&x[1])?),
        "hypot" => plain(x[0].hypot(&x[1])?),
        "fmod" => plain(x[0].fmod(&x[1])?),
        "fmod_scalar" => plain(x[0].fmod(f64_param(case, "value"))?),
        "fmod_scalar_sum" => plain(x[0].fmod(f64_param(case, "value"))?.sum(Axes::all())?),
        "bitwise_and" => plain(x[0].bitwise_and(&x[1])?),
        "bitwise_or" => plain(x[0].bitwise_or(&x[1])?),
        "bitwise_xor" => plain(x[0].bitwise_xor(&x[1])?),
        "bitwise_and_scalar" => plain(x[0].bitwise_and(int_param(case, "value"))?),
        "bitwise_or_scalar" => plain(x[0].bitwise_or(int_param(case, "value"))?),
        "bitwise_xor_scalar" => plain(x[0].bitwise_xor(int_param(case, "value"))?),
        "invert" => plain(x[0].invert()?),
        "isclose" => {
            let (rtol, atol, equal_nan) = tolerances(case);
            plain(x[0].isclose(&x[1], rtol, atol, equal_nan)?)
        }
        "isclose_scalar" => {
            let (rtol, atol, equal_nan) = tolerances(case);
            // Python's text for the number: an integer stays one (a weak int).
            let text = case.params["value"].as_str().unwrap();
            let e = match text.parse::<i64>() {
                Ok(v) => x[0].isclose(v, rtol, atol, equal_nan)?,
                Err(_) => x[0].isclose(text.parse::<f64>().unwrap(), rtol, atol, equal_nan)?,
            };
            plain(e)
        }
        "ptp" => plain(x[0].ptp(axes_param(case))?),
        "average" => plain(x[0].average(axes_param(case), None)?),
        "average_weighted" => plain(x[0].average(axes_param(case), Some(&x[1]))?),
        "take" => plain(x[0].take(&ints_param(case, "indices"), int_param(case, "axis"))?),
        "take_sum" => plain(
            x[0].take(&ints_param(case, "indices"), int_param(case, "axis"))?
                .sum(0)?,
        ),
        "take_array" => plain(x[0].take_array(&x[1], int_param(case, "axis"))?),
        "compress" => {
            let mask: Vec<bool> = case.params["mask"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_bool().unwrap())
                .collect();
            plain(x[0].compress(&mask, int_param(case, "axis"))?)
        }
        "compress_array" => plain(x[0].compress_array(&x[1], int_param(case, "axis"))?),
        "allclose" => {
            let (rtol, atol, equal_nan) = tolerances(case);
            let all = x[0].allclose(&x[1], rtol, atol, equal_nan)?;
            plain(LazyArray::full(&[], all))
        }
        op @ ("var" | "std" | "nanvar" | "nanstd") => plain(moment(op, &x[0])?),
        op if op.ends_with("_stored") => {
            let array = stored(dir, &x[0], &case.name);
            let e = moment(
                op.trim_end_matches("_stored"),
                &LazyArray::from_stored(&array),
            )?;
            vec![(e.clone(), false), (e, true)]
        }
        other => panic!("case {}: no operation {other}", case.name),
    })
}

/// Units in the last place between two floats of `T`'s width (0 when both are NaN).
fn ulps_apart<T: Element>(a: T, b: T) -> u64 {
    let (x, y) = (a.to_f64(), b.to_f64());
    if x.is_nan() || y.is_nan() {
        return if x.is_nan() && y.is_nan() {
            0
        } else {
            u64::MAX
        };
    }
    if x == y {
        return 0;
    }
    let ordered = |bits: i64| if bits < 0 { i64::MIN - bits } else { bits };
    if T::DATA_TYPE == DataType::Float32 {
        let (p, q) = (
            ordered(i64::from((x as f32).to_bits() as i32)),
            ordered(i64::from((y as f32).to_bits() as i32)),
        );
        p.abs_diff(q)
    } else {
        ordered(x.to_bits() as i64).abs_diff(ordered(y.to_bits() as i64))
    }
}

/// Whether `got` equals numpy's `want` of shape `shape`: exactly (NaN equal to NaN, zeros
/// with their sign) when `ulps` is 0, else within `ulps` units in the last place. (`want` is
/// compared in C order: the `.npy` reader gives a 0-d file one axis of length 1.)
fn agree<T: Element>(
    got: &ArrayD<T>,
    want: &ArrayD<T>,
    shape: &[usize],
    ulps: u64,
) -> Result<(), String> {
    if got.shape() != shape || got.len() != want.len() {
        return Err(format!("shape {:?}, numpy {shape:?}", got.shape()));
    }
    let float = T::DATA_TYPE.kind() == outcore::Kind::Float;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let same = if !float {
            g == w
        } else if ulps == 0 {
            (g.is_nan() && w.is_nan()) || g.to_f64().to_bits() == w.to_f64().to_bits()
        } else {
            ulps_apart(g, w) <= ulps
        };
        if !same {
            return Err(format!("element {i}: {g:?}, numpy {w:?}"));
        }
    }
    Ok(())
}

fn check(case: &Case, dir: &Path) -> Result<(), String> {
    let x: Vec<LazyArray> = case.inputs.iter().map(|f| input(dir, f)).collect();
    let built = build(case, dir, &x);
    if let Some(numpy_error) = &case.error {
        let got = built.and_then(|es| {
            es.iter()
                .map(|(e, scan)| {
                    let c = e.compute();
                    let c = if *scan { c.scan_data() } else { c };
                    with_element_type!(e.data_type(), T => c.to_ndarray::<T>().map(|_| ()))
                })
                .collect::<outcore::Result<Vec<()>>>()
        });
        let message = match got {
            Ok(_) => return Err(format!("no error; numpy: {numpy_error}")),
            Err(e) => e.to_string(),
        };
        if let Some(Value::String(want)) = case.params.get("message") {
            if !message.to_lowercase().contains(&want.to_lowercase()) {
                return Err(format!("error {message:?} does not say {want:?}"));
            }
        }
        return Ok(());
    }
    let want_dtype = case.dtype.as_deref().unwrap();
    let want = input(dir, case.expect.as_deref().unwrap());
    for (e, scan) in built.map_err(|e| format!("build: {e}"))? {
        if e.data_type().name() != want_dtype {
            return Err(format!("dtype {}, numpy {want_dtype}", e.data_type()));
        }
        with_element_type!(e.data_type(), T => {
            let c = e.compute();
            let c = if scan { c.scan_data() } else { c };
            let got = c.to_ndarray::<T>().map_err(|e| format!("compute: {e}"))?;
            agree(&got, &want.to_ndarray::<T>().unwrap(), case.shape.as_deref().unwrap(), case.ulps)
                .map_err(|m| format!("{}{m}", if scan { "scanning: " } else { "" }))?;
        });
    }
    Ok(())
}

#[test]
fn outcore_agrees_with_numpy() {
    let Some(python) = common::python() else {
        return;
    };
    let dir = common::scratch_dir("numpy-semantics");
    let cases =
        common::numpy_manifest::<Vec<Case>>(&python, "tests/numpy_semantics/reference.py", &dir);
    assert!(!cases.is_empty());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| check(c, &dir).err().map(|m| format!("{}: {m}", c.name)))
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases disagree with numpy:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
