"""The one error envelope over Flask: every error leaves as ``{"error", "status"}`` JSON (success bodies: lds.services)."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from lds.errors import LdsError, error_body

log = logging.getLogger("lds.api")


def error_response(message: str, status: int, headers: dict[str, str] | None = None):
    response = jsonify(error_body(message, status))
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def register_error_handlers(app: Flask) -> None:
    """Every error leaves as ``{"error", "status"}`` JSON; nothing leaks a traceback."""

    @app.errorhandler(LdsError)
    def _lds_error(exc: LdsError):
        return error_response(exc.message, exc.status, exc.headers)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        messages = {
            404: "Not found: no such endpoint",
            405: "Method not allowed",
            413: f"Request body too large: at most {request.max_content_length} bytes here (max_body_bytes; "
                 "job_max_body_bytes on batch endpoints)",
        }
        message = messages.get(exc.code or 500) or (exc.description or exc.name)
        return error_response(message, exc.code or 500)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return error_response("Internal server error", 500)
