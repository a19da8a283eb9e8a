//! Evaluating one region of a lazy array: each node asks its inputs for the regions the
//! planner maps it to, and combines their blocks. Nothing larger than the region (and the
//! input regions under it) is ever built.

use std::ops::Range;

use ndarray::{ArrayD, Axis, IxDyn, Slice};

use super::kernels;
use crate::element::{DataType, Element};
use crate::error::{invalid, shape_mismatch, type_mismatch, Result};
use crate::expr::plan::{broadcast_region, flat_range_boxes, pick_input_range, region_runs};
use crate::expr::random::{fill_f64, fill_i64};
use crate::expr::{AxisPick, Block, Data, Distribution, LazyArray, Op};
use crate::store::Array;
use crate::with_element_type;

fn extents(region: &[Range<u64>]) -> Vec<usize> {
    region.iter().map(|r| (r.end - r.start) as usize).collect()
}

fn local(region: &[Range<u64>], origin: &[u64]) -> Vec<Range<usize>> {
    region
        .iter()
        .zip(origin)
        .map(|(r, o)| (r.start - o) as usize..(r.end - o) as usize)
        .collect()
}

/// The values of `region` (inside `array`'s shape) of `array`.
pub(crate) fn eval(array: &LazyArray, region: &[Range<u64>]) -> Result<Block> {
    eval_in(array, region, None)
}

/// Whether `op` computes each element from the same element of its inputs (so a block of
/// it can be evaluated piece by piece over its inputs' blocks).
pub(crate) fn is_elementwise(op: &Op) -> bool {
    matches!(
        op,
        Op::Unary(..) | Op::Binary(..) | Op::Where(..) | Op::Cast(_)
    )
}

/// Whether `op` computes its values from their indices alone (random, constant and range
/// sources): any piece of it is as cheap to make as the whole.
pub(crate) fn is_generated(op: &Op) -> bool {
    matches!(
        op,
        Op::Random { .. } | Op::Fill(_) | Op::ArangeInt { .. } | Op::ArangeFloat { .. }
    )
}

/// The leaves of an elementwise expression (the first non-elementwise nodes below it),
/// each evaluated once over the region a whole block needs. Tiles of the block then
/// evaluate the elementwise part over slices of these, so a chain of operations runs over
/// cache-sized pieces while every chunk is still read (or decoded) once per block.
pub(crate) struct Leaves {
    /// (node address, region, shareable block).
    entries: Vec<(usize, Vec<Range<u64>>, Block)>,
}

impl Leaves {
    /// Evaluates the leaves under `array` (elementwise) for `region`.
    pub(crate) fn collect(array: &LazyArray, region: &[Range<u64>]) -> Result<Leaves> {
        let mut leaves = Leaves {
            entries: Vec::new(),
        };
        leaves.walk(array, region)?;
        Ok(leaves)
    }

    fn walk(&mut self, array: &LazyArray, region: &[Range<u64>]) -> Result<()> {
        match &array.node.op {
            Op::Unary(_, input) | Op::Cast(input) => self.walk(input, region),
            Op::Binary(_, a, b) => {
                self.walk(a, &broadcast_region(region, a.shape()))?;
                self.walk(b, &broadcast_region(region, b.shape()))
            }
            Op::Where(c, a, b) => {
                for input in [c, a, b] {
                    self.walk(input, &broadcast_region(region, input.shape()))?;
                }
                Ok(())
            }
            // Made per tile: cheaper than holding a whole block of them.
            op if is_generated(op) => Ok(()),
            _ => {
                let key = std::sync::Arc::as_ptr(&array.node) as usize;
                if !self
                    .entries
                    .iter()
                    .any(|(k, r, _)| *k == key && r == region)
                {
                    let block = eval(array, region)?.into_shared();
                    self.entries.push((key, region.to_vec(), block));
                }
                Ok(())
            }
        }
    }

