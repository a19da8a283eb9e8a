//! Exact order statistics: numpy's `quantile`, `percentile`, `median` and their NaN-skipping
//! forms, over all axes or chosen ones, out of core.
//!
//! Each output position (a *group*: one index of the kept axes) needs a few values of known
//! rank among its values. When every group's values fit in the memory budget, one pass
//! collects them and selects. Otherwise passes narrow down: every value is mapped to an
//! order-preserving `u64` key ([`Ordered`]), each pass counts a group's values in buckets of
//! key ranges (the first range the data type's, or the sidecar's min and max when the array is
//! stored with statistics), and only the buckets holding a wanted rank are kept for the next
//! pass. A bucket one key wide is solved (all its values are equal); the rest are collected
//! once they fit, and the ranks selected. Each counting pass divides the width of every key
//! range kept by the bucket count (at least 2^4, usually 2^16), so a pass or two suffices for
//! real data and 64 bits are exhausted after at most 16.
//!
//! The answers are numpy's bit for bit: its virtual indices (`(n - 1) * q`, floors, ceilings,
//! `around`), its `_lerp` (`a + (b - a) * t`, or `b - (b - a) * (1 - t)` when `t >= 0.5`,
//! with `b - a` in the input's type, wrapping for integers) in its result types, and
//! `median`'s mean of the middle two. Signed zeros compare equal, so a rank holding `-0.0`
//! may be answered with `0.0` (numpy's answer there depends on its partition).

use std::ops::Range;

use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn};

use super::{AnyArray, Compute};
use crate::element::{DataType, Element, Num, Scalar};
use crate::error::{invalid, too_large, type_mismatch, Result};
use crate::expr::{Axes, LazyArray};
use crate::format::grid::ravel;
use crate::with_element_type;

/// How a quantile between two order statistics is chosen (numpy's `method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QuantileMethod {
    /// Interpolates linearly between the two neighbours (numpy's default).
    #[default]
    Linear,
    /// The lower neighbour.
    Lower,
    /// The higher neighbour.
    Higher,
    /// The nearest neighbour (ties to the even index, as `np.around`).
    Nearest,
    /// The mean of the two neighbours.
    Midpoint,
}

impl QuantileMethod {
    /// numpy's name of the method.
    pub fn name(self) -> &'static str {
        match self {
            QuantileMethod::Linear => "linear",
            QuantileMethod::Lower => "lower",
            QuantileMethod::Higher => "higher",
            QuantileMethod::Nearest => "nearest",
            QuantileMethod::Midpoint => "midpoint",
        }
    }
}

impl std::str::FromStr for QuantileMethod {
    type Err = crate::Error;

    fn from_str(s: &str) -> Result<Self> {
        [
            QuantileMethod::Linear,
            QuantileMethod::Lower,
            QuantileMethod::Higher,
            QuantileMethod::Nearest,
            QuantileMethod::Midpoint,
        ]
        .into_iter()
        .find(|m| m.name() == s)
        .ok_or_else(|| {
            invalid(format!(
                "unknown quantile method {:?}: linear, lower, higher, nearest or midpoint",
                crate::format::bounded(s.to_string())
            ))
        })
    }
}

/// What to compute: quantiles (or percentiles, or the median), by which method, whether NaNs
/// are skipped. Made by [`Quantiles::of`], [`Quantiles::list`], [`Quantiles::percentile`],
/// [`Quantiles::percentiles`] or [`Quantiles::median`], computed by [`Compute::quantiles`]
/// (or the shortcuts on [`LazyArray`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Quantiles {
    /// Quantiles in [0, 1] (percentiles already divided by 100, as numpy does).
    q: Vec<f64>,
    /// One quantile given as a number (numpy's Python-float `q`): no leading axis, and a
    /// float32 input interpolates in float32.
    scalar: bool,
    /// The percentiles as given, for error messages.
    percent: Option<Vec<f64>>,
    method: QuantileMethod,
    skip_nan: bool,
    median: bool,
}

impl Quantiles {
    /// One quantile `q` (numpy's `np.quantile(x, q)` with a Python float): the result has the
    /// reduced shape.
    pub fn of(q: f64) -> Self {
        Self {
            q: vec![q],
            scalar: true,
            percent: None,
            method: QuantileMethod::Linear,
            skip_nan: false,
            median: false,
        }
    }

