//! `.npy` / raw binary import and `.npy` / plain Zarr export, against independent references.
//!
//! - With `OUTCORE_PYTHON` (a Python with numpy and zarr; `.ci/run` sets it), numpy writes
//!   `.npy` and raw inputs of every dtype, C and Fortran order, both byte orders, 0-d, empty
//!   and odd shapes (`tests/convert_binary/make_inputs.py`), each with a C-order little-endian
//!   reference copy; outcore imports them into a store with odd chunks and must read back the
//!   reference's values bit for bit. The same inputs are then exported to `.npy` and plain Zarr
//!   and checked by numpy and zarr-python (`tests/convert_binary/check_exports.py`).
//! - Without Python: raw files written here in both orders and byte orders, exports read back
//!   by `ndarray-npy` and by zarrs (outcore's foreign path), malformed inputs giving one-line
//!   errors that name the file, and failed exports leaving nothing at the destination.

mod common;

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use common::{random_array, same_bits};
use ndarray::{ArrayD, IxDyn};
use ndarray_npy::{read_npy, write_npy};
use outcore::convert::binary::{open_npy, open_raw, ByteOrder, Order, RawLayout};
use outcore::convert::export::{export_npy, export_zarr, ExportOptions};
use outcore::{with_element_type, ArraySpec, ChunkEncoding, DataType, Element, LazyArray, Store};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Input {
    name: String,
    kind: String,
    file: String,
    reference: String,
    dtype: String,
    shape: Vec<u64>,
    order: String,
    byteorder: String,
    offset: u64,
}

/// Odd chunks (2, 3, 5, ... cut to the shape, at least 1).
fn odd_chunks(shape: &[u64], start: usize) -> Vec<u64> {
    const ODD: [u64; 4] = [2, 3, 5, 7];
    shape
        .iter()
        .enumerate()
        .map(|(i, &n)| ODD[(i + start) % ODD.len()].min(n).max(1))
        .collect()
}

fn run_python(python: &std::ffi::OsStr, script: &str, args: &[&Path]) -> String {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/convert_binary")
        .join(script);
    let out = Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn lazy_from(input: &Input, dir: &Path, chunks: &[u64]) -> LazyArray {
    let path = dir.join(&input.file);
    match input.kind.as_str() {
        "npy" => open_npy(&path, Some(chunks)),
        _ => open_raw(
            &path,
            RawLayout {
                data_type: DataType::from_name(&input.dtype).unwrap(),
                shape: input.shape.clone(),
                order: if input.order == "F" {
                    Order::F
                } else {
                    Order::C
                },
                byte_order: if input.byteorder == ">" {
                    ByteOrder::Big
                } else {
                    ByteOrder::Little
                },
                offset: input.offset,
            },
            Some(chunks),
        ),
    }
    .unwrap_or_else(|e| panic!("{}: {e}", input.name))
}

fn check_import<T: Element + ndarray_npy::ReadableElement>(
    input: &Input,
    dir: &Path,
    store: &Store,
) {
    let expected: ArrayD<T> = read_npy(dir.join(&input.reference)).unwrap();
    let lazy = lazy_from(input, dir, &odd_chunks(&input.shape, 0));
    assert_eq!(lazy.data_type(), T::DATA_TYPE, "{}", input.name);
    assert_eq!(lazy.shape(), input.shape.as_slice(), "{}", input.name);
    // In memory, block by block.
    let direct = lazy.to_ndarray::<T>().unwrap();
    assert!(same_bits(&expected, &direct), "{} (to_ndarray)", input.name);
    // Into a store whose chunks differ from the blocks.
    let spec = ArraySpec::new(T::DATA_TYPE, &input.shape)
        .chunks(&odd_chunks(&input.shape, 1))
        .encoding(ChunkEncoding::zstd(1));
    let stored = lazy.to_store(store, &input.name, &spec).unwrap();
    let back = stored.read_all::<T>().unwrap();
    assert!(same_bits(&expected, &back), "{} (stored)", input.name);
}

#[test]
fn numpy_inputs_import_exactly_and_exports_read_back_in_numpy_and_zarr_python() {
    let Some(python) = common::python() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let inputs_dir = dir.path().join("inputs");
    run_python(&python, "make_inputs.py", &[&inputs_dir]);
    let inputs: Vec<Input> =
        serde_json::from_slice(&std::fs::read(inputs_dir.join("manifest.json")).unwrap()).unwrap();
    assert!(inputs.len() > 300);
    for kind in ["npy", "raw"] {
        for order in ["C", "F"] {
            for bo in ["<", ">"] {
                assert!(
                    inputs
                        .iter()
                        .any(|i| i.kind == kind && i.order == order && i.byteorder == bo),
                    "no {kind} {order} {bo} input"
                );
            }
        }
    }
    let store = Store::create(dir.path().join("imported.zarr")).unwrap();
    for input in &inputs {
        let dt = DataType::from_name(&input.dtype).unwrap();
        with_element_type!(dt, T => check_import::<T>(input, &inputs_dir, &store));
    }

    // Export every input again and let numpy and zarr-python read the results.
    let out = dir.path().join("exports");
    let mut checks = Vec::new();
    for (i, input) in inputs.iter().enumerate() {
        let lazy = lazy_from(input, &inputs_dir, &odd_chunks(&input.shape, 2));
        let npy = out.join(format!("{}.npy", input.name));
        export_npy(&lazy, &npy, false, None).unwrap();
        let chunks = odd_chunks(&input.shape, 3);
        let zarr = out.join(format!("{}.zarr", input.name));
        let encoding = if i % 2 == 0 {
            ChunkEncoding::raw()
        } else {
            ChunkEncoding::zstd(3)
        };
        export_zarr(
            &lazy,
            &zarr,
            &ExportOptions {
                chunks: Some(chunks.clone()),
                encoding,
                overwrite: false,
                ..Default::default()
            },
            None,
        )
        .unwrap();
        checks.push(serde_json::json!({
            "reference": inputs_dir.join(&input.reference),
            "npy": npy,
            "zarr": zarr,
            "chunks": chunks,
        }));
    }
    let manifest = dir.path().join("exports.json");
    std::fs::write(&manifest, serde_json::to_vec(&checks).unwrap()).unwrap();
    let stdout = run_python(&python, "check_exports.py", &[&manifest]);
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        2 * inputs.len(),
        "{stdout}"
    );
}

