//! Layer 7: the executor — evaluates lazy arrays block by block on rayon.
//!
//! Every result is produced by one streaming pass over the blocks of the array being consumed
//! (the root, or a reduction's input), in C order, in batches of a bounded number of blocks:
//! each block's whole elementwise chain is evaluated in one go (no intermediate arrays),
//! reduction partials merge in a fixed tree, and at most `threads × BLOCKS_PER_THREAD` blocks
//! are in flight, so peak memory is the cache budget plus a small constant per thread.
//! Reductions that feed other operations (`x - x.mean(0)`) are computed first, in their own
//! pass, and held in memory.

use std::collections::HashSet;
use std::ops::{ControlFlow, Range};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ndarray::{ArrayD, IxDyn, Slice};
use rayon::prelude::*;

mod any_array;
mod eval;
mod extract;
mod functions;
mod fused;
mod group;
mod histogram;
mod kernels;
mod quantile;
mod reduce;
mod scan;
pub(crate) mod summary;

pub use any_array::AnyArray;
#[cfg(feature = "convert")]
pub(crate) use extract::extract_each;
pub use group::{Agg, GroupBy, GroupTable};
pub use histogram::{Bins, Histogram, Histogram2d, Unique};
pub use quantile::{QuantileMethod, Quantiles};

use crate::element::{DataType, Element};
use crate::error::{shape_mismatch, too_large, type_mismatch, Error, Result};
use crate::expr::{element_count, Block, LazyArray, Op};
use crate::store::{Array, ArraySpec, Store};
use crate::with_element_type;

/// Blocks evaluated per rayon thread in one batch: enough to keep threads busy across uneven
/// blocks, few enough that the batch's blocks stay a small multiple of the thread count.
pub(crate) const BLOCKS_PER_THREAD: usize = 4;

/// Where a computation is: blocks done of the pass under way, logical bytes streamed, and
/// the time the pass has taken, from which [`Progress::rate`] and [`Progress::eta`] follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Blocks finished in this pass.
    pub blocks_done: u64,
    /// Blocks in this pass (0 while a pass cannot count them, as the first pass of a CSV
    /// conversion).
    pub blocks_total: u64,
    /// Logical (decoded) bytes of the blocks finished.
    pub bytes_done: u64,
    /// Time since this pass started.
    pub elapsed: Duration,
}

impl Progress {
    /// The report of a pass that started at `started`.
    pub(crate) fn since(
        started: Instant,
        blocks_done: u64,
        blocks_total: u64,
        bytes_done: u64,
    ) -> Self {
        Progress {
            blocks_done,
            blocks_total,
            bytes_done,
            elapsed: started.elapsed(),
        }
    }

    /// Logical bytes streamed per second so far in this pass (0 before any time has passed).
    pub fn rate(&self) -> f64 {
        let seconds = self.elapsed.as_secs_f64();
        if seconds > 0.0 {
            self.bytes_done as f64 / seconds
        } else {
            0.0
        }
    }

    /// The time the rest of the pass should take at the pace of its blocks so far: `None`
    /// before the first block is done or when the pass does not know its block count.
    pub fn eta(&self) -> Option<Duration> {
        if self.blocks_done == 0 || self.blocks_total < self.blocks_done {
            return None;
        }
        let left = (self.blocks_total - self.blocks_done) as f64 / self.blocks_done as f64;
        Some(self.elapsed.mul_f64(left))
    }
}

/// A progress observer: called after every batch of blocks, one call at a time: from the
/// calling thread, except while writing a store ([`Compute::to_store`]), where the worker
/// that finished a batch's last block reports it. Returning [`ControlFlow::Break`] stops the
/// pass, which then ends with [`Error::Cancelled`] as if cancelled by
/// [`Compute::cancel_with`]: nothing is published.
pub type ProgressFn<'a> = &'a (dyn Fn(&Progress) -> ControlFlow<()> + Sync);

