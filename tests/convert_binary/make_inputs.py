"""Writes `.npy` and raw binary inputs for tests/convert_binary.rs with numpy, the oracle.

Usage: make_inputs.py OUTDIR. Every input gets a reference copy `NAME.ref.npy` (the same
values, C order, little endian) and a line in OUTDIR/manifest.json:
{"name", "kind": "npy" | "raw", "file", "reference", "dtype", "shape",
 "order": "C" | "F", "byteorder": "<" | ">", "offset"}.
"""

import json
import sys
from pathlib import Path

import numpy as np

DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float32", "float64"]
SHAPES = [(), (0,), (3, 0, 2), (7,), (13, 17), (4, 5, 6), (2, 3, 1, 5)]


def values(dtype, shape, rng):
    dt = np.dtype(dtype)
    n = int(np.prod(shape, dtype=np.int64))
    if dt.kind == "b":
        v = rng.integers(0, 2, n).astype(bool)
    elif dt.kind in "iu":
        info = np.iinfo(dt)
        v = rng.integers(info.min, info.max, n, dtype=dt, endpoint=True)
    else:
        v = (rng.standard_normal(n) * 1e3).astype(dt)
        special = np.array([np.nan, np.inf, -np.inf, -0.0, np.finfo(dt).max, np.finfo(dt).tiny],
                           dtype=dt)
        k = min(n, len(special))
        v[:k] = special[:k]
    return v.reshape(shape)


def main():
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    manifest = []

    def add(name, kind, a, order, byteorder, offset=0, version=None):
        stored = a.astype(a.dtype.newbyteorder(byteorder)) if a.dtype.itemsize > 1 else a
        ref = out / f"{name}.ref.npy"
        np.save(ref, a.astype(a.dtype.newbyteorder("<"), order="C"))
        if kind == "npy":
            path = out / f"{name}.npy"
            arr = stored.copy(order=order)  # (ascontiguousarray would make 0-d arrays 1-d)
            with open(path, "wb") as f:
                np.lib.format.write_array(f, arr, version=version)
            if a.ndim >= 2 and a.size > 1:
                assert np.lib.format.read_magic(open(path, "rb")) == (version or (1, 0))
        else:
            path = out / f"{name}.bin"
            with open(path, "wb") as f:
                f.write(bytes(range(offset % 256))[:offset].ljust(offset, b"\x00"))
                f.write(stored.tobytes(order=order))
        manifest.append({
            "name": name, "kind": kind, "file": path.name, "reference": ref.name,
            "dtype": a.dtype.name, "shape": list(a.shape), "order": order,
            "byteorder": byteorder, "offset": offset,
        })

    for dtype in DTYPES:
        byteorders = ["<", ">"] if np.dtype(dtype).itemsize > 1 else ["<"]
        for si, shape in enumerate(SHAPES):
            a = values(dtype, shape, rng)
            for order in ["C", "F"]:
                for bo in byteorders:
                    tag = "le" if bo == "<" else "be"
                    add(f"npy-{dtype}-{si}-{order}-{tag}", "npy", a, order, bo)
                    if shape in [(13, 17), (2, 3, 1, 5)]:
                        add(f"raw-{dtype}-{si}-{order}-{tag}", "raw", a, order, bo, offset=40)
    # Header format versions 2.0 and 3.0.
    a = values("float64", (6, 5), rng)
    add("npy-v2", "npy", a, "C", "<", version=(2, 0))
    add("npy-v3", "npy", a, "F", ">", version=(3, 0))
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    print(f"wrote {len(manifest)} inputs")


if __name__ == "__main__":
    main()
