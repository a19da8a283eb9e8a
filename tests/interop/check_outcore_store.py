#!/usr/bin/env python3
"""Check that a Zarr store (e.g. one written by outcore) reads correctly with
zarr-python 3 and tensorstore.

Usage: check_outcore_store.py STORE_DIR MANIFEST_JSON

MANIFEST_JSON is a JSON list (or {"arrays": [...]}) of entries:
  {"array": "<path inside the store>", "expected": "<.npy path>", "dtype": "float64", "shape": [..]}
optionally with
  "store": "<subdirectory of STORE_DIR holding the store root>"  (as in tests/golden/manifest.json)
  "zarr_format": 2 | 3   (default: detected from zarr.json / .zarray)

A relative "expected" path is resolved against the manifest's directory, then STORE_DIR,
then the current directory.

For every store root: zarr.open_group(root).members(max_depth=None) must list every
manifest array as an array. For every array and reader (zarr-python, tensorstore) the data
must equal the expected .npy exactly (dtype, shape, values; NaN == NaN for floats).

Prints one line per check, "ok ..." or "MISMATCH ...", then a summary line
"N passed, M failed". Exit status: 0 if everything matched, 1 otherwise, 2 on bad usage.
Exceptions are printed with the last traceback frames; set INTEROP_VERBOSE=1 for full ones.
"""

import json
import os
import sys
import traceback

import warnings

import numpy as np

# Non-Zarr files in a group directory (e.g. expected/ or manifest.json written next to the
# store) make zarr-python warn while listing members; they are not an error.
warnings.filterwarnings("ignore", message=r".*is not recognized as a component of a Zarr hierarchy")


def resolve_expected(path, manifest_dir, store_dir):
    if os.path.isabs(path):
        return path
    for base in (manifest_dir, store_dir, os.getcwd()):
        cand = os.path.join(base, path)
        if os.path.exists(cand):
            return cand
    return os.path.join(manifest_dir, path)


def detect_format(array_dir):
    if os.path.exists(os.path.join(array_dir, "zarr.json")):
        return 3
    if os.path.exists(os.path.join(array_dir, ".zarray")):
        return 2
    raise FileNotFoundError(f"no zarr.json or .zarray in {array_dir}")


def read_zarr_python(root, array, zarr_format):
    import zarr

    return zarr.open_array(root, path=array, mode="r", zarr_format=zarr_format)[...]


def read_tensorstore(root, array, zarr_format):
    import tensorstore as ts

    driver = "zarr3" if zarr_format == 3 else "zarr"
    spec = {"driver": driver, "kvstore": {"driver": "file", "path": os.path.join(root, array)}}
    return ts.open(spec, read=True).result().read().result()


READERS = [("zarr-python", read_zarr_python), ("tensorstore", read_tensorstore)]


def compare(got, expected):
    """Return None if equal, else a short description of the difference."""
    got = np.asarray(got)
    if got.dtype != expected.dtype:
        return f"dtype {got.dtype} != expected {expected.dtype}"
    if got.shape != expected.shape:
        return f"shape {got.shape} != expected {expected.shape}"
    nan_aware = expected.dtype.kind in "fc"
    if np.array_equal(got, expected, equal_nan=nan_aware):
        return None
    if nan_aware:
        diff = ~((got == expected) | (np.isnan(got) & np.isnan(expected)))
    else:
        diff = got != expected
    idx = np.argwhere(diff)
    first = tuple(int(i) for i in idx[0])
    return (f"{len(idx)} of {expected.size} elements differ; first at {list(first)}: "
            f"got {got[first]!r}, expected {expected[first]!r}")


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    store_dir, manifest_path = argv[1], argv[2]
    manifest_dir = os.path.dirname(os.path.abspath(manifest_path))
    with open(manifest_path) as f:
        manifest = json.load(f)
    if isinstance(manifest, dict):
        manifest = manifest["arrays"]
    if not manifest:
        print(f"MISMATCH manifest {manifest_path} lists no arrays")
        return 1

    passed = failed = 0

    def ok(msg):
        nonlocal passed
        passed += 1
        print(f"ok {msg}", flush=True)

    def bad(msg, exc=None):
        nonlocal failed
        failed += 1
        print(f"MISMATCH {msg}", flush=True)
        if exc is not None:
            # Full traceback only on request; the last frames + message are usually enough.
            limit = None if os.environ.get("INTEROP_VERBOSE") else -3
            tb = "".join(traceback.format_exception(exc, limit=limit)).rstrip()
            print("    " + tb.replace("\n", "\n    "), flush=True)

    # Group listing: every array in the manifest must be visible through the hierarchy.
    roots = {}
    for e in manifest:
        roots.setdefault(e.get("store", ""), []).append(e["array"].strip("/"))
    for store, arrays in roots.items():
        root = os.path.join(store_dir, store) if store else store_dir
        label = store or store_dir
        try:
            import zarr

            members = dict(zarr.open_group(root, mode="r").members(max_depth=None))
            missing = [a for a in arrays if not isinstance(members.get(a), zarr.Array)]
            if missing:
                bad(f"zarr-python-group {label}: arrays not listed as group members: {missing} "
                    f"(members: {sorted(members)})")
            else:
                ok(f"zarr-python-group {label} ({len(arrays)} arrays listed)")
        except Exception as exc:  # noqa: BLE001
            bad(f"zarr-python-group {label}: exception", exc)

    for e in manifest:
        array = e["array"].strip("/")
        store = e.get("store", "")
        root = os.path.join(store_dir, store) if store else store_dir
        name = f"{store}/{array}" if store else array
        try:
            expected = np.load(resolve_expected(e["expected"], manifest_dir, store_dir), allow_pickle=False)
            zarr_format = e.get("zarr_format") or detect_format(os.path.join(root, array))
        except Exception as exc:  # noqa: BLE001
            bad(f"expected {name}: cannot load expected data / metadata", exc)
            continue
        problems = []
        if "dtype" in e and np.dtype(e["dtype"]) != expected.dtype:
            problems.append(f"manifest dtype {e['dtype']} != expected .npy dtype {expected.dtype}")
        if "shape" in e and tuple(e["shape"]) != expected.shape:
            problems.append(f"manifest shape {e['shape']} != expected .npy shape {list(expected.shape)}")
        if problems:
            bad(f"manifest {name}: " + "; ".join(problems))
        for reader, read in READERS:
            try:
                why = compare(read(root, array, zarr_format), expected)
            except Exception as exc:  # noqa: BLE001
                bad(f"{reader} {name}: exception", exc)
                continue
            if why is None:
                ok(f"{reader} {name}")
            else:
                bad(f"{reader} {name}: {why}")

    print(f"{passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
