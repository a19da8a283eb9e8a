//! Layer 6: lazy arrays — the expression graph and the planner.
//!
//! A [`LazyArray`] is a node of an immutable graph: a source (a stored array, an in-memory
//! array, a constant, a range, a counter-based random array) or an operation on other lazy
//! arrays (elementwise maths with numpy broadcasting and promotion, selection, shape
//! operations, reductions, user kernels). Building one computes only its data type, shape
//! and [`BlockGrid`]; nothing is read until a result is asked for (see `exec`).
//!
//! The planner is the region arithmetic in `plan.rs`: for any region of a node it gives the
//! regions of the inputs it needs, so evaluating a block reads only the chunks under it
//! (slice pushdown), whatever chain of selections, reshapes and broadcasts lies between.

use std::any::Any;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

mod block;
pub(crate) mod dtype;
mod elementwise;
mod grid;
mod map;
mod math;
mod ops;
pub(crate) mod plan;
pub mod random;
mod reduce;
mod scan;
mod select;
mod shape;
mod source;

pub use block::Block;
pub(crate) use block::Data;
pub use dtype::WeakScalar;
pub(crate) use elementwise::negative_integer_power;
pub use elementwise::{BinaryOp, UnaryOp};
pub(crate) use grid::element_count;
pub use grid::{AxisBlocks, BlockGrid, MAX_EXPLICIT_BLOCKS};
pub use reduce::ReduceOp;
pub(crate) use scan::{Scan, ScanOp};
pub(crate) use select::Extraction;
pub(crate) use shape::unit_axes_map;
pub use shape::NumpyIndex;
pub use source::{InMemoryArray, RangeNumber, RangeValue, RegionSource};

use crate::element::{DataType, FillValue};
use crate::error::{out_of_bounds, Error, ErrorKind, Result};
use crate::store::Array;

/// A user kernel applied to each block: the input block and its region in the array.
pub(crate) type BlockFn = Arc<dyn Fn(&Block, &[Range<u64>]) -> Result<Block> + Send + Sync>;

/// A lazy n-dimensional array: a recipe for values, evaluated block by block on demand.
///
/// Cheap to clone (a reference to a shared graph node). Builders check shapes and types and
/// return `Err` on misuse; evaluation happens in [`LazyArray::compute`] and its shortcuts
/// ([`LazyArray::to_ndarray`], [`LazyArray::to_scalar`], [`LazyArray::to_store`],
/// [`LazyArray::blocks`]).
#[derive(Clone)]
pub struct LazyArray {
    pub(crate) node: Arc<ExprNode>,
}

impl std::fmt::Debug for LazyArray {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "LazyArray({} {:?}, {})",
            self.node.data_type,
            self.node.shape,
            self.node.op.name()
        )
    }
}

pub(crate) struct ExprNode {
    pub(crate) data_type: DataType,
    pub(crate) shape: Vec<u64>,
    pub(crate) grid: BlockGrid,
    pub(crate) op: Op,
}

/// One entry of a selection on one input axis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AxisPick {
    /// Output index `k` reads input index `first + k * step` (`step` may be negative).
    Range { first: u64, step: i64, len: u64 },
    /// A single input index; the axis is dropped from the output.
    Index(u64),
}

#[derive(Clone, Copy)]
pub(crate) enum Distribution {
    Uniform { low: f64, high: f64 },
    Normal { mean: f64, std: f64 },
    Integers { low: i64, high: i64 },
}

pub(crate) struct Reduction {
    pub(crate) input: LazyArray,
    pub(crate) op: ReduceOp,
    /// Reduced input axes, sorted, unique.
    pub(crate) axes: Vec<usize>,
    /// The result once computed, when the reduction feeds another operation.
    pub(crate) result: OnceLock<LazyArray>,
}

