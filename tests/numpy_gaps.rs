//! Places where a numpy user expects numpy's answer, checked against numpy itself.
//!
//! Each test with a script under `tests/numpy_gaps/` runs it with `OUTCORE_PYTHON` (numpy 2);
//! without it the test says it is skipped (under `CI` it must be set).
//!
//! - Python ints of every width mixed with arrays of every dtype (NEP 50): results and
//!   dtypes, and an error wherever numpy raises `OverflowError`.
//! - `from_array` takes views, slices, references and owned arrays of any dimension (checked
//!   against the same values from ndarray), moving an owned C-order array in without a copy.
//! - `to_ndarray_as` and `to_dynamic().astype()` between every pair of data types against
//!   numpy's `astype`; where numpy leaves a float-to-integer cast undefined (NaN, infinities,
//!   out of range), against outcore's documented rule (truncate, saturate, NaN to 0) computed
//!   by the script from Python's own numbers.
//! - `rechunk_irregular` with dask-style block lengths per axis: the blocks are exactly those
//!   (dask's `chunks`: the blocks of axis `i` are consecutive runs of the listed lengths, in
//!   C order over the axes), the values unchanged, bad lists refused.
//! - `slice_np` over thousands of random numpy indices (starts and stops past both ends,
//!   negative and zero steps, indices, `np.newaxis`, `...`) on 1-d and 2-d arrays: numpy's
//!   values and shapes, and an error wherever numpy raises; the `s![]` to numpy table of the
//!   `slice` docs.

mod common;

use std::path::PathBuf;

use ndarray::{ArrayD, IxDyn};
use outcore::test_support::Num;
use outcore::AnyArray;
use outcore::{with_element_type, DataType, ErrorKind, Kind, LazyArray, Operand};
use outcore::{BinaryOp, NumpyIndex, WeakScalar};
use serde_json::{json, Value};

fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/numpy_gaps")
        .join(name)
}

/// A JSON number or bool (as numpy's `tolist` writes it) as an element of type `T`.
fn element_from_json<T: Num>(v: &Value) -> T {
    match v {
        Value::Bool(b) => T::from_bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => T::from_i64(i),
            (_, Some(u)) => T::from_u64(u),
            _ => T::from_f64(n.as_f64().expect("a number")),
        },
        other => panic!("not a number: {other}"),
    }
}

/// An element as JSON, the way numpy's `tolist` writes it.
fn element_to_json<T: Num>(x: T) -> Value {
    match T::DATA_TYPE.kind() {
        Kind::Bool => json!(x.truthy()),
        Kind::Signed => json!(x.as_i64()),
        Kind::Unsigned => json!(x.as_u64()),
        Kind::Float => json!(x.to_f64()),
    }
}

/// A 1-d lazy array of `data_type` holding `values`, in blocks of 3.
fn array_from_json(data_type: DataType, values: &[Value]) -> LazyArray {
    with_element_type!(data_type, T => {
        let data: Vec<T> = values.iter().map(element_from_json::<T>).collect();
        let array = ArrayD::from_shape_vec(IxDyn(&[data.len()]), data).unwrap();
        LazyArray::from_array(array, &[3]).unwrap()
    })
}

/// A computed array's elements in C order as JSON.
fn values_to_json(array: &LazyArray) -> Vec<Value> {
    with_element_type!(array.data_type(), T => {
        array.to_ndarray::<T>().unwrap().iter().map(|&x| element_to_json(x)).collect()
    })
}

fn data_type(name: &str) -> DataType {
    DataType::from_name(name).unwrap_or_else(|| panic!("unknown dtype {name}"))
}

/// A Python int as the narrowest Rust integer type the JSON number fits, so the `From`
/// impls of several widths are exercised.
fn int_operand(v: &Value) -> Operand {
    let n = v.as_number().expect("an integer");
    if let Some(i) = n.as_i64() {
        match i8::try_from(i) {
            Ok(small) => small.into(),
            Err(_) => i.into(),
        }
    } else {
        n.as_u64().expect("an integer up to u64::MAX").into()
    }
}

fn binary_op(name: &str) -> BinaryOp {
    match name {
        "eq" => BinaryOp::Eq,
        "ne" => BinaryOp::Ne,
        "lt" => BinaryOp::Lt,
        "le" => BinaryOp::Le,
        "gt" => BinaryOp::Gt,
        "ge" => BinaryOp::Ge,
        "add" => BinaryOp::Add,
        "sub" => BinaryOp::Sub,
        "mul" => BinaryOp::Mul,
        "maximum" => BinaryOp::Maximum,
        other => panic!("unknown op {other}"),
    }
}