/// Shows `progress` to `observer`, if any: [`Error::Cancelled`] when it asks to stop.
pub(crate) fn report(observer: Option<ProgressFn<'_>>, progress: &Progress) -> Result<()> {
    match observer.map(|o| o(progress)) {
        Some(ControlFlow::Break(())) => Err(Error::Cancelled),
        _ => Ok(()),
    }
}

#[derive(Clone, Copy, Default)]
pub(crate) struct RunOptions<'a> {
    /// Always read the data (never the statistics sidecar).
    pub(crate) scan: bool,
    pub(crate) progress: Option<ProgressFn<'a>>,
    pub(crate) max_in_flight: Option<usize>,
    /// Stops the pass before its next batch (or block, when writing) once set.
    pub(crate) cancel: Option<&'a AtomicBool>,
    /// `to_store` leaves chunks whose every element is the fill value unwritten.
    pub(crate) skip_fill_chunks: bool,
}

impl RunOptions<'_> {
    /// [`Error::Cancelled`] once the caller has set the cancellation flag.
    fn check_cancelled(&self) -> Result<()> {
        match self.cancel {
            Some(flag) if flag.load(Ordering::Relaxed) => Err(Error::Cancelled),
            _ => Ok(()),
        }
    }

    fn batch(&self) -> usize {
        let natural = rayon::current_num_threads() * BLOCKS_PER_THREAD;
        self.max_in_flight
            .map_or(natural, |m| m.min(natural))
            .max(1)
    }
}

/// Runs `work(i)` for `i` in `0..total` in parallel batches, then `consume(i, result)` for
/// each in order on the calling thread. `work` returns its result and the bytes it covered.
pub(crate) fn run_batched<R: Send>(
    total: u64,
    opts: &RunOptions<'_>,
    work: impl Fn(u64) -> Result<(R, u64)> + Sync,
    mut consume: impl FnMut(u64, R) -> Result<()>,
) -> Result<()> {
    let batch = opts.batch() as u64;
    let started = Instant::now();
    let (mut blocks_done, mut bytes_done) = (0u64, 0u64);
    let mut start = 0;
    while start < total {
        opts.check_cancelled()?;
        let n = batch.min(total - start);
        let results: Vec<Result<(R, u64)>> = (0..n as usize)
            .into_par_iter()
            .map(|i| work(start + i as u64))
            .collect();
        for (i, result) in results.into_iter().enumerate() {
            let (r, bytes) = result?;
            consume(start + i as u64, r)?;
            blocks_done += 1;
            bytes_done = bytes_done.saturating_add(bytes);
        }
        report(
            opts.progress,
            &Progress::since(started, blocks_done, total, bytes_done),
        )?;
        start += n;
    }
    Ok(())
}

/// Runs `work(i)` for every `i` in `0..total` when nothing consumes the results in order
/// (writing a store): one worker per rayon thread, at most `opts.batch()`, each taking the
/// next block in C order as soon as it has finished one, so no thread waits at a batch's
/// end for its slowest block and at most one block per worker is in flight. `work` returns
/// the bytes it covered. Progress is reported one call at a time, from whichever worker
/// finished the block, after every `opts.batch()` blocks and after the last. After an error
/// no further block starts; the error of the lowest failed block is returned.
pub(crate) fn run_unordered(
    total: u64,
    opts: &RunOptions<'_>,
    work: impl Fn(u64) -> Result<u64> + Sync,
) -> Result<()> {
    let batch = opts.batch();
    let workers = batch.min(rayon::current_num_threads()).max(1);
    let next = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let failure: Mutex<Option<(u64, Error)>> = Mutex::new(None);
    let started = Instant::now();
    let progress = Mutex::new((0u64, 0u64));
    let worker = || {
        while !stop.load(Ordering::Relaxed) {
            let i = next.fetch_add(1, Ordering::Relaxed);
            if i >= total {
                return;
            }
            let done = opts
                .check_cancelled()
                .and_then(|()| work(i))
                .and_then(|bytes| {
                    let mut p = progress.lock().unwrap_or_else(|e| e.into_inner());
                    let (blocks_done, bytes_done) = &mut *p;
                    *blocks_done += 1;
                    *bytes_done = bytes_done.saturating_add(bytes);
                    if blocks_done.is_multiple_of(batch as u64) || *blocks_done == total {
                        let now = Progress::since(started, *blocks_done, total, *bytes_done);
                        report(opts.progress, &now)?;
                    }
                    Ok(())
                });
            match done {
                Ok(()) => {}
                Err(e) => {
                    stop.store(true, Ordering::Relaxed);
                    let mut first = failure.lock().unwrap_or_else(|e| e.into_inner());
                    if first.as_ref().is_none_or(|(j, _)| i < *j) {
                        *first = Some((i, e));
                    }
                    return;
                }
            }
        }
    };
    rayon::scope(|s| {
        for _ in 1..workers {
            s.spawn(|_| worker());
        }
        worker();
    });
    match failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
        Some((_, e)) => Err(e),
        None => Ok(()),
    }
}

