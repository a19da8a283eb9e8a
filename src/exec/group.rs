//! Grouped reductions (`x.group_by(&keys)`, pandas' `groupby(...).agg(...)`): one streaming
//! pass folds every block of the values into per-group partials, whatever the number of
//! reductions asked together.
//!
//! A block of the values (rows along the grouped axis, moved first) and the same rows of
//! every key are evaluated together, then walked in tiles of [`TILE`] rows so that everything
//! per row stays in L1. In a tile, each row's key (a tuple for several keys) is looked up in
//! the block's groups: keys in `0..DENSE_KEYS` index a table straight (category codes, hours,
//! small integers), others go through a hash map. The tile's rows are ordered by group (a
//! counting sort, or a sort when the block has many groups), and every group's values in the
//! tile are gathered, in row order, into a run folded like any reduction's: pairwise sum and
//! NaN count (`element::pairwise_nansum`), two-pass moments (`element::Moments`), extremes
//! (`element::extremes`), first and last values. A tile's run merges into its group's
//! partial, so a group's values are summed pairwise within tiles and in row order across
//! them.
//!
//! Blocks' partials, sorted by key, merge in block order through the same binary-counter tree
//! ([`TreeMerge`]) as every other reduction, so for the same data and block grid the answer
//! does not depend on the number of threads or blocks in flight. Memory is the partials of
//! the groups found so far: when the groups times the values per row would need more than the
//! budget ([`GroupBy::memory_budget`], by default the chunk cache's), the pass stops with
//! [`ErrorKind::TooLarge`](crate::ErrorKind::TooLarge) naming the count.

use std::cell::Cell;
use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::AtomicBool;

use ndarray::{ArrayD, IxDyn};

use super::reduce::TreeMerge;
use super::RunOptions;
use super::{check_block_size, eval, pass_blocks, prepare, run_batched, AnyArray, ProgressFn};
use crate::element::{extremes, pairwise_nansum, DataType, Element, Kind, Moments, Num};
use crate::error::{invalid, shape_mismatch, too_large, type_mismatch, Result};
use crate::expr::{Block, LazyArray, ReduceOp};
use crate::store::{ArraySpec, Store};
use crate::with_element_type;

/// Rows of a block grouped and folded together: their values stay in L1 while gathered.
const TILE: usize = 4096;

/// Keys in `0..DENSE_KEYS` (of a single key) index the groups' table directly.
const DENSE_KEYS: i64 = 1 << 16;

/// No group (a dropped row, an unused table entry).
const NONE: u32 = u32::MAX;

/// One reduction per group, as pandas names them; the `Nan` forms skip NaN values (pandas'
/// default), the others give NaN for a group holding one (numpy's `sum`, `mean`, …).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Agg {
    /// Rows in the group, NaN values included (pandas' `size`); `int64`.
    Size,
    /// Non-NaN values in the group (pandas' `count`); `int64`.
    Count,
    /// Sum: integers in 64 bits, wrapping (numpy's `sum`); floats pairwise, NaN if any is.
    Sum,
    /// Sum of the non-NaN values, 0 for none (pandas' `sum`).
    NanSum,
    /// Mean (`float64` for integers), NaN if any value is.
    Mean,
    /// Mean of the non-NaN values, NaN for none (pandas' `mean`).
    NanMean,
    /// Minimum, NaN if any value is.
    Min,
    /// Minimum of the non-NaN values, NaN for none (pandas' `min`).
    NanMin,
    /// Maximum, NaN if any value is.
    Max,
    /// Maximum of the non-NaN values, NaN for none (pandas' `max`).
    NanMax,
    /// Variance with divisor `n - ddof`, NaN if any value is or when `n - ddof <= 0`.
    Var {
        /// Delta degrees of freedom (pandas' default is 1, numpy's 0).
        ddof: f64,
    },
    /// Variance of the non-NaN values (pandas' `var`), NaN when `n - ddof <= 0`.
    NanVar {
        /// Delta degrees of freedom.
        ddof: f64,
    },
    /// Standard deviation, the square root of [`Agg::Var`].
    Std {
        /// Delta degrees of freedom.
        ddof: f64,
    },
    /// Standard deviation of the non-NaN values (pandas' `std`).
    NanStd {
        /// Delta degrees of freedom.
        ddof: f64,
    },
    /// The value of the group's first row, NaN or not (pandas' `first(skipna=False)`).
    First,
    /// The value of the group's last row (pandas' `last(skipna=False)`).
    Last,
    /// The first non-NaN value, NaN for none (pandas' `first`).
    NanFirst,
    /// The last non-NaN value, NaN for none (pandas' `last`).
    NanLast,
}

impl Agg {
    /// A short name, numpy's (`nan` before the NaN-skipping forms): `size`, `count`, `sum`, `nansum`, `mean`, `nanmean`, `min`, `nanmin`,
    /// `max`, `nanmax`, `var`, `nanvar`, `std`, `nanstd`, `first`, `last`, `nanfirst`,
    /// `nanlast`, with `_ddof<d>` after a variance or deviation whose `ddof` is not 1.
    pub fn name(self) -> String {
        let ddof = |base: &str, d: f64| {
            if d == 1.0 {
                base.to_string()
            } else {
                format!("{base}_ddof{d}")
            }
        };
        match self {
            Agg::Size => "size".into(),
            Agg::Count => "count".into(),
            Agg::Sum => "sum".into(),
            Agg::NanSum => "nansum".into(),
            Agg::Mean => "mean".into(),
            Agg::NanMean => "nanmean".into(),
            Agg::Min => "min".into(),
            Agg::NanMin => "nanmin".into(),
            Agg::Max => "max".into(),
            Agg::NanMax => "nanmax".into(),
            Agg::Var { ddof: d } => ddof("var", d),
            Agg::NanVar { ddof: d } => ddof("nanvar", d),
            Agg::Std { ddof: d } => ddof("std", d),
            Agg::NanStd { ddof: d } => ddof("nanstd", d),
            Agg::First => "first".into(),
            Agg::Last => "last".into(),
            Agg::NanFirst => "nanfirst".into(),
            Agg::NanLast => "nanlast".into(),
        }
    }

