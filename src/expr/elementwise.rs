//! Elementwise operations: numpy's broadcasting and type promotion, fused at evaluation.

use super::dtype::{float_type, result_type, weak_result_type, WeakScalar};
use super::{BlockGrid, LazyArray, Op, Operand};
use crate::element::{DataType, FillValue, Kind};
use crate::error::{out_of_bounds, shape_mismatch, type_mismatch, Result};

/// A one-operand elementwise function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UnaryOp {
    /// `-x` (wrapping for integers; not defined for `bool`).
    Neg,
    /// `|x|`.
    Abs,
    /// `numpy.sign`.
    Sign,
    /// `x * x`.
    Square,
    /// Round half to even (`numpy.rint` / `numpy.round`).
    Round,
    /// `numpy.floor` (integers unchanged).
    Floor,
    /// `numpy.ceil` (integers unchanged).
    Ceil,
    /// `numpy.trunc` (integers unchanged).
    Trunc,
    /// Square root.
    Sqrt,
    /// `e^x`.
    Exp,
    /// `e^x - 1`.
    Expm1,
    /// Natural logarithm.
    Log,
    /// Base-2 logarithm.
    Log2,
    /// Base-10 logarithm.
    Log10,
    /// `ln(1 + x)`.
    Log1p,
    /// Sine.
    Sin,
    /// Cosine.
    Cos,
    /// Tangent.
    Tan,
    /// Inverse sine.
    Arcsin,
    /// Inverse cosine.
    Arccos,
    /// Inverse tangent.
    Arctan,
    /// Hyperbolic sine.
    Sinh,
    /// Hyperbolic cosine.
    Cosh,
    /// Hyperbolic tangent.
    Tanh,
    /// `numpy.logical_not` (`bool` result).
    Not,
    /// `numpy.isnan` (`bool` result).
    IsNan,
    /// `numpy.isfinite` (`bool` result).
    IsFinite,
    /// `numpy.isinf` (`bool` result).
    IsInf,
    /// `numpy.invert` / `~x`: bitwise not of integers, logical not of `bool` (no floats).
    Invert,
}

impl UnaryOp {
    /// Whether numpy computes this function in floating point.
    pub fn is_float_function(self) -> bool {
        use UnaryOp::*;
        matches!(
            self,
            Sqrt | Exp
                | Expm1
                | Log
                | Log2
                | Log10
                | Log1p
                | Sin
                | Cos
                | Tan
                | Arcsin
                | Arccos
                | Arctan
                | Sinh
                | Cosh
                | Tanh
        )
    }

    fn is_predicate(self) -> bool {
        matches!(
            self,
            UnaryOp::Not | UnaryOp::IsNan | UnaryOp::IsFinite | UnaryOp::IsInf
        )
    }
}

/// A two-operand elementwise function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BinaryOp {
    /// `a + b`.
    Add,
    /// `a - b`.
    Sub,
    /// `a * b`.
    Mul,
    /// True division `a / b` (integers give floats).
    Div,
    /// Floor division `a // b`.
    FloorDiv,
    /// Remainder with the sign of the divisor (`a % b`).
    Rem,
    /// `a ** b`.
    Pow,
    /// `numpy.maximum` (NaN propagates).
    Maximum,
    /// `numpy.minimum` (NaN propagates).
    Minimum,
    /// `a == b`.
    Eq,
    /// `a != b`.
    Ne,
    /// `a < b`.
    Lt,
    /// `a <= b`.
    Le,
    /// `a > b`.
    Gt,
    /// `a >= b`.
    Ge,
    /// `numpy.logical_and`.
    And,
    /// `numpy.logical_or`.
    Or,
    /// `numpy.logical_xor`.
    Xor,
    /// `numpy.arctan2(a, b)`: the angle of the point `(b, a)`, in floating point.
    Arctan2,
    /// `numpy.hypot(a, b)`: `sqrt(a² + b²)` without undue overflow, in floating point.
    Hypot,
    /// `numpy.fmod`: the remainder with the sign of the dividend (C's `fmod`), unlike `%`.
    Fmod,
    /// `numpy.bitwise_and` (integers and `bool`).
    BitAnd,
    /// `numpy.bitwise_or` (integers and `bool`).
    BitOr,
    /// `numpy.bitwise_xor` (integers and `bool`).
    BitXor,
}

