"""numpy's basic indexing over random slices, for `tests/numpy_gaps.rs`.

Prints one JSON object: `cases`, each an array `np.arange(prod(shape)).reshape(shape)`, an
index (a list of entries: `{"slice": [start, stop, step]}` with `null` for an omitted part,
`{"index": i}`, `"newaxis"` or `"ellipsis"`) and numpy's result (flat values and shape), or
the name of the exception numpy raises. Starts and stops range past both ends; steps are
small, large, negative and zero.
"""

import json
import random

import numpy as np

SHAPES_1D = [(0,), (1,), (2,), (5,), (10,), (17,)]
SHAPES_2D = [(6, 9), (1, 4), (0, 3), (7, 1)]


def bound(rng, n):
    if rng.random() < 0.25:
        return None
    return rng.randint(-n - 4, n + 4)


def step(rng):
    r = rng.random()
    if r < 0.2:
        return None
    if r < 0.23:
        return 0
    return rng.choice([-1, -1, -2, -3, -7, -100, 1, 2, 3, 5, 100])


def entry(rng, n):
    r = rng.random()
    if r < 0.8:
        return {"slice": [bound(rng, n), bound(rng, n), step(rng)]}
    return {"index": rng.randint(-n - 2, n + 1)}


def to_numpy(entries):
    out = []
    for e in entries:
        if e == "newaxis":
            out.append(np.newaxis)
        elif e == "ellipsis":
            out.append(Ellipsis)
        elif "slice" in e:
            out.append(slice(*e["slice"]))
        else:
            out.append(e["index"])
    return tuple(out)


def case(shape, entries):
    x = np.arange(int(np.prod(shape))).reshape(shape)
    c = {"shape": list(shape), "index": entries}
    try:
        r = x[to_numpy(entries)]
        c["result"] = r.ravel().tolist()
        c["result_shape"] = list(r.shape)
    except (IndexError, ValueError) as e:
        c["error"] = type(e).__name__
    return c


def main():
    rng = random.Random(20261203)
    cases = []
    for shape in SHAPES_1D:
        for _ in range(300):
            cases.append(case(shape, [entry(rng, shape[0])]))
    for shape in SHAPES_2D:
        for _ in range(300):
            entries = [entry(rng, shape[0]), entry(rng, shape[1])]
            extra = rng.random()
            if extra < 0.15:
                entries.insert(rng.randint(0, 2), "newaxis")
            elif extra < 0.3:
                entries[rng.randint(0, 1)] = "ellipsis"
            elif extra < 0.4:
                entries.pop()
            cases.append(case(shape, entries))
    print(json.dumps({"cases": cases}))


main()