#[test]
fn python_ints_of_every_width_follow_nep50() {
    let Some(python) = common::python() else {
        return;
    };
    let answers = common::run_python_json(&python, &script("scalars.py"), &json!(null));
    let cases = answers["cases"].as_array().unwrap();
    assert!(cases.len() > 3000);
    for case in cases {
        let array = array_from_json(
            data_type(case["dtype"].as_str().unwrap()),
            case["array"].as_array().unwrap(),
        );
        let scalar = int_operand(&case["value"]);
        let op = binary_op(case["op"].as_str().unwrap());
        let ours = if case["scalar_left"].as_bool().unwrap() {
            LazyArray::binary(op, scalar, &array)
        } else {
            LazyArray::binary(op, &array, scalar)
        };
        match (&case["error"], ours) {
            (Value::String(_), Ok(r)) => panic!("{case}: numpy raises, we give {r:?}"),
            (Value::String(_), Err(e)) => assert_eq!(e.kind(), ErrorKind::OutOfBounds, "{case}"),
            (_, Err(e)) => panic!("{case}: we fail with {e}"),
            (_, Ok(r)) => {
                assert_eq!(r.data_type().name(), case["result_dtype"], "{case}");
                assert_eq!(
                    values_to_json(&r),
                    case["result"].as_array().unwrap().clone(),
                    "{case}"
                );
            }
        }
    }
}

#[test]
fn every_rust_integer_type_is_a_literal() {
    let x = LazyArray::from_array(ArrayD::from_elem(IxDyn(&[4]), 200u8), &[3]).unwrap();
    let sums: Vec<ArrayD<u8>> = [
        LazyArray::binary(BinaryOp::Add, &x, 1u8),
        LazyArray::binary(BinaryOp::Add, &x, 1i8),
        LazyArray::binary(BinaryOp::Add, &x, 1u16),
        LazyArray::binary(BinaryOp::Add, &x, 1i16),
        LazyArray::binary(BinaryOp::Add, &x, 1u32),
        LazyArray::binary(BinaryOp::Add, &x, 1i32),
        LazyArray::binary(BinaryOp::Add, &x, 1u64),
        LazyArray::binary(BinaryOp::Add, &x, 1i64),
        LazyArray::binary(BinaryOp::Add, &x, 1usize),
        LazyArray::binary(BinaryOp::Add, &x, 1isize),
    ]
    .into_iter()
    .map(|r| r.unwrap().to_ndarray::<u8>().unwrap())
    .collect();
    for s in sums {
        assert_eq!(s, ArrayD::from_elem(IxDyn(&[4]), 201u8));
    }
    // The weak scalar takes the array's type: 300 does not fit `uint8`.
    assert_eq!(
        LazyArray::binary(BinaryOp::Add, &x, 300u16)
            .unwrap_err()
            .kind(),
        ErrorKind::OutOfBounds
    );
    let big = LazyArray::from_array(ArrayD::from_elem(IxDyn(&[2]), u64::MAX), &[1]).unwrap();
    let eq = big.equal(u64::MAX).unwrap().to_ndarray::<bool>().unwrap();
    assert_eq!(eq, ArrayD::from_elem(IxDyn(&[2]), true));

    // Beyond 64 bits (numpy: `np.array([1]) < 2**100` is `[True]`, `-2**100 < x` too,
    // `x == 2**100` is `[False]`, and `x + 2**100` raises).
    let huge = |v: i128| Operand::Scalar(WeakScalar::Int(v));
    let x64 = LazyArray::from_array(ArrayD::from_elem(IxDyn(&[3]), 1i64), &[2]).unwrap();
    let all = |r: outcore::Result<LazyArray>, want: bool| {
        let r = r.unwrap();
        assert_eq!(r.shape(), &[3]);
        assert_eq!(
            r.to_ndarray::<bool>().unwrap(),
            ArrayD::from_elem(IxDyn(&[3]), want)
        );
    };
    all(x64.less(huge(1 << 100)), true);
    all(x64.greater_equal(huge(1 << 100)), false);
    all(x64.equal(huge(1 << 100)), false);
    all(x64.not_equal(huge(-(1 << 100))), true);
    all(x64.greater(huge(-(1 << 100))), true);
    all(
        LazyArray::binary(BinaryOp::Lt, huge(-(1 << 100)), &x64),
        true,
    );
    all(LazyArray::binary(BinaryOp::Le, huge(1 << 100), &x64), false);
    assert_eq!(
        LazyArray::binary(BinaryOp::Add, &x64, huge(1 << 100))
            .unwrap_err()
            .kind(),
        ErrorKind::OutOfBounds
    );
}

