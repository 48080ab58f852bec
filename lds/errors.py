"""The error types of the core and the one JSON envelope every HTTP error uses."""

from __future__ import annotations

from typing import Any


class LdsError(Exception):
    """Base of every error the service reports to a client; carries its HTTP status."""

    status = 400

    def __init__(self, message: str, status: int | None = None, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        self.headers = headers or {}


class BadRequest(LdsError):
    """A parameter is missing or invalid."""

    status = 400


class Unauthorized(LdsError):
    """No token, or a token that is invalid, expired or revoked."""

    status = 401


class Forbidden(LdsError):
    """A valid token that may not do this."""

    status = 403


class NotFound(LdsError):
    """No such resource, or no route between the points."""

    status = 404


class Conflict(LdsError):
    """The resource is in a state that forbids the change."""

    status = 409


class PayloadTooLarge(LdsError):
    """Request body or batch over its limit."""

    status = 413


class OutOfCoverage(LdsError):
    """A point is outside the loaded data or too far from anything routable."""

    status = 422


class TooManyRequests(LdsError):
    """Quota exhausted or rate limit hit."""

    status = 429


class Unavailable(LdsError):
    """A required backend (data, upstream) is not available."""

    status = 503


class BadGateway(LdsError):
    """The upstream API (lds.proxy) could not be reached or answered something unusable."""

    status = 502


class GatewayTimeout(LdsError):
    """The upstream API (lds.proxy) did not answer in time."""

    status = 504


def error_body(message: str, status: int) -> dict[str, Any]:
    """The one error envelope: ``{"error": "<message>", "status": <code>}``."""
    return {"error": message, "status": status}
