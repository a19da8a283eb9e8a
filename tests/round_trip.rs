//! Writing and reading back: every dtype, every registered codec, edge chunks, missing chunks, chunks
//! written out of order from many threads, updates, and region reads.

#![allow(clippy::single_range_in_vec_init)] // regions of 1-D arrays are one range
mod common;

use std::sync::Arc;

use common::{random_array, same_bits};
use ndarray::{ArrayD, IxDyn, Slice};
use outcore::test_support::{ChunkStats, CODECS};
use outcore::{
    with_element_type, ArraySpec, ChunkCache, ChunkEncoding, DataType, Element, FillValue,
    LruChunkCache, Store,
};
use proptest::prelude::*;
use rayon::prelude::*;

/// Every registered codec in its default configuration, and zstd at a level other than its
/// default.
fn encodings() -> Vec<ChunkEncoding> {
    let mut all: Vec<ChunkEncoding> = CODECS.iter().map(|entry| (entry.default)()).collect();
    all.push(ChunkEncoding::zstd(3));
    all
}

fn round_trip<T: Element>(store: &Store, name: &str, encoding: ChunkEncoding, seed: u64) {
    let shape = [13usize, 7, 5];
    let data = random_array::<T>(&shape, seed);
    let spec = ArraySpec::new(T::DATA_TYPE, &[13, 7, 5])
        .chunks(&[4, 3, 5])
        .shards(&[8, 6, 5])
        .encoding(encoding);
    let writer = store.create_array(name, &spec).unwrap();
    writer.write_array(data.view()).unwrap();
    let array = writer.finish().unwrap();
    let back = array.read_all::<T>().unwrap();
    assert!(same_bits(&data, &back), "{name}: values differ");
    let reopened = store.open_array(name).unwrap();
    assert_eq!(reopened.data_type(), T::DATA_TYPE);
    assert!(reopened.is_fast_path());
    let part = reopened.read_region::<T>(&[3..11, 2..7, 1..4]).unwrap();
    let expected = data.slice_each_axis(|ax| match ax.axis.index() {
        0 => Slice::from(3..11),
        1 => Slice::from(2..7),
        _ => Slice::from(1..4),
    });
    assert!(
        same_bits(&expected.to_owned(), &part),
        "{name}: region differs"
    );
    let report = reopened.verify().unwrap();
    assert!(report.problems.is_empty(), "{name}: {:?}", report.problems);
    assert_eq!(report.chunks_checked, 4 * 3);
}

#[test]
fn every_dtype_and_codec_round_trips_with_edge_chunks() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("s.zarr")).unwrap();
    for (i, dt) in DataType::ALL.into_iter().enumerate() {
        for (j, encoding) in encodings().into_iter().enumerate() {
            let name = format!("{}_{j}", dt.name());
            with_element_type!(dt, T => round_trip::<T>(&store, &name, encoding, (i * 8 + j) as u64));
        }
    }
    assert_eq!(
        store.arrays().unwrap().len(),
        DataType::ALL.len() * encodings().len()
    );
}

#[test]
fn missing_chunks_read_as_the_fill_value() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path()).unwrap();
    for (fill, name) in [
        (FillValue::of(f64::NAN), "nan"),
        (FillValue::of(-2.5f64), "neg"),
    ] {
        let spec = ArraySpec::new(DataType::Float64, &[10, 10])
            .chunks(&[3, 3])
            .shards(&[6, 6])
            .fill_value(fill.clone());
        let writer = store.create_array(name, &spec).unwrap();
        writer.write_chunk(&[0, 0], &[1.0f64; 9]).unwrap();
        writer.write_chunk(&[3, 3], &[2.0f64]).unwrap(); // the 1x1 corner
        let array = writer.finish().unwrap();
        let all = array.read_all::<f64>().unwrap();
        let fill_value = match fill.scalar() {
            outcore::Scalar::Float(v) => v,
            _ => unreachable!(),
        };
        for ((i, j), v) in all.indexed_iter().map(|(ix, v)| ((ix[0], ix[1]), *v)) {
            let expected = if i < 3 && j < 3 {
                1.0
            } else if i == 9 && j == 9 {
                2.0
            } else {
                fill_value
            };
            assert!(
                v == expected || (v.is_nan() && expected.is_nan()),
                "({i},{j}) = {v}"
            );
        }
        let summary = array.storage_summary().unwrap();
        assert_eq!((summary.chunks_total, summary.chunks_stored), (16, Some(2)));
        assert_eq!(summary.files, 2, "shards never touched have no file");
        assert!(array.read_chunk(&[1, 1]).unwrap().is_fill());
        let stats = array.stats().unwrap().unwrap();
        assert_eq!(stats.present(), 2);
    }
}

