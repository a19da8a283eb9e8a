//! `outcore convert INPUT... OUTPUT[/ARRAY]`: `.npy`, raw binary, CSV and Zarr (v2, v3)
//! inputs into an outcore store, streaming. Several inputs are stacked (`--stack`) or
//! concatenated (`--concat`). The result is built under a temporary name beside OUTPUT and
//! renamed into place at the end.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use outcore::convert::binary::{open_npy, open_raw, ByteOrder, Order, RawLayout};
use outcore::convert::csv::{import_csv, CsvOptions, CsvReport, Header};
use outcore::convert::{combine, is_zarr_node, Combine, ConvertOptions, Output};
use outcore::NodeKind;
use outcore::{ArraySpec, ChunkEncoding, DataType, LazyArray};
use serde::Serialize;

use crate::progress::Bar;
use crate::OutputArgs;

/// What kind of data the inputs are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Format {
    /// NumPy `.npy` files.
    Npy,
    /// Raw binary: needs `--dtype` and `--shape`.
    Raw,
    /// Comma- (or otherwise) separated text.
    Csv,
    /// Zarr v2 or v3 arrays or groups.
    Zarr,
}

/// Arguments of `outcore convert`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Input files (globs such as 'month-*.npy' are expanded, sorted), then the output: a
    /// new store path, or STORE/NAME inside an existing store.
    #[arg(required = true, num_args = 2.., value_name = "INPUT... OUTPUT")]
    pub paths: Vec<String>,
    /// The input format (default: from the extension; a Zarr directory is recognised).
    #[arg(long, value_enum)]
    pub format: Option<Format>,
    /// Stack several inputs along a new leading axis.
    #[arg(long, conflicts_with = "concat")]
    pub stack: bool,
    /// Concatenate several inputs along axis 0.
    #[arg(long)]
    pub concat: bool,
    /// Inner-chunk shape, e.g. `100,1000`.
    #[arg(long, value_parser = parse_dims)]
    pub chunks: Option<Dims>,
    /// Shard shape (a multiple of the chunk shape), e.g. `1000,8000`.
    #[arg(long, value_parser = parse_dims)]
    pub shard: Option<Dims>,
    /// Chunk codec: `raw`, `zstd` or `zstd:LEVEL`.
    #[arg(long, value_parser = parse_codec, default_value = "zstd:1")]
    pub codec: ChunkEncoding,
    /// Worker threads (default: one per core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Replace an existing output.
    #[arg(long)]
    pub overwrite: bool,
    /// Write one array as the output itself, rather than a group holding it named after the
    /// input (the default, which xarray opens as a dataset). Writing into an existing store
    /// (STORE/NAME) always writes the array itself.
    #[arg(long)]
    pub bare: bool,
    /// Names of the array's dimensions, e.g. `time,lat,lon` (default: the source's, else
    /// `dim_0,dim_1,…`).
    #[arg(long, value_delimiter = ',')]
    pub dims: Option<Vec<String>>,
    /// Zarr groups: leave out arrays of a data type outcore does not store (strings,
    /// float16, …), listing them, instead of failing.
    #[arg(long)]
    pub skip_unsupported: bool,
    /// Raw binary: the element type (bool, int8 … uint64, float32, float64).
    #[arg(long, value_parser = parse_dtype, help_heading = "Raw binary")]
    pub dtype: Option<DataType>,
    /// Raw binary: the shape, e.g. `1000,2000`.
    #[arg(long, value_parser = parse_dims, help_heading = "Raw binary")]
    pub shape: Option<Dims>,
    /// Raw binary: element order, `C` (row-major) or `F` (column-major).
    #[arg(long, default_value = "C", value_parser = parse_order, help_heading = "Raw binary")]
    pub order: Order,
    /// Raw binary: byte order, `little` or `big`.
    #[arg(long, default_value = "little", value_parser = parse_byte_order, help_heading = "Raw binary")]
    pub byte_order: ByteOrder,
    /// Raw binary: bytes to skip at the start of each file.
    #[arg(long, default_value_t = 0, help_heading = "Raw binary")]
    pub offset: u64,
    /// CSV: the delimiter (default: sniffed among , ; tab |).
    #[arg(long, help_heading = "CSV")]
    pub delimiter: Option<char>,
    /// CSV: whether the first row is a header: auto, yes or no.
    #[arg(long, default_value = "auto", value_parser = parse_header, help_heading = "CSV")]
    pub header: Header,
    /// CSV: one 2-D array (rows, columns) instead of a group of column arrays.
    #[arg(long, help_heading = "CSV")]
    pub matrix: bool,
    /// CSV: skip and count malformed rows instead of stopping at the first.
    #[arg(long, help_heading = "CSV")]
    pub skip_bad_rows: bool,
    /// CSV: most distinct values a text column may have to become integer codes.
    #[arg(long, default_value_t = 1024, help_heading = "CSV")]
    pub max_categories: usize,
}

