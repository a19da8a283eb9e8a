//! Layer 5: the decoded-chunk cache — decoded chunks kept under a byte budget so repeated
//! reads of a chunk (overlapping blocks, reshapes across chunk boundaries) decode it once.
//!
//! Zero-copy chunks (uncompressed, aligned) are never cached: they are already in memory as
//! mapped pages and the kernel's page cache manages them. Do not use a cache for a single
//! streaming pass that touches each chunk once — it only adds copies; give such passes a
//! budget of 0.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use lru::LruCache;

use crate::codec::AlignedBuf;

mod budget;

pub use budget::{default_budget, parse_size, BUDGET_ENV, DEFAULT_BUDGET_FRACTION};

/// Identifies a chunk: the id of an open array (unique in the process) and the chunk's C-order
/// index in that array's chunk grid.
pub type ChunkKey = (u64, u64);

/// Counters since a cache was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CacheCounters {
    /// Lookups that found the chunk.
    pub hits: u64,
    /// Lookups that did not.
    pub misses: u64,
    /// Chunks dropped to make room.
    pub evictions: u64,
    /// Chunks not kept because they alone exceed the budget.
    pub rejected: u64,
}

/// A cache of decoded chunks.
pub trait ChunkCache: Send + Sync + std::fmt::Debug {
    /// The chunk, if held (counts a hit or a miss).
    fn get(&self, key: ChunkKey) -> Option<Arc<AlignedBuf>>;
    /// Keeps a chunk, evicting the least recently used ones to stay within the budget.
    fn insert(&self, key: ChunkKey, chunk: Arc<AlignedBuf>);
    /// The budget in bytes.
    fn budget(&self) -> u64;
    /// Bytes held now (never more than the budget).
    fn used(&self) -> u64;
    /// The counters.
    fn counters(&self) -> CacheCounters;
}

/// A least-recently-used cache limited by the decoded bytes it holds.
#[derive(Debug)]
pub struct LruChunkCache {
    budget: u64,
    state: Mutex<LruState>,
    hits: AtomicU64,
    misses: AtomicU64,
    evictions: AtomicU64,
    rejected: AtomicU64,
}

#[derive(Debug)]
struct LruState {
    entries: LruCache<ChunkKey, Arc<AlignedBuf>>,
    used: u64,
}

impl LruChunkCache {
    /// A cache holding at most `budget` bytes of decoded chunks.
    pub fn new(budget: u64) -> Self {
        Self {
            budget,
            state: Mutex::new(LruState {
                entries: LruCache::unbounded(),
                used: 0,
            }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
        }
    }

    /// A cache with the default budget ([`default_budget`]).
    ///
    /// # Errors
    /// As [`default_budget`]: `OUTCORE_CACHE_BYTES` is set but is not a size.
    pub fn with_default_budget() -> crate::Result<Self> {
        Ok(Self::new(default_budget()?))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruState> {
        // A panic while holding the lock cannot leave the map inconsistent (every mutation
        // is a single call), so a poisoned lock is safe to keep using.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ChunkCache for LruChunkCache {
    fn get(&self, key: ChunkKey) -> Option<Arc<AlignedBuf>> {
        let found = self.lock().entries.get(&key).cloned();
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    fn insert(&self, key: ChunkKey, chunk: Arc<AlignedBuf>) {
        let size = chunk.len() as u64;
        if size > self.budget {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut state = self.lock();
        if let Some(old) = state.entries.pop(&key) {
            state.used -= old.len() as u64;
        }
        while state.used + size > self.budget {
            let (_, evicted) = state.entries.pop_lru().expect("used > 0 implies an entry");
            state.used -= evicted.len() as u64;
            self.evictions.fetch_add(1, Ordering::Relaxed);
        }
        state.used += size;
        state.entries.put(key, chunk);
    }

    fn budget(&self) -> u64 {
        self.budget
    }

    fn used(&self) -> u64 {
        self.lock().used
    }

    fn counters(&self) -> CacheCounters {
        CacheCounters {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            evictions: self.evictions.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
        }
    }
}

/// The process-wide cache arrays use unless given another, created on first use with the
/// default budget.
///
/// # Errors
/// Until it is created, as [`default_budget`]: `OUTCORE_CACHE_BYTES` is set but is not a
/// size (every store opened with the default cache then fails with this error).
pub fn global_cache() -> crate::Result<Arc<dyn ChunkCache>> {
    static GLOBAL: std::sync::OnceLock<Arc<LruChunkCache>> = std::sync::OnceLock::new();
    if let Some(cache) = GLOBAL.get() {
        return Ok(cache.clone());
    }
    let cache = Arc::new(LruChunkCache::with_default_budget()?);
    Ok(GLOBAL.get_or_init(|| cache).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_is_never_exceeded_and_evictions_happen() {
        let cache = LruChunkCache::new(10_000);
        for i in 0..100u64 {
            cache.insert(
                (1, i),
                Arc::new(AlignedBuf::zeroed(1000 + (i as usize % 7) * 300)),
            );
            assert!(cache.used() <= 10_000);
        }
        let c = cache.counters();
        assert!(c.evictions > 80, "{c:?}");
        assert!(cache.get((1, 99)).is_some());
        assert!(cache.get((1, 0)).is_none());
        cache.insert((2, 0), Arc::new(AlignedBuf::zeroed(20_000)));
        assert_eq!(cache.counters().rejected, 1);
        assert_eq!(cache.counters().hits, 1);
        assert_eq!(cache.counters().misses, 1);
    }
}
