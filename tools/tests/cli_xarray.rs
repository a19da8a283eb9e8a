//! Stores `outcore convert` writes open in xarray as datasets, and what xarray, zarr-python 2
//! and 3 wrote survives a conversion: attributes, dimension names, fill values (sparse stays
//! sparse), decoded times. The references are xarray itself (`assert_identical` between the
//! source and the converted store, with every warning raised as an error) and numpy.
//! Also the binary's fixes around them: missing groups created on the way, nothing left
//! behind by a failed convert, the real reason an array cannot be read, infinite extremes.

mod common;

use std::path::Path;

use common::{error, json, ok, python, run_python, s, StatsOutput};
use ndarray_npy::write_npy;
use outcore::ndarray::{arr1, Array2};

/// Python that opens `store` with `xarray.open_zarr` and `xarray.open_dataset(engine="zarr")`
/// with warnings raised as errors, checks both give the same dataset, and binds it to `name`.
fn open_strictly(name: &str, store: &Path) -> String {
    let store = s(store);
    format!(
        "with warnings.catch_warnings():\n    warnings.simplefilter('error')\n    {name} = xr.open_zarr({store:?}).load()\n    _other = xr.open_dataset({store:?}, engine='zarr').load()\nxr.testing.assert_identical({name}, _other)\n"
    )
}

const PRELUDE: &str =
    "import warnings\nimport numpy as np\nimport pandas as pd\nimport xarray as xr\nimport zarr\n";

#[test]
fn one_array_converts_to_a_dataset_xarray_opens() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let values = Array2::from_shape_fn((30, 7), |(i, j)| (i * 7 + j) as f64 * 0.5 - 3.0);
    let npy = dir.path().join("field.npy");
    write_npy(&npy, &values).unwrap();

    // Default: a group holding `field`, axes dim_0, dim_1.
    let plain = dir.path().join("plain.zarr");
    ok(&["convert", s(&npy), s(&plain), "--chunks", "8,7", "-q"]);
    // --dims names them.
    let named = dir.path().join("named.zarr");
    ok(&["convert", s(&npy), s(&named), "--dims", "time,lat", "-q"]);
    // Into a store that does not exist yet, two groups down, as a bare array.
    let nested = dir.path().join("new.zarr");
    ok(&["convert", s(&npy), s(&nested.join("g/h/y")), "-q"]);
    // A bare array as its own store is still possible.
    let bare = dir.path().join("bare.zarr");
    ok(&["convert", s(&npy), s(&bare), "--bare", "-q"]);
    // stats and export reach the array of a one-array group.
    let stats: StatsOutput = json(&["stats", s(&plain)]);
    assert_eq!(stats.stats[0].count, 210);

    let mut code = String::from(PRELUDE);
    code.push_str(&format!("want = np.load({:?})\n", s(&npy)));
    code.push_str(&open_strictly("plain", &plain));
    code.push_str(
        "assert list(plain.data_vars) == ['field'], plain\n\
         assert plain['field'].dims == ('dim_0', 'dim_1'), plain\n\
         np.testing.assert_array_equal(plain['field'].values, want)\n",
    );
    code.push_str(&open_strictly("named", &named));
    code.push_str(
        "assert named['field'].dims == ('time', 'lat'), named\n\
         np.testing.assert_array_equal(named['field'].values, want)\n",
    );
    for group in ["", "g", "g/h"] {
        code.push_str(&format!(
            "with warnings.catch_warnings():\n    warnings.simplefilter('error')\n    ds = xr.open_zarr({:?}, group={group:?}).load()\n",
            s(&nested)
        ));
    }
    code.push_str(
        "np.testing.assert_array_equal(ds['y'].values, want)\n\
         assert ds['y'].dims == ('dim_0', 'dim_1')\n",
    );
    code.push_str(&format!(
        "b = zarr.open_array({:?}, mode='r')\nassert b.metadata.dimension_names == ('dim_0', 'dim_1')\nnp.testing.assert_array_equal(b[...], want)\n",
        s(&bare)
    ));
    // The consolidated metadata lists every node, as zarr-python reads it.
    code.push_str(&format!(
        "c = zarr.open_consolidated({:?}, mode='r')\nassert sorted(k for k, _ in c.members(max_depth=None)) == ['g', 'g/h', 'g/h/y'], list(c.members(max_depth=None))\n",
        s(&nested)
    ));
    run_python(&python, &code);
}

#[test]
fn csv_groups_open_in_xarray() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("trips.csv");
    let mut text = String::from("distance,fare,passengers\n");
    for i in 0..500 {
        text.push_str(&format!(
            "{},{},{}\n",
            i as f64 * 0.25,
            3.5 + (i % 17) as f64,
            i % 5
        ));
    }
    std::fs::write(&csv, text).unwrap();
    let store = dir.path().join("trips.zarr");
    ok(&["convert", s(&csv), s(&store), "-q"]);
    let mut code = String::from(PRELUDE);
    code.push_str(&open_strictly("ds", &store));
    code.push_str(&format!(
        "want = pd.read_csv({:?})\nfor c in want.columns:\n    assert ds[c].dims == ('row',), ds[c]\n    np.testing.assert_array_equal(ds[c].values, want[c].values)\n",
        s(&csv)
    ));
    run_python(&python, &code);
}

