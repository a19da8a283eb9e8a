//! Counting in one streaming pass: numpy's `histogram`, `histogram2d`, `bincount` and
//! `unique(..., return_counts=True)`.
//!
//! `histogram` and `unique` count each block into a partial on the worker threads and add the
//! partials up on the calling thread (integer counts: the sum does not depend on the order, so
//! neither on chunking nor on threads). `bincount` adds its weights in the elements' C order,
//! one after another, as numpy does, so weighted sums are numpy's to the bit.
//!
//! Bins follow numpy. `histogram` with a bin count computes each value's bin with numpy's
//! formula (`(x - first) / (last - first) * n`, truncated, then corrected against the edges,
//! the last bin closed) in numpy's types: the edges are float32 for float32 data and float64
//! otherwise, and an autodetected range of float32 data is divided in float32. Explicit edges
//! count `edges[i] <= x < edges[i + 1]`, the last bin closed. `histogram2d` is numpy's
//! `histogramdd`: `searchsorted(edges, x, 'right')`, a value on the last edge in the last bin.
//! NaN is never counted. Where numpy raises on a NaN in an autodetected range, outcore takes
//! the range of the other values (the statistics sidecar's min and max when the array is
//! stored with one, so no extra pass is made).

use std::collections::HashMap;
use std::ops::Range;

use ndarray::{Array2, ArrayD, IxDyn};

use super::quantile::Ordered;
use super::{eval, run_batched, AnyArray, Compute};
use crate::element::{DataType, Element, Kind, Num, Scalar};
use crate::error::{invalid, shape_mismatch, too_large, type_mismatch, Result};
use crate::expr::{Block, LazyArray};
use crate::with_element_type;

/// How a histogram's bins are chosen (numpy's `bins`).
#[derive(Debug, Clone, PartialEq)]
pub enum Bins {
    /// This many bins of equal width over the range (given, or the data's min and max).
    Count(u64),
    /// These edges, non-decreasing: `edges.len() - 1` bins, the last one closed.
    Edges(Vec<f64>),
}

/// A histogram: `counts[i]` values fell in `[edges[i], edges[i + 1])` (the last bin closed).
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// Values per bin.
    pub counts: Vec<u64>,
    /// The bin edges, one more than the bins, widened from `edges_type`.
    pub edges: Vec<f64>,
    /// The type numpy gives the edges: float32 for float32 data with a bin count, float64
    /// otherwise.
    pub edges_type: DataType,
}

/// A two-dimensional histogram (numpy's `histogram2d`).
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram2d {
    /// `counts[[i, j]]` pairs fell in bin `i` of `x` and bin `j` of `y` (float64, as numpy
    /// gives them).
    pub counts: Array2<f64>,
    /// The edges along `x`.
    pub x_edges: Vec<f64>,
    /// The edges along `y`.
    pub y_edges: Vec<f64>,
}

/// The distinct values of an array, sorted, and how often each occurs.
#[derive(Debug, Clone, PartialEq)]
pub struct Unique {
    /// The distinct values (1-d, of the array's type). NaNs are one value, last (numpy's
    /// `equal_nan`); `-0.0` and `0.0` are one value, `0.0`.
    pub values: AnyArray,
    /// Occurrences of each value.
    pub counts: Vec<u64>,
}

/// One pass over `array` (and `other`, of the same shape, over the same regions): `work`
/// makes each block's partial on the worker threads, `merge` takes them in C order.
fn pass<P: Send>(
    compute: &Compute<'_>,
    operation: &str,
    array: &LazyArray,
    other: Option<&LazyArray>,
    work: impl Fn(Block, Option<Block>) -> Result<P> + Sync,
    mut merge: impl FnMut(P) -> Result<()>,
) -> Result<()> {
    let opts = &compute.opts;
    let array = super::materialize(array, opts)?;
    let other = other.map(|o| super::materialize(o, opts)).transpose()?;
    super::check_block_size(operation, &array)?;
    let grid = array.block_grid();
    run_batched(
        super::pass_blocks(operation, &array)?,
        opts,
        |i| {
            let region: Vec<Range<u64>> = grid.block_region_at(i);
            let block = eval::eval(&array, &region)?;
            let second = other.as_ref().map(|o| eval::eval(o, &region)).transpose()?;
            let bytes = block.len() as u64 * array.data_type().size() as u64;
            Ok((work(block, second)?, bytes))
        },
        |_, p| merge(p),
    )
}

