#!/usr/bin/env bash
# What the Docker image does, without Docker: install the package (not editable) into a fresh venv,
# then run docker/entrypoint.sh, which builds the data dir from LDS_EXTRACT and serves it with
# gunicorn; query /health, /v3/lds/status and one geocode on a loopback port; stop. Exit 0 = works.
#   scripts/deploy_smoke.sh [extract]   (default ../shared/data/monaco-2020-07.osm.pbf)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
extract=${1:-${LDS_TEST_DATA:-$(cd .. && pwd)/shared/data}/monaco-2020-07.osm.pbf}
python=${PYTHON:-python3}
tmp=$(mktemp -d /tmp/lds-deploy-XXXXXX)
server=""
cleanup() {
  if [ -n "$server" ]; then kill -TERM -- "-$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

echo "deploy-smoke: fresh venv in $tmp/venv, pip install $repo"
"$python" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q --upgrade pip
"$tmp/venv/bin/python" -m pip install -q "$repo"

port=$("$tmp/venv/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export PATH="$tmp/venv/bin:$PATH" LDS_HOST=127.0.0.1 LDS_PORT=$port LDS_AUTH=disabled LDS_WORKERS=2 \
       LDS_DATA_DIR="$tmp/data/lds" LDS_STATE_DIR="$tmp/state" LDS_EXTRACT="$extract"
unset LDS_REDIS_URL PROMETHEUS_MULTIPROC_DIR
cd "$tmp"  # nothing from the checkout is importable from here: the installed package is what runs
setsid sh "$repo/docker/entrypoint.sh" serve >"$tmp/serve.log" 2>&1 &
server=$!
for _ in $(seq 600); do
  curl -fsS "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { cat "$tmp/serve.log"; echo "deploy-smoke: server exited" >&2; exit 1; }
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$port/health"; echo
curl -fsS "http://127.0.0.1:$port/v3/lds/status" | "$tmp/venv/bin/python" -c \
  'import json,sys; d=json.load(sys.stdin); print("deploy-smoke: data_version", d["data_version"], "cache", d["cache"])'
curl -fsS "http://127.0.0.1:$port/v3/lds/geocoding/geocode?address=Avenue+de+la+Costa" | head -c 300; echo
curl -fsS "http://127.0.0.1:$port/metrics" | grep -c '^lds_' | sed 's/^/deploy-smoke: lds metric lines: /'
echo "deploy-smoke: OK (installed, built from $extract, served by gunicorn)"
