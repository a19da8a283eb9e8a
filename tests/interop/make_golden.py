#!/usr/bin/env python3
"""Write small, deterministic golden Zarr stores for outcore's interop tests.

Usage: make_golden.py OUTDIR

Writes into OUTDIR:
  <store>.zarr/...                         stores written by zarr-python 3 / tensorstore
  expected/<store>__<array path, '/'->'__'>.npy   exact expected values (numpy.save)
  manifest.json                             list of entries describing every array

Only rerun when refreshing the goldens (they are checked into git). Output is
deterministic: same package versions -> byte-identical files.
"""

import importlib.metadata
import json
import os
import shutil
import sys

import numcodecs
import numpy as np
import tensorstore as ts
import zarr
import zarr.codecs as zc

MANIFEST = []


def expected_name(store, array):
    return f"expected/{store[:-5] if store.endswith('.zarr') else store}__{array.replace('/', '__')}.npy"


def record(outdir, store, array, expected, *, writer, sharded, codecs, zarr_format=3, fill_value=None):
    """Save the expected values and add a manifest entry.

    Also reads the array back with the writer's own library family as a sanity check.
    """
    rel = expected_name(store, array)
    np.save(os.path.join(outdir, rel), expected, allow_pickle=False)
    got = zarr.open_array(os.path.join(outdir, store), path=array, mode="r")[...]
    assert got.dtype == expected.dtype, (store, array, got.dtype, expected.dtype)
    assert np.array_equal(got, expected, equal_nan=expected.dtype.kind == "f"), (store, array)
    entry = {
        "store": store,
        "array": array,
        "dtype": str(expected.dtype),
        "shape": list(expected.shape),
        "expected": rel,
        "writer": writer,
        "zarr_format": zarr_format,
        "sharded": sharded,
        "codecs": codecs,
    }
    if fill_value is not None:
        entry["fill_value"] = fill_value
    MANIFEST.append(entry)


def zarrpy_array(outdir, store, group, name, data, *, chunks, shards=None, compressors=None,
                 filters=None, serializer="auto", fill_value=None, write=None, codecs="",
                 chunk_key_encoding=None, zarr_format=3, order=None, postprocess=None):
    """Create `name` in `group`, write `data` (optionally only a region), record expectation."""
    kw = {}
    if fill_value is not None:
        kw["fill_value"] = fill_value
    if filters is not None:
        kw["filters"] = filters
    if chunk_key_encoding is not None:
        kw["chunk_key_encoding"] = chunk_key_encoding
    if order is not None:
        kw["order"] = order
    if zarr_format == 3:
        kw["serializer"] = serializer
    arr = group.create_array(name, shape=data.shape, dtype=data.dtype, chunks=chunks, shards=shards,
                             compressors=compressors, **kw)
    fv = np.asarray(arr.fill_value, dtype=data.dtype)
    expected = np.full(data.shape, fv, dtype=data.dtype)
    region = write if write is not None else tuple(slice(None) for _ in data.shape)
    arr[region] = data[region]
    expected[region] = data[region]
    path = f"{group.path}/{name}" if group.path else name
    if postprocess is not None:
        postprocess(os.path.join(outdir, store, path))
    record(outdir, store, path, expected, writer="zarr-python", sharded=shards is not None,
           codecs=codecs, zarr_format=zarr_format,
           fill_value=None if fill_value is None else _json_fill(fill_value))


def _json_fill(v):
    if isinstance(v, float) and np.isnan(v):
        return "NaN"
    if isinstance(v, float) and np.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    if isinstance(v, (np.integer,)):
        return int(v)
    return v


ZSTD3 = zc.ZstdCodec(level=3)


def zero_gzip_mtime(array_dir):
    """numcodecs' GZip stamps the current time into the gzip header (bytes 4..8): zero it so
    the goldens are byte-reproducible. The header has no CRC (FHCRC unset), so this is safe."""
    for dirpath, _, files in os.walk(array_dir):
        for fn in files:
            if fn == "zarr.json":
                continue
            p = os.path.join(dirpath, fn)
            with open(p, "r+b") as f:
                head = f.read(10)
                assert head[:3] == b"\x1f\x8b\x08" and not head[3] & 0x02, p
                f.seek(4)
                f.write(b"\0\0\0\0")