/// Stored chunk files of the array `array` of the Zarr store `store` (zarr-python's layout:
/// `c/...` for v3, `i.j` files for v2).
fn chunk_files(array: &Path) -> usize {
    common::files_under(array)
        .iter()
        .filter(|f| {
            let name = f.file_name().unwrap().to_str().unwrap();
            !name.starts_with('.') && name != "zarr.json"
        })
        .count()
}

#[test]
fn xarray_datasets_survive_conversion() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let v3 = dir.path().join("src3.zarr");
    let v2 = dir.path().join("src2.zarr");
    // A sparse variable (one chunk of 16 holds data, NaN is the fill), CF times, a coordinate
    // with attributes, dataset attributes; written by xarray as Zarr v3 and v2.
    run_python(
        &python,
        &format!(
            "{PRELUDE}\
             t2m = np.full((16, 8), np.nan)\n\
             t2m[0:4, 0:2] = np.arange(8.0).reshape(4, 2)\n\
             ds = xr.Dataset(\n\
                 {{'t2m': (('time', 'x'), t2m, {{'units': 'K', 'long_name': 'air temperature'}}),\n\
                  'count': (('x',), np.arange(8, dtype='int16'), {{'note': 'per column'}})}},\n\
                 coords={{'time': pd.date_range('2000-01-01', periods=16, freq='6h'),\n\
                          'x': ('x', np.arange(8, dtype='int32') * 10, {{'units': 'km'}})}},\n\
                 attrs={{'title': 'outcore test', 'history': 'made in a test'}})\n\
             enc = {{'t2m': {{'chunks': (4, 2)}}}}\n\
             ds.to_zarr({:?}, zarr_format=3, encoding=enc, mode='w')\n\
             ds.to_zarr({:?}, zarr_format=2, encoding=enc, mode='w')\n",
            s(&v3),
            s(&v2)
        ),
    );
    for (source, format) in [(&v3, "3"), (&v2, "2")] {
        let copy = dir.path().join(format!("copy{format}.zarr"));
        ok(&["convert", s(source), s(&copy), "-q"]);
        let mut code = String::from(PRELUDE);
        code.push_str(&format!(
            "want = xr.open_zarr({:?}, zarr_format={format}).load()\n",
            s(source)
        ));
        code.push_str(&open_strictly("got", &copy));
        code.push_str(
            "xr.testing.assert_identical(got, want)\n\
             assert np.issubdtype(got['time'].dtype, np.datetime64), got['time']\n\
             assert np.isnan(got['t2m'].values).sum() == 120\n",
        );
        run_python(&python, &code);

        // Sparse stays sparse: as many chunks stored as the source has files.
        let report: serde_json::Value = json(&["inspect", s(&copy)]);
        let node = report["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["path"] == "t2m")
            .unwrap();
        assert_eq!(
            node["array"]["chunks_stored"].as_u64().unwrap() as usize,
            chunk_files(&source.join("t2m")),
            "{node}"
        );
        assert_eq!(node["array"]["chunks_stored"], 1, "{node}");
        assert_eq!(node["attributes"]["units"], "K", "{node}");
        assert_eq!(
            node["array"]["dimension_names"],
            serde_json::json!(["time", "x"])
        );
        // Statistics still count the chunks never written (as the fill value, NaN).
        let stats: StatsOutput = json(&["stats", s(&copy.join("t2m"))]);
        let entry = &stats.stats[0];
        assert_eq!((entry.count, entry.nan_count), (128, 120));
        assert_eq!(
            (entry.min, entry.max, entry.sum),
            (Some(0.0), Some(7.0), Some(28.0))
        );
        // Export keeps them too.
        let plain = dir.path().join(format!("plain{format}.zarr"));
        ok(&["export", s(&copy.join("t2m")), s(&plain), "-q"]);
        let meta = common::metadata(&plain);
        assert_eq!(meta["attributes"]["units"], "K", "{meta}");
        assert_eq!(meta["dimension_names"], serde_json::json!(["time", "x"]));
        assert_eq!(meta["fill_value"], "NaN", "{meta}");
        let text = ok(&["inspect", s(&copy)]);
        assert!(text.contains("dimensions time, x"), "{text}");
        assert!(
            text.contains("attribute title = \"outcore test\""),
            "{text}"
        );
    }
}

