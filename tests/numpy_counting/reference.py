"""Writes the inputs and numpy's answers for tests/numpy_counting.rs.

Usage: reference.py OUTDIR. Arrays are saved as OUTDIR/NAME.npy; OUTDIR/manifest.json lists the
requests (histogram, histogram2d, bincount, unique) with numpy's answers: counts, and edges as
Python's repr (every bit kept) with their dtype, or the exception numpy raised. numpy raises on
a NaN in an autodetected histogram range where outcore leaves NaN out: those answers are
numpy's over the values that are not NaN.
"""

import json
import sys
import warnings

import numpy as np

warnings.simplefilter("ignore")

out = sys.argv[1]
rng = np.random.default_rng(20261205)
requests = []


def save(name, x):
    np.save(f"{out}/{name}.npy", np.ascontiguousarray(x))
    return f"{name}.npy"


def floats_json(a):
    return [repr(float(v)) for v in np.asarray(a).ravel()]


def ints_json(a):
    return [int(v) for v in np.asarray(a).ravel()]


def attempt(entry, fn):
    try:
        entry.update(fn())
    except (ValueError, TypeError) as e:
        entry["error"] = f"{type(e).__name__}: {e}"
    requests.append(entry)


def histogram(name, x, bins, range_=None):
    entry = {"kind": "histogram", "x": name, "bins": bins if isinstance(bins, int) else list(bins),
             "range": list(range_) if range_ is not None else None}

    def run():
        data = x
        if range_ is None and isinstance(bins, int) and x.dtype.kind == "f":
            data = x[~np.isnan(x)]
        counts, edges = np.histogram(data, bins=bins, range=range_)
        return {"counts": ints_json(counts), "edges": floats_json(edges),
                "edges_dtype": str(edges.dtype)}
    attempt(entry, run)


def histogram2d(xname, x, yname, y, bins, range_=None):
    entry = {"kind": "histogram2d", "x": xname, "y": yname,
             "bins": [b if isinstance(b, int) else list(b) for b in bins],
             "range": [list(r) if r is not None else None for r in range_] if range_ else None}

    def run():
        h, ex, ey = np.histogram2d(x, y, bins=list(bins), range=range_)
        return {"counts": floats_json(h), "shape": list(h.shape),
                "x_edges": floats_json(ex), "y_edges": floats_json(ey)}
    attempt(entry, run)


def bincount(name, x, weights=None, minlength=0):
    entry = {"kind": "bincount", "x": name, "minlength": minlength,
             "weights": weights[0] if weights else None}

    def run():
        r = np.bincount(x, weights=weights[1] if weights else None, minlength=minlength)
        values = floats_json(r) if r.dtype.kind == "f" else ints_json(r)
        return {"values": values, "dtype": str(r.dtype)}
    attempt(entry, run)


def unique(name, x):
    entry = {"kind": "unique", "x": name}

    def run():
        values, counts = np.unique(x, return_counts=True)
        v = floats_json(values) if values.dtype.kind == "f" else ints_json(values)
        return {"values": v, "counts": ints_json(counts), "dtype": str(values.dtype)}
    attempt(entry, run)


f64 = rng.standard_normal(3000) * 3.0
f64[rng.random(3000) < 0.02] = np.nan
f32 = (rng.standard_normal((40, 51)) * 100).astype(np.float32)
i16 = rng.integers(-1000, 1000, size=(30, 33), dtype=np.int16)
i8 = rng.integers(-128, 127, size=500, endpoint=True, dtype=np.int8)
u64 = rng.integers(2**60, 2**63, size=300, dtype=np.uint64)
i64 = rng.integers(-2**40, 2**40, size=(7, 50), dtype=np.int64)
const = np.full(100, 2.5)
const_i = np.full(64, 7, dtype=np.int32)
empty = np.zeros(0)
named = {"f64": f64, "f32": f32, "i16": i16, "i8": i8, "u64": u64, "i64": i64,
         "const": const, "const_i": const_i, "empty": empty}
for name, x in named.items():
    save(name, x)
    for bins in (10, 7, 1, 64):
        histogram(name, x, bins)
    for r in ((-5.0, 5.0), (0.0, 0.0), (-3.3, 2.1), (-1e3, 1e3)):
        histogram(name, x, 13, r)
    histogram(name, x, [-10.0, -1.0, 0.0, 0.5, 3.0, 10.0])
    histogram(name, x, [0.0, 1.0, 1.0, 2.0, 800.0])
histogram("f64", f64, 5, (3.0, 1.0))
histogram("f64", f64, [1.0, 0.0])
histogram("f64", f64, 0)

a = rng.standard_normal(1000)
b = a * 0.5 + rng.standard_normal(1000)
b[::37] = np.nan
ai = rng.integers(0, 20, size=1000, dtype=np.int32)
bi = rng.integers(-5, 5, size=1000, dtype=np.int64)
save("a", a); save("b", b); save("ai", ai); save("bi", bi)
histogram2d("a", a, "b", b, (5, 7), [(-3.0, 3.0), (-2.0, 2.5)])
histogram2d("a", a, "ai", ai, (8, 4))
histogram2d("ai", ai, "bi", bi, (20, 10))
histogram2d("ai", ai, "bi", bi, ([0.0, 5.0, 5.0, 10.0, 19.0], [-5.0, 0.0, 4.0]))
histogram2d("a", a, "b", b, (3, 3), [(0.0, 0.0), (-1.0, 1.0)])

counts_u8 = rng.integers(0, 255, size=2000, dtype=np.uint8)
counts_i32 = rng.integers(0, 100_000, size=1500, dtype=np.int32)
counts_i64 = rng.integers(0, 50, size=(1000,), dtype=np.int64)
flags = rng.random(700) < 0.3
negative = np.array([3, 1, -2, 5], dtype=np.int16)
w64 = rng.standard_normal(1000) * 1e3
w32 = (rng.standard_normal(1000) * 7).astype(np.float32)
wi = rng.integers(-9, 9, size=1000, dtype=np.int16)
for name, x in [("counts_u8", counts_u8), ("counts_i32", counts_i32), ("counts_i64", counts_i64),
                ("flags", flags), ("negative", negative), ("u64", u64), ("f64", f64)]:
    save(name, x)
    for minlength in (0, 5, 300_000):
        bincount(name, x, minlength=minlength)
for wname, w in [("w64", w64), ("w32", w32), ("wi", wi)]:
    save(wname, w)
    bincount("counts_i64", counts_i64, (wname, w))
    bincount("counts_i64", counts_i64, (wname, w), minlength=60)

zeros = np.array([0.0, -0.0, 1.0, np.nan, -0.0, np.nan, 3.0, 1.0])
save("zeros", zeros)
for name, x in [("i8", i8), ("i16", i16), ("counts_u8", counts_u8), ("flags", flags),
                ("i64", i64), ("u64", u64), ("f64", f64), ("f32", f32), ("empty", empty),
                ("const_i", const_i), ("zeros", zeros)]:
    unique(name, x)

with open(f"{out}/manifest.json", "w") as f:
    json.dump(requests, f)
