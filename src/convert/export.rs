//! Exporters: any lazy array to an `.npy` file or to plain (unsharded) Zarr v3, streaming.
//!
//! Both evaluate the array block by block (a batch of blocks in parallel, memory bounded by a
//! batch) and write each block where it belongs from parallel threads: an `.npy` export cuts
//! the array into blocks that are contiguous byte runs of the output and writes each at its
//! offset (`pwrite`); a Zarr export cuts it into the export's chunks and writes one file per
//! chunk. Nothing appears under the final name before the export is complete: the `.npy`
//! file is a temporary file in the destination directory renamed into place at the end, the
//! Zarr array a staged directory ([`super::Output`]).

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fs;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Mutex;

use rayon::prelude::*;
use serde_json::{json, Value};

use super::{parent_dir, Output};
use crate::codec::{native_to_le, ChunkEncoding};
use crate::element::FillValue;
use crate::element::{DataType, Kind};
use crate::error::{already_exists, invalid, too_large, Result};
use crate::exec::{ProgressFn, BLOCKS_PER_THREAD};
use crate::expr::{Block, LazyArray};
use crate::format::grid::pad_into;
use crate::format::metadata::{bytes_codec, default_dimension_names, V2_DIMENSIONS_ATTRIBUTE};
use crate::format::{ChunkKeyEncoding, METADATA_FILE};
use crate::storage::{available_bytes, create_temp_in, io_err, os, sync_dir, write_atomic_in};
use crate::store::Array;
use crate::with_element_type;

/// Bytes of one block of an `.npy` export (a contiguous run of the output file).
const NPY_BLOCK_BYTES: u64 = 8 << 20;
/// Bytes of the default chunk of a Zarr export (there is no sharding to group small chunks
/// into files, so chunks are larger than a store's inner chunks).
const ZARR_CHUNK_BYTES: u64 = 8 << 20;
/// Bytes of blocks an export holds at once beyond the cache budget: half being evaluated,
/// half being written (at least one block per thread each, so more with larger blocks).
const IN_FLIGHT_BYTES: u64 = 16 << 20;

/// How [`export_zarr`] lays out the plain Zarr v3 array.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Chunk shape; `None` picks chunks of about 8 MiB.
    pub chunks: Option<Vec<u64>>,
    /// Chunk codecs: `bytes` then the encoding's codecs (none for [`ChunkEncoding::raw`]).
    pub encoding: ChunkEncoding,
    /// Replace an existing Zarr node at the destination.
    pub overwrite: bool,
    /// User attributes of the exported array.
    pub attributes: serde_json::Map<String, Value>,
    /// Axis names, one per axis; `None` writes `dim_0`, `dim_1`, ….
    pub dimension_names: Option<Vec<String>>,
    /// The fill value in `zarr.json` (every chunk is written, so it only tells readers what
    /// the source's fill was); `None` is zero (`false` for `bool`).
    pub fill_value: Option<FillValue>,
}

impl ExportOptions {
    /// These options with the attributes, axis names and fill value of the stored array
    /// `source` (a Zarr v2 array's `_ARRAY_DIMENSIONS` become the axis names; an axis
    /// without a name is `dim_N`).
    pub fn metadata_of(mut self, source: &Array) -> Self {
        let mut attributes = source.attributes().clone();
        attributes.remove(V2_DIMENSIONS_ATTRIBUTE);
        self.attributes = attributes;
        self.dimension_names = source.dimension_names().map(|names| {
            names
                .into_iter()
                .zip(default_dimension_names(source.shape().len()))
                .map(|(name, default)| name.unwrap_or(default))
                .collect()
        });
        self.fill_value = Some(source.fill_value().clone());
        self
    }
}

impl Default for ExportOptions {
    /// Default chunks, zstd level 1, no overwrite, no attributes, axes `dim_N`, fill zero.
    fn default() -> Self {
        Self {
            chunks: None,
            encoding: ChunkEncoding::zstd(1),
            overwrite: false,
            attributes: serde_json::Map::new(),
            dimension_names: None,
            fill_value: None,
        }
    }
}

