//! `outcore hist ARRAY [--bins N] [--range LO,HI] [--svg FILE]`: a histogram of every value
//! (NaN left out), drawn in the terminal, as JSON with `--json`, or as an SVG picture. Without
//! `--range`, the range is the data's min and max: the statistics sidecar's when the store has
//! one (one pass in all), otherwise one more pass. Also the `--quantiles` of `outcore stats`.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context, Result};
use outcore::{AnyArray, Axes, Bins, LazyArray, QuantileMethod, Quantiles};
use serde::Serialize;
use serde_json::Value;

use crate::progress::Bar;
use crate::OutputArgs;

/// Arguments of `outcore hist`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// An array: a store that is one array, or STORE/ARRAY.
    pub path: PathBuf,
    /// Bins of equal width.
    #[arg(long, default_value_t = 20)]
    pub bins: u64,
    /// The range the bins cover, `LO,HI` (default: the data's min and max).
    #[arg(long, value_parser = parse_range, allow_hyphen_values = true)]
    pub range: Option<(f64, f64)>,
    /// Also write the histogram as an SVG picture to this file.
    #[arg(long)]
    pub svg: Option<PathBuf>,
}

/// `LO,HI`, two numbers.
pub(crate) fn parse_range(s: &str) -> std::result::Result<(f64, f64), String> {
    let numbers = parse_numbers(s)?;
    match numbers[..] {
        [lo, hi] => Ok((lo, hi)),
        _ => Err(format!("expected LO,HI, got {} numbers", numbers.len())),
    }
}

/// A comma-separated list of numbers (a type of its own: clap reads an `Option<Vec<_>>` as
/// a repeated flag).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Numbers(pub Vec<f64>);

/// Parses a [`Numbers`] list.
pub(crate) fn parse_number_list(s: &str) -> std::result::Result<Numbers, String> {
    parse_numbers(s).map(Numbers)
}

/// A comma-separated list of numbers.
fn parse_numbers(s: &str) -> std::result::Result<Vec<f64>, String> {
    s.split(',')
        .map(|part| {
            let part = part.trim();
            part.parse::<f64>()
                .map_err(|_| format!("{:?} is not a number", crate::escape_controls(part)))
        })
        .collect()
}

/// The `--json` output.
#[derive(Debug, Serialize)]
pub(crate) struct HistOutput {
    /// The array.
    pub path: String,
    /// Its data type.
    pub data_type: String,
    /// Its shape.
    pub shape: Vec<u64>,
    /// Values per bin.
    pub counts: Vec<u64>,
    /// The bin edges (one more than the bins; the last bin includes its right edge).
    pub edges: Vec<f64>,
    /// Values counted (NaN and values outside the range are not).
    pub total: u64,
    /// `"given"` (`--range`) or `"data"` (the data's min and max).
    pub range: &'static str,
}

/// Runs the subcommand.
pub(crate) fn run(args: &Args, output: &OutputArgs) -> Result<u8> {
    let array = crate::open_array(&args.path)?;
    let lazy = LazyArray::from_stored(&array);
    let bar = Bar::new(output, "hist", lazy.nbytes());
    let observer = |p: &outcore::Progress| bar.update(p);
    let h = lazy
        .compute()
        .progress(&observer)
        .histogram(&Bins::Count(args.bins), args.range)?;
    bar.finish();
    let report = HistOutput {
        path: args.path.display().to_string(),
        data_type: array.data_type().name().to_string(),
        shape: array.shape().to_vec(),
        total: h.counts.iter().sum(),
        counts: h.counts,
        edges: h.edges,
        range: if args.range.is_some() {
            "given"
        } else {
            "data"
        },
    };
    if let Some(svg) = &args.svg {
        std::fs::write(svg, svg_of(&report))
            .with_context(|| format!("cannot write {}", svg.display()))?;
    }
    crate::emit(output, &report, !output.quiet, |out| {
        writeln!(
            out,
            "{}: {} {:?}, {} values in {} bins",
            report.path,
            report.data_type,
            report.shape,
            report.total,
            report.counts.len()
        )?;
        let most = report.counts.iter().copied().max().unwrap_or(0).max(1);
        for (i, &c) in report.counts.iter().enumerate() {
            let close = if i + 1 == report.counts.len() {
                ']'
            } else {
                ')'
            };
            let width = (c as f64 / most as f64 * 50.0).round() as usize;
            writeln!(
                out,
                "[{:>12.6}, {:>12.6}{close} {:>12} {}",
                report.edges[i],
                report.edges[i + 1],
                c,
                "█".repeat(width)
            )?;
        }
        Ok(())
    })?;
    Ok(0)
}

