"""Writes the inputs and numpy's answers for tests/numpy_scan.rs.

Usage: reference.py OUTDIR. Each input is saved as OUTDIR/NAME.npy and numpy's answer to each
request as OUTDIR/NAME_FN_AXIS[_N].npy (every bit kept); OUTDIR/manifest.json lists them.
Requests: cumsum, cumprod, nancumsum, nancumprod along every axis, diff with n = 1, 2, 3 along
every axis, and two compositions: cumsum(x * 3 + 1) and a slice of cumsum(x).
"""

import json
import sys
import warnings

import numpy as np

warnings.simplefilter("ignore")

out = sys.argv[1]
rng = np.random.default_rng(20261206)
cases = []


def save(name, a):
    np.save(f"{out}/{name}.npy", np.ascontiguousarray(a))
    return f"{name}.npy"


def add(name, x):
    entry = {"name": name, "x": save(name, x), "requests": []}
    for axis in range(x.ndim):
        for fn in ("cumsum", "cumprod", "nancumsum", "nancumprod"):
            r = getattr(np, fn)(x, axis=axis)
            entry["requests"].append({"fn": fn, "axis": axis,
                                      "expect": save(f"{name}_{fn}_{axis}", r)})
        for n in (1, 2, 3):
            r = np.diff(x, n=n, axis=axis)
            entry["requests"].append({"fn": "diff", "axis": axis, "n": n,
                                      "expect": save(f"{name}_diff_{axis}_{n}", r)})
        if x.dtype != np.bool_:
            r = np.cumsum(x * 3 + 1, axis=axis)
            entry["requests"].append({"fn": "cumsum_of_expr", "axis": axis,
                                      "expect": save(f"{name}_expr_{axis}", r)})
        r = np.cumsum(x, axis=axis)[tuple(slice(1, -1) for _ in range(x.ndim))]
        entry["requests"].append({"fn": "cumsum_sliced", "axis": axis,
                                  "expect": save(f"{name}_sliced_{axis}", r)})
    cases.append(entry)


f64 = rng.standard_normal((57, 13)) * 10
f64[rng.random(f64.shape) < 0.05] = np.nan
f64[3, 4] = np.inf
add("f64_2d", f64)
add("f32_3d", (rng.standard_normal((9, 8, 7)) * 3).astype(np.float32))
add("f64_1d", rng.standard_normal(1000) * 1e6)
add("i8_2d", rng.integers(-128, 127, size=(40, 9), endpoint=True, dtype=np.int8))
add("i64_wrap", rng.integers(2**61, 2**62, size=(30, 4), dtype=np.int64))
add("u8_1d", rng.integers(0, 255, size=300, endpoint=True, dtype=np.uint8))
add("u64_2d", rng.integers(2**62, 2**63, size=(12, 11), dtype=np.uint64))
add("bool_2d", rng.random((25, 6)) < 0.4)
add("i16_3d", rng.integers(-3, 4, size=(6, 5, 20), dtype=np.int16))

with open(f"{out}/manifest.json", "w") as f:
    json.dump(cases, f)
