//! Readers and writers in separate processes (format-spec/commit-protocol.md): `stats --scan`
//! while `convert --overwrite` replaces the array again and again answers for one generation
//! only; `convert --overwrite` killed at random points leaves the old or the new array, and no
//! leftover after the next command; `--follow-symlinks`; a FIFO is an error, never a hang.
//!
//! The references are the two inputs: `.npy` files whose every element is 0 or 100, so the
//! mean of any mix of them is neither.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{error, json, ok, outcore, s, StatsOutput};
use ndarray_npy::write_npy;
use outcore::ndarray::Array2;

/// The two generations, as `.npy` files of `shape` holding 0.0 and 100.0.
fn inputs(dir: &Path, shape: (usize, usize)) -> [PathBuf; 2] {
    [0.0, 100.0].map(|v| {
        let path = dir.join(format!("v{v}.npy"));
        write_npy(&path, &Array2::<f64>::from_elem(shape, v)).unwrap();
        path
    })
}

/// The mean `stats --scan` reports, or the error it printed.
fn scanned_mean(array: &Path) -> Result<f64, String> {
    let out = outcore(["stats", s(array), "--scan", "--json"]);
    if out.status.code() != Some(0) {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    let report: StatsOutput = serde_json::from_slice(&out.stdout).unwrap();
    report.stats[0].mean.ok_or_else(|| "no mean".to_owned())
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".outcore-tmp-"))
        .collect()
}

fn convert_args<'a>(input: &'a Path, output: &'a Path) -> Vec<&'a str> {
    vec![
        "convert",
        s(input),
        s(output),
        "--chunks",
        "16,16",
        "--shard",
        "32,32",
        "--overwrite",
        "--bare",
        "-q",
    ]
}

/// Two reader processes at a time scan while one writer process after another overwrites the
/// array with the other input: every mean is 0 or 100, both appear, nothing fails.
#[test]
fn scans_never_mix_generations_while_another_process_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let sources = inputs(dir.path(), (256, 256));
    let array = dir.path().join("arr.zarr");
    ok(&convert_args(&sources[0], &array));
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicU64::new(0));
    let writer = {
        let (stop, writes, sources, array) =
            (stop.clone(), writes.clone(), sources.clone(), array.clone());
        std::thread::spawn(move || {
            let mut i = 1;
            while !stop.load(Ordering::Relaxed) {
                ok(&convert_args(&sources[i % 2], &array));
                writes.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
        })
    };
    let started = Instant::now();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (stop, array) = (stop.clone(), array.clone());
            std::thread::spawn(move || {
                let mut answers = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    answers.push(scanned_mean(&array));
                }
                answers
            })
        })
        .collect();
    while started.elapsed() < Duration::from_secs(25) && writes.load(Ordering::Relaxed) < 150 {
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let answers: Vec<Result<f64, String>> = readers
        .into_iter()
        .flat_map(|r| r.join().unwrap())
        .collect();
    let wrong: Vec<_> = answers
        .iter()
        .filter(|a| !matches!(a, Ok(m) if *m == 0.0 || *m == 100.0))
        .collect();
    assert!(
        wrong.is_empty(),
        "{} of {} reads wrong: {:?}",
        wrong.len(),
        answers.len(),
        &wrong[..wrong.len().min(5)]
    );
    let zeros = answers.iter().filter(|a| **a == Ok(0.0)).count();
    assert!(
        zeros > 0 && zeros < answers.len() && answers.len() >= 60,
        "reads should see both generations: {zeros} of {} were 0 ({} writes)",
        answers.len(),
        writes.load(Ordering::Relaxed)
    );
    // Generations a reader still held when they were replaced are left to the next cleaning.
    ok(&["verify", s(&array), "--repair", "-q"]);
    assert_eq!(leftovers(dir.path()), Vec::<String>::new());
}

