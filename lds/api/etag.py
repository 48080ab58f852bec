"""Conditional GETs of the SQL and Model APIs: the answer's ETag (from the warehouse's data version, so it moves
when the data does) is revalidated on every request, and a client that already holds it gets a 304."""

from __future__ import annotations

from collections.abc import Callable

from flask import Response, request

REVALIDATE = "private, no-cache"  # the Cache-Control of these answers: revalidated each time


def conditional_get(compute: Callable[[], str]) -> tuple[str | None, Response | None]:
    """(ETag, 304 response) of a GET: the ETag ``compute`` gives (None for other methods, or when it fails: no data
    version, no ETag, and running the request reports what is wrong), and the 304 to send if the client's
    If-None-Match holds it (else None)."""
    if request.method != "GET":
        return None, None
    try:
        etag = compute()
    except Exception:  # noqa: BLE001 - see above
        return None, None
    if not request.if_none_match.contains(etag):
        return etag, None
    response = Response(status=304, headers={"Cache-Control": REVALIDATE})
    response.set_etag(etag)
    return etag, response
