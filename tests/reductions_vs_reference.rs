//! Every reduction of the lazy-array engine checked against a plain serial reference written
//! here (loops over ndarray arrays, numpy's semantics), independent of the engine:
//!
//! - a property test per data type over random shapes (0 to 4 axes, empty and length-1 axes),
//!   random block shapes (edge blocks), random axis subsets (negative, shuffled, none, all),
//!   keepdims, and values with NaN, infinities and ties; results are also bit-identical
//!   whatever the number of blocks in flight;
//! - full reductions (all axes) of stored arrays, answered from the statistics sidecar for
//!   whole chunks by default, and by scanning the data;
//! - directed cases: NaN propagation, all-NaN and empty slices, errors (not panics) for bad
//!   axes, keepdims shapes, integer wrapping, infinities;
//! - accuracy: long `float32` and `float64` sums, variance of data with a large mean.

use std::fmt::Debug;
use std::panic::{catch_unwind, AssertUnwindSafe};

use outcore::ndarray::{ArrayD, Axis, IxDyn};
use outcore::{with_element_type, ArraySpec, Axes, DataType, Element, LazyArray, ReduceOp, Store};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use rand::{Rng, SeedableRng};

// ---------------------------------------------------------------------------------------
// Values: one comparable form for every result type, and the element types' reference views.

/// One result element, whatever its type.
#[derive(Debug, Clone, Copy, PartialEq)]
enum V {
    F(f64),
    I(i64),
    U(u64),
    B(bool),
}

impl V {
    /// Bitwise identity (NaN payloads and signed zeros included).
    fn same_bits(self, other: V) -> bool {
        match (self, other) {
            (V::F(a), V::F(b)) => a.to_bits() == b.to_bits(),
            (a, b) => a == b,
        }
    }
}

/// The four kinds of element, as the reference sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Bool,
    Signed,
    Unsigned,
    Float,
}

/// An element type seen by the reference: its value as `f64`, its 64-bit two's complement
/// widening, whether it is NaN or non-zero, and values generated from small codes.
trait Val: Element + Copy + PartialOrd + Debug + Send + Sync + 'static {
    const CLASS: Class;
    fn f(self) -> f64;
    fn nan(self) -> bool;
    /// Sign-extended (signed, bool) or zero-extended (unsigned) bits; floats never use it.
    fn wide(self) -> u64;
    fn nonzero(self) -> bool;
    fn v(self) -> V;
    /// The value for a code: shrinking the code to 0 shrinks to the first value of a pool of
    /// small values, extremes and duplicates; below `special` (floats) a NaN or an infinity
    /// (all NaN when `special` is 256).
    fn from_code(code: u8, special: u16) -> Self;
}

macro_rules! val_int {
    ($t:ty, $class:expr, $v:ident, $pool:expr) => {
        impl Val for $t {
            const CLASS: Class = $class;
            fn f(self) -> f64 {
                self as f64
            }
            fn nan(self) -> bool {
                false
            }
            #[allow(clippy::unnecessary_cast)]
            fn wide(self) -> u64 {
                match $class {
                    Class::Unsigned => self as u64,
                    _ => self as i64 as u64,
                }
            }
            fn nonzero(self) -> bool {
                self != 0
            }
            #[allow(clippy::unnecessary_cast)]
            fn v(self) -> V {
                V::$v(self as _)
            }
            fn from_code(code: u8, _: u16) -> Self {
                const POOL: &[$t] = &$pool;
                POOL[code as usize % POOL.len()]
            }
        }
    };
}

val_int!(
    i8,
    Class::Signed,
    I,
    [0, 1, -1, 2, -2, 127, -128, 3, -3, 100, -100]
);
val_int!(
    i16,
    Class::Signed,
    I,
    [0, 1, -1, 2, -2, i16::MAX, i16::MIN, 3, -3, 1000]
);
val_int!(
    i32,
    Class::Signed,
    I,
    [0, 1, -1, 2, -2, i32::MAX, i32::MIN, 3, -3, 65536, -7]
);
val_int!(
    i64,
    Class::Signed,
    I,
    [
        0,
        1,
        -1,
        2,
        -2,
        i64::MAX,
        i64::MIN,
        i64::MAX - 1,
        1 << 40,
        -(1 << 40),
        3,
        -3,
        7
    ]
);
val_int!(u8, Class::Unsigned, U, [0, 1, 2, 3, 255, 254, 128, 7, 100]);
val_int!(u16, Class::Unsigned, U, [0, 1, 2, 3, u16::MAX, 1000, 7]);
val_int!(u32, Class::Unsigned, U, [0, 1, 2, 3, u32::MAX, 1 << 31, 7]);
val_int!(
    u64,
    Class::Unsigned,
    U,
    [0, 1, 2, 3, u64::MAX, u64::MAX - 1, 1 << 63, 7, 1 << 40]
);

impl Val for bool {
    const CLASS: Class = Class::Bool;
    fn f(self) -> f64 {
        f64::from(u8::from(self))
    }
    fn nan(self) -> bool {
        false
    }
    fn wide(self) -> u64 {
        u64::from(self)
    }
    fn nonzero(self) -> bool {
        self
    }
    fn v(self) -> V {
        V::B(self)
    }
    fn from_code(code: u8, _: u16) -> Self {
        code % 2 == 1
    }
}

/// Float values: multiples of 1/4 no larger than 4 in magnitude, so sums and means are exact
/// in any order, with log-magnitudes balanced so that products stay far from overflow.
const FLOAT_POOL: [f64; 13] = [
    1.0, 0.0, -1.0, 0.5, 2.0, -2.0, 0.25, -0.5, 4.0, -0.25, 1.5, -4.0, -0.75,
];

fn float_from_code(code: u8, special: u16) -> f64 {
    if u16::from(code) < special {
        if special == 256 || code % 8 < 6 {
            return f64::NAN;
        }
        return if code % 8 == 6 {
            f64::INFINITY
        } else {
            f64::NEG_INFINITY
        };
    }
    FLOAT_POOL[code as usize % FLOAT_POOL.len()]
}

macro_rules! val_float {
    ($t:ty) => {
        impl Val for $t {
            const CLASS: Class = Class::Float;
            fn f(self) -> f64 {
                self as f64
            }
            fn nan(self) -> bool {
                self.is_nan()
            }
            fn wide(self) -> u64 {
                unreachable!("floats do not widen to integers")
            }
            fn nonzero(self) -> bool {
                self != 0.0
            }
            fn v(self) -> V {
                V::F(self as f64)
            }
            fn from_code(code: u8, special: u16) -> Self {
                float_from_code(code, special) as $t
            }
        }
    };
}

val_float!(f32);
val_float!(f64);

fn class_of(dt: DataType) -> Class {
    match dt {
        DataType::Bool => Class::Bool,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => Class::Signed,
        DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => Class::Unsigned,
        _ => Class::Float,
    }
}

// ---------------------------------------------------------------------------------------
// The reductions under test.

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Sum,
    Prod,
    Mean,
    Min,
    Max,
    ArgMin,
    ArgMax,
    Any,
    All,
    CountNonzero,
    NanSum,
    NanProd,
    NanMean,
    NanMin,
    NanMax,
    NanArgMin,
    NanArgMax,
    Var(f64),
    Std(f64),
    NanVar(f64),
    NanStd(f64),
}

/// Every reduction; the moments with `ddof`.
fn all_ops(ddof: f64) -> Vec<Op> {
    use Op::*;
    vec![
        Sum,
        Prod,
        Mean,
        Min,
        Max,
        ArgMin,
        ArgMax,
        Any,
        All,
        CountNonzero,
        NanSum,
        NanProd,
        NanMean,
        NanMin,
        NanMax,
        NanArgMin,
        NanArgMax,
        Var(ddof),
        Std(ddof),
        NanVar(ddof),
        NanStd(ddof),
    ]
}

impl Op {
    fn is_arg(self) -> bool {
        matches!(
            self,
            Op::ArgMin | Op::ArgMax | Op::NanArgMin | Op::NanArgMax
        )
    }

    /// numpy's reductions without an identity: a zero-length reduced axis is an error.
    fn has_no_identity(self) -> bool {
        self.is_arg() || matches!(self, Op::Min | Op::Max | Op::NanMin | Op::NanMax)
    }

