"""pandas' groupby(...).agg(...) for tests/group_by_pandas.rs.

Reads {"cases": [...]} on stdin; each case is either raw files (values of a dtype, keys as
int64, an optional missing code) or CSV files (read with pandas, optionally filtered), with the
reductions to compute by outcore's names (`nanmean`, `var_ddof0`, ...). Prints, per case, the
group keys and every reduction's values as strings (repr of floats, so NaN is "nan").
"""
import json
import sys

import numpy as np
import pandas as pd


def reduce(grouped, name):
    base, _, ddof = name.partition("_ddof")
    ddof = int(float(ddof)) if ddof else 1
    skip = base.startswith("nan")
    op = base[3:] if skip else base
    if op == "size":
        return grouped.size()
    if op == "count":
        return grouped.count()
    if op in ("sum", "mean", "min", "max", "first", "last"):
        return getattr(grouped, op)(skipna=skip)
    if op in ("var", "std"):
        return getattr(grouped, op)(ddof=ddof, skipna=skip)
    raise ValueError(name)


def text(v):
    if isinstance(v, (bool, np.bool_)):
        return str(int(v))
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return repr(float(v))


def raw_case(case):
    values = np.fromfile(case["values"], dtype=np.dtype(case["dtype"]).newbyteorder("<"))
    frame = {"v": values}
    names = []
    for i, path in enumerate(case["keys"]):
        keys = np.fromfile(path, dtype="<i8")
        column = pd.array(keys, dtype="Int64")
        if case["missing"] is not None:
            column[keys == case["missing"]] = pd.NA
        frame[f"k{i}"] = column
        names.append(f"k{i}")
    df = pd.DataFrame(frame)
    return df.groupby(names, sort=True, dropna=True)["v"], names


def csv_case(case):
    df = pd.concat([pd.read_csv(f) for f in case["files"]], ignore_index=True)
    if case.get("filter"):
        column, threshold = case["filter"]
        df = df[df[column] > threshold]
    return df.groupby(case["by"], sort=True, dropna=True)[case["value"]], case["by"]


def main():
    request = json.load(sys.stdin)
    out = []
    for case in request["cases"]:
        grouped, names = raw_case(case) if case["kind"] == "raw" else csv_case(case)
        result = {}
        index = None
        for name in case["aggs"]:
            series = reduce(grouped, name)
            if index is None:
                index = series.index
            result[name] = [text(v) for v in series.reindex(index).to_numpy()]
        keys = []
        for level in range(len(names)):
            level_values = index.get_level_values(level) if len(names) > 1 else index
            keys.append([str(k) for k in level_values])
        result["keys"] = keys
        out.append(result)
    json.dump(out, sys.stdout)


main()
