//! Pairwise summation, numpy's scheme: blocks of 128 values summed with eight accumulators,
//! blocks combined recursively. The error grows as O(log n) rather than O(n).
//!
//! The recursion is walked with an explicit stack ([`pairwise_tree`]) so that a whole sum is
//! one function body: the public entry points are compiled for AVX-512 and AVX2 as well as
//! the baseline and chosen at run time (`multiversion`), and every leaf loop is inlined into
//! the chosen version. Every version performs the same IEEE operations in the same order
//! (Rust never contracts `a * b + c` into a fused multiply-add), so all give the same bits.

use multiversion::multiversion;

use super::{prefetch_ahead, Element};

/// Block length below which values are summed directly.
const BLOCK: usize = 128;

/// Where a pairwise tree splits `len` values (`len > leaf`): half, rounded down to a
/// multiple of eight.
#[inline(always)]
fn split(len: usize) -> usize {
    (len / 2 / 8) * 8
}

/// How a pairwise tree folds its pieces: a trait rather than closures so that every method
/// is inlined into the one multiversioned function that walks the tree.
trait Pairwise<T> {
    /// A piece's value.
    type Value: Copy + Default;
    /// Longest piece folded directly.
    const LEAF: usize;
    /// Whether leaves ask for the values ahead of them ([`prefetch_ahead`]): on for a first
    /// pass over data that streams from memory, off for a pass over values already in L1.
    const PREFETCH: bool;
    /// The value of at most `LEAF` values.
    fn leaf(&self, values: &[T]) -> Self::Value;
    /// `(leaf(a), leaf(b))` for the two halves of a split whose halves are both leaves; an
    /// implementation may interleave them so that their dependency chains overlap.
    #[inline(always)]
    fn leaf_pair(&self, a: &[T], b: &[T]) -> (Self::Value, Self::Value) {
        (self.leaf(a), self.leaf(b))
    }
    /// The value of a split range from its halves' values.
    fn combine(&self, left: Self::Value, right: Self::Value) -> Self::Value;
}

/// numpy's pairwise recursion over `values`, without recursing: pieces of at most
/// `P::LEAF` values are folded by `P::leaf` and the halves of every split joined by
/// `P::combine`, in the order the recursive definition gives.
#[inline(always)]
fn pairwise_tree<T, P: Pairwise<T>>(values: &[T], p: &P) -> P::Value {
    // A frame: the range (start, len), the left half's value, and whether it is done. The
    // depth is at most log2(len / LEAF) + 1 <= 64.
    let mut frames = [(0usize, 0usize, P::Value::default(), false); 64];
    let mut depth = 0;
    frames[0] = (0, values.len(), P::Value::default(), false);
    loop {
        let (start, len, _, _) = frames[depth];
        let half = split(len);
        if len > P::LEAF && len - half > P::LEAF {
            depth += 1;
            frames[depth] = (start, half, P::Value::default(), false);
            continue;
        }
        if P::PREFETCH {
            prefetch_ahead(values, start, len);
        }
        let mut value = if len > P::LEAF {
            let (left, right) = p.leaf_pair(
                &values[start..start + half],
                &values[start + half..start + len],
            );
            p.combine(left, right)
        } else {
            p.leaf(&values[start..start + len])
        };
        // Climb while the finished child is a right half.
        loop {
            if depth == 0 {
                return value;
            }
            depth -= 1;
            let (start, len, left, left_done) = &mut frames[depth];
            if *left_done {
                value = p.combine(*left, value);
                continue;
            }
            *left = value;
            *left_done = true;
            let half = split(*len);
            let right = (*start + half, *len - half, P::Value::default(), false);
            depth += 1;
            frames[depth] = right;
            break;
        }
    }
}

/// numpy's horizontal sum of a leaf's eight accumulators, which are first hidden from the
/// optimiser: otherwise LLVM arranges the lanes for that final pairing and shuffles every
/// iteration of the loop, which runs a NaN-skipping sum in L1 at a quarter of the speed of
/// the straight vector loop this gives. The values and their order are unchanged.
#[inline(always)]
fn horizontal_sum(acc: [f64; 8]) -> f64 {
    let acc = std::hint::black_box(acc);
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
}

/// The pairwise sum of `f(x)`: blocks of [`BLOCK`] values, eight accumulators; `AHEAD`
/// turns prefetching on.
struct SumOf<'f, F, const AHEAD: bool>(&'f F);

