//! Counter-based random arrays: the value at a global index depends only on (seed, index),
//! never on how the array is cut into blocks, so rechunking or slicing a random array never
//! changes its values (`docs/design.md` §4).
//!
//! The generator is SplitMix64 evaluated at a position: the value at C-order flat index `i`
//! is the SplitMix64 output mixed from the Weyl state `key + (i + 1) * 0x9e3779b97f4a7c15`,
//! so any element is computed directly, and the stream is SplitMix64's (which passes
//! BigCrush). Indices count modulo 2^64, the stream's period: an array of more elements
//! (fine lazily: `[10^18, 10^5]`) repeats it. The
//! key is the seed mixed the same way, so nearby seeds give unrelated streams. The mix uses
//! only 64-bit low multiplies, which vector units have (AVX-512's `vpmullq`): uniform values
//! are generated eight at a time where the processor allows (chosen at run time), with the
//! same bits as the plain loop.

use std::ops::Range;

use multiversion::multiversion;

use super::{BlockGrid, Distribution, LazyArray, Op};
use crate::element::DataType;
use crate::error::{invalid, Result};
use crate::format::layout::default_chunk_shape;

/// SplitMix64's Weyl increment (the golden ratio in 64 bits).
const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64's output function.
#[inline(always)]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The stream key of `seed`.
fn key_of(seed: u64) -> u64 {
    mix(seed.wrapping_add(GAMMA))
}

/// The 64 random bits at `index` of the stream keyed by `key`.
#[inline(always)]
fn bits_at(key: u64, index: u64) -> u64 {
    mix(key.wrapping_add(index.wrapping_add(1).wrapping_mul(GAMMA)))
}

/// A float in `[0, 1)` from the top 53 bits.
#[inline(always)]
fn unit(bits: u64) -> f64 {
    top53(bits) * UNIT
}

/// 2^-53: the spacing of [`unit()`]'s values.
const UNIT: f64 = 1.0 / (1u64 << 53) as f64;

/// The top 53 bits as a float (exact), converted through i64: one instruction, where a u64
/// conversion takes several.
#[inline(always)]
fn top53(bits: u64) -> f64 {
    ((bits >> 11) as i64) as f64
}

fn source(seed: u64, shape: &[u64], data_type: DataType, dist: Distribution) -> LazyArray {
    let grid = BlockGrid::regular(shape, &default_chunk_shape(shape, data_type.size()));
    LazyArray::new(data_type, shape.to_vec(), grid, Op::Random { seed, dist })
}

/// Uniform `float64` values in `[low, high)`.
///
/// # Errors
/// `low` or `high` not finite, or `low > high` ([`ErrorKind::InvalidArgument`]).
///
/// [`ErrorKind::InvalidArgument`]: crate::ErrorKind::InvalidArgument
pub fn uniform(seed: u64, shape: &[u64], low: f64, high: f64) -> Result<LazyArray> {
    if !(low.is_finite() && high.is_finite() && low <= high) {
        return Err(invalid(format!(
            "uniform: need finite low <= high, got {low}, {high}"
        )));
    }
    Ok(source(
        seed,
        shape,
        DataType::Float64,
        Distribution::Uniform { low, high },
    ))
}

/// Normal (Gaussian) `float64` values (Box–Muller on two counter-based uniforms).
///
/// # Errors
/// `mean` or `std` not finite, or `std` negative ([`ErrorKind::InvalidArgument`]).
///
/// [`ErrorKind::InvalidArgument`]: crate::ErrorKind::InvalidArgument
pub fn normal(seed: u64, shape: &[u64], mean: f64, std: f64) -> Result<LazyArray> {
    if !(mean.is_finite() && std.is_finite() && std >= 0.0) {
        return Err(invalid(format!(
            "normal: need a finite mean and std >= 0, got {mean}, {std}"
        )));
    }
    Ok(source(
        seed,
        shape,
        DataType::Float64,
        Distribution::Normal { mean, std },
    ))
}

