//! `outcore verify PATH`: checks every shard index, every chunk (CRC32C, decoding) and the
//! statistics sidecar of every array, and lists each problem with its file and offset.

use std::path::PathBuf;

use anyhow::Result;
use outcore::NodeKind;
use serde::Serialize;

use crate::{OutputArgs, EXIT_PROBLEMS};

/// Arguments of `outcore verify`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A Zarr store, or one array inside one.
    pub path: PathBuf,
    /// First remove the temporary files and directories (`.outcore-tmp-*`) killed writers
    /// left in the store (those a running reader or writer holds stay), and put back an
    /// array an interrupted overwrite left aside.
    #[arg(long)]
    pub repair: bool,
}

/// The `--json` output.
#[derive(Debug, Serialize)]
pub(crate) struct VerifyOutput {
    /// The path verified.
    pub path: String,
    /// One entry per array.
    pub arrays: Vec<ArrayVerify>,
    /// Whether every array is sound.
    pub ok: bool,
    /// The leftovers `--repair` removed.
    pub removed: Vec<String>,
}

/// What was found in one array.
#[derive(Debug, Serialize)]
pub(crate) struct ArrayVerify {
    /// The array's path inside the store (`""` for a store that is one array).
    pub name: String,
    /// Chunks read and checked.
    pub chunks_checked: u64,
    /// Each problem, one line naming the file and, where known, the offset.
    pub problems: Vec<String>,
}

/// Runs the subcommand.
pub(crate) fn run(args: &Args, output: &OutputArgs) -> Result<u8> {
    let store = crate::open_store(&args.path)?;
    let removed: Vec<String> = if args.repair {
        store
            .clean_leftovers()?
            .iter()
            .map(|p| p.display().to_string())
            .collect()
    } else {
        Vec::new()
    };
    let names: Vec<String> = store
        .nodes()?
        .into_iter()
        .filter(|n| n.kind == NodeKind::Array)
        .map(|n| n.path)
        .collect();
    let mut arrays = Vec::new();
    for name in names {
        let entry = match store.open_array(&name).and_then(|a| a.verify()) {
            Ok(report) => ArrayVerify {
                name,
                chunks_checked: report.chunks_checked,
                problems: report
                    .problems
                    .iter()
                    .map(|e| e.to_string().replace('\n', " "))
                    .collect(),
            },
            Err(e) => ArrayVerify {
                name,
                chunks_checked: 0,
                problems: vec![e.to_string().replace('\n', " ")],
            },
        };
        arrays.push(entry);
    }
    let ok = arrays.iter().all(|a| a.problems.is_empty());
    let report = VerifyOutput {
        path: args.path.display().to_string(),
        arrays,
        ok,
        removed,
    };
    crate::emit(output, &report, !output.quiet || !ok, |out| {
        for path in &report.removed {
            if !output.quiet {
                writeln!(out, "removed leftover {}", crate::escape_controls(path))?;
            }
        }
        for array in &report.arrays {
            let name = if array.name.is_empty() {
                "/"
            } else {
                &array.name
            };
            if array.problems.is_empty() {
                if !output.quiet {
                    writeln!(out, "{name}: ok ({} chunks checked)", array.chunks_checked)?;
                }
            } else {
                writeln!(
                    out,
                    "{name}: {} problem(s) in {} chunks checked",
                    array.problems.len(),
                    array.chunks_checked
                )?;
                for p in &array.problems {
                    writeln!(out, "  {p}")?;
                }
            }
        }
        Ok(())
    })?;
    Ok(if ok { 0 } else { EXIT_PROBLEMS })
}
