//! Reductions: numpy's semantics for result types, NaN propagation and empty or all-NaN
//! slices.

use std::sync::OnceLock;

use super::dtype::{mean_type, result_type, sum_type};
use super::{element_count, Axes, AxisBlocks, BlockGrid, LazyArray, Op, Reduction};
use crate::element::{DataType, Kind};
use crate::error::{invalid, shape_mismatch, too_large, type_mismatch, unsupported, Result};

/// A reduction. The `Nan` forms skip NaN values; on integer and `bool` arrays they equal the
/// plain forms.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum ReduceOp {
    /// Sum (integers widen to 64 bits and wrap; floats sum pairwise).
    Sum,
    /// Product.
    Prod,
    /// Arithmetic mean (`float64` for integers). Empty: NaN.
    Mean,
    /// Minimum; NaN if any element is NaN; an error on an empty slice.
    Min,
    /// Maximum; as `Min`.
    Max,
    /// Variance with `ddof` delta degrees of freedom.
    Var {
        /// Delta degrees of freedom (divisor `n - ddof`).
        ddof: f64,
    },
    /// Standard deviation with `ddof`.
    Std {
        /// Delta degrees of freedom.
        ddof: f64,
    },
    /// Index of the first minimum (the first NaN if there is one); `int64`.
    ArgMin,
    /// Index of the first maximum (the first NaN if there is one); `int64`.
    ArgMax,
    /// Whether any element is non-zero.
    Any,
    /// Whether every element is non-zero.
    All,
    /// Number of non-zero elements (`int64`).
    CountNonzero,
    /// Sum treating NaN as 0.
    NanSum,
    /// Product treating NaN as 1.
    NanProd,
    /// Mean of the non-NaN values (NaN for an all-NaN slice).
    NanMean,
    /// Minimum of the non-NaN values (NaN for an all-NaN slice).
    NanMin,
    /// Maximum of the non-NaN values (NaN for an all-NaN slice).
    NanMax,
    /// Variance of the non-NaN values.
    NanVar {
        /// Delta degrees of freedom.
        ddof: f64,
    },
    /// Standard deviation of the non-NaN values.
    NanStd {
        /// Delta degrees of freedom.
        ddof: f64,
    },
    /// Index of the first minimum ignoring NaN; an error for an all-NaN slice (as numpy).
    NanArgMin,
    /// Index of the first maximum ignoring NaN; an error for an all-NaN slice.
    NanArgMax,
}

impl ReduceOp {
    /// The result type for an input of type `t`, as numpy gives it.
    pub fn result_type(self, t: DataType) -> DataType {
        use ReduceOp::*;
        match self {
            Sum | Prod | NanSum | NanProd => sum_type(t),
            Mean | NanMean | Var { .. } | Std { .. } | NanVar { .. } | NanStd { .. } => {
                mean_type(t)
            }
            Min | Max | NanMin | NanMax => t,
            ArgMin | ArgMax | NanArgMin | NanArgMax | CountNonzero => DataType::Int64,
            Any | All => DataType::Bool,
        }
    }

    /// Whether the result is an index (numpy allows one axis or all of them).
    pub fn is_arg(self) -> bool {
        use ReduceOp::*;
        matches!(self, ArgMin | ArgMax | NanArgMin | NanArgMax)
    }

    /// Whether NaN values are skipped.
    pub fn skips_nan(self) -> bool {
        use ReduceOp::*;
        matches!(
            self,
            NanSum
                | NanProd
                | NanMean
                | NanMin
                | NanMax
                | NanVar { .. }
                | NanStd { .. }
                | NanArgMin
                | NanArgMax
        )
    }
}