/// `convert --overwrite` killed 50 times at points spread over its run (a quarter of them
/// with the two-rename fallback instead of the exchange): the array is the old or the new one
/// every time, and after the next command — `verify --repair`, or a whole conversion — no
/// temporary file or directory is left. The length of a run is the longest whole conversion
/// seen so far, so the kill points keep up when other tests load the machine.
#[test]
fn killed_overwrites_leave_the_old_or_the_new_array() {
    let dir = tempfile::tempdir().unwrap();
    let sources = inputs(dir.path(), (256, 256));
    let array = dir.path().join("arr.zarr");
    let started = Instant::now();
    ok(&convert_args(&sources[0], &array));
    let mut run = started.elapsed();
    let mut current = 0.0;
    let (mut became_new, mut stayed_old) = (0, 0);
    // A fixed pseudo-random sequence of kill points (xorshift), from 0 to 1.5 runs.
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for round in 0..50 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = run.mul_f64((seed % 1000) as f64 / 1000.0 * 1.5);
        let next = if current == 0.0 { 1 } else { 0 };
        let mut command = Command::new(env!("CARGO_BIN_EXE_outcore"));
        command
            .args(convert_args(&sources[next], &array))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if round % 4 == 3 {
            command.env(outcore::test_support::NO_EXCHANGE_ENV, "1");
        }
        let mut child = command.spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        child.wait().unwrap();

        let mean = scanned_mean(&array).unwrap_or_else(|e| panic!("round {round}: {e}"));
        let new = [0.0, 100.0][next];
        assert!(
            mean == current || mean == new,
            "round {round}: mean {mean}, neither the old {current} nor the new {new}"
        );
        if mean == new {
            became_new += 1;
        } else {
            stayed_old += 1;
        }
        current = mean;
        if round % 2 == 0 {
            ok(&["verify", s(&array), "--repair", "-q"]);
        } else {
            let started = Instant::now();
            ok(&convert_args(&sources[usize::from(current != 0.0)], &array));
            run = run.max(started.elapsed());
        }
        assert_eq!(leftovers(dir.path()), Vec::<String>::new(), "round {round}");
        assert_eq!(scanned_mean(&array), Ok(current), "round {round}");
    }
    assert!(
        became_new >= 5 && stayed_old >= 5,
        "kill points should fall before and after the swap ({became_new} new, {stayed_old} old)"
    );
}

/// A shard that is a symbolic link is an error naming it, with the flag that follows it.
#[test]
fn symlinked_shards_need_follow_symlinks() {
    let dir = tempfile::tempdir().unwrap();
    let sources = inputs(dir.path(), (64, 64));
    let array = dir.path().join("arr.zarr");
    ok(&convert_args(&sources[1], &array));
    let shard = array.join("c/1/0");
    let outside = dir.path().join("shard-elsewhere");
    std::fs::rename(&shard, &outside).unwrap();
    std::os::unix::fs::symlink(&outside, &shard).unwrap();
    let line = error(&["stats", s(&array), "--scan"]);
    assert!(
        line.contains("is a symbolic link")
            && line.contains("--follow-symlinks")
            && line.contains("c/1/0"),
        "{line}"
    );
    let report: StatsOutput = json(&["stats", s(&array), "--scan", "--follow-symlinks"]);
    assert_eq!(report.stats[0].mean, Some(100.0));
}

/// A FIFO in place of a shard fails `stats --scan` at once (the test gives up after 30 s).
#[test]
fn a_fifo_shard_is_an_error_not_a_hang() {
    let dir = tempfile::tempdir().unwrap();
    let sources = inputs(dir.path(), (64, 64));
    let array = dir.path().join("arr.zarr");
    ok(&convert_args(&sources[1], &array));
    let shard = array.join("c/0/1");
    std::fs::remove_file(&shard).unwrap();
    assert!(Command::new("mkfifo")
        .arg(&shard)
        .status()
        .unwrap()
        .success());
    let mut child = Command::new(env!("CARGO_BIN_EXE_outcore"))
        .args(["stats", s(&array), "--scan"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("stats blocked on a FIFO shard");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is a FIFO, not a regular file"), "{stderr}");
}
