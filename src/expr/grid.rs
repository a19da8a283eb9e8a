//! [`BlockGrid`]: how a lazy array is cut into blocks, the unit of evaluation.
//!
//! Like dask's `chunks`, block boundaries are given per axis and need not be regular: a slice
//! that starts mid-chunk keeps its blocks aligned with the chunks it reads, and a
//! concatenation keeps every input's boundaries. An axis cut every `step` elements (the
//! common case: sources, `rechunk`, slices with step ±1 of those) is stored as its length and
//! step and computes boundaries on demand, so a lazy array of 10^18 rows costs a few words;
//! only irregular axes list their boundaries, and those lists are capped at
//! [`MAX_EXPLICIT_BLOCKS`] blocks.

use std::ops::Range;
use std::sync::Arc;

use crate::format::layout::DEFAULT_CHUNK_BYTES;

/// The most blocks an irregular axis may list (8 bytes a boundary: 32 MiB). Operations whose
/// result would need more return an [`crate::ErrorKind::TooLarge`] error.
pub const MAX_EXPLICIT_BLOCKS: u64 = 1 << 22;

/// How one axis is cut into blocks: offsets `0 = b0 < b1 < … < bk = len` (just `b0` for an
/// empty axis), either computed (blocks of one step, the first possibly shorter) or listed.
#[derive(Debug, Clone)]
pub struct AxisBlocks(Cuts);

#[derive(Debug, Clone)]
enum Cuts {
    /// `len` elements: a first block of `first` (`1..=step`), then blocks of `step`, the last
    /// ending at `len`. Boundaries `first + i * step` are computed, never stored.
    Regular { len: u64, step: u64, first: u64 },
    /// The boundaries themselves (shared: cloning a grid never copies them).
    Explicit(Arc<[u64]>),
}

impl AxisBlocks {
    /// An axis of `len` cut every `step` elements (a step of 0 counts as 1).
    pub(crate) fn regular(len: u64, step: u64) -> Self {
        let step = step.max(1);
        Self(Cuts::Regular {
            len,
            step,
            first: step,
        })
    }

    /// An axis of `len` whose first block holds `first` elements (clamped to `1..=step`) and
    /// every later one `step`.
    pub(crate) fn shifted(len: u64, step: u64, first: u64) -> Self {
        let step = step.max(1);
        Self(Cuts::Regular {
            len,
            step,
            first: first.clamp(1, step),
        })
    }

    /// An axis with boundaries `bounds` (strictly increasing from 0, checked by the caller).
    pub(crate) fn explicit(bounds: Vec<u64>) -> Self {
        debug_assert!(bounds.first() == Some(&0) && bounds.windows(2).all(|w| w[0] < w[1]));
        Self(Cuts::Explicit(bounds.into()))
    }

    /// `(step, first block's length)` of a computed axis, `None` for a listed one.
    pub(crate) fn regular_parts(&self) -> Option<(u64, u64)> {
        match self.0 {
            Cuts::Regular { step, first, .. } => Some((step, first)),
            Cuts::Explicit(_) => None,
        }
    }

    /// The axis's length.
    pub fn extent(&self) -> u64 {
        match &self.0 {
            Cuts::Regular { len, .. } => *len,
            Cuts::Explicit(b) => *b.last().expect("boundaries start with 0"),
        }
    }

    /// Number of blocks along the axis.
    pub fn num_blocks(&self) -> u64 {
        match &self.0 {
            Cuts::Regular { len: 0, .. } => 0,
            Cuts::Regular { len, first, .. } if len <= first => 1,
            Cuts::Regular { len, step, first } => 1 + (len - first).div_ceil(*step),
            Cuts::Explicit(b) => b.len() as u64 - 1,
        }
    }

    /// Boundary `i` (`0..=num_blocks()`): where block `i` starts, or the axis's end.
    pub fn bound(&self, i: u64) -> u64 {
        match &self.0 {
            Cuts::Regular { len, step, first } => {
                if i == 0 {
                    0
                } else {
                    (i - 1)
                        .checked_mul(*step)
                        .and_then(|x| x.checked_add(*first))
                        .map_or(*len, |x| x.min(*len))
                }
            }
            Cuts::Explicit(b) => b[i as usize],
        }
    }

