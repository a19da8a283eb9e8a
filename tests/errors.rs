//! Every `ErrorKind` comes from a real failure, and callers tell them apart by kind, never by
//! message. Also: operators defer their build errors to the next fallible step.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use outcore::ndarray::{s, ArrayD};
use outcore::{ArraySpec, Axes, DataType, ErrorKind, LazyArray, Store};

fn kind<T: std::fmt::Debug>(r: outcore::Result<T>) -> ErrorKind {
    r.expect_err("should fail").kind()
}

/// 0, 1, 2, ... in C order.
fn iota(shape: &[u64]) -> LazyArray {
    let n = shape.iter().product::<u64>() as usize;
    let dims: Vec<usize> = shape.iter().map(|&d| d as usize).collect();
    let values = ArrayD::from_shape_vec(dims, (0..n).map(|v| v as f64).collect()).unwrap();
    LazyArray::from_array(values, shape).unwrap()
}

/// A store with one small float64 array "a" (4 x 6).
fn small_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("s.zarr")).unwrap();
    let spec = ArraySpec::new(DataType::Float64, &[4, 6]).chunks(&[2, 3]);
    iota(&[4, 6]).to_store(&store, "a", &spec).unwrap();
    (dir, store)
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn invalid_argument() {
    let x = iota(&[4, 6]);
    assert_eq!(kind(x.reshape(&[-1, -1])), ErrorKind::InvalidArgument);
    assert_eq!(
        kind(LazyArray::arange(0i64, 10, 0)),
        ErrorKind::InvalidArgument
    );
}

#[test]
fn type_mismatch() {
    let x = iota(&[4, 6]);
    assert_eq!(kind(x.to_ndarray::<i32>()), ErrorKind::TypeMismatch);
    let b = x.greater(2.0).unwrap();
    assert_eq!(
        kind(b.unary(outcore::UnaryOp::Neg)),
        ErrorKind::TypeMismatch
    );
}

#[test]
fn shape_mismatch_now_and_deferred() {
    let x = iota(&[4, 6]);
    let y = iota(&[5]);
    // The fallible form says so at once.
    let now = LazyArray::binary(outcore::BinaryOp::Add, &x, &y);
    assert_eq!(kind(now), ErrorKind::ShapeMismatch);
    // An operator cannot: its array carries the error to the next fallible step ...
    let sum = &x + &y;
    assert_eq!(kind(sum.clone().checked()), ErrorKind::ShapeMismatch);
    assert_eq!(kind(sum.mean(Axes::all())), ErrorKind::ShapeMismatch);
    assert_eq!(kind(sum.to_ndarray::<f64>()), ErrorKind::ShapeMismatch);
    // ... through further operators and infallible builders, first error first.
    let later = (&sum * 2.0 - 1.0).astype(DataType::Float32);
    let err = later.sum(Axes::all()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ShapeMismatch);
    assert!(err.to_string().contains("[4, 6]"), "{err}");
    // A well-built chain is unaffected.
    let fine: f64 = ((&x - 1.0) * 2.0)
        .sum(Axes::all())
        .unwrap()
        .to_scalar()
        .unwrap();
    let want: f64 = x
        .to_ndarray::<f64>()
        .unwrap()
        .iter()
        .map(|v| (v - 1.0) * 2.0)
        .sum();
    assert_eq!(fine, want);
}

#[test]
fn out_of_bounds() {
    let x = iota(&[4, 6]);
    assert_eq!(kind(x.mean(5)), ErrorKind::OutOfBounds);
    assert_eq!(kind(x.slice(s![7, ..])), ErrorKind::OutOfBounds);
    let (_d, store) = small_store();
    let a = store.open_array("a").unwrap();
    assert_eq!(kind(a.read_chunk(&[9, 9])), ErrorKind::OutOfBounds);
}

#[test]
fn too_large() {
    let huge = outcore::random::uniform(1, &[1 << 40, 1 << 20], 0.0, 1.0).unwrap();
    assert_eq!(kind(huge.to_ndarray::<f64>()), ErrorKind::TooLarge);
}

#[test]
fn unsupported() {
    let x = iota(&[2, 3, 4]);
    assert_eq!(kind(x.argmax(Axes::of(&[0, 1]))), ErrorKind::Unsupported);
}

