//! `outcore convert` end to end, through the built binary: `.npy` (C and Fortran order), raw
//! binary, globs of `.npy` files stacked and concatenated, CSV (columns, matrix, bad rows),
//! and Zarr inputs (re-chunked, re-compressed, whole groups). Values are checked with
//! `stats --json` against a serial reference and by exporting to `.npy` and reading back.
//! With `OUTCORE_PYTHON` (numpy), numpy also writes a Fortran-order input.

mod common;

use std::path::Path;

use common::{
    error, files_under, json, metadata, ok, python, run_python, s, value, ConvertOutput,
    ExportOutput, Reference, StatsOutput,
};
use ndarray_npy::{read_npy, write_npy};
use outcore::ndarray::{Array2, ArrayD, Axis, IxDyn, ShapeBuilder};

/// A (rows, cols) float64 test array with NaNs, in C or Fortran layout.
fn grid(rows: usize, cols: usize, fortran: bool) -> Array2<f64> {
    let shape = (rows, cols);
    if fortran {
        Array2::from_shape_fn(shape.f(), |(i, j)| value(0, i, j, true))
    } else {
        Array2::from_shape_fn(shape, |(i, j)| value(0, i, j, true))
    }
}

/// Exports `array` to `npy` and reads it back.
fn export<T: ndarray_npy::ReadableElement>(array: &Path, npy: &Path) -> ArrayD<T> {
    let report: ExportOutput = json(&["export", s(array), s(npy)]);
    assert_eq!(report.format, "npy");
    read_npy(npy).unwrap()
}

/// NaN-aware bit equality.
fn same<T: Copy + Into<f64>>(a: &ArrayD<T>, b: &ArrayD<T>) -> bool {
    a.shape() == b.shape()
        && a.iter()
            .zip(b.iter())
            .all(|(x, y)| (*x).into().to_bits() == (*y).into().to_bits())
}

/// `stats` (sidecar), `stats --scan` and `stats --axis 0` of `store` against `values`.
fn check_stats(store: &Path, values: &Array2<f64>) {
    let reference = Reference::of(values.iter().copied());
    let sidecar: StatsOutput = json(&["stats", s(store)]);
    assert_eq!(sidecar.source, "sidecar");
    assert_eq!(sidecar.axis, None);
    assert_eq!(sidecar.data_type, "float64");
    assert_eq!(
        sidecar.shape,
        values.shape().iter().map(|&n| n as u64).collect::<Vec<_>>()
    );
    assert_eq!(sidecar.stats.len(), 1);
    assert_eq!(sidecar.stats[0].index, None);
    reference.check(&sidecar.stats[0], 1e-12, "sidecar");

    let scan: StatsOutput = json(&["stats", s(store), "--scan"]);
    assert_eq!(scan.source, "scan");
    reference.check(&scan.stats[0], 1e-12, "scan");

    for extra in [&[][..], &["--scan"][..]] {
        let mut args = vec!["stats", s(store), "--axis", "0"];
        args.extend_from_slice(extra);
        let per_row: StatsOutput = json(&args);
        assert_eq!(per_row.axis, Some(0));
        assert_eq!(per_row.stats.len(), values.nrows());
        for (i, (entry, row)) in per_row
            .stats
            .iter()
            .zip(values.axis_iter(Axis(0)))
            .enumerate()
        {
            assert_eq!(entry.index, Some(i as u64));
            Reference::of(row.iter().copied()).check(entry, 1e-12, &format!("row {i} {extra:?}"));
        }
    }
}

