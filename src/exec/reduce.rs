//! Reductions: a kernel folds each block into partials (pairwise sums inside a block,
//! two-pass moments), partials of one output block merge in a fixed binary tree (so results
//! do not depend on thread timing), and whole stored chunks may be answered from the
//! statistics sidecar instead of decoded.

use std::ops::Range;

use multiversion::multiversion;
use ndarray::{ArrayD, IxDyn};

use super::eval::{eval, eval_in, is_elementwise, is_generated, Leaves};
use super::fused::{Fused, STRIP};
use super::{run_batched, RunOptions};
use crate::element::{extremes, pairwise_nansum, pairwise_sum_by, DataType, Kind, Num, Scalar};
use crate::error::{invalid, shape_mismatch, Result};
use crate::expr::{Block, LazyArray, Op, ReduceOp, Reduction};
use crate::format::grid::{ravel, unravel};
use crate::format::{ChunkStats, StatsTable};
use crate::with_element_type;

/// A finished value before conversion to the result type.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Out {
    F(f64),
    I(i64),
    U(u64),
    B(bool),
}

fn out_to<U: Num>(v: Out) -> U {
    match v {
        Out::F(x) => U::from_f64(x),
        Out::I(x) => U::from_i64(x),
        Out::U(x) => U::from_u64(x),
        Out::B(x) => U::from_bool(x),
    }
}

fn out_of<T: Num>(v: T) -> Out {
    match T::DATA_TYPE.kind() {
        Kind::Float => Out::F(v.to_f64()),
        Kind::Signed => Out::I(v.as_i64()),
        Kind::Unsigned => Out::U(v.as_u64()),
        Kind::Bool => Out::B(v.truthy()),
    }
}

fn scalar_to<T: Num>(s: Scalar) -> T {
    match s {
        Scalar::Bool(b) => T::from_bool(b),
        Scalar::Int(v) => T::from_i64(v),
        Scalar::UInt(v) => T::from_u64(v),
        Scalar::Float(v) => T::from_f64(v),
    }
}

/// The index (for arg reductions) of the element at a slice's outer coordinates.
type IndexOf<'a> = Option<Box<dyn Fn(&[usize]) -> u64 + 'a>>;
/// Receives each output block: its region over the kept axes, and its values in C order.
type Emit<'e> = &'e mut dyn FnMut(&[Range<u64>], Vec<Out>) -> Result<()>;

/// How one contiguous block maps onto its partials: outer axes walked one by one, an inner
/// run of axes (all reduced, or all kept) handled as one slice.
struct Traversal<'a, T> {
    data: &'a [T],
    /// Extents of the outer axes and their strides in `data` and in the partials.
    outer: Vec<(usize, usize, usize)>,
    inner_len: usize,
    inner_reduced: bool,
    /// For arg reductions: the index of the element at outer coordinates (inner at 0).
    index_of: IndexOf<'a>,
}

impl<'a, T: Copy> Traversal<'a, T> {
    fn new(
        data: &'a [T],
        dims: &[usize],
        reduced: &[bool],
        merge_inner: bool,
        index_of: IndexOf<'a>,
    ) -> Self {
        let n = dims.len();
        // Partial strides: C order over the kept axes.
        let mut pstrides = vec![0usize; n];
        let mut acc = 1;
        for a in (0..n).rev() {
            if !reduced[a] {
                pstrides[a] = acc;
                acc *= dims[a];
            }
        }
        let mut dstrides = vec![0usize; n];
        let mut acc = 1;
        for a in (0..n).rev() {
            dstrides[a] = acc;
            acc *= dims[a];
        }
        // The inner run: the last axis alone (arg reductions, which need per-row indices), or
        // extended over the axes before it of the same kind (length-1 axes fit either kind).
        let (mut start, mut kind) = (n, None);
        if !merge_inner && n > 0 {
            (start, kind) = (n - 1, Some(reduced[n - 1]));
        }
        while merge_inner && start > 0 {
            let a = start - 1;
            if dims[a] != 1 {
                match kind {
                    None => kind = Some(reduced[a]),
                    Some(prev) if prev != reduced[a] => break,
                    _ => {}
                }
            }
            start -= 1;
        }
        let inner_reduced = kind.unwrap_or(true);
        let inner_len = dims[start..].iter().product();
        let outer = (0..start)
            .map(|a| (dims[a], dstrides[a], pstrides[a]))
            .collect();
        Self {
            data,
            outer,
            inner_len,
            inner_reduced,
            index_of,
        }
    }

