//! Bad inputs to the built `outcore` binary: each is exit status 2 with one stderr line
//! `outcore: error: ...` naming the path at fault, never a panic, and nothing written. Also
//! the `Example` sections of `--help`.

mod common;

use std::path::Path;

use common::{error, error_when_writes_fail, failed, ok, outcore, s};
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
    // A bare array: nothing can be written inside it.
    ok(&["convert", s(&good), s(&existing), "--bare", "-q"]);
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

/// Names in `dir`, sorted.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A 4 MiB float64 `.npy` (512 x 1024) of values that barely compress, at `path`: bigger
/// than the write limits below in any encoding.
fn big_npy(path: &Path) {
    write_npy(
        path,
        &Array2::from_shape_fn((512, 1024), |(i, j)| {
            ((i * 1024 + j) as f64 * 0.618).sin() * 1e6
        }),
    )
    .unwrap();
}

/// Runs every writing subcommand so that its writes fail partway (`fail` runs `outcore` with
/// the arguments in that condition), into the directory `out`: each must be one error line
/// naming the output it was making, without the temporary names it writes under, and leave
/// `out` exactly as it was, with an existing store in it untouched.
fn writes_fail_cleanly(out: &Path, fail: impl Fn(&[&str]) -> String) {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("big.npy");
    big_npy(&input);
    let store = dir.path().join("store.zarr");
    ok(&["convert", s(&input), s(&store), "--codec", "raw", "-q"]);
    let csv = dir.path().join("big.csv");
    let mut text = String::from("a,b,c\n");
    for i in 0..100_000 {
        text.push_str(&format!("{i},{},{}\n", i as f64 * 0.25, i % 7));
    }
    std::fs::write(&csv, text).unwrap();
    // An existing store in `out`, which a failed conversion into it must leave as it was.
    let existing = out.join("existing.zarr");
    let small = dir.path().join("small.npy");
    npy(&small);
    ok(&["convert", s(&small), s(&existing.join("small")), "-q"]);
    let before = listing(out);
    let existing_before = listing(&existing);

    let target = |name: &str| out.join(name).to_str().unwrap().to_owned();
    let cases: Vec<(Vec<String>, String)> = vec![
        (
            vec![
                "convert".into(),
                s(&input).into(),
                target("new.zarr"),
                "--codec".into(),
                "raw".into(),
            ],
            target("new.zarr"),
        ),
        (
            vec![
                "convert".into(),
                s(&csv).into(),
                target("table.zarr"),
                "--codec".into(),
                "raw".into(),
            ],
            target("table.zarr"),
        ),
        (
            vec![
                "convert".into(),
                s(&input).into(),
                target("existing.zarr/big"),
                "--codec".into(),
                "raw".into(),
            ],
            target("existing.zarr/big"),
        ),
        (
            vec!["export".into(), s(&store).into(), target("big.npy")],
            target("big.npy"),
        ),
        (
            vec!["export".into(), s(&store).into(), target("plain.zarr")],
            target("plain.zarr"),
        ),
    ];
    for (args, name) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let message = fail(&args);
        assert!(message.contains(&name), "{args:?}: {message}");
        // A failed write, or an `.npy` export refused for want of free space before it wrote.
        assert!(
            message.contains(" failed: ") || message.contains(" bytes free"),
            "{args:?}: {message}"
        );
        assert!(!message.contains(".outcore-tmp-"), "{args:?}: {message}");
        assert_eq!(listing(out), before, "{args:?} left something behind");
        assert_eq!(listing(&existing), existing_before, "{args:?}");
    }
    // The existing store still reads back whole.
    ok(&["verify", s(&existing)]);
}

/// A write that fails partway (the file-size limit, the same `write` failure a full disk
/// gives): see [`writes_fail_cleanly`].
#[test]
fn failed_writes_leave_nothing() {
    let out = tempfile::tempdir().unwrap();
    writes_fail_cleanly(out.path(), |args| error_when_writes_fail(256, args));
}

/// Unmounts on drop.
struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// A really full disk: a 1 MiB tmpfs. Mounting needs privileges (CI runs as root); without
/// them this says so on stderr and checks nothing, [`failed_writes_leave_nothing`] covering
/// the same paths.
#[test]
fn full_disk_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mount_point = dir.path().join("small-disk");
    std::fs::create_dir(&mount_point).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&mount_point)
        .output()
        .is_ok_and(|o| o.status.success());
    if !mounted {
        eprintln!("full_disk_leaves_nothing: cannot mount a tmpfs here; skipped");
        return;
    }
    let _mount = Mount(mount_point.clone());
    writes_fail_cleanly(&mount_point, |args| {
        let message = failed(outcore(args), &args.join(" "));
        // An `.npy` export knows its size and is refused before writing; the others fail
        // on the write that finds the disk full.
        let refused = args[0] == "export"
            && args.iter().any(|a| a.ends_with(".npy"))
            && message.contains("bytes free");
        assert!(
            refused || message.contains("No space left on device"),
            "{message}"
        );
        message
    });
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
