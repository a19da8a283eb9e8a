//! Reading an array: chunks through the fast path (mapped shards) or through zarrs, regions
//! assembled from the chunks they touch, statistics, and verification.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use ndarray::{ArrayD, ArrayViewD, IxDyn, Slice};
use rayon::prelude::*;

use super::chunk::{Chunk, ChunkData, ReleaseOnDrop};
use crate::cache::ChunkCache;
use crate::codec::foreign::ForeignArray;
use crate::codec::{le_to_native, AlignedBuf, ChunkAt, ChunkEncoding};
use crate::element::{DataType, Element, FillValue};
use crate::error::{out_of_bounds, too_large, type_mismatch, Error, Result};
use crate::format::grid::{iter_box, pad_into, ravel, unravel};
use crate::format::metadata::{from_document, parse_array};
use crate::format::{
    ArrayMeta, ChunkGrid, ChunkLocation, ChunkStats, FormatError, IndexLocation, ShardIndex,
    StatsTable, METADATA_FILE, STATS_FILE,
};
use crate::storage::{recover, EntryKind, FileSystem, MappedFile, Snapshot};

/// Chunks fetched in parallel per batch when assembling a region: enough to keep every thread
/// busy, few enough that the batch's decoded chunks stay small.
const REGION_BATCH_PER_THREAD: usize = 4;

static NEXT_ARRAY_ID: AtomicU64 = AtomicU64::new(1);

/// A shard file, mapped, with its parsed index (an empty index when the file is missing).
#[derive(Debug)]
pub(crate) struct Shard {
    pub(crate) file: Option<Arc<MappedFile>>,
    pub(crate) index: ShardIndex,
    pub(crate) path: PathBuf,
}

/// How an array's chunks are read: each variant holds exactly what its path needs.
enum Backend {
    /// The fast path: outcore reads the shard index and decodes the chunks with `codec`.
    Profile {
        shards: Shards,
        codec: ChunkEncoding,
    },
    /// Sharded with the standard index but chunk codecs outcore does not have: outcore
    /// reads the index (what is stored, where), zarrs decodes the chunks.
    ShardedForeign {
        shards: Shards,
        foreign: ForeignArray,
    },
    /// Anything else zarrs reads.
    Foreign(ForeignArray),
}

impl Backend {
    fn shards(&self) -> Option<&Shards> {
        match self {
            Backend::Profile { shards, .. } | Backend::ShardedForeign { shards, .. } => {
                Some(shards)
            }
            Backend::Foreign(_) => None,
        }
    }
}

/// The path an array's chunks are read through, as decided from its `zarr.json` alone: the
/// `Backend` that `Array::open` builds, without the files it then opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackendChoice {
    /// On the profile, with a registered codec for the inner chunks.
    Profile {
        /// Where each shard keeps its index.
        location: IndexLocation,
        /// The codec that takes the shard's inner codecs.
        codec: ChunkEncoding,
    },
    /// Sharded with the standard index, inner codecs that no registered codec takes.
    ShardedForeign {
        /// Where each shard keeps its index.
        location: IndexLocation,
    },
    /// Anything else: zarrs reads it.
    Foreign,
}

/// Parses an array's `zarr.json` (`path` names it in errors) and runs the profile test:
/// everything `Array::open` does with those untrusted bytes before it opens another file.
///
/// # Errors
/// The metadata errors of the format layer ([`FormatError::MalformedMetadata`],
/// [`FormatError::UnsupportedDataType`], [`FormatError::InvalidShape`]).
pub fn parse_array_metadata(bytes: &[u8], path: &Path) -> Result<(ArrayMeta, BackendChoice)> {
    let meta = parse_array(bytes, path)?;
    let codec = meta
        .profile
        .as_ref()
        .and_then(|p| ChunkEncoding::from_metadata(&p.codecs));
    let choice = match (meta.index_location, codec) {
        (Some(location), Some(codec)) => BackendChoice::Profile { location, codec },
        (Some(location), None) => BackendChoice::ShardedForeign { location },
        (None, _) => BackendChoice::Foreign,
    };
    Ok((meta, choice))
}

/// The shards of a sharded array with the standard index, mapped on first use.
struct Shards {
    location: IndexLocation,
    mapped: RwLock<HashMap<u64, Arc<Shard>>>,
}

impl Shards {
    fn new(location: IndexLocation) -> Self {
        Self {
            location,
            mapped: RwLock::new(HashMap::new()),
        }
    }
}

struct Inner {
    dir: PathBuf,
    /// The generation read: every file is opened through it.
    snapshot: Snapshot,
    meta: ArrayMeta,
    backend: Backend,
    cache: Arc<dyn ChunkCache>,
    /// This array's key in the cache; replaced by `release_shards` so decoded chunks of
    /// the forgotten shards are never served again.
    cache_id: AtomicU64,
}

/// An open array. Cheap to clone; safe to share between threads.
#[derive(Clone)]
pub struct Array {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Array {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Array")
            .field("dir", &self.inner.dir)
            .field("shape", &self.shape())
            .field("data_type", &self.data_type())
            .finish()
    }
}

