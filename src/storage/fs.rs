//! The storage seam: every change outcore makes to a file system — creating, writing and
//! syncing a file, making, syncing and removing a directory, renaming, exchanging, linking —
//! goes through one [`FileSystem`]. The real one is the operating system ([`OsFileSystem`]);
//! tests substitute one that records every operation to simulate power loss, or fails one of
//! them to inject a full disk or an I/O error. Reads (snapshots, maps, locks) do not go
//! through it: the hot path stays the plain `mmap`.

use std::fmt;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::fd::BorrowedFd;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustix::fs::{self as rfs, AtFlags, CWD};

/// Mode of published files: readable by everyone, like files any other Zarr writer makes.
const FILE_MODE: u32 = 0o644;
/// Mode of published directories.
const DIR_MODE: u32 = 0o755;

/// The operations that change a file system. Each takes the path it acts on, which is also
/// the path a recording implementation keys its model by; an error is returned as the
/// operating system's, and the caller adds the path and operation.
pub trait FileSystem: Send + Sync + fmt::Debug {
    /// Creates the new, empty regular file `path` (`O_CREAT | O_EXCL`, mode 0644), open for
    /// reading and writing.
    ///
    /// # Errors
    /// `path` exists, its directory does not, or the system refuses.
    fn create_file(&self, path: &Path) -> io::Result<File>;

    /// Appends `bytes` to `file`, which was created at `path`.
    ///
    /// # Errors
    /// The write fails (a full disk, an I/O error).
    fn write(&self, file: &File, path: &Path, bytes: &[u8]) -> io::Result<()>;

    /// Makes `file`'s contents and length durable (`fdatasync`).
    ///
    /// # Errors
    /// The sync fails; the contents are then of unknown durability.
    fn sync_file(&self, file: &File, path: &Path) -> io::Result<()>;

    /// Creates the directory `path` (mode 0755); its parent must exist.
    ///
    /// # Errors
    /// `path` exists (`AlreadyExists`), or the system refuses.
    fn create_dir(&self, path: &Path) -> io::Result<()>;

    /// Makes the creations, renames, links and removals in the directory `path` durable
    /// (`fsync` of the directory).
    ///
    /// # Errors
    /// `path` cannot be opened, or the sync fails.
    fn sync_dir(&self, path: &Path) -> io::Result<()>;

    /// Renames `from` to `to` (`rename(2)`: a file over a file, a directory over an empty
    /// directory).
    ///
    /// # Errors
    /// As `rename(2)`.
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()>;

    /// Exchanges the two existing entries `a` and `b` atomically
    /// (`renameat2(RENAME_EXCHANGE)`).
    ///
    /// # Errors
    /// `Unsupported`, `EINVAL`, `ENOSYS` or `EOPNOTSUPP` where the system or file system
    /// cannot (the caller falls back to two renames); otherwise as `renameat2(2)`.
    fn exchange(&self, a: &Path, b: &Path) -> io::Result<()>;

    /// Makes `to` a hard link to the file `rel` of the directory open as `dir`, which is
    /// `dir_path` (for a model of the file system; the link is made through `dir`).
    ///
    /// # Errors
    /// As `linkat(2)`: `to` exists, the file system has no hard links, …
    fn hard_link(
        &self,
        dir: BorrowedFd<'_>,
        dir_path: &Path,
        rel: &Path,
        to: &Path,
    ) -> io::Result<()>;

    /// Removes the file `path`.
    ///
    /// # Errors
    /// As `unlink(2)`, including `NotFound`.
    fn remove_file(&self, path: &Path) -> io::Result<()>;

    /// Removes the directory `path` and everything in it.
    ///
    /// # Errors
    /// As [`std::fs::remove_dir_all`], including `NotFound`.
    fn remove_dir_all(&self, path: &Path) -> io::Result<()>;
}

/// The operating system's file system: every operation is the system call it names.
#[derive(Debug, Clone, Copy, Default)]
pub struct OsFileSystem;

impl FileSystem for OsFileSystem {
    fn create_file(&self, path: &Path) -> io::Result<File> {
        use std::os::unix::fs::OpenOptionsExt;
        fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(FILE_MODE)
            .open(path)
    }

    fn write(&self, file: &File, _path: &Path, bytes: &[u8]) -> io::Result<()> {
        (&*file).write_all(bytes)
    }

    fn sync_file(&self, file: &File, _path: &Path) -> io::Result<()> {
        file.sync_data()
    }

    fn create_dir(&self, path: &Path) -> io::Result<()> {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new().mode(DIR_MODE).create(path)
    }

    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        File::open(path).and_then(|d| d.sync_all())
    }

    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        fs::rename(from, to)
    }

    fn exchange(&self, a: &Path, b: &Path) -> io::Result<()> {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            rfs::renameat_with(CWD, a, CWD, b, rfs::RenameFlags::EXCHANGE)
                .map_err(|e| io::Error::from_raw_os_error(e.raw_os_error()))
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        {
            let _ = (a, b);
            Err(io::ErrorKind::Unsupported.into())
        }
    }

    fn hard_link(
        &self,
        dir: BorrowedFd<'_>,
        _dir_path: &Path,
        rel: &Path,
        to: &Path,
    ) -> io::Result<()> {
        rfs::linkat(dir, rel, CWD, to, AtFlags::empty())
            .map_err(|e| io::Error::from_raw_os_error(e.raw_os_error()))
    }

    fn remove_file(&self, path: &Path) -> io::Result<()> {
        fs::remove_file(path)
    }

    fn remove_dir_all(&self, path: &Path) -> io::Result<()> {
        fs::remove_dir_all(path)
    }
}

/// The operating system's file system, shared.
pub(crate) fn os() -> Arc<dyn FileSystem> {
    static OS: OnceLock<Arc<dyn FileSystem>> = OnceLock::new();
    OS.get_or_init(|| Arc::new(OsFileSystem)).clone()
}
