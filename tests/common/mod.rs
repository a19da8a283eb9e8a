//! Helpers shared by the integration tests.
#![allow(dead_code)]

use ndarray::{ArrayD, IxDyn};
use outcore::{DataType, Element};
use rand::{Rng, SeedableRng};

/// Deterministic random values of any element type: arbitrary bit patterns (so NaNs,
/// infinities and negative zeros appear for floats), 0/1 for bool.
pub fn random_values<T: Element>(n: usize, seed: u64) -> Vec<T> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let size = T::DATA_TYPE.size();
    let mut bytes = vec![0u8; n * size];
    rng.fill(bytes.as_mut_slice());
    if T::DATA_TYPE == DataType::Bool {
        for b in &mut bytes {
            *b &= 1;
        }
    }
    bytes
        .chunks_exact(size)
        .map(|c| *bytemuck::checked::try_from_bytes::<T>(c).expect("valid bits"))
        .collect()
}

/// A random n-d array of `shape`.
pub fn random_array<T: Element>(shape: &[usize], seed: u64) -> ArrayD<T> {
    let n = shape.iter().product();
    ArrayD::from_shape_vec(IxDyn(shape), random_values(n, seed)).unwrap()
}

/// Bitwise equality (NaN payloads included).
pub fn same_bits<T: Element>(a: &ArrayD<T>, b: &ArrayD<T>) -> bool {
    let a: Vec<T> = a.iter().copied().collect();
    let b: Vec<T> = b.iter().copied().collect();
    a.len() == b.len() && bytemuck::cast_slice::<T, u8>(&a) == bytemuck::cast_slice::<T, u8>(&b)
}
