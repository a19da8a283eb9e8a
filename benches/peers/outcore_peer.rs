//! outcore's side of the peer benchmark (`benches/peers/run.sh` drives it; see its README).
//!
//! ```text
//! peer make DIR SIZE            write the reference dataset into DIR (SIZE bytes per array)
//! peer run WORKLOAD ARRAY [--key KEY] [--out OUT] [--sidecar]
//!                               one workload over a stored array: one JSON line
//! peer limit-raw ARRAY          sum the mapped bytes of a raw store on all cores: JSON
//! peer limit-zstd ARRAY         zstd-decompress every chunk of a store on all cores: JSON
//! ```
//!
//! `ARRAY` is an array's directory inside a store (`DIR/field.zarr/zstd`). Workloads read the
//! data (`scan_data`) unless `--sidecar` lets full reductions answer from the statistics
//! sidecar. The keyed workloads (`group_mean`, `sum_both`) also read the int8 key array `KEY`
//! (one key per element of `ARRAY` in C order); the writing ones (`cumsum_store`, `convert`)
//! create the store `OUT` and write their result there as the array `y`, then print sampled
//! values of it read back (rows 0, `rows / 2` and the last, every 64th column; not timed).
//! Errors are one line on stderr and exit status 2.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use outcore::convert::binary::open_npy;
use outcore::convert::export::export_npy;
use outcore::convert::{ConvertOptions, Output};
use outcore::ndarray::s;
use outcore::{
    Agg, Array, ArraySpec, Axes, Bins, ChunkEncoding, Compute, DataType, LazyArray, Quantiles,
    Store,
};
use serde_json::json;

#[path = "../common/mod.rs"]
mod common;

use common::{chunk_bytes, decompress_all, field, sum_mapped, BenchResult, COLS};

/// Seed of the uniform draw that places the NaNs.
const NAN_SEED: u64 = 7;
/// Share of elements that are NaN in the NaN copy.
const NAN_SHARE: f64 = 0.01;
/// Columns the `mean_axis0_3` workload keeps.
const KEPT_COLUMNS: usize = 3;
/// Seed of the draw of the group keys.
const KEY_SEED: u64 = 13;
/// Distinct group keys: `0..CATEGORIES`.
const CATEGORIES: i64 = 5;
/// Bins of the `hist100` workload.
const HISTOGRAM_BINS: u64 = 100;
/// The array the writing workloads create in their output store.
const OUT_ARRAY: &str = "y";
/// Every how many columns a writing workload's output is sampled.
const SAMPLE_STEP: usize = 64;

/// The workloads that are one lazy expression reduced to a few values.
#[derive(Clone, Copy)]
enum Reduction {
    /// `x.sum()`.
    Sum,
    /// `x.mean(axis=0)[:3]`.
    MeanAxis0First3,
    /// `nanmean(x)`.
    NanMean,
    /// `nanmax(x)`.
    NanMax,
    /// `x.std()`.
    Std,
    /// `((x - 15) ** 2).mean()`.
    SquaredDeviationMean,
}

impl Reduction {
    /// The lazy expression over `x` (nothing is read yet).
    fn expression(self, x: &LazyArray) -> outcore::Result<LazyArray> {
        match self {
            Reduction::Sum => x.sum(Axes::all()),
            // The mean of every column, then the first three: the selection is pushed below
            // the reduction, so only the chunks holding those columns are read.
            Reduction::MeanAxis0First3 => x.mean(0)?.slice(s![..KEPT_COLUMNS]),
            Reduction::NanMean => x.nanmean(Axes::all()),
            Reduction::NanMax => x.nanmax(Axes::all()),
            Reduction::Std => x.std(Axes::all(), 0.0),
            Reduction::SquaredDeviationMean => (x - 15.0).square()?.mean(Axes::all()),
        }
    }
}

/// The benchmark's workloads, by the names the harness uses.
#[derive(Clone, Copy)]
enum Workload {
    /// A reduction computed by the lazy engine.
    Reduce(Reduction),
    /// The mean of the values by their int8 key (`x.ravel()` grouped by the key array).
    GroupMean,
    /// `(x.ravel() + key).sum()`, one fused pass over both: the baseline of `GroupMean`.
    SumBoth,
    /// The exact median of every element.
    Median,
    /// A 100-bin histogram over the data's `[min, max]`: the counts.
    Histogram100,
    /// `cumsum(x, axis=0)` written to a new store.
    CumsumStore,
    /// `x` itself written to a new store: the baseline of `CumsumStore`.
    Convert,
}