/// The bytes of `a` in `order` and `byte_order`, after `offset` bytes of 0xAB.
fn raw_bytes<T: Element>(
    a: &ArrayD<T>,
    order: Order,
    byte_order: ByteOrder,
    offset: usize,
) -> Vec<u8> {
    let mut out = vec![0xABu8; offset];
    let size = std::mem::size_of::<T>();
    let elements: Vec<T> = match order {
        Order::C => a.iter().copied().collect(),
        Order::F => a.t().iter().copied().collect(),
    };
    for e in &elements {
        let mut bytes = bytemuck::bytes_of(e).to_vec();
        if (byte_order == ByteOrder::Big) != cfg!(target_endian = "big") {
            bytes.reverse();
        }
        out.extend_from_slice(&bytes);
    }
    assert_eq!(out.len(), offset + elements.len() * size);
    out
}

fn check_raw<T: Element>(shape: &[usize], seed: u64, dir: &Path) {
    let a: ArrayD<T> = random_array(shape, seed);
    let shape64: Vec<u64> = shape.iter().map(|&n| n as u64).collect();
    for order in [Order::C, Order::F] {
        for byte_order in [ByteOrder::Little, ByteOrder::Big] {
            for offset in [0usize, 13] {
                let path = dir.join(format!(
                    "{}-{shape:?}-{order:?}-{byte_order:?}-{offset}.bin",
                    T::DATA_TYPE
                ));
                std::fs::write(&path, raw_bytes(&a, order, byte_order, offset)).unwrap();
                let layout = RawLayout {
                    data_type: T::DATA_TYPE,
                    shape: shape64.clone(),
                    order,
                    byte_order,
                    offset: offset as u64,
                };
                for start in 0..2 {
                    let lazy = open_raw(&path, layout.clone(), Some(&odd_chunks(&shape64, start)))
                        .unwrap();
                    let back = lazy.to_ndarray::<T>().unwrap();
                    assert!(same_bits(&a, &back), "{}", path.display());
                }
                // A selection reads only its region, through the same paths.
                if shape.len() == 2 && shape[0] > 2 && shape[1] > 3 {
                    let lazy = open_raw(&path, layout.clone(), Some(&[2, 3])).unwrap();
                    let part = lazy
                        .slice(ndarray::s![1..shape[0] as isize - 1, 2..])
                        .unwrap()
                        .to_ndarray::<T>()
                        .unwrap();
                    let expected = a
                        .slice(ndarray::s![1..shape[0] - 1, 2..])
                        .to_owned()
                        .into_dyn();
                    assert!(same_bits(&expected, &part), "{} slice", path.display());
                }
            }
        }
    }
}

