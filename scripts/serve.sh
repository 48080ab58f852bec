#!/usr/bin/env bash
# Fresh machine to running service: install lds into .venv, build an extract (path or URL), serve it.
#   scripts/serve.sh ../shared/data/monaco-2020-07.osm.pbf [port]
set -euo pipefail
cd "$(dirname "$0")/.."
extract=${1:?usage: scripts/serve.sh <extract.osm.pbf | .osm | .osm.bz2 | URL> [port]}
port=${2:-8000}
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
name=$(.venv/bin/python -c 'import sys; from lds.build.pipeline import extract_name; print(extract_name(sys.argv[1]))' "$extract")
.venv/bin/lds build "$extract" --out "graph_data/$name" --if-changed
exec .venv/bin/lds serve --data "graph_data/$name" --port "$port"