/// Calls `f` for each value of `block` (any layout; C order when contiguous).
fn each<T: Element>(block: &Block, mut f: impl FnMut(T)) -> Result<()> {
    let view = block.view::<T>()?;
    match view.as_slice() {
        Some(s) => s.iter().for_each(|&v| f(v)),
        None => view.iter().for_each(|&v| f(v)),
    }
    Ok(())
}

/// Whether `edges` never decrease (and hold no NaN).
fn non_decreasing(edges: &[f64]) -> bool {
    edges.windows(2).all(|w| w[0] <= w[1])
}

/// A vector of `n` zeros, or an error naming `what` when memory cannot hold it.
fn zeros<V: Clone + Default>(n: u64, what: &str) -> Result<Vec<V>> {
    let mut v = Vec::new();
    usize::try_from(n)
        .ok()
        .filter(|&n| v.try_reserve_exact(n).is_ok())
        .map(|n| v.resize(n, V::default()))
        .ok_or_else(|| too_large(format!("{what}: {n} bins do not fit in memory")))?;
    Ok(v)
}

/// numpy's `linspace(start, stop, n + 1)`, computed in `F` (float64, or float32 for float32
/// bounds, as numpy computes it in the bounds' type).
fn linspace<F: num_traits::Float>(start: F, stop: F, bins: u64) -> Vec<F> {
    let float = |n: u64| F::from(n).unwrap_or_else(F::infinity);
    let div = float(bins);
    let delta = stop - start;
    let step = delta / div;
    let mut y: Vec<F> = (0..=bins)
        .map(|i| {
            if step == F::zero() {
                float(i) / div * delta + start
            } else {
                float(i) * step + start
            }
        })
        .collect();
    if let Some(last) = y.last_mut() {
        *last = stop;
    }
    y
}

/// The smallest and largest non-NaN values of `array`: the sidecar's, or one pass.
fn data_range(compute: &Compute<'_>, array: &LazyArray) -> Result<Option<(Scalar, Scalar)>> {
    let s = super::summary::summarize(array, None, compute.opts.scan, compute.opts.progress)?;
    let s = s.summaries[0];
    Ok((s.count > s.nan_count).then_some((s.min, s.max)))
}

fn scalar_f64(s: Scalar) -> f64 {
    match s {
        Scalar::Bool(b) => f64::from(u8::from(b)),
        Scalar::Int(i) => i as f64,
        Scalar::UInt(u) => u as f64,
        Scalar::Float(f) => f,
    }
}

/// The numbers of numpy's uniform-bin index computation for one histogram.
#[derive(Debug, Clone)]
struct Uniform {
    bins: u64,
    /// The edges in their type, widened.
    edges: Vec<f64>,
    /// Values kept: `lo <= x <= hi` (compared as numpy compares them).
    lo: f64,
    hi: f64,
    /// Float32 data: values are float32, and (autodetected range) the index arithmetic is
    /// float32 too.
    f32_data: bool,
    f32_math: bool,
    first: f64,
    denom: f64,
}

impl Uniform {
    /// numpy's bin of `x` (already known to lie in the range).
    #[inline]
    fn index(&self, x: f64) -> usize {
        let n = self.bins;
        let f = if self.f32_math {
            let (x, first, denom) = (x as f32, self.first as f32, self.denom as f32);
            ((x - first) / denom * n as f32) as i64
        } else if self.f32_data {
            (f64::from(x as f32 - self.first as f32) / self.denom * n as f64) as i64
        } else {
            ((x - self.first) / self.denom * n as f64) as i64
        };
        let mut i = (f.max(0) as u64).min(n - 1) as usize;
        // Edges are exact in f64 whatever their type, and so are float32 values.
        if x < self.edges[i] && i > 0 {
            i -= 1;
        } else if i as u64 != n - 1 && x >= self.edges[i + 1] {
            i += 1;
        }
        i
    }
}