#[test]
fn raw_files_in_both_orders_and_byte_orders_read_back() {
    let dir = tempfile::tempdir().unwrap();
    for (i, dt) in DataType::ALL.into_iter().enumerate() {
        for (j, shape) in [
            vec![],
            vec![0],
            vec![9],
            vec![11, 7],
            vec![3, 4, 5],
            vec![2, 0, 3],
        ]
        .iter()
        .enumerate()
        {
            let seed = (i * 10 + j) as u64;
            with_element_type!(dt, T => check_raw::<T>(shape, seed, dir.path()));
        }
    }
}

/// A `.npy` file: `descr`, `fortran_order`, `shape` (Python text), then `data`.
fn npy_file(descr: &str, fortran: bool, shape: &str, data: &[u8]) -> Vec<u8> {
    let mut dict = format!(
        "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
        if fortran { "True" } else { "False" }
    );
    while !(10 + dict.len() + 1).is_multiple_of(64) {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.extend_from_slice(data);
    out
}

/// The message of `result`'s error, which must be one line naming `path`.
fn error_of<T: std::fmt::Debug>(result: outcore::Result<T>, path: &Path) -> String {
    let message = result.expect_err("should fail").to_string();
    assert!(
        message.contains(&path.display().to_string()),
        "{message:?} does not name {}",
        path.display()
    );
    assert!(!message.contains('\n'), "{message:?} is not one line");
    message
}

#[test]
fn hand_written_npy_headers_parse() {
    let dir = tempfile::tempdir().unwrap();
    let values: Vec<i32> = (0..6).collect();
    let le: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let be: Vec<u8> = values.iter().flat_map(|v| v.to_be_bytes()).collect();
    let cases = [
        (
            "c.npy",
            npy_file("<i4", false, "(2, 3)", &le),
            [[0, 1, 2], [3, 4, 5]],
        ),
        (
            "f.npy",
            npy_file("<i4", true, "(2, 3)", &le),
            [[0, 2, 4], [1, 3, 5]],
        ),
        (
            "be.npy",
            npy_file(">i4", false, "(2, 3)", &be),
            [[0, 1, 2], [3, 4, 5]],
        ),
        (
            "bef.npy",
            npy_file(">i4", true, "(2, 3)", &be),
            [[0, 2, 4], [1, 3, 5]],
        ),
    ];
    for (name, bytes, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        let got = open_npy(&path, None).unwrap().to_ndarray::<i32>().unwrap();
        assert_eq!(got, ndarray::arr2(&expected).into_dyn(), "{name}");
    }
    let path = dir.path().join("scalar.npy");
    std::fs::write(&path, npy_file("<f8", false, "()", &2.5f64.to_le_bytes())).unwrap();
    let got = open_npy(&path, None).unwrap().to_ndarray::<f64>().unwrap();
    assert_eq!(got.shape(), &[] as &[usize]);
    assert_eq!(got[IxDyn(&[])], 2.5);
}

#[test]
fn malformed_inputs_are_one_line_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let data: Vec<u8> = (0..48u8).collect();
    let mut cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "wrong-magic.npy",
            {
                let mut b = npy_file("<f8", false, "(6,)", &data);
                b[1] = b'X';
                b
            },
            "magic",
        ),
        (
            "truncated-data.npy",
            {
                let mut b = npy_file("<f8", false, "(6,)", &data);
                b.truncate(b.len() - 5);
                b
            },
            "truncated",
        ),
        (
            "too-long.npy",
            {
                let mut b = npy_file("<f8", false, "(6,)", &data);
                b.push(0);
                b
            },
            "too long",
        ),
        (
            "truncated-header.npy",
            npy_file("<f8", false, "(6,)", &data)[..30].to_vec(),
            "truncated",
        ),
        (
            "garbage-header.npy",
            npy_file("<f8", false, "(6,,]]", &data),
            "not a valid .npy",
        ),
        (
            "not-a-dict.npy",
            {
                let mut b = npy_file("<f8", false, "(6,)", &data);
                b[10] = b'[';
                b
            },
            "not a valid .npy",
        ),
        (
            "complex.npy",
            npy_file("<c16", false, "(3,)", &data),
            "<c16",
        ),
        ("half.npy", npy_file("<f2", false, "(24,)", &data), "<f2"),
        ("unicode.npy", npy_file("<U3", false, "(4,)", &data), "<U3"),
        ("empty.npy", Vec::new(), "not a valid .npy"),
        // Found by the npy_header fuzz target: the header parser's time doubles with each
        // nested `{`, so this one took minutes.
        (
            "nested.npy",
            npy_file("|i1", true, &format!("(5,{}e", "{".repeat(100)), &data[..5]),
            "nests brackets",
        ),
        (
            "long-header.npy",
            npy_file(
                "|i1",
                true,
                &format!("(5,{})", " ".repeat(10_000)),
                &data[..5],
            ),
            "max_header_size",
        ),
    ];
    // A structured dtype.
    let mut structured = b"\x93NUMPY\x01\x00".to_vec();
    let mut dict =
        "{'descr': [('a', '<i4'), ('b', '<f4')], 'fortran_order': False, 'shape': (6,), }"
            .to_string();
    while !(10 + dict.len() + 1).is_multiple_of(64) {
        dict.push(' ');
    }
    dict.push('\n');
    structured.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    structured.extend_from_slice(dict.as_bytes());
    structured.extend_from_slice(&data);
    cases.push(("structured.npy", structured, "unsupported .npy dtype"));
    for (name, bytes, expect) in cases {
        let path = d.join(name);
        std::fs::write(&path, bytes).unwrap();
        let message = error_of(open_npy(&path, None), &path);
        assert!(message.contains(expect), "{name}: {message}");
    }

    let missing = d.join("missing.npy");
    let err = open_npy(&missing, None).unwrap_err();
    assert_eq!(err.kind(), outcore::ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("missing.npy"), "{err}");
    let message = error_of(open_npy(d, None), d);
    assert!(message.contains("directory"), "{message}");

    // Raw length mismatch, both ways, and a missing raw file.
    let raw = d.join("raw.bin");
    std::fs::write(&raw, &data).unwrap();
    for shape in [vec![5u64], vec![7]] {
        let layout = RawLayout::new(DataType::Float64, &shape);
        let message = error_of(open_raw(&raw, layout, None), &raw);
        assert!(message.contains("48 bytes"), "{message}");
        assert!(message.contains(&(shape[0] * 8).to_string()), "{message}");
    }
    let mut layout = RawLayout::new(DataType::Float64, &[5]);
    layout.offset = 8;
    assert!(open_raw(&raw, layout, None).is_ok());
    let missing = d.join("missing.bin");
    let err = open_raw(&missing, RawLayout::new(DataType::UInt8, &[1]), None).unwrap_err();
    assert_eq!(err.kind(), outcore::ErrorKind::NotFound, "{err}");
    assert!(err.to_string().contains("missing.bin"), "{err}");

    // A bool byte that is neither 0 nor 1 is an error at read time, with its offset.
    let path = d.join("bad-bool.npy");
    let mut bools = vec![0u8, 1, 1, 0, 1, 0];
    bools[4] = 7;
    let bytes = npy_file("|b1", false, "(2, 3)", &bools);
    let header = bytes.len() - bools.len();
    std::fs::write(&path, &bytes).unwrap();
    let lazy = open_npy(&path, Some(&[1, 3])).unwrap();
    let message = error_of(lazy.to_ndarray::<bool>(), &path);
    assert!(
        message.contains(&format!("offset {}", header + 4)),
        "{message}"
    );
    // Fortran order: element [1, 0] of a 2x3 array is at index 1 in the file.
    let path = d.join("bad-bool-f.npy");
    let bools = [0u8, 9, 1, 0, 1, 0];
    std::fs::write(&path, npy_file("|b1", true, "(2, 3)", &bools)).unwrap();
    let message = error_of(open_npy(&path, None).unwrap().to_ndarray::<bool>(), &path);
    assert!(
        message.contains(&format!("offset {}", header + 1)),
        "{message}"
    );
}