    /// The values of leaf `array` over exactly `region`, if they are contiguous (C order)
    /// elements of type `T`.
    pub(crate) fn contiguous<T: Element>(
        &self,
        array: &LazyArray,
        region: &[Range<u64>],
    ) -> Option<&[T]> {
        let key = std::sync::Arc::as_ptr(&array.node) as usize;
        let (_, _, block) = self
            .entries
            .iter()
            .find(|(k, whole, _)| *k == key && whole == region)?;
        block.view::<T>().ok()?.to_slice()
    }

    fn get(&self, array: &LazyArray, region: &[Range<u64>]) -> Option<Block> {
        let key = std::sync::Arc::as_ptr(&array.node) as usize;
        self.entries.iter().find_map(|(k, whole, block)| {
            let inside = region
                .iter()
                .zip(whole)
                .all(|(r, w)| w.start <= r.start && r.end <= w.end);
            if *k != key || !inside {
                return None;
            }
            let origin: Vec<u64> = whole.iter().map(|w| w.start).collect();
            block.slice(&local(region, &origin))
        })
    }
}

/// [`eval`], taking leaves from `leaves` when given (see [`Leaves`]).
pub(crate) fn eval_in(
    array: &LazyArray,
    region: &[Range<u64>],
    leaves: Option<&Leaves>,
) -> Result<Block> {
    if let Some(block) = leaves.and_then(|l| l.get(array, region)) {
        return Ok(block);
    }
    let node = &*array.node;
    let shape = extents(region);
    match &node.op {
        Op::Stored(stored) => eval_stored(stored, region),
        Op::Memory(any) => with_element_type!(node.data_type, T => {
            let data = any
                .clone()
                .downcast::<ArrayD<T>>()
                .map_err(|_| type_mismatch("in-memory source holds another type"))?;
            Ok(Block::from_data(Data::Shared(data, local(region, &vec![0; region.len()]))))
        }),
        Op::External(source) => {
            let block = source.read_region(region)?;
            if block.data_type() != node.data_type || block.shape() != shape.as_slice() {
                return Err(shape_mismatch(format!(
                    "{} gave {} {:?} for a {} region of shape {:?}",
                    source.describe(),
                    block.data_type(),
                    block.shape(),
                    node.data_type,
                    shape
                )));
            }
            Ok(block)
        }
        Op::Fill(fill) => with_element_type!(node.data_type, T => {
            let value: T = fill.get().ok_or_else(|| type_mismatch("constant of another type"))?;
            Ok(kernels::filled(&shape, value))
        }),
        Op::ArangeInt { start, step } => Ok(Block::from_array(ArrayD::from_shape_fn(
            IxDyn(&shape),
            |ix| start.wrapping_add(step.wrapping_mul((region[0].start + ix[0] as u64) as i64)),
        ))),
        Op::ArangeFloat { start, step, last } => {
            let n = node.shape[0];
            Ok(Block::from_array(ArrayD::from_shape_fn(
                IxDyn(&shape),
                |ix| {
                    let i = region[0].start + ix[0] as u64;
                    match last {
                        Some(stop) if i + 1 == n => *stop,
                        _ => start + i as f64 * step,
                    }
                },
            )))
        }
        Op::Random { seed, dist } => {
            let len: usize = shape.iter().product();
            Ok(match *dist {
                Distribution::Integers { low, high } => {
                    let mut out = vec![0i64; len];
                    fill_i64(*seed, low, high, &node.shape, region, &mut out);
                    Block::from_array(ArrayD::from_shape_vec(IxDyn(&shape), out).expect("sized"))
                }
                _ => {
                    let mut out = vec![0f64; len];
                    fill_f64(*seed, dist, &node.shape, region, &mut out);
                    Block::from_array(ArrayD::from_shape_vec(IxDyn(&shape), out).expect("sized"))
                }
            })
        }
        Op::Unary(op, input) => kernels::unary(*op, eval_in(input, region, leaves)?),
        Op::Cast(input) => kernels::cast(eval_in(input, region, leaves)?, node.data_type),
        Op::Binary(op, a, b) => {
            let ba = eval_in(a, &broadcast_region(region, a.shape()), leaves)?;
            let bb = eval_in(b, &broadcast_region(region, b.shape()), leaves)?;
            kernels::binary(*op, ba, bb, &shape)
        }
        Op::Where(c, a, b) => {
            let bc = eval_in(c, &broadcast_region(region, c.shape()), leaves)?;
            let ba = eval_in(a, &broadcast_region(region, a.shape()), leaves)?;
            let bb = eval_in(b, &broadcast_region(region, b.shape()), leaves)?;
            kernels::select(&bc, &ba, &bb, &shape)
        }
        Op::BroadcastTo(input) => {
            let b = eval(input, &broadcast_region(region, input.shape()))?;
            with_element_type!(node.data_type, T => {
                let view = b.view::<T>()?;
                let wide = view
                    .broadcast(IxDyn(&shape))
                    .ok_or_else(|| shape_mismatch("broadcast_to: shapes disagree"))?;
                Ok(Block::from_array(wide.to_owned()))
            })
        }
        Op::Transpose(input, perm) => {
            let mut in_region = vec![0..0; region.len()];
            for (out_axis, &in_axis) in perm.iter().enumerate() {
                in_region[in_axis] = region[out_axis].clone();
            }
            let b = eval(input, &in_region)?;
            with_element_type!(node.data_type, T => {
                let view = b.view::<T>()?.permuted_axes(IxDyn(perm));
                Ok(Block::from_array(view.as_standard_layout().into_owned()))
            })
        }
        Op::Select(input, picks) => eval_select(node.data_type, input, picks, region),
        Op::Reshape(input) => eval_reshape(node.data_type, &node.shape, input, region),
        Op::Stack(inputs, axis) => {
            let parts = region[*axis].clone();
            assemble(
                node.data_type,
                &shape,
                *axis,
                parts.clone().map(|i| {
                    let mut sub = region.to_vec();
                    sub.remove(*axis);
                    let b = eval(&inputs[i as usize], &sub)?;
                    insert_axis(b, *axis)
                }),
            )
        }
        Op::Concat(inputs, axis) => {
            let mut pieces = Vec::new();
            let mut offset = 0;
            for input in inputs {
                let n = input.shape()[*axis];
                let (lo, hi) = (
                    region[*axis].start.max(offset),
                    region[*axis].end.min(offset + n),
                );
                if lo < hi {
                    let mut sub = region.to_vec();
                    sub[*axis] = lo - offset..hi - offset;
                    pieces.push((input, sub));
                }
                offset += n;
            }
            assemble(
                node.data_type,
                &shape,
                *axis,
                pieces.into_iter().map(|(input, sub)| eval(input, &sub)),
            )
        }
        Op::Rechunk(input) => eval(input, region),
        Op::Reduce(reduction) => {
            let result = reduction.result.get().ok_or_else(|| {
                invalid("internal: a reduction inside an expression was not computed first")
            })?;
            eval(result, region)
        }
        Op::Extract(extraction) => super::extract::eval_extract(node.data_type, extraction, region),
        Op::Scan(scan) => super::scan::eval_scan(array, scan, region),
        Op::Failed(kind, message) => Err(crate::Error::new(*kind, message.clone())),
        Op::MapBlocks(input, f) => {
            // The kernel always sees whole blocks of this node's grid; cut the region out.
            let grid = &node.grid;
            let touching: Vec<Range<u64>> = (0..region.len())
                .map(|a| grid.blocks_touching(a, &region[a]))
                .collect();
            let whole: Vec<Range<u64>> = touching
                .iter()
                .enumerate()
                .map(|(a, r)| grid.axis(a).span(r.clone()))
                .collect();
            if whole == region && touching.iter().all(|r| r.end - r.start == 1) {
                return apply_kernel(f, input, region, node.data_type);
            }
            let out = with_element_type!(node.data_type, T => {
                let mut out = ArrayD::<T>::from_elem(IxDyn(&shape), T::default());
                for coords in crate::format::grid::iter_box(&touching) {
                    let block_region = grid.block_region(&coords);
                    let b = apply_kernel(f, input, &block_region, node.data_type)?;
                    let view = b.view::<T>()?;
                    let overlap: Vec<Range<u64>> = block_region
                        .iter()
                        .zip(region)
                        .map(|(b, r)| b.start.max(r.start)..b.end.min(r.end))
                        .collect();
                    let src = view.slice_each_axis(|ax| {
                        let i = ax.axis.index();
                        let o = &overlap[i];
                        Slice::from((o.start - block_region[i].start) as usize..(o.end - block_region[i].start) as usize)
                    });
                    out.slice_each_axis_mut(|ax| {
                        let i = ax.axis.index();
                        let o = &overlap[i];
                        Slice::from((o.start - region[i].start) as usize..(o.end - region[i].start) as usize)
                    })
                    .assign(&src);
                }
                Block::from_array(out)
            });
            Ok(out)
        }
    }
}