    /// The result's data type for values of type `t`: `int64` for counts, numpy's sum and
    /// mean types ([`ReduceOp::result_type`]), `t` itself for extremes and first/last.
    pub fn result_type(self, t: DataType) -> DataType {
        match self {
            Agg::Size | Agg::Count => DataType::Int64,
            Agg::Sum | Agg::NanSum => ReduceOp::Sum.result_type(t),
            Agg::Mean
            | Agg::NanMean
            | Agg::Var { .. }
            | Agg::NanVar { .. }
            | Agg::Std { .. }
            | Agg::NanStd { .. } => ReduceOp::Mean.result_type(t),
            Agg::Min
            | Agg::NanMin
            | Agg::Max
            | Agg::NanMax
            | Agg::First
            | Agg::Last
            | Agg::NanFirst
            | Agg::NanLast => t,
        }
    }
}

/// What the partials must track for a set of reductions.
#[derive(Debug, Clone, Copy, Default)]
struct Needs {
    int_sum: bool,
    moments: bool,
    extremes: bool,
    ends: bool,
    nan_ends: bool,
}

impl Needs {
    fn of(aggs: &[Agg], t: DataType) -> Needs {
        let mut n = Needs::default();
        for agg in aggs {
            match agg {
                Agg::Sum | Agg::NanSum => n.int_sum |= t.kind() != Kind::Float,
                Agg::Var { .. } | Agg::NanVar { .. } | Agg::Std { .. } | Agg::NanStd { .. } => {
                    n.moments = true
                }
                Agg::Min | Agg::NanMin | Agg::Max | Agg::NanMax => n.extremes = true,
                Agg::First | Agg::Last => n.ends = true,
                Agg::NanFirst | Agg::NanLast => n.nan_ends = true,
                Agg::Size | Agg::Count | Agg::Mean | Agg::NanMean => {}
            }
        }
        n
    }
}

/// One group's partial over one value per row: what every [`Agg`] is finished from.
#[derive(Debug, Clone, Copy, Default)]
struct Acc<T> {
    rows: u64,
    /// Non-NaN values.
    valid: u64,
    /// Pairwise sum of the non-NaN values.
    fsum: f64,
    /// Wrapping 64-bit sum of integer values (two's complement bits for signed ones).
    isum: u64,
    /// Moments of the non-NaN values.
    moments: Moments,
    /// Extremes of the non-NaN values (when `valid > 0`).
    min: T,
    max: T,
    /// First and last values (when `rows > 0`), and first and last non-NaN ones.
    first: T,
    last: T,
    nan_first: T,
    nan_last: T,
}

impl<T: Num> Acc<T> {
    /// The partial of a run of values (at least one), in row order.
    fn of(values: &[T], needs: &Needs) -> Acc<T> {
        let (fsum, valid) = pairwise_nansum(values);
        let mut acc = Acc {
            rows: values.len() as u64,
            valid,
            fsum,
            ..Acc::default()
        };
        if needs.int_sum {
            acc.isum = match T::DATA_TYPE.kind() {
                Kind::Unsigned => values.iter().fold(0u64, |s, v| s.wrapping_add(v.as_u64())),
                _ => values
                    .iter()
                    .fold(0u64, |s, v| s.wrapping_add(v.as_i64() as u64)),
            };
        }
        if needs.moments {
            acc.moments = Moments::of(values, true);
        }
        if needs.extremes {
            if let Some((lo, hi)) = extremes(values).range {
                (acc.min, acc.max) = (lo, hi);
            }
        }
        if needs.ends {
            acc.first = values[0];
            acc.last = values[values.len() - 1];
        }
        if needs.nan_ends && valid > 0 {
            let valid_values = || values.iter().filter(|v| !v.is_nan());
            acc.nan_first = *valid_values().next().expect("a valid value");
            acc.nan_last = *valid_values().next_back().expect("a valid value");
        }
        acc
    }

    /// Adds the rows `later` describes, which come after this partial's.
    fn merge(&mut self, later: &Acc<T>) {
        if later.valid > 0 {
            if self.valid == 0 {
                (self.min, self.max, self.nan_first) = (later.min, later.max, later.nan_first);
            } else {
                // Strict comparisons keep the earlier of equal values (`-0.0` and `0.0`).
                if later.min < self.min {
                    self.min = later.min;
                }
                if later.max > self.max {
                    self.max = later.max;
                }
            }
            self.nan_last = later.nan_last;
        }
        if later.rows > 0 {
            if self.rows == 0 {
                self.first = later.first;
            }
            self.last = later.last;
        }
        self.rows += later.rows;
        self.valid += later.valid;
        self.fsum += later.fsum;
        self.isum = self.isum.wrapping_add(later.isum);
        self.moments.merge(&later.moments);
    }

