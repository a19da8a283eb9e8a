//! The planner's region arithmetic: for a region of a node's output, the regions of its
//! inputs that hold the values. Evaluating a block asks each input for exactly these, so a
//! chain of selections and shape operations reads only the chunks under the result.

use std::ops::Range;

use super::AxisPick;
use crate::format::grid::{ravel, unravel};

/// The region of an operand of shape `operand` (right-aligned, numpy broadcasting) that an
/// output region reads: broadcast axes read their single element.
pub(crate) fn broadcast_region(region: &[Range<u64>], operand: &[u64]) -> Vec<Range<u64>> {
    let offset = region.len() - operand.len();
    operand
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            if n == 1 {
                0..1
            } else {
                region[offset + i].clone()
            }
        })
        .collect()
}

/// For a selection, the input range of output range `out` on an axis: the bounding range of
/// the selected indices.
pub(crate) fn pick_input_range(pick: &AxisPick, out: &Range<u64>) -> Range<u64> {
    match *pick {
        AxisPick::Index(i) => i..i + 1,
        AxisPick::Range { first, step, .. } => {
            if out.start >= out.end {
                return first..first;
            }
            let at = |k: u64| (first as i128 + k as i128 * step as i128) as u64;
            let (a, b) = (at(out.start), at(out.end - 1));
            a.min(b)..a.max(b) + 1
        }
    }
}

/// Splits the C-order flat range `start..end` of an array of `shape` into boxes, each
/// contiguous in flat order, in order (at most two per axis).
pub(crate) fn flat_range_boxes(shape: &[u64], start: u64, end: u64) -> Vec<Vec<Range<u64>>> {
    let mut out = Vec::new();
    let mut prefix = Vec::new();
    split_flat(shape, start, end, &mut prefix, &mut out);
    out
}

fn split_flat(
    shape: &[u64],
    start: u64,
    end: u64,
    prefix: &mut Vec<u64>,
    out: &mut Vec<Vec<Range<u64>>>,
) {
    if start >= end {
        return;
    }
    let Some((_, rest)) = shape.split_first() else {
        out.push(prefix.iter().map(|&i| i..i + 1).collect());
        return;
    };
    let inner: u64 = rest.iter().product();
    let full_box = |prefix: &[u64], rows: Range<u64>| -> Vec<Range<u64>> {
        let mut b: Vec<Range<u64>> = prefix.iter().map(|&i| i..i + 1).collect();
        b.push(rows);
        b.extend(rest.iter().map(|&n| 0..n));
        b
    };
    let (first_row, last_row) = (start / inner, (end - 1) / inner);
    let head_partial = !start.is_multiple_of(inner);
    let tail_partial = !end.is_multiple_of(inner);
    if first_row == last_row && (head_partial || tail_partial) {
        prefix.push(first_row);
        split_flat(
            rest,
            start - first_row * inner,
            end - first_row * inner,
            prefix,
            out,
        );
        prefix.pop();
        return;
    }
    let mut middle_start = first_row;
    if head_partial {
        prefix.push(first_row);
        split_flat(rest, start - first_row * inner, inner, prefix, out);
        prefix.pop();
        middle_start += 1;
    }
    let middle_end = if tail_partial { last_row } else { last_row + 1 };
    if middle_start < middle_end {
        out.push(full_box(prefix, middle_start..middle_end));
    }
    if tail_partial {
        prefix.push(last_row);
        split_flat(rest, 0, end - last_row * inner, prefix, out);
        prefix.pop();
    }
}

/// The contiguous flat runs (start, length) of `region` in an array of `shape`, in C order.
pub(crate) fn region_runs(shape: &[u64], region: &[Range<u64>]) -> Vec<(u64, u64)> {
    let ndim = shape.len();
    if region.iter().any(|r| r.start >= r.end) {
        return vec![];
    }
    // The innermost axis the region does not cover whole; runs span it and all after it.
    let partial = (0..ndim).rev().find(|&a| region[a] != (0..shape[a]));
    let Some(j) = partial else {
        return vec![(0, shape.iter().product())];
    };
    let run_len = (region[j].end - region[j].start) * shape[j + 1..].iter().product::<u64>();
    let outer: Vec<Range<u64>> = region[..j].to_vec();
    let outer_shape: Vec<u64> = outer.iter().map(|r| r.end - r.start).collect();
    let count: u64 = outer_shape.iter().product();
    (0..count)
        .map(|i| {
            let mut coords: Vec<u64> = unravel(i, &outer_shape)
                .iter()
                .zip(&outer)
                .map(|(c, r)| c + r.start)
                .collect();
            coords.push(region[j].start);
            coords.extend(std::iter::repeat_n(0, ndim - j - 1));
            (ravel(&coords, shape), run_len)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::grid::iter_box;

    fn flat_of_boxes(shape: &[u64], boxes: &[Vec<Range<u64>>]) -> Vec<u64> {
        boxes
            .iter()
            .flat_map(|b| iter_box(b).map(|c| ravel(&c, shape)).collect::<Vec<_>>())
            .collect()
    }

    #[test]
    fn flat_ranges_split_into_contiguous_boxes() {
        let shape = [3, 4, 5];
        for start in 0..60 {
            for end in start..=60 {
                let boxes = flat_range_boxes(&shape, start, end);
                assert_eq!(
                    flat_of_boxes(&shape, &boxes),
                    (start..end).collect::<Vec<_>>(),
                    "{start}..{end}: {boxes:?}"
                );
                assert!(boxes.len() <= 2 * shape.len());
            }
        }
    }

    #[test]
    fn runs_cover_regions_in_order() {
        let shape = [3, 4, 5];
        let region = [1..3, 0..4, 2..4];
        let runs = region_runs(&shape, &region);
        let flat: Vec<u64> = runs.iter().flat_map(|&(s, n)| s..s + n).collect();
        let want: Vec<u64> = iter_box(&region).map(|c| ravel(&c, &shape)).collect();
        assert_eq!(flat, want);
        assert_eq!(region_runs(&shape, &[1..3, 0..4, 0..5]), vec![(20, 40)]);
    }

    #[test]
    fn selection_bounds() {
        let p = AxisPick::Range {
            first: 19,
            step: -3,
            len: 7,
        };
        assert_eq!(pick_input_range(&p, &(1..3)), 13..17);
        assert_eq!(pick_input_range(&AxisPick::Index(4), &(0..1)), 4..5);
    }
}
