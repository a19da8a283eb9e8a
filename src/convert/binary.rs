//! `.npy` files and raw binary as array sources, read through a memory map.
//!
//! A [`RawFile`] is a file whose bytes (from some offset on) are the elements of one n-d
//! array, densely, in C or Fortran order, little or big endian: a raw dump described by a
//! [`RawLayout`], or an `.npy` file, whose header gives the layout
//! ([`RawFile::open_npy`]). It implements [`RegionSource`], so [`open_npy`] and
//! [`open_raw`] give [`LazyArray`]s that stream through the engine like any stored array:
//! converting one is `to_store`, region by region, in parallel, in bounded memory.
//!
//! Reading a region copies contiguous runs of the file straight into the block (C order), or
//! copies the region of the axes-reversed C array into a per-thread buffer and transposes it
//! (Fortran order); big-endian elements are swapped in place, `bool` bytes are checked to be
//! 0 or 1. When the file is larger than the chunk cache's budget, the mapped pages of every run
//! are released once copied, so a pass over a file many times RAM keeps its resident set small.

use std::cell::RefCell;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use bytemuck::Pod;
use ndarray::{ArrayD, ArrayViewD, ArrayViewMutD, IxDyn, ShapeBuilder};

use crate::cache::global_cache;
use crate::element::{DataType, Element};
use crate::error::{bad_input, out_of_bounds, Result};
use crate::expr::{Block, Data, LazyArray, RegionSource};
use crate::storage::{io_err, MappedFile};
use crate::store::Chunk;

/// The order of the elements of a multi-dimensional array in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Row-major: the last index varies fastest (C, numpy's default).
    #[default]
    C,
    /// Column-major: the first index varies fastest (Fortran, MATLAB, numpy's `order='F'`).
    F,
}

/// The byte order of multi-byte elements in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ByteOrder {
    /// Least significant byte first (x86, ARM, numpy's `<`).
    #[default]
    Little,
    /// Most significant byte first (network order, numpy's `>`).
    Big,
}

/// How an array is laid out in a raw binary file: `offset` bytes to skip, then the
/// `shape`'s elements of `data_type`, densely, in `order` and `byte_order`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLayout {
    /// The element type.
    pub data_type: DataType,
    /// The array's shape (empty for a single element).
    pub shape: Vec<u64>,
    /// Element order.
    pub order: Order,
    /// Byte order of each element (ignored for one-byte types).
    pub byte_order: ByteOrder,
    /// Bytes before the first element (a header to skip).
    pub offset: u64,
}

impl RawLayout {
    /// A C-order, little-endian layout starting at byte 0.
    pub fn new(data_type: DataType, shape: &[u64]) -> Self {
        Self {
            data_type,
            shape: shape.to_vec(),
            order: Order::C,
            byte_order: ByteOrder::Little,
            offset: 0,
        }
    }

    /// Bytes of data the layout describes (without the offset); `None` on overflow.
    pub fn data_bytes(&self) -> Option<u64> {
        self.shape
            .iter()
            .try_fold(1u64, |acc, &n| acc.checked_mul(n))?
            .checked_mul(self.data_type.size() as u64)
    }
}

/// The `.npy` magic string, before the format version.
const NPY_MAGIC: &[u8] = b"\x93NUMPY";

/// Checks that the header length an `.npy` file's prefix gives fits in the file, before the
/// header parser allocates that many bytes (a length field of 0xFFFFFFFF in a 100-byte file
/// would otherwise cost 4 GiB). Prefixes it cannot read are left to the parser's errors.
fn check_npy_header_len(bytes: &[u8]) -> std::result::Result<(), String> {
    let Some(rest) = bytes.strip_prefix(NPY_MAGIC) else {
        return Ok(());
    };
    let (len, prefix) = match rest {
        [1, _, a, b, ..] => (u64::from(u16::from_le_bytes([*a, *b])), 10),
        [2 | 3, _, a, b, c, d, ..] => (u64::from(u32::from_le_bytes([*a, *b, *c, *d])), 12),
        _ => return Ok(()),
    };
    let available = bytes.len() as u64 - prefix;
    if len > available {
        return Err(format!(
            "the header is truncated: its length field says {len} bytes, the file has \
             {available} after the {prefix}-byte prefix"
        ));
    }
    if len > NPY_MAX_HEADER_BYTES {
        return Err(format!(
            "the header is {len} bytes, more than numpy's own limit of \
             {NPY_MAX_HEADER_BYTES} (its max_header_size)"
        ));
    }
    let header = String::from_utf8_lossy(&bytes[prefix as usize..(prefix + len) as usize]);
    check_npy_nesting(&header)?;
    check_npy_shape(&header)
}

