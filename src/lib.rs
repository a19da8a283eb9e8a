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
//! noise.add(15.0)?.to_store(&store, "t2m", &spec)?;
//!
//! let t = LazyArray::from_stored(&store.open_array("t2m")?);
//! let climatology = t.nanmean(Axes::from(0).keepdims())?;    // (1, 90, 180)
//! let anomaly = t.sub(&climatology)?;                          // broadcast over days
//! let spread: f64 = anomaly.std(Axes::all(), 0.0)?.to_scalar()?;
//! assert!((spread - 3.0).abs() < 0.05);
//!
//! // Selections push down: only the chunks under these 10 columns are read.
//! let column_means = t.mean(0)?.slice(s![0..10, 0..10])?.to_ndarray::<f64>()?;
//! assert_eq!(column_means.shape(), &[10, 10]);
//! # Ok(())
//! # }
//! ```
//!
//! The layers, each a module depending only on those before it (see `ARCHITECTURE.md`):
//! [`element`], [`format`], [`storage`], [`codec`], [`cache`], then [`store`], the public
//! face of the first five; [`expr`] (lazy arrays and the planner) and [`exec`] (the
//! executor) above it; [`convert`] (importers and exporters) on top.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod cache;
pub mod codec;
pub mod convert;
pub mod element;
pub mod error;
pub mod exec;
pub mod expr;
pub mod format;
pub mod storage;
pub mod store;

pub use cache::{ChunkCache, LruChunkCache};
pub use codec::ChunkEncoding;
pub use element::{DataType, Element, FillValue, Kind, Scalar};
pub use error::{Error, Result};
pub use exec::{Compute, Progress};
pub use expr::{random, Axes, Block, LazyArray, Operand, ReduceOp, RegionSource};
pub use store::{Array, ArraySpec, ArrayWriter, Chunk, Store};

/// The `ndarray` version outcore's API uses, re-exported so callers match it.
pub use ndarray;
