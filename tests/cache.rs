//! The decoded-chunk cache under concurrent reads: the budget is never exceeded, evictions
//! happen, and the budget comes from `OUTCORE_CACHE_BYTES` when it is set.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use outcore::cache::{default_budget, BUDGET_ENV};
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
        .encoding(ChunkEncoding::Zstd { level: 1 });
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
    assert_eq!(default_budget(), 96 << 20);
    std::env::set_var(BUDGET_ENV, "1.5GiB");
    assert_eq!(default_budget(), 3 << 29);
    std::env::set_var(BUDGET_ENV, "a lot");
    let fallback = default_budget();
    std::env::remove_var(BUDGET_ENV);
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
        "an unparsable value is ignored: {fallback}"
    );
}