/// What an array holds on disk, from its shard indexes (or chunk files).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageSummary {
    /// Chunks in the grid.
    pub chunks_total: u64,
    /// Chunks stored (`None` when the layout does not say without decoding).
    pub chunks_stored: Option<u64>,
    /// Stored chunks readable as zero-copy views.
    pub zero_copy_chunks: u64,
    /// Bytes of all shard or chunk files.
    pub stored_bytes: u64,
    /// Shard (or chunk) files present.
    pub files: u64,
}

/// The outcome of [`Array::verify`].
#[derive(Debug, Default)]
pub struct VerifyReport {
    /// Chunks decoded.
    pub chunks_checked: u64,
    /// Every problem found.
    pub problems: Vec<Error>,
}

impl Array {
    /// Opens the array in the directory `rel` under `root` (Zarr v3 `zarr.json`, or Zarr v2
    /// `.zarray`) as one generation: the directory is held open under a shared lock for the
    /// array's life and every file is read through it, so later writers' swaps never mix
    /// into what this array reads. An overwrite interrupted between its two renames is
    /// recovered through `fs`. Callers go through [`crate::Store::open_array`].
    pub(crate) fn open(
        fs: &dyn FileSystem,
        root: &Path,
        rel: &Path,
        cache: Arc<dyn ChunkCache>,
        follow_symlinks: bool,
    ) -> Result<Array> {
        let dir = if rel.as_os_str().is_empty() {
            root.to_owned()
        } else {
            root.join(rel)
        };
        let snapshot = match Snapshot::open(root, rel, follow_symlinks)? {
            Some(snapshot) => snapshot,
            // An overwrite interrupted between its two renames: put the old array back.
            None if recover(fs, &dir)? => Snapshot::open(root, rel, follow_symlinks)?
                .ok_or_else(|| FormatError::MissingMetadata { path: dir.clone() })?,
            None => return Err(FormatError::MissingMetadata { path: dir }.into()),
        };
        let meta_path = dir.join(METADATA_FILE);
        let (meta, backend) = match snapshot.read(Path::new(METADATA_FILE))? {
            Some(bytes) => {
                let (meta, choice) = parse_array_metadata(&bytes, &meta_path)?;
                let backend = match choice {
                    BackendChoice::Profile { location, codec } => Backend::Profile {
                        shards: Shards::new(location),
                        codec,
                    },
                    BackendChoice::ShardedForeign { location } => Backend::ShardedForeign {
                        shards: Shards::new(location),
                        foreign: ForeignArray::open(&snapshot.stable_path(), &dir)?.1,
                    },
                    BackendChoice::Foreign => {
                        Backend::Foreign(ForeignArray::open(&snapshot.stable_path(), &dir)?.1)
                    }
                };
                (meta, backend)
            }
            None => {
                if !snapshot.is_file(Path::new(".zarray")) {
                    return Err(FormatError::MissingMetadata { path: dir }.into());
                }
                let (document, foreign) = ForeignArray::open(&snapshot.stable_path(), &dir)?;
                (
                    from_document(document, &dir.join(".zarray"))?,
                    Backend::Foreign(foreign),
                )
            }
        };
        Ok(Array {
            inner: Arc::new(Inner {
                dir,
                snapshot,
                meta,
                backend,
                cache,
                cache_id: AtomicU64::new(NEXT_ARRAY_ID.fetch_add(1, Ordering::Relaxed)),
            }),
        })
    }

    /// The generation this array reads.
    pub(crate) fn snapshot(&self) -> &Snapshot {
        &self.inner.snapshot
    }

    /// The array's directory.
    pub fn path(&self) -> &Path {
        &self.inner.dir
    }

    /// The parsed metadata.
    pub fn meta(&self) -> &ArrayMeta {
        &self.inner.meta
    }

    /// The grid (shape, chunk shape, shard shape).
    pub fn grid(&self) -> &ChunkGrid {
        &self.inner.meta.grid
    }

    /// The shape.
    pub fn shape(&self) -> &[u64] {
        self.grid().shape()
    }

    /// The element type.
    pub fn data_type(&self) -> DataType {
        self.inner.meta.data_type
    }

    /// The fill value.
    pub fn fill_value(&self) -> &FillValue {
        &self.inner.meta.fill_value
    }

    /// The user attributes (`attributes` in `zarr.json`; a Zarr v2 array's `.zattrs`), such
    /// as CF `units` and `calendar`.
    pub fn attributes(&self) -> &serde_json::Map<String, serde_json::Value> {
        self.inner.meta.attributes()
    }

    /// The axis names, one per axis: `dimension_names` in `zarr.json`, or a Zarr v2 array's
    /// `_ARRAY_DIMENSIONS` attribute as xarray writes it; `None` when the array has neither.
    /// An axis without a name is `None`.
    pub fn dimension_names(&self) -> Option<Vec<Option<String>>> {
        self.inner.meta.dimension_names()
    }

    /// Whether chunks are read on the fast path (outcore's own index parsing and codecs).
    pub fn is_fast_path(&self) -> bool {
        self.encoding().is_some()
    }

    /// How the chunks are encoded, when the array is on the fast path.
    pub fn encoding(&self) -> Option<&ChunkEncoding> {
        match &self.inner.backend {
            Backend::Profile { codec, .. } => Some(codec),
            Backend::ShardedForeign { .. } | Backend::Foreign(_) => None,
        }
    }

