//! Selections by index lists and boolean masks along one axis: `take` and `compress`, with
//! numpy's semantics (negative indices count from the end; out-of-range indices and masks
//! longer than the axis with a true beyond it are errors).
//!
//! The list is cut into runs of evenly spaced indices; each run is an ordinary selection
//! (`AxisPick::Range`, pushed down to the chunks under it like any slice) and the runs are
//! concatenated, then put back into blocks of the input's size. Evaluating a block reads
//! only the input blocks its indices fall in; the graph holds one node per run.
//!
//! A boolean mask of the array's whole shape (numpy's `x[mask]`) is an [`Extraction`]: the
//! array and the mask flattened in C order into common *source blocks*, and the number of
//! true values before each source block, counted by one pass over the mask before the node
//! is built (the executor's `extract.rs`), since the result's length depends on them.

use super::{AxisPick, BlockGrid, LazyArray, Op, MAX_EXPLICIT_BLOCKS};
use crate::element::{DataType, Kind};
use crate::error::{out_of_bounds, shape_mismatch, too_large, type_mismatch, Result};

/// numpy's `x[mask]` for a mask of `x`'s shape: the values of `values` where `mask` is true,
/// in order. Both are the operands flattened in C order and cut into the same source blocks;
/// `offsets[j]` is the number of true values in source blocks `0..j` (one entry more than
/// there are blocks, the last the result's length), so the result's elements
/// `offsets[j]..offsets[j + 1]` come from source block `j`.
pub(crate) struct Extraction {
    pub(crate) values: LazyArray,
    pub(crate) mask: LazyArray,
    pub(crate) offsets: Vec<u64>,
}

impl LazyArray {
    /// `numpy.take(self, indices, axis)`: the slices at `indices` along `axis`, in that
    /// order (repeats allowed; negative indices count from the end).
    ///
    /// # Errors
    /// A bad axis, or an index outside `-n..n` for an axis of length `n`.
    pub fn take(&self, indices: &[i64], axis: i64) -> Result<LazyArray> {
        let axis = self.axis(axis)?;
        let n = self.shape()[axis];
        let positions: Vec<u64> = indices
            .iter()
            .map(|&i| {
                let j = if i < 0 {
                    i128::from(i) + i128::from(n)
                } else {
                    i128::from(i)
                };
                u64::try_from(j).ok().filter(|&j| j < n).ok_or_else(|| {
                    out_of_bounds(format!(
                        "index {i} is out of bounds for axis {axis} with size {n}"
                    ))
                })
            })
            .collect::<Result<_>>()?;
        let pick = |first: u64, step: i64, len: u64| -> Result<LazyArray> {
            let picks: Vec<AxisPick> = (0..self.ndim())
                .map(|a| {
                    if a == axis {
                        AxisPick::Range { first, step, len }
                    } else {
                        AxisPick::Range {
                            first: 0,
                            step: 1,
                            len: self.shape()[a],
                        }
                    }
                })
                .collect();
            self.select(&picks)
        };
        let mut runs = Vec::new();
        let mut k = 0;
        while k < positions.len() {
            let first = positions[k];
            let gap = |j: usize| positions[j] as i128 - positions[j - 1] as i128;
            let mut len = 1;
            if k + 1 < positions.len() && gap(k + 1) != 0 {
                let step = gap(k + 1);
                while k + len < positions.len() && gap(k + len) == step {
                    len += 1;
                }
            }
            let step = if len > 1 { gap(k + 1) as i64 } else { 1 };
            runs.push(pick(first, step, len as u64)?);
            k += len;
        }
        match runs.len() {
            0 => pick(0, 1, 0),
            1 => Ok(runs.pop().expect("one run")),
            _ => {
                let joined = LazyArray::concatenate(&runs, axis as i64)?;
                // Many short runs would leave as many small blocks: back to the input's.
                let chunks: Vec<u64> = (0..self.ndim())
                    .map(|a| {
                        let first = self.block_grid().axis(a).block(0);
                        (first.end - first.start).clamp(1, joined.shape()[a].max(1))
                    })
                    .collect();
                joined.rechunk(&chunks)
            }
        }
    }