/// The `--json` output.
#[derive(Debug, Serialize)]
pub(crate) struct ConvertOutput {
    /// The inputs, after glob expansion.
    pub inputs: Vec<String>,
    /// The node written.
    pub output: String,
    /// The input format.
    pub format: Format,
    /// Every array written, relative to `output` (`""` when the output is one array).
    pub arrays: Vec<ConvertedArray>,
    /// The CSV importer's report (CSV inputs only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csv: Option<CsvReport>,
    /// Arrays of a Zarr group left out by `--skip-unsupported`.
    pub skipped: Vec<SkippedArray>,
    /// Wall time in seconds.
    pub seconds: f64,
}

/// One array written.
#[derive(Debug, Serialize)]
pub(crate) struct ConvertedArray {
    /// Its path relative to the output.
    pub name: String,
    /// Data type.
    pub data_type: String,
    /// Shape.
    pub shape: Vec<u64>,
    /// Inner-chunk shape.
    pub chunks: Vec<u64>,
    /// Shard shape.
    pub shards: Vec<u64>,
    /// Bytes stored (all shard files).
    pub stored_bytes: u64,
}

/// An array `--skip-unsupported` left out.
#[derive(Debug, Serialize)]
pub(crate) struct SkippedArray {
    /// Its path inside the input group.
    pub name: String,
    /// Why outcore cannot store it.
    pub reason: String,
}

/// A shape given on the command line, like `100,200`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dims(pub Vec<u64>);

/// Parses `100,200` (or `100x200`).
pub(crate) fn parse_dims(s: &str) -> std::result::Result<Dims, String> {
    s.split([',', 'x'])
        .map(|p| {
            p.trim()
                .parse::<u64>()
                .map_err(|_| format!("{s:?} is not a list of whole numbers like 100,200"))
        })
        .collect::<std::result::Result<_, _>>()
        .map(Dims)
}

/// Parses a codec spec: `raw`, `zstd` or `zstd:LEVEL` (whatever the library's registered
/// codecs take).
pub(crate) fn parse_codec(s: &str) -> std::result::Result<ChunkEncoding, String> {
    s.parse()
}

fn parse_dtype(s: &str) -> std::result::Result<DataType, String> {
    DataType::from_name(s).ok_or_else(|| {
        format!("unknown data type {s:?}: use bool, int8, int16, int32, int64, uint8, uint16, uint32, uint64, float32 or float64")
    })
}

fn parse_order(s: &str) -> std::result::Result<Order, String> {
    match s {
        "C" | "c" => Ok(Order::C),
        "F" | "f" => Ok(Order::F),
        _ => Err(format!("order {s:?}: use C or F")),
    }
}

fn parse_byte_order(s: &str) -> std::result::Result<ByteOrder, String> {
    match s {
        "little" | "<" => Ok(ByteOrder::Little),
        "big" | ">" => Ok(ByteOrder::Big),
        _ => Err(format!("byte order {s:?}: use little or big")),
    }
}

fn parse_header(s: &str) -> std::result::Result<Header, String> {
    match s {
        "auto" => Ok(Header::Auto),
        "yes" | "true" => Ok(Header::Present),
        "no" | "false" => Ok(Header::Absent),
        _ => Err(format!("header {s:?}: use auto, yes or no")),
    }
}