    /// The cache this array decodes through.
    pub fn cache(&self) -> &Arc<dyn ChunkCache> {
        &self.inner.cache
    }

    fn check_chunk(&self, chunk: &[u64]) -> Result<()> {
        if self.grid().contains_chunk(chunk) {
            Ok(())
        } else {
            Err(out_of_bounds(format!(
                "chunk {chunk:?} is outside the chunk grid {:?} of {}",
                self.grid().chunk_grid_shape(),
                self.inner.dir.display()
            )))
        }
    }

    /// The shard with shard-grid coordinates `coords`, mapped and its index checked on first
    /// use.
    pub(crate) fn shard(&self, coords: &[u64]) -> Result<Option<Arc<Shard>>> {
        let Some(shards) = self.inner.backend.shards() else {
            return Ok(None);
        };
        let key = ravel(coords, &self.grid().shard_grid_shape());
        if let Some(shard) = shards
            .mapped
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(Some(shard.clone()));
        }
        let grid = self.grid();
        let file_key = self.inner.meta.key_encoding.key(coords);
        let path = self.inner.dir.join(&file_key);
        let file = self.inner.snapshot.map(Path::new(&file_key))?;
        let slots = grid.chunks_per_shard_total();
        let index = match &file {
            None => ShardIndex::empty(slots as usize),
            Some(f) => ShardIndex::parse(f.bytes(), slots, shards.location, &path, |slot| {
                grid.chunk_at_slot(coords, slot)
            })?,
        };
        let shard = Arc::new(Shard {
            file: file.map(Arc::new),
            index,
            path,
        });
        let mut map = shards.mapped.write().unwrap_or_else(|p| p.into_inner());
        Ok(Some(map.entry(key).or_insert(shard).clone()))
    }

    /// Forgets the mapping of every shard, returning the address space and page references.
    /// Later reads map the files afresh from the same generation: to see a newer one, open
    /// the array again.
    pub fn release_shards(&self) {
        if let Some(shards) = self.inner.backend.shards() {
            shards
                .mapped
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .clear();
        }
        self.inner.cache_id.store(
            NEXT_ARRAY_ID.fetch_add(1, Ordering::Relaxed),
            Ordering::Relaxed,
        );
    }

    /// Reads one inner chunk (grid coordinates). Uncompressed aligned chunks come back as
    /// zero-copy views; others are decoded through the cache; never-written chunks are the
    /// fill value.
    ///
    /// # Errors
    /// `chunk` outside the chunk grid ([`crate::ErrorKind::OutOfBounds`]); a damaged shard
    /// index or chunk ([`crate::ErrorKind::Corrupt`], naming the file, the chunk and the
    /// offset); a shard that cannot be mapped ([`crate::ErrorKind::Io`]).
    pub fn read_chunk(&self, chunk: &[u64]) -> Result<Chunk> {
        self.read_chunk_with(chunk, Pass::Cached)
    }

    /// As [`Array::read_chunk`], for a pass that reads each chunk once. A decoded chunk is
    /// not kept in the cache (a cached one is still used): it is decoded into one of a few
    /// buffers per thread, reused once the chunk returned earlier has been dropped, so a
    /// pass costs neither cache memory nor fresh pages. The pages of the stored bytes of a
    /// decoded chunk are released from the resident set once decoded (mapping them again
    /// on the next pass costs little next to decoding). A zero-copy chunk's pages are
    /// released when the last clone of the returned chunk is dropped only when the array is
    /// larger than the cache budget (so its mapped pages could outgrow it): a smaller array
    /// keeps them mapped, because mapping them again doubles the time of the next pass.
    /// Releasing never changes what is read (pages fault back in from the file).
    ///
    /// # Errors
    /// As [`Array::read_chunk`].
    pub fn read_chunk_streaming(&self, chunk: &[u64]) -> Result<Chunk> {
        let release_views = self.larger_than_budget();
        self.read_chunk_with(chunk, Pass::Streaming { release_views })
    }

    /// Whether the array's elements outgrow the cache budget, so that a pass keeping the
    /// pages of its zero-copy chunks mapped could outgrow it too.
    fn larger_than_budget(&self) -> bool {
        let logical = (self.grid().elements()).saturating_mul(self.data_type().size() as u64);
        logical > self.inner.cache.budget()
    }

    fn read_chunk_with(&self, chunk: &[u64], pass: Pass) -> Result<Chunk> {
        self.check_chunk(chunk)?;
        match &self.inner.backend {
            Backend::Profile { codec, .. } => self.read_profile_chunk(chunk, codec, pass),
            Backend::ShardedForeign { foreign, .. } | Backend::Foreign(foreign) => {
                self.read_foreign_chunk(chunk, foreign)
            }
        }
    }

    /// A chunk of `chunk`'s shape holding `data`.
    fn make_chunk(&self, chunk: &[u64], data: ChunkData) -> Chunk {
        let grid = self.grid();
        Chunk {
            data,
            data_type: self.data_type(),
            shape: grid.chunk_shape().to_vec(),
            valid_shape: grid.chunk_valid_shape(chunk),
            release: None,
        }
    }

    /// The cache key of a decoded chunk (only decoded chunks go through the cache).
    fn cache_key(&self, chunk: &[u64]) -> (u64, u64) {
        (
            self.inner.cache_id.load(Ordering::Relaxed),
            ravel(chunk, &self.grid().chunk_grid_shape()),
        )
    }

    /// The fast path: the chunk's bytes from its mapped shard, viewed in place when `codec`
    /// stores the elements themselves, else decoded by `codec` (through the cache, or into a
    /// recycled buffer when streaming).
    fn read_profile_chunk(
        &self,
        chunk: &[u64],
        codec: &ChunkEncoding,
        pass: Pass,
    ) -> Result<Chunk> {
        let meta = &self.inner.meta;
        let (shard_coords, slot) = self.grid().shard_of(chunk);
        let shard = self
            .shard(&shard_coords)?
            .expect("a profile array is sharded");
        let ChunkLocation::Stored { offset, nbytes } = shard.index.get(slot as usize) else {
            return Ok(self.make_chunk(chunk, ChunkData::Fill(meta.fill_value.clone())));
        };
        let file = shard.file.as_ref().expect("a stored chunk implies a file");
        let expected = meta.chunk_bytes();
        let range = offset as usize..(offset + nbytes) as usize;
        let codec = codec.codec();
        if codec.zero_copy()
            && nbytes == expected as u64
            && zero_copy_offset(offset, meta.data_type)
        {
            let mut view = self.make_chunk(
                chunk,
                ChunkData::Mapped {
                    file: file.clone(),
                    offset: offset as usize,
                    len: expected,
                },
            );
            if pass.releases_views() {
                // Released pages fault back one by one on the next pass; map them in one
                // call instead.
                file.populate(range.clone());
                view.release = Some(Arc::new(ReleaseOnDrop {
                    file: file.clone(),
                    range,
                }));
            }
            return Ok(view);
        }
        if let Some(hit) = self.inner.cache.get(self.cache_key(chunk)) {
            return Ok(self.make_chunk(chunk, ChunkData::Decoded(hit)));
        }
        let mut shared = match pass {
            Pass::Streaming { .. } => recycled_buffer(expected),
            Pass::Cached | Pass::Assembling { .. } => Arc::new(AlignedBuf::zeroed(expected)),
        };
        let buf = Arc::get_mut(&mut shared).expect("a new or unshared buffer");
        let at = ChunkAt {
            path: &shard.path,
            chunk,
            offset,
        };
        codec.decode_into(&file.bytes()[range.clone()], buf.as_bytes_mut(), &at)?;
        le_to_native(buf.as_bytes_mut(), meta.data_type.size());
        match pass {
            Pass::Streaming { .. } => {
                file.release(range);
                recycle(&shared);
            }
            Pass::Assembling { .. } => {
                file.release(range);
                self.inner
                    .cache
                    .insert(self.cache_key(chunk), shared.clone());
            }
            Pass::Cached => self
                .inner
                .cache
                .insert(self.cache_key(chunk), shared.clone()),
        }
        Ok(self.make_chunk(chunk, ChunkData::Decoded(shared)))
    }

    /// The general path: the chunk's region read by zarrs, padded with the fill value to a
    /// whole chunk, through the cache.
    fn read_foreign_chunk(&self, chunk: &[u64], foreign: &ForeignArray) -> Result<Chunk> {
        if let Some(hit) = self.inner.cache.get(self.cache_key(chunk)) {
            return Ok(self.make_chunk(chunk, ChunkData::Decoded(hit)));
        }
        let grid = self.grid();
        let meta = &self.inner.meta;
        let dense = foreign.read_region(&grid.chunk_region(chunk))?;
        let valid = grid.chunk_valid_shape(chunk);
        let mut buf = AlignedBuf::filled(meta.chunk_bytes(), meta.fill_value.le_bytes());
        pad_into(
            &dense,
            buf.as_bytes_mut(),
            grid.chunk_shape(),
            &valid,
            meta.data_type.size(),
        );
        let buf = Arc::new(buf);
        self.inner.cache.insert(self.cache_key(chunk), buf.clone());
        Ok(self.make_chunk(chunk, ChunkData::Decoded(buf)))
    }

    /// Reads `region` (one range per axis, inside the shape) into an n-d array, touching only
    /// the chunks the region overlaps.
    ///
    /// # Errors
    /// `T` is not the array's type ([`crate::ErrorKind::TypeMismatch`]); `region` is not
    /// inside the shape ([`crate::ErrorKind::OutOfBounds`]); a result memory cannot hold
    /// ([`crate::ErrorKind::TooLarge`]); as [`Array::read_chunk`] for each chunk read.
    pub fn read_region<T: Element>(&self, region: &[Range<u64>]) -> Result<ArrayD<T>> {
        self.read_region_with(region, Pass::Cached)
    }

    /// As [`Array::read_region`], for a pass over the array: a chunk wholly inside `region`
    /// is read as [`Array::read_chunk_streaming`] reads it, past the cache; one the region
    /// cuts goes through the cache (the neighbouring regions of the pass read it too). Either
    /// way the pages of its stored bytes are released once decoded, and those of a zero-copy
    /// chunk once copied when the array is larger than the cache budget, so the pass's
    /// resident set stays within the budget.
    #[cfg(feature = "engine")]
    pub(crate) fn read_region_streaming<T: Element>(
        &self,
        region: &[Range<u64>],
    ) -> Result<ArrayD<T>> {
        let release_views = self.larger_than_budget();
        self.read_region_with(region, Pass::Assembling { release_views })
    }

    fn read_region_with<T: Element>(&self, region: &[Range<u64>], pass: Pass) -> Result<ArrayD<T>> {
        if T::DATA_TYPE != self.data_type() {
            return Err(type_mismatch(format!(
                "{} holds {}, not {}",
                self.inner.dir.display(),
                self.data_type(),
                T::DATA_TYPE
            )));
        }
        let shape = self.shape();
        if region.len() != shape.len()
            || region
                .iter()
                .zip(shape)
                .any(|(r, n)| r.start > r.end || r.end > *n)
        {
            return Err(out_of_bounds(format!(
                "region {region:?} is not inside shape {shape:?}"
            )));
        }
        let extents: Vec<u64> = region.iter().map(|r| r.end - r.start).collect();
        let fits = crate::format::grid::checked_product(&extents)
            .and_then(|n| n.checked_mul(T::DATA_TYPE.size() as u64))
            .and_then(|b| usize::try_from(b).ok())
            .filter(|&b| b <= isize::MAX as usize)
            .is_some_and(|b| Vec::<u8>::new().try_reserve_exact(b).is_ok());
        if !fits {
            return Err(too_large(format!(
                "region {region:?} of {} does not fit in memory",
                self.inner.dir.display()
            )));
        }
        let out_shape: Vec<usize> = extents.iter().map(|&n| n as usize).collect();
        let mut out = ArrayD::from_elem(IxDyn(&out_shape), T::default());
        let chunks: Vec<Vec<u64>> = iter_box(&self.grid().chunks_touching(region)).collect();
        let batch = rayon::current_num_threads() * REGION_BATCH_PER_THREAD;
        for coords in chunks.chunks(batch) {
            let fetched: Vec<Chunk> = coords
                .par_iter()
                .map(|c| {
                    // A chunk wholly inside the region is not needed by a neighbouring
                    // region: a pass streams it past the cache.
                    let pass = match pass {
                        Pass::Assembling { release_views }
                            if self.grid().chunk_region(c).iter().zip(region).all(
                                |(inner, outer)| {
                                    outer.start <= inner.start && inner.end <= outer.end
                                },
                            ) =>
                        {
                            Pass::Streaming { release_views }
                        }
                        other => other,
                    };
                    self.read_chunk_with(c, pass)
                })
                .collect::<Result<_>>()?;
            for (coords, chunk) in coords.iter().zip(&fetched) {
                self.copy_overlap(chunk, coords, region, &mut out)?;
            }
        }
        Ok(out)
    }

    /// Reads the whole array.
    ///
    /// # Errors
    /// As [`Array::read_region`].
    pub fn read_all<T: Element>(&self) -> Result<ArrayD<T>> {
        let region: Vec<Range<u64>> = self.shape().iter().map(|&n| 0..n).collect();
        self.read_region(&region)
    }

    fn copy_overlap<T: Element>(
        &self,
        chunk: &Chunk,
        coords: &[u64],
        region: &[Range<u64>],
        out: &mut ArrayD<T>,
    ) -> Result<()> {
        let chunk_region = self.grid().chunk_region(coords);
        let origin: Vec<u64> = coords
            .iter()
            .zip(self.grid().chunk_shape())
            .map(|(c, e)| c * e)
            .collect();
        let overlap: Vec<Range<u64>> = chunk_region
            .iter()
            .zip(region)
            .map(|(c, r)| c.start.max(r.start)..c.end.min(r.end))
            .collect();
        let mut dst = out.slice_each_axis_mut(|ax| {
            let o = &overlap[ax.axis.index()];
            let r = &region[ax.axis.index()];
            Slice::from((o.start - r.start) as usize..(o.end - r.start) as usize)
        });
        if let ChunkData::Fill(fill) = &chunk.data {
            let value: T = fill.get().ok_or_else(|| {
                type_mismatch(format!("fill value is not a valid {}", self.data_type()))
            })?;
            dst.fill(value);
            return Ok(());
        }
        let data = chunk.as_slice::<T>()?;
        let chunk_shape: Vec<usize> = chunk.shape().iter().map(|&n| n as usize).collect();
        let view = ArrayViewD::from_shape(IxDyn(&chunk_shape), &data).expect("whole chunk");
        let src = view.slice_each_axis(|ax| {
            let o = &overlap[ax.axis.index()];
            let base = origin[ax.axis.index()];
            Slice::from((o.start - base) as usize..(o.end - base) as usize)
        });
        dst.assign(&src);
        Ok(())
    }

    /// Where every chunk is and how much is stored (reads shard indexes, not data). Only the
    /// shard (or chunk) files present are visited, found by listing the array's directory,
    /// so an array of 2^63 chunk positions holding a few chunks is summarised at once.
    ///
    /// # Errors
    /// The array's directory cannot be listed, or a shard index is damaged.
    pub fn storage_summary(&self) -> Result<StorageSummary> {
        let grid = self.grid();
        let mut summary = StorageSummary {
            chunks_total: grid.num_chunks(),
            ..Default::default()
        };
        let files = self.present_files()?;
        match &self.inner.backend {
            Backend::Profile { .. } | Backend::ShardedForeign { .. } => {
                self.count_stored(&files, &mut summary)?
            }
            Backend::Foreign(foreign) => {
                let sharded = grid.chunk_shape() != grid.shard_shape();
                let mut stored = 0;
                for coords in &files {
                    if let Ok(m) = fs::metadata(foreign.chunk_file(coords)) {
                        summary.files += 1;
                        summary.stored_bytes += m.len();
                        stored += 1;
                    }
                }
                summary.chunks_stored = (!sharded).then_some(stored);
            }
        }
        Ok(summary)
    }

    /// Fills `summary` from the indexes of the shard files `files` of a sharded array (on
    /// the fast path, a codec that stores the elements themselves tells which chunks are read
    /// zero-copy).
    fn count_stored(&self, files: &[Vec<u64>], summary: &mut StorageSummary) -> Result<()> {
        let grid = self.grid();
        let zero_copy = self.encoding().is_some_and(|c| c.codec().zero_copy());
        let mut stored = 0;
        for shard_coords in files {
            let shard = self.shard(shard_coords)?.expect("sharded backend");
            let Some(file) = &shard.file else { continue };
            summary.files += 1;
            summary.stored_bytes += file.len();
            for (slot, offset, nbytes) in shard.index.stored_slots() {
                if grid.chunk_in_shard(shard_coords, slot as u64).is_none() {
                    continue;
                }
                stored += 1;
                if zero_copy
                    && nbytes == self.inner.meta.chunk_bytes() as u64
                    && zero_copy_offset(offset, self.data_type())
                {
                    summary.zero_copy_chunks += 1;
                }
            }
        }
        summary.chunks_stored = Some(stored);
        Ok(())
    }

    /// The shard-grid coordinates of every shard (or, unsharded, chunk) file present, in C
    /// order. Found by listing the array's directory, descending only into directories named
    /// by a coordinate inside the grid: the cost follows the files, never the grid.
    pub(crate) fn present_files(&self) -> Result<Vec<Vec<u64>>> {
        let grid = self.grid().shard_grid_shape();
        let encoding = self.inner.meta.key_encoding;
        let snapshot = &self.inner.snapshot;
        let mut found = Vec::new();
        if grid.is_empty() {
            let key = encoding.key(&[]);
            if snapshot
                .list(Path::new(""))?
                .iter()
                .any(|(n, _)| *n == *key)
            {
                found.push(Vec::new());
            }
        } else if encoding.separator == '/' {
            let base = if encoding.prefix_c {
                PathBuf::from("c")
            } else {
                PathBuf::new()
            };
            list_key_tree(snapshot, &base, &mut Vec::new(), &grid, &mut found)?;
        } else {
            for (name, kind) in snapshot.list(Path::new(""))? {
                let Some(key) = name.to_str() else { continue };
                let parts = match (encoding.prefix_c, key.split_once('.')) {
                    (true, Some(("c", rest))) => rest,
                    (true, _) => continue,
                    (false, _) => key,
                };
                let coords: Option<Vec<u64>> = parts
                    .split('.')
                    .zip(0..)
                    .map(|(part, axis)| coordinate(part, grid.get(axis).copied()))
                    .collect();
                match coords {
                    Some(c) if c.len() == grid.len() && kind == EntryKind::File => found.push(c),
                    _ => {}
                }
            }
        }
        found.sort_unstable();
        Ok(found)
    }

    /// The per-chunk statistics from the sidecar; `Ok(None)` if the array has none. Fails if
    /// the sidecar is damaged or describes another array. A test hook: the table's layout is
    /// the format's, not API ([`crate::summarize`] is the public view of the statistics).
    ///
    /// # Errors
    /// [`crate::ErrorKind::Corrupt`] for a damaged sidecar or one that describes another
    /// array; [`crate::ErrorKind::Io`] if it cannot be read.
    #[doc(hidden)]
    pub fn stats(&self) -> Result<Option<StatsTable>> {
        let path = self.inner.dir.join(STATS_FILE);
        match self.inner.snapshot.open_file(Path::new(STATS_FILE))? {
            Some(file) => Ok(Some(StatsTable::read_from(
                file,
                &path,
                self.data_type(),
                self.grid(),
            )?)),
            None => Ok(None),
        }
    }

    /// Checks everything: every shard index, every stored chunk decoded, and the statistics
    /// sidecar against the data. Problems are collected, not returned as the first error;
    /// the `Err` case is reserved for failures to even look (unreadable directory). Only
    /// the files present are visited (a chunk never written is the fill value, and
    /// counts as checked), so the work follows what is stored, not the size of the grid.
    ///
    /// # Errors
    /// The array's directory cannot be listed; an array read through zarrs whose shards
    /// hold more chunks than can be checked one by one ([`crate::ErrorKind::TooLarge`]).
    pub fn verify(&self) -> Result<VerifyReport> {
        let mut report = VerifyReport::default();
        let grid = self.grid();
        let stats = match self.stats() {
            Ok(stats) => stats,
            Err(e) => {
                report.problems.push(e);
                None
            }
        };
        let files = self.present_files()?;
        let sharded = self.inner.backend.shards().is_some();
        let per_shard = grid.chunks_per_shard_total();
        if !sharded && (files.len() as u64).saturating_mul(per_shard) > MAX_FOREIGN_VERIFY_SLOTS {
            return Err(too_large(format!(
                "{}: {} files of {per_shard} chunks each are too many to check one by one",
                self.inner.dir.display(),
                files.len()
            )));
        }
        // Chunks the sidecar records in files that are gone: a sharded array reports one
        // problem per shard; off the sharded profile, each chunk is read (as the fill value).
        let mut unfiled = Vec::new();
        if let Some(table) = &stats {
            let shard_grid = grid.shard_grid_shape();
            let chunk_grid = grid.chunk_grid_shape();
            let mut missing: std::collections::BTreeMap<u64, (Vec<u64>, u64)> =
                std::collections::BTreeMap::new();
            for (linear, record) in table.iter().enumerate() {
                if record.is_none() {
                    continue;
                }
                let (shard_coords, _) = grid.shard_of(&unravel(linear as u64, &chunk_grid));
                if files.binary_search(&shard_coords).is_ok() {
                    continue;
                }
                if sharded {
                    missing
                        .entry(ravel(&shard_coords, &shard_grid))
                        .or_insert_with(|| (shard_coords, 0))
                        .1 += 1;
                } else {
                    unfiled.push(linear as u64);
                }
            }
            for (shard_coords, chunks) in missing.into_values() {
                report.problems.push(
                    FormatError::MissingShard {
                        path: self
                            .inner
                            .dir
                            .join(self.inner.meta.key_encoding.key(&shard_coords)),
                        chunks,
                    }
                    .into(),
                );
            }
        }
        self.verify_chunks(&unfiled, stats.as_ref(), &mut report);
        // Shard by shard, so what is held follows one shard, never the array.
        let chunk_grid = grid.chunk_grid_shape();
        for shard_coords in &files {
            let slots = (0..per_shard).filter_map(|slot| {
                let chunk = grid.chunk_in_shard(shard_coords, slot)?;
                Some((slot, ravel(&chunk, &chunk_grid)))
            });
            let chunks: Vec<u64> = if sharded {
                match self.shard(shard_coords) {
                    // Every stored chunk, and every chunk the sidecar records.
                    Ok(shard) => {
                        let shard = shard.expect("sharded backend");
                        slots
                            .filter(|&(slot, linear)| {
                                !matches!(shard.index.get(slot as usize), ChunkLocation::Missing)
                                    || stats.as_ref().is_some_and(|t| t.get(linear).is_some())
                            })
                            .map(|(_, linear)| linear)
                            .collect()
                    }
                    // A damaged index: one problem, not one per chunk under it.
                    Err(e) => {
                        report.problems.push(e);
                        continue;
                    }
                }
            } else {
                slots.map(|(_, linear)| linear).collect()
            };
            self.verify_chunks(&chunks, stats.as_ref(), &mut report);
        }
        report.chunks_checked = grid.num_chunks();
        Ok(report)
    }

    /// Decodes each chunk of `chunks` (linear indices), a batch at a time in parallel and
    /// past the cache, and checks it against its record in `stats`.
    fn verify_chunks(&self, chunks: &[u64], stats: Option<&StatsTable>, report: &mut VerifyReport) {
        let chunk_grid = self.grid().chunk_grid_shape();
        let stats_path = self.inner.dir.join(STATS_FILE);
        let batch = rayon::current_num_threads() * REGION_BATCH_PER_THREAD;
        for batch in chunks.chunks(batch) {
            let results: Vec<(u64, Result<Option<ChunkStats>>)> = batch
                .par_iter()
                .map(|&linear| {
                    let coords = unravel(linear, &chunk_grid);
                    let result = self.read_chunk_streaming(&coords).and_then(|chunk| {
                        if chunk.is_fill() {
                            return Ok(None);
                        }
                        crate::store::dispatch_stats(&chunk).map(Some)
                    });
                    (linear, result)
                })
                .collect();
            for (linear, result) in results {
                let chunk = || unravel(linear, &chunk_grid);
                match (result, stats.and_then(|t| t.get(linear))) {
                    (Err(e), _) => report.problems.push(e),
                    (Ok(None), Some(_)) => report.problems.push(
                        FormatError::SidecarMismatch {
                            path: stats_path.clone(),
                            reason: format!(
                                "chunk {:?} is recorded as stored but its shard has no such chunk",
                                chunk()
                            ),
                        }
                        .into(),
                    ),
                    (Ok(Some(actual)), Some(recorded)) if !stats_agree(&actual, &recorded) => {
                        let chunk = chunk();
                        report.problems.push(
                            FormatError::SidecarMismatch {
                                path: stats_path.clone(),
                                reason: format!(
                                    "chunk {chunk:?} ({}): its data no longer matches its recorded statistics (recorded {recorded:?}, data gives {actual:?})",
                                    self.chunk_location(&chunk)
                                ),
                            }
                            .into(),
                        );
                    }
                    _ => {}
                }
            }
        }
    }
}