impl LazyArray {
    /// Reduces over `axes` with `op` (see [`ReduceOp`] for semantics and result types).
    ///
    /// # Errors
    /// The deferred error of a failed `self`; an axis out of bounds
    /// ([`ErrorKind::OutOfBounds`]) or repeated ([`ErrorKind::InvalidArgument`]); an arg
    /// reduction over more than one axis but not all of them ([`ErrorKind::Unsupported`]); an
    /// arg reduction or `CountNonzero` whose reduced axes hold more than `i64::MAX` elements
    /// ([`ErrorKind::TooLarge`]). An empty slice (for `min`, `max` and the arg reductions) or
    /// an all-NaN one (for `nanargmin`, `nanargmax`) fails only when the result is computed.
    ///
    /// [`ErrorKind::OutOfBounds`]: crate::ErrorKind::OutOfBounds
    /// [`ErrorKind::InvalidArgument`]: crate::ErrorKind::InvalidArgument
    /// [`ErrorKind::Unsupported`]: crate::ErrorKind::Unsupported
    /// [`ErrorKind::TooLarge`]: crate::ErrorKind::TooLarge
    pub fn reduce(&self, op: ReduceOp, axes: impl Into<Axes>) -> Result<LazyArray> {
        self.built()?;
        let axes = axes.into();
        let list = axes.resolve(self)?;
        if op.is_arg() && list.len() != 1 && list.len() != self.ndim() {
            return Err(unsupported(
                "arg reductions take one axis or all of them (as numpy)",
            ));
        }
        if op.is_arg() || op == ReduceOp::CountNonzero {
            // Positions and counts are int64 (flat positions computed in u64 first).
            let reduced: Vec<u64> = list.iter().map(|&a| self.shape()[a]).collect();
            if element_count(&reduced).is_none_or(|n| n > i64::MAX as u64) {
                return Err(too_large(format!(
                    "{op:?} over axes {list:?} of shape {:?}: positions and counts past 2^63 - 1 \
                     do not fit in int64",
                    self.shape()
                )));
            }
        }
        let mut shape = Vec::new();
        let mut blocks = Vec::new();
        for axis in 0..self.ndim() {
            if !list.contains(&axis) {
                shape.push(self.shape()[axis]);
                blocks.push(self.block_grid().axis(axis).clone());
            } else if axes.keepdims {
                shape.push(1);
                blocks.push(AxisBlocks::regular(1, 1));
            }
        }
        Ok(LazyArray::new(
            op.result_type(self.data_type()),
            shape,
            BlockGrid::from_axes(blocks),
            Op::Reduce(Box::new(Reduction {
                input: self.clone(),
                op,
                axes: list,
                result: OnceLock::new(),
            })),
        ))
    }
}

/// The named reductions, numpy's names; [`LazyArray::reduce`] is the general form.
impl LazyArray {
    /// `numpy.sum` over `axes`: integers and `bool` sum in 64 bits (wrapping, as numpy), floats pairwise.
    ///
    /// # Errors
    /// Axes out of bounds or repeated.
    pub fn sum(&self, axes: impl Into<Axes>) -> Result<LazyArray> {
        self.reduce(ReduceOp::Sum, axes)
    }

    /// `numpy.prod` over `axes`.
    ///
    /// # Errors
    /// Axes out of bounds or repeated.
    pub fn prod(&self, axes: impl Into<Axes>) -> Result<LazyArray> {
        self.reduce(ReduceOp::Prod, axes)
    }

    /// `numpy.mean` over `axes` (`float64` for integers; NaN for an empty slice).
    ///
    /// # Errors
    /// Axes out of bounds or repeated.
    pub fn mean(&self, axes: impl Into<Axes>) -> Result<LazyArray> {
        self.reduce(ReduceOp::Mean, axes)
    }

    /// `numpy.min` over `axes` (NaN if any element is NaN; an empty slice is an error).
    ///
    /// # Errors
    /// Axes out of bounds or repeated.
    pub fn min(&self, axes: impl Into<Axes>) -> Result<LazyArray> {
        self.reduce(ReduceOp::Min, axes)
    }

    /// `numpy.max` over `axes` (NaN if any element is NaN; an empty slice is an error).
    ///
    /// # Errors
    /// Axes out of bounds or repeated.
    pub fn max(&self, axes: impl Into<Axes>) -> Result<LazyArray> {
        self.reduce(ReduceOp::Max, axes)
    }

    /// `numpy.argmin`: the index of the first minimum over one axis, or the flat index over all (`int64`).
    ///
    /// # Errors
    /// Axes out of bounds or repeated, more than one axis but not all of them, or positions
    /// past `i64::MAX`.
    pub fn argmin(&self, axes: impl Into<Axes>) -> Result<LazyArray> {
        self.reduce(ReduceOp::ArgMin, axes)
    }

