//! [`BlockGrid`]: how a lazy array is cut into blocks, the unit of evaluation.
//!
//! Like dask's `chunks`, block boundaries are given per axis and need not be regular: a slice
//! that starts mid-chunk keeps its blocks aligned with the chunks it reads, and a
//! concatenation keeps every input's boundaries.

use std::ops::Range;

use crate::format::grid::unravel;
use crate::format::layout::DEFAULT_CHUNK_BYTES;

/// Block boundaries per axis: for an axis of length `n`, offsets `0 = b0 < b1 < … < bk = n`
/// (just `[0]` for an empty axis).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockGrid {
    bounds: Vec<Vec<u64>>,
}

/// Boundaries of an axis of length `len` cut every `step` elements.
pub(crate) fn regular_bounds(len: u64, step: u64) -> Vec<u64> {
    let step = step.max(1);
    let mut b: Vec<u64> = (0..len.div_ceil(step)).map(|i| i * step).collect();
    b.push(len);
    b
}

impl BlockGrid {
    /// A regular grid: blocks of `block_shape`, smaller at the far edges.
    pub fn regular(shape: &[u64], block_shape: &[u64]) -> Self {
        Self {
            bounds: shape
                .iter()
                .zip(block_shape)
                .map(|(&n, &c)| regular_bounds(n, c))
                .collect(),
        }
    }

    /// A grid from per-axis boundaries (checked by the caller).
    pub(crate) fn from_bounds(bounds: Vec<Vec<u64>>) -> Self {
        Self { bounds }
    }

    /// A grid for `shape` where `known[axis]` gives an axis's boundaries when some input
    /// decides them; the other axes get regular blocks sized so a block holds about
    /// [`DEFAULT_CHUNK_BYTES`] (inner axes whole first).
    pub(crate) fn with_defaults(
        shape: &[u64],
        known: Vec<Option<Vec<u64>>>,
        element_size: usize,
    ) -> Self {
        let mut block_elems: u64 = known
            .iter()
            .map(|k| k.as_ref().map_or(1, |b| max_extent(b)))
            .product::<u64>()
            .max(1);
        let budget = (DEFAULT_CHUNK_BYTES / element_size.max(1) as u64).max(1);
        let mut bounds = vec![Vec::new(); shape.len()];
        for axis in (0..shape.len()).rev() {
            bounds[axis] = match &known[axis] {
                Some(b) => b.clone(),
                None => {
                    let room = (budget / block_elems).max(1);
                    let step = shape[axis].min(room).max(1);
                    block_elems = block_elems.saturating_mul(step);
                    regular_bounds(shape[axis], step)
                }
            };
        }
        Self { bounds }
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.bounds.len()
    }

    /// The boundaries of one axis.
    pub fn axis_bounds(&self, axis: usize) -> &[u64] {
        &self.bounds[axis]
    }

    /// Blocks along each axis.
    pub fn grid_shape(&self) -> Vec<u64> {
        self.bounds.iter().map(|b| (b.len() - 1) as u64).collect()
    }

    /// Total number of blocks.
    pub fn num_blocks(&self) -> u64 {
        self.grid_shape().iter().product()
    }

    /// The region of the block at grid coordinates `coords`.
    pub fn block_region(&self, coords: &[u64]) -> Vec<Range<u64>> {
        coords
            .iter()
            .zip(&self.bounds)
            .map(|(&c, b)| b[c as usize]..b[c as usize + 1])
            .collect()
    }

    /// The region of the block with C-order index `index`.
    pub fn block_region_at(&self, index: u64) -> Vec<Range<u64>> {
        self.block_region(&unravel(index, &self.grid_shape()))
    }

    /// The blocks along `axis` that overlap `range`.
    pub fn blocks_touching(&self, axis: usize, range: &Range<u64>) -> Range<usize> {
        let b = &self.bounds[axis];
        if range.start >= range.end {
            return 0..0;
        }
        let first = b.partition_point(|&x| x <= range.start) - 1;
        let last = b.partition_point(|&x| x < range.end) - 1;
        first..last + 1
    }

    /// The longest block extent along `axis` (at least 1).
    pub fn max_extent(&self, axis: usize) -> u64 {
        max_extent(&self.bounds[axis])
    }

    /// The most elements any block holds.
    pub fn max_block_elements(&self) -> u64 {
        self.bounds.iter().map(|b| max_extent(b)).product()
    }

    pub(crate) fn bounds(&self) -> &[Vec<u64>] {
        &self.bounds
    }
}

/// The longest block extent in boundaries `b` (at least 1).
pub(crate) fn max_extent(b: &[u64]) -> u64 {
    b.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_and_touching() {
        let g = BlockGrid::regular(&[10, 0], &[4, 3]);
        assert_eq!(g.axis_bounds(0), &[0, 4, 8, 10]);
        assert_eq!(g.axis_bounds(1), &[0]);
        assert_eq!(g.num_blocks(), 0);
        assert_eq!(g.blocks_touching(0, &(3..9)), 0..3);
        assert_eq!(g.blocks_touching(0, &(4..8)), 1..2);
        let d = BlockGrid::with_defaults(&[1000, 1000], vec![None, None], 8);
        assert!(d.max_block_elements() * 8 <= DEFAULT_CHUNK_BYTES);
    }
}