impl<'a> Compute<'a> {
    /// numpy's `histogram(x, bins, range)` of every element. With [`Bins::Count`] and no
    /// range, the range is the data's (NaN left out): the statistics sidecar's min and max
    /// when the array is stored with one, otherwise one more pass.
    ///
    /// # Errors
    /// A zero bin count, edges that decrease, a range whose ends are not finite or are in the
    /// wrong order, or more bins than the range's floats can tell apart
    /// ([`ErrorKind::InvalidArgument`]); a `bool` array ([`ErrorKind::TypeMismatch`]); more
    /// bins than memory holds ([`ErrorKind::TooLarge`]); any error evaluating the array.
    ///
    /// [`ErrorKind::InvalidArgument`]: crate::ErrorKind::InvalidArgument
    /// [`ErrorKind::TypeMismatch`]: crate::ErrorKind::TypeMismatch
    /// [`ErrorKind::TooLarge`]: crate::ErrorKind::TooLarge
    pub fn histogram(self, bins: &Bins, range: Option<(f64, f64)>) -> Result<Histogram> {
        let array = self.array;
        array.built()?;
        let t = array.data_type();
        if t == DataType::Bool {
            return Err(type_mismatch(
                "histogram of a bool array: numpy cannot subtract booleans; convert it first",
            ));
        }
        match bins {
            Bins::Edges(edges) => {
                if !non_decreasing(edges) {
                    return Err(invalid("histogram: bin edges must increase monotonically"));
                }
                let n = edges.len().saturating_sub(1) as u64;
                let (first, last, inner) = (edges[0], edges[n as usize], &edges[..n as usize]);
                let counts = self.count_bins(n, |block, part| {
                    with_element_type!(t, T => each::<T>(&block, |v| {
                        let x = v.to_f64();
                        if x >= first && x <= last {
                            part[inner.partition_point(|&e| e <= x) - 1] += 1;
                        }
                    }))
                })?;
                Ok(Histogram {
                    counts,
                    edges: edges.clone(),
                    edges_type: DataType::Float64,
                })
            }
            Bins::Count(n) => {
                let uniform = self.uniform(*n, range)?;
                let (lo, hi) = (uniform.lo, uniform.hi);
                let f32_data = t == DataType::Float32;
                let counts = self.count_bins(*n, |block, part| {
                    if f32_data {
                        let (lo, hi) = (lo as f32, hi as f32);
                        each::<f32>(&block, |v| {
                            if v >= lo && v <= hi {
                                part[uniform.index(f64::from(v))] += 1;
                            }
                        })
                    } else {
                        with_element_type!(t, T => each::<T>(&block, |v| {
                            let x = v.to_f64();
                            if x >= lo && x <= hi {
                                part[uniform.index(x)] += 1;
                            }
                        }))
                    }
                })?;
                Ok(Histogram {
                    counts,
                    edges: uniform.edges,
                    edges_type: if f32_data {
                        DataType::Float32
                    } else {
                        DataType::Float64
                    },
                })
            }
        }
    }

    /// Counts in `n` bins in one pass: `bin(block, counts)` counts a block into its own
    /// partial on a worker thread; the partials are added up in order.
    fn count_bins(
        &self,
        n: u64,
        bin: impl Fn(Block, &mut [u64]) -> Result<()> + Sync,
    ) -> Result<Vec<u64>> {
        let mut counts: Vec<u64> = zeros(n, "histogram")?;
        if n == 0 {
            return Ok(counts);
        }
        pass(
            self,
            "histogram",
            self.array,
            None,
            |block, _| {
                let mut part: Vec<u64> = zeros(n, "histogram")?;
                bin(block, &mut part)?;
                Ok(part)
            },
            |part| {
                counts.iter_mut().zip(part).for_each(|(c, p)| *c += p);
                Ok(())
            },
        )?;
        Ok(counts)
    }

