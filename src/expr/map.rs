//! User kernels: a Rust closure applied to every block (dask's `map_blocks`).

use std::ops::Range;
use std::sync::Arc;

use ndarray::{ArrayD, ArrayViewD};

use super::{Block, LazyArray, Op};
use crate::element::Element;
use crate::error::{type_mismatch, Result};

impl LazyArray {
    /// Applies `f(block, region)` to every block of this array's block grid; `f` returns the
    /// block's values, of type `U` and the block's shape. `T` must be this array's type. The
    /// result is lazy like any other: `f` runs when a result is computed, on any thread, and
    /// always on whole blocks, whatever region a consumer asks for. A consumer with the same
    /// blocks runs it once per block; one whose blocks straddle these (after `rechunk` or
    /// `reshape`, or an operand used twice) runs it once per overlapping consumer block, so
    /// `f` should be a pure function of its block.
    ///
    /// # Errors
    /// The deferred error of a failed `self`, or `T` other than the array's type
    /// ([`ErrorKind::TypeMismatch`](crate::ErrorKind::TypeMismatch)). Errors `f` returns, and a
    /// block of another shape than its input's, surface when the result is computed.
    ///
    /// ```
    /// use outcore::LazyArray;
    /// # fn main() -> outcore::Result<()> {
    /// let x = LazyArray::arange(0, 10, 1)?.rechunk(&[4])?;
    /// // Each block minus its own first element.
    /// let y = x.map_blocks(|b: outcore::ndarray::ArrayViewD<'_, i64>, _region| {
    ///     Ok(b.mapv(|v| v - b[0]))
    /// })?;
    /// assert_eq!(y.to_ndarray::<i64>()?.into_raw_vec_and_offset().0, vec![0, 1, 2, 3, 0, 1, 2, 3, 0, 1]);
    /// # Ok(())
    /// # }
    /// ```
    pub fn map_blocks<T: Element, U: Element>(
        &self,
        f: impl Fn(ArrayViewD<'_, T>, &[Range<u64>]) -> Result<ArrayD<U>> + Send + Sync + 'static,
    ) -> Result<LazyArray> {
        self.built()?;
        if T::DATA_TYPE != self.data_type() {
            return Err(type_mismatch(format!(
                "map_blocks: the array holds {}, the kernel takes {}",
                self.data_type(),
                T::DATA_TYPE
            )));
        }
        let kernel = Arc::new(move |block: &Block, region: &[Range<u64>]| {
            Ok(Block::from_array(f(block.view::<T>()?, region)?))
        });
        Ok(LazyArray::new(
            U::DATA_TYPE,
            self.shape().to_vec(),
            self.block_grid().clone(),
            Op::MapBlocks(self.clone(), kernel),
        ))
    }
}