/// The longest `.npy` header read: numpy's `np.load` refuses longer ones by default
/// (`max_header_size`), and the types outcore reads need under 200 bytes.
const NPY_MAX_HEADER_BYTES: u64 = 10_000;

/// The deepest nesting of brackets an `.npy` header may have. numpy writes a dict holding a
/// tuple (depth 2); a structured dtype adds a list of tuples per level. The header parser
/// backtracks over `{` (a dict, then a set), so its time doubles with each level: at this
/// depth and [`NPY_MAX_HEADER_BYTES`] it stays within milliseconds.
const NPY_MAX_NESTING: usize = 8;

/// Checks that the brackets of an `.npy` header (outside its quoted strings) nest at most
/// [`NPY_MAX_NESTING`] deep, before the header parser's time grows as 2^depth with them.
fn check_npy_nesting(header: &str) -> std::result::Result<(), String> {
    let (mut depth, mut quote, mut escaped) = (0usize, None, false);
    for (at, c) in header.char_indices() {
        match (quote, c) {
            (Some(_), _) if escaped => escaped = false,
            (Some(_), '\\') => escaped = true,
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(' | '[' | '{') => {
                depth += 1;
                if depth > NPY_MAX_NESTING {
                    return Err(format!(
                        "the header nests brackets more than {NPY_MAX_NESTING} deep \
                         (at byte {at} of the header)"
                    ));
                }
            }
            (None, ')' | ']' | '}') => depth = depth.saturating_sub(1),
            (None, _) => {}
        }
    }
    Ok(())
}

/// Checks that the `shape` tuple of an `.npy` header dictionary has at most 2^64 - 1
/// elements, before the header parser multiplies its extents (which would overflow). A
/// shape this cannot read is left to the parser's errors.
fn check_npy_shape(header: &str) -> std::result::Result<(), String> {
    let Some(at) = header.find("'shape'").or_else(|| header.find("\"shape\"")) else {
        return Ok(());
    };
    let rest = &header[at..];
    let (Some(open), Some(close)) = (rest.find('('), rest.find(')')) else {
        return Ok(());
    };
    if close < open {
        return Ok(());
    }
    let extents: Option<Vec<u64>> = rest[open + 1..close]
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| p.parse().ok())
        .collect();
    match extents {
        Some(e)
            if e.iter()
                .try_fold(1u64, |acc, &n| acc.checked_mul(n))
                .is_none() =>
        {
            Err(format!(
                "the header's shape {e:?} has more than 2^64 - 1 elements"
            ))
        }
        _ => Ok(()),
    }
}

/// Runs of at least this many bytes are pre-faulted in one call before they are copied.
const POPULATE_MIN_BYTES: usize = 256 << 10;

/// Runs at least this long are released one by one; shorter ones (a region of many short
/// rows, a Fortran-order file read in C-order blocks) are released as the span of the region.
const RELEASE_RUN_BYTES: usize = 64 << 10;

/// Page size assumed when widening a released range.
const PAGE: usize = 4096;

/// `range` widened to whole pages (within `len`). Releasing a page that another block still
/// needs is safe: the file never changes, so the page faults back in from the page cache.
/// Rounding inward instead would leave the page shared by two adjacent runs resident forever.
fn page_outward(range: Range<usize>, len: usize) -> Range<usize> {
    let start = range.start - range.start % PAGE;
    let end = range.end.next_multiple_of(PAGE).min(len);
    start..end.max(start)
}

/// A memory-mapped file holding one array as described by a [`RawLayout`]: a raw binary
/// dump or the data part of an `.npy` file. Reads are `&self` and run from any thread.
#[derive(Debug)]
pub struct RawFile {
    map: Arc<MappedFile>,
    layout: RawLayout,
    /// The shape of the C-order array the bytes hold: the shape, reversed for Fortran order.
    file_shape: Vec<u64>,
    /// Whether to release mapped pages once copied (the file is larger than the cache budget).
    release: bool,
}

impl RawFile {
    /// Maps `path` as an array laid out as `layout`.
    ///
    /// # Errors
    /// [`ErrorKind::MalformedInput`] naming the file when it is missing or a directory, when
    /// `layout` describes more than 2^64 bytes, or when the file's length is not exactly
    /// `offset` + elements × element size (the message gives both); [`ErrorKind::Io`] when it
    /// cannot be opened or mapped. Values are not checked here: a `bool` byte other than 0 or
    /// 1 fails the read of its region.
    ///
    /// [`ErrorKind::MalformedInput`]: crate::ErrorKind::MalformedInput
    /// [`ErrorKind::Io`]: crate::ErrorKind::Io
    pub fn open(path: &Path, layout: RawLayout) -> Result<Self> {
        let map = map_input(path)?;
        let expected = layout
            .data_bytes()
            .and_then(|b| b.checked_add(layout.offset))
            .ok_or_else(|| {
                bad_input(
                    path,
                    format!(
                        "shape {:?} of {} is too large to address",
                        layout.shape, layout.data_type
                    ),
                )
            })?;
        if map.len() != expected {
            return Err(bad_input(
                path,
                format!(
                    "the file has {} bytes, but {} {:?} ({:?} order){} needs exactly {expected}",
                    map.len(),
                    layout.data_type,
                    layout.shape,
                    layout.order,
                    if layout.offset > 0 {
                        format!(" after a {}-byte offset", layout.offset)
                    } else {
                        String::new()
                    }
                ),
            ));
        }
        Self::from_parts(map, layout)
    }

    /// Maps the `.npy` file at `path` (format versions 1.0, 2.0 and 3.0; dtypes `b1`,
    /// `i1`..`i8`, `u1`..`u8`, `f4`, `f8` in either byte order; C or Fortran order; any shape,
    /// 0-d and zero-length axes included).
    ///
    /// # Errors
    /// [`ErrorKind::MalformedInput`] naming the file and the problem when it is missing or a
    /// directory, is not `.npy` or has a damaged header, holds another dtype (also
    /// `MalformedInput`, not `Unsupported`), or has more or fewer data bytes than its header
    /// says; [`ErrorKind::Io`] when it cannot be opened or mapped.
    ///
    /// [`ErrorKind::MalformedInput`]: crate::ErrorKind::MalformedInput
    /// [`ErrorKind::Io`]: crate::ErrorKind::Io
    pub fn open_npy(path: &Path) -> Result<Self> {
        let map = map_input(path)?;
        let layout = npy_layout(map.bytes(), path)?;
        Self::from_parts(map, layout)
    }

    fn from_parts(map: MappedFile, layout: RawLayout) -> Result<Self> {
        let file_shape = match layout.order {
            Order::C => layout.shape.clone(),
            Order::F => layout.shape.iter().rev().copied().collect(),
        };
        let release = map.len() > global_cache()?.budget();
        Ok(Self {
            map: Arc::new(map),
            layout,
            file_shape,
            release,
        })
    }

    /// The layout of the array in the file.
    pub fn layout(&self) -> &RawLayout {
        &self.layout
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        self.map.path()
    }

    /// Copies the elements of `region` (C order of the region) into `out`, as stored.
    fn gather(&self, region: &[Range<u64>], out: &mut [u8]) {
        match self.layout.order {
            Order::C => self.copy_runs(region, out),
            Order::F => {
                let reversed: Vec<Range<u64>> = region.iter().rev().cloned().collect();
                SCRATCH.with(|cell| {
                    let mut scratch = cell.borrow_mut();
                    let words = out.len().div_ceil(8);
                    if scratch.len() < words {
                        scratch.resize(words, 0);
                    }
                    let tmp = &mut bytemuck::cast_slice_mut::<u64, u8>(&mut scratch)[..out.len()];
                    self.copy_runs(&reversed, tmp);
                    let extents: Vec<usize> =
                        region.iter().map(|r| (r.end - r.start) as usize).collect();
                    match self.layout.data_type.size() {
                        1 => transpose::<u8>(tmp, out, &extents),
                        2 => transpose::<u16>(tmp, out, &extents),
                        4 => transpose::<u32>(tmp, out, &extents),
                        _ => transpose::<u64>(tmp, out, &extents),
                    }
                });
            }
        }
    }

    /// Copies `region` of the C-order array of `file_shape` into `out`, one contiguous run
    /// (the innermost partly covered axis and every fully covered axis inside it) at a time.
    fn copy_runs(&self, region: &[Range<u64>], out: &mut [u8]) {
        if out.is_empty() {
            return;
        }
        let shape = &self.file_shape;
        let size = self.layout.data_type.size() as u64;
        let n = shape.len();
        let mut strides = vec![1u64; n];
        for i in (0..n.saturating_sub(1)).rev() {
            strides[i] = strides[i + 1] * shape[i + 1];
        }
        let mut inner = n;
        while inner > 0 && region[inner - 1].start == 0 && region[inner - 1].end == shape[inner - 1]
        {
            inner -= 1;
        }
        let (run_axis, run_elements) = if inner == 0 {
            (0, shape.iter().product::<u64>())
        } else {
            let a = inner - 1;
            (a, (region[a].end - region[a].start) * strides[a])
        };
        let run_bytes = (run_elements * size) as usize;
        let run_start = if inner == 0 {
            0
        } else {
            region[run_axis].start * strides[run_axis]
        };
        let bytes = self.map.bytes();
        let base = self.layout.offset;
        // The bytes the region spans in the file, released at the end when runs are short.
        let (mut span_start, mut span_end) = (usize::MAX, 0);
        // Odometer over the outer axes 0..run_axis.
        let mut index: Vec<u64> = region[..run_axis].iter().map(|r| r.start).collect();
        for dst in out.chunks_exact_mut(run_bytes) {
            let element: u64 =
                index.iter().zip(&strides).map(|(i, s)| i * s).sum::<u64>() + run_start;
            let start = (base + element * size) as usize;
            let range = start..start + run_bytes;
            if run_bytes >= POPULATE_MIN_BYTES {
                self.map.populate(range.clone());
            }
            dst.copy_from_slice(&bytes[range.clone()]);
            if self.release && run_bytes >= RELEASE_RUN_BYTES {
                self.map.release(page_outward(range.clone(), bytes.len()));
            }
            span_start = span_start.min(range.start);
            span_end = span_end.max(range.end);
            for axis in (0..run_axis).rev() {
                index[axis] += 1;
                if index[axis] < region[axis].end {
                    break;
                }
                index[axis] = region[axis].start;
            }
        }
        if self.release && run_bytes < RELEASE_RUN_BYTES {
            self.map
                .release(page_outward(span_start..span_end, bytes.len()));
        }
    }

    /// The byte offset in the file of the element at `position` (C order) of `region`.
    fn file_offset(&self, region: &[Range<u64>], position: usize) -> u64 {
        let extents: Vec<u64> = region.iter().map(|r| r.end - r.start).collect();
        let local = crate::format::grid::unravel(position as u64, &extents);
        let global: Vec<u64> = local.iter().zip(region).map(|(i, r)| i + r.start).collect();
        let element = match self.layout.order {
            Order::C => crate::format::grid::ravel(&global, &self.layout.shape),
            Order::F => {
                let reversed: Vec<u64> = global.iter().rev().copied().collect();
                crate::format::grid::ravel(&reversed, &self.file_shape)
            }
        };
        self.layout.offset + element * self.layout.data_type.size() as u64
    }

    fn read_pod<T: Element + Pod>(
        &self,
        region: &[Range<u64>],
        extents: &[usize],
    ) -> Result<Block> {
        if let Some(block) = self.view_of::<T>(region, extents) {
            return Ok(block);
        }
        let len: usize = extents.iter().product();
        let mut values: Vec<T> = bytemuck::zeroed_vec(len);
        let out: &mut [u8] = bytemuck::cast_slice_mut(&mut values);
        self.gather(region, out);
        if self.layout.byte_order != native_byte_order() {
            swap_bytes(out, T::DATA_TYPE.size());
        }
        let array = ArrayD::from_shape_vec(IxDyn(extents), values).expect("length matches");
        Ok(Block::from_array(array))
    }

    /// `region` as a zero-copy view of the mapped file, when its elements are one
    /// contiguous, aligned run of C-order, host-order values (whole rows of a C-order
    /// `.npy`, say): no copy, and the pages are released when the block is dropped if the
    /// file is larger than the cache budget.
    fn view_of<T: Element + Pod>(&self, region: &[Range<u64>], extents: &[usize]) -> Option<Block> {
        if self.layout.order != Order::C || self.layout.byte_order != native_byte_order() {
            return None;
        }
        let range = self.single_run(region)?;
        if range.start % std::mem::align_of::<T>() != 0 || range.is_empty() {
            return None;
        }
        if range.len() >= POPULATE_MIN_BYTES {
            self.map.populate(range.clone());
        }
        let shape: Vec<u64> = extents.iter().map(|&n| n as u64).collect();
        let chunk = Chunk::mapped(self.map.clone(), range, T::DATA_TYPE, shape, self.release);
        let whole = extents.iter().map(|&n| 0..n).collect();
        Some(Block::from_data(Data::<T>::Chunk(chunk, whole)))
    }

    /// The file bytes of `region` of the C-order array when they are one contiguous run:
    /// every axis inside the first partly covered one is whole, and every axis outside it
    /// has extent 1.
    fn single_run(&self, region: &[Range<u64>]) -> Option<Range<usize>> {
        let shape = &self.file_shape;
        let mut inner = shape.len();
        while inner > 0 && region[inner - 1].start == 0 && region[inner - 1].end == shape[inner - 1]
        {
            inner -= 1;
        }
        if region[..inner.saturating_sub(1)]
            .iter()
            .any(|r| r.end - r.start != 1)
        {
            return None;
        }
        let size = self.layout.data_type.size() as u64;
        let first = region
            .iter()
            .zip(shape)
            .fold(0u64, |acc, (r, &n)| acc * n + r.start);
        let elements: u64 = region.iter().map(|r| r.end - r.start).product();
        let start = (self.layout.offset + first * size) as usize;
        Some(start..start + (elements * size) as usize)
    }

    fn read_bool(&self, region: &[Range<u64>], extents: &[usize]) -> Result<Block> {
        let len: usize = extents.iter().product();
        let mut bytes = vec![0u8; len];
        self.gather(region, &mut bytes);
        if let Some(position) = bytes.iter().position(|&b| b > 1) {
            return Err(bad_input(
                self.path(),
                format!(
                    "byte {} at offset {} is not a bool (0 or 1)",
                    bytes[position],
                    self.file_offset(region, position)
                ),
            ));
        }
        let values: Vec<bool> = bytemuck::checked::cast_slice::<u8, bool>(&bytes).to_vec();
        let array = ArrayD::from_shape_vec(IxDyn(extents), values).expect("length matches");
        Ok(Block::from_array(array))
    }
}

thread_local! {
    /// Per-thread buffer for the axes-reversed region of a Fortran-order file.
    static SCRATCH: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

impl RegionSource for RawFile {
    fn data_type(&self) -> DataType {
        self.layout.data_type
    }

    fn shape(&self) -> &[u64] {
        &self.layout.shape
    }

    fn describe(&self) -> String {
        self.path().display().to_string()
    }

    fn read_region(&self, region: &[Range<u64>]) -> Result<Block> {
        let shape = &self.layout.shape;
        if region.len() != shape.len()
            || region
                .iter()
                .zip(shape)
                .any(|(r, &n)| r.start > r.end || r.end > n)
        {
            return Err(out_of_bounds(format!(
                "region {region:?} is outside {} of shape {shape:?}",
                self.describe()
            )));
        }
        let extents: Vec<usize> = region.iter().map(|r| (r.end - r.start) as usize).collect();
        match self.layout.data_type {
            DataType::Bool => self.read_bool(region, &extents),
            DataType::Int8 => self.read_pod::<i8>(region, &extents),
            DataType::Int16 => self.read_pod::<i16>(region, &extents),
            DataType::Int32 => self.read_pod::<i32>(region, &extents),
            DataType::Int64 => self.read_pod::<i64>(region, &extents),
            DataType::UInt8 => self.read_pod::<u8>(region, &extents),
            DataType::UInt16 => self.read_pod::<u16>(region, &extents),
            DataType::UInt32 => self.read_pod::<u32>(region, &extents),
            DataType::UInt64 => self.read_pod::<u64>(region, &extents),
            DataType::Float32 => self.read_pod::<f32>(region, &extents),
            DataType::Float64 => self.read_pod::<f64>(region, &extents),
        }
    }
}

/// The `.npy` file at `path` as a lazy array in blocks of `chunks` (a default shape sized
/// for streaming when `None`). Only the header is read now.
///
/// # Errors
/// As [`RawFile::open_npy`]; `chunks` not one positive extent per axis
/// ([`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument)).
pub fn open_npy(path: &Path, chunks: Option<&[u64]>) -> Result<LazyArray> {
    LazyArray::from_source(Arc::new(RawFile::open_npy(path)?), chunks)
}

/// The raw binary file at `path`, laid out as `layout`, as a lazy array in blocks of
/// `chunks` (a default shape when `None`).
///
/// # Errors
/// As [`RawFile::open`]; `chunks` not one positive extent per axis
/// ([`ErrorKind::InvalidArgument`](crate::ErrorKind::InvalidArgument)).
pub fn open_raw(path: &Path, layout: RawLayout, chunks: Option<&[u64]>) -> Result<LazyArray> {
    LazyArray::from_source(Arc::new(RawFile::open(path, layout)?), chunks)
}

/// The layout of the `.npy` file whose bytes are `bytes` (`path` names it in errors): its
/// header parsed and checked against the file's length, as [`RawFile::open_npy`] does before
/// it reads any element.
pub(crate) fn npy_layout(bytes: &[u8], path: &Path) -> Result<RawLayout> {
    check_npy_header_len(bytes)
        .map_err(|problem| bad_input(path, format!("not a valid .npy file: {problem}")))?;
    let mut reader = bytes;
    let header = npyz::NpyHeader::from_reader(&mut reader).map_err(|e| {
        let problem = if e.kind() == std::io::ErrorKind::UnexpectedEof {
            "the header is truncated".to_string()
        } else {
            // The header parser's syntax errors span lines (a caret under the text):
            // keep the first, which says what and where.
            e.to_string()
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .to_string()
        };
        bad_input(path, format!("not a valid .npy file: {problem}"))
    })?;
    let offset = (bytes.len() - reader.len()) as u64;
    let dtype = header.dtype();
    let (data_type, byte_order) = npy_type(&dtype).ok_or_else(|| {
        bad_input(
            path,
            format!(
                "unsupported .npy dtype '{}' (outcore stores bool, int8..int64, \
             uint8..uint64, float32 and float64)",
                dtype.descr()
            ),
        )
    })?;
    let layout = RawLayout {
        data_type,
        shape: header.shape().to_vec(),
        order: match header.order() {
            npyz::Order::C => Order::C,
            npyz::Order::Fortran => Order::F,
        },
        byte_order,
        offset,
    };
    let expected = layout.data_bytes().ok_or_else(|| {
        bad_input(
            path,
            format!("shape {:?} is too large to address", layout.shape),
        )
    })?;
    let found = bytes.len() as u64 - offset;
    if found != expected {
        let what = if found < expected {
            "truncated"
        } else {
            "too long"
        };
        return Err(bad_input(
            path,
            format!(
                "{what}: the header describes {} {:?} ({expected} bytes of data), \
             the file has {found} bytes after its {offset}-byte header",
                dtype.descr(),
                layout.shape
            ),
        ));
    }
    Ok(layout)
}

/// Maps an input file: a missing file or a directory is an input error naming it.
fn map_input(path: &Path) -> Result<MappedFile> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => return Err(bad_input(path, "is a directory, not a file")),
        Err(e) => return Err(io_err(path, "open")(e).into()),
        Ok(_) => {}
    }
    MappedFile::open(path)?.ok_or_else(|| bad_input(path, "no such file"))
}

