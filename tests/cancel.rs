//! Stopping a pass from its progress observer, at random reports of `to_store`, of the
//! conversions (an `.npy` through `Output::write_array`, a CSV through `import_csv`) and of
//! both exports: the pass ends with `Cancelled`, nothing is published and no temporary file
//! is left, even when it stops at the last report. Run to the end instead, each writes the
//! whole result, equal to its input (the reference: the values the test wrote).

mod common;

use std::ops::ControlFlow;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use common::{random_array, same_bits};
use ndarray::ArrayD;
use ndarray_npy::{read_npy, write_npy};
use outcore::convert::binary::open_npy;
use outcore::convert::csv::{import_csv, CsvOptions};
use outcore::convert::export::{export_npy, export_zarr, ExportOptions};
use outcore::convert::{ConvertOptions, Output};
use outcore::{ArraySpec, DataType, ErrorKind, LazyArray, Progress, Result, Store};

/// A progress observer that asks to stop at its `at`-th report (never when `at` is 0) and
/// keeps every report it saw.
struct StopAt {
    at: u64,
    calls: AtomicU64,
    seen: Mutex<Vec<Progress>>,
}

impl StopAt {
    fn new(at: u64) -> Self {
        StopAt {
            at,
            calls: AtomicU64::new(0),
            seen: Mutex::new(Vec::new()),
        }
    }

    fn observe(&self, p: &Progress) -> ControlFlow<()> {
        self.seen.lock().unwrap().push(*p);
        if self.calls.fetch_add(1, Ordering::Relaxed) + 1 == self.at {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

/// The entries of `dir`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Stop points spread over `1..=reports` (xorshift from `seed`), the last report always
/// among them.
fn stop_points(reports: u64, seed: u64) -> Vec<u64> {
    assert!(
        reports >= 2,
        "the pass should report more than once ({reports})"
    );
    let mut state = seed | 1;
    let mut points: Vec<u64> = (0..6)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            1 + state % reports
        })
        .collect();
    points.push(reports);
    points
}

/// Runs `run(observer)` once to the end (checked by `whole`), then stopped at random reports:
/// each stopped run returns `Cancelled` and leaves `dir` as it was before.
fn stops_cleanly<T>(
    dir: &Path,
    seed: u64,
    run: impl Fn(&StopAt) -> Result<T>,
    whole: impl Fn(T),
    clear: impl Fn(),
) {
    let before = entries(dir);
    let full = StopAt::new(0);
    whole(run(&full).expect("an unstopped run succeeds"));
    let reports = full.calls();
    let seen = full.seen.into_inner().unwrap();
    let last = seen.last().unwrap();
    assert_eq!(last.eta(), Some(Duration::ZERO), "{last:?}");
    clear();
    assert_eq!(entries(dir), before);
    for at in stop_points(reports, seed) {
        let stopper = StopAt::new(at);
        let err = match run(&stopper) {
            Ok(_) => panic!("stopped at report {at} of {reports}, the run still succeeded"),
            Err(e) => e,
        };
        assert_eq!(err.kind(), ErrorKind::Cancelled, "at report {at}: {err}");
        assert_eq!(stopper.calls(), at, "no report after the stop");
        assert_eq!(entries(dir), before, "stopped at report {at} of {reports}");
    }
}

fn input(dir: &Path, rows: usize) -> (std::path::PathBuf, ArrayD<f64>) {
    let values = random_array::<f64>(&[rows, 1000], 17);
    let path = dir.join("in.npy");
    write_npy(&path, &values).unwrap();
    (path, values)
}

#[test]
fn to_store_stops_at_any_report() {
    let dir = tempfile::tempdir().unwrap();
    let (npy, values) = input(dir.path(), 256);
    let x = open_npy(&npy, None).unwrap();
    let store_dir = dir.path().join("s.zarr");
    let store = Store::create(&store_dir).unwrap();
    let spec = ArraySpec::new(DataType::Float64, &[256, 1000]).chunks(&[4, 1000]);
    stops_cleanly(
        &store_dir,
        1,
        |stop| {
            x.compute()
                .progress(&|p| stop.observe(p))
                .to_store(&store, "y", &spec)
        },
        |y| assert!(same_bits(&y.read_all::<f64>().unwrap(), &values)),
        || std::fs::remove_dir_all(store_dir.join("y")).unwrap(),
    );
}

#[test]
fn cancel_flag_set_from_another_thread_stops_to_store() {
    let dir = tempfile::tempdir().unwrap();
    let (npy, _) = input(dir.path(), 256);
    let x = open_npy(&npy, None).unwrap();
    let store_dir = dir.path().join("s.zarr");
    let store = Store::create(&store_dir).unwrap();
    let before = entries(&store_dir);
    let spec = ArraySpec::new(DataType::Float64, &[256, 1000]).chunks(&[1, 1000]);
    for delay_us in [0, 300, 1000, 3000] {
        let flag = AtomicBool::new(false);
        let result = std::thread::scope(|s| {
            s.spawn(|| {
                std::thread::sleep(Duration::from_micros(delay_us));
                flag.store(true, Ordering::Relaxed);
            });
            x.compute().cancel_with(&flag).to_store(&store, "y", &spec)
        });
        match result {
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Cancelled, "{e}");
                assert_eq!(entries(&store_dir), before, "after {delay_us} µs");
            }
            // A fast machine may finish first: then the whole array is there.
            Ok(_) => std::fs::remove_dir_all(store_dir.join("y")).unwrap(),
        }
    }
}