/// Uniform `int64` values in `[low, high)` (Lemire's multiply-shift: the bias is below
/// `(high - low) / 2^64`).
///
/// # Errors
/// `low >= high` ([`ErrorKind::InvalidArgument`]).
///
/// [`ErrorKind::InvalidArgument`]: crate::ErrorKind::InvalidArgument
pub fn integers(seed: u64, shape: &[u64], low: i64, high: i64) -> Result<LazyArray> {
    if low >= high {
        return Err(invalid(format!(
            "integers: need low < high, got {low}, {high}"
        )));
    }
    Ok(source(
        seed,
        shape,
        DataType::Int64,
        Distribution::Integers { low, high },
    ))
}

/// Fills `row` with `low + step * top53(bits)` of the indices from `first` on. Compiled
/// for AVX-512 and AVX2 as well as the baseline and chosen at run time; every version
/// computes the same bits.
#[multiversion(targets("x86_64+avx512f+avx512dq+avx512vl", "x86_64+avx2"))]
fn fill_uniform(key: u64, first: u64, row: &mut [f64], low: f64, step: f64) {
    // The index's Weyl state computed from the row's base, so lanes are independent.
    let base = key.wrapping_add(first.wrapping_add(1).wrapping_mul(GAMMA));
    for (j, v) in row.iter_mut().enumerate() {
        let bits = mix(base.wrapping_add((j as u64).wrapping_mul(GAMMA)));
        *v = low + step * top53(bits);
    }
}

/// Fills `out` with the values of `region` of a random array of `shape`, in C order.
pub(crate) fn fill_f64(
    seed: u64,
    dist: &Distribution,
    shape: &[u64],
    region: &[Range<u64>],
    out: &mut [f64],
) {
    let key = key_of(seed);
    for_each_row(shape, region, out, |flat, row| match *dist {
        Distribution::Uniform { low, high } => {
            // `scale * (x * 2^-53)` and `(scale * 2^-53) * x` round the same exact product.
            fill_uniform(key, flat, row, low, (high - low) * UNIT);
        }
        Distribution::Normal { mean, std } => {
            for (j, v) in row.iter_mut().enumerate() {
                // Element `i` takes the uniforms at indices `2i` and `2i + 1`.
                let i = (flat + j as u64).wrapping_mul(2);
                let u1 = 1.0 - unit(bits_at(key, i));
                let u2 = unit(bits_at(key, i.wrapping_add(1)));
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                *v = mean + std * z;
            }
        }
        Distribution::Integers { .. } => unreachable!("integers fill int64"),
    });
}

/// As [`fill_f64`], for `integers`.
pub(crate) fn fill_i64(
    seed: u64,
    low: i64,
    high: i64,
    shape: &[u64],
    region: &[Range<u64>],
    out: &mut [i64],
) {
    let key = key_of(seed);
    let range = (i128::from(high) - i128::from(low)) as u128;
    for_each_row(shape, region, out, |flat, row| {
        for (j, v) in row.iter_mut().enumerate() {
            let r = (u128::from(bits_at(key, flat + j as u64)) * range) >> 64;
            *v = (i128::from(low) + r as i128) as i64;
        }
    });
}

