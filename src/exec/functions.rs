//! The one table of element functions: which function of an element each [`UnaryOp`] and
//! [`BinaryOp`] applies. The plain kernels (`kernels.rs`), the fused strip loops and the
//! linear-chain register loop (`fused.rs`) all run an operation through [`unary`] or
//! [`binary`], so they cannot disagree, and each `match` is exhaustive: an operation added
//! to the enums without a line here does not compile.
//!
//! Rust has no generic closures, so the table hands the function to a *loop* ([`UnaryLoop`],
//! [`BinaryLoop`]) rather than returning it: each arm calls the loop with its own function
//! type, and the loop is monomorphised for it (a tight loop per operation, the `match`
//! outside it), exactly as a closure written at the call site would be.
//!
//! The loop method an arm calls also says what kind of element function it is: `map` for
//! one that keeps the type and compiles to a few inline instructions, `call` for one that
//! keeps the type but calls out of line for floats (the maths library, `fmod` in `%` and
//! `//`), `test` for a predicate. (`Div` is `map`: integer arrays divide as floats, so only
//! its float form, one instruction, runs.) Loops that run one operation at a time treat
//! `call` as `map`; the linear-chain register loop (`fused.rs`) takes only `map`, because a
//! call in any arm of its step `match` makes LLVM take the vectors out of registers before
//! every step.

use crate::element::Num;
use crate::expr::{BinaryOp, UnaryOp};

/// A loop over elements of type `T` that runs a one-operand element function.
pub(crate) trait UnaryLoop<T>: Sized {
    /// What running the loop gives.
    type Output;
    /// Runs an operation whose result has the operand's type.
    fn map(self, f: impl Fn(T) -> T + Copy + Send + Sync) -> Self::Output;
    /// Runs an operation whose result has the operand's type and whose element function
    /// calls out of line for some element type; as [`UnaryLoop::map`] unless the loop says
    /// otherwise.
    #[inline(always)]
    fn call(self, f: impl Fn(T) -> T + Copy + Send + Sync) -> Self::Output {
        self.map(f)
    }
    /// Runs an operation whose result is `bool` (a predicate).
    fn test(self, f: impl Fn(T) -> bool + Copy + Send + Sync) -> Self::Output;
}

/// A loop over pairs of elements of type `T` that runs a two-operand element function.
pub(crate) trait BinaryLoop<T>: Sized {
    /// What running the loop gives.
    type Output;
    /// Runs an operation whose result has the operands' type.
    fn map(self, f: impl Fn(T, T) -> T + Copy + Send + Sync) -> Self::Output;
    /// Runs an operation whose result has the operands' type and whose element function
    /// calls out of line for some element type; as [`BinaryLoop::map`] unless the loop says
    /// otherwise.
    #[inline(always)]
    fn call(self, f: impl Fn(T, T) -> T + Copy + Send + Sync) -> Self::Output {
        self.map(f)
    }
    /// Runs an operation whose result is `bool` (a comparison or logical operation).
    fn test(self, f: impl Fn(T, T) -> bool + Copy + Send + Sync) -> Self::Output;
}

/// Runs `op`'s element function for `T` in `l`.
#[inline(always)]
pub(crate) fn unary<T: Num, L: UnaryLoop<T>>(op: UnaryOp, l: L) -> L::Output {
    match op {
        UnaryOp::Neg => l.map(T::neg),
        UnaryOp::Abs => l.map(T::abs),
        UnaryOp::Sign => l.map(T::sign),
        UnaryOp::Square => l.map(|v: T| v.mul(v)),
        UnaryOp::Round => l.map(T::round),
        UnaryOp::Floor => l.map(T::floor),
        UnaryOp::Ceil => l.map(T::ceil),
        UnaryOp::Trunc => l.map(T::trunc),
        UnaryOp::Sqrt => l.map(T::sqrt),
        UnaryOp::Exp => l.call(T::exp),
        UnaryOp::Expm1 => l.call(T::exp_m1),
        UnaryOp::Log => l.call(T::ln),
        UnaryOp::Log2 => l.call(T::log2),
        UnaryOp::Log10 => l.call(T::log10),
        UnaryOp::Log1p => l.call(T::ln_1p),
        UnaryOp::Sin => l.call(T::sin),
        UnaryOp::Cos => l.call(T::cos),
        UnaryOp::Tan => l.call(T::tan),
        UnaryOp::Arcsin => l.call(T::asin),
        UnaryOp::Arccos => l.call(T::acos),
        UnaryOp::Arctan => l.call(T::atan),
        UnaryOp::Sinh => l.call(T::sinh),
        UnaryOp::Cosh => l.call(T::cosh),
        UnaryOp::Tanh => l.call(T::tanh),
        UnaryOp::Not => l.test(|v: T| !v.truthy()),
        UnaryOp::IsNan => l.test(T::is_nan),
        UnaryOp::IsFinite => l.test(T::is_finite),
        UnaryOp::IsInf => l.test(T::is_infinite),
        UnaryOp::Invert => l.map(T::invert),
    }
}

