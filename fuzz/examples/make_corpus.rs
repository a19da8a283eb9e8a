//! Writes the seed corpora in `fuzz/corpus/<target>/` (run from `fuzz/`:
//! `cargo +nightly run --example make_corpus`): `zarr.json`, shard files and sidecars of
//! small arrays outcore writes (every type, raw and zstd, edge chunks, 0-d and empty
//! arrays), the same of the golden stores other tools wrote (`tests/golden/`), `.npy` files
//! of every type in both orders and byte orders and every header version, and CSV samples
//! like the ones `tests/convert_csv.rs` imports. Each seed is prefixed by the bytes its
//! target reads first (see each target's doc comment).

use std::fs;
use std::path::{Path, PathBuf};

use outcore::test_support::{parse_array_metadata, IndexLocation};
use outcore::{ArraySpec, ChunkEncoding, DataType, FillValue, LazyArray, Store};

/// Shard files larger than this are not seeds (raw chunks sit 4 KiB apart).
const MAX_SEED_BYTES: usize = 12 << 10;

fn main() -> outcore::Result<()> {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR"));
    let corpus = fuzz.join("corpus");
    for target in [
        "zarr_json",
        "shard_index",
        "stats_sidecar",
        "npy_header",
        "csv",
    ] {
        fs::create_dir_all(corpus.join(target)).expect("corpus directory");
    }
    let dir = tempfile::tempdir().expect("temporary directory");
    let store = Store::create(dir.path().join("seeds.zarr"))?;
    write_arrays(&store)?;
    arrays_to_seeds(dir.path().join("seeds.zarr").as_path(), &corpus, "outcore")?;
    let golden = fuzz.join("../tests/golden");
    for entry in fs::read_dir(&golden).expect("tests/golden") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "zarr") {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            arrays_to_seeds(&path, &corpus, &name)?;
        }
    }
    npy_seeds(&corpus.join("npy_header"), &golden.join("expected"));
    csv_seeds(&corpus.join("csv"));
    Ok(())
}

/// Small arrays of every type, raw and zstd, with edge chunks, several chunks per shard,
/// 0-d and empty shapes, attributes and dimension names.
fn write_arrays(store: &Store) -> outcore::Result<()> {
    let cases: [(&str, DataType, &[u64], &[u64], &[u64], ChunkEncoding); 11] = [
        (
            "bool",
            DataType::Bool,
            &[5, 7],
            &[2, 3],
            &[4, 6],
            ChunkEncoding::zstd(3),
        ),
        (
            "i8",
            DataType::Int8,
            &[9],
            &[4],
            &[8],
            ChunkEncoding::zstd(1),
        ),
        (
            "i16",
            DataType::Int16,
            &[3, 4, 5],
            &[2, 2, 2],
            &[2, 4, 4],
            ChunkEncoding::zstd(1),
        ),
        (
            "i32",
            DataType::Int32,
            &[10],
            &[4],
            &[8],
            ChunkEncoding::raw(),
        ),
        (
            "i64",
            DataType::Int64,
            &[6, 2],
            &[3, 2],
            &[6, 2],
            ChunkEncoding::zstd(3),
        ),
        ("u8", DataType::UInt8, &[], &[], &[], ChunkEncoding::zstd(1)),
        (
            "u16",
            DataType::UInt16,
            &[0, 4],
            &[1, 2],
            &[2, 4],
            ChunkEncoding::zstd(1),
        ),
        (
            "u32",
            DataType::UInt32,
            &[17],
            &[5],
            &[10],
            ChunkEncoding::zstd(1),
        ),
        (
            "u64",
            DataType::UInt64,
            &[4, 4],
            &[2, 2],
            &[4, 4],
            ChunkEncoding::zstd(1),
        ),
        (
            "f32",
            DataType::Float32,
            &[8, 3],
            &[4, 3],
            &[8, 3],
            ChunkEncoding::zstd(1),
        ),
        (
            "f64",
            DataType::Float64,
            &[100, 60],
            &[16, 16],
            &[64, 64],
            ChunkEncoding::zstd(3),
        ),
    ];
    for (name, data_type, shape, chunks, shards, encoding) in cases {
        let n: u64 = shape.iter().product();
        let values = if data_type == DataType::Float64 {
            // NaNs among the values, so the sidecar records NaN counts.
            let x = outcore::random::normal(7, shape, 0.0, 1.0)?;
            LazyArray::where_(&x.greater(1.5)?, f64::NAN, &x)?
        } else {
            let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
            LazyArray::arange(0i64, n as i64, 1)?
                .reshape(&dims)?
                .astype(data_type)
        };
        let mut spec = ArraySpec::new(data_type, shape)
            .chunks(chunks)
            .shards(shards)
            .encoding(encoding);
        if name == "f64" {
            let mut attrs = serde_json::Map::new();
            attrs.insert("units".into(), "K".into());
            spec = spec
                .fill_value(FillValue::of(f64::NAN))
                .attributes(attrs)
                .dimension_names(&["lat", "lon"]);
        }
        values.to_store(store, name, &spec)?;
    }
    Ok(())
}

