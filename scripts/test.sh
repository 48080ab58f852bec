#!/usr/bin/env bash
# Fresh machine to test run: install lds with test extras into .venv, make sure Redis and PostgreSQL
# are up on loopback, run the whole suite against the real extracts in ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]'
bash scripts/services.sh
(cd tests/js && npm ci --no-audit --no-fund --loglevel=error)  # @carto/api-client & co, pinned by the lockfile
export LDS_TEST_DATA=${LDS_TEST_DATA:-$(cd .. && pwd)/shared/data}
exec .venv/bin/python -m pytest -q "$@"