/// Calls `f(flat index of the row's first element, row)` for each last-axis row of `region`.
pub(crate) fn for_each_row<T>(
    shape: &[u64],
    region: &[Range<u64>],
    out: &mut [T],
    mut f: impl FnMut(u64, &mut [T]),
) {
    let ndim = shape.len();
    if ndim == 0 {
        if let Some(first) = out.first_mut() {
            f(0, std::slice::from_mut(first));
        }
        return;
    }
    let row_len = (region[ndim - 1].end - region[ndim - 1].start) as usize;
    if row_len == 0 {
        return;
    }
    let mut coords: Vec<u64> = region.iter().map(|r| r.start).collect();
    for row in out.chunks_exact_mut(row_len) {
        // Modulo 2^64, the generator's period: an array of more elements repeats its stream.
        let flat = coords
            .iter()
            .zip(shape)
            .fold(0u64, |acc, (&c, &n)| acc.wrapping_mul(n).wrapping_add(c));
        f(flat, row);
        // Advance the odometer over all but the last axis.
        for axis in (0..ndim - 1).rev() {
            coords[axis] += 1;
            if coords[axis] < region[axis].end {
                break;
            }
            coords[axis] = region[axis].start;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SplitMix64 stepped one value at a time from the state `state`, the way the
    /// reference implementation runs (`state += GAMMA; mix(state)`).
    fn reference_stream(mut state: u64, n: u64) -> Vec<u64> {
        (0..n)
            .map(|_| {
                state = state.wrapping_add(GAMMA);
                mix(state)
            })
            .collect()
    }

    /// The published first outputs of SplitMix64 seeded with 1234567.
    #[test]
    fn bits_are_splitmix64() {
        let published = [
            6457827717110365317,
            3203168211198807973,
            9817491932198370423,
            4593380528125082431,
            16408922859458223821,
        ];
        assert_eq!(reference_stream(1234567, 5), published);
        for (i, want) in published.iter().enumerate() {
            assert_eq!(bits_at(1234567, i as u64), *want);
        }
    }

    #[test]
    fn values_match_a_stepped_splitmix64_stream() {
        let shape = [3, 1000];
        let region = [1..3, 17..980];
        let n = 2 * 963;
        let stream = reference_stream(key_of(4), 6000);
        let bits_at = |_key: u64, i: u64| stream[i as usize];
        let key = 0;
        let (low, high) = (-2.5, 7.0);
        let mut u = vec![0.0; n];
        fill_f64(
            4,
            &Distribution::Uniform { low, high },
            &shape,
            &region,
            &mut u,
        );
        let mut g = vec![0.0; n];
        let (mean, std) = (1.0, 3.0);
        fill_f64(
            4,
            &Distribution::Normal { mean, std },
            &shape,
            &region,
            &mut g,
        );
        let mut k = vec![0i64; n];
        fill_i64(4, -5, 1 << 40, &shape, &region, &mut k);
        for (r, row) in (1..3u64).enumerate() {
            for (c, col) in (17..980u64).enumerate() {
                let i = row * 1000 + col;
                let at = r * 963 + c;
                let unit = |b: u64| (b >> 11) as f64 / (1u64 << 53) as f64;
                assert_eq!(u[at], low + (high - low) * unit(bits_at(key, i)));
                let u1 = 1.0 - unit(bits_at(key, 2 * i));
                let u2 = unit(bits_at(key, 2 * i + 1));
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                assert_eq!(g[at], mean + std * z);
                let span = (1i128 << 40) + 5;
                let want = -5 + ((u128::from(bits_at(key, i)) * span as u128) >> 64) as i128;
                assert_eq!(i128::from(k[at]), want);
            }
        }
    }

    #[test]
    fn values_depend_on_index_only() {
        let shape = [5, 7];
        let mut whole = vec![0.0; 35];
        fill_f64(
            9,
            &Distribution::Uniform {
                low: 0.0,
                high: 1.0,
            },
            &shape,
            &[0..5, 0..7],
            &mut whole,
        );
        let mut part = vec![0.0; 6];
        fill_f64(
            9,
            &Distribution::Uniform {
                low: 0.0,
                high: 1.0,
            },
            &shape,
            &[2..4, 4..7],
            &mut part,
        );
        assert_eq!(&part[..3], &whole[2 * 7 + 4..2 * 7 + 7]);
        assert_eq!(&part[3..], &whole[3 * 7 + 4..3 * 7 + 7]);
        let mean = whole.iter().sum::<f64>() / 35.0;
        assert!((0.3..0.7).contains(&mean));
        assert!(whole.iter().all(|v| (0.0..1.0).contains(v)));
    }
}
