//! Selection and shape operations. Each builds a node whose block grid follows its input's
//! chunks where it can, so evaluating a block reads whole input chunks.

use ndarray::SliceInfoElem;

use super::dtype::result_type;
use super::elementwise::elementwise_grid;
use super::source::check_chunks;
use super::{
    element_count, normalize_axis, AxisBlocks, AxisPick, BlockGrid, LazyArray, Op,
    MAX_EXPLICIT_BLOCKS,
};
use crate::error::{invalid, out_of_bounds, shape_mismatch, too_large, Result};

impl LazyArray {
    /// Basic indexing with ndarray's `s![]` syntax: ranges with steps (`a..b;step`, clamped to
    /// the axis like numpy; a negative step walks the range backwards, as in ndarray),
    /// single indices (the axis is dropped; negative counts from the end), and `NewAxis`.
    /// Axes not mentioned are taken whole. Chunks outside the selection are never read.
    ///
    /// # `s![]` and numpy
    ///
    /// With a positive step, `s![]` means what numpy's slice does; with a negative step it
    /// does **not**: ndarray first takes the range `a..b`, then walks it from its end, while
    /// numpy starts at `a` and walks down towards `b`. [`LazyArray::slice_np`] takes numpy's
    /// notation as it is.
    ///
    /// | numpy                | `s![]`                       | elements of a length-10 axis |
    /// |----------------------|------------------------------|------------------------------|
    /// | `x[2:8]`, `x[-3:]`   | `s![2..8]`, `s![-3..]`       | 2..=7, 7..=9                 |
    /// | `x[2:8:3]`           | `s![2..8;3]`                 | 2, 5                         |
    /// | `x[::-1]`            | `s![..;-1]`                  | 9, 8, …, 0                   |
    /// | `x[5:1:-1]`          | `s![2..6;-1]` (not `5..1`)   | 5, 4, 3, 2                   |
    /// | `x[2:8][::-2]`       | `s![2..8;-2]`                | 7, 5, 3                      |
    /// | `x[8:2:-2]`          | `s![3..9;-2]`                | 8, 6, 4                      |
    /// | `x[3]`, `x[-1]`      | `s![3]`, `s![-1]`            | the axis dropped             |
    /// | `x[np.newaxis]`      | `s![NewAxis]`                | a new axis of length 1       |
    ///
    /// ```
    /// use outcore::{ndarray::s, LazyArray};
    /// # fn main() -> outcore::Result<()> {
    /// let x = LazyArray::arange(0, 100, 1)?.reshape(&[10, 10])?;
    /// let corner = x.slice(s![8.., ..3])?;
    /// assert_eq!(corner.to_ndarray::<i64>()?.into_raw_vec_and_offset().0, vec![80, 81, 82, 90, 91, 92]);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// More indices than axes, an index outside its axis, a step of zero.
    pub fn slice(&self, info: impl AsRef<[SliceInfoElem]>) -> Result<LazyArray> {
        self.built()?;
        let info = info.as_ref();
        let indexed = info
            .iter()
            .filter(|e| !matches!(e, SliceInfoElem::NewAxis))
            .count();
        self.check_index_count(indexed)?;
        let mut picks = Vec::with_capacity(self.ndim());
        let mut new_axes = Vec::new(); // output positions of NewAxis
        let mut out_pos = 0;
        for elem in info {
            let axis = picks.len();
            match *elem {
                SliceInfoElem::NewAxis => {
                    new_axes.push(out_pos);
                    out_pos += 1;
                }
                SliceInfoElem::Index(i) => {
                    picks.push(self.index_pick(axis, i as i64)?);
                }
                SliceInfoElem::Slice { start, end, step } => {
                    if step == 0 {
                        return Err(invalid("slice step cannot be zero"));
                    }
                    let n = self.shape()[axis];
                    let clamp = |v: isize| {
                        let v = v as i128;
                        (if v < 0 { v + i128::from(n) } else { v }).clamp(0, i128::from(n)) as u64
                    };
                    let lo = clamp(start);
                    let hi = end.map_or(n, clamp).max(lo);
                    let step = step as i64;
                    let len = (hi - lo).div_ceil(step.unsigned_abs());
                    let first = if step > 0 || len == 0 { lo } else { hi - 1 };
                    picks.push(AxisPick::Range { first, step, len });
                    out_pos += 1;
                }
            }
        }
        self.apply_picks(picks, &new_axes)
    }