    /// Calls `f(partial index, slice, index of the slice's first element)` for each inner
    /// slice, in order.
    fn for_each(&self, mut f: impl FnMut(usize, &'a [T], u64)) {
        if self.inner_len == 0 || self.outer.iter().any(|o| o.0 == 0) {
            return;
        }
        let mut coords = vec![0usize; self.outer.len()];
        let (mut offset, mut pidx) = (0usize, 0usize);
        loop {
            let index = self.index_of.as_ref().map_or(0, |g| g(&coords));
            f(pidx, &self.data[offset..offset + self.inner_len], index);
            let mut axis = self.outer.len();
            loop {
                if axis == 0 {
                    return;
                }
                axis -= 1;
                let (extent, dstride, pstride) = self.outer[axis];
                coords[axis] += 1;
                offset += dstride;
                pidx += pstride;
                if coords[axis] < extent {
                    break;
                }
                offset -= dstride * extent;
                pidx -= pstride * extent;
                coords[axis] = 0;
            }
        }
    }
}

/// A reduction kernel over elements of type `T`.
trait Kernel<T: Num>: Sync {
    type P: Clone + Send + Sync;
    /// Whether folding needs element indices (arg reductions).
    const NEEDS_INDEX: bool = false;
    fn identity(&self) -> Self::P;
    /// Folds a reduced run (all elements belong to `p`; the first has index `index`).
    fn fold_run(&self, p: &mut Self::P, run: &[T], index: u64);
    /// Folds a kept row: element `j` belongs to `ps[j]`.
    fn fold_row(&self, ps: &mut [Self::P], row: &[T], index: u64);
    fn fold(&self, ps: &mut [Self::P], t: &Traversal<'_, T>) {
        if t.inner_reduced {
            t.for_each(|pidx, run, index| self.fold_run(&mut ps[pidx], run, index));
        } else {
            t.for_each(|pidx, row, index| {
                self.fold_row(&mut ps[pidx..pidx + row.len()], row, index)
            });
        }
    }
    /// `a` then `b` (b's elements come after a's).
    fn merge(&self, a: &mut Self::P, b: &Self::P);
    fn finish(&self, p: &Self::P) -> Result<Out>;
    /// The partial of a whole chunk from its recorded statistics, when that equals folding
    /// the chunk.
    fn partial_from_stats(&self, _s: &ChunkStats) -> Option<Self::P> {
        None
    }
}

// ---------------------------------------------------------------------------------------
// Float sums and means.

/// Adds a kept row to its partials: one branch-free loop (compiled for AVX-512 and AVX2)
/// that LLVM vectorises; the same additions in the same order as a serial loop.
#[multiversion(targets("x86_64+avx512f+avx512dq+avx512vl", "x86_64+avx2"))]
fn add_row<T: Num>(ps: &mut [SumP], row: &[T]) {
    for (p, &v) in ps.iter_mut().zip(row) {
        p.sum += v.to_f64();
        p.n += 1;
    }
}

/// [`add_row`] with NaNs left out: a NaN adds zero and counts nothing (`x + 0.0` is `x`
/// for every `x` but `-0.0`, which a partial starting at `0.0` never holds).
#[multiversion(targets("x86_64+avx512f+avx512dq+avx512vl", "x86_64+avx2"))]
fn add_row_skipping_nan<T: Num>(ps: &mut [SumP], row: &[T]) {
    for (p, &v) in ps.iter_mut().zip(row) {
        let keep = !v.is_nan();
        p.sum += if keep { v.to_f64() } else { 0.0 };
        p.n += u64::from(keep);
    }
}

struct SumF {
    skip_nan: bool,
    mean: bool,
}

#[derive(Clone, Copy, Default)]
struct SumP {
    sum: f64,
    n: u64,
}

impl<T: Num> Kernel<T> for SumF {
    type P = SumP;
    fn identity(&self) -> SumP {
        SumP::default()
    }
    fn fold_run(&self, p: &mut SumP, run: &[T], _: u64) {
        if self.skip_nan && T::DATA_TYPE.kind() == Kind::Float {
            let (sum, n) = pairwise_nansum(run);
            p.sum += sum;
            p.n += n;
        } else {
            p.sum += pairwise_sum_by(run, &|v: T| v.to_f64());
            p.n += run.len() as u64;
        }
    }
    fn fold_row(&self, ps: &mut [SumP], row: &[T], _: u64) {
        if self.skip_nan && T::DATA_TYPE.kind() == Kind::Float {
            add_row_skipping_nan(ps, row);
        } else {
            add_row(ps, row);
        }
    }
    fn merge(&self, a: &mut SumP, b: &SumP) {
        a.sum += b.sum;
        a.n += b.n;
    }
    fn finish(&self, p: &SumP) -> Result<Out> {
        Ok(Out::F(if self.mean { p.sum / p.n as f64 } else { p.sum }))
    }
    fn partial_from_stats(&self, s: &ChunkStats) -> Option<SumP> {
        if T::DATA_TYPE.kind() != Kind::Float {
            return None;
        }
        let Scalar::Float(sum) = s.sum else {
            return None;
        };
        Some(if self.skip_nan {
            SumP {
                sum,
                n: s.count - s.nan_count,
            }
        } else {
            SumP {
                sum: if s.nan_count > 0 { f64::NAN } else { sum },
                n: s.count,
            }
        })
    }
}

// ---------------------------------------------------------------------------------------
// Integer sums and products (wrapping, in 64-bit two's complement), float products.

struct IntFold {
    product: bool,
}

impl<T: Num> Kernel<T> for IntFold {
    type P = u64;
    fn identity(&self) -> u64 {
        u64::from(self.product)
    }
    fn fold_run(&self, p: &mut u64, run: &[T], _: u64) {
        if self.product {
            *p = run
                .iter()
                .fold(*p, |a, v| a.wrapping_mul(v.as_i64() as u64));
        } else {
            *p = run
                .iter()
                .fold(*p, |a, v| a.wrapping_add(v.as_i64() as u64));
        }
    }
    fn fold_row(&self, ps: &mut [u64], row: &[T], _: u64) {
        for (p, v) in ps.iter_mut().zip(row) {
            let v = v.as_i64() as u64;
            *p = if self.product {
                p.wrapping_mul(v)
            } else {
                p.wrapping_add(v)
            };
        }
    }
    fn merge(&self, a: &mut u64, b: &u64) {
        *a = if self.product {
            a.wrapping_mul(*b)
        } else {
            a.wrapping_add(*b)
        };
    }
    fn finish(&self, p: &u64) -> Result<Out> {
        Ok(match T::DATA_TYPE.kind() {
            Kind::Unsigned => Out::U(*p),
            _ => Out::I(*p as i64),
        })
    }
    fn partial_from_stats(&self, s: &ChunkStats) -> Option<u64> {
        match (self.product, s.sum) {
            (false, Scalar::Int(v)) => Some(v as u64),
            (false, Scalar::UInt(v)) => Some(v),
            _ => None,
        }
    }
}

struct ProdF {
    skip_nan: bool,
}

impl<T: Num> Kernel<T> for ProdF {
    type P = f64;
    fn identity(&self) -> f64 {
        1.0
    }
    fn fold_run(&self, p: &mut f64, run: &[T], _: u64) {
        for &v in run {
            if !(self.skip_nan && v.is_nan()) {
                *p *= v.to_f64();
            }
        }
    }
    fn fold_row(&self, ps: &mut [f64], row: &[T], _: u64) {
        for (p, &v) in ps.iter_mut().zip(row) {
            if !(self.skip_nan && v.is_nan()) {
                *p *= v.to_f64();
            }
        }
    }
    fn merge(&self, a: &mut f64, b: &f64) {
        *a *= b;
    }
    fn finish(&self, p: &f64) -> Result<Out> {
        Ok(Out::F(*p))
    }
}

// ---------------------------------------------------------------------------------------
// Minimum and maximum.

struct Extreme {
    max: bool,
    skip_nan: bool,
}

#[derive(Clone, Copy)]
struct ExtremeP<T> {
    value: T,
    has: bool,
    nan: bool,
    seen: bool,
}

impl Extreme {
    #[inline]
    fn push<T: Num>(&self, p: &mut ExtremeP<T>, v: T) {
        p.seen = true;
        if v.is_nan() {
            p.nan = true;
            return;
        }
        self.offer(p, v);
    }

