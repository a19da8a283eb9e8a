//! Atomic commits: everything outcore publishes is written to a temporary file in the target's
//! directory, synced, and renamed over the target, so a reader sees the old file or the new
//! one, never a mix, and a crash leaves at worst a stray temporary file.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use tempfile::NamedTempFile;

use super::snapshot::lock_new_temp_file;
use super::{io_err, StorageError};

/// Prefix of every temporary file and directory outcore creates; `verify` and cleanup
/// recognise leftovers by it.
pub const TEMP_PREFIX: &str = ".outcore-tmp-";

/// Mode of published files: readable by everyone, like files any other Zarr writer makes
/// (temporary files default to owner-only).
#[cfg(unix)]
const FILE_MODE: u32 = 0o644;
/// Mode of published directories.
#[cfg(unix)]
const DIR_MODE: u32 = 0o755;

fn builder(mode: u32) -> tempfile::Builder<'static, 'static> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMP_PREFIX);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(mode));
    }
    let _ = mode;
    builder
}

/// A new temporary file in `dir`, locked exclusively while open, removed on drop unless
/// committed.
///
/// # Errors
/// `dir` is missing, not a directory, or not writable.
pub(crate) fn create_temp_in(dir: &Path) -> Result<NamedTempFile, StorageError> {
    loop {
        let tmp = builder(FILE_MODE)
            .tempfile_in(dir)
            .map_err(io_err(dir, "create temporary file in"))?;
        // Locked while open, so `clean_leftovers` in another process leaves it alone.
        if lock_new_temp_file(tmp.as_file(), tmp.path())? {
            return Ok(tmp);
        }
    }
}

/// A new temporary directory in `dir`, removed on drop unless kept.
///
/// # Errors
/// `dir` is missing, not a directory, or not writable.
pub(super) fn create_temp_dir_in(dir: &Path) -> Result<tempfile::TempDir, StorageError> {
    builder(DIR_MODE)
        .tempdir_in(dir)
        .map_err(io_err(dir, "create temporary directory in"))
}

/// Syncs `tmp` to disk and renames it to `target`.
///
/// # Errors
/// The sync fails (a full disk can show only here), or the rename does (`target` an existing
/// directory, or on another file system than `tmp`); either error names `target`, and `tmp`
/// is removed.
pub(crate) fn commit_temp(tmp: NamedTempFile, target: &Path) -> Result<(), StorageError> {
    tmp.as_file().sync_data().map_err(io_err(target, "sync"))?;
    tmp.persist(target)
        .map_err(|e| io_err(target, "rename into place")(e.error))?;
    Ok(())
}

/// Writes `bytes` to `path` atomically. The parent directory is not synced: callers that
/// need the rename durable call `sync_dir`.
///
/// # Errors
/// The temporary file cannot be created beside `path` (the error names the directory), or
/// writing, syncing or renaming it fails (the error names `path`). `path` is unchanged on
/// error.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = create_temp_in(dir)?;
    // Through the plain file: `NamedTempFile`'s own `Write` appends its random name to errors.
    tmp.as_file()
        .write_all(bytes)
        .map_err(io_err(path, "write"))?;
    commit_temp(tmp, path)
}

/// Syncs a directory, making the renames inside it durable.
///
/// # Errors
/// `dir` cannot be opened, or the sync fails.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir, "sync directory"))
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