    /// [`LazyArray::take`] with the indices in a 1-d integer lazy array, which is computed
    /// first (its length is that of the result along `axis`).
    ///
    /// # Errors
    /// `indices` not 1-d or not of an integer type, an error computing it, or as
    /// [`LazyArray::take`].
    pub fn take_array(&self, indices: &LazyArray, axis: i64) -> Result<LazyArray> {
        if indices.ndim() != 1
            || !matches!(indices.data_type().kind(), Kind::Signed | Kind::Unsigned)
        {
            return Err(type_mismatch(format!(
                "take: indices must be a 1-d integer array, not {} of shape {:?}",
                indices.data_type(),
                indices.shape()
            )));
        }
        let list = indices.astype(DataType::Int64).to_ndarray::<i64>()?;
        self.take(
            list.as_slice().expect("a computed array is contiguous"),
            axis,
        )
    }

    /// `numpy.compress(mask, self, axis)`: the slices along `axis` where `mask` is true. As
    /// numpy, a mask shorter than the axis selects among its first entries only.
    ///
    /// # Errors
    /// A bad axis, or a mask longer than the axis with a true past its end.
    pub fn compress(&self, mask: &[bool], axis: i64) -> Result<LazyArray> {
        let indices: Vec<i64> = mask
            .iter()
            .enumerate()
            .filter(|(_, &m)| m)
            .map(|(i, _)| i as i64)
            .collect();
        self.take(&indices, axis)
    }

    /// [`LazyArray::compress`] with the mask in a 1-d lazy array (any type: non-zero is
    /// true), which is computed first.
    ///
    /// # Errors
    /// `mask` not 1-d, an error computing it, or as [`LazyArray::compress`].
    pub fn compress_array(&self, mask: &LazyArray, axis: i64) -> Result<LazyArray> {
        if mask.ndim() != 1 {
            return Err(shape_mismatch(format!(
                "compress: the mask must be 1-d, not of shape {:?}",
                mask.shape()
            )));
        }
        let mask = mask.astype(DataType::Bool).to_ndarray::<bool>()?;
        self.compress(
            mask.as_slice().expect("a computed array is contiguous"),
            axis,
        )
    }
}

impl LazyArray {
    /// The operands of `self[mask]`, checked as numpy checks them (a bool mask of the array's
    /// shape), flattened in C order and cut into common source blocks: as long as the larger
    /// of the two operands' blocks, so that a source block holds about as many elements as a
    /// block of either, and no shorter than needed to keep an array to
    /// [`MAX_EXPLICIT_BLOCKS`] source blocks (the counts are one `u64` per block).
    pub(crate) fn extract_operands(&self, mask: &LazyArray) -> Result<(LazyArray, LazyArray)> {
        self.built()?;
        mask.built()?;
        if mask.data_type() != DataType::Bool {
            return Err(type_mismatch(format!(
                "extract: the mask must be bool, not {} (a comparison such as \
                 mask.not_equal(0) makes one)",
                mask.data_type()
            )));
        }
        if mask.shape() != self.shape() {
            return Err(shape_mismatch(format!(
                "extract: the mask has shape {:?}, the array {:?}; x[mask] takes a mask of the \
                 array's whole shape",
                mask.shape(),
                self.shape()
            )));
        }
        let n = self.checked_len().ok_or_else(|| {
            too_large(format!(
                "extract: an array of shape {:?} has more than 2^64 - 1 elements, which one \
                 axis cannot index",
                self.shape()
            ))
        })?;
        let block = self
            .block_grid()
            .max_block_elements()
            .max(mask.block_grid().max_block_elements())
            .max(n.div_ceil(MAX_EXPLICIT_BLOCKS))
            .min(n)
            .max(1);
        let flat = |a: &LazyArray| a.reshape_to(vec![n])?.rechunk(&[block]);
        Ok((flat(self)?, flat(mask)?))
    }

    /// `x[mask]` from the operands [`LazyArray::extract_operands`] gave and the counts of
    /// their true values (`offsets`, see [`Extraction`]), in blocks as long as the source
    /// blocks.
    pub(crate) fn extracted(values: LazyArray, mask: LazyArray, offsets: Vec<u64>) -> LazyArray {
        debug_assert_eq!(values.block_grid(), mask.block_grid());
        debug_assert_eq!(offsets.len() as u64, values.block_grid().num_blocks() + 1);
        let len = *offsets.last().expect("offsets start with 0");
        let grid = BlockGrid::regular(&[len], &[values.block_grid().max_extent(0)]);
        LazyArray::new(
            values.data_type(),
            vec![len],
            grid,
            Op::Extract(Box::new(Extraction {
                values,
                mask,
                offsets,
            })),
        )
    }
}