impl Workload {
    /// Every workload with its name.
    const ALL: [(&'static str, Workload); 12] = [
        ("sum", Workload::Reduce(Reduction::Sum)),
        ("mean_axis0_3", Workload::Reduce(Reduction::MeanAxis0First3)),
        ("nanmean", Workload::Reduce(Reduction::NanMean)),
        ("nanmax", Workload::Reduce(Reduction::NanMax)),
        ("std", Workload::Reduce(Reduction::Std)),
        (
            "sqdev_mean",
            Workload::Reduce(Reduction::SquaredDeviationMean),
        ),
        ("group_mean", Workload::GroupMean),
        ("sum_both", Workload::SumBoth),
        ("median", Workload::Median),
        ("hist100", Workload::Histogram100),
        ("cumsum_store", Workload::CumsumStore),
        ("convert", Workload::Convert),
    ];

    /// The workload called `name`.
    fn parse(name: &str) -> BenchResult<Workload> {
        Workload::ALL
            .iter()
            .find(|(n, _)| *n == name)
            .map(|&(_, w)| w)
            .ok_or_else(|| {
                let names: Vec<_> = Workload::ALL.iter().map(|(n, _)| *n).collect();
                format!("unknown workload {name:?} (one of {})", names.join(", ")).into()
            })
    }
}

/// The command line's shape, for errors.
fn usage() -> String {
    "usage: peer make DIR SIZE | peer run WORKLOAD ARRAY [--key KEY] [--out OUT] [--sidecar] | \
     peer limit-raw ARRAY | peer limit-zstd ARRAY"
        .to_owned()
}

/// Opens the array at `path` (a directory inside a store) with the process-wide cache.
fn open_array(path: &Path) -> BenchResult<Array> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(format!("{} does not name an array inside a store", path.display()).into());
    };
    if !path.join("zarr.json").is_file() {
        return Err(format!("{}: no array here (run `peer make` first)", path.display()).into());
    }
    let name = name
        .to_str()
        .ok_or_else(|| format!("{}: the array name is not UTF-8", path.display()))?;
    Ok(Store::open(parent)?.open_array(name)?)
}

