"""The Python peers of the benchmark: one workload of one tool in this process.

harness.py starts this script once per measurement, so every run is a fresh process:

    python peers.py run TOOL WORKLOAD PATH [--key KEY] [--out OUT]
                                               one JSON line: {"value": ..., "seconds": ...}
    python peers.py make-blosc2 NPY OUT CHUNKS BLOCKS
                                               write a b2nd file (zstd 1 + shuffle) from .npy

The time covers opening the data and computing the result, not importing the libraries (they
are imported before the clock starts). A workload a tool has no operation for is reported as
{"unsupported": true} rather than emulated. Each tool is a table: how to open PATH, and one
function per workload over the opened object, written the way a user of that tool would.

The keyed workloads (KEYED) also open KEY, the int8 group key of every element of PATH in C
order, and get (x, key). The writing workloads (WRITING) get (x, OUT), write their result to
OUT, a path that does not exist yet, and return it opened; sampled values of it (rows 0,
rows // 2 and the last, every 64th column) are read back after the clock stops and printed
as the value.
"""

import json
import math
import os
import sys
import time

# Distinct group keys (0..CATEGORIES), as `peer make` draws them.
CATEGORIES = 5
# Bins of the hist100 workload.
BINS = 100
# Every how many columns the output of a writing workload is sampled.
SAMPLE_STEP = 64
KEYED = {"group_mean", "sum_both"}
WRITING = {"cumsum_store", "convert"}


def numpy_tool():
    """numpy.memmap of the raw little-endian bytes (an .npy file): plain numpy calls."""
    import numpy as np

    def open_(path):
        return np.load(path, mmap_mode="r")

    def write(compute):
        """A writing workload: a new .npy file shaped like the input, filled by
        `compute(m, out)` through its memory map, flushed."""

        def workload(m, path):
            out = np.lib.format.open_memmap(path, mode="w+", dtype=m.dtype, shape=m.shape)
            compute(m, out)
            out.flush()
            return out

        return workload

    def group_mean(m, key):
        # bincount wants non-negative integers: it converts the int8 keys to intp first.
        sums = np.bincount(key, weights=m.ravel(), minlength=CATEGORIES)
        return sums / np.bincount(key, minlength=CATEGORIES)

    def assign(m, out):
        out[...] = m

    return open_, {
        "sum": np.sum,
        # numpy is eager: slicing first reads only the 3 columns (x.mean(0)[:3] reads all).
        "mean_axis0_3": lambda m: m[:, :3].mean(axis=0),
        "nanmean": np.nanmean,
        "nanmax": np.nanmax,
        "std": np.std,
        "sqdev_mean": lambda m: ((m - 15) ** 2).mean(),
        "group_mean": group_mean,
        "sum_both": lambda m, key: m.sum() + key.sum(),
        # np.median partitions a copy of the data in memory.
        "median": np.median,
        # The range is the data's [min, max] (two more passes), then bins in blocks.
        "hist100": lambda m: np.histogram(m, BINS)[0],
        "cumsum_store": write(lambda m, out: np.cumsum(m, axis=0, out=out)),
        "convert": write(assign),
    }