    /// Takes the non-NaN `v` if it beats the partial's value (a tie keeps the earlier one).
    #[inline]
    fn offer<T: Num>(&self, p: &mut ExtremeP<T>, v: T) {
        if !p.has || (self.max && v > p.value) || (!self.max && v < p.value) {
            p.value = v;
            p.has = true;
        }
    }
}

impl<T: Num> Kernel<T> for Extreme {
    type P = ExtremeP<T>;
    fn identity(&self) -> ExtremeP<T> {
        ExtremeP {
            value: T::ZERO,
            has: false,
            nan: false,
            seen: false,
        }
    }
    fn fold_run(&self, p: &mut ExtremeP<T>, run: &[T], _: u64) {
        // One vectorised pass; its extremes are the first equal ones, as `push` keeps.
        let found = extremes(run);
        p.seen |= !run.is_empty();
        p.nan |= found.nan;
        if let Some((lo, hi)) = found.range {
            self.offer(p, if self.max { hi } else { lo });
        }
    }
    fn fold_row(&self, ps: &mut [ExtremeP<T>], row: &[T], _: u64) {
        for (p, &v) in ps.iter_mut().zip(row) {
            self.push(p, v);
        }
    }
    fn merge(&self, a: &mut ExtremeP<T>, b: &ExtremeP<T>) {
        let (nan, seen) = (a.nan || b.nan, a.seen || b.seen);
        if b.has {
            self.push(a, b.value);
        }
        a.nan = nan;
        a.seen = seen;
    }
    fn finish(&self, p: &ExtremeP<T>) -> Result<Out> {
        if !p.seen {
            return Err(invalid(format!(
                "zero-size array to reduction operation {} which has no identity",
                if self.max { "maximum" } else { "minimum" }
            )));
        }
        if (p.nan && !self.skip_nan) || !p.has {
            return Ok(Out::F(f64::NAN));
        }
        Ok(out_of(p.value))
    }
    fn partial_from_stats(&self, s: &ChunkStats) -> Option<ExtremeP<T>> {
        let has = s.count > s.nan_count;
        let value = if self.max { s.max } else { s.min };
        Some(ExtremeP {
            value: if has { scalar_to(value) } else { T::ZERO },
            has,
            nan: s.nan_count > 0,
            seen: s.count > 0,
        })
    }
}

// ---------------------------------------------------------------------------------------
// Variance and standard deviation: (count, mean, M2), two passes inside a block, merged
// across blocks by Chan et al.

struct MomentsKernel {
    skip_nan: bool,
    ddof: f64,
    std: bool,
}

/// A moments partial: count, mean, M2.
type MomentP = crate::element::Moments;

impl MomentsKernel {
    fn value<T: Num>(&self, v: T) -> Option<f64> {
        (!(self.skip_nan && v.is_nan())).then(|| v.to_f64())
    }
}

impl<T: Num> Kernel<T> for MomentsKernel {
    type P = MomentP;
    fn identity(&self) -> MomentP {
        MomentP::default()
    }
    fn fold_run(&self, p: &mut MomentP, run: &[T], _: u64) {
        // The same computation as the sidecar's (`ChunkStats::compute`), so a whole chunk
        // gives the same bits either way.
        p.merge(&MomentP::of(run, self.skip_nan));
    }
    fn fold_row(&self, ps: &mut [MomentP], row: &[T], _: u64) {
        // Used only through `fold`, which runs two passes over the block instead.
        for (p, &v) in ps.iter_mut().zip(row) {
            if let Some(x) = self.value(v) {
                p.merge(&MomentP {
                    n: 1.0,
                    mean: x,
                    m2: 0.0,
                });
            }
        }
    }
    fn fold(&self, ps: &mut [MomentP], t: &Traversal<'_, T>) {
        if t.inner_reduced {
            t.for_each(|pidx, run, _| self.fold_run(&mut ps[pidx], run, 0));
            return;
        }
        // Two passes over the block: sums and counts, then squared deviations.
        let mut local = vec![MomentP::default(); ps.len()];
        t.for_each(|pidx, row, _| {
            for (p, &v) in local[pidx..pidx + row.len()].iter_mut().zip(row) {
                if let Some(x) = self.value(v) {
                    p.mean += x;
                    p.n += 1.0;
                }
            }
        });
        for p in &mut local {
            p.mean = if p.n > 0.0 { p.mean / p.n } else { 0.0 };
        }
        t.for_each(|pidx, row, _| {
            for (p, &v) in local[pidx..pidx + row.len()].iter_mut().zip(row) {
                if let Some(x) = self.value(v) {
                    p.m2 += (x - p.mean).powi(2);
                }
            }
        });
        for (p, l) in ps.iter_mut().zip(&local) {
            p.merge(l);
        }
    }
    fn merge(&self, a: &mut MomentP, b: &MomentP) {
        a.merge(b);
    }
    fn finish(&self, p: &MomentP) -> Result<Out> {
        // numpy: `var` divides by `max(n - ddof, 0)` (inf, or NaN for 0/0), while `nanvar`
        // gives NaN wherever `n - ddof <= 0`.
        let dof = p.n - self.ddof;
        if self.skip_nan && dof <= 0.0 {
            return Ok(Out::F(f64::NAN));
        }
        let var = p.m2 / dof.max(0.0);
        Ok(Out::F(if self.std { var.sqrt() } else { var }))
    }
    fn partial_from_stats(&self, s: &ChunkStats) -> Option<MomentP> {
        let n = (s.count - s.nan_count) as f64;
        if !self.skip_nan && s.nan_count > 0 {
            return Some(MomentP {
                n: s.count as f64,
                mean: f64::NAN,
                m2: f64::NAN,
            });
        }
        Some(if n == 0.0 {
            MomentP::default()
        } else {
            MomentP {
                n,
                mean: s.mean,
                m2: s.m2,
            }
        })
    }
}

// ---------------------------------------------------------------------------------------
// Arg reductions.

struct ArgKernel {
    max: bool,
    skip_nan: bool,
}

#[derive(Clone, Copy)]
struct ArgP<T> {
    value: T,
    index: u64,
    has: bool,
    seen: bool,
}

impl ArgKernel {
    /// Whether `(v, i)` beats the current best (NaN beats everything in the plain forms;
    /// ties go to the lower index).
    #[inline]
    fn better<T: Num>(&self, p: &ArgP<T>, v: T, i: u64) -> bool {
        if !p.has {
            return true;
        }
        let (vn, pn) = (v.is_nan(), p.value.is_nan());
        if vn || pn {
            return vn && (!pn || i < p.index);
        }
        if v == p.value {
            return i < p.index;
        }
        (v > p.value) == self.max
    }

