//! [`Block`]: one evaluated block of a lazy array, a dense n-d array whose element type is known
//! at run time.

use std::any::Any;
use std::ops::Range;
use std::sync::Arc;

use ndarray::{ArrayD, ArrayViewD, IxDyn, SliceInfoElem};

use crate::element::{DataType, Element};
use crate::error::{type_mismatch, Result};
use crate::store::Chunk;

/// Where a block's elements live.
pub(crate) enum Data<T: Element> {
    /// Computed values, owned.
    Owned(ArrayD<T>),
    /// A part of one stored chunk (a zero-copy view of a mapped shard, or a decoded buffer
    /// shared with the cache). Never a fill chunk or a `bool` chunk, so the typed view
    /// cannot fail.
    Chunk(Chunk, Vec<Range<usize>>),
    /// A part of an in-memory array.
    Shared(Arc<ArrayD<T>>, Vec<Range<usize>>),
}

fn slice_info(region: &[Range<usize>]) -> Vec<SliceInfoElem> {
    region
        .iter()
        .map(|r| SliceInfoElem::Slice {
            start: r.start as isize,
            end: Some(r.end as isize),
            step: 1,
        })
        .collect()
}

impl<T: Element> Data<T> {
    fn view(&self) -> ArrayViewD<'_, T> {
        match self {
            Data::Owned(a) => a.view(),
            Data::Chunk(chunk, region) => {
                let values = match chunk.as_slice::<T>() {
                    Ok(std::borrow::Cow::Borrowed(values)) => values,
                    _ => unreachable!("Data::Chunk holds only borrowable, checked chunks"),
                };
                let shape: Vec<usize> = chunk.shape().iter().map(|&n| n as usize).collect();
                let whole = ArrayViewD::from_shape(IxDyn(&shape), values)
                    .expect("a chunk's length is its shape's product");
                whole.slice_move(slice_info(region).as_slice())
            }
            Data::Shared(array, region) => array.slice(slice_info(region).as_slice()),
        }
    }
}

/// One evaluated block: a dense n-d array (C order when owned) whose element type is the
/// runtime [`DataType`]. Blocks are what [`crate::LazyArray::map_blocks`] closures and block
/// iterators see, and what the executor passes between the nodes of an expression.
pub struct Block {
    data_type: DataType,
    shape: Vec<usize>,
    data: Box<dyn Any + Send + Sync>,
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Block({} {:?})", self.data_type, self.shape)
    }
}

impl Block {
    pub(crate) fn from_data<T: Element>(data: Data<T>) -> Self {
        let shape = match &data {
            Data::Owned(a) => a.shape().to_vec(),
            Data::Chunk(_, ranges) | Data::Shared(_, ranges) => {
                ranges.iter().map(|r| r.len()).collect()
            }
        };
        Self {
            data_type: T::DATA_TYPE,
            shape,
            data: Box::new(data),
        }
    }

    /// A block owning `array`.
    pub fn from_array<T: Element>(array: ArrayD<T>) -> Self {
        Self {
            data_type: T::DATA_TYPE,
            shape: array.shape().to_vec(),
            data: Box::new(Data::Owned(array)),
        }
    }

    /// The element type.
    pub fn data_type(&self) -> DataType {
        self.data_type
    }

    /// The block's shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the block has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub(crate) fn data<T: Element>(&self) -> Result<&Data<T>> {
        self.data.downcast_ref::<Data<T>>().ok_or_else(|| {
            type_mismatch(format!(
                "block holds {}, not {}",
                self.data_type,
                T::DATA_TYPE
            ))
        })
    }

    /// The owned standard-layout array inside, or the block back if it has none (a view of
    /// a chunk or of an in-memory array) or holds another type.
    pub(crate) fn try_into_owned<T: Element>(self) -> std::result::Result<ArrayD<T>, Block> {
        if T::DATA_TYPE != self.data_type
            || !matches!(self.data.downcast_ref::<Data<T>>(), Some(Data::Owned(a)) if a.is_standard_layout())
        {
            return Err(self);
        }
        match *self.data.downcast::<Data<T>>().expect("checked above") {
            Data::Owned(a) => Ok(a),
            _ => unreachable!("checked above"),
        }
    }

    /// The same elements, shareable: an owned array moves behind an `Arc` so
    /// [`Block::slice`] can hand out parts of it without copying.
    pub(crate) fn into_shared(self) -> Block {
        crate::with_element_type!(self.data_type, T => match self.try_into_owned::<T>() {
            Ok(owned) => {
                let whole = owned.shape().iter().map(|&n| 0..n).collect();
                Block::from_data(Data::Shared(Arc::new(owned), whole))
            }
            Err(block) => block,
        })
    }

    /// The part `local` (ranges relative to this block) of a shared block (a chunk view or an
    /// `Arc`ed array), without copying; `None` for an owned block.
    pub(crate) fn slice(&self, local: &[Range<usize>]) -> Option<Block> {
        fn compose(outer: &[Range<usize>], local: &[Range<usize>]) -> Vec<Range<usize>> {
            outer
                .iter()
                .zip(local)
                .map(|(o, l)| o.start + l.start..o.start + l.end)
                .collect()
        }
        crate::with_element_type!(self.data_type, T => match self.data::<T>().ok()? {
            Data::Owned(_) => None,
            Data::Chunk(chunk, ranges) => {
                Some(Block::from_data(Data::<T>::Chunk(chunk.clone(), compose(ranges, local))))
            }
            Data::Shared(array, ranges) => {
                Some(Block::from_data(Data::Shared(array.clone(), compose(ranges, local))))
            }
        })
    }

    /// A view of the elements as `T`.
    ///
    /// # Errors
    /// `T` is not the block's type ([`ErrorKind::TypeMismatch`](crate::ErrorKind::TypeMismatch)).
    pub fn view<T: Element>(&self) -> Result<ArrayViewD<'_, T>> {
        Ok(self.data::<T>()?.view())
    }

    /// The elements as an owned array (no copy when the block already owns standard-layout
    /// data).
    ///
    /// # Errors
    /// `T` is not the block's type ([`ErrorKind::TypeMismatch`](crate::ErrorKind::TypeMismatch)).
    pub fn into_array<T: Element>(self) -> Result<ArrayD<T>> {
        if T::DATA_TYPE != self.data_type {
            return Err(type_mismatch(format!(
                "block holds {}, not {}",
                self.data_type,
                T::DATA_TYPE
            )));
        }
        let data = self
            .data
            .downcast::<Data<T>>()
            .expect("the data type tag matches the data");
        Ok(match *data {
            Data::Owned(a) if a.is_standard_layout() => a,
            other => other.view().as_standard_layout().into_owned(),
        })
    }
}