/// Seeds from every array under `root`: its `zarr.json`, its first shard (when sharded with
/// the standard index) and its sidecar.
fn arrays_to_seeds(root: &Path, corpus: &Path, prefix: &str) -> outcore::Result<()> {
    for meta_path in find(root, "zarr.json") {
        let bytes = fs::read(&meta_path).expect("zarr.json");
        let dir = meta_path.parent().unwrap();
        let rel = dir
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('/', "_");
        let name = if rel.is_empty() {
            prefix.to_string()
        } else {
            format!("{prefix}_{rel}")
        };
        fs::write(
            corpus.join("zarr_json").join(format!("{name}.json")),
            &bytes,
        )
        .unwrap();
        let Ok((meta, _)) = parse_array_metadata(&bytes, &meta_path) else {
            continue;
        };
        if let Some(location) = meta.index_location {
            let slots = meta.grid.chunks_per_shard_total();
            let first = dir.join(meta.key_encoding.key(&vec![0; meta.grid.ndim()]));
            if let (Ok(shard), Ok(slots)) = (fs::read(&first), u16::try_from(slots)) {
                if shard.len() <= MAX_SEED_BYTES {
                    let flags = u8::from(location == IndexLocation::Start);
                    let mut seed = vec![flags];
                    seed.extend(slots.to_le_bytes());
                    seed.extend(&shard);
                    fs::write(corpus.join("shard_index").join(&name), seed).unwrap();
                }
            }
        }
        if let Ok(sidecar) = fs::read(dir.join("outcore.stats")) {
            // Flags 0: the grid is the sidecar's own, the checksum recomputed.
            let mut seed = vec![0u8];
            seed.extend(&sidecar);
            fs::write(corpus.join("stats_sidecar").join(&name), seed).unwrap();
        }
    }
    Ok(())
}

fn find(root: &Path, file: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).expect("directory") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                if !path.ends_with("c") {
                    stack.push(path);
                }
            } else if path.file_name().is_some_and(|n| n == file) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// An `.npy` file: magic, version, header length (2 bytes for 1.0, 4 for 2.0 and 3.0), the
/// header dict padded with spaces to a multiple of 64, then `data`.
fn npy(version: u8, descr: &str, fortran: bool, shape: &[u64], data: &[u8]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(u64::to_string).collect();
    let shape = match dims.len() {
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let order = if fortran { "True" } else { "False" };
    let mut dict = format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}");
    let prefix = if version == 1 { 10 } else { 12 };
    while (prefix + dict.len() + 1) % 64 != 0 {
        dict.push(' ');
    }
    dict.push('\n');
    let mut out = b"\x93NUMPY".to_vec();
    out.extend([version, 0]);
    if version == 1 {
        out.extend((dict.len() as u16).to_le_bytes());
    } else {
        out.extend((dict.len() as u32).to_le_bytes());
    }
    out.extend(dict.as_bytes());
    out.extend(data);
    out
}