#[test]
fn npy_conversion_stops_at_any_report() {
    let dir = tempfile::tempdir().unwrap();
    let (npy, values) = input(dir.path(), 256);
    let x = open_npy(&npy, None).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let destination = out.join("c.zarr");
    let options = ConvertOptions {
        chunks: Some(vec![4, 1000]),
        shards: Some(vec![32, 1000]),
        encoding: None,
    };
    stops_cleanly(
        &out,
        2,
        |stop| {
            let staged = Output::create(&destination, false)?;
            staged.write_array(staged.name(), &x, &options, Some(&|p| stop.observe(p)))?;
            staged.commit()
        },
        |path| {
            let array = Store::open(path).unwrap().open_array("").unwrap();
            assert!(same_bits(&array.read_all::<f64>().unwrap(), &values));
        },
        || std::fs::remove_dir_all(&destination).unwrap(),
    );
}

#[test]
fn csv_conversion_stops_at_any_report() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("in.csv");
    let mut text = String::from("a,b\n");
    for i in 0..4000 {
        text.push_str(&format!("{i},{}\n", f64::from(i) * 0.5));
    }
    std::fs::write(&csv, text).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let destination = out.join("t.zarr");
    let options = ConvertOptions {
        chunks: Some(vec![100]),
        ..ConvertOptions::default()
    };
    stops_cleanly(
        &out,
        3,
        |stop| {
            let staged = Output::create(&destination, false)?;
            import_csv(
                std::slice::from_ref(&csv),
                None,
                staged.store(),
                staged.name(),
                &options,
                &CsvOptions::default(),
                Some(&|p| stop.observe(p)),
            )?;
            staged.commit()
        },
        |path| {
            let b = Store::open(path).unwrap().open_array("b").unwrap();
            let want: Vec<f64> = (0..4000).map(|i| f64::from(i) * 0.5).collect();
            assert_eq!(
                b.read_all::<f64>().unwrap().into_raw_vec_and_offset().0,
                want
            );
        },
        || std::fs::remove_dir_all(&destination).unwrap(),
    );
}

#[test]
fn npy_export_stops_at_any_report() {
    let dir = tempfile::tempdir().unwrap();
    let (npy, values) = input(dir.path(), 2000);
    let x = open_npy(&npy, Some(&[50, 1000])).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let destination = out.join("e.npy");
    stops_cleanly(
        &out,
        4,
        |stop| export_npy(&x, &destination, false, Some(&|p| stop.observe(p))),
        |()| assert!(same_bits(&read_npy(&destination).unwrap(), &values)),
        || std::fs::remove_file(&destination).unwrap(),
    );
}

#[test]
fn zarr_export_stops_at_any_report() {
    let dir = tempfile::tempdir().unwrap();
    let (npy, values) = input(dir.path(), 2000);
    let x: LazyArray = open_npy(&npy, None).unwrap();
    let out = dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let destination = out.join("e.zarr");
    let options = ExportOptions {
        chunks: Some(vec![20, 1000]),
        ..ExportOptions::default()
    };
    stops_cleanly(
        &out,
        5,
        |stop| export_zarr(&x, &destination, &options, Some(&|p| stop.observe(p))),
        |()| {
            let array = Store::open(&destination).unwrap().open_array("").unwrap();
            assert!(same_bits(&array.read_all::<f64>().unwrap(), &values));
        },
        || std::fs::remove_dir_all(&destination).unwrap(),
    );
}
