//! `outcore inspect PATH`: the hierarchy, and per array its shape, type, chunking, codecs and
//! storage.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use outcore::{ArrayReport, StoreReport};

use crate::{OutputArgs, EXIT_PROBLEMS};

/// Arguments of `outcore inspect`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A Zarr store (v2 or v3), or one array directory inside one.
    pub path: PathBuf,
}

/// Runs the subcommand.
pub(crate) fn run(args: &Args, output: &OutputArgs) -> Result<u8> {
    let report = outcore::inspect_store(&crate::open_store(&args.path)?)?;
    let problems = report.nodes.iter().any(|n| n.error.is_some());
    crate::emit(output, &report, !output.quiet, |out| {
        print_text(out, &report)?;
        Ok(())
    })?;
    Ok(if problems { EXIT_PROBLEMS } else { 0 })
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn print_text(out: &mut dyn Write, report: &StoreReport) -> Result<()> {
    for node in &report.nodes {
        let depth = if node.path.is_empty() {
            0
        } else {
            node.path.matches('/').count() + 1
        };
        let indent = "  ".repeat(depth);
        let name = if node.path.is_empty() {
            report.path.as_str()
        } else {
            node.path.rsplit('/').next().unwrap_or("")
        };
        let kind = match node.kind {
            outcore::NodeKind::Group => "group",
            outcore::NodeKind::Array => "array",
        };
        writeln!(out, "{indent}{name}  ({kind}, zarr v{})", node.zarr_format)?;
        if let Some(error) = &node.error {
            writeln!(out, "{indent}  error: {error}")?;
        }
        if let Some(array) = &node.array {
            print_array(out, &format!("{indent}  "), array)?;
        }
        for (key, value) in &node.attributes {
            writeln!(out, "{indent}  attribute {key} = {value}")?;
        }
    }
    Ok(())
}

fn print_array(out: &mut dyn Write, indent: &str, a: &ArrayReport) -> Result<()> {
    writeln!(
        out,
        "{indent}shape {:?} {}  fill {}",
        a.shape, a.data_type, a.fill_value
    )?;
    if let Some(names) = &a.dimension_names {
        let names: Vec<&str> = names.iter().map(|n| n.as_deref().unwrap_or("-")).collect();
        writeln!(out, "{indent}dimensions {}", names.join(", "))?;
    }
    match &a.shard_shape {
        Some(shard) => writeln!(
            out,
            "{indent}chunks {:?} in shards {:?}",
            a.chunk_shape, shard
        )?,
        None => writeln!(out, "{indent}chunks {:?}", a.chunk_shape)?,
    }
    let path = if a.fast_path {
        "fast path"
    } else {
        "read through zarrs"
    };
    writeln!(out, "{indent}codecs {}  ({path})", a.codecs.join(" > "))?;
    match (a.chunks_stored, a.chunks_missing) {
        (Some(stored), Some(missing)) => writeln!(
            out,
            "{indent}chunks {} total, {stored} stored, {missing} missing",
            a.chunks_total
        )?,
        _ => writeln!(
            out,
            "{indent}chunks {} total, {} files",
            a.chunks_total, a.files
        )?,
    }
    let ratio = a
        .ratio
        .map(|r| format!("{r:.2}x"))
        .unwrap_or_else(|| "-".into());
    writeln!(
        out,
        "{indent}bytes {} logical, {} stored, ratio {ratio}",
        bytes(a.logical_bytes),
        bytes(a.stored_bytes)
    )?;
    let share = a
        .zero_copy_share
        .map(|s| format!("{:.0}%", s * 100.0))
        .unwrap_or_else(|| "-".into());
    writeln!(
        out,
        "{indent}zero-copy {share} of stored chunks; statistics {}",
        if a.statistics { "present" } else { "absent" }
    )?;
    Ok(())
}
