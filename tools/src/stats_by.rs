//! `outcore stats ARRAY --by KEYS`: the statistics of a column per group of one or more key
//! columns (pandas' `df.groupby(keys)[column].agg(...)`), each group labelled with the
//! category names a CSV conversion stored; code -1 of a category key (a missing value) is
//! left out. One pass over the column and its keys, with a progress bar.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};
use outcore::{Agg, AnyArray, LazyArray};
use serde::Serialize;
use serde_json::Value;

use crate::progress::Bar;
use crate::stats::{float, heading, row, StatsEntry};
use crate::OutputArgs;

/// The `--json` output of `stats --by`.
#[derive(Debug, Serialize)]
pub(crate) struct GroupedStatsOutput {
    /// The array.
    pub path: String,
    /// Its data type.
    pub data_type: String,
    /// Its shape.
    pub shape: Vec<u64>,
    /// The key arrays, as resolved.
    pub by: Vec<String>,
    /// One entry per group, in key order.
    pub groups: Vec<GroupEntry>,
}

/// The statistics of one group: its keys, then `stats`' fields for its values.
#[derive(Debug, Serialize)]
pub(crate) struct GroupEntry {
    /// The keys' labels (category names, or the numbers).
    pub keys: Vec<String>,
    /// The keys' values (category codes, or the numbers).
    pub codes: Vec<i64>,
    /// `count`, `nan_count`, `min`, `max`, `sum`, `mean` and `std`, as `stats` gives them.
    #[serde(flatten)]
    pub stats: StatsEntry,
}

/// The reductions shown, in the columns' order.
const AGGS: [Agg; 6] = [
    Agg::Count,
    Agg::NanMin,
    Agg::NanMax,
    Agg::NanSum,
    Agg::NanMean,
    Agg::NanStd { ddof: 0.0 },
];

/// Group `g`'s value of a reduction's column as JSON.
fn value_at(column: &AnyArray, g: usize) -> Value {
    match column {
        AnyArray::Bool(a) => Value::Bool(a[[g]]),
        AnyArray::Float32(a) => float(f64::from(a[[g]])),
        AnyArray::Float64(a) => float(a[[g]]),
        AnyArray::UInt64(a) => Value::from(a[[g]]),
        other => Value::from(other.astype::<i64>()[[g]]),
    }
}

/// The key array `name`: an array beside `array` in its group, or a path of its own.
fn key_path(array: &Path, name: &str) -> PathBuf {
    let beside = array.with_file_name(name);
    if beside.join("zarr.json").exists() || !Path::new(name).exists() {
        beside
    } else {
        PathBuf::from(name)
    }
}

/// Runs `stats ARRAY --by KEYS`.
pub(crate) fn run(path: &Path, by: &str, output: &OutputArgs) -> Result<u8> {
    let array = crate::open_array(path)?;
    if array.shape().len() != 1 {
        bail!(
            "stats --by takes a 1-d array (a table's column); {} has shape {:?}",
            path.display(),
            array.shape()
        );
    }
    let values = LazyArray::from_stored(&array);
    let mut keys = Vec::new();
    let mut names = Vec::new();
    let mut resolved = Vec::new();
    let mut labels = Vec::new();
    for name in by.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let key_path = key_path(path, name);
        let key = crate::open_array(&key_path)?;
        let categories: Option<Vec<String>> = key
            .meta()
            .attributes()
            .get("categories")
            .and_then(|c| c.as_array())
            .map(|c| {
                c.iter()
                    .map(|n| n.as_str().unwrap_or_default().to_string())
                    .collect()
            });
        labels.push(categories);
        keys.push(LazyArray::from_stored(&key));
        names.push(name.to_string());
        resolved.push(key_path.display().to_string());
    }
    if keys.is_empty() {
        bail!("stats --by needs at least one key array");
    }
    let key_refs: Vec<&LazyArray> = keys.iter().collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let total = values.nbytes() + keys.iter().map(LazyArray::nbytes).sum::<u64>();
    let bar = Bar::new(output, "stats", total);
    let observer = |p: &outcore::Progress| bar.update(p);
    let mut grouping = values
        .group_by_keys(&key_refs)?
        .key_names(&name_refs)
        .progress(&observer);
    for (k, categories) in labels.into_iter().enumerate() {
        if let Some(categories) = categories {
            grouping = grouping.labels(k, categories).missing_key(k, -1);
        }
    }
    let table = grouping.agg(&AGGS)?;
    bar.finish();
    let column = |agg: Agg| table.column(agg).expect("computed");
    let groups = (0..table.len())
        .map(|g| {
            let count = table.sizes()[g];
            let valid = column(Agg::Count).astype::<i64>()[[g]] as u64;
            GroupEntry {
                keys: (0..names.len()).map(|k| table.label(k, g)).collect(),
                codes: (0..names.len()).map(|k| table.keys(k)[g]).collect(),
                stats: StatsEntry {
                    index: None,
                    count,
                    nan_count: count - valid,
                    min: value_at(column(Agg::NanMin), g),
                    max: value_at(column(Agg::NanMax), g),
                    sum: value_at(column(Agg::NanSum), g),
                    mean: value_at(column(Agg::NanMean), g),
                    std: value_at(column(Agg::NanStd { ddof: 0.0 }), g),
                    quantiles: None,
                },
            }
        })
        .collect();
    let report = GroupedStatsOutput {
        path: path.display().to_string(),
        data_type: array.data_type().name().to_string(),
        shape: array.shape().to_vec(),
        by: resolved,
        groups,
    };
    crate::emit(output, &report, !output.quiet, |out| {
        writeln!(
            out,
            "{}: {} {:?} by {}",
            report.path,
            report.data_type,
            report.shape,
            names.join(", ")
        )?;
        let label = names.join(", ");
        let width = report
            .groups
            .iter()
            .map(|g| g.keys.join(", ").chars().count())
            .chain([label.chars().count()])
            .max()
            .unwrap_or(0);
        writeln!(out, "{label:<width$} {}", heading())?;
        for g in &report.groups {
            writeln!(out, "{:<width$} {}", g.keys.join(", "), row(&g.stats))?;
        }
        Ok(())
    })?;
    Ok(0)
}