def store_v3_sharded_zstd(outdir):
    store = "zarrpy_v3_sharded_zstd.zarr"
    root = zarr.open_group(os.path.join(outdir, store), mode="w", zarr_format=3,
                           attributes={"golden": "zarr-python v3 sharded zstd"})
    rng = np.random.default_rng(20240601)

    # f64_2d: NaN fill, scattered NaNs, one inner chunk all-NaN (omitted from its shard index),
    # rows 30.. never written (rows 32..36 => whole shard row missing).
    d = (np.arange(37 * 23, dtype=np.float64).reshape(37, 23) * 0.25 - 100.0)
    d[rng.integers(0, 30, 6), rng.integers(0, 23, 6)] = np.nan
    d[0:8, 8:16] = np.nan  # exactly inner chunk (0,1) of shard (0,0): not stored
    d[3, 3] = -0.0
    d[5, 20] = np.inf
    d[6, 21] = -np.inf
    zarrpy_array(outdir, store, root, "f64_2d", d, chunks=(8, 8), shards=(16, 16),
                 compressors=ZSTD3, fill_value=float("nan"), write=(slice(0, 30), slice(None)),
                 codecs="sharding_indexed[bytes(little), zstd(3)] index[bytes, crc32c] end")

    d = (np.arange(101, dtype=np.int64) * 613 - 31000).astype(np.int16)
    zarrpy_array(outdir, store, root, "i16_1d", d, chunks=(10,), shards=(50,), compressors=ZSTD3,
                 codecs="sharding_indexed[bytes(little), zstd(3)] index[bytes, crc32c] end")

    d = ((np.arange(5 * 6 * 7).reshape(5, 6, 7) * 7 + 3) % 256).astype(np.uint8)
    zarrpy_array(outdir, store, root, "u8_3d", d, chunks=(2, 3, 4), shards=(4, 6, 4), compressors=ZSTD3,
                 codecs="sharding_indexed[bytes(no endian), zstd(3)] index[bytes, crc32c] end")

    i, j = np.indices((9, 10))
    d = ((i * 3 + j * j) % 5 == 0)
    zarrpy_array(outdir, store, root, "bool_2d", d, chunks=(4, 5), shards=(8, 10), compressors=ZSTD3,
                 codecs="sharding_indexed[bytes(no endian), zstd(3)] index[bytes, crc32c] end")

    d = (rng.standard_normal((20, 17)) * 1000).astype(np.float32)
    d[0, 0] = np.nan
    zarrpy_array(outdir, store, root, "f32_2d", d, chunks=(5, 5), shards=(10, 10), compressors=ZSTD3,
                 fill_value=-1.5, write=(slice(0, 20), slice(0, 12)),
                 codecs="sharding_indexed[bytes(little), zstd(3)] index[bytes, crc32c] end")

    d = (np.arange(33, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15))  # wraps: values > 2**63
    zarrpy_array(outdir, store, root, "u64_1d", d, chunks=(4,), shards=(16,), compressors=ZSTD3,
                 fill_value=np.uint64(2**64 - 1), write=(slice(0, 21),),
                 codecs="sharding_indexed[bytes(little), zstd(3)] index[bytes, crc32c] end")

    d = ((np.arange(7 * 11).reshape(7, 11) * 37) % 256 - 128).astype(np.int8)
    zarrpy_array(outdir, store, root, "i8_2d", d, chunks=(3, 4), shards=(6, 8), compressors=ZSTD3,
                 fill_value=-7, write=(slice(0, 6), slice(None)),
                 codecs="sharding_indexed[bytes(no endian), zstd(3)] index[bytes, crc32c] end")

    d = (np.arange(13 * 9, dtype=np.float32).reshape(13, 9) / 8.0 - 3.0)
    zarrpy_array(outdir, store, root, "f32_raw", d, chunks=(4, 3), shards=(8, 9), compressors=None,
                 codecs="sharding_indexed[bytes(little)] index[bytes, crc32c] end")

    # nested groups: array path with '/'
    sub = root.create_group("nested").create_group("deeper")
    d = (np.arange(6 * 10, dtype=np.int32).reshape(6, 10) * -12345)
    zarrpy_array(outdir, store, sub, "i32_nested", d, chunks=(3, 5), shards=(6, 10), compressors=ZSTD3,
                 codecs="sharding_indexed[bytes(little), zstd(3)] index[bytes, crc32c] end")


