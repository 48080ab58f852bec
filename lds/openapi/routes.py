"""What the OpenAPI document says of the routes that are not answer services (those are declared in
:mod:`lds.services`): one :class:`Operation` per (path, method), keyed by the Flask rule so that the test of
tests/openapi can hold the table and the app's url_map to each other. No Flask here."""

from __future__ import annotations

from dataclasses import dataclass, field

from lds.openapi.schemas import Schema, ref


@dataclass(frozen=True)
class Operation:
    summary: str
    tag: str
    query: dict[str, Schema] = field(default_factory=dict)  # query parameters (name -> schema)
    body: Schema | None = None  # JSON request body
    status: int = 200  # the success status
    answer: Schema | None = field(default_factory=lambda: ref("Object"))  # None: no body (204)
    media: str = "application/json"  # of the success answer
    description: str = ""
    error: Schema | None = None  # the body of errors when not the envelope (the peer-API dialects)


_TEXT: Schema = {"type": "string"}
_LIST = ref("ObjectList")
_TOKEN_BODY: Schema = {
    "type": "object",
    "properties": {
        "allowed_apis": {"type": "array", "items": {"type": "string", "enum": ["lds", "sql", "maps", "imports"]}},
        "grants": {"type": "array", "items": {"type": "object"}},
        "referers": {"type": "array", "items": _TEXT},
        "quotas": {"type": "object"},
        "rate_limit_per_s": {"type": "integer", "minimum": 0},
        "expires_at": _TEXT,
        "name": _TEXT,
    },
}
_CONNECTION_BODY: Schema = {
    "type": "object",
    "required": ["name", "provider_id"],
    "properties": {"name": _TEXT, "provider_id": _TEXT, "parameters": {"type": "object"}},
}
_IMPORT_BODY: Schema = {
    "type": "object",
    "required": ["url"],
    "properties": {
        "url": {"type": "string", "format": "uri"},
        "connection": _TEXT,
        "destination": _TEXT,
        "overwrite": {"type": "boolean"},
    },
}
_SQL_QUERY: dict[str, Schema] = {
    "q": {"type": "string", "description": "the SQL text"},
    "queryParameters": {"type": "string", "description": "JSON: positional or named parameters"},
}
_SQL_BODY: Schema = {"type": "object", "properties": {"q": _TEXT, "queryParameters": {}}}
_MAPS_QUERY: dict[str, Schema] = {
    "name": {"type": "string", "description": "the table (kind table)"},
    "q": {"type": "string", "description": "the SQL query (kind query)"},
    "format": {"type": "string", "enum": ["tilejson", "geojson", "json"]},
    "spatialDataColumn": _TEXT,
    "spatialDataType": {"type": "string", "enum": ["geo", "h3", "quadbin"]},
    "tileResolution": {"type": "number"},
    "filters": {"type": "string", "description": "JSON"},
}


def _tile(summary: str, formats: list[str]) -> Operation:
    """A tile route: ``formatTiles`` one of ``formats`` (the first by default); any media type (by format)."""
    query = {"formatTiles": {"type": "string", "enum": formats, "default": formats[0]}}
    return Operation(summary, "maps", query=query, answer={"description": "the tile (204 when empty)"}, media="*/*")


_PAGE: dict[str, Schema] = {"page": {"type": "integer", "minimum": 1, "default": 1}}
_FORCE: dict[str, Schema] = {"force": {"type": "boolean", "default": False}}
_DIALECT: Schema = {"description": "the peer API's own JSON (its own error bodies too)"}

