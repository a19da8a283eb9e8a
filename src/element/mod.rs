//! Layer 1: element types — the Zarr v3 core data types outcore stores, their Rust types,
//! and fill values.
//!
//! A [`DataType`] is the runtime tag (what `zarr.json` names); [`Element`] is implemented by
//! the Rust type of each one, so typed views of chunk bytes are checked at compile time where
//! the type is known and at run time (`DataType` comparison) where it is not.

use std::fmt;

mod extremes;
mod num;
mod prefetch;
mod sum;
pub(crate) use extremes::extremes;
pub use num::Num;
pub(crate) use prefetch::prefetch_ahead;
pub use sum::pairwise_sum_by;
pub(crate) use sum::{pairwise_nansum, Moments};

use serde_json::Value;
use zarrs::metadata::FillValueMetadata;

/// The numeric class of a data type, which decides how values compare, sum and print.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// `bool`.
    Bool,
    /// `int8` .. `int64`.
    Signed,
    /// `uint8` .. `uint64`.
    Unsigned,
    /// `float32`, `float64`.
    Float,
}

/// A Zarr v3 data type supported by outcore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DataType {
    /// `bool`, one byte, 0 or 1.
    Bool,
    /// `int8`.
    Int8,
    /// `int16`.
    Int16,
    /// `int32`.
    Int32,
    /// `int64`.
    Int64,
    /// `uint8`.
    UInt8,
    /// `uint16`.
    UInt16,
    /// `uint32`.
    UInt32,
    /// `uint64`.
    UInt64,
    /// `float32` (IEEE 754 binary32).
    Float32,
    /// `float64` (IEEE 754 binary64).
    Float64,
}

impl DataType {
    /// Every supported data type, in the order of their sidecar codes.
    pub const ALL: [DataType; 11] = [
        DataType::Bool,
        DataType::Int8,
        DataType::Int16,
        DataType::Int32,
        DataType::Int64,
        DataType::UInt8,
        DataType::UInt16,
        DataType::UInt32,
        DataType::UInt64,
        DataType::Float32,
        DataType::Float64,
    ];

    /// The name `zarr.json` uses for this type.
    pub const fn name(self) -> &'static str {
        match self {
            DataType::Bool => "bool",
            DataType::Int8 => "int8",
            DataType::Int16 => "int16",
            DataType::Int32 => "int32",
            DataType::Int64 => "int64",
            DataType::UInt8 => "uint8",
            DataType::UInt16 => "uint16",
            DataType::UInt32 => "uint32",
            DataType::UInt64 => "uint64",
            DataType::Float32 => "float32",
            DataType::Float64 => "float64",
        }
    }

    /// Parses a Zarr v3 data type name; `None` for names outcore does not support.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }

    /// Bytes per element.
    pub const fn size(self) -> usize {
        match self {
            DataType::Bool | DataType::Int8 | DataType::UInt8 => 1,
            DataType::Int16 | DataType::UInt16 => 2,
            DataType::Int32 | DataType::UInt32 | DataType::Float32 => 4,
            DataType::Int64 | DataType::UInt64 | DataType::Float64 => 8,
        }
    }

    /// The numeric class.
    pub const fn kind(self) -> Kind {
        match self {
            DataType::Bool => Kind::Bool,
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::Int64 => Kind::Signed,
            DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => {
                Kind::Unsigned
            }
            DataType::Float32 | DataType::Float64 => Kind::Float,
        }
    }

    /// The code of this type in outcore's own binary files (the statistics sidecar): its
    /// position in [`DataType::ALL`].
    pub fn code(self) -> u32 {
        Self::ALL.iter().position(|t| *t == self).expect("listed") as u32
    }

    /// The inverse of [`DataType::code`].
    pub fn from_code(code: u32) -> Option<Self> {
        Self::ALL.get(code as usize).copied()
    }
}

impl fmt::Display for DataType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

mod sealed {
    pub trait Sealed {}
}

/// A Rust type that is the in-memory form of one [`DataType`].
///
/// Implemented for `bool`, `i8`..`i64`, `u8`..`u64`, `f32` and `f64` only. `bool` is not
/// `Pod` (only 0 and 1 are valid), so views of bytes go through bytemuck's checked casts.
pub trait Element:
    bytemuck::NoUninit
    + bytemuck::CheckedBitPattern
    + Copy
    + Send
    + Sync
    + PartialEq
    + PartialOrd
    + fmt::Debug
    + Default
    + 'static
    + sealed::Sealed
{
    /// The data type whose elements this Rust type holds.
    const DATA_TYPE: DataType;
    /// The value as `f64` (exact for every type but 64-bit integers beyond 2^53).
    fn to_f64(self) -> f64;
    /// Whether the value is a floating-point NaN.
    fn is_nan(self) -> bool;
}

