//! Reductions of elementwise expressions over blocks large enough that the executor folds
//! them tile by tile (leaves evaluated once per block, the expression over cache-sized
//! slices), checked against the same expression and reductions computed with plain ndarray:
//! tiles along reduced and kept axes, broadcast operands, arg reductions (whose indices
//! depend on each tile's origin), NaN-aware forms and variance.

use outcore::ndarray::{ArrayD, Axis, IxDyn};
use outcore::BinaryOp;
use outcore::{Axes, DataType, LazyArray, ReduceOp};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn close(got: f64, want: f64) -> bool {
    (got.is_nan() && want.is_nan()) || (got - want).abs() <= 1e-9 * want.abs().max(1.0)
}

fn assert_close(got: &ArrayD<f64>, want: &ArrayD<f64>, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
        assert!(close(*g, *w), "{what}: element {i}: got {g}, want {w}");
    }
}

/// x: (40, 30, 50) with some NaNs, y: (30, 1), both from memory in big blocks.
fn inputs(nan_every: usize) -> (ArrayD<f64>, ArrayD<f64>) {
    let mut rng = StdRng::seed_from_u64(7);
    let mut x = ArrayD::from_shape_fn(IxDyn(&[40, 30, 50]), |_| rng.gen_range(-5.0..5.0));
    if nan_every > 0 {
        for (i, v) in x.iter_mut().enumerate() {
            if i % nan_every == 3 {
                *v = f64::NAN;
            }
        }
    }
    let y = ArrayD::from_shape_fn(IxDyn(&[30, 1]), |ix| ix[0] as f64 * 0.25 - 2.0);
    (x, y)
}

/// `abs(x * 2 - y) + 1` both ways: lazily (blocks of 20 x 30 x 50 = 30,000 elements, so the
/// tiled path runs) and with ndarray.
fn expression(x: &ArrayD<f64>, y: &ArrayD<f64>, chunks: &[u64]) -> (LazyArray, ArrayD<f64>) {
    let lx = LazyArray::from_array(x.clone(), chunks).unwrap();
    let ly = LazyArray::from_array(y.clone(), &[30, 1]).unwrap();
    let lazy = ((&lx * 2.0) - ly).abs().unwrap() + 1.0;
    let reference = (x * 2.0 - y).mapv(f64::abs) + 1.0;
    (lazy, reference)
}

fn reduce_ref(a: &ArrayD<f64>, axes: &[usize], f: impl Fn(&[f64]) -> f64) -> ArrayD<f64> {
    // Kept axes first, reduced axes last: each output's values are one contiguous row.
    let kept: Vec<usize> = (0..a.ndim()).filter(|d| !axes.contains(d)).collect();
    let perm: Vec<usize> = kept.iter().chain(axes).copied().collect();
    let out_shape: Vec<usize> = kept.iter().map(|&d| a.shape()[d]).collect();
    let rows: usize = out_shape.iter().product();
    let moved = a.view().permuted_axes(IxDyn(&perm));
    let values: Vec<f64> = moved.iter().copied().collect();
    let per_row = values.len() / rows.max(1);
    let out: Vec<f64> = values.chunks(per_row.max(1)).map(&f).collect();
    ArrayD::from_shape_vec(IxDyn(&out_shape), out).unwrap()
}

/// `op` over `axes` of the lazy expression equals `f` over the same axes of the reference.
fn check(
    lazy: &LazyArray,
    reference: &ArrayD<f64>,
    axes: &[usize],
    op: ReduceOp,
    f: impl Fn(&[f64]) -> f64,
    what: &str,
) {
    let ax: Vec<i64> = axes.iter().map(|&a| a as i64).collect();
    let got = lazy
        .reduce(op, Axes::of(&ax))
        .unwrap()
        .to_ndarray::<f64>()
        .unwrap();
    assert_close(
        &got,
        &reduce_ref(reference, axes, f),
        &format!("{op:?} over {axes:?} {what}"),
    );
}

fn sum(v: &[f64]) -> f64 {
    v.iter().sum()
}

fn nanmean(v: &[f64]) -> f64 {
    let kept: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    kept.iter().sum::<f64>() / kept.len() as f64
}

