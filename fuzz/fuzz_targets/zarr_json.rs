//! `zarr.json` as `Array::open` reads it: parsed through zarrs' metadata types, checked, and
//! put through the profile test that picks the backend; then what opening and a first read
//! compute from the metadata alone. Invariants: a document outcore accepts re-serialises to
//! one it accepts the same way, and the profile test agrees with the metadata it read.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use outcore::test_support::{index_len, is_group_document, parse_array_metadata, BackendChoice};

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.zarr/a/zarr.json");
    let _ = is_group_document(data);
    let Ok((meta, choice)) = parse_array_metadata(data, path) else {
        return;
    };
    let grid = &meta.grid;
    let chunks = grid.chunk_grid_shape();
    let shards = grid.shard_grid_shape();
    assert_eq!(chunks.len(), grid.ndim());
    assert_eq!(shards.len(), grid.ndim());
    let _ = (grid.num_chunks(), grid.elements(), meta.chunk_bytes());
    let _ = meta.key_encoding.key(&vec![0; grid.ndim()]);
    match &choice {
        BackendChoice::Profile { location, .. } => {
            assert!(
                meta.profile.is_some(),
                "a profile backend without a profile"
            );
            assert_eq!(meta.index_location, Some(*location));
        }
        BackendChoice::ShardedForeign { location } => {
            assert_eq!(meta.index_location, Some(*location));
        }
        BackendChoice::Foreign => assert!(meta.index_location.is_none()),
    }
    if meta.index_location.is_some() {
        // A first read of a shard sizes its index.
        let _ = index_len(grid.chunks_per_shard_total());
    }

    // What outcore accepts, written back, reads back the same.
    let text = serde_json::to_vec(&meta.document).expect("a parsed document serialises");
    let (again, choice_again) = parse_array_metadata(&text, path)
        .unwrap_or_else(|e| panic!("the re-serialised document is refused: {e}"));
    assert_eq!(again.grid, meta.grid);
    assert_eq!(again.data_type, meta.data_type);
    assert_eq!(again.fill_value, meta.fill_value);
    assert_eq!(again.profile, meta.profile);
    assert_eq!(choice_again, choice);
});