/// Writes `array` to the `.npy` file `path`: format 1.0 (2.0 if the header needs more than
/// 64 KiB), little endian, C order. The file is built under a temporary name in the same
/// directory and renamed into place when complete, so an interrupted or failed export never
/// leaves a partial file at `path`. An existing file is replaced only if `overwrite`.
/// `progress` is called after every batch of blocks.
///
/// # Errors
/// `path` is a directory, or an existing file without `overwrite`
/// ([`ErrorKind::AlreadyExists`]); the file would be more than 2^64 bytes or more than the
/// destination's file system has free (`statvfs`), or `array` is a stored
/// array whose chunk positions are mostly never written and too many to visit
/// ([`ErrorKind::TooLarge`]); any error evaluating `array`; I/O errors creating, sizing,
/// writing, syncing or renaming the file (named as `path` or its directory, never by the
/// temporary name); `progress` stopping the pass (`Cancelled`: the temporary file is removed).
///
/// [`ErrorKind::AlreadyExists`]: crate::ErrorKind::AlreadyExists
/// [`ErrorKind::TooLarge`]: crate::ErrorKind::TooLarge
pub fn export_npy(
    array: &LazyArray,
    path: &Path,
    overwrite: bool,
    progress: Option<ProgressFn<'_>>,
) -> Result<()> {
    check_destination_file(path, overwrite)?;
    crate::exec::summary::check_sparse_pass("export", array)?;
    let data_type = array.data_type();
    let shape = array.shape();
    let size = data_type.size() as u64;
    let header = npy_header(data_type, shape);
    let file_bytes = shape
        .iter()
        .try_fold(size, |acc, &n| acc.checked_mul(n))
        .and_then(|data| data.checked_add(header.len() as u64))
        .ok_or_else(|| too_large(format!("shape {shape:?} is too large for one file")))?;
    let dir = parent_dir(path);
    fs::create_dir_all(&dir).map_err(io_err(&dir, "create directory"))?;
    // The file is sized first (sparse), so a full disk would otherwise surface as a failed
    // write part way through.
    let available = available_bytes(&dir)?;
    if file_bytes > available {
        return Err(too_large(format!(
            "export to {}: the file needs {file_bytes} bytes, but {} has {available} bytes free",
            path.display(),
            dir.display()
        )));
    }
    let tmp = create_temp_in(&os(), &dir)?;
    let file = tmp.as_file();
    file.set_len(file_bytes).map_err(io_err(path, "size"))?;
    file.write_all_at(&header, 0)
        .map_err(io_err(path, "write"))?;
    let threads = rayon::current_num_threads() as u64;
    let target = NPY_BLOCK_BYTES.min(IN_FLIGHT_BYTES / (2 * threads));
    let block = contiguous_block(shape, size, target);
    let block_bytes = block.iter().product::<u64>() * size;
    let header_len = header.len() as u64;
    let write = |region: &[Range<u64>], block: &Block| -> Result<()> {
        let start: Vec<u64> = region.iter().map(|r| r.start).collect();
        let offset = header_len + crate::format::grid::ravel(&start, shape) * size;
        let bytes = le_bytes(block)?;
        file.write_all_at(&bytes, offset)
            .map_err(io_err(path, "write"))?;
        Ok(())
    };
    stream_blocks(array, &block, block_bytes, progress, write)?;
    tmp.commit(path)?;
    sync_dir(&*os(), &dir)?;
    Ok(())
}

