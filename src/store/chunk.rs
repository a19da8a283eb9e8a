//! One chunk as read: a zero-copy view of a mapped shard, a decoded buffer, or the fill value.

use std::borrow::Cow;
use std::sync::Arc;

use ndarray::{ArrayD, IxDyn};

use crate::codec::AlignedBuf;
use crate::element::{DataType, Element, FillValue};
use crate::error::{type_mismatch, Result};
use crate::format::grid::valid_runs;
use crate::storage::MappedFile;

#[derive(Debug, Clone)]
pub(crate) enum ChunkData {
    /// Bytes of a mapped shard file, aligned for the element type.
    Mapped {
        file: Arc<MappedFile>,
        offset: usize,
        len: usize,
    },
    /// A decoded (or copied) buffer, possibly shared with the cache.
    Decoded(Arc<AlignedBuf>),
    /// Never written.
    Fill(FillValue),
}

/// Releases a mapped byte range from the resident set when the last clone of a streamed
/// chunk is dropped.
#[derive(Debug)]
pub(crate) struct ReleaseOnDrop {
    pub(crate) file: Arc<MappedFile>,
    pub(crate) range: std::ops::Range<usize>,
}

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        self.file.release(self.range.clone());
    }
}

/// One inner chunk of an array, whole (edge chunks include their padding; see
/// [`Chunk::valid_shape`] for the part inside the array).
#[derive(Debug, Clone)]
pub struct Chunk {
    pub(crate) data: ChunkData,
    pub(crate) data_type: DataType,
    pub(crate) shape: Vec<u64>,
    pub(crate) valid_shape: Vec<u64>,
    /// Set for zero-copy chunks read by a streaming pass.
    pub(crate) release: Option<Arc<ReleaseOnDrop>>,
}

impl Chunk {
    /// A zero-copy chunk of `shape` over `range` of the mapped `file` (host-order elements
    /// of `data_type`, aligned for it; never `bool`, whose bytes need checking), released
    /// from the resident set when its last clone is dropped if `release`.
    #[cfg_attr(not(feature = "convert"), allow(dead_code))]
    pub(crate) fn mapped(
        file: Arc<MappedFile>,
        range: std::ops::Range<usize>,
        data_type: DataType,
        shape: Vec<u64>,
        release: bool,
    ) -> Chunk {
        debug_assert!(data_type != DataType::Bool);
        debug_assert_eq!(
            range.len() as u64,
            shape.iter().product::<u64>() * data_type.size() as u64
        );
        Chunk {
            data: ChunkData::Mapped {
                file: file.clone(),
                offset: range.start,
                len: range.len(),
            },
            data_type,
            valid_shape: shape.clone(),
            shape,
            release: release.then(|| Arc::new(ReleaseOnDrop { file, range })),
        }
    }

    /// The element type.
    pub fn data_type(&self) -> DataType {
        self.data_type
    }

    /// The whole chunk's shape.
    pub fn shape(&self) -> &[u64] {
        &self.shape
    }

    /// The shape of the part inside the array (smaller than [`Chunk::shape`] at the edges).
    pub fn valid_shape(&self) -> &[u64] {
        &self.valid_shape
    }

    /// Elements in the whole chunk.
    pub fn len(&self) -> usize {
        self.shape.iter().product::<u64>() as usize
    }

    /// Whether the chunk has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether the chunk is a view of mapped file bytes (no copy, no decode).
    pub fn is_zero_copy(&self) -> bool {
        matches!(self.data, ChunkData::Mapped { .. })
    }

    /// Whether the chunk was never written (all elements are the fill value).
    pub fn is_fill(&self) -> bool {
        matches!(self.data, ChunkData::Fill(_))
    }

    /// The whole chunk's bytes in host order (a fill chunk is materialised).
    pub fn bytes(&self) -> Cow<'_, [u8]> {
        match &self.data {
            ChunkData::Mapped { file, offset, len } => {
                Cow::Borrowed(&file.bytes()[*offset..offset + len])
            }
            ChunkData::Decoded(buf) => Cow::Borrowed(buf.as_bytes()),
            ChunkData::Fill(fill) => Cow::Owned(fill.le_bytes().repeat(self.len())),
        }
    }

    /// The whole chunk's elements; borrowed (zero-copy) unless the chunk is a fill chunk.
    ///
    /// # Errors
    /// [`ErrorKind::TypeMismatch`](crate::ErrorKind::TypeMismatch) when `T` is not the
    /// chunk's element type, and also when a stored `bool` byte is neither 0 nor 1 (damaged
    /// data, reported as a type error rather than `Corrupt`).
    pub fn as_slice<T: Element>(&self) -> Result<Cow<'_, [T]>> {
        if T::DATA_TYPE != self.data_type {
            return Err(type_mismatch(format!(
                "chunk holds {}, not {}",
                self.data_type,
                T::DATA_TYPE
            )));
        }
        let data_type = self.data_type;
        fn cast<T: Element>(bytes: &[u8], data_type: DataType) -> Result<&[T]> {
            bytemuck::checked::try_cast_slice(bytes)
                .map_err(|e| type_mismatch(format!("chunk bytes are not valid {data_type}: {e:?}")))
        }
        match &self.data {
            ChunkData::Mapped { file, offset, len } => {
                cast(&file.bytes()[*offset..offset + len], data_type).map(Cow::Borrowed)
            }
            ChunkData::Decoded(buf) => cast(buf.as_bytes(), data_type).map(Cow::Borrowed),
            ChunkData::Fill(fill) => {
                let value: T = fill.get().ok_or_else(|| {
                    type_mismatch(format!("fill value is not a valid {}", self.data_type))
                })?;
                Ok(Cow::Owned(vec![value; self.len()]))
            }
        }
    }

    /// The part inside the array as an owned n-d array.
    ///
    /// # Errors
    /// As [`Chunk::as_slice`].
    pub fn to_ndarray<T: Element>(&self) -> Result<ArrayD<T>> {
        let shape: Vec<usize> = self.valid_shape.iter().map(|&n| n as usize).collect();
        let data = self.as_slice::<T>()?;
        let mut out = Vec::with_capacity(shape.iter().product());
        for (start, len) in valid_runs(&self.shape, &self.valid_shape) {
            out.extend_from_slice(&data[start..start + len]);
        }
        Ok(ArrayD::from_shape_vec(IxDyn(&shape), out).expect("runs cover the valid shape"))
    }
}