    fn has_nan(&self) -> bool {
        self.rows > self.valid
    }
}

/// A set of groups, sorted by key, with `cols` partials each.
struct Partial<T> {
    /// `width` keys per group, flat.
    keys: Vec<i64>,
    accs: Vec<Acc<T>>,
}

/// The groups of one block, numbered as found.
struct LocalGroups {
    width: usize,
    keys: Vec<i64>,
    dense: Vec<u32>,
    sparse: HashMap<i64, u32>,
    tuples: HashMap<Box<[i64]>, u32>,
}

impl LocalGroups {
    fn new(width: usize) -> Self {
        LocalGroups {
            width,
            keys: Vec::new(),
            dense: Vec::new(),
            sparse: HashMap::new(),
            tuples: HashMap::new(),
        }
    }

    fn len(&self) -> usize {
        self.keys.len() / self.width
    }

    /// The number of `key`'s group, and whether it is new.
    #[inline]
    fn slot(&mut self, key: &[i64]) -> (u32, bool) {
        let next = self.len() as u32;
        let (slot, new) = if self.width == 1 {
            let k = key[0];
            if (0..DENSE_KEYS).contains(&k) {
                let i = k as usize;
                if i >= self.dense.len() {
                    self.dense.resize(i + 1, NONE);
                }
                match self.dense[i] {
                    NONE => {
                        self.dense[i] = next;
                        (next, true)
                    }
                    s => (s, false),
                }
            } else {
                match self.sparse.entry(k) {
                    std::collections::hash_map::Entry::Occupied(e) => (*e.get(), false),
                    std::collections::hash_map::Entry::Vacant(e) => (*e.insert(next), true),
                }
            }
        } else {
            match self.tuples.get(key) {
                Some(&s) => (s, false),
                None => {
                    self.tuples.insert(key.into(), next);
                    (next, true)
                }
            }
        };
        if new {
            self.keys.extend_from_slice(key);
        }
        (slot, new)
    }
}

/// A grouping of an array's rows by one or more keys, ready for reductions: made by
/// [`LazyArray::group_by`] or [`LazyArray::group_by_keys`], computed by [`GroupBy::agg`].
///
/// Rows are the positions along the grouped axis (the first, unless
/// [`LazyArray::group_by_axis`] names another); the result has one row per group, in key order (tuples in lexicographic
/// order), and each reduction's values have the shape of the array without the grouped axis.
/// Only groups that occur are listed (pandas' `observed=True`). Rows whose key is the
/// missing code ([`GroupBy::missing`], `-1` for a CSV conversion's categories through
/// `convert::Table`) are left out, as pandas leaves out NaN keys.
#[must_use = "a GroupBy does nothing until agg (or a reduction) is called"]
pub struct GroupBy<'a> {
    values: LazyArray,
    keys: Vec<LazyArray>,
    axis: usize,
    missing: Vec<Option<i64>>,
    names: Vec<String>,
    labels: Vec<Option<Vec<String>>>,
    budget: Option<u64>,
    opts: RunOptions<'a>,
}

impl LazyArray {
    /// Groups this array's rows (positions along axis 0) by the integer, bool or category
    /// code array `keys`, one key per row: pandas' `x.groupby(keys)`. `keys` is any lazy
    /// expression (a stored code column, `(seconds / 3600) % 24`, a comparison), read in the
    /// same pass as the values.
    ///
    /// ```
    /// use outcore::{ndarray::array, Agg, LazyArray};
    ///
    /// # fn main() -> outcore::Result<()> {
    /// let tip = LazyArray::from_array(array![1.0, 2.0, f64::NAN, 4.0, 5.0], &[2])?;
    /// let payment = LazyArray::from_array(array![0i8, 1, 0, 1, -1], &[2])?;
    /// let table = tip.group_by(&payment)?.missing(-1).agg(&[Agg::NanMean, Agg::Size])?;
    /// assert_eq!(table.keys(0), &[0, 1]);
    /// assert_eq!(table.sizes(), &[2, 2]);
    /// assert_eq!(table.to_ndarray::<f64>(Agg::NanMean)?.as_slice(), Some(&[1.0, 3.0][..]));
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    /// As [`LazyArray::group_by_keys`].
    pub fn group_by(&self, keys: &LazyArray) -> Result<GroupBy<'static>> {
        self.group_by_keys(&[keys])
    }

    /// Groups this array's rows by several keys together (pandas'
    /// `groupby([k1, k2])`): a group is a tuple of key values.
    ///
    /// # Errors
    /// [`ErrorKind::InvalidArgument`] without keys or for a 0-d array;
    /// [`ErrorKind::TypeMismatch`] for a key that is not integer or bool (a float key needs
    /// [`LazyArray::astype`] first); [`ErrorKind::ShapeMismatch`] for a key that is not 1-d
    /// with one value per row; the deferred error of any operand.
    ///
    /// [`ErrorKind::InvalidArgument`]: crate::ErrorKind::InvalidArgument
    /// [`ErrorKind::TypeMismatch`]: crate::ErrorKind::TypeMismatch
    /// [`ErrorKind::ShapeMismatch`]: crate::ErrorKind::ShapeMismatch
    pub fn group_by_keys(&self, keys: &[&LazyArray]) -> Result<GroupBy<'static>> {
        self.group_by_axis(keys, 0)
    }

    /// Groups the positions along `axis` (rather than axis 0) by `keys`, one value of each per
    /// position; each group's results have the shape of the array without that axis.
    ///
    /// # Errors
    /// As [`LazyArray::group_by_keys`], and
    /// [`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument) for an axis the
    /// array does not have.
    pub fn group_by_axis(&self, keys: &[&LazyArray], axis: usize) -> Result<GroupBy<'static>> {
        let grouping = GroupBy {
            values: self.clone(),
            keys: keys.iter().map(|&k| k.clone()).collect(),
            axis,
            missing: vec![None; keys.len()],
            names: (0..keys.len()).map(|i| format!("key{i}")).collect(),
            labels: vec![None; keys.len()],
            budget: None,
            opts: RunOptions::default(),
        };
        grouping.check()?;
        Ok(grouping)
    }
}