    /// Several quantiles (numpy's `q` as a float64 array): the result has a leading axis of
    /// `q.len()`, and a float32 input interpolates in float64, as numpy does.
    pub fn list(q: &[f64]) -> Self {
        Self {
            scalar: false,
            q: q.to_vec(),
            ..Self::of(0.0)
        }
    }

    /// One percentile `p` in [0, 100] (`q = p / 100`, as numpy computes it).
    pub fn percentile(p: f64) -> Self {
        Self {
            percent: Some(vec![p]),
            ..Self::of(p / 100.0)
        }
    }

    /// Several percentiles (see [`Quantiles::list`]).
    pub fn percentiles(p: &[f64]) -> Self {
        Self {
            percent: Some(p.to_vec()),
            ..Self::list(&p.iter().map(|v| v / 100.0).collect::<Vec<_>>())
        }
    }

    /// The median, as numpy's `median` computes it: the mean of the middle two values (for
    /// an even count) in the input's float type, or `float64` for integers; NaN when empty.
    pub fn median() -> Self {
        Self {
            median: true,
            ..Self::of(0.5)
        }
    }

    /// The interpolation method (ignored by the median).
    pub fn method(mut self, method: QuantileMethod) -> Self {
        self.method = method;
        self
    }

    /// Skips NaNs (numpy's `nanquantile`, `nanpercentile`, `nanmedian`): a group of only
    /// NaNs gives NaN. Without it, a group holding a NaN gives NaN.
    pub fn skip_nan(mut self) -> Self {
        self.skip_nan = true;
        self
    }

    fn check(&self) -> Result<()> {
        for (i, &q) in self.q.iter().enumerate() {
            if !(0.0..=1.0).contains(&q) {
                return Err(match &self.percent {
                    Some(p) => invalid(format!("percentile {} is outside [0, 100]", p[i])),
                    None => invalid(format!("quantile {q} is outside [0, 1]")),
                });
            }
        }
        Ok(())
    }
}

/// The element types order statistics take: an order-preserving map to `u64` keys.
pub(crate) trait Ordered: Num {
    /// The smallest and largest keys of the type.
    const KEYS: (u64, u64);
    /// The key, `None` for NaN. `-0.0` and `0.0` share a key.
    fn key(self) -> Option<u64>;
    /// The value of a key.
    fn from_key(key: u64) -> Self;
    /// `(a + b) / 2` as numpy's `mean` of two values computes it, as `f64`.
    fn mean2(a: Self, b: Self) -> f64;
    /// numpy's `_lerp(a, b, t)` in its result type (`f32` for a float32 input and a scalar
    /// `q`), widened to `f64`.
    fn lerp(a: Self, b: Self, t: f64, scalar_q: bool) -> f64;
}

const SIGN: u64 = 1 << 63;

macro_rules! ordered_int {
    ($($t:ty => $wide:ty, $flip:expr);* $(;)?) => {$(
        impl Ordered for $t {
            const KEYS: (u64, u64) = ((<$t>::MIN as $wide as u64) ^ $flip, (<$t>::MAX as $wide as u64) ^ $flip);
            #[inline]
            fn key(self) -> Option<u64> {
                Some((self as $wide as u64) ^ $flip)
            }
            #[inline]
            fn from_key(key: u64) -> Self {
                (key ^ $flip) as $wide as $t
            }
            fn mean2(a: Self, b: Self) -> f64 {
                (a.to_f64() + b.to_f64()) / 2.0
            }
            fn lerp(a: Self, b: Self, t: f64, _scalar_q: bool) -> f64 {
                lerp_f64(a.to_f64(), b.to_f64(), b.wrapping_sub(a).to_f64(), t)
            }
        }
    )*};
}

ordered_int!(
    i8 => i64, SIGN; i16 => i64, SIGN; i32 => i64, SIGN; i64 => i64, SIGN;
    u8 => u64, 0; u16 => u64, 0; u32 => u64, 0; u64 => u64, 0;
);

/// numpy's `_lerp` in `f64`, with `b - a` already computed in the input's type.
fn lerp_f64(a: f64, b: f64, diff: f64, t: f64) -> f64 {
    if t >= 0.5 {
        b - diff * (1.0 - t)
    } else {
        a + diff * t
    }
}

