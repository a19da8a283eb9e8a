//! Chunk read throughput: outcore's fast path (zero-copy raw, zstd) against zarrs reading the
//! same store through its own sharded API, and zstd reads over inner-chunk sizes (the
//! measurement behind `DEFAULT_CHUNK_BYTES`). Each read sums the chunk, so every byte is
//! touched. One thread: this is the per-chunk cost; the engine parallelises across chunks.
//!
//! `cargo bench --bench chunk_read`

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use outcore::test_support::unravel;
use outcore::{Array, ArraySpec, ChunkEncoding, DataType, LruChunkCache, Store};
use zarrs::array::CodecOptions;
use zarrs::array::{ArrayShardedReadableExt, ArrayShardedReadableExtCache};

const ROWS: usize = 4096;
const COLS: usize = 2048;
const BYTES: u64 = (ROWS * COLS * 8) as u64;

/// A smooth field plus noise, rounded to 2 decimals like instrument data.
fn field() -> outcore::ndarray::ArrayD<f64> {
    outcore::ndarray::ArrayD::from_shape_fn(vec![ROWS, COLS], |ix| {
        let (i, j) = (ix[0] as f64, ix[1] as f64);
        let noise = ((ix[0] * 7919 + ix[1] * 104_729) % 1000) as f64 / 1000.0 - 0.5;
        (15.0 + 10.0 * (i / 50.0).sin() * (j / 70.0).cos() + noise * 2.0)
            .mul_add(100.0, 0.0)
            .round()
            / 100.0
    })
}

fn write(
    root: &Path,
    name: &str,
    chunk: [u64; 2],
    encoding: ChunkEncoding,
    data: &outcore::ndarray::ArrayD<f64>,
) {
    let store = Store::create(root).unwrap();
    let spec = ArraySpec::new(DataType::Float64, &[ROWS as u64, COLS as u64])
        .chunks(&chunk)
        .shards(&[1024, COLS as u64])
        .encoding(encoding);
    let w = store.create_array(name, &spec).unwrap();
    w.write_array(data.view()).unwrap();
    w.finish().unwrap();
}

fn sum_outcore(array: &Array) -> f64 {
    let grid = array.grid();
    (0..grid.num_chunks())
        .map(|i| {
            let chunk = array
                .read_chunk(&unravel(i, &grid.chunk_grid_shape()))
                .unwrap();
            chunk.as_slice::<f64>().unwrap().iter().sum::<f64>()
        })
        .sum()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("bench.zarr");
    let data = field();
    write(&root, "raw", [128, 1024], ChunkEncoding::raw(), &data);
    for (name, chunk) in [
        ("zstd_256k", [64, 512]),
        ("zstd_1m", [128, 1024]),
        ("zstd_4m", [256, 2048]),
    ] {
        write(&root, name, chunk, ChunkEncoding::zstd(1), &data);
    }
    // The same without zstd's content checksum: the checksum's cost on reads.
    let unchecked = ChunkEncoding::zstd_without_checksum(1);
    write(&root, "zstd_1m_unchecked", [128, 1024], unchecked, &data);
    // No cache: every read decodes, as in a streaming pass.
    let store = Store::open(&root)
        .unwrap()
        .with_cache(Arc::new(LruChunkCache::new(0)));
    let zarrs_store = Arc::new(zarrs::filesystem::FilesystemStore::new(&root).unwrap());

    let mut group = c.benchmark_group("chunk_read");
    group.throughput(Throughput::Bytes(BYTES)).sample_size(10);
    for name in ["raw", "zstd_1m", "zstd_1m_unchecked"] {
        let array = store.open_array(name).unwrap();
        group.bench_function(format!("outcore/{name}"), |b| {
            b.iter(|| black_box(sum_outcore(&array)))
        });
        let zarray = zarrs::array::Array::open(zarrs_store.clone(), &format!("/{name}")).unwrap();
        let cache = ArrayShardedReadableExtCache::new(&zarray);
        let options = CodecOptions::default();
        let grid = array.grid().clone();
        group.bench_function(format!("zarrs/{name}"), |b| {
            b.iter(|| {
                let total: f64 = (0..grid.num_chunks())
                    .map(|i| {
                        let v: Vec<f64> = zarray
                            .retrieve_subchunk_opt(
                                &cache,
                                &unravel(i, &grid.chunk_grid_shape()),
                                &options,
                            )
                            .unwrap();
                        v.iter().sum::<f64>()
                    })
                    .sum();
                black_box(total)
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("zstd_chunk_size");
    group.throughput(Throughput::Bytes(BYTES)).sample_size(10);
    for name in ["zstd_256k", "zstd_1m", "zstd_4m"] {
        let array = store.open_array(name).unwrap();
        group.bench_function(name, |b| b.iter(|| black_box(sum_outcore(&array))));
    }
    group.finish();
}

#[allow(missing_docs)]
mod harness {
    use super::*;
    criterion_group!(benches, bench);
}
criterion_main!(harness::benches);
