//! What the benchmarks share: the data size, where generated data is kept, the realistic
//! field they measure, and the physical limits they are measured against (summing the mapped
//! bytes of a raw store, decompressing the chunks of a zstd store, on all cores).

// Each bench (and the peer runner) uses its own part of this module.
#![allow(dead_code)]

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::Arc;

use outcore::test_support::{
    iter_box, zstd_decode_into, AlignedBuf, ChunkLocation, MappedFile, ShardIndex,
};
use outcore::{Array, ArraySpec, ChunkEncoding, DataType, LazyArray, Store};
use rayon::prelude::*;

/// The benchmarks' fallible results: their errors are only ever printed.
pub(crate) type BenchResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

/// Columns of the benchmark field.
pub(crate) const COLS: u64 = 8192;

/// Logical bytes of data: `OUTCORE_BENCH_BYTES` (a size such as `1GiB`), else `default`.
pub(crate) fn bytes(default: u64) -> u64 {
    std::env::var("OUTCORE_BENCH_BYTES")
        .ok()
        .and_then(|s| parse_size::parse_size(s).ok())
        .unwrap_or(default)
}

/// Where generated benchmark data is written once and reused.
pub(crate) fn bench_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/outcore-bench")
}

/// A smooth field plus noise, rounded to 2 decimals like instrument data (compresses ~3x):
/// `rows` x [`COLS`] float64.
pub(crate) fn field(rows: u64) -> LazyArray {
    let noise = outcore::random::normal(1, &[rows, COLS], 0.0, 0.5).unwrap();
    let i = LazyArray::arange(0.0, rows as f64, 1.0)
        .unwrap()
        .reshape(&[-1, 1])
        .unwrap();
    let j = LazyArray::arange(0.0, COLS as f64, 1.0).unwrap();
    let wave = (((&i / 50.0).sin().unwrap() * (&j / 70.0).cos().unwrap()) * 10.0) + 15.0;
    ((&wave + &noise) * 100.0).round().unwrap() / 100.0
}

/// One stored inner chunk: its bytes as they are on disk, inside a mapped shard file.
pub(crate) struct StoredChunk {
    file: Arc<MappedFile>,
    offset: usize,
    len: usize,
}

impl StoredChunk {
    /// The chunk's stored (possibly compressed) bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.file.bytes()[self.offset..self.offset + self.len]
    }
}

/// Every stored chunk of an array in outcore's profile, shard after shard (missing shards and
/// chunks have no bytes and are left out), with the profile's inner-chunk encoding. Shard
/// indexes are checked as outcore checks them.
pub(crate) fn chunk_bytes(array: &Array) -> BenchResult<(Vec<StoredChunk>, ChunkEncoding)> {
    let (Some(profile), Some(encoding)) = (&array.meta().profile, array.encoding()) else {
        return Err(format!(
            "{}: not an array in outcore's profile",
            array.path().display()
        )
        .into());
    };
    let grid = array.grid();
    let per_shard = grid.chunks_per_shard_total();
    let shards: Vec<_> = grid.shard_grid_shape().iter().map(|&n| 0..n).collect();
    let mut out = Vec::new();
    for shard in iter_box(&shards) {
        let path = array.path().join(array.meta().key_encoding.key(&shard));
        let Some(file) = MappedFile::open(&path)? else {
            continue;
        };
        let file = Arc::new(file);
        let index = ShardIndex::parse(
            file.bytes(),
            per_shard,
            profile.index_location,
            &path,
            |_| vec![],
        )?;
        for slot in 0..index.len() {
            if let ChunkLocation::Stored { offset, nbytes } = index.get(slot) {
                out.push(StoredChunk {
                    file: file.clone(),
                    offset: offset as usize,
                    len: nbytes as usize,
                });
            }
        }
    }
    Ok((out, encoding.clone()))
}

/// The floor of a reduction over a raw float64 store: the sum of every chunk's mapped bytes
/// as `f64` by `element::pairwise_sum_by` (eight accumulators, prefetching ahead), on all
/// cores.
/// Chunks must be raw float64 at 8-byte aligned offsets (outcore page-aligns raw chunks).
pub(crate) fn sum_mapped(chunks: &[StoredChunk]) -> BenchResult<f64> {
    chunks
        .par_iter()
        .map(|chunk| {
            let values: &[f64] = bytemuck::try_cast_slice(chunk.bytes()).map_err(|e| {
                format!(
                    "{} at offset {}: not a raw float64 chunk ({e})",
                    chunk.file.path().display(),
                    chunk.offset
                )
            })?;
            // The engine's own summation loop (pairwise, prefetching ahead) with no engine
            // around it: what any reduction over these bytes costs at least.
            Ok(outcore::test_support::pairwise_sum_by(values, &|v: f64| v))
        })
        .sum()
}

thread_local! {
    static BUF: RefCell<Option<AlignedBuf>> = const { RefCell::new(None) };
}

/// The floor of a reduction over a zstd store: decompressing every chunk into a reused
/// per-thread buffer of `chunk_len` bytes, on all cores. Returns the decoded bytes (plus one
/// byte of each chunk, so the work cannot be optimised away).
pub(crate) fn decompress_all(chunks: &[StoredChunk], chunk_len: usize) -> BenchResult<u64> {
    chunks
        .par_iter()
        .map(|chunk| {
            BUF.with(|b| {
                let mut b = b.borrow_mut();
                let buf = b.get_or_insert_with(|| AlignedBuf::zeroed(chunk_len));
                let n = zstd_decode_into(chunk.bytes(), buf.as_bytes_mut()).map_err(|e| {
                    format!(
                        "{} at offset {}: zstd: {e}",
                        chunk.file.path().display(),
                        chunk.offset
                    )
                })?;
                Ok(n as u64 + u64::from(buf.as_bytes()[0]))
            })
        })
        .sum()
}

/// The engine benchmarks' reference field ([`field`]), `bytes(4 GiB)` of float64 in
/// `16 x COLS` chunks, as a raw and a zstd-1 store, written once under [`bench_dir`]: the raw
/// array with the default cache, the zstd one with none (every pass decodes).
pub(crate) fn engine_stores() -> (Array, Array) {
    let rows = bytes(4 << 30) / 8 / COLS;
    let root = bench_dir().join(format!("engine-{rows}x{COLS}.zarr"));
    if !root.join("zstd/zarr.json").exists() {
        let _ = std::fs::remove_dir_all(&root);
        let store = Store::create(&root).unwrap();
        let x = field(rows);
        for (name, encoding) in [
            ("raw", ChunkEncoding::raw()),
            ("zstd", ChunkEncoding::zstd(1)),
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