    /// Basic indexing with numpy's notation, resolved exactly as numpy resolves it:
    /// `x[5:1:-1]` is `slice_np(&[NumpyIndex::slice(5, 1, -1)])` (5, 4, 3, 2), a negative
    /// start or stop counts from the end, out-of-range ones are clamped, and a missing start
    /// or stop means the end the step walks from or towards. One [`NumpyIndex::Ellipsis`]
    /// stands for every axis not indexed; axes not mentioned are taken whole. See
    /// [`LazyArray::slice`] for how this maps to ndarray's `s![]`.
    ///
    /// ```
    /// use outcore::NumpyIndex;
    /// use outcore::LazyArray;
    /// # fn main() -> outcore::Result<()> {
    /// let x = LazyArray::arange(0, 10, 1)?;
    /// let down = x.slice_np(&[NumpyIndex::slice(5, 1, -1)])?; // x[5:1:-1]
    /// assert_eq!(down.to_ndarray::<i64>()?.into_raw_vec_and_offset().0, vec![5, 4, 3, 2]);
    /// let tail = x.slice_np(&[NumpyIndex::slice(None, -4, -2)])?; // x[:-4:-2]
    /// assert_eq!(tail.to_ndarray::<i64>()?.into_raw_vec_and_offset().0, vec![9, 7]);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// More indices than axes, more than one ellipsis, an index outside its axis (numpy's
    /// `IndexError`), a step of zero (numpy's `ValueError`).
    pub fn slice_np(&self, index: &[NumpyIndex]) -> Result<LazyArray> {
        let indexed = index
            .iter()
            .filter(|e| !matches!(e, NumpyIndex::NewAxis | NumpyIndex::Ellipsis))
            .count();
        self.check_index_count(indexed)?;
        if index.iter().filter(|e| **e == NumpyIndex::Ellipsis).count() > 1 {
            return Err(invalid("an index can only have a single ellipsis"));
        }
        let mut picks = Vec::with_capacity(self.ndim());
        let mut new_axes = Vec::new();
        let mut out_pos = 0;
        for elem in index {
            let axis = picks.len();
            match *elem {
                NumpyIndex::NewAxis => {
                    new_axes.push(out_pos);
                    out_pos += 1;
                }
                NumpyIndex::Ellipsis => {
                    for axis in axis..axis + (self.ndim() - indexed) {
                        picks.push(whole_axis(self.shape()[axis]));
                        out_pos += 1;
                    }
                }
                NumpyIndex::Index(i) => picks.push(self.index_pick(axis, i)?),
                NumpyIndex::Slice { start, stop, step } => {
                    picks.push(numpy_range(self.shape()[axis], start, stop, step)?);
                    out_pos += 1;
                }
            }
        }
        self.apply_picks(picks, &new_axes)
    }

    fn check_index_count(&self, indexed: usize) -> Result<()> {
        if indexed > self.ndim() {
            return Err(out_of_bounds(format!(
                "{indexed} indices for an array of {} dimensions",
                self.ndim()
            )));
        }
        Ok(())
    }

    /// The pick of index `i` of `axis` (negative counts from the end).
    fn index_pick(&self, axis: usize, i: i64) -> Result<AxisPick> {
        // i128: extents go up to 2^64 - 1, indices down to -2^63.
        let n = i128::from(self.shape()[axis]);
        let idx = if i < 0 {
            i128::from(i) + n
        } else {
            i128::from(i)
        };
        if idx < 0 || idx >= n {
            return Err(out_of_bounds(format!(
                "index {i} is out of bounds for axis {axis} with size {n}"
            )));
        }
        Ok(AxisPick::Index(idx as u64))
    }

    /// Selects `picks` (the axes after them whole) and inserts axes of length 1 at the
    /// output positions `new_axes`.
    fn apply_picks(&self, mut picks: Vec<AxisPick>, new_axes: &[usize]) -> Result<LazyArray> {
        for axis in picks.len()..self.ndim() {
            picks.push(whole_axis(self.shape()[axis]));
        }
        let selected = self.select(&picks)?;
        if new_axes.is_empty() {
            return Ok(selected);
        }
        let mut shape = selected.shape().to_vec();
        for &pos in new_axes {
            shape.insert(pos, 1);
        }
        selected.reshape_to(shape)
    }

    /// Applies one pick per axis, pushing the selection below elementwise operations and
    /// reductions (over the kept axes) so that only the selected part of every source, and
    /// of every reduction's input, is ever evaluated.
    pub(crate) fn select(&self, picks: &[AxisPick]) -> Result<LazyArray> {
        let full = |n: u64| AxisPick::Range {
            first: 0,
            step: 1,
            len: n,
        };
        if picks.iter().zip(self.shape()).all(|(p, &n)| *p == full(n)) {
            return Ok(self.clone());
        }
        // The picks for an operand broadcast against this array (right-aligned).
        let operand_picks = |operand: &LazyArray| -> Vec<AxisPick> {
            let offset = self.ndim() - operand.ndim();
            operand
                .shape()
                .iter()
                .enumerate()
                .map(|(i, &n)| match &picks[offset + i] {
                    _ if n == self.shape()[offset + i] => picks[offset + i].clone(),
                    AxisPick::Index(_) => AxisPick::Index(0),
                    AxisPick::Range { .. } => full(n),
                })
                .collect()
        };
        match &self.node.op {
            Op::Cast(a) => return Ok(a.select(&operand_picks(a))?.astype(self.data_type())),
            Op::Unary(op, a) => {
                let inner = a.select(&operand_picks(a))?;
                let node = LazyArray::new(
                    self.data_type(),
                    selected_shape(picks),
                    inner.block_grid().clone(),
                    Op::Unary(*op, inner),
                );
                return Ok(node);
            }
            Op::Binary(op, a, b) => {
                return LazyArray::binary(
                    *op,
                    a.select(&operand_picks(a))?,
                    b.select(&operand_picks(b))?,
                )
            }
            Op::Where(c, a, b) => {
                return LazyArray::where_(
                    &c.select(&operand_picks(c))?,
                    a.select(&operand_picks(a))?,
                    b.select(&operand_picks(b))?,
                )
            }
            Op::Reduce(r) => {
                let keepdims = self.ndim() == r.input.ndim();
                let mut input_picks = Vec::with_capacity(r.input.ndim());
                let mut out_axis = 0;
                let mut pushable = true;
                for axis in 0..r.input.ndim() {
                    if r.axes.contains(&axis) {
                        input_picks.push(full(r.input.shape()[axis]));
                        if keepdims {
                            pushable &= picks[out_axis] == full(1);
                            out_axis += 1;
                        }
                    } else {
                        input_picks.push(picks[out_axis].clone());
                        out_axis += 1;
                    }
                }
                if pushable {
                    let input = r.input.select(&input_picks)?;
                    let axes: Vec<i64> = r
                        .axes
                        .iter()
                        .map(|&a| {
                            input_picks[..a]
                                .iter()
                                .filter(|p| matches!(p, AxisPick::Range { .. }))
                                .count() as i64
                        })
                        .collect();
                    let axes = super::Axes {
                        axes: Some(axes),
                        keepdims,
                    };
                    return input.reduce(r.op, axes);
                }
            }
            _ => {}
        }
        let mut axes = Vec::new();
        for (axis, pick) in picks.iter().enumerate() {
            if let AxisPick::Range { first, step, len } = *pick {
                axes.push(pick_blocks(self.block_grid().axis(axis), first, step, len));
            }
        }
        Ok(LazyArray::new(
            self.data_type(),
            selected_shape(picks),
            BlockGrid::from_axes(axes),
            Op::Select(self.clone(), picks.to_vec()),
        ))
    }

