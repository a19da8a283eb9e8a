//! Generations of a directory. A reader opens an array's directory once, holds a shared
//! `flock` on it and opens every file relative to that descriptor (a [`Snapshot`]), so it
//! reads one generation however often writers replace the directory. A writer builds the next
//! generation in a [`StagingDir`] it holds an exclusive lock on, exchanges it with the
//! published one, and removes the old generation only when no reader holds it. Leftovers of
//! killed writers are recognised by their name and removed once nobody holds them
//! ([`clean_leftovers`]). Reads refuse FIFOs and other non-regular files, and symbolic links
//! unless asked. The protocol is `format-spec/commit-protocol.md`.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use rustix::fs::{self as rfs, AtFlags, FileType, FlockOperation, Mode, OFlags};
use rustix::io::Errno;

use super::commit::{create_temp_dir_in, sync_dir, TEMP_PREFIX};
use super::fs::FileSystem;
use super::{io_err, MappedFile, StorageError};

/// Prefix of the name an existing array is moved aside to when the file system cannot
/// exchange two directories (`.outcore-tmp-aside-<name>`); a temporary name like any other.
pub const ASIDE_PREFIX: &str = ".outcore-tmp-aside-";

/// Attempts at opening a directory that stays the published one until its lock is held, and
/// at creating a staging directory no cleaner removes first. Each retry means a writer
/// replaced the directory in between: a hundred in a row is a writer gone wild.
const MAX_TRIES: usize = 100;

/// Set (to anything) to publish with the portable two-rename fallback even where directories
/// can be exchanged atomically; for the crash tests of that fallback.
pub const NO_EXCHANGE_ENV: &str = "OUTCORE_TEST_NO_RENAME_EXCHANGE";

fn os_err(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e.raw_os_error())
}

fn describe(file_type: FileType) -> &'static str {
    match file_type {
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        FileType::CharacterDevice => "a character device",
        FileType::BlockDevice => "a block device",
        FileType::Directory => "a directory",
        FileType::Symlink => "a symbolic link",
        _ => "not a regular file",
    }
}

/// Opens `rel` (its normal components, one at a time) under the directory `base`, which
/// `shown` names in errors: every component a directory but the last, which is one too when
/// `directory`. Symbolic links are refused at every step unless `follow`; nothing blocks
/// (`O_NONBLOCK`, so a FIFO opens at once, to be refused by the caller). `Ok(None)` when a
/// component does not exist or is not a directory.
fn open_beneath(
    base: BorrowedFd<'_>,
    shown: &Path,
    rel: &Path,
    directory: bool,
    follow: bool,
) -> Result<Option<OwnedFd>, StorageError> {
    let parts: Vec<&std::ffi::OsStr> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(p) => Some(p),
            _ => None,
        })
        .collect();
    if parts.is_empty() {
        let fd = base.try_clone_to_owned().map_err(io_err(shown, "open"))?;
        return Ok(Some(fd));
    }
    if let Some(done) = open_in_one_step(base, rel, directory, follow) {
        return done.map_err(|e| io_err(&shown.join(rel), "open")(os_err(e)));
    }
    let mut here = shown.to_owned();
    let mut current: Option<OwnedFd> = None;
    for (i, part) in parts.iter().enumerate() {
        here.push(part);
        let mut flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK;
        if directory || i + 1 < parts.len() {
            flags |= OFlags::DIRECTORY;
        }
        if !follow {
            flags |= OFlags::NOFOLLOW;
        }
        let at = current.as_ref().map_or(base, |fd| fd.as_fd());
        match rfs::openat(at, *part, flags, Mode::empty()) {
            Ok(fd) => current = Some(fd),
            Err(Errno::NOENT) => return Ok(None),
            Err(e @ (Errno::LOOP | Errno::NOTDIR)) => {
                let is_link = rfs::statat(at, *part, AtFlags::SYMLINK_NOFOLLOW)
                    .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::Symlink);
                if is_link && !follow {
                    return Err(StorageError::Symlink { path: here });
                }
                if e == Errno::NOTDIR {
                    return Ok(None);
                }
                return Err(io_err(&here, "open")(os_err(e)));
            }
            Err(e) => return Err(io_err(&here, "open")(os_err(e))),
        }
    }
    Ok(current)
}