/// The outcore type and byte order of a plain numpy dtype; `None` for anything else.
fn npy_type(dtype: &npyz::DType) -> Option<(DataType, ByteOrder)> {
    use npyz::TypeChar;
    let npyz::DType::Plain(ts) = dtype else {
        return None;
    };
    let data_type = match (ts.type_char(), ts.size_field()) {
        (TypeChar::Bool, 1) => DataType::Bool,
        (TypeChar::Int, 1) => DataType::Int8,
        (TypeChar::Int, 2) => DataType::Int16,
        (TypeChar::Int, 4) => DataType::Int32,
        (TypeChar::Int, 8) => DataType::Int64,
        (TypeChar::Uint, 1) => DataType::UInt8,
        (TypeChar::Uint, 2) => DataType::UInt16,
        (TypeChar::Uint, 4) => DataType::UInt32,
        (TypeChar::Uint, 8) => DataType::UInt64,
        (TypeChar::Float, 4) => DataType::Float32,
        (TypeChar::Float, 8) => DataType::Float64,
        _ => return None,
    };
    let byte_order = match ts.endianness() {
        npyz::Endianness::Big => ByteOrder::Big,
        npyz::Endianness::Little | npyz::Endianness::Irrelevant => ByteOrder::Little,
    };
    Some((data_type, byte_order))
}

