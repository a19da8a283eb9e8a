"""Builds the stores `benches/RESULTS.md` ("Peak RSS of every command") measures.

usage: make_stores.py OUTCORE DIR MIB SPARSE_SHARDS

- DIR/dense.npy: MIB MiB of float64 uniform values in [0, 1), 2-d, 4096 columns;
- DIR/raw.zarr, DIR/zstd.zarr: it converted by OUTCORE (`--codec raw` / `zstd:1`);
- DIR/sparse.zarr: a 1-d float64 array of SPARSE_SHARDS shards of one 8 KiB chunk each, of
  which only shard 0 is stored, with a statistics sidecar of one record per chunk (as the
  library's writer leaves after writing one chunk of such an array).
"""
import json
import os
import shutil
import subprocess
import sys

import google_crc32c
import numpy as np

outcore, out, mib, sparse_shards = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
os.makedirs(out, exist_ok=True)

cols = 4096
rows = (mib << 20) // (8 * cols)
npy = os.path.join(out, "dense.npy")
if not os.path.exists(npy):
    m = np.lib.format.open_memmap(npy, mode="w+", dtype="<f8", shape=(rows, cols))
    rng = np.random.default_rng(7)
    for r in range(0, rows, 1024):
        m[r:r + 1024] = rng.random((min(1024, rows - r), cols))
    m.flush()
    del m
for codec in ["raw", "zstd"]:
    dest = os.path.join(out, f"{codec}.zarr")
    if not os.path.exists(dest):
        subprocess.run([outcore, "convert", npy, dest, "--codec",
                        "raw" if codec == "raw" else "zstd:1", "--chunks", "32,4096",
                        "--shard", "256,4096"], check=True)

chunk = 1024
dest = os.path.join(out, "sparse.zarr")
shutil.rmtree(dest, ignore_errors=True)
small = os.path.join(out, "one_chunk.npy")
np.save(small, np.arange(chunk, dtype="<f8"))
subprocess.run([outcore, "convert", small, dest, "--codec", "zstd:1", "--chunks",
                str(chunk), "--shard", str(chunk)], check=True)
shape = sparse_shards * chunk
meta_path = os.path.join(dest, "zarr.json")
meta = json.load(open(meta_path))
meta["shape"] = [shape]
json.dump(meta, open(meta_path, "w"), indent=2)
# The sidecar for the new shape: record 0 kept, the others absent.
stats_path = os.path.join(dest, "outcore.stats")
old = open(stats_path, "rb").read()
header = bytearray(old[:24 + 16])
header[24:32] = shape.to_bytes(8, "little")
record0 = old[40:40 + 64]
crc = google_crc32c.Checksum()
with open(stats_path + ".new", "wb") as f:
    for part in (bytes(header), record0):
        f.write(part)
        crc.update(part)
    zeros = bytes(64 * 65536)
    left = sparse_shards - 1
    while left:
        n = min(left, 65536)
        f.write(zeros[:64 * n])
        crc.update(zeros[:64 * n])
        left -= n
    f.write(int.from_bytes(crc.digest(), "big").to_bytes(4, "little"))
os.replace(stats_path + ".new", stats_path)
