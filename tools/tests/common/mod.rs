//! Helpers shared by the CLI tests: running the binary, the `--json` schemas as typed
//! structs (mirroring `tools/src/*.rs`; unknown fields are rejected so the README's field
//! lists stay complete), serial reference statistics, and input writers.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::de::DeserializeOwned;
use serde::Deserialize;

/// Runs the built `outcore` with `args`, stdout and stderr captured (so stderr is not a
/// terminal).
pub(crate) fn outcore<I, S>(args: I) -> Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(env!("CARGO_BIN_EXE_outcore"))
        .args(args)
        .output()
        .unwrap()
}

/// The arguments as displayed, for assertion messages.
fn shown<S: AsRef<OsStr>>(args: &[S]) -> String {
    args.iter()
        .map(|a| a.as_ref().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `outcore args` and asserts exit status 0 and an empty stderr (no progress bars, no
/// warnings, when stderr is not a terminal). Returns stdout.
pub(crate) fn ok<S: AsRef<OsStr>>(args: &[S]) -> String {
    let out = outcore(args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(0),
        "outcore {}: {stderr}",
        shown(args)
    );
    assert!(
        stderr.is_empty(),
        "outcore {}: stderr not empty: {stderr:?}",
        shown(args)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `outcore args --json` successfully and parses its stdout.
pub(crate) fn json<T: DeserializeOwned, S: AsRef<OsStr>>(args: &[S]) -> T {
    let mut all: Vec<&OsStr> = args.iter().map(AsRef::as_ref).collect();
    all.push(OsStr::new("--json"));
    let stdout = ok(&all);
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// Runs `outcore args`, asserts exit status 2 and one stderr line `outcore: error: ...`
/// (never a panic), and returns that line.
pub(crate) fn error<S: AsRef<OsStr>>(args: &[S]) -> String {
    failed(outcore(args), &shown(args))
}

/// Runs `outcore args` with the size of any file it writes limited to `kib` KiB
/// (`RLIMIT_FSIZE`, with `SIGXFSZ` ignored so a write past it fails with `EFBIG`, as one on a
/// full disk fails with `ENOSPC`), and checks it fails like [`error`].
pub(crate) fn error_when_writes_fail<S: AsRef<OsStr>>(kib: u64, args: &[S]) -> String {
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "trap '' XFSZ; ulimit -f {kib} && exec \"$0\" \"$@\""
        ))
        .arg(env!("CARGO_BIN_EXE_outcore"))
        .args(args)
        .output()
        .unwrap();
    failed(out, &shown(args))
}

/// Asserts that the run `out` of `outcore shown` ended with exit status 2 and one stderr
/// line `outcore: error: ...` (never a panic) and nothing on stdout; returns the line.
pub(crate) fn failed(out: Output, shown: &str) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "outcore {shown}: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "not one line: {stderr:?}");
    assert!(stderr.starts_with("outcore: error: "), "{stderr:?}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

/// A path as `&str` (the tests' temporary paths are UTF-8).
pub(crate) fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `outcore convert --json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConvertOutput {
    pub inputs: Vec<String>,
    pub output: String,
    pub format: String,
    pub arrays: Vec<ConvertedArray>,
    #[serde(default)]
    pub csv: Option<CsvReport>,
    pub skipped: Vec<SkippedArray>,
    pub seconds: f64,
}

/// `ConvertOutput.skipped[]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SkippedArray {
    pub name: String,
    pub reason: String,
}

/// One array of [`ConvertOutput`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConvertedArray {
    pub name: String,
    pub data_type: String,
    pub shape: Vec<u64>,
    pub chunks: Vec<u64>,
    pub shards: Vec<u64>,
    pub stored_bytes: u64,
}

/// `ConvertOutput.csv`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CsvReport {
    pub inputs: Vec<String>,
    pub delimiter: char,
    pub header: bool,
    pub rows: u64,
    pub rows_per_input: Vec<u64>,
    pub shape: Vec<u64>,
    pub skipped_rows: u64,
    pub first_skipped_rows: Vec<SkippedRow>,
    pub columns: Vec<ColumnReport>,
    pub skipped_columns: Vec<SkippedColumn>,
    pub input_bytes: u64,
}

/// `CsvReport.first_skipped_rows[]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SkippedRow {
    pub file: String,
    pub line: u64,
    pub reason: String,
}

/// `CsvReport.columns[]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ColumnReport {
    pub header: String,
    pub array: String,
    pub index: usize,
    pub kind: String,
    pub data_type: String,
    pub missing: u64,
    pub categories: Option<usize>,
    pub units: Option<String>,
}

/// `CsvReport.skipped_columns[]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SkippedColumn {
    pub header: String,
    pub index: usize,
    pub reason: String,
}

/// `outcore stats --json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatsOutput {
    pub path: String,
    pub data_type: String,
    pub shape: Vec<u64>,
    pub axis: Option<usize>,
    pub source: String,
    pub stats: Vec<StatsEntry>,
}

