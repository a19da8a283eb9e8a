//! Summary statistics (count, NaN count, min, max, sum, mean, std) of a whole array or of
//! each index along one axis, in one pass over the data — or in no pass at all, from the
//! store's statistics sidecar, when the array is stored, has one, and its chunks line up
//! with what is asked.

use std::ops::Range;

use ndarray::Axis;

use super::ProgressFn;
use crate::element::Scalar;
use crate::error::{out_of_bounds, too_large, Result};
use crate::expr::{LazyArray, Op};
use crate::format::grid::unravel;
use crate::format::ChunkStats;
use crate::with_element_type;

/// The statistics of a set of elements.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// Elements.
    pub count: u64,
    /// Of those, NaNs.
    pub nan_count: u64,
    /// Smallest non-NaN value (`Float(NaN)` when there is none).
    pub min: Scalar,
    /// Largest non-NaN value (as `min`).
    pub max: Scalar,
    /// Sum of the non-NaN values: wrapping 64-bit integers for integer types, a pairwise
    /// `f64` sum for floats (also for float32).
    pub sum: Scalar,
    /// Mean of the non-NaN values (NaN when there are none).
    pub mean: f64,
    /// Population standard deviation (ddof 0) of the non-NaN values (NaN when there are
    /// none).
    pub std: f64,
}

impl From<&ChunkStats> for Summary {
    fn from(s: &ChunkStats) -> Self {
        let n = s.count - s.nan_count;
        Summary {
            count: s.count,
            nan_count: s.nan_count,
            min: s.min,
            max: s.max,
            sum: s.sum,
            mean: if n == 0 { f64::NAN } else { s.mean },
            std: if n == 0 {
                f64::NAN
            } else {
                (s.m2 / n as f64).sqrt()
            },
        }
    }
}

/// What [`summarize`] found.
#[derive(Debug, Clone)]
pub struct Summaries {
    /// One summary for the whole array, or one per index along the axis asked for.
    pub summaries: Vec<Summary>,
    /// Whether the answer came from the statistics sidecar (no data read).
    pub from_sidecar: bool,
}

/// The summary statistics of `array`, or of each index along `axis`. Unless `scan`, a stored
/// array's statistics sidecar answers without reading data when every chunk has a record
/// and (per axis) chunks are one index wide along `axis`. Scanning reads each block once,
/// reporting to `progress`.
///
/// # Errors
/// `axis` not below the array's rank ([`ErrorKind::OutOfBounds`]); more summaries than memory
/// holds, or a scan of a stored array that would visit more than 2^22 chunk positions never
/// written ([`ErrorKind::TooLarge`]); a damaged sidecar when `scan` is false
/// ([`ErrorKind::Corrupt`], even though scanning would succeed); or any error evaluating
/// `array`, such as a chunk that cannot be read or decoded; `progress` stopping the pass
/// (`Cancelled`).
///
/// [`ErrorKind::OutOfBounds`]: crate::ErrorKind::OutOfBounds
/// [`ErrorKind::TooLarge`]: crate::ErrorKind::TooLarge
/// [`ErrorKind::Corrupt`]: crate::ErrorKind::Corrupt
pub fn summarize(
    array: &LazyArray,
    axis: Option<usize>,
    scan: bool,
    progress: Option<ProgressFn<'_>>,
) -> Result<Summaries> {
    if let Some(a) = axis {
        if a >= array.ndim() {
            return Err(out_of_bounds(format!(
                "axis {a} is out of range for an array of {} dimensions",
                array.ndim()
            )));
        }
    }
    if !scan {
        if let Some(summaries) = from_sidecar(array, axis)? {
            return Ok(Summaries {
                summaries,
                from_sidecar: true,
            });
        }
    }
    check_sparse_pass("summarize", array)?;
    let mut acc = empty_groups(array, axis)?;
    let mut compute = array.compute();
    if let Some(p) = progress {
        compute = compute.progress(p);
    }
    compute.for_each_block(|region: &[Range<u64>], block| {
        with_element_type!(block.data_type(), T => {
            let view = block.view::<T>()?;
            // The whole block is one group, or each index along the axis is.
            let parts: Vec<(usize, ndarray::ArrayViewD<'_, T>)> = match axis {
                None => vec![(0, view.view())],
                Some(a) => view
                    .axis_iter(Axis(a))
                    .enumerate()
                    .map(|(i, part)| (region[a].start as usize + i, part))
                    .collect(),
            };
            for (group, part) in parts {
                let values = part.as_standard_layout();
                let shape: Vec<u64> = part.shape().iter().map(|&n| n as u64).collect();
                let s = ChunkStats::compute(values.as_slice().expect("standard"), &shape, &shape);
                merge_into(&mut acc[group], &s);
            }
            Ok(())
        })
    })?;
    let empty = ChunkStats::compute::<f64>(&[], &[0], &[0]);
    Ok(Summaries {
        summaries: acc
            .iter()
            .map(|s| Summary::from(s.as_ref().unwrap_or(&empty)))
            .collect(),
        from_sidecar: false,
    })
}