impl BinaryOp {
    /// Whether the result is `bool` (comparisons and logical operations).
    pub fn is_predicate(self) -> bool {
        use BinaryOp::*;
        matches!(self, Eq | Ne | Lt | Le | Gt | Ge | And | Or | Xor)
    }

    fn is_comparison(self) -> bool {
        self.is_predicate() && !self.is_logical()
    }

    fn is_logical(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or | BinaryOp::Xor)
    }

    /// Whether numpy computes this function in floating point.
    pub fn is_float_function(self) -> bool {
        matches!(self, BinaryOp::Arctan2 | BinaryOp::Hypot)
    }

    /// Whether this works on bits, defined for integers and `bool` only.
    fn is_bitwise(self) -> bool {
        matches!(self, BinaryOp::BitAnd | BinaryOp::BitOr | BinaryOp::BitXor)
    }
}

/// numpy's refusal of an integer raised to a negative integer power: at build time for a
/// scalar exponent, at compute time (by the kernel) for an array of exponents.
pub(crate) fn negative_integer_power() -> crate::Error {
    type_mismatch("integers to negative integer powers are not allowed")
}

/// numpy's broadcast of several shapes, or an error naming them.
pub(crate) fn broadcast_shapes(shapes: &[&[u64]]) -> Result<Vec<u64>> {
    let ndim = shapes.iter().map(|s| s.len()).max().unwrap_or(0);
    let mut out = vec![1u64; ndim];
    for s in shapes {
        for (i, &n) in s.iter().enumerate() {
            let o = &mut out[ndim - s.len() + i];
            if *o == 1 {
                *o = n;
            } else if n != 1 && n != *o {
                return Err(shape_mismatch(format!(
                    "shapes {:?} cannot be broadcast together",
                    shapes
                )));
            }
        }
    }
    Ok(out)
}

/// The block grid of an elementwise result: each axis takes its boundaries from the first
/// operand that spans it (not broadcast along it).
pub(crate) fn elementwise_grid(
    shape: &[u64],
    operands: &[&LazyArray],
    data_type: DataType,
) -> BlockGrid {
    let ndim = shape.len();
    let known = (0..ndim)
        .map(|axis| {
            operands.iter().find_map(|a| {
                let offset = ndim - a.ndim();
                (axis >= offset && a.shape()[axis - offset] == shape[axis])
                    .then(|| a.block_grid().axis(axis - offset).clone())
            })
        })
        .collect();
    BlockGrid::with_defaults(shape, known, data_type.size())
}

/// numpy 2 compares integers exactly, where arithmetic would promote to `float64` or refuse an
/// out-of-range scalar: a signed array against `uint64`, and an integer array against an
/// integer scalar its type cannot hold. Such comparisons keep both sides' values (signed as
/// `int64`, unsigned as `uint64`) and compare them as wide integers; a scalar outside even
/// those (below `i64::MIN` or above `u64::MAX`) lies beyond every element, so the answer is
/// the same everywhere. `None` for every other comparison.
fn exact_integer_comparison(
    op: BinaryOp,
    lhs: &Operand,
    rhs: &Operand,
) -> Result<Option<LazyArray>> {
    let int = |t: DataType| matches!(t.kind(), Kind::Signed | Kind::Unsigned);
    let wide = |t: DataType| match t.kind() {
        Kind::Unsigned => DataType::UInt64,
        _ => DataType::Int64,
    };
    let needed = match (lhs, rhs) {
        (Operand::Array(a), Operand::Array(b)) => {
            let (x, y) = (a.data_type(), b.data_type());
            int(x) && int(y) && result_type(x, y) == DataType::Float64
        }
        (Operand::Array(a), Operand::Scalar(WeakScalar::Int(v)))
        | (Operand::Scalar(WeakScalar::Int(v)), Operand::Array(a)) => {
            int(a.data_type()) && scalar_array(WeakScalar::Int(*v), a.data_type()).is_err()
        }
        _ => false,
    };
    if !needed {
        return Ok(None);
    }
    let side = |o: &Operand, other: &Operand| -> Result<LazyArray> {
        match (o, other) {
            (Operand::Array(a), _) => Ok(a.astype(wide(a.data_type()))),
            // Against a `uint64` array a non-negative scalar stays unsigned, so both sides
            // share one type; otherwise `int64` holds it unless it is above `i64::MAX`.
            (Operand::Scalar(s @ WeakScalar::Int(v)), Operand::Array(b))
                if *v < 0 || (b.data_type() != DataType::UInt64 && *v <= i128::from(i64::MAX)) =>
            {
                scalar_array(*s, DataType::Int64)
            }
            (Operand::Scalar(s), _) => scalar_array(*s, DataType::UInt64),
        }
    };
    let (a, b) = match (side(lhs, rhs), side(rhs, lhs)) {
        (Ok(a), Ok(b)) => (a, b),
        // Only a scalar beyond 64 bits fails to convert: it is larger (or smaller) than
        // every element of the array.
        _ => return Ok(Some(beyond_every_element(op, lhs, rhs))),
    };
    let shape = broadcast_shapes(&[a.shape(), b.shape()])?;
    let grid = elementwise_grid(&shape, &[&a, &b], DataType::Bool);
    Ok(Some(LazyArray::new(
        DataType::Bool,
        shape,
        grid,
        Op::Binary(op, a, b),
    )))
}

