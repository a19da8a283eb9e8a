//! Pairwise summation, numpy's scheme: blocks of 128 values summed with eight accumulators,
//! blocks combined recursively. The error grows as O(log n) rather than O(n).

use super::Element;

/// Block length below which values are summed directly.
const BLOCK: usize = 128;

/// The pairwise sum of `f(x)` over `values`.
#[inline]
pub fn pairwise_sum_by<T: Copy>(values: &[T], f: &impl Fn(T) -> f64) -> f64 {
    if values.len() <= BLOCK {
        let mut acc = [0.0f64; 8];
        let mut lanes = values.chunks_exact(8);
        for lane in &mut lanes {
            for (a, v) in acc.iter_mut().zip(lane) {
                *a += f(*v);
            }
        }
        let mut total =
            ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        for v in lanes.remainder() {
            total += f(*v);
        }
        total
    } else {
        let half = (values.len() / 2 / 8) * 8;
        pairwise_sum_by(&values[..half], f) + pairwise_sum_by(&values[half..], f)
    }
}

/// The pairwise sum of the non-NaN values and their number, in one pass. The sum is
/// bit-identical to [`pairwise_sum_by`] with NaNs mapped to zero (same blocks, same lanes).
pub fn pairwise_nansum<T: Element>(values: &[T]) -> (f64, u64) {
    if values.len() <= BLOCK {
        let mut acc = [0.0f64; 8];
        let mut count = [0u64; 8];
        let mut lanes = values.chunks_exact(8);
        for lane in &mut lanes {
            for ((a, c), v) in acc.iter_mut().zip(&mut count).zip(lane) {
                let nan = v.is_nan();
                *a += if nan { 0.0 } else { v.to_f64() };
                *c += u64::from(!nan);
            }
        }
        let mut total =
            ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
        let mut n: u64 = count.iter().sum();
        for v in lanes.remainder() {
            let nan = v.is_nan();
            total += if nan { 0.0 } else { v.to_f64() };
            n += u64::from(!nan);
        }
        (total, n)
    } else {
        let half = (values.len() / 2 / 8) * 8;
        let (a, m) = pairwise_nansum(&values[..half]);
        let (b, k) = pairwise_nansum(&values[half..]);
        (a + b, m + k)
    }
}

/// Values per piece of [`Moments::of`]: two passes over a piece stay in the L1 cache.
const MOMENT_PIECE: usize = 4096;

/// The count, mean and sum of squared deviations (M2) of a set of values: enough to merge
/// variances exactly (Chan et al.).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Moments {
    /// Values counted.
    pub n: f64,
    /// Their mean (0 when there are none).
    pub mean: f64,
    /// The sum of their squared deviations from `mean`.
    pub m2: f64,
}

impl Moments {
    /// The moments of `values`, NaNs skipped when `skip_nan` (else a NaN makes mean and M2
    /// NaN). Two passes (pairwise sum, then pairwise squared deviations) over pieces small
    /// enough to stay in L1, merged pairwise: as accurate as numpy's two-pass variance, at
    /// the memory traffic of one pass.
    pub fn of<T: Element>(values: &[T], skip_nan: bool) -> Moments {
        if values.len() > MOMENT_PIECE {
            let half = (values.len() / 2 / 8) * 8;
            let mut left = Moments::of(&values[..half], skip_nan);
            left.merge(&Moments::of(&values[half..], skip_nan));
            return left;
        }
        let (sum, n) = if skip_nan {
            pairwise_nansum(values)
        } else {
            (
                pairwise_sum_by(values, &|v: T| v.to_f64()),
                values.len() as u64,
            )
        };
        if n == 0 {
            return Moments::default();
        }
        let mean = sum / n as f64;
        let m2 = if skip_nan {
            pairwise_sum_by(values, &|v: T| {
                if v.is_nan() {
                    0.0
                } else {
                    (v.to_f64() - mean).powi(2)
                }
            })
        } else {
            pairwise_sum_by(values, &|v: T| (v.to_f64() - mean).powi(2))
        };
        Moments {
            n: n as f64,
            mean,
            m2,
        }
    }

    /// Adds the values `other` describes (Chan et al.'s parallel update).
    pub fn merge(&mut self, other: &Moments) {
        if other.n == 0.0 {
            return;
        }
        if self.n == 0.0 {
            *self = *other;
            return;
        }
        let n = self.n + other.n;
        let delta = other.mean - self.mean;
        self.mean += delta * other.n / n;
        self.m2 += other.m2 + delta * delta * self.n * other.n / n;
        self.n = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_exact_sum_and_beats_naive() {
        let values: Vec<f64> = (0..100_003).map(|i| 0.1 + (i % 7) as f64).collect();
        let exact: f64 = (0..100_003).map(|i| (i % 7) as f64).sum::<f64>() + 0.1 * 100_003.0;
        let pairwise = pairwise_sum_by(&values, &|v| v);
        assert!(
            (pairwise - exact).abs() <= 1e-9 * exact,
            "{pairwise} vs {exact}"
        );
        assert_eq!(pairwise_sum_by::<f64>(&[], &|v| v), 0.0);
        assert_eq!(pairwise_sum_by(&[1u8, 2, 3], &|v| f64::from(v)), 6.0);
    }

    #[test]
    fn nansum_counts_and_equals_the_zeroed_pairwise_sum() {
        let values: Vec<f64> = (0..10_007)
            .map(|i| {
                if i % 13 == 0 {
                    f64::NAN
                } else {
                    (i as f64).sin() * 1e3
                }
            })
            .collect();
        let (sum, n) = pairwise_nansum(&values);
        let zeroed = pairwise_sum_by(&values, &|v: f64| if v.is_nan() { 0.0 } else { v });
        assert_eq!(sum.to_bits(), zeroed.to_bits());
        assert_eq!(n, values.iter().filter(|v| !v.is_nan()).count() as u64);
    }

    #[test]
    fn moments_match_the_textbook_two_pass_formula() {
        let values: Vec<f64> = (0..50_001)
            .map(|i| 1e6 + ((i * 7919) % 1000) as f64 * 0.01)
            .collect();
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let m2: f64 = values.iter().map(|v| (v - mean).powi(2)).sum();
        let m = Moments::of(&values, false);
        assert_eq!(m.n, n);
        assert!((m.mean - mean).abs() <= 1e-12 * mean);
        assert!((m.m2 - m2).abs() <= 1e-9 * m2, "{} vs {m2}", m.m2);
        let with_nan: Vec<f64> = values.iter().copied().chain([f64::NAN]).collect();
        assert!(Moments::of(&with_nan, false).m2.is_nan());
        let skipped = Moments::of(&with_nan, true);
        assert_eq!((skipped.n, skipped.mean.to_bits()), (m.n, m.mean.to_bits()));
    }
}
