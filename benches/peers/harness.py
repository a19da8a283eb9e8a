"""Side-by-side benchmark of outcore against its peers on the same data, in one run.

run.sh builds the outcore runner, installs the peers into .venv and starts this script with
the venv's python. It makes the reference dataset (once per size), then runs every workload
with every tool, each run in a fresh process with the page cache warm, and prints a table
per workload: wall time, peak resident memory, and the ratio of the time to the best peer
on the same kind of storage (compressed or raw). It checks that every tool computed the same
value, and measures the physical limits (summing the mapped raw bytes, decompressing the zstd
chunks, on all cores). Results go to results/latest.json and results/latest.md.

This script uses the standard library only; the peers run in peers.py.
"""

import argparse
import collections
import datetime
import json
import math
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.join(HERE, "peers.py")

# A workload: the dataset it runs on ("clean" or "nan": the NaN-aware workloads run on the copy
# with 1% NaNs, the others on the field itself), what it computes, whether it also reads the
# group keys (`keyed`) or writes a new array (`writes`, the value is then a sample of what was
# written), the tools whose answer is approximate by design (their relative error is
# reported, not checked), and whether answers must be equal (`exact`, counts) rather than
# agree to --rtol.
Workload = collections.namedtuple(
    "Workload",
    "data formula keyed writes approximate exact",
    defaults=(False, False, frozenset(), False),
)

WORKLOADS = {
    "sum": Workload("clean", "x.sum()"),
    "mean_axis0_3": Workload("clean", "x.mean(axis=0)[:3]"),
    "nanmean": Workload("nan", "nanmean(x)"),
    "nanmax": Workload("nan", "nanmax(x)"),
    "std": Workload("clean", "x.std()"),
    "sqdev_mean": Workload("clean", "((x - 15) ** 2).mean()"),
    "group_mean": Workload("clean", "x.ravel() grouped by key, mean", keyed=True),
    "sum_both": Workload("clean", "x.sum() + key.sum()", keyed=True),
    "median": Workload("clean", "median(x)", approximate=frozenset({"dask"})),
    "hist100": Workload("clean", "histogram(x, 100 bins over [min, max]) counts", exact=True),
    "cumsum_store": Workload("clean", "cumsum(x, axis=0) written to a new array", writes=True),
    "convert": Workload("clean", "x written to a new array", writes=True),
}
# Workloads that read the field once and nothing else, so the floor applies to them.
ONE_PASS_OVER_FIELD = {"sum", "nanmean", "nanmax", "std", "sqdev_mean", "median", "hist100"}
# outcore's targets against its own baseline in the same run: (workload, baseline, at most
# this many times the baseline's time).
BASELINE_TARGETS = [
    ("group_mean", "sum_both", 1.3),
    ("median", "sum", 4.0),
    ("hist100", "sum", 1.3),
    ("cumsum_store", "convert", 1.3),
]

def store_array(codec):
    """The input of an outcore-store tool: the store's array of that codec."""

    def path(data, which):
        suffix = {"clean": "", "nan": "_nan", "key": "_key"}[which]
        return os.path.join(data["dir"], data["store"], codec + suffix)

    return path


def npy_file(data, which):
    """The input of numpy.memmap and pandas: the raw little-endian .npy file."""
    return os.path.join(data["dir"], data["npy"][which])


def b2nd_file(data, which):
    """The input of blosc2: the b2nd file the harness writes from the .npy (None for the
    keys: blosc2 runs no keyed workload)."""
    return None if which == "key" else os.path.join(data["dir"], blosc2_name(which))


def blosc2_name(which):
    """The b2nd file name of a dataset."""
    return "field.b2nd" if which == "clean" else "field_nan.b2nd"


# One way a tool runs: its label in the tables, the kind of storage it reads ("compressed" or
# "raw": ratios compare tools on the same kind), its input, a function of (the dataset's
# description, "clean", "nan" or "key") returning the path it reads, and the workloads it is
# measured on (None: all; a tool asked for a workload it has no operation for says so).
Variant = collections.namedtuple("Variant", "label storage input only", defaults=(None,))

