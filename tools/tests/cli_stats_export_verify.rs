//! `outcore export` and `outcore verify` end to end, through the built binary: plain Zarr
//! exports (no sharding, read back by outcore), refusing to overwrite, and `verify` of a
//! sound store (exit 0) and of one with a byte flipped inside a chunk (exit 1, the shard
//! named). `stats` is checked against a reference in `cli_convert.rs`; here on integers.

mod common;

use std::path::{Path, PathBuf};

use common::{
    error, files_under, json, metadata, ok, outcore, s, ExportOutput, Reference, StatsOutput,
    VerifyOutput,
};
use ndarray_npy::write_npy;
use outcore::ndarray::{Array2, ArrayD};

/// A (50, 40) float64 `.npy` converted with 10×10 chunks in 20×40 shards, zstd or raw, as a
/// bare array (the store is the array, so its files are at known paths).
fn store(dir: &Path, name: &str, codec: &str) -> (PathBuf, Array2<f64>) {
    let values = Array2::from_shape_fn((50, 40), |(i, j)| common::value(2, i, j, false));
    let npy = dir.join(format!("{name}.npy"));
    write_npy(&npy, &values).unwrap();
    let store = dir.join(format!("{name}.zarr"));
    ok(&[
        "convert",
        s(&npy),
        s(&store),
        "--chunks",
        "10,10",
        "--shard",
        "20,40",
        "--codec",
        codec,
        "--bare",
        "-q",
    ]);
    (store, values)
}

#[test]
fn export_to_plain_zarr_and_no_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let (store, values) = store(dir.path(), "in", "zstd:3");
    let plain = dir.path().join("plain.zarr");
    let report: ExportOutput = json(&[
        "export",
        s(&store),
        s(&plain),
        "--chunks",
        "16,16",
        "--codec",
        "raw",
    ]);
    assert_eq!(
        (
            report.path.as_str(),
            report.output.as_str(),
            report.format.as_str()
        ),
        (s(&store), s(&plain), "zarr")
    );
    assert_eq!(
        (&report.shape[..], report.data_type.as_str(), report.bytes),
        (&[50, 40][..], "float64", 50 * 40 * 8)
    );
    let meta = metadata(&plain);
    let text = meta.to_string();
    assert!(!text.contains("sharding_indexed"), "{text}");
    assert_eq!(
        meta["chunk_grid"]["configuration"]["chunk_shape"],
        serde_json::json!([16, 16])
    );
    let back = outcore::Store::open(&plain)
        .unwrap()
        .open_array("")
        .unwrap()
        .read_all::<f64>()
        .unwrap();
    assert_eq!(back, values.clone().into_dyn());

    // Existing outputs are refused without --overwrite, for both formats.
    let message = error(&["export", s(&store), s(&plain)]);
    assert!(message.contains("plain.zarr"), "{message}");
    let npy = dir.path().join("out.npy");
    std::fs::write(&npy, b"keep me").unwrap();
    let message = error(&["export", s(&store), s(&npy)]);
    assert!(message.contains("out.npy"), "{message}");
    assert_eq!(std::fs::read(&npy).unwrap(), b"keep me");
    ok(&["export", s(&store), s(&npy), "--overwrite", "-q"]);
    let back: ArrayD<f64> = ndarray_npy::read_npy(&npy).unwrap();
    assert_eq!(back, values.into_dyn());
    ok(&["export", s(&store), s(&plain), "--overwrite", "-q"]);

    // Neither .npy nor .zarr.
    let message = error(&["export", s(&store), s(&dir.path().join("out.csv"))]);
    assert!(message.contains("out.csv"), "{message}");
}

#[test]
fn stats_of_integers_are_exact() {
    let dir = tempfile::tempdir().unwrap();
    let values = Array2::from_shape_fn((30, 20), |(i, j)| (i as i64 - 15) * 1_000_003 + j as i64);
    let npy = dir.path().join("ints.npy");
    write_npy(&npy, &values).unwrap();
    let store = dir.path().join("ints.zarr");
    ok(&["convert", s(&npy), s(&store), "--chunks", "7,6", "-q"]);
    for extra in [None, Some("--scan")] {
        let mut args = vec!["stats", s(&store), "--json"];
        args.extend(extra);
        let out = outcore(&args);
        assert_eq!(out.status.code(), Some(0));
        // Integer min, max and sum are JSON integers.
        let raw: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        for field in ["min", "max", "sum"] {
            assert!(raw["stats"][0][field].is_i64(), "{field}: {raw}");
        }
        let stats: StatsOutput = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(stats.data_type, "int64");
        assert_eq!(
            stats.source,
            if extra.is_some() { "scan" } else { "sidecar" }
        );
        Reference::of(values.iter().map(|&v| v as f64)).check(&stats.stats[0], 1e-12, "ints");
        assert_eq!(raw["stats"][0]["sum"], values.sum());
    }
    // Axis 1 (columns), each against its reference.
    let per_column: StatsOutput = json(&["stats", s(&store), "--axis", "1"]);
    assert_eq!(per_column.stats.len(), 20);
    for (j, entry) in per_column.stats.iter().enumerate() {
        Reference::of(values.column(j).iter().map(|&v| v as f64)).check(
            entry,
            1e-12,
            &format!("column {j}"),
        );
    }
    // An axis that does not exist.
    let message = error(&["stats", s(&store), "--axis", "2"]);
    assert!(message.contains('2'), "{message}");
}