    /// The positions of block `i`.
    pub fn block(&self, i: u64) -> Range<u64> {
        self.bound(i)..self.bound(i + 1)
    }

    /// The positions covered by the blocks `blocks`.
    pub fn span(&self, blocks: Range<u64>) -> Range<u64> {
        self.bound(blocks.start)..self.bound(blocks.end)
    }

    /// The boundaries in order, computed one at a time.
    pub fn boundaries(&self) -> impl Iterator<Item = u64> + '_ {
        (0..=self.num_blocks()).map(|i| self.bound(i))
    }

    /// The block holding position `x` (`x < extent()`).
    fn block_of(&self, x: u64) -> u64 {
        match &self.0 {
            Cuts::Regular { first, .. } if x < *first => 0,
            Cuts::Regular { step, first, .. } => 1 + (x - first) / step,
            Cuts::Explicit(b) => b.partition_point(|&v| v <= x) as u64 - 1,
        }
    }

    /// The blocks that overlap `range` (the part of it inside the axis).
    pub fn blocks_touching(&self, range: &Range<u64>) -> Range<u64> {
        let end = range.end.min(self.extent());
        if range.start >= end {
            return 0..0;
        }
        self.block_of(range.start)..self.block_of(end - 1) + 1
    }

    /// The longest block extent (at least 1).
    pub fn max_extent(&self) -> u64 {
        match &self.0 {
            Cuts::Regular { len, step, first } => match self.num_blocks() {
                0 => 1,
                1 => *len,
                2 => (*first).max(len - first),
                _ => *step,
            },
            Cuts::Explicit(b) => b.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(1),
        }
    }
}

impl PartialEq for AxisBlocks {
    fn eq(&self, other: &Self) -> bool {
        // Two computed axes with three or more blocks and the same boundaries have the same
        // fields, so the element-wise walk below only runs over short or listed axes.
        match (&self.0, &other.0) {
            (Cuts::Regular { .. }, Cuts::Regular { .. })
                if self.regular_parts() == other.regular_parts()
                    && self.extent() == other.extent() =>
            {
                true
            }
            _ => {
                self.num_blocks() == other.num_blocks() && self.boundaries().eq(other.boundaries())
            }
        }
    }
}

impl Eq for AxisBlocks {}

/// How an array is cut into blocks: one [`AxisBlocks`] per axis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockGrid {
    axes: Vec<AxisBlocks>,
}

/// The number of elements of a box of `shape` (0 when an extent is 0), `None` when it
/// exceeds `u64::MAX`.
pub(crate) fn element_count(shape: &[u64]) -> Option<u64> {
    if shape.contains(&0) {
        return Some(0);
    }
    shape.iter().try_fold(1u64, |acc, &n| acc.checked_mul(n))
}

impl BlockGrid {
    /// A regular grid: blocks of `block_shape`, smaller at the far edges.
    pub fn regular(shape: &[u64], block_shape: &[u64]) -> Self {
        Self {
            axes: shape
                .iter()
                .zip(block_shape)
                .map(|(&n, &c)| AxisBlocks::regular(n, c))
                .collect(),
        }
    }

    /// A grid from per-axis blocks.
    pub(crate) fn from_axes(axes: Vec<AxisBlocks>) -> Self {
        Self { axes }
    }

    /// A grid for `shape` where `known[axis]` gives an axis's blocks when some input
    /// decides them; the other axes get regular blocks sized so a block holds about
    /// [`DEFAULT_CHUNK_BYTES`] (inner axes whole first).
    pub(crate) fn with_defaults(
        shape: &[u64],
        mut known: Vec<Option<AxisBlocks>>,
        element_size: usize,
    ) -> Self {
        let mut block_elems: u64 = known
            .iter()
            .map(|k| k.as_ref().map_or(1, AxisBlocks::max_extent))
            .fold(1, u64::saturating_mul);
        let budget = (DEFAULT_CHUNK_BYTES / element_size.max(1) as u64).max(1);
        let mut axes = Vec::with_capacity(shape.len());
        for axis in (0..shape.len()).rev() {
            axes.push(known[axis].take().unwrap_or_else(|| {
                let room = (budget / block_elems).max(1);
                let step = shape[axis].min(room).max(1);
                block_elems = block_elems.saturating_mul(step);
                AxisBlocks::regular(shape[axis], step)
            }));
        }
        axes.reverse();
        Self { axes }
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.axes.len()
    }