fn native_byte_order() -> ByteOrder {
    if cfg!(target_endian = "big") {
        ByteOrder::Big
    } else {
        ByteOrder::Little
    }
}

/// Reverses the bytes of every `size`-byte element of `bytes` (which is aligned for them).
fn swap_bytes(bytes: &mut [u8], size: usize) {
    match size {
        2 => bytemuck::cast_slice_mut::<u8, u16>(bytes)
            .iter_mut()
            .for_each(|v| *v = v.swap_bytes()),
        4 => bytemuck::cast_slice_mut::<u8, u32>(bytes)
            .iter_mut()
            .for_each(|v| *v = v.swap_bytes()),
        8 => bytemuck::cast_slice_mut::<u8, u64>(bytes)
            .iter_mut()
            .for_each(|v| *v = v.swap_bytes()),
        _ => {}
    }
}

/// Writes into `out` (C order, shape `extents`) the array whose C-order bytes in `src` have
/// the reversed shape: the transpose that turns a Fortran-order region into a standard one.
fn transpose<T: Pod>(src: &[u8], out: &mut [u8], extents: &[usize]) {
    let src: &[T] = bytemuck::cast_slice(src);
    let out: &mut [T] = bytemuck::cast_slice_mut(out);
    // The source read as a Fortran-order array of `extents` is exactly the region.
    let from = ArrayViewD::from_shape(IxDyn(extents).f(), src).expect("length matches");
    let mut to = ArrayViewMutD::from_shape(IxDyn(extents), out).expect("length matches");
    to.assign(&from);
}

