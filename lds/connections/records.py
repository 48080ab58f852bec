"""Connection request bodies, checked: CARTO's §4.2 shape ``{"name", "provider_id", "privacy", "config":
{"type", "credentials": {...}}}``. Everything here is hostile input; nothing is stored or tested yet."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from lds.errors import BadRequest
from lds.inputs import check_strings

BUILTIN = "carto_dw"
PROVIDERS = ("postgres",)  # what may be created; carto_dw is built in
PRIVACY = ("private", "shared")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$")
_FIELDS = {"name", "provider_id", "privacy", "config"}
_READ_ONLY = {"id", "created_at", "updated_at", "builtin"}
_CONFIG_FIELDS = {"type", "credentials"}
_SECRET_FIELDS = ("password",)


def parse_body(body: Any, *, creating: bool) -> dict[str, Any]:
    """The fields a create or update body sets (credentials unvalidated: the driver checks them)."""
    if not isinstance(body, Mapping):
        raise BadRequest("request body must be a JSON object")
    check_strings(body)
    unknown = set(body) - _FIELDS - _READ_ONLY
    if unknown:
        raise BadRequest(f"unknown connection field(s): {', '.join(sorted(map(str, unknown)))}")
    out: dict[str, Any] = {}
    if creating or "name" in body:
        name = body.get("name")
        if not isinstance(name, str) or not NAME.match(name):
            raise BadRequest("'name' is required: 1 to 100 letters, digits, '_' or '-', starting with a letter or digit")
        out["name"] = name
    if creating or "provider_id" in body:
        provider = body.get("provider_id")
        if provider == BUILTIN:
            raise BadRequest(f"{BUILTIN} is built in: it cannot be created")
        if provider not in PROVIDERS:
            raise BadRequest(f"'provider_id' must be one of: {', '.join(PROVIDERS)}")
        out["provider_id"] = provider
    if "privacy" in body:
        if body["privacy"] not in PRIVACY:
            raise BadRequest(f"'privacy' must be one of: {', '.join(PRIVACY)}")
        out["privacy"] = body["privacy"]
    config = body.get("config")
    if config is None:
        if creating:
            raise BadRequest("'config' with 'credentials' is required")
        return out
    if not isinstance(config, Mapping):
        raise BadRequest("'config' must be an object")
    unknown = set(config) - _CONFIG_FIELDS
    if unknown:
        raise BadRequest(f"unknown config field(s): {', '.join(sorted(map(str, unknown)))}")
    if "type" in config:
        kind = config["type"]
        if kind is not None and (not isinstance(kind, str) or len(kind) > 50):
            raise BadRequest("'config.type' must be a short string (the auth method, e.g. 'password')")
        out["type"] = kind
    creds = config.get("credentials")
    if creds is None and creating:
        raise BadRequest("'config.credentials' is required")
    if creds is not None:
        if not isinstance(creds, Mapping):
            raise BadRequest("'config.credentials' must be an object")
        out["credentials"] = dict(creds)
    return out


def merge_credentials(stored: Mapping[str, Any], given: Mapping[str, Any]) -> dict[str, Any]:
    """``given`` over ``stored``: omitted fields (the password, typically) are kept, ``null`` removes one."""
    given = dict(given)
    if "user" in given and "username" not in given:
        given["username"] = given.pop("user")
    merged = {**stored, **given}
    return {k: v for k, v in merged.items() if v is not None}


def normalised(config: Any) -> dict[str, Any]:
    """A driver's validated config object (a dataclass) as plain credentials, password included."""
    return {k: v for k, v in asdict(config).items() if v is not None}


def public(credentials: Mapping[str, Any]) -> dict[str, Any]:
    """Credentials without their secrets: what the API shows and the state store keeps in clear."""
    return {k: v for k, v in credentials.items() if k not in _SECRET_FIELDS}