OPERATIONS: dict[tuple[str, str], Operation] = {
    # --- service -------------------------------------------------------------------------------------------
    ("/health", "GET"): Operation(
        "Liveness: status and version",
        "service",
        answer={"type": "object", "required": ["status", "version"], "properties": {"status": _TEXT, "version": _TEXT}},
    ),
    ("/v3/lds/status", "GET"): Operation("What data is loaded and every setting with its value and help", "service"),
    ("/v3/lds/stats", "GET"): Operation("The caller's quota usage this month", "service", answer=_LIST),
    ("/metrics", "GET"): Operation("Prometheus metrics", "service", answer=_TEXT, media="text/plain"),
    ("/", "GET"): Operation(
        "The demo map: geocode, reverse, route and isolines in a browser", "service", answer=_TEXT, media="text/html"
    ),
    ("/openapi.json", "GET"): Operation("This document", "service"),
    ("/docs", "GET"): Operation(
        "Interactive API documentation (Swagger UI)", "service", answer=_TEXT, media="text/html"
    ),
    ("/docs/<path:filename>", "GET"): Operation(
        "Assets of the documentation page", "service", answer=_TEXT, media="application/octet-stream"
    ),
    # --- batch jobs ----------------------------------------------------------------------------------------
    ("/v3/lds/jobs/<job_id>", "GET"): Operation(
        "A batch job: status, progress, first page of results", "jobs", answer=ref("Job")
    ),
    ("/v3/lds/jobs/<job_id>", "DELETE"): Operation(
        "Cancel a batch job (its owner gets back the units not used)", "jobs", answer=ref("Job")
    ),
    ("/v3/lds/jobs/<job_id>/results", "GET"): Operation("A page of a finished job's results", "jobs", query=_PAGE),
    # --- tokens (admin) ------------------------------------------------------------------------------------
    ("/v3/tokens", "POST"): Operation("Create an API access token", "tokens", body=_TOKEN_BODY, status=201),
    ("/v3/tokens", "GET"): Operation("List the tokens", "tokens", answer=_LIST),
    ("/v3/tokens/<path:token>", "GET"): Operation("A token and its usage", "tokens"),
    ("/v3/tokens/<path:token>", "PATCH"): Operation("Change a token", "tokens", body=_TOKEN_BODY),
    ("/v3/tokens/<path:token>", "DELETE"): Operation("Revoke a token", "tokens", status=204, answer=None),
    # --- connections (admin) -------------------------------------------------------------------------------
    ("/v3/connections", "POST"): Operation("Create a connection", "connections", body=_CONNECTION_BODY, status=201),
    ("/v3/connections", "GET"): Operation("List the connections", "connections", answer=_LIST),
    ("/v3/connections/<ref>", "GET"): Operation("A connection (by id or name)", "connections"),
    ("/v3/connections/<ref>", "PATCH"): Operation("Change a connection", "connections", body={"type": "object"}),
    ("/v3/connections/<ref>", "DELETE"): Operation(
        "Delete a connection", "connections", query=_FORCE, status=204, answer=None
    ),
    ("/v3/connections/<ref>/resources", "GET"): Operation("The connection's top-level resources", "connections"),
    ("/v3/connections/<ref>/resources/<path:path>", "GET"): Operation("Resources under a path", "connections"),
    # --- SQL -----------------------------------------------------------------------------------------------
    ("/v3/sql/<connection>/query", "GET"): Operation("Run a SQL query", "sql", query=_SQL_QUERY),
    ("/v3/sql/<connection>/query", "POST"): Operation("Run a SQL query", "sql", body=_SQL_BODY),
    ("/v3/sql/<connection>/job", "GET"): Operation("Start a SQL job", "sql", query={"query": _TEXT}, status=201),
    ("/v3/sql/<connection>/job", "POST"): Operation(
        "Start a SQL job",
        "sql",
        body={"type": "object", "required": ["query"], "properties": {"query": _TEXT}},
        status=201,
    ),
    ("/v3/sql/<connection>/job/<job_id>", "GET"): Operation("A SQL job", "sql"),
    ("/v3/sql/<connection>/job/<job_id>", "DELETE"): Operation("Cancel a SQL job", "sql"),
    ("/v3/sql/jobs", "GET"): Operation("The caller's SQL jobs, newest first", "sql", answer=_LIST),
    ("/v3/sql/<connection>/model/<model>", "GET"): Operation(
        "A widget model (figures of CARTO's widgets)", "sql", query={"type": _TEXT, "source": _TEXT}
    ),
    ("/v3/sql/<connection>/model/<model>", "POST"): Operation(
        "A widget model (figures of CARTO's widgets)", "sql", body={"type": "object"}
    ),
    # --- maps ----------------------------------------------------------------------------------------------
    ("/v3/maps/<connection>/<kind>", "GET"): Operation(
        "Instantiate a map source (TileJSON)", "maps", query=_MAPS_QUERY
    ),
    ("/v3/maps/<connection>/<kind>", "POST"): Operation(
        "Instantiate a map source (TileJSON)", "maps", body={"type": "object"}
    ),
    ("/v3/maps/<connection>/<kind>/<z>/<x>/<y>", "GET"): _tile(
        "A tile of a source (mvt: application/vnd.mapbox-vector-tile, or GeoJSON)", ["mvt", "geojson"]
    ),
    ("/v3/maps/<connection>/<kind>/<index>", "GET"): _tile(
        "A tile of an h3 or quadbin source, named by one cell (its hex id)", ["binary", "json"]
    ),
    # --- imports -------------------------------------------------------------------------------------------
    ("/v3/imports", "POST"): Operation(
        "Import a file at a URL into a table", "imports", body=_IMPORT_BODY, status=202, answer=ref("JobAccepted")
    ),
    ("/v3/imports", "GET"): Operation("The caller's imports", "imports", answer=_LIST),
    ("/v3/imports/preview", "POST"): Operation("Preview a file's columns and first rows", "imports", body=_IMPORT_BODY),
    ("/v3/imports/<job_id>", "GET"): Operation("An import", "imports"),
    ("/v3/imports/<job_id>/cancel", "POST"): Operation("Cancel an import", "imports"),
}

_PROXY = Operation(
    "Any other /v3 route: forwarded to the upstream CARTO API (upstream_api_url)",
    "proxy",
    answer={"description": "the upstream's answer"},
    media="*/*",
    error={"description": "the upstream's error body, or the envelope (502, 504) when it cannot be reached"},
)
OPERATIONS.update({("/v3/<path:rest>", method): _PROXY for method in ("GET", "POST", "PUT", "PATCH", "DELETE")})

DIALECT_PREFIXES: dict[str, str] = {
    "/route/v1/": "OSRM",
    "/table/v1/": "OSRM",
    "/nearest/v1/": "OSRM",
    "/nominatim/": "Nominatim",
    "/isochrone": "Valhalla",
    "/search": "Nominatim",
    "/reverse": "Nominatim",
    "/lookup": "Nominatim",
    "/status": "Nominatim",
}
"""Peer APIs answered from the same core (docs/dialects.md): documented as such, with their own bodies."""


def dialect_operation(rule: str, method: str) -> Operation | None:
    """The operation of a peer-API (dialect) route, or None."""
    for prefix, peer in DIALECT_PREFIXES.items():
        if rule.startswith(prefix):
            return Operation(
                f"{peer}-compatible {rule.split('/<')[0]} (docs/dialects.md)",
                "dialects",
                answer=_DIALECT,
                error=_DIALECT,
                description=f"Answers and errors in {peer}'s own shapes.",
                media="*/*" if peer == "Nominatim" else "application/json",
            )  # format=xml, text status
    return None


def describe(rule: str, method: str) -> Operation | None:
    """The declared operation of a non-service route, or None when it is not declared."""
    return OPERATIONS.get((rule, method)) or dialect_operation(rule, method)
