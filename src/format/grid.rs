//! Chunk-grid arithmetic: which chunk holds an element, which shard holds a chunk, and how
//! big edge chunks are. All coordinates are C order (last axis fastest).

use std::ops::Range;

/// The regular grid of an array: its shape, its inner-chunk shape (the unit outcore reads and
/// caches) and its shard shape (the unit stored as one file, a multiple of the chunk shape).
/// For arrays without sharding the shard shape equals the chunk shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkGrid {
    shape: Vec<u64>,
    chunk_shape: Vec<u64>,
    shard_shape: Vec<u64>,
    chunk_elements: usize,
}

impl ChunkGrid {
    /// A grid, checked: equal ranks, non-zero chunk extents, shard extents that are multiples
    /// of chunk extents, element counts of the array and of one chunk (times `element_size`
    /// bytes) that fit in `u64` and `usize`, and a shard index whose bytes fit in `u64`. So
    /// every count the grid gives (elements, chunks, shards, slots, index bytes) is exact.
    ///
    /// # Errors
    /// The check that fails, as a message (callers wrap it in their error, naming the file).
    pub fn new(
        shape: &[u64],
        chunk_shape: &[u64],
        shard_shape: &[u64],
        element_size: usize,
    ) -> Result<Self, String> {
        if chunk_shape.len() != shape.len() || shard_shape.len() != shape.len() {
            return Err(format!(
                "array has {} dimensions, chunk shape {}, shard shape {}",
                shape.len(),
                chunk_shape.len(),
                shard_shape.len()
            ));
        }
        for (axis, (&c, &s)) in chunk_shape.iter().zip(shard_shape).enumerate() {
            if c == 0 {
                return Err(format!("chunk extent 0 on axis {axis}"));
            }
            if s == 0 || s % c != 0 {
                return Err(format!(
                    "shard extent {s} on axis {axis} is not a positive multiple of the chunk extent {c}"
                ));
            }
        }
        checked_product(shape)
            .ok_or_else(|| format!("shape {shape:?} has more than 2^64 elements"))?;
        let chunk_elements = checked_product(chunk_shape)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| {
                n.checked_mul(element_size.max(1))
                    .is_some_and(|b| b <= isize::MAX as usize)
            })
            .ok_or_else(|| format!("chunk shape {chunk_shape:?} is too large to hold in memory"))?;
        checked_product(shard_shape)
            .ok_or_else(|| format!("shard shape {shard_shape:?} has more than 2^64 elements"))?;
        let per_shard: Vec<u64> = shard_shape
            .iter()
            .zip(chunk_shape)
            .map(|(s, c)| s / c)
            .collect();
        checked_product(&per_shard)
            .and_then(super::shard_index::index_len)
            .ok_or_else(|| {
                format!("a shard of {per_shard:?} chunks needs an index of more than 2^64 bytes")
            })?;
        Ok(Self {
            shape: shape.to_vec(),
            chunk_shape: chunk_shape.to_vec(),
            shard_shape: shard_shape.to_vec(),
            chunk_elements,
        })
    }

    /// The array shape.
    pub fn shape(&self) -> &[u64] {
        &self.shape
    }

    /// The (inner) chunk shape.
    pub fn chunk_shape(&self) -> &[u64] {
        &self.chunk_shape
    }

    /// The shard shape.
    pub fn shard_shape(&self) -> &[u64] {
        &self.shard_shape
    }

    /// Number of dimensions.
    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// Elements in one whole chunk (edge chunks are stored whole too, padded with the fill).
    pub fn chunk_elements(&self) -> usize {
        self.chunk_elements
    }

    /// Elements in the array.
    pub fn elements(&self) -> u64 {
        self.shape.iter().product()
    }

    /// Chunks along each axis.
    pub fn chunk_grid_shape(&self) -> Vec<u64> {
        ceil_div(&self.shape, &self.chunk_shape)
    }

    /// Shards along each axis.
    pub fn shard_grid_shape(&self) -> Vec<u64> {
        ceil_div(&self.shape, &self.shard_shape)
    }

    /// Chunks along each axis of one shard.
    pub fn chunks_per_shard(&self) -> Vec<u64> {
        self.shard_shape
            .iter()
            .zip(&self.chunk_shape)
            .map(|(s, c)| s / c)
            .collect()
    }

    /// Chunks in the array.
    pub fn num_chunks(&self) -> u64 {
        self.chunk_grid_shape().iter().product()
    }

    /// Chunk slots in one shard's index.
    pub fn chunks_per_shard_total(&self) -> u64 {
        self.chunks_per_shard().iter().product()
    }

    /// Whether `chunk` is inside the chunk grid.
    pub fn contains_chunk(&self, chunk: &[u64]) -> bool {
        chunk.len() == self.ndim()
            && chunk
                .iter()
                .zip(self.chunk_grid_shape())
                .all(|(c, n)| *c < n)
    }

    /// The shard holding `chunk`, and the chunk's position (C order) in that shard's index.
    pub fn shard_of(&self, chunk: &[u64]) -> (Vec<u64>, u64) {
        let per = self.chunks_per_shard();
        let shard: Vec<u64> = chunk.iter().zip(&per).map(|(c, p)| c / p).collect();
        let local: Vec<u64> = chunk.iter().zip(&per).map(|(c, p)| c % p).collect();
        (shard, ravel(&local, &per))
    }

    /// The chunk at index position `local` of `shard`, or `None` if that slot lies beyond
    /// the array's edge.
    pub fn chunk_in_shard(&self, shard: &[u64], local: u64) -> Option<Vec<u64>> {
        let chunk = self.chunk_at_slot(shard, local);
        self.contains_chunk(&chunk).then_some(chunk)
    }

    /// The coordinates of index slot `local` of `shard`, whether or not that slot lies
    /// inside the array (for naming slots in errors).
    pub fn chunk_at_slot(&self, shard: &[u64], local: u64) -> Vec<u64> {
        let per = self.chunks_per_shard();
        unravel(local, &per)
            .iter()
            .zip(shard.iter().zip(&per))
            // Saturating: a slot past the array's edge may lie past u64, and is then outside.
            .map(|(l, (s, p))| s.saturating_mul(*p).saturating_add(*l))
            .collect()
    }

    /// Chunks of `shard` that lie (at least partly) inside the array.
    pub fn chunks_in_shard(&self, shard: &[u64]) -> u64 {
        let grid = self.chunk_grid_shape();
        self.chunks_per_shard()
            .iter()
            .zip(shard)
            .zip(grid)
            .map(|((p, s), n)| n.saturating_sub(s.saturating_mul(*p)).min(*p))
            .product()
    }

    /// The element ranges `chunk` covers, clipped to the array.
    pub fn chunk_region(&self, chunk: &[u64]) -> Vec<Range<u64>> {
        chunk
            .iter()
            .zip(&self.chunk_shape)
            .zip(&self.shape)
            .map(|((c, e), n)| {
                c.saturating_mul(*e).min(*n)..c.saturating_add(1).saturating_mul(*e).min(*n)
            })
            .collect()
    }

    /// The extent of `chunk` inside the array (smaller than the chunk shape at the edges).
    pub fn chunk_valid_shape(&self, chunk: &[u64]) -> Vec<u64> {
        self.chunk_region(chunk)
            .iter()
            .map(|r| r.end - r.start)
            .collect()
    }

    /// The chunks a region touches, as a range of chunk coordinates per axis.
    pub fn chunks_touching(&self, region: &[Range<u64>]) -> Vec<Range<u64>> {
        region
            .iter()
            .zip(&self.chunk_shape)
            .map(|(r, c)| {
                if r.start >= r.end {
                    0..0
                } else {
                    r.start / c..r.end.div_ceil(*c)
                }
            })
            .collect()
    }
}

