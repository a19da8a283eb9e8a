//! numpy's `x[mask]` with a mask of `x`'s shape (`np.extract`): one counting pass over the
//! mask, then a lazy 1-d result whose blocks are compacted from the source blocks under them.
//!
//! The result's length is the number of true values, known only after reading the whole
//! mask, so [`Compute::extract`] runs that pass at once: the mask, flattened in C order into
//! source blocks (`LazyArray::extract_operands`), is counted block by block in parallel and
//! the running totals become the node's offsets, one `u64` per source block. A block of the
//! result, elements `a..b`, is then made from the source blocks whose offsets overlap `a..b`
//! (found by binary search): each one's mask is read, and of the values only the span between
//! its first and last selected element. Source blocks without a true value are never read,
//! and nothing is held but the block being made and one source block.

use std::ops::Range;

use ndarray::{ArrayD, IxDyn};

use super::{check_block_size, eval, pass_blocks, prepare, run_batched, Compute, RunOptions};
use crate::element::{DataType, Element};
use crate::error::{invalid, Error, Result};
use crate::expr::{Block, Extraction, LazyArray};
use crate::with_element_type;

impl LazyArray {
    /// numpy's `x[mask]` for a boolean `mask` of `x`'s shape, which is `np.extract(mask, x)`:
    /// a 1-d array of the elements of `x` where `mask` is true, in C (row-major) order.
    ///
    /// The result's length depends on the mask's values, so this reads the mask now, in one
    /// pass that counts its true values per block of the flattened order (with
    /// [`Compute::extract`], under that computation's options). The values stay lazy: each
    /// block of the result reads only the flattened blocks of `mask` and `x` that hold its
    /// elements, so neither is ever held whole, and what is kept between the passes is one
    /// count per block. The mask is any bool expression, such as `x.greater(0.5)?`.
    ///
    /// ```
    /// use outcore::{ndarray::array, Axes, LazyArray};
    ///
    /// # fn main() -> outcore::Result<()> {
    /// let x = LazyArray::from_array(array![[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]], &[1, 2])?;
    /// let positive = x.extract(&x.greater(0.0)?)?; // numpy: x[x > 0]
    /// assert_eq!(positive.shape(), &[3]);
    /// assert_eq!(positive.to_ndarray::<f64>()?.into_raw_vec_and_offset().0, vec![1.0, 3.0, 5.0]);
    /// assert_eq!(positive.sum(Axes::all())?.to_scalar::<f64>()?, 9.0);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`Compute::extract`].
    pub fn extract(&self, mask: &LazyArray) -> Result<LazyArray> {
        self.compute().extract(mask)
    }
}

impl Compute<'_> {
    /// [`LazyArray::extract`] (numpy's `x[mask]`, `np.extract(mask, x)`) of the array being
    /// computed, counting the mask's true values under this computation's options: progress
    /// is reported and cancellation checked for the counting pass, which evaluates at most
    /// [`Compute::max_blocks_in_flight`] blocks of the mask at a time. The result is lazy;
    /// computing it is a pass of its own, with its own options.
    ///
    /// # Errors
    /// [`ErrorKind::TypeMismatch`] when `mask` is not bool (numpy would index with its
    /// values instead); [`ErrorKind::ShapeMismatch`] when its shape is not the array's;
    /// [`ErrorKind::TooLarge`] for an array of more than 2^64 - 1 elements or source blocks
    /// too large for memory; the deferred error of either operand; any error evaluating the
    /// mask, and [`Error::Cancelled`](crate::Error::Cancelled).
    ///
    /// [`ErrorKind::TypeMismatch`]: crate::ErrorKind::TypeMismatch
    /// [`ErrorKind::ShapeMismatch`]: crate::ErrorKind::ShapeMismatch
    /// [`ErrorKind::TooLarge`]: crate::ErrorKind::TooLarge
    pub fn extract(self, mask: &LazyArray) -> Result<LazyArray> {
        let (values, mask) = self.array.extract_operands(mask)?;
        let offsets = true_offsets(&mask, &self.opts)?;
        Ok(LazyArray::extracted(values, mask, offsets))
    }
}

/// The number of true values of the 1-d bool `mask` before each of its blocks, and in all
/// (one pass, blocks counted in parallel).
fn true_offsets(mask: &LazyArray, opts: &RunOptions<'_>) -> Result<Vec<u64>> {
    prepare(mask, opts)?;
    check_block_size("extract", mask)?;
    let blocks = pass_blocks("extract", mask)?;
    let grid = mask.block_grid();
    let mut offsets = Vec::with_capacity(blocks as usize + 1);
    offsets.push(0);
    run_batched(
        blocks,
        opts,
        |i| {
            let block = eval::eval(mask, &grid.block_region_at(i))?;
            let view = block.view::<bool>()?;
            let trues: u64 = match view.as_slice() {
                Some(flags) => flags.iter().map(|&m| u64::from(m)).sum(),
                None => view.iter().map(|&m| u64::from(m)).sum(),
            };
            Ok((trues, view.len() as u64))
        },
        |_, trues| {
            let before = *offsets.last().expect("offsets start with 0");
            offsets.push(before + trues);
            Ok(())
        },
    )?;
    Ok(offsets)
}

