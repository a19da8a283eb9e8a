//! What the dask-tutorial examples share: positional arguments with clear errors, a clean
//! exit on failure, and the measurements every example prints — wall time and peak
//! resident memory (`VmHWM` of `/proc/self/status`, reset before each measured step where
//! the kernel allows it, so each step reports its own peak).

// Every example uses a different part of this module.
#![allow(dead_code)]

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use outcore::ndarray::s;
use outcore::{LazyArray, Store};

/// What an example's steps return.
pub(crate) type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Runs an example's `main` on its arguments (`arguments` names them, `[ARG]...`); an error
/// is printed as one line and the process exits with status 2.
pub(crate) fn run(arguments: &str, main: impl FnOnce(&Args) -> Result<()>) -> ExitCode {
    let name = env!("CARGO_CRATE_NAME");
    let args = Args {
        values: std::env::args().skip(1).collect(),
        usage: format!("cargo run --release --example {name} -- {arguments}"),
    };
    if matches!(
        args.values.first().map(String::as_str),
        Some("-h" | "--help")
    ) {
        println!("usage: {}", args.usage);
        return ExitCode::SUCCESS;
    }
    let result = if args.values.len() > arguments.matches('[').count() {
        Err(format!("too many arguments; usage: {}", args.usage).into())
    } else {
        main(&args)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: error: {e}");
            ExitCode::from(2)
        }
    }
}

/// The positional arguments of an example.
pub(crate) struct Args {
    values: Vec<String>,
    usage: String,
}