macro_rules! element {
    ($t:ty, $dt:ident, $to_f64:expr, $is_nan:expr) => {
        impl sealed::Sealed for $t {}
        impl Element for $t {
            const DATA_TYPE: DataType = DataType::$dt;
            #[inline]
            fn to_f64(self) -> f64 {
                let f: fn($t) -> f64 = $to_f64;
                f(self)
            }
            #[inline]
            fn is_nan(self) -> bool {
                let f: fn($t) -> bool = $is_nan;
                f(self)
            }
        }
    };
    ($t:ty, $dt:ident) => {
        element!($t, $dt, |v| v as f64, |_| false);
    };
}

element!(bool, Bool, |v| f64::from(u8::from(v)), |_| false);
element!(i8, Int8);
element!(i16, Int16);
element!(i32, Int32);
element!(i64, Int64);
element!(u8, UInt8);
element!(u16, UInt16);
element!(u32, UInt32);
element!(u64, UInt64);
element!(f32, Float32, f64::from, f32::is_nan);
element!(f64, Float64, |v| v, f64::is_nan);

/// One element's value, used where the type is only known at run time (fill values,
/// statistics).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar {
    /// A `bool`.
    Bool(bool),
    /// Any signed integer type, widened.
    Int(i64),
    /// Any unsigned integer type, widened.
    UInt(u64),
    /// Any float type, widened (a `float32` NaN keeps its payload through the widening
    /// only approximately; fill values keep exact bytes in [`FillValue`]).
    Float(f64),
}

/// An array's fill value: the little-endian bytes of one element of its data type.
#[derive(Clone, PartialEq, Eq)]
pub struct FillValue {
    data_type: DataType,
    bytes: [u8; 8],
}

impl fmt::Debug for FillValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FillValue({}: {:?})", self.data_type, self.scalar())
    }
}

impl FillValue {
    /// The zero value of a type (`false`, `0`, `0.0`): Zarr's usual default.
    pub fn zero(data_type: DataType) -> Self {
        Self {
            data_type,
            bytes: [0; 8],
        }
    }

    /// A fill value holding `value`.
    pub fn of<T: Element>(value: T) -> Self {
        let mut bytes = [0u8; 8];
        let src = bytemuck::bytes_of(&value);
        bytes[..src.len()].copy_from_slice(src);
        if cfg!(target_endian = "big") {
            bytes[..src.len()].reverse();
        }
        Self {
            data_type: T::DATA_TYPE,
            bytes,
        }
    }

    /// The data type.
    pub fn data_type(&self) -> DataType {
        self.data_type
    }

    /// The value as `T`; `None` if `T` is not this fill value's type.
    pub fn get<T: Element>(&self) -> Option<T> {
        if T::DATA_TYPE != self.data_type {
            return None;
        }
        let mut bytes = self.bytes;
        if cfg!(target_endian = "big") {
            bytes[..self.data_type.size()].reverse();
        }
        bytemuck::checked::try_pod_read_unaligned(&bytes[..self.data_type.size()]).ok()
    }

    /// The element's little-endian bytes (as many as the type's size).
    pub fn le_bytes(&self) -> &[u8] {
        &self.bytes[..self.data_type.size()]
    }

    /// The value, widened.
    pub fn scalar(&self) -> Scalar {
        let b = self.bytes;
        match self.data_type {
            DataType::Bool => Scalar::Bool(b[0] != 0),
            DataType::Int8 => Scalar::Int(i64::from(b[0] as i8)),
            DataType::Int16 => Scalar::Int(i64::from(i16::from_le_bytes([b[0], b[1]]))),
            DataType::Int32 => Scalar::Int(i64::from(i32::from_le_bytes(le4(&b)))),
            DataType::Int64 => Scalar::Int(i64::from_le_bytes(b)),
            DataType::UInt8 => Scalar::UInt(u64::from(b[0])),
            DataType::UInt16 => Scalar::UInt(u64::from(u16::from_le_bytes([b[0], b[1]]))),
            DataType::UInt32 => Scalar::UInt(u64::from(u32::from_le_bytes(le4(&b)))),
            DataType::UInt64 => Scalar::UInt(u64::from_le_bytes(b)),
            DataType::Float32 => Scalar::Float(f64::from(f32::from_le_bytes(le4(&b)))),
            DataType::Float64 => Scalar::Float(f64::from_le_bytes(b)),
        }
    }

    /// Parses a `zarr.json` `fill_value` for `data_type`, as Zarr v3 specifies it: `true` /
    /// `false`, integers in range, and for floats a number, `"NaN"`, `"Infinity"`,
    /// `"-Infinity"` or a `"0x…"` bit pattern. `None` if the value does not fit the type.
    pub fn from_metadata(metadata: &FillValueMetadata, data_type: DataType) -> Option<Self> {
        Some(match data_type {
            DataType::Bool => Self::of(metadata.as_bool()?),
            DataType::Int8 => Self::of(i8::try_from(metadata.as_i64()?).ok()?),
            DataType::Int16 => Self::of(i16::try_from(metadata.as_i64()?).ok()?),
            DataType::Int32 => Self::of(i32::try_from(metadata.as_i64()?).ok()?),
            DataType::Int64 => Self::of(metadata.as_i64()?),
            DataType::UInt8 => Self::of(u8::try_from(metadata.as_u64()?).ok()?),
            DataType::UInt16 => Self::of(u16::try_from(metadata.as_u64()?).ok()?),
            DataType::UInt32 => Self::of(u32::try_from(metadata.as_u64()?).ok()?),
            DataType::UInt64 => Self::of(metadata.as_u64()?),
            DataType::Float32 => Self::of(metadata.as_f32()?),
            DataType::Float64 => Self::of(metadata.as_f64()?),
        })
    }

