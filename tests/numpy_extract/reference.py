"""Writes the inputs and numpy's answers for tests/numpy_extract.rs.

Usage: reference.py OUTDIR. Each case saves `x` (and, for a mask given by its values, the
mask) as .npy files, and numpy's `x[mask]`, its dtype and shape, the dtype and value of its
sum (and its largest value when it has one) go into OUTDIR/manifest.json. A mask given as an
expression (`mask.op`) is rebuilt by outcore from `x` the same way numpy builds it here. A
case with `error` is one where numpy raises.
"""

import json
import sys
import warnings

import numpy as np

warnings.simplefilter("ignore")

out = sys.argv[1]
rng = np.random.default_rng(20261204)
cases = []


def save(name, array):
    np.save(f"{out}/{name}.npy", np.ascontiguousarray(array))
    return f"{name}.npy"


def scalar_json(value):
    """A numpy scalar as JSON: the exact value as text for floats (repr round-trips)."""
    value = value.item()
    return repr(value) if isinstance(value, float) else value


def case(name, x, mask, mask_spec=None):
    """numpy's `x[mask]`; `mask_spec` says how outcore makes the mask from `x` (by default it
    reads the mask's values from a file)."""
    entry = {"name": name, "x": save(f"{name}_x", x)}
    entry["mask"] = mask_spec or {"op": "file", "file": save(f"{name}_mask", mask)}
    try:
        result = x[mask]
    except IndexError as e:  # numpy's refusal is the expected answer
        entry["error"] = f"IndexError: {e}"
        cases.append(entry)
        return
    assert np.array_equal(result, np.extract(mask, x), equal_nan=result.dtype.kind == "f")
    entry["expect"] = save(f"{name}_out", result)
    entry["dtype"] = str(result.dtype)
    entry["shape"] = list(result.shape)
    total = result.sum()
    entry["sum_dtype"] = str(total.dtype)
    entry["sum"] = scalar_json(total)
    # The scale of the sum's rounding errors.
    entry["sum_scale"] = float(np.nansum(np.abs(result.astype(np.float64))))
    entry["max"] = scalar_json(result.max()) if result.size else None
    cases.append(entry)


def floats(shape, dtype=np.float64, nan=0.0):
    x = (rng.standard_normal(shape) * 10.0).astype(dtype)
    x[rng.random(shape) < nan] = np.nan
    return x


def ints(shape, dtype, low=-20, high=20):
    return rng.integers(low, high, size=shape).astype(dtype)


def random_mask(shape, p):
    return rng.random(shape) < p


# --- Masks given by their values ----------------------------------------------------------
x = floats(1000)
case("1d_float64", x, random_mask(x.shape, 0.3))
x = floats((37, 53), np.float32, nan=0.05)
case("2d_float32_nan", x, random_mask(x.shape, 0.5))
x = ints((5, 9, 8), np.uint8, 0, 250)
case("3d_uint8", x, random_mask(x.shape, 0.6))
x = ints((4, 5, 6), np.int16)
case("3d_int16_all_true", x, np.ones(x.shape, bool))
x = floats((13, 17))
case("2d_float64_all_false", x, np.zeros(x.shape, bool))
x = floats(0)
case("1d_empty", x, np.zeros(0, bool))
x = ints((11, 7), np.int64) > 0
case("2d_bool_values", x, random_mask(x.shape, 0.5))
# A few true values far apart: most blocks hold none.
x = ints(5000, np.int32)
mask = np.zeros(x.shape, bool)
mask[[3, 2400, 2401, 2402, 4999]] = True
case("1d_int32_sparse", x, mask)
# Large enough for many blocks of the result under every chunking.
x = floats(200_000)
case("1d_float64_large", x, random_mask(x.shape, 0.5))

# --- Masks made from x by an expression ---------------------------------------------------
x = ints(777, np.int32)
case("1d_int32_greater", x, x > 5, {"op": "greater", "value": 5})
x = ints((300, 70), np.int32, -1000, 1000)
case("2d_int32_greater", x, x > 100, {"op": "greater", "value": 100})
x = ints((40, 25), np.int64)
case("2d_int64_between", x, (x > -5) & (x < 7), {"op": "between", "low": -5, "high": 7})
x = floats((6, 7, 11))
case("3d_float64_above_mean", x, x > x.mean(), {"op": "above_mean"})
x = floats((9, 10, 12), np.float32, nan=0.1)
case("3d_float32_greater", x, x > np.float32(2.5), {"op": "greater", "value": 2.5})

# --- numpy's refusals -----------------------------------------------------------------------
x = floats((6, 8))
case("shape_mismatch", x, np.ones((6, 7), bool))
case("shape_transposed", x, np.ones((8, 6), bool))

with open(f"{out}/manifest.json", "w") as f:
    json.dump(cases, f, allow_nan=False)