    /// `numpy.argmax`: the index of the first maximum over one axis, or the flat index over all (`int64`).
    ///
    /// # Errors
    /// Axes out of bounds or repeated, more than one axis but not all of them, or positions
    /// past `i64::MAX`.
    pub fn argmax(&self, axes: impl Into<Axes>) -> Result<LazyArray> {
        self.reduce(ReduceOp::ArgMax, axes)
    }

    /// `numpy.any`: whether any element over `axes` is non-zero.
    ///
    /// # Errors
    /// Axes out of bounds or repeated.
    pub fn any(&self, axes: impl Into<Axes>) -> Result<LazyArray> {
        self.reduce(ReduceOp::Any, axes)
    }

    /// `numpy.all`: whether every element over `axes` is non-zero.
    ///
    /// # Errors
    /// Axes out of bounds or repeated.
    pub fn all(&self, axes: impl Into<Axes>) -> Result<LazyArray> {
        self.reduce(ReduceOp::All, axes)
    }

    /// `numpy.count_nonzero` over `axes` (`int64`).
    ///
    /// # Errors
    /// Axes out of bounds or repeated, or counts that could pass `i64::MAX`.
    pub fn count_nonzero(&self, axes: impl Into<Axes>) -> Result<LazyArray> {
        self.reduce(ReduceOp::CountNonzero, axes)
    }

    /// `numpy.nansum`: the sum with NaN taken as 0.
    ///
    /// # Errors
    /// Axes out of bounds or repeated.
    pub fn nansum(&self, axes: impl Into<Axes>) -> Result<LazyArray> {
        self.reduce(ReduceOp::NanSum, axes)
    }

    /// `numpy.nanprod`: the product with NaN taken as 1.
    ///
    /// # Errors
    /// Axes out of bounds or repeated.
    pub fn nanprod(&self, axes: impl Into<Axes>) -> Result<LazyArray> {
        self.reduce(ReduceOp::NanProd, axes)
    }

    /// `numpy.nanmean`: the mean of the non-NaN values (NaN for an all-NaN slice).
    ///
    /// # Errors
    /// Axes out of bounds or repeated.
    pub fn nanmean(&self, axes: impl Into<Axes>) -> Result<LazyArray> {
        self.reduce(ReduceOp::NanMean, axes)
    }

    /// `numpy.nanmin`: the minimum of the non-NaN values (NaN for an all-NaN slice).
    ///
    /// # Errors
    /// Axes out of bounds or repeated.
    pub fn nanmin(&self, axes: impl Into<Axes>) -> Result<LazyArray> {
        self.reduce(ReduceOp::NanMin, axes)
    }

    /// `numpy.nanmax`: the maximum of the non-NaN values (NaN for an all-NaN slice).
    ///
    /// # Errors
    /// Axes out of bounds or repeated.
    pub fn nanmax(&self, axes: impl Into<Axes>) -> Result<LazyArray> {
        self.reduce(ReduceOp::NanMax, axes)
    }

    /// `numpy.nanargmin`: the index of the minimum ignoring NaN (an all-NaN slice is an error).
    ///
    /// # Errors
    /// Axes out of bounds or repeated, more than one axis but not all of them, or positions
    /// past `i64::MAX`.
    pub fn nanargmin(&self, axes: impl Into<Axes>) -> Result<LazyArray> {
        self.reduce(ReduceOp::NanArgMin, axes)
    }

    /// `numpy.nanargmax`: the index of the maximum ignoring NaN (an all-NaN slice is an error).
    ///
    /// # Errors
    /// Axes out of bounds or repeated, more than one axis but not all of them, or positions
    /// past `i64::MAX`.
    pub fn nanargmax(&self, axes: impl Into<Axes>) -> Result<LazyArray> {
        self.reduce(ReduceOp::NanArgMax, axes)
    }

    /// `numpy.var` over `axes`, divisor `n - ddof`.
    ///
    /// # Errors
    /// Axes out of bounds or repeated.
    pub fn var(&self, axes: impl Into<Axes>, ddof: f64) -> Result<LazyArray> {
        self.reduce(ReduceOp::Var { ddof }, axes)
    }