/// `StatsOutput.stats[]`; a NaN (no non-NaN values) is `null`, infinities `"inf"` and
/// `"-inf"`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StatsEntry {
    #[serde(default)]
    pub index: Option<u64>,
    pub count: u64,
    pub nan_count: u64,
    #[serde(deserialize_with = "json_float")]
    pub min: Option<f64>,
    #[serde(deserialize_with = "json_float")]
    pub max: Option<f64>,
    #[serde(deserialize_with = "json_float")]
    pub sum: Option<f64>,
    #[serde(deserialize_with = "json_float")]
    pub mean: Option<f64>,
    #[serde(deserialize_with = "json_float")]
    pub std: Option<f64>,
}

/// A float of the `--json` outputs: a number, `null` for NaN, `"inf"` or `"-inf"`.
pub(crate) fn json_float<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    use serde::de::Error;
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::Null => Ok(None),
        serde_json::Value::Number(n) => Ok(n.as_f64()),
        serde_json::Value::String(s) if s == "inf" => Ok(Some(f64::INFINITY)),
        serde_json::Value::String(s) if s == "-inf" => Ok(Some(f64::NEG_INFINITY)),
        other => Err(D::Error::custom(format!("{other} is not a float"))),
    }
}

/// `outcore export --json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExportOutput {
    pub path: String,
    pub output: String,
    pub format: String,
    pub shape: Vec<u64>,
    pub data_type: String,
    pub bytes: u64,
}

/// `outcore verify --json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct VerifyOutput {
    pub path: String,
    pub arrays: Vec<ArrayVerify>,
    pub ok: bool,
    pub removed: Vec<String>,
}

/// `VerifyOutput.arrays[]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ArrayVerify {
    pub name: String,
    pub chunks_checked: u64,
    pub problems: Vec<String>,
}

/// Statistics computed serially in f64, the reference for `stats`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reference {
    pub count: u64,
    pub nan_count: u64,
    pub min: f64,
    pub max: f64,
    pub sum: f64,
    pub mean: f64,
    pub std: f64,
}

impl Reference {
    /// Of `values` (NaNs counted, then left out); ddof 0.
    pub(crate) fn of(values: impl IntoIterator<Item = f64>) -> Reference {
        let all: Vec<f64> = values.into_iter().collect();
        let good: Vec<f64> = all.iter().copied().filter(|v| !v.is_nan()).collect();
        let n = good.len() as f64;
        let sum: f64 = good.iter().sum();
        let mean = sum / n;
        let m2: f64 = good.iter().map(|v| (v - mean) * (v - mean)).sum();
        Reference {
            count: all.len() as u64,
            nan_count: (all.len() - good.len()) as u64,
            min: good.iter().copied().fold(f64::INFINITY, f64::min),
            max: good.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            sum,
            mean,
            std: (m2 / n).sqrt(),
        }
    }

    /// Asserts `entry` agrees: counts and extremes exactly, sums and moments to `rel`.
    pub(crate) fn check(&self, entry: &StatsEntry, rel: f64, what: &str) {
        let close = |name: &str, got: Option<f64>, want: f64| {
            let got = got.unwrap_or_else(|| panic!("{what}: {name} is null, want {want}"));
            assert!(
                (got - want).abs() <= rel * want.abs().max(1.0),
                "{what}: {name} {got} != {want}"
            );
        };
        assert_eq!(entry.count, self.count, "{what}: count");
        assert_eq!(entry.nan_count, self.nan_count, "{what}: nan_count");
        assert_eq!(entry.min, Some(self.min), "{what}: min");
        assert_eq!(entry.max, Some(self.max), "{what}: max");
        close("sum", entry.sum, self.sum);
        close("mean", entry.mean, self.mean);
        close("std", entry.std, self.std);
    }
}

/// A deterministic test value for element `(i, j)` (of input `k`), NaN for about one in 23.
pub(crate) fn value(k: usize, i: usize, j: usize, nans: bool) -> f64 {
    let h = (k * 1_000_003 + i * 7919 + j * 104_729) % 10_007;
    if nans && (k + i * 37 + j).is_multiple_of(23) {
        f64::NAN
    } else {
        h as f64 / 8.0 - 600.0
    }
}

/// The `zarr.json` of the node at `dir`.
pub(crate) fn metadata(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("zarr.json")).unwrap()).unwrap()
}

/// Every file under `dir`, sorted.
pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                todo.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// The Python interpreter named by `OUTCORE_PYTHON` (numpy and zarr installed), or `None`
/// with a note when it is unset — which CI forbids.
pub(crate) fn python() -> Option<PathBuf> {
    match std::env::var_os("OUTCORE_PYTHON") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI must set OUTCORE_PYTHON (see .ci/run)"
            );
            eprintln!(
                "skipped the Python checks: set OUTCORE_PYTHON (tests/interop/requirements.txt)"
            );
            None
        }
    }
}

/// Runs `code` with the Python interpreter `python`, asserting success.
pub(crate) fn run_python(python: &Path, code: &str) {
    let out = Command::new(python).arg("-c").arg(code).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
