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
//!     .encoding(ChunkEncoding::Zstd { level: 3 });
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
//! The layers, each a module depending only on those before it (see `ARCHITECTURE.md`):
//! [`element`], [`format`], [`storage`], [`codec`], [`cache`], then [`store`], the public
//! face of the first five.

#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]

pub mod cache;
pub mod codec;
pub mod element;
pub mod error;
pub mod exec;
pub mod expr;
pub mod format;
pub mod storage;
pub mod store;

pub use cache::{ChunkCache, LruChunkCache};
pub use element::{DataType, Element, FillValue, Kind, Scalar};
pub use error::{Error, Result};
pub use exec::{Compute, Progress};
pub use expr::{random, Axes, Block, LazyArray, Operand, ReduceOp};
pub use format::ChunkEncoding;
pub use store::{Array, ArraySpec, ArrayWriter, Chunk, Store};

/// The `ndarray` version outcore's API uses, re-exported so callers match it.
pub use ndarray;