fn apply_kernel(
    f: &crate::expr::BlockFn,
    input: &LazyArray,
    region: &[Range<u64>],
    data_type: DataType,
) -> Result<Block> {
    let b = eval(input, region)?;
    let out = f(&b, region)?;
    let want = extents(region);
    if out.shape() != want.as_slice() || out.data_type() != data_type {
        return Err(shape_mismatch(format!(
            "map_blocks kernel returned {} {:?} for a block of {:?}; it must return {data_type} of the block's shape",
            out.data_type(),
            out.shape(),
            want
        )));
    }
    Ok(out)
}

fn insert_axis(b: Block, axis: usize) -> Result<Block> {
    with_element_type!(b.data_type(), T => {
        let a = b.into_array::<T>()?;
        Ok(Block::from_array(a.insert_axis(Axis(axis))))
    })
}

/// Joins blocks along `axis` into one of `shape`.
fn assemble(
    data_type: DataType,
    shape: &[usize],
    axis: usize,
    parts: impl Iterator<Item = Result<Block>>,
) -> Result<Block> {
    with_element_type!(data_type, T => {
        let mut out = ArrayD::<T>::from_elem(IxDyn(shape), T::default());
        let mut at = 0usize;
        for part in parts {
            let part = part?;
            let view = part.view::<T>()?;
            let n = view.shape()[axis];
            out.slice_axis_mut(Axis(axis), Slice::from(at..at + n)).assign(&view);
            at += n;
        }
        Ok(Block::from_array(out))
    })
}

