//! Per-chunk statistics and their sidecar file (`format-spec/stats-sidecar.md`).
//!
//! Writers compute a [`ChunkStats`] for every chunk they store, over the chunk's elements that
//! lie inside the array (edge padding excluded). Readers merge them to answer statistics and
//! whole-chunk reductions without decoding data.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

use multiversion::multiversion;

use super::{ChunkGrid, FormatError};
use crate::element::{extremes, pairwise_nansum, DataType, Element, Kind, Moments, Scalar};

/// The sidecar's first eight bytes.
pub(crate) const STATS_MAGIC: [u8; 8] = *b"OCSTATS\0";
/// The sidecar layout version this code writes and reads.
pub(crate) const STATS_VERSION: u32 = 1;
/// Bytes per chunk record.
pub(crate) const STATS_RECORD_BYTES: u32 = 64;
/// Flag bit: the record describes a stored chunk (clear: the chunk was never written, or its
/// statistics are unknown).
pub(crate) const STATS_FLAG_PRESENT: u32 = 1;
/// Bytes of the fixed part of the header (magic, version, record size, data type, rank).
pub(crate) const STATS_HEADER_FIXED_BYTES: usize = 24;

/// The statistics of one chunk's in-bounds elements.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChunkStats {
    /// Elements inside the array.
    pub count: u64,
    /// Of those, NaNs (always 0 for non-float types).
    pub nan_count: u64,
    /// Smallest non-NaN value (`Float(NaN)` when every value is NaN, or the chunk is empty).
    pub min: Scalar,
    /// Largest non-NaN value (as `min`).
    pub max: Scalar,
    /// Sum of the non-NaN values in numpy's result type: wrapping `Int` for signed integers
    /// and bool, wrapping `UInt` for unsigned integers, pairwise `Float` for floats.
    pub sum: Scalar,
    /// Mean of the non-NaN values, in `f64` (NaN if there are none).
    pub mean: f64,
    /// Sum of squared deviations of the non-NaN values from `mean` (for variance, merged
    /// across chunks by Chan et al.'s formula).
    pub m2: f64,
}

fn scalar_bits(s: Scalar) -> u64 {
    match s {
        Scalar::Bool(b) => u64::from(b),
        Scalar::Int(v) => v as u64,
        Scalar::UInt(v) => v,
        Scalar::Float(v) => v.to_bits(),
    }
}

fn scalar_from_bits(bits: u64, kind: Kind, sum: bool) -> Scalar {
    match (kind, sum) {
        (Kind::Bool, false) => Scalar::Bool(bits != 0),
        (Kind::Bool, true) | (Kind::Signed, _) => Scalar::Int(bits as i64),
        (Kind::Unsigned, _) => Scalar::UInt(bits),
        (Kind::Float, _) => Scalar::Float(f64::from_bits(bits)),
    }
}

/// The contiguous runs (along the last axis) of a chunk's in-bounds part.
fn valid_runs<'a, T>(
    data: &'a [T],
    chunk_shape: &[u64],
    valid: &[u64],
) -> impl Iterator<Item = &'a [T]> + 'a {
    super::grid::valid_runs(chunk_shape, valid).map(move |(start, len)| &data[start..start + len])
}

impl ChunkStats {
    /// The statistics of the in-bounds part (`valid` extent) of a whole chunk (`data`, in C
    /// order over `chunk_shape`).
    pub fn compute<T: Element>(data: &[T], chunk_shape: &[u64], valid: &[u64]) -> Self {
        let count: u64 = valid.iter().product();
        let kind = T::DATA_TYPE.kind();
        let mut range: Option<(T, T)> = None;
        let mut int_sum = 0u64;
        let mut non_nan = 0u64;
        let mut moments = Moments::default();
        // One visit per run (an interior chunk is a single run). The NaN-skipping pairwise
        // sums and two-pass moments are computed exactly as the engine's scan computes them,
        // so answers from this sidecar equal scanning bit for bit.
        let float_sum: f64 = valid_runs(data, chunk_shape, valid)
            .map(|run| {
                // Each the first equal value, as a serial scan replacing only on a strict
                // comparison keeps (that matters only for `-0.0` against `0.0`).
                range = match (range, extremes(run).range) {
                    (Some((lo, hi)), Some((l, h))) => {
                        Some((if l < lo { l } else { lo }, if h > hi { h } else { hi }))
                    }
                    (a, b) => a.or(b),
                };
                moments.merge(&Moments::of(run, true));
                if kind == Kind::Float {
                    let (sum, n) = pairwise_nansum(run);
                    non_nan += n;
                    sum
                } else {
                    int_sum = int_sum.wrapping_add(wrapping_sum(run));
                    non_nan += run.len() as u64;
                    0.0
                }
            })
            .sum();
        let sum = match kind {
            Kind::Float => Scalar::Float(float_sum),
            Kind::Unsigned => Scalar::UInt(int_sum),
            Kind::Signed | Kind::Bool => Scalar::Int(int_sum as i64),
        };
        let (mean, m2) = if moments.n == 0.0 {
            (f64::NAN, 0.0)
        } else {
            (moments.mean, moments.m2)
        };
        let widen = |v: Option<T>| v.map_or(Scalar::Float(f64::NAN), widen_scalar);
        Self {
            count,
            nan_count: count - non_nan,
            min: widen(range.map(|e| e.0)),
            max: widen(range.map(|e| e.1)),
            sum,
            mean,
            m2,
        }
    }