/// The address of the first element of the single block of `x` (one block over the array).
fn only_block_address(x: &LazyArray) -> *const f64 {
    let mut blocks = x.blocks();
    let (_, block) = blocks.next().unwrap().unwrap();
    assert!(blocks.next().is_none());
    block.view::<f64>().unwrap().as_ptr()
}

#[test]
fn from_array_takes_views_and_keeps_owned_arrays_in_place() {
    let a = ndarray::Array2::from_shape_fn((5, 7), |(i, j)| (i * 10 + j) as f64);
    let expected = |v: ndarray::ArrayView2<f64>| v.to_owned().into_dyn();
    let chunks = [2, 3];
    // A view, a reference, a strided slice, a transposed view, an owned 2-d array.
    let cases: Vec<(LazyArray, ArrayD<f64>)> = vec![
        (
            LazyArray::from_array(a.view(), &chunks).unwrap(),
            expected(a.view()),
        ),
        (
            LazyArray::from_array(&a, &chunks).unwrap(),
            expected(a.view()),
        ),
        (
            LazyArray::from_array(a.slice(ndarray::s![1..;2, ..;-3]), &[2, 2]).unwrap(),
            expected(a.slice(ndarray::s![1..;2, ..;-3])),
        ),
        (
            LazyArray::from_array(a.t(), &[3, 2]).unwrap(),
            expected(a.t()),
        ),
        (
            LazyArray::from_array(a.clone(), &chunks).unwrap(),
            expected(a.view()),
        ),
    ];
    for (lazy, want) in cases {
        assert_eq!(
            lazy.shape(),
            want.shape().iter().map(|&n| n as u64).collect::<Vec<_>>()
        );
        assert_eq!(lazy.to_ndarray::<f64>().unwrap(), want);
    }
    // A view of the wrong rank of chunks is an error, as for owned arrays.
    assert_eq!(
        LazyArray::from_array(a.view(), &[2]).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );

    // Owned and in C order: the block is a view of the very buffer given.
    let owned = a.clone().into_dyn();
    let address = owned.as_ptr();
    let lazy = LazyArray::from_array(owned, &[5, 7]).unwrap();
    assert_eq!(only_block_address(&lazy), address);
    // A view is copied: the block lives elsewhere.
    let lazy = LazyArray::from_array(a.view(), &[5, 7]).unwrap();
    assert_ne!(only_block_address(&lazy), a.as_ptr());
}

/// A value written by Python's `repr` (`True`, `-3`, `nan`, `-inf`, `1e+19`) as a `T`.
fn parse_repr<T: Num>(s: &str) -> T {
    match s {
        "True" => T::from_bool(true),
        "False" => T::from_bool(false),
        _ => match s.parse::<i128>() {
            Ok(v) => match i64::try_from(v) {
                Ok(v) => T::from_i64(v),
                Err(_) => T::from_u64(u64::try_from(v).expect("an integer within u64")),
            },
            Err(_) => T::from_f64(s.parse::<f64>().expect("a float")),
        },
    }
}

/// Equal values: the same bits for floats (so `-0.0` differs from `0.0`), any NaN for NaN.
fn same<T: Num>(a: T, b: T) -> bool {
    match T::DATA_TYPE.kind() {
        Kind::Float => {
            let (a, b) = (a.to_f64(), b.to_f64());
            (a.is_nan() && b.is_nan()) || a.to_bits() == b.to_bits()
        }
        _ => a == b,
    }
}

fn lazy_from_reprs(data_type: DataType, values: &[Value]) -> LazyArray {
    with_element_type!(data_type, T => {
        let data: Vec<T> = values.iter().map(|v| parse_repr::<T>(v.as_str().unwrap())).collect();
        let array = ArrayD::from_shape_vec(IxDyn(&[data.len()]), data).unwrap();
        LazyArray::from_array(array, &[4]).unwrap()
    })
}