    /// numpy's `_get_outer_edges` and `linspace` for `n` equal bins.
    fn uniform(&self, n: u64, range: Option<(f64, f64)>) -> Result<Uniform> {
        if n == 0 {
            return Err(invalid("histogram: the number of bins must be positive"));
        }
        zeros::<u64>(n.saturating_add(1), "histogram")?;
        let t = self.array.data_type();
        let f32_data = t == DataType::Float32;
        let mut u = Uniform {
            bins: n,
            edges: Vec::new(),
            lo: 0.0,
            hi: 1.0,
            f32_data,
            f32_math: false,
            first: 0.0,
            denom: 1.0,
        };
        let given = match range {
            Some((lo, hi)) => {
                if lo > hi {
                    return Err(invalid(format!(
                        "histogram: the range [{lo}, {hi}] ends below its start"
                    )));
                }
                if !(lo.is_finite() && hi.is_finite()) {
                    return Err(invalid(format!(
                        "histogram: the range [{lo}, {hi}] is not finite"
                    )));
                }
                Some((lo, hi))
            }
            None => None,
        };
        let detected = match given {
            Some(_) => None,
            None => data_range(self, self.array)?,
        };
        match (given, detected) {
            (Some((lo, hi)), _) => {
                // Python floats: compared with float32 data as float32, with integers as f64.
                let (first, last) = if lo == hi {
                    (lo - 0.5, hi + 0.5)
                } else {
                    (lo, hi)
                };
                u.lo = first;
                u.hi = last;
                u.first = first;
                u.denom = last - first;
                u.edges = self.edges_of(linspace(first, last, n), f32_data);
            }
            (None, None) => {
                // No values: numpy's range (0, 1); nothing is counted.
                u.edges = self.edges_of(linspace(0.0, 1.0, n), f32_data);
                u.lo = f64::INFINITY;
                u.hi = f64::NEG_INFINITY;
            }
            (None, Some((min, max))) if f32_data => {
                let (mut first, mut last) = (scalar_f64(min) as f32, scalar_f64(max) as f32);
                if first == last {
                    first -= 0.5;
                    last += 0.5;
                }
                u.f32_math = true;
                u.lo = f64::from(first);
                u.hi = f64::from(last);
                u.first = f64::from(first);
                u.denom = f64::from(last - first);
                u.edges = linspace(first, last, n)
                    .into_iter()
                    .map(f64::from)
                    .collect();
            }
            (None, Some((min, max))) => {
                let (first, last) = (scalar_f64(min), scalar_f64(max));
                u.lo = first;
                u.hi = last;
                if min == max {
                    u.first = first - 0.5;
                    u.denom = (last + 0.5) - (first - 0.5);
                    u.edges = linspace(first - 0.5, last + 0.5, n);
                } else {
                    u.first = first;
                    // Integers: numpy subtracts in the unsigned type of the data.
                    u.denom = match (min, max) {
                        (Scalar::Int(a), Scalar::Int(b)) => b.wrapping_sub(a) as u64 as f64,
                        (Scalar::UInt(a), Scalar::UInt(b)) => (b - a) as f64,
                        _ => last - first,
                    };
                    u.edges = linspace(first, last, n);
                }
                if min == max {
                    u.lo = first - 0.5;
                    u.hi = last + 0.5;
                }
            }
        }
        if u.edges.windows(2).any(|w| w[0] >= w[1]) {
            return Err(invalid(format!(
                "histogram: too many bins for the data range: {n} bins of [{}, {}] are not all \
                 of finite width",
                u.edges[0], u.edges[n as usize]
            )));
        }
        Ok(u)
    }

    /// Edges in numpy's type for the data: float32 data rounds them to float32.
    fn edges_of(&self, edges: Vec<f64>, f32_data: bool) -> Vec<f64> {
        if f32_data {
            edges.into_iter().map(|e| f64::from(e as f32)).collect()
        } else {
            edges
        }
    }

