//! A full disk, an I/O error or a refused rename at every step of a write: a new array, an
//! overwrite (with the exchange and with the two-rename fallback) and an update run through
//! a file system that fails its `k`-th change, for every `k`. The write must fail with an
//! `Io` error naming a path and the system's error, leave the array exactly as it was
//! (re-read and compared), and leave no temporary file or directory behind — or, where the
//! failing change was the removal of the old generation after the new one was durably
//! published, succeed with the new array and leave the old one for the next cleaning.

#[path = "common/seam.rs"]
mod seam;

use std::fs::File;
use std::io;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use outcore::ErrorKind;
use seam::{leftovers, Hook, Hooked, OpKind, Scenario, SCENARIOS};

mod common;

/// Fails the `fail_at`-th counted change with `errno`; counts every change, or only renames
/// and exchanges (`renames_only`). Remembers the kind of the change it failed.
struct Fault {
    fail_at: usize,
    errno: i32,
    renames_only: bool,
    seen: AtomicUsize,
    failed: Mutex<Option<OpKind>>,
}

impl Hook for Fault {
    fn before(&self, op: OpKind, _path: &Path) -> io::Result<()> {
        if self.renames_only && !matches!(op, OpKind::Rename | OpKind::Exchange) {
            return Ok(());
        }
        if self.seen.fetch_add(1, Ordering::SeqCst) == self.fail_at {
            *self.failed.lock().unwrap() = Some(op);
            return Err(io::Error::from_raw_os_error(self.errno));
        }
        Ok(())
    }

    fn after(&self, _op: OpKind, _path: &Path, _to: Option<&Path>, _file: Option<&File>) {}
}

fn fault(fail_at: usize, errno: i32, renames_only: bool) -> Fault {
    Fault {
        fail_at,
        errno,
        renames_only,
        seen: AtomicUsize::new(0),
        failed: Mutex::new(None),
    }
}

/// Fails every counted step of `scenario` in turn with `errno` and checks what is left.
fn every_step_fails_cleanly(scenario: Scenario, errno: i32, renames_only: bool, no_exchange: bool) {
    let label = format!("fault-{scenario:?}-{errno}-{renames_only}-{no_exchange}");
    // The number of counted steps of a write that fails nowhere.
    let steps = {
        let base = common::scratch_dir(&label);
        let store = scenario.set_up(&base);
        let counter = Arc::new(Hooked::new(
            fault(usize::MAX, errno, renames_only),
            no_exchange,
        ));
        scenario.run(&store, counter.clone()).unwrap();
        std::fs::remove_dir_all(&base).unwrap();
        counter.hook.seen.load(Ordering::SeqCst)
    };
    assert!(steps > 0, "{scenario:?}: nothing went through the seam");
    let system = io::Error::from_raw_os_error(errno).to_string();
    for k in 0..steps {
        let base = common::scratch_dir(&format!("{label}-{k}"));
        let store = scenario.set_up(&base);
        let faulty = Arc::new(Hooked::new(fault(k, errno, renames_only), no_exchange));
        let result = scenario.run(&store, faulty.clone());
        let failed = faulty
            .hook
            .failed
            .lock()
            .unwrap()
            .expect("step k was reached");
        let where_ = format!(
            "{scenario:?} (exchange: {}), {system} at step {k} of {steps} ({failed:?})",
            !no_exchange
        );
        let state = scenario
            .read(&base)
            .unwrap_or_else(|e| panic!("{where_}: {e}"));
        match result {
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Io, "{where_}: {e}");
                let message = e.to_string();
                assert!(
                    message.contains(&base.display().to_string()) && message.contains(&system),
                    "{where_}: the error names no path or not the system's error: {message}"
                );
                // Once the array is published, the store's consolidated metadata (the root's
                // `zarr.json`) is rewritten; if that fails, the write reports it, the array is
                // the new one, and the error names the root's file.
                let root = base.join("store");
                let root_file =
                    |name: &str| message.contains(&root.join(name).display().to_string());
                let consolidating = root_file("zarr.json")
                    || message
                        .starts_with(&format!("{}: creating a temporary file", root.display()));
                assert!(
                    state == scenario.old_values()
                        || (consolidating && state.as_ref() == Some(&scenario.new_values())),
                    "{where_}: the failed write changed the array: {state:?}: {message}"
                );
                // A failed removal is the cleanup's own: what it left goes below.
                if !matches!(failed, OpKind::RemoveDirAll | OpKind::RemoveFile) {
                    let left = leftovers(&base);
                    assert!(left.is_empty(), "{where_}: left behind: {left:?}");
                }
            }
            Ok(()) => {
                // Only a failure to remove what is no longer needed is not the write's.
                assert!(
                    matches!(failed, OpKind::RemoveDirAll | OpKind::RemoveFile),
                    "{where_}: the write succeeded though a step of it failed"
                );
                assert!(
                    state.as_ref() == Some(&scenario.new_values()),
                    "{where_}: succeeded, but the array is not the new one: {state:?}"
                );
            }
        }
        // What a failed cleanup left goes at the next cleaning (`verify --repair`).
        store.clean_leftovers().unwrap();
        let left = leftovers(&base);
        assert!(left.is_empty(), "{where_}: left after cleaning: {left:?}");
        assert_eq!(
            scenario.read(&base).unwrap(),
            state,
            "{where_}: cleaning changed it"
        );
        drop(store);
        std::fs::remove_dir_all(&base).unwrap();
    }
}

const ENOSPC: i32 = 28;
const EIO: i32 = 5;
const EXDEV: i32 = 18;

#[test]
fn a_full_disk_at_any_step_fails_cleanly() {
    for scenario in SCENARIOS {
        every_step_fails_cleanly(scenario, ENOSPC, false, false);
    }
}

#[test]
fn an_io_error_at_any_step_fails_cleanly() {
    for scenario in SCENARIOS {
        every_step_fails_cleanly(scenario, EIO, false, false);
    }
}

#[test]
fn an_io_error_at_any_step_of_the_two_rename_fallback_fails_cleanly() {
    for scenario in &SCENARIOS[1..] {
        every_step_fails_cleanly(*scenario, EIO, false, true);
    }
}

#[test]
fn a_failed_rename_at_any_step_fails_cleanly() {
    for no_exchange in [false, true] {
        for scenario in SCENARIOS {
            every_step_fails_cleanly(scenario, EXDEV, true, no_exchange);
        }
    }
}