/// Computes, before the main pass, every reduction that feeds another operation below
/// `root` (the root itself streams).
fn prepare(root: &LazyArray, opts: &RunOptions<'_>) -> Result<()> {
    root.built()?;
    let mut visited = HashSet::new();
    for input in root.node.op.inputs() {
        prepare_node(input, opts, &mut visited)?;
    }
    if let Op::Scan(scan) = &root.node.op {
        scan::prepare(root, scan, opts)?;
    }
    Ok(())
}

fn prepare_node(
    array: &LazyArray,
    opts: &RunOptions<'_>,
    visited: &mut HashSet<usize>,
) -> Result<()> {
    if !visited.insert(std::sync::Arc::as_ptr(&array.node) as usize) {
        return Ok(());
    }
    for input in array.node.op.inputs() {
        prepare_node(input, opts, visited)?;
    }
    if let Op::Scan(scan) = &array.node.op {
        scan::prepare(array, scan, opts)?;
    }
    if let Op::Reduce(reduction) = &array.node.op {
        if reduction.result.get().is_none() {
            let _ = reduction.result.set(in_memory(array, reduction, opts)?);
        }
    }
    Ok(())
}

/// `array` ready to stream as a root: its inner reductions computed, and a reduction itself
/// computed into memory.
fn materialize(array: &LazyArray, opts: &RunOptions<'_>) -> Result<LazyArray> {
    prepare(array, opts)?;
    match &array.node.op {
        Op::Reduce(reduction) => in_memory(array, reduction, opts),
        _ => Ok(array.clone()),
    }
}

/// A reduction (its inputs prepared) computed into an in-memory source with its block grid.
fn in_memory(
    array: &LazyArray,
    reduction: &crate::expr::Reduction,
    opts: &RunOptions<'_>,
) -> Result<LazyArray> {
    let block = reduce_in_memory(
        "a reduction feeding another operation",
        array,
        reduction,
        opts,
    )?;
    let chunks: Vec<u64> = (0..array.ndim())
        .map(|axis| array.block_grid().max_extent(axis))
        .collect();
    with_element_type!(array.data_type(), T => {
        block
            .into_array::<T>()
            .and_then(|a| LazyArray::from_array(a, &chunks))
    })
}

/// How to evaluate a lazy array: options, then one of the result methods. Made by
/// [`LazyArray::compute`].
#[must_use = "a Compute does nothing until a result method is called"]
pub struct Compute<'a> {
    array: &'a LazyArray,
    opts: RunOptions<'a>,
}