impl std::fmt::Debug for GroupBy<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupBy")
            .field("values", &self.values)
            .field("keys", &self.keys)
            .field("axis", &self.axis)
            .field("missing", &self.missing)
            .field("names", &self.names)
            .finish_non_exhaustive()
    }
}

impl<'a> GroupBy<'a> {
    fn check(&self) -> Result<()> {
        self.values.built()?;
        if self.keys.is_empty() {
            return Err(invalid("group_by: no keys given"));
        }
        if self.axis >= self.values.ndim() {
            return Err(invalid(format!(
                "group_by: axis {} of an array of shape {:?}: rows are positions along an axis",
                self.axis,
                self.values.shape()
            )));
        }
        let rows = self.values.shape()[self.axis];
        for (i, key) in self.keys.iter().enumerate() {
            key.built()?;
            if key.data_type().kind() == Kind::Float {
                return Err(type_mismatch(format!(
                    "group_by: key {i} holds {}; keys are integers, bools or category codes \
                     (astype converts)",
                    key.data_type()
                )));
            }
            if key.shape() != [rows] {
                return Err(shape_mismatch(format!(
                    "group_by: key {i} has shape {:?}; it needs one value per row, shape \
                     [{rows}] (axis {} of the values' {:?})",
                    key.shape(),
                    self.axis,
                    self.values.shape()
                )));
            }
        }
        Ok(())
    }

    /// Leaves out the rows where a key equals `code` (a CSV conversion's categories mark a
    /// missing value with -1), as pandas leaves out NaN keys.
    pub fn missing(mut self, code: i64) -> Self {
        self.missing = vec![Some(code); self.keys.len()];
        self
    }

    /// Names the keys in the result (default `key0`, `key1`, …); extra names are ignored.
    pub fn key_names(mut self, names: &[&str]) -> Self {
        for (name, new) in self.names.iter_mut().zip(names) {
            *name = new.to_string();
        }
        self
    }

    /// Gives key `key`'s values labels (a category column's names, indexed by code), kept in
    /// the result for display ([`GroupTable::label`]).
    pub fn labels(mut self, key: usize, labels: Vec<String>) -> Self {
        if let Some(slot) = self.labels.get_mut(key) {
            *slot = Some(labels);
        }
        self
    }

    /// Leaves out the rows where key `key` (counted from 0) equals `code`; the other keys
    /// keep their own missing codes.
    pub fn missing_key(mut self, key: usize, code: i64) -> Self {
        if let Some(slot) = self.missing.get_mut(key) {
            *slot = Some(code);
        }
        self
    }

    /// The bytes the groups' partials may take (default: the chunk cache's budget,
    /// [`default_budget`](crate::default_budget)); a grouping that needs more is an error.
    pub fn memory_budget(mut self, bytes: u64) -> Self {
        self.budget = Some(bytes);
        self
    }

    /// Reports progress to `observer` after every batch of blocks.
    pub fn progress(mut self, observer: ProgressFn<'a>) -> Self {
        self.opts.progress = Some(observer);
        self
    }

    /// Evaluates at most `n` blocks at a time (default: four per thread).
    pub fn max_blocks_in_flight(mut self, n: usize) -> Self {
        self.opts.max_in_flight = Some(n);
        self
    }

    /// Stops the pass once `flag` is set, with [`Error::Cancelled`](crate::Error::Cancelled).
    pub fn cancel_with(mut self, flag: &'a AtomicBool) -> Self {
        self.opts.cancel = Some(flag);
        self
    }

    /// The number of rows of each group (pandas' `size()`).
    ///
    /// # Errors
    /// As [`GroupBy::agg`].
    pub fn size(&self) -> Result<GroupTable> {
        self.agg(&[Agg::Size])
    }

    /// The sum of the non-NaN values of each group (pandas' `sum()`).
    ///
    /// # Errors
    /// As [`GroupBy::agg`].
    pub fn sum(&self) -> Result<GroupTable> {
        self.agg(&[Agg::NanSum])
    }

    /// The mean of the non-NaN values of each group (pandas' `mean()`).
    ///
    /// # Errors
    /// As [`GroupBy::agg`].
    pub fn mean(&self) -> Result<GroupTable> {
        self.agg(&[Agg::NanMean])
    }

