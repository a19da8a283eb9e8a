//! # outcore
//!
//! N-dimensional arrays larger than RAM. Arrays live in a chunked, compressed store on disk —
//! a profile of Zarr v3 with sharding, so every Zarr tool reads it — opened through memory
//! maps: uncompressed chunks are zero-copy views of the file, zstd chunks are decoded through
//! a cache bounded in bytes.
//!
//! ```
//! use outcore::{ArraySpec, ChunkEncoding, DataType, Store};
//! use ndarray::ArrayD;
//!
//! # fn main() -> outcore::Result<()> {
//! let dir = tempfile::tempdir().unwrap();
//! let store = Store::create(dir.path().join("climate.zarr"))?;
//!
//! // A 100 x 60 float64 field in 16 x 16 chunks, 4 x 4 chunks per shard file, zstd level 3.
//! let spec = ArraySpec::new(DataType::Float64, &[100, 60])
//!     .chunks(&[16, 16])
//!     .shards(&[64, 64])
//!     .encoding(ChunkEncoding::zstd(3));
//! let field = ArrayD::from_shape_fn(vec![100, 60], |ix| (ix[0] * 60 + ix[1]) as f64 / 10.0);
//! let writer = store.create_array("temperature", &spec)?;
//! writer.write_array(field.view())?;
//! let array = writer.finish()?;
//!
//! // Read a region back: only the chunks it touches are decoded.
//! let part = array.read_region::<f64>(&[10..20, 0..5])?;
//! assert_eq!(part[[0, 0]], 60.0);
//! assert_eq!(store.arrays()?, vec!["temperature".to_string()]);
//! # Ok(())
//! # }
//! ```
//!
//! Computing over stored arrays is lazy: build an expression, then ask for a result. Every
//! chunk is read only if the result needs it, each block's whole expression is evaluated in
//! one go on all cores, and memory stays within the cache budget whatever the array's size.
//!
//! ```
//! use outcore::{ndarray::s, ArraySpec, Axes, DataType, LazyArray, Store};
//!
//! # fn main() -> outcore::Result<()> {
//! # let dir = tempfile::tempdir().unwrap();
//! let store = Store::create(dir.path().join("grid.zarr"))?;
//! // A stored 365 x 90 x 180 "daily temperature" field, made from a counter-based random
//! // source and streamed into the store chunk by chunk.
//! let noise = outcore::random::normal(42, &[365, 90, 180], 0.0, 3.0)?;
//! let spec = ArraySpec::new(DataType::Float64, &[365, 90, 180]).chunks(&[365, 18, 36]);
//! (noise + 15.0).to_store(&store, "t2m", &spec)?;
//!
//! let t = LazyArray::from_stored(&store.open_array("t2m")?);
//! let climatology = t.nanmean(Axes::from(0).keepdims())?;    // (1, 90, 180)
//! let anomaly = &t - &climatology;                             // broadcast over days
//! let spread: f64 = anomaly.std(Axes::all(), 0.0)?.to_scalar()?;
//! // numpy's ((t - 15) ** 2).mean():
//! let msd: f64 = (&t - 15.0).pow(2)?.mean(Axes::all())?.to_scalar()?;
//! assert!((msd - 9.0).abs() < 0.2);
//! assert!((spread - 3.0).abs() < 0.05);
//!
//! // Selections push down: only the chunks under these 10 columns are read.
//! let column_means = t.mean(0)?.slice(s![0..10, 0..10])?.to_ndarray::<f64>()?;
//! assert_eq!(column_means.shape(), &[10, 10]);
//! # Ok(())
//! # }
//! ```
//!
//! The library is layered (see `ARCHITECTURE.md`): element types, the on-disk format, files,
//! chunk codecs and the chunk cache below the [`Store`]; lazy arrays ([`LazyArray`]) and the
//! executor ([`Compute`]) above it; importers and exporters ([`convert`]) on top. The modules
//! are private; this page lists what callers use.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

mod cache;
mod codec;
#[cfg(feature = "convert")]
pub mod convert;
mod element;
mod error;
#[cfg(feature = "engine")]
mod exec;
#[cfg(feature = "engine")]
mod expr;
mod format;
mod storage;
mod store;