#[test]
fn chunks_written_out_of_order_from_many_threads() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path()).unwrap();
    let data = random_array::<f32>(&[50, 41], 7);
    for encoding in encodings() {
        let spec = ArraySpec::new(DataType::Float32, &[50, 41])
            .chunks(&[4, 5])
            .shards(&[8, 15])
            .encoding(encoding.clone());
        let name = format!("{encoding:?}");
        let writer = store.create_array(&name, &spec).unwrap();
        let grid = writer.grid().clone();
        let mut chunks: Vec<Vec<u64>> = (0..grid.num_chunks())
            .map(|i| outcore::test_support::unravel(i, &grid.chunk_grid_shape()))
            .collect();
        // A fixed permutation that scatters neighbours.
        chunks.sort_by_key(|c| (c[0] * 7919 + c[1] * 104_729) % 1009);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(6)
            .build()
            .unwrap();
        pool.install(|| {
            chunks.par_iter().for_each(|c| {
                let region = grid.chunk_region(c);
                let part = data.slice_each_axis(|ax| {
                    let r = &region[ax.axis.index()];
                    Slice::from(r.start as usize..r.end as usize)
                });
                let dense: Vec<f32> = part.iter().copied().collect();
                writer.write_chunk(c, &dense).unwrap();
            })
        });
        let array = writer.finish().unwrap();
        assert!(same_bits(&data, &array.read_all::<f32>().unwrap()));
        // The sidecar holds exactly the statistics of each chunk's data.
        let stats = array.stats().unwrap().unwrap();
        for (i, c) in chunks.iter().enumerate() {
            let region = grid.chunk_region(c);
            let part: Vec<f32> = data
                .slice_each_axis(|ax| {
                    let r = &region[ax.axis.index()];
                    Slice::from(r.start as usize..r.end as usize)
                })
                .iter()
                .copied()
                .collect();
            let valid = grid.chunk_valid_shape(c);
            let expected = ChunkStats::compute(&part, &valid, &valid);
            let recorded = stats
                .get(outcore::test_support::ravel(c, &grid.chunk_grid_shape()))
                .unwrap();
            assert_eq!(recorded.count, expected.count, "chunk {i}");
            assert_eq!(recorded.nan_count, expected.nan_count);
            assert_eq!(format!("{:?}", recorded.min), format!("{:?}", expected.min));
        }
        assert!(array.verify().unwrap().problems.is_empty());
    }
}

#[test]
fn update_publishes_a_new_generation_and_old_readers_keep_theirs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path()).unwrap();
    let spec = ArraySpec::new(DataType::Int32, &[12, 12])
        .chunks(&[3, 3])
        .shards(&[6, 6]);
    let old = ArrayD::from_shape_fn(IxDyn(&[12, 12]), |ix| (ix[0] * 12 + ix[1]) as i32);
    let writer = store.create_array("a", &spec).unwrap();
    writer.write_array(old.view()).unwrap();
    let reader = writer.finish().unwrap();
    assert!(same_bits(&old, &reader.read_all::<i32>().unwrap())); // maps every shard

    let updater = store.update_array("a").unwrap();
    updater.write_chunk(&[0, 0], &[-1i32; 9]).unwrap(); // shard (0,0), partly
    updater.write_chunk(&[3, 3], &[-2i32; 9]).unwrap(); // shard (1,1), partly
    let updated = updater.finish().unwrap();

    assert!(
        same_bits(&old, &reader.read_all::<i32>().unwrap()),
        "the old reader keeps its version"
    );
    let mut expected = old.clone();
    expected
        .slice_each_axis_mut(|_| Slice::from(0..3usize))
        .fill(-1);
    expected
        .slice_each_axis_mut(|_| Slice::from(9..12usize))
        .fill(-2);
    let now = updated.read_all::<i32>().unwrap();
    assert_eq!(now, expected);
    let report = updated.verify().unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert_eq!(
        updated.stats().unwrap().unwrap().present(),
        16,
        "untouched chunks keep their statistics"
    );
}

