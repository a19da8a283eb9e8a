//! Rust's operators on lazy arrays: `&a + &b`, `x * 2.0`, `1.0 - &x`, `-x`.
//!
//! An operator cannot return a `Result`, so an operation that cannot be built (shapes that do
//! not broadcast, a scalar out of range for the array's type, `-` of a bool array) gives a
//! *failed* lazy array that carries the error instead. The error comes back at the next
//! fallible step: every builder that returns a `Result` (`mean`, `slice`, `reshape`, …) and
//! every result method (`to_ndarray`, `to_scalar`, `to_store`, …) returns it, and
//! [`LazyArray::checked`] returns it on demand. This is polars' model: chains stay short,
//! and no error is ever lost or turned into a panic.
//!
//! Scalars are `f64` and `i64` (one of each, so a literal's type is never ambiguous: `x * 2`
//! and `x * 2.0` both infer); other Rust numbers convert with `f64::from`/`i64::from` or go
//! through [`LazyArray::binary`], which takes every numeric type.
//!
//! The operators follow numpy's: `/` is true division, `%` takes the sign of the divisor,
//! and operands are broadcast and promoted exactly as [`LazyArray::binary`] does.

use std::ops::{Add, Div, Mul, Neg, Rem, Sub};

use super::{BinaryOp, LazyArray, Operand, UnaryOp};

/// Builds `op(lhs, rhs)`, deferring a build error into a failed array.
fn deferred_binary(op: BinaryOp, lhs: impl Into<Operand>, rhs: impl Into<Operand>) -> LazyArray {
    LazyArray::binary(op, lhs, rhs).unwrap_or_else(LazyArray::failed)
}

/// The operator traits between lazy arrays (owned or borrowed, on either side).
macro_rules! array_operators {
    ($($trait:ident $method:ident => $op:ident;)*) => {$(
        impl $trait<LazyArray> for LazyArray {
            type Output = LazyArray;
            fn $method(self, rhs: LazyArray) -> LazyArray {
                deferred_binary(BinaryOp::$op, self, rhs)
            }
        }
        impl $trait<&LazyArray> for LazyArray {
            type Output = LazyArray;
            fn $method(self, rhs: &LazyArray) -> LazyArray {
                deferred_binary(BinaryOp::$op, self, rhs)
            }
        }
        impl $trait<LazyArray> for &LazyArray {
            type Output = LazyArray;
            fn $method(self, rhs: LazyArray) -> LazyArray {
                deferred_binary(BinaryOp::$op, self, rhs)
            }
        }
        impl $trait<&LazyArray> for &LazyArray {
            type Output = LazyArray;
            fn $method(self, rhs: &LazyArray) -> LazyArray {
                deferred_binary(BinaryOp::$op, self, rhs)
            }
        }
    )*};
}

/// The operator traits between a lazy array and a Rust number, on either side.
macro_rules! scalar_operators {
    ($scalar:ty: $($trait:ident $method:ident => $op:ident;)*) => {$(
        impl $trait<$scalar> for LazyArray {
            type Output = LazyArray;
            fn $method(self, rhs: $scalar) -> LazyArray {
                deferred_binary(BinaryOp::$op, self, rhs)
            }
        }
        impl $trait<$scalar> for &LazyArray {
            type Output = LazyArray;
            fn $method(self, rhs: $scalar) -> LazyArray {
                deferred_binary(BinaryOp::$op, self, rhs)
            }
        }
        impl $trait<LazyArray> for $scalar {
            type Output = LazyArray;
            fn $method(self, rhs: LazyArray) -> LazyArray {
                deferred_binary(BinaryOp::$op, self, rhs)
            }
        }
        impl $trait<&LazyArray> for $scalar {
            type Output = LazyArray;
            fn $method(self, rhs: &LazyArray) -> LazyArray {
                deferred_binary(BinaryOp::$op, self, rhs)
            }
        }
    )*};
}

array_operators! {
    Add add => Add;
    Sub sub => Sub;
    Mul mul => Mul;
    Div div => Div;
    Rem rem => Rem;
}

/// Every arithmetic operator for each Rust number type.
macro_rules! scalar_arithmetic {
    ($($scalar:ty),*) => {$(
        scalar_operators! {
            $scalar:
            Add add => Add;
            Sub sub => Sub;
            Mul mul => Mul;
            Div div => Div;
            Rem rem => Rem;
        }
    )*};
}

scalar_arithmetic!(f64, i64);

impl Neg for LazyArray {
    type Output = LazyArray;
    fn neg(self) -> LazyArray {
        -&self
    }
}

impl Neg for &LazyArray {
    type Output = LazyArray;
    fn neg(self) -> LazyArray {
        self.unary(UnaryOp::Neg).unwrap_or_else(LazyArray::failed)
    }
}
