//! `bytes` + `zstd`: chunks compressed with one zstd context per thread, decoded straight
//! into the caller's buffer.

use std::cell::RefCell;
use std::io;

use serde_json::{json, Value};

use super::{codec_name, ChunkAt, ChunkCodec, ChunkEncoding, CodecEntry, CodecError};
use crate::format::layout::COMPRESSED_CHUNK_ALIGNMENT;

/// The registration of [`Zstd`] in [`super::CODECS`].
pub(super) const ENTRY: CodecEntry = CodecEntry {
    from_metadata,
    from_spec,
    spec_forms: &["zstd", "zstd:LEVEL"],
    default: || ChunkEncoding::zstd(1),
};

/// Levels a spec may give: zstd's negative (fast) levels down to -7, up to its maximum.
const SPEC_LEVELS: std::ops::RangeInclusive<i32> = -7..=22;

/// zstd-compressed chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Zstd {
    /// The compression level (writers use it; readers ignore it).
    pub level: i32,
    /// Whether frames carry zstd's content checksum (the low 32 bits of XXH64 of the
    /// decoded bytes), which decoding checks: a damaged frame that still decodes is an
    /// error, not wrong values. The codec configuration's `checksum`.
    pub checksum: bool,
}

impl ChunkEncoding {
    /// zstd-compressed chunks (`bytes` + `zstd`) at `level`, each frame with its content
    /// checksum.
    pub fn zstd(level: i32) -> Self {
        Self::new(Zstd {
            level,
            checksum: true,
        })
    }

    /// zstd-compressed chunks at `level` without the content checksum. Reading skips the
    /// checksum's hash of every decoded byte (about 5% of a zstd read, `benches/RESULTS.md`),
    /// and a damaged frame that still decodes then gives wrong values instead of an error:
    /// for stores whose integrity is checked some other way.
    pub fn zstd_without_checksum(level: i32) -> Self {
        Self::new(Zstd {
            level,
            checksum: false,
        })
    }
}

/// Any single `zstd` codec; a missing level reads as 0 (zstd's default), a missing
/// `checksum` as false (the codec's default). Reading needs neither: zstd checks a frame's
/// checksum whenever the frame has one, so a store written without them reads as before.
fn from_metadata(codecs: &[Value]) -> Option<ChunkEncoding> {
    match codecs {
        [zstd] if codec_name(zstd) == Some("zstd") => {
            let configuration = &zstd["configuration"];
            Some(ChunkEncoding::new(Zstd {
                level: configuration["level"].as_i64().unwrap_or(0) as i32,
                checksum: configuration["checksum"].as_bool().unwrap_or(false),
            }))
        }
        _ => None,
    }
}

/// `zstd` (level 1) or `zstd:LEVEL`.
fn from_spec(spec: &str) -> Option<Result<ChunkEncoding, String>> {
    match spec.split_once(':') {
        None if spec == "zstd" => Some(Ok(ChunkEncoding::zstd(1))),
        Some(("zstd", level)) => Some(
            level
                .parse::<i32>()
                .ok()
                .filter(|l| SPEC_LEVELS.contains(l))
                .map(ChunkEncoding::zstd)
                .ok_or_else(|| {
                    format!(
                        "zstd level {level:?} is not a number from {} to {}",
                        SPEC_LEVELS.start(),
                        SPEC_LEVELS.end()
                    )
                }),
        ),
        _ => None,
    }
}

thread_local! {
    static DECOMPRESSOR: RefCell<Option<::zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
    static COMPRESSOR: RefCell<Option<(Zstd, ::zstd::bulk::Compressor<'static>)>> = const { RefCell::new(None) };
}

/// Decompresses a zstd frame into `out`, which must be exactly the decoded size; returns the
/// number of bytes written. Uses one reusable context per thread.
///
/// # Errors
/// zstd's error when `src` is not a valid frame or does not fit in `out`.
pub fn zstd_decode_into(src: &[u8], out: &mut [u8]) -> io::Result<usize> {
    DECOMPRESSOR.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(::zstd::bulk::Decompressor::new()?);
        }
        slot.as_mut()
            .expect("set above")
            .decompress_to_buffer(src, out)
    })
}