    /// How axis `axis` is cut.
    pub fn axis(&self, axis: usize) -> &AxisBlocks {
        &self.axes[axis]
    }

    /// Every axis's blocks.
    pub fn axes(&self) -> &[AxisBlocks] {
        &self.axes
    }

    /// Blocks along each axis.
    pub fn grid_shape(&self) -> Vec<u64> {
        self.axes.iter().map(AxisBlocks::num_blocks).collect()
    }

    /// Total number of blocks, saturating at `u64::MAX` (see
    /// [`BlockGrid::checked_num_blocks`]).
    pub fn num_blocks(&self) -> u64 {
        self.checked_num_blocks().unwrap_or(u64::MAX)
    }

    /// Total number of blocks, `None` when it exceeds `u64::MAX` (`[u64::MAX, 2]` cut into
    /// single elements): no pass can run over such a grid.
    pub fn checked_num_blocks(&self) -> Option<u64> {
        element_count(&self.grid_shape())
    }

    /// The region of the block at grid coordinates `coords`.
    pub fn block_region(&self, coords: &[u64]) -> Vec<Range<u64>> {
        coords
            .iter()
            .zip(&self.axes)
            .map(|(&c, a)| a.block(c))
            .collect()
    }

    /// The region of the block with C-order index `index`.
    pub fn block_region_at(&self, mut index: u64) -> Vec<Range<u64>> {
        let mut region = vec![0..0; self.axes.len()];
        for (r, a) in region.iter_mut().zip(&self.axes).rev() {
            let n = a.num_blocks().max(1);
            *r = a.block(index % n);
            index /= n;
        }
        region
    }

    /// The blocks along `axis` that overlap `range`.
    pub fn blocks_touching(&self, axis: usize, range: &Range<u64>) -> Range<u64> {
        self.axes[axis].blocks_touching(range)
    }

    /// The longest block extent along `axis` (at least 1).
    pub fn max_extent(&self, axis: usize) -> u64 {
        self.axes[axis].max_extent()
    }