/// [`open_beneath`] in one system call where it can be: `openat` when links are followed,
/// `openat2` with `RESOLVE_NO_SYMLINKS` on Linux when not. `None` when the component walk
/// must decide: a link was met (the walk names it), or `openat2` is unavailable.
fn open_in_one_step(
    base: BorrowedFd<'_>,
    rel: &Path,
    directory: bool,
    follow: bool,
) -> Option<Result<Option<OwnedFd>, Errno>> {
    let mut flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK;
    if directory {
        flags |= OFlags::DIRECTORY;
    }
    let opened = if follow {
        rfs::openat(base, rel, flags, Mode::empty())
    } else {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            let resolve = rfs::ResolveFlags::NO_SYMLINKS | rfs::ResolveFlags::BENEATH;
            rfs::openat2(base, rel, flags, Mode::empty(), resolve)
        }
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        return None;
    };
    match opened {
        Ok(fd) => Some(Ok(Some(fd))),
        Err(Errno::NOENT | Errno::NOTDIR) => Some(Ok(None)),
        // A link refused (the walk names it), no `openat2` (an old kernel, a seccomp
        // filter), or a followed link that loops: the walk says which.
        Err(Errno::LOOP | Errno::NOSYS | Errno::PERM | Errno::XDEV | Errno::INVAL) => None,
        Err(e) => Some(Err(e)),
    }
}

/// Opens the directory `root` (following links: the caller chose it), then `rel` below it.
fn open_dir(root: &Path, rel: &Path, follow: bool) -> Result<Option<OwnedFd>, StorageError> {
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::DIRECTORY;
    let root_fd = match rfs::open(root, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT | Errno::NOTDIR) => return Ok(None),
        Err(e) => return Err(io_err(root, "open")(os_err(e))),
    };
    if rel.as_os_str().is_empty() {
        return Ok(Some(root_fd));
    }
    open_beneath(root_fd.as_fd(), root, rel, true, follow)
}

fn same_file(a: &OwnedFd, b: &OwnedFd) -> io::Result<bool> {
    let (a, b) = (
        rfs::fstat(a).map_err(os_err)?,
        rfs::fstat(b).map_err(os_err)?,
    );
    Ok(a.st_dev == b.st_dev && a.st_ino == b.st_ino)
}

/// What a directory entry is, without following it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    /// A directory (or, when links are followed, a link to one).
    Dir,
    /// A regular file, or anything else a read would have to look at: a symbolic link not
    /// followed, a FIFO (reading it gives the error that names it).
    File,
}

/// One generation of a directory: its descriptor, held with a shared `flock` for the
/// snapshot's life, every file opened relative to it.
#[derive(Debug)]
pub(crate) struct Snapshot {
    fd: OwnedFd,
    path: PathBuf,
    follow: bool,
}

impl Snapshot {
    /// Opens the directory `root/rel` as it is now (`Ok(None)` when it does not exist) and
    /// takes a shared lock on it. A directory replaced between the open and the lock is
    /// opened again, so the snapshot is of a generation that was published when its lock was
    /// taken, and which no writer removes while it is held.
    ///
    /// # Errors
    /// A component of `rel` is a symbolic link and `follow` is false; the directory cannot be
    /// opened or locked; it was replaced [`MAX_TRIES`] times in a row.
    pub(crate) fn open(
        root: &Path,
        rel: &Path,
        follow: bool,
    ) -> Result<Option<Snapshot>, StorageError> {
        let path = root.join(rel);
        for _ in 0..MAX_TRIES {
            let Some(fd) = open_dir(root, rel, follow)? else {
                return Ok(None);
            };
            rfs::flock(&fd, FlockOperation::LockShared)
                .map_err(|e| io_err(&path, "lock")(os_err(e)))?;
            let Some(again) = open_dir(root, rel, follow)? else {
                continue;
            };
            if same_file(&fd, &again).map_err(io_err(&path, "stat"))? {
                return Ok(Some(Snapshot { fd, path, follow }));
            }
        }
        Err(io_err(&path, "open")(io::Error::other(
            "the directory was replaced by writers every time it was opened",
        )))
    }

