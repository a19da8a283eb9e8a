//! Scans along an axis: `cumsum`, `cumprod`, their NaN-skipping forms (lazy nodes, see
//! `exec/scan.rs` for how their blocks are computed) and `diff` (slices and a subtraction).

use std::any::Any;
use std::sync::{Arc, OnceLock};

use super::{BinaryOp, LazyArray, NumpyIndex, Op};
use crate::error::{invalid, Result};

/// Which running fold a scan computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScanOp {
    CumSum,
    CumProd,
    NanCumSum,
    NanCumProd,
}

impl ScanOp {
    pub(crate) fn name(self) -> &'static str {
        match self {
            ScanOp::CumSum => "cumsum",
            ScanOp::CumProd => "cumprod",
            ScanOp::NanCumSum => "nancumsum",
            ScanOp::NanCumProd => "nancumprod",
        }
    }
}

/// A running fold along `axis` of `input` (already of the result type).
pub(crate) struct Scan {
    pub(crate) input: LazyArray,
    pub(crate) op: ScanOp,
    pub(crate) axis: usize,
    /// Once computed (by the executor, before a pass): the running value just before each
    /// block along `axis`, for every position of the other axes: an `ArrayD<T>` of shape
    /// `[blocks along axis, the other extents...]`.
    pub(crate) offsets: OnceLock<Arc<dyn Any + Send + Sync>>,
}

impl LazyArray {
    fn scan(&self, op: ScanOp, axis: i64) -> Result<LazyArray> {
        self.built()?;
        let axis = self.axis(axis)?;
        let t = super::dtype::sum_type(self.data_type());
        let input = self.astype(t);
        Ok(LazyArray::new(
            t,
            self.shape().to_vec(),
            self.block_grid().clone(),
            Op::Scan(Box::new(Scan {
                input,
                op,
                axis,
                offsets: OnceLock::new(),
            })),
        ))
    }

    /// numpy's `cumsum(x, axis)`: running sums along `axis`, in numpy's result type (int64
    /// for bool and signed integers, uint64 for unsigned ones, the float type for floats),
    /// added one after another as numpy adds them (integers wrap), so every element is
    /// numpy's to the bit. Lazy: a pass first computes the running value at each block
    /// boundary along the axis, then each block continues from its own (see `to_store` for
    /// results larger than memory). numpy's `axis=None` is `reshape` to 1-d first.
    ///
    /// # Errors
    /// The deferred error of a failed `self`; an axis out of range
    /// ([`ErrorKind::OutOfBounds`](crate::ErrorKind::OutOfBounds)).
    pub fn cumsum(&self, axis: i64) -> Result<LazyArray> {
        self.scan(ScanOp::CumSum, axis)
    }

    /// numpy's `cumprod(x, axis)`: running products, as [`LazyArray::cumsum`].
    ///
    /// # Errors
    /// As [`LazyArray::cumsum`].
    pub fn cumprod(&self, axis: i64) -> Result<LazyArray> {
        self.scan(ScanOp::CumProd, axis)
    }

    /// numpy's `nancumsum(x, axis)`: [`LazyArray::cumsum`] with NaNs counted as zero.
    ///
    /// # Errors
    /// As [`LazyArray::cumsum`].
    pub fn nancumsum(&self, axis: i64) -> Result<LazyArray> {
        self.scan(ScanOp::NanCumSum, axis)
    }

    /// numpy's `nancumprod(x, axis)`: [`LazyArray::cumprod`] with NaNs counted as one.
    ///
    /// # Errors
    /// As [`LazyArray::cumsum`].
    pub fn nancumprod(&self, axis: i64) -> Result<LazyArray> {
        self.scan(ScanOp::NanCumProd, axis)
    }

    /// numpy's `diff(x, n, axis)`: the `n`-th differences along `axis`, built as numpy builds
    /// them (`x[1:] - x[:-1]`, `n` times; `!=` for bool), so it is lazy like any expression
    /// and of numpy's type (integers wrap). `n = 0` is `x` itself.
    ///
    /// # Errors
    /// The deferred error of a failed `self`; an axis out of range
    /// ([`ErrorKind::OutOfBounds`](crate::ErrorKind::OutOfBounds)); a 0-d array
    /// ([`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument), as numpy).
    pub fn diff(&self, n: u64, axis: i64) -> Result<LazyArray> {
        self.built()?;
        if self.ndim() == 0 {
            return Err(invalid("diff requires an array of at least one dimension"));
        }
        let axis = self.axis(axis)?;
        let pick = |start: Option<i64>, stop: Option<i64>| -> Vec<NumpyIndex> {
            (0..self.ndim())
                .map(|a| NumpyIndex::Slice {
                    start: if a == axis { start } else { None },
                    stop: if a == axis { stop } else { None },
                    step: None,
                })
                .collect()
        };
        let mut a = self.clone();
        for _ in 0..n {
            if a.shape()[axis] == 0 {
                break;
            }
            let (hi, lo) = (
                a.slice_np(&pick(Some(1), None))?,
                a.slice_np(&pick(None, Some(-1)))?,
            );
            let op = if a.data_type() == crate::element::DataType::Bool {
                BinaryOp::Ne
            } else {
                BinaryOp::Sub
            };
            a = LazyArray::binary(op, &hi, &lo)?;
        }
        Ok(a)
    }
}
