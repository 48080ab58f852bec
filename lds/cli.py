"""Command line: `lds build|serve|route|isoline ...`, all calling the same core as the API."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable

from lds.errors import LdsError, error_body
from lds.settings import Settings

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str):
    def register(fn):
        COMMANDS[name] = fn
        return fn

    return register


def _settings(args: argparse.Namespace, **extra) -> Settings:
    overrides = {k: v for k, v in extra.items() if v is not None}
    if getattr(args, "data", None):
        overrides["data_dir"] = str(args.data)
    return Settings.from_env(**overrides)


def _core(args: argparse.Namespace):
    from lds.core import LDS

    return LDS(_settings(args))


def _print_json(value) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


def _lonlat(text: str) -> tuple[float, float]:
    from lds.api.params import lonlat

    return lonlat("point", text)


@command("build")
def _build(args: argparse.Namespace) -> int:
    from lds.build.pipeline import build, default_out_dir

    out = Path(args.out) if args.out else default_out_dir(args.extract)
    build(args.extract, out, modes=args.modes.split(","), skip_geocoder=args.no_geocoder)
    return 0


@command("serve")
def _serve(args: argparse.Namespace) -> int:
    from lds.server import serve

    settings = _settings(args, host=args.host, port=args.port, workers=args.workers)
    from lds.core import LDS

    LDS(settings)  # fail fast, before gunicorn forks, when the data dir is missing or broken
    serve(settings)
    return 0


@command("route")
def _route(args: argparse.Namespace) -> int:
    from lds.api.envelope import lds_ok
    from lds.api.params import latlon_list

    core = _core(args)
    value = core.route(_lonlat(args.origin), _lonlat(args.destination), latlon_list("waypoints", args.waypoints), args.mode)
    _print_json(lds_ok([value]))
    return 0


@command("isoline")
def _isoline(args: argparse.Namespace) -> int:
    from lds.api.envelope import lds_ok
    from lds.api.params import number_list

    core = _core(args)
    s = core.settings
    high = s.max_isoline_time_s if args.range_type == "time" else s.max_isoline_distance_m
    ranges = number_list("range", args.range, low=1, high=high, most=s.max_ranges)
    _print_json(lds_ok(core.isolines(_lonlat(args.origin), ranges, args.range_type, args.mode)))
    return 0


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="lds", description="Self-hosted Location Data Services from OpenStreetMap")
    sub = ap.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build graphs and the address index from an .osm.pbf/.osm/.osm.bz2 path or URL")
    b.add_argument("extract")
    b.add_argument("--out", help="output dir (default graph_data/<extract name>)")
    b.add_argument("--modes", default="car,walk,bike", help="comma-separated travel modes to build")
    b.add_argument("--no-geocoder", action="store_true", help="skip the address index")

    s = sub.add_parser("serve", help="serve the API with gunicorn")
    s.add_argument("--data", help="data dir (default LDS_DATA_DIR, or the only dir under graph_data/)")
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--workers", type=int)

    r = sub.add_parser("route", help="print a route as the API returns it")
    r.add_argument("origin", help="lon,lat")
    r.add_argument("destination", help="lon,lat")
    r.add_argument("--waypoints", help="lat,lon;lat,lon")
    r.add_argument("--mode", default="car")
    r.add_argument("--data")

    i = sub.add_parser("isoline", help="print isolines as the API returns them")
    i.add_argument("origin", help="lon,lat")
    i.add_argument("--range", required=True, help="seconds or metres, comma-separated")
    i.add_argument("--range-type", default="time", choices=("time", "distance"))
    i.add_argument("--mode", default="car")
    i.add_argument("--data")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except LdsError as exc:
        _print_json(error_body(exc.message, exc.status))
        return 2


if __name__ == "__main__":
    sys.exit(main())