    /// Opens the regular file `rel` of this generation; `Ok(None)` if it does not exist.
    ///
    /// # Errors
    /// `rel` is a FIFO, socket, device or directory ([`StorageError::NotRegular`]), or a
    /// symbolic link not followed ([`StorageError::Symlink`]); it cannot be opened.
    pub(crate) fn open_file(&self, rel: &Path) -> Result<Option<File>, StorageError> {
        let shown = self.path.join(rel);
        let Some(fd) = open_beneath(self.fd.as_fd(), &self.path, rel, false, self.follow)? else {
            return Ok(None);
        };
        let st = rfs::fstat(&fd).map_err(|e| io_err(&shown, "stat")(os_err(e)))?;
        let file_type = FileType::from_raw_mode(st.st_mode);
        if file_type != FileType::RegularFile {
            return Err(StorageError::NotRegular {
                path: shown,
                what: describe(file_type),
            });
        }
        Ok(Some(File::from(fd)))
    }

    /// The contents of the regular file `rel`; `Ok(None)` if it does not exist.
    ///
    /// # Errors
    /// As [`Snapshot::open_file`]; reading fails.
    pub(crate) fn read(&self, rel: &Path) -> Result<Option<Vec<u8>>, StorageError> {
        let Some(mut file) = self.open_file(rel)? else {
            return Ok(None);
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)
            .map_err(io_err(&self.path.join(rel), "read"))?;
        Ok(Some(bytes))
    }

    /// The regular file `rel`, mapped; `Ok(None)` if it does not exist.
    ///
    /// # Errors
    /// As [`Snapshot::open_file`]; mapping fails.
    pub(crate) fn map(&self, rel: &Path) -> Result<Option<MappedFile>, StorageError> {
        match self.open_file(rel)? {
            Some(file) => MappedFile::from_file(file, self.path.join(rel)).map(Some),
            None => Ok(None),
        }
    }

    /// Whether `rel` is a regular file (not following a final link unless links are).
    pub(crate) fn is_file(&self, rel: &Path) -> bool {
        let flags = if self.follow {
            AtFlags::empty()
        } else {
            AtFlags::SYMLINK_NOFOLLOW
        };
        rfs::statat(&self.fd, rel, flags)
            .is_ok_and(|st| FileType::from_raw_mode(st.st_mode) == FileType::RegularFile)
    }

    /// The entries of the directory `rel` of this generation (none when it does not exist),
    /// without `.` and `..`.
    ///
    /// # Errors
    /// `rel` is a symbolic link not followed, or cannot be opened or listed.
    pub(crate) fn list(&self, rel: &Path) -> Result<Vec<(OsString, EntryKind)>, StorageError> {
        let shown = self.path.join(rel);
        let Some(fd) = open_beneath(self.fd.as_fd(), &self.path, rel, true, self.follow)? else {
            return Ok(Vec::new());
        };
        let dir = rfs::Dir::read_from(&fd).map_err(|e| io_err(&shown, "list")(os_err(e)))?;
        let mut out = Vec::new();
        for entry in dir {
            let entry = entry.map_err(|e| io_err(&shown, "list")(os_err(e)))?;
            let name = entry.file_name().to_bytes();
            if name == b"." || name == b".." {
                continue;
            }
            let mut file_type = entry.file_type();
            if file_type == FileType::Unknown || (self.follow && file_type == FileType::Symlink) {
                let flags = if self.follow {
                    AtFlags::empty()
                } else {
                    AtFlags::SYMLINK_NOFOLLOW
                };
                if let Ok(st) = rfs::statat(&fd, entry.file_name(), flags) {
                    file_type = FileType::from_raw_mode(st.st_mode);
                }
            }
            let kind = if file_type == FileType::Directory {
                EntryKind::Dir
            } else {
                EntryKind::File
            };
            out.push((std::ffi::OsStr::from_bytes(name).to_owned(), kind));
        }
        Ok(out)
    }