fn check_export<T: Element + ndarray_npy::WritableElement + ndarray_npy::ReadableElement>(
    shape: &[usize],
    seed: u64,
    dir: &Path,
) {
    let a: ArrayD<T> = random_array(shape, seed);
    let shape64: Vec<u64> = shape.iter().map(|&n| n as u64).collect();
    let name = format!("{}-{shape:?}", T::DATA_TYPE);
    let lazy = LazyArray::from_array(a.clone(), &odd_chunks(&shape64, 0)).unwrap();

    // .npy: read back by ndarray-npy, and by outcore's importer.
    let npy = dir.join(format!("{name}.npy"));
    export_npy(&lazy, &npy, false, None).unwrap();
    let back: ArrayD<T> = read_npy(&npy).unwrap();
    assert!(same_bits(&a, &back), "{name} via ndarray-npy");
    let again = open_npy(&npy, None).unwrap().to_ndarray::<T>().unwrap();
    assert!(same_bits(&a, &again), "{name} via open_npy");
    let bytes = std::fs::read(&npy).unwrap();
    let header_len = bytes.len() - a.len() * std::mem::size_of::<T>();
    assert_eq!(header_len % 64, 0, "{name}: data is 64-byte aligned");

    // Plain Zarr: read back through zarrs (outcore's general path).
    for (k, encoding) in [ChunkEncoding::raw(), ChunkEncoding::zstd(1)]
        .into_iter()
        .enumerate()
    {
        let zarr = dir.join(format!("{name}-{k}.zarr"));
        let options = ExportOptions {
            chunks: (k == 0).then(|| odd_chunks(&shape64, 1)),
            encoding: encoding.clone(),
            overwrite: false,
            ..Default::default()
        };
        export_zarr(&lazy, &zarr, &options, None).unwrap();
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(zarr.join("zarr.json")).unwrap()).unwrap();
        let codecs: Vec<&str> = meta["codecs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        let expected_codecs: &[&str] = if k == 0 {
            &["bytes"]
        } else {
            &["bytes", "zstd"]
        };
        assert_eq!(codecs, expected_codecs, "{name}");
        let array = Store::open(&zarr).unwrap().open_array("").unwrap();
        let back = array.read_all::<T>().unwrap();
        assert!(same_bits(&a, &back), "{name} {encoding:?} via zarrs");
    }
}