    #[inline]
    fn push<T: Num>(&self, p: &mut ArgP<T>, v: T, i: u64) {
        p.seen = true;
        if self.skip_nan && v.is_nan() {
            return;
        }
        if self.better(p, v, i) {
            *p = ArgP {
                value: v,
                index: i,
                has: true,
                seen: true,
            };
        }
    }
}

impl<T: Num> Kernel<T> for ArgKernel {
    type P = ArgP<T>;
    const NEEDS_INDEX: bool = true;
    fn identity(&self) -> ArgP<T> {
        ArgP {
            value: T::ZERO,
            index: 0,
            has: false,
            seen: false,
        }
    }
    fn fold_run(&self, p: &mut ArgP<T>, run: &[T], index: u64) {
        for (j, &v) in run.iter().enumerate() {
            self.push(p, v, index + j as u64);
        }
    }
    fn fold_row(&self, ps: &mut [ArgP<T>], row: &[T], index: u64) {
        for (p, &v) in ps.iter_mut().zip(row) {
            self.push(p, v, index);
        }
    }
    fn merge(&self, a: &mut ArgP<T>, b: &ArgP<T>) {
        let seen = a.seen || b.seen;
        if b.has && self.better(a, b.value, b.index) {
            *a = *b;
        }
        a.seen = seen;
    }
    fn finish(&self, p: &ArgP<T>) -> Result<Out> {
        let name = if self.max { "argmax" } else { "argmin" };
        if !p.seen {
            return Err(invalid(format!(
                "attempt to get {name} of an empty sequence"
            )));
        }
        if !p.has {
            return Err(invalid(format!("All-NaN slice encountered ({name})")));
        }
        Ok(Out::I(p.index as i64))
    }
}

// ---------------------------------------------------------------------------------------
// any, all, count_nonzero.

#[derive(Clone, Copy, PartialEq)]
enum CountKind {
    Any,
    All,
    Nonzero,
}

struct Count(CountKind);

#[derive(Clone, Copy, Default)]
struct CountP {
    nonzero: u64,
    n: u64,
}

impl<T: Num> Kernel<T> for Count {
    type P = CountP;
    fn identity(&self) -> CountP {
        CountP::default()
    }
    fn fold_run(&self, p: &mut CountP, run: &[T], _: u64) {
        p.nonzero += run.iter().filter(|v| v.truthy()).count() as u64;
        p.n += run.len() as u64;
    }
    fn fold_row(&self, ps: &mut [CountP], row: &[T], _: u64) {
        for (p, v) in ps.iter_mut().zip(row) {
            p.nonzero += u64::from(v.truthy());
            p.n += 1;
        }
    }
    fn merge(&self, a: &mut CountP, b: &CountP) {
        a.nonzero += b.nonzero;
        a.n += b.n;
    }
    fn finish(&self, p: &CountP) -> Result<Out> {
        Ok(match self.0 {
            CountKind::Any => Out::B(p.nonzero > 0),
            CountKind::All => Out::B(p.nonzero == p.n),
            CountKind::Nonzero => Out::I(p.nonzero as i64),
        })
    }
}

// ---------------------------------------------------------------------------------------
// The driver.

/// Partials merged as a binary counter as they arrive in order: equal-sized subtrees merge
/// as soon as both exist, so the merge tree is balanced and fixed by the order alone (for
/// `2^k` equal runs, the tree pairwise summation builds over their concatenation). `V` is
/// one partial or the partials of a whole output block ([`merge_each`]).
pub(super) struct TreeMerge<V> {
    stack: Vec<(u32, V)>,
}

impl<V> TreeMerge<V> {
    pub(super) fn new() -> Self {
        Self { stack: Vec::new() }
    }