    /// A path that names this generation for as long as the snapshot lives, for code that
    /// opens files by path (zarrs): `/proc/self/fd/N` where the system has it, else the
    /// directory's path.
    pub(crate) fn stable_path(&self) -> PathBuf {
        use std::os::fd::AsRawFd;
        let proc = PathBuf::from(format!("/proc/self/fd/{}", self.fd.as_raw_fd()));
        if proc.is_dir() {
            proc
        } else {
            self.path.clone()
        }
    }

    /// Makes `dest` a hard link to the file `rel` of this generation, through `fs`.
    pub(crate) fn link(&self, fs: &dyn FileSystem, rel: &Path, dest: &Path) -> io::Result<()> {
        fs.hard_link(self.fd.as_fd(), &self.path, rel, dest)
    }
}

/// The contents of the regular file `path`, not following it if it is a symbolic link unless
/// `follow`; `Ok(None)` if it does not exist or a component of `path` is not a directory.
/// Never blocks on a FIFO.
///
/// # Errors
/// `path` is a FIFO, socket, device or directory, or a link not followed; it cannot be read.
pub(crate) fn read_regular_file(
    path: &Path,
    follow: bool,
) -> Result<Option<Vec<u8>>, StorageError> {
    let mut flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK;
    if !follow {
        flags |= OFlags::NOFOLLOW;
    }
    let fd = match rfs::open(path, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT | Errno::NOTDIR) => return Ok(None),
        Err(Errno::LOOP) if !follow => {
            return Err(StorageError::Symlink {
                path: path.to_owned(),
            })
        }
        Err(e) => return Err(io_err(path, "open")(os_err(e))),
    };
    let st = rfs::fstat(&fd).map_err(|e| io_err(path, "stat")(os_err(e)))?;
    let file_type = FileType::from_raw_mode(st.st_mode);
    if file_type != FileType::RegularFile {
        return Err(StorageError::NotRegular {
            path: path.to_owned(),
            what: describe(file_type),
        });
    }
    let mut bytes = Vec::new();
    File::from(fd)
        .read_to_end(&mut bytes)
        .map_err(io_err(path, "read"))?;
    Ok(Some(bytes))
}

/// `path`'s directory, `.` for a bare name.
pub(crate) fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// An exclusive lock on `path` (a file or directory, not followed) if nobody else holds a
/// lock on it and it is still linked under that name: the proof that no live outcore reader
/// or writer owns it. `Ok(None)` otherwise.
fn lock_if_unowned(path: &Path) -> Result<Option<OwnedFd>, StorageError> {
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOFOLLOW;
    let fd = match rfs::open(path, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT | Errno::LOOP) => return Ok(None),
        Err(e) => return Err(io_err(path, "open")(os_err(e))),
    };
    lock_held_file(fd, path)
}

/// `fd` (opened from `path`) locked exclusively, if no one else holds a lock and `path`
/// still names it.
fn lock_held_file(fd: OwnedFd, path: &Path) -> Result<Option<OwnedFd>, StorageError> {
    match rfs::flock(&fd, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(Errno::WOULDBLOCK) => return Ok(None),
        Err(e) => return Err(io_err(path, "lock")(os_err(e))),
    }
    let held = rfs::fstat(&fd).map_err(|e| io_err(path, "stat")(os_err(e)))?;
    match rfs::lstat(path) {
        Ok(now) if now.st_dev == held.st_dev && now.st_ino == held.st_ino && held.st_nlink > 0 => {
            Ok(Some(fd))
        }
        _ => Ok(None),
    }
}

