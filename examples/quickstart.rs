//! The quick start: makes a realistic 2-D field (a smooth pattern plus noise, rounded to
//! 2 decimals like instrument data) of the given size, writes it as a zstd store and a raw
//! store chunk by chunk from all cores without ever holding it in memory, then reads it back
//! and shows what `outcore inspect` sees. Then it runs the engine on the stored field: the
//! NaN-aware mean over axis 0, subtracted from every row, and the standard deviation of that
//! anomaly — streamed chunk by chunk on all cores under the cache budget.
//!
//! `cargo run --release --example quickstart -- [STORE_DIR] [SIZE]` (default
//! `target/quickstart.zarr`, `1GiB`).

use std::time::Instant;

use outcore::format::grid::unravel;
use outcore::store::inspect::inspect;
use outcore::{ArraySpec, Axes, ChunkEncoding, DataType, LazyArray, Store};
use rayon::prelude::*;

fn value(i: u64, j: u64) -> f64 {
    let (x, y) = (i as f64, j as f64);
    let noise =
        ((i.wrapping_mul(2_654_435_761) ^ j.wrapping_mul(40_503)) % 1000) as f64 / 1000.0 - 0.5;
    ((15.0 + 10.0 * (x / 400.0).sin() * (y / 300.0).cos() + noise) * 100.0).round() / 100.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = args
        .first()
        .map_or("target/quickstart.zarr", String::as_str);
    let bytes = outcore::cache::parse_size(args.get(1).map_or("1GiB", String::as_str))?;
    let cols = 8192u64;
    let rows = (bytes / 8 / cols).max(1);
    let store = Store::create(root)?;
    for (name, encoding) in [
        ("field_zstd", ChunkEncoding::Zstd { level: 1 }),
        ("field_raw", ChunkEncoding::Raw),
    ] {
        let spec = ArraySpec::new(DataType::Float64, &[rows, cols])
            .encoding(encoding)
            .dimension_names(&["y", "x"])
            .overwrite(true);
        let start = Instant::now();
        let writer = store.create_array(name, &spec)?;
        let grid = writer.grid().clone();
        (0..grid.num_chunks()).into_par_iter().try_for_each(|n| {
            let chunk = unravel(n, &grid.chunk_grid_shape());
            let region = grid.chunk_region(&chunk);
            let values: Vec<f64> = region[0]
                .clone()
                .flat_map(|i| region[1].clone().map(move |j| value(i, j)))
                .collect();
            writer.write_chunk(&chunk, &values)
        })?;
        let array = writer.finish()?;
        let secs = start.elapsed().as_secs_f64();
        println!(
            "wrote {name}: {rows} x {cols} float64 ({:.2} GiB) in {secs:.2} s, {:.0} MiB/s",
            (rows * cols * 8) as f64 / (1u64 << 30) as f64,
            (rows * cols * 8) as f64 / (1 << 20) as f64 / secs
        );
        let corner = array.read_region::<f64>(&[0..2, 0..4])?;
        assert_eq!(corner[[1, 3]], value(1, 3));
    }
    let report = inspect(std::path::Path::new(root))?;
    for node in report.nodes.iter().filter(|n| n.array.is_some()) {
        let a = node.array.as_ref().unwrap();
        println!(
            "{}: chunks {:?} in shards {:?}, {} of {} chunks stored, {:.1} MiB on disk (ratio {:.2}x), {:.0}% zero-copy",
            node.path,
            a.chunk_shape,
            a.shard_shape.clone().unwrap_or_default(),
            a.chunks_stored.unwrap_or(0),
            a.chunks_total,
            a.stored_bytes as f64 / (1 << 20) as f64,
            a.ratio.unwrap_or(0.0),
            a.zero_copy_share.unwrap_or(0.0) * 100.0
        );
    }
    for name in ["field_zstd", "field_raw"] {
        let x = LazyArray::from_stored(&store.open_array(name)?);
        let start = Instant::now();
        let climatology = x.nanmean(Axes::from(0).keepdims())?;
        let anomaly = x.sub(&climatology)?;
        let spread = anomaly.nanstd(Axes::all(), 0.0)?.to_scalar::<f64>()?;
        let secs = start.elapsed().as_secs_f64();
        println!(
            "{name}: std of (x - nanmean(x, axis 0)) = {spread:.6} in {secs:.2} s ({:.0} MiB/s over two passes)",
            2.0 * (rows * cols * 8) as f64 / (1 << 20) as f64 / secs
        );
    }
    println!("next: cargo run --release -p outcore-cli -- inspect {root}");
    Ok(())
}