    /// Every reduction of `aggs` per group, in one pass over the values and keys: every
    /// block read once, whatever the number of reductions.
    ///
    /// # Errors
    /// [`ErrorKind::TooLarge`](crate::ErrorKind::TooLarge) when the groups found (times the
    /// values per row) need more memory than the budget ([`GroupBy::memory_budget`]), naming
    /// the count, or a block too large for memory; [`ErrorKind::InvalidArgument`] for an
    /// unsigned key above `i64::MAX`; any error evaluating the values or keys;
    /// [`Error::Cancelled`](crate::Error::Cancelled).
    ///
    /// [`ErrorKind::InvalidArgument`]: crate::ErrorKind::InvalidArgument
    pub fn agg(&self, aggs: &[Agg]) -> Result<GroupTable> {
        self.check()?;
        let values = if self.axis == 0 {
            self.values.clone()
        } else {
            let mut order = vec![self.axis];
            order.extend((0..self.values.ndim()).filter(|&a| a != self.axis));
            self.values.permute_axes(&order)?
        };
        prepare(&values, &self.opts)?;
        for key in &self.keys {
            prepare(key, &self.opts)?;
        }
        check_block_size("group_by", &values)?;
        let budget = match self.budget {
            Some(b) => b,
            None => crate::cache::default_budget()?,
        };
        with_element_type!(values.data_type(), T => self.run::<T>(&values, aggs, budget))
    }

    fn run<T: Num>(&self, values: &LazyArray, aggs: &[Agg], budget: u64) -> Result<GroupTable> {
        let trailing: Vec<u64> = values.shape()[1..].to_vec();
        let cols = crate::expr::element_count(&trailing)
            .and_then(|n| usize::try_from(n).ok())
            .ok_or_else(|| {
                too_large(format!(
                    "group_by: {trailing:?} values per row are more than memory can hold"
                ))
            })?;
        let cell = std::mem::size_of::<Acc<T>>() as u64 + 8 * self.keys.len() as u64;
        let max_groups = if cols == 0 {
            u64::MAX
        } else {
            budget / cell / cols as u64
        };
        let width = self.keys.len();
        let needs = Needs::of(aggs, T::DATA_TYPE);
        let grid = values.block_grid();
        let blocks = pass_blocks("group_by", values)?;
        let block = BlockFold {
            values,
            keys: &self.keys,
            missing: &self.missing,
            trailing: &trailing,
            cols,
            needs,
            max_groups,
            budget,
        };
        let largest = Cell::new(0u64);
        let merge = |left: &mut Partial<T>, right: &Partial<T>| {
            *left = merge_partials(left, right, width, cols);
            largest.set(largest.get().max((left.keys.len() / width) as u64));
        };
        let mut tree = TreeMerge::new();
        run_batched(
            blocks,
            &self.opts,
            |i| block.fold::<T>(&grid.block_region_at(i)),
            |_, partial| {
                tree.push(partial, &merge);
                if largest.get() > max_groups {
                    return Err(block.too_many(largest.get()));
                }
                Ok(())
            },
        )?;
        let total = tree.finish(&merge).unwrap_or(Partial {
            keys: Vec::new(),
            accs: Vec::new(),
        });
        if largest.get() > max_groups {
            return Err(block.too_many(largest.get()));
        }
        Ok(self.table(total, aggs, &trailing, cols))
    }

    fn table<T: Num>(
        &self,
        total: Partial<T>,
        aggs: &[Agg],
        trailing: &[u64],
        cols: usize,
    ) -> GroupTable {
        let width = self.keys.len();
        let groups = total.keys.len() / width;
        let keys = (0..width)
            .map(|k| (0..groups).map(|g| total.keys[g * width + k]).collect())
            .collect();
        let sizes = (0..groups)
            .map(|g| total.accs.get(g * cols).map_or(0, |a| a.rows))
            .collect();
        let mut shape = vec![groups];
        shape.extend(trailing.iter().map(|&n| n as usize));
        let columns = aggs
            .iter()
            .map(|&agg| (agg, finish(agg, &total.accs, &shape)))
            .collect();
        GroupTable {
            key_names: self.names.clone(),
            keys,
            labels: self.labels.clone(),
            sizes,
            columns,
        }
    }
}

/// What folding one block needs.
struct BlockFold<'a> {
    values: &'a LazyArray,
    keys: &'a [LazyArray],
    missing: &'a [Option<i64>],
    trailing: &'a [u64],
    cols: usize,
    needs: Needs,
    max_groups: u64,
    budget: u64,
}

