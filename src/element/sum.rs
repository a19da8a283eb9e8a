//! Pairwise summation, numpy's scheme: blocks of 128 values summed with eight accumulators,
//! blocks combined recursively. The error grows as O(log n) rather than O(n).

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
}