impl<T: Copy, F: Fn(T) -> f64, const AHEAD: bool> Pairwise<T> for SumOf<'_, F, AHEAD> {
    type Value = f64;
    const LEAF: usize = BLOCK;
    const PREFETCH: bool = AHEAD;
    #[inline(always)]
    fn leaf(&self, values: &[T]) -> f64 {
        let mut acc = [0.0f64; 8];
        for lane in values.chunks_exact(8) {
            self.add_lane(&mut acc, lane);
        }
        self.total(acc, values)
    }
    #[inline(always)]
    fn leaf_pair(&self, a: &[T], b: &[T]) -> (f64, f64) {
        // Both halves' lanes in one loop: two independent chains of additions, each in the
        // order `leaf` adds them.
        let (mut x, mut y) = ([0.0f64; 8], [0.0f64; 8]);
        let both = a.len().min(b.len()) / 8;
        for (la, lb) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
            self.add_lane(&mut x, la);
            self.add_lane(&mut y, lb);
        }
        for la in a.chunks_exact(8).skip(both) {
            self.add_lane(&mut x, la);
        }
        for lb in b.chunks_exact(8).skip(both) {
            self.add_lane(&mut y, lb);
        }
        (self.total(x, a), self.total(y, b))
    }
    #[inline(always)]
    fn combine(&self, left: f64, right: f64) -> f64 {
        left + right
    }
}

impl<F, const AHEAD: bool> SumOf<'_, F, AHEAD> {
    /// Adds `f` of a lane of eight values to the accumulators.
    #[inline(always)]
    fn add_lane<T: Copy>(&self, acc: &mut [f64; 8], lane: &[T])
    where
        F: Fn(T) -> f64,
    {
        for (a, v) in acc.iter_mut().zip(lane) {
            *a += (self.0)(*v);
        }
    }

    /// numpy's horizontal sum of the accumulators, then the values past the last whole lane.
    #[inline(always)]
    fn total<T: Copy>(&self, acc: [f64; 8], values: &[T]) -> f64
    where
        F: Fn(T) -> f64,
    {
        let mut total = horizontal_sum(acc);
        for v in values.chunks_exact(8).remainder() {
            total += (self.0)(*v);
        }
        total
    }
}

/// The pairwise sum of `f(x)` over `values`.
#[multiversion(targets("x86_64+avx512f+avx512dq+avx512vl", "x86_64+avx2"))]
pub fn pairwise_sum_by<T: Copy, F: Fn(T) -> f64>(values: &[T], f: &F) -> f64 {
    pairwise_tree(values, &SumOf::<_, true>(f))
}

/// The pairwise sum of the non-NaN values and their number: the lanes of [`SumOf`] with
/// NaNs as zero, and per-lane counts.
struct NanSum;

impl<T: Element> Pairwise<T> for NanSum {
    type Value = (f64, u64);
    const LEAF: usize = BLOCK;
    const PREFETCH: bool = true;
    #[inline(always)]
    fn leaf(&self, values: &[T]) -> (f64, u64) {
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
        let mut total = horizontal_sum(acc);
        let mut n: u64 = count.iter().sum();
        for v in lanes.remainder() {
            let nan = v.is_nan();
            total += if nan { 0.0 } else { v.to_f64() };
            n += u64::from(!nan);
        }
        (total, n)
    }
    #[inline(always)]
    fn combine(&self, (a, m): (f64, u64), (b, k): (f64, u64)) -> (f64, u64) {
        (a + b, m + k)
    }
}

/// The pairwise sum of the non-NaN values and their number, in one pass. The sum is
/// bit-identical to [`pairwise_sum_by`] with NaNs mapped to zero (same blocks, same lanes).
#[multiversion(targets("x86_64+avx512f+avx512dq+avx512vl", "x86_64+avx2"))]
pub fn pairwise_nansum<T: Element>(values: &[T]) -> (f64, u64) {
    pairwise_tree(values, &NanSum)
}

/// Values per piece of [`Moments::of`]: two passes over a piece stay in the L1 cache.
const MOMENT_PIECE: usize = 4096;

/// The count, mean and sum of squared deviations (M2) of a set of values: enough to merge
/// variances exactly (Chan et al.).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Moments {
    /// Values counted.
    pub n: f64,
    /// Their mean (0 when there are none).
    pub mean: f64,
    /// The sum of their squared deviations from `mean`.
    pub m2: f64,
}

/// Two-pass moments of pieces of at most [`MOMENT_PIECE`] values, merged by Chan et al.
struct MomentsOf {
    skip_nan: bool,
}

