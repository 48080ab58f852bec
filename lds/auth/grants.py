"""Grants: which sources a token may read through which connection (CARTO's ``grants`` field).

A grant's ``source`` is one of
- a fully qualified table name (``project.dataset.table``): covers exactly that table;
- a wildcard ``project.dataset.*`` (at least two segments before ``*``, as CARTO's CLI requires): covers
  every table under that prefix;
- ``*``: everything reachable through the connection, SQL text included;
- SQL text (``SELECT ...`` / ``WITH ...``): covers exactly that query, compared after collapsing whitespace.
Names are compared segment by segment, quotes and backticks removed, case-sensitively (BigQuery and
quoted PostgreSQL names are case-sensitive; refusing is the safe side).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from lds.errors import BadRequest

_SQL_START = re.compile(r"^\s*(\(|select\b|with\b)", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
_MAX_SOURCE = 100_000


def is_sql(source: str) -> bool:
    return bool(_SQL_START.match(source))


def normalise_sql(sql: str) -> str:
    return _SPACES.sub(" ", sql).strip().rstrip(";").strip()


def name_segments(name: str) -> list[str]:
    """``\\`a\\`.b."c"`` -> ``["a", "b", "c"]`` (a backtick-quoted whole name is split too)."""
    return [seg.strip().strip('`"').strip() for seg in name.strip().strip("`").split(".")]


def validate_grant(grant: Any) -> dict[str, str]:
    """One grant from a request body, checked; returns ``{"connection_name", "source"}``."""
    if not isinstance(grant, dict):
        raise BadRequest("each grant must be an object with 'connection_name' and 'source'")
    unknown = set(grant) - {"connection_name", "source"}
    if unknown:
        raise BadRequest(f"unknown grant field(s): {', '.join(sorted(unknown))}")
    connection, source = grant.get("connection_name"), grant.get("source")
    if not isinstance(connection, str) or not connection.strip():
        raise BadRequest("grant 'connection_name' must be a non-empty string")
    if not isinstance(source, str) or not source.strip():
        raise BadRequest("grant 'source' must be a non-empty string (table name, wildcard or SQL)")
    if len(source) > _MAX_SOURCE:
        raise BadRequest(f"grant 'source' is longer than {_MAX_SOURCE} characters")
    source = source.strip()
    if not is_sql(source) and source != "*":
        segments = name_segments(source)
        if any(not seg for seg in segments):
            raise BadRequest(f"grant source {source!r} has an empty name segment")
        if "*" in source:
            if segments[-1] != "*" or any("*" in seg for seg in segments[:-1]):
                raise BadRequest(f"grant source {source!r}: a wildcard may only be the last segment")
            if len(segments) < 3:
                raise BadRequest(f"grant source {source!r}: a wildcard needs at least two segments before '*'")
    return {"connection_name": connection.strip(), "source": source}


def grant_covers(grant: dict[str, str], connection_name: str, source: str) -> bool:
    """Whether one grant allows reading ``source`` (table name or SQL text) through ``connection_name``."""
    if grant["connection_name"] != connection_name:
        return False
    granted = grant["source"].strip()
    if granted == "*":
        return True
    if is_sql(source) or is_sql(granted):
        return is_sql(source) and is_sql(granted) and normalise_sql(granted) == normalise_sql(source)
    want, have = name_segments(source), name_segments(granted)
    if have[-1] == "*":
        prefix = have[:-1]
        return len(want) > len(prefix) and want[: len(prefix)] == prefix and "*" not in want
    return want == have


def grants_cover(grants: Iterable[dict[str, str]], connection_name: str, source: str) -> bool:
    return any(grant_covers(g, connection_name, source) for g in grants)
