//! Engine throughput against the floor set by the hardware: reductions over raw and zstd
//! stores next to the time to just sum the mapped bytes / just decompress the same chunks on
//! all cores; nanmean, std and fused expressions (a linear chain, and one reading its operand
//! three times) next to plain sum; a counter-based random array's mean. Throughput is logical
//! (decoded) bytes.
//!
//! `cargo bench --bench engine` (data: `OUTCORE_BENCH_BYTES`, default 4 GiB per store,
//! written once to `target/outcore-bench/` and reused; page cache warm after the first pass).

use std::hint::black_box;

use criterion::{criterion_main, Criterion, Throughput};
use outcore::{Axes, LazyArray};

mod common;

use common::{chunk_bytes, decompress_all, engine_stores, sum_mapped};

fn bench(c: &mut Criterion) {
    let (raw, zstd) = engine_stores();
    let logical = raw.shape().iter().product::<u64>() * 8;
    let chunk_len = raw.meta().chunk_bytes();
    let mut group = c.benchmark_group("engine");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(logical));

    let (raw_chunks, _) = chunk_bytes(&raw).unwrap();
    group.bench_function("raw/baseline_sum_mapped", |b| {
        b.iter(|| black_box(sum_mapped(&raw_chunks)))
    });
    let (zstd_chunks, _) = chunk_bytes(&zstd).unwrap();
    group.bench_function("zstd/baseline_decompress", |b| {
        b.iter(|| black_box(decompress_all(&zstd_chunks, chunk_len).unwrap()))
    });
    for (name, array) in [("raw", &raw), ("zstd", &zstd)] {
        let x = LazyArray::from_stored(array);
        let cases: Vec<(&str, LazyArray)> = vec![
            ("sum", x.sum(Axes::all()).unwrap()),
            ("nanmean", x.nanmean(Axes::all()).unwrap()),
            ("std", x.std(Axes::all(), 0.0).unwrap()),
            (
                "fused_abs_of_affine_sum",
                ((&x * 1.5) - 20.0).abs().unwrap().sum(Axes::all()).unwrap(),
            ),
            (
                "fused_square_minus_x_sum",
                ((&x * &x) - &x).sum(Axes::all()).unwrap(),
            ),
            ("mean_axis0", x.mean(0).unwrap()),
        ];
        for (op, expr) in cases {
            group.bench_function(format!("{name}/{op}"), |b| {
                b.iter(|| black_box(expr.compute().scan_data().to_ndarray::<f64>().unwrap()))
            });
        }
    }
    let n = logical / 8;
    let uniform = outcore::random::uniform(3, &[n], 0.0, 1.0)
        .unwrap()
        .mean(Axes::all())
        .unwrap();
    group.bench_function("random/uniform_mean", |b| {
        b.iter(|| black_box(uniform.to_scalar::<f64>().unwrap()))
    });
    group.finish();
}

/// The criterion group (a module so the generated function can carry the lint exception).
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
criterion_main!(group::benches);
