//! The smallest and largest values of a run in one vectorised pass, NaNs skipped and noted:
//! what min/max reductions fold and what the statistics sidecar records.

use multiversion::multiversion;

use super::{prefetch_ahead, Element, Kind};

/// Independent accumulators per step: enough to fill two AVX-512 registers of `f64`, and no
/// data dependence between neighbouring elements.
const LANES: usize = 16;

/// Elements between prefetches: the loop streams mapped chunks (see [`prefetch_ahead`]).
const BLOCK: usize = 512;

/// What [`extremes`] finds in a run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Extremes<T> {
    /// The smallest and largest non-NaN values (`None` if there are none), each the first
    /// element of the run equal to it, as a serial scan that replaces only on a strict
    /// comparison keeps (that matters only for `-0.0` against `0.0`).
    pub range: Option<(T, T)>,
    /// Whether the run holds a NaN.
    pub nan: bool,
}

/// The extremes of `values` and whether any is NaN; the same answer as a serial scan.
pub(crate) fn extremes<T: Element>(values: &[T]) -> Extremes<T> {
    let is_float = T::DATA_TYPE.kind() == Kind::Float;
    let Some(first) = values.iter().position(|v| !v.is_nan()) else {
        return Extremes {
            range: None,
            nan: !values.is_empty(),
        };
    };
    let (lo, hi, nan) = lanes(&values[first..]);
    // Lanes may meet `0.0` and `-0.0` in another order than a serial scan; only zeros
    // compare equal with different bits, so only they need the serial scan's answer.
    let first_equal = |v: T| {
        if is_float && v == T::default() {
            *values.iter().find(|&&x| x == v).expect("v is in the run")
        } else {
            v
        }
    };
    Extremes {
        range: Some((first_equal(lo), first_equal(hi))),
        nan: nan || first > 0,
    }
}

/// The smallest and largest values of `values`, whose first element is not NaN, NaNs
/// skipped (a comparison with NaN is false, so a NaN never replaces a lane's value), and
/// whether one was seen. Branch-free lanes that LLVM vectorises, compiled for AVX-512 and
/// AVX2 as well as the baseline and chosen at run time; every version returns the same
/// values.
#[multiversion(targets("x86_64+avx512f+avx512bw+avx512dq+avx512vl", "x86_64+avx2"))]
fn lanes<T: Element>(values: &[T]) -> (T, T, bool) {
    let mut lo = [values[0]; LANES];
    let mut hi = lo;
    let mut nan = [false; LANES];
    for (b, block) in values.chunks(BLOCK).enumerate() {
        prefetch_ahead(values, b * BLOCK, block.len());
        for piece in block.chunks_exact(LANES) {
            for (((l, h), n), &v) in lo.iter_mut().zip(&mut hi).zip(&mut nan).zip(piece) {
                *l = if v < *l { v } else { *l };
                *h = if v > *h { v } else { *h };
                *n |= v.is_nan();
            }
        }
    }
    // Every block but the last is whole lanes: what is left is the last `len % LANES`.
    let rest = &values[values.len() - values.len() % LANES..];
    let (mut l, mut h) = (values[0], values[0]);
    let mut any_nan = nan.iter().any(|&n| n);
    for &v in lo.iter().chain(rest) {
        if v < l {
            l = v;
        }
    }
    for &v in hi.iter().chain(rest) {
        if v > h {
            h = v;
        }
        any_nan |= v.is_nan();
    }
    (l, h, any_nan)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A serial scan: replace only on a strict comparison, note NaNs.
    fn serial<T: Element>(values: &[T]) -> Extremes<T> {
        let mut range: Option<(T, T)> = None;
        let mut nan = false;
        for &v in values {
            if v.is_nan() {
                nan = true;
                continue;
            }
            range = Some(match range {
                None => (v, v),
                Some((l, h)) => (if v < l { v } else { l }, if v > h { v } else { h }),
            });
        }
        Extremes { range, nan }
    }

    fn same_bits(a: Extremes<f64>, b: Extremes<f64>) -> bool {
        let bits = |r: Option<(f64, f64)>| r.map(|(l, h)| (l.to_bits(), h.to_bits()));
        a.nan == b.nan && bits(a.range) == bits(b.range)
    }

    #[test]
    fn lanes_equal_a_serial_scan() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for len in [0usize, 1, 15, 16, 17, 511, 512, 513, 1000, 4099] {
            for case in 0..6 {
                let values: Vec<f64> = (0..len)
                    .map(|_| match (next() % 10, case) {
                        (0, 1 | 3) => f64::NAN,
                        (1, 2 | 3) => 0.0,
                        (2, 2 | 3) => -0.0,
                        (_, 4) => f64::NAN,
                        _ => (next() % 2000) as f64 - 1000.0,
                    })
                    .collect();
                let mut values = values;
                if case == 5 && len > 3 {
                    values[len - 1] = f64::NAN;
                    values[0] = f64::NAN;
                }
                let (got, want) = (extremes(&values), serial(&values));
                assert!(
                    same_bits(got, want),
                    "len {len} case {case}: {got:?} != {want:?}"
                );
            }
            let ints: Vec<i16> = (0..len).map(|_| next() as i16).collect();
            assert_eq!(extremes(&ints), serial(&ints), "int16, len {len}");
        }
    }
}
