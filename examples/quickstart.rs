//! The quick start, outcore's main job end to end on data it makes:
//!
//! 1. makes a realistic 2-D field (a smooth pattern plus noise, rounded to 2 decimals like
//!    instrument data, with a few NaN gaps) of the given size as an `.npy` file, streamed
//!    block by block, never whole in memory;
//! 2. converts the `.npy` into a zstd store and a raw store (what `outcore convert` does);
//! 3. shows what `outcore inspect` and `outcore stats` see (statistics from the sidecar, then
//!    by scanning every chunk);
//! 4. runs the engine on the stored field: the NaN-aware mean over axis 0, subtracted from
//!    every row, and the standard deviation of that anomaly, streamed on all cores.
//!
//! `cargo run --release --example quickstart -- [DIR] [SIZE]` (default `target/quickstart`,
//! `1GiB`). It prints the `outcore` commands that do the same from the shell.

use std::path::Path;
use std::time::Instant;

use outcore::convert::binary::open_npy;
use outcore::convert::export::export_npy;
use outcore::convert::{ConvertOptions, Output};
use outcore::inspect;
use outcore::summarize;
use outcore::{Axes, ChunkEncoding, LazyArray, Store};

const COLS: u64 = 8192;

/// A smooth field plus noise, rounded to 2 decimals, with NaN gaps on one row in 1000.
fn field(rows: u64) -> outcore::Result<LazyArray> {
    let noise = outcore::random::normal(1, &[rows, COLS], 0.0, 0.5)?;
    let i = LazyArray::arange(0.0, rows as f64, 1.0)?.reshape(&[-1, 1])?;
    let j = LazyArray::arange(0.0, COLS as f64, 1.0)?;
    let wave = (&i / 400.0).sin()? * (&j / 300.0).cos()? * 10.0 + 15.0;
    let value = ((wave + noise) * 100.0).round()? / 100.0;
    let gap = (&i % 1000.0).equal(999.0)?;
    LazyArray::where_(&gap, f64::NAN, value)
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = Path::new(args.first().map_or("target/quickstart", String::as_str)).to_owned();
    let bytes = outcore::parse_size(args.get(1).map_or("1GiB", String::as_str))?;
    let rows = (bytes / 8 / COLS).max(1);
    let logical = rows * COLS * 8;
    std::fs::create_dir_all(&dir)?;

    // 1. The input: an .npy file, written block by block.
    let npy = dir.join("field.npy");
    let start = Instant::now();
    export_npy(&field(rows)?, &npy, true, None)?;
    println!(
        "made {}: {rows} x {COLS} float64 ({:.2} GiB) in {:.2} s",
        npy.display(),
        gib(logical),
        start.elapsed().as_secs_f64()
    );

    // 2. Convert it, once compressed and once raw (`outcore convert field.npy field.zarr/...`).
    let store_path = dir.join("field.zarr");
    let _ = std::fs::remove_dir_all(&store_path);
    Store::create(&store_path)?;
    for (name, codec) in [
        ("zstd", ChunkEncoding::zstd(1)),
        ("raw", ChunkEncoding::raw()),
    ] {
        let start = Instant::now();
        let input = open_npy(&npy, None)?;
        let output = Output::create(&store_path.join(name), true)?;
        let options = ConvertOptions {
            encoding: Some(codec),
            ..Default::default()
        };
        output.write_array(output.name(), &input, &options, None)?;
        output.commit()?;
        let secs = start.elapsed().as_secs_f64();
        println!(
            "converted to {}/{name} in {secs:.2} s ({:.0} MiB/s)",
            store_path.display(),
            logical as f64 / (1 << 20) as f64 / secs
        );
    }

    // 3. What `outcore inspect` and `outcore stats` see.
    let report = inspect(&store_path)?;
    for node in report.nodes.iter().filter(|n| n.array.is_some()) {
        let a = node.array.as_ref().expect("filtered");
        println!(
            "inspect {}: chunks {:?} in shards {:?}, {:.1} MiB on disk (ratio {:.2}x), {:.0}% zero-copy",
            node.path,
            a.chunk_shape,
            a.shard_shape.clone().unwrap_or_default(),
            a.stored_bytes as f64 / (1 << 20) as f64,
            a.ratio.unwrap_or(0.0),
            a.zero_copy_share.unwrap_or(0.0) * 100.0
        );
    }
    let store = Store::open(&store_path)?;
    for scan in [false, true] {
        let x = LazyArray::from_stored(&store.open_array("zstd")?);
        let start = Instant::now();
        let found = summarize(&x, None, scan, None)?;
        let s = &found.summaries[0];
        println!(
            "stats ({}) in {:.3} s: count {} nan {} min {:?} max {:?} mean {:.6} std {:.6}",
            if found.from_sidecar {
                "sidecar"
            } else {
                "scan"
            },
            start.elapsed().as_secs_f64(),
            s.count,
            s.nan_count,
            s.min,
            s.max,
            s.mean,
            s.std
        );
    }

    // 4. The engine: the anomaly from the NaN-aware climatology, and its spread.
    for name in ["zstd", "raw"] {
        let x = LazyArray::from_stored(&store.open_array(name)?);
        let start = Instant::now();
        let climatology = x.nanmean(Axes::from(0).keepdims())?;
        let spread = (&x - &climatology)
            .nanstd(Axes::all(), 0.0)?
            .to_scalar::<f64>()?;
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{name}: nanstd(x - nanmean(x, axis 0)) = {spread:.6} in {secs:.2} s ({:.0} MiB/s over two passes)",
            2.0 * logical as f64 / (1 << 20) as f64 / secs
        );
    }
    let root = store_path.display();
    println!("the same from the shell:");
    println!(
        "  outcore convert {} {root}/zstd --overwrite",
        npy.display()
    );
    println!("  outcore inspect {root}");
    println!("  outcore stats {root}/zstd            (add --scan to read the data)");
    println!("  outcore verify {root}");
    Ok(())
}
