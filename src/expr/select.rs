//! Selections by index lists and boolean masks along one axis: `take` and `compress`, with
//! numpy's semantics (negative indices count from the end; out-of-range indices and masks
//! longer than the axis with a true beyond it are errors).
//!
//! The list is cut into runs of evenly spaced indices; each run is an ordinary selection
//! (`AxisPick::Range`, pushed down to the chunks under it like any slice) and the runs are
//! concatenated, then put back into blocks of the input's size. Evaluating a block reads
//! only the input blocks its indices fall in; the graph holds one node per run.

use super::{AxisPick, LazyArray};
use crate::element::{DataType, Kind};
use crate::error::{out_of_bounds, shape_mismatch, type_mismatch, Result};

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