    /// `numpy.reshape` (C order): any shape with the same number of elements; one extent may
    /// be `-1`. Inserting or removing length-1 axes keeps the blocks; anything else cuts the
    /// output into blocks that are contiguous runs of the flat order, each reading the input
    /// regions under it.
    ///
    /// # Errors
    ///
    /// More than one `-1` or a negative extent (`InvalidArgument`); a shape whose element
    /// count differs from the array's (`ShapeMismatch`).
    pub fn reshape(&self, shape: &[i64]) -> Result<LazyArray> {
        self.built()?;
        let unknown = shape.iter().filter(|&&n| n == -1).count();
        if unknown > 1 || shape.iter().any(|&n| n < -1) {
            return Err(invalid(format!("reshape: invalid shape {shape:?}")));
        }
        let mismatch = || {
            shape_mismatch(format!(
                "cannot reshape an array of shape {:?} into shape {shape:?}",
                self.shape()
            ))
        };
        let Some(total) = self.checked_len() else {
            // Flat positions past 2^64 cannot be addressed: only length-1 axes may change.
            let new_shape: Vec<u64> = shape.iter().map(|&n| n as u64).collect();
            if unknown > 0 || unit_axes_map(self.shape(), &new_shape).is_none() {
                return Err(too_large(format!(
                    "reshape: an array of shape {:?} has more than 2^64 - 1 elements, so it can \
                     only gain or lose length-1 axes, not become {shape:?}",
                    self.shape()
                )));
            }
            return self.reshape_to(new_shape);
        };
        let given: Vec<u64> = shape
            .iter()
            .filter(|&&n| n >= 0)
            .map(|&n| n as u64)
            .collect();
        let known = element_count(&given).ok_or_else(mismatch)?;
        let new_shape: Vec<u64> = shape
            .iter()
            .map(|&n| {
                if n == -1 {
                    total.checked_div(known).unwrap_or(0)
                } else {
                    n as u64
                }
            })
            .collect();
        if element_count(&new_shape) != Some(total) {
            return Err(mismatch());
        }
        self.reshape_to(new_shape)
    }

    /// [`LazyArray::reshape`] to `new_shape`, which holds as many elements (checked by the
    /// caller; more than 2^64 - 1 only when just length-1 axes change).
    pub(crate) fn reshape_to(&self, new_shape: Vec<u64>) -> Result<LazyArray> {
        if new_shape == self.shape() {
            return Ok(self.clone());
        }
        let grid = if let Some(map) = unit_axes_map(self.shape(), &new_shape) {
            // Only length-1 axes inserted or removed: keep the input's boundaries.
            BlockGrid::from_axes(
                map.iter()
                    .zip(&new_shape)
                    .map(|(src, &n)| match src {
                        Some(axis) => self.block_grid().axis(*axis).clone(),
                        None => AxisBlocks::regular(n, 1),
                    })
                    .collect(),
            )
        } else {
            flat_run_grid(&new_shape, self.block_grid().max_block_elements())
        };
        Ok(LazyArray::new(
            self.data_type(),
            new_shape,
            grid,
            Op::Reshape(self.clone()),
        ))
    }

    /// Reverses the axes (numpy's `transpose()` with no arguments).
    ///
    /// # Errors
    ///
    /// A deferred error carried by `self`.
    pub fn transpose(&self) -> Result<LazyArray> {
        let perm: Vec<usize> = (0..self.ndim()).rev().collect();
        self.permute_axes(&perm)
    }