def pandas_tool():
    """pandas in memory: the .npy files loaded whole, a DataFrame of the values (raveled)
    and their keys."""
    import numpy as np
    import pandas as pd

    def frame(m, key):
        return pd.DataFrame({"x": m.ravel(), "key": key})

    return np.load, {
        "group_mean": lambda m, key: frame(m, key).groupby("key").x.mean().to_numpy(),
        "sum_both": lambda m, key: frame(m, key).sum().sum(),
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
    """dask.array over the outcore store through zarr-python, default threaded scheduler;
    the grouped mean in dask.dataframe, over a frame made from the same arrays."""
    import dask.array as da
    import dask.dataframe as dd
    import zarr

    open_zarr = zarr_opener(zarr)
    # The zarr array under each opened dask array, by the dask array's name.
    sources = {}

    def open_(path):
        z = open_zarr(path)
        x = da.from_zarr(z, chunks=dask_chunks(z))
        sources[x.name] = z
        return x

    def group_mean(x, key):
        # ravel() joins each shard's column chunks into whole rows; the keys' chunks then hold
        # the same elements as the values', so the two columns line up partition by partition.
        frame = dd.from_dask_array(x.ravel(), columns="x").to_frame()
        frame["key"] = dd.from_dask_array(key, columns="key")
        return frame.groupby("key").x.mean().compute().sort_index().to_numpy()

    def hist100(x):
        # da.histogram needs the range up front: the data's min and max, in one pass.
        lo, hi = da.compute(x.min(), x.max())
        counts, _ = da.histogram(x, bins=BINS, range=(lo, hi))
        return counts.compute()

    def write(expression):
        """A writing workload: `expression(x)` stored as a Zarr v3 array at the path, chunked
        and sharded like the input, zstd level 1 (each dask task writes whole shards)."""

        def workload(x, path):
            z = sources[x.name]
            y = expression(x)
            target = zarr.create_array(
                path,
                shape=y.shape,
                dtype=y.dtype,
                chunks=z.chunks,
                shards=z.shards,
                compressors=zarr.codecs.ZstdCodec(level=1),
            )
            y.to_zarr(target)
            return zarr.open_array(path, mode="r")

        return workload

    return open_, {
        "sum": lambda x: x.sum().compute(),
        "mean_axis0_3": lambda x: x.mean(axis=0)[:3].compute(),
        "nanmean": lambda x: da.nanmean(x).compute(),
        "nanmax": lambda x: da.nanmax(x).compute(),
        "std": lambda x: x.std().compute(),
        "sqdev_mean": lambda x: ((x - 15) ** 2).mean().compute(),
        "group_mean": group_mean,
        "sum_both": lambda x, key: (x.sum() + key.sum()).compute(),
        # Approximate: per-chunk percentiles merged (da.percentile works on 1-d arrays).
        "median": lambda x: da.percentile(x.ravel(), [50]).compute()[0],
        "hist100": hist100,
        "cumsum_store": write(lambda x: da.cumsum(x, axis=0)),
        "convert": write(lambda x: x),
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
    "pandas": pandas_tool,
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


def samples(y):
    """Rows 0, rows // 2 and the last of a written 2-d array, every SAMPLE_STEP-th column."""
    import numpy as np

    rows = y.shape[0]
    return np.stack([np.asarray(y[r]) for r in (0, rows // 2, rows - 1)])[:, ::SAMPLE_STEP]


def run(tool, workload, path, key=None, out=None):
    """Times one workload of one tool over PATH (and KEY, or writing OUT) and prints the JSON
    line."""
    if tool not in TOOLS:
        raise SystemExit(f"peers.py: unknown tool {tool!r} (one of {', '.join(TOOLS)})")
    open_, workloads = TOOLS[tool]()
    if workload not in workloads:
        print(json.dumps({"unsupported": True}))
        return
    needed = [path] + ([key] if workload in KEYED else [])
    for name in needed:
        if name is None:
            raise SystemExit(f"peers.py: {workload} needs --key")
        if not os.path.exists(name):
            raise SystemExit(f"peers.py: {name}: no such file or directory")
    if workload in WRITING:
        if out is None:
            raise SystemExit(f"peers.py: {workload} needs --out")
        if os.path.exists(out):
            raise SystemExit(f"peers.py: {out}: exists already")
    start = time.perf_counter()
    x = open_(path)
    if workload in KEYED:
        value = workloads[workload](x, open_(key))
    elif workload in WRITING:
        value = workloads[workload](x, out)
    else:
        value = workloads[workload](x)
    seconds = time.perf_counter() - start
    if workload in WRITING:
        value = samples(value)
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
    if len(argv) >= 4 and argv[0] == "run":
        options = {}
        rest = argv[4:]
        while rest:
            if len(rest) < 2 or rest[0] not in ("--key", "--out"):
                raise SystemExit(__doc__)
            options[rest[0][2:]] = rest[1]
            rest = rest[2:]
        run(*argv[1:4], **options)
    elif len(argv) == 5 and argv[0] == "make-blosc2":
        make_blosc2(argv[1], argv[2], shape_arg(argv[3]), shape_arg(argv[4]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