fn npy_seeds(dir: &Path, golden_expected: &Path) {
    let types = [
        ("b1", 1),
        ("i1", 1),
        ("u1", 1),
        ("i2", 2),
        ("u2", 2),
        ("i4", 4),
        ("u4", 4),
        ("i8", 8),
        ("u8", 8),
        ("f4", 4),
        ("f8", 8),
    ];
    let shapes: [&[u64]; 4] = [&[2, 3], &[5], &[], &[0, 4]];
    for (i, (code, size)) in types.iter().enumerate() {
        let shape = shapes[i % shapes.len()];
        let n: u64 = shape.iter().product();
        let data: Vec<u8> = (0..n as usize * size).map(|b| (b % 2) as u8).collect();
        let endians: &[&str] = if *size == 1 { &["|"] } else { &["<", ">"] };
        for (j, endian) in endians.iter().enumerate() {
            let fortran = (i + j) % 2 == 1;
            let version = [1, 2, 3][(i + j) % 3];
            let bytes = npy(version, &format!("{endian}{code}"), fortran, shape, &data);
            let order = if fortran { "f" } else { "c" };
            let name = format!(
                "{code}_{}_{order}_v{version}.npy",
                if *endian == ">" { "be" } else { "le" }
            );
            fs::write(dir.join(name), bytes).unwrap();
        }
    }
    // Types outcore refuses, and a 3-d Fortran array.
    fs::write(dir.join("c8.npy"), npy(1, "<c8", false, &[1], &[0; 8])).unwrap();
    fs::write(dir.join("U3.npy"), npy(1, "<U3", false, &[1], &[0; 12])).unwrap();
    fs::write(
        dir.join("f8_3d_f.npy"),
        npy(1, "<f8", true, &[2, 1, 2], &[0; 32]),
    )
    .unwrap();
    // Files numpy wrote.
    for entry in fs::read_dir(golden_expected).expect("tests/golden/expected") {
        let path = entry.expect("entry").path();
        let bytes = fs::read(&path).unwrap();
        if bytes.len() <= 2048 {
            fs::write(
                dir.join(format!(
                    "numpy_{}",
                    path.file_name().unwrap().to_string_lossy()
                )),
                bytes,
            )
            .unwrap();
        }
    }
}

fn csv_seeds(dir: &Path) {
    // (options byte, mode byte, text): options 0 sniff everything; see the target's docs.
    let samples: [(&str, u8, u8, &str); 10] = [
        (
            "htru2",
            0,
            0,
            "140.5625,55.68378214,-0.234571412,-0.699648398,3.199832776,19.11042633,7.975531794,74.24222492,0\n\
             102.5078125,58.88243001,0.465318154,-0.515087909,1.677257525,14.86014572,10.57648674,127.3935796,0\n\
             103.015625,39.34164944,0.323328365,1.051164429,3.121237458,21.74466875,7.735822015,63.17190911,0\n",
        ),
        (
            "taxi",
            0,
            0,
            "VendorID,tpep_pickup_datetime,tpep_dropoff_datetime,passenger_count,trip_distance,payment_type,fare_amount,store_and_fwd_flag\n\
             1,2019-01-01 00:46:40,2019-01-01 00:53:20,1,1.5,1,7.0,N\n\
             2,2019-01-01T00:59:47Z,2019-01-01 01:18:59,,2.6,2,14.0,Y\n\
             1,2019-01-01 00:21:28.125,2019-01-01 00:28:37+01:00,1,NA,1,4.5,\n",
        ),
        ("semicolon", 0, 0, "a;b;c\n1;2,5;x\n3;4,0;y\n5;nan;x\n"),
        ("tab_quoted", 0, 0, "name\tvalue\n\"a\tb\"\t1\n\"c\"\"d\"\t2\n\"multi\nline\"\t3\n"),
        ("bom_pipe", 0, 0, "\u{feff}x|y\n1|2\n3|4\n"),
        ("bad_row", 0x40, 0, "a,b\n1,2\n3\n4,5,6\n7,8\nx,9\n"),
        ("matrix", 0x20, 0, "1,2,3\n4,5,6\n7,8,9e3\n-inf,0x10,.5\n"),
        ("categories", 0x80, 0, "k,v\nred,1\ngreen,2\nblue,3\nred,4\ncyan,5\nteal,6\n"),
        ("concat", 0, 1, "a,b\n1,2\n3,4\n\0a,b\n5,6\n"),
        ("stack", 0x08, 2, "t,v\n2024-01-31,1\n2024-02-29T12:00,2\n\0t,v\n1970-01-01,3\n0001-01-01 00:00:00.000000001,4\n"),
    ];
    for (name, options, mode, text) in samples {
        let mut seed = vec![options, mode];
        seed.extend(text.as_bytes());
        fs::write(dir.join(name), seed).unwrap();
    }
}
