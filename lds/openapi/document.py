"""The OpenAPI 3.1 document of an installation, built with apispec from the code's own declarations: the answer
services of :mod:`lds.services` (their parameters, with ranges and defaults from the Settings), the operations of
:mod:`lds.openapi.routes`, and the routes the app actually serves (passed in, so nothing is listed that is not
served). No Flask here: :mod:`lds.api.docs` hands the app's url_map over as :class:`Route` values."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from apispec import APISpec

from lds.openapi.routes import Operation, describe
from lds.openapi.schemas import (
    ANSWER_ITEMS,
    COMPONENTS,
    PARAM_SCHEMAS,
    REQUIRED,
    SERVICE_SUMMARIES,
    Schema,
    answer_schema,
    examples_in,
    ref,
)
from lds.services import SERVICES, Service

SECURITY = [{"bearer": []}, {"access_token": []}]
TAGS = {  # the sections of /docs, in this order
    "lds": "Location Data Services (CARTO's LDS API): routing, matrix, isolines, geocoding",
    "jobs": "Batch jobs of the answer services",
    "service": "Health, status, quota usage, metrics, this description",
    "tokens": "API access tokens (admin token)",
    "connections": "Warehouse connections (admin token)",
    "sql": "SQL API, SQL jobs, widget models",
    "maps": "Maps API: map sources and their tiles",
    "imports": "Imports API: files at URLs into tables",
    "dialects": "Peer APIs (OSRM, Nominatim, Valhalla) answered from the same core",
    "proxy": "What this server does not serve, forwarded to the upstream CARTO API",
    "other": "Routes not described yet",
}
_CONVERTER = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")
_PATH_TYPES = {"int": "integer", "float": "number"}
_ERROR = {"$ref": "#/components/responses/Error"}


@dataclass(frozen=True, order=True)
class Route:
    """One served route: the Flask rule text (``/v3/tokens/<path:token>``) and its methods."""

    rule: str
    methods: tuple[str, ...]


def openapi_path(rule: str) -> str:
    """``/v3/tokens/<path:token>`` -> ``/v3/tokens/{token}``."""
    return _CONVERTER.sub(r"{\2}", rule)


def _path_parameters(rule: str) -> list[Schema]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {
                "type": _PATH_TYPES.get(conv or "", "string"),
                **({"pattern": "^[^/]+$"} if conv != "path" else {}),
            },
        }
        for conv, name in _CONVERTER.findall(rule)
    ]


def _string_form(schema: Schema) -> Schema:
    """A query-string parameter takes text: of a ``oneOf`` (list or text), the text form."""
    if "oneOf" not in schema:
        return schema
    text = next((s for s in schema["oneOf"] if s.get("type") == "string"), {"type": "string"})
    return {**text, "description": schema.get("description", text.get("description", ""))}


def param_schema(name: str, settings: Any, modes: Iterable[str] | None = None) -> Schema | None:
    """The schema of an answer-service parameter, or None when undeclared (tests/openapi fails then)."""
    make = PARAM_SCHEMAS.get(name)
    if make is None:
        return None
    schema = make(settings)
    if name == "mode" and modes:
        schema = {**schema, "enum": sorted(modes)}
    return schema


def _described(schema: Schema | None, help_text: str, aliases: tuple[str, ...]) -> Schema:
    """The schema with a description: its own (limits) or the declaration's help, and the aliases accepted."""
    schema = dict(schema or {})
    also = f"(also: {', '.join(aliases)})" if aliases else ""
    text = " ".join(t for t in (schema.get("description") or help_text, also) if t)
    if text:
        schema["description"] = text
    return schema


def _service_operation(
    service: Service, method: str, settings: Any, modes: Iterable[str] | None, examples: dict[str, Any]
) -> Schema:
    params = {
        p.names[0]: _described(param_schema(p.names[0], settings, modes), p.help, p.names[1:]) for p in service.params
    }
    required = [n for n in params if n in REQUIRED]
    op: Schema = {
        "summary": SERVICE_SUMMARIES.get(service.name, service.name),
        "tags": ["lds"],
        "operationId": f"{service.name}_{method.lower()}",
        "description": f"Charged to the `{service.quota}` quota.",
        "responses": {
            "200": {
                "description": "CARTO's LDS answer",
                "content": {"application/json": {"schema": answer_schema(ANSWER_ITEMS.get(service.name))}},
            }
        },
    }
    if service.job is not None:
        op["responses"]["202"] = {
            "description": f"queued as a job (over {service.job.sync_max_setting}, or {service.job.flag}=true)",
            "content": {"application/json": {"schema": ref("JobAccepted")}},
        }
    if method == "GET":
        op["parameters"] = [
            {
                "name": n,
                "in": "query",
                "required": n in required,
                "schema": _string_form(s),
                **({"example": _text(examples[n])} if n in examples else {}),
            }
            for n, s in params.items()
        ]
    else:
        body: Schema = {"type": "object", "properties": params, **({"required": required} if required else {})}
        if service.body_list:  # a bare array stands for this field
            body = {"oneOf": [body, params[service.body_list]]}
        example = {n: examples[n] for n in params if n in examples}
        op["requestBody"] = {
            "required": True,
            "description": _body_limit(service.path, settings),
            "content": {"application/json": {"schema": body, **({"example": example} if example else {})}},
        }
    return op