/// Writes `array` as a plain Zarr v3 array at `path`: a regular chunk grid, codecs `bytes`
/// (little endian) then those of `options.encoding`, the default chunk key encoding (`c/i/j`), the
/// fill value, attributes and dimension names of `options` (see
/// [`ExportOptions::metadata_of`]), no sharding — for tools that do not read sharded arrays. Every chunk is
/// written, edge chunks padded to the full chunk shape with zeros as the spec requires. The
/// array is staged beside `path` and renamed into place when complete; `path` may also name
/// a new node inside an existing store.
///
/// # Errors
/// A chunk shape of the wrong rank or with a zero ([`ErrorKind::InvalidArgument`]); a zstd
/// level outside zstd's range ([`ErrorKind::OutOfBounds`]); a destination [`Output::create`]
/// refuses (an existing non-Zarr path, or a Zarr node without `overwrite`:
/// [`ErrorKind::AlreadyExists`]); a stored `array` whose chunk positions are mostly never
/// written and too many to visit (`TooLarge`); any error evaluating `array`; I/O errors writing chunks or
/// metadata (named under `path`) or publishing the array (see [`Output::commit`]); `progress`
/// stopping the pass (`Cancelled`: the staged array is removed).
///
/// [`ErrorKind::InvalidArgument`]: crate::ErrorKind::InvalidArgument
/// [`ErrorKind::OutOfBounds`]: crate::ErrorKind::OutOfBounds
/// [`ErrorKind::AlreadyExists`]: crate::ErrorKind::AlreadyExists
pub fn export_zarr(
    array: &LazyArray,
    path: &Path,
    options: &ExportOptions,
    progress: Option<ProgressFn<'_>>,
) -> Result<()> {
    let data_type = array.data_type();
    let shape = array.shape();
    let size = data_type.size() as u64;
    let chunks = match &options.chunks {
        Some(chunks) => {
            if chunks.len() != shape.len() || chunks.contains(&0) {
                return Err(invalid(format!(
                    "chunk shape {chunks:?} does not fit shape {shape:?}: one positive extent per axis"
                )));
            }
            chunks.clone()
        }
        None => halved_chunk_shape(shape, size, ZARR_CHUNK_BYTES),
    };
    let codec = options.encoding.codec();
    codec.validate().map_err(invalid)?;
    crate::exec::summary::check_sparse_pass("export", array)?;
    let output = Output::create(path, options.overwrite)?;
    let dir = output.store().node_dir(output.name())?;
    fs::create_dir_all(&dir).map_err(io_err(&dir, "create directory"))?;
    let chunk_bytes = chunks.iter().product::<u64>() * size;
    // The chunk directories, synced before the node is published.
    let touched = Mutex::new(BTreeSet::new());
    let write = |region: &[Range<u64>], block: &Block| -> Result<()> {
        let coords: Vec<u64> = region
            .iter()
            .zip(&chunks)
            .map(|(r, c)| r.start / c)
            .collect();
        let bytes = le_bytes(block)?;
        let extents: Vec<u64> = region.iter().map(|r| r.end - r.start).collect();
        CHUNK_BUFFERS.with(|cell| {
            let (padded, encoded) = &mut *cell.borrow_mut();
            let whole: &[u8] = if extents == chunks {
                &bytes
            } else {
                padded.clear();
                padded.resize(chunk_bytes as usize, 0);
                pad_into(&bytes, padded, &chunks, &extents, size as usize);
                padded
            };
            encoded.clear();
            codec.encode_into(whole, encoded)?;
            let file = dir.join(ChunkKeyEncoding::DEFAULT.key(&coords));
            if let Some(parent) = file.parent() {
                fs::create_dir_all(parent).map_err(io_err(parent, "create directory"))?;
                let mut touched = touched.lock().unwrap();
                // A directory already recorded is not copied again (most chunks share one).
                for made in parent.ancestors().take_while(|a| *a != dir) {
                    if !touched.contains(made) {
                        touched.insert(made.to_owned());
                    }
                }
            }
            write_file(&file, encoded)
        })
    };
    let files = || -> Result<()> {
        stream_blocks(array, &chunks, chunk_bytes, progress, write)?;
        // Bottom-up, so each directory's entries are durable before its parent's.
        for chunk_dir in touched.lock().unwrap().iter().rev() {
            sync_dir(&*os(), chunk_dir)?;
        }
        let metadata = zarr_metadata(data_type, shape, &chunks, options);
        write_atomic_in(
            &os(),
            &dir.join(METADATA_FILE),
            &serde_json::to_vec_pretty(&metadata).expect("JSON values serialise"),
        )?;
        Ok(sync_dir(&*os(), &dir)?)
    };
    files().map_err(|e| output.relocate(e))?;
    output.commit()?;
    Ok(())
}

