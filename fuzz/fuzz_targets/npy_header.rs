//! An `.npy` file as `convert::open_npy` reads it: the header parsed and checked against the
//! file's length (`RawFile::open_npy`), then the lazy array built over that layout with the
//! default blocks (nothing is read: building only sizes the blocks).
#![no_main]

use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use outcore::convert::binary::RawLayout;
use outcore::test_support::npy_layout;
use outcore::{Block, DataType, LazyArray, RegionSource};

/// A source with the file's type and shape that is never read.
struct Unread(RawLayout);

impl RegionSource for Unread {
    fn data_type(&self) -> DataType {
        self.0.data_type
    }
    fn shape(&self) -> &[u64] {
        &self.0.shape
    }
    fn describe(&self) -> String {
        "fuzz.npy".into()
    }
    fn read_region(&self, _region: &[Range<u64>]) -> outcore::Result<Block> {
        unreachable!("building an array reads nothing")
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(layout) = npy_layout(data, Path::new("fuzz.npy")) else {
        return;
    };
    let data_bytes = layout.data_bytes().expect("checked by the parser");
    assert_eq!(layout.offset + data_bytes, data.len() as u64);
    if let Ok(array) = LazyArray::from_source(Arc::new(Unread(layout.clone())), None) {
        assert_eq!(array.shape(), &layout.shape[..]);
    }
});
