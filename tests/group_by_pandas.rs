//! Grouped reductions against pandas' `groupby(...).agg(...)` (script
//! `tests/group_by/reference.py`, run with `OUTCORE_PYTHON`): every value dtype with NaN
//! patterns (none, sparse, a group all NaN, all NaN) under random chunkings of values and keys;
//! keys dense and sparse, of several dtypes, missing (-1), one group, no rows, several keys
//! together and 10^5 groups; and CSV files converted by outcore, grouped as a `Table` (by a
//! category, by two columns, after a filter) against pandas reading the same files. Without
//! `OUTCORE_PYTHON` the pandas comparisons are skipped; the error cases always run.

mod common;

use std::path::Path;

use ndarray::{Array1, ArrayD};
use outcore::convert::csv::{import_csv, CsvOptions};
use outcore::convert::{Combine, ConvertOptions, Table};
use outcore::{Agg, AnyArray, DataType, ErrorKind, GroupBy, GroupTable, LazyArray, Store};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};

/// Every reduction, with pandas' and numpy's ddof.
const AGGS: [Agg; 20] = [
    Agg::Size,
    Agg::Count,
    Agg::Sum,
    Agg::NanSum,
    Agg::Mean,
    Agg::NanMean,
    Agg::Min,
    Agg::NanMin,
    Agg::Max,
    Agg::NanMax,
    Agg::Var { ddof: 1.0 },
    Agg::NanVar { ddof: 1.0 },
    Agg::Std { ddof: 1.0 },
    Agg::NanStd { ddof: 0.0 },
    Agg::NanVar { ddof: 0.0 },
    Agg::First,
    Agg::Last,
    Agg::NanFirst,
    Agg::NanLast,
    Agg::Std { ddof: 0.0 },
];

/// A computed column as text, one value per group (`nan` for NaN, integers exact).
fn column_text(values: &AnyArray) -> Vec<String> {
    let float = |v: f64| {
        if v.is_nan() {
            "nan".to_string()
        } else {
            format!("{v:?}")
        }
    };
    match values.data_type() {
        DataType::Float32 | DataType::Float64 => {
            values.astype::<f64>().iter().map(|&v| float(v)).collect()
        }
        DataType::UInt64 => values.astype::<u64>().iter().map(u64::to_string).collect(),
        _ => values.astype::<i64>().iter().map(i64::to_string).collect(),
    }
}

/// Whether a result equals pandas': integers, counts, extremes and first/last exactly; sums,
/// means and moments of floats within a relative tolerance of the data type's precision.
fn agrees(agg: Agg, data_type: DataType, ours: &str, theirs: &str) -> bool {
    if ours == theirs {
        return true;
    }
    let (a, b): (f64, f64) = match (ours.parse(), theirs.parse()) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return false,
    };
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    let exact = matches!(
        agg,
        Agg::Size
            | Agg::Count
            | Agg::Min
            | Agg::NanMin
            | Agg::Max
            | Agg::NanMax
            | Agg::First
            | Agg::Last
            | Agg::NanFirst
            | Agg::NanLast
    ) || (matches!(agg, Agg::Sum | Agg::NanSum)
        && data_type.kind() != outcore::Kind::Float);
    if exact {
        return a == b;
    }
    let tolerance = if data_type == DataType::Float32 {
        2e-5
    } else {
        1e-9
    };
    (a - b).abs() <= tolerance * (1.0 + a.abs().max(b.abs()))
}