/// Elements `region[0]` of an extraction's result: the selected values of every source
/// block whose share of the result overlaps them, in order.
pub(super) fn eval_extract(
    data_type: DataType,
    extraction: &Extraction,
    region: &[Range<u64>],
) -> Result<Block> {
    let wanted = region[0].clone();
    let offsets = &extraction.offsets;
    let blocks = extraction.values.block_grid().axis(0);
    with_element_type!(data_type, T => {
        let mut out: Vec<T> = Vec::with_capacity((wanted.end - wanted.start) as usize);
        // The last source block whose share starts at or before the first wanted element.
        let first = offsets.partition_point(|&o| o <= wanted.start).max(1) - 1;
        for j in first..offsets.len() - 1 {
            let share = offsets[j]..offsets[j + 1];
            if share.start >= wanted.end {
                break;
            }
            let picks = share.start.max(wanted.start)..share.end.min(wanted.end);
            if picks.start < picks.end {
                compact(
                    extraction,
                    blocks.block(j as u64),
                    picks.start - share.start..picks.end - share.start,
                    &mut out,
                )?;
            }
        }
        let len = out.len();
        if len as u64 != wanted.end - wanted.start {
            return Err(mask_changed());
        }
        Ok(Block::from_array(
            ArrayD::from_shape_vec(IxDyn(&[len]), out).expect("one axis of the values' length"),
        ))
    })
}

/// Appends to `out` the values of source block `span` at its true positions numbered
/// `picks` (the first true of the block is 0), reading the values only between the first
/// and the last of them.
fn compact<T: Element>(
    extraction: &Extraction,
    span: Range<u64>,
    picks: Range<u64>,
    out: &mut Vec<T>,
) -> Result<()> {
    let mask_block = eval::eval(&extraction.mask, std::slice::from_ref(&span))?;
    let mask_view = mask_block.view::<bool>()?;
    let mask_view = mask_view.as_standard_layout();
    let mask = mask_view.as_slice().expect("standard layout");
    // The positions of the first and the last picked true value.
    let mut trues = (0u64..).zip(mask.iter().enumerate().filter(|(_, &m)| m));
    let from = trues
        .find(|(k, _)| *k == picks.start)
        .map(|(_, (p, _))| p)
        .ok_or_else(mask_changed)?;
    let to = if picks.end - picks.start == 1 {
        from + 1
    } else {
        trues
            .find(|(k, _)| *k + 1 == picks.end)
            .map(|(_, (p, _))| p + 1)
            .ok_or_else(mask_changed)?
    };
    let selected = span.start + from as u64..span.start + to as u64;
    let values_block = eval::eval(&extraction.values, std::slice::from_ref(&selected))?;
    let values_view = values_block.view::<T>()?;
    let values_view = values_view.as_standard_layout();
    let values = values_view.as_slice().expect("standard layout");
    out.extend(
        values
            .iter()
            .zip(&mask[from..to])
            .filter(|(_, &m)| m)
            .map(|(&v, _)| v),
    );
    Ok(())
}

/// The error of a mask whose values differ from those counted (its store was updated between
/// the counting pass and this one): the result's length no longer holds.
fn mask_changed() -> Error {
    invalid("extract: the mask gave other values than when its true values were counted")
}

/// [`LazyArray::extract`] of each of `columns` (every one of the mask's shape) by the one
/// `mask`: its true values are counted once for all the columns whose flattened blocks are
/// the same (once in all for the columns of a CSV conversion, which share their chunks).
#[cfg(feature = "convert")]
pub(crate) fn extract_each(columns: &[LazyArray], mask: &LazyArray) -> Result<Vec<LazyArray>> {
    let opts = RunOptions::default();
    let mut counted: Vec<(LazyArray, Vec<u64>)> = Vec::new();
    columns
        .iter()
        .map(|column| {
            let (values, flat_mask) = column.extract_operands(mask)?;
            let grid = flat_mask.block_grid();
            let offsets = match counted.iter().find(|(m, _)| m.block_grid() == grid) {
                Some((_, offsets)) => offsets.clone(),
                None => {
                    let offsets = true_offsets(&flat_mask, &opts)?;
                    counted.push((flat_mask.clone(), offsets.clone()));
                    offsets
                }
            };
            Ok(LazyArray::extracted(values, flat_mask, offsets))
        })
        .collect()
}
