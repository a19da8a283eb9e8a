"""numpy 2's answers for integer arrays mixed with Python ints of every width (NEP 50).

Prints one JSON object: `cases`, each an operation of a small array of one dtype with a
Python int on either side, with numpy's result (values and dtype) or the name of the
exception numpy raises. Used by `tests/numpy_gaps.rs`.
"""

import json
import operator
import warnings

import numpy as np

DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
          "uint64", "float32", "float64"]
VALUES = [0, 1, -1, 127, 128, 255, 256, 300, -129, 2**31, 2**32 - 1, 2**63 - 1, 2**63,
          2**64 - 1, -2**63]
OPS = {
    "eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le,
    "gt": operator.gt, "ge": operator.ge, "add": operator.add, "sub": operator.sub,
    "mul": operator.mul, "maximum": np.maximum,
}


def sample(dtype):
    if dtype == "bool":
        return [False, True]
    if dtype.startswith("float"):
        return [-2.5, 0.0, 1.0, 3e9]
    info = np.iinfo(dtype)
    return sorted({int(info.min), int(info.min) + 1, 0, 1, 2, int(info.max) - 1, int(info.max)})


def main():
    warnings.simplefilter("ignore")
    cases = []
    for dtype in DTYPES:
        x = np.array(sample(dtype), dtype=dtype)
        for value in VALUES:
            for name, op in OPS.items():
                for scalar_left in (False, True):
                    case = {"dtype": dtype, "array": x.tolist(), "value": value, "op": name,
                            "scalar_left": scalar_left}
                    try:
                        with np.errstate(all="ignore"):
                            r = op(value, x) if scalar_left else op(x, value)
                        case["result"] = r.tolist()
                        case["result_dtype"] = str(r.dtype)
                    except (OverflowError, TypeError) as e:
                        case["error"] = type(e).__name__
                    cases.append(case)
    print(json.dumps({"cases": cases}))


main()