/// A region of a stored array: a view of the one chunk under it, or the chunks assembled.
fn eval_stored(array: &Array, region: &[Range<u64>]) -> Result<Block> {
    let grid = array.grid();
    let touching = grid.chunks_touching(region);
    let single = touching.iter().all(|r| r.end - r.start == 1);
    with_element_type!(array.data_type(), T => {
        if single && array.data_type() != DataType::Bool {
            let coords: Vec<u64> = touching.iter().map(|r| r.start).collect();
            let chunk = array.read_chunk_streaming(&coords)?;
            let origin: Vec<u64> = coords.iter().zip(grid.chunk_shape()).map(|(c, n)| c * n).collect();
            if chunk.is_fill() {
                let value: T = array
                    .fill_value()
                    .get()
                    .ok_or_else(|| type_mismatch("fill value of another type"))?;
                return Ok(kernels::filled(&extents(region), value));
            }
            chunk.as_slice::<T>()?; // the typed view is checked once here
            return Ok(Block::from_data(Data::<T>::Chunk(chunk, local(region, &origin))));
        }
        Ok(Block::from_array(array.read_region_streaming::<T>(region)?))
    })
}

/// A selection: read the bounding input region, then step and drop indexed axes. An axis
/// whose step is longer than the input's blocks is read index by index, so chunks between
/// selected elements are never read.
fn eval_select(
    data_type: DataType,
    input: &LazyArray,
    picks: &[AxisPick],
    region: &[Range<u64>],
) -> Result<Block> {
    let mut out_axis = 0;
    let mut in_region = Vec::with_capacity(picks.len());
    let mut outs = Vec::with_capacity(picks.len());
    for pick in picks {
        let out = match pick {
            AxisPick::Index(_) => 0..1,
            AxisPick::Range { .. } => {
                out_axis += 1;
                region[out_axis - 1].clone()
            }
        };
        in_region.push(pick_input_range(pick, &out));
        outs.push(out);
    }
    // The first stepped axis whose step skips whole input blocks is read per index.
    let sparse = picks.iter().enumerate().find(|(axis, p)| match p {
        AxisPick::Range { step, .. } => {
            let span = outs[*axis].end - outs[*axis].start;
            span > 1 && step.unsigned_abs() > input.block_grid().max_extent(*axis)
        }
        AxisPick::Index(_) => false,
    });
    if let Some((axis, _)) = sparse {
        let out_pos = picks[..axis]
            .iter()
            .filter(|p| matches!(p, AxisPick::Range { .. }))
            .count();
        let shape = extents(region);
        let parts = region[out_pos].clone().map(|k| {
            let mut sub = region.to_vec();
            sub[out_pos] = k..k + 1;
            eval_select(data_type, input, picks, &sub)
        });
        return assemble(data_type, &shape, out_pos, parts);
    }
    let b = eval(input, &in_region)?;
    with_element_type!(data_type, T => {
        let view = b.view::<T>()?;
        let mut view = view.slice_each_axis(|ax| match &picks[ax.axis.index()] {
            AxisPick::Range { step, .. } => Slice::new(0, None, *step as isize),
            AxisPick::Index(_) => Slice::from(..),
        });
        for (axis, pick) in picks.iter().enumerate().rev() {
            if matches!(pick, AxisPick::Index(_)) {
                view = view.index_axis_move(Axis(axis), 0);
            }
        }
        Ok(Block::from_array(view.as_standard_layout().into_owned()))
    })
}

