//! Free space on a file system, asked before a write whose size is known in advance.

use std::path::Path;

use super::{io_err, StorageError};

/// Bytes an unprivileged process may still write on the file system holding `dir`
/// (`statvfs`: available blocks times the fragment size, saturating).
///
/// # Errors
/// `statvfs` fails on `dir` (it does not exist, say).
pub(crate) fn available_bytes(dir: &Path) -> Result<u64, StorageError> {
    let stat = rustix::fs::statvfs(dir).map_err(|e| io_err(dir, "statvfs")(e.into()))?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}