    /// The engine's generic form.
    fn reduce_op(self) -> ReduceOp {
        match self {
            Op::Sum => ReduceOp::Sum,
            Op::Prod => ReduceOp::Prod,
            Op::Mean => ReduceOp::Mean,
            Op::Min => ReduceOp::Min,
            Op::Max => ReduceOp::Max,
            Op::ArgMin => ReduceOp::ArgMin,
            Op::ArgMax => ReduceOp::ArgMax,
            Op::Any => ReduceOp::Any,
            Op::All => ReduceOp::All,
            Op::CountNonzero => ReduceOp::CountNonzero,
            Op::NanSum => ReduceOp::NanSum,
            Op::NanProd => ReduceOp::NanProd,
            Op::NanMean => ReduceOp::NanMean,
            Op::NanMin => ReduceOp::NanMin,
            Op::NanMax => ReduceOp::NanMax,
            Op::NanArgMin => ReduceOp::NanArgMin,
            Op::NanArgMax => ReduceOp::NanArgMax,
            Op::Var(ddof) => ReduceOp::Var { ddof },
            Op::Std(ddof) => ReduceOp::Std { ddof },
            Op::NanVar(ddof) => ReduceOp::NanVar { ddof },
            Op::NanStd(ddof) => ReduceOp::NanStd { ddof },
        }
    }

    /// Through the named method.
    fn apply(self, x: &LazyArray, axes: impl Into<Axes>) -> outcore::Result<LazyArray> {
        let axes: Axes = axes.into();
        match self {
            Op::Sum => x.sum(axes),
            Op::Prod => x.prod(axes),
            Op::Mean => x.mean(axes),
            Op::Min => x.min(axes),
            Op::Max => x.max(axes),
            Op::ArgMin => x.argmin(axes),
            Op::ArgMax => x.argmax(axes),
            Op::Any => x.any(axes),
            Op::All => x.all(axes),
            Op::CountNonzero => x.count_nonzero(axes),
            Op::NanSum => x.nansum(axes),
            Op::NanProd => x.nanprod(axes),
            Op::NanMean => x.nanmean(axes),
            Op::NanMin => x.nanmin(axes),
            Op::NanMax => x.nanmax(axes),
            Op::NanArgMin => x.nanargmin(axes),
            Op::NanArgMax => x.nanargmax(axes),
            Op::Var(d) => x.var(axes, d),
            Op::Std(d) => x.std(axes, d),
            Op::NanVar(d) => x.nanvar(axes, d),
            Op::NanStd(d) => x.nanstd(axes, d),
        }
    }

    /// numpy's result type for an input of type `dt`.
    fn result_type(self, dt: DataType) -> DataType {
        use Op::*;
        let class = class_of(dt);
        match self {
            Sum | Prod | NanSum | NanProd => match class {
                Class::Bool | Class::Signed => DataType::Int64,
                Class::Unsigned => DataType::UInt64,
                Class::Float => dt,
            },
            Mean | NanMean | Var(_) | Std(_) | NanVar(_) | NanStd(_) => match class {
                Class::Float => dt,
                _ => DataType::Float64,
            },
            Min | Max | NanMin | NanMax => dt,
            ArgMin | ArgMax | NanArgMin | NanArgMax | CountNonzero => DataType::Int64,
            Any | All => DataType::Bool,
        }
    }

    /// Relative tolerance for float results (exact for selections).
    fn rtol(self, out: DataType) -> f64 {
        match self {
            Op::Min | Op::Max | Op::NanMin | Op::NanMax => 0.0,
            _ if out == DataType::Float32 => 1e-5,
            _ => 1e-9,
        }
    }
}

// ---------------------------------------------------------------------------------------
// The reference: gather each output's slice in C order, reduce it with a plain loop.

/// The slices of `a` reduced over `axes` (sorted, distinct), one per output element in C
/// order; each slice in C order of the reduced axes, so its position is the arg index
/// (one axis: the index along it; all axes: the flat index).
fn slices<T: Val>(a: &ArrayD<T>, axes: &[usize]) -> Vec<Vec<T>> {
    let kept: Vec<usize> = (0..a.ndim()).filter(|d| !axes.contains(d)).collect();
    let n_out: usize = kept.iter().map(|&d| a.shape()[d]).product();
    let mut out = vec![Vec::new(); n_out];
    for (index, &v) in a.indexed_iter() {
        let o = kept
            .iter()
            .fold(0usize, |acc, &d| acc * a.shape()[d] + index[d]);
        out[o].push(v);
    }
    out
}