/// Runs `step`, then tells stderr how long making `what` took.
fn timed(what: &str, step: impl FnOnce() -> outcore::Result<()>) -> BenchResult<()> {
    let start = Instant::now();
    step()?;
    eprintln!("made {what} in {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}

/// Writes the reference dataset into `dir`: `field.npy` (the field) and `field_nan.npy` (the
/// same with 1% NaNs), and the store `field.zarr` with each of them zstd-1 and raw (`zstd`,
/// `raw`, `zstd_nan`, `raw_nan`; outcore's default chunk and shard shapes); and the group
/// keys, one int8 in `0..5` per element of the field in C order, drawn uniformly, as
/// `key.npy` and in the store (`zstd_key`, `raw_key`: 1-d, each chunk and shard holding as
/// many keys as the field's hold values). Everything streams block by block. `dataset.json`
/// (also printed) is written last: the harness reads it to know the dataset is complete.
fn make(dir: &Path, size: &str) -> BenchResult<()> {
    let bytes = outcore::parse_size(size)?;
    let rows = (bytes / 8 / COLS).max(1);
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let manifest = dir.join("dataset.json");
    outcore::test_support::remove_file_if_exists(&manifest)?;

    let clean = dir.join("field.npy");
    timed("field.npy", || export_npy(&field(rows), &clean, true, None))?;
    let with_nans = dir.join("field_nan.npy");
    timed("field_nan.npy", || {
        let x = open_npy(&clean, None)?;
        let gap = outcore::random::uniform(NAN_SEED, x.shape(), 0.0, 1.0)?.less(NAN_SHARE)?;
        export_npy(
            &LazyArray::where_(&gap, f64::NAN, x)?,
            &with_nans,
            true,
            None,
        )
    })?;

    let store = dir.join("field.zarr");
    let mut arrays = Vec::new();
    for (npy, suffix) in [(&clean, ""), (&with_nans, "_nan")] {
        for (codec, encoding) in [
            ("zstd", ChunkEncoding::zstd(1)),
            ("raw", ChunkEncoding::raw()),
        ] {
            let name = format!("{codec}{suffix}");
            let path = store.join(&name);
            timed(&format!("field.zarr/{name}"), || {
                let input = open_npy(npy, None)?;
                let output = Output::create(&path, true)?;
                let options = ConvertOptions {
                    encoding: Some(encoding),
                    ..Default::default()
                };
                output.write_array(output.name(), &input, &options, None)?;
                output.commit().map(|_| ())
            })?;
            arrays.push(name);
        }
    }
    let zstd = open_array(&store.join("zstd"))?;
    let keys = dir.join("key.npy");
    let elements = rows * COLS;
    timed("key.npy", || {
        let key =
            outcore::random::integers(KEY_SEED, &[elements], 0, CATEGORIES)?.astype(DataType::Int8);
        export_npy(&key, &keys, true, None)
    })?;
    let spec = ArraySpec::new(DataType::Int8, &[elements])
        .chunks(&[zstd.grid().chunk_shape().iter().product()])
        .shards(&[zstd.grid().shard_shape().iter().product()])
        .overwrite(true);
    for (codec, encoding) in [
        ("zstd", ChunkEncoding::zstd(1)),
        ("raw", ChunkEncoding::raw()),
    ] {
        let name = format!("{codec}_key");
        timed(&format!("field.zarr/{name}"), || {
            let spec = spec.clone().encoding(encoding);
            open_npy(&keys, None)?.to_store(&Store::open(&store)?, &name, &spec)?;
            Ok(())
        })?;
        arrays.push(name);
    }
    let description = json!({
        "size": size,
        "rows": rows,
        "cols": COLS,
        "dtype": "float64",
        "nan_share": NAN_SHARE,
        "npy": {"clean": "field.npy", "nan": "field_nan.npy", "key": "key.npy"},
        "categories": CATEGORIES,
        "store": "field.zarr",
        "arrays": arrays,
        "chunks": zstd.grid().chunk_shape(),
        "shards": zstd.grid().shard_shape(),
    });
    outcore::test_support::write_atomic(&manifest, description.to_string().as_bytes())?;
    println!("{description}");
    Ok(())
}

/// The inputs and outputs of one run besides the array.
#[derive(Default)]
struct RunOptions<'a> {
    /// The key array of the keyed workloads.
    key: Option<&'a Path>,
    /// The store the writing workloads create.
    out: Option<&'a Path>,
    /// Let full reductions answer from the statistics sidecar.
    sidecar: bool,
}

impl<'a> RunOptions<'a> {
    /// The options after `run WORKLOAD ARRAY`.
    fn parse(mut args: &[&'a str]) -> BenchResult<Self> {
        let mut options = RunOptions::default();
        while let Some((&flag, rest)) = args.split_first() {
            args = rest;
            let slot = match flag {
                "--sidecar" => {
                    options.sidecar = true;
                    continue;
                }
                "--key" => &mut options.key,
                "--out" => &mut options.out,
                _ => return Err(usage().into()),
            };
            let Some((&value, rest)) = args.split_first() else {
                return Err(format!("{flag} needs a path").into());
            };
            *slot = Some(Path::new(value));
            args = rest;
        }
        Ok(options)
    }

    /// A path the workload `name` needs, given by `--flag`.
    fn needed(path: Option<&'a Path>, name: &str, flag: &str) -> BenchResult<&'a Path> {
        path.ok_or_else(|| format!("{name} needs {flag}").into())
    }
}

/// The computation of `array` reading the data, unless `sidecar` lets it use the statistics.
fn compute(array: &LazyArray, sidecar: bool) -> Compute<'_> {
    if sidecar {
        array.compute()
    } else {
        array.compute().scan_data()
    }
}

/// Sampled values of the float64 array written by a writing workload: rows 0, `rows / 2` and
/// the last, every `SAMPLE_STEP`-th column of each (`y[[0, n // 2, n - 1], ::64]`).
fn samples(array: &Array) -> BenchResult<Vec<f64>> {
    let rows = usize::try_from(array.shape()[0])?;
    let y = LazyArray::from_stored(array);
    let mut values = Vec::new();
    for row in [0, rows / 2, rows - 1] {
        let row = y
            .slice(s![row..row + 1, ..])?
            .compute()
            .to_ndarray::<f64>()?;
        values.extend(row.iter().step_by(SAMPLE_STEP));
    }
    Ok(values)
}

/// Runs `workload` over the array at `path` and prints its value and the seconds it took
/// (opening included; reading back the samples of a written array excluded).
fn run(name: &str, path: &Path, options: &RunOptions<'_>) -> BenchResult<()> {
    let workload = Workload::parse(name)?;
    let start = Instant::now();
    let array = open_array(path)?;
    let x = LazyArray::from_stored(&array);
    let key = || -> BenchResult<LazyArray> {
        let key = RunOptions::needed(options.key, name, "--key")?;
        Ok(LazyArray::from_stored(&open_array(key)?))
    };
    let mut written = None;
    let value = match workload {
        Workload::Reduce(reduction) => {
            let expr = reduction.expression(&x)?;
            let values = compute(&expr, options.sidecar).to_ndarray::<f64>()?;
            match values.as_slice() {
                Some([one]) if values.ndim() == 0 => json!(one),
                _ => json!(values.iter().collect::<Vec<_>>()),
            }
        }
        Workload::GroupMean => {
            let table = x.reshape(&[-1])?.group_by(&key()?)?.mean()?;
            let expected: Vec<i64> = (0..CATEGORIES).collect();
            if table.keys(0) != expected {
                return Err(format!(
                    "group_mean: found the keys {:?}, not 0..{CATEGORIES}",
                    table.keys(0)
                )
                .into());
            }
            json!(table
                .to_ndarray::<f64>(Agg::NanMean)?
                .iter()
                .collect::<Vec<_>>())
        }
        Workload::SumBoth => {
            let both = (&x.reshape(&[-1])? + &key()?).sum(Axes::all())?;
            json!(compute(&both, options.sidecar).to_scalar::<f64>()?)
        }
        Workload::Median => {
            let median = compute(&x, options.sidecar)
                .quantiles(&Quantiles::median(), Axes::all())?
                .astype::<f64>();
            json!(median.iter().next())
        }
        Workload::Histogram100 => {
            let bins = Bins::Count(HISTOGRAM_BINS);
            json!(compute(&x, options.sidecar).histogram(&bins, None)?.counts)
        }
        Workload::CumsumStore | Workload::Convert => {
            let out = RunOptions::needed(options.out, name, "--out")?;
            let expr = match workload {
                Workload::CumsumStore => x.cumsum(0)?,
                _ => x,
            };
            // The source's chunks and shards, zstd level 1.
            let spec = ArraySpec::new(array.data_type(), array.shape())
                .chunks(array.grid().chunk_shape())
                .shards(array.grid().shard_shape())
                .encoding(ChunkEncoding::zstd(1));
            written = Some(compute(&expr, options.sidecar).to_store(
                &Store::create(out)?,
                OUT_ARRAY,
                &spec,
            )?);
            json!(null)
        }
    };
    let seconds = start.elapsed().as_secs_f64();
    let value = match written {
        Some(array) => json!(samples(&array)?),
        None => value,
    };
    println!(
        "{}",
        json!({
            "value": value,
            "seconds": seconds,
            "cache_budget": outcore::global_cache().expect("OUTCORE_CACHE_BYTES is a size").budget(),
        })
    );
    Ok(())
}

/// Times `pass` twice over the chunks of the float64 array at `path`, which must have chunks
/// of `encoding`'s kind (the first pass in this fresh process, the second with the shards
/// mapped) and prints both, with the logical bytes.
fn limit<T: serde::Serialize>(
    path: &Path,
    raw: bool,
    pass: impl Fn(&[common::StoredChunk], usize) -> BenchResult<T>,
) -> BenchResult<()> {
    let start = Instant::now();
    let array = open_array(path)?;
    let (chunks, encoding) = chunk_bytes(&array)?;
    if (encoding == ChunkEncoding::raw()) != raw || array.data_type() != DataType::Float64 {
        return Err(format!(
            "{}: holds {} chunks of {}; this limit needs {} float64",
            path.display(),
            encoding.codec().name(),
            array.data_type(),
            if raw { "raw" } else { "zstd" },
        )
        .into());
    }
    let chunk_len = array.meta().chunk_bytes();
    let result = pass(&chunks, chunk_len)?;
    let first = start.elapsed().as_secs_f64();
    let start = Instant::now();
    pass(&chunks, chunk_len)?;
    let second = start.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({
            "value": result,
            "seconds": first,
            "seconds_mapped": second,
            "bytes": array.grid().elements() * 8,
            "threads": rayon::current_num_threads(),
        })
    );
    Ok(())
}

/// Dispatches the subcommands.
fn main_with(args: &[String]) -> BenchResult<()> {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["make", dir, size] => make(Path::new(dir), size),
        ["run", workload, path, options @ ..] => {
            run(workload, Path::new(path), &RunOptions::parse(options)?)
        }
        ["limit-raw", path] => limit(Path::new(path), true, |chunks, _| sum_mapped(chunks)),
        ["limit-zstd", path] => limit(Path::new(path), false, decompress_all),
        _ => Err(usage().into()),
    }
}

/// Runs the subcommand; errors are one line on stderr and exit status 2.
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match main_with(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("peer: error: {e}");
            ExitCode::from(2)
        }
    }
}
