//! Engine throughput against the floor set by the hardware: reductions over raw and zstd
//! stores next to the time to just sum the mapped bytes / just decompress the same chunks on
//! all cores; nanmean, std and a fused expression next to plain sum; a counter-based random
//! array's mean. Throughput is logical (decoded) bytes.
//!
//! `cargo bench --bench engine` (data: `OUTCORE_BENCH_BYTES`, default 4 GiB per store,
//! written once to `target/outcore-bench/` and reused; page cache warm after the first pass).

use std::cell::RefCell;
use std::hint::black_box;
use std::sync::Arc;

use criterion::{criterion_main, Criterion, Throughput};
use outcore::codec::{zstd_decode_into, AlignedBuf};
use outcore::format::grid::iter_box;
use outcore::format::{ChunkLocation, IndexLocation, ShardIndex};
use outcore::storage::MappedFile;
use outcore::{Array, ArraySpec, Axes, ChunkEncoding, DataType, LazyArray, Store};
use rayon::prelude::*;

mod common;

use common::{bench_dir, bytes, field, COLS};

fn stores() -> (Array, Array) {
    let rows = bytes(4 << 30) / 8 / COLS;
    let root = bench_dir().join(format!("engine-{rows}x{COLS}.zarr"));
    if !root.join("zstd/zarr.json").exists() {
        let _ = std::fs::remove_dir_all(&root);
        let store = Store::create(&root).unwrap();
        let x = field(rows);
        for (name, encoding) in [
            ("raw", ChunkEncoding::Raw),
            ("zstd", ChunkEncoding::Zstd { level: 1 }),
        ] {
            let spec = ArraySpec::new(DataType::Float64, &[rows, COLS])
                .chunks(&[16, COLS])
                .encoding(encoding);
            x.to_store(&store, name, &spec).unwrap();
        }
    }
    // The raw store keeps the default cache (its chunks are zero-copy views, never cached,
    // and its mapped pages stay resident when the array fits the budget); the zstd store has
    // no cache for decoded chunks, so every pass decodes, as a pass over a store larger than
    // memory does (and as the decompress baseline does).
    let raw = Store::open(&root).unwrap().open_array("raw").unwrap();
    let zstd = Store::open(&root)
        .unwrap()
        .with_cache(Arc::new(outcore::LruChunkCache::new(0)))
        .open_array("zstd")
        .unwrap();
    (raw, zstd)
}

/// Every stored chunk's bytes: (shard file, offset, length).
fn chunk_bytes(array: &Array) -> Vec<(Arc<MappedFile>, usize, usize)> {
    let grid = array.grid();
    let per_shard = grid.chunks_per_shard_total();
    let mut out = Vec::new();
    for shard in iter_box(
        &grid
            .shard_grid_shape()
            .iter()
            .map(|&n| 0..n)
            .collect::<Vec<_>>(),
    ) {
        let path = array.path().join(array.meta().key_encoding.key(&shard));
        let file = Arc::new(MappedFile::open(&path).unwrap().unwrap());
        let index = ShardIndex::parse(
            file.bytes(),
            per_shard,
            IndexLocation::End,
            &path,
            |_| vec![],
        )
        .unwrap();
        for slot in 0..index.len() {
            if let ChunkLocation::Stored { offset, nbytes } = index.get(slot) {
                out.push((file.clone(), offset as usize, nbytes as usize));
            }
        }
    }
    out
}

fn sum_mapped(chunks: &[(Arc<MappedFile>, usize, usize)]) -> f64 {
    chunks
        .par_iter()
        .map(|(file, offset, len)| {
            let values: &[f64] = bytemuck::cast_slice(&file.bytes()[*offset..offset + len]);
            let mut acc = [0.0f64; 8];
            for lane in values.chunks_exact(8) {
                for (a, v) in acc.iter_mut().zip(lane) {
                    *a += v;
                }
            }
            acc.iter().sum::<f64>()
        })
        .sum()
}

thread_local! {
    static BUF: RefCell<Option<AlignedBuf>> = const { RefCell::new(None) };
}

fn decompress_all(chunks: &[(Arc<MappedFile>, usize, usize)], chunk_len: usize) -> u64 {
    chunks
        .par_iter()
        .map(|(file, offset, len)| {
            BUF.with(|b| {
                let mut b = b.borrow_mut();
                let buf = b.get_or_insert_with(|| AlignedBuf::zeroed(chunk_len));
                let n = zstd_decode_into(&file.bytes()[*offset..offset + len], buf.as_bytes_mut())
                    .unwrap();
                n as u64 + u64::from(buf.as_bytes()[0])
            })
        })
        .sum()
}

fn bench(c: &mut Criterion) {
    let (raw, zstd) = stores();
    let logical = raw.shape().iter().product::<u64>() * 8;
    let chunk_len = raw.meta().chunk_bytes();
    let mut group = c.benchmark_group("engine");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(logical));

    let raw_chunks = chunk_bytes(&raw);
    group.bench_function("raw/baseline_sum_mapped", |b| {
        b.iter(|| black_box(sum_mapped(&raw_chunks)))
    });
    let zstd_chunks = chunk_bytes(&zstd);
    group.bench_function("zstd/baseline_decompress", |b| {
        b.iter(|| black_box(decompress_all(&zstd_chunks, chunk_len)))
    });
    for (name, array) in [("raw", &raw), ("zstd", &zstd)] {
        let x = LazyArray::from_stored(array);
        let cases: Vec<(&str, LazyArray)> = vec![
            ("sum", x.sum(Axes::all()).unwrap()),
            ("nanmean", x.nanmean(Axes::all()).unwrap()),
            ("std", x.std(Axes::all(), 0.0).unwrap()),
            (
                "fused_abs_of_affine_sum",
                x.mul(1.5)
                    .unwrap()
                    .sub(20.0)
                    .unwrap()
                    .abs()
                    .unwrap()
                    .sum(Axes::all())
                    .unwrap(),
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
