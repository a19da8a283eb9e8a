//! Layer 4: codecs — turning a stored chunk's bytes into its elements and back. The fast path
//! is `bytes` (a view, no work) and `bytes` + `zstd` (per-thread contexts, decoding straight
//! into the caller's buffer); every other Zarr codec goes through zarrs ([`foreign`]).

use std::cell::RefCell;
use std::io;
use std::path::PathBuf;

mod buffer;
pub mod foreign;

pub use buffer::AlignedBuf;

use crate::format::ChunkEncoding;

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

thread_local! {
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
    static COMPRESSOR: RefCell<Option<(i32, zstd::bulk::Compressor<'static>)>> = const { RefCell::new(None) };
}

/// Decompresses a zstd frame into `out`, which must be exactly the decoded size; returns the
/// number of bytes written. Uses one reusable context per thread.
pub fn zstd_decode_into(src: &[u8], out: &mut [u8]) -> io::Result<usize> {
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(zstd::bulk::Decompressor::new()?);
        }
        slot.as_mut()
            .expect("set above")
            .decompress_to_buffer(src, out)
    })
}

/// Encodes one whole chunk's little-endian bytes for storage, appending to `out`.
pub fn encode_into(
    encoding: ChunkEncoding,
    bytes: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    match encoding {
        ChunkEncoding::Raw => {
            out.extend_from_slice(bytes);
            Ok(())
        }
        ChunkEncoding::Zstd { level } => COMPRESSOR.with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.as_ref().is_none_or(|(l, _)| *l != level) {
                *slot = Some((
                    level,
                    zstd::bulk::Compressor::new(level).map_err(CodecError::Encode)?,
                ));
            }
            let (_, compressor) = slot.as_mut().expect("set above");
            // Straight into the spare capacity after `out`'s bytes: a reused buffer is not
            // zero-filled to the compression bound first.
            let start = out.len();
            out.reserve(zstd::zstd_safe::compress_bound(bytes.len()));
            let mut tail = io::Cursor::new(&mut *out);
            tail.set_position(start as u64);
            compressor
                .compress_to_buffer(bytes, &mut tail)
                .map_err(CodecError::Encode)?;
            Ok(())
        }),
    }
}

/// Converts little-endian element bytes to the host's order in place (a no-op on
/// little-endian hosts, which are the only ones with zero-copy views).
pub fn le_to_native(bytes: &mut [u8], element_size: usize) {
    if cfg!(target_endian = "big") && element_size > 1 {
        for e in bytes.chunks_exact_mut(element_size) {
            e.reverse();
        }
    }
}

/// The inverse of [`le_to_native`] (the same swap).
pub fn native_to_le(bytes: &mut [u8], element_size: usize) {
    le_to_native(bytes, element_size);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zstd_round_trip() {
        let data: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i / 7).to_le_bytes())
            .collect();
        let mut enc = vec![1, 2, 3];
        encode_into(ChunkEncoding::Zstd { level: 3 }, &data, &mut enc).unwrap();
        assert!(enc.len() < data.len() / 4);
        let mut out = vec![0u8; data.len()];
        assert_eq!(zstd_decode_into(&enc[3..], &mut out).unwrap(), data.len());
        assert_eq!(out, data);
        let mut bad = enc[3..].to_vec();
        let n = bad.len();
        bad[n / 2] ^= 0xff;
        bad.truncate(n - 3);
        assert!(zstd_decode_into(&bad, &mut out).is_err());
    }
}
