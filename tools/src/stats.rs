//! `outcore stats PATH [--axis N] [--scan]`: count, NaN count, min, max, sum, mean and std of
//! an array, or per index along an axis. Instant from the statistics sidecar when the store
//! has one; `--scan` always reads the data (with a progress bar).

use std::path::PathBuf;

use anyhow::Result;
use outcore::{summarize, Summary};
use outcore::{LazyArray, Scalar};
use serde::Serialize;
use serde_json::Value;

use crate::progress::Bar;
use crate::OutputArgs;

/// Arguments of `outcore stats`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// An array: a store that is one array, or STORE/ARRAY.
    pub path: PathBuf,
    /// Statistics per index along this axis instead of for the whole array.
    #[arg(long)]
    pub axis: Option<usize>,
    /// Always read the data, never the statistics sidecar.
    #[arg(long)]
    pub scan: bool,
    /// Also the exact quantiles (NaN skipped), e.g. `0.01,0.5,0.99`: a pass, or a few when
    /// the values do not fit in memory.
    #[arg(long, value_parser = crate::hist::parse_number_list)]
    pub quantiles: Option<crate::hist::Numbers>,
    /// How a quantile between two values is chosen: linear, lower, higher, nearest,
    /// midpoint (numpy's methods).
    #[arg(long, default_value = "linear", value_parser = |s: &str| s.parse::<outcore::QuantileMethod>().map_err(|e| e.to_string()))]
    pub method: outcore::QuantileMethod,
    /// Statistics per group of these key arrays (comma-separated; arrays beside ARRAY in its
    /// group, such as a CSV conversion's columns, or paths), labelled with their categories.
    #[arg(long, value_name = "KEYS", conflicts_with_all = ["axis", "quantiles"])]
    pub by: Option<String>,
}

/// The `--json` output.
#[derive(Debug, Serialize)]
pub(crate) struct StatsOutput {
    /// The array.
    pub path: String,
    /// Its data type.
    pub data_type: String,
    /// Its shape.
    pub shape: Vec<u64>,
    /// The axis asked for, if any.
    pub axis: Option<usize>,
    /// `"sidecar"` (no data read) or `"scan"`.
    pub source: &'static str,
    /// One entry for the array, or one per index along `axis`.
    pub stats: Vec<StatsEntry>,
    /// The quantiles asked for (`--quantiles`), whose values each entry lists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantiles: Option<Vec<f64>>,
}

/// The statistics of a set of elements. `min`, `max` and `sum` are JSON integers for integer
/// arrays; a float that is NaN or infinite is `null`.
#[derive(Debug, Serialize)]
pub(crate) struct StatsEntry {
    /// The index along the axis (absent for the whole array).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<u64>,
    /// Elements.
    pub count: u64,
    /// NaN elements.
    pub nan_count: u64,
    /// Smallest non-NaN value.
    pub min: Value,
    /// Largest non-NaN value.
    pub max: Value,
    /// Sum of the non-NaN values.
    pub sum: Value,
    /// Mean of the non-NaN values.
    pub mean: Value,
    /// Population standard deviation of the non-NaN values.
    pub std: Value,
    /// The values of the quantiles asked for, in order (`null` where there are no values).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantiles: Option<Vec<Value>>,
}

/// `v` as JSON: a number, the strings `"inf"` and `"-inf"` for infinities (JSON has no
/// number for them), `null` for NaN.
pub(crate) fn float(v: f64) -> Value {
    match v {
        f64::INFINITY => Value::String("inf".into()),
        f64::NEG_INFINITY => Value::String("-inf".into()),
        _ => serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
    }
}

fn scalar(s: Scalar) -> Value {
    match s {
        Scalar::Bool(b) => Value::Bool(b),
        Scalar::Int(v) => Value::from(v),
        Scalar::UInt(v) => Value::from(v),
        Scalar::Float(v) => float(v),
    }
}

fn entry(index: Option<u64>, s: &Summary) -> StatsEntry {
    StatsEntry {
        index,
        count: s.count,
        nan_count: s.nan_count,
        min: scalar(s.min),
        max: scalar(s.max),
        sum: scalar(s.sum),
        mean: float(s.mean),
        std: float(s.std),
        quantiles: None,
    }
}

/// The text table's column names, aligned with [`row`].
pub(crate) fn heading() -> String {
    format!(
        "{:>12} {:>10} {:>14} {:>14} {:>16} {:>14} {:>14}",
        "count", "nan", "min", "max", "sum", "mean", "std"
    )
}

/// A value of the text table: `nan` for a null, `inf`/`-inf` unquoted.
fn show(v: &Value) -> String {
    match v {
        Value::Null => "nan".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One entry as a row of the text table.
pub(crate) fn row(e: &StatsEntry) -> String {
    format!(
        "{:>12} {:>10} {:>14} {:>14} {:>16} {:>14} {:>14}",
        e.count,
        e.nan_count,
        show(&e.min),
        show(&e.max),
        show(&e.sum),
        show(&e.mean),
        show(&e.std)
    )
}

/// Runs the subcommand.
pub(crate) fn run(args: &Args, output: &OutputArgs) -> Result<u8> {
    if let Some(by) = &args.by {
        return crate::stats_by::run(&args.path, by, output);
    }
    let array = crate::open_array(&args.path)?;
    let lazy = LazyArray::from_stored(&array);
    let bar = Bar::new(output, "stats", lazy.nbytes());
    let observer = |p: &outcore::Progress| bar.update(p);
    let found = summarize(&lazy, args.axis, args.scan, Some(&observer))?;
    bar.finish();
    let quantiles = match &args.quantiles {
        Some(q) => Some(crate::hist::quantiles(
            &lazy,
            &q.0,
            args.axis,
            args.method,
            output,
        )?),
        None => None,
    };
    let mut report = StatsOutput {
        path: args.path.display().to_string(),
        data_type: array.data_type().name().to_string(),
        shape: array.shape().to_vec(),
        axis: args.axis,
        source: if found.from_sidecar {
            "sidecar"
        } else {
            "scan"
        },
        stats: found
            .summaries
            .iter()
            .enumerate()
            .map(|(i, s)| entry(args.axis.map(|_| i as u64), s))
            .collect(),
        quantiles: args.quantiles.as_ref().map(|q| q.0.clone()),
    };
    for (e, values) in report.stats.iter_mut().zip(quantiles.into_iter().flatten()) {
        e.quantiles = Some(values);
    }
    crate::emit(output, &report, !output.quiet, |out| {
        writeln!(
            out,
            "{}: {} {:?} (from the {})",
            report.path, report.data_type, report.shape, report.source
        )?;
        let header = if args.axis.is_some() { "index " } else { "" };
        writeln!(out, "{header}{}", heading())?;
        for e in &report.stats {
            let index = e.index.map(|i| format!("{i:>5} ")).unwrap_or_default();
            writeln!(out, "{index}{}", row(e))?;
            if let (Some(q), Some(v)) = (&report.quantiles, &e.quantiles) {
                let parts: Vec<String> = q
                    .iter()
                    .zip(v)
                    .map(|(q, v)| format!("q{q}={}", show(v)))
                    .collect();
                writeln!(out, "{index}  quantiles: {}", parts.join(" "))?;
            }
        }
        Ok(())
    })?;
    Ok(0)
}
