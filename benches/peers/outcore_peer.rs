//! outcore's side of the peer benchmark (`benches/peers/run.sh` drives it; see its README).
//!
//! ```text
//! peer make DIR SIZE            write the reference dataset into DIR (SIZE bytes per array)
//! peer run WORKLOAD ARRAY [--sidecar]
//!                               one workload over a stored array: one JSON line
//! peer limit-raw ARRAY          sum the mapped bytes of a raw store on all cores: JSON
//! peer limit-zstd ARRAY         zstd-decompress every chunk of a store on all cores: JSON
//! ```
//!
//! `ARRAY` is an array's directory inside a store (`DIR/field.zarr/zstd`). Workloads read the
//! data (`scan_data`) unless `--sidecar` lets full reductions answer from the statistics
//! sidecar. Errors are one line on stderr and exit status 2.

use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use outcore::convert::binary::open_npy;
use outcore::convert::export::export_npy;
use outcore::convert::{ConvertOptions, Output};
use outcore::ndarray::s;
use outcore::{Array, Axes, ChunkEncoding, DataType, LazyArray, Store};
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

/// The benchmark's workloads, by the names the harness uses.
#[derive(Clone, Copy)]
enum Workload {
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

impl Workload {
    /// Every workload with its name.
    const ALL: [(&'static str, Workload); 6] = [
        ("sum", Workload::Sum),
        ("mean_axis0_3", Workload::MeanAxis0First3),
        ("nanmean", Workload::NanMean),
        ("nanmax", Workload::NanMax),
        ("std", Workload::Std),
        ("sqdev_mean", Workload::SquaredDeviationMean),
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

    /// The lazy expression of the workload over `x` (nothing is read yet).
    fn expression(self, x: &LazyArray) -> outcore::Result<LazyArray> {
        match self {
            Workload::Sum => x.sum(Axes::all()),
            // The mean of every column, then the first three: the selection is pushed below
            // the reduction, so only the chunks holding those columns are read.
            Workload::MeanAxis0First3 => x.mean(0)?.slice(s![..KEPT_COLUMNS]),
            Workload::NanMean => x.nanmean(Axes::all()),
            Workload::NanMax => x.nanmax(Axes::all()),
            Workload::Std => x.std(Axes::all(), 0.0),
            Workload::SquaredDeviationMean => (x - 15.0).square()?.mean(Axes::all()),
        }
    }
}

/// The command line's shape, for errors.
fn usage() -> String {
    "usage: peer make DIR SIZE | peer run WORKLOAD ARRAY [--sidecar] | peer limit-raw ARRAY | \
     peer limit-zstd ARRAY"
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
/// `raw`, `zstd_nan`, `raw_nan`; outcore's default chunk and shard shapes). Everything
/// streams block by block. `dataset.json` (also printed) is written last: the harness reads
/// it to know the dataset is complete.
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
    let description = json!({
        "size": size,
        "rows": rows,
        "cols": COLS,
        "dtype": "float64",
        "nan_share": NAN_SHARE,
        "npy": {"clean": "field.npy", "nan": "field_nan.npy"},
        "store": "field.zarr",
        "arrays": arrays,
        "chunks": zstd.grid().chunk_shape(),
        "shards": zstd.grid().shard_shape(),
    });
    outcore::test_support::write_atomic(&manifest, description.to_string().as_bytes())?;
    println!("{description}");
    Ok(())
}

/// Runs `workload` over the array at `path` and prints its value and the seconds it took
/// (opening included).
fn run(workload: &str, path: &Path, sidecar: bool) -> BenchResult<()> {
    let workload = Workload::parse(workload)?;
    let start = Instant::now();
    let x = LazyArray::from_stored(&open_array(path)?);
    let expr = workload.expression(&x)?;
    let compute = if sidecar {
        expr.compute()
    } else {
        expr.compute().scan_data()
    };
    let values = compute.to_ndarray::<f64>()?;
    let seconds = start.elapsed().as_secs_f64();
    let value = match values.as_slice() {
        Some([one]) if values.ndim() == 0 => json!(one),
        _ => json!(values.iter().collect::<Vec<_>>()),
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
        ["run", workload, path] => run(workload, Path::new(path), false),
        ["run", workload, path, "--sidecar"] => run(workload, Path::new(path), true),
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
