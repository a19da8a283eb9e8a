//! Reductions of elementwise expressions over blocks large enough that the executor folds
//! them tile by tile (leaves evaluated once per block, the expression over cache-sized
//! slices), checked against the same expression and reductions computed with plain ndarray:
//! tiles along reduced and kept axes, broadcast operands, arg reductions (whose indices
//! depend on each tile's origin), NaN-aware forms and variance.

use outcore::ndarray::{ArrayD, Axis, IxDyn};
use outcore::{Axes, LazyArray, ReduceOp};
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
    let lazy = lx
        .mul(2.0)
        .unwrap()
        .sub(ly)
        .unwrap()
        .abs()
        .unwrap()
        .add(1.0)
        .unwrap();
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