impl<T: Element> Pairwise<T> for MomentsOf {
    type Value = Moments;
    const LEAF: usize = MOMENT_PIECE;
    // The first pass of each piece prefetches; the second reads the piece from L1.
    const PREFETCH: bool = false;
    #[inline(always)]
    fn leaf(&self, values: &[T]) -> Moments {
        let (sum, n) = if self.skip_nan {
            pairwise_tree(values, &NanSum)
        } else {
            let plain = SumOf::<_, true>(&|v: T| v.to_f64());
            (pairwise_tree(values, &plain), values.len() as u64)
        };
        if n == 0 {
            return Moments::default();
        }
        let mean = sum / n as f64;
        let m2 = if self.skip_nan {
            let squares = |v: T| {
                if v.is_nan() {
                    0.0
                } else {
                    (v.to_f64() - mean).powi(2)
                }
            };
            pairwise_tree(values, &SumOf::<_, false>(&squares))
        } else {
            let squares = |v: T| (v.to_f64() - mean).powi(2);
            pairwise_tree(values, &SumOf::<_, false>(&squares))
        };
        Moments {
            n: n as f64,
            mean,
            m2,
        }
    }
    #[inline(always)]
    fn combine(&self, mut left: Moments, right: Moments) -> Moments {
        left.merge(&right);
        left
    }
}

#[multiversion(targets("x86_64+avx512f+avx512dq+avx512vl", "x86_64+avx2"))]
fn moments_of<T: Element>(values: &[T], skip_nan: bool) -> Moments {
    pairwise_tree(values, &MomentsOf { skip_nan })
}

impl Moments {
    /// The moments of `values`, NaNs skipped when `skip_nan` (else a NaN makes mean and M2
    /// NaN). Two passes (pairwise sum, then pairwise squared deviations) over pieces small
    /// enough to stay in L1, merged pairwise: as accurate as numpy's two-pass variance, at
    /// the memory traffic of one pass.
    pub(crate) fn of<T: Element>(values: &[T], skip_nan: bool) -> Moments {
        moments_of(values, skip_nan)
    }

    /// Adds the values `other` describes (Chan et al.'s parallel update).
    #[inline(always)]
    pub(crate) fn merge(&mut self, other: &Moments) {
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

    /// numpy's pairwise sum written as the recursion it is defined by.
    fn recursive_sum(values: &[f64]) -> f64 {
        if values.len() <= BLOCK {
            let mut acc = [0.0f64; 8];
            let mut lanes = values.chunks_exact(8);
            for lane in &mut lanes {
                for (a, v) in acc.iter_mut().zip(lane) {
                    *a += v;
                }
            }
            let mut total =
                ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
            for v in lanes.remainder() {
                total += v;
            }
            return total;
        }
        let half = values.len() / 2 / 8 * 8;
        recursive_sum(&values[..half]) + recursive_sum(&values[half..])
    }

    /// The two-pass moments of `values` split into halves above `MOMENT_PIECE`, recursively.
    fn recursive_moments(values: &[f64]) -> Moments {
        if values.len() > MOMENT_PIECE {
            let half = values.len() / 2 / 8 * 8;
            let mut left = recursive_moments(&values[..half]);
            left.merge(&recursive_moments(&values[half..]));
            return left;
        }
        if values.is_empty() {
            return Moments::default();
        }
        let mean = recursive_sum(values) / values.len() as f64;
        let squares: Vec<f64> = values.iter().map(|v| (v - mean).powi(2)).collect();
        Moments {
            n: values.len() as f64,
            mean,
            m2: recursive_sum(&squares),
        }
    }

    #[test]
    fn the_explicit_stack_walks_the_recursive_tree() {
        // Values whose sum depends on the order of additions, at lengths around every split.
        let values: Vec<f64> = (0..70_000)
            .map(|i| ((i as f64) * 0.7).sin() * 10f64.powi(i % 17 - 8))
            .collect();
        for len in [
            0, 1, 7, 8, 127, 128, 129, 255, 256, 1000, 4095, 4096, 4097, 9000, 70_000,
        ] {
            let v = &values[..len];
            let want = recursive_sum(v);
            assert_eq!(
                pairwise_sum_by(v, &|x| x).to_bits(),
                want.to_bits(),
                "sum of {len}"
            );
            assert_eq!(
                pairwise_nansum(v).0.to_bits(),
                want.to_bits(),
                "nansum of {len}"
            );
            let (m, r) = (Moments::of(v, false), recursive_moments(v));
            assert_eq!(
                (m.n, m.mean.to_bits(), m.m2.to_bits()),
                (r.n, r.mean.to_bits(), r.m2.to_bits()),
                "moments of {len}"
            );
        }
    }

    #[test]
    fn matches_exact_sum_and_beats_naive() {
        let values: Vec<f64> = (0..100_003).map(|i| 0.1 + (i % 7) as f64).collect();
        let exact: f64 = (0..100_003).map(|i| (i % 7) as f64).sum::<f64>() + 0.1 * 100_003.0;
        let pairwise = pairwise_sum_by(&values, &|v| v);
        assert!(
            (pairwise - exact).abs() <= 1e-9 * exact,
            "{pairwise} vs {exact}"
        );
        assert_eq!(pairwise_sum_by(&[] as &[f64], &|v| v), 0.0);
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