#[test]
fn npy_c_and_fortran_order() {
    let dir = tempfile::tempdir().unwrap();
    for fortran in [false, true] {
        let values = grid(50, 37, fortran);
        let npy = dir.path().join(format!("in-{fortran}.npy"));
        write_npy(&npy, &values).unwrap();
        let header = std::fs::read(&npy).unwrap();
        let header = String::from_utf8_lossy(&header[..128]);
        let want = if fortran { "True" } else { "False" };
        assert!(
            header.contains(&format!("'fortran_order': {want}")),
            "{header}"
        );
        let store = dir.path().join(format!("out-{fortran}.zarr"));
        let report: ConvertOutput = json(&[
            "convert",
            s(&npy),
            s(&store),
            "--chunks",
            "16,16",
            "--shard",
            "32,32",
        ]);
        assert_eq!(report.format, "npy");
        assert_eq!(report.inputs, [s(&npy)]);
        assert_eq!(report.output, s(&store));
        assert!(report.csv.is_none() && report.seconds >= 0.0);
        let [array] = &report.arrays[..] else {
            panic!("{report:?}")
        };
        // A group holding the array, named after the input.
        assert_eq!(array.name, format!("in-{fortran}"));
        assert_eq!(array.data_type, "float64");
        assert_eq!(
            (&array.shape[..], &array.chunks[..], &array.shards[..]),
            (&[50, 37][..], &[16, 16][..], &[32, 32][..])
        );
        assert!(array.stored_bytes > 0);
        check_stats(&store, &values);
        let back: ArrayD<f64> = export(&store, &dir.path().join(format!("back-{fortran}.npy")));
        assert!(same(&back, &values.clone().into_dyn()));
    }
    // Rows that are whole chunks: per-row statistics come from the sidecar.
    let values = grid(20, 37, false);
    let npy = dir.path().join("rows.npy");
    write_npy(&npy, &values).unwrap();
    let store = dir.path().join("rows.zarr");
    ok(&["convert", s(&npy), s(&store), "--chunks", "1,37", "-q"]);
    let per_row: StatsOutput = json(&["stats", s(&store), "--axis", "0"]);
    assert_eq!(per_row.source, "sidecar");
    check_stats(&store, &values);
}

#[test]
fn npy_fortran_order_written_by_numpy() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let npy = dir.path().join("f.npy");
    // The same values as `value(0, i, j, true)`.
    run_python(
        &python,
        &format!(
            "import numpy as np\n\
             i, j = np.meshgrid(np.arange(30), np.arange(41), indexing='ij')\n\
             v = ((i * 7919 + j * 104729) % 10007) / 8.0 - 600.0\n\
             v[(i * 37 + j) % 23 == 0] = np.nan\n\
             np.save({:?}, np.asfortranarray(v))",
            s(&npy)
        ),
    );
    let header = std::fs::read(&npy).unwrap();
    assert!(String::from_utf8_lossy(&header[..128]).contains("'fortran_order': True"));
    let values = grid(30, 41, false);
    let store = dir.path().join("f.zarr");
    ok(&["convert", s(&npy), s(&store), "--chunks", "8,8"]);
    check_stats(&store, &values);
    let back: ArrayD<f64> = export(&store, &dir.path().join("back.npy"));
    assert!(same(&back, &values.into_dyn()));
}

#[test]
fn raw_binary_fortran_big_endian() {
    let dir = tempfile::tempdir().unwrap();
    let values = Array2::from_shape_fn((30, 40), |(i, j)| value(1, i, j, true) as f32);
    let mut bytes = Vec::new();
    for j in 0..40 {
        for i in 0..30 {
            bytes.extend_from_slice(&values[[i, j]].to_be_bytes());
        }
    }
    let raw = dir.path().join("data.bin");
    std::fs::write(&raw, &bytes).unwrap();
    let store = dir.path().join("raw.zarr");
    let report: ConvertOutput = json(&[
        "convert",
        s(&raw),
        s(&store),
        "--dtype",
        "float32",
        "--shape",
        "30,40",
        "--order",
        "F",
        "--byte-order",
        "big",
        "--chunks",
        "7,9",
    ]);
    assert_eq!(report.format, "raw");
    assert_eq!(
        (
            report.arrays[0].data_type.as_str(),
            &report.arrays[0].shape[..]
        ),
        ("float32", &[30, 40][..])
    );
    let back: ArrayD<f32> = export(&store, &dir.path().join("back.npy"));
    assert!(same(&back, &values.clone().into_dyn()));
    // float32 sums are accumulated in float32 (numpy's sum type).
    let stats: StatsOutput = json(&["stats", s(&store), "--scan"]);
    Reference::of(values.iter().map(|&v| v as f64)).check(&stats.stats[0], 1e-5, "raw");
}

