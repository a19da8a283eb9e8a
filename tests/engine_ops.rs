//! The lazy-array engine's elementwise operations, selections and shape operations, checked
//! against an independent reference written here with plain ndarray operations and loops
//! that follow numpy's semantics.
//!
//! - Property tests over random shapes (0–4 axes, extents 0..=8, many length-1 axes) and
//!   random chunkings: chains of elementwise operations with broadcasting between two arrays
//!   (either may have fewer axes and length-1 axes), selections (ranges with positive and
//!   negative steps, indices, `NewAxis`), reshapes to random factorizations, permutations,
//!   squeeze / expand_dims / broadcast_to / rechunk, stack and concatenate of arrays with
//!   different chunkings and types, and compositions ending in a reduction.
//! - numpy's promotion table for pairs of arrays and for weak (Rust) scalars, with errors.
//! - The dask tutorial's examples (a week-by-day table minus its daily and weekly means, four
//!   (12, 444, 922) arrays stacked, a (3, 7) array minus its means).
//! - Counter-based random arrays, slice pushdown counted with a `map_blocks` kernel, ranges,
//!   `map_blocks` and the `blocks()` iterator.

use std::collections::BTreeSet;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use outcore::ndarray::{
    s, ArrayD, ArrayViewD, Axis, Dimension, IxDyn, NewAxis, SliceInfo, SliceInfoElem,
};
use outcore::test_support::Num;
use outcore::{random, with_element_type, Axes, DataType, Element, LazyArray, Operand};
use outcore::{BinaryOp, UnaryOp};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

// ---------------------------------------------------------------------------------------
// Helpers: building arrays, reading values, comparing.
// ---------------------------------------------------------------------------------------

/// An in-memory lazy array with blocks of `chunks`.
fn lazy<T: Element>(a: &ArrayD<T>, chunks: &[u64]) -> LazyArray {
    LazyArray::from_array(a.clone(), chunks).expect("valid chunks")
}

/// A 1-d array of type `dt` holding `values` (converted natively, not by the engine).
fn typed(dt: DataType, values: &[f64]) -> LazyArray {
    typed_nd(
        dt,
        &ArrayD::from_shape_vec(IxDyn(&[values.len()]), values.to_vec()).unwrap(),
        &[2],
    )
}

/// An array of type `dt` holding `values` (converted natively), in blocks of `chunks`.
fn typed_nd(dt: DataType, values: &ArrayD<f64>, chunks: &[u64]) -> LazyArray {
    with_element_type!(dt, T => {
        LazyArray::from_array(values.mapv(<T as Num>::from_f64), chunks).expect("valid chunks")
    })
}

/// The values of any array as `f64`, read in the array's own type (no engine cast).
fn values(x: &LazyArray) -> ArrayD<f64> {
    with_element_type!(x.data_type(), T => {
        x.to_ndarray::<T>().expect("evaluates").mapv(|v| v.to_f64())
    })
}

fn flat(x: &LazyArray) -> Vec<f64> {
    values(x).iter().copied().collect()
}

/// Equal, both NaN, or within a relative 1e-9.
fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= 1e-9 * a.abs().max(b.abs())
}

fn assert_same(got: &ArrayD<f64>, want: &ArrayD<f64>, context: &str) {
    assert_eq!(got.shape(), want.shape(), "{context}: shapes differ");
    for ((ix, g), w) in got.indexed_iter().zip(want.iter()) {
        assert!(same(*g, *w), "{context}: at {ix:?} got {g}, want {w}");
    }
}

fn assert_flat(x: &LazyArray, want: &[f64], context: &str) {
    let got = flat(x);
    assert_eq!(got.len(), want.len(), "{context}: lengths differ: {got:?}");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            same(*g, *w),
            "{context}: at {i} got {g}, want {w} ({got:?})"
        );
    }
}

fn shape_usize(x: &LazyArray) -> Vec<usize> {
    x.shape().iter().map(|&n| n as usize).collect()
}

fn iota(shape: &[usize]) -> ArrayD<i64> {
    let n: usize = shape.iter().product();
    ArrayD::from_shape_vec(IxDyn(shape), (0..n as i64).collect()).unwrap()
}

/// The boundaries of an axis of `len` cut every `step`.
fn regular(len: u64, step: u64) -> Vec<u64> {
    let mut b: Vec<u64> = (0..len.div_ceil(step)).map(|i| i * step).collect();
    b.push(len);
    b
}

/// `x.blocks()` yields every block of `x.block_grid()` once, in C order, each with its
/// region's values of `want`; the grid partitions the shape.
fn check_blocks(x: &LazyArray, want: &ArrayD<f64>) {
    let grid = x.block_grid();
    assert_eq!(grid.ndim(), x.ndim());
    for axis in 0..x.ndim() {
        let b: Vec<u64> = grid.axis(axis).boundaries().collect();
        assert_eq!(b[0], 0, "axis {axis} bounds {b:?}");
        assert_eq!(
            *b.last().unwrap(),
            x.shape()[axis],
            "axis {axis} bounds {b:?}"
        );
        assert!(
            b.windows(2).all(|w| w[0] < w[1]),
            "axis {axis} bounds {b:?}"
        );
    }
    let mut count = 0u64;
    let mut elements = 0u64;
    for (i, item) in x.blocks().enumerate() {
        let (region, block) = item.expect("block evaluates");
        assert_eq!(
            region,
            grid.block_region_at(i as u64),
            "block {i} out of order"
        );
        assert_eq!(block.data_type(), x.data_type());
        let got = with_element_type!(block.data_type(), T => {
            block.view::<T>().unwrap().mapv(|v| v.to_f64())
        });
        let part = want.slice_each_axis(|ax| {
            let r = &region[ax.axis.index()];
            ndarray_slice(r.clone())
        });
        assert_same(&got, &part.to_owned(), &format!("block {i} {region:?}"));
        count += 1;
        elements += got.len() as u64;
    }
    assert_eq!(count, grid.num_blocks());
    assert_eq!(elements, x.len());
}

fn ndarray_slice(r: Range<u64>) -> outcore::ndarray::Slice {
    outcore::ndarray::Slice::from(r.start as usize..r.end as usize)
}

// ---------------------------------------------------------------------------------------
// Reference elementwise semantics (numpy), written independently of the engine.
// ---------------------------------------------------------------------------------------

/// numpy's broadcast of two shapes.
fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let n = a.len().max(b.len());
    let at = |s: &[usize], i: usize| {
        if i + s.len() >= n {
            s[i + s.len() - n]
        } else {
            1
        }
    };
    (0..n)
        .map(|i| {
            let (x, y) = (at(a, i), at(b, i));
            if x == y || y == 1 {
                Some(x)
            } else if x == 1 {
                Some(y)
            } else {
                None
            }
        })
        .collect()
}

/// The index of an operand of `shape` that output index `ix` reads (right-aligned, length-1
/// axes repeated).
fn source_index(ix: &IxDyn, shape: &[usize]) -> IxDyn {
    let off = ix.ndim() - shape.len();
    IxDyn(
        &(0..shape.len())
            .map(|i| if shape[i] == 1 { 0 } else { ix[off + i] })
            .collect::<Vec<_>>(),
    )
}

/// `f(a, b)` elementwise with numpy broadcasting, by explicit index arithmetic.
fn zip_ref<A: Copy, B: Copy, C>(a: &ArrayD<A>, b: &ArrayD<B>, f: impl Fn(A, B) -> C) -> ArrayD<C> {
    let shape = broadcast_shape(a.shape(), b.shape()).expect("compatible shapes");
    ArrayD::from_shape_fn(IxDyn(&shape), |ix| {
        f(
            a[source_index(&ix, a.shape())],
            b[source_index(&ix, b.shape())],
        )
    })
}

/// numpy's `npy_divmod` for doubles (CPython's float divmod): (floor quotient, remainder).
fn np_divmod(a: f64, b: f64) -> (f64, f64) {
    let mut m = a % b;
    if b == 0.0 {
        return (a / b, m);
    }
    let mut div = (a - m) / b;
    if m != 0.0 {
        if (b < 0.0) != (m < 0.0) {
            m += b;
            div -= 1.0;
        }
    } else {
        m = 0f64.copysign(b);
    }
    let floordiv = if div != 0.0 {
        let mut f = div.floor();
        if div - f > 0.5 {
            f += 1.0;
        }
        f
    } else {
        0f64.copysign(a / b)
    };
    (floordiv, m)
}

fn np_floor_divide(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        a / b
    } else {
        np_divmod(a, b).0
    }
}

fn np_remainder(a: f64, b: f64) -> f64 {
    if b == 0.0 {
        a % b
    } else {
        np_divmod(a, b).1
    }
}

/// Python's `a // b` on int64 (0 for a zero divisor, as numpy; wraps for MIN // -1).
fn py_floordiv(a: i64, b: i64) -> i64 {
    if b == 0 {
        return 0;
    }
    let (a, b) = (i128::from(a), i128::from(b));
    let q = a.div_euclid(b);
    let r = a.rem_euclid(b);
    (if b < 0 && r != 0 { q - 1 } else { q }) as i64
}