#[cfg(test)]
mod tests {
    #[test]
    fn npy_headers_are_checked_before_they_are_parsed() {
        use super::{check_npy_header_len, check_npy_nesting, check_npy_shape, NPY_MAX_NESTING};
        let header = |version: u8, len: u32| {
            let mut b = b"\x93NUMPY".to_vec();
            b.extend([version, 0]);
            b.extend(if version == 1 {
                (len as u16).to_le_bytes().to_vec()
            } else {
                len.to_le_bytes().to_vec()
            });
            b.extend(b"{'shape': (3,)}");
            b
        };
        let header_with = |dict: &str| {
            let mut b = b"\x93NUMPY\x01\x00".to_vec();
            b.extend((dict.len() as u16).to_le_bytes());
            b.extend(dict.as_bytes());
            b
        };
        assert!(check_npy_header_len(&header(2, u32::MAX)).is_err());
        assert!(check_npy_header_len(&header(1, 0xFFFF)).is_err());
        assert!(check_npy_header_len(&header(1, 15)).is_ok());
        assert!(
            check_npy_header_len(b"\x93NUMPY").is_ok(),
            "left to the parser"
        );
        let long = format!("{{'shape': (3,)}}{}", " ".repeat(10_000));
        let message = check_npy_header_len(&header_with(&long)).unwrap_err();
        assert!(message.contains("max_header_size"), "{message}");
        // Found by the npy_header fuzz target: 100 `{` took the header parser minutes.
        let deep = format!("{{'shape': (5,{} }}", "{".repeat(100));
        let message = check_npy_header_len(&header_with(&deep)).unwrap_err();
        assert!(message.contains("nests brackets"), "{message}");
        let nested = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(check_npy_nesting(&nested(NPY_MAX_NESTING)).is_ok());
        assert!(check_npy_nesting(&nested(NPY_MAX_NESTING + 1)).is_err());
        assert!(
            check_npy_nesting(&format!("{{'descr': '{}'}}", "{".repeat(100))).is_ok(),
            "brackets in strings do not nest"
        );
        assert!(
            check_npy_nesting(r"{'a\'{{{{{{{{{{{{{{{{{{{{': 1}").is_ok(),
            "an escaped quote"
        );
        assert!(check_npy_shape("{'shape': (4294967296, 4294967296), }").is_err());
        assert!(check_npy_shape("{'shape': (4294967296, 4294967295), }").is_ok());
        assert!(check_npy_shape("{'shape': (), }").is_ok());
        assert!(
            check_npy_shape("{'shape': (-1,), }").is_ok(),
            "left to the parser"
        );
    }

    use super::*;

    fn is_view(block: &Block) -> bool {
        matches!(block.data::<f64>(), Ok(Data::Chunk(chunk, _)) if chunk.is_zero_copy())
    }

    /// Contiguous regions of a C-order `.npy` are views of the mapped file; others are
    /// copied; both hold the file's values.
    #[test]
    fn contiguous_regions_are_views_with_the_same_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.npy");
        let values = ndarray::Array2::from_shape_fn((6, 5), |(i, j)| (i * 5 + j) as f64);
        ndarray_npy::write_npy(&path, &values).unwrap();
        let file = RawFile::open_npy(&path).unwrap();
        for (region, view) in [
            (vec![2..4, 0..5], true),
            (vec![3..4, 1..4], true),
            (vec![0..6, 0..5], true),
            (vec![2..4, 1..3], false),
            (vec![0..6, 4..5], false),
        ] {
            let block = file.read_region(&region).unwrap();
            assert_eq!(is_view(&block), view, "{region:?}");
            let want = values.slice(ndarray::s![
                region[0].start as usize..region[0].end as usize,
                region[1].start as usize..region[1].end as usize
            ]);
            assert_eq!(block.view::<f64>().unwrap(), want.into_dyn(), "{region:?}");
        }
    }
}