impl Ordered for f64 {
    const KEYS: (u64, u64) = (0, u64::MAX);
    #[inline]
    fn key(self) -> Option<u64> {
        if self.is_nan() {
            return None;
        }
        let bits = (self + 0.0).to_bits(); // -0.0 + 0.0 is 0.0
        Some(if bits & SIGN != 0 { !bits } else { bits | SIGN })
    }
    #[inline]
    fn from_key(key: u64) -> Self {
        f64::from_bits(if key & SIGN != 0 { key & !SIGN } else { !key })
    }
    fn mean2(a: Self, b: Self) -> f64 {
        (a + b) / 2.0
    }
    fn lerp(a: Self, b: Self, t: f64, _scalar_q: bool) -> f64 {
        lerp_f64(a, b, b - a, t)
    }
}

impl Ordered for f32 {
    const KEYS: (u64, u64) = (0, u32::MAX as u64);
    #[inline]
    fn key(self) -> Option<u64> {
        if self.is_nan() {
            return None;
        }
        let bits = (self + 0.0).to_bits();
        Some(u64::from(if bits & 0x8000_0000 != 0 {
            !bits
        } else {
            bits | 0x8000_0000
        }))
    }
    #[inline]
    fn from_key(key: u64) -> Self {
        let k = key as u32;
        f32::from_bits(if k & 0x8000_0000 != 0 {
            k & 0x7fff_ffff
        } else {
            !k
        })
    }
    fn mean2(a: Self, b: Self) -> f64 {
        f64::from((a + b) / 2.0)
    }
    fn lerp(a: Self, b: Self, t: f64, scalar_q: bool) -> f64 {
        let diff = b - a;
        if scalar_q {
            // numpy: `gamma = float(gamma)`, a Python float, cast to float32 by each use.
            f64::from(if t >= 0.5 {
                b - diff * (1.0 - t) as f32
            } else {
                a + diff * t as f32
            })
        } else {
            lerp_f64(f64::from(a), f64::from(b), f64::from(diff), t)
        }
    }
}

impl Ordered for bool {
    const KEYS: (u64, u64) = (0, 1);
    fn key(self) -> Option<u64> {
        Some(u64::from(self))
    }
    fn from_key(key: u64) -> Self {
        key != 0
    }
    fn mean2(a: Self, b: Self) -> f64 {
        (a.to_f64() + b.to_f64()) / 2.0
    }
    fn lerp(a: Self, b: Self, t: f64, _scalar_q: bool) -> f64 {
        lerp_f64(a.to_f64(), b.to_f64(), b.to_f64() - a.to_f64(), t)
    }
}

/// How one answer is made from the sorted values of a group (ranks are 0-based).
#[derive(Debug, Clone, Copy)]
enum Pick {
    /// The value at a rank, in the input's type.
    Rank(u64),
    /// numpy's `_lerp` between two ranks with weight `t`.
    Lerp(u64, u64, f64),
    /// numpy's `median`: the value at a rank, or the mean of two.
    Mean(u64, u64),
}

impl Pick {
    fn ranks(self) -> [u64; 2] {
        match self {
            Pick::Rank(r) => [r, r],
            Pick::Lerp(a, b, _) | Pick::Mean(a, b) => [a, b],
        }
    }
}

/// numpy's choice of ranks for quantile `q` of `n > 0` values (`_quantile` and
/// `_get_indexes`, its index `-1` being `n - 1`).
fn pick(request: &Quantiles, q: f64, n: u64) -> Pick {
    let last = n - 1;
    if request.median {
        return if n % 2 == 1 {
            Pick::Mean(n / 2, n / 2)
        } else {
            Pick::Mean(n / 2 - 1, n / 2)
        };
    }
    let index = |v: f64| (v as u64).min(last);
    let v = last as f64 * q;
    match request.method {
        QuantileMethod::Lower => Pick::Rank(index(v.floor())),
        QuantileMethod::Higher => Pick::Rank(index(v.ceil())),
        QuantileMethod::Nearest => Pick::Rank(index(v.round_ties_even())),
        QuantileMethod::Linear | QuantileMethod::Midpoint => {
            let v = match request.method {
                QuantileMethod::Midpoint => 0.5 * (v.floor() + v.ceil()),
                _ => v,
            };
            // Past the last index both neighbours are numpy's index -1, and the weight is
            // `v - (-1)`.
            let (prev, next, prev_index) = if v >= last as f64 {
                (last, last, -1.0)
            } else {
                let f = v.floor();
                (f as u64, f as u64 + 1, f)
            };
            let gamma = v - prev_index;
            let t = match request.method {
                QuantileMethod::Midpoint if v % 1.0 == 0.0 => 0.0,
                QuantileMethod::Midpoint => 0.5,
                _ => gamma,
            };
            Pick::Lerp(prev, next, t)
        }
    }
}

