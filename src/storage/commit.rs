//! Atomic commits: everything outcore publishes is written to a temporary file in the target's
//! directory, synced, and renamed over the target, so a reader sees the old file or the new
//! one, never a mix, and a crash leaves at worst a stray temporary file.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;

use tempfile::NamedTempFile;

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

/// A new temporary file in `dir`, removed on drop unless committed.
pub fn create_temp_in(dir: &Path) -> Result<NamedTempFile, StorageError> {
    builder(FILE_MODE)
        .tempfile_in(dir)
        .map_err(io_err(dir, "create temporary file in"))
}

/// A new temporary directory in `dir`, removed on drop unless kept.
pub fn create_temp_dir_in(dir: &Path) -> Result<tempfile::TempDir, StorageError> {
    builder(DIR_MODE)
        .tempdir_in(dir)
        .map_err(io_err(dir, "create temporary directory in"))
}

/// Syncs `tmp` to disk and renames it to `target`.
pub fn commit_temp(tmp: NamedTempFile, target: &Path) -> Result<(), StorageError> {
    tmp.as_file().sync_data().map_err(io_err(target, "sync"))?;
    tmp.persist(target)
        .map_err(|e| io_err(target, "rename into place")(e.error))?;
    Ok(())
}

/// Writes `bytes` to `path` atomically.
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
pub fn sync_dir(dir: &Path) -> Result<(), StorageError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir, "sync directory"))
}

/// Renames the finished directory `built` to `target` (same file system). An existing
/// `target` is moved aside into a temporary directory beside it first and removed after, so
/// `target` always names a whole old or a whole new directory. Syncs the parent.
pub fn rename_dir_replacing(built: &Path, target: &Path) -> Result<(), StorageError> {
    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if target.exists() {
        let trash = create_temp_dir_in(parent)?;
        let old = trash.path().join("old");
        std::fs::rename(target, &old).map_err(io_err(target, "move aside"))?;
        std::fs::rename(built, target).map_err(io_err(target, "rename into place"))?;
        drop(trash);
    } else {
        std::fs::rename(built, target).map_err(io_err(target, "rename into place"))?;
    }
    sync_dir(parent)
}

/// Removes `path` if it exists.
pub fn remove_file_if_exists(path: &Path) -> Result<(), StorageError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(path, "remove")(e)),
        _ => Ok(()),
    }
}
