//! The engine over stored arrays: reductions answered from the statistics sidecar agree bit
//! for bit with scanning the data, selections read only the chunks under them (also through
//! reductions and elementwise chains), results stream into a store, progress is reported.

mod common;

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use ndarray::{s, ArrayD, Axis, IxDyn};
use outcore::LruChunkCache;
use outcore::{ArraySpec, Axes, ChunkCache, ChunkEncoding, DataType, LazyArray, ReduceOp, Store};

const SHAPE: [u64; 2] = [1000, 1000];
const CHUNK: [u64; 2] = [100, 100];

/// A float64 field with NaNs, one never-written chunk and edge chunks (shape 1000 x 990 is
/// cut by 100 x 100 chunks, so the last chunk column is partial).
fn field(store: &Store, name: &str, encoding: ChunkEncoding, shape: &[u64]) -> ArrayD<f64> {
    let dims: Vec<usize> = shape.iter().map(|&n| n as usize).collect();
    let mut values = ArrayD::from_shape_fn(IxDyn(&dims), |ix| {
        let (i, j) = (ix[0] as f64, ix[1] as f64);
        1e3 + (i * 0.013).sin() * 40.0 + (j * 0.007).cos() * 25.0 + ((i * 7.0 + j * 13.0) % 17.0)
    });
    for (k, v) in values.iter_mut().enumerate() {
        if k % 997 == 3 {
            *v = f64::NAN;
        }
    }
    let spec = ArraySpec::new(DataType::Float64, shape)
        .chunks(&CHUNK)
        .shards(&[200, 400])
        .encoding(encoding);
    let writer = store.create_array(name, &spec).unwrap();
    let grid = writer.grid().clone();
    for coords in outcore::test_support::iter_box(
        &grid
            .chunk_grid_shape()
            .iter()
            .map(|&n| 0..n)
            .collect::<Vec<_>>(),
    ) {
        if coords == [3, 4] {
            continue; // never written: reads as the fill value 0
        }
        let region = grid.chunk_region(&coords);
        let part = values
            .slice(s![
                region[0].start as usize..region[0].end as usize,
                region[1].start as usize..region[1].end as usize
            ])
            .to_owned();
        writer
            .write_chunk(&coords, part.as_slice().unwrap())
            .unwrap();
    }
    writer.finish().unwrap();
    values.slice_mut(s![300..400, 400..500]).fill(0.0);
    values
}

fn bits(a: &ArrayD<f64>) -> Vec<u64> {
    a.iter().map(|v| v.to_bits()).collect()
}

#[test]
fn statistics_answer_equals_scanning_bit_for_bit() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("s.zarr")).unwrap();
    let values = field(&store, "x", ChunkEncoding::zstd(1), &[1000, 990]);
    let x = LazyArray::from_stored(&store.open_array("x").unwrap());
    let ops = [
        ReduceOp::Sum,
        ReduceOp::NanSum,
        ReduceOp::Mean,
        ReduceOp::NanMean,
        ReduceOp::Min,
        ReduceOp::Max,
        ReduceOp::NanMin,
        ReduceOp::NanMax,
        ReduceOp::Var { ddof: 0.0 },
        ReduceOp::NanStd { ddof: 1.0 },
        ReduceOp::NanVar { ddof: 1.0 },
    ];
    for op in ops {
        let r = x.reduce(op, Axes::all()).unwrap();
        let fast = r.to_ndarray::<f64>().unwrap();
        let scanned = r.compute().scan_data().to_ndarray::<f64>().unwrap();
        assert_eq!(bits(&fast), bits(&scanned), "{op:?}");
    }
    // And they are right: against the in-memory values.
    let finite: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    let mean = finite.iter().sum::<f64>() / finite.len() as f64;
    let got = x.nanmean(Axes::all()).unwrap().to_scalar::<f64>().unwrap();
    assert!((got - mean).abs() < 1e-9 * mean.abs(), "{got} vs {mean}");
    assert!(x
        .max(Axes::all())
        .unwrap()
        .to_scalar::<f64>()
        .unwrap()
        .is_nan());
    let max = finite.iter().copied().fold(f64::MIN, f64::max);
    assert_eq!(
        x.nanmax(Axes::all()).unwrap().to_scalar::<f64>().unwrap(),
        max
    );
}

#[test]
fn statistics_skip_decoding_whole_chunks_and_scan_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("s.zarr")).unwrap();
    field(&store, "x", ChunkEncoding::zstd(1), &[1000, 990]);
    let run = |scan: bool| {
        let cache: Arc<dyn ChunkCache> = Arc::new(LruChunkCache::new(1 << 30));
        let store = Store::open(dir.path().join("s.zarr"))
            .unwrap()
            .with_cache(cache.clone());
        let x = LazyArray::from_stored(&store.open_array("x").unwrap());
        let m = x.nanmean(Axes::all()).unwrap();
        if scan {
            m.compute().scan_data().to_scalar::<f64>().unwrap();
        } else {
            m.to_scalar::<f64>().unwrap();
        }
        cache.counters().misses
    };
    // 10 edge chunks (last column, 90 wide) are decoded; the other 89 stored chunks come from
    // the sidecar; the never-written chunk needs no decoding either way.
    assert_eq!(run(false), 10);
    assert_eq!(run(true), 99);
}