#[test]
fn exports_read_back_with_independent_readers() {
    let dir = tempfile::tempdir().unwrap();
    for (i, dt) in DataType::ALL.into_iter().enumerate() {
        for (j, shape) in [
            vec![],
            vec![0],
            vec![1],
            vec![10],
            vec![9, 7],
            vec![3, 0, 2],
            vec![4, 3, 5],
        ]
        .iter()
        .enumerate()
        {
            let seed = (100 + i * 10 + j) as u64;
            with_element_type!(dt, T => check_export::<T>(shape, seed, dir.path()));
        }
    }
}

#[test]
fn exports_of_expressions_stream_through_contiguous_blocks() {
    let dir = tempfile::tempdir().unwrap();
    // 3 x 1100 x 1000 float64 = 26 MB: several 8 MiB blocks, split inside axis 1.
    let x = outcore::random::uniform(5, &[3, 1100, 1000], 0.0, 1.0).unwrap();
    let y = (&x * 2.0).transpose().unwrap();
    let expected = y.to_ndarray::<f64>().unwrap();
    let npy = dir.path().join("y.npy");
    let calls = AtomicU64::new(0);
    let last = AtomicU64::new(0);
    let observer = |p: &outcore::Progress| {
        calls.fetch_add(1, Ordering::Relaxed);
        last.store(p.bytes_done, Ordering::Relaxed);
        ControlFlow::Continue(())
    };
    export_npy(&y, &npy, false, Some(&observer)).unwrap();
    let back: ArrayD<f64> = read_npy(&npy).unwrap();
    assert!(same_bits(&expected, &back));
    assert!(calls.load(Ordering::Relaxed) >= 1);
    assert_eq!(last.load(Ordering::Relaxed), 3 * 1100 * 1000 * 8);

    // Default chunks of a Zarr export: about 8 MiB.
    let zarr = dir.path().join("y.zarr");
    export_zarr(&y, &zarr, &ExportOptions::default(), None).unwrap();
    let array = Store::open(&zarr).unwrap().open_array("").unwrap();
    let chunk_bytes = array.grid().chunk_shape().iter().product::<u64>() * 8;
    assert!(
        chunk_bytes <= 8 << 20 && chunk_bytes > 1 << 20,
        "{chunk_bytes}"
    );
    assert!(same_bits(&expected, &array.read_all::<f64>().unwrap()));

    // A stored source exported again.
    let store = Store::create(dir.path().join("s.zarr")).unwrap();
    let stored = y
        .to_store(
            &store,
            "y",
            &ArraySpec::new(DataType::Float64, y.shape()).chunks(&[100, 100, 3]),
        )
        .unwrap();
    let npy2 = dir.path().join("y2.npy");
    export_npy(&LazyArray::from_stored(&stored), &npy2, false, None).unwrap();
    assert_eq!(std::fs::read(&npy).unwrap(), std::fs::read(&npy2).unwrap());
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

#[test]
fn failed_exports_leave_nothing_and_existing_outputs_need_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // An input that fails half-way: its second block has a bad bool byte.
    let inputs = d.join("inputs");
    std::fs::create_dir(&inputs).unwrap();
    let mut bools = vec![1u8; 4096];
    bools[3000] = 2;
    let bad = inputs.join("bad.npy");
    std::fs::write(&bad, npy_file("|b1", false, "(4096,)", &bools)).unwrap();
    let lazy = open_npy(&bad, Some(&[512])).unwrap();
    let out = d.join("out");
    std::fs::create_dir(&out).unwrap();
    let message = error_of(export_npy(&lazy, &out.join("x.npy"), false, None), &bad);
    assert!(message.contains("not a bool"), "{message}");
    let options = ExportOptions {
        chunks: Some(vec![256]),
        ..Default::default()
    };
    error_of(
        export_zarr(&lazy, &out.join("x.zarr"), &options, None),
        &bad,
    );
    assert!(entries(&out).is_empty(), "{:?}", entries(&out));

    // Existing outputs are kept unless overwrite.
    let good = LazyArray::from_array(ndarray::arr1(&[1i16, 2, 3]).into_dyn(), &[2]).unwrap();
    let npy = out.join("x.npy");
    write_npy(&npy, &ndarray::arr1(&[9u8])).unwrap();
    let before = std::fs::read(&npy).unwrap();
    assert!(export_npy(&good, &npy, false, None).is_err());
    assert!(export_npy(&lazy, &npy, true, None).is_err());
    assert_eq!(std::fs::read(&npy).unwrap(), before);
    export_npy(&good, &npy, true, None).unwrap();
    let back: ArrayD<i16> = read_npy(&npy).unwrap();
    assert_eq!(back.as_slice().unwrap(), &[1, 2, 3]);
    let zarr = out.join("x.zarr");
    export_zarr(&good, &zarr, &ExportOptions::default(), None).unwrap();
    assert!(export_zarr(&good, &zarr, &ExportOptions::default(), None).is_err());
    let overwrite = ExportOptions {
        overwrite: true,
        ..Default::default()
    };
    export_zarr(&(&good * 2), &zarr, &overwrite, None).unwrap();
    let back = Store::open(&zarr)
        .unwrap()
        .open_array("")
        .unwrap()
        .read_all::<i16>()
        .unwrap();
    assert_eq!(back.as_slice().unwrap(), &[2, 4, 6]);
    // A directory that is not a Zarr node is never replaced, nor a file by a Zarr export.
    assert!(export_npy(&good, d, true, None).is_err());
    assert!(export_zarr(&good, &inputs, &overwrite, None).is_err());
    assert!(bad.exists());
    let names: Vec<String> = entries(&out)
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["x.npy", "x.zarr"]);
    // Bad export arguments.
    let bad_chunks = ExportOptions {
        chunks: Some(vec![1, 1]),
        ..Default::default()
    };
    assert!(export_zarr(&good, &out.join("y.zarr"), &bad_chunks, None).is_err());
    assert!(!out.join("y.zarr").exists());
}