impl Array {
    /// Where a chunk's bytes are, for messages: its shard file and byte range, or its chunk
    /// file off the sharded profile.
    fn chunk_location(&self, chunk: &[u64]) -> String {
        let grid = self.grid();
        let (shard_coords, slot) = grid.shard_of(chunk);
        match self.shard(&shard_coords) {
            Ok(Some(shard)) => match shard.index.get(slot as usize) {
                ChunkLocation::Stored { offset, nbytes } => format!(
                    "{} bytes {offset}..{}",
                    shard.path.display(),
                    offset + nbytes
                ),
                _ => format!("{}, not stored", shard.path.display()),
            },
            _ => self
                .inner
                .dir
                .join(self.inner.meta.key_encoding.key(chunk))
                .display()
                .to_string(),
        }
    }
}

/// Whether an uncompressed chunk stored at `offset` can be viewed in place: the host reads
/// little-endian bytes natively and the offset is aligned for the element type (the mapping
/// itself starts page-aligned).
fn zero_copy_offset(offset: u64, data_type: DataType) -> bool {
    cfg!(target_endian = "little") && offset.is_multiple_of(data_type.size() as u64)
}

/// Most chunk positions `verify` checks one by one in the shard files of an array read
/// through zarrs, whose shard indexes outcore cannot read to find the stored ones.
const MAX_FOREIGN_VERIFY_SLOTS: u64 = 1 << 26;