/// The result shape (numpy's, with or without keepdims).
fn out_shape(shape: &[usize], axes: &[usize], keepdims: bool) -> Vec<usize> {
    (0..shape.len())
        .filter_map(|d| match (axes.contains(&d), keepdims) {
            (false, _) => Some(shape[d]),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect()
}

/// Rounds a float result to its result type.
fn to_type(x: f64, out: DataType) -> f64 {
    if out == DataType::Float32 {
        x as f32 as f64
    } else {
        x
    }
}

/// One expected element: the value, and for float results the magnitude its rounding
/// error is relative to.
type Expected = (V, f64);

/// Reduces one slice as numpy does; `Err` for numpy's errors.
fn reduce_slice<T: Val>(op: Op, s: &[T], out: DataType) -> Result<Expected, String> {
    use Op::*;
    let float = T::CLASS == Class::Float;
    let skip = matches!(
        op,
        NanSum | NanProd | NanMean | NanMin | NanMax | NanArgMin | NanArgMax
    ) || matches!(op, NanVar(_) | NanStd(_));
    // The values taking part, as f64 (NaN skipped by the nan forms).
    let vals: Vec<f64> = s
        .iter()
        .filter(|v| !(skip && v.nan()))
        .map(|v| v.f())
        .collect();
    let int_out = |acc: u64| match T::CLASS {
        Class::Unsigned => V::U(acc),
        _ => V::I(acc as i64),
    };
    Ok(match op {
        Sum | NanSum if float => {
            let sum: f64 = vals.iter().sum();
            (V::F(to_type(sum, out)), vals.iter().map(|x| x.abs()).sum())
        }
        Sum | NanSum => (
            int_out(s.iter().fold(0u64, |a, v| a.wrapping_add(v.wide()))),
            0.0,
        ),
        Prod | NanProd if float => {
            let p: f64 = vals.iter().product();
            (V::F(to_type(p, out)), p.abs())
        }
        Prod | NanProd => (
            int_out(s.iter().fold(1u64, |a, v| a.wrapping_mul(v.wide()))),
            0.0,
        ),
        Mean | NanMean => {
            let n = vals.len() as f64;
            let sum: f64 = vals.iter().sum();
            let abs: f64 = vals.iter().map(|x| x.abs()).sum();
            (
                V::F(to_type(sum / n, out)),
                if n > 0.0 { abs / n } else { 0.0 },
            )
        }
        Min | Max | NanMin | NanMax => {
            if s.is_empty() {
                return Err("zero-size array to reduction operation without identity".into());
            }
            let max = matches!(op, Max | NanMax);
            if !skip && s.iter().any(|v| v.nan()) {
                return Ok((V::F(f64::NAN), 0.0));
            }
            let mut best: Option<T> = None;
            for &v in s.iter().filter(|v| !v.nan()) {
                let better = match best {
                    None => true,
                    Some(b) => (max && v > b) || (!max && v < b),
                };
                if better {
                    best = Some(v);
                }
            }
            match best {
                None => (V::F(f64::NAN), 0.0), // all NaN, nan forms
                Some(b) => (b.v(), 0.0),
            }
        }
        ArgMin | ArgMax | NanArgMin | NanArgMax => {
            if s.is_empty() {
                return Err("attempt to get argmin/argmax of an empty sequence".into());
            }
            let max = matches!(op, ArgMax | NanArgMax);
            if !skip {
                if let Some(i) = s.iter().position(|v| v.nan()) {
                    return Ok((V::I(i as i64), 0.0));
                }
            }
            let mut best: Option<(usize, T)> = None;
            for (i, &v) in s.iter().enumerate().filter(|(_, v)| !v.nan()) {
                let better = match best {
                    None => true,
                    Some((_, b)) => (max && v > b) || (!max && v < b),
                };
                if better {
                    best = Some((i, v));
                }
            }
            match best {
                None => return Err("All-NaN slice encountered".into()),
                Some((i, _)) => (V::I(i as i64), 0.0),
            }
        }
        Any => (V::B(s.iter().any(|v| v.nonzero())), 0.0),
        All => (V::B(s.iter().all(|v| v.nonzero())), 0.0),
        CountNonzero => (V::I(s.iter().filter(|v| v.nonzero()).count() as i64), 0.0),
        Var(ddof) | Std(ddof) | NanVar(ddof) | NanStd(ddof) => {
            // Two passes: the mean, then squared deviations; divisor max(n - ddof, 0), except
            // that numpy's nanvar gives NaN wherever n - ddof <= 0.
            let n = vals.len() as f64;
            let mean = vals.iter().sum::<f64>() / n;
            let m2: f64 = vals.iter().map(|x| (x - mean) * (x - mean)).sum();
            let divisor = (n - ddof).max(0.0);
            let var = if matches!(op, NanVar(_) | NanStd(_)) && divisor == 0.0 {
                f64::NAN
            } else {
                m2 / divisor
            };
            let sq: f64 = vals.iter().map(|x| x * x).sum();
            let scale = if divisor > 0.0 { sq / divisor } else { 0.0 };
            if matches!(op, Std(_) | NanStd(_)) {
                (V::F(to_type(var.sqrt(), out)), scale.sqrt())
            } else {
                (V::F(to_type(var, out)), scale)
            }
        }
    })
}

/// The reference reduction: the result shape and values, or `Err` when numpy raises.
fn reference<T: Val>(slices: &[Vec<T>], op: Op, out: DataType) -> Result<Vec<Expected>, String> {
    slices.iter().map(|s| reduce_slice(op, s, out)).collect()
}

/// Whether `got` matches `want` (NaN equals NaN, infinities equal with their sign, finite
/// floats within `rtol` of `max(|want|, scale)`; everything else exactly).
fn matches(got: V, want: Expected, rtol: f64) -> bool {
    match (got, want.0) {
        (V::F(g), V::F(w)) => {
            if g.is_nan() || w.is_nan() {
                g.is_nan() && w.is_nan()
            } else if g.is_infinite() || w.is_infinite() {
                g == w
            } else {
                (g - w).abs() <= rtol * w.abs().max(want.1)
            }
        }
        (g, w) => g == w,
    }
}

// ---------------------------------------------------------------------------------------
// The engine side.

/// How to evaluate.
#[derive(Debug, Clone, Copy)]
enum Mode {
    Default,
    OneInFlight,
    ThreeInFlight,
    ScanData,
}

fn fetch<U: Val>(y: &LazyArray, mode: Mode) -> outcore::Result<(Vec<usize>, Vec<V>)> {
    let c = y.compute();
    let a = match mode {
        Mode::Default => c.to_ndarray::<U>()?,
        Mode::OneInFlight => c.scan_data().max_blocks_in_flight(1).to_ndarray::<U>()?,
        Mode::ThreeInFlight => c.max_blocks_in_flight(3).to_ndarray::<U>()?,
        Mode::ScanData => c.scan_data().to_ndarray::<U>()?,
    };
    Ok((a.shape().to_vec(), a.iter().map(|v| v.v()).collect()))
}

/// Evaluates `y` (of whatever result type) into comparable values.
fn evaluate(y: &LazyArray, mode: Mode) -> outcore::Result<(Vec<usize>, Vec<V>)> {
    with_element_type!(y.data_type(), U => fetch::<U>(y, mode))
}

/// Runs `f`, turning a panic into a test failure that says so (errors must be `Err`).
fn no_panic<R>(what: &str, f: impl FnOnce() -> R) -> R {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(e) => {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{what}: the engine panicked instead of returning a value or Err: {msg}")
        }
    }
}

// ---------------------------------------------------------------------------------------
// The property test.

/// Which axes a case reduces over.
#[derive(Debug, Clone)]
enum AxesChoice {
    All,
    /// As given to `Axes::of` (some negative, any order).
    Of(Vec<i64>),
}

impl AxesChoice {
    fn axes(&self, keepdims: bool) -> Axes {
        let a = match self {
            AxesChoice::All => Axes::all(),
            AxesChoice::Of(v) => Axes::of(v),
        };
        if keepdims {
            a.keepdims()
        } else {
            a
        }
    }

    /// The reduced axes, normalized and sorted.
    fn normalized(&self, ndim: usize) -> Vec<usize> {
        let mut v: Vec<usize> = match self {
            AxesChoice::All => (0..ndim).collect(),
            AxesChoice::Of(v) => v
                .iter()
                .map(|&a| if a < 0 { a + ndim as i64 } else { a } as usize)
                .collect(),
        };
        v.sort_unstable();
        v
    }
}

#[derive(Debug, Clone)]
struct Case {
    shape: Vec<usize>,
    chunks: Vec<u64>,
    codes: Vec<u8>,
    /// Codes below this are NaN or infinities (floats); 256: every value is NaN.
    special: u16,
    axes: AxesChoice,
    keepdims: bool,
    ddof: f64,
}

fn extent() -> impl Strategy<Value = usize> {
    prop_oneof![1 => Just(0usize), 2 => Just(1usize), 7 => 2usize..=9]
}

fn case(max_ndim: usize) -> impl Strategy<Value = Case> {
    prop::collection::vec(extent(), 0..=max_ndim).prop_flat_map(|shape| {
        let n: usize = shape.iter().product();
        let nd = shape.len();
        let chunks: Vec<_> = shape.iter().map(|&e| 1u64..=e as u64 + 1).collect();
        (
            Just(shape),
            chunks,
            prop::collection::vec(any::<u8>(), n),
            prop_oneof![Just(0u16), Just(24), Just(128), Just(256)],
            prop::collection::vec(any::<bool>(), nd),
            prop::collection::vec(any::<bool>(), nd),
            Just((0..nd).collect::<Vec<usize>>()).prop_shuffle(),
            prop::bool::weighted(0.2),
            any::<bool>(),
            prop_oneof![Just(0.0), Just(1.0), Just(0.5), Just(2.0)],
        )
            .prop_map(
                |(shape, chunks, codes, special, mask, neg, order, all, keepdims, ddof)| {
                    let nd = shape.len() as i64;
                    let axes = if all {
                        AxesChoice::All
                    } else {
                        AxesChoice::Of(
                            order
                                .iter()
                                .filter(|&&d| mask[d])
                                .map(|&d| if neg[d] { d as i64 - nd } else { d as i64 })
                                .collect(),
                        )
                    };
                    Case {
                        shape,
                        chunks,
                        codes,
                        special,
                        axes,
                        keepdims,
                        ddof,
                    }
                },
            )
    })
}

fn input_of<T: Val>(case: &Case) -> ArrayD<T> {
    let values: Vec<T> = case
        .codes
        .iter()
        .map(|&c| T::from_code(c, case.special))
        .collect();
    ArrayD::from_shape_vec(IxDyn(&case.shape), values).unwrap()
}

/// Checks one reduction of `x` (holding `a`) against the reference, in `modes` (results
/// bit-identical across them).
#[allow(clippy::too_many_arguments)]
fn check_op<T: Val>(
    x: &LazyArray,
    a: &ArrayD<T>,
    slices: &[Vec<T>],
    op: Op,
    choice: &AxesChoice,
    keepdims: bool,
    modes: &[Mode],
    what: &str,
) -> Result<(), TestCaseError> {
    let ndim = a.ndim();
    let axes = choice.normalized(ndim);
    let out_type = op.result_type(T::DATA_TYPE);
    let shape = out_shape(a.shape(), &axes, keepdims);
    let what = format!("{what} {op:?} over {choice:?} keepdims={keepdims}");
    if op.is_arg() && axes.len() > 1 && axes.len() != ndim {
        // numpy: arg reductions take one axis or all of them.
        let r = no_panic(&what, || {
            op.apply(x, choice.axes(keepdims))
                .and_then(|y| evaluate(&y, Mode::Default))
        });
        prop_assert!(
            r.is_err(),
            "{what}: arg reduction over {axes:?} should be Err"
        );
        return Ok(());
    }
    let y = match op.apply(x, choice.axes(keepdims)) {
        Ok(y) => y,
        Err(e) => return Err(TestCaseError::fail(format!("{what}: Err building: {e}"))),
    };
    prop_assert_eq!(y.data_type(), out_type, "{}: result type", &what);
    let lazy_shape: Vec<usize> = y.shape().iter().map(|&n| n as usize).collect();
    prop_assert_eq!(&lazy_shape, &shape, "{}: lazy shape", &what);
    let want = reference(slices, op, out_type);
    // numpy raises for a zero-length reduced axis without identity even when the result is
    // empty; the engine returns the empty result. Tested (and reported) on its own in
    // `empty_reduced_axis_without_identity_is_an_error_even_for_an_empty_result`.
    let numpy_empty_axis_error = op.has_no_identity() && axes.iter().any(|&d| a.shape()[d] == 0);
    let empty_result = shape.iter().product::<usize>() == 0;
    let mut first: Option<Vec<V>> = None;
    for &mode in modes {
        let got = evaluate(&y, mode);
        match (&got, &want) {
            (Err(_), _) if numpy_empty_axis_error && empty_result => {}
            (Err(_), Err(_)) => {}
            (Ok((_, g)), Err(w)) if !(numpy_empty_axis_error && empty_result) => {
                return Err(TestCaseError::fail(format!(
                    "{what} ({mode:?}): expected Err ({w}), got Ok({g:?})"
                )));
            }
            (Ok(_), Err(_)) => {}
            (Err(e), Ok(w)) => {
                return Err(TestCaseError::fail(format!(
                    "{what} ({mode:?}): expected {w:?}, got Err({e})"
                )));
            }
            (Ok((gs, g)), Ok(w)) => {
                prop_assert_eq!(gs, &shape, "{} ({:?}): shape", &what, mode);
                prop_assert_eq!(g.len(), w.len());
                let rtol = op.rtol(out_type);
                for (i, (&gv, &wv)) in g.iter().zip(w).enumerate() {
                    prop_assert!(
                        matches(gv, wv, rtol),
                        "{} ({:?}): element {} is {:?}, reference {:?} (scale {})\ninput {:?}",
                        &what,
                        mode,
                        i,
                        gv,
                        wv.0,
                        wv.1,
                        a
                    );
                }
            }
        }
        match (&first, got) {
            (None, Ok((_, g))) => first = Some(g),
            (Some(f), Ok((_, g))) => prop_assert!(
                f.len() == g.len() && f.iter().zip(&g).all(|(a, b)| a.same_bits(*b)),
                "{} ({:?}): not bit-identical to the first mode: {:?} vs {:?}",
                &what,
                mode,
                f,
                g
            ),
            _ => {}
        }
    }
    Ok(())
}

fn check_case<T: Val>(case: &Case) -> Result<(), TestCaseError> {
    let a = input_of::<T>(case);
    let x = LazyArray::from_array(a.clone(), &case.chunks).unwrap();
    let ndim = case.shape.len();
    let axes = case.axes.normalized(ndim);
    let s = slices(&a, &axes);
    let what = format!(
        "{} shape {:?} chunks {:?}",
        T::DATA_TYPE,
        case.shape,
        case.chunks
    );
    for op in all_ops(case.ddof) {
        // numpy: an arg reduction over `axis=()` is a TypeError; tested on its own in
        // `arg_reduction_over_no_axes_is_an_error`.
        if op.is_arg() && axes.is_empty() && ndim > 0 {
            continue;
        }
        check_op(
            &x,
            &a,
            &s,
            op,
            &case.axes,
            case.keepdims,
            &[Mode::Default, Mode::OneInFlight, Mode::ThreeInFlight],
            &what,
        )?;
    }
    Ok(())
}

macro_rules! property_per_type {
    ($($name:ident: $t:ty, $cases:expr;)*) => {
        $(
            proptest! {
                #![proptest_config(ProptestConfig::with_cases($cases))]
                #[test]
                fn $name(case in case(4)) {
                    check_case::<$t>(&case)?;
                }
            }
        )*
    };
}

property_per_type! {
    every_reduction_matches_reference_f64: f64, 128;
    every_reduction_matches_reference_f32: f32, 96;
    every_reduction_matches_reference_i64: i64, 96;
    every_reduction_matches_reference_i32: i32, 64;
    every_reduction_matches_reference_u8: u8, 64;
    every_reduction_matches_reference_bool: bool, 64;
    every_reduction_matches_reference_u64: u64, 48;
    every_reduction_matches_reference_i8: i8, 32;
    every_reduction_matches_reference_i16: i16, 24;
    every_reduction_matches_reference_u16: u16, 24;
    every_reduction_matches_reference_u32: u32, 24;
}

// ---------------------------------------------------------------------------------------
// Stored arrays: full reductions may answer whole chunks from the statistics sidecar.

/// Full reductions only (the sidecar answers nothing else): `case.axes` and
/// `case.keepdims` are not used, both keepdims forms are checked.
fn check_stored<T: Val>(case: &Case) -> Result<(), TestCaseError> {
    let a = input_of::<T>(case);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("s.zarr")).unwrap();
    let shape: Vec<u64> = case.shape.iter().map(|&n| n as u64).collect();
    let spec = ArraySpec::new(T::DATA_TYPE, &shape).chunks(&case.chunks);
    let writer = store.create_array("a", &spec).unwrap();
    writer.write_array(a.view()).unwrap();
    let array = writer.finish().unwrap();
    prop_assert!(array.stats().unwrap().is_some(), "the sidecar was written");
    let x = LazyArray::from_stored(&array);
    let axes = (0..a.ndim()).collect::<Vec<_>>();
    let s = slices(&a, &axes);
    let what = format!(
        "stored {} shape {:?} chunks {:?}",
        T::DATA_TYPE,
        case.shape,
        case.chunks
    );
    for op in all_ops(case.ddof) {
        for keepdims in [false, true] {
            // Default execution may use the sidecar; scanning may not. Both match the
            // reference (bit-identity between them is not promised).
            for mode in [Mode::Default, Mode::ScanData] {
                check_op(&x, &a, &s, op, &AxesChoice::All, keepdims, &[mode], &what)?;
            }
        }
    }
    Ok(())
}