/// The comparison of an integer array with an integer scalar outside `[i64::MIN, u64::MAX]`:
/// the same answer for every element, in the array's shape and blocks.
fn beyond_every_element(op: BinaryOp, lhs: &Operand, rhs: &Operand) -> LazyArray {
    // Whether the left side is the greater one; the scalar is beyond every element.
    let (array, left_greater) = match (lhs, rhs) {
        (Operand::Array(a), Operand::Scalar(WeakScalar::Int(v))) => (a, *v < 0),
        (Operand::Scalar(WeakScalar::Int(v)), Operand::Array(a)) => (a, *v > 0),
        _ => unreachable!("called only for an integer array and an integer scalar"),
    };
    let answer = match op {
        BinaryOp::Eq => false,
        BinaryOp::Ne => true,
        BinaryOp::Gt | BinaryOp::Ge => left_greater,
        _ => !left_greater,
    };
    let grid = elementwise_grid(array.shape(), &[array], DataType::Bool);
    LazyArray::new(
        DataType::Bool,
        array.shape().to_vec(),
        grid,
        Op::Fill(FillValue::of(answer)),
    )
}

/// A 0-d array holding a weak scalar converted to `data_type`, or an error if it does not fit.
fn scalar_array(value: WeakScalar, data_type: DataType) -> Result<LazyArray> {
    use crate::element::Num;
    let fill = match (value, data_type.kind()) {
        (WeakScalar::Bool(b), _) => {
            crate::with_element_type!(data_type, T => FillValue::of(<T as Num>::from_bool(b)))
        }
        (WeakScalar::Int(v), Kind::Float) => match i64::try_from(v) {
            Ok(v) => {
                crate::with_element_type!(data_type, T => FillValue::of(<T as Num>::from_i64(v)))
            }
            // Python converts a larger int to the nearest double first, as `as f64` does.
            Err(_) => {
                crate::with_element_type!(data_type, T => FillValue::of(<T as Num>::from_f64(v as f64)))
            }
        },
        (WeakScalar::Int(v), _) => {
            let fits = match data_type {
                DataType::Bool => v == 0 || v == 1,
                DataType::Int8 => i8::try_from(v).is_ok(),
                DataType::Int16 => i16::try_from(v).is_ok(),
                DataType::Int32 => i32::try_from(v).is_ok(),
                DataType::Int64 => i64::try_from(v).is_ok(),
                DataType::UInt8 => u8::try_from(v).is_ok(),
                DataType::UInt16 => u16::try_from(v).is_ok(),
                DataType::UInt32 => u32::try_from(v).is_ok(),
                DataType::UInt64 => u64::try_from(v).is_ok(),
                DataType::Float32 | DataType::Float64 => true,
            };
            if !fits {
                return Err(out_of_bounds(format!(
                    "the integer {v} is out of bounds for {data_type}"
                )));
            }
            // It fits the type, so it fits `i64` or (only for `uint64`) `u64`.
            match (i64::try_from(v), u64::try_from(v)) {
                (Ok(v), _) => {
                    crate::with_element_type!(data_type, T => FillValue::of(<T as Num>::from_i64(v)))
                }
                (_, Ok(v)) => {
                    crate::with_element_type!(data_type, T => FillValue::of(<T as Num>::from_u64(v)))
                }
                _ => unreachable!("a value that fits an integer type fits i64 or u64"),
            }
        }
        (WeakScalar::Float(v), _) => {
            crate::with_element_type!(data_type, T => FillValue::of(<T as Num>::from_f64(v)))
        }
    };
    Ok(LazyArray::new(
        data_type,
        vec![],
        BlockGrid::from_axes(vec![]),
        Op::Fill(fill),
    ))
}