/// `part` as a coordinate below `extent`, when it is written as a key writes one (decimal,
/// no sign, no leading zeros).
fn coordinate(part: &str, extent: Option<u64>) -> Option<u64> {
    let c: u64 = part.parse().ok()?;
    (c < extent? && c.to_string() == part).then_some(c)
}

/// The files of a `/`-separated key tree under `dir` of `snapshot`: one level of directories
/// per axis before the last, named by coordinates inside `grid` (`prefix` holds those of the
/// levels above). Entries that are not directories count as files, so that reading one
/// reports what it is (a symbolic link not followed, a FIFO).
fn list_key_tree(
    snapshot: &Snapshot,
    dir: &Path,
    prefix: &mut Vec<u64>,
    grid: &[u64],
    found: &mut Vec<Vec<u64>>,
) -> Result<()> {
    let axis = prefix.len();
    for (name, kind) in snapshot.list(dir)? {
        let Some(c) = name.to_str().and_then(|n| coordinate(n, Some(grid[axis]))) else {
            continue;
        };
        prefix.push(c);
        if axis + 1 == grid.len() {
            if kind == EntryKind::File {
                found.push(prefix.clone());
            }
        } else if kind == EntryKind::Dir {
            list_key_tree(snapshot, &dir.join(&name), prefix, grid, found)?;
        }
        prefix.pop();
    }
    Ok(())
}