fn check_cast<T: Num>(case: &Value, what: &str, got: &ArrayD<T>) {
    let numpy = case["numpy"].as_array().unwrap();
    let documented = case["documented"].as_array().unwrap();
    assert_eq!(got.len(), numpy.len(), "{what} {case}");
    for ((&ours, numpy), documented) in got.iter().zip(numpy).zip(documented) {
        let want = documented
            .as_str()
            .unwrap_or_else(|| numpy.as_str().unwrap());
        assert!(
            same(ours, parse_repr::<T>(want)),
            "{what}: {} -> {}: got {ours:?}, want {want} (numpy {numpy}) in {case}",
            case["source"],
            case["target"]
        );
    }
}

#[test]
fn casting_results_follow_numpy_astype() {
    let Some(python) = common::python() else {
        return;
    };
    let answers = common::run_python_json(&python, &script("astype.py"), &json!(null));
    let cases = answers["cases"].as_array().unwrap();
    assert_eq!(cases.len(), DataType::ALL.len() * DataType::ALL.len());
    let mut undefined_in_numpy = 0;
    for case in cases {
        let source = data_type(case["source"].as_str().unwrap());
        let target = data_type(case["target"].as_str().unwrap());
        let values = case["values"].as_array().unwrap();
        let x = lazy_from_reprs(source, values);
        undefined_in_numpy += case["documented"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| !d.is_null())
            .count();
        let dynamic = x.to_dynamic().unwrap();
        assert_eq!(dynamic.data_type(), source);
        assert_eq!(dynamic.shape(), &[values.len()]);
        with_element_type!(target, U => {
            check_cast::<U>(case, "to_ndarray_as", &x.to_ndarray_as::<U>().unwrap());
            check_cast::<U>(case, "to_dynamic().astype", &dynamic.astype::<U>());
        });
    }
    // The saturating rule is exercised: NaN, infinities and out-of-range floats to every
    // integer type.
    assert!(undefined_in_numpy > 100, "{undefined_in_numpy}");
}

#[test]
fn to_dynamic_gives_the_variant_of_the_result_type() {
    let x = LazyArray::from_array(ndarray::arr2(&[[1i8, -2, 3], [4, 5, -6]]), &[1, 2]).unwrap();
    let sum = x.sum(1).unwrap().to_dynamic().unwrap();
    // numpy sums int8 in int64.
    assert_eq!(sum, AnyArray::Int64(ndarray::arr1(&[2i64, 3]).into_dyn()));
    assert_eq!(sum.data_type(), DataType::Int64);
    let mean = x.mean(0).unwrap().to_dynamic().unwrap();
    let AnyArray::Float64(m) = mean else {
        panic!("the mean of int8 is float64, got {mean:?}")
    };
    assert_eq!(m, ndarray::arr1(&[2.5, 1.5, -1.5]).into_dyn());
    let flags = x.greater(0).unwrap().to_dynamic().unwrap();
    assert_eq!(
        flags,
        AnyArray::Bool(ndarray::arr2(&[[true, false, true], [true, true, false]]).into_dyn())
    );
    assert_eq!(flags.shape(), &[2, 3]);
    assert_eq!(flags.len(), 6);
    // The cast fuses into the pass: a float expression read back as int16 truncates.
    let scaled = (&x * 2.75).to_ndarray_as::<i16>().unwrap();
    assert_eq!(
        scaled,
        ndarray::arr2(&[[2i16, -5, 8], [11, 13, -16]]).into_dyn()
    );
}

/// The block regions dask's `chunks` describe, in C order: the cartesian product of each
/// axis's runs of the listed lengths.
fn regions_of(chunks: &[Vec<u64>]) -> Vec<Vec<std::ops::Range<u64>>> {
    let runs: Vec<Vec<std::ops::Range<u64>>> = chunks
        .iter()
        .map(|lengths| {
            let mut start = 0;
            lengths
                .iter()
                .map(|&n| {
                    start += n;
                    start - n..start
                })
                .collect()
        })
        .collect();
    runs.iter().fold(vec![vec![]], |acc, axis| {
        acc.iter()
            .flat_map(|prefix| {
                axis.iter().map(move |r| {
                    let mut region = prefix.clone();
                    region.push(r.clone());
                    region
                })
            })
            .collect()
    })
}