/// The type numpy gives a lone Python scalar: an int beyond `int64` that fits `uint64` is
/// `uint64`; one beyond that fits nothing and is refused when converted.
fn strong_type(s: WeakScalar) -> DataType {
    match s {
        WeakScalar::Bool(_) => DataType::Bool,
        WeakScalar::Int(v) if v > i128::from(i64::MAX) && v <= i128::from(u64::MAX) => {
            DataType::UInt64
        }
        WeakScalar::Int(_) => DataType::Int64,
        WeakScalar::Float(_) => DataType::Float64,
    }
}

/// The common type of operands, numpy 2 style (scalars are weak).
fn common_type(operands: &[&Operand]) -> DataType {
    let arrays: Vec<DataType> = operands
        .iter()
        .filter_map(|o| match o {
            Operand::Array(a) => Some(a.data_type()),
            Operand::Scalar(_) => None,
        })
        .collect();
    let mut t = match arrays.split_first() {
        Some((first, rest)) => rest.iter().fold(*first, |a, b| result_type(a, *b)),
        None => operands
            .iter()
            .filter_map(|o| match o {
                Operand::Scalar(s) => Some(strong_type(*s)),
                Operand::Array(_) => None,
            })
            .fold(DataType::Bool, result_type),
    };
    if !arrays.is_empty() {
        for o in operands {
            if let Operand::Scalar(s) = o {
                t = weak_result_type(t, *s);
            }
        }
    }
    t
}

fn materialize(operand: &Operand, data_type: DataType) -> Result<LazyArray> {
    match operand {
        Operand::Array(a) => Ok(a.astype(data_type)),
        Operand::Scalar(s) => scalar_array(*s, data_type),
    }
}

impl LazyArray {
    /// Converts to `data_type` with numpy's `astype` rules (floats to integers truncate and
    /// saturate, NaN becomes 0, non-zero becomes `true`). Free when the type already matches.
    pub fn astype(&self, data_type: DataType) -> LazyArray {
        if data_type == self.data_type() {
            return self.clone();
        }
        LazyArray::new(
            data_type,
            self.shape().to_vec(),
            self.node.grid.clone(),
            Op::Cast(self.clone()),
        )
    }

    /// Applies a one-operand function (see [`UnaryOp`] for the result types).
    ///
    /// # Errors
    /// [`crate::ErrorKind::TypeMismatch`] for a function numpy has no loop for on this type
    /// (`-`, `sign` of `bool`; `invert` of floats), or the deferred error of a failed array.
    pub fn unary(&self, op: UnaryOp) -> Result<LazyArray> {
        self.built()?;
        let t = self.data_type();
        let (input_type, output_type) = if op.is_float_function() {
            (float_type(t), float_type(t))
        } else if op.is_predicate() {
            (t, DataType::Bool)
        } else if op == UnaryOp::Invert && t.kind() == Kind::Float {
            return Err(type_mismatch(format!(
                "invert of a {t} array is not defined (numpy has no float loop for it)"
            )));
        } else if t == DataType::Bool {
            match op {
                UnaryOp::Neg => {
                    return Err(type_mismatch(
                        "negative of a bool array is not defined (numpy refuses it); use not",
                    ))
                }
                UnaryOp::Sign => {
                    return Err(type_mismatch(
                        "sign of a bool array is not defined (numpy has no bool loop for it)",
                    ))
                }
                UnaryOp::Square => (DataType::Int8, DataType::Int8),
                _ => (t, t),
            }
        } else {
            (t, t)
        };
        let input = self.astype(input_type);
        Ok(LazyArray::new(
            output_type,
            self.shape().to_vec(),
            self.node.grid.clone(),
            Op::Unary(op, input),
        ))
    }