/// The result type numpy gives.
fn result_type(request: &Quantiles, input: DataType) -> DataType {
    let float = matches!(input, DataType::Float32 | DataType::Float64);
    if request.median {
        return if float { input } else { DataType::Float64 };
    }
    match request.method {
        QuantileMethod::Lower | QuantileMethod::Higher | QuantileMethod::Nearest => input,
        _ if input == DataType::Float32 && request.scalar => DataType::Float32,
        _ => DataType::Float64,
    }
}

/// A range of keys of one group being narrowed down.
#[derive(Debug, Clone)]
struct Interval {
    lo: u64,
    /// Inclusive.
    hi: u64,
    /// Values of the group with smaller keys.
    below: u64,
    /// Values inside (known after the first counting pass).
    count: u64,
    /// Bucket `i` of a counting pass holds keys `lo + (i << shift) ..`.
    shift: u32,
    buckets: Vec<u64>,
    /// Keys collected by the last pass, sorted.
    keys: Vec<u64>,
}

impl Interval {
    fn solved(&self) -> bool {
        self.lo == self.hi
    }
}

/// One output position's state.
#[derive(Debug, Clone, Default)]
struct Group {
    values: u64,
    nans: u64,
    /// Sorted by `lo`, disjoint.
    intervals: Vec<Interval>,
}

impl Group {
    #[inline]
    fn interval(&mut self, key: u64) -> Option<&mut Interval> {
        let i = self.intervals.partition_point(|iv| iv.hi < key);
        self.intervals.get_mut(i).filter(|iv| iv.lo <= key)
    }

    /// The key at `rank`, once the intervals are solved or collected.
    fn key_at(&self, rank: u64) -> u64 {
        let iv = self
            .intervals
            .iter()
            .find(|iv| iv.below <= rank && rank < iv.below + iv.count)
            .expect("every wanted rank lies in a kept interval");
        if iv.solved() {
            iv.lo
        } else {
            iv.keys[(rank - iv.below) as usize]
        }
    }
}

/// Which pass is running.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    Count,
    Collect,
}

/// Buckets per interval of a counting pass: as many as a quarter of the budget holds, between
/// 2^4 and 2^16, a power of two.
fn bucket_bits(intervals: u64, budget: u64) -> u32 {
    let per = (budget / 4 / 8).checked_div(intervals.max(1)).unwrap_or(0);
    (63 - per.max(1).leading_zeros()).clamp(4, 16)
}

impl<'a> Compute<'a> {
    /// numpy's quantiles, percentiles or median (see [`Quantiles`]) over `axes` (keepdims
    /// keeps them as length 1), computed exactly within the memory budget (the global
    /// cache's): one pass when the values fit, else counting passes that narrow each output's
    /// wanted ranks down to what fits, then one pass collecting those. The result is in
    /// memory, of numpy's type: the input's for `lower`, `higher` and `nearest`; for `linear`
    /// and `midpoint` float64, or float32 for a float32 input and one quantile given as a
    /// number ([`Quantiles::of`]); for the median, the input's float type or float64. A list of
    /// quantiles adds a leading axis.
    ///
    /// # Errors
    /// A quantile outside [0, 1] (percentile outside [0, 100]) or an axis repeated
    /// ([`ErrorKind::InvalidArgument`]); an axis out of range ([`ErrorKind::OutOfBounds`]); a
    /// `bool` array ([`ErrorKind::TypeMismatch`], as numpy cannot subtract booleans); a
    /// quantile of no values, where numpy raises `IndexError` ([`ErrorKind::InvalidArgument`];
    /// the NaN-skipping forms and the median give NaN); more outputs than memory holds
    /// ([`ErrorKind::TooLarge`]); and any error evaluating the array.
    ///
    /// [`ErrorKind::InvalidArgument`]: crate::ErrorKind::InvalidArgument
    /// [`ErrorKind::OutOfBounds`]: crate::ErrorKind::OutOfBounds
    /// [`ErrorKind::TypeMismatch`]: crate::ErrorKind::TypeMismatch
    /// [`ErrorKind::TooLarge`]: crate::ErrorKind::TooLarge
    pub fn quantiles(self, request: &Quantiles, axes: impl Into<Axes>) -> Result<AnyArray> {
        let budget = crate::cache::global_cache()?.budget();
        self.quantiles_within(request, axes.into(), budget)
    }