def store_v3_sharded_blosc(outdir):
    store = "zarrpy_v3_sharded_blosc.zarr"
    root = zarr.open_group(os.path.join(outdir, store), mode="w", zarr_format=3)
    i, j = np.indices((45, 27))
    d = np.sin(i * 0.1) * np.cos(j * 0.07) * 1e3
    zarrpy_array(outdir, store, root, "f64_blosc", d, chunks=(10, 10), shards=(20, 20),
                 compressors=zc.BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"),
                 codecs="sharding_indexed[bytes(little), blosc(lz4,5,shuffle)] index[bytes, crc32c] end")


def store_v3_unsharded(outdir):
    store = "zarrpy_v3_unsharded.zarr"
    root = zarr.open_group(os.path.join(outdir, store), mode="w", zarr_format=3)
    d = (np.arange(30 * 40, dtype=np.int32).reshape(30, 40) * 7919 - 4_000_000)
    zarrpy_array(outdir, store, root, "i32_zstd", d, chunks=(8, 16), compressors=ZSTD3,
                 write=(slice(0, 30), slice(0, 32)), codecs="bytes(little), zstd(3)")

    i, j = np.indices((25, 19))
    d = (i * 19 + j).astype(np.float64) * 1.5 - 7
    d[2, 2] = np.nan
    zarrpy_array(outdir, store, root, "f64_gzip", d, chunks=(10, 10), compressors=zc.GzipCodec(level=5),
                 fill_value=float("nan"), write=(slice(0, 20), slice(None)), codecs="bytes(little), gzip(5)",
                 postprocess=zero_gzip_mtime)

    d = (np.arange(11 * 7, dtype=np.float64).reshape(11, 7) ** 1.5)
    zarrpy_array(outdir, store, root, "f64_transpose", d, chunks=(4, 3), compressors=ZSTD3,
                 filters=[zc.TransposeCodec(order=(1, 0))],
                 codecs="transpose(1,0), bytes(little), zstd(3)")

    d = (np.arange(12 * 5, dtype=np.int32).reshape(12, 5) * -70001)
    zarrpy_array(outdir, store, root, "i32_bigendian", d, chunks=(5, 5), compressors=None,
                 serializer=zc.BytesCodec(endian="big"), codecs="bytes(big)")

    d = (np.arange(9 * 8, dtype=np.float64).reshape(9, 8) - 30.5)
    zarrpy_array(outdir, store, root, "f64_dotkeys", d, chunks=(4, 4), compressors=ZSTD3,
                 chunk_key_encoding={"name": "default", "separator": "."},
                 codecs="bytes(little), zstd(3); chunk_key_encoding default '.'")


def store_v2(outdir):
    store = "zarrpy_v2.zarr"
    root = zarr.open_group(os.path.join(outdir, store), mode="w", zarr_format=2)
    i, j = np.indices((21, 14))
    d = (i - j * 0.5).astype(np.float64) / 3
    d[4, 4] = np.nan
    zarrpy_array(outdir, store, root, "f64_blosc", d, chunks=(8, 5), zarr_format=2,
                 compressors=numcodecs.Blosc(cname="lz4", clevel=5, shuffle=numcodecs.Blosc.SHUFFLE),
                 fill_value=float("nan"), write=(slice(0, 16), slice(None)), codecs="v2 blosc(lz4,5,shuffle)")
    d = (np.arange(17 * 6, dtype=np.int64).reshape(17, 6) * -(2**40) + 12345)
    zarrpy_array(outdir, store, root, "i64_c", d, chunks=(5, 4), zarr_format=2,
                 compressors=numcodecs.Zstd(level=3), order="C", codecs="v2 order C, zstd(3)")
    d = (np.arange(10 * 7, dtype=np.float64).reshape(10, 7) * 1.25 + 0.5)
    zarrpy_array(outdir, store, root, "f64_order_f", d, chunks=(4, 3), zarr_format=2,
                 compressors=numcodecs.Zlib(level=5), order="F", codecs="v2 order F, zlib(5)")