    /// Applies a two-operand function with broadcasting: `a op b`, where either side may be
    /// a lazy array or a Rust number. The fallible form of the operators (`&a + &b`).
    ///
    /// # Errors
    /// [`crate::ErrorKind::ShapeMismatch`] for shapes that do not broadcast,
    /// [`crate::ErrorKind::OutOfBounds`] for an integer scalar the array's type cannot hold
    /// (numpy's `OverflowError`), [`crate::ErrorKind::TypeMismatch`] for an operation numpy
    /// refuses on these types (`bool - bool`, bitwise operations on floats, an integer to a
    /// negative integer power), or the deferred error of a failed operand.
    pub fn binary(
        op: BinaryOp,
        lhs: impl Into<Operand>,
        rhs: impl Into<Operand>,
    ) -> Result<LazyArray> {
        let (mut lhs, mut rhs) = (lhs.into(), rhs.into());
        lhs.built()?;
        rhs.built()?;
        if op.is_logical() {
            // Logical operations only look at truthiness: any number is a fine operand.
            for o in [&mut lhs, &mut rhs] {
                if let Operand::Scalar(s) = o {
                    *s = WeakScalar::Bool(match *s {
                        WeakScalar::Bool(b) => b,
                        WeakScalar::Int(v) => v != 0,
                        WeakScalar::Float(v) => v != 0.0,
                    });
                }
            }
        }
        if op.is_comparison() {
            if let Some(exact) = exact_integer_comparison(op, &lhs, &rhs)? {
                return Ok(exact);
            }
        }
        let common = common_type(&[&lhs, &rhs]);
        let compute = if op.is_logical() {
            DataType::Bool
        } else {
            match (op, common) {
                (BinaryOp::Div, t) if t.kind() != Kind::Float => DataType::Float64,
                (BinaryOp::Sub, DataType::Bool) => {
                    return Err(type_mismatch(
                        "subtracting bool arrays is not defined (numpy refuses it); use xor",
                    ))
                }
                (op, t) if op.is_float_function() => float_type(t),
                (op, t) if op.is_bitwise() && t.kind() == Kind::Float => {
                    return Err(type_mismatch(format!(
                        "{op:?} of {t} operands is not defined (numpy has no float loop for it)"
                    )))
                }
                (
                    BinaryOp::FloorDiv | BinaryOp::Rem | BinaryOp::Pow | BinaryOp::Fmod,
                    DataType::Bool,
                ) => DataType::Int8,
                (_, t) => t,
            }
        };
        if op == BinaryOp::Pow && compute.kind() == Kind::Signed {
            if let Operand::Scalar(WeakScalar::Int(e)) = rhs {
                if e < 0 {
                    return Err(negative_integer_power());
                }
            }
        }
        let a = materialize(&lhs, compute)?;
        let b = materialize(&rhs, compute)?;
        let shape = broadcast_shapes(&[a.shape(), b.shape()])?;
        let output = if op.is_predicate() {
            DataType::Bool
        } else {
            compute
        };
        let grid = elementwise_grid(&shape, &[&a, &b], output);
        Ok(LazyArray::new(output, shape, grid, Op::Binary(op, a, b)))
    }

    /// `numpy.where(cond, a, b)`: elements of `a` where `cond` is true (non-zero), else of
    /// `b`, broadcast together; `a` and `b` are promoted to a common type.
    ///
    /// # Errors
    /// Shapes that do not broadcast, a scalar out of bounds for the common type, or the
    /// deferred error of a failed operand.
    pub fn where_(
        cond: &LazyArray,
        a: impl Into<Operand>,
        b: impl Into<Operand>,
    ) -> Result<LazyArray> {
        let (a, b) = (a.into(), b.into());
        cond.built()?;
        a.built()?;
        b.built()?;
        let common = common_type(&[&a, &b]);
        let (a, b) = (materialize(&a, common)?, materialize(&b, common)?);
        let cond = cond.astype(DataType::Bool);
        let shape = broadcast_shapes(&[cond.shape(), a.shape(), b.shape()])?;
        let grid = elementwise_grid(&shape, &[&cond, &a, &b], common);
        Ok(LazyArray::new(common, shape, grid, Op::Where(cond, a, b)))
    }