impl ChunkCodec for Zstd {
    fn name(&self) -> &'static str {
        "zstd"
    }

    fn metadata(&self) -> Vec<Value> {
        vec![
            json!({"name": "zstd", "configuration": {"level": self.level, "checksum": self.checksum}}),
        ]
    }

    fn spec(&self) -> String {
        format!("zstd:{}", self.level)
    }

    fn alignment(&self) -> u64 {
        COMPRESSED_CHUNK_ALIGNMENT
    }

    fn validate(&self) -> Result<(), String> {
        if ::zstd::compression_level_range().contains(&self.level) {
            Ok(())
        } else {
            Err(format!("zstd level {} is out of range", self.level))
        }
    }

    fn encode_into(&self, bytes: &[u8], out: &mut Vec<u8>) -> Result<(), CodecError> {
        COMPRESSOR.with(|cell| {
            let mut slot = cell.borrow_mut();
            if slot.as_ref().is_none_or(|(made, _)| made != self) {
                let mut compressor =
                    ::zstd::bulk::Compressor::new(self.level).map_err(CodecError::Encode)?;
                compressor
                    .set_parameter(::zstd::zstd_safe::CParameter::ChecksumFlag(self.checksum))
                    .map_err(CodecError::Encode)?;
                *slot = Some((*self, compressor));
            }
            let (_, compressor) = slot.as_mut().expect("set above");
            // Straight into the spare capacity after `out`'s bytes: a reused buffer is not
            // zero-filled to the compression bound first.
            let start = out.len();
            out.reserve(::zstd::zstd_safe::compress_bound(bytes.len()));
            let mut tail = io::Cursor::new(&mut *out);
            tail.set_position(start as u64);
            compressor
                .compress_to_buffer(bytes, &mut tail)
                .map_err(CodecError::Encode)?;
            Ok(())
        })
    }

    fn decode_into(&self, stored: &[u8], out: &mut [u8], at: &ChunkAt<'_>) -> crate::Result<()> {
        let found = zstd_decode_into(stored, out).map_err(|source| CodecError::Zstd {
            path: at.path.to_owned(),
            chunk: at.chunk.to_vec(),
            offset: at.offset,
            source,
        })?;
        if found != out.len() {
            return Err(at.decoded_size(out.len(), found).into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compresses_and_rejects_damaged_frames() {
        let data: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i / 7).to_le_bytes())
            .collect();
        let mut enc = vec![1, 2, 3];
        Zstd {
            level: 3,
            checksum: true,
        }
        .encode_into(&data, &mut enc)
        .unwrap();
        assert!(enc.len() < data.len() / 4);
        let mut out = vec![0u8; data.len()];
        assert_eq!(zstd_decode_into(&enc[3..], &mut out).unwrap(), data.len());
        assert_eq!(out, data);
        let mut bad = enc[3..].to_vec();
        let n = bad.len();
        bad[n / 2] ^= 0xff;
        bad.truncate(n - 3);
        assert!(zstd_decode_into(&bad, &mut out).is_err());
        // A frame that decodes to fewer bytes than a chunk is a size error.
        let at = ChunkAt {
            path: std::path::Path::new("s/c/0"),
            chunk: &[1],
            offset: 64,
        };
        let mut big = vec![0u8; data.len() + 8];
        let err = Zstd {
            level: 3,
            checksum: true,
        }
        .decode_into(&enc[3..], &mut big, &at)
        .unwrap_err();
        assert!(
            matches!(
                err,
                crate::Error::Codec(CodecError::DecodedSize { found, .. }) if found == data.len()
            ),
            "{err}"
        );
    }
}