    /// The most elements any block holds (saturating).
    pub fn max_block_elements(&self) -> u64 {
        self.axes
            .iter()
            .map(AxisBlocks::max_extent)
            .fold(1, u64::saturating_mul)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The boundaries of an axis of length `len` cut every `step` elements, listed.
    fn regular_bounds(len: u64, step: u64) -> Vec<u64> {
        let step = step.max(1);
        let mut b: Vec<u64> = (0..len.div_ceil(step)).map(|i| i * step).collect();
        b.push(len);
        b
    }

    /// The boundaries of an axis whose first block holds `first`, listed.
    fn shifted_bounds(len: u64, step: u64, first: u64) -> Vec<u64> {
        let mut b = vec![0];
        let mut x = first;
        while x < len {
            b.push(x);
            x += step;
        }
        if len > 0 {
            b.push(len);
        }
        b
    }

    /// Every accessor of `axis` agrees with the same accessor over the listed `bounds`.
    fn check_against(axis: &AxisBlocks, bounds: &[u64]) {
        let listed = AxisBlocks::explicit(bounds.to_vec());
        assert_eq!(axis.boundaries().collect::<Vec<_>>(), bounds);
        assert_eq!(axis.num_blocks(), bounds.len() as u64 - 1);
        assert_eq!(axis.extent(), *bounds.last().unwrap());
        assert_eq!(axis.max_extent(), listed.max_extent());
        assert_eq!(axis, &listed);
        let len = axis.extent();
        for start in 0..=len + 1 {
            for end in start..=len + 2 {
                let want = if start >= end.min(len) {
                    0..0
                } else {
                    let first = bounds.partition_point(|&x| x <= start) as u64 - 1;
                    let last = bounds.partition_point(|&x| x < end.min(len)) as u64 - 1;
                    first..last + 1
                };
                assert_eq!(axis.blocks_touching(&(start..end)), want, "{start}..{end}");
                assert_eq!(listed.blocks_touching(&(start..end)), want);
            }
        }
    }

    proptest! {
        #[test]
        fn regular_axes_match_their_listed_boundaries(len in 0u64..60, step in 0u64..20) {
            check_against(&AxisBlocks::regular(len, step), &regular_bounds(len, step));
        }

        #[test]
        fn shifted_axes_match_their_listed_boundaries(
            len in 0u64..60,
            step in 1u64..20,
            first in 1u64..20,
        ) {
            let first = first.min(step);
            check_against(&AxisBlocks::shifted(len, step, first), &shifted_bounds(len, step, first));
        }

        #[test]
        fn grids_index_blocks_in_c_order(
            shape in proptest::collection::vec(0u64..9, 0..4),
            steps in proptest::collection::vec(1u64..5, 4),
        ) {
            let g = BlockGrid::regular(&shape, &steps);
            let grid_shape = g.grid_shape();
            prop_assert_eq!(g.num_blocks(), grid_shape.iter().product::<u64>());
            for i in 0..g.num_blocks() {
                let coords = crate::format::grid::unravel(i, &grid_shape);
                prop_assert_eq!(g.block_region_at(i), g.block_region(&coords));
            }
        }
    }

    #[test]
    fn regular_and_touching() {
        let g = BlockGrid::regular(&[10, 0], &[4, 3]);
        assert!(g.axis(0).boundaries().eq([0, 4, 8, 10]));
        assert!(g.axis(1).boundaries().eq([0]));
        assert_eq!(g.num_blocks(), 0);
        assert_eq!(g.blocks_touching(0, &(3..9)), 0..3);
        assert_eq!(g.blocks_touching(0, &(4..8)), 1..2);
        let d = BlockGrid::with_defaults(&[1000, 1000], vec![None, None], 8);
        assert!(d.max_block_elements() * 8 <= DEFAULT_CHUNK_BYTES);
    }

    #[test]
    fn huge_axes_are_computed_not_listed() {
        let g = BlockGrid::regular(&[u64::MAX, 1 << 40], &[1, 1 << 20]);
        assert_eq!(g.grid_shape(), vec![u64::MAX, 1 << 20]);
        assert_eq!(g.num_blocks(), u64::MAX, "saturates");
        assert_eq!(g.axis(0).bound(u64::MAX), u64::MAX);
        assert_eq!(g.axis(0).block(u64::MAX - 1), u64::MAX - 1..u64::MAX);
        assert_eq!(g.blocks_touching(0, &(5..u64::MAX)), 5..u64::MAX);
        assert_eq!(g.max_block_elements(), 1 << 20);
        let last = g.block_region(&[u64::MAX - 1, (1 << 20) - 1]);
        assert_eq!(last[1], (1 << 40) - (1 << 20)..1 << 40);
        let a = AxisBlocks::shifted(u64::MAX, 1 << 30, 7);
        assert_eq!(a.block(0), 0..7);
        assert_eq!(a.block(1), 7..7 + (1 << 30));
        assert_eq!(a.num_blocks(), 1 + (u64::MAX - 7).div_ceil(1 << 30));
        assert_eq!(a.bound(a.num_blocks()), u64::MAX);
        assert_eq!(a.max_extent(), 1 << 30);
        assert_eq!(g.checked_num_blocks(), None);
        assert_eq!(element_count(&[1 << 40, 1 << 40]), None);
        assert_eq!(element_count(&[1 << 40, 1 << 40, 0]), Some(0));
        assert_eq!(element_count(&[u64::MAX, 0]), Some(0));
        assert_eq!(element_count(&[]), Some(1));
    }
}