#[test]
fn selections_read_only_the_chunks_under_them() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("s.zarr")).unwrap();
    let values = field(&store, "x", ChunkEncoding::zstd(1), &SHAPE);
    type Build = Box<dyn Fn(&LazyArray) -> LazyArray>;
    let cases: Vec<(&str, u64, Build)> = vec![
        (
            "mean over axis 0, then the first 100 columns",
            10,
            Box::new(|x| x.nanmean(0).unwrap().slice(s![0..100]).unwrap()),
        ),
        (
            "an anomaly, then a corner: the mean needs the corner's whole columns (20 chunks), \
             the subtraction the corner's 4 again (streaming passes keep nothing cached)",
            24,
            Box::new(|x| {
                let anomaly = x - x.nanmean(Axes::from(0).keepdims()).unwrap();
                anomaly
                    .slice(s![0..200, 150..250])
                    .unwrap()
                    .nansum(Axes::all())
                    .unwrap()
            }),
        ),
        (
            "every 250th row of one column",
            4,
            Box::new(|x| x.slice(s![..;250, 5]).unwrap()),
        ),
    ];
    for (what, chunks, build) in cases {
        let cache: Arc<dyn ChunkCache> = Arc::new(LruChunkCache::new(1 << 30));
        let store = Store::open(dir.path().join("s.zarr"))
            .unwrap()
            .with_cache(cache.clone());
        let x = LazyArray::from_stored(&store.open_array("x").unwrap());
        let r = build(&x);
        r.to_ndarray::<f64>().unwrap();
        // Misses count decoded chunks: every chunk each pass depends on, once per pass.
        assert_eq!(cache.counters().misses, chunks, "{what}");
    }
    // The values are right too.
    let x = LazyArray::from_stored(&store.open_array("x").unwrap());
    let col = x.slice(s![..;250, 5]).unwrap().to_ndarray::<f64>().unwrap();
    assert_eq!(
        bits(&col),
        bits(&values.slice(s![..;250, 5]).to_owned().into_dyn())
    );
    let m = x.nanmean(0).unwrap().slice(s![0..100]).unwrap();
    let want: Vec<f64> = (0..100)
        .map(|j| {
            let c: Vec<f64> = values
                .index_axis(Axis(1), j)
                .iter()
                .copied()
                .filter(|v| !v.is_nan())
                .collect();
            c.iter().sum::<f64>() / c.len() as f64
        })
        .collect();
    for (g, w) in m.to_ndarray::<f64>().unwrap().iter().zip(&want) {
        assert!((g - w).abs() < 1e-9 * w.abs());
    }
}

#[test]
fn a_failing_block_stops_the_write_with_the_first_error() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("s.zarr")).unwrap();
    let evaluated = Arc::new(AtomicU64::new(0));
    let counter = evaluated.clone();
    // Blocks from 500 on fail, each naming itself; 100 blocks in all.
    let x = LazyArray::arange(0i64, 1000, 1)
        .unwrap()
        .rechunk(&[10])
        .unwrap()
        .map_blocks(move |b: ndarray::ArrayViewD<'_, i64>, region| {
            counter.fetch_add(1, Ordering::Relaxed);
            if region[0].start >= 500 {
                return Err(outcore::Error::new(
                    outcore::ErrorKind::InvalidArgument,
                    format!("block at {}", region[0].start),
                ));
            }
            Ok(b.to_owned())
        })
        .unwrap();
    let spec = ArraySpec::new(DataType::Int64, &[1000]).chunks(&[10]);
    let err = x.to_store(&store, "x", &spec).unwrap_err().to_string();
    assert_eq!(err, "block at 500");
    // Blocks are taken in C order: every block before the first failing one was evaluated.
    assert!(evaluated.load(Ordering::Relaxed) >= 51);
    assert!(store.open_array("x").is_err());
}

#[test]
fn results_stream_into_a_store_with_progress() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("s.zarr")).unwrap();
    let values = field(&store, "x", ChunkEncoding::raw(), &SHAPE);
    let x = LazyArray::from_stored(&store.open_array("x").unwrap());
    let anomaly = (&x - x.nanmean(Axes::from(1).keepdims()).unwrap()).astype(DataType::Float32);
    let blocks = AtomicU64::new(0);
    let observer = |p: &outcore::Progress| {
        assert!(p.blocks_done <= p.blocks_total);
        blocks.store(p.blocks_done, Ordering::Relaxed);
        ControlFlow::Continue(())
    };
    let spec = ArraySpec::new(DataType::Float32, &SHAPE).chunks(&[250, 250]);
    let stored = anomaly
        .compute()
        .progress(&observer)
        .to_store(&store, "anomaly", &spec)
        .unwrap();
    assert_eq!(blocks.load(Ordering::Relaxed), 16);
    let back = stored.read_all::<f32>().unwrap();
    let want = anomaly.to_ndarray::<f32>().unwrap();
    assert!(common::same_bits(&back, &want));
    // Against the reference: row means of the non-NaN values.
    let row = values.index_axis(Axis(0), 7);
    let finite: Vec<f64> = row.iter().copied().filter(|v| !v.is_nan()).collect();
    let mean = finite.iter().sum::<f64>() / finite.len() as f64;
    assert!(((values[[7, 1]] - mean) as f32 - back[[7, 1]]).abs() < 1e-3);
    // A spec that does not match the values is refused, naming both.
    let wrong = ArraySpec::new(DataType::Float64, &SHAPE);
    let err = anomaly
        .to_store(&store, "bad", &wrong)
        .unwrap_err()
        .to_string();
    assert!(err.contains("float64") && err.contains("float32"), "{err}");
    assert!(store.open_array("bad").is_err());
}