    /// Adds the next value; `merge(a, b)` folds `b` (which comes after `a`) into `a`.
    pub(super) fn push(&mut self, value: V, merge: &impl Fn(&mut V, &V)) {
        self.stack.push((0, value));
        while self.stack.len() >= 2
            && self.stack[self.stack.len() - 1].0 == self.stack[self.stack.len() - 2].0
        {
            let (level, right) = self.stack.pop().expect("two entries");
            let left = self.stack.last_mut().expect("two entries");
            merge(&mut left.1, &right);
            left.0 = level + 1;
        }
    }

    /// The merge of everything pushed, `None` if nothing was.
    pub(super) fn finish(mut self, merge: &impl Fn(&mut V, &V)) -> Option<V> {
        let mut acc = self.stack.pop()?.1;
        while let Some((_, mut left)) = self.stack.pop() {
            merge(&mut left, &acc);
            acc = left;
        }
        Some(acc)
    }
}

/// Merges the partials of two output blocks position by position.
fn merge_each<T: Num, K: Kernel<T>>(kernel: &K) -> impl Fn(&mut Vec<K::P>, &Vec<K::P>) + '_ {
    move |left, right| {
        for (a, b) in left.iter_mut().zip(right) {
            kernel.merge(a, b);
        }
    }
}

/// The reduction's geometry over its input's block grid.
struct ReducePlan<'a> {
    input: &'a LazyArray,
    reduced: Vec<bool>,
    kept_axes: Vec<usize>,
    red_axes: Vec<usize>,
    group_grid: Vec<u64>,
    member_grid: Vec<u64>,
    flat_index: bool,
}

impl ReducePlan<'_> {
    fn block_coords(&self, group: u64, member: u64) -> Vec<u64> {
        let g = unravel(group, &self.group_grid);
        let m = unravel(member, &self.member_grid);
        let mut coords = vec![0; self.reduced.len()];
        for (i, &a) in self.kept_axes.iter().enumerate() {
            coords[a] = g[i];
        }
        for (i, &a) in self.red_axes.iter().enumerate() {
            coords[a] = m[i];
        }
        coords
    }

    fn kept_region(&self, group: u64) -> Vec<Range<u64>> {
        let grid = self.input.block_grid();
        unravel(group, &self.group_grid)
            .iter()
            .zip(&self.kept_axes)
            .map(|(&c, &a)| grid.axis(a).block(c))
            .collect()
    }
}

