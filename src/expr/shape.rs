//! Selection and shape operations. Each builds a node whose block grid follows its input's
//! chunks where it can, so evaluating a block reads whole input chunks.

use ndarray::SliceInfoElem;

use super::dtype::result_type;
use super::elementwise::elementwise_grid;
use super::grid::regular_bounds;
use super::source::check_chunks;
use super::{normalize_axis, AxisPick, BlockGrid, LazyArray, Op};
use crate::error::{invalid, Result};

impl LazyArray {
    /// Basic indexing with ndarray's `s![]` syntax: ranges with steps (`a..b;step`, clamped to
    /// the axis like numpy; a negative step walks the range backwards, as in ndarray),
    /// single indices (the axis is dropped; negative counts from the end), and `NewAxis`.
    /// Axes not mentioned are taken whole. Chunks outside the selection are never read.
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
    pub fn slice(&self, info: impl AsRef<[SliceInfoElem]>) -> Result<LazyArray> {
        let info = info.as_ref();
        let indexed = info
            .iter()
            .filter(|e| !matches!(e, SliceInfoElem::NewAxis))
            .count();
        if indexed > self.ndim() {
            return Err(invalid(format!(
                "{indexed} indices for an array of {} dimensions",
                self.ndim()
            )));
        }
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
                    let n = self.shape()[axis] as i64;
                    let idx = if i < 0 { i as i64 + n } else { i as i64 };
                    if idx < 0 || idx >= n {
                        return Err(invalid(format!(
                            "index {i} is out of bounds for axis {axis} with size {n}"
                        )));
                    }
                    picks.push(AxisPick::Index(idx as u64));
                }
                SliceInfoElem::Slice { start, end, step } => {
                    if step == 0 {
                        return Err(invalid("slice step cannot be zero"));
                    }
                    let n = self.shape()[axis] as i64;
                    let clamp = |v: isize| {
                        let v = v as i64;
                        (if v < 0 { v + n } else { v }).clamp(0, n)
                    };
                    let lo = clamp(start);
                    let hi = end.map_or(n, clamp).max(lo);
                    let span = (hi - lo) as u64;
                    let step = step as i64;
                    let len = span.div_ceil(step.unsigned_abs());
                    let first = if step > 0 || len == 0 {
                        lo as u64
                    } else {
                        (hi - 1) as u64
                    };
                    picks.push(AxisPick::Range { first, step, len });
                    out_pos += 1;
                }
            }
        }
        for axis in picks.len()..self.ndim() {
            picks.push(AxisPick::Range {
                first: 0,
                step: 1,
                len: self.shape()[axis],
            });
        }
        let selected = self.select(&picks)?;
        if new_axes.is_empty() {
            return Ok(selected);
        }
        let mut shape = selected.shape().to_vec();
        for &pos in &new_axes {
            shape.insert(pos, 1);
        }
        selected.reshape(&shape.iter().map(|&n| n as i64).collect::<Vec<_>>())
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
        let mut bounds = Vec::new();
        for (axis, pick) in picks.iter().enumerate() {
            if let AxisPick::Range { first, step, len } = *pick {
                bounds.push(pick_bounds(
                    self.block_grid().axis_bounds(axis),
                    first,
                    step,
                    len,
                ));
            }
        }
        Ok(LazyArray::new(
            self.data_type(),
            selected_shape(picks),
            BlockGrid::from_bounds(bounds),
            Op::Select(self.clone(), picks.to_vec()),
        ))
    }

    /// `numpy.reshape` (C order): any shape with the same number of elements; one extent may
    /// be `-1`. Inserting or removing length-1 axes keeps the blocks; anything else cuts the
    /// output into blocks that are contiguous runs of the flat order, each reading the input
    /// regions under it.
    pub fn reshape(&self, shape: &[i64]) -> Result<LazyArray> {
        let total = self.len();
        let unknown = shape.iter().filter(|&&n| n == -1).count();
        if unknown > 1 || shape.iter().any(|&n| n < -1) {
            return Err(invalid(format!("reshape: invalid shape {shape:?}")));
        }
        let known: u64 = shape
            .iter()
            .filter(|&&n| n >= 0)
            .map(|&n| n as u64)
            .product();
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
        if new_shape.iter().product::<u64>() != total {
            return Err(invalid(format!(
                "cannot reshape an array of shape {:?} into shape {shape:?}",
                self.shape()
            )));
        }
        if new_shape == self.shape() {
            return Ok(self.clone());
        }
        let grid = if let Some(map) = unit_axes_map(self.shape(), &new_shape) {
            // Only length-1 axes inserted or removed: keep the input's boundaries.
            BlockGrid::from_bounds(
                map.iter()
                    .zip(&new_shape)
                    .map(|(src, &n)| match src {
                        Some(axis) => self.block_grid().axis_bounds(*axis).to_vec(),
                        None => regular_bounds(n, 1),
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
    pub fn transpose(&self) -> Result<LazyArray> {
        let perm: Vec<usize> = (0..self.ndim()).rev().collect();
        self.permute_axes(&perm)
    }

    /// Reorders the axes: output axis `i` is input axis `perm[i]`.
    pub fn permute_axes(&self, perm: &[usize]) -> Result<LazyArray> {
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
        let grid = BlockGrid::from_bounds(
            perm.iter()
                .map(|&p| self.block_grid().axis_bounds(p).to_vec())
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
    pub fn squeeze(&self, axes: Option<&[i64]>) -> Result<LazyArray> {
        let drop: Vec<usize> = match axes {
            None => (0..self.ndim()).filter(|&a| self.shape()[a] == 1).collect(),
            Some(list) => {
                let mut v = Vec::new();
                for &a in list {
                    let a = self.axis(a)?;
                    if self.shape()[a] != 1 {
                        return Err(invalid(format!(
                            "cannot squeeze axis {a} of length {}",
                            self.shape()[a]
                        )));
                    }
                    v.push(a);
                }
                v
            }
        };
        let shape: Vec<i64> = (0..self.ndim())
            .filter(|a| !drop.contains(a))
            .map(|a| self.shape()[a] as i64)
            .collect();
        self.reshape(&shape)
    }

    /// Inserts a length-1 axis at position `axis` of the result.
    pub fn expand_dims(&self, axis: i64) -> Result<LazyArray> {
        let axis = normalize_axis(axis, self.ndim() + 1)?;
        let mut shape: Vec<i64> = self.shape().iter().map(|&n| n as i64).collect();
        shape.insert(axis, 1);
        self.reshape(&shape)
    }

    /// `numpy.broadcast_to`: a read-only view repeated along new or length-1 axes.
    pub fn broadcast_to(&self, shape: &[u64]) -> Result<LazyArray> {
        let ok = shape.len() >= self.ndim()
            && self
                .shape()
                .iter()
                .zip(&shape[shape.len() - self.ndim()..])
                .all(|(&a, &b)| a == b || a == 1);
        if !ok {
            return Err(invalid(format!(
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
    pub fn stack(arrays: &[LazyArray], axis: i64) -> Result<LazyArray> {
        let first = arrays
            .first()
            .ok_or_else(|| invalid("stack needs at least one array"))?;
        let axis = normalize_axis(axis, first.ndim() + 1)?;
        for (i, a) in arrays.iter().enumerate() {
            if a.shape() != first.shape() {
                return Err(invalid(format!(
                    "stack: array {i} has shape {:?}, array 0 has {:?}",
                    a.shape(),
                    first.shape()
                )));
            }
        }
        let (data_type, inputs) = promote_all(arrays);
        let mut shape = first.shape().to_vec();
        shape.insert(axis, arrays.len() as u64);
        let mut bounds = first.block_grid().bounds().to_vec();
        bounds.insert(axis, regular_bounds(arrays.len() as u64, 1));
        Ok(LazyArray::new(
            data_type,
            shape,
            BlockGrid::from_bounds(bounds),
            Op::Stack(inputs, axis),
        ))
    }

    /// `numpy.concatenate`: arrays joined along existing axis `axis` (other extents must
    /// agree; types promoted). Every input keeps its block boundaries.
    pub fn concatenate(arrays: &[LazyArray], axis: i64) -> Result<LazyArray> {
        let first = arrays
            .first()
            .ok_or_else(|| invalid("concatenate needs at least one array"))?;
        if first.ndim() == 0 {
            return Err(invalid("zero-dimensional arrays cannot be concatenated"));
        }
        let axis = first.axis(axis)?;
        for (i, a) in arrays.iter().enumerate() {
            let agree = a.ndim() == first.ndim()
                && (0..a.ndim()).all(|d| d == axis || a.shape()[d] == first.shape()[d]);
            if !agree {
                return Err(invalid(format!(
                    "concatenate along axis {axis}: array {i} has shape {:?}, array 0 has {:?}",
                    a.shape(),
                    first.shape()
                )));
            }
        }
        let (data_type, inputs) = promote_all(arrays);
        let mut shape = first.shape().to_vec();
        shape[axis] = arrays.iter().map(|a| a.shape()[axis]).sum();
        let mut bounds = first.block_grid().bounds().to_vec();
        let mut along = vec![0u64];
        for a in arrays {
            let offset = *along.last().expect("starts with 0");
            along.extend(
                a.block_grid().axis_bounds(axis)[1..]
                    .iter()
                    .map(|b| b + offset),
            );
        }
        bounds[axis] = along;
        Ok(LazyArray::new(
            data_type,
            shape,
            BlockGrid::from_bounds(bounds),
            Op::Concat(inputs, axis),
        ))
    }

    /// The same values cut into blocks of `chunks` (one extent per axis). Blocks of the
    /// result read the input regions under them through the chunk cache. A generated source
    /// (random, constant, range), whose values depend on their indices alone, becomes the
    /// same source with the new blocks: nothing is assembled, and reductions still fold it
    /// tile by tile.
    pub fn rechunk(&self, chunks: &[u64]) -> Result<LazyArray> {
        check_chunks(self.shape(), chunks)?;
        let grid = BlockGrid::regular(self.shape(), chunks);
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
        Ok(LazyArray::new(
            self.data_type(),
            self.shape().to_vec(),
            grid,
            op,
        ))
    }
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

/// Output block boundaries of a selection `first + k * step`, `k < len`, on an axis with
/// input boundaries `input`: a new block where the input's next chunk starts, merged so a
/// block holds at least about one input chunk's worth of selected elements.
fn pick_bounds(input: &[u64], first: u64, step: i64, len: u64) -> Vec<u64> {
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
    let chunk = super::grid::max_extent(input);
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
    bounds
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
    let mut bounds = vec![Vec::new(); shape.len()];
    let mut inner: u64 = 1;
    let mut axis = shape.len();
    while axis > 0 && inner.saturating_mul(shape[axis - 1]) <= target.max(1) {
        axis -= 1;
        inner = inner.saturating_mul(shape[axis]);
        bounds[axis] = regular_bounds(shape[axis], shape[axis]);
    }
    if axis > 0 {
        axis -= 1;
        bounds[axis] = regular_bounds(shape[axis], (target.max(1) / inner.max(1)).max(1));
        for (a, b) in bounds.iter_mut().enumerate().take(axis) {
            *b = regular_bounds(shape[a], 1);
        }
    }
    BlockGrid::from_bounds(bounds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pick_bounds_follow_input_chunks() {
        // Slice 5..20 of an axis chunked by 10: blocks [0,5) and [5,15).
        assert_eq!(pick_bounds(&[0, 10, 20, 30], 5, 1, 15), vec![0, 5, 15]);
        // Every 3rd from 0 over 30 chunked by 10: inputs 0,3,6,9 | 12,15,18 | 21,...
        assert_eq!(pick_bounds(&[0, 10, 20, 30], 0, 3, 10), vec![0, 4, 7, 10]);
        // Reversed.
        assert_eq!(pick_bounds(&[0, 10, 20], 19, -1, 20), vec![0, 10, 20]);
        assert_eq!(
            unit_axes_map(&[3, 1, 4], &[1, 3, 4]),
            Some(vec![None, Some(0), Some(2)])
        );
        assert_eq!(unit_axes_map(&[3, 4], &[4, 3]), None);
        let g = flat_run_grid(&[6, 4, 5], 40);
        assert_eq!(g.axis_bounds(2), &[0, 5]);
        assert_eq!(g.axis_bounds(1), &[0, 4]);
        assert_eq!(g.axis_bounds(0), &[0, 2, 4, 6]);
    }
}
