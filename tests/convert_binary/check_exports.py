"""Checks what outcore exported, with numpy and zarr-python.

Usage: check_exports.py MANIFEST. MANIFEST is a JSON list of
{"reference": npy, "npy": exported .npy or null, "zarr": exported Zarr v3 array or null,
 "chunks": the Zarr chunk shape or null}. Each export must equal the reference (same dtype,
same shape, same values bit for bit, NaN included); a Zarr export must be unsharded
with the requested chunks. Prints "ok PATH" per check, exits 1 on the first mismatch.
"""

import json
import sys

import numpy as np
import zarr


def same(a, b):
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind == "f":
        return np.array_equal(a.view(f"u{a.dtype.itemsize}"), b.view(f"u{b.dtype.itemsize}"))
    return np.array_equal(a, b)


def main():
    entries = json.load(open(sys.argv[1]))
    for e in entries:
        ref = np.load(e["reference"])
        if e.get("npy"):
            got = np.load(e["npy"])
            if not same(got, ref.astype(ref.dtype.newbyteorder("="))):
                sys.exit(f"FAIL {e['npy']}: {got.dtype}{got.shape} differs from {e['reference']}")
            print(f"ok {e['npy']}")
        if e.get("zarr"):
            z = zarr.open_array(e["zarr"], mode="r")
            meta = json.load(open(f"{e['zarr']}/zarr.json"))
            names = [c["name"] for c in meta["codecs"]]
            if "sharding_indexed" in names:
                sys.exit(f"FAIL {e['zarr']}: sharded ({names})")
            if e.get("chunks") is not None and list(z.chunks) != e["chunks"]:
                sys.exit(f"FAIL {e['zarr']}: chunks {z.chunks}, expected {e['chunks']}")
            got = z[...]
            got = np.asarray(got)
            if not same(got, ref.astype(ref.dtype.newbyteorder("="))):
                sys.exit(f"FAIL {e['zarr']}: {got.dtype}{got.shape} differs from {e['reference']}")
            print(f"ok {e['zarr']}")


if __name__ == "__main__":
    main()
