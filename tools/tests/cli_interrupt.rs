//! Ctrl-C: SIGINT sent to `convert`, `export` (`.npy` and Zarr) and `stats --scan` at random
//! points of their run. The process exits within a second of the signal with status 130 and
//! leaves no output and no `.outcore-tmp-*` entry; a signal that arrives after the work is done
//! leaves the whole result (status 0), checked against the input the test wrote. The kill
//! points spread over 1.2 times the longest whole run seen, so they keep up when other tests
//! load the machine.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{json, ok, s, StatsOutput};
use ndarray_npy::{read_npy, write_npy};
use outcore::ndarray::Array2;

/// The entries of `dir` that a command left: temporary ones, and `name`.
fn left(dir: &Path, name: &str) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".outcore-tmp-") || n == name)
        .collect()
}

/// The input: a (4000, 1000) float64 `.npy` of values `i + j / 1000`, and its mean.
fn input(dir: &Path) -> (PathBuf, Array2<f64>) {
    let values = Array2::from_shape_fn((4000, 1000), |(i, j)| i as f64 + j as f64 / 1000.0);
    let path = dir.join("in.npy");
    write_npy(&path, &values).unwrap();
    (path, values)
}

/// How a run that SIGINT reached ended.
enum Ending {
    /// Status 130: stopped, nothing may be left.
    Interrupted,
    /// Status 0: the signal came after the work, the result must be whole.
    Finished,
}

/// Runs `outcore args`, sends SIGINT after `delay`, and checks that it exits within a
/// second of it with status 130 or 0 (or, signalled before its handler is installed, by
/// SIGINT itself, counted as interrupted).
fn interrupt(args: &[&str], delay: Duration) -> Ending {
    let mut child = Command::new(env!("CARGO_BIN_EXE_outcore"))
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let pid = rustix::process::Pid::from_child(&child);
    let sent = Instant::now();
    // The child may have exited already; then there is nothing to interrupt.
    let _ = rustix::process::kill_process(pid, rustix::process::Signal::INT);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if sent.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            panic!("outcore {args:?} still running 10 s after SIGINT");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let took = sent.elapsed();
    assert!(
        took <= Duration::from_secs(1),
        "outcore {args:?} took {took:?} to stop after SIGINT"
    );
    match (status.code(), status.signal()) {
        (Some(130), _) | (None, Some(2)) => Ending::Interrupted,
        (Some(0), _) => Ending::Finished,
        _ => panic!("outcore {args:?} after SIGINT: {status:?}"),
    }
}

/// Interrupts `args` 12 times at points from 0 to 1.2 times its longest whole run (one
/// whole run first, `clear` removing its output), checking each ending with `finished`
/// (the output must be whole) or `nothing_left`; both endings must occur.
fn interrupted_at_random_points(
    args: &[&str],
    seed: u64,
    finished: impl Fn(),
    nothing_left: impl Fn(),
    clear: impl Fn(),
) {
    let started = Instant::now();
    ok(args);
    let run = started.elapsed();
    finished();
    clear();
    let mut state = seed | 1;
    let (mut stopped, mut whole) = (0, 0);
    for round in 0..12 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let delay = run.mul_f64((state % 1000) as f64 / 1000.0 * 1.2);
        match interrupt(args, delay) {
            Ending::Interrupted => {
                nothing_left();
                stopped += 1;
            }
            Ending::Finished => {
                finished();
                clear();
                whole += 1;
            }
        }
        let _ = round;
    }
    assert!(
        stopped >= 3,
        "outcore {args:?}: only {stopped} of 12 runs were interrupted ({whole} finished)"
    );
}

#[test]
fn convert_interrupted_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (npy, values) = input(dir.path());
    let out = dir.path().join("c.zarr");
    let args = [
        "convert",
        s(&npy),
        s(&out),
        "--chunks",
        "50,1000",
        "--shard",
        "400,1000",
        "-q",
    ];
    let mean = values.mean().unwrap();
    interrupted_at_random_points(
        &args,
        11,
        || {
            let report: StatsOutput = json(&["stats", s(&out), "--scan"]);
            let got = report.stats[0].mean.unwrap();
            assert!((got - mean).abs() <= 1e-9 * mean, "{got} vs {mean}");
        },
        || assert_eq!(left(dir.path(), "c.zarr"), Vec::<String>::new()),
        || std::fs::remove_dir_all(&out).unwrap(),
    );
}

#[test]
fn export_interrupted_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (npy, values) = input(dir.path());
    let store = dir.path().join("s.zarr");
    ok(&["convert", s(&npy), s(&store), "--chunks", "50,1000", "-q"]);
    let out = dir.path().join("e.npy");
    interrupted_at_random_points(
        &["export", s(&store), s(&out), "-q"],
        12,
        || assert_eq!(read_npy::<_, Array2<f64>>(&out).unwrap(), values),
        || assert_eq!(left(dir.path(), "e.npy"), Vec::<String>::new()),
        || std::fs::remove_file(&out).unwrap(),
    );
    let out = dir.path().join("e.zarr");
    interrupted_at_random_points(
        &["export", s(&store), s(&out), "--chunks", "50,1000", "-q"],
        13,
        || {
            let array = outcore::Store::open(&out).unwrap().open_array("").unwrap();
            assert_eq!(array.read_all::<f64>().unwrap(), values.clone().into_dyn());
        },
        || assert_eq!(left(dir.path(), "e.zarr"), Vec::<String>::new()),
        || std::fs::remove_dir_all(&out).unwrap(),
    );
}

#[test]
fn stats_scan_interrupted_exits_promptly() {
    let dir = tempfile::tempdir().unwrap();
    let (npy, values) = input(dir.path());
    let store = dir.path().join("s.zarr");
    ok(&["convert", s(&npy), s(&store), "--chunks", "50,1000", "-q"]);
    let before = left(dir.path(), "s.zarr");
    let mean = values.mean().unwrap();
    interrupted_at_random_points(
        &["stats", s(&store), "--scan", "-q"],
        14,
        || {
            let report: StatsOutput = json(&["stats", s(&store), "--scan"]);
            let got = report.stats[0].mean.unwrap();
            assert!((got - mean).abs() <= 1e-9 * mean, "{got} vs {mean}");
        },
        || assert_eq!(left(dir.path(), "s.zarr"), before),
        || {},
    );
}