def store_tensorstore(outdir):
    store = "tensorstore_v3_sharded.zarr"
    root = os.path.join(outdir, store)
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "zarr.json"), "w") as f:
        json.dump({"zarr_format": 3, "node_type": "group", "attributes": {}}, f, indent=2)

    def ts_write(name, data, metadata, write_region, codecs, fill):
        spec = {
            "driver": "zarr3",
            "kvstore": {"driver": "file", "path": os.path.join(root, name)},
            "metadata": metadata,
            "create": True,
            "delete_existing": True,
        }
        t = ts.open(spec).result()
        t[write_region].write(data[write_region]).result()
        expected = np.full(data.shape, fill, dtype=data.dtype)
        expected[write_region] = data[write_region]
        record(outdir, store, name, expected, writer="tensorstore",
               sharded=metadata["codecs"][0]["name"] == "sharding_indexed", codecs=codecs,
               fill_value=metadata["fill_value"])
        # Also cross-check with tensorstore itself.
        got = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": os.path.join(root, name)}}
                      ).result().read().result()
        assert np.array_equal(got, expected, equal_nan=data.dtype.kind == "f")

    def sharded_meta(shape, dtype, shard, inner, fill, loc, inner_codecs):
        return {
            "shape": list(shape),
            "data_type": dtype,
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(shard)}},
            "chunk_key_encoding": {"name": "default"},
            "fill_value": fill,
            "codecs": [{
                "name": "sharding_indexed",
                "configuration": {
                    "chunk_shape": list(inner),
                    "codecs": inner_codecs,
                    "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}],
                    "index_location": loc,
                },
            }],
        }

    le_zstd = [{"name": "bytes", "configuration": {"endian": "little"}},
               {"name": "zstd", "configuration": {"level": 3, "checksum": False}}]
    i, j = np.indices((29, 31))
    d = (i * 31 + j).astype(np.float64) * 0.5 - 200
    d[7, 7] = np.nan
    ts_write("f64_sharded_end", d,
             sharded_meta(d.shape, "float64", (16, 16), (8, 8), 0, "end", le_zstd),
             np.s_[0:24, 0:31], "sharding_indexed[bytes(little), zstd(3)] index[bytes, crc32c] end", 0.0)
    ts_write("f64_sharded_start", d,
             sharded_meta(d.shape, "float64", (16, 16), (8, 8), 0, "start", le_zstd),
             np.s_[0:29, 8:31], "sharding_indexed[bytes(little), zstd(3)] index[bytes, crc32c] start", 0.0)
    d = ((i * 1000 + j * 7) % 65536).astype(np.uint16)
    ts_write("u16_sharded_end", d,
             sharded_meta(d.shape, "uint16", (16, 16), (4, 8), 0, "end", le_zstd),
             np.s_[:, :], "sharding_indexed[bytes(little), zstd(3)] index[bytes, crc32c] end", 0)
    # unsharded, for reference
    d = (i - j).astype(np.int32)
    meta = {
        "shape": [29, 31], "data_type": "int32",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [10, 10]}},
        "chunk_key_encoding": {"name": "default"}, "fill_value": -1,
        "codecs": le_zstd,
    }
    ts_write("i32_unsharded", d, meta, np.s_[0:20, :], "bytes(little), zstd(3)", -1)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    for name in ["zarrpy_v3_sharded_zstd.zarr", "zarrpy_v3_sharded_blosc.zarr", "zarrpy_v3_unsharded.zarr",
                 "zarrpy_v2.zarr", "tensorstore_v3_sharded.zarr", "expected"]:
        shutil.rmtree(os.path.join(outdir, name), ignore_errors=True)
    os.makedirs(os.path.join(outdir, "expected"))
    store_v3_sharded_zstd(outdir)
    store_v3_sharded_blosc(outdir)
    store_v3_unsharded(outdir)
    store_v2(outdir)
    store_tensorstore(outdir)
    with open(os.path.join(outdir, "manifest.json"), "w") as f:
        json.dump(MANIFEST, f, indent=1)
        f.write("\n")
    with open(os.path.join(outdir, "generated_by.json"), "w") as f:
        json.dump({p: importlib.metadata.version(p) for p in ["zarr", "tensorstore", "numcodecs", "numpy"]},
                  f, indent=1)
        f.write("\n")
    print(f"wrote {len(MANIFEST)} arrays into {outdir}")


if __name__ == "__main__":
    main()