/// Checks `table` against pandas' `expected` (keys by label, then every reduction).
fn check(table: &GroupTable, expected: &Value, data_type: DataType, what: &str) {
    let keys = expected["keys"].as_array().unwrap();
    for (k, want) in keys.iter().enumerate() {
        let want: Vec<&str> = want
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let got: Vec<String> = (0..table.len()).map(|g| table.label(k, g)).collect();
        assert_eq!(got, want, "{what}: keys of key {k}");
    }
    for agg in table.aggs() {
        let want: Vec<&str> = expected[agg.name()]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: pandas gave no {}", agg.name()))
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let got = column_text(table.column(agg).unwrap());
        assert_eq!(got.len(), want.len(), "{what}: {} groups", agg.name());
        for (g, (ours, theirs)) in got.iter().zip(&want).enumerate() {
            assert!(
                agrees(agg, data_type, ours, theirs),
                "{what}: {} of group {g} ({}): outcore {ours}, pandas {theirs}",
                agg.name(),
                table.label(0, g)
            );
        }
    }
    let sizes: Vec<String> = table.sizes().iter().map(u64::to_string).collect();
    let want: Vec<String> = expected["size"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(sizes, want, "{what}: sizes");
}

/// How the keys of a raw case are made.
#[derive(Clone, Copy, Debug)]
enum Keys {
    /// int8 codes 0..5, -1 (missing) for one row in twenty.
    Dense,
    /// bool, every row true: one group.
    One,
    /// int64 values among 50 of magnitude up to 10^15: the hash map.
    Sparse,
    /// uint16 codes 0..1000.
    Wide,
    /// int16 in 0..4 and int64 in -3..3 together.
    Two,
    /// int32 in 0..10^5 (with enough rows, 10^5 groups).
    Many,
    /// int8, all -1 (missing): no groups.
    AllMissing,
}

/// NaN patterns of float values.
#[derive(Clone, Copy, Debug)]
enum Nans {
    None,
    Sparse,
    /// Every value of the group of the smallest key is NaN.
    Group,
    All,
}

struct RawCase {
    data_type: DataType,
    rows: usize,
    keys: Keys,
    nans: Nans,
    seed: u64,
}

/// A raw case's values and keys: the lazy arrays, randomly chunked, and the files pandas
/// reads (values little endian, keys int64).
struct Built {
    values: LazyArray,
    keys: Vec<LazyArray>,
    request: Value,
    missing: Option<i64>,
}

fn build(case: &RawCase, dir: &Path, index: usize) -> Built {
    let mut rng = rand::rngs::StdRng::seed_from_u64(case.seed);
    let n = case.rows;
    // Keys, as int64 for pandas.
    let key_columns: Vec<Vec<i64>> = match case.keys {
        Keys::Dense => vec![(0..n)
            .map(|_| {
                if rng.gen_range(0..20) == 0 {
                    -1
                } else {
                    rng.gen_range(0..5)
                }
            })
            .collect()],
        Keys::One => vec![vec![1; n]],
        Keys::Sparse => {
            let pool: Vec<i64> = (0..50)
                .map(|_| rng.gen_range(-1_000_000_000_000_000i64..1_000_000_000_000_000))
                .collect();
            vec![(0..n).map(|_| pool[rng.gen_range(0..50)]).collect()]
        }
        Keys::Wide => vec![(0..n).map(|_| rng.gen_range(0..1000)).collect()],
        Keys::Two => vec![
            (0..n).map(|_| rng.gen_range(0..4)).collect(),
            (0..n).map(|_| rng.gen_range(-3..3)).collect(),
        ],
        Keys::Many => vec![(0..n).map(|_| rng.gen_range(0..100_000)).collect()],
        Keys::AllMissing => vec![vec![-1; n]],
    };
    let missing = match case.keys {
        Keys::Dense | Keys::AllMissing => Some(-1),
        _ => None,
    };
    let key_types: Vec<DataType> = match case.keys {
        Keys::Dense | Keys::AllMissing => vec![DataType::Int8],
        Keys::One => vec![DataType::Bool],
        Keys::Sparse => vec![DataType::Int64],
        Keys::Wide => vec![DataType::UInt16],
        Keys::Two => vec![DataType::Int16, DataType::Int64],
        Keys::Many => vec![DataType::Int32],
    };
    let smallest = key_columns[0]
        .iter()
        .copied()
        .filter(|&k| Some(k) != missing)
        .min();
    let chunk = |rng: &mut rand::rngs::StdRng| -> u64 {
        if n == 0 {
            1
        } else if matches!(case.keys, Keys::Many) {
            rng.gen_range(20_000..=n as u64)
        } else {
            rng.gen_range(1..=n as u64)
        }
    };
    let mut key_paths = Vec::new();
    let mut keys = Vec::new();
    for (k, (column, &dt)) in key_columns.iter().zip(&key_types).enumerate() {
        let path = dir.join(format!("case{index}_key{k}.bin"));
        std::fs::write(&path, bytemuck::cast_slice::<i64, u8>(column)).unwrap();
        key_paths.push(path.to_str().unwrap().to_string());
        let lazy =
            LazyArray::from_array(Array1::from(column.clone()).into_dyn(), &[chunk(&mut rng)])
                .unwrap()
                .astype(dt);
        keys.push(lazy);
    }
    // Values of the case's type, moderate magnitudes, NaNs as the pattern says.
    let floats: Vec<f64> = (0..n)
        .map(|r| {
            let nan = match case.nans {
                Nans::None => false,
                Nans::Sparse => rng.gen_range(0..20) == 0,
                Nans::Group => smallest == Some(key_columns[0][r]),
                Nans::All => true,
            };
            if nan {
                f64::NAN
            } else {
                rng.gen_range(-100.0..100.0)
            }
        })
        .collect();
    let ints: Vec<i64> = (0..n)
        .map(|_| rng.gen_range(-(1i64 << 40)..1 << 40))
        .collect();
    let values_chunk = chunk(&mut rng);
    let values_path = dir.join(format!("case{index}_values.bin"));
    let (values, bytes): (LazyArray, Vec<u8>) = {
        macro_rules! typed {
            ($t:ty, $make:expr) => {{
                let v: Vec<$t> = $make;
                let bytes = bytemuck::cast_slice::<$t, u8>(&v).to_vec();
                (
                    LazyArray::from_array(Array1::from(v).into_dyn(), &[values_chunk]).unwrap(),
                    bytes,
                )
            }};
        }
        match case.data_type {
            DataType::Float64 => typed!(f64, floats.clone()),
            DataType::Float32 => typed!(f32, floats.iter().map(|&v| v as f32).collect()),
            DataType::Int8 => typed!(i8, ints.iter().map(|&v| v as i8).collect()),
            DataType::Int16 => typed!(i16, ints.iter().map(|&v| v as i16).collect()),
            DataType::Int32 => typed!(i32, ints.iter().map(|&v| v as i32).collect()),
            DataType::Int64 => typed!(i64, ints.clone()),
            DataType::UInt8 => typed!(u8, ints.iter().map(|&v| v as u8).collect()),
            DataType::UInt16 => typed!(u16, ints.iter().map(|&v| v as u16).collect()),
            DataType::UInt32 => typed!(u32, ints.iter().map(|&v| v as u32).collect()),
            DataType::UInt64 => typed!(u64, ints.iter().map(|&v| v.unsigned_abs()).collect()),
            DataType::Bool => {
                let v: Vec<bool> = ints.iter().map(|&v| v & 1 == 1).collect();
                let bytes = v.iter().map(|&b| u8::from(b)).collect();
                (
                    LazyArray::from_array(Array1::from(v).into_dyn(), &[values_chunk]).unwrap(),
                    bytes,
                )
            }
        }
    };
    std::fs::write(&values_path, bytes).unwrap();
    let dtype = match case.data_type {
        DataType::Bool => "bool".to_string(),
        t => t.name().to_string(),
    };
    let aggs: Vec<String> = aggs_for(case.data_type).iter().map(|a| a.name()).collect();
    Built {
        values,
        keys,
        missing,
        request: json!({
            "kind": "raw",
            "values": values_path.to_str().unwrap(),
            "dtype": dtype,
            "keys": key_paths,
            "missing": missing,
            "aggs": aggs,
        }),
    }
}

/// The reductions pandas computes for values of `t` (it has no variance of bools).
fn aggs_for(t: DataType) -> Vec<Agg> {
    AGGS.iter()
        .copied()
        .filter(|a| {
            t != DataType::Bool
                || !matches!(
                    a,
                    Agg::Var { .. } | Agg::NanVar { .. } | Agg::Std { .. } | Agg::NanStd { .. }
                )
        })
        .collect()
}

fn grouping(built: &Built) -> GroupBy<'static> {
    let keys: Vec<&LazyArray> = built.keys.iter().collect();
    let g = built.values.group_by_keys(&keys).unwrap();
    match built.missing {
        Some(code) => g.missing(code),
        None => g,
    }
}