    /// The `zarr.json` form of this fill value. Floats that are NaN with the canonical
    /// payload, or infinite, use the spec's names; other NaNs keep their exact bits as hex.
    pub fn to_metadata(&self) -> FillValueMetadata {
        let json = match self.scalar() {
            Scalar::Bool(v) => Value::Bool(v),
            Scalar::Int(v) => Value::from(v),
            Scalar::UInt(v) => Value::from(v),
            Scalar::Float(v) => float_json(self.data_type, v, self.le_bytes()),
        };
        serde_json::from_value(json).expect("fill value JSON is always well formed")
    }
}

fn le4(b: &[u8; 8]) -> [u8; 4] {
    [b[0], b[1], b[2], b[3]]
}

fn float_json(data_type: DataType, value: f64, le_bytes: &[u8]) -> Value {
    if value.is_nan() {
        let canonical = match data_type {
            DataType::Float32 => f32::NAN.to_le_bytes().to_vec(),
            _ => f64::NAN.to_le_bytes().to_vec(),
        };
        if le_bytes == canonical.as_slice() {
            return Value::from("NaN");
        }
        let hex: String = le_bytes.iter().rev().map(|b| format!("{b:02x}")).collect();
        return Value::from(format!("0x{hex}"));
    }
    if value.is_infinite() {
        return Value::from(if value > 0.0 { "Infinity" } else { "-Infinity" });
    }
    Value::from(value)
}

/// Runs `$body` with `$T` bound to the Rust type of the runtime data type `$dt`: the bridge
/// from a [`DataType`] value to generic code over [`Element`].
///
/// ```
/// use outcore::{with_element_type, DataType, Element};
/// let size = with_element_type!(DataType::Int16, T => std::mem::size_of::<T>());
/// assert_eq!(size, 2);
/// ```
#[macro_export]
macro_rules! with_element_type {
    ($dt:expr, $T:ident => $body:expr) => {
        match $dt {
            $crate::DataType::Bool => {
                type $T = bool;
                $body
            }
            $crate::DataType::Int8 => {
                type $T = i8;
                $body
            }
            $crate::DataType::Int16 => {
                type $T = i16;
                $body
            }
            $crate::DataType::Int32 => {
                type $T = i32;
                $body
            }
            $crate::DataType::Int64 => {
                type $T = i64;
                $body
            }
            $crate::DataType::UInt8 => {
                type $T = u8;
                $body
            }
            $crate::DataType::UInt16 => {
                type $T = u16;
                $body
            }
            $crate::DataType::UInt32 => {
                type $T = u32;
                $body
            }
            $crate::DataType::UInt64 => {
                type $T = u64;
                $body
            }
            $crate::DataType::Float32 => {
                type $T = f32;
                $body
            }
            $crate::DataType::Float64 => {
                type $T = f64;
                $body
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in DataType::ALL {
            assert_eq!(DataType::from_name(t.name()), Some(t));
            assert_eq!(DataType::from_code(t.code()), Some(t));
        }
        assert_eq!(DataType::from_name("complex64"), None);
    }

    #[test]
    fn fill_values_round_trip_through_json() {
        let cases = [
            FillValue::of(true),
            FillValue::of(-7i8),
            FillValue::of(i64::MIN),
            FillValue::of(u64::MAX),
            FillValue::of(f32::NAN),
            FillValue::of(f64::NAN),
            FillValue::of(f64::NEG_INFINITY),
            FillValue::of(1.5f32),
            FillValue::of(f64::from_bits(0x7ff8_0000_0000_0001)),
        ];
        for fill in cases {
            let json = serde_json::to_string(&fill.to_metadata()).unwrap();
            let back: FillValueMetadata = serde_json::from_str(&json).unwrap();
            assert_eq!(
                FillValue::from_metadata(&back, fill.data_type()),
                Some(fill.clone()),
                "{json}"
            );
            if let Some(v) = fill.get::<f64>() {
                assert_eq!(FillValue::of(v), fill);
            }
        }
        assert_eq!(
            serde_json::to_string(&FillValue::of(f64::NAN).to_metadata()).unwrap(),
            "\"NaN\""
        );
    }

    #[test]
    fn out_of_range_fill_is_rejected() {
        let m: FillValueMetadata = serde_json::from_str("300").unwrap();
        assert_eq!(FillValue::from_metadata(&m, DataType::UInt8), None);
        assert!(FillValue::from_metadata(&m, DataType::UInt16).is_some());
    }
}
