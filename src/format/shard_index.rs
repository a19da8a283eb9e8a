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

/// Bytes of the index of a shard with `chunks` slots, or `None` when they pass `u64` (no
/// file holds such an index).
pub const fn index_len(chunks: u64) -> Option<u64> {
    match chunks.checked_mul(INDEX_ENTRY_BYTES) {
        Some(entries) => entries.checked_add(INDEX_CHECKSUM_BYTES),
        None => None,
    }
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
#[derive(Debug, Clone)]
pub struct ShardIndex {
    /// Number of slots.
    slots: usize,
    /// One entry per slot, or none at all while every slot is missing: the index of a shard
    /// file that does not exist costs nothing, however many slots metadata gives it.
    entries: Vec<[u64; 2]>,
}

impl ShardIndex {
    /// An index of `chunks` missing chunks. Nothing is allocated until [`ShardIndex::set`].
    pub fn empty(chunks: usize) -> Self {
        Self {
            slots: chunks,
            entries: Vec::new(),
        }
    }

    /// Reads and checks the index of a shard file whose bytes are `file`: its length, its
    /// CRC32C, and that every entry is either missing or inside the file. `chunk_of` names a
    /// slot's chunk coordinates for error messages.
    ///
    /// # Errors
    /// [`FormatError::TruncatedShard`] when the file is shorter than an index of `chunks`
    /// slots (also when that index would pass `u64` bytes, or memory cannot hold its
    /// entries), [`FormatError::IndexChecksum`], [`FormatError::IndexEntryOutOfBounds`].
    pub fn parse(
        file: &[u8],
        chunks: u64,
        location: IndexLocation,
        path: &Path,
        chunk_of: impl Fn(u64) -> Vec<u64>,
    ) -> Result<Self, FormatError> {
        let len = file.len() as u64;
        let truncated = |needed: u64| FormatError::TruncatedShard {
            path: path.to_owned(),
            len,
            needed,
        };
        // The index must lie inside the file: checked before anything is allocated, so
        // metadata naming a huge shard costs no more than the file it describes.
        let needed = index_len(chunks).ok_or_else(|| truncated(u64::MAX))?;
        if len < needed {
            return Err(truncated(needed));
        }
        let slots = usize::try_from(chunks).map_err(|_| truncated(needed))?;
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
        let mut entries: Vec<[u64; 2]> = Vec::new();
        entries
            .try_reserve_exact(slots)
            .map_err(|_| truncated(needed))?;
        entries.extend(
            entries_bytes
                .chunks_exact(INDEX_ENTRY_BYTES as usize)
                .map(|e| {
                    [
                        u64::from_le_bytes(e[..8].try_into().expect("8 bytes")),
                        u64::from_le_bytes(e[8..].try_into().expect("8 bytes")),
                    ]
                }),
        );
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
        Ok(Self { slots, entries })
    }

    /// Number of slots.
    pub fn len(&self) -> usize {
        self.slots
    }

    /// Whether the index has no slots.
    pub fn is_empty(&self) -> bool {
        self.slots == 0
    }

    /// Where slot `slot`'s chunk is (a slot past the end is missing).
    pub fn get(&self, slot: usize) -> ChunkLocation {
        match self.entries.get(slot) {
            None | Some([MISSING, MISSING]) => ChunkLocation::Missing,
            Some(&[offset, nbytes]) => ChunkLocation::Stored { offset, nbytes },
        }
    }

    /// The slots holding a chunk, in order, with where each is: a walk over what is stored,
    /// never over every slot of an index that has none.
    pub fn stored_slots(&self) -> impl Iterator<Item = (usize, u64, u64)> + '_ {
        self.entries
            .iter()
            .enumerate()
            .filter(|(_, e)| **e != [MISSING; 2])
            .map(|(slot, &[offset, nbytes])| (slot, offset, nbytes))
    }

    /// Records slot `slot`'s chunk at `offset`, `nbytes` long. The first call allocates the
    /// index's entries (writers check the slot count before they start).
    pub fn set(&mut self, slot: usize, offset: u64, nbytes: u64) {
        if self.entries.is_empty() {
            self.entries = vec![[MISSING; 2]; self.slots];
        }
        self.entries[slot] = [offset, nbytes];
    }

    /// Slots holding a chunk.
    pub fn stored(&self) -> usize {
        self.stored_slots().count()
    }

    /// The index bytes (entries, then CRC32C), as written at the end of a shard.
    pub fn encode(&self) -> Vec<u8> {
        let slots = self.slots as u64;
        let mut out = Vec::with_capacity(index_len(slots).expect("a written index fits") as usize);
        for slot in 0..self.slots {
            let [offset, nbytes] = self.entries.get(slot).copied().unwrap_or([MISSING; 2]);
            out.extend_from_slice(&offset.to_le_bytes());
            out.extend_from_slice(&nbytes.to_le_bytes());
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }
}

impl PartialEq for ShardIndex {
    fn eq(&self, other: &Self) -> bool {
        // What is stored, not how: an index not yet allocated equals one of missing slots.
        self.slots == other.slots && self.stored_slots().eq(other.stored_slots())
    }
}

impl Eq for ShardIndex {}

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

    #[test]
    fn sizes_from_metadata_are_checked() {
        assert_eq!(index_len(4), Some(68));
        assert_eq!(index_len(1 << 60), None);
        assert!(index_len((u64::MAX - 4) / 16).is_some());
        assert_eq!(index_len((u64::MAX - 4) / 16 + 1), None);
        // A shard of 2^40 slots whose file does not exist allocates nothing.
        let empty = ShardIndex::empty(1 << 40);
        assert_eq!((empty.len(), empty.stored()), (1 << 40, 0));
        assert_eq!(empty.get((1 << 40) - 1), ChunkLocation::Missing);
        assert_eq!(empty, ShardIndex::empty(1 << 40));
        // An index that cannot fit in the file (or in u64) is a truncated shard, not a wrap.
        let p = Path::new("s");
        let file = ShardIndex::empty(1).encode();
        for chunks in [1 << 60, u64::MAX, 1 << 40] {
            assert!(matches!(
                ShardIndex::parse(&file, chunks, IndexLocation::End, p, |s| vec![s]),
                Err(FormatError::TruncatedShard { .. })
            ));
        }
        assert_eq!(
            ShardIndex::parse(&file, 1, IndexLocation::Start, p, |s| vec![s]).unwrap(),
            ShardIndex::empty(1)
        );
    }
}