    /// Reorders the axes: output axis `i` is input axis `perm[i]`.
    ///
    /// # Errors
    ///
    /// `perm` is not a permutation of the array's axes.
    pub fn permute_axes(&self, perm: &[usize]) -> Result<LazyArray> {
        self.built()?;
        let mut seen = vec![false; self.ndim()];
        let valid = perm.len() == self.ndim()
            && perm
                .iter()
                .all(|&p| p < self.ndim() && !std::mem::replace(&mut seen[p], true));
        if !valid {
            return Err(invalid(format!(
                "{perm:?} is not a permutation of {} axes",
                self.ndim()
            )));
        }
        if perm.iter().enumerate().all(|(i, &p)| i == p) {
            return Ok(self.clone());
        }
        let shape = perm.iter().map(|&p| self.shape()[p]).collect();
        let grid = BlockGrid::from_axes(
            perm.iter()
                .map(|&p| self.block_grid().axis(p).clone())
                .collect(),
        );
        Ok(LazyArray::new(
            self.data_type(),
            shape,
            grid,
            Op::Transpose(self.clone(), perm.to_vec()),
        ))
    }

    /// Removes length-1 axes: the given ones (an error if one is longer), or all of them.
    ///
    /// # Errors
    ///
    /// An axis out of range, or one whose length is not 1.
    pub fn squeeze(&self, axes: Option<&[i64]>) -> Result<LazyArray> {
        self.built()?;
        let drop: Vec<usize> = match axes {
            None => (0..self.ndim()).filter(|&a| self.shape()[a] == 1).collect(),
            Some(list) => {
                let mut v = Vec::new();
                for &a in list {
                    let a = self.axis(a)?;
                    if self.shape()[a] != 1 {
                        return Err(shape_mismatch(format!(
                            "cannot squeeze axis {a} of length {}",
                            self.shape()[a]
                        )));
                    }
                    v.push(a);
                }
                v
            }
        };
        let shape: Vec<u64> = (0..self.ndim())
            .filter(|a| !drop.contains(a))
            .map(|a| self.shape()[a])
            .collect();
        self.reshape_to(shape)
    }

    /// Inserts a length-1 axis at position `axis` of the result.
    ///
    /// # Errors
    ///
    /// `axis` out of range for the result's dimensions.
    pub fn expand_dims(&self, axis: i64) -> Result<LazyArray> {
        self.built()?;
        let axis = normalize_axis(axis, self.ndim() + 1)?;
        let mut shape = self.shape().to_vec();
        shape.insert(axis, 1);
        self.reshape_to(shape)
    }

    /// `numpy.broadcast_to`: a read-only view repeated along new or length-1 axes.
    ///
    /// # Errors
    ///
    /// A shape the array cannot be broadcast to (`ShapeMismatch`).
    pub fn broadcast_to(&self, shape: &[u64]) -> Result<LazyArray> {
        self.built()?;
        let ok = shape.len() >= self.ndim()
            && self
                .shape()
                .iter()
                .zip(&shape[shape.len() - self.ndim()..])
                .all(|(&a, &b)| a == b || a == 1);
        if !ok {
            return Err(shape_mismatch(format!(
                "cannot broadcast shape {:?} to {shape:?}",
                self.shape()
            )));
        }
        if shape == self.shape() {
            return Ok(self.clone());
        }
        let grid = elementwise_grid(shape, &[self], self.data_type());
        Ok(LazyArray::new(
            self.data_type(),
            shape.to_vec(),
            grid,
            Op::BroadcastTo(self.clone()),
        ))
    }

    /// `numpy.stack`: arrays of one shape joined along a new axis `axis` (types promoted).
    ///
    /// # Errors
    ///
    /// No arrays; arrays of different shapes; `axis` out of range; types with no common
    /// type.
    pub fn stack(arrays: &[LazyArray], axis: i64) -> Result<LazyArray> {
        arrays.iter().try_for_each(LazyArray::built)?;
        let first = arrays
            .first()
            .ok_or_else(|| invalid("stack needs at least one array"))?;
        let axis = normalize_axis(axis, first.ndim() + 1)?;
        for (i, a) in arrays.iter().enumerate() {
            if a.shape() != first.shape() {
                return Err(shape_mismatch(format!(
                    "stack: array {i} has shape {:?}, array 0 has {:?}",
                    a.shape(),
                    first.shape()
                )));
            }
        }
        let (data_type, inputs) = promote_all(arrays);
        let mut shape = first.shape().to_vec();
        shape.insert(axis, arrays.len() as u64);
        let mut axes = first.block_grid().axes().to_vec();
        axes.insert(axis, AxisBlocks::regular(arrays.len() as u64, 1));
        Ok(LazyArray::new(
            data_type,
            shape,
            BlockGrid::from_axes(axes),
            Op::Stack(inputs, axis),
        ))
    }