    /// The record's seven 64-bit fields in sidecar order (count, NaN count, min, max, sum,
    /// mean, M2), every value as its bits.
    fn record_fields(&self) -> [u64; 7] {
        [
            self.count,
            self.nan_count,
            scalar_bits(self.min),
            scalar_bits(self.max),
            scalar_bits(self.sum),
            self.mean.to_bits(),
            self.m2.to_bits(),
        ]
    }

    /// Combines the statistics of two disjoint sets of elements (Chan et al. for the
    /// variance).
    pub fn merge(&self, other: &Self) -> Self {
        let n_a = (self.count - self.nan_count) as f64;
        let n_b = (other.count - other.nan_count) as f64;
        let n = n_a + n_b;
        let (mean, m2) = if n_a == 0.0 {
            (other.mean, other.m2)
        } else if n_b == 0.0 {
            (self.mean, self.m2)
        } else {
            let delta = other.mean - self.mean;
            (
                self.mean + delta * n_b / n,
                self.m2 + other.m2 + delta * delta * n_a * n_b / n,
            )
        };
        Self {
            count: self.count + other.count,
            nan_count: self.nan_count + other.nan_count,
            min: pick(self.min, other.min, true),
            max: pick(self.max, other.max, false),
            sum: match (self.sum, other.sum) {
                (Scalar::Int(a), Scalar::Int(b)) => Scalar::Int(a.wrapping_add(b)),
                (Scalar::UInt(a), Scalar::UInt(b)) => Scalar::UInt(a.wrapping_add(b)),
                (a, b) => Scalar::Float(scalar_f64(a) + scalar_f64(b)),
            },
            mean,
            m2,
        }
    }
}

/// The wrapping sum of integer (or bool) values widened exactly to 64 bits; addition modulo
/// 2^64 does not depend on order, so the vectorised sum equals a serial one. Compiled for
/// AVX-512 and AVX2 as well as the baseline.
#[multiversion(targets("x86_64+avx512f+avx512bw+avx512dq+avx512vl", "x86_64+avx2"))]
fn wrapping_sum<T: Element>(values: &[T]) -> u64 {
    if T::DATA_TYPE.kind() == Kind::Unsigned {
        values
            .iter()
            .fold(0u64, |a, &v| a.wrapping_add(widen_bits_unsigned(v)))
    } else {
        values
            .iter()
            .fold(0u64, |a, &v| a.wrapping_add(widen_bits_signed(v) as u64))
    }
}

/// A scalar as `f64`.
pub(crate) fn scalar_f64(s: Scalar) -> f64 {
    match s {
        Scalar::Bool(b) => f64::from(u8::from(b)),
        Scalar::Int(v) => v as f64,
        Scalar::UInt(v) => v as f64,
        Scalar::Float(v) => v,
    }
}

fn pick(a: Scalar, b: Scalar, smaller: bool) -> Scalar {
    let nan = |s: Scalar| matches!(s, Scalar::Float(v) if v.is_nan());
    if nan(a) {
        return b;
    }
    if nan(b) {
        return a;
    }
    let a_first = match (a, b) {
        (Scalar::Int(x), Scalar::Int(y)) => (x <= y) == smaller,
        (Scalar::UInt(x), Scalar::UInt(y)) => (x <= y) == smaller,
        (Scalar::Bool(x), Scalar::Bool(y)) => (x <= y) == smaller,
        (x, y) => (scalar_f64(x) <= scalar_f64(y)) == smaller,
    };
    if a_first {
        a
    } else {
        b
    }
}

fn widen_scalar<T: Element>(v: T) -> Scalar {
    match T::DATA_TYPE.kind() {
        Kind::Bool => Scalar::Bool(v.to_f64() != 0.0),
        Kind::Signed => Scalar::Int(widen_bits_signed(v)),
        Kind::Unsigned => Scalar::UInt(widen_bits_unsigned(v)),
        Kind::Float => Scalar::Float(v.to_f64()),
    }
}