/// Runs `op`'s element function for `T` in `l`.
#[inline(always)]
pub(crate) fn binary<T: Num, L: BinaryLoop<T>>(op: BinaryOp, l: L) -> L::Output {
    match op {
        BinaryOp::Add => l.map(T::add),
        BinaryOp::Sub => l.map(T::sub),
        BinaryOp::Mul => l.map(T::mul),
        BinaryOp::Div => l.map(T::div),
        BinaryOp::FloorDiv => l.call(T::floor_div),
        BinaryOp::Rem => l.call(T::rem),
        BinaryOp::Pow => l.call(T::pow),
        BinaryOp::Maximum => l.map(T::maximum),
        BinaryOp::Minimum => l.map(T::minimum),
        BinaryOp::Eq => l.test(|x: T, y: T| x == y),
        BinaryOp::Ne => l.test(|x: T, y: T| x != y),
        BinaryOp::Lt => l.test(|x: T, y: T| x < y),
        BinaryOp::Le => l.test(|x: T, y: T| x <= y),
        BinaryOp::Gt => l.test(|x: T, y: T| x > y),
        BinaryOp::Ge => l.test(|x: T, y: T| x >= y),
        BinaryOp::And => l.test(|x: T, y: T| x.truthy() && y.truthy()),
        BinaryOp::Or => l.test(|x: T, y: T| x.truthy() || y.truthy()),
        BinaryOp::Xor => l.test(|x: T, y: T| x.truthy() != y.truthy()),
        BinaryOp::Arctan2 => l.call(T::atan2),
        BinaryOp::Hypot => l.call(T::hypot),
        BinaryOp::Fmod => l.call(T::fmod),
        BinaryOp::BitAnd => l.map(T::bit_and),
        BinaryOp::BitOr => l.map(T::bit_or),
        BinaryOp::BitXor => l.map(T::bit_xor),
    }
}

/// Which loop method the table gives an operation's element function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Function {
    /// A few inline instructions, result of the operand's type (`map`).
    Map,
    /// A call out of line for floats, result of the operand's type (`call`).
    Call,
    /// A predicate: the result is `bool` (`test`).
    Test,
}

/// The probe loop: which [`Function`] an operation has (runs nothing).
pub(crate) struct Probe;

impl<T> UnaryLoop<T> for Probe {
    type Output = Function;
    fn map(self, _: impl Fn(T) -> T + Copy + Send + Sync) -> Function {
        Function::Map
    }
    fn call(self, _: impl Fn(T) -> T + Copy + Send + Sync) -> Function {
        Function::Call
    }
    fn test(self, _: impl Fn(T) -> bool + Copy + Send + Sync) -> Function {
        Function::Test
    }
}

impl<T> BinaryLoop<T> for Probe {
    type Output = Function;
    fn map(self, _: impl Fn(T, T) -> T + Copy + Send + Sync) -> Function {
        Function::Map
    }
    fn call(self, _: impl Fn(T, T) -> T + Copy + Send + Sync) -> Function {
        Function::Call
    }
    fn test(self, _: impl Fn(T, T) -> bool + Copy + Send + Sync) -> Function {
        Function::Test
    }
}