#[test]
fn create_with_overwrite_replaces_and_abandoned_writers_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path()).unwrap();
    let spec = ArraySpec::new(DataType::UInt8, &[5]).chunks(&[2]);
    let w = store.create_array("x", &spec).unwrap();
    w.write_array(ndarray::arr1(&[1u8, 2, 3, 4, 5]).into_dyn().view())
        .unwrap();
    w.finish().unwrap();
    assert!(
        store.create_array("x", &spec).is_err(),
        "exists without overwrite"
    );

    let w = store
        .create_array("x", &spec.clone().overwrite(true))
        .unwrap();
    w.write_chunk(&[0], &[9u8, 9]).unwrap();
    drop(w); // abandoned
    assert_eq!(
        store
            .open_array("x")
            .unwrap()
            .read_all::<u8>()
            .unwrap()
            .as_slice()
            .unwrap(),
        &[1, 2, 3, 4, 5]
    );

    let w = store
        .create_array("x", &ArraySpec::new(DataType::Int64, &[3]).overwrite(true))
        .unwrap();
    w.write_chunk(&[0], &[7i64, 8, 9]).unwrap();
    w.finish().unwrap();
    let x = store.open_array("x").unwrap();
    assert_eq!(x.data_type(), DataType::Int64);
    assert_eq!(x.read_all::<i64>().unwrap().as_slice().unwrap(), &[7, 8, 9]);

    let w = store.create_array("never", &spec).unwrap();
    drop(w);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 2, "zarr.json and x only: {leftovers:?}");
}

#[test]
fn raw_chunks_are_zero_copy_and_zstd_chunks_go_through_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Arc::new(LruChunkCache::new(1 << 20));
    let store = Store::create(dir.path()).unwrap().with_cache(cache.clone());
    let data = random_array::<f64>(&[64, 64], 3);
    for encoding in [ChunkEncoding::raw(), ChunkEncoding::zstd(3)] {
        let name = encoding.codec().name();
        let spec = ArraySpec::new(DataType::Float64, &[64, 64])
            .chunks(&[16, 16])
            .shards(&[32, 64])
            .encoding(encoding);
        let w = store.create_array(name, &spec).unwrap();
        w.write_array(data.view()).unwrap();
        w.finish().unwrap();
    }
    let raw = store.open_array("raw").unwrap();
    let chunk = raw.read_chunk(&[1, 2]).unwrap();
    assert!(chunk.is_zero_copy());
    assert!(matches!(
        chunk.as_slice::<f64>().unwrap(),
        std::borrow::Cow::Borrowed(_)
    ));
    assert_eq!(raw.storage_summary().unwrap().zero_copy_chunks, 16);

    let zstd = store.open_array("zstd").unwrap();
    let before = cache.counters();
    // Rows 20..40, columns 0..10 touch chunks (1,0) and (2,0) only.
    let part = zstd.read_region::<f64>(&[20..40, 0..10]).unwrap();
    let after = cache.counters();
    assert_eq!(
        after.misses - before.misses,
        2,
        "only the two chunks the region touches are decoded"
    );
    assert!(!zstd.read_chunk(&[1, 0]).unwrap().is_zero_copy());
    assert_eq!(cache.counters().hits - after.hits, 1);
    let expected = data.slice_each_axis(|ax| {
        if ax.axis.index() == 0 {
            Slice::from(20..40)
        } else {
            Slice::from(0..10)
        }
    });
    assert!(same_bits(&expected.to_owned(), &part));
    assert_eq!(zstd.storage_summary().unwrap().zero_copy_chunks, 0);
}

#[test]
fn zero_dimensional_and_empty_arrays() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path()).unwrap();
    let w = store
        .create_array("scalar", &ArraySpec::new(DataType::Float32, &[]))
        .unwrap();
    w.write_chunk(&[], &[4.5f32]).unwrap();
    let a = w.finish().unwrap();
    assert_eq!(
        a.read_all::<f32>().unwrap().into_raw_vec_and_offset().0,
        vec![4.5]
    );
    let w = store
        .create_array("empty", &ArraySpec::new(DataType::Int16, &[0, 4]))
        .unwrap();
    let e = w.finish().unwrap();
    assert_eq!(e.read_all::<i16>().unwrap().shape(), &[0, 4]);
}

#[test]
fn wrong_arguments_are_errors_not_panics() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path()).unwrap();
    let spec = ArraySpec::new(DataType::Float64, &[10]).chunks(&[4]);
    let w = store.create_array("a", &spec).unwrap();
    assert!(w.write_chunk(&[0], &[1.0f64; 3]).is_err(), "wrong length");
    assert!(
        w.write_chunk(&[3], &[1.0f64; 4]).is_err(),
        "outside the grid"
    );
    assert!(w.write_chunk(&[0], &[1i32; 4]).is_err(), "wrong type");
    w.write_chunk(&[2], &[1.0f64, 2.0]).unwrap();
    let a = w.finish().unwrap();
    let past_end = vec![5..11];
    assert!(a.read_region::<f64>(&past_end).is_err());
    let first = vec![0..1];
    assert!(a.read_region::<f32>(&first).is_err());
    assert!(a.read_chunk(&[9]).is_err());
    assert!(store
        .create_array(
            "b",
            &ArraySpec::new(DataType::Int8, &[10])
                .chunks(&[4])
                .shards(&[6])
        )
        .is_err());
    assert!(store.open_array("../etc").is_err());
}