thread_local! {
    /// Per-thread buffers of a Zarr export: a padded edge chunk and an encoded chunk.
    static CHUNK_BUFFERS: RefCell<(Vec<u8>, Vec<u8>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Evaluates `array` in blocks of `block` (one extent per axis) and calls `write` for each,
/// a batch of blocks at a time in parallel.
fn stream_blocks(
    array: &LazyArray,
    block: &[u64],
    block_bytes: u64,
    progress: Option<ProgressFn<'_>>,
    write: impl Fn(&[Range<u64>], &Block) -> Result<()> + Sync,
) -> Result<()> {
    if array.shape().contains(&0) {
        let started = std::time::Instant::now();
        return crate::exec::report(progress, &crate::Progress::since(started, 0, 0, 0));
    }
    let threads = rayon::current_num_threads();
    let batch = ((IN_FLIGHT_BYTES / 2 / block_bytes.max(1)) as usize)
        .clamp(threads, threads * BLOCKS_PER_THREAD);
    let blocks = array.rechunk(block)?;
    let mut compute = blocks.compute().max_blocks_in_flight(batch);
    if let Some(observer) = progress {
        compute = compute.progress(observer);
    }
    let mut pending: Vec<(Vec<Range<u64>>, Block)> = Vec::with_capacity(batch);
    let flush = |pending: &mut Vec<(Vec<Range<u64>>, Block)>| -> Result<()> {
        let result = pending
            .par_iter()
            .try_for_each(|(region, block)| write(region, block));
        pending.clear();
        result
    };
    compute.for_each_block(|region, block| {
        pending.push((region.to_vec(), block));
        if pending.len() >= batch {
            flush(&mut pending)?;
        }
        Ok(())
    })?;
    flush(&mut pending)
}

/// A block's elements as little-endian bytes, C order (borrowed when they already are).
fn le_bytes(block: &Block) -> Result<Cow<'_, [u8]>> {
    with_element_type!(block.data_type(), T => {
        let view = block.view::<T>()?;
        let bytes: Cow<'_, [u8]> = match view.to_slice() {
            Some(values) => Cow::Borrowed(bytemuck::cast_slice(values)),
            None => {
                let values: Vec<T> = view.iter().copied().collect();
                Cow::Owned(bytemuck::cast_slice(&values).to_vec())
            }
        };
        if cfg!(target_endian = "big") {
            let mut owned = bytes.into_owned();
            native_to_le(&mut owned, std::mem::size_of::<T>());
            Ok(Cow::Owned(owned))
        } else {
            Ok(bytes)
        }
    })
}

/// The `.npy` header (magic, version, length, dictionary padded so the data starts at a
/// multiple of 64 bytes) for a little-endian C-order array.
pub(crate) fn npy_header(data_type: DataType, shape: &[u64]) -> Vec<u8> {
    let descr = npy_descr(data_type);
    let dims: Vec<String> = shape.iter().map(u64::to_string).collect();
    let shape_text = match dims.len() {
        0 => "()".to_string(),
        1 => format!("({},)", dims[0]),
        _ => format!("({})", dims.join(", ")),
    };
    let mut dict =
        format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape_text}, }}");
    // Version 1.0 has a 2-byte header length (10-byte preamble), 2.0 a 4-byte one (12).
    let v1_total = (10 + dict.len() + 1).next_multiple_of(64);
    let (version, preamble) = if v1_total - 10 <= usize::from(u16::MAX) {
        (1u8, 10)
    } else {
        (2u8, 12)
    };
    let total = (preamble + dict.len() + 1).next_multiple_of(64);
    dict.push_str(&" ".repeat(total - preamble - dict.len() - 1));
    dict.push('\n');
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(b"\x93NUMPY");
    out.push(version);
    out.push(0);
    if version == 1 {
        out.extend_from_slice(&(dict.len() as u16).to_le_bytes());
    } else {
        out.extend_from_slice(&(dict.len() as u32).to_le_bytes());
    }
    out.extend_from_slice(dict.as_bytes());
    out
}

fn npy_descr(data_type: DataType) -> &'static str {
    match data_type {
        DataType::Bool => "|b1",
        DataType::Int8 => "|i1",
        DataType::Int16 => "<i2",
        DataType::Int32 => "<i4",
        DataType::Int64 => "<i8",
        DataType::UInt8 => "|u1",
        DataType::UInt16 => "<u2",
        DataType::UInt32 => "<u4",
        DataType::UInt64 => "<u8",
        DataType::Float32 => "<f4",
        DataType::Float64 => "<f8",
    }
}

/// A block shape whose blocks are contiguous runs of a C-order array: whole trailing axes,
/// part of one axis, single indices before it, about `target` bytes.
fn contiguous_block(shape: &[u64], size: u64, target: u64) -> Vec<u64> {
    let mut block = vec![1u64; shape.len()];
    let mut bytes = size;
    for axis in (0..shape.len()).rev() {
        let n = shape[axis].max(1);
        if bytes.saturating_mul(n) <= target {
            block[axis] = n;
            bytes *= n;
        } else {
            block[axis] = (target / bytes).clamp(1, n);
            break;
        }
    }
    block
}

