#!/usr/bin/env bash
# Set up the benchmark environment: .venv-bench (Python >= 3.12, the peer engines' wheels need it) with lds and
# its `bench` extra (pyvalhalla, osrm-bindings, nominatim-db, nominatim-api, psutil), plus the Debian packages
# Nominatim imports need (PostGIS for the installed PostgreSQL major version, osm2pgsql). Idempotent.
# Benchmark-only: nothing here is a runtime dependency of lds, and .ci/run does not call it.
#
#   bash scripts/setup_bench.sh            # then: .venv-bench/bin/python scripts/peers/check.py
#   PYTHON=/path/to/python3.12 bash scripts/setup_bench.sh
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.venv-bench"

find_python() {
    if [[ -n "${PYTHON:-}" ]]; then echo "$PYTHON"; return; fi
    local candidate
    for candidate in python3.13 python3.12 "$HOME"/.pyenv/versions/3.13.*/bin/python "$HOME"/.pyenv/versions/3.12.*/bin/python; do
        if command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
            command -v "$candidate"; return
        fi
    done
    echo "setup_bench: no Python >= 3.12 found (set PYTHON=...)" >&2
    exit 1
}

sudo_if_needed() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

# --- Debian packages: Nominatim's, and wrk for scripts/load_test.py ------------------------------------------------------------------------
if command -v apt-get >/dev/null 2>&1; then
    pg_major="$(pg_config --version 2>/dev/null | sed -E 's/^PostgreSQL ([0-9]+).*/\1/' || true)"
    if [[ -z "$pg_major" ]]; then
        pg_major="$(psql --version 2>/dev/null | sed -E 's/.* ([0-9]+)\..*/\1/' || true)"
    fi
    pkgs=(osm2pgsql wrk)
    if [[ -n "$pg_major" ]]; then
        pkgs+=("postgresql-$pg_major-postgis-3" postgresql-contrib)
    else
        echo "setup_bench: PostgreSQL not found; installing osm2pgsql only (Nominatim needs PostgreSQL + PostGIS)" >&2
    fi
    missing=()
    for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if ((${#missing[@]})); then
        echo "setup_bench: apt-get install ${missing[*]}"
        sudo_if_needed apt-get update -q
        sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}"
    fi
fi

# --- the venv -----------------------------------------------------------------------------------------------
if [[ ! -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then
    rm -rf "$VENV"
    "$(find_python)" -m venv "$VENV"
    "$VENV/bin/pip" install -q --upgrade pip
fi
# pyicu (a nominatim-db dependency) builds from source: it needs libicu-dev and pkg-config.
if command -v apt-get >/dev/null 2>&1 && ! "$VENV/bin/python" -c 'import icu' 2>/dev/null; then
    for p in libicu-dev pkg-config g++; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
            || sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$p"
    done
fi
"$VENV/bin/pip" install -q -e "$REPO[test,bench]"

"$VENV/bin/python" - <<'EOF'
import osrm, valhalla, nominatim_api, nominatim_db.version, psutil  # noqa: F401
print(f"setup_bench: ok - valhalla {valhalla.__version__}, nominatim {nominatim_db.version.NOMINATIM_VERSION}")
EOF
command -v osm2pgsql >/dev/null && { osm2pgsql --version 2>&1 || true; } | sed -n 1p
echo "setup_bench: use $VENV/bin/python scripts/peers/check.py to prepare and try the peers"
