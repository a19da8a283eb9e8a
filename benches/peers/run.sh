#!/usr/bin/env bash
# The peer benchmark from one command: outcore next to dask+zarr, zarr-python, blosc2,
# numpy.memmap and pandas on the same data (see README.md).
#
#   benches/peers/run.sh [--size 4GiB] [--repeat N] [--tools a,b] [--workloads a,b] ...
#
# Creates benches/peers/.venv (once) and installs requirements.txt into it (again whenever that
# file changes), builds the outcore runner (`cargo build --release --example peer`), then runs
# harness.py with the venv's python; every argument goes to harness.py (`--help` lists them).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="$here/.venv"

if [ ! -x "$venv/bin/python" ]; then
    echo "run.sh: creating $venv" >&2
    if ! python3 -m venv "$venv"; then
        rm -rf "$venv"
        echo "run.sh: error: python3 -m venv failed (on Debian/Ubuntu: apt-get install python3-venv)" >&2
        exit 2
    fi
fi
stamp="$venv/.requirements.sha256"
wanted="$(sha256sum "$here/requirements.txt" | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    echo "run.sh: installing the peers into $venv" >&2
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet -r "$here/requirements.txt"
    echo "$wanted" > "$stamp"
fi

echo "run.sh: building the outcore runner" >&2
(cd "$root" && cargo build --release --quiet --example peer)
target="$(cd "$root" && cargo metadata --format-version 1 --no-deps |
    "$venv/bin/python" -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"

exec "$venv/bin/python" "$here/harness.py" --runner "$target/release/examples/peer" "$@"
