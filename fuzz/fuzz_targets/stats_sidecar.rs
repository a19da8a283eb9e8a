//! The statistics sidecar (`outcore.stats`) as `Array::stats` reads it (`StatsTable::decode`
//! against the array's type and grid), then its records merged and summarised as
//! `outcore::summarize` does when the sidecar answers.
//!
//! Input: one flags byte, then the sidecar. Flags bit 0 clear: the array's grid is the one
//! the sidecar's own header describes (shard shape = chunk shape), so mutations reach the
//! records; set: one of a few fixed grids (bits 1..=3 pick it). Bit 7: keep the stored
//! CRC32C rather than recompute it.
#![no_main]

#[path = "shared/crc32c.rs"]
mod crc32c;
use crc32c::crc32c;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use outcore::test_support::{ChunkGrid, ChunkStats, StatsTable};
use outcore::{DataType, Summary};

/// Grids a sidecar may be checked against when it does not describe its own.
const FIXED: [(DataType, &[u64], &[u64]); 8] = [
    (DataType::Float64, &[100, 60], &[16, 16]),
    (DataType::Int32, &[10], &[4]),
    (DataType::Bool, &[3, 3], &[2, 2]),
    (DataType::UInt8, &[], &[]),
    (DataType::Float32, &[0, 5], &[1, 5]),
    (DataType::Int64, &[7, 1, 3], &[2, 1, 3]),
    (DataType::UInt64, &[1000], &[1]),
    (DataType::Int8, &[4, 4, 4, 4], &[2, 2, 2, 2]),
];

fuzz_target!(|data: &[u8]| {
    let [flags, sidecar @ ..] = data else {
        return;
    };
    let mut bytes = sidecar.to_vec();
    if flags & 0x80 == 0 && bytes.len() >= 4 {
        let body = bytes.len() - 4;
        let crc = crc32c(&bytes[..body]);
        bytes[body..].copy_from_slice(&crc.to_le_bytes());
    }
    let (data_type, grid) = if flags & 1 == 0 {
        match own_grid(&bytes) {
            Some(g) => g,
            None => return,
        }
    } else {
        let (t, shape, chunks) = FIXED[usize::from(flags >> 1) & 7];
        let grid = ChunkGrid::new(shape, chunks, chunks, t.size()).expect("a valid grid");
        (t, grid)
    };
    let path = Path::new("fuzz.zarr/a/outcore.stats");
    let Ok(table) = StatsTable::decode(&bytes, path, data_type, &grid) else {
        return;
    };
    assert_eq!(table.iter().count() as u64, grid.num_chunks());
    // The answer `summarize` gives from the sidecar: every record merged.
    let mut total: Option<ChunkStats> = None;
    for record in table.iter().flatten() {
        let _ = Summary::from(&record);
        total = Some(match total {
            None => record,
            Some(t) => t.merge(&record),
        });
    }
    if let Some(t) = &total {
        let _ = Summary::from(t);
    }
    // Encoding what was decoded is stable.
    let encoded = table.encode();
    let again = StatsTable::decode(&encoded, path, data_type, &grid)
        .unwrap_or_else(|e| panic!("a re-encoded sidecar is refused: {e}"));
    assert_eq!(
        again.encode(),
        encoded,
        "the sidecar re-encodes differently"
    );
});

/// The type and grid a sidecar's header describes, when they make a grid.
fn own_grid(bytes: &[u8]) -> Option<(DataType, ChunkGrid)> {
    let u32_at = |o: usize| Some(u32::from_le_bytes(bytes.get(o..o + 4)?.try_into().ok()?));
    let u64_at = |o: usize| Some(u64::from_le_bytes(bytes.get(o..o + 8)?.try_into().ok()?));
    let data_type = DataType::from_code(u32_at(16)?)?;
    let ndim = u32_at(20)? as usize;
    if ndim > 64 {
        return None;
    }
    let shape: Vec<u64> = (0..ndim)
        .map(|i| u64_at(24 + 8 * i))
        .collect::<Option<_>>()?;
    let chunks: Vec<u64> = (0..ndim)
        .map(|i| u64_at(24 + 8 * (ndim + i)))
        .collect::<Option<_>>()?;
    let grid = ChunkGrid::new(&shape, &chunks, &chunks, data_type.size()).ok()?;
    Some((data_type, grid))
}
