"""The Python peers of the benchmark: one workload of one tool in this process.

harness.py starts this script once per measurement, so every run is a fresh process:

    python peers.py run TOOL WORKLOAD PATH     one JSON line: {"value": ..., "seconds": ...}
    python peers.py make-blosc2 NPY OUT CHUNKS BLOCKS
                                               write a b2nd file (zstd 1 + shuffle) from .npy

The time covers opening the data and computing the result, not importing the libraries (they
are imported before the clock starts). A workload a tool has no operation for is reported as
{"unsupported": true} rather than emulated. Each tool is a table: how to open PATH, and one
function per workload over the opened object, written the way a user of that tool would.
"""

import json
import math
import os
import sys
import time


def numpy_tool():
    """numpy.memmap of the raw little-endian bytes (an .npy file): plain numpy calls."""
    import numpy as np

    def open_(path):
        return np.load(path, mmap_mode="r")

    return open_, {
        "sum": np.sum,
        # numpy is eager: slicing first reads only the 3 columns (x.mean(0)[:3] reads all).
        "mean_axis0_3": lambda m: m[:, :3].mean(axis=0),
        "nanmean": np.nanmean,
        "nanmax": np.nanmax,
        "std": np.std,
        "sqdev_mean": lambda m: ((m - 15) ** 2).mean(),
    }


def zarr_opener(zarr):
    """A function opening the zarr-python 3 array at PATH (an array directory inside a
    store) read-only; `zarr` is the module, imported by the caller before the clock starts."""

    def open_(path):
        store, name = os.path.split(os.path.normpath(path))
        return zarr.open_array(store=store, path=name, mode="r")

    return open_


def dask_chunks(z):
    """dask chunks over a sharded Zarr array: whole shards along the rows, inner chunks
    along the columns. Tasks are then a few MiB and read one shard each, and selecting
    columns still culls the tasks that do not hold them (zarr's inner chunks, dask's default
    from_zarr, make tasks of 1 MiB; whole shards make column selections read everything)."""
    shards = z.shards or z.chunks
    return (shards[0],) + tuple(z.chunks[1:])


def dask_tool():
    """dask.array over the outcore store through zarr-python, default threaded scheduler."""
    import dask.array as da
    import zarr

    open_zarr = zarr_opener(zarr)

    def open_(path):
        z = open_zarr(path)
        return da.from_zarr(z, chunks=dask_chunks(z))

    return open_, {
        "sum": lambda x: x.sum().compute(),
        "mean_axis0_3": lambda x: x.mean(axis=0)[:3].compute(),
        "nanmean": lambda x: da.nanmean(x).compute(),
        "nanmax": lambda x: da.nanmax(x).compute(),
        "std": lambda x: x.std().compute(),
        "sqdev_mean": lambda x: ((x - 15) ** 2).mean().compute(),
    }


def zarr_slabs(z):
    """The array read as slabs of whole shards' rows (numpy arrays), one at a time."""
    step = (z.shards or z.chunks)[0]
    for start in range(0, z.shape[0], step):
        yield z[start : start + step]


def fold_slabs(partial, combine):
    """A workload over a zarr array: `partial` of every slab, then `combine` of them all."""
    return lambda z: combine([partial(slab) for slab in zarr_slabs(z)])


def merge_moments(parts):
    """The standard deviation from per-slab (count, mean, M2) (Chan et al.)."""
    n, mean, m2 = parts[0]
    for nb, mb, m2b in parts[1:]:
        delta = mb - mean
        total = n + nb
        mean += delta * nb / total
        m2 += m2b + delta * delta * n * nb / total
        n = total
    return math.sqrt(m2 / n)


def zarr_tool():
    """zarr-python 3 alone: the store read slab by slab, each slab reduced with numpy."""
    import numpy as np
    import zarr

    def mean_of(parts):
        """The mean from per-slab (count, sum)."""
        return sum(p[1] for p in parts) / sum(p[0] for p in parts)

    return zarr_opener(zarr), {
        "sum": fold_slabs(np.sum, sum),
        "mean_axis0_3": lambda z: z[:, :3].mean(axis=0),
        "nanmean": fold_slabs(lambda b: (np.count_nonzero(~np.isnan(b)), np.nansum(b)), mean_of),
        "nanmax": fold_slabs(np.nanmax, max),
        "std": fold_slabs(lambda b: (b.size, b.mean(), b.var() * b.size), merge_moments),
        "sqdev_mean": fold_slabs(lambda b: (b.size, np.sum((b - 15) ** 2)), mean_of),
    }


def blosc2_tool():
    """python-blosc2 over a b2nd file: its own reductions and lazy expressions. It has no
    NaN-aware reductions."""
    import blosc2

    return blosc2.open, {
        "sum": lambda x: x.sum(),
        # Slicing decompresses only the chunks holding the 3 columns, into numpy.
        "mean_axis0_3": lambda x: x[:, :3].mean(axis=0),
        "std": lambda x: x.std(),
        "sqdev_mean": lambda x: ((x - 15) ** 2).mean(),
    }


TOOLS = {
    "numpy": numpy_tool,
    "dask": dask_tool,
    "zarr": zarr_tool,
    "blosc2": blosc2_tool,
}


def plain(value):
    """A result as JSON: a float, or a list of floats (NaN as null)."""
    import numpy as np

    values = np.asarray(value, dtype=np.float64)
    as_json = [None if math.isnan(v) else float(v) for v in values.ravel()]
    return as_json[0] if values.ndim == 0 else as_json


def run(tool, workload, path):
    """Times one workload of one tool over PATH and prints the JSON line."""
    if tool not in TOOLS:
        raise SystemExit(f"peers.py: unknown tool {tool!r} (one of {', '.join(TOOLS)})")
    if not os.path.exists(path):
        raise SystemExit(f"peers.py: {path}: no such file or directory")
    open_, workloads = TOOLS[tool]()
    if workload not in workloads:
        print(json.dumps({"unsupported": True}))
        return
    start = time.perf_counter()
    value = workloads[workload](open_(path))
    seconds = time.perf_counter() - start
    print(json.dumps({"value": plain(value), "seconds": seconds}))


def make_blosc2(npy, out, chunks, blocks):
    """Writes the .npy at NPY as a b2nd file at OUT (zstd level 1, shuffle), chunk by chunk,
    under a temporary name renamed into place when complete; prints its layout as JSON."""
    import blosc2
    import numpy as np

    source = np.load(npy, mmap_mode="r")
    temporary = out + ".partial"
    blosc2.asarray(
        source,
        urlpath=temporary,
        mode="w",
        chunks=chunks,
        blocks=blocks,
        cparams=blosc2.CParams(
            codec=blosc2.Codec.ZSTD, clevel=1, filters=[blosc2.Filter.SHUFFLE]
        ),
    )
    os.replace(temporary, out)
    written = blosc2.open(out)
    print(json.dumps({"chunks": written.chunks, "blocks": written.blocks, "cbytes": written.cbytes}))


def shape_arg(text):
    """`256,512` as a tuple of ints; `auto` as None (blosc2 chooses)."""
    return None if text == "auto" else tuple(int(n) for n in text.split(","))


def main(argv):
    """Dispatches the subcommands."""
    if len(argv) == 4 and argv[0] == "run":
        run(*argv[1:])
    elif len(argv) == 5 and argv[0] == "make-blosc2":
        make_blosc2(argv[1], argv[2], shape_arg(argv[3]), shape_arg(argv[4]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