/// Checks that `x` (holding `values`) rechunked to `chunks` has exactly those blocks, each
/// holding the values under it.
fn check_irregular(x: &LazyArray, values: &ArrayD<f64>, chunks: &[Vec<u64>]) {
    let y = x.rechunk_irregular(chunks).unwrap();
    let want = regions_of(chunks);
    let grid = y.block_grid();
    assert_eq!(grid.num_blocks(), want.len() as u64, "{chunks:?}");
    for (axis, lengths) in chunks.iter().enumerate() {
        let got: Vec<u64> = (0..grid.axis(axis).num_blocks())
            .map(|i| grid.axis(axis).block(i).end - grid.axis(axis).block(i).start)
            .collect();
        assert_eq!(&got, lengths, "axis {axis}");
    }
    let mut seen = 0;
    for (block, want) in y.blocks().zip(&want) {
        let (region, block) = block.unwrap();
        assert_eq!(&region, want);
        let under = values.slice_each_axis(|ax| {
            let r = &region[ax.axis.index()];
            ndarray::Slice::from(r.start as usize..r.end as usize)
        });
        assert_eq!(block.view::<f64>().unwrap(), under);
        seen += 1;
    }
    assert_eq!(seen, want.len());
    assert_eq!(&y.to_ndarray::<f64>().unwrap(), values);
    // Operations on the result keep its blocks.
    let z = &y * 2.0;
    assert_eq!(z.block_grid(), y.block_grid());
    assert_eq!(z.to_ndarray::<f64>().unwrap(), values * 2.0);
}

#[test]
fn rechunk_irregular_gives_exactly_the_listed_blocks() {
    let values = ndarray::Array2::from_shape_fn((10, 7), |(i, j)| (i * 7 + j) as f64).into_dyn();
    let stored_like = LazyArray::from_array(values.clone(), &[4, 3]).unwrap();
    let random = outcore::random::uniform(7, &[10, 7], 0.0, 1.0).unwrap();
    let random_values = random.to_ndarray::<f64>().unwrap();
    for chunks in [
        vec![vec![3, 5, 2], vec![7]],
        vec![vec![1; 10], vec![2, 1, 4]],
        vec![vec![4, 4, 2], vec![3, 3, 1]],
        vec![vec![10], vec![1, 6]],
        vec![vec![2, 8], vec![5, 2]],
    ] {
        check_irregular(&stored_like, &values, &chunks);
        check_irregular(&random, &random_values, &chunks);
    }
    // A regular list is the same grid as `rechunk`.
    assert_eq!(
        stored_like
            .rechunk_irregular(&[[4, 4, 2], [3, 3, 1]])
            .unwrap()
            .block_grid(),
        stored_like.rechunk(&[4, 3]).unwrap().block_grid()
    );
    // An empty axis takes `[]` or `[0]`.
    let empty = LazyArray::from_array(ArrayD::<f64>::zeros(IxDyn(&[0, 3])), &[1, 2]).unwrap();
    for zero in [vec![], vec![0]] {
        let y = empty.rechunk_irregular(&[zero, vec![1, 2]]).unwrap();
        assert_eq!(y.shape(), &[0, 3]);
        assert_eq!(y.to_ndarray::<f64>().unwrap().shape(), &[0, 3]);
    }
    // Bad lists, each a clear error.
    let bad: [(&[Vec<u64>], &str); 6] = [
        (&[vec![3, 5, 2]], "one list per axis"),
        (&[vec![3, 5, 3], vec![7]], "more than the extent"),
        (&[vec![3, 5], vec![7]], "less than the extent"),
        (&[vec![3, 0, 5, 2], vec![7]], "positive"),
        (&[vec![], vec![7]], "less than the extent"),
        (&[vec![u64::MAX, 2], vec![7]], "more than the extent"),
    ];
    for (chunks, why) in bad {
        let e = stored_like.rechunk_irregular(chunks).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{chunks:?}");
        assert!(e.to_string().contains(why), "{chunks:?}: {e}");
    }
    let e = empty.rechunk_irregular(&[vec![1], vec![3]]).unwrap_err();
    assert!(e.to_string().contains("empty axis"), "{e}");
}

fn numpy_index(entry: &Value) -> NumpyIndex {
    match entry {
        Value::String(s) if s == "newaxis" => NumpyIndex::NewAxis,
        Value::String(s) if s == "ellipsis" => NumpyIndex::Ellipsis,
        _ if entry.get("index").is_some() => NumpyIndex::Index(entry["index"].as_i64().unwrap()),
        _ => {
            let part = |i: usize| entry["slice"][i].as_i64();
            NumpyIndex::slice(part(0), part(1), part(2))
        }
    }
}

