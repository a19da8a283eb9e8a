//! Damaged stores give typed errors naming the file (and chunk and offset), never panics.

use std::fs;
use std::path::{Path, PathBuf};

use outcore::test_support::{index_len, INDEX_CHECKSUM_BYTES};
use outcore::{ArraySpec, ChunkEncoding, DataType, Error, Store};
use outcore::{CodecError, FormatError};

/// A 2 x 2 grid of shards, each 2 x 2 chunks of 8 x 8 float64, all written.
fn store_with(encoding: ChunkEncoding) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path()).unwrap();
    let spec = ArraySpec::new(DataType::Float64, &[32, 32])
        .chunks(&[8, 8])
        .shards(&[16, 16])
        .encoding(encoding);
    let data =
        ndarray::ArrayD::from_shape_fn(vec![32, 32], |ix| (ix[0] * 32 + ix[1]) as f64 * 0.25);
    let w = store.create_array("a", &spec).unwrap();
    w.write_array(data.view()).unwrap();
    w.finish().unwrap();
    (dir, store)
}

fn shard(store: &Store, i: u64, j: u64) -> PathBuf {
    store.root().join(format!("a/c/{i}/{j}"))
}

/// Rewrites index entry `slot` of the shard at `path` (index at the end, 4 slots) and
/// recomputes the CRC, so only the entry itself is wrong.
fn rewrite_entry(path: &Path, slot: usize, offset: u64, nbytes: u64) {
    let mut bytes = fs::read(path).unwrap();
    let start = bytes.len() - index_len(4).unwrap() as usize + slot * 16;
    bytes[start..start + 8].copy_from_slice(&offset.to_le_bytes());
    bytes[start + 8..start + 16].copy_from_slice(&nbytes.to_le_bytes());
    let n = bytes.len();
    let crc = crc32c::crc32c(&bytes[n - index_len(4).unwrap() as usize..n - 4]);
    bytes[n - 4..].copy_from_slice(&crc.to_le_bytes());
    fs::write(path, bytes).unwrap();
}

fn flip(path: &Path, offset: usize) {
    let mut bytes = fs::read(path).unwrap();
    bytes[offset] ^= 0x5a;
    fs::write(path, bytes).unwrap();
}

#[test]
fn flipped_index_byte_is_a_checksum_error_naming_the_shard() {
    let (_d, store) = store_with(ChunkEncoding::zstd(1));
    let path = shard(&store, 1, 0);
    let len = fs::metadata(&path).unwrap().len() as usize;
    flip(&path, len - index_len(4).unwrap() as usize + 3);
    let a = store.open_array("a").unwrap();
    assert!(a.read_chunk(&[0, 0]).is_ok(), "other shards still read");
    let err = a.read_chunk(&[2, 1]).unwrap_err();
    assert!(
        matches!(&err, Error::Format(FormatError::IndexChecksum { path: p, .. }) if *p == path),
        "{err}"
    );
    assert!(err.to_string().contains("c/1/0"), "{err}");
    let report = a.verify().unwrap();
    assert_eq!(
        report.problems.len(),
        1,
        "one problem for the shard's damaged index: {:?}",
        report.problems
    );
    assert!(
        matches!(&report.problems[0], Error::Format(FormatError::IndexChecksum { path: p, .. }) if *p == path),
        "{:?}",
        report.problems
    );
}

#[test]
fn flipped_compressed_chunk_is_a_decode_error_or_caught_by_verify() {
    let (_d, store) = store_with(ChunkEncoding::zstd(1));
    let path = shard(&store, 0, 1);
    // The first chunk of the shard starts at offset 0: its zstd magic number.
    flip(&path, 0);
    let a = store.open_array("a").unwrap();
    let err = a.read_chunk(&[0, 2]).unwrap_err();
    match &err {
        Error::Codec(CodecError::Zstd {
            path: p,
            chunk,
            offset,
            ..
        }) => {
            assert_eq!((p, chunk.as_slice(), *offset), (&path, &[0u64, 2][..], 0));
        }
        other => panic!("unexpected {other}"),
    }
    // A flip inside the compressed payload may still decode, to wrong values: verify compares
    // the data with the statistics recorded at write time and reports it either way.
    let (_d2, store2) = store_with(ChunkEncoding::zstd(1));
    let path2 = shard(&store2, 0, 0);
    flip(&path2, 40);
    let report = store2.open_array("a").unwrap().verify().unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(matches!(
        report.problems[0],
        Error::Codec(_) | Error::Format(FormatError::SidecarMismatch { .. })
    ));
}

#[test]
fn truncated_shards() {
    let (_d, store) = store_with(ChunkEncoding::raw());
    let cut_short = shard(&store, 0, 0);
    fs::write(&cut_short, &fs::read(&cut_short).unwrap()[..20]).unwrap();
    let cut_tail = shard(&store, 1, 1);
    let bytes = fs::read(&cut_tail).unwrap();
    fs::write(
        &cut_tail,
        &bytes[..bytes.len() - INDEX_CHECKSUM_BYTES as usize],
    )
    .unwrap();
    let a = store.open_array("a").unwrap();
    assert!(matches!(
        a.read_chunk(&[0, 0]).unwrap_err(),
        Error::Format(FormatError::TruncatedShard {
            len: 20,
            needed: 68,
            ..
        })
    ));
    assert!(matches!(
        a.read_chunk(&[3, 3]).unwrap_err(),
        Error::Format(FormatError::IndexChecksum { .. })
    ));
}