fn stored_case() -> impl Strategy<Value = Case> {
    case(3).prop_filter("stored arrays here have at least one axis", |c| {
        !c.shape.is_empty()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn stored_full_reductions_match_reference_f64(case in stored_case()) {
        check_stored::<f64>(&case)?;
    }

    #[test]
    fn stored_full_reductions_match_reference_f32(case in stored_case()) {
        check_stored::<f32>(&case)?;
    }

    #[test]
    fn stored_full_reductions_match_reference_i64(case in stored_case()) {
        check_stored::<i64>(&case)?;
    }

    #[test]
    fn stored_full_reductions_match_reference_u8(case in stored_case()) {
        check_stored::<u8>(&case)?;
    }

    #[test]
    fn stored_full_reductions_match_reference_bool(case in stored_case()) {
        check_stored::<bool>(&case)?;
    }
}

// ---------------------------------------------------------------------------------------
// Directed tests.

fn arr<T: Element>(shape: &[usize], values: Vec<T>) -> ArrayD<T> {
    ArrayD::from_shape_vec(IxDyn(shape), values).unwrap()
}

fn lazy<T: Element>(shape: &[usize], values: Vec<T>, chunks: &[u64]) -> LazyArray {
    LazyArray::from_array(arr(shape, values), chunks).unwrap()
}

fn f64s(y: outcore::Result<LazyArray>) -> Vec<f64> {
    y.unwrap()
        .to_ndarray::<f64>()
        .unwrap()
        .iter()
        .copied()
        .collect()
}

fn scalar_f64(y: outcore::Result<LazyArray>) -> f64 {
    y.unwrap().to_scalar::<f64>().unwrap()
}

fn scalar_i64(y: outcore::Result<LazyArray>) -> i64 {
    y.unwrap().to_scalar::<i64>().unwrap()
}

fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b
}

/// The dask tutorial case: `min` of an array holding a NaN is NaN, `nanmin` skips it.
#[test]
fn min_with_nan_is_nan_and_nanmin_skips_it() {
    let x = lazy(&[5], vec![1.0, f64::NAN, 3.0, -2.0, 5.0], &[2]);
    assert!(scalar_f64(x.min(Axes::all())).is_nan());
    assert!(scalar_f64(x.max(Axes::all())).is_nan());
    assert_eq!(scalar_f64(x.nanmin(Axes::all())), -2.0);
    assert_eq!(scalar_f64(x.nanmax(Axes::all())), 5.0);
    assert_eq!(scalar_i64(x.argmin(Axes::all())), 1);
    assert_eq!(scalar_i64(x.argmax(Axes::all())), 1);
    assert_eq!(scalar_i64(x.nanargmin(Axes::all())), 3);
    assert_eq!(scalar_i64(x.nanargmax(Axes::all())), 4);
    assert!(scalar_f64(x.sum(Axes::all())).is_nan());
    assert_eq!(scalar_f64(x.nansum(Axes::all())), 7.0);
    assert!(scalar_f64(x.mean(Axes::all())).is_nan());
    assert_eq!(scalar_f64(x.nanmean(Axes::all())), 7.0 / 4.0);
    assert_eq!(scalar_f64(x.nanprod(Axes::all())), -30.0);
    assert!(scalar_f64(x.var(Axes::all(), 0.0)).is_nan());
    let nanvar = scalar_f64(x.nanvar(Axes::all(), 0.0));
    let mean = 7.0 / 4.0;
    let want = [1.0, 3.0, -2.0, 5.0]
        .iter()
        .map(|v: &f64| (v - mean).powi(2))
        .sum::<f64>()
        / 4.0;
    assert!((nanvar - want).abs() <= 1e-15 * want);
    // float32 too, with NaN in the second block.
    let x = lazy(&[4], vec![1.0f32, 2.0, 0.5, f32::NAN], &[2]);
    assert!(x.min(0).unwrap().to_scalar::<f32>().unwrap().is_nan());
    assert_eq!(x.nanmin(0).unwrap().to_scalar::<f32>().unwrap(), 0.5);
}

/// `std` over axis 0 of a (366, 4) array in blocks of (366, 2) (dask's tutorial shape).
#[test]
fn std_over_axis_0_of_366_by_4_chunked_366_by_2() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(366);
    let values: Vec<f64> = (0..366 * 4)
        .map(|i| 10.0 * (i % 4) as f64 + rng.gen_range(-5.0..25.0))
        .collect();
    let a = arr(&[366, 4], values);
    let x = LazyArray::from_array(a.clone(), &[366, 2]).unwrap();
    for ddof in [0.0, 1.0] {
        let got = f64s(x.std(0, ddof));
        assert_eq!(got.len(), 4);
        for (col, &g) in got.iter().enumerate() {
            let c: Vec<f64> = (0..366).map(|r| a[[r, col]]).collect();
            let mean = c.iter().sum::<f64>() / 366.0;
            let m2: f64 = c.iter().map(|v| (v - mean).powi(2)).sum();
            let want = (m2 / (366.0 - ddof)).sqrt();
            assert!(
                (g - want).abs() <= 1e-12 * want,
                "column {col} ddof {ddof}: {g} vs {want}"
            );
        }
        // keepdims: shape (1, 4), same values.
        let kept = x.std(Axes::of(&[0]).keepdims(), ddof).unwrap();
        assert_eq!(kept.shape(), &[1, 4]);
        let kv = kept.to_ndarray::<f64>().unwrap();
        assert_eq!(kv.shape(), &[1, 4]);
        assert_eq!(kv.iter().copied().collect::<Vec<_>>(), got);
    }
}