    /// `numpy.std` over `axes`, divisor `n - ddof`.
    ///
    /// # Errors
    /// Axes out of bounds or repeated.
    pub fn std(&self, axes: impl Into<Axes>, ddof: f64) -> Result<LazyArray> {
        self.reduce(ReduceOp::Std { ddof }, axes)
    }

    /// `numpy.nanvar`: the variance of the non-NaN values, divisor `n - ddof`.
    ///
    /// # Errors
    /// Axes out of bounds or repeated.
    pub fn nanvar(&self, axes: impl Into<Axes>, ddof: f64) -> Result<LazyArray> {
        self.reduce(ReduceOp::NanVar { ddof }, axes)
    }

    /// `numpy.nanstd`: the standard deviation of the non-NaN values, divisor `n - ddof`.
    ///
    /// # Errors
    /// Axes out of bounds or repeated.
    pub fn nanstd(&self, axes: impl Into<Axes>, ddof: f64) -> Result<LazyArray> {
        self.reduce(ReduceOp::NanStd { ddof }, axes)
    }
}

impl LazyArray {
    /// `numpy.ptp`: the range `max - min` over `axes` (integers wrap as numpy's do; NaN if
    /// any element is NaN).
    ///
    /// # Errors
    /// Bad axes, an empty slice (as `min` and `max`), or a `bool` array (numpy refuses to
    /// subtract booleans).
    pub fn ptp(&self, axes: impl Into<Axes>) -> Result<LazyArray> {
        let axes = axes.into();
        if self.data_type() == DataType::Bool {
            return Err(type_mismatch(
                "ptp of a bool array is not defined (numpy refuses to subtract booleans)",
            ));
        }
        (self.max(axes.clone())? - self.min(axes)?).checked()
    }

    /// `numpy.average(self, axes, weights)`: the mean over `axes` without weights, else
    /// `sum(self * weights) / sum(weights)` over `axes`, in numpy's result type (`float64`
    /// for integer and `bool` inputs, else the common type of `self` and the weights).
    /// `weights` has `self`'s shape, or one extent per axis of `axes` (in that order; a 1-d
    /// array for one axis), as numpy's. Where the weights sum to zero the result is NaN or
    /// infinite (numpy raises `ZeroDivisionError` instead).
    ///
    /// # Errors
    /// Bad axes, or weights whose shape is neither (numpy's errors), including weights of
    /// another shape with `Axes::all()`.
    pub fn average(&self, axes: impl Into<Axes>, weights: Option<&LazyArray>) -> Result<LazyArray> {
        let axes = axes.into();
        let Some(w) = weights else {
            return self.mean(axes);
        };
        let t = match self.data_type().kind() {
            Kind::Float => result_type(self.data_type(), w.data_type()),
            _ => result_type(
                result_type(self.data_type(), w.data_type()),
                DataType::Float64,
            ),
        };
        let w = if w.shape() == self.shape() {
            w.clone()
        } else {
            let Some(list) = &axes.axes else {
                return Err(invalid(format!(
                    "average: axes must be given when weights of shape {:?} differ from the \
                     array's shape {:?}",
                    w.shape(),
                    self.shape()
                )));
            };
            let list: Vec<usize> = list.iter().map(|&a| self.axis(a)).collect::<Result<_>>()?;
            let along: Vec<u64> = list.iter().map(|&a| self.shape()[a]).collect();
            if w.shape() != along.as_slice() {
                return Err(shape_mismatch(format!(
                    "average: weights of shape {:?} are not consistent with the array's shape \
                     {:?} along axes {list:?}",
                    w.shape(),
                    self.shape()
                )));
            }
            // numpy's transpose by argsort(axis), then a reshape that puts each weight axis
            // at its axis of the array and 1 elsewhere.
            let mut order: Vec<usize> = (0..list.len()).collect();
            order.sort_by_key(|&k| list[k]);
            let shape: Vec<i64> = (0..self.ndim())
                .map(|a| {
                    if list.contains(&a) {
                        self.shape()[a] as i64
                    } else {
                        1
                    }
                })
                .collect();
            w.permute_axes(&order)?.reshape(&shape)?
        };
        let w = w.astype(t);
        let total = w.sum(axes.clone())?;
        ((self.astype(t) * w).sum(axes)? / total).checked()
    }
}
