"""Command line: `lds build|serve|route|isoline ...`, all calling the same core as the API."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

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
    from lds.cache import with_cache
    from lds.core import LDS

    return with_cache(LDS(_settings(args)))  # the same answer cache as the API (shared when Redis is configured)


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
    build(args.extract, out, modes=args.modes.split(","), skip_geocoder=args.no_geocoder, if_changed=args.if_changed)
    return 0


@command("serve")
def _serve(args: argparse.Namespace) -> int:
    from lds.server import serve

    settings = _settings(args, host=args.host, port=args.port, workers=args.workers)
    serve(settings)  # loads the data first (fails fast before gunicorn forks), then preloads it into the workers
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


@command("geocode")
def _geocode(args: argparse.Namespace) -> int:
    from lds.api.envelope import lds_ok
    from lds.geocoding.batch import NO_RESULT

    value = _core(args).geocode(args.address, country=args.country, limit=args.limit)
    _print_json(lds_ok(value) if value else [{"error": NO_RESULT, "value": []}])
    return 0


@command("reverse")
def _reverse(args: argparse.Namespace) -> int:
    from lds.api.envelope import lds_ok
    from lds.errors import OutOfCoverage

    try:
        value = _core(args).reverse(args.lat, args.lon, language=args.language)
    except OutOfCoverage as exc:
        _print_json([{"error": exc.message, "value": []}])
        return 0
    _print_json(lds_ok(value))
    return 0


@command("worker")
def _worker(args: argparse.Namespace) -> int:
    from lds.jobs.worker import run_worker

    return run_worker(_settings(args), burst=args.burst, name=args.name)


@command("settings")
def _settings_table(args: argparse.Namespace) -> int:
    """Print every setting as a Markdown table (the README's settings section is this output)."""
    from lds.settings import SETTINGS

    print("| env var | default | what it does |\n|---|---|---|")
    for s in SETTINGS:
        default = "(unset)" if s.default is None else f"`{s.default}`"
        print(f"| `{s.env}` | {default} | {s.help} |")
    return 0


@command("token")
def _token(args: argparse.Namespace) -> int:
    from lds.auth.cli import run

    return run(args)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="lds", description="Self-hosted Location Data Services from OpenStreetMap")
    sub = ap.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build graphs and the address index from an .osm.pbf/.osm/.osm.bz2 path or URL")
    b.add_argument("extract")
    b.add_argument("--out", help="output dir (default graph_data/<extract name>)")
    b.add_argument("--modes", default="car,walk,bike", help="comma-separated travel modes to build")
    b.add_argument("--no-geocoder", action="store_true", help="skip the address index")
    b.add_argument("--if-changed", action="store_true", help="keep an existing build of the same extract and lds version")

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
    g = sub.add_parser("geocode", help="print geocoding candidates as the API returns them")
    g.add_argument("address", help="free-form address text")
    g.add_argument("--country", help="ISO 3166-1 alpha-2 code restricting the results")
    g.add_argument("--limit", type=int, help="most candidates (default geocode_default_limit)")
    g.add_argument("--data")

    rv = sub.add_parser("reverse", help="print the reverse geocoding answer as the API returns it")
    rv.add_argument("lat", type=float)
    rv.add_argument("lon", type=float)
    rv.add_argument("--language", help="result language, e.g. en or en-US")
    rv.add_argument("--data")
    w = sub.add_parser("worker", help="run batch-job chunks from the Redis queue (or the local job dir without Redis)")
    w.add_argument("--data", help="data dir (default LDS_DATA_DIR, or the only dir under graph_data/)")
    w.add_argument("--burst", action="store_true", help="exit when there is no more work")
    w.add_argument("--name", help="worker name shown in RQ (default: random)")
    sub.add_parser("settings", help="print every LDS_* setting with its default and help as Markdown")
    from lds.auth.cli import add_parser as add_token_parser

    add_token_parser(sub)
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