#[test]
fn index_entry_outside_the_file() {
    let (_d, store) = store_with(ChunkEncoding::raw());
    let path = shard(&store, 0, 1);
    // Entry 3 (chunk (1, 3)): point it past the end; only the bounds check can fail.
    rewrite_entry(&path, 3, 1 << 40, 512);
    let err = store
        .open_array("a")
        .unwrap()
        .read_chunk(&[0, 2])
        .unwrap_err();
    assert!(
        matches!(&err, Error::Format(FormatError::IndexEntryOutOfBounds { chunk, offset, .. }) if chunk == &[1, 3] && *offset == 1 << 40),
        "{err}"
    );
}

#[test]
fn removed_shard_reads_as_fill_but_verify_reports_it() {
    let (_d, store) = store_with(ChunkEncoding::zstd(1));
    let path = shard(&store, 1, 1);
    fs::remove_file(&path).unwrap();
    let a = store.open_array("a").unwrap();
    assert!(
        a.read_chunk(&[3, 3]).unwrap().is_fill(),
        "Zarr semantics: no file, fill value"
    );
    let report = a.verify().unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    assert!(
        matches!(&report.problems[0], Error::Format(FormatError::MissingShard { path: p, chunks: 4 }) if *p == path)
    );
}

#[test]
fn bad_metadata() {
    let (_d, store) = store_with(ChunkEncoding::raw());
    let meta = store.root().join("a/zarr.json");
    let good = fs::read_to_string(&meta).unwrap();

    fs::write(&meta, "{\"zarr_format\": 3, \"node_type\": \"array\"").unwrap();
    let err = store.open_array("a").unwrap_err();
    assert!(
        matches!(&err, Error::Format(FormatError::MalformedMetadata { path, .. }) if *path == meta),
        "{err}"
    );

    fs::write(&meta, good.replace("\"float64\"", "\"complex128\"")).unwrap();
    assert!(matches!(
        store.open_array("a").unwrap_err(),
        Error::Format(FormatError::UnsupportedDataType { data_type, .. }) if data_type == "complex128"
    ));

    fs::write(
        &meta,
        good.replace(
            "\"shape\": [\n    32,\n    32\n  ]",
            "\"shape\": [18446744073709551615, 18446744073709551615]",
        ),
    )
    .unwrap();
    assert!(matches!(
        store.open_array("a").unwrap_err(),
        Error::Format(FormatError::InvalidShape { .. })
    ));

    fs::remove_file(&meta).unwrap();
    assert!(matches!(
        store.open_array("a").unwrap_err(),
        Error::Format(FormatError::MissingMetadata { .. })
    ));
    assert!(Store::open(store.root().join("nowhere")).is_err());
}

#[test]
fn sidecar_damage_and_disagreement() {
    let (_d, store) = store_with(ChunkEncoding::zstd(1));
    let sidecar = store
        .root()
        .join("a")
        .join(outcore::test_support::STATS_FILE);
    let good = fs::read(&sidecar).unwrap();
    flip(&sidecar, good.len() / 2);
    assert!(matches!(
        store.open_array("a").unwrap().stats().unwrap_err(),
        Error::Format(FormatError::SidecarCorrupt { .. })
    ));
    // A sidecar from another array (other shape) is intact but disagrees.
    let spec = ArraySpec::new(DataType::Float64, &[16, 32])
        .chunks(&[8, 8])
        .shards(&[16, 16]);
    let w = store.create_array("b", &spec).unwrap();
    w.write_array(ndarray::ArrayD::<f64>::zeros(vec![16, 32]).view())
        .unwrap();
    w.finish().unwrap();
    fs::copy(
        store
            .root()
            .join("b")
            .join(outcore::test_support::STATS_FILE),
        &sidecar,
    )
    .unwrap();
    let a = store.open_array("a").unwrap();
    assert!(matches!(
        a.stats().unwrap_err(),
        Error::Format(FormatError::SidecarMismatch { .. })
    ));
    assert!(
        a.read_chunk(&[0, 0]).is_ok(),
        "data reads do not depend on the sidecar"
    );
}

#[test]
fn verify_reports_a_recorded_chunk_missing_from_an_existing_shard() {
    let (_d, store) = store_with(ChunkEncoding::raw());
    let path = shard(&store, 0, 0);
    // Mark slot 1 (chunk (0, 1)) missing with a valid CRC: only the sidecar knows better.
    rewrite_entry(&path, 1, u64::MAX, u64::MAX);
    let a = store.open_array("a").unwrap();
    assert!(a.read_chunk(&[0, 1]).unwrap().is_fill());
    let report = a.verify().unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
    let message = report.problems[0].to_string();
    assert!(
        matches!(
            report.problems[0],
            Error::Format(FormatError::SidecarMismatch { .. })
        ) && message.contains("[0, 1]"),
        "{message}"
    );
}