pub(crate) enum Op {
    Stored(Array),
    /// `Arc<ArrayD<T>>` for the node's data type.
    Memory(Arc<dyn Any + Send + Sync>),
    External(Arc<dyn RegionSource>),
    Fill(FillValue),
    /// 1-d: `start + i * step`, computed in `i64`.
    ArangeInt {
        start: i64,
        step: i64,
    },
    /// 1-d: `start + i * step`, computed in `f64`; with `last`, the final element is `last`
    /// (linspace's endpoint).
    ArangeFloat {
        start: f64,
        step: f64,
        last: Option<f64>,
    },
    Random {
        seed: u64,
        dist: Distribution,
    },
    Unary(UnaryOp, LazyArray),
    /// Operands already cast to the type the operation computes in.
    Binary(BinaryOp, LazyArray, LazyArray),
    Where(LazyArray, LazyArray, LazyArray),
    Cast(LazyArray),
    Select(LazyArray, Vec<AxisPick>),
    Reshape(LazyArray),
    Transpose(LazyArray, Vec<usize>),
    BroadcastTo(LazyArray),
    Stack(Vec<LazyArray>, usize),
    Concat(Vec<LazyArray>, usize),
    Rechunk(LazyArray),
    Reduce(Box<Reduction>),
    /// A running fold along an axis (`cumsum` and kin, see `scan.rs`).
    Scan(Box<Scan>),
    MapBlocks(LazyArray, BlockFn),
    /// numpy's `x[mask]` with a mask of `x`'s shape, its true values counted (see
    /// `select.rs`).
    Extract(Box<Extraction>),
    /// An operation that could not be built, kept for the next fallible step to report
    /// (operators cannot return a `Result`; see `ops.rs`).
    Failed(ErrorKind, String),
}

impl Op {
    fn name(&self) -> &'static str {
        match self {
            Op::Stored(_) => "stored",
            Op::Memory(_) => "in-memory",
            Op::External(_) => "external",
            Op::Fill(_) => "full",
            Op::ArangeInt { .. } | Op::ArangeFloat { .. } => "range",
            Op::Random { .. } => "random",
            Op::Unary(..) => "unary",
            Op::Binary(..) => "binary",
            Op::Where(..) => "where",
            Op::Cast(_) => "astype",
            Op::Select(..) => "select",
            Op::Reshape(_) => "reshape",
            Op::Transpose(..) => "transpose",
            Op::BroadcastTo(_) => "broadcast_to",
            Op::Stack(..) => "stack",
            Op::Concat(..) => "concatenate",
            Op::Rechunk(_) => "rechunk",
            Op::Reduce(_) => "reduce",
            Op::Scan(s) => s.op.name(),
            Op::MapBlocks(..) => "map_blocks",
            Op::Extract(_) => "extract",
            Op::Failed(..) => "failed",
        }
    }

    /// The lazy arrays this operation reads.
    pub(crate) fn inputs(&self) -> Vec<&LazyArray> {
        match self {
            Op::Unary(_, a)
            | Op::Cast(a)
            | Op::Select(a, _)
            | Op::Reshape(a)
            | Op::Transpose(a, _)
            | Op::BroadcastTo(a)
            | Op::Rechunk(a)
            | Op::MapBlocks(a, _) => vec![a],
            Op::Binary(_, a, b) => vec![a, b],
            Op::Where(c, a, b) => vec![c, a, b],
            Op::Stack(v, _) | Op::Concat(v, _) => v.iter().collect(),
            Op::Reduce(r) => vec![&r.input],
            Op::Scan(s) => vec![&s.input],
            Op::Extract(e) => vec![&e.values, &e.mask],
            _ => vec![],
        }
    }
}

impl LazyArray {
    /// A node of the graph. An operation on a failed array is that failed array: the first
    /// error of a chain is the one reported.
    pub(crate) fn new(data_type: DataType, shape: Vec<u64>, grid: BlockGrid, op: Op) -> Self {
        debug_assert_eq!(grid.ndim(), shape.len());
        if let Some(failed) = op.inputs().into_iter().find(|a| a.error().is_some()) {
            return failed.clone();
        }
        Self {
            node: Arc::new(ExprNode {
                data_type,
                shape,
                grid,
                op,
            }),
        }
    }