impl BlockFold<'_> {
    fn too_many(&self, groups: u64) -> crate::Error {
        too_large(format!(
            "group_by: {groups} groups or more, of {} values per row, need more than the \
             memory budget of {} bytes for their partials (at most {} groups); group by fewer \
             keys or raise the budget",
            self.cols, self.budget, self.max_groups
        ))
    }

    /// The partial of the block at `region` of the values (rows first), sorted by key.
    fn fold<T: Num>(&self, region: &[Range<u64>]) -> Result<(Partial<T>, u64)> {
        let rows = region[0].clone();
        let n = (rows.end - rows.start) as usize;
        let block = eval::eval(self.values, region)?;
        let view = block.view::<T>()?;
        let view = view.as_standard_layout();
        let data = view.as_slice().expect("standard layout");
        let block_cols = data.len().checked_div(n).unwrap_or(0);
        let col_map = global_columns(&region[1..], self.trailing);
        let keys: Vec<Block> = self
            .keys
            .iter()
            .map(|k| eval::eval(k, std::slice::from_ref(&rows)))
            .collect::<Result<_>>()?;
        let width = keys.len();
        let mut bytes = (data.len() * T::DATA_TYPE.size()) as u64;
        for k in self.keys {
            bytes += (n * k.data_type().size()) as u64;
        }

        // Tile by tile, so that keys, group numbers and gathered values stay in L1: each
        // row's group in this block, then the tile's rows ordered by group and each group's
        // values folded.
        let mut groups = LocalGroups::new(width);
        let mut accs: Vec<Acc<T>> = Vec::new();
        let mut key_tiles: Vec<Vec<i64>> = vec![Vec::with_capacity(TILE); width];
        let mut tuple = vec![0i64; width];
        let mut slots: Vec<u32> = Vec::with_capacity(TILE);
        let mut order: Vec<u32> = Vec::with_capacity(TILE);
        let mut runs: Vec<(u32, Range<usize>)> = Vec::new();
        let mut counts: Vec<usize> = Vec::new();
        let mut pairs: Vec<u64> = Vec::new();
        let mut gathered: Vec<T> = Vec::with_capacity(TILE);
        for start in (0..n).step_by(TILE) {
            let tile = start..(start + TILE).min(n);
            for (block, out) in keys.iter().zip(&mut key_tiles) {
                key_values(block, tile.clone(), out)?;
            }
            slots.clear();
            for r in 0..tile.len() {
                let mut dropped = false;
                for (k, key) in key_tiles.iter().enumerate() {
                    tuple[k] = key[r];
                    dropped |= self.missing[k] == Some(key[r]);
                }
                if dropped {
                    slots.push(NONE);
                    continue;
                }
                let (slot, new) = groups.slot(&tuple);
                if new && groups.len() as u64 > self.max_groups {
                    return Err(self.too_many(groups.len() as u64));
                }
                slots.push(slot);
            }
            accs.resize(groups.len() * self.cols, Acc::default());
            sort_tile(
                &slots,
                groups.len(),
                &mut order,
                &mut runs,
                &mut counts,
                &mut pairs,
            );
            for (slot, span) in &runs {
                let members = &order[span.clone()];
                for (c, &col) in col_map.iter().enumerate().take(block_cols) {
                    gathered.clear();
                    gathered.extend(
                        members
                            .iter()
                            .map(|&r| data[(tile.start + r as usize) * block_cols + c]),
                    );
                    let run = Acc::of(&gathered, &self.needs);
                    accs[*slot as usize * self.cols + col].merge(&run);
                }
            }
        }

        // Sorted by key.
        let mut by_key: Vec<usize> = (0..groups.len()).collect();
        by_key.sort_unstable_by(|&a, &b| {
            groups.keys[a * width..(a + 1) * width].cmp(&groups.keys[b * width..(b + 1) * width])
        });
        let mut partial = Partial {
            keys: Vec::with_capacity(groups.keys.len()),
            accs: Vec::with_capacity(accs.len()),
        };
        for g in by_key {
            partial
                .keys
                .extend_from_slice(&groups.keys[g * width..(g + 1) * width]);
            partial
                .accs
                .extend_from_slice(&accs[g * self.cols..(g + 1) * self.cols]);
        }
        Ok((partial, bytes))
    }
}

/// Orders a tile's rows by group, row order kept within a group: `runs` lists each group's
/// span of `order`. A counting sort when the block has few groups, else a sort of
/// (group, row) pairs.
fn sort_tile(
    slots: &[u32],
    groups: usize,
    order: &mut Vec<u32>,
    runs: &mut Vec<(u32, Range<usize>)>,
    counts: &mut Vec<usize>,
    pairs: &mut Vec<u64>,
) {
    order.clear();
    runs.clear();
    if groups <= 2 * TILE {
        counts.clear();
        counts.resize(groups + 1, 0);
        for &s in slots {
            if s != NONE {
                counts[s as usize + 1] += 1;
            }
        }
        for g in 0..groups {
            if counts[g + 1] > 0 {
                runs.push((g as u32, counts[g]..counts[g] + counts[g + 1]));
            }
            counts[g + 1] += counts[g];
        }
        order.resize(counts[groups], 0);
        for (r, &s) in slots.iter().enumerate() {
            if s != NONE {
                let at = &mut counts[s as usize];
                order[*at] = r as u32;
                *at += 1;
            }
        }
    } else {
        pairs.clear();
        pairs.extend(
            slots
                .iter()
                .enumerate()
                .filter(|(_, &s)| s != NONE)
                .map(|(r, &s)| (u64::from(s) << 32) | r as u64),
        );
        pairs.sort_unstable();
        let mut begin = 0;
        for (i, &p) in pairs.iter().enumerate() {
            order.push(p as u32);
            let last = i + 1 == pairs.len() || pairs[i + 1] >> 32 != p >> 32;
            if last {
                runs.push(((p >> 32) as u32, begin..i + 1));
                begin = i + 1;
            }
        }
    }
}

/// For each value of a row in the box `region` of the trailing axes (C order), its index
/// among all values of a row.
fn global_columns(region: &[Range<u64>], trailing: &[u64]) -> Vec<usize> {
    let mut out = vec![0usize];
    for (r, &extent) in region.iter().zip(trailing) {
        out = out
            .iter()
            .flat_map(|&base| (r.start..r.end).map(move |i| base * extent as usize + i as usize))
            .collect();
    }
    out
}

