//! What the power-loss and fault-injection tests share: the three writes they interrupt (a
//! new array, an overwrite, an update), their old and new values, and file systems that wrap
//! the operating system's behind outcore's storage seam. Included with `#[path]` by the
//! test files that use it.

#![allow(dead_code)] // each test file uses part of it

use std::fs::File;
use std::io;
use std::os::fd::BorrowedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ndarray::{ArrayD, IxDyn};
use outcore::test_support::{with_file_system, FileSystem, OsFileSystem, TEMP_PREFIX};
use outcore::{ArraySpec, ChunkEncoding, DataType, ErrorKind, Store};

/// The array every scenario writes: 3 x 1 shards (`c/i/0`, two directory levels) of 2 chunks.
pub(crate) const SHAPE: [u64; 2] = [6, 8];
const CHUNK: [u64; 2] = [2, 4];
const SHARD: [u64; 2] = [2, 8];

/// A write the tests interrupt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scenario {
    /// A new array `g/a`, its group `g` created on the way.
    Fresh,
    /// `a` replaced by a new array (`overwrite`).
    Overwrite,
    /// One chunk of `a` rewritten in place (`update_array`): one shard rebuilt, two linked.
    Update,
}

pub(crate) const SCENARIOS: [Scenario; 3] =
    [Scenario::Fresh, Scenario::Overwrite, Scenario::Update];

impl Scenario {
    /// The node the scenario writes.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scenario::Fresh => "g/a",
            Scenario::Overwrite | Scenario::Update => "a",
        }
    }

    /// The array before the write (`None`: absent).
    pub(crate) fn old_values(self) -> Option<ArrayD<i32>> {
        match self {
            Scenario::Fresh => None,
            Scenario::Overwrite | Scenario::Update => Some(values(1)),
        }
    }

    /// The array after it.
    pub(crate) fn new_values(self) -> ArrayD<i32> {
        match self {
            Scenario::Fresh | Scenario::Overwrite => values(2),
            Scenario::Update => {
                let mut new = values(1);
                for i in 0..2 {
                    for j in 0..4 {
                        new[[i, j]] = -1 - (i * 4 + j) as i32;
                    }
                }
                new
            }
        }
    }

    /// A store at `base/store`, written through the operating system and synced: for
    /// `Overwrite` and `Update`, holding the old `a`.
    pub(crate) fn set_up(self, base: &Path) -> Store {
        let store = Store::create(base.join("store")).unwrap();
        if let Some(old) = self.old_values() {
            let writer = store.create_array("a", &spec()).unwrap();
            writer.write_array(old.view()).unwrap();
            writer.finish().unwrap();
        }
        store
    }

    /// The write, through `fs`.
    ///
    /// # Errors
    /// Whatever the store returns.
    pub(crate) fn run(self, store: &Store, fs: Arc<dyn FileSystem>) -> outcore::Result<()> {
        let store = with_file_system(store.clone(), fs);
        let new = self.new_values();
        match self {
            Scenario::Fresh | Scenario::Overwrite => {
                let writer = store.create_array(self.name(), &spec().overwrite(true))?;
                writer.write_array(new.view())?;
                writer.finish()?;
            }
            Scenario::Update => {
                let writer = store.update_array(self.name())?;
                let first: Vec<i32> = (0..2)
                    .flat_map(|i| (0..4).map(move |j| (i, j)))
                    .map(|(i, j)| new[[i, j]])
                    .collect();
                writer.write_chunk(&[0, 0], &first)?;
                writer.finish()?;
            }
        }
        Ok(())
    }

    /// What `base/store` holds now, read through the operating system (with the store's
    /// own recovery when it opens the array): `Ok(None)` when the array is absent, which only
    /// a new array's old state may be.
    pub(crate) fn read(self, base: &Path) -> Result<Option<ArrayD<i32>>, String> {
        let store = Store::open(base.join("store")).map_err(|e| format!("store: {e}"))?;
        store.nodes().map_err(|e| format!("nodes: {e}"))?;
        match store.open_array(self.name()) {
            Ok(array) => array
                .read_all::<i32>()
                .map(Some)
                .map_err(|e| format!("read: {e}")),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("open: {e} ({:?})", e.kind())),
        }
    }

    /// Whether `state` is the array's old or its new value (its whole value: never a mix).
    pub(crate) fn old_or_new(self, state: &Option<ArrayD<i32>>) -> Option<&'static str> {
        if *state == self.old_values() {
            Some("old")
        } else if state.as_ref() == Some(&self.new_values()) {
            Some("new")
        } else {
            None
        }
    }
}

fn spec() -> ArraySpec {
    ArraySpec::new(DataType::Int32, &SHAPE)
        .chunks(&CHUNK)
        .shards(&SHARD)
        .encoding(ChunkEncoding::zstd(1))
}

