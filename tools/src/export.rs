//! `outcore export PATH OUTPUT.npy|OUTPUT.zarr`: streams an array out to a `.npy` file or to
//! a plain (unsharded) Zarr v3 array for tools that do not read sharding.

use std::path::PathBuf;

use anyhow::{bail, Result};
use outcore::convert::export::{export_npy, export_zarr, ExportOptions};
use outcore::LazyArray;
use serde::Serialize;

use crate::convert::{parse_codec, parse_dims, Dims};
use crate::progress::Bar;
use crate::OutputArgs;

/// Arguments of `outcore export`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The array to export: a store that is one array, or STORE/ARRAY.
    pub path: PathBuf,
    /// The destination: a `.npy` file, or a `.zarr` directory (plain Zarr v3, no sharding).
    pub output: PathBuf,
    /// Chunk shape of a Zarr export, e.g. `1000,1000` (default: about 8 MiB per chunk).
    #[arg(long, value_parser = parse_dims)]
    pub chunks: Option<Dims>,
    /// Chunk codec of a Zarr export: `raw`, `zstd` or `zstd:LEVEL`.
    #[arg(long, value_parser = parse_codec, default_value = "zstd:1")]
    pub codec: outcore::ChunkEncoding,
    /// Replace an existing output.
    #[arg(long)]
    pub overwrite: bool,
}

/// The `--json` output.
#[derive(Debug, Serialize)]
pub(crate) struct ExportOutput {
    /// The array exported.
    pub path: String,
    /// The file or directory written.
    pub output: String,
    /// `"npy"` or `"zarr"`.
    pub format: &'static str,
    /// The array's shape.
    pub shape: Vec<u64>,
    /// Its data type.
    pub data_type: String,
    /// Logical bytes written.
    pub bytes: u64,
}

/// Runs the subcommand.
pub(crate) fn run(args: &Args, output: &OutputArgs) -> Result<u8> {
    let array = crate::open_array(&args.path)?;
    let lazy = LazyArray::from_stored(&array);
    let bytes = lazy.nbytes();
    let extension = args
        .output
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    let bar = Bar::new(output, "export", bytes);
    let observer = |p: &outcore::Progress| bar.update(p);
    let format = match extension.as_str() {
        "npy" => {
            export_npy(&lazy, &args.output, args.overwrite, Some(&observer))?;
            "npy"
        }
        "zarr" => {
            let options = ExportOptions {
                chunks: args.chunks.clone().map(|d| d.0),
                encoding: args.codec.clone(),
                overwrite: args.overwrite,
                ..ExportOptions::default()
            }
            .metadata_of(&array);
            export_zarr(&lazy, &args.output, &options, Some(&observer))?;
            "zarr"
        }
        _ => bail!(
            "{}: the output must end in .npy or .zarr",
            args.output.display()
        ),
    };
    bar.finish();
    let report = ExportOutput {
        path: args.path.display().to_string(),
        output: args.output.display().to_string(),
        format,
        shape: array.shape().to_vec(),
        data_type: array.data_type().name().to_string(),
        bytes,
    };
    crate::emit(output, &report, !output.quiet, |out| {
        writeln!(
            out,
            "{} -> {} ({} {:?}, {} bytes)",
            report.path, report.output, report.data_type, report.shape, report.bytes
        )?;
        Ok(())
    })?;
    Ok(0)
}
