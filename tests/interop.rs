//! Interoperability with real Zarr implementations, both directions.
//!
//! - Golden stores written by zarr-python 3 and tensorstore (`tests/golden/`, made by
//!   `tests/interop/make_golden.py`) are read by outcore and compared with the values those
//!   tools wrote, saved as `.npy` beside them.
//! - Stores written by outcore are read by zarr-python 3 and tensorstore
//!   (`tests/interop/check_outcore_store.py`), with the Python interpreter named by
//!   `OUTCORE_PYTHON` (`.ci/run` sets it to a virtual environment it installs).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{random_array, same_bits};
use ndarray::ArrayD;
use ndarray_npy::{read_npy, write_npy};
use outcore::{inspect, ArrayReport, StoreReport};
use outcore::{with_element_type, ArraySpec, ChunkEncoding, DataType, Element, FillValue, Store};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct GoldenEntry {
    store: String,
    array: String,
    dtype: String,
    shape: Vec<u64>,
    expected: String,
    writer: String,
    sharded: bool,
}

/// The report of the array at `path` in an inspect report.
fn array_report<'a>(report: &'a StoreReport, path: &str) -> &'a ArrayReport {
    let node = report
        .nodes
        .iter()
        .find(|n| n.path == path)
        .unwrap_or_else(|| panic!("no node {path}"));
    node.array
        .as_ref()
        .unwrap_or_else(|| panic!("{path} is not a readable array"))
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

fn check_golden<T: Element + ndarray_npy::ReadableElement>(entry: &GoldenEntry) {
    let store = Store::open(golden_dir().join(&entry.store)).unwrap();
    let array = store
        .open_array(&entry.array)
        .unwrap_or_else(|e| panic!("{}/{}: {e}", entry.store, entry.array));
    assert_eq!(array.shape(), entry.shape.as_slice());
    let expected: ArrayD<T> = read_npy(golden_dir().join(&entry.expected)).unwrap();
    let actual = array.read_all::<T>().unwrap();
    assert!(
        same_bits(&expected, &actual),
        "{}/{} differs from {}",
        entry.store,
        entry.array,
        entry.writer
    );
    // Chunk by chunk too, to exercise single-chunk reads on every layout.
    let grid = array.grid();
    for i in 0..grid.num_chunks() {
        let coords = outcore::test_support::unravel(i, &grid.chunk_grid_shape());
        let chunk = array
            .read_chunk(&coords)
            .unwrap()
            .to_ndarray::<T>()
            .unwrap();
        let region = grid.chunk_region(&coords);
        let part = expected.slice_each_axis(|ax| {
            let r = &region[ax.axis.index()];
            ndarray::Slice::from(r.start as usize..r.end as usize)
        });
        assert!(
            same_bits(&part.to_owned(), &chunk),
            "{}/{} chunk {coords:?}",
            entry.store,
            entry.array
        );
    }
}

#[test]
fn golden_stores_from_zarr_python_and_tensorstore_read_equal() {
    let manifest: Vec<GoldenEntry> =
        serde_json::from_slice(&std::fs::read(golden_dir().join("manifest.json")).unwrap())
            .unwrap();
    assert!(manifest.len() >= 20);
    let mut fast = 0;
    for entry in &manifest {
        let dt = DataType::from_name(&entry.dtype).unwrap();
        with_element_type!(dt, T => check_golden::<T>(entry));
        let array = Store::open(golden_dir().join(&entry.store))
            .unwrap()
            .open_array(&entry.array)
            .unwrap();
        fast += usize::from(array.is_fast_path());
        if array.is_fast_path() {
            assert!(
                entry.sharded,
                "{}: only sharded arrays are on the fast path",
                entry.array
            );
        }
    }
    assert!(
        fast >= 10,
        "zarr-python and tensorstore sharded zstd/raw arrays take the fast path ({fast})"
    );
    assert!(manifest.iter().any(|e| e.writer == "tensorstore"));
}

/// `tests/golden/outcore_v1_manifest.json`: the arrays of the golden store written by
/// outcore itself (`tests/golden/make_outcore_v1.py`).
#[derive(Debug, Deserialize)]
struct OutcoreGolden {
    arrays: Vec<OutcoreGoldenArray>,
}

#[derive(Debug, Deserialize)]
struct OutcoreGoldenArray {
    array: String,
    dtype: String,
    shape: Vec<u64>,
    expected: String,
    codec: String,
}