/// Recorded and recomputed statistics agree: exact for counts, extremes and integer sums,
/// to rounding for float sums and moments (summation order may differ between writers).
fn stats_agree(a: &ChunkStats, b: &ChunkStats) -> bool {
    let close = |x: f64, y: f64| {
        (x.is_nan() && y.is_nan())
            || x == y
            || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
    };
    let same = |x, y| match (x, y) {
        (crate::element::Scalar::Float(x), crate::element::Scalar::Float(y)) => close(x, y),
        (x, y) => x == y,
    };
    a.count == b.count
        && a.nan_count == b.nan_count
        && same(a.min, b.min)
        && same(a.max, b.max)
        && same(a.sum, b.sum)
        && close(a.mean, b.mean)
        && close(a.m2, b.m2)
}

/// How a chunk read is used.
#[derive(Clone, Copy)]
enum Pass {
    /// Random access: decoded chunks go into the cache.
    Cached,
    /// A pass reading each chunk once: decoded into recycled buffers, past the cache, and
    /// the stored bytes' pages released once decoded; `release_views` also releases the
    /// pages of zero-copy chunks once they are dropped.
    Streaming { release_views: bool },
    /// Chunks cut by the regions of a pass: decoded chunks go into the cache (a chunk under
    /// several regions is decoded once while it stays there), and the stored bytes' pages
    /// are released as when streaming.
    #[cfg_attr(not(feature = "engine"), allow(dead_code))]
    Assembling { release_views: bool },
}

