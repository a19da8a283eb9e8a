//! Layer 4: codecs — turning a stored chunk's bytes into its elements and back. The fast path
//! is one [`ChunkCodec`] per file (`raw.rs`: `bytes` alone, a view; `zstd.rs`: `bytes` +
//! `zstd`), found through the one registration list [`CODECS`]; every other Zarr codec goes
//! through zarrs ([`foreign`]).
//!
//! The format layer below parses `zarr.json` without knowing any codec: it keeps the inner
//! codecs that follow `bytes` as their JSON ([`crate::format::ShardProfile::codecs`]), and
//! [`ChunkEncoding::from_metadata`] asks each registered codec whether it takes them. So the
//! fast-path test is what the codecs declare, and a codec is added by its file and one line
//! in [`CODECS`].

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

mod buffer;
pub(crate) mod foreign;
pub(crate) mod raw;
pub(crate) mod zstd;

pub use buffer::AlignedBuf;

/// Every codec outcore reads and writes on the fast path, in the order they are asked: the
/// metadata of an array, and a `--codec` argument, go to the first that takes them.
pub const CODECS: &[CodecEntry] = &[raw::ENTRY, zstd::ENTRY];

/// A chunk could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// zstd rejected the stored bytes.
    #[error("{path}: chunk {chunk:?} at offset {offset}: zstd decode failed: {source}")]
    Zstd {
        /// The shard file.
        path: PathBuf,
        /// The chunk's grid coordinates.
        chunk: Vec<u64>,
        /// Where the chunk's bytes start in the file.
        offset: u64,
        /// zstd's error.
        source: io::Error,
    },
    /// A chunk decoded to the wrong number of bytes.
    #[error(
        "{path}: chunk {chunk:?} at offset {offset} decodes to {found} bytes, expected {expected}"
    )]
    DecodedSize {
        /// The shard file.
        path: PathBuf,
        /// The chunk's grid coordinates.
        chunk: Vec<u64>,
        /// Where the chunk's bytes start in the file.
        offset: u64,
        /// Bytes of a whole chunk.
        expected: usize,
        /// Bytes decoded.
        found: usize,
    },
    /// zstd could not compress (only on allocation failure or a bad level).
    #[error("zstd encode failed: {0}")]
    Encode(io::Error),
}

/// Where a stored chunk is, for the errors of [`ChunkCodec::decode_into`].
#[derive(Debug, Clone, Copy)]
pub struct ChunkAt<'a> {
    /// The shard file.
    pub path: &'a Path,
    /// The chunk's grid coordinates.
    pub chunk: &'a [u64],
    /// Where the chunk's bytes start in the file.
    pub offset: u64,
}

impl ChunkAt<'_> {
    /// The error for a chunk that decoded to `found` bytes instead of `expected`.
    pub fn decoded_size(&self, expected: usize, found: usize) -> CodecError {
        CodecError::DecodedSize {
            path: self.path.to_owned(),
            chunk: self.chunk.to_vec(),
            offset: self.offset,
            expected,
            found,
        }
    }
}

/// The inner-chunk codecs of a fast-path array: what follows `bytes` (little endian) in the
/// shard's inner `codecs`. Implementations are stateless apart from their configuration
/// (per-thread contexts live in thread locals), so one value serves every thread.
pub trait ChunkCodec: Send + Sync + fmt::Debug {
    /// outcore's name for the encoding (`raw`, `zstd`): the first word of its
    /// [`spec`](ChunkCodec::spec).
    fn name(&self) -> &'static str;

    /// The codecs written after `bytes` in the shard's inner `codecs` of `zarr.json`, each
    /// `{"name", "configuration"}` as Zarr v3 spells them (none for `raw`).
    fn metadata(&self) -> Vec<Value>;

    /// The encoding as a command line names it (`raw`, `zstd:3`); its entry's `from_spec`
    /// reads it back.
    fn spec(&self) -> String;

    /// Every stored chunk starts at a multiple of this inside its shard (a power of two; see
    /// [`crate::format::layout`]).
    fn alignment(&self) -> u64;

    /// Whether the stored bytes are the chunk's little-endian elements themselves, so a
    /// chunk of exactly the chunk's size at an element-aligned offset is read as a view of
    /// the mapped file, without decoding.
    fn zero_copy(&self) -> bool {
        false
    }

    /// Checks the configuration before anything is written.
    ///
    /// # Errors
    /// A message naming the setting that is out of range.
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }

    /// Encodes one whole chunk's little-endian bytes, appending to `out` (into its spare
    /// capacity: a reused buffer is not cleared or zero-filled first).
    ///
    /// # Errors
    /// [`CodecError::Encode`] when the compressor fails.
    fn encode_into(&self, bytes: &[u8], out: &mut Vec<u8>) -> Result<(), CodecError>;

    /// Decodes the stored bytes of the chunk `at` into `out`, which is exactly one whole
    /// chunk's bytes (little endian, as stored).
    ///
    /// # Errors
    /// The codec's error naming `at` when the bytes do not decode, or do not decode to
    /// exactly `out.len()` bytes.
    fn decode_into(&self, stored: &[u8], out: &mut [u8], at: &ChunkAt<'_>) -> crate::Result<()>;
}

/// One registered codec: how its configuration is recognised. A `None` from either function
/// means "not this codec", and the next entry is asked.
#[derive(Debug, Clone, Copy)]
pub struct CodecEntry {
    /// The codec for the inner codecs after `bytes` (as [`ChunkCodec::metadata`] writes
    /// them), if it takes exactly these.
    pub from_metadata: fn(&[Value]) -> Option<ChunkEncoding>,
    /// The codec named by a command-line spec (`zstd:3`), or why the spec is wrong when it
    /// names this codec.
    pub from_spec: fn(&str) -> Option<Result<ChunkEncoding, String>>,
    /// The spec forms, for help and error messages (`zstd`, `zstd:LEVEL`).
    pub spec_forms: &'static [&'static str],
    /// The codec in its default configuration (what its bare name means).
    pub default: fn() -> ChunkEncoding,
}

