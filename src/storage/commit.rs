//! Atomic commits: everything outcore publishes is written to a temporary file in the target's
//! directory, synced, and renamed over the target, so a reader sees the old file or the new
//! one, never a mix, and a crash leaves at worst a stray temporary file. Every step goes
//! through a [`FileSystem`].

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::fs::{os, FileSystem};
use super::snapshot::lock_new_temp_file;
use super::{io_err, StorageError};

/// Prefix of every temporary file and directory outcore creates; `verify` and cleanup
/// recognise leftovers by it.
pub const TEMP_PREFIX: &str = ".outcore-tmp-";

fn builder() -> tempfile::Builder<'static, 'static> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMP_PREFIX);
    builder
}

/// A temporary file being written: locked exclusively while open, removed (through its file
/// system) on drop unless committed.
#[derive(Debug)]
pub(crate) struct TempFile {
    fs: Arc<dyn FileSystem>,
    file: File,
    path: PathBuf,
    committed: bool,
}

impl TempFile {
    /// Appends `bytes`; an error names `shown` (the file the temporary one will become).
    pub(crate) fn write(&self, bytes: &[u8], shown: &Path) -> Result<(), StorageError> {
        self.fs
            .write(&self.file, &self.path, bytes)
            .map_err(io_err(shown, "write"))
    }

    /// The open file, for reads and positioned writes that bypass the seam (export's
    /// `.npy` output, outside any store).
    #[cfg(feature = "convert")]
    pub(crate) fn as_file(&self) -> &File {
        &self.file
    }

    /// Syncs the file to disk and renames it to `target`.
    ///
    /// # Errors
    /// The sync fails (a full disk can show only here), or the rename does (`target` an
    /// existing directory, or on another file system); either error names `target`, and the
    /// temporary file is removed.
    pub(crate) fn commit(mut self, target: &Path) -> Result<(), StorageError> {
        self.fs
            .sync_file(&self.file, &self.path)
            .map_err(io_err(target, "sync"))?;
        self.fs
            .rename(&self.path, target)
            .map_err(io_err(target, "rename into place"))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = self.fs.remove_file(&self.path);
        }
    }
}

/// A new temporary file in `dir`, locked exclusively while open, removed on drop unless
/// committed.
///
/// # Errors
/// `dir` is missing, not a directory, or not writable.
pub(crate) fn create_temp_in(
    fs: &Arc<dyn FileSystem>,
    dir: &Path,
) -> Result<TempFile, StorageError> {
    loop {
        let (file, path) = builder()
            .make_in(dir, |path| fs.create_file(path))
            .and_then(|tmp| tmp.keep().map_err(|e| e.error))
            .map_err(io_err(dir, "creating a temporary file in this directory"))?;
        let tmp = TempFile {
            fs: fs.clone(),
            file,
            path,
            committed: false,
        };
        // Locked while open, so `clean_leftovers` in another process leaves it alone.
        if lock_new_temp_file(&tmp.file, &tmp.path)? {
            return Ok(tmp);
        }
    }
}

/// A new temporary directory in `dir`, which the caller removes.
///
/// # Errors
/// `dir` is missing, not a directory, or not writable.
pub(super) fn create_temp_dir_in(fs: &dyn FileSystem, dir: &Path) -> Result<PathBuf, StorageError> {
    builder()
        .make_in(dir, |path| fs.create_dir(path))
        .and_then(|tmp| tmp.into_temp_path().keep().map_err(|e| e.error))
        .map_err(io_err(
            dir,
            "creating a temporary directory in this directory",
        ))
}

/// Creates `dir` and every missing directory above it, one [`FileSystem::create_dir`] each
/// (below the nearest existing ancestor, which must be a directory).
/// Returns the directories it created, outermost first: their parents must be synced for
/// them to survive power loss.
///
/// # Errors
/// A directory cannot be created (a file in the way, no permission).
pub(crate) fn create_dir_all(
    fs: &dyn FileSystem,
    dir: &Path,
) -> Result<Vec<PathBuf>, StorageError> {
    let mut missing = Vec::new();
    for ancestor in dir.ancestors() {
        if ancestor.as_os_str().is_empty() || ancestor.exists() {
            break;
        }
        missing.push(ancestor.to_owned());
    }
    missing.reverse();
    for made in &missing {
        match fs.create_dir(made) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists || !made.is_dir() => {
                return Err(io_err(made, "create directory")(e))
            }
            _ => {}
        }
    }
    Ok(missing)
}

/// Writes `bytes` to `path` atomically through `fs`. The parent directory is not synced:
/// callers that need the rename durable call `sync_dir`.
///
/// # Errors
/// The temporary file cannot be created beside `path` (the error names the directory), or
/// writing, syncing or renaming it fails (the error names `path`). `path` is unchanged on
/// error.
pub(crate) fn write_atomic_in(
    fs: &Arc<dyn FileSystem>,
    path: &Path,
    bytes: &[u8],
) -> Result<(), StorageError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = create_temp_in(fs, dir)?;
    tmp.write(bytes, path)?;
    tmp.commit(path)
}

/// Writes `bytes` to `path` atomically. The parent directory is not synced: callers that
/// need the rename durable sync it.
///
/// # Errors
/// The temporary file cannot be created beside `path` (the error names the directory), or
/// writing, syncing or renaming it fails (the error names `path`). `path` is unchanged on
/// error.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    write_atomic_in(&os(), path, bytes)
}

/// Syncs a directory, making the renames inside it durable.
///
/// # Errors
/// `dir` cannot be opened, or the sync fails.
pub(crate) fn sync_dir(fs: &dyn FileSystem, dir: &Path) -> Result<(), StorageError> {
    fs.sync_dir(dir).map_err(io_err(dir, "sync directory"))
}

/// Removes `path` if it exists.
///
/// # Errors
/// Removing fails for any reason other than `path` not existing (a directory, no
/// permission).
pub fn remove_file_if_exists(path: &Path) -> Result<(), StorageError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(path, "remove")(e)),
        _ => Ok(()),
    }
}