/// The product of `dims`, or `None` on overflow.
pub(crate) fn checked_product(dims: &[u64]) -> Option<u64> {
    dims.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d))
}

fn ceil_div(a: &[u64], b: &[u64]) -> Vec<u64> {
    a.iter().zip(b).map(|(a, b)| a.div_ceil(*b)).collect()
}

/// The C-order linear index of `coords` in a grid of `shape`.
pub fn ravel(coords: &[u64], shape: &[u64]) -> u64 {
    coords.iter().zip(shape).fold(0, |acc, (c, n)| acc * n + c)
}

/// The inverse of [`ravel`].
pub fn unravel(mut index: u64, shape: &[u64]) -> Vec<u64> {
    let mut coords = vec![0; shape.len()];
    for (c, n) in coords.iter_mut().zip(shape).rev() {
        *c = index % n;
        index /= n;
    }
    coords
}

/// The runs along the last axis that make up the `valid` part (anchored at the origin) of a
/// chunk stored whole in C order over `chunk_shape`: `(start element, length)` pairs.
pub(crate) fn valid_runs(
    chunk_shape: &[u64],
    valid: &[u64],
) -> impl Iterator<Item = (usize, usize)> {
    let ndim = chunk_shape.len();
    let run = if ndim == 0 {
        1
    } else {
        valid[ndim - 1] as usize
    };
    let outer: Vec<u64> = if ndim == 0 {
        vec![]
    } else {
        valid[..ndim - 1].to_vec()
    };
    let strides: Vec<u64> = (0..ndim.saturating_sub(1))
        .map(|i| chunk_shape[i + 1..].iter().product())
        .collect();
    let whole = valid == chunk_shape;
    let total: u64 = if run == 0 {
        0
    } else if whole {
        1 // an interior chunk is one contiguous run
    } else {
        outer.iter().product()
    };
    let whole_len = chunk_shape.iter().product::<u64>() as usize;
    (0..total).map(move |i| {
        if whole {
            return (0, whole_len);
        }
        let start: u64 = unravel(i, &outer)
            .iter()
            .zip(&strides)
            .map(|(c, s)| c * s)
            .sum();
        (start as usize, run)
    })
}