    /// `numpy.concatenate`: arrays joined along existing axis `axis` (other extents must
    /// agree; types promoted). Every input keeps its block boundaries.
    ///
    /// # Errors
    ///
    /// No arrays; zero-dimensional arrays; extents that differ off `axis`; `axis` out of
    /// range; types with no common type.
    pub fn concatenate(arrays: &[LazyArray], axis: i64) -> Result<LazyArray> {
        arrays.iter().try_for_each(LazyArray::built)?;
        let first = arrays
            .first()
            .ok_or_else(|| invalid("concatenate needs at least one array"))?;
        if first.ndim() == 0 {
            return Err(shape_mismatch(
                "zero-dimensional arrays cannot be concatenated",
            ));
        }
        let axis = first.axis(axis)?;
        for (i, a) in arrays.iter().enumerate() {
            let agree = a.ndim() == first.ndim()
                && (0..a.ndim()).all(|d| d == axis || a.shape()[d] == first.shape()[d]);
            if !agree {
                return Err(shape_mismatch(format!(
                    "concatenate along axis {axis}: array {i} has shape {:?}, array 0 has {:?}",
                    a.shape(),
                    first.shape()
                )));
            }
        }
        let mut shape = first.shape().to_vec();
        shape[axis] = arrays
            .iter()
            .try_fold(0u64, |sum, a| sum.checked_add(a.shape()[axis]))
            .ok_or_else(|| {
                too_large(format!(
                    "concatenate along axis {axis}: the lengths add up to more than 2^64 - 1"
                ))
            })?;
        let parts: Vec<&AxisBlocks> = arrays.iter().map(|a| a.block_grid().axis(axis)).collect();
        let along = concat_blocks(&parts).ok_or_else(|| {
            too_large(format!(
                "concatenate along axis {axis}: the result of shape {shape:?} would list more \
                 than {MAX_EXPLICIT_BLOCKS} irregular blocks on that axis; rechunk the inputs \
                 to larger or common blocks first"
            ))
        })?;
        let mut axes = first.block_grid().axes().to_vec();
        axes[axis] = along;
        let (data_type, inputs) = promote_all(arrays);
        Ok(LazyArray::new(
            data_type,
            shape,
            BlockGrid::from_axes(axes),
            Op::Concat(inputs, axis),
        ))
    }

    /// The same values cut into blocks of `chunks` (one extent per axis). Blocks of the
    /// result read the input regions under them through the chunk cache. A generated source
    /// (random, constant, range), whose values depend on their indices alone, becomes the
    /// same source with the new blocks: nothing is assembled, and reductions still fold it
    /// tile by tile. [`LazyArray::rechunk_irregular`] takes explicit block lengths instead.
    ///
    /// # Errors
    ///
    /// `chunks` must have one positive extent per axis.
    pub fn rechunk(&self, chunks: &[u64]) -> Result<LazyArray> {
        self.built()?;
        check_chunks(self.shape(), chunks)?;
        Ok(self.with_grid(BlockGrid::regular(self.shape(), chunks)))
    }

    /// The same values cut into blocks of the listed lengths, one list per axis, as dask's
    /// `rechunk(((3, 5, 2), (10,)))`: `x.rechunk_irregular(&[vec![3, 5, 2], vec![10]])` on a
    /// `[10, 10]` array gives blocks of rows `0..3`, `3..8`, `8..10`, all columns, in that
    /// order. A list of equal lengths (the last possibly shorter) is the same as
    /// [`LazyArray::rechunk`] with that length; otherwise the boundaries are listed.
    ///
    /// # Errors
    ///
    /// One list per axis; each list's lengths must add up to the axis's extent and be
    /// positive (an empty axis takes `[]` or `[0]`); an axis of more than
    /// [`MAX_EXPLICIT_BLOCKS`] irregular blocks is refused.
    pub fn rechunk_irregular<L: AsRef<[u64]>>(&self, chunks: &[L]) -> Result<LazyArray> {
        if chunks.len() != self.ndim() {
            return Err(invalid(format!(
                "rechunk: {} lists of block lengths for an array of shape {:?}: one list per \
                 axis",
                chunks.len(),
                self.shape()
            )));
        }
        let axes = chunks
            .iter()
            .zip(self.shape())
            .enumerate()
            .map(|(axis, (lengths, &extent))| listed_axis(axis, lengths.as_ref(), extent))
            .collect::<Result<Vec<_>>>()?;
        Ok(self.with_grid(BlockGrid::from_axes(axes)))
    }

    /// The same values in blocks of `grid` (of this array's shape).
    fn with_grid(&self, grid: BlockGrid) -> LazyArray {
        let op = match &self.node.op {
            Op::Random { seed, dist } => Op::Random {
                seed: *seed,
                dist: *dist,
            },
            Op::Fill(value) => Op::Fill(value.clone()),
            Op::ArangeInt { start, step } => Op::ArangeInt {
                start: *start,
                step: *step,
            },
            Op::ArangeFloat { start, step, last } => Op::ArangeFloat {
                start: *start,
                step: *step,
                last: *last,
            },
            _ => Op::Rechunk(self.clone()),
        };
        LazyArray::new(self.data_type(), self.shape().to_vec(), grid, op)
    }
}

/// The blocks of an axis of `extent` cut into `lengths` (dask's chunks of one axis), checked:
/// computed when the lengths are regular, listed otherwise.
fn listed_axis(axis: usize, lengths: &[u64], extent: u64) -> Result<AxisBlocks> {
    let fail = |why: &str| {
        Err(invalid(format!(
            "rechunk: block lengths {lengths:?} for axis {axis} of extent {extent}: {why}"
        )))
    };
    if extent == 0 {
        if lengths.iter().any(|&n| n != 0) {
            return fail("an empty axis takes [] or [0]");
        }
        return Ok(AxisBlocks::regular(0, 1));
    }
    if lengths.contains(&0) {
        return fail("every length must be positive");
    }
    let mut bounds = Vec::with_capacity(lengths.len() + 1);
    bounds.push(0u64);
    for &n in lengths {
        match bounds.last().and_then(|end| end.checked_add(n)) {
            Some(end) if end <= extent => bounds.push(end),
            _ => return fail("they add up to more than the extent"),
        }
    }
    if bounds.last() != Some(&extent) {
        return fail("they add up to less than the extent");
    }
    let step = lengths[0];
    let (last, middle) = lengths.split_last().expect("a non-empty axis has lengths");
    if middle.iter().all(|&n| n == step) && *last <= step {
        return Ok(AxisBlocks::regular(extent, step));
    }
    if lengths.len() as u64 > MAX_EXPLICIT_BLOCKS {
        return fail(&format!(
            "more than {MAX_EXPLICIT_BLOCKS} irregular blocks; use fewer, larger blocks"
        ));
    }
    Ok(AxisBlocks::explicit(bounds))
}