impl LazyArray {
    /// Starts an evaluation with options (progress, scanning, blocks in flight).
    pub fn compute(&self) -> Compute<'_> {
        Compute {
            array: self,
            opts: RunOptions::default(),
        }
    }

    /// Evaluates into an in-memory array (`T` must be the array's data type).
    ///
    /// # Errors
    ///
    /// As [`Compute::to_ndarray`].
    pub fn to_ndarray<T: Element>(&self) -> Result<ArrayD<T>> {
        self.compute().to_ndarray()
    }

    /// Evaluates an array of one element (a full reduction) into that element.
    ///
    /// # Errors
    ///
    /// As [`Compute::to_scalar`].
    pub fn to_scalar<T: Element>(&self) -> Result<T> {
        self.compute().to_scalar()
    }

    /// Evaluates into an in-memory array of `T`, converting with [`LazyArray::astype`]
    /// (numpy's `astype` rules) as part of the same pass, so the conversion fuses with the
    /// rest of the expression. See [`Compute::to_ndarray_as`].
    ///
    /// # Errors
    ///
    /// As [`Compute::to_ndarray`].
    pub fn to_ndarray_as<T: Element>(&self) -> Result<ArrayD<T>> {
        self.compute().to_ndarray_as()
    }

    /// Evaluates into an in-memory array of the array's own element type, whichever it is.
    /// See [`Compute::to_dynamic`].
    ///
    /// # Errors
    ///
    /// As [`Compute::to_ndarray`].
    pub fn to_dynamic(&self) -> Result<AnyArray> {
        self.compute().to_dynamic()
    }

    /// Evaluates into a new stored array `name` of `store`, chunk by chunk (results larger
    /// than memory are fine). `spec` must have this array's data type and shape.
    ///
    /// # Errors
    ///
    /// As [`Compute::to_store`].
    pub fn to_store(&self, store: &Store, name: &str, spec: &ArraySpec) -> Result<Array> {
        self.compute().to_store(store, name, spec)
    }

    /// The array's blocks in C order of its block grid, each with its region, evaluated a
    /// batch at a time in parallel: a streaming consumer holds at most one batch.
    pub fn blocks(&self) -> Blocks {
        Blocks {
            array: self.clone(),
            next: 0,
            ready: std::collections::VecDeque::new(),
            prepared: false,
        }
    }
}

impl<'a> Compute<'a> {
    /// Always read the data, never the statistics sidecar (benchmarks and verification).
    pub fn scan_data(mut self) -> Self {
        self.opts.scan = true;
        self
    }

    /// Reports progress to `observer` after every batch of blocks; the observer stops the
    /// pass by returning [`ControlFlow::Break`] (see [`ProgressFn`]).
    pub fn progress(mut self, observer: ProgressFn<'a>) -> Self {
        self.opts.progress = Some(observer);
        self
    }

    /// Stops the computation once `flag` is set (from another thread, a signal handler, a
    /// progress observer): the pass finishes the blocks under way and returns
    /// [`Error::Cancelled`]; a store being written is abandoned, leaving nothing behind.
    pub fn cancel_with(mut self, flag: &'a AtomicBool) -> Self {
        self.opts.cancel = Some(flag);
        self
    }

    /// `to_store` writes no chunk whose every element is the spec's fill value (a sparse
    /// source stays sparse; such chunks have no statistics record, so statistics of them are
    /// computed from the data).
    #[cfg(feature = "convert")]
    pub(crate) fn skip_fill_chunks(mut self) -> Self {
        self.opts.skip_fill_chunks = true;
        self
    }

    /// Evaluates at most `n` blocks at a time (default: four per thread).
    pub fn max_blocks_in_flight(mut self, n: usize) -> Self {
        self.opts.max_in_flight = Some(n);
        self
    }

    fn check_type<T: Element>(&self) -> Result<()> {
        if T::DATA_TYPE != self.array.data_type() {
            return Err(type_mismatch(format!(
                "the array holds {}, not {} (to_ndarray_as converts, to_dynamic takes any type)",
                self.array.data_type(),
                T::DATA_TYPE
            )));
        }
        Ok(())
    }