/// The smallest reductions over an empty axis: numpy gives the identity (sum 0, prod 1,
/// count 0), NaN (mean, var), or an error (min); never a panic.
#[test]
fn reductions_over_an_empty_axis_do_not_panic() {
    let x = LazyArray::from_array(ArrayD::<f64>::zeros(IxDyn(&[0])), &[1]).unwrap();
    let sum = no_panic("sum of shape (0,)", || {
        x.sum(Axes::all()).and_then(|y| y.to_scalar::<f64>())
    });
    assert_eq!(sum.unwrap(), 0.0);
    let x = LazyArray::from_array(ArrayD::<i32>::zeros(IxDyn(&[0, 3])), &[1, 2]).unwrap();
    let sums = no_panic("sum of shape (0, 3) over axis 0", || {
        x.sum(0).and_then(|y| y.to_ndarray::<i64>())
    });
    assert_eq!(
        sums.unwrap().iter().copied().collect::<Vec<_>>(),
        vec![0; 3]
    );
}

/// numpy's empty slices: errors for reductions without identity, NaN for means and
/// variances, identities for sums and products.
#[test]
fn empty_slices() {
    let empty = lazy::<f64>(&[0], vec![], &[1]);
    for op in [
        Op::Min,
        Op::Max,
        Op::NanMin,
        Op::NanMax,
        Op::ArgMin,
        Op::ArgMax,
        Op::NanArgMin,
        Op::NanArgMax,
    ] {
        let r = no_panic(&format!("{op:?} of empty"), || {
            op.apply(&empty, Axes::all())
                .and_then(|y| evaluate(&y, Mode::Default))
        });
        assert!(r.is_err(), "{op:?} of an empty array is Err");
    }
    // (0, 3) over axis 0: every output slice is empty.
    let empty2 = lazy::<i32>(&[0, 3], vec![], &[1, 2]);
    for op in [Op::Min, Op::Max, Op::ArgMin, Op::ArgMax] {
        let r = no_panic(&format!("{op:?} of (0, 3) over 0"), || {
            op.apply(&empty2, 0)
                .and_then(|y| evaluate(&y, Mode::Default))
        });
        assert!(r.is_err(), "{op:?} of (0, 3) over axis 0 is Err");
    }
    // (3, 0) over axis 0: the result is empty, nothing is reduced over an empty axis.
    let empty3 = lazy::<i32>(&[3, 0], vec![], &[2, 1]);
    for op in [Op::Min, Op::Max, Op::ArgMin, Op::ArgMax] {
        let (shape, v) = evaluate(&op.apply(&empty3, 0).unwrap(), Mode::Default).unwrap();
        assert_eq!(
            (shape, v),
            (vec![0], vec![]),
            "{op:?} of (3, 0) over axis 0"
        );
    }
    assert!(scalar_f64(empty.mean(Axes::all())).is_nan());
    assert!(scalar_f64(empty.var(Axes::all(), 0.0)).is_nan());
    assert_eq!(scalar_f64(empty.sum(Axes::all())), 0.0);
    assert_eq!(scalar_f64(empty.prod(Axes::all())), 1.0);
    assert_eq!(scalar_i64(empty.count_nonzero(Axes::all())), 0);
    assert!(!empty.any(Axes::all()).unwrap().to_scalar::<bool>().unwrap());
    assert!(empty.all(Axes::all()).unwrap().to_scalar::<bool>().unwrap());
}

/// numpy's all-NaN slices: NaN for nanmin/nanmax/nanmean/nanvar/nanstd, 0 for nansum, 1 for
/// nanprod, an error for nanargmin/nanargmax; var's divisor is max(n - ddof, 0).
#[test]
fn all_nan_slices_and_small_divisors() {
    // All-NaN: column 1 of a (3, 2) array.
    let nan = f64::NAN;
    let x = lazy(&[3, 2], vec![1.0, nan, nan, nan, 2.0, nan], &[2, 1]);
    assert!(same_vec(&f64s(x.nanmin(0)), &[1.0, nan]));
    assert!(same_vec(&f64s(x.nanmax(0)), &[2.0, nan]));
    assert!(same_vec(&f64s(x.nanmean(0)), &[1.5, nan]));
    assert!(same_vec(&f64s(x.nanvar(0, 0.0)), &[0.25, nan]));
    assert!(same_vec(&f64s(x.nanstd(0, 0.0)), &[0.5, nan]));
    assert!(same_vec(&f64s(x.nansum(0)), &[3.0, 0.0]));
    assert!(same_vec(&f64s(x.nanprod(0)), &[2.0, 1.0]));
    for op in [Op::NanArgMin, Op::NanArgMax] {
        let r = no_panic(&format!("{op:?} with an all-NaN column"), || {
            op.apply(&x, 0).and_then(|y| y.to_ndarray::<i64>())
        });
        assert!(r.is_err(), "{op:?} with an all-NaN slice is Err");
        // Over axis 1: row 1 is [nan, nan].
        let r = no_panic(&format!("{op:?} over axis 1"), || {
            op.apply(&x, 1).and_then(|y| y.to_ndarray::<i64>())
        });
        assert!(r.is_err(), "{op:?}: row 1 is all NaN");
        let r = no_panic(&format!("{op:?} over all"), || {
            op.apply(&x, Axes::all()).and_then(|y| y.to_scalar::<i64>())
        });
        assert_eq!(r.unwrap(), if op == Op::NanArgMin { 0 } else { 4 });
    }
    // var divisor max(n - ddof, 0): n = 2, ddof 2 -> m2 / 0 = inf; ddof 3 -> inf too.
    let y = lazy(&[2], vec![1.0, 3.0], &[1]);
    assert_eq!(scalar_f64(y.var(Axes::all(), 2.0)), f64::INFINITY);
    assert_eq!(scalar_f64(y.var(Axes::all(), 3.0)), f64::INFINITY);
    assert_eq!(scalar_f64(y.var(Axes::all(), 1.0)), 2.0);
    assert_eq!(scalar_f64(y.var(Axes::all(), 0.5)), 2.0 / 1.5);
    // m2 = 0 over a zero divisor is NaN.
    let z = lazy(&[1], vec![4.0], &[1]);
    assert!(scalar_f64(z.var(Axes::all(), 1.0)).is_nan());
}

