//! The grouped mean against a plain sum of the same columns: the mean of a float64 column by a
//! 5-category int8 key (`x.group_by(&key).mean()`, pandas' `df.groupby("key").x.mean()`)
//! next to one fused pass summing both columns (`(x + key).sum()`, every byte of both read
//! once, as the grouping reads them). Target: the grouped mean within 1.3x of the sum.
//! Throughput is the logical bytes of both columns.
//!
//! `cargo bench --bench group` (data: `OUTCORE_BENCH_BYTES`, default 4 GiB of float64 values
//! plus their int8 keys, written once to `target/outcore-bench/` as raw stores and reused;
//! page cache warm after the first pass).

use std::hint::black_box;

use criterion::{criterion_main, Criterion, Throughput};
use outcore::{ArraySpec, Axes, DataType, LazyArray, Store};

mod common;

use common::{bench_dir, bytes};

/// Rows per chunk: 8 MiB of values, 1 MiB of keys.
const CHUNK_ROWS: u64 = 1 << 20;
/// Distinct keys.
const CATEGORIES: i64 = 5;

fn columns() -> (LazyArray, LazyArray) {
    let rows = bytes(4 << 30) / 8;
    let root = bench_dir().join(format!("group-{rows}.zarr"));
    if !root.join("key/zarr.json").exists() {
        let _ = std::fs::remove_dir_all(&root);
        let store = Store::create(&root).unwrap();
        let x = outcore::random::normal(11, &[rows], 10.0, 3.0).unwrap();
        let spec = ArraySpec::new(DataType::Float64, &[rows]).chunks(&[CHUNK_ROWS]);
        x.to_store(&store, "x", &spec).unwrap();
        let key = outcore::random::integers(12, &[rows], 0, CATEGORIES)
            .unwrap()
            .astype(DataType::Int8);
        let spec = ArraySpec::new(DataType::Int8, &[rows]).chunks(&[CHUNK_ROWS]);
        key.to_store(&store, "key", &spec).unwrap();
    }
    let store = Store::open(&root).unwrap();
    (
        LazyArray::from_stored(&store.open_array("x").unwrap()),
        LazyArray::from_stored(&store.open_array("key").unwrap()),
    )
}

fn bench(c: &mut Criterion) {
    let (x, key) = columns();
    let mut group = c.benchmark_group("group");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(x.nbytes() + key.nbytes()));
    let both = (&x + &key).sum(Axes::all()).unwrap();
    group.bench_function("raw/sum_of_both_columns", |b| {
        b.iter(|| black_box(both.compute().scan_data().to_scalar::<f64>().unwrap()))
    });
    let grouping = x.group_by(&key).unwrap();
    group.bench_function("raw/grouped_mean_5_categories", |b| {
        b.iter(|| black_box(grouping.mean().unwrap()))
    });
    group.finish();
}

/// The criterion group (a module so the generated function can carry the lint exception).
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
criterion_main!(group::benches);