/// How the inner chunks of a profile array are encoded: a registered chunk codec with its
/// configuration. Cheap to clone. Made by [`ChunkEncoding::raw`], [`ChunkEncoding::zstd`],
/// parsing a spec (`"zstd:3".parse()`), or from an array's metadata.
#[derive(Clone)]
pub struct ChunkEncoding(Arc<dyn ChunkCodec>);

impl ChunkEncoding {
    pub(crate) fn new(codec: impl ChunkCodec + 'static) -> Self {
        Self(Arc::new(codec))
    }

    /// The codec.
    pub fn codec(&self) -> &dyn ChunkCodec {
        &*self.0
    }

    /// The registered codec that takes these inner codecs (those after `bytes`, as in
    /// `zarr.json`); `None` when none does, and the array is read through zarrs.
    pub fn from_metadata(codecs: &[Value]) -> Option<Self> {
        CODECS
            .iter()
            .find_map(|entry| (entry.from_metadata)(codecs))
    }
}

impl fmt::Debug for ChunkEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The spec form, as [`FromStr`](std::str::FromStr) reads it.
impl fmt::Display for ChunkEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.spec())
    }
}

/// Two encodings are equal when they write the same metadata.
impl PartialEq for ChunkEncoding {
    fn eq(&self, other: &Self) -> bool {
        self.0.metadata() == other.0.metadata()
    }
}

impl Eq for ChunkEncoding {}

impl std::str::FromStr for ChunkEncoding {
    type Err = String;

    /// Reads a spec such as `raw`, `zstd` or `zstd:3` (the forms the registered codecs accept).
    fn from_str(s: &str) -> Result<Self, String> {
        CODECS
            .iter()
            .find_map(|entry| (entry.from_spec)(s))
            .unwrap_or_else(|| {
                let forms: Vec<&str> = CODECS.iter().flat_map(|e| e.spec_forms).copied().collect();
                let hint = match forms.split_last() {
                    Some((last, [])) => last.to_string(),
                    Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
                    None => String::new(),
                };
                Err(format!("unknown codec {s:?}: use {hint}"))
            })
    }
}

/// Converts little-endian element bytes to the host's order in place (a no-op on
/// little-endian hosts, which are the only ones with zero-copy views).
pub(crate) fn le_to_native(bytes: &mut [u8], element_size: usize) {
    if cfg!(target_endian = "big") && element_size > 1 {
        for e in bytes.chunks_exact_mut(element_size) {
            e.reverse();
        }
    }
}

/// The inverse of [`le_to_native`] (the same swap).
pub(crate) fn native_to_le(bytes: &mut [u8], element_size: usize) {
    le_to_native(bytes, element_size);
}

/// The `name` of one codec's JSON (`{"name": ..}`), for the codecs' `from_metadata`.
pub(crate) fn codec_name(codec: &Value) -> Option<&str> {
    codec.get("name").and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every registered codec encodes and decodes a chunk back to the same bytes, its
    /// metadata and spec read back to an equal encoding, and its errors name the chunk.
    #[test]
    fn every_codec_round_trips() {
        let data: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i / 7).to_le_bytes())
            .collect();
        let at = ChunkAt {
            path: Path::new("s/c/0"),
            chunk: &[3, 4],
            offset: 4096,
        };
        for encoding in CODECS.iter().map(|entry| (entry.default)()) {
            let codec = encoding.codec();
            assert_eq!(
                ChunkEncoding::from_metadata(&codec.metadata()),
                Some(encoding.clone())
            );
            assert_eq!(
                encoding.to_string().parse::<ChunkEncoding>(),
                Ok(encoding.clone())
            );
            assert!(codec.alignment().is_power_of_two());
            let mut enc = vec![1, 2, 3];
            codec.encode_into(&data, &mut enc).unwrap();
            assert_eq!(&enc[..3], &[1, 2, 3], "{encoding}: appends");
            let mut out = vec![0u8; data.len()];
            codec.decode_into(&enc[3..], &mut out, &at).unwrap();
            assert_eq!(out, data, "{encoding}");
            // A short buffer is an error naming the chunk, never a panic.
            let mut short = vec![0u8; data.len() - 8];
            let err = codec.decode_into(&enc[3..], &mut short, &at).unwrap_err();
            assert!(err.to_string().contains("s/c/0"), "{encoding}: {err}");
            assert!(err.to_string().contains("[3, 4]"), "{encoding}: {err}");
        }
    }

    #[test]
    fn specs_parse_and_unknown_ones_list_the_codecs() {
        assert_eq!("raw".parse(), Ok(ChunkEncoding::raw()));
        assert_eq!("zstd".parse(), Ok(ChunkEncoding::zstd(1)));
        assert_eq!("zstd:-3".parse(), Ok(ChunkEncoding::zstd(-3)));
        assert!("zstd:99"
            .parse::<ChunkEncoding>()
            .unwrap_err()
            .contains("zstd level"));
        assert_eq!(
            "lz4".parse::<ChunkEncoding>(),
            Err("unknown codec \"lz4\": use raw, zstd or zstd:LEVEL".to_string())
        );
        assert_ne!(ChunkEncoding::zstd(1), ChunkEncoding::zstd(2));
        assert_ne!(ChunkEncoding::zstd(1), ChunkEncoding::raw());
    }
}