#[test]
fn raw_values_of_every_dtype_against_pandas() {
    let Some(python) = common::python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let all_keys = [
        Keys::Dense,
        Keys::One,
        Keys::Sparse,
        Keys::Wide,
        Keys::Two,
        Keys::AllMissing,
    ];
    let mut cases = Vec::new();
    let mut seed = 0;
    for &data_type in DataType::ALL.iter() {
        let nan_patterns: &[Nans] = if data_type.kind() == outcore::Kind::Float {
            &[Nans::None, Nans::Sparse, Nans::Group, Nans::All]
        } else {
            &[Nans::None]
        };
        for &nans in nan_patterns {
            for &keys in &all_keys {
                seed += 1;
                let rows = [0, 1, 7, 300, 2500, 9000][seed as usize % 6];
                cases.push(RawCase {
                    data_type,
                    rows,
                    keys,
                    nans,
                    seed,
                });
            }
        }
    }
    for (data_type, seed) in [(DataType::Float64, 1000), (DataType::Int32, 1001)] {
        cases.push(RawCase {
            data_type,
            rows: 400_000,
            keys: Keys::Many,
            nans: Nans::Sparse,
            seed,
        });
    }
    let built: Vec<Built> = cases
        .iter()
        .enumerate()
        .map(|(i, c)| build(c, dir.path(), i))
        .collect();
    let request = json!({"cases": built.iter().map(|b| b.request.clone()).collect::<Vec<_>>()});
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/group_by/reference.py");
    let expected = common::run_python_json(&python, &script, &request);
    for ((case, built), expected) in cases.iter().zip(&built).zip(expected.as_array().unwrap()) {
        let what = format!(
            "{} values, {} rows, keys {:?}, NaNs {:?}, seed {}",
            case.data_type, case.rows, case.keys, case.nans, case.seed
        );
        let table = grouping(built).agg(&aggs_for(case.data_type)).unwrap();
        check(&table, expected, case.data_type, &what);
        if matches!(case.keys, Keys::Many) {
            assert!(table.len() > 98_000, "{what}: {} groups", table.len());
        }
    }
}