    /// numpy's `histogram2d(x, y, bins, range)` (its `histogramdd`) of this array's elements
    /// paired with `y`'s in C order. Without a range, an axis's range is its data's (NaN left
    /// out, from the sidecar when there is one); pairs holding a NaN are not counted.
    /// Values are compared as float64 (numpy compares float32 data with an autodetected range
    /// against float32 edges).
    ///
    /// # Errors
    /// `y` of another shape ([`ErrorKind::ShapeMismatch`]); the bins and ranges as
    /// [`Compute::histogram`]; a `bool` array; any error evaluating either array.
    ///
    /// [`ErrorKind::ShapeMismatch`]: crate::ErrorKind::ShapeMismatch
    pub fn histogram2d(
        self,
        y: &LazyArray,
        bins: [&Bins; 2],
        range: [Option<(f64, f64)>; 2],
    ) -> Result<Histogram2d> {
        let x = self.array;
        x.built()?;
        y.built()?;
        if x.shape() != y.shape() {
            return Err(shape_mismatch(format!(
                "histogram2d: x of shape {:?} and y of shape {:?} must pair up",
                x.shape(),
                y.shape()
            )));
        }
        let mut edges = Vec::new();
        for (array, (b, r)) in [x, y].into_iter().zip(bins.into_iter().zip(range)) {
            if array.data_type() == DataType::Bool {
                return Err(type_mismatch(
                    "histogram2d of a bool array: convert it first",
                ));
            }
            edges.push(match b {
                Bins::Edges(e) => {
                    if e.len() < 2 || !non_decreasing(e) {
                        return Err(invalid(
                            "histogram2d: bin edges must be at least two and increase \
                             monotonically",
                        ));
                    }
                    e.clone()
                }
                Bins::Count(n) => {
                    if *n == 0 {
                        return Err(invalid("histogram2d: the number of bins must be positive"));
                    }
                    zeros::<u64>(n.saturating_add(1), "histogram2d")?;
                    let (mut first, mut last) = match r {
                        Some((lo, hi)) => {
                            if lo > hi || !(lo.is_finite() && hi.is_finite()) {
                                return Err(invalid(format!(
                                    "histogram2d: the range [{lo}, {hi}] is not finite or ends \
                                     below its start"
                                )));
                            }
                            (lo, hi)
                        }
                        None => {
                            let c = Compute {
                                array,
                                opts: self.opts,
                            };
                            data_range(&c, array)?
                                .map_or((0.0, 1.0), |(a, b)| (scalar_f64(a), scalar_f64(b)))
                        }
                    };
                    if first == last {
                        first -= 0.5;
                        last += 0.5;
                    }
                    linspace(first, last, *n)
                }
            });
        }
        let (nx, ny) = (edges[0].len() - 1, edges[1].len() - 1);
        let cells = (nx as u64).saturating_mul(ny as u64);
        let mut counts: Vec<u64> = zeros(cells, "histogram2d")?;
        let bin = |e: &[f64], v: f64| -> Option<usize> {
            let last = *e.last().expect("two edges");
            if !(v >= e[0] && v <= last) {
                return None;
            }
            // searchsorted 'right', a value on the last edge moved into the last bin.
            let i = e.partition_point(|&x| x <= v);
            Some(if v == last { i - 2 } else { i - 1 }.min(e.len() - 2))
        };
        let (tx, ty) = (x.data_type(), y.data_type());
        pass(
            &self,
            "histogram2d",
            x,
            Some(y),
            |bx, by| {
                let by = by.expect("y evaluated");
                let xs: Vec<f64> = with_element_type!(tx, T => {
                    let mut v = Vec::with_capacity(bx.len());
                    each::<T>(&bx, |a| v.push(a.to_f64()))?;
                    v
                });
                let mut part: Vec<(usize, usize)> = Vec::new();
                let mut k = 0;
                with_element_type!(ty, T => each::<T>(&by, |b| {
                    if let (Some(i), Some(j)) = (bin(&edges[0], xs[k]), bin(&edges[1], b.to_f64())) {
                        part.push((i, j));
                    }
                    k += 1;
                }))?;
                Ok(part)
            },
            |part| {
                for (i, j) in part {
                    counts[i * ny + j] += 1;
                }
                Ok(())
            },
        )?;
        let counts = Array2::from_shape_vec((nx, ny), counts.iter().map(|&c| c as f64).collect())
            .map_err(|e| invalid(format!("histogram2d: {e}")))?;
        let y_edges = edges.pop().expect("two axes");
        let x_edges = edges.pop().expect("two axes");
        Ok(Histogram2d {
            counts,
            x_edges,
            y_edges,
        })
    }