/// Elements per tile when an elementwise expression is folded piece by piece: a tile and
/// the intermediates of its expression stay in the core's L1/L2 caches.
const TILE_ELEMENTS: usize = 8192;

fn fold_block<T: Num, K: Kernel<T>>(
    kernel: &K,
    plan: &ReducePlan<'_>,
    region: &[Range<u64>],
    stats: Option<&StatsTable>,
    coords: &[u64],
) -> Result<Vec<K::P>> {
    if let Some(table) = stats {
        if let Some(p) = table
            .get(ravel(coords, &plan.input.block_grid().grid_shape()))
            .and_then(|s| kernel.partial_from_stats(&s))
        {
            return Ok(vec![p]);
        }
    }
    let len: u64 = region.iter().map(|r| r.end - r.start).product();
    let op = &plan.input.node.op;
    if (is_elementwise(op) || is_generated(op)) && len > 2 * TILE_ELEMENTS as u64 {
        if let Some(axis) = region.iter().position(|r| r.end - r.start > 1) {
            return fold_tiles(kernel, plan, region, axis);
        }
    }
    fold_values(kernel, plan, &eval(plan.input, region)?, region)
}

/// Folds an elementwise (or generated) block tile by tile along `axis` (its outermost axis
/// longer than one): the expression's leaves are evaluated once for the block (generated
/// ones per tile), then each tile's chain of operations runs over cache-sized slices of
/// them. Tiles along a reduced axis merge in a tree; tiles along a kept axis own
/// consecutive runs of the block's outputs. A chain the fused loops cover whose block folds
/// into one partial never leaves L1: see [`fold_strips`].
fn fold_tiles<T: Num, K: Kernel<T>>(
    kernel: &K,
    plan: &ReducePlan<'_>,
    region: &[Range<u64>],
    axis: usize,
) -> Result<Vec<K::P>> {
    let leaves = Leaves::collect(plan.input, region)?;
    let mut fused = Fused::<T>::compile(plan.input, region, &leaves);
    let one_partial = plan
        .kept_axes
        .iter()
        .all(|&a| region[a].end - region[a].start == 1);
    if let (Some(chain), true, false) = (&mut fused, one_partial, K::NEEDS_INDEX) {
        let len = region.iter().map(|r| (r.end - r.start) as usize).product();
        return Ok(vec![fold_strips(kernel, chain, len)]);
    }
    let inner: u64 = region[axis + 1..].iter().map(|r| r.end - r.start).product();
    let step = (TILE_ELEMENTS as u64 / inner.max(1)).max(1);
    let tiles = region[axis].clone().step_by(step as usize).map(|start| {
        let mut t = region.to_vec();
        t[axis] = start..(start + step).min(region[axis].end);
        t
    });
    // The compiled chain fills one reused tile buffer strip by strip; a chain the fused
    // loops do not cover is evaluated node by node, tile by tile.
    let mut fused = fused.map(|f| (f, vec![T::ZERO; (step * inner) as usize]));
    let mut tree = TreeMerge::new();
    let merge = merge_each(kernel);
    let mut partials = Vec::new();
    for t in tiles {
        let tile = match &mut fused {
            Some((chain, buf)) => {
                let start = ((t[axis].start - region[axis].start) * inner) as usize;
                let values = &mut buf[..((t[axis].end - t[axis].start) * inner) as usize];
                chain.fill(start, values);
                let dims: Vec<usize> = t.iter().map(|r| (r.end - r.start) as usize).collect();
                fold_slice(kernel, plan, values, &dims, &t)
            }
            None => fold_values(kernel, plan, &eval_in(plan.input, &t, Some(&leaves))?, &t)?,
        };
        if plan.reduced[axis] {
            tree.push(tile, &merge);
        } else {
            partials.extend(tile);
        }
    }
    Ok(if plan.reduced[axis] {
        tree.finish(&merge).expect("a block has tiles")
    } else {
        partials
    })
}

/// The one partial of a block of `len` elements that all fold into it (every kept axis of
/// the block has extent one; no element indices needed), `chain` run [`STRIP`] elements at
/// a time into one L1-sized buffer and each strip folded as soon as it is made: the chain's
/// values are read once, from L1. Strips' partials merge in a tree, the one pairwise
/// summation builds over the block when `len` is a power of two.
fn fold_strips<T: Num, K: Kernel<T>>(kernel: &K, chain: &mut Fused<'_, T>, len: usize) -> K::P {
    let mut buf = vec![T::ZERO; STRIP.min(len)];
    let mut tree = TreeMerge::new();
    let merge = |a: &mut K::P, b: &K::P| kernel.merge(a, b);
    for at in (0..len).step_by(STRIP) {
        let strip = &mut buf[..STRIP.min(len - at)];
        chain.fill(at, strip);
        let mut p = kernel.identity();
        kernel.fold_run(&mut p, strip, 0);
        tree.push(p, &merge);
    }
    tree.finish(&merge).unwrap_or_else(|| kernel.identity())
}