/// Runs `f` holding an exclusive lock on the directory `dir`, waiting for it: writers that
/// rewrite a file describing what the directory holds (a store's consolidated metadata) take
/// turns, so the last one to write has seen what every other one published.
///
/// # Errors
/// `dir` cannot be opened or locked.
pub(crate) fn with_dir_lock<R>(dir: &Path, f: impl FnOnce() -> R) -> Result<R, StorageError> {
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::DIRECTORY;
    let fd = rfs::open(dir, flags, Mode::empty()).map_err(|e| io_err(dir, "open")(os_err(e)))?;
    rfs::flock(&fd, FlockOperation::LockExclusive).map_err(|e| io_err(dir, "lock")(os_err(e)))?;
    let result = f();
    drop(fd);
    Ok(result)
}

/// Locks the temporary file `file` (just created at `path`) exclusively for as long as it is
/// open, so cleaners leave it alone; `false` if a cleaner got to it first (the caller makes
/// another).
pub(crate) fn lock_new_temp_file(file: &File, path: &Path) -> Result<bool, StorageError> {
    let fd = file
        .as_fd()
        .try_clone_to_owned()
        .map_err(io_err(path, "lock"))?;
    // The lock belongs to the open file description, which the clone shares with `file`.
    Ok(lock_held_file(fd, path)?.is_some())
}

/// Removes the temporary file or directory `path` if no live reader or writer holds it.
/// Returns whether it was removed.
fn remove_if_unowned(fs: &dyn FileSystem, path: &Path) -> Result<bool, StorageError> {
    let Some(lock) = lock_if_unowned(path)? else {
        return Ok(false);
    };
    let is_dir = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
    let removed = if is_dir {
        fs.remove_dir_all(path)
    } else {
        fs.remove_file(path)
    };
    drop(lock);
    match removed {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(io_err(path, "remove")(e)),
    }
}

/// The name `target` is moved aside to by the two-rename fallback.
fn aside_of(target: &Path) -> Option<PathBuf> {
    let name = target.file_name()?;
    let mut aside = OsString::from(ASIDE_PREFIX);
    aside.push(name);
    Some(parent_of(target).join(aside))
}

/// Puts a generation moved aside by an interrupted two-rename swap back at `target` when
/// `target` is missing. Returns whether it did.
///
/// # Errors
/// The rename or the parent's sync fails.
pub(crate) fn recover(fs: &dyn FileSystem, target: &Path) -> Result<bool, StorageError> {
    let Some(aside) = aside_of(target) else {
        return Ok(false);
    };
    if std::fs::symlink_metadata(target).is_ok() || std::fs::symlink_metadata(&aside).is_err() {
        return Ok(false);
    }
    match fs.rename(&aside, target) {
        Ok(()) => {}
        // Another process recovered it, or a writer moved it on, first.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io_err(target, "recover from")(e)),
    }
    sync_dir(fs, parent_of(target))?;
    Ok(true)
}

/// Removes every leftover temporary file or directory (`.outcore-tmp-*`) directly in `dir`
/// that no live reader or writer holds, after putting back any array an interrupted
/// two-rename swap left aside. Returns what was removed.
///
/// # Errors
/// `dir` cannot be listed, or a leftover cannot be removed.
pub(crate) fn clean_leftovers(
    fs: &dyn FileSystem,
    dir: &Path,
) -> Result<Vec<PathBuf>, StorageError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(dir, "list")(e)),
    };
    let mut removed = Vec::new();
    for entry in entries {
        let name = entry.map_err(io_err(dir, "list"))?.file_name();
        let bytes = name.as_bytes();
        if !bytes.starts_with(TEMP_PREFIX.as_bytes()) {
            continue;
        }
        let path = dir.join(&name);
        if let Some(target) = bytes.strip_prefix(ASIDE_PREFIX.as_bytes()) {
            let target = dir.join(std::ffi::OsStr::from_bytes(target));
            if !target.as_os_str().is_empty() && recover(fs, &target)? {
                continue;
            }
        }
        if remove_if_unowned(fs, &path)? {
            removed.push(path);
        }
    }
    Ok(removed)
}

