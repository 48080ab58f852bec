"""Command line: `lds build|serve|route|isoline ...`, all calling the same core as the API.

`route`, `isoline`, `geocode` and `reverse` are derived from the service declarations (:mod:`lds.services`):
the same parameters, checks and JSON as the API.
"""

from __future__ import annotations

import argparse
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
    """Compact UTF-8 JSON, as the API sends it (lds.fastjson: numpy values included)."""
    from lds import fastjson

    sys.stdout.write(fastjson.dumps(value).decode() + "\n")


@command("build")
def _build(args: argparse.Namespace) -> int:
    from lds.build.pipeline import build, default_out_dir

    out = Path(args.out) if args.out else default_out_dir(args.extract)
    modes = args.modes.split(",")
    build(args.extract, out, modes=modes, skip_geocoder=args.no_geocoder, if_changed=args.if_changed,
          keep_versions=Settings.from_env().data_keep_versions, progress=_build_progress(modes, args.no_geocoder),
          restart=args.restart)
    return 0


def _build_progress(modes: list[str], skip_geocoder: bool):
    """A bar over the build's stages on a terminal; plain progress lines (the default) in logs and pipes."""
    if not sys.stderr.isatty():
        return None
    from lds.build.progress_bar import BarProgress, build_stages

    return BarProgress(build_stages(modes, skip_geocoder))


@command("serve")
def _serve(args: argparse.Namespace) -> int:
    from lds.server import serve

    settings = _settings(args, host=args.host, port=args.port, workers=args.workers)
    serve(settings)  # loads the data first (fails fast before gunicorn forks), then preloads it into the workers
    return 0


def _answer(service, args: argparse.Namespace) -> int:
    """One service's answer, read, checked and formatted as the API does (no quota: the CLI has no token)."""
    from lds.services import answer, core_kwargs, parse

    core = _core(args)
    values = parse(service, {p.names[0]: getattr(args, p.names[0], None) for p in service.params}, core)
    _print_json(answer(service, core, core_kwargs(service, values)))
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


@command("geocode-table")
@command("reverse-table")
@command("route-table")
def _table(args: argparse.Namespace) -> int:
    from lds.dask.command import run

    return run(args)


def _add_service_commands(sub) -> None:
    """One command per declared service with a ``cli`` name; its parameters as arguments (values stay text)."""
    from lds.services import SERVICES

    for service in SERVICES.values():
        if service.cli is None:
            continue
        cmd = sub.add_parser(service.cli, help=service.help)
        for p in service.params:
            if p.cli == "positional":
                cmd.add_argument(p.names[0], help=p.help)
            elif p.cli == "option":
                cmd.add_argument("--" + p.names[0].replace("_", "-"), dest=p.names[0], help=p.help)
        cmd.add_argument("--data", help="data dir (default LDS_DATA_DIR, or the only dir under graph_data/)")
        cmd.set_defaults(service=service)
        COMMANDS[service.cli] = lambda args: _answer(args.service, args)


EXAMPLES: dict[str, tuple[str, ...]] = {
    "build": (
        "lds build monaco-latest.osm.pbf",
        "lds build https://download.geofabrik.de/europe/monaco-latest.osm.pbf --modes car,walk --if-changed",
    ),
    "serve": ("lds serve --data graph_data/monaco-latest", "lds serve --host 0.0.0.0 --port 8000 --workers 4"),
    "worker": ("lds worker --data graph_data/monaco-latest", "lds worker --burst"),
    "route": (
        "lds route 7.4197,43.7311 7.4270,43.7400",
        "lds route 7.4197,43.7311 7.4270,43.7400 --mode walk --waypoints 43.7350,7.4210",
    ),
    "isoline": (
        "lds isoline 7.4197,43.7311 --range 300,600",
        "lds isoline 7.4197,43.7311 --range 1000 --range-type distance --mode walk",
    ),
    "isoline-h3": ("lds isoline-h3 7.4197,43.7311 --range 300,600 --resolution 9",),
    "geocode": ('lds geocode "Boulevard des Moulins 12"', 'lds geocode "Boulevard des Moulins 12" --country MC --limit 3'),
    "reverse": ("lds reverse 43.7311 7.4197",),
    "token": ("lds token create --name web --apis lds", "lds token list", "lds token revoke <token>",
              "lds token rotate-admin"),
    "settings": ("lds settings > settings.md",),
    "geocode-table": (
        "lds geocode-table customers.csv customers.parquet --address-column address --country-column country",
    ),
    "reverse-table": ("lds reverse-table points.parquet places.parquet --lat-column lat --lon-column lon",),
    "route-table": (
        "lds route-table trips.csv routes.parquet --origin-column from --destination-column to --mode walk",
    ),
}
"""What `lds <command> --help` shows under "examples" (the README's Command line section); each is parsed by
tests/test_cli_help.py, so none goes stale."""