/// Backward compatibility: the store written by an earlier version of outcore
/// (`tests/golden/outcore_v1.zarr`, never regenerated) reads equal to the `.npy` files numpy
/// wrote beside it, chunk by chunk and whole, on the fast path, with the codec it was
/// written with; its statistics sidecars still answer (equal to numpy's), and it verifies
/// clean.
#[test]
fn outcore_v1_golden_store_reads_equal() {
    let golden: OutcoreGolden = serde_json::from_slice(
        &std::fs::read(golden_dir().join("outcore_v1_manifest.json")).unwrap(),
    )
    .unwrap();
    assert!(golden.arrays.len() >= 10);
    let store = Store::open(golden_dir().join("outcore_v1.zarr")).unwrap();
    for entry in &golden.arrays {
        let as_golden = GoldenEntry {
            store: "outcore_v1.zarr".into(),
            array: entry.array.clone(),
            dtype: entry.dtype.clone(),
            shape: entry.shape.clone(),
            expected: entry.expected.clone(),
            writer: "outcore v1".into(),
            sharded: true,
        };
        let dt = DataType::from_name(&entry.dtype).unwrap();
        with_element_type!(dt, T => check_golden::<T>(&as_golden));
        let array = store.open_array(&entry.array).unwrap();
        assert!(array.is_fast_path(), "{}", entry.array);
        let spec = array.encoding().unwrap().to_string();
        assert_eq!(spec, entry.codec, "{}", entry.array);
        let report = array.verify().unwrap();
        assert!(
            report.problems.is_empty(),
            "{}: {:?}",
            entry.array,
            report.problems
        );
        // The sidecar answers without reading data, as numpy computes over the values.
        let lazy = outcore::LazyArray::from_stored(&array);
        let from_sidecar = outcore::summarize(&lazy, None, false, None).unwrap();
        assert!(from_sidecar.from_sidecar, "{}", entry.array);
        let expected: ArrayD<f64> = with_element_type!(dt, T => {
            let values: ArrayD<T> = read_npy(golden_dir().join(&entry.expected)).unwrap();
            values.mapv(|v| v.to_f64())
        });
        let finite: Vec<f64> = expected.iter().copied().filter(|v| !v.is_nan()).collect();
        let summary = &from_sidecar.summaries[0];
        assert_eq!(summary.count, expected.len() as u64, "{}", entry.array);
        assert_eq!(
            summary.nan_count,
            (expected.len() - finite.len()) as u64,
            "{}",
            entry.array
        );
        let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
        let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let mean = finite.iter().sum::<f64>() / finite.len() as f64;
        let widened = |s: outcore::Scalar| match s {
            outcore::Scalar::Bool(b) => f64::from(u8::from(b)),
            outcore::Scalar::Int(v) => v as f64,
            outcore::Scalar::UInt(v) => v as f64,
            outcore::Scalar::Float(v) => v,
        };
        assert_eq!(
            (widened(summary.min), widened(summary.max)),
            (min, max),
            "{}",
            entry.array
        );
        assert!(
            (summary.mean - mean).abs() <= 1e-9 * mean.abs().max(1.0),
            "{}: mean {} against {mean}",
            entry.array,
            summary.mean
        );
    }
    let kinds: std::collections::BTreeSet<&str> =
        golden.arrays.iter().map(|a| a.codec.as_str()).collect();
    assert!(kinds.contains("raw") && kinds.iter().any(|k| k.starts_with("zstd")));
}

#[test]
fn inspect_reads_every_golden_store() {
    for store in [
        "zarrpy_v3_sharded_zstd.zarr",
        "zarrpy_v3_sharded_blosc.zarr",
        "zarrpy_v3_unsharded.zarr",
        "zarrpy_v2.zarr",
        "tensorstore_v3_sharded.zarr",
    ] {
        let report = inspect(&golden_dir().join(store)).unwrap();
        let arrays: Vec<_> = report
            .nodes
            .iter()
            .filter_map(|n| n.array.as_ref().map(|a| (n, a)))
            .collect();
        assert!(!arrays.is_empty(), "{store}");
        for (node, a) in arrays {
            assert!(
                node.error.is_none(),
                "{store}/{}: {:?}",
                node.path,
                node.error
            );
            assert!(a.stored_bytes > 0 && a.logical_bytes > 0);
            if let (Some(stored), Some(missing)) = (a.chunks_stored, a.chunks_missing) {
                assert_eq!(stored + missing, a.chunks_total);
            }
        }
    }
    // zarr-python left one inner chunk (all NaN) and one whole shard unwritten in f64_2d.
    let report = inspect(&golden_dir().join("zarrpy_v3_sharded_zstd.zarr")).unwrap();
    let f64_2d = array_report(&report, "f64_2d");
    assert!(f64_2d.chunks_missing.unwrap() > 0);
    assert!(f64_2d.fast_path);
}