    /// Evaluates into an in-memory array (`T` must be the array's data type).
    ///
    /// # Errors
    ///
    /// A `T` other than the array's data type; a result or block too large for memory;
    /// any error reading a stored source; cancellation (see [`Compute::cancel_with`]).
    pub fn to_ndarray<T: Element>(self) -> Result<ArrayD<T>> {
        self.check_type::<T>()?;
        let shape = result_shape("to_ndarray", self.array)?;
        let mut out = ArrayD::<T>::from_elem(IxDyn(&shape), T::default());
        self.for_each_block(|region, block| {
            out.slice_each_axis_mut(|ax| {
                let r = &region[ax.axis.index()];
                Slice::from(r.start as usize..r.end as usize)
            })
            .assign(&block.view::<T>()?);
            Ok(())
        })?;
        Ok(out)
    }

    /// Evaluates into an in-memory array of `T` whatever the array's type: the lazy array is
    /// converted with [`LazyArray::astype`] (numpy's `astype`: floats to integers truncate
    /// toward zero and saturate, NaN becomes 0, non-zero becomes `true`), so the conversion
    /// is one more operation of the pass, applied block by block.
    ///
    /// # Errors
    ///
    /// As [`Compute::to_ndarray`], except that the type always matches.
    pub fn to_ndarray_as<T: Element>(self) -> Result<ArrayD<T>> {
        let cast = self.array.astype(T::DATA_TYPE);
        Compute {
            array: &cast,
            opts: self.opts,
        }
        .to_ndarray()
    }

    /// Evaluates into an in-memory array of the array's own element type, as the
    /// [`AnyArray`] variant of that type.
    ///
    /// # Errors
    ///
    /// As [`Compute::to_ndarray`].
    pub fn to_dynamic(self) -> Result<AnyArray> {
        with_element_type!(self.array.data_type(), T => self.to_ndarray::<T>().map(AnyArray::from))
    }

    /// Evaluates an array of one element into that element.
    ///
    /// # Errors
    ///
    /// An array of more than one element (`ShapeMismatch`), and the errors of
    /// [`Compute::to_ndarray`].
    pub fn to_scalar<T: Element>(self) -> Result<T> {
        if self.array.len() != 1 {
            return Err(shape_mismatch(format!(
                "to_scalar needs one element, the array has shape {:?}",
                self.array.shape()
            )));
        }
        let a = self.to_ndarray::<T>()?;
        Ok(*a.iter().next().expect("one element"))
    }

    /// Evaluates into a new stored array, chunk by chunk, shard after shard: each shard is
    /// committed as soon as its chunks are written. Every rayon thread evaluates and writes
    /// one chunk after another with no barrier between them, so memory holds one chunk per
    /// thread.
    ///
    /// # Errors
    ///
    /// A `spec` whose data type or shape differs from the array's; `name` already in
    /// `store`; any error evaluating the array or writing the store (I/O, a full disk);
    /// cancellation.
    pub fn to_store(self, store: &Store, name: &str, spec: &ArraySpec) -> Result<Array> {
        let array = materialize(self.array, &self.opts)?;
        let writer =
            store.create_array(name, &spec.checked_for(array.data_type(), array.shape())?)?;
        let grid = writer.grid().clone();
        // Compared as bytes: a NaN fill matches chunks of the same NaN.
        let fill = (self.opts.skip_fill_chunks && cfg!(target_endian = "little"))
            .then(|| writer.fill_value().le_bytes().to_vec());
        let per_shard = grid.chunks_per_shard_total();
        let shards = grid.shard_grid_shape();
        let total = element_count(&shards)
            .and_then(|n| n.checked_mul(per_shard))
            .ok_or_else(|| too_large(format!("to_store: {name} has more than 2^64 - 1 chunks")))?;
        with_element_type!(array.data_type(), T => {
            run_unordered(total, &self.opts, |w| {
                let shard = crate::format::grid::unravel(w / per_shard, &shards);
                let Some(chunk) = grid.chunk_in_shard(&shard, w % per_shard) else {
                    return Ok(0);
                };
                let region: Vec<Range<u64>> = grid.chunk_region(&chunk);
                let block = eval::eval(&array, &region)?;
                // A contiguous view (a source chunk of the same shape) is written as is.
                let view = block.view::<T>()?;
                let values = view.as_standard_layout();
                let slice = values.as_slice().expect("standard layout");
                let bytes: &[u8] = bytemuck::cast_slice(slice);
                if fill
                    .as_ref()
                    .is_some_and(|f| bytes.chunks_exact(f.len()).all(|e| e == f.as_slice()))
                {
                    return Ok(bytes.len() as u64);
                }
                writer.write_chunk::<T>(&chunk, slice)?;
                Ok(slice.len() as u64 * T::DATA_TYPE.size() as u64)
            })
        })?;
        writer.finish()
    }