/// One entry of a numpy index, for [`LazyArray::slice_np`]: `x[5:1:-1, 3, np.newaxis, ...]`
/// is `[NumpyIndex::slice(5, 1, -1), NumpyIndex::Index(3), NumpyIndex::NewAxis,
/// NumpyIndex::Ellipsis]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumpyIndex {
    /// `start:stop:step`, as numpy resolves it (see [`NumpyIndex::slice`]).
    Slice {
        /// The first index taken (negative counts from the end); `None`: the first element
        /// for a positive step, the last for a negative one.
        start: Option<i64>,
        /// The index the walk stops before (negative counts from the end); `None`: past the
        /// last element for a positive step, before the first for a negative one.
        stop: Option<i64>,
        /// The step (never zero); `None` is 1.
        step: Option<i64>,
    },
    /// A single index (negative counts from the end): the axis is dropped.
    Index(i64),
    /// `np.newaxis`: a new axis of length 1.
    NewAxis,
    /// `...`: every axis not otherwise indexed, whole.
    Ellipsis,
}

impl NumpyIndex {
    /// `:`, the whole axis.
    pub const ALL: NumpyIndex = NumpyIndex::Slice {
        start: None,
        stop: None,
        step: None,
    };

    /// `start:stop:step`; each part is an `i64` or `None` (numpy's omitted part), so
    /// `x[::-1]` is `NumpyIndex::slice(None, None, -1)` and `x[2:]` is
    /// `NumpyIndex::slice(2, None, None)`.
    pub fn slice(
        start: impl Into<Option<i64>>,
        stop: impl Into<Option<i64>>,
        step: impl Into<Option<i64>>,
    ) -> NumpyIndex {
        NumpyIndex::Slice {
            start: start.into(),
            stop: stop.into(),
            step: step.into(),
        }
    }
}

fn whole_axis(n: u64) -> AxisPick {
    AxisPick::Range {
        first: 0,
        step: 1,
        len: n,
    }
}

/// numpy's `slice.indices(n)` and the length it gives (CPython's `PySlice_AdjustIndices`),
/// as a pick: bounds count from the end when negative and are clamped to `0..=n` for a
/// positive step, to `-1..=n-1` for a negative one (-1: before the first element).
fn numpy_range(
    n: u64,
    start: Option<i64>,
    stop: Option<i64>,
    step: Option<i64>,
) -> Result<AxisPick> {
    let step = step.unwrap_or(1);
    if step == 0 {
        return Err(invalid("slice step cannot be zero"));
    }
    // i128: extents go up to 2^64 - 1, bounds down to -2^63.
    let n_wide = i128::from(n);
    let (low, high) = if step > 0 {
        (0, n_wide)
    } else {
        (-1, n_wide - 1)
    };
    let resolve = |v: Option<i64>, default: i128| match v {
        None => default,
        Some(v) => {
            let v = i128::from(v);
            (if v < 0 { v + n_wide } else { v }).clamp(low, high)
        }
    };
    let (start, stop) = if step > 0 {
        (resolve(start, 0), resolve(stop, n_wide))
    } else {
        (resolve(start, n_wide - 1), resolve(stop, -1))
    };
    let step_wide = i128::from(step);
    let len = if step > 0 && stop > start {
        (stop - start - 1) / step_wide + 1
    } else if step < 0 && start > stop {
        (start - stop - 1) / -step_wide + 1
    } else {
        0
    };
    Ok(AxisPick::Range {
        first: if len == 0 { 0 } else { start as u64 },
        step,
        len: len as u64,
    })
}

/// The common type of non-empty `arrays` and the arrays cast to it.
fn promote_all(arrays: &[LazyArray]) -> (crate::element::DataType, Vec<LazyArray>) {
    let data_type = arrays
        .iter()
        .map(LazyArray::data_type)
        .reduce(result_type)
        .expect("checked non-empty");
    (
        data_type,
        arrays.iter().map(|a| a.astype(data_type)).collect(),
    )
}

fn selected_shape(picks: &[AxisPick]) -> Vec<u64> {
    picks
        .iter()
        .filter_map(|p| match p {
            AxisPick::Range { len, .. } => Some(*len),
            AxisPick::Index(_) => None,
        })
        .collect()
}

