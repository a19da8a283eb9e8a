//! Evaluating scans (`cumsum`, `cumprod` and the NaN-skipping forms) block by block.
//!
//! Before a pass, [`prepare`] walks the scan's input once in C order of its blocks (blocks
//! evaluated in parallel, folded in order on the calling thread): each block's fold along the
//! axis starts from the running value left by the block before it along that axis, and its
//! last values are the next block's start. So the running value at every block boundary is
//! the one numpy's sequential loop reaches there, bit for bit, and it is kept: one value per
//! block along the axis and position of the other axes. A block (or any region) of the scan
//! is then its input from the start of the block holding the region's first index, folded
//! from that block's start value: blocks are independent, so a result streams (`to_store`)
//! in parallel.

use std::ops::Range;
use std::sync::Arc;

use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, Axis, IxDyn, Slice, Zip};

use super::{eval, run_batched, RunOptions};
use crate::element::Num;
use crate::error::{invalid, type_mismatch, Result};
use crate::expr::{Block, LazyArray, Scan, ScanOp};
use crate::with_element_type;

/// One step of the fold.
#[inline]
fn step<T: Num>(op: ScanOp, acc: T, x: T) -> T {
    match op {
        ScanOp::CumSum => acc.add(x),
        ScanOp::CumProd => acc.mul(x),
        // numpy replaces NaN by 0 (1) and then runs the plain scan.
        ScanOp::NanCumSum => acc.add(if x.is_nan() { T::from_i64(0) } else { x }),
        ScanOp::NanCumProd => acc.mul(if x.is_nan() { T::from_i64(1) } else { x }),
    }
}

/// Folds `input` along `axis` from `start` (one value per lane), writing the running values
/// into `out` when given; returns the last running values.
fn fold<T: Num>(
    op: ScanOp,
    input: &ArrayViewD<'_, T>,
    axis: usize,
    start: &ArrayViewD<'_, T>,
    out: Option<&mut ArrayViewMutD<'_, T>>,
) -> ArrayD<T> {
    let mut last = start.to_owned();
    match out {
        Some(out) => Zip::from(input.lanes(Axis(axis)))
            .and(out.lanes_mut(Axis(axis)))
            .and(&mut last)
            .for_each(|lane, mut o, acc| {
                for (x, y) in lane.iter().zip(o.iter_mut()) {
                    *acc = step(op, *acc, *x);
                    *y = *acc;
                }
            }),
        None => Zip::from(input.lanes(Axis(axis)))
            .and(&mut last)
            .for_each(|lane, acc| {
                for x in lane.iter() {
                    *acc = step(op, *acc, *x);
                }
            }),
    }
    last
}

/// The identity the first block starts from.
fn identity<T: Num>(op: ScanOp) -> T {
    match op {
        ScanOp::CumSum | ScanOp::NanCumSum => T::from_i64(0),
        ScanOp::CumProd | ScanOp::NanCumProd => T::from_i64(1),
    }
}

/// Computes `scan`'s start values at its block boundaries, once.
pub(crate) fn prepare(array: &LazyArray, scan: &Scan, opts: &RunOptions<'_>) -> Result<()> {
    if scan.offsets.get().is_some() {
        return Ok(());
    }
    let input = &scan.input;
    let axis = scan.axis;
    let grid = input.block_grid();
    let blocks_along = grid.grid_shape()[axis];
    let mut shape = vec![blocks_along];
    shape.extend(
        input
            .shape()
            .iter()
            .enumerate()
            .filter(|&(a, _)| a != axis)
            .map(|(_, &n)| n),
    );
    let dims = super::in_memory_shape(
        scan.op.name(),
        "the running values at block boundaries",
        &shape,
        array.data_type(),
        "rechunk it to fewer blocks along the axis",
    )?;
    super::check_block_size(scan.op.name(), input)?;
    let offsets: Arc<dyn std::any::Any + Send + Sync> = with_element_type!(array.data_type(), T => {
        let mut starts = ArrayD::<T>::from_elem(IxDyn(&dims), identity::<T>(scan.op));
        run_batched(
            super::pass_blocks(scan.op.name(), input)?,
            opts,
            |i| {
                let region = grid.block_region_at(i);
                let block = eval::eval(input, &region)?;
                let bytes = block.len() as u64 * array.data_type().size() as u64;
                Ok(((region, block), bytes))
            },
            |_, (region, block): (Vec<Range<u64>>, Block)| {
                let k = grid.blocks_touching(axis, &region[axis]).start as usize;
                if k + 1 >= dims[0] {
                    return Ok(());
                }
                let others = other_slices(&region, axis);
                let start = starts
                    .index_axis(Axis(0), k)
                    .slice_each_axis(|ax| others[ax.axis.index()])
                    .to_owned();
                let last = fold(scan.op, &block.view::<T>()?, axis, &start.view(), None);
                starts
                    .index_axis_mut(Axis(0), k + 1)
                    .slice_each_axis_mut(|ax| others[ax.axis.index()])
                    .assign(&last);
                Ok(())
            },
        )?;
        Arc::new(starts)
    });
    let _ = scan.offsets.set(offsets);
    Ok(())
}

/// `region` without `axis`, as slices of the other axes.
fn other_slices(region: &[Range<u64>], axis: usize) -> Vec<Slice> {
    region
        .iter()
        .enumerate()
        .filter(|&(a, _)| a != axis)
        .map(|(_, r)| Slice::from(r.start as usize..r.end as usize))
        .collect()
}

/// The values of `region` of the scan (its start values computed by [`prepare`]).
pub(crate) fn eval_scan(array: &LazyArray, scan: &Scan, region: &[Range<u64>]) -> Result<Block> {
    let offsets = scan
        .offsets
        .get()
        .ok_or_else(|| invalid("internal: a scan's block boundaries were not computed first"))?;
    let axis = scan.axis;
    let grid = scan.input.block_grid();
    let k = grid.blocks_touching(axis, &region[axis]).start;
    let from = grid.axis(axis).span(k..k + 1).start;
    let mut wide = region.to_vec();
    wide[axis] = from..region[axis].end;
    let input = eval::eval(&scan.input, &wide)?;
    with_element_type!(array.data_type(), T => {
        let starts = offsets
            .clone()
            .downcast::<ArrayD<T>>()
            .map_err(|_| type_mismatch("internal: scan boundaries of another type"))?;
        let others = other_slices(region, axis);
        let row = starts.index_axis(Axis(0), k as usize);
        let start = row.slice_each_axis(|ax| others[ax.axis.index()]);
        let view = input.view::<T>()?;
        let mut out = ArrayD::<T>::from_elem(view.raw_dim(), T::default());
        fold(scan.op, &view, axis, &start, Some(&mut out.view_mut()));
        let skip = (region[axis].start - from) as usize;
        out.slice_axis_inplace(Axis(axis), Slice::from(skip..));
        Ok(Block::from_array(out))
    })
}