/// Copies `dense` (the in-bounds part of a chunk, `valid` extent, C order) into `whole` (the
/// chunk stored whole over `chunk_shape`), leaving the padding of `whole` as it was. Both are
/// bytes of `element_size`-byte elements.
pub(crate) fn pad_into(
    dense: &[u8],
    whole: &mut [u8],
    chunk_shape: &[u64],
    valid: &[u64],
    element_size: usize,
) {
    let mut src = 0;
    for (start, len) in valid_runs(chunk_shape, valid) {
        let bytes = len * element_size;
        whole[start * element_size..start * element_size + bytes]
            .copy_from_slice(&dense[src..src + bytes]);
        src += bytes;
    }
}

/// Every coordinate vector in the box `ranges`, in C order.
pub fn iter_box(ranges: &[Range<u64>]) -> impl Iterator<Item = Vec<u64>> + '_ {
    let shape: Vec<u64> = ranges
        .iter()
        .map(|r| r.end.saturating_sub(r.start))
        .collect();
    let total: u64 = shape.iter().product();
    (0..total).map(move |i| {
        unravel(i, &shape)
            .iter()
            .zip(ranges)
            .map(|(c, r)| c + r.start)
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_chunks_and_shards() {
        let g = ChunkGrid::new(&[10, 7], &[4, 3], &[8, 6], 8).unwrap();
        assert_eq!(g.chunk_grid_shape(), vec![3, 3]);
        assert_eq!(g.shard_grid_shape(), vec![2, 2]);
        assert_eq!(g.chunks_per_shard(), vec![2, 2]);
        assert_eq!(g.chunk_valid_shape(&[2, 2]), vec![2, 1]);
        assert_eq!(g.shard_of(&[2, 1]), (vec![1, 0], 1));
        assert_eq!(g.chunks_in_shard(&[1, 1]), 1);
        assert_eq!(g.chunks_in_shard(&[0, 0]), 4);
        assert_eq!(g.chunk_in_shard(&[1, 1], 0), Some(vec![2, 2]));
        assert_eq!(g.chunk_in_shard(&[1, 1], 3), None);
        assert_eq!(g.chunks_touching(&[3..5, 0..7]), vec![0..2, 0..3]);
    }

    #[test]
    fn bad_grids_are_rejected() {
        assert!(ChunkGrid::new(&[10], &[0], &[4], 1).is_err());
        assert!(ChunkGrid::new(&[10], &[3], &[4], 1).is_err());
        assert!(ChunkGrid::new(&[u64::MAX, 3], &[1, 1], &[1, 1], 1).is_err());
        assert!(ChunkGrid::new(&[10], &[u64::MAX], &[u64::MAX], 8).is_err());
        assert!(ChunkGrid::new(&[10, 1], &[2], &[2], 1).is_err());
        // 2^60 slots: 16 * 2^60 index bytes pass u64.
        assert!(ChunkGrid::new(&[1 << 60], &[1], &[1 << 60], 8).is_err());
        assert!(ChunkGrid::new(&[4; 32], &[1; 32], &[4; 32], 8).is_err());
        assert!(ChunkGrid::new(&[2; 32], &[1; 32], &[2; 32], 8).is_ok());
    }

    #[test]
    fn edges_near_u64_max_saturate() {
        let n = u64::MAX;
        let g = ChunkGrid::new(&[n], &[3 << 62], &[3 << 62], 1);
        assert!(g.is_err(), "a chunk of 3 * 2^62 bytes is not addressable");
        let g = ChunkGrid::new(&[n], &[1], &[1 << 59], 1).unwrap();
        assert_eq!(g.chunk_region(&[n - 1]), vec![n - 1..n]);
        assert_eq!(g.shard_grid_shape(), vec![32]);
        // The last slot of the last shard is chunk 2^64 - 1: outside the grid of 2^64 - 1.
        assert_eq!(g.chunk_in_shard(&[31], (1 << 59) - 1), None);
        assert_eq!(g.chunks_in_shard(&[31]), (1 << 59) - 1);
        let g = ChunkGrid::new(&[n], &[1 << 62], &[1 << 62], 0).unwrap();
        assert_eq!(g.chunk_region(&[3]), vec![3 << 62..n]);
    }

    #[test]
    fn valid_runs_cover_the_valid_part() {
        assert_eq!(
            valid_runs(&[3, 4], &[3, 4]).collect::<Vec<_>>(),
            vec![(0, 12)]
        );
        assert_eq!(
            valid_runs(&[3, 4], &[2, 3]).collect::<Vec<_>>(),
            vec![(0, 3), (4, 3)]
        );
        assert_eq!(
            valid_runs(&[2, 2, 2], &[2, 1, 2]).collect::<Vec<_>>(),
            vec![(0, 2), (4, 2)]
        );
        assert_eq!(valid_runs(&[], &[]).collect::<Vec<_>>(), vec![(0, 1)]);
        assert_eq!(valid_runs(&[4], &[0]).count(), 0);
    }

    #[test]
    fn ravel_unravel() {
        let shape = [3, 4, 5];
        for i in 0..60 {
            assert_eq!(ravel(&unravel(i, &shape), &shape), i);
        }
    }
}