/// The partials of one evaluated block of the reduction's input, one per kept position of
/// `region`, C order.
fn fold_values<T: Num, K: Kernel<T>>(
    kernel: &K,
    plan: &ReducePlan<'_>,
    block: &Block,
    region: &[Range<u64>],
) -> Result<Vec<K::P>> {
    let view = block.view::<T>()?;
    let contiguous = view.as_standard_layout();
    let data = contiguous.as_slice().expect("standard layout");
    Ok(fold_slice(kernel, plan, data, view.shape(), region))
}

/// The partials of `data`, the C-order values (extents `dims`) of `region` of the
/// reduction's input, one per kept position of `region`.
fn fold_slice<T: Num, K: Kernel<T>>(
    kernel: &K,
    plan: &ReducePlan<'_>,
    data: &[T],
    dims: &[usize],
    region: &[Range<u64>],
) -> Vec<K::P> {
    let kept_len: usize = plan
        .kept_axes
        .iter()
        .map(|&a| (region[a].end - region[a].start) as usize)
        .product();
    let index_of: IndexOf<'_> = if K::NEEDS_INDEX {
        let origin: Vec<u64> = region.iter().map(|r| r.start).collect();
        let red = &plan.red_axes;
        let flat = plan.flat_index;
        let shape = plan.input.shape();
        Some(Box::new(move |outer: &[usize]| {
            let at = |a: usize| origin[a] + outer.get(a).copied().unwrap_or(0) as u64;
            if flat {
                (0..shape.len()).fold(0u64, |acc, a| acc * shape[a] + at(a))
            } else {
                at(red[0])
            }
        }))
    } else {
        None
    };
    let traversal = Traversal::new(data, dims, &plan.reduced, !K::NEEDS_INDEX, index_of);
    let mut partials = vec![kernel.identity(); kept_len];
    kernel.fold(&mut partials, &traversal);
    partials
}

fn run_kernel<T: Num, K: Kernel<T>>(
    kernel: &K,
    reduction: &Reduction,
    opts: &RunOptions<'_>,
    emit: Emit<'_>,
) -> Result<()> {
    let input = &reduction.input;
    let ndim = input.ndim();
    let reduced: Vec<bool> = (0..ndim).map(|a| reduction.axes.contains(&a)).collect();
    let kept_axes: Vec<usize> = (0..ndim).filter(|&a| !reduced[a]).collect();
    let red_axes: Vec<usize> = reduction.axes.clone();
    let grid_shape = input.block_grid().grid_shape();
    let plan = ReducePlan {
        input,
        group_grid: kept_axes.iter().map(|&a| grid_shape[a]).collect(),
        member_grid: red_axes.iter().map(|&a| grid_shape[a]).collect(),
        flat_index: red_axes.len() == ndim,
        reduced,
        kept_axes,
        red_axes,
    };
    let groups: u64 = plan.group_grid.iter().product();
    let members: u64 = plan.member_grid.iter().product();
    let finish = |partials: Vec<K::P>| -> Result<Vec<Out>> {
        partials.iter().map(|p| kernel.finish(p)).collect()
    };
    if members == 0 {
        // A reduced axis is empty: every output is the kernel's identity, finished — an
        // error for reductions without one (min, argmax, ...), even if there are no outputs.
        kernel.finish(&kernel.identity())?;
        for g in 0..groups {
            let region = plan.kept_region(g);
            let len: u64 = region.iter().map(|r| r.end - r.start).product();
            emit(&region, finish(vec![kernel.identity(); len as usize])?)?;
        }
        return Ok(());
    }
    let stats = statistics(reduction, opts)?;
    let mut tree = TreeMerge::new();
    let merge = merge_each(kernel);
    run_batched(
        groups * members,
        opts,
        |w| {
            let coords = plan.block_coords(w / members, w % members);
            let region = input.block_grid().block_region(&coords);
            let whole_chunk = stats.is_some() && is_whole_chunk(input, &region);
            let bytes = region.iter().map(|r| r.end - r.start).product::<u64>()
                * input.data_type().size() as u64;
            let partial = fold_block(
                kernel,
                &plan,
                &region,
                stats.as_ref().filter(|_| whole_chunk),
                &coords,
            )?;
            Ok((partial, bytes))
        },
        |w, partial| {
            tree.push(partial, &merge);
            if w % members == members - 1 {
                let merged = std::mem::replace(&mut tree, TreeMerge::new())
                    .finish(&merge)
                    .expect("a group has members");
                emit(&plan.kept_region(w / members), finish(merged)?)?;
            }
            Ok(())
        },
    )
}

/// The statistics sidecar, when this reduction may use it: all axes of a stored array, not
/// told to scan.
fn statistics(reduction: &Reduction, opts: &RunOptions<'_>) -> Result<Option<StatsTable>> {
    if opts.scan || reduction.axes.len() != reduction.input.ndim() {
        return Ok(None);
    }
    match &reduction.input.node.op {
        Op::Stored(array) => array.stats(),
        _ => Ok(None),
    }
}

fn is_whole_chunk(input: &LazyArray, region: &[Range<u64>]) -> bool {
    let Op::Stored(array) = &input.node.op else {
        return false;
    };
    region
        .iter()
        .zip(array.grid().chunk_shape())
        .all(|(r, &c)| r.end - r.start == c && r.start % c == 0)
}