impl Args {
    /// Argument `index` parsed by `parse`, or `default` when absent; a bad value is an error
    /// naming the argument.
    fn get<T>(
        &self,
        index: usize,
        name: &str,
        default: T,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<T> {
        match self.values.get(index) {
            None => Ok(default),
            Some(text) => parse(text)
                .ok_or_else(|| format!("invalid {name} {text:?}; usage: {}", self.usage).into()),
        }
    }

    /// A directory (created if missing).
    pub(crate) fn dir(&self, index: usize, default: &str) -> Result<PathBuf> {
        let dir = PathBuf::from(self.values.get(index).map_or(default, String::as_str));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create directory {}: {e}", dir.display()))?;
        Ok(dir)
    }

    /// A count such as `1500000`, `1_500_000` or `1.5e6`, at least 1.
    pub(crate) fn count(&self, index: usize, name: &str, default: u64) -> Result<u64> {
        self.get(index, name, default, parse_count)
    }

    /// A size in bytes such as `1000MB`, `1.1TB` or `512MiB`.
    pub(crate) fn bytes(&self, index: usize, name: &str, default: u64) -> Result<u64> {
        self.get(index, name, default, |t| outcore::parse_size(t).ok())
    }

    /// A 2-D shape such as `10000x10000`.
    pub(crate) fn shape2(&self, index: usize, name: &str, default: [u64; 2]) -> Result<[u64; 2]> {
        self.get(index, name, default, |t| {
            let (a, b) = t.split_once(['x', 'X', ','])?;
            Some([parse_count(a)?, parse_count(b)?])
        })
    }
}

/// A positive integer, allowing `_` separators and exponents (`1e6`).
fn parse_count(text: &str) -> Option<u64> {
    let clean = text.trim().replace('_', "");
    let value = clean.parse::<u64>().ok().or_else(|| {
        let v = clean.parse::<f64>().ok()?;
        // Whole numbers up to 2^53, where every integer is exact.
        (v.fract() == 0.0 && v <= (1u64 << 53) as f64).then_some(v as u64)
    })?;
    (value >= 1).then_some(value)
}

/// The most elements an example makes (2^47: a PiB of float64, a thousand times the
/// tutorial's terabyte), so that no size overflows.
pub(crate) const MAX_ELEMENTS: u64 = 1 << 47;

/// An error unless an array of `shape` has at most [`MAX_ELEMENTS`] elements.
pub(crate) fn check_elements(shape: &[u64]) -> Result<()> {
    match shape.iter().try_fold(1u64, |n, &d| n.checked_mul(d)) {
        Some(n) if n <= MAX_ELEMENTS => Ok(()),
        _ => Err(format!("shape {shape:?} has more than 2^47 elements: too large").into()),
    }
}

/// Rows of a CSV file evaluated at a time by [`write_csv`].
const CSV_BATCH_ROWS: u64 = 1 << 16;

/// Writes the CSV file `path`: `header`, then a line per row of the 2-D float64 `values`,
/// made by `line` from the row's values. Rows are evaluated a batch at a time, so memory
/// does not grow with the file.
pub(crate) fn write_csv(
    path: &Path,
    header: Option<&str>,
    values: &LazyArray,
    mut line: impl FnMut(&[f64], &mut String) -> Result<()>,
) -> Result<()> {
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let mut out = BufWriter::new(File::create(path).map_err(fail)?);
    if let Some(header) = header {
        writeln!(out, "{header}").map_err(fail)?;
    }
    let (rows, cols) = (values.shape()[0], values.shape()[1] as usize);
    let mut text = String::new();
    for start in (0..rows).step_by(CSV_BATCH_ROWS as usize) {
        let end = (start + CSV_BATCH_ROWS).min(rows);
        let batch = values
            .slice(s![start as usize..end as usize, ..])?
            .to_ndarray::<f64>()?;
        text.clear();
        for row in batch.into_raw_vec_and_offset().0.chunks_exact(cols) {
            line(row, &mut text)?;
        }
        out.write_all(text.as_bytes()).map_err(fail)?;
    }
    out.flush().map_err(fail)?;
    Ok(())
}

/// A new, empty store at `dir/name`, replacing what an earlier run left there.
pub(crate) fn fresh_store(dir: &Path, name: &str) -> Result<Store> {
    let path = dir.join(name);
    if path.exists() {
        std::fs::remove_dir_all(&path)
            .map_err(|e| format!("cannot remove the old {}: {e}", path.display()))?;
    }
    Ok(Store::create(&path)?)
}

/// The process's peak resident memory in bytes (`VmHWM`), if the kernel reports it.
pub(crate) fn peak_resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Resets the peak resident memory to the current resident memory (Linux's `clear_refs`
/// value 5); `false` when that is not possible, and the peak then counts from the start.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// One measured step: started by [`Step::start`], printed by [`Step::done`].
pub(crate) struct Step {
    label: String,
    start: Instant,
    peak_is_own: bool,
}

impl Step {
    /// Starts timing `label` and resets the peak memory.
    pub(crate) fn start(label: impl Into<String>) -> Step {
        let peak_is_own = reset_peak();
        Step {
            label: label.into(),
            start: Instant::now(),
            peak_is_own,
        }
    }

    /// Seconds since the start.
    pub(crate) fn seconds(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    /// Prints `label: result`, the wall time, the throughput over `bytes` logical bytes
    /// (when given) and the peak resident memory.
    pub(crate) fn done(self, result: impl std::fmt::Display, bytes: Option<u64>) {
        let secs = self.seconds();
        let rate = bytes.map_or(String::new(), |b| {
            format!(", {:.0} MiB/s", b as f64 / MIB / secs)
        });
        let peak = match peak_resident_bytes() {
            Some(p) if self.peak_is_own => format!("peak resident {:.0} MiB", p as f64 / MIB),
            Some(p) => format!("peak resident since start {:.0} MiB", p as f64 / MIB),
            None => "peak resident unknown".to_string(),
        };
        println!("{}: {result}\n    {secs:.3} s{rate}, {peak}", self.label);
    }
}

/// Bytes in a MiB.
pub(crate) const MIB: f64 = (1u64 << 20) as f64;

/// Whether `a` and `b` agree to `rel` relative to the larger (or 1 near zero).
pub(crate) fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs()).max(1.0) || (a.is_nan() && b.is_nan())
}
