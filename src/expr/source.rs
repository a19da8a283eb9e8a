//! Sources: stored arrays, in-memory arrays, constants and ranges.

use std::ops::Range;
use std::sync::Arc;

use ndarray::{ArrayBase, ArrayD, ArrayView, Data, Dimension};

use super::{Block, BlockGrid, LazyArray, Op};
use crate::element::{DataType, Element, FillValue, Num};
use crate::error::{invalid, Result};
use crate::format::layout::default_chunk_shape;
use crate::store::Array;

fn default_grid(shape: &[u64], data_type: DataType) -> BlockGrid {
    BlockGrid::regular(shape, &default_chunk_shape(shape, data_type.size()))
}

/// An ndarray array [`LazyArray::from_array`] takes: an owned [`ndarray::Array`] of any dimension
/// (kept as is when in C order, the zero-copy path), an [`ArrayView`], or a reference to any
/// array (`&ArrayBase<S, D>`: owned, view or shared), the last two copied.
pub trait InMemoryArray<T: Element> {
    /// The elements as an owned C-order array, copying only when the layout or ownership
    /// requires it.
    fn into_c_order(self) -> ArrayD<T>;
}

impl<T: Element, D: Dimension> InMemoryArray<T> for ndarray::Array<T, D> {
    fn into_c_order(self) -> ArrayD<T> {
        if self.is_standard_layout() {
            self.into_dyn()
        } else {
            self.as_standard_layout().into_owned().into_dyn()
        }
    }
}

impl<T: Element, D: Dimension> InMemoryArray<T> for ArrayView<'_, T, D> {
    fn into_c_order(self) -> ArrayD<T> {
        self.as_standard_layout().into_owned().into_dyn()
    }
}

impl<T: Element, S: Data<Elem = T>, D: Dimension> InMemoryArray<T> for &ArrayBase<S, D> {
    fn into_c_order(self) -> ArrayD<T> {
        self.as_standard_layout().into_owned().into_dyn()
    }
}

/// A number `arange` accepts: integers give `int64` ranges, floats `float64` ones.
pub trait RangeNumber: Copy {
    #[doc(hidden)]
    fn as_range_value(self) -> RangeValue;
}

#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub enum RangeValue {
    Int(i64),
    Float(f64),
}

impl RangeNumber for i32 {
    fn as_range_value(self) -> RangeValue {
        RangeValue::Int(i64::from(self))
    }
}
impl RangeNumber for i64 {
    fn as_range_value(self) -> RangeValue {
        RangeValue::Int(self)
    }
}
impl RangeNumber for f64 {
    fn as_range_value(self) -> RangeValue {
        RangeValue::Float(self)
    }
}

/// Data outside a store that the engine reads region by region: an `.npy` file, raw binary,
/// anything a converter can address. Implementations must be cheap to call from many threads
/// at once and return exactly the region asked for.
pub trait RegionSource: Send + Sync {
    /// The element type of every region.
    fn data_type(&self) -> DataType;
    /// The whole array's shape.
    fn shape(&self) -> &[u64];
    /// What the data is (a file name), for error messages.
    fn describe(&self) -> String;
    /// The values of `region` (inside [`RegionSource::shape`]), C order, as a
    /// [`Block`] of [`RegionSource::data_type`].
    ///
    /// # Errors
    ///
    /// Whatever reading the source fails with; evaluation passes it on unchanged.
    fn read_region(&self, region: &[Range<u64>]) -> Result<Block>;
}

impl LazyArray {
    /// An array read from `source`, in blocks of `chunks` (a default shape sized for
    /// streaming when `None`).
    ///
    /// # Errors
    ///
    /// `chunks` with a zero extent or of the wrong length.
    pub fn from_source(source: Arc<dyn RegionSource>, chunks: Option<&[u64]>) -> Result<Self> {
        let shape = source.shape().to_vec();
        let data_type = source.data_type();
        let grid = match chunks {
            Some(chunks) => {
                check_chunks(&shape, chunks)?;
                BlockGrid::regular(&shape, chunks)
            }
            None => default_grid(&shape, data_type),
        };
        Ok(Self::new(data_type, shape, grid, Op::External(source)))
    }

    /// A stored array; blocks are its inner chunks.
    pub fn from_stored(array: &Array) -> Self {
        let grid = BlockGrid::regular(array.shape(), array.grid().chunk_shape());
        Self::new(
            array.data_type(),
            array.shape().to_vec(),
            grid,
            Op::Stored(array.clone()),
        )
    }