impl Pass {
    /// Whether the pages of a zero-copy chunk are released once the chunk is dropped.
    fn releases_views(self) -> bool {
        match self {
            Pass::Cached => false,
            Pass::Streaming { release_views } | Pass::Assembling { release_views } => release_views,
        }
    }
}

/// Decode buffers kept per thread for streaming reads.
const RECYCLED_PER_THREAD: usize = 4;

thread_local! {
    /// This thread's streaming decode buffers; one is free again when only this list holds it.
    static RECYCLED: RefCell<Vec<Arc<AlignedBuf>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer of `len` bytes that nothing else holds: a free one of this thread's recycled
/// buffers, else a new one. Its contents are whatever was decoded into it last.
fn recycled_buffer(len: usize) -> Arc<AlignedBuf> {
    RECYCLED.with(|cell| {
        let mut pool = cell.borrow_mut();
        match pool
            .iter_mut()
            .position(|b| b.len() == len && Arc::get_mut(b).is_some())
        {
            Some(at) => pool.swap_remove(at),
            None => Arc::new(AlignedBuf::zeroed(len)),
        }
    })
}

/// Keeps a clone of `buf` for [`recycled_buffer`] once its chunk is dropped (the list is
/// bounded: beyond it, the buffer is freed with its chunk).
fn recycle(buf: &Arc<AlignedBuf>) {
    RECYCLED.with(|cell| {
        let mut pool = cell.borrow_mut();
        if pool.len() < RECYCLED_PER_THREAD {
            pool.push(buf.clone());
        }
    });
}