#[test]
fn slice_np_matches_numpy_indexing() {
    let Some(python) = common::python() else {
        return;
    };
    let answers = common::run_python_json(&python, &script("slices.py"), &json!(null));
    let cases = answers["cases"].as_array().unwrap();
    assert!(cases.len() >= 3000);
    for case in cases {
        let shape: Vec<i64> = case["shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_i64().unwrap())
            .collect();
        let n: i64 = shape.iter().product();
        let chunks: Vec<u64> = [3, 4][..shape.len()].to_vec();
        let x = LazyArray::arange(0, n, 1)
            .unwrap()
            .reshape(&shape)
            .unwrap()
            .rechunk(&chunks)
            .unwrap();
        let index: Vec<NumpyIndex> = case["index"]
            .as_array()
            .unwrap()
            .iter()
            .map(numpy_index)
            .collect();
        match (case["error"].as_str(), x.slice_np(&index)) {
            (Some(error), Ok(r)) => panic!(
                "{case}: numpy raises {error}, we give shape {:?}",
                r.shape()
            ),
            (Some(error), Err(e)) => {
                let kind = if error == "IndexError" {
                    ErrorKind::OutOfBounds
                } else {
                    ErrorKind::InvalidArgument
                };
                assert_eq!(e.kind(), kind, "{case}: {e}");
            }
            (None, Err(e)) => panic!("{case}: we fail with {e}"),
            (None, Ok(r)) => {
                let want_shape: Vec<u64> = case["result_shape"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n.as_u64().unwrap())
                    .collect();
                assert_eq!(r.shape(), want_shape, "{case}");
                let got: Vec<i64> = r.to_ndarray::<i64>().unwrap().iter().copied().collect();
                let want: Vec<i64> = case["result"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_i64().unwrap())
                    .collect();
                assert_eq!(got, want, "{case}");
            }
        }
    }
}

#[test]
fn s_macro_and_numpy_notation_agree_as_the_slice_docs_say() {
    use ndarray::s;
    let x = LazyArray::arange(0, 10, 1).unwrap().rechunk(&[3]).unwrap();
    let values = |a: LazyArray| {
        a.to_ndarray::<i64>()
            .unwrap()
            .iter()
            .copied()
            .collect::<Vec<_>>()
    };
    let np = |start: Option<i64>, stop: Option<i64>, step: Option<i64>| {
        values(x.slice_np(&[NumpyIndex::slice(start, stop, step)]).unwrap())
    };
    let nd = |info: &[ndarray::SliceInfoElem]| values(x.slice(info).unwrap());
    // The rows of the table in `LazyArray::slice`'s docs.
    assert_eq!(np(Some(2), Some(8), None), nd(s![2..8].as_ref()));
    assert_eq!(np(Some(-3), None, None), nd(s![-3..].as_ref()));
    assert_eq!(np(Some(2), Some(8), Some(3)), nd(s![2..8;3].as_ref()));
    assert_eq!(np(None, None, Some(-1)), nd(s![..;-1].as_ref()));
    assert_eq!(np(Some(5), Some(1), Some(-1)), nd(s![2..6;-1].as_ref()));
    assert_eq!(np(Some(5), Some(1), Some(-1)), vec![5, 4, 3, 2]);
    assert_eq!(nd(s![2..8;-2].as_ref()), vec![7, 5, 3]); // x[2:8][::-2]
    assert_eq!(np(Some(8), Some(2), Some(-2)), nd(s![3..9;-2].as_ref()));
    assert_eq!(np(Some(8), Some(2), Some(-2)), vec![8, 6, 4]);
    // `s![5..1;-1]` is an empty range walked backwards: nothing, where numpy's x[5:1:-1] is not.
    #[allow(clippy::reversed_empty_ranges)] // numpy's bounds written the ndarray way
    let numpy_bounds = nd(s![5..1;-1].as_ref());
    assert_eq!(numpy_bounds, Vec::<i64>::new());
    let idx = |i: i64| values(x.slice_np(&[NumpyIndex::Index(i)]).unwrap());
    assert_eq!(idx(-1), nd(s![-1].as_ref()));
    assert_eq!(
        x.slice_np(&[NumpyIndex::NewAxis, NumpyIndex::ALL])
            .unwrap()
            .shape(),
        x.slice(s![ndarray::NewAxis, ..]).unwrap().shape()
    );
    assert_eq!(
        x.slice_np(&[NumpyIndex::Ellipsis, NumpyIndex::Ellipsis])
            .unwrap_err()
            .kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        x.slice_np(&[NumpyIndex::ALL, NumpyIndex::Index(0)])
            .unwrap_err()
            .kind(),
        ErrorKind::OutOfBounds
    );
}