/// A directory being built under a temporary name in the parent of its destination, held
/// with an exclusive lock so no cleaner removes it, and removed on drop unless published.
#[derive(Debug)]
pub(crate) struct StagingDir {
    fs: Arc<dyn FileSystem>,
    path: PathBuf,
    lock: Option<OwnedFd>,
    published: bool,
}

impl StagingDir {
    /// Creates and locks a new staging directory in `parent`.
    ///
    /// # Errors
    /// `parent` is missing, not a directory or not writable.
    pub(crate) fn create_in(
        fs: &Arc<dyn FileSystem>,
        parent: &Path,
    ) -> Result<StagingDir, StorageError> {
        for _ in 0..MAX_TRIES {
            let path = create_temp_dir_in(&**fs, parent)?;
            let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::DIRECTORY | OFlags::NOFOLLOW;
            let fd = match rfs::open(&path, flags, Mode::empty()) {
                Ok(fd) => fd,
                // A cleaner removed it before it was locked: make another.
                Err(Errno::NOENT) => continue,
                Err(e) => return Err(io_err(&path, "open")(os_err(e))),
            };
            if let Some(lock) = lock_held_file(fd, &path)? {
                return Ok(StagingDir {
                    fs: fs.clone(),
                    path,
                    lock: Some(lock),
                    published: false,
                });
            }
        }
        Err(io_err(
            parent,
            "creating a temporary directory in this directory",
        )(io::Error::other(
            "every new directory was removed before it could be locked",
        )))
    }

    /// The staging directory's path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Publishes the finished directory `built` — this staging directory itself (`inside`
    /// `None`) or its entry `inside` — at `target`, and syncs `target`'s parent. An existing
    /// `target` is exchanged with `built` in one `renameat2(RENAME_EXCHANGE)`, so `target`
    /// never disappears; where directories cannot be exchanged, it is moved aside to
    /// `.outcore-tmp-aside-<name>` and `built` renamed in (an interruption between the two is
    /// undone by [`recover`]). The old generation is then removed if no reader holds it, and
    /// otherwise (or if removing it fails) left under a temporary name for
    /// [`clean_leftovers`].
    ///
    /// # Errors
    /// A rename or the sync fails; the publication is then undone, so the old `target` is
    /// still in place (or, after a failure between the fallback's two renames that could not
    /// be undone, aside, where the next open or write finds it).
    pub(crate) fn publish(
        mut self,
        inside: Option<&str>,
        target: &Path,
    ) -> Result<(), StorageError> {
        let built = match inside {
            Some(name) => self.path.join(name),
            None => self.path.clone(),
        };
        let fs = &*self.fs;
        let parent = parent_of(target);
        recover(fs, target)?;
        let old = if std::fs::symlink_metadata(target).is_ok() {
            Some(swap(fs, &built, target)?)
        } else {
            fs.rename(&built, target)
                .map_err(io_err(target, "rename into place"))?;
            None
        };
        if let Err(e) = sync_dir(fs, parent) {
            // Not known to be durable: put the old generation back, so that an error means
            // the old array (the staging directory, holding the new one, goes on drop).
            unswap(fs, &built, target, old.as_deref());
            return Err(e);
        }
        if inside.is_none() {
            // `self.path` now holds the old generation, or nothing: not ours to remove. The
            // new generation is the locked directory, and its readers wait for the lock.
            self.published = true;
            self.lock = None;
        }
        if let Some(old) = old {
            // The new generation is durable: failing to remove the old one leaves it for
            // the next cleaning, as a reader holding it would.
            let _ = retire(fs, &old, parent);
        }
        Ok(())
    }
}