/// Distinct values for generation `seed`.
fn values(seed: i32) -> ArrayD<i32> {
    let n = (SHAPE[0] * SHAPE[1]) as i32;
    ArrayD::from_shape_vec(
        IxDyn(&[SHAPE[0] as usize, SHAPE[1] as usize]),
        (0..n).map(|i| seed * 1000 + i).collect(),
    )
    .unwrap()
}

/// Every `.outcore-tmp-*` file or directory anywhere under `dir`.
pub(crate) fn leftovers(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                found.push(path);
            } else if entry.file_type().is_ok_and(|t| t.is_dir()) {
                pending.push(path);
            }
        }
    }
    found
}

/// One change to a file system, as the seam makes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    CreateFile,
    Write,
    SyncFile,
    CreateDir,
    SyncDir,
    Rename,
    Exchange,
    HardLink,
    RemoveFile,
    RemoveDirAll,
}

/// The operating system's file system, with a hook called before every operation with its
/// kind and first path: an error from the hook is returned instead of doing the operation.
/// `exchange` can be refused as unsupported, so publication takes the two-rename fallback.
/// Operations are serialised, so the order the hook sees is the order they happened in.
pub(crate) struct Hooked<H> {
    pub(crate) hook: H,
    no_exchange: bool,
    serial: Mutex<()>,
}

impl<H: Hook> Hooked<H> {
    pub(crate) fn new(hook: H, no_exchange: bool) -> Self {
        Self {
            hook,
            no_exchange,
            serial: Mutex::new(()),
        }
    }
}

impl<H> std::fmt::Debug for Hooked<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Hooked(no_exchange: {})", self.no_exchange)
    }
}

/// What a hook sees of an operation, and does after it.
pub(crate) trait Hook: Send + Sync {
    /// Called before `op` on `path` (and `to`); an error fails the operation.
    fn before(&self, op: OpKind, path: &Path) -> io::Result<()>;
    /// Called after `op` succeeded.
    fn after(&self, op: OpKind, path: &Path, to: Option<&Path>, file: Option<&File>);
}

impl<H: Hook> Hooked<H> {
    fn call<T>(
        &self,
        op: OpKind,
        path: &Path,
        to: Option<&Path>,
        file: Option<&File>,
        run: impl FnOnce() -> io::Result<T>,
    ) -> io::Result<T> {
        let _serial = self.serial.lock().unwrap_or_else(|p| p.into_inner());
        self.hook.before(op, path)?;
        let out = run()?;
        self.hook.after(op, path, to, file);
        Ok(out)
    }
}

impl<H: Hook> FileSystem for Hooked<H> {
    fn create_file(&self, path: &Path) -> io::Result<File> {
        let _serial = self.serial.lock().unwrap_or_else(|p| p.into_inner());
        self.hook.before(OpKind::CreateFile, path)?;
        let file = OsFileSystem.create_file(path)?;
        self.hook.after(OpKind::CreateFile, path, None, Some(&file));
        Ok(file)
    }

    fn write(&self, file: &File, path: &Path, bytes: &[u8]) -> io::Result<()> {
        self.call(OpKind::Write, path, None, Some(file), || {
            OsFileSystem.write(file, path, bytes)
        })
    }

    fn sync_file(&self, file: &File, path: &Path) -> io::Result<()> {
        self.call(OpKind::SyncFile, path, None, Some(file), || {
            OsFileSystem.sync_file(file, path)
        })
    }

    fn create_dir(&self, path: &Path) -> io::Result<()> {
        self.call(OpKind::CreateDir, path, None, None, || {
            OsFileSystem.create_dir(path)
        })
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        self.call(OpKind::SyncDir, path, None, None, || {
            OsFileSystem.sync_dir(path)
        })
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        self.call(OpKind::Rename, from, Some(to), None, || {
            OsFileSystem.rename(from, to)
        })
    }

    fn exchange(&self, a: &Path, b: &Path) -> io::Result<()> {
        if self.no_exchange {
            return Err(io::ErrorKind::Unsupported.into());
        }
        self.call(OpKind::Exchange, a, Some(b), None, || {
            OsFileSystem.exchange(a, b)
        })
    }

    fn hard_link(
        &self,
        dir: BorrowedFd<'_>,
        dir_path: &Path,
        rel: &Path,
        to: &Path,
    ) -> io::Result<()> {
        let from = dir_path.join(rel);
        self.call(OpKind::HardLink, &from, Some(to), None, || {
            OsFileSystem.hard_link(dir, dir_path, rel, to)
        })
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        self.call(OpKind::RemoveFile, path, None, None, || {
            OsFileSystem.remove_file(path)
        })
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        self.call(OpKind::RemoveDirAll, path, None, None, || {
            OsFileSystem.remove_dir_all(path)
        })
    }
}