    /// numpy's `bincount(x, weights, minlength)` of a 1-d array of non-negative integers (or
    /// bools): `counts[v]` is how often `v` occurs (int64), or with `weights` (the same shape,
    /// any numeric type, taken as float64) the sum of their weights, added in C order as
    /// numpy adds them (float64). The result has `max(x) + 1` entries, at least `minlength`.
    ///
    /// # Errors
    /// A float array ([`ErrorKind::TypeMismatch`]); an array that is not 1-d or
    /// weights of another shape ([`ErrorKind::ShapeMismatch`]); a negative value
    /// ([`ErrorKind::InvalidArgument`]; a uint64 value past `i64::MAX` is one, as numpy's
    /// cast to int64 makes it); a result longer than memory holds
    /// ([`ErrorKind::TooLarge`]); any error evaluating either array.
    ///
    /// [`ErrorKind::TypeMismatch`]: crate::ErrorKind::TypeMismatch
    /// [`ErrorKind::ShapeMismatch`]: crate::ErrorKind::ShapeMismatch
    /// [`ErrorKind::InvalidArgument`]: crate::ErrorKind::InvalidArgument
    /// [`ErrorKind::TooLarge`]: crate::ErrorKind::TooLarge
    pub fn bincount(self, weights: Option<&LazyArray>, minlength: u64) -> Result<AnyArray> {
        let x = self.array;
        x.built()?;
        let t = x.data_type();
        if t.kind() == Kind::Float {
            return Err(type_mismatch(format!(
                "bincount takes integers or bools, not {t}"
            )));
        }
        if x.ndim() != 1 {
            return Err(shape_mismatch(format!(
                "bincount takes a 1-d array, not one of shape {:?}",
                x.shape()
            )));
        }
        if let Some(w) = weights {
            w.built()?;
            if w.shape() != x.shape() {
                return Err(shape_mismatch(format!(
                    "bincount: the weights' shape {:?} is not the array's {:?}",
                    w.shape(),
                    x.shape()
                )));
            }
        }
        let mut counts: Vec<u64> = zeros(minlength, "bincount")?;
        let mut sums: Vec<f64> = match weights {
            Some(_) => zeros(minlength, "bincount")?,
            None => Vec::new(),
        };
        let grow = |len: &mut Vec<u64>, sums: &mut Vec<f64>, v: u64| -> Result<()> {
            let need = v.saturating_add(1);
            if (len.len() as u64) < need {
                let more = need - len.len() as u64;
                let extra: Vec<u64> = zeros(more, "bincount")?;
                len.extend(extra);
                if weights.is_some() {
                    let extra: Vec<f64> = zeros(more, "bincount")?;
                    sums.extend(extra);
                }
            }
            Ok(())
        };
        let negative = |v: i64| {
            invalid(format!(
                "bincount: the array holds a negative value ({v}); numpy counts only \
                 non-negative integers"
            ))
        };
        pass(
            &self,
            "bincount",
            x,
            weights,
            |b, w| Ok((b, w)),
            |(block, w)| {
                let mut values: Vec<u64> = Vec::with_capacity(block.len());
                let mut bad = None;
                with_element_type!(t, T => each::<T>(&block, |v| {
                    // numpy casts to int64: uint64 values past its range turn negative.
                    let i = Num::as_i64(v);
                    if i < 0 {
                        bad.get_or_insert(i);
                    }
                    values.push(i as u64);
                }))?;
                if let Some(v) = bad {
                    return Err(negative(v));
                }
                if let Some(&top) = values.iter().max() {
                    grow(&mut counts, &mut sums, top)?;
                }
                match w {
                    None => values.iter().for_each(|&v| counts[v as usize] += 1),
                    Some(w) => {
                        let mut k = 0;
                        with_element_type!(w.data_type(), W => each::<W>(&w, |wv| {
                            sums[values[k] as usize] += wv.to_f64();
                            k += 1;
                        }))?;
                    }
                }
                Ok(())
            },
        )?;
        let shape = |n: usize| IxDyn(&[n]);
        Ok(match weights {
            None => AnyArray::Int64(
                ArrayD::from_shape_vec(
                    shape(counts.len()),
                    counts.iter().map(|&c| c as i64).collect(),
                )
                .map_err(|e| invalid(format!("bincount: {e}")))?,
            ),
            Some(_) => AnyArray::Float64(
                ArrayD::from_shape_vec(shape(sums.len()), sums)
                    .map_err(|e| invalid(format!("bincount: {e}")))?,
            ),
        })
    }

