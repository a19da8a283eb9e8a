"""numpy's `astype` between every pair of data types, for `tests/numpy_gaps.rs`.

Prints one JSON object: `cases`, one per (source dtype, target dtype), with the source
values, numpy's converted values, and for each element whether numpy defines the result
(C leaves a float that is NaN or out of the target's range undefined; numpy warns and gives
whatever the platform's cast gives) together with outcore's documented answer there:
truncation toward zero, saturation at the target's bounds, NaN to 0. Every value is written
as a string (`repr`), so NaN and infinities survive JSON.
"""

import json
import math
import warnings

import numpy as np

DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
          "uint64", "float32", "float64"]
FLOATS = [0.0, -0.0, 0.5, -0.5, 1.9, -1.9, 127.9, 128.0, -128.9, -129.0, 255.5, 256.0,
          -1.0, 65535.7, 65536.0, -32768.9, 2.0**31, -2.0**31 - 1.5, 3e9, -3e9, 2.0**32,
          2.0**53 + 2, 9.2e18, 2.0**63, -2.0**63, -9.3e18, 1e19, 2.0**64, -1e19, 1e300,
          float("inf"), float("-inf"), float("nan")]


def source_values(dtype):
    if dtype == "bool":
        return np.array([False, True])
    if dtype.startswith("float"):
        return np.array(FLOATS, dtype=dtype)
    info = np.iinfo(dtype)
    values = {int(info.min), int(info.min) + 1, -1, 0, 1, 2, 127, 128, 255, 256, 2**24 + 1,
              2**31, 2**53 + 1, 2**63 - 1, 2**64 - 1, int(info.max) - 1, int(info.max)}
    return np.array(sorted(v for v in values if info.min <= v <= info.max), dtype=dtype)


def documented(x, target):
    """outcore's rule for a float that numpy leaves undefined, from Python's own numbers."""
    info = np.iinfo(target)
    if math.isnan(x):
        return 0
    if math.isinf(x):
        return int(info.max) if x > 0 else int(info.min)
    return min(max(math.trunc(x), int(info.min)), int(info.max))


def main():
    warnings.simplefilter("ignore")
    cases = []
    for source in DTYPES:
        x = source_values(source)
        for target in DTYPES:
            with np.errstate(all="ignore"):
                y = x.astype(target)
            undefined = []
            for v in x.tolist():
                float_to_int = isinstance(v, float) and target not in ("bool", "float32", "float64")
                if float_to_int:
                    info = np.iinfo(target)
                    bad = not math.isfinite(v) or not (info.min <= math.trunc(v) <= info.max)
                    undefined.append(repr(documented(v, target)) if bad else None)
                else:
                    undefined.append(None)
            cases.append({
                "source": source,
                "target": target,
                "values": [repr(v) for v in x.tolist()],
                "numpy": [repr(v) for v in y.tolist()],
                "documented": undefined,
            })
    print(json.dumps({"cases": cases}))


main()
