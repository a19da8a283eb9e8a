//! Helpers shared by the integration tests.
#![allow(dead_code)]

use ndarray::{ArrayD, IxDyn};
use outcore::{DataType, Element};
use rand::{Rng, SeedableRng};

/// Deterministic random values of any element type: arbitrary bit patterns (so NaNs,
/// infinities and negative zeros appear for floats), 0/1 for bool.
pub(crate) fn random_values<T: Element>(n: usize, seed: u64) -> Vec<T> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let size = T::DATA_TYPE.size();
    let mut bytes = vec![0u8; n * size];
    rng.fill(bytes.as_mut_slice());
    if T::DATA_TYPE == DataType::Bool {
        for b in &mut bytes {
            *b &= 1;
        }
    }
    bytes
        .chunks_exact(size)
        .map(|c| *bytemuck::checked::try_from_bytes::<T>(c).expect("valid bits"))
        .collect()
}

/// A random n-d array of `shape`.
pub(crate) fn random_array<T: Element>(shape: &[usize], seed: u64) -> ArrayD<T> {
    let n = shape.iter().product();
    ArrayD::from_shape_vec(IxDyn(shape), random_values(n, seed)).unwrap()
}

/// Bitwise equality (NaN payloads included).
pub(crate) fn same_bits<T: Element>(a: &ArrayD<T>, b: &ArrayD<T>) -> bool {
    let a: Vec<T> = a.iter().copied().collect();
    let b: Vec<T> = b.iter().copied().collect();
    a.len() == b.len() && bytemuck::cast_slice::<T, u8>(&a) == bytemuck::cast_slice::<T, u8>(&b)
}

/// The Python named by `OUTCORE_PYTHON` (one with the packages of
/// `tests/interop/requirements.txt`), or `None` with a note that the test is skipped; under
/// `CI` it must be set.
pub(crate) fn python() -> Option<std::ffi::OsString> {
    let python = std::env::var_os("OUTCORE_PYTHON");
    if python.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must set OUTCORE_PYTHON (see .ci/run)"
        );
        eprintln!("skipped: set OUTCORE_PYTHON to a Python with tests/interop/requirements.txt");
    }
    python
}

/// A fresh, empty directory under the system's temporary directory, named after `label`,
/// the process and a counter, so parallel tests never share one.
pub(crate) fn scratch_dir(label: &str) -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!(
        "outcore-{label}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs `script` with `python`, `input` on its standard input, and parses the JSON it prints.
pub(crate) fn run_python_json(
    python: &std::ffi::OsStr,
    script: &std::path::Path,
    input: &serde_json::Value,
) -> serde_json::Value {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(python)
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.to_string().as_bytes())
        .expect("write to python");
    let out = child.wait_with_output().expect("run python");
    assert!(
        out.status.success(),
        "{} failed: {}",
        script.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("python prints JSON")
}

/// A float the numpy scripts wrote: Python's repr as a string (`nan`, `inf`, `-0.0`, ...), or
/// a JSON number.
pub(crate) fn python_float(v: &serde_json::Value) -> f64 {
    match v.as_str() {
        Some("nan") => f64::NAN,
        Some("inf") => f64::INFINITY,
        Some("-inf") => f64::NEG_INFINITY,
        Some(text) => text.parse().unwrap(),
        None => v.as_f64().unwrap(),
    }
}

/// Block extents of about `1 / parts` of each axis of `shape` (at least 1).
pub(crate) fn parts_of(shape: &[u64], parts: u64) -> Vec<u64> {
    shape.iter().map(|&n| n.div_ceil(parts).max(1)).collect()
}

/// Runs the numpy script `script` (a path under the crate) with `python`, writing into
/// `dir`, and parses the `manifest.json` it leaves there.
pub(crate) fn numpy_manifest<T: serde::de::DeserializeOwned>(
    python: &std::ffi::OsStr,
    script: &str,
    dir: &std::path::Path,
) -> T {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let out = std::process::Command::new(python)
        .arg(script)
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
}
