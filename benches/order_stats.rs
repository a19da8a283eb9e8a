//! Order statistics, counting and scans over the engine benchmarks' reference field (the
//! raw and zstd stores of `benches/engine.rs`), each next to its baseline in the same run: the
//! exact median and a 100-bin histogram next to the field's sum (targets: within 4x and 1.3x),
//! and `cumsum` along axis 0 streamed to a new store next to writing the field itself to a new
//! store (a conversion of the same array; target: within 1.3x). Throughput is logical bytes.
//!
//! `cargo bench --bench order_stats` (data: `OUTCORE_BENCH_BYTES`, default 4 GiB per store).

use std::hint::black_box;

use criterion::{criterion_main, Criterion, Throughput};
use outcore::{ArraySpec, Axes, Bins, ChunkEncoding, LazyArray, Store};

mod common;

use common::{bench_dir, engine_stores, COLS};

fn bench(c: &mut Criterion) {
    let (raw, zstd) = engine_stores();
    let logical = raw.shape().iter().product::<u64>() * 8;
    let mut group = c.benchmark_group("order_stats");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(logical));
    for (name, array) in [("raw", &raw), ("zstd", &zstd)] {
        let x = LazyArray::from_stored(array);
        let sum = x.sum(Axes::all()).unwrap();
        group.bench_function(format!("{name}/sum"), |b| {
            b.iter(|| black_box(sum.compute().scan_data().to_scalar::<f64>().unwrap()))
        });
        group.bench_function(format!("{name}/median"), |b| {
            b.iter(|| black_box(x.median(Axes::all()).unwrap()))
        });
        group.bench_function(format!("{name}/histogram_100"), |b| {
            b.iter(|| black_box(x.histogram(&Bins::Count(100), None).unwrap()))
        });
    }
    // Writing: the field copied to a new zstd-1 store, and its running sums down axis 0.
    let out = bench_dir().join("order-stats-out.zarr");
    let spec = ArraySpec::new(raw.data_type(), raw.shape())
        .chunks(&[16, COLS])
        .encoding(ChunkEncoding::zstd(1));
    let x = LazyArray::from_stored(&raw);
    let cumsum = x.cumsum(0).unwrap();
    for (op, expr) in [("convert", &x), ("cumsum_axis0_to_store", &cumsum)] {
        group.bench_function(format!("raw/{op}"), |b| {
            b.iter(|| {
                let _ = std::fs::remove_dir_all(&out);
                let store = Store::create(&out).unwrap();
                black_box(expr.to_store(&store, "y", &spec).unwrap())
            })
        });
    }
    let _ = std::fs::remove_dir_all(&out);
    group.finish();
}

/// The criterion group (a module so the generated function can carry the lint exception).
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
criterion_main!(group::benches);