/// Python's `a % b` on int64 (sign of the divisor; 0 for a zero divisor, as numpy).
fn py_mod(a: i64, b: i64) -> i64 {
    if b == 0 {
        return 0;
    }
    (i128::from(a) - i128::from(b) * i128::from(py_floordiv(a, b))) as i64
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Bin {
    Add,
    Sub,
    Mul,
    Div,
    FloorDiv,
    Rem,
    Pow,
    Max,
    Min,
}

impl Bin {
    fn op(self) -> BinaryOp {
        match self {
            Bin::Add => BinaryOp::Add,
            Bin::Sub => BinaryOp::Sub,
            Bin::Mul => BinaryOp::Mul,
            Bin::Div => BinaryOp::Div,
            Bin::FloorDiv => BinaryOp::FloorDiv,
            Bin::Rem => BinaryOp::Rem,
            Bin::Pow => BinaryOp::Pow,
            Bin::Max => BinaryOp::Maximum,
            Bin::Min => BinaryOp::Minimum,
        }
    }

    fn f64(self, a: f64, b: f64) -> f64 {
        match self {
            Bin::Add => a + b,
            Bin::Sub => a - b,
            Bin::Mul => a * b,
            Bin::Div => a / b,
            Bin::FloorDiv => np_floor_divide(a, b),
            Bin::Rem => np_remainder(a, b),
            Bin::Pow => a.powf(b),
            // numpy: (a >= b || isnan(a)) ? a : b, and NaN in b propagates too.
            Bin::Max if a.is_nan() || b.is_nan() => f64::NAN,
            Bin::Max => {
                if a >= b {
                    a
                } else {
                    b
                }
            }
            Bin::Min if a.is_nan() || b.is_nan() => f64::NAN,
            Bin::Min => {
                if a <= b {
                    a
                } else {
                    b
                }
            }
        }
    }

    fn i64(self, a: i64, b: i64) -> i64 {
        match self {
            Bin::Add => a.wrapping_add(b),
            Bin::Sub => a.wrapping_sub(b),
            Bin::Mul => a.wrapping_mul(b),
            Bin::FloorDiv => py_floordiv(a, b),
            Bin::Rem => py_mod(a, b),
            Bin::Pow => a.wrapping_pow(u32::try_from(b).expect("small exponent")),
            Bin::Max => a.max(b),
            Bin::Min => a.min(b),
            Bin::Div => unreachable!("true division gives floats"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    fn op(self) -> BinaryOp {
        match self {
            Cmp::Eq => BinaryOp::Eq,
            Cmp::Ne => BinaryOp::Ne,
            Cmp::Lt => BinaryOp::Lt,
            Cmp::Le => BinaryOp::Le,
            Cmp::Gt => BinaryOp::Gt,
            Cmp::Ge => BinaryOp::Ge,
        }
    }

    fn eval<T: PartialOrd>(self, a: T, b: T) -> f64 {
        let r = match self {
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
        };
        f64::from(u8::from(r))
    }
}

fn float_unary_ref(op: UnaryOp, v: f64) -> f64 {
    match op {
        UnaryOp::Neg => -v,
        UnaryOp::Abs => v.abs(),
        UnaryOp::Square => v * v,
        UnaryOp::Round => v.round_ties_even(),
        UnaryOp::Floor => v.floor(),
        UnaryOp::Ceil => v.ceil(),
        UnaryOp::Trunc => v.trunc(),
        UnaryOp::Sqrt => v.sqrt(),
        UnaryOp::Exp => v.exp(),
        UnaryOp::Expm1 => v.exp_m1(),
        UnaryOp::Log1p => v.ln_1p(),
        UnaryOp::Sin => v.sin(),
        UnaryOp::Tanh => v.tanh(),
        UnaryOp::Arctan => v.atan(),
        other => unreachable!("{other:?} is not in the float chains"),
    }
}

fn int_unary_ref(op: UnaryOp, v: i64) -> i64 {
    match op {
        UnaryOp::Neg => v.wrapping_neg(),
        UnaryOp::Abs => v.wrapping_abs(),
        UnaryOp::Sign => v.signum(),
        UnaryOp::Square => v.wrapping_mul(v),
        other => unreachable!("{other:?} is not in the int chains"),
    }
}

// ---------------------------------------------------------------------------------------
// Strategies.
// ---------------------------------------------------------------------------------------

const CASES: u32 = 64;

/// An axis extent: mostly 2..=8, often 1, sometimes 0.
fn extent() -> impl Strategy<Value = usize> + Clone {
    prop_oneof![8 => 2usize..=8, 3 => Just(1usize), 1 => Just(0usize)]
}

/// Random block extents for `shape` (up to one past the axis, so blocks may overhang).
fn chunks_for(shape: &[usize]) -> Vec<std::ops::RangeInclusive<u64>> {
    shape.iter().map(|&n| 1..=(n as u64 + 1)).collect()
}

/// The last `keep` axes of `full`, some replaced by 1.
fn reduced(full: &[usize], keep: usize, ones: &[bool]) -> Vec<usize> {
    (full.len() - keep..full.len())
        .map(|i| if ones[i] { 1 } else { full[i] })
        .collect()
}

/// Two shapes that broadcast together: each is a suffix of a common shape with some axes
/// replaced by 1 (the first keeps every axis half the time).
fn arb_pair_shapes() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    prop::collection::vec(extent(), 0..=4)
        .prop_flat_map(|full| {
            let n = full.len();
            (
                Just(full),
                0..=n,
                prop::collection::vec(prop::bool::weighted(0.3), n),
                0..=n,
                prop::collection::vec(prop::bool::weighted(0.3), n),
                any::<bool>(),
            )
        })
        .prop_map(|(full, ka, oa, kb, ob, a_full)| {
            let a = if a_full {
                full.clone()
            } else {
                reduced(&full, ka, &oa)
            };
            (a, reduced(&full, kb, &ob))
        })
}

fn float_value() -> impl Strategy<Value = f64> + Clone {
    prop_oneof![
        12 => (-32i32..=32).prop_map(|v| f64::from(v) / 8.0),
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        3 => -1e3f64..1e3,
    ]
}

fn int_value() -> impl Strategy<Value = i64> + Clone {
    prop_oneof![20 => -20i64..=20, 1 => Just(i64::MIN), 1 => Just(i64::MAX)]
}

/// One step of an elementwise chain applied to the current value.
#[derive(Debug, Clone)]
enum Step {
    /// `cur op other` (or `other op cur`), broadcast.
    Other { op: Bin, other_left: bool },
    /// `cur op value` (or `value op cur`) with a weak scalar.
    Scalar {
        op: Bin,
        value: f64,
        scalar_left: bool,
    },
    /// A one-operand function.
    Unary(UnaryOp),
}

/// What is done to the chain's result before comparing it.
#[derive(Debug, Clone)]
enum Finish {
    Nothing,
    CompareOther(Cmp, bool),
    CompareScalar(Cmp, f64),
    /// `where(cur > 0, cur, other)`.
    Where,
    IsNan,
    Not,
    /// `astype(float32)` for float chains, `astype(int8)` for int chains.
    Narrow,
    /// `astype(int32)` for float chains, true division by `other` for int chains.
    Convert,
}

fn arb_cmp() -> impl Strategy<Value = Cmp> + Clone {
    prop::sample::select(vec![Cmp::Eq, Cmp::Ne, Cmp::Lt, Cmp::Le, Cmp::Gt, Cmp::Ge])
}

fn arb_finish(scalar: impl Strategy<Value = f64> + Clone) -> impl Strategy<Value = Finish> + Clone {
    prop_oneof![
        3 => Just(Finish::Nothing),
        2 => (arb_cmp(), any::<bool>()).prop_map(|(c, l)| Finish::CompareOther(c, l)),
        2 => (arb_cmp(), scalar).prop_map(|(c, v)| Finish::CompareScalar(c, v)),
        1 => Just(Finish::Where),
        1 => Just(Finish::IsNan),
        1 => Just(Finish::Not),
        1 => Just(Finish::Narrow),
        1 => Just(Finish::Convert),
    ]
}

/// Float chains use every binary operation but floor division and remainder (their zero
/// signs and quotients are checked in dedicated tests) and no `sign` (likewise).
fn arb_float_step() -> impl Strategy<Value = Step> + Clone {
    let bin = prop::sample::select(vec![
        Bin::Add,
        Bin::Sub,
        Bin::Mul,
        Bin::Div,
        Bin::Pow,
        Bin::Max,
        Bin::Min,
    ]);
    let un = prop::sample::select(vec![
        UnaryOp::Neg,
        UnaryOp::Abs,
        UnaryOp::Square,
        UnaryOp::Round,
        UnaryOp::Floor,
        UnaryOp::Ceil,
        UnaryOp::Trunc,
        UnaryOp::Sqrt,
        UnaryOp::Exp,
        UnaryOp::Expm1,
        UnaryOp::Log1p,
        UnaryOp::Sin,
        UnaryOp::Tanh,
        UnaryOp::Arctan,
    ]);
    prop_oneof![
        3 => (bin.clone(), any::<bool>())
            .prop_map(|(op, other_left)| Step::Other { op, other_left }),
        2 => (bin, float_value(), any::<bool>()).prop_map(|(op, value, scalar_left)| {
            Step::Scalar { op, value, scalar_left }
        }),
        2 => un.prop_map(Step::Unary),
    ]
}

/// Int chains: wrapping arithmetic, Python's floor division and remainder (zero divisors
/// included), small non-negative powers.
fn arb_int_step() -> impl Strategy<Value = Step> + Clone {
    let bin = prop::sample::select(vec![
        Bin::Add,
        Bin::Sub,
        Bin::Mul,
        Bin::FloorDiv,
        Bin::Rem,
        Bin::Max,
        Bin::Min,
    ]);
    let un = prop::sample::select(vec![
        UnaryOp::Neg,
        UnaryOp::Abs,
        UnaryOp::Sign,
        UnaryOp::Square,
    ]);
    prop_oneof![
        3 => (bin.clone(), any::<bool>())
            .prop_map(|(op, other_left)| Step::Other { op, other_left }),
        2 => (bin, -5i64..=5, any::<bool>()).prop_map(|(op, value, scalar_left)| {
            Step::Scalar { op, value: value as f64, scalar_left }
        }),
        1 => (0i64..=3).prop_map(|e| Step::Scalar {
            op: Bin::Pow,
            value: e as f64,
            scalar_left: false,
        }),
        2 => un.prop_map(Step::Unary),
    ]
}

#[derive(Debug, Clone)]
struct ChainCase<T> {
    a: ArrayD<T>,
    a_chunks: Vec<u64>,
    b: ArrayD<T>,
    b_chunks: Vec<u64>,
    /// `b` is float32 (float chains) or int32 (int chains).
    b_narrow: bool,
    steps: Vec<Step>,
    finish: Finish,
}

fn arb_chain_case<T: Clone + std::fmt::Debug + 'static>(
    value: impl Strategy<Value = T> + Clone + 'static,
    step: impl Strategy<Value = Step> + Clone + 'static,
    finish: impl Strategy<Value = Finish> + Clone + 'static,
) -> impl Strategy<Value = ChainCase<T>> {
    arb_pair_shapes()
        .prop_flat_map(move |(sa, sb)| {
            let (na, nb) = (sa.iter().product::<usize>(), sb.iter().product::<usize>());
            (
                (
                    prop::collection::vec(value.clone(), na),
                    chunks_for(&sa),
                    Just(sa),
                ),
                (
                    prop::collection::vec(value.clone(), nb),
                    chunks_for(&sb),
                    Just(sb),
                ),
                any::<bool>(),
                prop::collection::vec(step.clone(), 1..=5),
                finish.clone(),
            )
        })
        .prop_map(
            |((va, a_chunks, sa), (vb, b_chunks, sb), b_narrow, steps, finish)| ChainCase {
                a: ArrayD::from_shape_vec(IxDyn(&sa), va).unwrap(),
                a_chunks,
                b: ArrayD::from_shape_vec(IxDyn(&sb), vb).unwrap(),
                b_chunks,
                b_narrow,
                steps,
                finish,
            },
        )
}

/// Applies one step to the engine's current value.
fn apply_step(
    cur: &LazyArray,
    other: &LazyArray,
    step: &Step,
    scalar: impl Fn(f64) -> Operand,
) -> LazyArray {
    match *step {
        Step::Other {
            op,
            other_left: false,
        } => LazyArray::binary(op.op(), cur, other),
        Step::Other {
            op,
            other_left: true,
        } => LazyArray::binary(op.op(), other, cur),
        Step::Scalar {
            op,
            value,
            scalar_left: false,
        } => LazyArray::binary(op.op(), cur, scalar(value)),
        Step::Scalar {
            op,
            value,
            scalar_left: true,
        } => LazyArray::binary(op.op(), scalar(value), cur),
        Step::Unary(u) => cur.unary(u),
    }
    .unwrap_or_else(|e| panic!("{step:?} does not build: {e}"))
}

fn ref_step<T: Copy>(
    cur: &ArrayD<T>,
    other: &ArrayD<T>,
    step: &Step,
    scalar: impl Fn(f64) -> T,
    bin: impl Fn(Bin, T, T) -> T,
    unary: impl Fn(UnaryOp, T) -> T,
) -> ArrayD<T> {
    match *step {
        Step::Other { op, other_left } => {
            if other_left {
                zip_ref(other, cur, |x, y| bin(op, x, y))
            } else {
                zip_ref(cur, other, |x, y| bin(op, x, y))
            }
        }
        Step::Scalar {
            op,
            value,
            scalar_left,
        } => {
            let v = scalar(value);
            cur.mapv(|x| {
                if scalar_left {
                    bin(op, v, x)
                } else {
                    bin(op, x, v)
                }
            })
        }
        Step::Unary(u) => cur.mapv(|x| unary(u, x)),
    }
}

fn run_float_chain(case: &ChainCase<f64>) {
    let a = lazy(&case.a, &case.a_chunks);
    let (b, b_ref) = if case.b_narrow {
        let b32 = case.b.mapv(|v| v as f32);
        (lazy(&b32, &case.b_chunks), b32.mapv(f64::from))
    } else {
        (lazy(&case.b, &case.b_chunks), case.b.clone())
    };
    let (mut cur, mut want) = (a, case.a.clone());
    for step in &case.steps {
        cur = apply_step(&cur, &b, step, Operand::from);
        want = ref_step(&want, &b_ref, step, |v| v, Bin::f64, float_unary_ref);
        assert_eq!(cur.data_type(), DataType::Float64, "{step:?}");
        assert_eq!(shape_usize(&cur), want.shape(), "{step:?}");
    }
    assert_same(&values(&cur), &want, "chain");
    let (result, want) = match case.finish {
        Finish::Nothing => (cur, want),
        Finish::CompareOther(c, other_left) => {
            if other_left {
                (
                    LazyArray::binary(c.op(), &b, &cur).unwrap(),
                    zip_ref(&b_ref, &want, |x, y| c.eval(x, y)),
                )
            } else {
                (
                    LazyArray::binary(c.op(), &cur, &b).unwrap(),
                    zip_ref(&want, &b_ref, |x, y| c.eval(x, y)),
                )
            }
        }
        Finish::CompareScalar(c, v) => (
            LazyArray::binary(c.op(), &cur, v).unwrap(),
            want.mapv(|x| c.eval(x, v)),
        ),
        Finish::Where => (
            LazyArray::where_(&cur.greater(0.0).unwrap(), &cur, &b).unwrap(),
            zip_ref(&want, &b_ref, |x, y| if x > 0.0 { x } else { y }),
        ),
        Finish::IsNan => (
            cur.isnan().unwrap(),
            want.mapv(|x| f64::from(u8::from(x.is_nan()))),
        ),
        Finish::Not => (
            cur.logical_not().unwrap(),
            want.mapv(|x| f64::from(u8::from(x == 0.0))),
        ),
        Finish::Narrow => (
            cur.astype(DataType::Float32),
            want.mapv(|x| f64::from(x as f32)),
        ),
        // astype(int32): truncate toward zero, saturate, NaN -> 0 (outcore's documented rule).
        Finish::Convert => (
            cur.astype(DataType::Int32),
            want.mapv(|x| f64::from(x as i32)),
        ),
    };
    assert_eq!(shape_usize(&result), want.shape());
    assert_same(&values(&result), &want, &format!("{:?}", case.finish));
    check_blocks(&result, &want);
}

fn run_int_chain(case: &ChainCase<i64>) {
    let a = lazy(&case.a, &case.a_chunks);
    let (b, b_ref) = if case.b_narrow {
        let b32 = case.b.mapv(|v| v as i32);
        (lazy(&b32, &case.b_chunks), b32.mapv(i64::from))
    } else {
        (lazy(&case.b, &case.b_chunks), case.b.clone())
    };
    let (mut cur, mut want) = (a, case.a.clone());
    for step in &case.steps {
        cur = apply_step(&cur, &b, step, |v| Operand::from(v as i64));
        want = ref_step(&want, &b_ref, step, |v| v as i64, Bin::i64, int_unary_ref);
        assert_eq!(cur.data_type(), DataType::Int64, "{step:?}");
    }
    assert_eq!(cur.to_ndarray::<i64>().unwrap(), want, "chain");
    let wf = want.mapv(|v| v as f64);
    let bf = b_ref.mapv(|v| v as f64);
    let (result, want) = match case.finish {
        Finish::Nothing => (cur, wf),
        Finish::CompareOther(c, other_left) => {
            if other_left {
                (
                    LazyArray::binary(c.op(), &b, &cur).unwrap(),
                    zip_ref(&b_ref, &want, |x, y| c.eval(x, y)),
                )
            } else {
                (
                    LazyArray::binary(c.op(), &cur, &b).unwrap(),
                    zip_ref(&want, &b_ref, |x, y| c.eval(x, y)),
                )
            }
        }
        Finish::CompareScalar(c, v) => {
            let v = v.clamp(-100.0, 100.0) as i64;
            (
                LazyArray::binary(c.op(), &cur, v).unwrap(),
                want.mapv(|x| c.eval(x, v)),
            )
        }
        Finish::Where => (
            LazyArray::where_(&cur.greater(0).unwrap(), &cur, &b).unwrap(),
            zip_ref(&wf, &bf, |x, y| if x > 0.0 { x } else { y }),
        ),
        Finish::IsNan => (cur.isnan().unwrap(), wf.mapv(|_| 0.0)),
        Finish::Not => (
            cur.logical_not().unwrap(),
            want.mapv(|x| f64::from(u8::from(x == 0))),
        ),
        // astype(int8) wraps.
        Finish::Narrow => (
            cur.astype(DataType::Int8),
            want.mapv(|x| f64::from(x as i8)),
        ),
        // True division of integers is float64.
        Finish::Convert => {
            let q = &cur / &b;
            assert_eq!(q.data_type(), DataType::Float64);
            (q, zip_ref(&wf, &bf, |x, y| x / y))
        }
    };
    assert_same(&values(&result), &want, &format!("{:?}", case.finish));
    check_blocks(&result, &want);
}

// ---------------------------------------------------------------------------------------
// Selection, reshape, axis and join strategies.
// ---------------------------------------------------------------------------------------

/// One in-range selection entry for an axis of length `n` (ndarray panics out of range).
fn arb_slice_elem(n: usize) -> BoxedStrategy<SliceInfoElem> {
    let n = n as isize;
    let slice = (
        -n..=n,
        prop::option::of(-n..=n),
        prop_oneof![1isize..=3, -3isize..=-1],
    )
        .prop_map(|(start, end, step)| SliceInfoElem::Slice { start, end, step });
    if n > 0 {
        prop_oneof![1 => (-n..n).prop_map(SliceInfoElem::Index), 3 => slice].boxed()
    } else {
        slice.boxed()
    }
}

#[derive(Debug, Clone)]
struct SelectCase {
    a: ArrayD<i64>,
    chunks: Vec<u64>,
    /// Entries for the first axes (the rest are taken whole).
    elems: Vec<SliceInfoElem>,
    /// Where `NewAxis` entries go among `elems`.
    new_axes: Vec<usize>,
}

fn arb_select_case() -> impl Strategy<Value = SelectCase> {
    prop::collection::vec(extent(), 0..=4)
        .prop_flat_map(|shape| {
            let per_axis: Vec<BoxedStrategy<SliceInfoElem>> =
                shape.iter().map(|&n| arb_slice_elem(n)).collect();
            let n = shape.len();
            (
                Just(shape.clone()),
                chunks_for(&shape),
                per_axis,
                0..=n,
                prop::collection::vec(0..=n, 0..=2),
            )
        })
        .prop_map(|(shape, chunks, per_axis, k, new_axes)| SelectCase {
            a: iota(&shape).mapv(|v| v * 3 - 50),
            chunks,
            elems: per_axis[..k].to_vec(),
            new_axes: new_axes.into_iter().map(|p| p.min(k)).collect(),
        })
}

fn with_new_axes(elems: &[SliceInfoElem], new_axes: &[usize]) -> Vec<SliceInfoElem> {
    let mut out = Vec::new();
    for i in 0..=elems.len() {
        for _ in new_axes.iter().filter(|&&p| p == i) {
            out.push(SliceInfoElem::NewAxis);
        }
        if let Some(e) = elems.get(i) {
            out.push(*e);
        }
    }
    out
}

fn full_slice(step: isize) -> SliceInfoElem {
    SliceInfoElem::Slice {
        start: 0,
        end: None,
        step,
    }
}

/// ndarray's own slicing of `a` (every axis mentioned, as ndarray requires).
fn ndarray_select<T: Clone>(a: &ArrayD<T>, elems: &[SliceInfoElem]) -> ArrayD<T> {
    let mentioned = elems
        .iter()
        .filter(|e| !matches!(e, SliceInfoElem::NewAxis))
        .count();
    let mut all = elems.to_vec();
    all.extend((mentioned..a.ndim()).map(|_| full_slice(1)));
    let info = SliceInfo::<Vec<SliceInfoElem>, IxDyn, IxDyn>::try_from(all).unwrap();
    a.slice(&info).to_owned()
}

fn prime_factors(mut n: usize) -> Vec<usize> {
    let mut out = Vec::new();
    let mut p = 2;
    while n > 1 {
        while n.is_multiple_of(p) {
            out.push(p);
            n /= p;
        }
        p += 1;
    }
    out
}

#[derive(Debug, Clone)]
struct ReshapeCase {
    a: ArrayD<i64>,
    chunks: Vec<u64>,
    /// The new shape's extents.
    new_shape: Vec<usize>,
    /// Which extent is passed as -1, if any.
    minus_one: Option<usize>,
    /// Reshape the transpose of the input instead.
    from_transposed: bool,
    rechunk: Vec<u64>,
    steps: Vec<isize>,
}

fn arb_reshape_case() -> impl Strategy<Value = ReshapeCase> {
    prop::collection::vec(extent(), 0..=4)
        .prop_flat_map(|shape| {
            let total: usize = shape.iter().product();
            let nf = prime_factors(total).len();
            (
                Just(shape.clone()),
                chunks_for(&shape),
                0usize..=4,
                prop::collection::vec(0usize..4, nf),
                prop::option::of(0usize..4),
                any::<bool>(),
                prop::collection::vec(1u64..=6, 4),
                prop::collection::vec(prop_oneof![1isize..=2, -2isize..=-1], 4),
            )
        })
        .prop_map(
            |(shape, chunks, k, assign, minus_one, from_transposed, rechunk, steps)| {
                let total: usize = shape.iter().product();
                let new_shape = if total == 0 {
                    let k = k.max(1);
                    let mut v: Vec<usize> = rechunk[..k].iter().map(|&c| c as usize).collect();
                    v[minus_one.unwrap_or(0) % k] = 0;
                    v
                } else {
                    let k = if total > 1 { k.max(1) } else { k };
                    let mut v = vec![1usize; k];
                    for (f, slot) in prime_factors(total).into_iter().zip(assign) {
                        v[slot % k] *= f;
                    }
                    v
                };
                let minus_one = if total > 0 && !new_shape.is_empty() {
                    minus_one.map(|p| p % new_shape.len())
                } else {
                    None
                };
                ReshapeCase {
                    a: iota(&shape),
                    chunks,
                    rechunk: rechunk[..new_shape.len()].to_vec(),
                    steps: steps[..new_shape.len()].to_vec(),
                    new_shape,
                    minus_one,
                    from_transposed,
                }
            },
        )
}

#[derive(Debug, Clone)]
struct AxisCase {
    a: ArrayD<i64>,
    chunks: Vec<u64>,
    perm: Vec<usize>,
    expand_at: i64,
    squeeze_mask: Vec<bool>,
    extra_axes: Vec<usize>,
    widen: Vec<usize>,
    rechunk: Vec<u64>,
}

fn arb_axis_case() -> impl Strategy<Value = AxisCase> {
    prop::collection::vec(extent(), 0..=4)
        .prop_flat_map(|shape| {
            let n = shape.len();
            (
                Just(shape.clone()),
                chunks_for(&shape),
                Just((0..n).collect::<Vec<usize>>()).prop_shuffle(),
                -(n as i64 + 1)..=n as i64,
                prop::collection::vec(any::<bool>(), n),
                prop::collection::vec(0usize..=3, 0..=2),
                prop::collection::vec(0usize..=4, n),
                chunks_for(&shape),
            )
        })
        .prop_map(
            |(shape, chunks, perm, expand_at, squeeze_mask, extra_axes, widen, rechunk)| AxisCase {
                a: iota(&shape).mapv(|v| 7 - v),
                chunks,
                perm,
                expand_at,
                squeeze_mask,
                extra_axes,
                widen,
                rechunk,
            },
        )
}

const JOIN_TYPES: [DataType; 4] = [
    DataType::Int16,
    DataType::Int32,
    DataType::Float32,
    DataType::Float64,
];

/// numpy.result_type over int16, int32, float32 and float64 (written out by hand).
fn join_type(types: &[DataType]) -> DataType {
    let has = |t: DataType| types.contains(&t);
    if has(DataType::Float64) || (has(DataType::Float32) && has(DataType::Int32)) {
        DataType::Float64
    } else if has(DataType::Float32) {
        DataType::Float32
    } else if has(DataType::Int32) {
        DataType::Int32
    } else {
        DataType::Int16
    }
}

#[derive(Debug, Clone)]
struct JoinCase {
    shape: Vec<usize>,
    axis_raw: i64,
    /// Per input: extent along the concatenation axis, type, block extents.
    parts: Vec<(usize, DataType, Vec<u64>)>,
}

fn arb_join_case() -> impl Strategy<Value = JoinCase> {
    (prop::collection::vec(extent(), 1..=3), 1usize..=4)
        .prop_flat_map(|(shape, count)| {
            let n = shape.len();
            (
                Just(shape),
                any::<i64>(),
                prop::collection::vec(
                    (
                        0usize..=5,
                        prop::sample::select(JOIN_TYPES.to_vec()),
                        prop::collection::vec(1u64..=9, n),
                    ),
                    count,
                ),
            )
        })
        .prop_map(|(shape, axis_raw, parts)| JoinCase {
            shape,
            axis_raw,
            parts,
        })
}

// ---------------------------------------------------------------------------------------
// 1. Property tests.
// ---------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    /// Chains of float64 operations with a float64 or float32 second operand, broadcast,
    /// with weak float scalars on either side.
    #[test]
    fn float_chains_match_the_reference(
        case in arb_chain_case(float_value(), arb_float_step(), arb_finish(float_value()))
    ) {
        run_float_chain(&case);
    }

    /// Chains of int64 operations with an int64 or int32 second operand, broadcast, with
    /// weak int scalars on either side: wrapping, Python's floor rules, division by zero.
    #[test]
    fn int_chains_match_the_reference(
        case in arb_chain_case(
            int_value(),
            arb_int_step(),
            arb_finish((-8i32..=8).prop_map(f64::from)),
        )
    ) {
        run_int_chain(&case);
    }

    /// Ranges with steps of either sign, indices (negative too), NewAxis, unmentioned axes:
    /// equal to ndarray's own slicing; reversing the result again agrees too.
    #[test]
    fn selections_match_ndarray(case in arb_select_case()) {
        let x = lazy(&case.a, &case.chunks);
        let elems = with_new_axes(&case.elems, &case.new_axes);
        let sel = x.slice(&elems).unwrap();
        let want = ndarray_select(&case.a, &elems);
        prop_assert_eq!(shape_usize(&sel), want.shape());
        prop_assert_eq!(sel.to_ndarray::<i64>().unwrap(), want.clone());
        check_blocks(&sel, &want.mapv(|v| v as f64));
        // Reversed again, then a reduction over everything.
        let back: Vec<SliceInfoElem> = (0..sel.ndim()).map(|_| full_slice(-1)).collect();
        let rev = sel.slice(&back).unwrap();
        let want_rev = ndarray_select(&want, &back);
        prop_assert_eq!(rev.to_ndarray::<i64>().unwrap(), want_rev.clone());
        prop_assert_eq!(
            rev.sum(Axes::all()).unwrap().to_scalar::<i64>().unwrap(),
            want_rev.sum()
        );
    }

    /// Reshape to a random factorization of the element count (one extent as -1 at times,
    /// from a transposed input at times), then rechunk, step along every axis, transpose
    /// and sum over the first axis.
    #[test]
    fn reshapes_and_compositions_match_ndarray(case in arb_reshape_case()) {
        let x = lazy(&case.a, &case.chunks);
        let (input, input_ref) = if case.from_transposed {
            (x.transpose().unwrap(), case.a.t().as_standard_layout().into_owned())
        } else {
            (x, case.a.clone())
        };
        let mut shape: Vec<i64> = case.new_shape.iter().map(|&n| n as i64).collect();
        if let Some(p) = case.minus_one {
            shape[p] = -1;
        }
        let r = input.reshape(&shape).unwrap();
        let want = input_ref.to_shape(IxDyn(&case.new_shape)).unwrap().into_owned();
        prop_assert_eq!(shape_usize(&r), case.new_shape.clone());
        prop_assert_eq!(r.to_ndarray::<i64>().unwrap(), want.clone());
        check_blocks(&r, &want.mapv(|v| v as f64));

        let steps: Vec<SliceInfoElem> = case.steps.iter().map(|&s| full_slice(s)).collect();
        let y = r.rechunk(&case.rechunk).unwrap().slice(&steps).unwrap().transpose().unwrap();
        let want_y = ndarray_select(&want, &steps).t().as_standard_layout().into_owned();
        prop_assert_eq!(y.to_ndarray::<i64>().unwrap(), want_y.clone());
        if y.ndim() > 0 {
            let total = y.sum(0).unwrap();
            prop_assert_eq!(total.data_type(), DataType::Int64);
            prop_assert_eq!(total.to_ndarray::<i64>().unwrap(), want_y.sum_axis(Axis(0)));
        } else {
            prop_assert_eq!(y.sum(Axes::all()).unwrap().to_scalar::<i64>().unwrap(), want_y.sum());
        }
    }

    /// permute_axes, transpose, squeeze (all or some, negative axes), expand_dims,
    /// broadcast_to and rechunk.
    #[test]
    fn axis_operations_match_ndarray(case in arb_axis_case()) {
        let a = &case.a;
        let x = lazy(a, &case.chunks);
        let n = a.ndim();

        let p = x.permute_axes(&case.perm).unwrap();
        let want = a.view().permuted_axes(IxDyn(&case.perm)).to_owned();
        prop_assert_eq!(p.to_ndarray::<i64>().unwrap(), want.clone());
        for (out_axis, &in_axis) in case.perm.iter().enumerate() {
            prop_assert_eq!(p.block_grid().axis(out_axis), x.block_grid().axis(in_axis));
        }
        check_blocks(&p, &want.mapv(|v| v as f64));
        prop_assert_eq!(x.transpose().unwrap().to_ndarray::<i64>().unwrap(), a.t().to_owned());

        // squeeze(None) drops every length-1 axis.
        let kept: Vec<usize> = a.shape().iter().copied().filter(|&e| e != 1).collect();
        let sq = x.squeeze(None).unwrap();
        prop_assert_eq!(
            sq.to_ndarray::<i64>().unwrap(),
            a.to_shape(IxDyn(&kept)).unwrap().into_owned()
        );
        // squeeze(Some(..)) drops the chosen length-1 axes, given negative every other time.
        let chosen: Vec<usize> =
            (0..n).filter(|&i| a.shape()[i] == 1 && case.squeeze_mask[i]).collect();
        let given: Vec<i64> = chosen
            .iter()
            .enumerate()
            .map(|(j, &i)| if j % 2 == 1 { i as i64 - n as i64 } else { i as i64 })
            .collect();
        let some = x.squeeze(Some(&given)).unwrap();
        let some_shape: Vec<usize> =
            (0..n).filter(|i| !chosen.contains(i)).map(|i| a.shape()[i]).collect();
        prop_assert_eq!(
            some.to_ndarray::<i64>().unwrap(),
            a.to_shape(IxDyn(&some_shape)).unwrap().into_owned()
        );
        // Squeezing an axis longer than 1 is an error.
        if let Some(long) = (0..n).find(|&i| a.shape()[i] != 1) {
            prop_assert!(x.squeeze(Some(&[long as i64])).is_err());
        }

        let at = if case.expand_at < 0 { case.expand_at + n as i64 + 1 } else { case.expand_at };
        let e = x.expand_dims(case.expand_at).unwrap();
        let want_e = a.clone().insert_axis(Axis(at as usize));
        prop_assert_eq!(e.to_ndarray::<i64>().unwrap(), want_e.clone());
        check_blocks(&e, &want_e.mapv(|v| v as f64));

        // broadcast_to: new leading axes, and length-1 axes widened.
        let mut target = case.extra_axes.clone();
        target.extend((0..n).map(|i| if a.shape()[i] == 1 { case.widen[i] } else { a.shape()[i] }));
        let target_u64: Vec<u64> = target.iter().map(|&t| t as u64).collect();
        let bt = x.broadcast_to(&target_u64).unwrap();
        let want_b = a.broadcast(IxDyn(&target)).unwrap().to_owned();
        prop_assert_eq!(bt.to_ndarray::<i64>().unwrap(), want_b.clone());
        check_blocks(&bt, &want_b.mapv(|v| v as f64));
        if let Some(long) = (0..n).find(|&i| a.shape()[i] > 1) {
            let mut bad: Vec<u64> = a.shape().iter().map(|&e| e as u64).collect();
            bad[long] += 1;
            prop_assert!(x.broadcast_to(&bad).is_err());
        }

        let rc = x.rechunk(&case.rechunk).unwrap();
        for axis in 0..n {
            prop_assert_eq!(
                rc.block_grid().axis(axis).boundaries().collect::<Vec<_>>(),
                regular(a.shape()[axis] as u64, case.rechunk[axis])
            );
        }
        check_blocks(&rc, &a.mapv(|v| v as f64));
    }

    /// stack and concatenate of 1-4 arrays with different chunkings and types.
    #[test]
    fn stack_and_concatenate_match_ndarray(case in arb_join_case()) {
        let n = case.shape.len();
        let types: Vec<DataType> = case.parts.iter().map(|p| p.1).collect();
        let want_type = join_type(&types);

        // concatenate along an axis given in -n..n.
        let c_axis = case.axis_raw.rem_euclid(2 * n as i64) - n as i64;
        let axis = c_axis.rem_euclid(n as i64) as usize;
        let refs: Vec<ArrayD<f64>> = case.parts.iter().enumerate().map(|(k, (len, _, _))| {
            let mut shape = case.shape.clone();
            shape[axis] = *len;
            iota(&shape).mapv(|v| (v + 100 * k as i64) as f64)
        }).collect();
        let inputs: Vec<LazyArray> = refs.iter().zip(&case.parts)
            .map(|(r, (_, t, chunks))| typed_nd(*t, r, chunks)).collect();
        let cat = LazyArray::concatenate(&inputs, c_axis).unwrap();
        let views: Vec<_> = refs.iter().map(|r| r.view()).collect();
        let want = outcore::ndarray::concatenate(Axis(axis), &views).unwrap();
        prop_assert_eq!(cat.data_type(), want_type);
        prop_assert_eq!(shape_usize(&cat), want.shape());
        assert_same(&values(&cat), &want, "concatenate");
        check_blocks(&cat, &want);

        // stack of same-shape arrays along an axis in -(n+1)..=n.
        let s_axis = case.axis_raw.rem_euclid(2 * n as i64 + 2) - (n as i64 + 1);
        let refs: Vec<ArrayD<f64>> = (0..case.parts.len())
            .map(|k| iota(&case.shape).mapv(|v| (v - 50 * k as i64) as f64)).collect();
        let inputs: Vec<LazyArray> = refs.iter().zip(&case.parts)
            .map(|(r, (_, t, chunks))| typed_nd(*t, r, chunks)).collect();
        let st = LazyArray::stack(&inputs, s_axis).unwrap();
        let views: Vec<_> = refs.iter().map(|r| r.view()).collect();
        let stack_axis = Axis(s_axis.rem_euclid(n as i64 + 1) as usize);
        let want = outcore::ndarray::stack(stack_axis, &views).unwrap();
        prop_assert_eq!(st.data_type(), want_type);
        prop_assert_eq!(shape_usize(&st), want.shape());
        assert_same(&values(&st), &want, "stack");
        check_blocks(&st, &want);
    }

    /// Random sequences of selections, permutations, reshapes, expand_dims / squeeze,
    /// rechunks, broadcast arithmetic, concatenations, stacks and broadcast_to, each
    /// compared with ndarray, ending in reductions.
    #[test]
    fn shape_operation_sequences_match_ndarray(
        (a, chunks) in prop::collection::vec(extent(), 0..=4)
            .prop_flat_map(|shape| (Just(iota(&shape).mapv(|v| 2 * v - 9)), chunks_for(&shape))),
        seed in any::<u64>(),
        count in 1usize..=6,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let (mut x, mut want) = (lazy(&a, &chunks), a);
        let mut history = Vec::new();
        for _ in 0..count {
            let (y, w, what) = random_shape_op(&mut rng, &x, &want);
            history.push(what);
            prop_assert_eq!(shape_usize(&y), w.shape(), "after {:?}", history);
            prop_assert_eq!(y.to_ndarray::<i64>().unwrap(), w.clone(), "after {:?}", history);
            (x, want) = (y, w);
        }
        check_blocks(&x, &want.mapv(|v| v as f64));
        prop_assert_eq!(x.sum(Axes::all()).unwrap().to_scalar::<i64>().unwrap(), want.sum());
        if x.ndim() > 0 {
            let axis = rng.gen_range(0..x.ndim());
            prop_assert_eq!(
                x.sum(axis).unwrap().to_ndarray::<i64>().unwrap(),
                want.sum_axis(Axis(axis)),
                "sum({}) after {:?}", axis, history
            );
            // The maximum over an empty axis is an error (numpy's too).
            if want.shape()[axis] > 0 {
                prop_assert_eq!(
                    x.max(Axes::from(axis).keepdims()).unwrap().to_ndarray::<i64>().unwrap(),
                    want.map_axis(Axis(axis), |l| *l.iter().max().unwrap()).insert_axis(Axis(axis)),
                    "max({}, keepdims) after {:?}", axis, history
                );
            }
        }
    }
}

/// A random in-range slice (or index) per axis.
fn random_selection(rng: &mut StdRng, shape: &[usize]) -> Vec<SliceInfoElem> {
    shape
        .iter()
        .map(|&len| {
            let len = len as isize;
            if len > 0 && rng.gen_bool(0.2) {
                SliceInfoElem::Index(rng.gen_range(-len..len))
            } else {
                let start = rng.gen_range(-len..=len);
                let end = if rng.gen_bool(0.3) {
                    None
                } else {
                    Some(rng.gen_range(-len..=len))
                };
                let step = rng.gen_range(1..=3) * if rng.gen_bool(0.5) { -1 } else { 1 };
                SliceInfoElem::Slice { start, end, step }
            }
        })
        .collect()
}

fn random_chunks(rng: &mut StdRng, shape: &[usize]) -> Vec<u64> {
    shape
        .iter()
        .map(|&n| rng.gen_range(1..=n as u64 + 1))
        .collect()
}

/// One random shape operation on the engine's array and on the reference.
fn random_shape_op(
    rng: &mut StdRng,
    x: &LazyArray,
    a: &ArrayD<i64>,
) -> (LazyArray, ArrayD<i64>, String) {
    let n = a.ndim();
    let small = a.len() <= 3000;
    loop {
        match rng.gen_range(0..10) {
            0 => {
                let elems = random_selection(rng, a.shape());
                let what = format!("slice {elems:?}");
                return (x.slice(&elems).unwrap(), ndarray_select(a, &elems), what);
            }
            1 if n > 1 => {
                let mut perm: Vec<usize> = (0..n).collect();
                perm.shuffle(rng);
                let want = a
                    .view()
                    .permuted_axes(IxDyn(&perm))
                    .as_standard_layout()
                    .into_owned();
                return (
                    x.permute_axes(&perm).unwrap(),
                    want,
                    format!("permute {perm:?}"),
                );
            }
            2 if !a.is_empty() => {
                let k = rng.gen_range(0..=4usize).max(usize::from(a.len() > 1));
                let mut shape = vec![1usize; k];
                for f in prime_factors(a.len()) {
                    shape[rng.gen_range(0..k)] *= f;
                }
                let arg: Vec<i64> = shape.iter().map(|&e| e as i64).collect();
                let want = a.to_shape(IxDyn(&shape)).unwrap().into_owned();
                return (x.reshape(&arg).unwrap(), want, format!("reshape {shape:?}"));
            }
            3 if n < 5 => {
                let at = rng.gen_range(0..=n);
                let want = a.clone().insert_axis(Axis(at));
                return (
                    x.expand_dims(at as i64).unwrap(),
                    want,
                    format!("expand_dims {at}"),
                );
            }
            4 => {
                let kept: Vec<usize> = a.shape().iter().copied().filter(|&e| e != 1).collect();
                let want = a.to_shape(IxDyn(&kept)).unwrap().into_owned();
                return (x.squeeze(None).unwrap(), want, "squeeze".into());
            }
            5 => {
                let c = random_chunks(rng, a.shape());
                return (x.rechunk(&c).unwrap(), a.clone(), format!("rechunk {c:?}"));
            }
            6 if small => {
                // An operand of a broadcast-compatible shape (fewer axes, some of length 1).
                let keep = rng.gen_range(0..=n);
                let shape: Vec<usize> = a.shape()[n - keep..]
                    .iter()
                    .map(|&e| if rng.gen_bool(0.4) { 1 } else { e })
                    .collect();
                let b = iota(&shape).mapv(|v| v * 10 + 1);
                let c = random_chunks(rng, &shape);
                let want = zip_ref(a, &b, |p, q| p + q);
                let y = LazyArray::binary(BinaryOp::Add, x, lazy(&b, &c)).unwrap();
                return (y, want, format!("add {shape:?} in {c:?}"));
            }
            7 if n > 0 && small => {
                let axis = rng.gen_range(0..n);
                let mut rev = vec![full_slice(1); n];
                rev[axis] = full_slice(-1);
                let other = ndarray_select(a, &rev);
                let want =
                    outcore::ndarray::concatenate(Axis(axis), &[a.view(), other.view()]).unwrap();
                let y = LazyArray::concatenate(&[x.clone(), x.slice(&rev).unwrap()], axis as i64)
                    .unwrap();
                return (y, want, format!("concatenate with reversed on {axis}"));
            }
            8 if small && n < 5 => {
                let axis = rng.gen_range(0..=n);
                let plus = a.mapv(|v| v + 1);
                let want = outcore::ndarray::stack(Axis(axis), &[a.view(), plus.view()]).unwrap();
                let y = LazyArray::stack(&[x.clone(), (x + 1)], axis as i64).unwrap();
                return (y, want, format!("stack with x + 1 on {axis}"));
            }
            9 if small && n < 5 => {
                let mut shape = vec![2usize];
                shape.extend(a.shape().iter().map(|&e| if e == 1 { 3 } else { e }));
                let target: Vec<u64> = shape.iter().map(|&e| e as u64).collect();
                let want = a.broadcast(IxDyn(&shape)).unwrap().to_owned();
                return (
                    x.broadcast_to(&target).unwrap(),
                    want,
                    format!("broadcast_to {shape:?}"),
                );
            }
            _ => continue,
        }
    }
}

// ---------------------------------------------------------------------------------------
// 2. Type promotion and weak scalars.
// ---------------------------------------------------------------------------------------

#[test]
fn array_promotion_follows_numpy_result_type() {
    use DataType::*;
    // (a, b, numpy.result_type(a, b)), checked against numpy 2.
    let table = [
        (Bool, Int8, Int8),
        (Int8, UInt8, Int16),
        (Int16, UInt8, Int16),
        (Int16, UInt16, Int32),
        (Int32, UInt32, Int64),
        (Int64, UInt64, Float64),
        (Int8, UInt64, Float64),
        (UInt32, Int8, Int64),
        (UInt8, UInt16, UInt16),
        (UInt8, Int64, Int64),
        (UInt64, UInt8, UInt64),
        (Int8, Float32, Float32),
        (Int16, Float32, Float32),
        (UInt16, Float32, Float32),
        (Int32, Float32, Float64),
        (UInt32, Float32, Float64),
        (Int64, Float32, Float64),
        (UInt64, Float32, Float64),
        (Float32, Float64, Float64),
        (Bool, Float32, Float32),
        (Bool, Bool, Bool),
        (Int32, Int32, Int32),
    ];
    let (va, vb) = ([1.0, 0.0, 1.0], [1.0, 1.0, 0.0]);
    for (ta, tb, want) in table {
        let (a, b) = (typed(ta, &va), typed(tb, &vb));
        for (x, y) in [(&a, &b), (&b, &a)] {
            let ctx = format!("{} op {}", x.data_type(), y.data_type());
            let sum = LazyArray::binary(BinaryOp::Add, x, y).unwrap();
            assert_eq!(sum.data_type(), want, "{ctx}");
            // bool + bool is logical or (numpy).
            let want_sum = if want == Bool {
                [1.0, 1.0, 1.0]
            } else {
                [2.0, 1.0, 1.0]
            };
            assert_flat(&sum, &want_sum, &ctx);
            let prod = LazyArray::binary(BinaryOp::Mul, x, y).unwrap();
            assert_eq!(prod.data_type(), want, "{ctx}");
            assert_flat(&prod, &[1.0, 0.0, 0.0], &ctx);
            let max = x.maximum(y).unwrap();
            assert_eq!(max.data_type(), want, "{ctx}");
            assert_flat(&max, &[1.0, 1.0, 1.0], &ctx);
            // True division: float32 stays, everything else is float64.
            let q = LazyArray::binary(BinaryOp::Div, x, y).unwrap();
            let want_q = if want == Float32 { Float32 } else { Float64 };
            assert_eq!(q.data_type(), want_q, "{ctx}");
            let eq = x.equal(y).unwrap();
            assert_eq!(eq.data_type(), Bool, "{ctx}");
            assert_flat(&eq, &[1.0, 0.0, 0.0], &ctx);
            // where, concatenate and stack promote the same way.
            let cond = typed(Bool, &[1.0, 0.0, 1.0]);
            assert_eq!(
                LazyArray::where_(&cond, x, y).unwrap().data_type(),
                want,
                "{ctx}"
            );
            let cat = LazyArray::concatenate(&[x.clone(), y.clone()], 0).unwrap();
            assert_eq!(cat.data_type(), want, "{ctx}");
            let st = LazyArray::stack(&[x.clone(), y.clone()], 0).unwrap();
            assert_eq!(st.data_type(), want, "{ctx}");
        }
    }
    // Unsigned results wrap: uint8 - uint16 -> uint16.
    let d = typed(UInt8, &[1.0]) - typed(UInt16, &[2.0]);
    assert_eq!(d.data_type(), UInt16);
    assert_eq!(
        d.to_ndarray::<u16>().unwrap().into_raw_vec_and_offset().0,
        vec![u16::MAX]
    );
    // int8 + uint8 -> int16 does not wrap at 8 bits.
    let s = typed(Int8, &[100.0]) + typed(UInt8, &[200.0]);
    assert_eq!(
        s.to_ndarray::<i16>().unwrap().into_raw_vec_and_offset().0,
        vec![300]
    );
}

#[test]
fn weak_scalars_follow_nep50() {
    use DataType::*;
    let va = [1.0, 0.0, 1.0];
    // (array type, scalar, result type, values of array + scalar), from numpy 2.
    let cases: Vec<(DataType, Operand, DataType, [f64; 3])> = vec![
        (Bool, 1i64.into(), Int64, [2.0, 1.0, 2.0]),
        (Int8, 1i64.into(), Int8, [2.0, 1.0, 2.0]),
        (UInt8, 1i32.into(), UInt8, [2.0, 1.0, 2.0]),
        (Float32, 1i64.into(), Float32, [2.0, 1.0, 2.0]),
        (Int64, 1i64.into(), Int64, [2.0, 1.0, 2.0]),
        (Bool, 1.5f64.into(), Float64, [2.5, 1.5, 2.5]),
        (Int8, 1.5f64.into(), Float64, [2.5, 1.5, 2.5]),
        (UInt8, 1.5f64.into(), Float64, [2.5, 1.5, 2.5]),
        (Float32, 1.5f64.into(), Float32, [2.5, 1.5, 2.5]),
        (Float32, 1.5f32.into(), Float32, [2.5, 1.5, 2.5]),
        (Int64, 1.5f64.into(), Float64, [2.5, 1.5, 2.5]),
        (Bool, true.into(), Bool, [1.0, 1.0, 1.0]),
        (Int8, true.into(), Int8, [2.0, 1.0, 2.0]),
        (UInt8, true.into(), UInt8, [2.0, 1.0, 2.0]),
        (Float32, true.into(), Float32, [2.0, 1.0, 2.0]),
        // In range at the edge: kept, and the sum wraps.
        (Int8, 127i64.into(), Int8, [-128.0, 127.0, -128.0]),
        (UInt8, 255i64.into(), UInt8, [0.0, 255.0, 0.0]),
        (
            Int16,
            (-32768i64).into(),
            Int16,
            [-32767.0, -32768.0, -32767.0],
        ),
    ];
    for (t, scalar, want, want_values) in cases {
        let x = typed(t, &va);
        let ctx = format!("{t} + {scalar:?}");
        let y = LazyArray::binary(BinaryOp::Add, &x, scalar.clone()).unwrap();
        assert_eq!(y.data_type(), want, "{ctx}");
        assert_flat(&y, &want_values, &ctx);
        // The scalar on the left gives the same type.
        let z = LazyArray::binary(BinaryOp::Add, scalar, &x).unwrap();
        assert_eq!(z.data_type(), want, "{ctx} (scalar first)");
        assert_flat(&z, &want_values, &ctx);
    }
    // Integers that do not fit the array's type are errors (numpy: OverflowError).
    let bad: Vec<(DataType, i64)> = vec![
        (Int8, 300),
        (Int8, -129),
        (UInt8, -1),
        (UInt8, 256),
        (Int16, 40_000),
        (UInt16, 70_000),
        (Int32, 3_000_000_000),
        (UInt32, -1),
        (UInt64, -1),
    ];
    for (t, v) in bad {
        assert!(
            (typed(t, &va) + v).checked().is_err(),
            "{t} + {v} should be an error"
        );
        assert!(
            LazyArray::binary(BinaryOp::Mul, v, typed(t, &va)).is_err(),
            "{v} * {t} should be an error"
        );
    }
    // Scalars on the left keep the array's type.
    let d = LazyArray::binary(BinaryOp::Sub, 10, typed(Int8, &va)).unwrap();
    assert_eq!(d.data_type(), Int8);
    assert_flat(&d, &[9.0, 10.0, 9.0], "10 - int8");
    let q = LazyArray::binary(BinaryOp::Div, 1, typed(Int32, &va)).unwrap();
    assert_eq!(q.data_type(), Float64);
    assert_flat(&q, &[1.0, f64::INFINITY, 1.0], "1 / int32");
    let f = LazyArray::binary(BinaryOp::Sub, 1.5, typed(Float32, &va)).unwrap();
    assert_eq!(f.data_type(), Float32);
    assert_flat(&f, &[0.5, 1.5, 0.5], "1.5 - float32");
    // float32 / int scalar stays float32.
    assert_eq!((typed(Float32, &va) / 2).data_type(), Float32);
    // Two scalars: numpy's strong types.
    let two = LazyArray::binary(BinaryOp::Add, 1, 2).unwrap();
    assert_eq!((two.data_type(), two.ndim()), (Int64, 0));
    assert_eq!(two.to_scalar::<i64>().unwrap(), 3);
    let mixed = LazyArray::binary(BinaryOp::Add, 1, 2.5).unwrap();
    assert_eq!(mixed.data_type(), Float64);
    assert_eq!(mixed.to_scalar::<f64>().unwrap(), 3.5);
    // Integer arithmetic wraps in the array's type.
    let w = typed(Int16, &[20000.0]) * 2;
    assert_eq!(w.to_ndarray::<i16>().unwrap()[[0]], -25536);
    let u = typed(UInt8, &[100.0]) + 200;
    assert_eq!(u.to_ndarray::<u8>().unwrap()[[0]], 44);
}

#[test]
fn unary_result_types() {
    use DataType::*;
    // Float functions: numpy's float16 for 8- and 16-bit types is float32 here.
    let sqrt_types = [
        (Bool, Float32),
        (Int8, Float32),
        (UInt8, Float32),
        (Int16, Float32),
        (UInt16, Float32),
        (Int32, Float64),
        (UInt32, Float64),
        (Int64, Float64),
        (UInt64, Float64),
        (Float32, Float32),
        (Float64, Float64),
    ];
    for (t, want) in sqrt_types {
        let x = typed(t, &[1.0, 0.0, 1.0]);
        let r = x.sqrt().unwrap();
        assert_eq!(r.data_type(), want, "sqrt({t})");
        assert_flat(&r, &[1.0, 0.0, 1.0], &format!("sqrt({t})"));
        assert_eq!(x.exp().unwrap().data_type(), want, "exp({t})");
        assert_eq!(x.sin().unwrap().data_type(), want, "sin({t})");
        for pred in [x.isnan(), x.isfinite(), x.isinf(), x.logical_not()] {
            assert_eq!(pred.unwrap().data_type(), Bool, "predicate of {t}");
        }
    }
    // Types that keep their type.
    for t in [Int8, UInt8, Int16, Int32, Int64, UInt64, Float32, Float64] {
        let x = typed(t, &[3.0, 1.0]);
        for (name, r) in [
            ("neg", (-&x).checked()),
            ("abs", x.abs()),
            ("sign", x.sign()),
            ("square", x.square()),
            ("round", x.round()),
            ("floor", x.floor()),
            ("ceil", x.ceil()),
            ("trunc", x.trunc()),
        ] {
            assert_eq!(r.unwrap().data_type(), t, "{name}({t})");
        }
    }
    // bool: neg is an error (numpy refuses it), abs stays bool, square is int8 (numpy).
    let b = typed(Bool, &[1.0, 0.0]);
    assert!((-&b).checked().is_err());
    assert_eq!(b.abs().unwrap().data_type(), Bool);
    let sq = b.square().unwrap();
    assert_eq!(sq.data_type(), Int8);
    assert_flat(&sq, &[1.0, 0.0], "square(bool)");
    // Unsigned neg wraps (numpy).
    let n = -(typed(UInt8, &[1.0, 0.0]));
    assert_eq!(
        n.to_ndarray::<u8>().unwrap().into_raw_vec_and_offset().0,
        vec![255, 0]
    );
    // int8 abs of the minimum wraps (numpy).
    let m = typed(Int8, &[-128.0, -3.0]).abs().unwrap();
    assert_eq!(
        m.to_ndarray::<i8>().unwrap().into_raw_vec_and_offset().0,
        vec![-128, 3]
    );
}

#[test]
fn errors_for_invalid_operations() {
    use DataType::*;
    let b = typed(Bool, &[1.0, 0.0]);
    assert!((&b - &b).checked().is_err(), "bool - bool");
    assert!(
        LazyArray::binary(BinaryOp::Sub, &b, true).is_err(),
        "bool - true"
    );
    assert!(
        LazyArray::binary(BinaryOp::Sub, true, &b).is_err(),
        "true - bool"
    );
    assert!((-&b).checked().is_err(), "-bool");
    // bool - int is fine (int64).
    assert_eq!((&b - 1).data_type(), Int64);
    // Shapes that do not broadcast.
    let x = lazy(&iota(&[2, 3]), &[1, 2]);
    let y = lazy(&iota(&[3, 2]), &[2, 2]);
    assert!((&x + &y).checked().is_err());
    assert!((&x + lazy(&iota(&[2]), &[1])).checked().is_err());
    assert!(LazyArray::where_(&x.greater(1).unwrap(), &x, &y).is_err());
    // Shape operations.
    assert!(x.reshape(&[4, 2]).is_err());
    assert!(x.reshape(&[-1, -1]).is_err());
    assert!(x.reshape(&[-2, 3]).is_err());
    assert!(x.permute_axes(&[0]).is_err());
    assert!(x.permute_axes(&[0, 2]).is_err());
    assert!(x.squeeze(Some(&[0])).is_err());
    assert!(x.squeeze(Some(&[2])).is_err());
    assert!(x.expand_dims(3).is_err());
    assert!(x.expand_dims(-4).is_err());
    assert!(x.broadcast_to(&[3]).is_err());
    assert!(x.broadcast_to(&[2, 2]).is_err());
    assert!(x.rechunk(&[1]).is_err());
    assert!(x.rechunk(&[1, 0]).is_err());
    assert!(LazyArray::concatenate(&[x.clone(), y.clone()], 0).is_err());
    assert!(LazyArray::concatenate(&[x.clone(), y.clone()], 1).is_err());
    assert!(LazyArray::concatenate(&[x.clone(), x.clone()], 2).is_err());
    assert!(LazyArray::concatenate(&[], 0).is_err());
    assert!(LazyArray::stack(&[x.clone(), y.clone()], 0).is_err());
    assert!(LazyArray::stack(&[x.clone(), x.clone()], 3).is_err());
    assert!(LazyArray::stack(&[], 0).is_err());
    // Selection.
    assert!(x.slice(s![2, ..]).is_err());
    assert!(x.slice(s![-3, ..]).is_err());
    assert!(x.slice(s![.., 3]).is_err());
    assert!(x.slice(s![.., .., ..]).is_err());
    let zero_step = SliceInfoElem::Slice {
        start: 0,
        end: Some(2),
        step: 0,
    };
    assert!(x.slice([zero_step]).is_err());
    // Results of the wrong type.
    assert!(x.to_ndarray::<i32>().is_err());
    assert!(x.to_scalar::<i64>().is_err());
    assert!(LazyArray::from_array(iota(&[2, 3]), &[1]).is_err());
}

/// A permutation must list every axis once: `np.transpose(x, (0, 0))` is an error
/// ("repeated axis in transpose").
#[test]
fn permute_axes_rejects_repeated_axes() {
    let x = lazy(&iota(&[2, 3]), &[1, 2]);
    let p = x.permute_axes(&[0, 0]);
    assert!(
        p.is_err(),
        "permute_axes(&[0, 0]) of a (2, 3) array built {:?}",
        p.map(|p| p.shape().to_vec())
    );
    let y = lazy(&iota(&[2, 3, 4]), &[1, 2, 2]);
    assert!(y.permute_axes(&[1, 1, 0]).is_err());
    assert!(y.permute_axes(&[2, 0, 2]).is_err());
}

/// numpy reduces empty axes to the identity: `np.zeros((0,)).sum() == 0`,
/// `np.zeros((0, 3)).sum(0)` is `[0, 0, 0]`, `np.zeros((3, 0)).mean(-1)` is `[nan] * 3`.
#[test]
fn reductions_of_empty_arrays_give_numpy_identities() {
    let empty = |shape: &[usize]| lazy(&iota(shape), &vec![1; shape.len()]);
    let sum = |x: &LazyArray, axes: Axes| x.sum(axes).unwrap().to_ndarray::<i64>().unwrap();
    let mean = |x: &LazyArray, axes: Axes| x.mean(axes).unwrap().to_ndarray::<f64>().unwrap();
    // Reductions whose result is empty too work.
    assert_eq!(sum(&empty(&[0, 3]), Axes::from(-1)).shape(), &[0]);
    // Reductions over an empty axis into a non-empty result.
    let x = empty(&[0]);
    assert_eq!(sum(&x, Axes::all()).into_raw_vec_and_offset().0, vec![0]);
    assert!(mean(&x, Axes::all()).iter().all(|v| v.is_nan()));
    let x = empty(&[0, 3]);
    assert_eq!(
        sum(&x, Axes::from(0)).into_raw_vec_and_offset().0,
        vec![0, 0, 0]
    );
    let x = empty(&[3, 0]);
    let m = mean(&x, Axes::from(-1));
    assert_eq!(m.len(), 3);
    assert!(m.iter().all(|v| v.is_nan()));
    // An empty selection of a non-empty array.
    let x = lazy(&iota(&[4]), &[2]).slice(s![2..2]).unwrap();
    assert_eq!(x.sum(Axes::all()).unwrap().to_scalar::<i64>().unwrap(), 0);
}

// ---------------------------------------------------------------------------------------
// Elementwise semantics on chosen values.
// ---------------------------------------------------------------------------------------

#[test]
fn integer_division_follows_python() {
    let a = [-7.0, 7.0, -7.0, 7.0, 5.0, -5.0, 0.0, 6.0];
    let b = [2.0, -2.0, -2.0, 2.0, 0.0, 0.0, 3.0, -3.0];
    for t in [
        DataType::Int8,
        DataType::Int16,
        DataType::Int32,
        DataType::Int64,
    ] {
        let (x, y) = (typed(t, &a), typed(t, &b));
        assert_flat(
            &x.floor_divide(&y).unwrap(),
            &[-4.0, -4.0, 3.0, 3.0, 0.0, 0.0, 0.0, -2.0],
            &format!("{t} //"),
        );
        assert_flat(
            &(&x % &y),
            &[1.0, -1.0, -1.0, 1.0, 0.0, 0.0, 0.0, 0.0],
            &format!("{t} %"),
        );
    }
    // Unsigned: plain division; by zero gives 0.
    let (x, y) = (
        typed(DataType::UInt8, &[7.0, 200.0, 9.0]),
        typed(DataType::UInt8, &[2.0, 0.0, 10.0]),
    );
    assert_flat(&x.floor_divide(&y).unwrap(), &[3.0, 0.0, 0.0], "uint8 //");
    assert_flat(&(&x % &y), &[1.0, 0.0, 9.0], "uint8 %");
    // MIN // -1 wraps to MIN, MIN % -1 is 0 (numpy).
    let m = typed(DataType::Int8, &[-128.0]);
    assert_eq!(
        m.floor_divide(-1).unwrap().to_ndarray::<i8>().unwrap()[[0]],
        -128
    );
    assert_eq!(
        LazyArray::binary(BinaryOp::Rem, &m, -1)
            .unwrap()
            .to_ndarray::<i8>()
            .unwrap()[[0]],
        0
    );
    let m = lazy(&ArrayD::from_elem(IxDyn(&[1]), i64::MIN), &[1]);
    assert_eq!(
        m.floor_divide(-1).unwrap().to_ndarray::<i64>().unwrap()[[0]],
        i64::MIN
    );
    // Wrapping arithmetic.
    let w = typed(DataType::Int8, &[127.0, -128.0]);
    assert_flat(&(&w + 1), &[-128.0, -127.0], "int8 + 1");
    assert_flat(&(&w - 1), &[126.0, 127.0], "int8 - 1");
    assert_flat(&(&w * 2), &[-2.0, 0.0], "int8 * 2");
    assert_flat(&(typed(DataType::UInt8, &[0.0]) - 1), &[255.0], "uint8 - 1");
    // Integer powers.
    let p = typed(DataType::Int64, &[2.0, 3.0, -2.0, 0.0]);
    assert_flat(&p.pow(3).unwrap(), &[8.0, 27.0, -8.0, 0.0], "int ** 3");
    assert_flat(&p.pow(0).unwrap(), &[1.0, 1.0, 1.0, 1.0], "int ** 0");
    assert_flat(
        &typed(DataType::Int8, &[2.0]).pow(7).unwrap(),
        &[-128.0],
        "int8 2 ** 7 wraps",
    );
    // True division of integers: float64, division by zero gives inf / nan.
    let q = typed(DataType::Int32, &[1.0, -1.0, 0.0, 7.0])
        / typed(DataType::Int32, &[0.0, 0.0, 0.0, 2.0]);
    assert_eq!(q.data_type(), DataType::Float64);
    assert_flat(
        &q,
        &[f64::INFINITY, f64::NEG_INFINITY, f64::NAN, 3.5],
        "int / int",
    );
}

/// numpy's float floor division is `divmod`'s quotient, not `floor(a / b)`:
/// `np.floor_divide(1.0, 0.1) == 9.0` (as Python's `1.0 // 0.1`), `inf // 2.0` is NaN and
/// `-1.0 // inf` is -1.0. (Values printed by numpy 2.4.)
#[test]
fn float_floor_division_follows_numpy() {
    let a = [
        1.0,
        -1.0,
        7.5,
        -3.0,
        1.0,
        0.0,
        f64::INFINITY,
        -1.0,
        1.0,
        5.0,
        -5.0,
    ];
    let b = [
        0.1,
        0.1,
        2.0,
        0.7,
        0.0,
        0.0,
        2.0,
        f64::INFINITY,
        f64::INFINITY,
        -0.0,
        0.0,
    ];
    let want: Vec<f64> = a
        .iter()
        .zip(&b)
        .map(|(&x, &y)| np_floor_divide(x, y))
        .collect();
    assert_eq!(
        want[..4].to_vec(),
        vec![9.0, -10.0, 3.0, -5.0],
        "the reference itself"
    );
    for t in [DataType::Float64, DataType::Float32] {
        let (x, y) = (typed(t, &a), typed(t, &b));
        let want: Vec<f64> = if t == DataType::Float64 {
            want.clone()
        } else {
            // float32 quotients of the float32 values.
            a.iter()
                .zip(&b)
                .map(|(&p, &q)| {
                    let (p, q) = (p as f32, q as f32);
                    let m = p % q;
                    if q == 0.0 {
                        f64::from(p / q)
                    } else {
                        let mut div = (p - m) / q;
                        if m != 0.0 && ((q < 0.0) != (m < 0.0)) {
                            div -= 1.0;
                        }
                        if div != 0.0 {
                            let mut f = div.floor();
                            if div - f > 0.5 {
                                f += 1.0;
                            }
                            f64::from(f)
                        } else {
                            f64::from(0f32.copysign(p / q))
                        }
                    }
                })
                .collect()
        };
        assert_flat(&x.floor_divide(&y).unwrap(), &want, &format!("{t} //"));
    }
    // A weak scalar divisor.
    let x = typed(DataType::Float64, &[1.0, 2.0, 0.3]);
    assert_flat(
        &x.floor_divide(0.1).unwrap(),
        &[9.0, 19.0, 2.0],
        "float64 // 0.1",
    );
}

/// Float remainders: the sign of the divisor, Python's rules (values equal numpy's).
#[test]
fn float_remainder_values_follow_numpy() {
    let a = [1.0, -1.0, 7.5, -7.5, 5.0, -5.0, -1.0, 1.0, 5.0];
    let b = [
        0.1,
        0.1,
        2.0,
        2.0,
        -3.0,
        3.0,
        f64::INFINITY,
        f64::INFINITY,
        0.0,
    ];
    let want: Vec<f64> = a
        .iter()
        .zip(&b)
        .map(|(&x, &y)| np_remainder(x, y))
        .collect();
    let r = typed(DataType::Float64, &a) % typed(DataType::Float64, &b);
    assert_flat(&r, &want, "float64 %");
    // Integers computed as floats agree with the integer kernel.
    let r = typed(DataType::Float64, &[-7.0, 7.0]) % -2;
    assert_flat(&r, &[-1.0, -1.0], "float64 % -2");
}

/// numpy gives a zero remainder the sign of the divisor: `np.remainder(-4.0, 2.0)` is `+0.0`
/// and `np.remainder(4.0, -2.0)` is `-0.0` (npy_divmod: `mod = copysign(0, b)`).
#[test]
fn float_zero_remainder_takes_the_divisors_sign() {
    let r = typed(DataType::Float64, &[-4.0, 4.0, 0.0, -0.0])
        % typed(DataType::Float64, &[2.0, -2.0, -3.0, 3.0]);
    let got: Vec<bool> = flat(&r).iter().map(|v| v.is_sign_negative()).collect();
    let want: Vec<bool> = [(-4.0, 2.0), (4.0, -2.0), (0.0, -3.0), (-0.0, 3.0)]
        .iter()
        .map(|&(x, y)| np_remainder(x, y).is_sign_negative())
        .collect();
    assert_eq!(want, vec![false, true, true, false], "the reference itself");
    assert_eq!(got, want, "sign bits of {:?}", flat(&r));
}

/// `np.sign(-0.0)` is `+0.0`.
#[test]
fn float_sign_of_negative_zero_is_positive_zero() {
    let s = typed(DataType::Float64, &[-0.0]).sign().unwrap();
    assert!(
        !flat(&s)[0].is_sign_negative(),
        "np.sign(-0.0) is +0.0, got {:?}",
        flat(&s)
    );
}

#[test]
fn float_semantics_on_chosen_values() {
    let f = |v: &[f64]| typed(DataType::Float64, v);
    // Round half to even.
    assert_flat(
        &f(&[0.5, 1.5, 2.5, -0.5, -1.5, 2.4999, -2.5000001])
            .round()
            .unwrap(),
        &[0.0, 2.0, 2.0, -0.0, -2.0, 2.0, -3.0],
        "round",
    );
    assert_flat(&f(&[-1.5, 1.5]).floor().unwrap(), &[-2.0, 1.0], "floor");
    assert_flat(&f(&[-1.5, 1.5]).ceil().unwrap(), &[-1.0, 2.0], "ceil");
    assert_flat(&f(&[-1.5, 1.5]).trunc().unwrap(), &[-1.0, 1.0], "trunc");
    assert_flat(
        &f(&[-2.0, 0.0, 3.0, f64::NAN, f64::NEG_INFINITY])
            .sign()
            .unwrap(),
        &[-1.0, 0.0, 1.0, f64::NAN, -1.0],
        "sign",
    );
    assert_flat(
        &typed(DataType::Int8, &[-5.0, 0.0, 7.0]).sign().unwrap(),
        &[-1.0, 0.0, 1.0],
        "int sign",
    );
    assert_flat(
        &typed(DataType::UInt8, &[0.0, 200.0]).sign().unwrap(),
        &[0.0, 1.0],
        "uint sign",
    );
    // maximum / minimum propagate NaN from either side.
    let (x, y) = (
        f(&[1.0, f64::NAN, 3.0, -0.0]),
        f(&[f64::NAN, 0.0, 2.0, 1.0]),
    );
    assert_flat(
        &x.maximum(&y).unwrap(),
        &[f64::NAN, f64::NAN, 3.0, 1.0],
        "maximum",
    );
    assert_flat(
        &x.minimum(&y).unwrap(),
        &[f64::NAN, f64::NAN, 2.0, -0.0],
        "minimum",
    );
    // Division by zero.
    assert_flat(
        &(f(&[1.0, -1.0, 0.0]) / 0.0),
        &[f64::INFINITY, f64::NEG_INFINITY, f64::NAN],
        "x / 0",
    );
    // Predicates.
    let sp = f(&[1.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.0]);
    assert_flat(&sp.isnan().unwrap(), &[0.0, 1.0, 0.0, 0.0, 0.0], "isnan");
    assert_flat(&sp.isinf().unwrap(), &[0.0, 0.0, 1.0, 1.0, 0.0], "isinf");
    assert_flat(
        &sp.isfinite().unwrap(),
        &[1.0, 0.0, 0.0, 0.0, 1.0],
        "isfinite",
    );
    // logical_not: NaN is true, so not(NaN) is false.
    assert_flat(
        &sp.logical_not().unwrap(),
        &[0.0, 0.0, 0.0, 0.0, 1.0],
        "not",
    );
    let i = typed(DataType::Int32, &[0.0, 5.0]);
    assert_flat(&i.isnan().unwrap(), &[0.0, 0.0], "isnan(int)");
    assert_flat(&i.isfinite().unwrap(), &[1.0, 1.0], "isfinite(int)");
    // Comparisons with NaN are false except !=.
    let n = f(&[f64::NAN]);
    for (c, want) in [
        (Cmp::Eq, 0.0),
        (Cmp::Ne, 1.0),
        (Cmp::Lt, 0.0),
        (Cmp::Le, 0.0),
        (Cmp::Gt, 0.0),
        (Cmp::Ge, 0.0),
    ] {
        assert_flat(
            &LazyArray::binary(c.op(), &n, &n).unwrap(),
            &[want],
            &format!("{c:?} NaN"),
        );
    }
    // Logical operations on numbers use truthiness (NaN is true).
    let (p, q) = (f(&[0.0, 2.0, f64::NAN, 0.0]), f(&[0.0, 0.0, 1.0, -1.0]));
    assert_flat(&p.logical_and(&q).unwrap(), &[0.0, 0.0, 1.0, 0.0], "and");
    assert_flat(&p.logical_or(&q).unwrap(), &[0.0, 1.0, 1.0, 1.0], "or");
    assert_flat(&p.logical_xor(&q).unwrap(), &[0.0, 1.0, 0.0, 1.0], "xor");
    assert_eq!(p.logical_and(&q).unwrap().data_type(), DataType::Bool);
    assert_flat(
        &p.logical_and(true).unwrap(),
        &[0.0, 1.0, 1.0, 0.0],
        "and true",
    );
    // Powers.
    assert_flat(
        &f(&[2.0, -8.0, 4.0]).pow(0.5).unwrap(),
        &[2f64.sqrt(), f64::NAN, 2.0],
        "pow",
    );
    assert_flat(
        &f(&[2.0, 0.0]).pow(-1.0).unwrap(),
        &[0.5, f64::INFINITY],
        "pow -1",
    );
}

/// (name, the engine's function, float64 and float32 references, whether the input must be
/// positive).
type FunctionCase = (
    &'static str,
    fn(&LazyArray) -> outcore::Result<LazyArray>,
    fn(f64) -> f64,
    fn(f32) -> f32,
    bool,
);

/// Float functions equal Rust's (the same libm numpy wraps up to an ulp) in float64 and in
/// float32; integer inputs compute in float32 (8/16-bit) or float64.
#[test]
fn float_functions_match_std() {
    let v: Vec<f64> = (0..19).map(|i| -0.9 + 0.1 * f64::from(i)).collect();
    let pos: Vec<f64> = v.iter().map(|x| x.abs() + 0.1).collect();
    let cases: Vec<FunctionCase> = vec![
        ("sqrt", LazyArray::sqrt, f64::sqrt, f32::sqrt, true),
        ("exp", LazyArray::exp, f64::exp, f32::exp, false),
        ("expm1", LazyArray::expm1, f64::exp_m1, f32::exp_m1, false),
        ("log", LazyArray::log, f64::ln, f32::ln, true),
        ("log2", LazyArray::log2, f64::log2, f32::log2, true),
        ("log10", LazyArray::log10, f64::log10, f32::log10, true),
        ("log1p", LazyArray::log1p, f64::ln_1p, f32::ln_1p, false),
        ("sin", LazyArray::sin, f64::sin, f32::sin, false),
        ("cos", LazyArray::cos, f64::cos, f32::cos, false),
        ("tan", LazyArray::tan, f64::tan, f32::tan, false),
        ("arcsin", LazyArray::arcsin, f64::asin, f32::asin, false),
        ("arccos", LazyArray::arccos, f64::acos, f32::acos, false),
        ("arctan", LazyArray::arctan, f64::atan, f32::atan, false),
        ("sinh", LazyArray::sinh, f64::sinh, f32::sinh, false),
        ("cosh", LazyArray::cosh, f64::cosh, f32::cosh, false),
        ("tanh", LazyArray::tanh, f64::tanh, f32::tanh, false),
    ];
    for (name, op, f64_ref, f32_ref, positive) in cases {
        let input = if positive { &pos } else { &v };
        let x = typed(DataType::Float64, input);
        let want: Vec<f64> = input.iter().map(|&x| f64_ref(x)).collect();
        assert_flat(&op(&x).unwrap(), &want, name);
        let x32 = typed(DataType::Float32, input);
        let r = op(&x32).unwrap();
        assert_eq!(r.data_type(), DataType::Float32, "{name}");
        let want32: Vec<f32> = input.iter().map(|&x| f32_ref(x as f32)).collect();
        assert_eq!(
            r.to_ndarray::<f32>().unwrap().into_raw_vec_and_offset().0,
            want32,
            "{name} f32"
        );
        // NaN in, NaN out.
        assert!(
            flat(&op(&typed(DataType::Float64, &[f64::NAN])).unwrap())[0].is_nan(),
            "{name}(NaN)"
        );
    }
    // Out of domain gives NaN.
    assert!(flat(&typed(DataType::Float64, &[-1.0]).sqrt().unwrap())[0].is_nan());
    assert!(flat(&typed(DataType::Float64, &[2.0]).arcsin().unwrap())[0].is_nan());
    assert_eq!(
        flat(&typed(DataType::Float64, &[0.0]).log().unwrap())[0],
        f64::NEG_INFINITY
    );
    // Integer inputs.
    let r = typed(DataType::Int32, &[4.0, 9.0]).sqrt().unwrap();
    assert_eq!(
        r.to_ndarray::<f64>().unwrap().into_raw_vec_and_offset().0,
        vec![2.0, 3.0]
    );
    let r = typed(DataType::Int8, &[0.0, 1.0]).exp().unwrap();
    assert_eq!(
        r.to_ndarray::<f32>().unwrap().into_raw_vec_and_offset().0,
        vec![1.0, 1f32.exp()]
    );
}

#[test]
fn astype_follows_the_documented_rules() {
    let f = typed(
        DataType::Float64,
        &[
            -1.7,
            1.7,
            2.5,
            -0.5,
            f64::NAN,
            1e10,
            -1e10,
            f64::INFINITY,
            0.0,
            -0.0,
        ],
    );
    // Truncate toward zero, saturate, NaN -> 0.
    assert_eq!(
        f.astype(DataType::Int32)
            .to_ndarray::<i32>()
            .unwrap()
            .into_raw_vec_and_offset()
            .0,
        vec![-1, 1, 2, 0, 0, i32::MAX, i32::MIN, i32::MAX, 0, 0]
    );
    assert_eq!(
        f.astype(DataType::UInt8)
            .to_ndarray::<u8>()
            .unwrap()
            .into_raw_vec_and_offset()
            .0,
        vec![0, 1, 2, 0, 0, 255, 0, 255, 0, 0]
    );
    assert_eq!(
        f.astype(DataType::Int64)
            .to_ndarray::<i64>()
            .unwrap()
            .into_raw_vec_and_offset()
            .0,
        vec![
            -1,
            1,
            2,
            0,
            0,
            10_000_000_000,
            -10_000_000_000,
            i64::MAX,
            0,
            0
        ]
    );
    // Non-zero (NaN included) is true.
    assert_eq!(
        f.astype(DataType::Bool)
            .to_ndarray::<bool>()
            .unwrap()
            .into_raw_vec_and_offset()
            .0,
        vec![true, true, true, true, true, true, true, true, false, false]
    );
    // Integers to narrower integers wrap.
    let i = lazy(
        &ArrayD::from_shape_vec(IxDyn(&[4]), vec![300i64, -1, 128, -129]).unwrap(),
        &[3],
    );
    assert_eq!(
        i.astype(DataType::Int8)
            .to_ndarray::<i8>()
            .unwrap()
            .into_raw_vec_and_offset()
            .0,
        vec![44, -1, -128, 127]
    );
    assert_eq!(
        i.astype(DataType::UInt8)
            .to_ndarray::<u8>()
            .unwrap()
            .into_raw_vec_and_offset()
            .0,
        vec![44, 255, 128, 127]
    );
    assert_eq!(
        i.astype(DataType::UInt64).to_ndarray::<u64>().unwrap()[[1]],
        u64::MAX
    );
    let u = lazy(&ArrayD::from_elem(IxDyn(&[1]), u64::MAX), &[1]);
    assert_eq!(
        u.astype(DataType::Float64).to_ndarray::<f64>().unwrap()[[0]],
        18446744073709551615.0
    );
    assert_eq!(
        u.astype(DataType::Int64).to_ndarray::<i64>().unwrap()[[0]],
        -1
    );
    // bool to numbers, float64 to float32.
    let b = typed(DataType::Bool, &[1.0, 0.0]);
    assert_eq!(
        b.astype(DataType::Float64)
            .to_ndarray::<f64>()
            .unwrap()
            .into_raw_vec_and_offset()
            .0,
        vec![1.0, 0.0]
    );
    assert_eq!(
        b.astype(DataType::Int16)
            .to_ndarray::<i16>()
            .unwrap()
            .into_raw_vec_and_offset()
            .0,
        vec![1, 0]
    );
    assert_eq!(
        typed(DataType::Float64, &[0.1])
            .astype(DataType::Float32)
            .to_ndarray::<f32>()
            .unwrap()[[0]],
        0.1f32
    );
}

#[test]
fn where_and_clip() {
    // cond is any type (non-zero is true); the branches promote like arithmetic.
    let cond = typed(DataType::Int8, &[0.0, 2.0, -1.0]);
    let a = typed(DataType::Int8, &[1.0, 2.0, 3.0]);
    let w = LazyArray::where_(&cond, 1.5, &a).unwrap();
    assert_eq!(w.data_type(), DataType::Float64);
    assert_flat(&w, &[1.0, 1.5, 1.5], "where(c, 1.5, int8)");
    let w = LazyArray::where_(&cond, &a, 7).unwrap();
    assert_eq!(w.data_type(), DataType::Int8);
    assert_flat(&w, &[7.0, 2.0, 3.0], "where(c, int8, 7)");
    // Broadcast: cond (3, 1), a (1, 4), b scalar.
    let c = lazy(
        &ArrayD::from_shape_vec(IxDyn(&[3, 1]), vec![true, false, true]).unwrap(),
        &[2, 1],
    );
    let x = lazy(
        &ArrayD::from_shape_vec(IxDyn(&[1, 4]), vec![1.0, 2.0, 3.0, 4.0]).unwrap(),
        &[1, 3],
    );
    let w = LazyArray::where_(&c, &x, -1.0).unwrap();
    assert_eq!(w.shape(), &[3, 4]);
    assert_same(
        &w.to_ndarray::<f64>().unwrap(),
        &ArrayD::from_shape_vec(
            IxDyn(&[3, 4]),
            vec![
                1.0, 2.0, 3.0, 4.0, -1.0, -1.0, -1.0, -1.0, 1.0, 2.0, 3.0, 4.0,
            ],
        )
        .unwrap(),
        "where broadcast",
    );
    // clip.
    let c = typed(DataType::Int16, &[-5.0, 0.0, 5.0, 10.0])
        .clip(-1, 6)
        .unwrap();
    assert_eq!(c.data_type(), DataType::Int16);
    assert_flat(&c, &[-1.0, 0.0, 5.0, 6.0], "clip int16");
    let c = typed(DataType::Float64, &[-5.0, f64::NAN, 5.0])
        .clip(-1.0, 1.0)
        .unwrap();
    assert_flat(&c, &[-1.0, f64::NAN, 1.0], "clip float64");
    // Array bounds, broadcast.
    let lo = typed(DataType::Float64, &[0.0, 2.0, -10.0]);
    let c = typed(DataType::Float64, &[1.0, 1.0, 1.0])
        .clip(&lo, 1.5)
        .unwrap();
    assert_flat(&c, &[1.0, 1.5, 1.0], "clip arrays");
}

/// numpy's logical functions take any numbers, weak scalars included:
/// `np.logical_and(np.array([1, 0, 2]), 5)` is `[True, False, True]`, and
/// `np.logical_or(np.array([0.0]), 2)` is `[True]`.
#[test]
fn logical_operations_accept_any_int_scalar() {
    let i = typed(DataType::Int64, &[1.0, 0.0, 2.0]);
    let r = i
        .logical_and(5)
        .expect("np.logical_and(int64 array, 5) works in numpy");
    assert_flat(&r, &[1.0, 0.0, 1.0], "int64 and 5");
    let f = typed(DataType::Float64, &[0.0, 0.5]);
    let r = f
        .logical_or(2)
        .expect("np.logical_or(float64 array, 2) works in numpy");
    assert_flat(&r, &[1.0, 1.0], "float64 or 2");
    let b = typed(DataType::Bool, &[1.0, 0.0]);
    let r = b
        .logical_xor(3)
        .expect("np.logical_xor(bool array, 3) works in numpy");
    assert_flat(&r, &[0.0, 1.0], "bool xor 3");
}

/// numpy 2 compares int64 with uint64 exactly, not through float64:
/// `np.array([2**53 + 1]) == np.array([2**53], dtype=np.uint64)` is `[False]`.
#[test]
fn int64_uint64_comparisons_are_exact() {
    let a = lazy(&ArrayD::from_elem(IxDyn(&[1]), (1i64 << 53) + 1), &[1]);
    let b = lazy(&ArrayD::from_elem(IxDyn(&[1]), 1u64 << 53), &[1]);
    assert_flat(&a.equal(&b).unwrap(), &[0.0], "int64 2^53+1 == uint64 2^53");
    assert_flat(
        &a.greater(&b).unwrap(),
        &[1.0],
        "int64 2^53+1 > uint64 2^53",
    );
    let big = lazy(&ArrayD::from_elem(IxDyn(&[1]), u64::MAX), &[1]);
    let max = lazy(&ArrayD::from_elem(IxDyn(&[1]), i64::MAX), &[1]);
    assert_flat(&big.greater(&max).unwrap(), &[1.0], "u64::MAX > i64::MAX");
    // Negative int64 against uint64 (exact in either method).
    let neg = lazy(&ArrayD::from_elem(IxDyn(&[1]), -1i64), &[1]);
    let zero = lazy(&ArrayD::from_elem(IxDyn(&[1]), 0u64), &[1]);
    assert_flat(&neg.less(&zero).unwrap(), &[1.0], "-1 < 0u64");
}

/// numpy 2 lets comparisons take Python ints outside the array's range (NEP 50 special-cases
/// them): `np.array([1, 2], dtype=np.int8) == 300` is `[False, False]` and `< 300` is
/// `[True, True]`; arithmetic with such an int is the error.
#[test]
fn comparisons_with_out_of_range_ints_as_in_numpy() {
    let x = typed(DataType::Int8, &[1.0, 2.0]);
    let r = x.equal(300).expect("np.int8 array == 300 works in numpy 2");
    assert_flat(&r, &[0.0, 0.0], "int8 == 300");
    let r = x.less(300).expect("np.int8 array < 300 works in numpy 2");
    assert_flat(&r, &[1.0, 1.0], "int8 < 300");
}

// ---------------------------------------------------------------------------------------
// Selection edge cases outside ndarray's domain (numpy clamps).
// ---------------------------------------------------------------------------------------

#[test]
fn selections_clamp_like_numpy() {
    let a = iota(&[5]);
    let x = lazy(&a, &[2]);
    let get = |info: &[SliceInfoElem]| {
        x.slice(info)
            .unwrap()
            .to_ndarray::<i64>()
            .unwrap()
            .into_raw_vec_and_offset()
            .0
    };
    assert_eq!(get(s![-100..100].as_ref()), vec![0, 1, 2, 3, 4]);
    assert_eq!(
        get(&[SliceInfoElem::Slice {
            start: 3,
            end: Some(1),
            step: 1
        }]),
        Vec::<i64>::new()
    );
    assert_eq!(get(s![10..].as_ref()), Vec::<i64>::new());
    assert_eq!(get(s![..-10].as_ref()), Vec::<i64>::new());
    assert_eq!(get(s![-2..].as_ref()), vec![3, 4]);
    assert_eq!(get(s![..;-2].as_ref()), vec![4, 2, 0]);
    assert_eq!(get(s![1..4;-1].as_ref()), vec![3, 2, 1]);
    assert_eq!(get(s![-100..100;-3].as_ref()), vec![4, 1]);
    assert_eq!(get(s![1..;7].as_ref()), vec![1]);
    // Indices: negative counts from the end; the axis is dropped.
    let y = lazy(&iota(&[3, 4]), &[2, 3]);
    let r = y.slice(s![-1, 1..;2]).unwrap();
    assert_eq!(r.shape(), &[2]);
    assert_eq!(
        r.to_ndarray::<i64>().unwrap().into_raw_vec_and_offset().0,
        vec![9, 11]
    );
    let r = y.slice(s![1, 2]).unwrap();
    assert_eq!(r.ndim(), 0);
    assert_eq!(r.to_scalar::<i64>().unwrap(), 6);
    // NewAxis only, on a 0-d array.
    let z = LazyArray::from_array(ArrayD::from_elem(IxDyn(&[]), 4.5f64), &[]).unwrap();
    let r = z.slice(s![NewAxis, NewAxis]).unwrap();
    assert_eq!(r.shape(), &[1, 1]);
    assert_eq!(r.to_ndarray::<f64>().unwrap()[[0, 0]], 4.5);
    // A slice of a slice of a stepped slice, across block boundaries.
    let big = iota(&[40, 30]);
    let xb = lazy(&big, &[7, 4]);
    let r = xb
        .slice(s![3..37;3, ..;-1])
        .unwrap()
        .slice(s![1..;2, 5..25;4])
        .unwrap()
        .slice(s![..;-1, 1])
        .unwrap();
    let want = big
        .slice(s![3..37;3, ..;-1])
        .slice(s![1..;2, 5..25;4])
        .slice(s![..;-1, 1])
        .to_owned();
    assert_eq!(r.to_ndarray::<i64>().unwrap(), want.into_dyn());
}

#[test]
fn zero_dimensional_and_empty_arrays() {
    let z = LazyArray::from_array(ArrayD::from_elem(IxDyn(&[]), 3i32), &[]).unwrap();
    let r = (&z + 4) * &z;
    assert_eq!((r.data_type(), r.ndim()), (DataType::Int32, 0));
    assert_eq!(r.to_scalar::<i32>().unwrap(), 21);
    // 0-d broadcasts against anything.
    let v = lazy(&iota(&[2, 3]), &[1, 2]);
    let r = &v + &z;
    assert_eq!(r.data_type(), DataType::Int64);
    assert_eq!(
        r.to_ndarray::<i64>().unwrap(),
        iota(&[2, 3]).mapv(|x| x + 3)
    );
    assert_eq!(z.reshape(&[1, 1]).unwrap().shape(), &[1, 1]);
    assert_eq!(
        z.expand_dims(0)
            .unwrap()
            .to_ndarray::<i32>()
            .unwrap()
            .into_raw_vec_and_offset()
            .0,
        vec![3]
    );
    assert!(LazyArray::concatenate(&[z.clone(), z.clone()], 0).is_err());
    let st = LazyArray::stack(&[z.clone(), (&z + 1)], 0).unwrap();
    assert_eq!(
        st.to_ndarray::<i32>().unwrap().into_raw_vec_and_offset().0,
        vec![3, 4]
    );
    // Empty arrays keep their shapes through operations.
    let e = lazy(&iota(&[0, 3]), &[1, 2]);
    let r = LazyArray::binary(BinaryOp::Add, &e, lazy(&iota(&[3]), &[2]))
        .unwrap()
        .sqrt()
        .unwrap();
    assert_eq!(r.shape(), &[0, 3]);
    assert_eq!(r.to_ndarray::<f64>().unwrap().shape(), &[0, 3]);
    assert_eq!(e.reshape(&[3, 0]).unwrap().shape(), &[3, 0]);
    assert_eq!(e.transpose().unwrap().shape(), &[3, 0]);
    assert_eq!(e.blocks().count(), 0);
    // (0,) broadcasts with (1,) and not with (2,).
    let e1 = lazy(&iota(&[0]), &[1]);
    assert_eq!(
        LazyArray::binary(BinaryOp::Add, &e1, lazy(&iota(&[1]), &[1]))
            .unwrap()
            .shape(),
        &[0]
    );
    assert!((&e1 + lazy(&iota(&[2]), &[1])).checked().is_err());
}

// ---------------------------------------------------------------------------------------
// 3. The dask tutorial's examples.
// ---------------------------------------------------------------------------------------

fn column_means(a: &ArrayD<f64>) -> Vec<f64> {
    let (rows, cols) = (a.shape()[0], a.shape()[1]);
    (0..cols)
        .map(|j| (0..rows).map(|i| a[[i, j]]).sum::<f64>() / rows as f64)
        .collect()
}

fn row_means(a: &ArrayD<f64>) -> Vec<f64> {
    let (rows, cols) = (a.shape()[0], a.shape()[1]);
    (0..rows)
        .map(|i| (0..cols).map(|j| a[[i, j]]).sum::<f64>() / cols as f64)
        .collect()
}

/// dask's "a table of 52 weeks by 7 days, minus its daily and weekly means".
#[test]
fn dask_week_by_day_table_minus_its_means() {
    let a = ArrayD::from_shape_fn(IxDyn(&[52, 7]), |ix| {
        let k = (ix[0] * 7 + ix[1]) as f64;
        20.0 + 10.0 * (k * 0.37).sin() + (k * 1.3).cos()
    });
    let x = lazy(&a, &[10, 7]);
    let daily = column_means(&a);
    let weekly = row_means(&a);

    let m0 = x.mean(0).unwrap();
    assert_eq!(m0.shape(), &[7]);
    assert_flat(&m0, &daily, "daily means");
    let d = &x - &m0;
    assert_eq!(d.shape(), &[52, 7]);
    let want = ArrayD::from_shape_fn(IxDyn(&[52, 7]), |ix| a[&ix] - daily[ix[1]]);
    assert_same(&d.to_ndarray::<f64>().unwrap(), &want, "x - x.mean(0)");
    check_blocks(&d, &want);
    // Every column of the result has mean ~0.
    for m in flat(&d.mean(0).unwrap()) {
        assert!(m.abs() < 1e-12, "{m}");
    }

    let m1 = x.mean(Axes::from(1).keepdims()).unwrap();
    assert_eq!(m1.shape(), &[52, 1]);
    assert_flat(&m1, &weekly, "weekly means");
    let d = &x - &m1;
    let want = ArrayD::from_shape_fn(IxDyn(&[52, 7]), |ix| a[&ix] - weekly[ix[0]]);
    assert_same(
        &d.to_ndarray::<f64>().unwrap(),
        &want,
        "x - x.mean(1, keepdims)",
    );
    check_blocks(&d, &want);
    // Without keepdims the shapes (52, 7) and (52,) do not broadcast (numpy agrees).
    assert!((&x - x.mean(1).unwrap()).checked().is_err());
    // ... but the transpose does: (7, 52) - (52,).
    let t = x.transpose().unwrap() - x.mean(1).unwrap();
    assert_same(
        &t.to_ndarray::<f64>().unwrap(),
        &want.t().as_standard_layout().into_owned(),
        "x.T - x.mean(1)",
    );
}

/// A (3, 7) array minus its mean over axis 1 reshaped to (3, 1), and minus its mean over
/// axis 0.
#[test]
fn dask_small_array_minus_reshaped_means() {
    let a = ArrayD::from_shape_fn(IxDyn(&[3, 7]), |ix| (ix[0] * 7 + ix[1]) as f64 * 1.5 - 4.0);
    let x = lazy(&a, &[2, 3]);
    let rows = row_means(&a);
    let cols = column_means(&a);
    let d = LazyArray::binary(
        BinaryOp::Sub,
        &x,
        x.mean(1).unwrap().reshape(&[3, 1]).unwrap(),
    )
    .unwrap();
    let want = ArrayD::from_shape_fn(IxDyn(&[3, 7]), |ix| a[&ix] - rows[ix[0]]);
    assert_same(
        &d.to_ndarray::<f64>().unwrap(),
        &want,
        "x - x.mean(1).reshape(3, 1)",
    );
    let d = LazyArray::binary(BinaryOp::Sub, &x, x.mean(0).unwrap()).unwrap();
    let want = ArrayD::from_shape_fn(IxDyn(&[3, 7]), |ix| a[&ix] - cols[ix[1]]);
    assert_same(&d.to_ndarray::<f64>().unwrap(), &want, "x - x.mean(0)");
    // The same with an integer array: the mean is float64, so is the difference.
    let xi = lazy(&iota(&[3, 7]), &[3, 2]);
    let d = &xi - xi.mean(-1).unwrap().reshape(&[-1, 1]).unwrap();
    assert_eq!(d.data_type(), DataType::Float64);
    let want = ArrayD::from_shape_fn(IxDyn(&[3, 7]), |ix| ix[1] as f64 - 3.0);
    assert_same(&d.to_ndarray::<f64>().unwrap(), &want, "int x - mean");
}

/// dask's "four (12, 444, 922) arrays stacked into (4, 12, 444, 922)".
#[test]
fn dask_stack_of_four_large_arrays() {
    let shape = [12u64, 444, 922];
    let inputs: Vec<LazyArray> = (0..4)
        .map(|k| {
            random::normal(100 + k, &shape, 0.0, 1.0)
                .unwrap()
                .rechunk(&[1, 444, 922])
                .unwrap()
        })
        .collect();
    let stacked = LazyArray::stack(&inputs, 0).unwrap();
    assert_eq!(stacked.shape(), &[4, 12, 444, 922]);
    assert_eq!(stacked.data_type(), DataType::Float64);
    // Whole slices equal their inputs (compared lazily, streaming).
    for k in [0usize, 3] {
        let diff = (stacked.slice(s![k, .., .., ..]).unwrap() - &inputs[k])
            .abs()
            .unwrap()
            .max(Axes::all())
            .unwrap()
            .to_scalar::<f64>()
            .unwrap();
        assert_eq!(diff, 0.0, "stack[{k}] != input {k}");
    }
    // Small slices, in memory.
    let got = stacked.slice(s![1, 5, 100..110, 900..]).unwrap();
    let want = inputs[1].slice(s![5, 100..110, 900..]).unwrap();
    assert_eq!(
        got.to_ndarray::<f64>().unwrap(),
        want.to_ndarray::<f64>().unwrap()
    );
    let got = stacked
        .slice(s![.., 11, 443, ..3])
        .unwrap()
        .to_ndarray::<f64>()
        .unwrap();
    assert_eq!(got.shape(), &[4, 3]);
    for (k, input) in inputs.iter().enumerate() {
        let want = input
            .slice(s![11, 443, ..3])
            .unwrap()
            .to_ndarray::<f64>()
            .unwrap();
        assert_eq!(got.index_axis(Axis(0), k).to_owned(), want, "row {k}");
    }
    // The mean of everything is the mean of the four means.
    let means: Vec<f64> = inputs
        .iter()
        .map(|x| x.mean(Axes::all()).unwrap().to_scalar::<f64>().unwrap())
        .collect();
    let total = stacked
        .mean(Axes::all())
        .unwrap()
        .to_scalar::<f64>()
        .unwrap();
    assert!(
        (total - means.iter().sum::<f64>() / 4.0).abs() < 1e-12,
        "{total} vs {means:?}"
    );
    // Each is a standard normal's mean over 4.9 million values: within 5 sigma of 0.
    let sigma = 1.0 / (12.0f64 * 444.0 * 922.0).sqrt();
    for m in &means {
        assert!(m.abs() < 5.0 * sigma, "{m}");
    }
    // The four inputs differ.
    assert!(means.windows(2).all(|w| w[0] != w[1]));
}

// ---------------------------------------------------------------------------------------
// 4. Random arrays.
// ---------------------------------------------------------------------------------------

#[test]
fn random_values_do_not_depend_on_blocks() {
    let shape = [1000u64, 400];
    let x = random::uniform(7, &shape, -1.0, 3.0).unwrap();
    assert!(
        x.block_grid().num_blocks() > 1,
        "default blocks: {:?}",
        x.block_grid()
    );
    let whole = x.to_ndarray::<f64>().unwrap();
    for chunks in [[123u64, 77], [1000, 1], [7, 400]] {
        let y = random::uniform(7, &shape, -1.0, 3.0)
            .unwrap()
            .rechunk(&chunks)
            .unwrap();
        assert_eq!(
            y.to_ndarray::<f64>().unwrap(),
            whole,
            "rechunked {chunks:?}"
        );
    }
    // A slice of the random array is the part of the whole.
    let part = x
        .slice(s![10..50;3, 120..;-7])
        .unwrap()
        .to_ndarray::<f64>()
        .unwrap();
    assert_eq!(
        part,
        whole.slice(s![10..50;3, 120..;-7]).to_owned().into_dyn()
    );
    let one = x.slice(s![999, 399]).unwrap().to_scalar::<f64>().unwrap();
    assert_eq!(one, whole[[999, 399]]);
    // The same through blocks().
    check_blocks(&x.rechunk(&[300, 150]).unwrap(), &whole);
    for (k, make) in [
        (
            0,
            random::normal as fn(u64, &[u64], f64, f64) -> outcore::Result<LazyArray>,
        ),
        (1, random::uniform),
    ] {
        let a = make(11, &[64, 50], 0.0, 1.0)
            .unwrap()
            .to_ndarray::<f64>()
            .unwrap();
        let b = make(11, &[64, 50], 0.0, 1.0)
            .unwrap()
            .rechunk(&[5, 9])
            .unwrap()
            .to_ndarray::<f64>()
            .unwrap();
        assert_eq!(a, b, "distribution {k}");
        let c = make(12, &[64, 50], 0.0, 1.0)
            .unwrap()
            .to_ndarray::<f64>()
            .unwrap();
        let equal = a.iter().zip(c.iter()).filter(|(p, q)| p == q).count();
        assert!(equal < 3, "seeds 11 and 12 agree on {equal} values");
    }
    let i = random::integers(3, &[500, 20], -1000, 1000).unwrap();
    let a = i.to_ndarray::<i64>().unwrap();
    assert_eq!(i.rechunk(&[33, 7]).unwrap().to_ndarray::<i64>().unwrap(), a);
    assert_eq!(
        i.slice(s![100..200, 3])
            .unwrap()
            .to_ndarray::<i64>()
            .unwrap(),
        a.slice(s![100..200, 3]).to_owned().into_dyn()
    );
    let other = random::integers(4, &[500, 20], -1000, 1000)
        .unwrap()
        .to_ndarray::<i64>()
        .unwrap();
    assert!(a.iter().zip(other.iter()).filter(|(p, q)| p == q).count() < 50);
    // Rechunked ranges and constants keep their values too (they, like random arrays, are
    // re-cut rather than assembled from their old blocks).
    let r = LazyArray::arange(0.0, 1000.0, 0.5).unwrap();
    let lin = LazyArray::linspace(-1.0, 1.0, 999, true).unwrap();
    for a in [r, lin] {
        let want = a.to_ndarray::<f64>().unwrap();
        let cut = a.rechunk(&[37]).unwrap();
        assert_eq!(
            cut.block_grid().num_blocks(),
            want.len().div_ceil(37) as u64
        );
        assert_eq!(cut.to_ndarray::<f64>().unwrap(), want);
    }
    let k = LazyArray::arange(5i64, 900, 7).unwrap();
    assert_eq!(
        k.rechunk(&[10]).unwrap().to_ndarray::<i64>().unwrap(),
        k.to_ndarray::<i64>().unwrap()
    );
    let f = LazyArray::full(&[30, 40], 2.5f32);
    assert_eq!(
        f.rechunk(&[7, 9]).unwrap().to_ndarray::<f32>().unwrap(),
        f.to_ndarray::<f32>().unwrap()
    );
}

#[test]
fn random_distributions_have_their_moments() {
    let n = 1_000_000u64;
    let u = random::uniform(21, &[n], 2.0, 5.0).unwrap();
    let (lo, hi) = (
        u.min(Axes::all()).unwrap().to_scalar::<f64>().unwrap(),
        u.max(Axes::all()).unwrap().to_scalar::<f64>().unwrap(),
    );
    assert!(
        (2.0..5.0).contains(&lo) && (2.0..5.0).contains(&hi),
        "{lo} {hi}"
    );
    assert!(lo < 2.001 && hi > 4.999, "{lo} {hi}");
    let mean = u.mean(Axes::all()).unwrap().to_scalar::<f64>().unwrap();
    assert!((mean - 3.5).abs() < 0.01, "{mean}");
    let values = u.to_ndarray::<f64>().unwrap();
    assert!(values.iter().all(|v| (2.0..5.0).contains(v)));
    // Each tenth of the range holds about a tenth of the values.
    let mut bins = [0u64; 10];
    for v in &values {
        bins[((v - 2.0) / 0.3) as usize] += 1;
    }
    for b in bins {
        assert!((b as f64 - 100_000.0).abs() < 2_000.0, "{bins:?}");
    }

    let g = random::normal(22, &[n], 10.0, 2.0).unwrap();
    let mean = g.mean(Axes::all()).unwrap().to_scalar::<f64>().unwrap();
    let std = g.std(Axes::all(), 0.0).unwrap().to_scalar::<f64>().unwrap();
    assert!((mean - 10.0).abs() < 0.02, "{mean}");
    assert!((std - 2.0).abs() < 0.02, "{std}");
    let within = (&g - 10.0)
        .abs()
        .unwrap()
        .less(2.0)
        .unwrap()
        .count_nonzero(Axes::all())
        .unwrap()
        .to_scalar::<i64>()
        .unwrap();
    assert!(
        (within as f64 / n as f64 - 0.6827).abs() < 0.005,
        "{within}"
    );

    let k = random::integers(23, &[100_000], -3, 4).unwrap();
    assert_eq!(k.data_type(), DataType::Int64);
    let ints = k.to_ndarray::<i64>().unwrap();
    let mut counts = [0u64; 7];
    for &v in &ints {
        assert!((-3..4).contains(&v), "{v}");
        counts[(v + 3) as usize] += 1;
    }
    for c in counts {
        assert!((c as f64 - 100_000.0 / 7.0).abs() < 700.0, "{counts:?}");
    }
    // The widest range.
    let w = random::integers(24, &[10_000], i64::MIN, i64::MAX)
        .unwrap()
        .to_ndarray::<i64>()
        .unwrap();
    assert!(w.iter().all(|&v| v < i64::MAX));
    assert!(w.iter().any(|&v| v < 0) && w.iter().any(|&v| v > 0));
    // A constant range.
    let c = random::uniform(25, &[10], 1.5, 1.5).unwrap();
    assert_eq!(flat(&c), vec![1.5; 10]);
    // Bad parameters.
    assert!(random::uniform(0, &[3], 2.0, 1.0).is_err());
    assert!(random::uniform(0, &[3], 0.0, f64::INFINITY).is_err());
    assert!(random::normal(0, &[3], 0.0, -1.0).is_err());
    assert!(random::normal(0, &[3], f64::NAN, 1.0).is_err());
    assert!(random::integers(0, &[3], 5, 5).is_err());
}

// ---------------------------------------------------------------------------------------
// 5. Pushdown.
// ---------------------------------------------------------------------------------------

/// A (1000, 1000) array in (100, 100) blocks behind a `map_blocks` kernel that counts its
/// calls and records the blocks it ran on.
struct Counted {
    a: ArrayD<f64>,
    x: LazyArray,
    calls: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Vec<Range<u64>>>>>,
}

impl Counted {
    fn new() -> Self {
        let a = ArrayD::from_shape_fn(IxDyn(&[1000, 1000]), |ix| (ix[0] * 1000 + ix[1]) as f64);
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (c, s) = (calls.clone(), seen.clone());
        let x = lazy(&a, &[100, 100])
            .map_blocks(move |v: ArrayViewD<'_, f64>, region: &[Range<u64>]| {
                c.fetch_add(1, Ordering::SeqCst);
                s.lock().unwrap().push(region.to_vec());
                Ok(v.to_owned())
            })
            .unwrap();
        Self { a, x, calls, seen }
    }

    fn reset(&self) {
        self.calls.store(0, Ordering::SeqCst);
        self.seen.lock().unwrap().clear();
    }

    /// The distinct (row block, column block) pairs the kernel ran on.
    fn blocks_seen(&self) -> BTreeSet<(u64, u64)> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|r| {
                assert_eq!(r[0].end - r[0].start, 100, "{r:?} is not a whole block");
                assert_eq!(r[1].end - r[1].start, 100, "{r:?} is not a whole block");
                (r[0].start / 100, r[1].start / 100)
            })
            .collect()
    }
}