impl Drop for StagingDir {
    fn drop(&mut self) {
        if !self.published {
            let _ = self.fs.remove_dir_all(&self.path);
        }
    }
}

/// Whether directories are exchanged with `renameat2(RENAME_EXCHANGE)` (Linux, unless the
/// crash tests ask for the fallback).
fn exchange(fs: &dyn FileSystem, built: &Path, target: &Path) -> io::Result<()> {
    if std::env::var_os(NO_EXCHANGE_ENV).is_some() {
        return Err(io::ErrorKind::Unsupported.into());
    }
    fs.exchange(built, target)
}

/// Replaces the existing `target` with `built`; returns where the old generation is now.
fn swap(fs: &dyn FileSystem, built: &Path, target: &Path) -> Result<PathBuf, StorageError> {
    match exchange(fs, built, target) {
        Ok(()) => return Ok(built.to_owned()),
        Err(e)
            if e.kind() == io::ErrorKind::Unsupported
                || [Errno::INVAL, Errno::NOSYS, Errno::OPNOTSUPP]
                    .iter()
                    .any(|n| e.raw_os_error() == Some(n.raw_os_error())) => {}
        Err(e) => return Err(io_err(target, "exchange into place")(e)),
    }
    let aside = aside_of(target).ok_or_else(|| {
        io_err(target, "rename into place")(io::Error::other("the target has no name"))
    })?;
    if std::fs::symlink_metadata(&aside).is_ok() {
        // An older generation a reader still held when its swap ended: move it out of the way.
        retire_name(fs, &aside, parent_of(target))?;
    }
    fs.rename(target, &aside)
        .map_err(io_err(target, "move aside"))?;
    if let Err(e) = fs.rename(built, target) {
        let _ = fs.rename(&aside, target);
        return Err(io_err(target, "rename into place")(e));
    }
    Ok(aside)
}

/// Undoes a publication of `built` at `target` whose old generation [`swap`] left at `old`
/// (none: `target` did not exist), as far as it can: what it cannot undo, [`recover`] does.
fn unswap(fs: &dyn FileSystem, built: &Path, target: &Path, old: Option<&Path>) {
    match old {
        Some(old) if old == built => {
            let _ = fs.exchange(built, target);
        }
        Some(aside) => {
            if fs.rename(target, built).is_ok() {
                let _ = fs.rename(aside, target);
            }
        }
        None => {
            let _ = fs.rename(target, built);
        }
    }
}

/// Renames the old generation at `old` to a fresh temporary name in `parent`, where cleaners
/// look for it; returns that name.
fn retire_name(fs: &dyn FileSystem, old: &Path, parent: &Path) -> Result<PathBuf, StorageError> {
    let fresh = create_temp_dir_in(fs, parent)?;
    // Renaming a directory over an empty one replaces it.
    if let Err(e) = fs.rename(old, &fresh) {
        let _ = fs.remove_dir_all(&fresh);
        return Err(io_err(old, "move aside")(e));
    }
    Ok(fresh)
}

/// Removes the old generation at `old` if no reader holds it; otherwise leaves it under a
/// temporary name directly in `parent` for a later [`clean_leftovers`].
fn retire(fs: &dyn FileSystem, old: &Path, parent: &Path) -> Result<(), StorageError> {
    let name_ok = old.parent() == Some(parent)
        || (old.parent().is_some_and(|p| p.as_os_str().is_empty()) && parent == Path::new("."));
    let old = if name_ok {
        old.to_owned()
    } else {
        retire_name(fs, old, parent)?
    };
    remove_if_unowned(fs, &old)?;
    Ok(())
}
