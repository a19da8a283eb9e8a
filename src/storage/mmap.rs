//! Read-only memory maps of whole files.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};

use memmap2::{Advice, Mmap, UncheckedAdvice};

use super::{io_err, StorageError};

/// Page granularity assumed when releasing ranges (rounding inward, so a smaller real page
/// size only means slightly less is released).
const RELEASE_GRANULE: usize = 4096;

/// A whole file mapped read-only.
#[derive(Debug)]
pub struct MappedFile {
    map: Option<Mmap>,
    path: PathBuf,
}

impl MappedFile {
    /// Maps `path`; `Ok(None)` if it does not exist. An empty file is not mapped and reads
    /// as no bytes.
    ///
    /// # Errors
    /// `path` cannot be opened for another reason than not existing, or its metadata read,
    /// or it cannot be mapped.
    pub fn open(path: &Path) -> Result<Option<Self>, StorageError> {
        match File::open(path) {
            Ok(file) => Self::from_file(file, path.to_owned()).map(Some),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(path, "open")(e)),
        }
    }

    /// Maps the open `file`, which `path` names in errors.
    ///
    /// # Errors
    /// Its metadata cannot be read, or it cannot be mapped.
    pub fn from_file(file: File, path: PathBuf) -> Result<Self, StorageError> {
        let path = path.as_path();
        let len = file.metadata().map_err(io_err(path, "stat"))?.len();
        let map = if len == 0 {
            None
        } else {
            // SAFETY: the mapping is read-only, and outcore never changes a file it has
            // published: writers build a new file and rename it over the old one, so this
            // inode is never truncated or rewritten while mapped (no SIGBUS, no torn reads).
            // A foreign process writing into the file in place would break that contract;
            // the format spec tells writers not to.
            Some(unsafe { Mmap::map(&file) }.map_err(io_err(path, "map"))?)
        };
        Ok(Self {
            map,
            path: path.to_owned(),
        })
    }

    /// The file's bytes.
    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }

    /// The file's length.
    pub fn len(&self) -> u64 {
        self.bytes().len() as u64
    }

    /// Whether the file is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes().is_empty()
    }

    /// The mapped file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Asks the kernel to map the pages of `range` now, in one call, instead of one page
    /// fault per page on first touch (Linux 5.14+; elsewhere, or on error, nothing happens:
    /// this is advice).
    pub fn populate(&self, range: Range<usize>) {
        let Some(map) = &self.map else { return };
        let end = range.end.min(map.len());
        let start = range.start - range.start % RELEASE_GRANULE;
        if start < end {
            let _ = map.advise_range(Advice::PopulateRead, start, end - start);
        }
    }

    /// Tells the kernel the pages of `range` are no longer needed, so a streaming pass does
    /// not pile them up in the resident set. Later reads of the range fault them back in
    /// from the file, so this never changes what is read. Errors are ignored: releasing is
    /// advice.
    pub fn release(&self, range: Range<usize>) {
        let Some(map) = &self.map else { return };
        let start = range.start.next_multiple_of(RELEASE_GRANULE);
        let end = if range.end >= map.len() {
            map.len()
        } else {
            range.end - range.end % RELEASE_GRANULE
        };
        if start >= end {
            return;
        }
        // SAFETY: MADV_DONTNEED on a read-only, file-backed shared mapping drops the cached
        // pages; the next access re-reads them from the file, which outcore never modifies in
        // place (see `open`). No reference observes different bytes afterwards.
        let _ =
            unsafe { map.unchecked_advise_range(UncheckedAdvice::DontNeed, start, end - start) };
    }
}
