//! Writing arrays: chunks in any order from any number of threads, each appended to its
//! shard's temporary file as it arrives; a shard is committed (index, fsync, rename) as soon
//! as its last chunk arrives, so memory holds indexes, never shard data.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use ndarray::{ArrayViewD, Slice};
use rayon::prelude::*;
use serde_json::{Map, Value};

use super::{consolidate, Array};
use crate::cache::ChunkCache;
use crate::codec::{native_to_le, ChunkEncoding};
use crate::element::{DataType, Element, FillValue};
use crate::error::{
    invalid, out_of_bounds, shape_mismatch, too_large, type_mismatch, unsupported, Error, Result,
};
use crate::format::grid::{iter_box, pad_into, ravel};
use crate::format::layout::{
    align_up, default_chunk_shape, default_shard_shape, MAX_WRITTEN_SHARD_CHUNKS,
};
use crate::format::metadata::{
    array_document_text, build_array_document, default_dimension_names, NewArrayMeta,
};
use crate::format::{
    ChunkGrid, ChunkKeyEncoding, ChunkLocation, ChunkStats, IndexLocation, ShardIndex, StatsTable,
    METADATA_FILE, STATS_FILE,
};
use crate::storage::{
    clean_leftovers, create_dir_all, create_temp_in, io_err, parent_of, sync_dir, write_atomic_in,
    FileSystem, MappedFile, StagingDir, TempFile,
};

/// The shape, type and layout of a new array.
#[derive(Debug, Clone)]
pub struct ArraySpec {
    data_type: DataType,
    shape: Vec<u64>,
    chunk_shape: Option<Vec<u64>>,
    shard_shape: Option<Vec<u64>>,
    encoding: ChunkEncoding,
    fill_value: Option<FillValue>,
    attributes: Map<String, Value>,
    dimension_names: Option<Vec<String>>,
    overwrite: bool,
}

impl ArraySpec {
    /// An array of `data_type` and `shape` with default chunks and shards (chunks of about
    /// 1 MiB, shards of at most 128 MiB of whole rows of chunks), zstd level 1, and fill value zero.
    pub fn new(data_type: DataType, shape: &[u64]) -> Self {
        Self {
            data_type,
            shape: shape.to_vec(),
            chunk_shape: None,
            shard_shape: None,
            encoding: ChunkEncoding::zstd(1),
            fill_value: None,
            attributes: Map::new(),
            dimension_names: None,
            overwrite: false,
        }
    }

    /// The inner-chunk shape (the unit of reading and caching).
    pub fn chunks(mut self, chunk_shape: &[u64]) -> Self {
        self.chunk_shape = Some(chunk_shape.to_vec());
        self
    }

    /// The shard shape (the unit of one file), a multiple of the chunk shape.
    pub fn shards(mut self, shard_shape: &[u64]) -> Self {
        self.shard_shape = Some(shard_shape.to_vec());
        self
    }

