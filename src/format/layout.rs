//! Where chunks go inside a shard file, and the default chunk and shard shapes.
//! `format-spec/shard.md` gives the reasons and the measurements behind the numbers.

/// Every uncompressed inner chunk starts at a multiple of this (the page size of the common
/// platforms), so its bytes are a page-aligned, zero-copy typed view of the mapping.
pub(crate) const RAW_CHUNK_ALIGNMENT: u64 = 4096;
/// Every compressed inner chunk starts at a multiple of this (a cache line): decoders read
/// whole lines, and the padding costs at most 63 bytes per chunk.
pub(crate) const COMPRESSED_CHUNK_ALIGNMENT: u64 = 64;

/// The default decoded size of one inner chunk when the caller gives no chunk shape.
pub(crate) const DEFAULT_CHUNK_BYTES: u64 = 1 << 20;
/// The default size of one shard (decoded bytes) when the caller gives no shard shape.
pub(crate) const DEFAULT_SHARD_BYTES: u64 = 128 << 20;

/// Most chunks a shard outcore writes may hold: an index of 256 MiB. A writer keeps the index
/// of every shard in progress in memory; default shards hold at most a few hundred chunks.
pub(crate) const MAX_WRITTEN_SHARD_CHUNKS: u64 = 1 << 24;

/// `offset` rounded up to a multiple of `alignment` (a power of two).
pub(crate) const fn align_up(offset: u64, alignment: u64) -> u64 {
    (offset + alignment - 1) & !(alignment - 1)
}

/// A chunk shape of about [`DEFAULT_CHUNK_BYTES`]: start from the whole array and halve the
/// longest axis until the chunk fits (so chunks stay close to square, as dask's `auto` does).
pub(crate) fn default_chunk_shape(shape: &[u64], element_size: usize) -> Vec<u64> {
    let mut chunk: Vec<u64> = shape.iter().map(|&n| n.max(1)).collect();
    while saturating_bytes(&chunk, element_size) > DEFAULT_CHUNK_BYTES {
        let longest = (0..chunk.len())
            .max_by_key(|&i| (chunk[i], usize::MAX - i))
            .expect("rank > 0");
        chunk[longest] = chunk[longest].div_ceil(2);
    }
    chunk
}

/// A shard shape of at most [`DEFAULT_SHARD_BYTES`] made of whole chunks: grow the last axis
/// first up to the array's extent, then the ones before it, so a shard is a slab of
/// complete rows and a writer streaming in C order completes shards one after another.
pub(crate) fn default_shard_shape(
    shape: &[u64],
    chunk_shape: &[u64],
    element_size: usize,
) -> Vec<u64> {
    let mut shard = chunk_shape.to_vec();
    for axis in (0..shard.len()).rev() {
        if chunk_shape[axis] == 0 {
            return shard; // not a grid: ChunkGrid::new says why
        }
        let extent = shape[axis]
            .max(1)
            .div_ceil(chunk_shape[axis])
            .saturating_mul(chunk_shape[axis]);
        while shard[axis] < extent {
            let mut grown = shard.clone();
            grown[axis] = shard[axis].saturating_mul(2).min(extent);
            if saturating_bytes(&grown, element_size) > DEFAULT_SHARD_BYTES {
                return shard;
            }
            shard = grown;
        }
    }
    shard
}

/// Bytes of a box of `shape`, saturating at `u64::MAX` (huge lazy shapes are fine).
pub(crate) fn saturating_bytes(shape: &[u64], element_size: usize) -> u64 {
    shape
        .iter()
        .fold(element_size as u64, |acc, &n| acc.saturating_mul(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fit_their_budgets_and_tile() {
        for (shape, size) in [
            (vec![10_000u64, 10_000], 8usize),
            (vec![1_500_000, 100_000], 8),
            (vec![17_898], 8),
            (vec![12, 444, 922], 4),
            (vec![3], 1),
            (vec![0, 5], 8),
        ] {
            let chunk = default_chunk_shape(&shape, size);
            assert!(chunk.iter().product::<u64>() * size as u64 <= DEFAULT_CHUNK_BYTES);
            let shard = default_shard_shape(&shape, &chunk, size);
            assert!(
                shard.iter().product::<u64>() * size as u64
                    <= DEFAULT_SHARD_BYTES.max(chunk.iter().product::<u64>() * size as u64)
            );
            assert!(
                shard.iter().zip(&chunk).all(|(s, c)| s % c == 0),
                "{shape:?}"
            );
        }
        assert_eq!(default_shard_shape(&[10, 5], &[0, 5], 8), vec![0, 5]);
        assert_eq!(align_up(4097, 4096), 8192);
        assert_eq!(align_up(0, 64), 0);
    }
}