/// Elements `rows` of a key's 1-d block, as `i64` into `out`.
fn key_values(block: &Block, rows: Range<usize>, out: &mut Vec<i64>) -> Result<()> {
    out.clear();
    with_element_type!(block.data_type(), K => {
        let view = block.view::<K>()?;
        let view = view.slice(ndarray::s![rows]);
        if K::DATA_TYPE == DataType::UInt64 {
            for v in view.iter() {
                out.push(i64::try_from(v.as_u64()).map_err(|_| {
                    invalid(format!(
                        "group_by: the key value {} is above i64::MAX, the largest key",
                        v.as_u64()
                    ))
                })?);
            }
        } else if let Some(values) = view.as_slice() {
            out.extend(values.iter().map(|v| v.as_i64()));
        } else {
            out.extend(view.iter().map(|v| v.as_i64()));
        }
        Ok(())
    })
}

/// Two sorted sets of groups as one: the groups of both, partials of a key in both merged
/// (`left`'s rows first).
fn merge_partials<T: Num>(
    left: &Partial<T>,
    right: &Partial<T>,
    width: usize,
    cols: usize,
) -> Partial<T> {
    let (nl, nr) = (left.keys.len() / width, right.keys.len() / width);
    let key =
        |p: &Partial<T>, g: usize| -> Vec<i64> { p.keys[g * width..(g + 1) * width].to_vec() };
    let mut out = Partial {
        keys: Vec::with_capacity(left.keys.len() + right.keys.len()),
        accs: Vec::with_capacity(left.accs.len() + right.accs.len()),
    };
    let (mut i, mut j) = (0, 0);
    while i < nl || j < nr {
        let order = if i == nl {
            std::cmp::Ordering::Greater
        } else if j == nr {
            std::cmp::Ordering::Less
        } else {
            key(left, i).cmp(&key(right, j))
        };
        match order {
            std::cmp::Ordering::Less => {
                out.keys.extend(key(left, i));
                out.accs
                    .extend_from_slice(&left.accs[i * cols..(i + 1) * cols]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.keys.extend(key(right, j));
                out.accs
                    .extend_from_slice(&right.accs[j * cols..(j + 1) * cols]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.keys.extend(key(left, i));
                for c in 0..cols {
                    let mut acc = left.accs[i * cols + c];
                    acc.merge(&right.accs[j * cols + c]);
                    out.accs.push(acc);
                }
                i += 1;
                j += 1;
            }
        }
    }
    out
}

/// Variance from moments: NaN when `n - ddof <= 0` (pandas).
fn variance(m: &Moments, ddof: f64) -> f64 {
    let divisor = m.n - ddof;
    if divisor <= 0.0 {
        f64::NAN
    } else {
        m.m2 / divisor
    }
}

/// `agg`'s values for every partial, in an array of `shape` and the agg's result type.
fn finish<T: Num>(agg: Agg, accs: &[Acc<T>], shape: &[usize]) -> AnyArray {
    let shape = IxDyn(shape);
    let rt = agg.result_type(T::DATA_TYPE);
    let floats = |f: &dyn Fn(&Acc<T>) -> f64| -> AnyArray {
        with_element_type!(rt, U => AnyArray::from(
            ArrayD::from_shape_vec(shape.clone(), accs.iter().map(|a| U::from_f64(f(a))).collect())
                .expect("one value per group and column")
        ))
    };
    let same = |f: &dyn Fn(&Acc<T>) -> T| -> AnyArray {
        with_element_type!(rt, U => AnyArray::from(
            ArrayD::from_shape_vec(shape.clone(), accs.iter().map(|a| f(a).cast::<U>()).collect())
                .expect("one value per group and column")
        ))
    };
    let counts = |f: &dyn Fn(&Acc<T>) -> u64| -> AnyArray {
        AnyArray::from(
            ArrayD::from_shape_vec(shape.clone(), accs.iter().map(|a| f(a) as i64).collect())
                .expect("one value per group and column"),
        )
    };
    let nan = T::from_f64(f64::NAN);
    let is_float = T::DATA_TYPE.kind() == Kind::Float;
    match agg {
        Agg::Size => counts(&|a| a.rows),
        Agg::Count => counts(&|a| a.valid),
        Agg::Sum | Agg::NanSum if !is_float => match rt.kind() {
            Kind::Unsigned => AnyArray::from(
                ArrayD::from_shape_vec(shape.clone(), accs.iter().map(|a| a.isum).collect())
                    .expect("one value per group and column"),
            ),
            _ => counts(&|a| a.isum),
        },
        Agg::Sum => floats(&|a| if a.has_nan() { f64::NAN } else { a.fsum }),
        Agg::NanSum => floats(&|a| a.fsum),
        Agg::Mean => floats(&|a| {
            if a.has_nan() || a.rows == 0 {
                f64::NAN
            } else {
                a.fsum / a.rows as f64
            }
        }),
        Agg::NanMean => floats(&|a| {
            if a.valid == 0 {
                f64::NAN
            } else {
                a.fsum / a.valid as f64
            }
        }),
        Agg::Var { ddof } => floats(&|a| {
            if a.has_nan() {
                f64::NAN
            } else {
                variance(&a.moments, ddof)
            }
        }),
        Agg::NanVar { ddof } => floats(&|a| variance(&a.moments, ddof)),
        Agg::Std { ddof } => floats(&|a| {
            if a.has_nan() {
                f64::NAN
            } else {
                variance(&a.moments, ddof).sqrt()
            }
        }),
        Agg::NanStd { ddof } => floats(&|a| variance(&a.moments, ddof).sqrt()),
        Agg::Min => same(&|a| {
            if a.has_nan() || a.valid == 0 {
                nan
            } else {
                a.min
            }
        }),
        Agg::NanMin => same(&|a| if a.valid == 0 { nan } else { a.min }),
        Agg::Max => same(&|a| {
            if a.has_nan() || a.valid == 0 {
                nan
            } else {
                a.max
            }
        }),
        Agg::NanMax => same(&|a| if a.valid == 0 { nan } else { a.max }),
        Agg::First => same(&|a| a.first),
        Agg::Last => same(&|a| a.last),
        Agg::NanFirst => same(&|a| if a.valid == 0 { nan } else { a.nan_first }),
        Agg::NanLast => same(&|a| if a.valid == 0 { nan } else { a.nan_last }),
    }
}

/// The result of [`GroupBy::agg`]: one row per group, in key order — the keys, each group's
/// number of rows, and one array per reduction whose first axis is the group.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupTable {
    key_names: Vec<String>,
    keys: Vec<Vec<i64>>,
    labels: Vec<Option<Vec<String>>>,
    sizes: Vec<u64>,
    columns: Vec<(Agg, AnyArray)>,
}

impl GroupTable {
    /// The number of groups.
    pub fn len(&self) -> usize {
        self.sizes.len()
    }

    /// Whether there are no groups (no rows, or every key missing).
    pub fn is_empty(&self) -> bool {
        self.sizes.is_empty()
    }

    /// The keys' names.
    pub fn key_names(&self) -> &[String] {
        &self.key_names
    }

    /// Key `key`'s value for each group (panics if there is no such key).
    pub fn keys(&self, key: usize) -> &[i64] {
        &self.keys[key]
    }

    /// Key `key`'s value for group `group` as text: its label when the key has labels (a
    /// category's name) and the value is one of them, else the number (panics for a key or
    /// group out of range).
    pub fn label(&self, key: usize, group: usize) -> String {
        let value = self.keys[key][group];
        self.labels
            .get(key)
            .and_then(|l| l.as_ref())
            .and_then(|l| usize::try_from(value).ok().and_then(|i| l.get(i)))
            .cloned()
            .unwrap_or_else(|| value.to_string())
    }

    /// The number of rows of each group (missing values included).
    pub fn sizes(&self) -> &[u64] {
        &self.sizes
    }

    /// The reductions, in the order asked.
    pub fn aggs(&self) -> impl Iterator<Item = Agg> + '_ {
        self.columns.iter().map(|(a, _)| *a)
    }

    /// The values of `agg` (the first asked, if it was asked twice), one row per group.
    pub fn column(&self, agg: Agg) -> Option<&AnyArray> {
        self.columns.iter().find(|(a, _)| *a == agg).map(|(_, v)| v)
    }

    /// The values of `agg` as an `ndarray` of `T`, its result type
    /// ([`Agg::result_type`]).
    ///
    /// # Errors
    /// [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) when `agg` was not computed;
    /// [`ErrorKind::TypeMismatch`](crate::ErrorKind::TypeMismatch) for another `T`.
    pub fn to_ndarray<T: Num>(&self, agg: Agg) -> Result<ArrayD<T>> {
        let column = self.column(agg).ok_or_else(|| {
            crate::error::argument(
                crate::ErrorKind::NotFound,
                format!("group_by: {} was not computed", agg.name()),
            )
        })?;
        if column.data_type() != T::DATA_TYPE {
            return Err(type_mismatch(format!(
                "group_by: {} holds {}, not {}",
                agg.name(),
                column.data_type(),
                T::DATA_TYPE
            )));
        }
        Ok(column.astype::<T>())
    }

    /// Writes the table into `store` as the group `name`: one int64 array per key (named
    /// after it, with its labels as the attribute `categories`), `size`, and one array per
    /// reduction named by [`Agg::name`].
    ///
    /// # Errors
    /// `name` already in `store` (or a name clash between a key and a reduction), and any
    /// error writing the store.
    pub fn to_store(&self, store: &Store, name: &str) -> Result<()> {
        store.create_group(name, serde_json::Map::new())?;
        let write = |node: &str,
                     data: &AnyArray,
                     attrs: serde_json::Map<String, serde_json::Value>| {
            let shape: Vec<u64> = data.shape().iter().map(|&n| n as u64).collect();
            let spec = ArraySpec::new(data.data_type(), &shape).attributes(attrs);
            let writer = store.create_array(&format!("{name}/{node}"), &spec)?;
            with_element_type!(data.data_type(), U => writer.write_array(data.astype::<U>().view())?);
            writer.finish().map(drop)
        };
        for (k, key_name) in self.key_names.iter().enumerate() {
            let mut attrs = serde_json::Map::new();
            if let Some(Some(labels)) = self.labels.get(k) {
                attrs.insert("categories".into(), labels.clone().into());
            }
            let keys = ArrayD::from_shape_vec(IxDyn(&[self.len()]), self.keys[k].clone())
                .expect("one key per group");
            write(key_name, &AnyArray::from(keys), attrs)?;
        }
        let sizes = self.sizes.iter().map(|&s| s as i64).collect();
        let sizes = ArrayD::from_shape_vec(IxDyn(&[self.len()]), sizes).expect("one per group");
        write("size", &AnyArray::from(sizes), serde_json::Map::new())?;
        for (agg, values) in &self.columns {
            write(&agg.name(), values, serde_json::Map::new())?;
        }
        Ok(())
    }
}