/// Writes arrays of every dtype, both codecs, edge chunks, a missing chunk and a NaN fill.
fn write_outcore_store(root: &Path) -> Vec<serde_json::Value> {
    let store = Store::create(root).unwrap();
    let mut manifest = Vec::new();
    for (i, dt) in DataType::ALL.into_iter().enumerate() {
        for encoding in [ChunkEncoding::raw(), ChunkEncoding::zstd(2)] {
            let codec = if encoding == ChunkEncoding::raw() {
                "raw"
            } else {
                "zstd"
            };
            let name = format!("{codec}/{}", dt.name());
            let expected_path = root.join(format!("{}_{codec}.npy", dt.name()));
            with_element_type!(dt, T => {
                let data = random_array::<T>(&[19, 11], i as u64);
                let spec = ArraySpec::new(dt, &[19, 11]).chunks(&[4, 3]).shards(&[8, 6]).encoding(encoding);
                let w = store.create_array(&name, &spec).unwrap();
                w.write_array(data.view()).unwrap();
                w.finish().unwrap();
                write_npy(&expected_path, &data).unwrap();
            });
            manifest.push(serde_json::json!({"array": name, "expected": expected_path, "dtype": dt.name(), "shape": [19, 11]}));
        }
    }
    // Missing chunks and a NaN fill value; dimension names.
    let spec = ArraySpec::new(DataType::Float64, &[10, 9])
        .chunks(&[3, 3])
        .shards(&[6, 9])
        .fill_value(FillValue::of(f64::NAN))
        .dimension_names(&["y", "x"]);
    let w = store.create_array("sparse", &spec).unwrap();
    w.write_chunk(&[1, 1], &[1.5f64; 9]).unwrap();
    w.write_chunk(&[3, 2], &[2.5f64; 3]).unwrap();
    let sparse = w.finish().unwrap().read_all::<f64>().unwrap();
    let expected_path = root.join("sparse.npy");
    write_npy(&expected_path, &sparse).unwrap();
    manifest.push(serde_json::json!({"array": "sparse", "expected": expected_path, "dtype": "float64", "shape": [10, 9]}));
    manifest
}

#[test]
fn zarr_python_and_tensorstore_read_what_outcore_writes() {
    let Some(python) = std::env::var_os("OUTCORE_PYTHON") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set OUTCORE_PYTHON (see .ci/run)"
        );
        eprintln!("skipped: set OUTCORE_PYTHON to a Python with zarr and tensorstore (tests/interop/requirements.txt)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("outcore.zarr");
    let manifest = write_outcore_store(&root);
    let manifest_path = dir.path().join("manifest.json");
    std::fs::write(
        &manifest_path,
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/check_outcore_store.py");
    let out = Command::new(python)
        .arg(script)
        .arg(&root)
        .arg(&manifest_path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Two readers per array.
    assert!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count() >= 2 * manifest.len(),
        "{stdout}"
    );
}

/// A foreign writer's raw shard with the index at the start puts the first chunk at offset
/// 16n + 4, which is not 8-aligned: it must still read correctly (copied, not viewed).
#[test]
fn unaligned_raw_chunks_from_a_foreign_writer_read_correctly() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(
        root.join("zarr.json"),
        r#"{"zarr_format":3,"node_type":"group"}"#,
    )
    .unwrap();
    let a = root.join("a");
    std::fs::create_dir_all(a.join("c")).unwrap();
    std::fs::write(
        a.join("zarr.json"),
        r#"{"zarr_format":3,"node_type":"array","shape":[6],"data_type":"float64",
            "chunk_grid":{"name":"regular","configuration":{"chunk_shape":[6]}},
            "chunk_key_encoding":{"name":"default"},"fill_value":"NaN",
            "codecs":[{"name":"sharding_indexed","configuration":{"chunk_shape":[3],
              "codecs":[{"name":"bytes","configuration":{"endian":"little"}}],
              "index_codecs":[{"name":"bytes","configuration":{"endian":"little"}},{"name":"crc32c"}],
              "index_location":"start"}}]}"#,
    )
    .unwrap();
    let values = [1.5f64, -2.0, 3.25, 4.0, f64::INFINITY, -0.0];
    let index_len = 2 * 16 + 4;
    let mut index = Vec::new();
    for slot in 0..2u64 {
        index.extend_from_slice(&(index_len + slot * 24).to_le_bytes());
        index.extend_from_slice(&24u64.to_le_bytes());
    }
    let crc = crc32c::crc32c(&index);
    index.extend_from_slice(&crc.to_le_bytes());
    for v in values {
        index.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(a.join("c/0"), index).unwrap();

    let array = Store::open(root).unwrap().open_array("a").unwrap();
    assert!(array.is_fast_path());
    let chunk = array.read_chunk(&[0]).unwrap();
    assert!(!chunk.is_zero_copy(), "offset 36 is not 8-aligned");
    let back = array.read_all::<f64>().unwrap();
    assert_eq!(
        bytemuck::cast_slice::<f64, u8>(back.as_slice().unwrap()),
        bytemuck::cast_slice::<f64, u8>(&values)
    );
    let report = inspect(root).unwrap();
    let a = array_report(&report, "a");
    assert_eq!((a.chunks_stored, a.zero_copy_chunks), (Some(2), 0));
}

