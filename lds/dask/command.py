"""``lds geocode-table``, ``lds reverse-table`` and ``lds route-table``: a table in, a GeoParquet file out, on Dask."""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from lds.dask.table import Progress

PROGRESS_EVERY_S = 1.0


def add_parsers(sub) -> None:
    """The three table commands of ``lds``'s argument parser."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("input", help="CSV/TSV (header row), Parquet or GeoParquet: a path or an fsspec URL")
    common.add_argument("output", help="the GeoParquet file to write (path or fsspec URL)")
    common.add_argument("--data", help="data dir as the workers see it (default LDS_DATA_DIR, or the only built dir)")
    common.add_argument(
        "--scheduler",
        help="address (tcp://host:8786) or scheduler file of an existing Dask cluster "
        "(default: a LocalCluster on this machine)",
    )
    common.add_argument("--workers", type=int, help="LocalCluster worker processes (default: one per core)")
    common.add_argument("--partition-rows", type=int, default=20_000, help="rows per task (default 20,000)")
    common.add_argument("--prefix", default="", help="prefix of the added column names (when the table has them)")
    g = sub.add_parser("geocode-table", parents=[common], help="geocode every row of a table on Dask")
    g.add_argument("--address-column", required=True)
    g.add_argument("--country-column", help="per-row ISO alpha-2 country")
    g.add_argument("--country", help="ISO alpha-2 country of every row without one")
    r = sub.add_parser("reverse-table", parents=[common], help="reverse-geocode every row's coordinate on Dask")
    r.add_argument("--lat-column", required=True)
    r.add_argument("--lon-column", required=True)
    r.add_argument("--language")
    t = sub.add_parser("route-table", parents=[common], help="route every row, origin to destination, on Dask")
    t.add_argument("--origin-column", required=True, help="'lon,lat' text or WKB points")
    t.add_argument("--destination-column", required=True)
    t.add_argument("--mode", default="car")


def _printer():
    """A progress callback: a tqdm bar over the partitions on a terminal, else a line to stderr at most every
    PROGRESS_EVERY_S and at the end (logs and pipes get lines, not bar redraws)."""
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=None, unit="partition", file=sys.stderr, dynamic_ncols=True)

        def draw(p: Progress) -> None:
            bar.total = p.partitions
            bar.update(p.partitions_done - bar.n)
            bar.set_postfix_str(f"{p.rows_done:,} rows, {p.rows_per_second:,.0f} rows/s", refresh=False)
            if p.partitions_done == p.partitions:
                bar.close()

        return draw
    last = [0.0]

    def show(p: Progress) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S or p.partitions_done == p.partitions:
            last[0] = now
            sys.stderr.write(
                f"{p.rows_done:,} rows, partition {p.partitions_done}/{p.partitions} "
                f"({100 * p.partitions_done / p.partitions:.0f}%), {p.rows_per_second:,.0f} rows/s\n"
            )
            sys.stderr.flush()

    return show


TEXT_ARGS = ("address_column", "country_column", "origin_column", "destination_column")  # read as text from CSV


def _answered(kind: str, args: argparse.Namespace, ddf, data_dir: str):
    from lds.dask import frames

    if kind == "geocode":
        return frames.geocode_dataframe(
            ddf,
            args.address_column,
            data_dir=data_dir,
            prefix=args.prefix,
            country_column=args.country_column,
            country=args.country,
        )
    if kind == "reverse":
        return frames.reverse_dataframe(
            ddf, args.lat_column, args.lon_column, data_dir=data_dir, language=args.language, prefix=args.prefix
        )
    return frames.route_dataframe(
        ddf, args.origin_column, args.destination_column, data_dir=data_dir, mode=args.mode, prefix=args.prefix
    )


def run(args: argparse.Namespace) -> int:
    """Read the table, answer every row on the cluster, write the GeoParquet file; progress on stderr."""
    from lds.dask.cluster import dask_client
    from lds.dask.partitions import GEOMETRY_TYPES
    from lds.dask.table import input_geo_columns, read_table, write_geoparquet
    from lds.dask.worker import register_core

    kind = args.command.removesuffix("-table")
    text = [getattr(args, name) for name in TEXT_ARGS if getattr(args, name, None)]
    with dask_client(args.scheduler, args.workers) as client:
        data_dir = register_core(client, args.data)
        out = _answered(kind, args, read_table(args.input, text, args.partition_rows), data_dir)
        t0 = time.perf_counter()
        rows = write_geoparquet(
            client,
            out,
            args.output,
            args.prefix + "geom",
            GEOMETRY_TYPES[kind],
            input_geo_columns(args.input),
            on_progress=_printer(),
        )
        seconds = time.perf_counter() - t0
    sys.stderr.write(
        f"wrote {rows:,} rows to {args.output} in {seconds:.1f} s ({rows / max(seconds, 1e-9):,.0f} rows/s)\n"
    )
    return 0
