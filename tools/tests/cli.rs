//! The `outcore` binary end to end: `inspect` text and `--json` (parsed into the library's
//! typed report), exit statuses and one-line errors.

use std::path::Path;
use std::process::{Command, Output};

use outcore::StoreReport;
use outcore::{ArraySpec, ChunkEncoding, DataType, Store};

fn outcore(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_outcore"))
        .args(args)
        .output()
        .unwrap()
}

fn make_store(root: &Path) {
    let store = Store::create(root).unwrap();
    let data = outcore::ndarray::ArrayD::from_shape_fn(vec![40, 30], |ix| {
        ((ix[0] * 30 + ix[1]) % 17) as f32
    });
    for (name, encoding) in [
        ("raw", ChunkEncoding::raw()),
        ("group/zstd", ChunkEncoding::zstd(3)),
    ] {
        let spec = ArraySpec::new(DataType::Float32, &[40, 30])
            .chunks(&[10, 10])
            .shards(&[20, 30])
            .encoding(encoding);
        let w = store.create_array(name, &spec).unwrap();
        w.write_array(data.view()).unwrap();
        w.finish().unwrap();
    }
    let w = store
        .create_array(
            "sparse",
            &ArraySpec::new(DataType::Int8, &[100])
                .chunks(&[10])
                .shards(&[50]),
        )
        .unwrap();
    w.write_chunk(&[3], &[1i8; 10]).unwrap();
    w.finish().unwrap();
}

#[test]
fn inspect_json_describes_every_array() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("s.zarr");
    make_store(&root);
    let out = outcore(&["inspect", root.to_str().unwrap(), "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: StoreReport = serde_json::from_slice(&out.stdout).unwrap();
    let paths: Vec<&str> = report.nodes.iter().map(|n| n.path.as_str()).collect();
    assert_eq!(paths, ["", "group", "group/zstd", "raw", "sparse"]);
    let array = |p: &str| {
        report
            .nodes
            .iter()
            .find(|n| n.path == p)
            .unwrap()
            .array
            .clone()
            .unwrap()
    };
    let raw = array("raw");
    assert_eq!(
        (raw.shape.clone(), raw.data_type.as_str()),
        (vec![40, 30], "float32")
    );
    assert_eq!(raw.chunk_shape, vec![10, 10]);
    assert_eq!(raw.shard_shape, Some(vec![20, 30]));
    assert_eq!(raw.codecs, ["sharding_indexed", "bytes"]);
    assert_eq!(
        (raw.chunks_total, raw.chunks_stored, raw.chunks_missing),
        (12, Some(12), Some(0))
    );
    assert_eq!(raw.zero_copy_share, Some(1.0));
    assert_eq!(raw.logical_bytes, 40 * 30 * 4);
    assert!(raw.fast_path && raw.statistics);
    let zstd = array("group/zstd");
    assert_eq!(zstd.codecs, ["sharding_indexed", "bytes", "zstd"]);
    assert_eq!(zstd.zero_copy_share, Some(0.0));
    assert!(zstd.ratio.unwrap() > 2.0, "{:?}", zstd.ratio);
    let sparse = array("sparse");
    assert_eq!(
        (sparse.chunks_stored, sparse.chunks_missing, sparse.files),
        (Some(1), Some(9), 1)
    );

    let text = outcore(&["inspect", root.to_str().unwrap()]);
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("chunks 12 total, 12 stored, 0 missing"),
        "{text}"
    );
    assert!(text.contains("sharding_indexed > bytes > zstd"), "{text}");
    assert!(outcore(&["inspect", root.to_str().unwrap(), "--quiet"])
        .stdout
        .is_empty());
}

#[test]
fn errors_are_one_line_with_exit_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.zarr");
    let out = outcore(&["inspect", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("outcore: error: ") && stderr.contains("nope.zarr"),
        "{stderr}"
    );

    std::fs::create_dir(dir.path().join("plain")).unwrap();
    let out = outcore(&["inspect", dir.path().join("plain").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no zarr.json"));
}

#[test]
fn a_broken_array_is_a_problem_found_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("s.zarr");
    make_store(&root);
    std::fs::write(
        root.join("raw/zarr.json"),
        "{\"zarr_format\": 3, \"node_type\": \"array\", \"shape\": [-1]}",
    )
    .unwrap();
    let out = outcore(&["inspect", root.to_str().unwrap(), "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report: StoreReport = serde_json::from_slice(&out.stdout).unwrap();
    let raw = report.nodes.iter().find(|n| n.path == "raw").unwrap();
    assert!(
        raw.error.as_ref().unwrap().contains("raw/zarr.json"),
        "{:?}",
        raw.error
    );
    assert!(report
        .nodes
        .iter()
        .find(|n| n.path == "sparse")
        .unwrap()
        .array
        .is_some());
}

#[test]
fn help_shows_examples() {
    let out = outcore(&["inspect", "--help"]);
    assert!(String::from_utf8(out.stdout).unwrap().contains("Example:"));
}
