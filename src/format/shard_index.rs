//! The shard index (`format-spec/shard.md`): one `(offset, nbytes)` pair of little-endian
//! u64 per inner chunk in C order, then the CRC32C of those bytes as a little-endian u32.
//! A chunk that was never written has both fields set to [`MISSING`].

use std::path::Path;

use super::{FormatError, IndexLocation};

/// Bytes per index entry: `offset: u64`, `nbytes: u64`.
pub(crate) const INDEX_ENTRY_BYTES: u64 = 16;
/// Bytes of the CRC32C that follows the entries.
pub const INDEX_CHECKSUM_BYTES: u64 = 4;
/// The value of both fields of a missing chunk's entry (2^64 - 1).
pub(crate) const MISSING: u64 = u64::MAX;

/// Bytes of the index of a shard with `chunks` slots.
pub const fn index_len(chunks: u64) -> u64 {
    chunks * INDEX_ENTRY_BYTES + INDEX_CHECKSUM_BYTES
}

/// Where one inner chunk's bytes are in its shard file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkLocation {
    /// Never written: reads as the fill value.
    Missing,
    /// At `offset`, `nbytes` long (already checked to lie inside the file).
    Stored {
        /// Byte offset from the start of the shard file.
        offset: u64,
        /// Encoded length.
        nbytes: u64,
    },
}

/// A shard's chunk index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardIndex {
    entries: Vec<[u64; 2]>,
}

impl ShardIndex {
    /// An index of `chunks` missing chunks.
    pub fn empty(chunks: usize) -> Self {
        Self {
            entries: vec![[MISSING; 2]; chunks],
        }
    }

    /// Reads and checks the index of a shard file whose bytes are `file`: its length, its
    /// CRC32C, and that every entry is either missing or inside the file. `chunk_of` names a
    /// slot's chunk coordinates for error messages.
    ///
    /// # Errors
    ///
    /// A file shorter than its index, a CRC32C mismatch, or an entry outside the file.
    pub fn parse(
        file: &[u8],
        chunks: u64,
        location: IndexLocation,
        path: &Path,
        chunk_of: impl Fn(u64) -> Vec<u64>,
    ) -> Result<Self, FormatError> {
        let len = file.len() as u64;
        let needed = index_len(chunks);
        if len < needed {
            return Err(FormatError::TruncatedShard {
                path: path.to_owned(),
                len,
                needed,
            });
        }
        let (start, data_region) = match location {
            IndexLocation::End => (len - needed, 0..len - needed),
            IndexLocation::Start => (0, needed..len),
        };
        let index = &file[start as usize..(start + needed) as usize];
        let (entries_bytes, crc_bytes) = index.split_at((chunks * INDEX_ENTRY_BYTES) as usize);
        let stored = u32::from_le_bytes(crc_bytes.try_into().expect("4 bytes"));
        let computed = crc32c::crc32c(entries_bytes);
        if stored != computed {
            return Err(FormatError::IndexChecksum {
                path: path.to_owned(),
                offset: start,
                stored,
                computed,
            });
        }
        let entries: Vec<[u64; 2]> = entries_bytes
            .chunks_exact(INDEX_ENTRY_BYTES as usize)
            .map(|e| {
                [
                    u64::from_le_bytes(e[..8].try_into().expect("8 bytes")),
                    u64::from_le_bytes(e[8..].try_into().expect("8 bytes")),
                ]
            })
            .collect();
        for (slot, &[offset, nbytes]) in entries.iter().enumerate() {
            let missing = offset == MISSING && nbytes == MISSING;
            let inside = offset
                .checked_add(nbytes)
                .is_some_and(|end| offset >= data_region.start && end <= data_region.end);
            if !missing && !inside {
                return Err(FormatError::IndexEntryOutOfBounds {
                    path: path.to_owned(),
                    chunk: chunk_of(slot as u64),
                    offset,
                    nbytes,
                    file_len: len,
                });
            }
        }
        Ok(Self { entries })
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the index has no slots.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Where slot `slot`'s chunk is.
    pub fn get(&self, slot: usize) -> ChunkLocation {
        match self.entries[slot] {
            [MISSING, MISSING] => ChunkLocation::Missing,
            [offset, nbytes] => ChunkLocation::Stored { offset, nbytes },
        }
    }

    /// Records slot `slot`'s chunk at `offset`, `nbytes` long.
    pub fn set(&mut self, slot: usize, offset: u64, nbytes: u64) {
        self.entries[slot] = [offset, nbytes];
    }

    /// Slots holding a chunk.
    pub fn stored(&self) -> usize {
        self.entries.iter().filter(|e| **e != [MISSING; 2]).count()
    }

    /// The index bytes (entries, then CRC32C), as written at the end of a shard.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(index_len(self.entries.len() as u64) as usize);
        for [offset, nbytes] in &self.entries {
            out.extend_from_slice(&offset.to_le_bytes());
            out.extend_from_slice(&nbytes.to_le_bytes());
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard_with(index: &ShardIndex, data_len: usize) -> Vec<u8> {
        let mut file = vec![7u8; data_len];
        file.extend(index.encode());
        file
    }

    #[test]
    fn round_trip_and_checks() {
        let mut index = ShardIndex::empty(4);
        index.set(0, 0, 10);
        index.set(2, 16, 4);
        let file = shard_with(&index, 20);
        let p = Path::new("s");
        let parsed = ShardIndex::parse(&file, 4, IndexLocation::End, p, |s| vec![s]).unwrap();
        assert_eq!(parsed, index);
        assert_eq!(parsed.get(1), ChunkLocation::Missing);
        assert_eq!(parsed.stored(), 2);

        let mut flipped = file.clone();
        let n = flipped.len();
        flipped[n - 10] ^= 1;
        assert!(matches!(
            ShardIndex::parse(&flipped, 4, IndexLocation::End, p, |s| vec![s]),
            Err(FormatError::IndexChecksum { .. })
        ));
        assert!(matches!(
            ShardIndex::parse(&file[..30], 4, IndexLocation::End, p, |s| vec![s]),
            Err(FormatError::TruncatedShard { .. })
        ));
        let mut outside = ShardIndex::empty(4);
        outside.set(3, 15, 10);
        assert!(matches!(
            ShardIndex::parse(&shard_with(&outside, 20), 4, IndexLocation::End, p, |s| vec![s, 9]),
            Err(FormatError::IndexEntryOutOfBounds { chunk, .. }) if chunk == vec![3, 9]
        ));
    }
}