    /// `numpy.clip`: `minimum(maximum(self, low), high)`.
    ///
    /// # Errors
    /// As [`LazyArray::binary`] for each bound.
    pub fn clip(&self, low: impl Into<Operand>, high: impl Into<Operand>) -> Result<LazyArray> {
        let lower = LazyArray::binary(BinaryOp::Maximum, self, low)?;
        LazyArray::binary(BinaryOp::Minimum, lower, high)
    }
}

/// The named elementwise functions, numpy's names. Arithmetic is written with operators
/// (`&a + &b`, `x * 2.0`, `-x`; see `ops.rs`); [`LazyArray::binary`] and [`LazyArray::unary`]
/// are the general forms.
impl LazyArray {
    /// `numpy.floor_divide`: `self // rhs`, rounded towards negative infinity. Broadcast, with numpy's promotion.
    ///
    /// # Errors
    /// Shapes that do not broadcast, or types the operation does not take.
    pub fn floor_divide(&self, rhs: impl Into<Operand>) -> Result<LazyArray> {
        LazyArray::binary(BinaryOp::FloorDiv, self, rhs)
    }

    /// `numpy.power`: `self ** rhs`. Broadcast, with numpy's promotion.
    ///
    /// # Errors
    /// Shapes that do not broadcast, or types the operation does not take.
    pub fn pow(&self, rhs: impl Into<Operand>) -> Result<LazyArray> {
        LazyArray::binary(BinaryOp::Pow, self, rhs)
    }

    /// `numpy.maximum`: the larger of each pair (NaN propagates). Broadcast, with numpy's promotion.
    ///
    /// # Errors
    /// Shapes that do not broadcast, or types the operation does not take.
    pub fn maximum(&self, rhs: impl Into<Operand>) -> Result<LazyArray> {
        LazyArray::binary(BinaryOp::Maximum, self, rhs)
    }

    /// `numpy.minimum`: the smaller of each pair (NaN propagates). Broadcast, with numpy's promotion.
    ///
    /// # Errors
    /// Shapes that do not broadcast, or types the operation does not take.
    pub fn minimum(&self, rhs: impl Into<Operand>) -> Result<LazyArray> {
        LazyArray::binary(BinaryOp::Minimum, self, rhs)
    }

    /// `numpy.equal`: `self == rhs` as `bool`. Broadcast, with numpy's promotion.
    ///
    /// # Errors
    /// Shapes that do not broadcast, or types the operation does not take.
    pub fn equal(&self, rhs: impl Into<Operand>) -> Result<LazyArray> {
        LazyArray::binary(BinaryOp::Eq, self, rhs)
    }

    /// `numpy.not_equal`: `self != rhs` as `bool`. Broadcast, with numpy's promotion.
    ///
    /// # Errors
    /// Shapes that do not broadcast, or types the operation does not take.
    pub fn not_equal(&self, rhs: impl Into<Operand>) -> Result<LazyArray> {
        LazyArray::binary(BinaryOp::Ne, self, rhs)
    }

    /// `numpy.less`: `self < rhs` as `bool`. Broadcast, with numpy's promotion.
    ///
    /// # Errors
    /// Shapes that do not broadcast, or types the operation does not take.
    pub fn less(&self, rhs: impl Into<Operand>) -> Result<LazyArray> {
        LazyArray::binary(BinaryOp::Lt, self, rhs)
    }

    /// `numpy.less_equal`: `self <= rhs` as `bool`. Broadcast, with numpy's promotion.
    ///
    /// # Errors
    /// Shapes that do not broadcast, or types the operation does not take.
    pub fn less_equal(&self, rhs: impl Into<Operand>) -> Result<LazyArray> {
        LazyArray::binary(BinaryOp::Le, self, rhs)
    }

    /// `numpy.greater`: `self > rhs` as `bool`. Broadcast, with numpy's promotion.
    ///
    /// # Errors
    /// Shapes that do not broadcast, or types the operation does not take.
    pub fn greater(&self, rhs: impl Into<Operand>) -> Result<LazyArray> {
        LazyArray::binary(BinaryOp::Gt, self, rhs)
    }

