"""SQL API answer formats: rows/s and peak Python memory of ``format=geojson`` and ``format=csv`` against the
JSON answer (the baseline, measured in the same run), over one carto_dw table of points.

    .venv/bin/python scripts/bench_sql_formats.py [--rows 200000]

Prints figures and ratios; asserts nothing. Runs ``lds.sql.query.run_query`` directly (no HTTP) and consumes
each body the way the API sends it (``to_json()`` for JSON, the ``chunks()`` generator for the others).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc

from lds.sql.query import run_query
from lds.warehouse.carto_dw import CartoDW

CONNECTION = {"id": "carto_dw", "name": "carto_dw", "provider_id": "carto_dw"}


def measure(dw: CartoDW, fmt: str, geometry_format: str, memory: bool) -> tuple[float, int, int]:
    """(seconds, body bytes, peak traced bytes or 0) of one answer."""
    if memory:
        tracemalloc.start()
    start = time.perf_counter()
    answer = run_query(CONNECTION, dw, "SELECT * FROM pts", None, timeout_s=600, max_rows=None, grants=None,
                       fmt=fmt, geometry_format=geometry_format)
    size = sum(len(part) for part in ([answer.to_json()] if fmt == "json" else answer.chunks()))
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] if memory else 0
    if memory:
        tracemalloc.stop()
    return seconds, size, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    rows = parser.parse_args().rows
    dw = CartoDW(tempfile.mkdtemp(prefix="bench-formats-") + "/carto_dw")
    with dw.query(f"CREATE TABLE pts AS SELECT i, 'name ' || i AS name, i % 2 = 0 AS even, i / 7.0 AS x, "
                  f"ST_Point(i / 1000.0, i / 2000.0) AS geom FROM range({rows}) t(i)") as q:
        list(q.rows())
    cases = [("json", "wkt"), ("geojson", "wkt"), ("csv", "wkt"), ("csv", "geojson")]
    base = None
    print(f"{rows:,} rows (int, text, boolean, double, point) from carto_dw")
    print(f"{'format':<16}{'rows/s':>10}{'vs json':>9}{'body MB':>9}{'peak MB':>9}")
    for fmt, geometry in cases:
        seconds, size, _ = measure(dw, fmt, geometry, memory=False)
        _, _, peak = measure(dw, fmt, geometry, memory=True)  # traced separately: tracing slows the run
        rate = rows / seconds
        base = base or rate
        label = fmt if fmt != "csv" else f"csv ({geometry})"
        print(f"{label:<16}{rate:>10,.0f}{rate / base:>9.2f}{size / 1e6:>9.1f}{peak / 1e6:>9.1f}")
    dw.close()


if __name__ == "__main__":
    main()