    /// How inner chunks are encoded.
    pub fn encoding(mut self, encoding: ChunkEncoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// The value of chunks never written.
    pub fn fill_value(mut self, fill_value: FillValue) -> Self {
        self.fill_value = Some(fill_value);
        self
    }

    /// User attributes stored in `zarr.json`.
    pub fn attributes(mut self, attributes: Map<String, Value>) -> Self {
        self.attributes = attributes;
        self
    }

    /// Axis names (`dimension_names` in `zarr.json`; xarray uses them), one per axis. An
    /// array written without them has `dim_0`, `dim_1`, …; two arrays of one group that
    /// share a name must share its length for xarray to open the group as a dataset.
    pub fn dimension_names(mut self, names: &[&str]) -> Self {
        self.dimension_names = Some(names.iter().map(|s| s.to_string()).collect());
        self
    }

    /// Replace an existing node of the same name when the new array is finished.
    pub fn overwrite(mut self, overwrite: bool) -> Self {
        self.overwrite = overwrite;
        self
    }

    /// This spec, checked to describe an array of `data_type` and `shape`.
    #[cfg_attr(not(feature = "engine"), allow(dead_code))]
    pub(crate) fn checked_for(&self, data_type: DataType, shape: &[u64]) -> Result<ArraySpec> {
        if self.data_type != data_type || self.shape != shape {
            return Err(shape_mismatch(format!(
                "the spec describes {} {:?}, the values are {data_type} {shape:?}",
                self.data_type, self.shape
            )));
        }
        Ok(self.clone())
    }

    pub(crate) fn overwrite_existing(&self) -> bool {
        self.overwrite
    }

    /// The grid of the new array, checked by [`ChunkGrid::new`] and [`check_writable`].
    fn grid(&self, dir: &Path) -> Result<ChunkGrid> {
        let size = self.data_type.size();
        let chunk = self
            .chunk_shape
            .clone()
            .unwrap_or_else(|| default_chunk_shape(&self.shape, size));
        let shard = self.shard_shape.clone().unwrap_or_else(|| {
            if chunk.len() == self.shape.len() && !chunk.contains(&0) {
                default_shard_shape(&self.shape, &chunk, size)
            } else {
                chunk.clone() // ChunkGrid::new names what is wrong with it
            }
        });
        let grid = ChunkGrid::new(&self.shape, &chunk, &shard, size)
            .map_err(|reason| invalid(format!("{}: {reason}", dir.display())))?;
        check_writable(&grid, self.data_type, dir)?;
        Ok(grid)
    }
}

struct PendingShard {
    coords: Vec<u64>,
    target: PathBuf,
    file: Option<TempFile>,
    index: ShardIndex,
    written: Vec<bool>,
    count: u64,
    needed: u64,
    end: u64,
    done: bool,
}

/// Writes one array; see [`crate::Store::create_array`] and [`crate::Store::update_array`].
///
/// `write_chunk` takes `&self` and may be called from many threads at once. Every write builds
/// a new generation of the array in a locked staging directory beside it (an update starts
/// from the generation it opened: unchanged shards are hard links to it); call
/// [`ArrayWriter::finish`] to publish it, in one exchange. Dropping the writer instead
/// abandons what it wrote: the array is left as it was.
pub struct ArrayWriter {
    /// Where the new generation is built: the staging directory.
    dir: PathBuf,
    staging: StagingDir,
    /// Where it is published.
    final_dir: PathBuf,
    /// For an update, the generation it started from.
    base: Option<Array>,
    follow_symlinks: bool,
    /// Every change goes through it.
    fs: Arc<dyn FileSystem>,
    document: String,
    data_type: DataType,
    fill_value: FillValue,
    grid: ChunkGrid,
    encoding: ChunkEncoding,
    key_encoding: ChunkKeyEncoding,
    pending: Mutex<HashMap<u64, Arc<Mutex<PendingShard>>>>,
    stats: Mutex<StatsTable>,
    touched_dirs: Mutex<BTreeSet<PathBuf>>,
    cache: Arc<dyn ChunkCache>,
    /// The root of the store the array is created in, whose consolidated metadata
    /// [`ArrayWriter::finish`] brings up to date.
    store_root: Option<PathBuf>,
}

impl std::fmt::Debug for ArrayWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ArrayWriter({})", self.dir.display())
    }
}

/// Refuses a grid a writer cannot hold: more than [`MAX_WRITTEN_SHARD_CHUNKS`] chunks per
/// shard (a writer keeps the index of every shard in progress) or a chunk that memory cannot
/// hold (each thread encodes whole chunks).
fn check_writable(grid: &ChunkGrid, data_type: DataType, dir: &Path) -> Result<()> {
    let size = data_type.size();
    let chunk_shape = grid.chunk_shape();
    let slots = grid.chunks_per_shard_total();
    if slots > MAX_WRITTEN_SHARD_CHUNKS {
        return Err(too_large(format!(
            "{}: shards of {:?} chunks ({slots} per shard) are more than the {} a shard \
                 may hold; choose a smaller shard shape or larger chunks",
            dir.display(),
            grid.chunks_per_shard(),
            MAX_WRITTEN_SHARD_CHUNKS
        )));
    }
    let chunk_bytes = grid.chunk_elements() * size;
    if Vec::<u8>::new().try_reserve_exact(chunk_bytes).is_err() {
        return Err(too_large(format!(
            "{}: a chunk of shape {chunk_shape:?} ({chunk_bytes} bytes of {}) does not fit in \
                 memory; choose a smaller chunk shape",
            dir.display(),
            data_type
        )));
    }
    Ok(())
}