/// Writes `month-01.npy` … `month-12.npy` of shape (44, 92) in `dir`; the file for `odd`
/// (1-based) is (44, 91) instead.
fn months(dir: &Path, odd: Option<usize>) -> Vec<Array2<f32>> {
    (1..=12)
        .map(|m| {
            let cols = if Some(m) == odd { 91 } else { 92 };
            let a = Array2::from_shape_fn((44, cols), |(i, j)| value(m, i, j, true) as f32);
            write_npy(dir.join(format!("month-{m:02}.npy")), &a).unwrap();
            a
        })
        .collect()
}

#[test]
fn glob_of_months_stacked_and_concatenated() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    let months = months(&inputs, None);
    let pattern = inputs.join("month-*.npy");
    let views: Vec<_> = months.iter().map(|m| m.view()).collect();

    let stacked = dir.path().join("stacked.zarr");
    let report: ConvertOutput = json(&["convert", s(&pattern), s(&stacked), "--stack"]);
    let expected: Vec<String> = (1..=12)
        .map(|m| s(&inputs.join(format!("month-{m:02}.npy"))).to_string())
        .collect();
    assert_eq!(report.inputs, expected, "sorted glob expansion");
    assert_eq!(report.arrays[0].shape, [12, 44, 92]);
    let back: ArrayD<f32> = export(&stacked, &dir.path().join("stacked.npy"));
    let want = outcore::ndarray::stack(Axis(0), &views).unwrap().into_dyn();
    assert!(same(&back, &want));

    let concat = dir.path().join("concat.zarr");
    let report: ConvertOutput = json(&["convert", s(&pattern), s(&concat), "--concat"]);
    assert_eq!(report.arrays[0].shape, [12 * 44, 92]);
    let back: ArrayD<f32> = export(&concat, &dir.path().join("concat.npy"));
    let want = outcore::ndarray::concatenate(Axis(0), &views)
        .unwrap()
        .into_dyn();
    assert!(same(&back, &want));
}

#[test]
fn mismatched_shapes_leave_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    let outputs = dir.path().join("out");
    std::fs::create_dir(&inputs).unwrap();
    std::fs::create_dir(&outputs).unwrap();
    months(&inputs, Some(7));
    let pattern = inputs.join("month-*.npy");
    let store = outputs.join("monthly.zarr");
    for how in ["--stack", "--concat"] {
        let message = error(&["convert", s(&pattern), s(&store), how]);
        assert!(message.contains("month-07.npy"), "{how}: {message}");
        assert!(!store.exists());
        let left: Vec<_> = std::fs::read_dir(&outputs)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(left.is_empty(), "{how} left {left:?}");
    }
    // Several inputs without --stack or --concat are an error too.
    let message = error(&["convert", s(&pattern), s(&store)]);
    assert!(!store.exists(), "{message}");
}

/// A pulsar-like table (HTRU2: eight float features and a 0/1 class), as CSV text lines and
/// the values they spell.
fn pulsars(rows: usize) -> (Vec<String>, Array2<f64>) {
    let mut lines = Vec::new();
    let mut values = Array2::zeros((rows, 9));
    for r in 0..rows {
        let mut fields = Vec::new();
        for c in 0..8 {
            let v = value(c + 3, r, c, false) / (c as f64 + 1.0);
            fields.push(format!("{v:.6}"));
        }
        fields.push(((r * 7) % 3 / 2).to_string());
        for (c, f) in fields.iter().enumerate() {
            values[[r, c]] = f.parse().unwrap();
        }
        lines.push(fields.join(","));
    }
    (lines, values)
}