#[test]
fn slices_evaluate_only_the_blocks_under_them() {
    let c = Counted::new();
    let check = |y: LazyArray, want: f64, blocks: BTreeSet<(u64, u64)>, ctx: &str| {
        c.reset();
        let got = y.sum(Axes::all()).unwrap().to_scalar::<f64>().unwrap();
        assert_eq!(got, want, "{ctx}: value");
        assert_eq!(c.blocks_seen(), blocks, "{ctx}: blocks");
        c.calls.load(Ordering::SeqCst)
    };
    let grid = |rows: Range<u64>, cols: Range<u64>| -> BTreeSet<(u64, u64)> {
        rows.flat_map(|r| cols.clone().map(move |q| (r, q)))
            .collect()
    };

    // The brief's case: the first block column of ten blocks, each run once.
    let calls = check(
        c.x.slice(s![.., 0..100]).unwrap(),
        c.a.slice(s![.., 0..100]).sum(),
        grid(0..10, 0..1),
        "x[:, :100]",
    );
    assert_eq!(calls, 10, "x[:, :100]");
    // A small box inside two blocks.
    let calls = check(
        c.x.slice(s![250..350, 420..430]).unwrap(),
        c.a.slice(s![250..350, 420..430]).sum(),
        grid(2..4, 4..5),
        "x[250:350, 420:430]",
    );
    assert_eq!(calls, 2);
    // Every 300th row: four block rows.
    let calls = check(
        c.x.slice(s![..;300, ..]).unwrap(),
        c.a.slice(s![..;300, ..]).sum(),
        grid(0..10, 0..10)
            .into_iter()
            .filter(|(r, _)| r % 3 == 0)
            .collect(),
        "x[::300]",
    );
    assert_eq!(calls, 40);
    // A reversed, stepped slice of the last block row.
    let calls = check(
        c.x.slice(s![950..;-2, ..;-250]).unwrap(),
        c.a.slice(s![950..;-2, ..;-250]).sum(),
        [(9, 9), (9, 7), (9, 4), (9, 2)].into_iter().collect(),
        "x[950::-2, ::-250]",
    );
    assert_eq!(calls, 4);
    // Through a transpose and an elementwise operation.
    let calls = check(
        c.x.transpose().unwrap().slice(s![0..100, ..]).unwrap(),
        c.a.slice(s![.., 0..100]).sum(),
        grid(0..10, 0..1),
        "x.T[:100]",
    );
    assert_eq!(calls, 10);
    let calls = check(
        ((&c.x + 1.0) * 2.0).slice(s![0, ..]).unwrap(),
        c.a.slice(s![0, ..]).mapv(|v| (v + 1.0) * 2.0).sum(),
        grid(0..1, 0..10),
        "(2 (x + 1))[0]",
    );
    assert_eq!(calls, 10);
    // Through broadcasting against a row: only the first block row is read.
    let row = lazy(&ArrayD::from_elem(IxDyn(&[1000]), 1.0), &[250]);
    let calls = check(
        (&c.x - &row).slice(s![50..60, ..]).unwrap(),
        c.a.slice(s![50..60, ..]).sum() - 10_000.0,
        grid(0..1, 0..10),
        "(x - row)[50:60]",
    );
    assert_eq!(calls, 10);
    // Through a reshape: rows 0..10 of (100, 10000) are input rows 0..100.
    check(
        c.x.reshape(&[100, 10_000])
            .unwrap()
            .slice(s![0..10, ..])
            .unwrap(),
        c.a.slice(s![0..100, ..]).sum(),
        grid(0..1, 0..10),
        "x.reshape(100, 10000)[:10]",
    );
    // Through a concatenation: only the second input is read.
    let other = lazy(&ArrayD::from_elem(IxDyn(&[1000, 1000]), 2.0), &[500, 500]);
    let cat = LazyArray::concatenate(&[other, c.x.clone()], 0).unwrap();
    let calls = check(
        cat.slice(s![1000..1100, 900..]).unwrap(),
        c.a.slice(s![0..100, 900..]).sum(),
        grid(0..1, 9..10),
        "concatenate()[1000:1100, 900:]",
    );
    assert_eq!(calls, 1);
    // A single element.
    c.reset();
    assert_eq!(
        c.x.slice(s![5, 7]).unwrap().to_scalar::<f64>().unwrap(),
        5007.0
    );
    assert_eq!(c.calls.load(Ordering::SeqCst), 1);
}