/// The (offset, length) of the first stored chunk of the shard file `shard`, from its
/// index at the end: (u64 offset, u64 length) per chunk, then a CRC32C.
fn first_chunk(shard: &Path) -> (usize, usize) {
    let bytes = std::fs::read(shard).unwrap();
    let chunks = 2 * 4; // 20×40 shards of 10×10 chunks
    let index = &bytes[bytes.len() - 4 - 16 * chunks..bytes.len() - 4];
    let entries: Vec<(u64, u64)> = index
        .chunks(16)
        .map(|e| {
            (
                u64::from_le_bytes(e[..8].try_into().unwrap()),
                u64::from_le_bytes(e[8..].try_into().unwrap()),
            )
        })
        .collect();
    let (offset, length) = entries
        .iter()
        .copied()
        .find(|&(o, _)| o != u64::MAX)
        .unwrap();
    (offset as usize, length as usize)
}

/// Flips the byte at `at(offset, length of the first chunk, file length)` of the second
/// shard file of `store`; returns that shard's path relative to the store.
fn flip(store: &Path, at: impl Fn(usize, usize, usize) -> usize) -> PathBuf {
    let meta = metadata(store);
    assert_eq!(
        meta["codecs"][0]["configuration"]["index_location"],
        serde_json::json!("end")
    );
    let shards: Vec<PathBuf> = files_under(&store.join("c"));
    assert_eq!(shards.len(), 3);
    let shard = &shards[1];
    let (offset, length) = first_chunk(shard);
    let mut bytes = std::fs::read(shard).unwrap();
    let position = at(offset, length, bytes.len());
    bytes[position] ^= 0xff;
    std::fs::write(shard, &bytes).unwrap();
    shard.strip_prefix(store).unwrap().to_path_buf()
}

/// `verify` of a damaged store: exit 1, the JSON lists problems; returns the text output.
fn verify_damaged(store: &Path) -> (VerifyOutput, String) {
    let out = outcore(["verify", s(store), "--json"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty());
    let report: VerifyOutput = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!report.ok);
    assert!(!report.arrays[0].problems.is_empty(), "{report:?}");
    let out = outcore(["verify", s(store)]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("problem"), "{text}");
    // --quiet still lists the problems.
    let quiet = outcore(["verify", s(store), "-q"]);
    assert_eq!(quiet.status.code(), Some(1));
    assert_eq!(String::from_utf8(quiet.stdout).unwrap(), text);
    (report, text)
}

#[test]
fn verify_a_sound_store() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store(dir.path(), "good", "zstd:1");
    let report: VerifyOutput = json(&["verify", s(&store)]);
    assert!(report.ok);
    assert_eq!(report.path, s(&store));
    let [array] = &report.arrays[..] else {
        panic!("{report:?}")
    };
    assert_eq!(
        (
            array.name.as_str(),
            array.chunks_checked,
            array.problems.len()
        ),
        ("", 20, 0)
    );
    assert!(ok(&["verify", s(&store)]).contains("ok (20 chunks checked)"));
    assert!(ok(&["verify", s(&store), "-q"]).is_empty());
}

#[test]
fn verify_finds_a_flipped_byte_in_a_shard_index() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store(dir.path(), "index", "zstd:1");
    // Inside the first index entry (the index is the last 8 * 16 + 4 bytes).
    let shard = flip(&store, |_, _, len| len - 4 - 8 * 16 + 3);
    let (_, text) = verify_damaged(&store);
    assert!(text.contains(s(&shard)), "{text}");
}

#[test]
fn verify_finds_a_flipped_byte_in_a_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store(dir.path(), "chunk", "zstd:1");
    flip(&store, |offset, length, _| offset + length / 2);
    let (report, text) = verify_damaged(&store);
    // The first chunk of shard c/1/0 is chunk [2, 0].
    let problem = &report.arrays[0].problems[0];
    assert!(problem.contains("[2, 0]"), "{problem}");
    assert!(text.contains("[2, 0]"), "{text}");
}

#[test]
fn verify_names_the_shard_of_a_damaged_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store(dir.path(), "chunk", "zstd:1");
    let shard = flip(&store, |offset, length, _| offset + length / 2);
    let (_, text) = verify_damaged(&store);
    assert!(text.contains(s(&shard)), "{text}");
}

#[test]
fn verify_finds_a_changed_value_in_a_raw_chunk_through_the_statistics() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store(dir.path(), "raw", "raw");
    assert!(json::<VerifyOutput, _>(&["verify", s(&store)]).ok);
    let shard = files_under(&store.join("c")).remove(0);
    let (offset, length) = first_chunk(&shard);
    assert_eq!(length, 10 * 10 * 8);
    let mut bytes = std::fs::read(&shard).unwrap();
    // The exponent byte of the middle element: the value changes by orders of magnitude.
    bytes[offset + length / 2 + 7] ^= 0x10;
    std::fs::write(&shard, &bytes).unwrap();
    let out = outcore(["verify", s(&store), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: VerifyOutput = serde_json::from_slice(&out.stdout).unwrap();
    assert!(!report.ok && !report.arrays[0].problems.is_empty());
}