fn same_vec(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(&x, &y)| same(x, y))
}

/// numpy raises for `min`/`max`/`arg*` over a zero-length axis even when the result is
/// empty (`np.zeros((0, 0)).min(axis=0)`: "zero-size array to reduction operation minimum
/// which has no identity"; `argmin`: "attempt to get argmin of an empty sequence").
#[test]
fn empty_reduced_axis_without_identity_is_an_error_even_for_an_empty_result() {
    let x = lazy::<f64>(&[0, 0], vec![], &[1, 1]);
    let mut wrong = Vec::new();
    for op in [
        Op::Min,
        Op::Max,
        Op::NanMin,
        Op::NanMax,
        Op::ArgMin,
        Op::ArgMax,
        Op::NanArgMin,
        Op::NanArgMax,
    ] {
        let r = no_panic(&format!("{op:?}"), || {
            op.apply(&x, 0).and_then(|y| evaluate(&y, Mode::Default))
        });
        if let Ok(v) = r {
            wrong.push(format!("{op:?} over axis 0 of shape (0, 0) gave Ok({v:?})"));
        }
    }
    assert!(wrong.is_empty(), "numpy raises; the engine: {wrong:#?}");
}

/// numpy's `argmax(axis=())` is a TypeError; the engine must answer Err, not panic (and
/// not a wrong index).
#[test]
fn arg_reduction_over_no_axes_is_an_error() {
    let x = lazy(&[2, 3], vec![3.0, 1.0, 2.0, 5.0, 4.0, 0.0], &[1, 2]);
    let mut wrong = Vec::new();
    for op in [Op::ArgMin, Op::ArgMax, Op::NanArgMin, Op::NanArgMax] {
        let r = catch_unwind(AssertUnwindSafe(|| {
            op.apply(&x, Axes::of(&[]))
                .and_then(|y| y.to_ndarray::<i64>())
        }));
        match r {
            Ok(Err(_)) => {}
            Ok(Ok(v)) => wrong.push(format!("{op:?}: Ok({v:?})")),
            Err(e) => wrong.push(format!(
                "{op:?}: panicked: {}",
                e.downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default()
            )),
        }
    }
    assert!(wrong.is_empty(), "expected Err: {wrong:#?}");
}

/// Non-arg reductions over no axes reduce nothing (numpy's `axis=()`): each element alone.
#[test]
fn reductions_over_no_axes_keep_every_element() {
    let x = lazy(&[2, 3], vec![3.0, f64::NAN, 2.0, -5.0, 4.0, 0.0], &[1, 2]);
    let a = Axes::of(&[]);
    assert_eq!(x.sum(a.clone()).unwrap().shape(), &[2, 3]);
    assert!(same_vec(
        &f64s(x.sum(a.clone())),
        &[3.0, f64::NAN, 2.0, -5.0, 4.0, 0.0]
    ));
    assert!(same_vec(
        &f64s(x.nansum(a.clone())),
        &[3.0, 0.0, 2.0, -5.0, 4.0, 0.0]
    ));
    assert!(same_vec(
        &f64s(x.nanmax(a.clone())),
        &[3.0, f64::NAN, 2.0, -5.0, 4.0, 0.0]
    ));
    assert!(same_vec(
        &f64s(x.var(a.clone(), 0.0)),
        &[0.0, f64::NAN, 0.0, 0.0, 0.0, 0.0]
    ));
    let c: Vec<i64> = x
        .count_nonzero(a.clone())
        .unwrap()
        .to_ndarray::<i64>()
        .unwrap()
        .iter()
        .copied()
        .collect();
    assert_eq!(c, vec![1, 1, 1, 1, 1, 0]);
}

#[test]
fn keepdims_shapes() {
    let x = LazyArray::from_array(ArrayD::<f64>::zeros(IxDyn(&[2, 3, 4])), &[1, 2, 3]).unwrap();
    let cases: [(Axes, &[u64]); 6] = [
        (Axes::all().keepdims(), &[1, 1, 1]),
        (Axes::of(&[0]).keepdims(), &[1, 3, 4]),
        (Axes::of(&[1]).keepdims(), &[2, 1, 4]),
        (Axes::of(&[-1, 0]).keepdims(), &[1, 3, 1]),
        (Axes::of(&[]).keepdims(), &[2, 3, 4]),
        (Axes::of(&[1, 2]), &[2]),
    ];
    for (axes, shape) in cases {
        for op in all_ops(1.0) {
            if op.is_arg() {
                continue;
            }
            let y = op.apply(&x, axes.clone()).unwrap();
            assert_eq!(y.shape(), shape, "{op:?} {axes:?}");
            let (got, _) = evaluate(&y, Mode::Default).unwrap();
            let want: Vec<usize> = shape.iter().map(|&n| n as usize).collect();
            assert_eq!(got, want, "{op:?} {axes:?}");
        }
    }
    // Arg reductions: one axis or all, with keepdims.
    let y = x.argmax(Axes::of(&[1]).keepdims()).unwrap();
    assert_eq!(y.shape(), &[2, 1, 4]);
    assert_eq!(y.to_ndarray::<i64>().unwrap().shape(), &[2, 1, 4]);
    let y = x.argmin(Axes::all().keepdims()).unwrap();
    assert_eq!(y.shape(), &[1, 1, 1]);
    assert_eq!(y.to_ndarray::<i64>().unwrap().shape(), &[1, 1, 1]);
}

#[test]
fn negative_axes_equal_positive_ones() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let values: Vec<f64> = (0..3 * 4 * 5)
        .map(|_| rng.gen_range(-4..5) as f64)
        .collect();
    let x = lazy(&[3, 4, 5], values, &[2, 3, 2]);
    for op in all_ops(1.0) {
        for (neg, pos) in [
            (vec![-1i64], vec![2i64]),
            (vec![-3], vec![0]),
            (vec![-2], vec![1]),
            (vec![-1, -3], vec![0, 2]),
            (vec![0, -2], vec![0, 1]),
        ] {
            if op.is_arg() && neg.len() > 1 {
                continue;
            }
            let a = evaluate(&op.apply(&x, neg.clone()).unwrap(), Mode::Default).unwrap();
            let b = evaluate(&op.apply(&x, pos.clone()).unwrap(), Mode::Default).unwrap();
            assert_eq!(a.0, b.0, "{op:?} {neg:?} vs {pos:?}");
            assert!(
                a.1.iter().zip(&b.1).all(|(p, q)| p.same_bits(*q)),
                "{op:?} {neg:?} vs {pos:?}"
            );
        }
    }
}

#[test]
fn repeated_and_out_of_range_axes_are_errors() {
    let x = lazy(&[2, 3, 4], vec![1i32; 24], &[1, 2, 3]);
    let bad: [Vec<i64>; 7] = [
        vec![0, 0],
        vec![1, -2],
        vec![2, -1, 0],
        vec![3],
        vec![-4],
        vec![0, 7],
        vec![i64::MIN],
    ];
    for axes in bad {
        for op in all_ops(0.0) {
            let r = no_panic(&format!("{op:?} over {axes:?}"), || {
                op.apply(&x, axes.clone())
                    .and_then(|y| evaluate(&y, Mode::Default))
            });
            assert!(r.is_err(), "{op:?} over {axes:?} should be Err");
        }
    }
    // A 0-d array has no axis 0.
    let s = lazy(&[], vec![5u8], &[]);
    assert!(s.sum(0).is_err());
    assert_eq!(s.sum(Axes::all()).unwrap().to_scalar::<u64>().unwrap(), 5);
}