/// `map_blocks` documents that its kernel runs "once per block" when a result is computed.
#[test]
fn map_blocks_kernel_runs_once_per_block_for_aligned_consumers() {
    let c = Counted::new();
    c.reset();
    let total = c.x.sum(Axes::all()).unwrap().to_scalar::<f64>().unwrap();
    assert_eq!(total, c.a.sum());
    assert_eq!(c.blocks_seen().len(), 100);
    assert_eq!(c.calls.load(Ordering::SeqCst), 100);
    // A consumer whose blocks straddle the kernel's (rechunk) runs it once per overlapping
    // consumer block, as documented: more calls, on the same whole blocks, same values.
    c.reset();
    let y = c.x.rechunk(&[50, 50]).unwrap();
    let total = y.sum(Axes::all()).unwrap().to_scalar::<f64>().unwrap();
    assert_eq!(total, c.a.sum());
    assert_eq!(c.blocks_seen().len(), 100);
    assert!(c.calls.load(Ordering::SeqCst) >= 100);
}

// ---------------------------------------------------------------------------------------
// 6. Ranges, map_blocks, blocks().
// ---------------------------------------------------------------------------------------

#[test]
fn arange_and_linspace_follow_numpy() {
    let ints = |a: i64, b: i64, step: i64| {
        let x = LazyArray::arange(a, b, step).unwrap();
        assert_eq!(x.data_type(), DataType::Int64);
        x.to_ndarray::<i64>().unwrap().into_raw_vec_and_offset().0
    };
    assert_eq!(ints(0, 10, 3), vec![0, 3, 6, 9]);
    assert_eq!(ints(-3, 10, 4), vec![-3, 1, 5, 9]);
    assert_eq!(ints(10, 0, -3), vec![10, 7, 4, 1]);
    assert_eq!(ints(5, 5, 1), Vec::<i64>::new());
    assert_eq!(ints(5, 0, 1), Vec::<i64>::new());
    assert_eq!(ints(0, 5, -1), Vec::<i64>::new());
    assert_eq!(
        LazyArray::arange(0i32, 4, 1).unwrap().data_type(),
        DataType::Int64
    );
    assert!(LazyArray::arange(0, 5, 0).is_err());
    // Long integer ranges, against the formula, over many blocks.
    let x = LazyArray::arange(-1_000_000i64, 2_000_000, 7).unwrap();
    let n = (3_000_000i64 + 6) / 7;
    assert_eq!(x.shape(), &[n as u64]);
    let got = x.rechunk(&[100_003]).unwrap().to_ndarray::<i64>().unwrap();
    assert!(got
        .iter()
        .enumerate()
        .all(|(i, &v)| v == -1_000_000 + 7 * i as i64));

    // Floats: numpy's ceil((stop - start) / step) values start + i * step.
    let floats = |a: f64, b: f64, step: f64| {
        let x = LazyArray::arange(a, b, step).unwrap();
        assert_eq!(x.data_type(), DataType::Float64);
        x.to_ndarray::<f64>().unwrap().into_raw_vec_and_offset().0
    };
    let want: Vec<f64> = (0..10).map(|i| f64::from(i) * 0.1).collect();
    assert_eq!(floats(0.0, 1.0, 0.1), want);
    assert_eq!(
        floats(1.0, 2.0, 0.3),
        vec![1.0, 1.0 + 0.3, 1.0 + 2.0 * 0.3, 1.0 + 3.0 * 0.3]
    );
    assert_eq!(floats(2.0, -1.0, -1.5), vec![2.0, 0.5]);
    assert_eq!(floats(0.0, -1.0, 0.5), Vec::<f64>::new());
    assert!(LazyArray::arange(0.0, 1.0, 0.0).is_err());
    assert!(LazyArray::arange(0.0, f64::INFINITY, 1.0).is_err());

    // linspace: start + i * (stop - start) / div, the last exactly stop with endpoint.
    let lin = |a: f64, b: f64, num: u64, endpoint: bool| {
        let x = LazyArray::linspace(a, b, num, endpoint).unwrap();
        assert_eq!(x.data_type(), DataType::Float64);
        x.to_ndarray::<f64>().unwrap().into_raw_vec_and_offset().0
    };
    assert_eq!(lin(0.0, 1.0, 5, true), vec![0.0, 0.25, 0.5, 0.75, 1.0]);
    let step = 1.0 / 5.0;
    assert_eq!(
        lin(2.0, 3.0, 5, false),
        (0..5)
            .map(|i| f64::from(i) * step + 2.0)
            .collect::<Vec<_>>()
    );
    assert_eq!(lin(0.0, 1.0, 1, true), vec![0.0]);
    assert_eq!(lin(0.0, 1.0, 0, true), Vec::<f64>::new());
    assert_eq!(lin(5.0, -5.0, 3, true), vec![5.0, 0.0, -5.0]);
    let n = 1_000_001u64;
    let x = LazyArray::linspace(-3.0, 7.0, n, true)
        .unwrap()
        .to_ndarray::<f64>()
        .unwrap();
    let step = 10.0 / (n - 1) as f64;
    for (i, &v) in x.iter().enumerate() {
        let want = if i as u64 == n - 1 {
            7.0
        } else {
            i as f64 * step - 3.0
        };
        assert_eq!(v, want, "linspace[{i}]");
    }
    assert!(LazyArray::linspace(0.0, f64::NAN, 3, true).is_err());
    // Ranges combine with everything else.
    let grid = LazyArray::arange(0, 12, 1)
        .unwrap()
        .reshape(&[3, 4])
        .unwrap();
    let y = &grid * LazyArray::linspace(0.0, 1.0, 4, true).unwrap();
    assert_eq!(y.data_type(), DataType::Float64);
    let want = ArrayD::from_shape_fn(IxDyn(&[3, 4]), |ix| {
        (ix[0] * 4 + ix[1]) as f64 * (ix[1] as f64 / 3.0)
    });
    assert_same(&y.to_ndarray::<f64>().unwrap(), &want, "arange * linspace");
}

