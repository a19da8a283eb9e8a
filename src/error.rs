//! The crate-level [`Error`], built from one error enum per layer, and the [`ErrorKind`] a
//! caller matches on.
//!
//! Every error that concerns stored data names the file it was found in; errors about a
//! chunk also name the chunk's grid coordinates and, where there is one, the byte offset.
//! Messages speak of the library's concepts (arrays, axes, chunks, options); the binary adds
//! its flag hints.

use std::path::PathBuf;

pub(crate) use crate::codec::CodecError;
pub(crate) use crate::format::FormatError;
pub(crate) use crate::storage::StorageError;

/// What kind of failure an [`Error`] is: the part of an error a program matches on.
///
/// ```
/// use outcore::{ErrorKind, LazyArray};
///
/// let x = LazyArray::zeros(&[3, 4], outcore::DataType::Float64);
/// let y = LazyArray::zeros(&[5], outcore::DataType::Float64);
/// let err = LazyArray::binary(outcore::BinaryOp::Add, &x, &y).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::ShapeMismatch);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An argument that makes no sense on its own (a zero chunk extent, a zero step, an empty
    /// list of inputs, a malformed name).
    InvalidArgument,
    /// An element type that does not fit the operation (a `u8` buffer for a `float64` array,
    /// a bitwise operation on floats, an integer to a negative integer power).
    TypeMismatch,
    /// Shapes that do not fit together (broadcasting, stacking, reshaping, a data slice of
    /// the wrong length).
    ShapeMismatch,
    /// An index, axis, coordinate or scalar outside the range it must lie in.
    OutOfBounds,
    /// A result, block or count too large for memory or for 64-bit addressing.
    TooLarge,
    /// Something valid that outcore does not do (a data type, a codec, an option).
    Unsupported,
    /// A store node or file that does not exist.
    NotFound,
    /// A node already exists where a new one was to be created.
    AlreadyExists,
    /// An input file being imported (`.npy`, raw binary, CSV) is malformed.
    MalformedInput,
    /// Stored bytes that break the format: metadata, shard index, chunk data or sidecar.
    Corrupt,
    /// The operating system reported an I/O error.
    Io,
    /// The computation was cancelled by its caller.
    Cancelled,
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::TypeMismatch => "type mismatch",
            ErrorKind::ShapeMismatch => "shape mismatch",
            ErrorKind::OutOfBounds => "out of bounds",
            ErrorKind::TooLarge => "too large",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::NotFound => "not found",
            ErrorKind::AlreadyExists => "already exists",
            ErrorKind::MalformedInput => "malformed input",
            ErrorKind::Corrupt => "corrupt data",
            ErrorKind::Io => "I/O error",
            ErrorKind::Cancelled => "cancelled",
        })
    }
}

/// Anything that can go wrong in outcore. [`Error::kind`] tells what kind of failure it is.
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
    #[error("{path}: {context}")]
    Foreign {
        /// The array directory.
        path: PathBuf,
        /// What outcore was doing.
        context: String,
        /// The error zarrs returned.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
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
    /// The caller asked for something that does not fit the arrays involved (mismatched
    /// shapes or types, an index out of bounds, a result too large for memory, …).
    #[error("{message}")]
    Argument {
        /// Which kind of mistake: never [`ErrorKind::Corrupt`], [`ErrorKind::Io`] or
        /// [`ErrorKind::MalformedInput`].
        kind: ErrorKind,
        /// What is wrong, in the library's words.
        message: String,
    },
    /// The caller cancelled the computation (see [`crate::Compute::cancel_with`]).
    #[error("computation cancelled")]
    Cancelled,
}

impl Error {
    /// An error of `kind` with `message`: for user code that plugs into outcore (block
    /// kernels of [`crate::LazyArray::map_blocks`], [`crate::RegionSource`]s).
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        argument(kind, message)
    }

    /// The kind of failure, for callers that react to some kinds differently.
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Format(e) => match e {
                FormatError::MissingMetadata { .. } => ErrorKind::NotFound,
                FormatError::UnsupportedDataType { .. } => ErrorKind::Unsupported,
                FormatError::SidecarRead { .. } => ErrorKind::Io,
                _ => ErrorKind::Corrupt,
            },
            Error::Storage(StorageError::Io { source, .. }) => match source.kind() {
                std::io::ErrorKind::NotFound => ErrorKind::NotFound,
                std::io::ErrorKind::AlreadyExists => ErrorKind::AlreadyExists,
                _ => ErrorKind::Io,
            },
            Error::Storage(StorageError::Symlink { .. }) => ErrorKind::Unsupported,
            Error::Storage(StorageError::NotRegular { .. }) => ErrorKind::Corrupt,
            Error::Codec(CodecError::Encode(_)) => ErrorKind::Io,
            Error::Codec(_) => ErrorKind::Corrupt,
            Error::Foreign { .. } => ErrorKind::Corrupt,
            Error::Input { .. } => ErrorKind::MalformedInput,
            Error::Argument { kind, .. } => *kind,
            Error::Cancelled => ErrorKind::Cancelled,
        }
    }

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
            Error::Argument { kind, message } => Error::Argument {
                kind,
                message: message.replace(&from.display().to_string(), &to.display().to_string()),
            },
            other => other,
        }
    }
}

/// `Result` with outcore's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Shorthand for an [`Error::Input`].
#[cfg(feature = "convert")]
pub(crate) fn bad_input(path: &std::path::Path, message: impl Into<String>) -> Error {
    Error::Input {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// An [`Error::Argument`] of `kind`.
pub(crate) fn argument(kind: ErrorKind, message: impl Into<String>) -> Error {
    Error::Argument {
        kind,
        message: message.into(),
    }
}

/// An [`ErrorKind::InvalidArgument`] error.
pub(crate) fn invalid(message: impl Into<String>) -> Error {
    argument(ErrorKind::InvalidArgument, message)
}

/// An [`ErrorKind::TypeMismatch`] error.
pub(crate) fn type_mismatch(message: impl Into<String>) -> Error {
    argument(ErrorKind::TypeMismatch, message)
}

/// An [`ErrorKind::ShapeMismatch`] error.
pub(crate) fn shape_mismatch(message: impl Into<String>) -> Error {
    argument(ErrorKind::ShapeMismatch, message)
}

/// An [`ErrorKind::OutOfBounds`] error.
pub(crate) fn out_of_bounds(message: impl Into<String>) -> Error {
    argument(ErrorKind::OutOfBounds, message)
}

/// An [`ErrorKind::TooLarge`] error.
#[cfg_attr(not(feature = "engine"), allow(dead_code))]
pub(crate) fn too_large(message: impl Into<String>) -> Error {
    argument(ErrorKind::TooLarge, message)
}

/// An [`ErrorKind::Unsupported`] error.
pub(crate) fn unsupported(message: impl Into<String>) -> Error {
    argument(ErrorKind::Unsupported, message)
}

/// An [`ErrorKind::AlreadyExists`] error.
pub(crate) fn already_exists(message: impl Into<String>) -> Error {
    argument(ErrorKind::AlreadyExists, message)
}