    /// `numpy.greater_equal`: `self >= rhs` as `bool`. Broadcast, with numpy's promotion.
    ///
    /// # Errors
    /// Shapes that do not broadcast, or types the operation does not take.
    pub fn greater_equal(&self, rhs: impl Into<Operand>) -> Result<LazyArray> {
        LazyArray::binary(BinaryOp::Ge, self, rhs)
    }

    /// `numpy.logical_and`: both non-zero, as `bool`. Broadcast, with numpy's promotion.
    ///
    /// # Errors
    /// Shapes that do not broadcast, or types the operation does not take.
    pub fn logical_and(&self, rhs: impl Into<Operand>) -> Result<LazyArray> {
        LazyArray::binary(BinaryOp::And, self, rhs)
    }

    /// `numpy.logical_or`: either non-zero, as `bool`. Broadcast, with numpy's promotion.
    ///
    /// # Errors
    /// Shapes that do not broadcast, or types the operation does not take.
    pub fn logical_or(&self, rhs: impl Into<Operand>) -> Result<LazyArray> {
        LazyArray::binary(BinaryOp::Or, self, rhs)
    }

    /// `numpy.logical_xor`: exactly one non-zero, as `bool`. Broadcast, with numpy's promotion.
    ///
    /// # Errors
    /// Shapes that do not broadcast, or types the operation does not take.
    pub fn logical_xor(&self, rhs: impl Into<Operand>) -> Result<LazyArray> {
        LazyArray::binary(BinaryOp::Xor, self, rhs)
    }

    /// `numpy.abs`: `|self|` (wrapping for the most negative integer, as numpy).
    ///
    /// # Errors
    /// A type the function does not take (see [`UnaryOp`]).
    pub fn abs(&self) -> Result<LazyArray> {
        self.unary(UnaryOp::Abs)
    }

    /// `numpy.sign`: -1, 0 or 1 (NaN stays NaN).
    ///
    /// # Errors
    /// A type the function does not take (see [`UnaryOp`]).
    pub fn sign(&self) -> Result<LazyArray> {
        self.unary(UnaryOp::Sign)
    }

    /// `numpy.square`: `self * self`.
    ///
    /// # Errors
    /// A type the function does not take (see [`UnaryOp`]).
    pub fn square(&self) -> Result<LazyArray> {
        self.unary(UnaryOp::Square)
    }

    /// `numpy.round`: to the nearest integer, halves to even.
    ///
    /// # Errors
    /// A type the function does not take (see [`UnaryOp`]).
    pub fn round(&self) -> Result<LazyArray> {
        self.unary(UnaryOp::Round)
    }

    /// `numpy.floor` (integers unchanged).
    ///
    /// # Errors
    /// A type the function does not take (see [`UnaryOp`]).
    pub fn floor(&self) -> Result<LazyArray> {
        self.unary(UnaryOp::Floor)
    }

    /// `numpy.ceil` (integers unchanged).
    ///
    /// # Errors
    /// A type the function does not take (see [`UnaryOp`]).
    pub fn ceil(&self) -> Result<LazyArray> {
        self.unary(UnaryOp::Ceil)
    }

    /// `numpy.trunc`: towards zero (integers unchanged).
    ///
    /// # Errors
    /// A type the function does not take (see [`UnaryOp`]).
    pub fn trunc(&self) -> Result<LazyArray> {
        self.unary(UnaryOp::Trunc)
    }

    /// `numpy.sqrt`, in floating point.
    ///
    /// # Errors
    /// A type the function does not take (see [`UnaryOp`]).
    pub fn sqrt(&self) -> Result<LazyArray> {
        self.unary(UnaryOp::Sqrt)
    }

    /// `numpy.exp`: `e^self`.
    ///
    /// # Errors
    /// A type the function does not take (see [`UnaryOp`]).
    pub fn exp(&self) -> Result<LazyArray> {
        self.unary(UnaryOp::Exp)
    }

    /// `numpy.expm1`: `e^self - 1`, exact near zero.
    ///
    /// # Errors
    /// A type the function does not take (see [`UnaryOp`]).
    pub fn expm1(&self) -> Result<LazyArray> {
        self.unary(UnaryOp::Expm1)
    }