/// The fast-path test is what the registered codecs declare: an array written with each
/// registered codec records exactly that codec's configuration after `bytes` and opens on
/// the fast path with it; inner codecs no registered codec takes (blosc, as zarr-python
/// wrote it, in a shard layout that is otherwise the profile's) are read through zarrs,
/// with the shard index still read by outcore.
#[test]
fn the_profile_takes_exactly_the_registered_codecs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("s.zarr")).unwrap();
    let data = random_array::<f64>(&[19, 11], 5);
    for (i, entry) in outcore::test_support::CODECS.iter().enumerate() {
        let encoding = (entry.default)();
        let name = format!("c{i}");
        let spec = ArraySpec::new(DataType::Float64, &[19, 11])
            .chunks(&[4, 3])
            .shards(&[8, 6])
            .encoding(encoding.clone());
        let w = store.create_array(&name, &spec).unwrap();
        w.write_array(data.view()).unwrap();
        w.finish().unwrap();
        let doc: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.path().join("s.zarr").join(&name).join("zarr.json")).unwrap(),
        )
        .unwrap();
        let inner = doc["codecs"][0]["configuration"]["codecs"]
            .as_array()
            .unwrap();
        assert_eq!(
            inner[0],
            serde_json::json!({"name": "bytes", "configuration": {"endian": "little"}})
        );
        assert_eq!(inner[1..], encoding.codec().metadata()[..], "{encoding}");
        assert_eq!(
            outcore::ChunkEncoding::from_metadata(&inner[1..]),
            Some(encoding.clone())
        );
        let array = store.open_array(&name).unwrap();
        assert!(array.is_fast_path(), "{encoding}");
        assert_eq!(array.encoding(), Some(&encoding));
        assert!(same_bits(&data, &array.read_all::<f64>().unwrap()));
    }

    // Lists no registered codec takes: other codecs, more than one, a known one twice.
    let json = |s: &str| -> Vec<serde_json::Value> { serde_json::from_str(s).unwrap() };
    for refused in [
        r#"[{"name": "gzip", "configuration": {"level": 5}}]"#,
        r#"[{"name": "zstd", "configuration": {"level": 3}}, {"name": "crc32c"}]"#,
        r#"[{"name": "zstd", "configuration": {"level": 1}}, {"name": "zstd", "configuration": {"level": 1}}]"#,
        r#"[{"name": "transpose", "configuration": {"order": [1, 0]}}]"#,
    ] {
        assert_eq!(
            outcore::ChunkEncoding::from_metadata(&json(refused)),
            None,
            "{refused}"
        );
    }

    let blosc = Store::open(golden_dir().join("zarrpy_v3_sharded_blosc.zarr"))
        .unwrap()
        .open_array("f64_blosc")
        .unwrap();
    let profile = blosc
        .meta()
        .profile
        .as_ref()
        .expect("the profile's shard layout");
    assert_eq!(profile.codecs.len(), 1);
    assert_eq!(profile.codecs[0]["name"], "blosc");
    assert_eq!(outcore::ChunkEncoding::from_metadata(&profile.codecs), None);
    assert!(!blosc.is_fast_path());
    assert_eq!(blosc.encoding(), None);
    let expected: ArrayD<f64> =
        read_npy(golden_dir().join("expected/zarrpy_v3_sharded_blosc__f64_blosc.npy")).unwrap();
    assert!(same_bits(&expected, &blosc.read_all::<f64>().unwrap()));
    let summary = blosc.storage_summary().unwrap();
    // Counted from the shard indexes, which outcore reads for any codec.
    assert!(summary.chunks_stored.is_some_and(|n| n > 0), "{summary:?}");
    assert_eq!(summary.zero_copy_chunks, 0);
}