/// Writes `data` as the array `a` of `store` with `spec` (a zstd encoding) and returns the
/// zstd codec's entry of its `zarr.json`.
fn write_zstd_array(
    store: &Store,
    spec: &ArraySpec,
    data: &ndarray::ArrayD<f64>,
) -> serde_json::Value {
    let w = store.create_array("a", spec).unwrap();
    w.write_array(data.view()).unwrap();
    w.finish().unwrap();
    let meta: serde_json::Value =
        serde_json::from_slice(&fs::read(store.root().join("a/zarr.json")).unwrap()).unwrap();
    let inner = meta["codecs"][0]["configuration"]["codecs"][1].clone();
    assert_eq!(inner["name"], "zstd", "{meta}");
    inner
}

#[test]
fn damaged_zstd_frame_that_still_decodes_is_a_checksum_error_naming_the_chunk() {
    // Values zstd cannot compress: each chunk is stored as a raw block, so a flipped payload
    // byte still decodes, to one wrong value; only the frame's content checksum tells.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path()).unwrap();
    let spec = ArraySpec::new(DataType::Float64, &[32, 32])
        .chunks(&[8, 8])
        .shards(&[16, 16])
        .encoding(ChunkEncoding::zstd(1));
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let data = ndarray::ArrayD::from_shape_simple_fn(vec![32, 32], || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        f64::from_bits(0x3ff0_0000_0000_0000 | (state >> 12))
    });
    let meta = write_zstd_array(&store, &spec, &data);
    assert_eq!(meta["configuration"]["checksum"], true, "{meta}");

    let path = shard(&store, 0, 1);
    let bytes = fs::read(&path).unwrap();
    // Index entry 0 (chunk [0, 2]): offset and length, at the start of the trailing index.
    let entry = bytes.len() - index_len(4).unwrap() as usize;
    let field = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
    let (offset, nbytes) = (field(entry), field(entry + 8));
    let frame = bytes[offset as usize..(offset + nbytes) as usize].to_vec();
    // Frame header descriptor bit 2: the content checksum flag (RFC 8878, 3.1.1.1.1).
    assert_ne!(frame[4] & 0b100, 0, "the frame carries its checksum");
    let at = offset as usize + frame.len() / 2;
    flip(&path, at);

    // The same damaged frame without its checksum decodes, to other values than written.
    let mut unchecked =
        fs::read(&path).unwrap()[offset as usize..(offset + nbytes) as usize - 4].to_vec();
    unchecked[4] &= !0b100;
    let mut decoded = vec![0u8; 8 * 8 * 8];
    let n = outcore::test_support::zstd_decode_into(&unchecked, &mut decoded).unwrap();
    assert_eq!(n, decoded.len());
    let written: Vec<u8> = data
        .slice(ndarray::s![0..8, 16..24])
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    assert_ne!(decoded, written, "the flip changes the decoded values");

    // With it, reading the chunk is an error naming the shard, the chunk and its offset.
    let a = store.open_array("a").unwrap();
    let err = a.read_chunk(&[0, 2]).unwrap_err();
    match &err {
        Error::Codec(CodecError::Zstd {
            path: p,
            chunk,
            offset: o,
            source,
        }) => {
            assert_eq!((p, chunk.as_slice(), *o), (&path, &[0u64, 2][..], offset));
            assert!(source.to_string().contains("checksum"), "{source}");
        }
        other => panic!("unexpected {other}"),
    }
    assert_eq!(err.kind(), outcore::ErrorKind::Corrupt);
    assert!(
        a.read_chunk(&[0, 3]).is_ok(),
        "the shard's other chunks still read"
    );
    let report = a.verify().unwrap();
    assert_eq!(report.problems.len(), 1, "{:?}", report.problems);
}

#[test]
fn zstd_without_checksum_writes_frames_without_it_and_reads_them_back() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path()).unwrap();
    let spec = ArraySpec::new(DataType::Float64, &[16, 16])
        .chunks(&[8, 8])
        .shards(&[16, 16])
        .encoding(ChunkEncoding::zstd_without_checksum(3));
    let data = ndarray::ArrayD::from_shape_fn(vec![16, 16], |ix| (ix[0] * 16 + ix[1]) as f64 / 7.0);
    let meta = write_zstd_array(&store, &spec, &data);
    assert_eq!(meta["configuration"]["checksum"], false, "{meta}");
    assert_eq!(meta["configuration"]["level"], 3, "{meta}");

    let path = shard(&store, 0, 0);
    let bytes = fs::read(&path).unwrap();
    let entry = bytes.len() - index_len(4).unwrap() as usize;
    let offset = u64::from_le_bytes(bytes[entry..entry + 8].try_into().unwrap()) as usize;
    // Frame header descriptor bit 2: the content checksum flag (RFC 8878, 3.1.1.1.1).
    assert_eq!(bytes[offset + 4] & 0b100, 0, "the frame has no checksum");

    let read = store
        .open_array("a")
        .unwrap()
        .read_region::<f64>(&[0..16, 0..16])
        .unwrap();
    assert_eq!(read, data);
}
