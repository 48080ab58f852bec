"""The request as parameters, for Flask views: query arguments merged with a JSON body.

GET query parameters and a JSON POST body are treated alike (CARTO clients switch to POST with the same
fields when a URL grows long). The values are checked by :mod:`lds.params` (no Flask there: the fast path,
the CLI and the core use the same validators).
"""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from lds import inputs
from lds.errors import BadRequest, LdsError

_BODY_METHODS = frozenset(("POST", "PUT", "PATCH"))
_NO_BODY: Any = object()


def request_json(missing: Any = None) -> Any:
    """The JSON value of the request body (``Content-Length`` or chunked), or ``missing`` without a body.

    Bodies are read up to the request's ``max_content_length`` (413 beyond; chunked bodies too) and
    decoded by :func:`lds.inputs.decode_json`: strict UTF-8, no lone surrogates, at most ``max_json_depth``
    levels deep (400). A Content-Type other than JSON is a 415 (a body without one is read as JSON).
    """
    chunked = "chunked" in request.headers.get("Transfer-Encoding", "").lower()
    if not request.content_length and not chunked:
        return missing
    if chunked and not request.environ.get("wsgi.input_terminated"):  # the server cannot delimit it for us
        raise LdsError("chunked request bodies are not supported by this server: send a Content-Length", 411)
    mimetype = request.mimetype
    if mimetype and mimetype != "application/json" and not mimetype.endswith("+json"):
        raise LdsError(f"request body must be JSON (Content-Type: application/json), got {mimetype!r}", 415)
    data = read_body(chunked)
    if not data:
        return missing
    return inputs.decode_json(data, current_app.extensions["lds_settings"].max_json_depth)


def read_body(chunked: bool) -> bytes:
    """The request body's bytes, up to the request's ``max_content_length`` (413 beyond, chunked bodies too);
    400 when the server cannot read it. Also the proxy's reader (lds.api.proxy)."""
    try:
        data = request.get_data(cache=True)
    except HTTPException:
        raise
    except Exception as exc:  # noqa: BLE001 - the server's reader: malformed chunks, a client gone mid-body
        raise BadRequest(f"request body could not be read: {str(exc)[:200]}") from None
    limit = request.max_content_length
    if chunked and limit is not None and len(data) >= limit and request.environ["wsgi.input"].read(1):
        raise RequestEntityTooLarge()  # werkzeug stops reading a stream without a length at the limit, silently
    return data


def request_object() -> dict[str, Any]:
    """A required JSON object body (the Tokens and Connections APIs): 400 for anything else."""
    body = request_json()
    if not isinstance(body, dict):
        raise BadRequest("request body must be a JSON object")
    return body


def request_params() -> dict[str, Any]:
    """Query parameters merged with a JSON object body (body wins); unknown keys are ignored later."""
    params: dict[str, Any] = request.args.to_dict()  # first value of each key
    if request.method in _BODY_METHODS:
        body = request_json(_NO_BODY)
        if body is not _NO_BODY:
            if not isinstance(body, dict):
                raise BadRequest("request body must be a JSON object")
            params.update(body)
    return params


def check_query_string() -> None:
    """Flask hook: a query string that does not decode to UTF-8 is a 400 (before auth, quota or any work)."""
    query = request.environ.get("QUERY_STRING")
    if query:
        inputs.check_query_string(query)