/// The histogram as an SVG bar chart (640 × 360, the axis labelled with the outer edges and
/// the largest count).
fn svg_of(h: &HistOutput) -> String {
    let (w, ht, margin) = (640.0, 360.0, 40.0);
    let most = h.counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let n = h.counts.len().max(1) as f64;
    let bar_w = (w - 2.0 * margin) / n;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{ht}" viewBox="0 0 {w} {ht}">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    for (i, &c) in h.counts.iter().enumerate() {
        let bh = c as f64 / most * (ht - 2.0 * margin);
        let _ = writeln!(
            s,
            r##"<rect x="{:.2}" y="{:.2}" width="{:.2}" height="{:.2}" fill="#4682b4"><title>{c}</title></rect>"##,
            margin + i as f64 * bar_w,
            ht - margin - bh,
            (bar_w - 1.0).max(0.5),
            bh
        );
    }
    let escape = |t: &str| {
        t.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
    };
    let (lo, hi) = (
        h.edges.first().copied().unwrap_or(0.0),
        h.edges.last().copied().unwrap_or(0.0),
    );
    let _ = writeln!(
        s,
        r#"<line x1="{margin}" y1="{y}" x2="{x2}" y2="{y}" stroke="black"/>"#,
        y = ht - margin,
        x2 = w - margin
    );
    let _ = writeln!(
        s,
        r#"<text x="{margin}" y="{}" font-size="12">{lo}</text><text x="{}" y="{}" font-size="12" text-anchor="end">{hi}</text>"#,
        ht - margin / 3.0,
        w - margin,
        ht - margin / 3.0
    );
    let _ = writeln!(
        s,
        r#"<text x="{margin}" y="{}" font-size="12">{} ({} values, most in a bin {})</text>"#,
        margin / 2.0,
        escape(&h.path),
        h.total,
        most
    );
    s.push_str("</svg>\n");
    s
}

/// The quantiles `q` of every value of `lazy` (NaN skipped), or of each index along `axis`:
/// one list of values per summary, for `outcore stats --quantiles`.
pub(crate) fn quantiles(
    lazy: &LazyArray,
    q: &[f64],
    axis: Option<usize>,
    method: QuantileMethod,
    output: &OutputArgs,
) -> Result<Vec<Vec<Value>>> {
    let axes = match axis {
        None => Axes::all(),
        Some(a) => Axes::of(
            &(0..lazy.ndim() as i64)
                .filter(|&i| i != a as i64)
                .collect::<Vec<_>>(),
        ),
    };
    let bar = Bar::new(output, "quantiles", lazy.nbytes());
    let observer = |p: &outcore::Progress| bar.update(p);
    let result = lazy
        .compute()
        .progress(&observer)
        .quantiles(&Quantiles::list(q).method(method).skip_nan(), axes)?;
    bar.finish();
    let values = json_values(&result);
    let groups = values.len() / q.len().max(1);
    Ok((0..groups)
        .map(|g| {
            (0..q.len())
                .map(|i| values[i * groups + g].clone())
                .collect()
        })
        .collect())
}

fn json_values(a: &AnyArray) -> Vec<Value> {
    let float = |v: f64| serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number);
    match a {
        AnyArray::Float64(x) => x.iter().map(|&v| float(v)).collect(),
        AnyArray::Float32(x) => x.iter().map(|&v| float(f64::from(v))).collect(),
        AnyArray::UInt64(x) => x.iter().map(|&v| Value::from(v)).collect(),
        other => other
            .astype::<i64>()
            .iter()
            .map(|&v| Value::from(v))
            .collect(),
    }
}