fn dispatch<T: Num>(reduction: &Reduction, opts: &RunOptions<'_>, emit: Emit<'_>) -> Result<()> {
    use ReduceOp::*;
    let float = T::DATA_TYPE.kind() == Kind::Float;
    match reduction.op {
        Sum | NanSum if float => run_kernel::<T, _>(
            &SumF {
                skip_nan: reduction.op == NanSum,
                mean: false,
            },
            reduction,
            opts,
            emit,
        ),
        Sum | NanSum => run_kernel::<T, _>(&IntFold { product: false }, reduction, opts, emit),
        Prod | NanProd if float => run_kernel::<T, _>(
            &ProdF {
                skip_nan: reduction.op == NanProd,
            },
            reduction,
            opts,
            emit,
        ),
        Prod | NanProd => run_kernel::<T, _>(&IntFold { product: true }, reduction, opts, emit),
        Mean | NanMean => run_kernel::<T, _>(
            &SumF {
                skip_nan: reduction.op == NanMean,
                mean: true,
            },
            reduction,
            opts,
            emit,
        ),
        Min | Max | NanMin | NanMax => run_kernel::<T, _>(
            &Extreme {
                max: matches!(reduction.op, Max | NanMax),
                skip_nan: matches!(reduction.op, NanMin | NanMax),
            },
            reduction,
            opts,
            emit,
        ),
        Var { ddof } | Std { ddof } | NanVar { ddof } | NanStd { ddof } => run_kernel::<T, _>(
            &MomentsKernel {
                skip_nan: matches!(reduction.op, NanVar { .. } | NanStd { .. }),
                ddof,
                std: matches!(reduction.op, Std { .. } | NanStd { .. }),
            },
            reduction,
            opts,
            emit,
        ),
        ArgMin | ArgMax | NanArgMin | NanArgMax => run_kernel::<T, _>(
            &ArgKernel {
                max: matches!(reduction.op, ArgMax | NanArgMax),
                skip_nan: matches!(reduction.op, NanArgMin | NanArgMax),
            },
            reduction,
            opts,
            emit,
        ),
        Any => run_kernel::<T, _>(&Count(CountKind::Any), reduction, opts, emit),
        All => run_kernel::<T, _>(&Count(CountKind::All), reduction, opts, emit),
        CountNonzero => run_kernel::<T, _>(&Count(CountKind::Nonzero), reduction, opts, emit),
    }
}

/// Streams the reduction's input and calls `emit(kept region, values)` for each output
/// block, in order.
pub(crate) fn reduce_stream(
    reduction: &Reduction,
    opts: &RunOptions<'_>,
    emit: Emit<'_>,
) -> Result<()> {
    with_element_type!(reduction.input.data_type(), T => dispatch::<T>(reduction, opts, emit))
}

/// Computes a reduction into an in-memory block of its result type and shape.
pub(crate) fn reduce_to_block(
    reduction: &Reduction,
    out_type: DataType,
    out_shape: &[u64],
    opts: &RunOptions<'_>,
) -> Result<Block> {
    let input = &reduction.input;
    let kept_shape: Vec<usize> = (0..input.ndim())
        .filter(|a| !reduction.axes.contains(a))
        .map(|a| input.shape()[a] as usize)
        .collect();
    let dims: Vec<usize> = out_shape.iter().map(|&n| n as usize).collect();
    with_element_type!(out_type, U => {
        let mut out = ArrayD::<U>::from_elem(IxDyn(&kept_shape), U::default());
        reduce_stream(reduction, opts, &mut |region, values| {
            let mut dst = out.slice_each_axis_mut(|ax| {
                let r = &region[ax.axis.index()];
                ndarray::Slice::from(r.start as usize..r.end as usize)
            });
            for (d, v) in dst.iter_mut().zip(values) {
                *d = out_to::<U>(v);
            }
            Ok(())
        })?;
        let out = out
            .into_shape_with_order(IxDyn(&dims))
            .map_err(|e| shape_mismatch(format!("reduction result shape: {e}")))?;
        Ok(Block::from_array(out))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traversal_merges_inner_axes() {
        let data: Vec<u32> = (0..24).collect();
        // Reduce axes 0 and 2 of (2, 3, 4): runs of 4 along axis 2, partial = axis 1.
        let t = Traversal::new(&data, &[2, 3, 4], &[true, false, true], true, None);
        let mut seen = Vec::new();
        t.for_each(|p, run, _| seen.push((p, run.to_vec())));
        assert_eq!(seen.len(), 6);
        assert_eq!(seen[4], (1, vec![16, 17, 18, 19]));
        // Reduce axis 0: rows of 12 kept elements.
        let t = Traversal::new(&data, &[2, 3, 4], &[true, false, false], true, None);
        let mut rows = Vec::new();
        t.for_each(|p, row, _| rows.push((p, row.len())));
        assert_eq!(rows, vec![(0, 12), (0, 12)]);
        // All axes: one run.
        let t = Traversal::new(&data, &[2, 3, 4], &[true, true, true], true, None);
        let mut n = 0;
        t.for_each(|_, run, _| n += run.len());
        assert_eq!(n, 24);
        assert!(!t.outer.iter().any(|o| o.0 > 1));
    }
}