const MEMORY_ENV: &str = "OUTCORE_CONVERT_MEMORY_NPY";
/// The cache budget the memory child runs with; the file is [`MEMORY_FACTOR`] times larger.
const MEMORY_BUDGET: u64 = 4 << 20;
const MEMORY_FACTOR: u64 = 25;
/// What a pass may hold beyond the budget: blocks in flight, the writer's buffers, allocator
/// slack and the test harness (48 MiB in `tests/memory.rs`), and more here for the Fortran
/// pass: a C-order block of a Fortran-order file touches a page per short run, several
/// times its own bytes, until the block is done: peak growth is about 34 MB after the C pass
/// and 50 MB after the Fortran one (235 MB with page release disabled).
const MEMORY_CONSTANT: u64 = 64 << 20;

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
#[ignore = "run by streaming_a_file_larger_than_the_budget_keeps_memory_bounded as a child process"]
fn memory_child() {
    let Ok(path) = std::env::var(MEMORY_ENV) else {
        return;
    };
    let path = PathBuf::from(path);
    let base = status_kib("VmRSS:") * 1024;
    let x = open_npy(&path, None).unwrap();
    let m = x
        .nanmean(outcore::Axes::all())
        .unwrap()
        .to_scalar::<f64>()
        .unwrap();
    assert!((m - 0.5).abs() < 0.01, "mean {m}");
    eprintln!("after C pass {}", status_kib("VmHWM:") * 1024 - base);
    // The same bytes as the Fortran-order transpose, read in C-order blocks.
    let header = std::fs::metadata(&path).unwrap().len() - x.len() * 8;
    let layout = RawLayout {
        data_type: DataType::Float64,
        shape: x.shape().iter().rev().copied().collect(),
        order: Order::F,
        byte_order: ByteOrder::Little,
        offset: header,
    };
    let f = open_raw(&path, layout, None).unwrap();
    let mf = f
        .nanmean(outcore::Axes::all())
        .unwrap()
        .to_scalar::<f64>()
        .unwrap();
    assert!((mf - m).abs() < 1e-9, "{mf} vs {m}");
    eprintln!("after F pass {}", status_kib("VmHWM:") * 1024 - base);
    let dir = tempfile::tempdir_in(path.parent().unwrap()).unwrap();
    let store = Store::create(dir.path().join("s.zarr")).unwrap();
    let spec = ArraySpec::new(DataType::Float64, x.shape()).encoding(ChunkEncoding::zstd(1));
    x.to_store(&store, "x", &spec).unwrap();
    let peak = status_kib("VmHWM:") * 1024;
    println!("MEMORY base={base} peak={peak}");
}

