//! The decoded-chunk cache under concurrent reads: the budget is never exceeded, evictions
//! happen, and the budget comes from `OUTCORE_CACHE_BYTES` when it is set.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use outcore::{default_budget, ErrorKind, BUDGET_ENV};
use outcore::{ArraySpec, ChunkCache, ChunkEncoding, DataType, LruChunkCache, Store};
use rayon::prelude::*;

#[test]
fn budget_holds_under_parallel_reads_of_an_array_larger_than_it() {
    let dir = tempfile::tempdir().unwrap();
    // 64 chunks of 32 KiB = 2 MiB decoded; the budget holds 5 chunks.
    let budget = 5 * 32 * 1024 + 100;
    let cache = Arc::new(LruChunkCache::new(budget));
    let store = Store::create(dir.path()).unwrap().with_cache(cache.clone());
    let spec = ArraySpec::new(DataType::Float64, &[512, 512])
        .chunks(&[64, 64])
        .shards(&[128, 512])
        .encoding(ChunkEncoding::zstd(1));
    let data =
        ndarray::ArrayD::from_shape_fn(vec![512, 512], |ix| (ix[0] as f64).sin() * ix[1] as f64);
    let w = store.create_array("big", &spec).unwrap();
    w.write_array(data.view()).unwrap();
    let array = w.finish().unwrap();

    let done = AtomicBool::new(false);
    let peak = std::thread::scope(|s| {
        let watcher = s.spawn(|| {
            let mut peak = 0;
            while !done.load(Ordering::Relaxed) {
                peak = peak.max(cache.used());
                std::thread::yield_now();
            }
            peak
        });
        for _ in 0..3 {
            (0..64u64).into_par_iter().for_each(|i| {
                let chunk = array.read_chunk(&[i / 8, i % 8]).unwrap();
                let values = chunk.as_slice::<f64>().unwrap();
                assert_eq!(
                    values[0],
                    data[[(i / 8 * 64) as usize, (i % 8 * 64) as usize]]
                );
            });
        }
        let whole = array.read_all::<f64>().unwrap();
        assert_eq!(whole, data);
        done.store(true, Ordering::Relaxed);
        watcher.join().unwrap()
    });
    let counters = cache.counters();
    assert!(peak <= budget, "peak {peak} > budget {budget}");
    assert!(cache.used() <= budget);
    assert!(counters.evictions >= 64 * 3, "{counters:?}");
    assert!(counters.misses >= 64 * 4 - 5, "{counters:?}");
}

#[test]
fn zero_budget_caches_nothing_and_still_reads() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Arc::new(LruChunkCache::new(0));
    let store = Store::create(dir.path()).unwrap().with_cache(cache.clone());
    let w = store
        .create_array("a", &ArraySpec::new(DataType::Int16, &[100]).chunks(&[10]))
        .unwrap();
    w.write_array(ndarray::Array1::from_iter(0..100i16).into_dyn().view())
        .unwrap();
    let a = w.finish().unwrap();
    assert_eq!(a.read_all::<i16>().unwrap().sum(), (0..100).sum::<i16>());
    assert_eq!(cache.used(), 0);
    assert_eq!(cache.counters().rejected, 10);
}

#[test]
fn environment_variable_sets_the_default_budget() {
    // This test binary has no other test reading the variable.
    std::env::set_var(BUDGET_ENV, "96MiB");
    assert_eq!(default_budget().unwrap(), 96 << 20);
    std::env::set_var(BUDGET_ENV, "1.5GiB");
    assert_eq!(default_budget().unwrap(), 3 << 29);
    // A value that is not a size is an error naming the variable, never a silent fallback.
    for bad in ["a lot", "", "-5", "1e30", "garbage"] {
        std::env::set_var(BUDGET_ENV, bad);
        let err = default_budget().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{bad:?}");
        assert!(err.to_string().contains(BUDGET_ENV), "{err}");
    }
    std::env::remove_var(BUDGET_ENV);
    let fallback = default_budget().unwrap();
    let available = std::fs::read_to_string("/proc/meminfo").map_or(u64::MAX, |m| {
        let kib: u64 = m
            .lines()
            .find(|l| l.starts_with("MemAvailable:"))
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        kib * 1024
    });
    assert!(
        fallback > 0 && fallback <= available / 2,
        "the default is a fraction of what is available: {fallback}"
    );
}

/// A streaming pass (a reduction, or `read_chunk_streaming`) leaves the cache empty, uses
/// chunks already cached, and never reuses the buffer of a chunk still held: chunks kept
/// while later ones are decoded keep their values.
#[test]
fn streaming_reads_bypass_the_cache_and_never_reuse_a_held_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Arc::new(LruChunkCache::new(1 << 30));
    let store = Store::create(dir.path()).unwrap().with_cache(cache.clone());
    let spec = ArraySpec::new(DataType::Float64, &[256, 256])
        .chunks(&[32, 32])
        .shards(&[64, 256])
        .encoding(ChunkEncoding::zstd(1));
    let data =
        ndarray::ArrayD::from_shape_fn(vec![256, 256], |ix| (ix[0] * 256 + ix[1]) as f64 * 0.25);
    let w = store.create_array("z", &spec).unwrap();
    w.write_array(data.view()).unwrap();
    let array = w.finish().unwrap();

    let x = outcore::LazyArray::from_stored(&array);
    let sum = x
        .sum(outcore::Axes::all())
        .unwrap()
        .compute()
        .scan_data()
        .to_scalar::<f64>()
        .unwrap();
    assert_eq!(sum, data.iter().sum::<f64>());
    assert_eq!(cache.used(), 0, "a streaming pass filled the cache");

    // Held chunks keep their values while others are decoded on the same threads.
    let coords: Vec<[u64; 2]> = (0..8).flat_map(|i| (0..8).map(move |j| [i, j])).collect();
    let held: Vec<_> = coords
        .par_iter()
        .map(|c| array.read_chunk_streaming(c).unwrap())
        .collect();
    for (c, chunk) in coords.iter().zip(&held) {
        let values = chunk.as_slice::<f64>().unwrap();
        let (r, k) = (c[0] as usize * 32, c[1] as usize * 32);
        assert_eq!(values[0], data[[r, k]], "chunk {c:?}");
        assert_eq!(values[32 * 32 - 1], data[[r + 31, k + 31]], "chunk {c:?}");
    }
    assert_eq!(cache.used(), 0);

    // A chunk cached by random access is then served to a streaming read.
    array.read_chunk(&[3, 4]).unwrap();
    let hits = cache.counters().hits;
    array.read_chunk_streaming(&[3, 4]).unwrap();
    assert_eq!(cache.counters().hits, hits + 1);
}