    /// [`Compute::quantiles`] holding at most about `budget` bytes of selection state
    /// (tests force the narrowing passes with a small one).
    #[doc(hidden)]
    pub fn quantiles_within(
        self,
        request: &Quantiles,
        axes: Axes,
        budget: u64,
    ) -> Result<AnyArray> {
        self.array.built()?;
        request.check()?;
        if self.array.data_type() == DataType::Bool {
            return Err(type_mismatch(
                "quantiles of a bool array: numpy cannot interpolate booleans; convert it with \
                 astype first",
            ));
        }
        let reduced = axes.resolve(self.array)?;
        with_element_type!(self.array.data_type(), T => {
            Selection::<T>::new(self, request, &reduced, axes.keepdims, budget)?.run()
        })
    }
}

impl LazyArray {
    /// numpy's `quantile(x, q, axis, method=...)` for one quantile; see
    /// [`Compute::quantiles`].
    ///
    /// # Errors
    /// As [`Compute::quantiles`].
    pub fn quantile(
        &self,
        q: f64,
        axes: impl Into<Axes>,
        method: QuantileMethod,
    ) -> Result<AnyArray> {
        self.compute()
            .quantiles(&Quantiles::of(q).method(method), axes)
    }

    /// numpy's `nanquantile`: [`LazyArray::quantile`] skipping NaNs.
    ///
    /// # Errors
    /// As [`Compute::quantiles`].
    pub fn nanquantile(
        &self,
        q: f64,
        axes: impl Into<Axes>,
        method: QuantileMethod,
    ) -> Result<AnyArray> {
        self.compute()
            .quantiles(&Quantiles::of(q).method(method).skip_nan(), axes)
    }

    /// numpy's `percentile(x, p, axis, method=...)`, `p` in [0, 100].
    ///
    /// # Errors
    /// As [`Compute::quantiles`].
    pub fn percentile(
        &self,
        p: f64,
        axes: impl Into<Axes>,
        method: QuantileMethod,
    ) -> Result<AnyArray> {
        self.compute()
            .quantiles(&Quantiles::percentile(p).method(method), axes)
    }

    /// numpy's `nanpercentile`: [`LazyArray::percentile`] skipping NaNs.
    ///
    /// # Errors
    /// As [`Compute::quantiles`].
    pub fn nanpercentile(
        &self,
        p: f64,
        axes: impl Into<Axes>,
        method: QuantileMethod,
    ) -> Result<AnyArray> {
        self.compute()
            .quantiles(&Quantiles::percentile(p).method(method).skip_nan(), axes)
    }

    /// numpy's `median(x, axis)`.
    ///
    /// # Errors
    /// As [`Compute::quantiles`].
    pub fn median(&self, axes: impl Into<Axes>) -> Result<AnyArray> {
        self.compute().quantiles(&Quantiles::median(), axes)
    }

    /// numpy's `nanmedian(x, axis)`.
    ///
    /// # Errors
    /// As [`Compute::quantiles`].
    pub fn nanmedian(&self, axes: impl Into<Axes>) -> Result<AnyArray> {
        self.compute()
            .quantiles(&Quantiles::median().skip_nan(), axes)
    }
}