/// Output blocks of a selection `first + k * step`, `k < len`, on an input axis cut as
/// `input`: a new block where the input's next block starts, merged so a block holds at least
/// about one input block's worth of selected elements. Computed, not listed, when that is
/// regular: steps of ±1 over a regular axis, and steps that skip whole input blocks.
fn pick_blocks(input: &AxisBlocks, first: u64, step: i64, len: u64) -> AxisBlocks {
    let s = step.unsigned_abs();
    let chunk = input.max_extent();
    if len == 0 || s >= chunk {
        // Every step crosses a boundary: each selected element is its own block.
        return AxisBlocks::regular(len, 1);
    }
    let lowest = if step > 0 {
        first
    } else {
        first - (len - 1) * s
    };
    let touched = input.blocks_touching(&(lowest..lowest + (len - 1) * s + 1));
    if let Some((c, f)) = input.regular_parts() {
        // Input boundaries at f + i * c (and 0).
        if s == 1 {
            let head = if step > 0 {
                if first < f {
                    f - first
                } else {
                    c - (first - f) % c
                }
            } else if first < f {
                c
            } else {
                (first - f) % c + 1
            };
            return AxisBlocks::shifted(len, c, head);
        }
        if touched.end - touched.start > MAX_EXPLICIT_BLOCKS {
            // Too many to list: blocks of about one input block, not aligned with them.
            return AxisBlocks::regular(len, chunk / s);
        }
    }
    // The input boundaries strictly inside the selected span, as output positions.
    let mut cuts: Vec<u64> = (touched.start + 1..touched.end)
        .map(|i| {
            let b = input.bound(i);
            if step > 0 {
                (b - first).div_ceil(s)
            } else {
                (first - b) / s + 1
            }
        })
        .filter(|&k| k > 0 && k < len)
        .collect();
    cuts.sort_unstable();
    cuts.dedup();
    let min_len = if s == 1 { 1 } else { (chunk / s).max(1) };
    let mut bounds = vec![0];
    for k in cuts {
        if k - bounds.last().expect("starts with 0") >= min_len {
            bounds.push(k);
        }
    }
    if len - bounds.last().expect("starts with 0") < min_len && bounds.len() > 1 {
        bounds.pop();
    }
    bounds.push(len);
    AxisBlocks::explicit(bounds)
}

/// The blocks of `parts` laid end to end: computed when they continue one regular pattern
/// (same step, every part but the last ending on a whole block), else listed; `None` when
/// the list would exceed [`MAX_EXPLICIT_BLOCKS`].
fn concat_blocks(parts: &[&AxisBlocks]) -> Option<AxisBlocks> {
    let parts: Vec<&AxisBlocks> = parts.iter().copied().filter(|p| p.extent() > 0).collect();
    let total: u64 = parts.iter().map(|p| p.extent()).sum();
    match parts.as_slice() {
        [] => return Some(AxisBlocks::regular(0, 1)),
        [only] => return Some((*only).clone()),
        _ => {}
    }
    let regular = parts.iter().enumerate().try_fold(None, |step, (i, p)| {
        let (c, f) = p.regular_parts()?;
        let fits = step.is_none_or(|s| s == c)
            && (i == 0 || f == c)
            && (i + 1 == parts.len() || (p.extent() >= f && (p.extent() - f) % c == 0));
        fits.then_some(Some(c))
    });
    if let Some(Some(c)) = regular {
        let head = parts[0].regular_parts().expect("checked regular").1;
        return Some(AxisBlocks::shifted(total, c, head));
    }
    let blocks = parts
        .iter()
        .try_fold(0u64, |n, p| n.checked_add(p.num_blocks()))?;
    if blocks > MAX_EXPLICIT_BLOCKS {
        return None;
    }
    let mut along = Vec::with_capacity(blocks as usize + 1);
    along.push(0u64);
    let mut offset = 0;
    for p in parts {
        along.extend(p.boundaries().skip(1).map(|b| b + offset));
        offset += p.extent();
    }
    Some(AxisBlocks::explicit(along))
}

/// If `to` is `from` with only length-1 axes inserted or removed, the input axis of each
/// output axis (`None` for inserted ones).
pub(crate) fn unit_axes_map(from: &[u64], to: &[u64]) -> Option<Vec<Option<usize>>> {
    let big_from: Vec<usize> = (0..from.len()).filter(|&a| from[a] != 1).collect();
    let big_to: Vec<usize> = (0..to.len()).filter(|&a| to[a] != 1).collect();
    if big_from.len() != big_to.len()
        || big_from
            .iter()
            .zip(&big_to)
            .any(|(&a, &b)| from[a] != to[b])
    {
        return None;
    }
    let mut map = vec![None; to.len()];
    for (&a, &b) in big_from.iter().zip(&big_to) {
        map[b] = Some(a);
    }
    Some(map)
}