    /// An in-memory array cut into blocks of `chunks` (dask's `from_array`). Any ndarray
    /// array of any dimension is accepted: an owned array in C order moves in without a copy;
    /// one in another order, a view (`a.view()`, `a.slice(s![..;2])`) or a reference (`&a`)
    /// is copied into C order (see [`InMemoryArray`]).
    ///
    /// # Errors
    ///
    /// `chunks` must have one positive extent per axis.
    pub fn from_array<T: Element>(array: impl InMemoryArray<T>, chunks: &[u64]) -> Result<Self> {
        let array = array.into_c_order();
        let shape: Vec<u64> = array.shape().iter().map(|&n| n as u64).collect();
        check_chunks(&shape, chunks)?;
        Ok(Self::new(
            T::DATA_TYPE,
            shape.clone(),
            BlockGrid::regular(&shape, chunks),
            Op::Memory(Arc::new(array)),
        ))
    }

    /// An array of `shape` where every element is `value`.
    pub fn full<T: Element>(shape: &[u64], value: T) -> Self {
        Self::filled(shape, T::DATA_TYPE, FillValue::of(value))
    }

    /// An array of zeros of type `data_type`.
    pub fn zeros(shape: &[u64], data_type: DataType) -> Self {
        Self::filled(shape, data_type, FillValue::zero(data_type))
    }

    /// An array of ones of type `data_type`.
    pub fn ones(shape: &[u64], data_type: DataType) -> Self {
        let one = crate::with_element_type!(data_type, T => FillValue::of(<T as Num>::ONE));
        Self::filled(shape, data_type, one)
    }

    fn filled(shape: &[u64], data_type: DataType, value: FillValue) -> Self {
        Self::new(
            data_type,
            shape.to_vec(),
            default_grid(shape, data_type),
            Op::Fill(value),
        )
    }

    /// `numpy.arange(start, stop, step)`: integers give `int64` values computed exactly,
    /// floats give `float64` values `start + i * step`, `ceil((stop - start) / step)` of them.
    ///
    /// # Errors
    ///
    /// A zero step, or (for floats) a bound or step that is not finite.
    pub fn arange<N: RangeNumber>(start: N, stop: N, step: N) -> Result<Self> {
        let (data_type, len, op) = match (
            start.as_range_value(),
            stop.as_range_value(),
            step.as_range_value(),
        ) {
            (RangeValue::Int(a), RangeValue::Int(b), RangeValue::Int(s)) => {
                if s == 0 {
                    return Err(invalid("arange: step is zero"));
                }
                let span = i128::from(b) - i128::from(a);
                let len = if (span > 0) == (s > 0) && span != 0 {
                    ((span.abs() + i128::from(s).abs() - 1) / i128::from(s).abs()) as u64
                } else {
                    0
                };
                (DataType::Int64, len, Op::ArangeInt { start: a, step: s })
            }
            (RangeValue::Float(a), RangeValue::Float(b), RangeValue::Float(s)) => {
                if s == 0.0 || !s.is_finite() || !a.is_finite() || !b.is_finite() {
                    return Err(invalid(format!(
                        "arange: start {a}, stop {b} and step {s} must be finite, step non-zero"
                    )));
                }
                let len = ((b - a) / s).ceil().max(0.0) as u64;
                (
                    DataType::Float64,
                    len,
                    Op::ArangeFloat {
                        start: a,
                        step: s,
                        last: None,
                    },
                )
            }
            _ => unreachable!("RangeNumber is implemented for one kind per type"),
        };
        Ok(Self::new(
            data_type,
            vec![len],
            default_grid(&[len], data_type),
            op,
        ))
    }

    /// `numpy.linspace(start, stop, num, endpoint)`: `num` evenly spaced `float64` values.
    ///
    /// # Errors
    ///
    /// A non-finite `start` or `stop`.
    pub fn linspace(start: f64, stop: f64, num: u64, endpoint: bool) -> Result<Self> {
        if !start.is_finite() || !stop.is_finite() {
            return Err(invalid(format!(
                "linspace: start {start} and stop {stop} must be finite"
            )));
        }
        let div = if endpoint { num.saturating_sub(1) } else { num };
        let step = if div > 0 {
            (stop - start) / div as f64
        } else {
            0.0
        };
        let last = (endpoint && num > 1).then_some(stop);
        Ok(Self::new(
            DataType::Float64,
            vec![num],
            default_grid(&[num], DataType::Float64),
            Op::ArangeFloat { start, step, last },
        ))
    }
}

pub(crate) fn check_chunks(shape: &[u64], chunks: &[u64]) -> Result<()> {
    if chunks.len() != shape.len() || chunks.contains(&0) {
        return Err(invalid(format!(
            "chunks {chunks:?} do not fit shape {shape:?}: one positive extent per axis"
        )));
    }
    Ok(())
}