#[test]
fn map_blocks_sees_whole_blocks_with_their_regions() {
    let a = ArrayD::from_shape_fn(IxDyn(&[7, 10]), |ix| (ix[0] * 10 + ix[1]) as f64);
    let x = lazy(&a, &[3, 4]);
    // Each block minus its first element plus its region's origin, as int64.
    let y = x
        .map_blocks(|v: ArrayViewD<'_, f64>, region: &[Range<u64>]| {
            let first = v.iter().next().copied().unwrap_or(0.0);
            let origin = (region[0].start * 1000 + region[1].start) as i64;
            Ok(v.mapv(|e| (e - first) as i64 + origin))
        })
        .unwrap();
    assert_eq!(y.data_type(), DataType::Int64);
    assert_eq!(y.block_grid(), x.block_grid());
    let want = ArrayD::from_shape_fn(IxDyn(&[7, 10]), |ix| {
        let (r0, c0) = (ix[0] / 3 * 3, ix[1] / 4 * 4);
        ((ix[0] - r0) * 10 + (ix[1] - c0)) as i64 + (r0 * 1000 + c0) as i64
    });
    assert_eq!(y.to_ndarray::<i64>().unwrap(), want);
    check_blocks(&y, &want.mapv(|v| v as f64));
    // A region across blocks still sees whole blocks.
    let part = y
        .slice(s![2..5, 3..9])
        .unwrap()
        .to_ndarray::<i64>()
        .unwrap();
    assert_eq!(part, want.slice(s![2..5, 3..9]).to_owned().into_dyn());
    // The kernel's type must match; a wrong block shape is an error when computed.
    assert!(x
        .map_blocks(|v: ArrayViewD<'_, f32>, _: &[Range<u64>]| Ok(v.to_owned()))
        .is_err());
    let bad = x
        .map_blocks(|v: ArrayViewD<'_, f64>, _: &[Range<u64>]| Ok(v.sum_axis(Axis(0))))
        .unwrap();
    assert!(bad.to_ndarray::<f64>().is_err());
    // A kernel's error is the computation's error.
    let failing = x
        .map_blocks(|v: ArrayViewD<'_, f64>, region: &[Range<u64>]| {
            if region[0].start == 6 {
                Err(outcore::Error::new(
                    outcore::ErrorKind::InvalidArgument,
                    "kernel says no",
                ))
            } else {
                Ok(v.to_owned())
            }
        })
        .unwrap();
    let err = failing.to_ndarray::<f64>().unwrap_err();
    assert!(err.to_string().contains("kernel says no"), "{err}");
}

