"""Writes the backward-compatibility golden store `outcore_v1.zarr` (run once; see README.md:
it must never be regenerated).

usage: python make_outcore_v1.py OUTCORE_BINARY

numpy makes every array from a formula and saves it as `outcore_v1_expected/NAME.npy`; the
`outcore` binary of this version converts each `.npy` (and one CSV file) into the store;
`outcore_v1_manifest.json` lists each array with its expected values, dtype, codec and
statistics. The test (`tests/interop.rs`, `outcore_v1_golden_store_reads_equal`) compares
what later versions read with the `.npy` files, which do not depend on outcore.
"""
import json
import os
import shutil
import subprocess
import sys

import numpy as np

outcore = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
store = os.path.join(here, "outcore_v1.zarr")
expected_dir = os.path.join(here, "outcore_v1_expected")
if os.path.exists(store):
    sys.exit(f"{store} exists: the golden store is never regenerated")
os.makedirs(expected_dir, exist_ok=True)

i = np.arange(10_000, dtype=np.int64)
arrays = {
    # name: (values, codec, chunks, shard)
    "f64_zstd": ((np.sin(i[:37 * 23] * 0.37) * 1e3).reshape(37, 23), "zstd:3", "8,5", "16,10"),
    "f64_raw": ((i[:37 * 23] * 0.5 - 100.25).reshape(37, 23), "raw", "8,5", "16,10"),
    "f32_nan_zstd": (np.where(i[:300] % 7 == 0, np.nan, i[:300] / 3).astype("<f4"), "zstd:1",
                     "64", "128"),
    "i8_raw": (((i[:101] * 37) % 256 - 128).astype("<i1"), "raw", "16", "32"),
    "i64_zstd": ((i[:5 * 6 * 7] * 1_000_000_007 - 2**40).reshape(5, 6, 7), "zstd:5",
                 "2,3,4", "4,6,4"),
    "u16_zstd": (((i[:400] * 2654435761) % 65536).astype("<u2").reshape(20, 20), "zstd:1",
                 "7,7", "14,14"),
    "u64_raw": ((i[:50].astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)), "raw", "8", "16"),
    "bool_zstd": ((i[:9 * 13] % 3 == 1).reshape(9, 13), "zstd:1", "4,4", "8,8"),
    "i32_raw": (((i[:33] * 7919) % 100_003 - 50_000).astype("<i4"), "raw", "10", "20"),
}
manifest = []
for name, (values, codec, chunks, shard) in arrays.items():
    values = np.ascontiguousarray(values)
    file = name.replace("/", "__") + ".npy"
    np.save(os.path.join(expected_dir, file), values)
    subprocess.run([outcore, "convert", os.path.join(expected_dir, file), f"{store}/{name}",
                    "--codec", codec, "--chunks", chunks, "--shard", shard], check=True)
    manifest.append({"array": name, "expected": f"outcore_v1_expected/{file}",
                     "dtype": values.dtype.name, "shape": list(values.shape), "codec": codec})

# A CSV file's columns, in a group: an integer and a float column.
rows = 250
csv = os.path.join(here, "outcore_v1_table.csv")
ints = (i[:rows] * 31) % 1000 - 500
floats = i[:rows] * 0.125
with open(csv, "w") as f:
    f.write("id,value\n")
    for a, b in zip(ints, floats):
        f.write(f"{a},{b}\n")
subprocess.run([outcore, "convert", csv, f"{store}/table", "--codec", "zstd:1"], check=True)
for column, values in [("id", ints), ("value", floats)]:
    # The importer picks each column's type; the values are the formula's.
    meta = json.load(open(os.path.join(store, "table", column, "zarr.json")))
    values = values.astype(meta["data_type"])
    file = f"table__{column}.npy"
    np.save(os.path.join(expected_dir, file), values)
    manifest.append({"array": f"table/{column}", "expected": f"outcore_v1_expected/{file}",
                     "dtype": values.dtype.name, "shape": [rows], "codec": "zstd:1"})
os.remove(csv)

versions = {"outcore": subprocess.run([outcore, "--version"], capture_output=True, text=True,
                                      check=True).stdout.strip(),
            "numpy": np.__version__}
with open(os.path.join(here, "outcore_v1_manifest.json"), "w") as f:
    json.dump({"written_by": versions, "arrays": manifest}, f, indent=1)