#[test]
fn failed_convert_into_a_new_store_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let truncated = dir.path().join("truncated.npy");
    let good = dir.path().join("good.npy");
    write_npy(&good, &arr1(&[1.0f64, 2.0, 3.0, 4.0])).unwrap();
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() - 8]).unwrap();
    let fresh = dir.path().join("sub/new.zarr");
    let message = error(&["convert", s(&truncated), s(&fresh.join("g/y"))]);
    assert!(message.contains("truncated.npy"), "{message}");
    assert!(!dir.path().join("sub").exists(), "{message}");
    // Into an existing store: the groups made on the way go too, and the consolidated
    // metadata does not name them.
    let store = dir.path().join("store.zarr");
    ok(&["convert", s(&good), s(&store), "-q"]);
    error(&["convert", s(&truncated), s(&store.join("a/b/y"))]);
    assert!(!store.join("a").exists());
    let root = common::metadata(&store);
    let listed: Vec<&String> = root["consolidated_metadata"]["metadata"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(listed, ["good"]);
}

#[test]
fn unreadable_arrays_report_their_own_reason() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let half = dir.path().join("half.zarr");
    let group = dir.path().join("group.zarr");
    run_python(
        &python,
        &format!(
            "{PRELUDE}\
             a = zarr.create_array({:?}, shape=(4,), dtype='float16', zarr_format=3)\n\
             a[:] = np.arange(4)\n\
             g = zarr.open_group({:?}, mode='w', zarr_format=3)\n\
             g.create_array('h', shape=(4,), dtype='float16')\n\
             g.create_array('f', shape=(4,), dtype='float64')\n",
            s(&half),
            s(&group)
        ),
    );
    for path in [half.clone(), group.join("h")] {
        for command in ["stats", "export"] {
            let mut args = vec![command, s(&path)];
            let out = dir.path().join("out.npy");
            if command == "export" {
                args.push(s(&out));
            }
            let message = error(&args);
            assert!(message.contains("float16"), "{command}: {message}");
            assert!(!message.contains("is a group"), "{command}: {message}");
        }
    }
    let message = error(&["stats", s(&group)]);
    assert!(message.contains("is a group"), "{message}");
}

#[test]
fn infinite_extremes_are_inf_in_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let values = [1.5, f64::INFINITY, -2.0, f64::NEG_INFINITY, f64::NAN, 4.0];
    let npy = dir.path().join("inf.npy");
    write_npy(&npy, &arr1(&values)).unwrap();
    let store = dir.path().join("inf.zarr");
    ok(&["convert", s(&npy), s(&store), "-q"]);
    // The serial reference: NaN left out, as numpy's nanmin and nanmax.
    let finite_or_inf = values.iter().copied().filter(|v| !v.is_nan());
    let min = finite_or_inf.clone().fold(f64::INFINITY, f64::min);
    let max = finite_or_inf.fold(f64::NEG_INFINITY, f64::max);
    assert_eq!((min, max), (f64::NEG_INFINITY, f64::INFINITY));
    let report: serde_json::Value = json(&["stats", s(&store), "--scan"]);
    assert_eq!(report["stats"][0]["min"], "-inf", "{report}");
    assert_eq!(report["stats"][0]["max"], "inf", "{report}");
    let parsed: StatsOutput = json(&["stats", s(&store)]);
    assert_eq!(parsed.stats[0].min, Some(min));
    assert_eq!(parsed.stats[0].max, Some(max));
    let text = ok(&["stats", s(&store)]);
    let row = text.lines().last().unwrap();
    let fields: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&fields[2..4], ["-inf", "inf"], "{text}");
}

#[test]
fn groups_with_unsupported_arrays_convert_with_skip_unsupported() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("mixed.zarr");
    run_python(
        &python,
        &format!(
            "{PRELUDE}\
             g = zarr.open_group({:?}, mode='w', zarr_format=3)\n\
             g.attrs['title'] = 'mixed'\n\
             a = g.create_array('a', shape=(6,), dtype='float64', dimension_names=['t'])\n\
             a[:] = np.linspace(0, 1, 6)\n\
             n = g.create_array('names', shape=(6,), dtype=str, dimension_names=['t'])\n\
             n[:] = np.array(list('abcdef'))\n\
             h = g.create_array('sub/h', shape=(6,), dtype='float16', dimension_names=['t'])\n",
            s(&source)
        ),
    );
    let copy = dir.path().join("copy.zarr");
    let message = error(&["convert", s(&source), s(&copy)]);
    assert!(message.contains("--skip-unsupported"), "{message}");
    assert!(!copy.exists(), "{message}");
    let report: common::ConvertOutput =
        json(&["convert", s(&source), s(&copy), "--skip-unsupported"]);
    let skipped: Vec<&str> = report.skipped.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(skipped, ["names", "sub/h"], "{report:?}");
    assert!(report.skipped[1].reason.contains("float16"), "{report:?}");
    let mut code = String::from(PRELUDE);
    code.push_str(&open_strictly("got", &copy));
    code.push_str(&format!(
        "want = xr.open_zarr({:?}).load()[['a']]\nxr.testing.assert_identical(got, want)\n",
        s(&source)
    ));
    run_python(&python, &code);
}