    /// A failed array carrying `error` (zero-dimensional, `float64`): what an operator gives
    /// when its operation cannot be built.
    pub(crate) fn failed(error: Error) -> Self {
        LazyArray::new(
            DataType::Float64,
            vec![],
            BlockGrid::from_axes(vec![]),
            Op::Failed(error.kind(), error.to_string()),
        )
    }

    /// The error an operator deferred, if this array could not be built.
    pub(crate) fn error(&self) -> Option<Error> {
        match &self.node.op {
            Op::Failed(kind, message) => Some(Error::new(*kind, message.clone())),
            _ => None,
        }
    }

    /// This array, or the error of an operation that could not be built.
    ///
    /// Operators (`&a + &b`, `x * 2.0`, `-x`) cannot return a `Result`: an operation that
    /// cannot be built gives an array that carries its error, reported by the next builder
    /// that returns a `Result`, by every result method, and here.
    ///
    /// ```
    /// use outcore::{DataType, ErrorKind, LazyArray};
    ///
    /// let a = LazyArray::zeros(&[3, 4], DataType::Float64);
    /// let b = LazyArray::ones(&[5], DataType::Float64);
    /// assert!((&a + 1.0).checked().is_ok());
    /// assert_eq!((&a + &b).checked().unwrap_err().kind(), ErrorKind::ShapeMismatch);
    /// ```
    ///
    /// # Errors
    /// The error of the first operation of the chain that could not be built.
    pub fn checked(self) -> Result<LazyArray> {
        match self.error() {
            Some(e) => Err(e),
            None => Ok(self),
        }
    }

    /// `Err` with the deferred error of a failed array, for builders to call first.
    pub(crate) fn built(&self) -> Result<()> {
        self.error().map_or(Ok(()), Err)
    }

    /// The element type.
    pub fn data_type(&self) -> DataType {
        self.node.data_type
    }

    /// The shape.
    pub fn shape(&self) -> &[u64] {
        &self.node.shape
    }

    /// Number of axes.
    pub fn ndim(&self) -> usize {
        self.node.shape.len()
    }

    /// Number of elements, saturating at `u64::MAX`: a lazy array may have more (shape
    /// `[10^18, 10^5]`); [`LazyArray::checked_len`] tells.
    pub fn len(&self) -> u64 {
        self.checked_len().unwrap_or(u64::MAX)
    }

    /// Number of elements, `None` when it exceeds `u64::MAX`.
    pub fn checked_len(&self) -> Option<u64> {
        element_count(&self.node.shape)
    }

    /// Whether the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of its elements (numpy's `nbytes`), saturating at `u64::MAX`.
    pub fn nbytes(&self) -> u64 {
        self.len().saturating_mul(self.node.data_type.size() as u64)
    }

    /// How the array is cut into blocks for evaluation.
    pub fn block_grid(&self) -> &BlockGrid {
        &self.node.grid
    }

    /// Resolves a possibly negative axis (numpy style: `-1` is the last).
    pub(crate) fn axis(&self, axis: i64) -> Result<usize> {
        normalize_axis(axis, self.ndim())
    }
}

pub(crate) fn normalize_axis(axis: i64, ndim: usize) -> Result<usize> {
    let n = ndim as i64;
    let a = if axis < 0 { axis + n } else { axis };
    if a < 0 || a >= n {
        return Err(out_of_bounds(format!(
            "axis {axis} is out of bounds for an array of {ndim} dimensions"
        )));
    }
    Ok(a as usize)
}

/// An operand of an elementwise operation: a lazy array, or a Rust number (a weak scalar that
/// takes the array's type where numpy 2 would).
#[derive(Debug, Clone)]
pub enum Operand {
    /// A lazy array.
    Array(LazyArray),
    /// A number.
    Scalar(WeakScalar),
}