/// The inputs with globs expanded; every path must exist.
fn expand(patterns: &[String]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for pattern in patterns {
        if pattern.contains(['*', '?', '[']) && !Path::new(pattern).exists() {
            let mut matches: Vec<PathBuf> = glob::glob(pattern)
                .map_err(|e| anyhow!("{pattern}: bad pattern: {e}"))?
                .collect::<std::result::Result<_, _>>()
                .map_err(|e| anyhow!("{pattern}: {e}"))?;
            if matches.is_empty() {
                bail!("{pattern}: no files match");
            }
            matches.sort();
            out.extend(matches);
        } else {
            let path = PathBuf::from(pattern);
            if !path.exists() {
                bail!("{pattern}: no such file or directory");
            }
            out.push(path);
        }
    }
    Ok(out)
}

fn detect(path: &Path, args: &Args) -> Result<Format> {
    if let Some(format) = args.format {
        return Ok(format);
    }
    if path.is_dir() {
        if is_zarr_node(path) {
            return Ok(Format::Zarr);
        }
        bail!("{}: a directory that is not a Zarr store", path.display());
    }
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase();
    Ok(match extension.as_str() {
        "npy" => Format::Npy,
        "csv" | "tsv" | "txt" => Format::Csv,
        _ if args.dtype.is_some() => Format::Raw,
        _ => bail!(
            "{}: cannot tell the format from the name; pass --format (npy, raw, csv, zarr)",
            path.display()
        ),
    })
}

