//! Conversion throughput against its floor: importing a float64 `.npy` into a zstd-1 store
//! next to the time to just zstd-1-compress the same bytes in 1 MiB pieces on all cores
//! (the target: conversion within 1.2x of that); exporting the store back to `.npy`
//! and to plain Zarr. Throughput is logical (array) bytes.
//!
//! `cargo bench --bench convert` (data: `OUTCORE_BENCH_BYTES`, default 256 MiB, written once
//! to `target/outcore-bench/` and reused; page cache warm after the first pass; outputs go to
//! `target/outcore-bench/convert-out/`, replaced every iteration).

use std::cell::RefCell;
use std::hint::black_box;
use std::path::{Path, PathBuf};

use criterion::{criterion_main, BatchSize, Criterion, Throughput};
use outcore::convert::binary::open_npy;
use outcore::convert::export::{export_npy, export_zarr, ExportOptions};
use outcore::test_support::MappedFile;
use outcore::{ArraySpec, ChunkEncoding, DataType, LazyArray, Store};
use rayon::prelude::*;

mod common;

use common::{bench_dir, bytes, field, COLS};

/// Bytes per compressed piece of the baseline: one default inner chunk.
const PIECE: usize = 1 << 20;

/// The benchmark field ([`field`]) as a `.npy` file of `rows` x [`COLS`] float64.
fn input(rows: u64) -> PathBuf {
    let path = bench_dir().join(format!("convert-{rows}x{COLS}.npy"));
    if !path.exists() {
        std::fs::create_dir_all(bench_dir()).unwrap();
        export_npy(&field(rows), &path, true, None).unwrap();
    }
    path
}

thread_local! {
    static OUT: RefCell<(Vec<u8>, Option<zstd::bulk::Compressor<'static>>)> =
        const { RefCell::new((Vec::new(), None)) };
}

/// zstd-1 compresses `data` in [`PIECE`]-byte pieces on all cores; returns the compressed size.
fn compress_all(data: &[u8]) -> u64 {
    data.par_chunks(PIECE)
        .map(|piece| {
            OUT.with(|cell| {
                let (out, compressor) = &mut *cell.borrow_mut();
                let compressor =
                    compressor.get_or_insert_with(|| zstd::bulk::Compressor::new(1).unwrap());
                out.resize(zstd::zstd_safe::compress_bound(piece.len()), 0);
                compressor.compress_to_buffer(piece, out).unwrap() as u64
            })
        })
        .sum()
}

fn fresh(path: &Path) {
    if path.exists() {
        if path.is_dir() {
            std::fs::remove_dir_all(path).unwrap();
        } else {
            std::fs::remove_file(path).unwrap();
        }
    }
}

fn bench(c: &mut Criterion) {
    let rows = (bytes(256 << 20) / 8 / COLS).max(1);
    let npy = input(rows);
    let logical = rows * COLS * 8;
    let out = bench_dir().join("convert-out");
    std::fs::create_dir_all(&out).unwrap();
    let mut group = c.benchmark_group("convert");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(logical));

    let map = MappedFile::open(&npy).unwrap().unwrap();
    let data = &map.bytes()[map.bytes().len() - logical as usize..];
    group.bench_function("baseline_zstd1_compress_1MiB_pieces", |b| {
        b.iter(|| black_box(compress_all(data)))
    });

    // The importer alone: every block of the `.npy` read (copied out of the map), nothing else.
    group.bench_function("npy_read_blocks", |b| {
        b.iter(|| {
            let x = open_npy(&npy, Some(&[PIECE as u64 / 8 / COLS, COLS])).unwrap();
            let mut n = 0u64;
            x.compute()
                .for_each_block(|_, block| {
                    n += block.len() as u64;
                    Ok(())
                })
                .unwrap();
            black_box(n)
        })
    });

    let store_path = out.join("store.zarr");
    for (name, chunks) in [
        (
            "npy_to_zstd1_store/row_chunks",
            Some(vec![PIECE as u64 / 8 / COLS, COLS]),
        ),
        ("npy_to_zstd1_store/default_chunks", None),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    fresh(&store_path);
                    Store::create(&store_path).unwrap()
                },
                |store| {
                    let x = open_npy(&npy, None).unwrap();
                    let mut spec = ArraySpec::new(DataType::Float64, x.shape())
                        .encoding(ChunkEncoding::zstd(1));
                    if let Some(chunks) = &chunks {
                        spec = spec.chunks(chunks);
                    }
                    black_box(x.to_store(&store, "x", &spec).unwrap())
                },
                BatchSize::PerIteration,
            )
        });
    }

    // Exports from the last store (raw reads of its chunks are not the point: decode + write).
    let stored = Store::open(&store_path).unwrap().open_array("x").unwrap();
    let x = LazyArray::from_stored(&stored);
    let npy_out = out.join("export.npy");
    group.bench_function("store_to_npy", |b| {
        b.iter_batched(
            || fresh(&npy_out),
            |()| export_npy(&x, &npy_out, false, None).unwrap(),
            BatchSize::PerIteration,
        )
    });
    let zarr_out = out.join("export.zarr");
    group.bench_function("store_to_plain_zarr_zstd1", |b| {
        b.iter_batched(
            || fresh(&zarr_out),
            |()| export_zarr(&x, &zarr_out, &ExportOptions::default(), None).unwrap(),
            BatchSize::PerIteration,
        )
    });
    let raw_npy = open_npy(&npy, None).unwrap();
    group.bench_function("npy_to_npy", |b| {
        b.iter_batched(
            || fresh(&npy_out),
            |()| export_npy(&raw_npy, &npy_out, false, None).unwrap(),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

/// The criterion group (a module so the generated function can carry the lint exception).
#[allow(missing_docs)]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
criterion_main!(group::benches);