    /// numpy's `unique(x, return_counts=True)` over every element: the distinct values in
    /// ascending order and their counts, in one pass (each block's counts made on the worker
    /// threads). Meant for integer, bool and category-code arrays; float arrays work too.
    ///
    /// # Errors
    /// More distinct values than a quarter of the memory budget holds
    /// ([`ErrorKind::TooLarge`], naming the count); any error evaluating the array.
    ///
    /// [`ErrorKind::TooLarge`]: crate::ErrorKind::TooLarge
    pub fn unique_counts(self) -> Result<Unique> {
        let budget = crate::cache::global_cache()?.budget();
        let array = self.array;
        array.built()?;
        let t = array.data_type();
        // Bytes a distinct value costs in the map, generously.
        let most = (budget / 4 / 48).max(1 << 10);
        with_element_type!(t, T => {
            let mut total: HashMap<u64, u64> = HashMap::new();
            let mut nans = 0u64;
            pass(
                &self,
                "unique",
                array,
                None,
                |block, _| {
                    let mut part: HashMap<u64, u64> = HashMap::new();
                    let mut nan = 0u64;
                    let mut overflow = false;
                    each::<T>(&block, |v| match v.key() {
                        Some(k) => {
                            *part.entry(k).or_insert(0) += 1;
                            overflow |= part.len() as u64 > most;
                        }
                        None => nan += 1,
                    })?;
                    if overflow {
                        return Err(too_many(most));
                    }
                    Ok((part, nan))
                },
                |(part, nan)| {
                    nans += nan;
                    for (k, c) in part {
                        *total.entry(k).or_insert(0) += c;
                    }
                    if total.len() as u64 > most {
                        return Err(too_many(most));
                    }
                    Ok(())
                },
            )?;
            let mut keys: Vec<(u64, u64)> = total.into_iter().collect();
            keys.sort_unstable();
            let mut values: Vec<T> = keys.iter().map(|&(k, _)| T::from_key(k)).collect();
            let mut counts: Vec<u64> = keys.iter().map(|&(_, c)| c).collect();
            if nans > 0 {
                values.push(T::from_f64(f64::NAN));
                counts.push(nans);
            }
            let n = values.len();
            Ok(Unique {
                values: AnyArray::from(
                    ArrayD::from_shape_vec(IxDyn(&[n]), values)
                        .map_err(|e| invalid(format!("unique: {e}")))?,
                ),
                counts,
            })
        })
    }
}

fn too_many(most: u64) -> crate::Error {
    too_large(format!(
        "unique: more than {most} distinct values, more than a quarter of the memory budget \
         holds; raise OUTCORE_CACHE_BYTES or count fewer values"
    ))
}

impl LazyArray {
    /// numpy's `histogram`; see [`Compute::histogram`].
    ///
    /// # Errors
    /// As [`Compute::histogram`].
    pub fn histogram(&self, bins: &Bins, range: Option<(f64, f64)>) -> Result<Histogram> {
        self.compute().histogram(bins, range)
    }

    /// numpy's `histogram2d` of this array against `y`; see [`Compute::histogram2d`].
    ///
    /// # Errors
    /// As [`Compute::histogram2d`].
    pub fn histogram2d(
        &self,
        y: &LazyArray,
        bins: [&Bins; 2],
        range: [Option<(f64, f64)>; 2],
    ) -> Result<Histogram2d> {
        self.compute().histogram2d(y, bins, range)
    }

    /// numpy's `bincount`; see [`Compute::bincount`].
    ///
    /// # Errors
    /// As [`Compute::bincount`].
    pub fn bincount(&self, weights: Option<&LazyArray>, minlength: u64) -> Result<AnyArray> {
        self.compute().bincount(weights, minlength)
    }

    /// numpy's `unique(x, return_counts=True)`; see [`Compute::unique_counts`].
    ///
    /// # Errors
    /// As [`Compute::unique_counts`].
    pub fn unique_counts(&self) -> Result<Unique> {
        self.compute().unique_counts()
    }
}