pub use cache::{
    default_budget, global_cache, parse_size, CacheCounters, ChunkCache, ChunkKey, LruChunkCache,
    BUDGET_ENV, DEFAULT_BUDGET_FRACTION,
};
pub use codec::{ChunkEncoding, CodecError};
pub use element::{DataType, Element, FillValue, Kind, Scalar};
pub use error::{Error, ErrorKind, Result};
#[cfg(feature = "engine")]
pub use exec::summary::{summarize, Summaries, Summary};
#[cfg(feature = "engine")]
pub use exec::{
    Agg, AnyArray, Bins, Blocks, Compute, GroupBy, GroupTable, Histogram, Histogram2d, Progress,
    ProgressFn, QuantileMethod, Quantiles, Unique,
};
#[cfg(feature = "engine")]
pub use expr::{
    random, Axes, AxisBlocks, BinaryOp, Block, BlockGrid, InMemoryArray, LazyArray, NumpyIndex,
    Operand, RangeNumber, RangeValue, ReduceOp, RegionSource, UnaryOp, WeakScalar,
    MAX_EXPLICIT_BLOCKS,
};
pub use format::FormatError;
pub use storage::StorageError;
pub use store::inspect::{inspect, inspect_store, ArrayReport, NodeReport, StoreReport};
pub use store::{
    Array, ArraySpec, ArrayWriter, Chunk, Node, NodeKind, StorageSummary, Store, VerifyReport,
};

/// Internals that outcore's own tests, benchmarks, fuzz targets (`fuzz/`) and binary reach
/// into: the format's arithmetic and byte layouts, file helpers and kernels, and the parsers
/// of untrusted bytes as the library calls them (`zarr.json` and the profile test, shard
/// indexes, the statistics sidecar, `.npy` headers, CSV). Not part of the public API: they
/// change without notice.
#[doc(hidden)]
pub mod test_support {
    pub use crate::codec::zstd::zstd_decode_into;
    pub use crate::codec::{AlignedBuf, CODECS};
    pub use crate::element::{pairwise_sum_by, Num};
    pub use crate::format::grid::ChunkGrid;
    pub use crate::format::grid::{iter_box, ravel, unravel};
    pub use crate::format::metadata::{ArrayMeta, IndexLocation, ShardProfile};
    pub use crate::format::shard_index::{index_len, INDEX_CHECKSUM_BYTES};
    pub use crate::format::{ChunkLocation, ChunkStats, ShardIndex, StatsTable, STATS_FILE};
    pub use crate::storage::{
        remove_file_if_exists, write_atomic, FileSystem, MappedFile, OsFileSystem, ASIDE_PREFIX,
        NO_EXCHANGE_ENV, TEMP_PREFIX,
    };
    pub use crate::store::{parse_array_metadata, BackendChoice};

    /// `store`, making every change to the file system through `fs` from now on (arrays it
    /// writes or updates, groups it creates, leftovers it cleans, recoveries when it opens an
    /// array): the seam the power-loss and fault-injection tests replace.
    pub fn with_file_system(
        store: crate::Store,
        fs: std::sync::Arc<dyn FileSystem>,
    ) -> crate::Store {
        store.with_file_system(fs)
    }

    /// Whether `zarr.json` bytes are a group's, as `Store` decides when it lists nodes.
    pub fn is_group_document(bytes: &[u8]) -> bool {
        crate::format::metadata::is_group_document(bytes)
    }

    /// The layout an `.npy` file's header gives, checked against the file's length (what
    /// `convert::binary::RawFile::open_npy` does with the mapped bytes).
    ///
    /// # Errors
    /// As `RawFile::open_npy`: `MalformedInput` naming `path`.
    #[cfg(feature = "convert")]
    pub fn npy_layout(
        bytes: &[u8],
        path: &std::path::Path,
    ) -> crate::Result<crate::convert::binary::RawLayout> {
        crate::convert::binary::npy_layout(bytes, path)
    }

    /// Both passes of a CSV import without a store (see `convert::csv::import_csv`): the
    /// rows an import would convert. Panics if pass 2 finds other good rows than pass 1.
    ///
    /// # Errors
    /// As `import_csv`, except the store's.
    #[cfg(feature = "csv")]
    pub fn csv_check_passes(
        inputs: &[std::path::PathBuf],
        how: Option<crate::convert::Combine>,
        options: &crate::convert::csv::CsvOptions,
    ) -> crate::Result<u64> {
        crate::convert::csv::check_passes(inputs, how, options)
    }
}

/// The `ndarray` version outcore's API uses, re-exported so callers match it.
pub use ndarray;
