//! numpy's type promotion for the eleven data types outcore has.
//!
//! [`result_type`] is `numpy.result_type` for two arrays. Rust numbers mixed with arrays are
//! *weak* scalars (NEP 50, numpy 2): an integer keeps the array's type, a float keeps a float
//! array's type and turns an integer or bool array into `float64`. Functions that need floats
//! (`sqrt`, `exp`, trigonometry, true division, `mean`) turn integers into the smallest float
//! numpy would use — except that numpy's `float16` (for `bool`, `int8`, `uint8`) becomes
//! `float32`, since the store has no `float16`.

use crate::element::{DataType, Kind};

fn bits(t: DataType) -> usize {
    t.size() * 8
}

fn signed_of_bits(bits: usize) -> Option<DataType> {
    match bits {
        8 => Some(DataType::Int8),
        16 => Some(DataType::Int16),
        32 => Some(DataType::Int32),
        64 => Some(DataType::Int64),
        _ => None,
    }
}

/// The type numpy gives the result of combining arrays of types `a` and `b`.
pub(crate) fn result_type(a: DataType, b: DataType) -> DataType {
    use Kind::*;
    if a == b {
        return a;
    }
    match (a.kind(), b.kind()) {
        (Bool, _) => b,
        (_, Bool) => a,
        (Float, Float) => std::cmp::max_by_key(a, b, |t| t.size()),
        (Float, _) => float_with_int(a, b),
        (_, Float) => float_with_int(b, a),
        (Signed, Signed) | (Unsigned, Unsigned) => std::cmp::max_by_key(a, b, |t| t.size()),
        (Signed, Unsigned) => signed_with_unsigned(a, b),
        (Unsigned, Signed) => signed_with_unsigned(b, a),
    }
}

fn float_with_int(float: DataType, int: DataType) -> DataType {
    if float == DataType::Float32 && bits(int) <= 16 {
        DataType::Float32
    } else {
        DataType::Float64
    }
}

fn signed_with_unsigned(signed: DataType, unsigned: DataType) -> DataType {
    if bits(unsigned) < bits(signed) {
        signed
    } else {
        signed_of_bits(bits(unsigned) * 2).unwrap_or(DataType::Float64)
    }
}

/// The float type numpy computes `sqrt`, `exp`, true division and the like in for `t`.
pub(crate) fn float_type(t: DataType) -> DataType {
    match t {
        DataType::Float32 | DataType::Float64 => t,
        _ if bits(t) <= 16 => DataType::Float32,
        _ => DataType::Float64,
    }
}

/// The type of `sum` and `prod`: integers widen to 64 bits (numpy's default integer), floats
/// keep their type.
pub(crate) fn sum_type(t: DataType) -> DataType {
    match t.kind() {
        Kind::Bool | Kind::Signed => DataType::Int64,
        Kind::Unsigned => DataType::UInt64,
        Kind::Float => t,
    }
}

/// The type of `mean`, `var` and `std`: floats keep their type, everything else is `float64`.
pub(crate) fn mean_type(t: DataType) -> DataType {
    match t.kind() {
        Kind::Float => t,
        _ => DataType::Float64,
    }
}

/// A Rust number used as an operand: numpy's weak Python scalars.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum WeakScalar {
    /// `true` / `false`.
    Bool(bool),
    /// An integer literal, like a Python `int`: every Rust integer type up to `u64` converts
    /// exactly. Its value decides only whether it fits the array's type (numpy 2 refuses one
    /// that does not, except in comparisons, which it makes exactly); `i128` leaves room for
    /// values no array type holds, which still compare correctly with every integer array.
    Int(i128),
    /// A float literal.
    Float(f64),
}

/// The type of `array_type` combined with a weak scalar.
pub(crate) fn weak_result_type(array_type: DataType, scalar: WeakScalar) -> DataType {
    match (scalar, array_type.kind()) {
        (WeakScalar::Bool(_), _) => array_type,
        (WeakScalar::Int(_), Kind::Bool) => DataType::Int64,
        (WeakScalar::Int(_), _) => array_type,
        (WeakScalar::Float(_), Kind::Float) => array_type,
        (WeakScalar::Float(_), _) => DataType::Float64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DataType::*;

    #[test]
    fn promotion_matches_numpy_table() {
        // Cases from numpy.result_type.
        let cases = [
            (Bool, Int8, Int8),
            (Int8, UInt8, Int16),
            (Int16, UInt8, Int16),
            (Int16, UInt16, Int32),
            (Int32, UInt32, Int64),
            (Int64, UInt64, Float64),
            (Int8, UInt64, Float64),
            (UInt32, Int8, Int64),
            (Int8, Float32, Float32),
            (UInt16, Float32, Float32),
            (Int32, Float32, Float64),
            (Float32, Float64, Float64),
            (UInt8, UInt32, UInt32),
            (Bool, Float32, Float32),
        ];
        for (a, b, want) in cases {
            assert_eq!(result_type(a, b), want, "{a} {b}");
            assert_eq!(result_type(b, a), want, "{b} {a}");
        }
        assert_eq!(weak_result_type(Int8, WeakScalar::Int(3)), Int8);
        assert_eq!(weak_result_type(Int8, WeakScalar::Float(3.0)), Float64);
        assert_eq!(weak_result_type(Float32, WeakScalar::Float(3.0)), Float32);
        assert_eq!(weak_result_type(Bool, WeakScalar::Int(1)), Int64);
        assert_eq!(float_type(Int16), Float32);
        assert_eq!(float_type(Int32), Float64);
    }
}
