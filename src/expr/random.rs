//! Counter-based random arrays: the value at a global index depends only on (seed, index),
//! never on how the array is cut into blocks, so rechunking or slicing a random array never
//! changes its values (`DESIGN.md` §4).
//!
//! The generator is wyrand evaluated at a position: the state after `i + 1` steps is
//! `key + (i + 1) * 0xa0761d6478bd642f`, so any element is computed directly, and its output
//! is wyrand's (which passes BigCrush and PractRand). The seed is first mixed with splitmix64
//! so nearby seeds give unrelated streams.

use std::ops::Range;

use super::{BlockGrid, Distribution, LazyArray, Op};
use crate::element::DataType;
use crate::error::{invalid, Result};
use crate::format::layout::default_chunk_shape;

const WY_INCREMENT: u64 = 0xa076_1d64_78bd_642f;
const WY_XOR: u64 = 0xe703_7ed1_a0b4_28db;

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The 64 random bits at `index` of the stream keyed by `key`.
#[inline(always)]
fn bits_at(key: u64, index: u64) -> u64 {
    let s = key.wrapping_add(index.wrapping_add(1).wrapping_mul(WY_INCREMENT));
    let t = u128::from(s) * u128::from(s ^ WY_XOR);
    ((t >> 64) as u64) ^ (t as u64)
}

/// A float in `[0, 1)` from the top 53 bits.
#[inline(always)]
fn unit(bits: u64) -> f64 {
    (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

fn source(seed: u64, shape: &[u64], data_type: DataType, dist: Distribution) -> LazyArray {
    let grid = BlockGrid::regular(shape, &default_chunk_shape(shape, data_type.size()));
    LazyArray::new(data_type, shape.to_vec(), grid, Op::Random { seed, dist })
}

/// Uniform `float64` values in `[low, high)`.
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

/// Fills `out` with the values of `region` of a random array of `shape`, in C order.
pub(crate) fn fill_f64(
    seed: u64,
    dist: &Distribution,
    shape: &[u64],
    region: &[Range<u64>],
    out: &mut [f64],
) {
    let key = splitmix64(seed);
    for_each_row(shape, region, out, |flat, row| match *dist {
        Distribution::Uniform { low, high } => {
            let scale = high - low;
            for (j, v) in row.iter_mut().enumerate() {
                *v = low + scale * unit(bits_at(key, flat + j as u64));
            }
        }
        Distribution::Normal { mean, std } => {
            for (j, v) in row.iter_mut().enumerate() {
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
    let key = splitmix64(seed);
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
        let flat = coords
            .iter()
            .zip(shape)
            .fold(0u64, |acc, (c, n)| acc * n + c);
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
