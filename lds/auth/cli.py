"""``lds token create|list|show|revoke|rotate-admin``: the Tokens API on the command line (same store)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from lds.errors import BadRequest
from lds.settings import Settings


def add_parser(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("token", help="manage API access tokens and the admin token (writes the state store)")
    tsub = t.add_subparsers(dest="token_command", required=True)
    c = tsub.add_parser("create", help="create an API access token and print it (shown once)")
    c.add_argument("--name", help="a label (default tk_<id>)")
    c.add_argument("--apis", default="lds", help="comma-separated allowed APIs: lds, sql, maps, imports (default lds)")
    c.add_argument("--grant", action="append", default=[], metavar="CONNECTION:SOURCE",
                   help="a grant: table name, wildcard (project.dataset.*, *) or SQL text; repeatable")
    c.add_argument("--referer", action="append", default=[], help="allowed referer (URL or host, *.example.com); repeatable")
    c.add_argument("--expires", help="expiration date-time, ISO 8601 (e.g. 2030-12-31T00:00:00Z)")
    c.add_argument("--quota", action="append", default=[], metavar="SERVICE=N",
                   help="monthly quota override: geocoding=N, isolines=N or routing=N; repeatable")
    c.add_argument("--rate-limit", type=int, metavar="N",
                   help="requests per second for this token (0 = unlimited; default: LDS_RATE_LIMIT_PER_S)")
    tsub.add_parser("list", help="list active API access tokens (ids and scopes; token strings are not stored)")
    s = tsub.add_parser("show", help="show one token with this month's usage")
    s.add_argument("token", help="token string or id")
    r = tsub.add_parser("revoke", help="revoke a token at once")
    r.add_argument("token", help="token string or id")
    tsub.add_parser("rotate-admin", help="replace the admin token with a new one and print it (shown once)")


def _body(args: argparse.Namespace) -> dict[str, Any]:
    grants = []
    for g in args.grant:
        connection, sep, source = g.partition(":")
        if not sep:
            raise BadRequest(f"--grant {g!r} must be CONNECTION:SOURCE")
        grants.append({"connection_name": connection, "source": source})
    quotas: dict[str, int] = {}
    for q in args.quota:
        service, sep, n = q.partition("=")
        if not sep or not n.strip().isdigit():
            raise BadRequest(f"--quota {q!r} must be SERVICE=N with N a whole number")
        quotas[service.strip()] = int(n)
    body: dict[str, Any] = {
        "allowed_apis": [a.strip() for a in args.apis.split(",") if a.strip()],
        "grants": grants, "referers": args.referer, "quotas": quotas,
    }
    if args.name:
        body["name"] = args.name
    if args.expires:
        body["expiration_date"] = args.expires
    if args.rate_limit is not None:
        body["rate_limit_per_s"] = args.rate_limit
    return body


def _print(value: Any) -> None:
    json.dump(value, sys.stdout, ensure_ascii=False, indent=2)
    sys.stdout.write("\n")


def run(args: argparse.Namespace, settings: Settings | None = None) -> int:
    from lds.auth.access import AccessControl
    from lds.auth.tokens import principal_of

    settings = settings or Settings.from_env()
    access = AccessControl.from_settings(settings)
    try:
        tokens = access.tokens
        cmd = args.token_command
        if cmd == "create":
            token, row = tokens.create(_body(args))
            _print({"token": token, **row.fields()})
        elif cmd == "list":
            _print([row.fields() for row in tokens.list()])
        elif cmd == "show":
            row = tokens.get(args.token)
            _print({**row.fields(), "stats": access.stats(principal_of(row))})
        elif cmd == "revoke":
            row = tokens.revoke(args.token)
            _print({"revoked": row.id, "name": row.name})
        elif cmd == "rotate-admin":
            token = tokens.rotate_admin(settings.admin_token)
            print(token)
            print("lds: new admin token printed above (shown once, stored hashed); the old one no longer works.",
                  file=sys.stderr)
        return 0
    finally:
        access.store.dispose()
