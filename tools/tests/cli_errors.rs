//! Bad inputs to the built `outcore` binary: each is exit status 2 with one stderr line
//! `outcore: error: ...` naming the path at fault, never a panic, and nothing written. Also
//! the `Example` sections of `--help`.

mod common;

use std::path::Path;

use common::{error, ok, outcore, s};
use ndarray_npy::write_npy;
use outcore::ndarray::Array2;

/// A (12, 5) float32 `.npy` at `path`.
fn npy(path: &Path) {
    write_npy(
        path,
        &Array2::from_shape_fn((12, 5), |(i, j)| (i * 5 + j) as f32),
    )
    .unwrap();
}

/// Asserts `outcore args` fails (status 2, one line) naming `name`; returns the message.
fn fails_naming(args: &[&str], name: &str) -> String {
    let message = error(args);
    assert!(message.contains(name), "{args:?}: {message}");
    message
}

#[test]
fn bad_convert_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.npy");
    npy(&good);
    let out = dir.path().join("out.zarr");
    let o = s(&out);

    let missing = dir.path().join("missing.npy");
    fails_naming(&["convert", s(&missing), o], "missing.npy");
    fails_naming(
        &["convert", s(&dir.path().join("nothing-*.npy")), o],
        "nothing-*.npy",
    );

    let unknown = dir.path().join("data.dat");
    std::fs::copy(&good, &unknown).unwrap();
    let message = fails_naming(&["convert", s(&unknown), o], "data.dat");
    assert!(message.contains("--format"), "{message}");

    let truncated = dir.path().join("truncated.npy");
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() - 37]).unwrap();
    fails_naming(&["convert", s(&truncated), o], "truncated.npy");
    // Cut inside the header.
    std::fs::write(&truncated, &bytes[..40]).unwrap();
    fails_naming(&["convert", s(&truncated), o], "truncated.npy");

    let raw = dir.path().join("short.bin");
    std::fs::write(&raw, [0u8; 100]).unwrap();
    let message = fails_naming(
        &[
            "convert",
            s(&raw),
            o,
            "--dtype",
            "float32",
            "--shape",
            "30,40",
        ],
        "short.bin",
    );
    assert!(message.contains("4800"), "{message}");
    // Raw binary without --shape.
    fails_naming(
        &["convert", s(&raw), o, "--format", "raw", "--dtype", "uint8"],
        "short.bin",
    );

    let existing = dir.path().join("existing.zarr");
    ok(&["convert", s(&good), s(&existing), "-q"]);
    let message = fails_naming(&["convert", s(&good), s(&existing)], "existing.zarr");
    assert!(message.contains("--overwrite"), "{message}");
    // A file that is not a store is never replaced, even with --overwrite.
    let file = dir.path().join("file.zarr");
    std::fs::write(&file, b"not a store").unwrap();
    fails_naming(&["convert", s(&good), s(&file), "--overwrite"], "file.zarr");
    assert_eq!(std::fs::read(&file).unwrap(), b"not a store");

    let inner = existing.join("inner");
    fails_naming(&["convert", s(&good), s(&inner)], "existing.zarr");
    assert!(!inner.exists());

    // A directory that is not a store, as input.
    let plain = dir.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    fails_naming(&["convert", s(&plain), o], "plain");

    // Mixed formats.
    let csv = dir.path().join("t.csv");
    std::fs::write(&csv, "1,2\n3,4\n").unwrap();
    fails_naming(&["convert", s(&good), s(&csv), o, "--concat"], "t.csv");

    assert!(!out.exists());
}

#[test]
fn chunks_of_the_wrong_rank() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.npy");
    npy(&good);
    let out = dir.path().join("out.zarr");
    let message = error(&["convert", s(&good), s(&out), "--chunks", "10"]);
    assert!(message.contains("[10]"), "{message}");
    assert!(!out.exists());
}

#[test]
fn chunks_of_the_wrong_rank_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.npy");
    npy(&good);
    let out = dir.path().join("out.zarr");
    fails_naming(
        &["convert", s(&good), s(&out), "--chunks", "10"],
        "good.npy",
    );
}

#[test]
fn unknown_codec_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.npy");
    npy(&good);
    let out = dir.path().join("out.zarr");
    let result = outcore(["convert", s(&good), s(&out), "--codec", "lz4"]);
    assert_eq!(result.status.code(), Some(2));
    let stderr = String::from_utf8(result.stderr).unwrap();
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        stderr.contains("lz4") && stderr.contains("zstd"),
        "{stderr}"
    );
    assert!(!out.exists());
}

#[test]
fn unknown_codec_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.npy");
    npy(&good);
    error(&[
        "convert",
        s(&good),
        s(&dir.path().join("out.zarr")),
        "--codec",
        "lz4",
    ]);
}

#[test]
fn bad_paths_for_stats_export_verify() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.npy");
    npy(&good);
    let group = dir.path().join("group.zarr");
    let store = outcore::Store::create(&group).unwrap();
    for name in ["a", "b"] {
        let spec = outcore::ArraySpec::new(outcore::DataType::Int8, &[4]);
        store.create_array(name, &spec).unwrap().finish().unwrap();
    }
    let message = fails_naming(&["stats", s(&group)], "group.zarr");
    assert!(message.contains("group.zarr/a"), "{message}");
    let npy_out = dir.path().join("x.npy");
    fails_naming(&["export", s(&group), s(&npy_out)], "group.zarr");
    assert!(!npy_out.exists());

    let missing = dir.path().join("missing.zarr");
    for command in ["stats", "verify", "inspect"] {
        fails_naming(&[command, s(&missing)], "missing.zarr");
    }
    fails_naming(&["export", s(&missing), s(&npy_out)], "missing.zarr");
    // A .npy file is not a store.
    fails_naming(&["stats", s(&good)], "good.npy");
}

#[test]
fn help_shows_examples() {
    let commands: [&[&str]; 6] = [
        &["--help"],
        &["convert", "--help"],
        &["stats", "--help"],
        &["export", "--help"],
        &["verify", "--help"],
        &["inspect", "--help"],
    ];
    for args in commands {
        let text = ok(args);
        assert!(text.contains("Example"), "{args:?}: {text}");
        assert!(text.contains("  outcore "), "{args:?}: {text}");
    }
}
