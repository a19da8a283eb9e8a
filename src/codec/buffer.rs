//! A byte buffer aligned for every element type.

/// Decoded chunk bytes, 8-byte aligned so any element type can view them in place.
#[derive(Clone, PartialEq, Eq)]
pub struct AlignedBuf {
    words: Vec<u64>,
    len: usize,
}

impl std::fmt::Debug for AlignedBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AlignedBuf({} bytes)", self.len)
    }
}

impl AlignedBuf {
    /// `len` zero bytes.
    pub fn zeroed(len: usize) -> Self {
        Self {
            words: vec![0; len.div_ceil(8)],
            len,
        }
    }

    /// `len` bytes, the element `pattern` repeated (`len` a multiple of its length).
    pub fn filled(len: usize, pattern: &[u8]) -> Self {
        let mut buf = Self::zeroed(len);
        if pattern.iter().any(|b| *b != 0) {
            for e in buf.as_bytes_mut().chunks_exact_mut(pattern.len()) {
                e.copy_from_slice(pattern);
            }
        }
        buf
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &bytemuck::cast_slice(&self.words)[..self.len]
    }

    /// The bytes, writable.
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut(&mut self.words)[..self.len]
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}
