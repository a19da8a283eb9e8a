"""Writes the inputs and numpy's answers for tests/numpy_quantile.rs.

Usage: reference.py OUTDIR. Each array is saved as OUTDIR/NAME.npy; OUTDIR/manifest.json lists,
per array, the requests (function, q, axis, method, keepdims) and numpy's answer to each: its
dtype, shape and values in C order (floats as Python's repr, so every bit is kept), or the
exception numpy raised.
"""

import json
import sys
import warnings

import numpy as np

warnings.simplefilter("ignore")

out = sys.argv[1]
rng = np.random.default_rng(20261203)
arrays = []

METHODS = ["linear", "lower", "higher", "nearest", "midpoint"]


def value_json(v):
    v = v.item() if hasattr(v, "item") else v
    return repr(float(v)) if isinstance(v, float) else v


def answer(fn):
    try:
        r = np.asarray(fn())
    except (IndexError, ValueError, TypeError) as e:
        return {"error": f"{type(e).__name__}: {e}"}
    return {
        "dtype": str(r.dtype),
        "shape": list(r.shape),
        "values": [value_json(v) for v in r.ravel()],
    }


def add(name, x, axes_list, scalar_qs=(0.0, 0.01, 0.25, 0.5, 0.7, 0.99, 1.0),
        list_q=(0.1, 0.5, 0.9, 1.0), percents=(37.5, 99.9), lists=True):
    np.save(f"{out}/{name}.npy", np.ascontiguousarray(x))
    requests = []
    for axis in axes_list:
        for keepdims in (False, True):
            ax = tuple(axis) if isinstance(axis, list) else axis
            kw = dict(axis=ax, keepdims=keepdims)
            for nan in (False, True):
                q_fn = np.nanquantile if nan else np.quantile
                p_fn = np.nanpercentile if nan else np.percentile
                m_fn = np.nanmedian if nan else np.median
                base = {"axis": axis, "keepdims": keepdims, "nan": nan}
                requests.append({**base, "fn": "median",
                                 **answer(lambda: m_fn(x, **kw))})
                for method in METHODS:
                    for q in scalar_qs:
                        requests.append({**base, "fn": "quantile", "q": q, "method": method,
                                         **answer(lambda: q_fn(x, q, method=method, **kw))})
                    for p in percents:
                        requests.append({**base, "fn": "percentile", "q": p, "method": method,
                                         **answer(lambda: p_fn(x, p, method=method, **kw))})
                    if not lists:
                        continue
                    requests.append({**base, "fn": "quantiles", "q": list(list_q),
                                     "method": method,
                                     **answer(lambda: q_fn(x, np.array(list_q), method=method,
                                                           **kw))})
                    requests.append({**base, "fn": "percentiles", "q": list(percents),
                                     "method": method,
                                     **answer(lambda: p_fn(x, np.array(percents),
                                                           method=method, **kw))})
    arrays.append({"name": name, "file": f"{name}.npy", "requests": requests})


def floats(shape, dtype=np.float64, nan=0.0):
    x = (rng.standard_normal(shape) * 10.0).astype(dtype)
    x[rng.random(shape) < nan] = np.nan
    return x


def ints(shape, dtype, low, high):
    return rng.integers(low, high, size=shape, endpoint=True, dtype=dtype)


add("f64_1d", floats(1001), [None])
add("f64_even", floats(400), [None, 0])
add("f64_nan", floats(300, nan=0.05), [None])
add("f32_nan_2d", floats((37, 53), np.float32, nan=0.03), [None, 0, 1])
add("f64_3d", floats((5, 9, 8)), [None, 1, [0, 2]])
add("f32_3d_nan", floats((6, 7, 5), np.float32, nan=0.2), [[0, 1], 2])
x = floats((4, 6))
x[1, :] = np.nan  # an all-NaN column slice along axis 1
add("f64_all_nan_row", x, [None, 0, 1])
add("f64_one", np.array([2.5]), [None])
add("f64_two", np.array([1.0, 4.0]), [None])
add("f64_infinities", np.array([1.0, np.inf, -np.inf, 3.0, np.inf]), [None])
add("f64_ties", np.round(floats(500)) / 4.0, [None])
add("f32_large", (floats(257, np.float32) * np.float32(3e37)).astype(np.float32), [None])
add("i8", ints(333, np.int8, -128, 127), [None])
add("i8_extremes", np.array([-128, 127, -100, 100, 0], np.int8), [None])
add("i16_2d", ints((20, 30), np.int16, -30000, 30000), [None, 0, 1])
add("i32_dups", ints(1000, np.int32, -3, 3), [None])
add("i64_big", ints(200, np.int64, -2**62, 2**62), [None])
add("u8", ints((10, 11), np.uint8, 0, 255), [None, 1])
add("u64_big", ints(150, np.uint64, 2**63, 2**64 - 1), [None])
add("u16_3d", ints((3, 4, 5), np.uint16, 0, 65535), [None, [0, 2]])
# numpy's nanquantile of an empty array with a list of quantiles gives one NaN, not one per
# quantile (outcore gives one per quantile): only single quantiles are compared.
add("f64_empty", np.zeros(0), [None], lists=False)

with open(f"{out}/manifest.json", "w") as f:
    json.dump(arrays, f)
