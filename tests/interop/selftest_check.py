#!/usr/bin/env python3
"""Self-test for check_outcore_store.py, usable before/without the Rust side.

Usage: selftest_check.py [WORKDIR]   (default: a fresh temporary directory)

Builds two stores shaped like outcore's output, each with a Rust-style manifest.json
(entries {"array", "expected", "dtype", "shape"}, expected paths relative):
  * zarrpy_outcore_shape/  written by zarr-python 3 with outcore's codec chain
    (sharding_indexed[bytes little, zstd(level, checksum false)], index [bytes, crc32c], end,
    "/" chunk keys) plus an `outcore.stats` file next to each array's zarr.json;
  * handmade_padded/       shards assembled byte by byte the way outcore lays them out:
    inner chunks at 4096-aligned offsets with zero-filled gaps, all-fill inner chunks
    absent (index entry 2**64-1), all-fill shards absent, index at the end + crc32c.
Then checks that check_outcore_store.py accepts both (exit 0) and rejects deliberately
wrong expectations (wrong value, wrong dtype, missing array, corrupt shard) with exit 1.
Exits 0 if every case behaved as expected.
"""

import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import numcodecs
import zarr
import zarr.codecs as zc

HERE = os.path.dirname(os.path.abspath(__file__))
CHECK = os.path.join(HERE, "check_outcore_store.py")
ZSTD_LEVEL = 3
ALIGN = 4096
EMPTY = 2**64 - 1


def crc32c(data):
    try:
        import google_crc32c

        return google_crc32c.value(bytes(data))
    except ImportError:
        return int(np.frombuffer(numcodecs.CRC32C().encode(data)[-4:], "<u4")[0])


def outcore_meta(shape, dtype, shard, inner, fill):
    fv = fill
    if isinstance(fill, float) and np.isnan(fill):
        fv = "NaN"
    return {
        "zarr_format": 3,
        "node_type": "array",
        "shape": list(shape),
        "data_type": np.dtype(dtype).name,
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": list(shard)}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": fv,
        "codecs": [{
            "name": "sharding_indexed",
            "configuration": {
                "chunk_shape": list(inner),
                "codecs": [{"name": "bytes", "configuration": {"endian": "little"}},
                           {"name": "zstd", "configuration": {"level": ZSTD_LEVEL, "checksum": False}}],
                "index_codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}],
                "index_location": "end",
            },
        }],
        "attributes": {},
    }