#[test]
fn streaming_a_file_larger_than_the_budget_keeps_memory_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.npy");
    let cols: u64 = 4096;
    let rows = MEMORY_BUDGET * MEMORY_FACTOR / 8 / cols;
    let x = outcore::random::uniform(9, &[rows, cols], 0.0, 1.0).unwrap();
    export_npy(&x, &path, false, None).unwrap();
    let output = Command::new(std::env::current_exe().unwrap())
        .args(["memory_child", "--exact", "--ignored", "--nocapture"])
        .env(MEMORY_ENV, &path)
        .env("OUTCORE_CACHE_BYTES", MEMORY_BUDGET.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("MEMORY "))
        .unwrap_or_else(|| panic!("no MEMORY line in {stdout}"));
    let field = |name: &str| -> u64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name))
            .unwrap()
            .parse()
            .unwrap()
    };
    let (base, peak) = (field("base="), field("peak="));
    let file = std::fs::metadata(&path).unwrap().len();
    eprintln!(
        "file {file} bytes, peak RSS growth {} bytes\n{}",
        peak - base,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        peak - base < MEMORY_BUDGET + MEMORY_CONSTANT,
        "peak RSS grew by {} bytes streaming a {file}-byte file (budget {MEMORY_BUDGET})",
        peak - base
    );
}
