//! [`AnyArray`]: a computed array whose element type is known only at run time.

use ndarray::ArrayD;

use crate::element::{DataType, Num};

/// Writes out the enum, one variant per data type, with the dispatch every method needs.
macro_rules! any_array {
    ($($variant:ident($t:ty)),* $(,)?) => {
        /// An in-memory result of whichever element type the lazy array has, one variant per
        /// [`DataType`] (the variant's name is the data type's). Made by
        /// [`LazyArray::to_dynamic`](crate::LazyArray::to_dynamic); match on it, or convert
        /// it with [`AnyArray::astype`].
        #[derive(Debug, Clone, PartialEq)]
        pub enum AnyArray {
            $(
                #[doc = concat!("Elements of type `", stringify!($t), "`.")]
                $variant(ArrayD<$t>),
            )*
        }

        impl AnyArray {
            /// The data type of the elements.
            pub fn data_type(&self) -> DataType {
                match self {
                    $(AnyArray::$variant(_) => DataType::$variant,)*
                }
            }

            /// The shape.
            pub fn shape(&self) -> &[usize] {
                match self {
                    $(AnyArray::$variant(a) => a.shape(),)*
                }
            }

            /// The number of elements.
            pub fn len(&self) -> usize {
                match self {
                    $(AnyArray::$variant(a) => a.len(),)*
                }
            }

            /// Whether there are no elements.
            pub fn is_empty(&self) -> bool {
                self.len() == 0
            }

            /// A copy converted to `T` with numpy's `astype` rules (floats to integers
            /// truncate toward zero and saturate, NaN becomes 0, non-zero becomes `true`).
            pub fn astype<T: Num>(&self) -> ArrayD<T> {
                match self {
                    $(AnyArray::$variant(a) => a.mapv(|x| x.cast::<T>()),)*
                }
            }
        }

        $(
            impl From<ArrayD<$t>> for AnyArray {
                fn from(a: ArrayD<$t>) -> Self {
                    AnyArray::$variant(a)
                }
            }
        )*
    };
}

any_array! {
    Bool(bool),
    Int8(i8),
    Int16(i16),
    Int32(i32),
    Int64(i64),
    UInt8(u8),
    UInt16(u16),
    UInt32(u32),
    UInt64(u64),
    Float32(f32),
    Float64(f64),
}