/// Stores written through the library keep their consolidated metadata up to date as nodes
/// are added and replaced, carry the attributes and dimension names they were given (and
/// `dim_N` otherwise), and open in xarray with every warning raised as an error.
#[test]
fn consolidated_metadata_attributes_and_dimension_names() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("ds.zarr");
    let store = Store::create(&root).unwrap();
    let mut group_attrs = serde_json::Map::new();
    group_attrs.insert("title".into(), "library test".into());
    store.create_group("g", group_attrs.clone()).unwrap();
    let mut attrs = serde_json::Map::new();
    attrs.insert("units".into(), "K".into());
    let temps = ArrayD::from_shape_fn(ndarray::IxDyn(&[12, 5]), |ix| {
        (ix[0] * 5 + ix[1]) as f64 - 7.5
    });
    let spec = ArraySpec::new(DataType::Float64, &[12, 5])
        .chunks(&[4, 5])
        .attributes(attrs.clone())
        .dimension_names(&["time", "x"]);
    let w = store.create_array("g/t", &spec).unwrap();
    w.write_array(temps.view()).unwrap();
    let t = w.finish().unwrap();
    assert_eq!(t.attributes(), &attrs);
    assert_eq!(
        t.dimension_names(),
        Some(vec![Some("time".to_string()), Some("x".to_string())])
    );
    assert_eq!(store.group_attributes("g").unwrap(), group_attrs);
    assert!(store.group_attributes("").unwrap().is_empty());
    assert_eq!(
        store.group_attributes("g/t").unwrap_err().kind(),
        outcore::ErrorKind::NotFound
    );
    // Replaced by one of another shape, with default axis names.
    let counts = ArrayD::from_shape_fn(ndarray::IxDyn(&[3]), |ix| ix[0] as i32 * 2);
    for shape in [[7u64], [3]] {
        let spec = ArraySpec::new(DataType::Int32, &shape).overwrite(true);
        let w = store.create_array("n", &spec).unwrap();
        if shape == [3] {
            w.write_array(counts.view()).unwrap();
        }
        let n = w.finish().unwrap();
        assert_eq!(n.dimension_names(), Some(vec![Some("dim_0".to_string())]));
    }
    // A count of names that is not the rank is refused.
    let bad = ArraySpec::new(DataType::Int32, &[3]).dimension_names(&["a", "b"]);
    assert_eq!(
        store.create_array("bad", &bad).unwrap_err().kind(),
        outcore::ErrorKind::InvalidArgument
    );
    assert!(!root.join("bad").exists());

    let Some(python) = common::python() else {
        return;
    };
    let code = format!(
        "import warnings\nimport numpy as np\nimport xarray as xr\nimport zarr\n\
         root = {root:?}\n\
         c = zarr.open_consolidated(root, mode='r')\n\
         members = sorted(k for k, _ in c.members(max_depth=None))\n\
         assert members == ['g', 'g/t', 'n'], members\n\
         assert c['n'].shape == (3,), c['n'].shape\n\
         with warnings.catch_warnings():\n\
         \x20   warnings.simplefilter('error')\n\
         \x20   ds = xr.open_zarr(root, group='g').load()\n\
         \x20   top = xr.open_dataset(root, engine='zarr').load()\n\
         assert ds.attrs == {{'title': 'library test'}}, ds.attrs\n\
         assert ds['t'].dims == ('time', 'x') and ds['t'].attrs == {{'units': 'K'}}, ds['t']\n\
         np.testing.assert_array_equal(ds['t'].values, np.arange(60.0).reshape(12, 5) - 7.5)\n\
         np.testing.assert_array_equal(top['n'].values, [0, 2, 4])\n\
         assert top['n'].dims == ('dim_0',)\n",
        root = root.to_str().unwrap()
    );
    let out = Command::new(python).arg("-c").arg(code).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