type Case = (
    Vec<u64>,
    Vec<u64>,
    Vec<u64>,
    Vec<std::ops::Range<u64>>,
    bool,
    u64,
);

fn arb_case() -> impl Strategy<Value = Case> {
    (1usize..=3)
        .prop_flat_map(|ndim| {
            (
                proptest::collection::vec(1u64..=12, ndim),
                proptest::collection::vec(1u64..=5, ndim),
                proptest::collection::vec(1u64..=3, ndim),
                proptest::collection::vec((0.0f64..1.0, 0.0f64..1.0), ndim),
                any::<bool>(),
                any::<u64>(),
            )
        })
        .prop_map(|(shape, chunk, mult, fracs, zstd, seed)| {
            let shard: Vec<u64> = chunk.iter().zip(&mult).map(|(c, m)| c * m).collect();
            let region = shape
                .iter()
                .zip(&fracs)
                .map(|(n, (a, b))| {
                    let (x, y) = ((a * *n as f64) as u64, (b * *n as f64) as u64);
                    x.min(y)..x.max(y).max(x.min(y) + 1).min(*n)
                })
                .collect();
            (shape, chunk, shard, region, zstd, seed)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    /// Any grid, any region: what is read equals the slice of what was written.
    #[test]
    fn regions_match_the_written_array((shape, chunk, shard, region, zstd, seed) in arb_case()) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(dir.path()).unwrap();
        let encoding = if zstd { ChunkEncoding::zstd(1) } else { ChunkEncoding::raw() };
        let spec = ArraySpec::new(DataType::Int32, &shape).chunks(&chunk).shards(&shard).encoding(encoding);
        let dims: Vec<usize> = shape.iter().map(|&n| n as usize).collect();
        let data = random_array::<i32>(&dims, seed);
        let w = store.create_array("p", &spec).unwrap();
        w.write_array(data.view()).unwrap();
        let a = w.finish().unwrap();
        let part = a.read_region::<i32>(&region).unwrap();
        let expected = data.slice_each_axis(|ax| {
            let r = &region[ax.axis.index()];
            Slice::from(r.start as usize..r.end as usize)
        });
        prop_assert_eq!(part, expected.to_owned());
    }
}

#[cfg(unix)]
#[test]
fn published_files_are_readable_by_everyone() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("s")).unwrap();
    let w = store
        .create_array("g/a", &ArraySpec::new(DataType::UInt8, &[4]).chunks(&[2]))
        .unwrap();
    w.write_chunk(&[0], &[1u8, 2]).unwrap();
    w.finish().unwrap();
    for rel in [
        "zarr.json",
        "g/zarr.json",
        "g/a",
        "g/a/zarr.json",
        "g/a/outcore.stats",
        "g/a/c/0",
    ] {
        let mode = std::fs::metadata(store.root().join(rel))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o044, 0o044, "{rel}: {mode:o}");
    }
}

#[test]
fn release_shards_keeps_the_generation_and_reopening_sees_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path()).unwrap();
    let spec = ArraySpec::new(DataType::Int32, &[4])
        .chunks(&[2])
        .shards(&[2]);
    let w = store.create_array("a", &spec).unwrap();
    w.write_array(ndarray::arr1(&[1i32, 2, 3, 4]).into_dyn().view())
        .unwrap();
    let reader = w.finish().unwrap();
    assert_eq!(
        reader.read_all::<i32>().unwrap().as_slice().unwrap(),
        &[1, 2, 3, 4]
    );
    let u = store.update_array("a").unwrap();
    u.write_chunk(&[1], &[9i32, 9]).unwrap();
    u.finish().unwrap();
    reader.release_shards();
    assert_eq!(
        reader.read_all::<i32>().unwrap().as_slice().unwrap(),
        &[1, 2, 3, 4],
        "remapped from the same generation"
    );
    assert_eq!(
        store
            .open_array("a")
            .unwrap()
            .read_all::<i32>()
            .unwrap()
            .as_slice()
            .unwrap(),
        &[1, 2, 9, 9],
        "a new open sees the update"
    );
}
