//! The crate-level [`Error`], built from one error enum per layer.
//!
//! Every error that concerns stored data names the file it was found in; errors about a
//! chunk also name the chunk's grid coordinates and, where there is one, the byte offset.

use std::path::PathBuf;

pub use crate::codec::CodecError;
pub use crate::format::FormatError;
pub use crate::storage::StorageError;

/// Anything that can go wrong in outcore.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Metadata, shard index or sidecar bytes that break the format.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// A file system operation failed.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A chunk could not be encoded or decoded.
    #[error(transparent)]
    Codec(#[from] CodecError),
    /// The zarrs crate, which reads arrays outside outcore's fast path, reported a problem.
    #[error("{path}: {message}")]
    Foreign {
        /// The array directory.
        path: PathBuf,
        /// What zarrs said.
        message: String,
    },
    /// A file being imported (`.npy`, raw binary, CSV) is malformed or does not match what
    /// was asked for.
    #[error("{path}: {message}")]
    Input {
        /// The input file.
        path: PathBuf,
        /// What is wrong, and where in the file when known (a line, a byte offset).
        message: String,
    },
    /// The caller asked for something that does not fit the array (wrong chunk coordinates,
    /// a data slice of the wrong length, a mismatched element type, …).
    #[error("{0}")]
    InvalidArgument(String),
}

impl Error {
    /// This error with a file-system path under `from` renamed to the same path under `to`:
    /// whatever is built in a temporary directory reports the path it is being built for.
    pub(crate) fn relocated(self, from: &std::path::Path, to: &std::path::Path) -> Error {
        match self {
            Error::Storage(StorageError::Io { path, op, source }) => {
                let path = match path.strip_prefix(from) {
                    Ok(rest) if rest.as_os_str().is_empty() => to.to_owned(),
                    Ok(rest) => to.join(rest),
                    Err(_) => path,
                };
                Error::Storage(StorageError::Io { path, op, source })
            }
            other => other,
        }
    }
}

/// `Result` with outcore's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Shorthand for an [`Error::Input`].
pub(crate) fn bad_input(path: &std::path::Path, message: impl Into<String>) -> Error {
    Error::Input {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// Shorthand for an [`Error::InvalidArgument`].
pub(crate) fn invalid(message: impl Into<String>) -> Error {
    Error::InvalidArgument(message.into())
}