/// Most chunks never written that one pass over a stored array visits. A pass evaluates
/// every chunk position, and one that holds nothing still costs a block of fill values: an
/// array of 2^63 positions holding a few chunks would never finish, so it is refused instead.
const MAX_PASS_MISSING_CHUNKS: u64 = 1 << 22;

/// Refuses a pass (`operation`) over a stored array most of whose huge grid was never
/// written: more than [`MAX_PASS_MISSING_CHUNKS`] chunk positions without data. The files
/// are listed only when the grid is larger than that, so other arrays cost nothing here.
pub(crate) fn check_sparse_pass(operation: &str, array: &LazyArray) -> Result<()> {
    let Op::Stored(stored) = &array.node.op else {
        return Ok(());
    };
    let total = stored.grid().num_chunks();
    if total <= MAX_PASS_MISSING_CHUNKS {
        return Ok(());
    }
    let summary = stored.storage_summary()?;
    let stored_chunks = summary.chunks_stored.unwrap_or(summary.files);
    let missing = total.saturating_sub(stored_chunks);
    if missing > MAX_PASS_MISSING_CHUNKS {
        return Err(too_large(format!(
            "{operation}: {} has {total} chunk positions (a grid of {:?}) of which only \
             {stored_chunks} are stored; a pass would visit each of the {missing} others \
             (more than {MAX_PASS_MISSING_CHUNKS}): slice it first",
            stored.path().display(),
            stored.grid().chunk_grid_shape()
        )));
    }
    Ok(())
}

/// One empty slot per summary: the whole array, or each index along `axis` (an error, not
/// an abort, when there are more than memory holds).
fn empty_groups(array: &LazyArray, axis: Option<usize>) -> Result<Vec<Option<ChunkStats>>> {
    let groups = axis.map_or(1, |a| array.shape()[a]);
    let mut acc = Vec::new();
    usize::try_from(groups)
        .ok()
        .filter(|&n| acc.try_reserve_exact(n).is_ok())
        .map(|n| acc.resize(n, None))
        .ok_or_else(|| {
            too_large(format!(
                "summarize: {groups} summaries (one per index along axis {axis:?} of shape {:?}) \
                 do not fit in memory",
                array.shape()
            ))
        })?;
    Ok(acc)
}

fn merge_into(slot: &mut Option<ChunkStats>, s: &ChunkStats) {
    *slot = Some(match slot {
        Some(prev) => prev.merge(s),
        None => *s,
    });
}

pub(crate) fn from_sidecar(array: &LazyArray, axis: Option<usize>) -> Result<Option<Vec<Summary>>> {
    let Op::Stored(stored) = &array.node.op else {
        return Ok(None);
    };
    let Some(table) = stored.stats()? else {
        return Ok(None);
    };
    let grid = stored.grid();
    if let Some(a) = axis {
        if grid.chunk_shape()[a] != 1 {
            return Ok(None);
        }
    }
    // Merged as the records stream past; the first chunk without one sends the caller to
    // the data.
    let chunk_grid = grid.chunk_grid_shape();
    let mut acc = empty_groups(array, axis)?;
    for (linear, record) in table.iter().enumerate() {
        let Some(record) = record else {
            return Ok(None);
        };
        let group = match axis {
            None => 0,
            Some(a) => unravel(linear as u64, &chunk_grid)[a] as usize,
        };
        merge_into(&mut acc[group], &record);
    }
    Ok(acc
        .into_iter()
        .map(|s| s.as_ref().map(Summary::from))
        .collect())
}