/// Runs the subcommand.
pub(crate) fn run(args: &Args, output: &OutputArgs) -> Result<u8> {
    let started = Instant::now();
    if let Some(threads) = args.threads {
        let most = crate::max_threads();
        if threads == 0 || threads > most {
            bail!("--threads {threads}: give 1 to {most}");
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build_global()
            .context("setting the number of threads")?;
    }
    let (destination, inputs) = args.paths.split_last().expect("clap requires two paths");
    let inputs = expand(inputs)?;
    let destination = PathBuf::from(destination);
    let format = detect(&inputs[0], args)?;
    for input in &inputs[1..] {
        let other = detect(input, args)?;
        if other != format {
            bail!(
                "{} is {other:?} but {} is {format:?}: inputs must share one format",
                input.display(),
                inputs[0].display()
            );
        }
    }
    let how = match (args.stack, args.concat) {
        (true, _) => Some(Combine::Stack),
        (_, true) => Some(Combine::Concat),
        _ => None,
    };
    let options = ConvertOptions {
        chunks: args.chunks.clone().map(|d| d.0),
        shards: args.shard.clone().map(|d| d.0),
        encoding: Some(args.codec.clone()),
    };
    let one_array = match format {
        Format::Csv => args.matrix,
        Format::Zarr => inputs.len() > 1 || is_array(&inputs[0])?,
        Format::Npy | Format::Raw => true,
    };
    if args.dims.is_some() && !one_array {
        bail!("--dims names the dimensions of one array; this conversion writes a group");
    }
    let staged = Output::create(&destination, args.overwrite)?;
    // One array becomes a group holding it, named after the input, so that xarray opens
    // the output as a dataset.
    let name = if one_array && !args.bare && !staged.inside_store() {
        staged
            .store()
            .create_group(staged.name(), Default::default())?;
        format!("{}/{}", staged.name(), array_name(&inputs[0]))
    } else {
        staged.name().to_string()
    };
    let mut csv_report = None;
    let mut skipped = Vec::new();
    match format {
        Format::Csv => {
            let input_bytes: u64 = inputs
                .iter()
                .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
                .sum();
            let csv = CsvOptions {
                delimiter: match args.delimiter {
                    None => None,
                    Some(c) if c.is_ascii() => Some(c as u8),
                    Some(c) => bail!("the delimiter {c:?} is not a single-byte character"),
                },
                header: args.header,
                matrix: args.matrix,
                skip_bad_rows: args.skip_bad_rows,
                max_categories: args.max_categories,
            };
            // Two passes over the input: the bar covers both.
            let bar = Bar::new(output, "convert", 2 * input_bytes);
            let observer = |p: &outcore::Progress| {
                let pass = if p.blocks_total == 0 { 0 } else { input_bytes };
                bar.set(pass + p.bytes_done)
            };
            let report = import_csv(
                &inputs,
                how,
                staged.store(),
                &name,
                &options,
                &csv,
                Some(&observer),
            )
            .map_err(|e| staged.relocate(e))?;
            bar.finish();
            csv_report = Some(report);
        }
        Format::Zarr if !one_array => {
            skipped = convert_group(&inputs[0], &staged, &options, args, output)?;
        }
        _ => {
            let mut options = options.clone();
            let mut arrays = Vec::new();
            let mut single_source = None;
            for input in &inputs {
                let array = match format {
                    Format::Zarr => {
                        let source = open_zarr_array(input)?;
                        if inputs.len() == 1 {
                            options = keep_source_chunks(&options, &source);
                            single_source = Some(source.clone());
                        }
                        LazyArray::from_stored(&source)
                    }
                    _ => open_input(input, format, args)?,
                };
                arrays.push((input.clone(), array));
            }
            let array = combine(arrays, how)?;
            let write = || -> Result<()> {
                let mut spec = match &single_source {
                    Some(source) => options.spec_like(source)?,
                    None => options.spec(array.data_type(), array.shape())?,
                };
                if let Some(dims) = &args.dims {
                    let dims: Vec<&str> = dims.iter().map(String::as_str).collect();
                    spec = spec.dimension_names(&dims);
                }
                write_array(&array, &staged, &name, &spec, output)
            };
            write().with_context(|| {
                let more = match inputs.len() {
                    1 => String::new(),
                    n => format!(" and {} more", n - 1),
                };
                format!(
                    "converting {}{more} into {}",
                    inputs[0].display(),
                    destination.display()
                )
            })?;
        }
    }
    crate::interrupt::bail_if_interrupted()?;
    let written = staged.commit()?;
    let report = ConvertOutput {
        inputs: inputs.iter().map(|p| p.display().to_string()).collect(),
        output: written.display().to_string(),
        format,
        arrays: describe(&written)?,
        csv: csv_report,
        skipped,
        seconds: started.elapsed().as_secs_f64(),
    };
    crate::emit(output, &report, !output.quiet, |out| {
        writeln!(
            out,
            "{} input(s) -> {} in {:.2} s",
            report.inputs.len(),
            report.output,
            report.seconds
        )?;
        for a in &report.arrays {
            let name = if a.name.is_empty() { "/" } else { &a.name };
            writeln!(
                out,
                "  {name}: {} {:?}, chunks {:?}, {} bytes stored",
                a.data_type, a.shape, a.chunks, a.stored_bytes
            )?;
        }
        for a in &report.skipped {
            writeln!(out, "  skipped {}: {}", a.name, a.reason)?;
        }
        if let Some(csv) = &report.csv {
            if csv.skipped_rows > 0 {
                writeln!(out, "  skipped {} malformed row(s)", csv.skipped_rows)?;
            }
            for c in &csv.skipped_columns {
                writeln!(out, "  skipped column {:?}: {}", c.header, c.reason)?;
            }
        }
        Ok(())
    })?;
    Ok(0)
}

fn is_array(path: &Path) -> Result<bool> {
    let store = crate::open_store(path)?;
    Ok(store
        .nodes()?
        .first()
        .is_some_and(|n| n.path.is_empty() && n.kind == NodeKind::Array))
}

/// `options`, keeping `source`'s chunk shape when neither chunks nor shards were asked for
/// (a Zarr input is re-compressed as it was chunked).
fn keep_source_chunks(options: &ConvertOptions, source: &outcore::Array) -> ConvertOptions {
    let mut options = options.clone();
    if options.chunks.is_none() && options.shards.is_none() {
        options.chunks = Some(source.grid().chunk_shape().to_vec());
    }
    options
}

fn open_zarr_array(path: &Path) -> Result<outcore::Array> {
    if !is_array(path)? {
        bail!(
            "{} is a Zarr group: convert it alone, or name one of its arrays",
            path.display()
        );
    }
    Ok(crate::open_store(path)?.open_array("")?)
}

fn open_input(path: &Path, format: Format, args: &Args) -> Result<LazyArray> {
    Ok(match format {
        Format::Npy => open_npy(path, None)?,
        Format::Raw => {
            let (Some(data_type), Some(Dims(shape))) = (args.dtype, args.shape.clone()) else {
                bail!("{}: raw binary needs --dtype and --shape", path.display());
            };
            let layout = RawLayout {
                data_type,
                shape,
                order: args.order,
                byte_order: args.byte_order,
                offset: args.offset,
            };
            open_raw(path, layout, None)?
        }
        Format::Zarr | Format::Csv => unreachable!("Zarr and CSV inputs have their own paths"),
    })
}

/// The name of the array a one-array conversion writes inside its group: the input's file
/// name without its extension (`field` for `field.npy` or `field.zarr`), or `array` when
/// that is no valid node name.
fn array_name(input: &Path) -> String {
    input
        .file_stem()
        .and_then(|s| s.to_str())
        .filter(|s| !s.is_empty() && !s.starts_with('.') && !s.contains(['/', '\\']))
        .unwrap_or("array")
        .to_string()
}

fn write_array(
    array: &LazyArray,
    staged: &Output,
    name: &str,
    spec: &ArraySpec,
    output: &OutputArgs,
) -> Result<()> {
    let bar = Bar::new(output, "convert", array.nbytes());
    let observer = |p: &outcore::Progress| bar.update(p);
    staged.write_array_as(name, array, spec, Some(&observer))?;
    bar.finish();
    Ok(())
}

/// Every array of the Zarr group at `path`, converted into the same place under the staged
/// node (groups recreated on the way, attributes kept). Returns the arrays left out by
/// `--skip-unsupported`.
fn convert_group(
    path: &Path,
    staged: &Output,
    options: &ConvertOptions,
    args: &Args,
    output: &OutputArgs,
) -> Result<Vec<SkippedArray>> {
    let mut skipped = Vec::new();
    let source = crate::open_store(path)?;
    staged
        .store()
        .create_group(staged.name(), source.group_attributes("")?)?;
    for node in source.nodes()? {
        if node.path.is_empty() {
            continue;
        }
        let target = format!("{}/{}", staged.name(), node.path);
        match node.kind {
            NodeKind::Group => staged
                .store()
                .create_group(&target, source.group_attributes(&node.path)?)?,
            NodeKind::Array => {
                let array = match source.open_array(&node.path) {
                    Ok(array) => array,
                    Err(e) if e.kind() == outcore::ErrorKind::Unsupported => {
                        if !args.skip_unsupported {
                            return Err(anyhow::Error::new(e).context(format!(
                                "{}/{} cannot be converted (pass --skip-unsupported to leave it out)",
                                path.display(),
                                node.path
                            )));
                        }
                        skipped.push(SkippedArray {
                            name: node.path.clone(),
                            reason: e.to_string(),
                        });
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                };
                let options = keep_source_chunks(options, &array);
                let spec = options.spec_like(&array)?;
                let lazy = LazyArray::from_stored(&array);
                write_array(&lazy, staged, &target, &spec, output)
                    .with_context(|| format!("{}/{}", path.display(), node.path))?;
            }
        }
    }
    Ok(skipped)
}

/// The arrays under the finished node at `path`.
fn describe(path: &Path) -> Result<Vec<ConvertedArray>> {
    let store = crate::open_store(path)?;
    let mut out = Vec::new();
    for name in store.arrays()? {
        let array = store.open_array(&name)?;
        let grid = array.grid();
        out.push(ConvertedArray {
            data_type: array.data_type().name().to_string(),
            shape: array.shape().to_vec(),
            chunks: grid.chunk_shape().to_vec(),
            shards: grid.shard_shape().to_vec(),
            stored_bytes: array.storage_summary()?.stored_bytes,
            name,
        });
    }
    Ok(out)
}
