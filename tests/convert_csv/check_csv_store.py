"""Independent checks of stores written by outcore's CSV importer (tests/convert_csv.rs).

Usage:
  check_csv_store.py htru2 STORE NAME CSV HEADER(0|1) columns|matrix
      numpy.loadtxt's parse of CSV equals the stored columns (or matrix), bit for bit,
      and so does a filtered sum.
  check_csv_store.py taxi STORE NAME LIST
      xarray opens the group, decodes the CF date-times to datetime64 equal to the strings
      in the files listed in LIST, and the category codes map back to the payment types.
  check_csv_store.py times STORE NAME CSV
      xarray decodes every date-time column (missing values to NaT, offsets to UTC).
"""

import csv
import sys

import numpy as np
import xarray as xr
import zarr


def fail(message):
    print(message)
    sys.exit(1)


def htru2(store, name, path, header, layout):
    data = np.loadtxt(path, delimiter=",", skiprows=int(header))
    node = zarr.open(store, mode="r")[name]
    if layout == "matrix":
        stored = node[:]
    else:
        arrays = node.attrs["arrays"]
        stored = np.stack([node[a][:].astype(np.float64) for a in arrays], axis=1)
    if stored.shape != data.shape:
        fail(f"shape {stored.shape} != {data.shape}")
    if not np.array_equal(stored.astype(np.float64), data):
        bad = np.argwhere(stored != data)[:5]
        fail(f"values differ at {bad.tolist()}")
    want = data[data[:, 0] > 100.0, 2].sum()
    got = stored[stored[:, 0] > 100.0, 2].sum()
    if want != got:
        fail(f"filtered sum {got} != {want}")


def read_rows(paths):
    rows = []
    for p in paths:
        with open(p, newline="") as f:
            reader = csv.reader(f)
            next(reader)
            rows.extend(reader)
    return rows


def taxi(store, name, listing):
    paths = open(listing).read().split("\n")
    rows = read_rows(paths)
    ds = xr.open_zarr(f"{store}/{name}", consolidated=False)
    for i, col in enumerate(["tpep_pickup_datetime", "tpep_dropoff_datetime"]):
        values = ds[col].values
        if values.dtype.kind != "M":
            fail(f"{col} decoded as {values.dtype}, not datetime64")
        want = np.array([r[i].replace(" ", "T") for r in rows], dtype="datetime64[s]")
        if not np.array_equal(values.astype("datetime64[s]"), want):
            fail(f"{col}: decoded times differ from the CSV strings")
    codes = ds["payment_type"].values
    categories = np.array(ds["payment_type"].attrs["categories"])
    if list(categories[codes]) != [r[3] for r in rows]:
        fail("payment_type codes do not map back to the strings")
    total = ds["total_amount"].values
    if not np.array_equal(total, np.array([float(r[4]) for r in rows])):
        fail("total_amount differs")
    if len(ds["passenger_count"]) != len(rows):
        fail("row count differs")


def times(store, name, path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))[1:]
    ds = xr.open_zarr(f"{store}/{name}", consolidated=False)
    for i, col in enumerate(["day", "when", "precise"]):
        values = ds[col].values
        if values.dtype.kind != "M":
            fail(f"{col} decoded as {values.dtype}, not datetime64")
        want = np.array(
            [np.datetime64(r[i].replace(" ", "T")) if r[i] else np.datetime64("NaT") for r in rows],
            dtype="datetime64[ms]",
        )
        got = values.astype("datetime64[ms]")
        if not np.array_equal(got, want, equal_nan=True):
            fail(f"{col}: {got} != {want}")
    zoned = ds["zoned"].values.astype("datetime64[s]")
    if not (zoned == np.datetime64("2024-01-01T00:00:00")).all():
        fail(f"zoned: {zoned}")


def main():
    mode, args = sys.argv[1], sys.argv[2:]
    {"htru2": htru2, "taxi": taxi, "times": times}[mode](*args)
    print("ok")


if __name__ == "__main__":
    main()