impl Operand {
    /// `Err` with the deferred error of a failed array operand.
    pub(crate) fn built(&self) -> Result<()> {
        match self {
            Operand::Array(a) => a.built(),
            Operand::Scalar(_) => Ok(()),
        }
    }
}

impl From<LazyArray> for Operand {
    fn from(a: LazyArray) -> Self {
        Operand::Array(a)
    }
}
impl From<&LazyArray> for Operand {
    fn from(a: &LazyArray) -> Self {
        Operand::Array(a.clone())
    }
}
impl From<f64> for Operand {
    fn from(v: f64) -> Self {
        Operand::Scalar(WeakScalar::Float(v))
    }
}
impl From<f32> for Operand {
    fn from(v: f32) -> Self {
        Operand::Scalar(WeakScalar::Float(f64::from(v)))
    }
}

/// Every Rust integer type up to 64 bits is a weak integer scalar, held exactly.
macro_rules! operand_from_integer {
    ($($t:ty),*) => {$(
        impl From<$t> for Operand {
            fn from(v: $t) -> Self {
                Operand::Scalar(WeakScalar::Int(v as i128))
            }
        }
    )*};
}
operand_from_integer!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl From<bool> for Operand {
    fn from(v: bool) -> Self {
        Operand::Scalar(WeakScalar::Bool(v))
    }
}

/// Which axes a reduction runs over, and whether reduced axes stay as length 1.
///
/// `Axes::all()` (every axis), or from an axis (`0`, `-1`), an array or a vector of axes;
/// `.keepdims()` keeps the reduced axes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Axes {
    pub(crate) axes: Option<Vec<i64>>,
    pub(crate) keepdims: bool,
}

impl Axes {
    /// Every axis.
    pub fn all() -> Self {
        Self {
            axes: None,
            keepdims: false,
        }
    }

    /// These axes (negative counts from the end).
    pub fn of(axes: &[i64]) -> Self {
        Self {
            axes: Some(axes.to_vec()),
            keepdims: false,
        }
    }

    /// Keep the reduced axes with length 1, so the result broadcasts against the input.
    pub fn keepdims(mut self) -> Self {
        self.keepdims = true;
        self
    }

    /// The axes of `array` these name, sorted.
    pub(crate) fn resolve(&self, array: &LazyArray) -> Result<Vec<usize>> {
        let mut list: Vec<usize> = match &self.axes {
            None => (0..array.ndim()).collect(),
            Some(v) => v.iter().map(|&a| array.axis(a)).collect::<Result<_>>()?,
        };
        list.sort_unstable();
        if list.windows(2).any(|w| w[0] == w[1]) {
            return Err(crate::error::invalid(format!(
                "reduction axes {:?} repeat an axis",
                self.axes
            )));
        }
        Ok(list)
    }
}

impl From<i64> for Axes {
    fn from(a: i64) -> Self {
        Axes::of(&[a])
    }
}
impl From<i32> for Axes {
    fn from(a: i32) -> Self {
        Axes::of(&[i64::from(a)])
    }
}
impl From<usize> for Axes {
    fn from(a: usize) -> Self {
        Axes::of(&[a as i64])
    }
}
impl<const N: usize> From<[i32; N]> for Axes {
    fn from(a: [i32; N]) -> Self {
        Axes::of(&a.map(i64::from))
    }
}
impl From<&[i64]> for Axes {
    fn from(a: &[i64]) -> Self {
        Axes::of(a)
    }
}
impl From<Vec<i64>> for Axes {
    fn from(a: Vec<i64>) -> Self {
        Axes::of(&a)
    }
}
impl From<&[usize]> for Axes {
    fn from(a: &[usize]) -> Self {
        Axes::of(&a.iter().map(|&x| x as i64).collect::<Vec<_>>())
    }
}