#[test]
fn csv_columns_matrix_and_bad_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (lines, values) = pulsars(300);
    let csv = dir.path().join("pulsars.csv");
    std::fs::write(&csv, lines.join("\n") + "\n").unwrap();

    let group = dir.path().join("htru2.zarr");
    let report: ConvertOutput = json(&["convert", s(&csv), s(&group), "--header", "no"]);
    assert_eq!(report.format, "csv");
    let names: Vec<&str> = report.arrays.iter().map(|a| a.name.as_str()).collect();
    let want: Vec<String> = (0..9).map(|c| format!("column_{c}")).collect();
    assert_eq!(names, want);
    assert!(report.arrays.iter().all(|a| a.shape == [300]));
    let report_csv = report.csv.unwrap();
    assert_eq!(report_csv.inputs, [s(&csv)]);
    assert_eq!(
        (
            report_csv.delimiter,
            report_csv.header,
            report_csv.rows,
            report_csv.skipped_rows
        ),
        (',', false, 300, 0)
    );
    assert_eq!(report_csv.rows_per_input, [300]);
    assert_eq!(report_csv.shape, [300]);
    assert_eq!(
        report_csv.input_bytes,
        std::fs::metadata(&csv).unwrap().len()
    );
    assert!(report_csv.first_skipped_rows.is_empty() && report_csv.skipped_columns.is_empty());
    let kinds: Vec<(&str, &str)> = report_csv
        .columns
        .iter()
        .map(|c| (c.kind.as_str(), c.data_type.as_str()))
        .collect();
    assert_eq!(kinds[..8], [("float", "float64"); 8]);
    assert_eq!(kinds[8], ("integer", "int64"));
    let c3 = &report_csv.columns[3];
    assert_eq!(
        (c3.header.as_str(), c3.index, c3.missing),
        ("column_3", 3, 0)
    );
    assert!(c3.array.ends_with("column_3"), "{}", c3.array);
    assert_eq!((c3.categories, c3.units.as_deref()), (None, None));

    let stats: StatsOutput = json(&["stats", s(&group.join("column_3"))]);
    Reference::of(values.column(3).iter().copied()).check(&stats.stats[0], 1e-12, "column_3");
    let stats: StatsOutput = json(&["stats", s(&group.join("column_8")), "--scan"]);
    assert_eq!(stats.data_type, "int64");
    Reference::of(values.column(8).iter().copied()).check(&stats.stats[0], 1e-12, "column_8");

    let matrix = dir.path().join("matrix.zarr");
    let report: ConvertOutput =
        json(&["convert", s(&csv), s(&matrix), "--header", "no", "--matrix"]);
    assert_eq!(report.arrays.len(), 1);
    assert_eq!(
        (
            report.arrays[0].data_type.as_str(),
            &report.arrays[0].shape[..]
        ),
        ("float64", &[300, 9][..])
    );
    let back: ArrayD<f64> = export(&matrix, &dir.path().join("matrix.npy"));
    assert!(same(&back, &values.clone().into_dyn()));

    // Line 123 has three fields.
    let mut bad = lines.clone();
    bad[122] = "1.0,2.0,3.0".to_string();
    let bad_csv = dir.path().join("bad.csv");
    std::fs::write(&bad_csv, bad.join("\n") + "\n").unwrap();
    let out = dir.path().join("bad.zarr");
    let message = error(&["convert", s(&bad_csv), s(&out), "--header", "no"]);
    assert!(
        message.contains("bad.csv") && message.contains("line 123"),
        "{message}"
    );
    assert!(!out.exists());
    let report: ConvertOutput = json(&[
        "convert",
        s(&bad_csv),
        s(&out),
        "--header",
        "no",
        "--skip-bad-rows",
    ]);
    let report_csv = report.csv.unwrap();
    assert_eq!((report_csv.rows, report_csv.skipped_rows), (299, 1));
    let [skipped] = &report_csv.first_skipped_rows[..] else {
        panic!("{report_csv:?}")
    };
    assert_eq!((skipped.file.as_str(), skipped.line), (s(&bad_csv), 123));
    assert!(!skipped.reason.is_empty());
    let kept: Vec<f64> = values
        .column(3)
        .iter()
        .enumerate()
        .filter(|(r, _)| *r != 122)
        .map(|(_, v)| *v)
        .collect();
    let stats: StatsOutput = json(&["stats", s(&out.join("column_3"))]);
    Reference::of(kept).check(&stats.stats[0], 1e-12, "column_3 without line 123");
}