#[test]
fn arg_reductions_take_one_axis_or_all() {
    let values: Vec<f64> = (0..24).map(|i| ((i * 7) % 11) as f64).collect();
    let a = arr(&[2, 3, 4], values.clone());
    let x = LazyArray::from_array(a.clone(), &[1, 2, 3]).unwrap();
    for op in [Op::ArgMin, Op::ArgMax, Op::NanArgMin, Op::NanArgMax] {
        for axes in [vec![0i64, 1], vec![1, 2], vec![0, -1]] {
            let r = no_panic(&format!("{op:?} over {axes:?}"), || {
                op.apply(&x, axes.clone())
                    .and_then(|y| y.to_ndarray::<i64>())
            });
            assert!(r.is_err(), "{op:?} over {axes:?} should be Err");
        }
        // All three axes listed: the flat index, as Axes::all().
        let flat = op
            .apply(&x, vec![2i64, 0, 1])
            .unwrap()
            .to_scalar::<i64>()
            .unwrap();
        let all = op
            .apply(&x, Axes::all())
            .unwrap()
            .to_scalar::<i64>()
            .unwrap();
        let max = matches!(op, Op::ArgMax | Op::NanArgMax);
        let want = if max {
            values.iter().position(|&v| v == 10.0).unwrap()
        } else {
            values.iter().position(|&v| v == 0.0).unwrap()
        };
        assert_eq!((flat, all), (want as i64, want as i64), "{op:?}");
    }
}

/// The generic `reduce` gives what the named methods give.
#[test]
fn generic_reduce_matches_named_methods() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(11);
    let values: Vec<f32> = (0..5 * 6)
        .map(|i| {
            if i % 7 == 3 {
                f32::NAN
            } else {
                rng.gen_range(-3.0..3.0)
            }
        })
        .collect();
    let x = lazy(&[5, 6], values, &[2, 4]);
    for op in all_ops(1.0) {
        for axes in [Axes::of(&[0]), Axes::of(&[-1]).keepdims(), Axes::all()] {
            let named = evaluate(&op.apply(&x, axes.clone()).unwrap(), Mode::Default);
            let generic = evaluate(
                &x.reduce(op.reduce_op(), axes.clone()).unwrap(),
                Mode::Default,
            );
            match (named, generic) {
                (Ok(a), Ok(b)) => {
                    assert_eq!(a.0, b.0);
                    assert!(
                        a.1.iter().zip(&b.1).all(|(p, q)| p.same_bits(*q)),
                        "{op:?} {axes:?}"
                    );
                }
                (Err(_), Err(_)) => {}
                (a, b) => panic!("{op:?} {axes:?}: {a:?} vs {b:?}"),
            }
        }
    }
}

#[test]
fn integer_sums_and_products_wrap_in_64_bits() {
    let x = lazy(&[3], vec![i64::MAX, 1, 1], &[2]);
    assert_eq!(scalar_i64(x.sum(0)), i64::MIN + 1);
    let x = lazy(&[3], vec![u64::MAX, 2, 0], &[1]);
    assert_eq!(x.sum(0).unwrap().to_scalar::<u64>().unwrap(), 1);
    let x = lazy(&[2], vec![u64::MAX, 2], &[1]);
    assert_eq!(x.prod(0).unwrap().to_scalar::<u64>().unwrap(), u64::MAX - 1);
    let x = lazy(&[3], vec![i64::MAX, 2, 3], &[1]);
    assert_eq!(scalar_i64(x.prod(0)), i64::MAX.wrapping_mul(6));
    // Small types widen: no wrap at 8 or 32 bits.
    let x = lazy(&[3], vec![200u8, 100, 255], &[2]);
    assert_eq!(x.sum(0).unwrap().to_scalar::<u64>().unwrap(), 555);
    assert_eq!(x.prod(0).unwrap().to_scalar::<u64>().unwrap(), 5_100_000);
    let x = lazy(&[2], vec![i32::MIN, -1], &[1]);
    assert_eq!(scalar_i64(x.sum(0)), i64::from(i32::MIN) - 1);
    assert_eq!(scalar_i64(x.prod(0)), -i64::from(i32::MIN));
    let x = lazy(&[4], vec![-128i8, -128, 127, 127], &[3]);
    assert_eq!(scalar_i64(x.sum(0)), -2);
    let x = lazy(&[5], vec![true, true, false, true, true], &[2]);
    assert_eq!(scalar_i64(x.sum(0)), 4);
    assert_eq!(scalar_i64(x.prod(0)), 0);
    assert_eq!(scalar_f64(x.mean(0)), 0.8);
}

#[test]
fn infinities_behave_as_in_numpy() {
    let inf = f64::INFINITY;
    let x = lazy(&[2], vec![inf, 1.0], &[1]);
    assert!(scalar_f64(x.var(0, 0.0)).is_nan()); // inf - inf
    assert!(scalar_f64(x.std(0, 0.0)).is_nan());
    assert_eq!(scalar_f64(x.mean(0)), inf);
    assert_eq!(scalar_f64(x.sum(0)), inf);
    assert_eq!(scalar_f64(x.max(0)), inf);
    assert_eq!(scalar_i64(x.argmax(0)), 0);
    let x = lazy(&[3], vec![1.0, inf, -inf], &[2]);
    assert!(scalar_f64(x.sum(0)).is_nan());
    assert!(scalar_f64(x.mean(0)).is_nan());
    assert_eq!(scalar_f64(x.min(0)), -inf);
    assert_eq!(scalar_i64(x.argmin(0)), 2);
    assert_eq!(scalar_f64(x.prod(0)), -inf);
    let x = lazy(&[3], vec![0.0, inf, 2.0], &[1]);
    assert!(scalar_f64(x.prod(0)).is_nan()); // 0 * inf
    let x = lazy(&[3], vec![-inf, -inf, f64::NAN], &[2]);
    assert_eq!(scalar_i64(x.nanargmin(0)), 0);
    assert_eq!(scalar_i64(x.nanargmax(0)), 0);
    assert_eq!(scalar_f64(x.nanmax(0)), -inf);
    assert!(scalar_f64(x.nanvar(0, 0.0)).is_nan());
    // Ties go to the first occurrence, across blocks.
    let x = lazy(&[6], vec![1.0, 3.0, 0.0, 3.0, 0.0, 3.0], &[1]);
    assert_eq!(scalar_i64(x.argmax(0)), 1);
    assert_eq!(scalar_i64(x.argmin(0)), 2);
}

/// Reductions of generated sources (counter-based random values, default block grids)
/// against the reference on the same values.
#[test]
fn reductions_of_generated_sources_match_reference() {
    let x = outcore::random::uniform(3, &[40, 27, 3], -1.0, 1.0).unwrap();
    let a = x.to_ndarray::<f64>().unwrap();
    let i = outcore::random::integers(4, &[40, 27, 3], -3, 4).unwrap();
    let ai = i.to_ndarray::<i64>().unwrap();
    let modes = [Mode::Default, Mode::OneInFlight];
    for choice in [
        AxesChoice::All,
        AxesChoice::Of(vec![0]),
        AxesChoice::Of(vec![-1]),
        AxesChoice::Of(vec![2, 0]),
    ] {
        let axes = choice.normalized(3);
        let (s, si) = (slices(&a, &axes), slices(&ai, &axes));
        for op in all_ops(1.0) {
            if op.is_arg() && axes.len() == 2 {
                continue;
            }
            check_op(&x, &a, &s, op, &choice, false, &modes, "uniform").unwrap();
            check_op(&i, &ai, &si, op, &choice, true, &modes, "integers").unwrap();
        }
    }
}