    /// `numpy.log`: the natural logarithm.
    ///
    /// # Errors
    /// A type the function does not take (see [`UnaryOp`]).
    pub fn log(&self) -> Result<LazyArray> {
        self.unary(UnaryOp::Log)
    }

    /// `numpy.log2`: the base-2 logarithm.
    ///
    /// # Errors
    /// A type the function does not take (see [`UnaryOp`]).
    pub fn log2(&self) -> Result<LazyArray> {
        self.unary(UnaryOp::Log2)
    }

    /// `numpy.log10`: the base-10 logarithm.
    ///
    /// # Errors
    /// A type the function does not take (see [`UnaryOp`]).
    pub fn log10(&self) -> Result<LazyArray> {
        self.unary(UnaryOp::Log10)
    }

    /// `numpy.log1p`: `ln(1 + self)`, exact near zero.
    ///
    /// # Errors
    /// A type the function does not take (see [`UnaryOp`]).
    pub fn log1p(&self) -> Result<LazyArray> {
        self.unary(UnaryOp::Log1p)
    }

    /// `numpy.sin`.
    ///
    /// # Errors
    /// A type the function does not take (see [`UnaryOp`]).
    pub fn sin(&self) -> Result<LazyArray> {
        self.unary(UnaryOp::Sin)
    }

    /// `numpy.cos`.
    ///
    /// # Errors
    /// A type the function does not take (see [`UnaryOp`]).
    pub fn cos(&self) -> Result<LazyArray> {
        self.unary(UnaryOp::Cos)
    }

    /// `numpy.tan`.
    ///
    /// # Errors
    /// A type the function does not take (see [`UnaryOp`]).
    pub fn tan(&self) -> Result<LazyArray> {
        self.unary(UnaryOp::Tan)
    }

    /// `numpy.arcsin`.
    ///
    /// # Errors
    /// A type the function does not take (see [`UnaryOp`]).
    pub fn arcsin(&self) -> Result<LazyArray> {
        self.unary(UnaryOp::Arcsin)
    }

    /// `numpy.arccos`.
    ///
    /// # Errors
    /// A type the function does not take (see [`UnaryOp`]).
    pub fn arccos(&self) -> Result<LazyArray> {
        self.unary(UnaryOp::Arccos)
    }

    /// `numpy.arctan`.
    ///
    /// # Errors
    /// A type the function does not take (see [`UnaryOp`]).
    pub fn arctan(&self) -> Result<LazyArray> {
        self.unary(UnaryOp::Arctan)
    }

    /// `numpy.sinh`.
    ///
    /// # Errors
    /// A type the function does not take (see [`UnaryOp`]).
    pub fn sinh(&self) -> Result<LazyArray> {
        self.unary(UnaryOp::Sinh)
    }

    /// `numpy.cosh`.
    ///
    /// # Errors
    /// A type the function does not take (see [`UnaryOp`]).
    pub fn cosh(&self) -> Result<LazyArray> {
        self.unary(UnaryOp::Cosh)
    }

    /// `numpy.tanh`.
    ///
    /// # Errors
    /// A type the function does not take (see [`UnaryOp`]).
    pub fn tanh(&self) -> Result<LazyArray> {
        self.unary(UnaryOp::Tanh)
    }

    /// `numpy.logical_not`: zero, as `bool`.
    ///
    /// # Errors
    /// A type the function does not take (see [`UnaryOp`]).
    pub fn logical_not(&self) -> Result<LazyArray> {
        self.unary(UnaryOp::Not)
    }

    /// `numpy.isnan`, as `bool`.
    ///
    /// # Errors
    /// A type the function does not take (see [`UnaryOp`]).
    pub fn isnan(&self) -> Result<LazyArray> {
        self.unary(UnaryOp::IsNan)
    }

    /// `numpy.isfinite`, as `bool`.
    ///
    /// # Errors
    /// A type the function does not take (see [`UnaryOp`]).
    pub fn isfinite(&self) -> Result<LazyArray> {
        self.unary(UnaryOp::IsFinite)
    }

    /// `numpy.isinf`, as `bool`.
    ///
    /// # Errors
    /// A type the function does not take (see [`UnaryOp`]).
    pub fn isinf(&self) -> Result<LazyArray> {
        self.unary(UnaryOp::IsInf)
    }
}
