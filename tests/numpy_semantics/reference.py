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

# --- arctan2, hypot, fmod: types, NaN, infinities, broadcasting -----------------------------
specials = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e308, -1e-310, 3.0])
for dt in [np.float64, np.float32]:
    a = np.concatenate([floats((40,), dt), specials.astype(dt)]).reshape(6, 8)
    b = np.concatenate([specials.astype(dt), floats((40,), dt)]).reshape(6, 8)
    name = np.dtype(dt).name
    case(f"arctan2_{name}", "arctan2", [a, b], np.arctan2, ulps=2)
    case(f"hypot_{name}", "hypot", [a, b], np.hypot, ulps=1)
    case(f"fmod_{name}", "fmod", [a, b], np.fmod)
    case(f"arctan2_{name}_row", "arctan2", [a, b[:1]], np.arctan2, ulps=2)
    case(f"fmod_{name}_scalar", "fmod_scalar", [a], lambda x: np.fmod(x, 2.5), {"value": 2.5})
    case(f"fmod_{name}_scalar_sum", "fmod_scalar_sum", [a[:, :4]],
         lambda x: np.fmod(x, 2.5).sum(), {"value": 2.5}, ulps=4)
for dt in [np.int8, np.int32, np.int64, np.uint16]:
    a, b = ints((5, 7), dt, 0 if dt == np.uint16 else -50, 50), ints((5, 7), dt, 0 if dt == np.uint16 else -9, 9)
    name = np.dtype(dt).name
    case(f"fmod_{name}", "fmod", [a, b], np.fmod)
    case(f"fmod_{name}_col", "fmod", [a, b[:, :1]], np.fmod)
    for f in ["bitwise_and", "bitwise_or", "bitwise_xor"]:
        case(f"{f}_{name}", f, [a, b], getattr(np, f))
        case(f"{f}_{name}_scalar", f"{f}_scalar", [a], lambda x, f=f: getattr(np, f)(x, 6), {"value": 6})
    case(f"invert_{name}", "invert", [a], np.invert)
    if dt in (np.int32, np.int64):
        case(f"arctan2_{name}", "arctan2", [a, b], np.arctan2, ulps=2)
        case(f"hypot_{name}", "hypot", [a, b], np.hypot, ulps=1)
case("fmod_int8_int32", "fmod", [ints((9,), np.int8), ints((9,), np.int32, 1, 5)], np.fmod)
case("fmod_bool", "fmod", [np.array([True, False, True]), np.array([True, True, True])], np.fmod)
bools = [rng.random((4, 6)) < 0.5, rng.random((4, 6)) < 0.5]
for f in ["bitwise_and", "bitwise_or", "bitwise_xor"]:
    case(f"{f}_bool", f, bools, getattr(np, f))
    case(f"{f}_bool_int16", f, [bools[0], ints((4, 6), np.int16)], getattr(np, f))
    case(f"{f}_float", f, [floats((3,)), floats((3,))], getattr(np, f))
    case(f"{f}_int_float", f, [ints((3,), np.int32), floats((3,), np.float32)], getattr(np, f))
case("invert_bool", "invert", [bools[0]], np.invert)
case("invert_float", "invert", [floats((3,))], np.invert)

# --- isclose / allclose ------------------------------------------------------------------
x = np.concatenate([floats((30,)), [np.nan, np.nan, np.inf, -np.inf, np.inf, 0.0, 1e-9, 5.0]])
y = x.copy()
y[:30] += rng.standard_normal(30) * np.logspace(-12, 0, 30)
y[30] = 1.0
y[34] = -np.inf
y[36] = 0.0
y[37] = 5.0 + 5e-5
for equal_nan in [False, True]:
    for (rtol, atol) in [(1e-5, 1e-8), (1e-9, 0.0), (0.0, 1e-3)]:
        p = {"rtol": rtol, "atol": atol, "equal_nan": equal_nan}
        tag = f"{rtol}_{atol}_{equal_nan}"
        case(f"isclose_{tag}", "isclose", [x, y], lambda a, b, p=p: np.isclose(a, b, **p), p)
        case(f"allclose_{tag}", "allclose", [x, y], lambda a, b, p=p: np.allclose(a, b, **p), p)
        case(f"allclose_self_{tag}", "allclose", [x, x], lambda a, b, p=p: np.allclose(a, b, **p), p)
    p = {"rtol": 1e-5, "atol": 1e-8, "equal_nan": equal_nan}
    case(f"isclose_f32_f64_{equal_nan}", "isclose", [x.astype(np.float32), y],
         lambda a, b, p=p: np.isclose(a, b, **p), p)
    case(f"isclose_f64_f32_{equal_nan}", "isclose", [x, y.astype(np.float32)],
         lambda a, b, p=p: np.isclose(a, b, **p), p)
    case(f"isclose_f32_{equal_nan}", "isclose", [x.astype(np.float32), y.astype(np.float32)],
         lambda a, b, p=p: np.isclose(a, b, **p), p)
    case(f"isclose_int_{equal_nan}", "isclose", [ints((4, 5), np.int64), ints((5,), np.int8)],
         lambda a, b, p=p: np.isclose(a, b, **p), p)
    for value in [5.0, np.nan, np.inf, 3]:
        # The value as text: JSON has no NaN or infinities.
        q = dict(p, value=str(value))
        case(f"isclose_scalar_{value}_{equal_nan}", "isclose_scalar", [x.astype(np.float32)],
             lambda a, v=value: np.isclose(a, v, rtol=p["rtol"], atol=p["atol"],
                                           equal_nan=p["equal_nan"]), q)