/// The statistics table a writer fills, one record per chunk of the grid: refused, before
/// anything is written, when memory cannot hold it.
fn stats_table(data_type: DataType, grid: &ChunkGrid, dir: &Path) -> Result<StatsTable> {
    StatsTable::empty(data_type, grid).ok_or_else(|| {
        too_large(format!(
            "{}: {} chunks (a grid of {:?}) are too many for one array's statistics; choose \
             larger chunks",
            dir.display(),
            grid.num_chunks(),
            grid.chunk_grid_shape()
        ))
    })
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves its data consistent before any call that can panic.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

thread_local! {
    static ENCODED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl ArrayWriter {
    pub(crate) fn create(
        final_dir: PathBuf,
        spec: &ArraySpec,
        cache: Arc<dyn ChunkCache>,
        follow_symlinks: bool,
        fs: Arc<dyn FileSystem>,
        store_root: Option<PathBuf>,
    ) -> Result<Self> {
        let grid = spec.grid(&final_dir)?;
        let dimension_names = match &spec.dimension_names {
            Some(names) if names.len() != grid.ndim() => {
                return Err(invalid(format!(
                    "{}: {} dimension names {names:?} for an array of {} dimensions",
                    final_dir.display(),
                    names.len(),
                    grid.ndim()
                )))
            }
            Some(names) => names.clone(),
            None => default_dimension_names(grid.ndim()),
        };
        let fill_value = spec
            .fill_value
            .clone()
            .unwrap_or_else(|| FillValue::zero(spec.data_type));
        if fill_value.data_type() != spec.data_type {
            return Err(type_mismatch(format!(
                "fill value is {}, the array is {}",
                fill_value.data_type(),
                spec.data_type
            )));
        }
        let document = array_document_text(&build_array_document(&NewArrayMeta {
            data_type: spec.data_type,
            fill_value: &fill_value,
            grid: &grid,
            codecs: &spec.encoding.codec().metadata(),
            attributes: &spec.attributes,
            dimension_names: Some(&dimension_names),
        }));
        let stats = stats_table(spec.data_type, &grid, &final_dir)?;
        let staging = staging_beside(&fs, &final_dir)?;
        Ok(Self {
            dir: staging.path().to_owned(),
            staging,
            final_dir,
            base: None,
            follow_symlinks,
            fs,
            document,
            data_type: spec.data_type,
            stats: Mutex::new(stats),
            fill_value,
            grid,
            encoding: spec.encoding.clone(),
            key_encoding: ChunkKeyEncoding::DEFAULT,
            pending: Mutex::new(HashMap::new()),
            touched_dirs: Mutex::new(BTreeSet::new()),
            cache,
            store_root,
        })
    }

    pub(crate) fn update(
        array: Array,
        follow_symlinks: bool,
        fs: Arc<dyn FileSystem>,
    ) -> Result<Self> {
        let meta = array.meta();
        let (Some(encoding), Some(_)) = (array.encoding(), meta.index_location) else {
            return Err(unsupported(format!(
                "{} uses codecs {:?}: only arrays on the outcore profile (sharded, bytes[+zstd]) can be updated in place",
                array.path().display(),
                meta.codec_names
            )));
        };
        let final_dir = array.path().to_owned();
        check_writable(&meta.grid, meta.data_type, &final_dir)?;
        let stats = array
            .stats()
            .ok()
            .flatten()
            .and_then(StatsTable::into_owned)
            .map_or_else(|| stats_table(meta.data_type, &meta.grid, &final_dir), Ok)?;
        let meta_path = final_dir.join(METADATA_FILE);
        let document = array
            .snapshot()
            .read(Path::new(METADATA_FILE))?
            .ok_or_else(|| io_err(&meta_path, "read")(std::io::ErrorKind::NotFound.into()))?;
        let document = String::from_utf8(document)
            .map_err(|_| io_err(&meta_path, "read")(std::io::ErrorKind::InvalidData.into()))?;
        let staging = staging_beside(&fs, &final_dir)?;
        Ok(Self {
            dir: staging.path().to_owned(),
            staging,
            final_dir,
            follow_symlinks,
            fs,
            document,
            data_type: meta.data_type,
            fill_value: meta.fill_value.clone(),
            grid: meta.grid.clone(),
            encoding: encoding.clone(),
            key_encoding: meta.key_encoding,
            pending: Mutex::new(HashMap::new()),
            stats: Mutex::new(stats),
            touched_dirs: Mutex::new(BTreeSet::new()),
            cache: array.cache().clone(),
            base: Some(array),
            store_root: None,
        })
    }

    /// The fill value of the array being written.
    #[cfg(feature = "engine")]
    pub(crate) fn fill_value(&self) -> &FillValue {
        &self.fill_value
    }

    /// The grid being written.
    pub fn grid(&self) -> &ChunkGrid {
        &self.grid
    }

    /// Writes one inner chunk. `data` is either the chunk's part inside the array (its
    /// shape cut to the array's edge, C order) or the whole chunk including edge padding.
    /// Writing a chunk again replaces it.
    ///
    /// # Errors
    /// `T` is not the array's type ([`crate::ErrorKind::TypeMismatch`]); `chunk` outside the
    /// grid ([`crate::ErrorKind::OutOfBounds`]); `data` of neither length
    /// ([`crate::ErrorKind::ShapeMismatch`]); encoding or writing the shard fails.
    pub fn write_chunk<T: Element>(&self, chunk: &[u64], data: &[T]) -> Result<()> {
        if T::DATA_TYPE != self.data_type {
            return Err(type_mismatch(format!(
                "writing {} into a {} array",
                T::DATA_TYPE,
                self.data_type
            )));
        }
        if !self.grid.contains_chunk(chunk) {
            return Err(out_of_bounds(format!(
                "chunk {chunk:?} is outside the chunk grid {:?}",
                self.grid.chunk_grid_shape()
            )));
        }
        let chunk_shape = self.grid.chunk_shape();
        let valid = self.grid.chunk_valid_shape(chunk);
        let valid_len = valid.iter().product::<u64>() as usize;
        let size = self.data_type.size();
        let (stats, mut bytes): (ChunkStats, Cow<[u8]>) =
            if data.len() == self.grid.chunk_elements() {
                (
                    ChunkStats::compute(data, chunk_shape, &valid),
                    Cow::Borrowed(bytemuck::cast_slice(data)),
                )
            } else if data.len() == valid_len {
                let dense: &[u8] = bytemuck::cast_slice(data);
                let mut whole = self
                    .fill_value
                    .le_bytes()
                    .repeat(self.grid.chunk_elements());
                pad_into(dense, &mut whole, chunk_shape, &valid, size);
                (ChunkStats::compute(data, &valid, &valid), Cow::Owned(whole))
            } else {
                return Err(shape_mismatch(format!(
                    "chunk {chunk:?} takes {valid_len} elements (or {} with padding), got {}",
                    self.grid.chunk_elements(),
                    data.len()
                )));
            };
        if cfg!(target_endian = "big") {
            native_to_le(bytes.to_mut(), size);
        }
        ENCODED.with(|cell| {
            let mut encoded = cell.borrow_mut();
            encoded.clear();
            self.encoding.codec().encode_into(&bytes, &mut encoded)?;
            self.append(chunk, &encoded)
        })?;
        lock(&self.stats).set(ravel(chunk, &self.grid.chunk_grid_shape()), Some(stats));
        Ok(())
    }

    /// Writes a chunk-aligned region starting at `start`: every axis must start on a chunk
    /// boundary and end on one or at the array's edge. Chunks are encoded in parallel.
    ///
    /// # Errors
    /// A region that is not chunk-aligned or not inside the array
    /// ([`crate::ErrorKind::ShapeMismatch`]); as [`ArrayWriter::write_chunk`] for each chunk.
    pub fn write_region<T: Element>(&self, start: &[u64], data: ArrayViewD<'_, T>) -> Result<()> {
        let shape = self.grid.shape();
        let chunk_shape = self.grid.chunk_shape();
        let aligned = start.len() == shape.len()
            && data.ndim() == shape.len()
            && (0..shape.len()).all(|ax| {
                let end = start[ax] + data.shape()[ax] as u64;
                start[ax].is_multiple_of(chunk_shape[ax])
                    && end <= shape[ax]
                    && (end == shape[ax] || end.is_multiple_of(chunk_shape[ax]))
            });
        if !aligned {
            return Err(shape_mismatch(format!(
                "region at {start:?} of shape {:?} is not chunk-aligned inside {shape:?} (chunks {chunk_shape:?})",
                data.shape()
            )));
        }
        let region: Vec<std::ops::Range<u64>> = start
            .iter()
            .zip(data.shape())
            .map(|(s, n)| *s..s + *n as u64)
            .collect();
        let chunks: Vec<Vec<u64>> = iter_box(&self.grid.chunks_touching(&region)).collect();
        chunks.par_iter().try_for_each(|coords| {
            let part = self.grid.chunk_region(coords);
            let view = data.slice_each_axis(|ax| {
                let i = ax.axis.index();
                Slice::from((part[i].start - start[i]) as usize..(part[i].end - start[i]) as usize)
            });
            let dense: Vec<T> = view.iter().copied().collect();
            self.write_chunk(coords, &dense)
        })
    }

    /// Writes the whole array from an n-d array of its shape.
    ///
    /// # Errors
    /// As [`ArrayWriter::write_region`].
    pub fn write_array<T: Element>(&self, data: ArrayViewD<'_, T>) -> Result<()> {
        self.write_region(&vec![0; self.grid.ndim()], data)
    }

    fn append(&self, chunk: &[u64], encoded: &[u8]) -> Result<()> {
        let (shard_coords, slot) = self.grid.shard_of(chunk);
        let key = ravel(&shard_coords, &self.grid.shard_grid_shape());
        loop {
            let entry = lock(&self.pending)
                .entry(key)
                .or_insert_with(|| Arc::new(Mutex::new(self.new_pending(&shard_coords))))
                .clone();
            let mut shard = lock(&entry);
            if shard.done {
                drop(shard);
                self.forget_pending(key, &entry);
                continue;
            }
            self.append_to(&mut shard, slot as usize, encoded)
                .map_err(|e| self.public(e))?;
            if shard.count == shard.needed {
                shard.done = true;
                self.commit(&mut shard).map_err(|e| self.public(e))?;
                drop(shard);
                self.forget_pending(key, &entry);
            }
            return Ok(());
        }
    }

    fn forget_pending(&self, key: u64, entry: &Arc<Mutex<PendingShard>>) {
        let mut map = lock(&self.pending);
        if map.get(&key).is_some_and(|e| Arc::ptr_eq(e, entry)) {
            map.remove(&key);
        }
    }

    fn new_pending(&self, shard: &[u64]) -> PendingShard {
        let slots = self.grid.chunks_per_shard_total() as usize;
        PendingShard {
            coords: shard.to_vec(),
            target: self.dir.join(self.key_encoding.key(shard)),
            file: None,
            index: ShardIndex::empty(slots),
            written: vec![false; slots],
            count: 0,
            needed: self.grid.chunks_in_shard(shard),
            end: 0,
            done: false,
        }
    }

    fn append_to(&self, shard: &mut PendingShard, slot: usize, encoded: &[u8]) -> Result<()> {
        if shard.file.is_none() {
            let parent = shard
                .target
                .parent()
                .expect("shard paths have a parent")
                .to_owned();
            self.create_dirs(&parent)?;
            shard.file = Some(create_temp_in(&self.fs, &parent)?);
        }
        let file = shard.file.as_ref().expect("created above");
        let offset = align_up(shard.end, self.encoding.codec().alignment());
        let padding = (offset - shard.end) as usize;
        if padding > 0 {
            file.write(&[0u8; 4096][..padding], &shard.target)?;
        }
        file.write(encoded, &shard.target)?;
        shard.end = offset + encoded.len() as u64;
        shard.index.set(slot, offset, encoded.len() as u64);
        if !shard.written[slot] {
            shard.written[slot] = true;
            shard.count += 1;
        }
        Ok(())
    }

    /// Finishes a shard: copies the chunks this writer did not replace from the shard file
    /// already at the target (an update, or a second round of writes), appends the index and
    /// renames the temporary file over the target.
    fn commit(&self, shard: &mut PendingShard) -> Result<()> {
        if shard.count < shard.needed {
            // The chunks not rewritten: from this shard as already committed in the new
            // generation (a second round of writes), else from the generation an update
            // started from.
            if let Some(staged) = MappedFile::open(&shard.target)? {
                let index = ShardIndex::parse(
                    staged.bytes(),
                    shard.index.len() as u64,
                    IndexLocation::End,
                    &shard.target,
                    |slot| self.grid.chunk_at_slot(&shard.coords, slot),
                )?;
                self.keep_unwritten(shard, staged.bytes(), &index)?;
            } else if let Some(base) = &self.base {
                if let Some(old) = base.shard(&shard.coords)? {
                    if let Some(file) = &old.file {
                        self.keep_unwritten(shard, file.bytes(), &old.index)?;
                    }
                }
            }
        }
        let Some(file) = shard.file.take() else {
            return Ok(());
        };
        file.write(&shard.index.encode(), &shard.target)?;
        file.commit(&shard.target)?;
        Ok(())
    }

    /// Appends to `shard` every chunk it has not been written that `index` stores in `bytes`.
    fn keep_unwritten(
        &self,
        shard: &mut PendingShard,
        bytes: &[u8],
        index: &ShardIndex,
    ) -> Result<()> {
        for slot in 0..shard.index.len() {
            if let (false, ChunkLocation::Stored { offset, nbytes }) =
                (shard.written[slot], index.get(slot))
            {
                self.append_to(
                    shard,
                    slot,
                    &bytes[offset as usize..(offset + nbytes) as usize],
                )?;
            }
        }
        Ok(())
    }

    /// Commits the remaining shards (for an update, links the unchanged ones), then the
    /// statistics sidecar, then `zarr.json`, and puts the new generation in place: exchanged
    /// with an existing array in one step, the old generation removed once no reader holds
    /// it. A new array is then added to the store's consolidated metadata
    /// ([`crate::Store::consolidate`]). Returns the array, opened.
    ///
    /// # Errors
    /// A shard, the sidecar or `zarr.json` cannot be written, synced or renamed
    /// ([`crate::ErrorKind::Io`]); an existing node at the destination cannot be replaced;
    /// the consolidated metadata cannot be rewritten (the array is in place by then).
    pub fn finish(self) -> Result<Array> {
        self.finish_files().map_err(|e| self.public(e))?;
        // The generation an update started from is no longer read (its shards are copied or
        // linked): closing it now lets the publication remove it at once, unless another
        // reader holds it.
        drop(self.base);
        self.staging.publish(None, &self.final_dir)?;
        if let Some(root) = &self.store_root {
            consolidate(&self.fs, root, self.follow_symlinks)?;
        }
        Array::open(
            &*self.fs,
            &self.final_dir,
            Path::new(""),
            self.cache.clone(),
            self.follow_symlinks,
        )
    }

    /// `error` naming the array's final directory rather than the temporary one it is built
    /// in (a failed write on a full disk names the shard the user will look for).
    fn public(&self, error: Error) -> Error {
        error.relocated(&self.dir, &self.final_dir)
    }

    /// An update's shards that no chunk was written to: hard links to the files of the
    /// generation it started from (a copy where the file system has no hard links).
    fn link_unchanged_shards(&self, base: &Array) -> Result<()> {
        for coords in base.present_files()? {
            let key = self.key_encoding.key(&coords);
            let target = self.dir.join(&key);
            if std::fs::symlink_metadata(&target).is_ok() {
                continue; // rewritten
            }
            let parent = target
                .parent()
                .expect("shard paths have a parent")
                .to_owned();
            self.create_dirs(&parent)?;
            if let Err(e) = base.snapshot().link(&*self.fs, Path::new(&key), &target) {
                if !no_hard_links(&e) {
                    return Err(io_err(&target, "link")(e).into());
                }
                let Some(old) = base.shard(&coords)? else {
                    continue;
                };
                let Some(file) = &old.file else { continue };
                let tmp = create_temp_in(&self.fs, &parent)?;
                tmp.write(file.bytes(), &target)?;
                tmp.commit(&target)?;
            }
        }
        Ok(())
    }

    /// Creates the directory `dir` of the new generation, and records it and every
    /// directory between it and the generation's root to be synced before the generation is
    /// published (a shard's entry is durable only once every directory above it is). One
    /// thread at a time, so each directory is made once, by one call (directories are few).
    fn create_dirs(&self, dir: &Path) -> Result<()> {
        let mut touched = lock(&self.touched_dirs);
        create_dir_all(&*self.fs, dir)?;
        for above in dir.ancestors().take_while(|a| *a != self.dir) {
            if !touched.insert(above.to_owned()) {
                break; // and so are the ones above it
            }
        }
        Ok(())
    }

    /// The durable part of [`finish`](Self::finish): the remaining shards, the sidecar and
    /// `zarr.json`, each synced.
    fn finish_files(&self) -> Result<()> {
        let pending: Vec<_> = lock(&self.pending).drain().map(|(_, s)| s).collect();
        pending.par_iter().try_for_each(|entry| {
            let mut shard = lock(entry);
            if shard.done {
                return Ok(());
            }
            shard.done = true;
            self.commit(&mut shard)
        })?;
        if let Some(base) = &self.base {
            self.link_unchanged_shards(base)?;
        }
        // Shard renames durable before the sidecar describing them, the sidecar before
        // zarr.json, zarr.json before the array is renamed into place. Deepest directories
        // first: each one's entries are durable before its parent's entry for it.
        let fs = &*self.fs;
        for dir in lock(&self.touched_dirs).iter().rev() {
            sync_dir(fs, dir)?;
        }
        write_atomic_in(
            &self.fs,
            &self.dir.join(STATS_FILE),
            &lock(&self.stats).encode(),
        )?;
        sync_dir(fs, &self.dir)?;
        write_atomic_in(
            &self.fs,
            &self.dir.join(METADATA_FILE),
            self.document.as_bytes(),
        )?;
        Ok(sync_dir(fs, &self.dir)?)
    }
}

/// Whether a failed hard link means the file system has none (then the shard is copied),
/// rather than a failure to report.
fn no_hard_links(error: &std::io::Error) -> bool {
    use rustix::io::Errno;
    error.kind() == std::io::ErrorKind::Unsupported
        || [Errno::PERM, Errno::OPNOTSUPP, Errno::XDEV, Errno::MLINK]
            .iter()
            .any(|n| error.raw_os_error() == Some(n.raw_os_error()))
}

/// A new staging directory beside `final_dir`, after removing the leftovers of killed
/// writers there (those a live reader or writer holds stay; failing to remove one is no
/// reason not to write).
fn staging_beside(fs: &Arc<dyn FileSystem>, final_dir: &Path) -> Result<StagingDir> {
    let parent = parent_of(final_dir);
    let _ = clean_leftovers(&**fs, parent);
    Ok(StagingDir::create_in(fs, parent)?)
}
