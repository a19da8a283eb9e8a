#!/bin/sh
# Peak RSS of every command over the stores of make_stores.py, at a 64 MiB cache budget.
# usage: measure.sh OUTCORE DIR
set -u
outcore=$1; dir=$2
export OUTCORE_CACHE_BYTES=64MiB
run() {
    name=$1; shift
    /usr/bin/time -f "%M %e" -o "$dir/time.out" "$@" >/dev/null 2>"$dir/err.out"
    status=$?
    set -- $(cat "$dir/time.out" | tail -1)
    printf '%-32s %6d MiB %7.1f s  exit %d %s\n' "$name" $(($1 / 1024)) "$2" "$status" "$(head -c 150 "$dir/err.out" | tr '\n' ' ')"
}
rm -rf "$dir/out.npy" "$dir/rechunked.zarr"
run "verify raw" "$outcore" verify "$dir/raw.zarr"
run "verify zstd" "$outcore" verify "$dir/zstd.zarr"
run "stats --scan zstd" "$outcore" stats "$dir/zstd.zarr" --scan
run "export zstd to .npy" "$outcore" export "$dir/zstd.zarr" "$dir/out.npy"
rm -f "$dir/out.npy"
run "export raw to .npy" "$outcore" export "$dir/raw.zarr" "$dir/out.npy"
rm -f "$dir/out.npy"
run "convert zstd, re-chunked" "$outcore" convert "$dir/zstd.zarr" "$dir/rechunked.zarr" --chunks 64,1024 --shard 512,4096
rm -rf "$dir/rechunked.zarr"
run "convert raw, re-chunked" "$outcore" convert "$dir/raw.zarr" "$dir/rechunked.zarr" --chunks 64,1024 --shard 512,4096
rm -rf "$dir/rechunked.zarr"
run "inspect sparse" "$outcore" inspect "$dir/sparse.zarr"
run "stats sparse" "$outcore" stats "$dir/sparse.zarr"
run "stats --scan sparse" "$outcore" stats "$dir/sparse.zarr" --scan
run "verify sparse" "$outcore" verify "$dir/sparse.zarr"