/// Blocks of about `target` elements that are contiguous in C order: whole trailing axes,
/// a run of the axis before them, single indices of the axes before that.
fn flat_run_grid(shape: &[u64], target: u64) -> BlockGrid {
    let target = target.max(1);
    let mut inner: u64 = 1;
    let mut axis = shape.len();
    while axis > 0 && inner.saturating_mul(shape[axis - 1]) <= target {
        axis -= 1;
        inner = inner.saturating_mul(shape[axis]);
    }
    let axes = (0..shape.len())
        .map(|a| {
            let step = match (a + 1).cmp(&axis) {
                std::cmp::Ordering::Less => 1,
                std::cmp::Ordering::Equal => target / inner.max(1),
                std::cmp::Ordering::Greater => shape[a],
            };
            AxisBlocks::regular(shape[a], step)
        })
        .collect();
    BlockGrid::from_axes(axes)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn listed(a: &AxisBlocks) -> Vec<u64> {
        a.boundaries().collect()
    }

    /// The selection's blocks computed from every listed input boundary (the definition
    /// [`pick_blocks`] must agree with).
    fn pick_reference(input: &[u64], first: u64, step: i64, len: u64) -> Vec<u64> {
        if len == 0 {
            return vec![0];
        }
        let s = step.unsigned_abs();
        let mut cuts: Vec<u64> = input
            .iter()
            .filter_map(|&b| {
                if step > 0 {
                    (b > first).then(|| (b - first).div_ceil(s))
                } else {
                    (b <= first).then(|| (first - b) / s + 1)
                }
            })
            .filter(|&k| k > 0 && k < len)
            .collect();
        cuts.sort_unstable();
        cuts.dedup();
        let chunk = AxisBlocks::explicit(input.to_vec()).max_extent();
        let min_len = if s == 1 { 1 } else { (chunk / s).max(1) };
        let mut bounds = vec![0];
        for k in cuts {
            if k - bounds.last().unwrap() >= min_len {
                bounds.push(k);
            }
        }
        if len - bounds.last().unwrap() < min_len && bounds.len() > 1 {
            bounds.pop();
        }
        bounds.push(len);
        bounds
    }

    /// An axis of 1..80 elements, computed (maybe with a short first block) or listed.
    fn arb_axis() -> impl Strategy<Value = AxisBlocks> {
        (
            1u64..80,
            1u64..12,
            1u64..12,
            any::<bool>(),
            proptest::collection::vec(1u64..12, 1..12),
        )
            .prop_map(|(len, step, first, regular, sizes)| {
                if regular {
                    AxisBlocks::shifted(len, step, first)
                } else {
                    let mut b = vec![0];
                    for n in sizes.iter().cycle() {
                        let next = b.last().unwrap() + n;
                        if next >= len {
                            break;
                        }
                        b.push(next);
                    }
                    b.push(len);
                    AxisBlocks::explicit(b)
                }
            })
    }

    proptest! {
        #[test]
        fn picks_match_the_listed_definition(
            input in arb_axis(),
            a in 0u64..80,
            b in 0u64..80,
            step in 1i64..15,
            backwards in any::<bool>(),
        ) {
            let n = input.extent();
            let (lo, hi) = (a.min(b) % n, (a.max(b) % n).max(a.min(b) % n) + 1);
            let len = (hi - lo).div_ceil(step as u64);
            let (first, step) = if backwards { (hi - 1, -step) } else { (lo, step) };
            let got = pick_blocks(&input, first, step, len);
            prop_assert_eq!(listed(&got), pick_reference(&listed(&input), first, step, len));
        }

        #[test]
        fn joined_blocks_match_listing_every_part(
            parts in proptest::collection::vec(arb_axis(), 1..4),
            common in 1u64..6,
            aligned in any::<bool>(),
        ) {
            // Regular parts of one step whose lengths are whole blocks join into one pattern.
            let parts: Vec<AxisBlocks> = if aligned {
                parts.iter().map(|p| AxisBlocks::regular(p.extent() * common, common)).collect()
            } else {
                parts
            };
            let refs: Vec<&AxisBlocks> = parts.iter().collect();
            let got = concat_blocks(&refs).unwrap();
            let mut want = vec![0];
            for p in &parts {
                let offset = *want.last().unwrap();
                want.extend(p.boundaries().skip(1).map(|b| b + offset));
            }
            prop_assert_eq!(listed(&got), want);
            if aligned {
                prop_assert!(got.regular_parts().is_some());
            }
        }
    }

    #[test]
    fn picks_follow_input_chunks() {
        let by10 = |len| AxisBlocks::regular(len, 10);
        // Slice 5..20 of an axis chunked by 10: blocks [0,5) and [5,15).
        assert_eq!(listed(&pick_blocks(&by10(30), 5, 1, 15)), vec![0, 5, 15]);
        // Every 3rd from 0 over 30 chunked by 10: inputs 0,3,6,9 | 12,15,18 | 21,...
        assert_eq!(listed(&pick_blocks(&by10(30), 0, 3, 10)), vec![0, 4, 7, 10]);
        // Reversed.
        assert_eq!(listed(&pick_blocks(&by10(20), 19, -1, 20)), vec![0, 10, 20]);
        // A step-1 slice of a huge regular axis stays computed.
        let huge = pick_blocks(&by10(u64::MAX), 7, 1, u64::MAX - 7);
        assert_eq!(huge.regular_parts(), Some((10, 3)));
        // So does a strided one too long to list, in blocks of about one input chunk.
        let strided = pick_blocks(&by10(u64::MAX), 0, 3, u64::MAX / 3);
        assert_eq!(strided.regular_parts(), Some((3, 3)));
        assert_eq!(
            unit_axes_map(&[3, 1, 4], &[1, 3, 4]),
            Some(vec![None, Some(0), Some(2)])
        );
        assert_eq!(unit_axes_map(&[3, 4], &[4, 3]), None);
        let g = flat_run_grid(&[6, 4, 5], 40);
        assert_eq!(listed(g.axis(2)), vec![0, 5]);
        assert_eq!(listed(g.axis(1)), vec![0, 4]);
        assert_eq!(listed(g.axis(0)), vec![0, 2, 4, 6]);
    }
}