def _body_limit(path: str, settings: Any) -> str:
    """The body size limit of ``path`` (lds.api.jobs: batch endpoints take up to job_max_body_bytes)."""
    if path.endswith("/batch"):
        most = max(settings.max_body_bytes, settings.job_max_body_bytes)
        return f"UTF-8 JSON of at most {most} bytes (job_max_body_bytes; 413 above)"
    return f"UTF-8 JSON of at most {settings.max_body_bytes} bytes (max_body_bytes; 413 above)"


def _text(value: Any) -> Any:
    """A list example as query-string text (``lon,lat;lon,lat``)."""
    if isinstance(value, list):
        return ";".join(",".join(str(x) for x in item) if isinstance(item, list) else str(item) for item in value)
    return value


def _route_operation(rule: str, method: str, operation: Operation | None, settings: Any) -> Schema:
    if operation is None:  # served but not declared in lds.openapi.routes: listed, and tests/openapi fails
        operation = Operation(f"{method} {rule} (not described yet)", "other")
    success: Schema = {"description": operation.summary}
    if operation.answer is not None:
        success["content"] = {operation.media: {"schema": operation.answer}}
    op: Schema = {"summary": operation.summary, "tags": [operation.tag], "responses": {str(operation.status): success}}
    if operation.description:
        op["description"] = operation.description
    if operation.error is not None:
        op["x-error"] = {"description": "an error", "content": {"application/json": {"schema": operation.error}}}
    if operation.query:
        op["parameters"] = [{"name": n, "in": "query", "schema": s} for n, s in operation.query.items()]
    if operation.body is not None:
        op["requestBody"] = {
            "description": _body_limit(rule, settings),
            "content": {"application/json": {"schema": operation.body}},
        }
    return op


def undeclared(routes: Iterable[Route], services: dict[str, Service] = SERVICES) -> list[str]:
    """``METHOD rule`` of every served route this module cannot describe (the drift test wants none)."""
    paths = {s.path for s in services.values()}
    return [f"{m} {r.rule}" for r in routes for m in r.methods if r.rule not in paths and describe(r.rule, m) is None]


def document(
    routes: Iterable[Route],
    settings: Any,
    *,
    version: str,
    modes: Iterable[str] | None = None,
    bbox: Iterable[float] | None = None,
    services: dict[str, Service] = SERVICES,
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``routes`` (every route the app serves); ``modes`` (the travel modes built) and
    ``bbox`` (the extract's, for examples that get answers) when known."""
    examples = examples_in(list(bbox) if bbox else None)
    spec = APISpec(
        title="lds: Location Data Services",
        version=version,
        openapi_version="3.1.0",
        info={
            "description": "Self-hosted Location Data Services from OpenStreetMap, wire-compatible with CARTO's v3 "
            "APIs. Every /v3 route needs a token: `Authorization: Bearer <token>` or `?access_token=`. "
            'Every error is the envelope `{"error", "status"}`.'
        },
    )
    for name, schema in COMPONENTS.items():
        spec.components.schema(name, schema)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.security_scheme("access_token", {"type": "apiKey", "in": "query", "name": "access_token"})
    spec.components.response(
        "Error", {"description": "the error envelope", "content": {"application/json": {"schema": ref("Error")}}}
    )
    by_path = {s.path: s for s in services.values()}
    operations: dict[str, dict[str, Schema]] = {}
    for route in sorted(routes):
        service = by_path.get(route.rule)
        for method in sorted(route.methods):
            if service is not None:
                op = _service_operation(service, method, settings, modes, examples)
            else:
                op = _route_operation(route.rule, method, describe(route.rule, method), settings)
            op.setdefault("operationId", _operation_id(route.rule, method))
            op["responses"]["default"] = op.pop("x-error", _ERROR)
            if route.rule.startswith("/v3/"):
                op["security"] = SECURITY
            path_params = _path_parameters(route.rule)
            if path_params:
                op["parameters"] = path_params + op.get("parameters", [])
            operations.setdefault(openapi_path(route.rule), {})[method.lower()] = op
    used = {tag for ops in operations.values() for op in ops.values() for tag in op["tags"]}
    for name, text in TAGS.items():
        if name in used:
            spec.tag({"name": name, "description": text})
    for path, ops in operations.items():
        spec.path(path=path, operations=ops)
    return spec.to_dict()


def _operation_id(rule: str, method: str) -> str:
    words = re.sub(r"[^A-Za-z0-9]+", "_", _CONVERTER.sub(r"\2", rule)).strip("_")
    return f"{method.lower()}_{words or 'root'}"
