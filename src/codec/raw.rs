//! `bytes` alone: chunks are stored as their little-endian elements, page-aligned, so a
//! chunk is read as a zero-copy view of the mapped shard.

use serde_json::Value;

use super::{ChunkAt, ChunkCodec, ChunkEncoding, CodecEntry, CodecError};
use crate::format::layout::RAW_CHUNK_ALIGNMENT;
use crate::format::FormatError;

/// The registration of [`Raw`] in [`super::CODECS`].
pub(super) const ENTRY: CodecEntry = CodecEntry {
    from_metadata: |codecs| codecs.is_empty().then(ChunkEncoding::raw),
    from_spec: |spec| (spec == "raw").then(|| Ok(ChunkEncoding::raw())),
    spec_forms: &["raw"],
    default: ChunkEncoding::raw,
};

/// Uncompressed chunks: nothing after `bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Raw;

impl ChunkEncoding {
    /// Uncompressed chunks (`bytes` alone), read as zero-copy views of the file.
    pub fn raw() -> Self {
        Self::new(Raw)
    }
}

impl ChunkCodec for Raw {
    fn name(&self) -> &'static str {
        "raw"
    }

    fn metadata(&self) -> Vec<Value> {
        Vec::new()
    }

    fn spec(&self) -> String {
        "raw".into()
    }

    fn alignment(&self) -> u64 {
        RAW_CHUNK_ALIGNMENT
    }

    fn zero_copy(&self) -> bool {
        true
    }

    fn encode_into(&self, bytes: &[u8], out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.extend_from_slice(bytes);
        Ok(())
    }

    /// A copy, for chunks that cannot be viewed in place (an offset not aligned for the
    /// element type).
    fn decode_into(&self, stored: &[u8], out: &mut [u8], at: &ChunkAt<'_>) -> crate::Result<()> {
        if stored.len() != out.len() {
            return Err(FormatError::ChunkSize {
                path: at.path.to_owned(),
                chunk: at.chunk.to_vec(),
                offset: at.offset,
                expected: out.len() as u64,
                found: stored.len() as u64,
            }
            .into());
        }
        out.copy_from_slice(stored);
        Ok(())
    }
}