#[test]
fn zarr_inputs_rechunked_and_whole_groups() {
    let dir = tempfile::tempdir().unwrap();
    let values = grid(60, 50, false);
    let npy = dir.path().join("in.npy");
    write_npy(&npy, &values).unwrap();
    let first = dir.path().join("first.zarr");
    ok(&["convert", s(&npy), s(&first), "--chunks", "10,10", "-q"]);

    let second = dir.path().join("second.zarr");
    let report: ConvertOutput = json(&[
        "convert",
        s(&first),
        s(&second),
        "--codec",
        "raw",
        "--chunks",
        "25,20",
    ]);
    assert_eq!(report.format, "zarr");
    assert_eq!(report.arrays[0].chunks, [25, 20]);
    let codecs = metadata(&second.join("in")).to_string();
    assert!(!codecs.contains("zstd"), "{codecs}");
    assert!(metadata(&first.join("in")).to_string().contains("zstd"));
    // Raw chunks store at least the logical bytes.
    assert!(report.arrays[0].stored_bytes >= 60 * 50 * 8);
    let a = dir.path().join("first.npy");
    let b = dir.path().join("second.npy");
    export::<f64>(&first, &a);
    export::<f64>(&second, &b);
    assert!(
        std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
        "the exports differ"
    );
    check_stats(&second, &values);

    // A group of two arrays (one in a subgroup), built by the library, converted whole.
    let group = dir.path().join("group.zarr");
    let store = outcore::Store::create(&group).unwrap();
    let ints = ArrayD::from_shape_fn(IxDyn(&[33, 7]), |ix| (ix[0] * 7 + ix[1]) as i32 - 100);
    for (name, chunks) in [("ints", [8u64, 7]), ("sub/more", [11, 3])] {
        let spec = outcore::ArraySpec::new(outcore::DataType::Int32, &[33, 7]).chunks(&chunks);
        let w = store.create_array(name, &spec).unwrap();
        w.write_array(ints.view()).unwrap();
        w.finish().unwrap();
    }
    let copy = dir.path().join("copy.zarr");
    let report: ConvertOutput = json(&["convert", s(&group), s(&copy)]);
    let arrays: Vec<(&str, &[u64])> = report
        .arrays
        .iter()
        .map(|a| (a.name.as_str(), &a.chunks[..]))
        .collect();
    assert_eq!(arrays, [("ints", &[8, 7][..]), ("sub/more", &[11, 3][..])]);
    for name in ["ints", "sub/more"] {
        let back: ArrayD<i32> = export(
            &copy.join(name),
            &dir.path().join(format!("{}.npy", name.replace('/', "-"))),
        );
        assert_eq!(back, ints, "{name}");
    }
}

#[test]
fn no_progress_bars_without_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let npy = dir.path().join("in.npy");
    write_npy(&npy, &grid(64, 64, false)).unwrap();
    let store = dir.path().join("s.zarr");
    // `ok` asserts an empty stderr for each.
    let text = ok(&["convert", s(&npy), s(&store), "--chunks", "8,8"]);
    assert!(text.contains("1 input(s) -> "), "{text}");
    ok(&["stats", s(&store), "--scan"]);
    ok(&["export", s(&store), s(&dir.path().join("out.npy"))]);
    ok(&["verify", s(&store)]);
    assert!(ok(&["convert", s(&npy), s(&store), "--overwrite", "-q"]).is_empty());
    assert!(files_under(&store).iter().any(|f| f.ends_with("zarr.json")));
}
