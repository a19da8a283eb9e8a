//! A shard file's index as `Array::shard` checks it on first use (`ShardIndex::parse`), then
//! every entry sliced out of the file as a chunk read does.
//!
//! Input: one flags byte (bit 0: index at the start; bit 1: keep the stored CRC32C rather
//! than recompute it, so mutations reach the entries), two bytes of slot count (little
//! endian), then the shard file.
#![no_main]

#[path = "shared/crc32c.rs"]
mod crc32c;
use crc32c::crc32c;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use outcore::test_support::{index_len, ChunkLocation, IndexLocation, ShardIndex};

fuzz_target!(|data: &[u8]| {
    let [flags, s0, s1, file @ ..] = data else {
        return;
    };
    let slots = u64::from(u16::from_le_bytes([*s0, *s1]));
    let location = if flags & 1 == 0 {
        IndexLocation::End
    } else {
        IndexLocation::Start
    };
    let mut file = file.to_vec();
    let needed = index_len(slots).expect("16-bit slot counts fit") as usize;
    if flags & 2 == 0 && file.len() >= needed {
        let start = match location {
            IndexLocation::End => file.len() - needed,
            IndexLocation::Start => 0,
        };
        let crc_at = start + needed - 4;
        let crc = crc32c(&file[start..crc_at]);
        file[crc_at..start + needed].copy_from_slice(&crc.to_le_bytes());
    }
    let path = Path::new("fuzz.zarr/a/c/0/0");
    let Ok(index) = ShardIndex::parse(&file, slots, location, path, |s| vec![s]) else {
        return;
    };
    assert_eq!(index.len() as u64, slots);
    assert!(index.stored() <= index.len());
    let len = file.len();
    let data_region = match location {
        IndexLocation::End => 0..len - needed,
        IndexLocation::Start => needed..len,
    };
    for slot in 0..index.len() {
        if let ChunkLocation::Stored { offset, nbytes } = index.get(slot) {
            let (start, end) = (offset as usize, (offset + nbytes) as usize);
            assert!(
                data_region.start <= start && end <= data_region.end,
                "slot {slot} ({offset}, {nbytes}) outside the data of a {len}-byte shard"
            );
            let _chunk = &file[start..end];
        }
    }
    let encoded = index.encode();
    let at = match location {
        IndexLocation::End => len - needed,
        IndexLocation::Start => 0,
    };
    assert_eq!(
        encoded,
        file[at..at + needed],
        "the index re-encodes differently"
    );
});
