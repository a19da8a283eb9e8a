//! Layer 3: storage — memory maps of shard files (the crate's only `unsafe`), page release
//! once a streaming pass is done with a range, and atomic commits (temporary file, fsync,
//! rename) for everything outcore writes, snapshots of one generation of a directory for
//! readers, and the exchange that publishes a new generation. Every change to the file
//! system goes through the seam [`FileSystem`], which tests replace.

use std::io;
use std::path::{Path, PathBuf};

mod commit;
mod fs;
mod mmap;
mod snapshot;
#[cfg(feature = "convert")]
mod space;

pub use commit::TEMP_PREFIX;
pub(crate) use commit::{create_dir_all, create_temp_in, sync_dir, write_atomic_in, TempFile};
pub use commit::{remove_file_if_exists, write_atomic};
pub(crate) use fs::os;
pub use fs::{FileSystem, OsFileSystem};
pub use mmap::MappedFile;
pub(crate) use snapshot::{clean_leftovers, Snapshot, StagingDir};
pub(crate) use snapshot::{parent_of, read_regular_file, recover, with_dir_lock, EntryKind};
pub use snapshot::{ASIDE_PREFIX, NO_EXCHANGE_ENV};
#[cfg(feature = "convert")]
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
    /// A file or directory of an array is a symbolic link, and links are not followed.
    #[error(
        "{path} is a symbolic link; links inside a store are not followed unless asked \
         (set follow_symlinks)"
    )]
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// A file outcore reads is a FIFO, a socket, a device or a directory.
    #[error("{path} is {what}, not a regular file")]
    NotRegular {
        /// The file.
        path: PathBuf,
        /// What it is instead ("a FIFO", …).
        what: &'static str,
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
