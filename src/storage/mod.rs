//! Layer 3: storage — memory maps of shard files (the crate's only `unsafe`), page release
//! once a streaming pass is done with a range, and atomic commits (temporary file, fsync,
//! rename) for everything outcore writes.

use std::io;
use std::path::{Path, PathBuf};

mod commit;
mod mmap;
mod space;

pub(crate) use commit::{
    commit_temp, create_temp_dir_in, create_temp_in, rename_dir_replacing, sync_dir,
};
pub use commit::{remove_file_if_exists, write_atomic};
pub use mmap::MappedFile;
pub(crate) use space::available_bytes;

/// A file-system operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StorageError {
    /// An I/O error, with the file and the operation that hit it.
    #[error("{path}: {op} failed: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What outcore was doing (`open`, `map`, `write`, `rename`, …).
        op: &'static str,
        /// The operating system's error.
        source: io::Error,
    },
}

/// Wraps an `io::Error` with the path and operation (for `map_err`).
pub(crate) fn io_err<'a>(
    path: &'a Path,
    op: &'static str,
) -> impl FnOnce(io::Error) -> StorageError + 'a {
    move |source| StorageError::Io {
        path: path.to_owned(),
        op,
        source,
    }
}
