"""Writes the inputs and numpy's answers for tests/numpy_semantics.rs.

Usage: reference.py OUTDIR. Each case's inputs are saved as .npy files, numpy computes the
case, and its result (or the error numpy raises) goes into OUTDIR/manifest.json with the
result's dtype. The Rust test builds the same expression with outcore, computes it and
compares: bit for bit when `ulps` is 0, otherwise within that many units in the last place.
"""

import json
import sys
import warnings

import numpy as np

warnings.simplefilter("ignore")

out = sys.argv[1]
rng = np.random.default_rng(20261203)
cases = []


def save(name, array):
    np.save(f"{out}/{name}.npy", np.ascontiguousarray(array))
    return f"{name}.npy"


def case(name, op, inputs, fn, params=None, ulps=0):
    """One case: `fn(*inputs)` is numpy's answer for outcore's `op` with `params`."""
    entry = {
        "name": name,
        "op": op,
        "inputs": [save(f"{name}_in{i}", np.asarray(a)) for i, a in enumerate(inputs)],
        "params": params or {},
        "ulps": ulps,
    }
    try:
        with np.errstate(all="ignore"):
            result = np.asarray(fn(*inputs))
        entry["expect"] = save(f"{name}_out", result)
        entry["dtype"] = str(result.dtype)
        entry["shape"] = list(result.shape)
    except Exception as e:  # numpy's refusal is the expected answer
        entry["error"] = f"{type(e).__name__}: {e}"
    cases.append(entry)


def floats(shape, dtype=np.float64, nan=0.0, scale=10.0):
    x = (rng.standard_normal(shape) * scale).astype(dtype)
    x[rng.random(shape) < nan] = np.nan
    return x


def ints(shape, dtype, low=-20, high=20):
    return rng.integers(low, high, size=shape).astype(dtype)


# --- Integers to negative integer powers are refused -------------------------------------
base = ints((7, 9), np.int32, -5, 6)
exps = ints((7, 9), np.int32, 0, 4)
case("pow_int_nonnegative", "pow", [base, exps], lambda a, b: a**b)
neg = exps.copy()
neg[5, 7] = -2
case("pow_int_negative_array", "pow", [base, neg], lambda a, b: a**b,
     {"message": "integers to negative integer powers are not allowed"})
case("pow_int_negative_array_sum", "pow_sum", [base, neg], lambda a, b: (a**b).sum(),
     {"message": "integers to negative integer powers are not allowed"})
case("pow_int_negative_scalar", "pow_scalar", [base], lambda a: a**-1,
     {"exponent": -1, "message": "integers to negative integer powers are not allowed"})
case("pow_bool_negative_scalar", "pow_scalar", [base > 0], lambda a: a**-1,
     {"exponent": -1, "message": "integers to negative integer powers are not allowed"})
case("pow_int_scalar_sum", "pow_scalar_sum", [ints((50, 40), np.int64, -3, 4)],
     lambda a: (a**3).sum(), {"exponent": 3})
case("pow_float_negative", "pow", [floats((6, 5)), ints((6, 5), np.int64, -3, 3)],
     lambda a, b: a**b, ulps=1)

# --- nanvar / nanstd with ddof >= the count of non-NaN values give NaN --------------------
x = floats((8, 5), nan=0.0)
x[0, :] = np.nan
x[1, 1:] = np.nan  # one value left
x[2, 2:] = np.nan  # two values left
x[3, 0] = np.nan
few = floats((3,), nan=0.0)
few[1] = np.nan
for ddof in [0.0, 1.0, 2.0, 3.5]:
    for fn in ["var", "std", "nanvar", "nanstd"]:
        case(f"{fn}_ddof{ddof}_axis1", fn, [x], lambda a, f=fn, d=ddof: getattr(np, f)(a, axis=1, ddof=d),
             {"axes": [1], "ddof": ddof}, ulps=4)
        # Whole-array reductions over a stored array, answered from the sidecar or by scanning.
        case(f"{fn}_ddof{ddof}_stored", f"{fn}_stored", [few],
             lambda a, f=fn, d=ddof: getattr(np, f)(a, ddof=d), {"ddof": ddof}, ulps=4)

# --- sign of a bool array is refused ------------------------------------------------------
case("sign_bool", "sign", [np.array([True, False, True])], np.sign,
     {"message": "sign of a bool array"})
case("sign_int8", "sign", [ints((11,), np.int8)], np.sign)
case("sign_float", "sign", [np.array([-2.0, -0.0, 0.0, 3.0, np.nan, -np.inf])], np.sign)

json.dump(cases, open(f"{out}/manifest.json", "w"), indent=1)