def write_handmade(array_dir, data, shard, inner, fill):
    """Write `data` as an outcore-style sharded array with aligned, padded inner chunks."""
    os.makedirs(array_dir)
    with open(os.path.join(array_dir, "zarr.json"), "w") as f:
        json.dump(outcore_meta(data.shape, data.dtype, shard, inner, fill), f, indent=2)
    with open(os.path.join(array_dir, "outcore.stats"), "wb") as f:
        f.write(b"OUTCORE-STATS\0not zarr metadata; readers must ignore this file\n")
    zstd = numcodecs.Zstd(level=ZSTD_LEVEL)
    nan_fill = isinstance(fill, float) and np.isnan(fill)
    grid = [-(-n // s) for n, s in zip(data.shape, shard)]
    per_shard = [s // c for s, c in zip(shard, inner)]
    for sidx in itertools.product(*map(range, grid)):
        # the full shard, padded with fill beyond the array edge
        block = np.full(shard, fill, dtype=data.dtype)
        src = tuple(slice(i * s, min((i + 1) * s, n)) for i, s, n in zip(sidx, shard, data.shape))
        block[tuple(slice(0, sl.stop - sl.start) for sl in src)] = data[src]
        body = bytearray()
        index = []
        for cidx in itertools.product(*map(range, per_shard)):
            chunk = block[tuple(slice(i * c, (i + 1) * c) for i, c in zip(cidx, inner))]
            is_fill = np.all(np.isnan(chunk)) if nan_fill else np.all(chunk == fill)
            if is_fill:
                index.append((EMPTY, EMPTY))
                continue
            enc = zstd.encode(np.ascontiguousarray(chunk).astype(chunk.dtype.newbyteorder("<")).tobytes())
            body += b"\0" * (-len(body) % ALIGN)  # gap up to the next aligned offset
            index.append((len(body), len(enc)))
            body += enc
        if all(o == EMPTY for o, _ in index):
            continue  # whole shard is fill: no object at all
        body += b"\0" * (-len(body) % ALIGN)
        idx = np.array(index, dtype="<u8").tobytes()
        body += idx + np.array([crc32c(idx)], dtype="<u4").tobytes()
        key = os.path.join(array_dir, "c", *map(str, sidx))
        os.makedirs(os.path.dirname(key), exist_ok=True)
        with open(key, "wb") as f:
            f.write(body)


def test_arrays():
    """(path, data, shard, inner, fill) — deterministic, with edges and fill regions."""
    i, j = np.indices((37, 23))
    f64 = (i * 23 + j).astype(np.float64) * 0.5 - 99
    f64[3, 4] = np.nan
    f64[0:8, 8:16] = np.nan  # one all-fill inner chunk
    f64[32:, :] = np.nan  # whole all-fill shard row
    u8 = ((np.arange(5 * 6 * 7).reshape(5, 6, 7) * 11) % 256).astype(np.uint8)
    i64 = np.arange(101, dtype=np.int64) * -(2**33) + 7
    i64[50:100] = 0
    b = ((i * 3 + j) % 4 == 0)[:9, :10]
    return [
        ("f64_2d", f64, (16, 16), (8, 8), float("nan")),
        ("grp/u8_3d", u8, (4, 6, 4), (2, 3, 4), 0),
        ("grp/sub/i64_1d", i64, (50,), (10,), 0),
        ("bool_2d", b, (8, 10), (4, 5), False),
    ]


def make_root(store_dir):
    os.makedirs(store_dir)
    with open(os.path.join(store_dir, "zarr.json"), "w") as f:
        json.dump({"zarr_format": 3, "node_type": "group", "attributes": {}}, f)


def ensure_groups(store_dir, path):
    parts = path.split("/")[:-1]
    for k in range(1, len(parts) + 1):
        d = os.path.join(store_dir, *parts[:k])
        if not os.path.exists(os.path.join(d, "zarr.json")):
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "zarr.json"), "w") as f:
                json.dump({"zarr_format": 3, "node_type": "group", "attributes": {}}, f)


def build(store_dir, handmade):
    make_root(store_dir)
    os.makedirs(os.path.join(store_dir, "expected"))
    manifest = []
    for path, data, shard, inner, fill in test_arrays():
        ensure_groups(store_dir, path)
        if handmade:
            write_handmade(os.path.join(store_dir, path), data, shard, inner, fill)
        else:
            root = zarr.open_group(store_dir, mode="r+")
            a = root.create_array(path, shape=data.shape, dtype=data.dtype, chunks=inner, shards=shard,
                                  compressors=zc.ZstdCodec(level=ZSTD_LEVEL, checksum=False),
                                  fill_value=fill)
            a[...] = data
            with open(os.path.join(store_dir, path, "outcore.stats"), "wb") as f:
                f.write(b"OUTCORE-STATS\0\1\2\3")
        rel = f"expected/{path.replace('/', '__')}.npy"
        np.save(os.path.join(store_dir, rel), data)
        manifest.append({"array": path, "expected": rel, "dtype": str(data.dtype), "shape": list(data.shape)})
    with open(os.path.join(store_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    return manifest


def run_check(store_dir, manifest_path):
    p = subprocess.run([sys.executable, CHECK, store_dir, manifest_path], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


def main():
    work = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp(prefix="outcore_interop_selftest_")
    failures = 0
    cases = 0

    def expect(label, store_dir, manifest_path, want_rc, want_text=None):
        nonlocal failures, cases
        cases += 1
        rc, out = run_check(store_dir, manifest_path)
        good = rc == want_rc and (want_text is None or want_text in out)
        print(f"{'ok' if good else 'FAIL'} selftest {label} (check exit {rc}, wanted {want_rc})", flush=True)
        if not good:
            failures += 1
            print(out)

    for name, handmade in [("zarrpy_outcore_shape", False), ("handmade_padded", True)]:
        store = os.path.join(work, name)
        shutil.rmtree(store, ignore_errors=True)
        manifest = build(store, handmade)
        mpath = os.path.join(store, "manifest.json")
        expect(f"{name} accepted", store, mpath, 0)

        # wrong value in one expected file
        bad = np.load(os.path.join(store, manifest[0]["expected"]))
        bad[1, 1] += 1
        np.save(os.path.join(work, "bad_value.npy"), bad)
        m = [dict(e) for e in manifest]
        m[0]["expected"] = os.path.join(work, "bad_value.npy")
        with open(os.path.join(work, "m_bad_value.json"), "w") as f:
            json.dump(m, f)
        expect(f"{name} wrong value rejected", store, os.path.join(work, "m_bad_value.json"), 1,
               "MISMATCH zarr-python f64_2d")

        # wrong dtype (int32 instead of int64)
        np.save(os.path.join(work, "bad_dtype.npy"), np.load(os.path.join(store, manifest[2]["expected"])).astype(np.int32))
        m = [dict(e) for e in manifest]
        m[2]["expected"] = os.path.join(work, "bad_dtype.npy")
        m[2]["dtype"] = "int32"
        with open(os.path.join(work, "m_bad_dtype.json"), "w") as f:
            json.dump(m, f)
        expect(f"{name} wrong dtype rejected", store, os.path.join(work, "m_bad_dtype.json"), 1, "dtype")

        # array missing from the store
        m = [dict(e) for e in manifest] + [dict(manifest[0], array="no_such_array")]
        with open(os.path.join(work, "m_missing.json"), "w") as f:
            json.dump(m, f)
        expect(f"{name} missing array rejected", store, os.path.join(work, "m_missing.json"), 1, "no_such_array")

    # corrupt the shard index of the handmade store: crc32c must catch it
    store = os.path.join(work, "handmade_padded")
    shard = os.path.join(store, "f64_2d", "c", "0", "0")
    with open(shard, "r+b") as f:
        f.seek(-20, os.SEEK_END)
        b = f.read(1)
        f.seek(-20, os.SEEK_END)
        f.write(bytes([b[0] ^ 0xFF]))
    expect("handmade_padded corrupt shard index rejected", store, os.path.join(store, "manifest.json"), 1)

    print(f"{cases - failures} passed, {failures} failed")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