/// The state of one quantile computation over elements of type `T`.
struct Selection<'a, 'r, T> {
    compute: Compute<'a>,
    request: &'r Quantiles,
    /// Kept axes, then reduced axes (an order of the input's axes).
    order: Vec<usize>,
    kept: usize,
    /// Shape of the kept axes.
    kept_shape: Vec<u64>,
    keepdims_shape: Vec<usize>,
    groups: Vec<Group>,
    counted: bool,
    budget: u64,
    _t: std::marker::PhantomData<T>,
}

impl<'a, 'r, T: Ordered> Selection<'a, 'r, T>
where
    AnyArray: From<ArrayD<T>>,
{
    fn new(
        compute: Compute<'a>,
        request: &'r Quantiles,
        reduced: &[usize],
        keepdims: bool,
        budget: u64,
    ) -> Result<Self> {
        let array = compute.array;
        let shape = array.shape();
        let kept_axes: Vec<usize> = (0..array.ndim()).filter(|a| !reduced.contains(a)).collect();
        let kept_shape: Vec<u64> = kept_axes.iter().map(|&a| shape[a]).collect();
        let groups_n = crate::expr::element_count(&kept_shape)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| too_large(format!("quantiles over {shape:?}: too many outputs")))?;
        let mut groups = Vec::new();
        groups.try_reserve_exact(groups_n).map_err(|_| {
            too_large(format!(
                "quantiles: {groups_n} outputs (the kept axes {kept_shape:?} of shape {shape:?}) \
                 do not fit in memory"
            ))
        })?;
        let (lo, hi) = T::KEYS;
        let mut first = Group {
            values: 0,
            nans: 0,
            intervals: vec![Interval {
                lo,
                hi,
                below: 0,
                count: 0,
                shift: 0,
                buckets: Vec::new(),
                keys: Vec::new(),
            }],
        };
        let mut counted = false;
        if reduced.len() == array.ndim() && !compute.opts.scan {
            // The sidecar's counts, min and max, when the array is stored with one.
            if let Some(s) =
                super::summary::from_sidecar(array, None)?.and_then(|v| v.first().copied())
            {
                first.values = s.count - s.nan_count;
                first.nans = s.nan_count;
                first.intervals[0].count = first.values;
                if let (Some(min), Some(max)) = (scalar_key::<T>(s.min), scalar_key::<T>(s.max)) {
                    if min <= max {
                        first.intervals[0].lo = min;
                        first.intervals[0].hi = max;
                    }
                }
                counted = true;
            }
        }
        groups.resize(groups_n, first);
        let mut order = kept_axes.clone();
        order.extend_from_slice(reduced);
        let keepdims_shape = if keepdims {
            (0..array.ndim())
                .map(|a| {
                    if reduced.contains(&a) {
                        1
                    } else {
                        shape[a] as usize
                    }
                })
                .collect()
        } else {
            kept_shape.iter().map(|&n| n as usize).collect()
        };
        Ok(Self {
            compute,
            request,
            kept: kept_axes.len(),
            order,
            kept_shape,
            keepdims_shape,
            groups,
            counted,
            budget,
            _t: std::marker::PhantomData,
        })
    }

    /// The ranks group `g` needs (none when its answer is NaN or it has no values).
    fn wanted(&self, g: &Group) -> Vec<u64> {
        let n = g.values;
        if n == 0 || (g.nans > 0 && !self.request.skip_nan) {
            return Vec::new();
        }
        let mut ranks: Vec<u64> = self
            .request
            .q
            .iter()
            .flat_map(|&q| pick(self.request, q, n).ranks())
            .collect();
        ranks.sort_unstable();
        ranks.dedup();
        ranks
    }

    fn run(mut self) -> Result<AnyArray> {
        if self.counted {
            // The sidecar's counts may answer already (NaN, or nothing to select).
            for i in 0..self.groups.len() {
                if self.wanted(&self.groups[i]).is_empty() {
                    self.groups[i].intervals.clear();
                }
            }
        }
        loop {
            let open: u64 = self
                .groups
                .iter()
                .flat_map(|g| &g.intervals)
                .filter(|iv| !iv.solved())
                .map(|iv| if self.counted { iv.count } else { u64::MAX })
                .fold(0, u64::saturating_add);
            let fits = if self.counted {
                open.saturating_mul(8) <= self.budget / 2
            } else {
                self.compute.array.len().saturating_mul(8) <= self.budget / 2
            };
            if fits {
                if open > 0 || !self.counted {
                    self.pass(Pass::Collect)?;
                    self.counted = true;
                }
                return self.answer();
            }
            let intervals = self.groups.iter().map(|g| g.intervals.len() as u64).sum();
            let bits = bucket_bits(intervals, self.budget);
            for iv in self.groups.iter_mut().flat_map(|g| &mut g.intervals) {
                let width = iv.hi - iv.lo;
                iv.shift = (64 - width.leading_zeros()).saturating_sub(bits);
                let n = (width >> iv.shift) as usize + 1;
                iv.buckets = Vec::new();
                iv.buckets.try_reserve_exact(n).map_err(|_| {
                    too_large("quantiles: the counting buckets do not fit in memory")
                })?;
                iv.buckets.resize(n, 0);
            }
            self.pass(Pass::Count)?;
            self.counted = true;
            self.narrow();
        }
    }

    /// Keeps, of every interval, the buckets holding a wanted rank.
    fn narrow(&mut self) {
        let wanted: Vec<Vec<u64>> = self.groups.iter().map(|g| self.wanted(g)).collect();
        for (g, ranks) in self.groups.iter_mut().zip(wanted) {
            let mut kept = Vec::new();
            for iv in std::mem::take(&mut g.intervals) {
                if iv.buckets.is_empty() {
                    // Solved before this pass.
                    if ranks
                        .iter()
                        .any(|&r| iv.below <= r && r < iv.below + iv.count)
                    {
                        kept.push(iv);
                    }
                    continue;
                }
                let mut below = iv.below;
                for (i, &c) in iv.buckets.iter().enumerate() {
                    if c > 0 && ranks.iter().any(|&r| below <= r && r < below + c) {
                        let lo = iv.lo + ((i as u64) << iv.shift);
                        let hi = lo.saturating_add((1u64 << iv.shift) - 1).min(iv.hi);
                        kept.push(Interval {
                            lo,
                            hi,
                            below,
                            count: c,
                            shift: 0,
                            buckets: Vec::new(),
                            keys: Vec::new(),
                        });
                    }
                    below += c;
                }
            }
            g.intervals = kept;
        }
    }

    /// One pass over the array: counts keys in buckets, or collects them.
    fn pass(&mut self, pass: Pass) -> Result<()> {
        let counting_first = !self.counted;
        let kept = self.kept;
        let order = self.order.clone();
        let kept_shape = self.kept_shape.clone();
        let groups = &mut self.groups;
        let compute = Compute {
            array: self.compute.array,
            opts: self.compute.opts,
        };
        compute.for_each_block(|region: &[Range<u64>], block| {
            let view = block.view::<T>()?.permuted_axes(order.clone());
            let origin: Vec<u64> = order[..kept].iter().map(|&a| region[a].start).collect();
            let extents: Vec<u64> = order[..kept]
                .iter()
                .map(|&a| region[a].end - region[a].start)
                .collect();
            for_each_lane(&view, kept, &extents, &mut |local: &[u64], lane| {
                let coords: Vec<u64> = local.iter().zip(&origin).map(|(l, o)| l + o).collect();
                let g = &mut groups[ravel(&coords, &kept_shape) as usize];
                let mut visit = |v: T| match v.key() {
                    None => {
                        if counting_first {
                            g.nans += 1;
                        }
                    }
                    Some(k) => {
                        if counting_first {
                            g.values += 1;
                        }
                        if let Some(iv) = g.interval(k) {
                            match pass {
                                Pass::Count => iv.buckets[((k - iv.lo) >> iv.shift) as usize] += 1,
                                Pass::Collect if !iv.solved() => iv.keys.push(k),
                                Pass::Collect => {}
                            }
                        }
                    }
                };
                match lane.as_slice_memory_order() {
                    Some(s) => s.iter().for_each(|&v| visit(v)),
                    None => lane.iter().for_each(|&v| visit(v)),
                }
            });
            Ok(())
        })?;
        if counting_first {
            for g in groups.iter_mut() {
                for iv in &mut g.intervals {
                    iv.count = g.values;
                }
            }
        }
        if pass == Pass::Collect {
            for iv in groups.iter_mut().flat_map(|g| &mut g.intervals) {
                if !iv.solved() {
                    iv.keys.sort_unstable();
                    iv.count = iv.keys.len() as u64;
                }
            }
        }
        Ok(())
    }

    /// The answers, once every wanted rank is solved or collected.
    fn answer(self) -> Result<AnyArray> {
        let out_type = result_type(self.request, T::DATA_TYPE);
        let nq = self.request.q.len();
        let per_group = self.groups.len();
        let mut shape = Vec::new();
        if !self.request.scalar {
            shape.push(nq);
        }
        shape.extend_from_slice(&self.keepdims_shape);
        let mut exact: Vec<T> = Vec::new();
        let mut floats: Vec<f64> = Vec::new();
        let discrete = !self.request.median
            && matches!(
                self.request.method,
                QuantileMethod::Lower | QuantileMethod::Higher | QuantileMethod::Nearest
            );
        let float = matches!(T::DATA_TYPE, DataType::Float32 | DataType::Float64);
        for &q in &self.request.q {
            for g in &self.groups {
                let n = g.values;
                let nan = (g.nans > 0 && !self.request.skip_nan) || n == 0;
                if n == 0
                    && g.nans == 0
                    && !self.request.median
                    && !(float && self.request.skip_nan)
                {
                    return Err(invalid(
                        "quantile of an empty array (numpy raises IndexError): there is no \
                         value to take",
                    ));
                }
                if nan {
                    if discrete {
                        exact.push(T::from_f64(f64::NAN));
                    } else {
                        floats.push(f64::NAN);
                    }
                    continue;
                }
                match pick(self.request, q, n) {
                    Pick::Rank(r) => exact.push(T::from_key(g.key_at(r))),
                    Pick::Lerp(a, b, t) => floats.push(T::lerp(
                        T::from_key(g.key_at(a)),
                        T::from_key(g.key_at(b)),
                        t,
                        self.request.scalar,
                    )),
                    // numpy's mean of one value is the value.
                    Pick::Mean(a, b) if a == b => floats.push(T::from_key(g.key_at(a)).to_f64()),
                    Pick::Mean(a, b) => {
                        floats.push(T::mean2(T::from_key(g.key_at(a)), T::from_key(g.key_at(b))))
                    }
                }
            }
        }
        debug_assert_eq!(exact.len() + floats.len(), nq * per_group);
        let shape = IxDyn(&shape);
        Ok(if discrete {
            AnyArray::from(shaped(shape, exact)?)
        } else if out_type == DataType::Float32 {
            AnyArray::Float32(shaped(shape, floats.iter().map(|&v| v as f32).collect())?)
        } else {
            AnyArray::Float64(shaped(shape, floats)?)
        })
    }
}

