//! Layer 2: the on-disk format — array metadata, the chunk grid, the shard index, chunk
//! alignment and the statistics sidecar. Pure byte and arithmetic code: nothing here opens a
//! file. `format-spec/` describes the same structures; the constants below carry its names.

use std::path::PathBuf;

pub(crate) mod grid;
pub(crate) mod layout;
pub(crate) mod metadata;
pub(crate) mod shard_index;
pub(crate) mod stats;

pub(crate) use grid::ChunkGrid;
pub(crate) use metadata::{ArrayMeta, ChunkKeyEncoding, IndexLocation};
pub use shard_index::{ChunkLocation, ShardIndex};
pub use stats::{ChunkStats, StatsTable};

/// The name of the metadata document of every Zarr v3 node.
pub(crate) const METADATA_FILE: &str = "zarr.json";
/// The statistics sidecar, next to an array's `zarr.json` (see `format-spec/stats-sidecar.md`).
pub const STATS_FILE: &str = "outcore.stats";

/// Most characters of a metadata value an error message quotes.
const QUOTED_CHARS: usize = 200;

/// `text` (a reason quoting metadata: a value, a shape, a parser's message) cut to its first
/// [`QUOTED_CHARS`] characters, with its full length said: a 20 MB `fill_value` makes a
/// one-line error, not a 20 MB one.
pub(crate) fn bounded(text: String) -> String {
    match text.char_indices().nth(QUOTED_CHARS) {
        None => text,
        Some((end, _)) => format!("{}… ({} bytes)", &text[..end], text.len()),
    }
}

/// The format is broken: metadata, a shard index or the sidecar says something impossible.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// There is no `zarr.json` (nor Zarr v2 `.zarray` / `.zgroup`) where a node should be.
    #[error("{path}: no zarr.json (not a Zarr node)")]
    MissingMetadata {
        /// The directory that should hold it.
        path: PathBuf,
    },
    /// `zarr.json` is not valid JSON or not valid Zarr v3 metadata (the reason quotes at most
    /// a bounded part of the document).
    #[error("{path}: malformed metadata: {reason}")]
    MalformedMetadata {
        /// The metadata file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The array's data type is not one outcore supports.
    #[error("{path}: unsupported data type {data_type} (outcore reads bool, int8..int64, uint8..uint64, float32, float64)")]
    UnsupportedDataType {
        /// The metadata file.
        path: PathBuf,
        /// The type as named in the metadata.
        data_type: String,
    },
    /// Shapes whose element or byte counts overflow, or chunk shapes that do not tile.
    #[error("{path}: invalid shape: {reason}")]
    InvalidShape {
        /// The metadata file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A shard file is too short to hold its index.
    #[error("{path}: truncated shard: {len} bytes, the index alone needs {needed}")]
    TruncatedShard {
        /// The shard file.
        path: PathBuf,
        /// Its length.
        len: u64,
        /// The bytes needed.
        needed: u64,
    },
    /// The CRC32C stored after a shard index does not match the index bytes.
    #[error("{path}: shard index checksum mismatch at offset {offset}: stored {stored:#010x}, computed {computed:#010x}")]
    IndexChecksum {
        /// The shard file.
        path: PathBuf,
        /// Where the index starts.
        offset: u64,
        /// The checksum in the file.
        stored: u32,
        /// The checksum of the bytes read.
        computed: u32,
    },
    /// A shard index entry points outside its file, or is half missing.
    #[error("{path}: index entry of chunk {chunk:?} is invalid: offset {offset}, nbytes {nbytes}, file length {file_len}")]
    IndexEntryOutOfBounds {
        /// The shard file.
        path: PathBuf,
        /// The chunk's grid coordinates.
        chunk: Vec<u64>,
        /// The entry's offset.
        offset: u64,
        /// The entry's byte count.
        nbytes: u64,
        /// The shard file's length.
        file_len: u64,
    },
    /// An uncompressed chunk whose stored size differs from the chunk's size.
    #[error("{path}: chunk {chunk:?} at offset {offset} holds {found} bytes, an uncompressed chunk has {expected}")]
    ChunkSize {
        /// The shard file.
        path: PathBuf,
        /// The chunk's grid coordinates.
        chunk: Vec<u64>,
        /// Where the chunk starts.
        offset: u64,
        /// Bytes a chunk must have.
        expected: u64,
        /// Bytes stored.
        found: u64,
    },
    /// A shard file is gone although the statistics sidecar records chunks written to it.
    #[error("{path}: shard file missing, but the statistics sidecar records {chunks} chunk(s) written to it")]
    MissingShard {
        /// The missing shard file.
        path: PathBuf,
        /// How many chunks the sidecar records in it.
        chunks: u64,
    },
    /// The sidecar's bytes are damaged (bad magic, length or checksum).
    #[error("{path}: corrupt statistics sidecar: {reason}")]
    SidecarCorrupt {
        /// The sidecar file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The sidecar could not be read.
    #[error("{path}: cannot read statistics sidecar: {source}")]
    SidecarRead {
        /// The sidecar file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The sidecar is intact but describes a different array (shape, chunks, type) or
    /// contradicts the chunk data.
    #[error("{path}: statistics sidecar disagrees with the array: {reason}")]
    SidecarMismatch {
        /// The sidecar file.
        path: PathBuf,
        /// What disagrees.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_metadata_is_bounded() {
        assert_eq!(bounded("short".into()), "short");
        let long = format!("fill_value \"{}\"", "é".repeat(10_000_000));
        let cut = bounded(long.clone());
        assert!(cut.chars().count() < QUOTED_CHARS + 30, "{}", cut.len());
        assert!(cut.ends_with(&format!("… ({} bytes)", long.len())), "{cut}");
    }
}