#[test]
fn blocks_cover_the_array_in_order() {
    // Irregular blocks: a slice that starts mid-chunk, concatenated with another chunking.
    let a = ArrayD::from_shape_fn(IxDyn(&[20, 9]), |ix| (ix[0] * 9 + ix[1]) as f64);
    let x = lazy(&a, &[6, 4]).slice(s![3.., 1..]).unwrap();
    let y = lazy(&a.slice(s![..5, 1..]).to_owned().into_dyn(), &[2, 3]);
    let cat = LazyArray::concatenate(&[x.clone(), y], 0).unwrap();
    let want =
        outcore::ndarray::concatenate(Axis(0), &[a.slice(s![3.., 1..]), a.slice(s![..5, 1..])])
            .unwrap()
            .into_dyn();
    assert_eq!(cat.shape(), &[22, 8]);
    assert!(cat.block_grid().num_blocks() > 4);
    check_blocks(&cat, &want);
    // blocks() on a reduction: one block, the whole result.
    let m = cat.sum(0).unwrap();
    let items: Vec<_> = m.blocks().map(|b| b.unwrap()).collect();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].0, vec![0..8]);
    let got = items[0].1.view::<f64>().unwrap().to_owned();
    assert_same(&got, &want.sum_axis(Axis(0)), "sum(0) block");
    // An expression that uses a reduction streams its blocks too.
    let d = LazyArray::binary(BinaryOp::Sub, &cat, cat.mean(0).unwrap()).unwrap();
    let means = want.mean_axis(Axis(0)).unwrap();
    check_blocks(&d, &(&want - &means));
}