fn shaped<U>(shape: IxDyn, values: Vec<U>) -> Result<ArrayD<U>> {
    ArrayD::from_shape_vec(shape, values).map_err(|e| invalid(format!("quantiles: {e}")))
}

/// The key of a sidecar's min or max, when it is a value of `T`.
fn scalar_key<T: Ordered>(s: Scalar) -> Option<u64> {
    let v = match s {
        Scalar::Float(f) if f.is_nan() => return None,
        Scalar::Float(f) => T::from_f64(f),
        Scalar::Int(i) => T::from_i64(i),
        Scalar::UInt(u) => T::from_u64(u),
        Scalar::Bool(b) => T::from_bool(b),
    };
    v.key()
}

/// Calls `f(index, lane)` for every index of the first `kept` axes of `view` (their extents
/// `extents`), `lane` being the view of the remaining axes there.
fn for_each_lane<T>(
    view: &ArrayViewD<'_, T>,
    kept: usize,
    extents: &[u64],
    f: &mut dyn FnMut(&[u64], ArrayViewD<'_, T>),
) {
    if extents.contains(&0) {
        return;
    }
    let mut index = vec![0u64; kept];
    loop {
        let mut lane = view.view();
        for &i in &index {
            lane = lane.index_axis_move(Axis(0), i as usize);
        }
        f(&index, lane);
        // Next index in C order.
        let mut axis = kept;
        loop {
            if axis == 0 {
                return;
            }
            axis -= 1;
            index[axis] += 1;
            if index[axis] < extents[axis] {
                break;
            }
            index[axis] = 0;
        }
    }
}