    /// Evaluates block by block, calling `f(region, block)` in C order of the block grid.
    ///
    /// # Errors
    ///
    /// A block too large for memory; any error evaluating the array; whatever `f`
    /// returns; cancellation.
    pub fn for_each_block(
        self,
        mut f: impl FnMut(&[Range<u64>], Block) -> Result<()>,
    ) -> Result<()> {
        let array = self.array;
        prepare(array, &self.opts)?;
        if let Op::Reduce(reduction) = &array.node.op {
            let block = reduce_in_memory("reduce", array, reduction, &self.opts)?;
            let region: Vec<Range<u64>> = array.shape().iter().map(|&n| 0..n).collect();
            return f(&region, block);
        }
        check_block_size("for_each_block", array)?;
        let grid = array.block_grid();
        run_batched(
            pass_blocks("for_each_block", array)?,
            &self.opts,
            |i| {
                let region = grid.block_region_at(i);
                let block = eval::eval(array, &region)?;
                let bytes = block.len() as u64 * array.data_type().size() as u64;
                Ok(((region, block), bytes))
            },
            |_, (region, block)| f(&region, block),
        )
    }
}

/// `shape` as `usize`s when an in-memory array of it fits, or an error naming `what` (the
/// result, a block) when no allocation could hold it: its extents or bytes exceed what this
/// machine addresses, or the allocator refuses its bytes (asked, and given back at once: an
/// untouched reservation costs only address space). The callers then allocate with ndarray,
/// which would abort on failure instead of returning it.
fn in_memory_shape(
    operation: &str,
    what: &str,
    shape: &[u64],
    data_type: DataType,
    hint: &str,
) -> Result<Vec<usize>> {
    let too_large = |why: &str| {
        let bytes = crate::format::layout::saturating_bytes(shape, data_type.size());
        too_large(format!(
            "{operation}: {what} of shape {shape:?} ({bytes} bytes of {data_type}) {why}; {hint}"
        ))
    };
    let dims: Vec<usize> = shape
        .iter()
        .map(|&n| usize::try_from(n))
        .collect::<std::result::Result<_, _>>()
        .map_err(|_| too_large("has an extent beyond this machine's usize"))?;
    // ndarray needs the product of the nonzero extents within `isize`, even with no elements.
    let nonzero: Vec<u64> = shape.iter().copied().filter(|&n| n > 0).collect();
    let bytes = crate::format::grid::checked_product(&nonzero)
        .and_then(|n| n.checked_mul(data_type.size() as u64))
        .and_then(|b| usize::try_from(b).ok())
        .filter(|&b| b <= isize::MAX as usize)
        .ok_or_else(|| too_large("is larger than any allocation can be"))?;
    if !shape.contains(&0) {
        Vec::<u8>::new()
            .try_reserve_exact(bytes)
            .map_err(|_| too_large("does not fit in memory"))?;
    }
    Ok(dims)
}

/// [`in_memory_shape`] of `array`'s whole result.
fn result_shape(operation: &str, array: &LazyArray) -> Result<Vec<usize>> {
    in_memory_shape(
        operation,
        "the result",
        array.shape(),
        array.data_type(),
        "slice or reduce it, or write it with to_store",
    )
}