/// A chunk of about `target` bytes: the whole array, its longest axis halved until it fits.
fn halved_chunk_shape(shape: &[u64], size: u64, target: u64) -> Vec<u64> {
    let mut chunk: Vec<u64> = shape.iter().map(|&n| n.max(1)).collect();
    while chunk.iter().product::<u64>().saturating_mul(size) > target {
        let longest = (0..chunk.len())
            .max_by_key(|&i| (chunk[i], usize::MAX - i))
            .expect("rank > 0 when over target");
        chunk[longest] = chunk[longest].div_ceil(2);
    }
    chunk
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let file = fs::File::create(path).map_err(io_err(path, "create"))?;
    file.write_all_at(bytes, 0).map_err(io_err(path, "write"))?;
    file.sync_data().map_err(io_err(path, "sync"))?;
    Ok(())
}

/// The `zarr.json` of a plain Zarr v3 array.
fn zarr_metadata(
    data_type: DataType,
    shape: &[u64],
    chunks: &[u64],
    options: &ExportOptions,
) -> Value {
    let mut codecs = vec![bytes_codec(data_type)];
    codecs.extend(options.encoding.codec().metadata());
    let fill_value = match &options.fill_value {
        Some(fill) if fill.data_type() == data_type => {
            serde_json::to_value(fill.to_metadata()).expect("fill values serialise")
        }
        _ => match data_type.kind() {
            Kind::Bool => json!(false),
            Kind::Float => json!(0.0),
            Kind::Signed | Kind::Unsigned => json!(0),
        },
    };
    let dimension_names = options
        .dimension_names
        .clone()
        .filter(|names| names.len() == shape.len())
        .unwrap_or_else(|| default_dimension_names(shape.len()));
    json!({
        "zarr_format": 3,
        "node_type": "array",
        "shape": shape,
        "data_type": data_type.name(),
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunks}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": fill_value,
        "codecs": codecs,
        "attributes": options.attributes,
        "dimension_names": dimension_names,
    })
}

/// Refuses a destination that is a directory, or an existing file unless `overwrite`.
fn check_destination_file(path: &Path, overwrite: bool) -> Result<()> {
    if path.is_dir() {
        return Err(already_exists(format!(
            "{} is a directory; not replacing it",
            path.display()
        )));
    }
    if path.exists() && !overwrite {
        return Err(already_exists(format!(
            "{} already exists (set overwrite to replace it)",
            path.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_aligned_and_versioned() {
        let h = npy_header(DataType::Float64, &[3, 4]);
        assert_eq!(h.len() % 64, 0);
        assert_eq!(&h[..8], b"\x93NUMPY\x01\x00");
        assert!(String::from_utf8_lossy(&h).contains("'shape': (3, 4), }"));
        let h = npy_header(DataType::Bool, &[]);
        assert!(String::from_utf8_lossy(&h).contains("'descr': '|b1'"));
        assert!(String::from_utf8_lossy(&h).contains("'shape': ()"));
        let long = vec![1u64; 30_000];
        let h = npy_header(DataType::Int16, &long);
        assert_eq!(&h[6..8], b"\x02\x00");
        assert_eq!(h.len() % 64, 0);
    }

    #[test]
    fn contiguous_blocks() {
        assert_eq!(
            contiguous_block(&[100, 1000, 1000], 8, 8 << 20),
            vec![1, 1000, 1000]
        );
        assert_eq!(
            contiguous_block(&[100, 10, 1000], 8, 8 << 20),
            vec![100, 10, 1000]
        );
        assert_eq!(
            contiguous_block(&[10_000, 1_000], 8, 8 << 20),
            vec![1048, 1000]
        );
        assert_eq!(contiguous_block(&[], 8, 8 << 20), Vec::<u64>::new());
        assert_eq!(contiguous_block(&[5, 0, 3], 8, 8 << 20), vec![5, 1, 3]);
        assert_eq!(
            contiguous_block(&[3, 1 << 40], 1, 8 << 20),
            vec![1, 8 << 20]
        );
    }

    #[test]
    fn padding_places_rows() {
        let src: Vec<u8> = (1..=6).collect();
        let mut dst = vec![0u8; 12];
        pad_into(&src, &mut dst, &[3, 4], &[2, 3], 1);
        assert_eq!(dst, vec![1, 2, 3, 0, 4, 5, 6, 0, 0, 0, 0, 0]);
    }
}