/// A signed integer (or bool) widened to i64 exactly, through its bytes.
#[inline(always)]
fn widen_bits_signed<T: Element>(v: T) -> i64 {
    let b = bytemuck::bytes_of(&v);
    match b.len() {
        1 if T::DATA_TYPE == DataType::Bool => i64::from(b[0]),
        1 => i64::from(b[0] as i8),
        2 => i64::from(i16::from_ne_bytes([b[0], b[1]])),
        4 => i64::from(i32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
        _ => i64::from_ne_bytes(b.try_into().expect("8 bytes")),
    }
}

/// An unsigned integer widened to u64 exactly, through its bytes.
#[inline(always)]
fn widen_bits_unsigned<T: Element>(v: T) -> u64 {
    let b = bytemuck::bytes_of(&v);
    match b.len() {
        1 => u64::from(b[0]),
        2 => u64::from(u16::from_ne_bytes([b[0], b[1]])),
        4 => u64::from(u32::from_ne_bytes([b[0], b[1], b[2], b[3]])),
        _ => u64::from_ne_bytes(b.try_into().expect("8 bytes")),
    }
}

/// The statistics of every chunk of an array, as stored in the sidecar; `None` for chunks
/// without statistics (never written, or written by a tool that keeps none).
///
/// A table is held in memory (a writer's, or one decoded from bytes) or read from its file
/// record by record ([`StatsTable::read_from`]): a reader's memory never grows with the
/// number of chunks.
#[derive(Debug, Clone)]
pub struct StatsTable {
    data_type: DataType,
    shape: Vec<u64>,
    chunk_shape: Vec<u64>,
    records: Records,
}

/// Where a table's records are.
#[derive(Debug, Clone)]
enum Records {
    /// One slot per chunk, in memory.
    Owned(Vec<Option<ChunkStats>>),
    /// In a sidecar file already checked whole (checksum and every record's counts), read
    /// when asked: `count` records from byte `at`. A published sidecar is only ever replaced
    /// by rename, never changed in place, so the open file keeps the bytes that were checked.
    File {
        file: Arc<File>,
        at: u64,
        count: u64,
    },
}

/// Bytes read at once when a sidecar file is checked or its records are walked.
const READ_PIECE_BYTES: usize = 1 << 20;

impl PartialEq for StatsTable {
    fn eq(&self, other: &Self) -> bool {
        self.data_type == other.data_type
            && self.shape == other.shape
            && self.chunk_shape == other.chunk_shape
            && self.len() == other.len()
            && self.iter().eq(other.iter())
    }
}

/// What a sidecar's header says, checked against the array it belongs to.
struct Header {
    shape: Vec<u64>,
    chunk_shape: Vec<u64>,
    /// Offset of record 0.
    records_at: usize,
    /// Records in the file (the array's chunks).
    count: u64,
}

impl StatsTable {
    /// A table with no statistics for an array of this type and grid, or `None` when memory
    /// cannot hold one record per chunk (a huge grid of chunks, most never written).
    pub fn empty(data_type: DataType, grid: &ChunkGrid) -> Option<Self> {
        Some(Self {
            data_type,
            shape: grid.shape().to_vec(),
            chunk_shape: grid.chunk_shape().to_vec(),
            records: Records::Owned(try_records(grid.num_chunks())?),
        })
    }

    /// Records in the table (the array's chunks).
    fn len(&self) -> u64 {
        match &self.records {
            Records::Owned(records) => records.len() as u64,
            Records::File { count, .. } => *count,
        }
    }

    /// The statistics of the chunk with C-order linear index `chunk`. A record of a file
    /// that can no longer be read (an I/O error after it was checked) counts as none: the
    /// caller reads the data instead.
    pub fn get(&self, chunk: u64) -> Option<ChunkStats> {
        match &self.records {
            Records::Owned(records) => records.get(usize::try_from(chunk).ok()?).copied()?,
            Records::File { file, at, count } => {
                if chunk >= *count {
                    return None;
                }
                let mut record = [0u8; STATS_RECORD_BYTES as usize];
                file.read_exact_at(&mut record, at + chunk * u64::from(STATS_RECORD_BYTES))
                    .ok()?;
                self.record(&record)
            }
        }
    }

    /// Sets (or clears) a chunk's statistics. A table read from a file is first read into
    /// memory ([`StatsTable::into_owned`] says whether memory holds it).
    ///
    /// # Panics
    /// If `chunk` is not a chunk of the table, or a table read from a file does not fit in
    /// memory.
    pub fn set(&mut self, chunk: u64, stats: Option<ChunkStats>) {
        if let Records::File { .. } = self.records {
            *self = self.clone().into_owned().expect("the table fits in memory");
        }
        let Records::Owned(records) = &mut self.records else {
            unreachable!("made owned above")
        };
        records[chunk as usize] = stats;
    }

    /// The table with its records in memory, or `None` when memory cannot hold them.
    pub fn into_owned(self) -> Option<Self> {
        if let Records::Owned(_) = self.records {
            return Some(self);
        }
        let mut records = try_records(self.len())?;
        for (slot, record) in records.iter_mut().zip(self.iter()) {
            *slot = record;
        }
        Some(Self {
            records: Records::Owned(records),
            ..self
        })
    }

    /// Chunks with statistics.
    pub fn present(&self) -> u64 {
        self.iter().filter(Option::is_some).count() as u64
    }

    /// Every record, in chunk order, read piece by piece from a file (a record that can no
    /// longer be read is `None`, as in [`StatsTable::get`]).
    pub fn iter(&self) -> impl Iterator<Item = Option<ChunkStats>> + '_ {
        let mut piece = Vec::new();
        let mut piece_start = 0u64;
        (0..self.len()).map(move |chunk| match &self.records {
            Records::Owned(records) => records[chunk as usize],
            Records::File { file, at, count } => {
                let record_bytes = u64::from(STATS_RECORD_BYTES);
                let per_piece = READ_PIECE_BYTES as u64 / record_bytes;
                if chunk == 0 || chunk >= piece_start + per_piece {
                    piece_start = chunk;
                    let n = per_piece.min(count - chunk);
                    piece.resize((n * record_bytes) as usize, 0);
                    if file
                        .read_exact_at(&mut piece, at + chunk * record_bytes)
                        .is_err()
                    {
                        piece.clear();
                    }
                }
                let o = ((chunk - piece_start) * record_bytes) as usize;
                piece
                    .get(o..o + STATS_RECORD_BYTES as usize)
                    .and_then(|r| self.record(r))
            }
        })
    }

    /// A record's statistics (`None` when its present flag is clear); its counts were
    /// checked when the table was read.
    fn record(&self, record: &[u8]) -> Option<ChunkStats> {
        let f = |i: usize| u64::from_le_bytes(record[8 * i..8 * i + 8].try_into().expect("8"));
        let flags = u32::from_le_bytes(record[56..60].try_into().expect("4 bytes"));
        if flags & STATS_FLAG_PRESENT == 0 {
            return None;
        }
        let kind = self.data_type.kind();
        Some(ChunkStats {
            count: f(0),
            nan_count: f(1),
            min: scalar_from_bits(f(2), kind, false),
            max: scalar_from_bits(f(3), kind, false),
            sum: scalar_from_bits(f(4), kind, true),
            mean: f64::from_bits(f(5)),
            m2: f64::from_bits(f(6)),
        })
    }

    /// The sidecar bytes.
    pub fn encode(&self) -> Vec<u8> {
        let ndim = self.shape.len();
        let mut out = Vec::with_capacity(
            STATS_HEADER_FIXED_BYTES
                + 16 * ndim
                + self.len() as usize * STATS_RECORD_BYTES as usize
                + 4,
        );
        out.extend_from_slice(&STATS_MAGIC);
        out.extend_from_slice(&STATS_VERSION.to_le_bytes());
        out.extend_from_slice(&STATS_RECORD_BYTES.to_le_bytes());
        out.extend_from_slice(&self.data_type.code().to_le_bytes());
        out.extend_from_slice(&(ndim as u32).to_le_bytes());
        for v in self.shape.iter().chain(&self.chunk_shape) {
            out.extend_from_slice(&v.to_le_bytes());
        }
        for record in self.iter() {
            let (fields, flags) = match record {
                None => ([0u64; 7], 0u32),
                Some(s) => (s.record_fields(), STATS_FLAG_PRESENT),
            };
            for f in fields {
                out.extend_from_slice(&f.to_le_bytes());
            }
            out.extend_from_slice(&flags.to_le_bytes());
            out.extend_from_slice(&0u32.to_le_bytes());
        }
        let crc = crc32c::crc32c(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    /// Reads a sidecar and checks it against the array it belongs to; the records are
    /// held in memory.
    ///
    /// # Errors
    /// [`FormatError::SidecarCorrupt`] for damaged bytes (magic, checksum, version, record
    /// size, length) and for a record whose counts cannot be the chunk's (a count other than
    /// the chunk's elements inside the array, more NaNs than elements, NaNs in an integer
    /// array); [`FormatError::SidecarMismatch`] for a sidecar of another array.
    pub fn decode(
        bytes: &[u8],
        path: &Path,
        data_type: DataType,
        grid: &ChunkGrid,
    ) -> Result<Self, FormatError> {
        let read_at = |buf: &mut [u8], offset: u64| {
            let start = offset as usize;
            buf.copy_from_slice(&bytes[start..start + buf.len()]);
            Ok(())
        };
        let header = check(read_at, bytes.len() as u64, path, data_type, grid)?;
        let mut records = try_records(header.count).ok_or_else(|| FormatError::SidecarCorrupt {
            path: path.to_owned(),
            reason: format!("{} chunk records do not fit in memory", header.count),
        })?;
        let table = Self {
            data_type,
            shape: header.shape,
            chunk_shape: header.chunk_shape,
            records: Records::Owned(Vec::new()),
        };
        for (c, slot) in records.iter_mut().enumerate() {
            let o = header.records_at + c * STATS_RECORD_BYTES as usize;
            *slot = table.record(&bytes[o..o + STATS_RECORD_BYTES as usize]);
        }
        Ok(Self {
            records: Records::Owned(records),
            ..table
        })
    }

    /// Reads the sidecar open as `file` (at `path`) and checks it against the array it
    /// belongs to, as [`StatsTable::decode`] does, reading it piece by piece: the records
    /// stay in the file, read when asked, so memory does not grow with their number.
    ///
    /// # Errors
    /// As [`StatsTable::decode`]; [`FormatError::SidecarRead`] when the file cannot be read.
    pub fn read_from(
        file: File,
        path: &Path,
        data_type: DataType,
        grid: &ChunkGrid,
    ) -> Result<Self, FormatError> {
        let read_err = |source| FormatError::SidecarRead {
            path: path.to_owned(),
            source,
        };
        let len = file.metadata().map_err(read_err)?.len();
        let header = check(
            |buf: &mut [u8], offset| file.read_exact_at(buf, offset),
            len,
            path,
            data_type,
            grid,
        )?;
        Ok(Self {
            data_type,
            shape: header.shape,
            chunk_shape: header.chunk_shape,
            records: Records::File {
                file: Arc::new(file),
                at: header.records_at as u64,
                count: header.count,
            },
        })
    }
}

/// Checks a sidecar of `len` bytes, read through `read_at` piece by piece (never whole):
/// magic, checksum, then the header against the array, then every record's counts.
fn check(
    read_at: impl Fn(&mut [u8], u64) -> std::io::Result<()>,
    len: u64,
    path: &Path,
    data_type: DataType,
    grid: &ChunkGrid,
) -> Result<Header, FormatError> {
    let corrupt = |reason: String| FormatError::SidecarCorrupt {
        path: path.to_owned(),
        reason,
    };
    let mismatch = |reason: String| FormatError::SidecarMismatch {
        path: path.to_owned(),
        reason,
    };
    let read = |buf: &mut [u8], offset: u64| {
        read_at(buf, offset).map_err(|source| FormatError::SidecarRead {
            path: path.to_owned(),
            source,
        })
    };
    let mut fixed = [0u8; STATS_HEADER_FIXED_BYTES];
    if len < STATS_HEADER_FIXED_BYTES as u64 + 4 || {
        read(&mut fixed, 0)?;
        fixed[..8] != STATS_MAGIC
    } {
        return Err(corrupt(
            "not an outcore statistics file (bad magic or too short)".into(),
        ));
    }
    // The checksum covers everything before its own four bytes.
    let body_len = len - 4;
    let mut crc = 0u32;
    let mut piece = vec![0u8; READ_PIECE_BYTES];
    let mut offset = 0u64;
    while offset < body_len {
        let n = (body_len - offset).min(READ_PIECE_BYTES as u64) as usize;
        read(&mut piece[..n], offset)?;
        crc = crc32c::crc32c_append(crc, &piece[..n]);
        offset += n as u64;
    }
    let mut stored = [0u8; 4];
    read(&mut stored, body_len)?;
    let stored = u32::from_le_bytes(stored);
    if stored != crc {
        return Err(corrupt(format!(
            "checksum mismatch: stored {stored:#010x}, computed {crc:#010x}"
        )));
    }
    let u32_at = |o: usize| u32::from_le_bytes(fixed[o..o + 4].try_into().expect("4 bytes"));
    let version = u32_at(8);
    if version != STATS_VERSION {
        return Err(corrupt(format!(
            "version {version}, this outcore reads {STATS_VERSION}"
        )));
    }
    if u32_at(12) != STATS_RECORD_BYTES {
        return Err(corrupt(format!("record size {}", u32_at(12))));
    }
    let stored_type = DataType::from_code(u32_at(16));
    if stored_type != Some(data_type) {
        return Err(mismatch(format!(
            "data type code {} but the array is {data_type}",
            u32_at(16)
        )));
    }
    let ndim = u32_at(20) as usize;
    if ndim != grid.ndim() {
        return Err(mismatch(format!(
            "{ndim} dimensions but the array has {}",
            grid.ndim()
        )));
    }
    let records_at = STATS_HEADER_FIXED_BYTES + 16 * ndim;
    if body_len < records_at as u64 {
        return Err(corrupt(format!(
            "{body_len} bytes, the header of {ndim} dimensions needs {records_at}"
        )));
    }
    let mut extents = vec![0u8; 16 * ndim];
    read(&mut extents, STATS_HEADER_FIXED_BYTES as u64)?;
    let u64s: Vec<u64> = extents
        .chunks_exact(8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
        .collect();
    let (shape, chunk_shape) = u64s.split_at(ndim);
    if shape != grid.shape() || chunk_shape != grid.chunk_shape() {
        return Err(mismatch(format!(
            "shape {shape:?} chunks {chunk_shape:?}, array has shape {:?} chunks {:?}",
            grid.shape(),
            grid.chunk_shape()
        )));
    }
    // The length is checked before any record is read, in u64: a grid of 2^60 chunks must
    // not wrap to a small expected length.
    let count = grid.num_chunks();
    let expected = count
        .checked_mul(u64::from(STATS_RECORD_BYTES))
        .and_then(|b| b.checked_add(records_at as u64));
    if expected != Some(body_len) {
        return Err(corrupt(format!(
            "{body_len} bytes, {count} chunk records need {}",
            expected.map_or("more than 2^64".to_string(), |e| e.to_string())
        )));
    }
    // Counts are what merging adds and subtracts: a record whose counts cannot be its
    // chunk's is damage, not statistics.
    let kind = data_type.kind();
    let chunk_grid = grid.chunk_grid_shape();
    let record_bytes = STATS_RECORD_BYTES as usize;
    let per_piece = (READ_PIECE_BYTES / record_bytes) as u64;
    let mut first = 0u64;
    while first < count {
        let n = per_piece.min(count - first);
        let bytes = &mut piece[..n as usize * record_bytes];
        read(bytes, records_at as u64 + first * record_bytes as u64)?;
        for (i, record) in bytes.chunks_exact(record_bytes).enumerate() {
            let f = |i: usize| u64::from_le_bytes(record[8 * i..8 * i + 8].try_into().expect("8"));
            let flags = u32::from_le_bytes(record[56..60].try_into().expect("4 bytes"));
            if flags & STATS_FLAG_PRESENT == 0 {
                continue;
            }
            let (count, nan_count) = (f(0), f(1));
            let coords = super::grid::unravel(first + i as u64, &chunk_grid);
            let inside: u64 = grid.chunk_valid_shape(&coords).iter().product();
            if count != inside || nan_count > count || (kind != Kind::Float && nan_count > 0) {
                return Err(corrupt(format!(
                    "record of chunk {coords:?}: count {count}, NaN count {nan_count}, but the \
                     chunk has {inside} elements inside the array"
                )));
            }
        }
        first += n;
    }
    Ok(Header {
        shape: shape.to_vec(),
        chunk_shape: chunk_shape.to_vec(),
        records_at,
        count,
    })
}

/// Most chunk records a table holds: a sidecar of 256 GiB, far past any array whose chunks
/// were all written, so only a huge grid of chunks never written reaches it.
const MAX_RECORDS: u64 = 1 << 32;

/// `n` empty records, or `None` when there are more than [`MAX_RECORDS`] or memory cannot
/// hold them (asked, not assumed).
fn try_records(n: u64) -> Option<Vec<Option<ChunkStats>>> {
    let n = usize::try_from(n).ok().filter(|_| n <= MAX_RECORDS)?;
    let mut records = Vec::new();
    records.try_reserve_exact(n).ok()?;
    records.resize(n, None);
    Some(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A plain serial scan of the in-bounds elements: min and max replaced only on a strict
    /// comparison, integer sums wrapping, the float sum and moments per run as the engine.
    fn serial_reference<T: Element>(data: &[T], chunk_shape: &[u64], valid: &[u64]) -> ChunkStats {
        let runs: Vec<&[T]> = valid_runs(data, chunk_shape, valid).collect();
        let (mut lo, mut hi, mut nan_count) = (None::<T>, None::<T>, 0);
        let (mut int_sum, mut moments) = (0u64, Moments::default());
        for &v in runs.iter().copied().flatten() {
            if v.is_nan() {
                nan_count += 1;
                continue;
            }
            if lo.is_none_or(|m| v < m) {
                lo = Some(v);
            }
            if hi.is_none_or(|m| v > m) {
                hi = Some(v);
            }
            int_sum = match T::DATA_TYPE.kind() {
                Kind::Unsigned => int_sum.wrapping_add(widen_bits_unsigned(v)),
                _ => int_sum.wrapping_add(widen_bits_signed(v) as u64),
            };
        }
        for run in &runs {
            moments.merge(&Moments::of(run, true));
        }
        let sum = match T::DATA_TYPE.kind() {
            Kind::Float => Scalar::Float(runs.iter().map(|r| pairwise_nansum(r).0).sum()),
            Kind::Unsigned => Scalar::UInt(int_sum),
            _ => Scalar::Int(int_sum as i64),
        };
        let widen = |v: Option<T>| v.map_or(Scalar::Float(f64::NAN), widen_scalar);
        let empty = moments.n == 0.0;
        ChunkStats {
            count: valid.iter().product(),
            nan_count,
            min: widen(lo),
            max: widen(hi),
            sum,
            mean: if empty { f64::NAN } else { moments.mean },
            m2: if empty { 0.0 } else { moments.m2 },
        }
    }

    /// `compute` against [`serial_reference`], bit for bit, for values made by `make` from
    /// random bits, over lengths around the lane width and edge chunks of 1 to 3 dimensions.
    fn check_against_reference<T: Element>(make: impl Fn(u64) -> T) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(T::DATA_TYPE.code().into());
        let grids: Vec<(Vec<u64>, Vec<u64>)> = (0..=70)
            .chain([1000, 4097, 9001])
            .map(|n| (vec![n], vec![n]))
            .chain([
                (vec![40], vec![33]),
                (vec![5, 37], vec![5, 37]),
                (vec![5, 37], vec![3, 20]),
                (vec![5, 37], vec![5, 1]),
                (vec![3, 4, 17], vec![2, 4, 17]),
                (vec![3, 4, 17], vec![3, 1, 5]),
                (vec![64, 64, 2], vec![63, 64, 2]),
            ])
            .collect();
        for (chunk, valid) in &grids {
            let len = chunk.iter().product::<u64>() as usize;
            for density in [0u32, 1, 8, 64] {
                // `density` of 64: every element from `make`; lower: mostly one repeated value,
                // so ties (and zeros of both signs) are common.
                let tie = make(rng.gen());
                let data: Vec<T> = (0..len)
                    .map(|_| {
                        if rng.gen_range(0..64) < density {
                            make(rng.gen())
                        } else {
                            tie
                        }
                    })
                    .collect();
                let got = ChunkStats::compute(&data, chunk, valid);
                let want = serial_reference(&data, chunk, valid);
                assert_eq!(
                    ChunkStats::record_fields(&got),
                    ChunkStats::record_fields(&want),
                    "{} chunk {chunk:?} valid {valid:?}: {got:?} vs {want:?}",
                    T::DATA_TYPE
                );
            }
        }
    }

    /// A float from random bits: often NaN, an infinity, `0.0` or `-0.0`, else a small value.
    fn special_float(r: u64) -> f64 {
        match r % 10 {
            0 => f64::NAN,
            1 => f64::INFINITY,
            2 => f64::NEG_INFINITY,
            3 => 0.0,
            4 => -0.0,
            _ => ((r >> 8) % 2001) as f64 * 0.25 - 250.0,
        }
    }

    #[test]
    fn compute_equals_a_serial_scan_for_every_type() {
        check_against_reference(|r| r & 1 == 1);
        check_against_reference(|r| r as i8);
        check_against_reference(|r| r as i16);
        check_against_reference(|r| r as i32);
        check_against_reference(|r| r as i64);
        check_against_reference(|r| r as u8);
        check_against_reference(|r| r as u16);
        check_against_reference(|r| r as u32);
        check_against_reference(|r| r);
        check_against_reference(|r| special_float(r) as f32);
        check_against_reference(special_float);
        // Zeros of both signs in either order, all NaN, NaN first.
        for data in [
            vec![0.0, -0.0, 1.0],
            vec![-0.0, 0.0, -1.0],
            vec![f64::NAN, -0.0, 0.0],
            vec![f64::NAN; 40],
            [vec![1.0; 20], vec![-0.0; 20], vec![0.0; 20]].concat(),
            [vec![f64::NAN; 17], vec![0.0; 20], vec![-0.0; 20]].concat(),
        ] {
            let n = [data.len() as u64];
            assert_eq!(
                ChunkStats::record_fields(&ChunkStats::compute(&data, &n, &n)),
                ChunkStats::record_fields(&serial_reference(&data, &n, &n)),
                "{data:?}"
            );
        }
    }

    #[test]
    fn compute_skips_padding_and_nans() {
        // A 3x4 chunk whose valid part is 2x3; padding holds 1000.
        let data = [
            1.0,
            f64::NAN,
            3.0,
            1000.0,
            4.0,
            5.0,
            -6.0,
            1000.0,
            1000.0,
            1000.0,
            1000.0,
            1000.0,
        ];
        let s = ChunkStats::compute(&data, &[3, 4], &[2, 3]);
        assert_eq!((s.count, s.nan_count), (6, 1));
        assert_eq!((s.min, s.max), (Scalar::Float(-6.0), Scalar::Float(5.0)));
        assert_eq!(s.sum, Scalar::Float(7.0));
        let values = [1.0, 3.0, 4.0, 5.0, -6.0];
        let mean = 7.0 / 5.0;
        let m2: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
        assert!((s.m2 - m2).abs() < 1e-12);
    }

    #[test]
    fn merge_equals_compute_over_the_union() {
        let a: Vec<i32> = (0..37).map(|i| i * 7 - 100).collect();
        let whole = ChunkStats::compute(&a, &[37], &[37]);
        let left = ChunkStats::compute(&a[..20], &[20], &[20]);
        let right = ChunkStats::compute(&a[20..], &[17], &[17]);
        let merged = left.merge(&right);
        assert_eq!(
            (merged.min, merged.max, merged.sum),
            (whole.min, whole.max, whole.sum)
        );
        assert!((merged.m2 - whole.m2).abs() < 1e-9 * whole.m2);
        assert!((merged.mean - whole.mean).abs() < 1e-12);
    }

    #[test]
    fn integer_extremes_are_exact() {
        let data = [i64::MAX, i64::MIN, 5];
        let s = ChunkStats::compute(&data, &[3], &[3]);
        assert_eq!(
            (s.min, s.max),
            (Scalar::Int(i64::MIN), Scalar::Int(i64::MAX))
        );
        let u = ChunkStats::compute(&[u64::MAX, 1], &[2], &[2]);
        assert_eq!(u.max, Scalar::UInt(u64::MAX));
        assert_eq!(u.sum, Scalar::UInt(0));
        let b = ChunkStats::compute(&[true, false, true], &[3], &[3]);
        assert_eq!(
            (b.min, b.max, b.sum),
            (Scalar::Bool(false), Scalar::Bool(true), Scalar::Int(2))
        );
    }

    #[test]
    fn sidecar_round_trip_and_damage() {
        let grid = ChunkGrid::new(&[5, 4], &[2, 4], &[4, 4], 4).unwrap();
        let mut table = StatsTable::empty(DataType::Int32, &grid).unwrap();
        table.set(
            1,
            Some(ChunkStats::compute(
                &[1i32, 2, 3, 4, 5, 6, 7, 8],
                &[2, 4],
                &[2, 4],
            )),
        );
        let bytes = table.encode();
        let p = Path::new("outcore.stats");
        assert_eq!(
            StatsTable::decode(&bytes, p, DataType::Int32, &grid).unwrap(),
            table
        );
        let mut flipped = bytes.clone();
        flipped[40] ^= 4;
        assert!(matches!(
            StatsTable::decode(&flipped, p, DataType::Int32, &grid),
            Err(FormatError::SidecarCorrupt { .. })
        ));
        assert!(matches!(
            StatsTable::decode(&bytes, p, DataType::Float32, &grid),
            Err(FormatError::SidecarMismatch { .. })
        ));
        let other = ChunkGrid::new(&[6, 4], &[2, 4], &[4, 4], 4).unwrap();
        assert!(matches!(
            StatsTable::decode(&bytes, p, DataType::Int32, &other),
            Err(FormatError::SidecarMismatch { .. })
        ));
        assert!(StatsTable::decode(&bytes[..30], p, DataType::Int32, &grid).is_err());
    }

    /// A sidecar with a valid checksum whose header or records lie: re-checksummed after
    /// each edit, so only the checks after the CRC can catch it.
    #[test]
    fn sidecar_lies_are_corrupt_not_wraps() {
        let p = Path::new("outcore.stats");
        let resum = |mut b: Vec<u8>| {
            let n = b.len() - 4;
            let crc = crc32c::crc32c(&b[..n]);
            b[n..].copy_from_slice(&crc.to_le_bytes());
            b
        };
        // 2^58 chunks: 64 bytes each wraps usize; the file's 28 + 16 bytes are not enough.
        let huge = ChunkGrid::new(&[1 << 58], &[1], &[1], 8).unwrap();
        assert!(StatsTable::empty(DataType::Float64, &huge).is_none());
        let small = ChunkGrid::new(&[4], &[1], &[1], 8).unwrap();
        let mut bytes = StatsTable::empty(DataType::Float64, &small)
            .unwrap()
            .encode();
        bytes[24..32].copy_from_slice(&(1u64 << 58).to_le_bytes());
        let bytes = resum(bytes);
        assert!(matches!(
            StatsTable::decode(&bytes, p, DataType::Float64, &huge),
            Err(FormatError::SidecarCorrupt { .. })
        ));
        // The stats_sidecar fuzz target's input: a uint32 sidecar claiming shape
        // [2666130979403333649] in chunks of 5, whose record bytes multiplied past 2^64.
        let fuzzed = ChunkGrid::new(&[2_666_130_979_403_333_649], &[5], &[5], 4).unwrap();
        let mut bytes = StatsTable::empty(
            DataType::UInt32,
            &ChunkGrid::new(&[5], &[5], &[5], 4).unwrap(),
        )
        .unwrap()
        .encode();
        bytes[24..32].copy_from_slice(&2_666_130_979_403_333_649u64.to_le_bytes());
        assert!(matches!(
            StatsTable::decode(&resum(bytes), p, DataType::UInt32, &fuzzed),
            Err(FormatError::SidecarCorrupt { reason, .. }) if reason.contains("more than 2^64")
        ));
        // Records whose counts merging would underflow or overflow.
        let grid = ChunkGrid::new(&[5], &[2], &[2], 8).unwrap();
        let mut table = StatsTable::empty(DataType::Float64, &grid).unwrap();
        table.set(2, Some(ChunkStats::compute(&[1.0f64, 9.0], &[2], &[1])));
        let good = table.encode();
        assert!(StatsTable::decode(&good, p, DataType::Float64, &grid).is_ok());
        let record = 24 + 16 + 2 * 64;
        for (field, value) in [(0, 2u64), (0, u64::MAX), (8, 2), (8, u64::MAX)] {
            let mut bad = good.clone();
            bad[record + field..record + field + 8].copy_from_slice(&value.to_le_bytes());
            assert!(
                matches!(
                    StatsTable::decode(&resum(bad), p, DataType::Float64, &grid),
                    Err(FormatError::SidecarCorrupt { .. })
                ),
                "field {field} = {value}"
            );
        }
    }

    /// Found by the `stats_sidecar` fuzz target: a record with an intact checksum but more
    /// NaNs than elements made `summarize` subtract past zero. Counts are checked against
    /// the chunk when the sidecar is read.
    #[test]
    fn records_with_impossible_counts_are_corrupt() {
        let grid = ChunkGrid::new(&[5, 4], &[2, 4], &[4, 4], 8).unwrap();
        let p = Path::new("a/outcore.stats");
        let edge = ChunkStats::compute(&[1.0f64, f64::NAN, 3.0, 4.0], &[2, 4], &[1, 4]);
        let bad = |table: &StatsTable, data_type| match StatsTable::decode(
            &table.encode(),
            p,
            data_type,
            &grid,
        ) {
            Err(FormatError::SidecarCorrupt { path, reason }) => {
                assert_eq!(path, p);
                assert!(reason.contains("chunk [2, 0]"), "{reason}");
            }
            other => panic!("{other:?}"),
        };
        let mut table = StatsTable::empty(DataType::Float64, &grid).unwrap();
        table.set(2, Some(edge));
        assert_eq!(
            StatsTable::decode(&table.encode(), p, DataType::Float64, &grid)
                .unwrap()
                .present(),
            1
        );
        for (count, nan_count) in [(4, 5), (8, 1), (0, 0), (u64::MAX, 1)] {
            table.set(
                2,
                Some(ChunkStats {
                    count,
                    nan_count,
                    ..edge
                }),
            );
            bad(&table, DataType::Float64);
        }
        let mut ints = StatsTable::empty(DataType::Int64, &grid).unwrap();
        let whole = ChunkStats::compute(&[1i64, 2, 3, 4], &[2, 4], &[1, 4]);
        ints.set(
            2,
            Some(ChunkStats {
                nan_count: 1,
                ..whole
            }),
        );
        bad(&ints, DataType::Int64);
    }
}
