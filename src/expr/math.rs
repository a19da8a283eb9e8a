//! Elementwise maths beyond the operators: two-operand float functions, `fmod`, the bitwise
//! operations, and `isclose` / `allclose`, each with numpy's name, types and broadcasting.
//! The element functions live in the executor's one table (`exec/functions.rs`), so these
//! fuse into chains like the operators do.

use super::dtype::WeakScalar;
use super::{Axes, BinaryOp, LazyArray, Operand, UnaryOp};
use crate::element::{DataType, Kind};
use crate::error::Result;

impl LazyArray {
    /// `numpy.arctan2(self, other)`: the angle in radians of the point `(other, self)`,
    /// broadcast; computed in the float type of the operands (integers give `float64`, or
    /// `float32` for 8- and 16-bit ones).
    ///
    /// # Errors
    /// Shapes that do not broadcast together.
    pub fn arctan2(&self, other: impl Into<Operand>) -> Result<LazyArray> {
        LazyArray::binary(BinaryOp::Arctan2, self, other)
    }

    /// `numpy.hypot(self, other)`: `sqrt(self² + other²)` without undue overflow, broadcast,
    /// in the operands' float type (as [`LazyArray::arctan2`]).
    ///
    /// # Errors
    /// Shapes that do not broadcast together.
    pub fn hypot(&self, other: impl Into<Operand>) -> Result<LazyArray> {
        LazyArray::binary(BinaryOp::Hypot, self, other)
    }

    /// `numpy.fmod(self, other)`: the remainder of truncated division, with the sign of the
    /// dividend (`fmod(-7, 2) == -1`, where `-7 % 2 == 1`), broadcast. Integers stay
    /// integers (a zero divisor gives 0, as numpy); `bool` computes in `int8`.
    ///
    /// # Errors
    /// Shapes that do not broadcast together.
    pub fn fmod(&self, other: impl Into<Operand>) -> Result<LazyArray> {
        LazyArray::binary(BinaryOp::Fmod, self, other)
    }

    /// `numpy.bitwise_and(self, other)`, broadcast: integers and `bool` (`bool` with `bool`
    /// stays `bool`).
    ///
    /// # Errors
    /// Float operands (numpy has no float loop), or shapes that do not broadcast together.
    pub fn bitwise_and(&self, other: impl Into<Operand>) -> Result<LazyArray> {
        LazyArray::binary(BinaryOp::BitAnd, self, other)
    }

    /// `numpy.bitwise_or(self, other)`, broadcast (as [`LazyArray::bitwise_and`]).
    ///
    /// # Errors
    /// Float operands, or shapes that do not broadcast together.
    pub fn bitwise_or(&self, other: impl Into<Operand>) -> Result<LazyArray> {
        LazyArray::binary(BinaryOp::BitOr, self, other)
    }

    /// `numpy.bitwise_xor(self, other)`, broadcast (as [`LazyArray::bitwise_and`]).
    ///
    /// # Errors
    /// Float operands, or shapes that do not broadcast together.
    pub fn bitwise_xor(&self, other: impl Into<Operand>) -> Result<LazyArray> {
        LazyArray::binary(BinaryOp::BitXor, self, other)
    }

    /// `numpy.invert(self)` (`~self`): bitwise not of integers, logical not of `bool`.
    ///
    /// # Errors
    /// A float array (numpy has no float loop).
    pub fn invert(&self) -> Result<LazyArray> {
        self.unary(UnaryOp::Invert)
    }

    /// `numpy.isclose(self, other, rtol, atol, equal_nan)`: where
    /// `|self - other| <= atol + rtol * |other|` (`bool`), broadcast. As numpy, `other` is
    /// converted to a float type first (integers and `bool` to `float64`), infinities are
    /// close only to themselves, and NaN is close to NaN only with `equal_nan`. The
    /// expression is numpy's own, operation for operation, so results agree bit for bit.
    ///
    /// # Errors
    /// Shapes that do not broadcast together.
    pub fn isclose(
        &self,
        other: impl Into<Operand>,
        rtol: f64,
        atol: f64,
        equal_nan: bool,
    ) -> Result<LazyArray> {
        let x = self;
        match other.into() {
            Operand::Array(y) => {
                let float = match y.data_type().kind() {
                    Kind::Float => y.data_type(),
                    _ => DataType::Float64,
                };
                let y = y.astype(float);
                let within = (x - &y).abs()?.less_equal(y.abs()? * rtol + atol)?;
                let close = within
                    .logical_and(y.isfinite()?)?
                    .logical_or(x.equal(&y)?)?;
                if equal_nan {
                    close.logical_or(x.isnan()?.logical_and(y.isnan()?)?)
                } else {
                    Ok(close)
                }
            }
            Operand::Scalar(s) => {
                // numpy leaves a Python number as it is: its tolerance is computed in
                // double precision and it stays weak in the comparisons.
                let y = match s {
                    WeakScalar::Bool(b) => f64::from(u8::from(b)),
                    WeakScalar::Int(v) => v as f64,
                    WeakScalar::Float(v) => v,
                };
                let equal = x.equal(y)?;
                if y.is_finite() {
                    (x - y)
                        .abs()?
                        .less_equal(atol + rtol * y.abs())?
                        .logical_or(equal)
                } else if equal_nan && y.is_nan() {
                    equal.logical_or(x.isnan()?)
                } else {
                    Ok(equal)
                }
            }
        }
    }

    /// `numpy.allclose`: whether [`LazyArray::isclose`] holds everywhere, computed in one
    /// pass over the operands.
    ///
    /// # Errors
    /// Shapes that do not broadcast together, or an error reading the operands.
    pub fn allclose(
        &self,
        other: impl Into<Operand>,
        rtol: f64,
        atol: f64,
        equal_nan: bool,
    ) -> Result<bool> {
        self.isclose(other, rtol, atol, equal_nan)?
            .all(Axes::all())?
            .to_scalar::<bool>()
    }
}