/// Writes `files` CSV files of taxi-like trips: the payment type as text (empty for one
/// trip in twenty), passengers, an hour, a tip (empty for one in ten, and always for
/// disputes).
fn write_trips(dir: &Path, files: usize, rows: usize, seed: u64) -> Vec<std::path::PathBuf> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let payments = ["Credit card", "Cash", "No charge", "Dispute"];
    (0..files)
        .map(|f| {
            let mut text = String::from("payment,passengers,hour,tip\n");
            for _ in 0..rows {
                let p = rng.gen_range(0..20);
                let payment = if p == 0 { "" } else { payments[p % 4] };
                let tip = if payment == "Dispute" || rng.gen_range(0..10) == 0 {
                    String::new()
                } else {
                    format!("{:.2}", rng.gen_range(0.0..8.0))
                };
                text += &format!(
                    "{payment},{},{},{tip}\n",
                    rng.gen_range(0..6),
                    rng.gen_range(0..24)
                );
            }
            let path = dir.join(format!("trips_{f}.csv"));
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect()
}

#[test]
fn csv_conversion_as_a_table_against_pandas() {
    let Some(python) = common::python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let files = write_trips(dir.path(), 3, 1700, 7);
    let mut requests = Vec::new();
    let mut tables = Vec::new();
    for (i, chunk) in [97u64, 1024, 5100].into_iter().enumerate() {
        let store = Store::create(dir.path().join(format!("trips{i}.zarr"))).unwrap();
        let options = ConvertOptions {
            chunks: Some(vec![chunk]),
            ..ConvertOptions::default()
        };
        import_csv(
            &files,
            Some(Combine::Concat),
            &store,
            "trips",
            &options,
            &CsvOptions::default(),
            None,
        )
        .unwrap();
        let table = Table::open(&store, "trips").unwrap();
        assert_eq!(table.rows(), 3 * 1700);
        assert!(table.categories("payment").is_some());
        let csv = |by: &[&str], value: &str, filter: Option<(&str, f64)>| {
            json!({
                "kind": "csv",
                "files": files.iter().map(|f| f.to_str().unwrap()).collect::<Vec<_>>(),
                "by": by,
                "value": value,
                "filter": filter,
                "aggs": AGGS.iter().map(|a| a.name()).collect::<Vec<_>>(),
            })
        };
        let tip_by_payment = table
            .group_by(&["payment"], "tip")
            .unwrap()
            .agg(&AGGS)
            .unwrap();
        requests.push(csv(&["payment"], "tip", None));
        tables.push((tip_by_payment, DataType::Float64, "tip by payment"));
        let tip_by_two = table
            .group_by(&["payment", "passengers"], "tip")
            .unwrap()
            .agg(&AGGS)
            .unwrap();
        requests.push(csv(&["payment", "passengers"], "tip", None));
        tables.push((
            tip_by_two,
            DataType::Float64,
            "tip by payment and passengers",
        ));
        let generous = table
            .filter(&table.column("tip").unwrap().greater(5.0).unwrap())
            .unwrap();
        let filtered = generous
            .group_by(&["hour"], "tip")
            .unwrap()
            .agg(&AGGS)
            .unwrap();
        requests.push(csv(&["hour"], "tip", Some(("tip", 5.0))));
        tables.push((filtered, DataType::Float64, "tips over 5 by hour"));
        let passengers = table
            .group_by(&["payment"], "passengers")
            .unwrap()
            .agg(&AGGS)
            .unwrap();
        requests.push(csv(&["payment"], "passengers", None));
        tables.push((passengers, DataType::Int64, "passengers by payment"));
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/group_by/reference.py");
    let expected = common::run_python_json(&python, &script, &json!({"cases": requests}));
    for ((table, data_type, what), expected) in tables.iter().zip(expected.as_array().unwrap()) {
        check(table, expected, *data_type, what);
    }
}

/// One case's values and keys under two block grids and with one or many blocks in flight:
/// the same blocks give the same bits whatever the scheduling; other blocks agree closely.
#[test]
fn answers_do_not_depend_on_threads_and_barely_on_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let case = RawCase {
        data_type: DataType::Float64,
        rows: 200_000,
        keys: Keys::Dense,
        nans: Nans::Sparse,
        seed: 99,
    };
    let built = build(&case, dir.path(), 0);
    let aggs = aggs_for(DataType::Float64);
    let wide = grouping(&built).agg(&aggs).unwrap();
    let serial = grouping(&built).max_blocks_in_flight(1).agg(&aggs).unwrap();
    assert_eq!(format!("{wide:?}"), format!("{serial:?}"));
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let one_thread = pool.install(|| grouping(&built).agg(&aggs).unwrap());
    assert_eq!(format!("{wide:?}"), format!("{one_thread:?}"));
    let rechunked = Built {
        values: built.values.rechunk(&[3001]).unwrap(),
        keys: vec![built.keys[0].rechunk(&[777]).unwrap()],
        request: Value::Null,
        missing: built.missing,
    };
    let other = grouping(&rechunked).agg(&aggs).unwrap();
    for agg in aggs {
        for (a, b) in column_text(wide.column(agg).unwrap())
            .iter()
            .zip(column_text(other.column(agg).unwrap()))
        {
            assert!(
                agrees(agg, DataType::Float64, a, &b),
                "{}: {a} vs {b}",
                agg.name()
            );
        }
    }
}

/// The table written to a store reads back: keys with their labels, sizes, every reduction.
#[test]
fn table_to_ndarray_and_to_store() {
    let dir = tempfile::tempdir().unwrap();
    let values =
        LazyArray::from_array(ndarray::array![[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], &[2, 1])
            .unwrap();
    let keys = LazyArray::from_array(ndarray::array![1i8, 0, 1], &[2]).unwrap();
    let table = values
        .group_by(&keys)
        .unwrap()
        .key_names(&["code"])
        .labels(0, vec!["zero".into(), "one".into()])
        .agg(&[Agg::Sum, Agg::NanMax])
        .unwrap();
    assert_eq!(table.label(0, 0), "zero");
    let sums: ArrayD<f64> = table.to_ndarray(Agg::Sum).unwrap();
    assert_eq!(sums, ndarray::array![[3.0, 4.0], [6.0, 8.0]].into_dyn());
    assert_eq!(
        table.to_ndarray::<f32>(Agg::Sum).unwrap_err().kind(),
        ErrorKind::TypeMismatch
    );
    assert_eq!(
        table.to_ndarray::<f64>(Agg::Mean).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    // Grouping along axis 1 of the transposed values gives the same groups.
    let along = values
        .transpose()
        .unwrap()
        .group_by_axis(&[&keys], 1)
        .unwrap()
        .agg(&[Agg::Sum])
        .unwrap();
    assert_eq!(along.to_ndarray::<f64>(Agg::Sum).unwrap(), sums);

    let store = Store::create(dir.path().join("out.zarr")).unwrap();
    table.to_store(&store, "per_code").unwrap();
    let code = store.open_array("per_code/code").unwrap();
    assert_eq!(
        code.read_all::<i64>().unwrap().as_slice(),
        Some(&[0, 1][..])
    );
    assert_eq!(
        code.meta().attributes()["categories"],
        json!(["zero", "one"])
    );
    assert_eq!(
        store
            .open_array("per_code/size")
            .unwrap()
            .read_all::<i64>()
            .unwrap()
            .as_slice(),
        Some(&[1, 2][..])
    );
    assert_eq!(
        store
            .open_array("per_code/sum")
            .unwrap()
            .read_all::<f64>()
            .unwrap(),
        sums
    );
    assert_eq!(
        store
            .open_array("per_code/nanmax")
            .unwrap()
            .read_all::<f64>()
            .unwrap(),
        ndarray::array![[3.0, 4.0], [5.0, 6.0]].into_dyn()
    );
}

#[test]
fn bad_groupings_are_typed_errors() {
    let values = LazyArray::arange(0.0, 10_000.0, 1.0).unwrap();
    let many = LazyArray::arange(0i64, 10_000, 1).unwrap();
    let err = values
        .group_by(&many)
        .unwrap()
        .memory_budget(100_000)
        .mean()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge);
    assert!(err.to_string().contains("groups"), "{err}");
    // Under the budget for the groups of every block, over it once they are merged.
    let err = values
        .rechunk(&[100])
        .unwrap()
        .group_by(&many)
        .unwrap()
        .memory_budget(200_000)
        .mean()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge, "{err}");
    assert!(values
        .group_by(&many)
        .unwrap()
        .memory_budget(1 << 30)
        .mean()
        .is_ok());

    let short = LazyArray::arange(0i64, 9_999, 1).unwrap();
    assert_eq!(
        values.group_by(&short).unwrap_err().kind(),
        ErrorKind::ShapeMismatch
    );
    let square = many.reshape(&[100, 100]).unwrap();
    assert_eq!(
        values.group_by(&square).unwrap_err().kind(),
        ErrorKind::ShapeMismatch
    );
    assert_eq!(
        values.group_by(&values).unwrap_err().kind(),
        ErrorKind::TypeMismatch
    );
    assert_eq!(
        values.group_by_keys(&[]).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    assert_eq!(
        values.group_by_axis(&[&many], 1).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    let big = LazyArray::from_array(ndarray::array![u64::MAX, 0], &[2]).unwrap();
    let two = LazyArray::from_array(ndarray::array![1.0, 2.0], &[2]).unwrap();
    assert_eq!(
        two.group_by(&big).unwrap().size().unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );

    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("t.zarr")).unwrap();
    values
        .to_store(
            &store,
            "t/x",
            &outcore::ArraySpec::new(DataType::Float64, &[10_000]),
        )
        .unwrap();
    let table = Table::open(&store, "t").unwrap();
    assert_eq!(table.column("y").unwrap_err().kind(), ErrorKind::NotFound);
    assert_eq!(
        table.group_by(&["x"], "x").unwrap_err().kind(),
        ErrorKind::TypeMismatch
    );
    assert_eq!(
        table.filter(&values).unwrap_err().kind(),
        ErrorKind::TypeMismatch
    );
    assert_eq!(
        table.filter(&short.greater(3).unwrap()).unwrap_err().kind(),
        ErrorKind::ShapeMismatch
    );
    assert_eq!(
        Table::open(&store, "none").unwrap_err().kind(),
        ErrorKind::NotFound
    );
}