fn std(v: &[f64]) -> f64 {
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    (v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
}

fn argmax(v: &[f64]) -> f64 {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best as f64
}

#[test]
fn tiled_reductions_match_ndarray_over_every_axis_set() {
    let (x, y) = inputs(0);
    for chunks in [[20u64, 30, 50], [40, 15, 50], [7, 30, 50]] {
        let (lazy, reference) = expression(&x, &y, &chunks);
        for axes in [
            vec![0usize, 1, 2],
            vec![0],
            vec![1],
            vec![2],
            vec![0, 2],
            vec![1, 2],
        ] {
            let what = format!("chunks {chunks:?}");
            check(&lazy, &reference, &axes, ReduceOp::Sum, sum, &what);
            check(
                &lazy,
                &reference,
                &axes,
                ReduceOp::Std { ddof: 0.0 },
                std,
                &what,
            );
        }
        for axis in 0..3usize {
            let got = lazy
                .argmax(axis as i64)
                .unwrap()
                .to_ndarray::<i64>()
                .unwrap();
            let want = reduce_ref(&reference, &[axis], argmax);
            assert_close(
                &got.mapv(|v| v as f64),
                &want,
                &format!("argmax axis {axis} chunks {chunks:?}"),
            );
        }
        let flat = ArrayD::from_shape_vec(
            IxDyn(&[reference.len()]),
            reference.iter().copied().collect(),
        )
        .unwrap();
        let got: i64 = lazy.argmax(Axes::all()).unwrap().to_scalar().unwrap();
        assert_eq!(
            got as f64,
            argmax(flat.as_slice().unwrap()),
            "flat argmax chunks {chunks:?}"
        );
    }
}

#[test]
fn tiled_nan_reductions_skip_nans_and_plain_ones_propagate() {
    let (x, y) = inputs(97);
    let (lazy, reference) = expression(&x, &y, &[20, 30, 50]);
    for axes in [vec![0usize, 1, 2], vec![0], vec![2]] {
        check(&lazy, &reference, &axes, ReduceOp::NanMean, nanmean, "");
        check(&lazy, &reference, &axes, ReduceOp::Sum, sum, "");
    }
    let counts = reference.map_axis(Axis(0), |lane| lane.iter().filter(|v| v.is_nan()).count());
    assert!(counts.iter().any(|&c| c > 0), "the data has NaNs");
}

/// Python's floor division and modulo of integers (numpy's `//` and `%`).
fn floor_div_mod(a: i64, b: i64) -> (i64, i64) {
    let (q, r) = (a / b, a % b);
    if r != 0 && ((r < 0) != (b < 0)) {
        (q - 1, r + b)
    } else {
        (q, r)
    }
}

const FUSED_SHAPE: [usize; 3] = [24, 20, 91];

/// Random integer operands of [`FUSED_SHAPE`] in -100..100.
fn fused_operands() -> (Vec<i64>, Vec<i64>) {
    let mut rng = StdRng::seed_from_u64(11);
    let n = FUSED_SHAPE.iter().product::<usize>();
    let mut draw = || {
        (0..n)
            .map(|_| rng.gen_range(-100..100))
            .collect::<Vec<i64>>()
    };
    (draw(), draw())
}

/// Sum, max and min over several axis sets of `lazy` against the element values `want`.
fn check_fused(lazy: &LazyArray, want: Vec<f64>, what: &str) {
    let reference = ArrayD::from_shape_vec(IxDyn(&FUSED_SHAPE), want).unwrap();
    for axes in [vec![0usize, 1, 2], vec![0], vec![2], vec![0, 2]] {
        for (op, f) in [
            (ReduceOp::Sum, sum as fn(&[f64]) -> f64),
            (ReduceOp::Max, |v: &[f64]| {
                v.iter().copied().fold(f64::MIN, f64::max)
            }),
            (ReduceOp::Min, |v: &[f64]| {
                v.iter().copied().fold(f64::MAX, f64::min)
            }),
        ] {
            let ax: Vec<i64> = axes.iter().map(|&a| a as i64).collect();
            let reduced = lazy.reduce(op, Axes::of(&ax)).unwrap();
            let got = reduced
                .astype(DataType::Float64)
                .to_ndarray::<f64>()
                .unwrap();
            let want = reduce_ref(&reference, &axes, f);
            assert_close(&got, &want, &format!("{op:?} over {axes:?} of {what}"));
        }
    }
}

/// Reductions of a chain of same-typed operations on same-shaped operands and scalars (the
/// chains the executor compiles into strip loops) over integer widths and both float types,
/// against the same values computed element by element in plain Rust. Blocks of 12 x 20 x
/// 91 = 21,840 elements, so the reductions fold them tile by tile, and neither blocks nor
/// tiles are whole numbers of vectors.
macro_rules! fused_chain_case {
    ($name:ident, $t:ty, |$a:ident, $b:ident| $chain:expr, |$x:ident, $y:ident| $lazy:expr) => {
        #[test]
        fn $name() {
            let (xs, ys) = fused_operands();
            let typed = |v: &[i64]| {
                let values = v.iter().map(|&e| e as $t).collect();
                let array = ArrayD::from_shape_vec(IxDyn(&FUSED_SHAPE), values).unwrap();
                LazyArray::from_array(array, &[12, 20, 91]).unwrap()
            };
            let ($x, $y) = (typed(&xs), typed(&ys));
            let lazy: LazyArray = $lazy;
            let want = xs
                .iter()
                .zip(&ys)
                .map(|(&$a, &$b)| {
                    let ($a, $b) = ($a as $t, $b as $t);
                    let value = $chain;
                    value as f64
                })
                .collect();
            check_fused(&lazy, want, stringify!($t));
        }
    };
}

/// maximum(abs(x * 3 - y), y // 4) + x % 7 - (-y), at most 500 (values kept small, so the
/// reference computes in i64).
macro_rules! int_chain_case {
    ($name:ident, $t:ty) => {
        fused_chain_case!(
            $name,
            $t,
            |a, b| {
                let (a, b) = (a as i64, b as i64);
                let v = (a * 3 - b).abs().max(floor_div_mod(b, 4).0);
                (v + floor_div_mod(a, 7).1 + b).min(500)
            },
            |x, y| {
                let v = ((&x * 3) - &y).abs().unwrap();
                let v = v.maximum(y.floor_divide(4).unwrap()).unwrap();
                let v = &v + (&x % 7);
                (&v - (-&y)).minimum(500).unwrap()
            }
        );
    };
}

/// maximum(abs(x * 1.5 - y), y * 0.25) - (-y) + 2, at most 500, in the float type itself.
macro_rules! float_chain_case {
    ($name:ident, $t:ty) => {
        fused_chain_case!(
            $name,
            $t,
            |a, b| ((a * 1.5 - b).abs().max(b * 0.25) - (-b) + 2.0).min(500.0),
            |x, y| {
                let v = ((&x * 1.5) - &y).abs().unwrap();
                let v = v.maximum(&y * 0.25).unwrap();
                let v = &v - (-&y) + 2.0;
                v.minimum(500.0).unwrap()
            }
        );
    };
}

int_chain_case!(fused_chain_int16, i16);
int_chain_case!(fused_chain_int32, i32);
int_chain_case!(fused_chain_int64, i64);
float_chain_case!(fused_chain_float32, f32);
float_chain_case!(fused_chain_float64, f64);

/// Python's `a // b` for integers, 0 where `b` is 0 (numpy's result, without its warning).
fn int_floor_div(a: i64, b: i64) -> i64 {
    if b == 0 {
        0
    } else {
        floor_div_mod(a, b).0
    }
}

/// minimum(maximum(1000 // (square(abs((7 - x * 3) // 4)) % 97), 3), 500) subtracted from 2:
/// a linear chain (one array operand, scalars on either side of each operation) with
/// divisions by zero. Floor division and remainder are operations the register loop refuses,
/// so this chain runs in strip loops.
macro_rules! int_div_line_case {
    ($name:ident, $t:ty) => {
        fused_chain_case!(
            $name,
            $t,
            |a, _b| {
                let a = a as i64;
                let v = int_floor_div(7 - a * 3, 4).abs().pow(2);
                let v = int_floor_div(1000, floor_div_mod(v, 97).1);
                2 - v.max(3).min(500)
            },
            |x, _y| {
                let v = 7 - &x * 3;
                let v = v.floor_divide(4).unwrap().abs().unwrap().square().unwrap();
                let v = LazyArray::binary(BinaryOp::FloorDiv, 1000, &v % 97).unwrap();
                let v = v.maximum(3).unwrap().minimum(500).unwrap();
                LazyArray::binary(BinaryOp::Sub, 2, v).unwrap()
            }
        );
    };
}

/// 2 - -(minimum(maximum(square(minimum(abs(7 - x * 3), 150)) - 10000, -5000), 500) ^ 5)
/// (every value fits int16): a linear chain whose every operation the executor runs with
/// all steps in registers.
macro_rules! int_line_case {
    ($name:ident, $t:ty) => {
        fused_chain_case!(
            $name,
            $t,
            |a, _b| {
                let a = a as i64;
                let v = (7 - a * 3).abs().min(150).pow(2) - 10000;
                2 - (-(v.max(-5000).min(500) ^ 5))
            },
            |x, _y| {
                let v = 7 - &x * 3;
                let v = v.abs().unwrap().minimum(150).unwrap().square().unwrap() - 10000;
                let v = v.maximum(-5000).unwrap().minimum(500).unwrap();
                2 - -&v.bitwise_xor(5).unwrap()
            }
        );
    };
}

/// -floor(square(minimum(maximum(3 / floor(abs(20 - x * 1.5) / 4), 0.1), 0.9)) * 16): a
/// linear float chain with divisions by zero (3 / 0 is infinity, then clipped), its values
/// whole so that float32 sums are exact.
macro_rules! float_line_case {
    ($name:ident, $t:ty) => {
        fused_chain_case!(
            $name,
            $t,
            |a, _b| {
                let v = ((20.0 - a * 1.5).abs() / 4.0).floor();
                let v = (3.0 / v).max(0.1).min(0.9);
                -(v * v * 16.0).floor()
            },
            |x, _y| {
                let v = 20.0 - &x * 1.5;
                let v = (v.abs().unwrap() / 4.0).floor().unwrap();
                let v = LazyArray::binary(BinaryOp::Div, 3.0, v).unwrap();
                let v = v.maximum(0.1).unwrap().minimum(0.9).unwrap();
                let v = (v.square().unwrap() * 16.0).floor().unwrap();
                (-&v)
            }
        );
    };
}

int_div_line_case!(div_line_chain_int16, i16);
int_div_line_case!(div_line_chain_int32, i32);
int_div_line_case!(div_line_chain_int64, i64);
int_line_case!(line_chain_int16, i16);
int_line_case!(line_chain_int32, i32);
int_line_case!(line_chain_int64, i64);
float_line_case!(line_chain_float32, f32);
float_line_case!(line_chain_float64, f64);