def _readme_help(ap: argparse.ArgumentParser, sub) -> None:
    """Every subcommand's --help: its one-line help as the description, examples, and where settings come from."""
    for name, cmd in sub.choices.items():
        cmd.formatter_class = argparse.RawDescriptionHelpFormatter
        help_text = next((a.help for a in sub._choices_actions if a.dest == name), None)
        cmd.description = cmd.description or (help_text[0].upper() + help_text[1:] + "." if help_text else None)
        lines = [f"  {line}" for line in EXAMPLES.get(name, ())]
        cmd.epilog = cmd.epilog or ("examples:\n" + "\n".join(lines) + "\n\n" if lines else "") + _SETTINGS_NOTE
    ap.formatter_class = argparse.RawDescriptionHelpFormatter
    ap.epilog = "\n".join(f"  {examples[0]}" for examples in EXAMPLES.values()) + "\n\n" + _SETTINGS_NOTE
    ap.epilog = "examples:\n" + ap.epilog


_SETTINGS_NOTE = ("Every limit and default is an LDS_* environment variable (`lds settings` lists them); the API "
                  "is described at /openapi.json and /docs of a running `lds serve`.")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="lds", description="Self-hosted Location Data Services from OpenStreetMap")
    sub = ap.add_subparsers(dest="command", required=True)

    b = sub.add_parser("build", help="build graphs and the address index from an .osm.pbf/.osm/.osm.bz2 path or URL")
    b.add_argument("extract", help="an .osm.pbf, .osm or .osm.bz2 file, or its http(s) URL (downloaded once)")
    b.add_argument("--out", help="output dir (default graph_data/<extract name>)")
    b.add_argument("--modes", default="car,walk,bike", help="comma-separated travel modes to build (default car,walk,bike)")
    b.add_argument("--no-geocoder", action="store_true", help="skip the address index")
    b.add_argument("--if-changed", action="store_true", help="keep an existing build of the same extract and lds version")
    b.add_argument("--restart", action="store_true",
                   help="redo every stage (by default a build killed part-way resumes after its last finished stage)")

    s = sub.add_parser("serve", help="serve the API with gunicorn")
    s.add_argument("--data", help="data dir (default LDS_DATA_DIR, or the only dir under graph_data/)")
    s.add_argument("--host", help="address to bind (default LDS_HOST, 127.0.0.1)")
    s.add_argument("--port", type=int, help="port to listen on (default LDS_PORT, 8000)")
    s.add_argument("--workers", type=int, help="gunicorn worker processes (default LDS_WORKERS; 0 = by cores)")

    _add_service_commands(sub)
    w = sub.add_parser("worker", help="run batch-job chunks from the Redis queue (or the local job dir without Redis)")
    w.add_argument("--data", help="data dir (default LDS_DATA_DIR, or the only dir under graph_data/)")
    w.add_argument("--burst", action="store_true", help="exit when there is no more work")
    w.add_argument("--name", help="worker name shown in RQ (default: random)")
    sub.add_parser("settings", help="print every LDS_* setting with its default and help as Markdown")
    from lds.auth.cli import add_parser as add_token_parser

    add_token_parser(sub)
    from lds.dask.command import add_parsers as add_table_parsers

    add_table_parsers(sub)
    _readme_help(ap, sub)
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
