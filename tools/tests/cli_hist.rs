//! `outcore hist` and `outcore stats --quantiles` through the built binary, against serial
//! computations over the values written: the histogram's edges span the data's min and max
//! (or `--range`), every non-NaN value is counted in the bin whose edges hold it (the last bin
//! closed), the terminal drawing has one bar per bin, `--svg` writes a picture with one bar per
//! bin; `--quantiles` with `--method lower` gives the sorted values at numpy's ranks, per
//! index along `--axis` too; bad ranges, bins and quantiles are one-line errors.

mod common;

use std::path::{Path, PathBuf};

use common::{error, json, ok, s};
use ndarray_npy::write_npy;
use outcore::ndarray::Array2;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HistOutput {
    path: String,
    data_type: String,
    shape: Vec<u64>,
    counts: Vec<u64>,
    edges: Vec<f64>,
    total: u64,
    range: String,
}

#[derive(Debug, Deserialize)]
struct QuantileStats {
    stats: Vec<QuantileEntry>,
    quantiles: Vec<f64>,
}

#[derive(Debug, Deserialize)]
struct QuantileEntry {
    quantiles: Vec<Option<f64>>,
}

/// A (50, 40) float64 array with NaNs, stored with 10×10 chunks.
fn store(dir: &Path) -> (PathBuf, Array2<f64>) {
    let values = Array2::from_shape_fn((50, 40), |(i, j)| common::value(3, i, j, true));
    let npy = dir.join("v.npy");
    write_npy(&npy, &values).unwrap();
    let store = dir.join("v.zarr");
    ok(&["convert", s(&npy), s(&store), "--chunks", "10,10", "-q"]);
    (store, values)
}

/// Serial counts: the bin `i` with `edges[i] <= v < edges[i + 1]`, the last bin closed.
fn serial_counts(values: &[f64], edges: &[f64]) -> Vec<u64> {
    let n = edges.len() - 1;
    let mut counts = vec![0; n];
    for &v in values {
        if v.is_nan() || v < edges[0] || v > edges[n] {
            continue;
        }
        let i = (0..n)
            .find(|&i| edges[i] <= v && (v < edges[i + 1] || (i == n - 1 && v <= edges[n])))
            .unwrap();
        counts[i] += 1;
    }
    counts
}

#[test]
fn histogram_of_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let (store, values) = store(dir.path());
    let finite: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);

    let h: HistOutput = json(&["hist", s(&store), "--bins", "8"]);
    assert_eq!(
        (h.data_type.as_str(), h.shape.as_slice(), h.range.as_str()),
        ("float64", &[50u64, 40][..], "data")
    );
    assert_eq!(h.path, s(&store));
    assert_eq!(h.counts.len(), 8);
    assert_eq!((h.edges[0], h.edges[8]), (min, max));
    assert_eq!(h.counts, serial_counts(&finite, &h.edges));
    assert_eq!(h.total, finite.len() as u64);

    let h: HistOutput = json(&["hist", s(&store), "--bins", "5", "--range", "-100,250.5"]);
    assert_eq!(
        (h.edges[0], h.edges[5], h.range.as_str()),
        (-100.0, 250.5, "given")
    );
    assert_eq!(h.counts, serial_counts(&finite, &h.edges));
    assert!(h.total < finite.len() as u64);

    let svg = dir.path().join("h.svg");
    let text = ok(&["hist", s(&store), "--bins", "6", "--svg", s(&svg)]);
    assert_eq!(text.lines().count(), 7, "{text}");
    assert!(text.lines().skip(1).all(|l| l.starts_with('[')), "{text}");
    let picture = std::fs::read_to_string(&svg).unwrap();
    assert!(picture.starts_with("<svg"), "{picture}");
    assert_eq!(
        picture.matches("<rect").count(),
        7,
        "background and six bars"
    );
}

#[test]
fn quantiles_in_stats() {
    let dir = tempfile::tempdir().unwrap();
    let (store, values) = store(dir.path());
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    sorted.sort_by(f64::total_cmp);
    let rank = |values: &[f64], q: f64| values[((values.len() - 1) as f64 * q).floor() as usize];
    let r: QuantileStats = json(&[
        "stats",
        s(&store),
        "--quantiles",
        "0,0.25,0.5,1",
        "--method",
        "lower",
    ]);
    assert_eq!(r.quantiles, vec![0.0, 0.25, 0.5, 1.0]);
    let want: Vec<Option<f64>> = r
        .quantiles
        .iter()
        .map(|&q| Some(rank(&sorted, q)))
        .collect();
    assert_eq!(r.stats[0].quantiles, want);

    // Per row: the quantiles of each row's values.
    let r: QuantileStats = json(&[
        "stats",
        s(&store),
        "--axis",
        "0",
        "--quantiles",
        "0.5",
        "--method",
        "lower",
    ]);
    assert_eq!(r.stats.len(), 50);
    for (i, e) in r.stats.iter().enumerate() {
        let mut row: Vec<f64> = values
            .row(i)
            .iter()
            .copied()
            .filter(|v| !v.is_nan())
            .collect();
        row.sort_by(f64::total_cmp);
        assert_eq!(e.quantiles, vec![Some(rank(&row, 0.5))], "row {i}");
    }
    let text = ok(&["stats", s(&store), "--quantiles", "0.5"]);
    assert!(text.contains("quantiles: q0.5="), "{text}");
}

#[test]
fn bad_arguments_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store(dir.path());
    let e = error(&["hist", s(&store), "--range", "1"]);
    assert!(e.contains("LO,HI"), "{e}");
    let e = error(&["hist", s(&store), "--range", "3,1"]);
    assert!(e.contains("range"), "{e}");
    let e = error(&["hist", s(&store), "--bins", "0"]);
    assert!(e.contains("bins"), "{e}");
    let e = error(&["stats", s(&store), "--quantiles", "0.5,2"]);
    assert!(e.contains("quantile 2 is outside [0, 1]"), "{e}");
    let e = error(&["stats", s(&store), "--quantiles", "x"]);
    assert!(e.contains("not a number"), "{e}");
    let e = error(&[
        "stats",
        s(&store),
        "--quantiles",
        "0.5",
        "--method",
        "cubic",
    ]);
    assert!(e.contains("cubic"), "{e}");
}