TOOLS = {
    "outcore": [
        Variant("outcore zstd", "compressed", store_array("zstd")),
        Variant("outcore raw", "raw", store_array("raw")),
    ],
    "dask": [
        Variant("dask+zarr zstd", "compressed", store_array("zstd")),
        Variant("dask+zarr raw", "raw", store_array("raw")),
    ],
    "zarr": [
        Variant("zarr zstd", "compressed", store_array("zstd")),
        Variant("zarr raw", "raw", store_array("raw")),
    ],
    "blosc2": [Variant("blosc2 zstd+shuffle", "compressed", b2nd_file)],
    "numpy": [Variant("numpy.memmap", "raw", npy_file)],
    # pandas holds everything in memory: it is here for the grouped mean only.
    "pandas": [Variant("pandas", "raw", npy_file, frozenset({"group_mean", "sum_both"}))],
}
OUTCORE = "outcore"
# Agreement is checked against the first of these that ran (plain numpy is the reference).
REFERENCE_ORDER = ["numpy.memmap", "zarr raw", "dask+zarr raw", "outcore raw"]


class HarnessError(Exception):
    """A failure the harness reports in one line (a child failed, data is missing...)."""


def parse_size(text):
    """`4GiB`, `256MiB`, `1G`, `1000000` as bytes (binary and decimal suffixes)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(i?)[bB]?\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"invalid size {text!r} (like 4GiB or 256MiB)")
    number, prefix, binary = m.groups()
    base = 1024 if binary or not prefix else 1000
    power = " kmgt".index(prefix.lower() or " ")
    return int(float(number) * base**power)


def human_bytes(n):
    """Bytes as a short binary size."""
    for unit in ["B", "KiB", "MiB", "GiB", "TiB"]:
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024


def run_child(argv):
    """Runs `argv` to completion in a fresh process; returns (the last JSON line it printed,
    its peak RSS in bytes). Peak RSS is the child's own `ru_maxrss` (KiB on Linux) from
    `os.wait4`, so it counts the child alone, mapped file pages included."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(argv, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    command = " ".join(os.path.basename(a) if i == 0 else a for i, a in enumerate(argv))
    if proc.returncode != 0:
        last = stderr.strip().splitlines()[-1:] or ["no message"]
        raise HarnessError(f"`{command}` failed (exit status {proc.returncode}): {last[0]}")
    lines = [line for line in stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise HarnessError(f"`{command}` printed no result")
    return json.loads(lines[-1]), usage.ru_maxrss * 1024


def files_under(path):
    """PATH itself if it is a file, else every file below it."""
    if os.path.isfile(path):
        return [path]
    return [os.path.join(d, f) for d, _, names in os.walk(path) for f in sorted(names)]


def warm(paths):
    """Reads every file under PATHS once, so the runs that follow find them in the page
    cache (as a dataset in use is)."""
    buffer = bytearray(1 << 20)
    for path in paths:
        for name in files_under(path):
            with open(name, "rb", buffering=0) as f:
                while f.readinto(buffer):
                    pass


class Harness:
    """One benchmark run: options, the dataset, and the results gathered so far."""

    def __init__(self, args):
        self.args = args
        self.data = None
        self.runs = []
        self.limits = {}
        self.problems = []

    def log(self, message):
        """A progress line on stderr."""
        print(message, file=sys.stderr, flush=True)

    def runner(self, *args):
        """The outcore runner's command line."""
        return [self.args.runner, *args]

    @staticmethod
    def peers(*args):
        """A peers.py command line (run by this interpreter, the venv's)."""
        return [sys.executable, PEERS, *args]

    # The dataset ------------------------------------------------------------------------

    def ensure_dataset(self):
        """Makes the dataset with the runner unless DIR/dataset.json says it is there at the
        requested size; then the blosc2 files if blosc2 runs."""
        directory = os.path.abspath(self.args.data)
        manifest = os.path.join(directory, "dataset.json")
        requested = str(self.args.size)
        data = self.read_manifest(manifest)
        if data is None or data.get("size") != requested or "key" not in data.get("npy", {}):
            self.log(f"making the dataset ({human_bytes(self.args.size)} per array) in {directory}")
            for name in (blosc2_name("clean"), blosc2_name("nan"), "blosc2.json"):
                remove_if_exists(os.path.join(directory, name))
            run_child(self.runner("make", directory, requested))
            data = self.read_manifest(manifest)
            if data is None:
                raise HarnessError(f"{manifest}: missing after `peer make`")
        data["dir"] = directory
        self.data = data
        if "blosc2" in self.args.tools:
            self.ensure_blosc2()

    @staticmethod
    def read_manifest(path):
        """The dataset description, or None when there is none."""
        try:
            with open(path) as f:
                return json.load(f)
        except FileNotFoundError:
            return None

    def ensure_blosc2(self):
        """Writes the b2nd copies of the .npy files (zstd 1 + shuffle), chunked like the
        store's inner chunks, blocks chosen by blosc2, unless they exist."""
        chunks = ",".join(str(n) for n in self.data["chunks"])
        layout = os.path.join(self.data["dir"], "blosc2.json")
        for which in ("clean", "nan"):
            out = b2nd_file(self.data, which)
            if not os.path.exists(out):
                self.log(f"writing {out}")
                made, _ = run_child(
                    self.peers("make-blosc2", npy_file(self.data, which), out, chunks, "auto")
                )
                with open(layout, "w") as f:
                    json.dump(made, f)
        self.data["blosc2"] = self.read_manifest(layout)

    # Measuring --------------------------------------------------------------------------

    def command(self, tool, workload, path, key, out):
        """The command line of one measurement (KEY, OUT: None when not needed)."""
        options = []
        if key is not None:
            options += ["--key", key]
        if out is not None:
            options += ["--out", out]
        if tool == OUTCORE:
            return self.runner("run", workload, path, *options)
        return self.peers("run", tool, workload, path, *options)

    def measure_limits(self):
        """The physical limits, each the best of REPEAT fresh processes after a warm-up."""
        for name, sub, codec, what in [
            ("raw_sum_mapped", "limit-raw", "raw", "summing the mapped raw bytes"),
            ("zstd_decompress", "limit-zstd", "zstd", "zstd-decompressing the chunks"),
        ]:
            path = store_array(codec)(self.data, "clean")
            warm([path])
            results = [run_child(self.runner(sub, path))[0] for _ in range(self.args.repeat + 1)][1:]
            best = min(results, key=lambda r: r["seconds"])
            self.limits[name] = {
                "what": what + f" on all cores ({best['threads']} threads)",
                "seconds": best["seconds"],
                "seconds_mapped": min(r["seconds_mapped"] for r in results),
                "bytes": best["bytes"],
            }
            self.log(f"limit: {what}: {best['seconds']:.3f} s")

    def measure(self):
        """Every selected workload with every selected tool."""
        for tool in self.args.tools:
            for variant in TOOLS[tool]:
                for which in ("clean", "nan"):
                    workloads = [
                        w for w in self.args.workloads
                        if WORKLOADS[w].data == which and (variant.only is None or w in variant.only)
                    ]
                    if not workloads:
                        continue
                    path = variant.input(self.data, which)
                    key = variant.input(self.data, "key")
                    keyed = any(WORKLOADS[w].keyed for w in workloads) and key is not None
                    for needed in [path] + ([key] if keyed else []):
                        if not os.path.exists(needed):
                            raise HarnessError(f"{needed}: missing (delete dataset.json to remake the data)")
                    warm([path] + ([key] if keyed else []))
                    for workload in workloads:
                        self.measure_one(tool, variant, workload, path, key)

    def output(self, variant):
        """Where a writing workload of VARIANT writes: a path under the data directory that
        does not exist (anything left there is removed)."""
        slug = re.sub(r"[^a-z0-9]+", "-", variant.label.lower()).strip("-")
        path = os.path.join(self.data["dir"], "output", slug)
        remove_tree(path)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return path

    def measure_one(self, tool, variant, workload, path, key):
        """One untimed warm-up run, then REPEAT timed runs, each a fresh process; a writing
        workload's output is removed after every run."""
        label = variant.label
        spec = WORKLOADS[workload]
        record = {
            "tool": tool,
            "label": label,
            "storage": variant.storage,
            "workload": workload,
            "input": os.path.relpath(path, self.data["dir"]),
            "seconds": [],
            "peak_rss": [],
        }
        self.runs.append(record)
        out = self.output(variant) if spec.writes else None
        command = self.command(tool, workload, path, key if spec.keyed else None, out)
        try:
            for attempt in range(self.args.repeat + 1):
                try:
                    result, rss = run_child(command)
                finally:
                    if out is not None:
                        remove_tree(out)
                if result.get("unsupported"):
                    record["unsupported"] = True
                    self.log(f"{label:22} {workload:13} unsupported")
                    return
                if attempt == 0:
                    continue
                record["seconds"].append(result["seconds"])
                record["peak_rss"].append(rss)
                record["value"] = result["value"]
                if "cache_budget" in result:
                    record["cache_budget"] = result["cache_budget"]
        except HarnessError as e:
            record["error"] = str(e)
            self.problems.append(f"{label} {workload}: {e}")
            self.log(f"{label:22} {workload:13} FAILED: {e}")
            return
        self.log(
            f"{label:22} {workload:13} {min(record['seconds']):8.3f} s "
            f"{human_bytes(max(record['peak_rss'])):>10}"
        )

    # Checking and reporting ---------------------------------------------------------------

    def check_agreement(self):
        """Every tool's value of a workload equals the reference's to `rtol` (exactly for an
        exact workload); a tool that disagrees is a problem, printed in one line. An
        approximate tool's relative error is recorded instead."""
        for workload in self.args.workloads:
            done = {r["label"]: r for r in self.runs if r["workload"] == workload and "value" in r}
            if not done:
                continue
            spec = WORKLOADS[workload]
            for record in done.values():
                if record["tool"] in spec.approximate:
                    record["approximate"] = True
            exact = [r for r in done.values() if not r.get("approximate")]
            if not exact:
                continue
            reference = next(
                (done[l] for l in REFERENCE_ORDER if l in done and not done[l].get("approximate")),
                exact[0],
            )
            for record in done.values():
                error = relative_difference(record["value"], reference["value"])
                if record.get("approximate"):
                    record["relative_error"] = error
                    continue
                record["agrees"] = error <= (0 if spec.exact else self.args.rtol)
                if not record["agrees"]:
                    ours, theirs = record["value"], reference["value"]
                    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
                        # Long answers (counts, samples): the first value that differs.
                        i = next(i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b)
                        ours, theirs = f"[{i}] {ours[i]}", f"[{i}] {theirs[i]}"
                    self.problems.append(
                        f"DISAGREEMENT: {record['label']} {workload} = {ours}, "
                        f"{reference['label']} = {theirs} (relative difference {error:.3g})"
                    )

    def inputs(self):
        """The selected tools' inputs of the field: path -> the tools reading it."""
        found = {}
        for tool in self.args.tools:
            for variant in TOOLS[tool]:
                found.setdefault(variant.input(self.data, "clean"), []).append(tool)
        return found

    def best_peer(self, workload, storage):
        """The fastest non-outcore record of a workload on a kind of storage (approximate
        answers left out)."""
        peers = [
            r for r in self.runs
            if r["workload"] == workload and r["storage"] == storage
            and r["tool"] != OUTCORE and r["seconds"] and not r.get("approximate")
        ]
        return min(peers, key=lambda r: min(r["seconds"]), default=None)

    def tables(self):
        """The per-workload tables and the limits, as Markdown lines."""
        rows = self.data["rows"]
        cols = self.data["cols"]
        logical = rows * cols * 8
        lines = [
            f"Dataset: {rows} x {cols} float64 ({human_bytes(logical)} per array), outcore "
            f"chunks {self.data['chunks']} in shards {self.data['shards']}; times are the best "
            f"of {self.args.repeat} runs after a warm-up, each a fresh process, page cache warm; "
            "peak RSS (mapped file pages included) is the largest of those runs.",
        ]
        lines.append(
            f"Every child's peak RSS includes the harness's own at the time it starts the child "
            f"(Linux counts the pre-exec image): at most {human_bytes(own_peak_rss())}."
        )
        budgets = {r["cache_budget"] for r in self.runs if "cache_budget" in r}
        if budgets:
            lines.append(
                f"outcore's decoded-chunk cache budget: {human_bytes(max(budgets))} "
                "(default: a quarter of available memory; `OUTCORE_CACHE_BYTES` sets it)."
            )
        lines += ["", "On disk (the field; the NaN copy is alike):", ""]
        for path, tools in self.inputs().items():
            stored = disk_bytes(path)
            lines.append(
                f"- `{os.path.relpath(path, self.data['dir'])}` ({', '.join(tools)}): "
                f"{human_bytes(stored)} (compression ratio {logical / stored:.2f})"
            )
        lines += ["", "Physical limits (the floor under a full pass):", ""]
        for limit in self.limits.values():
            rate = limit["bytes"] / limit["seconds"] / 1e9
            lines.append(
                f"- {limit['what']}: {limit['seconds']:.3f} s ({rate:.1f} GB/s logical; "
                f"{limit['seconds_mapped']:.3f} s once mapped)"
            )
        floors = {"raw": "raw_sum_mapped", "compressed": "zstd_decompress"}
        for workload in self.args.workloads:
            spec = WORKLOADS[workload]
            data = "the field with 1% NaNs" if spec.data == "nan" else "the field"
            if spec.keyed:
                data += " and its int8 keys"
            formula = spec.formula
            lines += [
                "",
                f"### {workload}: `{formula}` over {data}",
                "",
                "| tool | storage | time (s) | peak RSS | time / best peer | note |",
                "|---|---|---:|---:|---:|---|",
            ]
            for record in (r for r in self.runs if r["workload"] == workload):
                lines.append(self.table_row(record, floors))
        return lines

    def table_row(self, record, floors):
        """One tool's line in a workload's table."""
        label, storage = record["label"], record["storage"]
        if record.get("unsupported"):
            return f"| {label} | {storage} | unsupported | | | no such operation |"
        if "error" in record:
            return f"| {label} | {storage} | failed | | | {record['error']} |"
        seconds = min(record["seconds"])
        best = self.best_peer(record["workload"], storage)
        ratio = f"{seconds / min(best['seconds']):.2f}x" if best else "-"
        notes = []
        if record["tool"] == OUTCORE and best:
            speedup = min(best["seconds"]) / seconds
            if speedup >= 1:
                notes.append(f"{speedup:.1f}x faster than {best['label']}")
            else:
                notes.append(f"{1 / speedup:.1f}x slower than {best['label']}")
        floor = self.limits.get(floors[storage])
        if record["tool"] == OUTCORE and floor and record["workload"] in ONE_PASS_OVER_FIELD:
            notes.append(f"{seconds / floor['seconds']:.2f}x the floor")
        if record.get("approximate"):
            notes.append(f"APPROXIMATE: relative error {record['relative_error']:.2g}")
        if record.get("agrees") is False:
            notes.append("DISAGREES")
        rss = human_bytes(max(record["peak_rss"]))
        return f"| {label} | {storage} | {seconds:.3f} | {rss} | {ratio} | {'; '.join(notes)} |"

    def targets(self):
        """The benchmark's targets, checked on this run's numbers, as Markdown lines."""
        lines = []

        def seconds(label, workload):
            r = next((r for r in self.runs if r["label"] == label and r["workload"] == workload), None)
            return min(r["seconds"]) if r and r["seconds"] else None

        def check(text, ok):
            lines.append(f"- [{'x' if ok else ' '}] {text}")

        for workload, baseline, limit in BASELINE_TARGETS:
            for label in ("outcore zstd", "outcore raw"):
                ours, base = seconds(label, workload), seconds(label, baseline)
                if ours and base:
                    check(
                        f"{workload}: {label} {ours / base:.2f}x its {baseline} (target at most {limit}x)",
                        ours <= limit * base,
                    )
        for workload in self.args.workloads:
            ours = seconds("outcore zstd", workload)
            dask = seconds("dask+zarr zstd", workload)
            if ours and dask and "dask" not in WORKLOADS[workload].approximate:
                check(f"{workload}: outcore {dask / ours:.1f}x faster than dask+zarr on the zstd store (target 2x)", dask >= 2 * ours)
        for workload in self.args.workloads:
            ours = seconds("outcore zstd", workload)
            blosc = seconds("blosc2 zstd+shuffle", workload)
            if ours and blosc:
                check(f"{workload}: outcore zstd {blosc / ours:.2f}x blosc2's speed (target 1x)", blosc >= ours)
        ours, memmap = seconds("outcore raw", "nanmean"), seconds("numpy.memmap", "nanmean")
        if ours and memmap:
            check(f"nanmean: outcore raw {memmap / ours:.1f}x faster than numpy.memmap (target 10x)", memmap >= 10 * ours)
        for workload in self.args.workloads:
            done = [r for r in self.runs if r["workload"] == workload and r["peak_rss"]]
            ours = [r for r in done if r["tool"] == OUTCORE]
            peers = [r for r in done if r["tool"] != OUTCORE]
            if ours and peers:
                worst = max(ours, key=lambda r: max(r["peak_rss"]))
                least = min(peers, key=lambda r: max(r["peak_rss"]))
                check(
                    f"{workload}: outcore's peak RSS {human_bytes(max(worst['peak_rss']))} ({worst['label']}) "
                    f"below every peer's (least: {least['label']}, {human_bytes(max(least['peak_rss']))})",
                    max(worst["peak_rss"]) < max(least["peak_rss"]),
                )
        return lines

    def environment(self):
        """What the numbers were measured on."""
        from importlib import metadata

        versions = {}
        for package in ("numpy", "dask", "pandas", "pyarrow", "zarr", "blosc2"):
            try:
                versions[package] = metadata.version(package)
            except metadata.PackageNotFoundError:
                versions[package] = None
        return {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": platform.machine(),
            "cpu": cpu_model(),
            "cores": os.cpu_count(),
            "memory_bytes": mem_total(),
            "python": platform.python_version(),
            "packages": versions,
            "outcore_cache_bytes_env": os.environ.get("OUTCORE_CACHE_BYTES"),
            "harness_peak_rss": own_peak_rss(),
        }

    def report(self, started):
        """Prints the tables and writes results/latest.json and results/latest.md."""
        env = self.environment()
        lines = [
            "# outcore and its peers",
            "",
            f"{env['date']}, {env['cpu']}, {env['cores']} cores, "
            f"{human_bytes(env['memory_bytes'] or 0)} RAM; "
            + ", ".join(f"{k} {v}" for k, v in env["packages"].items() if v),
            "",
            *self.tables(),
        ]
        targets = self.targets()
        if targets:
            lines += ["", "### Targets", "", *targets]
        if self.problems:
            lines += ["", "### Problems", "", *(f"- {p}" for p in self.problems)]
        elapsed = time.monotonic() - started
        lines += ["", f"Harness run took {elapsed:.0f} s."]
        text = "\n".join(lines) + "\n"
        print(text)
        os.makedirs(self.args.results, exist_ok=True)
        with open(os.path.join(self.args.results, "latest.md"), "w") as f:
            f.write(text)
        with open(os.path.join(self.args.results, "latest.json"), "w") as f:
            json.dump(
                {
                    "environment": env,
                    "options": {
                        "size": self.args.size,
                        "repeat": self.args.repeat,
                        "tools": self.args.tools,
                        "workloads": self.args.workloads,
                        "rtol": self.args.rtol,
                    },
                    "dataset": self.data,
                    "limits": self.limits,
                    "runs": self.runs,
                    "problems": self.problems,
                    "seconds": elapsed,
                },
                f,
                indent=1,
            )


def relative_difference(a, b):
    """The largest relative difference between two results (scalars or lists; None is NaN)."""
    a = a if isinstance(a, list) else [a]
    b = b if isinstance(b, list) else [b]
    if len(a) != len(b):
        return math.inf
    worst = 0.0
    for x, y in zip(a, b):
        if x is None or y is None:
            if x is not y:
                return math.inf
            continue
        worst = max(worst, abs(x - y) / max(abs(x), abs(y), 1e-300))
    return worst


def own_peak_rss():
    """This process's peak RSS in bytes (`ru_maxrss` is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def disk_bytes(path):
    """Bytes of the file at PATH, or of every file below it."""
    return sum(os.path.getsize(f) for f in files_under(path))


def remove_if_exists(path):
    """Removes a file if it is there."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def remove_tree(path):
    """Removes a file or a directory tree if it is there."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        remove_if_exists(path)


def cpu_model():
    """The CPU's model name (Linux), or the platform's processor string."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def mem_total():
    """Physical memory in bytes (Linux), or None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def choice_list(allowed):
    """An argparse type: a comma-separated list of names from ALLOWED."""

    def parse(text):
        names = [n for n in text.split(",") if n]
        unknown = [n for n in names if n not in allowed]
        if unknown or not names:
            raise argparse.ArgumentTypeError(
                f"unknown {', '.join(unknown) or 'empty list'} (choose from {', '.join(allowed)})"
            )
        return names

    return parse


def parse_args(argv):
    """The command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runner", required=True, help="the built outcore runner (examples/peer)")
    parser.add_argument("--size", type=parse_size, default=parse_size("4GiB"),
                        help="bytes per array (default 4GiB)")
    parser.add_argument("--repeat", type=int, default=3,
                        help="timed runs per tool and workload, after one warm-up (default 3)")
    parser.add_argument("--tools", type=choice_list(list(TOOLS)), default=list(TOOLS),
                        help=f"comma-separated, from {','.join(TOOLS)} (default all)")
    parser.add_argument("--workloads", type=choice_list(list(WORKLOADS)), default=list(WORKLOADS),
                        help=f"comma-separated, from {','.join(WORKLOADS)} (default all)")
    parser.add_argument("--data", default=os.path.join(HERE, "data"),
                        help="where the dataset is made and kept (default benches/peers/data)")
    parser.add_argument("--results", default=os.path.join(HERE, "results"),
                        help="where latest.json and latest.md go (default benches/peers/results)")
    parser.add_argument("--rtol", type=float, default=1e-9,
                        help="relative tolerance of the agreement check (default 1e-9)")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.size < 8 * 8192:
        parser.error("--size must be at least one row (64KiB)")
    return args


def main(argv):
    """Runs the benchmark; exit status 0, 1 when a tool failed or disagreed, 2 on an error."""
    started = time.monotonic()
    args = parse_args(argv)
    harness = Harness(args)
    try:
        harness.ensure_dataset()
        harness.measure_limits()
        harness.measure()
    except HarnessError as e:
        print(f"harness: error: {e}", file=sys.stderr)
        return 2
    harness.check_agreement()
    harness.report(started)
    for problem in harness.problems:
        print(problem, file=sys.stderr)
    return 1 if harness.problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