/// A reshape: the region's contiguous flat runs, each read as the input boxes that hold
/// those flat positions.
fn eval_reshape(
    data_type: DataType,
    shape: &[u64],
    input: &LazyArray,
    region: &[Range<u64>],
) -> Result<Block> {
    if let Some(map) = crate::expr::unit_axes_map(input.shape(), shape) {
        let in_region: Vec<Range<u64>> = (0..input.ndim())
            .map(|a| match map.iter().position(|m| *m == Some(a)) {
                Some(out_axis) => region[out_axis].clone(),
                None => 0..1,
            })
            .collect();
        let b = eval(input, &in_region)?;
        return with_element_type!(data_type, T => {
            let view = b.view::<T>()?;
            let view = view.as_standard_layout();
            let out = view
                .to_shape(IxDyn(&extents(region)))
                .map_err(|e| shape_mismatch(format!("reshape: {e}")))?
                .into_owned();
            Ok(Block::from_array(out))
        });
    }
    with_element_type!(data_type, T => {
        let mut values: Vec<T> = Vec::with_capacity(extents(region).iter().product());
        for (start, len) in region_runs(shape, region) {
            for boxed in flat_range_boxes(input.shape(), start, start + len) {
                let b = eval(input, &boxed)?;
                let view = b.view::<T>()?;
                match view.as_slice() {
                    Some(s) => values.extend_from_slice(s),
                    None => values.extend(view.iter().copied()),
                }
            }
        }
        let out = ArrayD::from_shape_vec(IxDyn(&extents(region)), values)
            .map_err(|e| shape_mismatch(format!("reshape: {e}")))?;
        Ok(Block::from_array(out))
    })
}