/// Checks that `array`'s largest block can be held in memory, before a pass evaluates its
/// blocks.
fn check_block_size(operation: &str, array: &LazyArray) -> Result<()> {
    let grid = array.block_grid();
    let largest: Vec<u64> = (0..array.ndim()).map(|a| grid.max_extent(a)).collect();
    in_memory_shape(
        operation,
        "a block",
        &largest,
        array.data_type(),
        "rechunk it to smaller blocks",
    )
    .map(drop)
}

/// The number of blocks a pass over `array` evaluates, or an error when it exceeds `u64`.
fn pass_blocks(operation: &str, array: &LazyArray) -> Result<u64> {
    array.block_grid().checked_num_blocks().ok_or_else(|| {
        too_large(format!(
            "{operation}: an array of shape {:?} cut into {:?} blocks per axis has more than \
             2^64 - 1 blocks; rechunk it to larger blocks",
            array.shape(),
            array.block_grid().grid_shape()
        ))
    })
}

/// A reduction computed into one block, once [`in_memory_shape`] found room for it. The pass
/// counts the input's blocks, and the elements of each, in `u64`: both are checked first (the
/// block counts along the nonempty axes, as groups and members are counted apart).
fn reduce_in_memory(
    operation: &str,
    array: &LazyArray,
    reduction: &crate::expr::Reduction,
    opts: &RunOptions<'_>,
) -> Result<Block> {
    result_shape(operation, array)?;
    let input = &reduction.input;
    let grid = input.block_grid();
    let counts: Vec<u64> = grid.grid_shape().into_iter().filter(|&n| n > 0).collect();
    let largest: Vec<u64> = (0..input.ndim()).map(|a| grid.max_extent(a)).collect();
    if element_count(&counts).is_none() || element_count(&largest).is_none() {
        return Err(too_large(format!(
            "{operation}: the input of shape {:?} has more than 2^64 - 1 blocks ({:?} per axis) \
             or elements in a block ({largest:?}); rechunk it",
            input.shape(),
            grid.grid_shape()
        )));
    }
    reduce::reduce_to_block(reduction, array.data_type(), array.shape(), opts)
}

/// An iterator over an array's blocks (see [`LazyArray::blocks`]).
pub struct Blocks {
    array: LazyArray,
    next: u64,
    ready: std::collections::VecDeque<Result<(Vec<Range<u64>>, Block)>>,
    prepared: bool,
}

impl Iterator for Blocks {
    type Item = Result<(Vec<Range<u64>>, Block)>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(item) = self.ready.pop_front() {
            return Some(item);
        }
        let opts = RunOptions::default();
        if !self.prepared {
            self.prepared = true;
            let checked = prepare(&self.array, &opts)
                .and_then(|()| check_block_size("blocks", &self.array))
                .and_then(|()| pass_blocks("blocks", &self.array));
            if let Err(e) = checked {
                self.next = u64::MAX;
                return Some(Err(e));
            }
            if let Op::Reduce(reduction) = &self.array.node.op {
                self.next = u64::MAX;
                let region: Vec<Range<u64>> = self.array.shape().iter().map(|&n| 0..n).collect();
                return Some(
                    reduce_in_memory("blocks", &self.array, reduction, &opts).map(|b| (region, b)),
                );
            }
        }
        let grid = self.array.block_grid();
        let total = grid.num_blocks();
        if self.next >= total {
            return None;
        }
        let n = (opts.batch() as u64).min(total - self.next);
        let start = self.next;
        let array = &self.array;
        let batch: Vec<_> = (0..n as usize)
            .into_par_iter()
            .map(|i| {
                let region = grid.block_region_at(start + i as u64);
                eval::eval(array, &region).map(|b| (region, b))
            })
            .collect();
        self.next += n;
        self.ready.extend(batch);
        self.ready.pop_front()
    }
}