#[test]
fn not_found_and_already_exists() {
    let (_d, store) = small_store();
    assert_eq!(kind(store.open_array("missing")), ErrorKind::NotFound);
    let spec = ArraySpec::new(DataType::Float64, &[4, 6]);
    assert_eq!(
        kind(store.create_array("a", &spec)),
        ErrorKind::AlreadyExists
    );
}

#[test]
fn malformed_input() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.npy");
    std::fs::write(&path, b"\x93NUMPY\x01\x00garbage that is no header").unwrap();
    assert_eq!(
        kind(outcore::convert::binary::open_npy(&path, None)),
        ErrorKind::MalformedInput
    );
}

#[test]
fn corrupt() {
    let (_d, store) = small_store();
    let shard = files_under(&store.root().join("a/c"))
        .into_iter()
        .next()
        .expect("a shard file");
    std::fs::write(&shard, b"xyz").unwrap();
    let a = store.open_array("a").unwrap();
    assert_eq!(
        kind(a.read_region::<f64>(&[0..4, 0..6])),
        ErrorKind::Corrupt
    );
}

#[test]
fn io() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"not a directory").unwrap();
    assert_eq!(kind(Store::create(file.join("store.zarr"))), ErrorKind::Io);
}

#[test]
fn cancelled_and_nothing_left_behind() {
    let (_d, store) = small_store();
    let x = outcore::random::uniform(3, &[64, 1000], 0.0, 1.0)
        .unwrap()
        .rechunk(&[1, 1000])
        .unwrap();
    let cancel = AtomicBool::new(false);
    // The flag (`cancel_with`), set by the observer; an observer's own stop is `tests/cancel.rs`.
    let stop_after_first = |_: &outcore::Progress| {
        cancel.store(true, Ordering::Relaxed);
        std::ops::ControlFlow::Continue(())
    };
    let err = x
        .mean(Axes::all())
        .unwrap()
        .compute()
        .progress(&stop_after_first)
        .cancel_with(&cancel)
        .to_scalar::<f64>()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);

    cancel.store(false, Ordering::Relaxed);
    let spec = ArraySpec::new(DataType::Float64, &[64, 1000]).chunks(&[1, 1000]);
    let err = x
        .compute()
        .progress(&stop_after_first)
        .cancel_with(&cancel)
        .to_store(&store, "y", &spec)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    assert_eq!(store.arrays().unwrap(), vec!["a".to_string()]);
    let names: Vec<_> = std::fs::read_dir(store.root())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "zarr.json" && n != "a")
        .collect();
    assert!(names.is_empty(), "left behind: {names:?}");
}

/// An `.npy` export larger than the destination's free space is refused before anything is
/// written, naming the bytes needed and the bytes free (`df`'s figure, give or take what
/// other processes wrote meanwhile).
#[test]
fn export_larger_than_the_free_space_is_refused_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("huge.npy");
    // 2^41 float64 values: 16 TiB, more than any test machine has free.
    let huge = LazyArray::zeros(&[1 << 41], DataType::Float64);
    let err = outcore::convert::export::export_npy(&huge, &out, false, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge, "{err}");
    let message = err.to_string();
    let numbers: Vec<u64> = message
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    let header = 128;
    assert!(
        numbers.contains(&((8u64 << 41) + header)),
        "names the bytes needed: {message}"
    );
    let df = std::process::Command::new("df")
        .args(["-B1", "--output=avail"])
        .arg(dir.path())
        .output()
        .unwrap();
    let avail: u64 = String::from_utf8_lossy(&df.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        numbers
            .iter()
            .any(|&n| n.abs_diff(avail) <= (64 << 20).max(avail / 100)),
        "names the bytes free ({avail} by df): {message}"
    );
    assert!(
        message.contains(&dir.path().display().to_string()),
        "{message}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing written"
    );
    // The size itself past 2^64 bytes is refused as well, before any arithmetic wraps.
    let past = LazyArray::zeros(&[1 << 62, 8], DataType::Float64);
    let err = outcore::convert::export::export_npy(&past, &out, false, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TooLarge, "{err}");
}