/// A reduction of a reduction, and a reduction kept with keepdims then reduced again.
#[test]
fn chained_reductions() {
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let values: Vec<i32> = (0..4 * 5 * 6).map(|_| rng.gen_range(-50..50)).collect();
    let a = arr(&[4, 5, 6], values);
    let x = LazyArray::from_array(a.clone(), &[3, 2, 4]).unwrap();
    // max over axis 1, then sum over axis 0 -> (6,)
    let y = x.max(1).unwrap().sum(0).unwrap();
    let got: Vec<i64> = y.to_ndarray::<i64>().unwrap().iter().copied().collect();
    let want: Vec<i64> = (0..6)
        .map(|k| {
            (0..4)
                .map(|i| (0..5).map(|j| a[[i, j, k]]).max().unwrap() as i64)
                .sum()
        })
        .collect();
    assert_eq!(got, want);
    // argmin of the keepdims-min over axis 2, all axes: flat index over (4, 5, 1).
    let m = x.min(Axes::of(&[2]).keepdims()).unwrap();
    let got = m.argmin(Axes::all()).unwrap().to_scalar::<i64>().unwrap();
    let mins: Vec<i32> = (0..4)
        .flat_map(|i| (0..5).map(move |j| (i, j)))
        .map(|(i, j)| (0..6).map(|k| a[[i, j, k]]).min().unwrap())
        .collect();
    let lo = *mins.iter().min().unwrap();
    assert_eq!(got, mins.iter().position(|&v| v == lo).unwrap() as i64);
}

// ---------------------------------------------------------------------------------------
// Accuracy.

/// numpy's pairwise summation for float32 (blocks of 128, eight accumulators), computed
/// in float32 as numpy does.
fn numpy_pairwise_f32(a: &[f32]) -> f32 {
    let n = a.len();
    if n < 8 {
        let mut res = 0.0f32;
        for &v in a {
            res += v;
        }
        res
    } else if n <= 128 {
        let mut r = [0.0f32; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - n % 8 {
            for j in 0..8 {
                r[j] += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += a[i];
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        numpy_pairwise_f32(&a[..n2]) + numpy_pairwise_f32(&a[n2..])
    }
}

/// 10 million float32 values of 0.1: the engine (f64 accumulation, then one rounding) is at
/// least as accurate as numpy's float32 pairwise sum, and in fact correctly rounded.
#[test]
fn float32_sum_of_ten_million_tenths_is_accurate() {
    const N: usize = 10_000_000;
    let tenth = 0.1f32;
    // 0.1f32 = 13421773 * 2^-27 exactly, so the exact sum is N * 13421773 * 2^-27.
    assert_eq!(tenth as f64, 13_421_773.0 * 2f64.powi(-27));
    let exact = (N as u128 * 13_421_773) as f64 * 2f64.powi(-27); // < 2^53: exact
    let data = vec![tenth; N];
    let numpy = numpy_pairwise_f32(&data);
    let x = LazyArray::from_array(arr(&[N], data), &[1 << 20]).unwrap();
    let y = x.sum(0).unwrap();
    assert_eq!(y.data_type(), DataType::Float32);
    let got = y.to_scalar::<f32>().unwrap();
    let err = (got as f64 - exact).abs();
    let numpy_err = (numpy as f64 - exact).abs();
    assert!(
        err <= numpy_err,
        "engine {got} (error {err}) vs numpy pairwise {numpy} (error {numpy_err}), exact {exact}"
    );
    assert_eq!(got, exact as f32, "correctly rounded");
    // The mean too.
    let mean = x.mean(0).unwrap().to_scalar::<f32>().unwrap();
    assert_eq!(mean, (exact / N as f64) as f32);
    // Summed along axis 0 of (N/4, 4): kept inner axis, elements added one by one in f64.
    let data = vec![tenth; N];
    let x = LazyArray::from_array(arr(&[N / 4, 4], data), &[1 << 18, 4]).unwrap();
    let got = x.sum(0).unwrap().to_ndarray::<f32>().unwrap();
    let exact = (N as u128 / 4 * 13_421_773) as f64 * 2f64.powi(-27);
    for &g in got.iter() {
        assert_eq!(g, exact as f32);
    }
}

/// 10 million float64 values 1e8 + u (u uniform in [0, 1)): all share one exponent, so the
/// exact sum is an integer number of ulps (i128); the engine agrees with it, and with a
/// compensated (Neumaier) reference, to ~1e-12 relative.
#[test]
fn float64_sum_with_large_offset_matches_compensated_reference() {
    const N: usize = 10_000_000;
    let mut rng = rand::rngs::StdRng::seed_from_u64(2024);
    let ulp = 2f64.powi(26 - 52); // the spacing in [2^26, 2^27), which holds [1e8, 1e8 + 1)
    let data: Vec<f64> = (0..N).map(|_| 1e8 + rng.gen::<f64>()).collect();
    let mut exact_units: i128 = 0;
    let (mut s, mut c) = (0.0f64, 0.0f64);
    for &v in &data {
        assert!((67_108_864.0..134_217_728.0).contains(&v));
        exact_units += (v / ulp) as i128;
        let t = s + v;
        c += if s.abs() >= v.abs() {
            (s - t) + v
        } else {
            (v - t) + s
        };
        s = t;
    }
    let neumaier = s + c;
    let exact = exact_units as f64 * ulp;
    assert!((neumaier - exact).abs() <= 1e-15 * exact);
    let x = LazyArray::from_array(arr(&[N], data), &[1_000_000]).unwrap();
    let got = x.sum(0).unwrap().to_scalar::<f64>().unwrap();
    assert!(
        (got - neumaier).abs() <= 1e-12 * neumaier,
        "engine {got} vs compensated {neumaier} (relative {:e})",
        (got - neumaier).abs() / neumaier
    );
    let mean = x.mean(0).unwrap().to_scalar::<f64>().unwrap();
    assert!((mean - exact / N as f64).abs() <= 1e-12 * mean);
}

/// Variance of 1e9 + small noise: per-block two-pass moments merged by Chan's formula agree
/// with a two-pass reference (a one-pass E[x^2] - E[x]^2 would be off by far more than the
/// variance itself).
#[test]
fn variance_with_large_mean_matches_two_pass_reference() {
    const N: usize = 1_000_000;
    let mut rng = rand::rngs::StdRng::seed_from_u64(99);
    let data: Vec<f64> = (0..N).map(|_| 1e9 + rng.gen::<f64>()).collect();
    let two_pass = |v: &[f64], ddof: f64| -> f64 {
        // Compensated mean, then squared deviations.
        let (mut s, mut c) = (0.0f64, 0.0f64);
        for &x in v {
            let t = s + x;
            c += if s.abs() >= x.abs() {
                (s - t) + x
            } else {
                (x - t) + s
            };
            s = t;
        }
        let mean = (s + c) / v.len() as f64;
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() as f64 - ddof)
    };
    // 1-D, blocks of 1000 (runs folded in place, 1000 partials merged).
    let want = two_pass(&data, 1.0);
    assert!((want - 1.0 / 12.0).abs() < 1e-3, "the noise is uniform");
    let x = LazyArray::from_array(arr(&[N], data.clone()), &[1000]).unwrap();
    let got = x.var(0, 1.0).unwrap().to_scalar::<f64>().unwrap();
    assert!(
        (got - want).abs() <= 1e-8 * want,
        "1-D: engine {got} vs two-pass {want}"
    );
    let std = x.std(0, 1.0).unwrap().to_scalar::<f64>().unwrap();
    assert!((std - want.sqrt()).abs() <= 1e-8 * want.sqrt());
    // Odd block size, so the merge tree is unbalanced.
    let x = LazyArray::from_array(arr(&[N], data.clone()), &[777]).unwrap();
    let got = x.var(0, 1.0).unwrap().to_scalar::<f64>().unwrap();
    assert!((got - want).abs() <= 1e-8 * want, "777: {got} vs {want}");
    // 2-D (N/4, 4) over axis 0 in blocks of (1000, 3): kept inner axis (two passes per
    // block over rows), Chan across blocks.
    let a = arr(&[N / 4, 4], data);
    let x = LazyArray::from_array(a.clone(), &[1000, 3]).unwrap();
    let got = x.var(0, 0.0).unwrap().to_ndarray::<f64>().unwrap();
    for col in 0..4 {
        let c: Vec<f64> = a.index_axis(Axis(1), col).iter().copied().collect();
        let want = two_pass(&c, 0.0);
        let g = got[[col]];
        assert!(
            (g - want).abs() <= 1e-7 * want,
            "2-D column {col}: engine {g} vs two-pass {want}"
        );
    }
}