# --- ptp and average -----------------------------------------------------------------------
for name, a in [("float64", floats((6, 7, 5))), ("float32", floats((6, 7, 5), np.float32)),
                ("int8", ints((6, 7, 5), np.int8, -128, 128)), ("uint8", ints((6, 7, 5), np.uint8, 0, 256)),
                ("nan", floats((6, 7, 5), nan=0.05))]:
    for axes in [None, [0], [1, 2], [-1]]:
        case(f"ptp_{name}_{axes}", "ptp", [a], lambda x, ax=axes: np.ptp(x, axis=None if ax is None else tuple(ax)),
             {"axes": axes})
case("ptp_bool", "ptp", [rng.random(5) < 0.5], np.ptp, {"axes": None})
# Positive values: a sum that cancels would make the engine's summation order (pairwise, not
# numpy's row by row) show as many ulps of a small result.
a = rng.random((6, 7, 5)) * 10 + 1
w_full = rng.random((6, 7, 5))
for axes in [None, [0], [1, 2], [2, 0]]:
    ax = None if axes is None else tuple(axes)
    case(f"average_{axes}", "average", [a], lambda x, ax=ax: np.average(x, axis=ax), {"axes": axes}, ulps=4)
    case(f"average_full_{axes}", "average_weighted", [a, w_full],
         lambda x, w, ax=ax: np.average(x, axis=ax, weights=w), {"axes": axes}, ulps=4)
    if axes is not None:
        w = rng.random(tuple(a.shape[i] for i in axes))
        case(f"average_along_{axes}", "average_weighted", [a, w],
             lambda x, w, ax=ax: np.average(x, axis=ax, weights=w), {"axes": axes}, ulps=4)
ia = ints((6, 7), np.int32)
case("average_int_int_weights", "average_weighted", [ia, ints((7,), np.int16, 1, 5)],
     lambda x, w: np.average(x, axis=1, weights=w), {"axes": [1]}, ulps=4)
case("average_f32_f32_weights", "average_weighted", [ia.astype(np.float32), rng.random(6).astype(np.float32)],
     lambda x, w: np.average(x, axis=0, weights=w), {"axes": [0]}, ulps=4)
case("average_int", "average", [ia], lambda x: np.average(x, axis=0), {"axes": [0]}, ulps=4)
case("average_bad_weights", "average_weighted", [a, rng.random(4)],
     lambda x, w: np.average(x, axis=1, weights=w), {"axes": [1]})
case("average_weights_need_axes", "average_weighted", [a, rng.random(5)],
     lambda x, w: np.average(x, weights=w), {"axes": None})

# --- take and compress ---------------------------------------------------------------------
a = floats((9, 8, 7), nan=0.05)
for axis in [0, 1, -1]:
    n = a.shape[axis]
    for tag, idx in [("runs", [0, 1, 2, 5, 4, 3, n - 1]), ("negative", [-1, -n, 2, -3]),
                     ("repeats", [3, 3, 3, 0, 0]), ("stride", list(range(0, n, 3))), ("empty", []),
                     ("random", list(rng.integers(-n, n, 2 * n))), ("out_of_range", [0, n]),
                     ("out_of_range_negative", [-n - 1])]:
        idx = [int(i) for i in idx]
        case(f"take_{tag}_{axis}", "take", [a], lambda x, i=idx, ax=axis: np.take(x, i, axis=ax),
             {"indices": idx, "axis": axis})
    mask = rng.random(n) < 0.5
    case(f"compress_{axis}", "compress", [a], lambda x, m=mask, ax=axis: np.compress(m, x, axis=ax),
         {"mask": [bool(v) for v in mask], "axis": axis})
    case(f"compress_array_{axis}", "compress_array", [a, mask.astype(np.int8)],
         lambda x, m, ax=axis: np.compress(m, x, axis=ax), {"axis": axis})
    short = [True, False, True]
    case(f"compress_short_{axis}", "compress", [a], lambda x, m=short, ax=axis: np.compress(m, x, axis=ax),
         {"mask": short, "axis": axis})
    long = [False] * n + [True]
    case(f"compress_long_{axis}", "compress", [a], lambda x, m=long, ax=axis: np.compress(m, x, axis=ax),
         {"mask": long, "axis": axis})
    idx = rng.integers(-n, n, 11).astype(np.int32)
    case(f"take_array_{axis}", "take_array", [a, idx], lambda x, i, ax=axis: np.take(x, i, axis=ax),
         {"axis": axis})
case("take_array_float", "take_array", [a, np.array([1.0, 2.0])], lambda x, i: np.take(x, i, axis=0),
     {"axis": 0})
case("take_int16_sum", "take_sum", [ints((50, 6), np.int16)],
     lambda x: np.take(x, [4, 5, 6, 40, 3, -1], axis=0).sum(axis=0), {"indices": [4, 5, 6, 40, 3, -1], "axis": 0})

json.dump(cases, open(f"{out}/manifest.json", "w"), indent=1)
